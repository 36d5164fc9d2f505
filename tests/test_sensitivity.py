"""Sensitivity: Monte Carlo rank uncertainty, one-at-a-time sweeps, distance to a flip.

Hand-made site matrices with answers worked out on paper, statistical checks of the weight
draws (fixed seeds, tolerances), and one run on the synthetic demo."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sitescore import mcda
from sitescore.config import SensitivityConfig, ValueFunction, load_config
from sitescore.scoring import apply_value_function
from sitescore.sensitivity import (
    CriterionCells,
    SiteMatrix,
    base_ranking,
    batch_scores,
    dirichlet_concentration,
    draw_weights,
    flip_summary,
    monte_carlo,
    ranks_of,
    scaled_weights,
    site_matrix,
    sweep_charts,
    weight_sweeps,
    weight_to_flip,
)

METHODS = ["weighted_sum", "weighted_product", "topsis"]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def two_sites() -> SiteMatrix:
    """A (id 1) leads on c1, B (id 2) on c2, A slightly on c3; C (id 3) trails everywhere.

    Weights 0.5/0.3/0.2. Base scores A 0.63, B 0.54, C 0.1. Scaling c1 by f (weighted sum; the
    renormalisation divides both sides alike): A - B = 0.25 f - 0.18 + 0.02 -> 0 at f = 0.64.
    Scaling c2 by g: A - B = 0.25 + 0.02 - 0.18 g -> 0 at g = 1.5. Scaling c3 by h:
    0.07 + 0.02 h > 0 for every h: no flip."""
    return SiteMatrix(site_ids=np.array([1, 2, 3]), names=["A", "B", "C"],
                      values=np.array([[0.9, 0.2, 0.6], [0.4, 0.8, 0.5], [0.1, 0.1, 0.1]]),
                      weights=np.array([0.5, 0.3, 0.2]), criteria=["c1", "c2", "c3"])


def dominated(seed: int = 3, n: int = 12, m: int = 5) -> SiteMatrix:
    """Site 99 is best on every criterion; the others are random below it."""
    g = rng(seed)
    values = np.vstack([g.uniform(0.0, 0.9, (n - 1, m)), np.full((1, m), 0.95)])
    ids = np.r_[np.arange(1, n), 99]
    return SiteMatrix(site_ids=ids, names=[f"s{i}" for i in ids], values=values,
                      weights=g.dirichlet(np.ones(m)))


# ---------------------------------------------------------------------------------------------
# the site matrix and the scores
# ---------------------------------------------------------------------------------------------

def test_site_matrix_normalises_weights_and_orders_rows_by_site_id():
    sm = SiteMatrix(site_ids=np.array([5, 2, 9]), names=["e", "b", "i"],
                    values=np.array([[0.5, 0.5], [0.2, 0.2], [0.9, 0.9]]), weights=np.array([2.0, 6.0]))
    np.testing.assert_allclose(sm.weights, [0.25, 0.75])
    assert list(sm.site_ids) == [2, 5, 9] and sm.names == ["b", "e", "i"]
    np.testing.assert_allclose(sm.values[:, 0], [0.2, 0.5, 0.9])
    with pytest.raises(ValueError, match="one entry per criterion"):
        SiteMatrix(site_ids=[1], names=["a"], values=[[0.5, 0.5]], weights=[1.0])
    with pytest.raises(ValueError, match="not all zero"):
        SiteMatrix(site_ids=[1], names=["a"], values=[[0.5]], weights=[0.0])


@pytest.mark.parametrize("method", METHODS)
def test_batch_scores_equal_mcda_aggregate_draw_by_draw(method):
    g = rng(11)
    values = g.uniform(0, 1, (40, 6))
    values[3, 2] = 0.0          # the weighted product's floor
    values[:, 4] = 0.7          # a constant column (TOPSIS: adds nothing)
    w = g.dirichlet(np.ones(6), size=25)
    w[0] = [0.5, 0.5, 0, 0, 0, 0]
    got2 = batch_scores(values, w, method)
    stacked = values[None] * g.uniform(0.8, 1.0, (25, 1, 6))
    got3 = batch_scores(stacked, w, method)
    for d in range(len(w)):
        np.testing.assert_allclose(got2[d], mcda.aggregate(values, w[d], method), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got3[d], mcda.aggregate(stacked[d], w[d], method), rtol=1e-12, atol=1e-14)


def test_equal_scores_rank_by_site_id_and_excluded_sites_last():
    scores = np.array([[0.5, 0.7, 0.5, 0.7]])
    assert ranks_of(scores).tolist() == [[3, 1, 4, 2]]
    assert ranks_of(scores, np.array([False, True, False, False])).tolist() == [[2, 4, 3, 1]]
    # a rounding-level difference is a tie
    assert ranks_of(np.array([[0.3 + 1e-15, 0.3]])).tolist() == [[1, 2]]
    assert ranks_of(np.array([[0.3, 0.3 + 1e-15]])).tolist() == [[1, 2]]
    twins = SiteMatrix(site_ids=[7, 4], names=["x", "y"], values=[[0.6, 0.2], [0.6, 0.2]],
                       weights=[0.5, 0.5])
    mc = monte_carlo(twins, SensitivityConfig(draws=50, top_k=1), "weighted_sum")
    assert mc.set_index("site_id").loc[4, "p_top_k"] == 1.0
    assert mc.set_index("site_id").loc[7, "p_top_k"] == 0.0


# ---------------------------------------------------------------------------------------------
# weight draws
# ---------------------------------------------------------------------------------------------

def test_dirichlet_draws_have_the_requested_mean_and_cv():
    w = np.array([0.4, 0.3, 0.2, 0.1])
    spread = 0.2
    cfg = SensitivityConfig(draws=200_000, weights="dirichlet", spread=spread)
    draws = draw_weights(w, cfg, rng(1))
    np.testing.assert_allclose(draws.sum(axis=1), 1.0, atol=1e-12)
    assert (draws >= 0).all()
    np.testing.assert_allclose(draws.mean(axis=0), w, rtol=0.005)
    alpha = dirichlet_concentration(w, spread)
    assert alpha == pytest.approx(3 / spread ** 2 - 1)
    expected_cv = np.sqrt((1 - w) / (w * (alpha + 1)))
    cv = draws.std(axis=0) / draws.mean(axis=0)
    np.testing.assert_allclose(cv, expected_cv, rtol=0.02)
    # equal weights: every weight's CV is the spread
    eq = draw_weights(np.full(5, 0.2), SensitivityConfig(draws=100_000, spread=0.3), rng(2))
    np.testing.assert_allclose(eq.std(axis=0) / eq.mean(axis=0), 0.3, rtol=0.02)


def test_dirichlet_and_uniform_keep_zero_weights_at_zero():
    w = np.array([0.5, 0.0, 0.3, 0.2, 0.0])
    for kind in ("dirichlet", "uniform"):
        draws = draw_weights(w, SensitivityConfig(draws=1000, weights=kind), rng(4))
        assert (draws[:, [1, 4]] == 0).all()
        np.testing.assert_allclose(draws.sum(axis=1), 1.0, atol=1e-12)
    single = draw_weights(np.array([0.0, 1.0, 0.0]), SensitivityConfig(draws=10), rng(0))
    assert (single == [0.0, 1.0, 0.0]).all()


def test_uniform_draws_are_uniform_on_the_simplex():
    m = 4
    draws = draw_weights(np.array([0.7, 0.1, 0.1, 0.1]),
                         SensitivityConfig(draws=100_000, weights="uniform"), rng(5))
    assert (draws >= 0).all()
    np.testing.assert_allclose(draws.sum(axis=1), 1.0, atol=1e-12)
    # marginals of Dirichlet(1, ..., 1) are Beta(1, m - 1): mean 1/m, variance (m-1)/(m^2 (m+1))
    np.testing.assert_allclose(draws.mean(axis=0), 1 / m, rtol=0.01)
    np.testing.assert_allclose(draws.var(axis=0), (m - 1) / (m ** 2 * (m + 1)), rtol=0.03)
    # P(w_1 > 1/2) = (1/2)^(m-1) on the uniform simplex
    assert (draws[:, 0] > 0.5).mean() == pytest.approx(0.5 ** (m - 1), abs=0.005)


def test_a_spread_beyond_reach_is_held_at_the_minimum_concentration():
    assert dirichlet_concentration(np.array([0.5, 0.5]), 2.0) == pytest.approx(0.01)
    draws = draw_weights(np.array([0.5, 0.5]), SensitivityConfig(draws=100, spread=2.0), rng(0))
    assert np.isfinite(draws).all()


# ---------------------------------------------------------------------------------------------
# Monte Carlo
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["dirichlet", "uniform"])
def test_a_dominant_site_is_always_first(method, kind):
    sm = dominated()
    mc = monte_carlo(sm, SensitivityConfig(draws=300, weights=kind, spread=1.0, top_k=1), method)
    top = mc.set_index("site_id").loc[99]
    assert top["p_top_k"] == 1.0
    assert top["median_rank"] == top["rank_p05"] == top["rank_p95"] == 1
    assert top["base_rank"] == 1
    assert mc["p_top_k"].sum() == pytest.approx(1.0)  # exactly one site is first in each draw


def test_monte_carlo_table_is_sane_and_ordered_by_base_rank():
    sm = dominated(seed=8, n=30, m=6)
    mc = monte_carlo(sm, SensitivityConfig(draws=500, top_k=5, spread=0.5), "weighted_sum")
    assert list(mc.columns) == ["site_id", "name", "base_rank", "base_score", "p_top_k",
                                "median_rank", "rank_p05", "rank_p95", "mean_score"]
    assert mc["base_rank"].tolist() == list(range(1, 31))
    assert mc["p_top_k"].between(0, 1).all()
    assert mc["p_top_k"].sum() == pytest.approx(5.0)  # five sites are in the top 5 in each draw
    assert ((mc["rank_p05"] <= mc["median_rank"]) & (mc["median_rank"] <= mc["rank_p95"])).all()
    assert mc["median_rank"].between(1, 30).all()
    assert mc.attrs["top_k"] == 5 and mc.attrs["draws"] == 500


def test_rank_quantiles_are_numpys_order_statistics():
    """The histogram quantiles equal np.quantile(..., method='inverted_cdf') of the rank draws."""
    sm = dominated(seed=2, n=9, m=4)
    cfg = SensitivityConfig(draws=401, spread=0.8, seed=3, top_k=3)
    mc = monte_carlo(sm, cfg, "weighted_sum").set_index("site_id").loc[sm.site_ids]
    w_seq, _ = np.random.SeedSequence(cfg.seed).spawn(2)
    w = draw_weights(sm.weights, cfg, np.random.Generator(np.random.PCG64(w_seq)))
    ranks = ranks_of(batch_scores(sm.values, w, "weighted_sum"))
    for col, q in (("median_rank", 0.5), ("rank_p05", 0.05), ("rank_p95", 0.95)):
        np.testing.assert_array_equal(mc[col].to_numpy(),
                                      np.quantile(ranks, q, axis=0, method="inverted_cdf"))
    np.testing.assert_allclose(mc["p_top_k"].to_numpy(), (ranks <= 3).mean(axis=0))


def test_same_seed_same_numbers_other_seed_other_numbers():
    sm = dominated(seed=5, n=20)
    cfg = SensitivityConfig(draws=200, top_k=4, spread=0.6, seed=42)
    a = monte_carlo(sm, cfg, "weighted_sum")
    b = monte_carlo(sm, cfg, "weighted_sum")
    pd.testing.assert_frame_equal(a, b)
    c = monte_carlo(sm, cfg.model_copy(update={"seed": 43}), "weighted_sum")
    assert not np.array_equal(a["mean_score"].to_numpy(), c["mean_score"].to_numpy())


def test_thresholds_need_cells():
    with pytest.raises(ValueError, match="cells"):
        monte_carlo(two_sites(), SensitivityConfig(draws=20, thresholds=0.1), "weighted_sum")


# ---------------------------------------------------------------------------------------------
# threshold draws
# ---------------------------------------------------------------------------------------------

VALUE_FUNCTIONS = [
    ValueFunction(kind="linear", best=0, worst=50),
    ValueFunction(kind="linear", best=100, worst=20, missing=0.3),
    ValueFunction(kind="log_linear", best=150_000, worst=5_000),
    ValueFunction(kind="log_linear", best=1, worst=100),
    ValueFunction(kind="exponential", origin=5, half_life=10, direction="lower_better"),
    ValueFunction(kind="exponential", origin=50, half_life=10, direction="higher_better"),
    ValueFunction(kind="logistic", midpoint=20, scale=4, direction="lower_better"),
    ValueFunction(kind="logistic", midpoint=0, scale=2, direction="higher_better"),
    ValueFunction(kind="piecewise", points=[(0, 0), (500, 0.4), (1500, 0.8), (4000, 1.0)]),
]


@pytest.mark.parametrize("vf", VALUE_FUNCTIONS, ids=lambda v: v.kind)
def test_score_batch_equals_apply_value_function(vf):
    import sitescore.sensitivity as S
    x = np.array([-5.0, 0.0, 1.0, 3.0, 5.0, 12.0, 20.0, 49.0, 50.0, 80.0, 400.0, 500.0, 1000.0,
                  5000.0, 2e5, np.nan])
    spec = vf.jitter_params()
    same = vf.score_batch(x, {name: np.array([[v]]) for name, v, _, _ in spec})
    np.testing.assert_allclose(same[0], apply_value_function(vf, x), rtol=1e-12, atol=1e-15)
    # jittered: each draw equals the value function with that draw's parameters
    z = rng(7).standard_normal((5, len(spec)))
    params = S._jittered(spec, z, 0.3)
    got = vf.score_batch(x, params)
    for d in range(5):
        upd = {n: float(params[n][d, 0]) for n, *_ in spec if not n.startswith("x")}
        if vf.kind == "piecewise":
            xs = np.maximum.accumulate([params[f"x{i}"][d, 0] for i in range(len(vf.points))])
            if np.any(np.diff(xs) <= 0):
                continue
            upd["points"] = [(float(a), b) for a, (_, b) in zip(xs, vf.points, strict=True)]
        ref = apply_value_function(vf.model_copy(update=upd), x)
        np.testing.assert_allclose(got[d], ref, rtol=1e-12, atol=1e-15)


def cells_matrix() -> SiteMatrix:
    """Three sites whose c1 values come from cells (linear 0 km -> 1, 10 km -> 0); c2 fixed."""
    vf = ValueFunction(kind="linear", best=0, worst=10)
    raw = np.array([4.0, 5.0, 6.0, 6.5, 1.0, 9.0, np.nan])
    acres = np.array([100.0, 300.0, 200.0, 200.0, 50.0, 150.0, 100.0])
    site = np.array([0, 0, 1, 1, 2, 2, 2])
    value = apply_value_function(vf, raw)
    c1 = np.array([np.average(value[site == s], weights=acres[site == s]) for s in range(3)])
    return SiteMatrix(site_ids=[1, 2, 3], names=["a", "b", "c"],
                      values=np.column_stack([c1, [0.0, 0.3, 0.2]]), weights=[0.5, 0.5],
                      criteria=["c1", "c2"],
                      cells={"c1": CriterionCells(raw=raw, acres=acres, site=site, value_function=vf)})


def test_thresholds_zero_equals_weights_only():
    sm = cells_matrix()
    bare = SiteMatrix(site_ids=sm.site_ids, names=sm.names, values=sm.values, weights=sm.weights,
                      criteria=sm.criteria)
    cfg = SensitivityConfig(draws=300, spread=0.5, top_k=1, thresholds=0.0, seed=9)
    pd.testing.assert_frame_equal(monte_carlo(sm, cfg, "weighted_sum"),
                                  monte_carlo(bare, cfg, "weighted_sum"))
    jittered = monte_carlo(sm, cfg.model_copy(update={"thresholds": 0.2}), "weighted_sum")
    assert not np.array_equal(jittered["mean_score"], monte_carlo(bare, cfg, "weighted_sum")["mean_score"])
    pd.testing.assert_frame_equal(jittered, monte_carlo(sm, cfg.model_copy(update={"thresholds": 0.2}),
                                                        "weighted_sum"))


@pytest.mark.parametrize("method", METHODS)
def test_threshold_draws_match_a_draw_by_draw_reference(method):
    """Every draw recomputed slowly: jittered value function, acre-weighted site means,
    mcda.aggregate, ranks by score then site id."""
    import sitescore.sensitivity as S
    sm = cells_matrix()
    cfg = SensitivityConfig(draws=200, spread=0.3, top_k=1, thresholds=0.25, seed=4)
    mc = monte_carlo(sm, cfg, method).set_index("site_id").loc[sm.site_ids]
    w_seq, t_seq = np.random.SeedSequence(cfg.seed).spawn(2)
    w = draw_weights(sm.weights, cfg, np.random.Generator(np.random.PCG64(w_seq)))
    cc = sm.cells["c1"]
    spec = cc.value_function.jitter_params()
    z = np.random.Generator(np.random.PCG64(t_seq)).standard_normal((cfg.draws, len(spec)))
    params = S._jittered(spec, z, cfg.thresholds)
    first = np.zeros(3)
    total = np.zeros(3)
    for d in range(cfg.draws):
        vf = cc.value_function.model_copy(update={n: float(params[n][d, 0]) for n, *_ in spec})
        value = apply_value_function(vf, cc.raw)
        c1 = [np.average(value[cc.site == s], weights=cc.acres[cc.site == s]) for s in range(3)]
        scores = mcda.aggregate(np.column_stack([c1, sm.values[:, 1]]), w[d], method)
        order = sorted(range(3), key=lambda i: (-round(scores[i], 12), sm.site_ids[i]))
        first[order[0]] += 1
        total += scores
    np.testing.assert_allclose(mc["p_top_k"].to_numpy(), first / cfg.draws)
    np.testing.assert_allclose(mc["mean_score"].to_numpy(), total / cfg.draws, rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# sweeps and flips
# ---------------------------------------------------------------------------------------------

def test_sweep_swaps_two_sites_exactly_at_the_hand_computed_factor():
    sm = two_sites()
    sw = weight_sweeps(sm, "weighted_sum", sweep_max=2.0, steps=51, top_n=2)
    assert list(sw.columns) == ["criterion", "factor", "weight", "site_id", "base_rank", "rank"]
    assert len(sw) == 3 * 51 * 2
    c1 = sw[(sw["criterion"] == "c1") & (sw["site_id"] == 1)]
    below = c1[c1["factor"] < 0.64 - 1e-9]
    above = c1[c1["factor"] >= 0.64 - 1e-9]   # 0.64 itself is a tie: the lower id (A) wins
    assert (below["rank"] == 2).all() and (above["rank"] == 1).all()
    assert np.isclose(above["factor"].min(), 0.64)
    c2 = sw[(sw["criterion"] == "c2") & (sw["site_id"] == 1)]
    assert (c2.loc[c2["factor"] <= 1.5 + 1e-9, "rank"] == 1).all()
    assert (c2.loc[c2["factor"] > 1.5 + 1e-9, "rank"] == 2).all()
    assert (sw[(sw["criterion"] == "c3") & (sw["site_id"] == 1)]["rank"] == 1).all()
    at_one = sw[np.isclose(sw["factor"], 1.0)]
    assert (at_one["rank"] == at_one["base_rank"]).all()
    np.testing.assert_allclose(c1["weight"], 0.5 * c1["factor"] / (0.5 + 0.5 * c1["factor"]))


def test_weight_to_flip_finds_the_hand_computed_factors():
    sm = two_sites()
    flips = weight_to_flip(sm, "weighted_sum", k=1)
    f = flips.set_index(["site_id", "criterion"])
    assert f.loc[(1, "c1"), "factor"] == pytest.approx(0.64, abs=1e-3)
    assert f.loc[(1, "c2"), "factor"] == pytest.approx(1.5, abs=1e-3)
    assert math.isnan(f.loc[(1, "c3"), "factor"])
    assert f.loc[(2, "c1"), "factor"] == pytest.approx(0.64, abs=1e-3)
    assert f.loc[(2, "c2"), "factor"] == pytest.approx(1.5, abs=1e-3)
    assert f.loc[(1, "c1"), "direction"] == "out of top 1"
    assert f.loc[(2, "c1"), "direction"] == "into top 1"
    assert flips[flips["site_id"] == 3]["factor"].isna().all()  # C never gets to the top
    summary = flip_summary(flips).set_index("site_id")
    assert summary.loc[1, "criterion"] == "c2" and summary.loc[2, "criterion"] == "c2"  # |ln 1.5| < |ln 0.64|
    assert pd.isna(summary.loc[3, "criterion"])
    assert flips.groupby("site_id")["closest"].sum().tolist() == [1, 1, 0]
    # with every site in the top k there is nothing to fall out of
    assert weight_to_flip(sm, "weighted_sum", k=3)["factor"].isna().all()


@pytest.mark.parametrize("method", METHODS)
def test_every_flip_factor_is_a_boundary(method):
    """Just past the factor the site has crossed the top-k line; just short of it, not yet."""
    g = rng(21)
    sm = SiteMatrix(site_ids=np.arange(1, 16), names=[str(i) for i in range(15)],
                    values=g.uniform(0, 1, (15, 4)), weights=g.dirichlet(np.ones(4) * 3))
    k = 5
    flips = weight_to_flip(sm, method, k)
    assert flips["factor"].notna().sum() > 10
    for row in flips.dropna(subset=["factor"]).itertuples():
        j = sm.criteria.index(row.criterion)
        i = int(np.flatnonzero(sm.site_ids == row.site_id)[0])
        toward_one = row.factor * (1 + 1e-6) ** (1 if row.factor < 1 else -1)
        w = scaled_weights(sm.weights, j, np.array([row.factor, toward_one]))
        ranks = ranks_of(batch_scores(sm.values, w, method))[:, i]
        inside = row.base_rank <= k
        assert (ranks[0] <= k) != inside, row
        assert (ranks[1] <= k) == inside, row


def test_sweep_charts_one_png_per_criterion(tmp_path):
    sm = two_sites()
    sw = weight_sweeps(sm, "weighted_sum", top_n=3)
    paths = sweep_charts(sw, {"c1": "Criterion one", "c2": "Two"}, tmp_path / "charts")
    assert [p.name for p in paths] == ["sweep_c1.png", "sweep_c2.png", "sweep_c3.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# the demo
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, demo_config):
    from sitescore.pipeline import run
    tmp = tmp_path_factory.mktemp("sensitivity_demo")
    cfg = load_config(demo_config)
    result = run(cfg, maps_dir=tmp / "maps", runs_dir=tmp / "runs", write_map=False)
    return cfg, result


def test_demo_site_matrix_reproduces_the_run(demo_run):
    cfg, result = demo_run
    sm = site_matrix(result.sites, result.cells, cfg.criteria)
    assert sm.criteria == list(cfg.criteria)
    np.testing.assert_allclose(sm.weights, list(cfg.normalized_weights().values()))
    assert set(sm.cells) == set(cfg.criteria)
    scores, ranks = base_ranking(sm, "weighted_sum")
    by_id = result.sites.set_index("site_id").loc[sm.site_ids]
    np.testing.assert_allclose(scores, by_id["score"], atol=1e-9)
    np.testing.assert_array_equal(ranks, by_id["rank"])
    # cells of another run are refused
    shuffled = result.cells.copy()
    shuffled["raw__power_line"] = shuffled["raw__power_line"].to_numpy()[::-1]
    with pytest.raises(ValueError, match="same run"):
        site_matrix(result.sites, shuffled, cfg.criteria)


@pytest.mark.parametrize("thresholds", [0.0, 0.1])
def test_demo_monte_carlo(demo_run, thresholds):
    cfg, result = demo_run
    sm = site_matrix(result.sites, result.cells, cfg.criteria)
    scfg = SensitivityConfig(draws=400, top_k=3, thresholds=thresholds, seed=1)
    mc = monte_carlo(sm, scfg, "weighted_sum")
    assert len(mc) == len(result.sites)
    assert mc["p_top_k"].between(0, 1).all()
    assert ((mc["rank_p05"] <= mc["median_rank"]) & (mc["median_rank"] <= mc["rank_p95"])).all()
    p = mc.set_index("site_id")["p_top_k"]
    assert p.loc[1] >= p.max() - 0.05  # the run's best site is (near) the surest of the top 3
    assert mc.set_index("site_id").loc[1, "median_rank"] <= 2
    pd.testing.assert_frame_equal(mc, monte_carlo(sm, scfg, "weighted_sum"))


def test_demo_sweeps_and_flips(demo_run, tmp_path):
    cfg, result = demo_run
    sm = site_matrix(result.sites, result.cells, cfg.criteria)
    sw = weight_sweeps(sm, "weighted_sum", sweep_max=2.0, steps=21, top_n=5)
    assert len(sw) == len(cfg.criteria) * 21 * 5
    at_one = sw[np.isclose(sw["factor"], 1.0)]
    assert (at_one["rank"] == at_one["site_id"]).all()  # site ids follow the base ranks
    paths = sweep_charts(sw, sm.labels, tmp_path)
    assert {p.name for p in paths} == {f"sweep_{c}.png" for c in cfg.criteria}
    flips = weight_to_flip(sm, "weighted_sum", k=3)
    assert len(flips) == len(result.sites) * len(cfg.criteria)
    assert (flips["factor"].dropna() > 0).all()
    assert flip_summary(flips)["site_id"].tolist() == sorted(result.sites["site_id"])


@pytest.mark.parametrize("method", ["weighted_product", "topsis"])
def test_demo_base_ranking_matches_the_run_for_other_methods(demo_run, tmp_path, method):
    from sitescore.pipeline import run
    cfg, _ = demo_run
    result = run(cfg.model_copy(update={"aggregation": method}), maps_dir=tmp_path / "maps",
                 runs_dir=tmp_path / "runs", write_map=False)
    sm = site_matrix(result.sites, result.cells, cfg.criteria)
    scores, ranks = base_ranking(sm, method)
    by_id = result.sites.set_index("site_id").loc[sm.site_ids]
    np.testing.assert_allclose(scores, by_id["score"], atol=1e-9)
    np.testing.assert_array_equal(ranks, by_id["rank"])
    mc = monte_carlo(sm, SensitivityConfig(draws=200, top_k=3, thresholds=0.1), method)
    assert ((mc["rank_p05"] <= mc["median_rank"]) & (mc["median_rank"] <= mc["rank_p95"])).all()
