"""The web map, read as HTML (no browser): legend, ranked markers, escaping, determinism; the
cells' arrays and the packed input layers decoded as the page's script decodes them."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

from sitescore.formatting import esc
from sitescore.scoring import aggregate_scores
from sitescore.webmap import SYNTHETIC_BANNER, CriterionInfo, plant_radius, write_map

CRS = "EPSG:5070"
XSS = "<img src=x onerror=alert(1)>"
#: Breaks out of a JS template literal if left raw (backtick, ${...}, backslash escapes).
JS_BREAKER = "Gila `${alert(2)}` C:\\units\\new"
CELL_M = 1500.0
NX, NY = 10, 7

CRITERIA = [
    CriterionInfo("power_line", "Distance to 345 kV+ line", "km", "distance_to",
                  "transmission_lines", 0.5, "0 km scores 1, 50 km or more scores 0"),
    CriterionInfo("workforce", "Workforce within reach", "people", "gravity_access",
                  "counties", 0.3, "log scale, 10k scores 0, 1M scores 1"),
    CriterionInfo("water_stress", "Baseline water stress", "", "mean_value", "water_stress",
                  0.2, "0 (low) scores 1, 5 (extremely high) scores 0"),
]
SITE_CELLS = {  # site_id -> (rank, cells as (col, row))
    11: (1, [(c, r) for c in (6, 7, 8) for r in (3, 4, 5)]),
    33: (2, [(c, r) for c in (8, 9) for r in (0, 1)]),
    22: (3, [(c, r) for c in (2, 3) for r in (4, 5, 6)]),
}
SITE_NAMES = {11: f"BLM – {XSS} Field Office", 22: f"BLM – {JS_BREAKER}",
              33: "DOE – Lordsburg Test Tract"}


def marker_breakdowns(page: str) -> list[str]:
    """The ranks of the sites' popups written into the page with their breakdown tables (the
    page's script builds such tables too, for cells and regrown sites: those are not counted)."""
    return re.findall(r'<div class="ss-popup" data-rank="(\d+)">(?:(?!<div class="ss-popup").)*?'
                      r'<table class="sitescore-breakdown">', page, flags=re.S)


def origin() -> tuple[float, float]:
    """Lower-left corner of the grid in EPSG:5070: near Lordsburg, New Mexico."""
    x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(-108.75, 32.25)
    return round(x, -3), round(y, -3)


def cell_box(col: int, row: int):
    x0, y0 = origin()
    return box(x0 + col * CELL_M, y0 + row * CELL_M, x0 + (col + 1) * CELL_M,
               y0 + (row + 1) * CELL_M)


