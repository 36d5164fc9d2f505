"""The demo DEM: a GeoTIFF (EPSG:4326, 0.001 deg, int16) with a flat basin, mountains and a
few SRTM-like voids."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

DEM_RES = 0.001
DEM_BOUNDS = (-113.02, 34.58, -111.78, 35.52)
DEM_NODATA = -32768


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def dem_elevation(rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    """Elevation (m, float) on the DEM grid, and its geotransform: a flat basin (under 2 %
    slope) where the BLM expanse lies, mountains (well over 10 %) in the north-east, east,
    south-west, south and north-west, and a granite inselberg inside the basin."""
    from affine import Affine

    west, south, east, north = DEM_BOUNDS
    ncols = round((east - west) / DEM_RES)
    nrows = round((north - south) / DEM_RES)
    lon = west + (np.arange(ncols) + 0.5) * DEM_RES
    lat = north - (np.arange(nrows) + 0.5) * DEM_RES
    lon2, lat2 = np.meshgrid(lon, lat)
    kx = 111.32 * math.cos(math.radians(35.05))
    ky = 110.95
    x = (lon2 + 112.4) * kx  # km east of -112.4
    y = (lat2 - 35.05) * ky  # km north of 35.05

    # basin floor: gentle rise to the north-east, soft undulations
    base = 1350.0 + 1.6 * y + 0.9 * x + 6.0 * np.sin(x / 2.1) * np.cos(y / 1.7)
    tw = 0.007  # zone edge softness, degrees

    def rect(w: float, s: float, e: float, n: float) -> np.ndarray:
        return (_sigmoid((lon2 - w) / tw) * _sigmoid((e - lon2) / tw) *
                _sigmoid((lat2 - s) / tw) * _sigmoid((n - lat2) / tw))

    zones = [(-112.26, 35.275, -111.70, 35.60), (-112.01, 34.50, -111.70, 35.165),
             (-113.10, 34.50, -112.66, 34.77), (-112.62, 34.50, -112.18, 34.715),
             (-113.10, 35.36, -112.84, 35.60)]
    mask = np.zeros_like(x)
    for z in zones:
        mask = np.maximum(mask, rect(*z))
    r = np.hypot(lon2 + 112.80, (lat2 - 34.925) * 1.2)
    inselberg = _sigmoid((0.030 - r) / 0.004)
    mask = np.maximum(mask, inselberg)

    phases = rng.uniform(0, 2 * math.pi, 4)
    relief = (300.0
              + 140.0 * np.sin(2 * math.pi * x / 3.7 + phases[0]) *
              np.sin(2 * math.pi * y / 4.3 + phases[1])
              + 90.0 * np.sin(2 * math.pi * (x + y) / 2.9 + phases[2])
              + 60.0 * np.cos(2 * math.pi * (x - 0.6 * y) / 2.3 + phases[3]))
    for w, s, e, n in zones:
        for _ in range(14):
            px, py = rng.uniform(w, e), rng.uniform(s, n)
            amp, sig = rng.uniform(250, 650), rng.uniform(1.3, 2.6)
            # only the window within 4 sigma of the peak
            c0, c1 = np.searchsorted(lon, [px - 4 * sig / kx, px + 4 * sig / kx])
            r0, r1 = np.searchsorted(-lat, [-(py + 4 * sig / ky), -(py - 4 * sig / ky)])
            if c1 <= c0 or r1 <= r0:
                continue
            dx = (lon2[r0:r1, c0:c1] - px) * kx
            dy = (lat2[r0:r1, c0:c1] - py) * ky
            relief[r0:r1, c0:c1] += amp * np.exp(-0.5 * (dx ** 2 + dy ** 2) / sig ** 2)
    elev = base + mask * relief
    transform = Affine(DEM_RES, 0.0, west, 0.0, -DEM_RES, north)
    return elev, transform


def _write_dem(path: Path, rng: np.random.Generator) -> None:
    import rasterio

    elev, transform = dem_elevation(rng)
    data = np.round(elev).astype(np.int16)
    nrows, ncols = data.shape
    # SRTM-like voids: a small hole in the north-east mountains and a few lone pixels
    r0 = int((DEM_BOUNDS[3] - 35.42) / DEM_RES)
    c0 = int((-111.95 - DEM_BOUNDS[0]) / DEM_RES)
    data[r0:r0 + 4, c0:c0 + 5] = DEM_NODATA
    for _ in range(6):
        data[rng.integers(0, nrows), rng.integers(0, ncols)] = DEM_NODATA
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "width": ncols, "height": nrows, "count": 1,
               "dtype": "int16", "crs": "EPSG:4326", "transform": transform,
               "nodata": DEM_NODATA, "compress": "deflate", "predictor": 2, "tiled": True,
               "blockxsize": 256, "blockysize": 256}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(AREA_OR_POINT="Area")
        dst.set_band_unit(1, "metre")
