"""Multi-criteria decision analysis: AHP weights and three ways to combine criterion scores.

Everything here works on plain numpy arrays so the scorer, the sensitivity runs and the tests can
all call it without a config.  Conventions: a *values* / *matrix* array is n alternatives x m
criteria; *weights* has one entry per criterion.

AHP (Saaty 1977, 1980)
    A pairwise matrix A has a_ij = "how much more criterion i matters than j" and a_ji = 1/a_ij.
    If the judgements were perfectly consistent (a_ij = w_i / w_j for some w) then A w = n w.
    Saaty's priorities are the principal right eigenvector, A w = lambda_max w, normalised to
    sum 1; lambda_max >= n with equality only for a consistent matrix, so

        CI = (lambda_max - n) / (n - 1)        consistency index
        CR = CI / RI(n)                        consistency ratio

    where RI(n) is the mean CI of random reciprocal matrices of size n.  Saaty's rule of thumb
    accepts CR <= 0.10.

Aggregation (values already on 0..1, 1 = best)
    weighted sum       S_i = sum_j w_j v_ij
    weighted product   P_i = prod_j max(v_ij, floor) ** w_j          (Bridgman 1922; Miller &
                                                                     Starr 1969)
    TOPSIS             C_i = d_i^- / (d_i^+ + d_i^-)                  (Hwang & Yoon 1981)
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

__all__ = [
    "AGGREGATION_METHODS",
    "RANDOM_INDEX",
    "AggregationMethod",
    "AhpResult",
    "aggregate",
    "aggregation_method",
    "ahp_matrix",
    "ahp_weights",
    "random_index",
    "rescale_weights",
    "score",
    "topsis",
    "weighted_product",
    "weighted_sum",
]

# Saaty's random consistency index RI(n), n = 1..15: the mean consistency index of randomly
# generated reciprocal matrices (1/9..9 scale).  Table from T. L. Saaty (1980), "The Analytic
# Hierarchy Process", McGraw-Hill, as it is usually reproduced (n <= 10 also in Saaty 1990,
# EJOR 48:9-26).  Its dip at n = 12 (1.48) is in the original.  We use this table rather than
# Alonso & Lamata (2006) because Saaty's published CRs -- and the 0.10 rule -- were made with it.
RANDOM_INDEX: dict[int, float] = {
    1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41,
    9: 1.45, 10: 1.49, 11: 1.51, 12: 1.48, 13: 1.56, 14: 1.57, 15: 1.59,
}

_CONSISTENT = 1e-9  # |ln(a_ij w_j / w_i)| below this is rounding noise, not a judgement error


def random_index(n: int) -> float:
    """Saaty's RI for an n x n matrix.

    Past n = 15 the table stops; RI creeps up towards ~1.6 there, so we keep 1.59, which can only
    make the CR slightly larger (stricter), never hide an inconsistency.
    """
    if n < 1:
        raise ValueError("a pairwise matrix needs at least one element")
    return RANDOM_INDEX.get(n, RANDOM_INDEX[15])


@dataclass(frozen=True)
class AhpResult:
    """AHP priorities and the consistency figures a reviewer needs to trust them."""

    weights: dict[str, float]        # principal right eigenvector, normalised to sum 1
    lambda_max: float                # principal eigenvalue (= n when perfectly consistent)
    consistency_index: float         # (lambda_max - n) / (n - 1), 0 for n <= 2
    random_index: float              # Saaty's RI(n), see RANDOM_INDEX
    consistency_ratio: float         # CI / RI, 0 for n <= 2
    most_inconsistent: tuple[str, str] | None  # judgement (as written) farthest from w_a / w_b
    matrix: np.ndarray               # the full reciprocal matrix, rows/columns in `names` order


def _key(*parts: str) -> str:
    return ".".join(("weights", "pairwise", *parts))


def _judgement(value: object, key: str) -> float:
    """A judgement must be a finite number > 0: a ratio of importances cannot be 0 or negative."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"a judgement must be a number (e.g. 3 or 0.333), not {value!r}", key=key)
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ConfigError(f"a judgement must be a positive number (Saaty scale 1/9..9), not {value!r}",
                          key=key)
    return v


