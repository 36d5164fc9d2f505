"""Census tracts: the census_tracts reader, ACS tract tables joined by 11-digit GEOID, and a tract
gravity criterion end to end through the readers with a hand-computed answer.

Small files are written here in the providers' published layouts:
- tracts: Census cartographic boundary tract file (cb_2023_04_tract_500k) fields STATEFP,
  COUNTYFP, TRACTCE, GEOIDFQ, GEOID, NAME, NAMELSAD, STUSPS, NAMELSADCO, STATE_NAME, LSAD, ALAND,
  AWATER (Census, "2023 Cartographic Boundary File Record Layouts");
- ACS: the Census Data API answer for
  api.census.gov/data/2023/acs/acs5?get=NAME,B01003_001E,...&for=tract:*&in=state:04, saved as CSV
  (state, county and tract FIPS columns last; -666666666 where an estimate cannot be computed).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from helpers import layer_source
from sitescore.catalog import load_catalog
from sitescore.config import load_config
from sitescore.datastore import import_file
from sitescore.errors import ConfigError, DataError
from sitescore.pipeline import run
from sitescore.readers import READERS, read_layer
from sitescore.readers.workforce import geoid11, read_acs, read_bls_laus

#: Cell (2 km, aligned to the grid in EPSG:5070) the end-to-end run scores: its centroid.
CELL_X, CELL_Y = -1_199_000.0, 1_501_000.0

# GEOID, tract centre offset from the cell centroid (km), population, labour force, employed
TRACTS = [
    ("04005000100", (10.0, 0.0), 4100, 2000, 1900),          # 10 km east
    ("04005000200", (0.0, 30.0), 3900, 1500, 1400),          # 30 km north
    ("04005001502", (-6.0, -8.0), 5200, "-666666666", 800),  # 10 km away, labour force unknown
    ("04015950100", (200.0, 0.0), 6000, 3000, 2800),         # beyond the 150 km cut-off
    ("35001000107", (0.0, -120.0), 2500, 700, 650),          # another state, 120 km south
]


def tract_frame(rows=TRACTS, half_m: float = 500.0) -> gpd.GeoDataFrame:
    """Tracts as 1 km squares around their centres, cartographic boundary fields, EPSG:5070
    (a square's point on surface is its centre, so distances are known exactly)."""
    geoms, records = [], []
    for geoid, (dx, dy), *_ in rows:
        cx, cy = CELL_X + dx * 1000, CELL_Y + dy * 1000
        geoms.append(box(cx - half_m, cy - half_m, cx + half_m, cy + half_m))
        tract = geoid[5:]
        name = f"{int(tract[:4])}" + (f".{tract[4:]}" if tract[4:] != "00" else "")
        records.append({
            "STATEFP": geoid[:2], "COUNTYFP": geoid[2:5], "TRACTCE": tract,
            "GEOIDFQ": f"1400000US{geoid}", "GEOID": geoid, "NAME": name,
            "NAMELSAD": f"Census Tract {name}", "STUSPS": "AZ" if geoid[:2] == "04" else "NM",
            "NAMELSADCO": "Cochise County", "STATE_NAME": "Arizona", "LSAD": "CT",
            "ALAND": 1_000_000, "AWATER": 0})
    return gpd.GeoDataFrame(records, geometry=geoms, crs="EPSG:5070")


def write_tracts(path: Path, rows=TRACTS, drop: list[str] | None = None) -> Path:
    gdf = tract_frame(rows)
    if drop:
        gdf = gdf.drop(columns=drop)
    gdf.to_file(path)
    return path


def acs_rows(rows=TRACTS) -> list[list[str]]:
    out = [["NAME", "B01003_001E", "B23025_003E", "B23025_004E", "state", "county", "tract"]]
    for geoid, _, pop, lf, emp in rows:
        out.append([f"Census Tract {geoid[5:]}; Cochise County; Arizona", str(pop), str(lf),
                    str(emp), geoid[:2], geoid[2:5], geoid[5:]])
    return out


def write_acs(path: Path, rows: list[list[str]]) -> Path:
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)
    return path


ACS_FIELDS = {"population": "B01003_001E", "labor_force": "B23025_003E",
              "employed": "B23025_004E"}


def tracts_source(path: Path, data_dir: Path, tables: list | None = None, name: str = "tracts"):
    return layer_source("census_tracts", path, name=name, data_dir=data_dir,
                        tables=tables if tables is not None else [])


# --- reader ------------------------------------------------------------------------------------

