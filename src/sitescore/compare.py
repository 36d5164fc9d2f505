"""What changed between two runs: sites gained, lost and moved, and the criteria behind it.

`compare_runs(run_a, run_b)` reads two run folders (``runs/<study>/sites.parquet`` and
``manifest.json``, as :mod:`sitescore.outputs` writes them) and matches their sites **by place**,
not by id (a site's id is its rank, so ids mean nothing across runs):

- two sites match when their outlines overlap; the pair with the largest overlap share
  (intersection over union) is matched first, then the next largest among the sites still free,
  and so on: a one-to-one matching, deterministic (ties go to the larger overlap area, then to
  the better ranks);
- a B site that matches nothing is *gained*, an A site that matches nothing is *lost*, a matched
  pair has *moved* (its rank change may be 0: same place in the list);
- for every matched pair, each criterion's change in contribution to the score
  (``contribution__c`` in B minus in A, a criterion missing from a run counting 0) says what
  drove the change: sorted by absolute size, these are the site's *drivers*. With the weighted
  sum they add up to the score change;
- the runs' weights are compared too: per criterion the configured weight (from the manifest's
  config) and the effective, normalised share (``weight__c``), and which criteria only one run
  scored.

The result prints as a table, and writes as ``compare.csv`` (one row per site, a ``delta__c``
column per criterion) and ``compare.html`` (a folium map: A outlines in one colour, B outlines in
another, gained/lost/moved styled apart, each site numbered with both ranks and a popup with its
driver table). Every data string is escaped, the page is deterministic, files are written
atomically.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.utilities import JsCode
from pyarrow import ArrowException

from .errors import DataError
from .schema import CRS, WEB_CRS
from .formatting import esc, fmt_pct
from .formatting import js_json as _js
from .formatting import to_float as _num
from .formatting import write_atomic as _write_atomic
from .safe_text import terminal_text, write_csv
from .webmap import MAP_CSS as _MAP_CSS
from .webmap import MAP_JS as _MAP_JS
from .webmap import SYNTHETIC_BANNER
from .webmap import Raw as _Raw
from .webmap import deterministic_build as _deterministic_build

__all__ = ["Comparison", "CriterionChange", "SiteChange", "compare_runs", "default_out_dir",
           "format_report", "write_compare_csv", "write_compare_map", "write_outputs"]

#: Colours: run A outlines, run B outlines (colour-blind safe pair), and the rank-change marks.
A_COLOR = "#2c7bb6"
B_COLOR = "#e66101"
UP_COLOR = "#1a9850"
DOWN_COLOR = "#d73027"
SAME_COLOR = "#636363"

#: Drivers shown in the table's text column (all are in the CSV and the popups).
TOP_DRIVERS = 3
#: A contribution change smaller than this is "no change" in the text (it prints as 0.000).
DRIVER_MIN = 0.0005
#: Rows printed by default when no --top is given (all rows are in compare.csv).
PRINT_ROWS = 30
#: Overlaps under this share of the smaller site are slivers from rounding, not a match.
MIN_OVERLAP_SHARE_OF_SMALLER = 1e-6

SIMPLIFY_M = 50.0
COORD_DECIMALS = 5

STATUSES = ("moved", "gained", "lost")


# --------------------------------------------------------------------------- data model

@dataclass(frozen=True)
class CriterionChange:
    """One criterion across the two runs. Weights are None where the run did not score it."""

    name: str
    label: str
    share_a: float | None        # effective normalised weight (weight__c), 0..1
    share_b: float | None
    configured_a: float | None   # the weight as written in the config (direct weights)
    configured_b: float | None

    @property
    def in_a(self) -> bool:
        return self.share_a is not None

    @property
    def in_b(self) -> bool:
        return self.share_b is not None

    @property
    def only_in(self) -> str | None:
        """'A' or 'B' when only one run scored this criterion, else None."""
        if self.in_a and not self.in_b:
            return "A"
        if self.in_b and not self.in_a:
            return "B"
        return None

    @property
    def configured_changed(self) -> bool:
        a, b = self.configured_a, self.configured_b
        return a is not None and b is not None and not math.isclose(a, b, rel_tol=1e-9,
                                                                    abs_tol=1e-12)

    @property
    def share_changed(self) -> bool:
        a, b = self.share_a, self.share_b
        return a is not None and b is not None and not math.isclose(a, b, rel_tol=1e-6,
                                                                    abs_tol=1e-9)


@dataclass(frozen=True)
class SiteChange:
    """One row of the comparison: a matched pair (moved), or a site of one run only."""

    status: str                   # 'moved', 'gained' or 'lost'
    rank_a: int | None
    rank_b: int | None
    name: str
    score_a: float | None
    score_b: float | None
    overlap: float | None         # intersection over union of the two outlines (moved only)
    drivers: tuple[tuple[str, float], ...] = ()   # (criterion, contribution B - A), biggest first
    index_a: int | None = None    # row in Comparison.sites_a
    index_b: int | None = None

    @property
    def rank_change(self) -> int | None:
        """Places moved up (rank 5 -> 3 is +2); None unless matched."""
        if self.rank_a is None or self.rank_b is None:
            return None
        return self.rank_a - self.rank_b

    @property
    def score_change(self) -> float | None:
        if self.score_a is None or self.score_b is None:
            return None
        return self.score_b - self.score_a

    def delta(self, criterion: str) -> float | None:
        return dict(self.drivers).get(criterion)

    def drivers_text(self, n: int = TOP_DRIVERS) -> str:
        """'workforce +0.061, power_line -0.030' (changes too small to print are left out)."""
        if self.status != "moved":
            return ""
        parts = [f"{c} {d:+.3f}" for c, d in self.drivers[:n] if abs(d) >= DRIVER_MIN]
        return ", ".join(parts) if parts else "no change"


@dataclass
class Comparison:
    run_a: Path
    run_b: Path
    study_a: str
    study_b: str
    title_a: str
    title_b: str
    sites_a: gpd.GeoDataFrame     # EPSG:5070, as read
    sites_b: gpd.GeoDataFrame
    criteria: list[CriterionChange]
    changes: list[SiteChange]     # moved and gained by rank in B, then lost by rank in A
    top: int | None = None
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)

    # ---- summaries

    @property
    def criterion_names(self) -> list[str]:
        return [c.name for c in self.criteria]

    @property
    def weight_changes(self) -> list[CriterionChange]:
        """Criteria scored by both runs whose weight changed between the configs: the
        configured weight where both configs give one, else the effective share."""
        out = []
        for c in self.criteria:
            if not (c.in_a and c.in_b):
                continue
            if c.configured_a is not None and c.configured_b is not None:
                if c.configured_changed:
                    out.append(c)
            elif c.share_changed:
                out.append(c)
        return out

    @property
    def only_in_a(self) -> list[str]:
        return [c.name for c in self.criteria if c.only_in == "A"]

    @property
    def only_in_b(self) -> list[str]:
        return [c.name for c in self.criteria if c.only_in == "B"]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("moved", "gained", "lost", "up", "down", "same")}
        for ch in self.changes:
            out[ch.status] += 1
            if ch.status == "moved":
                rc = ch.rank_change or 0
                out["up" if rc > 0 else "down" if rc < 0 else "same"] += 1
        return out

    def table(self) -> pd.DataFrame:
        """One row per site, as written to compare.csv."""
        rows = []
        for ch in self.changes:
            a = self.sites_a.iloc[ch.index_a] if ch.index_a is not None else None
            b = self.sites_b.iloc[ch.index_b] if ch.index_b is not None else None
            here = b if b is not None else a
            row: dict[str, Any] = {
                "status": ch.status,
                "rank_a": ch.rank_a,
                "rank_b": ch.rank_b,
                "rank_change": ch.rank_change,
                "name": ch.name,
                "agency": _text(here, "agency"),
                "unit_name": _text(here, "unit_name"),
                "state": _text(here, "state"),
                "score_a": ch.score_a,
                "score_b": ch.score_b,
                "score_change": ch.score_change,
                "acres_a": _num(a.get("acres")) if a is not None else None,
                "acres_b": _num(b.get("acres")) if b is not None else None,
                "overlap": ch.overlap,
                "lon": _num(here.get("lon")),
                "lat": _num(here.get("lat")),
                "top_drivers": ch.drivers_text(),
            }
            deltas = dict(ch.drivers)
            for c in self.criterion_names:
                row[f"delta__{c}"] = deltas.get(c)
            rows.append(row)
        columns = ["status", "rank_a", "rank_b", "rank_change", "name", "agency", "unit_name",
                   "state", "score_a", "score_b", "score_change", "acres_a", "acres_b",
                   "overlap", "lon", "lat", "top_drivers",
                   *(f"delta__{c}" for c in self.criterion_names)]
        df = pd.DataFrame(rows, columns=columns)
        for col in ("rank_a", "rank_b", "rank_change"):
            df[col] = pd.array(df[col].tolist(), dtype="Int64")
        for col in columns:
            if col.startswith(("score", "acres", "overlap", "lon", "lat", "delta__")):
                df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
        return df


# --------------------------------------------------------------------------- reading runs

def _run_folder(run: Path) -> Path:
    """The run folder; a path to one of its files (sites.parquet, manifest.json) is accepted."""
    run = Path(run)
    if run.is_file() and run.name in ("sites.parquet", "manifest.json", "sitescore.gpkg",
                                      "sites.csv", "cells.parquet"):
        return run.parent
    return run


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise DataError("not a sitescore run: manifest.json not found in this folder "
                        "(give a run folder such as runs/<study>)", file=path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not a sitescore run manifest: not valid JSON "
                        f"({str(exc).splitlines()[0]})", file=path) from None
    if not isinstance(manifest, dict) or "study" not in manifest:
        raise DataError("not a sitescore run manifest: no 'study' in it", file=path)
    return manifest


def _read_sites(folder: Path) -> gpd.GeoDataFrame:
    path = folder / "sites.parquet"
    gpkg = folder / "sitescore.gpkg"
    if path.is_file():
        try:
            sites = gpd.read_parquet(path)
        except (OSError, ValueError, RuntimeError, ArrowException) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"not a readable GeoParquet sites table ({msg})", file=path) from None
    elif gpkg.is_file():  # a run written without the parquet format
        path = gpkg
        try:
            sites = gpd.read_file(gpkg, layer="sites")
        except (OSError, ValueError, RuntimeError) as exc:  # pyogrio's errors are RuntimeErrors
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"no readable 'sites' layer ({msg})", file=gpkg) from None
    else:
        raise DataError("not a sitescore run: sites.parquet not found in this folder",
                        file=path)
    for col in ("rank", "score"):
        if col not in sites.columns:
            raise DataError("not a sitescore sites table: column missing", file=path, field=col)
    if sites.crs is None:
        sites = sites.set_crs(CRS)
    elif not sites.crs.equals(CRS):
        sites = sites.to_crs(CRS)
    if len(sites):
        ranks = pd.to_numeric(sites["rank"], errors="coerce")
        if ranks.isna().any():
            raise DataError("sites without a rank", file=path, field="rank")
        sites = sites.assign(rank=ranks.astype(int))
        sites = sites.sort_values("rank", kind="stable").reset_index(drop=True)
    geoms = np.asarray(sites.geometry.values, dtype=object)
    if len(geoms):
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        geoms[ok] = shapely.make_valid(geoms[ok])
        sites = sites.set_geometry(gpd.GeoSeries(geoms, crs=CRS, index=sites.index))
    return sites


def _criteria_of(sites: gpd.GeoDataFrame, manifest: dict[str, Any]) -> list[str]:
    """The criteria the run scored: its contribution columns (the configured ones as fallback)."""
    names = [c.split("__", 1)[1] for c in sites.columns if str(c).startswith("contribution__")]
    if names:
        return names
    crit = (manifest.get("config") or {}).get("criteria") or {}
    return list(crit) if isinstance(crit, dict) else []


def _configured(manifest: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """Configured weights (direct weighting only: with AHP the written weights are not used)
    and labels, from the manifest's config."""
    config = manifest.get("config") or {}
    crit = config.get("criteria") or {}
    method = ((config.get("weights") or {}).get("method")) or "direct"
    weights: dict[str, float] = {}
    labels: dict[str, str] = {}
    if isinstance(crit, dict):
        for name, c in crit.items():
            if not isinstance(c, dict):
                continue
            if c.get("label"):
                labels[str(name)] = str(c["label"])
            w = _num(c.get("weight"))
            if w is not None and method == "direct":
                weights[str(name)] = w
    return weights, labels


