"""The network choice as data: candidate sites, their score under every role, and each
constraint's terms (spacing pairs, generation neighbourhoods, link reach), ready for the exact
model, the greedy rule and the checks alike.

`build_problem` measures what the constraints need from the sites' geometry (EPSG:5070):
edge-to-edge distances for spacing, centre-to-centre distances for shared generation, road (or
straight) distances for links. Nothing here solves anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from ..config.network import NetworkConfig
from ..schema import M_PER_KM
from .roads import RoadGraph, straight_pairs

#: Two sites sharing more land than this (m²) can never both be parks, whatever the spacing.
SHARED_LAND_M2 = 1.0


@dataclass(frozen=True)
class Role:
    """One kind of park as the model sees it."""

    name: str
    count_min: int
    count_max: int
    power_mw: float = 0.0
    water_mgd: float = 0.0
    weight: float = 1.0
    #: the role's own least spacing between parks, km (its preset's sites.min_spacing_km)
    spacing_km: float = 0.0


@dataclass
class Link:
    """Every park of role `src` needs a park of role `dst` within `max_km`: the pairs in reach."""

    key: str
    src: int
    dst: int
    max_km: float
    by: str
    #: pairs (from-site, to-site) in reach and their km, sorted by from-site
    pair_from: np.ndarray
    pair_to: np.ndarray
    pair_km: np.ndarray

    def reach(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The sites a park of role `src` at site i reaches, and their km."""
        lo, hi = np.searchsorted(self.pair_from, [i, i + 1])
        return self.pair_to[lo:hi], self.pair_km[lo:hi]

    def km_between(self, i: int, j: int) -> float | None:
        to, km = self.reach(i)
        hit = np.flatnonzero(to == j)
        return float(km[hit[0]]) if len(hit) else None


@dataclass
class PowerBudget:
    """Parks within `radius_km` of a park (itself included) ask at most `share` of the
    generating capacity within `radius_km` of it."""

    share: float
    radius_km: float
    capacity_mw: np.ndarray
    #: neighbours within radius_km of each site (CSR: indptr, indices; the site itself included)
    indptr: np.ndarray
    indices: np.ndarray

    def neighbours(self, i: int) -> np.ndarray:
        return self.indices[self.indptr[i]:self.indptr[i + 1]]


@dataclass
class NetworkProblem:
    """Candidate sites x roles and the terms of every constraint."""

    roles: list[Role]
    site_ids: np.ndarray
    names: list[str]
    states: np.ndarray
    scores: np.ndarray
    eligible: np.ndarray
    #: site pairs (i < j) closer than the largest spacing any two roles keep, edge to edge
    pair_i: np.ndarray
    pair_j: np.ndarray
    pair_km: np.ndarray
    pair_shared: np.ndarray
    min_spacing_km: float | None = None
    max_per_state: int | None = None
    min_states: int | None = None
    power: PowerBudget | None = None
    links: list[Link] = field(default_factory=list)
    objective: str = "sum_of_scores"

    def __post_init__(self) -> None:
        n, r = len(self.site_ids), len(self.roles)
        self.scores = np.asarray(self.scores, dtype=float).reshape(n, r)
        self.eligible = np.asarray(self.eligible, dtype=bool).reshape(n, r) & np.isfinite(self.scores)

    @property
    def n_sites(self) -> int:
        return len(self.site_ids)

    @property
    def role_names(self) -> list[str]:
        return [r.name for r in self.roles]

    def label(self, i: int) -> str:
        """A site as the texts name it: its name and id (several sites may share a unit's name)."""
        return f"{self.names[i]} (site {int(self.site_ids[i])})"

    def role_index(self, name: str) -> int:
        return self.role_names.index(name)

    def objective_weights(self) -> np.ndarray:
        """Per role, what one unit of its score is worth in the objective."""
        if self.objective == "weighted_by_role":
            return np.array([r.weight for r in self.roles], dtype=float)
        return np.ones(len(self.roles))

    def value(self, chosen: Sequence[tuple[int, int]], scores: np.ndarray | None = None) -> float:
        """The objective of a network given as (site, role) pairs."""
        s = self.scores if scores is None else scores
        w = self.objective_weights()
        return float(sum(w[r] * s[i, r] for i, r in chosen))

    def spacing_km(self, a: int, b: int) -> float:
        """Least edge-to-edge distance of a park of role a and one of role b."""
        if self.min_spacing_km is not None:
            return self.min_spacing_km
        return max(self.roles[a].spacing_km, self.roles[b].spacing_km)

    def max_spacing_km(self) -> float:
        if self.min_spacing_km is not None:
            return self.min_spacing_km
        return max((r.spacing_km for r in self.roles), default=0.0)

    def too_close(self, k: int, a: int, b: int) -> bool:
        """Whether pair k (sites pair_i[k], pair_j[k]) may not hold parks of roles a and b."""
        return bool(self.pair_shared[k]) or self.pair_km[k] < self.spacing_km(a, b) - 1e-9

    def demand(self, r: int) -> float:
        return self.roles[r].power_mw


