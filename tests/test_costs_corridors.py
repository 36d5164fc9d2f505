"""Routes along existing corridors (`costs.connections.<name>.along`): a new line beside an
existing right-of-way, a road on an existing track, costs a multiplier of its friction there.
Hand-made layers with answers known by hand; the multipliers here are made up for the
arithmetic, not figures to use."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from helpers import layer, square_cells
from sitescore.config.costs import CostsConfig
from sitescore.costs import plan_costs, prepare_costs, site_costs
from sitescore.costs.model import cell_costs
from sitescore.costs.routing import accumulate
from sitescore.errors import ConfigError, DataError
from sitescore.schema import CRS
from test_costs import random_friction


def _layers():
    """3 x 1 cells of 1 km along y = 0.5 km; a 500 kV line at x = -10 km; a track along the
    straight route (y = 0.5 km) and a detour track 5 km north of it."""
    cells = square_cells(3, 1)
    lines = layer([shapely.LineString([(-10_000, -30_000), (-10_000, 30_000)])], voltage_kv=[500])
    tracks = layer([shapely.LineString([(-10_000, 500), (3_000, 500)]),
                    shapely.LineString([(500, 500), (500, 5_500), (-10_000, 5_500)])],
                   kind=["straight", "detour"])
    return cells, lines, tracks


def _model(tmp_path, along=None, **extra):
    cells, lines, tracks = _layers()
    power = {"layer": "lines", "build": "transmission_line", **({"along": along} if along else {})}
    cfg = CostsConfig(connections={"power": power}, resolution_km=0.25, margin_km=20, draws=200,
                      **extra)
    return prepare_costs(cfg, {"lines": lines, "tracks": tracks}, cells, None, config_dir=tmp_path,
                         site_acres=1), cells


def test_a_route_along_a_corridor_costs_its_multiplier(tmp_path):
    open_model, cells = _model(tmp_path)
    along, _ = _model(tmp_path, [{"layer": "tracks", "where": "kind == 'straight'", "width_km": 0.2,
                                  "multiplier": 0.5}])
    # the straight route runs wholly along the track: half the friction all the way
    assert cell_costs(along, cells) == pytest.approx(0.5 * cell_costs(open_model, cells), rel=0.02)


def test_a_cheap_enough_corridor_draws_the_route_off_the_straight_line(tmp_path):
    open_model, cells = _model(tmp_path)
    along, _ = _model(tmp_path, [{"layer": "tracks", "where": "kind == 'detour'", "width_km": 0.2,
                                  "multiplier": 0.2}])
    sites = gpd.GeoDataFrame({"site_id": [1]}, geometry=[cells.geometry[0]], crs=CRS)
    open_table, open_routes = site_costs(open_model, sites)
    table, routes = site_costs(along, sites)
    # 15.5 km at 0.2 (3.1 friction-km) beats 10.5 km at 1
    assert routes.iloc[0]["length_km"] == pytest.approx(15.5, abs=0.8)
    assert open_routes.iloc[0]["length_km"] == pytest.approx(10.5, abs=0.6)
    assert routes.geometry.iloc[0].distance(shapely.Point(-5_000, 5_500)) < 300
    ratio = table.iloc[0]["power_cost_musd"] / open_table.iloc[0]["power_cost_musd"]
    assert ratio == pytest.approx(3.1 / 10.5, rel=0.1)
    # a multiplier of one level: the range comes from the unit costs alone (500 kV: low = base)
    row = table.iloc[0]
    assert row["readiness_cost_low_musd"] <= row["readiness_cost_musd"] < row["readiness_cost_high_musd"]
    # the site's base total and the cell's criterion read the same run
    assert row["readiness_cost_musd"] == pytest.approx(cell_costs(along, cells)[0], rel=0.05)


def test_overlapping_corridors_take_the_first_listed(tmp_path):
    _, cells = _model(tmp_path)
    straight = {"layer": "tracks", "where": "kind == 'straight'", "width_km": 0.2}
    first, _ = _model(tmp_path, [{**straight, "multiplier": 0.5}, {**straight, "multiplier": 0.25}])
    only, _ = _model(tmp_path, [{**straight, "multiplier": 0.5}])
    assert cell_costs(first, cells) == pytest.approx(cell_costs(only, cells))


def test_a_corridor_layer_not_in_layers_is_named(tmp_path):
    cells, lines, _ = _layers()
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line",
                                             "along": [{"layer": "roads", "multiplier": 0.5}]}})
    with pytest.raises(ConfigError, match=r"costs\.connections\.power\.along\[0\]\.layer"):
        prepare_costs(cfg, {"lines": lines}, cells, None, config_dir=tmp_path, site_acres=1)


@pytest.mark.parametrize("multiplier", [0, 1.5, -0.2])
def test_a_corridor_dearer_than_open_ground_is_refused(multiplier):
    with pytest.raises(ValidationError, match="multiplier"):
        CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line",
                                           "along": [{"layer": "x", "multiplier": multiplier}]}})


def test_a_missing_optional_corridor_layer_leaves_the_route_priced_at_full_friction():
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line",
                                             "along": [{"layer": "tracks", "multiplier": 0.5}]}})
    plan = plan_costs(cfg, {"tracks"}, {})
    assert plan.config is not None and plan.config.connections["power"].along == []
    assert any("without its corridor along 'tracks'" in n for n in plan.notes)
    assert "tracks" in cfg.layer_names()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.05, 1.0))
def test_a_corridor_never_makes_a_route_dearer(seed, multiplier):
    """Friction times a factor <= 1 on some pixels: no pixel's least cost rises, and pixels
    whose cheapest route never meets the corridor keep theirs."""
    rng = np.random.default_rng(seed)
    n = 40
    friction = random_friction(rng, n, 0.15)
    corridor = np.zeros((n, n), dtype=bool)
    corridor[rng.integers(0, n), :] = True
    cheaper = np.where((friction > 0) & corridor, friction * multiplier, friction)
    starts = rng.integers(0, n, (3, 2))
    before, after = accumulate(friction, starts).cost, accumulate(cheaper, starts).cost
    reach = np.isfinite(before)
    assert np.array_equal(reach, np.isfinite(after))
    assert np.all(after[reach] <= before[reach] * (1 + 1e-6))
    if multiplier == 1.0:
        assert np.allclose(after[reach], before[reach])


def test_the_study_tables_corridor_row_gives_the_multiplier_and_its_range(tmp_path):
    table = tmp_path / "my_costs.yaml"
    table.write_text(yaml.safe_dump({"corridor_multipliers": {"transmission_line": {
        "low": 0.4, "base": 0.5, "high": 0.9, "source": "made-up test figure"}}}), encoding="utf-8")
    straight = {"layer": "tracks", "where": "kind == 'straight'", "width_km": 0.2}
    by_table, cells = _model(tmp_path, [straight], unit_costs=str(table))
    by_config, _ = _model(tmp_path, [{**straight, "multiplier": 0.5}])
    assert cell_costs(by_table, cells) == pytest.approx(cell_costs(by_config, cells))
    sites = gpd.GeoDataFrame({"site_id": [1]}, geometry=[cells.geometry[0]], crs=CRS)
    ranged = site_costs(by_table, sites)[0].iloc[0]
    fixed = site_costs(by_config, sites)[0].iloc[0]
    assert ranged["readiness_cost_musd"] == pytest.approx(fixed["readiness_cost_musd"])
    # the row's high (0.9) against the config's one value (0.5): the high end moves with it
    assert ranged["readiness_cost_high_musd"] == pytest.approx(
        fixed["readiness_cost_high_musd"] * 0.9 / 0.5, rel=0.02)
    assert ranged["readiness_cost_low_musd"] < fixed["readiness_cost_low_musd"]
    # the manifest keeps the corridor, its multipliers and where they came from
    kept = by_table.record()["corridors"]
    assert kept == [{"connection": "power", "layer": "tracks", "where": "kind == 'straight'",
                     "width_km": 0.2, "low": 0.4, "base": 0.5, "high": 0.9,
                     "source": "made-up test figure"}]
    assert by_config.record()["corridors"][0]["source"] == "costs.connections.power.along[0].multiplier"


def test_no_multiplier_and_no_table_row_is_one_line_naming_the_key(tmp_path):
    with pytest.raises(DataError) as err:
        _model(tmp_path, [{"layer": "tracks", "width_km": 0.2}])
    text = str(err.value)
    assert "\n" not in text and "costs.connections.power.along[0].multiplier" in text
    assert "corridor_multipliers" in text
