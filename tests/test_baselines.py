"""The plain-geopandas baselines in benchmarks/baselines.py compute what our metrics compute.

A speed-up is only worth quoting against a baseline that gives the same answer, so each
baseline is checked against `compute_metric` (and a hand-worked answer) on small geometries:
exactly where the formulation is exact, and with features kept off the radius edge where the
baseline's polygon buffer only approximates the circle.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from rasterio.crs import CRS as RioCRS

from helpers import layer, square_cells
from sitescore.metrics import METRICS, compute_metric
from sitescore.readers.terrain import Raster

# benchmarks/ holds scripts run by path, not a package: load the module from its file
_SPEC = importlib.util.spec_from_file_location(
    "benchmark_baselines", Path(__file__).resolve().parents[1] / "benchmarks" / "baselines.py")
baselines = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(baselines)


def both(name, cells, lay, params):
    return compute_metric(name, cells, lay, params), baselines.BASELINES[name](cells, lay, params)


#: Metrics timed against their plain formulation in a bench of their own: readiness_cost's
#: least-cost routes against a plain scikit-image loop (one find_costs per site) in
#: benchmarks/routing.py, which checks the costs agree.
OWN_BENCH = {"readiness_cost"}


def test_every_metric_has_a_baseline():
    assert set(baselines.BASELINES) | OWN_BENCH == set(METRICS)
    assert not set(baselines.BASELINES) & OWN_BENCH


def test_distance_to_keeps_one_row_per_cell_when_features_tie():
    cells = square_cells(3, 1)  # centroids (500, 500), (1500, 500), (2500, 500)
    cells.index = [30, 10, 20]  # output follows row order, not index labels
    lines = layer([shapely.LineString([(0, 3500), (10_000, 3500)]),
                   shapely.LineString([(0, -2500), (10_000, -2500)]),  # ties with the first: 3 km
                   shapely.LineString([(5500, -10_000), (5500, 10_000)])])
    ours, theirs = both("distance_to", cells, lines, {})
    np.testing.assert_array_equal(theirs, [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(theirs, ours)
    near_vertical = square_cells(1, 1, x0=4000)  # centroid (4500, 500): 1 km from x = 5500
    np.testing.assert_array_equal(*both("distance_to", near_vertical, lines, {}))


def test_distance_to_empty_layer_is_missing_in_both():
    ours, theirs = both("distance_to", square_cells(2, 1), layer([]), {})
    assert np.isnan(ours).all() and np.isnan(theirs).all()


def test_sum_and_count_within_agree_away_from_the_radius():
    cells = square_cells(3, 1)  # centroids (500, 500), (1500, 500), (2500, 500)
    plants = layer([shapely.Point(500, 1700),     # 1.2 km from cell 0, 1.56 from 1, 2.33 from 2
                    shapely.Point(2500, 2000),    # 2.5 km from cell 0, 1.80 from 1, 1.5 from 2
                    shapely.Point(6000, 500),     # 3.5 km from cell 2: out of every radius
                    shapely.Point(1400, 400)],    # inside cell 1, NaN capacity
                   capacity_mw=[100.0, 40.0, 7.0, np.nan])
    params = {"field": "capacity_mw", "radius_km": 2}
    ours, theirs = both("sum_within", cells, plants, params)
    np.testing.assert_array_equal(theirs, [100.0, 140.0, 40.0])
    np.testing.assert_array_equal(theirs, ours)
    ours, theirs = both("count_within", cells, plants, {"radius_km": 2})
    np.testing.assert_array_equal(theirs, [2, 3, 2])
    np.testing.assert_array_equal(theirs, ours)


def test_count_within_lines_crossing_the_circle():
    cells = square_cells(2, 1)  # centroids (500, 500), (1500, 500)
    roads = layer([shapely.LineString([(-5000, 1500), (5000, 1500)]),   # 1 km from both
                   shapely.LineString([(3200, -5000), (3200, 5000)]),   # 2.7 / 1.7 km
                   shapely.LineString([(-5000, -3000), (5000, -3000)])])  # 3.5 km from both
    ours, theirs = both("count_within", cells, roads, {"radius_km": 2})
    np.testing.assert_array_equal(theirs, [1, 2])
    np.testing.assert_array_equal(theirs, ours)


def test_buffer_polygon_misses_only_features_in_the_chord_band():
    """The documented difference: geopandas' buffer is a 64-gon inscribed in the circle, so a
    feature between the chord and the arc (here midway between two vertices, 0.05 % inside the
    radius) is within R km for sitescore and outside the buffer for the baseline."""
    cells = square_cells(1, 1)  # centroid (500, 500)
    r = 10_000.0
    angle = math.pi / 64  # midway between the buffer's vertices at 0 and pi/32
    edge = shapely.Point(500 + 0.9995 * r * math.cos(angle), 500 + 0.9995 * r * math.sin(angle))
    ours, theirs = both("count_within", cells, layer([edge]), {"radius_km": r / 1000})
    assert ours[0] == 1 and theirs[0] == 0
    assert r * math.cos(angle) < 0.9995 * r <= r  # the band is R cos(pi/64) < d <= R


@pytest.mark.parametrize("decay", ["exponential", "gaussian"])
def test_gravity_access_loop_matches(decay):
    cells = square_cells(2, 1)  # centroids (500, 500), (1500, 500)
    towns = layer([shapely.Point(500, 10_500), shapely.Point(20_500, 500),
                   shapely.Point(500, 90_500), shapely.box(-500, -500, 1500, 1500)],
                  labor_force=[1000.0, 2000.0, 1e6, 500.0])
    params = {"field": "labor_force", "decay_km": 10, "cutoff_km": 50, "decay": decay}
    ours, theirs = both("gravity_access", cells, towns, params)
    np.testing.assert_allclose(theirs, ours, rtol=1e-12)
    if decay == "exponential":  # cell 0: the county's representative point is its own centroid
        expected = 1000 * math.exp(-1) + 2000 * math.exp(-2) + 500
        np.testing.assert_allclose(theirs[0], expected, rtol=1e-12)


def test_gravity_access_default_cutoff_is_three_decays_in_both():
    cells = square_cells(1, 1)
    towns = layer([shapely.Point(500, 29_500), shapely.Point(500, 31_500)], labor_force=[10.0, 99.0])
    ours, theirs = both("gravity_access", cells, towns, {"field": "labor_force", "decay_km": 10})
    np.testing.assert_allclose(theirs, [10 * math.exp(-2.9)], rtol=1e-12)
    np.testing.assert_allclose(theirs, ours, rtol=1e-12)


def test_attribute_at_first_polygon_in_file_order_even_when_its_value_is_missing():
    cells = square_cells(4, 1)
    zones = layer([shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000),
                   shapely.box(0, 0, 3000, 1000), shapely.box(2000, 0, 3000, 1000)],
                  bws_score=[1.5, np.nan, 9.9, 4.0])
    zones.index = [7, 5, 3, 1]  # file order is row order, not the index
    ours, theirs = both("attribute_at", cells, zones, {"field": "bws_score"})
    # cell 1's first polygon has no value: NaN, not the later 9.9; cell 3 has no polygon
    np.testing.assert_array_equal(theirs, [1.5, np.nan, 9.9, np.nan])
    np.testing.assert_array_equal(theirs, ours)


def test_attribute_at_text_field_stays_text_and_numbers_stored_as_text_are_numbers():
    cells = square_cells(3, 1)
    zones = layer([shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
                  bws_label=["High (40-80%)", None], bws_text_score=["1.5", "4.25"])
    ours, theirs = both("attribute_at", cells, zones, {"field": "bws_label"})
    assert list(theirs) == ["High (40-80%)", None, None]
    assert ours[0] == "High (40-80%)" and pd.isna(ours[1:]).all()  # missing may be NaN or None
    assert baselines.answer_difference(ours, theirs) == {
        "max_abs_diff": pytest.approx(float("nan"), nan_ok=True), "cells_differ": 0, "nan_mismatch": 0}
    ours, theirs = both("attribute_at", cells, zones, {"field": "bws_text_score"})
    np.testing.assert_array_equal(theirs, [1.5, 4.25, np.nan])
    np.testing.assert_array_equal(theirs, ours)
    assert baselines.answer_difference(ours, theirs)["cells_differ"] == 0
    assert baselines.answer_difference(np.array(["a", None], dtype=object),
                                       np.array(["b", None], dtype=object))["cells_differ"] == 1


def test_a_layer_whose_geometry_column_has_another_name():
    cells = square_cells(2, 1)
    plants = layer([shapely.Point(500, 1500), shapely.Point(9000, 500)], capacity_mw=[10.0, 20.0])
    plants = plants.rename_geometry("geom")
    for name, params in [("distance_to", {}), ("count_within", {"radius_km": 2}),
                         ("sum_within", {"field": "capacity_mw", "radius_km": 2})]:
        np.testing.assert_array_equal(*both(name, cells, plants, params))


def test_overlap_share_counts_overlaps_once():
    cells = square_cells(3, 1)
    flood = layer([shapely.box(0, 0, 500, 1000), shapely.box(250, 0, 750, 1000),
                   shapely.box(1000, 0, 2000, 1000),
                   shapely.Polygon([(2000, 0), (3000, 0), (2000, 1000)])])  # half of cell 2
    ours, theirs = both("overlap_share", cells, flood, {})
    np.testing.assert_allclose(theirs, [0.75, 1.0, 0.5], rtol=1e-12)
    np.testing.assert_allclose(theirs, ours, rtol=1e-12)
    untouched = square_cells(1, 1, x0=10_000)
    np.testing.assert_array_equal(*both("overlap_share", untouched, flood, {}))


class _Raster:
    """The raster interface zonal reads, with a fixed slope grid."""

    def __init__(self, values: np.ndarray, transform: Affine, crs: str = "EPSG:5070"):
        self.values = values
        self.transform = transform
        self.crs = RioCRS.from_user_input(crs)

    def slope_percent(self) -> np.ndarray:
        return self.values[::-1] * 0.5


@pytest.mark.parametrize("stat", ["mean", "max", "min"])
@pytest.mark.parametrize("variable", ["elevation", "slope_percent"])
def test_zonal_matches_rasterstats_with_nan_nodata(stat, variable):
    # 4x4 pixels of 500 m from (0, 2000) down: each 1 km cell holds 2x2 pixel centres
    values = np.arange(16, dtype=float).reshape(4, 4)
    values[0, 0] = np.nan
    values[3, 2:] = np.nan  # cell c1_r0: two of its pixels nodata
    raster = _Raster(values, Affine(500, 0, 0, 0, -500, 2000))
    cells = square_cells(2, 2)
    ours, theirs = both("zonal", cells, raster, {"variable": variable, "stat": stat})
    np.testing.assert_allclose(theirs, ours, rtol=1e-12)
    if variable == "elevation" and stat == "mean":
        np.testing.assert_allclose(theirs, [(8 + 9 + 12 + 13) / 4, (10 + 11) / 2,
                                            (1 + 4 + 5) / 3, (2 + 3 + 6 + 7) / 4])


def test_zonal_small_cell_takes_the_pixel_under_its_centroid_in_both():
    raster = _Raster(np.array([[1.0, 2.0], [3.0, np.nan]]), Affine(1000, 0, 0, 0, -1000, 2000))
    cells = layer([shapely.box(1400, 1400, 1600, 1600),   # no pixel centre inside: pixel (0, 1)
                   shapely.box(1400, 400, 1600, 600),     # its pixel is nodata
                   shapely.box(5000, 5000, 5100, 5100),   # off the raster
                   shapely.box(0, 0, 2000, 2000)])        # all four centres, one nodata
    ours, theirs = both("zonal", cells, raster, {"variable": "elevation"})
    np.testing.assert_array_equal(theirs, [2.0, np.nan, np.nan, 2.0])
    np.testing.assert_array_equal(theirs, ours)


def test_zonal_on_a_geographic_dem_with_real_slope():
    """Cells are reprojected to the DEM's CRS on both sides; slope from the Raster class."""
    rng = np.random.default_rng(3)
    values = rng.uniform(1000, 1200, (60, 80))
    values[:5, :7] = np.nan
    # about 110 x 90 km west of Denver; cells of 5 km in EPSG:5070 inside it
    raster = Raster(path=Path("dem"), values=values, transform=Affine(0.0125, 0, -106.5, 0, -0.0125, 40.0),
                    crs=RioCRS.from_epsg(4269))
    cells = square_cells(6, 5, size=5000, x0=-840_000, y0=1_860_000)
    for variable, stat in [("slope_percent", "mean"), ("elevation", "max")]:
        params = {"variable": variable, "stat": stat}
        ours, theirs = both("zonal", cells, raster, params)
        assert np.isfinite(ours).sum() >= 25
        # a float32 slope grid: rasterstats averages in float32, sitescore in float64
        grid = raster.slope_percent() if variable == "slope_percent" else raster.values
        rtol = 1e-12 if grid.dtype == np.float64 else 1e-6
        np.testing.assert_allclose(theirs, ours, rtol=rtol)
        assert baselines.unexplained_cells("zonal", cells, raster, params, ours, theirs) == 0


