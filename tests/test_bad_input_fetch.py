"""Hostile catalogs, broken data-folder files and hostile servers, through the real command line
(`sitescore fetch`, `data import`, `data status`, `data list`), and the functions behind them.

Each case must end in exactly one stderr line `sitescore: error: <where>: <what>` naming the
catalog file and key (with its YAML line), the manifest, or the dataset and host, exit code 2, no
traceback, nothing half-written, and the data folder as it was before (a dataset imported
earlier and its manifest byte for byte). Servers are the loopback portal (tests/fake_portal.py).
"""

from __future__ import annotations

import io
import re
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fake_portal import FakePortal
from helpers import one_line_error, shared_file
from sitescore import catalog as catalog_module
from sitescore.catalog import (
    DATASET_ID,
    Dataset,
    file_name_problem,
    load_catalog,
    parse_catalog,
)
from sitescore.cli import main
from sitescore.datastore import (
    MANIFEST,
    dataset_paths,
    import_file,
    read_manifest,
    status,
)
from sitescore.errors import ConfigError, DataError
from sitescore.fetch import (
    MAX_MEMBERS,
    MAX_RATIO,
    RATIO_FLOOR_BYTES,
    UnsafeArchive,
    check_members,
    redirect_problem,
)
from sitescore.fetch import archive as archive_module
from sitescore.fetch import http as http_module

# ---------------------------------------------------------------------------------- helpers


def dataset(url: str = "https://files.example.gov/data/file.csv", **source) -> dict:
    """One catalog dataset (a table) with one national source."""
    return {"title": "t", "provider": "p", "product": "p", "version": "1", "licence": "PD",
            "homepage": "https://www.example.gov", "layer": "table", "format": "csv",
            "sources": [{"role": "national", "url": url, **source}]}


