"""Readiness cost through a whole run: the demo region with a `costs:` section, scored, located,
routed and written (sites table columns, the GeoPackage's `routes` layer, routes.csv, the map,
the report and `explain`)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import yaml

import sitescore
from sitescore.config import load_config
from sitescore.demo import generate_demo
from sitescore.explain import explain_site, read_run

UNIT_COSTS = {  # made-up figures for the arithmetic of this test, not for use
    "classes": {
        "road_lane": {"unit": "usd_per_lane_mile", "rows": [
            {"key": "test", "low": 1_000_000, "base": 2_000_000, "high": 3_000_000,
             "dollar_year": 2020, "source": "made-up test figure"}]},
        "rail_spur": {"unit": "usd_per_mile", "rows": [
            {"key": "test", "low": 2_000_000, "base": 3_000_000, "high": 5_000_000,
             "dollar_year": 2020, "source": "made-up test figure"}]},
    },
}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    out = tmp_path_factory.mktemp("costs_run")
    config = generate_demo(out, seed=3)
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    (out / "unit_costs.yaml").write_text(yaml.safe_dump(UNIT_COSTS), encoding="utf-8")
    doc["costs"] = {
        "terrain": "terrain", "resolution_km": 0.5, "margin_km": 30, "unit_costs": "unit_costs.yaml",
        "draws": 200, "power_mw": 1000,
        "connections": {
            "power": {"layer": "transmission_lines", "build": "transmission_line",
                      "at_feature": ["new_substation"], "label": "Grid connection"},
            "road": {"layer": "roads", "build": "road_lane", "label": "Access road"},
            "rail": {"layer": "rail", "build": "rail_spur", "label": "Rail spur"},
        },
    }
    doc["criteria"]["readiness_cost"] = {
        "metric": "readiness_cost", "layer": "transmission_lines", "label": "Readiness cost",
        "unit": "M$", "value": {"kind": "linear", "best": 0, "worst": 400}, "weight": 0.2}
    path = out / "with_costs.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    cfg = load_config(path)
    result = sitescore.run(cfg, runs_dir=out / "runs", maps_dir=out / "maps")
    return cfg, result


def test_sites_carry_their_cost_breakdown_and_range(ran):
    _, result = ran
    sites = result.sites
    for col in ("power_cost_musd", "road_route_km", "readiness_cost_low_musd",
                "readiness_cost_high_musd", "readiness_cost_p50_musd", "readiness_cost_note"):
        assert col in sites.columns
    ok = sites["readiness_cost_musd"].notna()
    assert ok.any()
    s = sites[ok]
    assert (s["readiness_cost_low_musd"] <= s["readiness_cost_musd"] + 1e-9).all()
    assert (s["readiness_cost_musd"] <= s["readiness_cost_high_musd"] + 1e-9).all()
    parts = s[["power_cost_musd", "road_cost_musd", "rail_cost_musd"]].sum(axis=1)
    assert np.allclose(parts, s["readiness_cost_musd"])
    assert (sites.loc[~ok, "readiness_cost_note"].str.len() > 0).all()
    assert "costs" in result.manifest and result.manifest["costs"]["unit_costs"]


def test_routes_are_written_and_drawn(ran):
    _, result = ran
    gpkg = result.run_dir / "sitescore.gpkg"
    assert "routes" in pyogrio.list_layers(gpkg)[:, 0]
    routes = gpd.read_file(gpkg, layer="routes")
    assert set(routes["connection"]) <= {"power", "road", "rail"} and len(routes)
    assert (result.run_dir / "routes.csv").exists()
    page = Path(result.map_path).read_text(encoding="utf-8")
    assert "Connection routes" in page
    report = Path(result.report_path).read_text(encoding="utf-8")
    assert "What each site costs to make ready" in report


def test_explain_prints_the_cost(ran):
    cfg, result = ran
    text = explain_site(cfg, read_run(result.run_dir), 1)
    assert "Readiness cost" in text and "M$" in text


def test_max_cost_musd_excludes_dear_cells(ran, tmp_path):
    cfg, result = ran
    cells = result.cells
    raw = cells["raw__readiness_cost"].astype(float)
    limit = float(np.nanpercentile(raw, 60))
    capped = cfg.model_copy(deep=True)
    capped.costs.max_cost_musd = limit
    again = sitescore.score(capped)
    dear = again.cells["raw__readiness_cost"].astype(float) > limit
    assert dear.any() and again.cells.loc[dear, "excluded"].all()
    newly = dear & ~cells["excluded"].astype(bool).to_numpy()  # not already out on another rule
    assert newly.any()
    assert again.cells.loc[newly, "exclusion_reason"].str.contains("Readiness cost").all()


def test_a_missing_optional_cost_layer_leaves_the_readiness_criterion_out(ran, tmp_path):
    """A connection's layer marked optional and not found: the run goes on, the total readiness
    criterion is left out with a note (as any criterion whose layer is missing), the power
    route is still priced and every site's total is missing with the reason."""
    cfg, _ = ran
    doc = cfg.model_dump(mode="json", exclude={"source_path"})
    doc["layers"]["spurs"] = {**doc["layers"]["rail"], "path": str(tmp_path / "no_such.geojson"),
                              "optional": True}
    doc["costs"]["connections"]["rail"]["layer"] = "spurs"
    doc["costs"]["unit_costs"] = str(cfg.source_path.parent / "unit_costs.yaml")
    doc["data_dir"] = str(cfg.data_root())
    path = tmp_path / "missing.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = sitescore.score(load_config(path))
    assert "readiness_cost" not in result.criteria
    assert any("criterion 'readiness_cost' left out" in n and "spurs" in n for n in result.notes)
    assert any(x.name == "readiness_cost" for x in result.left_out)
    sites = result.sites
    assert sites["power_cost_musd"].notna().any() and sites["readiness_cost_musd"].isna().all()
    assert sites["readiness_cost_note"].str.contains("rail: not priced").all()


