"""A synthetic demo region, written in the providers' own published formats, plus its config.

`generate_demo(out_dir)` invents a small piece of the interior West (lon -113.0..-111.8,
lat 34.6..35.5: a real-looking box, invented land, lines, plants, people) and writes every input
the way its provider publishes it, so the demo exercises the same readers as a real run:

==========================  ===========================================  =====================
file                        provider format followed                     reader
==========================  ===========================================  =====================
padus/PADUS4_0_Fee.gpkg     USGS PAD-US 4.0 GeoPackage, layer            padus
                            'PADUS4_0Fee', USGS Albers (NAD83), text
                            GAP_Sts '1'..'4', two self-intersecting
                            polygons as real PAD-US files have
hifld/Electric_Power_       HIFLD Open 'Electric Power Transmission       hifld_transmission_lines
Transmission_Lines.geojson  Lines' (ArcGIS GeoJSON: epoch-ms dates,
                            VOLTAGE -999999 = unknown, SHAPE__Len in
                            Web Mercator metres)
hifld/Electric_             HIFLD Open 'Electric Substations'            hifld_substations
Substations.geojson         (MAX_VOLT/MIN_VOLT -999999 = unknown)
eia/Power_Plants.csv        EIA 'Power Plants in the U.S.' layer, CSV     eia_power_plants
                            export (X, Y, then the service's 10-char
                            field names: Utility_Na, sector_nam,
                            Street_Add, source_des, ...; Period 202502)
tiger/tl_2023_04_           Census TIGER/Line Primary and Secondary       tiger_roads
prisecroads.zip             Roads, zipped shapefile in NAD83
                            (EPSG:4269), FULLNAME 'I- 40'
fra/NTAD_North_American_    BTS/FRA NTAD North American Rail Network      fra_narn
Rail_Network_Lines.geojson  Lines (NET M/A/I, RROWNER1, TRKRGHTS1..9)
ourairports/airports.csv    OurAirports airports.csv (strings quoted,     ourairports
                            numbers bare, continent 'NA')
nhd/NHDFlowline.geojson     USGS NHD flowlines (FTYPE 460/558/336,        nhd_flowlines
                            FCODE, 14-digit REACHCODE)
aqueduct/Aqueduct40_        WRI Aqueduct 4.0 baseline annual              aqueduct_baseline
baseline_annual.geojson     (bws_raw/score/cat/label, -9999 no data,
                            'Arid and Low Water Use' = cat -1)
census/cb_2023_us_county_   Census cartographic boundary counties         census_counties
500k.geojson                (STATEFP, COUNTYFP, GEOID, NAME, ...)
census/acs5_2023_           Census API output saved as CSV                (table 'acs')
county.csv                  (NAME, variables, state, county)
bls/laucnty23.csv           BLS LAUS county table as re-published:        (table 'bls_laus')
                            ' LAUS Code' header, quoted numbers with
                            thousands separators and trailing spaces,
                            CRLF, no final newline
dem/demo_dem_0p001deg.tif   GeoTIFF, EPSG:4326, 0.001 deg, int16,         dem
                            nodata -32768
==========================  ===========================================  =====================

The region: a flat basin holds a large contiguous BLM expanse (about lon -112.88..-112.38,
lat 34.86..35.15) crossed by a 500 kV line with a 500/230 kV substation inside it and a 1.1 GW
gas plant at its southern edge; Interstate 40 and the BNSF main line run east-west 10-15 km to
its north, through the city of Juniper Flats (lon -112.30, lat 35.23); the Cholla River runs
along its south side. Smaller BLM blocks lie near the city and near Westgate (both good), in
the mountains (too steep) and in the far south (too small). National forest, a national park,
a wilderness, a WSA, an ACEC, a refuge, a reservation, a training range, state trust sections
and private land fill the rest.

Everything is deterministic for a seed: the same seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import json
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import (
    LineString,
    MultiLineString,
    MultiPolygon,
    Point,
    Polygon,
    box,
)

#: The study area, [west, south, east, north] in degrees.
BBOX = (-113.0, 34.6, -111.8, 35.5)

#: PAD-US ships in the USGS version of CONUS Albers (NAD83), as Esri WKT.
PADUS_CRS_WKT = (
    'PROJCS["USA_Contiguous_Albers_Equal_Area_Conic_USGS_version",'
    'GEOGCS["GCS_North_American_1983",DATUM["D_North_American_1983",'
    'SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Albers"],'
    'PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",-96.0],PARAMETER["Standard_Parallel_1",29.5],'
    'PARAMETER["Standard_Parallel_2",45.5],PARAMETER["Latitude_Of_Origin",23.0],'
    'UNIT["Meter",1.0]]'
)

#: Fixed timestamp for anything a format insists on dating (GeoPackage contents, DBF header,
#: zip entries), so reruns are byte-identical.
_FIXED_DATE = "2024-07-01T00:00:00.000Z"
_ZIP_DATE = (2023, 9, 26, 0, 0, 0)

_GEOD = Geod(ellps="WGS84")
_TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
_TO_PADUS = Transformer.from_crs("EPSG:4326", CRS.from_wkt(PADUS_CRS_WKT), always_xy=True)

STATE_FIPS = "04"
STATE = "AZ"
STATE_NAME = "Arizona"

FILES = {
    "federal_land": "padus/PADUS4_0_Fee.gpkg",
    "transmission_lines": "hifld/Electric_Power_Transmission_Lines.geojson",
    "substations": "hifld/Electric_Substations.geojson",
    "power_plants": "eia/Power_Plants.csv",
    "roads": "tiger/tl_2023_04_prisecroads.zip",
    "rail": "fra/NTAD_North_American_Rail_Network_Lines.geojson",
    "airports": "ourairports/airports.csv",
    "rivers": "nhd/NHDFlowline.geojson",
    "water_stress": "aqueduct/Aqueduct40_baseline_annual.geojson",
    "counties": "census/cb_2023_us_county_500k.geojson",
    "acs": "census/acs5_2023_county.csv",
    "laus": "bls/laucnty23.csv",
    "terrain": "dem/demo_dem_0p001deg.tif",
    "places": "census/cb_2023_04_place_500k.geojson",
}
PADUS_LAYER = "PADUS4_0Fee"


def generate_demo(out_dir: Path, seed: int = 7) -> Path:
    """Write the synthetic demo region into `out_dir` and return the path of its config
    (`out_dir/demo.yaml`). Offline, a few seconds, byte-identical for the same seed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # one independent stream per layer, so changing one layer never shifts another
    streams = {name: np.random.default_rng(rng.integers(0, 2**63 - 1)) for name in (
        "padus", "grid", "plants", "roads", "rail", "airports", "rivers", "water", "people",
        "dem")}
    subs, lines = _grid(streams["grid"])
    _write_padus(out_dir / FILES["federal_land"], streams["padus"])
    _write_transmission(out_dir / FILES["transmission_lines"], lines)
    _write_substations(out_dir / FILES["substations"], subs, lines)
    _write_plants(out_dir / FILES["power_plants"], streams["plants"])
    _write_tiger_roads(out_dir / FILES["roads"], streams["roads"])
    _write_narn(out_dir / FILES["rail"], streams["rail"])
    _write_airports(out_dir / FILES["airports"], streams["airports"])
    _write_nhd(out_dir / FILES["rivers"], streams["rivers"])
    _write_aqueduct(out_dir / FILES["water_stress"], streams["water"])
    _write_counties(out_dir, streams["people"])
    _write_places(out_dir / FILES["places"])
    _write_dem(out_dir / FILES["terrain"], streams["dem"])
    config = out_dir / "demo.yaml"
    config.write_text(demo_config_text(), encoding="utf-8")
    return config


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------

