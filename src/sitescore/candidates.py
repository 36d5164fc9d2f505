"""Candidates: federal parcels -> eligible land -> candidate cells (square grid or H3).

Eligible land is the managing agencies' land minus protected areas (by GAP status, designation
and extra exclusion layers, each buffered) and minus tribal and non-federal land. Designations,
their classes and default buffers come from the shipped table data/designations.yaml. The
excluded areas keep their reason so the map and the report can say why land is out.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from .config import CandidatesConfig
from .config.models import designation_table
from .errors import SitescoreError
from .geometry import are_boxes, clip_to_boxes
from .pathways import PATHWAY_COLUMNS, LandPathways, UnknownCodes, split_land
from .schema import CRS, M_PER_KM, SQM_PER_ACRE, WEB_CRS
from .study_area import StudyArea

log = logging.getLogger(__name__)


#: GEOS draws buffer arcs with chords and simplifies the input by up to 1 % of the distance;
#: widening by both keeps every eligible point at least the configured distance away.
BUFFER_QUAD_SEGS = 8
BUFFER_WIDENING = 1.01 / np.cos(np.pi / (4 * BUFFER_QUAD_SEGS))


@dataclass
class EligibleLand:
    parcels: gpd.GeoDataFrame        # selected agency parcels (attributes for naming cells)
    geometry: shapely.Geometry       # eligible area, one (multi)polygon
    excluded: gpd.GeoDataFrame       # excluded areas with a `reason`, buffered
    summary: dict[str, float]        # acres removed by each rule
    notes: list[str] = field(default_factory=list)  # rules that could not apply, for the run's notes
    pathway_unknown: UnknownCodes | None = None     # codes the land-pathway table could not judge
    pathway_area_acres: dict[str, float] = field(default_factory=dict)  # acres each area layer set


def _exclusion_reasons(land: gpd.GeoDataFrame, cfg: CandidatesConfig) -> tuple[pd.Series, np.ndarray]:
    """Why each parcel is a protected area (None where it is not), GAP status first, and the
    buffer each one keeps in metres: its designation's (by class, config or table), else the
    general buffer."""
    reasons = pd.Series([None] * len(land), index=land.index, dtype=object)
    gap = pd.to_numeric(land["gap_status"], errors="coerce")
    for code in cfg.exclude.gap_status:
        hit = (gap == code) & reasons.isna()
        reasons[hit] = f"GAP status {code}"
    des = land["designation"].fillna("").str.upper()
    buffers = cfg.exclude.designation_buffers_km()
    table = designation_table()
    for des_code in buffers:
        hit = (des == des_code) & reasons.isna()
        reasons[hit] = f"designation {des_code} ({table[des_code].label})"
    km = des.map(buffers).fillna(cfg.exclude.general_buffer_km()).to_numpy(dtype=float)
    return reasons, km * M_PER_KM


def _gap_notes(land: gpd.GeoDataFrame, cfg: CandidatesConfig) -> list[str]:
    """A configured GAP-status rule that cannot apply because the layer has no GAP status (BLM
    SMA, the re-published PAD-US subsets): said once, never silently skipped."""
    if not cfg.exclude.gap_status or pd.to_numeric(land["gap_status"], errors="coerce").notna().any():
        return []
    codes = ", ".join(str(c) for c in cfg.exclude.gap_status)
    return [f"candidates.exclude.gap_status [{codes}] could not apply: the land layer "
            f"'{cfg.source}' has no GAP status on any parcel; only designations, owner types "
            "and exclusion layers removed land"]


def eligible_land(federal_land: gpd.GeoDataFrame, cfg: CandidatesConfig, area: StudyArea,
                  extra_exclusions: dict[str, gpd.GeoDataFrame] | None = None,
                  pathways: LandPathways | None = None) -> EligibleLand:
    """Agency land that may host a park, and everything excluded with its reason. With
    `pathways`, the selected parcels are split by the user's pathway areas, carry their land
    pathway, and land the pathway limits rule out is removed with its reason."""
    if len(federal_land) == 0:
        raise SitescoreError(f"no land parcel lies in the study area ({area.label}); check the "
                             "area, and that this file covers it",
                             file=federal_land.attrs.get("path", "the candidate land layer"))
    agencies = {a.upper() for a in cfg.agencies}
    mang = federal_land["mang_name"].fillna("").str.upper()
    by_agency = mang.isin(agencies)
    reasons, buffer_m = _exclusion_reasons(federal_land, cfg)
    blocked_owner = _blocked_owners(federal_land, cfg)
    selected = federal_land[by_agency & reasons.isna() & ~blocked_owner]
    if len(selected) == 0:
        found = ", ".join(sorted(set(mang) - {""})[:12]) or "none"
        raise SitescoreError(
            f"no eligible parcels: no unprotected land managed by {', '.join(sorted(agencies))} "
            f"in the study area (managing agencies present: {found})", key="candidates.agencies")

    summary: dict[str, float] = {}
    excluded_frames = []
    unknown, area_acres = None, {}
    if pathways is not None:
        # the land the pathway limits rule out leaves before the union: no slivers of a difference
        split = split_land(selected, pathways)
        selected, unknown, area_acres = split.kept, split.unknown, split.area_acres
        for reason, group in split.removed.groupby("reason", sort=True):
            taken = shapely.union_all(group.geometry.values)
            if area.geometry is not None:
                taken = shapely.intersection(taken, area.geometry)
            summary[str(reason)] = shapely.area(taken) / SQM_PER_ACRE
        excluded_frames.append(split.removed)
    eligible = shapely.union_all(selected.geometry.values)
    if area.geometry is not None:
        eligible = shapely.intersection(eligible, area.geometry)
    protected = _protected_areas(federal_land, reasons, buffer_m, extra_exclusions, cfg)
    if protected is not None:
        protected = _buffered(protected)
        for reason, group in protected.groupby("reason", sort=True):
            eligible = _remove(eligible, shapely.union_all(group.geometry.values), reason, summary)
        excluded_frames.append(protected)
    tribal_private = federal_land[blocked_owner & ~by_agency]
    if len(tribal_private):
        eligible = _remove(eligible, shapely.union_all(tribal_private.geometry.values),
                           "tribal or non-federal land", summary)
        excluded_frames.append(_owner_reasons(tribal_private))
    excluded = (pd.concat(excluded_frames, ignore_index=True) if excluded_frames
                else gpd.GeoDataFrame({"reason": []}, geometry=[], crs=CRS))
    excluded = gpd.GeoDataFrame(excluded, geometry="geometry", crs=CRS)
    return EligibleLand(selected.reset_index(drop=True), eligible, excluded, summary,
                        _gap_notes(federal_land, cfg), unknown, area_acres)


def _blocked_owners(land: gpd.GeoDataFrame, cfg: CandidatesConfig) -> pd.Series:
    """Parcels whose owner type is excluded (tribal, private, ...) whoever manages them."""
    excluded_types = {t.upper() for t in cfg.exclude.own_types}
    blocked = land["own_type"].fillna("").str.upper().isin(excluded_types)
    if "TRIB" in excluded_types:
        # PAD-US also marks tribal land by designation (TRIBL) on records owned otherwise
        blocked |= land["designation"].fillna("").str.upper().eq("TRIBL")
    return blocked


def _protected_areas(land: gpd.GeoDataFrame, reasons: pd.Series, buffer_m: np.ndarray,
                     extra_exclusions: dict[str, gpd.GeoDataFrame] | None,
                     cfg: CandidatesConfig) -> gpd.GeoDataFrame | None:
    """The protected parcels and the extra exclusion layers' areas, each with its `reason` and
    the `buffer_m` it keeps; None when there is none.

    An extra layer of protected areas is excluded whole, each feature named by its `name` (else
    by the layer), with the general buffer. An extra layer that is federal land itself (a PAD-US
    Designation class beside Proclamation land) goes through the study's own rules, as the
    candidate land does: the designations it excludes, each with its buffer, then its GAP
    statuses; each area is named by its layer, designation and unit ("padus_designation:
    Wilderness Area (WA) Mazatzal Wilderness"); its other areas (roadless areas, trails) stay,
    and so do areas beyond their buffer from the chosen agencies' land."""
    general_m = cfg.exclude.general_buffer_km() * M_PER_KM
    pieces = []
    hit = reasons.notna().to_numpy()
    if hit.any():
        pieces.append(gpd.GeoDataFrame({"reason": reasons[hit].values, "buffer_m": buffer_m[hit]},
                                       geometry=land.geometry.values[hit], crs=CRS))
    buffers_km = cfg.exclude.designation_buffers_km()
    table = designation_table()
    agencies = {a.upper() for a in cfg.agencies}
    agency_land = shapely.STRtree(
        land.geometry.values[land["mang_name"].fillna("").str.upper().isin(agencies).to_numpy()])
    for name, layer in (extra_exclusions or {}).items():
        if not len(layer):
            continue
        if not {"designation", "gap_status", "unit_name"} <= set(layer.columns):
            label = layer["name"].fillna(name) if "name" in layer.columns else name
            pieces.append(gpd.GeoDataFrame({"reason": [f"{name}: {v}" for v in label],
                                            "buffer_m": np.full(len(layer), general_m)},
                                           geometry=layer.geometry.values, crs=CRS))
            continue
        des = layer["designation"].fillna("").str.upper()
        gap = pd.to_numeric(layer["gap_status"], errors="coerce")
        by_des = des.isin(list(buffers_km)).to_numpy()
        by_gap = gap.isin(list(cfg.exclude.gap_status)).to_numpy() & ~by_des
        keep = by_des | by_gap
        km = np.where(by_des, des.map(buffers_km).fillna(0.0).to_numpy(dtype=float),
                      general_m / M_PER_KM)
        # a statewide class holds hundreds of areas far from the agencies' land: those farther
        # than their buffer remove nothing and are neither buffered nor listed
        near = np.zeros(len(layer), dtype=bool)
        if keep.any() and len(agency_land):
            hits, _ = agency_land.query(layer.geometry.values[keep], predicate="dwithin",
                                        distance=km[keep] * M_PER_KM * BUFFER_WIDENING + 1.0)
            near[np.flatnonzero(keep)[np.unique(hits)]] = True
        keep &= near
        if not keep.any():
            continue
        units = layer["unit_name"].fillna("unnamed unit").to_numpy(dtype=object)
        why = [f"{name}: {table[d].label} ({d}) {u}" if d_hit else
               f"{name}: GAP status {g:g} {u}"
               for d, g, u, d_hit in zip(des[keep], gap[keep], units[keep], by_des[keep], strict=True)]
        pieces.append(gpd.GeoDataFrame({"reason": why, "buffer_m": km[keep] * M_PER_KM},
                                       geometry=layer.geometry.values[keep], crs=CRS))
    return pd.concat(pieces, ignore_index=True) if pieces else None


def _buffered(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Excluded areas widened by each one's `buffer_m` (`BUFFER_WIDENING` keeps every eligible
    point at least that far away)."""
    geoms = np.array(areas.geometry.values, dtype=object)
    dist = areas["buffer_m"].to_numpy(dtype=float)
    wide = dist > 0
    if wide.any():
        geoms[wide] = shapely.buffer(geoms[wide], dist[wide] * BUFFER_WIDENING,
                                     quad_segs=BUFFER_QUAD_SEGS)
    return areas.set_geometry(gpd.GeoSeries(geoms, crs=CRS))


def _owner_reasons(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Tribal and non-federal parcels with the reason the map shows for each."""
    return gpd.GeoDataFrame(
        {"reason": ["tribal land" if d == "TRIBL" else f"owner type {t}"
                    for t, d in zip(parcels["own_type"], parcels["designation"], strict=True)],
         "buffer_m": np.zeros(len(parcels))},  # removed as it is: no buffer
        geometry=parcels.geometry.values, crs=CRS)


def _remove(eligible: shapely.Geometry, excluded: shapely.Geometry, reason: str,
             summary: dict[str, float]) -> shapely.Geometry:
    """Eligible land minus one rule's land, recording the acres the rule took (the area lost: one
    overlay on national land instead of an intersection and a difference)."""
    left = shapely.difference(eligible, excluded)
    summary[reason] = max(shapely.area(eligible) - shapely.area(left), 0.0) / SQM_PER_ACRE
    return left


#: Land is cut into tiles of this many cells a side: each cell then meets only the small pieces
#: of its own tile, and cells wholly inside a piece need no intersection.
TILE_CELLS = 16


@dataclass
class _SquareCover:
    """Aligned square cells meeting the land, with the tile-clipped land pieces they meet."""

    cols: np.ndarray
    rows: np.ndarray
    boxes: np.ndarray
    pieces: np.ndarray
    cell_of_pair: np.ndarray    # (cell, piece) pairs whose geometries intersect
    piece_of_pair: np.ndarray
    same_tile: np.ndarray       # the pair's piece lies in the cell's own tile


def _land_pieces(land: shapely.Geometry, tile: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The land cut along a lattice of `tile`-metre squares: pieces and their tile column/row."""
    parts = np.asarray(shapely.get_parts(land))
    minx, miny, maxx, maxy = shapely.total_bounds(parts)
    xs = np.arange(np.floor(minx / tile), np.ceil(maxx / tile), dtype=np.int64)
    ys = np.arange(np.floor(miny / tile), np.ceil(maxy / tile), dtype=np.int64)
    tx, ty = (a.ravel() for a in np.meshgrid(xs, ys))
    tiles = shapely.box(tx * tile, ty * tile, (tx + 1) * tile, (ty + 1) * tile)
    p_idx, t_idx = shapely.STRtree(tiles).query(parts, predicate="intersects")
    tb = shapely.bounds(tiles[t_idx])
    pieces = shapely.make_valid(clip_to_boxes(parts[p_idx], tb))
    keep = ~shapely.is_empty(pieces)
    keep[keep] = shapely.area(pieces[keep]) > 0
    return pieces[keep], tx[t_idx][keep], ty[t_idx][keep]


def _square_cover(geometry: shapely.Geometry, size: float) -> _SquareCover:
    """Cells are enumerated from the bounds of each tile's land pieces, never over the whole
    bounding box: a national grid's bounding box holds many times more cells than the land."""
    tile = size * TILE_CELLS
    pieces, ptx, pty = _land_pieces(geometry, tile)
    b = shapely.bounds(pieces)
    c0 = np.maximum(np.floor(b[:, 0] / size).astype(np.int64), ptx * TILE_CELLS)
    c1 = np.minimum(np.floor(b[:, 2] / size).astype(np.int64), (ptx + 1) * TILE_CELLS - 1)
    r0 = np.maximum(np.floor(b[:, 1] / size).astype(np.int64), pty * TILE_CELLS)
    r1 = np.minimum(np.floor(b[:, 3] / size).astype(np.int64), (pty + 1) * TILE_CELLS - 1)
    n_c, n_r = c1 - c0 + 1, r1 - r0 + 1
    per_piece = n_c * n_r
    total = int(per_piece.sum())
    if total > 50_000_000:
        raise SitescoreError(f"a {size / M_PER_KM:g} km grid over this land would test {total:,} "
                             "cells; use a larger size", key="candidates.grid.size_km")
    owner = np.repeat(np.arange(len(pieces)), per_piece)
    offset = np.arange(total) - np.repeat(np.cumsum(per_piece) - per_piece, per_piece)
    cols = c0[owner] + offset % n_c[owner]
    rows = r0[owner] + offset // n_c[owner]
    key = np.unique(np.column_stack([cols, rows]), axis=0)
    cols, rows = key[:, 0], key[:, 1]
    boxes = shapely.box(cols * size, rows * size, (cols + 1) * size, (rows + 1) * size)
    shapely.prepare(pieces)
    c_idx, k_idx = shapely.STRtree(pieces).query(boxes, predicate="intersects")
    same = (np.floor_divide(cols[c_idx], TILE_CELLS) == ptx[k_idx]) & \
        (np.floor_divide(rows[c_idx], TILE_CELLS) == pty[k_idx])
    return _SquareCover(cols, rows, boxes, pieces, c_idx, k_idx, same)


def _square_ids(size: float, cols: np.ndarray, rows: np.ndarray) -> list[str]:
    return [f"sq{int(size)}_{c}_{r}" for c, r in zip(cols.tolist(), rows.tolist(), strict=True)]


def square_grid(geometry: shapely.Geometry, size_km: float) -> gpd.GeoDataFrame:
    """Square cells aligned to multiples of the size in EPSG:5070, so ids are stable across runs
    and studies (`sq2000_-512_1024` = column, row)."""
    size = size_km * M_PER_KM
    cover = _square_cover(geometry, size)
    hit = np.unique(cover.cell_of_pair)
    return gpd.GeoDataFrame({"cell_id": _square_ids(size, cover.cols[hit], cover.rows[hit])},
                            geometry=cover.boxes[hit], crs=CRS)


def _square_cells_with_area(geometry: shapely.Geometry, size: float) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Square cells with some land and the land area of each. A cell's interior lies in its own
    tile, so only pieces of that tile can cover any of it; a rectangle clip is exact and several
    times cheaper than a general intersection."""
    cover = _square_cover(geometry, size)
    c_idx, k_idx = cover.cell_of_pair[cover.same_tile], cover.piece_of_pair[cover.same_tile]
    # a cell's acres are summed over its pieces in land-part order, so any subset of the land
    # holding a cell's parts (a strip on a Dask worker) gives it the same acres to the last bit
    order = np.lexsort((k_idx, c_idx))
    c_idx, k_idx = c_idx[order], k_idx[order]
    boxes, pieces = cover.boxes, cover.pieces
    inside = shapely.contains_properly(pieces[k_idx], boxes[c_idx])
    area = np.full(len(c_idx), size * size)
    partial = np.flatnonzero(~inside)
    area[partial] = shapely.area(clip_to_boxes(pieces[k_idx[partial]], shapely.bounds(boxes[c_idx[partial]])))
    covered = np.bincount(c_idx, weights=area, minlength=len(boxes))
    hit = np.flatnonzero(covered > 0)
    cells = gpd.GeoDataFrame({"cell_id": _square_ids(size, cover.cols[hit], cover.rows[hit])},
                             geometry=boxes[hit], crs=CRS)
    return cells, covered[hit]


def h3_grid(geometry: shapely.Geometry, resolution: int) -> gpd.GeoDataFrame:
    """H3 cells covering the geometry (grown by one cell edge so partly covered cells are kept)."""
    edge_m = h3.average_hexagon_edge_length(resolution, unit="m")
    grown = shapely.buffer(geometry, edge_m * 1.1, quad_segs=2)
    to_web = Transformer.from_crs(CRS, WEB_CRS, always_xy=True)
    to_albers = Transformer.from_crs(WEB_CRS, CRS, always_xy=True)
    cells: set[str] = set()
    for part in shapely.get_parts(grown):
        web = shapely.transform(part, lambda xy: np.column_stack(to_web.transform(xy[:, 0], xy[:, 1])))
        cells.update(h3.geo_to_cells(web.__geo_interface__, resolution))
    ids = sorted(cells)
    polys = []
    for cid in ids:
        lat_lng = np.array(h3.cell_to_boundary(cid))
        x, y = to_albers.transform(lat_lng[:, 1], lat_lng[:, 0])
        polys.append(shapely.Polygon(np.column_stack([x, y])))
    gdf = gpd.GeoDataFrame({"cell_id": ids}, geometry=polys, crs=CRS)
    hit = shapely.intersects(gdf.geometry.values, geometry)
    return gdf[hit].reset_index(drop=True)


def covered_area(cells: np.ndarray, land: shapely.Geometry, tile_cells: int = TILE_CELLS) -> np.ndarray:
    """Area of each cell (any shape, e.g. H3) covered by `land`, fast on large, detailed polygons:
    the land is cut into tiles of `tile_cells` x `tile_cells` cells first."""
    out = np.zeros(len(cells))
    if len(cells) == 0 or shapely.is_empty(land):
        return out
    bounds = shapely.bounds(cells)
    pieces, _, _ = _land_pieces(land, float(np.max(bounds[:, 2:] - bounds[:, :2])) * tile_cells)
    shapely.prepare(pieces)
    c_idx, k_idx = shapely.STRtree(pieces).query(cells, predicate="intersects")
    inside = shapely.contains_properly(pieces[k_idx], cells[c_idx])
    area = np.where(inside, shapely.area(cells[c_idx]), 0.0)
    partial = ~inside
    area[partial] = shapely.area(shapely.intersection(cells[c_idx[partial]], pieces[k_idx[partial]]))
    np.add.at(out, c_idx, area)
    return out


def estimated_cells(geometry: shapely.Geometry, cfg: CandidatesConfig) -> int:
    """How many cells the grid needs at least to cover the land: its area over one cell's."""
    if cfg.grid.kind == "square":
        cell_m2 = (cfg.grid.size_km * M_PER_KM) ** 2
    else:
        cell_m2 = h3.average_hexagon_area(cfg.grid.resolution, unit="m^2")
    return math.ceil(shapely.area(geometry) / cell_m2)


def check_cell_budget(geometry: shapely.Geometry, cfg: CandidatesConfig) -> None:
    """Refuse a grid finer than `candidates.max_cells` allows before a single cell is made: a
    0.001 km grid over a county's land is a billion cells, and no run survives enumerating them."""
    estimate = estimated_cells(geometry, cfg)
    if estimate <= cfg.max_cells:
        return
    km2 = shapely.area(geometry) / M_PER_KM ** 2
    if cfg.grid.kind == "square":
        grid, key, change = f"a {cfg.grid.size_km:g} km grid", "candidates.grid.size_km", "raise"
    else:
        grid, key, change = (f"an H3 grid at resolution {cfg.grid.resolution}",
                             "candidates.grid.resolution", "lower")
    raise SitescoreError(f"{grid} over {km2:,.0f} km² of eligible land makes at least {estimate:,} "
                         f"cells, more than candidates.max_cells ({cfg.max_cells:,}); {change} "
                         f"{key} or raise candidates.max_cells", key=key)


def make_cells(land: EligibleLand, cfg: CandidatesConfig) -> gpd.GeoDataFrame:
    """Grid the eligible land and keep cells at least `min_eligible_share` eligible, each with the
    agency, unit and state of the parcel covering most of it."""
    if shapely.is_empty(land.geometry):
        rules = sorted(land.summary.items(), key=lambda kv: -kv[1])
        said = "; ".join(f"{r}: {a:,.0f} acres" for r, a in rules[:3] if a > 0)
        pathway = any(r.startswith("land ") for r, a in rules[:3] if a > 0)
        raise SitescoreError("every parcel of the chosen agencies is excluded; nothing left to "
                             "score" + (f" (removed most: {said})" if said else ""),
                             key="candidates.pathways" if pathway else "candidates.exclude")
    check_cell_budget(land.geometry, cfg)
    if cfg.grid.kind == "square":
        grid, eligible_m2 = _square_cells_with_area(land.geometry, cfg.grid.size_km * M_PER_KM)
        cells = grid.geometry.values
    else:
        grid = h3_grid(land.geometry, cfg.grid.resolution)
        cells = grid.geometry.values
        eligible_m2 = covered_area(cells, land.geometry)
    cell_m2 = shapely.area(cells)
    share = eligible_m2 / cell_m2
    keep = share >= cfg.min_eligible_share - 1e-9
    grid = grid[keep].reset_index(drop=True)
    grid["eligible_acres"] = eligible_m2[keep] / SQM_PER_ACRE
    grid["cell_acres"] = cell_m2[keep] / SQM_PER_ACRE
    grid["eligible_share"] = share[keep]
    # name each cell by the selected parcel under its centroid (the nearest one for edge cells)
    parcels = land.parcels
    ptree = shapely.STRtree(parcels.geometry.values)
    centroids = shapely.centroid(grid.geometry.values)
    s, d = ptree.query(centroids, predicate="intersects")
    order = np.lexsort((d, s))
    s, d = s[order], d[order]
    best = np.full(len(grid), -1)
    first = np.r_[True, s[1:] != s[:-1]] if len(s) else np.array([], dtype=bool)
    best[s[first]] = d[first]
    orphans = np.flatnonzero(best < 0)
    if len(orphans):
        (o_src, o_dst) = ptree.query_nearest(centroids[orphans], all_matches=False)
        best[orphans[o_src]] = o_dst
    carried = [("agency", "mang_name"), ("unit_name", "unit_name"), ("state", "state")]
    carried += [(c, c) for c in PATHWAY_COLUMNS if c in parcels.columns]
    for col, src_col in carried:
        vals = parcels[src_col].to_numpy(dtype=object)
        grid[col] = vals[best]
    for col in ("pathway_months_low", "pathway_months_high"):
        if col in grid.columns:
            grid[col] = pd.to_numeric(grid[col], errors="coerce").astype(float)
    grid = grid.sort_values("cell_id", kind="stable").reset_index(drop=True)
    log.info("%d candidate cells (%s grid)", len(grid), cfg.grid.kind)
    return grid


def shortlist_cells(shortlist: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A planner's own sites as candidates: scored as they are, whatever land they lie on.

    A site's acres are its stated acres where the shortlist gives them (a land-size criterion
    counts the park's real size, not the circle drawn around a point), else its drawn area;
    `area_source` says which. The lon/lat a point site was given travel on as columns."""
    if len(shortlist) == 0:
        raise SitescoreError("the shortlist has no usable sites", file=shortlist.attrs.get("path"))
    n = len(shortlist)
    drawn = shapely.area(shortlist.geometry.values) / SQM_PER_ACRE
    stated = _shortlist_column(shortlist, "acres", n)
    area = np.where(np.isfinite(stated), stated, drawn)
    points = ~np.isnan(_shortlist_column(shortlist, "lon", n))
    source = np.where(np.isfinite(stated), "stated", np.where(points, "circle", "polygon"))
    cells = gpd.GeoDataFrame({
        "cell_id": shortlist["candidate_id"].astype(str).to_numpy(),
        "name": shortlist["name"].to_numpy(dtype=object),
        "eligible_acres": area, "cell_acres": area, "eligible_share": np.ones(n),
        "area_source": source.astype(object),
        "agency": None, "unit_name": shortlist["name"].to_numpy(dtype=object), "state": None,
        "lon": _shortlist_column(shortlist, "lon", n), "lat": _shortlist_column(shortlist, "lat", n),
    }, geometry=shortlist.geometry.values, crs=CRS)
    if cells["cell_id"].duplicated().any():
        dup = cells.loc[cells["cell_id"].duplicated(), "cell_id"].iloc[0]
        raise SitescoreError(f"candidate id '{dup}' appears twice", file=shortlist.attrs.get("path"),
                             field="id")
    return cells


def _shortlist_column(shortlist: gpd.GeoDataFrame, col: str, n: int) -> np.ndarray:
    """A numeric column of the shortlist layer, NaN throughout where it has none (an older
    cache or a caller's own frame)."""
    if col not in shortlist.columns:
        return np.full(n, np.nan)
    return pd.to_numeric(shortlist[col], errors="coerce").to_numpy(dtype=float)


def cell_adjacency(cells: gpd.GeoDataFrame) -> list[np.ndarray]:
    """Neighbours sharing an edge (not just a corner): what 'contiguous' means for a site.

    Aligned square cells and H3 cells find their neighbours from their lattice index; any other
    cells (a planner's polygons) by a geometric `touches` query."""
    geoms = cells.geometry.values
    pairs = _square_neighbours(geoms)
    if pairs is None and "cell_id" in cells.columns:
        pairs = _h3_neighbours(cells["cell_id"].to_numpy(dtype=object))
    if pairs is None:
        tree = shapely.STRtree(geoms)
        a, b = tree.query(geoms, predicate="touches")
        if len(a):
            shared = shapely.length(shapely.intersection(geoms[a], geoms[b])) > 1.0
            a, b = a[shared], b[shared]
        pairs = (a, b)
    a, b = pairs
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    splits = np.searchsorted(a, np.arange(len(cells) + 1))
    return [b[splits[i]:splits[i + 1]] for i in range(len(cells))]


def _square_neighbours(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Edge neighbours of axis-aligned squares of one size on one lattice, or None if the cells
    are not such a grid."""
    n = len(geoms)
    if not are_boxes(geoms):
        return None
    b = shapely.bounds(geoms)
    size = b[0, 2] - b[0, 0]
    if size <= 0 or not (np.allclose(b[:, 2] - b[:, 0], size, rtol=0, atol=1e-6 * size)
                         and np.allclose(b[:, 3] - b[:, 1], size, rtol=0, atol=1e-6 * size)):
        return None
    col, row = np.round(b[:, 0] / size), np.round(b[:, 1] / size)
    if not (np.allclose(col * size, b[:, 0], rtol=0, atol=1e-6 * size)
            and np.allclose(row * size, b[:, 1], rtol=0, atol=1e-6 * size)):
        return None
    col, row = col.astype(np.int64), row.astype(np.int64)
    span = int(row.max() - row.min()) + 3
    key = (col - col.min() + 1) * span + (row - row.min() + 1)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    src, dst = [], []
    for step in (-span, span, -1, 1):  # west, east, south, north
        pos = np.searchsorted(sorted_key, key + step)
        pos_ok = np.minimum(pos, n - 1)
        found = sorted_key[pos_ok] == key + step
        src.append(np.flatnonzero(found))
        dst.append(order[pos_ok[found]])
    return np.concatenate(src), np.concatenate(dst)


def _h3_neighbours(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Edge neighbours of H3 cells from the H3 index (every cell shares an edge with each of its
    ring-1 cells), or None if the ids are not H3 cells."""
    if len(ids) == 0 or not all(isinstance(c, str) and h3.is_valid_cell(c) for c in ids):
        return None
    where = {c: i for i, c in enumerate(ids)}
    src, dst = [], []
    for i, c in enumerate(ids):
        for nb in h3.grid_ring(c, 1):
            j = where.get(nb)
            if j is not None:
                src.append(i)
                dst.append(j)
    return np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)


def fill_states(cells: gpd.GeoDataFrame, states: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cells whose parcel names no state (some re-published PAD-US files) take the state under
    their centroid, so sites are always named with one."""
    missing = cells["state"].isna().to_numpy()
    if not missing.any() or len(states) == 0:
        return cells
    centroids = shapely.centroid(cells.geometry.values[missing])
    src, dst = shapely.STRtree(states.geometry.values).query(centroids, predicate="intersects")
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    first = np.r_[True, src[1:] != src[:-1]] if len(src) else np.array([], dtype=bool)
    found = np.full(int(missing.sum()), None, dtype=object)
    found[src[first]] = states["abbrev"].to_numpy(dtype=object)[dst[first]]
    values = cells["state"].to_numpy(dtype=object).copy()
    values[missing] = found
    return cells.assign(state=values)
