"""A planner's own shortlist of candidate sites, scored alongside (or instead of) a grid.

Sites come as points (CSV coordinates or a point layer), which become circles of a given radius,
or as polygons drawn by the planner. A shortlist can be anywhere in the US, so it is never
clipped to the study area.

A site may state its land area (an `acres` column): a shortlist of known parks names their size,
and a land-size criterion must count that, not the circle drawn to measure distances from. A
point site keeps the lon/lat it was given, so the tables and the map show that very point.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import ConfigError, DataError
from ..schema import CRS, M_PER_KM, SQM_PER_ACRE, WEB_CRS
from ..study_area import StudyArea
from .canonical import drop_off_the_map, to_canonical
from .federal_land import clean_text
from .registry import LayerSource, reader
from .tables import find_field, parse_number, points_from_lonlat, read_table, require_field
from .vector import open_source

LON_FIELDS = ["lon", "lng", "longitude", "x"]
LAT_FIELDS = ["lat", "latitude", "y"]
ID_FIELDS = ["candidate_id", "site_id", "id"]
RADIUS_FIELD = "radius_km"
#: A site's stated land area, in acres or in hectares (converted exactly: 1 ha = 10,000 m^2,
#: 1 international acre = 4,046.8564224 m^2).
ACRES_FIELDS = ["acres", "area_acres", "site_acres", "size_acres"]
HECTARES_FIELDS = ["hectares", "area_ha", "site_ha", "size_ha"]
SQM_PER_HECTARE = 10_000.0
#: A polygon whose stated acres differ from its drawn area by more than this share gets a note.
AREA_MISMATCH = 0.10
TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}
#: Segments per quarter circle: the buffer's area is within 0.05 % of pi r^2.
QUAD_SEGS = 32


@reader("shortlist", "candidates", options=("radius_km",))
def read_shortlist(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Candidate sites: a CSV with lon/lat (optional `radius_km` per row) or a point/polygon
    file. Points become circles of `radius_km` (option, default 2 km; a row's value wins).

    An optional `acres` column (or area_acres, site_acres, size_acres; or hectares, area_ha,
    site_ha, size_ha, converted exactly) states a site's land area: for a point it is the
    site's area (the circle only places the site); for a polygon it wins over the drawn area,
    and a note says so where the two differ by more than 10 %. Besides `candidate_id` and
    `name`, the layer carries `acres` (stated, else NaN), `area_acres` (the drawn area) and the
    `lon`/`lat` a point site was given (NaN for polygons)."""
    path = source.path
    default_km = _default_radius(source)
    if source.postgis is None and path.suffix.lower() in TABLE_SUFFIXES:
        table = read_table(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        lon = require_field(table.columns, LON_FIELDS, path)
        lat = require_field(table.columns, LAT_FIELDS, path)
        gdf = points_from_lonlat(table, lon, lat, path)
    else:
        gdf = open_source(source, None)
    gdf = drop_off_the_map(gdf, path)  # before buffering: a NaN vertex would stop GEOS
    if len(gdf) == 0:
        raise DataError("no candidate sites with usable geometry", file=path)

    # ids: the file's own, else the 1-based row number in the file (stable if rows are dropped)
    id_field = find_field(gdf.columns, ID_FIELDS)
    ids = _ids(gdf[id_field]) if id_field is not None else \
        pd.Series([str(i + 1) for i in gdf.index], index=gdf.index, dtype=object)
    blank = ids.isna()
    ids[blank] = np.array([str(i + 1) for i in gdf.index[blank]], dtype=object)
    dupes = sorted(set(ids[ids.duplicated()]))
    if dupes:
        raise DataError(f"duplicate candidate ids: {', '.join(dupes[:5])}", file=path,
                        field=id_field or "id")
    name_field = find_field(gdf.columns, ["name"])
    names = clean_text(gdf[name_field]) if name_field is not None else \
        pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    names = names.where(names.notna(), "Site " + ids)
    stated = _stated_acres(gdf, path)
    lon_given, lat_given = _given_lonlat(gdf)

    gdf = gdf.to_crs(CRS)
    radius_km = pd.Series(default_km, index=gdf.index, dtype=float)
    radius_field = find_field(gdf.columns, [RADIUS_FIELD])
    if radius_field is not None:
        radius_km = _positive(gdf[radius_field], path, radius_field, "km").fillna(default_km)
    geoms = gdf.geometry.values
    points = np.asarray(gdf.geom_type.isin(["Point", "MultiPoint"]))
    if points.any():
        geoms = geoms.copy()
        geoms[points] = gdf.geometry[points].buffer(
            radius_km[points].to_numpy() * M_PER_KM, quad_segs=QUAD_SEGS).values
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=CRS))
    out = to_canonical(gdf, "candidates", {"candidate_id": ids, "name": names}, path, None)
    # the extra columns by id (unique): to_canonical may have dropped rows and renumbered
    by_id = pd.Index(ids.to_numpy(dtype=object))
    pos = by_id.get_indexer(out["candidate_id"].to_numpy(dtype=object))
    out["acres"] = stated.to_numpy(dtype=float)[pos]
    out["area_acres"] = shapely.area(out.geometry.values) / SQM_PER_ACRE
    out["lon"] = lon_given[pos]
    out["lat"] = lat_given[pos]
    out.attrs["buffered_points"] = int(points.sum())
    out.attrs["stated_acres"] = int(out["acres"].notna().sum())
    notes = _area_notes(out, points[pos])
    if notes:
        out.attrs["notes"] = notes
    return out


