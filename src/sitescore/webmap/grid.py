"""The scored cells of a square grid as compact arrays for the page's scripts (`assets/sitescore/
grid.js` draws them on a canvas; `regrow.js` re-scores them when a weight slider moves and
regrows the sites with `locate.grow_sites`' rules).

A square grid is a lattice: every cell is the box ``(ox + c*s, oy + r*s, ox + (c+1)*s,
oy + (r+1)*s)``, tested here to the last bit, so the page rebuilds each box with the same
floating-point products the grid was made with. That makes the page's site spacing exact: the
distance between two boxes (and from a box to a union of boxes) is the gap formula
:func:`box_gap`, which gives shapely's answer bit for bit (tests/test_webmap_grid.py).

The cells travel in cell-id order, so a cell's index is its rank among the sorted ids: the
tie-break of `grow_sites`. Each array is transformed to compress well (integers and float bit
patterns delta-coded, bytes split into planes), all of them are deflated as one zlib stream and
put in the page as base64; the script inflates it with the browser's own DecompressionStream.

Criterion values are carried exactly (float64) while the page stays within
:data:`EXACT_VALUES_BUDGET`: the page's scores are then the command line's to the last bit.
Past it (a national run) they are rounded to 24 bits (error under 3e-8 a value); the script
then knows how far its scores may be off and says where a near-tie could make its ranking
differ from `sitescore run --weights` (see regrow.js, "Exactness").
"""

from __future__ import annotations

import base64
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sitescore.formatting import cell_text, esc, pathway_text
from sitescore.geometry import are_boxes
from sitescore.schema import CRS, M_PER_KM, WEB_CRS
from sitescore.scoring import CriterionInfo

#: Exact (float64) criterion values while their compressed bytes stay under this; else 24 bits.
EXACT_VALUES_BUDGET = 24_000_000
#: Raw values ride along (display only, 4 significant digits) while the page stays under this.
RAW_VALUES_BUDGET = 30_000_000
#: Rounded values: v = q / VALUE_STEPS, q in 0..VALUE_STEPS; VALUE_STEPS + 1 means missing.
VALUE_STEPS = 2 ** 24 - 2
#: Raw values keep this many of float32's 23 mantissa bits (3 significant digits).
RAW_MANTISSA_BITS = 10
#: Past this many distinct exclusion reasons, a reason loses the cell's own number.
MAX_REASONS = 4096
#: Airport types a site's "near" names (OurAirports types), closed fields and heliports left out.
PLACE_TYPES = ("large_airport", "medium_airport", "small_airport")
EARTH_RADIUS_KM = 6371.0088


# --------------------------------------------------------------------------- the lattice

@dataclass(frozen=True)
class Lattice:
    """Square cells as column, row on a lattice of side ``size`` from ``(ox, oy)``, in metres
    (EPSG:5070)."""

    size: float
    ox: float
    oy: float
    col: np.ndarray
    row: np.ndarray


def _size_candidates(lo: np.ndarray, width: np.ndarray, ox: float) -> list[float]:
    """Sides to try: the typical width, and the side that puts the farthest cell on the lattice,
    with its floating-point neighbours."""
    s0 = float(np.median(width))
    far = int(np.argmax(np.abs(lo - ox)))
    out = [s0]
    k = round((lo[far] - ox) / s0)
    if k:
        s1 = float((lo[far] - ox) / k)
        for step in range(-3, 4):
            s = s1
            for _ in range(abs(step)):
                s = math.nextafter(s, math.inf if step > 0 else -math.inf)
            out.append(s)
    return list(dict.fromkeys(out))