def test_contiguous_acres_edges_join_corners_do_not():
    cells = square_cells(4, 3)
    keep = [0, 1, 4, 5, 3, 10]  # a 2x2 block; one cell alone; one touching the block's corner
    cells = cells.iloc[keep].reset_index(drop=True)
    cells["eligible_acres"] = [100.0, 200.0, 300.0, 400.0, 50.0, 7.0]
    ours, theirs = both("contiguous_acres", cells, None, {})
    np.testing.assert_array_equal(theirs, [1000, 1000, 1000, 1000, 50, 7])
    np.testing.assert_array_equal(theirs, ours)
    by_area = cells.drop(columns="eligible_acres")  # falls back to the cell area
    ours, theirs = both("contiguous_acres", by_area, None, {})
    np.testing.assert_allclose(theirs, ours, rtol=1e-12)
    np.testing.assert_allclose(theirs[0], 4e6 / 4046.8564224, rtol=1e-12)


def test_contiguous_acres_of_cells_off_any_lattice():
    """A planner's own polygons: neighbours found by geometry on both sides."""
    cells = layer([shapely.box(0, 0, 2000, 1000), shapely.box(2000, 0, 3000, 1000),  # share an edge
                   shapely.box(0, 1000, 700, 1700),                                  # on the first
                   shapely.box(3000, 1000, 3500, 1500),                              # corner only
                   shapely.box(5000, 0, 6000, 1000)])
    ours, theirs = both("contiguous_acres", cells, None, {})
    area = np.array([2e6, 1e6, 0.49e6, 0.25e6, 1e6]) / 4046.8564224
    block = area[:3].sum()
    np.testing.assert_allclose(theirs, [block, block, block, area[3], area[4]], rtol=1e-12)
    np.testing.assert_allclose(theirs, ours, rtol=1e-12)


