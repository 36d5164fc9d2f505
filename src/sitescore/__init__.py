"""sitescore: rank US federal land for large high-tech industrial parks.

The public API, for a notebook as for the command line::

    import sitescore
    r = sitescore.score("configs/new_mexico.yaml")  # computed in memory, no file written
    r.sites.explore()                                 # the ranked sites on a map
    sitescore.run(r.cfg)                              # the same study, written to runs/ and maps/

Importing this package is cheap: the heavy modules load on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SitescoreError

if TYPE_CHECKING:
    from .config import Config, load_config
    from .pipeline import RunResult, StudyResult

__version__ = "0.1.0"

__all__ = ["Config", "RunResult", "SitescoreError", "StudyResult", "__version__", "load_config",
           "run", "score"]

#: Public names served from the module that defines them, imported when first asked for.
_LAZY = {"Config": "config", "load_config": "config", "RunResult": "pipeline",
         "StudyResult": "pipeline"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _config(config: str | Path | Config, preset: str | None) -> Config:
    """A config as given, or loaded (with `preset` on it) from its YAML file."""
    from .config import Config, load_config

    if isinstance(config, Config):
        if preset is not None:
            raise SitescoreError("a preset goes with a config file, not a loaded config; "
                                 "use load_config(path, preset=...)", key="preset")
        return config
    return load_config(Path(config), preset=preset)


def score(config: str | Path | Config, preset: str | None = None,
          data_dir: str | Path | None = None, allow_partial: bool = False) -> StudyResult:
    """Score a study in memory and write nothing: its cells, ranked sites, excluded land, notes,
    timings and manifest record. `config` is a YAML file (with `preset` applied) or a Config;
    `allow_partial` scores even when less than `min_weight_kept` of the weight can be scored
    (the result's `left_out` and `weight_kept` say what was missing)."""
    from .pipeline import score as score_study

    return score_study(_config(config, preset), data_dir=data_dir, allow_partial=allow_partial)


def run(config: str | Path | Config, preset: str | None = None,
        data_dir: str | Path | None = None, **options: Any) -> RunResult:
    """Score a study and write its outputs as `sitescore run` does (tables and manifest under
    runs/, map and report under maps/). `options` are those of `pipeline.run`: maps_dir,
    runs_dir, write_map, write_report, cache_dir, offline, engine."""
    from .pipeline import run as run_study

    return run_study(_config(config, preset), data_dir=data_dir, **options)
