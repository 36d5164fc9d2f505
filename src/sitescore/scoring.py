"""Scoring: value functions (raw -> 0..1), hard constraints (mask + reason), the aggregation.

Keeps, per cell and criterion, the raw value, the value-function output, the weight and the
contribution, so every score can be explained.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import ConstraintConfig, CriterionConfig, ValueFunction
from .config.value_functions import category_key
from .errors import ConfigError
from .mcda import rescale_weights
from .mcda import score as combine


def apply_value_function(vf: ValueFunction, raw: np.ndarray) -> np.ndarray:
    """Map raw values to 0..1 (1 = best) by the function's own kind (config.value_functions).
    Missing raw values get `vf.missing`."""
    return vf.apply(raw)


def describe_value_function(vf: ValueFunction, unit: str = "") -> str:
    """One line a planner reads in the map legend and report."""
    return vf.describe(unit)


@dataclass(frozen=True)
class CriterionInfo:
    """What the map needs to know about one scoring criterion.

    ``weight`` is the normalised weight (all criteria sum to 1); ``value_description`` says in
    words how a raw value becomes a 0..1 score (e.g. "0 km scores 1, 50 km or more scores 0").
    """

    name: str
    label: str
    unit: str
    metric: str
    layer: str
    weight: float
    value_description: str = ""


@dataclass(frozen=True)
class ConstraintResult:
    excluded: np.ndarray      # bool per cell
    reasons: np.ndarray       # object per cell: None or the first binding rule
    rules: np.ndarray | None = None  # object per cell: that rule without the cell's value

    def require_some_left(self, where: object = None) -> None:
        """A grid run whose constraints exclude every cell has nothing to rank: say so, with how
        many cells each rule took (`where`: the config file and line of `constraints`)."""
        n = len(self.excluded)
        if n == 0 or not self.excluded.all():
            return
        rules = self.rules if self.rules is not None else self.reasons
        counts = pd.Series(rules, dtype=object).value_counts(sort=True)
        said = "; ".join(f"{rule}: {count} cell{'s' if count != 1 else ''}"
                         for rule, count in counts.items())
        raise ConfigError(f"every cell is excluded by the constraints ({said}); relax them",
                          file=where, key="constraints")


def apply_constraints(raw: Mapping[str, np.ndarray], constraints: list[ConstraintConfig],
                      criteria: Mapping[str, CriterionConfig], n: int) -> ConstraintResult:
    """Hard limits on raw values. A cell's reason names the first rule it breaks, with the numbers
    ("slope 7.2 % > max 5 %"). Missing raw values never break a min/max rule."""
    excluded = np.zeros(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    rule_of = np.full(n, None, dtype=object)
    for con in constraints:
        if con.criterion not in raw:
            continue
        crit = criteria[con.criterion]
        label = crit.label or con.criterion
        unit = f" {crit.unit}" if crit.unit else ""
        values = raw[con.criterion]
        # per rule: the cells it excludes, what a cell's reason shows, the reason, the rule
        rules: list[tuple[np.ndarray, np.ndarray, Callable[[Any], str], str]] = []
        if con.min is not None or con.max is not None:
            x = np.asarray(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"), dtype=float)
            if con.min is not None:
                rules.append((x < con.min, x, _limit_reason(label, unit, "<", con.min),
                              f"{label} < min {con.min:g}{unit}"))
            if con.max is not None:
                rules.append((x > con.max, x, _limit_reason(label, unit, ">", con.max),
                              f"{label} > max {con.max:g}{unit}"))
        if con.exclude_values:
            keys = np.array([category_key(v) for v in values], dtype=object)
            hit = np.isin(keys, [str(v) for v in con.exclude_values])
            rules.append((hit, keys, _category_reason(label),
                          f"{label} in {', '.join(map(str, con.exclude_values))}"))
        for broken, shown, say, rule in rules:
            new = broken & ~excluded
            for i in np.flatnonzero(new):
                reasons[i] = say(shown[i])
            rule_of[new] = rule
            excluded |= broken
    return ConstraintResult(excluded, reasons, rule_of)


def _limit_reason(label: str, unit: str, op: str, limit: float) -> Callable[[Any], str]:
    """A min/max rule's reason for one cell, with its value: 'slope 7.2 % > max 5 %'."""
    word = "min" if op == "<" else "max"
    return lambda v: f"{label} {v:.3g}{unit} {op} {word} {limit:g}{unit}"


def _category_reason(label: str) -> Callable[[Any], str]:
    """An excluded category's reason for one cell: 'land cover is water'."""
    return lambda v: f"{label} is {v}"


def score_table(raw: Mapping[str, np.ndarray], criteria: Mapping[str, CriterionConfig],
                weights: Mapping[str, float], method: str = "weighted_sum") -> pd.DataFrame:
    """Per criterion c: raw__c, value__c, weight__c, contribution__c; and the total `score`.

    Weights are normalised over the criteria present, so the score stays on 0..1 when a
    criterion had to be left out. The contribution is always weight x value (what each criterion
    brings); the score is the chosen aggregation (for the weighted sum, the contributions' sum).
    """
    names = [c for c in criteria if c in raw]
    # rescaled first, so weights whose sum would overflow a float still work
    weights = dict(zip(names, rescale_weights([weights[c] for c in names]), strict=True))
    total = sum(weights[c] for c in names)
    cols: dict[str, np.ndarray] = {}
    values, w_list = [], []
    for c in names:
        w = weights[c] / total if total > 0 else 0.0
        value = apply_value_function(criteria[c].value, raw[c])
        cols[f"raw__{c}"] = raw[c]
        cols[f"value__{c}"] = value
        cols[f"weight__{c}"] = np.full(len(value), w)
        cols[f"contribution__{c}"] = w * value
        values.append(value)
        w_list.append(w)
    df = pd.DataFrame(cols)
    df["score"] = aggregate_scores(np.column_stack(values), np.array(w_list), method) if values else 0.0
    return df


def aggregate_scores(values: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    """Scores from criterion values (rows: alternatives) by the named `mcda` method, with the
    arithmetic the map's weight sliders repeat in the browser (`mcda.score`)."""
    return combine(values, weights, method)
