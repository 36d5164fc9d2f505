"""Candidate sites under each role: one pass over the measured cells per role, then every
candidate scored under every role.

Per role, its preset's criteria are read from the shared measurements (never measured again),
scored with its value functions, weights and aggregation, vetoed by its constraints and
candidate agencies, and its best sites grown as `locate` grows them (at most `sites_per_role`,
spaced as the preset says). The sites of all roles form one pool; each pool site's value per
criterion is the acre-weighted mean of its cells' (as `locate.site_table` has it), its score
the role's aggregation of those, and it qualifies for a role when none of its cells is vetoed
under that role and it holds the role's `min_site_acres`. A shortlist's sites are the pool as
they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..candidates import cell_adjacency
from ..config import SitesConfig
from ..config.network import NetworkConfig
from ..errors import ConfigError
from ..formatting import fmt_pct
from ..left_out import LeftOut, configured_shares, preset_dropped
from ..locate import grow_sites, shortlist_sites, site_table
from ..pipeline import StudyResult
from ..schema import CRS
from ..scoring import aggregate_scores, apply_constraints, score_table
from .roles import RoleStudy


@dataclass
class RoleScoring:
    """One role's pass over the cells: what it scored, with what, and which cells it vetoes."""

    name: str
    criteria: dict
    weights: dict[str, float]
    method: str
    cells: gpd.GeoDataFrame
    vetoed: np.ndarray
    #: per cell, the rule that vetoes it (without the cell's value), None where none does
    veto_rule: np.ndarray
    left_out: list[LeftOut] = field(default_factory=list)
    weight_kept: float = 1.0
    notes: list[str] = field(default_factory=list)


@dataclass
class CandidatePool:
    """Every candidate site (EPSG:5070) and, per role, its score and whether it qualifies."""

    sites: gpd.GeoDataFrame
    roles: list[str]
    scores: np.ndarray
    eligible: np.ndarray
    #: per role, why a site does not qualify (None where it does)
    why_not: np.ndarray
    #: per role, the sites' criterion values (sites x criteria) and the role's weights
    values: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    methods: dict[str, str]
    members: list[np.ndarray]


def score_roles(result: StudyResult, roles: dict[str, RoleStudy], *,
                allow_partial: bool = False) -> dict[str, RoleScoring]:
    """Each role's scores, vetoes and left-out criteria over the study's measured cells."""
    measured = set(result.criteria)
    out = {}
    for name, role in roles.items():
        out[name] = _score_role(result, role, measured, allow_partial)
    return out


