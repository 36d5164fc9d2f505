"""The whole page: the map assembled from its layers and controls, the data its script re-ranks
with, and the atomic write of the result.

The output is byte-for-byte deterministic: folium's random element ids are replaced by a counter
while the map is built and rendered (:func:`~sitescore.webmap.elements.deterministic_build`), so
the elements must be created in the same order every time.
"""

from __future__ import annotations

import base64
import json
import math
import re
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import branca.colormap as bcm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure

from sitescore.formatting import (
    cell_text,
    esc,
    fmt_number,
    is_true,
    js_json,
    pathway_text,
    script_safe,
    to_float,
    write_atomic,
)
from sitescore.mcda import AGGREGATION_METHODS
from sitescore.schema import CRS, WEB_CRS
from sitescore.scoring import CriterionInfo

from .assets import MAP_CSS, MAP_JS, OFFLINE_CSS, asset_text, inline_assets
from .controls import (
    BASEMAP_STYLE,
    MINIMAP_OPTIONS,
    SLIDER_MAX,
    SYNTHETIC_BANNER,
    LayerControl,
    add_tile_basemaps,
    add_tools,
    key_html,
    left_out_banner,
    offline_basemap,
    site_panel,
    title_box,
)
from .elements import Raw, Script, deterministic_build, geojson_layer
from .grid import GridData, grid_data, nearest_place, places_table, site_rules
from .layers import (
    cells_layer,
    collection,
    excluded_group,
    extent,
    input_layer,
    prepare,
    site_location,
    stability_layer,
)
from .network import NetworkLayer, add_network, network_js, network_panel
from .popups import site_popup
from .routes import routes_group
from .styles import (
    EXCLUDED_COLOR,
    LAYER_ORDER,
    SCORE_COLORS,
    SITE_COLOR,
    layer_label,
    score_colour,
)

#: How the run may combine criterion values: the methods sitescore.mcda registers (name -> method).
AGGREGATIONS = AGGREGATION_METHODS
#: Input layers are shown this far beyond the cells' extent (metres), at least.
CONTEXT_MARGIN_M = 25_000.0
#: Cells get their white outline from this zoom on (below it the outlines would drown them).
CELL_OUTLINE_MIN_ZOOM = 10
FIT_MAX_ZOOM = 14
#: The page's own scripts, in load order (assets/sitescore/).
PAGE_SCRIPTS = ("regrow.js", "grid.js", "tables.js", "layout.js", "map.js")
#: Colours of the score stretch (viridis, low to high), as many as the palette has steps.
PALETTE_STEPS = 256
LEGEND_NOTE = ("colours stretched over the 2nd\u201398th percentile of the cells' scores (they "
               "follow the weights); grey: excluded")


