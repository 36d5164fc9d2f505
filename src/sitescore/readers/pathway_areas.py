"""Land a user knows more about: polygons that override or add a land pathway.

BLM lands identified for disposal in a Resource Management Plan, withdrawals, leases already let,
solar energy zones and designated leasing areas are not in PAD-US or SMA; a planner who has them
(a file or a PostGIS table) gives them as a `pathway_areas` layer. Either the file says the
instrument per polygon (a field), or the options give one for the whole layer (a published
solar-energy-zone layer is all `right_of_way` land).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..study_area import StudyArea
from .canonical import to_canonical
from .helpers import text as clean_text
from .registry import LayerSource, reader
from .tables import find_field, parse_number
from .vector import open_source

MODES = ("override", "add")
NAME_FIELDS = ["name", "NAME", "Name", "UNIT_NAME", "Unit_Nm", "SEZ_NAME", "AREA_NAME"]


def _field_or_constant(gdf: gpd.GeoDataFrame, source: LayerSource, option: str,
                       default_fields: list[str], default: object = None) -> pd.Series:
    """An option naming a field of the file, or one value for every polygon; without the option,
    the first of `default_fields` the file has, else `default`."""
    value = source.options.get(option)
    key = f"layers.{source.name}.options.{option}"
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"must be a field name or one value for every polygon, got {value!r}",
                          key=key)
    hit = find_field(gdf.columns, [value] if value else default_fields)
    if hit is not None:
        return clean_text(gdf[hit])
    return pd.Series([value if value is not None else default] * len(gdf), index=gdf.index,
                     dtype=object)


def _months_option(source: LayerSource) -> tuple[float, float] | None:
    value = source.options.get("months")
    if value is None:
        return None
    key = f"layers.{source.name}.options.months"
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"must be [low, high] in months, got {value!r}", key=key)
    low, high = float(value[0]), float(value[1])
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high < low:
        raise ConfigError(f"must be [low, high] with 0 <= low <= high, got {value!r}", key=key)
    return low, high


@reader("pathway_areas", "pathway_areas",
        options=("pathway", "mode", "name_field", "months", "source"))
def read_pathway_areas(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Polygons with a land-pathway instrument each (fields `pathway`, `mode` override|add,
    `name`, `months_low`, `months_high`, `source`; options give a field name or one value for the
    whole layer, `months: [low, high]` one range). A polygon without an instrument, a negative or
    reversed month range ends the run naming the file and row."""
    path = source.path
    gdf = open_source(source, area)
    pathway = _field_or_constant(gdf, source, "pathway", ["pathway", "PATHWAY"])
    mode = _field_or_constant(gdf, source, "mode", ["mode", "MODE"], "override").str.lower()
    name = _field_or_constant(gdf, source, "name_field", NAME_FIELDS, source.name)
    document = _field_or_constant(gdf, source, "source", ["source", "SOURCE"], None)
    months = _months_option(source)
    lows, highs = (pd.Series([months[i]] * len(gdf), index=gdf.index, dtype=float)
                   if months else parse_number(_field_or_constant(gdf, source, f"months_{end}",
                                                                  [f"months_{end}"], None))
                   for i, end in enumerate(("low", "high")))
    for i, (pw, md, lo, hi) in enumerate(zip(pathway, mode, lows, highs, strict=True)):
        row = f"row {i + 1}"
        if not isinstance(pw, str) or not pw:
            raise DataError(f"{row} has no pathway instrument (give a `pathway` field or "
                            "options.pathway)", file=path, field="pathway")
        if md not in MODES:
            raise DataError(f"{row}: mode {md!r} is not one of {', '.join(MODES)}", file=path,
                            field="mode")
        if (np.isfinite(lo) and lo < 0) or (np.isfinite(hi) and hi < 0):
            raise DataError(f"{row}: months must not be negative ({lo:g}, {hi:g})", file=path,
                            field="months_low" if lo < 0 else "months_high")
        if np.isfinite(lo) != np.isfinite(hi) or (np.isfinite(lo) and lo > hi):
            raise DataError(f"{row}: months_low and months_high must both be given, low <= high "
                            f"({lo:g}, {hi:g})", file=path, field="months_low")
    columns = {"name": name, "pathway": pathway.str.lower(), "mode": mode,
               "months_low": lows, "months_high": highs, "source": document,
               "row": np.arange(1, len(gdf) + 1)}
    return to_canonical(gdf, "pathway_areas", columns, path, area)
