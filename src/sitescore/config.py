"""Config: YAML in, validated model out. Every mistake names its key (and YAML line).

Distances are km and areas acres here, as planners write them; stages convert once.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError, SitescoreError
from .postgis import PostgisOutput, PostgisSource
from .schema import STATE_FIPS


#: The longest distance any radius, decay, buffer or spacing may be, in km: more than a national
#: study needs (the lower 48 span about 4,500 km), and small enough that metres stay exact floats.
MAX_DISTANCE_KM = 1000.0
#: Smallest square grid cell edge, km (10 m: far below a DEM's 30 m pixels).
MIN_CELL_KM = 0.01
#: Default limit of candidate cells a run may make (a national 2 km run makes about 1 million).
MAX_CELLS = 5_000_000
#: Most YAML nodes that aliases (*name) may expand to in one file: a "billion laughs" of nested
#: aliases would otherwise construct millions of values from a kilobyte of text.
MAX_ALIAS_NODES = 10_000
#: Windows device names that cannot be folder or file names, with or without an extension.
_RESERVED = re.compile(r"(?:CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(?:\..*)?",
                       re.IGNORECASE | re.DOTALL)
_NAME = re.compile(r"[^\W_][\w.-]{0,99}")


def check_name(name: str, what: str) -> str:
    """A study or criterion name: it becomes a folder, file and column name, so it must be one on
    every system. Unicode letters and digits are fine; returns the name, else raises ValueError."""
    shown = repr(name if len(name) <= 60 else name[:57] + "...")
    if not _NAME.fullmatch(name) or name.endswith("."):
        raise ValueError(f"{what} name {shown} is not usable as a folder or file name: start with "
                         "a letter or digit, then letters, digits, '_', '.' or '-' (at most 100 "
                         "characters), not ending in '.'")
    if _RESERVED.fullmatch(name):
        raise ValueError(f"{what} name {shown} is a reserved device name on Windows (CON, PRN, "
                         "AUX, NUL, COM1-9, LPT1-9); choose another")
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LayerConfig(_Strict):
    reader: str | None = Field(None, description="Registered reader, e.g. padus, "
                                                 "hifld_transmission_lines (default: the dataset's).")
    dataset: str | None = Field(None, description="Catalog dataset id: its file(s) in the data "
                                                  "folder, as fetched or imported.")
    path: str | None = Field(None, description="File path, relative to data_dir unless absolute.")
    postgis: PostgisSource | None = Field(None, description="A PostGIS table or query instead of "
                                                            "a file: {url, table | sql, geometry_column}.")
    relative_to: Literal["data_dir", "config"] = Field(
        "data_dir", description="Whether a relative path starts at data_dir or at the config file.")
    layer: str | None = Field(None, description="Layer inside a GDB / GeoPackage.")
    optional: bool = Field(False, description="If the file is missing, drop the criteria that "
                                              "use it (and say so) instead of failing.")
    options: dict[str, Any] = Field(default_factory=dict, description="Reader options.")

    @model_validator(mode="after")
    def _one_location(self) -> LayerConfig:
        given = [k for k in ("path", "dataset", "postgis") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a layer needs exactly one of 'path', 'dataset' or 'postgis'")
        if self.reader is None and self.dataset is None:
            raise ValueError(f"a layer given by '{given[0]}' needs a 'reader'")
        return self


class AreaConfig(_Strict):
    states: list[str] | None = Field(None, description="Two-letter state codes; needs a 'states' layer.")
    bbox: list[float] | None = Field(None, description="[west, south, east, north] in degrees.")

    @field_validator("states")
    @classmethod
    def _known_states(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = [s.upper() for s in v]
        unknown = [s for s in out if s not in STATE_FIPS]
        if unknown:
            raise ValueError(f"unknown state code(s): {', '.join(unknown)}")
        return out

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        if len(v) != 4:
            raise ValueError("bbox needs 4 numbers: west, south, east, north")
        for side, value in zip(("west", "south", "east", "north"), v):
            lon = side in ("west", "east")
            limit = 180 if lon else 90
            if not -limit <= value <= limit:
                raise ValueError(f"bbox {side} {value:g} is out of range (a "
                                 f"{'longitude' if lon else 'latitude'} lies in -{limit}..{limit} degrees)")
        w, s, e, n = v
        if not w < e:
            raise ValueError(f"bbox west ({w:g}) must be less than east ({e:g})")
        if not s < n:
            raise ValueError(f"bbox south ({s:g}) must be less than north ({n:g})")
        return v


class ExcludeConfig(_Strict):
    gap_status: list[int] = Field(default_factory=lambda: [1, 2],
                                  description="PAD-US GAP status codes to exclude.")
    designations: list[str] = Field(
        default_factory=lambda: ["WA", "WSA", "NP", "NM", "NWR", "NCA", "WSR", "RNA", "ACEC"],
        description="PAD-US Des_Tp codes to exclude.")
    own_types: list[str] = Field(default_factory=lambda: ["TRIB", "PVT", "LOC", "STAT", "JNT", "UNK"],
                                 description="Owner types removed (tribal and non-federal land).")
    layers: list[str] = Field(default_factory=list,
                              description="Extra polygon layers whose area is excluded.")
    buffer_km: float = Field(1.0, ge=0, le=MAX_DISTANCE_KM,
                             description="Buffer around every excluded area.")


class GridConfig(_Strict):
    kind: Literal["square", "h3"] = "square"
    size_km: float = Field(2.0, gt=0, description="Square cell edge (square grid), at least "
                                                  f"{MIN_CELL_KM:g} km.")
    resolution: int = Field(7, ge=0, le=12, description="H3 resolution (h3 grid).")

    @field_validator("size_km")
    @classmethod
    def _not_too_fine(cls, v: float) -> float:
        if v < MIN_CELL_KM:
            raise ValueError(f"a cell edge of {v:g} km is finer than any input resolves; use at "
                             f"least {MIN_CELL_KM:g} km ({MIN_CELL_KM * 1000:g} m)")
        return v


class CandidatesConfig(_Strict):
    source: str = Field("federal_land", description="Federal-land layer, or a shortlist layer.")
    agencies: list[str] = Field(default_factory=lambda: ["BLM"],
                                description="Managing agencies (PAD-US Mang_Name codes).")
    exclude: ExcludeConfig = Field(default_factory=ExcludeConfig)
    grid: GridConfig = Field(default_factory=GridConfig)
    min_eligible_share: float = Field(0.5, gt=0, le=1,
                                      description="A cell is kept if this share is eligible.")
    max_cells: int = Field(MAX_CELLS, ge=1, description="Most candidate cells a run may make; "
                           "the land's area over the cell area is checked before gridding.")


class ValueFunction(_Strict):
    kind: Literal["linear", "log_linear", "exponential", "logistic", "piecewise", "categorical"]
    best: float | None = None
    worst: float | None = None
    origin: float | None = None
    half_life: float | None = Field(None, gt=0)
    midpoint: float | None = None
    scale: float | None = Field(None, gt=0)
    direction: Literal["lower_better", "higher_better"] | None = None
    points: list[tuple[float, float]] | None = None
    map: dict[str, float] | None = None
    default: float = Field(0.0, ge=0, le=1)
    missing: float = Field(0.0, ge=0, le=1, description="Score when the raw value is missing.")

    @model_validator(mode="after")
    def _complete(self) -> ValueFunction:
        need = {
            "linear": ["best", "worst"], "log_linear": ["best", "worst"],
            "exponential": ["origin", "half_life", "direction"],
            "logistic": ["midpoint", "scale", "direction"],
            "piecewise": ["points"], "categorical": ["map"],
        }[self.kind]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"value kind '{self.kind}' needs {', '.join(missing)}")
        if self.kind in ("linear", "log_linear") and self.best == self.worst:
            raise ValueError("best and worst must differ")
        if self.kind == "log_linear" and (self.best <= 0 or self.worst <= 0):
            raise ValueError("log_linear needs best and worst > 0")
        if self.kind == "piecewise":
            xs = [p[0] for p in self.points]
            if len(xs) < 2 or any(b <= a for a, b in zip(xs, xs[1:])):
                raise ValueError("piecewise points need 2+ strictly increasing x values")
            if any(not 0 <= p[1] <= 1 for p in self.points):
                raise ValueError("piecewise scores must lie in 0..1")
        if self.kind == "categorical" and any(not 0 <= v <= 1 for v in self.map.values()):
            raise ValueError("categorical scores must lie in 0..1")
        return self


class CriterionConfig(BaseModel):
    """A criterion is data: metric + layer + params + value function + weight.

    Metric parameters (radius_km, field, decay_km, ...) may be written flat in the criterion;
    they are collected into `params` and checked against the metric's own parameters.
    """

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    metric: str
    layer: str
    where: str | None = Field(None, description="Filter on the layer, e.g. 'voltage_kv >= 345'.")
    value: ValueFunction
    weight: float | None = Field(None, ge=0, description="Weight (direct weights); with "
                                                          "weights.method: ahp it comes from the matrix.")
    label: str | None = None
    unit: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _collect_params(self) -> CriterionConfig:
        extra = dict(self.model_extra or {})
        for k in extra:
            self.params.setdefault(k, extra[k])
        return self


class ConstraintConfig(_Strict):
    criterion: str
    min: float | None = None
    max: float | None = None
    exclude_values: list[str] | None = Field(None, description="Raw values that exclude a cell.")

    @model_validator(mode="after")
    def _some_rule(self) -> ConstraintConfig:
        if self.min is None and self.max is None and not self.exclude_values:
            raise ValueError("a constraint needs min, max or exclude_values")
        return self


class SitesConfig(_Strict):
    min_site_acres: float = Field(1000, gt=0)
    min_spacing_km: float = Field(10, ge=0, le=MAX_DISTANCE_KM)
    max_sites: int = Field(25, ge=1)
    min_cell_score: float = Field(0.0, ge=0, le=1, description="Cells below this never join a site.")


class OutputsConfig(_Strict):
    maps_dir: str = "maps"
    runs_dir: str = "runs"
    formats: list[Literal["gpkg", "parquet", "csv"]] = Field(
        default_factory=lambda: ["gpkg", "parquet", "csv"])
    map_layers: bool = Field(True, description="Add every input layer to the map as a toggle.")
    postgis: PostgisOutput | None = Field(None, description="Also write sites, cells and excluded "
                                                            "land to PostGIS: {url, schema, prefix}.")


class WeightsConfig(_Strict):
    """How criterion weights are set: as written on each criterion, or from an AHP matrix."""

    method: Literal["direct", "ahp"] = "direct"
    pairwise: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="AHP judgements: pairwise[a][b] = how much more a matters than b (Saaty 1-9; "
                    "fractions for less). Each unordered pair once; the rest follows by reciprocity.")
    max_consistency_ratio: float = Field(0.10, gt=0, le=1)


class SensitivityConfig(_Strict):
    """How sure is the ranking: Monte Carlo over weights (and optionally value-function
    thresholds), and one-at-a-time weight sweeps."""

    draws: int = Field(1000, ge=10, le=1_000_000)
    weights: Literal["dirichlet", "uniform"] = Field(
        "dirichlet", description="Dirichlet around the configured weights, or uniform on the simplex.")
    spread: float = Field(0.2, gt=0, le=2, description="Coefficient of variation of each weight "
                                                       "(Dirichlet draws).")
    thresholds: float = Field(0.0, ge=0, le=1, description="Relative jitter of value-function "
                                                          "parameters (0 = weights only).")
    top_k: int = Field(10, ge=1)
    seed: int = 0
    sweep_max: float = Field(2.0, gt=1, description="Weight sweeps run from 0 to this multiple.")


#: A Dask scheduler address: [tcp|tls|ws|wss|ucx://]host:port (IPv6 hosts in brackets).
_SCHEDULER = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")


class EngineConfig(_Strict):
    """Where candidates and metrics run: here, or on a Dask cluster (the `dask` extra)."""

    kind: Literal["local", "dask"] = Field("local", description="local, or dask (pip install "
                                                                "'sitescore[dask]').")
    scheduler: str | None = Field(None, description="Address of a running Dask scheduler, e.g. "
                                                    "tcp://host:8786; none starts a local cluster "
                                                    "for the run.")
    workers: int | None = Field(None, ge=1, description="Worker processes of the local cluster "
                                                        "(default: one per CPU).")
    partitions: int | None = Field(None, ge=1, description="Strips and partitions the cells are "
                                                           "split into (default: one per worker thread).")
    threads: int | None = Field(None, ge=1, description="Local engine: metrics computed at once on "
                                                        "threads (default: one per CPU, at most 4).")

    @field_validator("kind")
    @classmethod
    def _installed(cls, v: str) -> str:
        if v == "dask":
            from .engine import INSTALL_HINT, missing_dask_packages
            missing = missing_dask_packages()
            if missing:
                raise ValueError(f"the dask engine needs {', '.join(missing)}: {INSTALL_HINT}")
        return v

    @field_validator("scheduler")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and not _SCHEDULER.match(v):
            raise ValueError(f"'{v}' is not a scheduler address (like tcp://host:8786)")
        return v

    @model_validator(mode="after")
    def _used(self) -> EngineConfig:
        if self.kind == "local":
            for name in ("scheduler", "workers", "partitions"):
                if getattr(self, name) is not None:
                    raise _KeyedError(f"engine.{name}", "only used with kind: dask")
        elif self.threads is not None:
            raise _KeyedError("engine.threads", "only used with kind: local (Dask workers have "
                                                "their own threads)")
        elif self.scheduler is not None and self.workers is not None:
            raise _KeyedError("engine.workers", "sets the size of the local cluster started when "
                                                "no scheduler is given; a running cluster has its "
                                                "own workers")
        return self


class Config(_Strict):
    study: str = Field(description="Short name; folders maps/<study>, runs/<study>. Letters "
                                   "(any script), digits, '_', '.', '-'; at most 100 characters.")
    title: str | None = None
    synthetic: bool = Field(False, description="Inputs are generated demo data (said on the map).")
    data_dir: str = Field("data/raw", description="Where layer paths start; relative to the config file.")
    area: AreaConfig = Field(default_factory=AreaConfig)
    layers: dict[str, LayerConfig]
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig)
    criteria: dict[str, CriterionConfig]
    constraints: list[ConstraintConfig] = Field(default_factory=list)
    weights: WeightsConfig = Field(default_factory=WeightsConfig)
    aggregation: Literal["weighted_sum", "weighted_product", "topsis"] = Field(
        "weighted_sum", description="How criterion scores combine; constraints stay vetoes.")
    sensitivity: SensitivityConfig | None = Field(None, description="Rank uncertainty, if wanted.")
    sites: SitesConfig = Field(default_factory=SitesConfig)
    outputs: OutputsConfig = Field(default_factory=OutputsConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig,
                                 description="Where the work runs: local, or a Dask cluster.")
    preset: str | None = Field(None, description="A scenario preset (criteria, weights, sites) "
                                                 "applied on top of this study's data.")
    description: str | None = None

    # set by load_config, not by the user
    source_path: Path | None = Field(None, exclude=True)
    notes: list[str] = Field(default_factory=list, exclude=True)
    ahp: dict[str, Any] | None = Field(None, exclude=True)
    key_lines: dict[str, int] = Field(default_factory=dict, exclude=True)

    @field_validator("study")
    @classmethod
    def _study_name(cls, v: str) -> str:
        return check_name(v, "study")

    @field_validator("criteria")
    @classmethod
    def _criterion_names(cls, v: dict[str, CriterionConfig]) -> dict[str, CriterionConfig]:
        for name in v:
            try:
                check_name(name, "criterion")
            except ValueError as exc:
                raise _KeyedError(f"criteria.{name}", str(exc), loc=("criteria", name)) from None
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        if not self.criteria:
            raise ValueError("criteria: at least one criterion is needed")
        for name, c in self.criteria.items():
            if c.layer not in self.layers:
                raise _KeyedError(f"criteria.{name}.layer", f"layer '{c.layer}' is not in 'layers'")
        for i, con in enumerate(self.constraints):
            if con.criterion not in self.criteria:
                raise _KeyedError(f"constraints[{i}].criterion",
                                  f"'{con.criterion}' is not a criterion")
        if self.candidates.source not in self.layers:
            raise _KeyedError("candidates.source", f"layer '{self.candidates.source}' is not in 'layers'")
        for lyr in self.candidates.exclude.layers:
            if lyr not in self.layers:
                raise _KeyedError("candidates.exclude.layers", f"layer '{lyr}' is not in 'layers'")
        if self.area.states and "states" not in self.layers:
            raise _KeyedError("area.states", "a study area by state needs a 'states' layer")
        if self.weights.method == "direct":
            for name, c in self.criteria.items():
                typo = difflib.get_close_matches("weight", [str(k) for k in c.model_extra or {}],
                                                 n=1, cutoff=0.6)
                if c.weight is None and typo:
                    raise _KeyedError(f"criteria.{name}.{typo[0]}",
                                      "unknown key (did you mean 'weight'?)")
                if c.weight is None:
                    raise _KeyedError(f"criteria.{name}.weight",
                                      "a weight is needed (or set weights.method: ahp)")
            weights = [c.weight for c in self.criteria.values()]
            if not any(w > 0 for w in weights) or not all(math.isfinite(w) for w in weights):
                raise _KeyedError("criteria", "weights must be finite and at least one must be > 0")
            from .mcda import rescale_weights
            for c, w in zip(self.criteria.values(), rescale_weights(weights)):
                c.weight = w  # only changed when their sum overflows; the ratios stay
        return self

    def data_root(self, override: str | Path | None = None) -> Path:
        """Where layer paths start: --data-dir / SITESCORE_DATA_DIR, else data_dir from the config."""
        chosen = override or os.environ.get("SITESCORE_DATA_DIR")
        if chosen:
            return Path(chosen).expanduser()
        base = self.source_path.parent if self.source_path else Path.cwd()
        p = Path(self.data_dir).expanduser()
        return p if p.is_absolute() else (base / p)

    def where(self, key: str) -> str:
        """'<config file>, line N' of a key ('layers.dem.options.band'; the nearest enclosing
        key written in the file), for errors found after loading."""
        line, probe = None, key
        while probe and line is None:
            line = self.key_lines.get(probe)
            shorter = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", probe)  # 'a[0].b' -> 'a[0]' -> 'a'
            probe = shorter if shorter != probe else ""  # a top-level key not in the file
        source = self.source_path or "<config>"
        return f"{source}, line {line}" if line else str(source)

    def locate(self, exc: SitescoreError) -> SitescoreError:
        """`exc` naming this config file and its key's YAML line, where a later stage (a reader's
        options, the candidates, the constraints) knew only the key; else `exc` itself."""
        if exc.file is not None or exc.key is None:
            return exc
        prefix = ": ".join([f"config key '{exc.key}'"] +
                           ([f"field '{exc.field}'"] if exc.field is not None else []))
        message = str(exc).removeprefix(prefix + ": ")
        return type(exc)(message, file=self.where(exc.key), key=exc.key, field=exc.field)

    def normalized_weights(self) -> dict[str, float]:
        from .mcda import rescale_weights

        weights = rescale_weights([c.weight for c in self.criteria.values()])
        total = sum(weights)
        return {n: w / total for n, w in zip(self.criteria, weights)}


class _KeyedError(ValueError):
    """A validation error that names its config key; `loc` is the key's path where a name in
    it holds a '.' (criteria.<name>), so the key's YAML line is still found."""

    def __init__(self, key: str, message: str, loc: tuple | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.loc = loc


class _AliasError(yaml.composer.ComposerError):
    """Aliases that refer to themselves or expand past MAX_ALIAS_NODES."""


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loader that remembers the line of every mapping key, for error messages.

    It also counts the nodes every alias (*name) stands for, nested aliases included, and stops
    at MAX_ALIAS_NODES: a kilobyte of nested aliases (a "billion laughs") would otherwise expand
    to a billion values in the manifest, the key index and every walk over the config.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_nodes = 0
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open_anchors:
                raise _AliasError(None, None, f"alias *{event.anchor} refers to the value it is "
                                  "part of (an endless value)", event.start_mark)
            node = super().compose_node(parent, index)
            self._alias_nodes += self._size(node)
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise _AliasError(None, None, f"YAML aliases expand to more than "
                                  f"{MAX_ALIAS_NODES:,} values by alias *{event.anchor} here; "
                                  "write the values out or use fewer aliases", event.start_mark)
            return node
        anchor = self.peek_event().anchor
        if anchor is None:
            return super().compose_node(parent, index)
        self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open_anchors.discard(anchor)

    def _size(self, root: yaml.Node) -> int:
        """Nodes in `root` with every alias inside it expanded (memoised; no recursion)."""
        sizes = self._sizes
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            if id(node) in sizes:
                continue
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            else:
                children = []
            if children_done:
                sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in children if id(c) not in sizes)
        return sizes[id(root)]


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:  # YAML keeps the last of a repeated key without a word
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key_node.value}' is given twice, on lines "
                    f"{seen[key_node.value]} and {line}", key_node.start_mark)
            seen[key_node.value] = line
    mapping = loader.construct_mapping(node, deep=True)
    lines = {}
    for key_node, _ in node.value:
        lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1
    return _LineDict(mapping, lines)


