"""Layers from PostGIS and results into PostGIS, against a real PostgreSQL + PostGIS server.

The server is started by the tests themselves (tests/postgis_support.py) from Debian's packages,
installed by ``tools/install_postgis.sh``; it is never mocked. The tests fail when the packages
are missing, unless SITESCORE_SKIP_POSTGIS=1 or the install script recorded why it could not
install them.

Tables are loaded in the providers' published schemas:

* PAD-US Fee feature class (USGS GAP, PAD-US 3.0/4.0 data dictionary): text Unit_Nm, Own_Type,
  Own_Name, Mang_Type, Mang_Name, Des_Tp, GAP_Sts ('1'..'4'), State_Nm; double GIS_Acres. Loaded
  in NAD83 lon/lat (EPSG:4269), into a schema-qualified, mixed-case table as GIS teams name them.
* HIFLD Electric Power Transmission Lines: ID (text), TYPE, STATUS, OWNER, VOLTAGE (double kV,
  -999999 = not available), VOLT_CLASS, ...; in Web Mercator (EPSG:3857) as HIFLD serves it, with
  the geometry in a column called `shape`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import yaml
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, box
from sqlalchemy import text

from helpers import layer_source
from postgis_support import PASSWORD, start_server
from sitescore.config import load_config, parse_config
from sitescore.errors import ConfigError, DataError
from sitescore.pipeline import run
from sitescore.postgis import PostgisSource, read_postgis_layer, write_postgis, write_results
from sitescore.readers import read_layer
from sitescore.readers.base import LayerSource
from sitescore.study_area import bbox_area

pytestmark = pytest.mark.postgis

#: Around Socorro, New Mexico.
AREA_BBOX = [-107.2, 34.0, -106.6, 34.5]
PADUS_TABLE = "gis.PADUS4_0Fee"


def padus_fee() -> gpd.GeoDataFrame:
    rows = [
        # Unit_Nm, Own_Type, Own_Name, Mang_Type, Mang_Name, Des_Tp, GAP_Sts, State_Nm, lon/lat box
        ("Socorro Field Office North", "FED", "BLM", "FED", "BLM", "PUB", "3", "NM",
         (-107.10, 34.10, -106.95, 34.25)),
        ("Socorro Field Office East", "FED", "BLM", "FED", "BLM", "PUB", "3", "NM",
         (-106.90, 34.30, -106.75, 34.42)),
        ("Sevilleta National Wildlife Refuge", "FED", "FWS", "FED", "FWS", "NWR", "1", "NM",
         (-106.95, 34.26, -106.85, 34.32)),
        ("Rio Puerco Ranch", "PVT", "PVT", "PVT", "PVT", "PUB", "4", "NM",
         (-106.70, 34.05, -106.62, 34.12)),
        ("Phoenix District Lands", "FED", "BLM", "FED", "BLM", "PUB", "3", "AZ",
         (-112.50, 33.30, -112.30, 33.50)),                           # far outside the area
    ]
    geoms = [box(*r[8]) for r in rows]
    return gpd.GeoDataFrame({
        "Unit_Nm": [r[0] for r in rows], "Own_Type": [r[1] for r in rows],
        "Own_Name": [r[2] for r in rows], "Mang_Type": [r[3] for r in rows],
        "Mang_Name": [r[4] for r in rows], "Des_Tp": [r[5] for r in rows],
        "GAP_Sts": [r[6] for r in rows], "State_Nm": [r[7] for r in rows],
        "GIS_Acres": [round(shapely.area(gpd.GeoSeries([g], crs="EPSG:4269").to_crs(5070).iloc[0])
                            / 4046.8564224, 1) for g in geoms],
    }, geometry=geoms, crs="EPSG:4269")


def hifld_lines() -> gpd.GeoDataFrame:
    rows = [
        # ID, STATUS, OWNER, VOLTAGE, VOLT_CLASS, lon/lat end points
        ("140001", "IN SERVICE", "PUBLIC SERVICE CO OF NEW MEXICO", 345.0, "345",
         [(-106.98, 33.90), (-106.98, 34.60)]),
        ("140002", "IN SERVICE", "TRI-STATE G&T", 115.0, "100-161",
         [(-107.20, 34.35), (-106.60, 34.36)]),
        ("140003", "NOT AVAILABLE", "NOT AVAILABLE", -999999.0, "NOT AVAILABLE",
         [(-106.70, 34.20), (-106.65, 34.45)]),
        ("300001", "IN SERVICE", "PACIFICORP", 230.0, "220-287",
         [(-122.40, 45.50), (-122.20, 45.60)]),                       # Oregon
    ]
    lonlat = gpd.GeoSeries([LineString(r[5]) for r in rows], crs="EPSG:4326")
    return gpd.GeoDataFrame({
        "OBJECTID": range(1, len(rows) + 1), "ID": [r[0] for r in rows],
        "TYPE": "AC; OVERHEAD", "STATUS": [r[1] for r in rows],
        "NAICS_CODE": "221121", "NAICS_DESC": "ELECTRIC BULK POWER TRANSMISSION AND CONTROL",
        "OWNER": [r[2] for r in rows], "VOLTAGE": [r[3] for r in rows],
        "VOLT_CLASS": [r[4] for r in rows], "INFERRED": "N",
    }, geometry=lonlat.to_crs(3857).values, crs="EPSG:3857").rename_geometry("shape")


@pytest.fixture(scope="session")
def postgis_server():
    """A running PostgreSQL + PostGIS server with database `sitescore_test`, stopped (and its
    folder removed) at the end of the session."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def loaded(postgis_server, tmp_path_factory):
    """The two tables in the server and the same data as GeoPackages."""
    folder = tmp_path_factory.mktemp("postgis-files")
    padus, lines = padus_fee(), hifld_lines()
    engine = postgis_server.engine()
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS gis"))
        padus.rename_geometry("geom").to_postgis("PADUS4_0Fee", conn, schema="gis",
                                                 if_exists="replace", index=False)
        lines.to_postgis("hifld_lines", conn, schema="public", if_exists="replace", index=False)
    engine.dispose()
    padus.to_file(folder / "padus.gpkg", driver="GPKG")
    lines.rename_geometry("geometry").to_file(folder / "lines.gpkg", driver="GPKG")
    return {"server": postgis_server, "padus_gpkg": folder / "padus.gpkg",
            "lines_gpkg": folder / "lines.gpkg"}