def make_scene() -> dict:
    """Hand-made cells, sites, layers and exclusions, as the pipeline would hand them over."""
    x0, y0 = origin()
    site_of = {cell: sid for sid, (_, cs) in SITE_CELLS.items() for cell in cs}
    rows = []
    for col in range(NX):
        for row in range(NY):
            excluded = col <= 1 and row <= 2
            values = {"power_line": round(col / NX, 3), "workforce": round(row / NY, 3),
                      "water_stress": 0.5}
            raw = {"power_line": 50 * (1 - col / NX), "workforce": 10_000 * (1 + row) ** 2,
                   "water_stress": 2.5}
            score = sum(c.weight * values[c.name] for c in CRITERIA)
            rec = {
                "cell_id": f"c{col:02d}{row:02d}",
                "score": np.nan if excluded else round(score, 4),
                "excluded": excluded,
                "exclusion_reason": "wilderness area (WA)" if excluded else None,
                "site_id": site_of.get((col, row), np.nan),
                "agency": "BLM",
                "unit_name": XSS if col >= 5 else "Lordsburg Field Office",
                "eligible_acres": 0.0 if excluded else 556.0,
                "geometry": cell_box(col, row),
            }
            for c in CRITERIA:
                rec[f"raw__{c.name}"] = raw[c.name]
                rec[f"value__{c.name}"] = values[c.name]
                rec[f"contribution__{c.name}"] = c.weight * values[c.name]
            rows.append(rec)
    cells = gpd.GeoDataFrame(rows, crs=CRS)
    cells["site_id"] = cells["site_id"].astype("Int64")

    site_rows = []
    for sid, (rank, _) in SITE_CELLS.items():
        member = cells[cells["site_id"] == sid]
        geom = shapely.union_all(member.geometry.values)
        centre = gpd.GeoSeries([geom.centroid], crs=CRS).to_crs("EPSG:4326").iloc[0]
        rec = {"rank": rank, "site_id": sid, "name": SITE_NAMES[sid],
               "agency": SITE_NAMES[sid].split(" – ")[0],
               "unit_name": SITE_NAMES[sid].split(" – ")[1], "state": "NM",
               "acres": 556.0 * len(member), "n_cells": len(member),
               "score": np.nan,  # below: the run's aggregation of the site's values
               "lon": centre.x, "lat": centre.y, "geometry": geom}
        for c in CRITERIA:
            rec[f"raw__{c.name}"] = float(member[f"raw__{c.name}"].mean())
            rec[f"value__{c.name}"] = float(member[f"value__{c.name}"].mean())
            rec[f"weight__{c.name}"] = c.weight
            rec[f"contribution__{c.name}"] = c.weight * rec[f"value__{c.name}"]
        rec["score"] = float(aggregate_scores(
            np.array([[rec[f"value__{c.name}"] for c in CRITERIA]]),
            np.array([c.weight for c in CRITERIA]), "weighted_sum")[0])
        site_rows.append(rec)
    sites = gpd.GeoDataFrame(site_rows, crs=CRS).sort_values("rank").reset_index(drop=True)
    assert list(sites.sort_values("score", ascending=False)["rank"]) == [1, 2, 3]

    w, h = NX * CELL_M, NY * CELL_M
    wiggly = Point(x0 + 0.5 * w, y0 + 0.5 * h).buffer(3 * w, quad_segs=500)  # 2,000 vertices
    layers = {
        "federal_land": gpd.GeoDataFrame({
            "unit_name": [XSS, "Fort Test"], "mang_name": ["BLM", "DOD"],
            "designation": ["", "MIL"], "gap_status": [4.0, np.nan], "state": ["NM", "NM"],
            "gis_acres": [1.0e6, 5000.0],
        }, geometry=[wiggly, box(x0 - 6000, y0 - 6000, x0 - 1000, y0 - 1000)], crs=CRS),
        "transmission_lines": gpd.GeoDataFrame({
            "line_id": ["L1", "L2", "L3"], "voltage_kv": [500.0, 345.0, np.nan],
            "owner": ["Test Power", XSS, None], "status": ["IN SERVICE"] * 3,
        }, geometry=[LineString([(x0 - 3000, y0 + 2000), (x0 + w + 3000, y0 + 2500)]),
                     LineString([(x0 + 4000, y0 - 3000), (x0 + 5000, y0 + h + 3000)]),
                     LineString([(x0 - 2000, y0 + h), (x0 + w, y0 + h + 2000)])], crs=CRS),
        "power_plants": gpd.GeoDataFrame({
            "plant_code": ["1", "2", "3"], "plant_name": ["Sun Ranch", "Gas Peaker", XSS],
            "primary_fuel": ["Solar", "Natural Gas", "Nuclear"],
            "capacity_mw": [10.0, 300.0, 1500.0],
        }, geometry=[Point(x0 + 2000, y0 - 2000), Point(x0 + w + 2000, y0 + 3000),
                     Point(x0 + 0.6 * w, y0 + h + 4000)], crs=CRS),
        "roads": gpd.GeoDataFrame({"name": ["I-10"], "road_class": ["interstate"]},
                                  geometry=[LineString([(x0 - 5000, y0 - 500),
                                                        (x0 + w + 5000, y0 - 800)])], crs=CRS),
        "counties": gpd.GeoDataFrame({"geoid": ["35023"], "name": ["Hidalgo"],
                                      "population": [4178.0], "labor_force": [1900.0]},
                                     geometry=[box(x0 - 20000, y0 - 20000, x0 + w + 20000,
                                                   y0 + h + 20000)], crs=CRS),
        "wind_farms": gpd.GeoDataFrame({"farm": ["<b>odd</b>", "plain"], "turbines": [12, 30]},
                                       geometry=[Point(x0 + 1000, y0 + h + 1000),
                                                 Point(x0 + w, y0)], crs=CRS),
        "rail": gpd.GeoDataFrame(geometry=[], crs=CRS),  # present but empty: no toggle
    }
    excluded = gpd.GeoDataFrame({"reason": ["wilderness area (WA)"]},
                                geometry=[box(x0, y0, x0 + 2 * CELL_M, y0 + 3 * CELL_M)], crs=CRS)
    return {"title": "Test study – Hidalgo County, NM", "cells": cells, "sites": sites,
            "criteria": CRITERIA, "layers": layers, "excluded": excluded,
            "notes": ["criterion rail_access left out: layer file missing",
                      f"unit {XSS} has no name in PAD-US"]}


@pytest.fixture(scope="module")
def scene() -> dict:
    return make_scene()


