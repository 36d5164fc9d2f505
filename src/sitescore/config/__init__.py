"""Config: YAML in, validated model out. Every mistake names its key (and YAML line).

- `models`: the pydantic models (what a study may say), `value_functions`: one class per kind;
- `yaml_loader`: the line-keeping, alias-bounded YAML reader (the catalog uses it too);
- `presets`: scenario presets and the ones sitescore ships;
- `checks`: checks against the readers, metrics and `where` filters; `loader`: `load_config`.

Stages below the loading (candidates, metrics, scoring) import only the models from here.
"""

from .checks import apply_ahp, check_metrics, check_readers, check_where
from .loader import load_config, parse_config
from .models import (
    DASK_PACKAGES,
    INSTALL_HINT,
    MAX_CELLS,
    MAX_DISTANCE_KM,
    MIN_CELL_KM,
    AreaConfig,
    CandidatesConfig,
    Config,
    ConstraintConfig,
    CriterionConfig,
    EngineConfig,
    ExcludeConfig,
    GridConfig,
    KeyedError,
    LayerConfig,
    OutputsConfig,
    SensitivityConfig,
    SitesConfig,
    WeightsConfig,
    check_name,
    json_schema,
    missing_dask_packages,
)
from .presets import PRESET_KEYS, apply_preset, preset_path, shipped_presets
from .value_functions import VALUE_FUNCTIONS, AnyValueFunction, ValueFunction
from .yaml_loader import MAX_ALIAS_NODES, LineDict, LineLoader, line_of, read_yaml

__all__ = [
    "DASK_PACKAGES", "INSTALL_HINT", "MAX_ALIAS_NODES", "MAX_CELLS", "MAX_DISTANCE_KM",
    "MIN_CELL_KM", "PRESET_KEYS", "VALUE_FUNCTIONS", "AnyValueFunction", "AreaConfig",
    "CandidatesConfig", "Config", "ConstraintConfig", "CriterionConfig", "EngineConfig",
    "ExcludeConfig", "GridConfig", "KeyedError", "LayerConfig", "LineDict", "LineLoader",
    "OutputsConfig", "SensitivityConfig", "SitesConfig", "ValueFunction", "WeightsConfig",
    "apply_ahp", "apply_preset", "check_metrics", "check_name", "check_readers", "check_where",
    "json_schema", "line_of", "load_config", "missing_dask_packages", "parse_config",
    "preset_path", "read_yaml", "shipped_presets",
]
