"""The shipped unit-cost table (src/sitescore/data/unit_costs.yaml) as data: every row sourced,
dated and ordered, every derived figure recomputed from the inputs its source names, and the
file's header true about what is shipped and what is not.

The four-region tables below are NREL reVX's least-cost transmission defaults
(reVX/least_cost_xmission/config/config.json in the public repository NREL/reVX, commit
2894b8c8a9c82ce5f2f9626a397eccda56ccbdd0), copied here so that each shipped row's low / base /
high is checked against the rule the header states: base = TEPPC, low / high = the lowest /
highest of the four regions.
"""

from __future__ import annotations

import re
from importlib import resources
from itertools import pairwise

import pytest
import yaml

from sitescore.costs import load_unit_costs
from sitescore.costs.unit_costs import CLASSES, LEVELS
from sitescore.errors import DataError

REGIONS = ("TEPPC", "SCE", "MISO", "Southeast")
# reVX keys line costs by capacity (MW); power_to_voltage maps 102/205/400/1500 MW to kV.
REVX_LINE_USD_PER_MILE = {  # base_line_costs, 2019 US$ per mile
    102: {"TEPPC": 984_000, "SCE": 1_524_000, "MISO": 1_255_000, "Southeast": 819_000},
    205: {"TEPPC": 1_180_000, "SCE": 2_084_000, "MISO": 1_446_000, "Southeast": 984_000},
    400: {"TEPPC": 1_570_000, "SCE": 3_034_000, "MISO": 1_695_000, "Southeast": 1_568_000},
    1500: {"TEPPC": 2_248_000, "SCE": 4_777_000, "MISO": 2_787_000, "Southeast": 4_056_000},
}
REVX_POWER_TO_KV = {102: 69, 205: 138, 400: 230, 1500: 500}
REVX_NEW_SUBSTATION_USD = {  # new_substation_costs, by kV
    69: {"TEPPC": 3_498_000, "SCE": 3_975_000, "MISO": 5_700_000, "Southeast": 3_064_000},
    138: {"TEPPC": 5_541_000, "SCE": 8_870_000, "MISO": 7_800_000, "Southeast": 4_692_000},
    230: {"TEPPC": 9_171_000, "SCE": 17_525_000, "MISO": 9_700_000, "Southeast": 5_732_000},
    500: {"TEPPC": 15_489_000, "SCE": 37_017_000, "MISO": 20_300_000, "Southeast": 20_364_000},
}
REVX_UPGRADE_SUBSTATION_USD = {  # upgrade_substation_costs, by kV
    69: {"TEPPC": 1_352_000, "SCE": 767_000, "MISO": 1_100_000, "Southeast": 917_000},
    138: {"TEPPC": 2_198_000, "SCE": 1_117_000, "MISO": 1_600_000, "Southeast": 1_179_000},
    230: {"TEPPC": 5_500_000, "SCE": 3_975_000, "MISO": 2_200_000, "Southeast": 2_210_000},
    500: {"TEPPC": 10_236_000, "SCE": 9_665_000, "MISO": 5_300_000, "Southeast": 8_340_000},
}
REVX_SLOPE_MULT = {  # iso_multipliers.slope: hill_mult at 2 %, mtn_mult at 8 %
    2: {"TEPPC": 1.4, "SCE": 1.5, "MISO": 1.1, "Southeast": 1.2},
    8: {"TEPPC": 1.75, "SCE": 2.0, "MISO": 1.21, "Southeast": 1.6},
}


def _text() -> str:
    return resources.files("sitescore").joinpath("data", "unit_costs.yaml").read_text(encoding="utf-8")


def _raw() -> dict:
    """The file as written (the loader sorts rows; the file's own order is checked here)."""
    return yaml.safe_load(_text())


def _header_list(label: str) -> set[str]:
    match = re.search(rf"^# {label}: (.+)$", _text(), flags=re.MULTILINE)
    assert match, f"unit_costs.yaml header has no '# {label}:' line"
    return {name.strip() for name in match.group(1).split(",")}