def _score_role(result: StudyResult, role: RoleStudy, measured: set[str],
                allow_partial: bool) -> RoleScoring:
    cfg = role.cfg
    cells = result.cells
    measured_left = {x.name: x for x in result.left_out}
    dropped = preset_dropped(cfg)
    shares = configured_shares(cfg, dropped)
    left_out = [LeftOut(n, str(c.get("label") or n), "layer missing", shares[n])
                for n, c in dropped.items()]
    criteria, raw = {}, {}
    for n, crit in cfg.criteria.items():
        job = role.jobs[n]
        if job in measured and f"raw__{job}" in cells.columns:
            criteria[n] = crit
            raw[n] = cells[f"raw__{job}"].to_numpy()
        else:
            why = measured_left[job].reason if job in measured_left else "not measured"
            left_out.append(LeftOut(n, crit.label or n, why, shares.get(n, 0.0)))
    kept = sum(shares.get(n, 0.0) for n in criteria)
    if not criteria or not any((c.weight or 0) > 0 for c in criteria.values()):
        raise ConfigError(f"role '{role.name}': none of preset {role.preset_name}'s criteria "
                          "could be scored in this study", key=f"{role.key}.preset")
    if kept < cfg.min_weight_kept - 1e-9 and not allow_partial:
        said = "; ".join(f"{x.name} ({x.reason}, {fmt_pct(x.weight_share)})" for x in left_out)
        raise ConfigError(f"role '{role.name}': the criteria of preset {role.preset_name} scored "
                          f"carry {fmt_pct(kept)} of its weight, below {fmt_pct(cfg.min_weight_kept)}; "
                          f"missing: {said}. Add their data, or run with --allow-partial",
                          key=f"{role.key}.preset")
    weights = {n: float(c.weight or 0.0) for n, c in criteria.items()}
    table = score_table(raw, criteria, weights, cfg.aggregation)
    constraints = [c for c in cfg.constraints if c.criterion in criteria]
    cons = apply_constraints(raw, constraints, criteria, len(cells))
    vetoed = np.asarray(cons.excluded, dtype=bool).copy()
    reason = np.asarray(cons.reasons, dtype=object).copy()
    rule = np.asarray(cons.rules if cons.rules is not None else cons.reasons, dtype=object).copy()
    notes = [f"role '{role.name}': constraint on '{c.criterion}' left out with its criterion"
             for c in cfg.constraints if c.criterion not in criteria]
    agencies = {a.upper() for a in cfg.candidates.agencies}
    study_agencies = {a.upper() for a in result.cfg.candidates.agencies}
    if agencies != study_agencies and "agency" in cells.columns:
        agency = np.array([a.upper() if isinstance(a, str) and a else None
                           for a in cells["agency"].to_numpy(dtype=object)], dtype=object)
        known = np.array([a is not None for a in agency], dtype=bool)
        outside = known & np.array([a not in agencies for a in agency], dtype=bool)
        said = f"managed by an agency outside preset {role.preset_name}'s " \
               f"({', '.join(sorted(agencies))})"
        reason[outside & ~vetoed] = said
        rule[outside & ~vetoed] = said
        vetoed |= outside
        if (~known).any():
            notes.append(f"role '{role.name}': {int((~known).sum()):,} candidate cells name no "
                         f"managing agency; preset {role.preset_name}'s agencies "
                         f"({', '.join(sorted(agencies))}) are not checked for them")
    keep = [c for c in ("cell_id", "name", "agency", "unit_name", "state", "eligible_acres",
                        "cell_acres", "lon", "lat", "area_source") if c in cells.columns]
    scored = gpd.GeoDataFrame(pd.concat([cells[keep].reset_index(drop=True), table], axis=1),
                              geometry=cells.geometry.values, crs=CRS)
    scored["excluded"] = vetoed
    scored["exclusion_reason"] = reason
    total = sum(weights.values())
    return RoleScoring(role.name, criteria, {n: w / total for n, w in weights.items()},
                       cfg.aggregation, scored, vetoed, rule, left_out, kept, notes)


def candidate_pool(result: StudyResult, roles: dict[str, RoleStudy],
                   scorings: dict[str, RoleScoring], net: NetworkConfig,
                   shortlist: bool) -> CandidatePool:
    """The pool of candidate sites, each scored under every role (see the module)."""
    names = list(roles)
    if shortlist:
        first = scorings[names[0]]
        sites, site_of = shortlist_sites(first.cells, list(first.criteria), first.method)
        sites = sites.sort_values("site_id", kind="stable").reset_index(drop=True)
        members = [np.flatnonzero(site_of == sid) for sid in sites["site_id"]]
        sites["origin"] = "shortlist"
    else:
        sites, members = _grown_sites(result, roles, scorings, net)
    n, r = len(sites), len(names)
    scores = np.full((n, r), np.nan)
    eligible = np.zeros((n, r), dtype=bool)
    why_not = np.full((n, r), None, dtype=object)
    values, weights, methods = {}, {}, {}
    site_idx = np.concatenate([np.full(len(m), k) for k, m in enumerate(members)]) \
        if members else np.zeros(0, dtype=np.int64)
    cell_idx = np.concatenate(members) if members else np.zeros(0, dtype=np.int64)
    acres = result.cells["eligible_acres"].to_numpy(dtype=float)[cell_idx]
    for k, name in enumerate(names):
        sc = scorings[name]
        crit = list(sc.criteria)
        v = np.column_stack([_site_means(sc.cells[f"value__{c}"].to_numpy(dtype=float)[cell_idx],
                                         acres, site_idx, n) for c in crit])
        w = np.array([sc.weights[c] for c in crit])
        values[name], weights[name], methods[name] = v, w, sc.method
        scores[:, k] = aggregate_scores(np.nan_to_num(v), w, sc.method) if n else []
        vetoed_sites = np.bincount(site_idx, weights=sc.vetoed[cell_idx].astype(float),
                                   minlength=n) > 0
        min_acres = roles[name].cfg.sites.min_site_acres
        small = (sites["acres"].to_numpy(dtype=float) + 1e-6 < min_acres) if not shortlist \
            else np.zeros(n, dtype=bool)
        eligible[:, k] = ~vetoed_sites & ~small
        for s in np.flatnonzero(vetoed_sites):
            cells_here = cell_idx[site_idx == s]
            first_reason = next((x for x in sc.veto_rule[cells_here] if isinstance(x, str)),
                                "vetoed")
            why_not[s, k] = first_reason
        for s in np.flatnonzero(small & ~vetoed_sites):
            why_not[s, k] = f"{sites['acres'].iloc[s]:,.0f} acres, under preset " \
                            f"{roles[name].preset_name}'s {min_acres:,.0f}"
    return CandidatePool(sites, names, scores, eligible, why_not, values, weights, methods, members)


