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
        return np.array([shapely.clip_by_rect(g, *b) for g, b in zip(geoms, bounds)], dtype=object)


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
