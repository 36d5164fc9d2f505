"""DEM reader and slope: the real SRTM Zion tile, and synthetic planes of known grade in a
projected metre CRS, a projected US-feet CRS and a geographic (degree) CRS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Geod, Transformer
from rasterio.transform import from_origin

from helpers import layer_source, shared_file
from sitescore.errors import ConfigError, DataError
from sitescore.readers import read_layer
from sitescore.readers.terrain import Raster
from sitescore.study_area import bbox_area

GEOD = Geod(ellps="WGS84")


def dem(path: Path, area=None, options: dict | None = None) -> Raster:
    return read_layer(layer_source("dem", path, name="terrain", **(options or {})), area)


def write_tif(path: Path, values: np.ndarray, transform, crs, nodata=None) -> Path:
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1],
                       count=1, dtype=values.dtype, crs=crs, transform=transform,
                       nodata=nodata) as dst:
        dst.write(values, 1)
    return path


# --- real SRTM ---------------------------------------------------------------------------

@pytest.mark.shared_data
def test_srtm_zion_elevation_and_slope():
    raster = dem(shared_file("dem/srtm_zion_UT.tif"))
    assert raster.values.shape == (457, 465)
    assert raster.values.dtype == np.float32  # any elevation to a millimetre, half the memory
    assert raster.crs.to_epsg() == 4326
    assert np.nanmin(raster.values) == 1024 and np.nanmax(raster.values) == 2892
    slope = raster.slope_percent()
    assert slope.shape == raster.values.shape
    assert not np.isnan(slope).any()
    assert 5 < np.median(slope) < 60
    assert slope.min() >= 0 and slope.max() < 500
    # 3 arc-seconds at 37.3 N: about 73.8 m east-west and 92.5 m north-south
    dx, dy = raster.pixel_size_m()
    assert dx.mean() == pytest.approx(73.8, abs=0.3) and dy.mean() == pytest.approx(92.5, abs=0.2)
    assert raster.slope_percent() is slope       # cached


@pytest.mark.shared_data
def test_srtm_zion_window_to_study_area():
    path = shared_file("dem/srtm_zion_UT.tif")
    full = dem(path)
    area = bbox_area([-113.10, 37.20, -113.00, 37.30], "inside Zion")
    part = dem(path, area)
    rows, cols = part.values.shape
    assert rows < 457 and cols < 465 and rows * cols < full.values.size / 4
    # the window covers the area's box and is the same pixels as the whole read
    west, south, east, north = area.bounds_in(part.crs)
    t = part.transform
    assert t.c <= west and t.f >= north
    assert t.c + t.a * cols >= east and t.f + t.e * rows <= south
    col0 = round((t.c - full.transform.c) / full.transform.a)
    row0 = round((t.f - full.transform.f) / full.transform.e)
    np.testing.assert_array_equal(part.values, full.values[row0:row0 + rows, col0:col0 + cols])


@pytest.mark.shared_data
def test_srtm_area_outside_dem_is_an_error():
    with pytest.raises(DataError, match="does not cover"):
        dem(shared_file("dem/srtm_zion_UT.tif"), bbox_area([-106.9, 32.0, -106.5, 32.4]))


# --- synthetic planes of known grade ------------------------------------------------------

def test_projected_metre_plane_10_percent(tmp_path):
    # UTM 12N at its central meridian (scale 0.9996): 30 m pixels, rising 10 % to the east
    rows, cols, size = 40, 50, 30.0
    x0, y0 = 500_000.0 - cols * size / 2, 4_100_000.0
    z = np.tile(0.10 * size * np.arange(cols), (rows, 1)).astype("float32") + 1500
    path = write_tif(tmp_path / "utm.tif", z, from_origin(x0, y0, size, size), "EPSG:26912")
    slope = dem(path).slope_percent()
    np.testing.assert_allclose(slope, 10.0, atol=0.05)


def test_projected_north_grade_and_nodata_propagation(tmp_path):
    rows, cols, size = 30, 30, 10.0
    z = np.repeat((0.10 * size * np.arange(rows))[::-1, None], cols, axis=1).astype("float32")
    z[15, 15] = -9999
    path = write_tif(tmp_path / "utm_nodata.tif", z, from_origin(500_000, 4_000_000, size, size),
                     "EPSG:26912", nodata=-9999)
    raster = dem(path)
    assert np.isnan(raster.values[15, 15])
    slope = raster.slope_percent()
    nan = np.isnan(slope)
    assert nan[15, 15] and nan[14, 15] and nan[16, 15] and nan[15, 14] and nan[15, 16]
    assert nan.sum() == 5
    np.testing.assert_allclose(slope[~nan], 10.0, atol=0.05)


def test_projected_feet_crs_plane_10_percent(tmp_path):
    # NAD83 / Arizona Central (ft), EPSG:2223: 100 ft pixels near the central meridian,
    # elevations in metres rising 10 % of the ground distance to the east
    rows, cols, size_ft = 20, 30, 100.0
    x0 = 700_000.0 / 0.3048 - cols * size_ft / 2
    z = np.tile(0.10 * size_ft * 0.3048 * np.arange(cols), (rows, 1)).astype("float64")
    path = write_tif(tmp_path / "az_ft.tif", z, from_origin(x0, 1_000_000.0, size_ft, size_ft),
                     "EPSG:2223")
    np.testing.assert_allclose(dem(path).slope_percent(), 10.0, atol=0.05)
    # the same grid with elevations in feet needs z_units: ft
    z_ft = z / 0.3048
    path_ft = write_tif(tmp_path / "az_ft_zft.tif", z_ft,
                        from_origin(x0, 1_000_000.0, size_ft, size_ft), "EPSG:2223")
    np.testing.assert_allclose(dem(path_ft, options={"z_units": "ft"}).slope_percent(), 10.0,
                               atol=0.05)


def test_geographic_plane_east_grade(tmp_path):
    # 3 arc-second pixels at 37 N; each row rises 10 % of its own geodesic pixel width
    res = 1.0 / 1200.0
    rows, cols, lon0, lat0 = 60, 80, -113.2, 37.5
    lats = lat0 - res * (np.arange(rows) + 0.5)
    width = np.array([GEOD.inv(lon0, la, lon0 + res, la)[2] for la in lats])
    z = 0.10 * width[:, None] * np.arange(cols)[None, :] + 1000.0
    path = write_tif(tmp_path / "geo_east.tif", z, from_origin(lon0, lat0, res, res), "EPSG:4326")
    raster = dem(path)
    np.testing.assert_allclose(raster.slope_percent(), 10.0, atol=0.05)
    # pixel widths on the ellipsoid, not a sphere (which would be 0.2 % off here)
    np.testing.assert_allclose(raster.pixel_size_m()[0], width, rtol=1e-5)


def test_geographic_plane_north_grade_at_high_latitude(tmp_path):
    # 1 arc-second pixels at 64 N (a degree-based grid is badly non-square there)
    res = 1.0 / 3600.0
    rows, cols, lon0, lat0 = 50, 40, -147.8, 64.9
    lats = lat0 - res * (np.arange(rows) + 0.5)
    south = np.array([GEOD.inv(lon0, lats[0], lon0, la)[2] for la in lats])
    z = np.repeat((200.0 + 0.10 * south)[:, None], cols, axis=1)
    path = write_tif(tmp_path / "geo_north.tif", z, from_origin(lon0, lat0, res, res), "EPSG:4326")
    raster = dem(path)
    np.testing.assert_allclose(raster.slope_percent(), 10.0, atol=0.05)
    dx, dy = raster.pixel_size_m()
    np.testing.assert_allclose(dy[1:-1], np.diff(south)[1:], rtol=1e-4)
    assert dx[0] == pytest.approx(GEOD.inv(lon0, lats[0], lon0 + res, lats[0])[2], rel=1e-5)


def test_web_mercator_plane_uses_projection_scale(tmp_path):
    # EPSG:3857 at 37 N stretches ground distances by about 1.25: the grade must be on the ground
    rows, cols, size = 30, 40, 100.0
    x0, y0 = -12_600_000.0, 4_450_000.0
    to_geo = Transformer.from_crs(3857, 4326, always_xy=True)
    ys = y0 - size * (np.arange(rows) + 0.5)
    lon_a, lat_a = to_geo.transform(np.full(rows, x0 + size * 0.5), ys)
    lon_b, lat_b = to_geo.transform(np.full(rows, x0 + size * 1.5), ys)
    width = np.asarray(GEOD.inv(lon_a, lat_a, lon_b, lat_b)[2])
    z = 0.10 * width[:, None] * np.arange(cols)[None, :]
    path = write_tif(tmp_path / "webmerc.tif", z, from_origin(x0, y0, size, size), "EPSG:3857")
    np.testing.assert_allclose(dem(path).slope_percent(), 10.0, atol=0.05)


# --- errors ------------------------------------------------------------------------------

def test_raster_without_crs_is_an_error(tmp_path):
    z = np.zeros((5, 5), dtype="float32")
    path = write_tif(tmp_path / "nocrs.tif", z, from_origin(0, 5, 1, 1), None)
    with pytest.raises(DataError, match="no CRS") as err:
        dem(path)
    assert str(path) in str(err.value)


def test_unreadable_raster_is_an_error(tmp_path):
    path = tmp_path / "broken.tif"
    path.write_text("not a GeoTIFF")
    with pytest.raises(DataError, match="cannot open as a raster"):
        dem(path)
    with pytest.raises(DataError, match="file not found"):
        dem(tmp_path / "missing.tif")


def test_bad_options(tmp_path):
    z = np.zeros((5, 5), dtype="float32")
    path = write_tif(tmp_path / "z.tif", z, from_origin(500_000, 4_000_000, 30, 30), "EPSG:26912")
    with pytest.raises(ConfigError, match="z_units"):
        dem(path, options={"z_units": "furlong"})
    with pytest.raises(ConfigError, match="band"):
        dem(path, options={"band": 2})


def test_dem_tiles_are_mosaicked_over_the_study_area(tmp_path):
    """3DEP ships 1 x 1 degree tiles; a dataset fetched as several tiles reads as one raster."""
    import rasterio
    from rasterio.transform import from_origin

    from sitescore.study_area import bbox_area

    paths = []
    for i, west in enumerate((-108.0, -107.0)):
        path = tmp_path / f"USGS_1_n36w{int(-west):03d}.tif"
        data = np.full((100, 100), 1000.0 + 100 * i, dtype="float32")
        with rasterio.open(path, "w", driver="GTiff", width=100, height=100, count=1, dtype="float32",
                           crs="EPSG:4269", transform=from_origin(west, 36.0, 0.01, 0.01),
                           nodata=-9999) as dst:
            dst.write(data, 1)
        paths.append(path)
    src = layer_source("dem", paths[0], name="terrain")
    from dataclasses import replace
    src = replace(src, more_paths=(paths[1],))
    raster = read_layer(src, bbox_area([-107.3, 35.2, -106.7, 35.8]))
    # the window spans the seam: west part from tile 1 (1000 m), east part from tile 2 (1100 m)
    assert set(np.unique(raster.values[np.isfinite(raster.values)])) == {1000.0, 1100.0}
    assert raster.values.shape[1] < 200 and raster.values.shape[0] < 100
