"""The spreadsheet answer, for comparison: the best site per role in turn.

Round by round, each role that has room takes its best-scoring site that keeps the constraints
a single addition can check (one park per site, spacing, the state limit, the power budget
around it and around the parks already chosen). A park of a link's `from` role is taken only
where a park of the `to` role is, or could still be, in reach; a `to` role first serves the
`from` parks still waiting for one. What it cannot see ahead (the counts' minimums, the states'
spread, links it could not close) is checked at the end and said.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .checks import Park, Violation, pair_lookup, power_load, spacing_clash, violations
from .problem import NetworkProblem


@dataclass
class GreedyResult:
    chosen: list[Park]
    objective: float
    broken: list[Violation] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.broken


def greedy_network(problem: NetworkProblem) -> GreedyResult:
    """The greedy network for `problem` (see the module)."""
    p = problem
    pairs = pair_lookup(p)
    chosen: list[Park] = []
    used: set[int] = set()
    weights = p.objective_weights()
    order = {r: [int(i) for i in _best_first(p, r)] for r in range(len(p.roles))}

    def fits(park: Park, extra: tuple[Park, ...] = ()) -> bool:
        i, r = park
        if i in used or not p.eligible[i, r]:
            return False
        current = chosen + list(extra)
        if sum(1 for _, rr in current if rr == r) >= p.roles[r].count_max:
            return False
        if p.max_per_state is not None and isinstance(p.states[i], str) and \
                sum(1 for j, _ in current if p.states[j] == p.states[i]) >= p.max_per_state:
            return False
        if any(spacing_clash(p, pairs, park, other) for other in current):
            return False
        if p.power is not None:
            after = [*current, park]
            centres = [i] + [j for j, _ in current if i in set(p.power.neighbours(j).tolist())]
            for c in centres:
                if power_load(p, after, c) > p.power.share * p.power.capacity_mw[c] + 1e-6:
                    return False
        return True

    def linkable(park: Park) -> bool:
        i, r = park
        for link in p.links:
            if link.src != r:
                continue
            to, _ = link.reach(i)
            have = any((j, link.dst) in chosen for j in to.tolist())
            if not have and not any(fits((int(j), link.dst), (park,)) for j in to):
                return False
        return True

    def waiting(r: int) -> set[int]:
        """Sites in reach of `from` parks still without a park of role r."""
        out: set[int] = set()
        for link in p.links:
            if link.dst != r:
                continue
            for i, rr in chosen:
                if rr != link.src:
                    continue
                to, _ = link.reach(i)
                if not any((j, r) in chosen for j in to.tolist()):
                    out.update(int(j) for j in to)
        return out

    progress = True
    while progress:
        progress = False
        for r in range(len(p.roles)):
            wanted = waiting(r)
            pick = None
            for pool in ([i for i in order[r] if i in wanted], order[r]) if wanted else (order[r],):
                pick = next((i for i in pool if fits((i, r)) and linkable((i, r))), None)
                if pick is not None:
                    break
            if pick is not None:
                chosen.append((pick, r))
                used.add(pick)
                progress = True
    chosen.sort(key=lambda ir: (ir[1], -p.scores[ir[0], ir[1]], int(p.site_ids[ir[0]])))
    value = float(sum(weights[r] * p.scores[i, r] for i, r in chosen))
    return GreedyResult(chosen, value, violations(p, chosen))


def _best_first(p: NetworkProblem, r: int) -> np.ndarray:
    """Sites qualifying for role r, best score first, ties by site id."""
    sites = np.flatnonzero(p.eligible[:, r])
    order = np.lexsort((p.site_ids[sites], -p.scores[sites, r]))
    return sites[order]