def square_lattice(geoms: np.ndarray) -> Lattice | None:
    """The lattice the cells are on, exactly (every corner ``o + k*s`` to the last bit), or None
    when they are not square cells of one lattice (H3 cells, a planner's polygons)."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0 or not are_boxes(geoms):
        return None
    b = shapely.bounds(geoms)
    width = b[:, 2] - b[:, 0]
    if not np.all(width > 0):
        return None
    origins = [(0.0, 0.0), (float(b[:, 0].min()), float(b[:, 1].min()))]
    for ox, oy in origins:
        for s in _size_candidates(b[:, 0], width, ox):
            col = np.round((b[:, 0] - ox) / s)
            row = np.round((b[:, 1] - oy) / s)
            if (np.array_equal(ox + col * s, b[:, 0]) and np.array_equal(ox + (col + 1) * s, b[:, 2])
                    and np.array_equal(oy + row * s, b[:, 1])
                    and np.array_equal(oy + (row + 1) * s, b[:, 3])):
                return Lattice(s, ox, oy, col.astype(np.int64), row.astype(np.int64))
    return None


def box_gap(a: Sequence[float], b: Sequence[float]) -> float:
    """Distance between two axis-aligned boxes (minx, miny, maxx, maxy) as GEOS computes it for
    their polygons: the gap along each axis, and their hypotenuse when both are open (the twin
    of regrow.js `gap`)."""
    dx = max(0.0, a[0] - b[2], b[0] - a[2])
    dy = max(0.0, a[1] - b[3], b[1] - a[3])
    if dx == 0.0:
        return dy
    if dy == 0.0:
        return dx
    return math.sqrt(dx * dx + dy * dy)


# --------------------------------------------------------------------------- encoding

def _planes(data: bytes, width: int) -> bytes:
    """Bytes of `width`-byte elements regrouped by byte position (all first bytes, then all
    second bytes, ...): the slowly varying high bytes then compress to almost nothing."""
    a = np.frombuffer(data, dtype=np.uint8)
    return a.reshape(-1, width).T.tobytes() if len(a) else b""


class _Blob:
    """Arrays packed for the page: each transformed and split into byte planes, all of them one
    zlib stream; `index` says where each lies in the inflated bytes and how to read it back."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.index: dict[str, list[Any]] = {}
        self.offset = 0

    def _add(self, name: str, kind: str, n: int, data: bytes) -> None:
        self.index[name] = [kind, n, self.offset, len(data)]
        self.parts.append(data)
        self.offset += len(data)

    def int32_delta(self, name: str, a: np.ndarray) -> None:
        v = np.asarray(a, dtype=np.int64).astype(np.uint32)
        d = np.diff(v, prepend=np.uint32(0)).astype("<u4")
        self._add(name, "i32d", len(v), _planes(d.tobytes(), 4))

    def float64(self, name: str, a: np.ndarray) -> None:
        """Exact float64s: their bit patterns as they are, or delta-coded (modulo 2**64) where
        that compresses better (smooth values; repeated ones compress better as they are)."""
        bits = np.ascontiguousarray(a, dtype="<f8").view("<u8")
        plain = _planes(bits.tobytes(), 8)
        delta = _planes(np.diff(bits, prepend=np.uint64(0)).astype("<u8").tobytes(), 8)
        smaller = len(zlib.compress(delta, 6)) < len(zlib.compress(plain, 6))
        self._add(name, "f64d" if smaller else "f64", len(bits), delta if smaller else plain)

    def value24(self, name: str, a: np.ndarray) -> None:
        """Values in 0..1 rounded to 1/VALUE_STEPS (missing: VALUE_STEPS + 1), delta-coded
        modulo 2**24 in three byte planes."""
        v = np.asarray(a, dtype=float)
        q = np.where(np.isfinite(v), np.round(np.clip(v, 0.0, 1.0) * VALUE_STEPS),
                     VALUE_STEPS + 1).astype(np.int64)
        d = (np.diff(q, prepend=0) % (1 << 24)).astype("<u4")
        self._add(name, "u24d", len(q), _planes(d.tobytes(), 4)[: 3 * len(q)])

    def float32_short(self, name: str, a: np.ndarray) -> None:
        """Display values as float32 keeping RAW_MANTISSA_BITS of the mantissa (rounded)."""
        with np.errstate(over="ignore", invalid="ignore"):
            f = np.asarray(a, dtype=float).astype("<f4")
        bits = f.view("<u4").astype(np.uint64)
        drop = 23 - RAW_MANTISSA_BITS
        finite = np.isfinite(f)
        rounded = ((bits + (1 << (drop - 1))) >> drop) << drop
        bits = np.where(finite, rounded, bits).astype("<u4")
        self._add(name, "f32", len(f), _planes(bits.tobytes(), 4))

    def small_ints(self, name: str, a: np.ndarray) -> None:
        v = np.asarray(a, dtype=np.int64)
        if v.size and v.max() >= 1 << 16:
            self._add(name, "u32", len(v), _planes(v.astype("<u4").tobytes(), 4))
        else:
            self._add(name, "u16", len(v), _planes(v.astype("<u2").tobytes(), 2))

    def text(self, name: str, lines: Sequence[str]) -> None:
        data = "\n".join(lines).encode("utf-8")
        self._add(name, "text", len(lines), data)

    def packed(self) -> str:
        return base64.b64encode(zlib.compress(b"".join(self.parts), 9)).decode("ascii")

    def packed_size(self) -> int:
        return len(zlib.compress(b"".join(self.parts), 6))


