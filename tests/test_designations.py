"""The PAD-US designation table (src/sitescore/data/designations.yaml) and the exclusions it sets.

The code list is checked against the real `Designation_Type` domain of a PAD-US 4.0 state
geodatabase in ../shared/data; the buffers per class on hand-made parcels (EPSG:5070 metres, areas
known by hand) and through the real command line.
"""

from __future__ import annotations

import json
import shutil
import typing

import numpy as np
import pyogrio
import pytest
import shapely

from badinput_support import PARCEL, land_study, padus_frame
from helpers import layer, shared_file
from sitescore.candidates import BUFFER_WIDENING, eligible_land
from sitescore.config import CandidatesConfig
from sitescore.config.models import DesignationClass, ExcludeConfig, designation_table
from sitescore.readers.federal_land import DESIGNATION_KEYWORDS, designation_for
from sitescore.schema import SQM_PER_ACRE
from sitescore.study_area import StudyArea
from test_bad_input import _no_outputs, run_cli
from test_bad_input_config import _check_cli, _one_error_line

PADUS_AZ = "federal_land/padus4_0_StateAZ_gdb_partial.zip"
CLASSES = set(typing.get_args(DesignationClass))


def _domain() -> dict[str, str]:
    """Code -> label of the real PAD-US 4.0 Designation_Type domain table."""
    path = shared_file(PADUS_AZ)
    table = pyogrio.read_dataframe(f"/vsizip/{path}/PADUS4_0_StateAZ.gdb",
                                   layer="Designation_Type", read_geometry=False)
    return {str(c).strip().upper(): " ".join(str(d).split()) for c, d in zip(table["Code"], table["Dom"],
                                                                             strict=True)}


def test_table_holds_exactly_the_pad_us_code_list_with_its_labels():
    domain = _domain()
    table = designation_table()
    assert len(domain) == 63
    assert set(table) - set(domain) == set(), "codes PAD-US 4.0 does not know"
    assert set(domain) - set(table) == set(), "PAD-US codes the table misses"
    assert {c: r.label for c, r in table.items()} == domain


def test_every_row_has_a_class_a_source_and_a_buffer_that_fits_it():
    for code, row in designation_table().items():
        assert row.klass in CLASSES, code
        assert len(row.source.strip()) > 10, code
        assert 0 <= row.buffer_km <= 1000, code
        if row.klass == "protected":
            assert row.excluded and row.buffer_km > 0, code
        if row.klass in ("multiple_use", "non_federal", "other"):
            assert not row.excluded, code
    # every class is used, and the table names the statute where one creates the designation
    assert {r.klass for r in designation_table().values()} == CLASSES
    sources = {c: r.source for c, r in designation_table().items()}
    for code, cite in {"WA": "16 U.S.C. 1131", "NP": "54 U.S.C. 100101", "WSA": "43 U.S.C. 1782",
                       "ACEC": "43 U.S.C. 1712(c)(3)", "NWR": "16 U.S.C. 668dd",
                       "NM": "54 U.S.C. 320301", "WSR": "16 U.S.C. 1271", "IRA": "36 CFR 294"}.items():
        assert cite in sources[code], code


def test_default_excludes_and_buffers_the_protected_units():
    buffers = ExcludeConfig().designation_buffers_km()
    for code in ("NP", "NM", "WA", "WSA", "NWR", "HCA", "NCA", "WSR", "NLS", "ACEC", "RNA"):
        assert buffers[code] == 1.0, code
    # multiple-use, tribal and other land stays out of the designation rule
    for code in ("PUB", "NF", "NG", "IRA", "MIL", "NRA", "PROC", "TRIBL", "SP"):
        assert code not in buffers, code
    # PAD-US has no preserve code (no 'NPRES'): a National Preserve is read as a park unit, NP
    assert not any(c.startswith("NPR") for c in designation_table())
    assert designation_for("Valles Caldera National Preserve") == "NP"
    assert designation_for("Chaco Culture National Historical Park") == "HCA"


def test_every_code_the_readers_derive_from_names_is_in_the_table():
    assert {code for _, code in DESIGNATION_KEYWORDS} <= set(designation_table())


