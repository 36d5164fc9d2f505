"""The run: config -> study area -> layers -> candidates -> metrics -> scores -> sites.

Each arrow is one module; this one only orders them, times them and records what happened.
`score` computes a study in memory and writes nothing; `run` is `score` under the output
folders' locks, then `publish.write_result` inside the atomic swap of those folders.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

from . import __version__
from .cache import default_cache_dir, read_cached
from .candidates import cell_adjacency, eligible_land, fill_states, shortlist_cells
from .catalog import load_catalog
from .config import Config, ConstraintConfig, CriterionConfig, SensitivityConfig
from .config.checks import pathway_table_path
from .costs import CostsPlan, cost_constraint_criterion, plan_costs, study_costs, with_site_costs
from .datastore import dataset_paths
from .engine import Engine, LocalEngine, MetricJob, open_engine
from .errors import ConfigError, DataError, SitescoreError
from .filters import parse_where
from .folders import atomic_dirs, study_lock
from .formatting import fmt_pct
from .left_out import LeftOut, configured_shares, degenerate, left_out_summary, preset_dropped
from .locate import grow_sites, shortlist_sites, site_table
from .metrics import METRICS
from .outputs import file_digest, package_versions
from .pathways import LandPathways, load_pathway_table, pathway_record, pathways_at_sites
from .publish import write_result
from .readers import READERS, LayerSource, read_layer
from .schema import CRS, LAYERS, M_PER_KM
from .scoring import CriterionInfo, apply_constraints, describe_value_function, score_table
from .study_area import StudyArea, bbox_area

log = logging.getLogger(__name__)

#: The surroundings of shortlisted sites shown on the map and used as their study area.
SHORTLIST_SURROUNDINGS_KM = 25.0
#: Layers for metrics are read this far beyond the study area, so a cell near the edge still
#: finds the line or plant just across it. Raised to cover any radius or cut-off in the config.
DEFAULT_MARGIN_KM = 100.0


@dataclass
class RunResult:
    """A study run and written: its tables, where they went and the manifest written with them."""

    cells: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    run_dir: Path
    map_path: Path | None
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    report_path: Path | None = None
    left_out: list[LeftOut] = field(default_factory=list)
    weight_kept: float = 1.0
    partial: bool = False
    n_configured: int = 0

    def left_out_summary(self) -> str:
        """The terminal's line on what the scores stand for (empty when nothing was left out)."""
        return left_out_summary(self.n_configured, self.left_out, self.weight_kept) \
            if self.left_out else ""


