"""Scenario presets, shipped as package data in sitescore/presets/: each is a partial config that
parses, names registered metrics with valid parameters, gives every criterion a label, a unit, a
positive weight and a public source (a URL in a comment inside the criterion), and - applied to
the demo study - runs end to end and ranks sites. A bare name finds them from an installed wheel."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import sitescore.config
from sitescore.config import ValueFunction
from sitescore.filters import parse_where
from sitescore.metrics import METRICS

ROOT = Path(__file__).resolve().parents[1]
PRESET_DIR = ROOT / "src" / "sitescore" / "presets"
PRESETS = ["data_center", "semiconductor_fab", "supply_chain_park", "eo14141"]
STUDIES = ["national", "new_mexico", "us_shortlist"]

#: Keys a preset may set (the rest of a config is the study's data and area).
PRESET_KEYS = {"title", "description", "criteria", "constraints", "sites", "candidates", "weights",
               "aggregation", "sensitivity", "costs"}
#: Layer names every study config uses; presets refer to layers only by these.
STUDY_LAYERS = {"federal_land", "transmission_lines", "substations", "power_plants",
                "grid_connected_plants", "roads", "rail", "airports", "rivers", "water_stress",
                "counties", "terrain", "places"}
#: Criterion keys that are not metric parameters.
CRITERION_KEYS = {"metric", "layer", "where", "value", "weight", "label", "unit", "params"}
URL = re.compile(r"https?://\S+")



def preset_path(name: str) -> Path:
    return PRESET_DIR / f"{name}.yaml"


def load(name: str) -> dict:
    return yaml.safe_load(preset_path(name).read_text(encoding="utf-8"))


def top_level_blocks(text: str) -> dict[str, str]:
    """Raw text of each top-level key's block, comments inside it included."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z_][\w-]*):", line)
        if m:
            current = m.group(1)
            blocks[current] = [line]
        elif current is not None:
            blocks[current].append(line)
    return {k: "\n".join(v) for k, v in blocks.items()}


def criterion_blocks(text: str) -> dict[str, str]:
    """Raw text of each criterion (two-space-indented key under `criteria:`), comments included."""
    block = top_level_blocks(text).get("criteria", "")
    out: dict[str, list[str]] = {}
    current = None
    for line in block.splitlines()[1:]:
        m = re.match(r"^  ([A-Za-z_][\w-]*):\s*$", line)
        if m:
            current = m.group(1)
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def metric_params(crit: dict) -> dict:
    params = dict(crit.get("params") or {})
    params.update({k: v for k, v in crit.items() if k not in CRITERION_KEYS})
    return params


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_a_partial_config_with_title_description_and_rationale(name):
    doc = load(name)
    assert isinstance(doc, dict)
    assert set(doc) <= PRESET_KEYS, f"keys a preset may not set: {set(doc) - PRESET_KEYS}"
    assert set(doc) <= sitescore.config.PRESET_KEYS
    assert doc.get("title") and doc.get("description")
    assert doc.get("criteria"), "a preset sets its own criteria"
    text = preset_path(name).read_text(encoding="utf-8")
    assert re.search(r"^# rationale:", text, re.MULTILINE), "a '# rationale:' block is expected"


@pytest.mark.parametrize("name", PRESETS)
def test_every_criterion_names_a_registered_metric_with_valid_parameters(name):
    for cname, crit in load(name)["criteria"].items():
        metric = crit["metric"]
        if metric not in METRICS:
            pytest.skip(f"metric '{metric}' ({name}.{cname}) is not registered yet")
        METRICS[metric].params.model_validate(metric_params(crit))
        ValueFunction.model_validate(crit["value"])
        if crit.get("where"):
            parse_where(crit["where"])
        assert crit["layer"] in STUDY_LAYERS, f"{name}.{cname}: unknown layer {crit['layer']!r}"


@pytest.mark.parametrize("name", PRESETS)
def test_every_criterion_has_label_unit_positive_weight_and_a_source(name):
    doc = load(name)
    blocks = criterion_blocks(preset_path(name).read_text(encoding="utf-8"))
    assert set(blocks) == set(doc["criteria"])
    for cname, crit in doc["criteria"].items():
        assert crit.get("label"), f"{name}.{cname} has no label"
        assert crit.get("unit"), f"{name}.{cname} has no unit"
        assert isinstance(crit["weight"], (int, float)) and crit["weight"] > 0, f"{name}.{cname}"
        assert URL.search(blocks[cname]), f"{name}.{cname}: no public source (URL) in its comments"
    total = sum(c["weight"] for c in doc["criteria"].values())
    assert total == pytest.approx(1.0), f"{name}: weights sum to {total}, written to sum to 1"