def test_an_explicit_list_keeps_its_one_buffer_as_before():
    listed = ExcludeConfig(designations=["WA", "nf", "IRA"])
    assert listed.designation_buffers_km() == {"WA": 1.0, "NF": 1.0, "IRA": 1.0}
    assert ExcludeConfig(designations=["WA"], buffer_km=3).designation_buffers_km() == {"WA": 3.0}
    assert ExcludeConfig(designations=[]).designation_buffers_km() == {}
    # `default` inside a list: the table's defaults with their buffers, and the listed codes
    both = ExcludeConfig(designations=["default", "NRA"]).designation_buffers_km()
    assert both == {**ExcludeConfig().designation_buffers_km(), "NRA": 1.0}


# --- buffers per class on hand-made parcels ------------------------------------------------

def _parcels():
    """A 10 x 20 km BLM office with, on its east edge, a national historical park (HCA), a
    roadless area (IRA) and a national forest (NF), each 2 x 2 km, GAP 3/4 so only the
    designation rule can remove them, and far enough apart that no two buffers meet."""
    return layer(
        [shapely.box(0, 0, 10_000, 20_000), shapely.box(10_000, 3_000, 12_000, 5_000),
         shapely.box(10_000, 10_000, 12_000, 12_000), shapely.box(10_000, 16_000, 12_000, 18_000)],
        unit_name=["Socorro FO", "Pecos National Historical Park", "Apache Kid IRA", "Cibola NF"],
        own_type=["FED"] * 4, own_name=["BLM", "NPS", "USFS", "USFS"], mang_type=["FED"] * 4,
        mang_name=["BLM", "NPS", "USFS", "USFS"], designation=["PUB", "HCA", "IRA", "NF"],
        gap_status=[4.0, 4.0, 3.0, 3.0], state=["NM"] * 4, gis_acres=[0.0] * 4)


def _cut(exclude: dict, parcels=None) -> dict[str, float]:
    """The BLM land each rule took, m²."""
    cfg = CandidatesConfig.model_validate({"agencies": ["BLM"], "exclude": exclude})
    land = eligible_land(_parcels() if parcels is None else parcels, cfg, StudyArea("all"))
    return {reason.split(" (")[0]: acres * SQM_PER_ACRE
            for reason, acres in land.summary.items()}


def _band(width_m: float):
    """The BLM land a w-metre buffer of a 2 km square on its edge takes, m²: a band 2 km long and
    w deep, and two quarter discs at its ends, each drawn by GEOS as 8 chords (w as widened
    against those chords)."""
    w = width_m * BUFFER_WIDENING
    return pytest.approx(2_000 * w + 8 * np.sin(np.pi / 16) * w**2, rel=1e-4)


def test_the_default_buffers_the_historical_park_and_leaves_roadless_and_forest_land():
    assert _cut({}) == {"designation HCA": _band(1_000)}


def test_classes_and_class_buffers_give_each_class_its_buffer():
    got = _cut({"classes": ["restricted"], "class_buffers_km": {"protected": 2, "restricted": 0.5}})
    assert got == {"designation HCA": _band(2_000), "designation IRA": _band(500)}
    # the multiple-use class from the table: excluded with the table's buffer, 0 km (the BLM
    # office is PUB, multiple-use itself, so it has no designation here)
    undesignated = _parcels()
    undesignated.loc[0, "designation"] = None
    got = _cut({"designations": ["HCA"], "classes": ["multiple_use"]}, undesignated)
    assert got["designation NF"] == pytest.approx(0.0, abs=1.0)
    assert got["designation HCA"] == _band(1_000)
    # one buffer_km set by the config is every area's buffer, the table's classes included
    assert _cut({"classes": ["restricted"], "buffer_km": 0.25}) == {
        "designation HCA": _band(250), "designation IRA": _band(250)}


def test_excluded_land_records_the_buffer_each_area_kept():
    cfg = CandidatesConfig.model_validate(
        {"agencies": ["BLM"], "exclude": {"classes": ["restricted"],
                                          "class_buffers_km": {"restricted": 0.5}}})
    land = eligible_land(_parcels(), cfg, StudyArea("all"))
    kept = dict(zip(land.excluded["reason"], land.excluded["buffer_m"], strict=True))
    assert kept == {"designation HCA (Historic or Cultural Area)": 1_000.0,
                    "designation IRA (Inventoried Roadless Area)": 500.0}


