"""`sitescore validate`: a study tried on past siting decisions, through the real command line.

A hand-made case list with a known answer (chosen sites right on the line a distance criterion
measures, the ones turned down far from it), the exact AUC and percentiles against an
independent pairwise count, seeded comparison points, points drawn on the candidate land of a
grid study, every bad input as one line with nothing written, and the real national layers
with a dozen announced siting decisions (tests/data/validate_cases.csv, a source per row).
"""

from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from badinput_support import PARCEL, land_study
from helpers import SHARED_DATA, SHARED_IMPORTS, one_line_error
from sitescore.cli import main
from sitescore.validate import Region, auc, percentile_among, random_points

CASES_FILE = Path(__file__).parent / "data" / "validate_cases.csv"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
#: The line the known-answer study measures distances to (a meridian: straight in EPSG:5070).
LINE_LON = -106.5


def line_study(folder: Path) -> Path:
    """A shortlist study in a New Mexico box: distance to one 345 kV line (which separates) and
    to a line far from every case (which does not), with a states layer."""
    folder.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame({"ID": ["1", "2"], "VOLTAGE": [345.0, 115.0], "VOLT_CLASS": ["345", "100-161"],
                      "STATUS": ["IN SERVICE"] * 2, "OWNER": ["PNM"] * 2},
                     geometry=[shapely.LineString([(LINE_LON, 32.0), (LINE_LON, 36.9)]),
                               shapely.LineString([(-108.9, 31.5), (-108.9, 31.6)])],
                     crs="EPSG:4326").to_file(folder / "lines.geojson")
    gpd.GeoDataFrame({"STATEFP": ["35"], "STUSPS": ["NM"], "NAME": ["New Mexico"]},
                     geometry=[shapely.box(-109.05, 31.33, -103.0, 37.0)],
                     crs="EPSG:4326").to_file(folder / "states.geojson")
    pd.DataFrame({"id": ["A"], "name": ["Alpha"], "lon": [-106.3], "lat": [35.0]}).to_csv(
        folder / "sites.csv", index=False)
    (folder / "line.yaml").write_text(textwrap.dedent("""\
        study: line
        data_dir: .
        layers:
          sites: {reader: shortlist, path: sites.csv}
          states: {reader: census_states, path: states.geojson}
          lines: {reader: hifld_transmission_lines, path: lines.geojson}
        candidates: {source: sites}
        criteria:
          power_line:
            label: Distance to a 345 kV line
            metric: distance_to
            layer: lines
            where: "voltage_kv >= 345"
            value: {kind: linear, best: 0, worst: 50}
            weight: 3
          far_line:
            metric: distance_to
            layer: lines
            where: "voltage_kv < 200"
            value: {kind: linear, best: 0, worst: 20}
            weight: 1
        """))
    return folder / "line.yaml"


def line_cases(folder: Path, **changes: list) -> Path:
    """Three chosen sites on the line, two turned down 200+ km east of it, in two groups."""
    table = {"id": ["1", "2", "3", "4", "5"], "name": ["on A", "on B", "on C", "far D", "far E"],
             "group": ["a", "a", "b", "a", "b"], "chosen": ["yes", "True", "1", "no", "0"],
             "lon": [LINE_LON, LINE_LON, LINE_LON, -104.0, -103.5],
             "lat": [34.5, 35.0, 35.5, 35.0, 34.5], "source": ["hand-made"] * 5,
             "score": ["their own"] * 5}  # a column the outputs also have: kept as case_score
    table.update(changes)
    pd.DataFrame(table).to_csv(folder / "cases.csv", index=False)
    return folder / "cases.csv"


