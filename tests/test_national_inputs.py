"""benchmarks/national_inputs.py: the national-scale generator's files are read by our readers with
the expected schema and row counts, the set is written once and atomically, and the study it
writes runs configs/national.yaml's criteria. Run at scale 0.01 (a few seconds), never at national
size."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from sitescore.config import load_config
from sitescore.pipeline import layer_sources, run
from sitescore.readers import LayerSource, read_layer
from sitescore.readers.terrain import Raster

REPO = Path(__file__).resolve().parents[1]
SCALE = 0.01


def _load_module():
    spec = importlib.util.spec_from_file_location("national_inputs",
                                                  REPO / "benchmarks" / "national_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("national_inputs", module)
    spec.loader.exec_module(module)
    return module


ni = _load_module()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return ni.write_national_inputs(tmp_path_factory.mktemp("national") / "set", seed=3,
                                    scale=SCALE)


@pytest.fixture(scope="module")
def marker(folder) -> dict:
    return ni.read_marker(folder)


@pytest.fixture(scope="module")
def layers(folder) -> dict:
    """Every layer of a study over the set (tracts included), read through its reader."""
    cfg = load_config(ni.write_study(folder, grid_km=50, study="probe", workforce="tracts"))
    return {name: read_layer(src) for name, src in layer_sources(cfg).items()}


def rows(marker: dict, key: str) -> int:
    return next(r["rows"] for r in marker["files"] if r["key"] == key)


def test_every_file_is_written_with_its_row_count(folder, marker):
    assert marker["version"] == ni.VERSION and marker["seed"] == 3 and marker["scale"] == SCALE
    assert {r["key"] for r in marker["files"]} == set(ni.FILES)
    for rec in marker["files"]:
        path = folder / rec["file"]
        assert path.is_file() and path.stat().st_size == rec["bytes"] > 0, rec
    # counts follow the national sizes times the scale
    assert rows(marker, "transmission_lines") == round(85_000 * SCALE)
    assert rows(marker, "substations") == round(70_000 * SCALE)
    assert rows(marker, "eia860") == round(12_000 * SCALE)
    assert rows(marker, "airports") == round(20_000 * SCALE)
    assert rows(marker, "counties") == 49  # at least one per state and DC
    assert rows(marker, "tracts") == pytest.approx(85_000 * SCALE, rel=0.05)
    assert rows(marker, "rail") == pytest.approx(100_000 * SCALE, rel=0.1)
    assert not list(folder.parent.glob(".*.tmp"))  # nothing left of the temporary folder


def test_readers_accept_every_file_with_the_expected_schema(layers, marker):
    for name, layer in layers.items():
        if name == "terrain":
            continue
        assert layer.crs.to_epsg() == 5070, name
        assert layer.attrs["repaired"] == 0 and layer.attrs["dropped"] == 0, name
    assert len(layers["states"]) == 49
    assert set(layers["states"]["abbrev"]) >= {"NV", "UT", "TX", "DC"}
    land = layers["federal_land"]
    assert len(land) == rows(marker, "federal_land")
    assert set(land["mang_name"]) >= {"BLM", "USFS", "NPS", "TRIB"}
    assert land["state"].str.fullmatch(r"[A-Z]{2}").all()
    assert land["gap_status"].isin([1.0, 2.0, 3.0, 4.0]).all()
    assert (land["own_type"] == "TRIB").any() and (land["designation"] == "TRIBL").any()
    assert land.geometry.is_valid.all()
    lines = layers["transmission_lines"]
    assert len(lines) == rows(marker, "transmission_lines")
    assert lines["voltage_kv"].isna().any() and (lines["voltage_kv"] >= 345).any()
    subs = layers["substations"]
    assert len(subs) == rows(marker, "substations") and (subs["max_volt_kv"] >= 230).any()
    plants = layers["grid_connected_plants"]
    assert len(plants) == rows(marker, "eia860")
    assert (plants["grid_voltage_kv"] >= 230).any() and plants["capacity_mw"].notna().mean() > 0.9
    assert len(layers["power_plants"]) == rows(marker, "gppd")
    assert (layers["roads"]["road_class"] == "interstate").any()
    rail = layers["rail"]
    assert rail.attrs["abandoned_excluded"] > 0
    assert len(rail) + rail.attrs["abandoned_excluded"] == rows(marker, "rail")
    assert rail["class1"].any() and (~rail["class1"]).any()
    airports = layers["airports"]
    assert (airports["scheduled_service"] & airports["airport_type"].isin(
        ["large_airport", "medium_airport"])).any()
    assert len(layers["rivers"]) == rows(marker, "rivers")
    stress = layers["water_stress"]
    assert stress["bws_score"].between(0, 5).mean() > 0.9
    counties = layers["counties"]
    assert counties.attrs["counties_without_data"] == 0
    assert counties["labor_force"].notna().all() and counties["bachelors_or_higher"].notna().all()
    tracts = layers["tracts"]
    assert len(tracts) == rows(marker, "tracts") and tracts.attrs["tracts_without_data"] == 0
    assert tracts["geoid"].str.fullmatch(r"\d{11}").all()
    # tracts nest in counties and add up to them
    assert set(tracts["geoid"].str[:5]) == set(counties["geoid"])
    assert tracts["population"].sum() == pytest.approx(counties["population"].sum(), rel=1e-9)
    dem = layers["terrain"]
    assert isinstance(dem, Raster) and np.isnan(dem.values).any()
    assert 500 < np.nanmedian(dem.values) < 4000


def test_runways_join_and_transmission_lines_in_any_format(folder, tmp_path):
    src = LayerSource("airports", "ourairports", folder / ni.FILES["airports"], folder,
                      options={"runways": ni.FILES["runways"]})
    airports = read_layer(src)  # large, medium and small airports: each has an open runway
    assert airports["longest_runway_ft"].notna().all()
    large = airports["airport_type"] == "large_airport"
    assert (airports.loc[large, "longest_runway_ft"] >= 8000).all()
    for name in ("lines.gpkg", "lines.parquet"):
        path = ni.national_transmission_lines(tmp_path / name, n=300, seed=2)
        lines = read_layer(LayerSource("lines", "hifld_transmission_lines", path, tmp_path))
        assert len(lines) == 300


def test_a_completed_set_is_reused_and_a_failed_one_leaves_nothing(folder, marker, monkeypatch):
    before = (folder / ni.MARKER).stat().st_mtime_ns
    assert ni.write_national_inputs(folder, seed=3, scale=SCALE) == folder
    assert (folder / ni.MARKER).stat().st_mtime_ns == before

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ni, "_generate", broken)
    with pytest.raises(RuntimeError):
        ni.write_national_inputs(folder, seed=4, scale=SCALE)  # another seed: regenerated
    assert ni.read_marker(folder) == marker  # the complete set is untouched
    assert not list(folder.parent.glob(f".{folder.name}.*.tmp"))


def test_same_seed_same_bytes(folder, tmp_path):
    again = ni.write_national_inputs(tmp_path / "again", seed=3, scale=SCALE)
    for key, rel in ni.FILES.items():
        assert (again / rel).read_bytes() == (folder / rel).read_bytes(), key


def test_study_runs_the_national_criteria_and_ranks_sites(folder, tmp_path):
    national = yaml.safe_load((REPO / "configs" / "national.yaml").read_text())
    target = 60
    size = ni.grid_km_for(target, folder)
    path = ni.write_study(folder, grid_km=size)
    doc = yaml.safe_load(path.read_text())
    assert doc["criteria"] == national["criteria"]
    assert doc["constraints"] == national["constraints"] and doc["sites"] == national["sites"]
    assert doc["area"] == {} and doc["candidates"]["grid"] == {"kind": "square", "size_km": size}
    assert {k: v for k, v in doc["candidates"].items() if k != "grid"} == \
        {k: v for k, v in national["candidates"].items() if k != "grid"}
    result = run(load_config(path), maps_dir=tmp_path / "maps", runs_dir=tmp_path / "runs",
                 cache_dir=tmp_path / "cache", write_map=False)
    assert len(result.cells) == pytest.approx(target, rel=0.1)
    assert ni.estimate_cells(folder, size) == pytest.approx(len(result.cells), rel=0.05)
    assert len(result.sites) >= 1 and not result.notes
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert set(national["criteria"]) <= {k.removeprefix("metric ") for k in manifest["timings_s"]}


def test_real_national_files_replace_synthetic_layers_where_present(folder, tmp_path):
    real = tmp_path / "shared"
    for rel in ("power_plants/gppd_v1.3.0_usa_source.csv", "rail/narn_class1_scgraph.geojson"):
        (real / rel).parent.mkdir(parents=True, exist_ok=True)
        (real / rel).write_text("x")
    doc = yaml.safe_load(ni.write_study(folder, grid_km=20, real_data=real,
                                        study="mixed").read_text())
    layers = doc["layers"]
    assert layers["power_plants"] == {"reader": "gppd", "path": str(
        (real / "power_plants/gppd_v1.3.0_usa_source.csv").resolve())}
    assert layers["rail"]["reader"] == "rail_lines" and layers["rail"]["options"] == {"class1": True}
    # no real EIA-860 file: the synthetic plants keep their synthetic capacity table
    assert layers["grid_connected_plants"]["path"] == ni.FILES["eia860"]
    assert layers["counties"]["path"] == ni.FILES["counties"]
