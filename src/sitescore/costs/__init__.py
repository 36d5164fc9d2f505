"""What a site costs to make ready: unit costs (data with sources), the friction surface, least-cost
connection routes and the capital-cost model.

- `unit_costs`: the shipped table data/unit_costs.yaml and a study's own file over it, checked;
- `plan`: what of the costs section a run can price when optional layers are missing;
- `friction`: the routing grid, slope onto it, friction per pixel, features burnt as pixels;
- `routing`: one scikit-image MCP run per connection (exact, or coarse to fine on large grids),
  sampled per cell, traced back per site;
- `model`: the run's cost model, the per-cell criterion and the per-site breakdown and ranges.
"""

from .model import (
    CostModel,
    cell_costs,
    cost_constraint_criterion,
    prepare_costs,
    site_costs,
    study_costs,
    with_site_costs,
)
from .plan import CostsPlan, plan_costs
from .unit_costs import UnitCost, UnitCostTable, load_unit_costs

__all__ = ["CostModel", "CostsPlan", "UnitCost", "UnitCostTable", "cell_costs",
           "cost_constraint_criterion", "load_unit_costs", "plan_costs", "prepare_costs",
           "site_costs", "study_costs", "with_site_costs"]
