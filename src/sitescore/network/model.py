"""The exact choice: the network as a mixed-integer programme, solved by HiGHS through
`scipy.optimize.milp`.

One binary x[i, r] per site i and role r it qualifies for (a park of role r at site i), and for
`min_states` one binary per state (the state holds a park). Rows:

- one role per site: sum_r x[i, r] <= 1;
- role counts: min_r <= sum_i x[i, r] <= max_r;
- state limits: the parks of a state <= max_per_state; spread: z[s] <= the parks of state s,
  sum_s z[s] >= min_states;
- spacing: two sites too close for parks of roles a and b (or sharing land) never hold both;
- power: for every site i, the load of the parks within power_radius_km of it (itself included)
  <= power_share x the capacity there, once i holds a park (a big-M row, M as small as the
  counts allow; rows that cannot bind are left out);
- links: x[i, from] <= the parks of role `to` in reach of i.

Maximise the parks' summed scores (weighted by role with `weighted_by_role`). `relax` drops
constraint families, each named by its config key, for the infeasibility diagnosis.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from .problem import NetworkProblem

SOLVER = f"HiGHS (scipy.optimize.milp, scipy {scipy.__version__})"
#: scipy.optimize.milp's status codes, as a planner reads them.
STATUS = {0: "optimal", 1: "time limit", 2: "infeasible", 3: "unbounded", 4: "solver error"}


def count_key(role: str) -> str:
    return f"network.roles.{role}.count"


MAX_PER_STATE = "network.constraints.max_per_state"
MIN_STATES = "network.constraints.min_states"
POWER = "network.constraints.power_share"
SPACING = "network.constraints.min_spacing_km"


@dataclass
class Solution:
    """What a solve found: the parks as (site, role) pairs, and how sure the solver is."""

    status: str
    chosen: list[tuple[int, int]]
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    size: dict[str, int] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.objective is not None

    def record(self) -> dict[str, Any]:
        return {"status": self.status, "objective": self.objective, "bound": self.bound,
                "gap": self.gap, "seconds": round(self.seconds, 3), "parks": len(self.chosen),
                "model": self.size, "solver": SOLVER}


class _Rows:
    """Sparse rows built one at a time: lb <= sum(coef * x[var]) <= ub."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lb: list[float] = []
        self.ub: list[float] = []

    def add(self, cols: Iterable[int] | np.ndarray, coefs: Iterable[float] | np.ndarray | float,
            lb: float, ub: float) -> None:
        cols = np.asarray(list(cols) if not isinstance(cols, np.ndarray) else cols, dtype=np.int64)
        if len(cols) == 0:
            return
        coefs = np.broadcast_to(np.asarray(coefs, dtype=float), cols.shape)
        self.r.append(np.full(len(cols), len(self.lb), dtype=np.int64))
        self.c.append(cols)
        self.v.append(np.array(coefs, dtype=float))
        self.lb.append(lb)
        self.ub.append(ub)

    def matrix(self, n_vars: int) -> tuple[csr_matrix, np.ndarray, np.ndarray]:
        if not self.lb:
            return csr_matrix((0, n_vars)), np.zeros(0), np.zeros(0)
        a = csr_matrix((np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
                       shape=(len(self.lb), n_vars))
        a.sum_duplicates()
        return a, np.array(self.lb), np.array(self.ub)


class NetworkModel:
    """The programme for one problem, built once; `solve` may be called with other scores
    (Monte Carlo weight draws) on the same rows."""

    def __init__(self, problem: NetworkProblem, relax: Iterable[str] = ()) -> None:
        self.problem = problem
        self.relax = frozenset(relax)
        p = problem
        self.var_site, self.var_role = np.nonzero(p.eligible)
        n_x = len(self.var_site)
        self.var_of = np.full(p.eligible.shape, -1, dtype=np.int64)
        self.var_of[self.var_site, self.var_role] = np.arange(n_x)
        states = sorted({s for s in p.states if isinstance(s, str)})
        self.states = states
        use_spread = p.min_states is not None and MIN_STATES not in self.relax
        self.n_vars = n_x + (len(states) if use_spread else 0)
        rows = _Rows()
        #: a role needing parks where no site qualifies: infeasible before any solve
        self.impossible = False
        self._one_role(rows)
        self._counts(rows)
        self._states(rows, use_spread, n_x)
        if SPACING not in self.relax:
            self._spacing(rows)
        if p.power is not None and POWER not in self.relax:
            self._power(rows)
        for link in p.links:
            if link.key not in self.relax:
                self._link(rows, link)
        self.a, self.lb, self.ub = rows.matrix(self.n_vars)

    # ----------------------------------------------------------------------------- rows

    def _site_vars(self, i: int) -> np.ndarray:
        v = self.var_of[i]
        return v[v >= 0]

    def _one_role(self, rows: _Rows) -> None:
        for i in np.flatnonzero(self.problem.eligible.sum(axis=1) > 1):
            rows.add(self._site_vars(int(i)), 1.0, -np.inf, 1.0)

    def _counts(self, rows: _Rows) -> None:
        for r, role in enumerate(self.problem.roles):
            low = 0 if count_key(role.name) in self.relax else role.count_min
            cols = np.flatnonzero(self.var_role == r)
            if len(cols) == 0:
                self.impossible |= low > 0  # no site qualifies: 0 >= min cannot hold
                continue
            rows.add(cols, 1.0, low, role.count_max)

    def _states(self, rows: _Rows, use_spread: bool, n_x: int) -> None:
        p = self.problem
        site_state = p.states[self.var_site]
        for k, s in enumerate(self.states):
            cols = np.flatnonzero(site_state == s)
            if p.max_per_state is not None and MAX_PER_STATE not in self.relax:
                rows.add(cols, 1.0, -np.inf, p.max_per_state)
            if use_spread:
                rows.add(np.r_[n_x + k, cols], np.r_[1.0, -np.ones(len(cols))], -np.inf, 0.0)
        if use_spread:
            self.impossible |= len(self.states) < (p.min_states or 0)  # too few states at all
            rows.add(np.arange(n_x, n_x + len(self.states)), 1.0, float(p.min_states or 0), np.inf)

    def _spacing(self, rows: _Rows) -> None:
        p = self.problem
        n_roles = len(p.roles)
        for k in range(len(p.pair_i)):
            i, j = int(p.pair_i[k]), int(p.pair_j[k])
            vi, vj = self.var_of[i], self.var_of[j]
            if not ((vi >= 0).any() and (vj >= 0).any()):
                continue
            conflicts = [(a, b) for a in range(n_roles) for b in range(n_roles)
                         if vi[a] >= 0 and vj[b] >= 0 and p.too_close(k, a, b)]
            if not conflicts:
                continue
            if len(conflicts) == int((vi >= 0).sum() * (vj >= 0).sum()):
                rows.add(np.r_[vi[vi >= 0], vj[vj >= 0]], 1.0, -np.inf, 1.0)
                continue
            # only some role pairs clash: one row per role whose own spacing the pair breaks
            done: set[tuple[int, int]] = set()
            for a in range(n_roles):
                if vi[a] >= 0:
                    clash_b = [b for (aa, b) in conflicts if aa == a]
                    if len(clash_b) > 0 and not all((a, b) in done for b in clash_b):
                        rows.add(np.r_[vi[a], vj[clash_b]], 1.0, -np.inf, 1.0)
                        done.update((a, b) for b in clash_b)
                if vj[a] >= 0:
                    clash_a = [aa for (aa, b) in conflicts if b == a and (aa, b) not in done]
                    if clash_a:
                        rows.add(np.r_[vj[a], vi[clash_a]], 1.0, -np.inf, 1.0)
                        done.update((aa, a) for aa in clash_a)

    def _power(self, rows: _Rows) -> None:
        p = self.problem
        assert p.power is not None
        demand = np.array([r.power_mw for r in p.roles])
        counts_max = np.array([r.count_max for r in p.roles])
        for i in range(p.n_sites):
            own = self._site_vars(i)
            if len(own) == 0:
                continue
            near = p.power.neighbours(i)
            v = self.var_of[near]
            cols = v[v >= 0]
            coefs = demand[self.var_role[cols]]
            cols, coefs = cols[coefs > 0], coefs[coefs > 0]
            if len(cols) == 0:
                continue
            budget = p.power.share * p.power.capacity_mw[i]
            per_role = np.bincount(self.var_role[cols], minlength=len(p.roles))
            most = float(np.sum(np.minimum(per_role, counts_max) * demand))
            if most <= budget + 1e-9:
                continue  # the parks there can never ask more than the budget
            big_m = most - budget
            all_cols = np.r_[cols, own]
            all_coefs = np.r_[coefs, np.full(len(own), big_m)]
            rows.add(all_cols, all_coefs, -np.inf, budget + big_m)

    def _link(self, rows: _Rows, link: Any) -> None:
        src = np.flatnonzero(self.var_role == link.src)
        for x in src:
            i = int(self.var_site[x])
            to, _ = link.reach(i)
            v = self.var_of[to, link.dst]
            v = v[v >= 0]
            rows.add(np.r_[x, v], np.r_[1.0, -np.ones(len(v))], -np.inf, 0.0)

    # ----------------------------------------------------------------------------- solve

    @property
    def size(self) -> dict[str, int]:
        return {"variables": int(self.n_vars), "binaries": int(self.n_vars),
                "constraints": int(self.a.shape[0]), "nonzeros": int(self.a.nnz),
                "sites": int(self.problem.n_sites), "roles": len(self.problem.roles)}

    def solve(self, scores: np.ndarray | None = None, *, time_limit_s: float = 120.0,
              mip_rel_gap: float = 1e-6) -> Solution:
        """Solve for the problem's scores (or `scores`, sites x roles, on the same rows)."""
        p = self.problem
        s = p.scores if scores is None else np.asarray(scores, dtype=float)
        t0 = time.perf_counter()
        if self.impossible:
            return Solution("infeasible", [], None, None, None, time.perf_counter() - t0, self.size)
        if self.n_vars == 0:  # no site qualifies for any role, and none is needed
            return Solution("optimal", [], 0.0, 0.0, 0.0, time.perf_counter() - t0, self.size)
        c = np.zeros(self.n_vars)
        n_x = len(self.var_site)
        c[:n_x] = -(p.objective_weights()[self.var_role] * s[self.var_site, self.var_role])
        constraints = [LinearConstraint(self.a, self.lb, self.ub)] if self.a.shape[0] else []
        res = milp(c, constraints=constraints, integrality=np.ones(self.n_vars),
                   bounds=Bounds(0, 1),
                   options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap, "disp": False})
        seconds = time.perf_counter() - t0
        status = STATUS.get(res.status, "solver error")
        if res.x is None:
            return Solution("infeasible" if res.status in (0, 2) else status, [], None, None,
                            None, seconds, self.size)
        on = np.flatnonzero(np.round(res.x[:n_x]) > 0.5)
        chosen = sorted(((int(self.var_site[k]), int(self.var_role[k])) for k in on),
                        key=lambda ir: (ir[1], -s[ir[0], ir[1]], int(p.site_ids[ir[0]])))
        objective = p.value(chosen, s)
        bound = -float(res.mip_dual_bound) if getattr(res, "mip_dual_bound", None) is not None \
            else None
        gap = float(res.mip_gap) if getattr(res, "mip_gap", None) is not None else None
        return Solution(status, chosen, objective, bound, gap, seconds, self.size)