# --------------------------------------------------------------------------- per-cell tables

def _codes(values: Sequence[Any]) -> tuple[np.ndarray, list[str]]:
    """1-based codes of each value's text among the sorted distinct ones (0: missing)."""
    texts = [cell_text({"v": v}, "v") for v in values]
    table = sorted({t for t in texts if t})
    where = {t: i + 1 for i, t in enumerate(table)}
    return np.array([where.get(t, 0) for t in texts], dtype=np.int64), table


def _unit_codes(cells: pd.DataFrame) -> tuple[np.ndarray, list[list[str]]]:
    """Each cell's (agency, unit) as a code into the table sorted as `locate` groups them."""
    n = len(cells)
    agency = cells["agency"].to_numpy(dtype=object) if "agency" in cells else np.full(n, None)
    unit = cells["unit_name"].to_numpy(dtype=object) if "unit_name" in cells else np.full(n, None)
    pairs = [(cell_text({"v": a}, "v"), cell_text({"v": u}, "v")) for a, u in zip(agency, unit,
                                                                                 strict=True)]
    table = sorted(set(pairs))
    where = {p: i for i, p in enumerate(table)}
    codes = np.array([where[p] for p in pairs], dtype=np.int64)
    return codes, [[esc(a), esc(u)] for a, u in table]


