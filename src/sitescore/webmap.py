"""The run's web map: scored cells, ranked sites with their score breakdown, input layers.

One function, :func:`write_map`, turns the pipeline's tables (all in EPSG:5070) into a single
folium/Leaflet HTML page:

- candidate cells coloured by score (a branca colour legend), excluded cells grey with the
  reason in their tooltip;
- ranked sites outlined and numbered; the number opens a popup with the site's breakdown
  (raw value, 0..1 score, weight and contribution per criterion, as small inline bars);
- every input layer as its own toggle in the layer control (off by default), styled by what
  matters to a planner (transmission by voltage, plants sized by MW, land by agency, ...);
- a title box with the criteria and weights, a layer key and the run's notes, and a banner
  when the data is synthetic.

- weight sliders (one per criterion) that re-score and re-rank the sites in the page, with the
  run's own arithmetic (see ``assets/sitescore/map.js``), "Reset" and "Export weights as YAML";
- a side panel of the ranked sites (click to zoom and open one; a search box over site and unit
  names), and fullscreen, measure and minimap controls.

The page is kept light (geometries simplified to display scale, coordinates rounded to 5
decimals, canvas rendering, compact JSON; past :data:`PAGE_BUDGET_BYTES` the cells are drawn as
blocks), every data string is HTML-escaped before it goes anywhere near the page, and the output
is byte-for-byte deterministic: folium's random element ids are replaced by a counter while the
map is built and rendered.

With ``offline=True`` the page needs no network at all: Leaflet and the plugins are inlined from
the files vendored in ``assets/`` (their npm packages' dist files, with their licences), and state
outlines stand in for the basemap tiles.
"""

from __future__ import annotations

import base64
import functools
import html
import itertools
import json
import math
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import branca.colormap as bcm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import Fullscreen, MeasureControl
from folium.template import Template
from folium.utilities import JsCode

from sitescore.schema import CRS, WEB_CRS
from sitescore.scoring import CriterionInfo

__all__ = ["AGGREGATIONS", "PAGE_BUDGET_BYTES", "SYNTHETIC_BANNER", "CriterionInfo", "esc",
           "plant_radius", "write_map"]


SYNTHETIC_BANNER = "Synthetic demo data — not real places"

#: Simplification tolerance (metres, in EPSG:5070) for display; well under a 1-2 km cell.
SIMPLIFY_M = 75.0
#: Decimal places kept in web coordinates (5 decimals ~ 1 m).
COORD_DECIMALS = 5
#: Input layers are shown this far beyond the cells' extent (metres), at least.
CONTEXT_MARGIN_M = 25_000.0
#: Per-criterion values ride along in each cell's tooltip up to this many cells.
CELL_BREAKDOWN_MAX_CELLS = 60_000
#: What a page may weigh. Past it (at CELL_BYTES_ESTIMATE a cell) the cells are drawn as square
#: blocks of cells instead, each taking the acre-weighted mean of its scored cells.
PAGE_BUDGET_BYTES = 15_000_000
CELL_BYTES_ESTIMATE = 300
#: Block sides tried, in cells, smallest first; the blocks may take half the budget.
BLOCK_FACTORS = (2, 4, 8, 16, 32, 64, 128)
#: How the run combines criterion values (sitescore.mcda.AGGREGATION_METHODS).
AGGREGATIONS = ("weighted_sum", "weighted_product", "topsis")
#: Weight sliders run 0..SLIDER_MAX (relative weights, normalised by their sum).
SLIDER_MAX = 100
#: Cells get their white outline from this zoom on (below it the outlines would drown them).
CELL_OUTLINE_MIN_ZOOM = 10
FIT_MAX_ZOOM = 14

#: Score colours, low to high (viridis: perceptually even, colour-blind safe, prints in grey).
SCORE_COLORS = [
    "#440154", "#482878", "#3e4989", "#31688e", "#26828e",
    "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725",
]
EXCLUDED_COLOR = "#8f8f8f"
SITE_COLOR = "#e0115f"

# Only what the page uses: Leaflet, and jQuery for folium's popups (d3 comes with the branca
# legend). folium's other defaults (Bootstrap, Font Awesome, awesome-markers, glyphicons) would
# be four more CDN hosts for nothing this page draws.
_MAP_JS = [
    ("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"),
    ("jquery", "https://code.jquery.com/jquery-3.7.1.min.js"),
]
_MAP_CSS = [
    ("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"),
]
# The plugins, as files of their npm packages (folium's own URLs name a GitHub tag, cdnjs, or a
# minified file the package does not ship).
_FULLSCREEN_JS = [("Control.Fullscreen.js",
                   "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.js")]