def test_tracts_reader_is_registered_as_the_workforce_layer():
    assert READERS["census_tracts"].layer == "counties"
    ds = load_catalog().get("tracts")
    assert ds.reader == "census_tracts" and ds.layer == "counties"
    src = ds.sources_for("state")[0].for_state("NM")
    assert src.url.endswith("/cb_2025_35_tract_500k.zip") and src.filename == "cb_2025_35_tract_500k.zip"
    acs = load_catalog().get("acs_tracts").sources_for("state")[0].for_state("NM")
    assert acs.kind == "census_api" and "for=tract:*&in=state:35" in acs.url


def test_tracts_join_acs_tract_table_by_11_digit_geoid(tmp_path):
    tracts = write_tracts(tmp_path / "cb_2023_04_tract_500k.shp")
    write_acs(tmp_path / "acs5_2023_tract_04.csv", acs_rows())
    out = read_layer(tracts_source(tracts, tmp_path, [
        {"reader": "acs", "path": "acs5_2023_tract_04.csv", "fields": ACS_FIELDS}]))
    assert out.crs.to_epsg() == 5070 and len(out) == len(TRACTS)
    by = out.set_index("geoid")
    assert sorted(by.index) == sorted(t[0] for t in TRACTS)
    assert by.loc["04005000100", "name"] == "Census Tract 1"
    assert by.loc["04005001502", "name"] == "Census Tract 15.02"
    assert by.loc["04005000100", "labor_force"] == 2000
    assert by.loc["35001000107", "employed"] == 650
    assert by.loc["04015950100", "population"] == 6000
    assert math.isnan(by.loc["04005001502", "labor_force"])  # -666666666 is no count
    assert by.loc["04005001502", "employed"] == 800
    assert out.attrs["tables"][0]["tracts_without_row"] == 0
    assert out.attrs["tracts_without_data"] == 0


def test_tract_geoids_from_parts_numbers_and_geo_ids(tmp_path):
    # TIGER-style: no GEOID, the three code fields
    tracts = write_tracts(tmp_path / "tl_2023_04_tract.shp", drop=["GEOID", "GEOIDFQ"])
    (tmp_path / "acs.json").write_text(json.dumps(acs_rows()))  # the API's own JSON answer
    out = read_layer(tracts_source(tracts, tmp_path, [
        {"reader": "acs", "path": "acs.json", "fields": {"population": "B01003_001E"}}]))
    assert out.set_index("geoid").loc["04005000200", "population"] == 3900
    # data.census.gov style table keyed by GEO_ID
    geo_id = tmp_path / "ACSDT5Y2023.B01003.csv"
    pd.DataFrame({"GEO_ID": ["1400000US04005000100", "1400000US35001000107"],
                  "NAME": ["Census Tract 1; Cochise County; Arizona", "x"],
                  "B01003_001E": ["4100", "2500"]}).to_csv(geo_id, index=False)
    assert read_acs(geo_id, {"population": "B01003_001E"}, "tract")["population"].to_dict() == {
        "04005000100": 4100.0, "35001000107": 2500.0}
    assert geoid11(pd.Series(["04005000100", 4005000100, "4005000100.0", "1400000US04005000100",
                              "04005", "x", None])).tolist() == \
        ["04005000100"] * 4 + [None, None, None]


def test_tracts_missing_data_stays_missing_and_is_counted(tmp_path):
    tracts = write_tracts(tmp_path / "t.shp")
    write_acs(tmp_path / "acs.csv", acs_rows(TRACTS[:3]))
    out = read_layer(tracts_source(tracts, tmp_path, [
        {"reader": "acs", "path": "acs.csv", "fields": ACS_FIELDS}]))
    by = out.set_index("geoid")
    assert by.loc[["04015950100", "35001000107"], "population"].isna().all()
    assert out.attrs["tables"][0]["tracts_without_row"] == 2
    assert out.attrs["tracts_without_data"] == 2


