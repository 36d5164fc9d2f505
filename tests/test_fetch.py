"""`sitescore fetch` against a loopback portal (tests/fake_portal.py): real HTTP with Range,
cut connections, 404s, refused connections, mirrors, ArcGIS paging and the Census API.

Real files from ../shared/data are served in place where they exist (GPPD and OurAirports as
published, the Natural Earth zipped shapefile); the rest are small files in the official
schemas: HIFLD Electric Power Transmission Lines (fields as in the HIFLD open data layer:
OBJECTID, ID, TYPE, STATUS, OWNER, VOLTAGE, VOLT_CLASS, SUB_1, SUB_2, SOURCE, SOURCEDATE ...),
Census Data API answers (a JSON array of rows, header first: variables, then state, county).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import math
import os
import stat
import time
import zipfile
from pathlib import Path

import pyogrio
import pytest
import shapely
from shapely.geometry import shape

from fake_portal import FakePortal
from helpers import SHARED_DATA, shared_file
from sitescore.catalog import parse_catalog
from sitescore.datastore import read_manifest
from sitescore.errors import ConfigError
from sitescore.fetch import (
    STATE_BBOX,
    Download,
    describe_plan,
    envelope_query,
    make_session,
    plan_fetch,
    probe_sizes,
    run_fetch,
    states_touching,
    tiles_covering,
)
from sitescore.schema import STATE_FIPS

GPPD_SHA256 = "f732b4d7e4f830d3778093cc1861a93b45041a6e7cca39603482f4fa3f624971"   # SOURCES.md
AIRPORTS_SHA256 = "6f70faa368fa1172a758b56c4a4aebf90564a02b8d2e04d4b704f7432994fc9b"


# ---------------------------------------------------------------------------------- helpers

def make_catalog(**datasets):
    """A catalog of datasets given as id=[sources] (or id=(layer, [sources]))."""
    doc = {"datasets": {}}
    for ds_id, spec in datasets.items():
        layer, sources = spec if isinstance(spec, tuple) else ("table", spec)
        doc["datasets"][ds_id] = {
            "title": ds_id, "provider": "test", "product": ds_id, "version": "1",
            "licence": "public domain", "homepage": "https://example.invalid", "layer": layer,
            "format": "test", "sources": sources}
    return parse_catalog(doc, origin="test catalog")


def fetch(plan, root, retries=2, **kw):
    """run_fetch without progress bars, back-off or long timeouts."""
    session = make_session(retries=retries, backoff=0)
    try:
        return run_fetch(plan, root, progress=False, session=session, retries=retries,
                         timeout=(2, 5), backoff=0, **kw)
    finally:
        session.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(n: int, seed: int = 1) -> bytes:
    """n bytes that do not repeat (so a wrong offset shows)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}-{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


def leftovers(root: Path) -> list[str]:
    """Everything under root but the manifest and lock files."""
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not p.name.startswith((".fetch.", ".manifest.lock"))
                  and p.name != "MANIFEST.json")