def run_validate(folder: Path, cases: Path, cfg: Path, *extra: str):
    args = ["validate", str(cases), str(cfg), "--runs-dir", str(folder / "runs"),
            "--cache-dir", str(folder / "cache"), *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_known_answer_chosen_on_the_line_not_chosen_far(tmp_path):
    cfg = line_study(tmp_path)
    result = run_validate(tmp_path, line_cases(tmp_path), cfg, "--random-per-state", "40")
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs" / "line-validate"
    summary = pd.read_csv(out / "summary.csv").set_index("group")
    assert list(summary.index) == ["all cases", "a", "b"]
    assert summary.loc["all cases", ["chosen", "not_chosen", "random"]].tolist() == [3, 2, 40]
    for group in summary.index:
        assert summary.loc[group, "auc_chosen_vs_not_chosen"] == 1.0
        assert summary.loc[group, "auc_chosen_vs_random"] == 1.0
        assert summary.loc[group, "median_percentile"] == 100.0
        assert summary.loc[group, "criterion_1"].startswith("power_line (AUC 1.00")
    criteria = pd.read_csv(out / "criteria.csv")
    far = criteria[(criteria["group"] == "all cases") & (criteria["criterion"] == "far_line")].iloc[0]
    assert far["auc"] == 0.5 and far["rank"] == 2  # every case is beyond its 20 km: all tie at 0
    points = pd.read_csv(out / "validation.csv")
    assert len(points) == 5 + 40 and set(points["kind"]) == {"case", "random"}
    cases = points[points["kind"] == "case"]
    assert cases["raw__power_line"].iloc[:3].max() < 1e-6           # right on the line
    assert (cases["raw__power_line"].iloc[3:] > 150).all()          # far beyond 'worst'
    assert cases["source"].eq("hand-made").all() and cases["state"].eq("NM").all()
    assert cases["case_score"].eq("their own").all()
    assert np.allclose(cases["score"], [0.75] * 3 + [0] * 2)  # weights 3:1, far_line 0 for all
    assert points.loc[points["kind"] == "random", "lon"].between(-109.05, -103.0).all()
    record = json.loads((out / "validate.json").read_text())
    assert record["random_per_state"] == 40 and record["seed"] == 1
    assert "state boundaries of layer 'states'" in record["comparison_points"]
    text = result.output
    assert "3 chosen, 2 not chosen" in text and "state boundaries of layer 'states'" in text
    assert "power_line (AUC 1.00, +1.00)" in text


def test_a_group_with_no_case_turned_down_is_set_against_the_random_points(tmp_path):
    cfg = line_study(tmp_path)
    cases = line_cases(tmp_path, group=["a", "a", "b", "a", "a"])
    result = run_validate(tmp_path, cases, cfg, "--random-per-state", "20")
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "runs/line-validate/summary.csv").set_index("group")
    assert np.isnan(summary.loc["b", "auc_chosen_vs_not_chosen"])
    assert summary.loc["b", "separating_against"] == "random points"
    assert "b: separating chosen from random points: power_line" in result.output


def _pairwise_auc(pos, neg):
    """Independent: every pair counted, ties half."""
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_is_mann_whitney_u_with_ties_half():
    assert auc(np.array([1.0, 2.0]), np.array([1.0, 0.0])) == 3.5 / 4
    assert auc(np.array([0.3] * 3), np.array([0.3] * 4)) == 0.5
    assert np.isnan(auc(np.array([1.0]), np.array([])))
    rng = np.random.default_rng(5)
    for _ in range(20):
        pos, neg = rng.integers(0, 6, 13).astype(float), rng.integers(0, 6, 17).astype(float)
        assert auc(pos, neg) == pytest.approx(_pairwise_auc(pos, neg), abs=1e-15)
    # NaN is left out on either side
    assert auc(np.array([2.0, np.nan]), np.array([1.0, np.nan, 3.0])) == 0.5