def write_map(path: Path, *, title: str, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
              criteria: Sequence[CriterionInfo], layers: Mapping[str, gpd.GeoDataFrame],
              excluded: gpd.GeoDataFrame | None = None, synthetic: bool = False,
              notes: Sequence[str] = (), aggregation: str = "weighted_sum",
              offline: bool = False, left_out: Sequence[Mapping[str, Any]] = (),
              weight_kept: float = 1.0, partial: bool = False,
              routes: gpd.GeoDataFrame | None = None,
              network: NetworkLayer | None = None, site_rules: Any = None,
              excluded_acres: Mapping[str, float] | None = None) -> Path:
    """Write the run's interactive map to ``path`` (atomically) and return ``path``.

    All frames are in EPSG:5070 (others are reprojected); see the package docstring for what
    the page shows. ``aggregation`` is the run's method (the page's sliders re-rank with it);
    ``offline`` makes a page that loads nothing from the network (scripts inlined, a ``states``
    layer drawn instead of basemap tiles). ``left_out`` (the manifest's entries: criterion,
    label, reason, weight_share), ``weight_kept`` and ``partial`` make the banner over the
    ranked sites saying what the scores leave out. ``network`` (a network of parks: parks by
    role, links, candidates left out, its panel) is drawn over the rest. ``site_rules`` (the
    run's `config.SitesConfig`) lets the page regrow the sites of a square grid when the weights
    move, as `sitescore run --weights` would; ``excluded_acres`` (acres per rule removed before
    the grid, the manifest's `excluded_acres_by_rule`) is counted in the header. Same inputs give
    the same bytes.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; known: {', '.join(AGGREGATIONS)}")
    path = Path(path)
    with deterministic_build(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # xyzservices/folium chatter
        page = _build(title=title, cells=cells, sites=sites, criteria=list(criteria),
                      layers=layers, excluded=excluded, synthetic=synthetic, notes=list(notes),
                      aggregation=aggregation, offline=offline,
                      banner=left_out_banner(list(left_out), weight_kept, partial), routes=routes,
                      network=network, rules=site_rules, excluded_acres=excluded_acres,
                      left_out=list(left_out), weight_kept=weight_kept)
    if offline:
        page = inline_assets(page)
    write_atomic(path, page.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- the view

@dataclass
class _View:
    """Where the map opens, and how far around the results input layers are drawn."""

    extent: tuple[float, float, float, float] | None
    clip: tuple[float, float, float, float] | None = None
    bounds: list[list[float]] | None = None
    location: list[float] = field(default_factory=lambda: [39.5, -98.35])
    zoom: int = 4


def _view(cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
          layers: Mapping[str, gpd.GeoDataFrame], excluded: gpd.GeoDataFrame | None) -> _View:
    """Open at the results: centre and an estimated zoom (the page's script fits exactly,
    without an animation and without first loading tiles for the whole country)."""
    box = extent([cells, sites])
    if box is None:
        box = extent([*layers.values(), excluded])
    view = _View(extent=box)
    if box is None:
        return view
    span = max(box[2] - box[0], box[3] - box[1])
    margin = max(CONTEXT_MARGIN_M, 0.25 * span)
    view.clip = (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)
    b = gpd.GeoSeries([shapely.box(*box)], crs=CRS).to_crs(WEB_CRS).total_bounds
    view.bounds = [[round(float(b[1]), 5), round(float(b[0]), 5)],
                   [round(float(b[3]), 5), round(float(b[2]), 5)]]
    view.location = [round(float(b[1] + b[3]) / 2, 5), round(float(b[0] + b[2]) / 2, 5)]
    span = max(float(b[2] - b[0]), float(b[3] - b[1]) * 1.3, 1e-6)
    view.zoom = int(min(FIT_MAX_ZOOM, max(3, math.floor(math.log2(360.0 * 900 / (256 * span))))))
    return view


# --------------------------------------------------------------------------- the layers

def _add_input_layers(m: folium.Map, layers: Mapping[str, gpd.GeoDataFrame], clip,
                      registry: dict[str, Any], *, skip_states: bool) -> dict[str, str]:
    """Every input layer as its own toggle, off by default; returns each drawn layer's kind."""
    names = sorted(layers, key=lambda n: (LAYER_ORDER.index(n) if n in LAYER_ORDER
                                          else len(LAYER_ORDER), str(n)))
    kinds: dict[str, str] = {}
    for name in names:
        gdf = layers[name]
        if not isinstance(gdf, gpd.GeoDataFrame) or gdf.empty:
            continue
        if name == "states" and skip_states:
            continue  # drawn as the basemap already
        built = input_layer(str(name), gdf, clip)
        if built is None:
            continue
        layer, kind = built
        kinds[str(name)] = kind
        group = folium.FeatureGroup(name=esc(layer_label(str(name))), show=False)
        layer.add_to(group)
        group.add_to(m)
        registry[str(name)] = group
    return kinds


