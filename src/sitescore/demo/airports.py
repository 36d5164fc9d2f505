"""OurAirports airports.csv: strings quoted, numbers bare, as the site publishes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .region import STATE

AIRPORT_FIELDS = ["id", "ident", "type", "name", "latitude_deg", "longitude_deg", "elevation_ft",
                  "continent", "iso_country", "iso_region", "municipality", "scheduled_service",
                  "gps_code", "iata_code", "local_code", "home_link", "wikipedia_link", "keywords"]
_AIRPORT_NUMERIC = {"id", "latitude_deg", "longitude_deg", "elevation_ft"}


def _write_airports(path: Path, rng: np.random.Generator) -> None:
    # ident, type, name, lon, lat, elevation, municipality, scheduled, gps, iata, local, keywords
    airports = [
        ("KJNF", "medium_airport", "Juniper Flats Regional Airport", -112.38, 35.20, 4921,
         "Juniper Flats", "yes", "KJNF", "JNF", "JNF", ""),
        ("9AZ2", "small_airport", "Basin Flats Airstrip", -112.72, 35.03, 4505, "Saddle", "no",
         "9AZ2", "", "9AZ2", ""),
        ("9AZ3", "small_airport", "Cholla Valley Airport", -112.10, 35.06, 4610, "Cholla", "no",
         "9AZ3", "", "9AZ3", ""),
        ("9AZ4", "small_airport", "Westgate Municipal Airport", -112.955, 35.27, 4388,
         "Westgate", "no", "9AZ4", "", "9AZ4", ""),
        ("9AZ5", "heliport", "Juniper Regional Medical Center Heliport", -112.305, 35.232, 4980,
         "Juniper Flats", "no", "9AZ5", "", "9AZ5", ""),
        ("US-9AZ6", "closed", "Old Saddle Airstrip", -112.78, 35.18, 4620, "Saddle", "no", "",
         "", "", "9AZ6"),
    ]
    lines = [",".join(f'"{h}"' for h in AIRPORT_FIELDS)]
    for i, (ident, kind, name, lon, lat, elev, town, sched, gps, iata, local, kw) in \
            enumerate(airports):
        lon += rng.uniform(-0.0005, 0.0005)
        lat += rng.uniform(-0.0005, 0.0005)
        values = {"id": 356100 + 41 * i, "ident": ident, "type": kind, "name": name,
                  "latitude_deg": round(lat, 6), "longitude_deg": round(lon, 6),
                  "elevation_ft": elev, "continent": "NA", "iso_country": "US",
                  "iso_region": f"US-{STATE}", "municipality": town, "scheduled_service": sched,
                  "gps_code": gps, "iata_code": iata, "local_code": local, "home_link": "",
                  "wikipedia_link": "", "keywords": kw}
        cells = []
        for key in AIRPORT_FIELDS:
            v = values[key]
            if v == "" or v is None:
                cells.append("")
            elif key in _AIRPORT_NUMERIC:
                cells.append(str(v))
            else:
                cells.append('"' + str(v).replace('"', '""') + '"')
        lines.append(",".join(cells))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
