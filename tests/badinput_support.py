"""Small, valid input files in the published schemas the readers use (PAD-US, HIFLD lines, a
shortlist CSV, GPPD and OurAirports CSVs, a GeoTIFF DEM, Census states), written to a folder, and a
study config over them. test_bad_input breaks them one way at a time; test_fuzz mutates them."""

from __future__ import annotations

import shutil
import textwrap
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.transform import from_origin

#: The BLM parcel the grid study scores (New Mexico, west of Socorro), lon/lat.
PARCEL = (-106.6, 34.1, -106.4, 34.3)
#: The study area's box: the parcel and some land around it.
BBOX = [-106.8, 34.0, -106.2, 34.4]


def padus_frame(geoms=None, **columns) -> gpd.GeoDataFrame:
    """PAD-US Fee records (the published field names) managed by BLM, one per geometry."""
    geoms = list(geoms) if geoms is not None else [shapely.box(*PARCEL)]
    n = len(geoms)
    data = {"Unit_Nm": [f"Socorro Field Office {i}" for i in range(n)], "Own_Type": ["FED"] * n,
            "Own_Name": ["BLM"] * n, "Mang_Type": ["FED"] * n, "Mang_Name": ["BLM"] * n,
            "Des_Tp": ["PUB"] * n, "GAP_Sts": ["4"] * n, "State_Nm": ["NM"] * n,
            "GIS_Acres": ["9000"] * n}
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


def lines_frame(**columns) -> gpd.GeoDataFrame:
    """HIFLD Electric Power Transmission Lines: one 345 kV line through the study area."""
    data = {"ID": ["100"], "VOLTAGE": [345.0], "VOLT_CLASS": ["345"], "STATUS": ["IN SERVICE"],
            "OWNER": ["PNM"]}
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=[shapely.LineString([(-106.5, 33.5), (-106.5, 35.0)])],
                            crs="EPSG:4326")


def states_frame() -> gpd.GeoDataFrame:
    """Census cartographic boundary states (STATEFP, STUSPS, NAME): New Mexico as a box."""
    return gpd.GeoDataFrame({"STATEFP": ["35"], "STUSPS": ["NM"], "NAME": ["New Mexico"]},
                            geometry=[shapely.box(-109.05, 31.33, -103.0, 37.0)], crs="EPSG:4326")


def write_dem(path: Path, grade: float = 0.02) -> Path:
    """A GeoTIFF DEM (EPSG:4326, 0.005 deg) rising eastwards by `grade` (0.02 = 2 % slope)."""
    cols, rows, step = 200, 160, 0.005
    lon0, lat0 = -107.0, 34.6
    m_per_deg_lon = 111_320 * np.cos(np.radians(34.2))
    x_m = (np.arange(cols) + 0.5) * step * m_per_deg_lon
    z = np.tile(1500.0 + grade * x_m, (rows, 1)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1,
                       dtype="float32", crs="EPSG:4326", nodata=-9999.0,
                       transform=from_origin(lon0, lat0, step, step)) as dst:
        dst.write(z, 1)
    return path


def shortlist_table() -> pd.DataFrame:
    return pd.DataFrame({"id": ["A", "B"], "name": ["Alpha", "Beta"], "lon": ["-106.3", "-106.0"],
                         "lat": ["34.2", "34.3"], "radius_km": ["2", ""]})


def gppd_table() -> pd.DataFrame:
    """WRI GPPD USA source CSV columns (the ones the reader uses, and a few more)."""
    return pd.DataFrame({
        "country": ["USA", "USA"], "country_long": ["United States of America"] * 2,
        "name": ["Plant One", "Plant Two"], "gppd_idnr": ["USA0001234", "USA0005678"],
        "capacity_mw": ["250.0", "1200.5"], "latitude": ["34.2", "34.0"],
        "longitude": ["-106.7", "-106.3"], "primary_fuel": ["Gas", "Solar"]})


def airports_table() -> pd.DataFrame:
    """OurAirports airports.csv columns."""
    return pd.DataFrame({
        "id": ["1", "2"], "ident": ["KONM", "NM01"], "type": ["small_airport", "closed"],
        "name": ["Socorro Municipal", "Old Strip"], "latitude_deg": ["34.0224", "34.1"],
        "longitude_deg": ["-106.903", "-106.5"], "elevation_ft": ["4875", ""],
        "continent": ["NA", "NA"], "iso_country": ["US", "US"], "iso_region": ["US-NM", "US-NM"],
        "municipality": ["Socorro", ""], "scheduled_service": ["no", "no"],
        "iata_code": ["ONM", ""]})


def write_zipped_shapefile(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    """A shapefile's parts zipped flat, as agencies publish them (read in place)."""
    work = path.parent / f".{path.stem}-shp"
    work.mkdir(exist_ok=True)
    gdf.to_file(work / f"{path.stem}.shp")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(work.iterdir()):
            zf.write(part, part.name)
    shutil.rmtree(work)
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


LAND_CONFIG = """\
    study: land
    data_dir: .
    area: {bbox: [-106.8, 34.0, -106.2, 34.4]}
    layers:
      federal_land: {reader: padus, path: padus.geojson}
      transmission_lines: {reader: hifld_transmission_lines, path: lines.geojson}
      dem: {reader: dem, path: dem.tif}
    candidates:
      source: federal_land
      agencies: [BLM]
      exclude: {buffer_km: 0}
      grid: {size_km: 2}
    criteria:
      power_line:
        metric: distance_to
        layer: transmission_lines
        value: {kind: linear, best: 0, worst: 50}
        weight: 2
      slope:
        label: Mean terrain slope
        metric: zonal
        layer: dem
        variable: slope_percent
        value: {kind: linear, best: 0, worst: 10}
        unit: "%"
        weight: 1
    constraints:
      - {criterion: slope, max: 10}
    sites: {min_site_acres: 2000, min_spacing_km: 5, max_sites: 5}
    """


#: What `land_study(dem=False)` leaves out of the config.
DEM_PARTS = ("  dem: {reader: dem, path: dem.tif}\n",
             textwrap.dedent(LAND_CONFIG).split("  slope:\n")[1].join(["  slope:\n", ""])
             .split("sites:")[0])


def land_study(folder: Path, dem: bool = True, **overrides: str) -> Path:
    """A small grid study: a PAD-US parcel, a HIFLD line and (unless `dem` is false) a DEM with a
    slope criterion and constraint, area by bbox. `overrides` replace config text (each must
    occur)."""
    folder.mkdir(parents=True, exist_ok=True)
    padus_frame().to_file(folder / "padus.geojson")
    lines_frame().to_file(folder / "lines.geojson")
    write_dem(folder / "dem.tif")
    states_frame().to_file(folder / "states.geojson")
    text = textwrap.dedent(LAND_CONFIG)
    if not dem:
        for part in DEM_PARTS:
            text = text.replace(part, "")
    for old, new in overrides.items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "land.yaml"
    path.write_text(text)
    return path
