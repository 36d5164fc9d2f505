"""The web map in headless Chromium, offline: it draws, clicks, toggles, and stays inert; its
weight sliders re-rank the sites exactly as the CLI would (weighted sum, TOPSIS, weighted
product); the side panel, search, YAML export, fullscreen, measure and minimap work; the
self-contained page (``offline=True``) works with every request blocked.

Needs /usr/bin/chromium and Playwright (``tools/install_browser.sh``); fails when they are
missing unless SITESCORE_SKIP_BROWSER=1. Leaves screenshots in test-output/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import yaml
from shapely.geometry import Point

from sitescore.scoring import aggregate_scores
from sitescore.webmap import SYNTHETIC_BANNER, write_map

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_support import (
    ASSET_CACHE,
    TEST_OUTPUT,
    ensure_assets,
    launch_chromium,
    open_page,
    package_file,
    resolve,
)
from test_webmap import (
    CELL_M,
    CRITERIA,
    NY,
    RANKED_WEIGHTS,
    SEARCH_UNIT,
    SITE_CELLS,
    XSS,
    expected_ranking,
    make_ranked_scene,
    make_scene,
    origin,
    states_layer,
)

pytestmark = pytest.mark.browser

DRAWN_PATHS_JS = """
(key) => {
  const group = window.sitescore.layers[key];
  let drawn = 0, total = 0;
  const visit = (layer) => {
    if (layer.eachLayer) { layer.eachLayer(visit); return; }
    total += 1;
    if (layer._map) drawn += 1;
  };
  group.eachLayer(visit);
  return [drawn, total];
}
"""

TO_SCREEN_JS = """
([lat, lon]) => {
  const map = window.sitescore.map;
  const p = map.latLngToContainerPoint([lat, lon]);
  const r = map.getContainer().getBoundingClientRect();
  return [p.x + r.left, p.y + r.top];
}
"""


def lat_lon(x: float, y: float) -> list[float]:
    p = gpd.GeoSeries([Point(x, y)], crs="EPSG:5070").to_crs("EPSG:4326").iloc[0]
    return [p.y, p.x]


@pytest.fixture(scope="module")
def chromium():
    with launch_chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def opened(chromium, tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "index.html"
    write_map(path, **make_scene(), synthetic=True)
    TEST_OUTPUT.mkdir(exist_ok=True)
    (TEST_OUTPUT / "map.html").write_bytes(path.read_bytes())
    with open_page(chromium, path) as (page, log):
        page.wait_for_selector(".leaflet-container")
        page.wait_for_function("() => window.sitescore && window.sitescore.map")
        yield page, log


def settled(page) -> None:
    """Wait until the map stands still (a popup's auto-pan animates it)."""
    page.wait_for_function("() => { const m = window.sitescore.map;"
                           " return !(m._panAnim && m._panAnim._inProgress) && !m._animatingZoom; }")


def close_popup(page) -> None:
    """Close the open popup and wait until it has faded out of the page."""
    page.evaluate("() => { window.sitescore.map.closePopup(); }")
    page.wait_for_function("() => !document.querySelector('.leaflet-popup')")
    settled(page)


def hover(page, x: float, y: float) -> None:
    """Move the mouse onto an EPSG:5070 point (in steps: Leaflet's canvas throttles moves)."""
    settled(page)
    sx, sy = page.evaluate(TO_SCREEN_JS, lat_lon(x, y))
    page.mouse.move(sx - 8, sy - 8)
    page.mouse.move(sx, sy, steps=4)


def hover_until(page, x: float, y: float, text: str, tries: int = 3):
    """Hover an EPSG:5070 point until a tooltip holding `text` shows (moving the mouse again,
    as a person would, when a layer switched just before still held the mouse); the tooltip."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    tip = page.locator(".leaflet-tooltip", has_text=text)
    for k in range(tries):
        hover(page, x, y)
        try:
            tip.wait_for(state="visible", timeout=3000 if k < tries - 1 else 30_000)
            return tip
        except PlaywrightTimeout:
            page.mouse.move(1, 1)
    return tip


def overlay_checkbox(page, label: str):
    """The layer control's checkbox for an overlay (expanding the collapsed control)."""
    page.locator(".leaflet-control-layers").hover()
    page.locator(".leaflet-control-layers-expanded").wait_for(state="visible")
    return page.locator(".leaflet-control-layers-overlays label", has_text=label).locator("input")


def test_loads_offline_without_errors(opened):
    page, log = opened
    assert log.errors == []
    assert log.blocked == [], f"requests nothing serves offline: {log.blocked}"
    served = " ".join(log.served)
    for lib in ("leaflet.js", "leaflet.css", "jquery-3.7.1"):
        assert lib in served
    box = page.locator(".folium-map").bounding_box()
    assert box and box["width"] > 1000 and box["height"] > 800
    assert_legend(page)
    assert page.locator(".leaflet-top.leaflet-left #sitescore-title").is_visible()
    banner = page.locator("#sitescore-banner")
    assert banner.is_visible() and banner.inner_text() == SYNTHETIC_BANNER


def assert_legend(page) -> None:
    """The colour legend: the palette, the stretch's ends, and a note saying it is stretched."""
    legend = page.locator("#ss-legend")
    assert legend.is_visible()
    assert "linear-gradient" in legend.locator(".ss-legend-bar").get_attribute("style")
    lo, hi = (float(legend.locator(f".ss-legend-{k}").inner_text()) for k in ("lo", "hi"))
    assert 0 <= lo < hi <= 1
    assert "stretched" in legend.inner_text()


def test_one_numbered_marker_per_site(opened):
    page, _ = opened
    markers = page.locator(".leaflet-marker-pane .sitescore-rank")
    assert markers.count() == len(SITE_CELLS)
    assert sorted(int(t) for t in markers.all_inner_texts()) == [1, 2, 3]


def test_marker_opens_breakdown_popup(opened):
    page, log = opened
    page.locator(".sitescore-rank-1").click()
    table = page.locator(".leaflet-popup-content table.sitescore-breakdown")
    table.wait_for(state="visible")
    rows = table.locator("tbody tr")
    assert rows.count() == len(CRITERIA)
    text = page.locator(".leaflet-popup-content").inner_text()
    for c in CRITERIA:
        assert c.label in text
    assert "#1" in text and XSS in text  # the hostile name, shown as text
    assert "Total score" in text
    close_popup(page)
    assert log.errors == [] and log.dialogs == []


def test_site_outline_click_opens_same_popup(opened):
    page, _ = opened
    x0, y0 = origin()
    hover(page, x0 + 2 * CELL_M, y0 + 4.5 * CELL_M)  # on site 3's west edge, off its marker
    page.mouse.down()
    page.mouse.up()
    popup = page.locator(".leaflet-popup-content .ss-popup")
    popup.wait_for(state="visible")
    assert popup.get_attribute("data-rank") == "3"
    assert "`${alert(2)}`" in popup.inner_text()  # the JS-breaking name, as text
    close_popup(page)


def test_layer_control_toggles_input_layer(opened):
    page, _ = opened
    drawn, total = page.evaluate(DRAWN_PATHS_JS, "transmission_lines")
    assert (drawn, total) == (0, 3)  # input layers start hidden
    assert page.evaluate(DRAWN_PATHS_JS, "cells")[0] > 0
    box = overlay_checkbox(page, "Transmission lines (by voltage)")
    assert not box.is_checked()
    box.check()
    assert page.evaluate(DRAWN_PATHS_JS, "transmission_lines") == [3, 3]
    box.uncheck()
    assert page.evaluate(DRAWN_PATHS_JS, "transmission_lines") == [0, 3]
    cells = overlay_checkbox(page, "Cells: suitability score")
    cells.uncheck()
    assert page.evaluate(DRAWN_PATHS_JS, "cells")[0] == 0
    cells.check()
    assert page.evaluate(DRAWN_PATHS_JS, "cells")[0] > 0


def test_tooltips_show_data_as_text(opened):
    page, log = opened
    x0, y0 = origin()
    # A cell outside every site whose unit name is the hostile string.
    hover(page, x0 + 5.5 * CELL_M, y0 + 1.5 * CELL_M)
    tip = page.locator(".leaflet-tooltip", has_text="Cell c0501")
    tip.wait_for(state="visible")
    assert XSS in tip.inner_text() and "Score" in tip.inner_text()
    # Excluded land says why, on hover and on a click.
    hover(page, x0 + 0.5 * CELL_M, y0 + 0.5 * CELL_M)
    tip = page.locator(".leaflet-tooltip", has_text="Excluded land")
    tip.wait_for(state="visible")
    assert "wilderness area (WA)" in tip.inner_text()
    page.mouse.down()
    page.mouse.up()
    popup = page.locator(".leaflet-popup-content", has_text="Excluded land")
    popup.wait_for(state="visible")
    assert "wilderness area (WA)" in popup.inner_text()
    close_popup(page)
    # So does an excluded cell (with the excluded land switched off).
    overlay_checkbox(page, "Excluded land").uncheck()
    page.mouse.move(1, 1)
    page.wait_for_function("() => !window.sitescore.map.hasLayer(window.sitescore.layers.excluded)")
    tip = hover_until(page, x0 + 0.5 * CELL_M, y0 + 0.5 * CELL_M, "Cell c0000")
    assert "Excluded: wilderness area (WA)" in tip.inner_text()
    page.mouse.down()
    page.mouse.up()
    popup = page.locator(".leaflet-popup-content .ss-cell-popup")
    popup.wait_for(state="visible")
    assert "Excluded: wilderness area (WA)" in popup.inner_text()
    close_popup(page)
    overlay_checkbox(page, "Excluded land").check()
    page.mouse.move(1, 1)
    # An input layer's tooltip (federal land west of the grid).
    land = overlay_checkbox(page, "Federal land")
    land.check()
    page.mouse.move(1, 1)  # collapse the control again
    hover(page, x0 - 0.4 * CELL_M, y0 + 0.7 * NY * CELL_M)
    tip = page.locator(".leaflet-tooltip", has_text="Managed by")
    tip.wait_for(state="visible")
    assert XSS in tip.inner_text()
    overlay_checkbox(page, "Federal land").uncheck()
    page.mouse.move(1, 1)
    assert log.dialogs == []
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("() => document.querySelectorAll('img[onerror]').length") == 0
    assert log.errors == []


def test_screenshot(opened):
    """For a person to look at: test-output/map-overview.png and map.png (popup open)."""
    page, log = opened
    page.mouse.move(640, 780, steps=5)  # off every feature: no tooltip left open
    page.wait_for_timeout(300)
    page.screenshot(path=str(TEST_OUTPUT / "map-overview.png"))
    page.locator(".sitescore-rank-1").click()
    page.locator(".leaflet-popup-content table.sitescore-breakdown").wait_for(state="visible")
    page.wait_for_timeout(400)  # popup auto-pan
    page.screenshot(path=str(TEST_OUTPUT / "map.png"))
    assert (TEST_OUTPUT / "map.png").stat().st_size > 10_000
    assert log.errors == [] and log.dialogs == [] and log.blocked == []


def test_cell_geometry_lands_where_expected(opened):
    """The first cell's corner in the page is where EPSG:5070 says it is (axis order, CRS)."""
    page, _ = opened
    x0, y0 = origin()
    south, west = lat_lon(x0, y0)  # the cell's south-west corner
    got = page.evaluate(
        """() => { const g = SITESCORE.grid; let i = 0;
              while (i < g.n && SSGRID.cellId(g, i) !== 'c0000') i += 1;
              const sw = SSGRID.cellCorners(g, g.col[i], g.row[i])[0];
              const back = SSGRID.cellAt(g, sw[0] + 1e-6, sw[1] + 1e-6);
              return [sw[0], sw[1], i, back]; }""")
    assert got[:2] == pytest.approx([south, west], abs=1e-9)
    assert got[3] == got[2]  # a point just inside the corner is that cell


# --------------------------------------------------------------------------- weights, panel, tools

STATE_JS = """
() => {
  const S = SITESCORE, s = window.sitescore;
  return {
    ranks: S.ranks, scores: S.scores.map(String), weights: S.weights.map(String), moved: S.moved,
    panel: Array.from(document.querySelectorAll('#ss-site-list li')).map(
      (li) => [Number(li.dataset.siteId), Number(li.querySelector('.ss-site-rank').textContent),
               li.querySelector('.ss-site-score').textContent]),
    markers: s.siteMarkers.map((m) => m ? [Number(m.getElement().textContent),
                                          m.getElement().classList.contains(
                                            'sitescore-rank-' + m.getElement().textContent)]
                                        : null),
    labels: Array.from(document.querySelectorAll('#sitescore-title .ss-wpct')).map(
      (e) => e.textContent),
  };
}
"""

#: Sets the sliders and dispatches their input event, resolving once the page shows the result
#: (the page works out a drag's latest position on the next frame).
SET_SLIDERS_JS = """
async (values) => {
  const els = document.querySelectorAll('#sitescore-title .ss-slider');
  values.forEach((v, j) => { els[j].value = String(v); });
  els[0].dispatchEvent(new Event('input', {bubbles: true}));
  await new Promise((done) => {
    const check = () => (SITESCORE.idle ? done() : requestAnimationFrame(check));
    requestAnimationFrame(check);
  });
}
"""


def shown(page) -> None:
    """Wait until the page shows what its controls were set to."""
    page.wait_for_function("() => SITESCORE.idle")

CELLS_COLOURED_JS = """
() => {
  const S = SITESCORE;
  let checked = 0, wrong = 0, changed = 0;
  const visit = (l) => {
    if (l.eachLayer) { l.eachLayer(visit); return; }
    const p = l.feature.properties;
    if (p.x !== undefined || !p.b) return;
    checked += 1;
    if (p.cur === undefined || l.options.fillColor !== S.colour(p.cur)) wrong += 1;
    if (S.colour(p.cur) !== S.colour(p.v)) changed += 1;
  };
  window.sitescore.layers.cells.eachLayer(visit);
  return [checked, wrong, changed];
}
"""

#: The canvas's pixel at each of some cells' centres, with the colour the legend gives the
#: cell's score (scores and stretch as the page holds them).
GRID_PIXELS_JS = """
(ids) => {
  const S = SITESCORE, g = S.grid, map = window.sitescore.map, out = [];
  const rect = map.getContainer().getBoundingClientRect();
  for (let i = 0; i < g.n; i++) {
    if (!ids.includes(SSGRID.cellId(g, i))) continue;
    const ll = SSGRID.cellCentre(g, i), p = map.latLngToContainerPoint(ll);
    const x = p.x + rect.left, y = p.y + rect.top;
    const tile = Object.values(S.cellLayer._tiles).map((t) => t.el).find((e) => {
      const b = e.getBoundingClientRect();
      return b.left <= x && x < b.right && b.top <= y && y < b.bottom; });
    if (!tile) { out.push([SSGRID.cellId(g, i), null, null, null]); continue; }
    const r = tile.getBoundingClientRect();
    const d = tile.getContext('2d').getImageData(Math.floor(x - r.left), Math.floor(y - r.top), 1, 1).data;
    const want = S.colour(S.cellScores[i]);
    out.push([SSGRID.cellId(g, i), [d[0], d[1], d[2]], want, S.cellScores[i]]);
  }
  return out;
}
"""


def cell_scores_for(scene: dict, sliders: list[float] | None) -> dict[str, float]:
    """Each scored cell's score as the CLI computes it for slider weights (None: the
    configured weights), by cell id."""
    cells, criteria = scene["cells"], scene["criteria"]
    names = [c.name for c in criteria]
    if sliders is None:
        w = cells[[f"weight__{c}" for c in names]].iloc[0].to_numpy(dtype=float)
    else:
        total = 0.0
        for s in sliders:
            total = total + s
        w = np.array([s / total for s in sliders])
    values = cells[[f"value__{c}" for c in names]].to_numpy(dtype=float)
    score = aggregate_scores(values, w, scene.get("aggregation", "weighted_sum"))
    return dict(zip(cells["cell_id"], score, strict=True))


def assert_cells_coloured(page, scene: dict, sliders: list[float] | None) -> None:
    """Every cell's score in the page is the CLI's, bit for bit, and the canvas shows it."""
    got = page.evaluate("() => Array.from(SITESCORE.cellScores).map(String)")
    ids = page.evaluate("() => Array.from({length: SITESCORE.grid.n}, "
                        "(_, i) => SSGRID.cellId(SITESCORE.grid, i))")
    excluded = dict(zip(scene["cells"]["cell_id"], scene["cells"]["excluded"], strict=True))
    want = cell_scores_for(scene, sliders)
    assert len(got) == len(want)
    assert all(float(g) == want[i] for g, i in zip(got, ids, strict=True) if not excluded[i])
    sample = [i for i in ids if not excluded[i]][::37][:8]
    for cid, pixel, colour, _ in page.evaluate(GRID_PIXELS_JS, sample):
        assert pixel is not None, f"cell {cid} not drawn"
        rgb = [int(colour[k:k + 2], 16) for k in (1, 3, 5)]
        # the canvas's own pixel (before it is laid over the basemap at 80%)
        assert all(abs(p - c) <= 2 for p, c in zip(pixel, rgb, strict=True)), (cid, pixel, colour)


def ready(page) -> None:
    page.wait_for_selector(".leaflet-container")
    page.wait_for_function("() => window.SITESCORE && SITESCORE.ready")


def state(page) -> dict:
    return page.evaluate(STATE_JS)


def assert_ranking(got: dict, sites, order: list, scores: np.ndarray, *, exact: bool) -> None:
    """Panel, markers and scores of the page against the Python ranking `order` (site ids)."""
    ids = [int(i) for i in sites["site_id"]]
    rank_of = {sid: k + 1 for k, sid in enumerate(order)}
    assert [row[0] for row in got["panel"]] == order
    assert [row[1] for row in got["panel"]] == list(range(1, len(order) + 1))
    assert got["ranks"] == [rank_of[sid] for sid in ids]
    assert [m[0] for m in got["markers"]] == [rank_of[sid] for sid in ids]
    assert all(m[1] for m in got["markers"])  # the marker's class follows its number
    browser = np.array([float(x) for x in got["scores"]])
    if exact:
        assert browser.tolist() == scores.tolist()  # bit for bit
    else:
        np.testing.assert_allclose(browser, scores, rtol=1e-12, atol=1e-15)
    by_id = dict(zip(ids, browser, strict=True))
    assert [row[2] for row in got["panel"]] == [f"{by_id[sid]:.3f}" for sid in order]


@pytest.fixture(scope="module")
def ranked(chromium, tmp_path_factory):
    scene = make_ranked_scene("weighted_sum")
    path = tmp_path_factory.mktemp("ranked") / "index.html"
    write_map(path, **scene)
    with open_page(chromium, path) as (page, log):
        ready(page)
        yield page, log, scene


def test_browser_ranking_at_configured_weights_is_the_rank_column(ranked):
    page, log, scene = ranked
    sites = scene["sites"]
    got = state(page)
    assert got["moved"] is False
    assert_ranking(got, sites, [int(i) for i in sites["site_id"]],
                   sites["score"].to_numpy(dtype=float), exact=True)
    assert got["weights"] == [repr(float(sites[f"weight__{c}"].iloc[0])) for c in RANKED_WEIGHTS]
    assert got["labels"] == ["37.5%", "25%", "25%", "12.5%"]
    assert log.errors == [] and log.blocked == []


def test_side_panel_lists_every_site(ranked):
    page, _, scene = ranked
    items = page.locator("#ss-site-list li")
    assert items.count() == len(scene["sites"])
    assert page.locator("#sitescore-panel").is_visible()
    assert page.locator(".leaflet-top.leaflet-right #sitescore-panel").count() == 1


def test_moving_sliders_reranks_like_the_cli(ranked):
    page, log, scene = ranked
    sites = scene["sites"]
    sliders = [0, 100, 15, 60]
    page.evaluate(SET_SLIDERS_JS, sliders)
    order, scores = expected_ranking(sites, sliders, "weighted_sum")
    assert order != [int(i) for i in sites["site_id"]], "the test weights should re-rank"
    got = state(page)
    assert got["moved"] is True
    assert_ranking(got, sites, order, scores, exact=True)
    assert got["labels"] == ["0%", f"{100 * 100 / 175:.1f}%", f"{100 * 15 / 175:.1f}%",
                             f"{100 * 60 / 175:.1f}%"]
    # a slider moved the way a person does it (fill dispatches input) re-ranks again
    page.locator("#sitescore-title .ss-slider").nth(0).fill("40")
    shown(page)
    order, scores = expected_ranking(sites, [40, 100, 15, 60], "weighted_sum")
    assert_ranking(state(page), sites, order, scores, exact=True)
    # the new #1's popup shows its new rank and score
    page.locator(".leaflet-marker-pane .sitescore-rank-1").click()
    popup = page.locator(".leaflet-popup-content .ss-popup")
    popup.wait_for(state="visible")
    top = list(sites["site_id"]).index(order[0])
    assert popup.get_attribute("data-rank") == "1"
    assert popup.locator(".ss-pop-rank").inner_text() == "#1"
    assert popup.locator(".ss-pop-score").first.inner_text() == f"{scores[top]:.3f}"
    assert sites["name"].iloc[top].split(" – ")[1] in popup.inner_text()
    assert popup.locator("td.ss-w").first.inner_text() == f"{100 * 40 / 215:.1f}%"
    close_popup(page)
    # the cells are re-coloured by their re-computed score
    page.wait_for_function("() => SITESCORE.idle")
    assert_cells_coloured(page, scene, [40, 100, 15, 60])
    page.mouse.move(640, 850)
    page.screenshot(path=str(TEST_OUTPUT / "map-weights.png"))
    assert log.errors == [] and log.dialogs == []


def test_export_yaml_gives_the_weights(ranked):
    page, log, _ = ranked
    page.evaluate(SET_SLIDERS_JS, [10, 0, 55, 35])
    page.locator("#ss-export").click()
    area = page.locator("#ss-yaml")
    area.wait_for(state="visible")
    doc = yaml.safe_load(area.input_value())
    assert doc == {"criteria": {"power_line": {"weight": 10}, "workforce": {"weight": 0},
                                "water_stress": {"weight": 55}, "slope": {"weight": 35}}}
    # pasted into a config, sitescore normalises these weights to exactly the page's
    total = sum(v["weight"] for v in doc["criteria"].values())
    assert [float(x) for x in state(page)["weights"]] == \
        [v["weight"] / total for v in doc["criteria"].values()]
    # the YAML follows the sliders while the box is open, and downloads as a file
    page.evaluate(SET_SLIDERS_JS, [10, 5, 55, 35])
    assert yaml.safe_load(area.input_value())["criteria"]["workforce"] == {"weight": 5}
    with page.expect_download() as info:
        page.locator("#ss-download").click()
    download = info.value
    assert download.suggested_filename == "weights.yaml"
    assert Path(download.path()).read_text(encoding="utf-8") == area.input_value()
    assert log.errors == []


def test_reset_restores_the_configured_ranking(ranked):
    page, log, scene = ranked
    sites = scene["sites"]
    page.evaluate(SET_SLIDERS_JS, [5, 5, 90, 0])
    assert state(page)["moved"] is True
    page.locator("#ss-reset").click()
    shown(page)
    got = state(page)
    assert got["moved"] is False
    assert_ranking(got, sites, [int(i) for i in sites["site_id"]],
                   sites["score"].to_numpy(dtype=float), exact=True)
    values = page.evaluate("() => Array.from(document.querySelectorAll('.ss-slider'))"
                           ".map((e) => Number(e.value))")
    assert values == [round(100 * c.weight) for c in scene["criteria"]]
    # at the configured weights the YAML carries them exactly
    doc = yaml.safe_load(page.locator("#ss-yaml").input_value())
    assert [v["weight"] for v in doc["criteria"].values()] == \
        [float(sites[f"weight__{c}"].iloc[0]) for c in RANKED_WEIGHTS]
    page.wait_for_function("() => SITESCORE.idle")
    assert_cells_coloured(page, scene, None)  # back to the run's scores
    assert log.errors == []


def test_search_finds_a_site_by_unit_name(ranked):
    page, log, scene = ranked
    sites = scene["sites"]
    want = int(sites.loc[sites["unit_name"] == SEARCH_UNIT, "site_id"].iloc[0])
    search = page.locator("#ss-search")
    search.fill(SEARCH_UNIT.split()[0].lower() + " box")
    visible = page.locator("#ss-site-list li:visible")
    assert visible.count() == 1 and int(visible.get_attribute("data-site-id")) == want
    search.press("Enter")
    popup = page.locator(".leaflet-popup-content .ss-popup")
    popup.wait_for(state="visible")
    assert SEARCH_UNIT in popup.inner_text()
    # zoomed to the site
    assert page.evaluate("() => window.sitescore.map.getZoom()") >= 12
    search.fill("no such place")
    assert page.locator("#ss-site-list li:visible").count() == 0
    assert page.locator("#ss-search-note").inner_text() == "No site matches."
    search.fill("")
    assert page.locator("#ss-site-list li:visible").count() == len(sites)
    close_popup(page)
    assert log.errors == []


def test_panel_click_zooms_to_the_site_and_opens_it(ranked):
    page, log, scene = ranked
    li = page.locator("#ss-site-list li").nth(4)
    sid = li.get_attribute("data-site-id")
    li.click()
    popup = page.locator(".leaflet-popup-content .ss-popup")
    popup.wait_for(state="visible")
    name = scene["sites"].set_index("site_id").loc[int(sid), "name"]
    assert name.split(" – ")[1] in popup.inner_text()
    close_popup(page)
    assert log.errors == []


def test_fullscreen_measure_and_minimap_controls(ranked):
    page, log, _ = ranked
    page.evaluate("() => { window.sitescore.map.setZoom(11, {animate: false}); }")
    assert page.locator(".leaflet-control-zoom-fullscreen").count() == 1
    assert page.locator(".leaflet-control-minimap").count() == 1
    assert page.locator(".leaflet-control-measure").count() == 1
    # a distance measurement between two points
    page.locator(".leaflet-control-measure").hover()
    page.locator(".leaflet-control-measure .js-start").click()
    box = page.locator(".folium-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx in (-100, 50):
        page.mouse.move(cx + dx - 10, cy + 120)
        page.mouse.move(cx + dx, cy + 120, steps=3)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_timeout(400)  # two quick clicks would be a double-click: finish
    results = page.locator(".leaflet-control-measure .js-results")
    assert "Path distance" in results.inner_text() and "Kilometers" in results.inner_text()
    page.locator(".leaflet-control-measure .js-finish").click()
    page.mouse.move(640, 850)
    # fullscreen on and off
    page.locator(".leaflet-control-zoom-fullscreen").click()
    page.wait_for_function("() => window.sitescore.map._isFullscreen === true")
    page.wait_for_function("() => !!document.fullscreenElement")
    page.locator(".leaflet-control-zoom-fullscreen").click()
    page.wait_for_function("() => !window.sitescore.map._isFullscreen")
    assert log.errors == []


def test_topsis_page_ranks_as_mcda(chromium, tmp_path):
    scene = make_ranked_scene("topsis")
    sites = scene["sites"]
    path = write_map(tmp_path / "topsis.html", **scene)
    with open_page(chromium, path) as (page, log):
        ready(page)
        assert_ranking(state(page), sites, [int(i) for i in sites["site_id"]],
                       sites["score"].to_numpy(dtype=float), exact=True)
        for sliders in ([0, 100, 15, 60], [1, 1, 1, 1], [70, 3, 0, 20]):
            page.evaluate(SET_SLIDERS_JS, sliders)
            order, scores = expected_ranking(sites, sliders, "topsis")
            assert_ranking(state(page), sites, order, scores, exact=True)
        page.screenshot(path=str(TEST_OUTPUT / "map-topsis.png"))
        assert log.errors == []


def test_weighted_product_page_ranks_as_mcda(chromium, tmp_path):
    scene = make_ranked_scene("weighted_product")
    sites = scene["sites"]
    path = write_map(tmp_path / "wp.html", **scene)
    with open_page(chromium, path) as (page, log):
        ready(page)
        assert_ranking(state(page), sites, [int(i) for i in sites["site_id"]],
                       sites["score"].to_numpy(dtype=float), exact=False)
        page.evaluate(SET_SLIDERS_JS, [0, 100, 15, 60])
        order, scores = expected_ranking(sites, [0, 100, 15, 60], "weighted_product")
        assert_ranking(state(page), sites, order, scores, exact=False)
        assert log.errors == []


def test_xss_scene_panel_and_ranking(opened):
    page, log = opened
    scene = make_scene()
    sites = scene["sites"]
    got = state(page)
    assert_ranking(got, sites, [int(i) for i in sites["site_id"]],
                   sites["score"].to_numpy(dtype=float), exact=True)
    panel = page.locator("#sitescore-panel")
    assert panel.locator("li").count() == len(SITE_CELLS)
    assert XSS in panel.inner_text() and "`${alert(2)}`" in panel.inner_text()
    page.locator("#ss-search").fill("onerror")
    assert page.locator("#ss-site-list li:visible").count() == 1
    page.locator("#ss-search").fill("")
    page.evaluate(SET_SLIDERS_JS, [0, 100, 0])  # workforce only: site 22 (rows 4-6) first
    assert state(page)["panel"][0][0] == 22
    page.locator("#ss-reset").click()
    shown(page)
    assert state(page)["panel"][0][0] == 11
    assert log.dialogs == [] and log.errors == []
    assert page.evaluate("() => document.querySelectorAll('img[onerror], img[src=\"x\"]').length") == 0


# --------------------------------------------------------------------------- offline, budget

def test_offline_page_works_with_all_network_blocked(chromium, tmp_path):
    scene = make_scene()
    path = write_map(tmp_path / "offline.html",
                     **{**scene, "layers": {**scene["layers"], "states": states_layer()}},
                     synthetic=True, offline=True)
    with open_page(chromium, path, offline=True) as (page, log):
        ready(page)
        assert page.evaluate("() => L.version") == "1.9.3"
        assert log.blocked == [] and log.errors == []
        markers = page.locator(".leaflet-marker-pane .sitescore-rank")
        assert markers.count() == len(SITE_CELLS)
        page.locator(".sitescore-rank-1").click()
        page.locator(".leaflet-popup-content table.sitescore-breakdown").wait_for(state="visible")
        close_popup(page)
        assert page.evaluate(DRAWN_PATHS_JS, "basemap") == [2, 2]  # the two states
        assert page.locator("img.leaflet-tile").count() == 0  # no basemap tiles
        assert page.locator("canvas.leaflet-tile").count() > 0  # the cells, drawn
        for control in (".leaflet-control-zoom-fullscreen", ".leaflet-control-measure",
                        ".leaflet-control-minimap"):
            assert page.locator(control).count() == 1, control
        assert_legend(page)
        page.evaluate(SET_SLIDERS_JS, [0, 100, 0])
        assert state(page)["panel"][0][0] == 22
        page.locator("#ss-reset").click()
        page.mouse.move(640, 850)
        page.wait_for_timeout(200)
        page.screenshot(path=str(TEST_OUTPUT / "map-offline.png"))
        assert log.blocked == [] and log.errors == [] and log.dialogs == []


def test_block_page_draws_and_rescores(chromium, tmp_path, monkeypatch):
    from sitescore import webmap

    scene = make_ranked_scene("weighted_sum")
    # cells of no lattice (there and back through EPSG:4326) are drawn as features, or blocks
    scene["cells"] = scene["cells"].to_crs("EPSG:4326").to_crs("EPSG:5070")
    monkeypatch.setattr(webmap.layers, "PAGE_BUDGET_BYTES", 150 * webmap.CELL_BYTES_ESTIMATE)
    path = write_map(tmp_path / "blocks.html", **scene)
    with open_page(chromium, path) as (page, log):
        ready(page)
        drawn, total = page.evaluate(DRAWN_PATHS_JS, "cells")
        assert 0 < total <= 75 and drawn == total
        assert page.locator(".leaflet-marker-pane .sitescore-rank").count() == len(scene["sites"])
        assert "blocks of 2×2 cells" in page.locator("#sitescore-title").inner_text() or \
            "blocks of 4×4 cells" in page.locator("#sitescore-title").inner_text()
        page.evaluate(SET_SLIDERS_JS, [0, 100, 15, 60])
        page.wait_for_function("() => SITESCORE.idle")
        checked, wrong, _ = page.evaluate(CELLS_COLOURED_JS)
        assert checked > 0 and wrong == 0
        page.screenshot(path=str(TEST_OUTPUT / "map-blocks.png"))
        assert log.errors == []


def test_vendored_assets_are_the_npm_packages_files():
    """src/sitescore/assets holds the packages' own dist files, byte for byte."""
    from sitescore.webmap import ASSETS_DIR, OFFLINE_ASSETS

    assets = {url: resolve(url) for url in OFFLINE_ASSETS}
    assert None not in assets.values()
    ensure_assets(list(assets.values()))
    versions = {}
    for url, asset in assets.items():
        rel = OFFLINE_ASSETS[url]
        assert rel.split("/")[0] == asset.package
        assert (ASSETS_DIR / rel).read_bytes() == package_file(asset).read_bytes(), rel
        versions[asset.package] = asset
    for file in ASSETS_DIR.rglob("*"):
        package = file.relative_to(ASSETS_DIR).parts[0]
        if not file.is_file() or package == "sitescore" or file.name == "README.md":
            continue
        asset = versions[package]
        inside = file.relative_to(ASSETS_DIR / package)
        npm = ASSET_CACHE / f"{package}@{asset.version}" / "node_modules" / package / inside
        assert file.read_bytes() == npm.read_bytes(), inside


def test_shortlist_excluded_sites_stay_last(chromium, tmp_path):
    """A shortlist's excluded candidates rank after all others (locate.shortlist_sites), under
    any weights."""
    scene = make_ranked_scene("weighted_sum")
    sites = scene["sites"].copy()
    out = set(sites["site_id"].iloc[[0, 5]])  # the best site and another one
    sites["excluded"] = sites["site_id"].isin(out)
    sites = sites.sort_values(["excluded", "score", "site_id"], ascending=[True, False, True],
                              kind="stable").reset_index(drop=True)
    sites["rank"] = np.arange(1, len(sites) + 1)
    path = write_map(tmp_path / "shortlist.html", **{**scene, "sites": sites})
    with open_page(chromium, path) as (page, log):
        ready(page)
        assert_ranking(state(page), sites, [int(i) for i in sites["site_id"]],
                       sites["score"].to_numpy(dtype=float), exact=True)
        page.evaluate(SET_SLIDERS_JS, [0, 100, 15, 60])
        _, scores = expected_ranking(sites, [0, 100, 15, 60], "weighted_sum")
        ids = list(sites["site_id"])
        order = sorted(range(len(sites)), key=lambda i: (ids[i] in out, -scores[i], ids[i]))
        assert_ranking(state(page), sites, [int(ids[i]) for i in order], scores, exact=True)
        assert page.locator("#ss-site-list li.ss-site-excluded").count() == 2
        assert log.errors == []


def test_sites_without_criterion_values_keep_their_ranks(chromium, tmp_path):
    """Hand-made tables without value__ columns: no sliders, the given ranking, no errors."""
    scene = make_ranked_scene("weighted_sum")
    sites = scene["sites"].drop(columns=[c for c in scene["sites"].columns
                                         if c.startswith(("value__", "weight__"))])
    path = write_map(tmp_path / "plain.html", **{**scene, "sites": sites})
    with open_page(chromium, path) as (page, log):
        ready(page)
        assert page.locator(".ss-slider").count() == 0
        got = state(page)
        assert [row[0] for row in got["panel"]] == [int(i) for i in sites["site_id"]]
        assert [m[0] for m in got["markers"]] == list(sites["rank"])
        assert log.errors == []
