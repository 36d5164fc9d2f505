"""The comparison as printed by `sitescore compare`: header, weight changes, one line a site."""

from __future__ import annotations

from ..formatting import fmt_pct
from ..safe_text import terminal_text
from .model import Comparison, SiteChange

#: Rows printed by default when no --top is given (all rows are in compare.csv).
PRINT_ROWS = 30


def rank_text(r: int | None, missing: str) -> str:
    return missing if r is None else str(r)


def score_text(s: float | None) -> str:
    return "-" if s is None else f"{s:.3f}"


def _change_text(ch: SiteChange) -> str:
    if ch.status != "moved":
        return ch.status
    rc = ch.rank_change or 0
    return f"{rc:+d}" if rc else "0"


def share_text(w: float | None) -> str:
    """A weight share, one decimal so the columns line up: '25.0%'."""
    return fmt_pct(w, places=1, missing="-")


def weight_text(w: float | None) -> str:
    return "-" if w is None else f"{w:g}"


def weight_lines(comp: Comparison) -> list[str]:
    """What changed in the weighting, in a few lines."""
    lines = []
    changed = comp.weight_changes
    if changed:
        parts = []
        for c in changed:
            if c.configured_a is not None and c.configured_b is not None:
                parts.append(f"{c.name} {weight_text(c.configured_a)} -> {weight_text(c.configured_b)} "
                             f"(share {share_text(c.share_a)} -> {share_text(c.share_b)})")
            else:
                parts.append(f"{c.name} share {share_text(c.share_a)} -> {share_text(c.share_b)}")
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
    for ch, name in zip(rows, names, strict=True):
        ranks = f"{rank_text(ch.rank_a, 'new'):>4} -> {rank_text(ch.rank_b, 'out'):<4}"
        scores = f"{score_text(ch.score_a):>5} -> {score_text(ch.score_b):<5}"
        name = name if len(name) <= name_w else name[:name_w - 1] + "…"
        lines.append(f"{ranks:>12}  {_change_text(ch):>6}  {scores:>14}  {name:<{name_w}}  "
                     f"{ch.drivers_text()}".rstrip())
    if limit is not None and len(comp.changes) > limit:
        lines.append(f"... {len(comp.changes) - limit} more in compare.csv")
    for note in comp.notes:
        lines.append(f"note: {note}")
    return lines
