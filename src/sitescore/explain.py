"""Why a site ranks where it does: its breakdown per criterion, what excluded the land around it,
and the smallest change of one weight that would move it into or out of the top k."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Config
from .errors import DataError
from .formatting import cell_text, fmt_pct, pathway_text
from .safe_text import terminal_text

BAR_WIDTH = 24


@dataclass
class RunTables:
    sites: pd.DataFrame
    cells: pd.DataFrame
    manifest: dict


def read_run(run_dir: Path) -> RunTables:
    """The tables a run wrote (sites, cells, manifest)."""
    need = [run_dir / "sites.parquet", run_dir / "cells.parquet", run_dir / "manifest.json"]
    for path in need:
        if not path.exists():
            raise DataError("not found; run `sitescore run` for this study first (with the "
                            "parquet output format)", file=path)
    import geopandas as gpd

    return RunTables(gpd.read_parquet(need[0]), gpd.read_parquet(need[1]),
                     json.loads(need[2].read_text(encoding="utf-8")))


def criteria_of(sites: pd.DataFrame) -> list[str]:
    return [c.removeprefix("contribution__") for c in sites.columns if c.startswith("contribution__")]


def exclusion_summary(cells: pd.DataFrame, manifest: dict) -> list[str]:
    """Cells excluded by each constraint (numbers stripped to group them), and land excluded
    before gridding by each rule, in acres."""
    lines = []
    reasons = cells.loc[cells["excluded"].astype(bool), "exclusion_reason"].dropna().astype(str)
    if len(reasons):
        rule = reasons.map(lambda r: re.sub(r"^(.*?) [-\d.,e+]+(?: [^<>\s]+)? ([<>]) ", r"\1 \2 ", r))
        for text, count in rule.value_counts().sort_index().items():
            example = reasons[rule == text].iloc[0]
            lines.append(f"{count:>6} cells excluded: {text} (e.g. {example})")
    for reason, acres in sorted((manifest.get("excluded_acres_by_rule") or {}).items()):
        if acres:
            lines.append(f"{acres:>12,.0f} acres of land excluded: {reason}")
    return lines


def pathway_lines(site: pd.Series) -> list[str]:
    """How the site's land could be had: its main pathway, and every pathway under it by acres."""
    text = pathway_text(site.to_dict())
    if not text:
        return []
    lines = [f"  land: {terminal_text(text)}"]
    mix = cell_text(site.to_dict(), "pathway_acres")
    if ";" in mix:
        lines.append(f"  land under it: {terminal_text(mix)}")
    return lines


def explain_site(cfg: Config, tables: RunTables, site: int, top_k: int = 10) -> str:
    """The text `sitescore explain` prints. Names, labels and reasons come from the data and the
    config, so each goes through `terminal_text`: no escape sequence reaches the terminal."""
    sites = tables.sites
    row = sites.loc[sites["rank"] == site]
    if row.empty:
        raise DataError(f"there is no site {site} (the run ranked {len(sites)})",
                        file=tables.manifest.get("study"))
    s = row.iloc[0]
    names = criteria_of(sites)
    labels = {n: terminal_text((cfg.criteria[n].label or n) if n in cfg.criteria else n)
              for n in names}
    units = {n: terminal_text((cfg.criteria[n].unit or "") if n in cfg.criteria else "")
             for n in names}
    method = tables.manifest.get("config", {}).get("aggregation", "weighted_sum")
    out = [f"Site {int(s['rank'])} of {len(sites)}: {terminal_text(s['name'])}",
           f"  score {s['score']:.3f} ({method}), "
           f"{s['acres']:,.0f} acres in {int(s['n_cells'])} cells, "
           f"at {float(s['lon'])!r}, {float(s['lat'])!r}",  # every digit of the given point
           *pathway_lines(s),
           *left_out_paragraph(tables.manifest),
           "", f"  {'criterion':<44} {'raw value':>16} {'score':>6} {'weight':>7} {'contribution':>12}"]
    max_c = max(float(s[f"contribution__{n}"]) for n in names) or 1.0
    for n in sorted(names, key=lambda n: -float(s[f"contribution__{n}"])):
        raw_text = _raw_text(s[f"raw__{n}"], units[n])
        contrib = float(s[f"contribution__{n}"])
        bar = "█" * round(BAR_WIDTH * contrib / max_c)
        out.append(f"  {labels[n][:44]:<44} {raw_text:>16} {float(s[f'value__{n}']):>6.2f} "
                   f"{float(s[f'weight__{n}']):>6.1%} {contrib:>12.3f} {bar}")
    out += readiness_lines(s)
    out.append("")
    flips = _flips(cfg, tables, top_k)
    if flips is not None:
        mine = flips[flips["site_id"] == s["site_id"]].dropna(subset=["factor"])
        inside = int(s["rank"]) <= top_k
        if mine.empty:
            out.append(f"  No change of a single weight moves this site {'out of' if inside else 'into'} "
                       f"the top {top_k}.")
        else:
            mine = mine.assign(distance=np.abs(np.log(mine["factor"].astype(float))))
            out.append(f"  Smallest single-weight changes that move it {'out of' if inside else 'into'} "
                       f"the top {top_k}:")
            for _, f in mine.sort_values(["distance", "criterion"]).head(3).iterrows():
                out.append(f"    {labels.get(f['criterion'], terminal_text(f['criterion']))}: "
                           f"weight x {f['factor']:.2f}")
    excl = [terminal_text(e) for e in exclusion_summary(tables.cells, tables.manifest)]
    if excl:
        out += ["", "  What excluded land and cells in this study:", *["  " + e for e in excl]]
    return "\n".join(out)


