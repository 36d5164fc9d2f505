"""The fuel-class table (src/sitescore/data/fuel_classes.yaml) and the `fuel_class` column the
power-plant readers fill from it: every row cited, every real GPPD fuel known, an unknown fuel
'unknown' and counted (never guessed), and the classes as they come out on the real data."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml

from helpers import SHARED_DATA, layer_source, shared_file
from sitescore.readers import read_layer
from sitescore.readers.power import FUEL_CLASSES, UNKNOWN_FUEL, classify_fuels, fuel_classes
from sitescore.readers.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
URL = re.compile(r"https?://\S+")
VOCABULARIES = ("gppd", "eia_primsource", "eia_code")


def table() -> dict:
    return yaml.safe_load(resources.files("sitescore").joinpath("data", "fuel_classes.yaml")
                          .read_text(encoding="utf-8"))


def test_every_class_is_defined_with_a_source_and_every_row_has_one():
    doc = table()
    assert set(doc["classes"]) == set(FUEL_CLASSES)
    for name, cls in doc["classes"].items():
        assert cls["meaning"].strip(), name
        assert URL.search(cls["source"]), f"class {name}: no public source"
    assert set(doc["fuels"]) == set(VOCABULARIES)
    for vocabulary, rows in doc["fuels"].items():
        keys = [str(k).strip().lower() for k in rows]
        assert len(keys) == len(set(keys)), f"{vocabulary}: a value listed twice (case ignored)"
        for value, row in rows.items():
            assert row["class"] in FUEL_CLASSES, (vocabulary, value)
            assert URL.match(row["source"]), (vocabulary, value)


def test_the_issue_s_firm_and_variable_fuels_in_each_vocabulary():
    gppd, names, codes = (fuel_classes(v) for v in VOCABULARIES)
    for fuel in ("nuclear", "gas", "coal", "hydro", "geothermal", "biomass"):
        assert gppd[fuel] == "firm", fuel
    assert gppd["solar"] == gppd["wind"] == "variable"
    assert gppd["storage"] == "storage"
    for fuel in ("nuclear", "natural gas", "coal", "hydroelectric", "geothermal", "biomass"):
        assert names[fuel] == "firm", fuel
    assert names["batteries"] == names["pumped storage"] == "storage"
    for code in ("nuc", "ng", "bit", "sub", "lig", "wat", "geo", "wds"):
        assert codes[code] == "firm", code
    assert codes["sun"] == codes["wnd"] == "variable"
    assert codes["mwh"] == "storage"


def test_unknown_and_missing_fuels_are_counted_never_guessed():
    fuel = pd.Series([" Gas ", "SOLAR", "Fusion", None, "", "Fusion", "Storage"])
    classes, counts = classify_fuels(fuel, "gppd")
    assert classes.tolist() == ["firm", "variable", UNKNOWN_FUEL, UNKNOWN_FUEL, UNKNOWN_FUEL,
                                UNKNOWN_FUEL, "storage"]
    assert counts == {"fuel_missing": 2, "fuel_unknown": {"Fusion": 2}}
    # the same word in another vocabulary is not borrowed: 'Gas' is GPPD's, not an EIA code
    assert classify_fuels(pd.Series(["Gas"]), "eia_code")[0].tolist() == [UNKNOWN_FUEL]


def test_gppd_and_eia_layer_readers_fill_fuel_class(tmp_path):
    gppd = tmp_path / "gppd.csv"
    pd.DataFrame({
        "country": "USA", "name": ["Palo Verde", "Agua Caliente", "Mystery"],
        "gppd_idnr": ["USA0006008", "USA0057373", "USA0099999"],
        "capacity_mw": ["4209.6", "290", "5"],
        "latitude": ["33.39", "32.97", "33.0"], "longitude": ["-112.86", "-113.49", "-112.0"],
        "primary_fuel": ["Nuclear", "Solar", "Plasma"],
    }).to_csv(gppd, index=False)
    out = read_layer(layer_source("gppd", gppd))
    assert out.set_index("plant_code")["fuel_class"].to_dict() == \
        {"6008": "firm", "57373": "variable", "99999": "unknown"}
    assert out.attrs["fuel_unknown"] == {"Plasma": 1}
    # EIA's Power Plants layer: PrimSource names
    path = tmp_path / "Power_Plants.geojson"
    rows = pd.DataFrame({"Plant_Code": [6008, 1, 2], "Plant_Name": ["Palo Verde", "B", "C"],
                         "PrimSource": ["nuclear", "batteries", "wind"],
                         "Total_MW": [4209.6, 50.0, 100.0],
                         "Longitude": [-112.86, -112.0, -111.0], "Latitude": [33.39, 33.0, 34.0]})
    gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(rows.Longitude, rows.Latitude),
                     crs="EPSG:4326").to_file(path)
    eia = read_layer(layer_source("eia_power_plants", path)).set_index("plant_code")
    assert eia["fuel_class"].to_dict() == {"6008": "firm", "1": "storage", "2": "variable"}


@pytest.mark.shared_data
def test_every_fuel_of_the_real_gppd_file_is_in_the_table():
    rows = read_table(shared_file("power_plants/gppd_v1.3.0_usa_source.csv"))
    known = fuel_classes("gppd")
    for column in ("primary_fuel", "other_fuel1", "other_fuel2", "other_fuel3"):
        values = {v.strip().lower() for v in rows[column].dropna() if v.strip()}
        assert values <= set(known), f"{column}: not in the table: {values - set(known)}"


@pytest.mark.shared_data
def test_real_plants_by_fuel_class_arizona_and_national():
    """Arizona (GPPD v1.3.0): 51 firm plants with 27,838 MW, 82 wind/solar with 2,420 MW; the 23
    plants with no primary_fuel are 'unknown', all at 0 MW. Nationally no fuel is unlisted."""
    az = read_layer(layer_source("gppd", shared_file("power_plants/gppd_v1.3.0_usa_source_AZ.csv"),
                                 data_dir=SHARED_DATA))
    assert az["fuel_class"].value_counts().to_dict() == \
        {"variable": 82, "firm": 51, "unknown": 23, "storage": 4, "other": 2}
    mw = az.groupby("fuel_class")["capacity_mw"].sum()
    assert mw["firm"] == pytest.approx(27_838, abs=1)
    assert mw["variable"] == pytest.approx(2_420, abs=1)
    assert mw["unknown"] == 0
    assert az.attrs["fuel_missing"] == 23 and "fuel_unknown" not in az.attrs
    us = read_layer(layer_source("gppd", shared_file("power_plants/gppd_v1.3.0_usa_source.csv"),
                                 data_dir=SHARED_DATA))
    assert us["fuel_class"].value_counts().to_dict() == \
        {"variable": 4426, "firm": 4375, "unknown": 2000, "other": 941, "storage": 104}
    assert "fuel_unknown" not in us.attrs


def test_the_table_is_shipped_in_the_wheel():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    package_data = re.search(r"\[tool\.setuptools\.package-data\]\s*\nsitescore = \[(.*?)\]", text)
    assert package_data and '"data/*.yaml"' in package_data.group(1)