def zip_bytes(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def hifld_lines(n: int) -> list[dict]:
    """n transmission lines in the HIFLD Electric Power Transmission Lines schema, on a grid
    over the south-west (lon -120..-100, lat 30..45), as an ArcGIS f=geojson answer has them."""
    feats = []
    cols = 50
    for i in range(n):
        x = -120 + (i % cols) * 0.4
        y = 30 + (i // cols) * (15 / max(1, math.ceil(n / cols)))
        volt = [69, 115, 138, 230, 345, 500][i % 6]
        feats.append({"type": "Feature", "id": i + 1, "geometry": {
            "type": "LineString", "coordinates": [[round(x, 4), round(y, 4)],
                                                  [round(x + 0.3, 4), round(y + 0.1, 4)]]},
            "properties": {
                "OBJECTID": i + 1, "ID": str(100000 + i), "TYPE": "AC; OVERHEAD",
                "STATUS": "IN SERVICE", "NAICS_CODE": "221121",
                "NAICS_DESC": "ELECTRIC BULK POWER TRANSMISSION AND CONTROL",
                "SOURCE": "IMAGERY", "SOURCEDATE": 1420070400000, "VAL_METHOD": "IMAGERY",
                "VAL_DATE": 1420070400000, "OWNER": "NOT AVAILABLE", "VOLTAGE": float(volt),
                "VOLT_CLASS": "345" if volt == 345 else ("500" if volt == 500 else "220-287"
                                                         if volt == 230 else "UNDER 100"
                                                         if volt < 100 else "100-161"),
                "INFERRED": "N", "SUB_1": f"SUB{i}", "SUB_2": f"SUB{i + 1}",
                "SHAPE__Length": 35000.0}})
    return feats


HIFLD_FIELDS = [{"name": "OBJECTID", "type": "esriFieldTypeOID"},
                {"name": "ID", "type": "esriFieldTypeString"},
                {"name": "VOLTAGE", "type": "esriFieldTypeDouble"},
                {"name": "VOLT_CLASS", "type": "esriFieldTypeString"},
                {"name": "STATUS", "type": "esriFieldTypeString"}]


@pytest.fixture
def root(tmp_path):
    return tmp_path / "raw"


# ------------------------------------------------------------------------ planning (offline)

def test_neither_states_nor_bbox_takes_national_files():
    cat = make_catalog(padus=[
        {"role": "national", "url": "https://x.invalid/PADUS4_0Geodatabase.zip", "unzip": True},
        {"role": "state", "url": "https://x.invalid/PADUS4_0_State_{state}.zip"},
        {"role": "service", "kind": "arcgis", "url": "https://x.invalid/FeatureServer/0"}])
    plan = plan_fetch(cat, only=None, states=None, bbox=None)
    assert [(d.url, d.target.as_posix(), d.kind, d.query) for d in plan] == [
        ("https://x.invalid/PADUS4_0Geodatabase.zip", "padus/PADUS4_0Geodatabase.zip", "file", None)]


def test_states_take_state_extracts_then_a_service_by_state_box():
    cat = make_catalog(
        padus=[{"role": "national", "url": "https://x.invalid/national.zip"},
               {"role": "state", "url": "https://x.invalid/PADUS_{state}_{state_fips}.zip"}],
        lines=[{"role": "national", "url": "https://x.invalid/lines.zip"},
               {"role": "service", "kind": "arcgis", "url": "https://x.invalid/FeatureServer/0"}])
    plan = plan_fetch(cat, only=None, states=["az", "NV"], bbox=None)
    got = [(d.dataset.id, d.target.as_posix(), d.query and d.query["geometry"]) for d in plan]
    assert got == [("padus", "padus/PADUS_AZ_04.zip", None), ("padus", "padus/PADUS_NV_32.zip", None),
                   ("lines", "lines/lines_AZ.geojson", "-114.83,31.32,-109.03,37.02"),
                   ("lines", "lines/lines_NV.geojson", "-120.02,34.99,-114.03,42.02")]
    assert plan[2].query["geometryType"] == "esriGeometryEnvelope"
    assert plan[2].query["inSR"] == "4326"


def test_bbox_prefers_a_service_and_otherwise_the_states_it_touches():
    cat = make_catalog(
        lines=[{"role": "national", "url": "https://x.invalid/lines.zip"},
               {"role": "service", "kind": "arcgis", "url": "https://x.invalid/FeatureServer/0"}],
        padus=[{"role": "national", "url": "https://x.invalid/national.zip"},
               {"role": "state", "url": "https://x.invalid/PADUS_{state}.zip"}],
        gppd=[{"role": "national", "url": "https://x.invalid/gppd.csv"}])
    plan = plan_fetch(cat, only=["lines,padus", "gppd"], states=None, bbox=(-114.1, 36.5, -113.5, 37.5))
    assert [d.target.as_posix() for d in plan] == [
        "lines/lines_bbox_-114.1_36.5_-113.5_37.5.geojson",
        "padus/PADUS_AZ.zip", "padus/PADUS_NV.zip", "padus/PADUS_UT.zip", "gppd/gppd.csv"]
    assert plan[0].query["geometry"] == "-114.1,36.5,-113.5,37.5"


def test_tiles_cover_the_area():
    assert tiles_covering((-107.5, 35.5, -106.2, 36.4)) == [(36, 107), (36, 108), (37, 107), (37, 108)]
    assert tiles_covering((-107.0, 35.0, -106.0, 36.0)) == [(36, 107)]     # edges do not spill
    cat = make_catalog(dem=("terrain", [{
        "role": "tile", "url": "https://x.invalid/1/TIFF/current/{tile}/USGS_1_{tile}.tif"}]))
    plan = plan_fetch(cat, only=None, states=None, bbox=(-107.5, 35.5, -106.2, 36.4))
    assert [d.target.as_posix() for d in plan] == [
        "dem/USGS_1_n36w107.tif", "dem/USGS_1_n36w108.tif", "dem/USGS_1_n37w107.tif",
        "dem/USGS_1_n37w108.tif"]
    assert plan[0].url == "https://x.invalid/1/TIFF/current/n36w107/USGS_1_n36w107.tif"
    az = plan_fetch(cat, only=None, states=["AZ"], bbox=None)
    assert len(az) == 6 * 6 and {d.label for d in az} >= {"n32w115", "n37w110"}   # 115-109 W, 31-37 N
    # tiles need an area: left out of a national fetch, an error when asked for by name
    assert plan_fetch(cat, only=None, states=None, bbox=None).skipped[0][0] == "dem"
    with pytest.raises(ConfigError, match="give --states or --bbox"):
        plan_fetch(cat, only=["dem"], states=None, bbox=None)


def test_alaska_crosses_the_antimeridian():
    assert STATE_BBOX["AK"][0] > STATE_BBOX["AK"][2]
    q = envelope_query(STATE_BBOX["AK"])
    assert q["geometryType"] == "esriGeometryPolygon"
    rings = json.loads(q["geometry"])["rings"]
    assert len(rings) == 2 and {r[0][0] for r in rings} == {172.44, -180}
    assert "AK" in states_touching((175.0, 51.0, 179.0, 53.0))
    assert states_touching((-114.1, 36.5, -113.5, 37.5)) == ["AZ", "NV", "UT"]


def test_state_table_covers_every_state():
    assert set(STATE_BBOX) == set(STATE_FIPS)
    for st, (w, s, e, n) in STATE_BBOX.items():
        assert s < n and -180 <= w <= 180 and -180 <= e <= 180, st


@pytest.mark.shared_data
def test_state_table_holds_the_census_outlines():
    states = pyogrio.read_dataframe(shared_file("counties/us_states_us_atlas_10m.geojson"))
    fips_state = {v: k for k, v in STATE_FIPS.items()}
    for fips, geom in zip(states["id"], states.geometry, strict=True):
        st = fips_state[fips]
        w, s, e, n = STATE_BBOX[st]
        boxes = [shapely.box(w, s, e, n)] if w < e else [shapely.box(w, s, 180, n),
                                                         shapely.box(-180, s, e, n)]
        assert shapely.union_all(boxes).contains(geom), st


def test_bad_selection_is_one_clear_error():
    cat = make_catalog(gppd=[{"role": "national", "url": "https://x.invalid/gppd.csv"}])
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        plan_fetch(cat, only=["nope"], states=None, bbox=None)
    with pytest.raises(ConfigError, match="unknown state 'XX'"):
        plan_fetch(cat, only=None, states=["XX"], bbox=None)
    with pytest.raises(ConfigError, match="--bbox"):
        plan_fetch(cat, only=None, states=None, bbox=(-100, 40, -101, 30))
    with pytest.raises(ConfigError, match=r"west -100\.0 is east of east -110\.0"):
        plan_fetch(cat, only=None, states=None, bbox=(-100, 30, -110, 40))     # swapped
    assert len(plan_fetch(cat, only=None, states=None, bbox=(170, 50, -170, 60))) == 1


def test_state_files_without_a_placeholder_in_the_name_do_not_collide():
    cat = make_catalog(sma=[{"role": "state", "url": "https://x.invalid/{state}/sma.zip"},
                            {"role": "mirror", "url": "https://m.invalid/{state}/sma.zip"}])
    plan = plan_fetch(cat, only=None, states=["AZ", "NM"], bbox=None)
    assert [d.target.as_posix() for d in plan] == ["sma/sma_AZ.zip", "sma/sma_NM.zip"]
    assert [a.target.as_posix() for a in plan[1].alternates] == ["sma/sma_NM.zip"]
    assert plan[1].alternates[0].url == "https://m.invalid/NM/sma.zip"


# ------------------------------------------------------------------------- real transfers

@pytest.mark.shared_data
def test_full_fetch_of_real_files(portal, root):
    gppd = shared_file("power_plants/gppd_v1.3.0_usa_source.csv")
    airports = shared_file("airports/ourairports_20221011_airports_US.csv")
    rivers = shared_file("water/ne_50m_rivers_lake_centerlines.zip")
    cat = make_catalog(
        power_plants=("power_plants", [{
            "role": "national", "sha256": GPPD_SHA256, "size_bytes": gppd.stat().st_size,
            "url": portal.add_file("/wri/global-power-plant-database/source_databases_csv/"
                                   "database_USA.csv", gppd, content_type="text/csv"),
            "filename": "gppd_v1.3.0_usa_source.csv"}]),
        airports=("airports", [{
            "role": "national", "sha256": AIRPORTS_SHA256,
            "url": portal.add_file("/ourairports-data/airports.csv", airports)}]),
        rivers=("rivers", [{
            "role": "national", "unzip": True, "size_bytes": rivers.stat().st_size,
            "url": portal.add_file("/naturalearth/ne_50m_rivers_lake_centerlines.zip", rivers,
                                   content_type="application/zip")}]))
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root)
    assert report.ok and len(report.downloaded) == 3, report.summary()
    files = read_manifest(root)["files"]
    assert sorted(files) == ["airports/airports.csv", "power_plants/gppd_v1.3.0_usa_source.csv",
                             "rivers/ne_50m_rivers_lake_centerlines/ne_50m_rivers_lake_centerlines.shp"]
    e = files["power_plants/gppd_v1.3.0_usa_source.csv"]
    assert e["sha256"] == GPPD_SHA256 and e["bytes"] == gppd.stat().st_size
    assert e["source"] == portal.url("/wri/global-power-plant-database/source_databases_csv/"
                                     "database_USA.csv") and e["version"] == "1"
    assert (root / "power_plants/gppd_v1.3.0_usa_source.csv").read_bytes() == gppd.read_bytes()
    assert files["airports/airports.csv"]["sha256"] == AIRPORTS_SHA256
    shp = files["rivers/ne_50m_rivers_lake_centerlines/ne_50m_rivers_lake_centerlines.shp"]
    assert shp["archive_sha256"] == sha(rivers.read_bytes())
    folder = root / "rivers/ne_50m_rivers_lake_centerlines"
    assert {p.suffix for p in folder.iterdir()} >= {".shp", ".shx", ".dbf", ".prj", ".cpg"}
    assert len(pyogrio.read_dataframe(folder / "ne_50m_rivers_lake_centerlines.shp")) > 400
    assert not list(root.rglob("*.part*")) and not (root / "rivers" / rivers.name).exists()


def test_resume_after_a_cut_mid_file(portal, root):
    data = blob(300_000)
    url = portal.add_file("/files/big.bin", data, cut_after=100_000)
    cat = make_catalog(big=[{"role": "national", "url": url, "sha256": sha(data)}])
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root)
    assert report.ok, report.summary()
    hits = portal.hits("/files/big.bin")
    assert len(hits) == 2 and "Range" not in hits[0].headers
    assert hits[1].headers["Range"] == "bytes=100000-" and hits[1].status == 206
    assert hits[1].headers.get("If-Range")                       # the part's validator
    assert portal.bytes_served("/files/big.bin") == len(data)    # nothing sent twice
    assert (root / "big/big.bin").read_bytes() == data
    assert read_manifest(root)["files"]["big/big.bin"]["sha256"] == sha(data)


