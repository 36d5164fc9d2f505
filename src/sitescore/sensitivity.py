"""Sensitivity: how sure is the ranking of the sites a run found?

The sites stay as the run drew them (their cells do not change); what moves is how they are
ranked. A site's criterion values are the acre-weighted means of its cells' value-function
outputs (as in `locate.site_table`) and its score is `mcda.aggregate(values, weights, method)`
over all sites. Three questions are asked:

- Monte Carlo (`monte_carlo`): draw the weights around the configured ones (Dirichlet) or
  anywhere on the simplex (uniform) and, optionally, jitter the value-function thresholds;
  how often is each site in the top k, and where does its rank fall (median, 90 % interval)?
- One-at-a-time sweeps (`weight_sweeps`, `sweep_charts`): scale one criterion's weight from 0
  to `sweep_max` times its value (the others renormalised) and follow the ranks of the top
  sites.
- Distance to a flip (`weight_to_flip`, `flip_summary`): the smallest multiplicative change of
  one weight that moves a site into (or out of) the top k.

Ranks are 1 = best; equal scores are broken by site id (lower id first), as in the run. Scores
are rounded to 12 decimals before ranking, so sites that tie on paper tie in floating point too.
Every random number comes from `numpy.random.Generator(PCG64(...))` seeded from the config's
seed; there is no global random state, and the same seed gives the same numbers.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .config import CriterionConfig, SensitivityConfig, ValueFunction
from .config.value_functions import Jitter
from .scoring import apply_value_function

if TYPE_CHECKING:
    from .engine import Engine

#: Scores are rounded to this many decimals before ranking, so ties survive floating point.
TIE_DECIMALS = 12
#: The smallest Dirichlet concentration (reached when `spread` asks for more than a Dirichlet
#: around these weights can give: the CV at the mean weight cannot exceed sqrt(m - 1)).
MIN_CONCENTRATION = 0.01
#: A jittered parameter that must stay positive keeps at least this share of its value.
MIN_POSITIVE_FACTOR = 1e-3
#: `weight_to_flip` searches factors 10**-FLIP_DECADES .. 10**FLIP_DECADES on a log grid ...
FLIP_DECADES = 4
#: ... with this many points per decade (a 2.3 % step), then refines by bisection ...
FLIP_POINTS_PER_DECADE = 100
#: ... until the bracket is this narrow (relative).
FLIP_RTOL = 1e-10
#: Numbers held in memory at once per Monte Carlo chunk (draws x sites x criteria).
CHUNK_ELEMENTS = 4_000_000
#: Monte Carlo draws are split into about this many chunks (of at least MIN_CHUNK_DRAWS), so an
#: engine can spread them over its workers. The chunks depend only on the problem, never on the
#: engine, and their sums are added in chunk order: every engine gives the same numbers.
CHUNKS = 16
MIN_CHUNK_DRAWS = 64

# ---------------------------------------------------------------------------------------------
# the site matrix
# ---------------------------------------------------------------------------------------------

@dataclass
class CriterionCells:
    """One criterion's member cells, for recomputing site values under jittered thresholds.

    `site` indexes the rows of the SiteMatrix; `acres` are the acre weights of the mean."""

    raw: np.ndarray
    acres: np.ndarray
    site: np.ndarray
    value_function: ValueFunction


@dataclass
class SiteMatrix:
    """Sites x criteria, ready to be re-ranked.

    Rows are kept in site-id order (reordered on creation if need be), so a stable sort breaks
    ties by site id. `weights` are normalised to sum 1. `excluded` sites (a shortlist's vetoed
    candidates) always rank after the others. `cells` holds, per criterion, what threshold draws
    need; criteria without it (or whose value function has no `jitter_params`, as categories)
    keep their values."""

    site_ids: np.ndarray
    names: list[str]
    values: np.ndarray
    weights: np.ndarray
    criteria: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    excluded: np.ndarray | None = None
    cells: dict[str, CriterionCells] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.site_ids = np.asarray(self.site_ids).astype(np.int64)
        self.values = np.asarray(self.values, dtype=float)
        self.weights = np.asarray(self.weights, dtype=float)
        n = len(self.site_ids)
        if self.values.ndim != 2 or self.values.shape[0] != n:
            raise ValueError(f"values must be sites x criteria ({n} sites), got {self.values.shape}")
        m = self.values.shape[1]
        if self.weights.shape != (m,):
            raise ValueError(f"weights must have one entry per criterion ({m}), got {self.weights.shape}")
        if not np.all(np.isfinite(self.weights)) or np.any(self.weights < 0) or self.weights.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        if not np.all(np.isfinite(self.values)):
            raise ValueError("site values must be finite")
        if len(np.unique(self.site_ids)) != n:
            raise ValueError("site ids must be unique")
        self.weights = self.weights / self.weights.sum()
        self.names = [str(s) for s in self.names] if self.names is not None else []
        if len(self.names) != n:
            self.names = [str(s) for s in self.site_ids]
        self.criteria = list(self.criteria) or [f"c{j + 1}" for j in range(m)]
        if len(self.criteria) != m:
            raise ValueError(f"{len(self.criteria)} criterion names for {m} criteria")
        self.labels = {c: self.labels.get(c, c) for c in self.criteria}
        self.excluded = np.zeros(n, dtype=bool) if self.excluded is None \
            else np.asarray(self.excluded, dtype=bool)
        order = np.argsort(self.site_ids, kind="stable")
        if np.any(order != np.arange(n)):
            where = np.empty(n, dtype=np.int64)
            where[order] = np.arange(n)
            self.site_ids = self.site_ids[order]
            self.values = self.values[order]
            self.names = [self.names[i] for i in order]
            self.excluded = self.excluded[order]
            self.cells = {c: CriterionCells(cc.raw, cc.acres, where[cc.site], cc.value_function)
                          for c, cc in self.cells.items()}

    @property
    def n_sites(self) -> int:
        return len(self.site_ids)


def site_matrix(sites: pd.DataFrame, cells: pd.DataFrame | None,
                criteria: Mapping[str, CriterionConfig]) -> SiteMatrix:
    """The run's sites as a SiteMatrix.

    Values are the sites' `value__<criterion>` columns; weights their `weight__<criterion>`
    columns (the normalised weights the run used, whatever set them), else the criteria's
    weights. With `cells` (the run's cell table: `cell_id`, `eligible_acres`, `raw__<criterion>`)
    each site's member cells (its `cell_ids`) are kept for threshold draws, and the site values
    recomputed from them must equal the table's (else the cells are not this run's)."""
    names = [c for c in criteria if f"value__{c}" in sites.columns]
    if not names:
        raise ValueError("the sites table has no value__<criterion> column for these criteria")
    values = np.column_stack([pd.to_numeric(sites[f"value__{c}"], errors="coerce")
                              .to_numpy(dtype=float) for c in names]) if len(sites) else \
        np.zeros((0, len(names)))
    values = np.nan_to_num(values, nan=0.0)
    if all(f"weight__{c}" in sites.columns for c in names) and len(sites):
        weights = np.array([float(pd.to_numeric(sites[f"weight__{c}"], errors="coerce").iloc[0])
                            for c in names])
        if not np.all(np.isfinite(weights)) or weights.sum() <= 0:
            weights = np.array([criteria[c].weight for c in names], dtype=float)
    else:
        weights = np.array([criteria[c].weight for c in names], dtype=float)
    site_ids = sites["site_id"].to_numpy(dtype=np.int64)
    site_names = [str(s) for s in sites["name"]] if "name" in sites.columns else [str(s) for s in site_ids]
    excluded = sites["excluded"].fillna(False).to_numpy(dtype=bool) if "excluded" in sites.columns else None
    labels = {c: criteria[c].label or c for c in names}
    member_cells: dict[str, CriterionCells] = {}
    if cells is not None and len(sites) and "cell_ids" in sites.columns:
        member_cells = _member_cells(sites, cells, names, criteria)
        for j, c in enumerate(names):
            if c not in member_cells:
                continue
            mc = member_cells[c]
            recomputed = _site_means(apply_value_function(mc.value_function, mc.raw)[None, :],
                                     mc.acres, mc.site, len(sites))[0]
            has = np.bincount(mc.site, minlength=len(sites)) > 0
            if not np.allclose(recomputed[has], values[has, j], atol=1e-6, rtol=0):
                raise ValueError(f"criterion '{c}': the cells' values do not average to the sites' "
                                 "values; are the cells from the same run as the sites?")
    return SiteMatrix(site_ids=site_ids, names=site_names, values=values, weights=weights,
                      criteria=names, labels=labels, excluded=excluded, cells=member_cells)


def _member_cells(sites: pd.DataFrame, cells: pd.DataFrame, names: Sequence[str],
                  criteria: Mapping[str, CriterionConfig]) -> dict[str, CriterionCells]:
    row_of = {cid: i for i, cid in enumerate(cells["cell_id"].astype(str))}
    idx, site = [], []
    for s, ids in enumerate(sites["cell_ids"]):
        for cid in str(ids).split() if isinstance(ids, str) else []:
            if cid in row_of:
                idx.append(row_of[cid])
                site.append(s)
    if not idx:
        return {}
    idx_a, site_a = np.array(idx, dtype=np.int64), np.array(site, dtype=np.int64)
    acres_col = next((c for c in ("eligible_acres", "acres", "cell_acres") if c in cells.columns), None)
    acres = pd.to_numeric(cells[acres_col], errors="coerce").to_numpy(dtype=float)[idx_a] \
        if acres_col else np.ones(len(idx_a))
    acres = np.nan_to_num(acres, nan=0.0)
    out = {}
    for c in names:
        if f"raw__{c}" not in cells.columns:
            continue
        vf = criteria[c].value
        raw = cells[f"raw__{c}"].to_numpy()[idx_a]
        if vf.numeric:
            raw = np.asarray(pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce"), dtype=float)
        out[c] = CriterionCells(raw=raw, acres=acres, site=site_a, value_function=vf)
    return out


def _site_means(cell_values: np.ndarray, acres: np.ndarray, site: np.ndarray, n_sites: int) -> np.ndarray:
    """(draws x cells) -> (draws x sites): acre-weighted mean of each site's cells (NaN where a
    site has no cell or no acres)."""
    d = cell_values.shape[0]
    flat = (np.arange(d)[:, None] * n_sites + site[None, :]).ravel()
    num = np.bincount(flat, weights=(cell_values * acres[None, :]).ravel(), minlength=d * n_sites)
    den = np.bincount(site, weights=acres, minlength=n_sites)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num.reshape(d, n_sites) / den[None, :]


# ---------------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------------

def dirichlet_concentration(weights: np.ndarray, spread: float) -> float:
    """Concentration alpha of Dirichlet(alpha * w) whose coefficient of variation at the mean
    weight is `spread`.

    For Dirichlet(alpha * w) the mean is w_i and var_i = w_i (1 - w_i) / (alpha + 1), so
    CV_i = sqrt((1 - w_i) / (w_i (alpha + 1))). At the mean weight w = 1/m (m = criteria with
    weight > 0) this is sqrt((m - 1) / (alpha + 1)); setting it to `spread` gives
    alpha = (m - 1) / spread**2 - 1. Larger weights then vary relatively less, smaller ones more.
    A spread above sqrt(m - 1) cannot be reached; alpha is then held at MIN_CONCENTRATION."""
    m = int(np.count_nonzero(np.asarray(weights) > 0))
    return max((m - 1) / spread ** 2 - 1.0, MIN_CONCENTRATION)


def draw_weights(weights: np.ndarray, cfg: SensitivityConfig, rng: np.random.Generator) -> np.ndarray:
    """`cfg.draws` weight vectors (draws x m), each summing to 1.

    'dirichlet': Dirichlet(alpha * w) around the weights w, alpha from `cfg.spread` (see
    `dirichlet_concentration`); 'uniform': uniform on the simplex, Dirichlet(1, ..., 1).
    Criteria with weight 0 stay at 0 either way."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    pos = np.flatnonzero(w > 0)
    out = np.zeros((cfg.draws, len(w)))
    if len(pos) == 1:
        out[:, pos] = 1.0
        return out
    if cfg.weights == "uniform":
        alpha = np.ones(len(pos))
    else:
        alpha = dirichlet_concentration(w, cfg.spread) * w[pos]
    sample = rng.dirichlet(alpha, size=cfg.draws)
    out[:, pos] = sample / sample.sum(axis=1, keepdims=True)
    return out


