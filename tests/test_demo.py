"""The synthetic demo region: deterministic, fast, in each provider's published schema, and
readable by the real readers.

The expected field lists below are written out from the providers' published schemas (not
imported from `sitescore.demo`), so a drift in the generator shows up here:
- PAD-US 4.0 Fee layer (USGS GAP, PAD-US 4.0 data dictionary)
- HIFLD Open 'Electric Power Transmission Lines' and 'Electric Substations' feature services
- EIA 'Power Plants in the U.S.' feature service (Federal_User_Community, Period 202502)
- Census TIGER/Line 'Primary and Secondary Roads' shapefile (tl_YYYY_SS_prisecroads)
- BTS/FRA NTAD 'North American Rail Network Lines'
- OurAirports airports.csv
- USGS NHD Flowline (National Map NHD service, upper-case fields)
- WRI Aqueduct 4.0 baseline annual (identifiers and bws_* indicator columns)
- Census cartographic boundary counties (cb_2023_us_county_500k)
- Census API ACS output saved as CSV; BLS LAUS laucnty CSV
"""

from __future__ import annotations

import csv
import importlib.util
import time
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from sitescore import demo
from sitescore.demo import generate_demo

F = demo.FILES

EXPECTED_FIELDS = {
    "federal_land": ["FeatClass", "Category", "Own_Type", "Own_Name", "Loc_Own", "Mang_Type",
                     "Mang_Name", "Loc_Mang", "Des_Tp", "Loc_Ds", "Unit_Nm", "Loc_Nm",
                     "State_Nm", "Agg_Src", "GIS_Src", "Src_Date", "GIS_Acres", "Source_PAID",
                     "WDPA_Cd", "Pub_Access", "Access_Src", "Access_Dt", "GAP_Sts", "GAPCdSrc",
                     "GAPCdDt", "IUCN_Cat", "IUCNCtSrc", "IUCNCtDt", "Date_Est", "Comments",
                     "SHAPE_Length", "SHAPE_Area"],
    "transmission_lines": ["OBJECTID", "ID", "TYPE", "STATUS", "NAICS_CODE", "NAICS_DESC",
                           "SOURCE", "SOURCEDATE", "VAL_METHOD", "VAL_DATE", "OWNER", "VOLTAGE",
                           "VOLT_CLASS", "INFERRED", "SUB_1", "SUB_2", "SHAPE__Len"],
    "substations": ["OBJECTID", "ID", "NAME", "CITY", "STATE", "ZIP", "TYPE", "STATUS", "COUNTY",
                    "COUNTYFIPS", "COUNTRY", "LATITUDE", "LONGITUDE", "NAICS_CODE", "NAICS_DESC",
                    "SOURCE", "SOURCEDATE", "VAL_METHOD", "VAL_DATE", "LINES", "MAX_VOLT",
                    "MIN_VOLT", "MAX_INFER", "MIN_INFER"],
    "power_plants": ["X", "Y", "OBJECTID", "Plant_Code", "Plant_Name", "Utility_ID", "Utility_Na",
                     "sector_nam", "Street_Add", "City", "County", "State", "Zip", "PrimSource",
                     "source_des", "tech_desc", "Install_MW", "Total_MW", "Bat_MW", "Bio_MW",
                     "Coal_MW", "Geo_MW", "Hydro_MW", "HydroPS_MW", "NG_MW", "Nuclear_MW",
                     "Crude_MW", "Solar_MW", "Wind_MW", "Other_MW", "Source", "Period",
                     "Longitude", "Latitude"],
    "roads": ["LINEARID", "FULLNAME", "RTTYP", "MTFCC"],
    "rail": ["OBJECTID", "FRAARCID", "FRFRANODE", "TOFRANODE", "STFIPS", "CNTYFIPS",
             "STCNTYFIPS", "STATEAB", "COUNTRY", "FRADISTRCT", "RROWNER1", "RROWNER2",
             "RROWNER3", "TRKRGHTS1", "TRKRGHTS2", "TRKRGHTS3", "TRKRGHTS4", "TRKRGHTS5",
             "TRKRGHTS6", "TRKRGHTS7", "TRKRGHTS8", "TRKRGHTS9", "DIVISION", "SUBDIV", "BRANCH",
             "YARDNAME", "PASSNGR", "STRACNET", "TRACKS", "NET", "MILES", "KM", "TIMEZONE",
             "SHAPE_Length"],
    "airports": ["id", "ident", "type", "name", "latitude_deg", "longitude_deg", "elevation_ft",
                 "continent", "iso_country", "iso_region", "municipality", "scheduled_service",
                 "gps_code", "iata_code", "local_code", "home_link", "wikipedia_link",
                 "keywords"],
    "rivers": ["OBJECTID", "PERMANENT_IDENTIFIER", "FDATE", "RESOLUTION", "GNIS_ID", "GNIS_NAME",
               "LENGTHKM", "REACHCODE", "FLOWDIR", "WBAREA_PERMANENT_IDENTIFIER", "FTYPE",
               "FCODE", "MAINPATH", "INNETWORK", "VISIBILITYFILTER"],
    "water_stress": ["aq30_id", "string_id", "pfaf_id", "gid_1", "aqid", "gid_0", "name_0",
                     "name_1", "area_km2", "bws_raw", "bws_score", "bws_cat", "bws_label"],
    "counties": ["STATEFP", "COUNTYFP", "COUNTYNS", "GEOIDFQ", "GEOID", "NAME", "NAMELSAD",
                 "STUSPS", "STATE_NAME", "LSAD", "ALAND", "AWATER"],
    "acs": ["NAME", "B23025_003E", "B23025_004E", "B01003_001E", "C24030_007E", "C24030_034E",
            "B15003_022E", "B15003_023E", "B15003_024E", "B15003_025E", "state", "county"],
    "laus": [" LAUS Code", "State FIPS Code", "County FIPS Code",
             "County Name/State Abbreviation", "Year", "Labor Force", "Employed", "Unemployed",
             "Unemployment Rate (%)"],
}
TABLES = {"power_plants", "airports", "acs", "laus"}
VECTORS = {k for k in EXPECTED_FIELDS if k not in TABLES}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("demo_a")
    t0 = time.perf_counter()
    config = generate_demo(out, seed=7)
    return config, time.perf_counter() - t0


