"""Value functions, constraints and the weighted sum, by hand and as properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitescore.config import ConstraintConfig, CriterionConfig, ValueFunction
from sitescore.scoring import apply_constraints, apply_value_function, describe_value_function, score_table


def vf(**kw) -> ValueFunction:
    return ValueFunction(**kw)


def test_linear_lower_is_better_and_clipped():
    f = vf(kind="linear", best=0, worst=50)
    np.testing.assert_allclose(apply_value_function(f, np.array([0, 25, 50, 80, -3])), [1, 0.5, 0, 0, 1])


def test_linear_higher_is_better():
    f = vf(kind="linear", best=100, worst=0)
    np.testing.assert_allclose(apply_value_function(f, np.array([100, 25, 0])), [1, 0.25, 0])


def test_log_linear():
    f = vf(kind="log_linear", best=100_000, worst=1_000)
    np.testing.assert_allclose(apply_value_function(f, np.array([1e5, 1e4, 1e3, 10, 0])),
                               [1, 0.5, 0, 0, 0])


def test_exponential_half_life():
    f = vf(kind="exponential", origin=2, half_life=10, direction="lower_better")
    np.testing.assert_allclose(apply_value_function(f, np.array([0, 2, 12, 22])), [1, 1, 0.5, 0.25])
    g = vf(kind="exponential", origin=100, half_life=50, direction="higher_better")
    np.testing.assert_allclose(apply_value_function(g, np.array([150, 100, 50])), [1, 1, 0.5])


def test_logistic_midpoint():
    f = vf(kind="logistic", midpoint=5, scale=1, direction="lower_better")
    out = apply_value_function(f, np.array([5.0, 0.0, 10.0]))
    assert out[0] == pytest.approx(0.5) and out[1] > 0.99 and out[2] < 0.01


def test_piecewise_interpolates_and_is_flat_outside():
    f = vf(kind="piecewise", points=[(0, 1), (10, 0.5), (20, 0)])
    np.testing.assert_allclose(apply_value_function(f, np.array([-5, 5, 15, 99])), [1, 0.75, 0.25, 0])


def test_categorical_with_default_and_integer_keys():
    f = vf(kind="categorical", map={"0": 1, "1": 0.8, "4": 0}, default=0.3)
    out = apply_value_function(f, np.array([0.0, 1.0, 4.0, 2.0], dtype=object))
    np.testing.assert_allclose(out, [1, 0.8, 0, 0.3])


def test_missing_raw_gets_missing_score():
    f = vf(kind="linear", best=0, worst=10, missing=0.2)
    np.testing.assert_allclose(apply_value_function(f, np.array([np.nan, 5])), [0.2, 0.5])


def test_value_function_needs_its_parameters():
    with pytest.raises(ValueError, match="needs origin"):
        vf(kind="exponential", half_life=3, direction="lower_better")
    with pytest.raises(ValueError, match="differ"):
        vf(kind="linear", best=1, worst=1)


def test_descriptions_are_readable():
    assert describe_value_function(vf(kind="linear", best=0, worst=50), "km") == \
        "1 at 0 km, 0 at 50 km (linear between)"


def crit(weight=1.0, **value):
    return CriterionConfig(metric="distance_to", layer="x", weight=weight,
                           value=value or {"kind": "linear", "best": 0, "worst": 10}, label="slope",
                           unit="%")


def test_constraints_mask_with_reason():
    raw = {"slope": np.array([2.0, 7.2, np.nan])}
    res = apply_constraints(raw, [ConstraintConfig(criterion="slope", max=5)], {"slope": crit()}, 3)
    assert res.excluded.tolist() == [False, True, False]
    assert res.reasons[1] == "slope 7.2 % > max 5 %"


def test_constraint_first_reason_kept():
    raw = {"slope": np.array([30.0])}
    cons = [ConstraintConfig(criterion="slope", max=5), ConstraintConfig(criterion="slope", max=20)]
    res = apply_constraints(raw, cons, {"slope": crit()}, 1)
    assert res.reasons[0] == "slope 30 % > max 5 %"


def test_score_table_breakdown_sums_to_score():
    raw = {"a": np.array([0.0, 10.0]), "b": np.array([5.0, 5.0])}
    crits = {"a": crit(3), "b": crit(1)}
    t = score_table(raw, crits, {"a": 3, "b": 1})
    np.testing.assert_allclose(t["weight__a"], 0.75)
    np.testing.assert_allclose(t["score"], [0.75 * 1 + 0.25 * 0.5, 0.75 * 0 + 0.25 * 0.5])
    np.testing.assert_allclose(t["contribution__a"] + t["contribution__b"], t["score"])


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
value_functions = st.one_of(
    st.tuples(finite, finite).filter(lambda t: abs(t[0] - t[1]) > 1e-6).map(
        lambda t: vf(kind="linear", best=t[0], worst=t[1])),
    st.tuples(st.floats(1e-3, 1e6), st.floats(1e-3, 1e6)).filter(lambda t: abs(t[0] - t[1]) > 1e-3)
    .map(lambda t: vf(kind="log_linear", best=t[0], worst=t[1])),
    st.tuples(finite, st.floats(1e-3, 1e4), st.sampled_from(["lower_better", "higher_better"]))
    .map(lambda t: vf(kind="exponential", origin=t[0], half_life=t[1], direction=t[2])),
    st.tuples(finite, st.floats(1e-3, 1e4), st.sampled_from(["lower_better", "higher_better"]))
    .map(lambda t: vf(kind="logistic", midpoint=t[0], scale=t[1], direction=t[2])),
)


def _better(f: ValueFunction, x: float, step: float) -> float:
    """Move x by step in the function's good direction."""
    if f.kind in ("linear", "log_linear"):
        return x - step if f.best < f.worst else x + step
    return x - step if f.direction == "lower_better" else x + step