@pytest.fixture(scope="module")
def page(scene, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("map") / "index.html"
    assert write_map(path, **scene) == path
    return path.read_text(encoding="utf-8")


def packed_layers(page: str) -> list[list]:
    """The input layers the page packs (name, GeoJSON), inflated as map.js does."""
    m = re.search(r'<script type="text/plain" id="sitescore-layers">([^<]*)</script>', page)
    if not m:
        return []
    return json.loads(zlib.decompress(base64.b64decode(m.group(1))).decode("ascii"))


def geojson_blobs(page: str) -> list[dict]:
    """Every GeoJSON FeatureCollection of the page: in the map's script, and packed."""
    out, decoder = [], json.JSONDecoder()
    for m in re.finditer(r"_add\(", page):
        start = m.end()
        if page[start] != "{":
            continue
        obj, _ = decoder.raw_decode(page, start)
        if obj.get("features"):
            out.append(obj)
    return out + [data for _, data in packed_layers(page)]


def _unplane(raw: bytes, off: int, n: int, width: int) -> np.ndarray:
    return np.frombuffer(raw[off:off + n * width], dtype=np.uint8).reshape(width, n).T.copy()


def decode_grid(page: str) -> dict:
    """The cells' arrays of a page, decoded as grid.js decodes them (an independent twin)."""
    meta = page_data(page)["gridMeta"]
    m = re.search(r'<script type="text/plain" id="sitescore-cells">([^<]*)</script>', page)
    raw = zlib.decompress(base64.b64decode(m.group(1)))
    out: dict = {"meta": meta}
    for name, (kind, n, off, length) in meta["index"].items():
        if kind == "text":
            out[name] = raw[off:off + length].decode("utf-8").split("\n") if n else []
        elif kind == "i32d":
            d = _unplane(raw, off, n, 4).view("<u4").ravel()
            out[name] = np.cumsum(d, dtype=np.uint32).view(np.int32)
        elif kind in ("f64", "f64d"):
            bits = _unplane(raw, off, n, 8).view("<u8").ravel()
            out[name] = (np.cumsum(bits, dtype=np.uint64) if kind == "f64d" else bits).view("<f8")
        elif kind == "u24d":
            b = _unplane(raw, off, n, 3).astype(np.int64)
            q = np.cumsum(b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) % (1 << 24)
            out[name] = np.where(q > meta["valueSteps"], np.nan, q / meta["valueSteps"])
        elif kind == "f32":
            out[name] = _unplane(raw, off, n, 4).view("<f4").ravel()
        elif kind in ("u16", "u32"):
            w = 2 if kind == "u16" else 4
            out[name] = _unplane(raw, off, n, w).view(f"<u{w}").ravel()
    return out


def registry(page: str) -> dict[str, str]:
    m = re.search(r"layers: \{([^}]*)\}", page)
    assert m, "window.sitescore registry missing"
    return dict(re.findall(r'"([^"]+)":(\w+)', m.group(1)))


def test_legend_and_title(page, scene):
    data = page_data(page)
    assert "2nd\u201398th percentile" in data["legend"]  # the stretch, said in the legend
    assert len(data["palette"]) == 256 and data["palette"][0] == "#440154"
    assert "<title>Test study – Hidalgo County, NM</title>" in page
    assert 'id="sitescore-title"' in page
    for c in CRITERIA:
        assert c.label in page
    assert "criterion rail_access left out: layer file missing" in page


def test_one_marker_per_site_numbered_by_rank(page, scene):
    ranks = [int(r) for r in re.findall(r'"className": "sitescore-rank sitescore-rank-(\d+)"',
                                        page)]
    assert sorted(ranks) == [1, 2, 3]
    assert len(re.findall(r"var marker_\w+ = L\.marker\(", page)) == 3
    # Each marker has a breakdown popup with a row per criterion.
    assert len(marker_breakdowns(page)) == 3
    assert page.count('data-criterion="power_line"') == 3
    m = re.search(r'<div class="ss-popup" data-rank="1">.*?</table></div>', page)
    assert m and "Distance to 345 kV+ line" in m.group(0) and "km" in m.group(0)
    assert "50%" in m.group(0)  # the weight


def test_data_strings_only_escaped(page):
    assert XSS not in page
    assert "\\u003cimg" not in page.lower()  # not smuggled through JSON either
    hits = [m.start() for m in re.finditer("img src=x", page)]
    assert hits, "the hostile name should be on the page, as text"
    for i in hits:  # as an entity, in HTML or inside JSON (where & is written \u0026)
        assert page[i - 4:i] == "&lt;" or page[i - 9:i] == "\\u0026lt;", page[i - 40:i + 40]
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # Backticks, ${ and backslashes can't reach folium's JS template literals raw.
    assert JS_BREAKER not in page
    assert "${alert(2)}" not in page and "C:\\units" not in page
    assert "&#96;&#36;&#123;alert(2)&#125;&#96;" in page
    # Column names and values of an unknown layer are escaped too (in the packed layers).
    layers = json.dumps(packed_layers(page))
    assert "<b>odd</b>" not in layers and "&lt;b&gt;odd&lt;/b&gt;" in layers
    assert XSS not in layers and "&lt;img src=x onerror=alert(1)&gt;" in layers
    # and in the cells' own texts
    grid = decode_grid(page)
    texts = json.dumps(grid["meta"]) + " ".join(grid.get("ids", []))
    assert XSS not in texts and "&lt;img src=x onerror=alert(1)&gt;" in texts


def test_synthetic_banner_only_when_asked(scene, tmp_path, page):
    assert SYNTHETIC_BANNER not in page
    path = write_map(tmp_path / "demo.html", **{**scene, "synthetic": True})
    text = path.read_text(encoding="utf-8")
    assert 'id="sitescore-banner"' in text
    assert text.count(SYNTHETIC_BANNER) == 2  # the banner and the title box


def test_same_inputs_same_bytes(scene, tmp_path):
    a = write_map(tmp_path / "a.html", **scene).read_bytes()
    b = write_map(tmp_path / "b.html", **scene).read_bytes()
    assert a == b
    assert not re.search(rb"[0-9a-f]{32}", a), "a random folium id is left in the page"


def test_same_bytes_in_another_process(scene, tmp_path):
    """Different hash seed, fresh folium state: still the same page."""
    here = write_map(tmp_path / "here.html", **scene).read_bytes()
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_webmap import make_scene
        from sitescore.webmap import write_map
        write_map(Path({str(tmp_path / "there.html")!r}), **make_scene())
    """)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    assert (tmp_path / "there.html").read_bytes() == here


def test_layers_toggle_input_layers_off(page):
    reg = registry(page)
    assert set(reg) == {"federal_land", "transmission_lines", "power_plants", "roads",
                        "counties", "wind_farms", "excluded", "cells", "sites"}
    map_name = re.search(r"window\.sitescore = \{map: (\w+)", page).group(1)
    for key, var in reg.items():
        shown = f"{var}.addTo({map_name});" in page
        assert shown == (key in {"cells", "sites", "excluded"}), key
    for label in ("Transmission lines (by voltage)", "Power plants (sized by MW)",
                  "Federal land (by managing agency)", "Wind farms", "Ranked sites"):
        assert f'"{label}"' in page
    assert "L.control.layers(" in page


def test_geometry_is_web_light(page):
    blobs = geojson_blobs(page)
    assert blobs
    coords = []

    def walk(c):
        if isinstance(c, (int, float)):
            coords.append(c)
        else:
            for x in c:
                walk(x)

    blm_land = []
    for fc in blobs:
        for f in fc["features"]:
            walk(f["geometry"]["coordinates"])
            tip = f["properties"].get("t", "")
            if "Federal land" in tip and "Managed by: BLM" in tip:
                blm_land.append(f["geometry"])
    assert all(len(repr(float(x)).split(".")[1]) <= 5 for x in coords)
    lons, lats = coords[0::2], coords[1::2]
    assert min(lons) > -110 and max(lons) < -107 and min(lats) > 31 and max(lats) < 34
    # The 2,000-vertex circle is simplified (and clipped to the study's surroundings).
    assert len(blm_land) == 1 and blm_land[0]["type"] == "Polygon"
    assert len(blm_land[0]["coordinates"][0]) < 400
    # Canvas rendering, and none of folium's unused CDN assets.
    assert '"preferCanvas": true' in page
    for unused in ("bootstrap", "font-awesome", "fontawesome", "awesome-markers", "glyphicons"):
        assert unused not in page.lower(), unused


def test_cells_carry_score_reason_and_site(page, scene):
    """The square grid travels as arrays: ids in sorted order, lattice column and row, exact
    values, acres, reasons, units and the run's sites; no cell is a GeoJSON feature."""
    grid = decode_grid(page)
    meta = grid["meta"]
    cells = scene["cells"].sort_values("cell_id").reset_index(drop=True)
    assert grid["ids"] == list(cells["cell_id"]) and meta["n"] == NX * NY
    assert meta["size"] == CELL_M and (meta["ox"], meta["oy"]) == origin()
    assert meta["values"] == "exact"
    for j, c in enumerate(CRITERIA):  # bit for bit
        assert np.array_equal(grid[f"v{j}"], cells[f"value__{c.name}"].to_numpy(dtype=float))
    assert np.array_equal(grid["acres"], cells["eligible_acres"].to_numpy(dtype=float))
    x0, y0 = origin()
    b = shapely.bounds(cells.geometry.values)
    assert np.array_equal(x0 + grid["col"] * CELL_M, b[:, 0])
    assert np.array_equal(y0 + (grid["row"] + 1) * CELL_M, b[:, 3])
    at = {cid: i for i, cid in enumerate(grid["ids"])}
    assert meta["reasons"] == ["wilderness area (WA)"]
    assert grid["reason"][at["c0000"]] == 1 and grid["reason"][at["c0705"]] == 0
    assert grid["site0"][at["c0705"]] == 1 and grid["site0"][at["c0306"]] == 3
    assert grid["site0"][at["c0000"]] == 0
    units = [meta["units"][u] for u in grid["unit"]]
    assert units[at["c0501"]] == ["BLM", esc(XSS)]
    assert not any("c" in f["properties"] for fc in geojson_blobs(page) for f in fc["features"])


def test_atomic_write_leaves_no_temp_and_keeps_old_on_error(scene, tmp_path):
    path = tmp_path / "out" / "index.html"
    write_map(path, **scene)
    before = path.read_bytes()
    bad = scene["cells"].set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match="no CRS"):
        write_map(path, **{**scene, "cells": bad})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["index.html"]


