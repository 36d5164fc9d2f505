"""Federal land readers: USGS PAD-US and the BLM Surface Management Agency (SMA) layer.

Both end as the canonical `federal_land` layer. Designations use PAD-US `Des_Tp` codes; where a
file carries none (the potamap PAD-US re-publications, every SMA file) the code is derived from
the unit name (or SMA unit type) with `designation_from_name`, which `boundaries` shares.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from ..config.models import designation_table
from ..errors import ConfigError, DataError
from ..schema import STATE_FIPS, STATE_NAMES
from ..study_area import StudyArea
from .canonical import to_canonical
from .helpers import text as clean_text
from .padus_gdb import (
    AGENCY_TABLE,
    DESIGNATION_TABLE,
    FeatureClassPick,
    decode,
    pick_feature_classes,
    read_domain,
)
from .registry import LayerSource, reader
from .tables import find_field, parse_number, require_field
from .vector import gdal_name, open_source, vector_file

log = logging.getLogger(__name__)

# --- designations ------------------------------------------------------------------------
# What each code means for the exclusions (class, default, buffer, source) is the shipped table
# data/designations.yaml; every code derived here is one of its codes (tested).

#: Keyword -> PAD-US `Des_Tp` code, matched case-insensitively on whole words, most specific
#: first (the first hit wins). Codes are PAD-US's own designation-type domain (PAD-US 3.0/4.0:
#: WSA Wilderness Study Area, WA Wilderness Area, NM National Monument or Landmark, NCA
#: Conservation Area, NWR National Wildlife Refuge, NF National Forest, NG National Grassland,
#: NRA National Recreation Area, NP National Park, NLS National Lakeshore or Seashore, NT
#: National Scenic or Historic Trail, WSR Wild and Scenic River, HCA Historic or Cultural Area,
#: RNA Research Natural Area, ACEC Area of Critical Environmental Concern, IRA Inventoried
#: Roadless Area, MIL Military Land, TRIBL Native American Land, SP State Park, SREC State
#: Recreation Area, SHCA State Historic or Cultural Area, SCA State Conservation Area, SW State
#: Wilderness, SRMA State Resource Management Area). Note that PAD-US `SW` is *State
#: Wilderness*: state wildlife areas are resource management areas (SRMA).
DESIGNATION_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("wilderness study area", "WSA"),
    ("state wilderness", "SW"),
    ("wilderness", "WA"),
    ("national monument", "NM"),
    ("national conservation area", "NCA"),
    ("national wildlife refuge", "NWR"),
    ("national grassland", "NG"),
    ("national forest", "NF"),
    ("national recreation area", "NRA"),
    ("national historical park", "HCA"),
    ("national historic park", "HCA"),
    ("national historic site", "HCA"),
    ("national battlefield", "HCA"),
    ("national military park", "HCA"),
    ("national memorial", "HCA"),
    ("national historical reserve", "HCA"),
    ("national park", "NP"),
    # PAD-US has no code of its own for NPS preserves and reserves: they are park units (NP)
    ("national preserve", "NP"),
    ("national reserve", "NP"),
    ("national lakeshore", "NLS"),
    ("national seashore", "NLS"),
    ("national scenic trail", "NT"),
    ("national historic trail", "NT"),
    ("wild and scenic river", "WSR"),
    ("national scenic river", "WSR"),
    ("wild river", "WSR"),
    ("research natural area", "RNA"),
    ("area of critical environmental concern", "ACEC"),
    ("inventoried roadless area", "IRA"),
    ("military reservation", "MIL"),
    ("air force base", "MIL"),
    ("air force station", "MIL"),
    ("army base", "MIL"),
    ("army depot", "MIL"),
    ("army training installation", "MIL"),
    ("marine corps", "MIL"),
    ("naval", "MIL"),
    ("proving ground", "MIL"),
    ("arsenal", "MIL"),
    ("american indian reservation", "TRIBL"),
    ("indian reservation", "TRIBL"),
    ("pueblo of", "TRIBL"),
    ("state recreation area", "SREC"),
    ("state historical park", "SHCA"),
    ("state historic park", "SHCA"),
    ("state historic site", "SHCA"),
    ("state historical site", "SHCA"),
    ("state park", "SP"),
    ("state conservation area", "SCA"),
    ("state wildlife area", "SRMA"),
    ("wildlife management area", "SRMA"),
    ("wildlife area", "SRMA"),
    ("state habitat area", "SRMA"),
    ("state forest", "SRMA"),
)

_KEYWORD_PATTERNS = [(re.compile(rf"\b{re.escape(k)}\b", re.IGNORECASE), code)
                     for k, code in DESIGNATION_KEYWORDS]


def designation_for(name: object) -> str | None:
    """The PAD-US `Des_Tp` code a unit's name implies, or None when no keyword matches."""
    if not isinstance(name, str) or not name.strip():
        return None
    text = " ".join(name.split())
    for pattern, code in _KEYWORD_PATTERNS:
        if pattern.search(text):
            return code
    return None


