"""Locate: best cells -> ranked sites (contiguous areas of at least the park size, spaced apart).

Region growing from the best cell outward: a site takes the best qualifying neighbours until it
holds `min_site_acres` of eligible land. Sites must lie `min_spacing_km` apart, so the list shows
distinct places rather than ten corners of one basin. Ties are broken by cell id, so the result
is deterministic.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import SitesConfig
from .schema import CRS, M_PER_KM, WEB_CRS
from .scoring import aggregate_scores


def grow_sites(cells: gpd.GeoDataFrame, adjacency: Sequence[np.ndarray],
               cfg: SitesConfig) -> np.ndarray:
    """Site number (1, 2, ... in order found) per cell, 0 where the cell is in no site."""
    n = len(cells)
    score = cells["score"].to_numpy(dtype=float)
    acres = cells["eligible_acres"].to_numpy(dtype=float)
    ids = cells["cell_id"].to_numpy(dtype=object)
    qualifies = (~cells["excluded"].to_numpy(dtype=bool)) & (score >= cfg.min_cell_score)
    # rank of cell id, for deterministic tie-breaks inside the heap
    id_rank = np.empty(n, dtype=np.int64)
    id_rank[np.argsort(ids, kind="stable")] = np.arange(n)
    order = np.lexsort((id_rank, -score))
    site_of = np.zeros(n, dtype=np.int64)
    tried = np.zeros(n, dtype=bool)
    spacing = cfg.min_spacing_km * M_PER_KM
    geoms = cells.geometry.values
    site_shapes: list[shapely.Geometry] = []

    def far_enough(i: int) -> bool:
        if spacing <= 0 or not site_shapes:
            return True
        return bool(np.all(shapely.distance(geoms[i], np.asarray(site_shapes)) >= spacing))

    for seed in order:
        if len(site_shapes) >= cfg.max_sites:
            break
        if not qualifies[seed] or tried[seed] or site_of[seed] or not far_enough(seed):
            continue
        region, total = [], 0.0
        heap = [(-score[seed], id_rank[seed], seed)]
        seen = {seed}
        while heap and total < cfg.min_site_acres:
            _, _, i = heapq.heappop(heap)
            if i != seed and not far_enough(i):
                continue
            region.append(i)
            total += acres[i]
            for j in adjacency[i]:
                if j not in seen and qualifies[j] and not site_of[j]:
                    seen.add(j)
                    heapq.heappush(heap, (-score[j], id_rank[j], j))
        tried[region] = True
        if total + 1e-6 >= cfg.min_site_acres:
            site_of[region] = len(site_shapes) + 1
            site_shapes.append(shapely.union_all(geoms[region]))
    return site_of


def site_table(cells: gpd.GeoDataFrame, site_of: np.ndarray, criteria: Sequence[str],
               eligible: shapely.Geometry | None = None, method: str = "weighted_sum") -> gpd.GeoDataFrame:
    """One row per site: its cells' acre-weighted score and breakdown, named by the managing
    agency and unit holding most of its acres, ranked best first (ties by site id).

    With `eligible` land given, a site's outline is its cells cut to that land, so the map never
    outlines the protected buffer a partly eligible edge cell reaches into."""
    rows = []
    numeric_cols = [f"{k}__{c}" for c in criteria for k in ("raw", "value", "weight", "contribution")]
    for sid in np.unique(site_of[site_of > 0]):
        # summed in cell-id order, so equal sites get bit-identical scores whatever the row order
        members = cells[site_of == sid].sort_values("cell_id", kind="stable")
        w = members["eligible_acres"].to_numpy(dtype=float)
        row: dict[str, Any] = {"site_id": int(sid), "n_cells": len(members), "acres": float(w.sum()),
               "score": float(np.average(members["score"], weights=w))}
        for col in numeric_cols:
            vals = pd.to_numeric(members[col], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(vals)
            if col.startswith("weight__"):  # the same weight in every cell: keep it exact
                row[col] = float(vals[ok][0]) if ok.any() else np.nan
            else:
                row[col] = float(np.average(vals[ok], weights=w[ok])) if ok.any() else np.nan
        by_unit = members.groupby(["agency", "unit_name"], dropna=False)["eligible_acres"].sum()
        by_unit = by_unit.sort_values(ascending=False, kind="stable")
        agency, unit = by_unit.index[0] if len(by_unit) else (None, None)
        row["agency"], row["unit_name"] = agency, unit
        states = members["state"].dropna()
        row["state"] = states.mode().iloc[0] if len(states) else None
        row.update(_site_pathway(members))
        row["name"] = _site_name(agency, unit, members)
        row["cell_ids"] = " ".join(sorted(members["cell_id"].astype(str)))
        outline = shapely.union_all(members.geometry.values)
        if eligible is not None:
            local = shapely.clip_by_rect(eligible, *shapely.bounds(outline))
            outline = shapely.intersection(outline, shapely.make_valid(local))
        row["geometry"] = outline
        rows.append(row)
    if not rows:
        cols = ["rank", "site_id", "name", "agency", "unit_name", "state", "acres", "n_cells",
                "score", "lon", "lat", *numeric_cols, "cell_ids"]
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=CRS)
    sites = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
    if criteria:
        # the method applied to the sites' own criterion values (for the weighted sum this is
        # the acre-weighted mean of the cells' scores, up to rounding)
        values = sites[[f"value__{c}" for c in criteria]].to_numpy(dtype=float)
        weights = sites[[f"weight__{c}" for c in criteria]].iloc[0].to_numpy(dtype=float)
        sites["score"] = aggregate_scores(np.nan_to_num(values), weights, method)
    sites = sites.sort_values(["score", "site_id"], ascending=[False, True], kind="stable")
    sites.insert(0, "rank", np.arange(1, len(sites) + 1))
    centre = gpd.GeoSeries(shapely.point_on_surface(sites.geometry.values), crs=CRS).to_crs(WEB_CRS)
    sites["lon"] = centre.x.round(5).to_numpy()
    sites["lat"] = centre.y.round(5).to_numpy()
    first = ["rank", "site_id", "name", "agency", "unit_name", "state", "acres", "n_cells", "score",
             "lon", "lat"]
    pathway = [c for c in SITE_PATHWAY_COLUMNS if c in sites.columns]
    return sites[first + pathway + numeric_cols + ["cell_ids", "geometry"]].reset_index(drop=True)


#: A site's land pathway, where its cells carry one: the pathway of most of its acres, that
#: pathway's label, months and NEPA level, and every pathway of the site with its acres.
SITE_PATHWAY_COLUMNS = ("pathway", "pathway_label", "pathway_available", "pathway_nepa",
                        "pathway_months_low", "pathway_months_high", "pathway_acres")


def _site_pathway(members: gpd.GeoDataFrame) -> dict[str, Any]:
    if "pathway" not in members.columns:
        return {}
    key = members["pathway"].astype(object).where(members["pathway"].notna(), "unknown")
    acres = members["eligible_acres"].astype(float).groupby(key.to_numpy()).sum()
    acres = acres.sort_values(ascending=False, kind="stable")
    mix = "; ".join(f"{k} {v:,.0f} ac" for k, v in acres.items())
    main = members[key.to_numpy() == acres.index[0]].iloc[0]
    if acres.index[0] == "unknown":
        return {"pathway": None, "pathway_label": None, "pathway_available": None,
                "pathway_nepa": None, "pathway_months_low": np.nan, "pathway_months_high": np.nan,
                "pathway_acres": mix}
    return {c: main[c] for c in SITE_PATHWAY_COLUMNS[:-1]} | {"pathway_acres": mix}


def _site_name(agency: object, unit: object, members: gpd.GeoDataFrame) -> str:
    if "name" in members.columns and len(members) == 1 and isinstance(members["name"].iloc[0], str):
        return members["name"].iloc[0]
    parts = [str(p) for p in (agency, unit) if isinstance(p, str) and p]
    return " – ".join(parts) if parts else "Unnamed site"


def shortlist_sites(cells: gpd.GeoDataFrame, criteria: Sequence[str],
                    method: str = "weighted_sum") -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Each shortlist candidate is a site of its own; excluded ones rank after all others.

    A point site's lon/lat are the ones it was given, to the last digit (its outline is a
    circle, whose representative point lies some 70 m off); a polygon keeps a point inside it.
    `area_source` says whether its acres were stated, or are its circle's or polygon's."""
    site_of = np.arange(1, len(cells) + 1)
    sites = site_table(cells, site_of, criteria, method=method)
    for col in ("lon", "lat", "area_source"):
        if col in cells.columns:
            given = dict(zip(range(1, len(cells) + 1), cells[col].to_numpy(), strict=True))
            value = sites["site_id"].map(given)
            sites[col] = value.where(value.notna(), sites[col]) if col in sites.columns else value
    excluded = dict(zip(range(1, len(cells) + 1), cells["excluded"].to_numpy(dtype=bool), strict=True))
    reasons = dict(zip(range(1, len(cells) + 1), cells["exclusion_reason"].to_numpy(dtype=object),
                       strict=True))
    sites["excluded"] = sites["site_id"].map(excluded).astype(bool)
    sites["exclusion_reason"] = sites["site_id"].map(reasons)
    sites = sites.sort_values(["excluded", "score", "site_id"], ascending=[True, False, True],
                              kind="stable").reset_index(drop=True)
    sites["rank"] = np.arange(1, len(sites) + 1)
    return sites, site_of
