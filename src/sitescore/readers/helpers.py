"""Small pieces the infrastructure and workforce readers share: reader options, text cells, ids,
point layers from either a vector file or a coordinate table, and the final canonical step.

They sit on top of `base` so each reader stays a short mapping from provider fields to canonical
columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..study_area import StudyArea
from .canonical import to_canonical
from .registry import LayerSource
from .tables import (
    clip_points_to_area,
    find_field,
    parse_number,
    points_from_lonlat,
    read_table,
    require_field,
)
from .vector import open_source

#: Files read as coordinate tables rather than through GDAL.
TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}


# --- options -------------------------------------------------------------------------------

def _option_key(source: LayerSource, key: str) -> str:
    return f"layers.{source.name}.options.{key}"


def option_list(source: LayerSource, key: str, default: Iterable[Any] | None) -> list[Any] | None:
    """A list option; a single scalar is accepted as a one-item list, null means 'no filter'."""
    if key not in source.options:
        return None if default is None else list(default)
    value = source.options[key]
    if value is None:
        return None
    if isinstance(value, (str, int, float)):
        return [value]
    if isinstance(value, (list, tuple, set)):
        return list(value)
    raise ConfigError(f"must be a list, got {type(value).__name__}", key=_option_key(source, key))


def option_bool(source: LayerSource, key: str, default: bool) -> bool:
    """A yes/no option; anything but a real boolean is a config error (no 'false' strings)."""
    value = source.options.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"must be true or false, got {value!r}", key=_option_key(source, key))
    return value


def option_str(source: LayerSource, key: str, default: str | None = None) -> str | None:
    value = source.options.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"must be a string, got {value!r}", key=_option_key(source, key))
    return value


# --- cells ---------------------------------------------------------------------------------

def field(df: pd.DataFrame, names: Iterable[str] | str, path: Path) -> pd.Series:
    """A required provider column (DataError naming file and field when it is missing)."""
    return df[require_field(df.columns, names, path)]


def optional_field(df: pd.DataFrame, names: Iterable[str] | str) -> pd.Series:
    """A provider column that may be absent: all-missing when it is."""
    names = [names] if isinstance(names, str) else list(names)
    hit = find_field(df.columns, names)
    if hit is None:
        return pd.Series([None] * len(df), index=df.index, dtype=object)
    return df[hit]


def text(values: pd.Series, missing: Iterable[str] = ()) -> pd.Series:
    """Text cells with surrounding spaces removed; blank cells (EIA writes a single space) and the
    provider's placeholders for 'unknown' become None."""
    stripped = values.astype("string").str.strip()
    absent = stripped.isna() | (stripped == "")
    placeholders = {m.upper() for m in missing}
    if placeholders:
        absent |= stripped.str.upper().isin(placeholders).fillna(False)
    return stripped.astype(object).where(~absent, None)


def each(values: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """`func` applied cell by cell into an object Series, so None stays None (Series.map may
    turn it into NaN when it infers a string dtype)."""
    return pd.Series([func(v) for v in values], index=values.index, dtype=object)


def ident(values: pd.Series) -> pd.Series:
    """Identifiers as text; numeric ids lose a float's '.0' (6008.0 -> '6008')."""
    if values.dtype.kind in "fiu":
        return _whole_numbers(values.astype(float))
    return text(values)


def code_number(values: pd.Series) -> pd.Series:
    """Numeric codes written as text (' 6008 ', '06008', '6008.0') as canonical text '6008'."""
    return _whole_numbers(parse_number(values))


def _whole_numbers(numbers: pd.Series) -> pd.Series:
    whole = numbers.notna() & (numbers == np.round(numbers))
    return pd.Series([str(int(v)) if ok else None for v, ok in zip(numbers, whole, strict=True)],
                     index=numbers.index, dtype=object)


# --- point layers --------------------------------------------------------------------------

def is_table(path: Path) -> bool:
    return path.suffix.lower() in TABLE_SUFFIXES


def table_points(df: pd.DataFrame, lon_names: Iterable[str] | str, lat_names: Iterable[str] | str,
                 path: Path, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Points from a table's coordinate columns, only those in the study area's box; rows without
    coordinates are dropped and counted in attrs['dropped']."""
    lon = require_field(df.columns, lon_names, path)
    lat = require_field(df.columns, lat_names, path)
    points = points_from_lonlat(df, lon, lat, path)
    dropped = points.attrs.get("dropped", 0)
    points = clip_points_to_area(points, area)
    points.attrs["dropped"] = dropped
    return points


def open_layer(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """The configured vector file (and layer) or PostGIS table, only the features in the study
    area's box."""
    return open_source(source, area)


def read_points(source: LayerSource, area: StudyArea | None, lon_names: Iterable[str] | str,
                lat_names: Iterable[str] | str) -> gpd.GeoDataFrame:
    """A point layer published either as a vector file (its geometry is used) or as a CSV with
    coordinate columns (or as a PostGIS table, whose geometry is used)."""
    if source.postgis is None and is_table(source.path):
        return table_points(read_table(source.path), lon_names, lat_names, source.path, area)
    return open_layer(source, area)


# --- finishing -----------------------------------------------------------------------------

def finish(gdf: gpd.GeoDataFrame, layer: str, columns: Mapping[str, Any], source: LayerSource,
           area: StudyArea | None, **counts: Any) -> gpd.GeoDataFrame:
    """`to_canonical`, plus the reader's own counts (rows filtered out, unmatched joins) in attrs
    so the run manifest can report them."""
    out = to_canonical(gdf, layer, columns, source.path, area)
    out.attrs.update(counts)
    return out