def test_no_sites_no_layers_still_a_map(scene, tmp_path):
    empty_sites = scene["sites"].iloc[0:0]
    path = write_map(tmp_path / "m.html", title="Nothing found", cells=scene["cells"],
                     sites=empty_sites, criteria=CRITERIA, layers={})
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"var marker_\w+ = L\.marker\(", text) and "0 ranked sites" in text
    assert set(registry(text)) == {"cells", "sites"}


def test_other_crs_is_reprojected(scene, tmp_path):
    """Cells in another CRS are reprojected; no longer exact squares of one lattice, they are
    drawn as features, every one of them."""
    moved = {**scene, "cells": scene["cells"].to_crs("EPSG:3857")}
    b = write_map(tmp_path / "b.html", **moved).read_text(encoding="utf-8")
    assert page_data(b)["gridMeta"] is None
    cells = next(fc for fc in geojson_blobs(b) if "c" in fc["features"][0]["properties"])
    assert len(cells["features"]) == NX * NY


def test_plant_radius_grows_with_capacity():
    radii = [plant_radius(mw) for mw in (None, 0, 1, 10, 100, 1000, 10_000)]
    assert radii == sorted(radii) and radii[0] == 3.0 and radii[-1] == 18.0


def test_cells_from_dataframe_with_missing_optional_columns(tmp_path):
    """Only geometry, cell_id and score: the map still draws."""
    cells = gpd.GeoDataFrame({"cell_id": ["a", "b"], "score": [0.2, 0.9]},
                             geometry=[cell_box(0, 0), cell_box(1, 0)], crs=CRS)
    sites = gpd.GeoDataFrame({"rank": [1], "site_id": [1], "name": ["X"],
                              "score": [0.9]}, geometry=[cell_box(1, 0)], crs=CRS)
    text = write_map(tmp_path / "m.html", title="t", cells=cells, sites=sites,
                     criteria=CRITERIA, layers={}).read_text(encoding="utf-8")
    assert "sitescore-rank-1" in text and text.count("n/a") >= 3