_FULLSCREEN_CSS = [("Control.FullScreen.css",
                    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css")]
_MEASURE_JS = [("leaflet_measure_js",
                "https://cdn.jsdelivr.net/npm/leaflet-measure@2.1.7/dist/leaflet-measure.min.js")]
_MEASURE_CSS = [("leaflet_measure_css",
                 "https://cdn.jsdelivr.net/npm/leaflet-measure@2.1.7/dist/leaflet-measure.css")]
_MINIMAP_JS = [("Control_MiniMap_js",
                "https://cdn.jsdelivr.net/npm/leaflet-minimap@3.6.1/dist/Control.MiniMap.min.js")]
_MINIMAP_CSS = [("Control_MiniMap_css",
                 "https://cdn.jsdelivr.net/npm/leaflet-minimap@3.6.1/dist/Control.MiniMap.min.css")]

#: The vendored copies (``offline=True``): src/sitescore/assets/<package>/<file in the package>.
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
#: CDN URL -> file under ASSETS_DIR, for every script and stylesheet a page can reference.
OFFLINE_ASSETS = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/dist/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/dist/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": "d3/d3.min.js",
    _FULLSCREEN_JS[0][1]: "leaflet.fullscreen/Control.FullScreen.js",
    _FULLSCREEN_CSS[0][1]: "leaflet.fullscreen/Control.FullScreen.css",
    _MEASURE_JS[0][1]: "leaflet-measure/dist/leaflet-measure.min.js",
    _MEASURE_CSS[0][1]: "leaflet-measure/dist/leaflet-measure.css",
    _MINIMAP_JS[0][1]: "leaflet-minimap/dist/Control.MiniMap.min.js",
    _MINIMAP_CSS[0][1]: "leaflet-minimap/dist/Control.MiniMap.min.css",
}

_BASEMAPS = [
    # (xyzservices name, label); the first is shown on opening.
    ("Esri.WorldGrayCanvas", "Light grey (Esri)"),
    ("OpenStreetMap.Mapnik", "OpenStreetMap"),
    ("USGS.USTopo", "USGS topographic"),
    ("Esri.WorldImagery", "Satellite (Esri)"),
]


# --------------------------------------------------------------------------- escaping

_JS_SENSITIVE = str.maketrans({
    # folium puts popup and tooltip HTML inside JS template literals: keep data from closing
    # them (`), interpolating (${) or starting escapes (\); braces never reach Jinja either.
    "`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;",
})


def esc(value: Any) -> str:
    """Data value -> text safe in HTML (element or attribute) and in folium's JS literals."""
    return "" if _isna(value) else html.escape(str(value), quote=True).translate(_JS_SENSITIVE)


def _js(obj: Any) -> str:
    """JSON for inline <script>: nothing in it can close the script or start markup."""
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# --------------------------------------------------------------------------- formatting

def _num(value: Any) -> float | None:
    """A finite float, or None."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _fmt(value: Any, unit: str = "") -> str:
    """Human number with a sensible precision (and unit), 'n/a' when missing. Returns text."""
    x = _num(value)
    if x is None:
        return "n/a"
    a = abs(x)
    if a >= 1000 or (x == round(x) and a < 1e15):
        s = f"{x:,.0f}"
    elif a >= 100:
        s = f"{x:.0f}"
    elif a >= 10:
        s = f"{x:.1f}"
    elif a >= 1:
        s = f"{x:.2f}"
    elif a == 0:
        s = "0"
    else:
        s = f"{x:.3g}"
    return f"{s} {unit}".strip() if unit else s


def _pct(weight: Any) -> str:
    """A weight as a percentage: '25%', '12.5%'."""
    w = _num(weight)
    if w is None:
        return "n/a"
    p = 100 * w
    return f"{p:.0f}%" if abs(p - round(p)) < 0.05 else f"{p:.1f}%"


def _flag(value: Any) -> bool:
    """A boolean cell: missing counts as False."""
    try:
        if value is None or pd.isna(value):
            return False
    except (TypeError, ValueError):
        pass
    return bool(value)


def _text(row: Mapping[str, Any], column: str) -> str:
    """A string cell of a row, '' when missing."""
    value = row.get(column)
    try:
        if value is None or pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


# --------------------------------------------------------------------------- geometry

def _prepare(gdf: gpd.GeoDataFrame, *, name: str, clip: tuple[float, float, float, float] | None,
             tolerance: float = SIMPLIFY_M) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with a drawable geometry, and their web geometries (EPSG:4326, rounded).

    Clips to ``clip`` (a 5070 box) when given, simplifies in 5070 at ``tolerance`` metres.
    """
    if gdf.crs is None:
        raise ValueError(f"webmap: layer {name!r} has no CRS (expected {CRS})")
    if not gdf.crs.equals(CRS):
        gdf = gdf.to_crs(CRS)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if clip is not None:
        keep &= shapely.intersects(geoms, shapely.box(*clip))
    rows = gdf.loc[keep].drop(columns=gdf.geometry.name)
    geoms = geoms[keep]
    if clip is not None and len(geoms):
        is_point = shapely.get_type_id(geoms) <= 0  # points stay whole
        geoms = np.where(is_point, geoms, shapely.clip_by_rect(geoms, *clip))
    if tolerance and len(geoms):
        geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    web = gpd.GeoSeries(geoms, crs=CRS).to_crs(WEB_CRS).values
    web = shapely.transform(np.asarray(web, dtype=object),
                            lambda c: np.round(c, COORD_DECIMALS))
    ok = ~shapely.is_empty(web)
    return rows.loc[ok].reset_index(drop=True), web[ok]


def _collection(geoms: np.ndarray, props: Sequence[dict]) -> dict:
    """A FeatureCollection with integer ids (folium keys its style table on them)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": i, "properties": p,
             "geometry": shapely.geometry.mapping(g)}
            for i, (g, p) in enumerate(zip(geoms, props))
        ],
    }


def _extent(frames: Sequence[gpd.GeoDataFrame | None]) -> tuple[float, float, float, float] | None:
    boxes = []
    for f in frames:
        if f is None or f.empty or f.crs is None:
            continue
        g = f.geometry if f.crs.equals(CRS) else f.geometry.to_crs(CRS)
        g = g[g.notna() & ~g.is_empty]
        if len(g):
            boxes.append(g.total_bounds)
    if not boxes:
        return None
    b = np.array(boxes)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


# --------------------------------------------------------------------------- folium pieces

class _Raw(Element):
    """Pre-escaped HTML/CSS/JS emitted as is (the content is data, never template source)."""

    _template = Template("{{ this.content }}")

    def __init__(self, content: str):
        super().__init__()
        self._name = "Raw"
        self.content = content


class _Script(MacroElement):
    """A script run in the map's script section, after the elements added before it."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.js }}{% endmacro %}")

    def __init__(self, js: Callable[[], str]):
        super().__init__()
        self._name = "SitescoreScript"
        self._js = js

    def render(self, **kwargs):
        self.js = self._js()  # late: names of elements created after this one are known now
        super().render(**kwargs)


class _LayerControl(folium.LayerControl):
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


_BUILD_LOCK = threading.RLock()


@contextmanager
def _deterministic_build() -> Iterator[None]:
    """Counter ids instead of folium's random ones, and compact JSON, while a map is built."""
    counter = itertools.count(1)
    env = folium.GeoJson._template.environment
    with _BUILD_LOCK:
        original = Element.__dict__["_generate_id"]
        old_policy = env.policies.get("json.dumps_kwargs")
        Element._generate_id = classmethod(lambda cls: f"{next(counter):05d}")
        env.policies["json.dumps_kwargs"] = {"sort_keys": True, "separators": (",", ":")}
        try:
            yield
        finally:
            Element._generate_id = original
            env.policies["json.dumps_kwargs"] = old_policy


def _geojson_layer(collection: dict, on_each_feature: str, *, points: bool = False,
                   **options: Any) -> folium.GeoJson:
    """A GeoJson whose per-feature style and tooltip come from a small JS function.

    folium's own per-feature styles would write a switch case for every feature; here each
    feature carries an index into a style table instead.
    """
    return folium.GeoJson(
        collection,
        style_function=lambda feature: {},
        on_each_feature=JsCode(on_each_feature),
        marker=folium.CircleMarker(radius=4, fill=True) if points else None,
        **options,
    )


def _table_layer_js(styles: list[dict]) -> str:
    return (
        "function(feature, layer) {"
        f" var styles = {_js(styles)}; var p = feature.properties;"
        " layer.setStyle(styles[p.s]);"
        " if (p.t) { layer.bindTooltip(p.t, {sticky: true}); } }"
    )


# --------------------------------------------------------------------------- input layers

_LAYER_LABELS = {
    "federal_land": "Federal land (by managing agency)",
    "protected_areas": "Protected areas",
    "water_stress": "Baseline water stress (Aqueduct)",
    "counties": "Counties (workforce)",
    "states": "State boundaries",
    "candidates": "Planner's candidate sites",
    "rivers": "Rivers",
    "rail": "Rail lines",
    "roads": "Major roads",
    "transmission_lines": "Transmission lines (by voltage)",
    "substations": "Substations",
    "airports": "Airports",
    "power_plants": "Power plants (sized by MW)",
}
#: Drawing order: areas under lines under points (later layers draw on top).
_LAYER_ORDER = list(_LAYER_LABELS)

_AGENCY_COLORS = {
    "BLM": "#e8b500", "USFS": "#3d8b37", "FS": "#3d8b37", "DOD": "#c0504d", "DOE": "#4f81bd",
    "NPS": "#8064a2", "FWS": "#2aa198", "USFWS": "#2aa198", "BOR": "#7f6000", "USBR": "#7f6000",
    "TVA": "#d0743c", "OTHF": "#9e9e9e",
}
_WATER_STRESS = {  # Aqueduct baseline water stress category -> (colour, label)
    -1: ("#bdbdbd", "arid, low water use"), 0: ("#ffff99", "low"),
    1: ("#ffe600", "low-medium"), 2: ("#ff9900", "medium-high"), 3: ("#ff1900", "high"),
    4: ("#990000", "extremely high"),
}
_VOLTAGE_CLASSES = [  # (minimum kV, colour, weight, label): browns, apart from sites and cells
    (500.0, "#7f2704", 4.0, "500 kV and above"),
    (345.0, "#c84102", 3.2, "345-499 kV"),
    (230.0, "#f16913", 2.5, "230-344 kV"),
    (100.0, "#fd8d3c", 1.8, "100-229 kV"),
    (0.0, "#fdae6b", 1.3, "under 100 kV"),
]
_VOLTAGE_UNKNOWN = ("#7a7a7a", 1.3, "voltage unknown")
_FUEL_COLORS = {
    "solar": "#f2b705", "wind": "#56b4e9", "gas": "#e66101", "natural gas": "#e66101",
    "coal": "#4d4d4d", "nuclear": "#7b3294", "hydro": "#0571b0", "water": "#0571b0",
    "geothermal": "#a6611a", "oil": "#8c510a", "petroleum": "#8c510a", "biomass": "#1b7837",
    "storage": "#01665e", "batteries": "#01665e",
}
_ROAD_STYLES = {
    "interstate": ("#4d4d4d", 2.6), "freeway": ("#4d4d4d", 2.6),
    "primary": ("#6e6e6e", 1.8), "secondary": ("#929292", 1.2),
}


def plant_radius(capacity_mw: Any) -> float:
    """Circle radius (px) for a plant: area grows with MW, 3 px floor, 18 px ceiling."""
    mw = _num(capacity_mw)
    if mw is None or mw <= 0:
        return 3.0
    return round(min(18.0, max(3.0, 2.0 + 0.5 * math.sqrt(mw))), 1)


def _voltage_style(kv: Any) -> tuple[str, float, str]:
    v = _num(kv)
    if v is None:
        return _VOLTAGE_UNKNOWN
    for minimum, colour, weight, label in _VOLTAGE_CLASSES:
        if v >= minimum:
            return colour, weight, label
    return _VOLTAGE_CLASSES[-1][1:]


def _generic_style(geom_type: str, colour: str = "#6f6f6f") -> dict:
    if geom_type.endswith("Point"):
        return {"radius": 4, "color": "#333333", "weight": 1, "fillColor": colour,
                "fillOpacity": 0.8}
    if geom_type.endswith("LineString"):
        return {"color": colour, "weight": 1.6, "opacity": 0.9}
    return {"color": colour, "weight": 1, "opacity": 0.8, "fillColor": colour,
            "fillOpacity": 0.15}


def _feature_style(layer: str, row: Mapping[str, Any], geom_type: str) -> dict:
    """Leaflet path style for one feature of a named layer."""
    if layer == "federal_land":
        c = _AGENCY_COLORS.get(_text(row, "mang_name").upper(), "#9e9e9e")
        return {"color": c, "weight": 0.8, "opacity": 0.9, "fillColor": c, "fillOpacity": 0.25}
    if layer == "protected_areas":
        return {"color": "#3f3f3f", "weight": 1, "fillColor": "#3f3f3f", "fillOpacity": 0.3}
    if layer == "water_stress":
        cat = _num(row.get("bws_cat"))
        c = _WATER_STRESS.get(int(cat) if cat is not None else -99, ("#dddddd", ""))[0]
        return {"color": c, "weight": 0.4, "opacity": 0.8, "fillColor": c, "fillOpacity": 0.4}
    if layer == "counties":
        return {"color": "#4a4a4a", "weight": 1, "opacity": 0.8, "fillOpacity": 0.0}
    if layer == "states":
        return {"color": "#222222", "weight": 2, "opacity": 0.9, "fillOpacity": 0.0}
    if layer == "candidates":
        return {"color": "#0b63ce", "weight": 2, "dashArray": "6 4", "fillColor": "#0b63ce",
                "fillOpacity": 0.08}
    if layer == "rivers":
        return {"color": "#2b83ba", "weight": 1.5, "opacity": 0.9}
    if layer == "rail":
        return {"color": "#2d2d2d", "weight": 1.6, "dashArray": "6 3", "opacity": 0.9}
    if layer == "roads":
        c, w = _ROAD_STYLES.get(_text(row, "road_class").lower(), ("#929292", 1.2))
        return {"color": c, "weight": w, "opacity": 0.9}
    if layer == "transmission_lines":
        c, w, _ = _voltage_style(row.get("voltage_kv"))
        style = {"color": c, "weight": w, "opacity": 0.95}
        if _num(row.get("voltage_kv")) is None:
            style["dashArray"] = "4 4"
        return style
    if layer == "substations":
        return {"radius": 3.5, "color": "#222222", "weight": 1.5, "fillColor": "#ffffff",
                "fillOpacity": 1.0}
    if layer == "airports":
        kind = _text(row, "airport_type").lower()
        r = 7 if "large" in kind else 5 if "medium" in kind else 3
        return {"radius": r, "color": "#08306b", "weight": 1, "fillColor": "#6baed6",
                "fillOpacity": 0.9}
    if layer == "power_plants":
        fuel = _text(row, "primary_fuel").lower()
        c = next((v for k, v in _FUEL_COLORS.items() if k in fuel), "#999999")
        return {"radius": plant_radius(row.get("capacity_mw")), "color": "#333333",
                "weight": 0.8, "fillColor": c, "fillOpacity": 0.8}
    return _generic_style(geom_type)


# (label, column, unit) rows of each layer's tooltip; the first row is its bold heading.
_TOOLTIP_FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "federal_land": [("", "unit_name", ""), ("Managed by", "mang_name", ""),
                     ("Owner", "own_name", ""), ("Designation", "designation", ""),
                     ("GAP status", "gap_status", ""), ("Area", "gis_acres", "acres")],
    "protected_areas": [("", "name", ""), ("Designation", "designation", "")],
    "water_stress": [("", "bws_label", ""), ("Stress score (0-5)", "bws_score", ""),
                     ("Category", "bws_cat", "")],
    "counties": [("", "name", ""), ("Population", "population", ""),
                 ("Labour force", "labor_force", ""), ("Employed", "employed", ""),
                 ("Manufacturing jobs", "manufacturing_employment", ""),
                 ("Bachelor's or higher", "bachelors_or_higher", "")],
    "states": [("", "name", "")],
    "candidates": [("", "name", ""), ("Id", "candidate_id", "")],
    "rivers": [("", "name", ""), ("Kind", "feature_class", "")],
    "rail": [("", "owner", ""), ("Network", "network", ""), ("Tracks", "tracks", "")],
    "roads": [("", "name", ""), ("Class", "road_class", "")],
    "transmission_lines": [("Voltage", "voltage_kv", "kV"), ("Owner", "owner", ""),
                           ("Status", "status", ""), ("Line", "line_id", "")],
    "substations": [("", "name", ""), ("Max voltage", "max_volt_kv", "kV"),
                    ("Status", "status", "")],
    "airports": [("", "name", ""), ("IATA", "iata_code", ""), ("Type", "airport_type", "")],
    "power_plants": [("", "plant_name", ""), ("Fuel", "primary_fuel", ""),
                     ("Capacity", "capacity_mw", "MW")],
}


