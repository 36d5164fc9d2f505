"""Why no network exists: the constraint families that cannot hold together.

Each family (a role's minimum count, the state limit, the spread over states, the power budget,
the spacing, each link) is relaxed alone and the programme solved again; the families whose
relaxing alone makes a network possible are the ones in conflict. When no single one does,
pairs are tried. The answer is one line naming their config keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from .model import MAX_PER_STATE, MIN_STATES, POWER, SPACING, NetworkModel, count_key
from .problem import NetworkProblem


@dataclass(frozen=True)
class Family:
    key: str
    text: str


def families(problem: NetworkProblem) -> list[Family]:
    """The constraint families a problem has, each with its config key and value in words."""
    p = problem
    out = [Family(count_key(r.name), f"{r.name} needs at least {r.count_min} "
                  f"park{'s' if r.count_min != 1 else ''} "
                  f"({int(p.eligible[:, k].sum())} candidate sites qualify)")
           for k, r in enumerate(p.roles) if r.count_min > 0]
    if p.max_per_state is not None:
        out.append(Family(MAX_PER_STATE, f"at most {p.max_per_state} "
                          f"park{'s' if p.max_per_state != 1 else ''} per state"))
    if p.min_states is not None:
        n_states = len({s for s in p.states if isinstance(s, str)})
        out.append(Family(MIN_STATES, f"parks in at least {p.min_states} states "
                          f"(candidates lie in {n_states})"))
    if p.power is not None:
        out.append(Family(POWER, f"parks within {p.power.radius_km:g} km ask at most "
                          f"{p.power.share:g} of the capacity there"))
    if len(p.pair_i):
        said = f"{p.min_spacing_km:g} km" if p.min_spacing_km is not None else \
            "the presets' spacing (" + ", ".join(f"{r.name} {r.spacing_km:g} km" for r in p.roles) + ")"
        out.append(Family(SPACING, f"parks keep {said} apart"))
    for link in p.links:
        out.append(Family(link.key, f"every {p.roles[link.src].name} park has a "
                          f"{p.roles[link.dst].name} park within {link.max_km:g} km by "
                          f"{link.by.replace('_', ' ')}"))
    return out


def _feasible(problem: NetworkProblem, relax: set[str], time_limit_s: float) -> bool:
    model = NetworkModel(problem, relax)
    return model.solve(time_limit_s=time_limit_s, mip_rel_gap=1.0).feasible


def conflicting(problem: NetworkProblem, time_limit_s: float = 60.0
                ) -> tuple[list[list[Family]], list[Family]]:
    """The smallest sets (one family, else two) whose relaxing makes a network possible, and
    every family the problem has."""
    fams = families(problem)
    singles = [[f] for f in fams if _feasible(problem, {f.key}, time_limit_s)]
    if singles:
        return singles, fams
    pairs = [[a, b] for a, b in combinations(fams, 2)
             if _feasible(problem, {a.key, b.key}, time_limit_s)]
    return pairs, fams


def infeasibility_message(problem: NetworkProblem, time_limit_s: float = 60.0) -> tuple[str, str]:
    """The one line saying which constraints cannot hold together, and the key to name."""
    sets, fams = conflicting(problem, time_limit_s)
    if not sets:
        said = "; ".join(f"{f.text} ({f.key})" for f in fams)
        return (f"no network meets these constraints, and none is met with any one or two of "
                f"them relaxed: {said}", fams[0].key if fams else "network")
    if len(sets[0]) == 1:
        said = "; ".join(f"{s[0].text} ({s[0].key})" for s in sets)
        return (f"the network's constraints cannot hold together: relaxing any one of these "
                f"makes a network possible: {said}", sets[0][0].key)
    said = "; ".join(" and ".join(f"{f.text} ({f.key})" for f in s) for s in sets)
    return (f"the network's constraints cannot hold together: no single one is the cause, but "
            f"relaxing both of a pair makes a network possible: {said}", sets[0][0].key)
