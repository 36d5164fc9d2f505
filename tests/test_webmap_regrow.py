"""The map's weight sliders against the command line, in headless Chromium: for random weights
the page grows the same sites as `sitescore run --weights FILE` given the page's own "Export
weights" YAML (same site ids, cells, order and scores), on the demo and on a small real-data run
of New Mexico; an H3 page says plainly that it cannot regrow; and the `--weights` flag end to
end (a good file, an unknown criterion, a bad weight).

Needs Chromium and Playwright as tests/test_webmap_browser.py does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sitescore.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_support import launch_chromium, open_page
from helpers import SHARED_DATA, SHARED_IMPORTS, one_line_error
from test_webmap_browser import SET_SLIDERS_JS, ready

#: The page's own sites as it shows them: rank, site id, cell ids (sorted), score (repr).
PAGE_SITES_JS = """
() => SITESCORE.pageSites.map((s) => [s.rank, s.id,
  s.cells.map((c) => SSGRID.cellId(SITESCORE.grid, c)).sort(), String(s.score)])
"""
SEEDS = (1, 2, 3)


def cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (result.output, result.exception)


def cli_sites(run_dir: Path) -> list[list]:
    """The CLI's ranked sites as the page lists them (rank, site id, sorted cell ids, score)."""
    sites = pd.read_parquet(run_dir / "sites.parquet").sort_values("rank")
    return [[int(r.rank), int(r.site_id), sorted(str(r.cell_ids).split()), repr(float(r.score))]
            for r in sites.itertuples()]


def random_sliders(rng: np.random.Generator, n: int) -> list[int]:
    """Slider positions 0..100, some at 0 (a criterion switched off), never all."""
    values = rng.integers(0, 101, n)
    values[rng.random(n) < 0.2] = 0
    if not values.any():
        values[0] = 50
    return [int(v) for v in values]


def assert_page_grows_as_cli(chromium, map_path: Path, config: Path, workdir: Path,
                             extra: list[str], seeds=SEEDS) -> None:
    """For each seed: random sliders in the page, its exported YAML to `sitescore run
    --weights`, and the same sites, cells, order and scores from both."""
    with open_page(chromium, map_path) as (page, log):
        ready(page)
        assert page.evaluate("() => SITESCORE.regrow") is True
        assert page.evaluate("() => SITESCORE.matchesRun") is True  # the run, grown again
        n = page.locator("#sitescore-title .ss-slider").count()
        for seed in seeds:
            sliders = random_sliders(np.random.default_rng(seed), n)
            page.evaluate(SET_SLIDERS_JS, sliders)
            assert page.evaluate("() => SITESCORE.view") == "page"
            assert page.evaluate("() => SITESCORE.uncertain.length") == 0
            got = page.evaluate(PAGE_SITES_JS)
            weights = workdir / f"weights-{seed}.yaml"
            weights.write_text(page.evaluate("() => SITESCORE.exportYaml()"), encoding="utf-8")
            runs = workdir / f"runs-{seed}"
            cli("run", str(config), "--weights", str(weights), "--no-map", "--runs-dir",
                str(runs), *extra)
            want = cli_sites(runs / yaml.safe_load(config.read_text(encoding="utf-8"))["study"])
            assert len(got) == len(want) and len(got) > 3, (seed, sliders)
            for g, w in zip(got, want, strict=True):
                assert g == w, (seed, sliders, g, w)
            # the panel lists them in that order, each with its site id
            panel = page.evaluate("() => Array.from(document.querySelectorAll('#ss-site-list li'))"
                                  ".map((li) => Number(li.dataset.siteId))")
            assert panel == [w[1] for w in want]
        assert log.errors == []


@pytest.fixture(scope="module")
def chromium():
    with launch_chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demo")
    cli("demo", "--out", str(root / "data"), "--maps-dir", str(root / "maps"), "--runs-dir",
        str(root / "runs"))
    return {"root": root, "config": root / "data" / "demo.yaml",
            "map": root / "maps" / "demo" / "index.html"}


@pytest.mark.browser
def test_demo_page_grows_the_sites_the_cli_grows(chromium, demo):
    assert_page_grows_as_cli(chromium, demo["map"], demo["config"], demo["root"],
                             ["--cache-dir", str(demo["root"] / "cache")])


