"""What a click or a hover shows: input-layer tooltips and a ranked site's breakdown popup.

Every data string is escaped here, before it goes anywhere near the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import branca.colormap as bcm
import numpy as np

from sitescore.formatting import cell_text, esc, fmt_number, fmt_pct, pathway_text, to_float
from sitescore.scoring import CriterionInfo

from .styles import layer_label, score_colour

# (label, column, unit) rows of each layer's tooltip; the first row is its bold heading.
TOOLTIP_FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "federal_land": [("", "unit_name", ""), ("Managed by", "mang_name", ""),
                     ("Agency", "agency_label", ""), ("Owner", "own_name", ""),
                     ("Designation", "designation", ""), ("Designation type", "designation_label", ""),
                     ("GAP status", "gap_status", ""), ("Area", "gis_acres", "acres")],
    "protected_areas": [("", "name", ""), ("Designation", "designation", "")],
    "water_stress": [("", "bws_label", ""), ("Stress score (0-5)", "bws_score", ""),
                     ("Category", "bws_cat", "")],
    "counties": [("", "name", ""), ("Population", "population", ""),
                 ("Labour force", "labor_force", ""), ("Employed", "employed", ""),
                 ("Manufacturing jobs", "manufacturing_employment", ""),
                 ("Bachelor's or higher", "bachelors_or_higher", "")],
    "states": [("", "name", "")],
    "candidates": [("", "name", ""), ("Id", "candidate_id", "")],
    "rivers": [("", "name", ""), ("Kind", "feature_class", "")],
    "rail": [("", "owner", ""), ("Network", "network", ""), ("Tracks", "tracks", "")],
    "roads": [("", "name", ""), ("Class", "road_class", "")],
    "transmission_lines": [("Voltage", "voltage_kv", "kV"), ("Owner", "owner", ""),
                           ("Status", "status", ""), ("Line", "line_id", "")],
    "substations": [("", "name", ""), ("Max voltage", "max_volt_kv", "kV"),
                    ("Status", "status", "")],
    "airports": [("", "name", ""), ("IATA", "iata_code", ""), ("Type", "airport_type", "")],
    "power_plants": [("", "plant_name", ""), ("Fuel", "primary_fuel", ""),
                     ("Capacity", "capacity_mw", "MW")],
}


def layer_tooltip(layer: str, row: Mapping[Any, Any], columns: Sequence[str]) -> str:
    """Escaped tooltip HTML for one feature of an input layer."""
    fields = TOOLTIP_FIELDS.get(layer)
    if fields is None:  # unknown layer: its first few columns
        fields = [(c, c, "") for c in columns[:5]]
    parts = []
    for label, column, unit in fields:
        if column not in row:
            continue
        value = row[column]
        if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
            if to_float(value) is None:
                continue
            text = fmt_number(value, unit)
        else:
            text = cell_text(row, column)
            if not text:
                continue
        if label:
            parts.append(f"{esc(label)}: {esc(text)}")
        else:
            parts.append(f"<b>{esc(text)}</b>")
    return f"<div class=\"ss-tip-layer\">{esc(layer_label(layer))}</div>" + "<br>".join(parts)


def _bar(fraction: float | None, colour: str, width_px: float = 56.0) -> str:
    f = 0.0 if fraction is None else min(1.0, max(0.0, fraction))
    return (f'<span class="ss-bar" style="width:{width_px:.0f}px">'
            f'<span style="width:{100 * f:.0f}%;background:{colour}"></span></span>')


def _breakdown_rows(site: Mapping[str, Any], criteria: Sequence[CriterionInfo],
                    colormap: bcm.LinearColormap) -> tuple[list[str], float]:
    """One table row per criterion (raw value, score, weight, contribution), and their sum."""
    weights = []
    for c in criteria:
        w = to_float(site.get(f"weight__{c.name}"))
        weights.append(c.weight if w is None else w)
    w_max = max([w for w in weights if w is not None] + [1e-9])
    rows = []
    total = 0.0
    for c, w in zip(criteria, weights, strict=True):
        raw = site.get(f"raw__{c.name}")
        value = to_float(site.get(f"value__{c.name}"))
        contrib = to_float(site.get(f"contribution__{c.name}"))
        if contrib is None and value is not None and w is not None:
            contrib = w * value
        total += contrib or 0.0
        label = esc(c.label)
        title = f' title="{esc(c.value_description)}"' if c.value_description else ""
        value_cell = "n/a"
        if value is not None:
            value_cell = f"{_bar(value, score_colour(value, colormap), 48)} {value:.2f}"
        contrib_cell = "n/a"
        if contrib is not None:
            # The bar's length is the weight (the most it could add), its fill what it adds.
            share = contrib / w if w else 0.0
            contrib_cell = f"{_bar(share, '#1f6fb2', 12 + 58 * w / w_max)} {contrib:.3f}"
        rows.append(
            f'<tr data-criterion="{esc(c.name)}"><td{title}>{label}</td>'
            f'<td class="ss-num">{esc(fmt_number(raw, c.unit))}</td>'
            f'<td>{value_cell}</td><td class="ss-num ss-w">{fmt_pct(w)}</td>'
            f'<td class="ss-c">{contrib_cell}</td></tr>'
        )
    return rows, total


def place_text(site: Mapping[str, Any]) -> str:
    """Escaped 'Site 7 · 35.2866°N, 106.4880°W · Sandoval County · 12 km from Double Eagle II
    Airport': what tells sites of one forest apart (the twin of map.js `placeLine`)."""
    parts = []
    sid = cell_text(site, "site_id")
    if sid:
        parts.append(f"Site {esc(sid)}")
    lon, lat = to_float(site.get("lon")), to_float(site.get("lat"))
    if lon is not None and lat is not None:
        parts.append(f"{abs(lat):.4f}°{'N' if lat >= 0 else 'S'}, "
                     f"{abs(lon):.4f}°{'E' if lon >= 0 else 'W'}")
    county = cell_text(site, "county")
    if county:
        parts.append(f"{esc(county)} County")
    near = cell_text(site, "near")
    if near:
        parts.append(esc(near))
    return " &middot; ".join(parts)