class StageTimer:
    """Wall time of each stage, and the process's peak memory when it ended (what a planner sizing
    a machine for a national run needs to know)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self._t0 = time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        log.info("%s ...", name)
        t0 = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - t0, 3)
        self.peak_mb[name] = _peak_rss_mb()
        log.info("%s done in %.2f s", name, self.seconds[name])

    def stamp_total(self) -> dict[str, float]:
        """Record the seconds since the run began as 'total'; the stage seconds so far."""
        self.seconds["total"] = round(time.perf_counter() - self._t0, 3)
        return self.seconds


@dataclass
class Stability:
    """Rank uncertainty of the sites: Monte Carlo figures per site, weight sweeps, and the
    smallest single-weight changes that move a site across the top k."""

    per_site: pd.DataFrame
    sweeps: pd.DataFrame
    flips: pd.DataFrame
    labels: dict[str, str]

    def site_figures(self) -> pd.DataFrame:
        """The per-site columns the sites table carries: P(top k), median rank, 90% interval."""
        keep = [c for c in self.per_site.columns if c == "site_id" or c.startswith("p_top_")
                or c in ("median_rank", "rank_p05", "rank_p95")]
        return self.per_site[keep]


@dataclass(repr=False)
class StudyResult:
    """A study computed in memory, nothing written: the tables, what the map and the report
    draw, and the record the manifest keeps. `publish.write_result` writes it; `run` does both.

    `cells` and `sites` are in EPSG:5070 (`sites.explore()` reprojects for the web); `excluded`
    is the land removed before the grid with its reason (None for a shortlist); `criteria` the
    criteria scored (the config's minus those left out) with `weights` normalised; `layers` the
    input layers as read; `manifest` the run's record (config, inputs with their sha256, counts,
    notes, timings so far); `stability` the sensitivity tables when the config asks for them.
    `left_out` names each configured criterion not scored (layer or field missing, values all
    missing or constant over the cells) with its share of the configured weight; `weight_kept`
    is the share scored; `partial` says the run went on below `min_weight_kept`
    (`allow_partial`)."""

    cfg: Config
    cells: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    excluded: gpd.GeoDataFrame | None
    criteria: dict[str, CriterionConfig]
    weights: dict[str, float]
    area: StudyArea
    layers: dict[str, Any]
    notes: list[str]
    manifest: dict[str, Any]
    timer: StageTimer = field(repr=False)
    stability: Stability | None = None
    left_out: list[LeftOut] = field(default_factory=list)
    weight_kept: float = 1.0
    partial: bool = False
    n_configured: int = 0
    routes: gpd.GeoDataFrame | None = None  # each site's connection routes (config `costs:`)
    _on_map: tuple[dict[str, gpd.GeoDataFrame], gpd.GeoDataFrame | None] | None = \
        field(default=None, init=False, repr=False)

    def __repr__(self) -> str:  # a notebook shows this: the study in one line, not its tables
        return (f"StudyResult(study={self.cfg.study!r}, cells={len(self.cells)}, "
                f"sites={len(self.sites)}, criteria={len(self.criteria)}, notes={len(self.notes)})")

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage (and 'total' once the outputs are written)."""
        return self.timer.seconds

    def criterion_infos(self) -> list[CriterionInfo]:
        """The scored criteria as the map describes them (label, unit, weight, value function)."""
        return criterion_infos(self.criteria, self.weights)

    def map_layers(self) -> tuple[dict[str, gpd.GeoDataFrame], gpd.GeoDataFrame | None]:
        """The input layers and the excluded land the web map shows: cut to the study area, and
        only near the sites where a layer has more features than a page can carry (a note says
        so). Worked out on first use, since a run without a map never needs them."""
        if self._on_map is None:
            layers = _map_layers(self.cfg, self.layers, self.area, self.sites, self.notes) \
                if self.cfg.outputs.map_layers else {}
            excluded = None if self.excluded is None else \
                _around_sites(self.excluded, self.sites, "excluded land", self.notes)
            self._on_map = (layers, excluded)
        return self._on_map


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return float("nan")
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def layer_sources(cfg: Config, data_dir: str | Path | None = None) -> dict[str, LayerSource]:
    """Each configured layer with its file(s) resolved: a path (from data_dir or the config's
    folder) or a catalog dataset as recorded in the data folder's manifest."""
    root = cfg.data_root(data_dir)
    stored = dataset_paths(root)
    first = {ds: paths[0] for ds, paths in stored.items()}
    config_dir = cfg.source_path.parent if cfg.source_path else Path.cwd()
    out = {}
    for name, lc in cfg.layers.items():
        reader, layer, paths = lc.reader, lc.layer, []
        if lc.dataset:
            ds = load_catalog().get(lc.dataset, key=f"layers.{name}.dataset")
            reader = reader or ds.reader
            paths = stored.get(lc.dataset) or [root / lc.dataset]
            layer = layer or _catalog_layer(paths[0], ds.file_layer)
            if reader is None:
                raise ConfigError(f"dataset '{lc.dataset}' is a table; join it through a layer's "
                                  "options (dataset:<id>)", file=cfg.source_path, key=f"layers.{name}")
        elif lc.postgis is not None:  # read from PostGIS; the path only names it in messages
            paths = [Path(lc.postgis.label)]
        else:
            assert lc.path is not None  # a layer has exactly one of dataset, postgis and path
            p = Path(lc.path).expanduser()
            base = config_dir if lc.relative_to == "config" else root
            paths = [p if p.is_absolute() else base / p]
        if reader not in READERS:
            raise ConfigError(f"unknown reader '{reader}'; known: {', '.join(sorted(READERS))}",
                              file=cfg.source_path, key=f"layers.{name}.reader")
        out[name] = LayerSource(name=name, reader=reader, path=paths[0], data_dir=root, layer=layer,
                                options=dict(lc.options), dataset=lc.dataset,
                                more_paths=tuple(paths[1:]), datasets=first, postgis=lc.postgis)
    return out


def _catalog_layer(path: Path, hint: str | None) -> str | None:
    """The catalog's layer name, where the file has it: an imported file (a state GeoJSON, a CSV)
    may not, and its reader then picks its own layer."""
    if hint is None or not path.exists() or path.suffix.lower() in (".csv", ".txt", ".tif", ".tiff"):
        return None
    try:
        import pyogrio
        names = {str(n).lower() for n in pyogrio.list_layers(str(path))[:, 0]}
    except Exception:  # unreadable files are reported by their reader
        return None
    return hint if hint.lower() in names else None


def _margin_km(cfg: Config) -> float:
    margin = DEFAULT_MARGIN_KM
    for c in cfg.criteria.values():
        for key in ("radius_km", "cutoff_km"):
            if c.params.get(key):
                margin = max(margin, float(c.params[key]) * 1.05)
    return margin


def _is_shortlist(cfg: Config) -> bool:
    lc = cfg.layers[cfg.candidates.source]
    reader = lc.reader if lc.dataset is None else (lc.reader or load_catalog().get(lc.dataset).reader)
    return reader is not None and READERS[reader].layer == "candidates"


