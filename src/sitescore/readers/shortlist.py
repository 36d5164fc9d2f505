"""A planner's own shortlist of candidate sites, scored alongside (or instead of) a grid.

Sites come as points (CSV coordinates or a point layer), which become circles of a given radius,
or as polygons drawn by the planner. A shortlist can be anywhere in the US, so it is never
clipped to the study area.
"""

from __future__ import annotations

from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..schema import CRS, M_PER_KM
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
TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}
#: Segments per quarter circle: the buffer's area is within 0.05 % of pi r^2.
QUAD_SEGS = 32


@reader("shortlist", "candidates", options=("radius_km",))
def read_shortlist(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Candidate sites: a CSV with lon/lat (optional `radius_km` per row) or a point/polygon
    file. Points become circles of `radius_km` (option, default 2 km; a row's value wins)."""
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

    gdf = gdf.to_crs(CRS)
    radius_km = pd.Series(default_km, index=gdf.index, dtype=float)
    radius_field = find_field(gdf.columns, [RADIUS_FIELD])
    if radius_field is not None:
        given = parse_number(gdf[radius_field])
        written = clean_text(gdf[radius_field].astype(object).where(gdf[radius_field].notna(), None))
        bad = (given.notna() & ~(given > 0)) | (given.isna() & written.notna())
        if bad.any():
            row = cast(int, bad.idxmax())  # the rows keep their integer labels from the file
            raise DataError(f"must be a positive number of km (row {row + 1})",
                            file=path, field=radius_field)
        radius_km = given.fillna(default_km)
    geoms = gdf.geometry.values
    points = np.asarray(gdf.geom_type.isin(["Point", "MultiPoint"]))
    if points.any():
        geoms = geoms.copy()
        geoms[points] = gdf.geometry[points].buffer(
            radius_km[points].to_numpy() * M_PER_KM, quad_segs=QUAD_SEGS).values
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=CRS))
    out = to_canonical(gdf, "candidates", {"candidate_id": ids, "name": names}, path, None)
    out.attrs["buffered_points"] = int(points.sum())
    return out


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
