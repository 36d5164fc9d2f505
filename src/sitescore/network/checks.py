"""Does a network keep every constraint? Each broken one said in words with its config key.

The same checks judge the greedy answer, the robustness draws' networks, a swap `explain`
tries, and every network the tests get back from the solver.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .model import MAX_PER_STATE, MIN_STATES, POWER, SPACING, count_key
from .problem import NetworkProblem

Park = tuple[int, int]  # (site, role)


@dataclass(frozen=True)
class Violation:
    """One constraint a network breaks: its config key, and what is wrong in words."""

    key: str
    text: str

    def __str__(self) -> str:
        return f"{self.text} ({self.key})"


def pair_lookup(problem: NetworkProblem) -> dict[tuple[int, int], int]:
    """(i, j) with i < j -> the index of that close pair."""
    return {(int(i), int(j)): k for k, (i, j) in enumerate(zip(problem.pair_i, problem.pair_j,
                                                                strict=True))}


def spacing_clash(problem: NetworkProblem, pairs: dict[tuple[int, int], int], a: Park,
                  b: Park) -> str | None:
    """Why parks a and b may not both be: shared land, or closer than their spacing."""
    (i, ra), (j, rb) = a, b
    if i == j:
        return f"{problem.label(i)} cannot hold two parks"
    k = pairs.get((min(i, j), max(i, j)))
    if k is None:
        return None
    lo, hi = (ra, rb) if i < j else (rb, ra)
    if not problem.too_close(k, lo, hi):
        return None
    if problem.pair_shared[k]:
        return f"{problem.label(i)} and {problem.label(j)} share land"
    return (f"{problem.label(i)} and {problem.label(j)} are {problem.pair_km[k]:.1f} km apart, "
            f"under the {problem.spacing_km(lo, hi):g} km spacing")


def power_load(problem: NetworkProblem, chosen: Sequence[Park], i: int) -> float:
    """The load (MW) the parks within power_radius_km of site i ask, i's own included."""
    assert problem.power is not None
    near = set(problem.power.neighbours(i).tolist())
    return float(sum(problem.demand(r) for j, r in chosen if j in near))


def violations(problem: NetworkProblem, chosen: Sequence[Park]) -> list[Violation]:
    """Every constraint `chosen` breaks (empty: the network is feasible)."""
    p = problem
    out: list[Violation] = []
    for i, r in chosen:
        if not p.eligible[i, r]:
            out.append(Violation(count_key(p.roles[r].name),
                                 f"{p.label(i)} does not qualify as {p.roles[r].name}"))
    per_role = Counter(r for _, r in chosen)
    for r, role in enumerate(p.roles):
        n = per_role.get(r, 0)
        if not role.count_min <= n <= role.count_max:
            out.append(Violation(count_key(role.name), f"{n} {role.name} parks, not "
                                 f"{_range(role.count_min, role.count_max)}"))
    states = Counter(p.states[i] for i, _ in chosen if isinstance(p.states[i], str))
    if p.max_per_state is not None:
        for s, n in sorted(states.items()):
            if n > p.max_per_state:
                out.append(Violation(MAX_PER_STATE, f"{n} parks in {s}, over {p.max_per_state}"))
    if p.min_states is not None and len(states) < p.min_states:
        out.append(Violation(MIN_STATES, f"parks in {len(states)} states, under {p.min_states}"))
    pairs = pair_lookup(p)
    parks = list(chosen)
    for x in range(len(parks)):
        for y in range(x + 1, len(parks)):
            why = spacing_clash(p, pairs, parks[x], parks[y])
            if why is not None:
                out.append(Violation(SPACING, why))
    if p.power is not None:
        for i, _ in chosen:
            load = power_load(p, chosen, i)
            budget = p.power.share * p.power.capacity_mw[i]
            if load > budget + 1e-6:
                out.append(Violation(POWER, f"the parks within {p.power.radius_km:g} km of "
                                     f"{p.label(i)} ask {load:,.0f} MW, over {p.power.share:g} x "
                                     f"{p.power.capacity_mw[i]:,.0f} MW = {budget:,.0f} MW"))
    for link in p.links:
        have = {i for i, r in chosen if r == link.dst}
        for i, r in chosen:
            if r != link.src:
                continue
            to, _ = link.reach(i)
            if not have.intersection(to.tolist()):
                out.append(Violation(link.key, f"{p.roles[r].name} park {p.label(i)} has no "
                                     f"{p.roles[link.dst].name} park within {link.max_km:g} km "
                                     f"({link.by.replace('_', ' ')})"))
    return out


def _range(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo} to {hi}"


def state_counts(problem: NetworkProblem, chosen: Sequence[Park]) -> dict[str, int]:
    """Parks per state, states in order."""
    counts = Counter(problem.states[i] for i, _ in chosen if isinstance(problem.states[i], str))
    return dict(sorted(counts.items()))