def ahp_matrix(names: list[str], pairwise: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    """Build the reciprocal matrix from `pairwise[a][b]` = how much more a matters than b.

    Every unordered pair of `names` must be judged exactly once, in either direction; the other
    half of the matrix follows by reciprocity (a_ba = 1 / a_ab).  Asking for each pair once keeps
    the user from writing two judgements that disagree.  Errors name the config key.
    """
    names = list(names)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ConfigError(f"criterion '{dup}' appears twice", key=_key())
    index = {n: i for i, n in enumerate(names)}
    n = len(names)
    a = np.ones((n, n))
    given: dict[frozenset[str], tuple[str, str]] = {}
    if not isinstance(pairwise, Mapping):
        raise ConfigError("must be a mapping: pairwise[a][b] = how much more a matters than b",
                          key=_key())
    for first, row in pairwise.items():
        if first not in index:
            raise ConfigError(f"'{first}' is not a criterion; known: {', '.join(names)}",
                              key=_key(str(first)))
        if not isinstance(row, Mapping):
            raise ConfigError(f"must be a mapping of criterion -> judgement, not {row!r}",
                              key=_key(first))
        for second, value in row.items():
            key = _key(first, str(second))
            if second not in index:
                raise ConfigError(f"'{second}' is not a criterion; known: {', '.join(names)}", key=key)
            v = _judgement(value, key)
            if second == first:
                if v != 1.0:
                    raise ConfigError("a criterion compared with itself must be 1", key=key)
                continue
            pair = frozenset((first, second))
            if pair in given:
                p, q = given[pair]
                raise ConfigError(f"'{first}' vs '{second}' is judged twice (also as {p}.{q}); "
                                  "give each pair once, the reciprocal follows", key=key)
            given[pair] = (first, second)
            i, j = index[first], index[second]
            a[i, j], a[j, i] = v, 1.0 / v
    missing = [(p, q) for k, p in enumerate(names) for q in names[k + 1:]
               if frozenset((p, q)) not in given]
    if missing:
        p, q = missing[0]
        more = f" ({len(missing) - 1} more pair(s) missing)" if len(missing) > 1 else ""
        raise ConfigError(f"missing judgement: how much more does '{p}' matter than '{q}'? "
                          f"Give {p}.{q} or {q}.{p}{more}", key=_key(p, q))
    return a


def _principal_eigen(a: np.ndarray) -> tuple[np.ndarray, float]:
    """Perron root and vector of a positive matrix (real, simple, all-positive vector)."""
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    w = np.abs(vecs[:, k].real)  # the Perron vector has one sign; abs() fixes eig's arbitrary one
    return w / w.sum(), float(vals[k].real)


def _fmt_ratio(r: float) -> str:
    """Judgements below 1 are easier to read as 1/x, the way the Saaty scale writes them."""
    return f"{r:.2f}" if r >= 1 or 1 / r < 1.005 else f"{r:.2f} (= 1/{1 / r:.2f})"


def ahp_weights(names: list[str], pairwise: Mapping[str, Mapping[str, float]],
                max_cr: float = 0.10) -> AhpResult:
    """Saaty's eigenvector priorities; refuses judgements whose consistency ratio exceeds `max_cr`.

    When refusing, names the judgement farthest from what the others imply -- the largest
    |ln(a_ij w_j / w_i)| -- and the value w_i / w_j that would agree with them, since that is
    the one edit most likely to bring the CR down.
    """
    if not max_cr > 0:
        raise ValueError("max_cr must be > 0")
    names = list(names)
    if not names:
        raise ConfigError("AHP needs at least one criterion", key=_key())
    a = ahp_matrix(names, pairwise)
    n = len(names)
    w, lam = _principal_eigen(a)
    if n <= 2:
        # every 1x1 and 2x2 reciprocal matrix is consistent: lambda_max = n exactly
        lam, ci, cr = float(n), 0.0, 0.0
    else:
        ci = max((lam - n) / (n - 1), 0.0)  # lambda_max >= n in theory; clip rounding noise
        cr = ci / random_index(n)
    # how far each judgement is from what the priorities imply: |ln(a_ij w_j / w_i)|
    dev = np.abs(np.log(a * w[None, :] / w[:, None]))
    np.fill_diagonal(dev, 0.0)
    i, j = np.unravel_index(int(np.argmax(dev)), dev.shape)
    p, q = names[i], names[j]
    # report the pair the way the user wrote it, so the key points at their line
    worst = (p, q) if q in (pairwise.get(p) or {}) else (q, p)
    most = worst if n > 2 and dev[i, j] > _CONSISTENT else None
    result = AhpResult(weights={nm: float(x) for nm, x in zip(names, w, strict=True)}, lambda_max=lam,
                       consistency_index=ci, random_index=random_index(n), consistency_ratio=cr,
                       most_inconsistent=most, matrix=a)
    if cr > max_cr:
        p, q = worst
        ip, iq = names.index(p), names.index(q)
        raise ConfigError(
            f"judgements are too inconsistent: consistency ratio {cr:.3f} > {max_cr:g} "
            f"(CI {ci:.3f}, RI {result.random_index:.2f}, lambda_max {lam:.3f}, n {n}). "
            f"Most inconsistent: '{p}' vs '{q}' = {_fmt_ratio(a[ip, iq])}, while the other "
            f"judgements imply about {_fmt_ratio(w[ip] / w[iq])}; revise it (or the judgements "
            "around it)", key=_key(p, q))
    return result


def rescale_weights(weights: Sequence[float]) -> list[float]:
    """The weights as given when their sum is an ordinary float; else each divided by the largest.

    Two weights of 1e308 sum to inf, which makes every normalised weight 0 and every score 0, and
    weights near 1e-310 lose their precision when summed. Only the ratios matter, and dividing by
    the largest first keeps them while bringing the sum into 1..n. Ordinary weights are returned
    untouched, so normalising them gives the same bits as before.
    """
    ws = [float(w) for w in weights]
    total = sum(ws)
    if math.isfinite(total) and total >= sys.float_info.min:
        return ws
    top = max(ws, default=0.0)
    if not (math.isfinite(top) and top > 0):
        return ws  # nothing to rescale: the callers refuse non-finite or all-zero weights
    return [w / top for w in ws]


def _as_2d(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if v.ndim != 2:
        raise ValueError(f"values must be 2-D (alternatives x criteria), got shape {v.shape}")
    if w.ndim != 1 or w.shape[0] != v.shape[1]:
        raise ValueError(f"need one weight per criterion: {v.shape[1]} criteria, weights {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    return v, w


# ---------------------------------------------------------------------------------------------
# the aggregation methods a config may name (`aggregation:`), each defined once, here
# ---------------------------------------------------------------------------------------------

Combine = Callable[..., np.ndarray]


class AggregationMethod:
    """One way to combine criterion values, callable as `method(values, weights)`, with what the
    config, scorer and map need to know of it (its docstring is its function's).

    `normalise` says whether `score` divides the weights by their sum first (the map repeats
    exactly that); `browser` whether the map's script (assets/sitescore/regrow.js) can re-rank
    with it, so the page offers weight sliders."""

    def __init__(self, name: str, label: str, combine: Combine, normalise: bool,
                 browser: bool) -> None:
        functools.update_wrapper(self, combine)
        self.name, self.label, self.combine = name, label, combine
        self.normalise, self.browser = normalise, browser

    def __call__(self, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.combine(values, weights)

    def __repr__(self) -> str:
        return f"AggregationMethod({self.name!r})"


#: The methods a config's `aggregation` may name, in the order the config schema lists them.
AGGREGATION_METHODS: dict[str, AggregationMethod] = {}


def aggregation_method(name: str, label: str, *, normalise: bool = True,
                       browser: bool = True) -> Callable[[Combine], Combine]:
    """Register the decorated `combine(values, weights)` as aggregation method `name`: all a
    new method needs (the map re-ranks with it once regrow.js has it and `browser` is True)."""
    def register(combine: Combine) -> Combine:
        AGGREGATION_METHODS[name] = AggregationMethod(name, label, combine, normalise, browser)
        return combine
    return register


@aggregation_method("weighted_sum", "weighted sum", normalise=False)
def weighted_sum(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """S_i = sum_j w_j v_ij: fully compensatory -- a loss on one criterion is bought back by gains
    elsewhere at the rate w_k / w_j.  A NaN value makes that alternative's score NaN.

    Accumulated criterion by criterion, in config order, without fused multiply-add: exactly
    the arithmetic the map's weight sliders repeat in the browser, so the page ranks sites as
    the CLI does to the last bit. The scorer's weights already sum to 1: no normalising."""
    v, w = _as_2d(values, weights)
    total = np.zeros(v.shape[0])
    for j in range(v.shape[1]):
        total = total + w[j] * v[:, j]
    return total


@aggregation_method("weighted_product", "weighted product")
def weighted_product(values: np.ndarray, weights: np.ndarray, floor: float = 0.01) -> np.ndarray:
    """P_i = prod_j max(v_ij, floor) ** w_j, computed as exp(sum_j w_j ln v_ij).

    Less compensatory than the sum: halving any one value costs the same factor 2**-w_j whatever
    the others are, so a cell weak on one criterion cannot hide behind strong ones.  A true 0
    would zero the whole product -- a veto -- and vetoes are the constraints' job, so values are
    floored at `floor`.  For values in 0..1 and weights summing to 1 the result lies in floor..1.
    Ratios P_k / P_l equal Bridgman's WPM ratios prod_j (v_kj / v_lj) ** w_j, so any per-column
    rescaling leaves the ranking unchanged.  A NaN value makes that alternative's score NaN.
    """
    if not 0 < floor <= 1:
        raise ValueError("floor must be in (0, 1]")
    v, w = _as_2d(values, weights)
    with np.errstate(invalid="ignore"):
        logs = np.log(np.fmax(v, floor))  # fmax keeps NaN out of the floor, so NaN stays NaN
    logs = np.where(np.isnan(v), np.nan, logs)
    return np.exp(logs @ w)


@aggregation_method("topsis", "TOPSIS")
def topsis(matrix: np.ndarray, weights: np.ndarray, benefit: Sequence[bool] | None = None,
           normalization: str = "vector") -> np.ndarray:
    """Closeness coefficients C_i in 0..1 (higher is better), classic Hwang & Yoon (1981) TOPSIS.

    1. normalise each column: 'vector' r_ij = x_ij / sqrt(sum_i x_ij^2) (Hwang & Yoon), or
       'minmax' r_ij = (x_ij - min_j) / (max_j - min_j);
    2. weight: t_ij = w_j r_ij;
    3. ideal A+_j = max_i t_ij for a benefit criterion (min for a cost one), anti-ideal A-_j the
       opposite;
    4. Euclidean distances d+_i = ||t_i - A+||, d-_i = ||t_i - A-||;
    5. C_i = d-_i / (d+_i + d-_i).

    Chosen behaviour at the edges:
    - a column whose values are all equal has A+_j = A-_j and so adds nothing to either distance
      (an all-zero column, whose norm is 0, is treated the same way);
    - a row with d+ = d- = 0 (every column constant) is neither near nor far: C = 0.5;
    - NaN-safe: a row with any non-finite value gets C = NaN and is left out of the norms and
      ideals, so it cannot move the other rows' scores.
    Scaling all weights by a constant scales both distances alike and leaves C unchanged.
    """
    x, w = _as_2d(matrix, weights)
    n, m = x.shape
    if benefit is None:
        ben = np.ones(m, dtype=bool)
    else:
        ben = np.asarray(list(benefit), dtype=bool)
        if ben.shape != (m,):
            raise ValueError(f"benefit needs one flag per criterion ({m}), got {ben.shape}")
    if normalization not in ("vector", "minmax"):
        raise ValueError(f"unknown normalization '{normalization}'; use 'vector' or 'minmax'")
    out = np.full(n, np.nan)
    ok = np.all(np.isfinite(x), axis=1)
    if not ok.any():
        return out
    xs = x[ok]
    if normalization == "vector":
        scale = np.sqrt((xs ** 2).sum(axis=0))
        shift = np.zeros(m)
    else:
        shift = xs.min(axis=0)
        scale = xs.max(axis=0) - shift
    safe = np.where(scale > 0, scale, 1.0)
    r = np.where(scale > 0, (xs - shift) / safe, 0.0)  # a constant column contributes nothing
    t = r * w
    hi, lo = t.max(axis=0), t.min(axis=0)
    ideal = np.where(ben, hi, lo)
    anti = np.where(ben, lo, hi)
    d_plus = np.sqrt(((t - ideal) ** 2).sum(axis=1))
    d_minus = np.sqrt(((t - anti) ** 2).sum(axis=1))
    total = d_plus + d_minus
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(total > 0, d_minus / np.where(total > 0, total, 1.0), 0.5)
    out[ok] = np.clip(c, 0.0, 1.0)
    return out


def aggregate(values: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    """Combine n x m criterion values (0..1, 1 = best, already direction-corrected by the value
    functions) into one score per alternative, by any registered method.

    Weights are normalised here to sum 1, so only their ratios matter whoever calls us.
    'topsis' treats every column as a benefit criterion with vector normalisation.
    """
    spec = _method(method)
    v, w = _as_2d(values, weights)
    return spec.combine(v, _normalised(w))


def score(values: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    """The scorer's entry point (and what the map's script repeats to the last bit): weights
    normalised first only where the method says so (`AggregationMethod.normalise`)."""
    spec = _method(method)
    v, w = _as_2d(values, weights)
    return spec.combine(v, _normalised(w) if spec.normalise else w)


def _normalised(w: np.ndarray) -> np.ndarray:
    w = np.asarray(rescale_weights(w.tolist()))
    total = w.sum()
    if not total > 0:
        raise ValueError("weights must not all be zero")
    return w / total


def _method(name: str) -> AggregationMethod:
    try:
        return AGGREGATION_METHODS[name]
    except KeyError:
        raise ValueError(f"unknown aggregation method '{name}'; known: "
                         f"{', '.join(AGGREGATION_METHODS)}") from None
