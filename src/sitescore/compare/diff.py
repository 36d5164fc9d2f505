"""`compare_runs`: run B against run A, site by site and criterion by criterion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd

from ..errors import DataError
from ..formatting import to_float
from .matching import drivers, match_sites
from .model import Comparison, CriterionChange, SiteChange, site_text
from .runs import configured_weights, criteria_of, effective_shares, read_manifest, read_sites, run_folder


def compare_runs(run_a: Path, run_b: Path, top: int | None = None) -> Comparison:
    """Compare run B against run A (both run folders as `sitescore run` writes them).

    With ``top``, only sites ranked in the top ``top`` of either run are kept (matching is done
    over all sites first, so a site that left the top N shows where it went).
    """
    if top is not None and top < 1:
        raise DataError(f"--top must be at least 1 (got {top})")
    folder_a, folder_b = run_folder(Path(run_a)), run_folder(Path(run_b))
    for folder in (folder_a, folder_b):
        if not folder.exists():
            raise DataError("run folder not found", file=folder)
        if not folder.is_dir():
            raise DataError("not a run folder (give a folder such as runs/<study>)", file=folder)
    man_a, man_b = read_manifest(folder_a), read_manifest(folder_b)
    sites_a, sites_b = read_sites(folder_a), read_sites(folder_b)
    names_a, names_b = criteria_of(sites_a, man_a), criteria_of(sites_b, man_b)
    criteria = _criterion_changes(sites_a, sites_b, man_a, man_b, names_a, names_b)
    changes = _site_changes(sites_a, sites_b, names_a, names_b, top)
    return Comparison(
        run_a=folder_a, run_b=folder_b,
        study_a=str(man_a.get("study") or folder_a.name),
        study_b=str(man_b.get("study") or folder_b.name),
        title_a=str(man_a.get("title") or man_a.get("study") or folder_a.name),
        title_b=str(man_b.get("title") or man_b.get("study") or folder_b.name),
        sites_a=sites_a, sites_b=sites_b, criteria=criteria, changes=changes, top=top,
        synthetic=bool(man_a.get("synthetic") or man_b.get("synthetic")),
        notes=_notes(man_a, man_b))


def _criterion_changes(sites_a: gpd.GeoDataFrame, sites_b: gpd.GeoDataFrame,
                       man_a: dict[str, Any], man_b: dict[str, Any], names_a: list[str],
                       names_b: list[str]) -> list[CriterionChange]:
    """Every criterion of either run, with its configured weight and share in each."""
    conf_a, labels_a = configured_weights(man_a)
    conf_b, labels_b = configured_weights(man_b)
    share_a = effective_shares(sites_a, names_a, conf_a)
    share_b = effective_shares(sites_b, names_b, conf_b)
    return [CriterionChange(
        name=n, label=labels_b.get(n) or labels_a.get(n) or n,
        share_a=share_a.get(n) if n in names_a else None,
        share_b=share_b.get(n) if n in names_b else None,
        configured_a=conf_a.get(n) if n in names_a else None,
        configured_b=conf_b.get(n) if n in names_b else None,
    ) for n in dict.fromkeys([*names_a, *names_b])]


def _site_changes(sites_a: gpd.GeoDataFrame, sites_b: gpd.GeoDataFrame, names_a: list[str],
                  names_b: list[str], top: int | None) -> list[SiteChange]:
    """Matched pairs (moved), then B's unmatched (gained) and A's (lost), by rank in B."""
    names = list(dict.fromkeys([*names_a, *names_b]))
    pairs = match_sites(sites_a.geometry.values, sites_b.geometry.values)
    in_a, in_b = set(names_a), set(names_b)
    matched_a = {i for i, _, _ in pairs}
    matched_b = {j for _, j, _ in pairs}
    changes: list[SiteChange] = []
    for i, j, share in pairs:
        a, b = sites_a.iloc[i], sites_b.iloc[j]
        changes.append(SiteChange(
            "moved", int(a["rank"]), int(b["rank"]), site_text(b, "name") or site_text(a, "name"),
            to_float(a["score"]), to_float(b["score"]), share,
            drivers(a, b, names, in_a, in_b), i, j))
    for j in range(len(sites_b)):
        if j not in matched_b:
            b = sites_b.iloc[j]
            changes.append(SiteChange("gained", None, int(b["rank"]), site_text(b, "name"),
                                      None, to_float(b["score"]), None, (), None, j))
    for i in range(len(sites_a)):
        if i not in matched_a:
            a = sites_a.iloc[i]
            changes.append(SiteChange("lost", int(a["rank"]), None, site_text(a, "name"),
                                      to_float(a["score"]), None, None, (), i, None))
    if top is not None:
        changes = [c for c in changes if (c.rank_a is not None and c.rank_a <= top)
                   or (c.rank_b is not None and c.rank_b <= top)]
    changes.sort(key=lambda c: (c.rank_b is None, c.rank_b if c.rank_b is not None else 0,
                                c.rank_a if c.rank_a is not None else 0))
    return changes


def _notes(man_a: dict[str, Any], man_b: dict[str, Any]) -> list[str]:
    """What a reader of the comparison must know about how the two runs differ in kind."""
    notes = []
    for label, man in (("A", man_a), ("B", man_b)):
        agg = (man.get("config") or {}).get("aggregation")
        if agg and agg != "weighted_sum":
            notes.append(f"run {label} aggregates with {agg}: contribution changes need not "
                         "add up to the score change")
    if (man_a.get("config") or {}).get("area") != (man_b.get("config") or {}).get("area"):
        notes.append("the two runs have different study areas: sites outside the common area "
                     "show as gained or lost")
    return notes