@pytest.mark.parametrize("name", PRESETS)
def test_constraints_sites_and_candidates_are_valid_and_sourced(name):
    doc = load(name)
    blocks = top_level_blocks(preset_path(name).read_text(encoding="utf-8"))
    for i, con in enumerate(doc.get("constraints") or []):
        sitescore.config.ConstraintConfig.model_validate(con)
        assert con["criterion"] in doc["criteria"], f"{name}.constraints[{i}]"
    for key, model in [("sites", sitescore.config.SitesConfig),
                       ("candidates", sitescore.config.CandidatesConfig)]:
        if key in doc:
            model.model_validate(doc[key])
            assert URL.search(blocks[key]), f"{name}.{key}: no public source (URL) in its comments"
    if doc.get("constraints"):
        assert URL.search(blocks["constraints"]), f"{name}.constraints: no source"


def test_eo14141_keeps_to_the_departments_the_order_names():
    doc = load("eo14141")
    assert doc["candidates"]["agencies"] == ["DOD", "DOE"]
    assert doc["sites"]["max_sites"] == 6  # at least three sites each from DOD and DOE


@pytest.mark.parametrize("study", STUDIES)
@pytest.mark.parametrize("name", PRESETS)
def test_preset_applies_to_every_shipped_study_config(study, name):
    cfg = sitescore.config.load_config(ROOT / "configs" / f"{study}.yaml", preset=preset_path(name))
    assert cfg.criteria, "at least one criterion survives"
    assert set(cfg.criteria) <= set(load(name)["criteria"])
    left_out = set(load(name)["criteria"]) - set(cfg.criteria)
    for cname in left_out:  # every left-out criterion is said so
        assert any(f"'{cname}'" in note for note in cfg.notes), (cname, cfg.notes)


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory) -> Path:
    from sitescore.demo import generate_demo
    return generate_demo(tmp_path_factory.mktemp("demo"))


@pytest.mark.parametrize("name", PRESETS)
def test_preset_on_the_demo_runs_end_to_end_and_ranks_sites(name, demo_config, tmp_path):
    from sitescore import pipeline

    cfg = sitescore.config.load_config(demo_config, preset=preset_path(name))
    result = pipeline.run(cfg, write_map=False, runs_dir=tmp_path / "runs",
                          maps_dir=tmp_path / "maps", cache_dir=tmp_path / "cache")
    sites = result.sites
    assert len(sites) >= 1, f"{name}: no site on the demo region"
    assert sites["rank"].tolist() == list(range(1, len(sites) + 1))
    assert sites["score"].is_monotonic_decreasing
    assert (sites["acres"] >= cfg.sites.min_site_acres - 1e-6).all()
    assert len(sites) <= cfg.sites.max_sites
    doc = load(name)
    if "candidates" in doc and "agencies" in doc["candidates"]:
        assert set(sites["agency"]) <= set(doc["candidates"]["agencies"])
    # the demo has no EIA-860 layer: criteria needing it are left out, with a note; its towns
    # (Census places) are there, so the town criteria stay
    for cname, crit in doc["criteria"].items():
        if crit["layer"] == "grid_connected_plants":
            assert cname not in cfg.criteria
            assert any(f"'{cname}'" in note for note in result.notes)
        if crit["layer"] == "places":
            assert cname in cfg.criteria


# --- presets are package data: a bare name resolves to the shipped file --------------------------

def test_the_package_ships_every_preset():
    assert sitescore.config.shipped_presets() == sorted(PRESETS)