def pg_source(reader: str, name: str = "layer", **postgis) -> LayerSource:
    src = PostgisSource(**postgis)
    return LayerSource(name, reader, Path(src.label), Path("."), postgis=src)


def canonical_sorted(gdf: gpd.GeoDataFrame, by: str) -> gpd.GeoDataFrame:
    return gdf.sort_values(by).reset_index(drop=True)


# --- reading ---------------------------------------------------------------------------------

@pytest.mark.parametrize("area_bbox", [None, AREA_BBOX], ids=["whole", "study-area"])
@pytest.mark.parametrize("variant", ["table", "sql"])
def test_padus_from_postgis_reads_like_the_geopackage(loaded, variant, area_bbox):
    area = bbox_area(area_bbox) if area_bbox else None
    where = {"table": PADUS_TABLE} if variant == "table" else \
        {"sql": 'SELECT * FROM gis."PADUS4_0Fee"'}
    from_db = read_layer(pg_source("padus", "federal_land", url=loaded["server"].url(), **where), area)
    from_file = read_layer(layer_source("padus", loaded["padus_gpkg"], name="federal_land"), area)
    assert len(from_db) == (5 if area is None else 4)
    assert_geodataframe_equal(canonical_sorted(from_db, "unit_name"),
                              canonical_sorted(from_file, "unit_name"))
    assert from_db.crs.to_epsg() == 5070
    assert from_db.attrs["path"] == ("postgis:gis.PADUS4_0Fee" if variant == "table" else "postgis:(sql)")


