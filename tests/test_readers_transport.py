"""Transport readers: TIGER roads, geometry-only freeway and rail lines, FRA NARN, OurAirports.

TIGER and NARN attributes are not in ../shared/data, so small files are written here in their
published schemas (the document is named beside each one); the real freeway, rail and airport
files are read where present.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from helpers import ARIZONA, SHARED_DATA, layer_source, shared_file, write_frame
from sitescore.errors import ConfigError, DataError
from sitescore.readers import READERS, read_layer
from sitescore.readers.base import read_table
from sitescore.readers.transport import airport_rows
from sitescore.schema import CRS
from sitescore.study_area import bbox_area


def segment(lon: float, lat: float) -> LineString:
    return LineString([(lon, lat), (lon + 0.1, lat + 0.05)])


# --- TIGER roads ----------------------------------------------------------------------------
# Schema: Census Bureau, TIGER/Line Shapefiles Technical Documentation, "Primary Roads" and
# "Primary and Secondary Roads" shapefiles (tl_YYYY_us_primaryroads, tl_YYYY_SS_prisecroads):
# LINEARID (String 22), FULLNAME (String 100), RTTYP (String 1: C county, I interstate, M common
# name, O other, S state recognized, U U.S.), MTFCC (String 5: S1100 primary road, S1200
# secondary road, ...). NAD83 (EPSG:4269).

def tiger_roads(path: Path, drop: str | None = None) -> Path:
    gdf = gpd.GeoDataFrame({
        "LINEARID": ["1105089436890", "1104486525316", "1103681577034", "1106087436221"],
        "FULLNAME": ["I- 10", "US Hwy 60", "State Rte 87", "N 7th St"],
        "RTTYP": ["I", "U", "S", "M"],
        "MTFCC": ["S1100", "S1100", "S1200", "S1400"],
    }, geometry=[segment(-112.1, 33.4), segment(-111.7, 33.4), segment(-111.8, 33.6),
                 segment(-112.06, 33.5)], crs="EPSG:4269")
    return write_frame(gdf, path, drop)


def test_tiger_roads_default_primary_and_secondary(tmp_path):
    path = tiger_roads(tmp_path / "tl_2019_04_prisecroads.shp")
    out = read_layer(layer_source("tiger_roads", path))
    assert out.crs == CRS
    assert out.attrs["excluded_by_mtfcc"] == 1
    classes = dict(zip(out["name"], out["road_class"], strict=True))
    assert classes == {"I- 10": "interstate", "US Hwy 60": "primary", "State Rte 87": "secondary"}
    assert set(out["mtfcc"]) == {"S1100", "S1200"}
    assert out["road_id"].tolist()[0] == "1105089436890"


def test_tiger_roads_mtfcc_option(tmp_path):
    path = tiger_roads(tmp_path / "roads.shp")
    primary = read_layer(layer_source("tiger_roads", path, mtfcc=["S1100"]))
    assert sorted(primary["road_class"]) == ["interstate", "primary"]
    everything = read_layer(layer_source("tiger_roads", path, mtfcc=None))
    assert len(everything) == 4
    assert everything.set_index("name").loc["N 7th St", "road_class"] is None


def test_tiger_roads_missing_mtfcc_names_file_and_field(tmp_path):
    path = tiger_roads(tmp_path / "roads.shp", drop="MTFCC")
    with pytest.raises(DataError, match=r"roads\.shp.*'MTFCC'"):
        read_layer(layer_source("tiger_roads", path))


# --- FRA North American Rail Network --------------------------------------------------------
# Schema: FRA / BTS NTAD "North American Rail Network Lines" data dictionary
# (https://doi.org/10.21949/1528950): FRAARCID, FRFRANODE, TOFRANODE, STFIPS, CNTYFIPS,
# STCNTYFIPS, STATEAB, COUNTRY, FRADISTRCT, RROWNER1..3, TRKRGHTS1..9, SUBDIV, YARDNAME, PASSNGR,
# STRACNET, TRACKS, NET (M main sub-network, O other, I industrial lead, Y yard, S siding,
# A abandoned, R abandoned and removed, T trail, X out of service, F ferry), MILES, TIMEZONE.

def narn_lines(path: Path, drop: str | None = None) -> Path:
    rows = [
        # FRAARCID, RROWNER1, TRKRGHTS1, TRACKS, NET
        (300001, "BNSF", "ARZC", 2, "M"),
        (300002, "UP", None, 1, "M"),
        (300003, "ARZC", "BNSF", 1, "M"),   # a short line with BNSF trackage rights
        (300004, "CPRS", None, 1, "O"),
        (300005, "SP", None, 0, "A"),
        (300006, "SP", None, 0, "R"),
        (300007, "UP", None, 3, "Y"),
    ]
    gdf = gpd.GeoDataFrame({
        "FRAARCID": [r[0] for r in rows],
        "FRFRANODE": [400000 + i for i in range(len(rows))],
        "TOFRANODE": [400001 + i for i in range(len(rows))],
        "STFIPS": "04", "CNTYFIPS": "013", "STCNTYFIPS": "04013", "STATEAB": "AZ",
        "COUNTRY": "US", "FRADISTRCT": 7,
        "RROWNER1": [r[1] for r in rows], "RROWNER2": None, "RROWNER3": None,
        **{f"TRKRGHTS{i}": [r[2] if i == 1 else None for r in rows] for i in range(1, 10)},
        "SUBDIV": "PHOENIX", "YARDNAME": None, "PASSNGR": None, "STRACNET": None,
        "TRACKS": [r[3] for r in rows],
        "NET": [r[4] for r in rows],
        "MILES": 1.56, "TIMEZONE": "M",
    }, geometry=[segment(-112.2 + 0.05 * i, 33.45) for i in range(len(rows))], crs="EPSG:4326")
    return write_frame(gdf, path, drop)


def test_fra_narn_class1_and_abandoned(tmp_path):
    out = read_layer(layer_source("fra_narn", narn_lines(tmp_path / "NARN_Lines.geojson")))
    assert out.attrs["abandoned_excluded"] == 2
    by_id = out.set_index("rail_id")
    assert sorted(by_id.index) == ["300001", "300002", "300003", "300004", "300007"]
    assert by_id.loc["300001", "class1"] and by_id.loc["300004", "class1"]
    assert not by_id.loc["300003", "class1"]  # owned by a short line
    assert by_id.loc["300001", "owner"] == "BNSF"
    assert by_id.loc["300001", "network"] == "M"
    assert by_id.loc["300007", "tracks"] == 3.0


def test_fra_narn_keep_abandoned_and_owner_list(tmp_path):
    path = narn_lines(tmp_path / "NARN_Lines.geojson")
    out = read_layer(layer_source("fra_narn", path, exclude_abandoned=False,
                                  class1_owners=["UP"]))
    assert len(out) == 7
    assert out.attrs["abandoned_excluded"] == 0
    assert sorted(out.loc[out["class1"], "rail_id"]) == ["300002", "300007"]


def test_fra_narn_missing_net_names_field(tmp_path):
    path = narn_lines(tmp_path / "narn.geojson", drop="NET")
    with pytest.raises(DataError, match=r"narn\.geojson.*'NET'"):
        read_layer(layer_source("fra_narn", path))


def test_fra_narn_option_must_be_boolean(tmp_path):
    path = narn_lines(tmp_path / "narn.geojson")
    with pytest.raises(ConfigError, match="exclude_abandoned"):
        read_layer(layer_source("fra_narn", path, exclude_abandoned="no"))


# --- geometry-only freeway and rail files ---------------------------------------------------

@pytest.mark.shared_data
def test_freeway_lines_national_and_arizona():
    path = shared_file("roads/us_freeway_system_scgraph.geojson")
    national = read_layer(layer_source("freeway_lines", path, name="roads",
                                       data_dir=SHARED_DATA))
    assert len(national) == 2_851
    assert (national["road_class"] == "freeway").all()
    assert national["road_id"].is_unique  # from segment_id
    arizona = read_layer(layer_source("freeway_lines", path, name="roads",
                                      data_dir=SHARED_DATA), bbox_area(ARIZONA))
    assert 0 < len(arizona) < len(national)


@pytest.mark.shared_data
def test_rail_lines_national_and_arizona():
    path = shared_file("rail/narn_class1_scgraph.geojson")
    national = read_layer(layer_source("rail_lines", path, name="rail", data_dir=SHARED_DATA,
                                       class1=True))
    assert len(national) == 10_951
    assert national["class1"].all()
    assert national["owner"].isna().all() and national["tracks"].isna().all()
    arizona = read_layer(layer_source("rail_lines", path, name="rail", data_dir=SHARED_DATA),
                         bbox_area(ARIZONA))
    assert 0 < len(arizona) < len(national)
    assert not arizona["class1"].any()  # default: the file says nothing about class


def test_rail_lines_class1_must_be_boolean(tmp_path):
    path = tmp_path / "rail.geojson"
    gpd.GeoDataFrame({"segment_id": [0]}, geometry=[segment(-112, 33)],
                     crs="EPSG:4326").to_file(path)
    with pytest.raises(ConfigError, match="class1"):
        read_layer(layer_source("rail_lines", path, class1="true"))


def test_line_id_field_option(tmp_path):
    path = tmp_path / "freeways.geojson"
    gpd.GeoDataFrame({"ROUTE_ID": ["I-10", "I-17"]}, geometry=[segment(-112, 33),
                                                               segment(-112, 34)],
                     crs="EPSG:4326").to_file(path)
    out = read_layer(layer_source("freeway_lines", path, id_field="ROUTE_ID"))
    assert out["road_id"].tolist() == ["I-10", "I-17"]
    with pytest.raises(DataError, match="'SEGMENT'"):
        read_layer(layer_source("freeway_lines", path, id_field="SEGMENT"))


# --- OurAirports ----------------------------------------------------------------------------
# Schema: OurAirports data dictionary (https://ourairports.com/help/data-dictionary.html),
# airports.csv: id, ident, type (large_airport, medium_airport, small_airport, heliport,
# seaplane_base, balloonport, closed), name, latitude_deg, longitude_deg, elevation_ft, continent
# (NA = North America), iso_country, iso_region (e.g. US-AZ), municipality, scheduled_service
# (yes/no), gps_code, iata_code, local_code, home_link, wikipedia_link, keywords.

AIRPORTS_CSV = (
    '"id","ident","type","name","latitude_deg","longitude_deg","elevation_ft","continent",'
    '"iso_country","iso_region","municipality","scheduled_service","gps_code","iata_code",'
    '"local_code","home_link","wikipedia_link","keywords"\n'
    '3772,"KPHX","large_airport","Phoenix Sky Harbor International Airport",33.435302,'
    '-112.005905,1135,"NA","US","US-AZ","Phoenix","yes","KPHX","PHX","PHX",,,\n'
    '6527,"00AZ","small_airport","Cordes Airport",34.305599,-112.165001,3810,"NA","US","US-AZ",'
    '"Cordes","no","00AZ",,"00AZ",,,\n'
    '6528,"01AZ","closed","Old Strip",34.0,-112.0,2000,"NA","US","US-AZ","Nowhere","no",,,,,,\n'
    '6529,"02AZ","heliport","Hospital Heliport",33.5,-112.1,1100,"NA","US","US-AZ","Phoenix","no",'
    '"02AZ",,"02AZ",,,\n'
    '1,"CYYZ","large_airport","Toronto Pearson",43.6772,-79.6306,569,"NA","CA","CA-ON","Toronto",'
    '"yes","CYYZ","YYZ",,,,\n'
)


def test_ourairports_types_state_and_service(tmp_path):
    path = tmp_path / "airports.csv"
    path.write_text(AIRPORTS_CSV)
    out = read_layer(layer_source("ourairports", path)).set_index("ident")
    assert sorted(out.index) == ["00AZ", "KPHX"]
    assert out.attrs["other_country"] == 1 and out.attrs["excluded_by_type"] == 2
    assert out.loc["KPHX", "scheduled_service"] and not out.loc["00AZ", "scheduled_service"]
    assert out.loc["KPHX", "iata_code"] == "PHX" and out.loc["00AZ", "iata_code"] is None
    assert out.loc["KPHX", "state"] == "AZ"
    assert out.loc["KPHX", "airport_type"] == "large_airport"
    with_closed = read_layer(layer_source("ourairports", path, types=["closed", "heliport"]))
    assert sorted(with_closed["ident"]) == ["01AZ", "02AZ"]


def test_ourairports_missing_type_names_field(tmp_path):
    path = tmp_path / "airports.csv"
    path.write_text(AIRPORTS_CSV.replace('"type"', '"kind"', 1))
    with pytest.raises(DataError, match=r"airports\.csv.*'type'"):
        read_layer(layer_source("ourairports", path))


@pytest.mark.shared_data
def test_ourairports_national():
    path = shared_file("airports/ourairports_20221011_airports_US.csv")
    table = read_table(path)
    assert len(table) == 29_467
    # 'NA' is North America: read as published it is never a missing value
    assert table["continent"].notna().all()
    assert (table["continent"] == "NA").sum() == 29_350
    src = layer_source("ourairports", path, name="airports", data_dir=SHARED_DATA)
    rows = airport_rows(src)
    assert rows["continent"].notna().all()
    out = read_layer(src)
    assert len(out) == 14_846 + 807 + 66
    arizona = out.loc[out["state"] == "AZ"]
    assert len(arizona) == 339
    assert arizona["airport_type"].value_counts().to_dict() == {
        "small_airport": 321, "medium_airport": 17, "large_airport": 1}


@pytest.mark.shared_data
def test_ourairports_arizona_file():
    path = shared_file("airports/ourairports_20221011_airports_US-AZ.csv")
    out = read_layer(layer_source("ourairports", path, name="airports", data_dir=SHARED_DATA))
    assert len(out) == 339 == 321 + 17 + 1
    phx = out.set_index("ident").loc["KPHX"]
    assert phx["iata_code"] == "PHX" and phx["scheduled_service"]
    heliports = read_layer(layer_source("ourairports", path, name="airports",
                                        data_dir=SHARED_DATA, types=["heliport"]))
    assert len(heliports) == 221


def test_transport_readers_registered():
    assert {READERS[n].layer for n in ("tiger_roads", "freeway_lines")} == {"roads"}
    assert {READERS[n].layer for n in ("fra_narn", "rail_lines")} == {"rail"}
    assert READERS["ourairports"].layer == "airports"
    assert "line_geometry" not in READERS


@pytest.mark.shared_data
def test_ourairports_longest_open_runway_from_the_runways_file():
    airports = shared_file("airports/ourairports_20221011_airports_US-AZ.csv")
    shared_file("airports/ourairports_20221011_runways_US-AZ.csv")
    gdf = read_layer(layer_source("ourairports", airports, name="airports",
                                  runways="ourairports_20221011_runways_US-AZ.csv"))
    by_ident = gdf.set_index("ident")
    # Phoenix Sky Harbor: runways 10,300, 7,800 and 11,489 ft (08/26) in the runways file
    assert by_ident.loc["KPHX", "longest_runway_ft"] == 11489
    # independently: kept airports that have an open runway with a length in the runways file
    import csv
    with open(airports, newline="") as fh:
        kept_ids = {r["id"] for r in csv.DictReader(fh)
                    if r["type"] in ("large_airport", "medium_airport", "small_airport")}
    with open(airports.parent / "ourairports_20221011_runways_US-AZ.csv", newline="") as fh:
        with_runway = {r["airport_ref"] for r in csv.DictReader(fh)
                       if r["closed"] != "1" and r["length_ft"].strip()}
    assert gdf["longest_runway_ft"].notna().sum() == len(kept_ids & with_runway)
    assert (gdf["longest_runway_ft"].dropna() > 0).all()


def test_ourairports_runways_ignore_closed_runways(tmp_path):
    # OurAirports data dictionary (ourairports.com/help/data-dictionary.html): runways.csv
    # fields id, airport_ref, airport_ident, length_ft, width_ft, surface, lighted, closed, ...
    (tmp_path / "airports.csv").write_text(
        'id,ident,type,name,latitude_deg,longitude_deg,elevation_ft,continent,iso_country,'
        'iso_region,municipality,scheduled_service,gps_code,iata_code,local_code,home_link,'
        'wikipedia_link,keywords\n'
        '1,"KAAA","medium_airport","A Field",35.0,-106.0,5000,"NA","US","US-NM","A","yes",'
        '"KAAA","AAA","AAA",,,\n')
    (tmp_path / "runways.csv").write_text(
        'id,airport_ref,airport_ident,length_ft,width_ft,surface,lighted,closed\n'
        '10,1,"KAAA",13000,150,"ASP",1,1\n'
        '11,1,"KAAA",9000,150,"ASP",1,0\n'
        '12,1,"KAAA",,75,"TURF",0,0\n')
    gdf = read_layer(layer_source("ourairports", tmp_path / "airports.csv", runways="runways.csv"))
    assert gdf["longest_runway_ft"].tolist() == [9000.0]