def _grown_sites(result: StudyResult, roles: dict[str, RoleStudy],
                 scorings: dict[str, RoleScoring], net: NetworkConfig
                 ) -> tuple[gpd.GeoDataFrame, list[np.ndarray]]:
    """Each role's best sites grown over its own scores; one pool, sites found twice kept once."""
    cells = result.cells
    adjacency = cell_adjacency(cells)
    frames, members, seen = [], [], set()
    for name, role in roles.items():
        sc = scorings[name]
        rs = role.cfg.sites
        grown = SitesConfig(min_site_acres=rs.min_site_acres, min_spacing_km=rs.min_spacing_km,
                            max_sites=net.sites_per_role, min_cell_score=rs.min_cell_score)
        site_of = grow_sites(sc.cells, adjacency, grown)
        if not (site_of > 0).any():
            continue
        table = site_table(sc.cells, site_of, list(sc.criteria), method=sc.method)
        for _, row in table.iterrows():
            idx = np.flatnonzero(site_of == row["site_id"])
            key = tuple(idx.tolist())
            if key in seen:
                continue
            seen.add(key)
            members.append(idx)
            frames.append({"origin": name, **{c: row[c] for c in (
                "name", "agency", "unit_name", "state", "acres", "n_cells", "lon", "lat",
                "cell_ids", "geometry")}})
    if not frames:
        raise ConfigError("no role grows a single site on this study's candidate cells (each "
                          "role's constraints and agencies veto them all)", key="network.roles")
    sites = gpd.GeoDataFrame(frames, geometry="geometry", crs=CRS)
    if result.excluded is not None and len(result.excluded):
        sites["geometry"] = _cut(sites.geometry.values, result.excluded)
    sites.insert(0, "site_id", np.arange(1, len(sites) + 1))
    return sites, members


def _cut(outlines: np.ndarray, excluded: gpd.GeoDataFrame) -> np.ndarray:
    """Outlines without the excluded land (protected areas and their buffers) they reach into."""
    tree = shapely.STRtree(excluded.geometry.values)
    out = outlines.copy()
    for k, g in enumerate(outlines):
        hits = tree.query(g, predicate="intersects")
        if len(hits):
            cut = shapely.difference(g, shapely.union_all(excluded.geometry.values[hits]))
            out[k] = cut if not cut.is_empty else g
    return out


def _site_means(values: np.ndarray, acres: np.ndarray, site: np.ndarray, n: int) -> np.ndarray:
    """Acre-weighted mean per site of its cells' finite values (NaN where none is)."""
    ok = np.isfinite(values)
    num = np.bincount(site[ok], weights=(values * acres)[ok], minlength=n)
    den = np.bincount(site[ok], weights=acres[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
