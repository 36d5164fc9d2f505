"""The network's files: network.csv (the parks), network_links.csv, network_candidates.csv,
network.gpkg (layers parks, links, candidates), the network map and report, and the manifest
last (model size, solver, status, gap, the greedy answer). Written into the temporary folders
of the run's atomic swap; `read_network` reads them back for `explain --network`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from .. import __version__
from ..errors import DataError
from ..outputs import GPKG_DATE, package_versions, write_manifest
from ..safe_text import write_csv
from ..schema import CRS

if TYPE_CHECKING:
    from .run import NetworkResult

PARKS_CSV = "network.csv"
LINKS_CSV = "network_links.csv"
CANDIDATES_CSV = "network_candidates.csv"
GPKG = "network.gpkg"


def write_network(result: NetworkResult, run_dir: Path, map_dir: Path | None, *,
                  report: bool = True, offline: bool = False,
                  final_dirs: tuple[Path, Path | None] | None = None) -> dict[str, Any]:
    """Write the network's tables into `run_dir` and, given `map_dir`, its map and report; the
    manifest last, naming the files where they end up (`final_dirs`). Returns the manifest."""
    run_dir.mkdir(parents=True, exist_ok=True)
    final_run, final_map = final_dirs or (run_dir, map_dir)
    written = _tables(result, run_dir)
    outputs = [str(final_run / p.name) for p in written]
    manifest = _manifest(result)
    if map_dir is not None:
        map_dir.mkdir(parents=True, exist_ok=True)
        pages = [_map(result, map_dir / "index.html", offline)]
        if report:
            result.timer.stamp_total()
            pages.append(_report(result, map_dir / "report.html",
                                 {**manifest, "timings_s": dict(result.timer.seconds)}))
        outputs += [str(Path(final_map or map_dir) / p.name) for p in pages]
    result.timer.stamp_total()
    manifest |= {"outputs": outputs, "timings_s": result.timer.seconds,
                 "peak_memory_mb": result.timer.peak_mb}
    write_manifest(run_dir / "manifest.json", manifest)
    return manifest


def _plain(df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Object columns as strings (None stays missing), so every format takes them."""
    out = df.copy()
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].astype("string")
    return out


def _tables(result: NetworkResult, run_dir: Path) -> list[Path]:
    import pyogrio

    out = []
    for frame, name in ((result.parks, PARKS_CSV), (result.links, LINKS_CSV),
                        (result.candidates, CANDIDATES_CSV)):
        write_csv(pd.DataFrame(frame.drop(columns=frame.geometry.name)), run_dir / name,
                  index=False, float_format="%.6g")
        out.append(run_dir / name)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})  # identical runs, same bytes
    path = run_dir / GPKG
    for frame, layer in ((result.parks, "parks"), (result.links, "links"),
                         (result.candidates, "candidates")):
        _plain(frame).to_file(path, layer=layer, driver="GPKG")
    out.append(path)
    return out


def _manifest(result: NetworkResult) -> dict[str, Any]:
    cfg, study = result.cfg, result.study
    return {
        "sitescore": __version__,
        "study": cfg.study,
        "title": cfg.title,
        "kind": "network",
        "synthetic": cfg.synthetic,
        "config_file": str(cfg.source_path) if cfg.source_path else None,
        "config": cfg.model_dump(mode="json", exclude={"source_path"}),
        "study_area": study.area.label,
        "notes": result.notes,
        "inputs": study.manifest.get("inputs", []),
        "counts": {"cells": len(study.cells), "cells_excluded": 0,
                   "candidates": result.problem.n_sites, "sites": len(result.parks)},
        "network": result.record,
        "versions": package_versions(),
    }


def _map(result: NetworkResult, path: Path, offline: bool) -> Path:
    from ..webmap import NetworkLayer, write_map
    from .run import with_sites

    cfg = result.cfg
    layers, excluded = with_sites(result.study, result.parks).map_layers()
    layers = dict(layers)
    if offline and isinstance(result.study.layers.get("states"), gpd.GeoDataFrame):
        layers["states"] = result.study.layers["states"]
    left_out = result.candidates[result.candidates["in_network"] == ""]
    empty = gpd.GeoDataFrame({"cell_id": [], "score": [], "excluded": []}, geometry=[], crs=CRS)
    layer = NetworkLayer(result.parks, result.links, left_out, result.problem.role_names,
                         summary=summary_lines(result.record))
    return write_map(path, title=cfg.title or cfg.study, cells=empty, sites=empty.iloc[:0],
                     criteria=[], layers=layers, excluded=excluded, synthetic=cfg.synthetic,
                     notes=result.notes, offline=offline, network=layer)


def summary_lines(record: dict[str, Any]) -> list[tuple[str, str]]:
    """How the network was solved, in (label, value) lines (the map's panel, the terminal)."""
    solve, greedy = record["solve"], record["greedy"]
    model = solve.get("model") or {}
    gap = solve.get("gap")
    lines = [("Status", solve["status"] + (f", gap {gap:.2%}" if gap else "")),
             ("Objective", f"{solve['objective']:.4f} ({record['objective'].replace('_', ' ')})"),
             ("Greedy", f"{greedy['objective']:.4f}" + ("" if greedy["feasible"]
                                                       else " (breaks constraints)")),
             ("Exact over greedy", str(greedy["improvement"])),
             ("Solved in", f"{solve['seconds']:.2f} s"),
             ("Model", f"{model.get('variables', 0):,} binaries, "
                       f"{model.get('constraints', 0):,} rows")]
    totals = record.get("totals") or {}
    if totals:
        lines.append(("Demand", f"{totals.get('power_mw', 0):,.0f} MW, "
                                f"{totals.get('water_mgd', 0):,.1f} MGD"))
        states = totals.get("states") or {}
        if states:
            lines.append(("States", ", ".join(f"{s} {n}" for s, n in states.items())))
    return lines


def _report(result: NetworkResult, path: Path, manifest: dict[str, Any]) -> Path:
    from ..report import write_report

    study = result.study
    empty = gpd.GeoDataFrame({"cell_id": [], "score": [], "excluded": []}, geometry=[], crs=CRS)
    sites = result.parks.assign(rank=result.parks["park"])
    # the measuring study's config: its criteria are the ones measured for the roles
    return write_report(path, cfg=study.cfg, criteria=study.criteria, weights=study.weights,
                        cells=empty, sites=sites, excluded=study.excluded, layers=study.layers,
                        area_geometry=study.area.geometry, manifest=manifest,
                        network={"record": result.record, "parks": result.parks,
                                 "links": result.links})


@dataclass
class NetworkTables:
    """A written network read back: its parks and the manifest's network record."""

    parks: pd.DataFrame
    links: pd.DataFrame
    record: dict[str, Any]


def read_network(run_dir: Path) -> NetworkTables:
    """The tables `sitescore network` wrote for a study."""
    need = [run_dir / PARKS_CSV, run_dir / LINKS_CSV, run_dir / "manifest.json"]
    for p in need:
        if not p.exists():
            raise DataError("not found; run `sitescore network` for this study first", file=p)
    manifest = json.loads(need[2].read_text(encoding="utf-8"))
    if "network" not in manifest:
        raise DataError("this manifest is not a network run's", file=need[2])
    return NetworkTables(pd.read_csv(need[0]), pd.read_csv(need[1]), manifest["network"])
