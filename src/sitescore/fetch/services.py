"""Services: ArcGIS REST layers paged through `/query` into one GeoJSON FeatureCollection
(checked against the service's own count) and Census Data API answers written as CSV."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import requests
import urllib3
from tqdm import tqdm

from ..catalog import Dataset
from .download import _part_paths
from .http import CHUNK, _Budget, _Ctx, _open, _reason, _TooSlow
from .plan import Download
from .report import FetchError

ARCGIS_DEFAULT_PAGE = 1000              # ArcGIS's own default maxRecordCount
ARCGIS_EMPTY_PAGES = 3                  # empty pages still flagged exceededTransferLimit


def _answer(ctx: _Ctx, ds: Dataset, budget: _Budget, url: str,
            params: dict | None = None) -> tuple[requests.Response, bytes]:
    """A service's whole answer, read within the download's deadline and minimum rate (a
    trickling service ends like a trickling file)."""
    try:
        resp = _open(ctx.session, ds, url, params=params, stream=True, timeout=ctx.timeout,
                     budget=budget)
        with resp:
            body = bytearray()
            while chunk := resp.raw.read1(CHUNK, decode_content=True):
                body += chunk
                budget.add(len(chunk))
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        budget.check()
        raise FetchError(_reason(exc)) from None
    return resp, bytes(body)


def _first_line(body: bytes) -> str:
    lines = body.decode("utf-8", "replace").strip().splitlines()[:1]
    return f": {lines[0][:160]}" if lines else ""


def _get_json(ctx: _Ctx, c: Download, budget: _Budget, url: str, params: dict) -> Any:
    resp, body = _answer(ctx, c.dataset, budget, url, params)
    if resp.status_code in (404, 410):
        raise FetchError(f"{resp.status_code} {resp.reason or 'Not Found'}", not_found=True)
    if resp.status_code >= 400:
        raise FetchError(f"HTTP {resp.status_code} {resp.reason or ''}".rstrip() + _first_line(body))
    try:
        doc = json.loads(body)
    except ValueError:
        raise FetchError("the answer is not JSON") from None
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        err = doc["error"]
        raise FetchError(f"service error {err.get('code', '')}: {err.get('message', '')}".strip(),
                         not_found=err.get("code") == 404)
    return doc


def _fetch_arcgis(ctx: _Ctx, c: Download, dest: Path) -> int:
    """Page through an ArcGIS REST layer's /query into one GeoJSON FeatureCollection."""
    layer = c.url.rstrip("/")
    layer = layer.removesuffix("/query")
    budget = ctx.budget()
    info = _get_json(ctx, c, budget, layer, {"f": "json"})
    if not isinstance(info, dict):
        raise FetchError("the layer's description (f=json) is not a JSON object")
    page = int(info.get("maxRecordCount") or ARCGIS_DEFAULT_PAGE)
    oid = info.get("objectIdField") or next(
        (f.get("name") for f in info.get("fields") or [] if f.get("type") == "esriFieldTypeOID"), None)
    base = {"where": "1=1", "outFields": "*", "returnGeometry": "true", "outSR": "4326",
            **(c.query or {})}
    expected = _count(ctx, c, budget, layer, base)
    if oid:
        base["orderByFields"] = oid         # stable pages
    part, _ = _part_paths(dest)
    n, offset, empty = 0, 0, 0
    try:
        with open(part, "w", encoding="utf-8") as fh, tqdm(
                total=expected, unit=" features", desc=c.target.as_posix(),
                disable=not ctx.progress, leave=False) as bar:
            fh.write('{"type": "FeatureCollection", "features": [\n')
            while True:
                doc = _get_json(ctx, c, budget, layer + "/query", {**base, "f": "geojson",
                                                         "resultOffset": offset,
                                                         "resultRecordCount": page})
                if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
                    raise FetchError("the service did not answer f=geojson with a FeatureCollection")
                feats = doc.get("features") or []
                for f in feats:
                    fh.write((",\n" if n else "") + json.dumps(f, separators=(",", ":")))
                    n += 1
                bar.update(len(feats))
                exceeded = bool(doc.get("exceededTransferLimit")
                                or (doc.get("properties") or {}).get("exceededTransferLimit"))
                if not exceeded:
                    break
                if feats:
                    offset, empty = offset + len(feats), 0
                else:                       # documented ArcGIS quirk: an empty page, more to come
                    empty += 1
                    if empty >= ARCGIS_EMPTY_PAGES:
                        break
                    offset += page
            fh.write("\n]}\n")
        if expected is not None and n != expected:
            raise FetchError(f"incomplete: the service counts {expected:,} features, "
                             f"its pages gave {n:,}")
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return n


def _count(ctx: _Ctx, c: Download, budget: _Budget, layer: str, base: dict) -> int | None:
    """How many features the layer itself counts for the query; None if it gives no count (the
    pages' exceededTransferLimit is then relied on alone). A passed deadline still ends it."""
    try:
        answer = _get_json(ctx, c, budget, layer + "/query",
                           {**base, "returnCountOnly": "true", "f": "json"})
        return int(answer["count"])
    except _TooSlow:
        raise
    except (FetchError, KeyError, TypeError, ValueError):
        return None


def _fetch_census(ctx: _Ctx, c: Download, dest: Path) -> int:
    """A Census Data API answer (a JSON array of rows, the first one the header) as CSV."""
    resp, body = _answer(ctx, c.dataset, ctx.budget(), c.url)
    if resp.status_code in (404, 410):
        raise FetchError(f"{resp.status_code} {resp.reason or 'Not Found'}", not_found=True)
    if resp.status_code == 204:
        raise FetchError("the API has no rows for this query (204 No Content)")
    if resp.status_code >= 400:
        raise FetchError(f"HTTP {resp.status_code}" + _first_line(body))
    try:
        rows = json.loads(body)
    except ValueError:
        raise FetchError("the answer is not JSON (a Census API URL?)") from None
    if not (isinstance(rows, list) and rows and all(isinstance(r, list) for r in rows)):
        raise FetchError("the answer is not a Census API table (a JSON array of rows)")
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise FetchError("the answer's rows are not all as wide as its header")
    part, _ = _part_paths(dest)
    try:
        with open(part, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(["" if v is None else v for v in r] for r in rows)
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return len(rows) - 1
