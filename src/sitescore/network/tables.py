"""The network's tables: the parks (role, score under every role, the constraint terms each
uses, why it was chosen), the links as lines with their km, and every candidate site with its
score and verdict per role. All in EPSG:5070, lon/lat beside."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..schema import CRS, M_PER_KM
from .candidates import CandidatePool
from .checks import Park, power_load
from .explain import ParkReason
from .problem import NetworkProblem, site_centres
from .roads import RoadGraph
from .robustness import Robustness


def parks_table(problem: NetworkProblem, pool: CandidatePool, chosen: list[Park],
                reasons: list[ParkReason], robustness: Robustness | None) -> gpd.GeoDataFrame:
    """One row per park, numbered 1.. in the order of `chosen` (by role, best first)."""
    p = problem
    sites = pool.sites
    rows = []
    geoms = sites.geometry.values
    for k, ((i, r), why) in enumerate(zip(chosen, reasons, strict=True), start=1):
        s = sites.iloc[i]
        row = {"park": k, "role": p.roles[r].name, "site_id": int(s["site_id"]), "name": s["name"],
               "agency": s.get("agency"), "unit_name": s.get("unit_name"), "state": s.get("state"),
               "acres": float(s["acres"]), "lon": s["lon"], "lat": s["lat"],
               "score": float(p.scores[i, r])}
        for rr, role in enumerate(p.roles):
            row[f"score__{role.name}"] = float(p.scores[i, rr]) if p.eligible[i, rr] else np.nan
        row["power_mw"] = p.roles[r].power_mw
        row["water_mgd"] = p.roles[r].water_mgd
        if p.power is not None:
            row["power_capacity_mw"] = float(p.power.capacity_mw[i])
            row["power_load_mw"] = power_load(p, chosen, i)
            row["power_budget_mw"] = float(p.power.share * p.power.capacity_mw[i])
        others = [j for j, _ in chosen if j != i]
        row["nearest_park_km"] = float(shapely.distance(geoms[i], geoms[others]).min()
                                       / M_PER_KM) if others else np.nan
        row["best_left_out_site"] = int(p.site_ids[why.rival]) if why.rival is not None else None
        row["best_left_out_score"] = why.rival_score
        row["score_margin"] = why.difference
        row["bound_by"] = why.bound_by
        row["why"] = why.text
        if robustness is not None:
            row["p_stay"] = robustness.p_stay.get((i, r), 0.0)
            row["p_in_network"] = robustness.p_in_network.get(i, 0.0)
        row["cell_ids"] = s.get("cell_ids")
        row["geometry"] = geoms[i]
        rows.append(row)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


def links_table(problem: NetworkProblem, pool: CandidatePool, chosen: list[Park],
                roads: RoadGraph | None) -> gpd.GeoDataFrame:
    """Each park of a link's `from` role joined to its nearest park of the `to` role in reach,
    as a line (the freeway route, or straight) with its km."""
    p = problem
    centres = site_centres(pool.sites)
    number = {(i, r): k for k, (i, r) in enumerate(chosen, start=1)}
    rows = []
    for link in p.links:
        to_parks = {i for i, r in chosen if r == link.dst}
        for i, r in chosen:
            if r != link.src:
                continue
            reach, km = link.reach(i)
            hits = [(float(d), int(j)) for j, d in zip(reach, km, strict=True) if int(j) in to_parks]
            if not hits:
                continue
            d, j = min(hits)
            if link.by == "freeway" and roads is not None:
                line, _ = roads.route(centres[i], centres[j])
            else:
                line = shapely.LineString([tuple(centres[i]), tuple(centres[j])])
            rows.append({"link": link.key, "from_park": number[(i, r)], "from_role": p.roles[r].name,
                         "from_name": p.names[i], "to_park": number[(j, link.dst)],
                         "to_role": p.roles[link.dst].name, "to_name": p.names[j],
                         "km": round(d, 1), "max_km": link.max_km, "by": link.by,
                         "label": f"{p.roles[r].name} park {number[(i, r)]} → "
                                  f"{p.roles[link.dst].name} park {number[(j, link.dst)]}: "
                                  f"{d:,.0f} km by {link.by.replace('_', ' ')}",
                         "geometry": line})
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in ("link", "from_park", "from_role", "from_name",
                                                 "to_park", "to_role", "to_name", "km", "max_km",
                                                 "by", "label")}, geometry=[], crs=CRS)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


def link_text(links: gpd.GeoDataFrame, park: int) -> str:
    """What a park is linked to (or serves), in words ('' when it has no link)."""
    out = [f"{r['to_role']} park {int(r['to_park'])} ({r['km']:,.0f} km by "
           f"{str(r['by']).replace('_', ' ')})" for _, r in links[links["from_park"] == park].iterrows()]
    out += [f"serves {r['from_role']} park {int(r['from_park'])} ({r['km']:,.0f} km)"
            for _, r in links[links["to_park"] == park].iterrows()]
    return "; ".join(out)


def candidates_table(problem: NetworkProblem, pool: CandidatePool,
                     chosen: list[Park]) -> gpd.GeoDataFrame:
    """Every candidate site: where it came from, its role in the network (if any), and per role
    its score and whether (or why not) it qualifies."""
    p = problem
    out = pool.sites[["site_id", "name", "agency", "unit_name", "state", "acres", "lon", "lat",
                      "origin", "geometry"]].copy() if "agency" in pool.sites.columns else \
        pool.sites[["site_id", "name", "state", "acres", "lon", "lat", "origin", "geometry"]].copy()
    number = {i: (k, r) for k, (i, r) in enumerate(chosen, start=1)}
    out["in_network"] = [p.roles[number[i][1]].name if i in number else "" for i in range(p.n_sites)]
    out["park"] = pd.array([number[i][0] if i in number else None for i in range(p.n_sites)],
                           dtype="Int64")
    for r, role in enumerate(p.roles):
        out[f"score__{role.name}"] = np.where(p.eligible[:, r], p.scores[:, r], np.nan)
        out[f"qualifies__{role.name}"] = p.eligible[:, r]
        out[f"why_not__{role.name}"] = pool.why_not[:, r]
    best = np.where(p.eligible, p.scores, -np.inf)
    out["best_role"] = [f"best as {p.roles[int(np.argmax(b))].name} ({b.max():.3f})"
                        if np.isfinite(b.max()) else "qualifies for no role" for b in best]
    return out.set_geometry("geometry")
