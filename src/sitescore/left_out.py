"""Which configured criteria a run could not score, and how much of the configured weight the
scores still stand for: a planner must see that a scenario was only partly scored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, CriterionConfig
from .errors import ConfigError
from .formatting import fmt_pct
from .metrics import METRICS


@dataclass(frozen=True)
class LeftOut:
    """A configured criterion the run did not score, why, and its share of the configured
    weight (the config's weights, its preset's criteria included), so a planner sees how much
    of the scenario the scores stand for."""

    name: str
    label: str
    reason: str
    weight_share: float

    def record(self) -> dict[str, Any]:
        """The manifest's entry (the map, the report and `explain` read these)."""
        return {"criterion": self.name, "label": self.label, "reason": self.reason,
                "weight_share": round(self.weight_share, 6)}


def left_out_summary(n_configured: int, left_out: Sequence[LeftOut], weight_kept: float) -> str:
    """'kept 4 of 10 criteria, 32% of the weight; left out: a (layer missing), ...'."""
    kept = n_configured - len(left_out)
    said = ", ".join(f"{x.name} ({x.reason})" for x in left_out)
    return (f"kept {kept} of {n_configured} criteria, {fmt_pct(weight_kept)} of the weight"
            + (f"; left out: {said}" if said else ""))


def preset_dropped(cfg: Config) -> dict[str, dict[str, Any]]:
    """The criteria of the config's preset that loading left out, the study having no layer of
    theirs (`config.presets.apply_preset`): the preset file is read again for their weights."""
    if not cfg.preset or not Path(cfg.preset).is_file():
        return {}
    from .config import read_yaml

    doc = read_yaml(Path(cfg.preset), "preset")
    criteria = doc.get("criteria") if isinstance(doc, dict) else None
    if not isinstance(criteria, dict):
        return {}
    return {n: c for n, c in criteria.items() if isinstance(c, dict) and n not in cfg.criteria
            and c.get("layer") not in cfg.layers}


def configured_shares(cfg: Config, dropped: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Each configured criterion's share of the configured weight (summing to 1), the preset's
    dropped ones included: direct weights as written; AHP priorities of the preset's whole
    matrix (those of the criteria kept were derived from the trimmed one)."""
    weights = {n: float(c.weight or 0.0) for n, c in cfg.criteria.items()}
    if dropped and cfg.weights.method == "ahp":
        weights = _preset_ahp(cfg, [*cfg.criteria, *dropped])
    else:
        for name, crit in dropped.items():
            w = crit.get("weight")
            weights[name] = float(w) if isinstance(w, (int, float)) and w >= 0 else 0.0
    total = sum(weights.values())
    n = len(weights)
    return {k: (w / total if total > 0 else 1.0 / n) for k, w in weights.items()}


def _preset_ahp(cfg: Config, names: list[str]) -> dict[str, float]:
    """AHP priorities over every criterion of the preset's pairwise matrix; equal shares where
    that matrix does not rank them all (a preset with judgements missing)."""
    from .config import read_yaml
    from .mcda import ahp_weights

    assert cfg.preset is not None  # only called with criteria the preset dropped
    doc = read_yaml(Path(cfg.preset), "preset")
    pairwise = ((doc.get("weights") or {}).get("pairwise") or {}) if isinstance(doc, dict) else {}
    try:
        result = ahp_weights(names, pairwise, max_cr=float("inf"))
    except (ConfigError, ValueError, TypeError):
        return dict.fromkeys(names, 1.0)
    return {n: float(result.weights[n]) for n in names}


def degenerate(values: np.ndarray, crit: CriterionConfig) -> str | None:
    """Why a criterion's raw values cannot rank the cells ('all missing', 'constant: ...'), or
    None. One cell is never constant: it has nothing to be told apart from."""
    if values.dtype.kind in "OUS":  # categories
        present = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
        distinct = {str(v) for v in present}
    else:
        numbers = values.astype(float)
        finite = numbers[~np.isnan(numbers)]
        present = list(finite)
        # a sum's rounding is no difference between cells
        spread = float(np.ptp(finite)) if len(finite) else 0.0
        same = spread <= 1e-9 * max(1.0, float(np.abs(finite).max())) if len(finite) else True
        distinct = {present[0]} if same and present else set(present)
    if not present:
        return "all missing"
    if len(values) < 2 or len(present) < len(values) or len(distinct) > 1:
        return None
    value = present[0]
    field_name = crit.params.get("field")
    if isinstance(value, float):
        shown = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
        unit = crit.unit or METRICS[crit.metric].unit
        shown = f"{shown} {unit}".strip() if unit and not field_name else shown
    else:
        shown = str(value)
    return f"constant: {field_name + ' ' if isinstance(field_name, str) else ''}{shown} everywhere"
