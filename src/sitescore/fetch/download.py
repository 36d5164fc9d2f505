"""Resumable file downloads: a file streams into `<target>.part` (its URL and validator in
`<target>.part.json`), resumes with Range/If-Range after a cut, within this fetch or the next,
and is verified (sha256, else the published size, else Content-Length) before it is kept."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import requests
import urllib3
from tqdm import tqdm

from .http import CHUNK, RETRY_STATUS, _Budget, _Ctx, _open, _reason, _TooSlow
from .plan import Download
from .report import FetchError


def _part_paths(dest: Path) -> tuple[Path, Path]:
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")


def _discard(part: Path) -> None:
    for p in (part, part.with_name(part.name + ".json")):
        p.unlink(missing_ok=True)


def _download(ctx: _Ctx, c: Download, dest: Path) -> tuple[Path, str, int]:
    """Stream the file into <dest>.part, resuming a kept part, and verify it. Returns the part
    (complete and verified), its sha256 and size."""
    part, meta = _part_paths(dest)
    budget = ctx.budget()
    try:
        return _download_within(ctx, c, part, meta, budget)
    except _TooSlow as exc:
        kept = part.stat().st_size if part.exists() else 0
        raise FetchError(f"{exc}; kept {part.name} ({kept:,} bytes): fetch again to resume"
                         ) from None


def _download_within(ctx: _Ctx, c: Download, part: Path, meta: Path,
                     budget: _Budget) -> tuple[Path, str, int]:
    cuts = 0
    while True:
        budget.check()
        have, validator = _resumable(part, meta, c.url)
        resp = _request(ctx, c, have, validator, budget)
        with resp:
            code = resp.status_code
            if code == 416 and have:
                total = _content_range(resp.headers.get("Content-Range"))[1]
                if total == have:
                    break                                  # the part was complete already
                _discard(part)
                continue
            if code in (404, 410):
                if have:
                    _discard(part)
                raise FetchError(f"{code} {resp.reason or 'Not Found'}", not_found=True)
            if code >= 400:
                raise FetchError(f"HTTP {code} {resp.reason or ''}".rstrip()
                                 + (" after retries" if code in RETRY_STATUS else ""))
            if code == 206 and have:
                start, total = _content_range(resp.headers.get("Content-Range"))
                if start != have:
                    _discard(part)
                    continue
                mode = "ab"
            else:                                          # 200: the whole file from byte 0
                have, mode = 0, "wb"
                total = _int(resp.headers.get("Content-Length"))
            # a body compressed in transit despite `identity` is neither sized nor resumable
            encoded = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
            if encoded:
                total = None
            meta.write_text(json.dumps({"url": c.url, "total": total, "resumable": not encoded,
                                        "validator": resp.headers.get("ETag")
                                        or resp.headers.get("Last-Modified")}))
            have, cut = _write_body(ctx, c, resp, part, mode, have, total, budget)
            if cut:
                cuts += 1
                if cuts > ctx.retries:
                    got = f"{have:,} of {total:,} bytes" if total else f"{have:,} bytes"
                    raise FetchError(f"connection cut after {got} (kept {part.name}: fetch "
                                     "again to resume)")
                time.sleep(min(ctx.backoff * 2 ** (cuts - 1), 30))
                continue
        break
    return (part, *_verify(c, part, meta))


def _request(ctx: _Ctx, c: Download, have: int, validator: str | None,
             budget: _Budget) -> requests.Response:
    """GET the file, asking only for the bytes after a kept part (Range, and If-Range so a
    changed file comes back whole)."""
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        if validator:
            headers["If-Range"] = validator
    try:
        return _open(ctx.session, c.dataset, c.url, headers=headers, stream=True,
                     timeout=ctx.timeout, budget=budget)
    except requests.RequestException as exc:
        if budget.deadline and time.monotonic() - budget.start > budget.deadline:
            budget.check()
        raise FetchError(_reason(exc)) from None


def _write_body(ctx: _Ctx, c: Download, resp: requests.Response, part: Path, mode: str,
                have: int, total: int | None, budget: _Budget) -> tuple[int, bool]:
    """Write the answer's body into the part (`mode` "ab" after `have` bytes, "wb" from byte 0).
    Returns the bytes now in the part and whether the connection was cut before `total`: every
    byte that arrived is kept, for the caller to resume."""
    try:
        with open(part, mode) as fh, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                desc=c.target.as_posix(), disable=not ctx.progress, leave=False) as bar:
            # read1 hands over every byte that arrived before a cut (iter_content
            # drops a partly filled chunk), so the part holds all of them
            while chunk := resp.raw.read1(CHUNK, decode_content=True):
                fh.write(chunk)
                have += len(chunk)
                bar.update(len(chunk))
                budget.add(len(chunk))
        cut = total is not None and have < total        # a body shorter than announced
    except (urllib3.exceptions.HTTPError, requests.RequestException, ConnectionError):
        cut = True
    if cut:
        budget.check()                                  # a read cut short by the deadline
    return have, cut


def _verify(c: Download, part: Path, meta: Path) -> tuple[str, int]:
    size = part.stat().st_size
    h = hashlib.sha256()
    with open(part, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    digest = h.hexdigest()
    total = json.loads(meta.read_text()).get("total") if meta.exists() else None
    problem = None
    if c.source.sha256 and digest != c.source.sha256:
        problem = (f"checksum mismatch: got sha256 {digest[:16]}… where the catalog has "
                   f"{c.source.sha256[:16]}…")
    elif c.expected_bytes is not None and size != c.expected_bytes:
        problem = f"size mismatch: got {size:,} bytes where the catalog has {c.expected_bytes:,}"
    elif total is not None and size != total:
        problem = f"size mismatch: got {size:,} bytes where the server announced {total:,}"
    if problem:
        _discard(part)
        raise FetchError(problem + "; the download was deleted")
    meta.unlink(missing_ok=True)
    return digest, size


def _resumable(part: Path, meta: Path, url: str) -> tuple[int, str | None]:
    """Bytes already in a kept part fetched from `url` (0 if none), and its validator."""
    if not part.exists():
        meta.unlink(missing_ok=True)
        return 0, None
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError):
        return 0, None
    if info.get("url") != url or not info.get("resumable", True):
        return 0, None                 # another source's part: replaced once this one answers
    return part.stat().st_size, info.get("validator")


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total) of a Content-Range header (`bytes 100-199/1000`, `bytes */1000`)."""
    m = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not m:
        return None, None
    return (int(m.group(1)) if m.group(1) else None,
            int(m.group(2)) if m.group(2) != "*" else None)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
