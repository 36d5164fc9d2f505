"""The report's page sections: HTML text from the run's tables and manifest.

Each section is a function of what the run computed; every data string goes through
`formatting.esc` and every number through `formatting`'s formats, as on the map.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config import CriterionConfig
from ..formatting import esc, fmt_number, fmt_pct, pathway_text, to_float
from ..mcda import AGGREGATION_METHODS
from ..scoring import describe_value_function
from .figures import BAR_COLOR, criterion_label, criterion_unit, score_colour
from .pathways import pathway_section

SYNTHETIC_BANNER = "Synthetic demo data — not real places"
#: Sites listed with their breakdown, numbered on the overview map.
TOP_N = 10

#: The shipped methods' formulas as a reader of the page sees them (HTML). A method without one
#: here is explained by its own docstring's first paragraph (`aggregation_formula`), so a new
#: method needs nothing in the report.
FORMULAS = {
    "weighted_sum": ("score = Σ w<sub>j</sub> · v<sub>j</sub>: each criterion's 0..1 value times its "
                     "weight, added up. A weak criterion can be made up for by strong ones."),
    "weighted_product": ("score = Π v<sub>j</sub><sup>w<sub>j</sub></sup>: values raised to their "
                         "weights and multiplied. A value near 0 on any criterion pulls the score "
                         "down hard (little compensation)."),
    "topsis": ("score = d<sup>−</sup> / (d<sup>+</sup> + d<sup>−</sup>): closeness to the ideal "
               "alternative (best value on every criterion) relative to the anti-ideal, with "
               "weighted, vector-normalised values (Hwang &amp; Yoon 1981)."),
}


def aggregation_label(method: str) -> str:
    """A method's name as the page writes it: its registered label (`mcda`), capitalised."""
    spec = AGGREGATION_METHODS.get(method)
    label = spec.label if spec is not None else method
    return label[:1].upper() + label[1:]


def aggregation_formula(method: str) -> str:
    """How the method scores, as HTML: the formula above, else its docstring's first paragraph."""
    if method in FORMULAS:
        return FORMULAS[method]
    spec = AGGREGATION_METHODS.get(method)
    doc = inspect.getdoc(spec) if spec is not None else None
    return esc(" ".join(doc.split("\n\n")[0].split())) if doc else ""



def _fmt(value: Any, unit: str = "") -> str:
    """The map's number format; text is kept as it is."""
    if to_float(value) is None and isinstance(value, str) and value:
        return value
    return fmt_number(value, unit)



def _bytes(n: Any) -> str:
    x = to_float(n)
    if x is None:
        return ""
    for unit in ("B", "kB", "MB", "GB"):
        if x < 1000 or unit == "GB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1000
    return ""  # pragma: no cover



def _bar(fraction: float | None, colour: str = BAR_COLOR, width_px: int = 60) -> str:
    f = 0.0 if fraction is None else min(1.0, max(0.0, fraction))
    return (f'<span class="bar" style="width:{width_px}px">'
            f'<span style="width:{100 * f:.0f}%;background:{colour}"></span></span>')



# --------------------------------------------------------------------------- page sections