def write_catalog(path: Path, datasets: dict) -> Path:
    path.write_text(yaml.safe_dump({"datasets": datasets}, sort_keys=False))
    return path


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line of `path` holding `text`."""
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if text in ln)


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the data folder but the lock files (left in place by design)."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


GOOD = parse_catalog({"datasets": {"previous": dataset()}}).get("previous")


@pytest.fixture(autouse=True)
def _fresh_catalog(monkeypatch):
    """No SITESCORE_* setting from outside, and no catalog remembered from another test."""
    for var in ("SITESCORE_CATALOG", "SITESCORE_DATA_DIR", "SITESCORE_FETCH_DEADLINE",
                "SITESCORE_FETCH_MIN_RATE"):
        monkeypatch.delenv(var, raising=False)
    catalog_module._load.cache_clear()
    yield
    catalog_module._load.cache_clear()


@pytest.fixture
def raw(tmp_path) -> Path:
    """A data folder holding a dataset imported earlier: what every case must leave intact."""
    root = tmp_path / "raw"
    src = tmp_path / "previous.csv"
    src.write_text("id,name\n1,kept\n")
    import_file(root, GOOD, src)
    return root


def use_catalog(monkeypatch, path: Path) -> None:
    monkeypatch.setenv("SITESCORE_CATALOG", str(path))


# -------------------------------------------------------- item 2: catalog ids and file names

BAD_CATALOGS: dict[str, tuple[Callable[[], dict], Callable[[Path], tuple[str, ...]]]] = {
    # name: (datasets, needles given the catalog path)
    "id '.' saving MANIFEST.json": (
        lambda: {".": dataset(filename="MANIFEST.json")},
        lambda p: (str(p), f"line {line_of(p, '.:')}", "config key 'datasets..'",
                   "dataset id '.' is not a plain name")),
    "id '../x'": (
        lambda: {"../x": dataset()},
        lambda p: (str(p), f"line {line_of(p, '../x:')}", "dataset id '../x' is not a plain name")),
    "id with a slash": (
        lambda: {"a/b": dataset()},
        lambda p: (str(p), "config key 'datasets.a/b'", "is not a plain name")),
    "id with upper case and a space": (
        lambda: {"My Data": dataset()},
        lambda p: (str(p), "'My Data' is not a plain name")),
    "filename with '..'": (
        lambda: {"x": dataset(filename="../../evil.csv")},
        lambda p: (str(p), f"line {line_of(p, 'filename:')}",
                   "config key 'datasets.x.sources[0].filename'", "path separator")),
    "filename that is '..'": (
        lambda: {"x": dataset(filename="..")},
        lambda p: (str(p), "datasets.x.sources[0].filename", "is not a file name")),
    "filename in a sub-folder": (
        lambda: {"x": dataset(filename="sub/file.csv")},
        lambda p: (str(p), "datasets.x.sources[0].filename", "path separator")),
    "filename with a backslash": (
        lambda: {"x": dataset(filename="..\\evil.csv")},
        lambda p: (str(p), "datasets.x.sources[0].filename", "path separator")),
    "filename MANIFEST.json": (
        lambda: {"x": dataset(filename="MANIFEST.json")},
        lambda p: (str(p), "datasets.x.sources[0].filename", "sitescore keeps for its own")),
    "filename of a download part": (
        lambda: {"x": dataset(filename="file.csv.part")},
        lambda p: (str(p), "datasets.x.sources[0].filename", "sitescore keeps for its own")),
    "hidden filename": (
        lambda: {"x": dataset(filename=".manifest.lock")},
        lambda p: (str(p), "datasets.x.sources[0].filename", "starts with '.'")),
    "filename with an unknown placeholder": (
        lambda: {"x": dataset(filename="file_{county}.csv")},
        lambda p: (str(p), "datasets.x.sources[0].filename", "'{county}'")),
    "URL with a broken placeholder": (
        lambda: {"x": dataset(url="https://files.example.gov/{state.csv")},
        lambda p: (str(p), "datasets.x.sources[0].url", "broken placeholder")),
    "file name from the URL is the manifest": (
        lambda: {"x": dataset(url="https://files.example.gov/raw/MANIFEST.json")},
        lambda p: (str(p), "config key 'datasets.x.sources[0]'", "give a filename")),
    "URL that is not http(s)": (
        lambda: {"x": dataset(url="file:///etc/passwd")},
        lambda p: (str(p), "datasets.x.sources[0].url", "not an http(s) URL")),
    "redirect host that is a URL": (
        lambda: {"x": {**dataset(), "redirect_hosts": ["https://evil.example/"]}},
        lambda p: (str(p), "datasets.x.redirect_hosts", "is not a host name")),
    "dataset that is a list": (
        lambda: {"x": ["a", "b"]},
        lambda p: (str(p), f"line {line_of(p, 'x:')}", "config key 'datasets.x'")),
}

COMMANDS = {
    "fetch": lambda raw, tmp: ["fetch", "--data-dir", str(raw)],
    "data import": lambda raw, tmp: ["data", "import", "previous", str(tmp / "new.csv"),
                                     "--data-dir", str(raw)],
    "data status": lambda raw, tmp: ["data", "status", "--data-dir", str(raw)],
    "data list": lambda raw, tmp: ["data", "list", "--data-dir", str(raw)],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", BAD_CATALOGS)
def test_a_hostile_catalog_is_one_line_and_the_data_folder_is_untouched(
        name, command, raw, tmp_path, monkeypatch):
    datasets, needles = BAD_CATALOGS[name]
    path = write_catalog(tmp_path / "org_catalog.yaml", datasets())
    use_catalog(monkeypatch, path)
    (tmp_path / "new.csv").write_text("id\n2\n")
    before = snapshot(raw)
    one_line_error(cli(*COMMANDS[command](raw, tmp_path)), *needles(path))
    assert snapshot(raw) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "org_catalog.yaml",
                                                         "previous.csv", "raw"]


def test_load_catalog_refuses_a_hostile_catalog(tmp_path, monkeypatch):
    """Every command (and `run` through a layer's `dataset:`) starts from load_catalog()."""
    path = write_catalog(tmp_path / "c.yaml", {"../x": dataset()})
    use_catalog(monkeypatch, path)
    with pytest.raises(ConfigError) as err:
        load_catalog()
    assert str(path) in str(err.value) and "'../x' is not a plain name" in str(err.value)


def test_the_shipped_catalog_ids_and_file_names_fit_the_rules():
    shipped = load_catalog()
    for ds_id, ds in shipped.datasets.items():
        assert DATASET_ID.match(ds_id), ds_id
        for src in ds.sources:
            if src.filename:
                assert file_name_problem(src.filename) is None, (ds_id, src.filename)


def test_a_dataset_built_without_the_catalog_still_cannot_leave_the_data_folder(tmp_path):
    """Defence in depth: the data folder checks the id again (model_construct skips checks)."""
    rogue = Dataset.model_construct(**{**GOOD.model_dump(), "id": ".."})
    src = tmp_path / "f.csv"
    src.write_text("a\n")
    with pytest.raises(DataError, match="not a plain name"):
        import_file(tmp_path / "raw", rogue, src)
    assert not (tmp_path / "f.csv.importing").exists() and not (tmp_path / "raw").exists()


@pytest.mark.parametrize("what", [".", "..", "raw", "/"])
def test_importing_a_folder_that_holds_the_data_folder_is_refused(what, raw, tmp_path,
                                                                  monkeypatch):
    """`data import DATASET .` once copied the working folder into itself and `..` replaced the
    data folder: each is now one line, with the data folder as it was."""
    path = write_catalog(tmp_path / "c.yaml", {"previous": dataset()})
    use_catalog(monkeypatch, path)
    monkeypatch.chdir(raw if what == "." else tmp_path if what == "raw" else raw / "previous")
    before = snapshot(raw)
    one_line_error(cli("data", "import", "previous", what, "--data-dir", str(raw)),
             "holds the data folder itself")
    assert snapshot(raw) == before


# ------------------------------------------- item 19: catalog not UTF-8 / not YAML / missing

def _latin1(p: Path) -> None:
    p.write_bytes("datasets:\n  x:\n    title: Caf\u00e9\n".encode("latin-1"))


def _broken_yaml(p: Path) -> None:
    p.write_text("datasets:\n  x: {title: [unclosed\n")


def _a_list(p: Path) -> None:
    p.write_text("- datasets\n- x\n")


def _empty(p: Path) -> None:
    p.write_text("")


def _twice(p: Path) -> None:
    p.write_text(yaml.safe_dump({"datasets": {"x": dataset()}}, sort_keys=False)
                 + "  x:\n    title: again\n")


def _folder(p: Path) -> None:
    p.mkdir()


UNREADABLE_CATALOGS = {
    "not UTF-8": (_latin1, ("not UTF-8 text (byte 0xe9 on line 3, at offset 29)",)),
    "not YAML": (_broken_yaml, ("not valid YAML (line 3",)),
    "a YAML list": (_a_list, ("a catalog is a mapping with a 'datasets' mapping",)),
    "empty": (_empty, ("a catalog is a mapping",)),
    "a dataset given twice": (_twice, ("key 'x' is given twice",)),
    "missing": (lambda p: None, ("cannot read the catalog (No such file or directory)",)),
    "a folder": (_folder, ("cannot read the catalog (Is a directory)",)),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", UNREADABLE_CATALOGS)
def test_an_unreadable_catalog_is_one_line(name, command, raw, tmp_path, monkeypatch):
    make, needles = UNREADABLE_CATALOGS[name]
    path = tmp_path / "org_catalog.yaml"
    make(path)
    use_catalog(monkeypatch, path)
    (tmp_path / "new.csv").write_text("id\n2\n")
    before = snapshot(raw)
    one_line_error(cli(*COMMANDS[command](raw, tmp_path)), str(path), *needles)
    assert snapshot(raw) == before


@pytest.mark.parametrize("name", UNREADABLE_CATALOGS)
def test_load_catalog_refuses_an_unreadable_catalog(name, tmp_path, monkeypatch):
    make, needles = UNREADABLE_CATALOGS[name]
    path = tmp_path / "org_catalog.yaml"
    make(path)
    use_catalog(monkeypatch, path)
    with pytest.raises(ConfigError) as err:
        load_catalog()
    assert str(path) in str(err.value) and all(n in str(err.value) for n in needles)


# -------------------------------------------------------- item 19: a damaged data-folder manifest

def _manifest_text(raw: Path) -> str:
    return (raw / MANIFEST).read_text()


DAMAGED_MANIFESTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (lambda raw: (raw / MANIFEST).write_text(_manifest_text(raw)[:40]),
                  "not a valid manifest (Unterminated string"),
    "not JSON": (lambda raw: (raw / MANIFEST).write_text("files: previous/file.csv\n"),
                 "not a valid manifest (Expecting value at line 1 column 1)"),
    "not UTF-8": (lambda raw: (raw / MANIFEST).write_bytes(b'{"files": {"\xff": 1}}'),
                  "not a valid manifest (not UTF-8 text at byte 12)"),
    "a JSON list": (lambda raw: (raw / MANIFEST).write_text("[]\n"),
                    "not a valid manifest (a JSON list, not an object)"),
    "files not an object": (lambda raw: (raw / MANIFEST).write_text('{"files": ["a"]}'),
                            "'files' is not an object"),
    "an entry that is a string": (
        lambda raw: (raw / MANIFEST).write_text('{"files": {"previous/file.csv": "x"}}'),
        "entry 'previous/file.csv' is not an object"),
    "an entry outside the data folder": (
        lambda raw: (raw / MANIFEST).write_text('{"files": {"../../etc/passwd": {}}}'),
        "entry '../../etc/passwd' is not a path inside a dataset folder"),
    "bytes that are text": (
        lambda raw: (raw / MANIFEST).write_text(
            re.sub(r'"bytes": (\d+)', r'"bytes": "\1"', _manifest_text(raw))),
        "has a 'bytes' that is not a int"),
}


def _damage(name: str, raw: Path) -> dict[str, bytes]:
    DAMAGED_MANIFESTS[name][0](raw)
    return snapshot(raw)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", DAMAGED_MANIFESTS)
def test_a_damaged_manifest_is_one_line_and_is_left_as_it_is(name, command, raw, tmp_path,
                                                             monkeypatch):
    path = write_catalog(tmp_path / "c.yaml", {"previous": dataset(
        url=FakePortal.refused_url("/previous/file.csv"))})
    use_catalog(monkeypatch, path)
    (tmp_path / "new.csv").write_text("id\n2\n")
    before = _damage(name, raw)
    one_line_error(cli(*COMMANDS[command](raw, tmp_path)), str(raw / MANIFEST),
             DAMAGED_MANIFESTS[name][1])
    assert snapshot(raw) == before                       # not rewritten, nothing copied in


def test_a_manifest_that_is_a_folder_is_one_line(raw, tmp_path, monkeypatch):
    use_catalog(monkeypatch, write_catalog(tmp_path / "c.yaml", {"previous": dataset()}))
    (raw / MANIFEST).unlink()
    (raw / MANIFEST).mkdir()
    one_line_error(cli("data", "status", "--data-dir", str(raw)), str(raw / MANIFEST),
             "cannot read the manifest (Is a directory)")


@pytest.mark.parametrize("name", DAMAGED_MANIFESTS)
def test_data_list_and_the_readers_refuse_a_damaged_manifest(name, raw):
    """`data list` (dataset_paths) and `run` (through dataset_paths) stop with the same line."""
    _damage(name, raw)
    for call in (dataset_paths, read_manifest, lambda r: status(r, parse_catalog(
            {"datasets": {"previous": dataset()}}))):
        with pytest.raises(DataError) as err:
            call(raw)
        assert str(raw / MANIFEST) in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------------- item 4: zip bombs

def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method, compresslevel=9 if method else None) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def lying_zip(declared: int, data: bytes) -> bytes:
    """A zip whose one member's headers (local and central) declare `declared` bytes while its
    compressed stream holds `data`."""
    blob = bytearray(zip_of({"lie/data.bin": data}))
    local = blob.index(b"PK\x03\x04")
    central = blob.index(b"PK\x01\x02")
    blob[local + 22:local + 26] = declared.to_bytes(4, "little")
    blob[central + 24:central + 28] = declared.to_bytes(4, "little")
    return bytes(blob)


