"""Config validation: every mistake names its key and YAML line."""

import json
import textwrap

import pytest

from sitescore.config import json_schema, load_config
from sitescore.errors import ConfigError

GOOD = """\
study: t1
data_dir: data
area: {bbox: [-109, 31, -103, 37]}
layers:
  federal_land: {reader: padus, path: f.geojson}
  transmission_lines: {reader: hifld_transmission_lines, path: t.geojson, optional: true}
  counties: {reader: census_counties, path: c.geojson}
criteria:
  power_line:
    metric: distance_to
    layer: transmission_lines
    where: "voltage_kv >= 345"
    value: {kind: linear, best: 0, worst: 50}
    weight: 0.6
  workforce:
    metric: gravity_access
    layer: counties
    field: labor_force
    decay_km: 40
    value: {kind: log_linear, best: 100000, worst: 1000}
    weight: 0.4
constraints:
  - {criterion: power_line, max: 80}
"""


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_good_config_loads_and_collects_flat_metric_params(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.criteria["workforce"].params == {"field": "labor_force", "decay_km": 40.0,
                                                "cutoff_km": 120.0, "decay": "exponential"}
    assert cfg.normalized_weights() == {"power_line": 0.6, "workforce": 0.4}
    assert cfg.data_root() == tmp_path / "data"


@pytest.mark.parametrize("old,new,key,line", [
    ("weight: 0.6", "weight: heavy", "criteria.power_line.weight", 14),
    ("metric: distance_to", "metric: distance_too", "criteria.power_line.metric", 9),
    ("decay_km: 40", "decay_kms: 40", "criteria.workforce.decay_kms", 15),
    ("study: t1", "study: t1\nstudyy: x", "studyy", 2),
    ("where: \"voltage_kv >= 345\"", "where: \"voltage_kv >>= 345\"", "criteria.power_line.where", 12),
    ("layer: counties", "layer: county", "criteria.workforce.layer", None),
    ("{criterion: power_line, max: 80}", "{criterion: power, max: 80}", "constraints[0].criterion", None),
    ("kind: log_linear, best: 100000", "kind: log_linear, best: 0", "criteria.workforce.value", 20),
])
def test_mistakes_name_key_and_line(tmp_path, old, new, key, line):
    assert old in GOOD
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, GOOD.replace(old, new)))
    msg = str(exc.value)
    assert f"config key '{key}'" in msg
    assert "\n" not in msg
    if line:
        assert f"line {line}" in msg


def test_weights_all_zero(tmp_path):
    text = GOOD.replace("weight: 0.6", "weight: 0").replace("weight: 0.4", "weight: 0")
    with pytest.raises(ConfigError, match="at least one must be > 0"):
        load_config(write(tmp_path, text))


def test_negative_weight(tmp_path):
    with pytest.raises(ConfigError, match=r"criteria\.power_line\.weight"):
        load_config(write(tmp_path, GOOD.replace("weight: 0.6", "weight: -1")))


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "study: [unclosed\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, GOOD + "evil: !!python/object/apply:os.system ['echo hi']\n"))


def test_unknown_state_code(tmp_path):
    text = GOOD.replace("area: {bbox: [-109, 31, -103, 37]}", "area: {states: [XX]}")
    with pytest.raises(ConfigError, match="unknown state code"):
        load_config(write(tmp_path, text))


def test_json_schema_describes_the_config():
    schema = json_schema()
    json.dumps(schema)
    assert {"study", "layers", "criteria", "candidates"} <= set(schema["properties"])
    assert "source_path" not in schema["properties"]


AHP = GOOD.replace("    weight: 0.6\n", "").replace("    weight: 0.4\n", "") + """\
weights:
  method: ahp
  pairwise:
    power_line: {workforce: 3}
"""


def test_ahp_weights_from_the_pairwise_matrix(tmp_path):
    cfg = load_config(write(tmp_path, AHP))
    assert cfg.criteria["power_line"].weight == pytest.approx(0.75)
    assert cfg.criteria["workforce"].weight == pytest.approx(0.25)
    assert cfg.ahp["consistency_ratio"] == 0


def test_inconsistent_ahp_names_the_pair(tmp_path):
    text = GOOD.replace("  workforce:\n", "  rail:\n    metric: distance_to\n    layer: transmission_lines\n"
                        "    value: {kind: linear, best: 0, worst: 50}\n  workforce:\n")
    text = text.replace("    weight: 0.6\n", "").replace("    weight: 0.4\n", "") + """\
weights:
  method: ahp
  pairwise:
    power_line: {workforce: 9, rail: 1/9}
    rail: {workforce: 1/9}
"""
    text = text.replace("1/9", "0.1111111")
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    assert "consistency ratio" in str(exc.value) and "config key 'weights.pairwise." in str(exc.value)