def test_per_state_acs_tract_files_are_read_together_through_the_dataset(tmp_path):
    """Fetched per state, acs_tracts is one file per state: `dataset:acs_tracts` reads them all."""
    raw = tmp_path / "raw"
    write_acs(tmp_path / "acs5_2024_tract_04.csv", acs_rows(TRACTS[:4]))
    write_acs(tmp_path / "acs5_2024_tract_35.csv", acs_rows(TRACTS[4:]))
    catalog = load_catalog()
    first = import_file(raw, catalog.get("acs_tracts"), tmp_path / "acs5_2024_tract_04.csv")
    import_file(raw, catalog.get("acs_tracts"), tmp_path / "acs5_2024_tract_35.csv")
    tracts = write_tracts(tmp_path / "t.shp")
    src = layer_source("census_tracts", tracts, name="tracts", data_dir=raw,
                       tables=[{"reader": "acs", "path": "dataset:acs_tracts",
                                "fields": ACS_FIELDS}])
    src = replace(src, datasets={"acs_tracts": first})  # as the pipeline resolves `dataset:`
    out = read_layer(src)
    by = out.set_index("geoid")
    assert by.loc["04005000100", "population"] == 4100
    assert by.loc["35001000107", "population"] == 2500  # from the second state's file
    assert out.attrs["tables"][0]["files"] == 2
    assert out.attrs["tracts_without_data"] == 0
    # the prepared cache and the run manifest see the second state's file too
    from sitescore.cache import cache_key
    from sitescore.pipeline import _option_paths
    assert [p.name for p in _option_paths(src)] == ["acs5_2024_tract_04.csv", "acs5_2024_tract_35.csv"]
    before = cache_key(src)
    second = _option_paths(src)[1]
    second.write_text(second.read_text() + "\n")
    assert cache_key(src) != before


# --- errors ------------------------------------------------------------------------------------

def test_laus_joined_to_tracts_is_a_config_error_that_says_why(tmp_path):
    tracts = write_tracts(tmp_path / "t.shp")
    (tmp_path / "laucnty23.csv").write_text("LAUS Code,State FIPS Code,County FIPS Code\n")
    with pytest.raises(ConfigError) as err:
        read_layer(tracts_source(tracts, tmp_path, [
            {"reader": "bls_laus", "path": "laucnty23.csv"}]))
    message = str(err.value)
    assert "layers.tracts.options.tables[0].reader" in message
    assert "LAUS" in message and "never census tracts" in message and "B23025_003E" in message
    with pytest.raises(DataError, match=r"laucnty23\.csv.*never census tracts"):
        read_bls_laus(tmp_path / "laucnty23.csv", None, "tract")


def test_county_file_read_as_tracts_names_file_field_and_the_mix_up(tmp_path):
    counties = tmp_path / "cb_2023_us_county_500k.geojson"
    gpd.GeoDataFrame({"STATEFP": ["04"], "COUNTYFP": ["005"], "GEOID": ["04005"],
                      "NAME": ["Coconino"]}, geometry=[box(-112, 35, -111, 36)],
                     crs="EPSG:4269").to_file(counties)
    with pytest.raises(DataError) as err:
        read_layer(tracts_source(counties, tmp_path))
    message = str(err.value)
    assert "cb_2023_us_county_500k.geojson" in message and "field 'GEOID'" in message
    assert "1 of 1 features" in message and "census_counties" in message


def test_bad_tract_geoids_are_a_data_error(tmp_path):
    rows = [("0400500010X", (1.0, 1.0), 1, 1, 1), *TRACTS[:2]]
    tracts = write_tracts(tmp_path / "t.geojson", rows=rows)
    with pytest.raises(DataError, match=r"t\.geojson.*field 'GEOID'.*1 of 3 features.*0400500010X"):
        read_layer(tracts_source(tracts, tmp_path))


