"""The last step of every reader: provider columns become the canonical layer's columns with
their dtypes, geometries are repaired or dropped (and counted), features whose coordinates are
not finite or off the Earth are dropped and named, and everything is put in EPSG:5070.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import DataError
from ..schema import CRS, LAYERS
from ..study_area import StudyArea
from .tables import parse_number

log = logging.getLogger(__name__)

_POLY = {"Polygon", "MultiPolygon"}
_LINE = {"LineString", "MultiLineString", "LinearRing"}
_POINT = {"Point", "MultiPoint"}
_KINDS = {"polygon": _POLY, "line": _LINE, "point": _POINT}


@dataclass
class _Dropped:
    """What a reader and `to_canonical` dropped, counted as they go: every feature dropped, and
    those of them dropped for coordinates off the map, with their place in what was read."""

    total: int = 0
    wild: int = 0
    wild_rows: list[Any] = field(default_factory=list)

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> _Dropped:
        """What the reader already dropped (rows without coordinates, `drop_off_the_map`)."""
        return cls(int(attrs.get("dropped", 0)), int(attrs.get("bad_coordinates", 0)),
                   list(attrs.get("bad_coordinate_features", [])))

    def note_off_the_map(self, index: pd.Index) -> None:
        """Count the features of `index` as having coordinates off the map."""
        self.wild += len(index)
        self.wild_rows += _row_numbers(index)


def to_canonical(gdf: gpd.GeoDataFrame, layer: str, columns: Mapping[str, Any], path: Path,
                 area: StudyArea | None = None) -> gpd.GeoDataFrame:
    """Finish a reader: canonical columns only, dtypes coerced, EPSG:5070, invalid geometries
    repaired (and counted), empty or wrong-kind geometries dropped (and counted).

    `columns` maps canonical column -> a Series/array aligned with `gdf`, or a scalar.
    Repair/drop counts travel in `attrs` so the run manifest can report them.
    """
    schema = LAYERS[layer]
    if gdf.crs is None:
        raise DataError("has no CRS; cannot place it on the map", file=path)
    out, not_numbers = _canonical_columns(gdf, schema.columns, columns)
    dropped = _Dropped.from_attrs(gdf.attrs)
    out, flattened, repaired = _repair(out, schema.geometry, dropped)
    out = _onto_the_map(out, dropped)
    if dropped.wild:
        _report_off_the_map(path, dropped, left=len(out))
    if area is not None:
        out = area.clip_mask(out)
    out = out.reset_index(drop=True)
    out.attrs = {"path": str(path), "repaired": repaired, "dropped": dropped.total,
                 "features": len(out)}
    if flattened:  # 3D geometries: heights dropped
        out.attrs["flattened_3d"] = flattened
    if dropped.wild:  # NaN, infinite or off-the-Earth coordinates: dropped, first ones named
        out.attrs["bad_coordinates"] = dropped.wild
        out.attrs["bad_coordinate_features"] = dropped.wild_rows[:10]
    if not_numbers:  # text where a number belongs, read as missing
        out.attrs["not_numbers"] = not_numbers
        log.info("%s: cells that are not numbers, read as missing: %s", path, not_numbers)
    if repaired or dropped.total:
        log.info("%s: %d invalid geometries repaired, %d dropped", path, repaired, dropped.total)
    return out


def _canonical_columns(gdf: gpd.GeoDataFrame, dtypes: Mapping[str, str],
                       columns: Mapping[str, Any]) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The canonical columns, each coerced to its dtype, on `gdf`'s geometries; and how many
    cells of each numeric column held text that is no number (counted by `parse_number`)."""
    out = gpd.GeoDataFrame(index=gdf.index, geometry=gdf.geometry.values, crs=gdf.crs)
    not_numbers: dict[str, int] = {}
    for col, dtype in dtypes.items():
        value = columns.get(col, None)
        count = value.attrs.get("not_numbers") if isinstance(value, pd.Series) else None
        if isinstance(count, (int, np.integer)) and count > 0:  # set by parse_number
            not_numbers[col] = int(count)
        if isinstance(value, (pd.Series, np.ndarray, list)):
            series = pd.Series(np.asarray(value, dtype=object), index=gdf.index) \
                if not isinstance(value, pd.Series) else value
        else:
            series = pd.Series([value] * len(gdf), index=gdf.index, dtype=object)
        out[col] = _coerce(series, dtype)
    return out, not_numbers


def _repair(out: gpd.GeoDataFrame, kind: str, dropped: _Dropped) -> tuple[gpd.GeoDataFrame, int, int]:
    """Geometries made planar (z dropped: everything downstream is planar), those with a
    coordinate off the map emptied, invalid ones repaired and only the parts of the layer's
    kind kept; with how many were flattened and how many repaired."""
    geoms = out.geometry.values
    flattened = int(shapely.has_z(geoms).sum()) if len(out) else 0
    if flattened:
        geoms = shapely.force_2d(geoms)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    # a NaN, infinite or off-the-Earth vertex: GEOS cannot repair it and one such feature can
    # wipe out a whole union; the feature is dropped (as if it had no geometry) and counted
    wild = off_the_map(geoms, out.crs, suspects=invalid)
    if wild.any():
        geoms = np.array(geoms, dtype=object)
        geoms[wild] = None
        invalid &= ~wild
        dropped.note_off_the_map(out.index[wild])
    repaired = int(invalid.sum())
    if repaired:
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
    if kind in _KINDS and len(out):
        out = out.set_geometry(_keep_kind(out.geometry, kind))
    return out, flattened, repaired


