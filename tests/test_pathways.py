"""Land pathways: the table read and checked, each parcel's first matching rule, a user's areas
splitting the land, the limits removing it with reasons, and the land_pathway metric."""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from sitescore.config.models import PathwaysConfig
from sitescore.errors import ConfigError, DataError
from sitescore.metrics import compute_metric
from sitescore.pathways import (
    LandPathways,
    load_pathway_table,
    resolve_pathways,
    split_land,
    table_from_doc,
    typical_months,
)
from sitescore.schema import CRS

SRC = "a cited public source"

DOC = {
    "instruments": {
        "sale": {"label": "Sale", "kind": "transfer", "nepa": "EA", "months": [24, 48], "source": SRC},
        "lease": {"label": "Lease", "kind": "lease", "nepa": "EA", "months": [12, 24], "source": SRC},
        "exchange": {"label": "Exchange", "kind": "transfer", "nepa": "EIS", "months": [36, 72],
                     "source": SRC},
        "legislation": {"label": "Act of Congress", "kind": "legislation", "nepa": "EIS",
                        "months": [60, 180], "source": SRC},
        "right_of_way": {"label": "Right-of-way", "kind": "authorization", "nepa": "EA",
                         "months": [6, 18], "source": SRC},
    },
    "codes": {"mang_name": {"BLM": "Bureau of Land Management", "USFS": "Forest Service"},
              "mang_type": {"FED": "Federal"}},
    "rules": [
        {"id": "wilderness", "match": {"des_tp": ["WA"]}, "available": False,
         "pathway": "legislation", "instruments": ["legislation"], "nepa": "EIS",
         "months": [60, 180], "source": SRC},
        {"id": "blm_protected", "match": {"mang_name": ["BLM"], "gap_sts": [1, 2]},
         "available": True, "pathway": "exchange", "instruments": ["exchange"], "nepa": "EIS",
         "months": [48, 96], "source": SRC},
        {"id": "blm", "match": {"mang_name": ["BLM"]}, "available": True, "pathway": "lease",
         "instruments": ["lease", "sale"], "nepa": "EA", "months": [12, 36], "source": SRC},
        {"id": "forest", "match": {"mang_name": ["USFS"], "des_tp": ["NF"]}, "available": True,
         "pathway": "exchange", "instruments": ["exchange", "legislation"], "nepa": "EIS",
         "months": [36, 72], "source": SRC},
    ],
}


@pytest.fixture()
def table():
    return table_from_doc(copy.deepcopy(DOC))


def parcels(rows):
    """Unit squares 10 km apart, one per (mang_name, mang_type, designation, gap_status)."""
    geoms = [box(i * 10_000, 0, i * 10_000 + 5_000, 5_000) for i in range(len(rows))]
    return gpd.GeoDataFrame({
        "unit_name": [f"unit {i}" for i in range(len(rows))],
        "mang_name": [r[0] for r in rows], "mang_type": [r[1] for r in rows],
        "designation": [r[2] for r in rows], "gap_status": [r[3] for r in rows],
        "own_type": "FED", "state": "NM"}, geometry=geoms, crs=CRS)


def test_first_matching_rule_wins(table):
    land = parcels([("BLM", "FED", "WA", 1), ("BLM", "FED", None, 2), ("BLM", "FED", None, np.nan),
                    ("BLM", "FED", "ACEC", 3), ("USFS", "FED", "NF", 3), ("USFS", "FED", None, 3)])
    out, unknown = resolve_pathways(land, table)
    assert list(out["pathway_rule"]) == ["wilderness", "blm_protected", "blm", "blm", "forest", None]
    assert list(out["pathway"]) == ["legislation", "exchange", "lease", "lease", "exchange", None]
    assert out["pathway_available"].tolist()[:3] == [False, True, True]
    assert out["pathway_instruments"].iloc[2] == "lease sale"
    assert out.loc[4, ["pathway_months_low", "pathway_months_high"]].tolist() == [36.0, 72.0]
    assert unknown.no_rule == 1 and unknown.total() == 1  # USFS without a designation


def test_gap_rule_never_matches_missing_gap_status(table):
    out, _ = resolve_pathways(parcels([("BLM", "FED", None, None)]), table)
    assert out["pathway_rule"].iloc[0] == "blm"


def test_unknown_codes_get_no_pathway_and_are_counted(table):
    land = parcels([("XYZ", "FED", None, 3), ("BLM", "ODD", None, 3), ("BLM", "FED", "QQ", 3),
                    (None, "FED", None, 3), ("BLM", "FED", None, 3)])
    out, unknown = resolve_pathways(land, table)
    assert out["pathway"].isna().tolist() == [True, True, True, True, False]
    assert unknown.mang_name == {"XYZ": 1, "(blank)": 1}
    assert unknown.mang_type == {"ODD": 1} and unknown.des_tp == {"QQ": 1}
    notes = " ".join(unknown.notes("federal_land"))
    assert "XYZ (1 parcel)" in notes and "QQ" in notes and "ODD" in notes


