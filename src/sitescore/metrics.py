"""Metrics: raw, physical values per candidate cell, one registered function per metric.

Each metric takes the cells (EPSG:5070 polygons), one canonical layer and its validated params
and returns one float per cell in physical units (km, MW, people, %, share). Everything is
vectorised on shapely's STRtree; no per-cell Python loops on the hot path.
Point-like metrics measure from the cell centroid; area metrics use the whole cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import DataError
from .schema import M_PER_KM


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    func: Callable[[gpd.GeoDataFrame, Any, Any], np.ndarray]
    params: type[BaseModel]
    unit: str
    needs: Literal["vector", "raster"]
    description: str


METRICS: dict[str, MetricSpec] = {}


def metric(name: str, params: type[BaseModel], unit: str, needs: str = "vector") -> Callable:
    """Register a metric under the name configs use (`metric: distance_to`)."""

    def register(func: Callable) -> Callable:
        doc = (func.__doc__ or "").strip().splitlines()
        METRICS[name] = MetricSpec(name, func, params, unit, needs, doc[0] if doc else "")
        return func

    return register


def compute_metric(name: str, cells: gpd.GeoDataFrame, layer: Any, params: dict) -> np.ndarray:
    spec = METRICS[name]
    return spec.func(cells, layer, spec.params.model_validate(params))


def _centroids(cells: gpd.GeoDataFrame) -> np.ndarray:
    return shapely.centroid(cells.geometry.values)


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
    tree = shapely.STRtree(layer.geometry.values)
    (src, _), dist = tree.query_nearest(_centroids(cells), return_distance=True, all_matches=False)
    out[src] = dist / M_PER_KM
    return out


class RadiusParams(_Params):
    radius_km: float = Field(gt=0, description="Search radius in km.")


class SumParams(RadiusParams):
    field: str = Field(description="Numeric column summed, e.g. capacity_mw.")


def _pairs_within(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, radius_km: float):
    tree = shapely.STRtree(layer.geometry.values)
    return tree.query(_centroids(cells), predicate="dwithin", distance=radius_km * M_PER_KM)


@metric("sum_within", SumParams, "sum")
def sum_within(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, p: SumParams) -> np.ndarray:
    """Sum of a field over features within R km of the cell centroid (e.g. MW of plants)."""
    values = np.nan_to_num(_field(layer, p.field), nan=0.0)
    if len(layer) == 0:
        return np.zeros(len(cells))
    src, dst = _pairs_within(cells, layer, p.radius_km)
    return np.bincount(src, weights=values[dst], minlength=len(cells)).astype(float)


@metric("count_within", RadiusParams, "count")
def count_within(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, p: RadiusParams) -> np.ndarray:
    """Number of features within R km of the cell centroid."""
    if len(layer) == 0:
        return np.zeros(len(cells))
    src, _ = _pairs_within(cells, layer, p.radius_km)
    return np.bincount(src, minlength=len(cells)).astype(float)


class GravityParams(_Params):
    field: str = Field(description="People counted, e.g. labor_force or population.")
    decay_km: float = Field(gt=0, description="Distance at which weight falls to 1/e.")
    cutoff_km: float | None = Field(None, gt=0, description="Ignore sources beyond this (default 3 x decay).")
    decay: Literal["exponential", "gaussian"] = "exponential"

    @model_validator(mode="after")
    def _cutoff(self) -> GravityParams:
        if self.cutoff_km is None:
            self.cutoff_km = 3 * self.decay_km
        return self


#: Cells are summed in blocks of this many metres a side: one distance matrix per block against
#: the sources within reach of the block, which keeps numpy busy and memory bounded.
GRAVITY_BLOCK_M = 32_000.0


@metric("gravity_access", GravityParams, "people")
def gravity_access(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, p: GravityParams) -> np.ndarray:
    """People reachable: sum over sources within the cut-off of value x decay(distance).

    Polygon sources (counties, tracts) count from their interior representative point.
    Tens of thousands of tracts within 150 km of a million cells make ~10^8-10^9 pairs, too many to
    list: each block of nearby cells takes one dense distance matrix against the sources that can
    reach it. A block is fixed by its place on the map, never by which other cells are scored, so a
    cell's value is the same whether the cells are scored all together or in partitions.
    """
    from scipy.spatial import cKDTree
    from scipy.spatial.distance import cdist

    values = np.nan_to_num(_field(layer, p.field), nan=0.0)
    out = np.zeros(len(cells))
    if len(layer) == 0 or len(cells) == 0:
        return out
    geoms = layer.geometry.values
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    sources = shapely.get_coordinates(points)
    targets = shapely.get_coordinates(_centroids(cells))
    cutoff, decay = p.cutoff_km * M_PER_KM, p.decay_km * M_PER_KM
    tree = cKDTree(sources)
    block = np.floor(targets / GRAVITY_BLOCK_M).astype(np.int64)
    keys, first, inverse = np.unique(block, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(inverse.ravel(), kind="stable")
    starts = np.searchsorted(inverse.ravel()[order], np.arange(len(keys) + 1))
    reach = cutoff + GRAVITY_BLOCK_M * np.sqrt(0.5)  # from the block's centre to any source in reach
    for k, key in enumerate(keys):
        near = tree.query_ball_point((key + 0.5) * GRAVITY_BLOCK_M, reach, return_sorted=True)
        if not near:
            continue
        members = order[starts[k]:starts[k + 1]]
        d = cdist(targets[members], sources[near])
        scaled = d / decay
        w = np.exp(-scaled) if p.decay == "exponential" else np.exp(-0.5 * scaled * scaled)
        w[d > cutoff] = 0.0
        out[members] = (w * values[near]).sum(axis=1)
    return out


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
    pieces = shapely.intersection(cell_geoms[src], layer_geoms[dst])
    counts = np.bincount(src, minlength=len(cells))
    single = counts[src] == 1
    out += np.bincount(src[single], weights=shapely.area(pieces[single]), minlength=len(cells))
    multi = np.unique(src[~single])
    for i in multi:  # only cells touched by several overlapping features need a union
        out[i] = shapely.area(shapely.union_all(pieces[src == i]))
    return np.clip(out / shapely.area(cell_geoms), 0.0, 1.0)


class ZonalParams(_Params):
    variable: Literal["slope_percent", "elevation"] = "slope_percent"
    stat: Literal["mean", "max", "min"] = "mean"


@metric("zonal", ZonalParams, "raster", needs="raster")
def zonal(cells: gpd.GeoDataFrame, raster: Any, p: ZonalParams) -> np.ndarray:
    """Raster statistic over each cell (pixel centres inside the cell; a cell smaller than a pixel
    takes the pixel under its centroid). NaN where the raster has no data."""
    from rasterio.features import rasterize
    from rasterio.transform import rowcol

    grid = raster.slope_percent() if p.variable == "slope_percent" else raster.values
    n = len(cells)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    geoms = cells.to_crs(raster.crs).geometry.values
    ids = rasterize(((g, i + 1) for i, g in enumerate(geoms)), out_shape=grid.shape,
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
    empty = np.flatnonzero(~has)
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
