"""Workforce readers: county or census-tract polygons with labour figures joined from BLS LAUS
and Census ACS tables by GEOID.

A large plant needs thousands of workers within commuting distance, so each county (or tract)
carries its population, labour force, employment and degree holders; areas no table covers keep
NaN. Counties and tracts end as the same canonical layer, so a gravity criterion takes either;
tracts (about 85,000) place people about 25 times more finely than counties (about 3,200).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from ..errors import ConfigError, DataError
from ..schema import LAYERS
from ..study_area import StudyArea
from .helpers import each, field, finish, open_layer, optional_field, text
from .registry import LayerSource, reader
from .safety import require_file
from .tables import find_field, parse_number, read_table, require_field

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

#: The Census geography a workforce layer and its tables are keyed by.
Geography = Literal["county", "tract"]


def geoid5(values: pd.Series) -> pd.Series:
    """County GEOIDs as 5-digit text: '4013' and 4013.0 -> '04013', '0500000US04013' -> '04013'."""
    cleaned = text(values)

    def one(v: Any) -> str | None:
        if not isinstance(v, str):
            return None
        if "US" in v:  # Census GEO_ID, e.g. 0500000US04013
            v = v.rsplit("US", 1)[1]
        v = v.removesuffix(".0")
        return v.zfill(5) if v.isdigit() and len(v) <= 5 else None

    return each(cleaned, one)


def geoid11(values: pd.Series) -> pd.Series:
    """Tract GEOIDs as 11-digit text: '04013010101', 4013010101 (a number that lost its leading
    zero), '4013010101.0' and '1400000US04013010101' -> '04013010101'; anything else -> None."""
    cleaned = text(values)

    def one(v: Any) -> str | None:
        if not isinstance(v, str):
            return None
        if "US" in v:  # Census GEO_ID / AFFGEOID, e.g. 1400000US04013010101
            v = v.rsplit("US", 1)[1]
        v = v.removesuffix(".0")
        return v.zfill(11) if v.isdigit() and len(v) in (10, 11) else None

    return each(cleaned, one)


def _is_digits(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit()


def _digits_within(value: Any, width: int) -> bool:
    return _is_digits(value) and len(value) <= width


def _fips_pair(state: pd.Series, county: pd.Series) -> pd.Series:
    """GEOID from separate state (2) and county (3) FIPS codes, both zero-padded."""
    return _fips_parts([(state, 2), (county, 3)])


def _fips_parts(parts: list[tuple[pd.Series, int]]) -> pd.Series:
    """GEOID from separate code columns (state 2, county 3, tract 6 digits), each zero-padded;
    None where a part is missing, not digits or longer than its width."""
    cleaned = [(text(values), width) for values, width in parts]
    ok = pd.Series(True, index=cleaned[0][0].index)
    for values, width in cleaned:
        ok &= each(values, functools.partial(_digits_within, width=width)).astype(bool)
    joined = pd.Series("", index=ok.index, dtype=object)
    for values, width in cleaned:
        joined = joined + values.where(ok, "0").astype(str).str.zfill(width)
    return joined.where(ok, None)


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


#: Why LAUS cannot feed tracts, said wherever someone tries.
LAUS_NO_TRACTS = ("BLS LAUS publishes counties and larger areas only, never census tracts; join it "
                  "to counties, or take the tract labour force from the ACS tract table "
                  "(labor_force: B23025_003E, employed: B23025_004E)")


def read_bls_laus(path: Path, fields: FieldMap | None, geography: Geography = "county"
                  ) -> pd.DataFrame:
    """BLS LAUS county annual averages (laucnty CSV or the published XLSX): GEOID = State FIPS +
    County FIPS. Numbers come
    quoted with thousands separators and trailing spaces; rows without FIPS (notes) are skipped."""
    if geography != "county":
        raise DataError(LAUS_NO_TRACTS, file=path)
    table = read_table(path, header_names=["LAUS Code", "State FIPS Code", "County FIPS Code"])
    geoid = _fips_pair(field(table, "State FIPS Code", path),
                       field(table, "County FIPS Code", path))
    return _by_geoid(geoid, _values(table, fields or LAUS_DEFAULT_FIELDS, path), path)


def read_acs(path: Path, fields: FieldMap | None, geography: Geography = "county"
             ) -> pd.DataFrame:
    """Census ACS estimates per county or per tract, as the Census API returns them (JSON array,
    or that array saved as CSV, with state+county[+tract] or GEO_ID) or as a CSV with a GEOID
    column (GEOID, or the compiler's stco_code for counties). Annotation values such as
    -666666666 become NaN.

    A tract table must say which tract each row is: a county table joined to tracts (no `tract`
    column, or only 5-digit GEOIDs) is a DataError rather than a layer without data."""
    if not fields:
        raise DataError("an ACS table needs 'fields' (canonical name -> ACS variable id)",
                        file=path)
    table = _acs_table(path)
    cols = table.columns
    state, county = find_field(cols, ["state"]), find_field(cols, ["county"])
    tract = find_field(cols, ["tract"])
    if geography == "tract":
        if state is not None and county is not None:
            if tract is None:
                raise DataError("a county table (state and county columns only) cannot be joined "
                                "to tracts; use the ACS tract table (Census API for=tract:*)",
                                file=path, field="tract")
            geoid, used = _fips_parts([(table[state], 2), (table[county], 3), (table[tract], 6)]), \
                "tract"
        else:
            used = require_field(cols, ["GEO_ID", "GEOID"], path)
            geoid = geoid11(table[used])
        if len(table) and geoid.isna().all():
            raise DataError(f"no row has an 11-digit tract GEOID (first value: "
                            f"{_first_value(table[used])!r}); a county table?", file=path,
                            field=used)
    elif tract is not None:
        raise DataError("a tract table (it has a tract column) cannot be joined to counties: "
                        "its rows would stand for whole counties; read the tracts with "
                        "census_tracts, or use the ACS county table", file=path, field="tract")
    elif state is not None and county is not None:
        geoid = _fips_pair(table[state], table[county])
    else:
        used = require_field(cols, ["GEO_ID", "GEOID", "stco_code"], path)
        geoid = geoid5(table[used])
        if len(table) and geoid.isna().all() and geoid11(table[used]).notna().any():
            raise DataError("holds 11-digit tract GEOIDs, not counties; read the tracts with "
                            "census_tracts", file=path, field=used)
    return _by_geoid(geoid, _values(table, fields, path, ACS_SENTINELS), path)


def _first_value(values: pd.Series) -> Any:
    given = values.dropna()
    return given.iloc[0] if len(given) else None


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


TABLE_READERS: dict[str, Callable[[Path, FieldMap | None, Geography], pd.DataFrame]] = {
    "bls_laus": read_bls_laus,
    "acs": read_acs,
}
#: Table readers that have no tract rows at all.
COUNTY_ONLY_TABLES = {"bls_laus": LAUS_NO_TRACTS}


def _read_tables(spec: Mapping[str, Any], geography: Geography) -> pd.DataFrame:
    """One table option read (all its files, joined; the first row of a GEOID wins)."""
    parts = [_read_table_file(str(p), _fingerprint(p), spec["reader"], _frozen(spec["fields"]),
                              geography) for p in spec["paths"]]
    if len(parts) == 1:
        return parts[0]
    joined = pd.concat(parts)
    return joined.loc[~joined.index.duplicated()]


def _fingerprint(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _frozen(fields: FieldMap | None) -> tuple | None:
    if fields is None:
        return None
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in fields.items())


@functools.lru_cache(maxsize=16)
def _read_table_file(path: str, fingerprint: tuple[int, int], reader_name: str,
                     fields: tuple | None, geography: Geography) -> pd.DataFrame:
    """A table read once per file version: a layer fetched per state reads its (national or
    per-state) tables once, not once per state file."""
    del fingerprint  # part of the cache key only: a changed file is read again
    mapping = None if fields is None else {k: list(v) if isinstance(v, tuple) else v
                                           for k, v in fields}
    return TABLE_READERS[reader_name](Path(path), mapping, geography)


# --- counties and tracts ------------------------------------------------------------------

def _county_geoids(gdf: gpd.GeoDataFrame, path: Path) -> pd.Series:
    """GEOID from a GEOID/id field (Census, us-atlas) or from STATEFP + COUNTYFP (TIGER)."""
    hit = find_field(gdf.columns, ["GEOID", "id"])
    if hit is not None:
        return geoid5(gdf[hit])
    state = require_field(gdf.columns, ["STATEFP", "GEOID", "id"], path)
    return _fips_pair(gdf[state], field(gdf, "COUNTYFP", path))


def _tract_geoids(gdf: gpd.GeoDataFrame, path: Path) -> pd.Series:
    """GEOID from a GEOID field (cartographic boundary and TIGER files), else GEOIDFQ/AFFGEOID
    (1400000US...), else STATEFP + COUNTYFP + TRACTCE. Every tract must have one: a feature
    without it could never be joined, and a county file read as tracts would lose all its data."""
    hit = find_field(gdf.columns, ["GEOID", "GEOIDFQ", "AFFGEOID", "GEO_ID"])
    if hit is not None:
        geoid, used = geoid11(gdf[hit]), hit
    else:
        state = require_field(gdf.columns, ["STATEFP", "GEOID"], path)
        county = require_field(gdf.columns, "COUNTYFP", path)
        tract = require_field(gdf.columns, "TRACTCE", path)
        geoid = _fips_parts([(gdf[state], 2), (gdf[county], 3), (gdf[tract], 6)])
        used = tract
    bad = geoid.isna()
    if bad.any():
        raw = gdf.loc[bad, used]
        example = _first_value(raw)
        hint = ""
        if isinstance(example, str) and geoid5(pd.Series([example])).notna().all():
            hint = " (5 digits: a county file? read it with census_counties)"
        raise DataError(f"{int(bad.sum())} of {len(gdf)} features have no 11-digit tract GEOID "
                        f"(e.g. {example!r}){hint}", file=path, field=used)
    return geoid


def _table_specs(source: LayerSource, geography: Geography = "county") -> list[dict[str, Any]]:
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
        if geography != "county" and spec["reader"] in COUNTY_ONLY_TABLES:
            raise ConfigError(COUNTY_ONLY_TABLES[spec["reader"]], key=f"{where}.reader")
        fields = spec.get("fields")
        if fields is not None and not isinstance(fields, Mapping):
            raise ConfigError("must map canonical column -> table column", key=f"{where}.fields")
        if spec["reader"] == "acs" and not fields:
            raise ConfigError("an ACS table needs fields (canonical column -> ACS variable id)",
                              key=f"{where}.fields")
        for canonical, provider in (fields or {}).items():
            if canonical not in COUNTY_VALUES:
                raise ConfigError(f"unknown {geography} column '{canonical}'; known: "
                                  f"{', '.join(COUNTY_VALUES)}", key=f"{where}.fields")
            if not isinstance(provider, (str, list)) or not provider:
                raise ConfigError(f"'{canonical}' must name a column or a list of columns",
                                  key=f"{where}.fields")
        paths = source.resolve_all(spec["path"])
        specs.append({"reader": spec["reader"], "path": paths[0], "paths": paths,
                      "fields": fields})
    return specs


def _read_workforce(source: LayerSource, area: StudyArea | None, geography: Geography,
                    geoid_of: Callable[[gpd.GeoDataFrame, Path], pd.Series],
                    names: list[str]) -> gpd.GeoDataFrame:
    """Polygons of a geography with the tables of option `tables` joined by GEOID, in order: a
    value from an earlier table is kept, later tables fill gaps."""
    specs = _table_specs(source, geography)  # config mistakes first, before any file is read
    gdf = open_layer(source, area)
    path = source.path
    geoid = geoid_of(gdf, path)
    values = pd.DataFrame(index=gdf.index, columns=list(COUNTY_VALUES), dtype=float)
    joined = []
    for spec in specs:
        table = _read_tables(spec, geography)
        for column in table.columns:
            found = geoid.map(table[column]).astype(float)
            values[column] = values[column].fillna(found)
        joined.append((spec, table.index))
    out = finish(gdf, "counties", {
        "geoid": geoid,
        "name": text(optional_field(gdf, names)),
        **{c: values[c] for c in COUNTY_VALUES},
    }, source, area)
    unit = "counties" if geography == "county" else "tracts"
    covered = pd.Series(False, index=out.index)
    tables = []
    for spec, index in joined:
        matched = out["geoid"].isin(index)
        covered |= matched
        record = {"reader": spec["reader"], "path": str(spec["path"]),
                  f"{unit}_without_row": int((~matched).sum())}
        if len(spec["paths"]) > 1:
            record["files"] = len(spec["paths"])
        tables.append(record)
    out.attrs["tables"] = tables
    out.attrs[f"{unit}_without_data"] = int((~covered).sum()) if tables else 0
    return out


@reader("census_counties", "counties", options=("tables",))
def read_census_counties(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """County polygons (us-atlas, TIGER or cartographic boundary files) with workforce figures
    joined by GEOID from the tables in option `tables` (bls_laus, acs).

    Tables are applied in order: a value from an earlier table is kept, later tables fill gaps.
    """
    return _read_workforce(source, area, "county", _county_geoids, ["NAME", "name"])


@reader("census_tracts", "counties", options=("tables",))
def read_census_tracts(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Census tract polygons (cartographic boundary or TIGER tract files: GEOID of 11 digits, or
    STATEFP + COUNTYFP + TRACTCE) with workforce figures joined by tract GEOID from ACS tract
    tables in option `tables` (the Census API's state/county/tract CSV or JSON, or GEO_ID).

    Same canonical layer as counties, so gravity criteria take either. BLS LAUS has no tract
    rows: joining it is a config error that says so.
    """
    return _read_workforce(source, area, "tract", _tract_geoids, ["NAMELSAD", "NAME", "name"])
