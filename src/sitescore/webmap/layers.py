"""The map's data layers: input layers, scored cells (or blocks of them), exclusions, and the
rank-stability rings; with the geometry preparation they share.

The page is kept light: geometries simplified to display scale, coordinates rounded to 5
decimals, canvas rendering, compact JSON; past :data:`PAGE_BUDGET_BYTES` the cells are drawn as
blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sitescore.formatting import cell_text, esc, is_missing, is_true, js_json, to_float
from sitescore.schema import CRS, WEB_CRS
from sitescore.scoring import CriterionInfo

from .elements import geojson_layer, table_layer_js
from .popups import layer_tooltip, stability_tooltip
from .styles import feature_style

#: Simplification tolerance (metres, in EPSG:5070) for display; well under a 1-2 km cell.
SIMPLIFY_M = 75.0
#: Decimal places kept in web coordinates (5 decimals ~ 1 m).
COORD_DECIMALS = 5
#: Per-criterion values ride along in each cell's tooltip up to this many cells.
CELL_BREAKDOWN_MAX_CELLS = 60_000
#: What a page may weigh. Past it (at CELL_BYTES_ESTIMATE a cell) the cells are drawn as square
#: blocks of cells instead, each taking the acre-weighted mean of its scored cells.
PAGE_BUDGET_BYTES = 15_000_000
CELL_BYTES_ESTIMATE = 300
#: Block sides tried, in cells, smallest first; the blocks may take half the budget.
BLOCK_FACTORS = (2, 4, 8, 16, 32, 64, 128)

_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


# --------------------------------------------------------------------------- geometry

def prepare(gdf: gpd.GeoDataFrame, *, name: str, clip: tuple[float, float, float, float] | None,
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


def collection(geoms: np.ndarray, props: Sequence[dict]) -> dict:
    """A FeatureCollection with integer ids (folium keys its style table on them)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": i, "properties": p,
             "geometry": shapely.geometry.mapping(g)}
            for i, (g, p) in enumerate(zip(geoms, props, strict=True))
        ],
    }


def extent(frames: Sequence[gpd.GeoDataFrame | None]) -> tuple[float, float, float, float] | None:
    """The 5070 bounding box of the frames' drawable geometries, None when there are none."""
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


def site_location(site: Mapping[str, Any], geom_5070) -> tuple[float, float] | None:
    """Where a site's marker goes: its lon/lat when valid, else a point inside its outline."""
    lon, lat = to_float(site.get("lon")), to_float(site.get("lat"))
    if lon is not None and lat is not None and -180 <= lon <= 180 and -90 <= lat <= 90:
        return round(lat, COORD_DECIMALS), round(lon, COORD_DECIMALS)
    if geom_5070 is None or shapely.is_empty(geom_5070):
        return None
    p = gpd.GeoSeries([geom_5070.representative_point()], crs=CRS).to_crs(WEB_CRS).iloc[0]
    return round(p.y, COORD_DECIMALS), round(p.x, COORD_DECIMALS)


# --------------------------------------------------------------------------- input layers

def input_layer(name: str, gdf: gpd.GeoDataFrame, clip) -> tuple[folium.GeoJson, str] | None:
    """The layer and its kind ('area', 'line' or 'point'), None when nothing is left to draw."""
    rows, geoms = prepare(gdf, name=name, clip=clip)
    if not len(geoms):
        return None
    styles: list[dict] = []
    index: dict[str, int] = {}
    props = []
    columns = [str(c) for c in rows.columns]
    geom_types = shapely.get_type_id(geoms)
    for row, tid in zip(rows.to_dict("records"), geom_types, strict=True):
        style = feature_style(name, row, _TYPE_NAMES.get(int(tid), "Polygon"))
        key = js_json(style)
        if key not in index:
            index[key] = len(styles)
            styles.append(style)
        props.append({"s": index[key], "t": layer_tooltip(name, row, columns)})
    points = bool(np.all(np.isin(geom_types, [0, 4])))
    areas = bool(np.all(np.isin(geom_types, [3, 6])))
    layer = geojson_layer(collection(geoms, props), table_layer_js(styles), points=points)
    return layer, ("point" if points else "area" if areas else "line")


