"""National-scale inputs in the providers' official schemas, for benchmarking the whole pipeline.

    .venv/bin/python benchmarks/national_inputs.py [FOLDER] [--seed 1] [--scale 1.0]

writes a synthetic lower 48 into FOLDER (default benchmarks/.data/national, git-ignored) and
prints what was written. Every file follows its provider's published schema and is read by the
same reader a real run uses, at real national sizes, so a benchmark measures what a national run
costs:

=====================  ============================================  =========================
file                   provider schema                               size (scale 1)
=====================  ============================================  =========================
padus/ ... .gpkg       USGS PAD-US 4.1 Fee (GeoPackage, USGS Albers)  ~36,000 records: 2.4M km2
                                                                     federal (23 % protected),
                                                                     tribal and state trust land
hifld/ ... .parquet    HIFLD Open transmission lines (the HIFLD      85,000 lines
                       Next GeoParquet mirror)
hifld/ ... .geojson    HIFLD Open substations (ArcGIS export)        70,000 points
eia/ ... .csv          EIA-860 Schedule 2 Plant sheet as CSV         12,000 plants
gppd/ ... .csv         WRI GPPD USA source table                     ~11,900 plants
tiger/ ... .zip        TIGER/Line national primary roads             ~30,000 lines
fra/ ... .zip          FRA/BTS NTAD North American Rail Network      ~100,000 segments
ourairports/*.csv      OurAirports airports.csv + runways.csv        20,000 airports
naturalearth/ ... .zip Natural Earth 10m rivers + lake centrelines   ~500 lines
aqueduct/ ... .gpkg    WRI Aqueduct 4.0 baseline_annual              3,000 sub-basins
census/ ... .zip/.csv  Census cartographic boundary states, counties, 48 states + DC, 3,230
                       tracts; ACS API answers as CSV; BLS LAUS      counties, ~85,000 tracts
dem/ ... .tif          3 arc-second DEM over Utah, int16, nodata     7,000 x 6,000 pixels
=====================  ============================================  =========================

The land is invented on a real-looking outline: states from hand-placed seeds, counties as
relaxed Voronoi cells nested in them and tracts as Voronoi cells of seeds drawn where people live
nested in the counties, people around real metro locations and
thousands of towns, substations and plants where people are, lines joining substations in
three voltage tiers (a backbone, a regional mesh, local spanning trees), roads and rail between
towns (Gabriel and relative-neighbourhood graphs), federal land in coherent blocks weighted to
the West like the real estate. Every boundary is Voronoi-like, densified and bent by one smooth
fold-free warp, so neighbours still share their edges.

`write_study` writes a config running the criteria of configs/national.yaml over these files
(or over the real national files in ../shared/data where they exist), and `grid_km_for` picks
the square-grid size giving a wanted number of candidate cells.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import yaml
from pyproj import CRS, Transformer

from sitescore.demo import (
    _AIRPORT_NUMERIC,
    _BWS_LABELS,
    _FIXED_DATE,
    AIRPORT_FIELDS,
    NARN_FIELDS,
    PADUS_CRS_WKT,
    _gdal_config,
    _volt_class,
    _zip_files,
)
from sitescore.schema import STATE_FIPS, STATE_NAMES

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = REPO / "benchmarks" / ".data" / "national"
NATIONAL_CONFIG = REPO / "configs" / "national.yaml"

#: Bump whenever the output changes, so completed folders of an older version are regenerated.
VERSION = 1
MARKER = ".national_inputs.json"

FILES = {
    "states": "census/cb_2023_us_state_500k.zip",
    "counties": "census/cb_2023_us_county_500k.zip",
    "acs_county": "census/acs5_2023_county.csv",
    "laus": "bls/laucnty23.csv",
    "tracts": "census/cb_2023_tract_500k_all_states.zip",
    "acs_tract": "census/acs5_2023_tract.csv",
    "federal_land": "padus/PADUS4_1_Fee_lower48.gpkg",
    "transmission_lines": "hifld/transmission-lines-1.parquet",
    "substations": "hifld/Electric_Substations.geojson",
    "eia860": "eia/2___Plant_Y2023.csv",
    "gppd": "gppd/database_USA.csv",
    "roads": "tiger/tl_2023_us_primaryroads.zip",
    "rail": "fra/NTAD_North_American_Rail_Network_Lines.zip",
    "airports": "ourairports/airports.csv",
    "runways": "ourairports/runways.csv",
    "rivers": "naturalearth/ne_10m_rivers_lake_centerlines.zip",
    "water_stress": "aqueduct/Aqueduct40_baseline_annual.gpkg",
    "terrain": "dem/USGS_3as_utah_synthetic.tif",
}
PADUS_LAYER = "PADUS4_1Fee"

#: Real-scale counts at scale 1.
SIZES = {"tiles": 150_000, "lines": 85_000, "substations": 70_000, "plants": 12_000,
         "tracts": 85_000, "counties": 3_230, "airports": 20_000, "rail": 100_000,
         "roads": 30_000, "basins": 3_000, "dem": (6_000, 7_000)}

MODEL_CRS = "EPSG:5070"
LONLAT_CRS = "EPSG:4269"   # Census and USGS publish in NAD83 degrees
WGS84 = "EPSG:4326"

_TO_MODEL = Transformer.from_crs(WGS84, MODEL_CRS, always_xy=True)
_TO_LONLAT = Transformer.from_crs(MODEL_CRS, LONLAT_CRS, always_xy=True)
_TO_MERCATOR = Transformer.from_crs(MODEL_CRS, "EPSG:3857", always_xy=True)

# ----------------------------------------------------------------------------------------------
# the lower 48: an outline, state seeds, people
# ----------------------------------------------------------------------------------------------

#: A coarse outline of the lower 48 (lon, lat), clockwise from Cape Flattery; the Great Lakes
#: are cut along their US shores only roughly.
OUTLINE = [
    (-124.7, 48.4), (-123.2, 48.3), (-122.8, 49.0), (-110.0, 49.0), (-95.2, 49.0), (-95.2, 49.4),
    (-94.8, 49.3), (-93.0, 48.6), (-89.6, 48.0), (-88.4, 47.3), (-86.5, 46.6), (-84.8, 46.5),
    (-84.5, 45.9), (-85.5, 44.9), (-86.3, 44.1), (-86.5, 42.5), (-87.5, 41.7), (-87.8, 42.5),
    (-87.4, 44.2), (-86.8, 45.4), (-86.0, 45.9), (-84.7, 45.8), (-83.4, 45.1), (-83.3, 44.1),
    (-82.6, 43.5), (-82.4, 43.0), (-83.1, 42.0), (-81.2, 41.6), (-79.8, 42.2), (-79.0, 42.8),
    (-79.2, 43.3), (-76.3, 43.5), (-76.0, 44.2), (-74.9, 45.0), (-71.5, 45.0), (-70.8, 45.4),
    (-70.0, 46.7), (-69.2, 47.45), (-67.8, 47.1), (-67.8, 45.7), (-67.0, 44.8), (-68.8, 44.3),
    (-70.2, 43.6), (-70.8, 42.6), (-70.0, 42.0), (-70.0, 41.6), (-71.9, 41.3), (-74.0, 40.6),
    (-74.1, 39.7), (-74.9, 38.9), (-75.1, 38.3), (-75.9, 36.9), (-75.5, 35.2), (-76.5, 34.7),
    (-77.9, 33.9), (-79.2, 33.2), (-80.9, 32.1), (-81.4, 30.4), (-80.6, 28.4), (-80.0, 26.7),
    (-80.4, 25.2), (-81.1, 25.1), (-81.8, 26.1), (-82.7, 27.5), (-82.8, 28.9), (-84.0, 30.0),
    (-85.4, 29.7), (-86.5, 30.4), (-88.0, 30.4), (-89.4, 30.2), (-89.4, 29.0), (-90.2, 29.1),
    (-91.5, 29.5), (-93.8, 29.7), (-94.8, 29.3), (-96.5, 28.3), (-97.4, 27.3), (-97.2, 25.95),
    (-99.2, 26.4), (-99.5, 27.5), (-100.6, 28.9), (-101.4, 29.8), (-102.4, 29.8), (-103.2, 28.98),
    (-104.6, 29.6), (-106.5, 31.8), (-108.2, 31.8), (-108.2, 31.33), (-111.1, 31.33),
    (-114.8, 32.5), (-114.7, 32.72), (-117.1, 32.53), (-118.5, 34.0), (-120.6, 34.6),
    (-121.9, 36.6), (-122.5, 37.8), (-123.8, 39.8), (-124.4, 40.4), (-124.2, 42.0),
    (-124.5, 42.8), (-123.9, 46.2), (-124.1, 46.9),
]

#: Seeds of each state's Voronoi cells (lon, lat): one near its centre, more for large or odd
#: shapes. DC is a small box cut out of Maryland and Virginia.
STATE_SEEDS: dict[str, list[tuple[float, float]]] = {
    "AL": [(-86.8, 32.8)], "AZ": [(-111.7, 34.3), (-113.0, 35.5), (-110.5, 32.5)],
    "AR": [(-92.4, 34.9)], "CA": [(-121.7, 39.7), (-120.2, 36.9), (-117.3, 34.4), (-116.3, 33.3),
                                  (-122.9, 41.0)],
    "CO": [(-105.5, 39.0), (-107.8, 38.8)], "CT": [(-72.7, 41.6)], "DE": [(-75.5, 39.0)],
    "FL": [(-81.6, 28.4), (-82.7, 30.2), (-85.9, 30.7), (-81.0, 26.3)],
    "GA": [(-83.4, 32.7)], "ID": [(-114.6, 44.4), (-116.5, 47.6), (-114.0, 42.9)],
    "IL": [(-89.2, 40.3), (-89.1, 38.2)], "IN": [(-86.3, 39.9)], "IA": [(-93.5, 42.1)],
    "KS": [(-98.4, 38.5)], "KY": [(-85.3, 37.5), (-87.6, 37.1)],
    "LA": [(-92.4, 31.2), (-91.3, 30.0)], "ME": [(-69.2, 45.4)], "MD": [(-76.6, 39.0)],
    "MA": [(-71.8, 42.3)], "MI": [(-84.7, 43.4), (-87.0, 46.3)], "MN": [(-94.3, 46.3)],
    "MS": [(-89.7, 32.7)], "MO": [(-92.5, 38.4)],
    "MT": [(-109.6, 47.0), (-113.0, 47.3), (-105.8, 46.6)], "NE": [(-99.8, 41.5)],
    "NV": [(-116.7, 39.6), (-115.2, 36.8)], "NH": [(-71.6, 43.7)], "NJ": [(-74.5, 40.1)],
    "NM": [(-106.1, 34.4)], "NY": [(-75.8, 43.0), (-73.8, 41.7)],
    "NC": [(-79.2, 35.6), (-82.3, 35.5), (-77.0, 35.5)], "ND": [(-100.5, 47.5)],
    "OH": [(-82.8, 40.3)], "OK": [(-97.3, 35.5), (-101.5, 36.7)], "OR": [(-120.5, 43.9)],
    "PA": [(-77.6, 40.9)], "RI": [(-71.5, 41.7)], "SC": [(-80.9, 33.9)], "SD": [(-100.2, 44.4)],
    "TN": [(-86.3, 35.8), (-89.0, 35.8), (-83.8, 36.0)],
    "TX": [(-99.3, 31.4), (-101.8, 34.5), (-97.9, 28.2), (-104.5, 31.0), (-95.3, 31.8)],
    "UT": [(-111.7, 39.3)], "VT": [(-72.7, 44.0)], "VA": [(-78.6, 37.6), (-81.6, 36.9)],
    "WA": [(-120.5, 47.4)], "WV": [(-80.6, 38.6)], "WI": [(-89.8, 44.6)], "WY": [(-107.5, 43.0)],
}
DC_BOX = (-77.12, 38.79, -76.91, 38.995)

#: Counties per state (real counts, lower 48 and DC); scaled to SIZES["counties"] in all.
REAL_COUNTIES = {
    "AL": 67, "AZ": 15, "AR": 75, "CA": 58, "CO": 64, "CT": 9, "DE": 3, "DC": 1, "FL": 67,
    "GA": 159, "ID": 44, "IL": 102, "IN": 92, "IA": 99, "KS": 105, "KY": 120, "LA": 64, "ME": 16,
    "MD": 24, "MA": 14, "MI": 83, "MN": 87, "MS": 82, "MO": 115, "MT": 56, "NE": 93, "NV": 17,
    "NH": 10, "NJ": 21, "NM": 33, "NY": 62, "NC": 100, "ND": 53, "OH": 88, "OK": 77, "OR": 36,
    "PA": 67, "RI": 5, "SC": 46, "SD": 66, "TN": 95, "TX": 254, "UT": 29, "VT": 14, "VA": 133,
    "WA": 39, "WV": 55, "WI": 72, "WY": 23,
}

#: Federal share of each state's land (per cent, rounded, as the Congressional Research Service
#: tabulates it); scaled up together so the federal estate comes to about 2.4 million km2.
FEDERAL_SHARE = {
    "NV": 80, "UT": 63, "ID": 62, "OR": 53, "WY": 48, "CA": 45, "AZ": 38, "CO": 36, "NM": 35,
    "MT": 29, "WA": 28, "NH": 14, "MI": 10, "VA": 9, "WV": 8, "FL": 8, "NC": 8, "SD": 6,
    "AR": 8, "MN": 7, "MS": 5, "VT": 8, "GA": 4, "ND": 4, "SC": 5, "TN": 5, "WI": 5, "MO": 4,
    "KY": 5, "LA": 4, "MD": 3, "AL": 3, "PA": 2, "OK": 2, "TX": 2, "IL": 2, "NE": 1, "ME": 1,
    "OH": 1, "KS": 1, "IN": 2, "MA": 1, "NJ": 3, "IA": 1, "NY": 1, "DE": 2, "RI": 1, "CT": 1,
    "DC": 25,
}
FEDERAL_TARGET_KM2 = 2.4e6
#: Tribal share of a state's land (per cent), where it is large.
TRIBAL_SHARE = {"AZ": 27, "NM": 10, "SD": 10, "MT": 7, "WA": 4, "UT": 4, "ND": 4, "WY": 3,
                "NV": 2, "OK": 1, "ID": 1, "OR": 1, "CA": 1, "MN": 2, "WI": 1}
#: State trust land share (per cent) in the western states that hold much of it.
STATE_TRUST_SHARE = {"AZ": 12, "NM": 11, "UT": 6, "WY": 6, "MT": 6, "CO": 4, "ID": 4, "NV": 1,
                     "WA": 4, "OR": 2, "ND": 2, "SD": 1, "NE": 1, "OK": 1}

#: Large metros (lon, lat, people in thousands): they anchor the people, airports, plants.
METROS = [
    ("New York", -74.0, 40.7, 20100), ("Los Angeles", -118.2, 34.05, 13200),
    ("Chicago", -87.65, 41.85, 9600), ("Dallas", -96.8, 32.8, 7600),
    ("Houston", -95.4, 29.8, 7100), ("Washington", -77.0, 38.9, 6300),
    ("Philadelphia", -75.2, 39.95, 6200), ("Miami", -80.2, 25.8, 6100),
    ("Atlanta", -84.4, 33.75, 6100), ("Boston", -71.06, 42.36, 4900),
    ("Phoenix", -112.07, 33.45, 4800), ("San Francisco", -122.3, 37.8, 4700),
    ("Riverside", -117.4, 33.95, 4600), ("Detroit", -83.05, 42.33, 4400),
    ("Seattle", -122.33, 47.6, 4000), ("Minneapolis", -93.27, 44.98, 3700),
    ("San Diego", -117.16, 32.72, 3300), ("Tampa", -82.46, 27.95, 3200),
    ("Denver", -104.99, 39.74, 3000), ("Baltimore", -76.61, 39.29, 2800),
    ("St. Louis", -90.2, 38.63, 2800), ("Orlando", -81.38, 28.54, 2700),
    ("Charlotte", -80.84, 35.23, 2700), ("San Antonio", -98.49, 29.42, 2600),
    ("Portland", -122.68, 45.52, 2500), ("Sacramento", -121.49, 38.58, 2400),
    ("Pittsburgh", -79.99, 40.44, 2370), ("Austin", -97.74, 30.27, 2300),
    ("Las Vegas", -115.14, 36.17, 2300), ("Cincinnati", -84.51, 39.1, 2250),
    ("Kansas City", -94.58, 39.1, 2200), ("Columbus", -82.99, 39.96, 2140),
    ("Indianapolis", -86.16, 39.77, 2110), ("Cleveland", -81.69, 41.5, 2090),
    ("San Jose", -121.89, 37.34, 2000), ("Nashville", -86.78, 36.16, 1990),
    ("Virginia Beach", -76.1, 36.85, 1800), ("Providence", -71.41, 41.82, 1680),
    ("Jacksonville", -81.66, 30.33, 1600), ("Milwaukee", -87.91, 43.04, 1570),
    ("Raleigh", -78.64, 35.78, 1450), ("Oklahoma City", -97.52, 35.47, 1430),
    ("Memphis", -90.05, 35.15, 1340), ("Richmond", -77.44, 37.54, 1320),
    ("Louisville", -85.76, 38.25, 1290), ("New Orleans", -90.07, 29.95, 1270),
    ("Salt Lake City", -111.89, 40.76, 1260), ("Hartford", -72.68, 41.76, 1210),
    ("Buffalo", -78.88, 42.89, 1170), ("Birmingham", -86.8, 33.52, 1120),
    ("Rochester", -77.61, 43.16, 1090), ("Grand Rapids", -85.67, 42.96, 1090),
    ("Tucson", -110.97, 32.22, 1040), ("Tulsa", -95.99, 36.15, 1020),
    ("Fresno", -119.79, 36.74, 1010), ("Omaha", -95.94, 41.26, 970),
    ("Albuquerque", -106.65, 35.08, 920), ("El Paso", -106.49, 31.76, 870),
    ("Boise", -116.2, 43.62, 760), ("Spokane", -117.43, 47.66, 590),
    ("Reno", -119.81, 39.53, 490), ("Billings", -108.5, 45.78, 180),
    ("Cheyenne", -104.82, 41.14, 100), ("Fargo", -96.79, 46.88, 250),
    ("Sioux Falls", -96.73, 43.54, 280), ("Little Rock", -92.29, 34.75, 750),
    ("Jackson", -90.18, 32.3, 590), ("Des Moines", -93.61, 41.59, 710),
    ("Wichita", -97.34, 37.69, 650), ("Knoxville", -83.92, 35.96, 880),
    ("Columbia", -81.03, 34.0, 840), ("Charleston", -79.93, 32.78, 800),
    ("Albany", -73.76, 42.65, 900), ("Portland ME", -70.26, 43.66, 550),
]
TOTAL_PEOPLE = 325e6

WORDS_A = ["Cedar", "Pine", "Red", "Black", "Eagle", "Sand", "Stone", "Willow", "Bear", "Elk",
           "Silver", "Granite", "Juniper", "Mesa", "Coyote", "Antelope", "Sage", "Clear", "Green",
           "Spring", "Rock", "Lone", "Twin", "Big", "Little", "Salt", "Dry", "Cotton", "Oak",
           "Maple", "Hickory", "Laurel", "Fox", "Hawk", "Buffalo", "Beaver", "Deer", "Turkey",
           "Walnut", "Chestnut", "Raven", "Copper", "Iron", "Crystal", "Shadow", "Thunder",
           "Piney", "Aspen", "Quail", "Sulphur"]
WORDS_B = ["Creek", "Valley", "Ridge", "Flat", "Springs", "Butte", "Canyon", "Hills", "Mountain",
           "Lake", "Fork", "Basin", "Prairie", "Hollow", "Point", "Bluff", "Wash", "Meadow",
           "River", "Falls", "Mesa", "Gap", "Grove", "Park", "Pass"]


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Invented place names (Cedar Creek, Lone Butte, ...)."""
    a = np.asarray(WORDS_A, dtype=object)[rng.integers(0, len(WORDS_A), n)]
    b = np.asarray(WORDS_B, dtype=object)[rng.integers(0, len(WORDS_B), n)]
    return a + " " + b


