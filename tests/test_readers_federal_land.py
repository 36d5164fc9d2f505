"""Federal land readers: PAD-US (official and potamap re-published field names) and BLM SMA.

Unit-test files are written in the providers' published schemas:

* PAD-US 3.0 Fee feature class: USGS GAP, "Protected Areas Database of the United States
  (PAD-US) 3.0", U.S. Geological Survey data release (2022), https://doi.org/10.5066/P9Q9LQ4B,
  item https://www.sciencebase.gov/catalog/item/61794fc2d34ea58c3c6f9f69 (FGDC metadata,
  Entity and Attribute section). Text fields Own_Type, Own_Name, Mang_Type, Mang_Name, Des_Tp,
  Unit_Nm, State_Nm (two-letter code), GAP_Sts (text '1'..'4'), double GIS_Acres; CRS "USA
  Contiguous Albers Equal Area Conic USGS version" (ESRI:102039).
* BLM national Surface Management Agency: ArcGIS item 6bf2e737c59d4111be92420ee5ab0b46 "BLM
  National SMA Surface Management Agency Area Polygons", file SMA_WM.gdb, feature class
  SurfaceManagementAgency, EPSG:3857: SMA_ID (Int16), HOLD_ID (Int16), ADMIN_ST (String 2),
  FAU_ID (Int16), ADMIN_UNIT_NAME (String 255), ADMIN_UNIT_TYPE (String 255), ADMIN_DEPT_CODE
  (String 6), ADMIN_AGENCY_CODE (String 8), HOLD_DEPT_CODE, HOLD_AGENCY_CODE. Code values from
  BLM's coded domains SMA_DOM_ADMIN_AGENCY_CODE / SMA_DOM_ADMIN_DEPT_CODE (as listed on
  https://gis.blm.gov/azarcgis/rest/services/lands/BLM_AZ_SMA/FeatureServer). The national
  layer has no GIS_ACRES field; ADMIN_ST is the BLM state office ('ES' = Eastern States).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from helpers import layer_source, shared_file
from sitescore.errors import ConfigError, DataError
from sitescore.readers import read_layer
from sitescore.readers.federal_land import designation_for, designation_from_name
from sitescore.study_area import StudyArea, bbox_area

NM = "federal_land/padus3_0_combined_NM_potamap_subset.geojson"
CO = "federal_land/padus4_0_CO_potamap_subset.geojson"


def padus(path: Path, area: StudyArea | None = None, layer: str | None = None,
          options: dict | None = None) -> gpd.GeoDataFrame:
    return read_layer(layer_source("padus", path, name="federal_land", file_layer=layer,
                                   **(options or {})), area)


def sma(path: Path, area: StudyArea | None = None,
        options: dict | None = None) -> gpd.GeoDataFrame:
    return read_layer(layer_source("blm_sma", path, name="federal_land", **(options or {})),
                      area)


# --- real data ---------------------------------------------------------------------------

@pytest.mark.shared_data
def test_padus_nm_subset_blm_units_and_repairs():
    gdf = padus(shared_file(NM))
    assert len(gdf) == 100
    assert gdf.crs.to_epsg() == 5070
    assert gdf.attrs["repaired"] == 19          # SOURCES.md: 19 fail a GEOS validity check
    assert gdf.attrs["dropped"] == 0
    assert bool(shapely.is_valid(gdf.geometry.values).all())
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    # no provider field names leak
    assert list(gdf.columns) == ["geometry", "unit_name", "own_type", "own_name", "mang_type",
                                 "mang_name", "designation", "gap_status", "state", "gis_acres",
                                 "agency_label", "designation_label"]

    blm = gdf[gdf["mang_name"] == "BLM"].set_index("unit_name")
    assert dict(blm["designation"]) == {
        "Organ Mountains - Desert Peaks National Monument": "NM",
        "Ojito Wilderness Area": "WA",
        "Cabezon Wilderness Study Area": "WSA",
        "Fort Stanton - Snowy River National Conservation Area": "NCA",
        "RIO GRANDE DEL NORTE NATIONAL MONUMENT": "NM",
    }
    # the file has no Des_Tp: every designation was derived from the name
    assert gdf.attrs["designation_from_name"] == int(gdf["designation"].notna().sum())
    assert gdf["gap_status"].isna().all()       # the potamap subset carries no GAP_Sts
    assert gdf["mang_name"].value_counts().to_dict() == {
        "SPR": 38, "USFS": 20, "NPS": 15, "FWS": 12, "OTHS": 9, "BLM": 5, "CNTY": 1}
    # the one National Atlas record carries STATE and GIS_ACRES; the rest have neither
    rio = blm.loc["RIO GRANDE DEL NORTE NATIONAL MONUMENT"]
    assert rio["state"] == "NM" and rio["gis_acres"] == pytest.approx(236114.5, abs=0.1)
    assert gdf["state"].isna().sum() == 99


@pytest.mark.shared_data
def test_padus_nm_state_option_fills_missing_state():
    gdf = padus(shared_file(NM), options={"state": "nm"})
    assert (gdf["state"] == "NM").all()


@pytest.mark.shared_data
def test_padus_co_subset_manager_counts():
    gdf = padus(shared_file(CO), options={"state": "CO"})
    assert len(gdf) == 841
    assert gdf.attrs["repaired"] == 31          # SOURCES.md: 31 invalid per GEOS
    assert bool(shapely.is_valid(gdf.geometry.values).all())
    assert gdf["mang_name"].value_counts().to_dict() == {
        "SFW": 726, "OTHS": 33, "FWS": 26, "SPR": 22, "USFS": 21, "NPS": 13}
    assert gdf["mang_type"].value_counts().to_dict() == {"STAT": 781, "FED": 60}
    owners = gdf["own_name"].value_counts()
    assert owners["SFW"] == 405 and owners["BLM"] == 56 and owners["USBR"] == 29
    assert (gdf["state"] == "CO").all()
    # Colorado's many State Wildlife Areas are PAD-US resource management areas, not SW
    # (one unit, 'Bonny Lake State Park/South Republican State Wildlife Area', is both: SP wins)
    swa = gdf[gdf["unit_name"].str.contains("State Wildlife Area", na=False)
              & ~gdf["unit_name"].str.contains("State Park", na=False)]
    assert len(swa) > 300 and (swa["designation"] == "SRMA").all()


@pytest.mark.shared_data
def test_padus_study_area_filter_reduces_features():
    area = bbox_area([-107.5, 34.5, -105.5, 36.5], "central NM")
    gdf = padus(shared_file(NM), area)
    assert 0 < len(gdf) < 100
    assert bool(shapely.intersects(area.geometry, gdf.geometry.values).all())
    assert "Ojito Wilderness Area" in set(gdf["unit_name"])
    assert "Carlsbad Caverns National Park" not in set(gdf["unit_name"])


# --- PAD-US published schema -------------------------------------------------------------

def _padus_fee_frame() -> gpd.GeoDataFrame:
    rows = [
        # FeatClass, Own_Type, Own_Name, Mang_Type, Mang_Name, Des_Tp, Unit_Nm, State_Nm,
        # GIS_Acres, GAP_Sts
        ("Fee", "FED", "BLM", "FED", "BLM", "PUB", "Bureau of Land Management", "AZ",
         1520.5, "3"),
        ("Fee", "FED", "NPS", "FED", "NPS", "NP", "Saguaro National Park", "AZ", 91716.2, "1"),
        ("Fee", "FED", "BLM", "FED", "BLM", "", "Cabeza Wilderness Study Area", "AZ", 12.0, ""),
        ("Fee", "STAT", "SLB", "STAT", "SLB", "SOTH", "Arizona State Trust Land", "AZ", 640.0,
         "4"),
        ("Fee", "FED", "DOD", "FED", "DOD", "MIL", "Barry M. Goldwater Range", "AZ", 9.0, "5"),
    ]
    cols = ["FeatClass", "Own_Type", "Own_Name", "Mang_Type", "Mang_Name", "Des_Tp", "Unit_Nm",
            "State_Nm", "GIS_Acres", "GAP_Sts"]
    df = pd.DataFrame(rows, columns=cols)
    # the rest of the Fee schema, present but unused by the reader
    for extra in ["Category", "Loc_Own", "Loc_Mang", "Loc_Ds", "Loc_Nm", "Agg_Src", "GIS_Src",
                  "Src_Date", "Pub_Access", "GAPCdSrc", "IUCN_Cat", "Date_Est", "Comments"]:
        df[extra] = ""
    # 5 km squares near Tucson in CONUS Albers (USGS version, as PAD-US ships)
    x0, y0 = -1_380_000.0, 1_100_000.0
    geoms = [box(x0 + i * 6000, y0, x0 + i * 6000 + 5000, y0 + 5000) for i in range(len(df))]
    return gpd.GeoDataFrame(df, geometry=geoms, crs="ESRI:102039")


def test_padus_fee_schema_mapping(tmp_path):
    path = tmp_path / "PADUS3_0_StateAZ.gpkg"
    _padus_fee_frame().to_file(path, layer="PADUS3_0Fee_StateAZ", driver="GPKG")
    gdf = padus(path)
    assert gdf.crs.to_epsg() == 5070
    assert gdf["unit_name"].tolist()[:2] == ["Bureau of Land Management", "Saguaro National Park"]
    assert gdf["mang_name"].tolist() == ["BLM", "NPS", "BLM", "SLB", "DOD"]
    assert gdf["own_type"].tolist() == ["FED", "FED", "FED", "STAT", "FED"]
    # GAP_Sts is text in PAD-US; '' and out-of-domain '5' become NaN
    assert gdf["gap_status"].tolist()[:2] == [3.0, 1.0]
    assert np.isnan(gdf["gap_status"].iloc[2]) and np.isnan(gdf["gap_status"].iloc[4])
    # Des_Tp kept where given; a blank one is derived from the name and counted
    assert gdf["designation"].tolist() == ["PUB", "NP", "WSA", "SOTH", "MIL"]
    assert gdf.attrs["designation_from_name"] == 1
    assert gdf["state"].tolist() == ["AZ"] * 5
    assert gdf["gis_acres"].tolist()[1] == pytest.approx(91716.2)
    # 5 km squares stay 25 km^2 (102039 and 5070 are the same Albers)
    assert gdf.area.to_numpy() == pytest.approx(25e6, rel=1e-6)


@pytest.mark.parametrize("suffix", ["", "_StateAZ"])
def test_padus_picks_fee_layer_of_multilayer_file(tmp_path, suffix):
    path = tmp_path / "PADUS3_0Geopackage.gpkg"
    fee = _padus_fee_frame()
    combined = "PADUS3_0Combined_Proclamation_Marine_Fee_Designation_Easement"
    fee.to_file(path, layer=combined + suffix, driver="GPKG")
    fee.iloc[:3].to_file(path, layer=f"PADUS3_0Designation{suffix}", driver="GPKG")
    fee.iloc[:2].to_file(path, layer=f"PADUS3_0Fee{suffix}", driver="GPKG")
    assert len(padus(path)) == 2
    assert len(padus(path, layer=f"PADUS3_0Designation{suffix}")) == 3


def test_padus_bad_state_option(tmp_path):
    path = tmp_path / "fee.gpkg"
    _padus_fee_frame().to_file(path, driver="GPKG")
    with pytest.raises(ConfigError, match=r"options\.state"):
        padus(path, options={"state": "Atlantis"})


def test_padus_missing_manager_field_names_file_and_field(tmp_path):
    path = tmp_path / "padus_no_manager.geojson"
    _padus_fee_frame().drop(columns=["Mang_Name"]).to_crs(4326).to_file(path, driver="GeoJSON")
    with pytest.raises(DataError) as err:
        padus(path)
    message = str(err.value)
    assert str(path) in message and "'Mang_Name'" in message and "MANNAME" in message


def test_padus_missing_unit_name_field(tmp_path):
    path = tmp_path / "padus_no_name.geojson"
    _padus_fee_frame().drop(columns=["Unit_Nm"]).to_crs(4326).to_file(path, driver="GeoJSON")
    with pytest.raises(DataError, match="field 'Unit_Nm'"):
        padus(path)


def test_padus_shapefile_without_crs_is_an_error(tmp_path):
    path = tmp_path / "padus_fee.shp"
    _padus_fee_frame().to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(DataError, match="no CRS") as err:
        padus(path)
    assert str(path) in str(err.value)


def test_padus_zipped_shapefile(tmp_path):
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    _padus_fee_frame().to_file(shp_dir / "PADUS3_0Fee_StateAZ.shp")
    archive = tmp_path / "PADUS3_0_StateAZ_SHP.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp_dir.iterdir():
            zf.write(part, part.name)
    gdf = padus(archive)
    assert len(gdf) == 5
    assert gdf["mang_name"].tolist() == ["BLM", "NPS", "BLM", "SLB", "DOD"]
    assert gdf.crs.to_epsg() == 5070


def test_padus_potamap_aliases(tmp_path):
    """The potamap re-publication: NAME, OWNTYPE, OWNNAME, MANTYPE, MANNAME, GIS_ACRES, STATE."""
    df = pd.DataFrame({
        "NAME": ["Ojito Wilderness Area", "Bosque Del Apache National Wildlife Refuge"],
        "OWNTYPE": ["FED", ""], "OWNNAME": ["BLM", "FWS"], "MANTYPE": ["FED", "FED"],
        "MANNAME": ["BLM", "FWS"], "GIS_ACRES": [None, "57,331.2"], "STATE": ["NM", None],
    })
    path = tmp_path / "potamap.geojson"
    gpd.GeoDataFrame(df, geometry=[box(-107, 35.5, -106.9, 35.6), box(-106.9, 33.8, -106.8, 33.9)],
                     crs=4326).to_file(path, driver="GeoJSON")
    gdf = padus(path, options={"state": "New Mexico"})
    assert gdf["designation"].tolist() == ["WA", "NWR"]
    assert gdf["own_type"].tolist() == ["FED", None]     # blank text becomes missing
    assert gdf["state"].tolist() == ["NM", "NM"]
    assert np.isnan(gdf["gis_acres"].iloc[0]) and gdf["gis_acres"].iloc[1] == pytest.approx(57331.2)


# --- designation keywords ----------------------------------------------------------------

@pytest.mark.parametrize("name, code", [
    ("Cabezon Wilderness Study Area", "WSA"),
    ("Ojito Wilderness Area", "WA"),
    ("Sabino Canyon State Wilderness", "SW"),
    ("RIO GRANDE DEL NORTE NATIONAL MONUMENT", "NM"),
    ("Fort Stanton - Snowy River National Conservation Area", "NCA"),
    ("Bosque Del Apache National Wildlife Refuge", "NWR"),
    ("Gila National Forest", "NF"),
    ("Kiowa National Grassland", "NG"),
    ("Lake Mead National Recreation Area", "NRA"),
    ("Pecos National Historical Park", "HCA"),
    ("White Sands National Park", "NP"),
    # PAD-US has no preserve code: NPS preserves and reserves are park units (the real NM, CO
    # and NV subsets name Valles Caldera, Great Sand Dunes and Mojave National Preserve)
    ("Valles Caldera National Preserve", "NP"),
    ("Great Sand Dunes National Park and Preserve", "NP"),
    ("City of Rocks National Reserve", "NP"),
    ("Ebey's Landing National Historical Reserve", "HCA"),
    ("Belmont Courthouse State Historical Site", "SHCA"),
    ("Blue Ridge National Parkway", None),     # 'park' only as a whole word
    ("Bonny Lake State Park", "SP"),
    ("Lake Pueblo State Park", "SP"),
    ("Apishapa State Wildlife Area", "SRMA"),
    ("Claudell", None),
    (None, None),
    ("  ", None),
])
def test_designation_keywords(name, code):
    assert designation_for(name) == code


def test_designation_from_name_keeps_index():
    names = pd.Series(["Gila National Forest", "x"], index=[7, 9])
    assert designation_from_name(names).to_dict() == {7: "NF", 9: None}


# --- BLM SMA published schema ------------------------------------------------------------

def _sma_file(tmp_path: Path, rows: list[tuple], name: str = "SMA_WM.gpkg") -> Path:
    cols = ["ADMIN_ST", "ADMIN_UNIT_NAME", "ADMIN_UNIT_TYPE", "ADMIN_DEPT_CODE",
            "ADMIN_AGENCY_CODE"]
    df = pd.DataFrame(rows, columns=cols)
    n = len(df)
    df.insert(0, "SMA_ID", np.arange(1, n + 1, dtype=np.int16))
    df.insert(1, "HOLD_ID", pd.array([None] * n, dtype="Int16"))
    df.insert(3, "FAU_ID", np.zeros(n, dtype=np.int16))
    df["HOLD_DEPT_CODE"] = None
    df["HOLD_AGENCY_CODE"] = None
    # Web Mercator squares over southern New Mexico, as the national layer is stored
    x0, y0 = -11_800_000.0, 3_800_000.0
    geoms = [box(x0 + i * 10_000, y0, x0 + i * 10_000 + 8000, y0 + 8000) for i in range(n)]
    path = tmp_path / name
    gpd.GeoDataFrame(df, geometry=geoms, crs=3857).to_file(
        path, layer="SurfaceManagementAgency", driver="GPKG")
    return path


SMA_ROWS = [
    ("NM", None, None, "DOI", "BLM"),
    ("NM", "Gila National Forest", "National Forest", "USDA", "USFS"),
    ("NM", "White Sands National Park", "National Park", "DOI", "NPS"),
    ("NM", "Navajo Nation", "American Indian Reservation", "DOI", "BIA"),
    ("NM", "White Sands Missile Range", "Military Reservation", "DOD", "ARMY"),
    ("NM", None, None, "ST", "ST"),
    ("NM", None, None, "PVT", "PVT"),
    ("NM", None, None, "LG", "LG"),
    ("NM", None, None, "UND", "UND"),
    ("NM", "Elephant Butte Reservoir", "None", "DOI", "USBR"),
    ("ES", "Aldo Leopold Wilderness", "Wilderness", "USDA", "FS"),
    ("NM", None, None, "DOE", "DOE"),
]


def test_blm_sma_schema_mapping(tmp_path):
    gdf = sma(_sma_file(tmp_path, SMA_ROWS), options={"state": "NM"})
    assert len(gdf) == len(SMA_ROWS)
    assert gdf.crs.to_epsg() == 5070
    assert gdf["mang_name"].tolist() == ["BLM", "USFS", "NPS", "BIA", "DOD", "OTHS", "PVT",
                                         "UNKL", "UNK", "USBR", "USFS", "DOE"]
    assert gdf["own_name"].tolist() == gdf["mang_name"].tolist()
    assert gdf["mang_type"].tolist() == ["FED", "FED", "FED", "TRIB", "FED", "STAT", "PVT",
                                         "LOC", "UNK", "FED", "FED", "FED"]
    assert gdf["own_type"].tolist() == gdf["mang_type"].tolist()
    assert gdf["designation"].tolist() == [None, "NF", "NP", "TRIBL", "MIL", None, None, None,
                                           None, None, "WA", None]
    assert gdf.attrs["designation_from_name"] == 5
    assert gdf["unit_name"].iloc[0] is None            # lower-48 SMA polygons carry no name
    assert gdf["gap_status"].isna().all()
    assert gdf["gis_acres"].isna().all()               # the national layer has no GIS_ACRES
    # 'ES' (Eastern States office) is no state: the configured state fills it
    assert gdf["state"].tolist() == ["NM"] * len(SMA_ROWS)


def test_blm_sma_state_office_without_option(tmp_path):
    gdf = sma(_sma_file(tmp_path, SMA_ROWS))
    assert gdf["state"].iloc[10] is None and gdf["state"].iloc[0] == "NM"


def test_blm_sma_designation_from_name_when_type_is_blank(tmp_path):
    rows = [("NM", "Organ Mountains-Desert Peaks National Monument", None, "DOI", "BLM")]
    gdf = sma(_sma_file(tmp_path, rows))
    assert gdf["designation"].tolist() == ["NM"]


def test_blm_sma_missing_agency_code(tmp_path):
    path = tmp_path / "sma_bad.geojson"
    gpd.GeoDataFrame({"ADMIN_UNIT_NAME": ["x"]}, geometry=[box(-107, 33, -106.9, 33.1)],
                     crs=4326).to_file(path, driver="GeoJSON")
    with pytest.raises(DataError) as err:
        sma(path)
    assert str(path) in str(err.value) and "field 'ADMIN_AGENCY_CODE'" in str(err.value)


def test_blm_sma_study_area_filter(tmp_path):
    path = _sma_file(tmp_path, SMA_ROWS)
    all_rows = sma(path)
    first = all_rows.geometry.iloc[0]
    area_geom = shapely.buffer(first.centroid, 100.0)
    gdf = sma(path, StudyArea("one", area_geom))
    assert gdf["mang_name"].tolist() == ["BLM"]
