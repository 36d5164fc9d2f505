"""Why each park was chosen over the best site left out for its role.

For a park of role r, the best-scoring candidate outside the network that qualifies for r is
found. Scoring no higher, it lost on score (the difference is said). Scoring higher, it was
kept out by a constraint: the network with it in the park's place is checked, and what that
swap breaks (spacing, the state limit or spread, the power budget, a link) is said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..safe_text import terminal_text
from .checks import Park, violations
from .problem import NetworkProblem

#: Constraints a swap would break named in a park's reason (the rest counted).
SAID_MAX = 3


@dataclass(frozen=True)
class ParkReason:
    site: int
    role: int
    rival: int | None
    rival_score: float | None
    difference: float | None
    bound_by: str
    text: str


def park_reasons(problem: NetworkProblem, chosen: list[Park]) -> list[ParkReason]:
    """One reason per park, in the order of `chosen`."""
    p = problem
    in_network = {i for i, _ in chosen}
    out = []
    for park in chosen:
        i, r = park
        role = p.roles[r].name
        pool = np.array([s for s in np.flatnonzero(p.eligible[:, r]) if s not in in_network],
                        dtype=np.int64)
        if len(pool) == 0:
            out.append(ParkReason(i, r, None, None, None, "no rival",
                                  f"no other candidate site qualifies as {role}"))
            continue
        best = pool[np.lexsort((p.site_ids[pool], -p.scores[pool, r]))[0]]
        diff = float(p.scores[i, r] - p.scores[best, r])
        rival = f"{p.label(int(best))}, scoring {p.scores[best, r]:.3f}"
        if diff >= 0:
            out.append(ParkReason(i, r, int(best), float(p.scores[best, r]), diff, "score",
                                  f"scores {p.scores[i, r]:.3f} as {role}, {diff:+.3f} over the "
                                  f"best site left out, {rival}"))
            continue
        swapped = [(best, r) if q == park else q for q in chosen]
        before = {str(v) for v in violations(p, chosen)}
        broken = [v for v in violations(p, swapped) if str(v) not in before]
        if broken:
            keys = sorted({v.key for v in broken})
            said = "; ".join(v.text for v in broken[:SAID_MAX]) + \
                (f"; and {len(broken) - SAID_MAX} more" if len(broken) > SAID_MAX else "")
            out.append(ParkReason(i, r, int(best), float(p.scores[best, r]), diff, ", ".join(keys),
                                  f"{rival} scores {-diff:.3f} more as {role}, but in this park's "
                                  f"place it would break: {said}"))
        else:
            out.append(ParkReason(i, r, int(best), float(p.scores[best, r]), diff, "gap",
                                  f"{rival} scores {-diff:.3f} more as {role} and could take its "
                                  f"place: the solver stopped within its gap of the optimum"))
    return out


def explain_network(parks: pd.DataFrame, record: Mapping[str, Any]) -> str:
    """What `sitescore explain --network` prints: per park, why it was chosen over the best
    site left out for its role. Names come from the data, so each goes through
    `terminal_text`."""
    solve = record.get("solve") or {}
    gap = solve.get("gap")
    out = [f"Network of {len(parks)} parks: {solve.get('status')}"
           + (f" (gap {float(gap):.2%})" if gap else "")
           + f", objective {float(solve.get('objective') or 0):.4f}; greedy "
           f"{float((record.get('greedy') or {}).get('objective') or 0):.4f}, exact "
           f"{(record.get('greedy') or {}).get('improvement')}", ""]
    for role in (record.get("roles") or {}):
        mine = parks[parks["role"] == role]
        out.append(f"{terminal_text(role)} ({len(mine)} parks):")
        for _, p in mine.iterrows():
            out.append(f"  park {int(p['park'])}: {terminal_text(str(p['name']))} "
                       f"({terminal_text(str(p.get('state') or ''))}), score {float(p['score']):.3f}")
            out.append(f"    {terminal_text(str(p['why']))}")
            if "p_stay" in p and pd.notna(p["p_stay"]):
                out.append(f"    stays in {float(p['p_stay']):.0%} of the weight draws")
        out.append("")
    return "\n".join(out).rstrip()
