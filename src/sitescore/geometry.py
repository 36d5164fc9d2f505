"""Vectorised geometry helpers shared by the stages: rectangle clips, box tests, and shapes in
the form rasterio burns fastest. Each exists because the plain shapely call costs a Python call
per geometry, which adds up to seconds at a million cells."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely


def clip_to_boxes(geoms: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Each geometry clipped to its own rectangle. `shapely.clip_by_rect` takes one rectangle per
    call; its ufunc takes one per geometry and saves a Python call for each of ~10^5 cells."""
    try:
        return shapely.lib.clip_by_rect(geoms, bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
    except (AttributeError, TypeError):  # a shapely whose ufunc wants scalars
        return np.array([shapely.clip_by_rect(g, *b) for g, b in zip(geoms, bounds, strict=True)],
                        dtype=object)


def are_boxes(geoms: np.ndarray) -> bool:
    """Whether every geometry is an axis-aligned rectangle (then a rectangle clip is exact)."""
    if len(geoms) == 0 or not np.all(shapely.get_type_id(geoms) == 3) or \
            not np.all(shapely.get_num_coordinates(geoms) == 5):
        return False
    b = shapely.bounds(geoms)
    return bool(np.allclose(shapely.area(geoms), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), rtol=1e-9))


def geojson_shapes(geoms: np.ndarray) -> list[Any]:
    """Cells as GeoJSON-like dicts for rasterio, built from one coordinate array: rasterio asks
    each shapely polygon for `__geo_interface__`, which costs more than burning it. Polygons with
    holes and multi-part cells are passed as they are."""
    geoms = np.asarray(geoms, dtype=object)
    out: list[Any] = list(geoms)
    simple = np.flatnonzero((shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0))
    if len(simple):
        coords, which = shapely.get_coordinates(shapely.get_exterior_ring(geoms[simple]), return_index=True)
        bounds = np.r_[0, np.flatnonzero(np.diff(which)) + 1, len(coords)].tolist()
        points = coords.tolist()  # one conversion, then slices of a list
        for k, i in enumerate(simple.tolist()):
            out[i] = {"type": "Polygon", "coordinates": [points[bounds[k]:bounds[k + 1]]]}
    return out


#: Lines are indexed in pieces of at most this many vertices for nearest-feature queries.
PIECE_VERTICES = 16


def short_pieces(geoms: np.ndarray, vertices: int = PIECE_VERTICES) -> np.ndarray:
    """Lines cut into consecutive pieces of at most `vertices` vertices (neighbouring pieces share
    an end point); other geometries as they are. A river crossing a state has one bounding box
    the size of the state, so a spatial index cannot rule it out for any cell there, and every
    distance to it walks all its vertices. Its pieces have small boxes, and the nearest piece is
    exactly as near as the nearest line: the distance to a line is the least distance to any
    of its segments."""
    geoms = np.asarray(geoms, dtype=object)
    parts = shapely.get_parts(geoms)
    is_line = shapely.get_type_id(parts) == 1
    lines, others = parts[is_line], parts[~is_line]
    if len(lines) == 0:
        return geoms
    coords, which = shapely.get_coordinates(lines, return_index=True)
    n = np.bincount(which, minlength=len(lines))
    step = vertices - 1
    chunks = np.maximum(1, -(-(n - 1) // step))          # pieces per line
    starts = np.repeat(np.cumsum(n) - n, chunks)          # first coordinate of each line
    k = np.arange(chunks.sum()) - np.repeat(np.cumsum(chunks) - chunks, chunks)
    first = starts + k * step
    last = np.minimum(first + step, np.repeat(np.cumsum(n) - 1, chunks))
    length = last - first + 1
    idx = np.repeat(first, length) + (np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length))
    pieces = shapely.linestrings(coords[idx], indices=np.repeat(np.arange(len(length)), length))
    return np.concatenate([pieces, others]) if len(others) else pieces
