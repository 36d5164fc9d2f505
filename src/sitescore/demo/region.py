"""The demo region's fixed facts shared by every layer: its box, state, file layout, the
PAD-US projection and the dates pinned so reruns are byte-identical."""

from __future__ import annotations

from pyproj import CRS, Geod, Transformer

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