def _shares(sites: gpd.GeoDataFrame, names: Sequence[str],
            configured: dict[str, float]) -> dict[str, float | None]:
    """Effective weight per criterion: weight__c as scored, else the configured weights
    normalised over the scored criteria."""
    out: dict[str, float | None] = {}
    for n in names:
        col = f"weight__{n}"
        vals = pd.to_numeric(sites[col], errors="coerce").dropna() if col in sites.columns \
            else pd.Series(dtype=float)
        out[n] = float(vals.iloc[0]) if len(vals) else None
    if any(v is None for v in out.values()):
        total = sum(configured.get(n, 0.0) for n in names)
        for n in names:
            if out[n] is None and total > 0 and n in configured:
                out[n] = configured[n] / total
    return out


# --------------------------------------------------------------------------- matching

def match_sites(geoms_a: Sequence[Any], geoms_b: Sequence[Any]
                ) -> list[tuple[int, int, float]]:
    """One-to-one matching of outlines by overlap: (index in A, index in B, overlap share).

    The overlap share of a pair is the area they share over the area of their union. Pairs are
    taken largest share first (ties: larger shared area, then lower indexes, i.e. better ranks),
    skipping sites already matched. Overlaps thinner than a millionth of the smaller site
    (rounding slivers along a shared edge) do not count.
    """
    a = np.asarray(geoms_a, dtype=object)
    b = np.asarray(geoms_b, dtype=object)
    if not len(a) or not len(b):
        return []
    ok_a = ~(shapely.is_missing(a) | shapely.is_empty(a))
    ok_b = ~(shapely.is_missing(b) | shapely.is_empty(b))
    tree = shapely.STRtree(np.where(ok_b, b, None))
    ia, ib = tree.query(np.where(ok_a, a, None), predicate="intersects")
    if not len(ia):
        return []
    inter = shapely.area(shapely.intersection(a[ia], b[ib]))
    area_a = shapely.area(a[ia])
    area_b = shapely.area(b[ib])
    union = area_a + area_b - inter
    keep = (inter > 0) & (inter > MIN_OVERLAP_SHARE_OF_SMALLER * np.minimum(area_a, area_b))
    ia, ib, inter, union = ia[keep], ib[keep], inter[keep], union[keep]
    share = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    # shares are rounded so that float noise never decides between equal overlaps
    order = np.lexsort((ib, ia, -np.round(inter, 3), -np.round(share, 9)))
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for k in order:
        i, j = int(ia[k]), int(ib[k])
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((i, j, float(min(1.0, share[k]))))
    return pairs


