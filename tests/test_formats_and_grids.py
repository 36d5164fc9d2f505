"""Formats the readers must take as well as GeoJSON (GeoParquet, multi-layer GeoPackage), and the
H3 grid option run end to end on the demo region."""

import geopandas as gpd
import h3
import pytest
import shapely
import yaml

from helpers import layer_source
from sitescore.config import parse_config
from sitescore.demo import generate_demo
from sitescore.errors import DataError
from sitescore.pipeline import run
from sitescore.readers import read_layer


def padus_fee(n: int = 3) -> gpd.GeoDataFrame:
    """PAD-US 4.0 Fee layer fields (USGS PAD-US 4 data dictionary), in USGS Albers (EPSG:5070)."""
    return gpd.GeoDataFrame({
        "Unit_Nm": [f"Unit {i}" for i in range(n)], "Own_Type": ["FED"] * n, "Own_Name": ["BLM"] * n,
        "Mang_Type": ["FED"] * n, "Mang_Name": ["BLM"] * n, "Des_Tp": ["PUB"] * n,
        "GAP_Sts": ["3"] * n, "State_Nm": ["NM"] * n, "GIS_Acres": [247.1] * n,
    }, geometry=[shapely.box(i * 2000, 0, i * 2000 + 1000, 1000) for i in range(n)], crs="EPSG:5070")


def test_padus_from_geoparquet(tmp_path):
    padus_fee().to_parquet(tmp_path / "padus.parquet")
    got = read_layer(layer_source("padus", tmp_path / "padus.parquet", name="federal_land"))
    assert len(got) == 3 and got["gap_status"].tolist() == [3.0, 3.0, 3.0]
    assert got["designation"].tolist() == ["PUB"] * 3 and got.crs.to_epsg() == 5070


def test_padus_layer_chosen_in_a_multi_layer_geopackage(tmp_path):
    path = tmp_path / "PADUS4_0_State_NM.gpkg"
    padus_fee(2).to_file(path, layer="PADUS4_0Fee")
    padus_fee(5).to_file(path, layer="PADUS4_0Designation")
    designation = layer_source("padus", path, name="federal_land", file_layer="PADUS4_0Designation")
    assert len(read_layer(designation)) == 5
    assert len(read_layer(layer_source("padus", path, name="federal_land"))) == 2  # Fee by default


@pytest.mark.parametrize("resolution", [8])
def test_h3_grid_runs_end_to_end_on_the_demo(tmp_path, resolution):
    config_path = generate_demo(tmp_path / "demo")
    doc = yaml.safe_load(config_path.read_text())
    doc["candidates"]["grid"] = {"kind": "h3", "resolution": resolution}
    cfg = parse_config(doc, config_path)
    cfg.source_path = config_path
    result = run(cfg, maps_dir=tmp_path / "maps", runs_dir=tmp_path / "runs", write_map=False)
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == resolution for c in result.cells["cell_id"])
    assert len(result.sites) >= 3
    assert (result.sites["acres"] >= cfg.sites.min_site_acres - 1e-6).all()


def test_an_extracted_archive_folder_reads_as_its_geodatabase_or_geopackage(tmp_path):
    """PAD-US state zips hold a GDB beside KMZ files; fetch extracts them into a folder."""
    folder = tmp_path / "PADUS4_1_State_NM_GDB_KMZ"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "readme.txt").write_text("PAD-US")
    (folder / "PADUS4_1_StateNM.kmz").write_bytes(b"PK")
    gpkg = folder / "PADUS4_1_State_NM.gpkg"
    padus_fee(2).to_file(gpkg, layer="PADUS4_1Fee_State_NM")
    padus_fee(4).to_file(gpkg, layer="PADUS4_1Designation_State_NM")
    got = read_layer(layer_source("padus", folder, name="federal_land"))
    assert len(got) == 2  # the Fee layer of the GeoPackage found inside
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="holding no vector dataset"):
        read_layer(layer_source("padus", empty, name="federal_land"))