def excluded_group(excluded: gpd.GeoDataFrame | None, clip) -> folium.FeatureGroup | None:
    """'Excluded land (with reason)', shown on opening; None when nothing is left to draw."""
    if excluded is None or excluded.empty:
        return None
    rows, geoms = prepare(excluded, name="excluded", clip=clip)
    if not len(geoms):
        return None
    style = {"color": "#4d4d4d", "weight": 0.6, "opacity": 0.8, "fillColor": "#4d4d4d",
             "fillOpacity": 0.25}
    props = [{"s": 0, "t": "<div class=\"ss-tip-layer\">Excluded land</div>"
              f"{esc(cell_text(r, 'reason') or 'excluded')}"}
             for r in rows.to_dict("records")]
    group = folium.FeatureGroup(name="Excluded land (with reason)", show=True)
    geojson_layer(collection(geoms, props), EXCLUDED_JS % js_json([style])).add_to(group)
    return group


#: Excluded land says why on hover and on a click (a click there opens no cell under it).
EXCLUDED_JS = (
    "function(feature, layer) { var styles = %s; var p = feature.properties;"
    " layer.setStyle(styles[p.s]); layer.options.bubblingMouseEvents = false;"
    " layer.bindTooltip(p.t, {sticky: true}); layer.bindPopup(p.t); }"
)


# --------------------------------------------------------------------------- cells

CELLS_JS = (
    "function(feature, layer) { var p = feature.properties;"
    " layer.setStyle(SITESCORE.cellStyle(p));"
    " layer.bindTooltip(function() { return SITESCORE.cellTip(p); }, {sticky: true}); }"
)


def _cell_props(row: Mapping[Any, Any], criteria: Sequence[CriterionInfo],
                rank_of_site: Mapping[Any, int], units: dict[str, int],
                reasons: dict[str, int], with_breakdown: bool) -> dict[str, Any]:
    """One cell's compact properties (units and reasons as indexes into their tables)."""
    p: dict[str, Any] = {"c": esc(cell_text(row, "cell_id"))}
    excluded = is_true(row.get("excluded"))
    score = to_float(row.get("score"))
    if excluded:
        reason = esc(cell_text(row, "exclusion_reason") or "excluded")
        p["x"] = reasons.setdefault(reason, len(reasons))
    else:
        p["v"] = None if score is None else round(score, 3)
    unit = " · ".join(x for x in (cell_text(row, "agency"), cell_text(row, "unit_name")) if x)
    if unit:
        p["u"] = units.setdefault(esc(unit), len(units))
    acres = to_float(row.get("eligible_acres"))
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
        values = [to_float(row.get(f"value__{c.name}")) for c in criteria]
        p["b"] = [None if v is None else round(v, 2) for v in values]
    return p


def cells_layer(cells: gpd.GeoDataFrame, criteria: Sequence[CriterionInfo],
                rank_of_site: Mapping[Any, int]
                ) -> tuple[folium.GeoJson | None, dict, dict, dict | None]:
    """Cells GeoJson, the lookup tables its tooltips use, counts, and (when the cells would
    exceed the page budget and are drawn as blocks instead) what the blocks are."""
    if "cell_id" in cells.columns:
        cells = cells.sort_values("cell_id", kind="stable")
    blocks = _block_plan(cells)
    if blocks is not None:
        return _blocks_layer(cells, criteria, rank_of_site, blocks)
    rows, geoms = prepare(cells, name="cells", clip=None)
    units: dict[str, int] = {}
    reasons: dict[str, int] = {}
    with_breakdown = len(rows) <= CELL_BREAKDOWN_MAX_CELLS and bool(criteria)
    props = [_cell_props(row, criteria, rank_of_site, units, reasons, with_breakdown)
             for row in rows.to_dict("records")]
    tables = {
        "units": list(units), "reasons": list(reasons),
        "criteria": [esc(c.label) for c in criteria],
    }
    counts = {"cells": len(rows), "excluded": sum("x" in p for p in props)}
    if not len(geoms):
        return None, tables, counts, None
    # smooth_factor 0: Leaflet would otherwise simplify a cell of a pixel or two to nothing,
    # and a state-wide study would open on an empty map
    return geojson_layer(collection(geoms, props), CELLS_JS, smooth_factor=0), tables, \
        counts, None


