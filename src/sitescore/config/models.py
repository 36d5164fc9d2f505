"""The config's pydantic models: what a study may say, each field checked where it is read.

Distances are km and areas acres here, as planners write them; stages convert once. Reading the
YAML (lines, aliases), presets and the checks against the readers and metrics live beside this.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ConfigError, SitescoreError
from ..mcda import AGGREGATION_METHODS, rescale_weights
from ..postgis import PostgisOutput, PostgisSource
from ..schema import STATE_FIPS
from .costs import CostsConfig
from .network import NetworkConfig
from .value_functions import AnyValueFunction

#: The longest distance any radius, decay, buffer or spacing may be, in km: more than a national
#: study needs (the lower 48 span about 4,500 km), and small enough that metres stay exact floats.
MAX_DISTANCE_KM = 1000.0
#: Smallest square grid cell edge, km (10 m: far below a DEM's 30 m pixels).
MIN_CELL_KM = 0.01
#: Default limit of candidate cells a run may make (a national 2 km run makes about 1 million).
MAX_CELLS = 5_000_000
#: The table formats a run can write its cells and sites in (`outputs.formats`; all by default).
OutputFormat = Literal["gpkg", "parquet", "csv"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("gpkg", "parquet", "csv")
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


class KeyedError(ValueError):
    """A validation error that names its config key; `loc` is the key's path where a name in
    it holds a '.' (criteria.<name>), so the key's YAML line is still found."""

    def __init__(self, key: str, message: str, loc: tuple | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.loc = loc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LayerConfig(_Strict):
    reader: str | None = Field(default=None, description="Registered reader, e.g. padus, "
                                                         "hifld_transmission_lines (default: the dataset's).")
    dataset: str | None = Field(default=None, description="Catalog dataset id: its file(s) in the data "
                                                          "folder, as fetched or imported.")
    path: str | None = Field(default=None, description="File path, relative to data_dir unless absolute.")
    postgis: PostgisSource | None = Field(
        default=None,
        description="A PostGIS table or query instead of a file: {url, table | sql, geometry_column}.")
    relative_to: Literal["data_dir", "config"] = Field(
        default="data_dir", description="Whether a relative path starts at data_dir or at the config file.")
    layer: str | None = Field(default=None, description="Layer inside a GDB / GeoPackage.")
    optional: bool = Field(default=False, description="If the file is missing, drop the criteria that "
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
    states: list[str] | None = Field(default=None,
                                     description="Two-letter state codes; needs a 'states' layer.")
    bbox: list[float] | None = Field(default=None, description="[west, south, east, north] in degrees.")

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
        for side, value in zip(("west", "south", "east", "north"), v, strict=True):
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


#: The classes of data/designations.yaml: what a PAD-US designation means for an industrial park.
DesignationClass = Literal["protected", "restricted", "multiple_use", "non_federal", "other"]
#: Buffer around GAP-status areas, extra exclusion layers and listed designation codes when the
#: config sets no `buffer_km`, km (the distance sitescore always kept).
DEFAULT_BUFFER_KM = 1.0


@dataclass(frozen=True)
class Designation:
    """One PAD-US `Des_Tp` code of the shipped table, with the document that creates it."""

    code: str
    label: str
    klass: str
    excluded: bool
    buffer_km: float
    source: str


@functools.cache
def designation_table() -> dict[str, Designation]:
    """Every PAD-US 4.0 `Des_Tp` code -> its row of data/designations.yaml (package data, checked
    against the real PAD-US domain by its own tests). Read once."""
    text = resources.files("sitescore").joinpath("data", "designations.yaml").read_text(encoding="utf-8")
    rows = yaml.safe_load(text)["designations"]
    return {str(code).upper(): Designation(str(code).upper(), row["label"], row["class"],
                                           bool(row["excluded"]), float(row["buffer_km"]),
                                           row["source"])
            for code, row in rows.items()}


class ExcludeConfig(_Strict):
    gap_status: list[int] = Field(default_factory=lambda: [1, 2],
                                  description="PAD-US GAP status codes to exclude (a layer without "
                                              "GAP status, such as BLM SMA, says so in the notes).")
    designations: Literal["default"] | list[str] = Field(
        default="default",
        description="PAD-US Des_Tp codes to exclude, or `default`: every code data/designations.yaml "
                    "excludes by default (its protected class, ACEC and RNA); [default, NRA] adds "
                    "codes to those.")
    classes: list[DesignationClass] = Field(
        default_factory=list,
        description="Classes of data/designations.yaml whose every code is excluded too, e.g. "
                    "[restricted] for roadless areas, trails, military land.")
    own_types: list[str] = Field(default_factory=lambda: ["TRIB", "PVT", "LOC", "STAT", "JNT", "UNK"],
                                 description="Owner types removed (tribal and non-federal land).")
    layers: list[str] = Field(default_factory=list,
                              description="Extra polygon layers whose area is excluded.")
    buffer_km: float | None = Field(
        default=None, ge=0, le=MAX_DISTANCE_KM,
        description="Buffer around every excluded area. Unset: the table's buffer around codes the "
                    f"table picks (`default`, `classes`), {DEFAULT_BUFFER_KM:g} km around listed "
                    "codes, GAP-status areas and exclusion layers.")
    class_buffers_km: dict[DesignationClass, float] = Field(
        default_factory=dict,
        description="Buffer around the excluded designations of a class, km, over buffer_km and "
                    "the table, e.g. {protected: 2}.")

    @field_validator("designations", mode="before")
    @classmethod
    def _list_or_default(cls, v: object) -> object:
        if not isinstance(v, list) and v != "default":
            raise ValueError(f"a list of PAD-US Des_Tp codes (e.g. [WA, NP]) or 'default' (the "
                             f"table's defaults), not {v!r}")
        if isinstance(v, list):
            for item in v:
                if not isinstance(item, str):
                    raise ValueError(f"{item!r} is not a PAD-US Des_Tp code (codes are words, "
                                     "e.g. WA, NP)")
        return v

    @field_validator("designations")
    @classmethod
    def _known_codes(cls, v: Literal["default"] | list[str]) -> Literal["default"] | list[str]:
        if isinstance(v, str):
            return v
        table = designation_table()
        for code in v:
            if code.upper() not in table and code != "default":
                near = difflib.get_close_matches(code.upper(), list(table), n=1)
                hint = f"did you mean {near[0]} ({table[near[0]].label})? " if near else ""
                raise ValueError(f"'{code}' is not a PAD-US 4.0 Des_Tp code; {hint}"
                                 "sitescore's data/designations.yaml lists all 63 with their labels")
        return v

    @field_validator("class_buffers_km")
    @classmethod
    def _distances(cls, v: dict[str, float]) -> dict[str, float]:
        for name, km in v.items():
            if not 0 <= km <= MAX_DISTANCE_KM:
                raise ValueError(f"the {name} buffer must be 0 to {MAX_DISTANCE_KM:g} km, not {km:g}")
        return v

    def designation_buffers_km(self) -> dict[str, float]:
        """Each excluded `Des_Tp` code -> its buffer in km: a class's `class_buffers_km`, else
        `buffer_km`, else for codes the config lists the default 1 km (as before the table) and
        for codes the table picks (`default`, `classes`) the table's buffer."""
        table = designation_table()
        chosen = [self.designations] if isinstance(self.designations, str) else self.designations
        listed = {c.upper() for c in chosen if c != "default"}
        picked = {c for c, row in table.items()
                  if ("default" in chosen and row.excluded) or row.klass in self.classes}
        out = {}
        for code in sorted(listed | picked):
            row = table[code]
            if row.klass in self.class_buffers_km:
                out[code] = self.class_buffers_km[row.klass]
            elif self.buffer_km is not None:
                out[code] = self.buffer_km
            else:
                out[code] = DEFAULT_BUFFER_KM if code in listed else row.buffer_km
        return out

    def general_buffer_km(self) -> float:
        """The buffer around GAP-status areas and extra exclusion layers, km."""
        return DEFAULT_BUFFER_KM if self.buffer_km is None else self.buffer_km


class GridConfig(_Strict):
    kind: Literal["square", "h3"] = "square"
    size_km: float = Field(default=2.0, gt=0, description="Square cell edge (square grid), at least "
                                                          f"{MIN_CELL_KM:g} km.")
    resolution: int = Field(default=7, ge=0, le=12, description="H3 resolution (h3 grid).")

    @field_validator("size_km")
    @classmethod
    def _not_too_fine(cls, v: float) -> float:
        if v < MIN_CELL_KM:
            raise ValueError(f"a cell edge of {v:g} km is finer than any input resolves; use at "
                             f"least {MIN_CELL_KM:g} km ({MIN_CELL_KM * 1000:g} m)")
        return v


class PathwaysConfig(_Strict):
    """Which land can be had, by which legal path, how fast (data/land_pathways.yaml)."""

    table: str | None = Field(
        default=None, description="A land-pathway table of the user's own (YAML, as "
        "data/land_pathways.yaml; relative to the config file): its rules are matched before the "
        "shipped ones, or alone with `replace: true`.")
    layers: list[str] = Field(
        default_factory=list, description="Layers (reader pathway_areas) whose polygons override "
        "or add a pathway where a user knows more: RMP disposal lands, withdrawals, leases, "
        "solar energy zones; the first listed wins where they overlap.")
    exclude_unavailable: bool = Field(
        default=True, description="Remove land the table marks unavailable (closed by statute "
        "short of an act of Congress).")
    exclude_pathways: list[str] = Field(
        default_factory=list, description="Instrument codes whose land is removed, e.g. "
        "[legislation, exchange].")
    max_months: float | None = Field(
        default=None, gt=0, le=1200, description="Remove land whose pathway takes longer than "
        "this many months (read at `months_basis`).")
    months_basis: Literal["low", "typical", "high"] = Field(
        default="typical", description="Which end of a pathway's month range max_months reads: "
        "low, high, or typical (the middle); the land_pathway metric has its own months_basis.")
    land: str | None = Field(
        default=None, description="Shortlist studies: the federal-land layer whose parcels give "
        "each site its pathway (grid studies use candidates.source).")


class CandidatesConfig(_Strict):
    source: str = Field(default="federal_land", description="Federal-land layer, or a shortlist layer.")
    agencies: list[str] = Field(default_factory=lambda: ["BLM"],
                                description="Managing agencies (PAD-US Mang_Name codes).")
    exclude: ExcludeConfig = Field(default_factory=ExcludeConfig)
    pathways: PathwaysConfig = Field(default_factory=PathwaysConfig)
    grid: GridConfig = Field(default_factory=GridConfig)
    min_eligible_share: float = Field(default=0.5, gt=0, le=1,
                                      description="A cell is kept if this share is eligible.")
    max_cells: int = Field(default=MAX_CELLS, ge=1, description="Most candidate cells a run may make; "
                           "the land's area over the cell area is checked before gridding.")


class CriterionConfig(BaseModel):
    """A criterion is data: metric + layer + params + value function + weight.

    Metric parameters (radius_km, field, decay_km, ...) may be written flat in the criterion;
    they are collected into `params` and checked against the metric's own parameters.
    """

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    metric: str
    layer: str
    where: str | None = Field(default=None, description="Filter on the layer, e.g. 'voltage_kv >= 345'.")
    value: AnyValueFunction
    weight: float | None = Field(default=None, ge=0, description="Weight (direct weights); with "
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
    exclude_values: list[str] | None = Field(default=None, description="Raw values that exclude a cell.")

    @model_validator(mode="after")
    def _some_rule(self) -> ConstraintConfig:
        if self.min is None and self.max is None and not self.exclude_values:
            raise ValueError("a constraint needs min, max or exclude_values")
        return self


class SitesConfig(_Strict):
    min_site_acres: float = Field(default=1000, gt=0)
    min_spacing_km: float = Field(default=10, ge=0, le=MAX_DISTANCE_KM)
    max_sites: int = Field(default=25, ge=1)
    min_cell_score: float = Field(default=0.0, ge=0, le=1, description="Cells below this never join a site.")


class OutputsConfig(_Strict):
    maps_dir: str = "maps"
    runs_dir: str = "runs"
    formats: list[OutputFormat] = Field(default_factory=lambda: list(OUTPUT_FORMATS))
    map_layers: bool = Field(default=True, description="Add every input layer to the map as a toggle.")
    postgis: PostgisOutput | None = Field(default=None, description="Also write sites, cells and excluded "
                                                                    "land to PostGIS: {url, schema, prefix}.")


class WeightsConfig(_Strict):
    """How criterion weights are set: as written on each criterion, or from an AHP matrix."""

    method: Literal["direct", "ahp"] = "direct"
    pairwise: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="AHP judgements: pairwise[a][b] = how much more a matters than b (Saaty 1-9; "
                    "fractions for less). Each unordered pair once; the rest follows by reciprocity.")
    max_consistency_ratio: float = Field(default=0.10, gt=0, le=1)


class SensitivityConfig(_Strict):
    """How sure is the ranking: Monte Carlo over weights (and optionally value-function
    thresholds), and one-at-a-time weight sweeps."""

    draws: int = Field(default=1000, ge=10, le=1_000_000)
    weights: Literal["dirichlet", "uniform"] = Field(
        default="dirichlet",
        description="Dirichlet around the configured weights, or uniform on the simplex.")
    spread: float = Field(default=0.2, gt=0, le=2, description="Coefficient of variation of each weight "
                                                               "(Dirichlet draws).")
    thresholds: float = Field(default=0.0, ge=0, le=1, description="Relative jitter of value-function "
                                                                  "parameters (0 = weights only).")
    top_k: int = Field(default=10, ge=1)
    seed: int = 0
    sweep_max: float = Field(default=2.0, gt=1, description="Weight sweeps run from 0 to this multiple.")


#: Module -> package name of what the Dask engine needs (the `dask` extra).
DASK_PACKAGES = {"dask": "dask", "distributed": "distributed", "dask_geopandas": "dask-geopandas"}
INSTALL_HINT = "pip install 'sitescore[dask]'"


def missing_dask_packages() -> list[str]:
    """The packages of the `dask` extra that are not installed (`engine.kind: dask` needs them)."""
    return [pkg for mod, pkg in DASK_PACKAGES.items() if importlib.util.find_spec(mod) is None]


#: A Dask scheduler address: [tcp|tls|ws|wss|ucx://]host:port (IPv6 hosts in brackets).
_SCHEDULER = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")


class EngineConfig(_Strict):
    """Where candidates and metrics run: here, or on a Dask cluster (the `dask` extra)."""

    kind: Literal["local", "dask"] = Field(default="local", description="local, or dask (pip install "
                                                                        "'sitescore[dask]').")
    scheduler: str | None = Field(default=None, description="Address of a running Dask scheduler, e.g. "
                                                            "tcp://host:8786; none starts a local cluster "
                                                            "for the run.")
    workers: int | None = Field(default=None, ge=1, description="Worker processes of the local cluster "
                                                                "(default: one per CPU).")
    partitions: int | None = Field(default=None, ge=1, description="Strips and partitions the cells "
                                   "are split into (default: one per worker thread).")
    threads: int | None = Field(default=None, ge=1, description="Local engine: metrics computed at once on "
                                                                "threads (default: one per CPU, at most 4).")

    @field_validator("kind")
    @classmethod
    def _installed(cls, v: str) -> str:
        if v == "dask":
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
                    raise KeyedError(f"engine.{name}", "only used with kind: dask")
        elif self.threads is not None:
            raise KeyedError("engine.threads", "only used with kind: local (Dask workers have "
                                               "their own threads)")
        elif self.scheduler is not None and self.workers is not None:
            raise KeyedError("engine.workers", "sets the size of the local cluster started when "
                                               "no scheduler is given; a running cluster has its "
                                               "own workers")
        return self


class Config(_Strict):
    study: str = Field(description="Short name; folders maps/<study>, runs/<study>. Letters "
                                   "(any script), digits, '_', '.', '-'; at most 100 characters.")
    title: str | None = None
    synthetic: bool = Field(default=False, description="Inputs are generated demo data (said on the map).")
    data_dir: str = Field(default="data/raw",
                          description="Where layer paths start; relative to the config file.")
    area: AreaConfig = Field(default_factory=AreaConfig)
    layers: dict[str, LayerConfig]
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig)
    criteria: dict[str, CriterionConfig]
    constraints: list[ConstraintConfig] = Field(default_factory=list)
    weights: WeightsConfig = Field(default_factory=WeightsConfig)
    min_weight_kept: float = Field(
        default=0.7, ge=0, le=1,
        description="Share of the configured weight (0..1) whose criteria must be scored: criteria "
                    "left out (layer missing) or degenerate (values all missing or constant) take "
                    "theirs away, and below this share the run stops unless --allow-partial.")
    aggregation: str = Field(
        default="weighted_sum", json_schema_extra={"enum": list(AGGREGATION_METHODS)},
        description="How criterion scores combine (sitescore.mcda); constraints stay vetoes.")
    sensitivity: SensitivityConfig | None = Field(default=None, description="Rank uncertainty, if wanted.")
    sites: SitesConfig = Field(default_factory=SitesConfig)
    outputs: OutputsConfig = Field(default_factory=OutputsConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig,
                                 description="Where the work runs: local, or a Dask cluster.")
    costs: CostsConfig | None = Field(default=None, description="Connection routes and capital "
                                      "cost of making each site ready (sitescore.costs).")
    preset: str | None = Field(default=None, description="A scenario preset (criteria, weights, sites) "
                                                         "applied on top of this study's data.")
    network: NetworkConfig | None = Field(default=None, description="A network of specialised parks "
                                          "chosen together (`sitescore network`).")
    description: str | None = None

    # set by load_config, not by the user
    source_path: Path | None = Field(default=None, exclude=True)
    notes: list[str] = Field(default_factory=list, exclude=True)
    ahp: dict[str, Any] | None = Field(default=None, exclude=True)
    key_lines: dict[str, int] = Field(default_factory=dict, exclude=True)

    @field_validator("study")
    @classmethod
    def _study_name(cls, v: str) -> str:
        return check_name(v, "study")

    @field_validator("aggregation")
    @classmethod
    def _known_method(cls, v: str) -> str:
        if v not in AGGREGATION_METHODS:
            *first, last = (repr(m) for m in AGGREGATION_METHODS)
            raise ValueError(f"Input should be {', '.join(first)} or {last}")
        return v

    @field_validator("criteria")
    @classmethod
    def _criterion_names(cls, v: dict[str, CriterionConfig]) -> dict[str, CriterionConfig]:
        for name in v:
            try:
                check_name(name, "criterion")
            except ValueError as exc:
                raise KeyedError(f"criteria.{name}", str(exc), loc=("criteria", name)) from None
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        if not self.criteria:
            raise ValueError("criteria: at least one criterion is needed")
        for name, c in self.criteria.items():
            if c.layer not in self.layers:
                raise KeyedError(f"criteria.{name}.layer", f"layer '{c.layer}' is not in 'layers'")
        for i, con in enumerate(self.constraints):
            if con.criterion not in self.criteria:
                raise KeyedError(f"constraints[{i}].criterion",
                                 f"'{con.criterion}' is not a criterion")
        if self.candidates.source not in self.layers:
            raise KeyedError("candidates.source", f"layer '{self.candidates.source}' is not in 'layers'")
        for lyr in self.candidates.exclude.layers:
            if lyr not in self.layers:
                raise KeyedError("candidates.exclude.layers", f"layer '{lyr}' is not in 'layers'")
        for key, lyr in self.costs.layer_keys() if self.costs else []:
            if lyr not in self.layers:
                raise KeyedError(key, f"layer '{lyr}' is not in 'layers'")
        if self.area.states and "states" not in self.layers:
            raise KeyedError("area.states", "a study area by state needs a 'states' layer")
        if self.weights.method == "direct":
            weights: list[float] = []
            for name, c in self.criteria.items():
                typo = difflib.get_close_matches("weight", [str(k) for k in c.model_extra or {}],
                                                 n=1, cutoff=0.6)
                if c.weight is None and typo:
                    raise KeyedError(f"criteria.{name}.{typo[0]}",
                                     "unknown key (did you mean 'weight'?)")
                if c.weight is None:
                    raise KeyedError(f"criteria.{name}.weight",
                                     "a weight is needed (or set weights.method: ahp)")
                weights.append(c.weight)
            if not any(w > 0 for w in weights) or not all(math.isfinite(w) for w in weights):
                raise KeyedError("criteria", "weights must be finite and at least one must be > 0")
            for c, w in zip(self.criteria.values(), rescale_weights(weights), strict=True):
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
        """Each criterion's share of the summed weights (AHP weights are set by the loader)."""
        given: list[float] = []
        for name, c in self.criteria.items():
            if c.weight is None:
                raise ConfigError("no weight yet (weights.method: ahp derives them when the config "
                                  "is loaded)", key=f"criteria.{name}.weight")
            given.append(c.weight)
        weights = rescale_weights(given)
        total = sum(weights)
        return {n: w / total for n, w in zip(self.criteria, weights, strict=True)}


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