def test_percentile_counts_ties_half():
    got = percentile_among(np.array([0.0, 2.0, 5.0, 9.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert got.tolist() == [0.0, 37.5, 100.0, 100.0]
    assert np.isnan(percentile_among(np.array([1.0]), np.array([]))).all()


def test_comparison_points_are_seeded_per_state():
    nm = shapely.box(-1_200_000, 1_200_000, -900_000, 1_600_000)
    az = shapely.box(-1_700_000, 1_200_000, -1_300_000, 1_600_000)
    one = random_points(Region({"NM": nm, "AZ": az}, "boxes"), 25, seed=3)
    again = random_points(Region({"NM": nm, "AZ": az}, "boxes"), 25, seed=3)
    pd.testing.assert_frame_equal(one, again)
    other = random_points(Region({"NM": nm, "AZ": az}, "boxes"), 25, seed=4)
    assert not np.allclose(one["lon"], other["lon"])
    # a state's points do not depend on which other states are in the list
    alone = random_points(Region({"NM": nm}, "boxes"), 25, seed=3)
    pd.testing.assert_frame_equal(alone.reset_index(drop=True),
                                  one[one["state"] == "NM"].reset_index(drop=True))
    assert one.groupby("state").size().to_dict() == {"AZ": 25, "NM": 25}


def test_a_grid_study_draws_its_comparison_points_on_its_candidate_land(tmp_path):
    """The land study's one BLM parcel is the only candidate land: every point lies on it."""
    cfg = land_study(tmp_path, dem=False, **{
        "layers:\n": "layers:\n  states: {reader: census_states, path: states.geojson}\n"})
    cases = line_cases(tmp_path, lon=[-106.5, -106.45, -106.55, -104.0, -103.5],
                       lat=[34.15, 34.2, 34.25, 35.0, 34.5])
    result = run_validate(tmp_path, cases, cfg, "--random-per-state", "30", "--seed", "9")
    assert result.exit_code == 0, result.output
    assert "candidate land of layer 'federal_land' (BLM" in result.output
    points = pd.read_csv(tmp_path / "runs/land-validate/validation.csv")
    rand = points[points["kind"] == "random"]
    assert len(rand) == 30
    west, south, east, north = PARCEL
    assert rand["lon"].between(west, east).all() and rand["lat"].between(south, north).all()
    first = rand[["lon", "lat"]].to_numpy()
    again = run_validate(tmp_path, cases, cfg, "--random-per-state", "30", "--seed", "9")
    assert again.exit_code == 0, again.output
    rerun = pd.read_csv(tmp_path / "runs/land-validate/validation.csv")
    np.testing.assert_array_equal(rerun.loc[rerun["kind"] == "random", ["lon", "lat"]].to_numpy(), first)


def _cases_text(folder: Path, text: str) -> Path:
    (folder / "cases.csv").write_text(textwrap.dedent(text))
    return folder / "cases.csv"


HEADER = "id,name,chosen,lon,lat\n"
BAD_CASES = {
    "no such file": (lambda d: d / "absent.csv", ("absent.csv",)),
    "chosen column missing": (lambda d: _cases_text(d, "id,lon,lat\n1,-106.5,35\n"),
                              ("cases.csv", "field 'chosen'", "required column missing")),
    "lon not a number": (lambda d: _cases_text(d, HEADER + "1,a,yes,-106.5,35\n2,b,no,east,35\n"),
                         ("cases.csv", "field 'lon'", "row 2 (line 3)", "'east'")),
    "lat out of range": (lambda d: _cases_text(d, HEADER + "1,a,yes,-106.5,95\n"),
                         ("field 'lat'", "row 1 (line 2)", "'95'", "latitude")),
    "lat blank": (lambda d: _cases_text(d, HEADER + "1,a,yes,-106.5,\n"),
                  ("field 'lat'", "row 1 (line 2)", "a blank")),
    "chosen neither yes nor no": (lambda d: _cases_text(d, HEADER + "1,a,yes,-106.5,35\n2,b,maybe,-104,35\n"),
                                  ("field 'chosen'", "row 2 (line 3)", "'maybe'", "yes/no")),
    "chosen blank": (lambda d: _cases_text(d, HEADER + "1,a,,-106.5,35\n"),
                     ("field 'chosen'", "row 1 (line 2)", "a blank")),
    "nothing chosen": (lambda d: _cases_text(d, HEADER + "1,a,no,-106.5,35\n2,b,0,-104,35\n"),
                       ("field 'chosen'", "no case is marked chosen")),
    "id twice": (lambda d: _cases_text(d, HEADER + "7,a,yes,-106.5,35\n7,b,no,-104,35\n"),
                 ("field 'id'", "row 2 (line 3)", "'7'", "row 1 (line 2)")),
    "header only": (lambda d: _cases_text(d, HEADER), ("cases.csv", "holds no cases")),
    "not text": (lambda d: (d / "cases.csv", (d / "cases.csv").write_bytes(b"\x00\x01" * 40))[0],
                 ("cases.csv", "not a text table")),
    "case in no state": (lambda d: _cases_text(d, HEADER + "1,Paris,yes,2.35,48.85\n"),
                         ("cases.csv", "row 1 (line 2)", "lies in no state", "NM")),
}
BAD_OPTIONS = {
    "random per state not a number": (("--random-per-state", "many"), ("--random-per-state", "'many'")),
    "random per state zero": (("--random-per-state", "0"), ("--random-per-state", "at least 1")),
    "seed negative": (("--seed", "-2"), ("--seed", "at least 0")),
    "radius zero": (("--radius-km", "0"), ("--radius-km", "positive")),
    "unknown preset": (("--preset", "no_such_preset"), ("no_such_preset",)),
}


def _outputs(folder: Path) -> list[str]:
    runs = folder / "runs"
    return sorted(p.name for p in runs.iterdir() if not p.name.endswith(".lock")) if runs.exists() else []


@pytest.mark.parametrize("name", list(BAD_CASES))
def test_bad_cases_end_in_one_line_and_write_nothing(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = line_study(tmp_path)
    make, needles = BAD_CASES[name]
    line = one_line_error(run_validate(tmp_path, make(tmp_path), cfg), *needles)
    assert _outputs(tmp_path) == []
    print(f"{name:<32} {line}")


@pytest.mark.parametrize("name", list(BAD_OPTIONS))
def test_bad_options_end_in_one_line(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = line_study(tmp_path)
    options, needles = BAD_OPTIONS[name]
    line = one_line_error(run_validate(tmp_path, line_cases(tmp_path), cfg, *options), *needles)
    assert _outputs(tmp_path) == []
    print(f"{name:<32} {line}")


def test_a_config_with_no_states_to_draw_in_says_so(tmp_path):
    cfg = line_study(tmp_path)
    cfg.write_text(cfg.read_text().replace("  states: {reader: census_states, path: states.geojson}\n", ""))
    one_line_error(run_validate(tmp_path, line_cases(tmp_path), cfg), "'layers'", "states", "counties")
    assert _outputs(tmp_path) == []


def test_a_failed_validation_leaves_the_previous_outputs_as_they_were(tmp_path):
    cfg = line_study(tmp_path)
    assert run_validate(tmp_path, line_cases(tmp_path), cfg, "--random-per-state", "10").exit_code == 0
    out = tmp_path / "runs" / "line-validate"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = _cases_text(tmp_path, HEADER + "1,a,yes,-106.5,35\n2,b,perhaps,-104,35\n")
    one_line_error(run_validate(tmp_path, bad, cfg), "'perhaps'")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _outputs(tmp_path) == ["line-validate"]  # no temporary folder left beside it


@pytest.fixture(scope="module")
def national_data(tmp_path_factory):
    """The shared national files imported (linked) as catalog datasets, as a planner would."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    root = tmp_path_factory.mktemp("raw")
    for dataset, rel in SHARED_IMPORTS:
        result = CliRunner().invoke(main, ["data", "import", dataset, str(SHARED_DATA / rel), "--link",
                                           "--data-dir", str(root)])
        assert result.exit_code == 0, result.output
    return root


def test_the_case_list_cites_a_source_for_every_row():
    cases = pd.read_csv(CASES_FILE, dtype=str, keep_default_na=False)
    assert len(cases) >= 12 and (cases["source"].str.len() > 20).all()
    assert set(cases["chosen"]) == {"yes", "no"} and cases["id"].is_unique


@pytest.mark.shared_data
@pytest.mark.parametrize("preset", [None, "data_center"])
def test_announced_sites_on_the_national_layers(preset, national_data, tmp_path):
    """A dozen announced plants and data centres, and sites their companies passed over, on the
    US shortlist's national layers; comparison points over the states the counties make up."""
    extra = ("--preset", preset, "--allow-partial") if preset else ()
    result = run_validate(tmp_path, CASES_FILE, CONFIGS / "us_shortlist.yaml", "--data-dir",
                          str(national_data), "--random-per-state", "30", *extra)
    assert result.exit_code == 0, result.output
    study = "us-shortlist" + (f"-{preset}" if preset else "")
    out = tmp_path / "runs" / f"{study}-validate"
    points = pd.read_csv(out / "validation.csv", keep_default_na=False, na_values=[""])
    cases = points[points["kind"] == "case"]
    # each case lands in the state its name ends with
    assert (cases["name"].str[-2:] == cases["state"]).all(), cases[["name", "state"]]
    states = sorted(set(cases["state"]))
    assert (points[points["kind"] == "random"].groupby("state").size() == 30).all()
    assert sorted(set(points.loc[points["kind"] == "random", "state"])) == states
    assert points["score"].between(0, 1).all()
    summary = pd.read_csv(out / "summary.csv").set_index("group")
    assert list(summary.index) == ["all cases", "fab", "battery", "data_center"]
    overall = summary.loc["all cases"]
    assert (overall["chosen"], overall["not_chosen"], overall["random"]) == (12, 3, 30 * len(states))
    # announced sites sit near freeways, plants and labour far more often than random land does
    assert overall["auc_chosen_vs_random"] > 0.6
    assert 0 <= overall["auc_chosen_vs_not_chosen"] <= 1
    record = json.loads((out / "validate.json").read_text())
    assert "counties of layer 'counties'" in record["comparison_points"]
    assert record["criteria_configured"] >= len(record["criteria"])
    if preset:  # the preset's criteria without a national layer are named, with their weight
        assert record["left_out"] and record["weight_kept"] < 0.7 and record["partial"]
        assert "below the minimum: --allow-partial" in result.output
        assert "left out" in result.output
    else:
        assert record["weight_kept"] == 1 and not record["partial"]
    print("\n".join(result.output.splitlines()[:12]))


@pytest.mark.shared_data
def test_a_preset_mostly_left_out_stops_the_validation_unless_allowed(national_data, tmp_path):
    """Calibrating a preset on a fraction of its weight would say little about the preset."""
    result = run_validate(tmp_path, CASES_FILE, CONFIGS / "us_shortlist.yaml", "--data-dir",
                          str(national_data), "--preset", "data_center")
    one_line_error(result, "min_weight_kept", "--allow-partial")
    assert _outputs(tmp_path) == []
