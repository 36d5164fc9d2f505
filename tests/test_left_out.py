"""Criteria left out (layer or field missing) or degenerate (values all missing or constant over
the cells) are dropped from the weighting and said everywhere a planner looks: the terminal after
`run`, the manifest, the map's panel, the report and `explain`. Below `min_weight_kept` a run
stops with one line and writes nothing; `--allow-partial` runs anyway and says so."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from badinput_support import gppd_table, land_study, write_dem
from sitescore.cli import main
from sitescore.config import CriterionConfig, load_config
from sitescore.left_out import LeftOut, left_out_summary
from sitescore.left_out import degenerate as _degenerate
from sitescore.pipeline import score
from test_bad_input import _no_outputs, run_cli

OPTIONAL_DEM = {"dem: {reader: dem, path: dem.tif}": "dem: {reader: dem, path: dem.tif, optional: true}"}


def _one_error_line(result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sitescore: error: ") and "Traceback" not in result.output
    return lines[0]


def _without_dem(folder: Path, **overrides: str) -> Path:
    """The grid study with its DEM marked optional and absent: slope (1 of 3) is left out."""
    cfg = land_study(folder, **OPTIONAL_DEM, **overrides)
    (folder / "dem.tif").unlink()
    return cfg


# --- the stop below min_weight_kept ---------------------------------------------------------------

def test_a_run_below_min_weight_kept_stops_in_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _without_dem(tmp_path)
    result, _ = run_cli(tmp_path, cfg)
    line = _one_error_line(result)
    assert "config key 'min_weight_kept'" in line and str(cfg) in line
    assert "66.7% of the configured weight, below 70%" in line
    assert "slope (layer missing, 33.3%)" in line and "--allow-partial" in line
    _no_outputs(tmp_path)


def test_the_stop_names_the_key_s_line_and_keeps_the_previous_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = land_study(tmp_path, **OPTIONAL_DEM)
    first, _ = run_cli(tmp_path, cfg)
    assert first.exit_code == 0, first.output
    before = {p: p.read_bytes() for p in (tmp_path / "runs" / "land").iterdir()}
    before |= {p: p.read_bytes() for p in (tmp_path / "maps" / "land").iterdir() if p.is_file()}
    (tmp_path / "dem.tif").unlink()
    cfg.write_text(cfg.read_text() + "min_weight_kept: 0.9\n")
    result, _ = run_cli(tmp_path, cfg)
    line = _one_error_line(result)
    n = cfg.read_text().splitlines().index("min_weight_kept: 0.9") + 1
    assert f"land.yaml, line {n}: config key 'min_weight_kept'" in line
    assert "below 90%" in line
    assert {p: p.read_bytes() for p in before} == before  # every previous output intact
    assert not any(p.name.startswith(".") for p in (tmp_path / "runs").iterdir()
                   if not p.name.endswith(".lock"))


@pytest.mark.parametrize("value", ["1.5", "-0.1", "lots"])
def test_min_weight_kept_out_of_range_is_a_config_error_with_its_line(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = land_study(tmp_path)
    cfg.write_text(cfg.read_text() + f"min_weight_kept: {value}\n")
    result, _ = run_cli(tmp_path, cfg)
    line = _one_error_line(result)
    assert "min_weight_kept" in line and re.search(r"land\.yaml, line \d+", line), line
    _no_outputs(tmp_path)


def test_min_weight_kept_is_in_the_schema():
    result = CliRunner().invoke(main, ["config", "schema"])
    assert result.exit_code == 0
    prop = json.loads(result.output)["properties"]["min_weight_kept"]
    assert prop["default"] == 0.7 and prop["minimum"] == 0 and prop["maximum"] == 1


# --- --allow-partial: the run goes on and says so everywhere ---------------------------------------

@pytest.fixture(scope="module")
def partial_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("partial")
    cfg = _without_dem(folder)
    result, _ = run_cli(folder, cfg, "--allow-partial")
    return folder, cfg, result


def test_allow_partial_runs_and_says_so_on_the_terminal_and_stderr(partial_run):
    _, _, result = partial_run
    assert result.exit_code == 0, result.output
    assert "criteria: kept 1 of 2 criteria, 66.7% of the weight; left out: slope (layer missing)" \
        in result.stdout
    warning = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert warning == ["sitescore: warning: partial run (--allow-partial): kept 1 of 2 criteria, "
                       "66.7% of the weight; left out: slope (layer missing)"]


def test_the_manifest_records_left_out_and_weight_kept(partial_run):
    folder, _, _ = partial_run
    manifest = json.loads((folder / "runs" / "land" / "manifest.json").read_text())
    assert manifest["weight_kept"] == pytest.approx(2 / 3, abs=1e-6)
    assert manifest["criteria_configured"] == 2
    assert manifest["left_out"] == [{"criterion": "slope", "label": "Mean terrain slope",
                                     "reason": "layer missing", "weight_share": 0.333333}]
    assert manifest["partial"] is True
    assert manifest["config"]["min_weight_kept"] == 0.7


def test_the_map_panel_shows_the_banner(partial_run):
    folder, _, _ = partial_run
    page = (folder / "maps" / "land" / "index.html").read_text(encoding="utf-8")
    panel = page[page.index('id="sitescore-panel"'):page.index('id="ss-site-list"')]
    banner = panel[panel.index('id="ss-left-out"'):]
    assert "<b>66.7%</b> of the configured weight: 1 criterion left out" in banner
    assert "<details open>" in banner  # one criterion: the list shows
    assert "<b>Mean terrain slope</b>: layer missing (33.3%)" in banner
    assert "Partial run" in banner


def test_the_report_has_the_section_and_the_header_line(partial_run):
    folder, _, _ = partial_run
    page = (folder / "maps" / "land" / "report.html").read_text(encoding="utf-8")
    header = page[:page.index("<main>")]
    assert "1 criterion left out" in header and "66.7% of the configured weight" in header
    assert "partial run, --allow-partial" in header
    notes = page[page.index('id="notes"'):page.index('id="runtime"')]
    assert "<b>slope</b> (Mean terrain slope): layer missing, 33.3% of the configured weight" in notes
    assert "Partial run" in notes


def test_explain_says_what_the_scores_leave_out(partial_run):
    folder, cfg, _ = partial_run
    result = CliRunner().invoke(main, ["explain", str(cfg), "--runs-dir", str(folder / "runs")])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "These scores stand for 66.7% of the configured weight (1 of 2 criteria); left out of " \
           "this run:" in text
    assert "    slope: layer missing (33.3% of the weight)" in text
    assert "The run went on below min_weight_kept 70% (--allow-partial)" in text
    # the paragraph comes before the breakdown a planner reads next
    assert text.index("These scores stand for") < text.index("contribution")


def test_a_lower_min_weight_kept_runs_without_the_flag_and_still_says_what_is_left_out(tmp_path,
                                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _without_dem(tmp_path)
    cfg.write_text(cfg.read_text() + "min_weight_kept: 0.6\n")
    result, _ = run_cli(tmp_path, cfg)
    assert result.exit_code == 0, result.output
    assert "criteria: kept 1 of 2 criteria, 66.7% of the weight" in result.stdout
    assert result.stderr.strip() == ""
    manifest = json.loads((tmp_path / "runs" / "land" / "manifest.json").read_text())
    assert "partial" not in manifest and manifest["left_out"][0]["criterion"] == "slope"


def test_a_full_run_prints_no_criteria_line_and_records_an_empty_list(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result, _ = run_cli(tmp_path, land_study(tmp_path))
    assert result.exit_code == 0, result.output
    assert "criteria: kept" not in result.stdout
    manifest = json.loads((tmp_path / "runs" / "land" / "manifest.json").read_text())
    assert manifest["left_out"] == [] and manifest["weight_kept"] == 1.0
    report = (tmp_path / "maps" / "land" / "report.html").read_text(encoding="utf-8")
    assert "No criterion was left out." in report and 'id="left-out-line"' not in report
    assert 'id="ss-left-out"' not in (tmp_path / "maps" / "land" / "index.html").read_text()


def test_sensitivity_stops_too_and_runs_with_allow_partial(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _without_dem(tmp_path, **{"weight: 1\n": "weight: 3\n"})
    args = ["sensitivity", str(cfg), "--draws", "20", "--runs-dir", str(tmp_path / "runs"),
            "--maps-dir", str(tmp_path / "maps"), "--cache-dir", str(tmp_path / "cache")]
    line = _one_error_line(CliRunner().invoke(main, args))
    assert "config key 'min_weight_kept'" in line and "40%" in line and "slope (layer missing, 60%)" in line
    _no_outputs(tmp_path)
    result = CliRunner().invoke(main, [*args, "--allow-partial"])
    assert result.exit_code == 0, result.output
    assert "criteria: kept 1 of 2 criteria, 40% of the weight" in result.stdout
    assert "sitescore: warning: partial run" in result.stderr


# --- degenerate criteria -------------------------------------------------------------------------

def test_a_constant_criterion_is_dropped_and_named(tmp_path, monkeypatch):
    """A flat DEM: slope is 0 in every cell, so it would add the same to every score."""
    monkeypatch.chdir(tmp_path)
    cfg = land_study(tmp_path)
    write_dem(tmp_path / "dem.tif", grade=0.0)
    result, _ = run_cli(tmp_path, cfg)
    line = _one_error_line(result)
    assert "slope (constant: 0 % everywhere, 33.3%)" in line
    _no_outputs(tmp_path)
    result, _ = run_cli(tmp_path, cfg, "--allow-partial")
    assert result.exit_code == 0, result.output
    assert "left out: slope (constant: 0 % everywhere)" in result.stdout
    assert "criterion 'slope' left out: constant: 0 % everywhere over the" in result.stdout
    sites = json.loads((tmp_path / "runs" / "land" / "manifest.json").read_text())
    assert sites["left_out"][0]["reason"] == "constant: 0 % everywhere"
    import pandas as pd
    table = pd.read_csv(tmp_path / "runs" / "land" / "sites.csv")
    assert "contribution__slope" not in table.columns
    # the remaining criterion takes the whole weight: the best site can reach 1
    assert table["weight__power_line"].eq(1.0).all()


def test_a_criterion_all_missing_is_dropped(tmp_path):
    """A `where` no line matches: no distance for any cell."""
    cfg = land_study(tmp_path, **{"layer: transmission_lines\n":
                                  "layer: transmission_lines\n    where: \"voltage_kv >= 900\"\n"})
    with pytest.raises(Exception, match=r"power_line \(all missing, 66.7%\)"):
        score(load_config(cfg), cache_dir=tmp_path / "cache")
    result = score(load_config(cfg), cache_dir=tmp_path / "cache", allow_partial=True)
    assert [(x.name, x.reason) for x in result.left_out] == [("power_line", "all missing")]
    assert result.weight_kept == pytest.approx(1 / 3) and result.partial
    assert list(result.criteria) == ["slope"]


def test_a_field_with_no_value_in_the_layer_is_left_out_as_field_missing(tmp_path):
    """GPPD plants whose capacity is blank: summing it would give 0 MW in every cell."""
    gppd_table().assign(capacity_mw=["", ""]).to_csv(tmp_path / "plants.csv", index=False)
    cfg = land_study(tmp_path, **{
        "  dem: {reader: dem, path: dem.tif}\n":
            "  dem: {reader: dem, path: dem.tif}\n  plants: {reader: gppd, path: plants.csv}\n",
        "constraints:\n": textwrap.indent(textwrap.dedent("""\
              generation:
                metric: sum_within
                layer: plants
                field: capacity_mw
                radius_km: 50
                value: {kind: linear, best: 1000, worst: 0}
                weight: 1
            """), "  ") + "constraints:\n"})
    result = score(load_config(cfg), cache_dir=tmp_path / "cache")
    assert [(x.name, x.reason) for x in result.left_out] == [("generation",
                                                             "field missing: capacity_mw")]
    assert result.weight_kept == pytest.approx(0.75) and not result.partial
    assert any("field 'capacity_mw' of layer 'plants' has no value" in n for n in result.notes)
    assert "contribution__generation" not in result.sites.columns


# --- presets: the share is the preset's, its dropped criteria included -----------------------------

def test_a_preset_s_criteria_on_layers_the_study_lacks_count_against_the_weight(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = land_study(tmp_path)
    (tmp_path / "campus.yaml").write_text(textwrap.dedent("""\
        criteria:
          power_line:
            metric: distance_to
            layer: transmission_lines
            value: {kind: linear, best: 0, worst: 50}
            weight: 0.3
          substation:
            metric: distance_to
            layer: substations
            value: {kind: linear, best: 0, worst: 30}
            weight: 0.5
          slope:
            metric: zonal
            layer: dem
            variable: slope_percent
            value: {kind: linear, best: 0, worst: 10}
            weight: 0.2
        """))
    result, _ = run_cli(tmp_path, cfg, "--preset", "campus.yaml")
    line = _one_error_line(result)
    assert "50% of the configured weight, below 70%" in line
    assert "substation (layer missing, 50%)" in line
    result, _ = run_cli(tmp_path, cfg, "--preset", "campus.yaml", "--allow-partial")
    assert result.exit_code == 0, result.output
    assert "criteria: kept 2 of 3 criteria, 50% of the weight; left out: substation (layer missing)" \
        in result.stdout
    manifest = json.loads((tmp_path / "runs" / "land-campus" / "manifest.json").read_text())
    assert manifest["left_out"][0] == {"criterion": "substation", "label": "substation",
                                            "reason": "layer missing", "weight_share": 0.5}


# --- the pieces ----------------------------------------------------------------------------------

def _crit(**kw) -> CriterionConfig:
    return CriterionConfig(**{"metric": "distance_to", "layer": "x", "unit": "km",
                              "value": {"kind": "linear", "best": 0, "worst": 10}, "weight": 1,
                              **kw})


def test_degenerate_reasons():
    crit = _crit()
    assert _degenerate(np.array([np.nan, np.nan]), crit) == "all missing"
    assert _degenerate(np.array([3.0, 3.0, 3.0]), crit) == "constant: 3 km everywhere"
    assert _degenerate(np.array([3.0, 3.0 + 1e-13]), crit) == "constant: 3 km everywhere"
    assert _degenerate(np.array([3.0, 3.1]), crit) is None
    assert _degenerate(np.array([3.0, np.nan]), crit) is None  # missing vs a value tells apart
    assert _degenerate(np.array([3.0]), crit) is None  # one cell has nothing to be told from
    assert _degenerate(np.array(["flat", "flat"], dtype=object), crit) == "constant: flat everywhere"
    assert _degenerate(np.array([None, None], dtype=object), crit) == "all missing"
    with_field = _crit(metric="sum_within", params={"field": "capacity_mw", "radius_km": 5})
    assert _degenerate(np.zeros(4), with_field) == "constant: capacity_mw 0 everywhere"


def test_the_summary_line():
    left = [LeftOut("power", "Power", "layer missing", 0.5),
            LeftOut("mfg", "Mfg", "constant: manufacturing_employment 0 everywhere", 0.18)]
    assert left_out_summary(10, left, 0.32) == (
        "kept 8 of 10 criteria, 32% of the weight; left out: power (layer missing), "
        "mfg (constant: manufacturing_employment 0 everywhere)")


def test_the_map_banner_escapes_labels_and_folds_a_long_list():
    from sitescore.webmap.controls import left_out_banner

    assert left_out_banner([], 1.0) == ""
    many = [{"criterion": f"c{i}", "label": f"<script>x{i}</script>", "reason": "layer missing",
             "weight_share": 0.1} for i in range(4)]
    html = left_out_banner(many, 0.6)
    assert "<script>" not in html and "&lt;script&gt;x3&lt;/script&gt;" in html
    assert "<details>" in html and "4 criteria left out" in html and "<b>60%</b>" in html
    assert "Partial run" not in html and "Partial run" in left_out_banner(many, 0.6, partial=True)
