"""Hostile and broken configs through the real command line (issue 18: the config, the `where`
filter language, weights, candidate limits).

Each case writes a real study to a temporary folder that already holds a previous run's outputs,
then runs `sitescore config check` and/or `sitescore run` on it. A mistake must end in exactly one
stderr line `sitescore: error: <where>: <what>` naming the file, YAML line and config key, exit
code 2, no traceback, and the previous outputs byte for byte as they were (no partial, temporary
or old folder left).
"""

from __future__ import annotations

import json
import math
import shutil
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from badinput_support import land_study
from sitescore.cli import main
from test_bad_input import PLANTS, _harmless, _with, run_cli
from test_cli import small_study

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ConfigCase:
    name: str
    make: Callable[[Path], Path]        # writes the study into the folder, returns the config
    needles: tuple[str, ...]            # each must appear in the error line
    check: bool = True                  # `config check` must catch it too (False: needs the data)
    absent: tuple[str, ...] = ()        # must not appear in the error line


def _land(**overrides: str) -> Callable[[Path], Path]:
    return lambda d: land_study(d, **overrides)


def _small(**overrides: str) -> Callable[[Path], Path]:
    return lambda d: small_study(d, **overrides)


def _where(expr: str) -> Callable[[Path], Path]:
    """The shortlist study with its power-line filter (line 11) replaced."""
    return _small(**{'where: "voltage_kv >= 345"': f"where: {json.dumps(expr)}"})


def _dem_options(block: str) -> Callable[[Path], Path]:
    """The grid study with the DEM layer written as a block (line 7) whose `options` (line 10)
    is `block`, indented under it."""
    text = "  dem:\n    reader: dem\n    path: dem.tif\n    options:\n" + textwrap.indent(block, "      ")
    return _land(**{"  dem: {reader: dem, path: dem.tif}\n": text})


