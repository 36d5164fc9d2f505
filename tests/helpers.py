"""Shared test helpers: small hand-made geometries (all in EPSG:5070 metres), the real public
files in ../shared/data, and the plumbing the reader tests use to build a layer source."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from sitescore.readers.base import LayerSource
from sitescore.schema import CRS

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ARIZONA = [-114.82, 31.33, -109.04, 37.01]          # lon/lat bounding box of the state


def shared_file(relative: str) -> Path:
    """A file below ../shared/data; the test is skipped when it is not there."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data not present: {path} (../shared/data/{relative})")
    return path


def layer_source(reader: str, path: Path, name: str = "layer", data_dir: Path | None = None,
                 file_layer: str | None = None, **options) -> LayerSource:
    """A LayerSource as a config would give it: layer `name` read by `reader` from `path`, with
    `file_layer` picked inside a multi-layer file and `options` as the reader's options. Relative
    paths in the options resolve against `data_dir`, by default the file's own folder."""
    if "layer" in options:      # ambiguous: the config layer's name, or a layer inside the file?
        raise TypeError("layer_source() takes name= (config layer) or file_layer= (layer inside "
                        "the file), not layer=")
    return LayerSource(name, reader, path, data_dir or path.parent, layer=file_layer,
                       options=options)


def write_frame(gdf: gpd.GeoDataFrame, path: Path, drop: str | None = None) -> Path:
    """Write `gdf` to `path` (driver from the suffix), first dropping column `drop` if given."""
    if drop:
        gdf = gdf.drop(columns=drop)
    gdf.to_file(path)
    return path


def square_cells(n_cols: int, n_rows: int, size: float = 1000.0, x0: float = 0.0,
                 y0: float = 0.0) -> gpd.GeoDataFrame:
    """A grid of square cells, ids c<col>_r<row>, row-major from the lower left."""
    ids, boxes = [], []
    for r in range(n_rows):
        for c in range(n_cols):
            ids.append(f"c{c}_r{r}")
            boxes.append(shapely.box(x0 + c * size, y0 + r * size, x0 + (c + 1) * size,
                                     y0 + (r + 1) * size))
    return gpd.GeoDataFrame({"cell_id": ids}, geometry=boxes, crs=CRS)


def layer(geoms, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=list(geoms), crs=CRS)


#: How the project's real test data map onto catalog datasets (`sitescore data import` pairs).
SHARED_IMPORTS = [
    ("states", "counties/us_states_us_atlas_10m.geojson"),
    ("padus", "federal_land/padus3_0_combined_NM_potamap_subset.geojson"),
    ("gppd", "power_plants/gppd_v1.3.0_usa_source.csv"),
    ("eia860", "power_plants/eia860_2019_schedule2_plant.csv"),
    ("us_freeways", "roads/us_freeway_system_scgraph.geojson"),
    ("us_class1_rail", "rail/narn_class1_scgraph.geojson"),
    ("ourairports", "airports/ourairports_20221011_airports_US.csv"),
    ("natural_earth_rivers", "water/ne_50m_rivers_lake_centerlines.zip"),
    ("counties", "counties/us_counties_us_atlas_10m.geojson"),
    ("bls_laus", "workforce/bls_laus_county_2016.csv"),
    ("acs", "workforce/acs5_2018_county_selected.csv"),
]


def one_line_error(result, *needles: str) -> str:
    """A CLI result that is a user's mistake: exit 2 and exactly one `sitescore: error:` line
    holding every needle, no traceback. Returns the line."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sitescore: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in result.output
    return lines[0]
