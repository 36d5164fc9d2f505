"""How things look on the map: score colours, and each input layer's style by what matters to a
planner (transmission by voltage, plants sized by MW, land by agency, ...).

Pure data and small functions of a row, so the layers, the popups and the key all draw from one
table and cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import branca.colormap as bcm

from sitescore.formatting import cell_text, to_float

#: Score colours, low to high (viridis: perceptually even, colour-blind safe, prints in grey).
SCORE_COLORS = [
    "#440154", "#482878", "#3e4989", "#31688e", "#26828e",
    "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725",
]
EXCLUDED_COLOR = "#8f8f8f"
SITE_COLOR = "#e0115f"

LAYER_LABELS = {
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
LAYER_ORDER = list(LAYER_LABELS)

AGENCY_COLORS = {
    "BLM": "#e8b500", "USFS": "#3d8b37", "FS": "#3d8b37", "DOD": "#c0504d", "DOE": "#4f81bd",
    "NPS": "#8064a2", "FWS": "#2aa198", "USFWS": "#2aa198", "BOR": "#7f6000", "USBR": "#7f6000",
    "TVA": "#d0743c", "OTHF": "#9e9e9e",
}
WATER_STRESS = {  # Aqueduct baseline water stress category -> (colour, label)
    -1: ("#bdbdbd", "arid, low water use"), 0: ("#ffff99", "low"),
    1: ("#ffe600", "low-medium"), 2: ("#ff9900", "medium-high"), 3: ("#ff1900", "high"),
    4: ("#990000", "extremely high"),
}
VOLTAGE_CLASSES = [  # (minimum kV, colour, weight, label): browns, apart from sites and cells
    (500.0, "#7f2704", 4.0, "500 kV and above"),
    (345.0, "#c84102", 3.2, "345-499 kV"),
    (230.0, "#f16913", 2.5, "230-344 kV"),
    (100.0, "#fd8d3c", 1.8, "100-229 kV"),
    (0.0, "#fdae6b", 1.3, "under 100 kV"),
]
VOLTAGE_UNKNOWN = ("#7a7a7a", 1.3, "voltage unknown")
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
    mw = to_float(capacity_mw)
    if mw is None or mw <= 0:
        return 3.0
    return round(min(18.0, max(3.0, 2.0 + 0.5 * math.sqrt(mw))), 1)


def layer_label(name: str) -> str:
    """The toggle's label of an input layer (a readable form of an unknown layer's name)."""
    return LAYER_LABELS.get(name) or name.replace("_", " ").strip().capitalize() or "Layer"


def score_colour(score: Any, colormap: bcm.LinearColormap) -> str:
    """A 0..1 score's colour (clamped); the excluded grey when there is no score."""
    x = to_float(score)
    if x is None:
        return EXCLUDED_COLOR
    return colormap.rgb_hex_str(min(1.0, max(0.0, x)))


def _voltage_style(kv: Any) -> tuple[str, float, str]:
    v = to_float(kv)
    if v is None:
        return VOLTAGE_UNKNOWN
    for minimum, colour, weight, label in VOLTAGE_CLASSES:
        if v >= minimum:
            return colour, weight, label
    return VOLTAGE_CLASSES[-1][1:]


def _generic_style(geom_type: str, colour: str = "#6f6f6f") -> dict:
    if geom_type.endswith("Point"):
        return {"radius": 4, "color": "#333333", "weight": 1, "fillColor": colour,
                "fillOpacity": 0.8}
    if geom_type.endswith("LineString"):
        return {"color": colour, "weight": 1.6, "opacity": 0.9}
    return {"color": colour, "weight": 1, "opacity": 0.8, "fillColor": colour,
            "fillOpacity": 0.15}


def _area_style(layer: str, row: Mapping[Any, Any]) -> dict | None:
    """Styles of the area layers (None: not one of them)."""
    if layer == "federal_land":
        c = AGENCY_COLORS.get(cell_text(row, "mang_name").upper(), "#9e9e9e")
        return {"color": c, "weight": 0.8, "opacity": 0.9, "fillColor": c, "fillOpacity": 0.25}
    if layer == "protected_areas":
        return {"color": "#3f3f3f", "weight": 1, "fillColor": "#3f3f3f", "fillOpacity": 0.3}
    if layer == "water_stress":
        cat = to_float(row.get("bws_cat"))
        c = WATER_STRESS.get(int(cat) if cat is not None else -99, ("#dddddd", ""))[0]
        return {"color": c, "weight": 0.4, "opacity": 0.8, "fillColor": c, "fillOpacity": 0.4}
    if layer == "counties":
        return {"color": "#4a4a4a", "weight": 1, "opacity": 0.8, "fillOpacity": 0.0}
    if layer == "states":
        return {"color": "#222222", "weight": 2, "opacity": 0.9, "fillOpacity": 0.0}
    if layer == "candidates":
        return {"color": "#0b63ce", "weight": 2, "dashArray": "6 4", "fillColor": "#0b63ce",
                "fillOpacity": 0.08}
    return None


def _line_style(layer: str, row: Mapping[Any, Any]) -> dict | None:
    """Styles of the line layers (None: not one of them)."""
    if layer == "rivers":
        return {"color": "#2b83ba", "weight": 1.5, "opacity": 0.9}
    if layer == "rail":
        return {"color": "#2d2d2d", "weight": 1.6, "dashArray": "6 3", "opacity": 0.9}
    if layer == "roads":
        c, w = _ROAD_STYLES.get(cell_text(row, "road_class").lower(), ("#929292", 1.2))
        return {"color": c, "weight": w, "opacity": 0.9}
    if layer == "transmission_lines":
        c, w, _ = _voltage_style(row.get("voltage_kv"))
        style = {"color": c, "weight": w, "opacity": 0.95}
        if to_float(row.get("voltage_kv")) is None:
            style["dashArray"] = "4 4"
        return style
    return None


def _point_style(layer: str, row: Mapping[Any, Any]) -> dict | None:
    """Styles of the point layers (None: not one of them)."""
    if layer == "substations":
        return {"radius": 3.5, "color": "#222222", "weight": 1.5, "fillColor": "#ffffff",
                "fillOpacity": 1.0}
    if layer == "airports":
        kind = cell_text(row, "airport_type").lower()
        r = 7 if "large" in kind else 5 if "medium" in kind else 3
        return {"radius": r, "color": "#08306b", "weight": 1, "fillColor": "#6baed6",
                "fillOpacity": 0.9}
    if layer == "power_plants":
        fuel = cell_text(row, "primary_fuel").lower()
        c = next((v for k, v in _FUEL_COLORS.items() if k in fuel), "#999999")
        return {"radius": plant_radius(row.get("capacity_mw")), "color": "#333333",
                "weight": 0.8, "fillColor": c, "fillOpacity": 0.8}
    return None


def feature_style(layer: str, row: Mapping[Any, Any], geom_type: str) -> dict:
    """Leaflet path style for one feature of a named layer (a plain one for unknown layers)."""
    for style_of in (_area_style, _line_style, _point_style):
        style = style_of(layer, row)
        if style is not None:
            return style
    return _generic_style(geom_type)