def test_a_part_is_kept_after_a_cut_and_the_next_fetch_resumes_it(portal, root):
    data = blob(200_000, seed=2)
    url = portal.add_file("/files/cut.bin", data, cut_after=30_000, cut_times=2)
    cat = make_catalog(cut=[{"role": "national", "url": url}])
    plan = plan_fetch(cat, only=None, states=None, bbox=None)
    first = fetch(plan, root, retries=1)                   # two attempts, both cut
    assert not first.ok
    line = first.summary()
    assert "\n" not in line and url in line and "connection cut after 60,000 of 200,000 bytes" in line
    assert "sitescore data import cut <file>" in line
    assert (root / "cut/cut.bin.part").stat().st_size == 60_000
    assert not (root / "cut/cut.bin").exists()
    second = fetch(plan, root)
    assert second.ok and len(second.downloaded) == 1
    last = portal.hits("/files/cut.bin")[-1]
    assert last.headers["Range"] == "bytes=60000-" and last.status == 206
    assert portal.bytes_served("/files/cut.bin") == len(data)
    assert (root / "cut/cut.bin").read_bytes() == data      # size checked against Content-Length
    assert leftovers(root) == ["cut/cut.bin"]


def test_a_server_ignoring_range_restarts_cleanly(portal, root):
    data = blob(120_000, seed=3)
    url = portal.add_file("/files/norange.bin", data, cut_after=50_000, ranges=False)
    cat = make_catalog(nr=[{"role": "national", "url": url, "size_bytes": len(data)}])
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root)
    assert report.ok
    assert [h.status for h in portal.hits("/files/norange.bin")] == [200, 200]
    assert (root / "nr/norange.bin").read_bytes() == data