def test_gap_rule_on_a_layer_without_gap_status_says_so_once():
    no_gap = _parcels().assign(gap_status=np.nan)
    cfg = CandidatesConfig.model_validate({"agencies": ["BLM"]})
    notes = eligible_land(no_gap, cfg, StudyArea("all")).notes
    assert len(notes) == 1 and "gap_status [1, 2] could not apply" in notes[0]
    assert "'federal_land'" in notes[0]
    assert eligible_land(_parcels(), cfg, StudyArea("all")).notes == []
    off = CandidatesConfig.model_validate({"agencies": ["BLM"], "exclude": {"gap_status": []}})
    assert eligible_land(no_gap, off, StudyArea("all")).notes == []


# --- through the command line ---------------------------------------------------------------

def _historical_park_study(folder, **overrides):
    """The land study with a national historical park (HCA, GAP 4, NPS) on the parcel's east
    edge, as PAD-US Fee records."""
    cfg = land_study(folder, dem=False, **overrides)
    w, s, e, n = PARCEL
    frame = padus_frame([shapely.box(w, s, e, n), shapely.box(e, s, e + 0.05, s + 0.05)])
    frame.loc[1, ["Unit_Nm", "Own_Name", "Mang_Name", "Des_Tp"]] = [
        "Test National Historical Park", "NPS", "NPS", "HCA"]
    frame.to_file(folder / "padus.geojson")
    return cfg


def test_run_buffers_a_historical_park_under_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _historical_park_study(tmp_path, **{"exclude: {buffer_km: 0}": "exclude: {}"})
    result, _ = run_cli(tmp_path, cfg, "--no-map")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "runs" / "land" / "manifest.json").read_text())
    by_rule = manifest["excluded_acres_by_rule"]
    # a 1 km band along the 0.05° (5.55 km) the park shares with the parcel, 1,371 acres, and a
    # quarter disc of 1 km at its north end, 194 acres: about 1,600 acres with the widening
    assert 1_500 < by_rule["designation HCA (Historic or Cultural Area)"] < 1_700
    # with an explicit list that leaves HCA out, as configs said before the table, it stays
    cfg = _historical_park_study(tmp_path, **{"exclude: {buffer_km: 0}":
                                              "exclude: {designations: [WA, NP, NM]}"})
    result, _ = run_cli(tmp_path, cfg, "--no-map")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "runs" / "land" / "manifest.json").read_text())
    assert not any("HCA" in rule for rule in manifest["excluded_acres_by_rule"])


def test_run_on_a_layer_without_gap_status_notes_the_rule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = land_study(tmp_path, dem=False)
    padus_frame().drop(columns=["GAP_Sts"]).to_file(tmp_path / "padus.geojson")
    result, _ = run_cli(tmp_path, cfg, "--no-map")
    assert result.exit_code == 0, result.output
    notes = json.loads((tmp_path / "runs" / "land" / "manifest.json").read_text())["notes"]
    assert sum("could not apply" in n for n in notes) == 1


@pytest.mark.parametrize("exclude,needles", [
    ("{designations: [WA, NPRES]}", ("land.yaml, line 11", "candidates.exclude.designations",
                                     "'NPRES' is not a PAD-US 4.0 Des_Tp code", "did you mean")),
    ("{classes: [protectd]}", ("land.yaml, line 11", "candidates.exclude.classes", "protected")),
    ("{class_buffers_km: {protected: 2000}}", ("land.yaml, line 11",
                                               "candidates.exclude.class_buffers_km", "0 to 1000")),
    ("{designations: all}", ("land.yaml, line 11", "candidates.exclude.designations",
                             "a list of PAD-US Des_Tp codes", "or 'default'", "not 'all'")),
    ("{designations: WA}", ("candidates.exclude.designations", "not 'WA'")),
    ("{designations: [WA, 3]}", ("candidates.exclude.designations", "3 is not a PAD-US Des_Tp code")),
])
@pytest.mark.parametrize("command", ["config check", "run"])
def test_bad_designation_settings_end_in_one_line(exclude, needles, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "land").mkdir(parents=True)
    (tmp_path / "runs" / "land" / "sites.csv").write_text("rank\n1\n")   # a previous run's file
    cfg = land_study(tmp_path, **{"exclude: {buffer_km: 0}": f"exclude: {exclude}"})
    result, _ = (_check_cli if command == "config check" else run_cli)(tmp_path, cfg)
    line = _one_error_line(result)
    for needle in needles:
        assert needle in line, (needle, line)
    assert (tmp_path / "runs" / "land" / "sites.csv").read_text() == "rank\n1\n"
    shutil.rmtree(tmp_path / "runs" / "land")
    _no_outputs(tmp_path)