def _positive(values: pd.Series, path: Path, field: str, unit: str) -> pd.Series:
    """A column of positive numbers, blank where not given; anything else names its row."""
    given = parse_number(values)
    written = clean_text(values.astype(object).where(values.notna(), None))
    bad = (given.notna() & ~(given > 0)) | (given.isna() & written.notna())
    if bad.any():
        row = cast(int, bad.idxmax())  # the rows keep their integer labels from the file
        raise DataError(f"must be a positive number of {unit} (row {row + 1})", file=path, field=field)
    return given


def _stated_acres(gdf: gpd.GeoDataFrame, path: Path) -> pd.Series:
    """Each site's stated land area in acres (NaN where none is given)."""
    acres_field = find_field(gdf.columns, ACRES_FIELDS)
    ha_field = find_field(gdf.columns, HECTARES_FIELDS)
    if acres_field is not None and ha_field is not None:
        raise DataError(f"states the area twice, as '{acres_field}' and as '{ha_field}'; keep one",
                        file=path, field=acres_field)
    if acres_field is not None:
        return _positive(gdf[acres_field], path, acres_field, "acres")
    if ha_field is not None:
        return _positive(gdf[ha_field], path, ha_field, "hectares") * (SQM_PER_HECTARE / SQM_PER_ACRE)
    return pd.Series(np.nan, index=gdf.index, dtype=float)


def _given_lonlat(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The lon/lat of each single-point site as given (a lon/lat file's own numbers, untouched);
    NaN for polygons and multipoints, which keep a representative point."""
    single = np.asarray(gdf.geom_type == "Point")
    lon = np.full(len(gdf), np.nan)
    lat = np.full(len(gdf), np.nan)
    if single.any():
        pts = gdf.geometry[single]
        crs = gdf.crs
        # a lon/lat file keeps its own numbers; a projected one gives its points' lon/lat
        if not (crs is not None and crs.equals(WEB_CRS, ignore_axis_order=True)):
            pts = pts.to_crs(WEB_CRS)
        lon[single] = shapely.get_x(pts.values)
        lat[single] = shapely.get_y(pts.values)
    return lon, lat


def _area_notes(out: gpd.GeoDataFrame, points: np.ndarray) -> list[str]:
    """A note per polygon whose stated acres override a drawn area more than 10 % apart."""
    stated = out["acres"].to_numpy(dtype=float)
    drawn = out["area_acres"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        off = ~points & np.isfinite(stated) & (np.abs(stated - drawn) > AREA_MISMATCH * drawn)
    return [f"shortlist site '{cid}': its stated {a:,.0f} acres are used, not the "
            f"{d:,.0f} acres of its polygon ({(a - d) / d:+.0%})"
            for cid, a, d in zip(out["candidate_id"][off], stated[off], drawn[off], strict=True)]


def _default_radius(source: LayerSource) -> float:
    value = source.options.get("radius_km", 2.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"must be a positive number of km, got {value!r}",
                          key=f"layers.{source.name}.options.radius_km")
    return float(value)


def _ids(values: pd.Series) -> pd.Series:
    """Ids as text; whole numbers lose a float's '.0' (GeoJSON 3.0 -> '3')."""
    if values.dtype.kind == "f":
        return pd.Series([None if np.isnan(v) else str(int(v)) if v.is_integer() else str(v)
                          for v in values.astype(float)], index=values.index, dtype=object)
    if values.dtype.kind in "iu":
        return values.astype(str).astype(object)
    return clean_text(values)