def _tooltip(layer: str, row: Mapping[str, Any], columns: Sequence[str]) -> str:
    """Escaped tooltip HTML for one feature of an input layer."""
    fields = _TOOLTIP_FIELDS.get(layer)
    if fields is None:  # unknown layer: its first few columns
        fields = [(c, c, "") for c in columns[:5]]
    parts = []
    for label, column, unit in fields:
        if column not in row:
            continue
        value = row[column]
        if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
            if _num(value) is None:
                continue
            text = _fmt(value, unit)
        else:
            text = _text(row, column)
            if not text:
                continue
        if label:
            parts.append(f"{esc(label)}: {esc(text)}")
        else:
            parts.append(f"<b>{esc(text)}</b>")
    return f"<div class=\"ss-tip-layer\">{esc(_layer_label(layer))}</div>" + "<br>".join(parts)


def _layer_label(name: str) -> str:
    return _LAYER_LABELS.get(name) or name.replace("_", " ").strip().capitalize() or "Layer"


def _input_layer(name: str, gdf: gpd.GeoDataFrame, clip) -> tuple[folium.GeoJson, str] | None:
    """The layer and its kind ('area', 'line' or 'point'), None when nothing is left to draw."""
    rows, geoms = _prepare(gdf, name=name, clip=clip)
    if not len(geoms):
        return None
    styles: list[dict] = []
    index: dict[str, int] = {}
    props = []
    columns = [str(c) for c in rows.columns]
    geom_types = shapely.get_type_id(geoms)
    type_names = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
                  5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
    for row, tid in zip(rows.to_dict("records"), geom_types):
        style = _feature_style(name, row, type_names.get(int(tid), "Polygon"))
        key = _js(style)
        if key not in index:
            index[key] = len(styles)
            styles.append(style)
        props.append({"s": index[key], "t": _tooltip(name, row, columns)})
    points = bool(np.all(np.isin(geom_types, [0, 4])))
    areas = bool(np.all(np.isin(geom_types, [3, 6])))
    layer = _geojson_layer(_collection(geoms, props), _table_layer_js(styles), points=points)
    return layer, ("point" if points else "area" if areas else "line")


# --------------------------------------------------------------------------- cells & sites

def _colour(score: Any, colormap: bcm.LinearColormap) -> str:
    x = _num(score)
    if x is None:
        return EXCLUDED_COLOR
    return colormap.rgb_hex_str(min(1.0, max(0.0, x)))


_CELLS_JS = (
    "function(feature, layer) { var p = feature.properties;"
    " layer.setStyle(SITESCORE.cellStyle(p));"
    " layer.bindTooltip(function() { return SITESCORE.cellTip(p); }, {sticky: true}); }"
)


