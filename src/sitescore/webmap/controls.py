"""The page's controls and boxes: title box (criteria, weight sliders, key, notes), ranked-site
panel, layer control, basemaps (tiles, or state outlines offline), fullscreen, measure and
minimap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import Fullscreen, MeasureControl
from folium.template import Template

from sitescore.formatting import (
    cell_text,
    esc,
    fmt_number,
    fmt_pct,
    is_true,
    pathway_text,
    to_float,
)
from sitescore.mcda import AGGREGATION_METHODS
from sitescore.scoring import CriterionInfo

from .assets import (
    FULLSCREEN_CSS,
    FULLSCREEN_JS,
    MEASURE_CSS,
    MEASURE_JS,
    MINIMAP_CSS,
    MINIMAP_JS,
)
from .layers import SIMPLIFY_M, collection, prepare
from .popups import place_text
from .styles import (
    AGENCY_COLORS,
    EXCLUDED_COLOR,
    SCORE_COLORS,
    SITE_COLOR,
    VOLTAGE_CLASSES,
    VOLTAGE_UNKNOWN,
    WATER_STRESS,
    plant_radius,
)

SYNTHETIC_BANNER = "Synthetic demo data — not real places"
#: Weight sliders run 0..SLIDER_MAX (relative weights, normalised by their sum).
SLIDER_MAX = 100

BASEMAPS = [
    # (xyzservices name, label); the first is shown on opening.
    ("Esri.WorldGrayCanvas", "Light grey (Esri)"),
    ("OpenStreetMap.Mapnik", "OpenStreetMap"),
    ("USGS.USTopo", "USGS topographic"),
    ("Esri.WorldImagery", "Satellite (Esri)"),
]
MINIMAP_OPTIONS = {"position": "bottomright", "width": 150, "height": 150,
                   "collapsedWidth": 24, "collapsedHeight": 24, "zoomLevelOffset": -5,
                   "toggleDisplay": True, "minimized": False}
BASEMAP_STYLE = {"color": "#8c8c8c", "weight": 1, "opacity": 1, "fillColor": "#fbfaf6",
                 "fillOpacity": 1}
#: Offline, state outlines are drawn this far around the results (the minimap looks far out).
BASEMAP_MARGIN_M = 1_500_000.0



# --------------------------------------------------------------------------- title box

_WEIGHT_TOOLS = (
    '<div id="ss-weight-state" role="status">Configured weights (as in the run)</div>'
    '<div id="ss-rank-note" role="status"></div>'
    '<div id="ss-weight-note" role="status"></div>'
    '<div class="ss-weight-tools"><button type="button" id="ss-reset">Reset</button>'
    '<button type="button" id="ss-export">Export weights as YAML</button></div>'
    '<div id="ss-export-box" hidden><textarea id="ss-yaml" rows="7" readonly '
    'spellcheck="false" aria-label="Weights as YAML"></textarea>'
    '<div class="ss-weight-tools"><a id="ss-download" download="weights.yaml" '
    'href="#">Download weights.yaml</a><button type="button" id="ss-copy">Copy'
    '</button></div></div>')


def _criteria_html(criteria: Sequence[CriterionInfo], weights: Sequence[float],
                   sliders: Sequence[int] | None, aggregation: str, regrow: bool = False) -> str:
    """'Criteria and weights': each criterion with its weight, and a slider when the page can
    re-rank."""
    rows = []
    for j, (c, w) in enumerate(zip(criteria, weights, strict=True)):
        desc = f'<div class="ss-desc">{esc(c.value_description)}</div>' \
            if c.value_description else ""
        rows.append(f'<tr data-name="{esc(c.name)}"><td>{esc(c.label)}{desc}</td>'
                    f'<td class="ss-num ss-wpct">{fmt_pct(w)}</td></tr>')
        if sliders is not None:
            rows.append(
                f'<tr class="ss-sliderrow"><td colspan="2"><input type="range" '
                f'class="ss-slider" min="0" max="{SLIDER_MAX}" step="1" '
                f'value="{sliders[j]}" data-index="{j}" data-name="{esc(c.name)}" '
                f'aria-label="Weight of {esc(c.label)}"></td></tr>')
    tools = _WEIGHT_TOOLS if sliders is not None else ""
    known = AGGREGATION_METHODS.get(aggregation)
    method = known.label if known is not None else aggregation
    what = ("; drag a slider to score every cell again and grow the sites as "
            "<code>sitescore run --weights</code> would" if regrow else
            "; drag a slider to re-rank the run's sites by their criterion values (the page "
            "does not grow new sites on these cells: <code>sitescore run --weights</code> "
            "does)")
    return ('<details open id="ss-weights"><summary>Criteria and weights</summary>'
            f'<div class="ss-method">Combined by {esc(method)}'
            f'{what if sliders is not None else ""}'
            f'</div><table class="ss-criteria">{"".join(rows)}</table>{tools}</details>')


def title_box(title: str, *, criteria: Sequence[CriterionInfo], weights: Sequence[float],
              sliders: Sequence[int] | None, aggregation: str, counts: Mapping[str, int],
              n_sites: int, notes: Sequence[str], synthetic: bool, key_html: str,
              banner: str = "", sub: str | None = None,
              left_out: Sequence[Mapping[str, Any]] = (), weight_kept: float = 1.0,
              regrow: bool = False) -> str:
    """The title box: counts, criteria with their weights (a slider each when the page can
    re-rank), the map key and the notes. ``weights`` are the normalised weights in use;
    ``banner`` (the criteria left out) goes under the title when no site panel shows it;
    ``sub`` replaces the counts line (a network map counts parks, not cells); ``left_out`` and
    ``weight_kept`` make the line under the title saying what the scores leave out; ``regrow``
    says the sliders grow the sites again."""
    parts = ['<div id="sitescore-title" class="sitescore-box" role="region" '
             'aria-label="Study, weights and map key">'
             '<button type="button" class="ss-toggle" aria-expanded="true" '
             'aria-controls="ss-title-body">Hide</button>']
    if synthetic:
        parts.append(f'<div class="ss-synthetic-line">{esc(SYNTHETIC_BANNER)}</div>')
    parts.append(f'<div class="ss-title">{esc(title)}</div>')
    if left_out:
        names = ", ".join(esc(x.get("label") or x.get("criterion")) for x in left_out)
        parts.append(f'<div class="ss-left-out-line" role="note">Scores use '
                     f'<b>{esc(fmt_pct(weight_kept))}</b> of the configured weight; left out: '
                     f'{names}</div>')
    parts.append(f'<div id="ss-title-body" class="ss-body">{banner}')
    parts.append(f'<div class="ss-sub">{esc(sub)}</div>' if sub is not None else
                 f'<div class="ss-sub">{_counts_line(n_sites, counts)}</div>')
    if criteria:
        parts.append(_criteria_html(criteria, weights, sliders, aggregation, regrow))
    parts.append(f'<details><summary>Map key</summary>{key_html}</details>')
    if notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in notes)
        parts.append(f'<details open><summary>Notes</summary><ul class="ss-notes">{items}'
                     '</ul></details>')
    parts.append("</div></div>")
    return "".join(parts)


def _counts_line(n_sites: int, counts: Mapping[str, Any]) -> str:
    """'20 ranked sites · 37,539 cells scored · 12 cells excluded by the constraints · 55,345
    acres excluded before the grid (click the excluded land for why)'."""
    cells, excluded = counts.get("cells", 0), counts.get("excluded", 0)
    parts = [f'{n_sites} ranked site{"s" if n_sites != 1 else ""}',
             f"{cells - excluded:,} cells scored",
             f'{excluded:,} cell{"s" if excluded != 1 else ""} excluded by the constraints']
    acres = to_float(counts.get("excluded_acres"))
    if acres is not None:
        parts.append(f"{fmt_number(acres)} acres of land excluded before the grid (the "
                     "excluded land says why)")
    return " · ".join(parts)