def _r6(v: float) -> float:
    return round(float(v), 6)


def _coords(geom: Any) -> Any:
    """GeoJSON coordinates of a shapely geometry, rounded to 6 decimals (about 0.1 m)."""
    mapping = shapely.geometry.mapping(geom)
    return _round_nested(mapping["coordinates"])


def _round_nested(c: Any) -> Any:
    if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
        return [_r6(v) for v in c]
    return [_round_nested(x) for x in c]


def _feature(props: dict[str, Any], geom: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": geom.geom_type, "coordinates": _coords(geom)}}


def _write_geojson(path: Path, name: str, features: list[dict[str, Any]]) -> None:
    """GeoJSON as GDAL writes it: one feature per line, RFC 7946 lon/lat (no crs member)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"type": "FeatureCollection", "name": name}, ensure_ascii=False)[:-1]
    body = ",\n".join(json.dumps(f, ensure_ascii=False, allow_nan=False) for f in features)
    path.write_text(f'{head}, "features": [\n{body}\n]\n}}\n', encoding="utf-8")


def _geodesic_km(geom: Any) -> float:
    return abs(_GEOD.geometry_length(geom)) / 1000.0


def _mercator_length(geom: Any) -> float:
    return float(shapely.length(shapely.transform(
        geom, lambda xy: np.column_stack(_TO_MERCATOR.transform(xy[:, 0], xy[:, 1])))))


def _epoch_ms(year: int, month: int, day: int) -> int:
    days = (np.datetime64(f"{year:04d}-{month:02d}-{day:02d}") - np.datetime64("1970-01-01"))
    return int(days.astype(int)) * 86_400_000


def _jitter(rng: np.random.Generator, pts: Sequence[tuple[float, float]], amount: float = 0.002
            ) -> list[tuple[float, float]]:
    """Inner vertices of a line nudged a little (ends stay where they join something)."""
    out = [tuple(pts[0])]
    for x, y in pts[1:-1]:
        out.append((x + rng.uniform(-amount, amount), y + rng.uniform(-amount, amount)))
    out.append(tuple(pts[-1]))
    return out


def _densify(pts: Sequence[tuple[float, float]], rng: np.random.Generator, step: float = 0.02,
             wiggle: float = 0.0015) -> list[tuple[float, float]]:
    """A polyline with extra, slightly wandering vertices every `step` degrees (roads, rivers)."""
    out: list[tuple[float, float]] = [tuple(pts[0])]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        for k in range(1, n):
            t = k / n
            out.append((x0 + t * (x1 - x0) + rng.uniform(-wiggle, wiggle),
                        y0 + t * (y1 - y0) + rng.uniform(-wiggle, wiggle)))
        out.append((x1, y1))
    return out


# ---------------------------------------------------------------------------------------------
# PAD-US 4.0 Fee
# ---------------------------------------------------------------------------------------------

@dataclass
class _Parcel:
    unit: str
    own_type: str
    own_name: str
    mang_type: str
    mang_name: str
    des_tp: str
    gap: str
    shape: Any
    loc_own: str | None = None
    loc_mang: str | None = None
    loc_ds: str | None = None
    date_est: str | None = None
    pub_access: str = "OA"
    iucn: str = "Other Conservation Area"
    invalid: bool = False
    extra: dict = field(default_factory=dict)


def _poly(*pts: tuple[float, float]) -> Polygon:
    return Polygon(pts)


def _bowtie(w: float, s: float, e: float, n: float) -> Polygon:
    """A block whose outline crosses itself near its west edge: the kind of digitising slip real
    PAD-US parcels carry (GEOS reports a self-intersection; make_valid repairs it)."""
    h = n - s
    return Polygon([(w, s), (e, s), (e, n), (w, n), (w, s + 0.55 * h), (w - 0.004, s + 0.45 * h),
                    (w - 0.004, s + 0.55 * h), (w, s + 0.45 * h), (w, s)])


def _section(w: float, s: float) -> Polygon:
    """One PLSS section (1 mile square) with its south-west corner at (w, s)."""
    return box(w, s, w + 0.01765, s + 0.01449)


def _parcels() -> list[_Parcel]:
    """Every PAD-US record, highest precedence first: a record's land is what earlier records
    leave, so fee parcels never overlap (as in PAD-US's Fee layer)."""
    blm = {"own_type": "FED", "own_name": "BLM", "mang_type": "FED", "mang_name": "BLM",
           "loc_own": "Bureau of Land Management", "loc_mang": "Kingman Field Office"}
    fs = {"own_type": "FED", "own_name": "USFS", "mang_type": "FED", "mang_name": "USFS",
          "loc_own": "U.S. Forest Service", "loc_mang": "Red Mesa National Forest"}
    state_trust = {"own_type": "STAT", "own_name": "SLB", "mang_type": "STAT",
                   "mang_name": "SLB", "loc_own": "Arizona State Land Department",
                   "loc_mang": "Arizona State Land Department", "des_tp": "SOTH", "gap": "4",
                   "pub_access": "RA", "iucn": "Unassigned"}
    p: list[_Parcel] = [
        # protected cores first
        _Parcel("Red Mesa National Park", "FED", "NPS", "FED", "NPS", "NP", "1",
                _poly((-112.08, 35.33), (-111.98, 35.32), (-111.86, 35.345), (-111.85, 35.47),
                      (-111.97, 35.485), (-112.06, 35.46), (-112.09, 35.40)),
                loc_own="National Park Service", loc_mang="Red Mesa National Park",
                date_est="1931", iucn="II"),
        _Parcel("Granite Spires Wilderness", des_tp="WA", gap="1",
                shape=Point(-112.80, 34.925).buffer(0.032, quad_segs=6),
                date_est="1990", iucn="Ib", loc_ds="Wilderness Area", **blm),
        _Parcel("Sandy Wash Wilderness Study Area", des_tp="WSA", gap="2",
                shape=_poly((-112.885, 35.05), (-112.80, 35.05), (-112.795, 35.09),
                            (-112.81, 35.12), (-112.885, 35.12)),
                loc_ds="Wilderness Study Area", iucn="Other Conservation Area", **blm),
        _Parcel("Antelope Springs ACEC", des_tp="ACEC", gap="3",
                shape=box(-112.50, 35.06, -112.45, 35.10),
                loc_ds="Area of Critical Environmental Concern", **blm),
        _Parcel("Saddle Rock National Monument", des_tp="NM", gap="2",
                shape=box(-112.66, 35.38, -112.58, 35.45), date_est="2000", iucn="III",
                **{**blm, "loc_mang": "Saddle Rock National Monument"}),
        _Parcel("Cholla River National Wildlife Refuge", "FED", "FWS", "FED", "FWS", "NWR", "2",
                _poly((-112.31, 34.925), (-112.17, 34.975), (-112.17, 35.005),
                      (-112.31, 34.955), (-112.33, 34.94)),
                loc_own="U.S. Fish and Wildlife Service", date_est="1974", iucn="IV"),
        _Parcel("Cholla Lake State Park", "STAT", "SPR", "STAT", "SPR", "SP", "2",
                box(-112.12, 35.02, -112.06, 35.05), loc_own="Arizona State Parks",
                loc_mang="Arizona State Parks", date_est="1968", iucn="V"),
        _Parcel("The Nature Conservancy Cienega Preserve", "NGO", "NGO", "NGO", "NGO", "PCON",
                "2", box(-112.60, 34.845, -112.55, 34.875), loc_own="The Nature Conservancy",
                loc_mang="The Nature Conservancy", pub_access="RA", iucn="Unassigned"),
        _Parcel("Juniper Springs Indian Reservation", "TRIB", "TRIB", "TRIB", "TRIB", "TRIBL",
                "4", _poly((-112.42, 34.62), (-112.18, 34.62), (-112.17, 34.80),
                           (-112.30, 34.83), (-112.42, 34.81)),
                loc_own="Juniper Springs Tribe", loc_mang="Juniper Springs Tribe",
                pub_access="XA", iucn="Unassigned"),
        _Parcel("Camp Saddle Training Range", "FED", "DOD", "FED", "DOD", "MIL", "4",
                _poly((-113.0, 35.345), (-112.80, 35.35), (-112.78, 35.50), (-113.0, 35.50)),
                loc_own="U.S. Army", loc_mang="U.S. Army", pub_access="XA", iucn="Unassigned"),
        _Parcel("Cholla Dam Reclamation Withdrawal", "FED", "USBR", "FED", "USBR", "FOTH", "4",
                box(-112.17, 34.985, -112.13, 35.02), loc_own="Bureau of Reclamation",
                pub_access="RA", iucn="Unassigned"),
        _Parcel("Juniper Flats Open Space", "LOC", "CITY", "LOC", "CITY", "LP", "4",
                box(-112.295, 35.252, -112.268, 35.268), loc_own="City of Juniper Flats",
                loc_mang="City of Juniper Flats", iucn="Unassigned"),
        # private ranch inside the BLM expanse: a self-intersecting outline
        _Parcel("Saddle Ranch", "PVT", "PVT", "PVT", "PVT", "PCON", "3",
                _bowtie(-112.47, 34.88, -112.42, 34.92), loc_own="Saddle Ranch LLC",
                pub_access="XA", iucn="Unassigned", invalid=True),
        # state trust sections checkerboarded into the BLM land, and a larger trust block
        _Parcel("State Trust Land", shape=_section(-112.70, 35.03), **state_trust),
        _Parcel("State Trust Land", shape=_section(-112.55, 34.94), **state_trust),
        _Parcel("State Trust Land", shape=_section(-112.62, 35.10), **state_trust),
        _Parcel("State Trust Land", shape=box(-112.36, 35.02, -112.25, 35.10), **state_trust),
        # BLM blocks: near the city and near Westgate (good), in the mountains (steep), small
        _Parcel("Juniper Flats East Public Lands", des_tp="FOTH", gap="3",
                shape=_poly((-112.225, 35.148), (-112.165, 35.15), (-112.168, 35.192),
                            (-112.20, 35.195), (-112.226, 35.185)), **blm),
        _Parcel("Westgate Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.972, 35.198, -112.902, 35.252), **blm),
        _Parcel("Rimrock Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.10, 35.168, -112.04, 35.21), **blm),
        _Parcel("Cholla Range Public Lands", des_tp="FOTH", gap="3",
                shape=box(-111.95, 34.80, -111.88, 34.86), **blm),
        _Parcel("Granite Range Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.98, 34.62, -112.90, 34.68), **blm),
        _Parcel("Dry Fork Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.30, 34.838, -112.284, 34.849), **blm),
        _Parcel("Mesquite Flat Public Lands", des_tp="FOTH", gap="3",
                shape=_bowtie(-112.15, 34.86, -112.10, 34.90), invalid=True, **blm),
        _Parcel("Saddle North Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.755, 35.36, -112.70, 35.40), **blm),
        _Parcel("Juniper North Public Lands", des_tp="FOTH", gap="3",
                shape=box(-112.45, 35.38, -112.40, 35.42), **blm),
        # the large contiguous BLM expanse, in two field-office units
        _Parcel("Cholla Basin Public Lands", des_tp="FOTH", gap="3",
                shape=_poly((-112.88, 34.87), (-112.62, 34.862), (-112.62, 35.148),
                            (-112.74, 35.15), (-112.76, 35.135), (-112.88, 35.135)), **blm),
        _Parcel("Saddle Mesa Public Lands", des_tp="FOTH", gap="3",
                shape=_poly((-112.62, 34.862), (-112.46, 34.875), (-112.40, 34.90),
                            (-112.38, 35.00), (-112.39, 35.14), (-112.52, 35.15),
                            (-112.62, 35.148)), **{**blm, "loc_mang": "Hassayampa Field Office"}),
        # inholdings and special areas inside the national forests
        _Parcel("Red Mesa Research Natural Area", des_tp="RNA", gap="1",
                shape=box(-112.22, 35.43, -112.17, 35.47), iucn="Ia",
                **{**fs, "loc_ds": "Research Natural Area"}),
        _Parcel("Bear Spring Ranch", "PVT", "PVT", "PVT", "PVT", "PCON", "4",
                box(-111.93, 35.05, -111.90, 35.08), loc_own="Private",
                pub_access="XA", iucn="Unassigned"),
        _Parcel("Juniper Flats Municipal Watershed", "LOC", "CITY", "LOC", "CITY", "LOTH", "4",
                box(-112.24, 35.36, -112.20, 35.40), loc_own="City of Juniper Flats",
                loc_mang="City of Juniper Flats", pub_access="RA", iucn="Unassigned"),
        _Parcel("Cholla County Fairgrounds", "LOC", "CNTY", "LOC", "CNTY", "LREC", "4",
                box(-111.99, 34.98, -111.97, 35.0), loc_own="Cholla County",
                loc_mang="Cholla County", iucn="Unassigned"),
        # national forest around the park and on the east and south-west ranges
        _Parcel("Red Mesa National Forest", des_tp="NF", gap="3",
                shape=_poly((-112.26, 35.28), (-111.70, 35.28), (-111.70, 35.60),
                            (-112.26, 35.60)), date_est="1908", iucn="VI", **fs),
        _Parcel("Cholla National Forest", des_tp="NF", gap="3",
                shape=_poly((-112.0, 34.55), (-111.70, 34.55), (-111.70, 35.16),
                            (-111.99, 35.15), (-112.01, 34.95)), date_est="1908", iucn="VI",
                **{**fs, "loc_mang": "Cholla National Forest"}),
        _Parcel("Cholla National Forest - Granite Unit", des_tp="NF", gap="3",
                shape=_poly((-113.05, 34.55), (-112.66, 34.55), (-112.66, 34.765),
                            (-113.05, 34.76)), date_est="1908", iucn="VI",
                **{**fs, "loc_mang": "Cholla National Forest"}),
        _Parcel("Saddle Valley State Trust Land", shape=box(-112.86, 35.22, -112.80, 35.27),
                **state_trust),
        _Parcel("Sandstone State Wildlife Area", "STAT", "SFW", "STAT", "SFW", "SRMA", "3",
                box(-112.98, 34.84, -112.92, 34.90), loc_own="Arizona Game and Fish Department",
                loc_mang="Arizona Game and Fish Department", iucn="VI"),
        _Parcel("Juniper Flats Airport Lands", "LOC", "CITY", "LOC", "CITY", "LOTH", "4",
                box(-112.395, 35.19, -112.365, 35.21), loc_own="City of Juniper Flats",
                loc_mang="City of Juniper Flats", pub_access="XA", iucn="Unassigned"),
    ]
    return p


def _write_padus(path: Path, rng: np.random.Generator) -> None:
    import geopandas as gpd
    import pyogrio

    rows, geoms = [], []
    taken = None
    for i, parcel in enumerate(_parcels()):
        shape = parcel.shape
        if taken is not None and not parcel.invalid:
            shape = shapely.difference(shape, taken)
        if shape.is_empty:
            continue
        if not parcel.invalid:
            shape = shapely.set_precision(shape, 1e-7)
        taken = shapely.union(taken, shapely.make_valid(shape)) if taken is not None \
            else shapely.make_valid(shape)
        albers = shapely.transform(shape, lambda xy: np.column_stack(
            _TO_PADUS.transform(xy[:, 0], xy[:, 1])))
        polys = list(albers.geoms) if isinstance(albers, MultiPolygon) else [albers]
        albers = MultiPolygon(polys)
        area = float(shapely.area(shapely.make_valid(albers)))
        geoms.append(albers)
        src_year = str(int(rng.choice([2018, 2019, 2020, 2021, 2022, 2023])))
        rows.append({
            "FeatClass": "Fee", "Category": "Fee",
            "Own_Type": parcel.own_type, "Own_Name": parcel.own_name, "Loc_Own": parcel.loc_own,
            "Mang_Type": parcel.mang_type, "Mang_Name": parcel.mang_name,
            "Loc_Mang": parcel.loc_mang, "Des_Tp": parcel.des_tp, "Loc_Ds": parcel.loc_ds,
            "Unit_Nm": parcel.unit, "Loc_Nm": parcel.unit, "State_Nm": STATE,
            "Agg_Src": f"{parcel.mang_name}_{STATE}_{src_year}",
            "GIS_Src": f"Synthetic demo data ({parcel.mang_name})",
            "Src_Date": src_year, "GIS_Acres": round(area / 4046.8564224, 2),
            "Source_PAID": f"{parcel.mang_name}{STATE}{10000 + i}",
            "WDPA_Cd": None, "Pub_Access": parcel.pub_access,
            "Access_Src": "GAP - Default Value", "Access_Dt": "2024",
            "GAP_Sts": parcel.gap, "GAPCdSrc": "GAP - Default Value", "GAPCdDt": "2024",
            "IUCN_Cat": parcel.iucn, "IUCNCtSrc": "GAP - Default Value", "IUCNCtDt": "2024",
            "Date_Est": parcel.date_est, "Comments": "Synthetic demo data",
            "SHAPE_Length": round(float(shapely.length(albers)), 4),
            "SHAPE_Area": round(area, 4),
        })
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS.from_wkt(PADUS_CRS_WKT))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    with _gdal_config({"OGR_CURRENT_DATE": _FIXED_DATE}, pyogrio):
        pyogrio.write_dataframe(gdf, path, layer=PADUS_LAYER, driver="GPKG",
                                geometry_type="MultiPolygon",
                                layer_options={"SPATIAL_INDEX": "YES"})


class _gdal_config:
    """Set GDAL config options for a block, restoring what was there."""

    def __init__(self, options: dict[str, str], pyogrio_module: Any) -> None:
        self.options, self.pyogrio = options, pyogrio_module

    def __enter__(self) -> None:
        self.saved = {k: self.pyogrio.get_gdal_config_option(k) for k in self.options}
        self.pyogrio.set_gdal_config_options(self.options)

    def __exit__(self, *exc: object) -> None:
        self.pyogrio.set_gdal_config_options(self.saved)


# ---------------------------------------------------------------------------------------------
# HIFLD transmission lines and substations
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# EIA Power Plants
# ---------------------------------------------------------------------------------------------

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


def _write_csv(path: Path, header: list[str], rows: list[dict[str, Any]],
               lineterminator: str = "\r\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator=lineterminator)
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# TIGER/Line primary and secondary roads
# ---------------------------------------------------------------------------------------------

def _roads(rng: np.random.Generator) -> list[tuple[str, str, str, list[tuple[float, float]]]]:
    """(FULLNAME, RTTYP, MTFCC, vertices) per road; long roads are split into TIGER-like pieces."""
    i40 = _densify([(-113.05, 35.30), (-112.75, 35.27), (-112.50, 35.245), (-112.30, 35.235),
                    (-112.05, 35.25), (-111.75, 35.282)], rng, 0.01, 0.0006)
    us89 = _densify([(-112.46, 34.55), (-112.44, 34.80), (-112.40, 35.00), (-112.33, 35.15),
                     (-112.31, 35.235)], rng, 0.01, 0.0008)
    us89n = _densify([(-112.31, 35.235), (-112.36, 35.38), (-112.50, 35.55)], rng, 0.01, 0.0008)
    us93 = _densify([(-112.89, 34.55), (-112.87, 34.90), (-112.92, 35.10), (-112.95, 35.295)],
                    rng, 0.01, 0.0008)
    sr64 = _densify([(-112.30, 35.238), (-112.10, 35.30), (-111.95, 35.40), (-111.75, 35.47)],
                    rng, 0.01, 0.0008)
    sr96 = _densify([(-113.05, 34.80), (-112.70, 34.84), (-112.44, 34.82), (-112.15, 34.94),
                     (-111.75, 35.06)], rng, 0.01, 0.0008)
    bypass = _densify([(-112.42, 35.243), (-112.38, 35.29), (-112.28, 35.30), (-112.22, 35.24)],
                      rng, 0.01, 0.0005)
    co5 = _densify([(-112.60, 35.25), (-112.62, 35.05), (-112.64, 34.97)], rng, 0.01, 0.0008)

    def pieces(name: str, rttyp: str, mtfcc: str, pts: list, n: int) -> list:
        cut = np.linspace(0, len(pts) - 1, n + 1).round().astype(int)
        return [(name, rttyp, mtfcc, pts[a:b + 1]) for a, b in itertools.pairwise(cut)]

    return [*pieces("I- 40", "I", "S1100", i40, 6),
            *pieces("US Hwy 89", "U", "S1200", us89, 3),
            *pieces("US Hwy 89", "U", "S1200", us89n, 2),
            *pieces("US Hwy 93", "U", "S1200", us93, 3),
            *pieces("State Rte 64", "S", "S1200", sr64, 2),
            *pieces("State Rte 96", "S", "S1200", sr96, 3),
            *pieces("Juniper Pkwy", "M", "S1100", bypass, 1),
            *pieces("Co Rd 5", "C", "S1200", co5, 1)]


def _write_tiger_roads(path: Path, rng: np.random.Generator) -> None:
    import tempfile

    import geopandas as gpd
    import pyogrio

    roads = _roads(rng)
    rows = [{"LINEARID": str(1104475120000 + 1373 * i), "FULLNAME": name, "RTTYP": rttyp,
             "MTFCC": mtfcc} for i, (name, rttyp, mtfcc, _) in enumerate(roads)]
    geoms = [LineString([(_r6(x), _r6(y)) for x, y in pts]) for *_, pts in roads]
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4269")
    stem = path.name.removesuffix(".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{stem}.shp"
        pyogrio.write_dataframe(gdf, shp, driver="ESRI Shapefile", geometry_type="LineString",
                                layer_options={"ENCODING": "UTF-8",
                                               "DBF_DATE_LAST_UPDATE": _FIXED_DATE[:10]})
        _zip_files(path, sorted(Path(tmp).iterdir()))


def _zip_files(path: Path, files: list[Path]) -> None:
    """A zip with fixed entry dates and order, so it is byte-identical run to run."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            info = zipfile.ZipInfo(f.name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, f.read_bytes())


# ---------------------------------------------------------------------------------------------
# FRA / BTS North American Rail Network lines
# ---------------------------------------------------------------------------------------------

NARN_FIELDS = ["OBJECTID", "FRAARCID", "FRFRANODE", "TOFRANODE", "STFIPS", "CNTYFIPS",
               "STCNTYFIPS", "STATEAB", "COUNTRY", "FRADISTRCT", "RROWNER1", "RROWNER2",
               "RROWNER3", "TRKRGHTS1", "TRKRGHTS2", "TRKRGHTS3", "TRKRGHTS4", "TRKRGHTS5",
               "TRKRGHTS6", "TRKRGHTS7", "TRKRGHTS8", "TRKRGHTS9", "DIVISION", "SUBDIV", "BRANCH",
               "YARDNAME", "PASSNGR", "STRACNET", "TRACKS", "NET", "MILES", "KM", "TIMEZONE",
               "SHAPE_Length"]


def _county_name_at(lon: float, lat: float) -> str:
    fips = _county_fips_at(lon, lat)
    return next((name for f, name, _ in _county_shapes() if f == fips), "NOT AVAILABLE")


def _county_fips_at(lon: float, lat: float) -> str:
    for fips, _, geom in _county_shapes():
        if geom.covers(Point(lon, lat)):
            return fips
    return "000"


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
    for i, seg in enumerate(segments):
        pts = _densify(seg["pts"], rng, 0.008, 0.0004)
        geom = LineString(pts)
        km = _geodesic_km(geom)
        mid = geom.interpolate(0.5, normalized=True)
        cnty = _county_fips_at(mid.x, mid.y)
        trk = list(seg["trk"]) + [None] * (9 - len(seg["trk"]))
        props: dict[str, Any] = {
            "OBJECTID": 88000 + i, "FRAARCID": 310500 + 13 * i,
            "FRFRANODE": node(pts[0]), "TOFRANODE": node(pts[-1]),
            "STFIPS": STATE_FIPS, "CNTYFIPS": cnty, "STCNTYFIPS": STATE_FIPS + cnty,
            "STATEAB": STATE, "COUNTRY": "US", "FRADISTRCT": 7,
            "RROWNER1": seg["owner"], "RROWNER2": None, "RROWNER3": None,
            **{f"TRKRGHTS{k + 1}": trk[k] for k in range(9)},
            "DIVISION": seg["division"], "SUBDIV": seg["subdiv"], "BRANCH": None,
            "YARDNAME": seg.get("yard"), "PASSNGR": seg["passngr"],
            "STRACNET": seg["stracnet"], "TRACKS": seg["tracks"], "NET": seg["net"],
            "MILES": round(km / 1.609344, 6), "KM": round(km, 6), "TIMEZONE": "M",
            "SHAPE_Length": round(float(geom.length), 9),
        }
        features.append(_feature({k: props[k] for k in NARN_FIELDS}, geom))
    _write_geojson(path, "NTAD_North_American_Rail_Network_Lines", features)


# ---------------------------------------------------------------------------------------------
# OurAirports
# ---------------------------------------------------------------------------------------------

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


def _partition(frame: Polygon, pieces: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(key, shape) pieces in priority order cut into a partition of `frame`; the last key takes
    whatever is left (pass shape None)."""
    out, taken = [], Polygon()
    for key, shape in pieces:
        geom = frame if shape is None else shapely.intersection(shape, frame)
        geom = shapely.difference(geom, taken)
        geom = shapely.set_precision(geom, 1e-7)
        if not geom.is_empty:
            out.append((key, geom))
            taken = shapely.union(taken, geom)
    return out


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

    # cartographic boundary counties (2023 edition fields)
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
    _write_geojson(out_dir / FILES["counties"], "cb_2023_us_county_500k", features)

    # ACS 5-year via the Census API, saved as CSV (the API's header row and column order)
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
    _write_csv(out_dir / FILES["acs"], acs_header, acs_rows, lineterminator="\n")

    # BLS LAUS county annual averages, as re-published in CSV: leading-space first header,
    # quoted counts with thousands separators and trailing spaces, CRLF, no final newline
    lines = [(" LAUS Code,State FIPS Code,County FIPS Code,County Name/State Abbreviation,Year,"
             "Labor Force,Employed,Unemployed,Unemployment Rate (%)")]
    for fips, s in stats.items():
        lf, un = s["lf_laus"], s["unemp_laus"]
        rate = round(100.0 * un / lf, 1)
        lines.append(f'CN{STATE_FIPS}{fips}00000000,{STATE_FIPS},{fips},'
                     f'"{s["name"]} County, {STATE}",2023,"{lf:,}     ","{lf - un:,}     ",'
                     f'"{un:,}     ",{rate}     ')
    laus = out_dir / FILES["laus"]
    laus.parent.mkdir(parents=True, exist_ok=True)
    laus.write_bytes("\r\n".join(lines).encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# DEM
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
            "ALAND": int(round(abs(_GEOD.geometry_area_perimeter(geom)[0]))), "AWATER": 0}, geom))
    _write_geojson(path, "cb_2023_04_place_500k", features)


DEM_RES = 0.001
DEM_BOUNDS = (-113.02, 34.58, -111.78, 35.52)
DEM_NODATA = -32768


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def dem_elevation(rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    """Elevation (m, float) on the DEM grid, and its geotransform: a flat basin (under 2 %
    slope) where the BLM expanse lies, mountains (well over 10 %) in the north-east, east,
    south-west, south and north-west, and a granite inselberg inside the basin."""
    from affine import Affine

    west, south, east, north = DEM_BOUNDS
    ncols = round((east - west) / DEM_RES)
    nrows = round((north - south) / DEM_RES)
    lon = west + (np.arange(ncols) + 0.5) * DEM_RES
    lat = north - (np.arange(nrows) + 0.5) * DEM_RES
    lon2, lat2 = np.meshgrid(lon, lat)
    kx = 111.32 * math.cos(math.radians(35.05))
    ky = 110.95
    x = (lon2 + 112.4) * kx  # km east of -112.4
    y = (lat2 - 35.05) * ky  # km north of 35.05

    # basin floor: gentle rise to the north-east, soft undulations
    base = 1350.0 + 1.6 * y + 0.9 * x + 6.0 * np.sin(x / 2.1) * np.cos(y / 1.7)
    tw = 0.007  # zone edge softness, degrees

    def rect(w: float, s: float, e: float, n: float) -> np.ndarray:
        return (_sigmoid((lon2 - w) / tw) * _sigmoid((e - lon2) / tw) *
                _sigmoid((lat2 - s) / tw) * _sigmoid((n - lat2) / tw))

    zones = [(-112.26, 35.275, -111.70, 35.60), (-112.01, 34.50, -111.70, 35.165),
             (-113.10, 34.50, -112.66, 34.77), (-112.62, 34.50, -112.18, 34.715),
             (-113.10, 35.36, -112.84, 35.60)]
    mask = np.zeros_like(x)
    for z in zones:
        mask = np.maximum(mask, rect(*z))
    r = np.hypot(lon2 + 112.80, (lat2 - 34.925) * 1.2)
    inselberg = _sigmoid((0.030 - r) / 0.004)
    mask = np.maximum(mask, inselberg)

    phases = rng.uniform(0, 2 * math.pi, 4)
    relief = (300.0
              + 140.0 * np.sin(2 * math.pi * x / 3.7 + phases[0]) *
              np.sin(2 * math.pi * y / 4.3 + phases[1])
              + 90.0 * np.sin(2 * math.pi * (x + y) / 2.9 + phases[2])
              + 60.0 * np.cos(2 * math.pi * (x - 0.6 * y) / 2.3 + phases[3]))
    for w, s, e, n in zones:
        for _ in range(14):
            px, py = rng.uniform(w, e), rng.uniform(s, n)
            amp, sig = rng.uniform(250, 650), rng.uniform(1.3, 2.6)
            # only the window within 4 sigma of the peak
            c0, c1 = np.searchsorted(lon, [px - 4 * sig / kx, px + 4 * sig / kx])
            r0, r1 = np.searchsorted(-lat, [-(py + 4 * sig / ky), -(py - 4 * sig / ky)])
            if c1 <= c0 or r1 <= r0:
                continue
            dx = (lon2[r0:r1, c0:c1] - px) * kx
            dy = (lat2[r0:r1, c0:c1] - py) * ky
            relief[r0:r1, c0:c1] += amp * np.exp(-0.5 * (dx ** 2 + dy ** 2) / sig ** 2)
    elev = base + mask * relief
    transform = Affine(DEM_RES, 0.0, west, 0.0, -DEM_RES, north)
    return elev, transform


def _write_dem(path: Path, rng: np.random.Generator) -> None:
    import rasterio

    elev, transform = dem_elevation(rng)
    data = np.round(elev).astype(np.int16)
    nrows, ncols = data.shape
    # SRTM-like voids: a small hole in the north-east mountains and a few lone pixels
    r0 = int((DEM_BOUNDS[3] - 35.42) / DEM_RES)
    c0 = int((-111.95 - DEM_BOUNDS[0]) / DEM_RES)
    data[r0:r0 + 4, c0:c0 + 5] = DEM_NODATA
    for _ in range(6):
        data[rng.integers(0, nrows), rng.integers(0, ncols)] = DEM_NODATA
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "width": ncols, "height": nrows, "count": 1,
               "dtype": "int16", "crs": "EPSG:4326", "transform": transform,
               "nodata": DEM_NODATA, "compress": "deflate", "predictor": 2, "tiled": True,
               "blockxsize": 256, "blockysize": 256}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(AREA_OR_POINT="Area")
        dst.set_band_unit(1, "metre")


# ---------------------------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------------------------

def demo_config_text() -> str:
    """The demo's config (YAML text): every layer of the demo region, the standard criteria."""
    w, s, e, n = BBOX
    f = FILES
    return f"""\
# sitescore demo: SYNTHETIC DEMO DATA. The region, its land, lines, plants and people are
# invented (placed at a real-looking box in the interior West); every file follows its
# provider's published format so the demo runs through the same readers as real data.
study: demo
title: "Demo region: Juniper Flats basin (synthetic demo data)"
synthetic: true
data_dir: .
area:
  bbox: [{w}, {s}, {e}, {n}]

layers:
  federal_land:
    reader: padus
    path: {f["federal_land"]}
    layer: {PADUS_LAYER}
  transmission_lines:
    reader: hifld_transmission_lines
    path: {f["transmission_lines"]}
  substations:
    reader: hifld_substations
    path: {f["substations"]}
  power_plants:
    reader: eia_power_plants
    path: {f["power_plants"]}
  roads:
    reader: tiger_roads
    path: {f["roads"]}
  rail:
    reader: fra_narn
    path: {f["rail"]}
  airports:
    reader: ourairports
    path: {f["airports"]}
  rivers:
    reader: nhd_flowlines
    path: {f["rivers"]}
  water_stress:
    reader: aqueduct_baseline
    path: {f["water_stress"]}
  counties:
    reader: census_counties
    path: {f["counties"]}
    options:
      tables:
        # earlier tables win, later ones fill gaps
        - reader: bls_laus
          path: {f["laus"]}
          fields: {{labor_force: Labor Force, employed: Employed}}
        - reader: acs
          path: {f["acs"]}
          fields:
            population: B01003_001E
            labor_force: B23025_003E
            employed: B23025_004E
            manufacturing_employment: [C24030_007E, C24030_034E]
            bachelors_or_higher: [B15003_022E, B15003_023E, B15003_024E, B15003_025E]
  terrain:
    reader: dem
    path: {f["terrain"]}
  places:
    reader: census_places
    path: {f["places"]}

candidates:
  source: federal_land
  agencies: [BLM]
  grid: {{kind: square, size_km: 1.0}}

criteria:
  power_line:
    label: Distance to a 345 kV+ transmission line
    unit: km
    metric: distance_to
    layer: transmission_lines
    where: "voltage_kv >= 345"
    value: {{kind: linear, best: 0, worst: 50}}
    weight: 0.20
  substation:
    label: Distance to a 230 kV+ substation
    unit: km
    metric: distance_to
    layer: substations
    where: "max_volt_kv >= 230"
    value: {{kind: linear, best: 0, worst: 40}}
    weight: 0.10
  plant_capacity:
    label: Generating capacity within 50 km
    unit: MW
    metric: sum_within
    layer: power_plants
    field: capacity_mw
    radius_km: 50
    value: {{kind: piecewise, points: [[0, 0], [500, 0.4], [1500, 0.8], [4000, 1.0]]}}
    weight: 0.10
  water_stress:
    label: Baseline water stress (Aqueduct score 0-5)
    unit: score
    metric: attribute_at
    layer: water_stress
    field: bws_score
    value: {{kind: linear, best: 0, worst: 5, missing: 0.3}}
    weight: 0.10
  river:
    label: Distance to a river
    unit: km
    metric: distance_to
    layer: rivers
    value: {{kind: linear, best: 0, worst: 30}}
    weight: 0.08
  interstate:
    label: Distance to an Interstate
    unit: km
    metric: distance_to
    layer: roads
    where: "road_class == 'interstate'"
    value: {{kind: linear, best: 0, worst: 40}}
    weight: 0.10
  rail:
    label: Distance to Class I rail
    unit: km
    metric: distance_to
    layer: rail
    where: "class1 == True"
    value: {{kind: linear, best: 0, worst: 40}}
    weight: 0.08
  airport:
    label: Distance to a large or medium airport
    unit: km
    metric: distance_to
    layer: airports
    where: "airport_type in ['large_airport', 'medium_airport']"
    value: {{kind: linear, best: 0, worst: 80}}
    weight: 0.06
  workforce:
    label: Labour force within commuting reach
    unit: people
    metric: gravity_access
    layer: counties
    field: labor_force
    decay_km: 40
    cutoff_km: 120
    value: {{kind: log_linear, best: 150000, worst: 5000}}
    weight: 0.15
  slope:
    label: Mean terrain slope
    unit: "%"
    metric: zonal
    layer: terrain
    variable: slope_percent
    stat: mean
    value: {{kind: linear, best: 0, worst: 10}}
    weight: 0.03

constraints:
  - {{criterion: slope, max: 10}}

sites:
  min_site_acres: 1000
  min_spacing_km: 8
"""


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sitescore.demo OUT_DIR [SEED]`: write the demo region and print its config."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m sitescore.demo OUT_DIR [SEED]", file=sys.stderr)
        return 2
    print(generate_demo(Path(args[0]), int(args[1]) if len(args) > 1 else 7))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