@dataclass
class _Plan:
    """What a run will compute once optional layers that are missing have been left out."""

    criteria: dict[str, Any]
    constraints: list[Any]
    exclusion_layers: list[str]
    notes: list[str]
    #: every configured criterion (its preset's left out at loading too): share of the weight
    shares: dict[str, float] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)
    #: criteria dropped once measured (all missing, constant): their constraints still apply
    degenerate: dict[str, Any] = field(default_factory=dict)
    pathway_layers: list[str] = field(default_factory=list)  # the user's pathway areas read
    costs: CostsPlan = field(default_factory=lambda: CostsPlan(None))  # what costs: can price

    @property
    def weights(self) -> dict[str, float]:
        return {n: c.weight for n, c in self.criteria.items()}

    @property
    def weight_kept(self) -> float:
        total = sum(self.shares.values())
        return sum(self.shares.get(n, 0.0) for n in self.criteria) / total if total > 0 else 1.0

    def leave_out(self, name: str, reason: str) -> None:
        """Drop a criterion from the weighting (the rest renormalised), saying why."""
        crit = self.criteria.pop(name)
        self.left_out.append(LeftOut(name, crit.label or name, reason, self.shares.get(name, 0.0)))


@dataclass
class _Candidates:
    cells: gpd.GeoDataFrame
    excluded_land: gpd.GeoDataFrame | None = None
    eligible: Any = None
    excluded_acres: dict[str, float] = field(default_factory=dict)
    pathways: dict[str, Any] = field(default_factory=dict)  # the manifest's land_pathways


@contextmanager
def _located_errors(cfg: Config) -> Iterator[None]:
    """A key found late (while reading or computing) still gets its file and YAML line."""
    try:
        yield
    except SitescoreError as exc:
        located = cfg.locate(exc)
        if located is exc:
            raise
        raise located from None


def score(cfg: Config, *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
          engine: Engine | None = None, allow_partial: bool = False) -> StudyResult:
    """Compute one study in memory and write nothing: no lock, no folder, no file (a notebook can
    look at the sites before deciding to write them). Layers prepared in the cache folder
    (`sitescore data prepare`) are read from there. Candidates, metrics and Monte Carlo draws
    run on `engine`, else on the one `cfg.engine` names (a cluster started here is closed).
    Criteria left out or degenerate taking the weight scored below `cfg.min_weight_kept` stop
    the study with a ConfigError naming them, unless `allow_partial`."""
    with _located_errors(cfg), open_engine(cfg.engine, engine) as eng:
        return _compute(cfg, data_dir=data_dir, cache_dir=cache_dir, engine=eng,
                        allow_partial=allow_partial)


def run(cfg: Config, *, data_dir: str | Path | None = None, maps_dir: str | Path | None = None,
        runs_dir: str | Path | None = None, write_map: bool = True,
        cache_dir: str | Path | None = None, offline: bool = False,
        engine: Engine | None = None, write_report: bool = True,
        allow_partial: bool = False) -> RunResult:
    """Run one study end to end: `score` it, then write its outputs atomically. Two runs of one
    study never overlap: each output folder (runs, maps) has its own lock, and a second run
    sharing either folder is refused while the first holds it. A Dask cluster is reached, or
    started, before anything is written. Without `write_map` only the tables are written and
    the maps folder (map and report) is left as it was; without `write_report` the maps folder
    gets the map but no report. Below `cfg.min_weight_kept` nothing is written unless
    `allow_partial` (see `score`)."""
    run_dir = Path(runs_dir or cfg.outputs.runs_dir) / cfg.study
    map_dir = Path(maps_dir or cfg.outputs.maps_dir) / cfg.study if write_map else None
    with _located_errors(cfg), open_engine(cfg.engine, engine) as eng, study_lock(run_dir, map_dir):
        result = _compute(cfg, data_dir=data_dir, cache_dir=cache_dir, engine=eng,
                          allow_partial=allow_partial)
        return _write(result, run_dir, map_dir, report=write_report, offline=offline)


def _write(result: StudyResult, run_dir: Path, map_dir: Path | None, *, report: bool,
           offline: bool) -> RunResult:
    """A computed study's files, swapped in together (the maps folder only when a map is
    written), then its PostGIS tables once the files are in place (all tables or none)."""
    cfg = result.cfg
    with result.timer.stage("outputs"), atomic_dirs(run_dir, *([map_dir] if map_dir else [])) as temps:
        manifest = write_result(result, temps[0], temps[1] if map_dir else None, report=report,
                                offline=offline, final_dirs=(run_dir, map_dir))
    if cfg.outputs.postgis is not None:
        from .postgis import write_results
        with result.timer.stage("postgis outputs"):
            write_results(cfg.outputs.postgis, result.cells, result.sites, result.excluded)
    return RunResult(result.cells, result.sites, run_dir, map_dir / "index.html" if map_dir else None,
                     manifest, result.notes, map_dir / "report.html" if map_dir and report else None,
                     left_out=result.left_out, weight_kept=result.weight_kept,
                     partial=result.partial, n_configured=result.n_configured)