def designation_from_name(names: pd.Series) -> pd.Series:
    """`designation_for` over a column of names (None where nothing matches)."""
    return pd.Series([designation_for(n) for n in names], index=names.index, dtype=object)


# --- shared cell helpers -----------------------------------------------------------------

def _optional(df: pd.DataFrame, names: Iterable[str]) -> pd.Series:
    hit = find_field(df.columns, names)
    if hit is None:
        return pd.Series([None] * len(df), index=df.index, dtype=object)
    return df[hit]


_NAME_TO_CODE = {v.upper(): k for k, v in STATE_NAMES.items()}


def state_codes(values: pd.Series, fallback: str | None = None) -> pd.Series:
    """Two-letter postal codes from codes or full state names; anything else (blank, BLM's 'ES'
    Eastern States office) becomes `fallback` (the configured `state` option), else None."""
    codes = [_state_code(v) for v in values]
    return pd.Series([c if c is not None else fallback for c in codes], index=values.index,
                     dtype=object)


def state_option(source: LayerSource) -> str | None:
    """Option `state` (code or name) for files that do not say which state a unit is in."""
    value = source.options.get("state")
    if value is None:
        return None
    code = _state_code(value)
    if code is None:
        raise ConfigError(f"not a US state or territory: {value!r}",
                          key=f"layers.{source.name}.options.state")
    return code


