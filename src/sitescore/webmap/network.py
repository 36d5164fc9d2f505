"""A network of parks on the map: parks coloured by role and numbered, the links between them
drawn with their km, the candidate sites left out (off by default), and a network panel
(how the choice was solved, the greedy answer beside it, the parks by role).

It takes plain tables (EPSG:5070) and lines of text from the network stage, so it imports only
the parts before it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import folium
import geopandas as gpd
import shapely

from sitescore.formatting import cell_text, esc, fmt_number, fmt_pct, js_json, to_float

from .elements import geojson_layer
from .layers import collection, prepare, site_location

#: Role colours (Okabe-Ito: colour-blind safe, apart from the score palette and site pink).
ROLE_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442",
               "#000000"]
LINK_COLOR = "#333333"
LEFT_OUT_COLOR = "#7a7a7a"


@dataclass
class NetworkLayer:
    """What the map draws of a network: parks (with `park`, `role`, `name`, `score`, `why`),
    links (lines with `label`), candidates left out, and the panel's (label, value) lines."""

    parks: gpd.GeoDataFrame
    links: gpd.GeoDataFrame
    left_out: gpd.GeoDataFrame
    roles: Sequence[str]
    summary: Sequence[tuple[str, str]] = ()
    markers: dict[int, folium.Marker] = field(default_factory=dict)

    def colour(self, role: str) -> str:
        roles = list(self.roles)
        return ROLE_COLORS[roles.index(role) % len(ROLE_COLORS)] if role in roles else LINK_COLOR


def _park_popup(record: Mapping[str, Any], roles: Sequence[str]) -> str:
    """A park's popup: role, place, its score under every role, the terms it uses, why."""
    rows = [("Role", cell_text(record, "role")), ("State", cell_text(record, "state")),
            ("Acres", fmt_number(record.get("acres"))),
            ("Power asked", fmt_number(record.get("power_mw"), "MW")),
            ("Water", fmt_number(record.get("water_mgd"), "MGD"))]
    if to_float(record.get("power_budget_mw")) is not None:
        rows.append(("Load within reach / budget",
                     f"{fmt_number(record.get('power_load_mw'))} / "
                     f"{fmt_number(record.get('power_budget_mw'), 'MW')}"))
    for role in roles:
        score = to_float(record.get(f"score__{role}"))
        rows.append((f"Score as {role}", "does not qualify" if score is None else f"{score:.3f}"))
    for key in ("links", "p_stay"):
        value = record.get(key)
        if key == "p_stay" and to_float(value) is not None:
            rows.append(("Stays in the network", fmt_pct(value)))
        elif key == "links" and cell_text(record, key):
            rows.append(("Linked to", cell_text(record, key)))
    body = "".join(f"<tr><td>{esc(a)}</td><td><b>{esc(b)}</b></td></tr>" for a, b in rows if b)
    return (f'<div class="ss-network-popup"><b>Park {int(record["park"])}: '
            f'{esc(cell_text(record, "name"))}</b><table>{body}</table>'
            f'<p class="ss-desc">{esc(cell_text(record, "why"))}</p></div>')


