"""Canonical layers and columns: the one vocabulary every stage after the readers speaks.

Readers map each provider's field names onto these columns; nothing downstream ever sees a
provider's own field name.
"""

from __future__ import annotations

from dataclasses import dataclass

#: All computation happens in CONUS Albers equal area, metres.
CRS = "EPSG:5070"
#: Web maps only.
WEB_CRS = "EPSG:4326"

M_PER_KM = 1000.0
SQM_PER_ACRE = 4046.8564224


@dataclass(frozen=True)
class LayerSchema:
    """Geometry kind and canonical columns (name -> dtype: 'str', 'float', 'int', 'bool')."""

    name: str
    geometry: str  # "polygon", "line", "point" or "raster"
    columns: dict[str, str]
    description: str


LAYERS: dict[str, LayerSchema] = {
    s.name: s
    for s in [
        LayerSchema("federal_land", "polygon", {
            "unit_name": "str",       # PAD-US Unit_Nm / SMA ADMIN_UNIT_NAME
            "own_type": "str",        # FED, STAT, LOC, TRIB, PVT, ...
            "own_name": "str",        # owning agency code (BLM, USFS, ...)
            "mang_type": "str",
            "mang_name": "str",       # managing agency code: the agency filter uses this
            "designation": "str",     # PAD-US Des_Tp code (WA, WSA, NP, NM, NWR, ...)
            "gap_status": "float",    # 1..4, NaN where the source has none
            "state": "str",           # two-letter postal code
            "gis_acres": "float",
            "agency_label": "str",    # the managing agency's name (PAD-US Agency_Name domain)
            "designation_label": "str",  # the designation's name (PAD-US Designation_Type)
        }, "Federal (and other) land parcels with owner, manager and protection status."),
        LayerSchema("transmission_lines", "line", {
            "line_id": "str", "voltage_kv": "float", "volt_class": "str", "status": "str",
            "owner": "str",
        }, "High-voltage transmission lines; voltage NaN where the provider marks it unknown."),
        LayerSchema("substations", "point", {
            "substation_id": "str", "name": "str", "max_volt_kv": "float", "min_volt_kv": "float",
            "status": "str",
        }, "Electric substations."),
        LayerSchema("power_plants", "point", {
            "plant_code": "str", "plant_name": "str", "primary_fuel": "str", "fuel_class": "str",
            "capacity_mw": "float", "grid_voltage_kv": "float", "grid_voltage_1_kv": "float",
            "grid_voltage_2_kv": "float", "grid_voltage_3_kv": "float", "state": "str",
        }, "Generating plants with nameplate capacity; fuel_class is 'firm', 'variable', "
           "'storage', 'other' or 'unknown' (data/fuel_classes.yaml); grid_voltage_kv is the "
           "highest of the plant's grid voltages 1-3 (EIA-860)."),
        LayerSchema("roads", "line", {
            "road_id": "str", "name": "str", "road_class": "str", "mtfcc": "str",
        }, "Major roads; road_class is 'interstate', 'primary', 'secondary' or 'freeway'."),
        LayerSchema("rail", "line", {
            "rail_id": "str", "owner": "str", "network": "str", "tracks": "float",
            "class1": "bool",
        }, "Rail lines; network is FRA NARN's NET code (M main, O other, ...)."),
        LayerSchema("airports", "point", {
            "ident": "str", "name": "str", "airport_type": "str", "scheduled_service": "bool",
            "iata_code": "str", "state": "str", "longest_runway_ft": "float",
        }, "Airports (large/medium/small, heliports, ...), with the longest open runway if known."),
        LayerSchema("rivers", "line", {
            "name": "str", "feature_class": "str",
        }, "Rivers and lake centrelines."),
        LayerSchema("water_stress", "polygon", {
            "bws_score": "float", "bws_cat": "float", "bws_label": "str",
        }, "WRI Aqueduct baseline water stress (score 0-5, category -1..4)."),
        LayerSchema("counties", "polygon", {
            "geoid": "str", "name": "str", "population": "float", "labor_force": "float",
            "employed": "float", "manufacturing_employment": "float",
            "bachelors_or_higher": "float",
        }, "Counties with workforce figures joined by GEOID (NaN where no table gives them)."),
        LayerSchema("states", "polygon", {
            "state_fips": "str", "name": "str", "abbrev": "str",
        }, "State boundaries, for study areas."),
        LayerSchema("places", "point", {
            "geoid": "str", "name": "str", "population": "float",
        }, "Towns and cities (Census places), for distance to the nearest town."),
        LayerSchema("protected_areas", "polygon", {
            "name": "str", "designation": "str",
        }, "Extra exclusion polygons (e.g. an NPS boundary)."),
        LayerSchema("pathway_areas", "polygon", {
            "name": "str", "pathway": "str", "mode": "str", "months_low": "float",
            "months_high": "float", "source": "str", "row": "int",
        }, "Land a user knows more about (RMP disposal lands, withdrawals, leases, solar energy "
           "zones): each polygon overrides (mode override) or adds (mode add) a land-pathway "
           "instrument of data/land_pathways.yaml; row is the polygon's row in its file."),
        LayerSchema("terrain", "raster", {}, "A DEM; slope is derived from it."),
        LayerSchema("candidates", "polygon", {
            "candidate_id": "str", "name": "str",
        }, "A planner's own shortlist of sites."),
    ]
}

#: Two-letter postal code <-> state FIPS, for study areas and readers.
STATE_FIPS: dict[str, str] = {
    "AL": "01", "AK": "02", "AZ": "04", "AR": "05", "CA": "06", "CO": "08", "CT": "09",
    "DE": "10", "DC": "11", "FL": "12", "GA": "13", "HI": "15", "ID": "16", "IL": "17",
    "IN": "18", "IA": "19", "KS": "20", "KY": "21", "LA": "22", "ME": "23", "MD": "24",
    "MA": "25", "MI": "26", "MN": "27", "MS": "28", "MO": "29", "MT": "30", "NE": "31",
    "NV": "32", "NH": "33", "NJ": "34", "NM": "35", "NY": "36", "NC": "37", "ND": "38",
    "OH": "39", "OK": "40", "OR": "41", "PA": "42", "RI": "44", "SC": "45", "SD": "46",
    "TN": "47", "TX": "48", "UT": "49", "VT": "50", "VA": "51", "WA": "53", "WV": "54",
    "WI": "55", "WY": "56", "AS": "60", "GU": "66", "MP": "69", "PR": "72", "VI": "78",
}
FIPS_STATE: dict[str, str] = {v: k for k, v in STATE_FIPS.items()}
STATE_NAMES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands", "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
}