# --------------------------------------------------------------------------- blocks of cells

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


def _column(rows: pd.DataFrame, name: str, default: np.ndarray) -> np.ndarray:
    """A numeric column as floats (text and missing as NaN), ``default`` when absent."""
    if name not in rows.columns:
        return default
    return pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float)


def _block_stats(rows: pd.DataFrame, blk: np.ndarray, n_blk: int,
                 criteria: Sequence[CriterionInfo]) -> dict[str, Any]:
    """Per block: cells, excluded cells, eligible acres, and the acre-weighted mean score and
    criterion values of its scored cells (a plain mean where they record no acres)."""
    excluded = rows["excluded"].fillna(False).astype(bool).to_numpy() \
        if "excluded" in rows.columns else np.zeros(len(rows), dtype=bool)
    score = _column(rows, "score", np.full(len(rows), np.nan))
    acres = _column(rows, "eligible_acres", np.ones(len(rows)))
    acres = np.where(np.isnan(acres), 0.0, acres)  # no acres recorded: none
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

    best = np.full(n_blk, -np.inf)
    np.maximum.at(best, blk[scored], score[scored])
    columns = [f"value__{c.name}" for c in criteria]
    with_values = bool(criteria) and all(c in rows.columns for c in columns)
    means = [mean(pd.to_numeric(rows[c], errors="coerce").to_numpy(dtype=float))
             for c in columns] if with_values else []
    return {
        "n": np.bincount(blk, minlength=n_blk), "excluded": excluded, "n_scored": n_scored,
        "mean_score": mean(score), "best": best, "means": means,
        "n_excl": np.bincount(blk, weights=excluded.astype(float), minlength=n_blk).astype(int),
        "eligible": np.bincount(blk, weights=np.maximum(acres, 0.0), minlength=n_blk),
    }


_NO_RANK = np.iinfo(np.int64).max


def _block_site_ranks(rows: pd.DataFrame, blk: np.ndarray, n_blk: int,
                      rank_of_site: Mapping[Any, int]) -> np.ndarray:
    """Each block's best site rank (_NO_RANK where no site touches it)."""
    site_rank = np.full(n_blk, _NO_RANK, dtype=np.int64)
    if "site_id" in rows.columns and rank_of_site:
        ranks = np.array([rank_of_site.get(s, _NO_RANK) if not is_missing(s) else _NO_RANK
                          for s in rows["site_id"].to_numpy(dtype=object)], dtype=np.int64)
        np.minimum.at(site_rank, blk, ranks)
    return site_rank


def _block_reasons(rows: pd.DataFrame, blk: np.ndarray, n_blk: int, excluded: np.ndarray
                   ) -> tuple[dict[str, int], np.ndarray]:
    """The reasons table, and each block's first excluded cell's reason (-1: none excluded)."""
    reasons: dict[str, int] = {}
    first_reason = np.full(n_blk, -1)
    if excluded.any():
        why = rows["exclusion_reason"].to_numpy(dtype=object) \
            if "exclusion_reason" in rows.columns else np.full(len(rows), None, dtype=object)
        where = np.flatnonzero(excluded)
        blocks_hit, first = np.unique(blk[where], return_index=True)  # each block's first
        for b, i in zip(blocks_hit, where[first], strict=True):
            text = esc(cell_text({"r": why[i]}, "r") or "excluded")
            first_reason[b] = reasons.setdefault(text, len(reasons))
    return reasons, first_reason


