"""Boundary readers: Census states (us-atlas, cartographic boundary / TIGER) and extra exclusion
polygons (the real NPS Zion boundary, in a custom UTM WKT).

Synthetic state files follow the Census Bureau's cartographic boundary / TIGER/Line state
shapefile schema (cb_2018_us_state_500k: STATEFP, STATENS, AFFGEOID, GEOID, STUSPS, NAME,
LSAD, ALAND, AWATER; NAD83, EPSG:4269), "2018 Cartographic Boundary File Record Layouts",
https://www.census.gov/programs-surveys/geography/technical-documentation/records-layout.html
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from helpers import layer_source, shared_file
from sitescore.errors import DataError
from sitescore.readers import read_layer


def states(path: Path, options: dict | None = None) -> gpd.GeoDataFrame:
    return read_layer(layer_source("census_states", path, name="states", **(options or {})))


def protected(path: Path, options: dict | None = None) -> gpd.GeoDataFrame:
    return read_layer(layer_source("protected_areas", path, name="protected_areas",
                                   **(options or {})))


@pytest.mark.shared_data
def test_us_atlas_states():
    gdf = states(shared_file("counties/us_states_us_atlas_10m.geojson"))
    assert len(gdf) == 56
    assert gdf.crs.to_epsg() == 5070
    assert list(gdf.columns) == ["geometry", "state_fips", "name", "abbrev"]
    nm = gdf[gdf["abbrev"] == "NM"]
    assert len(nm) == 1
    assert nm.iloc[0]["state_fips"] == "35" and nm.iloc[0]["name"] == "New Mexico"
    assert gdf["abbrev"].notna().all() and gdf["state_fips"].str.len().eq(2).all()
    assert gdf.set_index("abbrev").loc["AZ", "state_fips"] == "04"
    # New Mexico is about 315,000 km^2
    assert nm.area.iloc[0] / 1e6 == pytest.approx(315_000, rel=0.02)


@pytest.mark.shared_data
def test_zion_boundary_custom_utm_wkt_is_reprojected():
    path = shared_file("federal_land/nps_zion_boundary_UT.gpkg")
    gdf = protected(path)
    assert len(gdf) == 1
    assert gdf.crs.to_epsg() == 5070
    assert gdf.iloc[0]["name"] == "Zion National Park"
    assert gdf.iloc[0]["designation"] == "NP"
    assert gdf.attrs["designation_from_name"] == 1
    # bounds in lon/lat as SOURCES.md gives them; area about 593 km^2 (146,597 acres)
    west, south, east, north = gdf.to_crs(4326).total_bounds
    assert (west, south, east, north) == pytest.approx((-113.2283, 37.1413, -112.8631, 37.5043),
                                                       abs=1e-3)
    assert gdf.area.iloc[0] / 1e6 == pytest.approx(593, rel=0.03)


@pytest.mark.shared_data
def test_zion_options_name_field_and_constant_designation():
    path = shared_file("federal_land/nps_zion_boundary_UT.gpkg")
    gdf = protected(path, options={"name_field": "PARKNAME", "designation": "np"})
    assert gdf.iloc[0]["name"] == "Zion" and gdf.iloc[0]["designation"] == "NP"
    assert gdf.attrs["designation_from_name"] == 0


def _cb_states(tmp_path: Path, with_stusps: bool = True) -> Path:
    df = pd.DataFrame({
        "STATEFP": ["04", "35", "72"], "STATENS": ["01779777", "00897535", "01779808"],
        "AFFGEOID": ["0400000US04", "0400000US35", "0400000US72"], "GEOID": ["04", "35", "72"],
        "STUSPS": ["AZ", "NM", "PR"], "NAME": ["Arizona", "New Mexico", "Puerto Rico"],
        "LSAD": ["00", "00", "00"], "ALAND": [294198551143, 314196306401, 8868896030],
        "AWATER": [1027337603, 728776523, 4922382562],
    })
    if not with_stusps:
        df = df.drop(columns=["STUSPS"])
    geoms = [box(-114.8, 31.3, -109.05, 37.0), box(-109.05, 31.3, -103.0, 37.0),
             box(-67.3, 17.9, -65.2, 18.5)]
    path = tmp_path / "cb_2018_us_state_500k.shp"
    gpd.GeoDataFrame(df, geometry=geoms, crs=4269).to_file(path)
    return path


def test_cartographic_boundary_states(tmp_path):
    gdf = states(_cb_states(tmp_path))
    assert gdf["state_fips"].tolist() == ["04", "35", "72"]
    assert gdf["abbrev"].tolist() == ["AZ", "NM", "PR"]
    assert gdf["name"].tolist() == ["Arizona", "New Mexico", "Puerto Rico"]
    assert gdf.crs.to_epsg() == 5070


def test_states_abbrev_from_fips_when_absent(tmp_path):
    gdf = states(_cb_states(tmp_path, with_stusps=False))
    assert gdf["abbrev"].tolist() == ["AZ", "NM", "PR"]


def test_states_numeric_id_is_zero_padded(tmp_path):
    path = tmp_path / "states.geojson"
    gpd.GeoDataFrame({"id": [4, 35], "name": ["Arizona", "New Mexico"]},
                     geometry=[box(-114, 32, -110, 36), box(-108, 32, -104, 36)],
                     crs=4326).to_file(path, driver="GeoJSON")
    gdf = states(path)
    assert gdf["state_fips"].tolist() == ["04", "35"]
    assert gdf["abbrev"].tolist() == ["AZ", "NM"]


def test_states_missing_fips_field(tmp_path):
    path = tmp_path / "states.geojson"
    gpd.GeoDataFrame({"name": ["Arizona"]}, geometry=[box(-114, 32, -110, 36)],
                     crs=4326).to_file(path, driver="GeoJSON")
    with pytest.raises(DataError) as err:
        states(path)
    assert str(path) in str(err.value) and "field 'STATEFP'" in str(err.value)


def test_protected_areas_defaults_and_designation_field(tmp_path):
    path = tmp_path / "reserves.geojson"
    gpd.GeoDataFrame(
        {"Unit_Nm": ["Sonoran Desert National Monument", "Town Commons"],
         "Des_Tp": ["NM", "lp"], "kind": ["NM", "LP"]},
        geometry=[box(-112.6, 32.8, -112.2, 33.2), box(-111.0, 32.0, -110.9, 32.1)],
        crs=4326).to_file(path, driver="GeoJSON")
    gdf = protected(path)
    assert gdf["name"].tolist() == ["Sonoran Desert National Monument", "Town Commons"]
    assert gdf["designation"].tolist() == ["NM", "LP"]     # from Des_Tp, upper-cased
    assert gdf.attrs["designation_from_name"] == 0
    by_field = protected(path, options={"designation": "kind"})
    assert by_field["designation"].tolist() == ["NM", "LP"]


def test_protected_areas_missing_name_field(tmp_path):
    path = tmp_path / "reserves.geojson"
    gpd.GeoDataFrame({"label": ["x"]}, geometry=[box(-112, 33, -111.9, 33.1)],
                     crs=4326).to_file(path, driver="GeoJSON")
    with pytest.raises(DataError, match="field 'UNIT_NAME'"):
        protected(path)
    with pytest.raises(DataError, match="field 'title'"):
        protected(path, options={"name_field": "title"})


def test_protected_areas_drop_non_polygons(tmp_path):
    path = tmp_path / "mixed.geojson"
    gpd.GeoDataFrame({"name": ["Zion National Park", "a trail"]},
                     geometry=[box(-113.2, 37.2, -113.0, 37.4),
                               shapely.LineString([(-113, 37), (-112.9, 37.1)])],
                     crs=4326).to_file(path, driver="GeoJSON")
    gdf = protected(path)
    assert gdf["name"].tolist() == ["Zion National Park"]
    assert gdf.attrs["dropped"] == 1


def test_census_places_polygons_and_gazetteer_table(tmp_path):
    """Cartographic boundary places (cb_2024_35_place_500k: STATEFP, PLACEFP, GEOID, NAME,
    NAMELSAD, LSAD, ALAND, AWATER) and the Gazetteer places file (USPS, GEOID, NAME, ...,
    INTPTLAT, INTPTLONG), per the Census Bureau's file layouts."""
    import shapely as shp
    gdf = gpd.GeoDataFrame({
        "STATEFP": ["35", "35"], "PLACEFP": ["02000", "70500"], "GEOID": ["3502000", "3570500"],
        "NAME": ["Albuquerque", "Santa Fe"], "NAMELSAD": ["Albuquerque city", "Santa Fe city"],
        "LSAD": ["25", "25"], "ALAND": [486000000, 136000000], "AWATER": [4000000, 100000]},
        geometry=[shp.box(-106.8, 35.0, -106.5, 35.2), shp.box(-106.1, 35.6, -105.9, 35.75)],
        crs="EPSG:4269")
    gdf.to_file(tmp_path / "places.geojson")
    got = read_layer(layer_source("census_places", tmp_path / "places.geojson", name="places"))
    assert got["name"].tolist() == ["Albuquerque", "Santa Fe"]
    assert (got.geom_type == "Point").all() and got["population"].isna().all()
    (tmp_path / "gaz.txt").write_text(
        "USPS\tGEOID\tANSICODE\tNAME\tLSAD\tFUNCSTAT\tALAND\tAWATER\tALAND_SQMI\tAWATER_SQMI\t"
        "INTPTLAT\tINTPTLONG\n"
        "NM\t3502000\t02409678\tAlbuquerque city\t25\tA\t486000000\t4000000\t187.7\t1.5\t"
        "35.105552\t-106.647388\n")
    gaz = tmp_path / "gaz.csv"
    gaz.write_text((tmp_path / "gaz.txt").read_text().replace("\t", ","))
    got = read_layer(layer_source("census_places", gaz, name="places"))
    assert got["geoid"].tolist() == ["3502000"] and len(got) == 1
    pd.DataFrame({"GEOID": ["3502000"], "NAME": ["Albuquerque"], "INTPTLAT": [35.1], "INTPTLONG": [-106.6],
                  "P1_001N": [564559]}).to_csv(tmp_path / "pop.csv", index=False)
    got = read_layer(layer_source("census_places", tmp_path / "pop.csv", name="places"))
    assert got["population"].tolist() == [564559.0]