# ---------------------------------------------------------------------------------------------
# scores and ranks
# ---------------------------------------------------------------------------------------------

def _aggregate(values: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    from .mcda import aggregate  # written alongside; imported when first needed
    return np.asarray(aggregate(values, weights, method), dtype=float)


def batch_scores(values: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    """Scores of every site under many weight vectors: values (sites x m) or (draws x sites x m),
    weights (draws x m, each summing to 1) -> (draws x sites).

    The three `mcda` methods are computed for all draws at once with `mcda`'s own formulas
    (weighted product with its floor; TOPSIS with vector normalisation, all columns benefits);
    the tests hold them equal to `mcda.aggregate` draw by draw. Anything else, or values that
    are not all finite, goes through `mcda.aggregate` one draw at a time."""
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    v = np.asarray(values, dtype=float)
    if method == "weighted_sum":
        return w @ v.T if v.ndim == 2 else np.einsum("dnm,dm->dn", v, w)
    if method == "weighted_product" and np.all(np.isfinite(v)):
        from .mcda import weighted_product
        floor = inspect.signature(weighted_product).parameters["floor"].default
        logs = np.log(np.fmax(v, floor))
        return np.exp(w @ logs.T if v.ndim == 2 else np.einsum("dnm,dm->dn", logs, w))
    if method == "topsis" and np.all(np.isfinite(v)) and v.shape[-2] > 0:
        return _topsis_batch(v, w)
    out = np.empty((w.shape[0], v.shape[-2]))
    for d in range(w.shape[0]):
        out[d] = _aggregate(v if v.ndim == 2 else v[d], w[d], method)
    return out


def _topsis_batch(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """`mcda.topsis` (vector normalisation, every column a benefit) for each weight vector."""
    scale = np.sqrt((v ** 2).sum(axis=-2, keepdims=True))
    r = np.where(scale > 0, v / np.where(scale > 0, scale, 1.0), 0.0)  # (n x m) or (d x n x m)
    t = r * w[:, None, :]  # broadcasts over draws either way
    ideal = t.max(axis=1, keepdims=True)
    anti = t.min(axis=1, keepdims=True)
    d_plus = np.sqrt(((t - ideal) ** 2).sum(axis=2))
    d_minus = np.sqrt(((t - anti) ** 2).sum(axis=2))
    total = d_plus + d_minus
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(total > 0, d_minus / np.where(total > 0, total, 1.0), 0.5)
    return np.clip(c, 0.0, 1.0)


def _rank_keys(scores: np.ndarray, excluded: np.ndarray | None) -> np.ndarray:
    """What ranks sort on: scores to TIE_DECIMALS, excluded sites (and NaN scores) last."""
    key = np.round(np.nan_to_num(scores, nan=-np.inf), TIE_DECIMALS)
    return key if excluded is None else np.where(excluded[None, :], -np.inf, key)


def ranks_of(scores: np.ndarray, excluded: np.ndarray | None = None) -> np.ndarray:
    """(draws x sites) scores -> ranks 1..n per draw, best first; columns must be in site-id
    order, so equal scores rank by site id. Excluded sites rank last."""
    s = np.atleast_2d(scores)
    order = np.argsort(-_rank_keys(s, excluded), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1, s.shape[1] + 1), s.shape), axis=1)
    return ranks


def base_ranking(sm: SiteMatrix, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores and ranks of the sites under the matrix's own weights."""
    scores = batch_scores(sm.values, sm.weights[None, :], method)
    return scores[0], ranks_of(scores, sm.excluded)[0]


# ---------------------------------------------------------------------------------------------
# threshold jitter
# ---------------------------------------------------------------------------------------------

def _jittered(spec: Sequence[Jitter], z: np.ndarray, t: float) -> dict[str, np.ndarray]:
    """Per parameter of a value function's `jitter_params` a (draws x 1) array of jittered
    values (as `Jitter` says); z is (draws x len(spec))."""
    out = {}
    for i, (name, value, scale, positive) in enumerate(spec):
        if positive:
            p = value * np.maximum(1.0 + t * z[:, i], MIN_POSITIVE_FACTOR)
        else:
            p = value + t * scale * z[:, i]
        out[name] = p[:, None]
    return out


# ---------------------------------------------------------------------------------------------
# Monte Carlo
# ---------------------------------------------------------------------------------------------

def monte_carlo(sm: SiteMatrix, cfg: SensitivityConfig, method: str,
                engine: Engine | None = None) -> pd.DataFrame:
    """Rank uncertainty over `cfg.draws` random weight vectors (and, with `cfg.thresholds` > 0,
    jittered value-function parameters, the site values recomputed from their cells).

    One row per site, in base-rank order: site_id, name, base_rank, base_score, p_top_k (share
    of draws with rank <= cfg.top_k), median_rank, rank_p05, rank_p95 (a 90 % interval) and
    mean_score. Rank quantiles are order statistics (numpy's 'inverted_cdf'), so they are whole
    ranks and the interval always holds the median. Weights and jitter come from two independent
    streams of the seed, so a run with thresholds uses the same weight draws as one without.
    Every draw is made up front, in order; chunks of them are evaluated on `engine` (here by
    default) and added up in chunk order, so an engine changes where, never what."""
    n, m = sm.values.shape
    if n == 0:
        return pd.DataFrame(columns=["site_id", "name", "base_rank", "base_score", "p_top_k",
                                     "median_rank", "rank_p05", "rank_p95", "mean_score"])
    base_score, base_rank = base_ranking(sm, method)
    w_seq, t_seq = np.random.SeedSequence(cfg.seed).spawn(2)
    weights = draw_weights(sm.weights, cfg, np.random.Generator(np.random.PCG64(w_seq)))
    jitter, normals = _threshold_plan(sm, cfg, np.random.Generator(np.random.PCG64(t_seq)))
    counts = np.zeros(n * n, dtype=np.int64)
    score_sum = np.zeros(n)
    cell_total = sum(len(cc.site) for cc in sm.cells.values())
    chunk = int(np.clip(CHUNK_ELEMENTS // max(1, n * m + cell_total), 16, 100_000))
    chunk = min(chunk, max(MIN_CHUNK_DRAWS, -(-cfg.draws // CHUNKS)))
    spans = [(a, min(a + chunk, cfg.draws)) for a in range(0, cfg.draws, chunk)]
    items = [(weights[a:b], [z[a:b] for z in normals]) for a, b in spans]
    if engine is not None:
        done = engine.map(_mc_chunk, items, shared={"sm": sm, "jitter": jitter,
                                                    "thresholds": cfg.thresholds, "method": method})
    else:
        done = [_mc_chunk(item, sm=sm, jitter=jitter, thresholds=cfg.thresholds, method=method)
                for item in items]
    for chunk_counts, chunk_sum in done:
        counts += chunk_counts
        score_sum += chunk_sum
    hist = counts.reshape(n, n)  # hist[site, rank - 1]
    cum = np.cumsum(hist, axis=1)

    def quantile(q: float) -> np.ndarray:
        return 1 + np.argmax(cum >= q * cfg.draws - 1e-9, axis=1)

    k = min(cfg.top_k, n)
    out = pd.DataFrame({
        "site_id": sm.site_ids, "name": sm.names, "base_rank": base_rank, "base_score": base_score,
        "p_top_k": cum[:, k - 1] / cfg.draws,
        "median_rank": quantile(0.5), "rank_p05": quantile(0.05), "rank_p95": quantile(0.95),
        "mean_score": score_sum / cfg.draws,
    })
    out = out.sort_values("base_rank", kind="stable").reset_index(drop=True)
    out.attrs.update({"top_k": cfg.top_k, "draws": cfg.draws, "method": method, "seed": cfg.seed,
                      "weights": cfg.weights, "spread": cfg.spread, "thresholds": cfg.thresholds})
    return out


def _mc_chunk(item: tuple[np.ndarray, list[np.ndarray]], *, sm: SiteMatrix, jitter: list[_Jitter],
              thresholds: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """One chunk of draws (its weights and its rows of each jitter's normals): how often each
    site took each rank (flattened sites x ranks), and the sum of each site's scores."""
    weights, zs = item
    n = sm.n_sites
    values = _values_for(sm, jitter, zs, thresholds)
    scores = batch_scores(values, weights, method)
    ranks = ranks_of(scores, sm.excluded)
    counts = np.bincount((np.arange(n)[None, :] * n + ranks - 1).ravel(), minlength=n * n)
    return counts, scores.sum(axis=0)


@dataclass
class _Jitter:
    """A criterion (column `crit`) whose value-function parameters `spec` are jittered."""

    crit: int
    cells: CriterionCells
    spec: list[Jitter]


def _threshold_plan(sm: SiteMatrix, cfg: SensitivityConfig,
                    rng: np.random.Generator) -> tuple[list[_Jitter], list[np.ndarray]]:
    """The jittered criteria and, for each, its normals (draws x len(spec)), drawn up front."""
    if cfg.thresholds <= 0:
        return [], []
    plan, normals = [], []
    for j, c in enumerate(sm.criteria):  # one block of normals per criterion, in criteria order
        cc = sm.cells.get(c)
        spec = cc.value_function.jitter_params() if cc is not None else []
        if cc is not None and spec:
            plan.append(_Jitter(j, cc, spec))
            normals.append(rng.standard_normal((cfg.draws, len(spec))))
    if not sm.cells and sm.n_sites:
        raise ValueError("threshold draws need the sites' cells: site_matrix(sites, cells, ...)")
    return plan, normals


def _values_for(sm: SiteMatrix, jitter: list[_Jitter], zs: list[np.ndarray],
                thresholds: float) -> np.ndarray:
    """Site values for a chunk of draws (`zs`: each jitter's normals for them): the matrix's own
    (sites x m) without jitter, else (draws x sites x m) with the jittered criteria recomputed
    from their cells."""
    if not jitter:
        return sm.values
    values = np.broadcast_to(sm.values, (len(zs[0]), *sm.values.shape)).copy()
    for jt, z in zip(jitter, zs, strict=True):
        params = _jittered(jt.spec, z, thresholds)
        site_vals = _site_means(jt.cells.value_function.score_batch(jt.cells.raw, params),
                                jt.cells.acres, jt.cells.site, sm.n_sites)
        # a site without member cells (or acres) keeps its value
        values[:, :, jt.crit] = np.where(np.isfinite(site_vals), site_vals, values[:, :, jt.crit])
    return values


# ---------------------------------------------------------------------------------------------
# one-at-a-time sweeps
# ---------------------------------------------------------------------------------------------

def scaled_weights(weights: np.ndarray, j: int, factors: np.ndarray) -> np.ndarray:
    """(factors x m): weight j multiplied by each factor, the others unchanged, renormalised to
    sum 1 (all zero where nothing is left)."""
    w = np.broadcast_to(np.asarray(weights, dtype=float), (len(factors), len(weights))).copy()
    w[:, j] *= np.asarray(factors, dtype=float)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def weight_sweeps(sm: SiteMatrix, method: str, sweep_max: float = 2.0, steps: int = 21,
                  top_n: int = 10) -> pd.DataFrame:
    """One criterion at a time: its weight times f for f = 0 .. sweep_max (`steps` values; the
    others unchanged, then renormalised), and the rank among all sites of each of the base
    top_n sites. Long table: criterion, factor, weight (the criterion's normalised weight),
    site_id, base_rank, rank."""
    factors = np.linspace(0.0, sweep_max, steps)
    _, base_rank = base_ranking(sm, method)
    top = np.argsort(base_rank, kind="stable")[:min(top_n, sm.n_sites)]
    frames = []
    for j, c in enumerate(sm.criteria):
        w = scaled_weights(sm.weights, j, factors)
        ranks = ranks_of(batch_scores(sm.values, w, method), sm.excluded)
        frames.append(pd.DataFrame({
            "criterion": c,
            "factor": np.repeat(factors, len(top)),
            "weight": np.repeat(w[:, j], len(top)),
            "site_id": np.tile(sm.site_ids[top], len(factors)),
            "base_rank": np.tile(base_rank[top], len(factors)),
            "rank": ranks[:, top].ravel(),
        }))
    cols = ["criterion", "factor", "weight", "site_id", "base_rank", "rank"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def sweep_charts(sweeps: pd.DataFrame, labels: Mapping[str, str], out_dir: Path) -> list[Path]:
    """One small PNG per criterion, `sweep_<criterion>.png`: the rank of each top site (rank 1 at
    the top) against the weight factor, with a vertical line at 1 (the configured weight).
    Drawn with matplotlib's Agg canvas directly: no pyplot, no global state."""
    from .report import chart_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with chart_text():  # criterion names in any script, no glyph warnings on stderr
        return [_sweep_chart(sweeps[sweeps["criterion"] == crit], str(labels.get(crit, crit)),
                             out_dir / f"sweep_{_safe(str(crit))}.png")
                for crit in dict.fromkeys(sweeps["criterion"])]


def _sweep_chart(part: pd.DataFrame, title: str, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(4.8, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    n_lines = part["site_id"].nunique()
    for sid, line in part.groupby("site_id", sort=False):
        line = line.sort_values("factor")
        ax.plot(line["factor"], line["rank"], marker=".", markersize=3, linewidth=1.2,
                label=f"site {sid} (#{int(line['base_rank'].iloc[0])})")
    ax.axvline(1.0, color="0.4", linestyle="--", linewidth=0.8)
    max_rank = int(part["rank"].max()) if len(part) else 1
    ax.set_ylim(max_rank + 0.5, 0.5)
    if max_rank <= 15:
        ax.set_yticks(range(1, max_rank + 1))
    else:
        locator = ax.yaxis.get_major_locator()  # matplotlib's default: a MaxNLocator
        if isinstance(locator, MaxNLocator):
            locator.set_params(integer=True)
    ax.set_xlabel("weight x factor (others renormalised)")
    ax.set_ylabel("rank")
    ax.set_title(title if len(title) <= 55 else title[:52] + "...", fontsize=9)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    if n_lines <= 12:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    return path


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


# ---------------------------------------------------------------------------------------------
# distance to a flip
# ---------------------------------------------------------------------------------------------

def weight_to_flip(sm: SiteMatrix, method: str, k: int) -> pd.DataFrame:
    """For every site and criterion, the multiplicative change of that one weight (others
    renormalised) closest to 1 (smallest |log factor|) that moves the site into the top k (if
    it is outside) or out of it (if inside). Searched on a log grid over
    10**-FLIP_DECADES .. 10**FLIP_DECADES, then refined by bisection to FLIP_RTOL; the factor
    given is the first one, going out from 1, at which the site has moved. NaN where no factor
    in that range does (a weight of 0, or a site that wins or loses whatever the weight).

    Columns: site_id, name, base_rank, criterion, direction ('into top k' / 'out of top k'),
    factor, weight (the criterion's normalised weight at that factor) and closest (True on each
    site's row with the factor nearest 1; see `flip_summary`)."""
    n = sm.n_sites
    _, base_rank = base_ranking(sm, method)
    inside = base_rank <= k
    exps = np.round(np.arange(-FLIP_DECADES * FLIP_POINTS_PER_DECADE,
                              FLIP_DECADES * FLIP_POINTS_PER_DECADE + 1) / FLIP_POINTS_PER_DECADE, 10)
    grid = 10.0 ** exps
    g0 = int(np.flatnonzero(exps == 0)[0])
    rows = []
    for j, c in enumerate(sm.criteria):
        in_top = ranks_of(batch_scores(sm.values, scaled_weights(sm.weights, j, grid), method),
                          sm.excluded) <= k  # grid x sites
        changed = in_top != inside[None, :]
        best = np.full(n, np.nan)
        for side in (+1, -1):
            found = _first_change(changed, g0, side)  # grid index of first change, or -1
            sites = np.flatnonzero(found >= 0)
            if len(sites) == 0:
                continue
            moved_f = grid[found[sites]]
            kept_f = grid[found[sites] - side]
            f = _bisect(sm, method, j, k, sites, inside[sites], kept_f, moved_f)
            cur = best[sites]
            better = np.isnan(cur) | (np.abs(np.log(f)) < np.abs(np.log(cur)))
            best[sites[better]] = f[better]
        w_at = np.where(np.isnan(best), np.nan, sm.weights[j] * best /
                        (1.0 - sm.weights[j] + sm.weights[j] * np.nan_to_num(best, nan=1.0)))
        rows.append(pd.DataFrame({
            "site_id": sm.site_ids, "name": sm.names, "base_rank": base_rank, "criterion": c,
            "direction": np.where(inside, f"out of top {k}", f"into top {k}"),
            "factor": best, "weight": w_at,
        }))
    out = pd.concat(rows, ignore_index=True)
    dist = np.abs(np.log(out["factor"].to_numpy(dtype=float)))
    out["closest"] = False
    crit_order = {c: i for i, c in enumerate(sm.criteria)}
    ranked = out.assign(_d=dist, _c=out["criterion"].map(crit_order)).dropna(subset=["_d"])
    first = ranked.sort_values(["site_id", "_d", "_c"], kind="stable").groupby("site_id").head(1)
    out.loc[first.index, "closest"] = True
    out = (out.assign(_c=out["criterion"].map(crit_order))
           .sort_values(["base_rank", "_c"], kind="stable").drop(columns="_c").reset_index(drop=True))
    out.attrs["k"] = k
    return out


def flip_summary(flips: pd.DataFrame) -> pd.DataFrame:
    """One row per site: the criterion whose weight, changed least (factor nearest 1), moves the
    site across the top-k line; criterion and factor are empty where no single weight does."""
    per_site = flips.drop_duplicates("site_id")[["site_id", "name", "base_rank", "direction"]]
    closest = flips[flips["closest"]][["site_id", "criterion", "factor", "weight"]]
    out = per_site.merge(closest, on="site_id", how="left")
    return out.sort_values("base_rank", kind="stable").reset_index(drop=True)


def _first_change(changed: np.ndarray, g0: int, side: int) -> np.ndarray:
    """Per site the grid index of the first change going from g0 up (side +1) or down (-1);
    -1 where there is none."""
    part = changed[g0 + 1:] if side > 0 else changed[:g0][::-1]
    if part.shape[0] == 0:
        return np.full(changed.shape[1], -1)
    hit = part.any(axis=0)
    first = np.argmax(part, axis=0)
    idx = g0 + 1 + first if side > 0 else g0 - 1 - first
    return np.where(hit, idx, -1)


def _bisect(sm: SiteMatrix, method: str, j: int, k: int, sites: np.ndarray, inside: np.ndarray,
            kept: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """Narrow [kept, moved] (status unchanged at `kept`, changed at `moved`) for each site at once,
    in log space, until the bracket is FLIP_RTOL wide; returns the `moved` end."""
    lo, hi = np.log(kept), np.log(moved)
    for _ in range(200):
        if np.all(np.abs(hi - lo) <= FLIP_RTOL):
            break
        mid = 0.5 * (lo + hi)
        now_in = _in_top_at(sm, method, j, k, sites, np.exp(mid))
        moved_now = now_in != inside
        hi = np.where(moved_now, mid, hi)
        lo = np.where(moved_now, lo, mid)
    return np.exp(hi)


def _in_top_at(sm: SiteMatrix, method: str, j: int, k: int, sites: np.ndarray,
               factors: np.ndarray) -> np.ndarray:
    """Whether site sites[r] is in the top k when weight j is multiplied by factors[r]."""
    scores = batch_scores(sm.values, scaled_weights(sm.weights, j, factors), method)
    key = _rank_keys(scores, sm.excluded)
    own = key[np.arange(len(sites)), sites][:, None]
    idx = np.arange(sm.n_sites)[None, :]
    beats = (key > own) | ((key == own) & (idx < sites[:, None]))
    return 1 + beats.sum(axis=1) <= k


def site_ranks(sm: SiteMatrix, weights: np.ndarray, method: str) -> pd.Series:
    """Rank of every site (by site id) under one weight vector; a convenience for reports."""
    scores = batch_scores(sm.values, np.asarray(weights, dtype=float)[None, :], method)
    return pd.Series(ranks_of(scores, sm.excluded)[0], index=pd.Index(sm.site_ids, name="site_id"),
                     name="rank")


__all__ = [
    "CriterionCells", "SiteMatrix", "base_ranking", "batch_scores", "dirichlet_concentration",
    "draw_weights", "flip_summary", "monte_carlo", "ranks_of", "scaled_weights", "site_matrix",
    "site_ranks", "sweep_charts", "weight_sweeps", "weight_to_flip",
]
