"""`sitescore fetch`: download the catalog's official public files into data/raw/<dataset>/.

Planning (`plan_fetch`) picks, per dataset, the smallest official source that covers the study
area: per-state extracts for --states, a feature service queried by state or box envelope, the
1 x 1 degree tiles under the area for tiled products (3DEP), else the national file. Mirrors and
archives stand behind every planned file and are tried in order when the primary fails.

Transfer (`run_fetch`) uses `requests` with a urllib3 `Retry` (exponential back-off on connect
errors, 429 and 5xx, Retry-After honoured) and a timeout on every request. A file is streamed into
`<target>.part` (its URL and validator beside it in `<target>.part.json`); when the connection is
cut the part is kept and the transfer resumes with `Range: bytes=N-` (and `If-Range`), appending
if the server answers 206 and starting over cleanly if it answers 200, both within the run and on
the next fetch. Only a verified file (sha256 from the catalog, else its published size, else at
least the Content-Length) is renamed into place; a file failing verification is deleted. Redirects
are followed one at a time and only to the same host or a host the dataset's catalog entry names
(its URLs, homepage and `redirect_hosts`), never from https down to http. Each download has a
wall-clock deadline and, after a grace period, a minimum average rate (DEFAULT_DEADLINE,
DEFAULT_MIN_RATE; SITESCORE_FETCH_DEADLINE and SITESCORE_FETCH_MIN_RATE set them): a server
trickling bytes ends in a clear error and the part is kept for the next fetch to resume. Archives
marked `unzip` are checked member by member before anything is extracted (no absolute paths, no
`..`, no links, no member over a size limit, at most MAX_MEMBERS members, no member nor archive
unpacking more than MAX_RATIO times its packed size past RATIO_FLOOR_BYTES, room on the disk),
extracted into a hidden folder counting the bytes really written, and renamed into place; the
manifest records the main extracted item (a .gdb, a .shp, ...) with the archive's sha256.
ArcGIS REST layers are paged through `/query` (f=geojson, resultOffset/resultRecordCount up to the
layer's maxRecordCount) into one GeoJSON FeatureCollection, checked against the service's own
count; Census API answers (a JSON array of rows) are written as CSV in the API's layout.

Every file kept gets a manifest entry (datastore.record); a file already in the manifest whose
checksum still matches is not downloaded again.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import requote_uri
from tqdm import tqdm
from urllib3.util.retry import Retry

from . import __version__
from .catalog import Catalog, Dataset, Source, file_name_problem
from .datastore import entry_for, read_manifest, record
from .errors import ConfigError
from .outputs import file_digest

# Lon/lat bounding boxes (west, south, east, north) of the states, DC and the territories in
# schema.STATE_FIPS. Computed from the U.S. Census Bureau 2017 cartographic boundary file of
# states (cb_2017_us_state_5m, as republished in the npm package us-atlas@3.0.1, layer `states`),
# rounded outward to 0.01 degree after a 0.01 degree margin for the generalised outline. Alaska
# crosses the antimeridian: its west edge (172.44, the Near Islands) is east of its east edge.
STATE_BBOX: dict[str, tuple[float, float, float, float]] = {
    "AK": (172.44, 51.21, -129.97, 71.37), "AL": (-88.49, 30.21, -84.88, 35.02),
    "AR": (-94.63, 32.99, -89.63, 36.51), "AS": (-170.86, -14.39, -169.41, -14.14),
    "AZ": (-114.83, 31.32, -109.03, 37.02), "CA": (-124.43, 32.52, -114.12, 42.02),
    "CO": (-109.07, 36.98, -102.03, 41.02), "CT": (-73.74, 40.97, -71.77, 42.07),
    "DC": (-77.13, 38.78, -76.89, 39.01), "DE": (-75.81, 38.44, -75.04, 39.85),
    "FL": (-87.65, 24.50, -80.02, 31.02), "GA": (-85.62, 30.34, -80.83, 35.02),
    "GU": (144.61, 13.23, 144.97, 13.67), "HI": (-160.26, 18.90, -154.79, 22.25),
    "IA": (-96.65, 40.36, -90.13, 43.52), "ID": (-117.26, 41.97, -111.03, 49.02),
    "IL": (-91.53, 36.96, -87.48, 42.52), "IN": (-88.11, 37.76, -84.78, 41.78),
    "KS": (-102.07, 36.98, -94.59, 40.02), "KY": (-89.59, 36.48, -81.95, 39.16),
    "LA": (-94.06, 28.91, -88.80, 33.03), "MA": (-73.52, 41.22, -69.91, 42.90),
    "MD": (-79.50, 37.90, -75.04, 39.74), "ME": (-71.10, 43.04, -66.97, 47.47),
    "MI": (-90.43, 41.68, -82.40, 48.21), "MN": (-97.25, 43.48, -89.48, 49.40),
    "MO": (-95.78, 35.98, -89.08, 40.63), "MP": (145.11, 14.10, 146.10, 18.83),
    "MS": (-91.66, 30.17, -88.08, 35.01), "MT": (-116.07, 44.34, -104.03, 49.02),
    "NC": (-84.34, 33.84, -75.44, 36.60), "ND": (-104.06, 45.92, -96.54, 49.02),
    "NE": (-104.07, 39.99, -95.29, 43.02), "NH": (-72.57, 42.68, -70.69, 45.32),
    "NJ": (-75.58, 38.91, -73.88, 41.37), "NM": (-109.06, 31.32, -102.99, 37.02),
    "NV": (-120.02, 34.99, -114.03, 42.02), "NY": (-79.78, 40.49, -71.84, 45.03),
    "OH": (-84.84, 38.39, -80.50, 41.99), "OK": (-103.02, 33.60, -94.42, 37.02),
    "OR": (-124.57, 41.98, -116.45, 46.28), "PA": (-80.54, 39.71, -74.68, 42.28),
    "PR": (-67.96, 17.90, -65.21, 18.53), "RI": (-71.87, 41.14, -71.11, 42.03),
    "SC": (-83.37, 32.02, -78.52, 35.23), "SD": (-104.07, 42.47, -96.42, 45.96),
    "TN": (-90.32, 34.97, -81.63, 36.69), "TX": (-106.66, 25.83, -93.50, 36.52),
    "UT": (-114.07, 36.98, -109.03, 42.02), "VA": (-83.69, 36.53, -75.23, 39.48),
    "VI": (-65.10, 17.66, -64.56, 18.40), "VT": (-73.45, 42.71, -71.48, 45.03),
    "WA": (-124.75, 45.53, -116.90, 49.02), "WI": (-92.90, 42.48, -86.81, 47.09),
    "WV": (-82.65, 37.19, -77.71, 40.65), "WY": (-111.07, 40.98, -104.04, 45.02),
}
TERRITORIES = frozenset({"AS", "GU", "MP", "PR", "VI"})
# "every state": the 50 states and DC (a per-state-only dataset fetched without --states)
ALL_STATES = tuple(sorted(set(STATE_BBOX) - TERRITORIES))

RETRY_STATUS = (429, 500, 502, 503, 504)
DEFAULT_TIMEOUT = (15.0, 60.0)          # seconds: connect, and between two reads
CHUNK = 1 << 20
MAX_MEMBER_BYTES = 64 << 30             # one archive member (a PAD-US .gdbtable is a few GB)
MAX_ARCHIVE_BYTES = 256 << 30           # all members together
MAX_MEMBERS = 10_000                    # members of one archive (a geodatabase: a few per table)
# Zip bombs: a member, or the whole archive, may unpack to at most MAX_RATIO times its packed
# size once it is over RATIO_FLOOR_BYTES (small, very compressible files such as a geodatabase's
# .gdbtablx, ~125:1, pass). Real archives stay far below: PAD-US state GDBs 1.3-1.5:1 overall,
# Natural Earth shapefiles 7.6:1 (45:1 for the .dbf).
MAX_RATIO = 200
RATIO_FLOOR_BYTES = 16 << 20
FREE_SPACE_RESERVE_BYTES = 256 << 20    # left free on the disk after an archive is extracted
MAX_REDIRECTS = 10
# An overall wall-clock deadline for one download (all its reconnects and resumes in one fetch)
# and a minimum average rate once MIN_RATE_GRACE seconds have passed, so a server trickling a
# byte a minute ends in a clear error; the part is kept for the next fetch to resume. Both can
# be set in the environment (0 turns a limit off).
DEFAULT_DEADLINE = 6 * 3600.0           # seconds
DEFAULT_MIN_RATE = 10_000.0             # bytes a second, averaged over the download
MIN_RATE_GRACE = 60.0                   # seconds before the rate is judged
DEADLINE_ENV = "SITESCORE_FETCH_DEADLINE"
MIN_RATE_ENV = "SITESCORE_FETCH_MIN_RATE"
ARCGIS_DEFAULT_PAGE = 1000              # ArcGIS's own default maxRecordCount
ARCGIS_EMPTY_PAGES = 3                  # empty pages still flagged exceededTransferLimit
USER_AGENT = f"sitescore/{__version__} (+https://github.com/sitescore) python-requests/{requests.__version__}"


# --------------------------------------------------------------------------------------- plan

@dataclass(frozen=True)
class Download:
    """One planned file: where it comes from and where it goes (relative to the data root)."""

    dataset: Dataset
    source: Source
    target: Path
    kind: str
    query: dict | None = None
    expected_bytes: int | None = None
    alternates: tuple[Download, ...] = ()   # mirrors/archives, tried in order if this one fails
    label: str = "national"                 # national, a state code, a tile name, a bbox

    @property
    def url(self) -> str:
        return self.source.url

    @property
    def source_id(self) -> str:
        """The URL with the area query: what the manifest records as the file's source."""
        return f"{self.url}?{urlencode(self.query)}" if self.query else self.url