def test_a_corrupted_download_is_rejected_and_deleted(portal, root):
    data = blob(50_000, seed=4)
    url = portal.add_file("/files/bad.csv", data)
    cat = make_catalog(bad=[{"role": "national", "url": url, "sha256": "0" * 64}])
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root)
    assert not report.ok
    assert "checksum mismatch" in report.failed[0].reason
    assert "download was deleted" in report.failed[0].reason
    assert leftovers(root) == [] and read_manifest(root)["files"] == {}


@pytest.mark.parametrize("members, symlinks, why", [
    ({"data/ok.csv": b"a,b\n", "../evil.txt": b"x"}, None, "'..' component"),
    ({"data/ok.csv": b"a,b\n", "/tmp/evil_abs.txt": b"x"}, None, "absolute path"),
    ({"data/ok.csv": b"a,b\n", "data/..\\..\\evil.txt": b"x"}, None, "'..' component"),
    ({"data/ok.csv": b"a,b\n"}, {"data/link": "/etc/passwd"}, "symbolic link"),
    ({"data/ok.csv": b"a,b\n", "data/huge.bin": bytes(5000)}, None, "over the 4,096 byte limit"),
], ids=["dotdot", "absolute", "backslash-dotdot", "symlink", "too-big"])
def test_an_unsafe_zip_is_rejected_with_nothing_extracted(portal, root, tmp_path, members,
                                                          symlinks, why):
    data = zip_bytes(members, symlinks)
    url = portal.add_file("/files/evil.zip", data, content_type="application/zip")
    cat = make_catalog(evil=[{"role": "national", "url": url, "unzip": True, "sha256": sha(data)}])
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root, max_member_bytes=4096)
    assert not report.ok
    reason = report.failed[0].reason
    assert "unsafe archive" in reason and why in reason and "nothing was extracted" in reason
    assert leftovers(root) == [] and read_manifest(root)["files"] == {}
    assert not [p for p in tmp_path.rglob("*evil*")
                if p.name != "evil" and not p.name.startswith(".fetch.")]
    assert not Path("/tmp/evil_abs.txt").exists()


