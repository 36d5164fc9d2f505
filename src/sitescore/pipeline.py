"""The run: config -> study area -> layers -> candidates -> metrics -> scores -> sites -> outputs.

Each arrow is one module; this one only orders them, times them and records what happened.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
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
from .candidates import cell_adjacency, eligible_land, make_cells, shortlist_cells
from .config import Config
from .errors import ConfigError, DataError, SitescoreError
from .filters import parse_where
from .locate import grow_sites, shortlist_sites, site_table
from .metrics import METRICS, compute_metric
from .outputs import atomic_dirs, file_digest, package_versions, write_manifest, write_tables
from .readers import READERS, LayerSource, read_layer
from .schema import CRS, LAYERS, M_PER_KM
from .scoring import CriterionInfo, apply_constraints, describe_value_function, score_table
from .study_area import StudyArea, bbox_area

log = logging.getLogger(__name__)

#: Layers for metrics are read this far beyond the study area, so a cell near the edge still
#: finds the line or plant just across it. Raised to cover any radius or cut-off in the config.
DEFAULT_MARGIN_KM = 100.0


@dataclass
class RunResult:
    cells: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    run_dir: Path
    map_path: Path | None
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        log.info("%s ...", name)
        t0 = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - t0, 3)
        log.info("%s done in %.2f s", name, self.seconds[name])


def layer_sources(cfg: Config, data_dir: str | Path | None = None) -> dict[str, LayerSource]:
    root = cfg.data_root(data_dir)
    out = {}
    config_dir = cfg.source_path.parent if cfg.source_path else Path.cwd()
    for name, lc in cfg.layers.items():
        p = Path(lc.path).expanduser()
        base = config_dir if lc.relative_to == "config" else root
        out[name] = LayerSource(name=name, reader=lc.reader, path=p if p.is_absolute() else base / p,
                                data_dir=root, layer=lc.layer, options=dict(lc.options))
        if lc.reader not in READERS:
            raise ConfigError(f"unknown reader '{lc.reader}'; known: {', '.join(sorted(READERS))}",
                              file=cfg.source_path, key=f"layers.{name}.reader")
    return out


def _margin_km(cfg: Config) -> float:
    margin = DEFAULT_MARGIN_KM
    for c in cfg.criteria.values():
        for key in ("radius_km", "cutoff_km"):
            if c.params.get(key):
                margin = max(margin, float(c.params[key]) * 1.05)
    return margin


def _is_shortlist(cfg: Config) -> bool:
    return READERS[cfg.layers[cfg.candidates.source].reader].layer == "candidates"


def run(cfg: Config, *, data_dir: str | Path | None = None, maps_dir: str | Path | None = None,
        runs_dir: str | Path | None = None, write_map: bool = True) -> RunResult:
    """Run one study end to end and write its outputs atomically."""
    timer = _Timer()
    t_start = time.perf_counter()
    notes: list[str] = []
    sources = layer_sources(cfg, data_dir)
    shortlist_mode = _is_shortlist(cfg)

    # which layers are needed, and which optional ones are missing
    criteria = dict(cfg.criteria)
    missing_optional = {n for n, s in sources.items()
                        if cfg.layers[n].optional and not s.path.exists()}
    for name, crit in list(criteria.items()):
        if crit.layer in missing_optional:
            notes.append(f"criterion '{name}' left out: layer '{crit.layer}' not found at "
                         f"{sources[crit.layer].path} (marked optional)")
            del criteria[name]
    if not criteria:
        raise ConfigError("every criterion was left out because its layer is missing", key="criteria")
    exclusion_layers = [n for n in cfg.candidates.exclude.layers if n not in missing_optional]
    for n in cfg.candidates.exclude.layers:
        if n in missing_optional:
            notes.append(f"exclusion layer '{n}' left out: file not found (marked optional)")
    constraints = [c for c in cfg.constraints if c.criterion in criteria]
    for c in cfg.constraints:
        if c.criterion not in criteria:
            notes.append(f"constraint on '{c.criterion}' left out with its criterion")
    for note in notes:
        log.info(note)
    weights = {n: c.weight for n, c in criteria.items()}
    if sum(weights.values()) <= 0:
        raise ConfigError("the criteria left all have weight 0", key="criteria")

    layers: dict[str, Any] = {}
    with timer.stage("study area"):
        area, candidate_layer = _study_area(cfg, sources, layers)
    margin = _margin_km(cfg)
    read_area = StudyArea(area.label, shapely.buffer(area.geometry, margin * M_PER_KM, quad_segs=4)) \
        if area.geometry is not None else area

    with timer.stage("read layers"):
        needed = [cfg.candidates.source, *exclusion_layers, *(c.layer for c in criteria.values())]
        for name in tqdm(list(dict.fromkeys(needed)), desc="reading layers", unit="layer",
                         disable=not sys.stderr.isatty(), leave=False):
            if name in layers:
                continue
            layers[name] = read_layer(sources[name], area if name in (cfg.candidates.source, *exclusion_layers)
                                      else read_area)
            _check_kind(name, layers[name], sources[name])
        if candidate_layer is not None:
            layers[cfg.candidates.source] = candidate_layer

    with timer.stage("candidates"):
        excluded_land = None
        exclusion_acres: dict[str, float] = {}
        if shortlist_mode:
            cells = shortlist_cells(layers[cfg.candidates.source])
        else:
            land = eligible_land(layers[cfg.candidates.source], cfg.candidates, area,
                                 {n: layers[n] for n in exclusion_layers})
            excluded_land = land.excluded
            eligible_geometry = land.geometry
            exclusion_acres = {k: round(v, 1) for k, v in land.summary.items()}
            cells = make_cells(land, cfg.candidates)
        if len(cells) == 0:
            raise SitescoreError("no candidate cells: no eligible land is large enough for a cell "
                                 "in the study area", key="candidates")

    raw: dict[str, np.ndarray] = {}
    with timer.stage("metrics"):
        for name, crit in tqdm(criteria.items(), desc="metrics", unit="criterion",
                               disable=not sys.stderr.isatty(), leave=False):
            layer = layers[crit.layer]
            if crit.where:
                try:
                    layer = layer[parse_where(crit.where)(layer)]
                except KeyError as exc:
                    raise ConfigError(str(exc.args[0]), file=cfg.source_path,
                                      key=f"criteria.{name}.where") from None
                if len(layer) == 0:
                    notes.append(f"criterion '{name}': no feature of '{crit.layer}' matches "
                                 f"\"{crit.where}\" in the study area")
            t0 = time.perf_counter()
            raw[name] = compute_metric(crit.metric, cells, layer, crit.params)
            timer.seconds[f"metric {name}"] = round(time.perf_counter() - t0, 3)

    with timer.stage("scoring"):
        table = score_table(raw, criteria, weights)
        cons = apply_constraints(raw, constraints, criteria, len(cells))
        cells = gpd.GeoDataFrame(pd.concat([cells.reset_index(drop=True), table], axis=1),
                                 geometry="geometry", crs=CRS)
        cells["excluded"] = cons.excluded
        cells["exclusion_reason"] = cons.reasons

    with timer.stage("locate sites"):
        names = list(criteria)
        if shortlist_mode:
            sites, site_of = shortlist_sites(cells, names)
        else:
            site_of = grow_sites(cells, cell_adjacency(cells), cfg.sites)
            sites = site_table(cells, site_of, names, eligible=eligible_geometry)
        # site ids follow rank order, so "site 1" is the best one everywhere
        renumber = dict(zip(sites["site_id"], sites["rank"]))
        sites["site_id"] = sites["rank"]
        cells["site_id"] = pd.array([renumber.get(int(s)) if s else None for s in site_of], dtype="Int64")

    if cfg.synthetic:  # every table says so, not only the map
        sites["data"] = "synthetic demo data - not real places"
        cells["data"] = "synthetic demo data - not real places"

    maps_root = Path(maps_dir or cfg.outputs.maps_dir)
    runs_root = Path(runs_dir or cfg.outputs.runs_dir)
    run_dir, map_dir = runs_root / cfg.study, maps_root / cfg.study
    infos = criterion_infos(cfg, criteria, weights)
    manifest = {
        "sitescore": __version__,
        "study": cfg.study,
        "title": cfg.title,
        "synthetic": cfg.synthetic,
        "config_file": str(cfg.source_path) if cfg.source_path else None,
        "config": cfg.model_dump(mode="json", exclude={"source_path"}),
        "study_area": area.label,
        "notes": notes,
        "inputs": [_input_record(sources[n], layers.get(n)) for n in sources if n in layers],
        "counts": {"cells": int(len(cells)), "cells_excluded": int(cells["excluded"].sum()),
                   "sites": int(len(sites))},
        "excluded_acres_by_rule": exclusion_acres,
        "versions": package_versions(),
    }
    with timer.stage("outputs"):
        with atomic_dirs(run_dir, map_dir) as (run_tmp, map_tmp):
            written = write_tables(run_tmp, cells, sites, excluded_land, cfg.outputs.formats)
            map_path = None
            if write_map:
                from .webmap import write_map as _write_map
                map_layers = _map_layers(cfg, layers, area) if cfg.outputs.map_layers else {}
                _write_map(map_tmp / "index.html", title=cfg.title or cfg.study, cells=cells,
                           sites=sites, criteria=infos, layers=map_layers, excluded=excluded_land,
                           synthetic=cfg.synthetic, notes=notes)
                map_path = map_dir / "index.html"
            manifest["outputs"] = [str(run_dir / p.name) for p in written] + \
                ([str(map_path)] if map_path else [])
            timer.seconds["total"] = round(time.perf_counter() - t_start, 3)
            manifest["timings_s"] = timer.seconds
            write_manifest(run_tmp / "manifest.json", manifest)
    return RunResult(cells, sites, run_dir, map_path, manifest, notes)


def criterion_infos(cfg: Config, criteria: dict, weights: dict) -> list[CriterionInfo]:
    total = sum(weights.values())
    out = []
    for name, c in criteria.items():
        unit = c.unit or METRICS[c.metric].unit
        out.append(CriterionInfo(name=name, label=c.label or name, unit=unit, metric=c.metric,
                                 layer=c.layer, weight=weights[name] / total,
                                 value_description=describe_value_function(c.value, unit)))
    return out


def _study_area(cfg: Config, sources: dict[str, LayerSource], layers: dict) -> tuple[StudyArea, Any]:
    """States, a bbox, or (for a shortlist) the candidates themselves."""
    candidate_layer = None
    if cfg.area.states:
        states = read_layer(sources["states"], None)
        layers["states"] = states
        abbrev = states["abbrev"].fillna("").str.upper()
        chosen = states[abbrev.isin(cfg.area.states)]
        absent = sorted(set(cfg.area.states) - set(abbrev))
        if absent:
            raise DataError(f"state(s) {', '.join(absent)} not found in the states layer",
                            file=sources["states"].path, field="abbrev")
        geom = shapely.union_all(shapely.make_valid(chosen.geometry.values))
        area = StudyArea(", ".join(cfg.area.states), geom)
        if cfg.area.bbox:
            box = bbox_area(cfg.area.bbox)
            area = StudyArea(f"{area.label} within {box.label}", shapely.intersection(geom, box.geometry))
    elif cfg.area.bbox:
        area = bbox_area(cfg.area.bbox)
    else:
        area = StudyArea("everywhere the data reach", None)
    if _is_shortlist(cfg):
        candidate_layer = read_layer(sources[cfg.candidates.source], None)
        if area.geometry is None:
            hull = shapely.union_all(candidate_layer.geometry.values)
            area = StudyArea(f"{len(candidate_layer)} shortlisted sites", shapely.buffer(hull, 1.0))
    return area, candidate_layer


def _check_kind(name: str, layer: Any, source: LayerSource) -> None:
    kind = READERS[source.reader].layer
    if LAYERS[kind].geometry != "raster" and not isinstance(layer, gpd.GeoDataFrame):
        raise DataError(f"reader '{source.reader}' did not return a vector layer", file=source.path)


def _input_record(source: LayerSource, layer: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"layer": source.name, "reader": source.reader, "path": str(source.path)}
    if source.path.exists():
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
            paths.append(source.resolve(table["path"]))
    if source.options.get("capacity_table"):
        paths.append(source.resolve(source.options["capacity_table"]))
    return paths


def _map_layers(cfg: Config, layers: dict[str, Any], area: StudyArea) -> dict[str, gpd.GeoDataFrame]:
    """Input layers for the map, cut to the study area so the page stays light."""
    out = {}
    for name, layer in layers.items():
        if not isinstance(layer, gpd.GeoDataFrame) or name == cfg.candidates.source and _is_shortlist(cfg):
            continue
        if name == "states":
            continue
        out[name] = area.clip_mask(layer)
    return out