#: A banner listing more criteria left out than this opens folded, so the sites stay in view.
LEFT_OUT_OPEN_MAX = 3


def left_out_banner(left_out: Sequence[Mapping[str, Any]], weight_kept: float,
                    partial: bool = False) -> str:
    """What the scores stand for, where the ranked sites are read: the share of the configured
    weight kept and each criterion left out with why and its share ('' when none was)."""
    if not left_out:
        return ""
    items = "".join(f'<li><b>{esc(x.get("label") or x.get("criterion"))}</b>: '
                    f'{esc(x.get("reason"))} ({esc(fmt_pct(x.get("weight_share")))})</li>'
                    for x in left_out)
    warning = ('<div class="ss-left-out-partial"><b>Partial run</b> (--allow-partial): below '
               'the study\'s min_weight_kept.</div>') if partial else ""
    n = len(left_out)
    return ('<div id="ss-left-out" class="ss-left-out" role="note" style="border-left:3px solid '
            '#b00020;padding:2px 6px;margin-bottom:6px;background:#fff4f4">'
            f'{warning}<details{" open" if n <= LEFT_OUT_OPEN_MAX else ""}><summary>Scores use '
            f'<b>{esc(fmt_pct(weight_kept))}</b> of the configured weight: {n} '
            f'criteri{"on" if n == 1 else "a"} left out</summary>'
            f'<ul style="margin:2px 0 0 16px;padding:0">{items}</ul></details></div>')