def _reason_codes(cells: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """0 for a scored cell; else a 1-based code into the reasons, numbers dropped from them when
    they are too many to list (each cell's own value is in its raw values)."""
    n = len(cells)
    excluded = cells["excluded"].fillna(False).astype(bool).to_numpy() if "excluded" in cells \
        else np.zeros(n, dtype=bool)
    why = cells["exclusion_reason"].to_numpy(dtype=object) if "exclusion_reason" in cells \
        else np.full(n, None, dtype=object)
    texts = [(cell_text({"r": w}, "r") or "excluded") if x else "" for w, x in zip(why, excluded,
                                                                                 strict=True)]
    distinct = sorted({t for t in texts if t})
    if len(distinct) > MAX_REASONS:
        texts = [re.sub(r" -?\d[\d.,]*(e[+-]?\d+)?", "", t, count=1) if t else "" for t in texts]
        distinct = sorted({t for t in texts if t})
    where = {t: i + 1 for i, t in enumerate(distinct)}
    return np.array([where.get(t, 0) for t in texts], dtype=np.int64), [esc(t) for t in distinct]


def _pathway_codes(cells: pd.DataFrame) -> tuple[np.ndarray, list[list[str]]] | None:
    """Each cell's land pathway as a code into (key, one-line text) pairs; None without them."""
    if "pathway" not in cells.columns:
        return None
    cols = [c for c in ("pathway", "pathway_label", "pathway_available", "pathway_nepa",
                        "pathway_months_low", "pathway_months_high") if c in cells.columns]
    rows = cells[cols].astype(object).where(cells[cols].notna(), None)
    keys: dict[tuple[str, str], int] = {}
    codes = np.empty(len(cells), dtype=np.int64)
    for i, rec in enumerate(rows.to_dict("records")):
        key = cell_text(rec, "pathway") or "unknown"
        item = (key, pathway_text(rec))
        codes[i] = keys.setdefault(item, len(keys))
    return codes, [[esc(k), esc(t)] for k, t in keys]


def _county_codes(centres: np.ndarray, counties: gpd.GeoDataFrame | None
                  ) -> tuple[np.ndarray, list[str]] | None:
    """The county under each cell's centre (0: none), from the study's counties layer."""
    if counties is None or not isinstance(counties, gpd.GeoDataFrame) or counties.empty \
            or "name" not in counties.columns or counties.crs is None:
        return None
    poly = counties if counties.crs.equals(CRS) else counties.to_crs(CRS)
    names = [cell_text(r, "name") for r in poly[["name"]].to_dict("records")]
    src, dst = shapely.STRtree(poly.geometry.values).query(centres, predicate="intersects")
    first = np.full(len(centres), -1, dtype=np.int64)
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    keep = np.r_[True, src[1:] != src[:-1]] if len(src) else np.zeros(0, dtype=bool)
    first[src[keep]] = dst[keep]
    table = sorted({names[j] for j in first[first >= 0] if names[j]})
    where = {t: i + 1 for i, t in enumerate(table)}
    codes = np.array([where.get(names[j], 0) if j >= 0 else 0 for j in first], dtype=np.int64)
    return codes, [esc(t) for t in table]


# --------------------------------------------------------------------------- places

def places_table(layers: Mapping[str, gpd.GeoDataFrame]) -> list[list[Any]]:
    """Named places a site is said to be near: the study's airports (OurAirports large,
    medium and small fields), as [name, lon, lat] (names as plain text)."""
    airports = layers.get("airports")
    if not isinstance(airports, gpd.GeoDataFrame) or airports.empty or airports.crs is None:
        return []
    if "airport_type" in airports.columns:
        airports = airports[airports["airport_type"].isin(PLACE_TYPES)]
    airports = airports[airports.geometry.notna() & ~airports.geometry.is_empty]
    if airports.empty or "name" not in airports.columns:
        return []
    web = airports.geometry.to_crs(WEB_CRS)
    out = []
    for name, x, y in zip(airports["name"], web.x, web.y, strict=True):
        text = cell_text({"n": name}, "n")
        if text and np.isfinite(x) and np.isfinite(y):
            out.append([text, round(float(x), 5), round(float(y), 5)])
    return sorted(out)


def nearest_place(lon: float, lat: float, places: Sequence[Sequence[Any]]) -> str:
    """'12 km from Socorro Municipal Airport' (great-circle km), '' without places (the twin of
    tables.js `nearText`)."""
    best, where = math.inf, ""
    p1, l1 = math.radians(lat), math.radians(lon)
    for name, plon, plat in places:
        p2, l2 = math.radians(plat), math.radians(plon)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
        d = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
        if d < best:
            best, where = d, name
    if not where:
        return ""
    return f"{best:.0f} km from {where}" if best >= 1 else f"at {where}"


# --------------------------------------------------------------------------- the page's grid

@dataclass
class GridData:
    """What the page gets: the JSON part (SITESCORE_DATA.grid) and the packed arrays."""

    meta: dict[str, Any]
    packed: str
    n_cells: int
    n_excluded: int


def _values(cells: pd.DataFrame, criteria: Sequence[CriterionInfo]) -> list[np.ndarray] | None:
    cols = [f"value__{c.name}" for c in criteria]
    if not criteria or not all(c in cells.columns for c in cols):
        return None
    return [pd.to_numeric(cells[c], errors="coerce").to_numpy(dtype=float) for c in cols]


def _ordered(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The cells in EPSG:5070, sorted by cell id (a cell's index is its rank among the ids)."""
    if not cells.crs.equals(CRS):
        cells = cells.to_crs(CRS)
    ids = cells["cell_id"].astype(str).to_numpy(dtype=object)
    return cells.iloc[np.argsort(ids, kind="stable")].reset_index(drop=True)


def _add_lattice(blob: _Blob, cells: gpd.GeoDataFrame, lattice: Lattice) -> str | None:
    """Columns and rows; the ids too unless they all read ``sq{size}_{col}_{row}`` (then the
    prefix the page rebuilds them with is returned)."""
    blob.int32_delta("col", lattice.col)
    blob.int32_delta("row", lattice.row)
    ids = cells["cell_id"].astype(str).to_numpy(dtype=object)
    prefix = f"sq{int(lattice.size)}_"
    pattern = lattice.ox == 0.0 and lattice.oy == 0.0 and all(
        i == f"{prefix}{c}_{r}" for i, c, r in zip(ids, lattice.col.tolist(), lattice.row.tolist(),
                                                   strict=True))
    if not pattern:
        blob.text("ids", [esc(i) for i in ids])
    return prefix if pattern else None


def _add_tables(blob: _Blob, cells: gpd.GeoDataFrame, lattice: Lattice,
                layers: Mapping[str, gpd.GeoDataFrame],
                site_of_run: Mapping[Any, int] | None) -> tuple[dict[str, Any], int]:
    """Acres, exclusion reasons, units, states, pathways, counties and the run's sites per cell;
    returns the lookup tables and the number of excluded cells."""
    n = len(cells)
    acres = pd.to_numeric(cells["eligible_acres"], errors="coerce").to_numpy(dtype=float) \
        if "eligible_acres" in cells else np.ones(n)
    blob.float64("acres", acres)
    reasons, reason_table = _reason_codes(cells)
    blob.small_ints("reason", reasons)
    units, unit_table = _unit_codes(cells)
    blob.small_ints("unit", units)
    states, state_table = _codes(cells["state"] if "state" in cells else [None] * n)
    blob.small_ints("state", states)
    pathways = _pathway_codes(cells)
    if pathways is not None:
        blob.small_ints("pathway", pathways[0])
    centres = shapely.points(lattice.ox + (lattice.col + 0.5) * lattice.size,
                             lattice.oy + (lattice.row + 0.5) * lattice.size)
    county = _county_codes(centres, layers.get("counties"))
    if county is not None:
        blob.small_ints("county", county[0])
    if site_of_run and "site_id" in cells.columns:
        run_site = np.array([site_of_run.get(s, 0) if not pd.isna(s) else 0
                             for s in cells["site_id"].to_numpy(dtype=object)], dtype=np.int64)
        blob.small_ints("site0", run_site)
    tables = {"reasons": reason_table, "units": unit_table,
              "states": [esc(s) for s in state_table],
              "pathways": pathways[1] if pathways is not None else None,
              "counties": county[1] if county is not None else None}
    return tables, int((reasons > 0).sum())


def _add_values(blob: _Blob, values: Sequence[np.ndarray]) -> str:
    """The criterion values, exact while they fit EXACT_VALUES_BUDGET, else rounded to 24 bits;
    returns which ('exact' or 'rounded')."""
    exact = _Blob()
    for j, v in enumerate(values):
        exact.float64(f"v{j}", v)
    mode = "exact" if exact.packed_size() <= EXACT_VALUES_BUDGET else "rounded"
    for j, v in enumerate(values):
        if mode == "exact":
            blob.float64(f"v{j}", v)
        else:
            blob.value24(f"v{j}", v)
    return mode


def _add_raws(blob: _Blob, cells: pd.DataFrame, criteria: Sequence[CriterionInfo]) -> bool:
    """The raw values for display, while the page stays under RAW_VALUES_BUDGET."""
    if not all(f"raw__{c.name}" in cells.columns for c in criteria):
        return False
    raws = [pd.to_numeric(cells[f"raw__{c.name}"], errors="coerce").to_numpy(dtype=float)
            for c in criteria]
    raw_blob = _Blob()
    for j, r in enumerate(raws):
        raw_blob.float32_short(f"r{j}", r)
    if blob.packed_size() + raw_blob.packed_size() > RAW_VALUES_BUDGET:
        return False
    for j, r in enumerate(raws):
        blob.float32_short(f"r{j}", r)
    return True


def grid_data(cells: gpd.GeoDataFrame, criteria: Sequence[CriterionInfo],
              layers: Mapping[str, gpd.GeoDataFrame] | None = None,
              site_of_run: Mapping[Any, int] | None = None) -> GridData | None:
    """The cells as the page's arrays, or None when they are not one square lattice or carry no
    criterion values (then the page draws them as features). ``site_of_run`` maps the run's
    site ids to their ranks."""
    if len(cells) == 0 or cells.crs is None or "cell_id" not in cells.columns:
        return None
    cells = _ordered(cells)
    values = _values(cells, criteria)
    lattice = square_lattice(np.asarray(cells.geometry.values, dtype=object))
    if lattice is None or values is None:
        return None
    blob = _Blob()
    prefix = _add_lattice(blob, cells, lattice)
    tables, excluded = _add_tables(blob, cells, lattice, layers or {}, site_of_run)
    mode = _add_values(blob, values)
    with_raw = _add_raws(blob, cells, criteria)
    meta = {
        "kind": "square", "n": len(cells), "size": lattice.size, "ox": lattice.ox,
        "oy": lattice.oy, "idPrefix": esc(prefix) if prefix else None, "values": mode,
        "valueStep": None if mode == "exact" else 1.0 / VALUE_STEPS,
        "valueSteps": VALUE_STEPS, "raw": with_raw, "rawDigits": 3, "index": blob.index,
        **tables, "units_of": [esc(c.unit) for c in criteria],
    }
    return GridData(meta, blob.packed(), len(cells), excluded)


def site_rules(rules: Any) -> dict[str, float] | None:
    """The region-growing rules (`config.SitesConfig`) as the page's script reads them, the
    spacing already in metres as `locate.grow_sites` computes it."""
    if rules is None:
        return None
    return {"minAcres": float(rules.min_site_acres), "spacing": rules.min_spacing_km * M_PER_KM,
            "maxSites": int(rules.max_sites), "minCellScore": float(rules.min_cell_score),
            "spacingKm": float(rules.min_spacing_km)}