@settings(max_examples=300, deadline=None)
@given(value_functions, finite, st.floats(0, 1e5), st.lists(st.floats(0.01, 10), min_size=2, max_size=4))
def test_raising_a_criterion_in_its_good_direction_never_lowers_the_score(f, x, step, weights):
    crits = {f"c{i}": CriterionConfig(metric="distance_to", layer="x", weight=w,
                                      value=f if i == 0 else {"kind": "linear", "best": 0, "worst": 1})
             for i, w in enumerate(weights)}
    others = {f"c{i}": np.array([0.3, 0.3]) for i in range(1, len(weights))}
    raw = {"c0": np.array([x, _better(f, x, step)]), **others}
    t = score_table(raw, crits, {k: c.weight for k, c in crits.items()})
    assert t["score"][1] >= t["score"][0] - 1e-12
    assert ((t["score"] >= -1e-12) & (t["score"] <= 1 + 1e-12)).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.01, 10), min_size=2, max_size=5), st.floats(0.001, 1000),
       st.integers(0, 2**31 - 1))
def test_scaling_all_weights_leaves_scores_and_ranking_unchanged(weights, factor, seed):
    rng = np.random.default_rng(seed)
    raw = {f"c{i}": rng.uniform(0, 10, 30) for i in range(len(weights))}
    crits = {f"c{i}": CriterionConfig(metric="distance_to", layer="x", weight=w,
                                      value={"kind": "linear", "best": 0, "worst": 10})
             for i, w in enumerate(weights)}
    a = score_table(raw, crits, {f"c{i}": w for i, w in enumerate(weights)})["score"].to_numpy()
    b = score_table(raw, crits, {f"c{i}": w * factor for i, w in enumerate(weights)})["score"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    ids = np.arange(30)
    assert (np.lexsort((ids, -a)) == np.lexsort((ids, -b))).all() or np.allclose(a, b)
