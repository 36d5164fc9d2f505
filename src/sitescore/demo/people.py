"""People: Census counties with their ACS and BLS LAUS tables, and Census places (towns).
The county polygons also answer 'which county is this point in' for the other layers."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Point, Polygon, box

from .helpers import _feature, _partition, _poly, _write_csv, _write_geojson
from .region import _GEOD, FILES, STATE, STATE_FIPS, STATE_NAME

# ---------------------------------------------------------------------------------------------
# counties with ACS and LAUS tables
# ---------------------------------------------------------------------------------------------


# county FIPS, name, population, share of people in the labour force, share with a degree,
# manufacturing share of the employed
_COUNTIES = [
    ("031", "Juniper", 238_400, 0.486, 0.31, 0.085),
    ("033", "Saddle", 18_200, 0.445, 0.17, 0.06),
    ("035", "Basin", 9_400, 0.436, 0.14, 0.05),
    ("037", "Sandstone", 26_500, 0.449, 0.18, 0.07),
    ("039", "Cholla", 12_800, 0.438, 0.16, 0.045),
    ("041", "Red Mesa", 41_700, 0.487, 0.27, 0.04),
]


@functools.lru_cache(maxsize=1)
def _county_shapes() -> list[tuple[str, str, Polygon]]:
    """Six counties tiling lon -113.4..-111.5, lat 34.3..35.9; Juniper County is centred on the
    city so its interior point (used by gravity access) sits near the people."""
    juniper = _poly((-112.55, 35.06), (-112.30, 35.05), (-112.02, 35.08), (-112.02, 35.44),
                    (-112.30, 35.45), (-112.55, 35.44))
    pieces = _partition(box(-113.4, 34.3, -111.5, 35.9), [
        ("031", juniper),
        ("039", box(-112.02, 34.3, -111.5, 35.18)),
        ("035", box(-112.55, 34.3, -112.02, 35.08)),
        ("041", box(-112.55, 35.18, -111.5, 35.9)),
        ("037", box(-113.4, 34.3, -112.55, 35.02)),
        ("033", None),
    ])
    names = {c[0]: c[1] for c in _COUNTIES}
    return [(fips, names[fips], geom) for fips, geom in pieces]


def _write_counties(out_dir: Path, rng: np.random.Generator) -> None:
    """The county polygons and the two tables joined to them, from one set of county figures
    so the ACS and LAUS numbers agree with each other the way the real ones roughly do."""
    stats = _county_stats(rng)
    _write_county_shapes(out_dir / FILES["counties"])
    _write_acs(out_dir / FILES["acs"], stats)
    _write_laus(out_dir / FILES["laus"], stats)


def _county_stats(rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    """Per county FIPS: people, labour force, employment, manufacturing and degrees (ACS) and
    labour force and unemployment (LAUS, a little off the ACS figures as in real data)."""
    stats = {}
    for fips, name, pop, lf_share, degree, manuf in _COUNTIES:
        population = round(pop * rng.uniform(0.98, 1.02))
        adults25 = int(population * 0.68)
        lf_acs = round(population * lf_share)
        unemployed = round(lf_acs * rng.uniform(0.035, 0.075))
        employed = lf_acs - unemployed
        manufacturing = round(employed * manuf)
        bachelors = round(adults25 * degree)
        lf_laus = round(lf_acs * rng.uniform(0.99, 1.04))
        unemp_laus = round(lf_laus * rng.uniform(0.032, 0.07))
        manuf_m = int(manufacturing * 0.71)
        ba, ma, prof = int(bachelors * 0.62), int(bachelors * 0.27), int(bachelors * 0.06)
        stats[fips] = {"name": name, "population": population, "lf_acs": lf_acs,
                       "employed": employed, "manuf_m": manuf_m,
                       "manuf_f": manufacturing - manuf_m, "ba": ba, "ma": ma, "prof": prof,
                       "phd": bachelors - ba - ma - prof, "lf_laus": lf_laus,
                       "unemp_laus": unemp_laus}
    return stats


def _write_county_shapes(path: Path) -> None:
    """Census cartographic boundary counties (2023 edition fields)."""
    features = []
    for fips, name, geom in _county_shapes():
        area_m2 = abs(_GEOD.geometry_area_perimeter(geom)[0])
        awater = int(area_m2 * (0.002 if fips in ("035", "039") else 0.0004))
        props = {
            "STATEFP": STATE_FIPS, "COUNTYFP": fips, "COUNTYNS": f"{2000100 + int(fips):08d}",
            "GEOIDFQ": f"0500000US{STATE_FIPS}{fips}", "GEOID": STATE_FIPS + fips, "NAME": name,
            "NAMELSAD": f"{name} County", "STUSPS": STATE, "STATE_NAME": STATE_NAME,
            "LSAD": "06", "ALAND": int(area_m2) - awater, "AWATER": awater,
        }
        features.append(_feature(props, geom))
    _write_geojson(path, "cb_2023_us_county_500k", features)


def _write_acs(path: Path, stats: dict[str, dict[str, Any]]) -> None:
    """ACS 5-year via the Census API, saved as CSV (the API's header row and column order)."""
    acs_header = ["NAME", "B23025_003E", "B23025_004E", "B01003_001E", "C24030_007E",
                  "C24030_034E", "B15003_022E", "B15003_023E", "B15003_024E", "B15003_025E",
                  "state", "county"]
    acs_rows = []
    for fips, s in stats.items():
        acs_rows.append({"NAME": f"{s['name']} County, {STATE_NAME}",
                         "B23025_003E": s["lf_acs"], "B23025_004E": s["employed"],
                         "B01003_001E": s["population"], "C24030_007E": s["manuf_m"],
                         "C24030_034E": s["manuf_f"], "B15003_022E": s["ba"],
                         "B15003_023E": s["ma"], "B15003_024E": s["prof"],
                         "B15003_025E": s["phd"], "state": STATE_FIPS, "county": fips})
    _write_csv(path, acs_header, acs_rows, lineterminator="\n")


def _write_laus(path: Path, stats: dict[str, dict[str, Any]]) -> None:
    """BLS LAUS county annual averages, as re-published in CSV: leading-space first header,
    quoted counts with thousands separators and trailing spaces, CRLF, no final newline."""
    lines = [(" LAUS Code,State FIPS Code,County FIPS Code,County Name/State Abbreviation,Year,"
             "Labor Force,Employed,Unemployed,Unemployment Rate (%)")]
    for fips, s in stats.items():
        lf, un = s["lf_laus"], s["unemp_laus"]
        rate = round(100.0 * un / lf, 1)
        lines.append(f'CN{STATE_FIPS}{fips}00000000,{STATE_FIPS},{fips},'
                     f'"{s["name"]} County, {STATE}",2023,"{lf:,}     ","{lf - un:,}     ",'
                     f'"{un:,}     ",{rate}     ')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\r\n".join(lines).encode("utf-8"))


def _county_name_at(lon: float, lat: float) -> str:
    fips = _county_fips_at(lon, lat)
    return next((name for f, name, _ in _county_shapes() if f == fips), "NOT AVAILABLE")


def _county_fips_at(lon: float, lat: float) -> str:
    for fips, _, geom in _county_shapes():
        if geom.covers(Point(lon, lat)):
            return fips
    return "000"


# ---------------------------------------------------------------------------------------------
# Census places
# ---------------------------------------------------------------------------------------------


#: Towns (Census places): name, place FIPS, LSAD (25 city, 43 town, 57 CDP), centre, half size.
_PLACES = [
    ("Juniper Flats", "37420", "25", -112.30, 35.235, 0.035),
    ("Westgate", "81360", "43", -112.96, 35.275, 0.012),
    ("Cholla Valley", "13220", "57", -112.10, 35.065, 0.010),
    ("Basin Flats", "04470", "57", -112.72, 35.035, 0.008),
]


def _write_places(path: Path) -> None:
    """Census cartographic boundary places (cb_2023_04_place_500k fields)."""
    lsad_name = {"25": "city", "43": "town", "57": "CDP"}
    features = []
    for name, placefp, lsad, lon, lat, half in _PLACES:
        geom = box(lon - half, lat - half * 0.8, lon + half, lat + half * 0.8)
        features.append(_feature({
            "STATEFP": STATE_FIPS, "PLACEFP": placefp, "PLACENS": f"0{int(placefp) + 2400000:07d}",
            "AFFGEOID": f"1600000US{STATE_FIPS}{placefp}", "GEOID": f"{STATE_FIPS}{placefp}",
            "NAME": name, "NAMELSAD": f"{name} {lsad_name[lsad]}", "STUSPS": STATE,
            "STATE_NAME": STATE_NAME, "LSAD": lsad,
            "ALAND": round(abs(_GEOD.geometry_area_perimeter(geom)[0])), "AWATER": 0}, geom))
    _write_geojson(path, "cb_2023_04_place_500k", features)