@pytest.mark.parametrize("variant", ["table", "sql"])
def test_hifld_lines_from_postgis_read_like_the_geopackage(loaded, variant):
    area = bbox_area(AREA_BBOX)
    where = {"table": "hifld_lines"} if variant == "table" else \
        {"sql": "SELECT * FROM public.hifld_lines WHERE \"STATUS\" <> 'NOT AVAILABLE'"}
    from_db = read_layer(pg_source("hifld_transmission_lines", url=loaded["server"].url(tcp=True),
                                   geometry_column="shape", **where), area)
    from_file = read_layer(layer_source("hifld_transmission_lines", loaded["lines_gpkg"]), area)
    if variant == "sql":  # the query's own filter, as a GIS team would write it
        from_file = from_file[from_file["status"].notna()]
    assert_geodataframe_equal(canonical_sorted(from_db, "line_id"),
                              canonical_sorted(from_file, "line_id"))
    assert set(from_db["line_id"]) == ({"140001", "140002", "140003"} if variant == "table"
                                       else {"140001", "140002"})
    assert from_db.loc[from_db["line_id"] == "140001", "voltage_kv"].item() == 345.0


def test_study_area_filter_runs_in_sql(loaded):
    """The provider rows fetched (before any clipping in Python) are only those in the box."""
    url = loaded["server"].url()
    lines = PostgisSource(url=url, table="hifld_lines", geometry_column="shape")
    padus = PostgisSource(url=url, table=PADUS_TABLE)
    area = bbox_area(AREA_BBOX)
    assert len(read_postgis_layer(lines, None)) == 4
    in_area = read_postgis_layer(lines, area)
    assert sorted(in_area["ID"]) == ["140001", "140002", "140003"]   # not the Oregon line
    assert list(in_area.columns) == list(read_postgis_layer(lines, None).columns)  # provider's own
    assert in_area.crs.to_epsg() == 3857
    assert len(read_postgis_layer(padus, None)) == 5
    assert "Phoenix District Lands" not in set(read_postgis_layer(padus, area)["Unit_Nm"])
    query = PostgisSource(url=url, geometry_column="shape",
                          sql='SELECT "ID", "VOLTAGE", shape FROM hifld_lines')
    assert sorted(read_postgis_layer(query, area)["ID"]) == ["140001", "140002", "140003"]


def test_configured_sql_is_sent_as_written(loaded):
    """Casts, colons and percent signs in the user's SQL are SQL, not bind parameters."""
    sql = ('SELECT * FROM gis."PADUS4_0Fee" WHERE "Mang_Name"::text = \'BLM\' '
           'AND "Unit_Nm" NOT LIKE \'% :x%\' AND "Own_Type" LIKE \'F%\'')
    got = read_postgis_layer(PostgisSource(url=loaded["server"].url(), sql=sql),
                             bbox_area(AREA_BBOX))
    assert sorted(got["Unit_Nm"]) == ["Socorro Field Office East", "Socorro Field Office North"]


def test_srid_of_an_unregistered_geometry_comes_from_the_rows(loaded):
    """A view or a query computing its geometry has no geometry_columns entry with an SRID."""
    server = loaded["server"]
    with server.connect() as conn:
        conn.execute('CREATE OR REPLACE VIEW gis.padus_view AS SELECT "Unit_Nm", "Mang_Name", '
                     'ST_Force2D(geom)::geometry AS geom FROM gis."PADUS4_0Fee"')
    got = read_postgis_layer(PostgisSource(url=server.url(), table="gis.padus_view"),
                             bbox_area(AREA_BBOX))
    assert got.crs.to_epsg() == 4269 and len(got) == 4


# --- a whole run --------------------------------------------------------------------------------