def _onto_the_map(out: gpd.GeoDataFrame, dropped: _Dropped) -> gpd.GeoDataFrame:
    """The features left with a geometry, in EPSG:5070, less those that are valid in their own
    CRS but off the map in ours."""
    bad = shapely.is_missing(out.geometry.values) | shapely.is_empty(out.geometry.values)
    dropped.total += int(bad.sum())
    out = out.loc[~bad].to_crs(CRS)
    wild = off_the_map(out.geometry.values, CRS)
    if wild.any():
        dropped.total += int(wild.sum())
        dropped.note_off_the_map(out.index[wild])
        out = out.loc[~wild]
    return out


def _report_off_the_map(path: Path, dropped: _Dropped, left: int) -> None:
    """Log the features dropped for their coordinates, naming the first ten; when none is left,
    the file is the user's to mend."""
    rows = dropped.wild_rows
    shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
    log.info("%s: %d features dropped, their coordinates not finite or off the Earth "
             "(features %s, counted from 1 in the order read)", path, dropped.wild, shown)
    if left == 0:
        raise DataError(f"no feature is left: {dropped.wild} dropped for coordinates that are not "
                        f"finite or off the Earth (e.g. feature {rows[0]})", file=path)


#: A planar coordinate further than this from the origin is off the Earth (its circumference is
#: 40,075 km), in metres; in degrees, |longitude| beyond 540 (one and a half turns, as some
#: files wrap) or |latitude| beyond 90.
MAX_PLANAR_M = 41_000_000.0
MAX_LON_DEG, MAX_LAT_DEG = 540.0, 90.000001


def _coordinate_limits(crs: Any) -> tuple[float, float]:
    """The largest |x| and |y| a coordinate of `crs` can have on the Earth, in its units."""
    from pyproj import CRS as ProjCRS

    try:
        proj = ProjCRS.from_user_input(crs)
        if proj.is_geographic:
            return MAX_LON_DEG, MAX_LAT_DEG
        to_m = proj.axis_info[0].unit_conversion_factor if proj.axis_info else 1.0
    except Exception:  # a CRS pyproj cannot judge: finite is all we ask
        return np.inf, np.inf
    return MAX_PLANAR_M / to_m, MAX_PLANAR_M / to_m


def off_the_map(geoms: Any, crs: Any, suspects: np.ndarray | None = None) -> np.ndarray:
    """True for each geometry with a coordinate that is NaN, infinite or off the Earth in `crs`.

    Bounds find infinite and far-out vertices; a NaN one may escape them, but makes its geometry
    invalid, so the vertices of `suspects` (the invalid geometries; all of them when None) are
    looked at too, a chunk at a time."""
    geoms = np.asarray(geoms, dtype=object)
    wild = np.zeros(len(geoms), dtype=bool)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return wild
    xlim, ylim = _coordinate_limits(crs)
    with np.errstate(invalid="ignore"):
        b = shapely.bounds(geoms)
        inside = (np.isfinite(b).all(axis=1) & (np.abs(b[:, [0, 2]]) <= xlim).all(axis=1)
                  & (np.abs(b[:, [1, 3]]) <= ylim).all(axis=1))
    wild = present & ~inside
    look = np.flatnonzero(present & ~wild & (True if suspects is None else suspects))
    for start in range(0, len(look), 100_000):
        part = look[start:start + 100_000]
        coords, which = shapely.get_coordinates(geoms[part], return_index=True)
        wild[part[np.unique(which[~np.isfinite(coords).all(axis=1)])]] = True
    return wild


def _row_numbers(index: pd.Index) -> list[int]:
    """Features named by their place in what was read, counted from 1."""
    return [int(i) + 1 if isinstance(i, (int, np.integer)) else i for i in index]


def drop_off_the_map(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """`gdf` without the features `off_the_map` finds, for readers that work on geometries
    before `to_canonical` (which counts what is dropped here from `attrs`)."""
    if gdf.crs is None or len(gdf) == 0:
        return gdf
    wild = off_the_map(gdf.geometry.values, gdf.crs)
    if not wild.any():
        return gdf
    attrs = dict(gdf.attrs)
    out = gdf.loc[~wild]
    out.attrs = {**attrs, "dropped": int(attrs.get("dropped", 0)) + int(wild.sum()),
                 "bad_coordinates": int(attrs.get("bad_coordinates", 0)) + int(wild.sum()),
                 "bad_coordinate_features": list(attrs.get("bad_coordinate_features", []))
                 + _row_numbers(gdf.index[wild])}
    if len(out) == 0:
        raise DataError(f"every feature has coordinates that are not finite or off the Earth "
                        f"(e.g. feature {out.attrs['bad_coordinate_features'][0]}); nothing is "
                        "left to read", file=path)
    return out


def _keep_kind(geoms: gpd.GeoSeries, kind: str) -> gpd.GeoSeries:
    """After make_valid a polygon may become a collection: keep only the parts of the right kind."""
    wanted = _KINDS[kind]
    types = geoms.geom_type
    mixed = ~types.isin(wanted)
    if not mixed.any():
        return geoms
    fixed = geoms.copy()
    for i in np.flatnonzero(mixed.to_numpy()):
        g = geoms.iloc[i]
        parts = [p for p in shapely.get_parts(g) if p.geom_type in wanted] if g is not None else []
        fixed.iloc[i] = shapely.union_all(parts) if parts else None
    return fixed


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == "float":
        if series.dtype.kind in "fiu":
            return series.astype(float)
        return parse_number(series)
    if dtype == "int":
        return parse_number(series).astype("Int64")
    if dtype == "bool":
        return series.map(_truthy).astype(bool)
    text = series.astype("string").str.strip()
    keep = (text.notna() & (text != "")).fillna(False).astype(bool)
    return text.astype(object).where(keep, None)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "y", "yes", "true", "t"}
    return bool(value) if value is not None and value == value else False

