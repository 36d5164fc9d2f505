"""The land-pathway table (src/sitescore/data/land_pathways.yaml) checked as data.

The manager and designation codes are checked against the real domain tables of a PAD-US 4.0
state geodatabase in ../shared/data (USGS GAP, PAD-US 4.0, doi:10.5066/P96WBCHS: `Agency_Name`,
`Agency_Type`, `Designation_Type`); the closures against the shipped designation classes; the SMA
translation against the SMA reader's own dictionaries. First-match order is checked with a small
matcher written here, so the data is tested apart from the resolver that reads it.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pyogrio
import pytest
import yaml

import sitescore
from helpers import shared_file
from sitescore.readers.federal_land import SMA_AGENCY_TYPE, SMA_TO_PADUS_AGENCY

TABLE_PATH = Path(sitescore.__file__).parent / "data" / "land_pathways.yaml"
DESIGNATIONS_PATH = Path(sitescore.__file__).parent / "data" / "designations.yaml"
PADUS_AZ = "federal_land/padus4_0_StateAZ_gdb_partial.zip"

KINDS = {"transfer", "lease", "authorization", "legislation", "none"}
NEPA = {"CX", "EA", "EIS", "none"}
MATCH_KEYS = {"mang_name", "mang_type", "des_tp", "gap_sts"}
RULE_KEYS = {"id", "match", "available", "pathway", "instruments", "nepa", "months", "source",
             "note"}
INSTRUMENT_KEYS = {"label", "kind", "nepa", "months", "source"}
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
GAPS = (None, 1, 2, 3, 4)

#: The federal agencies of the PAD-US 4.0 Agency_Name domain (codes 0100-0170 and the two
#: federal codes without an old number, USACE and BPA); each must have a default row of its own.
FEDERAL_AGENCIES = ("TVA", "BLM", "BOEM", "USBR", "FWS", "USFS", "DOD", "USACE", "DOE", "NPS",
                    "NRCS", "ARS", "BIA", "NOAA", "BPA", "OTHF")

#: BLM SMA ADMIN_AGENCY_CODE domain SMA_DOM_ADMIN_AGENCY_CODE, as served by the BLM Arizona SMA
#: feature service (lands/BLM_AZ_SMA, layer fields), and the older FGDC-metadata codes FS, BOR, AF.
SMA_DOMAIN = ("ARMY", "BIA", "BLM", "BOP", "BPA", "DOD", "DOE", "DOI", "DOT", "FAA", "FHA", "FWS",
              "GSA", "HHS", "LG", "NAVY", "NOAA", "NPS", "NTVALL", "NTVPIC", "OTHFE", "PVT", "ST",
              "UND", "USACE", "USAF", "USBR", "USCG", "USDA", "USFS", "USMC", "USPS", "VA")
SMA_OLDER = ("FS", "BOR", "AF")


@pytest.fixture(scope="module")
def table() -> dict:
    with TABLE_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def designations() -> dict:
    with DESIGNATIONS_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)["designations"]


def _domain(layer: str) -> dict[str, str]:
    """Code -> label of one domain table of the real PAD-US 4.0 Arizona geodatabase."""
    path = shared_file(PADUS_AZ)
    frame = pyogrio.read_dataframe(f"/vsizip/{path}/PADUS4_0_StateAZ.gdb", layer=layer,
                                   read_geometry=False)
    return {str(c).strip(): " ".join(str(d).split())
            for c, d in zip(frame["Code"], frame["Dom"], strict=True)}


def _holds(match: dict, mang_name: str | None, mang_type: str | None, des_tp: str | None,
           gap: int | None) -> bool:
    """Every key given holds; a blank designation or a missing GAP status matches no list."""
    parcel = {"mang_name": mang_name, "mang_type": mang_type, "des_tp": des_tp, "gap_sts": gap}
    return all(parcel[key] is not None and parcel[key] in values for key, values in match.items())


def _first(rules: list[dict], mang_name: str | None, mang_type: str | None,
           des_tp: str | None = None, gap: int | None = None) -> dict | None:
    return next((r for r in rules if _holds(r["match"], mang_name, mang_type, des_tp, gap)), None)


def _citations(text: str) -> set[str]:
    """'16 U.S.C. 1131', '54 U.S.C. 100101', 'Executive Order 13158' ... named in a source."""
    return set(re.findall(r"\d+ U\.S\.C\. \d+[a-z]*", text)) | \
        set(re.findall(r"Executive Order \d+", text))


# --- codes against the real PAD-US domains -------------------------------------------------------

@pytest.mark.shared_data
def test_manager_codes_are_exactly_the_padus_domains_with_their_labels(table):
    names, types = _domain("Agency_Name"), _domain("Agency_Type")
    assert len(names) == 44 and len(types) == 11
    assert table["codes"]["mang_name"] == names
    assert table["codes"]["mang_type"] == types


@pytest.mark.shared_data
def test_every_designation_a_rule_names_is_a_padus_code(table, designations):
    domain = _domain("Designation_Type")
    named = {c for r in table["rules"] for c in r["match"].get("des_tp", [])}
    assert named, "no rule names a designation"
    assert named - set(domain) == set()
    assert named - set(designations) == set()   # and the shipped designation table knows it


# --- the shape of the table ----------------------------------------------------------------------

def test_instruments_are_well_formed(table):
    instruments = table["instruments"]
    required = {"sale", "exchange", "lease", "right_of_way", "special_use_permit",
                "enhanced_use_lease", "doe_lease", "withdrawal_revocation",
                "excess_property_disposal", "tribal_lease", "state_land_sale_or_lease",
                "purchase", "legislation", "none"}
    assert required <= set(instruments)
    for code, inst in instruments.items():
        assert SNAKE.match(code), code
        assert set(inst) == INSTRUMENT_KEYS, code
        assert isinstance(inst["label"], str) and inst["label"].strip(), code
        assert inst["kind"] in KINDS and inst["nepa"] in NEPA, code
        assert isinstance(inst["source"], str) and len(inst["source"].strip()) > 20, code
        if inst["kind"] == "none":
            assert inst["months"] is None, code
            continue
        low, high = inst["months"]
        assert all(isinstance(m, (int, float)) and not isinstance(m, bool) for m in (low, high))
        assert 0 < low <= high, code
    assert instruments["none"]["kind"] == "none"


def test_rules_are_well_formed(table):
    instruments, codes = table["instruments"], table["codes"]
    ids = [r["id"] for r in table["rules"]]
    assert len(ids) == len(set(ids)), "rule ids must be unique"
    for rule in table["rules"]:
        rid = rule["id"]
        assert SNAKE.match(rid), rid
        assert set(rule) == RULE_KEYS, rid
        match = rule["match"]
        assert isinstance(match, dict) and match, f"{rid}: an empty match is not allowed"
        assert set(match) <= MATCH_KEYS, rid
        for key, values in match.items():
            assert isinstance(values, list) and values, f"{rid}.{key}"
            assert len(values) == len(set(values)), f"{rid}.{key}"
        for value in match.get("gap_sts", []):
            assert isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4
        for key in ("mang_name", "mang_type"):
            assert set(match.get(key, [])) <= set(codes[key]), f"{rid}.{key}"
        assert isinstance(rule["available"], bool), rid
        assert rule["instruments"] and rule["pathway"] == rule["instruments"][0], rid
        assert len(rule["instruments"]) == len(set(rule["instruments"])), rid
        assert set(rule["instruments"]) <= set(instruments), rid
        assert rule["nepa"] in NEPA, rid
        assert isinstance(rule["source"], str) and len(rule["source"].strip()) > 20, rid
        note = rule["note"]
        assert isinstance(note, str) and note.endswith(".") and len(note) < 200, rid
        if rule["pathway"] == "none":
            assert rule["months"] is None and rule["available"] is False, rid
        else:
            low, high = rule["months"]
            assert 0 < low <= high, rid
        if instruments[rule["pathway"]]["kind"] != "none" and rule["available"]:
            assert rule["nepa"] != "none" or instruments[rule["pathway"]]["nepa"] == "none", rid


# --- first-match coverage ------------------------------------------------------------------------

def test_every_manager_pair_reaches_a_rule_without_designation_or_gap(table):
    rules = table["rules"]
    names, types = table["codes"]["mang_name"], table["codes"]["mang_type"]
    missing = [(n, t) for n, t in itertools.product(names, types)
               if _first(rules, n, t, None, None) is None]
    assert missing == []
    # the matcher itself: a blank designation or a missing GAP status never matches a list
    assert not _holds({"des_tp": ["NF"]}, "USFS", "FED", None, None)
    assert not _holds({"gap_sts": [1, 2]}, "BLM", "FED", None, None)


def test_each_federal_agency_has_a_default_row_of_its_own(table):
    rules = table["rules"]
    assert set(FEDERAL_AGENCIES) <= set(table["codes"]["mang_name"])
    for agency in FEDERAL_AGENCIES:
        rule = _first(rules, agency, "FED")
        assert rule is not None and agency in rule["match"].get("mang_name", []), agency


def test_every_rule_is_the_first_match_somewhere(table):
    """No rule is shadowed by the rows above it."""
    rules, codes = table["rules"], table["codes"]
    for rule in rules:
        m = rule["match"]
        space = itertools.product(m.get("mang_name", list(codes["mang_name"])),
                                  m.get("mang_type", list(codes["mang_type"])),
                                  m.get("des_tp", [None]), m.get("gap_sts", [None]))
        assert any(_first(rules, *parcel) is rule for parcel in space), rule["id"]


def test_closures_cover_every_protected_designation(table, designations):
    rules, codes = table["rules"], table["codes"]
    protected = [c for c, row in designations.items() if row["class"] == "protected"]
    assert {"NP", "NM", "WA", "WSA", "NWR", "WSR", "NLS", "NCA", "MPA", "HCA"} <= set(protected)
    for code in protected:
        reached = {_first(rules, n, t, code, g)["id"]
                   for n, t, g in itertools.product(codes["mang_name"], codes["mang_type"], GAPS)}
        assert len(reached) == 1, (code, reached)   # one closure, whatever the manager
        rule = next(r for r in rules if r["id"] in reached)
        assert rule["available"] is False, code
        assert set(rule["match"]) == {"des_tp"}, code
        shared = _citations(rule["source"]) & _citations(designations[code]["source"])
        assert shared, f"{code}: the closure cites none of the statutes designations.yaml cites"


def test_the_pathways_a_planner_expects(table):
    rules = table["rules"]

    def pick(*parcel):
        return _first(rules, *parcel)

    forest = pick("USFS", "FED", "NF")
    assert forest["pathway"] == "exchange" and forest["available"] is True
    assert "sale" not in forest["instruments"]          # national forest land is not sold
    assert pick("DOD", "FED", "MIL")["pathway"] == "enhanced_use_lease"
    assert pick("DOE", "FED")["pathway"] == "doe_lease"
    blm = pick("BLM", "FED")
    assert blm["pathway"] == "sale" and blm["available"] is True
    assert pick("BLM", "FED", None, 3) is blm             # GAP 3 is multiple use
    acec = pick("BLM", "FED", "ACEC")
    assert acec["pathway"] == "sale" and acec["nepa"] == "EIS"
    assert acec["months"][0] > blm["months"][0]           # the plan amendment comes first
    assert pick("BLM", "FED", None, 1)["id"] == acec["id"].replace("special_management",
                                                                   "protected_status")
    assert pick("BLM", "FED", "WA")["available"] is False
    assert pick("USFS", "FED", "WA")["pathway"] == "legislation"
    assert pick("NPS", "FED")["available"] is False
    assert pick("FWS", "FED")["available"] is False
    assert pick("TRIB", "TRIB", "TRIBL")["pathway"] == "tribal_lease"
    assert pick("BIA", "TRIB")["pathway"] == "tribal_lease"
    assert pick("SLB", "STAT")["pathway"] == "state_land_sale_or_lease"
    assert pick("SPR", "STAT")["available"] is False
    assert pick("PVT", "PVT")["pathway"] == "purchase"
    assert pick("NGO", "NGO", "CONE")["available"] is False   # the easement binds the owner
    assert pick("CNTY", "LOC")["pathway"] == "local_land_sale_or_lease"


# --- the SMA translation -------------------------------------------------------------------------

def test_sma_agencies_cover_the_domain_and_agree_with_the_reader(table):
    sma, codes = table["sma_agencies"], table["codes"]
    assert set(sma) == set(SMA_DOMAIN) | set(SMA_OLDER)
    assert set(SMA_TO_PADUS_AGENCY) <= set(sma) and set(SMA_AGENCY_TYPE) <= set(sma)
    for code, padus in SMA_TO_PADUS_AGENCY.items():
        assert sma[code]["mang_name"] == padus, code
    for code, kind in SMA_AGENCY_TYPE.items():
        assert sma[code]["mang_type"] == kind, code
    for code, row in sma.items():
        assert set(row) == {"label", "mang_name", "mang_type", "source"}, code
        assert row["label"].strip() and len(row["source"].strip()) > 10, code
        assert row["mang_name"] in codes["mang_name"], code
        assert row["mang_type"] in codes["mang_type"], code
        # a code the reader passes through unchanged is read as that same PAD-US code
        if code not in SMA_TO_PADUS_AGENCY and code in codes["mang_name"]:
            assert row["mang_name"] == code, code
        # the reader calls every agency of a federal department FED
        if code not in SMA_AGENCY_TYPE:
            assert row["mang_type"] == "FED", code
    # every SMA record reaches a rule, with the designation sitescore derives or none
    for row in sma.values():
        assert _first(table["rules"], row["mang_name"], row["mang_type"]) is not None