def _run_config(tmp_path: Path, server, **outputs) -> Path:
    doc = {
        "study": "pg-run",
        "area": {"bbox": AREA_BBOX},
        "layers": {
            "federal_land": {"reader": "padus",
                             "postgis": {"url": server.url(), "table": PADUS_TABLE}},
            "lines": {"reader": "hifld_transmission_lines", "optional": True,
                      "postgis": {"url": server.url(tcp=True), "geometry_column": "shape",
                                  "sql": "SELECT * FROM hifld_lines WHERE \"STATUS\" = 'IN SERVICE'"}},
        },
        "candidates": {"source": "federal_land", "agencies": ["BLM"], "grid": {"size_km": 2}},
        "criteria": {
            "grid": {"metric": "distance_to", "layer": "lines", "where": "voltage_kv >= 230",
                     "value": {"kind": "linear", "best": 0, "worst": 30}, "weight": 2},
            "any_line": {"metric": "distance_to", "layer": "lines",
                         "value": {"kind": "linear", "best": 0, "worst": 20}, "weight": 1},
        },
        "sites": {"min_site_acres": 500, "min_spacing_km": 5, "max_sites": 5},
        "outputs": {"formats": ["gpkg", "csv"], "map_layers": False,
                    "postgis": {"url": server.url(), "schema": "results", "prefix": "nm_",
                                **outputs}},
    }
    path = tmp_path / "pg.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_run_reads_layers_from_postgis_and_writes_results_there(loaded, tmp_path):
    server = loaded["server"]
    cfg = load_config(_run_config(tmp_path, server))
    result = run(cfg, runs_dir=tmp_path / "runs", maps_dir=tmp_path / "maps", write_map=False,
                 cache_dir=tmp_path / "cache")
    assert result.notes == []                 # the optional PostGIS layer is never 'missing'
    assert len(result.sites) >= 1
    # files as always
    assert (result.run_dir / "sitescore.gpkg").exists() and (result.run_dir / "sites.csv").exists()
    csv = pd.read_csv(result.run_dir / "sites.csv")
    manifest_text = (result.run_dir / "manifest.json").read_text()
    assert PASSWORD not in manifest_text
    manifest = json.loads(manifest_text)
    inputs = {r["layer"]: r for r in manifest["inputs"]}
    assert inputs["federal_land"]["postgis"]["table"] == PADUS_TABLE
    assert inputs["federal_land"]["postgis"]["url"].startswith("postgresql://sitescore:***@")
    assert "sha256" not in inputs["federal_land"]
    assert inputs["lines"]["postgis"]["sql"].startswith("SELECT * FROM hifld_lines")
    assert manifest["config"]["outputs"]["postgis"]["schema"] == "results"

    # ... and the same tables in PostGIS, in EPSG:5070
    engine = server.engine()
    with engine.connect() as conn:
        sites = pd.read_sql(text('SELECT * FROM results.nm_sites ORDER BY rank'), conn)
        assert sites["rank"].tolist() == csv["rank"].tolist() == list(range(1, len(csv) + 1))
        ranked = result.sites.sort_values("rank")
        assert sites["score"].tolist() == ranked["score"].tolist()      # exactly, not as printed
        assert sites["score"].round(4).tolist() == csv["score"].round(4).tolist()
        assert list(sites.columns) == list(result.sites.columns)
        assert conn.execute(text("SELECT count(*) FROM results.nm_cells")).scalar() == len(result.cells)
        assert conn.execute(text("SELECT count(*) FROM results.nm_excluded")).scalar() > 0
        for table in ("nm_sites", "nm_cells", "nm_excluded"):
            srid = conn.execute(text("SELECT Find_SRID('results', :t, 'geometry')"),
                                {"t": table}).scalar()
            assert srid == 5070
            assert conn.execute(text(f"SELECT DISTINCT ST_SRID(geometry) FROM results.{table}")
                                ).scalars().all() == [5070]
        back = gpd.read_postgis(text("SELECT * FROM results.nm_sites ORDER BY rank"), conn,
                                geom_col="geometry")
    engine.dispose()
    assert back.crs.to_epsg() == 5070
    assert shapely.equals_exact(back.geometry.values, result.sites.sort_values("rank").geometry.values,
                                tolerance=1e-6).all()

    # a second run replaces the tables (no appended duplicates)
    run(cfg, runs_dir=tmp_path / "runs", maps_dir=tmp_path / "maps", write_map=False,
        cache_dir=tmp_path / "cache")
    with server.connect() as conn:
        assert conn.execute("SELECT count(*) FROM results.nm_sites").fetchone()[0] == len(csv)