def _laughs(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs": each level a list of `width` aliases of the level before."""
    lines = [f"a: &a [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * width)}]")
    return "\n".join(lines) + "\n"


MAX_CELLS_1000 = {"agencies: [BLM]": "agencies: [BLM]\n  max_cells: 1000"}
PLANT_CRITERION = PLANTS["constraints:"]

CASES = [
    # --- item 6: YAML aliases -------------------------------------------------------------
    ConfigCase("alias bomb in a layer's options", _dem_options(_laughs()),
               ("land.yaml, line 15", "YAML aliases expand to more than 10,000 values", "*d")),
    ConfigCase("alias that contains itself", _dem_options("loop: &loop [1, *loop]\n"),
               ("land.yaml, line 11", "alias *loop refers to the value it is part of")),
    # --- item 11: NaN and infinity in numeric fields ----------------------------------------
    ConfigCase("NaN value-function threshold",
               _land(**{"{kind: linear, best: 0, worst: 50}": "{kind: linear, best: 0, worst: .nan}"}),
               ("land.yaml, line 17", "criteria.power_line.value.worst", "finite number")),
    ConfigCase("infinite value-function threshold",
               _land(**{"{kind: linear, best: 0, worst: 50}": "{kind: linear, best: -.inf, worst: 50}"}),
               ("land.yaml, line 17", "criteria.power_line.value.best", "finite number")),
    ConfigCase("infinite piecewise point",
               _land(**{"{kind: linear, best: 0, worst: 50}":
                        "{kind: piecewise, points: [[0, 1], [.inf, 0]]}"}),
               ("land.yaml, line 17", "criteria.power_line.value.points", "finite number")),
    ConfigCase("NaN constraint limit",
               _land(**{"{criterion: slope, max: 10}": "{criterion: slope, max: .nan}"}),
               ("land.yaml, line 28", "constraints[0].max", "finite number")),
    ConfigCase("infinite constraint limit",
               _land(**{"{criterion: slope, max: 10}": "{criterion: slope, min: -.inf}"}),
               ("land.yaml, line 28", "constraints[0].min", "finite number")),
    ConfigCase("NaN weight", _land(**{"weight: 2": "weight: .nan"}),
               ("land.yaml, line 18", "criteria.power_line.weight",
                "must be a finite number (not NaN or infinity)"), absent=("greater than",)),
    ConfigCase("weight 1e400 (infinite)", _land(**{"weight: 2": "weight: 1.0e+400"}),
               ("land.yaml, line 18", "criteria.power_line.weight", "finite number")),
    ConfigCase("NaN in the bbox", _land(**{"[-106.8, 34.0, -106.2, 34.4]": "[-106.8, .nan, -106.2, 34.4]"}),
               ("land.yaml, line 3", "area.bbox", "finite number")),
    ConfigCase("infinite metric parameter", _with(_land(**{**PLANTS, "constraints:": PLANT_CRITERION.replace(
        "radius_km: 50", "radius_km: .inf")}), lambda d: None),
               ("criteria.plants.radius_km", "finite number")),
    ConfigCase("infinite site acres", _land(**{"min_site_acres: 2000": "min_site_acres: .inf"}),
               ("land.yaml, line 29", "sites.min_site_acres", "finite number")),
    # --- item 15: the where language --------------------------------------------------------
    ConfigCase("where: number column compared with text", _where("voltage_kv >= '345'"),
               ("small.yaml, line 11", "criteria.power_line.where", "'voltage_kv' holds numbers",
                "not the text '345' (e.g. voltage_kv >= 345)")),
    ConfigCase("where: text column compared with a number", _where("status < 5"),
               ("small.yaml, line 11", "criteria.power_line.where", "'status' holds text",
                "(e.g. status < '5')")),
    ConfigCase("where: text column equal to a number", _where("volt_class == 345"),
               ("small.yaml, line 11", "'volt_class' holds text", "(e.g. volt_class == '345')")),
    ConfigCase("where: number in a list of text", _where("voltage_kv in ['345', '500']"),
               ("small.yaml, line 11", "'voltage_kv' holds numbers")),
    ConfigCase("where: ordering with a list", _where("voltage_kv >= [345, 500]"),
               ("small.yaml, line 11", "'>=' compares with one value, not a list")),
    ConfigCase("where: list of lists", _where("voltage_kv in [[345], [500]]"),
               ("small.yaml, line 11", "a list may hold only numbers, text and True/False")),
    ConfigCase("where: True ordered", _where("voltage_kv > True"),
               ("small.yaml, line 11", "True/False can only be compared with == or !=")),
    ConfigCase("where: on a raster criterion",
               _land(**{"    variable: slope_percent\n":
                        "    variable: slope_percent\n    where: \"elevation > 1\"\n"}),
               ("land.yaml, line 24", "criteria.slope.where", "layer 'dem' is a raster", "remove 'where'")),
    ConfigCase("where: not nested 1,000 deep", _where("not " * 1000 + "voltage_kv >= 345"),
               ("small.yaml, line 11", "criteria.power_line.where", "nests and/or/not 1,000 deep",
                "at most 20")),
    ConfigCase("where: brackets nested 500 deep", _where("(" * 500 + "voltage_kv >= 345" + ")" * 500),
               ("small.yaml, line 11", "criteria.power_line.where", "cannot parse filter")),
    ConfigCase("where: 20,000 characters", _where("voltage_kv in [" + ", ".join(["345"] * 4000) + "]"),
               ("small.yaml, line 11", "criteria.power_line.where", "at most 10,000")),
    ConfigCase("where: column the layer lacks", _where("VOLTAGE >= 345"),
               ("small.yaml, line 11", "criteria.power_line.where",
                "layer 'transmission_lines' has no column 'VOLTAGE'", "voltage_kv")),
    # --- item 18: candidate limits ----------------------------------------------------------
    ConfigCase("grid cells of 1 m", _land(**{"grid: {size_km: 2}": "grid: {size_km: 0.001}"}),
               ("land.yaml, line 12", "candidates.grid.size_km", "at least 0.01 km")),
    ConfigCase("grid over max_cells",
               _land(**MAX_CELLS_1000, **{"grid: {size_km: 2}": "grid: {size_km: 0.5}"}),
               ("land.yaml, line 13", "config key 'candidates.grid.size_km'", "a 0.5 km grid over",
                "makes at least 1,6", "more than candidates.max_cells (1,000)",
                "raise candidates.grid.size_km or raise candidates.max_cells"), check=False),
    ConfigCase("H3 grid over max_cells",
               _land(**MAX_CELLS_1000, **{"grid: {size_km: 2}": "grid: {kind: h3, resolution: 9}"}),
               ("land.yaml, line 13", "config key 'candidates.grid.resolution'", "resolution 9",
                "more than candidates.max_cells (1,000)", "lower candidates.grid.resolution"), check=False),
    ConfigCase("max_cells zero", _land(**{"agencies: [BLM]": "agencies: [BLM]\n  max_cells: 0"}),
               ("land.yaml, line 11", "candidates.max_cells", "greater than or equal to 1")),
    ConfigCase("radius_km 1e308", _with(_land(**{**PLANTS, "constraints:": PLANT_CRITERION.replace(
        "radius_km: 50", "radius_km: 1.0e+308")}), lambda d: None),
               ("criteria.plants.radius_km", "less than or equal to 1000")),
    ConfigCase("buffer_km 1e308", _land(**{"exclude: {buffer_km: 0}": "exclude: {buffer_km: 1.0e+308}"}),
               ("land.yaml, line 11", "candidates.exclude.buffer_km", "less than or equal to 1000")),
    ConfigCase("min_spacing_km 1e308", _land(**{"min_spacing_km: 5": "min_spacing_km: 1.0e+308"}),
               ("land.yaml, line 29", "sites.min_spacing_km", "less than or equal to 1000")),
    # --- item 22: what the messages say, and names that cannot be folders ----------------------
    ConfigCase("bbox west out of range",
               _land(**{"[-106.8, 34.0, -106.2, 34.4]": "[-190, 34.0, -106.2, 34.4]"}),
               ("land.yaml, line 3", "area.bbox", "bbox west -190 is out of range",
                "longitude lies in -180..180"), absent=("west < east",)),
    ConfigCase("bbox north out of range",
               _land(**{"[-106.8, 34.0, -106.2, 34.4]": "[-106.8, 34.0, -106.2, 95]"}),
               ("land.yaml, line 3", "bbox north 95 is out of range", "latitude lies in -90..90")),
    ConfigCase("bbox west east of east",
               _land(**{"[-106.8, 34.0, -106.2, 34.4]": "[-106.2, 34.0, -106.8, 34.4]"}),
               ("land.yaml, line 3", "bbox west (-106.2) must be less than east (-106.8)")),
    ConfigCase("study named CON", _land(**{"study: land": "study: CON"}),
               ("land.yaml, line 1", "config key 'study'", "'CON' is a reserved device name on Windows")),
    ConfigCase("study named lpt1.txt", _land(**{"study: land": "study: lpt1.txt"}),
               ("land.yaml, line 1", "config key 'study'", "reserved device name")),
    ConfigCase("study named COM¹", _land(**{"study: land": "study: COM¹"}),
               ("land.yaml, line 1", "config key 'study'", "reserved device name")),
    ConfigCase("study name ending in a dot", _land(**{"study: land": "study: land."}),
               ("land.yaml, line 1", "config key 'study'", "not ending in '.'")),
    ConfigCase("study name starting with _", _land(**{"study: land": "study: _land"}),
               ("land.yaml, line 1", "config key 'study'", "start with a letter or digit")),
    ConfigCase("study name of 101 characters", _land(**{"study: land": "study: " + "x" * 101}),
               ("land.yaml, line 1", "config key 'study'", "at most 100 characters")),
    ConfigCase("criterion named NUL", _land(**{"  power_line:\n": "  NUL:\n"}),
               ("land.yaml, line 14", "config key 'criteria.NUL'", "reserved device name")),
    ConfigCase("criterion name ending in a dot", _land(**{"  power_line:\n": "  power.:\n"}),
               ("land.yaml, line 14", "config key 'criteria.power.'", "not ending in '.'")),
    ConfigCase("criterion name with a slash", _land(**{"  power_line:\n": "  power/line:\n"}),
               ("land.yaml, line 14", "config key 'criteria.power/line'", "folder or file name")),
]


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> Path:
    """A folder holding the outputs of good runs of both studies (runs/ and maps/)."""
    base = tmp_path_factory.mktemp("previous")
    for study in (land_study(base / "land"), small_study(_mkdir(base / "small"))):
        result, _ = run_cli(base, study)
        assert result.exit_code == 0, result.output
    shutil.rmtree(base / "cache", ignore_errors=True)
    return base


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under runs/ and maps/ with its bytes (the lock files runs hold excepted)."""
    out = {}
    for kind in ("runs", "maps"):
        for p in sorted((folder / kind).rglob("*")):
            if p.name.endswith(".lock"):
                continue
            out[str(p.relative_to(folder))] = p.read_bytes() if p.is_file() else b"<dir>"
    return out


def _one_error_line(result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sitescore: error: "), lines[0]
    return lines[0]


def _check_cli(folder: Path, cfg: Path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(main, ["config", "check", str(cfg)], catch_exceptions=False)
    return result, caught


#: Every case through `sitescore run`, and through `config check` unless it needs the data.
RUNS = [pytest.param(case, command, id=f"{command}: {case.name}") for case in CASES
        for command in ("config check", "run") if command == "run" or case.check]


@pytest.mark.parametrize("case,command", RUNS)
def test_bad_config_ends_in_one_line(case, command, previous, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    for kind in ("runs", "maps"):
        shutil.copytree(previous / kind, tmp_path / kind)
    before = _snapshot(tmp_path)
    cfg = case.make(tmp_path)
    result, caught = (_check_cli if command == "config check" else run_cli)(tmp_path, cfg)
    line = _one_error_line(result)
    for needle in case.needles:
        assert needle in line, (needle, line)
    for word in case.absent:
        assert word not in line, (word, line)
    assert len(line) < 600, line
    assert capfd.readouterr().err == ""
    assert [str(w.message) for w in caught if not _harmless(w)] == []
    assert _snapshot(tmp_path) == before  # previous outputs intact, nothing half-written
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    print(f"{command:<12} {case.name:<45} {line}")


def test_alias_bomb_is_small_and_refused_before_it_grows(tmp_path):
    """The bomb above is about a kilobyte of YAML that would expand to 9**9 values."""
    assert len(_laughs()) < 600
    cfg = _dem_options(_laughs())(tmp_path)
    result, _ = _check_cli(tmp_path, cfg)
    assert "more than 10,000" in _one_error_line(result)


# --- what still works ----------------------------------------------------------------------

def test_aliases_within_the_budget_still_work(tmp_path):
    """Sharing a value function by anchor and alias (the everyday use) is fine."""
    cfg = land_study(tmp_path, **{
        "{kind: linear, best: 0, worst: 50}": "&lin {kind: linear, best: 0, worst: 50}",
        "{kind: linear, best: 0, worst: 10}": "*lin"})
    result, _ = _check_cli(tmp_path, cfg)
    assert result.exit_code == 0, result.output


def test_unicode_study_and_criterion_names_run(tmp_path, monkeypatch):
    """Names in any script are folder, file and column names: a Greek study, a CJK criterion."""
    monkeypatch.chdir(tmp_path)
    cfg = small_study(tmp_path, **{"study: small": "study: μελέτη-1.β", "  power_line:\n": "  電力:\n"})
    result, _ = _check_cli(tmp_path, cfg)
    assert result.exit_code == 0, result.output
    result, _ = run_cli(tmp_path, cfg, "--no-map")
    assert result.exit_code == 0, result.output
    sites = pd.read_csv(tmp_path / "runs" / "μελέτη-1.β" / "sites.csv")
    assert "value__電力" in sites.columns


def test_every_shipped_config_preset_and_the_demo_pass(tmp_path):
    """The new name, number and filter rules refuse none of the configs sitescore ships."""
    from sitescore.config import load_config
    from sitescore.demo import generate_demo

    studies = sorted((ROOT / "configs").glob("*.yaml"))
    presets = sorted((ROOT / "src" / "sitescore" / "presets").glob("*.yaml"))
    assert studies and presets
    demo = generate_demo(tmp_path / "demo")
    loaded = 0
    for study in [*studies, demo]:
        load_config(study)
        for preset in presets:
            load_config(study, preset=preset)
            loaded += 1
    assert loaded == (len(studies) + 1) * len(presets)


def _two_criteria(folder: Path, w_near: str, w_far: str) -> Path:
    """The shortlist study scored on two opposite criteria: near the line (Alpha is nearer) and
    far from it (Beta is farther); the weights decide who ranks first."""
    _mkdir(folder)
    return small_study(folder, **{"    weight: 1\n": f"    weight: {w_near}\n  far_from_line:\n"
                                  "    metric: distance_to\n    layer: transmission_lines\n"
                                  "    value: {kind: linear, best: 50, worst: 0}\n"
                                  f"    weight: {w_far}\n"})


@pytest.mark.parametrize("huge,plain,first", [(("1.6e+308", "0.8e+308"), ("2", "1"), "Alpha"),
                                              (("0.8e+308", "1.6e+308"), ("1", "2"), "Beta"),
                                              (("1.0e+308", "1.0e+308"), ("1", "1"), None)])
def test_weights_whose_sum_overflows_rank_as_their_ratios(huge, plain, first, tmp_path, monkeypatch):
    """Two weights of ~1e308 sum to inf: normalised naively every weight (and score) would be 0
    and the ranking arbitrary. They must rank exactly as the same ratios written small."""
    monkeypatch.chdir(tmp_path)
    out = {}
    for label, weights in (("huge", huge), ("plain", plain)):
        cfg = _two_criteria(tmp_path / label, *weights)
        result, _ = run_cli(tmp_path / label, cfg, "--no-map")
        assert result.exit_code == 0, result.output
        sites = pd.read_csv(tmp_path / label / "runs" / "small" / "sites.csv")
        manifest = json.loads((tmp_path / label / "runs" / "small" / "manifest.json").read_text())
        out[label] = (sites, manifest["weights"]["normalised"])
    (huge_sites, huge_w), (plain_sites, plain_w) = out["huge"], out["plain"]
    assert huge_w == plain_w and math.isclose(sum(huge_w.values()), 1.0, abs_tol=1e-6)
    assert huge_sites["name"].tolist() == plain_sites["name"].tolist()
    assert np.allclose(huge_sites["score"], plain_sites["score"], rtol=0, atol=1e-9)
    assert (huge_sites["score"] > 0.3).all()
    if first is not None:
        assert huge_sites["name"].iloc[0] == first
        assert huge_sites["score"].iloc[0] > huge_sites["score"].iloc[1]


def test_weight_normalisation_is_safe_in_every_api():
    """mcda.aggregate, scoring.score_table and Config.normalized_weights on overflowing weights."""
    from sitescore.config import CriterionConfig
    from sitescore.mcda import aggregate, rescale_weights
    from sitescore.scoring import score_table

    values = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    for method in ("weighted_sum", "weighted_product", "topsis"):
        assert np.allclose(aggregate(values, np.array([1.6e308, 0.8e308]), method),
                           aggregate(values, np.array([2.0, 1.0]), method))
    crit = {n: CriterionConfig(metric="distance_to", layer="x", weight=1,
                               value={"kind": "linear", "best": 1, "worst": 0}) for n in ("a", "b")}
    raw = {"a": values[:, 0], "b": values[:, 1]}
    huge = score_table(raw, crit, {"a": 1.6e308, "b": 0.8e308})
    assert np.allclose(huge["score"], [2 / 3, 1 / 3, 0.5])
    assert np.allclose(huge["weight__a"], 2 / 3)
    assert rescale_weights([2.0, 1.0]) == [2.0, 1.0]  # ordinary weights untouched, to the bit
    assert rescale_weights([1e308, 1e308]) == [1.0, 1.0]
    assert rescale_weights([1e-310, 3e-310]) == [1e-310 / 3e-310, 1.0]


def test_config_weights_are_rescaled_only_when_their_sum_overflows(tmp_path):
    from sitescore.config import load_config

    cfg = load_config(land_study(tmp_path, **{"weight: 2\n": "weight: 1.6e+308\n",
                                              "weight: 1\n": "weight: 0.8e+308\n"}))
    assert cfg.normalized_weights() == pytest.approx({"power_line": 2 / 3, "slope": 1 / 3})
    assert [c.weight for c in cfg.criteria.values()] == [1.0, 0.5]
    cfg = load_config(land_study(tmp_path / "b", **{"weight: 2\n": "weight: 3\n"}))
    assert [c.weight for c in cfg.criteria.values()] == [3.0, 1.0]


# --- the manifest is strict JSON -----------------------------------------------------------

def _strict_json(text: str):
    def refuse(name: str):
        raise AssertionError(f"{name} in the manifest")
    return json.loads(text, parse_constant=refuse)


def test_manifest_writes_nan_and_infinity_as_null(tmp_path):
    from sitescore.outputs import write_manifest

    path = write_manifest(tmp_path / "m.json", {
        "a": float("nan"), "b": np.float64("inf"),
        "c": [1.5, np.float32("nan"), (np.float64(2.0), -math.inf)],
        "d": {"e": {"f": float("-inf")}, "g": np.int64(3)}, "h": Path("x")})
    assert _strict_json(path.read_text()) == {"a": None, "b": None, "c": [1.5, None, [2.0, None]],
                                              "d": {"e": {"f": None}, "g": 3}, "h": "x"}


def test_a_run_manifest_is_strict_json(previous):
    for study in ("land", "small"):
        manifest = _strict_json((previous / "runs" / study / "manifest.json").read_text())
        assert manifest["study"] == study


# --- the filter language on its own ---------------------------------------------------------

def test_filter_runtime_mismatches_are_one_line_filter_errors():
    """What a run raises when the layer's columns are only known once read (pipeline turns a
    KeyError into the criterion's `where` error)."""
    from sitescore.filters import FilterError, parse_where

    df = pd.DataFrame({"voltage_kv": [69.0, 345.0], "status": ["A", "B"]})
    for expr, words in [("voltage_kv >= '345'", "'voltage_kv' holds numbers"),
                        ("status < 5", "'status' holds text"),
                        ("status in [1, 2]", "'status' holds text"),
                        ("volts > 1", "no column 'volts'")]:
        with pytest.raises(KeyError) as err:
            parse_where(expr)(df)
        assert isinstance(err.value, FilterError)
        assert words in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(FilterError, match="raster"):
        parse_where("voltage_kv > 1")(object())  # a raster layer has no columns
    assert parse_where("voltage_kv >= 345")(df).tolist() == [False, True]


def test_filter_limits():
    from sitescore.filters import MAX_DEPTH, MAX_LENGTH, parse_where

    parse_where("not " * MAX_DEPTH + "x > 1")
    with pytest.raises(ValueError, match=f"nests and/or/not {MAX_DEPTH + 1} deep"):
        parse_where("not " * (MAX_DEPTH + 1) + "x > 1")
    deep_or = "x > 1"
    for _ in range(MAX_DEPTH + 1):
        deep_or = f"(x > 1 or {deep_or})"
    with pytest.raises(ValueError, match="nests"):
        parse_where(deep_or)
    with pytest.raises(ValueError, match="characters long") as err:
        parse_where("x > " + "1" * MAX_LENGTH)
    assert len(str(err.value)) < 200  # the filter is quoted shortened
    with pytest.raises(ValueError, match="400,005 characters long"):
        parse_where("not " * 100_000 + "x > 1")  # refused by its length, never parsed
    with pytest.raises(ValueError, match=r"cannot parse filter .*too many nested parentheses"):
        parse_where("(" * 300 + "x > 1" + ")" * 300)


def test_filter_kinds_against_the_schema():
    from sitescore.filters import parse_where
    from sitescore.schema import LAYERS

    rail = LAYERS["rail"].columns
    airports = LAYERS["airports"].columns
    parse_where("class1 == True and tracks >= 2", rail)
    parse_where("airport_type in ['large_airport'] and longest_runway_ft >= 8000", airports)
    for expr, words in [("class1 > True", "only be compared with == or !="),
                        ("class1 == 'yes'", "'class1' holds True/False"),
                        ("tracks == True", "'tracks' holds numbers"),
                        ("network in ['M', 1]", "'network' holds text")]:
        with pytest.raises(ValueError, match=words.replace("(", r"\(")):
            parse_where(expr, rail)


def test_cell_estimate_and_the_default_limit():
    """The default limit fits a national 2 km run (about 1 million km² of BLM land) many times."""
    import shapely

    from sitescore.candidates import check_cell_budget, estimated_cells
    from sitescore.config import MAX_CELLS, CandidatesConfig
    from sitescore.errors import SitescoreError

    national = shapely.box(0, 0, 1_000_000, 1_000_000)  # 1,000,000 km²
    cfg = CandidatesConfig()
    assert cfg.max_cells == MAX_CELLS == 5_000_000
    assert estimated_cells(national, cfg) == 250_000
    check_cell_budget(national, cfg)
    fine = CandidatesConfig(grid={"size_km": 0.1})
    assert estimated_cells(national, fine) == 100_000_000
    with pytest.raises(SitescoreError, match=r"more than candidates\.max_cells"):
        check_cell_budget(national, fine)