def run_many(cfgs: Sequence[Config], *, engine: Engine | None = None, keep_cells: bool = True,
             data_dir: str | Path | None = None, maps_dir: str | Path | None = None,
             runs_dir: str | Path | None = None, write_map: bool = True,
             cache_dir: str | Path | None = None, offline: bool = False,
             write_report: bool = True, allow_partial: bool = False) -> list[RunResult | SitescoreError]:
    """Several studies at once (one study under several presets): each whole run is one task on
    `engine`, else on the first config's engine. Paths are made absolute here, so workers find
    the same data and output folders. Each run writes its own outputs under its own lock, as
    `run` does, and a failed one stops no other: the list holds, in order, each run's result or
    the error that stopped it. Without `keep_cells` results come back without their cells."""
    studies = [c.study for c in cfgs]
    twice = next((s for s in studies if studies.count(s) > 1), None)
    if twice is not None:
        raise ConfigError(f"study '{twice}' is asked for twice; each preset once", key="preset")
    items = []
    for cfg in cfgs:
        items.append((cfg, {
            "data_dir": cfg.data_root(data_dir).absolute(),
            "maps_dir": Path(maps_dir or cfg.outputs.maps_dir).absolute(),
            "runs_dir": Path(runs_dir or cfg.outputs.runs_dir).absolute(),
            "cache_dir": Path(cache_dir).absolute() if cache_dir else default_cache_dir().absolute(),
            "write_map": write_map, "write_report": write_report, "offline": offline,
            "allow_partial": allow_partial}))
    if not items:
        return []
    with _located_errors(cfgs[0]), open_engine(cfgs[0].engine, engine) as eng:  # could not be opened
        within = eng.describe() if eng.kind != "local" else None
        return eng.map(_scenario, items, shared={"keep_cells": keep_cells, "within": within},
                       return_errors=True)


def _scenario(item: tuple[Config, dict[str, Any]], *, keep_cells: bool,
              within: dict[str, Any] | None) -> RunResult:
    """One study's whole run, as a task: its candidates and metrics run where the task runs."""
    cfg, options = item
    result = run(cfg, engine=LocalEngine(within), **options)
    if not keep_cells:
        result.cells = result.cells.iloc[:0]
    return result


def _compute(cfg: Config, *, data_dir: str | Path | None, cache_dir: str | Path | None,
             engine: Engine, allow_partial: bool = False) -> StudyResult:
    """Every stage, in order, timed; the study's tables and record in memory."""
    engine.new_run()
    timer = StageTimer()
    sources = layer_sources(cfg, data_dir)
    plan = _plan(cfg, sources)
    _check_kept(cfg, plan, allow_partial)  # before any layer is read: missing layers alone
    layers: dict[str, Any] = {}
    with timer.stage("study area"):
        area = _study_area(cfg, sources, layers)
    with timer.stage("read layers"):
        _read_layers(cfg, plan, sources, area, layers, Path(cache_dir) if cache_dir else default_cache_dir())
    with timer.stage("candidates"):
        cand = _candidates(cfg, plan, area, layers, engine)
    with timer.stage("costs"):  # the routing grid and one least-cost run per connection
        costs = study_costs(plan.costs, cfg, layers, cand.cells, cand.excluded_land)
        plan.notes.extend(costs.notes if costs else [])
    with timer.stage("metrics"):
        raw = _metrics(cfg, plan, cand.cells, layers, timer, engine, costs)
    _check_kept(cfg, plan, allow_partial)
    partial = plan.weight_kept < cfg.min_weight_kept
    if partial:
        plan.notes.append(f"partial run (--allow-partial): {fmt_pct(plan.weight_kept)} of the "
                          f"configured weight scored, below min_weight_kept "
                          f"{fmt_pct(cfg.min_weight_kept)}")
    with timer.stage("scoring"):
        cells = _score_cells(plan, cand.cells, raw, cfg.aggregation,
                             veto_all_is_error=not _is_shortlist(cfg))
    with timer.stage("locate sites"):
        cells, sites = _locate(cfg, plan, cells, cand.eligible)
    sites, routes = with_site_costs(costs, sites)  # each site's routes and cost columns
    stability = None
    if cfg.sensitivity is not None and len(sites) > 1:
        with timer.stage("sensitivity"):
            stability = _sensitivity(cfg, cfg.sensitivity, plan, cells, sites, engine)
            sites = sites.merge(stability.site_figures(), on="site_id", how="left")
    if cfg.synthetic:  # every table says so, not only the map
        sites["data"] = "synthetic demo data - not real places"
        cells["data"] = "synthetic demo data - not real places"
    total = sum(plan.weights.values())
    weights = {n: round(w / total, 6) for n, w in plan.weights.items()}
    manifest = _record(cfg, area, plan, [_input_record(sources[n], layers.get(n))
                                         for n in sources if n in layers],
                       cells, sites, cand, weights, engine, stability)
    manifest |= {"timings_s": timer.seconds, "peak_memory_mb": timer.peak_mb}
    manifest |= {"costs": costs.record()} if costs else {}
    if partial:
        manifest["partial"] = True
    return StudyResult(cfg=cfg, cells=cells, sites=sites, excluded=cand.excluded_land,
                       criteria=dict(plan.criteria), weights=weights, area=area, layers=layers,
                       notes=plan.notes, manifest=manifest, timer=timer, stability=stability,
                       left_out=list(plan.left_out), weight_kept=plan.weight_kept,
                       partial=partial, n_configured=len(plan.shares), routes=routes)