class Plan(list):
    """The planned downloads (a list of Download) and the datasets left out, with why."""

    def __init__(self, items: Iterable[Download] = (), skipped: Iterable[tuple[str, str]] = ()):
        super().__init__(items)
        self.skipped: list[tuple[str, str]] = list(skipped)


class _Skip(Exception):
    pass


def plan_fetch(catalog: Catalog, *, only: list[str] | None = None, states: list[str] | None = None,
               bbox: tuple | list | None = None) -> Plan:
    """The files to download for the datasets in `only` (default: all) covering `states` or
    `bbox` (west, south, east, north in degrees; default: the whole country)."""
    ids = _dataset_ids(catalog, only)
    states = _check_states(states)
    box = _check_bbox(bbox)
    plan = Plan()
    seen: set[Path] = set()
    for ds_id in ids:
        ds = catalog.get(ds_id)
        try:
            downloads = _plan_dataset(ds, states, box)
        except _Skip as why:
            if only:
                raise ConfigError(f"{ds.id}: {why}", key="--only") from None
            plan.skipped.append((ds.id, str(why)))
            continue
        for d in _dedupe_targets(downloads):
            if d.target not in seen:
                seen.add(d.target)
                plan.append(d)
    return plan


def _dataset_ids(catalog: Catalog, only: list[str] | None) -> list[str]:
    if not only:
        return list(catalog.datasets)
    ids = [part.strip() for item in only for part in str(item).split(",") if part.strip()]
    for ds_id in ids:
        catalog.get(ds_id, key="--only")
    return list(dict.fromkeys(ids))