@pytest.fixture(scope="module")
def out_dir(generated) -> Path:
    return generated[0].parent


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


# --- determinism and speed -----------------------------------------------------------------

def test_returns_config_and_is_fast(generated):
    config, seconds = generated
    assert config.name == "demo.yaml" and config.exists()
    assert seconds < 10, f"generate_demo took {seconds:.1f} s (budget 10 s)"


def test_same_seed_gives_identical_files(out_dir, tmp_path):
    again = tmp_path / "demo_b"
    generate_demo(again, seed=7)
    assert _files(out_dir) == _files(again)
    for rel in _files(out_dir):
        if rel.suffix == ".gpkg":
            continue  # compared feature by feature below
        assert (out_dir / rel).read_bytes() == (again / rel).read_bytes(), f"{rel} differs"
    a = pyogrio.read_dataframe(out_dir / F["federal_land"])
    b = pyogrio.read_dataframe(again / F["federal_land"])
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert list(shapely.to_wkb(a.geometry.values)) == list(shapely.to_wkb(b.geometry.values))


def test_other_seed_changes_the_data(out_dir, tmp_path):
    other = tmp_path / "demo_c"
    generate_demo(other, seed=8)
    assert (out_dir / F["terrain"]).read_bytes() != (other / F["terrain"]).read_bytes()
    assert (out_dir / F["power_plants"]).read_bytes() != (other / F["power_plants"]).read_bytes()


# --- official schemas ----------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(VECTORS))
def test_vector_files_have_the_official_fields(out_dir, key):
    path = out_dir / F[key]
    layer = demo.PADUS_LAYER if key == "federal_land" else None
    info = pyogrio.read_info(path, layer=layer)
    assert list(info["fields"]) == EXPECTED_FIELDS[key]
    assert info["features"] > 0


@pytest.mark.parametrize("key", sorted(TABLES))
def test_tables_have_the_official_header(out_dir, key):
    with (out_dir / F[key]).open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == EXPECTED_FIELDS[key]