def _record(cfg: Config, area: StudyArea, plan: _Plan, inputs: list[dict[str, Any]],
            cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, cand: _Candidates,
            weights: dict[str, float], engine: Engine, stability: Stability | None) -> dict[str, Any]:
    """What the manifest says of a run before its outputs: what ran, on which inputs, with what."""
    manifest = {
        "sitescore": __version__,
        "study": cfg.study,
        "title": cfg.title,
        "synthetic": cfg.synthetic,
        "config_file": str(cfg.source_path) if cfg.source_path else None,
        "config": cfg.model_dump(mode="json", exclude={"source_path"}),
        "study_area": area.label,
        "notes": plan.notes,  # the same list: notes added later (the map's) are recorded too
        "inputs": inputs,
        "counts": {"cells": len(cells), "cells_excluded": int(cells["excluded"].sum()),
                   "sites": len(sites)},
        "excluded_acres_by_rule": cand.excluded_acres,
        "land_pathways": cand.pathways,
        "criteria_configured": len(plan.shares),
        "weight_kept": round(plan.weight_kept, 6),
        "left_out": [x.record() for x in plan.left_out],
        "weights": {"method": cfg.weights.method, "normalised": weights,
                    **({"ahp": cfg.ahp} if cfg.ahp else {})},
        "versions": package_versions(),
        "engine": engine.describe(),
    }
    if stability is not None and cfg.sensitivity is not None:
        manifest["sensitivity"] = cfg.sensitivity.model_dump() | {"method": cfg.aggregation}
    return manifest


def _sensitivity(cfg: Config, sc: SensitivityConfig, plan: _Plan, cells: gpd.GeoDataFrame,
                 sites: gpd.GeoDataFrame, engine: Engine | None = None) -> Stability:
    from .sensitivity import monte_carlo, site_matrix, weight_sweeps, weight_to_flip

    sm = site_matrix(sites, cells, plan.criteria)
    per_site = monte_carlo(sm, sc, cfg.aggregation, engine=engine)
    per_site = per_site.rename(columns={"p_top_k": f"p_top_{sc.top_k}"}) \
        if "p_top_k" in per_site.columns else per_site
    sweeps = weight_sweeps(sm, cfg.aggregation, sweep_max=sc.sweep_max, top_n=min(sc.top_k, len(sites)))
    flips = weight_to_flip(sm, cfg.aggregation, sc.top_k)
    labels = {n: c.label or n for n, c in plan.criteria.items()}
    return Stability(per_site, sweeps, flips, labels)


def _plan(cfg: Config, sources: dict[str, LayerSource]) -> _Plan:
    """Leave out criteria, constraints and exclusion layers whose optional file is missing; the
    criteria its preset left out at loading (no such layer in the study) are named with them."""
    notes: list[str] = list(cfg.notes)
    missing = {n for n, s in sources.items()
               if cfg.layers[n].optional and s.postgis is None and not s.path.exists()}
    dropped = preset_dropped(cfg)
    shares = configured_shares(cfg, dropped)
    left_out = [LeftOut(name, str(crit.get("label") or name), "layer missing", shares[name])
                for name, crit in dropped.items()]
    criteria = {}
    for name, crit in cfg.criteria.items():
        if crit.layer in missing:
            notes.append(f"criterion '{name}' left out: layer '{crit.layer}' not found at "
                         f"{sources[crit.layer].path} (marked optional)")
            left_out.append(LeftOut(name, crit.label or name, "layer missing", shares[name]))
        else:
            criteria[name] = crit
    costs = plan_costs(cfg.costs, missing, criteria)  # a cost layer missing: readiness left out
    for name, reason in costs.criteria_left_out.items():
        left_out.append(LeftOut(name, criteria.pop(name).label or name, "layer missing", shares[name]))
        notes.append(f"criterion '{name}' left out: {reason}")
    notes.extend(costs.notes)
    if not criteria:
        raise ConfigError("every criterion was left out because its layer is missing", key="criteria")
    if sum(c.weight or 0.0 for c in criteria.values()) <= 0:
        raise ConfigError("the criteria left all have weight 0", key="criteria")
    exclusion_layers, pathway_layers = [], []
    for n in cfg.candidates.exclude.layers:
        if n in missing:
            notes.append(f"exclusion layer '{n}' left out: file not found (marked optional)")
        else:
            exclusion_layers.append(n)
    for n in cfg.candidates.pathways.layers:
        if n in missing:
            notes.append(f"land-pathway layer '{n}' left out: file not found (marked optional); "
                         "its land keeps the table's pathways")
        else:
            pathway_layers.append(n)
    constraints = []
    for c in cfg.constraints:
        if c.criterion in criteria:
            constraints.append(c)
        else:
            notes.append(f"constraint on '{c.criterion}' left out with its criterion")
    if (limited := cost_constraint_criterion(costs.config, criteria)) and costs.config:  # max_cost_musd
        constraints.append(ConstraintConfig(criterion=limited, max=costs.config.max_cost_musd))
    for note in notes:
        log.info(note)
    return _Plan(criteria, constraints, exclusion_layers, notes, shares, left_out,
                 pathway_layers=pathway_layers, costs=costs)


