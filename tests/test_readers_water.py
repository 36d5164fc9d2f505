"""Water readers: Natural Earth rivers, NHD flowlines, WRI Aqueduct baseline water stress.

NHD and Aqueduct are not in ../shared/data, so small files are written here in their published
schemas (the document is named beside each one); the real Natural Earth zip is read in place.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import LineString, box

from helpers import ARIZONA, SHARED_DATA, layer_source, shared_file, write_frame
from sitescore.errors import ConfigError, DataError
from sitescore.readers import READERS, read_layer
from sitescore.schema import CRS
from sitescore.study_area import bbox_area

# --- Natural Earth --------------------------------------------------------------------------

@pytest.mark.shared_data
def test_natural_earth_zip_read_in_place_world():
    path = shared_file("water/ne_50m_rivers_lake_centerlines.zip")
    assert pyogrio.read_info(path)["features"] == 462
    out = read_layer(layer_source("natural_earth_rivers", path, name="rivers",
                                  data_dir=SHARED_DATA))
    # one feature (the Loire, ne_id 1159129677) has no geometry in Natural Earth 4.1.0
    assert out.attrs["dropped"] == 1
    assert len(out) == 461
    assert set(out["feature_class"]) == {"River", "Lake Centerline"}
    assert out.crs == CRS


@pytest.mark.shared_data
def test_natural_earth_arizona_study_area():
    path = shared_file("water/ne_50m_rivers_lake_centerlines.zip")
    out = read_layer(layer_source("natural_earth_rivers", path, name="rivers",
                                  data_dir=SHARED_DATA), bbox_area(ARIZONA))
    assert {"Colorado", "Gila"} <= set(out["name"])
    assert len(out) < 20


@pytest.mark.shared_data
def test_natural_earth_arizona_geojson():
    path = shared_file("water/ne_50m_rivers_lake_centerlines_az.geojson")
    out = read_layer(layer_source("natural_earth_rivers", path, name="rivers",
                                  data_dir=SHARED_DATA))
    assert sorted(zip(out["name"], out["feature_class"], strict=True)) == [
        ("Colorado", "Lake Centerline"), ("Colorado", "River"), ("Gila", "River")]


# --- NHD ------------------------------------------------------------------------------------
# Schema: USGS National Hydrography Dataset, NHD (High Resolution) data model / NHD User Guide
# and Feature Catalog: NHDFlowline fields Permanent_Identifier, FDate, Resolution, GNIS_ID,
# GNIS_Name, LengthKM, ReachCode, FlowDir, WBArea_Permanent_Identifier, FType (integer: 334
# Connector, 336 CanalDitch, 420 UndergroundConduit, 428 Pipeline, 460 StreamRiver,
# 558 ArtificialPath, 566 Coastline), FCode, MainPath, InNetwork, VisibilityFilter. NAD83.
# NHDPlus Version 2 User Guide (McKay et al.): NHDFlowline.shp with COMID, FDATE, RESOLUTION,
# GNIS_ID, GNIS_NAME, LENGTHKM, REACHCODE, FLOWDIR, WBAREACOMI, FTYPE (text, e.g.
# 'StreamRiver'), FCODE.

FLOWLINES = [
    # GNIS name, FType, FCode
    ("Salt River", 460, 46006),
    ("Verde River", 460, 46006),
    (None, 558, 55800),            # artificial path through Saguaro Lake
    ("Arizona Canal", 336, 33600),
    (None, 428, 42800),
]


def int32(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Integer fields as 32-bit, as the published geodatabases store them."""
    ints = [c for c in gdf.columns if gdf[c].dtype.kind == "i"]
    return gdf.astype({c: "int32" for c in ints})


