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

The page is kept light (geometries simplified to display scale, coordinates rounded to 5
decimals, canvas rendering, compact JSON), every data string is HTML-escaped before it goes
anywhere near the page, and the output is byte-for-byte deterministic: folium's random element
ids are replaced by a counter while the map is built and rendered.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
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
from folium.template import Template
from folium.utilities import JsCode

from sitescore.schema import CRS, WEB_CRS
from sitescore.scoring import CriterionInfo

__all__ = ["SYNTHETIC_BANNER", "CriterionInfo", "esc", "plant_radius", "write_map"]


SYNTHETIC_BANNER = "Synthetic demo data — not real places"

#: Simplification tolerance (metres, in EPSG:5070) for display; well under a 1-2 km cell.
SIMPLIFY_M = 75.0
#: Decimal places kept in web coordinates (5 decimals ~ 1 m).
COORD_DECIMALS = 5
#: Input layers are shown this far beyond the cells' extent (metres), at least.
CONTEXT_MARGIN_M = 25_000.0
#: Per-criterion values ride along in each cell's tooltip up to this many cells.
CELL_BREAKDOWN_MAX_CELLS = 60_000
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
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return html.escape(str(value), quote=True).translate(_JS_SENSITIVE)


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


def _cells_layer(cells: gpd.GeoDataFrame, criteria: Sequence[CriterionInfo],
                 rank_of_site: Mapping[Any, int]) -> tuple[folium.GeoJson | None, dict, dict]:
    """Cells GeoJson, the lookup tables its tooltips use, and counts."""
    if "cell_id" in cells.columns:
        cells = cells.sort_values("cell_id", kind="stable")
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
        return None, tables, counts
    js = (
        "function(feature, layer) { var p = feature.properties;"
        " layer.setStyle(SITESCORE.cellStyle(p));"
        " layer.bindTooltip(function() { return SITESCORE.cellTip(p); }, {sticky: true}); }"
    )
    # smooth_factor 0: Leaflet would otherwise simplify a cell of a pixel or two to nothing,
    # and a state-wide study would open on an empty map
    return _geojson_layer(_collection(geoms, props), js, smooth_factor=0), tables, counts


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
            f'<td>{value_cell}</td><td class="ss-num">{_pct(w)}</td>'
            f'<td>{contrib_cell}</td></tr>'
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
        f'score <b>{score_text}</b></div>'
        f'<table class="sitescore-breakdown"><thead><tr><th>Criterion</th><th>Raw value</th>'
        f'<th>Score 0..1</th><th>Weight</th><th>Contribution</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody>'
        f'<tfoot><tr><td colspan="4">Total score</td><td class="ss-num">{score_text}</td></tr>'
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

