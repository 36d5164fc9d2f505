"""The power and transport readers on real provider files from ../shared/data.

* HIFLD "Electric Power Transmission Lines": the unchanged GeoJSON answer of the HIFLD ArcGIS
  service (outFields=*) for a box around Wichita, Kansas, with all 20 fields (SOURCES.md). The
  schema fixtures in test_readers_power.py follow the published field list; this file is what
  the service really returns: ID as text, VOLTAGE an integer, SOURCEDATE and VAL_DATE as epoch
  milliseconds (ArcGIS date fields in GeoJSON), INFERRED 'Y'/'N', OWNER 'NOT AVAILABLE'.
* Census TIGER/Line 2023 national Primary Roads, attribute table only (the .dbf; the .shp is not
  in the shared data): LINEARID, FULLNAME, RTTYP, MTFCC. TIGER/Line Shapefiles Technical
  Documentation (2023), MTFCC S1100 "Primary Road"; RTTYP route type of the segment's primary
  name: C County, I Interstate, M Common name, O Other, S State recognised, U U.S.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Geod

from helpers import layer_source, shared_file
from sitescore.errors import DataError
from sitescore.readers import read_layer
from sitescore.schema import CRS
from sitescore.study_area import bbox_area

pytestmark = pytest.mark.shared_data

HIFLD_KS = "power_lines/hifld_transmission_lines_KS_wichita.geojson"
TIGER_DBF = "roads/tl_2023_us_primaryroads.dbf"
HIFLD_FIELDS = ["OBJECTID_1", "OBJECTID", "ID", "TYPE", "STATUS", "NAICS_CODE", "NAICS_DESC",
                "SOURCE", "SOURCEDATE", "VAL_METHOD", "VAL_DATE", "OWNER", "VOLTAGE",
                "VOLT_CLASS", "INFERRED", "SUB_1", "SUB_2", "SHAPE__Len", "GlobalID",
                "Shape__Length"]


# --- HIFLD transmission lines ---------------------------------------------------------------

@pytest.fixture(scope="module")
def hifld_raw() -> gpd.GeoDataFrame:
    return gpd.read_file(shared_file(HIFLD_KS))


@pytest.fixture(scope="module")
def hifld_lines() -> gpd.GeoDataFrame:
    return read_layer(layer_source("hifld_transmission_lines", shared_file(HIFLD_KS)))


def test_hifld_service_answer_has_all_twenty_fields(hifld_raw):
    assert [c for c in hifld_raw.columns if c != "geometry"] == HIFLD_FIELDS
    assert len(hifld_raw) == 16
    assert hifld_raw["VOLTAGE"].value_counts().to_dict() == {138: 11, 345: 4, 115: 1}


def test_hifld_lines_real_voltages_classes_and_placeholders(hifld_lines, hifld_raw):
    out = hifld_lines
    assert out.crs == CRS and len(out) == 16
    assert list(out.columns) == ["geometry", "line_id", "voltage_kv", "volt_class", "status",
                                 "owner"]
    assert out["voltage_kv"].value_counts().to_dict() == {138.0: 11, 345.0: 4, 115.0: 1}
    # VOLT_CLASS is a band, kept as text: a 115 kV line is in the '100-161' band
    assert out.groupby("volt_class")["voltage_kv"].agg(["min", "max"]).to_dict("index") == {
        "100-161": {"min": 115.0, "max": 138.0}, "345": {"min": 345.0, "max": 345.0}}
    assert set(out["status"]) == {"IN SERVICE"}
    # 'NOT AVAILABLE' is HIFLD's blank: no owner, never an owner of that name
    assert out["owner"].isna().sum() == (hifld_raw["OWNER"] == "NOT AVAILABLE").sum() == 14
    assert set(out["owner"].dropna()) == {"WESTAR ENERGY INC"}
    # ID is text in the service answer and stays the same text (no float '101251.0')
    assert out["line_id"].tolist() == hifld_raw["ID"].tolist()
    assert out["line_id"].str.fullmatch(r"\d{6}").all()


def test_hifld_inferred_voltage_is_still_a_voltage(hifld_lines, hifld_raw):
    # INFERRED 'Y' marks a voltage HIFLD inferred rather than took from a source; it is a
    # voltage all the same: the line counts for a 345 kV criterion like any other
    inferred = (hifld_raw["INFERRED"] == "Y").to_numpy()
    assert int(inferred.sum()) == 6 and set(hifld_raw["INFERRED"]) == {"Y", "N"}
    assert hifld_lines["voltage_kv"][inferred].notna().all()
    assert hifld_lines["voltage_kv"][inferred].value_counts().to_dict() == {138.0: 4, 345.0: 1,
                                                                            115.0: 1}


def test_hifld_epoch_dates_are_dates_and_never_voltages(hifld_raw, hifld_lines):
    # SOURCEDATE and VAL_DATE are ArcGIS dates: epoch milliseconds, 2014-2020 in this extract
    for col in ("SOURCEDATE", "VAL_DATE"):
        dates = pd.to_datetime(hifld_raw[col], unit="ms")
        assert dates.min() >= pd.Timestamp("2014-01-01") and dates.max() <= pd.Timestamp("2020-12-31")
    assert pd.to_datetime(hifld_raw["SOURCEDATE"], unit="ms").min() == pd.Timestamp("2014-10-07")
    # nothing of those 13-digit numbers reaches a canonical number
    assert hifld_lines["voltage_kv"].max() == 345.0


def test_hifld_lines_lie_around_wichita_with_their_true_lengths(hifld_lines, hifld_raw):
    wichita = bbox_area([-98.2, 36.9, -96.0, 38.6], "Wichita box")
    assert len(read_layer(layer_source("hifld_transmission_lines", shared_file(HIFLD_KS)),
                          wichita)) == 16
    lon, lat = shapely.get_coordinates(hifld_lines.to_crs(4326).geometry.values).T
    assert lon.min() > -99 and lon.max() < -95 and lat.min() > 36.5 and lat.max() < 39
    # lengths in EPSG:5070 against geodesic lengths of the service's lon/lat lines: Albers keeps
    # lengths within 1 % this far from its standard parallels
    geodesic = np.array([Geod(ellps="WGS84").geometry_length(g) for g in hifld_raw.geometry])
    assert np.allclose(hifld_lines.length.to_numpy(), geodesic, rtol=0.01)
    # and the service's own Shape__Length is Web Mercator metres: 1/cos(lat) too long
    mercator = hifld_raw["Shape__Length"].to_numpy()
    assert ((mercator / geodesic) > 1.2).all() and ((mercator / geodesic) < 1.35).all()


# --- TIGER/Line primary roads ---------------------------------------------------------------

@pytest.fixture(scope="module")
def tiger_table() -> pd.DataFrame:
    return pyogrio.read_dataframe(shared_file(TIGER_DBF), read_geometry=False)


def _tiger_with_lines(table: pd.DataFrame, path: Path) -> Path:
    """The real attribute table on short stand-in lines (the .shp is not in the shared data), in
    TIGER's own CRS, NAD83 (EPSG:4269), written as a shapefile as the Census Bureau ships it."""
    n = len(table)
    lon = -120 + (np.arange(n) % 400) * 0.1
    lat = 30 + (np.arange(n) // 400) * 0.2
    lines = shapely.linestrings(np.stack([np.column_stack([lon, lat]),
                                          np.column_stack([lon + 0.05, lat + 0.05])], axis=1))
    gpd.GeoDataFrame(table, geometry=lines, crs="EPSG:4269").to_file(path)
    return path


def test_tiger_attribute_table_alone_is_refused_as_having_no_shapes():
    with pytest.raises(DataError) as err:
        read_layer(layer_source("tiger_roads", shared_file(TIGER_DBF)))
    message = str(err.value)
    assert "tl_2023_us_primaryroads.dbf" in message and "no geometry" in message
    assert ".shp" in message and "CRS" not in message


def test_tiger_real_table_fields_and_codes(tiger_table):
    assert list(tiger_table.columns) == ["LINEARID", "FULLNAME", "RTTYP", "MTFCC"]
    assert len(tiger_table) == 17458
    assert tiger_table["RTTYP"].value_counts().to_dict() == {
        "I": 5599, "M": 5003, "U": 3733, "S": 3089, "O": 24, "C": 10}
    assert set(tiger_table["MTFCC"]) == {"S1100"}
    assert not tiger_table["LINEARID"].duplicated().any()


def test_tiger_roads_classes_from_rttyp_on_the_real_table(tiger_table, tmp_path):
    path = _tiger_with_lines(tiger_table, tmp_path / "tl_2023_us_primaryroads.shp")
    out = read_layer(layer_source("tiger_roads", path))
    assert len(out) == 17458 and out.attrs["excluded_by_mtfcc"] == 0
    assert out["mtfcc"].eq("S1100").all()
    # S1100 with route type I is an Interstate; every other route type of a primary road
    # (U.S., state, common-name turnpikes, county, other) is 'primary'
    assert out["road_class"].value_counts().to_dict() == {"primary": 11859, "interstate": 5599}
    classes = out.groupby(tiger_table["RTTYP"].to_numpy())["road_class"].agg(set).to_dict()
    assert classes == {"I": {"interstate"}, "M": {"primary"}, "U": {"primary"},
                       "S": {"primary"}, "O": {"primary"}, "C": {"primary"}}
    # a common-name segment carrying an Interstate (the New Jersey Turnpike) stays 'primary':
    # the table names only the segment's primary name, its route numbers are elsewhere
    nj = out[out["name"] == "New Jersey Tpke"]
    assert len(nj) == 78 and nj["road_class"].eq("primary").all()
    # LINEARID stays the 11-14 digit text it is (a float would lose its last digits)
    assert out["road_id"].tolist() == tiger_table["LINEARID"].tolist()
    assert out["road_id"].str.len().between(11, 14).all()
    assert out.loc[out["name"] == "I- 10", "road_class"].eq("interstate").all()


def test_tiger_mtfcc_filter_on_the_real_table(tiger_table, tmp_path):
    path = _tiger_with_lines(tiger_table.iloc[:500], tmp_path / "tl_2023_us_primaryroads.shp")
    secondary_only = read_layer(layer_source("tiger_roads", path, mtfcc=["S1200"]))
    assert len(secondary_only) == 0 and secondary_only.attrs["excluded_by_mtfcc"] == 500
    both = read_layer(layer_source("tiger_roads", path, mtfcc=["s1100", "S1200"]))
    assert len(both) == 500
