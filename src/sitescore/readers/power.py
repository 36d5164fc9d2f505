"""Power readers: HIFLD transmission lines and substations, EIA and WRI GPPD power plants.

A site for a fab or data centre needs a strong grid nearby, so these give line voltage, substation
voltage and plant capacity in canonical columns (kV, MW), with each provider's 'unknown' codes
turned into NaN rather than numbers. Each plant's fuel gets a class (firm, variable, storage,
other) from the shipped table data/fuel_classes.yaml, so presets can weigh firm and weather-driven
capacity apart; a fuel the table does not know is 'unknown' and counted, never guessed.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd
import yaml

from ..study_area import StudyArea
from .helpers import (
    code_number,
    field,
    finish,
    ident,
    open_layer,
    option_str,
    optional_field,
    read_points,
    table_points,
    text,
)
from .registry import LayerSource, reader
from .tables import find_field, parse_number, read_table

#: The classes of data/fuel_classes.yaml, and the class of a fuel it does not list (or of none).
FUEL_CLASSES = ("firm", "variable", "storage", "other")
UNKNOWN_FUEL = "unknown"
#: EIA-860 Schedule 2 lists up to three grid voltages per plant (one per interconnection).
EIA860_VOLTAGES = ("Grid Voltage (kV)", "Grid Voltage 2 (kV)", "Grid Voltage 3 (kV)")

#: HIFLD writes -999999 where a voltage is unknown.
HIFLD_UNKNOWN = (-999999,)
#: HIFLD's text placeholder for an unknown attribute.
HIFLD_PLACEHOLDERS = ("NOT AVAILABLE",)


def _mw(values: pd.Series) -> pd.Series:
    """Capacities in MW; a negative capacity is no capacity (NaN)."""
    mw = parse_number(values)
    return mw.mask(mw < 0)


def _kv(values: pd.Series) -> pd.Series:
    """Voltages in kV; HIFLD's -999999 and any other non-positive value mean 'unknown'."""
    kv = parse_number(values, HIFLD_UNKNOWN)
    return kv.where(kv > 0)


