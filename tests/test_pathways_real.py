"""Every rule of the shipped land-pathway table against PAD-US codes: each row reached by a record
made from its own match, and every record of the real PAD-US 4.0 Arizona and New Mexico
geodatabases and the Colorado / Nevada re-publications given a pathway, never an unknown."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyogrio
import pytest

from helpers import SHARED_DATA
from sitescore.pathways import load_pathway_table, resolve_pathways

TABLE = load_pathway_table()


def _record(rule):
    m = rule.match
    mang_name = m.mang_name[0] if m.mang_name else None
    mang_type = m.mang_type[0] if m.mang_type else None
    if mang_name is None:
        # a manager of that type the rules above do not name: the table's own first such code
        mang_name = {"FED": "OTHF", "TRIB": "TRIB", "STAT": "OTHS", "TERR": "PR", "DIST": "REG",
                     "LOC": "UNKL", "PVT": "PVT", "NGO": "NGO", "UNK": "UNK", "JNT": "JNT",
                     "DESG": "DESG"}.get(mang_type or "FED", "OTHF")
    return {"mang_name": mang_name, "mang_type": mang_type or "FED",
            "designation": m.des_tp[0] if m.des_tp else None,
            "gap_status": float(m.gap_sts[0]) if m.gap_sts else np.nan}


@pytest.mark.parametrize("rule", TABLE.rules, ids=[r.id for r in TABLE.rules])
def test_every_rule_is_reached_by_a_record_of_its_own_match(rule):
    frame = pd.DataFrame([_record(rule)])
    out, unknown = resolve_pathways(frame, TABLE)
    assert unknown.total() == 0, unknown.record()
    got = out.iloc[0]
    # a rule may be shadowed only by one above it giving the same answer
    assert (got["pathway"], got["pathway_available"]) == (rule.pathway, rule.available), \
        (rule.id, got["pathway_rule"])


GDBS = {"AZ": "federal_land/padus4_0_StateAZ_gdb_partial.zip",
        "NM": "federal_land/padus4_0_StateNM_gdb_partial.zip"}
SUBSETS = ["federal_land/padus4_0_CO_potamap_subset.geojson",
           "federal_land/padus3_0_combined_NM_potamap_subset.geojson",
           "federal_land/padus3_0_fee_NV_potamap_subset.geojson",
           "federal_land/padus3_0_designation_NV_potamap_subset.geojson"]


def _gdb_records(state: str) -> pd.DataFrame:
    path = SHARED_DATA / GDBS[state]
    if not path.exists():
        pytest.skip(f"{path} is not here")
    gdb = f"/vsizip/{path}/PADUS4_0_State{state}.gdb"
    frames = []
    for name in ("Designation", "Proclamation", "Easement"):
        df = pyogrio.read_dataframe(gdb, layer=f"PADUS4_0{name}_State_{state}", read_geometry=False,
                                    columns=["Mang_Name", "Mang_Type", "Des_Tp", "GAP_Sts"])
        frames.append(df.assign(layer=name))
    df = pd.concat(frames, ignore_index=True)
    return pd.DataFrame({"mang_name": df["Mang_Name"], "mang_type": df["Mang_Type"],
                         "designation": df["Des_Tp"], "gap_status": pd.to_numeric(df["GAP_Sts"],
                                                                                  errors="coerce"),
                         "layer": df["layer"]})


@pytest.mark.shared_data
@pytest.mark.parametrize("state", sorted(GDBS))
def test_every_real_padus4_record_gets_a_pathway(state):
    records = _gdb_records(state)
    out, unknown = resolve_pathways(records, TABLE)
    assert unknown.total() == 0, unknown.record()
    assert out["pathway"].notna().all()
    both = pd.concat([records, out], axis=1)
    # what a land-use specialist expects of the real records
    wild = both[both["designation"] == "WA"]
    assert len(wild) and (wild["pathway_available"] == False).all()  # noqa: E712
    dod = both[(both["mang_name"] == "DOD") & (both["designation"] == "MIL")]
    assert len(dod) and set(dod["pathway"]) == {"enhanced_use_lease"}
    forest = both[(both["mang_name"] == "USFS") & both["gap_status"].isin([3, 4])
                  & both["designation"].isin(["NF", "IRA"])]
    assert set(forest["pathway"]) <= {"exchange"}
    easements = both[both["layer"] == "Easement"]
    assert len(easements) and (easements["pathway_available"] == False).all()  # noqa: E712
    used = Counter(out["pathway_rule"])
    assert len(used) >= 10, used


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", SUBSETS)
def test_the_republished_subsets_get_a_pathway_on_every_record(rel):
    path = SHARED_DATA / rel
    if not path.exists():
        pytest.skip(f"{path} is not here")
    df = pyogrio.read_dataframe(path, read_geometry=False)
    records = pd.DataFrame({"mang_name": df["MANNAME"], "mang_type": df["MANTYPE"],
                            "designation": None, "gap_status": np.nan})
    out, unknown = resolve_pathways(records, TABLE)
    blank = records["mang_name"].isna() | records["mang_name"].astype(str).str.strip().eq("")
    # a record without a manager code is counted, never given a pathway
    assert unknown.mang_name.get("(blank)", 0) == int(blank.sum())
    assert out.loc[~blank, "pathway"].notna().all()
    assert out.loc[blank, "pathway"].isna().all()