def _add_cells(m: folium.Map, cells: gpd.GeoDataFrame, criteria: Sequence[CriterionInfo],
               sites: gpd.GeoDataFrame, registry: dict[str, Any], notes: list[str],
               layers: Mapping[str, gpd.GeoDataFrame]) -> tuple[dict, dict, GridData | None]:
    """The scored cells: a square grid as the page's arrays (drawn on a canvas by the script,
    into the group made here), other cells as features (or blocks of them, noted); returns their
    lookup tables, counts and the grid."""
    rank_of_site = {}
    if {"site_id", "rank"} <= set(sites.columns):
        rank_of_site = {sid: int(r) for sid, r in zip(sites["site_id"], sites["rank"], strict=True)}
    grid = grid_data(cells, criteria, layers, rank_of_site)
    if grid is not None:
        group = folium.FeatureGroup(name="Cells: suitability score (grey = excluded)", show=True)
        group.add_to(m)
        registry["cells"] = group
        tables = {"units": [], "reasons": [], "criteria": [esc(c.label) for c in criteria]}
        return tables, {"cells": grid.n_cells, "excluded": grid.n_excluded}, grid
    layer, tables, counts, blocks = cells_layer(cells, criteria, rank_of_site)
    if layer is not None:
        label = "Cells: suitability score (grey = excluded)" if blocks is None else \
            f"Cells in {blocks['factor']} x {blocks['factor']} blocks: mean score " \
            "(grey = excluded)"
        group = folium.FeatureGroup(name=label, show=True)
        layer.add_to(group)
        group.add_to(m)
        registry["cells"] = group
    if blocks is not None:
        k = blocks["factor"]
        notes.append(
            f"{blocks['cells']:,} cells would make the page heavier than "
            f"{blocks['budget'] / 1e6:g} MB: they are drawn as {blocks['blocks']:,} blocks of "
            f"{k}×{k} cells, each coloured by the eligible-acre-weighted mean score of its "
            "scored cells (no per-cell tooltips); every site is drawn in full.")
    return tables, counts, None


_OUTLINE_JS = (
    "function(feature, layer) {"
    " layer.setStyle(%s); var p = feature.properties;"
    " layer.bindTooltip(function () { return SITESCORE.siteTip(p.r); }, {sticky: true});"
    " layer.on('click', function () { var s = window.sitescore;"
    " var mk = s && s.siteMarkers[SITESCORE.indexOfRank0[p.r]];"
    " if (mk) { layer.closeTooltip(); mk.openPopup(); } }); }"
)


@dataclass
class _Sites:
    """The ranked sites as drawn: their records, markers (None: not placed) and geometries."""

    records: list[dict]
    markers: list[folium.Marker | None]
    frame: gpd.GeoDataFrame | None  # in EPSG:5070, None without geometries

    @property
    def geoms(self) -> Sequence[Any]:
        """One geometry per record (None each without geometries), so zips with records align."""
        return self.frame.geometry if self.frame is not None else [None] * len(self.records)


def _site_outlines(sites_5070: gpd.GeoDataFrame, group: folium.FeatureGroup) -> None:
    """Outlines as lines: with canvas rendering a polygon catches the mouse over its whole
    interior, and the cells inside a site must keep their tooltips."""
    outlines = sites_5070.set_geometry(sites_5070.geometry.boundary)
    rows, geoms = prepare(outlines, name="sites", clip=None)
    props = [{"r": int(r["rank"])} for r in rows.to_dict("records")]
    style = {"color": SITE_COLOR, "weight": 3, "opacity": 1.0}
    if len(geoms):
        geojson_layer(collection(geoms, props), _OUTLINE_JS % js_json(style)).add_to(group)


def _site_marker(record: Mapping[str, Any], location: tuple[float, float],
                 criteria: Sequence[CriterionInfo], colormap: bcm.LinearColormap
                 ) -> folium.Marker:
    """A site's numbered marker, with its breakdown popup."""
    rank = int(record["rank"])
    icon = folium.DivIcon(html=str(rank), icon_size=(26, 26), icon_anchor=(13, 13),
                          popup_anchor=(0, -10),
                          class_name=f"sitescore-rank sitescore-rank-{rank}")
    popup = folium.Popup(folium.Html(site_popup(record, criteria, colormap), script=True),
                         max_width=600, auto_pan_padding_top_left=[20, 75],
                         auto_pan_padding_bottom_right=[290, 20])  # clear of the panel
    tooltip = folium.Tooltip(f"#{rank} {esc(cell_text(record, 'name'))}")
    return folium.Marker(location=location, icon=icon, popup=popup, tooltip=tooltip,
                         z_index_offset=10_000 - rank)