def test_every_external_file_is_known_to_the_offline_browser_tests(page):
    """Catches a folium/branca upgrade that moves a CDN URL before the browser tests do."""
    sys.path.insert(0, str(Path(__file__).parent))
    from browser_support import page_assets

    assets, unknown = page_assets(page)
    assert unknown == []
    assert {a.package for a in assets} == {"leaflet", "jquery", "leaflet.fullscreen",
                                           "leaflet-measure", "leaflet-minimap"}


def feature_scene() -> dict:
    """The scene with cells that are not exact squares of one lattice (there and back through
    EPSG:4326): drawn as features."""
    scene = make_scene()
    return {**scene, "cells": scene["cells"].to_crs("EPSG:4326").to_crs(CRS)}


def test_cells_are_not_smoothed_away_at_state_zoom(tmp_path):
    """Leaflet simplifies paths to its smoothFactor in pixels: a 1 km cell at state zoom would
    vanish, so a cells layer of features must switch smoothing off (the state-wide map opened
    empty)."""
    page = write_map(tmp_path / "f.html", **feature_scene()).read_text(encoding="utf-8")
    assert page_data(page)["gridMeta"] is None
    cells_var = re.search(r"(\w+)_onEachFeature\(feature, layer\) \{\s*\(function\(feature, layer\) "
                          r"\{ var p = feature.properties; layer.setStyle\(SITESCORE.cellStyle", page)
    assert cells_var
    options = page[page.index(f"var {cells_var.group(1)} = L.geoJson("):][:300]
    assert "smoothFactor: 0," in options


# --------------------------------------------------------------------------- re-ranking scene

#: Criteria of the re-ranking scene, with the weights as written in a config (not normalised).
RANKED_WEIGHTS = {"power_line": 3.0, "workforce": 2.0, "water_stress": 2.0, "slope": 1.0}
RANKED_NX, RANKED_NY = 24, 15
#: (col, row) of each site's lower-left cell; every site is 2 x 2 cells.
RANKED_SITES = [(c, r) for r in (1, 5, 9, 13) for c in (1, 6, 11, 16, 21)][:18]
SEARCH_UNIT = "Gila Box Riparian"