def test_padus_layer_crs_and_quirks(out_dir):
    path = out_dir / F["federal_land"]
    assert [name for name, _ in pyogrio.list_layers(path)] == [demo.PADUS_LAYER]
    gdf = pyogrio.read_dataframe(path, layer=demo.PADUS_LAYER)
    assert gdf.crs.to_epsg() == 5070 or "Albers" in gdf.crs.name  # USGS CONUS Albers
    assert set(gdf.geom_type) == {"MultiPolygon"}
    assert set(gdf["GAP_Sts"]) == {"1", "2", "3", "4"}  # text, as PAD-US publishes it
    assert 30 <= len(gdf) <= 45
    assert int((~shapely.is_valid(gdf.geometry.values)).sum()) == 2
    des = dict(zip(gdf["Unit_Nm"], gdf["Des_Tp"], strict=True))
    assert {"NP", "WA", "WSA", "NWR", "TRIBL", "MIL", "ACEC"} <= set(des.values())
    tribal = gdf[gdf["Own_Type"] == "TRIB"]
    assert len(tribal) == 1 and tribal["Mang_Name"].iloc[0] == "TRIB"
    blm = gdf[gdf["Mang_Name"] == "BLM"]
    assert blm["GIS_Acres"].sum() > 250_000
    assert {"USFS", "DOD", "NPS", "FWS", "SLB", "PVT"} <= set(gdf["Mang_Name"])


def test_hifld_and_eia_sentinels(out_dir):
    lines = pyogrio.read_dataframe(out_dir / F["transmission_lines"])
    assert 25 <= len(lines) <= 35
    volts = set(lines["VOLTAGE"])
    assert {69.0, 115.0, 138.0, 230.0, 345.0, 500.0, -999999.0} <= volts
    assert (lines.loc[lines["VOLTAGE"] == -999999, "VOLT_CLASS"] == "NOT AVAILABLE").all()
    subs = pyogrio.read_dataframe(out_dir / F["substations"])
    assert (subs["MAX_VOLT"] == -999999).any()
    with (out_dir / F["power_plants"]).open(newline="") as f:
        plants = list(csv.DictReader(f))
    assert len(plants) == 15
    assert {"natural gas", "solar", "nuclear", "hydroelectric"} <= {p["PrimSource"] for p in plants}
    assert all(p["Period"] == "202502" for p in plants)


