"""Transport readers: Census TIGER roads, geometry-only freeway and rail lines, FRA's North
American Rail Network and OurAirports.

Heavy industry ships by truck and rail and flies staff in, so these give road class, Class I rail
ownership and airport type in canonical columns.
"""

from __future__ import annotations

from collections.abc import Hashable

import geopandas as gpd
import numpy as np
import pandas as pd

from ..study_area import StudyArea
from .helpers import (
    each,
    field,
    finish,
    ident,
    open_layer,
    option_bool,
    option_list,
    option_str,
    optional_field,
    table_points,
    text,
)
from .registry import LayerSource, reader
from .tables import find_field, parse_number, read_table, require_field

#: MAF/TIGER Feature Class Codes kept by default: S1100 primary road, S1200 secondary road.
TIGER_DEFAULT_MTFCC = ("S1100", "S1200")
#: TIGER route type code for an Interstate.
TIGER_INTERSTATE = "I"

#: NARN RROWNER codes of the Class I freight railroads (CP appears as CPRS, CP or CPKC).
CLASS1_OWNERS = ("BNSF", "UP", "CSXT", "NS", "CN", "CPRS", "CP", "CPKC", "KCS")
#: NARN NET codes for track that is gone: A abandoned, R abandoned and removed, T trail on a
#: former right-of-way.
NARN_ABANDONED = ("A", "R", "T")

#: OurAirports types kept by default ('closed' is a type of its own, so it is left out).
AIRPORT_DEFAULT_TYPES = ("large_airport", "medium_airport", "small_airport")


def _upper(values: pd.Series) -> pd.Series:
    cleaned = text(values)
    return each(cleaned, lambda v: v.upper() if isinstance(v, str) else None)


def _keep(values: pd.Series, wanted: list | None) -> pd.Series:
    """Rows whose (upper-cased) value is in `wanted`; everything when there is no filter."""
    if wanted is None:
        return pd.Series(True, index=values.index)
    return values.isin({str(w).strip().upper() for w in wanted})