def nhd_hr(path: Path) -> Path:
    n = len(FLOWLINES)
    gdf = gpd.GeoDataFrame({
        "Permanent_Identifier": [f"{{A{i}}}" for i in range(n)],
        "FDate": "2019-06-12",
        "Resolution": 2,
        "GNIS_ID": [None if f[0] is None else f"0{i}" for i, f in enumerate(FLOWLINES)],
        "GNIS_Name": [f[0] for f in FLOWLINES],
        "LengthKM": 1.5,
        "ReachCode": [f"1506010600{i:04d}" for i in range(n)],
        "FlowDir": 1,
        "WBArea_Permanent_Identifier": None,
        "FType": [f[1] for f in FLOWLINES],
        "FCode": [f[2] for f in FLOWLINES],
        "MainPath": 0, "InNetwork": 1, "VisibilityFilter": 1000000,
    }, geometry=[LineString([(-111.9 + 0.05 * i, 33.5), (-111.85 + 0.05 * i, 33.55)])
                 for i in range(n)], crs="EPSG:4269")
    int32(gdf).to_file(path, layer="NHDFlowline", driver="OpenFileGDB")
    return path


def nhdplus_v2(path: Path, drop: str | None = None) -> Path:
    labels = {460: "StreamRiver", 558: "ArtificialPath", 336: "CanalDitch", 428: "Pipeline"}
    gdf = gpd.GeoDataFrame({
        "COMID": range(20_000_000, 20_000_000 + len(FLOWLINES)),
        "FDATE": "1999-10-01",
        "RESOLUTION": "Medium",
        "GNIS_ID": None,
        "GNIS_NAME": [f[0] for f in FLOWLINES],
        "LENGTHKM": 1.5,
        "REACHCODE": "15060106000001",
        "FLOWDIR": "With Digitized",
        "WBAREACOMI": 0,
        "FTYPE": [labels[f[1]] for f in FLOWLINES],
        "FCODE": [f[2] for f in FLOWLINES],
    }, geometry=[LineString([(-111.9 + 0.05 * i, 33.5), (-111.85 + 0.05 * i, 33.55)])
                 for i in range(len(FLOWLINES))], crs="EPSG:4269")
    return write_frame(gdf, path, drop)


def test_nhd_high_resolution_gdb(tmp_path):
    path = nhd_hr(tmp_path / "NHD_H_1506_HU4_GDB.gdb")
    out = read_layer(layer_source("nhd_flowlines", path, file_layer="NHDFlowline"))
    assert out.attrs["excluded_by_ftype"] == 2
    assert sorted(out["feature_class"]) == ["ArtificialPath", "StreamRiver", "StreamRiver"]
    assert sorted(out["name"].dropna()) == ["Salt River", "Verde River"]
    assert out.crs == CRS


def test_nhdplus_v2_text_ftype_and_option(tmp_path):
    path = nhdplus_v2(tmp_path / "NHDFlowline.shp")
    default = read_layer(layer_source("nhd_flowlines", path))
    assert len(default) == 3
    canals = read_layer(layer_source("nhd_flowlines", path, ftypes=["CanalDitch", 460]))
    assert sorted(canals["name"]) == ["Arizona Canal", "Salt River", "Verde River"]
    assert set(canals["feature_class"]) == {"CanalDitch", "StreamRiver"}
    everything = read_layer(layer_source("nhd_flowlines", path, ftypes=None))
    assert len(everything) == len(FLOWLINES)


def test_nhd_unknown_ftype_option_is_config_error(tmp_path):
    path = nhdplus_v2(tmp_path / "NHDFlowline.shp")
    with pytest.raises(ConfigError, match="ftypes"):
        read_layer(layer_source("nhd_flowlines", path, ftypes=["Creek"]))


def test_nhd_missing_ftype_names_file_and_field(tmp_path):
    path = nhdplus_v2(tmp_path / "NHDFlowline.shp", drop="FTYPE")
    with pytest.raises(DataError, match=r"NHDFlowline\.shp.*'FType'"):
        read_layer(layer_source("nhd_flowlines", path))


# --- WRI Aqueduct 4.0 -----------------------------------------------------------------------
# Schema: WRI Aqueduct 4.0 data dictionary (github.com/wri/Aqueduct40,
# data_dictionary_water-risk-atlas.md) and technical note (Kuzma et al. 2023,
# doi.org/10.46830/writn.23.00061): Aqueduct40_baseline_annual GDB layer 'baseline_annual' with
# string_id, aq30_id, pfaf_id, gid_1, aqid, gid_0, name_0, name_1, area_km2 and per indicator
# {ind}_raw, {ind}_score (0-5), {ind}_label, {ind}_cat (-1..4); -9999 where there is no data.
# EPSG:4326.