def make_ranked_scene(method: str = "weighted_sum", seed: int = 5) -> dict:
    """Cells with random criterion values at full precision, scored as the pipeline does, and
    sites made by the CLI's own `locate.site_table` (acre-weighted means, ranks, names)."""
    from sitescore.locate import site_table

    rng = np.random.default_rng(seed)
    names = list(RANKED_WEIGHTS)
    total = sum(RANKED_WEIGHTS[c] for c in names)
    w = np.array([RANKED_WEIGHTS[c] / total for c in names])  # as scoring.score_table
    criteria = [CriterionInfo(c, f"{c.replace('_', ' ').title()} <{i}>", "", "m", c, float(w[i]),
                              f"value {i}") for i, c in enumerate(names)]
    n = RANKED_NX * RANKED_NY
    values = rng.random((n, len(names)))
    score = aggregate_scores(values, w, method)
    site_of = np.zeros(n, dtype=np.int64)
    units = np.array(["Open Range Field Office"] * n, dtype=object)
    for k, (c0, r0) in enumerate(RANKED_SITES, start=1):
        for dc in (0, 1):
            for dr in (0, 1):
                i = (c0 + dc) * RANKED_NY + (r0 + dr)
                site_of[i] = k
                units[i] = SEARCH_UNIT if k == 7 else (XSS if k == 3 else f"Unit {k:02d} Flats")
    rows = []
    for col in range(RANKED_NX):
        for row in range(RANKED_NY):
            i = col * RANKED_NY + row
            excluded = col == 0 and row < 4
            rec = {"cell_id": f"r{col:02d}{row:02d}", "score": score[i],
                   "excluded": excluded,
                   "exclusion_reason": "wilderness area (WA)" if excluded else None,
                   "eligible_acres": float(200 + 356 * rng.random()), "agency": "BLM",
                   "unit_name": units[i], "state": "NM", "geometry": cell_box(col, row)}
            for j, c in enumerate(names):
                rec[f"raw__{c}"] = 100 * values[i, j]
                rec[f"value__{c}"] = values[i, j]
                rec[f"weight__{c}"] = w[j]
                rec[f"contribution__{c}"] = w[j] * values[i, j]
            rows.append(rec)
    cells = gpd.GeoDataFrame(rows, crs=CRS)
    sites = site_table(cells, site_of, names, method=method)
    cells["site_id"] = pd.Series(site_of).where(site_of > 0).astype("Int64")
    return {"title": f"Re-ranking test ({method})", "cells": cells, "sites": sites,
            "criteria": criteria, "layers": {}, "aggregation": method}


def expected_ranking(sites: gpd.GeoDataFrame, sliders: list[float], method: str
                     ) -> tuple[list, np.ndarray]:
    """The CLI's ranking for slider weights: w_j = s_j / sum(s) (summed left to right), the
    site values as the run aggregates them (scoring.aggregate_scores), ties by site id."""
    names = list(RANKED_WEIGHTS)
    total = 0.0
    for s in sliders:
        total = total + s
    w = np.array([s / total for s in sliders])
    # in site-id order, as locate.site_table aggregates (TOPSIS sums over the sites)
    by_id = np.argsort(sites["site_id"].to_numpy(), kind="stable")
    values = np.nan_to_num(sites[[f"value__{c}" for c in names]].to_numpy(dtype=float))
    scores = np.empty(len(sites))
    scores[by_id] = aggregate_scores(values[by_id], w, method)
    order = sorted(range(len(sites)), key=lambda i: (-scores[i], sites["site_id"].iloc[i]))
    return [int(sites["site_id"].iloc[i]) for i in order], scores


def page_data(page: str) -> dict:
    """The page's SITESCORE_DATA."""
    m = re.search(r"var SITESCORE_DATA = ", page)
    assert m, "SITESCORE_DATA missing"
    return json.JSONDecoder().raw_decode(page, m.end())[0]


@pytest.fixture(scope="module")
def ranked_scene() -> dict:
    return make_ranked_scene()