def _check_states(states: list[str] | None) -> list[str] | None:
    if not states:
        return None
    out = [part.strip().upper() for item in states for part in str(item).split(",") if part.strip()]
    for st in out:
        if st not in STATE_BBOX:
            raise ConfigError(f"unknown state '{st}'; use two-letter postal codes such as AZ NV",
                              key="--states")
    return list(dict.fromkeys(out))


def _check_bbox(bbox) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ConfigError("a box is four numbers: west south east north (degrees)",
                          key="--bbox") from None
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south < north <= 90) or west == east:
        raise ConfigError(f"{west} {south} {east} {north} is not a lon/lat box "
                          "(west south east north; south < north)", key="--bbox")
    if west > east and not west > 0 > east:
        raise ConfigError(f"west {west} is east of east {east}; only a box across the 180th "
                          "meridian (west > 0 > east) may wrap", key="--bbox")
    return west, south, east, north


def _plan_dataset(ds: Dataset, states: list[str] | None,
                  box: tuple[float, float, float, float] | None) -> list[Download]:
    tiles, per_state = ds.sources_for("tile"), ds.sources_for("state")
    services, national = ds.sources_for("service"), ds.sources_for("national")
    if states or box:
        area_states = states or states_touching(box)
        if tiles:
            names = sorted(set(tiles_covering(box)) if box else
                           {t for s in area_states for t in tiles_covering(STATE_BBOX[s], 0.02)})
            if not names:
                raise _Skip("no 1 x 1 degree tile of this product covers the area")
            return [_tile_download(ds, src, north, west) for src in tiles for north, west in names]
        if box and services:
            return [_area_download(ds, src, box, "bbox " + ",".join(_num(v) for v in box))
                    for src in services]
        if (per_state or services) and not area_states:
            raise _Skip("no state meets the box")
        if per_state:
            return [_state_download(ds, src, st) for st in area_states for src in per_state]
        if services:
            return [_area_download(ds, src, STATE_BBOX[st], st) for st in area_states
                    for src in services]
    elif tiles and not (national or services):
        raise _Skip("published as 1 x 1 degree tiles: give --states or --bbox")
    if national:
        return [_whole_download(ds, src, national) for src in national]
    if services and not (states or box):
        return [_whole_download(ds, src, services) for src in services]
    if per_state and not (states or box):
        return [_state_download(ds, src, st) for st in ALL_STATES for src in per_state]
    fallbacks = [s for s in _fallbacks(ds) if not _templated(s)]
    if fallbacks:
        return [_whole_download(ds, fallbacks[0], fallbacks[:1])]
    raise _Skip("no source in the catalog covers this area")


def _dedupe_targets(downloads: list[Download]) -> list[Download]:
    """Several areas saving under one name (a state source whose file name has no {state}):
    each gets its area in the name."""
    counts: dict[Path, int] = {}
    for d in downloads:
        counts[d.target] = counts.get(d.target, 0) + 1
    out = []
    for d in downloads:
        if counts[d.target] > 1 and d.label != "national":
            shared = d.target
            d = _with_alternates(_relabel(d, shared), [_relabel(a, shared) if a.target == shared
                                                       else a for a in d.alternates])
        out.append(d)
    return out


def _relabel(d: Download, shared: Path) -> Download:
    suffix = "_" + re.sub(r"[^A-Za-z0-9.-]+", "_", d.label)
    name = shared.name
    stem, dot, ext = name.partition(".")
    target = shared.with_name(f"{stem}{suffix}{dot}{ext}")
    return Download(d.dataset, d.source, target, d.kind, d.query, d.expected_bytes,
                    d.alternates, d.label)


