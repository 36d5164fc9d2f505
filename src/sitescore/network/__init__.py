"""A network of specialised parks, chosen exactly (`sitescore network`, issue 14).

The plan is not one mega-site but parks of several kinds (fabs, supplier parks, data centres)
that must fit together: role counts, states, spacing, shared generation, links by road. Each
candidate site is scored under every role's preset, and the choice is solved as a
mixed-integer programme (HiGHS through `scipy.optimize.milp`), beside the greedy answer a
spreadsheet would give.

Parts, each importing only those before it and the stages below the network:

- ``roles``: each role's study (the config with its preset), the one study measuring them all;
- ``candidates``: each role's pass over the measured cells, the pool of sites scored per role;
- ``roads``: the freeway lines as a graph, road distances between sites;
- ``problem``: the sites, scores and every constraint's terms as arrays (`build_problem`);
- ``model``: the programme and its solve; ``checks``: does a network keep every constraint;
- ``greedy``: the best site per role in turn; ``diagnose``: which constraints cannot hold
  together; ``explain``: why each park over the best site left out; ``robustness``: parks
  that stay under Monte Carlo weight draws;
- ``tables``: parks, links, candidates; ``outputs``: their files, the map, the report, the
  manifest; ``run``: `compute_network` and `run_network`.
"""

from .model import NetworkModel, Solution
from .problem import NetworkProblem, Role, build_problem
from .run import NetworkResult, compute_network, run_network

__all__ = ["NetworkModel", "NetworkProblem", "NetworkResult", "Role", "Solution", "build_problem",
           "compute_network", "run_network"]