def _add_sites(m: folium.Map, sites: gpd.GeoDataFrame, criteria: Sequence[CriterionInfo],
               colormap: bcm.LinearColormap, registry: dict[str, Any]) -> _Sites:
    """Ranked sites: outlines above the cells, numbered markers above all; and the
    rank-stability rings when the run has them."""
    group = folium.FeatureGroup(name="Ranked sites", show=True)
    records = sites.to_dict("records") if len(sites) else []
    markers: list[folium.Marker | None] = [None] * len(records)
    has_geoms = isinstance(sites, gpd.GeoDataFrame) and len(sites) > 0
    frame = None
    if has_geoms:
        frame = sites.to_crs(CRS) if sites.crs is not None and not sites.crs.equals(CRS) \
            else sites
        _site_outlines(frame, group)
    drawn = _Sites(records, markers, frame)
    for i, (record, geom) in enumerate(zip(records, drawn.geoms, strict=True)):
        location = site_location(record, geom)
        if location is not None:
            marker = _site_marker(record, location, criteria, colormap)
            marker.add_to(group)
            markers[i] = marker
    group.add_to(m)
    registry["sites"] = group
    stability = stability_layer(records, drawn.geoms)
    if stability is not None:
        stability.add_to(m)
        registry["stability"] = stability
    return drawn


# --------------------------------------------------------------------------- the page's data

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


def _site_boxes(records: list[dict], sites_5070: gpd.GeoDataFrame | None) -> list:
    """Each site's web bounding box ([[south, west], [north, east]]), None without geometry."""
    boxes: list = [None] * len(records)
    if sites_5070 is not None and len(records):
        geoms = np.asarray(sites_5070.geometry.values, dtype=object)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if ok.any():
            web = gpd.GeoSeries(shapely.envelope(geoms[ok]), crs=CRS).to_crs(WEB_CRS).bounds
            for i, b in zip(np.flatnonzero(ok), web.to_numpy(), strict=True):
                boxes[i] = [[round(float(b[1]), 5), round(float(b[0]), 5)],
                            [round(float(b[3]), 5), round(float(b[2]), 5)]]
    return boxes


def _site_data(records: list[dict], sites_5070: gpd.GeoDataFrame | None,
               criteria: Sequence[CriterionInfo]) -> tuple[list[dict], list[float], bool]:
    """What the page re-ranks with: per site its criterion values at full precision (floats go
    into the page as their shortest round-trip repr), and the configured weights as the run
    used them (the sites table's weight__ columns, already normalised)."""
    names = [c.name for c in criteria]
    weights = []
    for c in criteria:
        col = [to_float(r.get(f"weight__{c.name}")) for r in records]
        w = next((x for x in col if x is not None), None)
        weights.append(float(c.weight) if w is None else w)
    rescorable = bool(names) and bool(records) and \
        all(f"value__{n}" in records[0] for n in names)
    boxes = _site_boxes(records, sites_5070)
    order = _site_id_order(pd.DataFrame(records))
    out = []
    for i, r in enumerate(records):
        site = {"k": int(r["rank"]), "o": order[i], "n": esc(cell_text(r, "name")),
                "at": esc(fmt_number(r.get("acres"))), "s": to_float(r.get("score")),
                "bb": boxes[i]}
        if rescorable:
            site["v"] = [to_float(r.get(f"value__{n}")) for n in names]
        if is_true(r.get("excluded")):
            site["x"] = 1
        out.append(site)
    return out, weights, rescorable