def _place_line(record: Mapping[str, Any]) -> str:
    text = place_text(record)
    return f'<span class="ss-site-meta ss-site-place">{text}</span>' if text else ""


def _pathway_line(record: Mapping[str, Any]) -> str:
    text = pathway_text(record)
    return f'<span class="ss-site-meta ss-site-pathway">Land: {esc(text)}</span>' if text else ""


def site_panel(records: Sequence[Mapping[str, Any]], banner: str = "", regrow: bool = False) -> str:
    """The ranked sites, in the configured order (the page re-orders them with the sliders, or
    grows new ones when ``regrow``), each with its site id, place and coordinates, under
    ``banner`` (`left_out_banner`); and the table's downloads."""
    items = []
    for i, r in enumerate(records):
        where = " · ".join(esc(x) for x in (cell_text(r, "agency"), cell_text(r, "unit_name"),
                                             cell_text(r, "state")) if x)
        score = to_float(r.get("score"))
        cls = "ss-site ss-site-excluded" if is_true(r.get("excluded")) else "ss-site"
        items.append(
            f'<li class="{cls}" data-index="{i}" data-site-id="{esc(cell_text(r, "site_id"))}" '
            f'tabindex="0"><span class="ss-site-rank">{int(r["rank"])}</span>'
            f'<span class="ss-site-body"><span class="ss-site-name">{esc(cell_text(r, "name"))}'
            f'</span><span class="ss-site-meta">{where}</span><span class="ss-site-meta">score '
            f'<b class="ss-site-score">{"n/a" if score is None else f"{score:.3f}"}</b> · '
            f'{esc(fmt_number(r.get("acres")))} acres</span>{_place_line(r)}{_pathway_line(r)}'
            '</span></li>')
    geometry = "the sites' cells" if regrow else "the sites' points"
    return (
        '<div id="sitescore-panel" class="sitescore-box ss-panel" role="region" '
        'aria-label="Ranked sites"><button type="button" class="ss-toggle" aria-expanded="true" '
        'aria-controls="ss-panel-body">Hide</button>'
        f'<div class="ss-panel-title">Ranked sites ({len(records)})</div>'
        f'<div id="ss-panel-body" class="ss-body">{banner}'
        '<div class="ss-downloads">Download the table: <button type="button" id="ss-csv">CSV'
        '</button> <button type="button" id="ss-geojson" title="GeoJSON outlines: '
        f'{geometry}">GeoJSON</button></div>'
        '<input id="ss-search" type="search" placeholder="Find a site, unit or place" '
        'aria-label="Find a site, unit or place" autocomplete="off">'
        '<div id="ss-search-note" role="status"></div>'
        f'<ol id="ss-site-list">{"".join(items)}</ol></div></div>'
    )