def roles_from_config(net: NetworkConfig, spacing_km: dict[str, float]) -> list[Role]:
    """The config's roles as the model's, each with its preset's spacing."""
    return [Role(name, rc.count.min, rc.count.max, rc.power_mw, rc.water_mgd, rc.weight,
                 spacing_km.get(name, 0.0)) for name, rc in net.roles.items()]


def site_centres(sites: gpd.GeoDataFrame) -> np.ndarray:
    """A point inside each site (x, y in metres): where its distances are measured from."""
    return shapely.get_coordinates(shapely.point_on_surface(sites.geometry.values))


def build_problem(sites: gpd.GeoDataFrame, scores: np.ndarray, eligible: np.ndarray,
                  roles: list[Role], net: NetworkConfig, *,
                  plants: gpd.GeoDataFrame | None = None, roads: RoadGraph | None = None
                  ) -> NetworkProblem:
    """The problem for `sites` (EPSG:5070; columns site_id, name, state): `scores` and
    `eligible` are sites x roles in the order of `roles`. `plants` (capacity_mw points) is needed
    with a power budget; freeway links run on `roads`, or straight without it."""
    c = net.constraints
    geoms = sites.geometry.values
    centres = site_centres(sites)
    spacing = c.min_spacing_km if c.min_spacing_km is not None else \
        max((r.spacing_km for r in roles), default=0.0)
    pi, pj, pkm, shared = _close_pairs(geoms, spacing)
    problem = NetworkProblem(
        roles=roles, site_ids=sites["site_id"].to_numpy(dtype=np.int64),
        names=[str(x) for x in sites["name"]], states=sites["state"].to_numpy(dtype=object),
        scores=scores, eligible=eligible, pair_i=pi, pair_j=pj, pair_km=pkm, pair_shared=shared,
        min_spacing_km=c.min_spacing_km, max_per_state=c.max_per_state, min_states=c.min_states,
        objective=net.objective)
    if c.power_share is not None and c.power_radius_km is not None:
        if plants is None:
            raise ValueError("a power budget needs the plants")
        problem.power = power_budget(centres, plants, c.power_share, c.power_radius_km)
    names = problem.role_names
    for k, link in enumerate(c.links):
        a, b = names.index(link.from_role), names.index(link.to_role)
        src = np.flatnonzero(problem.eligible[:, a])
        dst = np.flatnonzero(problem.eligible[:, b])
        limit = link.max_km * M_PER_KM
        if link.by == "freeway" and roads is not None:
            i, j, m = roads.distances(centres[src], centres[dst], limit)
            by = "freeway"
        else:
            i, j, m = straight_pairs(centres[src], centres[dst], limit)
            by = "straight_line"
        fi, tj = src[i], dst[j]
        keep = fi != tj
        order = np.lexsort((tj[keep], fi[keep]))
        problem.links.append(Link(f"network.constraints.links[{k}]", a, b, link.max_km, by,
                                  fi[keep][order], tj[keep][order], (m[keep] / M_PER_KM)[order]))
    return problem


def _close_pairs(geoms: np.ndarray, spacing_km: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Site pairs (i < j) closer than `spacing_km` edge to edge, or sharing land: their km and
    whether they share land."""
    tree = shapely.STRtree(geoms)
    reach = max(spacing_km * M_PER_KM, 0.0)
    if reach > 0:
        a, b = tree.query(geoms, predicate="dwithin", distance=reach)
    else:
        a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep].astype(np.int64), b[keep].astype(np.int64)
    km = shapely.distance(geoms[a], geoms[b]) / M_PER_KM
    touching = km <= 0
    shared = np.zeros(len(a), dtype=bool)
    if touching.any():
        overlap = shapely.area(shapely.intersection(geoms[a[touching]], geoms[b[touching]]))
        shared[touching] = overlap > SHARED_LAND_M2
    # a point site (a shortlist's) shares the land of any site on the same spot
    shared |= (km <= 0) & (shapely.area(geoms[a]) * shapely.area(geoms[b]) == 0)
    close = shared | (km < spacing_km)
    order = np.lexsort((b[close], a[close]))
    return a[close][order], b[close][order], km[close][order], shared[close][order]


def power_budget(centres: np.ndarray, plants: gpd.GeoDataFrame, share: float,
                 radius_km: float) -> PowerBudget:
    """Generating capacity within `radius_km` of each site, and each site's neighbours there."""
    radius = radius_km * M_PER_KM
    cap = plants["capacity_mw"].to_numpy(dtype=float) if len(plants) else np.zeros(0)
    ok = np.isfinite(cap) & (cap > 0)
    capacity = np.zeros(len(centres))
    if ok.any():
        pts = shapely.get_coordinates(shapely.centroid(plants.geometry.values[ok]))
        found = cKDTree(centres).sparse_distance_matrix(cKDTree(pts), radius, output_type="ndarray")
        capacity = np.bincount(found["i"], weights=cap[ok][found["j"]],
                               minlength=len(centres)).astype(float)
    tree = cKDTree(centres)
    pairs = tree.query_pairs(radius, output_type="ndarray")
    n = len(centres)
    rows = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(n)])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(n)])
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    indptr = np.searchsorted(rows, np.arange(n + 1))
    return PowerBudget(share, radius_km, capacity, indptr, cols)
