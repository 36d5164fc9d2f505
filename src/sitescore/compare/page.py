"""compare.html: both runs' sites on one folium map, outlines and rank marks, popups with the
drivers of each change."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure
from folium.utilities import JsCode

from ..formatting import esc, js_json, to_float, write_atomic
from ..schema import CRS, WEB_CRS
from ..webmap import MAP_CSS, MAP_JS, SYNTHETIC_BANNER, Raw, deterministic_build
from .model import STATUSES, Comparison, SiteChange, site_text
from .text import rank_text, score_text, share_text, weight_lines, weight_text

#: Colours: run A outlines, run B outlines (colour-blind safe pair), and the rank-change marks.
A_COLOR = "#2c7bb6"
B_COLOR = "#e66101"
UP_COLOR = "#1a9850"
DOWN_COLOR = "#d73027"
SAME_COLOR = "#636363"

SIMPLIFY_M = 50.0
COORD_DECIMALS = 5

_CSS = f"""
<style>
#compare-box {{ position: absolute; top: 10px; left: 54px; z-index: 1000; max-width: 360px;
  max-height: calc(100vh - 60px); overflow-y: auto; background: rgba(255,255,255,0.95);
  padding: 8px 10px; border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,0.35);
  font: 12px/1.35 "Helvetica Neue", Arial, sans-serif; color: #222; }}
