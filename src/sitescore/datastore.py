"""The local data folder (data/raw): which file holds which dataset, where it came from, and
whether it is still the file that was fetched or imported.

`data/raw/MANIFEST.json` has one entry per file: dataset id, source (URL or the path imported
from), time, bytes, sha256 and version. It is rewritten atomically under a file lock, so two
runs or fetches at once never corrupt it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from .catalog import DATASET_ID, Catalog, Dataset
from .errors import DataError
from .outputs import file_digest

MANIFEST = "MANIFEST.json"
#: Entry fields and the types sitescore writes them as; a manifest edited into other types is
#: refused rather than half-read.
_ENTRY_TYPES: dict[str, type | tuple[type, ...]] = {
    "dataset": str, "source": str, "sha256": str, "version": str, "time": str, "bytes": int}


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """An exclusive lock on the data folder's manifest (advisory, across processes)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".manifest.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_manifest(root: Path) -> dict[str, Any]:
    """The data folder's manifest, checked: a damaged one (truncated, not JSON, not the layout
    sitescore writes) is one DataError naming it, never half-read."""
    path = root / MANIFEST
    if not path.exists() and not path.is_symlink():
        return {"files": {}}
    fix = "; move it away and run `sitescore data import` (or fetch) again"
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read the manifest ({exc.strerror or exc})", file=path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not a valid manifest (not UTF-8 text at byte {exc.start}){fix}",
                        file=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"not a valid manifest ({exc.msg} at line {exc.lineno} column "
                        f"{exc.colno}){fix}", file=path) from None
    if not isinstance(doc, dict):
        raise DataError(f"not a valid manifest (a JSON {type(doc).__name__}, not an object){fix}",
                        file=path)
    files = doc.setdefault("files", {})
    if not isinstance(files, dict):
        raise DataError(f"not a valid manifest ('files' is not an object){fix}", file=path,
                        field="files")
    for rel, entry in files.items():
        problem = _entry_problem(rel, entry)
        if problem:
            raise DataError(f"not a valid manifest (entry '{_printable(rel)}' {problem}){fix}",
                            file=path, field="files")
    return doc


def _entry_problem(rel: str, entry: Any) -> str | None:
    parts = PurePosixPath(rel).parts
    if not rel or rel.startswith("/") or "\\" in rel or ".." in parts or len(parts) < 2:
        return "is not a path inside a dataset folder"
    if not isinstance(entry, dict):
        return "is not an object"
    for key, kind in _ENTRY_TYPES.items():
        if key in entry and entry[key] is not None and (
                not isinstance(entry[key], kind) or isinstance(entry[key], bool)):
            return f"has a '{key}' that is not a {getattr(kind, '__name__', kind)}"
    return None


def _printable(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii")[:120]


def _write_manifest(root: Path, doc: dict[str, Any]) -> None:
    """Write to a temporary file and rename it over the manifest: a full disk or a kill leaves
    the previous manifest whole (and no temporary file behind)."""
    fd, tmp = tempfile.mkstemp(prefix=".MANIFEST.", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, root / MANIFEST)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record(root: Path, relpath: str, entry: dict[str, Any]) -> None:
    """Add or replace the manifest entry for one file under `root`."""
    with locked(root):
        doc = read_manifest(root)
        doc["files"][relpath] = entry
        _write_manifest(root, doc)


def entry_for(path: Path, dataset: Dataset, source: str, version: str | None = None) -> dict[str, Any]:
    return {"dataset": dataset.id, "source": source,
            "time": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "version": version or dataset.version, **file_digest(path)}


def import_file(root: Path, dataset: Dataset, src: Path, *, link: bool = False) -> Path:
    """Register a file obtained by hand: copied (or symlinked) to data/raw/<dataset>/, checksummed
    and entered in the manifest. A folder (a .gdb) is copied whole."""
    src = Path(src).expanduser()
    if not src.exists():
        raise DataError("file not found", file=src)
    target_dir = dataset_dir(root, dataset)
    read_manifest(root)            # a damaged manifest stops the import before anything is copied
    real, real_root = src.resolve(), root.resolve()
    if real == real_root or real_root.is_relative_to(real):
        raise DataError("this folder holds the data folder itself; import a file or a dataset "
                        "folder (a .gdb)", file=src)
    if real.is_dir() and (real_root / dataset.id).resolve().is_relative_to(real):
        raise DataError("this folder holds the dataset's own folder", file=src)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / real.name
    if target.resolve() != src.resolve():
        tmp = target_dir / f".{real.name}.importing"
        _remove(tmp)
        if link:
            tmp.symlink_to(src.resolve(), target_is_directory=src.is_dir())
        elif src.is_dir():
            shutil.copytree(src, tmp)
        else:
            shutil.copy2(src, tmp)
        _remove(target)
        os.replace(tmp, target)
    rel = target.relative_to(root).as_posix()
    record(root, rel, entry_for(target, dataset, f"import:{src.resolve()}"))
    return target


def dataset_dir(root: Path, dataset: Dataset) -> Path:
    """data/raw/<id>/, never anywhere else (ids are checked by the catalog; a Dataset built in
    code without it is checked here again)."""
    if not DATASET_ID.match(dataset.id):
        raise DataError(f"dataset id '{_printable(dataset.id)}' is not a plain name", file=root)
    return root / dataset.id


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


@dataclass(frozen=True)
class FileStatus:
    dataset: str
    path: str | None
    state: str          # present, missing, modified, unrecorded
    detail: str = ""


def status(root: Path, catalog: Catalog, verify: bool = True) -> list[FileStatus]:
    """Every catalog dataset: present (checksum as recorded), modified, or missing; plus files on
    disk that no manifest entry explains."""
    doc = read_manifest(root)
    by_dataset: dict[str, list[str]] = {}
    for rel, e in doc["files"].items():
        by_dataset.setdefault(e.get("dataset", "?"), []).append(rel)
    out = []
    for ds in catalog.datasets.values():
        rels = by_dataset.get(ds.id, [])
        if not rels:
            out.append(FileStatus(ds.id, None, "missing"))
        for rel in sorted(rels):
            out.append(_file_status(root, rel, doc["files"][rel], verify))
    known = {rel.split("/", 1)[0] for rel in doc["files"]}
    for child in sorted(root.iterdir()) if root.exists() else []:
        if child.is_dir() and child.name in catalog.datasets and child.name not in known:
            out.append(FileStatus(child.name, child.name, "unrecorded",
                                  "files here are not in the manifest: `sitescore data import`"))
    return out


def _file_status(root: Path, rel: str, entry: dict[str, Any], verify: bool) -> FileStatus:
    path = root / rel
    if not path.exists():
        return FileStatus(entry.get("dataset", "?"), rel, "missing", "recorded but not on disk")
    if verify:
        digest = file_digest(path)
        if digest["sha256"] != entry.get("sha256"):
            return FileStatus(entry.get("dataset", "?"), rel, "modified",
                              f"sha256 {digest['sha256'][:12]}… differs from the recorded "
                              f"{str(entry.get('sha256'))[:12]}…")
    return FileStatus(entry.get("dataset", "?"), rel, "present", f"{entry.get('bytes', 0):,} bytes")


def dataset_paths(root: Path) -> dict[str, list[Path]]:
    """Dataset id -> its files in the data folder (several where per-state extracts were fetched)."""
    doc = read_manifest(root)
    found: dict[str, list[Path]] = {}
    for rel in sorted(doc["files"]):
        ds = doc["files"][rel].get("dataset")
        if ds:
            found.setdefault(ds, []).append(root / rel)
    return found