def _expected(regions: dict[str, float]) -> tuple[float, float, float]:
    """The header's rule: base is TEPPC, low / high the lowest / highest of the four regions."""
    assert set(regions) == set(REGIONS)
    return min(regions.values()), regions["TEPPC"], max(regions.values())


# -- every shipped row ----------------------------------------------------------------------------

def test_every_shipped_class_has_sourced_dated_ordered_rows_in_its_unit():
    table = load_unit_costs()
    assert table.classes, "the shipped table ships no class"
    for klass, rows in table.classes.items():
        unit, pick = CLASSES[klass]
        assert rows, f"{klass}: no rows"
        for r in rows:
            where = f"{klass} {r.key}"
            assert r.unit == unit, where
            assert len(r.source) > 40 and not r.source.lower().startswith("todo"), where
            assert 1990 <= r.dollar_year <= 2030, where
            assert 0 < r.low <= r.base <= r.high, where
            if pick is not None:
                assert pick in r.attrs, where


@pytest.mark.parametrize("klass", [k for k, (_, pick) in CLASSES.items() if pick is not None])
def test_rows_of_a_sized_class_are_written_in_increasing_order_of_their_size(klass):
    """Water rows by max_mgd, grading rows by max_slope_percent, lines by kV: the file itself is
    in order, so a reader sees the size ladder (the loader would sort a disordered file)."""
    body = (_raw().get("classes") or {}).get(klass)
    if body is None:
        assert klass in _header_list("Not shipped"), f"{klass}: neither shipped nor named as not"
        return
    pick = CLASSES[klass][1]
    sizes = [row[pick] for row in body["rows"]]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), f"{klass}: {pick} {sizes}"


def test_a_line_that_carries_more_costs_more_and_carries_more_at_a_higher_voltage():
    rows = load_unit_costs().classes["transmission_line"]
    for lower, higher in pairwise(rows):
        assert higher.attrs["voltage_kv"] > lower.attrs["voltage_kv"]
        assert higher.attrs["capacity_mw"] > lower.attrs["capacity_mw"]
        assert higher.base >= lower.base


# -- derived figures, recomputed from their stated inputs ----------------------------------------

def test_line_rows_are_revx_teppc_with_the_four_regions_range():
    rows = {r.attrs["capacity_mw"]: r for r in load_unit_costs().classes["transmission_line"]}
    assert set(rows) == set(REVX_LINE_USD_PER_MILE)
    for mw, regions in REVX_LINE_USD_PER_MILE.items():
        r = rows[mw]
        assert r.attrs["voltage_kv"] == REVX_POWER_TO_KV[mw]
        assert (r.low, r.base, r.high) == _expected(regions), f"{mw} MW"
        assert r.dollar_year == 2019


@pytest.mark.parametrize("klass,revx", [("new_substation", REVX_NEW_SUBSTATION_USD),
                                        ("substation_bay", REVX_UPGRADE_SUBSTATION_USD)])
def test_substation_rows_are_revx_teppc_with_the_four_regions_range(klass, revx):
    rows = {r.attrs["voltage_kv"]: r for r in load_unit_costs().classes[klass]}
    assert set(rows) == set(revx)
    for kv, regions in revx.items():
        assert (rows[kv].low, rows[kv].base, rows[kv].high) == _expected(regions), f"{klass} {kv} kV"


def test_slope_multipliers_are_revx_teppc_with_the_four_regions_range():
    rows = {m.min_slope_percent: m for m in load_unit_costs().slope["transmission_line"]}
    assert set(rows) == set(REVX_SLOPE_MULT)
    for slope, regions in REVX_SLOPE_MULT.items():
        m = rows[slope]
        assert (m.low, m.base, m.high) == _expected(regions), f"{slope} %"
    assert rows[8].base > rows[2].base >= 1