def site_popup(site: Mapping[str, Any], criteria: Sequence[CriterionInfo],
               colormap: bcm.LinearColormap) -> str:
    """Escaped popup HTML: the site's identity and its per-criterion breakdown."""
    rank = int(site["rank"])
    score = to_float(site.get("score"))
    where = " · ".join(esc(x) for x in (cell_text(site, "agency"), cell_text(site, "unit_name"),
                                         cell_text(site, "state")) if x)
    rows, total = _breakdown_rows(site, criteria, colormap)
    score_text = f"{score:.3f}" if score is not None else f"{total:.3f}"
    acres = fmt_number(site.get("acres"))
    n_cells = to_float(site.get("n_cells"))
    cells_text = f" · {int(n_cells)} cells" if n_cells is not None else ""
    return (
        f'<div class="ss-popup" data-rank="{rank}">'
        f'<div class="ss-pop-title"><span class="ss-pop-rank">#{rank}</span> '
        f'{esc(cell_text(site, "name"))}</div>'
        f'<div class="ss-pop-meta">{where}<br><span class="ss-pop-place">{place_text(site)}'
        f'</span><br>{esc(acres)} acres{cells_text} · '
        f'score <b class="ss-pop-score">{score_text}</b>{_pathway_html(site)}</div>'
        f'<table class="sitescore-breakdown"><thead><tr><th>Criterion</th><th>Raw value</th>'
        f'<th>Score 0..1</th><th>Weight</th><th>Contribution</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody>'
        f'<tfoot><tr><td colspan="4">Total score</td>'
        f'<td class="ss-num ss-pop-score">{score_text}</td></tr>'
        f'</tfoot></table>{_stability_html(site)}</div>'
    )


def _pathway_html(site: Mapping[str, Any]) -> str:
    """The site's land pathway under its identity: how the land could be had, how fast."""
    text = pathway_text(site)
    if not text:
        return ""
    mix = cell_text(site, "pathway_acres")
    title = f' title="{esc(mix)}"' if ";" in mix else ""
    return f'<br><span class="ss-pop-pathway"{title}>Land: {esc(text)}</span>'


def stability_tooltip(record: Mapping[str, Any], share: float) -> str:
    """The rank-stability ring's tooltip: how often the site stays in the top k."""
    return (f"#{int(record['rank'])}: in the top in {fmt_pct(share, places=0)} of draws, "
            f"median rank {fmt_number(record.get('median_rank'))}")


def _stability_html(site: Mapping[str, Any]) -> str:
    """Rank stability from `sitescore sensitivity`, when the run computed it."""
    p_cols = [k for k in site if str(k).startswith("p_top_")]
    median, lo, hi = (to_float(site.get(k)) for k in ("median_rank", "rank_p05", "rank_p95"))
    if not p_cols or median is None:
        return ""
    k = str(p_cols[0]).removeprefix("p_top_")
    p = to_float(site.get(p_cols[0])) or 0.0
    return (f'<div class="ss-stability">Rank stability under weight doubt: in the top {esc(k)} in '
            f'<b>{fmt_pct(p, places=0)}</b> of draws; median rank {median:.0f}, 90% interval '
            f'{lo:.0f}–{hi:.0f}. <a href="sensitivity/index.html" target="_blank">Weight sweeps'
            '</a></div>')
