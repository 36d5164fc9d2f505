"""HIFLD transmission lines and substations of the demo region."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import LineString, MultiLineString, Point

from .helpers import (
    _densify,
    _epoch_ms,
    _feature,
    _jitter,
    _mercator_length,
    _r6,
    _write_geojson,
)
from .people import _county_fips_at, _county_name_at
from .region import STATE, STATE_FIPS


@dataclass
class _Sub:
    name: str
    lon: float
    lat: float
    max_kv: float
    min_kv: float
    kind: str = "SUBSTATION"
    status: str = "IN SERVICE"
    city: str = "JUNIPER FLATS"


@dataclass
class _Line:
    kv: float
    sub_1: str
    sub_2: str
    geom: Any
    status: str = "IN SERVICE"
    owner: str = "JUNIPER VALLEY ELECTRIC CO"
    kind: str = "AC; OVERHEAD"


_SUBSTATIONS = [
    _Sub("MESA TRAIL", -111.86, 35.44, 500, 345, city="RED MESA"),
    _Sub("BASIN", -112.58, 35.02, 500, 230, city="NOT AVAILABLE"),
    _Sub("SANDSTONE", -112.93, 34.80, 500, 500, city="SANDSTONE"),
    _Sub("JUNIPER", -112.32, 35.24, 345, 115),
    _Sub("WESTGATE", -112.98, 35.31, 345, 230, city="WESTGATE"),
    _Sub("EASTGATE", -111.82, 35.29, 345, 115, city="NOT AVAILABLE"),
    _Sub("CHOLLA DAM", -112.15, 35.00, 230, 69, city="CHOLLA"),
    _Sub("CHOLLA BASIN GEN", -112.63, 34.97, 230, 230, city="NOT AVAILABLE"),
    _Sub("NORTH JUNIPER", -112.30, 35.33, 115, 69),
    _Sub("SOUTH JUNIPER", -112.35, 35.12, 115, 69),
    _Sub("RIMROCK", -112.05, 35.12, 138, 69, city="RIMROCK"),
    _Sub("SADDLE", -112.75, 35.20, 345, 69, city="SADDLE"),
    _Sub("DRY FORK", -112.45, 34.75, 69, 69, city="DRY FORK"),
    _Sub("SUNFLAT SOLAR", -112.45, 34.93, 230, 34.5, city="NOT AVAILABLE"),
    _Sub("MESQUITE SOLAR", -112.25, 34.90, 115, 34.5, city="NOT AVAILABLE"),
    _Sub("TAP201", -112.20, 35.20, 115, 115, kind="TAP"),
    _Sub("UNKNOWN308812", -112.70, 34.70, -999999, -999999, status="NOT AVAILABLE",
         city="NOT AVAILABLE"),
    _Sub("OAK SPRING", -112.90, 35.05, 69, 69, city="NOT AVAILABLE"),
    _Sub("RED MESA WIND", -112.02, 35.36, 138, 34.5, city="NOT AVAILABLE"),
    _Sub("UNKNOWN308815", -111.95, 34.70, -999999, -999999, status="NOT AVAILABLE",
         city="NOT AVAILABLE"),
]


def _grid(rng: np.random.Generator) -> tuple[list[_Sub], list[_Line]]:
    """Substations and the lines between them (line ends sit exactly on their substations)."""
    at = {s.name: (s.lon, s.lat) for s in _SUBSTATIONS}

    def line(kv: float, a: str, b: str, via: Iterable[tuple[float, float]] = (),
             end: tuple[float, float] | None = None, **kw: Any) -> _Line:
        pts = [at[a], *via, end if end is not None else at[b]]
        return _Line(kv, a, b, LineString(_densify(_jitter(rng, pts), rng, 0.03, 0.001)), **kw)

    wapa = "WESTERN AREA POWER ADMINISTRATION"
    coop = "SOUTHWEST TRANSMISSION COOPERATIVE"
    lines = [
        line(500, "MESA TRAIL", "BASIN", [(-112.10, 35.30), (-112.35, 35.15)], owner=wapa),
        line(500, "BASIN", "SANDSTONE", [(-112.75, 34.90)], owner=wapa),
        line(500, "SANDSTONE", "UNKNOWN308830", end=(-113.06, 34.70), owner=wapa),
        line(500, "MESA TRAIL", "NOT AVAILABLE", end=(-111.74, 35.53), owner=wapa),
        line(345, "WESTGATE", "SADDLE", [(-112.86, 35.26)]),
        line(345, "SADDLE", "JUNIPER", [(-112.55, 35.22)]),
        line(345, "JUNIPER", "EASTGATE", [(-112.05, 35.262)]),
        line(345, "EASTGATE", "MESA TRAIL", [(-111.84, 35.36)]),
        line(345, "WESTGATE", "UNKNOWN308831", end=(-113.06, 35.33)),
        line(230, "BASIN", "CHOLLA BASIN GEN"),
        line(230, "BASIN", "SUNFLAT SOLAR", [(-112.52, 34.97)]),
        line(230, "BASIN", "SADDLE", [(-112.66, 35.12)]),
        line(230, "CHOLLA DAM", "JUNIPER", [(-112.22, 35.10)], owner="CHOLLA POWER AUTHORITY"),
        line(230, "WESTGATE", "UNKNOWN308832", end=(-113.06, 35.45)),
        line(230, "SUNFLAT SOLAR", "MESQUITE SOLAR", [(-112.35, 34.90)],
             status="UNDER CONSTRUCTION", owner="SUNFLAT SOLAR LLC"),
        line(138, "RIMROCK", "RED MESA WIND", [(-112.04, 35.25)], owner=coop),
        line(138, "RIMROCK", "CHOLLA DAM", owner=coop),
        line(138, "RIMROCK", "TAP201", owner=coop),
        line(115, "JUNIPER", "NORTH JUNIPER"),
        line(115, "JUNIPER", "SOUTH JUNIPER", [(-112.34, 35.18)]),
        line(115, "JUNIPER", "TAP201", kind="AC; UNDERGROUND"),
        line(115, "SOUTH JUNIPER", "MESQUITE SOLAR", [(-112.30, 35.00)]),
        line(115, "EASTGATE", "TAP201", [(-112.00, 35.22)], owner=coop),
        line(69, "NORTH JUNIPER", "UNKNOWN308833", end=(-112.45, 35.56)),
        line(69, "SOUTH JUNIPER", "DRY FORK", [(-112.40, 34.95), (-112.44, 34.85)], owner=coop),
        line(69, "SADDLE", "OAK SPRING", [(-112.85, 35.12)], owner=coop),
        line(-999999, "CHOLLA DAM", "UNKNOWN308815", [(-112.05, 34.85)],
             status="NOT AVAILABLE", owner="NOT AVAILABLE", kind="NOT AVAILABLE"),
        line(-999999, "DRY FORK", "UNKNOWN308812", [(-112.58, 34.72)],
             status="NOT AVAILABLE", owner="NOT AVAILABLE", kind="NOT AVAILABLE"),
    ]
    # an unknown-voltage line coming in from outside the region, south-east
    lines.append(_Line(-999999, "NOT AVAILABLE", "UNKNOWN308815", LineString(_densify(
        [(-112.02, 34.52), (-111.98, 34.62), at["UNKNOWN308815"]], rng, 0.03, 0.001)),
        status="NOT AVAILABLE", owner="NOT AVAILABLE", kind="NOT AVAILABLE"))
    # a two-part 69 kV feeder (MultiLineString, as HIFLD has)
    oak = at["OAK SPRING"]
    lines.append(_Line(69, "OAK SPRING", "TAP308840", MultiLineString([
        _densify([oak, (-112.95, 34.98)], rng, 0.03, 0.001),
        _densify([oak, (-112.84, 35.00)], rng, 0.03, 0.001)]), owner=coop))
    return _SUBSTATIONS, lines


def _volt_class(kv: float) -> str:
    if kv <= 0:
        return "NOT AVAILABLE"
    if kv < 100:
        return "UNDER 100"
    if kv <= 161:
        return "100-161"
    if kv <= 287:
        return "220-287"
    if kv <= 345:
        return "345"
    if kv <= 500:
        return "500"
    return "735 AND ABOVE"


def _write_transmission(path: Path, lines: list[_Line]) -> None:
    features = []
    for i, ln in enumerate(lines):
        unknown = ln.kv < 0
        features.append(_feature({
            "OBJECTID": 1000 + i,
            "ID": str(140800 + 37 * i),
            "TYPE": ln.kind,
            "STATUS": ln.status,
            "NAICS_CODE": "221121",
            "NAICS_DESC": "ELECTRIC BULK POWER TRANSMISSION AND CONTROL",
            "SOURCE": "IMAGERY" if not unknown else "OpenStreetMap",
            "SOURCEDATE": _epoch_ms(2014 + i % 6, 1 + (i * 5) % 12, 1 + (i * 7) % 27),
            "VAL_METHOD": "IMAGERY" if not unknown else "UNVERIFIED",
            "VAL_DATE": _epoch_ms(2019 + i % 3, 1 + (i * 3) % 12, 1 + (i * 11) % 27),
            "OWNER": ln.owner,
            "VOLTAGE": float(ln.kv),
            "VOLT_CLASS": _volt_class(ln.kv),
            "INFERRED": "Y" if unknown or ln.kv == 69 else "N",
            "SUB_1": ln.sub_1,
            "SUB_2": ln.sub_2,
            "SHAPE__Len": round(_mercator_length(ln.geom), 6),
        }, ln.geom))
    _write_geojson(path, "Electric_Power_Transmission_Lines", features)


def _write_substations(path: Path, subs: list[_Sub], lines: list[_Line]) -> None:
    features = []
    for i, s in enumerate(subs):
        n_lines = sum((ln.sub_1 == s.name) + (ln.sub_2 == s.name) for ln in lines)
        features.append(_feature({
            "OBJECTID": 500 + i,
            "ID": str(308800 + 3 * i) if not s.name.startswith("UNKNOWN") else s.name[7:],
            "NAME": s.name,
            "CITY": s.city,
            "STATE": STATE,
            "ZIP": "NOT AVAILABLE",
            "TYPE": s.kind,
            "STATUS": s.status,
            "COUNTY": _county_name_at(s.lon, s.lat).upper(),
            "COUNTYFIPS": STATE_FIPS + _county_fips_at(s.lon, s.lat),
            "COUNTRY": "USA",
            "LATITUDE": _r6(s.lat),
            "LONGITUDE": _r6(s.lon),
            "NAICS_CODE": "221121",
            "NAICS_DESC": "ELECTRIC BULK POWER TRANSMISSION AND CONTROL",
            "SOURCE": "IMAGERY, EIA 860",
            "SOURCEDATE": _epoch_ms(2016 + i % 4, 1 + (i * 7) % 12, 1 + (i * 5) % 27),
            "VAL_METHOD": "IMAGERY" if s.max_kv > 0 else "UNVERIFIED",
            "VAL_DATE": _epoch_ms(2020, 1 + (i * 3) % 12, 1 + (i * 13) % 27),
            "LINES": int(n_lines),
            "MAX_VOLT": float(s.max_kv),
            "MIN_VOLT": float(s.min_kv),
            "MAX_INFER": "N" if s.max_kv > 0 else "Y",
            "MIN_INFER": "N" if s.min_kv > 0 else "Y",
        }, Point(s.lon, s.lat)))
    _write_geojson(path, "Electric_Substations", features)