_CSS = """
<style>
.sitescore-box { background: rgba(255,255,255,0.94); padding: 8px 10px; border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); font: 12px/1.35 "Helvetica Neue", Arial, sans-serif;
  color: #222; max-width: 330px; max-height: calc(100vh - 110px); overflow-y: auto; }
.sitescore-box .ss-title { font-size: 15px; font-weight: 700; margin-bottom: 2px; }
.sitescore-box .ss-sub { color: #555; margin-bottom: 4px; }
.sitescore-box details { margin-top: 4px; }
.sitescore-box summary { cursor: pointer; font-weight: 600; }
.sitescore-box table { border-collapse: collapse; margin-top: 3px; width: 100%; }
.sitescore-box td { padding: 1px 3px; vertical-align: top; }
.sitescore-box .ss-desc { color: #666; font-size: 11px; }
.sitescore-box ul { margin: 3px 0 0 0; padding-left: 16px; }
.ss-stability { margin-top: 6px; font-size: 11px; color: #333; }
.sitescore-box .ss-notes li { color: #7a4b00; overflow-wrap: anywhere; }
.ss-synthetic-line { color: #b00020; font-weight: 700; margin-bottom: 3px; }
.ss-key-row { display: flex; align-items: center; gap: 6px; margin: 1px 0; }
.ss-sw { display: inline-block; width: 14px; height: 10px; border: 1px solid rgba(0,0,0,0.3); }
.ss-line { display: inline-block; width: 22px; border-top-style: solid; }
.ss-dot { display: inline-block; border-radius: 50%; background: #999; border: 1px solid #333; }
#sitescore-banner { position: absolute; top: 10px; left: 50%; transform: translateX(-50%);
  z-index: 1001; pointer-events: none; background: #b00020; color: #fff;
  font: 700 15px/1.3 "Helvetica Neue", Arial, sans-serif; padding: 6px 16px; border-radius: 5px;
  box-shadow: 0 2px 8px rgba(0,0,0,0.45); letter-spacing: 0.02em; white-space: nowrap; }
.sitescore-rank { background: #fff; border: 2.5px solid #e0115f; border-radius: 50%;
  color: #111; font: 700 13px/21px "Helvetica Neue", Arial, sans-serif; text-align: center;
  box-shadow: 0 1px 4px rgba(0,0,0,0.5); box-sizing: border-box; cursor: pointer; }
.ss-popup { font: 12px/1.35 "Helvetica Neue", Arial, sans-serif; min-width: 330px; }
.ss-pop-title { font-size: 14px; font-weight: 700; margin-bottom: 2px; }
.ss-pop-rank { color: #e0115f; }
.ss-pop-meta { color: #444; margin-bottom: 6px; }
table.sitescore-breakdown { border-collapse: collapse; width: 100%; }
table.sitescore-breakdown th { text-align: left; font-weight: 600; color: #555;
  border-bottom: 1px solid #ccc; padding: 2px 4px; white-space: nowrap; }
table.sitescore-breakdown td { padding: 2px 4px; border-bottom: 1px solid #eee;
  white-space: nowrap; }
table.sitescore-breakdown td:first-child { white-space: normal; min-width: 150px;
  max-width: 190px; }
table.sitescore-breakdown tfoot td { font-weight: 700; border-bottom: none; }
.ss-num { text-align: right; }
.ss-bar { display: inline-block; height: 8px; background: #e6e6e6; vertical-align: middle;
  border-radius: 2px; overflow: hidden; }
.ss-bar > span { display: block; height: 100%; }
.ss-tip-layer { color: #777; font-size: 10px; text-transform: uppercase; }
.ss-excl { color: #8a1c1c; font-weight: 600; }
table.ss-cellbars td { padding: 0 3px; font-size: 11px; }
.legend.leaflet-control { background: rgba(255,255,255,0.9); border-radius: 5px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.3); padding: 2px 0 0 0; }
.legend.leaflet-control .caption { font: 600 11px "Helvetica Neue", Arial, sans-serif; }
</style>
"""

_SITESCORE_JS = """
<script>
var SITESCORE = (function () {
  var S = %(data)s;
  S.outline = false;
  S.cellStyle = function (p) {
    var excluded = p.x !== undefined;
    var c = (excluded || p.v === null || p.v === undefined) ? S.excludedColor
      : S.palette[Math.max(0, Math.min(100, Math.round(p.v * 100)))];
    return {stroke: S.outline, color: "#ffffff", weight: 0.5, opacity: 0.6, fillColor: c,
            fillOpacity: excluded ? 0.55 : 0.78};
  };
  S.cellZoom = function () {
    var s = window.sitescore;
    if (!s || !s.layers.cells) { return; }
    var outline = s.map.getZoom() >= S.outlineMinZoom;
    if (outline === S.outline) { return; }
    S.outline = outline;
    s.layers.cells.eachLayer(function (g) {
      if (g.setStyle) { g.setStyle(function (f) { return S.cellStyle(f.properties); }); }
    });
  };
  S.cellTip = function (p) {
    var h = '<div class="ss-tip"><b>Cell ' + p.c + '</b>';
    if (p.x !== undefined) {
      h += '<br><span class="ss-excl">Excluded: ' + S.reasons[p.x] + '</span>';
    } else if (p.v !== null && p.v !== undefined) {
      h += '<br>Score <b>' + p.v.toFixed(2) + '</b>';
    } else {
      h += '<br>No score';
    }
    if (p.r !== undefined) { h += ' &middot; part of site #' + p.r; }
    if (p.u !== undefined) { h += '<br>' + S.units[p.u]; }
    if (p.a !== undefined) { h += '<br>' + p.a.toLocaleString('en-US') + ' eligible acres'; }
    if (p.b) {
      h += '<table class="ss-cellbars">';
      for (var i = 0; i < p.b.length; i++) {
        var v = p.b[i];
        h += '<tr><td>' + S.criteria[i] + '</td><td>' + (v === null ? 'n/a'
          : '<span class="ss-bar" style="width:40px"><span style="width:' + Math.round(v * 100)
            + '%%;background:' + S.palette[Math.round(v * 100)] + '"></span></span> '
            + v.toFixed(2)) + '</td></tr>';
      }
      h += '</table>';
    }
    return h + '</div>';
  };
  return S;
})();
</script>
"""


