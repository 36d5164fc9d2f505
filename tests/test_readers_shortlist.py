"""Shortlist reader: a planner's candidate sites as CSV points (circles) or drawn polygons."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from sitescore.errors import ConfigError, DataError
from sitescore.readers import read_layer
from sitescore.readers.base import LayerSource
from sitescore.study_area import bbox_area


def shortlist(path: Path, area=None, **kwargs) -> gpd.GeoDataFrame:
    return read_layer(LayerSource("candidates", "shortlist", path, **kwargs), area)


def test_csv_points_become_circles_of_their_radius(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "site_id,Name,Longitude,Latitude,radius_km\n"
        "A-1,Buckeye West,-112.70,33.40,3\n"
        "A-2,Casa Grande North,-111.75,32.95,\n"
        "A-3,Kingman Airport,-113.95,35.25,1.5\n")
    gdf = shortlist(path, options={"radius_km": 2.5})
    assert gdf.crs.to_epsg() == 5070
    assert list(gdf.columns) == ["geometry", "candidate_id", "name"]
    assert gdf["candidate_id"].tolist() == ["A-1", "A-2", "A-3"]
    assert gdf["name"].tolist() == ["Buckeye West", "Casa Grande North", "Kingman Airport"]
    for area_m2, radius_km in zip(gdf.area, [3.0, 2.5, 1.5], strict=True):      # blank radius -> option
        assert area_m2 == pytest.approx(math.pi * (radius_km * 1000) ** 2, rel=0.01)
    # centred on the given points
    centre = gpd.GeoSeries([Point(-112.70, 33.40)], crs=4326).to_crs(5070).iloc[0]
    assert gdf.geometry.iloc[0].centroid.distance(centre) < 1.0
    assert gdf.attrs["buffered_points"] == 3


def test_csv_defaults_ids_names_and_radius(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("LAT,LNG\n33.4,-112.7\nnot a number,-111\n32.95,-111.75\n")
    gdf = shortlist(path)
    # ids are the rows' positions in the file, so the bad second row leaves a gap
    assert gdf["candidate_id"].tolist() == ["1", "3"]
    assert gdf["name"].tolist() == ["Site 1", "Site 3"]
    assert gdf.attrs["dropped"] == 1
    assert gdf.area.iloc[0] == pytest.approx(math.pi * 2000.0 ** 2, rel=0.01)


def test_csv_x_y_columns(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("id,x,y\n7,-112.7,33.4\n")
    gdf = shortlist(path)
    assert gdf["candidate_id"].tolist() == ["7"] and gdf["name"].tolist() == ["Site 7"]


def test_csv_missing_latitude_column(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("name,lon\nA,-112.7\n")
    with pytest.raises(DataError) as err:
        shortlist(path)
    assert str(path) in str(err.value) and "field 'lat'" in str(err.value)


def test_bad_radius_values(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("lon,lat,radius_km\n-112.7,33.4,-1\n")
    with pytest.raises(DataError, match="field 'radius_km'"):
        shortlist(path)
    good = tmp_path / "good.csv"
    good.write_text("lon,lat\n-112.7,33.4\n")
    with pytest.raises(ConfigError, match="radius_km"):
        shortlist(good, options={"radius_km": 0})


def test_duplicate_ids(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("id,lon,lat\n1,-112.7,33.4\n1,-111.7,33.0\n")
    with pytest.raises(DataError, match="duplicate candidate ids: 1"):
        shortlist(path)


def test_geojson_polygons_are_kept_and_not_clipped(tmp_path):
    path = tmp_path / "sites.geojson"
    polys = gpd.GeoDataFrame(
        {"id": [10, 11], "name": ["Mesa Gateway", None]},
        geometry=[box(-111.70, 33.28, -111.65, 33.32), box(-104.90, 39.80, -104.85, 39.84)],
        crs=4326)
    polys.to_file(path, driver="GeoJSON")
    far_away = bbox_area([-80.5, 25.5, -80.0, 26.0], "Florida")
    gdf = shortlist(path, far_away)
    assert gdf["candidate_id"].tolist() == ["10", "11"]
    assert gdf["name"].tolist() == ["Mesa Gateway", "Site 11"]
    assert gdf.attrs["buffered_points"] == 0
    expected = polys.to_crs(5070).area.tolist()
    assert gdf.area.tolist() == pytest.approx(expected, rel=1e-9)


def test_geopackage_points_with_radius_field(tmp_path):
    path = tmp_path / "sites.gpkg"
    gpd.GeoDataFrame({"candidate_id": ["N", "S"], "radius_km": [1.0, None]},
                     geometry=[Point(-112.0, 33.5), Point(-111.0, 32.5)], crs=4326).to_file(
        path, driver="GPKG")
    gdf = shortlist(path, options={"radius_km": 4})
    assert gdf["candidate_id"].tolist() == ["N", "S"]
    assert gdf.area.tolist() == pytest.approx([math.pi * 1e6, math.pi * 16e6], rel=0.01)
