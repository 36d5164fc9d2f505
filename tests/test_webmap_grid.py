"""The square grid as the page carries it (webmap/grid.py): the lattice found to the last bit,
the box gap equal to shapely's distance bit for bit (the page's site spacing rests on it), and
the packed arrays decoding to the cells' own values."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from sitescore.webmap.grid import (
    EXACT_VALUES_BUDGET,
    box_gap,
    grid_data,
    nearest_place,
    square_lattice,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_webmap import CRITERIA, decode_grid, make_scene


def lattice_boxes(ox: float, oy: float, size: float, cols, rows) -> np.ndarray:
    cols, rows = np.asarray(cols, dtype=float), np.asarray(rows, dtype=float)
    return shapely.box(ox + cols * size, oy + rows * size, ox + (cols + 1) * size,
                       oy + (rows + 1) * size)


def test_lattice_found_exactly_from_an_odd_origin():
    rng = np.random.default_rng(1)
    cols, rows = rng.integers(-400, 400, 500), rng.integers(-300, 300, 500)
    geoms = lattice_boxes(-1_234_567.891, 1_701_234.5, 1500.0, cols, rows)
    lat = square_lattice(geoms)
    assert lat is not None
    b = shapely.bounds(geoms)
    assert np.array_equal(lat.ox + lat.col * lat.size, b[:, 0])
    assert np.array_equal(lat.oy + (lat.row + 1) * lat.size, b[:, 3])


def test_no_lattice_for_cells_that_are_not_one():
    boxes = lattice_boxes(0.0, 0.0, 1000.0, [0, 1, 2], [0, 0, 0])
    assert square_lattice(np.array([*boxes, shapely.box(0, 0, 700, 700)])) is None  # two sizes
    hexagon = shapely.Point(0, 0).buffer(1000, quad_segs=2)
    assert square_lattice(np.array([hexagon])) is None
    web = gpd.GeoSeries(boxes, crs="EPSG:5070").to_crs("EPSG:4326").to_crs("EPSG:5070")
    assert square_lattice(np.asarray(web.values)) is None  # no longer exact squares


def test_box_gap_is_shapelys_distance_bit_for_bit():
    rng = np.random.default_rng(2)
    size, ox, oy = 1000.0, -987_654.321, 1_234_567.89
    a = rng.integers(-200, 200, (4000, 2))
    b = rng.integers(-200, 200, (4000, 2))
    ga = lattice_boxes(ox, oy, size, a[:, 0], a[:, 1])
    gb = lattice_boxes(ox, oy, size, b[:, 0], b[:, 1])
    want = shapely.distance(ga, gb)
    got = np.array([box_gap(p, q) for p, q in zip(shapely.bounds(ga), shapely.bounds(gb),
                                                   strict=True)])
    assert np.array_equal(got, want)
    # and to a site's cells as one shape: the smallest gap to any of them
    site = shapely.union_all(gb[:30])
    to_site = shapely.distance(ga[:200], site)
    mins = [min(box_gap(p, q) for q in shapely.bounds(gb[:30])) for p in shapely.bounds(ga[:200])]
    assert np.array_equal(np.array(mins), to_site)


def test_packed_cells_decode_to_their_values_exactly():
    scene = make_scene()
    grid = grid_data(scene["cells"], CRITERIA, scene["layers"], {11: 1, 33: 2, 22: 3})
    assert grid is not None and grid.meta["values"] == "exact"
    page = ('<script>var SITESCORE_DATA = {"gridMeta": %s};</script>'
            '<script type="text/plain" id="sitescore-cells">%s</script>')
    import json

    decoded = decode_grid(page % (json.dumps(grid.meta), grid.packed))
    cells = scene["cells"].sort_values("cell_id", kind="stable").reset_index(drop=True)
    for j, c in enumerate(CRITERIA):
        assert np.array_equal(decoded[f"v{j}"], cells[f"value__{c.name}"].to_numpy(dtype=float))
    assert np.array_equal(decoded["acres"], cells["eligible_acres"].to_numpy(dtype=float))
    assert decoded["ids"] == list(cells["cell_id"])
    reasons = [grid.meta["reasons"][r - 1] if r else None for r in decoded["reason"]]
    assert reasons == [("wilderness area (WA)" if x else None) for x in cells["excluded"]]
    assert grid.n_excluded == int(cells["excluded"].sum())
    site0 = dict(zip(cells["cell_id"], decoded["site0"], strict=True))
    assert site0["c0603"] == 1 and site0["c0800"] == 2 and site0["c0000"] == 0
    assert grid.meta["counties"] == ["Hidalgo"]
    assert len(grid.packed) < EXACT_VALUES_BUDGET


def test_nearest_place_names_the_closest_airport():
    places = [["Far Field", -106.0, 35.0], ["Near Field", -107.0, 34.0]]
    assert nearest_place(-107.1, 34.0, places) == "9 km from Near Field"
    assert nearest_place(-107.0, 34.0, places) == "at Near Field"
    assert nearest_place(-107.0, 34.0, []) == ""