def _drivers(a: pd.Series, b: pd.Series, names: Sequence[str], in_a: set[str],
             in_b: set[str]) -> tuple[tuple[str, float], ...]:
    """Change in contribution per criterion (missing criterion = 0), biggest change first."""
    out = []
    for n in names:
        ca = _num(a.get(f"contribution__{n}")) if n in in_a else 0.0
        cb = _num(b.get(f"contribution__{n}")) if n in in_b else 0.0
        if ca is None or cb is None:
            continue  # a value missing in a run: no honest difference to report
        out.append((n, cb - ca))
    # ties by name, so the order never depends on the config's order of keys
    out.sort(key=lambda t: (-round(abs(t[1]), 12), t[0]))
    return tuple(out)


# --------------------------------------------------------------------------- compare

def compare_runs(run_a: Path, run_b: Path, top: int | None = None) -> Comparison:
    """Compare run B against run A (both run folders as `sitescore run` writes them).

    With ``top``, only sites ranked in the top ``top`` of either run are kept (matching is done
    over all sites first, so a site that left the top N shows where it went).
    """
    if top is not None and top < 1:
        raise DataError(f"--top must be at least 1 (got {top})")
    folder_a, folder_b = _run_folder(Path(run_a)), _run_folder(Path(run_b))
    for folder in (folder_a, folder_b):
        if not folder.exists():
            raise DataError("run folder not found", file=folder)
        if not folder.is_dir():
            raise DataError("not a run folder (give a folder such as runs/<study>)", file=folder)
    man_a, man_b = _read_manifest(folder_a), _read_manifest(folder_b)
    sites_a, sites_b = _read_sites(folder_a), _read_sites(folder_b)

    names_a, names_b = _criteria_of(sites_a, man_a), _criteria_of(sites_b, man_b)
    names = list(dict.fromkeys([*names_a, *names_b]))
    conf_a, labels_a = _configured(man_a)
    conf_b, labels_b = _configured(man_b)
    share_a, share_b = _shares(sites_a, names_a, conf_a), _shares(sites_b, names_b, conf_b)
    criteria = []
    for n in names:
        criteria.append(CriterionChange(
            name=n, label=labels_b.get(n) or labels_a.get(n) or n,
            share_a=share_a.get(n) if n in names_a else None,
            share_b=share_b.get(n) if n in names_b else None,
            configured_a=conf_a.get(n) if n in names_a else None,
            configured_b=conf_b.get(n) if n in names_b else None,
        ))

    pairs = match_sites(sites_a.geometry.values, sites_b.geometry.values)
    in_a, in_b = set(names_a), set(names_b)
    matched_a = {i for i, _, _ in pairs}
    matched_b = {j for _, j, _ in pairs}
    changes: list[SiteChange] = []
    for i, j, share in pairs:
        a, b = sites_a.iloc[i], sites_b.iloc[j]
        changes.append(SiteChange(
            "moved", int(a["rank"]), int(b["rank"]), _text(b, "name") or _text(a, "name"),
            _num(a["score"]), _num(b["score"]), share,
            _drivers(a, b, names, in_a, in_b), i, j))
    for j in range(len(sites_b)):
        if j not in matched_b:
            b = sites_b.iloc[j]
            changes.append(SiteChange("gained", None, int(b["rank"]), _text(b, "name"),
                                      None, _num(b["score"]), None, (), None, j))
    for i in range(len(sites_a)):
        if i not in matched_a:
            a = sites_a.iloc[i]
            changes.append(SiteChange("lost", int(a["rank"]), None, _text(a, "name"),
                                      _num(a["score"]), None, None, (), i, None))
    if top is not None:
        changes = [c for c in changes if (c.rank_a is not None and c.rank_a <= top)
                   or (c.rank_b is not None and c.rank_b <= top)]
    changes.sort(key=lambda c: (c.rank_b is None, c.rank_b if c.rank_b is not None else 0,
                                c.rank_a if c.rank_a is not None else 0))

    notes = []
    for label, man in (("A", man_a), ("B", man_b)):
        agg = (man.get("config") or {}).get("aggregation")
        if agg and agg != "weighted_sum":
            notes.append(f"run {label} aggregates with {agg}: contribution changes need not "
                         "add up to the score change")
    if (man_a.get("config") or {}).get("area") != (man_b.get("config") or {}).get("area"):
        notes.append("the two runs have different study areas: sites outside the common area "
                     "show as gained or lost")
    return Comparison(
        run_a=folder_a, run_b=folder_b,
        study_a=str(man_a.get("study") or folder_a.name),
        study_b=str(man_b.get("study") or folder_b.name),
        title_a=str(man_a.get("title") or man_a.get("study") or folder_a.name),
        title_b=str(man_b.get("title") or man_b.get("study") or folder_b.name),
        sites_a=sites_a, sites_b=sites_b, criteria=criteria, changes=changes, top=top,
        synthetic=bool(man_a.get("synthetic") or man_b.get("synthetic")), notes=notes)


