"""Water readers: Natural Earth and NHD rivers, WRI Aqueduct baseline water stress.

Fabs and data centres use a lot of water, so a site wants a river nearby and low basin stress.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from ..errors import ConfigError
from ..study_area import StudyArea
from .helpers import each, field, finish, open_layer, option_list, optional_field, text
from .registry import LayerSource, reader
from .tables import parse_number
from .vector import open_source, vector_file

#: NHD flowline feature types (FType code -> the label NHDPlus V2 writes in its FTYPE field).
NHD_FTYPES: dict[int, str] = {
    334: "Connector",
    336: "CanalDitch",
    420: "UndergroundConduit",
    428: "Pipeline",
    460: "StreamRiver",
    558: "ArtificialPath",
    566: "Coastline",
}
_NHD_CODES = {label.lower(): code for code, label in NHD_FTYPES.items()}
#: Streams/rivers and the artificial paths that carry them through lakes.
NHD_DEFAULT_FTYPES = (460, 558)

#: Aqueduct writes -9999 where an indicator has no data.
AQUEDUCT_NODATA = (-9999,)
#: The Aqueduct 4.0 geodatabase layer with the annual baseline indicators.
AQUEDUCT_LAYER = "baseline_annual"


@reader("natural_earth_rivers", "rivers")
def read_natural_earth_rivers(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Natural Earth rivers + lake centrelines (the zipped shapefile read in place, or GeoJSON)."""
    gdf = open_layer(source, area)
    path = source.path
    return finish(gdf, "rivers", {
        "name": text(field(gdf, "name", path)),
        "feature_class": text(field(gdf, "featurecla", path)),
    }, source, area)


def _ftype_codes(values: pd.Series) -> pd.Series:
    """NHD feature types as codes, whether written as numbers (NHD: 460) or labels
    (NHDPlus V2: 'StreamRiver')."""
    numbers = parse_number(values)
    labels = each(text(values), lambda v: _NHD_CODES.get(v.replace(" ", "").lower())
                  if isinstance(v, str) else None)
    return numbers.where(numbers.notna(), pd.to_numeric(labels, errors="coerce"))


@reader("nhd_flowlines", "rivers", options=("ftypes",))
def read_nhd_flowlines(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """USGS NHD / NHDPlus flowlines, kept by feature type (option `ftypes`, codes or labels;
    default stream/river and artificial path)."""
    gdf = open_layer(source, area)
    path = source.path
    codes = _ftype_codes(field(gdf, ["FType", "FTYPE"], path))
    wanted = option_list(source, "ftypes", NHD_DEFAULT_FTYPES)
    if wanted is None:
        keep = pd.Series(True, index=gdf.index)
    else:
        wanted_codes = _ftype_codes(pd.Series(wanted, dtype=object))
        if wanted_codes.isna().any():
            bad = [w for w, c in zip(wanted, wanted_codes, strict=True) if pd.isna(c)]
            raise ConfigError(f"unknown NHD feature type(s) {bad}; known: "
                              f"{', '.join(f'{c} {n}' for c, n in NHD_FTYPES.items())}",
                              key=f"layers.{source.name}.options.ftypes")
        keep = codes.isin(set(wanted_codes))
    gdf, codes = gdf.loc[keep], codes.loc[keep]
    return finish(gdf, "rivers", {
        "name": text(field(gdf, ["GNIS_NAME", "GNIS_Name"], path)),
        "feature_class": each(codes, lambda c: NHD_FTYPES.get(int(c)) if pd.notna(c) else None),
    }, source, area, excluded_by_ftype=int((~keep).sum()))


def _aqueduct_layer(path: Path) -> str | None:
    """'baseline_annual' when a multi-layer file has it, so the config need not name it."""
    try:
        names = [str(n) for n in pyogrio.list_layers(str(vector_file(path)))[:, 0]]
    except Exception:  # unreadable or missing: open_vector reports it properly
        return None
    return AQUEDUCT_LAYER if AQUEDUCT_LAYER in names else None


@reader("aqueduct_baseline", "water_stress")
def read_aqueduct_baseline(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """WRI Aqueduct 4.0 baseline annual water stress (the 'baseline_annual' layer of the GDB or a
    GeoPackage made from it, or any vector file with its fields); -9999 (no data) becomes NaN."""
    layer = source.layer or (None if source.postgis is not None else _aqueduct_layer(source.path))
    gdf = open_source(source, area, layer=layer)
    path = source.path
    return finish(gdf, "water_stress", {
        "bws_score": parse_number(field(gdf, "bws_score", path), AQUEDUCT_NODATA),
        "bws_cat": parse_number(field(gdf, "bws_cat", path), AQUEDUCT_NODATA),
        "bws_label": text(optional_field(gdf, "bws_label")),
    }, source, area)
