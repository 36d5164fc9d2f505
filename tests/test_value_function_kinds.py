"""A new value-function kind is one class and nothing else (issue 17).

A `step` kind (1 at or below a threshold, 0 above) is defined here only, registered the way the
shipped kinds are (by subclassing `ValueFunction`), and taken through everything a planner
sees: the config, the scores, the Monte Carlo's threshold draws, the report's chart, the map's
popup text and `sitescore explain`, on the demo. A fixture removes it from the registry
afterwards, so no other test (the reference docs, the config schema) sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pydantic import Field

import sitescore
from sitescore.cli import main
from sitescore.config import VALUE_FUNCTIONS, SensitivityConfig, ValueFunction
from sitescore.config.value_functions import Jitter
from sitescore.report.figures import vf_png
from sitescore.sensitivity import SiteMatrix, monte_carlo, site_matrix
from test_bad_input import _no_outputs, run_cli

THRESHOLD_KM = 8.0
STEP_TEXT = "1 up to 8 km, 0 farther (a step)"


@pytest.fixture(scope="module")
def step_kind() -> Iterator[type[ValueFunction]]:
    """The `step` kind, registered for this module's tests only."""

    class StepValue(ValueFunction):
        """1 at or below `threshold`, 0 above: a hard cut-off that the Monte Carlo may move."""

        kind: Literal["step"]
        threshold: float = Field(description="Raw value up to which the score is 1.")

        def curve(self, x: np.ndarray) -> np.ndarray:
            return np.where(np.isnan(x), np.nan, np.where(x <= self.threshold, 1.0, 0.0))

        def describe(self, unit: str = "") -> str:
            return f"1 up to {self.threshold:g} {unit}, 0 farther (a step)"

        def jitter_params(self) -> list[Jitter]:
            return [Jitter("threshold", float(self.threshold), abs(self.threshold) or 1.0, False)]

    assert VALUE_FUNCTIONS["step"] is StepValue
    yield StepValue
    del VALUE_FUNCTIONS["step"]


def _study(demo_config: Path, folder: Path, value: str, sensitivity: str = "") -> Path:
    """The demo's config with the river criterion's value function replaced, written to `folder`
    (the demo's data read where it lies, the outputs under `folder`)."""
    text = demo_config.read_text(encoding="utf-8")
    old = "value: {kind: linear, best: 0, worst: 30}"
    assert text.count(old) == 1
    text = text.replace(old, f"value: {value}")
    text = text.replace("data_dir: .\n", f"data_dir: {json.dumps(str(demo_config.parent))}\n")
    text += ("\noutputs:\n"
             f"  runs_dir: {json.dumps(str(folder / 'runs'))}\n"
             f"  maps_dir: {json.dumps(str(folder / 'maps'))}\n")
    if sensitivity:
        text += f"\nsensitivity: {sensitivity}\n"
    path = folder / "step.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def step_run(step_kind, demo_config, tmp_path_factory):
    """The demo with the river scored by a step, run with threshold draws, map and report."""
    folder = tmp_path_factory.mktemp("step")
    config = _study(demo_config, folder, f"{{kind: step, threshold: {THRESHOLD_KM:g}}}",
                    "{draws: 200, thresholds: 0.1, seed: 5}")
    cfg = sitescore.load_config(config)
    return config, cfg, sitescore.run(cfg, runs_dir=folder / "runs", maps_dir=folder / "maps")


def test_the_config_names_the_new_kind(step_kind, step_run):
    _, cfg, _ = step_run
    vf = cfg.criteria["river"].value
    assert type(vf) is step_kind and vf.threshold == THRESHOLD_KM
    # built from the base class by its kind, and written back with its parameter (the manifest)
    assert type(ValueFunction(kind="step", threshold=2)) is step_kind
    assert type(ValueFunction.model_validate({"kind": "step", "threshold": 2})) is step_kind
    assert cfg.model_dump(mode="json")["criteria"]["river"]["value"] == \
        {"kind": "step", "missing": 0.0, "threshold": THRESHOLD_KM}
    # the shipped kinds still go through the union as before
    assert cfg.model_dump(mode="json")["criteria"]["power_line"]["value"] == \
        {"kind": "linear", "missing": 0.0, "best": 0.0, "worst": 50.0}


def test_the_step_scores_the_cells(step_run):
    _, cfg, result = step_run
    scored = sitescore.score(cfg)
    raw = pd.to_numeric(scored.cells["raw__river"], errors="coerce").to_numpy(dtype=float)
    value = scored.cells["value__river"].to_numpy(dtype=float)
    assert np.isfinite(raw).any() and (raw <= THRESHOLD_KM).any() and (raw > THRESHOLD_KM).any()
    expected = np.where(np.isnan(raw), 0.0, np.where(raw <= THRESHOLD_KM, 1.0, 0.0))
    np.testing.assert_array_equal(value, expected)
    # the run wrote the same scores
    assert result.cells["value__river"].tolist() == scored.cells["value__river"].tolist()


