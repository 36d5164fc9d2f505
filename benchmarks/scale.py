"""The national pipeline at 10k, 100k, 500k and 1M candidate cells: per-stage medians, peak
memory, cells per second and growth; every metric against its plain-geopandas formulation;
end to end against the I/O floor; the Dask engine with 2 workers against the local engine.

    .venv/bin/python benchmarks/scale.py                 # everything (about 15-25 min)
    .venv/bin/python benchmarks/scale.py --quick         # 10k and 100k cells, one repeat

Inputs are generated once in the official schemas (`national_inputs.py`, cached under
benchmarks/.data/); where ../shared/data has a real national file it is used instead
(`--synthetic-only` to use generated files throughout). Each run is a fresh Python process, so
peak memory is the run's own. Results are printed and written to benchmarks/.data/scale.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(HERE))

TARGET_SIZES = [10_000, 100_000, 500_000, 1_000_000]
STAGES = ["study area", "read layers", "candidates", "metrics", "scoring", "locate sites", "outputs"]
#: Presets run side by side in the scenario row.
SCENARIO_PRESETS = ["data_center", "semiconductor_fab"]
#: Baselines slower than this per cell are timed on a sample (their cost is linear in cells).
BASELINE_SAMPLE = 20_000


# --------------------------------------------------------------------------- child processes

def _child(argv: list[str]) -> None:
    """One measurement in a fresh process; prints one JSON line."""
    mode, config = argv[0], Path(argv[1])
    if mode == "run":
        print(json.dumps(_run_once(config)))
    elif mode == "run-dask":
        print(json.dumps(_run_on_dask(config, int(argv[2]))))
    elif mode == "presets":
        print(json.dumps(_presets(config, int(argv[2]))))
    elif mode == "floor":
        print(json.dumps(_io_floor(config)))
    elif mode == "metrics":
        print(json.dumps(_metric_ratios(config)))
    else:
        raise SystemExit(f"unknown mode {mode}")


def _run_on_dask(config: Path, workers: int) -> dict[str, Any]:
    """The run on a LocalCluster of `workers` single-threaded processes, started (and the stages'
    imports warmed on it) before the clock starts: the cost of a cluster one already has."""
    from distributed import Client, LocalCluster

    from sitescore.engine import DaskEngine

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        return _run_once(config, DaskEngine(client))


def _presets(config: Path, workers: int) -> dict[str, Any]:
    """Several presets of one study: one after another here (workers = 0), or side by side as
    tasks on a LocalCluster of `workers` processes started before the clock."""
    from contextlib import ExitStack

    from sitescore.config import load_config
    from sitescore.engine import DaskEngine, LocalEngine
    from sitescore.pipeline import run_many

    cfgs = [load_config(config, preset=p) for p in SCENARIO_PRESETS]
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        if workers:
            from distributed import Client, LocalCluster
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1,
                                                       processes=True, dashboard_address=":0"))
            engine: Any = DaskEngine(stack.enter_context(Client(cluster)))
        else:
            engine = LocalEngine()
        t0 = time.perf_counter()
        results = run_many(cfgs, engine=engine, keep_cells=False, runs_dir=Path(tmp) / "runs",
                           maps_dir=Path(tmp) / "maps", cache_dir=Path(tmp) / "cache")
        wall = time.perf_counter() - t0
    failed = [str(r) for r in results if isinstance(r, Exception)]
    if failed:
        raise SystemExit("; ".join(failed))
    return {"wall_s": wall, "studies": len(results)}


def _run_once(config: Path, engine: Any = None) -> dict[str, Any]:
    from sitescore.config import load_config
    from sitescore.pipeline import run

    cfg = load_config(config)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run(cfg, runs_dir=Path(tmp) / "runs", maps_dir=Path(tmp) / "maps",
                     cache_dir=Path(tmp) / "cache", engine=engine)
        wall = time.perf_counter() - t0
        out = {"wall_s": wall, "timings": result.manifest["timings_s"],
               "stage_peak_mb": result.manifest.get("peak_memory_mb", {}),
               "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "cells": result.manifest["counts"]["cells"], "sites": len(result.sites),
               "engine": result.manifest.get("engine")}
    return out


def _io_floor(config: Path) -> dict[str, Any]:
    """Just reading every input the run reads, whole, with the fastest plain reader: vector files
    through pyogrio with Arrow, CSV tables with pyarrow, the DEM's band with rasterio."""
    import pyarrow.csv
    import pyogrio
    import rasterio

    from sitescore.config import load_config
    from sitescore.pipeline import _option_paths, layer_sources

    cfg = load_config(config)
    files: list[tuple[Path, str | None]] = []
    for source in layer_sources(cfg).values():
        for path in (source.path, *source.more_paths):
            files.append((path, source.layer))
        files.extend((p, None) for p in _option_paths(source))
    t0 = time.perf_counter()
    rows = 0
    for path, layer in dict.fromkeys(files):
        suffix = path.suffix.lower()
        if suffix in (".tif", ".tiff"):
            with rasterio.open(path) as ds:
                rows += ds.read(1).size
        elif suffix in (".csv", ".txt"):
            rows += pyarrow.csv.read_csv(path).num_rows
        elif suffix in (".parquet", ".geoparquet"):
            import geopandas as gpd
            rows += len(gpd.read_parquet(path))
        elif suffix == ".xlsx":
            import pandas as pd
            rows += len(pd.read_excel(path, header=None))
        else:
            kwargs = {"layer": layer} if layer else {}
            rows += len(pyogrio.read_dataframe(path, use_arrow=True, **kwargs))
    return {"floor_s": time.perf_counter() - t0, "files": len(dict.fromkeys(files)), "rows": rows}


