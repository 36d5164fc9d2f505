"""PAD-US geodatabases: which feature classes a file holds, found by their published names, which
of them a layer reads, and the domain tables that decode PAD-US codes into words.

USGS publishes PAD-US as one geodatabase per state and one national one, each holding feature
classes named after the inventory's parts (PAD-US 4.0 Standard and Data Manual, "Feature
Classes"; doi:10.5066/P96WBCHS): `PADUS4_0Fee_State_AZ` (ownership parcels),
`PADUS4_0Designation_State_AZ` (designations such as wilderness or ACECs, overlapping the fee
parcels), `PADUS4_0Proclamation_State_AZ` (approved or proclaimed outer boundaries: national
forests, parks, refuges, military installations, tribal lands), `PADUS4_0Easement_State_AZ`
(conservation easements) and a combined class (`PADUS4_0Combined_...`, in 4.1 state files
`PADUS4_1Comb_DOD_Trib_NGP_Fee_Desig_Ease_State_AZ`), beside lookup tables such as
`Agency_Name` and `Designation_Type` (fields Code and Dom).
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyogrio

from ..errors import ConfigError, DataError
from .registry import LayerSource
from .vector import gdal_name, vector_file

log = logging.getLogger(__name__)

#: The PAD-US feature classes a layer can name in `options.feature_classes`.
FEATURE_CLASSES = ("fee", "designation", "proclamation", "easement", "combined", "marine")
#: What is read when a config names no feature class: the first of these the file holds (the fee
#: parcels are the land itself; the combined class holds them with everything else).
DEFAULT_FEATURE_CLASSES = ("fee", "combined")
#: Reported as absent when a file lacks them (the marine class is in the national file only).
REPORTED_FEATURE_CLASSES = ("fee", "designation", "proclamation", "easement", "combined")

#: A published name: PADUS<major>_<minor> then the class (`Comb` for the 4.1 state combined class).
_PUBLISHED = re.compile(r"^PADUS\d+_\d+(?P<kind>Fee|Designation|Proclamation|Easement|Marine|Comb)",
                        re.IGNORECASE)
#: Words that name a class in a layer of another name (an export, a re-publication's file name).
_WORDS = {"fee": "fee", "designation": "designation", "desig": "designation",
          "proclamation": "proclamation", "easement": "easement", "ease": "easement",
          "marine": "marine", "combined": "combined", "comb": "combined"}

#: Lookup tables of a PAD-US geodatabase that decode the codes sitescore shows.
AGENCY_TABLE = "Agency_Name"
DESIGNATION_TABLE = "Designation_Type"


def feature_class_of(layer_name: str) -> str | None:
    """The PAD-US feature class a layer's name says it is (`fee`, `designation`, ...), or None.

    A published name decides by its first word after the version (the national combined class,
    `PADUS4_0Combined_Proclamation_Marine_Fee_Designation_Easement`, names every part after it);
    any other name by the first class word it holds, a combined one first."""
    hit = _PUBLISHED.match(layer_name)
    if hit:
        kind = hit.group("kind").lower()
        return "combined" if kind == "comb" else kind
    words = [_WORDS[w] for w in re.split(r"[^a-z]+", layer_name.lower()) if w in _WORDS]
    if "combined" in words:
        return "combined"
    return words[0] if words else None


@dataclass(frozen=True)
class FeatureClassPick:
    """Which layers of the file a PAD-US layer reads, and which PAD-US classes the file lacks."""

    layers: tuple[str | None, ...]       # layer names in the order read (None: the file's only one)
    absent: tuple[str, ...] = ()         # PAD-US feature classes the file does not hold
    tables: tuple[str, ...] = ()         # its tables without geometry (the domain tables)
    held: Mapping[str, str] = field(default_factory=dict)  # class -> layer name in the file


def _requested(source: LayerSource) -> list[str] | None:
    """`options.feature_classes` as a list of known class names (one name may stand alone)."""
    value = source.options.get("feature_classes")
    key = f"layers.{source.name}.options.feature_classes"
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"must be a PAD-US feature class or a list of them "
                          f"({', '.join(FEATURE_CLASSES)}), got {value!r}", key=key)
    out = []
    for item in items:
        kind = item.strip().lower()
        if kind not in FEATURE_CLASSES:
            near = difflib.get_close_matches(kind, FEATURE_CLASSES, n=1)
            hint = f"did you mean '{near[0]}'? " if near else ""
            raise ConfigError(f"'{item}' is not a PAD-US feature class; {hint}known: "
                              f"{', '.join(FEATURE_CLASSES)}", key=key)
        if kind not in out:
            out.append(kind)
    return out


def _file_layers(path: Path) -> tuple[list[str], list[str]] | None:
    """The file's layers with geometry and its tables, or None when GDAL cannot list them (the
    read that follows reports why, with the proper error)."""
    name = gdal_name(vector_file(path))  # a folder holding no dataset: its DataError
    try:
        listed = pyogrio.list_layers(name)
    except Exception:  # unreadable: open_vector says so, with the proper error
        return None
    layers = [str(n) for n, g in listed if g is not None]
    tables = [str(n) for n, g in listed if g is None]
    return layers, tables


def pick_feature_classes(source: LayerSource) -> FeatureClassPick:
    """The feature classes a PAD-US layer reads: those its `feature_classes` option names (each
    must be in the file), else the layer the config names, else the Fee class, else the
    Combined one; a file of one layer is read as it is. A multi-layer PAD-US file holding
    neither Fee nor Combined (a partial state download) must say which classes it wants."""
    requested = _requested(source)
    key = f"layers.{source.name}.options.feature_classes"
    if source.postgis is not None:
        if requested is not None:
            raise ConfigError("a PostGIS table is one layer: leave out feature_classes", key=key)
        return FeatureClassPick((None,))
    if requested is not None and source.layer is not None:
        raise ConfigError(f"the layer names both a file layer ('{source.layer}') and "
                          "feature_classes: give one of them", key=key)
    listed = _file_layers(source.path)
    if listed is None:
        return FeatureClassPick((source.layer,))
    layers, tables = listed
    held: dict[str, str] = {}
    for name in layers:
        kind = feature_class_of(name)
        if kind is not None:
            held.setdefault(kind, name)
    absent = tuple(k for k in REPORTED_FEATURE_CLASSES if k not in held)
    if source.layer is not None:
        return FeatureClassPick((source.layer,), absent, tuple(tables), held)
    if requested is not None:
        missing = [k for k in requested if k not in held]
        if missing:
            holds = ", ".join(f"{k} ({n})" for k, n in held.items()) or \
                f"none by PAD-US's names; its layers: {', '.join(layers) or 'none'}"
            raise DataError(f"has no PAD-US {' or '.join(missing)} feature class (it holds: "
                            f"{holds}); change layers.{source.name}.options.feature_classes",
                            file=source.path)
        return FeatureClassPick(tuple(held[k] for k in requested), absent, tuple(tables), held)
    if len(layers) <= 1:
        return FeatureClassPick((layers[0] if layers else None,), absent, tuple(tables), held)
    for kind in DEFAULT_FEATURE_CLASSES:
        if kind in held:
            return FeatureClassPick((held[kind],), absent, tuple(tables), held)
    if held:
        raise DataError(f"holds no PAD-US Fee or Combined feature class (only "
                        f"{', '.join(f'{k} ({n})' for k, n in held.items())}); name the ones to "
                        f"read in layers.{source.name}.options.feature_classes, e.g. "
                        f"[{next(iter(held))}]", file=source.path)
    return FeatureClassPick((None,), absent, tuple(tables), held)  # GDAL's first layer


def _label(text: object) -> str | None:
    """A domain's description with its stray spaces and line breaks removed."""
    if not isinstance(text, str):
        return None
    cleaned = " ".join(text.split())
    return cleaned or None