def _cells_layer(cells: gpd.GeoDataFrame, criteria: Sequence[CriterionInfo],
                 rank_of_site: Mapping[Any, int]
                 ) -> tuple[folium.GeoJson | None, dict, dict, dict | None]:
    """Cells GeoJson, the lookup tables its tooltips use, counts, and (when the cells would
    exceed the page budget and are drawn as blocks instead) what the blocks are."""
    if "cell_id" in cells.columns:
        cells = cells.sort_values("cell_id", kind="stable")
    blocks = _block_plan(cells)
    if blocks is not None:
        return _blocks_layer(cells, criteria, rank_of_site, blocks)
    rows, geoms = _prepare(cells, name="cells", clip=None)
    units: dict[str, int] = {}
    reasons: dict[str, int] = {}
    with_breakdown = len(rows) <= CELL_BREAKDOWN_MAX_CELLS and bool(criteria)
    props = []
    n_excluded = 0
    for row in rows.to_dict("records"):
        p: dict[str, Any] = {"c": esc(_text(row, "cell_id"))}
        excluded = _flag(row.get("excluded"))
        score = _num(row.get("score"))
        if excluded:
            n_excluded += 1
            reason = esc(_text(row, "exclusion_reason") or "excluded")
            p["x"] = reasons.setdefault(reason, len(reasons))
        else:
            p["v"] = None if score is None else round(score, 3)
        unit = " · ".join(x for x in (_text(row, "agency"), _text(row, "unit_name")) if x)
        if unit:
            p["u"] = units.setdefault(esc(unit), len(units))
        acres = _num(row.get("eligible_acres"))
        if acres is not None:
            p["a"] = round(acres)
        site = row.get("site_id")
        try:
            rank = rank_of_site.get(site) if site is not None and not pd.isna(site) else None
        except TypeError:
            rank = None
        if rank is not None:
            p["r"] = int(rank)
        if with_breakdown and not excluded:
            values = [_num(row.get(f"value__{c.name}")) for c in criteria]
            p["b"] = [None if v is None else round(v, 2) for v in values]
        props.append(p)
    tables = {
        "units": list(units), "reasons": list(reasons),
        "criteria": [esc(c.label) for c in criteria],
    }
    counts = {"cells": len(rows), "excluded": n_excluded}
    if not len(geoms):
        return None, tables, counts, None
    # smooth_factor 0: Leaflet would otherwise simplify a cell of a pixel or two to nothing,
    # and a state-wide study would open on an empty map
    return _geojson_layer(_collection(geoms, props), _CELLS_JS, smooth_factor=0), tables, \
        counts, None


def _block_plan(cells: gpd.GeoDataFrame) -> dict | None:
    """None while the cells fit the page budget; else the block side (in cells) and each cell's
    block, the smallest side whose blocks take at most half the budget."""
    if len(cells) * CELL_BYTES_ESTIMATE <= PAGE_BUDGET_BYTES or cells.crs is None:
        return None
    g = cells.geometry if cells.crs.equals(CRS) else cells.geometry.to_crs(CRS)
    geoms = np.asarray(g.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return None
    areas = shapely.area(geoms[ok])
    size = float(np.sqrt(np.median(areas[areas > 0]))) if (areas > 0).any() else 1000.0
    centres = shapely.centroid(geoms[ok])
    x, y = shapely.get_x(centres), shapely.get_y(centres)
    for factor in BLOCK_FACTORS:
        side = factor * size
        keys = np.stack([np.floor(x / side), np.floor(y / side)], axis=1).astype(np.int64)
        uniq, block = np.unique(keys, axis=0, return_inverse=True)
        if len(uniq) * CELL_BYTES_ESTIMATE <= PAGE_BUDGET_BYTES / 2 or factor == BLOCK_FACTORS[-1]:
            return {"factor": factor, "ok": ok, "block": block.reshape(-1), "n_blocks": len(uniq),
                    "geoms": geoms[ok]}
    return None  # pragma: no cover - the loop always returns


def _blocks_layer(cells: gpd.GeoDataFrame, criteria: Sequence[CriterionInfo],
                  rank_of_site: Mapping[Any, int], plan: dict
                  ) -> tuple[folium.GeoJson | None, dict, dict, dict]:
    """Square blocks of cells: each with the eligible-acre-weighted MEAN score and criterion
    values of its scored cells (so the sliders re-colour blocks as they would the cells' mean),
    its best cell's score, and its number of excluded cells. No per-cell tooltips."""
    rows = cells.loc[plan["ok"]].reset_index(drop=True)
    blk, n_blk, geoms = plan["block"], plan["n_blocks"], plan["geoms"]
    n = np.bincount(blk, minlength=n_blk)
    excluded = rows["excluded"].fillna(False).astype(bool).to_numpy() \
        if "excluded" in rows.columns else np.zeros(len(rows), dtype=bool)
    score = pd.to_numeric(rows["score"], errors="coerce").to_numpy(dtype=float) \
        if "score" in rows.columns else np.full(len(rows), np.nan)
    acres = pd.to_numeric(rows["eligible_acres"], errors="coerce").fillna(0.0).to_numpy(dtype=float) \
        if "eligible_acres" in rows.columns else np.ones(len(rows))
    scored = ~excluded & np.isfinite(score)
    n_scored = np.bincount(blk, weights=scored.astype(float), minlength=n_blk)
    wt = np.where(scored, np.maximum(acres, 0.0), 0.0)
    no_acres = (np.bincount(blk, weights=wt, minlength=n_blk) == 0) & (n_scored > 0)
    wt = np.where(no_acres[blk] & scored, 1.0, wt)  # no acres recorded: a plain mean

    def mean(values: np.ndarray) -> np.ndarray:
        ok = scored & np.isfinite(values)
        w = np.where(ok, wt, 0.0)
        total = np.bincount(blk, weights=w, minlength=n_blk)
        s = np.bincount(blk, weights=w * np.where(ok, values, 0.0), minlength=n_blk)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, s / np.where(total > 0, total, 1.0), np.nan)

    mean_score = mean(score)
    best = np.full(n_blk, -np.inf)
    np.maximum.at(best, blk[scored], score[scored])
    columns = [f"value__{c.name}" for c in criteria]
    with_values = bool(criteria) and all(c in rows.columns for c in columns)
    means = [mean(pd.to_numeric(rows[c], errors="coerce").to_numpy(dtype=float))
             for c in columns] if with_values else []
    n_excl = np.bincount(blk, weights=excluded.astype(float), minlength=n_blk).astype(int)
    eligible = np.bincount(blk, weights=np.maximum(acres, 0.0), minlength=n_blk)
    no_rank = np.iinfo(np.int64).max
    site_rank = np.full(n_blk, no_rank, dtype=np.int64)
    if "site_id" in rows.columns and rank_of_site:
        ranks = np.array([rank_of_site.get(s, no_rank) if not _isna(s) else no_rank
                          for s in rows["site_id"].to_numpy(dtype=object)], dtype=np.int64)
        np.minimum.at(site_rank, blk, ranks)
    reasons: dict[str, int] = {}
    first_reason = np.full(n_blk, -1)
    if excluded.any():
        why = rows["exclusion_reason"].to_numpy(dtype=object) \
            if "exclusion_reason" in rows.columns else np.full(len(rows), None, dtype=object)
        where = np.flatnonzero(excluded)
        blocks_hit, first = np.unique(blk[where], return_index=True)  # each block's first
        for b, i in zip(blocks_hit, where[first]):
            text = esc(_text({"r": why[i]}, "r") or "excluded")
            first_reason[b] = reasons.setdefault(text, len(reasons))
    bounds = shapely.bounds(geoms)
    lo = np.full((n_blk, 2), np.inf)
    hi = np.full((n_blk, 2), -np.inf)
    np.minimum.at(lo, blk, bounds[:, :2])
    np.maximum.at(hi, blk, bounds[:, 2:])
    boxes = gpd.GeoDataFrame({"_b": np.arange(n_blk)},
                             geometry=shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]), crs=CRS)
    kept, web = _prepare(boxes, name="cells", clip=None, tolerance=0)
    props = []
    for b in kept["_b"].to_numpy():
        p: dict[str, Any] = {"n": int(n[b])}
        if n_scored[b] == 0:
            p["x"] = int(first_reason[b]) if first_reason[b] >= 0 else \
                reasons.setdefault("no scored cell", len(reasons))
        else:
            p["v"] = round(float(mean_score[b]), 3)
            p["m"] = round(float(best[b]), 3)
            if means:
                p["b"] = [None if not np.isfinite(m[b]) else round(float(m[b]), 2) for m in means]
        if n_excl[b]:
            p["e"] = int(n_excl[b])
        p["a"] = round(float(eligible[b]))
        if site_rank[b] != no_rank:
            p["r"] = int(site_rank[b])
        props.append(p)
    tables = {"units": [], "reasons": list(reasons), "criteria": [esc(c.label) for c in criteria]}
    counts = {"cells": len(rows), "excluded": int(excluded.sum())}
    info = {"factor": plan["factor"], "cells": len(rows), "blocks": len(props)}
    layer = _geojson_layer(_collection(web, props), _CELLS_JS, smooth_factor=0) if len(web) else None
    return layer, tables, counts, info


