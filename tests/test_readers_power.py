"""Power readers: HIFLD lines and substations, EIA and GPPD plants.

Small files are written here in each provider's published schema (the document is named beside
each one); the real GPPD and EIA-860 tables in ../shared/data are read where present.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString

from helpers import ARIZONA, SHARED_DATA, layer_source, shared_file, write_frame
from sitescore.errors import DataError
from sitescore.readers import READERS, read_layer
from sitescore.readers.base import read_table
from sitescore.schema import CRS
from sitescore.study_area import bbox_area

# --- HIFLD transmission lines ---------------------------------------------------------------
# Schema: HIFLD Open "Electric Power Transmission Lines" feature class/shapefile
# (https://hifld-geoplatform.opendata.arcgis.com/datasets/electric-power-transmission-lines; field
# list as served by its ArcGIS FeatureServer): OBJECTID, ID (text), TYPE, STATUS, NAICS_CODE,
# NAICS_DESC, SOURCE, SOURCEDATE, VAL_METHOD, VAL_DATE, OWNER, VOLTAGE (double, kV, -999999 = not
# available), VOLT_CLASS ('UNDER 100', '100-161', '220-287', '345', '500', '735 AND ABOVE', 'DC',
# 'NOT AVAILABLE'), INFERRED ('Y'/'N'), SUB_1, SUB_2. Distributed in Web Mercator (EPSG:3857).

def hifld_lines(path: Path, drop: str | None = None) -> Path:
    rows = [
        # ID, STATUS, OWNER, VOLTAGE, VOLT_CLASS, lon/lat of the line
        ("140809", "IN SERVICE", "ARIZONA PUBLIC SERVICE CO", 500.0, "500", (-112.9, 33.4)),
        ("140837", "IN SERVICE", "SALT RIVER PROJECT", -999999.0, "345", (-112.0, 33.5)),
        ("100511", "NOT AVAILABLE", "NOT AVAILABLE", -999999.0, "NOT AVAILABLE", (-111.9, 33.3)),
        ("162042", "IN SERVICE", "TUCSON ELECTRIC POWER CO", 115.0, "100-161", (-110.9, 32.2)),
        ("300001", "IN SERVICE", "PACIFICORP", 230.0, "220-287", (-122.4, 45.5)),  # Oregon
    ]
    gdf = gpd.GeoDataFrame({
        "OBJECTID": range(1, len(rows) + 1),
        "ID": [r[0] for r in rows],
        "TYPE": "AC; OVERHEAD",
        "STATUS": [r[1] for r in rows],
        "NAICS_CODE": "221121",
        "NAICS_DESC": "ELECTRIC BULK POWER TRANSMISSION AND CONTROL",
        "SOURCE": "IMAGERY",
        "SOURCEDATE": "2020/01/01",
        "VAL_METHOD": "IMAGERY",
        "VAL_DATE": "2020/01/01",
        "OWNER": [r[2] for r in rows],
        "VOLTAGE": [r[3] for r in rows],
        "VOLT_CLASS": [r[4] for r in rows],
        "INFERRED": "N",
        "SUB_1": "UNKNOWN112122",
        "SUB_2": "TAP140359",
    }, geometry=[LineString([r[5], (r[5][0] + 0.2, r[5][1] + 0.1)]) for r in rows],
        crs="EPSG:4326").to_crs("EPSG:3857")
    return write_frame(gdf, path, drop)


def test_hifld_lines_map_voltage_and_unknowns(tmp_path):
    path = hifld_lines(tmp_path / "Transmission_Lines.shp")
    out = read_layer(layer_source("hifld_transmission_lines", path))
    assert out.crs == CRS
    assert list(out.columns) == ["geometry", "line_id", "voltage_kv", "volt_class", "status",
                                 "owner"]
    by_id = out.set_index("line_id")
    assert by_id.loc["140809", "voltage_kv"] == 500.0
    # -999999 is "not available": NaN, never a number; a single-valued class stays as a class
    assert math.isnan(by_id.loc["140837", "voltage_kv"])
    assert by_id.loc["140837", "volt_class"] == "345"
    # HIFLD's 'NOT AVAILABLE' placeholder is a missing value, not a status or an owner
    assert by_id.loc["100511", "status"] is None
    assert by_id.loc["100511", "owner"] is None
    assert by_id.loc["100511", "volt_class"] is None
    assert by_id.loc["162042", "volt_class"] == "100-161"
    assert not (out["voltage_kv"] < 0).any()


def test_hifld_lines_study_area_filters(tmp_path):
    path = hifld_lines(tmp_path / "Transmission_Lines.shp")
    out = read_layer(layer_source("hifld_transmission_lines", path),
                     bbox_area(ARIZONA))
    assert sorted(out["line_id"]) == ["100511", "140809", "140837", "162042"]


def test_hifld_lines_missing_voltage_names_file_and_field(tmp_path):
    path = hifld_lines(tmp_path / "lines.shp", drop="VOLTAGE")
    with pytest.raises(DataError) as err:
        read_layer(layer_source("hifld_transmission_lines", path))
    assert "lines.shp" in str(err.value) and "'VOLTAGE'" in str(err.value)


# --- HIFLD substations ----------------------------------------------------------------------
# Schema: HIFLD Open "Electric Substations"
# (https://hifld-geoplatform.opendata.arcgis.com/datasets/electric-substations): OBJECTID, ID,
# NAME, CITY, STATE, ZIP, TYPE, STATUS, COUNTY, COUNTYFIPS, COUNTRY, LATITUDE, LONGITUDE,
# NAICS_CODE, NAICS_DESC, SOURCE, SOURCEDATE, VAL_METHOD, VAL_DATE, LINES, MAX_VOLT, MIN_VOLT
# (kV, -999999 = not available), MAX_INFER, MIN_INFER. Points; the CSV download has the same
# columns and no geometry.

SUBSTATIONS = pd.DataFrame({
    "OBJECTID": [1, 2, 3],
    "ID": ["310512", "310513", "310514"],
    "NAME": ["WESTWING", "UNKNOWN310513", "PINNACLE PEAK"],
    "CITY": ["PEORIA", "NOT AVAILABLE", "SCOTTSDALE"],
    "STATE": ["AZ", "AZ", "AZ"],
    "ZIP": ["85383", "NOT AVAILABLE", "85255"],
    "TYPE": ["SUBSTATION", "TAP", "SUBSTATION"],
    "STATUS": ["IN SERVICE", "IN SERVICE", "NOT AVAILABLE"],
    "COUNTY": ["MARICOPA", "MARICOPA", "MARICOPA"],
    "COUNTYFIPS": ["04013", "04013", "04013"],
    "COUNTRY": ["USA", "USA", "USA"],
    "LATITUDE": [33.7386, 33.5, 33.6999],
    "LONGITUDE": [-112.2333, -112.5, -111.8443],
    "NAICS_CODE": "221121",
    "NAICS_DESC": "ELECTRIC BULK POWER TRANSMISSION AND CONTROL",
    "SOURCE": "IMAGERY",
    "SOURCEDATE": "2019/05/01",
    "VAL_METHOD": "IMAGERY",
    "VAL_DATE": "2019/05/01",
    "LINES": [9, 2, 6],
    "MAX_VOLT": [525.0, -999999.0, 500.0],
    "MIN_VOLT": [230.0, -999999.0, 230.0],
    "MAX_INFER": ["N", "Y", "N"],
    "MIN_INFER": ["N", "Y", "N"],
})


@pytest.mark.parametrize("suffix", [".geojson", ".csv"])
def test_hifld_substations_points_or_csv(tmp_path, suffix):
    path = tmp_path / f"Electric_Substations{suffix}"
    if suffix == ".csv":
        SUBSTATIONS.to_csv(path, index=False)
    else:
        gpd.GeoDataFrame(SUBSTATIONS, geometry=gpd.points_from_xy(
            SUBSTATIONS.LONGITUDE, SUBSTATIONS.LATITUDE), crs="EPSG:4326").to_file(path)
    out = read_layer(layer_source("hifld_substations", path)).set_index("substation_id")
    assert len(out) == 3
    assert out.loc["310512", "max_volt_kv"] == 525.0
    assert out.loc["310512", "min_volt_kv"] == 230.0
    assert math.isnan(out.loc["310513", "max_volt_kv"])
    assert math.isnan(out.loc["310513", "min_volt_kv"])
    assert out.loc["310514", "status"] is None
    assert out.loc["310512", "name"] == "WESTWING"


def test_hifld_substations_csv_without_coordinates_names_field(tmp_path):
    path = tmp_path / "subs.csv"
    SUBSTATIONS.drop(columns="LATITUDE").to_csv(path, index=False)
    with pytest.raises(DataError, match=r"subs\.csv.*'LATITUDE'"):
        read_layer(layer_source("hifld_substations", path))


# --- EIA 'Power Plants' layer ---------------------------------------------------------------
# Schema: EIA U.S. Energy Atlas "Power Plants" layer (also on HIFLD), fields Plant_Code,
# Plant_Name, Utility_ID, Utility_Name, sector_name, Street_Address, City, County, State, Zip,
# PrimSource, source_desc, tech_desc, Install_MW, Total_MW, Bat_MW, ..., Source, Period,
# Longitude, Latitude.

def test_eia_power_plants_layer(tmp_path):
    path = tmp_path / "Power_Plants.geojson"
    table = pd.DataFrame({
        "Plant_Code": [6008, 116],
        "Plant_Name": ["Palo Verde", "Ocotillo"],
        "Utility_ID": [803, 803],
        "Utility_Name": ["Arizona Public Service Co"] * 2,
        "State": ["AZ", "AZ"],
        "PrimSource": ["nuclear", "natural gas"],
        "Install_MW": [4209.6, 640.0],
        "Total_MW": [4209.6, 640.0],
        "Longitude": [-112.8617, -111.9117],
        "Latitude": [33.3881, 33.4244],
    })
    gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.Longitude, table.Latitude),
                     crs="EPSG:4326").to_file(path)
    out = read_layer(layer_source("eia_power_plants", path)).set_index("plant_code")
    assert out.loc["6008", "capacity_mw"] == 4209.6
    assert out.loc["6008", "primary_fuel"] == "nuclear"
    assert out.loc["116", "state"] == "AZ"
    assert out["grid_voltage_kv"].isna().all()


def test_eia_power_plants_missing_capacity_names_field(tmp_path):
    path = tmp_path / "plants.csv"
    pd.DataFrame({"Plant_Code": [1], "Plant_Name": ["x"], "Longitude": [-112.0],
                  "Latitude": [33.0]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"plants\.csv.*'Total_MW'"):
        read_layer(layer_source("eia_power_plants", path))


# --- GPPD -----------------------------------------------------------------------------------
# Schema: WRI Global Power Plant Database v1.3.0, global CSV
# (github.com/wri/global-power-plant-database, output_database/global_power_plant_database.csv
# and its README): country, country_long, name, gppd_idnr, capacity_mw, latitude, longitude,
# primary_fuel, other_fuel1..3, commissioning_year, owner, source, url, geolocation_source,
# wepp_id, year_of_capacity_data, generation_gwh_2013..2019, generation_data_source,
# estimated_generation_gwh_2013..2017.

def test_gppd_global_keeps_us_rows_and_eia_codes(tmp_path):
    path = tmp_path / "global_power_plant_database.csv"
    pd.DataFrame({
        "country": ["USA", "USA", "CAN", "GUM"],
        "country_long": ["United States of America", "United States of America", "Canada",
                         "Guam"],
        "name": ["Palo Verde", "Dededo Diesel 1", "Pickering", "Cabras"],
        "gppd_idnr": ["USA0006008", "WRI1029198", "CAN0000001", "WRI1000000"],
        "capacity_mw": ["4209.6", "10.0", "3094.0", "1.0"],
        "latitude": ["33.3881", "13.5", "43.8", "13.4"],
        "longitude": ["-112.8617", "144.8", "-79.1", "144.7"],
        "primary_fuel": ["Nuclear", "", "Nuclear", "Oil"],
        "other_fuel1": "", "commissioning_year": "", "owner": "",
        "source": "U.S. Energy Information Administration",
    }).to_csv(path, index=False)
    out = read_layer(layer_source("gppd", path))
    assert out.attrs["not_usa"] == 2
    assert sorted(out["plant_code"]) == ["6008", "WRI1029198"]
    by_code = out.set_index("plant_code")
    assert by_code.loc["6008", "capacity_mw"] == 4209.6
    assert by_code.loc["WRI1029198", "primary_fuel"] is None  # empty cell, not ''


@pytest.mark.shared_data
def test_gppd_usa_national():
    path = shared_file("power_plants/gppd_v1.3.0_usa_source.csv")
    assert len(read_table(path)) == 11_879
    out = read_layer(layer_source("gppd", path, data_dir=SHARED_DATA))
    # 32 rows have no coordinates; one (plant 62262, Rolling Upland Wind Farm) has latitude 425.2
    assert out.attrs["dropped"] == 33
    assert len(out) == 11_846
    palo_verde = out.loc[out["plant_code"] == "6008"].iloc[0]
    assert palo_verde["plant_name"] == "Palo Verde"
    assert palo_verde["capacity_mw"] == pytest.approx(4209.6)
    assert palo_verde["primary_fuel"] == "Nuclear"
    assert out["plant_code"].is_unique


@pytest.mark.shared_data
def test_gppd_usa_arizona():
    path = shared_file("power_plants/gppd_v1.3.0_usa_source_AZ.csv")
    out = read_layer(layer_source("gppd", path, data_dir=SHARED_DATA))
    assert len(out) == 162
    producing = out.loc[out["capacity_mw"] > 0, "capacity_mw"]
    assert len(producing) == 139
    assert producing.sum() == pytest.approx(30_320, abs=1)
    assert out["primary_fuel"].isna().sum() == 23  # empty primary_fuel -> None


# --- EIA-860 Schedule 2 ---------------------------------------------------------------------

@pytest.mark.shared_data
def test_eia860_arizona_with_gppd_capacity():
    path = shared_file("power_plants/eia860_2019_schedule2_plant_AZ.csv")
    shared_file("power_plants/gppd_v1.3.0_usa_source_AZ.csv")
    out = read_layer(layer_source("eia860_plants", path, data_dir=SHARED_DATA,
                                  capacity_table="power_plants/gppd_v1.3.0_usa_source_AZ.csv"))
    assert len(out) == 162
    assert out.attrs["capacity_unmatched"] == 0
    palo_verde = out.loc[out["plant_code"] == "6008"].iloc[0]
    assert palo_verde["grid_voltage_kv"] == 500.0
    assert palo_verde["capacity_mw"] == pytest.approx(4209.6)
    assert palo_verde["primary_fuel"] == "Nuclear"
    assert palo_verde["state"] == "AZ"
    assert out["capacity_mw"].sum() == pytest.approx(30_320, abs=1)


@pytest.mark.shared_data
def test_eia860_national_without_capacity():
    path = shared_file("power_plants/eia860_2019_schedule2_plant.csv")
    assert len(read_table(path)) == 11_833
    out = read_layer(layer_source("eia860_plants", path, data_dir=SHARED_DATA))
    # 28 plants have single-space Latitude/Longitude cells; plant 62262 has latitude 425.246
    assert out.attrs["dropped"] == 29
    assert len(out) == 11_833 - 29
    assert out["capacity_mw"].isna().all()
    assert out["plant_name"].notna().all()  # 'NA 1 (SC)' is a name, not a missing value
    assert (out["state"] != "").all()


def test_eia860_single_space_cells_are_empty(tmp_path):
    # Schema: EIA-860 2019 Schedule 2 'Plant' sheet (2___Plant_Y2019.xlsx) saved as CSV, exact
    # column names; EIA writes a single space in empty Grid Voltage cells.
    path = tmp_path / "2___Plant_Y2019.csv"
    path.write_text(
        "Utility ID,Utility Name,Plant Code,Plant Name,State,Latitude,Longitude,"
        "Grid Voltage (kV),Grid Voltage 2 (kV),Grid Voltage 3 (kV)\n"
        "16572,Salt River Project,100,South Consolidated,AZ,33.466477,-111.781064,4.16, , \n"
        "803,Arizona Public Service Co,112,Childs,AZ,34.351111,-111.700556, , , \n"
        "1,x,7106,NA 1 (SC),SC, , , , , \n")
    out = read_layer(layer_source("eia860_plants", path)).set_index("plant_code")
    assert list(out.index) == ["100", "112"]
    assert out.attrs["dropped"] == 1
    assert out.loc["100", "grid_voltage_kv"] == 4.16
    assert math.isnan(out.loc["112", "grid_voltage_kv"])


def test_eia860_missing_plant_code_names_field(tmp_path):
    path = tmp_path / "plant.csv"
    path.write_text("Plant Name,State,Latitude,Longitude\nx,AZ,33,-112\n")
    with pytest.raises(DataError, match=r"plant\.csv.*'Plant Code'"):
        read_layer(layer_source("eia860_plants", path))


def test_power_readers_registered():
    for name in ("eia_power_plants", "eia860_plants", "gppd"):
        assert READERS[name].layer == "power_plants"
    assert READERS["hifld_transmission_lines"].layer == "transmission_lines"
    assert READERS["hifld_substations"].layer == "substations"


def _write_sheet(path, title_rows, table, sheet):
    """An XLSX laid out as agencies publish it: title rows above the header row."""
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in title_rows:
        ws.append(row)
    ws.append(list(table.columns))
    for values in table.itertuples(index=False):
        ws.append([None if (isinstance(v, float) and v != v) else v for v in values])
    wb.save(path)


@pytest.mark.shared_data
def test_eia860_plant_sheet_as_published_xlsx_and_extracted_zip(tmp_path):
    """EIA ships `2___Plant_Y2019.xlsx` (sheet 'Plant', title on row 1, header on row 2) inside
    eia8602019.zip; the reader takes the sheet, or the extracted folder, as it takes the CSV."""
    csv = shared_file("power_plants/eia860_2019_schedule2_plant_AZ.csv")
    table = read_table(csv)
    folder = tmp_path / "eia8602019"
    folder.mkdir()
    xlsx = folder / "2___Plant_Y2019.xlsx"
    _write_sheet(xlsx, [["2019 Form EIA-860 Data - Schedule 2, 'Plant Data'"]], table, "Plant")
    from_csv = read_layer(layer_source("eia860_plants", csv))
    for path in (xlsx, folder):
        got = read_layer(layer_source("eia860_plants", path))
        pd.testing.assert_frame_equal(got.drop(columns="geometry"), from_csv.drop(columns="geometry"))
    palo = from_csv.set_index("plant_code").loc["6008"]
    assert palo["grid_voltage_kv"] == 500


# --- EIA-860: all three grid voltages -------------------------------------------------------
# Schema: EIA-860 2019 Schedule 2 'Plant' sheet, columns 'Grid Voltage (kV)', 'Grid Voltage 2
# (kV)', 'Grid Voltage 3 (kV)' (one per interconnection, in no set order; EIA writes a single
# space in an empty cell). GPPD capacity joined by plant code.

def _eia860_three_voltages(tmp_path: Path) -> Path:
    path = tmp_path / "2___Plant_Y2019.csv"
    path.write_text(
        "Utility ID,Utility Name,Plant Code,Plant Name,State,Latitude,Longitude,"
        "Grid Voltage (kV),Grid Voltage 2 (kV),Grid Voltage 3 (kV)\n"
        "1,TVA,3,Three Ties,TN,35.9,-84.3,115,345,161\n"        # highest in column 2
        "1,TVA,4,Tied At 161,TN,35.8,-84.2,161, , \n"           # one voltage
        "1,TVA,5,Second Only,TN,35.7,-84.1, ,230, \n"           # column 1 empty
        "1,TVA,6,No Voltage,TN,35.6,-84.0, , , \n")
    return path


def test_eia860_keeps_all_three_grid_voltages_and_the_highest(tmp_path):
    out = read_layer(layer_source("eia860_plants", _eia860_three_voltages(tmp_path)))
    by_code = out.set_index("plant_code")
    three = by_code.loc["3"]
    assert (three["grid_voltage_1_kv"], three["grid_voltage_2_kv"], three["grid_voltage_3_kv"]) \
        == (115.0, 345.0, 161.0)
    assert three["grid_voltage_kv"] == 345.0  # the highest, not column 1's 115
    assert by_code.loc["4", "grid_voltage_kv"] == 161.0
    assert math.isnan(by_code.loc["4", "grid_voltage_2_kv"])
    assert by_code.loc["5", "grid_voltage_kv"] == 230.0
    assert math.isnan(by_code.loc["6", "grid_voltage_kv"])
    # two plants had their highest voltage outside column 1: counted for the manifest
    assert out.attrs["grid_voltage_from_2_or_3"] == 2


def test_eia860_fuel_class_comes_from_the_joined_gppd_fuel(tmp_path):
    plants = _eia860_three_voltages(tmp_path)
    gppd = tmp_path / "gppd.csv"
    pd.DataFrame({
        "name": ["Three Ties", "Tied At 161", "Second Only"],
        "gppd_idnr": ["USA0000003", "USA0000004", "USA0000005"],
        "capacity_mw": ["1200", "900", "80"],
        "latitude": ["35.9", "35.8", "35.7"], "longitude": ["-84.3", "-84.2", "-84.1"],
        "primary_fuel": ["Nuclear", "Wind", "Fusion"],
    }).to_csv(gppd, index=False)
    out = read_layer(layer_source("eia860_plants", plants, capacity_table="gppd.csv"))
    by_code = out.set_index("plant_code")
    assert by_code["fuel_class"].to_dict() == {"3": "firm", "4": "variable", "5": "unknown",
                                                "6": "unknown"}
    assert out.attrs["fuel_unknown"] == {"Fusion": 1}   # a fuel the table lacks: never guessed
    assert out.attrs["fuel_missing"] == 1                # plant 6: no GPPD row, no fuel
    assert out.attrs["capacity_unmatched"] == 1


def test_eia860_without_capacity_table_has_unknown_fuel_class(tmp_path):
    out = read_layer(layer_source("eia860_plants", _eia860_three_voltages(tmp_path)))
    assert (out["fuel_class"] == "unknown").all()
    assert "fuel_unknown" not in out.attrs and "fuel_missing" not in out.attrs


@pytest.mark.shared_data
def test_eia860_real_plants_with_a_higher_voltage_in_columns_2_or_3():
    """On the real 2019 sheet 116 plants nationally (1 in Arizona: Sulphur Springs, 60381, 69 kV
    in column 2) tie in higher than their first grid voltage says."""
    national = read_layer(layer_source(
        "eia860_plants", shared_file("power_plants/eia860_2019_schedule2_plant.csv")))
    assert national.attrs["grid_voltage_from_2_or_3"] == 116
    raised = national["grid_voltage_kv"] > national["grid_voltage_1_kv"]
    assert int(raised.sum()) == 116
    assert (national["grid_voltage_kv"].round() == 161).sum() == 230
    arizona = read_layer(layer_source(
        "eia860_plants", shared_file("power_plants/eia860_2019_schedule2_plant_AZ.csv")))
    assert arizona.attrs["grid_voltage_from_2_or_3"] == 1
    row = arizona.loc[arizona["grid_voltage_kv"] > arizona["grid_voltage_1_kv"].fillna(-1)].iloc[0]
    assert (row["plant_code"], row["grid_voltage_kv"]) == ("60381", 69.0)
