"""Connection routes and capital cost (sitescore.costs): least-cost paths on hand-made friction
rasters with answers known by hand, the unit-cost table's checks, and the cost model on small
hand-made layers.

The unit costs in `TEST_TABLE` are made up for the arithmetic of these tests (round numbers),
not figures anyone should use; the shipped table's own rows are checked in
`test_shipped_table_has_a_source_and_year_on_every_row`.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS as RasterCRS

from helpers import layer, square_cells
from sitescore.config.costs import CostsConfig
from sitescore.costs import load_unit_costs, prepare_costs, site_costs
from sitescore.costs.friction import Grid
from sitescore.costs.model import KM_PER_MILE, cell_costs
from sitescore.costs.routing import accumulate, class_lengths, sample, trace
from sitescore.errors import ConfigError, DataError
from sitescore.readers.terrain import Raster
from sitescore.schema import CRS

TEST_TABLE = {
    "classes": {
        "road_lane": {"unit": "usd_per_lane_mile", "rows": [
            {"key": "test", "low": 1_000_000, "base": 2_000_000, "high": 4_000_000,
             "dollar_year": 2020, "source": "made-up test figure"}]},
        "interchange": {"unit": "usd_each", "rows": [
            {"key": "test", "low": 10_000_000, "base": 20_000_000, "high": 30_000_000,
             "dollar_year": 2020, "source": "made-up test figure"}]},
        "water_pipeline": {"unit": "usd_per_mile", "rows": [
            {"key": "small", "max_mgd": 2, "low": 1, "base": 2, "high": 3, "dollar_year": 2020,
             "source": "made-up test figure"},
            {"key": "large", "max_mgd": 20, "low": 10, "base": 20, "high": 30, "dollar_year": 2020,
             "source": "made-up test figure"}]},
    },
    "slope_multipliers": {"road_lane": [
        {"min_slope_percent": 5, "low": 2, "base": 2, "high": 2, "source": "made-up test figure"}]},
}


def uniform_grid(n: int, cell_m: float = 1000.0) -> Grid:
    return Grid(Affine(cell_m, 0, 0, 0, -cell_m, n * cell_m), (n, n), cell_m)


def random_friction(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """n x n friction between 1 and 3 with about `share` of the pixels impassable."""
    friction = rng.uniform(1, 3, (n, n))
    friction[rng.random((n, n)) < share] = -1
    return friction


def centre(grid: Grid, row: int, col: int) -> np.ndarray:
    return grid.centres(np.array([row]), np.array([col]))


# -- least-cost paths on hand-made rasters --------------------------------------------------------

def test_uniform_friction_costs_the_octile_distance():
    grid = uniform_grid(21)
    surface = accumulate(np.ones(grid.shape), np.array([[10, 10]]))
    # 3 steps down and 7 right: 3 diagonal steps and 4 straight ones
    got = sample(surface, grid, centre(grid, 13, 17))[0]
    assert got == pytest.approx((3 * math.sqrt(2) + 4) * 1.0)
    path = trace(surface, grid, centre(grid, 13, 17)[0])
    assert path is not None and tuple(path[0]) == (13, 17) and tuple(path[-1]) == (10, 10)
    assert len(path) == 8


def test_route_goes_through_the_only_gap_in_a_wall():
    n = 15
    grid = uniform_grid(n)
    friction = np.ones((n, n))
    friction[:, 7] = -1      # a wall of impassable pixels down column 7 ...
    friction[12, 7] = 1      # ... with one gap
    surface = accumulate(friction, np.array([[2, 2]]))
    path = trace(surface, grid, centre(grid, 2, 12)[0])
    assert path is not None
    assert [12, 7] in path.tolist()
    assert all(friction[r, c] > 0 for r, c in path)
    # the detour costs more than the straight line through the wall would
    assert sample(surface, grid, centre(grid, 2, 12))[0] > 10.0


def test_friction_doubles_the_cost_of_a_straight_route():
    grid = uniform_grid(11)
    one = sample(accumulate(np.ones(grid.shape), np.array([[5, 0]])), grid, centre(grid, 5, 10))[0]
    two = sample(accumulate(np.full(grid.shape, 2.0), np.array([[5, 0]])), grid, centre(grid, 5, 10))[0]
    assert one == pytest.approx(10.0) and two == pytest.approx(20.0)


def test_no_reachable_feature_is_missing_not_zero():
    grid = uniform_grid(9)
    friction = np.ones(grid.shape)
    friction[:, 4] = -1
    surface = accumulate(friction, np.array([[4, 0]]))
    assert np.isnan(sample(surface, grid, centre(grid, 4, 8))[0])
    assert trace(surface, grid, centre(grid, 4, 8)[0]) is None
    empty = accumulate(friction, np.zeros((0, 2), dtype=int))
    assert np.isnan(sample(empty, grid, centre(grid, 0, 0))[0])


def test_class_lengths_reproduce_the_accumulated_cost():
    rng = np.random.default_rng(3)
    grid = uniform_grid(25, cell_m=500.0)
    classes = rng.integers(-1, 2, grid.shape).astype(np.int8)
    mult = np.array([1.3, 1.0, 1.75])  # no DEM, flat, steep
    friction = mult[classes + 1]
    surface = accumulate(friction, np.array([[0, 0]]))
    path = trace(surface, grid, centre(grid, 20, 17)[0])
    lengths = class_lengths(path, classes, np.ones(grid.shape), 1, grid.cell_km)
    assert lengths @ mult == pytest.approx(sample(surface, grid, centre(grid, 20, 17))[0])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.05, 0.5))
def test_impassable_pixels_are_never_on_a_route(seed, share):
    rng = np.random.default_rng(seed)
    n = 20
    grid = uniform_grid(n)
    friction = random_friction(rng, n, share)
    friction[0, 0] = friction[n - 1, n - 1] = 1.0
    surface = accumulate(friction, np.array([[0, 0]]))
    path = trace(surface, grid, centre(grid, n - 1, n - 1)[0])
    if path is None:
        assert np.isnan(sample(surface, grid, centre(grid, n - 1, n - 1))[0])
    else:
        assert all(friction[r, c] > 0 for r, c in path)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 18), st.integers(1, 18), st.floats(1.0, 5.0), st.floats(0.0, 4.0))
def test_cost_grows_with_distance_and_friction(near, extra, level, more):
    grid = uniform_grid(40)
    base = np.full(grid.shape, level)
    surface = accumulate(base, np.array([[20, 0]]))
    closer = sample(surface, grid, centre(grid, 20, near))[0]
    further = sample(surface, grid, centre(grid, 20, near + extra))[0]
    assert further > closer
    steeper = sample(accumulate(base + more, np.array([[20, 0]])), grid, centre(grid, 20, near))[0]
    assert steeper >= closer


# -- the unit-cost table ----------------------------------------------------------------------------

def test_shipped_table_has_a_source_and_year_on_every_row():
    table = load_unit_costs()
    assert {"transmission_line", "new_substation", "substation_bay"} <= set(table.classes)
    for rows in table.classes.values():
        for r in rows:
            assert r.source and 1990 <= r.dollar_year <= 2030 and 0 < r.low <= r.base <= r.high
    line = {r.attrs["voltage_kv"]: r for r in table.classes["transmission_line"]}
    assert line[500].base == 2_248_000 and line[500].dollar_year == 2019
    assert table.route_factor == 1.3 and "MISO" in table.route_factor_source


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "my_costs.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("change,key", [
    (lambda d: d["classes"]["road_lane"]["rows"][0].update(base=-5), "classes.road_lane.rows[0].base"),
    (lambda d: d["classes"]["road_lane"]["rows"][0].update(base="cheap"), "classes.road_lane.rows[0].base"),
    (lambda d: d["classes"]["road_lane"]["rows"][0].pop("source"), "classes.road_lane.rows[0].source"),
    (lambda d: d["classes"]["road_lane"]["rows"][0].update(low=5_000_000), "classes.road_lane.rows[0]"),
    (lambda d: d["classes"]["road_lane"]["rows"][0].update(dollar_year="recent"),
     "classes.road_lane.rows[0].dollar_year"),
    (lambda d: d["classes"].update(tunnel={"unit": "usd_each", "rows": []}), "classes.tunnel"),
    (lambda d: d["classes"]["water_pipeline"]["rows"][1].pop("max_mgd"),
     "classes.water_pipeline.rows[1].max_mgd"),
])
def test_a_bad_unit_cost_row_is_one_line_naming_file_and_key(tmp_path, change, key):
    doc = yaml.safe_load(yaml.safe_dump(TEST_TABLE))
    change(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(DataError) as err:
        load_unit_costs(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and f"'{key}'" in text


def test_a_class_no_table_has_is_named(tmp_path):
    cells, lines, _ = _study()
    cfg = CostsConfig(connections={"rail": {"layer": "rail", "build": "rail_spur"}})
    with pytest.raises(DataError, match=r"costs\.connections\.rail\.build.*no class 'rail_spur'"):
        prepare_costs(cfg, {"rail": lines}, cells, None, config_dir=tmp_path, site_acres=1000)


def test_the_studys_file_replaces_and_adds_classes(tmp_path):
    table = load_unit_costs(_write(tmp_path, TEST_TABLE))
    assert table.classes["road_lane"][0].base == 2_000_000
    assert table.classes["transmission_line"][0].source.startswith("NREL reVX")  # kept
    assert table.origin["road_lane"].endswith("my_costs.yaml")


# -- the cost model on hand-made layers ---------------------------------------------------------------

def _study(slope_percent: float = 0.0):
    """3 x 1 cells of 1 km along y = 0.5 km; a line x = -10 km; a DEM rising in x."""
    cells = square_cells(3, 1)
    lines = layer([shapely.LineString([(-10_000, -30_000), (-10_000, 30_000)])], voltage_kv=[500])
    x = np.arange(-40_000, 40_000, 500.0) + 250
    z = (x * slope_percent / 100.0)[None, :].repeat(160, axis=0).astype(np.float32)
    dem = Raster(Path("dem.tif"), z, Affine(500, 0, -40_000, 0, -500, 40_000), RasterCRS.from_epsg(5070))
    return cells, lines, dem


def test_flat_route_costs_unit_cost_times_length_plus_the_substation(tmp_path):
    cells, lines, dem = _study()
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line",
                                             "at_feature": ["new_substation"]}},
                      terrain="dem", resolution_km=0.5, margin_km=20, power_mw=1000, draws=200)
    model = prepare_costs(cfg, {"lines": lines, "dem": dem}, cells, None, config_dir=tmp_path,
                          site_acres=1000)
    line = next(r for r in model.table.classes["transmission_line"] if r.attrs["voltage_kv"] == 500)
    sub = next(r for r in model.table.classes["new_substation"] if r.attrs["voltage_kv"] == 500)
    values = cell_costs(model, cells)
    # the first cell's centre (500, 500) is 10.5 km from the line: 21 steps of 0.5 km
    expected = (10.5 * line.base / KM_PER_MILE + sub.base) / 1e6
    assert values[0] == pytest.approx(expected, rel=0.03)
    assert np.all(np.diff(values) > 0)  # further east, further from the line

    sites = gpd.GeoDataFrame({"site_id": [1], "acres": [247.1]}, geometry=[cells.geometry[0]], crs=CRS)
    table, routes = site_costs(model, sites)
    row = table.iloc[0]
    assert row["readiness_cost_low_musd"] <= row["readiness_cost_musd"] <= row["readiness_cost_high_musd"]
    assert row["readiness_cost_p10_musd"] <= row["readiness_cost_p50_musd"] <= row["readiness_cost_p90_musd"]
    assert row["readiness_cost_musd"] == pytest.approx(values[0], rel=0.05)
    assert len(routes) == 1 and routes.iloc[0]["length_km"] == pytest.approx(10.5, abs=0.6)
    assert routes.geometry.iloc[0].distance(lines.geometry.iloc[0]) < 500
    assert row["readiness_cost_note"] == ""


def test_steeper_ground_costs_more_and_no_dem_costs_the_route_factor(tmp_path):
    flat_cells, lines, flat_dem = _study(0.0)
    _, _, steep_dem = _study(10.0)
    road = _write(tmp_path, TEST_TABLE)
    cfg = dict(connections={"road": {"layer": "lines", "build": "road_lane", "at_feature": ["interchange"]}},
               unit_costs=str(road), resolution_km=0.5, margin_km=20, road_lanes=2)
    flat = cell_costs(prepare_costs(CostsConfig(terrain="dem", **cfg), {"lines": lines, "dem": flat_dem},
                                    flat_cells, None, config_dir=tmp_path, site_acres=1), flat_cells)
    steep = cell_costs(prepare_costs(CostsConfig(terrain="dem", **cfg), {"lines": lines, "dem": steep_dem},
                                     flat_cells, None, config_dir=tmp_path, site_acres=1), flat_cells)
    no_dem = prepare_costs(CostsConfig(**cfg), {"lines": lines}, flat_cells, None, config_dir=tmp_path,
                           site_acres=1)
    assert any("no terrain layer" in n for n in no_dem.notes)
    bare = cell_costs(no_dem, flat_cells)
    fixed = 20.0  # the interchange, million $
    assert steep - fixed == pytest.approx(2 * (flat - fixed), rel=1e-6)   # slope >= 5 %: x 2
    assert bare - fixed == pytest.approx(1.3 * (flat - fixed), rel=1e-6)  # the route factor
    per_km = 2 * 2.0 / KM_PER_MILE  # two lanes at 2 million $ a lane-mile
    assert flat[0] - fixed == pytest.approx(10.5 * per_km, rel=0.03)


def test_excluded_land_is_impassable_and_a_site_beyond_it_has_a_reason(tmp_path):
    cells, lines, _ = _study()
    wall = gpd.GeoDataFrame({"reason": ["National Park"]},
                            geometry=[shapely.box(-9_000, -60_000, -1_000, 60_000)], crs=CRS)
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line"}},
                      resolution_km=0.5, margin_km=20)
    model = prepare_costs(cfg, {"lines": lines}, cells, wall, config_dir=tmp_path, site_acres=1)
    assert np.isnan(cell_costs(model, cells)).all()
    sites = gpd.GeoDataFrame({"site_id": [1]}, geometry=[cells.geometry[1]], crs=CRS)
    table, routes = site_costs(model, sites)
    assert np.isnan(table.iloc[0]["readiness_cost_musd"]) and len(routes) == 0
    assert "without crossing excluded land" in table.iloc[0]["readiness_cost_note"]
    # a friction multiplier instead: reachable, and dearer than open ground
    open_cost = cell_costs(prepare_costs(cfg, {"lines": lines}, cells, None, config_dir=tmp_path,
                                         site_acres=1), cells)
    costly = cell_costs(prepare_costs(cfg.model_copy(update={"excluded_land": 3.0}), {"lines": lines},
                                      cells, wall, config_dir=tmp_path, site_acres=1), cells)
    assert np.all(costly > open_cost)


def test_no_feature_in_reach_is_said(tmp_path):
    cells, lines, _ = _study()
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line",
                                             "where": "voltage_kv >= 765"}}, margin_km=20)
    model = prepare_costs(cfg, {"lines": lines}, cells, None, config_dir=tmp_path, site_acres=1)
    assert any("no feature of layer 'lines' matching \"voltage_kv >= 765\"" in n for n in model.notes)
    assert np.isnan(cell_costs(model, cells)).all()


def test_a_raster_too_large_names_the_key(tmp_path):
    cells, lines, _ = _study()
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line"}},
                      resolution_km=0.01, margin_km=500, max_raster_cells=1000)
    with pytest.raises(ConfigError, match=r"costs\.resolution_km"):
        prepare_costs(cfg, {"lines": lines}, cells, None, config_dir=tmp_path, site_acres=1)


def test_the_distribution_is_seeded(tmp_path):
    cells, lines, dem = _study(3.0)
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line",
                                             "at_feature": ["new_substation"]}},
                      terrain="dem", resolution_km=0.5, margin_km=20, draws=300, seed=7)
    sites = gpd.GeoDataFrame({"site_id": [1, 2]}, geometry=list(cells.geometry[:2]), crs=CRS)
    runs = [site_costs(prepare_costs(cfg, {"lines": lines, "dem": dem}, cells, None,
                                     config_dir=tmp_path, site_acres=1), sites)[0] for _ in range(2)]
    assert runs[0].equals(runs[1])
    assert (runs[0]["readiness_cost_p90_musd"] > runs[0]["readiness_cost_p10_musd"]).all()


def test_grading_prices_the_sites_acres_by_slope(tmp_path):
    cells, lines, dem = _study(3.0)
    doc = {"classes": {"site_grading": {"unit": "usd_per_acre", "rows": [
        {"key": "gentle", "max_slope_percent": 2, "low": 1000, "base": 2000, "high": 3000,
         "dollar_year": 2020, "source": "made-up test figure"},
        {"key": "steep", "max_slope_percent": 100, "low": 5000, "base": 10000, "high": 20000,
         "dollar_year": 2020, "source": "made-up test figure"}]}}}
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line"}},
                      terrain="dem", unit_costs=str(_write(tmp_path, doc)), grading=True,
                      resolution_km=0.5, margin_km=20, draws=100)
    model = prepare_costs(cfg, {"lines": lines, "dem": dem}, cells, None, config_dir=tmp_path,
                          site_acres=500)
    assert cell_costs(model, cells, "grading") == pytest.approx(np.full(3, 500 * 10000 / 1e6))
    sites = gpd.GeoDataFrame({"site_id": [1], "acres": [100.0]}, geometry=[cells.geometry[0]], crs=CRS)
    table, _ = site_costs(model, sites)
    assert table.iloc[0]["grading_cost_musd"] == pytest.approx(100 * 10000 / 1e6)
    assert table.iloc[0]["readiness_cost_musd"] == pytest.approx(
        table.iloc[0]["power_cost_musd"] + table.iloc[0]["grading_cost_musd"])
    with pytest.raises(ConfigError, match=r"costs\.grading"):
        prepare_costs(cfg.model_copy(update={"terrain": None}), {"lines": lines}, cells, None,
                      config_dir=tmp_path, site_acres=500)


# -- coarse-to-fine (corridor) search -------------------------------------------------------------

def test_corridor_search_finds_the_gap_and_costs_as_the_exact_one():
    n = 120
    grid = uniform_grid(n)
    friction = np.ones((n, n))
    friction[:, 60] = -1        # a wall down column 60 ...
    friction[100, 60] = 1       # ... with one gap near the bottom
    starts = np.array([[10, r] for r in range(5, 15)])
    targets = np.array([[10, 110], [50, 100], [115, 90]])
    exact = accumulate(friction, starts)
    corridor = accumulate(friction, starts, targets, search="corridor")
    assert corridor.search.startswith("corridor")
    points = grid.centres(targets[:, 0], targets[:, 1])
    assert sample(corridor, grid, points) == pytest.approx(sample(exact, grid, points))
    path = trace(corridor, grid, points[0])
    assert [100, 60] in path.tolist() and all(friction[r, c] > 0 for r, c in path)
    # it searched only part of the grid
    assert np.isfinite(corridor.cost).mean() < np.isfinite(exact.cost).mean()


def test_corridor_calls_unreachable_only_what_is_unreachable():
    n = 60
    grid = uniform_grid(n)
    friction = np.ones((n, n))
    friction[38:50, 38:50] = -1
    friction[40:48, 40:48] = 1     # a pocket sealed by a ring of impassable pixels
    starts = np.array([[2, 2]])
    targets = np.array([[44, 44], [20, 55]])
    surface = accumulate(friction, starts, targets, search="corridor")
    got = sample(surface, grid, grid.centres(targets[:, 0], targets[:, 1]))
    assert np.isnan(got[0]) and np.isfinite(got[1])


def test_a_corridor_that_misses_a_target_falls_back_to_the_exact_search(monkeypatch):
    from sitescore.costs import routing

    grid = uniform_grid(40)
    friction = np.ones(grid.shape)
    real = routing._search_within

    def misses(friction, starts, corridor, k, offsets, label):
        surface = real(friction, starts, corridor, k, offsets, label)
        surface.cost[:] = np.inf        # as if the corridor had left every target out
        return surface

    monkeypatch.setattr(routing, "_search_within", misses)
    surface = accumulate(friction, np.array([[0, 0]]), np.array([[35, 35]]), search="corridor")
    assert surface.search == "exact (a corridor missed a target)"
    assert sample(surface, grid, centre(grid, 35, 35))[0] == pytest.approx(35 * math.sqrt(2))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.3))
def test_corridor_costs_are_never_below_the_exact_ones(seed, share):
    rng = np.random.default_rng(seed)
    n = 80
    grid = uniform_grid(n)
    friction = random_friction(rng, n, share)
    starts = rng.integers(0, n, (5, 2))
    targets = rng.integers(0, n, (8, 2))
    points = grid.centres(targets[:, 0], targets[:, 1])
    exact = sample(accumulate(friction, starts), grid, points)
    corridor_surface = accumulate(friction, starts, targets, search="corridor")
    got = sample(corridor_surface, grid, points)
    assert np.array_equal(np.isnan(got), np.isnan(exact))          # reachable alike
    ok = ~np.isnan(exact)
    assert np.all(got[ok] >= exact[ok] - 1e-6)                      # least within a corridor
    for p in points[ok]:
        path = trace(corridor_surface, grid, p)
        assert path is None or all(friction[r, c] > 0 for r, c in path[1:])


def test_features_on_impassable_land_are_not_where_a_route_ends():
    grid = uniform_grid(20)
    friction = np.ones(grid.shape)
    friction[:, :5] = -1                       # excluded land over the feature's west end
    line = np.array([[10, c] for c in range(0, 12)])
    surface = accumulate(friction, line)
    path = trace(surface, grid, centre(grid, 10, 19)[0])
    assert tuple(path[-1]) == (10, 11)
    # the route steps from the cell to the first passable pixel of the feature, never into the land
    assert all(friction[r, c] > 0 for r, c in path)


def test_parallel_routing_gives_the_serial_surfaces():
    from sitescore.costs.routing import accumulate_all

    rng = np.random.default_rng(5)
    friction = rng.uniform(1, 2, (50, 50))
    jobs = [(friction, np.array([[0, 0]])), (friction * 2, np.array([[49, 49]])),
            (friction, np.array([[25, 0], [25, 1]]))]
    targets = np.array([[10, 10], [40, 20]])
    for search in ("exact", "corridor"):
        serial = accumulate_all(jobs, targets, search=search, workers=1)
        parallel = accumulate_all(jobs, targets, search=search, workers=2)
        for a, b in zip(serial, parallel, strict=True):
            assert np.array_equal(a.cost, b.cost) and np.array_equal(a.traceback, b.traceback)


def test_auto_search_is_exact_on_small_grids_and_corridor_on_large_ones():
    from sitescore.costs.routing import EXACT_MAX_CELLS, resolve_search

    assert resolve_search("auto", (1000, 1000)) == "exact"
    assert resolve_search("auto", (EXACT_MAX_CELLS, 2)) == "corridor"
    assert resolve_search("exact", (10**5, 10**5)) == "exact"


def test_the_model_notes_a_corridor_search(tmp_path):
    cells, lines, dem = _study(3.0)
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line"}},
                      terrain="dem", resolution_km=0.5, margin_km=20, search="corridor")
    model = prepare_costs(cfg, {"lines": lines, "dem": dem}, cells, None, config_dir=tmp_path,
                          site_acres=1)
    exact = prepare_costs(cfg.model_copy(update={"search": "exact"}), {"lines": lines, "dem": dem},
                          cells, None, config_dir=tmp_path, site_acres=1)
    assert any("least-cost search corridor" in n for n in model.notes)
    assert cell_costs(model, cells) == pytest.approx(cell_costs(exact, cells))
    sites = gpd.GeoDataFrame({"site_id": [1]}, geometry=[cells.geometry[2]], crs=CRS)
    assert site_costs(model, sites)[0].iloc[0]["readiness_cost_musd"] == pytest.approx(
        site_costs(exact, sites)[0].iloc[0]["readiness_cost_musd"])


# -- what a run can price when optional layers are missing -----------------------------------------

class _Crit:
    def __init__(self, component: str = "total", metric: str = "readiness_cost") -> None:
        self.metric, self.params = metric, {"component": component}


def _two_connections(**extra) -> CostsConfig:
    return CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line"},
                                    "rail": {"layer": "spurs", "build": "rail_spur"}},
                       terrain="dem", **extra)


def test_a_missing_connection_layer_leaves_the_total_out_and_keeps_the_other_components():
    from sitescore.costs import plan_costs

    criteria = {"cost": _Crit(), "power_cost": _Crit("power"), "rail_cost": _Crit("rail"),
                "slope": _Crit(metric="zonal")}
    plan = plan_costs(_two_connections(max_cost_musd=100), {"spurs"}, criteria)
    assert set(plan.config.connections) == {"power"}
    assert set(plan.criteria_left_out) == {"cost", "rail_cost"}
    assert "layer 'spurs' not found" in plan.criteria_left_out["cost"]
    assert plan.config.max_cost_musd is None and any("max_cost_musd" in n for n in plan.notes)
    assert plan.left_out == {"rail": "layer 'spurs' not found (marked optional)"}
    assert plan.layer_names() == ["lines", "dem"]


def test_a_missing_dem_drops_the_terrain_and_grading_with_it():
    from sitescore.costs import plan_costs

    plan = plan_costs(_two_connections(), {"dem"}, {"cost": _Crit()})
    assert plan.config.terrain is None and not plan.criteria_left_out
    assert any("route factor" in n for n in plan.notes)
    graded = plan_costs(_two_connections(grading=True), {"dem"}, {"cost": _Crit(), "p": _Crit("power")})
    assert graded.config.grading is False and set(graded.criteria_left_out) == {"cost"}
    nothing = plan_costs(_two_connections(), {"lines", "spurs"}, {"p": _Crit("power")})
    assert nothing.config is None and set(nothing.criteria_left_out) == {"p"}


def test_a_component_left_out_makes_every_sites_total_missing_with_the_reason(tmp_path):
    cells, lines, _ = _study()
    cfg = CostsConfig(connections={"power": {"layer": "lines", "build": "transmission_line"}},
                      resolution_km=0.5, margin_km=20)
    model = prepare_costs(cfg, {"lines": lines}, cells, None, config_dir=tmp_path, site_acres=1,
                          left_out={"rail": "layer 'spurs' not found (marked optional)"})
    sites = gpd.GeoDataFrame({"site_id": [1]}, geometry=[cells.geometry[0]], crs=CRS)
    row = site_costs(model, sites)[0].iloc[0]
    assert np.isfinite(row["power_cost_musd"]) and np.isnan(row["readiness_cost_musd"])
    assert "rail: not priced, layer 'spurs' not found" in row["readiness_cost_note"]
    assert model.record()["left_out"] == {"rail": "layer 'spurs' not found (marked optional)"}


# -- the presets' costs sections ---------------------------------------------------------------------

PRESETS_WITH_COSTS = ["data_center", "semiconductor_fab"]


@pytest.mark.parametrize("name", PRESETS_WITH_COSTS)
def test_preset_costs_build_only_sourced_classes_and_say_where_from(name):
    import re

    from sitescore.config.presets import preset_path

    path = preset_path(name, Path.cwd() / "none.yaml")
    text = path.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    cfg = CostsConfig.model_validate(doc["costs"])
    shipped = load_unit_costs()
    for conn in cfg.connections.values():
        for klass in (conn.build, *conn.at_feature):
            assert klass in shipped.classes, f"{name}: {klass} has no sourced unit cost"
    block = text[text.index("\ncosts:"):text.index("\nsites:")]
    assert re.search(r"https?://\S+", block), f"{name}: costs section without a source"
    readiness = [c for c in doc["criteria"].values() if c["metric"] == "readiness_cost"]
    assert len(readiness) == 1 and readiness[0]["layer"] in {c.layer for c in cfg.connections.values()}


def test_a_preset_connection_the_study_cannot_route_is_left_out_with_its_criterion():
    from sitescore.config.presets import apply_preset

    study = {"study": "s", "layers": {"federal_land": {}, "transmission_lines": {}},
             "criteria": {}}
    preset = {"criteria": {
        "cost": {"metric": "readiness_cost", "layer": "transmission_lines", "weight": 0.5},
        "power_cost": {"metric": "readiness_cost", "layer": "transmission_lines",
                       "component": "power", "weight": 0.5}},
        "costs": {"terrain": "terrain", "max_cost_musd": 50, "connections": {
            "power": {"layer": "transmission_lines", "build": "transmission_line"},
            "water": {"layer": "rivers", "build": "water_pipeline"}}}}
    out, notes = apply_preset(study, preset, "p")
    assert set(out["costs"]["connections"]) == {"power"} and "terrain" not in out["costs"]
    assert set(out["criteria"]) == {"power_cost"} and "max_cost_musd" not in out["costs"]
    assert any("'water'" in n for n in notes) and any("'cost'" in n for n in notes)