@pytest.fixture(scope="module")
def nm_small(tmp_path_factory) -> dict[str, Path]:
    """New Mexico's config on the real public files, cut to a box around the Cibola and Santa
    Fe national forests (a few thousand cells)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    root = tmp_path_factory.mktemp("nm")
    for dataset, rel in SHARED_IMPORTS:
        cli("data", "import", dataset, str(SHARED_DATA / rel), "--link", "--data-dir",
            str(root / "raw"))
    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "new_mexico.yaml")
                         .read_text(encoding="utf-8"))
    doc["study"] = "nm-small"
    doc["area"] = {"bbox": [-107.6, 34.6, -105.6, 36.2]}
    doc["sites"] = {**doc["sites"], "min_spacing_km": 10}
    config = root / "nm_small.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    extra = ["--data-dir", str(root / "raw"), "--cache-dir", str(root / "cache"),
             "--allow-partial"]
    cli("run", str(config), "--maps-dir", str(root / "maps"), "--runs-dir", str(root / "runs"),
        "--no-report", *extra)
    return {"root": root, "config": config, "map": root / "maps" / "nm-small" / "index.html",
            "extra": extra}


@pytest.mark.browser
@pytest.mark.shared_data
def test_real_data_page_grows_the_sites_the_cli_grows(chromium, nm_small):
    assert_page_grows_as_cli(chromium, nm_small["map"], nm_small["config"], nm_small["root"],
                             nm_small["extra"], seeds=(4, 5))


# --------------------------------------------------------------------------- H3: said plainly

@pytest.mark.browser
def test_h3_page_says_it_cannot_grow_sites(chromium, demo, tmp_path):
    pytest.importorskip("h3")
    doc = yaml.safe_load(demo["config"].read_text(encoding="utf-8"))
    doc["candidates"]["grid"] = {"kind": "h3", "resolution": 8}
    doc["study"] = "demo-h3"
    config = demo["config"].with_name("demo_h3.yaml")
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    cli("run", str(config), "--maps-dir", str(tmp_path / "maps"), "--runs-dir",
        str(tmp_path / "runs"), "--no-report")
    path = tmp_path / "maps" / "demo-h3" / "index.html"
    with open_page(chromium, path) as (page, log):
        ready(page)
        assert page.evaluate("() => SITESCORE.regrow") is False
        text = page.locator("#ss-weights .ss-method").inner_text()
        assert "the page does not grow new sites" in text
        assert "sitescore run --weights" in text
        page.evaluate(SET_SLIDERS_JS, [100] + [0] * (page.locator(".ss-slider").count() - 1))
        state = page.locator("#ss-weight-state").inner_text()
        assert "not grown again" in state
        assert log.errors == []


# --------------------------------------------------------------------------- --weights

def test_weights_file_sets_the_weights_of_a_run(demo, tmp_path):
    weights = tmp_path / "w.yaml"
    weights.write_text("criteria:\n  power_line: {weight: 0}\n  workforce: {weight: 7}\n",
                       encoding="utf-8")
    cli("run", str(demo["config"]), "--weights", str(weights), "--no-map", "--runs-dir",
        str(tmp_path / "runs"), "--cache-dir", str(demo["root"] / "cache"))
    sites = pd.read_parquet(tmp_path / "runs" / "demo" / "sites.parquet")
    cfg = yaml.safe_load(demo["config"].read_text(encoding="utf-8"))["criteria"]
    given = {n: c["weight"] for n, c in cfg.items()} | {"power_line": 0, "workforce": 7}
    total = 0.0
    for name in cfg:
        total = total + given[name]
    for name in cfg:
        assert sites[f"weight__{name}"].iloc[0] == given[name] / total, name
    manifest = json.loads((tmp_path / "runs" / "demo" / "manifest.json").read_text(encoding="utf-8"))
    assert "weights of 2 criteria from w.yaml (--weights)" in manifest["notes"]


@pytest.mark.parametrize(("text", "needles"), [
    ("criteria:\n  power_lines: {weight: 1}\n",
     ["w.yaml, line 2", "criteria.power_lines", "'power_lines' is not a criterion"]),
    ("criteria:\n  power_line: {weight: -1}\n",
     ["w.yaml, line 2", "criteria.power_line.weight", "finite weight >= 0"]),
    ("criteria:\n  power_line: {weight: .nan}\n",
     ["w.yaml", "criteria.power_line.weight", "finite weight >= 0"]),
    ("criteria:\n  power_line: {weight: heavy}\n",
     ["w.yaml", "criteria.power_line.weight", "'heavy'"]),
    ("weights: {power_line: 1}\n", ["w.yaml", "'criteria'", "needs `criteria:`"]),
])
def test_bad_weights_file_is_one_line_naming_file_and_key(demo, tmp_path, text, needles):
    weights = tmp_path / "w.yaml"
    weights.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(demo["config"]), "--weights", str(weights),
                                       "--no-map", "--runs-dir", str(tmp_path / "runs")])
    one_line_error(result, *needles)
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- the page as used

def test_demo_map_and_report_name_files_not_folders(demo):
    """A map and report are shared: no folder of the machine that made them, and a language."""
    for page in (demo["map"], demo["map"].with_name("report.html")):
        text = page.read_text(encoding="utf-8")
        assert str(demo["root"]) not in text, page.name
        assert str(Path.home()) + "/" not in text, page.name
    html = demo["map"].read_text(encoding="utf-8")
    assert html.startswith('<!DOCTYPE html>\n<html lang="en">')
    viewport = html[html.index('<meta name="viewport"'):][:120]
    assert "user-scalable=no" not in viewport and "maximum-scale" not in viewport


def _download(page, button: str) -> str:
    with page.expect_download() as info:
        page.locator(button).click()
    return Path(info.value.path()).read_text(encoding="utf-8")


def _table(csv_text: str) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(csv_text))


@pytest.mark.browser
def test_ranked_table_downloads_as_csv_and_geojson(chromium, demo):
    run = pd.read_parquet(demo["root"] / "runs" / "demo" / "sites.parquet").sort_values("rank")
    with open_page(chromium, demo["map"]) as (page, log):
        ready(page)
        csv = _table(_download(page, "#ss-csv"))
        assert csv["rank"].tolist() == run["rank"].tolist()
        assert csv["site_id"].tolist() == run["site_id"].tolist()
        assert csv["cell_ids"].tolist() == run["cell_ids"].tolist()
        assert csv["name"].tolist() == run["name"].tolist()
        np.testing.assert_array_equal(csv["score"].to_numpy(), run["score"].to_numpy())
        assert csv["near"].str.contains(" km from | at ", regex=True).all()
        geo = json.loads(_download(page, "#ss-geojson"))
        assert [f["properties"]["site_id"] for f in geo["features"]] == run["site_id"].tolist()
        first = geo["features"][0]
        assert first["geometry"]["type"] == "MultiPolygon"
        # its outline holds the site's cells: their centres inside, one ring around them
        import shapely
        from shapely.geometry import shape

        outline = shape(first["geometry"])
        assert outline.is_valid and len(outline.geoms) == 1
        cells = pd.read_parquet(demo["root"] / "runs" / "demo" / "cells.parquet",
                                columns=["cell_id", "geometry"])
        mine = cells[cells["cell_id"].isin(run["cell_ids"].iloc[0].split())]
        import geopandas as gpd

        web = gpd.GeoSeries.from_wkb(mine["geometry"], crs="EPSG:5070").to_crs("EPSG:4326")
        assert shapely.contains(outline, web.centroid.values).all()
        assert abs(outline.area - web.union_all().area) / outline.area < 1e-3
        # moved weights: the table is the page's own sites
        n = page.locator(".ss-slider").count()
        page.evaluate(SET_SLIDERS_JS, random_sliders(np.random.default_rng(9), n))
        moved = _table(_download(page, "#ss-csv"))
        shown = page.evaluate(PAGE_SITES_JS)
        assert moved["rank"].tolist() == [s[0] for s in shown]
        assert moved["site_id"].tolist() == [s[1] for s in shown]
        assert [sorted(c.split()) for c in moved["cell_ids"]] == [s[2] for s in shown]
        assert [repr(float(x)) for x in moved["score"]] == [s[3] for s in shown]
        assert log.errors == []


BOX_JS = """
(sel) => { const e = document.querySelector(sel); if (!e) return null;
  const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
"""


def _overlap(a, b) -> bool:
    return a is not None and b is not None and a[0] < b[2] and b[0] < a[2] and a[1] < b[3] \
        and b[1] < a[3]


@pytest.mark.browser
def test_phone_opens_on_the_sites_with_folded_boxes(chromium, demo):
    with open_page(chromium, demo["map"], viewport=(390, 844), is_mobile=True,
                   has_touch=True) as (page, log):
        ready(page)
        zoom = page.evaluate("() => window.sitescore.map.getZoom()")
        assert 7 <= zoom <= 11  # the study area in view, not the maximum zoom
        inside = page.evaluate("() => { const m = window.sitescore.map, f = SITESCORE.fitTo;"
                               " return m.getBounds().contains(L.latLngBounds(f).getCenter()); }")
        assert inside
        for box in ("#sitescore-title", "#sitescore-panel"):
            assert "ss-collapsed" in page.locator(box).get_attribute("class")
            rect = page.evaluate(BOX_JS, box)
            assert (rect[2] - rect[0]) * (rect[3] - rect[1]) < 0.1 * 390 * 844, box
        # a box unfolds and folds again
        page.locator("#sitescore-panel .ss-toggle").click()
        assert "ss-collapsed" not in page.locator("#sitescore-panel").get_attribute("class")
        assert page.locator("#ss-site-list li").first.is_visible()
        page.locator("#sitescore-panel .ss-toggle").click()
        assert "ss-collapsed" in page.locator("#sitescore-panel").get_attribute("class")
        page.screenshot(path=str(Path("test-output") / "map-phone.png"))
        assert log.errors == []


@pytest.mark.browser
def test_laptop_scale_bar_and_popups_keep_clear_of_the_boxes(chromium, demo):
    with open_page(chromium, demo["map"], viewport=(1280, 720)) as (page, log):
        ready(page)
        title, panel = page.evaluate(BOX_JS, "#sitescore-title"), page.evaluate(BOX_JS,
                                                                                 "#sitescore-panel")
        for control in (".leaflet-control-scale", "#ss-legend", ".leaflet-control-minimap"):
            rect = page.evaluate(BOX_JS, control)
            assert rect is not None, control
            assert not _overlap(rect, title) and not _overlap(rect, panel), control
        for k in (1, 5, 10):
            page.evaluate(f"() => window.sitescore.markers[{k}].openPopup()")
            page.locator(".leaflet-popup-content .ss-popup").wait_for(state="visible")
            page.wait_for_timeout(400)  # the pan that clears the boxes
            popup = page.evaluate(BOX_JS, ".leaflet-popup-content-wrapper")
            assert not _overlap(popup, title) and not _overlap(popup, panel), k
            page.evaluate("() => window.sitescore.map.closePopup()")
        page.screenshot(path=str(Path("test-output") / "map-1280x720.png"))
        assert log.errors == []


@pytest.mark.browser
def test_first_slider_is_two_keys_away(chromium, demo):
    with open_page(chromium, demo["map"]) as (page, log):
        ready(page)
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.id") == "ss-skip"
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.classList.contains('ss-slider')"
                             " && document.activeElement.dataset.index === '0'")
        page.keyboard.press("ArrowRight")  # and it moves the weight
        page.wait_for_function("() => SITESCORE.idle && SITESCORE.moved")
        assert log.errors == []


@pytest.mark.browser
@pytest.mark.shared_data
def test_real_data_page_says_what_it_leaves_out_and_removes(chromium, nm_small):
    manifest = json.loads((nm_small["root"] / "runs" / "nm-small" / "manifest.json")
                          .read_text(encoding="utf-8"))
    kept = manifest["weight_kept"]
    removed = sum(manifest["excluded_acres_by_rule"].values())
    with open_page(chromium, nm_small["map"]) as (page, log):
        ready(page)
        line = page.locator("#sitescore-title .ss-left-out-line").inner_text()
        assert f"Scores use {100 * kept:.1f}% of the configured weight" in line
        for label in ("Distance to a >=345 kV line", "Mean slope"):
            assert label in line
        sub = page.locator("#sitescore-title .ss-sub").inner_text()
        assert f"{removed:,.0f} acres of land excluded before the grid" in sub
        # the colour stretch fits the data, and the legend says so
        lo, hi = (float(page.locator(f"#ss-legend .ss-legend-{k}").inner_text())
                  for k in ("lo", "hi"))
        scores = pd.read_parquet(nm_small["root"] / "runs" / "nm-small" / "cells.parquet",
                                 columns=["score", "excluded"])
        scores = scores.loc[~scores["excluded"], "score"].dropna()
        assert lo == pytest.approx(np.quantile(scores, 0.02), abs=0.01)
        assert hi == pytest.approx(np.quantile(scores, 0.98), abs=0.01)
        assert "2nd" in page.locator("#ss-legend").inner_text()
        assert log.errors == []
