"""The prepared GeoParquet cache returns exactly what the reader returns, and only for fresh files."""

import os

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from helpers import layer_source, shared_file
from sitescore.cache import cache_file, prepare, read_cached
from sitescore.readers import read_layer
from sitescore.study_area import bbox_area


def _sorted(gdf: gpd.GeoDataFrame, key: str) -> pd.DataFrame:
    out = pd.DataFrame(gdf.drop(columns="geometry")).assign(wkb=shapely.to_wkb(gdf.geometry.values))
    return out.sort_values([key, "wkb"]).reset_index(drop=True)


@pytest.mark.shared_data
def test_cached_counties_equal_the_reader_for_a_state_extract(tmp_path):
    src = layer_source("census_counties", shared_file("counties/us_counties_us_atlas_10m.geojson"),
                       name="counties")
    prepare(src, tmp_path)
    nm = bbox_area([-109.05, 31.33, -103.0, 37.0])
    direct = read_layer(src, nm)
    cached = read_cached(src, nm, tmp_path)
    assert 30 < len(cached) < 3230
    pd.testing.assert_frame_equal(_sorted(cached, "geoid"), _sorted(direct, "geoid"))
    assert cached.crs.to_epsg() == 5070
    assert read_cached(src, None, tmp_path).shape[0] == 3230


def _padus(path, names):
    gpd.GeoDataFrame({"Unit_Nm": names, "Mang_Name": ["BLM"] * len(names),
                      "Own_Type": ["FED"] * len(names), "GAP_Sts": ["3"] * len(names)},
                     geometry=[shapely.box(-107 + i * 0.1, 35, -106.95 + i * 0.1, 35.05)
                               for i in range(len(names))],
                     crs="EPSG:4326").to_file(path, layer="PADUS4_0Fee")


def test_changed_source_misses_the_cache(tmp_path):
    gpkg = tmp_path / "padus.gpkg"
    _padus(gpkg, ["A", "B"])
    src = layer_source("padus", gpkg, name="federal_land")
    first = prepare(src, tmp_path / "cache")
    assert prepare(src, tmp_path / "cache") == first  # idempotent
    assert len(read_cached(src, None, tmp_path / "cache")) == 2
    _padus(gpkg, ["A", "B", "C"])
    os.utime(gpkg, ns=(1, 1))  # a different modification time, whatever the clock
    assert cache_file(tmp_path / "cache", src) != first
    assert read_cached(src, None, tmp_path / "cache") is None
    assert len(read_layer(src)) == 3


def test_rows_are_in_hilbert_order_with_bbox_covering(tmp_path):
    import pyarrow.parquet as pq
    gpkg = tmp_path / "padus.gpkg"
    _padus(gpkg, [f"U{i}" for i in range(20)])
    path = prepare(layer_source("padus", gpkg, name="federal_land"), tmp_path)
    schema = pq.read_schema(path)
    assert "bbox" in schema.names
    assert b"covering" in schema.metadata[b"geo"]


def test_two_studies_at_once_share_one_cache_without_corrupting_it(tmp_path):
    """Two processes of different studies prepare and read the same cache at the same time."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from sitescore.demo import generate_demo

    cfg = generate_demo(tmp_path / "demo")
    doc = yaml.safe_load(cfg.read_text())
    configs = []
    for name in ("east", "west"):
        doc["study"] = name
        path = tmp_path / "demo" / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc))
        configs.append(path)
    exe = str(Path(sys.executable).parent / "sitescore")
    cache = str(tmp_path / "cache")
    procs = [subprocess.Popen([exe, "data", "prepare", str(c), "--cache-dir", cache],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in configs]
    procs += [subprocess.Popen([exe, "run", str(c), "--cache-dir", cache, "--no-map",
                                "--runs-dir", str(tmp_path / "r")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in configs]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    east = (tmp_path / "r/east/sites.csv").read_text()
    assert east == (tmp_path / "r/west/sites.csv").read_text()
    assert not list(Path(cache).glob(".*"))  # no temp files left
    for parquet in Path(cache).glob("*.parquet"):
        gpd.read_parquet(parquet)  # every cache file whole


def test_a_damaged_cache_file_is_a_cache_miss(tmp_path):
    gpkg = tmp_path / "padus.gpkg"
    _padus(gpkg, ["A", "B"])
    src = layer_source("padus", gpkg, name="federal_land")
    path = prepare(src, tmp_path / "cache")
    path.write_bytes(path.read_bytes()[:100])
    assert read_cached(src, None, tmp_path / "cache") is None
