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

The package follows those sections: `region` (box, state, file layout), `land` (PAD-US),
`grid` (HIFLD lines, substations), `plants` (EIA), `roads` (TIGER), `rail` (NARN), `airports`,
`water` (NHD, Aqueduct), `people` (counties, ACS/LAUS, places), `terrain` (DEM), `config` (the
study config, from `study.yaml`) and `helpers` (GeoJSON/CSV writing, geometry).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .airports import _AIRPORT_NUMERIC as _AIRPORT_NUMERIC
from .airports import AIRPORT_FIELDS, _write_airports
from .config import demo_config_text
from .grid import _grid, _write_substations, _write_transmission
from .grid import _volt_class as _volt_class
from .land import _gdal_config as _gdal_config
from .land import _write_padus
from .people import _write_counties, _write_places
from .plants import EIA_FIELDS, _write_plants
from .rail import NARN_FIELDS, _write_narn
from .region import _FIXED_DATE as _FIXED_DATE
from .region import (
    BBOX,
    FILES,
    PADUS_CRS_WKT,
    PADUS_LAYER,
    STATE,
    STATE_FIPS,
    STATE_NAME,
)
from .roads import _write_tiger_roads
from .roads import _zip_files as _zip_files
from .terrain import DEM_BOUNDS, DEM_NODATA, DEM_RES, _write_dem, dem_elevation
from .water import _BWS_LABELS as _BWS_LABELS
from .water import NHD_FIELDS, _write_aqueduct, _write_nhd

# the private names re-exported above (`x as x`) are what benchmarks/national_inputs.py borrows
__all__ = ["AIRPORT_FIELDS", "BBOX", "DEM_BOUNDS", "DEM_NODATA", "DEM_RES", "EIA_FIELDS",
           "FILES", "NARN_FIELDS", "NHD_FIELDS", "PADUS_CRS_WKT", "PADUS_LAYER", "STATE",
           "STATE_FIPS", "STATE_NAME", "dem_elevation", "demo_config_text", "generate_demo",
           "main"]


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


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sitescore.demo OUT_DIR [SEED]`: write the demo region and print its config."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m sitescore.demo OUT_DIR [SEED]", file=sys.stderr)
        return 2
    print(generate_demo(Path(args[0]), int(args[1]) if len(args) > 1 else 7))
    return 0