def readiness_lines(s: pd.Series) -> list[str]:
    """What the site costs to make ready (config `costs:`): base, range and percentiles of the
    total, each connection's route and cost, and why a cost is missing."""
    if "readiness_cost_musd" not in s.index:
        return []
    total = s["readiness_cost_musd"]
    if total is None or not np.isfinite(float(total)):
        return ["", f"  Readiness cost: missing ({terminal_text(str(s.get('readiness_cost_note')))})"]
    low, high, p10, p90 = (float(s[f"readiness_cost_{k}_musd"]) for k in ("low", "high", "p10", "p90"))
    out = ["", f"  Readiness cost: {float(total):,.1f} M$ base (low {low:,.1f}, high {high:,.1f}; "
               f"P10-P90 of the unit-cost draws {p10:,.1f} to {p90:,.1f} M$)"]
    for col in s.index:
        if col.endswith("_cost_musd") and not col.startswith("readiness_cost"):
            name = col.removesuffix("_cost_musd")
            km = s.get(f"{name}_route_km")
            route = f", {float(km):,.1f} km route" if km is not None and np.isfinite(float(km)) else ""
            out.append(f"    {terminal_text(name)}: {float(s[col]):,.1f} M${route}")
    return out


def left_out_paragraph(manifest: dict) -> list[str]:
    """What the run's scores stand for, from its manifest: the criteria left out (layer or
    field missing, values all missing or constant), each with its share of the configured
    weight, and the share kept; nothing when every criterion was scored."""
    left_out = [x for x in manifest.get("left_out") or [] if isinstance(x, dict)]
    if not left_out:
        return []
    kept = float(manifest.get("weight_kept", 1.0))
    n = int(manifest.get("criteria_configured") or 0)
    counted = f" ({n - len(left_out)} of {n} criteria)" if n else ""
    out = ["", f"  These scores stand for {fmt_pct(kept)} of the configured weight{counted}; "
               "left out of this run:"]
    for x in left_out:
        out.append(f"    {terminal_text(str(x.get('criterion')))}: "
                   f"{terminal_text(str(x.get('reason')))} "
                   f"({fmt_pct(float(x.get('weight_share') or 0.0))} of the weight)")
    if manifest.get("partial"):
        floor = (manifest.get("config") or {}).get("min_weight_kept")
        below = f" min_weight_kept {fmt_pct(float(floor))}" if floor is not None else \
            " min_weight_kept"
        out.append(f"  The run went on below{below} (--allow-partial): read the ranking with "
                   "that in mind.")
    return out


def _raw_text(raw: object, unit: str) -> str:
    if isinstance(raw, (int, float, np.floating)) and np.isfinite(raw):
        value = float(raw)
        number = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
        return f"{number} {unit}".strip()
    return "missing" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else str(raw)


def _flips(cfg: Config, tables: RunTables, top_k: int) -> pd.DataFrame | None:
    from .sensitivity import site_matrix, weight_to_flip

    criteria = {n: cfg.criteria[n] for n in criteria_of(tables.sites) if n in cfg.criteria}
    if len(criteria) < 2:
        return None
    sm = site_matrix(tables.sites, None, criteria)
    return weight_to_flip(sm, cfg.aggregation, top_k)