def _isna(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _bar(fraction: float | None, colour: str, width_px: float = 56.0) -> str:
    f = 0.0 if fraction is None else min(1.0, max(0.0, fraction))
    return (f'<span class="ss-bar" style="width:{width_px:.0f}px">'
            f'<span style="width:{100 * f:.0f}%;background:{colour}"></span></span>')


def _site_popup(site: Mapping[str, Any], criteria: Sequence[CriterionInfo],
                colormap: bcm.LinearColormap) -> str:
    """Escaped popup HTML: the site's identity and its per-criterion breakdown."""
    rank = int(site["rank"])
    score = _num(site.get("score"))
    where = " · ".join(esc(x) for x in (_text(site, "agency"), _text(site, "unit_name"),
                                         _text(site, "state")) if x)
    weights = []
    for c in criteria:
        w = _num(site.get(f"weight__{c.name}"))
        weights.append(c.weight if w is None else w)
    w_max = max([w for w in weights if w is not None] + [1e-9])
    rows = []
    total = 0.0
    for c, w in zip(criteria, weights):
        raw = site.get(f"raw__{c.name}")
        value = _num(site.get(f"value__{c.name}"))
        contrib = _num(site.get(f"contribution__{c.name}"))
        if contrib is None and value is not None and w is not None:
            contrib = w * value
        total += contrib or 0.0
        label = esc(c.label)
        title = f' title="{esc(c.value_description)}"' if c.value_description else ""
        value_cell = "n/a"
        if value is not None:
            value_cell = f"{_bar(value, _colour(value, colormap), 48)} {value:.2f}"
        contrib_cell = "n/a"
        if contrib is not None:
            # The bar's length is the weight (the most it could add), its fill what it adds.
            share = contrib / w if w else 0.0
            contrib_cell = f"{_bar(share, '#1f6fb2', 12 + 58 * w / w_max)} {contrib:.3f}"
        rows.append(
            f'<tr data-criterion="{esc(c.name)}"><td{title}>{label}</td>'
            f'<td class="ss-num">{esc(_fmt(raw, c.unit))}</td>'
            f'<td>{value_cell}</td><td class="ss-num ss-w">{_pct(w)}</td>'
            f'<td class="ss-c">{contrib_cell}</td></tr>'
        )
    score_text = f"{score:.3f}" if score is not None else f"{total:.3f}"
    acres = _fmt(site.get("acres"))
    n_cells = _num(site.get("n_cells"))
    cells_text = f" · {int(n_cells)} cells" if n_cells is not None else ""
    return (
        f'<div class="ss-popup" data-rank="{rank}">'
        f'<div class="ss-pop-title"><span class="ss-pop-rank">#{rank}</span> '
        f'{esc(_text(site, "name"))}</div>'
        f'<div class="ss-pop-meta">{where}<br>{esc(acres)} acres{cells_text} · '
        f'score <b class="ss-pop-score">{score_text}</b></div>'
        f'<table class="sitescore-breakdown"><thead><tr><th>Criterion</th><th>Raw value</th>'
        f'<th>Score 0..1</th><th>Weight</th><th>Contribution</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody>'
        f'<tfoot><tr><td colspan="4">Total score</td>'
        f'<td class="ss-num ss-pop-score">{score_text}</td></tr>'
        f'</tfoot></table>{_stability_html(site)}</div>'
    )


def _stability_layer(records: list[dict], geoms) -> folium.FeatureGroup | None:
    """'Rank stability': a ring per site, larger and greener the more often it stays in the
    top k under weight doubt (from `sitescore sensitivity`)."""
    if not records or not any(str(k).startswith("p_top_") for k in records[0]):
        return None
    key = next(str(k) for k in records[0] if str(k).startswith("p_top_"))
    group = folium.FeatureGroup(name=f"Rank stability (share of draws in the top "
                                     f"{esc(key.removeprefix('p_top_'))})", show=False)
    for record, geom in zip(records, geoms):
        p = _num(record.get(key))
        location = _site_location(record, geom)
        if p is None or location is None:
            continue
        colour = "#1a9850" if p >= 0.8 else "#fdae61" if p >= 0.4 else "#d73027"
        folium.CircleMarker(location=location, radius=8 + 16 * p, color=colour, weight=3,
                            fill=True, fill_opacity=0.15,
                            tooltip=f"#{int(record['rank'])}: in the top in {100 * p:.0f} % of draws, "
                                    f"median rank {_fmt(record.get('median_rank'))}").add_to(group)
    return group


def _stability_html(site: Mapping[str, Any]) -> str:
    """Rank stability from `sitescore sensitivity`, when the run computed it."""
    p_cols = [k for k in site.keys() if str(k).startswith("p_top_")]
    median, lo, hi = (_num(site.get(k)) for k in ("median_rank", "rank_p05", "rank_p95"))
    if not p_cols or median is None:
        return ""
    k = str(p_cols[0]).removeprefix("p_top_")
    p = _num(site.get(p_cols[0])) or 0.0
    return (f'<div class="ss-stability">Rank stability under weight doubt: in the top {esc(k)} in '
            f'<b>{100 * p:.0f} %</b> of draws; median rank {median:.0f}, 90 % interval '
            f'{lo:.0f}–{hi:.0f}. <a href="sensitivity/index.html" target="_blank">Weight sweeps</a></div>')


def _site_location(site: Mapping[str, Any], geom_5070) -> tuple[float, float] | None:
    lon, lat = _num(site.get("lon")), _num(site.get("lat"))
    if lon is not None and lat is not None and -180 <= lon <= 180 and -90 <= lat <= 90:
        return round(lat, COORD_DECIMALS), round(lon, COORD_DECIMALS)
    if geom_5070 is None or shapely.is_empty(geom_5070):
        return None
    p = gpd.GeoSeries([geom_5070.representative_point()], crs=CRS).to_crs(WEB_CRS).iloc[0]
    return round(p.y, COORD_DECIMALS), round(p.x, COORD_DECIMALS)


# --------------------------------------------------------------------------- page chrome


_METHOD_LABELS = {"weighted_sum": "weighted sum", "weighted_product": "weighted product",
                  "topsis": "TOPSIS"}


def _title_box(title: str, *, criteria: Sequence[CriterionInfo], weights: Sequence[float],
               sliders: Sequence[int] | None, aggregation: str, counts: Mapping[str, int],
               n_sites: int, notes: Sequence[str], synthetic: bool, key_html: str) -> str:
    """The title box: counts, criteria with their weights (a slider each when the page can
    re-rank), the map key and the notes. ``weights`` are the normalised weights in use."""
    parts = ['<div id="sitescore-title" class="sitescore-box">']
    if synthetic:
        parts.append(f'<div class="ss-synthetic-line">{esc(SYNTHETIC_BANNER)}</div>')
    parts.append(f'<div class="ss-title">{esc(title)}</div>')
    parts.append(
        f'<div class="ss-sub">{n_sites} ranked site{"s" if n_sites != 1 else ""} · '
        f'{counts.get("cells", 0) - counts.get("excluded", 0):,} cells scored · '
        f'{counts.get("excluded", 0):,} excluded</div>'
    )
    if criteria:
        rows = []
        for j, (c, w) in enumerate(zip(criteria, weights)):
            desc = f'<div class="ss-desc">{esc(c.value_description)}</div>' \
                if c.value_description else ""
            rows.append(f'<tr data-name="{esc(c.name)}"><td>{esc(c.label)}{desc}</td>'
                        f'<td class="ss-num ss-wpct">{_pct(w)}</td></tr>')
            if sliders is not None:
                rows.append(
                    f'<tr class="ss-sliderrow"><td colspan="2"><input type="range" '
                    f'class="ss-slider" min="0" max="{SLIDER_MAX}" step="1" '
                    f'value="{sliders[j]}" data-index="{j}" data-name="{esc(c.name)}" '
                    f'aria-label="Weight of {esc(c.label)}"></td></tr>')
        tools = ""
        if sliders is not None:
            tools = (
                '<div id="ss-weight-state">Configured weights (as in the run)</div>'
                '<div id="ss-weight-note" role="status"></div>'
                '<div class="ss-weight-tools"><button type="button" id="ss-reset">Reset</button>'
                '<button type="button" id="ss-export">Export weights as YAML</button></div>'
                '<div id="ss-export-box" hidden><textarea id="ss-yaml" rows="7" readonly '
                'spellcheck="false" aria-label="Weights as YAML"></textarea>'
                '<div class="ss-weight-tools"><a id="ss-download" download="weights.yaml" '
                'href="#">Download weights.yaml</a><button type="button" id="ss-copy">Copy'
                '</button></div></div>')
        method = _METHOD_LABELS.get(aggregation, aggregation)
        parts.append('<details open><summary>Criteria and weights</summary>'
                     f'<div class="ss-method">Combined by {esc(method)}'
                     f'{"; drag a slider to re-rank the sites" if sliders is not None else ""}'
                     f'</div><table class="ss-criteria">{"".join(rows)}</table>{tools}</details>')
    parts.append(f'<details><summary>Map key</summary>{key_html}</details>')
    if notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in notes)
        parts.append(f'<details open><summary>Notes</summary><ul class="ss-notes">{items}'
                     '</ul></details>')
    parts.append("</div>")
    return "".join(parts)