def _check_kept(cfg: Config, plan: _Plan, allow_partial: bool) -> None:
    """Stop a run whose scored criteria carry less than `min_weight_kept` of the configured
    weight, naming what is missing (unless `allow_partial`: the run goes on and says so)."""
    kept = plan.weight_kept
    if allow_partial or kept >= cfg.min_weight_kept - 1e-9:
        return
    missing = "; ".join(f"{x.name} ({x.reason}, {fmt_pct(x.weight_share)})" for x in plan.left_out)
    raise ConfigError(f"the criteria scored carry {fmt_pct(kept)} of the configured weight, "
                      f"below {fmt_pct(cfg.min_weight_kept)}; missing: {missing}. Add their "
                      "data, lower min_weight_kept, or run with --allow-partial",
                      key="min_weight_kept")


def _read_layers(cfg: Config, plan: _Plan, sources: dict[str, LayerSource], area: StudyArea,
                 layers: dict[str, Any], cache_dir: Path) -> None:
    """Candidate and exclusion layers are read over the study area; metric layers with a margin,
    so a cell near the edge still finds the line or plant just across it."""
    margin_m = _margin_km(cfg) * M_PER_KM
    read_area = StudyArea(area.label, shapely.buffer(area.geometry, margin_m, quad_segs=4)) \
        if area.geometry is not None else area
    land = [n for n in (cfg.candidates.pathways.land,) if n and _is_shortlist(cfg)]
    exact = {cfg.candidates.source, *plan.exclusion_layers, *plan.pathway_layers, *land, "states"}
    needed = [cfg.candidates.source, *plan.exclusion_layers, *plan.pathway_layers, *land,
              *(c.layer for c in plan.criteria.values()), *plan.costs.layer_names()]
    if "states" in sources and not _is_shortlist(cfg):  # names the state of every cell
        needed.append("states")
    for name in tqdm(list(dict.fromkeys(needed)), desc="reading layers", unit="layer",
                     disable=not sys.stderr.isatty(), leave=False):
        if name not in layers:
            where = area if name in exact else read_area
            cached = read_cached(sources[name], where, cache_dir) if sources[name].path.exists() else None
            layers[name] = cached if cached is not None else read_layer(sources[name], where)
            _check_kind(layers[name], sources[name])


def _candidates(cfg: Config, plan: _Plan, area: StudyArea, layers: dict[str, Any],
                engine: Engine | None = None) -> _Candidates:
    pathways = LandPathways(load_pathway_table(pathway_table_path(cfg)), cfg.candidates.pathways,
                            {n: layers[n] for n in plan.pathway_layers})
    if _is_shortlist(cfg):
        plan.notes.extend(layers[cfg.candidates.source].attrs.get("notes", []))  # stated acres
        sites, unknown = shortlist_cells(layers[cfg.candidates.source]), None
        if cfg.candidates.pathways.land:
            sites, unknown = pathways_at_sites(sites, layers[cfg.candidates.pathways.land], pathways)
            plan.notes.extend(unknown.notes(cfg.candidates.pathways.land))
        elif any(c.metric == "land_pathway" for c in plan.criteria.values()):
            plan.notes.append("the shortlist's sites carry no land pathway: name a federal-land "
                              "layer in candidates.pathways.land to score it")
        return _Candidates(sites, pathways=pathway_record(sites, unknown, {}, pathways))
    try:
        land = eligible_land(layers[cfg.candidates.source], cfg.candidates, area,
                             {n: layers[n] for n in plan.exclusion_layers}, pathways)
        plan.notes.extend(land.notes)  # a GAP-status rule that could not apply
        if land.pathway_unknown is not None:
            plan.notes.extend(land.pathway_unknown.notes(cfg.candidates.source))
    except SitescoreError as exc:
        if cfg.preset and exc.key and exc.key.startswith("candidates"):
            raise SitescoreError(f"{str(exc).split(': ', 1)[-1]} (the agencies come from preset "
                                 f"{Path(cfg.preset).stem})", key=exc.key) from None
        raise
    cells = (engine or LocalEngine()).make_cells(land, cfg.candidates)
    if "states" in layers and cells["state"].isna().any():
        cells = fill_states(cells, layers["states"])
    if len(cells) == 0:
        raise SitescoreError("no candidate cells: no eligible land is large enough for a cell "
                             "in the study area", key="candidates")
    return _Candidates(cells, land.excluded, land.geometry,
                       {k: round(v, 1) for k, v in land.summary.items()},
                       pathway_record(cells, land.pathway_unknown, land.pathway_area_acres, pathways))


