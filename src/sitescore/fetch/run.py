"""Running a plan: each planned file, or the first of its mirrors that gives a verified one,
fetched under a per-dataset lock and recorded in the manifest; files already there are kept."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import requests

from ..datastore import entry_for, read_manifest, record
from ..outputs import file_digest
from .archive import MAX_MEMBER_BYTES, _extract
from .download import _discard, _download
from .http import (
    DEADLINE_ENV,
    DEFAULT_DEADLINE,
    DEFAULT_MIN_RATE,
    DEFAULT_TIMEOUT,
    MIN_RATE_ENV,
    _Ctx,
    _limit,
    _reason,
    make_session,
)
from .plan import Download
from .report import FetchError, FetchReport, FetchResult
from .services import _fetch_arcgis, _fetch_census


def run_fetch(plan: list[Download], root: Path, *, dry_run: bool = False, progress: bool = True,
              session: requests.Session | None = None, retries: int = 4,
              timeout: float | tuple[float, float] = DEFAULT_TIMEOUT, backoff: float = 1.0,
              max_member_bytes: int = MAX_MEMBER_BYTES, deadline: float | None = None,
              min_rate: float | None = None) -> FetchReport:
    """Download the plan into `root` (data/raw). Files already present (manifest entry, checksum
    still matching) are left alone; with `dry_run` nothing is downloaded or written. `deadline`
    (seconds) and `min_rate` (bytes/s) bound each download; by default they come from
    SITESCORE_FETCH_DEADLINE and SITESCORE_FETCH_MIN_RATE, else DEFAULT_DEADLINE and
    DEFAULT_MIN_RATE."""
    root = Path(root)
    deadline = _limit(deadline, DEADLINE_ENV, DEFAULT_DEADLINE, "seconds")
    min_rate = _limit(min_rate, MIN_RATE_ENV, DEFAULT_MIN_RATE, "bytes a second")
    report = FetchReport(skipped=list(getattr(plan, "skipped", [])))
    manifest = read_manifest(root)["files"]
    own = session is None
    ctx = _Ctx(root, session or make_session(retries, backoff), timeout, retries, backoff,
               progress and sys.stderr.isatty(), max_member_bytes, deadline, min_rate)
    try:
        for d in plan:
            found = _present(ctx, d, manifest, write=not dry_run)
            if found:
                report.results.append(FetchResult(d.dataset.id, "present", found[0], found[1]["source"],
                                                  found[1].get("bytes")))
            elif dry_run:
                report.results.append(FetchResult(d.dataset.id, "planned", d.target.as_posix(),
                                                  d.source_id, d.expected_bytes))
            else:
                report.results.append(_fetch_one(ctx, d))
    finally:
        if own:
            ctx.session.close()
    return report


def _present(ctx: _Ctx, d: Download, files: dict[str, dict], write: bool) -> tuple[str, dict] | None:
    """The manifest entry of a file this download already gave (same source, same dataset
    version, the catalog's sha256 if it has one, the file's checksum as recorded)."""
    candidates = {c.source_id: c for c in (d, *d.alternates)}
    for rel, e in files.items():
        c = candidates.get(str(e.get("source")))
        if c is None or e.get("dataset") != d.dataset.id or e.get("version") != d.dataset.version:
            continue
        want = c.source.sha256
        if want and want != (e.get("archive_sha256") if c.source.unzip else e.get("sha256")):
            continue
        path = ctx.root / rel
        if path.exists() and file_digest(path)["sha256"] == e.get("sha256"):
            return rel, e
    # a file put in place by hand: taken if it is the catalog's file, byte for byte
    path = ctx.root / d.target
    if d.source.sha256 and not d.source.unzip and path.is_file():
        digest = file_digest(path)
        if digest["sha256"] == d.source.sha256:
            entry = entry_for(path, d.dataset, d.source_id)
            if write:
                record(ctx.root, d.target.as_posix(), entry)
            return d.target.as_posix(), entry
    return None


def _fetch_one(ctx: _Ctx, d: Download) -> FetchResult:
    errors: list[str] = []
    not_found = True
    try:
        with _dataset_lock(ctx.root, d.dataset.id):
            for c in (d, *d.alternates):
                try:
                    rel, entry = _fetch_candidate(ctx, c)
                except (FetchError, OSError) as exc:
                    if isinstance(exc, requests.RequestException):
                        exc = FetchError(_reason(exc))
                    elif isinstance(exc, OSError):      # disk full, permissions
                        exc = FetchError(f"cannot write {exc.filename or ctx.root}: "
                                         f"{exc.strerror or exc}")
                    not_found = not_found and exc.not_found
                    errors.append(f"{c.source_id}: {exc}" if not errors else
                                  f"{c.source.role} {c.source_id}: {exc}")
                    continue
                return FetchResult(d.dataset.id, "downloaded", rel, c.source_id, entry.get("bytes"))
    except FetchError as exc:                       # the folder is locked by another fetch
        return FetchResult(d.dataset.id, "failed", d.target.as_posix(), d.source_id,
                           reason=str(exc))
    _drop_if_empty(ctx.root / d.dataset.id)
    if not_found and d.source.role == "tile":
        return FetchResult(d.dataset.id, "absent", d.target.as_posix(), d.source_id,
                           reason=f"no tile {d.label} is published (404)")
    return FetchResult(d.dataset.id, "failed", d.target.as_posix(), d.source_id,
                       reason="could not download " + "; ".join(errors))


def _drop_if_empty(folder: Path) -> None:
    """A dataset folder a failed fetch made and left empty goes again."""
    with suppress(OSError):  # not empty, or already gone: leave it
        folder.rmdir()


@contextmanager
def _dataset_lock(root: Path, ds_id: str) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".fetch.{ds_id}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FetchError(f"another `sitescore fetch` is writing {root / ds_id}; "
                             "wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fetch_candidate(ctx: _Ctx, c: Download) -> tuple[str, dict]:
    dest = ctx.root / c.target
    dest.parent.mkdir(parents=True, exist_ok=True)
    if c.kind == "arcgis":
        n = _fetch_arcgis(ctx, c, dest)
        return _record(ctx, c, dest, {"features": n})
    if c.kind == "census_api":
        rows = _fetch_census(ctx, c, dest)
        return _record(ctx, c, dest, {"rows": rows})
    part, digest, size = _download(ctx, c, dest)
    if not c.source.unzip:
        os.replace(part, dest)
        return _record(ctx, c, dest, {})
    try:
        main = _extract(part, dest, ctx.max_member_bytes)
    finally:
        _discard(part)
    return _record(ctx, c, main, {"archive": dest.name, "archive_sha256": digest,
                                  "archive_bytes": size})


def _record(ctx: _Ctx, c: Download, path: Path, extra: dict) -> tuple[str, dict]:
    rel = path.relative_to(ctx.root).as_posix()
    entry = entry_for(path, c.dataset, c.source_id)
    entry.update({"role": c.source.role, "kind": c.kind, **extra})
    record(ctx.root, rel, entry)
    return rel, entry
