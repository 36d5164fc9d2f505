"""Metrics: raw, physical values per candidate cell, one registered function per metric.

Each metric takes the cells (EPSG:5070 polygons), one canonical layer and its validated params
and returns one float per cell in physical units (km, MW, people, %, share). Everything is
vectorised on shapely's STRtree; no per-cell Python loops on the hot path.
Point-like metrics measure from the cell centroid; area metrics use the whole cell.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import DataError
from .geometry import are_boxes, clip_to_boxes, geojson_shapes, short_pieces
from .pathways import typical_months
from .schema import M_PER_KM

#: Longest search radius or decay distance, km (as config.MAX_DISTANCE_KM); a gravity cut-off may
#: reach three decay lengths.
MAX_RADIUS_KM = 1000.0
MAX_CUTOFF_KM = 3 * MAX_RADIUS_KM


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    func: Callable[[gpd.GeoDataFrame, Any, Any], np.ndarray]
    params: type[BaseModel]
    unit: str
    needs: Literal["vector", "raster"]
    description: str


METRICS: dict[str, MetricSpec] = {}


def metric(name: str, params: type[BaseModel], unit: str,
           needs: Literal["vector", "raster"] = "vector") -> Callable:
    """Register a metric under the name configs use (`metric: distance_to`)."""

    def register(func: Callable) -> Callable:
        doc = (func.__doc__ or "").strip().splitlines()
        METRICS[name] = MetricSpec(name, func, params, unit, needs, doc[0] if doc else "")
        return func

    return register


def compute_metric(name: str, cells: gpd.GeoDataFrame, layer: Any, params: dict) -> np.ndarray:
    spec = METRICS[name]
    return spec.func(cells, layer, spec.params.model_validate(params))


#: The centroids of the last cells scored, computed once for all of a run's point-like metrics
#: (a quarter of a second per metric at 500k cells). Held against a weak reference to the cells'
#: geometry array, which a run never changes in place.
_last_centroids: tuple[weakref.ref, np.ndarray] | None = None


def _centroids(cells: gpd.GeoDataFrame) -> np.ndarray:
    global _last_centroids
    geoms = cells.geometry.values
    last = _last_centroids
    if last is not None and last[0]() is geoms and len(last[1]) == len(cells):
        return last[1]
    centroids = shapely.centroid(geoms)
    _last_centroids = (weakref.ref(geoms), centroids)
    return centroids


def _field(layer: gpd.GeoDataFrame, field: str) -> np.ndarray:
    if field not in layer.columns:
        known = ", ".join(c for c in layer.columns if c != "geometry")
        raise DataError(f"layer has no column '{field}' (columns: {known})",
                        file=layer.attrs.get("path", "layer"), field=field)
    values = pd.to_numeric(layer[field], errors="coerce").to_numpy(dtype=float)
    return values


class NoParams(_Params):
    pass


@metric("distance_to", NoParams, "km")
def distance_to(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, p: NoParams) -> np.ndarray:
    """Km from each cell's centroid to the nearest feature of the layer (NaN if the layer is empty)."""
    out = np.full(len(cells), np.nan)
    if len(layer) == 0 or len(cells) == 0:
        return out
    geoms = layer.geometry.values
    if np.all(shapely.get_type_id(geoms) == 0):  # points: a KD-tree, twice as fast, same distances
        from scipy.spatial import cKDTree

        dist, _ = cKDTree(shapely.get_coordinates(geoms)).query(shapely.get_coordinates(_centroids(cells)))
        return dist / M_PER_KM
    tree = shapely.STRtree(short_pieces(geoms))
    (src, _), dist = tree.query_nearest(_centroids(cells), return_distance=True, all_matches=False)
    out[src] = dist / M_PER_KM
    return out


class RadiusParams(_Params):
    radius_km: float = Field(gt=0, le=MAX_RADIUS_KM, description="Search radius in km.")


class SumParams(RadiusParams):
    field: str = Field(description="Numeric column summed, e.g. capacity_mw.")


def _sum_within(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, values: np.ndarray,
                radius_km: float) -> np.ndarray:
    """Sum of `values` over features within the radius of each centroid. Points go through the
    block sums (no list of pairs: 80 km around a million cells is ~10^8 of them); lines and
    polygons through the STRtree."""
    if len(layer) == 0 or len(cells) == 0:
        return np.zeros(len(cells))
    geoms = layer.geometry.values
    radius = radius_km * M_PER_KM
    if np.all(shapely.get_type_id(geoms) == 0):
        return _block_sums(_centroids(cells), geoms, values, radius,
                           lambda d: (d <= radius).astype(float))
    src, dst = shapely.STRtree(geoms).query(_centroids(cells), predicate="dwithin", distance=radius)
    return np.bincount(src, weights=values[dst], minlength=len(cells)).astype(float)


