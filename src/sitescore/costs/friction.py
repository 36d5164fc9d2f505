"""The friction surface: what a kilometre of route costs relative to flat open ground.

One raster in EPSG:5070 over the candidate cells and a margin, aligned to multiples of its cell
size. Per pixel: the slope multiplier of the unit-cost table for the pixel's slope (from the DEM,
averaged onto the grid), or the table's route factor where no DEM covers it; excluded land is
impassable (-1, which scikit-image's MCP never crosses) or a multiplier. Lines and points are
burnt as the pixels a route may end on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from affine import Affine

from ..errors import ConfigError
from ..schema import CRS, M_PER_KM
from .unit_costs import SlopeMultiplier

#: Terrain class of a pixel no DEM covers (its friction is the route factor).
NO_DEM = -1


@dataclass(frozen=True)
class Grid:
    """A north-up raster in EPSG:5070: its transform, shape and cell size in metres."""

    transform: Affine
    shape: tuple[int, int]
    cell_m: float

    @property
    def cell_km(self) -> float:
        return self.cell_m / M_PER_KM

    def pixels(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, inside) of points (n x 2, metres)."""
        cols = np.floor((xy[:, 0] - self.transform.c) / self.cell_m).astype(np.int64)
        rows = np.floor((self.transform.f - xy[:, 1]) / self.cell_m).astype(np.int64)
        inside = (rows >= 0) & (rows < self.shape[0]) & (cols >= 0) & (cols < self.shape[1])
        return rows, cols, inside

    def centres(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Pixel centres (n x 2, metres)."""
        x = self.transform.c + (np.asarray(cols) + 0.5) * self.cell_m
        y = self.transform.f - (np.asarray(rows) + 0.5) * self.cell_m
        return np.column_stack([x, y])


def grid_around(bounds: tuple[float, float, float, float], cell_km: float, margin_km: float,
                max_cells: int) -> Grid:
    """The grid over `bounds` (metres) and `margin_km` beyond, edges on multiples of the cell."""
    size = cell_km * M_PER_KM
    margin = margin_km * M_PER_KM
    x0 = math.floor((bounds[0] - margin) / size) * size
    y0 = math.floor((bounds[1] - margin) / size) * size
    x1 = math.ceil((bounds[2] + margin) / size) * size
    y1 = math.ceil((bounds[3] + margin) / size) * size
    rows, cols = round((y1 - y0) / size), round((x1 - x0) / size)
    if rows * cols > max_cells:
        raise ConfigError(f"the friction raster would be {cols:,} x {rows:,} cells, more than "
                          f"costs.max_raster_cells ({max_cells:,}); raise costs.resolution_km "
                          f"(now {cell_km:g} km) or lower costs.margin_km", key="costs.resolution_km")
    return Grid(Affine(size, 0.0, x0, 0.0, -size, y1), (rows, cols), size)


def slope_on_grid(raster: Any, grid: Grid) -> np.ndarray:
    """The DEM's slope (percent) averaged onto the grid; NaN where the DEM has no data."""
    from rasterio.warp import Resampling, reproject

    out = np.full(grid.shape, np.nan, dtype=np.float32)
    reproject(source=raster.slope_percent().astype(np.float32, copy=False), destination=out,
              src_transform=raster.transform, src_crs=raster.crs, src_nodata=np.nan,
              dst_transform=grid.transform, dst_crs=CRS, dst_nodata=np.nan,
              resampling=Resampling.average)
    return out


def terrain_classes(slope: np.ndarray | None, rows: list[SlopeMultiplier],
                    shape: tuple[int, int]) -> np.ndarray:
    """Per pixel the index of the steepest slope row it reaches (0 = flatter than all, 1.. the
    rows in order), NO_DEM where there is no slope."""
    if slope is None:
        return np.full(shape, NO_DEM, dtype=np.int8)
    thresholds = np.array([r.min_slope_percent for r in rows], dtype=np.float32)
    classes = np.searchsorted(thresholds, slope, side="right").astype(np.int8)
    classes[~np.isfinite(slope)] = NO_DEM
    return classes


def class_multipliers(rows: list[SlopeMultiplier], level: str, route_factor: float) -> np.ndarray:
    """Multiplier per terrain class, indexed by class + 1: [no DEM, flat, row 1, row 2, ...]."""
    return np.array([route_factor, 1.0, *(getattr(r, level) for r in rows)])


def friction(classes: np.ndarray, multipliers: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Friction per pixel: the class multiplier times the excluded-land factor (-1 stays
    impassable)."""
    base = multipliers[classes.astype(np.int64) + 1]
    return np.where(excluded < 0, -1.0, base * excluded)


def excluded_factor(grid: Grid, excluded: Any, policy: str | float) -> np.ndarray:
    """1 on open land; on excluded land -1 (impassable) or the configured multiplier."""
    out = np.ones(grid.shape, dtype=np.float64)
    if excluded is None or len(excluded) == 0:
        return out
    mask = burn(grid, excluded.geometry.values, all_touched=False)
    out[mask] = -1.0 if policy == "impassable" else float(policy)
    return out


def burn(grid: Grid, geoms: np.ndarray, *, all_touched: bool = True) -> np.ndarray:
    """Pixels the geometries cover (lines: every pixel they touch), as a boolean grid."""
    from rasterio.features import rasterize

    geoms = np.asarray(geoms)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) == 0:
        return np.zeros(grid.shape, dtype=bool)
    box = shapely.box(*grid_bounds(grid))
    geoms = geoms[shapely.intersects(geoms, box)]
    if len(geoms) == 0:
        return np.zeros(grid.shape, dtype=bool)
    shapes = ((shapely.geometry.mapping(g), 1) for g in geoms)
    return rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0,
                     all_touched=all_touched, dtype="uint8").astype(bool)


def grid_bounds(grid: Grid) -> tuple[float, float, float, float]:
    t = grid.transform
    return (t.c, t.f - grid.shape[0] * grid.cell_m, t.c + grid.shape[1] * grid.cell_m, t.f)