def _title_box(title: str, *, criteria: Sequence[CriterionInfo], counts: Mapping[str, int],
               n_sites: int, notes: Sequence[str], synthetic: bool, key_html: str) -> str:
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
        for c in criteria:
            desc = f'<div class="ss-desc">{esc(c.value_description)}</div>' \
                if c.value_description else ""
            rows.append(f'<tr><td>{esc(c.label)}{desc}</td>'
                        f'<td class="ss-num">{_pct(c.weight)}</td></tr>')
        parts.append('<details open><summary>Criteria and weights</summary>'
                     f'<table class="ss-criteria">{"".join(rows)}</table></details>')
    parts.append(f'<details><summary>Map key</summary>{key_html}</details>')
    if notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in notes)
        parts.append(f'<details open><summary>Notes</summary><ul class="ss-notes">{items}'
                     '</ul></details>')
    parts.append("</div>")
    return "".join(parts)


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
              notes: Sequence[str] = ()) -> Path:
    """Write the run's interactive map to ``path`` (atomically) and return ``path``.

    All frames are in EPSG:5070 (others are reprojected); see the module docstring for what
    the page shows. Same inputs give the same bytes.
    """
    path = Path(path)
    with _deterministic_build(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # xyzservices/folium chatter
        page = _build(title=title, cells=cells, sites=sites, criteria=list(criteria),
                      layers=layers, excluded=excluded, synthetic=synthetic, notes=list(notes))
    _write_atomic(path, page.encode("utf-8"))
    return path


def _build(*, title: str, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
           criteria: list[CriterionInfo], layers: Mapping[str, gpd.GeoDataFrame],
           excluded: gpd.GeoDataFrame | None, synthetic: bool, notes: list[str]) -> str:
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
    for i, (provider, label) in enumerate(_BASEMAPS):
        folium.TileLayer(provider, name=esc(label), overlay=False, control=True,
                         show=(i == 0)).add_to(m)

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
    cells_layer, tables, counts = _cells_layer(cells, criteria, rank_of_site)
    if cells_layer is not None:
        group = folium.FeatureGroup(name="Cells: suitability score (grey = excluded)", show=True)
        cells_layer.add_to(group)
        group.add_to(m)
        registry["cells"] = group

    # Ranked sites: outlines above the cells, numbered markers above all.
    site_group = folium.FeatureGroup(name="Ranked sites", show=True)
    markers: dict[int, folium.Marker] = {}
    site_records = sites.to_dict("records") if len(sites) else []
    geom_col = sites.geometry.name if isinstance(sites, gpd.GeoDataFrame) and len(sites) else None
    sites_5070 = sites.to_crs(CRS) if geom_col and sites.crs is not None and \
        not sites.crs.equals(CRS) else sites
    if geom_col:
        # Outlines as lines: with canvas rendering a polygon catches the mouse over its whole
        # interior, and the cells inside a site must keep their tooltips.
        outlines = sites_5070.set_geometry(sites_5070.geometry.boundary)
        outline_rows, outline_geoms = _prepare(outlines, name="sites", clip=None)
        props = [{"r": int(r["rank"]),
                  "t": f"<b>#{int(r['rank'])} {esc(_text(r, 'name'))}</b><br>score "
                       f"{_fmt(r.get('score'))} · {esc(_fmt(r.get('acres')))} acres"
                       "<br><i>click for the breakdown</i>"}
                 for r in outline_rows.to_dict("records")]
        style = {"color": SITE_COLOR, "weight": 3, "opacity": 1.0}
        js = (
            "function(feature, layer) {"
            f" layer.setStyle({_js(style)}); var p = feature.properties;"
            " layer.bindTooltip(p.t, {sticky: true});"
            " layer.on('click', function () { var mk = window.sitescore &&"
            " window.sitescore.markers[p.r]; if (mk) { layer.closeTooltip(); mk.openPopup(); }"
            " }); }"
        )
        if len(outline_geoms):
            _geojson_layer(_collection(outline_geoms, props), js).add_to(site_group)
    for record, geom in zip(site_records, sites_5070.geometry if geom_col else []):
        rank = int(record["rank"])
        location = _site_location(record, geom)
        if location is None:
            continue
        icon = folium.DivIcon(html=str(rank), icon_size=(26, 26), icon_anchor=(13, 13),
                              popup_anchor=(0, -10),
                              class_name=f"sitescore-rank sitescore-rank-{rank}")
        popup = folium.Popup(folium.Html(_site_popup(record, criteria, colormap), script=True),
                             max_width=600, auto_pan_padding_top_left=[20, 75],
                             auto_pan_padding_bottom_right=[20, 20])
        tooltip = folium.Tooltip(f"#{rank} {esc(_text(record, 'name'))}")
        marker = folium.Marker(location=location, icon=icon, popup=popup, tooltip=tooltip,
                               z_index_offset=10_000 - rank)
        marker.add_to(site_group)
        markers[rank] = marker
    site_group.add_to(m)
    registry["sites"] = site_group
    stability = _stability_layer(site_records, sites_5070.geometry if geom_col else [])
    if stability is not None:
        stability.add_to(m)
        registry["stability"] = stability

    colormap.add_to(m)
    first = [registry[k] for k in ("sites", "cells", "excluded") if k in registry]
    _LayerControl(first, collapsed=True, position="topright").add_to(m)

    data = {
        "palette": [_colour(i / 100, colormap) for i in range(101)],
        "excludedColor": EXCLUDED_COLOR,
        "outlineMinZoom": CELL_OUTLINE_MIN_ZOOM,
        **tables,
    }
    figure.header.add_child(_Raw(_CSS), name="sitescore_css")
    figure.header.add_child(_Raw(_SITESCORE_JS % {"data": _js(data)}), name="sitescore_js")
    if synthetic:
        figure.html.add_child(_Raw(f'<div id="sitescore-banner" role="alert">'
                                   f'{esc(SYNTHETIC_BANNER)}</div>'), name="sitescore_banner")
    figure.html.add_child(_Raw(_title_box(title, criteria=criteria, counts=counts,
                                          n_sites=len(markers), notes=notes,
                                          synthetic=synthetic, key_html=_key_html(present))),
                          name="sitescore_title")

    # Stacking when layers are switched on: input areas < cells < input lines < points < sites.
    stack = (["cells"] + [k for k, v in kinds.items() if v == "line"]
             + [k for k, v in kinds.items() if v == "point"] + ["sites"])
    stack = [k for k in stack if k in registry]

    def registry_js() -> str:
        layer_refs = ",".join(f"{_js(k)}:{v.get_name()}" for k, v in registry.items())
        marker_refs = ",".join(f"{r}:{mk.get_name()}" for r, mk in sorted(markers.items()))
        return (
            f"var ssBox = document.getElementById('sitescore-title');"
            f" if (ssBox) {{ var ssTitle = L.control({{position: 'topleft'}});"
            f" ssTitle.onAdd = function () {{ L.DomEvent.disableClickPropagation(ssBox);"
            f" L.DomEvent.disableScrollPropagation(ssBox); return ssBox; }};"
            f" ssTitle.addTo({m.get_name()}); }}"
            f" window.sitescore = {{map: {m.get_name()}, layers: {{{layer_refs}}},"
            f" markers: {{{marker_refs}}}, stack: {_js(stack)}}};"
            f" {m.get_name()}.on('overlayadd', function () {{ var s = window.sitescore;"
            f" s.stack.forEach(function (k) {{ if (s.map.hasLayer(s.layers[k])) {{"
            f" s.layers[k].bringToFront(); }} }}); }});"
            f" {m.get_name()}.on('zoomend', SITESCORE.cellZoom);"
            + (f" {m.get_name()}.fitBounds({_js(bounds)}, {{paddingTopLeft: [250, 30],"
               f" paddingBottomRight: [30, 30], maxZoom: {FIT_MAX_ZOOM}, animate: false}});"
               if bounds else "")
            + " SITESCORE.cellZoom();"
        )

    _Script(registry_js).add_to(m)
    return figure.render()


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