CSS = """
body { font: 14px/1.45 "Helvetica Neue", Arial, sans-serif; color: #222; margin: 0 auto;
  max-width: 1100px; padding: 0 20px 40px; }
h1 { font-size: 24px; margin: 18px 0 4px; }
h2 { font-size: 19px; margin: 30px 0 8px; border-bottom: 2px solid #ddd; padding-bottom: 3px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
.sub { color: #555; margin: 0 0 6px; }
.banner { background: #b00020; color: #fff; font-weight: 700; font-size: 16px; padding: 10px 14px;
  margin: 14px 0 6px; border-radius: 4px; text-align: center; letter-spacing: .02em; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot td { font-weight: 600; border-top: 1px solid #999; }
.bar { display: inline-block; height: 9px; background: #eee; border-radius: 2px;
  vertical-align: middle; margin-right: 4px; overflow: hidden; }
.bar > span { display: block; height: 100%; }
.muted { color: #666; }
.small { font-size: 12px; }
code { font-size: 12px; background: #f4f4f4; padding: 0 3px; border-radius: 2px; }
figure { margin: 8px 0; }
figure.map img { max-width: 100%; border: 1px solid #ccc; }
figcaption { color: #555; font-size: 12px; }
.site { margin: 14px 0 20px; page-break-inside: avoid; }
.site h3 .rank { color: #e0115f; }
.charts figure { display: inline-block; margin: 6px; vertical-align: top; }
img.vf { width: 240px; height: auto; }
nav ul { columns: 2; padding-left: 18px; margin: 6px 0; }
@media print { .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


def section(anchor: str, title: str, body: str) -> str:
    """One section of the page, its heading escaped, its anchor for the contents list."""
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>\n{body}\n</section>\n'


def site_rows(sites: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """The ranked sites as plain records, best first (rank given where the table has none)."""
    if not len(sites):
        return []
    if "rank" in sites.columns:
        sites = sites[sites["rank"].notna()].sort_values("rank", kind="stable")
    else:
        sites = sites.assign(rank=range(1, len(sites) + 1))
    table = pd.DataFrame(sites.drop(columns=sites.geometry.name, errors="ignore")
                         if isinstance(sites, gpd.GeoDataFrame) else sites)
    return [{str(k): v for k, v in row.items()} for row in table.to_dict("records")]


def agency_names(cfg: Any, manifest: Mapping[str, Any]) -> dict[str, str]:
    """Agency code -> name as the candidate land's file decodes it (PAD-US's Agency_Name lookup
    table, recorded in the manifest by the reader); empty where the file decodes none."""
    source = getattr(getattr(cfg, "candidates", None), "source", None)
    for rec in manifest.get("inputs") or []:
        if isinstance(rec, Mapping) and rec.get("layer") == source:
            labels = rec.get("agency_labels")
            return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}
    return {}


def _agency(code: Any, names: Mapping[str, str]) -> str:
    """'Department of Defense (DOD)' where the code is decoded, else the code as it is."""
    text = "" if code is None or (isinstance(code, float) and pd.isna(code)) else str(code)
    name = names.get(text)
    return f"{name} ({text})" if name else text


def _top_table(rows: list[dict[str, Any]], agencies: Mapping[str, str] | None = None) -> str:
    if not rows:
        return "<p>No site was found.</p>"
    body = []
    for r in rows:
        score = to_float(r.get("score"))
        lon, lat = to_float(r.get("lon")), to_float(r.get("lat"))
        where = f"{lat:.4f}, {lon:.4f}" if lon is not None and lat is not None else ""
        body.append(
            f'<tr data-rank="{int(r["rank"])}"><td class="num">{int(r["rank"])}</td>'
            f'<td><a href="#site-{int(r["rank"])}">{esc(r.get("name"))}</a></td>'
            f'<td>{esc(_agency(r.get("agency"), agencies or {}))}</td>'
            f'<td>{esc(r.get("unit_name"))}</td>'
            f'<td>{esc(r.get("state"))}</td>'
            f'<td class="num">{esc(_fmt(r.get("acres")))}</td>'
            f'<td class="num">{esc(_fmt(r.get("n_cells")))}</td>'
            f'<td class="num score">{_bar(score, score_colour(score), 50)}'
            f'{"n/a" if score is None else f"{score:.3f}"}</td>'
            f'<td class="num small">{where}</td></tr>')
    return ('<table class="top-sites"><thead><tr><th class="num">#</th><th>Site</th>'
            '<th>Agency</th><th>Unit</th><th>State</th><th class="num">Acres</th>'
            '<th class="num">Cells</th><th class="num">Score</th><th class="num">Lat, lon</th>'
            '</tr></thead><tbody>' + "".join(body) + "</tbody></table>")


def _breakdown(r: dict[str, Any], criteria: Mapping[str, CriterionConfig],
               weights: Mapping[str, float], agencies: Mapping[str, str] | None = None) -> str:
    rank = int(r["rank"])
    ws = {}
    for name in criteria:
        w = to_float(r.get(f"weight__{name}"))
        ws[name] = to_float(weights.get(name)) if w is None else w
    w_max = max([w for w in ws.values() if w is not None] + [1e-9])
    rows, total = [], 0.0
    for name, crit in criteria.items():
        unit = criterion_unit(name, crit)
        w = ws[name]
        value = to_float(r.get(f"value__{name}"))
        contrib = to_float(r.get(f"contribution__{name}"))
        if contrib is None and value is not None and w is not None:
            contrib = w * value
        total += contrib or 0.0
        value_cell = "n/a" if value is None else f"{_bar(value, score_colour(value), 50)}{value:.2f}"
        contrib_cell = "n/a"
        if contrib is not None:
            share = contrib / w if w else 0.0
            contrib_cell = f"{_bar(share, BAR_COLOR, int(12 + 58 * (w or 0) / w_max))}{contrib:.3f}"
        rows.append(
            f'<tr data-criterion="{esc(name)}"><td>{esc(criterion_label(name, crit))}</td>'
            f'<td class="num">{esc(_fmt(r.get(f"raw__{name}"), unit))}</td>'
            f'<td class="num">{value_cell}</td><td class="num">{fmt_pct(w)}</td>'
            f'<td class="num">{contrib_cell}</td></tr>')
    score = to_float(r.get("score"))
    score_text = f"{score:.3f}" if score is not None else f"{total:.3f}"
    meta = " · ".join(esc(x) for x in (_agency(r.get("agency"), agencies or {}),
                                        r.get("unit_name"), r.get("state"),
                                        pathway_text(r)) if esc(x))
    stability = ""
    p_cols = [k for k in r if str(k).startswith("p_top_")]
    if p_cols and to_float(r.get(p_cols[0])) is not None:
        k = str(p_cols[0]).removeprefix("p_top_")
        med, lo, hi = (to_float(r.get(c)) for c in ("median_rank", "rank_p05", "rank_p95"))
        stability = (f'<p class="small">In the top {esc(k)} in {fmt_pct(r[p_cols[0]], places=0)} of '
                     f'weight draws' + (f'; median rank {med:.0f}' if med is not None else "")
                     + (f', 90% interval {lo:.0f}–{hi:.0f}' if lo is not None and hi is not None
                        else "") + ".</p>")
    return (
        f'<div class="site" id="site-{rank}"><h3><span class="rank">#{rank}</span> '
        f'{esc(r.get("name"))}</h3>'
        f'<p class="sub">{meta}{" · " if meta else ""}{esc(_fmt(r.get("acres")))} acres · '
        f'{esc(_fmt(r.get("n_cells")))} cells · score <b>{score_text}</b></p>'
        f'<table class="breakdown"><thead><tr><th>Criterion</th><th class="num">Raw value</th>'
        f'<th class="num">Score 0..1</th><th class="num">Weight</th>'
        f'<th class="num">Contribution</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        f'<tfoot><tr><td colspan="4">Total score</td><td class="num">{score_text}</td></tr>'
        f'</tfoot></table>{stability}</div>')


def _criteria_section(cfg: Any, criteria: Mapping[str, CriterionConfig],
                      weights: Mapping[str, float], charts: Mapping[str, str]) -> str:
    constraints: dict[str, list[str]] = {}
    for con in getattr(cfg, "constraints", []) or []:
        crit = criteria.get(con.criterion)
        if crit is None:
            continue
        unit = criterion_unit(con.criterion, crit)
        u = f" {unit}" if unit else ""
        parts = []
        if con.min is not None:
            parts.append(f"at least {con.min:g}{u}")
        if con.max is not None:
            parts.append(f"at most {con.max:g}{u}")
        if con.exclude_values:
            parts.append("not " + ", ".join(str(v) for v in con.exclude_values))
        constraints.setdefault(con.criterion, []).append(" and ".join(parts))
    rows = []
    for name, crit in criteria.items():
        unit = criterion_unit(name, crit)
        where = f'<br><span class="small">where <code>{esc(crit.where)}</code></span>' \
            if crit.where else ""
        con = "; ".join(constraints.get(name, []))
        con_html = f'<br><span class="small">constraint: {esc(con)}</span>' if con else ""
        img = charts.get(name)
        img_html = (f'<img class="vf" src="{esc(img)}" alt="value function of {esc(name)}" '
                    f'width="240">') if img else ""
        w = to_float(weights.get(name))
        rows.append(
            f'<tr data-criterion="{esc(name)}"><td><b>{esc(criterion_label(name, crit))}</b><br>'
            f'<span class="small muted">{esc(name)}</span></td>'
            f'<td><code>{esc(crit.metric)}</code> on <code>{esc(crit.layer)}</code>{where}</td>'
            f'<td>{esc(describe_value_function(crit.value, unit))}{con_html}</td>'
            f'<td class="num">{_bar(w, BAR_COLOR, 60)}{fmt_pct(w)}</td><td>{img_html}</td></tr>')
    return ('<p>Each criterion turns a raw measurement per cell into a score from 0 (worst) to 1 '
            '(best) through its value function, drawn below over the range of raw values the '
            'cells have (grey: how the cells are spread over that range). Weights are normalised '
            'to sum to 100 %.</p>'
            '<table class="criteria"><thead><tr><th>Criterion</th><th>Measured as</th>'
            '<th>Value function</th><th class="num">Weight</th><th>Chart</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _aggregation_section(cfg: Any, manifest: Mapping[str, Any]) -> str:
    method = str(getattr(cfg, "aggregation", None) or "weighted_sum")
    name, formula = aggregation_label(method), aggregation_formula(method)
    wman = manifest.get("weights") or {}
    wmethod = wman.get("method") or getattr(getattr(cfg, "weights", None), "method", "direct")
    parts = [(f'<p><b>{esc(name)}</b> (<code>{esc(method)}</code>). {formula} Hard constraints are '
             f'vetoes: a cell that breaks one is excluded whatever its score.</p>')]
    ahp = wman.get("ahp") or getattr(cfg, "ahp", None)
    if str(wmethod) == "ahp" or ahp:
        parts.append("<p>Weights come from an AHP pairwise-comparison matrix (Saaty): the "
                     "principal eigenvector of the judgements.</p>")
    else:
        parts.append("<p>Weights were set directly in the configuration.</p>")
    if ahp:
        cr = to_float(ahp.get("consistency_ratio"))
        lam = to_float(ahp.get("lambda_max"))
        limit = to_float(getattr(getattr(cfg, "weights", None), "max_consistency_ratio", 0.10))
        verdict = ""
        if cr is not None and limit is not None:
            verdict = " (acceptable)" if cr <= limit else " (above the limit)"
        parts.append(f'<p class="ahp">AHP consistency ratio <b>CR = '
                     f'{"n/a" if cr is None else f"{cr:.3f}"}</b>{verdict}, limit '
                     f'{_fmt(limit)}; λ<sub>max</sub> = {"n/a" if lam is None else f"{lam:.3f}"}.'
                     f'</p>')
    return "".join(parts)


def _sensitivity_section(rows: list[dict[str, Any]], manifest: Mapping[str, Any],
                         charts: Sequence[str]) -> str:
    p_cols = list(dict.fromkeys(k for r in rows[:1] for k in r if str(k).startswith("p_top_")))
    parts = []
    sens = manifest.get("sensitivity") or {}
    if sens:
        bits = []
        if sens.get("draws") is not None:
            bits.append(f"{esc(sens.get('draws'))} draws")
        if sens.get("weights"):
            bits.append(f"{esc(sens.get('weights'))} weights")
        if sens.get("spread") is not None:
            bits.append(f"spread {esc(sens.get('spread'))}")
        if to_float(sens.get("thresholds")):
            bits.append(f"value-function thresholds jittered by {esc(sens.get('thresholds'))}")
        if sens.get("seed") is not None:
            bits.append(f"seed {esc(sens.get('seed'))}")
        if bits:
            parts.append(f'<p class="small">Monte Carlo: {", ".join(bits)}.</p>')
    parts.append("<p>How sure is the ranking? The weights were drawn at random around the "
                 "configured ones and the sites ranked again for each draw: the share of draws in "
                 "which a site stays in the top <i>k</i>, its median rank and the 90 % interval "
                 "of its rank.</p>")
    head = "".join(f'<th class="num">P(top {esc(c.removeprefix("p_top_"))})</th>' for c in p_cols)
    body = []
    for r in rows:
        cells = []
        for c in p_cols:
            p = to_float(r.get(c))
            cells.append(f'<td class="num">{_bar(p, BAR_COLOR, 50)}'
                         f'{fmt_pct(p, places=0)}</td>')
        med, lo, hi = (to_float(r.get(c)) for c in ("median_rank", "rank_p05", "rank_p95"))
        interval = f"{lo:.0f}–{hi:.0f}" if lo is not None and hi is not None else "n/a"
        body.append(f'<tr data-rank="{int(r["rank"])}"><td class="num">{int(r["rank"])}</td>'
                    f'<td>{esc(r.get("name"))}</td>{"".join(cells)}'
                    f'<td class="num">{"n/a" if med is None else f"{med:.0f}"}</td>'
                    f'<td class="num">{interval}</td></tr>')
    parts.append(f'<table class="sensitivity"><thead><tr><th class="num">Rank</th><th>Site</th>'
                 f'{head}<th class="num">Median rank</th><th class="num">90 % interval</th>'
                 f'</tr></thead><tbody>{"".join(body)}</tbody></table>')
    if charts:
        figs = "".join(f'<figure><a href="{esc(c)}"><img src="{esc(c)}" alt="{esc(Path(c).stem)}" '
                       f'width="384"></a></figure>' for c in charts)
        parts.append("<h3>Weight sweeps</h3><p>Rank of the top sites as one criterion's weight "
                     "moves from 0 to its maximum multiple, the others renormalised (dashed line: "
                     f"the configured weight).</p><div class=\"charts\">{figs}</div>")
    return "".join(parts)


_NUMBER = r"[-+]?(?:\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|nan|inf)"


def constraint_rule(reason: str, labels: Mapping[str, str]) -> str:
    """A cell's reason ('Mean terrain slope 11.3 % > max 10 %') as its rule
    ('Mean terrain slope > max 10 %'), so cells group by the rule they break."""
    for label in sorted(labels.values(), key=len, reverse=True):
        if reason.startswith(label + " "):
            rest = reason[len(label) + 1:]
            m = re.match(rf"^{_NUMBER}.*? ([<>] (?:min|max) .+)$", rest)
            if m:
                return f"{label} {m.group(1)}"
            return reason
    return reason


def _exclusions_section(cfg: Any, cells: gpd.GeoDataFrame, excluded: gpd.GeoDataFrame | None,
                        criteria: Mapping[str, CriterionConfig], manifest: Mapping[str, Any]) -> str:
    parts = []
    by_rule = manifest.get("excluded_acres_by_rule") or {}
    areas: dict[str, int] = {}
    if excluded is not None and len(excluded) and "reason" in excluded.columns:
        areas = {str(k): int(v) for k, v in excluded["reason"].fillna("excluded")
                 .astype(str).value_counts(sort=False).items()}
    parts.append("<h3>Land removed before the grid</h3>")
    if by_rule:
        top = max([to_float(v) or 0.0 for v in by_rule.values()] + [1e-9])
        # an exclusion layer names each of its areas (every wilderness of a PAD-US Designation
        # class): those off the candidate land removed nothing and are counted in one line
        idle = [rule for rule, a in by_rule.items() if (to_float(a) or 0.0) < 0.5]
        rows = "".join(
            f'<tr><td>{esc(rule)}</td><td class="num">{_bar((to_float(a) or 0) / top, "#8f8f8f", 80)}'
            f'{esc(_fmt(a))}</td><td class="num">{esc(areas.get(str(rule), ""))}</td></tr>'
            for rule, a in by_rule.items() if rule not in idle or len(idle) < 5)
        if len(idle) >= 5:
            rows += (f'<tr><td>{len(idle):,} more rules that removed no further land (their '
                     f'areas lie beside the candidate land or inside land an earlier rule '
                     f'removed; the map shows them)</td><td class="num">0</td>'
                     f'<td class="num">{esc(sum(areas.get(str(r), 0) for r in idle))}</td></tr>')
        total = sum(to_float(v) or 0.0 for v in by_rule.values())
        parts.append('<p>Acres of the chosen agencies\' land in the study area removed by each '
                     'rule, the rules applied in turn (protected areas and extra exclusion layers '
                     'with their buffer; land an earlier rule removed is not counted again). '
                     'Areas: excluded features with that reason.</p>'
                     '<table class="excluded-land"><thead><tr><th>Rule</th>'
                     '<th class="num">Acres removed</th><th class="num">Areas</th></tr></thead>'
                     f'<tbody>{rows}</tbody><tfoot><tr><td>Total</td>'
                     f'<td class="num">{esc(_fmt(total))}</td><td></td></tr></tfoot></table>')
    else:
        parts.append("<p>No land was removed by an exclusion rule (or the candidates are a "
                     "shortlist).</p>")

    parts.append("<h3>Cells excluded by constraints</h3>")
    out = cells["excluded"].fillna(False).to_numpy(dtype=bool) if "excluded" in cells.columns \
        else np.zeros(len(cells), dtype=bool)
    if out.any():
        labels = {n: criterion_label(n, c) for n, c in criteria.items()}
        reasons = cells.loc[out, "exclusion_reason"] if "exclusion_reason" in cells.columns \
            else pd.Series(["excluded"] * int(out.sum()))
        rules = [constraint_rule(str(r) if r is not None and not pd.isna(r) else "excluded", labels)
                 for r in reasons]
        acres = pd.to_numeric(cells.loc[out, "cell_acres"], errors="coerce").to_numpy() \
            if "cell_acres" in cells.columns else np.full(int(out.sum()), np.nan)
        table = pd.DataFrame({"rule": rules, "acres": acres})
        grouped = table.groupby("rule", sort=True).agg(cells=("rule", "size"),
                                                       acres=("acres", "sum"))
        grouped = grouped.sort_values("cells", ascending=False, kind="stable")
        rows = "".join(f'<tr><td>{esc(rule)}</td><td class="num">{int(g.cells)}</td>'
                       f'<td class="num">{esc(_fmt(g.acres))}</td></tr>'
                       for rule, g in grouped.iterrows())
        parts.append(f'<p>{int(out.sum()):,} of {len(cells):,} cells break a hard constraint '
                     '(each counted under the first rule it breaks).</p>'
                     '<table class="excluded-cells"><thead><tr><th>Rule</th><th class="num">Cells'
                     f'</th><th class="num">Acres</th></tr></thead><tbody>{rows}</tbody></table>')
    else:
        parts.append(f"<p>None of the {len(cells):,} cells breaks a constraint.</p>")
    return "".join(parts)


def _dataset_info(rec: Mapping[str, Any], cfg: Any) -> Any:
    dataset = rec.get("dataset")
    if not dataset:
        lc = (getattr(cfg, "layers", None) or {}).get(rec.get("layer"))
        dataset = getattr(lc, "dataset", None)
    if not dataset:
        return None
    from ..catalog import load_catalog
    from ..errors import SitescoreError

    try:
        return load_catalog().get(str(dataset))
    except SitescoreError:  # an unknown id or an unreadable catalog: say only the id
        return str(dataset)


def _sources_section(cfg: Any, manifest: Mapping[str, Any]) -> str:
    rows = []
    for rec in manifest.get("inputs") or []:
        info = _dataset_info(rec, cfg)
        if info is None:
            source = f'reader <code>{esc(rec.get("reader"))}</code>'
        elif isinstance(info, str):
            source = f'dataset <code>{esc(info)}</code> (not in the catalog)'
        else:
            source = (f'{esc(info.provider)}: {esc(info.title)}, version {esc(info.version)}<br>'
                      f'<span class="small">licence: {esc(info.licence)} · dataset '
                      f'<code>{esc(info.id)}</code></span>')
        if rec.get("postgis"):
            pg = rec["postgis"]
            what = pg.get("table") or "SQL query" if isinstance(pg, Mapping) else pg
            file_cell = f'PostGIS: {esc(what)}'
        else:
            # the file's name only: a report is shared, the folders it was made in are not
            file_cell = esc(Path(str(rec.get("path", ""))).name)
        sha = str(rec.get("sha256") or "")
        features = "" if rec.get("features") is None else _fmt(rec.get("features"))
        rows.append(
            f'<tr data-layer="{esc(rec.get("layer"))}"><td>{esc(rec.get("layer"))}</td>'
            f'<td>{file_cell}</td><td>{source}</td>'
            f'<td class="num">{esc(features)}</td>'
            f'<td class="num">{esc(_bytes(rec.get("bytes")))}</td>'
            f'<td><code title="{esc(sha)}">{esc(sha[:12])}</code></td></tr>')
        for j in rec.get("joined_files") or []:
            jsha = str(j.get("sha256") or "")
            rows.append(
                f'<tr class="joined"><td></td><td>↳ {esc(Path(str(j.get("path", ""))).name)}</td>'
                f'<td class="small">joined table</td><td></td>'
                f'<td class="num">{esc(_bytes(j.get("bytes")))}</td>'
                f'<td><code title="{esc(jsha)}">{esc(jsha[:12])}</code></td></tr>')
    if not rows:
        return "<p>The manifest lists no inputs.</p>"
    return ('<p>Every input as read, with its size and the first 12 characters of its SHA-256 '
            '(the full digest is in the run\'s manifest.json). Provider, version and licence are '
            'given where the layer names a catalog dataset.</p>'
            '<table class="sources"><thead><tr><th>Layer</th><th>File</th><th>Source</th>'
            '<th class="num">Features</th><th class="num">Size</th><th>SHA-256</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _notes_section(cfg: Any, criteria: Mapping[str, CriterionConfig],
                   manifest: Mapping[str, Any]) -> str:
    """The criteria left out, each with why and its share of the configured weight, and the
    share the scores stand for (the manifest's `left_out`); then the run's notes."""
    recorded = [x for x in manifest.get("left_out") or [] if isinstance(x, dict)]
    configured = list((getattr(cfg, "criteria", None) or {}).keys())
    left_out = [n for n in configured if n not in criteria]
    notes = [str(n) for n in (manifest.get("notes") or [])]
    parts = []
    if recorded:
        if manifest.get("partial"):
            parts.append('<p class="banner" role="alert"><b>Partial run</b> (--allow-partial): '
                         'the criteria scored carry less of the configured weight than the '
                         "study's min_weight_kept.</p>")
        items = "".join(f'<li><b>{esc(x.get("criterion"))}</b> ({esc(x.get("label"))}): '
                        f'{esc(x.get("reason"))}, {esc(fmt_pct(x.get("weight_share")))} of the '
                        'configured weight</li>' for x in recorded)
        parts.append(f'<p>The scores stand for <b>{esc(fmt_pct(manifest.get("weight_kept")))}</b> '
                     'of the configured weight. Criteria in the configuration left out of this '
                     'run (their weight renormalised away):</p>'
                     f'<ul class="left-out">{items}</ul>')
    elif left_out:
        items = "".join(f"<li><b>{esc(n)}</b></li>" for n in left_out)
        parts.append(f'<p>Criteria in the configuration that were left out of this run:</p>'
                     f'<ul class="left-out">{items}</ul>')
    else:
        parts.append("<p>No criterion was left out.</p>")
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    else:
        parts.append("<p>The run recorded no notes.</p>")
    return "".join(parts)


def _runtime_section(manifest: Mapping[str, Any]) -> str:
    timings = manifest.get("timings_s") or {}
    peaks = manifest.get("peak_memory_mb") or {}
    parts = []
    if timings:
        total = to_float(timings.get("total"))

        def peak(stage: str) -> str:
            mb = to_float(peaks.get(stage))
            return f'<td class="num">{mb:,.0f} MB</td>' if mb is not None else '<td class="num"></td>'

        rows = "".join(f'<tr><td>{esc(k)}</td><td class="num">{to_float(v) or 0:.3f} s</td>{peak(k)}</tr>'
                       for k, v in timings.items() if k != "total")
        foot = f'<tfoot><tr><td>Total</td><td class="num">{total:.3f} s</td><td></td></tr></tfoot>' \
            if total is not None else ""
        parts.append('<table class="timings"><thead><tr><th>Stage</th><th class="num">Time</th>'
                     '<th class="num">Peak memory (process, at the end of the stage)</th>'
                     f'</tr></thead><tbody>{rows}</tbody>{foot}</table>')
    else:
        parts.append("<p>No timings were recorded.</p>")
    versions = manifest.get("versions") or {}
    if versions:
        text = ", ".join(f"{esc(k)} {esc(v)}" for k, v in versions.items())
        parts.append(f'<p class="small muted">Software: {text}.</p>')
    return "".join(parts)



# --------------------------------------------------------------------------- all the sections

def has_sensitivity(rows: list[dict[str, Any]]) -> bool:
    """Whether the sites carry rank-stability figures (a sensitivity analysis ran)."""
    return any(str(k).startswith("p_top_") for r in rows[:1] for k in r) and \
        any(to_float(r.get(k)) is not None for r in rows for k in r if str(k).startswith("p_top_"))


def body_sections(cfg: Any, *, criteria: Mapping[str, CriterionConfig],
                  weights: Mapping[str, float], cells: gpd.GeoDataFrame,
                  rows: list[dict[str, Any]], excluded: gpd.GeoDataFrame | None,
                  manifest: Mapping[str, Any], charts: Mapping[str, str],
                  sweep_links: Sequence[str], overview: str) -> list[tuple[str, str, str]]:
    """The page's sections in order, each as (anchor, heading, HTML body); the sensitivity one
    only when the sites carry rank-stability figures."""
    top_rows = rows[:TOP_N]
    agencies = agency_names(cfg, manifest)
    sections = [
        ("overview", "Overview map",
         (f'<figure class="map"><img src="{esc(overview)}" alt="Overview map of the study area, '
          f'cells coloured by score and the top sites numbered" width="880">'
          f'<figcaption>Cells coloured by suitability score (grey: excluded by a constraint); the '
          f'top {min(TOP_N, len(rows))} sites outlined and numbered by rank; grey areas: excluded '
          f'land; dashed: the study area. EPSG:5070. The interactive map (index.html) has every '
          f'layer.</figcaption></figure>')),
        ("top-sites", f"Top {min(TOP_N, len(rows)) or TOP_N} sites", _top_table(top_rows, agencies)),
        ("breakdowns", "Site breakdowns",
         "<p>For each of the top sites: the raw value of each criterion, its 0..1 score, the "
         "criterion's weight and what it contributes to the total (the bar's length is the "
         "weight, its fill what the site earns of it).</p>"
         + "".join(_breakdown(r, criteria, weights, agencies) for r in top_rows)),
        ("criteria", "Criteria and weights", _criteria_section(cfg, criteria, weights, charts)),
        ("aggregation", "Aggregation method", _aggregation_section(cfg, manifest)),
    ]
    land = pathway_section(rows, manifest)
    if land is not None:
        sections.insert(3, ("land-pathways", "Can the land be had?", land))
    if has_sensitivity(rows):
        sections.append(("sensitivity", "Sensitivity of the ranking",
                         _sensitivity_section(rows, manifest, sweep_links)))
    return [
        *sections,
        ("exclusions", "Exclusions", _exclusions_section(cfg, cells, excluded, criteria, manifest)),
        ("sources", "Data sources and versions", _sources_section(cfg, manifest)),
        ("notes", "Left-out criteria and notes", _notes_section(cfg, criteria, manifest)),
        ("runtime", "Run time", _runtime_section(manifest)),
    ]
