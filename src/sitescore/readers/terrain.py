"""Terrain: a DEM read only over the study area, and slope on the ground in percent.

Slope must be a true ground grade whatever the DEM's grid: SRTM and 3DEP come in degrees, state
DEMs in feet, web tiles in Web Mercator. `Raster.slope_percent` turns pixel steps into metres on
the ellipsoid (geographic CRS) or through the projection's unit and scale factor (projected CRS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import rasterio.windows
from affine import Affine
from pyproj import CRS as ProjCRS
from pyproj import Proj, Transformer
from rasterio.crs import CRS as RasterCRS

from ..errors import ConfigError, DataError
from ..study_area import StudyArea
from .registry import LayerSource, reader
from .safety import require_file

#: Elevation unit names accepted by option `z_units` -> metres per unit.
Z_UNITS = {"m": 1.0, "metre": 1.0, "meter": 1.0, "metres": 1.0, "meters": 1.0,
           "ft": 0.3048, "foot": 0.3048, "feet": 0.3048,
           "us-ft": 1200.0 / 3937.0, "us_survey_foot": 1200.0 / 3937.0}


#: The most DEM pixels read at once (float32: 2 GB).
MAX_PIXELS = 500_000_000


@dataclass(eq=False)
class Raster:
    """A single-band grid: float32 values (NaN where nodata), affine transform, CRS.

    float32 holds any elevation to a millimetre or better and halves the memory of a state-size
    DEM and of its slope grid."""

    path: Path
    values: np.ndarray
    transform: Affine
    crs: RasterCRS
    z_factor: float = 1.0  # metres per elevation unit
    _slope: np.ndarray | None = field(default=None, init=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    def pixel_size_m(self) -> tuple[np.ndarray, np.ndarray]:
        """Ground size of a pixel in metres for each row: (east-west, north-south).

        Geographic CRS: the angular steps times the ellipsoid's parallel radius N(phi)cos(phi)
        and meridional radius M(phi) at the row's centre latitude. Projected CRS: the steps in
        the CRS's linear unit (feet -> metres) divided by the projection's point scale at the
        row's centre (sqrt(h*k): exact for conformal projections such as UTM, state plane or
        Web Mercator; within about 1 % for Albers in CONUS).
        """
        t = self.transform
        if t.b != 0 or t.d != 0:
            raise DataError("rotated or sheared rasters are not supported", file=self.path)
        rows, cols = self.values.shape
        crs = ProjCRS.from_user_input(self.crs.to_wkt())
        centre_y = t.f + t.e * (np.arange(rows) + 0.5)
        if crs.is_geographic:
            to_rad = crs.axis_info[0].unit_conversion_factor  # radians per axis unit
            ellipsoid = crs.ellipsoid
            if ellipsoid is None:
                raise DataError("the raster's geographic CRS names no ellipsoid, so its pixel size in "
                                "metres is unknown", file=self.path)
            a = ellipsoid.semi_major_metre
            inv_f = ellipsoid.inverse_flattening
            flat = 1.0 / inv_f if inv_f else 0.0
            e2 = flat * (2.0 - flat)
            lat = centre_y * to_rad
            w = np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
            prime_vertical = a / w
            meridional = a * (1.0 - e2) / w ** 3
            dx = abs(t.a) * to_rad * prime_vertical * np.cos(lat)
            dy = abs(t.e) * to_rad * np.full(rows, 1.0) * meridional
            return dx, dy
        if not crs.is_projected:
            raise DataError(f"CRS {crs.name!r} is neither geographic nor projected", file=self.path)
        to_m = crs.axis_info[0].unit_conversion_factor  # metres per axis unit
        scale = self._projection_scale(crs, np.full(rows, t.c + t.a * cols / 2.0), centre_y)
        return abs(t.a) * to_m / scale, abs(t.e) * to_m / scale

    @staticmethod
    def _projection_scale(crs: ProjCRS, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        try:
            lon, lat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(x, y)
            factors = Proj(crs).get_factors(lon, lat)
            scale = np.sqrt(np.asarray(factors.meridional_scale) *
                            np.asarray(factors.parallel_scale))
        except Exception:  # a projection PROJ cannot differentiate: take the grid as true
            return np.ones_like(x, dtype=float)
        return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)

    def slope_percent(self) -> np.ndarray:
        """Slope as 100 * rise / run on the ground, same grid as `values` (cached).

        Central differences (numpy.gradient: second order inside, one-sided on the edges) of the
        elevation in metres over the pixel size in metres. NaN propagates: a nodata cell and its
        four neighbours get NaN.
        """
        if self._slope is None:
            z = self.values.astype(np.float32, copy=False)
            if self.z_factor != 1.0:
                z = z * np.float32(self.z_factor)
            if min(z.shape) < 2:
                slope = np.full(z.shape, np.nan, dtype=np.float32)
            else:
                dx, dy = (d.astype(np.float32)[:, None] for d in self.pixel_size_m())
                dz_row, dz_col = np.gradient(z)
                dz_col /= dx
                dz_row /= dy
                slope = np.hypot(dz_col, dz_row, out=dz_col)
                del dz_row
                slope *= np.float32(100.0)
                slope[np.isnan(z)] = np.nan
            self._slope = slope
        return self._slope


def _area_window(src: rasterio.io.DatasetReader, area: StudyArea | None,
                 path: Path) -> rasterio.windows.Window:
    """The pixels under the study area's bounding box, one pixel of margin, within the raster."""
    full = rasterio.windows.Window(0, 0, src.width, src.height)
    bounds = area.bounds_in(src.crs) if area is not None else None
    if area is None or bounds is None:  # no area, or one without a geometry
        return full
    west, south, east, north = bounds
    win = rasterio.windows.from_bounds(west, south, east, north, transform=src.transform)
    col0 = max(math.floor(min(win.col_off, win.col_off + win.width)) - 1, 0)
    row0 = max(math.floor(min(win.row_off, win.row_off + win.height)) - 1, 0)
    col1 = min(math.ceil(max(win.col_off, win.col_off + win.width)) + 1, src.width)
    row1 = min(math.ceil(max(win.row_off, win.row_off + win.height)) + 1, src.height)
    if col1 <= col0 or row1 <= row0:
        raise DataError(f"the DEM does not cover the study area ({area.label})", file=path)
    return rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)


