"""EIA 'Power Plants in the U.S.': the demo's plants, as the hub's CSV export lays them out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .helpers import _r6, _write_csv
from .people import _county_name_at
from .region import STATE_NAME

#: EIA 'Power Plants in the U.S.' field names as the feature service publishes them (shapefile-
#: style 10-character names), with X and Y first as a hub CSV export writes them.
EIA_FIELDS = ["X", "Y", "OBJECTID", "Plant_Code", "Plant_Name", "Utility_ID", "Utility_Na",
              "sector_nam", "Street_Add", "City", "County", "State", "Zip", "PrimSource",
              "source_des", "tech_desc", "Install_MW", "Total_MW", "Bat_MW", "Bio_MW", "Coal_MW",
              "Geo_MW", "Hydro_MW", "HydroPS_MW", "NG_MW", "Nuclear_MW", "Crude_MW", "Solar_MW",
              "Wind_MW", "Other_MW", "Source", "Period", "Longitude", "Latitude"]

_SOURCE_COLUMN = {"natural gas": ("NG_MW", "Natural Gas"), "nuclear": ("Nuclear_MW", "Nuclear"),
                  "hydroelectric": ("Hydro_MW", "Hydroelectric"), "solar": ("Solar_MW", "Solar"),
                  "wind": ("Wind_MW", "Wind"), "batteries": ("Bat_MW", "Battery"),
                  "biomass": ("Bio_MW", "Biomass")}

# name, source, technology, lon, lat, nameplate MW, sector, city, county (as planned; the
# file takes it from the county polygons), utility
_PLANTS = [
    ("Cholla Basin Generating Station", "natural gas", "Natural Gas Fired Combined Cycle",
     -112.635, 34.968, 1180.0, "Electric Utility", "Saddle", "Saddle",
     "Juniper Valley Electric Co"),
    ("Juniper Peaking Station", "natural gas", "Natural Gas Fired Combustion Turbine",
     -112.335, 35.246, 210.0, "Electric Utility", "Juniper Flats", "Juniper",
     "Juniper Valley Electric Co"),
    ("Sandstone Nuclear Generating Station", "nuclear", "Nuclear", -112.935, 34.795, 2550.0,
     "Electric Utility", "Sandstone", "Sandstone", "Cholla Power Authority"),
    ("Cholla Dam", "hydroelectric", "Conventional Hydroelectric", -112.152, 35.003, 245.0,
     "Electric Utility", "Cholla", "Basin", "Bureau of Reclamation"),
    ("Sunflat Solar", "solar", "Solar Photovoltaic", -112.455, 34.925, 300.0, "IPP Non-CHP",
     "Dry Fork", "Basin", "Sunflat Solar LLC"),
    ("Mesquite Solar", "solar", "Solar Photovoltaic", -112.255, 34.898, 150.0, "IPP Non-CHP",
     "Cholla", "Basin", "Mesquite Solar LLC"),
    ("Basin Flats Solar I", "solar", "Solar Photovoltaic", -112.705, 35.078, 80.0, "IPP Non-CHP",
     "Saddle", "Saddle", "Basin Flats Solar LLC"),
    ("Caliche Solar Ranch", "solar", "Solar Photovoltaic", -112.948, 35.102, 50.0, "IPP Non-CHP",
     "Westgate", "Saddle", "Caliche Solar Ranch LLC"),
    ("Red Mesa Wind Farm", "wind", "Onshore Wind Turbine", -112.021, 35.362, 155.0,
     "IPP Non-CHP", "Red Mesa", "Red Mesa", "Red Mesa Wind LLC"),
    ("Juniper Battery Storage", "batteries", "Batteries", -112.312, 35.236, 100.0,
     "Electric Utility", "Juniper Flats", "Juniper", "Juniper Valley Electric Co"),
    ("Westgate Energy Center", "natural gas", "Natural Gas Fired Combined Cycle", -112.976,
     35.305, 620.0, "IPP Non-CHP", "Westgate", "Saddle", "Westgate Energy LLC"),
    ("Cholla Canyon Hydro", "hydroelectric", "Conventional Hydroelectric", -112.052, 35.031,
     12.0, "Electric Utility", "Cholla", "Cholla", "Cholla Power Authority"),
    ("Dry Fork Solar", "solar", "Solar Photovoltaic", -112.468, 34.762, 20.0,
     "Commercial Non-CHP", "Dry Fork", "Basin", "Dry Fork Solar LLC"),
    ("Juniper Landfill Gas", "biomass", "Landfill Gas", -112.252, 35.281, 4.8,
     "Commercial Non-CHP", "Juniper Flats", "Juniper", "City of Juniper Flats"),
    ("Rimrock Solar", "solar", "Solar Photovoltaic", -112.062, 35.112, 40.0, "IPP Non-CHP",
     "Rimrock", "Cholla", "Rimrock Solar LLC"),
]


_UTILITY_IDS = {u: 59001 + 13 * k for k, u in enumerate(dict.fromkeys(p[9] for p in _PLANTS))}


def _write_plants(path: Path, rng: np.random.Generator) -> None:
    rows = []
    for i, (name, source, tech, lon, lat, nameplate, sector, city, _, utility) in \
            enumerate(_PLANTS):
        derate = 1.0 if source in ("solar", "wind", "batteries") else rng.uniform(0.9, 0.97)
        summer = round(nameplate * derate, 1)
        col, label = _SOURCE_COLUMN[source]
        row: dict[str, Any] = {k: "" for k in EIA_FIELDS}
        row.update({
            "X": _r6(lon), "Y": _r6(lat), "OBJECTID": 7001 + i, "Plant_Code": 66101 + 7 * i,
            "Plant_Name": name, "Utility_ID": _UTILITY_IDS[utility],
            "Utility_Na": utility, "sector_nam": sector,
            "Street_Add": f"{1000 + 37 * i} {city} Plant Road", "City": city,
            "County": _county_name_at(lon, lat),
            "State": STATE_NAME, "Zip": 86301 + 11 * (i % 6), "PrimSource": source,
            "source_des": f"{label} = {summer:g} MW", "tech_desc": tech,
            "Install_MW": nameplate, "Total_MW": summer, col: summer,
            "Source": "EIA-860, EIA-860M and EIA-923", "Period": 202502,
            "Longitude": _r6(lon), "Latitude": _r6(lat),
        })
        rows.append(row)
    _write_csv(path, EIA_FIELDS, rows)
