"""The example network (configs/network_us.yaml) on real geography: the US shortlist's federal
sites, national GPPD plants, freeways, rail, airports and Census layers from ../shared/data,
through the CLI end to end, every constraint checked again from the files written."""

from __future__ import annotations

import json
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pyproj import Geod

from helpers import SHARED_DATA, SHARED_IMPORTS
from sitescore.cli import main

pytestmark = pytest.mark.shared_data
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "network_us.yaml"


@pytest.fixture(scope="module")
def network_run(tmp_path_factory):
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    root = tmp_path_factory.mktemp("raw")
    for dataset, rel in SHARED_IMPORTS:
        result = CliRunner().invoke(main, ["data", "import", dataset, str(SHARED_DATA / rel),
                                           "--link", "--data-dir", str(root)])
        assert result.exit_code == 0, result.output
    out = tmp_path_factory.mktemp("out")
    t0 = time.perf_counter()
    result = CliRunner().invoke(main, ["network", str(CONFIG), "--data-dir", str(root),
                                       "--runs-dir", str(out / "runs"), "--maps-dir",
                                       str(out / "maps"), "--allow-partial", "--draws", "20"])
    seconds = time.perf_counter() - t0
    assert result.exit_code == 0, (result.output, result.exception)
    return out, result, seconds


def test_the_us_network_keeps_every_constraint(network_run):
    out, _, seconds = network_run
    run_dir = out / "runs" / "network-us"
    parks = pd.read_csv(run_dir / "network.csv")
    roles = parks["role"].value_counts().to_dict()
    assert 2 <= roles["fab"] <= 3 and roles["supply_chain"] == 3 and 2 <= roles["data_center"] <= 4
    states = parks["state"].value_counts()
    assert states.max() <= 2 and len(states) >= 4
    assert parks["site_id"].is_unique
    assert (parks["power_load_mw"] <= parks["power_budget_mw"] + 1e-6).all()
    links = pd.read_csv(run_dir / "network_links.csv")
    assert set(links["from_park"]) == set(parks.loc[parks["role"] == "fab", "park"])
    assert (links["km"] <= 500).all() and (links["by"] == "freeway").all()
    # by road never shorter than the geodesic between the two parks' points
    geod = Geod(ellps="WGS84")
    at = parks.set_index("park")
    for _, link in links.iterrows():
        a, b = at.loc[link["from_park"]], at.loc[link["to_park"]]
        _, _, metres = geod.inv(a["lon"], a["lat"], b["lon"], b["lat"])
        assert link["km"] >= metres / 1000 * 0.99, (link["label"], metres)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    net = manifest["network"]
    assert net["solve"]["status"] == "optimal"
    assert net["road_graph"]["vertices"] > 1000
    assert net["greedy"]["objective"] <= net["solve"]["objective"] + 1e-9
    assert net["robustness"] == {"draws": 20, "solved": 20, "seconds": net["robustness"]["seconds"]}
    assert parks["p_stay"].between(0, 1).all()
    by_layer = {i["layer"]: i for i in manifest["inputs"]}
    assert by_layer["power_plants"]["sha256"] == \
        "f732b4d7e4f830d3778093cc1861a93b45041a6e7cca39603482f4fa3f624971"
    print(f"\nnetwork-us end to end: {seconds:.1f} s; model {net['solve']['model']}; "
          f"exact {net['solve']['objective']:.4f} vs greedy {net['greedy']['objective']:.4f}")


def test_the_us_network_tables_map_and_explain(network_run):
    out, _, _ = network_run
    run_dir = out / "runs" / "network-us"
    routes = gpd.read_file(run_dir / "network.gpkg", layer="links")
    assert len(routes) and np.all(routes.geometry.length > 0)
    cands = gpd.read_file(run_dir / "network.gpkg", layer="candidates")
    assert len(cands) == 12
    page = (out / "maps" / "network-us" / "index.html").read_text()
    assert "Network of parks" in page
    explained = CliRunner().invoke(main, ["explain", str(CONFIG), "--network", "--runs-dir",
                                          str(out / "runs")])
    assert explained.exit_code == 0, explained.output
    parks = pd.read_csv(run_dir / "network.csv")
    for name in parks["name"]:
        assert name in explained.output
    assert "stays in" in explained.output


@pytest.mark.browser
def test_the_us_network_map_opens_in_chromium(network_run):
    """Parks drawn by role, the panel lists them, and a click on one opens its popup."""
    from browser_support import TEST_OUTPUT, launch_chromium, open_page

    out, _, _ = network_run
    parks = pd.read_csv(out / "runs" / "network-us" / "network.csv")
    with launch_chromium() as browser, \
            open_page(browser, out / "maps" / "network-us" / "index.html") as (page, log):
        page.wait_for_function("document.querySelectorAll('.ss-park').length > 0", timeout=60_000)
        assert page.locator(".ss-park").count() == len(parks)
        assert page.locator("#sitescore-network li[data-park]").count() == len(parks)
        page.locator('#sitescore-network li[data-park="1"]').click()
        page.wait_for_selector(".ss-network-popup", timeout=10_000)
        assert "Park 1:" in page.locator(".ss-network-popup").inner_text()
        TEST_OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(TEST_OUTPUT / "network-us.png"))
        assert not log.errors, log.errors
