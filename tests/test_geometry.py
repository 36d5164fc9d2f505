"""Shared geometry helpers: exact stand-ins for slower shapely formulations."""

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from sitescore.geometry import are_boxes, clip_to_boxes, geojson_shapes, short_pieces


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 9))
def test_nearest_distance_to_line_pieces_equals_distance_to_the_lines(seed, vertices):
    rng = np.random.default_rng(seed)
    lines = [shapely.LineString(np.cumsum(rng.normal(0, 1000, (n, 2)), axis=0))
             for n in rng.integers(2, 60, 20)]
    lines += [shapely.MultiLineString([[(0, 0), (1, 1), (2, 0)], [(5, 5), (6, 6)]]),
              shapely.Point(3, 3), shapely.box(10, 10, 20, 20)]
    geoms = np.array(lines, dtype=object)
    pieces = short_pieces(geoms, vertices)
    assert shapely.get_num_coordinates(pieces[shapely.get_type_id(pieces) == 1]).max() <= vertices
    points = shapely.points(rng.uniform(-20_000, 20_000, (300, 2)))
    (a, _), whole = shapely.STRtree(geoms).query_nearest(points, return_distance=True, all_matches=False)
    (b, _), cut = shapely.STRtree(pieces).query_nearest(points, return_distance=True, all_matches=False)
    assert np.array_equal(whole[np.argsort(a)], cut[np.argsort(b)])
    # the pieces cover the lines exactly: same total length, nothing added
    line_like = shapely.get_type_id(geoms) <= 5
    assert np.isclose(shapely.length(pieces).sum(), shapely.length(geoms[line_like]).sum())


def test_rectangle_clips_and_box_test():
    shapes = np.array([shapely.Point(0, 0).buffer(10), shapely.box(0, 0, 4, 4)], dtype=object)
    bounds = np.array([[0, 0, 5, 5], [2, 2, 10, 10]], dtype=float)
    clipped = clip_to_boxes(shapes, bounds)
    assert np.allclose(shapely.area(clipped), [25.0, 4.0])
    assert are_boxes(np.array([shapely.box(0, 0, 1, 2), shapely.box(5, 5, 7, 6)]))
    assert not are_boxes(np.array([shapely.Polygon([(0, 0), (2, 0), (3, 1), (0, 1)])]))
    assert not are_boxes(np.array([], dtype=object))


def test_geojson_shapes_keep_holes_and_parts_as_geometries():
    square = shapely.box(0, 0, 1, 1)
    holed = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    multi = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(3, 3, 4, 4)])
    out = geojson_shapes(np.array([square, holed, multi], dtype=object))
    assert out[0] == {"type": "Polygon", "coordinates": [shapely.get_coordinates(square).tolist()]}
    assert shapely.equals(shapely.geometry.shape(out[0]), square)
    assert out[1] is holed and out[2] is multi
