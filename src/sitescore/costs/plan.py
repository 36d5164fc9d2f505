"""What of the `costs:` section a run can price when optional layers are missing.

A connection whose layer is missing (marked optional, file not found) cannot be routed; site
grading needs the DEM. The run goes on without them, as it does without any other criterion's
layer: the `readiness_cost` criteria that would sum them (the total, or that component) are
left out with a note, `costs.max_cost_musd` with them, and each site's total is missing with
the reason while the components still priced stay in its table. A missing DEM alone leaves the
routes priced at their length times the table's route factor, and a missing corridor layer
(`along`) leaves its route priced at full friction there (both said in the notes).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config.costs import CostsConfig


@dataclass
class CostsPlan:
    """The section as the run will price it (None: nothing to price), the components left out
    (name -> reason), the readiness criteria left out with them and what the notes say."""

    config: CostsConfig | None
    left_out: dict[str, str] = field(default_factory=dict)
    criteria_left_out: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def layer_names(self) -> list[str]:
        return self.config.layer_names() if self.config else []


def plan_costs(cfg: CostsConfig | None, missing: Collection[str],
               criteria: Mapping[str, Any]) -> CostsPlan:
    """The section without the connections (and grading) whose layers are `missing`, and the
    readiness criteria among `criteria` that needed them."""
    if cfg is None:
        return CostsPlan(None)
    left_out = {name: f"layer '{conn.layer}' not found (marked optional)"
                for name, conn in cfg.connections.items() if conn.layer in missing}
    notes = [f"costs: connection '{name}' left out: {why}" for name, why in left_out.items()]
    kept = {}
    for name, conn in cfg.connections.items():
        if name in left_out:
            continue
        gone = [a.layer for a in conn.along if a.layer in missing]
        if gone:
            notes.append(f"costs: connection '{name}' priced without its corridor along "
                         f"{', '.join(repr(g) for g in gone)}: layer not found (marked optional)")
            conn = conn.model_copy(update={"along": [a for a in conn.along if a.layer not in missing]})
        kept[name] = conn
    update: dict[str, Any] = {"connections": kept}
    if cfg.terrain is not None and cfg.terrain in missing:
        update["terrain"] = None
        if cfg.grading:
            update["grading"] = False
            left_out["grading"] = f"terrain layer '{cfg.terrain}' not found (marked optional)"
            notes.append(f"costs: site grading left out: {left_out['grading']}")
        else:
            notes.append(f"costs: terrain layer '{cfg.terrain}' not found (marked optional): routes "
                         "cost their length times the unit-cost table's route factor")
    priced = bool(update["connections"])
    dropped = {}
    for name, crit in criteria.items():
        if crit.metric != "readiness_cost":
            continue
        component = crit.params.get("component", "total")
        gone = list(left_out) if component == "total" or not priced else \
            [component] if component in left_out else []
        if gone:
            dropped[name] = "its cost needs " + "; ".join(f"{g} ({left_out[g]})" for g in gone)
    total_kept = any(c.metric == "readiness_cost" and c.params.get("component", "total") == "total"
                     for n, c in criteria.items() if n not in dropped)
    if dropped and cfg.max_cost_musd is not None and not total_kept:
        update["max_cost_musd"] = None
        notes.append("costs.max_cost_musd left out with the readiness_cost criterion")
    if not priced:
        notes.append("costs: no connection left to price: routes and readiness costs left out")
        return CostsPlan(None, left_out, dropped, notes)
    return CostsPlan(cfg.model_copy(update=update), left_out, dropped, notes)
