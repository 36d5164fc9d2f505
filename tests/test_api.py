"""The public API: `import sitescore; r = sitescore.score(path)` computes a study in memory and
writes nothing; `sitescore.run` writes what `sitescore run` writes; the package is typed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

import sitescore
from sitescore.demo import generate_demo

ROOT = Path(__file__).resolve().parents[1]


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folder`, with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def _as_written(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A table as its GeoParquet file holds it: text columns as strings (None as <NA>)."""
    out = gdf.copy()
    for col in out.columns:
        if col != "geometry" and out[col].dtype == object:
            out[col] = out[col].astype("string")
    return out


@pytest.fixture(scope="module")
def studied(tmp_path_factory):
    """The demo scored in memory (from inside an empty working folder, with the temporary folder
    pointed at an empty one of its own), and the same config run and written by `sitescore.run`."""
    tmp = tmp_path_factory.mktemp("api")
    config = generate_demo(tmp / "demo")
    cwd, scratch = tmp / "cwd", tmp / "scratch"
    cwd.mkdir()
    scratch.mkdir()
    before = _tree(tmp)
    here, tempdir = Path.cwd(), tempfile.tempdir
    os.chdir(cwd)
    tempfile.tempdir = str(scratch)
    try:
        result = sitescore.score(config)
    finally:
        os.chdir(here)
        tempfile.tempdir = tempdir
    after = _tree(tmp)
    written = sitescore.run(config, runs_dir=tmp / "runs", maps_dir=tmp / "maps")
    return {"tmp": tmp, "config": config, "result": result, "before": before, "after": after,
            "written": written}


def test_score_returns_the_tables_run_writes(studied):
    result, written = studied["result"], studied["written"]
    assert isinstance(result, sitescore.StudyResult) and isinstance(written, sitescore.RunResult)
    assert len(result.sites) >= 5 and result.sites["rank"].tolist() == list(range(1, len(result.sites) + 1))
    for name, frame in (("sites", result.sites), ("cells", result.cells)):
        on_disk = gpd.read_parquet(written.run_dir / f"{name}.parquet")
        assert_geodataframe_equal(on_disk, _as_written(frame), check_less_precise=False)
    csv = pd.read_csv(written.run_dir / "sites.csv")
    assert csv["name"].tolist() == result.sites["name"].tolist()
    assert csv["score"].round(6).tolist() == result.sites["score"].round(6).tolist()
    # the same record the manifest keeps, but for what only writing adds
    assert "outputs" not in result.manifest and "outputs" in written.manifest
    for key in ("study", "config", "inputs", "counts", "excluded_acres_by_rule", "weights", "notes"):
        assert result.manifest[key] == written.manifest[key], key
    assert set(result.weights) == set(result.criteria) and abs(sum(result.weights.values()) - 1) < 1e-5
    assert result.excluded is not None and len(result.excluded) and "reason" in result.excluded.columns
    assert {"read layers", "metrics", "locate sites"} <= set(result.timings)


def test_score_writes_no_file_anywhere(studied):
    before, after = studied["before"], studied["after"]
    assert after == before  # nothing in the demo's folder, the working folder or the temp folder
    assert not any((studied["tmp"] / "cwd").iterdir()) and not any((studied["tmp"] / "scratch").iterdir())


def test_a_scored_study_can_be_written_later(studied, tmp_path):
    """`publish.write_result` writes an in-memory result: the same tables, byte for byte."""
    from sitescore.publish import write_result

    result, written = studied["result"], studied["written"]
    manifest = write_result(result, tmp_path / "runs", tmp_path / "maps", report=False)
    for name in ("sites.csv", "sites.parquet", "cells.parquet", "sitescore.gpkg"):
        assert (tmp_path / "runs" / name).read_bytes() == (written.run_dir / name).read_bytes(), name
    assert (tmp_path / "maps" / "index.html").exists() and not (tmp_path / "maps" / "report.html").exists()
    assert manifest["outputs"][-1] == str(tmp_path / "maps" / "index.html")
    assert (tmp_path / "runs" / "manifest.json").exists()


def test_score_takes_a_loaded_config_and_names_bad_input(studied, tmp_path):
    cfg = sitescore.load_config(studied["config"])
    assert isinstance(cfg, sitescore.Config)
    with pytest.raises(sitescore.SitescoreError, match="preset goes with a config file"):
        sitescore.score(cfg, preset="power_first")
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(sitescore.SitescoreError) as err:
        sitescore.score(missing)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    assert not missing.exists() and list(tmp_path.iterdir()) == []


def test_import_is_cheap_and_the_names_are_public():
    code = ("import sys, sitescore; heavy = ('geopandas', 'pandas', 'numpy', 'shapely', "
            "'sitescore.pipeline', 'sitescore.config', 'click'); "
            "print(','.join(m for m in heavy if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr
    assert sorted(sitescore.__all__) == sorted(["__version__", "load_config", "score", "run", "Config",
                                                "StudyResult", "RunResult", "SitescoreError"])
    for name in sitescore.__all__:
        assert getattr(sitescore, name) is not None and name in dir(sitescore)
    from sitescore.pipeline import StudyResult
    assert sitescore.StudyResult is StudyResult
    with pytest.raises(AttributeError, match="no attribute 'scores'"):
        sitescore.scores  # noqa: B018


def test_py_typed_is_in_the_built_wheel(tmp_path):
    """Built from a copy of the project (the work tree gets no build folders)."""
    src = tmp_path / "project"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(tmp_path / "dist"), str(src)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("sitescore-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "sitescore/py.typed" in names
    assert "sitescore/report/figures.py" in names and "sitescore/report/page.py" in names