@pytest.fixture(scope="module")
def ranked_page(ranked_scene, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ranked") / "index.html"
    return write_map(path, **ranked_scene).read_text(encoding="utf-8")


def test_a_slider_per_criterion_at_the_configured_weight(ranked_page, ranked_scene):
    sliders = re.findall(r'<input type="range" class="ss-slider"[^>]*>', ranked_page)
    assert len(sliders) == len(RANKED_WEIGHTS)
    for tag, c in zip(sliders, ranked_scene["criteria"], strict=True):
        assert f'data-name="{c.name}"' in tag
        assert f'value="{round(100 * c.weight)}"' in tag and 'min="0"' in tag
    for label in ("Reset", "Export weights as YAML", "Combined by weighted sum"):
        assert label in ranked_page
    assert "Power Line &lt;0&gt;" in ranked_page  # labels escaped


def test_site_values_embedded_at_full_precision(ranked_page, ranked_scene):
    data = page_data(ranked_page)
    sites = ranked_scene["sites"]
    assert data["method"] == "weighted_sum" and data["rescorable"] is True
    assert [s["k"] for s in data["sites"]] == list(sites["rank"])
    names = list(RANKED_WEIGHTS)
    got = np.array([s["v"] for s in data["sites"]], dtype=float)
    want = sites[[f"value__{c}" for c in names]].to_numpy(dtype=float)
    assert np.array_equal(got, want)  # bit for bit: the JSON carries each double's repr
    assert got[0, 0] != round(got[0, 0], 12)  # and they are not short decimals
    assert data["weights0"] == [float(sites[f"weight__{c}"].iloc[0]) for c in names]
    assert [s["s"] for s in data["sites"]] == list(sites["score"])
    # site ids enter the tie-break through their place in the sorted ids
    ids = list(sites["site_id"])
    assert [sorted(ids).index(i) for i in ids] == [s["o"] for s in data["sites"]]


def test_side_panel_lists_the_sites_in_rank_order(ranked_page, ranked_scene):
    ids = re.findall(r'<li class="ss-site[^"]*" data-index="\d+" data-site-id="(\d+)"', ranked_page)
    assert [int(i) for i in ids] == list(ranked_scene["sites"]["site_id"])
    assert 'id="ss-search"' in ranked_page
    assert f"Ranked sites ({len(ranked_scene['sites'])})" in ranked_page


def test_map_tools_are_on_the_page(ranked_page):
    for js in ("L.control.fullscreen(", "new L.Control.Measure("):
        assert js in ranked_page, js
    assert re.search(r"new L\.Control\.MiniMap\(\s*L\.tileLayer\(", ranked_page)
    assert '"primaryAreaUnit": "hectares"' in ranked_page


def test_unknown_aggregation_is_refused(ranked_scene, tmp_path):
    with pytest.raises(ValueError, match="unknown aggregation"):
        write_map(tmp_path / "m.html", **{**ranked_scene, "aggregation": "borda"})


def test_topsis_page_embeds_its_method(tmp_path):
    scene = make_ranked_scene("topsis")
    text = write_map(tmp_path / "t.html", **scene).read_text(encoding="utf-8")
    assert page_data(text)["method"] == "topsis" and "Combined by TOPSIS" in text


# --------------------------------------------------------------------------- offline

def states_layer() -> gpd.GeoDataFrame:
    """Two made-up 'states' around the test grid, split at its middle."""
    x0, y0 = origin()
    mid = x0 + 0.5 * NX * CELL_M
    return gpd.GeoDataFrame({"name": ["West <State>", "East State"], "abbrev": ["WS", "ES"]},
                            geometry=[box(x0 - 400_000, y0 - 300_000, mid, y0 + 300_000),
                                      box(mid, y0 - 300_000, x0 + 400_000, y0 + 300_000)],
                            crs=CRS)


@pytest.fixture(scope="module")
def offline_page(scene, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("offline") / "index.html"
    layers = {**scene["layers"], "states": states_layer()}
    return write_map(path, **{**scene, "layers": layers}, offline=True).read_text(encoding="utf-8")


def test_offline_page_loads_nothing_from_the_network(offline_page):
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", offline_page)
    assert not [t for t in tags if re.search(r"\b(?:src|href)=", t)], "external files"
    assert not re.search(r"""<(?:script|link)\b[^>]*(?:src|href)=["']?https?:""", offline_page)
    for style in re.findall(r"<style>(.*?)</style>", offline_page, re.DOTALL):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", style):
            assert url.startswith(("data:", "#")), url
    assert "L.tileLayer(" not in offline_page  # no basemap tiles
    for host in ("server.arcgisonline.com", "tile.openstreetmap.org", "basemap.nationalmap.gov"):
        assert host not in offline_page
    # Leaflet and the plugins are inline
    for marker in ("Leaflet 1.9.3", "jQuery v3.7.1", "leaflet.fullscreen", "_decideZoom"):
        assert marker in offline_page, marker
    data = page_data(offline_page)
    assert data["basemap"]["features"] and data["minimap"] == "basemap"
    assert '"State boundaries"' not in offline_page  # drawn as the basemap, not a toggle


def test_offline_page_without_states_says_so(scene, tmp_path):
    text = write_map(tmp_path / "o.html", **scene, offline=True).read_text(encoding="utf-8")
    assert page_data(text)["basemap"] is None
    assert "no basemap (the study has no state outlines)" in text
    assert page_data(text)["minimap"] is None
    assert "_decideZoom" not in text  # the plugin (Control.MiniMap.min.js) is left out


def test_offline_page_keeps_data_escaped(offline_page):
    assert XSS not in offline_page and "&lt;img src=x onerror=alert(1)&gt;" in offline_page
    assert JS_BREAKER not in offline_page


def test_vendored_assets_have_licences():
    from sitescore.webmap import ASSETS_DIR, OFFLINE_ASSETS

    packages = {rel.split("/")[0] for rel in OFFLINE_ASSETS.values()}
    assert packages == {"leaflet", "jquery", "d3", "leaflet.fullscreen", "leaflet-measure",
                        "leaflet-minimap"}
    for package in packages:
        assert list((ASSETS_DIR / package).glob("LICENSE*")), package
    for rel in OFFLINE_ASSETS.values():
        assert (ASSETS_DIR / rel).is_file(), rel
    total = sum(f.stat().st_size for f in ASSETS_DIR.rglob("*") if f.is_file())
    assert total < 800_000  # minified dist files only


# --------------------------------------------------------------------------- size budget

def test_cells_past_the_budget_are_drawn_as_blocks(tmp_path, monkeypatch):
    """Cells of no lattice (a planner's polygons, H3) past the budget become blocks."""
    from sitescore import webmap

    scene = feature_scene()
    full = write_map(tmp_path / "full.html", **scene).read_text(encoding="utf-8")
    assert "blocks of" not in full
    # a budget of 60 cells: the 70 cells become 2x2 blocks (at most half the budget)
    monkeypatch.setattr(webmap.layers, "PAGE_BUDGET_BYTES", 60 * webmap.CELL_BYTES_ESTIMATE)
    text = write_map(tmp_path / "blocks.html", **scene).read_text(encoding="utf-8")
    assert f"{NX * NY:,} cells would make the page heavier than" in text
    assert "blocks of 2×2 cells" in text and "mean score" in text
    cells = next(fc for fc in geojson_blobs(text) if fc["features"]
                 and "n" in fc["features"][0]["properties"])
    props = [f["properties"] for f in cells["features"]]
    assert sum(p["n"] for p in props) == NX * NY
    assert len(props) <= 30 and not any("c" in p for p in props)  # no per-cell data
    assert any("x" in p for p in props)  # the all-excluded corner stays grey
    scored = [p for p in props if "v" in p]
    assert all(len(p["b"]) == len(CRITERIA) and p["m"] >= p["v"] - 1e-9 for p in scored)
    # every site is still drawn, with its marker and popup
    assert len(re.findall(r"var marker_\w+ = L\.marker\(", text)) == 3
    assert len(marker_breakdowns(text)) == 3
    assert "Cells in 2 x 2 blocks: mean score" in text


def test_block_means_are_acre_weighted(tmp_path, monkeypatch):
    from sitescore import webmap

    cells = gpd.GeoDataFrame({
        "cell_id": ["a", "b", "c", "d"], "score": [0.2, 0.8, 0.5, np.nan],
        "excluded": [False, False, False, True], "eligible_acres": [100.0, 300.0, 0.0, 0.0],
        "value__power_line": [0.0, 1.0, 0.5, np.nan],
    }, geometry=[cell_box(0, 0), cell_box(1, 0), cell_box(0, 1), cell_box(1, 1)], crs=CRS)
    cells = cells.to_crs("EPSG:4326").to_crs(CRS)  # no longer one exact lattice: features
    monkeypatch.setattr(webmap.layers, "PAGE_BUDGET_BYTES", 2 * webmap.CELL_BYTES_ESTIMATE)
    text = write_map(tmp_path / "b.html", title="t", cells=cells, sites=cells.iloc[0:0],
                     criteria=CRITERIA[:1], layers={}).read_text(encoding="utf-8")
    blocks = [f["properties"] for fc in geojson_blobs(text) for f in fc["features"]]
    assert len(blocks) == 1
    b = blocks[0]
    assert b["n"] == 4 and b["e"] == 1 and b["v"] == round((0.2 * 100 + 0.8 * 300) / 400, 3)
    assert b["m"] == 0.8 and b["b"] == [0.75]


def test_offline_page_is_deterministic(scene, tmp_path):
    layers = {**scene["layers"], "states": states_layer()}
    a = write_map(tmp_path / "a.html", **{**scene, "layers": layers}, offline=True).read_bytes()
    b = write_map(tmp_path / "b.html", **{**scene, "layers": layers}, offline=True).read_bytes()
    assert a == b


def test_layers_too_big_for_a_page_show_the_surroundings_of_the_sites(tmp_path, monkeypatch,
                                                                      demo_config):
    """A national run cannot put every line and plant of the country on one page: past
    MAP_LAYER_MAX_FEATURES a layer keeps the features near the sites, and the map says so."""
    import sitescore.pipeline as pipeline
    from sitescore.config import load_config

    cfg = load_config(demo_config)
    monkeypatch.setattr(pipeline, "MAP_LAYER_MAX_FEATURES", 20)
    monkeypatch.setattr(pipeline, "MAP_SITE_SURROUNDINGS_KM", 3.0)
    drawn = {}
    real_write_map = __import__("sitescore.webmap", fromlist=["write_map"]).write_map

    def spy(path, **kwargs):
        drawn.update(kwargs["layers"])
        return real_write_map(path, **kwargs)

    monkeypatch.setattr("sitescore.webmap.write_map", spy)
    result = pipeline.run(cfg, maps_dir=tmp_path / "maps", runs_dir=tmp_path / "runs")
    notes = [n for n in result.manifest["notes"] if n.startswith("map layer '")]
    assert notes, result.manifest["notes"]
    around = shapely.buffer(shapely.union_all(result.sites.geometry.values), 3_000.0)
    for note in notes:
        m = re.fullmatch(r"map layer '(\w+)': ([\d,]+) features in the study area; the map shows "
                         r"the ([\d,]+) within 3 km of the sites", note)
        assert m, note
        name, total, shown = m.group(1), int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
        assert total > 20 and shown == len(drawn[name]) < total
        assert shapely.intersects(around, drawn[name].geometry.values).all()
    page = (tmp_path / "maps" / cfg.study / "index.html").read_text(encoding="utf-8")
    assert "within 3 km of the sites" in page