def test_cli_checks_lists_and_runs_a_postgis_config(loaded, tmp_path):
    from click.testing import CliRunner

    from sitescore.cli import main

    server = loaded["server"]
    cfg = _run_config(tmp_path, server, prefix="cli_")

    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    r = invoke("config", "check", cfg)
    assert r.exit_code == 0, r.output
    assert "MISSING" not in r.output and "postgis:gis.PADUS4_0Fee" in r.output
    r = invoke("layers", cfg)
    assert r.exit_code == 0, r.output
    assert "postgis:(sql)" in r.output and "MISSING" not in r.output
    r = invoke("run", cfg, "--no-map", "--runs-dir", tmp_path / "runs", "--cache-dir",
               tmp_path / "cache")
    assert r.exit_code == 0, r.output
    with server.connect() as conn:
        assert conn.execute("SELECT count(*) FROM results.cli_sites").fetchone()[0] >= 1

    # a wrong password: exit code 2 and one line on stderr, without the password
    wrong = cfg.read_text().replace(PASSWORD, "Wrong-Horse-99")
    bad = tmp_path / "bad.yaml"
    bad.write_text(wrong)
    r = CliRunner().invoke(main, ["run", str(bad), "--no-map", "--runs-dir", str(tmp_path / "r2")])
    assert r.exit_code == 2
    assert "password authentication failed" in r.output
    assert "Wrong-Horse-99" not in r.output and "Traceback" not in r.output


def test_results_written_all_or_nothing(loaded):
    server = loaded["server"]
    good = gpd.GeoDataFrame({"rank": [1]}, geometry=[box(0, 0, 1000, 1000)], crs="EPSG:5070")
    write_postgis(server.url(), "atomic", {"first": good})
    bad = gpd.GeoDataFrame({"rank": [1], "oops": ["PostgreSQL text cannot hold NUL \x00"]},
                           geometry=[box(0, 0, 10, 10)], crs="EPSG:5070")
    newer = gpd.GeoDataFrame({"rank": [1, 2]}, geometry=[box(0, 0, 5, 5)] * 2, crs="EPSG:5070")
    with pytest.raises(DataError) as err:
        write_postgis(server.url(), "atomic", {"first": newer, "second": bad})
    assert "cannot write results to PostGIS" in str(err.value)
    assert PASSWORD not in str(err.value) and "\n" not in str(err.value)
    with server.connect() as conn:  # the first table is as it was, the second never appeared
        assert conn.execute("SELECT count(*) FROM atomic.first").fetchone()[0] == 1
        assert conn.execute("SELECT to_regclass('atomic.second')").fetchone()[0] is None


def test_write_results_drops_a_stale_excluded_table(loaded):
    server = loaded["server"]
    cfg = parse_config(_doc({"reader": "padus", "path": "f.gpkg"},
                            outputs={"postgis": {"url": server.url(), "schema": "stale"}}))
    cells = gpd.GeoDataFrame({"cell_id": ["a"], "score": [0.5]}, geometry=[box(0, 0, 1, 1)],
                             crs="EPSG:5070")
    write_results(cfg.outputs.postgis, cells, cells, cells)
    write_results(cfg.outputs.postgis, cells, cells, None)
    with server.connect() as conn:
        assert conn.execute("SELECT to_regclass('stale.excluded')").fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM stale.sites").fetchone()[0] == 1


# --- errors ------------------------------------------------------------------------------------

def _doc(layer: dict, **more) -> dict:
    """A minimal config whose one layer (the default candidate source) is `layer`."""
    return {"study": "x", "layers": {"federal_land": layer},
            "criteria": {"c": {"metric": "distance_to", "layer": "federal_land", "weight": 1,
                               "value": {"kind": "linear", "best": 0, "worst": 1}}}, **more}


def _one_line_without_password(err: Exception, *secrets: str) -> str:
    msg = str(err)
    assert "\n" not in msg, msg
    for s in (PASSWORD, *secrets):
        assert s not in msg, msg
    return msg


def test_nothing_listening_is_a_one_line_data_error(loaded):
    src = pg_source("padus", url=f"postgresql://sitescore:{PASSWORD}@127.0.0.1:1/gis",
                    table="padus")
    with pytest.raises(DataError) as err:
        read_layer(src, None)
    msg = _one_line_without_password(err.value)
    assert msg.startswith("postgresql://sitescore:***@127.0.0.1:1/gis: cannot connect to PostGIS (")


