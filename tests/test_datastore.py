"""The data folder: import by hand, manifest entries, status against checksums, locking."""

import json
import multiprocessing
from pathlib import Path

import pytest

from sitescore.catalog import parse_catalog
from sitescore.datastore import dataset_paths, import_file, read_manifest, record, status
from sitescore.errors import ConfigError, DataError

CATALOG = parse_catalog({"datasets": {
    "gppd": {"title": "GPPD", "provider": "WRI", "product": "GPPD", "version": "1.3.0",
             "licence": "CC BY 4.0", "homepage": "https://datasets.wri.org", "layer": "power_plants",
             "reader": "gppd", "format": "csv",
             "sources": [{"role": "national", "url": "https://example.org/gppd.csv"}]},
    "padus": {"title": "PAD-US", "provider": "USGS", "product": "PAD-US", "version": "4.0",
              "licence": "public domain", "homepage": "https://www.usgs.gov", "layer": "federal_land",
              "reader": "padus", "format": "gdb",
              "sources": [{"role": "state", "url": "https://example.org/PADUS_{state}.zip"}]},
}})


def test_import_copies_checksums_and_records(tmp_path):
    src = tmp_path / "in" / "plants.csv"
    src.parent.mkdir()
    src.write_text("country,name\nUSA,A\n")
    root = tmp_path / "raw"
    target = import_file(root, CATALOG.datasets["gppd"], src)
    assert target == root / "gppd" / "plants.csv" and target.read_text() == src.read_text()
    entry = read_manifest(root)["files"]["gppd/plants.csv"]
    assert entry["dataset"] == "gppd" and entry["bytes"] == 19 and len(entry["sha256"]) == 64
    assert entry["source"] == f"import:{src.resolve()}" and entry["version"] == "1.3.0"
    assert dataset_paths(root) == {"gppd": [target]}
    rows = {r.dataset: r for r in status(root, CATALOG)}
    assert rows["gppd"].state == "present" and rows["padus"].state == "missing"


def test_link_import_and_modified_file(tmp_path):
    src = tmp_path / "plants.csv"
    src.write_text("a\n")
    root = tmp_path / "raw"
    target = import_file(root, CATALOG.datasets["gppd"], src, link=True)
    assert target.is_symlink()
    src.write_text("b\n")  # the linked original changes under us
    assert {r.dataset: r.state for r in status(root, CATALOG)}["gppd"] == "modified"


def test_a_folder_dataset_is_copied_whole(tmp_path):
    gdb = tmp_path / "PADUS4_0_State_NM.gdb"
    gdb.mkdir()
    (gdb / "a00000001.gdbtable").write_bytes(b"x" * 10)
    target = import_file(tmp_path / "raw", CATALOG.datasets["padus"], gdb)
    assert (target / "a00000001.gdbtable").read_bytes() == b"x" * 10
    assert read_manifest(tmp_path / "raw")["files"]["padus/PADUS4_0_State_NM.gdb"]["bytes"] == 10


def test_missing_file_and_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        import_file(tmp_path, CATALOG.datasets["gppd"], tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="unknown dataset 'gpp'"):
        CATALOG.get("gpp")


def test_unrecorded_files_are_reported(tmp_path):
    (tmp_path / "padus").mkdir()
    (tmp_path / "padus" / "x.gdb").mkdir()
    rows = status(tmp_path, CATALOG)
    assert any(r.state == "unrecorded" and r.dataset == "padus" for r in rows)


def _record_many(args):
    root, worker = args
    for i in range(25):
        record(Path(root), f"gppd/f{worker}_{i}.csv", {"dataset": "gppd", "n": i})


def test_concurrent_writers_never_lose_or_corrupt_entries(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_record_many, [(str(tmp_path), w) for w in range(4)])
    doc = json.loads((tmp_path / "MANIFEST.json").read_text())
    assert len(doc["files"]) == 100