def _site_panel(records: Sequence[Mapping[str, Any]]) -> str:
    """The ranked sites, in the configured order (the page re-orders them with the sliders)."""
    items = []
    for i, r in enumerate(records):
        where = " · ".join(esc(x) for x in (_text(r, "agency"), _text(r, "unit_name"),
                                             _text(r, "state")) if x)
        score = _num(r.get("score"))
        cls = "ss-site ss-site-excluded" if _flag(r.get("excluded")) else "ss-site"
        items.append(
            f'<li class="{cls}" data-index="{i}" data-site-id="{esc(_text(r, "site_id"))}" '
            f'tabindex="0"><span class="ss-site-rank">{int(r["rank"])}</span>'
            f'<span class="ss-site-body"><span class="ss-site-name">{esc(_text(r, "name"))}'
            f'</span><span class="ss-site-meta">{where}</span><span class="ss-site-meta">score '
            f'<b class="ss-site-score">{"n/a" if score is None else f"{score:.3f}"}</b> · '
            f'{esc(_fmt(r.get("acres")))} acres</span></span></li>')
    return (
        '<div id="sitescore-panel" class="sitescore-box ss-panel">'
        f'<div class="ss-panel-title">Ranked sites ({len(records)})</div>'
        '<input id="ss-search" type="search" placeholder="Find a site or unit name" '
        'aria-label="Find a site or unit name" autocomplete="off">'
        '<div id="ss-search-note" role="status"></div>'
        f'<ol id="ss-site-list">{"".join(items)}</ol></div>'
    )


def _key_html(present: set[str]) -> str:
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
        for _, colour, weight, label in _VOLTAGE_CLASSES:
            rows.append(f'<div class="ss-key-row"><span class="ss-line" style="border-top:'
                        f'{weight:.0f}px solid {colour}"></span>line {label}</div>')
        colour, weight, label = _VOLTAGE_UNKNOWN
        rows.append(f'<div class="ss-key-row"><span class="ss-line" style="border-top:2px '
                    f'dashed {colour}"></span>line, {label}</div>')
    if "power_plants" in present:
        dots = "".join(
            f'<span class="ss-dot" style="width:{2 * plant_radius(mw):.0f}px;'
            f'height:{2 * plant_radius(mw):.0f}px"></span>' for mw in (10, 100, 1000))
        rows.append(f'<div class="ss-key-row">{dots}plants of 10, 100, 1,000 MW</div>')
    if "water_stress" in present:
        sw = "".join(f'<span class="ss-sw" style="background:{c}" title="{esc(lbl)}"></span>'
                     for c, lbl in (v for k, v in sorted(_WATER_STRESS.items()) if k >= 0))
        rows.append(f'<div class="ss-key-row">{sw}water stress, low to extremely high</div>')
    if "federal_land" in present:
        for code in ("BLM", "USFS", "DOD", "DOE", "NPS", "FWS"):
            rows.append(f'<div class="ss-key-row"><span class="ss-sw" style="background:'
                        f'{_AGENCY_COLORS[code]}"></span>{code} land</div>')
    return "".join(rows)


# --------------------------------------------------------------------------- the map