def _metric_ratios(config: Path) -> list[dict[str, Any]]:
    """Each criterion of the study on its real cells and layer: sitescore vs plain geopandas."""
    import numpy as np

    from baselines import BASELINES, compare_metric
    from sitescore.config import load_config
    from sitescore.filters import parse_where
    from sitescore.pipeline import _candidates, _plan, _read_layers, _study_area, layer_sources

    cfg = load_config(config)
    sources = layer_sources(cfg)
    plan = _plan(cfg, sources)
    layers: dict[str, Any] = {}
    area = _study_area(cfg, sources, layers)
    with tempfile.TemporaryDirectory() as tmp:
        _read_layers(cfg, plan, sources, area, layers, Path(tmp))
    cells = _candidates(cfg, plan, area, layers).cells
    rows = []
    seen = set()
    for name, crit in plan.criteria.items():
        layer = layers[crit.layer]
        if crit.where:
            layer = layer[parse_where(crit.where)(layer)]
        key = (crit.metric, crit.layer, crit.where, json.dumps(crit.params, sort_keys=True))
        if crit.metric not in BASELINES or key in seen:
            continue
        seen.add(key)
        # loops over cells (gravity, rasterstats) and overlays are timed on a sample
        slow = crit.metric in ("gravity_access", "zonal", "overlap_share")
        sample = BASELINE_SAMPLE if slow else None
        res = compare_metric(crit.metric, cells, layer, crit.params, sample=sample,
                             repeat=1 if len(cells) > 200_000 else 3)
        res["criterion"] = name
        res["layer_rows"] = len(layer) if hasattr(layer, "__len__") else None
        rows.append({k: (float(v) if isinstance(v, (np.floating, np.integer)) else v)
                     for k, v in res.items() if not isinstance(v, (np.ndarray, list))})
    return rows


def _spawn(mode: str, config: Path, *extra: str) -> Any:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(config), *extra],
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} {config.name} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- tables

def _table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in header]] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=False)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "-"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _median(runs: list[dict], key: str) -> float:
    vals = [r["timings"].get(key) for r in runs if r["timings"].get(key) is not None]
    return statistics.median(vals) if vals else float("nan")