def fetch_archive(portal: FakePortal, tmp_path: Path, monkeypatch, data: bytes):
    url = portal.add_file("/bombs/archive.zip", data, content_type="application/zip")
    path = write_catalog(tmp_path / "c.yaml", {"previous": dataset(), "bomb": dataset(
        url=url, unzip=True, size_bytes=len(data))})
    use_catalog(monkeypatch, path)
    return cli("fetch", "--only", "bomb", "--data-dir", str(tmp_path / "raw"))


ZEROS_64M = bytes(64 << 20)

BOMBS = {
    # a 64 MiB member packed into ~64 kB: 1,000:1
    "one member at 1,000:1": (lambda: zip_of({"bomb/zeros.bin": ZEROS_64M}),
                              "unpacks to 67,108,864 bytes from"),
    # each 1 MiB member is under the floor, the archive as a whole is not
    "many small members at 1,000:1": (
        lambda: zip_of({f"bomb/part{i:02d}.bin": bytes(1 << 20) for i in range(40)}),
        "it unpacks to 41,943,040 bytes from"),
    "more members than the limit": (
        lambda: zip_of({f"many/{i}.txt": b"" for i in range(MAX_MEMBERS + 1)},
                       zipfile.ZIP_STORED),
        f"{MAX_MEMBERS + 1:,} members, over the {MAX_MEMBERS:,} member limit"),
    "headers declaring less than the data": (
        lambda: lying_zip(100, bytes(1 << 20)), "corrupt zip archive (Bad CRC-32"),
}