@reader("dem", "terrain", options=("band", "z_units"))
def read_dem(source: LayerSource, area: StudyArea | None) -> Raster:
    """A DEM (GeoTIFF or any GDAL raster), read only over the study area. Options: `band`
    (default 1), `z_units` of the elevations ('m' default, 'ft', 'us-ft')."""
    path = require_file(source.path)
    z_units = str(source.options.get("z_units", "m")).strip().lower()
    if z_units not in Z_UNITS:
        raise ConfigError(f"unknown elevation unit {z_units!r}; use one of m, ft, us-ft",
                          key=f"layers.{source.name}.options.z_units")
    if source.more_paths:
        return _read_tiles([path, *map(require_file, source.more_paths)], source, area, z_units)
    try:
        src = rasterio.open(path)
    except Exception as exc:
        raise DataError(f"cannot open as a raster ({_first_line(exc)})", file=path) from exc
    with src:
        if src.crs is None:
            raise DataError("has no CRS; cannot place it on the map", file=path)
        band = source.options.get("band", 1)
        if not isinstance(band, int) or not 1 <= band <= src.count:
            raise ConfigError(f"must be a band number 1..{src.count}, got {band!r}",
                              key=f"layers.{source.name}.options.band")
        t = src.transform
        if t.is_degenerate or not np.all(np.isfinite([t.a, t.b, t.c, t.d, t.e, t.f])):
            raise DataError("its geotransform is unusable (zero or infinite pixel size)", file=path)
        try:
            window = _area_window(src, area, path)
        except DataError:
            raise
        except Exception as exc:  # rasterio / pyproj: a transform or CRS they cannot use
            raise DataError(f"cannot place the study area on it ({_first_line(exc)})",
                            file=path) from exc
        if window.width * window.height > MAX_PIXELS:
            raise DataError(f"the part to read is {window.width:,} x {window.height:,} pixels, too "
                            "large to read at once; give a smaller study area", file=path)
        try:
            data = src.read(band, window=window, masked=True)
        except Exception as exc:
            raise DataError(f"cannot read raster values ({_first_line(exc)})", file=path) from exc
        values = np.ma.filled(data.astype(np.float32), np.nan)
        scale, offset = src.scales[band - 1], src.offsets[band - 1]
        if scale not in (None, 1.0) or offset not in (None, 0.0):
            values = (values * (scale or 1.0) + (offset or 0.0)).astype(np.float32)
        transform = src.window_transform(window)
        crs = src.crs
    _require_elevation(values, path, area)
    return Raster(path=path, values=values, transform=transform, crs=crs,
                  z_factor=Z_UNITS[z_units])


def _require_elevation(values: np.ndarray, path: Path, area: StudyArea | None) -> None:
    """A DEM that is nodata everywhere over the study area would leave slope missing in every
    cell and a slope constraint silently off: refused, naming the file. Partial cover is fine
    (cells off the DEM have no slope, as before)."""
    if values.size and np.isfinite(values).any():
        return
    where = f"over the study area ({area.label})" if area is not None and area.geometry is not None \
        else "in the whole raster"
    raise DataError(f"no valid elevation {where}: every pixel there is nodata", file=path)


def _read_tiles(paths: list[Path], source: LayerSource, area: StudyArea | None, z_units: str) -> Raster:
    """Tiles of one DEM (3DEP 1 x 1 degree tiles) mosaicked over the study area only."""
    from rasterio.merge import merge

    opened = []
    try:
        for p in paths:
            try:
                opened.append(rasterio.open(p))
            except Exception as exc:
                raise DataError(f"cannot open as a raster ({_first_line(exc)})", file=p) from exc
        crs = opened[0].crs
        if crs is None or any(d.crs != crs for d in opened):
            raise DataError("DEM tiles must share one CRS", file=paths[0])
        band = source.options.get("band", 1)
        bounds = area.bounds_in(crs) if area is not None and area.geometry is not None else None
        values, transform = merge(opened, bounds=bounds, indexes=[band], dtype="float32", nodata=np.nan)
    finally:
        for d in opened:
            d.close()
    _require_elevation(values[0], paths[0], area)
    return Raster(path=paths[0], values=values[0], transform=transform, crs=crs,
                  z_factor=Z_UNITS[z_units])


def _first_line(exc: BaseException) -> str:
    if "see previous exception" in str(exc).lower() and exc.__cause__ is not None:
        exc = exc.__cause__  # rasterio: the GDAL error that says what failed
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