class _LineDict(dict):
    def __init__(self, mapping: dict, lines: dict) -> None:
        super().__init__(mapping)
        self.lines = lines


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(doc: Any, loc: tuple) -> int | None:
    line = None
    node = doc
    for part in loc:
        if isinstance(node, _LineDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    return line


def _message(err: dict) -> str:
    """A pydantic error's message in the config's words."""
    if err["type"] == "finite_number":
        return "must be a finite number (not NaN or infinity)"
    return err["msg"].removeprefix("Value error, ")


def _key_of(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_config(doc: Any, source: Path | str = "<config>") -> Config:
    """Validate an already-parsed YAML document; errors name the key and YAML line."""
    try:
        return _parse_config(doc, source)
    except ConfigError as exc:
        text = str(exc)
        if text.isprintable():
            raise
        # a key or name from the file holding a line break or control character: escaped, so
        # the error stays one line
        clean = ConfigError("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))
        clean.file, clean.key, clean.field = exc.file, exc.key, exc.field
        raise clean from None


def _parse_config(doc: Any, source: Path | str) -> Config:
    if doc is None:
        raise ConfigError("the config is empty; it needs at least study, layers and criteria",
                          file=source)
    if not isinstance(doc, dict):
        raise ConfigError(f"the config must be a YAML mapping (key: value lines), not a "
                          f"{_yaml_kind(doc)}", file=source)
    try:
        cfg = Config.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown (misspelt) key also makes its right spelling "missing": name the cause
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(p for p in err["loc"])
        ctx_exc = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_exc, _KeyedError):
            key = ctx_exc.key
            loc = ctx_exc.loc or tuple(int(p[1:-1]) if p.startswith("[") else p
                                       for p in key.replace("[", ".[").split(".") if p)
        else:
            key = _key_of(loc) or "(top level)"
        msg = _message(err)
        if err["type"] == "extra_forbidden":
            known = _fields_at(loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6) if loc else []
            msg = (f"unknown key (did you mean '{close[0]}'?)" if close else
                   f"unknown key (known here: {', '.join(known)})" if known else
                   "unknown key (check the spelling)")
        line = _line_of(doc, loc)
        where = f"{source}, line {line}" if line else f"{source}"
        raise ConfigError(msg, file=where, key=key) from None
    _check_readers(cfg, doc, source)
    _check_metrics(cfg, doc, source)
    if cfg.weights.method == "ahp":
        _apply_ahp(cfg, source, doc)
    cfg.key_lines = _key_lines(doc)
    return cfg


def _key_lines(node: Any, prefix: str = "") -> dict[str, int]:
    """The YAML line of every key, by dotted path ('layers.dem.options.band', 'constraints[0]')."""
    out: dict[str, int] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(node, _LineDict) and k in node.lines:
                out[key] = node.lines[k]
            out.update(_key_lines(v, key))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.update(_key_lines(v, f"{prefix}[{i}]"))
    return out


def _yaml_kind(doc: Any) -> str:
    return {list: "list", str: "single value", int: "number", float: "number",
            bool: "true/false"}.get(type(doc), type(doc).__name__)


def _fields_at(loc: tuple) -> list[str]:
    """The keys allowed at a config location (for 'did you mean'), [] where unknown."""
    import types
    import typing

    tp: Any = Config
    for part in (*loc, None):
        while True:  # unwrap Optional / Annotated
            origin = typing.get_origin(tp)
            if origin in (typing.Union, types.UnionType):
                tp = next((a for a in typing.get_args(tp) if a is not type(None)), None)
            elif origin is Annotated:
                tp = typing.get_args(tp)[0]
            else:
                break
        if part is None:
            break
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        else:
            return []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [n for n, f in tp.model_fields.items() if not f.exclude]
    return []


def _layer_schema(cfg: Config, layer: str) -> Any:
    """The canonical schema (schema.LayerSchema) a configured layer will have, None when its
    reader is not known yet."""
    from .readers import READERS
    from .schema import LAYERS

    reader = cfg.layers[layer].reader
    if reader is None and cfg.layers[layer].dataset is not None:
        try:
            from .catalog import load_catalog
            reader = load_catalog().datasets[cfg.layers[layer].dataset].reader
        except Exception:  # noqa: BLE001 - an unknown dataset is reported when the layer is read
            return None
    spec = READERS.get(reader) if reader else None
    return LAYERS.get(spec.layer) if spec is not None else None


def _layer_columns(cfg: Config, layer: str) -> list[str]:
    """The canonical columns a configured layer will have ([] when its reader is not known
    yet, or it is a raster)."""
    schema = _layer_schema(cfg, layer)
    return list(schema.columns) if schema is not None else []


def _check_readers(cfg: Config, doc: Any, source: Path | str) -> None:
    """Reader names, and the options each layer gives its reader, are checked against the reader
    registry, with the YAML line."""
    from .readers import READERS

    for name, layer in cfg.layers.items():
        if layer.reader is not None and layer.reader not in READERS:
            line = _line_of(doc, ("layers", name, "reader"))
            where = f"{source}, line {line}" if line else f"{source}"
            raise ConfigError(f"unknown reader '{layer.reader}'; known: {', '.join(sorted(READERS))}",
                              file=where, key=f"layers.{name}.reader")
        if layer.dataset is not None:
            from .catalog import load_catalog
            known = load_catalog().datasets
            if layer.dataset not in known:
                line = _line_of(doc, ("layers", name, "dataset"))
                raise ConfigError(f"unknown dataset '{layer.dataset}'; known: {', '.join(sorted(known))}",
                                  file=f"{source}, line {line}" if line else f"{source}",
                                  key=f"layers.{name}.dataset")
        # options the reader does not take (a misspelt `z_unit`) would be ignored without a word
        reader = layer.reader
        if reader is None and layer.dataset is not None:
            from .catalog import load_catalog
            reader = load_catalog().datasets[layer.dataset].reader
        if reader is not None and layer.options:
            from .readers import check_options
            try:
                check_options(READERS[reader], name, layer.options)
            except ConfigError as exc:
                line = _line_of(doc, tuple(exc.key.split(".")))
                raise ConfigError(str(exc).split(": ", 1)[-1],
                                  file=f"{source}, line {line}" if line else f"{source}",
                                  key=exc.key) from None


def _apply_ahp(cfg: Config, source: Path | str, doc: Any = None) -> None:
    """Criterion weights from the AHP matrix; the consistency ratio is kept for the manifest."""
    from .mcda import ahp_weights

    try:
        result = ahp_weights(list(cfg.criteria), cfg.weights.pairwise, cfg.weights.max_consistency_ratio)
    except ConfigError as exc:
        line = _line_of(doc, tuple(exc.key.split("."))) if exc.key else None
        raise ConfigError(str(exc).split(": ", 1)[-1] if exc.key else str(exc),
                          file=f"{source}, line {line}" if line else source, key=exc.key) from None
    for name, crit in cfg.criteria.items():
        crit.weight = float(result.weights[name])
    cfg.ahp = {"weights": {k: round(float(v), 6) for k, v in result.weights.items()},
               "lambda_max": round(float(result.lambda_max), 6),
               "consistency_ratio": round(float(result.consistency_ratio), 6)}


def _check_metrics(cfg: Config, doc: Any, source: Path | str) -> None:
    """Metric names and their parameters are checked against the metric registry."""
    from .metrics import METRICS

    for name, crit in cfg.criteria.items():
        key = f"criteria.{name}"
        line = _line_of(doc, ("criteria", name))
        where = f"{source}, line {line}" if line else f"{source}"
        spec = METRICS.get(crit.metric)
        if spec is None:
            raise ConfigError(f"unknown metric '{crit.metric}'; known: {', '.join(sorted(METRICS))}",
                              file=where, key=f"{key}.metric")
        unknown = sorted(set(crit.params) - set(spec.params.model_fields))
        if unknown:
            known = ", ".join(spec.params.model_fields) or "none"
            raise ConfigError(f"unknown parameter for metric '{crit.metric}' (its parameters: {known})",
                              file=where, key=f"{key}.{unknown[0]}")
        try:
            crit.params = spec.params.model_validate(crit.params).model_dump()
        except ValidationError as exc:
            err = exc.errors()[0]
            pkey = ".".join(str(p) for p in err["loc"])
            msg = "unknown parameter for this metric" if err["type"] == "extra_forbidden" \
                else _message(err)
            raise ConfigError(msg, file=where, key=f"{key}.{pkey}") from None
        column = crit.params.get("field")
        columns = _layer_columns(cfg, crit.layer)
        if isinstance(column, str) and columns and column not in columns:
            fline = _line_of(doc, ("criteria", name, "field")) or line
            raise ConfigError(f"layer '{crit.layer}' has no column '{column}' (its columns: "
                              f"{', '.join(columns)})", file=f"{source}, line {fline}" if fline
                              else f"{source}", key=f"{key}.field")
        if crit.where is not None:
            _check_where(cfg, name, doc, source)


def _check_where(cfg: Config, name: str, doc: Any, source: Path | str) -> None:
    """A criterion's filter parses, and fits its layer's canonical columns when they are known
    (a column it lacks, a literal of the wrong kind, a raster): errors carry the `where` line."""
    from .filters import parse_where

    crit = cfg.criteria[name]
    line = _line_of(doc, ("criteria", name, "where"))
    where = f"{source}, line {line}" if line else f"{source}"
    key = f"criteria.{name}.where"
    schema = _layer_schema(cfg, crit.layer)
    if schema is not None and schema.geometry == "raster":
        raise ConfigError(f"layer '{crit.layer}' is a raster: it has no columns to filter; "
                          "remove 'where'", file=where, key=key)
    try:
        parse_where(crit.where, schema.columns if schema is not None and schema.columns else None)
    except ValueError as exc:
        message = str(exc)
        if schema is not None and ": no column " in message:
            message = message.replace(": no column ", f": layer '{crit.layer}' has no column ", 1)
        raise ConfigError(message, file=where, key=key) from None


def _read_yaml(path: Path, what: str = "config") -> Any:
    if not path.exists():
        raise ConfigError(f"{what} file not found", file=path)
    if not path.is_file():
        raise ConfigError(f"{what} is not a file", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read it ({exc.strerror})", file=path) from None
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (safe)
    except yaml.reader.ReaderError as exc:  # a control character: the file is no YAML text
        line = text[:exc.position].count("\n") + 1
        raise ConfigError(f"not valid YAML (character {exc.character!r} is not allowed)",
                          file=f"{path}, line {line}") from None
    except _AliasError as exc:
        raise ConfigError(exc.problem, file=f"{path}, line {exc.problem_mark.line + 1}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"not valid YAML ({problem})", file=where) from None
    except Exception as exc:  # noqa: BLE001 - PyYAML trips on '!!float' alone
        raise ConfigError(f"not valid YAML ({type(exc).__name__} reading a value)",
                          file=path) from None
    return doc


#: What a preset may set: the scenario, never the study's data or area.
PRESET_KEYS = {"title", "description", "criteria", "constraints", "sites", "candidates", "weights",
               "aggregation", "sensitivity"}


def apply_preset(doc: dict, preset: dict, preset_name: str = "preset") -> tuple[dict, list[str]]:
    """A study config with a scenario preset applied: the preset's criteria and constraints replace
    the study's; sites, candidates, weights, aggregation and sensitivity are overridden key by
    key. Criteria needing a layer the study lacks are left out, each with a note."""
    if not isinstance(preset, dict):
        raise ConfigError("a preset must be a YAML mapping", file=preset_name)
    unknown = sorted(set(preset) - PRESET_KEYS)
    if unknown:
        raise ConfigError(f"a preset sets only {', '.join(sorted(PRESET_KEYS))}", file=preset_name,
                          key=unknown[0])
    for key, kind in (("criteria", dict), ("constraints", list)):
        if key in preset and not isinstance(preset[key], kind):
            raise ConfigError(f"must be a {'mapping' if kind is dict else 'list'}", key=key,
                              file=preset_name)
    out = _LineDict(dict(doc), getattr(doc, "lines", {}))
    notes: list[str] = []
    for key, value in preset.items():
        if key in ("criteria", "constraints", "title", "description", "aggregation"):
            out[key] = value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    layers = set(doc["layers"]) if isinstance(doc.get("layers"), dict) else set()
    criteria = dict(out["criteria"]) if isinstance(out.get("criteria"), dict) else {}
    for name, crit in list(criteria.items()):
        layer = crit.get("layer") if isinstance(crit, dict) else None
        if isinstance(layer, str) and layer not in layers:
            notes.append(f"criterion '{name}' of preset {preset_name} left out: this study has no "
                         f"layer '{layer}'")
            del criteria[name]
    if isinstance(out.get("criteria"), dict):
        out["criteria"] = criteria
    if isinstance(out.get("constraints"), list):
        out["constraints"] = [c for c in out["constraints"] if not isinstance(c, dict)
                              or not isinstance(c.get("criterion"), str) or c["criterion"] in criteria]
    if isinstance(out.get("weights"), dict) and isinstance(out["weights"].get("pairwise"), dict):
        out["weights"] = dict(out["weights"])
        out["weights"]["pairwise"] = {a: {b: v for b, v in row.items() if b in criteria}
                                      if isinstance(row, dict) else row
                                      for a, row in out["weights"]["pairwise"].items() if a in criteria}
    out["study"] = f"{doc.get('study', 'study')}-{Path(str(preset_name)).stem}"
    return out, notes


def _merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path, preset: str | Path | None = None) -> Config:
    """Read and validate a YAML config file (safe loader only), with a scenario preset applied
    when the config names one or `preset` is given (a path, or a name in configs/presets/)."""
    path = Path(path)
    doc = _read_yaml(path)
    notes: list[str] = []
    chosen = preset or (doc.get("preset") if isinstance(doc, dict) else None)
    if chosen is not None and not isinstance(chosen, (str, Path)):
        line = _line_of(doc, ("preset",))
        raise ConfigError(f"must be a preset name or file, got {chosen!r}", key="preset",
                          file=f"{path}, line {line}" if line else path)
    if chosen:
        preset_path = _preset_path(chosen, path)
        doc, notes = apply_preset(doc, _read_yaml(preset_path, "preset"), str(preset_path))
        doc["preset"] = str(preset_path)
    cfg = parse_config(doc, path)
    cfg.source_path = path.resolve()
    cfg.notes = notes
    return cfg


def _preset_path(name: str | Path, config_path: Path) -> Path:
    """A preset path as given (relative to the config's folder), or a bare name from
    configs/presets/ beside it or in the current folder."""
    p = Path(name).expanduser()
    candidates = [p] if p.is_absolute() else [config_path.parent / p, Path.cwd() / p]
    if p.suffix == "" and len(p.parts) == 1:
        # the project's own configs/presets (the checkout sitescore runs from) comes last
        project = Path(__file__).resolve().parents[2]
        for base in (config_path.parent, config_path.parent.parent, Path.cwd(), project):
            candidates += [base / "presets" / f"{p}.yaml", base / "configs" / "presets" / f"{p}.yaml"]
    for c in candidates:
        if c.exists():
            return c
    raise ConfigError(f"preset not found (looked for {', '.join(str(c) for c in candidates[:4])})",
                      file=config_path, key="preset")


def json_schema() -> dict[str, Any]:
    """JSON Schema of the config, for editors (YAML language server)."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sitescore run config"
    schema.get("properties", {}).pop("source_path", None)
    schema.get("properties", {}).pop("notes", None)
    schema.get("properties", {}).pop("ahp", None)
    schema.get("properties", {}).pop("key_lines", None)
    return schema