@metric("sum_within", SumParams, "sum")
def sum_within(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, p: SumParams) -> np.ndarray:
    """Sum of a field over features within R km of the cell centroid (e.g. MW of plants)."""
    return _sum_within(cells, layer, np.nan_to_num(_field(layer, p.field), nan=0.0), p.radius_km)


@metric("count_within", RadiusParams, "count")
def count_within(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, p: RadiusParams) -> np.ndarray:
    """Number of features within R km of the cell centroid."""
    return _sum_within(cells, layer, np.ones(len(layer)), p.radius_km)


class GravityParams(_Params):
    field: str = Field(description="People counted, e.g. labor_force or population.")
    decay_km: float = Field(gt=0, le=MAX_RADIUS_KM, description="Distance at which weight falls to 1/e.")
    cutoff_km: float | None = Field(None, gt=0, le=MAX_CUTOFF_KM,
                                    description="Ignore sources beyond this (default 3 x decay).")
    decay: Literal["exponential", "gaussian"] = "exponential"

    @model_validator(mode="after")
    def _cutoff(self) -> GravityParams:
        if self.cutoff_km is None:
            self.cutoff_km = 3 * self.decay_km
        return self


#: Cells are summed in blocks of this many metres a side: one distance matrix per block against
#: the sources within reach of the block, which keeps numpy busy and memory bounded.
BLOCK_M = 32_000.0