def _templated(src: Source) -> bool:
    return src.per_state or src.per_tile


def _fallbacks(ds: Dataset) -> list[Source]:
    return [s for s in ds.sources if s.role in ("mirror", "archive")]


def _whole_download(ds: Dataset, src: Source, siblings: list[Source]) -> Download:
    """The whole dataset from one national file or service; plain mirrors stand behind it (all
    of them if it is the only such file, else those saving under the same name)."""
    d = _make(ds, src, None, "national", None)
    alts = []
    for m in _fallbacks(ds):
        if _templated(m):
            continue
        alt = _plain(ds, m, d)
        if len(siblings) == 1 or alt.target == d.target:
            alts.append(alt)
    return _with_alternates(d, alts)


def _plain(ds: Dataset, m: Source, primary: Download) -> Download:
    """A mirror of a whole-dataset download (possibly another kind: a file behind a service)."""
    same = m.kind == primary.kind and (m.filename is None or m.filename == primary.target.name)
    return _make(ds, _inherit(m, primary.source, same), None, "national",
                 primary.target.name if same else None)


def _state_download(ds: Dataset, src: Source, st: str) -> Download:
    d = _make(ds, src.for_state(st), None, st, None)
    alts = [_make(ds, _inherit(m.for_state(st), d.source, m.kind == d.kind), None, st,
                  d.target.name if m.kind == d.kind and not m.filename else None)
            for m in _fallbacks(ds) if m.per_state]
    return _with_alternates(d, alts)


def _tile_download(ds: Dataset, src: Source, north: int, west: int) -> Download:
    d = _make(ds, src.for_tile(north, west), None, f"n{north:02d}w{west:03d}", None)
    alts = [_make(ds, m.for_tile(north, west), None, d.label, None if m.filename else d.target.name)
            for m in _fallbacks(ds) if m.per_tile]
    return _with_alternates(d, alts)


def _area_download(ds: Dataset, src: Source, box: tuple[float, float, float, float],
                   label: str) -> Download:
    """A service queried by a box (or a state's box): one GeoJSON per area."""
    d = _make(ds, src, envelope_query(box), label, None)
    alts = [_make(ds, m, d.query, label, d.target.name)
            for m in _fallbacks(ds) if m.kind == d.kind and not _templated(m)]
    return _with_alternates(d, alts)


def _inherit(m: Source, primary: Source, same_file: bool) -> Source:
    """A mirror of the same file is checked against the primary's sha256 and size."""
    if not same_file:
        return m
    return m.model_copy(update={"sha256": m.sha256 or primary.sha256,
                                "size_bytes": m.size_bytes or primary.size_bytes})


def _with_alternates(d: Download, alts: list[Download]) -> Download:
    alts = [a for a in alts if a.source_id != d.source_id]
    return Download(d.dataset, d.source, d.target, d.kind, d.query, d.expected_bytes,
                    tuple(alts), d.label)


def _make(ds: Dataset, src: Source, query: dict | None, label: str, name: str | None) -> Download:
    name = name or _target_name(ds, src, label, query is not None)
    size = src.size_bytes if src.kind == "file" else None
    return Download(ds, src, Path(ds.id) / name, src.kind, query, size, (), label)


def _target_name(ds: Dataset, src: Source, label: str, area_query: bool) -> str:
    suffix = "" if label == "national" else "_" + re.sub(r"[^A-Za-z0-9.-]+", "_", label.replace("bbox ", "bbox_"))
    if src.filename:
        name = src.filename
        if area_query and suffix:           # the same service queried for several areas
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}{suffix}.{ext}" if dot else name + suffix
        return _safe_name(name, ds)
    if src.kind == "arcgis":
        return f"{ds.id}{suffix}.geojson"
    if src.kind == "census_api":
        return f"{ds.id}{suffix}.csv"
    base = unquote(PurePosixPath(urlsplit(src.url).path).name)
    return _safe_name(base or ds.id + suffix, ds)


def _safe_name(name: str, ds: Dataset) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    problem = file_name_problem(name)
    if problem:
        raise ConfigError(f"source file name '{name}' {problem}", key=f"datasets.{ds.id}.sources")
    return name


def states_touching(box: tuple[float, float, float, float] | None) -> list[str]:
    """The states, DC and territories whose bounding box meets `box`."""
    if box is None:
        return []
    return [st for st, b in sorted(STATE_BBOX.items()) if _boxes_meet(b, box)]


def _lon_spans(west: float, east: float) -> list[tuple[float, float]]:
    return [(west, east)] if west < east else [(west, 180.0), (-180.0, east)]


def _boxes_meet(a, b) -> bool:
    if a[1] > b[3] or b[1] > a[3]:
        return False
    return any(w1 < e2 and w2 < e1 for w1, e1 in _lon_spans(a[0], a[2])
               for w2, e2 in _lon_spans(b[0], b[2]))