def _variant(cfg, tmp_path, name, change):
    doc = cfg.model_dump(mode="json", exclude={"source_path"})
    doc["costs"]["unit_costs"] = str(cfg.source_path.parent / "unit_costs.yaml")
    doc["data_dir"] = str(cfg.data_root())
    change(doc)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_a_grid_connection_along_the_roads_costs_no_more(ran, tmp_path):
    """The config's `along`: the power route may follow the demo's roads at 0.6 of its friction;
    no site's grid connection costs more than without it, some cost less."""
    cfg, result = ran

    def along(doc):
        doc["costs"]["connections"]["power"]["along"] = [
            {"layer": "roads", "width_km": 1.0, "multiplier": 0.6}]

    again = sitescore.score(load_config(_variant(cfg, tmp_path, "along", along)))
    before = result.sites.set_index("site_id")["power_cost_musd"]
    after = again.sites.set_index("site_id")["power_cost_musd"]
    cells_before = result.cells["raw__readiness_cost"].astype(float).to_numpy()
    cells_after = again.cells["raw__readiness_cost"].astype(float).to_numpy()
    ok = np.isfinite(cells_before)
    assert np.all(cells_after[ok] <= cells_before[ok] + 1e-9) and np.any(cells_after[ok] < cells_before[ok])
    assert after.notna().any() and before.notna().any()


def test_a_corridor_layer_not_in_layers_is_one_line_at_load(ran, tmp_path):
    cfg, _ = ran

    def bad(doc):
        doc["costs"]["connections"]["power"]["along"] = [{"layer": "pipelines", "multiplier": 0.5}]

    with pytest.raises(sitescore.SitescoreError) as err:
        load_config(_variant(cfg, tmp_path, "bad_along", bad))
    text = str(err.value)
    assert "\n" not in text and "costs.connections.power.along[0].layer" in text