def test_direct_weights_are_required_without_ahp(tmp_path):
    with pytest.raises(ConfigError, match=r"criteria\.power_line\.weight"):
        load_config(write(tmp_path, GOOD.replace("    weight: 0.6\n", "")))


# --- value functions: one class per kind, a discriminated union in the config -----------------

def test_json_schema_gives_value_functions_as_one_of_by_kind():
    schema = json_schema()
    value = schema["$defs"]["CriterionConfig"]["properties"]["value"]
    kinds = {ref.rsplit("/", 1)[1]: kind for kind, ref in value["discriminator"]["mapping"].items()}
    assert value["discriminator"]["propertyName"] == "kind"
    assert set(kinds.values()) == {"linear", "log_linear", "exponential", "logistic", "piecewise",
                                   "categorical"}
    assert len(value["oneOf"]) == len(kinds)
    linear = schema["$defs"][next(d for d, k in kinds.items() if k == "linear")]
    assert {"kind", "best", "worst"} <= set(linear["required"]) and "direction" not in linear["properties"]
    assert schema["properties"]["aggregation"]["enum"] == ["weighted_sum", "weighted_product", "topsis"]


def test_value_function_builds_its_kind_and_refuses_an_unknown_one():
    from pydantic import ValidationError

    from sitescore.config import VALUE_FUNCTIONS, ValueFunction

    f = ValueFunction(kind="exponential", origin=5, half_life=10, direction="lower_better")
    assert type(f) is VALUE_FUNCTIONS["exponential"] and isinstance(f, ValueFunction)
    assert type(ValueFunction.model_validate({"kind": "categorical", "map": {"a": 1}})) is \
        VALUE_FUNCTIONS["categorical"]
    assert f.model_copy(update={"origin": 6}).origin == 6
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        ValueFunction(kind="cubic", best=0, worst=1)
    with pytest.raises(ValidationError, match="extra"):
        ValueFunction(kind="linear", best=0, worst=1, direction="lower_better")


@pytest.mark.parametrize("old,new,key,message", [
    ("kind: linear, best: 0", "kind: linar, best: 0", "criteria.power_line.value.kind",
     "Input should be 'linear', 'log_linear', 'exponential', 'logistic', 'piecewise' or 'categorical'"),
    ("kind: linear, best: 0", "best: 0", "criteria.power_line.value.kind", "Field required"),
    ("kind: linear, best: 0, worst: 50", "kind: linear, best: 0, worst: 50, half_life: 3",
     "criteria.power_line.value.half_life", "unknown key (known here: kind, missing, best, worst)"),
    ("kind: linear, best: 0, worst: 50", "kind: linear, best: 0, wrost: 50",
     "criteria.power_line.value.wrost", "unknown key (did you mean 'worst'?)"),
    ("kind: linear, best: 0, worst: 50",
     "kind: exponential, origin: 0, half_life: -1, direction: lower_better",
     "criteria.power_line.value.half_life", "Input should be greater than 0"),
    ("kind: linear, best: 0, worst: 50", "kind: logistic, midpoint: 3",
     "criteria.power_line.value", "value kind 'logistic' needs scale, direction"),
])
def test_value_function_mistakes_name_their_key_and_line(tmp_path, old, new, key, message):
    assert old in GOOD
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, GOOD.replace(old, new)))
    msg = str(exc.value)
    assert f"config key '{key}': {message}" in msg and "line 13" in msg, msg


def test_unknown_aggregation_lists_the_methods(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, GOOD + "aggregation: borda\n"))
    assert "config key 'aggregation'" in str(exc.value) and "line 24" in str(exc.value)
    assert "'weighted_sum', 'weighted_product' or 'topsis'" in str(exc.value)


def _bad_value_kind(folder):
    from badinput_support import land_study

    return land_study(folder, **{"{kind: linear, best: 0, worst: 50}": "{kind: cubic, best: 0, worst: 50}"})


def test_cli_bad_value_kind_is_one_line_exit_2_and_leaves_the_last_run(tmp_path):
    from badinput_support import land_study
    from test_bad_input import _no_outputs, run_cli

    good = land_study(tmp_path / "ok")
    result, _ = run_cli(tmp_path / "ok", good, "--no-map")
    assert result.exit_code == 0, result.output
    before = {p: p.read_bytes() for p in (tmp_path / "ok" / "runs").rglob("*") if p.is_file()}
    bad = _bad_value_kind(tmp_path / "bad")
    good.write_text(bad.read_text())  # the same study, now with a value kind that does not exist
    for folder, cfg in ((tmp_path / "ok", good), (tmp_path / "bad", bad)):
        result, _ = run_cli(folder, cfg, "--no-map")
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sitescore: error: "), result.output
        assert "line 17" in lines[0] and "criteria.power_line.value.kind" in lines[0]
        assert "Traceback" not in result.output
    _no_outputs(tmp_path / "bad")
    after = {p: p.read_bytes() for p in (tmp_path / "ok" / "runs").rglob("*") if p.is_file()}
    assert after == before