def tiles_covering(box: tuple[float, float, float, float], tolerance: float = 0.0) -> list[tuple[int, int]]:
    """(north, west) names of the 1 x 1 degree tiles meeting `box`, as USGS 3DEP names them
    (n37w107 = 36-37 N, 107-106 W). Only north-western-hemisphere tiles have such names.
    `tolerance` (degrees) keeps a box edge just over a whole degree from pulling in another row
    or column of tiles: a state box's margin over a border on a parallel (AZ/UT at 37 N)."""
    west, south, east, north = box
    out = []
    for w, e in _lon_spans(west, east):
        for x in range(math.floor(w + tolerance), math.ceil(e - tolerance)):
            for y in range(math.floor(south + tolerance), math.ceil(north - tolerance)):
                if x < 0 and y >= 0:
                    out.append((y + 1, -x))
    return sorted(set(out))


def envelope_query(box: tuple[float, float, float, float]) -> dict[str, str]:
    """ArcGIS /query parameters selecting features that meet a lon/lat box; a box across the
    antimeridian (west > east, Alaska) is sent as a two-ring polygon."""
    west, south, east, north = box
    if west < east:
        return {"geometry": ",".join(_num(v) for v in box),
                "geometryType": "esriGeometryEnvelope", "inSR": "4326",
                "spatialRel": "esriSpatialRelIntersects"}
    rings = [[[west, south], [west, north], [180, north], [180, south], [west, south]],
             [[-180, south], [-180, north], [east, north], [east, south], [-180, south]]]
    geometry = json.dumps({"rings": rings, "spatialReference": {"wkid": 4326}}, separators=(",", ":"))
    return {"geometry": geometry, "geometryType": "esriGeometryPolygon", "inSR": "4326",
            "spatialRel": "esriSpatialRelIntersects"}


def _num(v: float) -> str:
    return format(float(v), ".6f").rstrip("0").rstrip(".")


def probe_sizes(plan: list[Download], session: requests.Session | None = None,
                timeout: float = 5.0) -> Plan:
    """The plan with sizes the servers state (HEAD, Content-Length) where the catalog has none;
    unreachable servers simply leave the size unknown. ArcGIS and Census API answers have no size
    until they are made."""
    session = session or requests.Session()
    session.headers.setdefault("User-Agent", USER_AGENT)
    probed = []
    for d in plan:
        length = None
        if d.expected_bytes is None and d.kind == "file":
            try:
                with _open(session, d.dataset, d.url, method="HEAD", timeout=timeout) as r:
                    length = int(r.headers.get("Content-Length", "")) if r.ok else None
            except (requests.RequestException, FetchError, ValueError):
                length = None
        probed.append(replace(d, expected_bytes=length) if length else d)
    return Plan(probed, getattr(plan, "skipped", ()))


def describe_plan(plan: list[Download]) -> str:
    """What --dry-run prints: one line per file (dataset, source, target, size), the mirrors
    behind it, the datasets left out, and the total."""
    if not plan:
        lines = ["nothing to fetch"]
    else:
        w_ds = max(len(d.dataset.id) for d in plan)
        w_tg = max(len(d.target.as_posix()) for d in plan)
        lines = []
        for d in plan:
            size = _human(d.expected_bytes) if d.expected_bytes is not None else "unknown"
            if d.expected_bytes is None and d.label == "national" and d.dataset.expected_size:
                size += f" ({d.dataset.expected_size})"
            lines.append(f"{d.dataset.id:<{w_ds}}  {d.target.as_posix():<{w_tg}}  {size:>10}  "
                         f"{_describe_source(d)}")
            for a in d.alternates:
                lines.append(f"{'':<{w_ds}}  {'':<{w_tg}}  {'':>10}  or {a.source.role}: "
                             f"{_describe_source(a)}")
    plan_skipped = getattr(plan, "skipped", [])
    for ds_id, why in plan_skipped:
        lines.append(f"{ds_id}: left out: {why}")
    known = sum(d.expected_bytes or 0 for d in plan)
    unknown = sum(1 for d in plan if d.expected_bytes is None)
    total = f"total: {len(plan)} file{'s' if len(plan) != 1 else ''}, {_human(known)}"
    if unknown:
        total += f" + {unknown} of unknown size"
    lines.append(total)
    return "\n".join(lines)


def _describe_source(d: Download) -> str:
    if d.kind == "arcgis":
        what = "whole layer" if not d.query else (
            f"envelope {d.query['geometry']}" if d.query.get("geometryType") == "esriGeometryEnvelope"
            else "polygon across the antimeridian")
        return f"{d.url} (ArcGIS feature service, {what})"
    if d.kind == "census_api":
        return f"{d.url} (Census API)"
    return d.url + (" (unzipped)" if d.source.unzip else "")


def _human(n: int | None) -> str:
    if n is None:
        return "unknown"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


# ------------------------------------------------------------------------------------- report

@dataclass
class FetchResult:
    dataset: str
    status: str          # downloaded, present, failed, absent (tile not published), planned
    target: str          # the file recorded (or planned), relative to the data root
    url: str             # the source used, or the first one tried
    bytes: int | None = None
    reason: str = ""     # for failed / absent: one line