def _river_only(sm: SiteMatrix) -> SiteMatrix:
    """The matrix with cells for the river alone: any change under threshold draws is the
    step's threshold moving."""
    return SiteMatrix(site_ids=sm.site_ids, names=sm.names, values=sm.values, weights=sm.weights,
                      criteria=sm.criteria, labels=sm.labels, excluded=sm.excluded,
                      cells={"river": sm.cells["river"]})


def test_threshold_draws_move_the_step(step_run):
    _, cfg, result = step_run
    sm = _river_only(site_matrix(result.sites, result.cells, cfg.criteria))
    step = sm.cells["river"].value_function
    assert [p.name for p in step.jitter_params()] == ["threshold"]
    still = monte_carlo(sm, SensitivityConfig(draws=200, thresholds=0.0, seed=5), cfg.aggregation)
    moved = monte_carlo(sm, SensitivityConfig(draws=200, thresholds=0.3, seed=5), cfg.aggregation)
    assert not np.array_equal(still["mean_score"], moved["mean_score"])
    # each draw is the step at that draw's threshold
    raw = sm.cells["river"].raw
    thresholds = np.array([[2.0], [THRESHOLD_KM], [30.0]])
    batch = step.score_batch(raw, {"threshold": thresholds})
    for row, t in zip(batch, thresholds[:, 0], strict=True):
        np.testing.assert_array_equal(row, step.with_params({"threshold": t}).apply(raw))
    # the run's own sensitivity table has a row per site
    table = pd.read_csv(result.run_dir / "sensitivity.csv")
    assert len(table) == len(result.sites) and table["p_top_10"].between(0, 1).all()


def test_the_report_charts_the_step(step_run, tmp_path):
    _, cfg, result = step_run
    chart = result.map_path.parent / "report_vf_river.png"
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert STEP_TEXT in result.report_path.read_text(encoding="utf-8")
    crit = cfg.criteria["river"]
    # no cells to go by: the chart draws around the threshold, from the kind's own parameters
    assert crit.value.chart_range(np.array([])) == (THRESHOLD_KM - 0.8, THRESHOLD_KM + 0.8)
    empty = vf_png(tmp_path / "empty.png", "river", crit, result.cells.iloc[0:0])
    assert empty.read_bytes().startswith(b"\x89PNG")
    raw = pd.to_numeric(result.cells["raw__river"], errors="coerce").dropna()
    assert crit.value.chart_range(raw.to_numpy()) == (raw.min(), raw.max())


def test_the_map_describes_the_step(step_run):
    _, _, result = step_run
    assert STEP_TEXT in result.map_path.read_text(encoding="utf-8")


def test_explain_shows_the_step(step_run):
    config, _, result = step_run
    out = CliRunner().invoke(main, ["explain", str(config), "--site", "1",
                                    "--runs-dir", str(result.run_dir.parent)],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    line = next(ln for ln in out.output.splitlines() if "Distance to a river" in ln)
    site = result.sites.loc[result.sites["rank"] == 1].iloc[0]
    assert f"{float(site['value__river']):.2f}" in line


@pytest.mark.parametrize(("value", "needles"), [
    ("{kind: step, threshold: far}", ["criteria.river.value.threshold", "valid number"]),
    ("{kind: step}", ["criteria.river.value", "needs threshold"]),
    ("{kind: step, threshold: 8, thresh: 9}", ["criteria.river.value.thresh", "unknown key"]),
])
def test_a_bad_step_ends_in_one_line(step_kind, demo_config, tmp_path, monkeypatch, value, needles):
    """A mistake in the new kind's parameters is reported as the shipped kinds' are: one line
    naming the key and its YAML line, exit 2, nothing written."""
    monkeypatch.chdir(tmp_path)
    config = _study(demo_config, tmp_path, value)
    result, _ = run_cli(tmp_path, config)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sitescore: error: ") and "Traceback" not in result.output
    line_no = 1 + next(i for i, ln in enumerate(config.read_text().splitlines())
                       if "kind: step" in ln)
    for needle in [*needles, f"line {line_no}"]:
        assert needle in lines[0], (needle, lines[0])
    _no_outputs(tmp_path)


def test_a_removed_kind_is_unknown_again(demo_config, tmp_path):
    """The registry is the one list of kinds: taking a kind out of it takes it out of configs."""

    class GoneValue(ValueFunction):
        kind: Literal["gone"]

        def curve(self, x: np.ndarray) -> np.ndarray:
            return np.ones_like(x)

    try:
        assert type(ValueFunction(kind="gone")) is GoneValue
    finally:
        del VALUE_FUNCTIONS["gone"]
    config = _study(demo_config, tmp_path, "{kind: gone}")
    with pytest.raises(sitescore.SitescoreError, match=r"criteria\.river\.value\.kind"):
        sitescore.load_config(config)