def write_map(path: Path, *, title: str, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
              criteria: Sequence[CriterionInfo], layers: Mapping[str, gpd.GeoDataFrame],
              excluded: gpd.GeoDataFrame | None = None, synthetic: bool = False,
              notes: Sequence[str] = (), aggregation: str = "weighted_sum",
              offline: bool = False) -> Path:
    """Write the run's interactive map to ``path`` (atomically) and return ``path``.

    All frames are in EPSG:5070 (others are reprojected); see the module docstring for what
    the page shows. ``aggregation`` is the run's method (the page's sliders re-rank with it);
    ``offline`` makes a page that loads nothing from the network (scripts inlined, a ``states``
    layer drawn instead of basemap tiles). Same inputs give the same bytes.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; known: {', '.join(AGGREGATIONS)}")
    path = Path(path)
    with _deterministic_build(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # xyzservices/folium chatter
        page = _build(title=title, cells=cells, sites=sites, criteria=list(criteria),
                      layers=layers, excluded=excluded, synthetic=synthetic, notes=list(notes),
                      aggregation=aggregation, offline=offline)
    if offline:
        page = inline_assets(page)
    _write_atomic(path, page.encode("utf-8"))
    return path


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
    default_js = _MINIMAP_JS
    default_css = _MINIMAP_CSS

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


_MINIMAP_OPTIONS = {"position": "bottomright", "width": 150, "height": 150,
                    "collapsedWidth": 24, "collapsedHeight": 24, "zoomLevelOffset": -5,
                    "toggleDisplay": True, "minimized": False}
_BASEMAP_STYLE = {"color": "#8c8c8c", "weight": 1, "opacity": 1, "fillColor": "#fbfaf6",
                  "fillOpacity": 1}
#: Offline, state outlines are drawn this far around the results (the minimap looks far out).
BASEMAP_MARGIN_M = 1_500_000.0


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


def _tools(m: folium.Map, offline: bool, has_basemap: bool) -> None:
    """Fullscreen, measure (km and miles, hectares and acres) and minimap controls."""
    fs = Fullscreen(position="topleft", title="Full screen", title_cancel="Exit full screen")
    fs.default_js, fs.default_css = _FULLSCREEN_JS, _FULLSCREEN_CSS
    fs.add_to(m)
    measure = _Measure(position="topleft", primary_length_unit="kilometers",
                       secondary_length_unit="miles", primary_area_unit="hectares",
                       secondary_area_unit="acres")
    measure.default_js, measure.default_css = _MEASURE_JS, _MEASURE_CSS
    measure.add_to(m)
    if not offline:
        _MiniMap(_BASEMAPS[0][0], _MINIMAP_OPTIONS).add_to(m)
    elif has_basemap:
        _MiniMap(None, _MINIMAP_OPTIONS).add_to(m)


def _basemap(states: gpd.GeoDataFrame | None, extent) -> dict | None:
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
    _, geoms = _prepare(states, name="states", clip=clip, tolerance=tolerance)
    if not len(geoms):
        return None
    return _collection(geoms, [{} for _ in geoms])


def _site_id_order(sites: pd.DataFrame) -> list[int]:
    """Each site's place when the site ids are sorted (the CLI's tie-break)."""
    if "site_id" not in sites.columns:
        return list(range(len(sites)))
    ids = list(sites["site_id"])
    try:
        order = sorted(range(len(ids)), key=lambda i: ids[i])
    except TypeError:
        order = sorted(range(len(ids)), key=lambda i: str(ids[i]))
    place = [0] * len(ids)
    for k, i in enumerate(order):
        place[i] = k
    return place


def _site_data(records: list[dict], sites_5070: gpd.GeoDataFrame | None,
               criteria: Sequence[CriterionInfo]) -> tuple[list[dict], list[float], bool]:
    """What the page re-ranks with: per site its criterion values at full precision (floats go
    into the page as their shortest round-trip repr), and the configured weights as the run
    used them (the sites table's weight__ columns, already normalised)."""
    names = [c.name for c in criteria]
    weights = []
    for c in criteria:
        col = [_num(r.get(f"weight__{c.name}")) for r in records]
        w = next((x for x in col if x is not None), None)
        weights.append(float(c.weight) if w is None else w)
    rescorable = bool(names) and bool(records) and \
        all(f"value__{n}" in records[0] for n in names)
    boxes: list = [None] * len(records)
    if sites_5070 is not None and len(records):
        geoms = np.asarray(sites_5070.geometry.values, dtype=object)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if ok.any():
            web = gpd.GeoSeries(shapely.envelope(geoms[ok]), crs=CRS).to_crs(WEB_CRS).bounds
            for i, b in zip(np.flatnonzero(ok), web.to_numpy()):
                boxes[i] = [[round(float(b[1]), 5), round(float(b[0]), 5)],
                            [round(float(b[3]), 5), round(float(b[2]), 5)]]
    order = _site_id_order(pd.DataFrame(records))
    out = []
    for i, r in enumerate(records):
        site = {"k": int(r["rank"]), "o": order[i], "n": esc(_text(r, "name")),
                "at": esc(_fmt(r.get("acres"))), "s": _num(r.get("score")), "bb": boxes[i]}
        if rescorable:
            site["v"] = [_num(r.get(f"value__{n}")) for n in names]
        if _flag(r.get("excluded")):
            site["x"] = 1
        out.append(site)
    return out, weights, rescorable


def _build(*, title: str, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
           criteria: list[CriterionInfo], layers: Mapping[str, gpd.GeoDataFrame],
           excluded: gpd.GeoDataFrame | None, synthetic: bool, notes: list[str],
           aggregation: str, offline: bool) -> str:
    sites = sites if sites is not None else gpd.GeoDataFrame(geometry=[], crs=CRS)
    if "rank" not in sites.columns:  # the contract has it; otherwise the order given is the rank
        sites = sites.assign(rank=range(1, len(sites) + 1))
    sites = sites[sites["rank"].notna()].sort_values("rank", kind="stable")
    extent = _extent([cells, sites])
    if extent is None:
        extent = _extent(list(layers.values()) + [excluded])
    clip = None
    if extent is not None:
        span = max(extent[2] - extent[0], extent[3] - extent[1])
        margin = max(CONTEXT_MARGIN_M, 0.25 * span)
        clip = (extent[0] - margin, extent[1] - margin, extent[2] + margin, extent[3] + margin)

    # Open at the results: centre and an estimated zoom (the script below fits exactly, without
    # an animation and without first loading tiles for the whole country).
    bounds = None
    location, zoom = [39.5, -98.35], 4
    if extent is not None:
        b = gpd.GeoSeries([shapely.box(*extent)], crs=CRS).to_crs(WEB_CRS).total_bounds
        bounds = [[round(float(b[1]), 5), round(float(b[0]), 5)],
                  [round(float(b[3]), 5), round(float(b[2]), 5)]]
        location = [round(float(b[1] + b[3]) / 2, 5), round(float(b[0] + b[2]) / 2, 5)]
        span = max(float(b[2] - b[0]), float(b[3] - b[1]) * 1.3, 1e-6)
        zoom = int(min(FIT_MAX_ZOOM, max(3, math.floor(math.log2(360.0 * 900 / (256 * span))))))
    m = folium.Map(location=location, zoom_start=zoom, tiles=None, prefer_canvas=True,
                   control_scale=True, font_size="0.8rem")
    m.default_js = list(_MAP_JS)
    m.default_css = list(_MAP_CSS)
    figure = m.get_root()
    figure.title = esc(title)
    notes = list(notes)
    basemap = None
    if offline:
        basemap = _basemap(layers.get("states"), extent)
        if basemap is None:
            notes.append("offline page: no basemap (the study has no state outlines)")
    else:
        for i, (provider, label) in enumerate(_BASEMAPS):
            folium.TileLayer(provider, name=esc(label), overlay=False, control=True,
                             show=(i == 0)).add_to(m)
    _tools(m, offline, basemap is not None)

    colormap = bcm.LinearColormap(SCORE_COLORS, vmin=0.0, vmax=1.0,
                                  caption="Suitability score (0 = worst, 1 = best)")
    colormap.width = 330
    colormap.tick_labels = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]

    # Input layers first (off by default), so results draw above them on opening.
    registry: dict[str, Any] = {}
    names = sorted(layers, key=lambda n: (_LAYER_ORDER.index(n) if n in _LAYER_ORDER
                                          else len(_LAYER_ORDER), str(n)))
    present: set[str] = set()
    kinds: dict[str, str] = {}
    for name in names:
        gdf = layers[name]
        if not isinstance(gdf, gpd.GeoDataFrame) or gdf.empty:
            continue
        if name == "states" and basemap is not None:
            continue  # drawn as the basemap already
        built = _input_layer(str(name), gdf, clip)
        if built is None:
            continue
        layer, kind = built
        kinds[str(name)] = kind
        group = folium.FeatureGroup(name=esc(_layer_label(str(name))), show=False)
        layer.add_to(group)
        group.add_to(m)
        registry[str(name)] = group
        present.add(str(name))

    if excluded is not None and not excluded.empty:
        rows, geoms = _prepare(excluded, name="excluded", clip=clip)
        if len(geoms):
            style = {"color": "#4d4d4d", "weight": 0.6, "opacity": 0.8, "fillColor": "#4d4d4d",
                     "fillOpacity": 0.35}
            props = [{"s": 0, "t": "<div class=\"ss-tip-layer\">Excluded land</div>"
                      f"{esc(_text(r, 'reason') or 'excluded')}"}
                     for r in rows.to_dict("records")]
            group = folium.FeatureGroup(name="Excluded land (with reason)", show=False)
            _geojson_layer(_collection(geoms, props), _table_layer_js([style])).add_to(group)
            group.add_to(m)
            registry["excluded"] = group

    rank_of_site = {}
    if {"site_id", "rank"} <= set(sites.columns):
        rank_of_site = {sid: int(r) for sid, r in zip(sites["site_id"], sites["rank"])}
    cells_layer, tables, counts, blocks = _cells_layer(cells, criteria, rank_of_site)
    if cells_layer is not None:
        label = "Cells: suitability score (grey = excluded)" if blocks is None else \
            f"Cells in {blocks['factor']} x {blocks['factor']} blocks: mean score " \
            "(grey = excluded)"
        group = folium.FeatureGroup(name=label, show=True)
        cells_layer.add_to(group)
        group.add_to(m)
        registry["cells"] = group
    if blocks is not None:
        k = blocks["factor"]
        notes.append(
            f"{blocks['cells']:,} cells would make the page heavier than "
            f"{PAGE_BUDGET_BYTES / 1e6:g} MB: they are drawn as {blocks['blocks']:,} blocks of "
            f"{k}×{k} cells, each coloured by the eligible-acre-weighted mean score of its "
            "scored cells (no per-cell tooltips); every site is drawn in full.")

    # Ranked sites: outlines above the cells, numbered markers above all.
    site_group = folium.FeatureGroup(name="Ranked sites", show=True)
    site_records = sites.to_dict("records") if len(sites) else []
    site_markers: list[folium.Marker | None] = [None] * len(site_records)
    geom_col = sites.geometry.name if isinstance(sites, gpd.GeoDataFrame) and len(sites) else None
    sites_5070 = sites.to_crs(CRS) if geom_col and sites.crs is not None and \
        not sites.crs.equals(CRS) else sites
    if geom_col:
        # Outlines as lines: with canvas rendering a polygon catches the mouse over its whole
        # interior, and the cells inside a site must keep their tooltips.
        outlines = sites_5070.set_geometry(sites_5070.geometry.boundary)
        outline_rows, outline_geoms = _prepare(outlines, name="sites", clip=None)
        props = [{"r": int(r["rank"])} for r in outline_rows.to_dict("records")]
        style = {"color": SITE_COLOR, "weight": 3, "opacity": 1.0}
        js = (
            "function(feature, layer) {"
            f" layer.setStyle({_js(style)}); var p = feature.properties;"
            " layer.bindTooltip(function () { return SITESCORE.siteTip(p.r); }, {sticky: true});"
            " layer.on('click', function () { var s = window.sitescore;"
            " var mk = s && s.siteMarkers[SITESCORE.indexOfRank0[p.r]];"
            " if (mk) { layer.closeTooltip(); mk.openPopup(); } }); }"
        )
        if len(outline_geoms):
            _geojson_layer(_collection(outline_geoms, props), js).add_to(site_group)
    for i, (record, geom) in enumerate(zip(site_records,
                                           sites_5070.geometry if geom_col else [])):
        rank = int(record["rank"])
        location = _site_location(record, geom)
        if location is None:
            continue
        icon = folium.DivIcon(html=str(rank), icon_size=(26, 26), icon_anchor=(13, 13),
                              popup_anchor=(0, -10),
                              class_name=f"sitescore-rank sitescore-rank-{rank}")
        popup = folium.Popup(folium.Html(_site_popup(record, criteria, colormap), script=True),
                             max_width=600, auto_pan_padding_top_left=[20, 75],
                             auto_pan_padding_bottom_right=[290, 20])  # clear of the panel
        tooltip = folium.Tooltip(f"#{rank} {esc(_text(record, 'name'))}")
        marker = folium.Marker(location=location, icon=icon, popup=popup, tooltip=tooltip,
                               z_index_offset=10_000 - rank)
        marker.add_to(site_group)
        site_markers[i] = marker
    site_group.add_to(m)
    registry["sites"] = site_group
    stability = _stability_layer(site_records, sites_5070.geometry if geom_col else [])
    if stability is not None:
        stability.add_to(m)
        registry["stability"] = stability

    colormap.add_to(m)
    first = [registry[k] for k in ("sites", "cells", "excluded") if k in registry]
    _LayerControl(first, collapsed=True, position="topright").add_to(m)

    site_data, weights0, rescorable = _site_data(site_records, sites_5070 if geom_col else None,
                                                 criteria)
    sliders0 = [round(SLIDER_MAX * w) for w in weights0] if rescorable else None
    data = {
        "palette": [_colour(i / 100, colormap) for i in range(101)],
        "excludedColor": EXCLUDED_COLOR,
        "outlineMinZoom": CELL_OUTLINE_MIN_ZOOM,
        **tables,
        "names": [esc(c.name) for c in criteria],
        "method": aggregation,
        "weights0": weights0,
        "sliders0": sliders0,
        "rescorable": rescorable,
        "sites": site_data,
        "title": esc(title),
        "basemap": basemap,
        "basemapStyle": _BASEMAP_STYLE,
        "minimap": "basemap" if basemap is not None else None,
        "minimapOptions": _MINIMAP_OPTIONS,
    }
    figure.header.add_child(_Raw(f"<style>{_asset_text('sitescore/map.css')}"
                                 f"{_OFFLINE_CSS if offline else ''}</style>"),
                            name="sitescore_css")
    figure.header.add_child(_Raw(f"<script>var SITESCORE_DATA = {_js(data)};</script>"
                                 f"<script>{_script_safe(_asset_text('sitescore/map.js'))}"
                                 "</script>"), name="sitescore_js")
    if synthetic:
        figure.html.add_child(_Raw(f'<div id="sitescore-banner" role="alert">'
                                   f'{esc(SYNTHETIC_BANNER)}</div>'), name="sitescore_banner")
    n_markers = sum(mk is not None for mk in site_markers)
    figure.html.add_child(_Raw(_title_box(title, criteria=criteria, weights=weights0,
                                          sliders=sliders0, aggregation=aggregation,
                                          counts=counts, n_sites=n_markers, notes=notes,
                                          synthetic=synthetic, key_html=_key_html(present))),
                          name="sitescore_title")
    if site_records:
        figure.html.add_child(_Raw(_site_panel(site_records)), name="sitescore_panel")

    # Stacking when layers are switched on: input areas < cells < input lines < points < sites.
    stack = (["cells"] + [k for k, v in kinds.items() if v == "line"]
             + [k for k, v in kinds.items() if v == "point"] + ["sites"])
    stack = [k for k in stack if k in registry]

    def registry_js() -> str:
        layer_refs = ",".join(f"{_js(k)}:{v.get_name()}" for k, v in registry.items())
        marker_refs = ",".join(f"{int(r['rank'])}:{mk.get_name()}"
                               for r, mk in zip(site_records, site_markers) if mk is not None)
        site_refs = ",".join(mk.get_name() if mk is not None else "null" for mk in site_markers)
        return (
            f"var ssBox = document.getElementById('sitescore-title');"
            f" if (ssBox) {{ var ssTitle = L.control({{position: 'topleft'}});"
            f" ssTitle.onAdd = function () {{ L.DomEvent.disableClickPropagation(ssBox);"
            f" L.DomEvent.disableScrollPropagation(ssBox); return ssBox; }};"
            f" ssTitle.addTo({m.get_name()}); }}"
            f" window.sitescore = {{map: {m.get_name()}, layers: {{{layer_refs}}},"
            f" markers: {{{marker_refs}}}, siteMarkers: [{site_refs}], stack: {_js(stack)}}};"
            f" {m.get_name()}.on('overlayadd', function () {{ var s = window.sitescore;"
            f" s.stack.forEach(function (k) {{ if (s.map.hasLayer(s.layers[k])) {{"
            f" s.layers[k].bringToFront(); }} }}); }});"
            f" {m.get_name()}.on('zoomend', SITESCORE.cellZoom);"
            + (f" {m.get_name()}.fitBounds({_js(bounds)}, {{paddingTopLeft: [250, 30],"
               f" paddingBottomRight: [{290 if site_records else 30}, 30],"
               f" maxZoom: {FIT_MAX_ZOOM}, animate: false}});"
               if bounds else "")
            + " SITESCORE.init(); SITESCORE.cellZoom();"
        )

    _Script(registry_js).add_to(m)
    return figure.render()


