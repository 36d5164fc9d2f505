"""The web map in headless Chromium, offline: it draws, clicks, toggles, and stays inert.

Needs /usr/bin/chromium and Playwright (``tools/install_browser.sh``); fails when they are
missing unless SITESCORE_SKIP_BROWSER=1. Leaves screenshots in test-output/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

from sitescore.webmap import SYNTHETIC_BANNER, write_map

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_support import TEST_OUTPUT, launch_chromium, open_page
from test_webmap import (
    CELL_M,
    CRITERIA,
    NY,
    SITE_CELLS,
    XSS,
    cell_box,
    make_scene,
    origin,
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


def hover(page, x: float, y: float) -> None:
    """Move the mouse onto an EPSG:5070 point (in steps: Leaflet's canvas throttles moves)."""
    sx, sy = page.evaluate(TO_SCREEN_JS, lat_lon(x, y))
    page.mouse.move(sx - 8, sy - 8)
    page.mouse.move(sx, sy, steps=4)


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
    for lib in ("leaflet.js", "leaflet.css", "jquery-3.7.1", "d3.min.js"):
        assert lib in served
    box = page.locator(".folium-map").bounding_box()
    assert box and box["width"] > 1000 and box["height"] > 800
    assert page.locator(".legend.leaflet-control svg rect").count() > 10  # the colour legend
    assert page.locator(".leaflet-top.leaflet-left #sitescore-title").is_visible()
    banner = page.locator("#sitescore-banner")
    assert banner.is_visible() and banner.inner_text() == SYNTHETIC_BANNER


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
    page.evaluate("() => window.sitescore.map.closePopup()")
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
    page.evaluate("() => window.sitescore.map.closePopup()")


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
    # An excluded cell says why.
    hover(page, x0 + 0.5 * CELL_M, y0 + 0.5 * CELL_M)
    tip = page.locator(".leaflet-tooltip", has_text="Cell c0000")
    tip.wait_for(state="visible")
    assert "Excluded: wilderness area (WA)" in tip.inner_text()
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
    west, south, _, _ = gpd.GeoSeries([cell_box(0, 0)], crs="EPSG:5070").to_crs(
        "EPSG:4326").total_bounds
    got = page.evaluate(
        """() => { let ll = null; const visit = (l) => { if (l.eachLayer) { l.eachLayer(visit); return; }
              if (l.feature && l.feature.properties.c === 'c0000') ll = l.getBounds().getSouthWest(); };
              window.sitescore.layers.cells.eachLayer(visit); return [ll.lat, ll.lng]; }""")
    assert got == pytest.approx([south, west], abs=2e-5)
