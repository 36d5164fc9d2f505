"""PAD-US 4.0 state geodatabases as USGS publishes them (Arizona and New Mexico, ../shared/data),
and the Arizona study on them (configs/arizona.yaml).

The shared copies are partial (SOURCES.md): they hold the Designation, Proclamation and Easement
feature classes and 8 lookup tables, not the Fee and Combined classes. Feature class names,
fields and domains: PAD-US 4.0 Standard and Data Manual (USGS GAP, doi:10.5066/P96WBCHS).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from helpers import SHARED_DATA, layer_source, shared_file
from sitescore.candidates import eligible_land
from sitescore.config import CandidatesConfig, load_config
from sitescore.errors import ConfigError, DataError
from sitescore.pipeline import run
from sitescore.readers import read_layer
from sitescore.readers.padus_gdb import feature_class_of
from sitescore.schema import SQM_PER_ACRE
from sitescore.study_area import bbox_area

pytestmark = pytest.mark.shared_data

AZ_ZIP = "federal_land/padus4_0_StateAZ_gdb_partial.zip"
NM_ZIP = "federal_land/padus4_0_StateNM_gdb_partial.zip"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def padus(path: Path, *classes: str, **options) -> gpd.GeoDataFrame:
    if classes:
        options["feature_classes"] = list(classes)
    return read_layer(layer_source("padus", path, name="federal_land", **options))


def raw(path: Path, layer: str, gdb: str = "PADUS4_0_StateAZ.gdb") -> gpd.GeoDataFrame:
    """A feature class as GDAL gives it, curves linearised (the independent reference)."""
    return pyogrio.read_dataframe(f"/vsizip/{path}/{gdb}", layer=layer, use_arrow=False)


@pytest.fixture(scope="module")
def az_zip() -> Path:
    return shared_file(AZ_ZIP)


@pytest.fixture(scope="module")
def az_both(az_zip) -> gpd.GeoDataFrame:
    return padus(az_zip, "designation", "proclamation")


# --- feature classes by their published names -----------------------------------------------

@pytest.mark.parametrize(("name", "kind"), [
    ("PADUS4_0Fee_State_AZ", "fee"),
    ("PADUS4_0Designation_State_AZ", "designation"),
    ("PADUS4_0Proclamation_State_AZ", "proclamation"),
    ("PADUS4_0Easement_State_AZ", "easement"),
    ("PADUS4_0Combined_Proclamation_Marine_Fee_Designation_Easement", "combined"),
    ("PADUS4_1Comb_DOD_Trib_NGP_Fee_Desig_Ease_State_AZ", "combined"),
    ("PADUS4_1Fee", "fee"),
    ("PADUS3_0Fee_StateNV", "fee"),
    ("padus3_0_designation_NV_potamap_subset", "designation"),
    ("SurfaceManagementAgency", None),
    ("Agency_Name", None),
])
def test_feature_class_of_published_names(name, kind):
    assert feature_class_of(name) == kind


def test_az_gdb_reads_the_classes_asked_and_says_which_are_absent(az_both):
    gdf = az_both
    assert len(gdf) == 411 + 90                      # SOURCES.md: Designation 411, Proclamation 90
    assert gdf.crs.to_epsg() == 5070
    assert gdf.attrs["feature_classes"] == ["PADUS4_0Designation_State_AZ",
                                            "PADUS4_0Proclamation_State_AZ"]
    assert gdf.attrs["feature_classes_absent"] == ["fee", "combined"]
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    assert bool(shapely.is_valid(gdf.geometry.values).all())
    assert gdf.attrs["repaired"] == 9 + 2            # 9 invalid Designation features, 2 Proclamation
    assert list(gdf.columns[-2:]) == ["agency_label", "designation_label"]


def test_az_curved_boundaries_are_read_linearised_and_keep_their_area(az_zip):
    # GDAL's Arrow stream hands the curved records over as MultiSurface WKB (type 12), which
    # GEOS cannot hold; the reader falls back to GDAL's linear approximation
    meta, table = pyogrio.read_arrow(f"/vsizip/{az_zip}/PADUS4_0_StateAZ.gdb",
                                     layer="PADUS4_0Proclamation_State_AZ")
    wkb = table.column(meta["geometry_name"] or "wkb_geometry").to_pylist()
    curved = np.array([int.from_bytes(b[1:5], "little") in (10, 12, 15, 16, 17) for b in wkb])
    assert int(curved.sum()) == 5
    gdf = padus(az_zip, "proclamation")
    assert gdf.attrs["curves_linearised"] == ["PADUS4_0Proclamation_State_AZ"]
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    # the linearised outlines keep the acres PAD-US states for them (GIS_Acres, whole acres)
    acres = gdf.geometry.area.to_numpy() / SQM_PER_ACRE
    stated = gdf["gis_acres"].to_numpy()
    assert np.abs(acres[curved] / stated[curved] - 1).max() < 0.01
    big = stated >= 1000
    assert np.median(np.abs(acres[big] / stated[big] - 1)) < 1e-3


def test_nm_gdb_has_no_curves_and_its_military_land(tmp_path):
    nm = padus(shared_file(NM_ZIP), "designation", "proclamation")
    assert len(nm) == 751 + 89 and "curves_linearised" not in nm.attrs
    assert nm.attrs["feature_classes_absent"] == ["fee", "combined"]
    dod = nm[nm["mang_name"] == "DOD"]
    assert len(dod) == 11 and set(dod["designation"]) == {"MIL"}
    assert {"White Sands Missile Range", "Kirtland Air Force Base", "Fort Bliss"} <= set(dod["unit_name"])
    assert set(dod["agency_label"]) == {"Department of Defense"}
    blm = nm[nm["mang_name"] == "BLM"]
    assert blm["designation"].value_counts()[["ACEC", "WSA", "WA"]].tolist() == [106, 49, 18]


def test_the_zip_the_gdb_folder_and_its_parent_folder_read_alike(az_zip, tmp_path):
    with zipfile.ZipFile(az_zip) as archive:
        archive.extractall(tmp_path / "download")
    gdb = tmp_path / "download" / "PADUS4_0_StateAZ.gdb"
    from_zip = padus(az_zip, "proclamation")
    for path in (gdb, tmp_path / "download"):
        other = padus(path, "proclamation")
        assert other["unit_name"].tolist() == from_zip["unit_name"].tolist()
        assert np.allclose(other.geometry.area, from_zip.geometry.area)


def test_picking_feature_classes_refuses_what_the_file_cannot_give(az_zip):
    with pytest.raises(DataError) as err:      # neither Fee nor Combined: say which to name
        padus(az_zip)
    message = str(err.value)
    assert "no PAD-US Fee or Combined" in message and "options.feature_classes" in message
    assert "PADUS4_0Proclamation_State_AZ" in message
    with pytest.raises(DataError, match=r"has no PAD-US fee feature class .*designation "
                                        r"\(PADUS4_0Designation_State_AZ\)"):
        padus(az_zip, "fee")
    with pytest.raises(ConfigError, match=r"options\.feature_classes.*did you mean 'proclamation'"):
        padus(az_zip, "proclamations")
    with pytest.raises(ConfigError, match="give one of them"):
        read_layer(layer_source("padus", az_zip, name="federal_land",
                                file_layer="PADUS4_0Designation_State_AZ",
                                feature_classes=["designation"]))
    # a layer named in the config is read as it is, and the absent classes are still said
    easement = read_layer(layer_source("padus", az_zip, file_layer="PADUS4_0Easement_State_AZ"))
    assert len(easement) == 159 and easement.attrs["feature_classes_absent"] == ["fee", "combined"]


# --- domain tables ---------------------------------------------------------------------------

def test_agency_and_designation_codes_are_decoded_from_the_lookup_tables(az_both, az_zip):
    gdf = az_both
    agencies = pyogrio.read_dataframe(f"/vsizip/{az_zip}/PADUS4_0_StateAZ.gdb",
                                      layer="Agency_Name", read_geometry=False)
    domain = dict(zip(agencies["Code"], agencies["Dom"], strict=True))
    assert (gdf["agency_label"] == gdf["mang_name"].map(domain)).all()
    assert gdf.attrs["agency_labels"]["DOD"] == "Department of Defense"
    assert gdf.attrs["agency_labels"]["FWS"] == "U.S. Fish and Wildlife Service"
    # the lookup table agrees with PAD-US's own decoded twin of each record (d_Mang_Name)
    twins = pd.concat([raw(az_zip, "PADUS4_0Designation_State_AZ"),
                       raw(az_zip, "PADUS4_0Proclamation_State_AZ")], ignore_index=True)
    assert gdf["agency_label"].tolist() == twins["d_Mang_Name"].str.strip().tolist()
    # a designation's label is its code's: where the record's own code stands, PAD-US's d_Des_Tp
    kept = (gdf["designation"] == twins["Des_Tp"]).to_numpy()
    assert kept.sum() > 400
    assert gdf.loc[kept, "designation_label"].tolist() == \
        [" ".join(t.split()) for t in twins.loc[kept, "d_Des_Tp"]]
    wa = gdf[gdf["unit_name"] == "Mazatzal Wilderness"]
    assert wa[["designation", "designation_label", "agency_label"]].values.tolist() == [
        ["WA", "Wilderness Area", "Forest Service"]]


def test_proclamation_boundaries_take_the_designation_their_names_give(az_both):
    proc = az_both[az_both["unit_name"].isin([
        "Grand Canyon National Park", "Organ Pipe Cactus National Monument",
        "Kofa National Wildlife Refuge", "Tumacacori National Historical Park",
        "Tonto National Forest", "Gila River Waterfowl Management Area",
        "Yuma Proving Ground", "Navajo Nation Reservation"])].set_index("unit_name")
    assert proc["designation"].to_dict() == {
        "Grand Canyon National Park": "NP", "Organ Pipe Cactus National Monument": "NM",
        "Kofa National Wildlife Refuge": "NWR", "Tumacacori National Historical Park": "HCA",
        "Tonto National Forest": "NF",
        "Gila River Waterfowl Management Area": "PROC",   # no name rule: the generic code stays
        "Yuma Proving Ground": "MIL", "Navajo Nation Reservation": "TRIBL"}
    assert proc.loc["Gila River Waterfowl Management Area", "designation_label"] == \
        "Approved or Proclamation Boundary"
    assert az_both.attrs["designation_from_name"] == 39


# --- Designation and Proclamation together ---------------------------------------------------

def test_proclamation_land_with_designation_exclusions_each_with_its_reason(az_zip):
    area = bbox_area([-112.3, 34.8, -111.2, 35.5], "Flagstaff")   # Coconino and Kaibab NFs
    land = read_layer(layer_source("padus", az_zip, feature_classes=["proclamation"]), area)
    designations = read_layer(layer_source("padus", az_zip, name="padus_designation",
                                           feature_classes=["designation"]), area)
    cfg = CandidatesConfig(agencies=["USFS"], exclude={"layers": ["padus_designation"],
                                                        "class_buffers_km": {"protected": 2}})
    el = eligible_land(land, cfg, area, {"padus_designation": designations})
    reasons = set(el.excluded["reason"])
    assert "padus_designation: Wilderness Area (WA) Red Rock-Secret Mountain Wilderness" in reasons
    assert "padus_designation: Wilderness Area (WA) Kendrick Mountain Wilderness" in reasons
    assert not any("(IRA)" in r for r in reasons)    # roadless areas: restricted, not excluded
    # the protected class keeps its configured 2 km from the candidate land
    wilderness = designations[designations["designation"] == "WA"]
    near = wilderness[shapely.distance(wilderness.geometry.values, el.geometry) < 5000]
    assert len(near) >= 3
    assert shapely.distance(shapely.union_all(near.geometry.values), el.geometry) >= 2000 - 1
    by_reason = el.excluded.set_index("reason")["buffer_m"]
    assert by_reason["padus_designation: Wilderness Area (WA) Kendrick Mountain Wilderness"] == 2000
    # asking for the restricted class too takes the roadless areas, with their label
    strict = CandidatesConfig(agencies=["USFS"], exclude={"layers": ["padus_designation"],
                                                           "classes": ["restricted"]})
    el2 = eligible_land(land, strict, area, {"padus_designation": designations})
    assert any(r.startswith("padus_designation: Inventoried Roadless Area (IRA) ")
               for r in el2.excluded["reason"])
    assert shapely.area(el2.geometry) < shapely.area(el.geometry)


def test_padus_units_names_ranges_and_says_a_wrong_name(az_zip):
    ranges = read_layer(layer_source("padus_units", az_zip, name="operational_ranges",
                                     feature_classes=["proclamation"],
                                     units=["Yuma Proving Ground", "barry  goldwater range"]))
    assert sorted(ranges["name"]) == ["Barry Goldwater Range", "Yuma Proving Ground"]
    assert set(ranges["designation"]) == {"MIL"}
    with pytest.raises(DataError, match="did you mean 'Yuma Proving Ground'"):
        read_layer(layer_source("padus_units", az_zip, feature_classes=["proclamation"],
                                units=["Yuma Proving Grounds"]))
    # a unit outside the study area is no typo: nothing of it is read, and no error
    tucson = bbox_area([-111.2, 31.9, -110.6, 32.4], "Tucson")
    assert len(read_layer(layer_source("padus_units", az_zip, feature_classes=["proclamation"],
                                       units=["Yuma Proving Ground"]), tucson)) == 0


# --- the Arizona study end to end ------------------------------------------------------------

@pytest.fixture(scope="module")
def az_run(tmp_path_factory):
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    out = tmp_path_factory.mktemp("arizona")
    cfg = load_config(CONFIGS / "arizona.yaml")
    # the shared data hold no western transmission lines, substations, Aqueduct, DEM or places
    return run(cfg, maps_dir=out / "maps", runs_dir=out / "runs", cache_dir=out / "cache",
               allow_partial=True)


def test_arizona_ranks_six_dod_sites_and_says_what_it_read(az_run):
    sites = az_run.sites
    assert sites["rank"].tolist() == list(range(1, 7))
    assert (np.diff(sites["score"].to_numpy()) <= 1e-12).all()
    assert set(sites["agency"]) == {"DOD"} and set(sites["state"]) == {"AZ"}
    assert (sites["acres"] >= 500 - 1e-6).all()
    # the Air Force offered Davis-Monthan AFB land for AI data centres (request for lease
    # proposals, Oct. 15, 2025; Air & Space Forces Magazine, "Air Force Bases to Host AI Data
    # Centers on Unused Land"): a planner expects it among the six
    assert "Davis-Monthan Air Force Base" in set(sites["unit_name"])
    inputs = {i["layer"]: i for i in az_run.manifest["inputs"]}
    assert inputs["federal_land"]["feature_classes"] == ["PADUS4_0Proclamation_State_AZ"]
    assert inputs["federal_land"]["feature_classes_absent"] == ["fee", "combined"]
    assert inputs["padus_designation"]["feature_classes"] == ["PADUS4_0Designation_State_AZ"]
    assert {x.name for x in az_run.left_out} >= {"transmission_230", "substation_230", "slope"}
    assert az_run.weight_kept == pytest.approx(0.48, abs=1e-6) and az_run.partial
    report = az_run.report_path.read_text(encoding="utf-8")
    assert "Department of Defense (DOD)" in report


def test_arizona_top_sites_lie_outside_every_park_refuge_wilderness_and_range(az_run, az_zip):
    designation = raw(az_zip, "PADUS4_0Designation_State_AZ")
    proclamation = raw(az_zip, "PADUS4_0Proclamation_State_AZ")
    both = pd.concat([designation, proclamation], ignore_index=True)
    both = gpd.GeoDataFrame(both, geometry="geometry", crs=designation.crs).to_crs(5070)
    both["geometry"] = shapely.make_valid(both.geometry.values)
    nps_fws_wild = both[both["Mang_Name"].isin(["NPS", "FWS"]) | both["Des_Tp"].isin(["WA", "WSA"])]
    assert len(nps_fws_wild) == 147
    protected = shapely.union_all(nps_fws_wild.geometry.values)
    ranges = shapely.union_all(both.loc[both["Unit_Nm"].isin(
        ["Barry Goldwater Range", "The Barry M Goldwater Air Force Range",
         "Yuma Proving Ground"]), "geometry"].values)
    dod = shapely.union_all(both.loc[both["Mang_Name"] == "DOD", "geometry"].values)
    for _, site in az_run.sites.iterrows():
        g = site.geometry
        assert shapely.area(shapely.intersection(g, protected)) == 0, site["name"]
        assert shapely.distance(g, protected) >= 1000 - 1, site["name"]   # the 1 km buffer
        assert shapely.distance(g, ranges) >= 1000 - 1, site["name"]
        assert shapely.area(shapely.difference(g, dod)) < 1e-3 * shapely.area(g)


def test_arizona_excluded_land_names_each_area_and_its_rule(az_run):
    excluded = gpd.read_file(az_run.run_dir / "sitescore.gpkg", layer="excluded")
    reasons = set(excluded["reason"])
    assert "padus_designation: Wilderness Area (WA) Miller Peak Wilderness" in reasons
    assert "operational_ranges: Yuma Proving Ground" in reasons
    assert "designation NWR (National Wildlife Refuge)" in reasons
    removed = az_run.manifest["excluded_acres_by_rule"]
    # Fort Huachuca's edge lies along the Miller Peak Wilderness and the San Pedro NCA
    assert removed["padus_designation: Wilderness Area (WA) Miller Peak Wilderness"] > 1000
    assert removed["operational_ranges: Yuma Proving Ground"] > 700_000
