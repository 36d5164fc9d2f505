"""Publish: a scored study's files written (tables, rank-stability tables and weight-sweep
charts, web map, report, manifest last).

It sits above the pages it writes (webmap, report, sensitivity's charts) and below the pipeline,
which has it write into the temporary folders of an atomic swap (`folders.atomic_dirs`); the
single files come from `outputs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from .outputs import write_manifest, write_tables

if TYPE_CHECKING:
    from .pipeline import Stability, StudyResult


def write_result(result: StudyResult, run_dir: Path, map_dir: Path | None = None, *,
                 report: bool = True, offline: bool = False,
                 final_dirs: tuple[Path, Path | None] | None = None) -> dict[str, Any]:
    """Write a computed study into `run_dir` (tables, rank-stability tables, manifest last) and,
    given `map_dir`, its web map, the report (unless `report` is False) and the weight-sweep
    charts there. The manifest names the files where they end up: in `final_dirs` (runs, maps)
    when these folders are temporary ones a swap puts in place. Returns the manifest written."""
    run_dir = Path(run_dir)
    map_dir = None if map_dir is None else Path(map_dir)
    final_run, final_map = final_dirs or (run_dir, map_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    written = write_tables(run_dir, result.cells, result.sites, result.excluded,
                           result.cfg.outputs.formats)
    if result.stability is not None:
        written += write_stability(result.stability, run_dir, map_dir)
    if getattr(result, "routes", None) is not None:
        written += write_routes(result.routes, run_dir, result.cfg.outputs.formats)
    outputs = [str(final_run / p.name) for p in written]
    if map_dir is not None:
        pages = _write_pages(result, map_dir, report=report, offline=offline)
        outputs += [str(Path(final_map or map_dir) / p.name) for p in pages]
    head = {k: v for k, v in result.manifest.items() if k not in ("timings_s", "peak_memory_mb")}
    result.timer.stamp_total()
    manifest = {**head, "outputs": outputs, "timings_s": result.timer.seconds,
                "peak_memory_mb": result.timer.peak_mb}
    write_manifest(run_dir / "manifest.json", manifest)
    return manifest


def _write_pages(result: StudyResult, map_dir: Path, *, report: bool, offline: bool) -> list[Path]:
    """The web map and (with `report`) the printable report; the pages written."""
    from .webmap import write_map

    cfg = result.cfg
    map_dir.mkdir(parents=True, exist_ok=True)
    layers, excluded = result.map_layers()
    layers = dict(layers)
    if offline and isinstance(result.layers.get("states"), gpd.GeoDataFrame):
        layers["states"] = result.layers["states"]  # drawn instead of basemap tiles
    write_map(map_dir / "index.html", title=cfg.title or cfg.study, cells=result.cells,
              sites=result.sites, criteria=result.criterion_infos(), layers=layers,
              excluded=excluded, synthetic=cfg.synthetic, notes=result.notes,
              aggregation=cfg.aggregation, offline=offline,
              left_out=[x.record() for x in result.left_out], weight_kept=result.weight_kept,
              partial=result.partial, routes=getattr(result, "routes", None),
              site_rules=cfg.sites, excluded_acres=result.manifest.get("excluded_acres_by_rule"))
    pages = [map_dir / "index.html"]
    if report:
        from .report import write_report

        timings = dict(result.timer.stamp_total())  # the report's run time: up to the report
        pages.append(write_report(
            map_dir / "report.html", cfg=cfg, criteria=result.criteria, weights=result.weights,
            cells=result.cells, sites=result.sites, excluded=result.excluded,
            layers=result.layers, area_geometry=result.area.geometry,
            manifest={**result.manifest, "timings_s": timings,
                      "peak_memory_mb": dict(result.timer.peak_mb)},
            sensitivity_charts=sorted((map_dir / "sensitivity").glob("sweep_*.png"))))
    return pages


def write_stability(stability: Stability, run_dir: Path, map_dir: Path | None) -> list[Path]:
    """The rank-stability tables (sensitivity.csv, weight_sweeps.csv, weight_changes.csv) into
    `run_dir`, and, given `map_dir`, the weight-sweep charts and their page there (the map's
    popups link to it). The tables written."""
    from .safe_text import write_csv
    from .sensitivity import sweep_charts

    out = []
    for name, table in (("sensitivity.csv", stability.per_site), ("weight_sweeps.csv", stability.sweeps),
                        ("weight_changes.csv", stability.flips)):
        write_csv(table, run_dir / name, index=False, float_format="%.6g")
        out.append(run_dir / name)
    if map_dir is not None and len(stability.sweeps):
        charts = sweep_charts(stability.sweeps, stability.labels, map_dir / "sensitivity")
        _chart_index(map_dir / "sensitivity" / "index.html", charts)
    return out


def _chart_index(path: Path, charts: list[Path]) -> None:
    """A page showing the weight-sweep charts, linked from each site's popup."""
    from .formatting import esc

    figures = "".join(f'<figure><img src="{esc(c.name)}" alt="{esc(c.stem)}"></figure>'
                      for c in charts)
    path.write_text("<!doctype html><meta charset='utf-8'><title>Weight sweeps</title>"
                    "<style>body{font-family:sans-serif}figure{display:inline-block;margin:8px}</style>"
                    "<h1>Weight sweeps</h1><p>Rank of the top sites as one criterion's weight moves "
                    "from 0 to its maximum multiple, the others renormalised.</p>" + figures,
                    encoding="utf-8")


def write_routes(routes: gpd.GeoDataFrame, run_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Each site's connection routes: layer `routes` of sitescore.gpkg (beside the sites) and
    routes.csv (lengths and costs, no geometry). The files written (the GeoPackage is already)."""
    from .safe_text import write_csv

    out = []
    if "gpkg" in formats and len(routes):
        routes.to_file(run_dir / "sitescore.gpkg", layer="routes", driver="GPKG")
    if "csv" in formats:
        write_csv(routes.drop(columns="geometry"), run_dir / "routes.csv", index=False,
                  float_format="%.6g")
        out.append(run_dir / "routes.csv")
    return out