# --------------------------------------------------------------------------- text

def _rank(r: int | None, missing: str) -> str:
    return missing if r is None else str(r)


def _score(s: float | None) -> str:
    return "-" if s is None else f"{s:.3f}"


def _change_text(ch: SiteChange) -> str:
    if ch.status != "moved":
        return ch.status
    rc = ch.rank_change or 0
    return f"{rc:+d}" if rc else "0"


def _pct(w: float | None) -> str:
    """A weight share, one decimal so the columns line up: '25.0%'."""
    return fmt_pct(w, places=1, missing="-")


def _w(w: float | None) -> str:
    return "-" if w is None else f"{w:g}"


def weight_lines(comp: Comparison) -> list[str]:
    """What changed in the weighting, in a few lines."""
    lines = []
    changed = comp.weight_changes
    if changed:
        parts = []
        for c in changed:
            if c.configured_a is not None and c.configured_b is not None:
                parts.append(f"{c.name} {_w(c.configured_a)} -> {_w(c.configured_b)} "
                             f"(share {_pct(c.share_a)} -> {_pct(c.share_b)})")
            else:
                parts.append(f"{c.name} share {_pct(c.share_a)} -> {_pct(c.share_b)}")
        lines.append("weights changed: " + "; ".join(parts))
    else:
        lines.append("weights: the same in both runs")
    if comp.only_in_a:
        lines.append("criteria only in A: " + ", ".join(comp.only_in_a))
    if comp.only_in_b:
        lines.append("criteria only in B: " + ", ".join(comp.only_in_b))
    return lines


