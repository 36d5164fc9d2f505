"""Workforce reader: county polygons with BLS LAUS and Census ACS figures joined by GEOID.

Small tables are written here in the providers' published layouts (the document is named beside
each one); the real us-atlas counties, LAUS 2016 and ACS 2014-2018 tables in ../shared/data are
read where present.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from helpers import ARIZONA, SHARED_DATA, layer_source, shared_file
from sitescore.errors import ConfigError, DataError
from sitescore.readers import READERS, LayerSource, read_layer
from sitescore.readers.workforce import geoid5, read_acs, read_bls_laus
from sitescore.study_area import bbox_area


def counties_source(path: Path, data_dir: Path, tables: list | None = None) -> LayerSource:
    return layer_source("census_counties", path, name="counties", data_dir=data_dir,
                        tables=tables or [])


# --- small files in published layouts -------------------------------------------------------
# Counties: Census TIGER/Line county shapefile (tl_YYYY_us_county) fields STATEFP, COUNTYFP,
# COUNTYNS, GEOID, NAME, NAMELSAD, ...; NAD83 (EPSG:4269).

COUNTIES = [("04", "013", "Maricopa"), ("04", "019", "Pima"), ("04", "012", "La Paz"),
            ("72", "001", "Adjuntas")]


def tiger_counties(path: Path, with_geoid: bool = True) -> Path:
    gdf = gpd.GeoDataFrame({
        "STATEFP": [c[0] for c in COUNTIES],
        "COUNTYFP": [c[1] for c in COUNTIES],
        "COUNTYNS": "00037026",
        "GEOID": [c[0] + c[1] for c in COUNTIES],
        "NAME": [c[2] for c in COUNTIES],
        "NAMELSAD": [f"{c[2]} County" for c in COUNTIES],
    }, geometry=[box(-113 + i, 33, -112 + i, 34) for i in range(len(COUNTIES))],
        crs="EPSG:4269")
    if not with_geoid:
        gdf = gdf.drop(columns="GEOID")
    gdf.to_file(path)
    return path


# LAUS: BLS 'Labor force data by county, 2016 annual averages' (laucnty16), as CSV: a header
# whose first name has a leading space, counts quoted with thousands separators and trailing
# spaces, Puerto Rico rows, and no newline after the last line.
LAUS = (
    ' LAUS Code,State FIPS Code,County FIPS Code,County Name/State Abbreviation,Year,'
    'Labor Force,Employed,Unemployed,Unemployment Rate (%)\n'
    'CN0401300000000,04,013,"Maricopa County, AZ",2016,"2,076,894     ","1,983,156     ",'
    '"93,738     ",4.5     \n'
    'CN0401900000000,04,019,"Pima County, AZ",2016,"475,000     ","451,000     ",'
    '"24,000     ",5.1     \n'
    'CN7200100000000,72,001,"Adjuntas Municipio, PR",2016,"5,678     ","4,567     ",'
    '"1,111     ",19.6     '
)

# ACS: Census Data API, 2018 ACS 5-year detailed tables, e.g.
# api.census.gov/data/2018/acs/acs5?get=NAME,B03002_001E,...&for=county:*&in=state:04 -- a JSON
# array whose first row is the header, with 'state' and 'county' FIPS columns; annotation values
# such as -666666666 stand in for estimates that cannot be computed (Census, "Notes on ACS
# Estimate and Annotation Values").
ACS_ROWS = [
    ["NAME", "B03002_001E", "B23025_003E", "B06009_005E", "B06009_006E", "state", "county"],
    ["Maricopa County, Arizona", "4253913", "2087000", "571408", "327662", "04", "013"],
    ["Pima County, Arizona", "1019722", "470000", "130000", "-666666666", "04", "019"],
    ["Adjuntas Municipio, Puerto Rico", "18181", "5600", "1500", "700", "72", "001"],
]
ACS_FIELDS = {"population": "B03002_001E", "labor_force": "B23025_003E",
              "bachelors_or_higher": ["B06009_005E", "B06009_006E"]}


def write_acs_csv(path: Path, rows: list[list[str]] = ACS_ROWS) -> Path:
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)
    return path


def test_counties_join_acs_api_csv_and_laus(tmp_path):
    counties = tiger_counties(tmp_path / "tl_2018_us_county.shp")
    write_acs_csv(tmp_path / "acs.csv")
    (tmp_path / "laucnty16.csv").write_text(LAUS)
    out = read_layer(counties_source(counties, tmp_path, [
        {"reader": "bls_laus", "path": "laucnty16.csv"},
        {"reader": "acs", "path": "acs.csv", "fields": ACS_FIELDS},
    ]))
    by = out.set_index("geoid")
    assert by.loc["04013", "name"] == "Maricopa"
    assert by.loc["04013", "labor_force"] == 2_076_894  # LAUS first: ACS only fills gaps
    assert by.loc["04013", "employed"] == 1_983_156
    assert by.loc["04013", "population"] == 4_253_913
    assert by.loc["04013", "bachelors_or_higher"] == 571_408 + 327_662
    # -666666666 is an annotation, not a count: the sum is unknown, not negative
    assert math.isnan(by.loc["04019", "bachelors_or_higher"])
    assert by.loc["72001", "labor_force"] == 5_678  # Puerto Rico row, last line without newline
    # La Paz has no row in either table: NaN, and counted
    assert by.loc["04012", ["population", "labor_force", "employed"]].isna().all()
    assert [t["counties_without_row"] for t in out.attrs["tables"]] == [1, 1]
    assert out.attrs["counties_without_data"] == 1
    assert by["manufacturing_employment"].isna().all()


def test_counties_geoid_from_statefp_countyfp_and_acs_json(tmp_path):
    counties = tiger_counties(tmp_path / "counties.shp", with_geoid=False)
    (tmp_path / "acs.json").write_text(json.dumps(ACS_ROWS))
    out = read_layer(counties_source(counties, tmp_path, [
        {"reader": "acs", "path": "acs.json", "fields": {"population": "B03002_001E"}}]))
    assert sorted(out["geoid"]) == ["04012", "04013", "04019", "72001"]
    assert out.set_index("geoid").loc["04019", "population"] == 1_019_722


def test_acs_geo_id_and_int_like_geoids(tmp_path):
    geo_id = tmp_path / "ACSDT5Y2018.B03002.csv"
    pd.DataFrame({"GEO_ID": ["0500000US04013", "0500000US04019"],
                  "NAME": ["Maricopa County, Arizona", "Pima County, Arizona"],
                  "B03002_001E": ["4253913", "1019722"]}).to_csv(geo_id, index=False)
    assert read_acs(geo_id, {"population": "B03002_001E"})["population"].to_dict() == {
        "04013": 4253913.0, "04019": 1019722.0}
    compiled = tmp_path / "co_acs_raw.csv"
    compiled.write_text("stco_code,stco_name,B03002_001E\n"
                        "4013,Maricopa,4253913\n1001,Autauga,55200\n")
    assert sorted(read_acs(compiled, {"population": "B03002_001E"}).index) == ["01001", "04013"]
    assert geoid5(pd.Series(["4013", 4013.0, "04013", "0500000US04013", None, "x"])).tolist() \
        == ["04013", "04013", "04013", "04013", None, None]


def test_acs_field_missing_names_file_and_field(tmp_path):
    acs = write_acs_csv(tmp_path / "acs.csv")
    with pytest.raises(DataError) as err:
        read_acs(acs, {"labor_force": "B23025_004E"})
    assert "acs.csv" in str(err.value) and "'B23025_004E'" in str(err.value)


def test_laus_missing_fips_names_file_and_field(tmp_path):
    path = tmp_path / "laus.csv"
    path.write_text(LAUS.replace("County FIPS Code", "County Code"))
    with pytest.raises(DataError, match=r"laus\.csv.*'County FIPS Code'"):
        read_bls_laus(path, None)


def test_table_config_errors(tmp_path):
    counties = tiger_counties(tmp_path / "c.shp")
    write_acs_csv(tmp_path / "acs.csv")
    with pytest.raises(ConfigError, match="reader"):
        read_layer(counties_source(counties, tmp_path, [{"reader": "qcew", "path": "acs.csv"}]))
    with pytest.raises(ConfigError, match="unemployed"):
        read_layer(counties_source(counties, tmp_path, [
            {"reader": "acs", "path": "acs.csv", "fields": {"unemployed": "B23025_005E"}}]))
    with pytest.raises(ConfigError, match=r"tables\[0\]\.fields"):
        read_layer(counties_source(counties, tmp_path, [{"reader": "acs", "path": "acs.csv"}]))
    with pytest.raises(DataError, match="file not found"):
        read_layer(counties_source(counties, tmp_path, [
            {"reader": "acs", "path": "missing.csv", "fields": ACS_FIELDS}]))


def test_counties_missing_geoid_names_field(tmp_path):
    path = tmp_path / "c.geojson"
    gpd.GeoDataFrame({"NAME": ["x"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326").to_file(path)
    with pytest.raises(DataError, match=r"c\.geojson.*'STATEFP'"):
        read_layer(counties_source(path, tmp_path))


# --- real files -----------------------------------------------------------------------------

@pytest.mark.shared_data
def test_us_counties_with_laus_and_acs():
    counties = shared_file("counties/us_counties_us_atlas_10m.geojson")
    shared_file("workforce/bls_laus_county_2016.csv")
    shared_file("workforce/acs5_2018_county_selected.csv")
    out = read_layer(counties_source(counties, SHARED_DATA, [
        {"reader": "bls_laus", "path": "workforce/bls_laus_county_2016.csv"},
        {"reader": "acs", "path": "workforce/acs5_2018_county_selected.csv",
         "fields": {"population": "B03002_001E",
                    "bachelors_or_higher": ["B06009_005E", "B06009_006E"]}},
    ]))
    assert out.attrs["repaired"] == 22  # as quantised by us-atlas
    # Falls Church city, VA (51610) is an empty polygon after us-atlas quantisation
    assert out.attrs["dropped"] == 1 and len(out) == 3_231 - 1
    assert out["geoid"].str.fullmatch(r"\d{5}").all() and out["geoid"].is_unique
    maricopa = out.set_index("geoid").loc["04013"]
    assert maricopa["name"] == "Maricopa"
    assert maricopa["labor_force"] == 2_076_894
    assert maricopa["employed"] == 1_983_156
    assert maricopa["population"] == 4_253_913
    assert maricopa["bachelors_or_higher"] == 571_408 + 327_662
    # LAUS lacks Kalawao (15005) and the island areas; ACS lacks the island areas (AS, GU, MP, VI)
    assert [t["counties_without_row"] for t in out.attrs["tables"]] == [12, 11]
    assert out.attrs["counties_without_data"] == 11


@pytest.mark.shared_data
def test_arizona_counties_with_arizona_tables():
    counties = shared_file("counties/az_counties_us_atlas_10m.geojson")
    shared_file("workforce/bls_laus_county_2016_az.csv")
    shared_file("workforce/acs5_2018_county_selected_az.csv")
    out = read_layer(counties_source(counties, SHARED_DATA, [
        {"reader": "bls_laus", "path": "workforce/bls_laus_county_2016_az.csv"},
        {"reader": "acs", "path": "workforce/acs5_2018_county_selected_az.csv",
         "fields": {"population": "B03002_001E"}},
    ]), bbox_area(ARIZONA))
    assert len(out) == 15
    assert out.attrs["counties_without_data"] == 0
    assert out[["population", "labor_force", "employed"]].notna().all().all()


def test_workforce_reader_registered():
    assert READERS["census_counties"].layer == "counties"


@pytest.mark.shared_data
def test_acs_variables_in_the_example_configs_mean_what_the_configs_say():
    """The ACS variables the shipped configs map onto canonical fields, checked against the
    variable dictionary published with the table."""
    import yaml
    labels = pd.read_csv(shared_file("workforce/acs5_2018_county_selected_variables.csv"))
    label = dict(zip(labels["variable"], labels["label_as_in_source_readme"], strict=True))
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs/new_mexico.yaml")
                            .read_text())
    acs = next(t for t in config["layers"]["counties"]["options"]["tables"] if t["reader"] == "acs")
    expected_words = {"population": ["total_estimate"],
                      "bachelors_or_higher": ["bachelor_s_degree", "graduate_or_professional_degree"]}
    for canonical, variables in acs["fields"].items():
        variables = variables if isinstance(variables, list) else [variables]
        for var, word in zip(variables, expected_words[canonical], strict=True):
            assert word in label[var], (canonical, var, label[var])
    # B03002_001E (Hispanic or Latino origin by race: total) is the total population
    assert label["B03002_001E"].startswith("B03002_001___total")


def test_bls_laus_xlsx_with_title_rows_and_a_two_row_header(tmp_path):
    """laucntyYY.xlsx puts title rows above a header whose names may span two rows."""
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Labor force data by county, 2024 annual averages"])
    ws.append([])
    ws.append(["LAUS Code", "State FIPS Code", "County FIPS Code", "County Name/State Abbreviation",
               "Year", None, "Labor Force", "Employed", "Unemployed", "Unemployment Rate (%)"])
    ws.append(["CN0401300000000", "04", "013", "Maricopa County, AZ", "2024", None, "2,500,000",
               "2,400,000", "100,000", "4.0"])
    ws.append(["CN3500100000000", "35", "001", "Bernalillo County, NM", "2024", None, "330,000",
               "318,000", "12,000", "3.6"])
    ws.append(["SOURCE: BLS"])
    wb.save(tmp_path / "laucnty24.xlsx")
    from sitescore.readers.workforce import read_bls_laus
    got = read_bls_laus(tmp_path / "laucnty24.xlsx", None)
    assert got.loc["04013", "labor_force"] == 2_500_000
    assert got.loc["35001", "employed"] == 318_000
    assert len(got) == 2
    # the same with the header split over two rows
    ws.delete_rows(3)
    ws.insert_rows(3, 2)
    header = [("LAUS", "LAUS Code"), ("State", "State FIPS Code"), ("County", "County FIPS Code"),
              (None, "County Name/State Abbreviation"), (None, "Year"), (None, None),
              ("Labor", "Labor Force"), (None, "Employed"), (None, "Unemployed"),
              (None, "Unemployment Rate (%)")]
    for j, (top, bottom) in enumerate(header):
        ws.cell(row=3, column=j + 1, value=top)
        ws.cell(row=4, column=j + 1, value=bottom)
    wb.save(tmp_path / "laucnty24b.xlsx")
    got = read_bls_laus(tmp_path / "laucnty24b.xlsx", None)
    assert got.loc["04013", "labor_force"] == 2_500_000 and len(got) == 2