def _metrics(cfg: Config, plan: _Plan, cells: gpd.GeoDataFrame, layers: dict[str, Any],
             timer: StageTimer, engine: Engine | None = None, costs: Any = None) -> dict[str, np.ndarray]:
    """Each criterion's raw values per cell; a criterion whose field has no value in its layer,
    or whose values come out all missing or constant over the cells, is left out (it would
    score every cell alike)."""
    jobs = []
    for name, crit in list(plan.criteria.items()):
        layer = layers[crit.layer]
        field_name = crit.params.get("field")
        if isinstance(layer, gpd.GeoDataFrame) and isinstance(field_name, str) and len(layer) \
                and field_name in layer.columns and layer[field_name].isna().all():
            plan.notes.append(f"criterion '{name}' left out: field '{field_name}' of layer "
                              f"'{crit.layer}' has no value in the study area")
            plan.leave_out(name, f"field missing: {field_name}")
            if any(c.criterion == name for c in plan.constraints):
                plan.constraints = [c for c in plan.constraints if c.criterion != name]
                plan.notes.append(f"constraint on '{name}' left out with its criterion")
            continue
        if crit.where:
            try:
                layer = layer[parse_where(crit.where)(layer)]
            except KeyError as exc:
                raise ConfigError(str(exc.args[0]), file=cfg.source_path,
                                  key=f"criteria.{name}.where") from None
            if len(layer) == 0:
                plan.notes.append(f"criterion '{name}': no feature of '{crit.layer}' matches "
                                  f"\"{crit.where}\" in the study area")
        layer = costs if crit.metric == "readiness_cost" and costs is not None else layer  # cost model
        jobs.append(MetricJob(name, crit.metric, layer, crit.params))
    raw: dict[str, np.ndarray] = {}
    done = (engine or LocalEngine()).metrics(cells, jobs, cells_may_overlap=_is_shortlist(cfg))
    for name, (values, seconds) in done.items():
        raw[name] = values
        timer.seconds[f"metric {name}"] = round(seconds, 3)  # summed over partitions on Dask
    for name in list(plan.criteria):
        reason = degenerate(raw[name], plan.criteria[name])
        if reason is not None:
            plan.notes.append(f"criterion '{name}' left out: {reason} over the "
                              f"{len(cells):,} candidate cells (it would score every cell alike)")
            plan.degenerate[name] = plan.criteria[name]
            plan.leave_out(name, reason)
    if not plan.criteria:
        said = "; ".join(f"{x.name} ({x.reason})" for x in plan.left_out)
        raise ConfigError(f"no criterion tells the candidate cells apart: {said}", key="criteria")
    return raw


def _score_cells(plan: _Plan, cells: gpd.GeoDataFrame, raw: dict[str, np.ndarray],
           method: str, veto_all_is_error: bool = True) -> gpd.GeoDataFrame:
    table = score_table(raw, plan.criteria, plan.weights, method)
    cons = apply_constraints(raw, plan.constraints, {**plan.criteria, **plan.degenerate}, len(cells))
    if veto_all_is_error:  # a shortlist keeps its vetoed sites, ranked last with the reason
        cons.require_some_left()
    cells = gpd.GeoDataFrame(pd.concat([cells.reset_index(drop=True), table], axis=1),
                             geometry="geometry", crs=CRS)
    cells["excluded"] = cons.excluded
    cells["exclusion_reason"] = cons.reasons
    return cells