def test_missing_socket_folder_is_a_one_line_data_error(loaded, tmp_path):
    src = PostgisSource(url=f"postgresql://sitescore@/gis?host={tmp_path}/nowhere", table="padus")
    with pytest.raises(DataError) as err:
        read_postgis_layer(src)
    assert "cannot connect to PostGIS" in _one_line_without_password(err.value)


def test_wrong_password_is_a_one_line_data_error(loaded):
    server = loaded["server"]
    wrong = "Wrong-Horse-99"
    for url in (server.url(password=wrong), server.url(password=wrong, tcp=True)):
        with pytest.raises(DataError) as err:
            read_layer(pg_source("padus", url=url, table=PADUS_TABLE), None)
        msg = _one_line_without_password(err.value, wrong)
        assert "password authentication failed" in msg and "***" in msg
    with pytest.raises(DataError) as err:  # on writing too
        write_postgis(server.url(password=wrong), "results", {})
    assert "password authentication failed" in _one_line_without_password(err.value, wrong)


def test_missing_table_column_or_bad_sql_are_one_line_data_errors(loaded):
    url = loaded["server"].url()
    with pytest.raises(DataError) as err:
        read_layer(pg_source("padus", url=url, table="gis.no_such_table"), None)
    assert "table 'gis.no_such_table' not found" in _one_line_without_password(err.value)
    with pytest.raises(DataError) as err:
        read_layer(pg_source("padus", url=url, table=PADUS_TABLE, geometry_column="shape"), None)
    assert "no geometry column 'shape'" in _one_line_without_password(err.value)
    with pytest.raises(DataError) as err:
        read_layer(pg_source("padus", url=url, sql="SELEKT * FROM gis.x"), None)
    assert "query failed" in _one_line_without_password(err.value)
    with pytest.raises(DataError) as err:  # the reader's own check, as for a file
        read_layer(pg_source("padus", url=url, sql='SELECT "Unit_Nm", geom FROM gis."PADUS4_0Fee"'),
                   None)
    assert "postgis:(sql): field 'Mang_Name'" in _one_line_without_password(err.value)
    with loaded["server"].connect() as conn:  # a function with a side effect ...
        conn.execute('CREATE OR REPLACE FUNCTION gis.wipe() RETURNS int LANGUAGE sql AS '
                     '$$ DELETE FROM gis."PADUS4_0Fee"; SELECT 0 $$')
    with pytest.raises(DataError) as err:  # ... cannot run: a layer's query only ever reads
        read_layer(pg_source("padus", url=url, sql='SELECT *, gis.wipe() AS w FROM gis."PADUS4_0Fee"'),
                   None)
    assert "read-only transaction" in _one_line_without_password(err.value)
    with loaded["server"].connect() as conn:
        assert conn.execute('SELECT count(*) FROM gis."PADUS4_0Fee"').fetchone()[0] == 5
    with pytest.raises(DataError) as err:  # a reader of CSV files cannot read a table
        read_layer(pg_source("gppd", url=url, table=PADUS_TABLE), None)
    assert "reads files only" in str(err.value)
    with pytest.raises(DataError) as err:
        read_layer(pg_source("padus", url=url.replace("/sitescore_test?", "/no_such_db?"),
                             table=PADUS_TABLE), None)
    assert "no_such_db" in _one_line_without_password(err.value)


INJECTIONS = [
    'PADUS4_0Fee"; DROP TABLE gis."PADUS4_0Fee"; --',
    "hifld_lines; DROP TABLE hifld_lines",
    "gis.PADUS4_0Fee' OR '1'='1",
    "a.b.c",
    "1table",
]


@pytest.mark.parametrize("table", INJECTIONS)
def test_sql_injection_in_a_table_name_is_refused(loaded, table, tmp_path):
    server = loaded["server"]
    doc = _doc({"reader": "padus", "postgis": {"url": server.url(), "table": table}})
    with pytest.raises(ConfigError) as err:
        parse_config(doc, "pg.yaml")
    assert "config key 'layers.federal_land.postgis.table'" in str(err.value)
    assert "not" in str(err.value) and PASSWORD not in str(err.value)
    with pytest.raises(ValueError):
        write_postgis(server.url(), "results", {table: None})
    with pytest.raises(ValueError):
        write_postgis(server.url(), table, {})
    with server.connect() as conn:  # nothing was dropped
        assert conn.execute("SELECT count(*) FROM gis.\"PADUS4_0Fee\"").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM hifld_lines").fetchone()[0] == 4