def _study(folder: Path, preset_line: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "study.yaml"
    cfg.write_text((ROOT / "configs" / "new_mexico.yaml").read_text(encoding="utf-8") + preset_line,
                   encoding="utf-8")
    return cfg


def test_a_bare_name_resolves_to_the_shipped_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for cfg in (sitescore.config.load_config(_study(tmp_path / "a", "preset: data_center\n")),
                sitescore.config.load_config(_study(tmp_path / "b"), preset="data_center")):
        assert Path(cfg.preset) == PRESET_DIR / "data_center.yaml"
        assert cfg.study == "new-mexico-data_center"
        assert set(cfg.criteria) <= set(load("data_center")["criteria"])


def test_a_study_own_presets_folder_comes_before_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _study(tmp_path / "s", "preset: data_center\n")
    (tmp_path / "s" / "presets").mkdir()
    own = load("data_center") | {"title": "Our own data-centre scenario"}
    (tmp_path / "s" / "presets" / "data_center.yaml").write_text(yaml.safe_dump(own), encoding="utf-8")
    assert sitescore.config.load_config(cfg).title == "Our own data-centre scenario"


def test_cli_unknown_preset_name_lists_the_shipped_ones(tmp_path):
    from badinput_support import land_study
    from test_bad_input import _no_outputs, run_cli

    cfg = land_study(tmp_path)
    result, _ = run_cli(tmp_path, cfg, "--preset", "data_centre")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sitescore: error: "), result.output
    assert "config key 'preset'" in lines[0] and "preset not found" in lines[0]
    assert "sitescore ships data_center, eo14141, semiconductor_fab, supply_chain_park" in lines[0]
    _no_outputs(tmp_path)


@pytest.mark.slow
def test_a_bare_preset_name_works_from_an_installed_wheel(tmp_path):
    """Build the wheel from a copy of the checkout, install it (offline, no dependencies) into a
    fresh venv, and load a study naming `preset: data_center` from a folder outside the checkout.
    The dependencies come from this test's own environment on PYTHONPATH, where .pth files (the
    editable install's) are not read, so `sitescore` can only be the wheel's."""
    import shutil
    import sysconfig

    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "src" / "sitescore", tree / "src" / "sitescore",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tree / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]

    def ok(args: list[str], **kw) -> subprocess.CompletedProcess:
        kw.setdefault("cwd", tmp_path)
        done = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    ok([*pip, "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(tree)])
    wheel, = (tmp_path / "dist").glob("sitescore-*.whl")
    venv = tmp_path / "venv"
    ok([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    ok([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])
    study = tmp_path / "elsewhere" / "study.yaml"
    study.parent.mkdir()
    study.write_text(textwrap.dedent("""\
        study: wheel
        area: {bbox: [-107, 33, -106, 34]}
        layers:
          federal_land: {reader: padus, path: padus.gpkg}
          transmission_lines: {reader: hifld_transmission_lines, path: lines.geojson}
        criteria:
          power_line:
            metric: distance_to
            layer: transmission_lines
            value: {kind: linear, best: 0, worst: 50}
            weight: 1
        preset: data_center
        """), encoding="utf-8")
    script = ("import sys, sitescore; from sitescore.config import load_config; "
              "cfg = load_config(sys.argv[1]); print(sitescore.__file__); print(cfg.preset); "
              "print(cfg.study, sorted(cfg.criteria))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    out = ok([str(python), "-c", script, str(study)], env=env, cwd=study.parent).stdout.splitlines()
    where = venv.resolve()
    assert Path(out[0]).resolve().is_relative_to(where), out
    assert Path(out[1]).resolve().is_relative_to(where) and out[1].endswith("data_center.yaml"), out
    # contiguous_land and land_time measure the candidate land itself (no layer of their own);
    # land_time's table, data/land_pathways.yaml, comes with the wheel
    assert out[2] == ("wheel-data_center ['contiguous_land', 'land_time', 'power_line_161', "
                      "'power_line_230', 'power_line_345', 'readiness_cost']"), out


# --- voltage by class, generation by fuel class (issue 12, items 2 and 3) ------------------------

#: The US transmission classes (AEP, "Transmission Facts"), and 69 kV sub-transmission.
US_CLASSES_KV = [69, 115, 138, 161, 230, 345, 500]
VOLTAGE_COLUMNS = {"voltage_kv", "max_volt_kv", "grid_voltage_kv"}


def _voltage_column(where: str) -> str | None:
    """The voltage column a filter tests (whole words: 'voltage_kv' is not 'grid_voltage_kv')."""
    return next((c for c in sorted(VOLTAGE_COLUMNS) if re.search(rf"\b{c}\b", where)), None)


def _voltage_families(name: str) -> dict[str, dict[str, dict]]:
    """layer -> its distance_to criteria whose filter tests a voltage (the class tiers)."""
    out: dict[str, dict[str, dict]] = {}
    for cname, crit in load(name)["criteria"].items():
        if crit["metric"] == "distance_to" and _voltage_column(crit.get("where", "")):
            out.setdefault(crit["layer"], {})[cname] = crit
    return out


def _one_cell_at(x: float, y: float):
    import geopandas as gpd
    from shapely.geometry import box

    from sitescore.schema import CRS
    return gpd.GeoDataFrame({"cell_id": ["c"]}, geometry=[box(x - 500, y - 500, x + 500, y + 500)],
                            crs=CRS)


def _family_score(family: dict[str, dict], layer, cells) -> float:
    """The family's weighted score (0..1) for the cells, through the preset's own filters, the
    registered metric and its value function, as the scorer computes each criterion."""
    from sitescore.metrics import compute_metric

    total = sum(c["weight"] for c in family.values())
    score = 0.0
    for crit in family.values():
        matching = layer.loc[parse_where(crit["where"])(layer)]
        raw = compute_metric("distance_to", cells, matching, {})
        score += crit["weight"] * float(ValueFunction.model_validate(crit["value"]).apply(raw)[0])
    return score / total


def test_a_large_plant_tied_in_at_161_kv_scores_by_class_not_as_absent(tmp_path):
    """Before: data_center's single `grid_voltage_kv >= 230` floor scored a cell beside a
    1,100 MW plant tied in at 161 kV (TVA's Southeast) as if the plant were not there. Now the
    plant goes through the EIA-860 reader (its 161 kV in column 2, GPPD capacity joined) and the
    preset's grid_plant tiers give it a class score well short of 345 kV but far above nothing."""
    from helpers import layer_source
    from sitescore.readers import read_layer

    def plant(volts: tuple[str, str, str], mw: str) -> float:
        folder = tmp_path / f"{'-'.join(v.strip() or '_' for v in volts)}-{mw}"
        folder.mkdir()
        (folder / "plant.csv").write_text(
            "Utility ID,Utility Name,Plant Code,Plant Name,State,Latitude,Longitude,"
            "Grid Voltage (kV),Grid Voltage 2 (kV),Grid Voltage 3 (kV)\n"
            f"18642,Tennessee Valley Authority,3396,Kingston,TN,35.8992,-84.5194,{','.join(volts)}\n")
        (folder / "gppd.csv").write_text(
            "name,gppd_idnr,capacity_mw,latitude,longitude,primary_fuel\n"
            f"Kingston,USA0003396,{mw},35.8992,-84.5194,Coal\n")
        layer = read_layer(layer_source("eia860_plants", folder / "plant.csv",
                                        capacity_table="gppd.csv"))
        point = layer.geometry.iloc[0]
        family = _voltage_families("data_center")["grid_connected_plants"]
        return _family_score(family, layer, _one_cell_at(point.x, point.y))

    at_161 = plant(("115", "161", " "), "1100")
    at_345 = plant(("345", " ", " "), "1100")
    assert at_345 == pytest.approx(1.0)
    assert at_161 == pytest.approx(0.25)  # 0.015 of the family's 0.06
    assert plant(("230", " ", " "), "1100") == pytest.approx(0.5)
    assert plant(("115", " ", " "), "1100") == 0.0
    # a 2 MW unit whose "grid voltage" is a 480 V service written as 480 kV is no EHV tie
    assert plant(("480", " ", " "), "2") == 0.0


@pytest.mark.parametrize("name", PRESETS)
def test_every_voltage_criterion_scores_by_us_class(name):
    """Every preset's voltage thresholds are tiers at US classes whose scores rise with the
    class, reach 1 at the preset's full class, and give a lower class part of the credit."""
    import geopandas as gpd
    from shapely.geometry import Point

    from sitescore.schema import CRS
    families = _voltage_families(name)
    assert families, f"{name}: no voltage criterion"
    for layer_name, family in families.items():
        assert len(family) >= 2, f"{name}.{layer_name}: one floor, not classes: {list(family)}"
        column = _voltage_column(next(iter(family.values()))["where"])
        scores = []
        for kv in US_CLASSES_KV:
            layer = gpd.GeoDataFrame({column: [float(kv)], "capacity_mw": [1000.0]},
                                     geometry=[Point(0, 0)], crs=CRS)
            scores.append(_family_score(family, layer, _one_cell_at(0, 0)))
        assert scores == sorted(scores), (name, layer_name, scores)
        assert scores[-1] == pytest.approx(1.0), (name, layer_name, scores)
        partial = [s for s in scores if 0 < s < 1]
        assert partial, f"{name}.{layer_name}: no class gets part of the credit: {scores}"
        if scores[US_CLASSES_KV.index(161)] < 1:  # a 161 kV tie: short of the top, above nothing
            assert 0.2 <= scores[US_CLASSES_KV.index(161)] <= 0.5, (name, layer_name, scores)


def test_data_center_scores_firm_and_variable_capacity_apart():
    crits = load("data_center")["criteria"]
    by_where = {c.get("where"): c for c in crits.values() if c["layer"] == "power_plants"}
    assert set(by_where) == {"fuel_class == 'firm'", "fuel_class == 'variable'"}
    firm, variable = by_where["fuel_class == 'firm'"], by_where["fuel_class == 'variable'"]
    assert firm["metric"] == variable["metric"] == "sum_within"
    assert firm["weight"] > variable["weight"] > 0
    semi = load("semiconductor_fab")["criteria"]
    assert {c.get("where") for c in semi.values() if c["layer"] == "power_plants"} == \
        {"fuel_class == 'firm'", "fuel_class == 'variable'"}