def _block_boxes(geoms: np.ndarray, blk: np.ndarray, n_blk: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Each block as the bounding box of its cells, prepared for the web (``_b``: its index)."""
    bounds = shapely.bounds(geoms)
    lo = np.full((n_blk, 2), np.inf)
    hi = np.full((n_blk, 2), -np.inf)
    np.minimum.at(lo, blk, bounds[:, :2])
    np.maximum.at(hi, blk, bounds[:, 2:])
    boxes = gpd.GeoDataFrame({"_b": np.arange(n_blk)},
                             geometry=shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]), crs=CRS)
    return prepare(boxes, name="cells", clip=None, tolerance=0)


def _block_props(b: int, stats: Mapping[str, Any], site_rank: np.ndarray,
                 first_reason: np.ndarray, reasons: dict[str, int]) -> dict[str, Any]:
    """One block's compact properties."""
    p: dict[str, Any] = {"n": int(stats["n"][b])}
    if stats["n_scored"][b] == 0:
        p["x"] = int(first_reason[b]) if first_reason[b] >= 0 else \
            reasons.setdefault("no scored cell", len(reasons))
    else:
        p["v"] = round(float(stats["mean_score"][b]), 3)
        p["m"] = round(float(stats["best"][b]), 3)
        if stats["means"]:
            p["b"] = [None if not np.isfinite(m[b]) else round(float(m[b]), 2)
                      for m in stats["means"]]
    if stats["n_excl"][b]:
        p["e"] = int(stats["n_excl"][b])
    p["a"] = round(float(stats["eligible"][b]))
    if site_rank[b] != _NO_RANK:
        p["r"] = int(site_rank[b])
    return p


def _blocks_layer(cells: gpd.GeoDataFrame, criteria: Sequence[CriterionInfo],
                  rank_of_site: Mapping[Any, int], plan: dict
                  ) -> tuple[folium.GeoJson | None, dict, dict, dict]:
    """Square blocks of cells: each with the eligible-acre-weighted MEAN score and criterion
    values of its scored cells (so the sliders re-colour blocks as they would the cells' mean),
    its best cell's score, and its number of excluded cells. No per-cell tooltips."""
    rows = cells.loc[plan["ok"]].reset_index(drop=True)
    blk, n_blk = plan["block"], plan["n_blocks"]
    stats = _block_stats(rows, blk, n_blk, criteria)
    site_rank = _block_site_ranks(rows, blk, n_blk, rank_of_site)
    reasons, first_reason = _block_reasons(rows, blk, n_blk, stats["excluded"])
    kept, web = _block_boxes(plan["geoms"], blk, n_blk)
    props = [_block_props(b, stats, site_rank, first_reason, reasons)
             for b in kept["_b"].to_numpy()]
    tables = {"units": [], "reasons": list(reasons), "criteria": [esc(c.label) for c in criteria]}
    counts = {"cells": len(rows), "excluded": int(stats["excluded"].sum())}
    info = {"factor": plan["factor"], "cells": len(rows), "blocks": len(props),
            "budget": PAGE_BUDGET_BYTES}
    layer = geojson_layer(collection(web, props), CELLS_JS, smooth_factor=0) if len(web) else None
    return layer, tables, counts, info


# --------------------------------------------------------------------------- rank stability

def stability_layer(records: list[dict], geoms) -> folium.FeatureGroup | None:
    """'Rank stability': a ring per site, larger and greener the more often it stays in the
    top k under weight doubt (from `sitescore sensitivity`)."""
    if not records or not any(str(k).startswith("p_top_") for k in records[0]):
        return None
    key = next(str(k) for k in records[0] if str(k).startswith("p_top_"))
    group = folium.FeatureGroup(name=f"Rank stability (share of draws in the top "
                                     f"{esc(key.removeprefix('p_top_'))})", show=False)
    for record, geom in zip(records, geoms, strict=True):
        p = to_float(record.get(key))
        location = site_location(record, geom)
        if p is None or location is None:
            continue
        colour = "#1a9850" if p >= 0.8 else "#fdae61" if p >= 0.4 else "#d73027"
        folium.CircleMarker(location=location, radius=8 + 16 * p, color=colour, weight=3,
                            fill=True, fill_opacity=0.15,
                            tooltip=stability_tooltip(record, p)).add_to(group)
    return group
