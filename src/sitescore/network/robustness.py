"""How sure is the network: the share of Monte Carlo weight draws in which each park stays.

Each role's weights are drawn as `sensitivity` draws them (Dirichlet around the preset's weights
or uniform on the simplex, `sensitivity.draw_weights`), one independent stream per role from the
seed; the candidates are re-scored under the drawn weights (`sensitivity.batch_scores`, the
role's aggregation) and the network solved again on the same constraints. A park stays when
the same site holds the same role; `p_in_network` counts the site in any role.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..config import SensitivityConfig
from ..sensitivity import batch_scores, draw_weights
from .checks import Park
from .model import NetworkModel


@dataclass
class Robustness:
    draws: int
    p_stay: dict[Park, float]
    p_in_network: dict[int, float]
    solved: int
    seconds: float

    def record(self) -> dict[str, object]:
        return {"draws": self.draws, "solved": self.solved, "seconds": round(self.seconds, 3)}


def draw_scores(values: dict[str, np.ndarray], weights: dict[str, np.ndarray],
                methods: dict[str, str], roles: list[str], sens: SensitivityConfig
                ) -> np.ndarray:
    """(draws x sites x roles) scores under drawn weights, one random stream per role."""
    streams = np.random.SeedSequence(sens.seed).spawn(len(roles))
    n = next(iter(values.values())).shape[0] if values else 0
    out = np.zeros((sens.draws, n, len(roles)))
    for k, (name, seq) in enumerate(zip(roles, streams, strict=True)):
        w = draw_weights(weights[name], sens, np.random.Generator(np.random.PCG64(seq)))
        out[:, :, k] = batch_scores(np.nan_to_num(values[name]), w, methods[name])
    return out


def network_robustness(model: NetworkModel, chosen: list[Park], scores: np.ndarray, *,
                       time_limit_s: float, mip_rel_gap: float) -> Robustness:
    """Solve the network once per draw of `scores` (draws x sites x roles) and count."""
    import time

    t0 = time.perf_counter()
    stays: Counter[Park] = Counter()
    sites: Counter[int] = Counter()
    solved = 0
    for d in range(scores.shape[0]):
        sol = model.solve(scores[d], time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)
        if not sol.feasible:
            continue
        solved += 1
        picked = set(sol.chosen)
        stays.update(p for p in chosen if p in picked)
        in_net = {i for i, _ in sol.chosen}
        sites.update(i for i, _ in chosen if i in in_net)
    n = max(scores.shape[0], 1)
    return Robustness(scores.shape[0], {p: stays[p] / n for p in chosen},
                      {i: sites[i] / n for i, _ in chosen}, solved, time.perf_counter() - t0)
