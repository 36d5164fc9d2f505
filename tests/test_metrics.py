"""Each metric on hand-made geometries whose answers are worked out by hand."""

import math

import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS as RioCRS

from helpers import layer, square_cells
from sitescore.metrics import METRICS, compute_metric


def test_distance_to_nearest_line_in_km():
    cells = square_cells(3, 1)  # centroids at x = 500, 1500, 2500; y = 500
    lines = layer([shapely.LineString([(0, 3500), (10_000, 3500)]),
                   shapely.LineString([(5500, -10_000), (5500, 10_000)])])
    got = compute_metric("distance_to", cells, lines, {})
    # 3 km up to the horizontal line for every cell (the vertical one is 3..5 km away)
    np.testing.assert_allclose(got, [3.0, 3.0, 3.0])


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_distance_to_points_equals_the_geometric_nearest_distance(seed):
    rng = np.random.default_rng(seed)
    cells = square_cells(9, 7, size=3_000.0, x0=-20_000.0)
    towns = layer(shapely.points(rng.uniform(-60_000, 60_000, (rng.integers(1, 40), 2))))
    got = compute_metric("distance_to", cells, towns, {})
    centroids = shapely.centroid(cells.geometry.values)
    expected = [shapely.distance(c, towns.geometry.values).min() / 1000.0 for c in centroids]
    assert np.array_equal(got, expected)


def test_distance_to_empty_layer_is_missing():
    got = compute_metric("distance_to", square_cells(2, 1), layer([]), {})
    assert np.isnan(got).all()


def test_sum_and_count_within_radius():
    cells = square_cells(2, 1)  # centroids (500,500), (1500,500)
    plants = layer([shapely.Point(500, 2500), shapely.Point(3500, 500), shapely.Point(500, 500)],
                   capacity_mw=[100.0, 40.0, np.nan])
    # radius 2 km: cell 0 reaches (500,2500) at 2.0 km and itself; cell 1 reaches (3500,500) at 2.0
    # and (500,500) at 1 km, (500,2500) at sqrt(1+4)=2.236 km is out
    np.testing.assert_allclose(compute_metric("sum_within", cells, plants,
                                              {"field": "capacity_mw", "radius_km": 2}), [100.0, 40.0])
    np.testing.assert_allclose(compute_metric("count_within", cells, plants, {"radius_km": 2}), [2, 2])


def test_gravity_access_exponential_decay_with_cutoff():
    cells = square_cells(1, 1)  # centroid (500, 500)
    towns = layer([shapely.Point(500, 10_500), shapely.Point(20_500, 500), shapely.Point(500, 90_500)],
                  labor_force=[1000.0, 2000.0, 1e6])
    got = compute_metric("gravity_access", cells, towns,
                         {"field": "labor_force", "decay_km": 10, "cutoff_km": 50})
    expected = 1000 * math.exp(-1) + 2000 * math.exp(-2)  # the 90 km town is beyond the cut-off
    np.testing.assert_allclose(got, [expected])


def test_gravity_access_includes_a_source_exactly_at_the_cutoff():
    cells = square_cells(1, 1)
    towns = layer([shapely.Point(500, 50_500), shapely.Point(500, 50_501)], labor_force=[1000.0, 1e6])
    got = compute_metric("gravity_access", cells, towns,
                         {"field": "labor_force", "decay_km": 10, "cutoff_km": 50, "decay": "gaussian"})
    np.testing.assert_allclose(got, [1000 * math.exp(-0.5 * 25)])


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60))
def test_gravity_access_of_a_cell_does_not_depend_on_the_cells_scored_with_it(seed, split):
    """Bit for bit: what the Dask engine relies on when it scores cells in partitions."""
    rng = np.random.default_rng(seed)
    cells = square_cells(12, 6, size=9_000.0, x0=-40_000.0, y0=10_000.0)
    towns = layer(shapely.points(rng.uniform(-200_000, 200_000, (400, 2))),
                  labor_force=rng.uniform(0, 5000, 400))
    params = {"field": "labor_force", "decay_km": 20, "cutoff_km": 70}
    whole = compute_metric("gravity_access", cells, towns, params)
    order = rng.permutation(len(cells))
    parts = [cells.iloc[order[:split]], cells.iloc[order[split:]]]
    pieces = np.full(len(cells), np.nan)
    for part in parts:
        pieces[part.index.to_numpy()] = compute_metric("gravity_access", part.reset_index(drop=True),
                                                      towns, params)
    assert np.array_equal(whole, pieces)