def format_report(comp: Comparison, limit: int | None = None) -> list[str]:
    """The printed report: header, weight changes, counts, then one line per site."""
    n = comp.counts()
    lines = [f"A: {comp.run_a} ({comp.study_a}, {len(comp.sites_a)} sites)",
             f"B: {comp.run_b} ({comp.study_b}, {len(comp.sites_b)} sites)"]
    lines += weight_lines(comp)
    scope = f"; sites in the top {comp.top} of either run" if comp.top else ""
    lines.append(f"{n['moved']} matched ({n['up']} up, {n['down']} down, {n['same']} "
                 f"same rank), {n['gained']} gained, {n['lost']} lost{scope}")
    lines.append("")
    rows = comp.changes if limit is None else comp.changes[:limit]
    names = [terminal_text(c.name) for c in rows]  # widths of what the terminal shows
    name_w = min(40, max([4] + [len(nm) for nm in names]))
    lines.append(f"{'rank A -> B':>12}  {'change':>6}  {'score A -> B':>14}  "
                 f"{'name':<{name_w}}  top drivers (contribution B - A)")
    for ch, name in zip(rows, names):
        ranks = f"{_rank(ch.rank_a, 'new'):>4} -> {_rank(ch.rank_b, 'out'):<4}"
        scores = f"{_score(ch.score_a):>5} -> {_score(ch.score_b):<5}"
        name = name if len(name) <= name_w else name[:name_w - 1] + "…"
        lines.append(f"{ranks:>12}  {_change_text(ch):>6}  {scores:>14}  {name:<{name_w}}  "
                     f"{ch.drivers_text()}".rstrip())
    if limit is not None and len(comp.changes) > limit:
        lines.append(f"... {len(comp.changes) - limit} more in compare.csv")
    for note in comp.notes:
        lines.append(f"note: {note}")
    return lines


# --------------------------------------------------------------------------- files

def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "run"


def default_out_dir(comp: Comparison, runs_dir: Path = Path("runs")) -> Path:
    return Path(runs_dir) / f"compare-{_safe_name(comp.study_a)}-vs-{_safe_name(comp.study_b)}"


def write_compare_csv(comp: Comparison, path: Path) -> Path:
    """compare.csv, written atomically (temp file in the same folder, renamed into place); names
    from the data cannot become spreadsheet formulas (`safe_text.write_csv`)."""

    path = Path(path)
    text = write_csv(comp.table(), index=False, float_format="%.6g", lineterminator="\n")
    _write_atomic(path, text.encode("utf-8"))
    return path