def test_codes_are_matched_whatever_their_case(table):
    out, _ = resolve_pathways(parcels([("blm ", "fed", "wa", 3)]), table)
    assert out["pathway_rule"].iloc[0] == "wilderness"


@pytest.mark.parametrize(("change", "says"), [
    (lambda d: d["rules"][2].pop("months"), "rule 3 ('blm'): months are required"),
    (lambda d: d["rules"][2].pop("source"), "rule 3 ('blm'): missing"),
    (lambda d: d["rules"][2].__setitem__("months", [-3, 12]), "must not be negative"),
    (lambda d: d["rules"][2].__setitem__("months", [30, 12]), "low 30 is above high 12"),
    (lambda d: d["rules"][2].__setitem__("pathway", "sale"), "must be the first of instruments"),
    (lambda d: d["rules"][2].__setitem__("instruments", ["lease", "barter"]),
     "instrument 'barter' is not defined"),
    (lambda d: d["rules"][3].__setitem__("id", "blm"), "id 'blm' appears twice"),
    (lambda d: d["rules"][2].__setitem__("match", {}), "needs at least one of"),
    (lambda d: d["instruments"]["sale"].__setitem__("months", ["soon", 3]), "months.0"),
])
def test_a_bad_table_is_one_line_naming_the_row(change, says):
    doc = copy.deepcopy(DOC)
    change(doc)
    with pytest.raises(ConfigError) as err:
        table_from_doc(doc, "my_table.yaml")
    text = str(err.value)
    assert "my_table.yaml" in text and says in text and "\n" not in text


