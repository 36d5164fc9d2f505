"""Connection routes on real geography: the SRTM DEM around Zion National Park (Utah), the
national freeway and Class I rail lines, and the park itself as impassable land (files in
../shared/data; skipped when absent). Unit costs are made-up round figures for the arithmetic,
not for use; the routing, the slope and the geography are real."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from helpers import layer_source, shared_file, square_cells
from sitescore.config.costs import CorridorConfig, CostsConfig
from sitescore.costs import prepare_costs, site_costs
from sitescore.costs.model import KM_PER_MILE, cell_costs
from sitescore.readers.terrain import read_dem
from sitescore.schema import CRS, M_PER_KM

COSTS = {
    "classes": {
        "road_lane": {"unit": "usd_per_lane_mile", "rows": [
            {"key": "t", "low": 1e6, "base": 2e6, "high": 3e6, "dollar_year": 2020,
             "source": "made-up test figure"}]},
        "rail_spur": {"unit": "usd_per_mile", "rows": [
            {"key": "t", "low": 2e6, "base": 3e6, "high": 4e6, "dollar_year": 2020,
             "source": "made-up test figure"}]},
    },
    "slope_multipliers": {
        "road_lane": [{"min_slope_percent": 8, "low": 1.5, "base": 1.5, "high": 1.5,
                       "source": "made-up test figure"}],
        "rail_spur": [{"min_slope_percent": 2, "low": 3, "base": 3, "high": 3,
                       "source": "made-up test figure"}]},
}


@pytest.fixture(scope="module")
def zion(tmp_path_factory):
    import yaml

    dem = read_dem(layer_source("dem", shared_file("dem/srtm_zion_UT.tif")), None)
    park = gpd.read_file(shared_file("federal_land/nps_zion_boundary_UT.gpkg")).to_crs(CRS)
    around = park.geometry.iloc[0].buffer(150 * M_PER_KM)
    roads = gpd.read_file(shared_file("roads/us_freeway_system_scgraph.geojson")).to_crs(CRS)
    rail = gpd.read_file(shared_file("rail/narn_class1_scgraph.geojson")).to_crs(CRS)
    roads, rail = (g[g.intersects(around)].reset_index(drop=True) for g in (roads, rail))
    # four 2 km cells on the DEM, 1 km or more outside the park: the first such block from the
    # DEM's south-east corner inwards
    from rasterio.warp import transform_bounds

    _, south, east, _ = transform_bounds(dem.crs, CRS, *_bounds(dem))
    keep_out = park.geometry.iloc[0].buffer(1000)
    cells = next(c for k in range(30)
                 if not (c := square_cells(2, 2, 2000.0, x0=east - 10_000 - 1500 * k,
                                           y0=south + 5_000 + 1000 * k)).intersects(keep_out).any())
    folder = tmp_path_factory.mktemp("zion")
    (folder / "costs.yaml").write_text(yaml.safe_dump(COSTS), encoding="utf-8")
    cfg = CostsConfig(connections={"road": {"layer": "roads", "build": "road_lane"},
                                   "rail": {"layer": "rail", "build": "rail_spur"}},
                      terrain="dem", unit_costs="costs.yaml", resolution_km=0.25, margin_km=120,
                      draws=200)
    layers = {"roads": roads, "rail": rail, "dem": dem}
    park_land = park.assign(reason="National Park")[["reason", "geometry"]]
    model = prepare_costs(cfg, layers, cells, park_land, config_dir=folder, site_acres=1000)
    return model, cells, roads, rail, park


def _bounds(dem):
    t, (h, w) = dem.transform, dem.shape
    return t.c, t.f + t.e * h, t.c + t.a * w, t.f


def test_routes_reach_the_freeway_and_the_railway(zion):
    model, cells, roads, rail, _ = zion
    sites = gpd.GeoDataFrame({"site_id": [1]}, geometry=[cells.union_all()], crs=CRS)
    table, routes = site_costs(model, sites)
    assert set(routes["connection"]) == {"road", "rail"}
    point = shapely.point_on_surface(sites.geometry.iloc[0])
    for name, features in (("road", roads), ("rail", rail)):
        route = routes.loc[routes["connection"] == name].iloc[0]
        straight = features.distance(point).min() / M_PER_KM
        assert route["length_km"] >= straight - 0.5          # never shorter than a straight line
        end = shapely.Point(route.geometry.coords[-1])
        assert features.distance(end).min() < 0.5 * model.grid.cell_m * 1.5  # ends on the feature
    assert table.iloc[0]["readiness_cost_note"] == ""


def test_routes_never_cross_the_park(zion):
    model, cells, *_, park = zion
    sites = gpd.GeoDataFrame({"site_id": [1, 2]}, geometry=list(cells.geometry[:2]), crs=CRS)
    _, routes = site_costs(model, sites)
    inner = park.geometry.iloc[0].buffer(-model.grid.cell_m)  # pixel centres inside the park
    assert not routes.intersects(inner).any()


def test_steep_real_terrain_costs_more_than_its_length(zion):
    model, cells, *_ = zion
    sites = gpd.GeoDataFrame({"site_id": [1]}, geometry=[cells.geometry.iloc[0]], crs=CRS)
    table, _ = site_costs(model, sites)
    row = table.iloc[0]
    flat_road = row["road_route_km"] * 2 * 2e6 / KM_PER_MILE / 1e6  # two lanes, multiplier 1
    assert row["road_cost_musd"] >= flat_road * 0.999
    flat_rail = row["rail_route_km"] * 3e6 / KM_PER_MILE / 1e6
    assert row["rail_cost_musd"] > flat_rail * 1.05  # real grades above 2 % on the way
    assert np.isfinite(model.slope).any() and (~np.isfinite(model.slope)).any()  # DEM and beyond
    assert cell_costs(model, cells.iloc[:1])[0] == pytest.approx(row["readiness_cost_musd"], rel=0.1)


def test_a_rail_spur_along_the_freeway_follows_it_for_less(zion):
    """The spur may run beside the real freeway at half its friction (a made-up ratio): its
    route then keeps to the freeway corridor for more of its length, costs less, and still
    never crosses the park."""
    model, cells, roads, rail, park = zion
    rail_conn = model.config.connections["rail"].model_copy(update={"along": [
        CorridorConfig(layer="roads", width_km=0.5, multiplier=0.5)]})
    along_cfg = model.config.model_copy(update={"connections": {"rail": rail_conn}})
    dem = read_dem(layer_source("dem", shared_file("dem/srtm_zion_UT.tif")), None)
    folder = Path(model.table.origin["rail_spur"]).parent
    along = prepare_costs(along_cfg, {"roads": roads, "rail": rail, "dem": dem}, cells,
                          park.assign(reason="National Park")[["reason", "geometry"]],
                          config_dir=folder, site_acres=1000)
    sites = gpd.GeoDataFrame({"site_id": [1]}, geometry=[cells.geometry.iloc[0]], crs=CRS)
    (before, before_routes), (after, after_routes) = site_costs(model, sites), site_costs(along, sites)
    near_road = roads.geometry.union_all().buffer(500)

    def share(routes):
        line = routes.loc[routes["connection"] == "rail"].geometry.iloc[0]
        return shapely.length(line.intersection(near_road)) / shapely.length(line)

    assert share(after_routes) > share(before_routes)
    assert after.iloc[0]["rail_cost_musd"] < before.iloc[0]["rail_cost_musd"]
    inner = park.geometry.iloc[0].buffer(-along.grid.cell_m)
    assert not after_routes.intersects(inner).any()
