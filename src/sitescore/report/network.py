"""The report's network sections: the parks chosen by role and why, the links, how the choice
was solved beside the greedy answer, and the constraints it kept.

They read the network's record (the manifest's `network` entry) and its parks and links tables;
every data string goes through `formatting.esc`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..formatting import esc, fmt_number, fmt_pct, to_float


def _cell(value: Any, unit: str = "", digits: int | None = None) -> str:
    x = to_float(value)
    if x is None:
        return esc("" if value is None or (isinstance(value, float) and pd.isna(value)) else value)
    return esc(f"{x:.{digits}f}" if digits is not None else fmt_number(x, unit))


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _solve_html(record: Mapping[str, Any]) -> str:
    solve = record.get("solve") or {}
    greedy = record.get("greedy") or {}
    model = solve.get("model") or {}
    gap = to_float(solve.get("gap"))
    lines = [
        ("Status", f"{solve.get('status')}" + (f" (gap {fmt_pct(gap)})" if gap else "")),
        ("Objective (exact)", _cell(solve.get("objective"), digits=4)),
        ("Best bound", _cell(solve.get("bound"), digits=4)),
        ("Objective (greedy)", _cell(greedy.get("objective"), digits=4)
         + ("" if greedy.get("feasible") else " — breaks: " + esc("; ".join(greedy.get("broken") or [])))),
        ("Exact over greedy", esc(greedy.get("improvement") or "n/a")),
        ("Solve time", f"{_cell(solve.get('seconds'), digits=2)} s"),
        ("Model", esc(f"{model.get('variables', 0):,} binary variables, "
                      f"{model.get('constraints', 0):,} constraints, "
                      f"{model.get('nonzeros', 0):,} nonzeros over {model.get('sites', 0):,} "
                      f"candidate sites x {model.get('roles', 0)} roles")),
        ("Solver", esc(solve.get("solver") or "")),
    ]
    rows = "".join(f"<tr><th>{esc(a)}</th><td>{b}</td></tr>" for a, b in lines)
    return (f"<table>{rows}</table><p class='small muted'>The greedy answer takes the best site "
            "per role in turn, as a spreadsheet would; the exact one solves all roles and "
            "constraints together (a mixed-integer programme).</p>")


def _roles_html(record: Mapping[str, Any]) -> str:
    rows = []
    for name, r in (record.get("roles") or {}).items():
        count = r.get("count") or {}
        asked = str(count.get("min")) if count.get("min") == count.get("max") else \
            f"{count.get('min')}–{count.get('max')}"
        rows.append([esc(name), esc(r.get("preset")), esc(asked), esc(r.get("parks")),
                     _cell(r.get("power_mw"), "MW"), _cell(r.get("water_mgd"), "MGD"),
                     esc(r.get("candidates_qualifying")), esc(fmt_pct(r.get("weight_kept")))])
    return _table(["Role", "Preset", "Parks asked", "Chosen", "Power each", "Water each",
                   "Candidates qualifying", "Preset weight scored"], rows)


def _parks_html(parks: pd.DataFrame, roles: list[str]) -> str:
    rows = []
    for _, p in parks.iterrows():
        others = ", ".join(f"{r} {float(p[f'score__{r}']):.3f}" for r in roles
                           if r != p["role"] and to_float(p.get(f"score__{r}")) is not None)
        power = "" if to_float(p.get("power_budget_mw")) is None else \
            f"{fmt_number(p.get('power_load_mw'))} / {fmt_number(p.get('power_budget_mw'), 'MW')}"
        stay = fmt_pct(p["p_stay"]) if "p_stay" in p and to_float(p["p_stay"]) is not None else ""
        rows.append([esc(p["park"]), esc(p["role"]), esc(p["name"]), esc(p.get("state") or ""),
                     _cell(p.get("acres")), _cell(p["score"], digits=3), esc(others), esc(power),
                     esc(p.get("links") or ""), esc(stay), esc(p.get("why") or "")])
    return _table(["Park", "Role", "Site", "State", "Acres", "Score", "Score in other roles",
                   "Load / budget within reach", "Linked to", "Stays (draws)",
                   "Why over the best site left out"], rows)


def _links_html(links: pd.DataFrame) -> str:
    if links is None or len(links) == 0:
        return "<p>The network has no links.</p>"
    rows = [[esc(r["from_park"]), esc(r["from_role"]), esc(r["to_park"]), esc(r["to_role"]),
             _cell(r["km"], digits=1), _cell(r["max_km"], digits=0), esc(r["by"])]
            for _, r in links.iterrows()]
    return _table(["From park", "Role", "To park", "Role", "km", "Within km", "Measured"], rows)


def _constraints_html(record: Mapping[str, Any]) -> str:
    items = "".join(f"<li><code>{esc(k)}</code>: {esc(v)}</li>"
                    for k, v in (record.get("constraints") or {}).items())
    return f"<ul>{items}</ul>" if items else "<p>No network constraint beyond the role counts.</p>"


def network_sections(record: Mapping[str, Any], parks: pd.DataFrame,
                     links: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The network's sections as (anchor, heading, HTML body), in page order."""
    roles = list((record.get("roles") or {}).keys())
    robust = record.get("robustness")
    said = (f"<p>Stays (draws): the share of {robust.get('draws')} Monte Carlo weight draws "
            "(each role's weights drawn around its preset's) in which the park's site holds the "
            "same role in the optimal network.</p>") if robust else ""
    return [
        ("network-parks", "Network of parks",
         _roles_html(record) + _parks_html(parks, roles) + said),
        ("network-links", "Links between parks", _links_html(links)),
        ("network-solve", "How the network was chosen", _solve_html(record)),
        ("network-constraints", "Network constraints", _constraints_html(record)),
    ]