def test_user_table_rules_come_first(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("rules:\n  - id: district_practice\n    match: {mang_name: [BLM]}\n"
                    "    available: true\n    pathway: sale\n    instruments: [sale]\n"
                    "    nepa: EA\n    months: [18, 30]\n    source: Las Cruces District RMP 2023\n")
    table = load_pathway_table(user)
    assert table.rules[0].id == "district_practice" and len(table.rules) > 1
    assert table.sources[-1] == str(user)


def test_user_table_with_negative_months_names_file_line_and_row(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("rules:\n  - id: fine\n    match: {mang_name: [BLM]}\n    available: true\n"
                    "    pathway: sale\n    instruments: [sale]\n    nepa: EA\n    months: [1, 2]\n"
                    "    source: x\n  - id: bad\n    match: {mang_name: [BLM]}\n"
                    "    available: true\n    pathway: sale\n    instruments: [sale]\n"
                    "    nepa: EA\n    months: [-1, 2]\n    source: x\n")
    with pytest.raises(ConfigError) as err:
        load_pathway_table(user)
    assert "mine.yaml, line 16" in str(err.value) and "rule 2 ('bad')" in str(err.value)


def _areas(rows, geoms):
    return gpd.GeoDataFrame({"name": [r[0] for r in rows], "pathway": [r[1] for r in rows],
                             "mode": [r[2] for r in rows], "months_low": [r[3] for r in rows],
                             "months_high": [r[4] for r in rows], "source": "RMP",
                             "row": range(1, len(rows) + 1)}, geometry=geoms, crs=CRS)


def test_areas_override_and_add_on_part_of_a_parcel(table):
    land = parcels([("BLM", "FED", None, 3), ("USFS", "FED", "NF", 3)])
    areas = _areas([("disposal", "sale", "override", 6, 12), ("sez", "right_of_way", "add", np.nan, np.nan)],
                   [box(0, 0, 2_500, 5_000), box(10_000, 0, 12_500, 5_000)])
    split = split_land(land, LandPathways(table, PathwaysConfig(), {"rmp": areas}))
    kept = split.kept
    got = {(r.unit_name, r.pathway, r.pathway_rule): round(r.geometry.area / 1e6, 2)
           for r in kept.itertuples()}
    assert got == {("unit 0", "sale", "area rmp: disposal"): 12.5,
                   ("unit 0", "lease", "blm"): 12.5,
                   ("unit 1", "right_of_way", "area rmp: sez"): 12.5,  # faster than exchange
                   ("unit 1", "exchange", "forest"): 12.5}
    sez = kept[kept["pathway"] == "right_of_way"].iloc[0]
    assert sez["pathway_instruments"] == "right_of_way exchange legislation"
    assert (sez["pathway_months_low"], sez["pathway_months_high"]) == (6.0, 18.0)  # instrument's
    assert split.area_acres["rmp"] == pytest.approx(2 * 12.5e6 / 4046.8564224, abs=0.05)


def test_the_first_area_wins_where_areas_overlap(table):
    land = parcels([("BLM", "FED", None, 3)])
    areas = _areas([("a", "sale", "override", 6, 12), ("b", "exchange", "override", 40, 50)],
                   [box(0, 0, 3_000, 5_000), box(0, 0, 5_000, 5_000)])
    kept = split_land(land, LandPathways(table, PathwaysConfig(), {"rmp": areas})).kept
    assert sorted(kept["pathway"]) == ["exchange", "sale"]
    assert kept.area.sum() == pytest.approx(25e6)


def test_an_area_with_an_unknown_instrument_names_file_and_row(table):
    areas = _areas([("ok", "sale", "override", 1, 2), ("bad", "barter", "override", 1, 2)],
                   [box(0, 0, 1_000, 1_000), box(1_000, 0, 2_000, 1_000)])
    areas.attrs["path"] = "areas.gpkg"
    with pytest.raises(DataError) as err:
        split_land(parcels([("BLM", "FED", None, 3)]), LandPathways(table, PathwaysConfig(),
                                                                    {"rmp": areas}))
    assert "areas.gpkg" in str(err.value) and "row 2" in str(err.value) and "barter" in str(err.value)


def test_limits_remove_land_with_reasons(table):
    land = parcels([("BLM", "FED", "WA", 3), ("BLM", "FED", None, 3), ("USFS", "FED", "NF", 3)])
    cfg = PathwaysConfig(exclude_pathways=["exchange"])
    split = split_land(land, LandPathways(table, cfg))
    assert list(split.removed["reason"]) == ["land not available (wilderness)",
                                             "land pathway exchange excluded"]
    assert list(split.kept["pathway"]) == ["lease"]
    months = split_land(land, LandPathways(table, PathwaysConfig(max_months=30,
                                                                 exclude_unavailable=False)))
    assert list(months.removed["reason"]) == ["land pathway legislation takes 120 months > max 30",
                                              "land pathway exchange takes 54 months > max 30"]
    high = split_land(land, LandPathways(table, PathwaysConfig(max_months=30, months_basis="high")))
    assert "land pathway lease takes 36 months > max 30" in list(high.removed["reason"])


def test_land_without_a_pathway_is_never_removed_by_a_limit(table):
    land = parcels([("USFS", "FED", None, 3)])  # no rule
    split = split_land(land, LandPathways(table, PathwaysConfig(max_months=1,
                                                                exclude_pathways=["lease"])))
    assert len(split.removed) == 0 and split.kept["pathway"].isna().all()


def test_typical_months():
    assert typical_months(np.array([10.0]), np.array([30.0])).tolist() == [20.0]
    assert typical_months(np.array([10.0]), np.array([30.0]), "low").tolist() == [10.0]
    assert typical_months(np.array([10.0]), np.array([30.0]), "high").tolist() == [30.0]


def test_land_pathway_metric_reads_the_cells(table):
    land = parcels([("BLM", "FED", None, 3), ("USFS", "FED", "NF", 3), ("USFS", "FED", None, 3)])
    resolved, _ = resolve_pathways(land, table)
    cells = gpd.GeoDataFrame(pd.concat([land, resolved], axis=1), geometry="geometry", crs=CRS)
    assert list(compute_metric("land_pathway", cells, None, {})) == ["lease", "exchange", None]
    months = compute_metric("land_pathway", cells, None, {"measure": "months"})
    assert months[:2].tolist() == [24.0, 54.0] and np.isnan(months[2])
    avail = compute_metric("land_pathway", cells, None, {"measure": "available"})
    assert avail[:2].tolist() == [1.0, 1.0] and np.isnan(avail[2])
    # cells without pathways (a shortlist naming no land layer): all missing, so left out
    assert compute_metric("land_pathway", land, None, {}).tolist() == [None] * 3
    assert np.isnan(compute_metric("land_pathway", land, None, {"measure": "months"})).all()
    assert shapely.is_valid(cells.geometry.values).all()


def test_sma_agency_codes_are_read_through_the_tables_sma_section():
    """Hand-made BLM SMA records, as the blm_sma reader gives them (its own translation first:
    FS -> USFS, AF -> DOD; other codes pass through): every SMA agency reaches a pathway."""
    from sitescore.readers.federal_land import SMA_AGENCY_TYPE, SMA_TO_PADUS_AGENCY, _sma_type

    table = load_pathway_table()
    rows = []
    for code in table.sma_agencies:
        mang_name = SMA_TO_PADUS_AGENCY.get(code, code)
        rows.append((mang_name, SMA_AGENCY_TYPE.get(code, _sma_type(code, None)), None, np.nan))
    out, unknown = resolve_pathways(parcels(rows), table)
    assert unknown.total() == 0, unknown.record()
    assert out["pathway"].notna().all()
    by_code = dict(zip(table.sma_agencies, out["pathway"], strict=True))
    assert by_code["BLM"] == "sale" and by_code["FS"] == "exchange"
    assert by_code["DOE"] == "doe_lease" and by_code["AF"] == "enhanced_use_lease"
