"""Boundary readers: state outlines (for study areas) and extra exclusion polygons."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from ..errors import ConfigError
from ..schema import FIPS_STATE, STATE_FIPS
from ..study_area import StudyArea
from .canonical import drop_off_the_map, to_canonical
from .federal_land import clean_text, designation_from_name
from .registry import LayerSource, reader
from .tables import find_field, parse_number, require_field
from .vector import open_source


def _fips(values: pd.Series) -> pd.Series:
    """State FIPS as two-digit text: '4', 4, 4.0 and '04' all become '04'; a county GEOID's
    first two digits would be wrong here, so anything longer than two digits is rejected."""
    text = clean_text(values.astype(object).where(values.notna(), None))
    numbers = parse_number(text)
    ok = numbers.notna() & (numbers == numbers.round()) & numbers.between(1, 99)
    return pd.Series([f"{int(n):02d}" if good else None for n, good in zip(numbers, ok, strict=True)],
                     index=values.index, dtype=object)


@reader("census_states", "states")
def read_census_states(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Census state boundaries: cartographic boundary / TIGER files (STATEFP, STUSPS, NAME) or the
    us-atlas GeoJSON (id = state FIPS, name)."""
    path = source.path
    gdf = open_source(source, area)
    cols = gdf.columns
    fips = _fips(gdf[require_field(cols, ["STATEFP", "GEOID", "id"], path)])
    name = clean_text(gdf[require_field(cols, ["NAME", "name"], path)])
    abbrev_field = find_field(cols, ["STUSPS", "abbrev"])
    abbrev = clean_text(gdf[abbrev_field]).str.upper() if abbrev_field is not None \
        else pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    abbrev = abbrev.where(abbrev.isin(list(STATE_FIPS)), fips.map(FIPS_STATE))
    columns = {"state_fips": fips, "name": name, "abbrev": abbrev}
    return to_canonical(gdf, "states", columns, path, area)


#: Name fields tried, in order, when option `name_field` is not given.
PROTECTED_NAME_FIELDS = ["UNIT_NAME", "Unit_Nm", "NAME", "name"]


@reader("protected_areas", "protected_areas", options=("name_field", "designation"))
def read_protected_areas(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Any polygon file of extra exclusions (an NPS boundary, a local reserve). Options:
    `name_field`; `designation`: a field holding PAD-US codes, or one code for every polygon.
    Without it the code comes from a Des_Tp field, else the name (then UNIT_TYPE) keywords."""
    path = source.path
    gdf = open_source(source, area)
    cols = gdf.columns
    name_option = source.options.get("name_field")
    if name_option is not None and not isinstance(name_option, str):
        raise ConfigError(f"must be a field name, got {name_option!r}",
                          key=f"layers.{source.name}.options.name_field")
    name = clean_text(gdf[require_field(cols, name_option or PROTECTED_NAME_FIELDS, path)])

    option = source.options.get("designation")
    if option is not None and not isinstance(option, str):
        raise ConfigError(f"must be a field name or a PAD-US code, got {option!r}",
                          key=f"layers.{source.name}.options.designation")
    derived = 0
    if option:
        hit = find_field(cols, [option])
        designation = clean_text(gdf[hit]) if hit is not None else option.strip().upper()
    elif (des := find_field(cols, ["Des_Tp"])) is not None:
        designation = clean_text(gdf[des]).str.upper()
    else:
        designation = designation_from_name(name)
        unit_type = find_field(cols, ["UNIT_TYPE"])
        if unit_type is not None:
            designation = designation.where(designation.notna(),
                                            designation_from_name(clean_text(gdf[unit_type])))
        derived = -1  # every code is derived: counted on the output below
    out = to_canonical(gdf, "protected_areas", {"name": name, "designation": designation},
                       path, area)
    out.attrs["designation_from_name"] = (int(out["designation"].notna().sum()) if derived < 0
                                          else derived)
    return out


#: Population columns tried when option `population_field` is not given: a field some place
#: files carry, Census 2020 P1 total, ACS total population.
PLACE_POPULATION_FIELDS = ["population", "POP", "POP2020", "P1_001N", "B01003_001E"]


@reader("census_places", "places", options=("population_field",))
def read_census_places(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Census places (cartographic boundary or TIGER PLACE polygons: GEOID, NAME; or the Gazetteer
    places table with INTPTLAT/INTPTLONG), one point per town at its interior point. Population
    comes from `population_field` or a known population column when the file has one."""
    from .helpers import read_points

    path = source.path
    gdf = read_points(source, area, ["INTPTLONG", "INTPTLON", "longitude", "lon"],
                      ["INTPTLAT", "latitude", "lat"])
    gdf = drop_off_the_map(gdf, path)  # before point_on_surface: a NaN vertex would stop GEOS
    cols = gdf.columns
    pop_option = source.options.get("population_field")
    pop_field = require_field(cols, pop_option, path) if pop_option else \
        find_field(cols, PLACE_POPULATION_FIELDS)
    population = parse_number(gdf[pop_field]) if pop_field else None
    geoms = gdf.geometry.values
    points = gpd.GeoSeries(shapely.point_on_surface(geoms), index=gdf.index, crs=gdf.crs)
    gdf = gdf.set_geometry(points)
    columns = {"geoid": clean_text(gdf[require_field(cols, ["GEOID", "GEOIDFQ", "PLACEFP"], path)]),
               "name": clean_text(gdf[require_field(cols, ["NAME", "NAMELSAD", "name"], path)]),
               "population": population}
    return to_canonical(gdf, "places", columns, path, area)