@dataclass
class FetchReport:
    results: list[FetchResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def _with(self, status: str) -> list[FetchResult]:
        return [r for r in self.results if r.status == status]

    @property
    def downloaded(self) -> list[FetchResult]:
        return self._with("downloaded")

    @property
    def present(self) -> list[FetchResult]:
        return self._with("present")

    @property
    def failed(self) -> list[FetchResult]:
        return self._with("failed")

    @property
    def planned(self) -> list[FetchResult]:
        return self._with("planned")

    @property
    def ok(self) -> bool:
        return not self.failed

    def by_dataset(self) -> dict[str, list[FetchResult]]:
        out: dict[str, list[FetchResult]] = {}
        for r in self.results:
            out.setdefault(r.dataset, []).append(r)
        return out

    def lines(self) -> list[str]:
        """One line per dataset: what was downloaded, already present, not published, and the
        first failure (source URL, reason, and the `data import` way round it)."""
        out = []
        words = {"downloaded": "downloaded", "present": "already present", "planned": "to download",
                 "absent": "not published"}
        for ds_id, rs in self.by_dataset().items():
            parts = []
            for status, word in words.items():
                n = [r for r in rs if r.status == status]
                if n:
                    size = sum(r.bytes or 0 for r in n)
                    parts.append(f"{word} {len(n)} file{'s' if len(n) != 1 else ''}"
                                 + (f" ({_human(size)})" if size else ""))
            failed = [r for r in rs if r.status == "failed"]
            if failed:
                more = f" (and {len(failed) - 1} more file{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else ""
                parts.append(f"FAILED {failed[0].reason}{more}; download it by hand and run "
                             f"`sitescore data import {ds_id} <file>`")
            out.append(f"{ds_id}: " + "; ".join(parts))
        for ds_id, why in self.skipped:
            out.append(f"{ds_id}: left out: {why}")
        return out

    def summary(self) -> str:
        return "\n".join(self.lines())


# ------------------------------------------------------------------------------------ running

class FetchError(Exception):
    """One source could not give a verified file (one line, no URL: the caller adds it)."""

    def __init__(self, message: str, *, not_found: bool = False):
        super().__init__(message)
        self.not_found = not_found


class _Retry(Retry):
    """urllib3's Retry, with a server's Retry-After capped so a fetch never sleeps for hours."""

    def get_retry_after(self, response):
        after = super().get_retry_after(response)
        return None if after is None else min(after, 120.0)


def make_session(retries: int = 4, backoff: float = 1.0) -> requests.Session:
    """A requests session retrying connect errors, 429 and 5xx with exponential back-off."""
    retry = _Retry(total=retries, connect=retries, read=retries, status=retries, other=0,
                  backoff_factor=backoff, backoff_max=60, status_forcelist=RETRY_STATUS,
                  allowed_methods=frozenset({"GET", "HEAD"}), respect_retry_after_header=True,
                  raise_on_status=False)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def redirect_problem(ds: Dataset, from_url: str, to_url: str) -> str | None:
    """Why a redirect from `from_url` to `to_url` is not followed (None if it is): only http(s),
    never from https down to http, and only to the same host or one the dataset's catalog entry
    names (its URLs, its homepage, its redirect_hosts)."""
    src, dst = urlsplit(from_url), urlsplit(to_url)
    host = (dst.hostname or "").lower()
    if dst.scheme not in ("http", "https") or not host:
        return f"redirected to '{to_url[:120]}', not an http(s) URL with a host; not followed"
    if src.scheme == "https" and dst.scheme == "http":
        return f"redirected from https down to plain http (host '{host}'); not followed"
    if host == (src.hostname or "").lower() or ds.allows_host(host):
        return None
    return (f"redirected to host '{host}', which the catalog entry of '{ds.id}' does not name; "
            "not followed (add it to the dataset's redirect_hosts if it is the provider's)")


def _open(session: requests.Session, ds: Dataset, url: str, *, method: str = "GET",
          budget: _Budget | None = None, **kw: Any) -> requests.Response:
    """A request whose redirects are followed one by one, each checked by redirect_problem."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if budget is not None:
            budget.check()
            kw["timeout"] = budget.timeout(kw.get("timeout", DEFAULT_TIMEOUT))
        resp = session.request(method, current, allow_redirects=False, **kw)
        if not resp.is_redirect:
            return resp
        target = requote_uri(urljoin(resp.url, resp.headers["Location"]))
        resp.close()
        problem = redirect_problem(ds, current, target)
        if problem:
            raise FetchError(problem)
        current = target
        kw.pop("params", None)                     # the new URL carries its own query
    raise FetchError(f"more than {MAX_REDIRECTS} redirects; not followed")


class _TooSlow(FetchError):
    pass


class _Budget:
    """The wall-clock deadline and minimum average rate of one download."""

    def __init__(self, deadline: float, min_rate: float) -> None:
        self.deadline, self.min_rate = deadline, min_rate
        self.start = time.monotonic()
        self.got = 0

    def add(self, n: int) -> None:
        self.got += n
        self.check()

    def check(self) -> None:
        elapsed = time.monotonic() - self.start
        if self.deadline and elapsed > self.deadline:
            raise _TooSlow(f"not finished within the {self.deadline:g} s deadline "
                           f"({self.got:,} bytes in {elapsed:.0f} s; {DEADLINE_ENV} sets it)")
        if self.min_rate and elapsed >= MIN_RATE_GRACE and self.got < self.min_rate * elapsed:
            raise _TooSlow(f"too slow: {self.got:,} bytes in {elapsed:.0f} s, under the minimum "
                           f"average of {self.min_rate:,.0f} bytes/s ({MIN_RATE_ENV} sets it)")

    def timeout(self, timeout: Any) -> Any:
        """The request timeout, cut to what is left before the deadline."""
        if not self.deadline:
            return timeout
        left = max(self.deadline - (time.monotonic() - self.start), 0.05)
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        return (min(connect, left), min(read, left))


def _limit(value: float | None, env: str, default: float, unit: str) -> float:
    """A limit given in code, else in the environment variable `env`, else the default."""
    if value is not None:
        return float(value)
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not (0 <= number < math.inf):
        raise ConfigError(f"environment variable {env}: '{text[:40]}' is not a number of {unit} "
                          "(0 turns the limit off)")
    return number


@dataclass
class _Ctx:
    root: Path
    session: requests.Session
    timeout: Any
    retries: int
    backoff: float
    progress: bool
    max_member_bytes: int
    deadline: float = DEFAULT_DEADLINE
    min_rate: float = DEFAULT_MIN_RATE

    def budget(self) -> _Budget:
        return _Budget(self.deadline, self.min_rate)


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
        c = candidates.get(e.get("source"))
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
    try:
        folder.rmdir()
    except OSError:
        pass


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


# --------------------------------------------------------------------------------- file kind

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
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
            if validator:
                headers["If-Range"] = validator
        try:
            resp = _open(ctx.session, c.dataset, c.url, headers=headers, stream=True,
                         timeout=ctx.timeout, budget=budget)
        except requests.RequestException as exc:
            if budget.deadline and time.monotonic() - budget.start > budget.deadline:
                budget.check()
            raise FetchError(_reason(exc)) from None
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
                if total is not None and have < total:
                    raise urllib3.exceptions.ProtocolError("body shorter than announced")
            except (urllib3.exceptions.HTTPError, requests.RequestException, ConnectionError):
                budget.check()                         # a read cut short by the deadline
                cuts += 1
                if cuts > ctx.retries:
                    got = f"{have:,} of {total:,} bytes" if total else f"{have:,} bytes"
                    raise FetchError(f"connection cut after {got} (kept {part.name}: fetch "
                                     "again to resume)") from None
                time.sleep(min(ctx.backoff * 2 ** (cuts - 1), 30))
                continue
        break
    return (part, *_verify(c, part, meta))


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


def _reason(exc: BaseException) -> str:
    """A connection failure in a few words."""
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error: " + text.splitlines()[0][:120]
    if any(s in text for s in ("NameResolution", "Name or service not known", "nodename nor servname",
                               "Temporary failure in name resolution", "getaddrinfo failed")):
        return "host not found (offline?)"
    if isinstance(exc, requests.Timeout) or "timed out" in text.lower():
        return "timed out"
    if "Network is unreachable" in text:
        return "network unreachable (offline?)"
    return "cannot connect: " + " ".join(text.split())[:160]


# ------------------------------------------------------------------------------------- archives

class UnsafeArchive(FetchError):
    pass


def check_members(infos: list[zipfile.ZipInfo], max_member_bytes: int = MAX_MEMBER_BYTES,
                  max_total_bytes: int = MAX_ARCHIVE_BYTES, *, archive_bytes: int | None = None,
                  max_members: int = MAX_MEMBERS, max_ratio: float = MAX_RATIO,
                  ratio_floor: int = RATIO_FLOOR_BYTES) -> int:
    """Refuse an archive with too many members, or any member that would land outside the
    folder (absolute path, drive letter, `..`), is a link, is encrypted, repeats a name, is too
    large or unpacks more than `max_ratio` times its packed size (over `ratio_floor` bytes);
    likewise the archive as a whole against `archive_bytes`. Returns the bytes it unpacks to."""
    if len(infos) > max_members:
        raise UnsafeArchive(f"unsafe archive: {len(infos):,} members, over the {max_members:,} "
                            "member limit; nothing was extracted and the download was deleted")
    total = 0
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        parts = [p for p in re.split(r"[\\/]", name) if p not in ("", ".")]
        why = None
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            why = "has an absolute path"
        elif ".." in parts:
            why = "has a '..' component"
        elif not parts:
            why = "has no name"
        elif stat.S_ISLNK(info.external_attr >> 16):
            why = "is a symbolic link"
        elif info.flag_bits & 0x1:
            why = "is encrypted"
        elif info.file_size > max_member_bytes:
            why = f"is {info.file_size:,} bytes, over the {max_member_bytes:,} byte limit"
        elif info.file_size > ratio_floor and info.file_size > max_ratio * max(info.compress_size, 1):
            why = (f"unpacks to {info.file_size:,} bytes from {info.compress_size:,} "
                   f"({info.file_size / max(info.compress_size, 1):,.0f}:1), over the "
                   f"{max_ratio:g}:1 limit for members over {ratio_floor:,} bytes (a zip bomb?)")
        elif "/".join(parts) in seen and not info.is_dir():
            why = "appears twice"
        if why:
            raise UnsafeArchive(f"unsafe archive: member '{name}' {why}; nothing was extracted "
                                "and the download was deleted")
        seen.add("/".join(parts))
        total += info.file_size
    if total > max_total_bytes:
        raise UnsafeArchive(f"unsafe archive: {total:,} bytes unpacked, over the "
                            f"{max_total_bytes:,} byte limit; nothing was extracted")
    if archive_bytes is not None and total > ratio_floor and total > max_ratio * max(archive_bytes, 1):
        raise UnsafeArchive(f"unsafe archive: it unpacks to {total:,} bytes from "
                            f"{archive_bytes:,} ({total / max(archive_bytes, 1):,.0f}:1), over the "
                            f"{max_ratio:g}:1 limit (a zip bomb?); nothing was extracted and the "
                            "download was deleted")
    return total


def _copy_member(src: Any, dst: Any, info: zipfile.ZipInfo) -> int:
    """Copy one member, counting the bytes really written: a member giving more than its header
    declares (headers can lie) stops the extraction."""
    written = 0
    while chunk := src.read(CHUNK):
        written += len(chunk)
        if written > info.file_size:
            raise UnsafeArchive(f"unsafe archive: member '{info.filename}' unpacks to more than "
                                f"the {info.file_size:,} bytes its header declares; extraction "
                                "was stopped, nothing was kept and the download was deleted")
        dst.write(chunk)
    return written


def _extract(archive: Path, dest: Path, max_member_bytes: int) -> Path:
    """Extract a verified archive next to `dest` (named like the archive without .zip) and
    return the main item: the one top-level entry, else a folder named after the archive;
    inside it the single .gdb, .gpkg, .shp, .tif ... if there is one."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise FetchError(f"not a valid zip archive ({exc}); the download was deleted") from None
    stem = dest.name[:-4] if dest.name.lower().endswith(".zip") else dest.name + ".d"
    with zf:
        infos = zf.infolist()
        total = check_members(infos, max_member_bytes, archive_bytes=archive.stat().st_size)
        free = shutil.disk_usage(dest.parent).free
        if free < total + FREE_SPACE_RESERVE_BYTES:
            raise FetchError(f"not enough free space to extract: it unpacks to {total:,} bytes and "
                             f"{FREE_SPACE_RESERVE_BYTES:,} more are kept free, but only "
                             f"{free:,} are free in {dest.parent}; nothing was extracted and the "
                             "download was deleted")
        tmp = Path(tempfile.mkdtemp(prefix=f".{stem}.extracting-", dir=dest.parent))
        try:
            os.chmod(tmp, 0o777 & ~_umask())
            for info in infos:
                parts = [p for p in re.split(r"[\\/]", info.filename) if p not in ("", ".")]
                out = tmp.joinpath(*parts)
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    _copy_member(src, dst, info)
            tops = list(tmp.iterdir())
            if len(tops) == 1:
                item, final = tops[0], dest.parent / tops[0].name
            else:
                item, final = tmp, dest.parent / stem
            _replace(item, final)
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, ValueError) as exc:
            raise FetchError(f"corrupt zip archive ({exc}); nothing was extracted and the "
                             "download was deleted") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return _main_item(final)


def _replace(src: Path, final: Path) -> None:
    if final.is_symlink() or final.is_file():
        final.unlink()
    elif final.is_dir():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(src, final)
        shutil.rmtree(old, ignore_errors=True)
        return
    os.replace(src, final)


def _main_item(final: Path) -> Path:
    if final.is_file():
        return final
    gdbs = sorted(p for p in final.rglob("*.gdb") if p.is_dir())
    if final.suffix.lower() == ".gdb":
        return final
    if len(gdbs) == 1:
        return gdbs[0]
    for ext in (".gpkg", ".shp", ".tif", ".tiff", ".geojson", ".csv", ".xlsx"):
        hits = sorted(p for p in final.rglob(f"*{ext}") if p.is_file())
        if len(hits) == 1:
            return hits[0]
    return final


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -------------------------------------------------------------------------------- services

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
    try:
        expected = _get_json(ctx, c, budget, layer + "/query",
                             {**base, "returnCountOnly": "true", "f": "json"})
        expected = int(expected["count"])
    except _TooSlow:
        raise
    except (FetchError, KeyError, TypeError, ValueError):
        expected = None                     # no count: rely on exceededTransferLimit alone
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
