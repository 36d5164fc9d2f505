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
    with pytest.raises(ConfigError, match="criteria.power_line.weight"):
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
    with pytest.raises(ConfigError, match="criteria.power_line.weight"):
        load_config(write(tmp_path, GOOD.replace("    weight: 0.6\n", "")))