def test_each_row_source_quotes_the_figures_it_takes():
    """A row's source names its TEPPC figure and the regions behind low and high, in the
    document's own numbers, so the file can be checked against the document by eye."""
    for klass, rows in load_unit_costs().classes.items():
        for r in rows:
            quoted = {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\d", r.source)}
            for value in (r.low, r.base, r.high):
                assert value in quoted, f"{klass} {r.key}: {value:,.0f} not in its source"


def test_route_factor_is_at_least_one_and_sourced():
    table = load_unit_costs()
    assert table.route_factor >= 1 and "MISO" in table.route_factor_source


# -- the header says what is shipped --------------------------------------------------------------

def test_header_names_exactly_the_shipped_and_the_missing_classes():
    shipped, missing = _header_list("Shipped classes"), _header_list("Not shipped")
    assert shipped == set(load_unit_costs().classes)
    assert not shipped & missing and shipped | missing == set(CLASSES)
    text = _text()
    for klass in missing:  # each missing class says what was looked for
        assert re.search(rf"^#   {klass}\b", text, flags=re.MULTILINE), f"{klass}: not explained"


def test_no_corridor_multiplier_is_shipped_without_a_source():
    """The header says no public cost ratio for routing along an existing corridor was found;
    the table must then carry none (the loader rejects unknown top-level keys)."""
    assert "corridor_multipliers" not in _raw()
    assert "no corridor_multipliers" in _text()


def test_every_level_is_a_plain_number_in_the_file():
    for klass, body in _raw()["classes"].items():
        for row in body["rows"]:
            for lv in LEVELS:
                assert isinstance(row[lv], (int, float)) and not isinstance(row[lv], bool), klass


# -- corridor_multipliers: a study's file may give them; the loader checks them -------------------

def _corridor_file(tmp_path, rows: object):
    path = tmp_path / "corridor_costs.yaml"
    path.write_text(yaml.safe_dump({"corridor_multipliers": rows}), encoding="utf-8")
    return path


def test_a_studys_corridor_multiplier_is_read_with_its_range_and_source(tmp_path):
    path = _corridor_file(tmp_path, {"transmission_line": {
        "low": 0.6, "base": 0.75, "high": 0.9, "source": "the study's own siting report, table 4"}})
    table = load_unit_costs(path)
    row = table.corridor_row("transmission_line", key="costs.connections.power.along[0].multiplier")
    assert [row.level(lv) for lv in LEVELS] == [0.6, 0.75, 0.9]
    assert row.source == "the study's own siting report, table 4"
    assert "transmission_line" in table.classes  # the shipped classes are kept


def test_a_corridor_multiplier_no_file_gives_stops_the_run_naming_class_and_key():
    with pytest.raises(DataError) as err:
        load_unit_costs().corridor_row("road_lane", key="costs.connections.road.along[0].multiplier")
    text = str(err.value)
    assert "\n" not in text and "'road_lane'" in text
    assert "'costs.connections.road.along[0].multiplier'" in text


@pytest.mark.parametrize("rows,field", [
    ({"interchange": {"low": 0.5, "base": 0.6, "high": 0.7, "source": "s"}},
     "corridor_multipliers.interchange"),
    ({"site_grading": {"low": 0.5, "base": 0.6, "high": 0.7, "source": "s"}},
     "corridor_multipliers.site_grading"),
    ({"road_lane": {"low": 0.5, "base": 1.2, "high": 1.3, "source": "s"}}, "corridor_multipliers.road_lane"),
    ({"road_lane": {"low": 0.8, "base": 0.6, "high": 0.9, "source": "s"}}, "corridor_multipliers.road_lane"),
    ({"road_lane": {"low": 0, "base": 0.6, "high": 0.9, "source": "s"}}, "corridor_multipliers.road_lane"),
    ({"road_lane": {"low": 0.5, "base": "cheap", "high": 0.9, "source": "s"}},
     "corridor_multipliers.road_lane.base"),
    ({"road_lane": {"low": 0.5, "base": 0.6, "high": 0.9}}, "corridor_multipliers.road_lane.source"),
    ({"road_lane": 0.6}, "corridor_multipliers.road_lane"),
    ([0.6], "corridor_multipliers"),
])
def test_a_bad_corridor_multiplier_is_one_line_naming_file_and_key(tmp_path, rows, field):
    path = _corridor_file(tmp_path, rows)
    with pytest.raises(DataError) as err:
        load_unit_costs(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and f"field '{field}'" in text