# --------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in TARGET_SIZES),
                        help="target cell counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="Dask workers for the engine row")
    parser.add_argument("--ratios-at", type=int, default=500_000,
                        help="cell count at which metrics are compared with plain geopandas")
    parser.add_argument("--quick", action="store_true", help="10k and 100k cells, one repeat")
    parser.add_argument("--synthetic-only", action="store_true")
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "national")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeat, args.ratios_at = "10000,100000", 1, 100_000
    sizes = [int(s) for s in args.sizes.split(",")]

    from national_inputs import grid_km_for, write_national_inputs, write_study

    t0 = time.perf_counter()
    write_national_inputs(args.data)
    print(f"inputs ready in {args.data} ({time.perf_counter() - t0:.0f} s)", flush=True)
    real = None if args.synthetic_only or not SHARED.is_dir() else SHARED
    configs = {}
    for target in sizes:
        configs[target] = write_study(args.data, grid_km=grid_km_for(target, args.data), real_data=real,
                                      study=f"bench_{target}")

    report: list[str] = []

    def emit(title: str, text: str) -> None:
        block = f"\n## {title}\n\n```\n{text}\n```\n"
        report.append(block)
        print(block, flush=True)

    # ---- per stage, per size
    results: dict[int, list[dict]] = {}
    for target in sizes:
        results[target] = []
        for i in range(args.repeat):
            r = _spawn("run", configs[target])
            results[target].append(r)
            print(f"  {target:>9,} cells target: run {i + 1}/{args.repeat} {r['wall_s']:.1f} s, "
                  f"{r['cells']:,} cells, peak {r['peak_mb']:,.0f} MB", flush=True)
    metric_names = sorted({k for rs in results.values() for r in rs for k in r["timings"]
                           if k.startswith("metric ")})
    header = ["stage"] + [f"{results[t][0]['cells']:,} cells" for t in sizes]
    rows = []
    for stage in STAGES + metric_names + ["total"]:
        rows.append([stage] + [_median(results[t], stage) for t in sizes])
    for stage in ("read layers", "candidates", "metrics", "locate sites"):
        rows.append([f"peak MB at end of {stage}"] + [max(r["stage_peak_mb"].get(stage, float("nan"))
                                                          for r in results[t]) for t in sizes])
    rows.append(["peak memory (MB, whole run)"] + [max(r["peak_mb"] for r in results[t]) for t in sizes])
    rows.append(["cells / s (end to end)"] + [results[t][0]["cells"] / _median(results[t], "total")
                                              for t in sizes])
    emit(f"Median seconds per stage ({args.repeat} runs each, fresh process per run)", _table(header, rows))

    # ---- growth
    base = sizes[0] if len(sizes) < 2 else sizes[1] if sizes[0] < 100_000 and len(sizes) > 2 else sizes[0]
    n0, t0_ = results[base][0]["cells"], _median(results[base], "total")
    growth = []
    for t in sizes:
        n, tt = results[t][0]["cells"], _median(results[t], "total")
        growth.append([f"{n:,}", tt, n / n0, tt / t0_, (tt / t0_) / (n / n0)])
    emit(f"Growth against {n0:,} cells (1.0 = linear; below 1 = fixed costs spread over more cells)",
         _table(["cells", "total s", "cells x", "time x", "time x / cells x"], growth))

    # ---- I/O floor
    floor = [_spawn("floor", configs[sizes[0]]) for _ in range(args.repeat)]
    floor_s = statistics.median(f["floor_s"] for f in floor)
    rows = [[f"{results[t][0]['cells']:,}", _median(results[t], "total"), floor_s,
             _median(results[t], "total") / floor_s] for t in sizes]
    emit(f"End to end against the I/O floor (reading the {floor[0]['files']} input files whole, "
         f"{floor[0]['rows']:,} rows/pixels: {floor_s:.2f} s)",
         _table(["cells", "end to end s", "I/O floor s", "ratio"], rows))

    # ---- metrics vs plain geopandas
    ratios_at = min(sizes, key=lambda s: abs(s - args.ratios_at))
    ratio_rows = _spawn("metrics", configs[ratios_at])
    rows = [[r["criterion"], r["metric"], r.get("layer_rows"), r["sitescore_s"], r["baseline_s_full_est"],
             "yes" if r["baseline_extrapolated"] else "no", r["ratio"], r["ratio_measured"],
             r.get("max_abs_diff", float("nan"))] for r in ratio_rows]
    emit(f"Each metric against its plain-geopandas formulation at {results[ratios_at][0]['cells']:,} cells "
         f"(baselines marked 'sampled' timed on {BASELINE_SAMPLE:,} cells and scaled linearly)",
         _table(["criterion", "metric", "layer rows", "sitescore s", "plain s", "sampled", "ratio",
                 "ratio on sample", "max |diff|"], rows))

    # ---- Dask engine
    dask_rows = []
    engine_at = ratios_at
    local = results[engine_at]
    dask_runs = [_spawn("run-dask", configs[engine_at], str(args.workers)) for _ in range(args.repeat)]
    for stage in ["candidates", "metrics", "total"]:
        a, b = _median(local, stage), _median(dask_runs, stage)
        dask_rows.append([stage, a, b, a / b if b else float("nan")])
    scenario_at = sizes[1] if len(sizes) > 1 else sizes[0]
    one_by_one = statistics.median(_spawn("presets", configs[scenario_at], "0")["wall_s"]
                                   for _ in range(args.repeat))
    side_by_side = statistics.median(_spawn("presets", configs[scenario_at], str(args.workers))["wall_s"]
                                     for _ in range(args.repeat))
    dask_rows.append([f"{len(SCENARIO_PRESETS)} presets at {results[scenario_at][0]['cells']:,} cells "
                      "(whole runs)", one_by_one, side_by_side, one_by_one / side_by_side])
    emit(f"Dask engine, LocalCluster of {args.workers} single-threaded worker processes (started "
         f"before the clock), against the local engine at {local[0]['cells']:,} cells; presets "
         f"({', '.join(SCENARIO_PRESETS)}) one after another here against side by side on the cluster",
         _table(["stage", "local s", "dask s", "speed-up"], dask_rows))

    # ---- targets
    rows = []
    by_cells = {results[t][0]["cells"]: t for t in sizes}
    near = lambda n: min(by_cells, key=lambda c: abs(c - n))  # noqa: E731
    if 500_000 in sizes:
        t = by_cells[near(500_000)]
        rows.append(["500k cells end to end < 60 s", _median(results[t], "total"), 60.0])
        rows.append(["500k cells peak memory < 4 GiB (MB)", max(r["peak_mb"] for r in results[t]), 4096.0])
    if 1_000_000 in sizes:
        t = by_cells[near(1_000_000)]
        rows.append(["1M cells end to end < 120 s", _median(results[t], "total"), 120.0])
    if 100_000 in sizes and 1_000_000 in sizes:
        a, b = results[100_000], results[1_000_000]
        g = (_median(b, "total") / _median(a, "total")) / (b[0]["cells"] / a[0]["cells"])
        rows.append(["growth 100k -> 1M <= 1.2x linear", g, 1.2])
    for r in ratio_rows:
        rows.append([f"{r['criterion']} >= 10x plain geopandas", r["ratio"], 10.0])
    rows.append(["end to end <= 3x I/O floor (largest run)",
                 _median(results[sizes[-1]], "total") / floor_s, 3.0])
    table = [[name, value, limit,
              "met" if (value >= limit if ">=" in name else value <= limit) else "NOT MET"]
             for name, value, limit in rows]
    emit("Targets", _table(["target", "measured", "limit", ""], table))

    out = args.data.parent / "scale.md"
    out.write_text("# sitescore scale benchmark\n" + "".join(report), encoding="utf-8")
    (args.data.parent / "scale.json").write_text(json.dumps(
        {"runs": {str(k): v for k, v in results.items()}, "floor": floor, "ratios": ratio_rows,
         "dask": dask_runs}, indent=1, default=str), encoding="utf-8")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        main()