def _state_code(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.strip().upper()
    if v in STATE_FIPS:
        return v
    return _NAME_TO_CODE.get(v)


def _fill_designations(out: gpd.GeoDataFrame, also: Iterable[str] = ()) -> int:
    """Fill designations the file left blank (or gave as one of the generic codes `also`) from
    the unit name; returns how many were filled. A generic code stays where no name matches."""
    current = out["designation"]
    missing = current.isna() | current.isin(list(also))
    if not missing.any():
        return 0
    derived = designation_from_name(out.loc[missing, "unit_name"])
    found = derived.notna()
    out.loc[derived.index[found], "designation"] = derived[found]
    return int(found.sum())


def designation_labels(codes: pd.Series, domain: Mapping[str, str] | None = None) -> pd.Series:
    """Each `Des_Tp` code's name: from the file's Designation_Type lookup table, else from
    sitescore's designation table (the PAD-US 4.0 domain's own labels), else None."""
    table = designation_table()
    labels = decode(codes, domain or {})
    shipped = pd.Series([table[c].label if isinstance(c, str) and c in table else None
                         for c in codes], index=codes.index, dtype=object)
    return labels.where(labels.notna(), shipped)


def _pick_layer(source: LayerSource, preferences: Iterable[str]) -> str | None:
    """The configured layer, else, in a multi-layer GDB/GeoPackage, the first layer whose name
    matches a preference (BLM SMA: its SurfaceManagementAgency class)."""
    if source.layer is not None or source.postgis is not None:
        return source.layer
    try:
        layers = pyogrio.list_layers(gdal_name(vector_file(source.path)))
    except Exception:  # open_vector reports unreadable files with the proper DataError
        return None
    if len(layers) <= 1:
        return None
    names = [str(n) for n, _ in layers]
    for pref in preferences:
        for name in names:
            if re.search(pref, name, re.IGNORECASE):
                log.info("%s: reading layer %s of %d", source.path, name, len(names))
                return name
    return None


# --- PAD-US ------------------------------------------------------------------------------

_PADUS_FIELDS = {
    "unit_name": ["Unit_Nm", "NAME"],
    "own_type": ["Own_Type", "OWNTYPE"],
    "own_name": ["Own_Name", "OWNNAME"],
    "mang_type": ["Mang_Type", "MANTYPE"],
    "mang_name": ["Mang_Name", "MANNAME"],
    "designation": ["Des_Tp"],
    "gap_status": ["GAP_Sts"],
    "state": ["State_Nm", "STATE"],
    "gis_acres": ["GIS_Acres", "GIS_ACRES"],
}


@reader("padus", "federal_land", options=("state", "feature_classes"))
def read_padus(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """USGS PAD-US (a national or state geodatabase, zipped or not, GeoPackage, GeoJSON or
    shapefile), also the potamap re-publications with shortened field names (NAME, MANNAME, ...).

    Option `feature_classes` picks one or several of a geodatabase's classes by their published
    names (`[designation, proclamation]`); by default the Fee class, else the Combined one.
    `attrs` say which were read and which PAD-US classes the file lacks. Proclamation records
    (Des_Tp PROC, "Approved or Proclamation Boundary") take the designation their unit's name
    gives (a national park's proclaimed boundary is the park's), so exclusions see them. Codes
    are decoded from the file's lookup tables (Agency_Name, Designation_Type) where it has them."""
    path = source.path
    pick = pick_feature_classes(source)
    frames = [open_source(source, area, layer=name) for name in pick.layers]
    gdf = _joined(frames)
    cols = gdf.columns
    unit = require_field(cols, _PADUS_FIELDS["unit_name"], path)
    manager = require_field(cols, _PADUS_FIELDS["mang_name"], path)

    gap = parse_number(_optional(gdf, _PADUS_FIELDS["gap_status"]))
    gap = gap.where(gap.isin([1.0, 2.0, 3.0, 4.0]))
    mang_name = clean_text(gdf[manager])
    agencies = read_domain(path, AGENCY_TABLE, pick.tables)
    columns = {
        "unit_name": clean_text(gdf[unit]),
        "own_type": clean_text(_optional(gdf, _PADUS_FIELDS["own_type"])),
        "own_name": clean_text(_optional(gdf, _PADUS_FIELDS["own_name"])),
        "mang_type": clean_text(_optional(gdf, _PADUS_FIELDS["mang_type"])),
        "mang_name": mang_name,
        "designation": clean_text(_optional(gdf, _PADUS_FIELDS["designation"])).str.upper(),
        "gap_status": gap,
        "state": state_codes(_optional(gdf, _PADUS_FIELDS["state"]), state_option(source)),
        "gis_acres": parse_number(_optional(gdf, _PADUS_FIELDS["gis_acres"])),
        "agency_label": decode(mang_name, agencies, _optional(gdf, ["d_Mang_Name"])),
    }
    out = to_canonical(gdf, "federal_land", columns, path, area)
    out.attrs["designation_from_name"] = _fill_designations(out, also=("PROC",))
    out["designation_label"] = designation_labels(out["designation"],
                                                  read_domain(path, DESIGNATION_TABLE, pick.tables))
    _say_feature_classes(out, pick, frames, path)
    return out


def _joined(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """The feature classes read, one after another, in the first one's CRS."""
    if len(frames) == 1:
        return frames[0]
    crs = frames[0].crs
    same = [f if f.crs is None or crs is None or f.crs == crs else f.to_crs(crs) for f in frames]
    return gpd.GeoDataFrame(pd.concat(same, ignore_index=True), geometry=frames[0].geometry.name,
                            crs=crs)


def _say_feature_classes(out: gpd.GeoDataFrame, pick: FeatureClassPick,
                         frames: list[gpd.GeoDataFrame], path: object) -> None:
    """Which feature classes were read and which the file lacks, in `attrs` (the run manifest
    records them) and the log; with the agency codes' descriptions the map and report show."""
    read = [n for n in pick.layers if n is not None]
    if read:
        out.attrs["feature_classes"] = read
    if pick.held:
        out.attrs["feature_classes_absent"] = list(pick.absent)
        log.info("%s: read PAD-US %s; not in the file: %s", path, ", ".join(read) or "layer",
                 ", ".join(pick.absent) or "none")
    curved = [n or "layer" for n, f in zip(pick.layers, frames, strict=True)
              if f.attrs.get("curves_linearised")]
    if curved:
        out.attrs["curves_linearised"] = curved
    labels = out[["mang_name", "agency_label"]].dropna().drop_duplicates("mang_name")
    if len(labels):
        out.attrs["agency_labels"] = dict(sorted(zip(labels["mang_name"], labels["agency_label"],
                                                     strict=True)))


@reader("padus_units", "protected_areas", options=("feature_classes", "units"))
def read_padus_units(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Named PAD-US units as exclusion areas: the features of the chosen feature classes whose
    Unit_Nm is one of option `units` (every name must be found in the file), for land a study
    rules out by name where no designation code says why (an installation's live-fire ranges).
    Each keeps its name and Des_Tp; excluded whole, with the study's general buffer."""
    path = source.path
    key = f"layers.{source.name}.options.units"
    wanted = source.options.get("units")
    if not isinstance(wanted, list) or not wanted or not all(isinstance(u, str) and u.strip()
                                                             for u in wanted):
        raise ConfigError("must be a list of PAD-US unit names (Unit_Nm), e.g. "
                          "['Yuma Proving Ground']", key=key)
    pick = pick_feature_classes(source)
    gdf = _joined([open_source(source, area, layer=name) for name in pick.layers])
    names = clean_text(gdf[require_field(gdf.columns, _PADUS_FIELDS["unit_name"], path)])
    folded = names.map(lambda n: _folded(n) if isinstance(n, str) else None)
    missing = [u for u in wanted if _folded(u) not in set(folded.dropna())]
    if missing and area is not None:  # outside the study area, or not in the file at all?
        missing = [u for u in missing if _folded(u) not in _unit_names(source, pick)]
    if missing:
        everywhere = sorted(set(names.dropna()) | _unit_names(source, pick, folded=False))
        near = difflib.get_close_matches(missing[0], everywhere, n=1, cutoff=0.6)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise DataError(f"no unit named '{missing[0]}' in "
                        f"{', '.join(n or 'the file' for n in pick.layers)}{hint}",
                        file=path, field="Unit_Nm")
    keep = folded.isin({_folded(u) for u in wanted})
    gdf, names = gdf[keep], names[keep]
    designation = clean_text(_optional(gdf, _PADUS_FIELDS["designation"])).str.upper()
    out = to_canonical(gdf, "protected_areas", {"name": names, "designation": designation},
                       path, area)
    out.attrs["feature_classes"] = [n for n in pick.layers if n is not None]
    out.attrs["units"] = sorted(set(out["name"].dropna()))
    return out


def _folded(name: str) -> str:
    """A unit name compared without case or repeated spaces."""
    return " ".join(name.split()).casefold()


def _unit_names(source: LayerSource, pick: FeatureClassPick, folded: bool = True) -> set[str]:
    """Every unit name of the chosen feature classes, the study area aside (names only)."""
    if source.postgis is not None:
        return set()
    out: set[str] = set()
    for layer in pick.layers:
        table = pyogrio.read_dataframe(gdal_name(vector_file(source.path)), layer=layer,
                                       read_geometry=False)
        field = find_field(table.columns, _PADUS_FIELDS["unit_name"])
        if field is not None:
            out |= {_folded(n) if folded else n for n in clean_text(table[field]).dropna()}
    return out


# --- BLM Surface Management Agency --------------------------------------------------------

#: SMA ADMIN_AGENCY_CODE -> the PAD-US manager code the agency filter speaks, where the two
#: vocabularies differ (SMA domain SMA_DOM_ADMIN_AGENCY_CODE; older SMA editions used FS, BOR,
#: AF). The military services are one PAD-US manager (DOD). Other codes pass through.
SMA_TO_PADUS_AGENCY = {
    "FS": "USFS", "BOR": "USBR", "AF": "DOD", "USAF": "DOD", "ARMY": "DOD", "NAVY": "DOD",
    "USMC": "DOD", "ST": "OTHS", "LG": "UNKL", "UND": "UNK", "NTVALL": "TRIB", "NTVPIC": "TRIB",
}
#: SMA ADMIN_AGENCY_CODE -> PAD-US owner/manager type.
SMA_AGENCY_TYPE = {
    "BIA": "TRIB", "NTVALL": "TRIB", "NTVPIC": "TRIB",
    "ST": "STAT", "LG": "LOC", "PVT": "PVT", "UND": "UNK",
}
#: SMA ADMIN_DEPT_CODE values that are federal departments (SMA_DOM_ADMIN_DEPT_CODE).
SMA_FEDERAL_DEPTS = {"DHS", "DOC", "DOD", "DOE", "DOI", "DOJ", "DOT", "HHS", "HUD", "IA",
                     "OTHFE", "USDA", "VA"}


def _sma_type(agency: object, dept: object) -> str | None:
    a = agency if isinstance(agency, str) else None
    d = dept if isinstance(dept, str) else None
    if a in SMA_AGENCY_TYPE:
        return SMA_AGENCY_TYPE[a]
    if d in SMA_FEDERAL_DEPTS or (a is not None and d is None):
        return "FED"
    if d in SMA_AGENCY_TYPE:  # non-federal classes repeat their agency code as department
        return SMA_AGENCY_TYPE[d]
    return None if a is None else "UNK"


@reader("blm_sma", "federal_land", options=("state",))
def read_blm_sma(source: LayerSource, area: StudyArea | None) -> gpd.GeoDataFrame:
    """BLM Surface Management Agency polygons (national SMA_WM.gdb or a state SMA service
    export): who manages the surface. No protection status (gap_status NaN); `state` is the BLM
    state office (ADMIN_ST: 'NM' also covers OK, KS, TX; 'ES' Eastern States is no state and
    falls back to option `state`); gis_acres only where the file has GIS_ACRES (the national
    layer has none)."""
    path = source.path
    layer = _pick_layer(source, [r"^surfacemanagementagency$", r"surface.?management"])
    gdf = open_source(source, area, layer=layer)
    cols = gdf.columns
    agency_field = require_field(cols, "ADMIN_AGENCY_CODE", path)
    agency = clean_text(gdf[agency_field]).str.upper()
    dept = clean_text(_optional(gdf, ["ADMIN_DEPT_CODE"])).str.upper()
    agency_code = agency.map(lambda a: SMA_TO_PADUS_AGENCY.get(a, a) if isinstance(a, str)
                             else None)
    kind = pd.Series([_sma_type(a, d) for a, d in zip(agency, dept, strict=True)], index=gdf.index,
                     dtype=object)
    unit_type = clean_text(_optional(gdf, ["ADMIN_UNIT_TYPE"]))
    columns = {
        "unit_name": clean_text(_optional(gdf, ["ADMIN_UNIT_NAME"])),
        "own_type": kind,
        "own_name": agency_code,
        "mang_type": kind,
        "mang_name": agency_code,
        "designation": designation_from_name(unit_type),
        "gap_status": np.nan,
        "state": state_codes(_optional(gdf, ["ADMIN_ST"]), state_option(source)),
        "gis_acres": parse_number(_optional(gdf, ["GIS_ACRES", "GIS_Acres"])),
        "agency_label": None,   # SMA files carry agency codes only
    }
    out = to_canonical(gdf, "federal_land", columns, path, area)
    from_type = int(out["designation"].notna().sum())
    out.attrs["designation_from_name"] = from_type + _fill_designations(out)
    out["designation_label"] = designation_labels(out["designation"])
    return out