@pytest.mark.parametrize("name", BOMBS)
def test_a_zip_bomb_is_refused_with_nothing_extracted(name, portal, raw, tmp_path, monkeypatch):
    make, why = BOMBS[name]
    before = snapshot(raw)
    result = fetch_archive(portal, tmp_path, monkeypatch, make())
    one_line_error(result, "some datasets could not be fetched", str(raw))
    [report] = [ln for ln in result.stdout.splitlines() if ln.startswith("bomb: ")]
    assert why in report and "nothing was" in report and "download was deleted" in report, report
    assert "sitescore data import bomb <file>" in report
    assert snapshot(raw) == before                        # no archive, no part, no member
    assert not [p for p in raw.rglob("*") if p.name != ".fetch.bomb.lock"
                and p.relative_to(raw).parts[0] == "bomb"]


def test_without_free_space_nothing_is_extracted(portal, raw, tmp_path, monkeypatch):
    data = zip_of({"small/table.csv": b"id,name\n" + b"1,a\n" * 50_000})
    real = shutil.disk_usage

    def nearly_full(path):
        usage = real(path)
        return type(usage)(usage.total, usage.total - (1 << 20), 1 << 20)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    before = snapshot(raw)
    result = fetch_archive(portal, tmp_path, monkeypatch, data)
    one_line_error(result, "some datasets could not be fetched")
    assert "not enough free space to extract: it unpacks to 200,008 bytes" in result.stdout
    assert "only 1,048,576 are free" in result.stdout
    assert snapshot(raw) == before


