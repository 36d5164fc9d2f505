"""The report's "Can the land be had?" section: candidate acres by land pathway, the top sites'
pathways, the limits the study applied and the codes the table could not judge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..formatting import cell_text, esc, fmt_number, pathway_text


def pathway_section(rows: list[dict[str, Any]], manifest: Mapping[str, Any]) -> str | None:
    """The section's HTML, or None when the run resolved no pathways (an old manifest)."""
    record = manifest.get("land_pathways") or {}
    acres = record.get("candidate_acres_by_pathway") or {}
    if not acres and not any("pathway" in r for r in rows):
        return None
    total = sum(float(v) for v in acres.values()) or 1.0
    body = ["<p>Which legal instrument could put a park on each candidate's land, from "
            "sitescore's land-pathway table (every row cites its statute or CFR part; "
            "<code>docs/land_pathways.md</code>). Months run from application to a right to "
            "build; they are typical ranges, not promises.</p>"]
    if acres:
        lines = "".join(f'<tr><td>{esc(k)}</td><td class="num">{esc(fmt_number(v))}</td>'
                        f'<td class="num">{100 * float(v) / total:.1f}%</td></tr>'
                        for k, v in acres.items())
        body.append('<table class="pathway-acres"><thead><tr><th>Pathway</th><th class="num">'
                    'Candidate acres</th><th class="num">Share</th></tr></thead>'
                    f'<tbody>{lines}</tbody></table>')
    top = [r for r in rows[:10] if "pathway" in r or "pathway_acres" in r]
    if top:
        lines = "".join(f'<tr><td class="num">{int(r["rank"])}</td><td>{esc(r.get("name"))}</td>'
                        f'<td>{esc(pathway_text(r))}</td>'
                        f'<td class="small">{esc(cell_text(r, "pathway_acres"))}</td></tr>'
                        for r in top)
        body.append('<table class="pathway-sites"><thead><tr><th class="num">#</th><th>Site</th>'
                    '<th>Main pathway</th><th>Land under it</th></tr></thead>'
                    f'<tbody>{lines}</tbody></table>')
    limits = record.get("limits") or {}
    said = []
    if limits.get("exclude_unavailable"):
        said.append("land closed by statute removed")
    if limits.get("exclude_pathways"):
        said.append("land needing " + ", ".join(map(str, limits["exclude_pathways"])) + " removed")
    if limits.get("max_months") is not None:
        said.append(f"land taking more than {limits['max_months']:g} months "
                    f"({record.get('months_basis', 'typical')}) removed")
    if said:
        body.append(f"<p>Limits: {esc('; '.join(said))} (acres in Exclusions).</p>")
    for layer, a in (record.get("area_layers_acres") or {}).items():
        body.append(f"<p>Layer <code>{esc(layer)}</code> set the pathway of "
                    f"{esc(fmt_number(a))} acres of candidate land.</p>")
    unknown = int(record.get("unknown_parcels") or 0)
    if unknown:
        body.append(f'<p class="warn">{unknown} parcel{"s" if unknown != 1 else ""} carry codes '
                    "the table does not know and have no pathway (see the notes).</p>")
    return "".join(body)
