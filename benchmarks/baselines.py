"""Plain-geopandas baselines: every metric written the way an analyst would write it, timed side
by side with `sitescore.metrics.compute_metric` in one process.

The baselines exist so the claim "our metrics are N x faster than plain geopandas" is measured,
not asserted: each one takes the same inputs (cells in EPSG:5070, one layer, the metric's params)
and returns the same output (one float per cell, same order and units), so the benchmark can
print how far apart the two answers are next to how far apart the two timings are.

    .venv/bin/python benchmarks/baselines.py [--cells 50000] [--repeat 3] [--only zonal,...]

Where the two formulations cannot agree to the last bit (documented per baseline):
- `sum_within` / `count_within`: geopandas' `.buffer` draws the circle as a 64-gon *inscribed* in
  it, so a feature at distance d with R*cos(pi/64) < d <= R (within 0.12 % of the radius: 60 m at
  50 km) is counted by sitescore (exact distance) and missed by the baseline.
- `attribute_at`: `predicate="within"` misses a centroid lying exactly on a polygon edge, where
  sitescore's `intersects` takes the polygon; random data never hits that.
- `zonal` on a float32 grid: rasterstats' mean is accumulated in float32 (~1e-7 relative).
- everything else agrees up to float summation order (~1e-12 relative).
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sitescore.metrics import METRICS, compute_metric
from sitescore.schema import CRS, M_PER_KM, SQM_PER_ACRE

Baseline = Callable[[gpd.GeoDataFrame, Any, dict], np.ndarray]


def _params(name: str, params: dict) -> Any:
    """The metric's own validation, so both sides use the same defaults (e.g. cutoff = 3 x decay)."""
    return METRICS[name].params.model_validate(params)


