"""`sitescore network` end to end on the synthetic demo region (offline, no shared data), and
every bad input through the CLI: one line naming the config key, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from helpers import one_line_error
from sitescore.cli import main
from sitescore.demo import generate_demo

NETWORK = {
    "roles": {
        "fab": {"preset": "semiconductor_fab", "count": {"min": 1, "max": 2}, "power_mw": 300,
                "water_mgd": 5},
        "supply_chain": {"preset": "supply_chain_park", "count": 2, "power_mw": 50},
        "data_center": {"preset": "data_center", "count": {"min": 1, "max": 2}, "power_mw": 1000},
    },
    "constraints": {"max_per_state": 6, "power_share": 1.0, "power_radius_km": 150,
                    "links": [{"from": "fab", "to": "supply_chain", "max_km": 60, "by": "freeway"}]},
    "sites_per_role": 12,
}


@pytest.fixture(scope="module")
def demo_doc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    path = generate_demo(folder / "data")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["data_dir"] = str(path.parent)
    doc["study"] = "demo-network"
    return doc


def write_config(tmp_path: Path, doc: dict, **network) -> Path:
    doc = json.loads(json.dumps(doc))  # a deep copy
    doc["network"] = {**json.loads(json.dumps(NETWORK)), **network}
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def demo_run(demo_doc, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    config = write_config(tmp, demo_doc)
    result = invoke("network", str(config), "--runs-dir", str(tmp / "runs"), "--maps-dir",
                    str(tmp / "maps"), "--allow-partial", "--draws", "10")
    assert result.exit_code == 0, (result.output, result.exception)
    return config, tmp, result


def test_network_on_the_demo_writes_parks_links_candidates_map_report_manifest(demo_run):
    _, tmp, result = demo_run
    run_dir = tmp / "runs" / "demo-network"
    parks = pd.read_csv(run_dir / "network.csv")
    counts = parks["role"].value_counts().to_dict()
    assert 1 <= counts["fab"] <= 2 and counts["supply_chain"] == 2 and 1 <= counts["data_center"] <= 2
    assert parks["site_id"].is_unique
    for role in NETWORK["roles"]:
        assert f"score__{role}" in parks.columns
    assert parks["p_stay"].between(0, 1).all()
    assert (parks["power_load_mw"] <= parks["power_budget_mw"] + 1e-6).all()
    links = pd.read_csv(run_dir / "network_links.csv")
    fabs = set(parks.loc[parks["role"] == "fab", "park"])
    assert set(links["from_park"]) == fabs and (links["km"] <= 60).all()
    layers = gpd.list_layers(run_dir / "network.gpkg")["name"].tolist()
    assert layers == ["parks", "links", "candidates"]
    routes = gpd.read_file(run_dir / "network.gpkg", layer="links")
    # a freeway route is never shorter than the straight line between its parks
    assert (routes.geometry.length / 1000 >= links["km"] - 0.5).all()
    cands = pd.read_csv(run_dir / "network_candidates.csv")
    assert cands["in_network"].fillna("").ne("").sum() == len(parks)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    solve = manifest["network"]["solve"]
    assert solve["status"] == "optimal" and solve["gap"] is not None
    assert solve["model"]["variables"] > 0 and solve["model"]["constraints"] > 0
    assert "HiGHS" in solve["solver"]
    assert manifest["network"]["greedy"]["objective"] <= solve["objective"] + 1e-9
    assert manifest["network"]["robustness"]["draws"] == 10
    page = (tmp / "maps" / "demo-network" / "index.html").read_text()
    assert page.count("ss-park ss-park-") == len(parks) and "sitescore-network" in page
    report = (tmp / "maps" / "demo-network" / "report.html").read_text()
    assert "Network of parks" in report and "How the network was chosen" in report
    assert "Status:" in result.output and "Exact over greedy:" in result.output


def test_explain_network_says_why_each_park(demo_run):
    config, tmp, _ = demo_run
    result = invoke("explain", str(config), "--network", "--runs-dir", str(tmp / "runs"))
    assert result.exit_code == 0, result.output
    parks = pd.read_csv(tmp / "runs" / "demo-network" / "network.csv")
    for _, p in parks.iterrows():
        assert f"park {int(p['park'])}:" in result.output
    assert "over the best site left out" in result.output or "would break" in result.output


def test_same_config_same_network(demo_run, demo_doc, tmp_path):
    config, tmp, _ = demo_run
    result = invoke("network", str(config), "--runs-dir", str(tmp_path / "r"), "--no-map",
                    "--allow-partial")
    assert result.exit_code == 0, result.output
    a = pd.read_csv(tmp / "runs" / "demo-network" / "network.csv").drop(columns=["p_stay",
                                                                                 "p_in_network"])
    b = pd.read_csv(tmp_path / "r" / "demo-network" / "network.csv")
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- bad input

def test_unknown_role_preset_names_its_key(demo_doc, tmp_path):
    roles = json.loads(json.dumps(NETWORK["roles"]))
    roles["fab"]["preset"] = "gigafab"
    config = write_config(tmp_path, demo_doc, roles=roles)
    one_line_error(invoke("network", str(config)), "config key 'network.roles.fab.preset'",
                   "preset not found", "semiconductor_fab")


def test_a_link_between_unknown_roles_names_its_key(demo_doc, tmp_path):
    constraints = {"links": [{"from": "fab", "to": "suppliers", "max_km": 100}]}
    config = write_config(tmp_path, demo_doc, constraints=constraints)
    one_line_error(invoke("network", str(config)), "config key 'network.constraints.links[0].to'",
                   "'suppliers' is not a role")


@pytest.mark.parametrize("field,value,key", [
    ("power_mw", -5, "network.roles.fab.power_mw"),
    ("water_mgd", -1, "network.roles.fab.water_mgd"),
    ("count", {"min": 3, "max": 2}, "network.roles.fab.count"),
    ("count", 0, "network.roles.fab.count"),
])
def test_negative_demands_and_bad_counts_name_their_key(demo_doc, tmp_path, field, value, key):
    roles = json.loads(json.dumps(NETWORK["roles"]))
    roles["fab"][field] = value
    config = write_config(tmp_path, demo_doc, roles=roles)
    one_line_error(invoke("network", str(config)), f"config key '{key}'")


def test_power_share_without_its_radius(demo_doc, tmp_path):
    config = write_config(tmp_path, demo_doc, constraints={"power_share": 0.25})
    one_line_error(invoke("network", str(config)), "config key 'network.constraints.power_radius_km'")


def test_more_states_than_parks(demo_doc, tmp_path):
    config = write_config(tmp_path, demo_doc, constraints={"min_states": 9})
    one_line_error(invoke("network", str(config)), "config key 'network.constraints.min_states'",
                   "at most 6")


def test_a_power_layer_the_study_lacks(demo_doc, tmp_path):
    constraints = {"power_share": 0.25, "power_radius_km": 100, "power_layer": "generators"}
    config = write_config(tmp_path, demo_doc, constraints=constraints)
    one_line_error(invoke("network", str(config)), "config key 'network.constraints.power_layer'",
                   "'generators' is not in 'layers'")


def test_no_network_section(demo_doc, tmp_path):
    doc = dict(demo_doc)
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    one_line_error(invoke("network", str(path)), "config key 'network'", "no 'network:' section")


def test_an_infeasible_network_names_the_constraints_that_cannot_hold(demo_doc, tmp_path):
    """A quarter of the demo's generation cannot carry a 1 GW campus anywhere."""
    constraints = dict(NETWORK["constraints"], power_share=0.25)
    config = write_config(tmp_path, demo_doc, constraints=constraints)
    line = one_line_error(invoke("network", str(config), "--runs-dir", str(tmp_path / "r"),
                                 "--no-map", "--allow-partial"),
                          "cannot hold together", "network.constraints.power_share",
                          "network.roles.data_center.count")
    assert "line" in line  # the YAML line of the key
    assert not (tmp_path / "r" / "demo-network").exists()


def test_more_parks_than_sites_qualify(demo_doc, tmp_path):
    roles = json.loads(json.dumps(NETWORK["roles"]))
    roles["fab"]["count"] = 40
    config = write_config(tmp_path, demo_doc, roles=roles, constraints={})
    one_line_error(invoke("network", str(config), "--no-map", "--runs-dir", str(tmp_path / "r"),
                          "--allow-partial"),
                   "config key 'network.roles.fab.count'", "needs at least 40 fab parks",
                   "candidate sites qualify under preset semiconductor_fab")


def test_the_schema_describes_the_network_section():
    result = invoke("config", "schema")
    schema = json.loads(result.output)
    defs = schema["$defs"]
    assert "network" in schema["properties"]
    for name in ("NetworkConfig", "RoleConfig", "NetworkConstraints", "LinkConfig"):
        props = defs[name]["properties"]
        missing = [k for k, v in props.items() if "description" not in v and "$ref" not in v
                   and "allOf" not in v]
        assert not missing, (name, missing)
    assert "from" in defs["LinkConfig"]["properties"]
    assert np.isclose(defs["NetworkConstraints"]["properties"]["power_share"]["anyOf"][0]
                      ["exclusiveMinimum"], 0)