BASINS = [
    # pfaf_id, bws_raw, bws_score, bws_cat, bws_label
    (742501, 1.53, 4.9, 4, "Extremely High (>80%)"),
    (742502, 0.25, 2.3, 2, "Medium - High (20-40%)"),
    (742503, 0.03, 5.0, -1, "Arid and Low Water Use"),
    (742504, -9999, -9999, -9999, "No Data"),
]


def aqueduct(path: Path, driver: str = "OpenFileGDB", drop: str | None = None) -> Path:
    gdf = gpd.GeoDataFrame({
        "string_id": [f"{b[0]}-USA.3_1-3365" for b in BASINS],
        "aq30_id": range(1, len(BASINS) + 1),
        "pfaf_id": [b[0] for b in BASINS],
        "gid_1": "USA.3_1", "aqid": 3365, "gid_0": "USA",
        "name_0": "United States", "name_1": "Arizona", "area_km2": 1234.5,
        "bws_raw": [b[1] for b in BASINS],
        "bws_score": [b[2] for b in BASINS],
        "bws_label": [b[4] for b in BASINS],
        "bws_cat": [b[3] for b in BASINS],
        "bwd_raw": 0.5, "bwd_score": 3.0, "bwd_label": "Medium - High (25-50%)", "bwd_cat": 2,
    }, geometry=[box(-112 + i, 33, -111 + i, 34) for i in range(len(BASINS))], crs="EPSG:4326")
    if drop:
        gdf = gdf.drop(columns=drop)
    gdf = int32(gdf)
    if driver in ("OpenFileGDB", "GPKG"):
        # the real GDB holds several layers: the reader must pick baseline_annual by itself
        gdf[["pfaf_id", "geometry"]].to_file(path, layer="baseline_monthly", driver=driver)
        gdf.to_file(path, layer="baseline_annual", driver=driver)
    else:
        gdf.to_file(path, driver=driver)
    return path


@pytest.mark.parametrize("name, driver", [
    ("Aqueduct40_baseline_annual_y2023m07d05.gdb", "OpenFileGDB"),
    ("Aqueduct40_baseline_annual_y2023m07d05.gpkg", "GPKG"),
])
def test_aqueduct_baseline_annual_layer(tmp_path, name, driver):
    path = aqueduct(tmp_path / name, driver=driver)
    out = read_layer(layer_source("aqueduct_baseline", path))
    assert list(out.columns) == ["geometry", "bws_score", "bws_cat", "bws_label"]
    assert len(out) == 4
    assert out["bws_score"].tolist()[:3] == [4.9, 2.3, 5.0]
    assert out["bws_cat"].tolist()[:3] == [4.0, 2.0, -1.0]
    assert math.isnan(out["bws_score"].iloc[3]) and math.isnan(out["bws_cat"].iloc[3])
    assert out["bws_label"].iloc[2] == "Arid and Low Water Use"


def test_aqueduct_any_vector_with_fields(tmp_path):
    path = aqueduct(tmp_path / "aqueduct_az.geojson", driver="GeoJSON")
    out = read_layer(layer_source("aqueduct_baseline", path),
                     bbox_area([-112.5, 32.5, -109.5, 34.5]))
    assert len(out) == 3  # the study area reaches the first three basins only
    assert out["bws_cat"].min() == -1


def test_aqueduct_missing_score_names_file_and_field(tmp_path):
    path = aqueduct(tmp_path / "aq.geojson", driver="GeoJSON", drop="bws_score")
    with pytest.raises(DataError, match=r"aq\.geojson.*'bws_score'"):
        read_layer(layer_source("aqueduct_baseline", path))


def test_water_readers_registered():
    assert READERS["natural_earth_rivers"].layer == READERS["nhd_flowlines"].layer == "rivers"
    assert READERS["aqueduct_baseline"].layer == "water_stress"