def _centroid_frame(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cell centroids with a 0..n-1 index, so joined rows map back to output positions."""
    return gpd.GeoDataFrame(geometry=cells.geometry.centroid.reset_index(drop=True))


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _frame(layer: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """The layer's geometry (whatever its column is called) and `columns`, indexed 0..n-1."""
    return gpd.GeoDataFrame({c: layer[c].to_numpy() for c in columns},
                            geometry=layer.geometry.values, crs=layer.crs)


# --- the baselines ---------------------------------------------------------------------------

def distance_to_baseline(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, params: dict) -> np.ndarray:
    """`sjoin_nearest` from centroids; it returns every equidistant feature, so keep one row per cell."""
    _params("distance_to", params)
    n = len(cells)
    if len(layer) == 0 or n == 0:
        return np.full(n, np.nan)
    joined = gpd.sjoin_nearest(_centroid_frame(cells), _frame(layer, []), distance_col="dist_m")
    first = joined[~joined.index.duplicated(keep="first")]  # ties: several rows for one cell
    return (first["dist_m"] / M_PER_KM).reindex(range(n)).to_numpy(dtype=float)


def _buffer_join(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, radius_km: float,
                 columns: list[str]) -> gpd.GeoDataFrame:
    """Centroid buffers (geopandas default: 16 segments a quarter, an inscribed 64-gon) joined to
    the features they intersect."""
    circles = gpd.GeoDataFrame(geometry=_centroid_frame(cells).buffer(radius_km * M_PER_KM))
    return gpd.sjoin(circles, _frame(layer, columns), predicate="intersects")


def sum_within_baseline(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, params: dict) -> np.ndarray:
    """Buffer + `sjoin` + groupby sum, missing cells 0 (NaN values count as 0, as pandas sums)."""
    p = _params("sum_within", params)
    n = len(cells)
    if len(layer) == 0 or n == 0:
        return np.zeros(n)
    joined = _buffer_join(cells, layer, p.radius_km, [p.field])
    sums = _numeric(joined[p.field]).groupby(level=0).sum()
    return sums.reindex(range(n), fill_value=0.0).to_numpy(dtype=float)


def count_within_baseline(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, params: dict) -> np.ndarray:
    """Buffer + `sjoin` + groupby size, missing cells 0."""
    p = _params("count_within", params)
    n = len(cells)
    if len(layer) == 0 or n == 0:
        return np.zeros(n)
    joined = _buffer_join(cells, layer, p.radius_km, [])
    counts = joined.groupby(level=0).size()
    return counts.reindex(range(n), fill_value=0).to_numpy(dtype=float)


def gravity_access_baseline(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, params: dict) -> np.ndarray:
    """Per-cell loop: distances from the centroid to every source, keep those within the cut-off,
    sum value x decay. Polygon sources count from `representative_point()` like sitescore's."""
    p = _params("gravity_access", params)
    n = len(cells)
    out = np.zeros(n)
    if len(layer) == 0 or n == 0:
        return out
    sources = layer.geometry.reset_index(drop=True)
    polygons = (sources.geom_type != "Point").to_numpy()
    if polygons.any():
        sources = sources.copy()
        sources[polygons] = sources[polygons].representative_point()
    values = _numeric(layer[p.field]).fillna(0.0).to_numpy(dtype=float)
    cutoff_m = p.cutoff_km * M_PER_KM
    for i, centroid in enumerate(cells.geometry.centroid):
        d_m = sources.distance(centroid).to_numpy()
        near = d_m <= cutoff_m
        d_km = d_m[near] / M_PER_KM
        if p.decay == "exponential":
            w = np.exp(-d_km / p.decay_km)
        else:
            w = np.exp(-0.5 * (d_km / p.decay_km) ** 2)
        out[i] = np.sum(values[near] * w)
    return out


def attribute_at_baseline(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, params: dict) -> np.ndarray:
    """`sjoin(predicate="within")` of centroids, first polygon in file order where they overlap.

    Not `groupby().first()`: that skips NaN and would take a later polygon's value. A column of
    numbers (even stored as text) is read as numbers, otherwise as text (None where missing),
    which is how sitescore reads it.
    """
    p = _params("attribute_at", params)
    n = len(cells)
    raw = layer[p.field]
    numeric = _numeric(raw)
    is_numeric = numeric.notna().sum() >= raw.notna().sum() and raw.notna().any()
    if len(layer) == 0 or n == 0:
        return np.full(n, np.nan) if is_numeric else np.full(n, None, dtype=object)
    polygons = _frame(layer, []).assign(value=numeric.to_numpy() if is_numeric else raw.to_numpy())
    joined = gpd.sjoin(_centroid_frame(cells), polygons, predicate="within")
    joined = joined.sort_values("index_right", kind="stable")
    first = joined[~joined.index.duplicated(keep="first")]
    values = first["value"].reindex(range(n))
    if is_numeric:
        return values.to_numpy(dtype=float)
    return values.astype(object).where(values.notna(), None).to_numpy(dtype=object)


def overlap_share_baseline(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, params: dict) -> np.ndarray:
    """`overlay(how="intersection")`, dissolve the pieces per cell (overlaps count once), area
    over cell area."""
    _params("overlap_share", params)
    n = len(cells)
    if len(layer) == 0 or n == 0:
        return np.zeros(n)
    left = gpd.GeoDataFrame({"cell": np.arange(n)}, geometry=cells.geometry.values, crs=cells.crs)
    right = gpd.GeoDataFrame(geometry=layer.geometry.values, crs=layer.crs)
    pieces = gpd.overlay(left, right, how="intersection", keep_geom_type=True)
    if len(pieces) == 0:
        return np.zeros(n)
    covered = pieces.dissolve(by="cell").area
    return (covered.reindex(range(n), fill_value=0.0) / left.area).to_numpy(dtype=float)


def zonal_baseline(cells: gpd.GeoDataFrame, raster: Any, params: dict) -> np.ndarray:
    """`rasterstats.zonal_stats` on the cells in the raster's CRS (pixel centres inside, as
    sitescore counts them; NaN is the nodata). A cell with no valid pixel centre (smaller than a
    pixel) takes the pixel under its centroid via `point_query(interpolate="nearest")`, as
    sitescore does."""
    from rasterstats import point_query, zonal_stats

    p = _params("zonal", params)
    n = len(cells)
    if n == 0:
        return np.zeros(0)
    grid = raster.slope_percent() if p.variable == "slope_percent" else raster.values
    zones = cells.to_crs(raster.crs).geometry.reset_index(drop=True)
    stats = zonal_stats(zones, grid, affine=raster.transform, stats=[p.stat], nodata=np.nan,
                        all_touched=False)
    got = [s[p.stat] for s in stats]
    out = np.array([np.nan if v is None else v for v in got], dtype=float)
    empty = [i for i, v in enumerate(got) if v is None]
    if empty:
        with warnings.catch_warnings():  # centroid in degrees: what sitescore takes too
            warnings.filterwarnings("ignore", "Geometry is in a geographic CRS", UserWarning)
            centroids = zones.iloc[empty].centroid
        under = point_query(centroids, grid, affine=raster.transform, nodata=np.nan,
                            interpolate="nearest")
        out[empty] = [np.nan if v is None else v for v in under]
    return out


def contiguous_acres_baseline(cells: gpd.GeoDataFrame, layer: Any, params: dict) -> np.ndarray:
    """`sjoin(cells, cells, predicate="touches")`, keep pairs sharing an edge (not a corner),
    scipy connected components, acres summed per component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    _params("contiguous_acres", params)
    n = len(cells)
    if n == 0:
        return np.zeros(0)
    frame = gpd.GeoDataFrame(geometry=cells.geometry.values, crs=cells.crs)
    pairs = gpd.sjoin(frame, frame, predicate="touches")
    a = pairs.index.to_numpy()
    b = pairs["index_right"].to_numpy()
    shared = frame.geometry.iloc[a].intersection(frame.geometry.iloc[b], align=False).length > 1.0
    a, b = a[shared.to_numpy()], b[shared.to_numpy()]
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    acres = (cells["eligible_acres"].to_numpy(dtype=float) if "eligible_acres" in cells.columns
             else frame.area.to_numpy() / SQM_PER_ACRE)
    return pd.Series(acres).groupby(label).transform("sum").to_numpy(dtype=float)


def land_pathway_baseline(cells: gpd.GeoDataFrame, layer: Any, params: dict) -> np.ndarray:
    """The pathway columns a planner's table would hold, read with pandas: the instrument as
    text, the months as the mean of the range's ends (or one end), availability as 1/0."""
    measure = params.get("measure", "pathway")
    if measure == "pathway":
        return cells["pathway"].to_numpy(dtype=object)
    if measure == "available":
        return cells["pathway_available"].map({True: 1.0, False: 0.0}).astype(float).to_numpy()
    ends = cells[["pathway_months_low", "pathway_months_high"]].astype(float)
    basis = params.get("months_basis", "typical")
    if basis == "low":
        return ends["pathway_months_low"].to_numpy()
    if basis == "high":
        return ends["pathway_months_high"].to_numpy()
    return ends.mean(axis=1, skipna=False).to_numpy()


BASELINES: dict[str, Baseline] = {
    "distance_to": distance_to_baseline,
    "sum_within": sum_within_baseline,
    "count_within": count_within_baseline,
    "gravity_access": gravity_access_baseline,
    "attribute_at": attribute_at_baseline,
    "overlap_share": overlap_share_baseline,
    "zonal": zonal_baseline,
    "contiguous_acres": contiguous_acres_baseline,
    "land_pathway": land_pathway_baseline,
}


# --- side-by-side timing ---------------------------------------------------------------------

def _median_seconds(func: Callable[[], np.ndarray], repeat: int) -> tuple[float, np.ndarray]:
    times, out = [], None
    for _ in range(max(1, repeat)):
        gc.collect()
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def answer_difference(ours: np.ndarray, theirs: np.ndarray, rtol: float = 1e-9) -> dict[str, float | int]:
    """How far apart two answers are: max |a - b| over cells where both have a value, cells that
    differ beyond float noise (`rtol`), and cells where only one side is NaN."""
    try:
        a = np.asarray(ours, dtype=float)
        b = np.asarray(theirs, dtype=float)
    except (TypeError, ValueError):  # text answers (attribute_at on a text field): equal or not
        a_na, b_na = pd.isna(ours), pd.isna(theirs)
        both = ~a_na & ~b_na
        differ = np.asarray(ours, dtype=object)[both] != np.asarray(theirs, dtype=object)[both]
        return {"max_abs_diff": float("nan"), "cells_differ": int(differ.sum()),
                "nan_mismatch": int((a_na != b_na).sum())}
    a_nan, b_nan = np.isnan(a), np.isnan(b)
    both = ~a_nan & ~b_nan
    diff = np.abs(a[both] - b[both])
    tol = rtol * np.maximum(1.0, np.abs(a[both]))
    return {"max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "cells_differ": int((diff > tol).sum()),
            "nan_mismatch": int((a_nan != b_nan).sum())}


#: geopandas' default buffer: 16 segments a quarter circle, vertices on the circle
BUFFER_SEGMENTS = 4 * 16
#: every point within this share of the radius lies inside the inscribed polygon (its apothem)
BUFFER_APOTHEM = math.cos(math.pi / BUFFER_SEGMENTS)


def unexplained_cells(name: str, cells: gpd.GeoDataFrame, layer: Any, params: dict,
                      ours: np.ndarray, theirs: np.ndarray) -> int:
    """Cells where the answers differ beyond float noise for a reason not documented above.

    For the radius metrics the buffer polygon lies between the circles of radius R cos(pi/64)
    and R, so with non-negative values the baseline must lie between sitescore's answer at
    those two radii; any cell outside that bracket is a real disagreement. On a float32 grid
    rasterstats averages in float32, so zonal answers agree to ~1e-7 relative, not 1e-12.
    """
    if name not in ("sum_within", "count_within"):
        rtol = 1e-9
        if name == "zonal":
            p = _params(name, params)
            grid = layer.slope_percent() if p.variable == "slope_percent" else layer.values
            rtol = 1e-9 if np.dtype(grid.dtype).itemsize >= 8 else 1e-6
        d = answer_difference(ours, theirs, rtol=rtol)
        return d["cells_differ"] + d["nan_mismatch"]
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    inner = dict(params, radius_km=params["radius_km"] * BUFFER_APOTHEM * (1 - 1e-9))
    low = compute_metric(name, cells, layer, inner)
    tol = 1e-9 * np.maximum(1.0, np.abs(a))
    return int(((b < low - tol) | (b > a + tol)).sum())


def compare_metric(name: str, cells: gpd.GeoDataFrame, layer: Any, params: dict, *,
                   sample: int | None = None, repeat: int = 3, seed: int = 0) -> dict[str, Any]:
    """Time sitescore and the baseline on the same cells, in this process (medians of `repeat`).

    With `sample` (smaller than the cells), the baseline runs on `sample` random cells only and
    sitescore is timed on that same sample too; `baseline_s_full_est` scales the measured
    baseline time linearly to all cells (fixed costs such as index builds get scaled too, so the
    estimate errs high for small samples), and `ratio` compares it with sitescore on all cells.
    `ratio_measured` is the like-for-like ratio on the sample. The answers are compared on the
    measured cells. Do not sample `contiguous_acres`: a sample breaks up the blocks, so its
    timing says nothing about the full set (both answers still agree on it).
    """
    n = len(cells)
    def sitescore(c: gpd.GeoDataFrame) -> np.ndarray:
        return compute_metric(name, c, layer, params)

    def baseline(c: gpd.GeoDataFrame) -> np.ndarray:
        return BASELINES[name](c, layer, params)

    warm = cells.iloc[: min(n, 20)].reset_index(drop=True)
    sitescore(warm), baseline(warm)  # imports, raster slope cache: one-off costs left out of both

    sitescore_s, ours = _median_seconds(lambda: sitescore(cells), repeat)
    sitescore_s_measured, measured = sitescore_s, cells
    sampled = sample is not None and sample < n
    if sampled:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=sample, replace=False))
        measured = cells.iloc[idx].reset_index(drop=True)
        sitescore_s_measured, ours = _median_seconds(lambda: sitescore(measured), repeat)
    baseline_s_measured, theirs = _median_seconds(lambda: baseline(measured), repeat)
    scale = n / len(measured) if len(measured) else 1.0
    full_est = baseline_s_measured * scale
    unexplained = unexplained_cells(name, measured, layer, params, ours, theirs)
    return {
        "metric": name,
        "cells": n,
        "sitescore_s": sitescore_s,
        "sitescore_s_measured": sitescore_s_measured,
        "baseline_s_measured": baseline_s_measured,
        "baseline_cells_measured": len(measured),
        "baseline_s_full_est": full_est,
        "baseline_extrapolated": sampled,
        "ratio": full_est / sitescore_s if sitescore_s > 0 else float("inf"),
        "ratio_measured": (baseline_s_measured / sitescore_s_measured
                           if sitescore_s_measured > 0 else float("inf")),
        "repeat": repeat,
        **answer_difference(ours, theirs),
        "cells_unexplained": unexplained,
    }


