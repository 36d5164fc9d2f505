"""Each parcel's land pathway: the first rule of the table whose match holds.

A parcel whose managing agency, manager type or designation is a code the table does not know
gets no pathway (never a guess) and is counted, so the run can say what it could not judge.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config.models import designation_table
from .table import PathwayTable, Rule

#: The columns a parcel, a piece of land and a candidate cell carry once pathways are resolved.
PATHWAY_COLUMNS = ("pathway", "pathway_label", "pathway_rule", "pathway_available",
                   "pathway_nepa", "pathway_months_low", "pathway_months_high",
                   "pathway_instruments")


@dataclass
class UnknownCodes:
    """Codes the table could not judge, with the parcels carrying each, and parcels no rule
    matched."""

    mang_name: Counter = field(default_factory=Counter)
    mang_type: Counter = field(default_factory=Counter)
    des_tp: Counter = field(default_factory=Counter)
    no_rule: int = 0

    def total(self) -> int:
        return sum(self.mang_name.values()) + sum(self.mang_type.values()) + \
            sum(self.des_tp.values()) + self.no_rule

    def record(self) -> dict:
        return {"mang_name": dict(sorted(self.mang_name.items())),
                "mang_type": dict(sorted(self.mang_type.items())),
                "des_tp": dict(sorted(self.des_tp.items())), "no_rule": self.no_rule}

    def notes(self, layer: str) -> list[str]:
        out = []
        for what, counts in (("managing agency (Mang_Name)", self.mang_name),
                             ("manager type (Mang_Type)", self.mang_type),
                             ("designation (Des_Tp)", self.des_tp)):
            if counts:
                said = ", ".join(f"{code} ({n} parcel{'s' if n != 1 else ''})"
                                 for code, n in sorted(counts.items()))
                out.append(f"land pathway unknown on layer '{layer}': {what} code not in the "
                           f"land-pathway table: {said}; that land has no pathway")
        if self.no_rule:
            out.append(f"land pathway unknown on layer '{layer}': no rule of the table matches "
                       f"{self.no_rule} parcel{'s' if self.no_rule != 1 else ''}")
        return out


def _code(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.strip().upper()
    return v or None


def _gap(value: object) -> float | None:
    try:
        g = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return g if g in (1.0, 2.0, 3.0, 4.0) else None


def rule_columns(rule: Rule | None, table: PathwayTable) -> tuple:
    """One rule's values in PATHWAY_COLUMNS order (all missing for no rule)."""
    if rule is None:
        return (None, None, None, None, None, np.nan, np.nan, None)
    low, high = rule.months if rule.months is not None else (np.nan, np.nan)
    return (rule.pathway, table.instrument_label(rule.pathway), rule.id, rule.available,
            rule.nepa, float(low), float(high), " ".join(rule.instruments))


def resolve_pathways(land: pd.DataFrame, table: PathwayTable) -> tuple[pd.DataFrame, UnknownCodes]:
    """PATHWAY_COLUMNS for every parcel of a canonical `federal_land` frame (same index), and the
    codes the table did not know. A manager code that is no PAD-US code but a BLM SMA agency
    code is read as the PAD-US manager the table's `sma_agencies` names. Rules are tried once per
    distinct combination of codes."""
    designations = designation_table()
    n = len(land)
    keys = pd.DataFrame({
        "mang_name": [_code(v) for v in land["mang_name"]] if n else [],
        "mang_type": [_code(v) for v in land["mang_type"]] if n else [],
        "des_tp": [_code(v) for v in land["designation"]] if n else [],
        "gap_sts": [_gap(v) for v in land["gap_status"]] if n else [],
    }, index=land.index)
    unknown = UnknownCodes()
    parcel_keys = list(keys.astype(object).where(keys.notna(), None).itertuples(index=False,
                                                                               name=None))
    answer: dict[tuple, tuple] = {}
    for combo in dict.fromkeys(parcel_keys):
        mang_name, mang_type, des_tp, gap = combo
        sma = table.sma_agencies.get(mang_name) if mang_name not in table.mang_names else None
        if sma is not None:  # an SMA agency code the reader passed through (OTHFE, GSA, VA, ...)
            mang_name, mang_type = sma.mang_name, sma.mang_type
        bad = (mang_name is None or mang_name not in table.mang_names,
               mang_type is not None and mang_type not in table.mang_types,
               des_tp is not None and des_tp not in designations)
        rule = None if any(bad) else next(
            (r for r in table.rules if r.holds(mang_name, mang_type, des_tp, gap)), None)
        answer[combo] = (*rule_columns(rule, table), bad)
    rows = [answer[c] for c in parcel_keys]
    for combo, row in zip(parcel_keys, rows, strict=True):
        bad = row[-1]
        if bad[0]:
            unknown.mang_name[combo[0] or "(blank)"] += 1
        if bad[1]:
            unknown.mang_type[combo[1]] += 1
        if bad[2]:
            unknown.des_tp[combo[2]] += 1
        if not any(bad) and row[0] is None:
            unknown.no_rule += 1
    out = pd.DataFrame({col: pd.Series([r[j] for r in rows], index=land.index, dtype=object)
                        for j, col in enumerate(PATHWAY_COLUMNS)}, index=land.index)
    for col in ("pathway_months_low", "pathway_months_high"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out, unknown


def typical_months(low: np.ndarray, high: np.ndarray, basis: str = "typical") -> np.ndarray:
    """The months a pathway is read as: its range's low or high end, or its middle (typical)."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    if basis == "low":
        return low
    if basis == "high":
        return high
    return (low + high) / 2