def test_404_is_one_clear_line(portal, root):
    url = portal.url("/gone/PADUS4_0Geodatabase.zip")
    cat = make_catalog(padus=[{"role": "national", "url": url, "unzip": True}])
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root)
    [line] = report.lines()
    assert line.startswith("padus: FAILED could not download " + url + ": 404 Not Found")
    assert "sitescore data import padus <file>" in line
    assert leftovers(root) == [] and not list(root.rglob("*.part*"))


def test_refused_connection_is_one_clear_line(root):
    url = FakePortal.refused_url("/hifld/Electric_Power_Transmission_Lines.zip")
    cat = make_catalog(transmission_lines=[{"role": "national", "url": url}])
    started = time.monotonic()
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root)
    assert time.monotonic() - started < 5
    [line] = report.lines()
    assert url in line and "connection refused" in line
    assert "sitescore data import transmission_lines <file>" in line
    assert leftovers(root) == []


def test_a_mirror_is_used_when_the_primary_is_refused(portal, root):
    data = blob(40_000, seed=5)
    primary = FakePortal.refused_url("/official/lines.csv")
    mirror = portal.add_file("/mirror/lines.csv", data)
    cat = make_catalog(lines=[{"role": "national", "url": primary, "sha256": sha(data)},
                              {"role": "mirror", "url": mirror}])
    plan = plan_fetch(cat, only=None, states=None, bbox=None)
    assert [a.url for a in plan[0].alternates] == [mirror]
    assert plan[0].alternates[0].source.sha256 == sha(data)     # checked like the primary
    report = fetch(plan, root)
    assert report.ok and report.downloaded[0].url == mirror
    entry = read_manifest(root)["files"]["lines/lines.csv"]
    assert entry["source"] == mirror and entry["role"] == "mirror"


def test_an_archive_is_used_when_primary_and_mirror_fail(portal, root):
    data = blob(10_000, seed=6)
    cat = make_catalog(gppd=[
        {"role": "national", "url": portal.add_status("/official/gppd.csv", 503)},
        {"role": "mirror", "url": portal.url("/mirror/missing/gppd.csv")},
        {"role": "archive", "url": portal.add_file("/web/2022/gppd.csv", data)}])
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root, retries=1)
    assert report.ok and report.downloaded[0].url.endswith("/web/2022/gppd.csv")
    assert len(portal.hits("/official/gppd.csv")) == 2            # retried once, then given up
    assert (root / "gppd/gppd.csv").read_bytes() == data


