"""FRA / BTS North American Rail Network lines of the demo region."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import LineString

from .helpers import _densify, _feature, _geodesic_km, _write_geojson
from .people import _county_fips_at
from .region import STATE, STATE_FIPS

NARN_FIELDS = ["OBJECTID", "FRAARCID", "FRFRANODE", "TOFRANODE", "STFIPS", "CNTYFIPS",
               "STCNTYFIPS", "STATEAB", "COUNTRY", "FRADISTRCT", "RROWNER1", "RROWNER2",
               "RROWNER3", "TRKRGHTS1", "TRKRGHTS2", "TRKRGHTS3", "TRKRGHTS4", "TRKRGHTS5",
               "TRKRGHTS6", "TRKRGHTS7", "TRKRGHTS8", "TRKRGHTS9", "DIVISION", "SUBDIV", "BRANCH",
               "YARDNAME", "PASSNGR", "STRACNET", "TRACKS", "NET", "MILES", "KM", "TIMEZONE",
               "SHAPE_Length"]


def _write_narn(path: Path, rng: np.random.Generator) -> None:
    main = [(-113.05, 35.27), (-112.90, 35.262), (-112.75, 35.245), (-112.62, 35.228),
            (-112.50, 35.215), (-112.40, 35.214), (-112.30, 35.215), (-112.18, 35.22),
            (-112.05, 35.225), (-111.92, 35.24), (-111.75, 35.258)]
    spur = [(-112.50, 35.215), (-112.53, 35.16), (-112.55, 35.10), (-112.585, 35.04),
            (-112.60, 34.985)]
    abandoned = [(-112.60, 34.985), (-112.61, 34.90), (-112.62, 34.80), (-112.70, 34.65),
                 (-112.72, 34.58)]
    industrial = [(-112.30, 35.215), (-112.32, 35.23), (-112.334, 35.243)]
    def seg(pts: list, owner: str, net: str, tracks: int, **kw: Any) -> dict[str, Any]:
        return {"pts": pts, "owner": owner, "net": net, "tracks": tracks, "trk": [],
                "division": None, "subdiv": "CHOLLA BASIN", "passngr": None, "stracnet": None,
                **kw}

    bnsf = {"division": "SOUTHWEST", "subdiv": "SADDLE"}
    segments = [
        *(seg([a, b], "BNSF", "M", 2, trk=["AMTK"], passngr="A", stracnet="S", **bnsf)
          for a, b in itertools.pairwise(main)),
        *(seg([a, b], "CHLR", "M", 1) for a, b in itertools.pairwise(spur)),
        *(seg([a, b], "CHLR", "A", 1) for a, b in itertools.pairwise(abandoned)),
        seg(industrial, "BNSF", "I", 1, yard="JUNIPER FLATS", **bnsf),
    ]
    nodes: dict[tuple[float, float], int] = {}

    def node(pt: tuple[float, float]) -> int:
        key = (round(pt[0], 6), round(pt[1], 6))
        return nodes.setdefault(key, 431200 + 17 * len(nodes))

    features = []
    for i, piece in enumerate(segments):
        pts = _densify(piece["pts"], rng, 0.008, 0.0004)
        geom = LineString(pts)
        km = _geodesic_km(geom)
        mid = geom.interpolate(0.5, normalized=True)
        cnty = _county_fips_at(mid.x, mid.y)
        trk = list(piece["trk"]) + [None] * (9 - len(piece["trk"]))
        props: dict[str, Any] = {
            "OBJECTID": 88000 + i, "FRAARCID": 310500 + 13 * i,
            "FRFRANODE": node(pts[0]), "TOFRANODE": node(pts[-1]),
            "STFIPS": STATE_FIPS, "CNTYFIPS": cnty, "STCNTYFIPS": STATE_FIPS + cnty,
            "STATEAB": STATE, "COUNTRY": "US", "FRADISTRCT": 7,
            "RROWNER1": piece["owner"], "RROWNER2": None, "RROWNER3": None,
            **{f"TRKRGHTS{k + 1}": trk[k] for k in range(9)},
            "DIVISION": piece["division"], "SUBDIV": piece["subdiv"], "BRANCH": None,
            "YARDNAME": piece.get("yard"), "PASSNGR": piece["passngr"],
            "STRACNET": piece["stracnet"], "TRACKS": piece["tracks"], "NET": piece["net"],
            "MILES": round(km / 1.609344, 6), "KM": round(km, 6), "TIMEZONE": "M",
            "SHAPE_Length": round(float(geom.length), 9),
        }
        features.append(_feature({k: props[k] for k in NARN_FIELDS}, geom))
    _write_geojson(path, "NTAD_North_American_Rail_Network_Lines", features)