@reader("tiger_roads", "roads", options=("mtfcc",))
def read_tiger_roads(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Census TIGER/Line Primary (and Secondary) Roads, filtered by MTFCC (option `mtfcc`).

    S1100 is 'interstate' when its route type is I, else 'primary'; S1200 is 'secondary'; other
    codes kept by the filter have no road class. RTTYP is the type of the segment's primary name
    only, so an Interstate segment known by a common name (RTTYP M, 'New Jersey Tpke') stays
    'primary': its route numbers are in TIGER's feature-names table, which this file lacks.
    """
    gdf = open_layer(source, area)
    path = source.path
    mtfcc = _upper(field(gdf, "MTFCC", path))
    keep = _keep(mtfcc, option_list(source, "mtfcc", TIGER_DEFAULT_MTFCC))
    gdf, mtfcc = gdf.loc[keep], mtfcc.loc[keep]
    rttyp = _upper(optional_field(gdf, "RTTYP"))
    road_class = np.select(
        [(mtfcc == "S1100") & (rttyp == TIGER_INTERSTATE), mtfcc == "S1100", mtfcc == "S1200"],
        ["interstate", "primary", "secondary"],
        default=np.array(None, dtype=object))  # None as an array: numpy's stubs take no bare None
    return finish(gdf, "roads", {
        "road_id": ident(field(gdf, "LINEARID", path)),
        "name": text(optional_field(gdf, "FULLNAME")),
        "road_class": pd.Series(road_class, index=gdf.index, dtype=object),
        "mtfcc": mtfcc,
    }, source, area, excluded_by_mtfcc=int((~keep).sum()))


def _line_ids(gdf: gpd.GeoDataFrame, source: LayerSource) -> pd.Series | None:
    """Ids of geometry-only line files: option `id_field`, else a field called segment_id/id."""
    name = option_str(source, "id_field")
    if name is not None:
        return ident(gdf[require_field(gdf.columns, name, source.path)])
    hit = find_field(gdf.columns, ["segment_id", "id", "fid", "objectid"])
    return ident(gdf[hit]) if hit is not None else None


@reader("freeway_lines", "roads", options=("id_field",))
def read_freeway_lines(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Geometry-only freeway lines (e.g. the USDOT/Esri USA Freeway System graph): every line is
    a 'freeway'."""
    gdf = open_layer(source, area)
    return finish(gdf, "roads", {
        "road_id": _line_ids(gdf, source), "name": None, "road_class": "freeway", "mtfcc": None,
    }, source, area)


@reader("rail_lines", "rail", options=("id_field", "class1"))
def read_rail_lines(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Geometry-only rail lines; option `class1: true` when the file holds only Class I track
    (e.g. the BTS 'Class I Freight Railroads' graph)."""
    gdf = open_layer(source, area)
    return finish(gdf, "rail", {
        "rail_id": _line_ids(gdf, source), "owner": None, "network": None, "tracks": None,
        "class1": option_bool(source, "class1", False),
    }, source, area)


@reader("fra_narn", "rail", options=("exclude_abandoned", "class1_owners"))
def read_fra_narn(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """FRA North American Rail Network Lines: owner, NET network code, tracks, Class I flag.

    Abandoned track (NET A, R, T) is dropped unless `exclude_abandoned: false`; option
    `class1_owners` replaces the list of Class I owner codes.
    """
    gdf = open_layer(source, area)
    path = source.path
    net = _upper(field(gdf, "NET", path))
    abandoned = net.isin(NARN_ABANDONED)
    if not option_bool(source, "exclude_abandoned", True):
        abandoned = pd.Series(False, index=gdf.index)
    gdf, net = gdf.loc[~abandoned], net.loc[~abandoned]
    owner = _upper(field(gdf, "RROWNER1", path))
    class1_owners = option_list(source, "class1_owners", CLASS1_OWNERS) or []
    return finish(gdf, "rail", {
        "rail_id": ident(field(gdf, "FRAARCID", path)),
        "owner": owner,
        "network": net,
        "tracks": parse_number(optional_field(gdf, "TRACKS")),
        "class1": _keep(owner, class1_owners) & owner.notna(),
    }, source, area, abandoned_excluded=int(abandoned.sum()))


@reader("ourairports", "airports", options=("country", "types", "runways"))
def read_ourairports(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """OurAirports airports.csv: large, medium and small airports by default (option `types`);
    closed ones are left out unless `types` lists 'closed'; US only unless `country` says else.
    Option `runways` (OurAirports runways.csv) adds each airport's longest open runway."""
    rows = airport_rows(source)
    gdf = table_points(rows, "longitude_deg", "latitude_deg", source.path, area)
    path = source.path
    region = text(optional_field(gdf, "iso_region"))
    state = each(region, lambda r: r.split("-", 1)[1] if isinstance(r, str) and "-" in r else None)
    scheduled = text(optional_field(gdf, "scheduled_service"))
    runways_path = option_str(source, "runways")
    longest = (longest_runways_ft(source.resolve(runways_path), field(gdf, "id", path))
               if runways_path else np.nan)
    return finish(gdf, "airports", {
        "ident": text(field(gdf, "ident", path)),
        "name": text(field(gdf, "name", path)),
        "airport_type": text(field(gdf, "type", path)),
        "scheduled_service": each(scheduled, lambda v: isinstance(v, str) and v.lower() == "yes"),
        "iata_code": text(optional_field(gdf, "iata_code")),
        "state": state,
        "longest_runway_ft": longest,
    }, source, area, **{str(k): v for k, v in rows.attrs.items()})


def longest_runways_ft(path, airport_ids: pd.Series) -> pd.Series:
    """Longest open runway per airport from OurAirports runways.csv (`airport_ref` = airports' `id`,
    `length_ft`, `closed` '1' for closed runways): what a cargo or charter operator asks first."""
    runways = read_table(path)
    ref = text(runways[require_field(runways.columns, "airport_ref", path)])
    length = parse_number(runways[require_field(runways.columns, "length_ft", path)])
    closed_field = find_field(runways.columns, ["closed"])
    open_ = ~text(runways[closed_field]).isin(["1"]) if closed_field else pd.Series(True, index=runways.index)
    best = length[open_].groupby(ref[open_]).max()
    return text(airport_ids).map(best).astype(float)


def airport_rows(source: LayerSource) -> pd.DataFrame:
    """The OurAirports rows the reader keeps, still in the provider's columns (read as published:
    continent 'NA' is North America, not a missing value). Filter counts travel in attrs."""
    path = source.path
    table = read_table(path)
    counts: dict[Hashable, int] = {}  # pandas' attrs take any hashable key
    country = option_str(source, "country", "US")
    if country:
        in_country = _upper(field(table, "iso_country", path)) == country.upper()
        counts["other_country"] = int((~in_country).sum())
        table = table.loc[in_country]
    kind = _upper(field(table, "type", path))
    wanted = _keep(kind, option_list(source, "types", AIRPORT_DEFAULT_TYPES))
    counts["excluded_by_type"] = int((~wanted).sum())
    table = table.loc[wanted].copy()
    table.attrs = counts
    return table
