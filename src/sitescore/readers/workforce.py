"""Workforce reader: county polygons with labour figures joined from BLS LAUS and Census ACS
tables by GEOID.

A large plant needs thousands of workers within commuting distance, so each county carries its
population, labour force, employment and degree holders; counties no table covers keep NaN.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ..errors import ConfigError, DataError
from ..schema import LAYERS
from ..study_area import StudyArea
from .base import (
    LayerSource,
    find_field,
    parse_number,
    read_table,
    reader,
    require_field,
    require_file,
)
from .helpers import each, field, finish, open_layer, optional_field, text

log = logging.getLogger(__name__)

#: Canonical county columns a table may fill.
COUNTY_VALUES = tuple(c for c in LAYERS["counties"].columns if c not in ("geoid", "name"))

#: ACS annotation values written in place of an estimate (Census 'Notes on ACS Estimate and
#: Annotation Values'): too few cases, median in an open interval, not applicable, ...
ACS_SENTINELS = (-111111111, -222222222, -333333333, -555555555, -666666666, -888888888,
                 -999999999)

LAUS_DEFAULT_FIELDS = {"labor_force": "Labor Force", "employed": "Employed"}

#: canonical field -> provider column, or a list of columns to add up
FieldMap = Mapping[str, "str | list[str]"]


def geoid5(values: pd.Series) -> pd.Series:
    """County GEOIDs as 5-digit text: '4013' and 4013.0 -> '04013', '0500000US04013' -> '04013'."""
    cleaned = text(values)

    def one(v: Any) -> str | None:
        if not isinstance(v, str):
            return None
        if "US" in v:  # Census GEO_ID, e.g. 0500000US04013
            v = v.rsplit("US", 1)[1]
        if v.endswith(".0"):
            v = v[:-2]
        return v.zfill(5) if v.isdigit() and len(v) <= 5 else None

    return each(cleaned, one)


def _is_digits(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit()


def _fips_pair(state: pd.Series, county: pd.Series) -> pd.Series:
    """GEOID from separate state (2) and county (3) FIPS codes, both zero-padded."""
    s, c = text(state), text(county)
    ok = each(s, _is_digits).astype(bool) & each(c, _is_digits).astype(bool)
    return (s.where(ok).str.zfill(2) + c.where(ok).str.zfill(3)).astype(object).where(ok, None)


# --- workforce tables ----------------------------------------------------------------------

def _values(table: pd.DataFrame, fields: FieldMap, path: Path,
            sentinels: tuple[float, ...] = ()) -> pd.DataFrame:
    """Canonical value columns from provider columns; a list of columns is their sum (NaN when
    any part is missing). A configured column the table lacks is a DataError."""
    out = pd.DataFrame(index=table.index)
    for canonical, provider in fields.items():
        columns = [provider] if isinstance(provider, str) else list(provider)
        parts = [parse_number(field(table, name, path), sentinels) for name in columns]
        out[canonical] = pd.concat(parts, axis=1).sum(axis=1, min_count=len(parts)) \
            if len(parts) > 1 else parts[0]
    return out


def _by_geoid(geoid: pd.Series, values: pd.DataFrame, path: Path) -> pd.DataFrame:
    values = values.assign(geoid=geoid.values).dropna(subset=["geoid"])
    dupes = values["geoid"].duplicated()
    if dupes.any():
        log.warning("%s: %d repeated GEOIDs; the first row of each is used", path, int(dupes.sum()))
    return values.loc[~dupes].set_index("geoid")


def read_bls_laus(path: Path, fields: FieldMap | None) -> pd.DataFrame:
    """BLS LAUS county annual averages (laucnty CSV or the published XLSX): GEOID = State FIPS +
    County FIPS. Numbers come
    quoted with thousands separators and trailing spaces; rows without FIPS (notes) are skipped."""
    table = read_table(path, header_names=["LAUS Code", "State FIPS Code", "County FIPS Code"])
    geoid = _fips_pair(field(table, "State FIPS Code", path),
                       field(table, "County FIPS Code", path))
    return _by_geoid(geoid, _values(table, fields or LAUS_DEFAULT_FIELDS, path), path)


def read_acs(path: Path, fields: FieldMap | None) -> pd.DataFrame:
    """Census ACS estimates per county, as the Census API returns them (JSON array, or that array
    saved as CSV, with state+county or GEO_ID) or as a CSV with a GEOID column (GEOID or the
    compiler's stco_code). Annotation values such as -666666666 become NaN."""
    if not fields:
        raise DataError("an ACS table needs 'fields' (canonical name -> ACS variable id)",
                        file=path)
    table = _acs_table(path)
    state, county = find_field(table.columns, ["state"]), find_field(table.columns, ["county"])
    if state is not None and county is not None:
        geoid = _fips_pair(table[state], table[county])
    else:
        geoid = geoid5(field(table, ["GEO_ID", "GEOID", "stco_code"], path))
    return _by_geoid(geoid, _values(table, fields, path, ACS_SENTINELS), path)


def _acs_table(path: Path) -> pd.DataFrame:
    """A CSV, or the Census API's JSON array of rows (first row = header) kept as text."""
    with require_file(path).open("rb") as f:
        head = f.read(64).lstrip()
    if not head.startswith(b"["):
        return read_table(path)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        header, *body = rows
        return pd.DataFrame(body, columns=header, dtype=object).astype("string")
    except (ValueError, TypeError) as exc:
        raise DataError(f"cannot read as a Census API JSON array ({exc})", file=path) from exc


TABLE_READERS: dict[str, Callable[[Path, FieldMap | None], pd.DataFrame]] = {
    "bls_laus": read_bls_laus,
    "acs": read_acs,
}


# --- counties ------------------------------------------------------------------------------

def _county_geoids(gdf: gpd.GeoDataFrame, path: Path) -> pd.Series:
    """GEOID from a GEOID/id field (Census, us-atlas) or from STATEFP + COUNTYFP (TIGER)."""
    hit = find_field(gdf.columns, ["GEOID", "id"])
    if hit is not None:
        return geoid5(gdf[hit])
    state = require_field(gdf.columns, ["STATEFP", "GEOID", "id"], path)
    return _fips_pair(gdf[state], field(gdf, "COUNTYFP", path))


def _table_specs(source: LayerSource) -> list[dict[str, Any]]:
    tables = source.options.get("tables") or []
    key = f"layers.{source.name}.options.tables"
    if not isinstance(tables, list):
        raise ConfigError("must be a list of {reader, path, fields}", key=key)
    specs = []
    for i, spec in enumerate(tables):
        where = f"{key}[{i}]"
        if not isinstance(spec, Mapping) or "path" not in spec or "reader" not in spec:
            raise ConfigError("needs 'reader' and 'path'", key=where)
        if spec["reader"] not in TABLE_READERS:
            raise ConfigError(f"unknown table reader '{spec['reader']}'; known: "
                              f"{', '.join(sorted(TABLE_READERS))}", key=f"{where}.reader")
        fields = spec.get("fields")
        if fields is not None and not isinstance(fields, Mapping):
            raise ConfigError("must map canonical column -> table column", key=f"{where}.fields")
        if spec["reader"] == "acs" and not fields:
            raise ConfigError("an ACS table needs fields (canonical column -> ACS variable id)",
                              key=f"{where}.fields")
        for canonical, provider in (fields or {}).items():
            if canonical not in COUNTY_VALUES:
                raise ConfigError(f"unknown county column '{canonical}'; known: "
                                  f"{', '.join(COUNTY_VALUES)}", key=f"{where}.fields")
            if not isinstance(provider, (str, list)) or not provider:
                raise ConfigError(f"'{canonical}' must name a column or a list of columns",
                                  key=f"{where}.fields")
        specs.append({"reader": spec["reader"], "path": source.resolve(spec["path"]),
                      "fields": fields})
    return specs


@reader("census_counties", "counties")
def read_census_counties(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """County polygons (us-atlas, TIGER or cartographic boundary files) with workforce figures
    joined by GEOID from the tables in option `tables` (bls_laus, acs).

    Tables are applied in order: a value from an earlier table is kept, later tables fill gaps.
    """
    specs = _table_specs(source)  # config mistakes first, before any file is read
    gdf = open_layer(source, area)
    path = source.path
    geoid = _county_geoids(gdf, path)
    values = pd.DataFrame(index=gdf.index, columns=list(COUNTY_VALUES), dtype=float)
    joined = []
    for spec in specs:
        table = TABLE_READERS[spec["reader"]](spec["path"], spec["fields"])
        for column in table.columns:
            found = geoid.map(table[column]).astype(float)
            values[column] = values[column].fillna(found)
        joined.append((spec, table.index))
    out = finish(gdf, "counties", {
        "geoid": geoid,
        "name": text(optional_field(gdf, ["NAME", "name"])),
        **{c: values[c] for c in COUNTY_VALUES},
    }, source, area)
    covered = pd.Series(False, index=out.index)
    tables = []
    for spec, index in joined:
        matched = out["geoid"].isin(index)
        covered |= matched
        tables.append({"reader": spec["reader"], "path": str(spec["path"]),
                       "counties_without_row": int((~matched).sum())})
    out.attrs["tables"] = tables
    out.attrs["counties_without_data"] = int((~covered).sum()) if tables else 0
    return out