def test_small_very_compressible_members_and_real_archives_pass(portal, raw, tmp_path,
                                                                 monkeypatch):
    """Under the floor any ratio passes: an 8 MiB run of zeros (~1,000:1) is extracted."""
    data = zip_of({"ok/blank.tif": bytes(8 << 20), "ok/table.csv": b"id\n1\n"})
    result = fetch_archive(portal, tmp_path, monkeypatch, data)
    assert result.exit_code == 0, result.output
    assert (raw / "bomb" / "ok" / "blank.tif").stat().st_size == 8 << 20
    assert read_manifest(raw)["files"]["previous/previous.csv"]


@pytest.mark.shared_data
@pytest.mark.parametrize("relative", ["water/ne_50m_rivers_lake_centerlines.zip",
                                      "federal_land/padus4_0_StateAZ_gdb_partial.zip",
                                      "federal_land/padus4_0_StateNM_gdb_partial.zip"])
def test_real_archives_fit_the_limits(relative):
    path = shared_file(relative)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    total = check_members(infos, archive_bytes=path.stat().st_size)
    assert total == sum(i.file_size for i in infos)
    assert total < MAX_RATIO * path.stat().st_size / 10          # far below the archive limit
    # the same archive with limits ten times tighter would still pass its members
    check_members(infos, max_ratio=MAX_RATIO / 1.5, ratio_floor=RATIO_FLOOR_BYTES // 16)


def test_bytes_written_past_the_declared_size_stop_the_extraction():
    """Headers can lie: a member stream giving more than its header declares is cut off."""
    info = zipfile.ZipInfo("lie/data.bin")
    info.file_size = 10
    out = io.BytesIO()
    with pytest.raises(UnsafeArchive, match="more than the 10 bytes its header declares"):
        archive_module._copy_member(io.BytesIO(bytes(100)), out, info)
    assert len(out.getvalue()) <= 10
    info.file_size = 100
    assert archive_module._copy_member(io.BytesIO(bytes(100)), io.BytesIO(), info) == 100


# ----------------------------------------------------------------- item 9: redirects

def redirect_catalog(tmp_path: Path, monkeypatch, url: str, **extra) -> None:
    use_catalog(monkeypatch, write_catalog(tmp_path / "c.yaml", {
        "previous": dataset(), "moved": {**dataset(url=url, filename="moved.bin"), **extra}}))


def test_a_redirect_to_another_host_is_refused(portal, raw, tmp_path, monkeypatch):
    data = b"secret" * 100
    portal.add_file("/elsewhere/file.bin", data)
    url = portal.add_redirect("/official/file.bin",
                              f"http://localhost:{portal.port}/elsewhere/file.bin")
    redirect_catalog(tmp_path, monkeypatch, url)
    before = snapshot(raw)
    result = cli("fetch", "--only", "moved", "--data-dir", str(raw))
    one_line_error(result, "some datasets could not be fetched")
    [report] = [ln for ln in result.stdout.splitlines() if ln.startswith("moved: ")]
    assert "redirected to host 'localhost', which the catalog entry of 'moved' does not name" \
        in report, report
    assert portal.hits("/elsewhere/file.bin") == []           # never asked
    assert snapshot(raw) == before


def test_a_redirect_to_a_host_the_catalog_names_is_followed(portal, raw, tmp_path, monkeypatch):
    data = b"public" * 100
    portal.add_file("/storage/file.bin", data)
    url = portal.add_redirect("/official/file.bin",
                              f"http://localhost:{portal.port}/storage/file.bin", status=307)
    redirect_catalog(tmp_path, monkeypatch, url, redirect_hosts=["localhost"])
    result = cli("fetch", "--only", "moved", "--data-dir", str(raw))
    assert result.exit_code == 0, result.output
    assert (raw / "moved" / "moved.bin").read_bytes() == data
    assert [h.status for h in portal.hits()] == [307, 200]


def test_a_redirect_on_the_same_host_is_followed(portal, raw, tmp_path, monkeypatch):
    data = b"same" * 100
    portal.add_file("/v2/file.bin", data)
    redirect_catalog(tmp_path, monkeypatch, portal.add_redirect("/v1/file.bin", "/v2/file.bin", 301))
    assert cli("fetch", "--only", "moved", "--data-dir", str(raw)).exit_code == 0
    assert (raw / "moved" / "moved.bin").read_bytes() == data


@pytest.mark.parametrize("location, why", [
    ("/loop/file.bin", "more than 10 redirects"),
    ("file:///etc/passwd", "not an http(s) URL with a host"),
])
def test_redirect_loops_and_other_schemes_are_refused(location, why, portal, raw, tmp_path,
                                                     monkeypatch):
    redirect_catalog(tmp_path, monkeypatch, portal.add_redirect("/loop/file.bin", location))
    result = cli("fetch", "--only", "moved", "--data-dir", str(raw))
    one_line_error(result, "some datasets could not be fetched")
    assert why in result.stdout
    assert len(portal.hits("/loop/file.bin")) <= 11


def test_a_service_redirected_to_another_host_is_refused(portal, raw, tmp_path, monkeypatch):
    portal.add_census("/data/acs5", [["NAME", "state"], ["New Mexico", "35"]])
    url = portal.add_redirect("/api/acs5", f"http://localhost:{portal.port}/data/acs5?get=NAME&for=state:*")
    use_catalog(monkeypatch, write_catalog(tmp_path / "c.yaml", {"acs": dataset(
        url=url, kind="census_api", filename="acs.csv")}))
    result = cli("fetch", "--only", "acs", "--data-dir", str(raw))
    one_line_error(result, "some datasets could not be fetched")
    assert "redirected to host 'localhost'" in result.stdout
    assert portal.hits("/data/acs5") == []


def test_dry_run_sizes_ask_no_other_host(portal, raw, tmp_path, monkeypatch):
    portal.add_file("/elsewhere/file.bin", b"x" * 5000)
    url = portal.add_redirect("/official/file.bin",
                              f"http://localhost:{portal.port}/elsewhere/file.bin")
    redirect_catalog(tmp_path, monkeypatch, url)
    result = cli("fetch", "--only", "moved", "--dry-run", "--data-dir", str(raw))
    assert result.exit_code == 0, result.output
    assert "unknown" in result.stdout and portal.hits("/elsewhere/file.bin") == []


@pytest.mark.parametrize("src, dst, allowed, why", [
    ("https://www.example.gov/a.zip", "http://www.example.gov/a.zip", True, "down to plain http"),
    ("https://www.example.gov/a.zip", "https://cdn.example.gov/a.zip", True, None),
    ("https://www.example.gov/a.zip", "https://x.s3.amazonaws.com/a.zip", True, None),
    ("https://www.example.gov/a.zip", "https://s3.amazonaws.com.evil.example/a.zip", True,
     "does not name"),
    ("https://www.example.gov/a.zip", "https://169.254.169.254/latest/", True, "does not name"),
    ("http://www.example.gov/a.zip", "https://www.example.gov/a.zip", False, None),
    ("https://www.example.gov/a.zip", "ftp://www.example.gov/a.zip", True, "not an http(s)"),
])
def test_redirect_rules(src, dst, allowed, why):
    ds = parse_catalog({"datasets": {"x": {**dataset(url=src), "redirect_hosts": [
        "cdn.example.gov", "*.s3.amazonaws.com"] if allowed else []}}}).get("x")
    problem = redirect_problem(ds, src, dst)
    assert (problem is None) if why is None else (why in problem), problem


# --------------------------------------------------------- item 9: deadline and minimum rate

def trickle_catalog(portal: FakePortal, tmp_path: Path, monkeypatch, data: bytes, **route):
    url = portal.add_file("/slow/slow.bin", data, trickle=0.05, trickle_bytes=5, **route)
    use_catalog(monkeypatch, write_catalog(tmp_path / "c.yaml", {
        "previous": dataset(), "slow": dataset(url=url, size_bytes=len(data))}))


def test_a_trickle_ends_at_the_deadline_and_the_part_is_resumed(portal, raw, tmp_path,
                                                                monkeypatch):
    data = bytes(range(256)) * 8                                  # 2,048 bytes, 5 every 0.05 s
    trickle_catalog(portal, tmp_path, monkeypatch, data)
    monkeypatch.setenv("SITESCORE_FETCH_DEADLINE", "1")
    before = snapshot(raw)
    started = time.monotonic()
    result = cli("fetch", "--only", "slow", "--data-dir", str(raw))
    assert time.monotonic() - started < 4
    one_line_error(result, "some datasets could not be fetched")
    [report] = [ln for ln in result.stdout.splitlines() if ln.startswith("slow: ")]
    assert "not finished within the 1 s deadline" in report and "SITESCORE_FETCH_DEADLINE" in report
    assert "kept slow.bin.part" in report and "fetch again to resume" in report
    kept = (raw / "slow" / "slow.bin.part").read_bytes()
    assert 0 < len(kept) < len(data) and data.startswith(kept)
    assert {k: v for k, v in snapshot(raw).items() if not k.startswith("slow/")} == before
    # the next fetch (no deadline, the server no longer trickling) resumes the kept part
    monkeypatch.delenv("SITESCORE_FETCH_DEADLINE")
    assert cli("fetch", "--only", "slow", "--data-dir", str(raw)).exit_code == 0
    last = portal.hits("/slow/slow.bin")[-1]
    assert last.headers["Range"] == f"bytes={len(kept)}-" and last.status == 206
    assert (raw / "slow" / "slow.bin").read_bytes() == data


def test_a_trickle_ends_in_a_real_process(portal, raw, tmp_path, monkeypatch):
    """The installed command in a fresh process: a server that never quite stalls no longer
    holds it; it ends by itself at the deadline, in one line."""
    import os
    import subprocess
    import sys

    trickle_catalog(portal, tmp_path, monkeypatch, bytes(4096))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITESCORE_")}
    env.update(SITESCORE_CATALOG=str(tmp_path / "c.yaml"), SITESCORE_FETCH_DEADLINE="1.5")
    started = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "sitescore"), "fetch", "--only",
                           "slow", "--data-dir", str(raw)], capture_output=True, text=True,
                          timeout=60, env=env, check=False)
    assert time.monotonic() - started < 30
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("sitescore: error: "), proc.stderr
    assert "not finished within the 1.5 s deadline" in proc.stdout
    assert (raw / "slow" / "slow.bin.part").stat().st_size > 0