def test_gravity_access_counts_polygons_from_their_interior():
    cells = square_cells(1, 1)
    county = layer([shapely.box(-500, -500, 1500, 1500)], labor_force=[500.0])
    got = compute_metric("gravity_access", cells, county, {"field": "labor_force", "decay_km": 10})
    assert 0.95 * 500 < got[0] <= 500


def test_attribute_at_reads_polygon_under_centroid():
    cells = square_cells(3, 1)
    zones = layer([shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000),
                   shapely.box(0, 0, 2000, 1000)], bws_score=[1.5, 4.2, 9.9])
    got = compute_metric("attribute_at", cells, zones, {"field": "bws_score"})
    # first feature in file order wins where polygons overlap; the third cell has none
    assert got[0] == 1.5 and got[1] == 4.2 and np.isnan(got[2])


def test_attribute_at_text_field_stays_text():
    cells = square_cells(1, 1)
    zones = layer([shapely.box(0, 0, 1000, 1000)], bws_label=["High (40-80%)"])
    assert compute_metric("attribute_at", cells, zones, {"field": "bws_label"})[0] == "High (40-80%)"


def test_overlap_share_counts_overlaps_once():
    cells = square_cells(2, 1)
    flood = layer([shapely.box(0, 0, 500, 1000), shapely.box(250, 0, 750, 1000),
                   shapely.box(1000, 0, 2000, 1000)])
    # cell 0: union of [0,500] and [250,750] = [0,750] -> 0.75; cell 1 fully covered
    np.testing.assert_allclose(compute_metric("overlap_share", cells, flood, {}), [0.75, 1.0])


class _Raster:
    def __init__(self, values, transform, crs="EPSG:5070"):
        self.values = values
        self.transform = transform
        self.crs = RioCRS.from_user_input(crs)

    def slope_percent(self):
        return np.full(self.values.shape, 7.0)


def test_zonal_mean_and_max_over_cell_pixels():
    # 4x4 pixels of 500 m from (0, 2000) down: each 1 km cell holds 2x2 pixels
    values = np.arange(16, dtype=float).reshape(4, 4)
    values[0, 0] = np.nan
    raster = _Raster(values, Affine(500, 0, 0, 0, -500, 2000))
    cells = square_cells(2, 2)  # c0_r0 is the lower left = raster rows 2-3, cols 0-1
    mean = compute_metric("zonal", cells, raster, {"variable": "elevation", "stat": "mean"})
    mx = compute_metric("zonal", cells, raster, {"variable": "elevation", "stat": "max"})
    np.testing.assert_allclose(mean, [(8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4,
                                      (1 + 4 + 5) / 3, (2 + 3 + 6 + 7) / 4])
    np.testing.assert_allclose(mx, [13, 15, 5, 7])
    slope = compute_metric("zonal", cells, raster, {"variable": "slope_percent"})
    np.testing.assert_allclose(slope, 7.0)


def test_zonal_small_cell_takes_pixel_under_centroid_and_outside_is_missing():
    raster = _Raster(np.array([[1.0, 2.0], [3.0, 4.0]]), Affine(1000, 0, 0, 0, -1000, 2000))
    cells = layer([shapely.box(1400, 1400, 1600, 1600), shapely.box(5000, 5000, 5100, 5100)])
    got = compute_metric("zonal", cells, raster, {"variable": "elevation"})
    assert got[0] == 2.0 and np.isnan(got[1])


def test_every_metric_is_registered_with_params():
    assert {"distance_to", "sum_within", "count_within", "gravity_access", "zonal",
            "attribute_at", "overlap_share"} <= set(METRICS)


def test_unknown_field_names_the_field():
    from sitescore.errors import DataError
    with pytest.raises(DataError, match="field 'megawatts'"):
        compute_metric("sum_within", square_cells(1, 1), layer([shapely.Point(0, 0)], capacity_mw=[1.0]),
                       {"field": "megawatts", "radius_km": 5})


def test_contiguous_acres_sums_each_connected_block():
    cells = square_cells(4, 2)  # two rows of four 1 km cells
    keep = [0, 1, 4, 5, 3]      # a 2x2 block on the left, and one cell alone on the right
    cells = cells.iloc[keep].reset_index(drop=True)
    cells["eligible_acres"] = [100.0, 200.0, 300.0, 400.0, 50.0]
    np.testing.assert_allclose(compute_metric("contiguous_acres", cells, None, {}),
                               [1000, 1000, 1000, 1000, 50])