def _stream(seed: int, name: str) -> np.random.Generator:
    """One random stream per layer, keyed by its name: changing one layer never shifts another."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _project(lonlat: Sequence[tuple[float, float]] | np.ndarray) -> np.ndarray:
    a = np.asarray(lonlat, dtype=float)
    x, y = _TO_MODEL.transform(a[:, 0], a[:, 1])
    return np.column_stack([x, y])


def _lonlat(xy: np.ndarray) -> np.ndarray:
    lon, lat = _TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _to_lonlat(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, _lonlat)


# ----------------------------------------------------------------------------------------------
# the warp: one smooth, fold-free displacement applied to every geometry
# ----------------------------------------------------------------------------------------------

#: (wavelength km, share of the displacement gradient) per term. The gradients add up to 0.78 <
#: 1, so the warp never folds (I + its gradient stays invertible) and shared edges stay shared;
#: most of it bends edges at the scale of parcels and counties (hundreds of metres over 10-30 km).
WARP_TERMS = [(2.0, 0.05), (3.5, 0.07), (6.0, 0.10), (12.0, 0.14), (30.0, 0.14), (80.0, 0.10),
              (250.0, 0.10), (700.0, 0.08)]


@dataclass(frozen=True)
class Warp:
    """A smooth displacement field: a sum of plane waves in random directions and phases."""

    kx: np.ndarray
    ky: np.ndarray
    phase: np.ndarray
    ax: np.ndarray
    ay: np.ndarray

    @classmethod
    def make(cls, rng: np.random.Generator) -> Warp:
        lam = np.array([t[0] for t in WARP_TERMS]) * 1000.0
        share = np.array([t[1] for t in WARP_TERMS])
        theta = rng.uniform(0, 2 * np.pi, len(lam))
        k = 2 * np.pi / lam
        amp = share / k     # gradient of a*sin(k.x) is a*k: the share
        mix = rng.uniform(0, 2 * np.pi, len(lam))
        return cls(k * np.cos(theta), k * np.sin(theta), rng.uniform(0, 2 * np.pi, len(lam)),
                   amp * np.cos(mix), amp * np.sin(mix))

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        out = np.array(xy, dtype=float, copy=True)
        x, y = xy[:, 0], xy[:, 1]
        for kx, ky, ph, ax, ay in zip(self.kx, self.ky, self.phase, self.ax, self.ay, strict=True):
            s = np.sin(kx * x + ky * y + ph)
            out[:, 0] += ax * s
            out[:, 1] += ay * s
        return out

    def geoms(self, geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, self)


def _smooth_field(rng: np.random.Generator, wavelengths_km: Sequence[float], n_per: int = 6
                  ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A random smooth field f(x, y) of unit-ish amplitude with structure at the given scales."""
    waves = []
    for lam in wavelengths_km:
        for _ in range(n_per):
            theta, phase = rng.uniform(0, 2 * np.pi, 2)
            k = 2 * np.pi / (lam * 1000.0)
            waves.append((k * math.cos(theta), k * math.sin(theta), phase))
    norm = 1.0 / math.sqrt(len(waves) / 2)

    def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros(np.broadcast(x, y).shape)
        for kx, ky, ph in waves:
            out += np.sin(kx * x + ky * y + ph)
        return out * norm

    return f


# ----------------------------------------------------------------------------------------------
# geometry helpers
# ----------------------------------------------------------------------------------------------

def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Polygon parts only (intersections may leave lines or points behind), None where none."""
    out = np.array(geoms, dtype=object)
    types = shapely.get_type_id(out)
    mixed = np.flatnonzero(types == 7)
    for i in mixed:
        parts = [p for p in shapely.get_parts(out[i]) if p.geom_type in ("Polygon", "MultiPolygon")]
        out[i] = shapely.union_all(parts) if parts else None
    bad = ~np.isin(shapely.get_type_id(out), [3, 6])
    out[bad] = None
    return out


def _voronoi_within(seeds: np.ndarray, groups: np.ndarray, frames: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi cells of each group's seeds cut to the group's frame polygon (vectorised across
    groups); a group of one seed is its whole frame. Returns cells and their group."""
    order = np.argsort(groups, kind="stable")
    seeds, groups = seeds[order], groups[order]
    n_groups = len(frames)
    count = np.bincount(groups, minlength=n_groups)
    multi = shapely.multipoints(seeds, indices=groups)
    if len(multi) < n_groups:
        multi = np.concatenate([multi, np.full(n_groups - len(multi), None, dtype=object)])
    many = np.flatnonzero(count >= 2)
    diagrams = shapely.voronoi_polygons(multi[many], extend_to=frames[many])
    parts, idx = shapely.get_parts(diagrams, return_index=True)
    owner = many[idx]
    cut = _polygonal(shapely.intersection(parts, frames[owner]))
    single = np.flatnonzero(count == 1)
    cells = np.concatenate([cut, frames[single]])
    owners = np.concatenate([owner, single])
    keep = ~shapely.is_missing(cells)
    keep[keep] = ~shapely.is_empty(cells[keep])
    return cells[keep], owners[keep]


def _cells_in(xy: np.ndarray, frame: Any) -> np.ndarray:
    """Voronoi cells of the points in input order, cut to the frame (only the cells that cross
    its edge are intersected: most lie inside)."""
    cells = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=frame, ordered=True)
    cells = np.asarray(shapely.get_parts(cells))
    shapely.prepare(frame)
    cross = ~shapely.contains(frame, cells)
    cells[cross] = _polygonal(shapely.intersection(cells[cross], frame))
    return cells


def _inholdings(rng: np.random.Generator, geoms: np.ndarray, eligible: np.ndarray,
                share: float = 0.12) -> np.ndarray:
    """Square private sections (0.8-1.6 km, PLSS-like) cut out of some parcels, as the
    inholdings in BLM and Forest Service land: holes the exclusion logic must respect."""
    out = geoms.copy()
    pick = np.flatnonzero(eligible & (rng.random(len(geoms)) < share))
    if not len(pick):
        return out
    w, s, e, n = shapely.bounds(geoms[pick]).T
    x, y = rng.uniform(w, e), rng.uniform(s, n)
    half = rng.uniform(400, 800, len(pick))
    holes = shapely.box(x - half, y - half, x + half, y + half)
    inside = shapely.contains_properly(geoms[pick], holes)
    out[pick[inside]] = shapely.difference(geoms[pick[inside]], holes[inside])
    return out


def _sample_in(rng: np.random.Generator, frame: Any, n: int) -> np.ndarray:
    """n uniform points inside a polygon (rejection sampling in its bounding box)."""
    if n <= 0:
        return np.empty((0, 2))
    shapely.prepare(frame)
    w, s, e, nn = frame.bounds
    out: list[np.ndarray] = []
    got = 0
    ratio = max(shapely.area(frame) / ((e - w) * (nn - s)), 0.02)
    while got < n:
        k = int((n - got) / ratio * 1.2) + 8
        pts = np.column_stack([rng.uniform(w, e, k), rng.uniform(s, nn, k)])
        pts = pts[shapely.contains_xy(frame, pts[:, 0], pts[:, 1])]
        out.append(pts)
        got += len(pts)
    return np.concatenate(out)[:n]


