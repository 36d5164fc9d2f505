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
    assert list(gdf.columns) == ["geometry", "candidate_id", "name", "acres", "area_acres", "lon", "lat"]
    assert gdf["acres"].isna().all()  # no area stated
    assert gdf["lon"].tolist() == [-112.70, -111.75, -113.95]  # the given points, untouched
    assert gdf["lat"].tolist() == [33.40, 32.95, 35.25]
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


def test_csv_acres_and_hectares_columns(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("id,lon,lat,Site_Acres\nA,-112.7,33.4,\"5,000\"\nB,-111.7,33.0,\n")
    gdf = shortlist(path)
    assert gdf["acres"].iloc[0] == 5000.0 and math.isnan(gdf["acres"].iloc[1])
    assert gdf["area_acres"].tolist() == pytest.approx([math.pi * 2000.0 ** 2 / 4046.8564224] * 2,
                                                       rel=1e-3)
    assert gdf.attrs["stated_acres"] == 1
    hectares = tmp_path / "ha.csv"
    hectares.write_text("lon,lat,area_ha\n-112.7,33.4,100\n")
    # 100 ha = 1,000,000 m^2 over 4,046.8564224 m^2 per international acre
    assert shortlist(hectares)["acres"].iloc[0] == 1_000_000 / 4046.8564224


@pytest.mark.parametrize("value", ["-5", "0", "abc"])
def test_bad_acres_name_field_and_row(tmp_path, value):
    path = tmp_path / "sites.csv"
    path.write_text(f"lon,lat,acres\n-112.7,33.4,100\n-111.7,33.0,{value}\n")
    with pytest.raises(DataError) as err:
        shortlist(path)
    assert "field 'acres'" in str(err.value) and "positive number of acres (row 2)" in str(err.value)


def test_acres_and_hectares_both_given_is_refused(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("lon,lat,acres,hectares\n-112.7,33.4,100,40\n")
    with pytest.raises(DataError, match="states the area twice"):
        shortlist(path)


def test_polygon_acres_override_the_drawn_area_with_a_note(tmp_path):
    path = tmp_path / "sites.geojson"
    polys = gpd.GeoDataFrame({"id": ["near", "far", "none"], "acres": [None, None, None]},
                             geometry=[box(-111.70, 33.28, -111.65, 33.32)] * 3, crs=4326)
    drawn = float(polys.to_crs(5070).area.iloc[0]) / 4046.8564224
    polys["acres"] = [drawn * 1.05, drawn * 2, None]  # within 10 %, twice, not stated
    polys.to_file(path, driver="GeoJSON")
    gdf = shortlist(path)
    assert gdf["area_acres"].tolist() == pytest.approx([drawn] * 3, rel=1e-9)
    assert gdf["acres"].iloc[:2].tolist() == pytest.approx([drawn * 1.05, drawn * 2])
    assert gdf["lon"].isna().all() and gdf["lat"].isna().all()  # polygons: no given point
    notes = gdf.attrs["notes"]
    assert len(notes) == 1 and "'far'" in notes[0] and "+100%" in notes[0]


def test_projected_point_file_gives_its_points_lon_lat(tmp_path):
    path = tmp_path / "sites.gpkg"
    pts = gpd.GeoSeries([Point(-106.3031, 35.844)], crs=4326).to_crs(5070)
    gpd.GeoDataFrame({"id": ["P"]}, geometry=pts).to_file(path, driver="GPKG")
    gdf = shortlist(path)
    assert gdf["lon"].iloc[0] == pytest.approx(-106.3031, abs=1e-9)
    assert gdf["lat"].iloc[0] == pytest.approx(35.844, abs=1e-9)