def key_html(present: set[str]) -> str:
    """The map key: cells and sites always, and the styles of the input layers present."""
    rows = [
        (f'<div class="ss-key-row"><span class="ss-sw" style="background:{SCORE_COLORS[-1]}">'
         f'</span><span class="ss-sw" style="background:{SCORE_COLORS[0]}"></span>'
         'cell score, high to low</div>'),
        (f'<div class="ss-key-row"><span class="ss-sw" style="background:{EXCLUDED_COLOR}">'
         '</span>excluded cell (hover for the reason)</div>'),
        (f'<div class="ss-key-row"><span class="ss-line" style="border-top:3px solid '
         f'{SITE_COLOR}"></span>ranked site (click the number for its breakdown)</div>'),
    ]
    if "transmission_lines" in present:
        for _, colour, weight, label in VOLTAGE_CLASSES:
            rows.append(f'<div class="ss-key-row"><span class="ss-line" style="border-top:'
                        f'{weight:.0f}px solid {colour}"></span>line {label}</div>')
        colour, weight, label = VOLTAGE_UNKNOWN
        rows.append(f'<div class="ss-key-row"><span class="ss-line" style="border-top:2px '
                    f'dashed {colour}"></span>line, {label}</div>')
    if "power_plants" in present:
        dots = "".join(
            f'<span class="ss-dot" style="width:{2 * plant_radius(mw):.0f}px;'
            f'height:{2 * plant_radius(mw):.0f}px"></span>' for mw in (10, 100, 1000))
        rows.append(f'<div class="ss-key-row">{dots}plants of 10, 100, 1,000 MW</div>')
    if "water_stress" in present:
        sw = "".join(f'<span class="ss-sw" style="background:{c}" title="{esc(lbl)}"></span>'
                     for c, lbl in (v for k, v in sorted(WATER_STRESS.items()) if k >= 0))
        rows.append(f'<div class="ss-key-row">{sw}water stress, low to extremely high</div>')
    if "federal_land" in present:
        for code in ("BLM", "USFS", "DOD", "DOE", "NPS", "FWS"):
            rows.append(f'<div class="ss-key-row"><span class="ss-sw" style="background:'
                        f'{AGENCY_COLORS[code]}"></span>{code} land</div>')
    return "".join(rows)


# --------------------------------------------------------------------------- map controls

class LayerControl(folium.LayerControl):
    """folium's layer control, listing some overlays first (results above inputs)."""

    def __init__(self, first: Sequence[Element], **kwargs: Any):
        super().__init__(**kwargs)
        self._first = list(first)

    def render(self, **kwargs):
        self.reset()
        items = [item for item in self._parent._children.values()
                 if isinstance(item, folium.map.Layer) and item.control]
        for item in items:
            if not item.overlay:
                self.base_layers[item.layer_name] = item.get_name()
        overlays = [item for item in items if item.overlay]
        ordered = [i for i in self._first if i in overlays]
        ordered += [i for i in overlays if i not in ordered]
        for item in ordered:
            self.overlays[item.layer_name] = item.get_name()
        MacroElement.render(self, **kwargs)


