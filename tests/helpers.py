"""Small hand-made geometries shared by the unit tests (all in EPSG:5070 metres)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

from sitescore.schema import CRS

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def square_cells(n_cols: int, n_rows: int, size: float = 1000.0, x0: float = 0.0,
                 y0: float = 0.0) -> gpd.GeoDataFrame:
    """A grid of square cells, ids c<col>_r<row>, row-major from the lower left."""
    ids, boxes = [], []
    for r in range(n_rows):
        for c in range(n_cols):
            ids.append(f"c{c}_r{r}")
            boxes.append(shapely.box(x0 + c * size, y0 + r * size, x0 + (c + 1) * size,
                                     y0 + (r + 1) * size))
    return gpd.GeoDataFrame({"cell_id": ids}, geometry=boxes, crs=CRS)


def layer(geoms, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=list(geoms), crs=CRS)