def test_tract_fields_missing_name_file_and_field(tmp_path):
    tracts = write_tracts(tmp_path / "t.shp", drop=["GEOID", "GEOIDFQ", "TRACTCE"])
    with pytest.raises(DataError, match=r"t\.shp.*'TRACTCE'"):
        read_layer(tracts_source(tracts, tmp_path))
    bare = tmp_path / "bare.geojson"
    gpd.GeoDataFrame({"NAME": ["1"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4269").to_file(bare)
    with pytest.raises(DataError, match=r"bare\.geojson.*'STATEFP'"):
        read_layer(tracts_source(bare, tmp_path))


def test_county_and_tract_tables_are_not_mixed_up(tmp_path):
    tracts = write_tracts(tmp_path / "t.shp")
    county_table = tmp_path / "acs5_2023_county.csv"
    pd.DataFrame({"NAME": ["Cochise County, Arizona"], "B01003_001E": ["125000"],
                  "state": ["04"], "county": ["005"]}).to_csv(county_table, index=False)
    with pytest.raises(DataError, match=r"acs5_2023_county\.csv.*field 'tract'.*county table"):
        read_layer(tracts_source(tracts, tmp_path, [
            {"reader": "acs", "path": county_table.name, "fields": {"population": "B01003_001E"}}]))
    county_geo_ids = tmp_path / "county_geo_id.csv"
    pd.DataFrame({"GEO_ID": ["0500000US04005"], "B01003_001E": ["1"]}).to_csv(county_geo_ids,
                                                                              index=False)
    with pytest.raises(DataError, match=r"county_geo_id\.csv.*'GEO_ID'.*11-digit"):
        read_acs(county_geo_ids, {"population": "B01003_001E"}, "tract")
    # and the other way round: a tract table is never read as county rows
    tract_table = write_acs(tmp_path / "acs5_2023_tract_04.csv", acs_rows())
    with pytest.raises(DataError, match=r"acs5_2023_tract_04\.csv.*field 'tract'"):
        read_acs(tract_table, {"population": "B01003_001E"})


# --- end to end ----------------------------------------------------------------------------------

def write_parcel(path: Path) -> Path:
    """One BLM parcel (PAD-US Fee fields) exactly covering two aligned 2 km cells."""
    x0, y0 = CELL_X - 1000, CELL_Y - 1000
    gpd.GeoDataFrame({
        "Unit_Nm": ["Cochise Basin Public Lands"], "Own_Type": ["FED"], "Own_Name": ["BLM"],
        "Mang_Type": ["FED"], "Mang_Name": ["BLM"], "Des_Tp": ["FOTH"], "GAP_Sts": ["3"],
        "State_Nm": ["AZ"], "GIS_Acres": [1976.8],
    }, geometry=[box(x0, y0, x0 + 4000, y0 + 2000)], crs="EPSG:5070").to_file(
        path, layer="PADUS4_0Fee", driver="GPKG")
    return path


def expected_access(cx: float, cy: float, decay_km: float = 40, cutoff_km: float = 150) -> float:
    total = 0.0
    for _, (dx, dy), _, lf, _ in TRACTS:
        lf = float(lf)
        if lf < 0:
            continue  # the annotation value: no labour force known
        d = math.hypot(CELL_X + dx * 1000 - cx, CELL_Y + dy * 1000 - cy) / 1000
        if d <= cutoff_km:
            total += lf * math.exp(-d / decay_km)
    return total


STUDY = """\
study: tract-gravity
data_dir: .
area: {}
layers:
  federal_land: {reader: padus, path: padus.gpkg}
  tracts:
    reader: census_tracts
    path: cb_2023_04_tract_500k.shp
    options:
      tables:
        - reader: acs
          path: acs5_2023_tract_04.csv
          fields: {population: B01003_001E, labor_force: B23025_003E, employed: B23025_004E}
candidates:
  source: federal_land
  agencies: [BLM]
  grid: {kind: square, size_km: 2}
criteria:
  workforce:
    metric: gravity_access
    layer: tracts
    field: labor_force
    decay_km: 40
    cutoff_km: 150
    value: {kind: log_linear, best: 5000, worst: 100}
    weight: 1
sites: {min_site_acres: 500, min_spacing_km: 1, max_sites: 5}
outputs: {formats: [csv], map_layers: false}
"""


def test_tract_gravity_criterion_end_to_end(tmp_path):
    write_parcel(tmp_path / "padus.gpkg")
    write_tracts(tmp_path / "cb_2023_04_tract_500k.shp")
    write_acs(tmp_path / "acs5_2023_tract_04.csv", acs_rows())
    (tmp_path / "study.yaml").write_text(STUDY)
    result = run(load_config(tmp_path / "study.yaml"), maps_dir=tmp_path / "maps",
                 runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    cells = result.cells
    assert len(cells) == 2
    cells = cells.iloc[np.argsort(shapely.get_x(shapely.centroid(cells.geometry.values)))]
    centroids = shapely.centroid(cells.geometry.values)
    got = cells["raw__workforce"].to_numpy()
    want = [expected_access(c.x, c.y) for c in centroids]
    # the western cell's centroid is the one all offsets were measured from
    assert (centroids[0].x, centroids[0].y) == (CELL_X, CELL_Y)
    assert want[0] == pytest.approx(2000 * math.exp(-10 / 40) + 1500 * math.exp(-30 / 40)
                                    + 700 * math.exp(-120 / 40))
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert len(result.sites) >= 1
    record = next(r for r in result.manifest["inputs"] if r["layer"] == "tracts")
    assert record["features"] == len(TRACTS) and record["tracts_without_data"] == 0