def read_domain(path: Path, table: str, tables: tuple[str, ...]) -> dict[str, str]:
    """Code -> description of one PAD-US lookup table (fields Code, Dom), empty when the file has
    no such table or the table lacks those fields (the reader then falls back to the `d_*`
    fields and sitescore's own designation table)."""
    if table not in tables:
        return {}
    try:
        frame = pyogrio.read_dataframe(gdal_name(vector_file(path)), layer=table,
                                       read_geometry=False)
    except Exception as exc:  # a damaged lookup table: the codes stay undecoded, logged
        log.info("%s: lookup table %s not read (%s)", path, table, exc)
        return {}
    columns = {str(c).lower(): c for c in frame.columns}
    if "code" not in columns or "dom" not in columns:
        log.info("%s: lookup table %s has no Code and Dom fields", path, table)
        return {}
    out: dict[str, str] = {}
    for code, dom in zip(frame[columns["code"]], frame[columns["dom"]], strict=True):
        c, d = _label(code), _label(dom)
        if c is not None and d is not None:
            out.setdefault(c.upper(), d)
    return out


def decode(codes: pd.Series, domain: Mapping[str, str],
           fallback: pd.Series | None = None) -> pd.Series:
    """Each code's description from a lookup table, else the row's own decoded field (PAD-US's
    `d_*` twins), else None."""
    labels = [domain.get(c.upper()) if isinstance(c, str) else None for c in codes]
    if fallback is not None:
        labels = [lab if lab is not None else _label(f)
                  for lab, f in zip(labels, fallback, strict=True)]
    return pd.Series(labels, index=codes.index, dtype=object)
