"""Each ranked site's connection routes on the map: one line per connection, coloured by what
it builds, with its length and cost range in the tooltip (layer "Connection routes")."""

from __future__ import annotations

import folium
import geopandas as gpd

from sitescore.formatting import esc, fmt_number

from .elements import geojson_layer, table_layer_js
from .layers import collection, prepare

#: Line colour per unit-cost class a route is built as (others take the last).
ROUTE_COLORS = {"transmission_line": "#d62728", "water_pipeline": "#1f77b4",
                "road_lane": "#444444", "rail_spur": "#8c564b"}
OTHER_COLOR = "#9467bd"


def routes_group(routes: gpd.GeoDataFrame | None) -> folium.FeatureGroup | None:
    """'Connection routes', shown on opening; None when no site has a route."""
    if routes is None or routes.empty:
        return None
    rows, geoms = prepare(routes, name="routes", clip=None, tolerance=0)
    if not len(geoms):
        return None
    kinds = [*ROUTE_COLORS, "other"]
    styles = [{"color": ROUTE_COLORS.get(k, OTHER_COLOR), "weight": 3, "opacity": 0.9,
               "dashArray": "6 4"} for k in kinds]
    props = []
    for r in rows.to_dict("records"):
        build = str(r.get("build"))
        cost = (f"{fmt_number(r.get('cost_base_musd'), 'M$')} (low "
                f"{fmt_number(r.get('cost_low_musd'))}, high {fmt_number(r.get('cost_high_musd'))}; "
                f"{esc(r.get('dollar_year'))} dollars)")
        props.append({"s": kinds.index(build) if build in ROUTE_COLORS else len(kinds) - 1,
                      "t": f"<div class=\"ss-tip-layer\">Site {esc(r.get('site_id'))}: "
                           f"{esc(r.get('connection'))} route</div>{esc(build.replace('_', ' '))} to "
                           f"{esc(r.get('reaches'))}, {fmt_number(r.get('length_km'), 'km')}, {cost}"})
    group = folium.FeatureGroup(name="Connection routes", show=True)
    geojson_layer(collection(geoms, props), table_layer_js(styles)).add_to(group)
    return group
