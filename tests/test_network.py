"""The network of parks (issue 14) on hand-made sites whose best network is known by hand:
the exact model against the greedy rule (cases where greedy is wrong), each constraint family,
the infeasibility diagnosis, the reasons per park, the robustness draws, the road graph; and
property tests: on random small problems the solver's network keeps every constraint and
equals the best one found by trying every assignment."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitescore.config.network import NetworkConfig
from sitescore.network.checks import violations
from sitescore.network.diagnose import infeasibility_message
from sitescore.network.explain import park_reasons
from sitescore.network.greedy import greedy_network
from sitescore.network.model import NetworkModel
from sitescore.network.problem import Role, build_problem
from sitescore.network.roads import RoadGraph
from sitescore.network.robustness import draw_scores, network_robustness
from sitescore.schema import CRS

KM = 1000.0


def sites_at(points_km, states=None, size_km=2.0) -> gpd.GeoDataFrame:
    """Square sites of `size_km` centred on (x, y) km, named s0, s1, ..."""
    h = size_km * KM / 2
    geoms = [shapely.box(x * KM - h, y * KM - h, x * KM + h, y * KM + h) for x, y in points_km]
    n = len(points_km)
    return gpd.GeoDataFrame({"site_id": np.arange(1, n + 1), "name": [f"s{i}" for i in range(n)],
                             "state": states or ["AA"] * n}, geometry=geoms, crs=CRS)


def problem_for(points_km, scores, roles, *, states=None, eligible=None, constraints=None,
                plants=None, roads=None, objective="sum_of_scores"):
    net = NetworkConfig.model_validate({
        "roles": {r.name: {"preset": "p", "count": {"min": r.count_min, "max": r.count_max},
                           "power_mw": r.power_mw, "weight": r.weight} for r in roles},
        "constraints": constraints or {}, "objective": objective})
    scores = np.asarray(scores, dtype=float)
    eligible = np.ones(scores.shape, dtype=bool) if eligible is None else np.asarray(eligible)
    return build_problem(sites_at(points_km, states), scores, eligible, roles, net,
                         plants=plants, roads=roads)


def solve(problem):
    sol = NetworkModel(problem).solve(time_limit_s=30)
    return sol


def plants_at(points_km, mw) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"capacity_mw": mw},
                            geometry=[shapely.Point(x * KM, y * KM) for x, y in points_km], crs=CRS)


# --------------------------------------------------------------------------- known answers

def spacing_case():
    """s0 is the best A site, but it sits between the only two good B sites (13 km edge to edge,
    under the 20 km spacing). Greedy takes s0 for A and is left with poor B sites."""
    points = [(0, 0), (-15, 0), (15, 0), (100, 0), (200, 0), (300, 0)]
    scores = [[0.90, 0.10], [0.10, 0.80], [0.10, 0.80], [0.85, 0.10], [0.10, 0.30], [0.10, 0.30]]
    roles = [Role("a", 1, 1, spacing_km=20), Role("b", 2, 2, spacing_km=20)]
    return problem_for(points, scores, roles)


def test_spacing_case_greedy_is_wrong_and_exact_finds_the_best_network():
    p = spacing_case()
    sol = solve(p)
    assert sol.status == "optimal"
    assert sorted(sol.chosen) == [(1, 1), (2, 1), (3, 0)]
    assert sol.objective == pytest.approx(0.85 + 0.80 + 0.80)
    greedy = greedy_network(p)
    assert sorted(greedy.chosen) == [(0, 0), (4, 1), (5, 1)]
    assert greedy.feasible and greedy.objective == pytest.approx(0.90 + 0.30 + 0.30)
    assert violations(p, sol.chosen) == []


def test_reasons_name_the_score_margin_or_the_constraint_that_bound():
    p = spacing_case()
    sol = solve(p)
    why = {(r.site, r.role): r for r in park_reasons(p, sol.chosen)}
    a = why[(3, 0)]  # s3 is the A park though s0 scores more: spacing bound
    assert a.rival == 0 and a.difference == pytest.approx(-0.05)
    assert a.bound_by == "network.constraints.min_spacing_km"
    assert "s0 (site 1) and s1 (site 2) are 13.0 km apart, under the 20 km spacing" in a.text
    b = why[(1, 1)]  # the best B site left out scores 0.30: chosen on score
    assert b.bound_by == "score" and b.difference == pytest.approx(0.50)
    assert "+0.500 over the best site left out, s4 (site 5)" in b.text


def test_role_pairs_keep_the_larger_of_their_spacings():
    """Sites 25 km apart: two A parks (spacing 10) may be, an A and a B park (B keeps 30) may not."""
    points = [(0, 0), (27, 0)]
    roles = [Role("a", 0, 2, spacing_km=10), Role("b", 0, 1, spacing_km=30)]
    p = problem_for(points, [[0.5, 0.9], [0.6, 0.1]], roles)
    sol = solve(p)
    # A at s1 with B at s0 would score 1.5, but they are 25 km apart: two A parks (1.1) or B
    # alone (0.9)
    assert sorted(sol.chosen) == [(0, 0), (1, 0)]
    fixed = problem_for(points, [[0.5, 0.9], [0.6, 0.1]], roles, constraints={"min_spacing_km": 5})
    assert sorted(solve(fixed).chosen) == [(0, 1), (1, 0)]


def test_sites_sharing_land_never_both_hold_parks_even_without_spacing():
    points = [(0, 0), (1, 0)]  # 2 km squares 1 km apart overlap
    roles = [Role("a", 0, 2, spacing_km=0)]
    p = problem_for(points, [[0.9], [0.8]], roles)
    assert p.pair_shared.tolist() == [True]
    assert solve(p).chosen == [(0, 0)]


def test_state_limit_and_spread():
    """Every good site is in AA; one park must go to BB, and AA holds at most two."""
    points = [(0, 0), (50, 0), (100, 0), (150, 0), (400, 0)]
    states = ["AA", "AA", "AA", "AA", "BB"]
    scores = [[0.9], [0.9], [0.9], [0.9], [0.2]]
    roles = [Role("a", 1, 4)]
    p = problem_for(points, scores, roles, states=states, constraints={"max_per_state": 2})
    sol = solve(p)
    assert len(sol.chosen) == 3 and (4, 0) in sol.chosen
    p2 = problem_for(points, scores, roles, states=states, constraints={"min_states": 2})
    sol2 = solve(p2)
    # at most 4 parks: three in AA and BB's, which brings the second state
    assert len(sol2.chosen) == 4 and (4, 0) in sol2.chosen
    assert sol2.objective == pytest.approx(3 * 0.9 + 0.2)
    p3 = problem_for(points, [[0.9], [0.9], [0.9], [0.9], [-0.1]], [Role("a", 1, 2)],
                     states=states, constraints={"min_states": 2})
    assert (4, 0) in solve(p3).chosen  # even at a loss, BB is needed


def test_power_budget_keeps_two_big_loads_off_one_plant():
    """One 4,000 MW plant: a quarter of it is 1,000 MW, one campus's load. The second campus
    goes where a 6,000 MW plant is, though its site scores less."""
    points = [(0, 0), (40, 0), (600, 0)]
    roles = [Role("dc", 2, 2, power_mw=1000)]
    plants = plants_at([(20, 0), (600, 10)], [4000, 6000])
    p = problem_for(points, [[0.9], [0.8], [0.3]], roles,
                    constraints={"power_share": 0.25, "power_radius_km": 150}, plants=plants)
    assert p.power.capacity_mw.tolist() == [4000, 4000, 6000]
    sol = solve(p)
    assert sorted(sol.chosen) == [(0, 0), (2, 0)]
    assert violations(p, [(0, 0), (1, 0)])[0].key == "network.constraints.power_share"
    why = {(r.site, r.role): r for r in park_reasons(p, sol.chosen)}[(2, 0)]
    assert why.bound_by == "network.constraints.power_share"
    assert "ask 2,000 MW, over 0.25 x 4,000 MW = 1,000 MW" in why.text


def test_links_every_fab_has_a_supplier_in_reach():
    """The best fab site has no supplier within 50 km; the second best has one."""
    points = [(0, 0), (300, 0), (330, 0), (600, 0)]
    scores = [[0.95, 0.0], [0.70, 0.0], [0.0, 0.6], [0.0, 0.9]]
    eligible = [[1, 0], [1, 0], [0, 1], [0, 1]]
    roles = [Role("fab", 1, 1), Role("sc", 1, 1)]
    links = {"links": [{"from": "fab", "to": "sc", "max_km": 50, "by": "straight_line"}]}
    p = problem_for(points, scores, roles, eligible=eligible, constraints=links)
    assert p.links[0].km_between(1, 2) == pytest.approx(30.0)
    assert p.links[0].km_between(0, 2) is None
    sol = solve(p)
    assert sorted(sol.chosen) == [(1, 0), (2, 1)]
    assert sol.objective == pytest.approx(1.3)


def test_weighted_by_role_objective():
    points = [(0, 0), (100, 0)]
    roles = [Role("a", 0, 1, weight=1.0), Role("b", 0, 1, weight=3.0)]
    scores = [[0.9, 0.6], [0.1, 0.1]]
    plain = solve(problem_for(points, scores, roles))
    assert sorted(plain.chosen) == [(0, 0), (1, 1)] and plain.objective == pytest.approx(1.0)
    weighted = solve(problem_for(points, scores, roles, objective="weighted_by_role"))
    assert sorted(weighted.chosen) == [(0, 1), (1, 0)]
    assert weighted.objective == pytest.approx(3 * 0.6 + 0.1)


# --------------------------------------------------------------------------- infeasible

def test_infeasible_network_names_the_constraints_that_cannot_hold_together():
    points = [(0, 0), (100, 0), (200, 0)]
    roles = [Role("a", 2, 3)]
    p = problem_for(points, [[0.5]] * 3, roles, states=["AA", "AA", "BB"],
                    constraints={"min_states": 3})
    assert solve(p).status == "infeasible"
    message, key = infeasibility_message(p)
    assert key == "network.constraints.min_states"
    assert "network.constraints.min_states" in message and "network.roles.a.count" not in message
    assert "candidates lie in 2" in message


def test_infeasible_by_two_families_together_names_the_pairs():
    """Role a needs two parks on sites 5 km apart (spacing 20 km); role b two parks in one state
    holding at most one: no single relaxation is enough, pairs are."""
    points = [(0, 0), (7, 0), (300, 0), (400, 0)]
    eligible = [[1, 0], [1, 0], [0, 1], [0, 1]]
    roles = [Role("a", 2, 2, spacing_km=20), Role("b", 2, 2, spacing_km=20)]
    p = problem_for(points, [[0.5, 0]] * 2 + [[0, 0.5]] * 2, roles, eligible=eligible,
                    states=["AA", "CC", "BB", "BB"], constraints={"max_per_state": 1})
    message, _ = infeasibility_message(p)
    assert "no single one is the cause" in message
    pairs = message.split(": ", 1)[1].split("; ")
    assert any("(network.constraints.max_per_state)" in x and
               "(network.constraints.min_spacing_km)" in x for x in pairs), pairs
    assert any("(network.roles.a.count)" in x and "(network.roles.b.count)" in x for x in pairs)
    assert "at most 1 park per state" in message


def test_a_role_no_site_qualifies_for_is_infeasible_before_solving():
    p = problem_for([(0, 0)], [[0.5, 0.5]], [Role("a", 0, 1), Role("b", 1, 1)],
                    eligible=[[1, 0]])
    model = NetworkModel(p)
    assert model.impossible and model.solve().status == "infeasible"


# --------------------------------------------------------------------------- robustness

def test_robustness_counts_the_draws_a_park_stays_in():
    p = spacing_case()
    model = NetworkModel(p)
    sol = model.solve()
    # two criteria per role whose values agree: any weights give the same scores
    values = {"a": np.column_stack([p.scores[:, 0], p.scores[:, 0]]),
              "b": np.column_stack([p.scores[:, 1], p.scores[:, 1]])}
    weights = {"a": np.array([0.5, 0.5]), "b": np.array([0.5, 0.5])}
    from sitescore.config import SensitivityConfig
    scores = draw_scores(values, weights, {"a": "weighted_sum", "b": "weighted_sum"}, ["a", "b"],
                         SensitivityConfig(draws=12, seed=3))
    assert scores.shape == (12, 6, 2)
    rob = network_robustness(model, sol.chosen, scores, time_limit_s=10, mip_rel_gap=1e-6)
    assert rob.solved == 12 and set(rob.p_stay.values()) == {1.0}
    # one park, two sites each best on one criterion: under uniform weights it flips
    two = problem_for([(0, 0), (100, 0)], [[0.5], [0.5]], [Role("a", 1, 1)])
    model = NetworkModel(two)
    values = {"a": np.array([[0.9, 0.1], [0.1, 0.9]])}
    scores = draw_scores(values, {"a": np.array([0.5, 0.5])}, {"a": "weighted_sum"}, ["a"],
                         SensitivityConfig(draws=40, seed=3, weights="uniform"))
    rob = network_robustness(model, [(0, 0)], scores, time_limit_s=10, mip_rel_gap=1e-6)
    w = scores[:, 0, 0] > scores[:, 1, 0]
    assert rob.p_stay[(0, 0)] == pytest.approx(w.mean()) and 0 < w.mean() < 1


# --------------------------------------------------------------------------- roads

def test_road_distance_follows_the_lines_and_joins_near_ends():
    # an L: east 100 km, then north 100 km; the second line starts 20 m off the first's end
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (100 * KM, 0)]),
                                       shapely.LineString([(100 * KM + 20, 0), (100 * KM, 100 * KM)])],
                             crs=CRS)
    g = RoadGraph.from_lines(lines)
    assert g.n_vertices == 4
    src = np.array([[0.0, 5 * KM]])            # 5 km off the road's start
    dst = np.array([[105 * KM, 100 * KM]])     # 5 km off its end
    i, j, m = g.distances(src, dst, 300 * KM)
    assert (i.tolist(), j.tolist()) == ([0], [0])
    road = 5 * KM + 100 * KM + 20 + np.hypot(20, 100 * KM) + 5 * KM
    assert m[0] == pytest.approx(road, rel=1e-9)
    assert g.distances(src, dst, 200 * KM)[0].size == 0  # beyond the limit
    line, metres = g.route(src[0], dst[0])
    assert metres == pytest.approx(road) and line.length == pytest.approx(road)


def test_freeway_links_measured_on_the_graph_and_straight_without_it():
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (0, 80 * KM), (60 * KM, 80 * KM),
                                                           (60 * KM, 0)])], crs=CRS)
    roads = RoadGraph.from_lines(lines)
    points = [(0, 0), (60, 0)]  # 60 km apart, 220 km by the road
    roles = [Role("fab", 1, 1), Role("sc", 1, 1)]
    eligible = [[1, 0], [0, 1]]
    link = {"links": [{"from": "fab", "to": "sc", "max_km": 100, "by": "freeway"}]}
    on_road = problem_for(points, [[0.5, 0], [0, 0.5]], roles, eligible=eligible,
                          constraints=link, roads=roads)
    assert on_road.links[0].by == "freeway" and len(on_road.links[0].pair_from) == 0
    assert solve(on_road).status == "infeasible"
    straight = problem_for(points, [[0.5, 0], [0, 0.5]], roles, eligible=eligible,
                           constraints=link)
    assert straight.links[0].by == "straight_line"
    assert straight.links[0].km_between(0, 1) == pytest.approx(60.0)


# --------------------------------------------------------------------------- properties

@st.composite
def small_problems(draw):
    n = draw(st.integers(2, 6))
    xs = draw(st.lists(st.integers(0, 120), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    states = draw(st.lists(st.sampled_from(["AA", "BB", "CC"]), min_size=n, max_size=n))
    scores = draw(st.lists(st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=2),
                           min_size=n, max_size=n))
    eligible = draw(st.lists(st.lists(st.booleans(), min_size=2, max_size=2), min_size=n,
                             max_size=n))
    lo = [draw(st.integers(0, 2)) for _ in range(2)]
    hi = [max(lo[k], 1) + draw(st.integers(0, 1)) for k in range(2)]
    roles = [Role("a", lo[0], hi[0], power_mw=draw(st.sampled_from([0, 300])),
                  spacing_km=draw(st.sampled_from([0, 15, 40]))),
             Role("b", lo[1], hi[1], power_mw=draw(st.sampled_from([0, 1000])),
                  spacing_km=draw(st.sampled_from([0, 20])))]
    constraints = {}
    if draw(st.booleans()):
        constraints["max_per_state"] = draw(st.integers(1, 2))
    if draw(st.booleans()):
        constraints["min_states"] = draw(st.integers(1, 2))
    if draw(st.booleans()):
        constraints |= {"power_share": 0.25, "power_radius_km": 50}
    if draw(st.booleans()):
        constraints["links"] = [{"from": "a", "to": "b", "max_km": draw(st.sampled_from([30, 80])),
                                 "by": "straight_line"}]
    plants = plants_at([(30, 30), (100, 10)], [draw(st.sampled_from([1000, 5000])), 3000])
    return problem_for(list(zip(xs, ys, strict=True)), scores, roles, states=states,
                       eligible=eligible, constraints=constraints, plants=plants)


def brute_force(p):
    """The best network by trying every assignment of no role / a role to each site."""
    best, best_value = None, -np.inf
    options = [[None] + [r for r in range(len(p.roles)) if p.eligible[i, r]] for i in range(p.n_sites)]
    for combo in itertools.product(*options):
        chosen = [(i, r) for i, r in enumerate(combo) if r is not None]
        if violations(p, chosen):
            continue
        v = p.value(chosen)
        if v > best_value + 1e-12:
            best, best_value = chosen, v
    return best, best_value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems())
def test_every_returned_network_keeps_every_constraint_and_is_optimal(p):
    sol = NetworkModel(p).solve(time_limit_s=30)
    best, value = brute_force(p)
    if best is None:
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal"
    assert violations(p, sol.chosen) == []
    assert sol.objective == pytest.approx(value, abs=1e-6)
    greedy = greedy_network(p)
    assert greedy.feasible == (violations(p, greedy.chosen) == [])
    if greedy.feasible:
        assert greedy.objective <= sol.objective + 1e-9
