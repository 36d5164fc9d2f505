"""Sensitivity on the synthetic demo: Monte Carlo (weights only, and with thresholds jittered),
one-at-a-time sweeps, distance to a flip and the sweep charts. Medians over repeated runs, and a
check that the same seed gives the same numbers.

    .venv/bin/python benchmarks/sensitivity_demo.py [--repeat 3] [--draws 1000]

Two site sets from the same demo region: the demo as configured (its ~20 sites) and a dense
one (no spacing between sites, up to 300 of them) for the few-hundred-sites case. Each pipeline
runs once; only the sensitivity steps are timed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sitescore.config import SensitivityConfig, parse_config
from sitescore.demo import generate_demo
from sitescore.pipeline import run
from sitescore.sensitivity import (
    flip_summary,
    monte_carlo,
    site_matrix,
    sweep_charts,
    weight_sweeps,
    weight_to_flip,
)

METHODS = ("weighted_sum", "weighted_product", "topsis")


def median_seconds(func, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def demo_sites(config_path: Path, tmp: Path, dense: bool):
    doc = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    if dense:
        doc["sites"] = {"min_site_acres": 1000, "min_spacing_km": 0, "max_sites": 300}
    cfg = parse_config(doc, config_path)
    cfg.source_path = config_path
    name = "dense" if dense else "demo"
    t0 = time.perf_counter()
    result = run(cfg, maps_dir=tmp / f"maps_{name}", runs_dir=tmp / f"runs_{name}", write_map=False)
    return cfg, result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()

    rows = []
    checks = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        config_path = generate_demo(tmp / "demo")
        for dense in (False, True):
            cfg, result, pipeline_s = demo_sites(config_path, tmp, dense)
            scenario = "dense demo" if dense else "demo"
            sm = site_matrix(result.sites, result.cells, cfg.criteria)
            n, m = sm.values.shape
            cells = sum(len(c.site) for c in sm.cells.values()) // max(1, len(sm.cells))
            print(f"{scenario}: pipeline {pipeline_s:.2f} s, {n} sites x {m} criteria, "
                  f"{cells} member cells")
            weights_only = SensitivityConfig(draws=args.draws, top_k=10, seed=0)
            jittered = weights_only.model_copy(update={"thresholds": 0.1})
            for method in METHODS:
                for label, scfg in ((f"monte_carlo {args.draws} draws, weights only", weights_only),
                                    (f"monte_carlo {args.draws} draws, thresholds 0.1", jittered)):
                    # partial binds this iteration's arguments now, not when it is called
                    s, mc = median_seconds(partial(monte_carlo, sm, scfg, method), args.repeat)
                    rows.append((scenario, n, method, label, s))
                    again = monte_carlo(sm, scfg, method)
                    other = monte_carlo(sm, scfg.model_copy(update={"seed": 1}), method)
                    same = mc.equals(again)
                    differs = not np.array_equal(mc["mean_score"].to_numpy(), other["mean_score"].to_numpy())
                    checks.append((scenario, method, label, same, differs))
                s, _ = median_seconds(partial(weight_sweeps, sm, method, 2.0, 21, 10), args.repeat)
                rows.append((scenario, n, method, "weight_sweeps 21 steps, top 10", s))
                s, _ = median_seconds(partial(weight_to_flip, sm, method, 10), args.repeat)
                rows.append((scenario, n, method, "weight_to_flip k=10", s))
            def charts(sm=sm, scenario=scenario):  # this scenario's, bound now
                return sweep_charts(weight_sweeps(sm, "weighted_sum", 2.0, 21, 10), sm.labels,
                                    tmp / f"charts_{scenario}")

            s, paths = median_seconds(charts, args.repeat)
            rows.append((scenario, n, "weighted_sum", f"sweep_charts ({len(paths)} PNGs)", s))
            if not dense:
                mc = monte_carlo(sm, jittered, "weighted_sum")
                print("\nweighted_sum, thresholds 0.1, top 10 (first 8 sites):")
                print(mc.drop(columns=["name"]).head(8).to_string(index=False,
                                                                  float_format=lambda v: f"{v:.3f}"))
                print("\nsmallest single-weight change that moves a site across the top-10 line:")
                print(flip_summary(weight_to_flip(sm, "weighted_sum", 10))
                      .drop(columns=["name"]).head(12).to_string(index=False,
                                                                 float_format=lambda v: f"{v:.3f}"))
                print()

    table = pd.DataFrame(rows, columns=["sites", "n", "method", "task", "median_s"])
    print(f"\nmedian wall time over {args.repeat} repeats:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    check = pd.DataFrame(checks, columns=["sites", "method", "task", "same seed identical",
                                          "other seed differs"])
    print("\nreproducibility:")
    print(check.to_string(index=False))
    if not (check["same seed identical"].all() and check["other seed differs"].all()):
        raise SystemExit("reproducibility check failed")


if __name__ == "__main__":
    main()