def add_network(m: folium.Map, network: NetworkLayer, registry: dict[str, Any]) -> None:
    """The network's layers on the map (left-out candidates off, links and parks on)."""
    if len(network.left_out):
        group = folium.FeatureGroup(name="Candidate sites left out of the network", show=False)
        rows, geoms = prepare(network.left_out, name="left out", clip=None)
        props = [{"t": esc(f"{cell_text(r, 'name')} (site {cell_text(r, 'site_id')}): "
                           f"{cell_text(r, 'best_role')}")} for r in rows.to_dict("records")]
        style = {"color": LEFT_OUT_COLOR, "weight": 1.5, "fillOpacity": 0.05, "dashArray": "4 3"}
        geojson_layer(collection(geoms, props),
                      f"function(f, l) {{ l.setStyle({js_json(style)}); "
                      "l.bindTooltip(f.properties.t); }").add_to(group)
        group.add_to(m)
        registry["network_left_out"] = group
    if len(network.links):
        group = folium.FeatureGroup(name="Network links", show=True)
        rows, geoms = prepare(network.links, name="links", clip=None)
        props = [{"t": esc(cell_text(r, "label"))} for r in rows.to_dict("records")]
        style = {"color": LINK_COLOR, "weight": 3, "opacity": 0.8, "dashArray": "8 5"}
        geojson_layer(collection(geoms, props),
                      f"function(f, l) {{ l.setStyle({js_json(style)}); "
                      "l.bindTooltip(f.properties.t, {sticky: true}); }").add_to(group)
        group.add_to(m)
        registry["network_links"] = group
    group = folium.FeatureGroup(name="Network parks (by role)", show=True)
    outlines = network.parks[~(network.parks.geometry.is_empty | network.parks.geometry.isna())]
    if len(outlines) and (shapely.area(outlines.geometry.values) > 0).any():
        rows, geoms = prepare(outlines, name="parks", clip=None)
        props = [{"c": network.colour(str(r["role"]))} for r in rows.to_dict("records")]
        geojson_layer(collection(geoms, props),
                      "function(f, l) { l.setStyle({color: f.properties.c, weight: 3, "
                      "fillColor: f.properties.c, fillOpacity: 0.25}); }").add_to(group)
    for record, geom in zip(network.parks.to_dict("records"), network.parks.geometry.values,
                            strict=True):
        where = site_location(record, geom)
        if where is None:
            continue
        number = int(record["park"])
        colour = network.colour(str(record["role"]))
        icon = folium.DivIcon(
            html=f'<div style="background:{colour};color:#fff;border:2px solid #fff;'
                 f'border-radius:50%;width:26px;height:26px;text-align:center;'
                 f'font:700 12px/22px sans-serif;box-sizing:border-box">{number}</div>',
            icon_size=(26, 26), icon_anchor=(13, 13), class_name=f"ss-park ss-park-{number}")
        marker = folium.Marker(location=where, icon=icon,
                               popup=folium.Popup(_park_popup(record, network.roles), max_width=420),
                               tooltip=folium.Tooltip(f"Park {number} ({esc(cell_text(record, 'role'))})"
                                                      f": {esc(cell_text(record, 'name'))}"),
                               z_index_offset=20_000 - number)
        marker.add_to(group)
        network.markers[number] = marker
    group.add_to(m)
    registry["network_parks"] = group


def network_panel(network: NetworkLayer) -> str:
    """The panel: the solve in a few lines, then the parks by role (click one to open it)."""
    lines = "".join(f"<tr><td>{esc(a)}</td><td><b>{esc(b)}</b></td></tr>"
                    for a, b in network.summary)
    groups = []
    for role in network.roles:
        mine = network.parks[network.parks["role"] == role]
        items = "".join(
            f'<li data-park="{int(r["park"])}" tabindex="0" style="cursor:pointer">'
            f'<span style="color:{network.colour(role)};font-weight:700">{int(r["park"])}</span> '
            f'{esc(cell_text(r, "name"))} · {esc(cell_text(r, "state"))} · '
            f'{to_float(r.get("score")) or 0:.3f}</li>'
            for r in mine.to_dict("records"))
        groups.append(f'<div class="ss-network-role"><b style="color:{network.colour(role)}">'
                      f'{esc(role)}</b> ({len(mine)})<ul id="ss-network-{esc(role)}" '
                      f'class="ss-network-list">{items}</ul></div>')
    return ('<div id="sitescore-network" class="sitescore-box ss-panel" style="overflow:auto">'
            f'<div class="ss-panel-title">Network of parks ({len(network.parks)})</div>'
            f'<table class="ss-network-summary">{lines}</table>{"".join(groups)}</div>')


def network_js(m: folium.Map, network: NetworkLayer) -> str:
    """The panel as a map control; a click on a park in it opens the park's marker."""
    refs = ",".join(f"{k}:{mk.get_name()}" for k, mk in sorted(network.markers.items()))
    return (
        "var ssNet = document.getElementById('sitescore-network');"
        " if (ssNet) { var ssNetCtl = L.control({position: 'bottomright'});"
        " ssNetCtl.onAdd = function () { L.DomEvent.disableClickPropagation(ssNet);"
        " L.DomEvent.disableScrollPropagation(ssNet); return ssNet; };"
        f" ssNetCtl.addTo({m.get_name()}); var ssParks = {{{refs}}};"
        " ssNet.querySelectorAll('li[data-park]').forEach(function (li) {"
        " var open = function () { var mk = ssParks[li.getAttribute('data-park')];"
        f" if (mk) {{ {m.get_name()}.setView(mk.getLatLng(), Math.max({m.get_name()}.getZoom(), 9));"
        " mk.openPopup(); } };"
        " li.addEventListener('click', open);"
        " li.addEventListener('keydown', function (e) { if (e.key === 'Enter') { open(); } });"
        " }); }"
    )
