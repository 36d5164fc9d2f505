"""Planning a fetch: which official files cover the study area, and how --dry-run shows them.

Per dataset the smallest official source wins: per-state extracts for --states, a feature service
queried by state or box envelope, the 1 x 1 degree tiles under the area for tiled products
(3DEP), else the national file; mirrors and archives stand behind every planned file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlencode, urlsplit

import requests

from ..catalog import Catalog, Dataset, Source, file_name_problem
from ..errors import ConfigError
from .http import USER_AGENT, _open
from .report import FetchError, _human

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
    suffix = "" if label == "national" else \
        "_" + re.sub(r"[^A-Za-z0-9.-]+", "_", label.replace("bbox ", "bbox_"))
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