def _locate(cfg: Config, plan: _Plan, cells: gpd.GeoDataFrame,
            eligible: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    names = list(plan.criteria)
    if _is_shortlist(cfg):
        sites, site_of = shortlist_sites(cells, names, cfg.aggregation)
    else:
        site_of = grow_sites(cells, cell_adjacency(cells), cfg.sites)
        sites = site_table(cells, site_of, names, eligible=eligible, method=cfg.aggregation)
    # site ids follow rank order, so "site 1" is the best one everywhere
    renumber = dict(zip(sites["site_id"], sites["rank"], strict=True))
    sites["site_id"] = sites["rank"]
    cells["site_id"] = pd.array([renumber.get(int(s)) if s else None for s in site_of], dtype="Int64")
    return cells, sites


def criterion_infos(criteria: dict, weights: dict) -> list[CriterionInfo]:
    total = sum(weights.values())
    out = []
    for name, c in criteria.items():
        unit = c.unit or METRICS[c.metric].unit
        out.append(CriterionInfo(name=name, label=c.label or name, unit=unit, metric=c.metric,
                                 layer=c.layer, weight=weights[name] / total,
                                 value_description=describe_value_function(c.value, unit)))
    return out


def _study_area(cfg: Config, sources: dict[str, LayerSource], layers: dict[str, Any]) -> StudyArea:
    """States, a bbox, or (for a shortlist with neither) the land around the candidates."""
    if cfg.area.states:
        states = read_layer(sources["states"], None)
        layers["states"] = states
        abbrev = states["abbrev"].fillna("").str.upper()
        absent = sorted(set(cfg.area.states) - set(abbrev))
        if absent:
            raise DataError(f"state(s) {', '.join(absent)} not found in the states layer",
                            file=sources["states"].path, field="abbrev")
        geom = shapely.union_all(shapely.make_valid(states[abbrev.isin(cfg.area.states)].geometry.values))
        area = StudyArea(", ".join(cfg.area.states), geom)
        if cfg.area.bbox:
            box = bbox_area(cfg.area.bbox)
            area = StudyArea(f"{area.label} within {box.label}", shapely.intersection(geom, box.geometry))
    elif cfg.area.bbox:
        area = bbox_area(cfg.area.bbox)
    else:
        area = StudyArea("everywhere the data reach", None)
    if _is_shortlist(cfg):
        # a shortlist may lie anywhere: it is read whole, never clipped to the area
        shortlist = read_layer(sources[cfg.candidates.source], None)
        layers[cfg.candidates.source] = shortlist
        if area.geometry is None:
            around = shapely.buffer(shapely.union_all(shortlist.geometry.values),
                                    SHORTLIST_SURROUNDINGS_KM * M_PER_KM, quad_segs=4)
            area = StudyArea(f"{len(shortlist)} shortlisted sites and {SHORTLIST_SURROUNDINGS_KM:g} km "
                             "around them", around)
    return area


def _check_kind(layer: Any, source: LayerSource) -> None:
    kind = READERS[source.reader].layer
    if LAYERS[kind].geometry != "raster" and not isinstance(layer, gpd.GeoDataFrame):
        raise DataError(f"reader '{source.reader}' did not return a vector layer", file=source.path)


def _input_record(source: LayerSource, layer: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"layer": source.name, "reader": source.reader, "path": str(source.path)}
    if source.postgis is not None:  # a database: no file to hash; never the password
        rec["postgis"] = source.postgis.record()
    elif source.path.exists():
        rec.update(file_digest(source.path))
    if isinstance(layer, gpd.GeoDataFrame):
        rec.update({k: v for k, v in layer.attrs.items() if k != "path"})
    extra = [str(p) for p in _option_paths(source)]
    if extra:
        rec["joined_files"] = [{"path": p, **file_digest(Path(p))} for p in extra if Path(p).exists()]
    return rec


def _option_paths(source: LayerSource) -> list[Path]:
    paths = []
    for table in source.options.get("tables", []) or []:
        if isinstance(table, dict) and "path" in table:
            paths.extend(source.resolve_all(table["path"]))
    if source.options.get("capacity_table"):
        paths.append(source.resolve(source.options["capacity_table"]))
    return paths


def _map_layers(cfg: Config, layers: dict[str, Any], area: StudyArea, sites: gpd.GeoDataFrame,
                notes: list[str]) -> dict[str, gpd.GeoDataFrame]:
    """Input layers for the map, cut to the study area so the page stays light. A shortlist is
    drawn as the sites themselves, and state outlines only served to define the area. A layer
    with more features than a page can carry (a national run) keeps those around the sites,
    which is what a planner looks at them for; the map's notes say so."""
    skip = {"states"} | ({cfg.candidates.source} if _is_shortlist(cfg) else set())
    out = {}
    for name, layer in layers.items():
        if not isinstance(layer, gpd.GeoDataFrame) or name in skip:
            continue
        out[name] = _around_sites(area.clip_mask(layer), sites, f"map layer '{name}'", notes)
    return out


#: A map layer with more features than this in the study area shows those near the sites only.
MAP_LAYER_MAX_FEATURES = 5_000
MAP_SITE_SURROUNDINGS_KM = 50.0


def _around_sites(layer: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, what: str,
                  notes: list[str]) -> gpd.GeoDataFrame:
    if len(layer) <= MAP_LAYER_MAX_FEATURES or len(sites) == 0:
        return layer
    around = shapely.buffer(shapely.union_all(sites.geometry.values),
                            MAP_SITE_SURROUNDINGS_KM * M_PER_KM, quad_segs=4)
    shapely.prepare(around)
    near = layer[shapely.intersects(around, layer.geometry.values)]
    notes.append(f"{what}: {len(layer):,} features in the study area; the map shows the "
                 f"{len(near):,} within {MAP_SITE_SURROUNDINGS_KM:g} km of the sites")
    return near