def test_5xx_is_retried_with_back_off(portal, root):
    data = blob(5_000, seed=7)
    url = portal.add_file("/flaky/file.bin", data, fail_status=503, fail_times=2)
    cat = make_catalog(flaky=[{"role": "national", "url": url}])
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root, retries=3)
    assert report.ok
    assert [h.status for h in portal.hits("/flaky/file.bin")] == [503, 503, 200]


def test_a_second_fetch_downloads_nothing(portal, root):
    csv_data = b"plant_code,name\n1,A\n"
    zipped = zip_bytes({"PADUS/PADUS.gdb/a00000001.gdbtable": blob(3000),
                        "PADUS/PADUS.gdb/gdb": b"\x05\x00\x00\x00"})
    cat = make_catalog(
        plants=[{"role": "national", "url": portal.add_file("/p.csv", csv_data)}],
        padus=[{"role": "national", "url": portal.add_file("/PADUS.zip", zipped), "unzip": True}],
        lines=[{"role": "service", "kind": "arcgis",
                "url": portal.add_arcgis_layer("/arcgis/rest/services/Lines/FeatureServer/0",
                                               hifld_lines(30), max_record_count=10)}])
    plan = plan_fetch(cat, only=None, states=None, bbox=None)
    first = fetch(plan, root)
    assert first.ok and len(first.downloaded) == 3, first.summary()
    files = read_manifest(root)["files"]
    assert "padus/PADUS/PADUS.gdb" in files                 # the .gdb inside, not the zip
    assert files["padus/PADUS/PADUS.gdb"]["archive_sha256"] == sha(zipped)
    asked = len(portal.hits())
    second = fetch(plan, root)
    assert second.ok and len(second.present) == 3 and not second.downloaded
    assert len(portal.hits()) == asked                      # not one request
    assert "already present 1 file" in second.summary()
    # a file changed on disk no longer counts as present
    (root / "plants/p.csv").write_bytes(b"edited\n")
    third = fetch(plan, root)
    assert [r.dataset for r in third.downloaded] == ["plants"]
    assert (root / "plants/p.csv").read_bytes() == csv_data


# --------------------------------------------------------------------------- services

def test_arcgis_layer_is_paged_into_one_geojson(portal, root):
    feats = hifld_lines(2345)
    path = "/arcgis/rest/services/Electric_Power_Transmission_Lines/FeatureServer/0"
    url = portal.add_arcgis_layer(path, feats, max_record_count=500, fields=HIFLD_FIELDS)
    cat = make_catalog(transmission_lines=("transmission_lines", [
        {"role": "service", "kind": "arcgis", "url": url}]))
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root)
    assert report.ok, report.summary()
    out = root / "transmission_lines/transmission_lines.geojson"
    gdf = pyogrio.read_dataframe(out)
    assert len(gdf) == 2345 and sorted(gdf["OBJECTID"]) == list(range(1, 2346))
    assert {"VOLTAGE", "VOLT_CLASS", "SUB_1", "SUB_2", "STATUS"} <= set(gdf.columns)
    pages = [h for h in portal.hits(path + "/query") if h.query.get("f") == "geojson"]
    assert len(pages) == 5                                    # 500 a page, the layer's limit
    assert [h.query["resultOffset"] for h in pages] == ["0", "500", "1000", "1500", "2000"]
    assert all(h.query["resultRecordCount"] == "500" and h.query["where"] == "1=1"
               and h.query["outFields"] == "*" for h in pages)
    assert portal.hits(path)[0].query == {"f": "json"}
    entry = read_manifest(root)["files"]["transmission_lines/transmission_lines.geojson"]
    assert entry["features"] == 2345 and entry["source"] == url


def test_arcgis_bbox_query_keeps_only_the_box(portal, root):
    feats = hifld_lines(1200)
    path = "/arcgis/rest/services/Lines/FeatureServer/0"
    url = portal.add_arcgis_layer(path, feats, max_record_count=100)
    box = (-114.83, 31.32, -109.03, 37.02)
    cat = make_catalog(lines=[{"role": "national", "url": portal.url("/never/asked.zip")},
                              {"role": "service", "kind": "arcgis", "url": url}])
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=box), root)
    assert report.ok, report.summary()
    want = {f["properties"]["OBJECTID"] for f in feats
            if shape(f["geometry"]).intersects(shapely.box(*box))}
    assert 0 < len(want) < 1200
    [out] = (root / "lines").glob("*.geojson")
    gdf = pyogrio.read_dataframe(out)
    assert set(gdf["OBJECTID"]) == want and len(gdf) == len(want)
    q = next(h for h in portal.hits(path + "/query") if h.query.get("f") == "geojson").query
    assert q["geometry"] == "-114.83,31.32,-109.03,37.02"
    assert (q["geometryType"], q["inSR"], q["spatialRel"]) == (
        "esriGeometryEnvelope", "4326", "esriSpatialRelIntersects")
    assert not portal.hits("/never/asked.zip")


