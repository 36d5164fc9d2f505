"""The report's "What each site costs to make ready" section: a cost breakdown chart of the top
sites (stacked by connection, whiskers from low to high), the table behind it with each cost's
range and missing reasons, and the unit costs used with their sources and dollar years."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..formatting import esc, fmt_number, to_float, write_atomic
from .figures import chart_text

COSTS_PNG = "readiness_costs.png"
#: Bar colours of the components, in order (as many as the config has connections, then grading).
PALETTE = ["#d62728", "#1f77b4", "#444444", "#8c564b", "#9467bd", "#2ca02c", "#ff7f0e"]


def components(sites: pd.DataFrame) -> list[str]:
    """The cost components the sites table carries (`<name>_cost_musd`), in table order."""
    return [c.removesuffix("_cost_musd") for c in sites.columns
            if c.endswith("_cost_musd") and not c.startswith("readiness_cost")]


def costs_section(folder: Path, sites: pd.DataFrame, manifest: Mapping[str, Any],
                  top: int) -> str | None:
    """The section's HTML (its chart written beside the report); None without a cost model."""
    if "readiness_cost_musd" not in sites.columns or "costs" not in manifest:
        return None
    ranked = sites.sort_values("rank", kind="stable").head(top) if "rank" in sites.columns \
        else sites.head(top)
    parts = components(ranked)
    chart = _chart(folder / COSTS_PNG, ranked, parts)
    head = "".join(f"<th>{esc(p)} (M$)</th>" for p in parts)
    body = []
    for _, r in ranked.iterrows():
        cells = "".join(f"<td>{fmt_number(r.get(f'{p}_cost_musd'))}</td>" for p in parts)
        low, base, high = (to_float(r.get(f"readiness_cost_{lv}_musd")) for lv in ("low", "base", "high"))
        total = (f"{fmt_number(base)} ({fmt_number(low)} to {fmt_number(high)}; P10-P90 "
                 f"{fmt_number(r.get('readiness_cost_p10_musd'))} to "
                 f"{fmt_number(r.get('readiness_cost_p90_musd'))})") if base is not None \
            else f"missing: {esc(r.get('readiness_cost_note'))}"
        body.append(f"<tr><td>{esc(r.get('rank'))}</td><td>{esc(r.get('name'))}</td>{cells}"
                    f"<td>{total}</td></tr>")
    record = manifest["costs"]
    sources = "".join(
        f"<li>{esc(u['class'])} {esc(u['key'])}: {fmt_number(u['base'])} {esc(u['unit'])} "
        f"(low {fmt_number(u['low'])}, high {fmt_number(u['high'])}; {esc(u['dollar_year'])} "
        f"dollars). {esc(u['source'])}</li>" for u in record.get("unit_costs", []))
    notes = "".join(f"<li>{esc(n)}</li>" for n in record.get("notes", []))
    years = sorted({u["dollar_year"] for u in record.get("unit_costs", [])})
    mixed = (f"<p>The unit costs are in dollars of {', '.join(map(str, years))}: totals add "
             "them as given, unescalated.</p>") if len(years) > 1 else ""
    figure = (f'<figure><img src="{esc(chart.name)}" alt="Readiness cost of the top sites by '
              f'component" width="760"><figcaption>Base cost by component (million $); the whisker '
              f'runs from every unit cost at its low to every one at its high.</figcaption></figure>'
              if chart else "")
    return (f"<p>Least-cost routes from each site to the nearest qualifying feature of each "
            f"connection's layer, over a {fmt_number(record['grid']['cell_km'], 'km')} friction "
            f"grid (slope from the DEM, excluded land impassable unless the config prices it), "
            f"priced with the unit costs below. A missing cost names its reason; it is never "
            f"zero.</p>{figure}<table><tr><th>rank</th><th>site</th>{head}<th>total (M$): base "
            f"(low to high; P10-P90 of the draws)</th></tr>{''.join(body)}</table>{mixed}"
            f"<h3>Unit costs used</h3><ul>{sources}</ul>" + (f"<ul>{notes}</ul>" if notes else ""))


def _chart(path: Path, ranked: pd.DataFrame, parts: Sequence[str]) -> Path | None:
    if not len(ranked) or not parts:
        return None
    from matplotlib.figure import Figure

    with chart_text():
        fig = Figure(figsize=(7.6, 3.4), dpi=100)
        ax = fig.add_subplot()
        x = np.arange(len(ranked))
        bottom = np.zeros(len(ranked))
        for i, p in enumerate(parts):
            v = np.nan_to_num(pd.to_numeric(ranked[f"{p}_cost_musd"], errors="coerce").to_numpy(float))
            ax.bar(x, v, bottom=bottom, color=PALETTE[i % len(PALETTE)], label=p, width=0.6)
            bottom += v
        base = pd.to_numeric(ranked["readiness_cost_musd"], errors="coerce").to_numpy(float)
        low = pd.to_numeric(ranked["readiness_cost_low_musd"], errors="coerce").to_numpy(float)
        high = pd.to_numeric(ranked["readiness_cost_high_musd"], errors="coerce").to_numpy(float)
        ok = np.isfinite(base)
        ax.errorbar(x[ok], base[ok], yerr=[base[ok] - low[ok], high[ok] - base[ok]], fmt="none",
                    ecolor="black", capsize=3, lw=1)
        ax.set_xticks(x, [str(r) for r in ranked.get("rank", pd.Series(x + 1))])
        ax.set_xlabel("site rank")
        ax.set_ylabel("million $")
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})  # same figure, same bytes
    write_atomic(path, buf.getvalue())
    return path