class _MiniMap(JSCSSMixin, MacroElement):
    """leaflet-minimap over a tile layer; offline (no tiles) the page's script builds it over
    the state outlines instead, and this only brings the plugin's files."""

    _template = Template("""
        {% macro script(this, kwargs) %}{% if this.tiles %}
            var {{ this.get_name() }} = new L.Control.MiniMap(
                L.tileLayer({{ this.tiles|tojson }}, {{ this.tile_options|tojson }}),
                {{ this.options|tojson }});
            {{ this._parent.get_name() }}.addControl({{ this.get_name() }});
        {% endif %}{% endmacro %}
    """)
    default_js = MINIMAP_JS
    default_css = MINIMAP_CSS

    def __init__(self, provider: str | None, options: dict):
        super().__init__()
        self._name = "MiniMap"
        self.options = options
        self.tiles, self.tile_options = None, {}
        if provider:
            layer = folium.TileLayer(provider)
            self.tiles = layer.tiles
            self.tile_options = {k: v for k, v in layer.options.items()
                                 if k in ("attribution", "maxZoom", "minZoom", "subdomains")}


class _Measure(MeasureControl):
    """folium's MeasureControl, working on a canvas map: leaflet-measure 2.1.7 restyles its
    vertices through their SVG paths, so its own layers get an SVG renderer."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            // leaflet-measure with Leaflet >= 1.8 (ljagis/leaflet-measure#171), as folium does
            L.Control.Measure.include({
                _setCaptureMarkerIcon: function () {
                    this._captureMarker.options.autoPanOnFocus = false;
                    this._captureMarker.setIcon(
                        L.divIcon({iconSize: this._map.getSize().multiplyBy(2)}));
                },
            });
            var {{ this.get_name() }} = new L.Control.Measure({{ this.options|tojavascript }});
            (function (control) {
                var svg = L.svg(), symbols = control._symbols, get = symbols.getSymbol;
                symbols.getSymbol = function (name) {
                    return L.extend({renderer: svg}, get.call(symbols, name));
                };
            })({{ this.get_name() }});
            {{ this._parent.get_name() }}.addControl({{ this.get_name() }});
        {% endmacro %}
    """)


def add_tools(m: folium.Map, offline: bool, has_basemap: bool) -> None:
    """Fullscreen, measure (km and miles, hectares and acres) and minimap controls."""
    fs = Fullscreen(position="topleft", title="Full screen", title_cancel="Exit full screen")
    fs.default_js, fs.default_css = FULLSCREEN_JS, FULLSCREEN_CSS
    fs.add_to(m)
    measure = _Measure(position="topleft", primary_length_unit="kilometers",
                       secondary_length_unit="miles", primary_area_unit="hectares",
                       secondary_area_unit="acres")
    measure.default_js, measure.default_css = MEASURE_JS, MEASURE_CSS
    measure.add_to(m)
    if not offline:
        _MiniMap(BASEMAPS[0][0], MINIMAP_OPTIONS).add_to(m)
    elif has_basemap:
        _MiniMap(None, MINIMAP_OPTIONS).add_to(m)


def add_tile_basemaps(m: folium.Map) -> None:
    """The basemap tile layers, the first shown on opening."""
    for i, (provider, label) in enumerate(BASEMAPS):
        folium.TileLayer(provider, name=esc(label), overlay=False, control=True,
                         show=(i == 0)).add_to(m)


def offline_basemap(states: gpd.GeoDataFrame | None, extent) -> dict | None:
    """Offline basemap: the state outlines around the results, simplified to the scale shown."""
    if states is None or not isinstance(states, gpd.GeoDataFrame) or states.empty:
        return None
    clip = None
    tolerance = 1000.0
    if extent is not None:
        span = max(extent[2] - extent[0], extent[3] - extent[1])
        margin = max(BASEMAP_MARGIN_M, 3 * span)
        clip = (extent[0] - margin, extent[1] - margin, extent[2] + margin, extent[3] + margin)
        tolerance = max(SIMPLIFY_M, (span + 2 * margin) / 5000)
    _, geoms = prepare(states, name="states", clip=clip, tolerance=tolerance)
    if not len(geoms):
        return None
    return collection(geoms, [{} for _ in geoms])