# --- synthetic western-US inputs ---------------------------------------------------------------

#: EPSG:5070 box roughly over the eleven western states (1,600 x 1,900 km).
WEST_BOUNDS = (-2_300_000.0, 1_250_000.0, -700_000.0, 3_150_000.0)


def synthetic_inputs(n_cells: int = 50_000, size_km: float = 2.0, n_plants: int = 12_000,
                     n_lines: int = 85_000, n_counties: int = 3_000, n_basins: int = 2_000,
                     n_flood: int = 20_000, dem_shape: tuple[int, int] = (3000, 3000),
                     seed: int = 0) -> dict[str, Any]:
    """Candidate cells in contiguous blobs (as eligible federal land comes) and layers of
    realistic counts over the West; the DEM is geographic (EPSG:4269, like 3DEP) with a NaN
    strip so the nodata path is exercised."""
    from affine import Affine
    from rasterio.crs import CRS as RasterCRS
    from scipy import ndimage

    from sitescore.readers.terrain import Raster

    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = WEST_BOUNDS
    size = size_km * M_PER_KM
    nx, ny = int((maxx - minx) // size), int((maxy - miny) // size)
    if n_cells > nx * ny:
        raise ValueError(f"{n_cells:,} cells of {size_km:g} km do not fit in the box ({nx * ny:,})")
    field = ndimage.gaussian_filter(rng.standard_normal((ny, nx)), sigma=6)
    keep = np.sort(np.argsort(field.ravel())[-n_cells:])  # the n highest: contiguous blobs
    rr, cc = np.divmod(keep, nx)
    x0, y0 = minx + cc * size, miny + rr * size
    cells = gpd.GeoDataFrame({
        "cell_id": [f"sq{int(size)}_{c}_{r}" for c, r in zip(cc, rr, strict=True)],
        "eligible_acres": size * size / SQM_PER_ACRE * rng.uniform(0.5, 1.0, n_cells),
    }, geometry=shapely.box(x0, y0, x0 + size, y0 + size), crs=CRS)

    def points(k: int) -> np.ndarray:
        return shapely.points(rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k))

    def short_lines(k: int, min_km: float, max_km: float) -> np.ndarray:
        start = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        step = rng.uniform(min_km, max_km, k) * M_PER_KM / 3
        angle = rng.uniform(0, 2 * np.pi, k)[:, None] + rng.normal(0, 0.3, (k, 3))
        moves = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * step[:, None, None]
        coords = np.concatenate([start[:, None, :], start[:, None, :] + np.cumsum(moves, axis=1)], axis=1)
        return shapely.linestrings(coords)

    capacity = rng.lognormal(3.0, 1.5, n_plants)
    capacity[rng.random(n_plants) < 0.02] = np.nan
    plants = gpd.GeoDataFrame({"capacity_mw": capacity}, geometry=points(n_plants), crs=CRS)
    lines = gpd.GeoDataFrame(geometry=short_lines(n_lines, 1, 20), crs=CRS)
    counties = gpd.GeoDataFrame({"labor_force": rng.lognormal(9.5, 1.3, n_counties)},
                                geometry=points(n_counties), crs=CRS)
    box = shapely.box(*WEST_BOUNDS)
    seeds = shapely.multipoints(shapely.get_coordinates(points(n_basins)))
    basins = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=box)), box)
    basins = gpd.GeoDataFrame({"bws_score": rng.uniform(0, 5, len(basins))}, geometry=basins, crs=CRS)
    flood = shapely.buffer(short_lines(n_flood, 2, 30), rng.uniform(100, 1500, n_flood), quad_segs=4)
    flood = gpd.GeoDataFrame(geometry=flood, crs=CRS)

    geo = cells.to_crs("EPSG:4269").total_bounds
    west, south, east, north = geo[0] - 0.5, geo[1] - 0.5, geo[2] + 0.5, geo[3] + 0.5
    rows, cols = dem_shape
    coarse = ndimage.gaussian_filter(rng.standard_normal((rows // 10 + 1, cols // 10 + 1)), 3)
    dem = ndimage.zoom(coarse, 10, order=1)[:rows, :cols] * 4000 + 1500
    dem += rng.normal(0, 15, dem.shape)
    dem[:, : cols // 40] = np.nan  # the Pacific
    transform = Affine((east - west) / cols, 0, west, 0, -(north - south) / rows, north)
    raster = Raster(path=Path("synthetic-dem"), values=dem, transform=transform,
                    crs=RasterCRS.from_epsg(4269))
    return {"cells": cells, "plants": plants, "lines": lines, "counties": counties,
            "basins": basins, "flood": flood, "dem": raster}


#: (label, metric, layer key, params, baseline sample at 50k cells or None for all cells)
CASES: list[tuple[str, str, str | None, dict, int | None]] = [
    ("distance_to lines", "distance_to", "lines", {}, None),
    ("distance_to plants", "distance_to", "plants", {}, None),
    ("sum_within plants 80 km", "sum_within", "plants", {"field": "capacity_mw", "radius_km": 80}, None),
    ("count_within lines 10 km", "count_within", "lines", {"radius_km": 10}, None),
    ("gravity_access counties 50/150 km", "gravity_access", "counties",
     {"field": "labor_force", "decay_km": 50, "cutoff_km": 150}, 2_000),
    ("attribute_at basins", "attribute_at", "basins", {"field": "bws_score"}, None),
    ("overlap_share flood", "overlap_share", "flood", {}, None),
    ("zonal slope mean", "zonal", "dem", {"variable": "slope_percent", "stat": "mean"}, 5_000),
    ("zonal elevation max", "zonal", "dem", {"variable": "elevation", "stat": "max"}, 5_000),
    ("contiguous_acres", "contiguous_acres", None, {}, None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", action="store_true", help="never sample: run every baseline on all cells")
    parser.add_argument("--only", default="", help="comma-separated metric names or case labels")
    args = parser.parse_args()

    t0 = time.perf_counter()
    data = synthetic_inputs(args.cells, seed=args.seed)
    cells = data["cells"]
    print(f"{len(cells):,} cells of 2 km, {len(data['plants']):,} plants, {len(data['lines']):,} "
          f"lines, {len(data['counties']):,} counties, {len(data['basins']):,} basins, "
          f"{len(data['flood']):,} flood polygons, DEM {data['dem'].shape[0]}x{data['dem'].shape[1]} "
          f"(built in {time.perf_counter() - t0:.1f} s); medians of {args.repeat}\n")
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    header = (f"{'case':36} {'sitescore s':>11} {'baseline s':>11} {'on cells':>9} "
              f"{'baseline s full':>15} {'ratio':>8} {'max |diff|':>11} {'differ':>7} {'NaN≠':>5} "
              f"{'unexpl.':>7}")
    print(header)
    print("-" * len(header))
    for label, name, key, params, sample in CASES:
        if only and name not in only and label not in only:
            continue
        # the sample is sized for 50k cells; keep the same share of cells at other sizes
        size = None if args.full or sample is None else max(200, int(sample * len(cells) / 50_000))
        r = compare_metric(name, cells, data[key] if key else None, params, sample=size,
                           repeat=args.repeat, seed=args.seed)
        est = "~" if r["baseline_extrapolated"] else " "
        print(f"{label:36} {r['sitescore_s']:11.3f} {r['baseline_s_measured']:11.3f} "
              f"{r['baseline_cells_measured']:9,} {est}{r['baseline_s_full_est']:14.2f} "
              f"{r['ratio']:7.1f}x {r['max_abs_diff']:11.3g} {r['cells_differ']:7,} "
              f"{r['nan_mismatch']:5,} {r['cells_unexplained']:7,}", flush=True)
    print("\n~ = baseline timed on the sample and scaled linearly to all cells; ratio = baseline "
          "(full) / sitescore (full).\nmax |diff| and differ compare the two answers on the "
          "measured cells (differ: beyond 1e-9 relative); unexpl.: cells whose difference is not\n"
          "a documented one (the buffer's chord band for radius metrics, float32 rounding for "
          "zonal) - must be 0.")


if __name__ == "__main__":
    main()