def test_census_api_answer_is_written_as_csv(portal, root):
    header = ["NAME", "B23025_003E", "B23025_005E", "state", "county"]
    rows = [header, ["Apache County, Arizona", "24213", "4263", "04", "001"],
            ["Cochise County, Arizona", "45296", "3062", "04", "003"],
            ["Bernalillo County, New Mexico", "320811", "21316", "35", "001"]]
    real_acs = SHARED_DATA / "workforce/acs5_2018_county_selected_az.csv"
    if real_acs.exists():   # the real ACS 2014-2018 values, laid out as the API answers them
        with open(real_acs, newline="") as fh:
            real = list(csv.DictReader(fh))
        header = ["NAME", "S0802_C01_001E", "state", "county"]
        rows = [header] + [[r["stco_name"], r["S0802_C01_001E"], r["stco_code"][:2],
                            r["stco_code"][2:]] for r in real]
    base = portal.add_census("/data/2018/acs/acs5", rows)
    cat = make_catalog(acs=[
        {"role": "national", "kind": "census_api", "url": base + "?get=NAME&for=county:*"},
        {"role": "state", "kind": "census_api",
         "url": base + f"?get={','.join(header[:-2])}&for=county:*&in=state:{{state_fips}}"}])
    report = fetch(plan_fetch(cat, only=None, states=["AZ"], bbox=None), root)
    assert report.ok, report.summary()
    text = (root / "acs/acs_AZ.csv").read_text()
    got = list(csv.reader(io.StringIO(text)))
    assert got[0] == header and got == [header] + [r for r in rows[1:] if r[-2] == "04"]
    assert read_manifest(root)["files"]["acs/acs_AZ.csv"]["rows"] == len(got) - 1


def test_census_api_error_is_reported(portal, root):
    base = portal.add_census("/data/2018/acs/acs5", [["NAME", "state", "county"]])
    cat = make_catalog(acs=[{"role": "national", "kind": "census_api",
                             "url": base + "?get=NOPE_001E&for=county:*"}])
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=None), root)
    assert "unknown variable 'NOPE_001E'" in report.failed[0].reason
    assert leftovers(root) == []


def test_unpublished_tiles_are_not_failures(portal, root):
    data = blob(2_000, seed=8)
    portal.add_file("/3dep/n36w107/USGS_1_n36w107.tif", data)
    cat = make_catalog(dem=("terrain", [{"role": "tile",
                                         "url": portal.url("/3dep/{tile}/USGS_1_{tile}.tif")}]))
    report = fetch(plan_fetch(cat, only=None, states=None, bbox=(-106.8, 35.2, -105.5, 35.8)), root)
    assert report.ok
    assert [(r.target, r.status) for r in report.results] == [
        ("dem/USGS_1_n36w106.tif", "absent"), ("dem/USGS_1_n36w107.tif", "downloaded")]


# ----------------------------------------------------------------------------- dry run

def test_dry_run_lists_sources_and_sizes_and_downloads_nothing(portal, root):
    data = blob(3_500_000, seed=9)
    cat = make_catalog(
        gppd=[{"role": "national", "url": portal.add_file("/gppd.csv", data),
               "size_bytes": len(data)},
              {"role": "mirror", "url": portal.add_file("/mirror/gppd.csv", data)}],
        lines=[{"role": "service", "kind": "arcgis",
                "url": portal.add_arcgis_layer("/FeatureServer/0", hifld_lines(5))}])
    plan = plan_fetch(cat, only=None, states=["AZ"], bbox=None)
    text = describe_plan(plan)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["gppd", "gppd/gppd.csv", "3.5"]
    assert portal.url("/gppd.csv") in lines[0]
    assert "or mirror: " + portal.url("/mirror/gppd.csv") in lines[1]
    assert "lines/lines_AZ.geojson" in lines[2] and "unknown" in lines[2]
    assert "envelope -114.83,31.32,-109.03,37.02" in lines[2]
    assert lines[-1] == "total: 2 files, 3.5 MB + 1 of unknown size"
    report = fetch(plan, root, dry_run=True)
    assert [r.status for r in report.results] == ["planned", "planned"]
    assert portal.hits() == [] and not root.exists()