def _grid_and_plants():
    cells = square_cells(10, 6)
    rng = np.random.default_rng(0)
    plants = layer(shapely.points(rng.uniform(-3000, 13_000, 40), rng.uniform(-3000, 9000, 40)),
                   capacity_mw=rng.uniform(1, 500, 40))
    return cells, plants


def test_compare_metric_with_a_sample_reports_measured_and_extrapolated_times():
    cells, plants = _grid_and_plants()
    r = baselines.compare_metric("distance_to", cells, plants, {}, sample=15, repeat=1, seed=1)
    assert r["metric"] == "distance_to" and r["cells"] == 60
    assert r["baseline_extrapolated"] and r["baseline_cells_measured"] == 15
    assert r["baseline_s_measured"] > 0 and r["sitescore_s"] > 0 and r["sitescore_s_measured"] > 0
    assert r["baseline_s_full_est"] == pytest.approx(r["baseline_s_measured"] * 60 / 15)
    assert r["ratio"] == pytest.approx(r["baseline_s_full_est"] / r["sitescore_s"])
    assert r["ratio_measured"] == pytest.approx(r["baseline_s_measured"] / r["sitescore_s_measured"])
    assert r["max_abs_diff"] == 0.0 and r["cells_differ"] == 0 and r["nan_mismatch"] == 0