def _block_sums(centroids: np.ndarray, points: np.ndarray, values: np.ndarray, reach_m: float,
                kernel: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """For each centroid, the sum over source points within `reach_m` of value x kernel(distance).

    Each block of nearby centroids takes one dense distance matrix against the sources that can
    reach it. A block is fixed by its place on the map, never by which other cells are scored,
    and each row is summed on its own, so a cell's value is the same bit for bit whether the
    cells are scored all together or in partitions (the Dask engine relies on it).
    """
    from scipy.spatial import cKDTree
    from scipy.spatial.distance import cdist

    out = np.zeros(len(centroids))
    if len(points) == 0 or len(centroids) == 0:
        return out
    sources = shapely.get_coordinates(points)
    targets = shapely.get_coordinates(centroids)
    tree = cKDTree(sources)
    block = np.floor(targets / BLOCK_M).astype(np.int64)
    keys, inverse = np.unique(block, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
    reach = reach_m + BLOCK_M * np.sqrt(0.5)  # from the block's centre to any source in reach
    for k, key in enumerate(keys):
        near = tree.query_ball_point((key + 0.5) * BLOCK_M, reach, return_sorted=True)
        if not near:
            continue
        members = order[starts[k]:starts[k + 1]]
        d = cdist(targets[members], sources[near])
        w = kernel(d)
        w[d > reach_m] = 0.0
        out[members] = (w * values[near]).sum(axis=1)
    return out


@metric("gravity_access", GravityParams, "people")
def gravity_access(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, p: GravityParams) -> np.ndarray:
    """People reachable: sum over sources within the cut-off of value x decay(distance).

    Polygon sources (counties, tracts) count from their interior representative point.
    """
    values = np.nan_to_num(_field(layer, p.field), nan=0.0)
    if len(layer) == 0 or len(cells) == 0:
        return np.zeros(len(cells))
    geoms = layer.geometry.values
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    decay = p.decay_km * M_PER_KM
    if p.decay == "exponential":
        kernel = lambda d: np.exp(-d / decay)  # noqa: E731
    else:
        kernel = lambda d: np.exp(-0.5 * (d / decay) ** 2)  # noqa: E731
    cutoff_km = p.cutoff_km if p.cutoff_km is not None else 3 * p.decay_km  # set by validation
    return _block_sums(_centroids(cells), points, values, cutoff_km * M_PER_KM, kernel)


class AttributeParams(_Params):
    field: str = Field(description="Column of the polygon layer read under the cell centroid.")


@metric("attribute_at", AttributeParams, "value")
def attribute_at(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, p: AttributeParams) -> np.ndarray:
    """The layer's value under the cell centroid (e.g. water stress); NaN where none covers it.

    Where polygons overlap, the first feature in file order wins, so results are deterministic.
    Text fields come back as an object array for categorical value functions.
    """
    if p.field not in layer.columns:
        _field(layer, p.field)  # raises the named error
    raw = layer[p.field]
    numeric = pd.to_numeric(raw, errors="coerce")
    is_numeric = numeric.notna().sum() >= raw.notna().sum() and raw.notna().any()
    values = numeric.to_numpy(dtype=float) if is_numeric else raw.to_numpy(dtype=object)
    out = np.full(len(cells), np.nan) if is_numeric else np.full(len(cells), None, dtype=object)
    if len(layer) == 0:
        return out
    tree = shapely.STRtree(layer.geometry.values)
    src, dst = tree.query(_centroids(cells), predicate="intersects")
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    first = np.r_[True, src[1:] != src[:-1]]
    out[src[first]] = values[dst[first]]
    return out


@metric("overlap_share", NoParams, "share")
def overlap_share(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, p: NoParams) -> np.ndarray:
    """Share (0..1) of each cell's area covered by the layer (e.g. flood zone); overlaps count once."""
    out = np.zeros(len(cells))
    if len(layer) == 0 or len(cells) == 0:
        return out
    cell_geoms = cells.geometry.values
    layer_geoms = layer.geometry.values
    tree = shapely.STRtree(layer_geoms)
    src, dst = tree.query(cell_geoms, predicate="intersects")
    if len(src) == 0:
        return out
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    if are_boxes(cell_geoms):  # grid cells: a rectangle clip, several times cheaper
        pieces = clip_to_boxes(layer_geoms[dst], shapely.bounds(cell_geoms[src]))
    else:
        pieces = shapely.intersection(cell_geoms[src], layer_geoms[dst])
    counts = np.bincount(src, minlength=len(cells))
    single = counts[src] == 1
    out += np.bincount(src[single], weights=shapely.area(pieces[single]), minlength=len(cells))
    # only cells touched by several overlapping features need a union of their pieces
    multi_src, multi_pieces = src[~single], pieces[~single]
    if len(multi_src):
        cuts = np.flatnonzero(np.diff(multi_src)) + 1
        cells_hit = multi_src[np.r_[0, cuts]]
        out[cells_hit] = [shapely.area(shapely.union_all(group)) for group in np.split(multi_pieces, cuts)]
    return np.clip(out / shapely.area(cell_geoms), 0.0, 1.0)


class ZonalParams(_Params):
    variable: Literal["slope_percent", "elevation"] = "slope_percent"
    stat: Literal["mean", "max", "min"] = "mean"


@metric("zonal", ZonalParams, "raster", needs="raster")
def zonal(cells: gpd.GeoDataFrame, raster: Any, p: ZonalParams) -> np.ndarray:
    """Raster statistic over each cell (pixel centres inside the cell; a cell smaller than a pixel
    takes the pixel under its centroid). NaN where the raster has no data."""
    from rasterio.features import rasterize
    from rasterio.transform import array_bounds, rowcol
    from rasterio.warp import transform_bounds

    grid = raster.slope_percent() if p.variable == "slope_percent" else raster.values
    n = len(cells)
    out = np.full(n, np.nan)
    if n == 0:
        return out

    # only cells over the raster are reprojected and burnt: a state DEM under a national grid
    # meets few of them (the raster's outline in the cells' CRS, with a kilometre to spare)
    x0, y0, x1, y1 = array_bounds(grid.shape[0], grid.shape[1], raster.transform)
    footprint = transform_bounds(raster.crs, cells.crs, min(x0, x1), min(y0, y1), max(x0, x1),
                                 max(y0, y1), densify_pts=101)
    margin = np.array([-M_PER_KM, -M_PER_KM, M_PER_KM, M_PER_KM])  # an array sum, not list concatenation
    west, south, east, north = np.array(footprint) + margin
    b = shapely.bounds(cells.geometry.values)
    over = np.flatnonzero((b[:, 0] <= east) & (b[:, 2] >= west) & (b[:, 1] <= north) & (b[:, 3] >= south))
    if len(over) == 0:
        return out
    geoms = np.empty(n, dtype=object)
    geoms[over] = cells.iloc[over].to_crs(raster.crs).geometry.values
    ids = rasterize(zip(geojson_shapes(geoms[over]), over + 1, strict=True), out_shape=grid.shape,
                    transform=raster.transform, fill=0, dtype="int32", all_touched=False)
    flat_ids = ids.ravel()
    flat = grid.ravel()
    ok = (flat_ids > 0) & np.isfinite(flat)
    idx = flat_ids[ok] - 1
    vals = flat[ok]
    counts = np.bincount(idx, minlength=n)
    has = counts > 0
    if p.stat == "mean":
        sums = np.bincount(idx, weights=vals, minlength=n)
        out[has] = sums[has] / counts[has]
    else:
        fill = -np.inf if p.stat == "max" else np.inf
        acc = np.full(n, fill)
        (np.maximum if p.stat == "max" else np.minimum).at(acc, idx, vals)
        out[has] = acc[has]
    # cells with no pixel centre inside: the pixel under the centroid
    empty = over[~has[over]]
    if len(empty):
        c = shapely.centroid(geoms[empty])
        rows, cols = rowcol(raster.transform, shapely.get_x(c), shapely.get_y(c))
        rows, cols = np.asarray(rows), np.asarray(cols)
        inside = (rows >= 0) & (rows < grid.shape[0]) & (cols >= 0) & (cols < grid.shape[1])
        out[empty[inside]] = grid[rows[inside], cols[inside]]
    return out


@metric("contiguous_acres", NoParams, "acres")
def contiguous_acres(cells: gpd.GeoDataFrame, layer: Any, p: NoParams) -> np.ndarray:
    """Eligible acres of the contiguous block of candidate cells each cell belongs to: the room a
    park has to grow (a data centre campus wants thousands of acres in one piece). The layer is
    the candidate land itself and is not read again."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from .candidates import cell_adjacency

    n = len(cells)
    if n == 0:
        return np.zeros(0)
    adjacency = cell_adjacency(cells)
    rows = np.repeat(np.arange(n), [len(a) for a in adjacency])
    cols = np.concatenate(adjacency) if n else np.zeros(0, dtype=int)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols.astype(int))), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    acres = cells["eligible_acres"].to_numpy(dtype=float) if "eligible_acres" in cells.columns \
        else shapely.area(cells.geometry.values) / 4046.8564224
    return np.bincount(label, weights=acres)[label]


class PathwayParams(_Params):
    measure: Literal["pathway", "months", "available"] = Field(
        default="pathway", description="What a cell's land pathway gives: its instrument code "
        "(text, for a categorical value function or exclude_values), its months (read at "
        "candidates.pathways.months_basis), or 1/0 for available land.")
    months_basis: Literal["low", "typical", "high"] = Field(
        default="typical", description="Which end of a pathway's month range `months` reads: "
        "low, high, or typical (the middle).")


@metric("land_pathway", PathwayParams, "pathway")
def land_pathway(cells: gpd.GeoDataFrame, layer: Any, p: PathwayParams) -> np.ndarray:
    """The legal path by which each cell's land could become a park (data/land_pathways.yaml):
    its instrument, typical months or availability. The layer is the candidate land itself (its
    pathways came with the cells) and is not read again; missing where the table knew no rule,
    and everywhere for a shortlist whose config names no land layer for it."""
    if "pathway" not in cells.columns:  # a shortlist with no candidates.pathways.land: said
        return np.full(len(cells), None if p.measure == "pathway" else np.nan,
                       dtype=object if p.measure == "pathway" else float)
    if p.measure == "pathway":
        return cells["pathway"].to_numpy(dtype=object)
    if p.measure == "available":
        avail = cells["pathway_available"].to_numpy(dtype=object)
        return np.array([np.nan if a is None or a is pd.NA or (isinstance(a, float) and np.isnan(a))
                         else float(bool(a)) for a in avail], dtype=float)
    return typical_months(cells["pathway_months_low"].to_numpy(dtype=float),
                          cells["pathway_months_high"].to_numpy(dtype=float), p.months_basis)


class ReadinessParams(_Params):
    component: str = Field("total", description="total, or one connection of the costs section "
                                                "(power, water, ...) or grading.")


@metric("readiness_cost", ReadinessParams, "M$")
def readiness_cost(cells: gpd.GeoDataFrame, layer: Any, p: ReadinessParams) -> np.ndarray:
    """Million $ (base unit costs) to make a park ready at the cell: least-cost connection routes
    to power, water, road, rail (the config's costs section) and grading; missing if one is out of
    reach. The layer is the run's cost model; the criterion names any layer the section reads."""
    from .costs import CostModel, cell_costs
    from .errors import ConfigError

    if not isinstance(layer, CostModel):
        raise ConfigError("metric readiness_cost needs the config's costs: section (its "
                          "connections and unit costs)", key="costs")
    return cell_costs(layer, cells, p.component)