def _page_data(title: str, criteria: Sequence[CriterionInfo], aggregation: str,
               colormap: bcm.LinearColormap, tables: Mapping[str, Any], site_data: list[dict],
               weights0: list[float], sliders0: list[int] | None, rescorable: bool,
               basemap: dict | None) -> dict[str, Any]:
    """SITESCORE_DATA: everything the page's script (assets/sitescore/map.js) works from."""
    return {
        "palette": [score_colour(i / 100, colormap) for i in range(101)],
        "excludedColor": EXCLUDED_COLOR,
        "outlineMinZoom": CELL_OUTLINE_MIN_ZOOM,
        **tables,
        "names": [esc(c.name) for c in criteria],
        "method": aggregation,
        # the methods map.js may re-rank with (it has their arithmetic by name), from mcda
        "methods": {name: {"normalise": m.normalise}
                    for name, m in AGGREGATION_METHODS.items() if m.browser},
        "weights0": weights0,
        "sliders0": sliders0,
        "rescorable": rescorable,
        "sites": site_data,
        "title": esc(title),
        "basemap": basemap,
        "basemapStyle": BASEMAP_STYLE,
        "minimap": "basemap" if basemap is not None else None,
        "minimapOptions": MINIMAP_OPTIONS,
    }


# --------------------------------------------------------------------------- places, counts

_LOCAL_PATH = re.compile(r"(?<![\w.~])(?:[A-Za-z]:\\|/)(?:[^\s/\\'\"()]+[/\\])*"
                         r"([^\s/\\'\"()]+)")


def public_text(text: str) -> str:
    """A note as the page may show it: local file paths cut to their file names (a map is
    shared; the folders on the machine that made it are nobody's business)."""
    return _LOCAL_PATH.sub(lambda m: m.group(1), str(text))


def _excluded_acres(by_rule: Mapping[str, float] | None) -> float | None:
    """Acres removed before the grid, as the run counted them per rule (None when not given:
    the excluded land's polygons are whole protected areas and buffers, not the acres taken
    from the candidate land)."""
    if not by_rule:
        return None
    return float(sum(v for v in (to_float(x) for x in by_rule.values()) if v is not None))