def test_download_is_the_planned_file():
    cat = make_catalog(g=[{"role": "national", "url": "https://x.invalid/a%20b.csv",
                           "size_bytes": 10}])
    [d] = plan_fetch(cat, only=None, states=None, bbox=None)
    assert isinstance(d, Download) and d.target == Path("g/a b.csv")
    assert (d.kind, d.query, d.expected_bytes) == ("file", None, 10)
    assert not d.target.is_absolute() and os.sep not in d.target.name


def test_dry_run_asks_servers_for_sizes_the_catalog_lacks(portal):
    data = blob(1_200_000, seed=4)
    cat = make_catalog(
        gppd=[{"role": "national", "url": portal.add_file("/gppd.csv", data)}],
        gone=[{"role": "national", "url": portal.url("/missing.csv")}],
        dead=[{"role": "national", "url": FakePortal.refused_url()}])
    plan = plan_fetch(cat, only=None, states=None, bbox=None)
    sized = {d.dataset.id: d.expected_bytes for d in probe_sizes(plan, timeout=2)}
    assert sized == {"gppd": len(data), "gone": None, "dead": None}
    assert "total: 3 files, 1.2 MB + 2 of unknown size" in describe_plan(probe_sizes(plan, timeout=2))


def test_sitescore_fetch_command_with_an_organisation_catalog(portal, tmp_path, monkeypatch):
    """The CLI end to end: an own catalog (SITESCORE_CATALOG) pointing at a loopback portal."""
    import yaml
    from click.testing import CliRunner

    from sitescore.cli import main

    data = blob(300_000, seed=3)
    doc = {"datasets": {"gppd": {
        "title": "GPPD", "provider": "WRI", "product": "GPPD", "version": "1.3.0",
        "licence": "CC BY 4.0", "homepage": "https://datasets.wri.org", "layer": "power_plants",
        "reader": "gppd", "format": "csv",
        "sources": [{"role": "national", "url": portal.add_file("/gppd.csv", data),
                     "filename": "database_USA.csv", "size_bytes": len(data)}]},
        "padus": {
        "title": "PAD-US", "provider": "USGS", "product": "PAD-US", "version": "4.1",
        "licence": "public domain", "homepage": "https://www.usgs.gov", "layer": "federal_land",
        "reader": "padus", "format": "gdb",
        "sources": [{"role": "state", "url": portal.url("/padus_{state}.zip")}]}}}
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("SITESCORE_CATALOG", str(tmp_path / "catalog.yaml"))
    raw = tmp_path / "raw"
    runner = CliRunner()
    r = runner.invoke(main, ["fetch", "--only", "gppd", "--data-dir", str(raw)])
    assert r.exit_code == 0, r.output
    assert (raw / "gppd" / "database_USA.csv").read_bytes() == data
    assert read_manifest(raw)["files"]["gppd/database_USA.csv"]["bytes"] == len(data)
    served = len(portal.hits())
    assert runner.invoke(main, ["fetch", "--only", "gppd", "--data-dir", str(raw)]).exit_code == 0
    assert len(portal.hits()) == served  # nothing downloaded again
    r = runner.invoke(main, ["fetch", "--only", "padus", "--states", "NM", "--data-dir", str(raw)])
    assert r.exit_code == 2
    assert "padus_NM.zip" in r.output and "sitescore data import padus" in r.output
    assert not (raw / "padus").exists() or not any((raw / "padus").iterdir())


# -------------------------------------------------------------------------------- structure

FETCH_PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sitescore" / "fetch"
# the package's layers, lowest first: each module may import only the ones before it
FETCH_LAYERS = ["report", "http", "plan", "download", "archive", "services", "run"]


def test_fetch_modules_import_only_the_layers_below_them():
    """No import cycle inside sitescore.fetch, and the order docs/architecture.md gives holds."""
    found = sorted(p.stem for p in FETCH_PACKAGE.glob("*.py") if p.stem != "__init__")
    assert found == sorted(FETCH_LAYERS)
    for i, name in enumerate(FETCH_LAYERS):
        tree = ast.parse((FETCH_PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
        imported = {node.module.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}
        above = imported - set(FETCH_LAYERS[:i])
        assert not above, f"{name}.py imports {sorted(above)}, not below it"


def test_no_long_functions_in_fetch():
    for path in FETCH_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{path.name}:{node.name} is {length} lines"