#compare-box .cmp-title {{ font-size: 14px; font-weight: 700; }}
#compare-box details {{ margin-top: 4px; }}
#compare-box summary {{ cursor: pointer; font-weight: 600; }}
#compare-box table {{ border-collapse: collapse; width: 100%; }}
#compare-box td, #compare-box th {{ padding: 1px 4px; text-align: left; }}
#compare-box .cmp-changed td {{ font-weight: 700; }}
.cmp-synthetic {{ color: #b00020; font-weight: 700; }}
.cmp-key {{ display: flex; align-items: center; gap: 6px; margin: 2px 0; }}
.cmp-line {{ display: inline-block; width: 24px; height: 0; }}
.cmp-num {{ text-align: right; }}
.cmp-rank {{ background: #fff; border: 2.5px solid {SAME_COLOR}; border-radius: 11px;
  color: #111; font: 700 11px/17px "Helvetica Neue", Arial, sans-serif; text-align: center;
  white-space: nowrap; box-shadow: 0 1px 4px rgba(0,0,0,0.5); box-sizing: border-box;
  cursor: pointer; }}
.cmp-up {{ border-color: {UP_COLOR}; }}
.cmp-down {{ border-color: {DOWN_COLOR}; }}
.cmp-gained {{ background: {B_COLOR}; border-color: {B_COLOR}; color: #fff; }}
.cmp-lost {{ background: {A_COLOR}; border-color: {A_COLOR}; color: #fff; }}
.cmp-popup {{ font: 12px/1.35 "Helvetica Neue", Arial, sans-serif; min-width: 320px; }}
.cmp-popup .cmp-pop-title {{ font-size: 14px; font-weight: 700; }}
.cmp-popup .cmp-meta {{ color: #444; margin: 2px 0 6px 0; }}
table.cmp-drivers {{ border-collapse: collapse; width: 100%; }}
table.cmp-drivers th {{ text-align: left; color: #555; border-bottom: 1px solid #ccc;
  padding: 2px 4px; white-space: nowrap; }}
table.cmp-drivers td {{ padding: 2px 4px; border-bottom: 1px solid #eee; white-space: nowrap; }}
table.cmp-drivers tfoot td {{ font-weight: 700; border-bottom: none; }}
.cmp-pos {{ color: {UP_COLOR}; font-weight: 700; }}
.cmp-neg {{ color: {DOWN_COLOR}; font-weight: 700; }}
</style>
"""

#: Outline styles per (run, status).
_STYLES = {
    ("A", "moved"): {"color": A_COLOR, "weight": 2, "opacity": 0.9, "fillColor": A_COLOR,
                     "fillOpacity": 0.05},
    ("B", "moved"): {"color": B_COLOR, "weight": 2, "opacity": 0.95, "fillColor": B_COLOR,
                     "fillOpacity": 0.05},
    ("B", "gained"): {"color": B_COLOR, "weight": 3.5, "opacity": 1.0, "fillColor": B_COLOR,
                      "fillOpacity": 0.3},
    ("A", "lost"): {"color": A_COLOR, "weight": 3, "opacity": 1.0, "dashArray": "7 5",
                    "fillColor": A_COLOR, "fillOpacity": 0.2},
}
_GROUP_LABELS = {
    "moved": "Sites in both runs (blue = A, orange = B)",
    "gained": "Gained: only in run B",
    "lost": "Lost: only in run A",
}


def _web_geoms(geoms: Sequence[Any]) -> list[Any]:
    """EPSG:5070 outlines -> simplified lon/lat geometries rounded to ~1 m (None if empty)."""
    g = np.asarray(list(geoms), dtype=object)
    if not len(g):
        return []
    ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
    out: list[Any] = [None] * len(g)
    if ok.any():
        simple = shapely.simplify(g[ok], SIMPLIFY_M, preserve_topology=True)
        web = gpd.GeoSeries(simple, crs=CRS).to_crs(WEB_CRS).values
        web = shapely.transform(np.asarray(web, dtype=object),
                                lambda c: np.round(c, COORD_DECIMALS))
        for k, idx in enumerate(np.flatnonzero(ok)):
            out[idx] = None if shapely.is_empty(web[k]) else web[k]
    return out


def _hash(r: int | None, missing: str) -> str:
    return missing if r is None else f"#{r}"


def _marker_label(ch: SiteChange) -> str:
    return f"{rank_text(ch.rank_a, 'new')}→{rank_text(ch.rank_b, 'out')}"


def _marker_class(ch: SiteChange) -> str:
    if ch.status != "moved":
        return f"cmp-{ch.status}"
    rc = ch.rank_change or 0
    return "cmp-up" if rc > 0 else "cmp-down" if rc < 0 else "cmp-same"


def _signed(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    text = f"{x:+.{digits}f}"
    if abs(x) < 0.5 * 10 ** -digits:
        return f"{0:.{digits}f}"
    return f'<span class="{"cmp-pos" if x > 0 else "cmp-neg"}">{text}</span>'


def _popup_html(comp: Comparison, ch: SiteChange) -> str:
    a = comp.sites_a.iloc[ch.index_a] if ch.index_a is not None else None
    b = comp.sites_b.iloc[ch.index_b] if ch.index_b is not None else None
    here = b if b is not None else a
    where = " · ".join(esc(x) for x in (site_text(here, "agency"), site_text(here, "unit_name"),
                                         site_text(here, "state")) if x)
    status = {"moved": "in both runs", "gained": "gained: only in run B",
              "lost": "lost: only in run A"}[ch.status]
    if ch.status == "moved":
        rc = ch.rank_change or 0
        move = f"up {rc}" if rc > 0 else f"down {-rc}" if rc < 0 else "same rank"
        status += f" · {move} · overlap {100 * (ch.overlap or 0):.0f}%"
    score_change = f" ({_signed(ch.score_change)})" if ch.score_change is not None else ""
    head = (
        f'<div class="cmp-popup" data-status="{esc(ch.status)}">'
        f'<div class="cmp-pop-title">{_hash(ch.rank_a, "new")} → {_hash(ch.rank_b, "out")} '
        f'{esc(ch.name)}</div>'
        f'<div class="cmp-meta">{where}<br>{esc(status)}<br>score '
        f'<b>{esc(score_text(ch.score_a))} → {esc(score_text(ch.score_b))}</b>{score_change}</div>'
    )
    rows = []
    by_name = {c.name: c for c in comp.criteria}
    order = [c for c, _ in ch.drivers] if ch.status == "moved" else \
        [c for c in comp.criterion_names]
    deltas = dict(ch.drivers)
    for name in order:
        c = by_name[name]
        ca = to_float(a.get(f"contribution__{name}")) if a is not None and c.in_a else None
        cb = to_float(b.get(f"contribution__{name}")) if b is not None and c.in_b else None
        if (a is None and cb is None) or (b is None and ca is None):
            continue
        rows.append(
            f'<tr data-criterion="{esc(name)}"><td title="{esc(c.label)}">{esc(name)}</td>'
            f'<td class="cmp-num">{esc(share_text(c.share_a))} → {esc(share_text(c.share_b))}</td>'
            f'<td class="cmp-num">{esc(score_text(ca))}</td><td class="cmp-num">{esc(score_text(cb))}</td>'
            + (f'<td class="cmp-num">{_signed(deltas.get(name))}</td>' if ch.status == "moved"
               else "") + "</tr>")
    delta_head = "<th>Change</th>" if ch.status == "moved" else ""
    foot = ""
    if ch.status == "moved":
        total = sum(d for _, d in ch.drivers)
        foot = (f'<tfoot><tr><td colspan="4">Sum of changes</td>'
                f'<td class="cmp-num">{_signed(total)}</td></tr></tfoot>')
    table = (
        '<table class="cmp-drivers"><thead><tr><th>Criterion</th><th>Weight A → B</th>'
        f'<th>Contrib. A</th><th>Contrib. B</th>{delta_head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody>{foot}</table>'
    )
    return head + table + "</div>"


def _box_html(comp: Comparison) -> str:
    n = comp.counts()
    parts = ['<div id="compare-box">']
    if comp.synthetic:
        parts.append(f'<div class="cmp-synthetic">{esc(SYNTHETIC_BANNER)}</div>')
    parts.append(f'<div class="cmp-title">Comparing two runs</div>'
                 f'<div><span style="color:{A_COLOR};font-weight:700">A</span> '
                 f'{esc(comp.title_a)} <i>({esc(comp.study_a)}, {len(comp.sites_a)} sites)</i></div>'
                 f'<div><span style="color:{B_COLOR};font-weight:700">B</span> '
                 f'{esc(comp.title_b)} <i>({esc(comp.study_b)}, {len(comp.sites_b)} sites)</i></div>')
    scope = f" in the top {comp.top} of either run" if comp.top else ""
    parts.append(f'<div>{n["moved"]} in both{esc(scope)} ({n["up"]} up, {n["down"]} down, '
                 f'{n["same"]} same) · {n["gained"]} gained · {n["lost"]} lost</div>')
    changed = {c.name for c in comp.weight_changes}
    rows = []
    for c in comp.criteria:
        cls = ' class="cmp-changed"' if c.name in changed or c.only_in else ""
        conf = ""
        if c.configured_a is not None or c.configured_b is not None:
            conf = f"{esc(weight_text(c.configured_a))} → {esc(weight_text(c.configured_b))}"
        rows.append(f'<tr{cls}><td title="{esc(c.label)}">{esc(c.name)}</td>'
                    f'<td class="cmp-num">{conf}</td>'
                    f'<td class="cmp-num">{esc(share_text(c.share_a))} → {esc(share_text(c.share_b))}</td>'
                    "</tr>")
    lines = "".join(f"<li>{esc(x)}</li>" for x in weight_lines(comp))
    parts.append('<details open><summary>Weights</summary>'
                 f'<ul style="margin:2px 0;padding-left:16px">{lines}</ul>'
                 '<table><thead><tr><th>Criterion</th><th>Configured A → B</th>'
                 f'<th>Share A → B</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
                 '</details>')
    parts.append(
        '<details><summary>Map key</summary>'
        f'<div class="cmp-key"><span class="cmp-line" style="border-top:2px solid {A_COLOR}">'
        '</span>site in run A</div>'
        f'<div class="cmp-key"><span class="cmp-line" style="border-top:2px solid {B_COLOR}">'
        '</span>site in run B</div>'
        f'<div class="cmp-key"><span class="cmp-line" style="border-top:3px dashed {A_COLOR}">'
        '</span>lost (only in A)</div>'
        f'<div class="cmp-key"><span class="cmp-line" style="border-top:4px solid {B_COLOR}">'
        '</span>gained (only in B)</div>'
        '<div class="cmp-key">numbers: rank in A → rank in B; ring green = up, red = down, '
        'grey = same</div></details>')
    if comp.notes:
        items = "".join(f"<li>{esc(x)}</li>" for x in comp.notes)
        parts.append(f'<details open><summary>Notes</summary><ul>{items}</ul></details>')
    parts.append("</div>")
    return "".join(parts)


def _location(site: pd.Series | None, web_geom: Any) -> list[float] | None:
    if site is not None:
        lon, lat = to_float(site.get("lon")), to_float(site.get("lat"))
        if lon is not None and lat is not None and -180 <= lon <= 180 and -90 <= lat <= 90:
            return [round(lat, COORD_DECIMALS), round(lon, COORD_DECIMALS)]
    if web_geom is None:
        return None
    p = web_geom.representative_point()
    return [round(p.y, COORD_DECIMALS), round(p.x, COORD_DECIMALS)]


def write_compare_map(comp: Comparison, path: Path) -> Path:
    """compare.html: both runs' sites on one folium map (deterministic, written atomically)."""
    path = Path(path)
    with deterministic_build(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        page = _build_map(comp)
    write_atomic(path, page.encode("utf-8"))
    return path


def _build_map(comp: Comparison) -> str:
    web_a, web_b = _outlines(comp)
    m, bounds = _base_map(comp, [g for g in [*web_a.values(), *web_b.values()] if g is not None])
    groups = {s: folium.FeatureGroup(name=_GROUP_LABELS[s], show=True) for s in STATUSES}
    _add_outlines(comp, web_a, web_b, groups)
    _add_rank_marks(comp, web_a, web_b, groups)
    for status in STATUSES:
        groups[status].add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    if bounds:
        m.fit_bounds(bounds, padding_top_left=(390, 30), padding_bottom_right=(30, 30), max_zoom=14)
    figure = _figure(m)
    figure.header.add_child(Raw(_CSS), name="compare_css")
    figure.html.add_child(Raw(_box_html(comp)), name="compare_box")
    return figure.render()


def _outlines(comp: Comparison) -> tuple[dict[int, Any], dict[int, Any]]:
    """Web outlines of the sites the comparison shows, by row in each run."""
    idx_a = sorted({c.index_a for c in comp.changes if c.index_a is not None})
    idx_b = sorted({c.index_b for c in comp.changes if c.index_b is not None})
    web_a = dict(zip(idx_a, _web_geoms(comp.sites_a.geometry.values[idx_a]) if idx_a else [],
                     strict=True))
    web_b = dict(zip(idx_b, _web_geoms(comp.sites_b.geometry.values[idx_b]) if idx_b else [],
                     strict=True))
    return web_a, web_b


def _figure(m: folium.Map) -> Figure:
    """The page a map is drawn on (folium makes a map's root a Figure)."""
    root = m.get_root()
    assert isinstance(root, Figure)
    return root


def _base_map(comp: Comparison, shown: list[Any]) -> tuple[folium.Map, list | None]:
    """The map with its base layers, centred on the shown outlines (the US when none)."""
    bounds = None
    location, zoom = [39.5, -98.35], 4
    if shown:
        w, s, e, n = shapely.total_bounds(np.asarray(shown, dtype=object))
        bounds = [[round(float(s), 5), round(float(w), 5)], [round(float(n), 5), round(float(e), 5)]]
        location = [round((s + n) / 2, 5), round((w + e) / 2, 5)]
        span = max(e - w, (n - s) * 1.3, 1e-6)
        zoom = int(min(14, max(3, math.floor(math.log2(360.0 * 900 / (256 * span))))))
    m = folium.Map(location=location, zoom_start=zoom, tiles=None, prefer_canvas=True,
                   control_scale=True)
    m.default_js = list(MAP_JS)   # Leaflet and jQuery only, as the run maps
    m.default_css = list(MAP_CSS)
    _figure(m).title = esc(f"Compare: {comp.study_a} vs {comp.study_b}")
    folium.TileLayer("Esri.WorldGrayCanvas", name="Light grey (Esri)", overlay=False,
                     show=True).add_to(m)
    folium.TileLayer("OpenStreetMap.Mapnik", name="OpenStreetMap", overlay=False,
                     show=False).add_to(m)
    return m, bounds


def _add_outlines(comp: Comparison, web_a: dict[int, Any], web_b: dict[int, Any],
                  groups: dict[str, folium.FeatureGroup]) -> None:
    """Both runs' outlines, one GeoJSON layer per status, styled by (run, status)."""
    styles = list(_STYLES.values())
    style_index = {k: i for i, k in enumerate(_STYLES)}
    features: dict[str, list[dict]] = {s: [] for s in STATUSES}
    for ch in comp.changes:
        tip = (f"<b>{_hash(ch.rank_a, 'new')} → {_hash(ch.rank_b, 'out')} "
               f"{esc(ch.name)}</b><br>{esc(ch.status)} · score {esc(score_text(ch.score_a))} → "
               f"{esc(score_text(ch.score_b))}")
        for run, idx, web in (("A", ch.index_a, web_a), ("B", ch.index_b, web_b)):
            g = web.get(idx) if idx is not None else None
            if g is None:
                continue
            features[ch.status].append({
                "type": "Feature", "id": len(features[ch.status]),
                "properties": {"s": style_index[(run, ch.status)],
                               "t": f"<i>run {run}</i> · {tip}"},
                "geometry": shapely.geometry.mapping(g)})
    js = JsCode(
        "function(feature, layer) {"
        f" var styles = {js_json(styles)}; var p = feature.properties;"
        " layer.setStyle(styles[p.s]); layer.bindTooltip(p.t, {sticky: true}); }")
    # moved pairs draw first, so gained and lost outlines lie on top
    for status in STATUSES:
        if features[status]:
            folium.GeoJson({"type": "FeatureCollection", "features": features[status]},
                           style_function=lambda f: {}, on_each_feature=js).add_to(groups[status])


def _add_rank_marks(comp: Comparison, web_a: dict[int, Any], web_b: dict[int, Any],
                    groups: dict[str, folium.FeatureGroup]) -> None:
    """A mark per site with its rank in A and in B, and the popup of its drivers."""
    for ch in comp.changes:
        if ch.index_b is not None:  # where it is in B, else where it was in A
            loc = _location(comp.sites_b.iloc[ch.index_b], web_b.get(ch.index_b))
        elif ch.index_a is not None:
            loc = _location(comp.sites_a.iloc[ch.index_a], web_a.get(ch.index_a))
        else:
            loc = None
        if loc is None:
            continue
        label = _marker_label(ch)
        width = 12 + 7 * len(label)
        icon = folium.DivIcon(html=esc(label), icon_size=(width, 22),
                              icon_anchor=(width // 2, 11), popup_anchor=(0, -10),
                              class_name=f"cmp-rank {_marker_class(ch)}")
        popup = folium.Popup(folium.Html(_popup_html(comp, ch), script=True), max_width=620,
                             auto_pan_padding_top_left=[20, 20],
                             auto_pan_padding_bottom_right=[20, 20])
        best = min(r for r in (ch.rank_a, ch.rank_b) if r is not None)
        folium.Marker(location=loc, icon=icon, popup=popup,
                      tooltip=folium.Tooltip(f"{esc(label)} {esc(ch.name)}"),
                      z_index_offset=10_000 - best).add_to(groups[ch.status])