def test_compare_metric_without_a_sample_measures_every_cell():
    cells, plants = _grid_and_plants()
    r = baselines.compare_metric("sum_within", cells, plants, {"field": "capacity_mw", "radius_km": 3},
                                 repeat=2)
    assert not r["baseline_extrapolated"] and r["baseline_cells_measured"] == 60
    assert r["baseline_s_full_est"] == r["baseline_s_measured"]
    assert r["sitescore_s_measured"] == r["sitescore_s"]
    assert r["nan_mismatch"] == 0 and r["repeat"] == 2


def test_answer_difference_counts_nan_mismatches_and_real_differences():
    d = baselines.answer_difference(np.array([1.0, 2.0, np.nan, np.nan, 5.0]),
                                    np.array([1.0, 2.5, np.nan, 3.0, 5.0 + 1e-12]))
    assert d == {"max_abs_diff": pytest.approx(0.5), "cells_differ": 1, "nan_mismatch": 1}


def test_compare_metric_explains_chord_band_differences_and_nothing_else():
    cells = square_cells(1, 1)  # centroid (500, 500)
    r = 10_000.0
    angle = math.pi / 64
    edge = shapely.Point(500 + 0.9995 * r * math.cos(angle), 500 + 0.9995 * r * math.sin(angle))
    plants = layer([edge, shapely.Point(600, 600)], capacity_mw=[30.0, 5.0])
    params = {"field": "capacity_mw", "radius_km": r / 1000}
    got = baselines.compare_metric("sum_within", cells, plants, params, repeat=1)
    assert got["cells_differ"] == 1 and got["max_abs_diff"] == 30.0
    assert got["cells_unexplained"] == 0
    # a baseline that drops a feature well inside the radius is not excused
    ours, theirs = both("sum_within", cells, plants, params)
    assert baselines.unexplained_cells("sum_within", cells, plants, params, ours, theirs - 5.0) == 1
    assert baselines.unexplained_cells("distance_to", cells, plants, {}, ours, ours + 1.0) == 1


@pytest.mark.parametrize("params", [{}, {"measure": "months"}, {"measure": "available"},
                                    {"measure": "months", "months_basis": "high"}])
def test_land_pathway_reads_the_cells_columns_as_pandas_does(params):
    cells = square_cells(3, 1).assign(
        pathway=["sale", None, "exchange"], pathway_available=[True, None, False],
        pathway_months_low=[24.0, np.nan, 36.0], pathway_months_high=[60.0, np.nan, 96.0])
    ours, theirs = both("land_pathway", cells, None, params)
    if params.get("measure", "pathway") == "pathway":
        def text(values):
            return [None if pd.isna(v) else v for v in values]
        assert text(ours) == text(theirs) == ["sale", None, "exchange"]
    else:
        np.testing.assert_array_equal(ours, theirs)