def _with_places(sites: gpd.GeoDataFrame, places: Sequence[Sequence[Any]],
                 counties: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """The sites with the county under their point and the nearest named place."""
    if not len(sites) or not {"lon", "lat"} <= set(sites.columns):
        return sites
    sites = sites.copy()
    lon = pd.to_numeric(sites["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(sites["lat"], errors="coerce").to_numpy(dtype=float)
    sites["near"] = [nearest_place(x, y, places) if np.isfinite(x) and np.isfinite(y) else ""
                     for x, y in zip(lon, lat, strict=True)]
    if isinstance(counties, gpd.GeoDataFrame) and not counties.empty and counties.crs is not None \
            and "name" in counties.columns:
        ok = np.isfinite(lon) & np.isfinite(lat)
        points = gpd.GeoSeries(gpd.points_from_xy(np.where(ok, lon, 0), np.where(ok, lat, 0)),
                               crs=WEB_CRS).to_crs(counties.crs).values
        src, dst = shapely.STRtree(counties.geometry.values).query(points, predicate="within")
        names = counties["name"].to_numpy(dtype=object)
        county = [""] * len(sites)
        for s, d in sorted(zip(src.tolist(), dst.tolist(), strict=True)):
            if ok[s] and not county[s]:
                county[s] = cell_text({"n": names[d]}, "n")
        sites["county"] = county
    return sites


@dataclass
class _Extra:
    """What the page adds to the map's own data: the grid's arrays, the site rules, places,
    the fit, and the criteria the run left out."""

    grid: GridData | None = None
    rules: Any = None
    places: list = field(default_factory=list)
    bounds: list | None = None
    left_out: list = field(default_factory=list)
    weight_kept: float = 1.0


def table_columns(criteria: Sequence[CriterionInfo]) -> list[str]:
    """The ranked table the page downloads (sites.csv's columns, with the place columns)."""
    per = [f"{k}__{c.name}" for k in ("raw", "value", "weight", "contribution") for c in criteria]
    return ["rank", "site_id", "name", "agency", "unit_name", "state", "county", "near", "acres",
            "n_cells", "score", "lon", "lat", "land_pathway", *per, "cell_ids"]


def _table_rows(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
    rows = []
    for r in records:
        row: list[Any] = []
        for c in columns:
            value = pathway_text(r) if c == "land_pathway" else r.get(c)
            number = None if isinstance(value, str) else to_float(value)
            row.append(number if number is not None else (esc(cell_text({"v": value}, "v")) or None))
        rows.append(row)
    return rows


def _extra_data(extra: _Extra, records: Sequence[Mapping[str, Any]],
                criteria: Sequence[CriterionInfo], regrow: bool, legend: bool) -> dict[str, Any]:
    """SITESCORE_DATA's part for the grid, the regrowing, the downloads and the layout."""
    columns = table_columns(criteria)
    colormap = _score_colormap()
    return {
        "palette": [score_colour(i / (PALETTE_STEPS - 1), colormap) for i in range(PALETTE_STEPS)],
        "legend": LEGEND_NOTE if legend else None,
        "gridMeta": extra.grid.meta if extra.grid is not None else None,
        "rules": site_rules(extra.rules) if regrow else None,
        "regrow": regrow,
        "places": [[esc(name), lon, lat] for name, lon, lat in extra.places],
        "tableColumns": columns,
        "tableRows": _table_rows(records, columns),
        "leftOut": [{"criterion": esc(x.get("criterion")), "reason": esc(x.get("reason")),
                     "share": to_float(x.get("weight_share")) or 0.0} for x in extra.left_out],
        "weightKept": extra.weight_kept,
        "fitTo": extra.bounds,
        "fitMaxZoom": FIT_MAX_ZOOM,
    }


_SKIP_LINK = ('<a id="ss-skip" class="ss-skip" href="#sitescore-title">Skip to the weights and '
              'the ranked sites</a>')


def _pack_layers(page: str, names: Sequence[str]) -> str:
    """The named GeoJSON layers' data moved out of the map's script into one deflated, base64
    block the page's script adds back (input layers are a state's worth of outlines: as JSON
    text they would be most of the page)."""
    decoder, payload, out, at = json.JSONDecoder(), [], [], 0
    for name in names:
        call = f"{name}_add("
        start = page.find(call, at)
        if start < 0:
            continue
        data, end = decoder.raw_decode(page, start + len(call))
        out.append(page[at:start + len(call)] + '{"features":[],"type":"FeatureCollection"}')
        at = end
        payload.append([name, data])
    if not payload:
        return page
    out.append(page[at:])
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    blob = base64.b64encode(zlib.compress(text.encode("ascii"), 9)).decode("ascii")
    page = "".join(out)
    return page.replace("</body>", f'<script type="text/plain" id="sitescore-layers">{blob}'
                        "</script></body>", 1)


def _finish_page(page: str, packed: Sequence[str] = ()) -> str:
    """The rendered page with its input layers packed, its language set, pinch zoom allowed
    and a skip link first."""
    page = _pack_layers(page, packed)
    page = page.replace("<!DOCTYPE html>\n<html>", '<!DOCTYPE html>\n<html lang="en">', 1)
    page = re.sub(r'<meta name="viewport" content="[^"]*"\s*/>',
                  '<meta name="viewport" content="width=device-width, initial-scale=1.0" />',
                  page, count=1)
    return page.replace("<body>", "<body>" + _SKIP_LINK, 1)


# --------------------------------------------------------------------------- the page

def _registry_js(m: folium.Map, registry: Mapping[str, Any], drawn: _Sites,
                 kinds: Mapping[str, str], bounds: list | None) -> str:
    """The script that wires the page up: the title box as a control, window.sitescore (layers
    and markers by name), the stacking of layers switched on; the script then fits the map to
    the results (SITESCORE_DATA.fitTo), clear of the boxes."""
    # Stacking when layers are switched on: input areas < cells < input lines < points < sites.
    stack = (["cells"] + [k for k, v in kinds.items() if v == "line"]
             + [k for k, v in kinds.items() if v == "point"] + ["sites"])
    stack = [k for k in stack if k in registry]
    name = m.get_name()
    layer_refs = ",".join(f"{js_json(k)}:{v.get_name()}" for k, v in registry.items())
    marker_refs = ",".join(f"{int(r['rank'])}:{mk.get_name()}"
                           for r, mk in zip(drawn.records, drawn.markers, strict=True) if mk is not None)
    site_refs = ",".join(mk.get_name() if mk is not None else "null" for mk in drawn.markers)
    return (
        f"var ssBox = document.getElementById('sitescore-title');"
        f" if (ssBox) {{ var ssTitle = L.control({{position: 'topleft'}});"
        f" ssTitle.onAdd = function () {{ L.DomEvent.disableClickPropagation(ssBox);"
        f" L.DomEvent.disableScrollPropagation(ssBox); return ssBox; }};"
        f" ssTitle.addTo({name}); }}"
        f" window.sitescore = {{map: {name}, layers: {{{layer_refs}}},"
        f" markers: {{{marker_refs}}}, siteMarkers: [{site_refs}], stack: {js_json(stack)}}};"
        f" {name}.on('overlayadd', function () {{ var s = window.sitescore;"
        f" s.stack.forEach(function (k) {{ if (s.map.hasLayer(s.layers[k])) {{"
        f" s.layers[k].bringToFront(); }} }}); }});"
        f" {name}.on('zoomend', SITESCORE.cellZoom);"
        " SITESCORE.init();"
    )


def _figure(m: folium.Map) -> Figure:
    """The page a map is drawn on (folium makes a map's root a Figure)."""
    root = m.get_root()
    assert isinstance(root, Figure)
    return root


def _new_map(title: str, view: _View) -> folium.Map:
    """An empty canvas map opening at the view, with only the scripts the page uses."""
    m = folium.Map(location=view.location, zoom_start=view.zoom, tiles=None, prefer_canvas=True,
                   control_scale=True, font_size="0.8rem")
    m.default_js = list(MAP_JS)
    m.default_css = list(MAP_CSS)
    _figure(m).title = esc(title)
    return m


def _score_colormap() -> bcm.LinearColormap:
    colormap = bcm.LinearColormap(SCORE_COLORS, vmin=0.0, vmax=1.0,
                                  caption="Suitability score (0 = worst, 1 = best)")
    colormap.width = 330
    colormap.tick_labels = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    return colormap


def _ranked(sites: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """The ranked sites in rank order (without a rank column the order given is the rank)."""
    sites = sites if sites is not None else gpd.GeoDataFrame(geometry=[], crs=CRS)
    if "rank" not in sites.columns:
        sites = sites.assign(rank=range(1, len(sites) + 1))
    return sites[sites["rank"].notna()].sort_values("rank", kind="stable")


def _build(*, title: str, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame | None,
           criteria: list[CriterionInfo], layers: Mapping[str, gpd.GeoDataFrame],
           excluded: gpd.GeoDataFrame | None, synthetic: bool, notes: list[str],
           aggregation: str, offline: bool, banner: str = "",
           routes: gpd.GeoDataFrame | None = None, network: NetworkLayer | None = None,
           rules: Any = None, excluded_acres: Mapping[str, float] | None = None,
           left_out: Sequence[Mapping[str, Any]] = (), weight_kept: float = 1.0) -> str:
    """The page's HTML (folium elements are created here in a fixed order: see the module)."""
    sites = _ranked(sites)
    view = _view(cells, sites if network is None else network.parks, layers, excluded)
    m = _new_map(title, view)
    notes = [public_text(n) for n in notes]
    basemap = None
    if offline:
        basemap = offline_basemap(layers.get("states"), view.extent)
        if basemap is None:
            notes.append("offline page: no basemap (the study has no state outlines)")
    else:
        add_tile_basemaps(m)
    add_tools(m, offline, basemap is not None)
    colormap = _score_colormap()
    # Input layers first (off by default), so results draw above them on opening.
    registry: dict[str, Any] = {}
    kinds = _add_input_layers(m, layers, view.clip, registry, skip_states=basemap is not None)
    group = excluded_group(excluded, view.clip)
    if group is not None:
        group.add_to(m)
        registry["excluded"] = group
    packed = [child.get_name() for layer in registry.values()
              for child in layer._children.values() if isinstance(child, folium.GeoJson)]
    tables, counts, grid = _add_cells(m, cells, criteria, sites, registry, notes, layers)
    counts["excluded_acres"] = _excluded_acres(excluded_acres)
    places = places_table(layers)
    sites = _with_places(sites, places, layers.get("counties"))
    drawn = _add_sites(m, sites, criteria, colormap, registry)
    route_group = routes_group(routes)  # each site's connection routes (config `costs:`)
    if route_group is not None:
        route_group.add_to(m)
    if network is not None:
        add_network(m, network, registry)
    first = [registry[k] for k in ("network_parks", "network_links", "sites", "cells", "excluded")
             if k in registry]
    LayerControl(first, collapsed=True, position="topright").add_to(m)

    figure = _page_chrome(m, title=title, criteria=criteria, aggregation=aggregation,
                          colormap=colormap, tables=tables, drawn=drawn, basemap=basemap,
                          offline=offline, synthetic=synthetic, notes=notes, counts=counts,
                          kinds=kinds, banner=banner, network=network,
                          extra=_Extra(grid, rules, places, view.bounds, list(left_out),
                                       weight_kept))
    Script(lambda: _registry_js(m, registry, drawn, kinds, view.bounds)).add_to(m)
    if network is not None:
        Script(lambda: network_js(m, network)).add_to(m)
    return _finish_page(figure.render(), packed)


def _page_chrome(m: folium.Map, *, title: str, criteria: list[CriterionInfo], aggregation: str,
                 colormap: Any, tables: Any, drawn: Any, basemap: Any, offline: bool,
                 synthetic: bool, notes: list[str], counts: Any, kinds: Any, banner: str,
                 network: NetworkLayer | None, extra: _Extra | None = None) -> Any:
    """The page around the map: its data and script, the banner, the title box with the
    sliders, the site and network panels (created in this order, after the map's layers)."""
    extra = extra or _Extra()
    site_data, weights0, rescorable = _site_data(drawn.records, drawn.frame, criteria)
    browser = AGGREGATION_METHODS[aggregation].browser
    regrow = browser and extra.grid is not None and extra.rules is not None
    rescorable = rescorable and browser
    sliders0 = [round(SLIDER_MAX * w) for w in weights0] if rescorable or regrow else None
    data = _page_data(title, criteria, aggregation, colormap, tables, site_data, weights0,
                      sliders0, rescorable, basemap)
    data.update(_extra_data(extra, drawn.records, criteria, regrow, network is None))
    figure = _figure(m)
    figure.header.add_child(Raw(f"<style>{asset_text('sitescore/map.css')}"
                                f"{OFFLINE_CSS if offline else ''}</style>"),
                            name="sitescore_css")
    scripts = "".join(f"<script>{script_safe(asset_text(f'sitescore/{name}'))}</script>"
                      for name in PAGE_SCRIPTS)
    figure.header.add_child(Raw(f"<script>var SITESCORE_DATA = {js_json(data)};</script>"
                                f"{scripts}"), name="sitescore_js")
    if extra.grid is not None:
        figure.html.add_child(Raw(f'<script type="text/plain" id="sitescore-cells">'
                                  f'{extra.grid.packed}</script>'), name="sitescore_cells")
    if synthetic:
        figure.html.add_child(Raw(f'<div id="sitescore-banner" role="alert">'
                                  f'{esc(SYNTHETIC_BANNER)}</div>'), name="sitescore_banner")
    n_markers = sum(mk is not None for mk in drawn.markers)
    figure.html.add_child(Raw(title_box(title, criteria=criteria, weights=weights0,
                                        sliders=sliders0, aggregation=aggregation,
                                        counts=counts, n_sites=n_markers, notes=notes,
                                        synthetic=synthetic, key_html=key_html(set(kinds)),
                                        banner="" if drawn.records else banner,
                                        left_out=extra.left_out, weight_kept=extra.weight_kept,
                                        regrow=regrow,
                                        sub=None if network is None else
                                        f"{len(network.parks)} parks in the network · "
                                        f"{len(network.left_out)} candidate sites left out")),
                          name="sitescore_title")
    if drawn.records:
        figure.html.add_child(Raw(site_panel(drawn.records, banner, regrow=regrow)),
                              name="sitescore_panel")
    if network is not None:
        figure.html.add_child(Raw(network_panel(network)), name="sitescore_network")
    return figure