@pytest.mark.parametrize("postgis, key, words", [
    ({"url": "mysql://u@h/db", "table": "t"}, "layers.federal_land.postgis.url", "postgresql://"),
    ({"url": "postgresql://u@h", "table": "t"}, "layers.federal_land.postgis.url", "no database"),
    ({"url": "postgresql://u@h/db"}, "layers.federal_land.postgis", "exactly one of 'table' or 'sql'"),
    ({"url": "postgresql://u@h/db", "table": "t", "sql": "SELECT 1"}, "layers.federal_land.postgis",
     "exactly one"),
    ({"url": "postgresql://u@h/db", "sql": "SELECT 1; DROP TABLE t"}, "layers.federal_land.postgis.sql",
     "single SELECT"),
    ({"url": "postgresql://u@h/db", "table": "t", "geometry_column": "geom) --"},
     "layers.federal_land.postgis.geometry_column", "plain SQL identifier"),
    ({"url": "postgresql://u@h/db", "table": "t", "password": "x"}, "layers.federal_land.postgis.password",
     "unknown key"),
])
def test_postgis_layer_config_errors_name_the_key(postgis, key, words):
    with pytest.raises(ConfigError) as err:
        parse_config(_doc({"reader": "padus", "postgis": postgis}), "pg.yaml")
    assert f"config key '{key}'" in str(err.value) and words in str(err.value)


def test_a_layer_is_a_file_or_a_table_not_both():
    doc = _doc({"reader": "padus", "path": "padus.gpkg",
                "postgis": {"url": "postgresql://u@h/db", "table": "t"}})
    with pytest.raises(ConfigError, match="exactly one of 'path', 'dataset' or 'postgis'"):
        parse_config(doc, "pg.yaml")
    del doc["layers"]["federal_land"]["reader"], doc["layers"]["federal_land"]["path"]
    with pytest.raises(ConfigError, match="given by 'postgis' needs a 'reader'"):
        parse_config(doc, "pg.yaml")


@pytest.mark.parametrize("outputs, key", [
    ({"url": "postgresql://u@h/db", "schema": "results; DROP SCHEMA public"}, "outputs.postgis.schema"),
    ({"url": "postgresql://u@h/db", "prefix": "x\"; --"}, "outputs.postgis.prefix"),
    ({"url": "sqlite:///x.db"}, "outputs.postgis.url"),
])
def test_postgis_output_config_errors_name_the_key(outputs, key):
    with pytest.raises(ConfigError) as err:
        parse_config(_doc({"reader": "padus", "path": "f.gpkg"}, outputs={"postgis": outputs}),
                     "pg.yaml")
    assert f"config key '{key}'" in str(err.value)


def test_password_never_in_the_config_dump():
    src = PostgisSource(url="postgresql://gis:Top-Secret-1@db.example.org:5432/gis", table="t")
    assert "Top-Secret-1" not in json.dumps(src.model_dump(mode="json"))
    assert src.record()["url"] == "postgresql://gis:***@db.example.org:5432/gis"
    assert src.url.endswith("Top-Secret-1@db.example.org:5432/gis")  # still usable to connect
    assert replace(LayerSource("f", "padus", Path(src.label), postgis=src)).path == Path("postgis:t")


def test_without_the_postgis_extra_a_postgis_layer_names_the_extra(monkeypatch):
    """Files-only installs carry no database driver: a PostGIS layer then says which extra to
    install, naming the key, instead of an ImportError."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "psycopg" else real(name, *a))
    with pytest.raises(ConfigError) as err:
        parse_config(_doc({"reader": "padus", "postgis": {"url": "postgresql://u@h/db", "table": "t"}}),
                     "pg.yaml")
    message = str(err.value)
    assert "config key 'layers.federal_land.postgis.url'" in message
    assert "psycopg" in message and "pip install 'sitescore[postgis]'" in message