_OFFLINE_CSS = ".leaflet-container { background: #dfe6ec; }"


@functools.cache
def _asset_bytes(rel: str) -> bytes:
    return (ASSETS_DIR / rel).read_bytes()


def _asset_text(rel: str) -> str:
    return _asset_bytes(rel).decode("utf-8")


def _script_safe(js: str) -> str:
    """Script text that cannot end its <script> element early."""
    return js.replace("</script", "<\\/script").replace("<!--", "<\\!--")


_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".gif": "image/gif"}


def _inline_css(rel: str) -> str:
    """A vendored stylesheet with every file it points at (images) as a data: URI."""
    base = (ASSETS_DIR / rel).parent

    def data_uri(m: re.Match) -> str:
        target = m.group(2)
        if target.startswith(("data:", "#")) or "://" in target:
            return m.group(0)
        file = (base / target).resolve()
        if ASSETS_DIR not in file.parents or not file.is_file():
            raise FileNotFoundError(f"webmap: {rel} needs {target}, not in {ASSETS_DIR}")
        mime = _MIME.get(file.suffix.lower(), "application/octet-stream")
        return f'url("data:{mime};base64,{base64.b64encode(file.read_bytes()).decode()}")'

    return _CSS_URL.sub(data_uri, _asset_text(rel)).replace("</style", "<\\/style")


_SCRIPT_TAG = re.compile(r'<script src="([^"]+)"></script>')
_LINK_TAG = re.compile(r'<link rel="stylesheet" href="([^"]+)"\s*/?>')


def inline_assets(page: str) -> str:
    """The page with every CDN script and stylesheet replaced by its vendored copy, inline.

    Raises ValueError for a file that is not vendored (the page would need the network)."""
    def script(m: re.Match) -> str:
        url = html.unescape(m.group(1))
        if url not in OFFLINE_ASSETS:
            raise ValueError(f"webmap: {url} is not vendored in {ASSETS_DIR}")
        return f"<script>{_script_safe(_asset_text(OFFLINE_ASSETS[url]))}</script>"

    def link(m: re.Match) -> str:
        url = html.unescape(m.group(1))
        if url not in OFFLINE_ASSETS:
            raise ValueError(f"webmap: {url} is not vendored in {ASSETS_DIR}")
        return f"<style>{_inline_css(OFFLINE_ASSETS[url])}</style>"

    page = _SCRIPT_TAG.sub(script, page)
    page = _LINK_TAG.sub(link, page)
    left = re.search(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", page)
    if left:
        raise ValueError(f"webmap: the offline page still loads {left.group(0)!r}")
    return page


def _write_atomic(path: Path, data: bytes) -> None:
    """Write through a temp file in the same folder, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
