"""Water: NHD flowlines (the Cholla River and its tributaries) and WRI Aqueduct 4.0 baseline
water stress."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
from shapely.geometry import LineString, box

from .helpers import (
    _densify,
    _epoch_ms,
    _feature,
    _geodesic_km,
    _partition,
    _poly,
    _write_geojson,
)
from .region import _GEOD, STATE_NAME

# ---------------------------------------------------------------------------------------------
# NHD flowlines
# ---------------------------------------------------------------------------------------------


NHD_FIELDS = ["OBJECTID", "PERMANENT_IDENTIFIER", "FDATE", "RESOLUTION", "GNIS_ID", "GNIS_NAME",
              "LENGTHKM", "REACHCODE", "FLOWDIR", "WBAREA_PERMANENT_IDENTIFIER", "FTYPE", "FCODE",
              "MAINPATH", "INNETWORK", "VISIBILITYFILTER"]

#: the main stem of the Cholla River, east to west (upstream to downstream)
_RIVER = [(-111.76, 35.13), (-111.88, 35.095), (-111.96, 35.068), (-112.06, 35.036),
          (-112.152, 35.004), (-112.30, 34.95), (-112.36, 34.926), (-112.45, 34.89),
          (-112.50, 34.881), (-112.62, 34.86), (-112.80, 34.83), (-112.92, 34.815),
          (-113.05, 34.80)]


def _write_nhd(path: Path, rng: np.random.Generator) -> None:
    huc8 = "15030202"
    reaches: list[tuple[str | None, int, int, list, str | None]] = []
    # main stem, split at confluences; the reservoir reach is an artificial path
    for k, (a, b) in enumerate(itertools.pairwise(_RIVER)):
        if k == 3:
            reaches.append(("Cholla River", 558, 55800, [a, b], "{RES-CHOLLA-LAKE}"))
        else:
            reaches.append(("Cholla River", 460, 46006, [a, b], None))
    reaches += [
        ("Juniper Creek", 460, 46003, [(-112.28, 35.52), (-112.27, 35.40), (-112.29, 35.30)], None),
        ("Juniper Creek", 460, 46003, [(-112.29, 35.30), (-112.31, 35.225), (-112.33, 35.10)],
         None),
        ("Juniper Creek", 460, 46006, [(-112.33, 35.10), (-112.35, 35.00), (-112.36, 34.926)],
         None),
        ("Dry Fork", 460, 46003, [(-112.55, 34.58), (-112.52, 34.75), (-112.50, 34.881)], None),
        ("Sandy Wash", 460, 46003, [(-112.96, 35.22), (-112.90, 35.10), (-112.85, 35.00)], None),
        ("Sandy Wash", 460, 46003, [(-112.85, 35.00), (-112.83, 34.90), (-112.80, 34.83)], None),
        (None, 460, 46003, [(-112.70, 35.14), (-112.66, 35.02), (-112.62, 34.86)], None),
        (None, 460, 46003, [(-112.05, 35.20), (-112.08, 35.10), (-112.06, 35.036)], None),
        (None, 460, 46003, [(-111.90, 34.70), (-111.93, 34.90), (-111.96, 35.068)], None),
        ("Basin Canal", 336, 33600, [(-112.10, 35.025), (-112.18, 35.10), (-112.28, 35.20)],
         None),
    ]
    gnis = {"Cholla River": "00031901", "Juniper Creek": "00031955", "Dry Fork": "00031977",
            "Sandy Wash": "00032011", "Basin Canal": "00032044"}
    features = []
    for i, (name, ftype, fcode, pts, wb) in enumerate(reaches):
        dense = _densify(pts, rng, 0.006, 0.0012 if ftype == 460 else 0.0002)
        geom = LineString(dense)
        props = {
            "OBJECTID": 41000 + i,
            "PERMANENT_IDENTIFIER": str(151230000 + 7919 * i),
            "FDATE": _epoch_ms(2012 + i % 8, 1 + (i * 5) % 12, 1 + (i * 3) % 27),
            "RESOLUTION": 2,
            "GNIS_ID": gnis.get(name) if name else None,
            "GNIS_NAME": name,
            "LENGTHKM": round(_geodesic_km(geom), 3),
            "REACHCODE": f"{huc8}{1000 + 17 * i:06d}",
            "FLOWDIR": 1,
            "WBAREA_PERMANENT_IDENTIFIER": wb,
            "FTYPE": ftype,
            "FCODE": fcode,
            "MAINPATH": 0,
            "INNETWORK": 1,
            "VISIBILITYFILTER": 1000000 if ftype != 336 else 500000,
        }
        features.append(_feature(props, geom))
    _write_geojson(path, "NHDFlowline", features)


# ---------------------------------------------------------------------------------------------
# WRI Aqueduct 4.0 baseline annual
# ---------------------------------------------------------------------------------------------


_BWS_LABELS = {0: "Low (<10%)", 1: "Low - Medium (10-20%)", 2: "Medium - High (20-40%)",
               3: "High (40-80%)", 4: "Extremely High (>80%)"}


def _write_aqueduct(path: Path, rng: np.random.Generator) -> None:
    frame = box(-113.25, 34.40, -111.55, 35.70)
    # (pfaf_id, bws_raw or special), highest priority first
    basins = [
        ((771281, "nodata"), _poly((-111.95, 35.40), (-111.55, 35.40), (-111.55, 35.70),
                                   (-111.95, 35.70))),
        ((771285, "arid"), _poly((-113.25, 34.40), (-112.80, 34.40), (-112.78, 34.62),
                                 (-112.82, 34.78), (-113.25, 34.79))),
        ((771270, 0.07), _poly((-112.02, 35.18), (-111.55, 35.20), (-111.55, 35.70),
                               (-112.06, 35.70), (-112.10, 35.40))),
        ((771262, 0.92), _poly((-113.25, 35.16), (-112.40, 35.15), (-112.10, 35.19),
                               (-112.10, 35.70), (-113.25, 35.70))),
        ((771254, 0.54), _poly((-113.25, 34.79), (-112.82, 34.78), (-112.60, 34.80),
                               (-112.40, 34.84), (-112.40, 35.15), (-113.25, 35.16))),
        ((771243, 0.16), _poly((-112.80, 34.40), (-112.20, 34.40), (-112.22, 34.78),
                               (-112.40, 34.84), (-112.60, 34.80), (-112.78, 34.62))),
        ((771231, 0.31), None),
    ]
    features = []
    for i, ((pfaf, value), geom) in enumerate(_partition(frame, basins)):
        if value == "nodata":
            raw, score, cat, label = -9999.0, -9999.0, -9999, "No Data"
        elif value == "arid":
            raw = round(float(rng.uniform(1.5, 3.0)), 6)
            score, cat, label = 5.0, -1, "Arid and Low Water Use"
        else:
            raw = round(float(value) * float(rng.uniform(0.97, 1.03)), 6)
            score = round(min(5.0, max(0.0, math.log2(raw / 0.1) + 1.0)), 6)
            cat = min(4, int(score)) if score < 5 else 4
            label = _BWS_LABELS[cat]
        aqid = 3300 + 11 * i
        area = abs(_GEOD.geometry_area_perimeter(geom)[0]) / 1e6
        props = {
            "aq30_id": 62400 + 9 * i, "string_id": f"{pfaf}-USA.3_1-{aqid}", "pfaf_id": pfaf,
            "gid_1": "USA.3_1", "aqid": aqid, "gid_0": "USA", "name_0": "United States",
            "name_1": STATE_NAME, "area_km2": round(area, 4),
            "bws_raw": raw, "bws_score": score, "bws_cat": cat, "bws_label": label,
        }
        features.append(_feature(props, geom))
    _write_geojson(path, "baseline_annual", features)