def write_outputs(comp: Comparison, out_dir: Path | None = None) -> tuple[Path, Path]:
    """compare.csv and compare.html into ``out_dir`` (default runs/compare-<A>-vs-<B>)."""
    out = Path(out_dir) if out_dir is not None else default_out_dir(comp)
    if out.exists() and not out.is_dir():
        raise DataError("--out is a file, not a folder", file=out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the output folder ({exc.strerror})", file=out) from None
    return write_compare_csv(comp, out / "compare.csv"), write_compare_map(comp, out / "compare.html")


# --------------------------------------------------------------------------- map

_CSS = f"""
<style>
#compare-box {{ position: absolute; top: 10px; left: 54px; z-index: 1000; max-width: 360px;
  max-height: calc(100vh - 60px); overflow-y: auto; background: rgba(255,255,255,0.95);
  padding: 8px 10px; border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,0.35);
  font: 12px/1.35 "Helvetica Neue", Arial, sans-serif; color: #222; }}
#compare-box .cmp-title {{ font-size: 14px; font-weight: 700; }}
#compare-box details {{ margin-top: 4px; }}
#compare-box summary {{ cursor: pointer; font-weight: 600; }}
#compare-box table {{ border-collapse: collapse; width: 100%; }}
#compare-box td, #compare-box th {{ padding: 1px 4px; text-align: left; }}
#compare-box .cmp-changed td {{ font-weight: 700; }}
.cmp-synthetic {{ color: #b00020; font-weight: 700; }}
.cmp-key {{ display: flex; align-items: center; gap: 6px; margin: 2px 0; }}
.cmp-line {{ display: inline-block; width: 24px; height: 0; }}
.cmp-num {{ text-align: right; }}
.cmp-rank {{ background: #fff; border: 2.5px solid {SAME_COLOR}; border-radius: 11px;
  color: #111; font: 700 11px/17px "Helvetica Neue", Arial, sans-serif; text-align: center;
  white-space: nowrap; box-shadow: 0 1px 4px rgba(0,0,0,0.5); box-sizing: border-box;
  cursor: pointer; }}
.cmp-up {{ border-color: {UP_COLOR}; }}
.cmp-down {{ border-color: {DOWN_COLOR}; }}
.cmp-gained {{ background: {B_COLOR}; border-color: {B_COLOR}; color: #fff; }}
.cmp-lost {{ background: {A_COLOR}; border-color: {A_COLOR}; color: #fff; }}
.cmp-popup {{ font: 12px/1.35 "Helvetica Neue", Arial, sans-serif; min-width: 320px; }}
.cmp-popup .cmp-pop-title {{ font-size: 14px; font-weight: 700; }}
.cmp-popup .cmp-meta {{ color: #444; margin: 2px 0 6px 0; }}
table.cmp-drivers {{ border-collapse: collapse; width: 100%; }}
table.cmp-drivers th {{ text-align: left; color: #555; border-bottom: 1px solid #ccc;
  padding: 2px 4px; white-space: nowrap; }}
table.cmp-drivers td {{ padding: 2px 4px; border-bottom: 1px solid #eee; white-space: nowrap; }}
table.cmp-drivers tfoot td {{ font-weight: 700; border-bottom: none; }}
.cmp-pos {{ color: {UP_COLOR}; font-weight: 700; }}
.cmp-neg {{ color: {DOWN_COLOR}; font-weight: 700; }}
</style>
"""

#: Outline styles per (run, status).
_STYLES = {
    ("A", "moved"): {"color": A_COLOR, "weight": 2, "opacity": 0.9, "fillColor": A_COLOR,
                     "fillOpacity": 0.05},
    ("B", "moved"): {"color": B_COLOR, "weight": 2, "opacity": 0.95, "fillColor": B_COLOR,
                     "fillOpacity": 0.05},
    ("B", "gained"): {"color": B_COLOR, "weight": 3.5, "opacity": 1.0, "fillColor": B_COLOR,
                      "fillOpacity": 0.3},
    ("A", "lost"): {"color": A_COLOR, "weight": 3, "opacity": 1.0, "dashArray": "7 5",
                    "fillColor": A_COLOR, "fillOpacity": 0.2},
}
_GROUP_LABELS = {
    "moved": "Sites in both runs (blue = A, orange = B)",
    "gained": "Gained: only in run B",
    "lost": "Lost: only in run A",
}


def _web_geoms(geoms: Sequence[Any]) -> list[Any]:
    """EPSG:5070 outlines -> simplified lon/lat geometries rounded to ~1 m (None if empty)."""
    g = np.asarray(list(geoms), dtype=object)
    if not len(g):
        return []
    ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
    out: list[Any] = [None] * len(g)
    if ok.any():
        simple = shapely.simplify(g[ok], SIMPLIFY_M, preserve_topology=True)
        web = gpd.GeoSeries(simple, crs=CRS).to_crs(WEB_CRS).values
        web = shapely.transform(np.asarray(web, dtype=object),
                                lambda c: np.round(c, COORD_DECIMALS))
        for k, idx in enumerate(np.flatnonzero(ok)):
            out[idx] = None if shapely.is_empty(web[k]) else web[k]
    return out


def _hash(r: int | None, missing: str) -> str:
    return missing if r is None else f"#{r}"


def _marker_label(ch: SiteChange) -> str:
    return f"{_rank(ch.rank_a, 'new')}→{_rank(ch.rank_b, 'out')}"


def _marker_class(ch: SiteChange) -> str:
    if ch.status != "moved":
        return f"cmp-{ch.status}"
    rc = ch.rank_change or 0
    return "cmp-up" if rc > 0 else "cmp-down" if rc < 0 else "cmp-same"


def _signed(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    text = f"{x:+.{digits}f}"
    if abs(x) < 0.5 * 10 ** -digits:
        return f"{0:.{digits}f}"
    return f'<span class="{"cmp-pos" if x > 0 else "cmp-neg"}">{text}</span>'


def _popup_html(comp: Comparison, ch: SiteChange) -> str:
    a = comp.sites_a.iloc[ch.index_a] if ch.index_a is not None else None
    b = comp.sites_b.iloc[ch.index_b] if ch.index_b is not None else None
    here = b if b is not None else a
    where = " · ".join(esc(x) for x in (_text(here, "agency"), _text(here, "unit_name"),
                                         _text(here, "state")) if x)
    status = {"moved": "in both runs", "gained": "gained: only in run B",
              "lost": "lost: only in run A"}[ch.status]
    if ch.status == "moved":
        rc = ch.rank_change or 0
        move = f"up {rc}" if rc > 0 else f"down {-rc}" if rc < 0 else "same rank"
        status += f" · {move} · overlap {100 * (ch.overlap or 0):.0f}%"
    score_change = f" ({_signed(ch.score_change)})" if ch.score_change is not None else ""
    head = (
        f'<div class="cmp-popup" data-status="{esc(ch.status)}">'
        f'<div class="cmp-pop-title">{_hash(ch.rank_a, "new")} → {_hash(ch.rank_b, "out")} '
        f'{esc(ch.name)}</div>'
        f'<div class="cmp-meta">{where}<br>{esc(status)}<br>score '
        f'<b>{esc(_score(ch.score_a))} → {esc(_score(ch.score_b))}</b>{score_change}</div>'
    )
    rows = []
    by_name = {c.name: c for c in comp.criteria}
    order = [c for c, _ in ch.drivers] if ch.status == "moved" else \
        [c for c in comp.criterion_names]
    deltas = dict(ch.drivers)
    for name in order:
        c = by_name[name]
        ca = _num(a.get(f"contribution__{name}")) if a is not None and c.in_a else None
        cb = _num(b.get(f"contribution__{name}")) if b is not None and c.in_b else None
        if a is None and cb is None or b is None and ca is None:
            continue
        rows.append(
            f'<tr data-criterion="{esc(name)}"><td title="{esc(c.label)}">{esc(name)}</td>'
            f'<td class="cmp-num">{esc(_pct(c.share_a))} → {esc(_pct(c.share_b))}</td>'
            f'<td class="cmp-num">{esc(_score(ca))}</td><td class="cmp-num">{esc(_score(cb))}</td>'
            + (f'<td class="cmp-num">{_signed(deltas.get(name))}</td>' if ch.status == "moved"
               else "") + "</tr>")
    delta_head = "<th>Change</th>" if ch.status == "moved" else ""
    foot = ""
    if ch.status == "moved":
        total = sum(d for _, d in ch.drivers)
        foot = (f'<tfoot><tr><td colspan="4">Sum of changes</td>'
                f'<td class="cmp-num">{_signed(total)}</td></tr></tfoot>')
    table = (
        '<table class="cmp-drivers"><thead><tr><th>Criterion</th><th>Weight A → B</th>'
        f'<th>Contrib. A</th><th>Contrib. B</th>{delta_head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody>{foot}</table>'
    )
    return head + table + "</div>"


def _box_html(comp: Comparison) -> str:
    n = comp.counts()
    parts = ['<div id="compare-box">']
    if comp.synthetic:
        parts.append(f'<div class="cmp-synthetic">{esc(SYNTHETIC_BANNER)}</div>')
    parts.append(f'<div class="cmp-title">Comparing two runs</div>'
                 f'<div><span style="color:{A_COLOR};font-weight:700">A</span> '
                 f'{esc(comp.title_a)} <i>({esc(comp.study_a)}, {len(comp.sites_a)} sites)</i></div>'
                 f'<div><span style="color:{B_COLOR};font-weight:700">B</span> '
                 f'{esc(comp.title_b)} <i>({esc(comp.study_b)}, {len(comp.sites_b)} sites)</i></div>')
    scope = f" in the top {comp.top} of either run" if comp.top else ""
    parts.append(f'<div>{n["moved"]} in both{esc(scope)} ({n["up"]} up, {n["down"]} down, '
                 f'{n["same"]} same) · {n["gained"]} gained · {n["lost"]} lost</div>')
    changed = {c.name for c in comp.weight_changes}
    rows = []
    for c in comp.criteria:
        cls = ' class="cmp-changed"' if c.name in changed or c.only_in else ""
        conf = ""
        if c.configured_a is not None or c.configured_b is not None:
            conf = f"{esc(_w(c.configured_a))} → {esc(_w(c.configured_b))}"
        rows.append(f'<tr{cls}><td title="{esc(c.label)}">{esc(c.name)}</td>'
                    f'<td class="cmp-num">{conf}</td>'
                    f'<td class="cmp-num">{esc(_pct(c.share_a))} → {esc(_pct(c.share_b))}</td>'
                    "</tr>")
    lines = "".join(f"<li>{esc(x)}</li>" for x in weight_lines(comp))
    parts.append('<details open><summary>Weights</summary>'
                 f'<ul style="margin:2px 0;padding-left:16px">{lines}</ul>'
                 '<table><thead><tr><th>Criterion</th><th>Configured A → B</th>'
                 f'<th>Share A → B</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
                 '</details>')
    parts.append(
        '<details><summary>Map key</summary>'
        f'<div class="cmp-key"><span class="cmp-line" style="border-top:2px solid {A_COLOR}">'
        '</span>site in run A</div>'
        f'<div class="cmp-key"><span class="cmp-line" style="border-top:2px solid {B_COLOR}">'
        '</span>site in run B</div>'
        f'<div class="cmp-key"><span class="cmp-line" style="border-top:3px dashed {A_COLOR}">'
        '</span>lost (only in A)</div>'
        f'<div class="cmp-key"><span class="cmp-line" style="border-top:4px solid {B_COLOR}">'
        '</span>gained (only in B)</div>'
        '<div class="cmp-key">numbers: rank in A → rank in B; ring green = up, red = down, '
        'grey = same</div></details>')
    if comp.notes:
        items = "".join(f"<li>{esc(x)}</li>" for x in comp.notes)
        parts.append(f'<details open><summary>Notes</summary><ul>{items}</ul></details>')
    parts.append("</div>")
    return "".join(parts)


def _location(site: pd.Series | None, web_geom: Any) -> list[float] | None:
    if site is not None:
        lon, lat = _num(site.get("lon")), _num(site.get("lat"))
        if lon is not None and lat is not None and -180 <= lon <= 180 and -90 <= lat <= 90:
            return [round(lat, COORD_DECIMALS), round(lon, COORD_DECIMALS)]
    if web_geom is None:
        return None
    p = web_geom.representative_point()
    return [round(p.y, COORD_DECIMALS), round(p.x, COORD_DECIMALS)]


def write_compare_map(comp: Comparison, path: Path) -> Path:
    """compare.html: both runs' sites on one folium map (deterministic, written atomically)."""
    path = Path(path)
    with _deterministic_build(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        page = _build_map(comp)
    _write_atomic(path, page.encode("utf-8"))
    return path


def _build_map(comp: Comparison) -> str:
    idx_a = sorted({c.index_a for c in comp.changes if c.index_a is not None})
    idx_b = sorted({c.index_b for c in comp.changes if c.index_b is not None})
    web_a = dict(zip(idx_a, _web_geoms(comp.sites_a.geometry.values[idx_a]) if idx_a else []))
    web_b = dict(zip(idx_b, _web_geoms(comp.sites_b.geometry.values[idx_b]) if idx_b else []))
    shown = [g for g in [*web_a.values(), *web_b.values()] if g is not None]
    bounds = None
    location, zoom = [39.5, -98.35], 4
    if shown:
        w, s, e, n = shapely.total_bounds(np.asarray(shown, dtype=object))
        bounds = [[round(float(s), 5), round(float(w), 5)], [round(float(n), 5), round(float(e), 5)]]
        location = [round((s + n) / 2, 5), round((w + e) / 2, 5)]
        span = max(e - w, (n - s) * 1.3, 1e-6)
        zoom = int(min(14, max(3, math.floor(math.log2(360.0 * 900 / (256 * span))))))
    m = folium.Map(location=location, zoom_start=zoom, tiles=None, prefer_canvas=True,
                   control_scale=True)
    m.default_js = list(_MAP_JS)   # Leaflet and jQuery only, as the run maps
    m.default_css = list(_MAP_CSS)
    figure = m.get_root()
    figure.title = esc(f"Compare: {comp.study_a} vs {comp.study_b}")
    folium.TileLayer("Esri.WorldGrayCanvas", name="Light grey (Esri)", overlay=False,
                     show=True).add_to(m)
    folium.TileLayer("OpenStreetMap.Mapnik", name="OpenStreetMap", overlay=False,
                     show=False).add_to(m)

    groups = {s: folium.FeatureGroup(name=_GROUP_LABELS[s], show=True) for s in STATUSES}
    styles = list(_STYLES.values())
    style_index = {k: i for i, k in enumerate(_STYLES)}
    features: dict[str, list[dict]] = {s: [] for s in STATUSES}
    for ch in comp.changes:
        tip = (f"<b>{_hash(ch.rank_a, 'new')} → {_hash(ch.rank_b, 'out')} "
               f"{esc(ch.name)}</b><br>{esc(ch.status)} · score {esc(_score(ch.score_a))} → "
               f"{esc(_score(ch.score_b))}")
        for run, idx, web in (("A", ch.index_a, web_a), ("B", ch.index_b, web_b)):
            g = web.get(idx) if idx is not None else None
            if g is None:
                continue
            features[ch.status].append({
                "type": "Feature", "id": len(features[ch.status]),
                "properties": {"s": style_index[(run, ch.status)],
                               "t": f"<i>run {run}</i> · {tip}"},
                "geometry": shapely.geometry.mapping(g)})
    js = JsCode(
        "function(feature, layer) {"
        f" var styles = {_js(styles)}; var p = feature.properties;"
        " layer.setStyle(styles[p.s]); layer.bindTooltip(p.t, {sticky: true}); }")
    # moved pairs draw first, so gained and lost outlines lie on top
    for status in STATUSES:
        if features[status]:
            folium.GeoJson({"type": "FeatureCollection", "features": features[status]},
                           style_function=lambda f: {}, on_each_feature=js).add_to(groups[status])
    for ch in comp.changes:
        a = comp.sites_a.iloc[ch.index_a] if ch.index_a is not None else None
        b = comp.sites_b.iloc[ch.index_b] if ch.index_b is not None else None
        loc = _location(b, web_b.get(ch.index_b)) if b is not None else \
            _location(a, web_a.get(ch.index_a))
        if loc is None:
            continue
        label = _marker_label(ch)
        width = 12 + 7 * len(label)
        icon = folium.DivIcon(html=esc(label), icon_size=(width, 22),
                              icon_anchor=(width // 2, 11), popup_anchor=(0, -10),
                              class_name=f"cmp-rank {_marker_class(ch)}")
        popup = folium.Popup(folium.Html(_popup_html(comp, ch), script=True), max_width=620,
                             auto_pan_padding_top_left=[20, 20],
                             auto_pan_padding_bottom_right=[20, 20])
        best = min(r for r in (ch.rank_a, ch.rank_b) if r is not None)
        folium.Marker(location=loc, icon=icon, popup=popup,
                      tooltip=folium.Tooltip(f"{esc(label)} {esc(ch.name)}"),
                      z_index_offset=10_000 - best).add_to(groups[ch.status])
    for status in STATUSES:
        groups[status].add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    if bounds:
        m.fit_bounds(bounds, padding_top_left=(390, 30), padding_bottom_right=(30, 30), max_zoom=14)
    figure.header.add_child(_Raw(_CSS), name="compare_css")
    figure.html.add_child(_Raw(_box_html(comp)), name="compare_box")
    return figure.render()


# --------------------------------------------------------------------------- helpers

def _text(row: Any, column: str) -> str:
    if row is None:
        return ""
    value = row.get(column)
    try:
        if value is None or pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)
