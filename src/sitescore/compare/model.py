"""The comparison of two runs as data: per criterion, per site, and the whole."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ..formatting import cell_text, to_float

#: Drivers shown in the table's text column (all are in the CSV and the popups).
TOP_DRIVERS = 3
#: A contribution change smaller than this is "no change" in the text (it prints as 0.000).
DRIVER_MIN = 0.0005
#: What a site can be in a comparison.
STATUSES = ("moved", "gained", "lost")


def site_text(row: Any, column: str) -> str:
    """A site's cell as text, '' where there is no site (gained or lost) or no value."""
    return "" if row is None else cell_text(row, column)


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
                "agency": site_text(here, "agency"),
                "unit_name": site_text(here, "unit_name"),
                "state": site_text(here, "state"),
                "score_a": ch.score_a,
                "score_b": ch.score_b,
                "score_change": ch.score_change,
                "acres_a": to_float(a.get("acres")) if a is not None else None,
                "acres_b": to_float(b.get("acres")) if b is not None else None,
                "overlap": ch.overlap,
                "lon": to_float(here.get("lon")) if here is not None else None,
                "lat": to_float(here.get("lat")) if here is not None else None,
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
