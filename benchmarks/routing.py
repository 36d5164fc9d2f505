"""Routing benchmark: least-cost connection routes for many sites to several layers over a
state-size friction raster, sitescore's way against a plain scikit-image loop.

sitescore (`sitescore.costs.routing`): per layer one search from all of its feature pixels
outward, coarse to fine (`search="corridor"`: a search on a grid `COARSE_FACTOR` (5) times
coarser, then the exact one within `CORRIDOR_CELLS` (3) coarse cells of the sites' coarse
routes), the layers in parallel processes
(`--workers`, 2 by default: the machine's cores); then each site's cost read off the surface and
its route traced back through the run's predecessors. The plain loop: one `find_costs` per site
and layer from the site, stopping at the first feature pixel reached (`find_all_ends=False`),
then `traceback` (the MCP object built once per layer and reused, as an analyst would). The loop
is timed on a sample of sites and scaled to all of them (said in the table): run in full it
takes hours. Its costs are exact: the table says how many of the sampled sites sitescore costs
the same (to 1e-6) and the largest difference; `--exact-check` also runs the exact search over
the whole grid for the first layer and compares all the sites (a few minutes more).

    .venv/bin/python benchmarks/routing.py [--rows 7000 --cols 6000] [--sites 1000]
        [--layers 4] [--repeat 3] [--loop-sites 3] [--workers 2] [--exact-check]

The raster is synthetic but shaped like a state: 100 m pixels, friction from a smooth random
slope field through the shipped table's transmission slope multipliers (1, 1.4, 1.75), about a
tenth of the land impassable in blobs (protected areas), and per layer 40 random polylines.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np
from scipy.ndimage import gaussian_filter

from sitescore.costs.friction import Grid
from sitescore.costs.routing import accumulate, accumulate_all, sample, trace_many


def make_problem(rows: int, cols: int, n_sites: int, n_layers: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    slope = gaussian_filter(rng.normal(size=(rows // 10, cols // 10)), 3)
    slope = np.kron(np.abs(slope) / np.abs(slope).max() * 20, np.ones((10, 10)))[:rows, :cols]
    friction = np.select([slope >= 8, slope >= 2], [1.75, 1.4], 1.0)
    blobs = gaussian_filter(rng.normal(size=(rows // 20, cols // 20)), 4)
    blocked = np.kron(blobs > np.quantile(blobs, 0.9), np.ones((20, 20), dtype=bool))[:rows, :cols]
    friction[blocked] = -1
    layers = []
    for _ in range(n_layers):
        pix = []
        for _ in range(40):
            pts = rng.uniform([0, 0], [rows - 1, cols - 1], size=(6, 2))
            for a, b in itertools.pairwise(pts):
                n = int(np.abs(b - a).max()) + 1
                pix.append(np.round(a + (b - a) * np.linspace(0, 1, n)[:, None]).astype(np.int64))
        layers.append(np.unique(np.vstack(pix), axis=0))
    free = np.argwhere(~blocked)
    sites = free[rng.choice(len(free), n_sites, replace=False)]
    return friction, layers, sites


def sitescore_routes(friction, layers, sites, grid, workers):
    xy = grid.centres(sites[:, 0], sites[:, 1])
    costs, routes, searches = [], 0, set()
    surfaces = accumulate_all([(friction, starts) for starts in layers], sites, search="corridor",
                              workers=workers)
    for surface in surfaces:
        costs.append(sample(surface, grid, xy))
        routes += sum(p is not None for p in trace_many(surface, grid, xy))
        searches.add(surface.search)
    return np.array(costs), routes, searches


def agreement(ours, exact):
    """Share of the costs equal to the exact ones (to 1e-6, relative) and the largest excess."""
    ok = np.isfinite(exact) & (exact > 0)
    same = np.isfinite(ours) == np.isfinite(exact)
    rel = (ours[ok] - exact[ok]) / exact[ok]
    equal = (np.abs(rel) <= 1e-6).sum() + ((exact == 0) & (ours == 0)).sum()
    worst = float(np.nanmax(rel)) if np.isfinite(rel).any() else 0.0
    return equal / exact.size, worst, bool(same.all())


def loop_routes(friction, layers, sites, grid):
    from skimage.graph import MCP_Geometric

    out = np.full((len(layers), len(sites)), np.nan)
    for j, starts in enumerate(layers):
        mcp = MCP_Geometric(friction, fully_connected=True)
        ends = [tuple(s) for s in starts]
        for i, s in enumerate(sites):
            cost, _ = mcp.find_costs([tuple(s)], ends=ends, find_all_ends=False)
            reached = np.where(np.isfinite(cost[starts[:, 0], starts[:, 1]]),
                               cost[starts[:, 0], starts[:, 1]], np.inf)
            k = int(np.argmin(reached))
            if np.isfinite(reached[k]):
                mcp.traceback(tuple(starts[k]))
                out[j, i] = reached[k] * grid.cell_km
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=7000)
    ap.add_argument("--cols", type=int, default=6000)
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--loop-sites", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--exact-check", action="store_true")
    a = ap.parse_args()
    from affine import Affine

    grid = Grid(Affine(100.0, 0, 0, 0, -100.0, a.rows * 100.0), (a.rows, a.cols), 100.0)
    friction, layers, sites = make_problem(a.rows, a.cols, a.sites, a.layers)
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        costs, n_routes, searches = sitescore_routes(friction, layers, sites, grid, a.workers)
        times.append(time.perf_counter() - t0)
    ours = statistics.median(times)
    t0 = time.perf_counter()
    loop = loop_routes(friction, layers, sites[:a.loop_sites], grid)
    per_site = (time.perf_counter() - t0) / a.loop_sites
    equal, worst, _ = agreement(costs[:, :a.loop_sites], loop)
    loop_all = per_site * a.sites
    print(f"| raster | sites x layers | sitescore (median of {a.repeat}, {a.workers} processes) "
          f"| plain scikit-image loop | speed-up | routes traced | costs as the loop's |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {a.cols:,} x {a.rows:,} ({a.rows * a.cols / 1e6:.0f} M cells) | {a.sites:,} x {a.layers} "
          f"| {ours:.1f} s ({', '.join(f'{t:.1f}' for t in times)}) "
          f"| {loop_all:,.0f} s ({per_site:.1f} s a site, timed on {a.loop_sites}) "
          f"| {loop_all / ours:,.0f}x | {n_routes:,} | {equal:.0%} equal, worst {worst:+.2%} |")
    print(f"searches: {', '.join(sorted(searches))}")
    if a.exact_check:
        t0 = time.perf_counter()
        exact = sample(accumulate(friction, layers[0]), grid, grid.centres(sites[:, 0], sites[:, 1]))
        seconds = time.perf_counter() - t0
        equal, worst, same = agreement(costs[0], exact)
        p99 = np.nanquantile((costs[0] - exact) / np.where(exact > 0, exact, np.nan), 0.99)
        print(f"exact search over the whole grid, layer 1 ({seconds:.0f} s): {equal:.1%} of the "
              f"{a.sites:,} costs equal, 99th percentile {p99:+.2%}, worst {worst:+.2%}; "
              f"reachable alike: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