@reader("hifld_transmission_lines", "transmission_lines")
def read_hifld_transmission_lines(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """HIFLD Electric Power Transmission Lines: voltage in kV, unknown (-999999) as NaN.

    Where VOLTAGE is unknown the class (e.g. '345') is kept but never turned into a voltage.
    """
    gdf = open_layer(source, area)
    path = source.path
    return finish(gdf, "transmission_lines", {
        "line_id": ident(field(gdf, "ID", path)),
        "voltage_kv": _kv(field(gdf, "VOLTAGE", path)),
        "volt_class": text(optional_field(gdf, "VOLT_CLASS"), HIFLD_PLACEHOLDERS),
        "status": text(optional_field(gdf, "STATUS"), HIFLD_PLACEHOLDERS),
        "owner": text(optional_field(gdf, "OWNER"), HIFLD_PLACEHOLDERS),
    }, source, area)


@reader("hifld_substations", "substations")
def read_hifld_substations(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """HIFLD Electric Substations (points, or LATITUDE/LONGITUDE columns in the CSV download)."""
    gdf = read_points(source, area, "LONGITUDE", "LATITUDE")
    path = source.path
    return finish(gdf, "substations", {
        "substation_id": ident(field(gdf, "ID", path)),
        "name": text(optional_field(gdf, "NAME"), HIFLD_PLACEHOLDERS),
        "max_volt_kv": _kv(field(gdf, "MAX_VOLT", path)),
        "min_volt_kv": _kv(optional_field(gdf, "MIN_VOLT")),
        "status": text(optional_field(gdf, "STATUS"), HIFLD_PLACEHOLDERS),
    }, source, area)


@reader("eia_power_plants", "power_plants")
def read_eia_power_plants(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """EIA 'Power Plants' GIS layer (also on HIFLD): one point per plant with total MW; its
    PrimSource names ('natural gas', 'solar', ...) classed by the fuel table."""
    gdf = read_points(source, area, "Longitude", "Latitude")
    path = source.path
    fuel = text(optional_field(gdf, "PrimSource"))
    fuel_class, fuel_counts = classify_fuels(fuel, "eia_primsource")
    return finish(gdf, "power_plants", {
        "plant_code": code_number(field(gdf, "Plant_Code", path)),
        "plant_name": text(field(gdf, "Plant_Name", path)),
        "primary_fuel": fuel,
        "fuel_class": fuel_class,
        "capacity_mw": _mw(field(gdf, "Total_MW", path)),
        "grid_voltage_kv": None,
        "state": text(optional_field(gdf, "State")),
    }, source, area, **fuel_counts)


@reader("eia860_plants", "power_plants", options=("sheet", "capacity_table"))
def read_eia860_plants(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """EIA-860 Schedule 2 plant sheet (CSV, the XLSX, or the extracted zip): grid voltage per plant,
    no capacity.

    A plant tied in at several voltages lists up to three (`Grid Voltage (kV)`, `... 2 (kV)`,
    `... 3 (kV)`, in no set order): each is kept (grid_voltage_1_kv..3) and grid_voltage_kv is the
    highest, the one a large load could connect at; how many plants had it in column 2 or 3 is
    counted (`grid_voltage_from_2_or_3`).

    Option `capacity_table` names a GPPD USA source CSV (relative to the data directory) whose
    capacity and primary fuel are joined on the EIA plant code; without it capacity is NaN.
    """
    path = source.path
    # the CSV of the Plant sheet, the sheet itself, or the extracted EIA-860 zip
    table = read_table(path, header_names=["Plant Code"], sheet=source.options.get("sheet", "Plant")
                       if path.suffix.lower() in (".xlsx", ".xls") or path.is_dir() else None,
                       member="2___Plant_Y*.xlsx")
    codes = code_number(field(table, "Plant Code", path))
    table = table.assign(_plant_code=codes)
    gdf = table_points(table, "Longitude", "Latitude", path, area)
    capacity = pd.Series(float("nan"), index=gdf.index)
    fuel = pd.Series(None, index=gdf.index, dtype=object)
    counts: dict[str, object] = {}
    capacity_table = option_str(source, "capacity_table")
    if capacity_table:
        gppd = _gppd_rows(source.resolve(capacity_table))
        by_code = gppd.dropna(subset=["plant_code"]).drop_duplicates("plant_code") \
            .set_index("plant_code")
        capacity = gdf["_plant_code"].map(by_code["capacity_mw"]).astype(float)
        fuel = gdf["_plant_code"].map(by_code["primary_fuel"]).astype(object)
        fuel = fuel.where(fuel.notna(), None)
        counts["capacity_unmatched"] = int((~gdf["_plant_code"].isin(by_code.index)).sum())
        fuel_class, fuel_counts = classify_fuels(fuel, "gppd")
        counts.update(fuel_counts)
    else:  # no fuel is read: the class is unknown, but there is nothing to count
        fuel_class = pd.Series(UNKNOWN_FUEL, index=gdf.index, dtype=object)
    volts = [parse_number(optional_field(gdf, name)) for name in EIA860_VOLTAGES]
    highest = pd.concat(volts, axis=1).max(axis=1, skipna=True)
    counts["grid_voltage_from_2_or_3"] = int(
        (highest.notna() & ~(volts[0] >= highest)).sum())
    return finish(gdf, "power_plants", {
        "plant_code": gdf["_plant_code"],
        "plant_name": text(field(gdf, "Plant Name", path)),
        "primary_fuel": fuel,
        "fuel_class": fuel_class,
        "capacity_mw": capacity,
        "grid_voltage_kv": highest,
        "grid_voltage_1_kv": volts[0],
        "grid_voltage_2_kv": volts[1],
        "grid_voltage_3_kv": volts[2],
        "state": text(optional_field(gdf, "State")),
    }, source, area, **counts)


@reader("gppd", "power_plants")
def read_gppd(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """WRI Global Power Plant Database, USA source CSV or the global CSV (US rows only).

    plant_code is the EIA plant code for 'USA…' ids, the GPPD id itself for WRI-made ones.
    """
    rows = _gppd_rows(source.path)
    gdf = table_points(rows, "longitude", "latitude", source.path, area)
    fuel_class, fuel_counts = classify_fuels(gdf["primary_fuel"], "gppd")
    return finish(gdf, "power_plants", {
        "plant_code": gdf["plant_code"],
        "plant_name": gdf["plant_name"],
        "primary_fuel": gdf["primary_fuel"],
        "fuel_class": fuel_class,
        "capacity_mw": gdf["capacity_mw"],
        "grid_voltage_kv": None,
        "state": None,
    }, source, area, not_usa=rows.attrs.get("not_usa", 0), **fuel_counts,
        **({"not_numbers": {"capacity_mw": rows.attrs["capacity_not_numbers"]}}
           if rows.attrs.get("capacity_not_numbers") else {}))


def _gppd_rows(path: Path) -> pd.DataFrame:
    """GPPD rows in the United States with plant_code, plant_name, capacity_mw, primary_fuel
    (canonical names) beside the provider's coordinate columns."""
    table = read_table(path)
    not_usa = 0
    country = find_field(table.columns, ["country"])
    if country is not None:  # the global CSV lists every country
        usa = table[country].astype("string").str.strip().eq("USA").fillna(False)
        not_usa = int((~usa).sum())
        table = table.loc[usa]
    idnr = text(field(table, "gppd_idnr", path))
    is_eia = idnr.astype("string").str.match(r"^USA\d+$").fillna(False)
    eia_code = code_number(idnr.astype("string").str.slice(3).where(is_eia))
    capacity = _mw(field(table, "capacity_mw", path))
    out = table.assign(
        plant_code=eia_code.where(is_eia, idnr),
        plant_name=text(field(table, "name", path)),
        capacity_mw=capacity,
        primary_fuel=text(field(table, "primary_fuel", path)),
    )
    out.attrs["not_usa"] = not_usa
    out.attrs["capacity_not_numbers"] = capacity.attrs.get("not_numbers", 0)
    return out


@functools.cache
def fuel_classes(vocabulary: str) -> dict[str, str]:
    """One vocabulary of the shipped fuel table ('gppd', 'eia_primsource', 'eia_code'): fuel value,
    lower-cased, -> class. Read once; the table is package data, checked by its own tests."""
    table = yaml.safe_load(resources.files("sitescore").joinpath("data", "fuel_classes.yaml")
                           .read_text(encoding="utf-8"))
    return {str(value).strip().lower(): row["class"]
            for value, row in table["fuels"][vocabulary].items()}


def classify_fuels(fuel: pd.Series, vocabulary: str) -> tuple[pd.Series, dict[str, object]]:
    """Each fuel's class by the table, 'unknown' where it has none; the counts for the reader's
    notes: plants with no fuel (`fuel_missing`) and each fuel the table lacks (`fuel_unknown`)."""
    known = fuel_classes(vocabulary)
    keys = fuel.astype("string").str.strip().str.lower()
    classes = pd.Series([known.get(k, UNKNOWN_FUEL) if isinstance(k, str) else UNKNOWN_FUEL
                         for k in keys], index=fuel.index, dtype=object)
    missing = keys.isna() | (keys == "")
    unlisted = fuel[~missing.fillna(True) & (classes == UNKNOWN_FUEL)]
    counts: dict[str, object] = {}
    if missing.any():
        counts["fuel_missing"] = int(missing.sum())
    if len(unlisted):
        counts["fuel_unknown"] = {str(k): int(n) for k, n in unlisted.value_counts().items()}
    return classes, counts