def _relaxed(seeds: np.ndarray, groups: np.ndarray, frames: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """One Lloyd step: seeds moved into the middle of their cells (a point on each cell's
    surface), so cells come out evenly sized. Returns the new seeds and their groups."""
    cells, owner = _voronoi_within(seeds, groups, frames)
    cent = shapely.get_coordinates(shapely.point_on_surface(cells))
    return cent, owner


def _lines_from(coords: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """LineStrings from stacked coordinates, `counts` vertices each."""
    index = np.repeat(np.arange(len(counts)), counts)
    return shapely.linestrings(coords, indices=index)


def _route_coords(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, step_m: float,
                  bend: float = 0.04, jitter_m: float = 40.0, max_vertices: int = 4000
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of wandering routes from a[i] to b[i] (ends exact): a vertex every `step_m`,
    pushed sideways by a few smooth bends (share `bend` of the length) and a little jitter."""
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    inner = np.clip((length / step_m).astype(int), 1, max_vertices)
    counts = inner + 1
    owner = np.repeat(np.arange(len(a)), counts)
    start = np.cumsum(counts) - counts
    t = (np.arange(counts.sum()) - np.repeat(start, counts)) / np.repeat(inner, counts)
    c = rng.normal(0, bend, (len(a), 3)) / np.array([1.0, 2.0, 3.0])
    side = (c[owner, 0] * np.sin(np.pi * t) + c[owner, 1] * np.sin(2 * np.pi * t)
            + c[owner, 2] * np.sin(3 * np.pi * t)) * length[owner]
    interior = (t > 0) & (t < 1)
    side = side + np.where(interior, rng.normal(0, jitter_m, len(t)), 0.0)
    nx, ny = -d[:, 1] / np.maximum(length, 1), d[:, 0] / np.maximum(length, 1)
    x = a[owner, 0] + t * d[owner, 0] + side * nx[owner]
    y = a[owner, 1] + t * d[owner, 1] + side * ny[owner]
    return np.column_stack([x, y]), counts


def _split_lines(coords: np.ndarray, counts: np.ndarray, pieces: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each polyline into `pieces[i]` consecutive runs of vertices (sharing their cut
    vertex). Returns the pieces' coordinates, vertex counts and the line each came from."""
    start = np.cumsum(counts) - counts
    pieces = np.minimum(np.maximum(pieces, 1), counts - 1)
    owner = np.repeat(np.arange(len(counts)), pieces)
    k = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    seg = counts[owner] - 1
    a = start[owner] + (k * seg) // pieces[owner]
    b = start[owner] + ((k + 1) * seg) // pieces[owner]
    n = b - a + 1
    idx = np.repeat(a, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    return coords[idx], n, owner


def _gabriel(xy: np.ndarray, relative_neighbourhood: bool = False) -> np.ndarray:
    """Edges (i, j) of the Gabriel graph (or the sparser relative neighbourhood graph) of the
    points: how road and rail networks join towns without long detours."""
    from scipy.spatial import Delaunay, cKDTree

    tri = Delaunay(xy)
    e = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    p, q = xy[e[:, 0]], xy[e[:, 1]]
    length = np.hypot(*(p - q).T)
    tree = cKDTree(xy)
    if relative_neighbourhood:
        # no third point closer to both ends than they are to each other (lune test, via the
        # neighbours within the edge length of one end)
        keep = np.ones(len(e), dtype=bool)
        near = tree.query_ball_point(p, length * 0.999)
        for i, cand in enumerate(near):
            if len(cand) <= 2:
                continue
            c = xy[cand]
            d_q = np.hypot(*(c - q[i]).T)
            if np.any(d_q < length[i] * 0.999):
                keep[i] = False
        return e[keep]
    mid = (p + q) / 2
    d_mid, _ = tree.query(mid, k=1)
    return e[d_mid >= length / 2 * 0.999]


def _spanning_plus(xy: np.ndarray, want: int) -> np.ndarray:
    """A minimum spanning tree of the points' Delaunay graph plus its shortest other edges, `want`
    edges in all (fewer if the graph has fewer): how transmission networks grow."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import Delaunay

    if len(xy) < 3:
        return np.array([[0, 1]]) if len(xy) == 2 else np.empty((0, 2), dtype=int)
    tri = Delaunay(xy)
    e = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    w = np.hypot(*(xy[e[:, 0]] - xy[e[:, 1]]).T)
    mst = minimum_spanning_tree(coo_matrix((w, (e[:, 0], e[:, 1])), shape=(len(xy), len(xy))))
    tree = np.sort(np.column_stack(mst.nonzero()), axis=1)
    in_tree = np.isin(e[:, 0] * len(xy) + e[:, 1], tree[:, 0] * len(xy) + tree[:, 1])
    extra = e[~in_tree][np.argsort(w[~in_tree], kind="stable")]
    chosen = np.concatenate([tree, extra])[:max(want, 0)]
    return chosen


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def _largest_remainder(weights: np.ndarray, total: int, minimum: int = 1) -> np.ndarray:
    """Whole numbers proportional to `weights`, at least `minimum` each, summing to `total`."""
    raw = weights / weights.sum() * max(total - minimum * len(weights), 0)
    out = np.floor(raw).astype(int)
    short = max(total - minimum * len(weights), 0) - out.sum()
    out[np.argsort(-(raw - out), kind="stable")[:short]] += 1
    return out + minimum



#: States whose federal land is mostly BLM and Forest Service.
WEST = {"WA", "OR", "CA", "NV", "ID", "MT", "WY", "UT", "CO", "AZ", "NM"}
#: Managing agency mix of federal land (relative weights); '_east' lists every agency used.
AGENCY_MIX: dict[str, dict[str, float]] = {
    "_east": {"BLM": 0.0, "USFS": 0.48, "NPS": 0.12, "FWS": 0.13, "DOD": 0.16, "DOE": 0.02,
              "USBR": 0.0, "USACE": 0.09},
    "_west": {"BLM": 0.50, "USFS": 0.36, "NPS": 0.045, "FWS": 0.025, "DOD": 0.035,
              "DOE": 0.008, "USBR": 0.012, "USACE": 0.005},
    "NV": {"BLM": 0.84, "USFS": 0.08, "NPS": 0.01, "FWS": 0.03, "DOD": 0.03, "DOE": 0.03,
           "USBR": 0.01},
    "UT": {"BLM": 0.66, "USFS": 0.23, "NPS": 0.05, "FWS": 0.01, "DOD": 0.04, "USBR": 0.01},
    "WY": {"BLM": 0.60, "USFS": 0.30, "NPS": 0.07, "FWS": 0.01, "USBR": 0.02},
    "OR": {"BLM": 0.48, "USFS": 0.45, "NPS": 0.01, "FWS": 0.03, "DOD": 0.01, "USBR": 0.01,
           "USACE": 0.01},
    "WA": {"BLM": 0.03, "USFS": 0.65, "NPS": 0.15, "FWS": 0.03, "DOD": 0.06, "DOE": 0.05,
           "USBR": 0.02, "USACE": 0.01},
    "ID": {"BLM": 0.36, "USFS": 0.61, "NPS": 0.005, "FWS": 0.005, "DOE": 0.015, "USBR": 0.005},
    "MT": {"BLM": 0.30, "USFS": 0.62, "NPS": 0.05, "FWS": 0.02, "USBR": 0.01},
    "CO": {"BLM": 0.35, "USFS": 0.60, "NPS": 0.03, "FWS": 0.005, "DOD": 0.01, "USBR": 0.005},
    "CA": {"BLM": 0.32, "USFS": 0.47, "NPS": 0.16, "FWS": 0.01, "DOD": 0.04},
    "AZ": {"BLM": 0.40, "USFS": 0.37, "NPS": 0.09, "FWS": 0.05, "DOD": 0.08, "USBR": 0.01},
    "NM": {"BLM": 0.55, "USFS": 0.37, "NPS": 0.01, "FWS": 0.01, "DOD": 0.05, "DOE": 0.01},
}
#: Per agency: share of its land under protected designations, then (Des_Tp, GAP status (one
#: drawn where several), weight) for protected and for ordinary land.
DESIGNATIONS: dict[str, tuple[float, list, list]] = {
    "BLM": (0.16, [("WA", "1", 0.25), ("WSA", "2", 0.35), ("NM", ("2", "3"), 0.15),
                   ("NCA", "2", 0.10), ("ACEC", "3", 0.15)], [("FOTH", "3", 1.0)]),
    "USFS": (0.19, [("WA", "1", 0.78), ("RNA", "1", 0.03), ("NRA", "3", 0.10),
                    ("WSR", "2", 0.03), ("NM", "2", 0.06)], [("NF", "3", 0.93), ("NG", "3", 0.07)]),
    "NPS": (1.0, [("NP", ("1", "2"), 0.6), ("NM", "2", 0.15), ("NRA", "3", 0.15),
                  ("HCA", "3", 0.10)], []),
    "FWS": (1.0, [("NWR", ("1", "2", "2"), 1.0)], []),
    "DOD": (0.0, [], [("MIL", "4", 1.0)]),
    "DOE": (0.0, [], [("FOTH", "4", 1.0)]),
    "USBR": (0.0, [], [("FOTH", "4", 1.0)]),
    "USACE": (0.0, [], [("FOTH", "4", 1.0)]),
    "TRIB": (0.0, [], [("TRIBL", "4", 1.0)]),
    "SLB": (0.0, [], [("SOTH", "4", 1.0)]),
}
#: PAD-US owner/manager type and the names that go with an agency code.
AGENCY_INFO = {
    "BLM": ("FED", "Bureau of Land Management"), "USFS": ("FED", "U.S. Forest Service"),
    "NPS": ("FED", "National Park Service"), "FWS": ("FED", "U.S. Fish and Wildlife Service"),
    "DOD": ("FED", "Department of Defense"), "DOE": ("FED", "Department of Energy"),
    "USBR": ("FED", "Bureau of Reclamation"), "USACE": ("FED", "Army Corps of Engineers"),
    "TRIB": ("TRIB", "American Indian Lands"), "SLB": ("STAT", "State Land Board"),
}
#: Unit name endings by (agency, designation), else by agency.
UNIT_SUFFIX = {
    ("BLM", "FOTH"): " Public Lands", ("BLM", "WA"): " Wilderness",
    ("BLM", "WSA"): " Wilderness Study Area", ("BLM", "NM"): " National Monument",
    ("BLM", "NCA"): " National Conservation Area",
    ("BLM", "ACEC"): " Area of Critical Environmental Concern",
    ("USFS", "NF"): " National Forest", ("USFS", "NG"): " National Grassland",
    ("USFS", "WA"): " Wilderness", ("USFS", "RNA"): " Research Natural Area",
    ("USFS", "NRA"): " National Recreation Area", ("USFS", "WSR"): " Wild and Scenic River",
    ("USFS", "NM"): " National Monument", ("NPS", "NP"): " National Park",
    ("NPS", "NM"): " National Monument", ("NPS", "NRA"): " National Recreation Area",
    ("NPS", "HCA"): " National Historical Park", "FWS": " National Wildlife Refuge",
    "DOD": " Training Range", "DOE": " National Laboratory Site", "USBR": " Reservoir Lands",
    "USACE": " Lake Project Lands", "TRIB": " Indian Reservation", "SLB": " State Trust Land",
}
#: Plant fuel (GPPD primary_fuel): share of plants, median MW, log-normal spread.
PLANT_FUELS = {
    "Solar": (0.38, 5.0, 1.2), "Gas": (0.17, 60.0, 1.5), "Wind": (0.10, 80.0, 0.8),
    "Hydro": (0.11, 8.0, 1.6), "Storage": (0.05, 10.0, 1.1), "Oil": (0.05, 8.0, 1.3),
    "Biomass": (0.04, 12.0, 1.0), "Waste": (0.03, 5.0, 1.0), "Coal": (0.02, 500.0, 0.8),
    "Nuclear": (0.006, 1800.0, 0.35), "Geothermal": (0.006, 30.0, 0.8), "Other": (0.02, 5.0, 1.0),
}


#: Short-line railroads (NARN RROWNER reporting marks) owning branches and some secondary lines.
SHORT_LINES = ["WSOR", "RJCP", "PAL", "GNBC", "TPW", "ACWR", "LAL", "INRD", "AGR", "CEMR",
               "GWRR", "TXNW", "PNWR", "UTAH", "SJVR", "NECR", "BPRR", "MNNR", "IHB", "DGNO"]
#: OurAirports types among US rows, as published (2022 counts).
AIRPORT_TYPES = {"small_airport": 14846, "heliport": 7694, "closed": 5405,
                 "medium_airport": 807, "seaplane_base": 619, "large_airport": 66,
                 "balloonport": 30}
#: Main stems drawn by hand (name, Natural Earth scalerank, course lon/lat).
MAJOR_RIVERS = [
    ("Mississippi", 1, [(-95.2, 47.2), (-93.3, 45.0), (-91.2, 43.5), (-90.6, 41.5), (-91.4, 40.4),
                        (-90.2, 38.6), (-89.2, 37.0), (-90.0, 35.1), (-91.1, 33.3), (-91.4, 31.5),
                        (-91.2, 30.5), (-90.1, 29.95), (-89.4, 29.2)]),
    ("Missouri", 1, [(-111.3, 47.5), (-108.0, 47.6), (-104.0, 48.0), (-101.0, 47.5),
                     (-100.4, 44.4), (-98.0, 42.8), (-96.4, 42.5), (-95.9, 41.3), (-94.6, 39.1),
                     (-92.2, 38.6), (-90.2, 38.8)]),
    ("Ohio", 2, [(-80.0, 40.45), (-81.6, 39.3), (-82.6, 38.5), (-84.5, 39.1), (-85.8, 38.2),
                 (-87.6, 37.9), (-89.1, 37.0)]),
    ("Tennessee", 3, [(-83.9, 35.95), (-85.3, 35.05), (-86.8, 34.7), (-88.2, 35.0),
                      (-88.2, 36.5), (-88.3, 37.05)]),
    ("Arkansas", 3, [(-106.2, 39.2), (-104.6, 38.2), (-100.0, 37.8), (-97.3, 37.7),
                     (-96.0, 36.1), (-94.4, 35.4), (-92.3, 34.7), (-91.1, 33.9)]),
    ("Red", 4, [(-101.0, 34.6), (-98.5, 34.1), (-96.0, 33.8), (-94.0, 33.5), (-93.8, 32.5),
                (-92.0, 31.3), (-91.6, 31.0)]),
    ("Colorado", 2, [(-105.9, 40.2), (-107.3, 39.6), (-109.6, 38.6), (-110.8, 37.5),
                     (-111.6, 36.9), (-112.9, 36.1), (-114.1, 36.0), (-114.6, 35.0),
                     (-114.6, 33.0), (-114.8, 32.5)]),
    ("Rio Grande", 2, [(-107.0, 37.7), (-106.0, 36.0), (-106.7, 34.5), (-107.0, 33.0),
                       (-106.5, 31.8), (-104.5, 29.7), (-103.1, 29.0), (-101.4, 29.8),
                       (-99.5, 27.5), (-97.3, 26.0)]),
    ("Columbia", 2, [(-117.6, 49.0), (-118.3, 47.9), (-119.9, 46.9), (-119.3, 46.2),
                     (-121.2, 45.6), (-122.8, 45.8), (-123.9, 46.2)]),
    ("Snake", 3, [(-110.7, 44.0), (-111.9, 43.5), (-114.4, 42.6), (-116.9, 43.5),
                  (-116.9, 45.5), (-117.0, 46.4), (-119.0, 46.2)]),
    ("Platte", 4, [(-106.3, 41.5), (-104.5, 41.6), (-101.0, 41.1), (-98.5, 40.8),
                   (-95.9, 41.0)]),
    ("Sacramento", 4, [(-122.4, 41.0), (-122.2, 39.5), (-121.5, 38.6), (-122.0, 38.05)]),
    ("Hudson", 4, [(-74.1, 44.0), (-73.7, 42.6), (-73.95, 41.5), (-74.0, 40.75)]),
    ("Susquehanna", 4, [(-75.0, 42.7), (-76.5, 41.8), (-76.9, 40.9), (-76.9, 40.2),
                        (-76.1, 39.6)]),
    ("Savannah", 5, [(-82.9, 34.7), (-82.0, 33.4), (-81.1, 32.1)]),
    ("Alabama", 5, [(-86.3, 32.4), (-87.5, 31.8), (-88.0, 31.0)]),
    ("Brazos", 4, [(-101.5, 33.5), (-98.5, 32.8), (-97.2, 31.5), (-96.0, 30.0), (-95.4, 28.9)]),
    ("Yellowstone", 4, [(-110.4, 44.5), (-110.5, 45.6), (-108.5, 45.8), (-106.0, 46.4),
                        (-104.0, 47.9)]),
]

def _unit_names(rng: np.random.Generator, agency: np.ndarray, des: np.ndarray) -> np.ndarray:
    base = _names(rng, len(agency))
    suffix = np.array([UNIT_SUFFIX.get((a, d), UNIT_SUFFIX.get(a, "")) for a, d in
                       zip(agency, des, strict=True)], dtype=object)
    return base + suffix


# ----------------------------------------------------------------------------------------------
# the world: everything in EPSG:5070 metres, unwarped; writers warp and reproject
# ----------------------------------------------------------------------------------------------

class World:
    """The synthetic lower 48 for one seed and scale; each part is built on first use, so a
    single layer (the transmission lines, say) costs only what it needs."""

    def __init__(self, seed: int = 1, scale: float = 1.0) -> None:
        self.seed, self.scale = int(seed), float(scale)
        self.warp = Warp.make(_stream(self.seed, "warp"))
        #: Vertex spacing and raster cell grow as the counts shrink, so a small set is small.
        self.coarse = 1.0 / math.sqrt(min(self.scale, 1.0))
        self.RES = 5000.0 * max(1.0, 0.5 * self.coarse)
        self._lines: dict[int, pd.DataFrame] = {}

    def step(self, metres: float) -> float:
        """A vertex spacing at this scale."""
        return metres * self.coarse

    def n(self, key: str, minimum: int = 1) -> int:
        return max(minimum, round(SIZES[key] * self.scale))

    def rng(self, name: str) -> np.random.Generator:
        return _stream(self.seed, name)

    # --- land, states, counties, tracts --------------------------------------------------------

    @cached_property
    def outline(self) -> Any:
        poly = shapely.make_valid(shapely.Polygon(_project(OUTLINE)))
        return shapely.segmentize(poly, self.step(1000.0))

    @cached_property
    def states(self) -> pd.DataFrame:
        """abbr, fips, name, geometry: Voronoi cells of the state seeds, dissolved by state."""
        labels, seeds = [], []
        for abbr, pts in STATE_SEEDS.items():
            labels += [abbr] * len(pts)
            seeds += pts
        xy = _project(seeds)
        cells = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=self.outline,
                                         ordered=True)
        cells = shapely.intersection(np.asarray(shapely.get_parts(cells)), self.outline)
        dc = shapely.segmentize(shapely.Polygon(_project(
            [(DC_BOX[0], DC_BOX[1]), (DC_BOX[2], DC_BOX[1]), (DC_BOX[2], DC_BOX[3]),
             (DC_BOX[0], DC_BOX[3])])), self.step(1000.0))
        labels = np.asarray(labels)
        abbrs = sorted(set(labels.tolist()) | {"DC"}, key=lambda a: STATE_FIPS[a])
        geoms = []
        for abbr in abbrs:
            if abbr == "DC":
                geoms.append(dc)
                continue
            g = shapely.union_all(cells[labels == abbr])
            geoms.append(shapely.difference(g, dc))
        geoms = shapely.segmentize(shapely.make_valid(np.asarray(geoms, dtype=object)),
                                   self.step(1000.0))
        return pd.DataFrame({"abbr": abbrs, "fips": [STATE_FIPS[a] for a in abbrs],
                             "name": [STATE_NAMES[a] for a in abbrs], "geometry": geoms})

    @cached_property
    def counties(self) -> pd.DataFrame:
        """state (row of `states`), countyfp, name, geometry: relaxed Voronoi cells per state."""
        rng = self.rng("counties")
        states = self.states
        frames = states["geometry"].to_numpy()
        real = np.array([REAL_COUNTIES[a] for a in states["abbr"]], dtype=float)
        counts = _largest_remainder(real, max(self.n("counties"), len(states)))
        seeds = [_sample_in(rng, f, int(c)) for f, c in zip(frames, counts, strict=True)]
        groups = np.repeat(np.arange(len(frames)), counts)
        xy = np.concatenate(seeds)
        xy, groups = _relaxed(xy, groups, frames)
        cells, owner = _voronoi_within(xy, groups, frames)
        cells = shapely.segmentize(cells, self.step(1000.0))
        # codes in each state from west to east, odd numbers as the Census assigns them
        cx = shapely.get_x(shapely.centroid(cells))
        order = np.lexsort((cx, owner))
        cells, owner = cells[order], owner[order]
        rank = np.arange(len(owner)) - np.searchsorted(owner, owner, side="left")
        names = _names(rng, len(cells))
        return pd.DataFrame({"state": owner, "countyfp": [f"{2 * r + 1:03d}" for r in rank],
                             "name": names, "geometry": cells})

    @cached_property
    def grid(self) -> tuple[float, float, int, int]:
        """x0, y0 (lower-left corner), columns, rows of the population raster."""
        w, s, e, n = shapely.bounds(self.outline)
        cols = math.ceil((e - w) / self.RES)
        rows = math.ceil((n - s) / self.RES)
        return w, s, cols, rows

    def pixel_xy(self) -> tuple[np.ndarray, np.ndarray]:
        x0, y0, cols, rows = self.grid
        x = x0 + (np.arange(cols) + 0.5) * self.RES
        y = y0 + (np.arange(rows) + 0.5) * self.RES
        return np.meshgrid(x, y)

    @cached_property
    def land(self) -> np.ndarray:
        x, y = self.pixel_xy()
        shapely.prepare(self.outline)
        return shapely.contains_xy(self.outline, x, y)

    @cached_property
    def lonlat_grid(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.pixel_xy()
        lon, lat = _TO_LONLAT.transform(x, y)
        return lon, lat

    @cached_property
    def cities(self) -> pd.DataFrame:
        """name, x, y, people: the metros, then towns placed where the countryside is settled."""
        rng = self.rng("cities")
        mxy = _project([(m[1], m[2]) for m in METROS])
        metros = pd.DataFrame({"name": [m[0] for m in METROS], "x": mxy[:, 0], "y": mxy[:, 1],
                               "people": [m[3] * 1000.0 for m in METROS]})
        n_towns = max(round(1500 * math.sqrt(min(self.scale, 1.0))), 40)
        idx = self.sample_pixels(rng, self.settled ** 1.5, n_towns)
        x, y = self.pixel_points(rng, idx)
        people = np.minimum(10_000 * (1 + rng.pareto(1.15, n_towns)), 600_000)
        towns = pd.DataFrame({"name": _names(rng, n_towns), "x": x, "y": y, "people": people})
        return pd.concat([metros, towns], ignore_index=True)

    @cached_property
    def settled(self) -> np.ndarray:
        """How settled the countryside is (relative): the East and the Pacific coast more than
        the interior West, with regional variation."""
        lon, lat = self.lonlat_grid
        x, y = self.pixel_xy()
        base = 0.1 + 0.9 * _sigmoid((lon + 98.0) / 2.0)
        coast = 0.7 * np.exp(-(((lon + 121.8) / 1.3) ** 2)) * (lat < 48.5)
        wiggle = np.exp(0.6 * _smooth_field(self.rng("settled"), [150, 400, 900])(x, y))
        return np.where(self.land, (base + coast) * wiggle, 0.0)

    @cached_property
    def people(self) -> np.ndarray:
        """People per pixel of the population raster: a rural background plus each city spread
        over a Gaussian whose width grows with its size; TOTAL_PEOPLE in all."""
        x0, y0, cols, rows = self.grid
        grid = np.zeros((rows, cols))
        cities = self.cities
        for cx, cy, p in zip(cities["x"], cities["y"], cities["people"], strict=True):
            sigma = 4000.0 * (p / 1e5) ** 0.4
            c, r = (cx - x0) / self.RES, (cy - y0) / self.RES
            reach = math.ceil(3 * sigma / self.RES)
            c0, c1 = max(int(c) - reach, 0), min(int(c) + reach + 1, cols)
            r0, r1 = max(int(r) - reach, 0), min(int(r) + reach + 1, rows)
            if c1 <= c0 or r1 <= r0:
                continue
            gx = (np.arange(c0, c1) + 0.5 - c) * self.RES
            gy = (np.arange(r0, r1) + 0.5 - r) * self.RES
            k = np.exp(-0.5 * (gy[:, None] ** 2 + gx[None, :] ** 2) / max(sigma, 1.0) ** 2)
            k *= self.land[r0:r1, c0:c1]
            if k.sum() > 0:
                grid[r0:r1, c0:c1] += p * k / k.sum()
        rural = self.settled
        rest = max(TOTAL_PEOPLE - grid.sum(), 0.15 * TOTAL_PEOPLE)
        grid += rest * rural / rural.sum()
        return grid * TOTAL_PEOPLE / grid.sum()

    def sample_pixels(self, rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
        """Flat pixel indices drawn with probability proportional to `weights`."""
        w = np.where(self.land, np.maximum(weights, 0), 0).ravel()
        return rng.choice(w.size, size=n, p=w / w.sum())

    def pixel_points(self, rng: np.random.Generator, idx: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """A uniform point inside each of the given pixels."""
        x0, y0, cols, _ = self.grid
        r, c = np.divmod(idx, cols)
        return (x0 + (c + rng.uniform(0, 1, len(idx))) * self.RES,
                y0 + (r + rng.uniform(0, 1, len(idx))) * self.RES)

    def density_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """People per km2 at points (from the population raster)."""
        x0, y0, cols, rows = self.grid
        c = np.clip(((x - x0) / self.RES).astype(int), 0, cols - 1)
        r = np.clip(((y - y0) / self.RES).astype(int), 0, rows - 1)
        return self.people[r, c] / (self.RES / 1000.0) ** 2

    @cached_property
    def tracts(self) -> pd.DataFrame:
        """county (row of `counties`), tractce, people, geometry: Voronoi cells of seeds drawn
        where people live (small tracts in cities, large ones in the country), cut to counties."""
        rng = self.rng("tracts")
        counties = self.counties
        frames = counties["geometry"].to_numpy()
        idx = self.sample_pixels(rng, self.people, self.n("tracts"))
        x, y = self.pixel_points(rng, idx)
        tree = shapely.STRtree(frames)
        pt, cty = tree.query(shapely.points(x, y), predicate="within")
        xy = np.column_stack([x[pt], y[pt]])
        empty = np.setdiff1d(np.arange(len(frames)), cty)
        if len(empty):
            xy = np.concatenate([xy, shapely.get_coordinates(shapely.point_on_surface(frames[empty]))])
            cty = np.concatenate([cty, empty])
        cells, owner = _voronoi_within(xy, cty, frames)
        cells = shapely.segmentize(cells, self.step(1000.0))
        cy = shapely.get_y(shapely.centroid(cells))
        order = np.lexsort((-cy, owner))
        cells, owner = cells[order], owner[order]
        rank = np.arange(len(owner)) - np.searchsorted(owner, owner, side="left")
        split = rng.random(len(cells)) < 0.3
        code = (rank + 1) * 100 + np.where(split, rng.integers(1, 3, len(cells)), 0)
        # the county's people shared among its tracts, about 4,000 each
        shares = rng.lognormal(0, 0.25, len(cells))
        total = np.bincount(owner, weights=shares, minlength=len(frames))
        people = self.county_people[owner] * shares / total[owner]
        return pd.DataFrame({"county": owner, "tractce": [f"{c:06d}" for c in code],
                             "people": np.round(people), "geometry": cells})

    @cached_property
    def county_people(self) -> np.ndarray:
        """People per county: the population raster summed over the pixels each holds."""
        frames = self.counties["geometry"].to_numpy()
        x, y = self.pixel_xy()
        on = self.land.ravel()
        pts = shapely.points(x.ravel()[on], y.ravel()[on])
        values = self.people.ravel()[on]
        p, c = shapely.STRtree(frames).query(pts, predicate="within")
        out = np.bincount(c, weights=values[p], minlength=len(frames))
        small = out <= 0
        if small.any():  # counties smaller than a pixel: density at their point times area
            rp = shapely.point_on_surface(frames[small])
            out[small] = self.density_at(shapely.get_x(rp), shapely.get_y(rp)) * \
                shapely.area(frames[small]) / 1e6
        return np.maximum(np.round(out), 50)

    def county_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Row of `counties` holding each point (the nearest county for points off the land)."""
        tree = self.county_tree
        pts = shapely.points(x, y)
        out = np.full(len(pts), -1)
        p, c = tree.query(pts, predicate="within")
        out[p] = c
        miss = np.flatnonzero(out < 0)
        if len(miss):
            p2, c2 = tree.query_nearest(pts[miss], all_matches=False)
            out[miss[p2]] = c2
        return out

    @cached_property
    def county_tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.counties["geometry"].to_numpy())

    # --- federal land ----------------------------------------------------------------------

    @cached_property
    def tiles(self) -> pd.DataFrame:
        """The land cut into Voronoi tiles (smaller in the East, as its parcels are), each with
        the state its seed lies in: the pieces PAD-US parcels are made of."""
        rng = self.rng("tiles")
        lon, _ = self.lonlat_grid
        weight = self.land * (1.0 + 1.5 * _sigmoid((lon + 100.0) / 2.0))
        idx = self.sample_pixels(rng, weight, self.n("tiles", 200))
        x, y = self.pixel_points(rng, idx)
        cells = _cells_in(np.column_stack([x, y]), self.outline)
        states = self.states["geometry"].to_numpy()
        pts = shapely.points(x, y)
        p, s_idx = shapely.STRtree(states).query(pts, predicate="within")
        state = np.full(len(pts), -1)
        state[p] = s_idx
        miss = np.flatnonzero(state < 0)
        if len(miss):
            p2, s2 = shapely.STRtree(states).query_nearest(pts[miss], all_matches=False)
            state[miss[p2]] = s2
        ok = ~shapely.is_missing(cells)
        ok[ok] = ~shapely.is_empty(cells[ok])
        return pd.DataFrame({"x": x[ok], "y": y[ok], "state": state[ok], "geometry": cells[ok],
                             "area": shapely.area(cells[ok])})

    @cached_property
    def parcels(self) -> pd.DataFrame:
        """PAD-US records: federal tiles in coherent blocks (per-state shares scaled to the
        federal target), agencies and protected designations as coherent regions, tribal and
        state trust land; split at state lines."""
        rng = self.rng("padus")
        tiles = self.tiles
        states = self.states
        abbr = states["abbr"].to_numpy()
        n_states = len(states)
        x, y, st, area = (tiles[c].to_numpy() for c in ("x", "y", "state", "area"))
        state_area = np.bincount(st, weights=area, minlength=n_states)
        share = np.array([FEDERAL_SHARE.get(a, 1) / 100.0 for a in abbr])
        lo, hi = 0.5, 3.0
        for _ in range(40):  # the common factor that brings the estate to its target
            f = (lo + hi) / 2
            total = (np.minimum(share * f, 0.93) * state_area).sum()
            lo, hi = (f, hi) if total < FEDERAL_TARGET_KM2 * 1e6 else (lo, f)
        target = np.minimum(share * f, 0.93) * state_area

        def pick(score: np.ndarray, goal: np.ndarray, allowed: np.ndarray) -> np.ndarray:
            """Per state, the highest-scoring allowed tiles until their area reaches the goal."""
            chosen = np.zeros(len(score), dtype=bool)
            order = np.lexsort((-score, st))
            order = order[allowed[order]]
            cum = np.cumsum(area[order])
            st_o = st[order]
            first = np.searchsorted(st_o, np.arange(n_states))
            start_cum = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
            start_cum[first == 0] = 0.0
            within = cum - start_cum[st_o] - area[order] < goal[st_o]
            chosen[order[within]] = True
            return chosen

        field = _smooth_field(rng, [60, 150, 400])(x, y) + rng.normal(0, 0.35, len(x))
        federal = pick(field, target, np.ones(len(x), dtype=bool))
        tribal_goal = np.array([TRIBAL_SHARE.get(a, 0) / 100.0 for a in abbr]) * state_area
        tribal = pick(_smooth_field(rng, [80, 200])(x, y), tribal_goal, ~federal)
        trust_goal = np.array([STATE_TRUST_SHARE.get(a, 0) / 100.0 for a in abbr]) * state_area
        trust = pick(rng.random(len(x)), trust_goal, ~federal & ~tribal)

        agency = self._agencies(rng, x, y, st, abbr)
        agency = np.where(federal, agency, np.where(tribal, "TRIB", np.where(trust, "SLB", "")))
        keep = agency != ""
        des, gap = self._designations(rng, x[keep], y[keep], agency[keep])
        rec = pd.DataFrame({"agency": agency[keep], "designation": des, "gap": gap,
                            "state": st[keep], "geometry": tiles["geometry"].to_numpy()[keep]})
        rec["name"] = _unit_names(rng, rec["agency"].to_numpy(), rec["designation"].to_numpy())
        rec["geometry"] = _inholdings(rng, rec["geometry"].to_numpy(),
                                      np.isin(rec["agency"].to_numpy(), ["BLM", "USFS"]))
        return self._split_at_states(rec)

    def _agencies(self, rng: np.random.Generator, x: np.ndarray, y: np.ndarray, st: np.ndarray,
                  abbr: np.ndarray) -> np.ndarray:
        """Managing agency of each tile: the state's agency mix, in coherent regions."""
        names = list(AGENCY_MIX["_east"])
        weights = np.array([[AGENCY_MIX.get(a, AGENCY_MIX["_west" if a in WEST else "_east"])
                             .get(g, 0.0) for g in names] for a in abbr]) + 1e-9
        scores = np.log(weights[st]) + np.column_stack(
            [1.3 * _smooth_field(rng, [70, 180, 400])(x, y) for _ in names])
        return np.asarray(names, dtype=object)[np.argmax(scores, axis=1)]

    def _designations(self, rng: np.random.Generator, x: np.ndarray, y: np.ndarray,
                      agency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Des_Tp and GAP status: protected designations in coherent clusters per agency."""
        des = np.empty(len(agency), dtype=object)
        gap = np.empty(len(agency), dtype=object)
        protected_field = _smooth_field(rng, [40, 100])(x, y) + rng.normal(0, 0.5, len(x))
        for name, spec in DESIGNATIONS.items():
            hit = np.flatnonzero(agency == name)
            if not len(hit):
                continue
            share, protected, plain = spec
            cut = np.quantile(protected_field[hit], 1 - share) if share < 1 else -np.inf
            is_prot = protected_field[hit] >= cut if share > 0 else np.zeros(len(hit), bool)
            for rows, options in ((hit[is_prot], protected), (hit[~is_prot], plain)):
                if not len(rows) or not options:
                    continue
                probs = np.array([o[2] for o in options], dtype=float)
                k = rng.choice(len(options), size=len(rows), p=probs / probs.sum())
                des[rows] = np.array([o[0] for o in options], dtype=object)[k]
                gaps = np.array([o[1] for o in options], dtype=object)[k]
                gap[rows] = [g if isinstance(g, str) else rng.choice(list(g)) for g in gaps]
        return des, gap

    def _split_at_states(self, rec: pd.DataFrame) -> pd.DataFrame:
        """Records crossing a state line become one record per state, as PAD-US has them."""
        states = self.states["geometry"].to_numpy()
        geoms = rec["geometry"].to_numpy()
        home = states[rec["state"].to_numpy()]
        shapely.prepare(states)
        inside = shapely.contains(home, geoms)
        cross = np.flatnonzero(~inside)
        g_idx, s_idx = shapely.STRtree(states).query(geoms[cross], predicate="intersects")
        pieces = _polygonal(shapely.intersection(geoms[cross][g_idx], states[s_idx]))
        ok = ~shapely.is_missing(pieces)
        ok[ok] = shapely.area(pieces[ok]) > 1e5
        parts = rec.iloc[cross[g_idx[ok]]].copy()
        parts["geometry"] = pieces[ok]
        parts["state"] = s_idx[ok]
        out = pd.concat([rec.iloc[np.flatnonzero(inside)], parts], ignore_index=True)
        out["geometry"] = shapely.segmentize(out["geometry"].to_numpy(), self.step(600.0))
        return out

    # --- the grid -----------------------------------------------------------------------------

    @cached_property
    def substations(self) -> pd.DataFrame:
        """x, y, tier (0 backbone 345-765 kV, 1 regional 138-230 kV, 2 local), max/min kV,
        known (False: HIFLD's -999999), name: where people are, with a rural share."""
        rng = self.rng("substations")
        n = self.n("substations", 30)
        pop = self.people / self.people.sum()
        land = self.land / self.land.sum()
        idx = self.sample_pixels(rng, 0.65 * pop ** 0.55 / (pop ** 0.55).sum() + 0.35 * land, n)
        x, y = self.pixel_points(rng, idx)
        d = self.density_at(x, y)
        tier = np.full(n, 2)
        n_a, n_b = max(int(0.025 * n), 4), max(int(0.15 * n), 8)
        w_a = (d + 1) ** 0.2
        a = rng.choice(n, size=n_a, replace=False, p=w_a / w_a.sum())
        tier[a] = 0
        rest = np.flatnonzero(tier == 2)
        w_b = (d[rest] + 1) ** 0.35
        tier[rng.choice(rest, size=n_b, replace=False, p=w_b / w_b.sum())] = 1
        lon = _lonlat(np.column_stack([x, y]))[:, 0]
        west = lon < -104
        kv = np.empty(n)
        kv[tier == 0] = np.where(west[tier == 0], rng.choice([500.0, 345.0], (tier == 0).sum()),
                                 rng.choice([765.0, 500.0, 345.0, 345.0, 345.0], (tier == 0).sum()))
        kv[tier == 1] = np.where(west[tier == 1], rng.choice([230.0, 230.0, 230.0, 138.0], (tier == 1).sum()),
                                 rng.choice([230.0, 161.0, 138.0, 138.0], (tier == 1).sum()))
        kv[tier == 2] = rng.choice([115.0, 69.0, 69.0, 115.0, 46.0, 34.5], (tier == 2).sum())
        lower = {765.0: 345.0, 500.0: 230.0, 345.0: 138.0, 230.0: 115.0, 161.0: 69.0,
                 138.0: 69.0, 115.0: 34.5, 69.0: 12.47, 46.0: 12.47, 34.5: 12.47}
        min_kv = np.array([lower[v] for v in kv])
        known = rng.random(n) > np.choose(tier, [0.02, 0.08, 0.27])
        names = np.char.upper(_names(rng, n).astype(str)).astype(object)
        names = np.where(known, names, np.array([f"UNKNOWN{300000 + i}" for i in range(n)],
                                                dtype=object))
        return pd.DataFrame({"x": x, "y": y, "tier": tier, "max_kv": kv, "min_kv": min_kv,
                             "known": known, "name": names})

    def transmission_lines(self, n: int | None = None) -> pd.DataFrame:
        """sub_1, sub_2 (rows of `substations`), kv (NaN unknown), tier, geometry: a backbone
        mesh on the 345-765 kV substations, a regional mesh on those and the 138-230 kV ones,
        and local spanning trees on all (a minimum spanning tree plus the shortest other
        Delaunay edges): `n` lines in all."""
        n = self.n("lines", 20) if n is None else n
        if n in self._lines:
            return self._lines[n]
        rng = self.rng("lines")
        subs = self.substations
        xy = subs[["x", "y"]].to_numpy()
        tier = subs["tier"].to_numpy()
        want = [max(int(0.03 * n), 3), max(int(0.15 * n), 6)]
        want.append(max(n - sum(want), 1))
        edges, tiers = [], []
        for t, k in enumerate(want):
            members = np.flatnonzero(tier <= t) if t < 2 else np.arange(len(xy))
            e = _spanning_plus(xy[members], k)
            edges.append(members[e])
            tiers.append(np.full(len(e), t))
        e = np.concatenate(edges)
        t = np.concatenate(tiers)
        kv_sub = subs["max_kv"].to_numpy()
        lo = np.minimum(kv_sub[e[:, 0]], kv_sub[e[:, 1]])
        hi = np.maximum(kv_sub[e[:, 0]], kv_sub[e[:, 1]])
        kv = np.where(t == 0, lo, np.where(t == 1, np.where(hi <= 230, hi, 230.0),
                                             np.where(lo <= 115, lo, 115.0)))
        unknown = rng.random(len(e)) < np.choose(t, [0.01, 0.03, 0.10])
        kv = np.where(unknown, np.nan, kv)
        coords, counts = _route_coords(xy[e[:, 0]], xy[e[:, 1]], rng, self.step(2000.0), 0.03,
                                       30.0, 80)
        self._lines[n] = pd.DataFrame({"sub_1": e[:, 0], "sub_2": e[:, 1], "kv": kv, "tier": t,
                                       "geometry": _lines_from(coords, counts)})
        return self._lines[n]

    @cached_property
    def plants(self) -> pd.DataFrame:
        """Power plants next to substations, by fuel in the regions that fuel favours; big
        plants tie in at 230 kV and above. x, y, code, fuel, mw, kv (NaN unknown), sub."""
        rng = self.rng("plants")
        n = self.n("plants", 20)
        subs = self.substations
        sx, sy = subs["x"].to_numpy(), subs["y"].to_numpy()
        lonlat = _lonlat(np.column_stack([sx, sy]))
        lon, lat = lonlat[:, 0], lonlat[:, 1]
        fuels = list(PLANT_FUELS)
        probs = np.array([PLANT_FUELS[f][0] for f in fuels])
        fuel = np.asarray(fuels, dtype=object)[rng.choice(len(fuels), n, p=probs / probs.sum())]
        mw = np.empty(n)
        sub = np.empty(n, dtype=int)
        region = {
            "Solar": 1 + 3 * ((lat < 38) & (lon < -100)),
            "Wind": 0.3 + 4 * ((lon > -105) & (lon < -94)),
            "Hydro": 0.5 + 2 * (lon < -110),
            "Coal": 0.3 + 1.5 * ((lon > -100) & (lon < -80)),
            "Geothermal": 0.01 + 5 * ((lon < -115) & (lat < 42)),
        }
        big_ok = subs["tier"].to_numpy() <= 1
        for f in fuels:
            rows = np.flatnonzero(fuel == f)
            if not len(rows):
                continue
            _share, median, sigma = PLANT_FUELS[f]
            mw[rows] = np.round(median * rng.lognormal(0, sigma, len(rows)), 1)
            w = np.asarray(region.get(f, np.ones(len(sx))), dtype=float)
            big = mw[rows] >= 200
            for mask, allowed in ((big, big_ok), (~big, np.ones(len(sx), dtype=bool))):
                ww = w * allowed
                if mask.any():
                    sub[rows[mask]] = rng.choice(len(sx), mask.sum(), p=ww / ww.sum())
        angle = rng.uniform(0, 2 * np.pi, n)
        dist = rng.uniform(300, 4000, n)
        x = sx[sub] + dist * np.cos(angle)
        y = sy[sub] + dist * np.sin(angle)
        kv = np.where(subs["known"].to_numpy()[sub], subs["max_kv"].to_numpy()[sub],
                      subs["min_kv"].to_numpy()[sub])
        small = mw < 20
        kv = np.where(small & (rng.random(n) < 0.6), rng.choice([12.47, 13.2, 34.5, 69.0], n), kv)
        kv = np.where(rng.random(n) < 0.04, np.nan, kv)
        codes = np.sort(rng.choice(np.arange(1, 66_000), n, replace=False))
        codes = rng.permutation(codes)
        mw = np.where(rng.random(n) < 0.01, 0.0, mw)  # retired units still listed, as in GPPD
        return pd.DataFrame({"x": x, "y": y, "code": codes, "fuel": fuel, "mw": mw, "kv": kv,
                             "sub": sub, "name": _names(rng, n)})

    # --- transport ----------------------------------------------------------------------------

    @cached_property
    def roads(self) -> pd.DataFrame:
        """Primary roads: the Gabriel graph of towns of 30,000 and more (no edge over 900 km),
        wandering a little, cut into TIGER-like pieces. rttyp, number, geometry."""
        rng = self.rng("roads")
        c = self.cities[self.cities["people"] >= 30_000]
        xy = c[["x", "y"]].to_numpy()
        people = c["people"].to_numpy()
        e = _gabriel(xy)
        length = np.hypot(*(xy[e[:, 0]] - xy[e[:, 1]]).T)
        e, length = e[length < 900_000], length[length < 900_000]
        big = np.minimum(people[e[:, 0]], people[e[:, 1]]) >= 100_000
        rttyp = np.where(big | (rng.random(len(e)) < 0.45), "I",
                         np.where(rng.random(len(e)) < 0.6, "U", "S"))
        coords, counts = _route_coords(xy[e[:, 0]], xy[e[:, 1]], rng, self.step(400.0), 0.03, 40.0)
        pieces = np.maximum(1, np.round(self.n("roads", 10) * length / length.sum())).astype(int)
        coords, counts, owner = _split_lines(coords, counts, pieces)
        d = xy[e[:, 1]] - xy[e[:, 0]]
        east_west = np.abs(d[:, 0]) > np.abs(d[:, 1])
        number = np.where(east_west, 2 * rng.integers(5, 50, len(e)), 2 * rng.integers(2, 50, len(e)) + 1)
        return pd.DataFrame({"rttyp": rttyp[owner], "number": number[owner],
                             "geometry": _lines_from(coords, counts)})

    @cached_property
    def rail(self) -> pd.DataFrame:
        """Rail: the relative neighbourhood graph of towns of 12,000 and more plus a third of
        their other Gabriel edges (main lines), and branch lines to rural points; cut into
        arcs. owner, net, tracks, class1, route, geometry, from/to node ids."""
        rng = self.rng("rail")
        c = self.cities[self.cities["people"] >= 12_000]
        xy = c[["x", "y"]].to_numpy()
        rng_edges = _gabriel(xy, relative_neighbourhood=True)
        gab = _gabriel(xy)
        key = rng_edges[:, 0] * len(xy) + rng_edges[:, 1]
        extra = gab[~np.isin(gab[:, 0] * len(xy) + gab[:, 1], key)]
        extra = extra[rng.random(len(extra)) < 0.33]
        mains = np.concatenate([rng_edges, extra])
        a, b = xy[mains[:, 0]], xy[mains[:, 1]]
        # branch lines: from rural points to the nearest town on the network
        n_branch = max(int(400 * min(self.scale * 10, 1)), 5)
        bx, by = self.pixel_points(rng, self.sample_pixels(rng, self.settled, n_branch))
        from scipy.spatial import cKDTree
        _, near = cKDTree(xy).query(np.column_stack([bx, by]))
        a = np.concatenate([a, xy[near]])
        b = np.concatenate([b, np.column_stack([bx, by])])
        is_branch = np.r_[np.zeros(len(mains), bool), np.ones(n_branch, bool)]
        length = np.hypot(*(b - a).T)
        ok = length > 2000
        a, b, length, is_branch = a[ok], b[ok], length[ok], is_branch[ok]
        mid_lon = _lonlat((a + b) / 2)[:, 0]
        mid_lat = _lonlat((a + b) / 2)[:, 1]
        owner = np.empty(len(a), dtype=object)
        west, east = mid_lon < -104, mid_lon > -88
        central = ~west & ~east
        owner[west] = rng.choice(["BNSF", "UP"], west.sum())
        owner[east] = rng.choice(["CSXT", "NS", "CSXT", "NS", "CN"], east.sum())
        owner[central] = rng.choice(["BNSF", "UP", "BNSF", "UP", "CN", "CPKC", "KCS", "NS"],
                                    central.sum())
        owner[east & (mid_lat > 42.0) & (mid_lon < -82)] = "CN"
        short = is_branch | (rng.random(len(a)) < 0.18)
        owner[short] = rng.choice(SHORT_LINES, short.sum())
        coords, counts = _route_coords(a, b, rng, self.step(300.0), 0.025, 20.0)
        pieces = np.maximum(1, np.round(self.n("rail", 20) * length / length.sum())).astype(int)
        # node ids: each route's ends and the cut points between its arcs
        coords, counts, route = _split_lines(coords, counts, pieces)
        k = np.arange(len(route)) - np.searchsorted(route, route, side="left")
        first = k == 0
        last = np.r_[route[1:] != route[:-1], True]
        end_key = np.round(np.concatenate([a, b]) / 10.0).astype(np.int64)
        _, end_id = np.unique(end_key[:, 0] * 10_000_000 + end_key[:, 1], return_inverse=True)
        start_node, end_node = end_id[:len(a)], end_id[len(a):]
        inner_base = end_id.max() + 1
        from_node = np.where(first, start_node[route], inner_base + np.arange(len(route)) - 1)
        to_node = np.where(last, end_node[route], inner_base + np.arange(len(route)))
        net = np.where(short[route], rng.choice(["M", "M", "O"], len(route)), "M")
        roll = rng.random(len(route))
        net = np.where(roll < 0.03, rng.choice(["A", "R", "T"], len(route)),
                       np.where(roll < 0.07, "S", np.where(roll < 0.10, "Y",
                                                           np.where(roll < 0.13, "I", net))))
        tracks = np.where(~short[route] & (rng.random(len(route)) < 0.3), 2, 1)
        return pd.DataFrame({"owner": owner[route], "net": net, "tracks": tracks,
                             "route": route, "from_node": 430_000 + from_node,
                             "to_node": 430_000 + to_node,
                             "geometry": _lines_from(coords, counts)})

    @cached_property
    def airports(self) -> pd.DataFrame:
        """OurAirports rows: large and medium airports at the biggest towns, small fields,
        heliports, seaplane bases and closed fields where people are. type, x, y, name,
        scheduled, iata."""
        rng = self.rng("airports")
        n = self.n("airports", 30)
        counts = _largest_remainder(np.array(list(AIRPORT_TYPES.values())), n, minimum=0)
        kinds = dict(zip(AIRPORT_TYPES, counts, strict=True))
        cities = self.cities.sort_values("people", ascending=False, kind="stable")
        n_big = kinds["large_airport"] + kinds["medium_airport"]
        hubs = cities.iloc[:max(int(n_big * 1.3), 1)]
        chosen = hubs.iloc[np.sort(rng.choice(len(hubs), min(n_big, len(hubs)), replace=False))]
        bx = chosen["x"].to_numpy() + rng.normal(0, 8000, len(chosen))
        by = chosen["y"].to_numpy() + rng.normal(0, 8000, len(chosen))
        btype = np.where(np.arange(len(chosen)) < kinds["large_airport"], "large_airport",
                         "medium_airport")
        frames = [pd.DataFrame({"type": btype, "x": bx, "y": by,
                                "name": chosen["name"].to_numpy() + np.where(
                                    btype == "large_airport", " International Airport",
                                    " Regional Airport")})]
        pop = self.people
        for kind, power, suffix in (("small_airport", 0.25, " Airport"),
                                    ("heliport", 0.9, " Heliport"),
                                    ("closed", 0.4, " Airstrip"),
                                    ("seaplane_base", 0.3, " Seaplane Base"),
                                    ("balloonport", 0.3, " Balloonport")):
            k = int(kinds[kind])
            if k == 0:
                continue
            x, y = self.pixel_points(rng, self.sample_pixels(rng, pop ** power, k))
            frames.append(pd.DataFrame({"type": kind, "x": x, "y": y,
                                        "name": _names(rng, k) + suffix}))
        out = pd.concat(frames, ignore_index=True)
        large = out["type"].to_numpy() == "large_airport"
        medium = out["type"].to_numpy() == "medium_airport"
        small = out["type"].to_numpy() == "small_airport"
        out["scheduled"] = large | (medium & (rng.random(len(out)) < 0.55)) | \
            (small & (rng.random(len(out)) < 0.005))
        letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        iata = ["".join(rng.choice(letters, 3)) for _ in range(int((large | medium).sum()))]
        out["iata"] = None
        out.loc[large | medium, "iata"] = iata
        return out

    # --- water ----------------------------------------------------------------------------------

    @cached_property
    def rivers(self) -> pd.DataFrame:
        """Natural Earth-like rivers: the main stems (hand-placed), tributaries joining them and
        each other, split into features by reach. name, scalerank, featurecla, geometry."""
        rng = self.rng("rivers")
        names, coords, counts, ranks = [], [], [], []
        for name, rank, pts in MAJOR_RIVERS:
            xy = _project(pts)
            c, k = _route_coords(xy[:-1], xy[1:], rng, self.step(3000.0), 0.05, 300.0)
            # join the legs of the course (each leg repeats its first vertex)
            start = np.cumsum(k) - k
            keep = np.ones(len(c), bool)
            keep[start[1:]] = False
            coords.append(c[keep])
            counts.append(int(keep.sum()))
            names.append(name)
            ranks.append(rank)
        majors = _lines_from(np.concatenate(coords), np.array(counts))
        # tributaries: from settled country to the nearest point of a river drawn before
        n_trib = max(int(500 * min(self.scale * 10, 1)), 8)
        tx, ty = self.pixel_points(rng, self.sample_pixels(rng, self.land.astype(float), n_trib))
        network = shapely.union_all(majors)
        starts = shapely.points(tx, ty)
        ends = shapely.get_coordinates(shapely.shortest_line(starts, network))[1::2]
        a = np.column_stack([tx, ty])
        keep = np.hypot(*(ends - a).T) > 30_000
        a, ends = a[keep], ends[keep]
        c, k = _route_coords(a, ends, rng, self.step(3000.0), 0.08, 250.0)
        tribs = _lines_from(c, k)
        geoms = np.concatenate([majors, tribs])
        trib_names = _names(rng, len(tribs))
        trib_names = np.array([n.split(" ")[0] + " River" if i % 3 else n for i, n in
                               enumerate(trib_names)], dtype=object)
        all_names = np.concatenate([np.asarray(names, dtype=object), trib_names])
        rank = np.concatenate([ranks, rng.choice([5, 6, 7, 8], len(tribs))])
        # clip to the land and split long rivers into reaches
        geoms = shapely.intersection(geoms, self.outline)
        parts, idx = shapely.get_parts(geoms, return_index=True)
        ok = np.isin(shapely.get_type_id(parts), [1]) & (shapely.length(parts) > 5000)
        parts, idx = parts[ok], idx[ok]
        xy, counts = shapely.get_coordinates(parts), shapely.get_num_coordinates(parts)
        reaches = np.maximum(1, (shapely.length(parts) / 250_000).astype(int))
        xy, counts, owner = _split_lines(xy, counts, reaches)
        src = idx[owner]
        featurecla = np.where(rng.random(len(src)) < 0.04, "Lake Centerline", "River")
        return pd.DataFrame({"name": all_names[src], "scalerank": rank[src],
                             "featurecla": featurecla, "geometry": _lines_from(xy, counts)})

    @cached_property
    def basins(self) -> pd.DataFrame:
        """Aqueduct sub-basins: Voronoi cells over the land with baseline water stress that is
        high in the dry Southwest and the western Plains, low in the humid East and Northwest."""
        rng = self.rng("aqueduct")
        n = self.n("basins", 30)
        x, y = self.pixel_points(rng, self.sample_pixels(rng, self.land.astype(float), n))
        cells = _cells_in(np.column_stack([x, y]), self.outline)
        ok = ~shapely.is_missing(cells)
        cells, x, y = shapely.segmentize(cells[ok], self.step(2000.0)), x[ok], y[ok]
        lonlat = _lonlat(np.column_stack([x, y]))
        lon, lat = lonlat[:, 0], lonlat[:, 1]
        dry = _sigmoid((-lon - 100.0) / 3.0) * _sigmoid((43.0 - lat) / 2.0)
        dry = dry + 0.5 * _sigmoid((-lon - 97.0) / 2.0) * _sigmoid((lat - 36.0) / 3.0) \
            * _sigmoid((-105.0 - lon) * -1.0)
        wet_nw = _sigmoid((-lon - 121.0) / 1.0) * _sigmoid((lat - 43.0) / 1.0)
        log_raw = -3.2 + 4.6 * dry - 1.5 * wet_nw + 0.5 * _smooth_field(rng, [200, 600])(x, y) \
            + rng.normal(0, 0.35, len(x))
        raw = np.exp(log_raw)
        return pd.DataFrame({"raw": raw, "lon": lon, "lat": lat, "geometry": cells,
                             "arid": (dry > 0.8) & (rng.random(len(x)) < 0.08),
                             "nodata": rng.random(len(x)) < 0.01})


# ----------------------------------------------------------------------------------------------
# terrain
# ----------------------------------------------------------------------------------------------

#: The DEM: 3 arc-second pixels over Utah and its neighbours (7,000 x 6,000 at scale 1).
DEM_BOUNDS = (-114.5, 37.0, -108.0 - 2.0 / 3.0, 42.0)
DEM_NODATA = -32768


def _fbm(rng: np.random.Generator, rows: int, cols: int, power: float,
         stretch_y: float = 1.0) -> np.ndarray:
    """Fractal noise by spectral synthesis (amplitude ~ k^-power), unit variance; stretch_y > 1
    draws features out north-south (the Basin and Range)."""
    ky = np.fft.fftfreq(rows)[:, None] * stretch_y
    kx = np.fft.rfftfreq(cols)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    amp = k ** -power
    amp[0, 0] = 0.0
    spec = amp * (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape))
    field = np.fft.irfft2(spec, s=(rows, cols))
    return ((field - field.mean()) / field.std()).astype(np.float32)


def dem_elevation(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Elevation in metres (float32): flat basins between north-south ranges rising up to about
    1,800 m above them, a gently varying regional surface, and rugged relief in the mountains."""
    from scipy import ndimage

    coarse = 8 if min(rows, cols) >= 800 else 2
    r8, c8 = -(-rows // coarse), -(-cols // coarse)
    ranges = _fbm(rng, r8, c8, 1.7, stretch_y=3.0)
    regional = _fbm(rng, r8, c8, 2.6)
    mountains = 1.6 * np.tanh(np.maximum(ranges - 0.25, 0) ** 1.2 / 1.6)
    low = 1450.0 + 300.0 * regional + 1100.0 * mountains
    zoom = (rows / r8, cols / c8)
    elev = ndimage.zoom(low, zoom, order=1)[:rows, :cols]
    mask = ndimage.zoom(np.minimum(mountains * 2.0, 1.0).astype(np.float32), zoom, order=1)[:rows, :cols]
    tile = min(1024, rows, cols)
    detail = _fbm(rng, tile, tile, 1.6)
    reps = (-(-rows // tile), -(-cols // tile))
    elev += (5.0 + 70.0 * mask) * np.tile(detail, reps)[:rows, :cols]
    return elev


def write_dem(path: Path, seed: int, scale: float = 1.0) -> int:
    """The DEM GeoTIFF (int16, nodata -32768 in a few SRTM-like voids); returns its pixels."""
    import rasterio
    from affine import Affine

    rng = _stream(seed, "dem")
    rows = max(round(SIZES["dem"][0] * math.sqrt(scale)), 60)
    cols = max(round(SIZES["dem"][1] * math.sqrt(scale)), 70)
    data = np.round(dem_elevation(rng, rows, cols)).astype(np.int16)
    for _ in range(6):  # voids
        r0, c0 = rng.integers(0, rows - 20), rng.integers(0, cols - 20)
        h, w = rng.integers(3, max(min(rows // 50, 80), 4), 2)
        data[r0:r0 + h, c0:c0 + w] = DEM_NODATA
    data.ravel()[rng.integers(0, data.size, max(data.size // 200_000, 3))] = DEM_NODATA
    west, south, east, north = DEM_BOUNDS
    transform = Affine((east - west) / cols, 0.0, west, 0.0, -(north - south) / rows, north)
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "int16",
               "crs": LONLAT_CRS, "transform": transform, "nodata": DEM_NODATA,
               "compress": "deflate", "predictor": 2, "zlevel": 6, "tiled": True,
               "blockxsize": 512, "blockysize": 512, "num_threads": "all_cpus"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(AREA_OR_POINT="Area")
        dst.set_band_unit(1, "metre")
    return rows * cols


# ----------------------------------------------------------------------------------------------
# writers: one per file, each in its provider's schema
# ----------------------------------------------------------------------------------------------

def _valid(geoms: np.ndarray) -> np.ndarray:
    """Polygons repaired where bending a thin sliver made an edge cross another (rare)."""
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = _polygonal(shapely.make_valid(geoms[bad]))
    return geoms


def _write_vector(gdf: gpd.GeoDataFrame, path: Path, layer: str | None = None,
                  **kwargs: Any) -> None:
    """GeoPackage or GeoJSON through GDAL, with the dates GDAL writes fixed (reruns are
    byte-identical)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    with _gdal_config({"OGR_CURRENT_DATE": _FIXED_DATE}, pyogrio):
        pyogrio.write_dataframe(gdf, path, layer=layer, **kwargs)


def _write_zipped_shapefile(gdf: gpd.GeoDataFrame, path: Path, geometry_type: str) -> None:
    """A zipped shapefile as the Census Bureau, BTS and Natural Earth publish them."""
    stem = path.name.removesuffix(".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{stem}.shp"
        pyogrio.write_dataframe(gdf, shp, driver="ESRI Shapefile", geometry_type=geometry_type,
                                layer_options={"ENCODING": "UTF-8",
                                               "DBF_DATE_LAST_UPDATE": _FIXED_DATE[:10]})
        _zip_files(path, sorted(Path(tmp).iterdir()))


def _write_table(df: pd.DataFrame, path: Path, lineterminator: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator=lineterminator)


def _out(world: World, geoms: np.ndarray) -> np.ndarray:
    """Model geometries as published: warped, in NAD83 degrees (polygons kept valid)."""
    out = _to_lonlat(world.warp.geoms(geoms))
    polygons = np.isin(shapely.get_type_id(out), [3, 6])
    if polygons.any():
        out[polygons] = _valid(out[polygons])
    return out


def _state_codes(world: World, state_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = world.states
    return s["fips"].to_numpy()[state_rows], s["abbr"].to_numpy()[state_rows]


def _area_m2(geoms: np.ndarray) -> np.ndarray:
    return shapely.area(geoms)   # model space is equal-area


def write_states(world: World, path: Path) -> int:
    s = world.states
    area = _area_m2(s["geometry"].to_numpy())
    water = np.round(area * 0.02).astype(np.int64)
    gdf = gpd.GeoDataFrame({
        "STATEFP": s["fips"], "STATENS": [f"{1779770 + int(f):08d}" for f in s["fips"]],
        "GEOIDFQ": "0400000US" + s["fips"], "GEOID": s["fips"], "STUSPS": s["abbr"],
        "NAME": s["name"], "LSAD": "00", "ALAND": np.round(area).astype(np.int64) - water,
        "AWATER": water,
    }, geometry=_out(world, s["geometry"].to_numpy()), crs=LONLAT_CRS)
    _write_zipped_shapefile(gdf, path, "MultiPolygon")
    return len(gdf)


def write_counties(world: World, path: Path) -> int:
    c = world.counties
    fips, abbr = _state_codes(world, c["state"].to_numpy())
    geoid = fips + c["countyfp"].to_numpy().astype(object)
    area = _area_m2(c["geometry"].to_numpy())
    water = np.round(area * 0.01).astype(np.int64)
    gdf = gpd.GeoDataFrame({
        "STATEFP": fips, "COUNTYFP": c["countyfp"], "COUNTYNS": [f"{161500 + i:08d}" for i in
                                                                  range(len(c))],
        "GEOIDFQ": "0500000US" + geoid, "GEOID": geoid, "NAME": c["name"],
        "NAMELSAD": c["name"] + " County", "STUSPS": abbr,
        "STATE_NAME": world.states["name"].to_numpy()[c["state"].to_numpy()], "LSAD": "06",
        "ALAND": np.round(area).astype(np.int64) - water, "AWATER": water,
    }, geometry=_out(world, c["geometry"].to_numpy()), crs=LONLAT_CRS)
    _write_zipped_shapefile(gdf, path, "MultiPolygon")
    return len(gdf)


def tract_geoids(world: World) -> np.ndarray:
    t, c = world.tracts, world.counties
    county = t["county"].to_numpy()
    fips, _ = _state_codes(world, c["state"].to_numpy()[county])
    return fips + c["countyfp"].to_numpy()[county].astype(object) + t["tractce"].to_numpy()


def _tract_name(code: np.ndarray) -> np.ndarray:
    whole = np.array([str(int(c[:4])) for c in code], dtype=object)
    sub = np.array([c[4:] for c in code], dtype=object)
    return np.where(sub == "00", whole, whole + "." + sub)


def write_tracts(world: World, path: Path) -> int:
    t, c = world.tracts, world.counties
    county = t["county"].to_numpy()
    fips, abbr = _state_codes(world, c["state"].to_numpy()[county])
    geoid = tract_geoids(world)
    name = _tract_name(t["tractce"].to_numpy())
    area = _area_m2(t["geometry"].to_numpy())
    water = np.round(area * 0.005).astype(np.int64)
    gdf = gpd.GeoDataFrame({
        "STATEFP": fips, "COUNTYFP": c["countyfp"].to_numpy()[county], "TRACTCE": t["tractce"],
        "GEOIDFQ": "1400000US" + geoid, "GEOID": geoid, "NAME": name,
        "NAMELSAD": "Census Tract " + name, "STUSPS": abbr,
        "NAMELSADCO": c["name"].to_numpy()[county] + " County",
        "STATE_NAME": world.states["name"].to_numpy()[c["state"].to_numpy()[county]],
        "LSAD": "CT", "ALAND": np.round(area).astype(np.int64) - water, "AWATER": water,
    }, geometry=_out(world, t["geometry"].to_numpy()), crs=LONLAT_CRS)
    _write_zipped_shapefile(gdf, path, "MultiPolygon")
    return len(gdf)


#: ACS variables written for counties and tracts (the API's column order).
ACS_VARIABLES = ["B01003_001E", "B03002_001E", "B23025_003E", "B23025_004E", "B06009_005E",
                 "B06009_006E", "B15003_022E", "B15003_023E", "B15003_024E", "B15003_025E",
                 "C24030_007E", "C24030_034E"]


def workforce_tables(world: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ACS estimates per tract and per county (the counties' are their tracts' sums)."""
    rng = world.rng("acs")
    t = world.tracts
    county = t["county"].to_numpy()
    n_c = len(world.counties)
    pop = t["people"].to_numpy()
    density = world.density_at(*shapely.get_coordinates(
        shapely.point_on_surface(t["geometry"].to_numpy())).T)
    lf_share = np.clip(rng.normal(0.49, 0.035, n_c)[county] + rng.normal(0, 0.02, len(t)), 0.3, 0.7)
    unemployed = np.clip(rng.normal(0.052, 0.012, n_c)[county] + rng.normal(0, 0.01, len(t)), 0.01, 0.25)
    degree = np.clip(0.16 + 0.05 * np.log10(density + 1) + rng.normal(0, 0.05, len(t)), 0.05, 0.75)
    manuf = np.clip(rng.normal(0.09, 0.03, n_c)[county], 0.02, 0.3)
    lf = np.round(pop * lf_share)
    employed = np.round(lf * (1 - unemployed))
    adults = pop * 0.67
    deg = adults * degree
    values = {
        "B01003_001E": pop, "B03002_001E": pop, "B23025_003E": lf, "B23025_004E": employed,
        "B06009_005E": np.round(deg * 0.62), "B06009_006E": np.round(deg * 0.38),
        "B15003_022E": np.round(deg * 0.62), "B15003_023E": np.round(deg * 0.27),
        "B15003_024E": np.round(deg * 0.06), "B15003_025E": np.round(deg * 0.05),
        "C24030_007E": np.round(employed * manuf * 0.71), "C24030_034E": np.round(employed * manuf * 0.29),
    }
    tract = pd.DataFrame({k: v.astype(np.int64) for k, v in values.items()})
    county_values = tract.groupby(county).sum().reindex(range(n_c), fill_value=0)
    # the API's annotation for estimates it cannot compute, in a few tract cells
    for col in ("B23025_003E", "B23025_004E", "B06009_006E"):
        hit = rng.random(len(tract)) < 0.003
        tract.loc[hit, col] = -666666666
    return tract, county_values


def write_acs_and_laus(world: World, tract_path: Path, county_path: Path, laus_path: Path
                       ) -> tuple[int, int, int]:
    """The Census API answers saved as CSV (for=tract:* per state, joined; for=county:*) and
    the BLS LAUS county table as re-published in CSV."""
    rng = world.rng("laus")
    t, c, s = world.tracts, world.counties, world.states
    tract, county = workforce_tables(world)
    c_state = c["state"].to_numpy()
    t_county = t["county"].to_numpy()
    state_name = s["name"].to_numpy()
    fips = s["fips"].to_numpy()
    cname = c["name"].to_numpy().astype(object) + " County"
    tname = "Census Tract " + _tract_name(t["tractce"].to_numpy()) + "; " + cname[t_county] \
        + "; " + state_name[c_state[t_county]]
    tract_table = pd.concat([pd.DataFrame({"NAME": tname}), tract,
                             pd.DataFrame({"state": fips[c_state[t_county]],
                                           "county": c["countyfp"].to_numpy()[t_county],
                                           "tract": t["tractce"].to_numpy()})], axis=1)
    _write_table(tract_table, tract_path)
    county_table = pd.concat([pd.DataFrame({"NAME": cname + ", " + state_name[c_state]}),
                              county.reset_index(drop=True),
                              pd.DataFrame({"state": fips[c_state],
                                            "county": c["countyfp"].to_numpy()})], axis=1)
    _write_table(county_table, county_path)
    lf = np.round(county["B23025_003E"].to_numpy() * rng.uniform(0.99, 1.04, len(c))).astype(np.int64)
    un = np.round(lf * rng.uniform(0.025, 0.08, len(c))).astype(np.int64)
    abbr = s["abbr"].to_numpy()[c_state]
    lines = [(" LAUS Code,State FIPS Code,County FIPS Code,County Name/State Abbreviation,Year,"
              "Labor Force,Employed,Unemployed,Unemployment Rate (%)")]
    cfp = c["countyfp"].to_numpy()
    for i in range(len(c)):
        st = fips[c_state[i]]
        lines.append(f'CN{st}{cfp[i]}00000000,{st},{cfp[i]},"{cname[i]}, {abbr[i]}",2023,'
                     f'"{lf[i]:,}     ","{lf[i] - un[i]:,}     ","{un[i]:,}     ",'
                     f'{100.0 * un[i] / max(lf[i], 1):.1f}     ')
    laus_path.parent.mkdir(parents=True, exist_ok=True)
    laus_path.write_bytes("\r\n".join(lines).encode("utf-8"))
    return len(tract_table), len(county_table), len(c)


def write_padus(world: World, path: Path) -> int:
    """PAD-US 4.1 Fee records in a GeoPackage (layer PADUS4_1Fee, USGS Albers), MultiPolygons."""
    p = world.parcels
    rng = world.rng("padus-attributes")
    geoms = _valid(world.warp.geoms(p["geometry"].to_numpy()))
    geoms = _valid(shapely.set_precision(geoms, 0.01))
    ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    p, geoms = p.loc[ok].reset_index(drop=True), geoms[ok]
    parts, idx = shapely.get_parts(geoms, return_index=True)
    multi = shapely.multipolygons(parts, indices=idx)
    area = shapely.area(multi)
    agency = p["agency"].to_numpy()
    own_type = np.array([AGENCY_INFO[a][0] for a in agency], dtype=object)
    loc = np.array([AGENCY_INFO[a][1] for a in agency], dtype=object)
    state = world.states["abbr"].to_numpy()[p["state"].to_numpy()]
    year = rng.choice(np.arange(2015, 2024), len(p)).astype(str)
    n = len(p)
    gap = p["gap"].to_numpy()
    iucn = np.select([gap == "1", gap == "2", gap == "3"], ["Ib", "II", "VI"], "Unassigned")
    gdf = gpd.GeoDataFrame({
        "FeatClass": "Fee", "Category": "Fee", "Own_Type": own_type,
        "Own_Name": np.where(agency == "SLB", "SLB", agency), "Loc_Own": loc,
        "Mang_Type": own_type, "Mang_Name": agency, "Loc_Mang": loc,
        "Des_Tp": p["designation"].to_numpy(), "Loc_Ds": None, "Unit_Nm": p["name"].to_numpy(),
        "Loc_Nm": p["name"].to_numpy(), "State_Nm": state,
        "Agg_Src": agency + "_" + state + "_" + year, "GIS_Src": "Synthetic benchmark data",
        "Src_Date": year, "GIS_Acres": np.round(area / 4046.8564224, 2),
        "Source_PAID": [f"{a}{s}{100000 + i}" for i, (a, s) in enumerate(zip(agency, state, strict=True))],
        "WDPA_Cd": None, "Pub_Access": np.where(np.isin(agency, ["DOD", "DOE", "TRIB"]), "XA", "OA"),
        "Access_Src": "GAP - Default Value", "Access_Dt": "2024", "GAP_Sts": gap,
        "GAPCdSrc": "GAP - Default Value", "GAPCdDt": "2024", "IUCN_Cat": iucn,
        "IUCNCtSrc": "GAP - Default Value", "IUCNCtDt": "2024", "Date_Est": None,
        "Comments": "Synthetic benchmark data", "SHAPE_Length": np.round(shapely.length(multi), 4),
        "SHAPE_Area": np.round(area, 4),
    }, geometry=multi, crs=CRS.from_wkt(PADUS_CRS_WKT))
    _write_vector(gdf, path, layer=PADUS_LAYER, driver="GPKG", geometry_type="MultiPolygon",
                  layer_options={"SPATIAL_INDEX": "YES"})
    return n


def _epoch_ms(rng: np.random.Generator, n: int, first: int, last: int) -> np.ndarray:
    days = rng.integers((np.datetime64(f"{first}-01-01") - np.datetime64("1970-01-01")).astype(int),
                        (np.datetime64(f"{last}-12-31") - np.datetime64("1970-01-01")).astype(int),
                        n)
    return days.astype(np.int64) * 86_400_000


def transmission_frame(world: World, n: int | None = None) -> gpd.GeoDataFrame:
    """HIFLD 'Electric Power Transmission Lines' records (EPSG:4326)."""
    rng = world.rng("lines-attributes")
    lines = world.transmission_lines(n)
    subs = world.substations
    m = len(lines)
    kv = lines["kv"].to_numpy()
    volt = np.where(np.isnan(kv), -999999.0, kv)
    geoms = world.warp.geoms(lines["geometry"].to_numpy())
    merc = shapely.length(shapely.transform(geoms, lambda xy: np.column_stack(
        _TO_MERCATOR.transform(xy[:, 0], xy[:, 1]))))
    tier = lines["tier"].to_numpy()
    kind = rng.choice(["AC; OVERHEAD", "AC; OVERHEAD", "AC; OVERHEAD", "AC; OVERHEAD",
                       "AC; OVERHEAD", "AC; OVERHEAD", "AC; OVERHEAD", "AC; OVERHEAD",
                       "AC; UNDERGROUND", "NOT AVAILABLE"], m)
    kind = np.where((tier == 0) & (rng.random(m) < 0.02), "DC; OVERHEAD", kind)
    unknown = volt < 0
    owners = np.asarray(UTILITIES, dtype=object)
    owner = owners[rng.integers(0, len(owners), m)]
    owner = np.where(rng.random(m) < 0.15, "NOT AVAILABLE", owner)
    names = subs["name"].to_numpy()
    return gpd.GeoDataFrame({
        "OBJECTID": np.arange(1, m + 1), "ID": [str(100000 + 7 * i) for i in range(m)],
        "TYPE": kind, "STATUS": np.where(rng.random(m) < 0.97, "IN SERVICE",
                                         rng.choice(["NOT AVAILABLE", "UNDER CONST"], m)),
        "NAICS_CODE": "221121", "NAICS_DESC": "ELECTRIC BULK POWER TRANSMISSION AND CONTROL",
        "SOURCE": np.where(unknown, "OpenStreetMap", "IMAGERY"),
        "SOURCEDATE": _epoch_ms(rng, m, 2012, 2021),
        "VAL_METHOD": np.where(unknown, "UNVERIFIED", "IMAGERY"),
        "VAL_DATE": _epoch_ms(rng, m, 2019, 2024), "OWNER": owner, "VOLTAGE": volt,
        "VOLT_CLASS": [_volt_class(v) for v in volt],
        "INFERRED": np.where(unknown | (rng.random(m) < 0.2), "Y", "N"),
        "SUB_1": names[lines["sub_1"].to_numpy()], "SUB_2": names[lines["sub_2"].to_numpy()],
        "SHAPE__Len": np.round(merc, 6),
    }, geometry=shapely.transform(geoms, _lonlat), crs=WGS84)


def _write_any(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """GeoParquet, GeoPackage or GeoJSON, by the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        gdf.to_parquet(path, index=False, compression="zstd", write_covering_bbox=True)
    elif path.suffix.lower() == ".gpkg":
        _write_vector(gdf, path, layer=layer, driver="GPKG")
    else:
        _write_vector(gdf, path, layer=layer, driver="GeoJSON",
                      layer_options={"COORDINATE_PRECISION": "6"})


def national_transmission_lines(path: Path, n: int = 85_000, seed: int = 1) -> Path:
    """HIFLD 'Electric Power Transmission Lines' records over the lower 48 joining synthetic
    substations in three voltage tiers, written as GeoParquet, GeoPackage or GeoJSON by the
    suffix of `path`. Deterministic for a seed."""
    world = World(seed, scale=n / SIZES["lines"])
    _write_any(transmission_frame(world, n), Path(path), "Electric_Power_Transmission_Lines")
    return Path(path)


def write_substations(world: World, path: Path, lines: gpd.GeoDataFrame | None = None) -> int:
    """HIFLD 'Electric Substations' points (GeoJSON as the ArcGIS services export it)."""
    rng = world.rng("substations-attributes")
    subs = world.substations
    n = len(subs)
    xy = subs[["x", "y"]].to_numpy()
    county = world.county_of(xy[:, 0], xy[:, 1])
    c = world.counties
    fips, abbr = _state_codes(world, c["state"].to_numpy()[county])
    known = subs["known"].to_numpy()
    edges = world.transmission_lines()
    degree = np.bincount(np.concatenate([edges["sub_1"], edges["sub_2"]]), minlength=n)
    pts = shapely.transform(world.warp.geoms(shapely.points(xy)), _lonlat)
    lon, lat = shapely.get_x(pts), shapely.get_y(pts)
    gdf = gpd.GeoDataFrame({
        "OBJECTID": np.arange(1, n + 1), "ID": [str(300000 + i) for i in range(n)],
        "NAME": subs["name"], "CITY": np.char.upper(c["name"].to_numpy()[county].astype(str)),
        "STATE": abbr, "ZIP": "NOT AVAILABLE",
        "TYPE": np.where(rng.random(n) < 0.9, "SUBSTATION", rng.choice(["TAP", "RISER"], n)),
        "STATUS": np.where(known, "IN SERVICE", "NOT AVAILABLE"),
        "COUNTY": np.char.upper(c["name"].to_numpy()[county].astype(str)),
        "COUNTYFIPS": fips + c["countyfp"].to_numpy()[county].astype(object), "COUNTRY": "USA",
        "LATITUDE": np.round(lat, 6), "LONGITUDE": np.round(lon, 6), "NAICS_CODE": "221121",
        "NAICS_DESC": "ELECTRIC BULK POWER TRANSMISSION AND CONTROL",
        "SOURCE": "IMAGERY, EIA 860", "SOURCEDATE": _epoch_ms(rng, n, 2014, 2020),
        "VAL_METHOD": np.where(known, "IMAGERY", "UNVERIFIED"),
        "VAL_DATE": _epoch_ms(rng, n, 2019, 2021), "LINES": degree,
        "MAX_VOLT": np.where(known, subs["max_kv"], -999999.0),
        "MIN_VOLT": np.where(known, subs["min_kv"], -999999.0),
        "MAX_INFER": np.where(known, "N", "Y"), "MIN_INFER": np.where(known, "N", "Y"),
    }, geometry=pts, crs=WGS84)
    _write_any(gdf, path, "Electric_Substations")
    return n


#: EIA-860 Schedule 2 'Plant' sheet columns, in order.
EIA860_FIELDS = [
    "Utility ID", "Utility Name", "Plant Code", "Plant Name", "Street Address", "City", "State",
    "Zip", "County", "Latitude", "Longitude", "NERC Region", "Balancing Authority Code",
    "Balancing Authority Name", "Name of Water Source", "Primary Purpose (NAICS Code)",
    "Regulatory Status", "Sector", "Sector Name", "FERC Cogeneration Status",
    "FERC Cogeneration Docket Number", "FERC Small Power Producer Status",
    "FERC Small Power Producer Docket Number", "FERC Exempt Wholesale Generator Status",
    "FERC Exempt Wholesale Generator Docket Number", "Ash Impoundment?", "Ash Impoundment Lined?",
    "Ash Impoundment Status", "Transmission or Distribution System Owner",
    "Transmission or Distribution System Owner ID", "Transmission or Distribution System Owner State",
    "Grid Voltage (kV)", "Grid Voltage 2 (kV)", "Grid Voltage 3 (kV)", "Energy Storage",
    "Natural Gas LDC Name", "Natural Gas Pipeline Name 1", "Natural Gas Pipeline Name 2",
    "Natural Gas Pipeline Name 3", "Pipeline Notes", "Natural Gas Storage",
    "Liquefied Natural Gas Storage",
]
GPPD_FIELDS = [
    "country", "country_long", "name", "gppd_idnr", "capacity_mw", "latitude", "longitude",
    "primary_fuel", "other_fuel1", "other_fuel2", "other_fuel3", "commissioning_year", "owner",
    "source", "url", "geolocation_source", "wepp_id", "year_of_capacity_data",
    "generation_gwh_2013", "generation_gwh_2014", "generation_gwh_2015", "generation_gwh_2016",
    "generation_gwh_2017", "generation_gwh_2018", "generation_gwh_2019", "generation_data_source",
    "estimated_generation_gwh",
]
UTILITIES = [f"{a} {b}" for a in ("Western", "Mountain", "Prairie", "Southern", "Northern",
                                  "Eastern", "Valley", "Gulf", "Pacific", "Central", "Atlantic",
                                  "Great Lakes", "Ozark", "Cumberland", "Desert")
             for b in ("Power Co", "Electric Cooperative", "Energy Inc", "Transmission LLC",
                       "Public Power District", "Light & Power")]


def _placed(world: World, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lon/lat (after the map warp), county row and state abbreviation of model-space points."""
    pts = shapely.transform(world.warp.geoms(shapely.points(frame[["x", "y"]].to_numpy())), _lonlat)
    county = world.county_of(frame["x"].to_numpy(), frame["y"].to_numpy())
    _, abbr = _state_codes(world, world.counties["state"].to_numpy()[county])
    return shapely.get_x(pts), shapely.get_y(pts), county, abbr


def write_plants(world: World, eia_path: Path, gppd_path: Path) -> tuple[int, int]:
    """EIA-860 Schedule 2 plant sheet (CSV of the XLSX, every cell as text) and the GPPD USA
    source table for the same plants (capacity joined on the EIA plant code)."""
    rng = world.rng("plants-attributes")
    p = world.plants
    n = len(p)
    lon, lat, county, abbr = _placed(world, p)
    c = world.counties
    utility = np.asarray(UTILITIES, dtype=object)[rng.integers(0, len(UTILITIES), n)]
    util_id = np.array([1000 + 37 * UTILITIES.index(u) for u in utility])
    kv = p["kv"].to_numpy()
    kv_text = np.array([" " if np.isnan(v) else (f"{v:g}") for v in kv], dtype=object)
    name = p["name"].to_numpy() + np.select(
        [p["fuel"] == "Solar", p["fuel"] == "Wind", p["fuel"] == "Hydro"],
        [" Solar", " Wind Farm", " Dam"], " Generating Station")
    nerc = np.where(lon < -104, "WECC", np.where(lat > 40, "RFC", "SERC"))
    sector = rng.choice(["1", "2", "3", "7"], n, p=[0.35, 0.5, 0.05, 0.1])
    sector_name = np.select([sector == "1", sector == "2", sector == "3"],
                            ["Electric Utility", "IPP Non-CHP", "IPP CHP"], "Commercial Non-CHP")
    eia = pd.DataFrame({f: "" for f in EIA860_FIELDS}, index=range(n))
    eia["Utility ID"] = util_id.astype(str)
    eia["Utility Name"] = utility
    eia["Plant Code"] = p["code"].astype(str).to_numpy()
    eia["Plant Name"] = name
    eia["Street Address"] = [f"{100 + i % 9000} Plant Road" for i in range(n)]
    eia["City"] = c["name"].to_numpy()[county]
    eia["State"] = abbr
    eia["Zip"] = [f"{z:05d}" for z in rng.integers(1000, 99950, n)]
    eia["County"] = c["name"].to_numpy()[county]
    eia["Latitude"] = [f"{v:.6f}" for v in lat]
    eia["Longitude"] = [f"{v:.6f}" for v in lon]
    eia["NERC Region"] = nerc
    eia["Primary Purpose (NAICS Code)"] = "22"
    eia["Regulatory Status"] = np.where(sector == "1", "RE", "NR")
    eia["Sector"] = sector
    eia["Sector Name"] = sector_name
    for f in ("FERC Cogeneration Status", "FERC Small Power Producer Status",
              "FERC Exempt Wholesale Generator Status", "Ash Impoundment?", "Energy Storage"):
        eia[f] = "N"
    eia["Energy Storage"] = np.where(p["fuel"] == "Storage", "Y", "N")
    eia["Transmission or Distribution System Owner"] = utility
    eia["Transmission or Distribution System Owner ID"] = util_id.astype(str)
    eia["Transmission or Distribution System Owner State"] = abbr
    eia["Grid Voltage (kV)"] = kv_text
    eia["Grid Voltage 2 (kV)"] = " "
    eia["Grid Voltage 3 (kV)"] = " "
    _write_table(eia, eia_path)

    # GPPD: most plants under their EIA code, a few retired ones missing, a few WRI-made ids
    listed = rng.random(n) > 0.02
    mw = p["mw"].to_numpy()
    year = np.round(rng.uniform(1950, 2019.9, n), 4)
    gen = mw * 8.76 * rng.uniform(0.1, 0.6, n)
    g = pd.DataFrame({f: "" for f in GPPD_FIELDS}, index=range(n))
    g["country"] = "USA"
    g["country_long"] = "United States of America"
    g["name"] = name
    g["gppd_idnr"] = [f"USA{c_:07d}" for c_ in p["code"]]
    g["capacity_mw"] = [f"{v:.1f}" for v in mw]
    g["latitude"] = [f"{v:.4f}" for v in lat]
    g["longitude"] = [f"{v:.4f}" for v in lon]
    g["primary_fuel"] = np.where(mw == 0, "", p["fuel"].to_numpy())
    g["commissioning_year"] = [f"{v:.1f}" if v == int(v) else repr(v) for v in year]
    g["owner"] = utility
    g["source"] = "U.S. Energy Information Administration"
    g["url"] = "http://www.eia.gov/electricity/data/browser/"
    g["geolocation_source"] = "U.S. Energy Information Administration"
    g["year_of_capacity_data"] = "2019"
    g["generation_gwh_2019"] = [f"{v:.3f}" if v > 0 else "" for v in gen]
    g["generation_data_source"] = np.where(gen > 0, "U.S. Energy Information Administration", "")
    extra = max(n // 100, 1)
    wri = g.sample(extra, random_state=np.random.RandomState(world.seed)).copy()
    wri["gppd_idnr"] = [f"WRI10{i:05d}" for i in range(extra)]
    wri["source"] = "WRI"
    table = pd.concat([g.loc[listed], wri], ignore_index=True).sort_values("name", kind="stable")
    _write_table(table, gppd_path)
    return n, len(table)


def write_roads(world: World, path: Path) -> int:
    """TIGER/Line national primary roads (S1100) as the zipped shapefile, NAD83."""
    r = world.roads
    rttyp = r["rttyp"].to_numpy()
    number = r["number"].to_numpy().astype(str)
    fullname = np.select([rttyp == "I", rttyp == "U"], ["I- ", "US Hwy "], "State Rte ") + number
    gdf = gpd.GeoDataFrame({
        "LINEARID": [str(1104475100000 + 137 * i) for i in range(len(r))],
        "FULLNAME": fullname, "RTTYP": rttyp, "MTFCC": "S1100",
    }, geometry=_out(world, r["geometry"].to_numpy()), crs=LONLAT_CRS)
    _write_zipped_shapefile(gdf, path, "LineString")
    return len(gdf)


def write_rail(world: World, path: Path) -> int:
    """FRA/BTS NTAD North American Rail Network Lines (the hub's zipped shapefile, WGS84)."""
    rng = world.rng("rail-attributes")
    r = world.rail
    n = len(r)
    geoms = world.warp.geoms(r["geometry"].to_numpy())
    mid = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    county = world.county_of(shapely.get_x(mid), shapely.get_y(mid))
    c = world.counties
    fips, abbr = _state_codes(world, c["state"].to_numpy()[county])
    lonlat = shapely.transform(geoms, _lonlat)
    km = shapely.length(geoms) / 1000.0
    owner = r["owner"].to_numpy()
    class1 = np.isin(owner, ["BNSF", "UP", "CSXT", "NS", "CN", "CPKC", "KCS"])
    amtrak = class1 & (rng.random(n) < 0.12)
    lon = shapely.get_x(shapely.transform(mid, _lonlat))
    props: dict[str, Any] = {
        "OBJECTID": np.arange(1, n + 1), "FRAARCID": 300000 + np.arange(n),
        "FRFRANODE": r["from_node"], "TOFRANODE": r["to_node"], "STFIPS": fips,
        "CNTYFIPS": c["countyfp"].to_numpy()[county],
        "STCNTYFIPS": fips + c["countyfp"].to_numpy()[county].astype(object), "STATEAB": abbr,
        "COUNTRY": "US", "FRADISTRCT": np.clip(((lon + 125) / 7.5).astype(int) + 1, 1, 8),
        "RROWNER1": owner, "RROWNER2": np.where(rng.random(n) < 0.05, "UP", None),
        "RROWNER3": None, "TRKRGHTS1": np.where(amtrak, "AMTK", None),
        **{f"TRKRGHTS{k}": None for k in range(2, 10)},
        "DIVISION": None, "SUBDIV": None, "BRANCH": None, "YARDNAME": None,
        "PASSNGR": np.where(amtrak, "A", None),
        "STRACNET": np.where(class1 & (rng.random(n) < 0.3), "S", None),
        "TRACKS": r["tracks"], "NET": r["net"], "MILES": np.round(km / 1.609344, 6),
        "KM": np.round(km, 6), "TIMEZONE": np.where(lon < -114, "P", np.where(lon < -102, "M",
                                                   np.where(lon < -87, "C", "E"))),
        "SHAPE_Leng": np.round(shapely.length(lonlat), 9),
    }
    fields = [f if f != "SHAPE_Length" else "SHAPE_Leng" for f in NARN_FIELDS]
    gdf = gpd.GeoDataFrame({f: props[f] for f in fields}, geometry=lonlat, crs=WGS84)
    _write_zipped_shapefile(gdf, path, "LineString")
    return n


def write_airports(world: World, path: Path, runways_path: Path) -> tuple[int, int]:
    """OurAirports airports.csv (strings quoted, numbers bare) and runways.csv."""
    rng = world.rng("airports-attributes")
    a = world.airports
    n = len(a)
    lon, lat, county, abbr = _placed(world, a)
    kind = a["type"].to_numpy()
    ids = 6000 + np.arange(n) * 7
    ident = [f"{k:02d}{s}" if t != "closed" else f"US-{k:04d}" for k, (s, t) in
             enumerate(zip(abbr, kind, strict=True))]
    ident = [f"K{i[:3]}" if t in ("large_airport", "medium_airport") else i
             for i, t in zip(ident, kind, strict=True)]
    iata = a["iata"].to_numpy()
    elev = np.round(rng.uniform(0, 7000, n)).astype(int)
    rows = {
        "id": ids, "ident": ident, "type": kind, "name": a["name"].to_numpy(),
        "latitude_deg": np.round(lat, 6), "longitude_deg": np.round(lon, 6), "elevation_ft": elev,
        "continent": "NA", "iso_country": "US", "iso_region": "US-" + abbr,
        "municipality": world.counties["name"].to_numpy()[county],
        "scheduled_service": np.where(a["scheduled"], "yes", "no"), "gps_code": ident,
        "iata_code": iata, "local_code": ident, "home_link": None, "wikipedia_link": None,
        "keywords": None,
    }
    _write_quoted_csv(path, AIRPORT_FIELDS, rows, _AIRPORT_NUMERIC)
    # runways: one or two per field (helipads for heliports)
    runways = np.where(np.isin(kind, ["large_airport"]), 3,
                       np.where(kind == "medium_airport", 2, np.where(kind == "balloonport", 0, 1)))
    owner = np.repeat(np.arange(n), runways)
    m = len(owner)
    k = kind[owner]
    length = np.select([k == "large_airport", k == "medium_airport", k == "heliport"],
                       [rng.uniform(8000, 13000, m), rng.uniform(5000, 10000, m),
                        rng.uniform(40, 100, m)], rng.uniform(1200, 5500, m)).astype(int)
    heading = rng.integers(1, 19, m)
    rw = {
        "id": 250000 + np.arange(m), "airport_ref": ids[owner],
        "airport_ident": np.asarray(ident, dtype=object)[owner], "length_ft": length,
        "width_ft": np.where(k == "heliport", length, np.clip(length // 50, 30, 200)),
        "surface": np.where(np.isin(k, ["large_airport", "medium_airport"]), "ASP",
                            rng.choice(["ASP", "TURF", "GRAVEL", "DIRT", "CON"], m)),
        "lighted": np.where(np.isin(k, ["large_airport", "medium_airport"]), 1, 0),
        "closed": np.where(k == "closed", 1, 0),
        "le_ident": np.where(k == "heliport", "H1", [f"{h:02d}" for h in heading]),
        "le_latitude_deg": None, "le_longitude_deg": None, "le_elevation_ft": None,
        "le_heading_degT": None, "le_displaced_threshold_ft": None,
        "he_ident": np.where(k == "heliport", None, [f"{h + 18:02d}" for h in heading]),
        "he_latitude_deg": None, "he_longitude_deg": None, "he_elevation_ft": None,
        "he_heading_degT": None, "he_displaced_threshold_ft": None,
    }
    numeric = {"id", "airport_ref", "length_ft", "width_ft", "lighted", "closed"}
    _write_quoted_csv(runways_path, list(rw), rw, numeric)
    return n, m


def _write_quoted_csv(path: Path, header: list[str], columns: dict[str, Any],
                      numeric: set[str]) -> None:
    """CSV as OurAirports writes it: every header and string quoted, numbers bare, empty cells
    empty."""
    n = max(len(v) for v in columns.values() if isinstance(v, (np.ndarray, list, pd.Series)))
    cols = []
    for key in header:
        v = columns[key]
        arr = np.asarray(v if isinstance(v, (np.ndarray, list, pd.Series)) else [v] * n, dtype=object)
        text = np.array(["" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)
                         for x in arr], dtype=object)
        if key not in numeric:
            text = np.where(text == "", "", '"' + np.char.replace(text.astype(str), '"', '""')
                            .astype(object) + '"')
        cols.append(text)
    lines = [",".join(f'"{h}"' for h in header)]
    lines += [",".join(r) for r in zip(*cols, strict=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def write_rivers(world: World, path: Path) -> int:
    """Natural Earth 10m rivers + lake centrelines (zipped shapefile, WGS84)."""
    r = world.rivers
    n = len(r)
    gdf = gpd.GeoDataFrame({
        "scalerank": r["scalerank"].astype(np.int32), "featurecla": r["featurecla"],
        "name": r["name"], "note": None, "min_zoom": r["scalerank"].astype(float) + 0.7,
        "name_alt": None, "min_label": r["scalerank"].astype(float) + 2.0,
        "name_en": r["name"], "label": r["name"], "wikidataid": None,
        "wdid_score": np.int32(4), "ne_id": 1159110000 + np.arange(n, dtype=np.int64),
    }, geometry=_out(world, r["geometry"].to_numpy()), crs=WGS84)
    _write_zipped_shapefile(gdf, path, "LineString")
    return n


def write_aqueduct(world: World, path: Path) -> int:
    """Aqueduct 4.0 baseline_annual sub-basins (a GeoPackage made from the GDB, WGS84)."""
    b = world.basins
    n = len(b)
    raw = b["raw"].to_numpy()
    score = np.clip(np.log2(raw / 0.1) + 1.0, 0.0, 5.0)
    cat = np.minimum(score.astype(int), 4)
    label = np.array([_BWS_LABELS[c] for c in cat], dtype=object)
    arid, nodata = b["arid"].to_numpy(), b["nodata"].to_numpy()
    score = np.where(arid, 5.0, score)
    cat = np.where(arid, -1, cat)
    label = np.where(arid, "Arid and Low Water Use", label)
    raw = np.where(nodata, -9999.0, raw)
    score = np.where(nodata, -9999.0, score)
    cat = np.where(nodata, -9999, cat)
    label = np.where(nodata, "No Data", label)
    geoms = world.warp.geoms(b["geometry"].to_numpy())
    county = world.county_of(*shapely.get_coordinates(shapely.point_on_surface(
        b["geometry"].to_numpy())).T)
    state = world.states["name"].to_numpy()[world.counties["state"].to_numpy()[county]]
    pfaf = 700000 + np.arange(n) * 3
    gdf = gpd.GeoDataFrame({
        "aq30_id": 60000 + np.arange(n), "string_id": [f"{p}-USA.{i % 51}_1-{3300 + i}" for i, p in
                                                       enumerate(pfaf)],
        "pfaf_id": pfaf, "gid_1": "USA", "aqid": 3300 + np.arange(n), "gid_0": "USA",
        "name_0": "United States", "name_1": state,
        "area_km2": np.round(shapely.area(b["geometry"].to_numpy()) / 1e6, 4),
        "bws_raw": np.round(raw, 6), "bws_score": np.round(score, 6), "bws_cat": cat,
        "bws_label": label,
    }, geometry=shapely.transform(geoms, _lonlat), crs=WGS84)
    _write_vector(gdf, path, layer="baseline_annual", driver="GPKG")
    return n


# ----------------------------------------------------------------------------------------------
# the whole set: generated once per version and seed, into a folder renamed into place
# ----------------------------------------------------------------------------------------------

def _generate(folder: Path, seed: int, scale: float, progress: bool = False
              ) -> list[dict[str, Any]]:
    """Write every file into `folder`; returns one record per file (rows, seconds)."""
    world = World(seed, scale)
    f = {k: folder / v for k, v in FILES.items()}
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}

    def step(keys: tuple[str, ...], func: Callable[[], Any]) -> None:
        t0 = time.perf_counter()
        out = func()
        out = out if isinstance(out, tuple) else (out,)
        for k, n in zip(keys, out, strict=True):
            rows[k] = int(n)
        seconds[keys[0]] = round(time.perf_counter() - t0, 2)
        if progress:
            print(f"  {', '.join(keys):<32} {seconds[keys[0]]:6.1f} s", file=sys.stderr)

    step(("states",), lambda: write_states(world, f["states"]))
    step(("counties",), lambda: write_counties(world, f["counties"]))
    step(("tracts",), lambda: write_tracts(world, f["tracts"]))
    step(("acs_tract", "acs_county", "laus"),
         lambda: write_acs_and_laus(world, f["acs_tract"], f["acs_county"], f["laus"]))
    step(("federal_land",), lambda: write_padus(world, f["federal_land"]))
    step(("transmission_lines",), lambda: _write_lines(world, f["transmission_lines"]))
    step(("substations",), lambda: write_substations(world, f["substations"]))
    step(("eia860", "gppd"), lambda: write_plants(world, f["eia860"], f["gppd"]))
    step(("roads",), lambda: write_roads(world, f["roads"]))
    step(("rail",), lambda: write_rail(world, f["rail"]))
    step(("airports", "runways"), lambda: write_airports(world, f["airports"], f["runways"]))
    step(("rivers",), lambda: write_rivers(world, f["rivers"]))
    step(("water_stress",), lambda: write_aqueduct(world, f["water_stress"]))
    step(("terrain",), lambda: write_dem(f["terrain"], seed, scale))
    return [{"key": k, "file": FILES[k], "rows": rows[k], "bytes": f[k].stat().st_size,
             "seconds": seconds.get(k)} for k in FILES]


def _write_lines(world: World, path: Path) -> int:
    gdf = transmission_frame(world)
    _write_any(gdf, path, "Electric_Power_Transmission_Lines")
    return len(gdf)


def _marker_key(seed: int, scale: float) -> dict[str, Any]:
    return {"generator": "benchmarks/national_inputs.py", "version": VERSION, "seed": int(seed),
            "scale": float(scale)}


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The completed-set record of a folder (None when it holds no finished set)."""
    try:
        return json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _complete(folder: Path, key: dict[str, Any]) -> bool:
    marker = read_marker(folder)
    if marker is None or any(marker.get(k) != v for k, v in key.items()):
        return False
    return all((folder / rec["file"]).exists() for rec in marker.get("files", []))


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One generator per folder at a time (others wait, then find the set complete)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_national_inputs(folder: Path, *, seed: int = 1, scale: float = 1.0,
                          progress: bool = False) -> Path:
    """Write every national input file into `folder` and return it.

    Skipped when the folder already holds a completed set of this generator version, seed and
    scale (its marker file), so repeated benchmark runs reuse it. Written into a temporary
    sibling folder renamed into place at the end: a killed run never leaves a half set behind.
    `scale` multiplies every count (0.01 for a set a test writes in a few seconds).
    """
    folder = Path(folder)
    key = _marker_key(seed, scale)
    if _complete(folder, key):
        return folder
    with _locked(folder):
        if _complete(folder, key):
            return folder
        for stale in folder.parent.glob(f".{folder.name}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        try:
            t0 = time.perf_counter()
            files = _generate(tmp, seed, scale, progress)
            marker = {**key, "seconds": round(time.perf_counter() - t0, 1), "files": files}
            (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
            old = None
            if folder.exists():
                old = folder.parent / f".{folder.name}.{os.getpid()}.old.tmp"
                os.replace(folder, old)
            os.replace(tmp, folder)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return folder


# ----------------------------------------------------------------------------------------------
# a study over the set, and the grid size for a number of cells
# ----------------------------------------------------------------------------------------------

def _synthetic_layers(workforce: str) -> dict[str, Any]:
    f = FILES
    county_tables = [
        {"reader": "bls_laus", "path": f["laus"]},
        {"reader": "acs", "path": f["acs_county"]},
    ]
    layers: dict[str, Any] = {
        "states": {"reader": "census_states", "path": f["states"]},
        "federal_land": {"reader": "padus", "path": f["federal_land"], "layer": PADUS_LAYER},
        "transmission_lines": {"reader": "hifld_transmission_lines",
                               "path": f["transmission_lines"], "optional": True},
        "substations": {"reader": "hifld_substations", "path": f["substations"],
                        "optional": True},
        "power_plants": {"reader": "gppd", "path": f["gppd"]},
        "grid_connected_plants": {"reader": "eia860_plants", "path": f["eia860"],
                                  "options": {"capacity_table": f["gppd"]}},
        "roads": {"reader": "tiger_roads", "path": f["roads"]},
        "rail": {"reader": "fra_narn", "path": f["rail"]},
        "airports": {"reader": "ourairports", "path": f["airports"]},
        "rivers": {"reader": "natural_earth_rivers", "path": f["rivers"]},
        "water_stress": {"reader": "aqueduct_baseline", "path": f["water_stress"],
                         "optional": True},
        "counties": {"reader": "census_counties", "path": f["counties"],
                     "options": {"tables": county_tables}},
        "terrain": {"reader": "dem", "path": f["terrain"], "optional": True},
    }
    if workforce == "tracts":
        layers["tracts"] = {"reader": "census_tracts", "path": f["tracts"], "options": {
            "tables": [{"reader": "acs", "path": f["acs_tract"], "fields": {
                "labor_force": "B23025_003E", "employed": "B23025_004E"}}]}}
    return layers


#: Layers for which ../shared/data holds a real national file: reader, file, options.
REAL_LAYERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "states": ("census_states", "counties/us_states_us_atlas_10m.geojson", {}),
    "power_plants": ("gppd", "power_plants/gppd_v1.3.0_usa_source.csv", {}),
    "grid_connected_plants": ("eia860_plants", "power_plants/eia860_2019_schedule2_plant.csv",
                              {"capacity_table": "power_plants/gppd_v1.3.0_usa_source.csv"}),
    "roads": ("freeway_lines", "roads/us_freeway_system_scgraph.geojson", {}),
    "rail": ("rail_lines", "rail/narn_class1_scgraph.geojson", {"class1": True}),
    "airports": ("ourairports", "airports/ourairports_20221011_airports_US.csv", {}),
    "rivers": ("natural_earth_rivers", "water/ne_50m_rivers_lake_centerlines.zip", {}),
    "counties": ("census_counties", "counties/us_counties_us_atlas_10m.geojson", {"tables": [
        {"reader": "bls_laus", "path": "workforce/bls_laus_county_2016.csv"},
        {"reader": "acs", "path": "workforce/acs5_2018_county_selected.csv"}]}),
}


def _real_layers(real_data: Path) -> dict[str, Any]:
    """The real national files that exist, as layers with absolute paths."""
    root = Path(real_data).resolve()
    out = {}
    for name, (reader, rel, options) in REAL_LAYERS.items():
        if not (root / rel).exists():
            continue
        opts = json.loads(json.dumps(options))
        if "capacity_table" in opts:
            if not (root / opts["capacity_table"]).exists():
                continue
            opts["capacity_table"] = str(root / opts["capacity_table"])
        tables = opts.get("tables", [])
        if any(not (root / t["path"]).exists() for t in tables):
            continue
        for t in tables:
            t["path"] = str(root / t["path"])
        out[name] = {"reader": reader, "path": str(root / rel), **({"options": opts} if opts else {})}
    return out


def write_study(folder: Path, *, grid_km: float, real_data: Path | None = None,
                study: str = "national_bench", workforce: str = "counties") -> Path:
    """A study config (folder/<study>.yaml) running the criteria, constraints, candidates and
    sites of configs/national.yaml over the generated files, everywhere (`area: {}`), on a
    `grid_km` square grid. With `real_data` (../shared/data), layers with a real national file
    there read it instead. `workforce: tracts` moves the two gravity criteria to the tracts."""
    folder = Path(folder)
    national = yaml.safe_load(NATIONAL_CONFIG.read_text(encoding="utf-8"))
    layers = _synthetic_layers(workforce)
    if real_data is not None:
        real = _real_layers(Path(real_data))
        for name, layer in real.items():
            if name == "counties":  # the config's own field map for the ACS table
                acs = next(t for t in national["layers"]["counties"]["options"]["tables"]
                           if t["reader"] == "acs")
                layer["options"]["tables"][1]["fields"] = acs["fields"]
            layers[name] = {**layer, **({"optional": True} if layers[name].get("optional") else {})}
    acs_fields = next(t for t in national["layers"]["counties"]["options"]["tables"]
                      if t["reader"] == "acs")["fields"]
    tables = layers["counties"]["options"]["tables"]
    if tables[1].get("fields") is None:
        tables[1]["fields"] = acs_fields
    if "tracts" in layers:
        layers["tracts"]["options"]["tables"][0]["fields"].update(acs_fields)
    criteria = json.loads(json.dumps(national["criteria"]))
    if workforce == "tracts":
        for c in criteria.values():
            if c.get("layer") == "counties":
                c["layer"] = "tracts"
    elif workforce != "counties":
        raise ValueError(f"workforce must be 'counties' or 'tracts', not {workforce!r}")
    candidates = json.loads(json.dumps(national["candidates"]))
    candidates["grid"] = {"kind": "square", "size_km": float(grid_km)}
    doc = {
        "study": study,
        "title": f"National benchmark ({'synthetic' if real_data is None else 'synthetic + real'}"
                 f" inputs, {grid_km:g} km grid)",
        "synthetic": True,
        "data_dir": ".",
        "area": {},
        "layers": layers,
        "candidates": candidates,
        "criteria": criteria,
        "constraints": national.get("constraints", []),
        "sites": national["sites"],
    }
    path = folder / f"{study}.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by benchmarks/national_inputs.py: the criteria of "
                    "configs/national.yaml over generated national inputs.\n"
                    + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


#: Resolution (m) of the eligible-land raster cells are counted on (a national set; coarser for
#: a scaled-down one, whose cells are larger).
COUNT_RES = 250.0


def _eligible_geometry(folder: Path) -> Any:
    """Eligible land of the generated PAD-US file under the candidate rules of
    configs/national.yaml, computed by sitescore itself and kept beside the files."""
    from sitescore.candidates import eligible_land
    from sitescore.config import CandidatesConfig
    from sitescore.readers import LayerSource, read_layer
    from sitescore.study_area import StudyArea

    folder = Path(folder)
    marker = read_marker(folder)
    if marker is None:
        raise FileNotFoundError(f"{folder} holds no generated national inputs; run "
                                "write_national_inputs first")
    national = yaml.safe_load(NATIONAL_CONFIG.read_text(encoding="utf-8"))
    rules = national["candidates"]
    tag = hashlib.sha256(json.dumps([marker["version"], marker["seed"], marker["scale"], rules],
                                    sort_keys=True).encode()).hexdigest()[:12]
    cached = folder / f".eligible-{tag}.wkb"
    if cached.exists():
        return shapely.from_wkb(cached.read_bytes())
    land = read_layer(LayerSource("federal_land", "padus", folder / FILES["federal_land"], folder,
                                  layer=PADUS_LAYER))
    geom = eligible_land(land, CandidatesConfig.model_validate(rules),
                         StudyArea("everywhere the data reach", None)).geometry
    tmp = cached.with_suffix(".part")
    tmp.write_bytes(shapely.to_wkb(geom))
    os.replace(tmp, cached)
    return geom


@dataclass
class _EligibleRaster:
    """Centres (EPSG:5070) of the eligible pixels of a COUNT_RES raster of the eligible land."""

    x: np.ndarray
    y: np.ndarray
    res: float


_RASTERS: dict[str, _EligibleRaster] = {}


def _eligible_raster(folder: Path) -> _EligibleRaster:
    marker = read_marker(folder) or {}
    key = json.dumps([str(Path(folder).resolve()), marker.get("version"), marker.get("seed"),
                      marker.get("scale")])
    if key not in _RASTERS:
        from affine import Affine
        from rasterio import features

        geom = _eligible_geometry(folder)
        res = COUNT_RES / math.sqrt(min(float(marker["scale"]), 1.0))
        w, s, e, n = shapely.bounds(geom)
        w, s = math.floor(w / res) * res, math.floor(s / res) * res
        cols, rows = math.ceil((e - w) / res), math.ceil((n - s) / res)
        y1 = s + rows * res
        mask = features.rasterize([(geom, 1)], out_shape=(rows, cols), dtype="uint8",
                                  transform=Affine(res, 0, w, 0, -res, y1))
        r, c = np.nonzero(mask)
        _RASTERS[key] = _EligibleRaster(w + (c + 0.5) * res, y1 - (r + 0.5) * res, res)
    return _RASTERS[key]


def eligible_km2(folder: Path) -> float:
    """Eligible land of the generated set (km2), under configs/national.yaml's rules."""
    return float(shapely.area(_eligible_geometry(folder))) / 1e6


def estimate_cells(folder: Path, grid_km: float, min_share: float | None = None) -> int:
    """How many candidate cells a `grid_km` square grid keeps over the generated eligible land:
    cells aligned to multiples of their size in EPSG:5070 at least `min_share` eligible (the
    national config's min_eligible_share), counted on a 250 m raster of the eligible land (the
    exact count, from sitescore's own grid, is within about 0.2 % at national scale)."""
    if min_share is None:
        national = yaml.safe_load(NATIONAL_CONFIG.read_text(encoding="utf-8"))
        min_share = float(national["candidates"].get("min_eligible_share", 0.5))
    r = _eligible_raster(folder)
    size = grid_km * 1000.0
    cx = np.floor(r.x / size).astype(np.int64)
    cy = np.floor(r.y / size).astype(np.int64)
    cx -= cx.min()
    cy -= cy.min()
    counts = np.bincount(cx * (cy.max() + 1) + cy)
    share = counts * r.res ** 2 / size ** 2
    return int((share >= min_share - 1e-9).sum())


def grid_km_for(target_cells: int, folder: Path) -> float:
    """The square-grid size (km) giving about `target_cells` candidate cells over the generated
    eligible land: eligible area / target to start, then refined on the counted cells."""
    area = eligible_km2(folder)
    size = math.sqrt(area / target_cells)
    for _ in range(8):
        n = estimate_cells(folder, size)
        if n == 0:
            size /= 2
            continue
        if abs(n - target_cells) <= 0.005 * target_cells:
            break
        size *= math.sqrt(n / target_cells)
    return round(size, 4)


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------

def format_table(marker: dict[str, Any]) -> str:
    """What a set holds: file, rows, MB, seconds to write."""
    lines = [f"{'file':<48} {'rows':>10} {'MB':>8} {'s':>6}", "-" * 75]
    total = 0
    for rec in marker["files"]:
        total += rec["bytes"]
        sec = "" if rec.get("seconds") is None else f"{rec['seconds']:.1f}"
        lines.append(f"{rec['file']:<48} {rec['rows']:>10,} {rec['bytes'] / 1e6:>8.1f} {sec:>6}")
    lines.append("-" * 75)
    lines.append(f"{'total':<48} {'':>10} {total / 1e6:>8.1f} {marker.get('seconds', 0):>6.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every count (1 = national sizes)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    folder = write_national_inputs(args.folder, seed=args.seed, scale=args.scale, progress=True)
    marker = read_marker(folder)
    took = time.perf_counter() - t0
    print(f"{folder} (seed {args.seed}, scale {args.scale:g}; "
          f"{'generated' if took > 1 else 'already complete'} in {took:.1f} s)")
    print(format_table(marker))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