def test_tiger_zip_is_nad83_shapefile(out_dir):
    import zipfile

    path = out_dir / F["roads"]
    names = zipfile.ZipFile(path).namelist()
    stem = "tl_2023_04_prisecroads"
    assert {f"{stem}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= set(names)
    info = pyogrio.read_info(path)
    assert "4269" in str(info["crs"])
    roads = pyogrio.read_dataframe(path)
    assert set(roads["MTFCC"]) == {"S1100", "S1200"}
    assert "I- 40" in set(roads.loc[roads["RTTYP"] == "I", "FULLNAME"])


def test_rail_airports_rivers_water(out_dir):
    rail = pyogrio.read_dataframe(out_dir / F["rail"])
    assert {"M", "A"} <= set(rail["NET"]) and "BNSF" in set(rail["RROWNER1"])
    assert (rail["RROWNER1"] != "BNSF").any()  # a short line too
    with (out_dir / F["airports"]).open(newline="") as f:
        airports = list(csv.DictReader(f))
    kinds = {a["type"] for a in airports}
    assert {"medium_airport", "small_airport", "heliport", "closed"} <= kinds
    assert {a["continent"] for a in airports} == {"NA"}
    rivers = pyogrio.read_dataframe(out_dir / F["rivers"])
    assert {460, 558, 336} <= set(rivers["FTYPE"])
    assert rivers["REACHCODE"].str.fullmatch(r"\d{14}").all()
    water = pyogrio.read_dataframe(out_dir / F["water_stress"])
    assert (water["bws_raw"] == -9999).sum() == 1
    assert (water["bws_cat"] == -1).sum() == 1  # arid and low water use
    area = shapely.box(*demo.BBOX)
    covered = shapely.union_all(water.geometry.values)
    assert covered.covers(area), "Aqueduct polygons must tile the study area"


def test_workforce_tables_keep_their_quirks(out_dir):
    laus = (out_dir / F["laus"]).read_bytes()
    assert laus.startswith(b" LAUS Code,") and b"\r\n" in laus and not laus.endswith(b"\n")
    assert b'"115,' in laus or b'     "' in laus  # quoted counts, thousands separator, spaces
    with (out_dir / F["acs"]).open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and all(r["state"] == "04" and len(r["county"]) == 3 for r in rows)
    counties = pyogrio.read_dataframe(out_dir / F["counties"])
    assert sorted(counties["GEOID"]) == sorted("04" + r["county"] for r in rows)


def test_dem_is_geographic_int16_with_nodata(out_dir):
    with rasterio.open(out_dir / F["terrain"]) as src:
        assert src.crs.to_epsg() == 4326
        assert src.dtypes[0] == "int16" and src.nodata == demo.DEM_NODATA
        assert abs(src.res[0] - 0.001) < 1e-12 and abs(src.res[1] - 0.001) < 1e-12
        w, s, e, n = src.bounds
        bw, bs, be, bn = demo.BBOX
        assert w <= bw and s <= bs and e >= be and n >= bn
        data = src.read(1)
    assert 0 < int((data == demo.DEM_NODATA).sum()) < 100


# --- config and readers --------------------------------------------------------------------

def _metrics_ready() -> bool:
    return importlib.util.find_spec("sitescore.metrics") is not None


def test_config_validates(generated):
    if not _metrics_ready():
        pytest.skip("sitescore.metrics does not exist yet: load_config cannot check metrics")
    from sitescore.config import load_config

    cfg = load_config(generated[0])
    assert cfg.synthetic and cfg.study == "demo" and "synthetic demo data" in cfg.title
    assert cfg.data_dir == "." and cfg.area.bbox == list(demo.BBOX)
    assert abs(sum(c.weight for c in cfg.criteria.values()) - 1.0) < 1e-9
    assert all(c.label and c.unit for c in cfg.criteria.values())
    assert set(cfg.layers) == {"federal_land", "transmission_lines", "substations",
                               "power_plants", "roads", "rail", "airports", "rivers",
                               "water_stress", "counties", "terrain", "places"}
    for name, layer in cfg.layers.items():
        assert (generated[0].parent / layer.path).exists(), name


LAYER_NAMES = ["federal_land", "transmission_lines", "substations", "power_plants", "roads",
               "rail", "airports", "rivers", "water_stress", "counties", "terrain", "places"]


@pytest.fixture(scope="module")
def sources(generated):
    if not _metrics_ready():
        pytest.skip("sitescore.metrics does not exist yet: cannot load the demo config")
    from sitescore.config import load_config
    from sitescore.pipeline import layer_sources

    cfg = load_config(generated[0])
    return cfg, layer_sources(cfg)


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_each_layer_reads_through_its_reader(sources, name):
    cfg, srcs = sources
    try:
        from sitescore.readers import READERS, read_layer
    except ImportError as exc:
        pytest.skip(f"readers not importable yet ({exc})")
    if srcs[name].reader not in READERS:
        pytest.skip(f"reader '{srcs[name].reader}' not written yet")
    from sitescore.study_area import bbox_area

    out = read_layer(srcs[name], bbox_area(cfg.area.bbox))
    if name == "terrain":
        assert np.isfinite(out.values).sum() > 0
        assert np.isnan(out.values).any()  # the nodata pixels
    else:
        assert len(out) > 0
        if name == "federal_land":
            assert out.attrs["repaired"] == 2  # the two self-intersecting parcels
        if name == "counties":
            assert out["labor_force"].notna().all() and out["population"].notna().all()
        if name == "transmission_lines":
            assert out["voltage_kv"].isna().sum() == 3  # -999999 became NaN
        if name == "water_stress":
            assert out["bws_score"].isna().sum() == 1  # -9999 became NaN


def test_region_has_good_flat_blm_land_and_steep_mountains(sources):
    """The story the demo tells: the big BLM expanse is flat and close to the 500 kV line; the
    BLM blocks in the mountains are steep."""
    cfg, srcs = sources
    from sitescore.readers import READERS, read_layer
    from sitescore.study_area import bbox_area

    for needed in ("padus", "dem", "hifld_transmission_lines"):
        if needed not in READERS:
            pytest.skip(f"reader '{needed}' not written yet")
    area = bbox_area(cfg.area.bbox)
    land = read_layer(srcs["federal_land"], area)
    dem = read_layer(srcs["terrain"], area)
    lines = read_layer(srcs["transmission_lines"], area)
    slope = dem.slope_percent()

    def mean_slope(unit: str) -> float:
        geom = land.loc[land["unit_name"] == unit].to_crs(dem.crs).geometry.union_all()
        from rasterio.features import geometry_mask
        inside = ~geometry_mask([geom], out_shape=slope.shape, transform=dem.transform)
        return float(np.nanmean(slope[inside]))

    assert mean_slope("Cholla Basin Public Lands") < 2
    assert mean_slope("Saddle Mesa Public Lands") < 2
    assert mean_slope("Cholla Range Public Lands") > 10
    assert mean_slope("Granite Range Public Lands") > 10
    ehv = lines.loc[lines["voltage_kv"] >= 345].geometry.union_all()
    expanse = land.loc[land["unit_name"] == "Saddle Mesa Public Lands"].geometry.union_all()
    assert shapely.intersects(expanse, ehv)