def test_a_trickle_under_the_minimum_rate_ends_in_one_line(portal, raw, tmp_path, monkeypatch):
    data = bytes(range(256)) * 8
    trickle_catalog(portal, tmp_path, monkeypatch, data)
    monkeypatch.setattr(http_module, "MIN_RATE_GRACE", 0.5)   # read by _Budget.check
    monkeypatch.setenv("SITESCORE_FETCH_MIN_RATE", "1000")
    started = time.monotonic()
    result = cli("fetch", "--only", "slow", "--data-dir", str(raw))
    assert time.monotonic() - started < 4
    one_line_error(result, "some datasets could not be fetched")
    assert "under the minimum average of 1,000 bytes/s (SITESCORE_FETCH_MIN_RATE sets it)" \
        in result.stdout
    assert (raw / "slow" / "slow.bin.part").exists() and not (raw / "slow" / "slow.bin").exists()


@pytest.mark.parametrize("var, value", [("SITESCORE_FETCH_DEADLINE", "soon"),
                                        ("SITESCORE_FETCH_DEADLINE", "-5"),
                                        ("SITESCORE_FETCH_MIN_RATE", "inf")])
def test_a_bad_limit_in_the_environment_is_one_line(var, value, raw, tmp_path, monkeypatch):
    use_catalog(monkeypatch, write_catalog(tmp_path / "c.yaml", {"previous": dataset()}))
    monkeypatch.setenv(var, value)
    before = snapshot(raw)
    one_line_error(cli("fetch", "--data-dir", str(raw)), f"environment variable {var}: '{value}'")
    assert snapshot(raw) == before



# --------------------------------------------------- the prepared cache: a damaged sidecar

@pytest.mark.parametrize("sidecar", [b'{"path": "x", "features"', b"\xff\xfe not text", b"[1, 2]"])
def test_a_damaged_cache_sidecar_is_a_cache_miss(sidecar, tmp_path):
    """The .json beside a cached layer, damaged, no longer stops a run with a traceback: the
    layer is read from its source instead, as for a damaged parquet."""
    import geopandas as gpd
    import shapely

    from helpers import layer_source
    from sitescore.cache import prepare, read_cached

    gpkg = tmp_path / "padus.gpkg"
    gpd.GeoDataFrame({"Unit_Nm": ["A"], "Mang_Name": ["BLM"], "Own_Type": ["FED"],
                      "GAP_Sts": ["3"]}, geometry=[shapely.box(-107, 35, -106.9, 35.1)],
                     crs="EPSG:4326").to_file(gpkg, layer="PADUS4_0Fee")
    src = layer_source("padus", gpkg, name="federal_land")
    path = prepare(src, tmp_path / "cache")
    assert len(read_cached(src, None, tmp_path / "cache")) == 1
    path.with_suffix(".json").write_bytes(sidecar)
    assert read_cached(src, None, tmp_path / "cache") is None
