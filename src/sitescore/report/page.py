"""The report page: `write_report` draws the figures, then writes ``report.html`` around them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd

from ..config import CriterionConfig
from ..formatting import esc, fmt_number, fmt_pct, to_float, write_atomic
from .costs import costs_section
from .figures import OVERVIEW_PNG, draw_figures, local_chart
from .network import network_sections
from .sections import (
    CSS,
    SYNTHETIC_BANNER,
    TOP_N,
    aggregation_label,
    body_sections,
    section,
    site_rows,
)


def write_report(path: Path, *, cfg: Any, criteria: Mapping[str, CriterionConfig],
                 weights: Mapping[str, float], cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                 excluded: gpd.GeoDataFrame | None, layers: Mapping[str, Any],
                 area_geometry: Any, manifest: Mapping[str, Any],
                 sensitivity_charts: Sequence[Path] = (),
                 network: Mapping[str, Any] | None = None) -> Path:
    """Write the run's static report to ``path`` (normally ``maps/<study>/report.html``) with its
    PNG figures beside it, each file atomically, and return ``path``.

    ``criteria`` are the criteria actually scored (the config's, minus any left out) and
    ``weights`` their normalised weights; ``cells``, ``sites`` and ``excluded`` are the run's
    tables in EPSG:5070; ``layers`` the input layers as read (non-vector ones are ignored);
    ``area_geometry`` the study area in EPSG:5070 or None; ``manifest`` the run manifest
    (inputs, notes, excluded_acres_by_rule, weights, timings_s, versions, sensitivity);
    ``sensitivity_charts`` the weight-sweep PNGs, linked where they lie under the report's
    folder and copied beside it otherwise. ``network`` (a network of parks: its manifest
    record under "record", its "parks" and "links" tables) makes the page the network's: its
    sections, then the overview, sources, notes and run time. Same inputs give the same bytes.
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    criteria = dict(criteria)
    total_w = sum(to_float(weights.get(n)) or 0.0 for n in criteria)
    weights = {n: ((to_float(weights.get(n)) or 0.0) / total_w if total_w > 0 else 0.0)
               for n in criteria}
    rows = site_rows(sites)
    # a network's page shows no criterion charts, and numbers every park on the overview
    charts = draw_figures(folder, cfg=cfg, criteria=criteria if network is None else {},
                          cells=cells, sites=sites, excluded=excluded, layers=layers,
                          area_geometry=area_geometry, top=TOP_N if network is None else len(sites))
    sweep_links = [local_chart(Path(c), folder) for c in sensitivity_charts]
    sections = body_sections(cfg, criteria=criteria, weights=weights, cells=cells, rows=rows,
                             excluded=excluded, manifest=manifest, charts=charts,
                             sweep_links=sweep_links, overview=OVERVIEW_PNG)
    cost = costs_section(folder, sites, manifest, TOP_N)  # with a `costs:` section only
    if cost is not None:
        sections.insert(3, ("costs", "What each site costs to make ready", cost))
    if network is not None:
        kept = {"overview", "sources", "notes", "runtime"}
        sections = network_sections(network["record"], network["parks"], network["links"]) + \
            [s for s in sections if s[0] in kept]
    write_atomic(path, _document(cfg, manifest, _header(cfg, manifest, criteria, cells, rows,
                                                        sections), sections).encode("utf-8"))
    return path


def _title(cfg: Any, manifest: Mapping[str, Any]) -> str:
    return getattr(cfg, "title", None) or manifest.get("title") or getattr(cfg, "study", "") \
        or "sitescore run"


def _study(cfg: Any, manifest: Mapping[str, Any]) -> str:
    return getattr(cfg, "study", None) or manifest.get("study") or ""


def _header(cfg: Any, manifest: Mapping[str, Any], criteria: Mapping[str, CriterionConfig],
            cells: gpd.GeoDataFrame, rows: list[dict[str, Any]],
            sections: list[tuple[str, str, str]]) -> str:
    """The banner (synthetic data), the title, what was scored and the contents."""
    synthetic = bool(getattr(cfg, "synthetic", False) or manifest.get("synthetic"))
    counts = manifest.get("counts") or {}
    n_cells = counts.get("cells", len(cells))
    n_out = counts.get("cells_excluded", int(cells["excluded"].sum()) if "excluded" in cells else 0)
    n_sites = counts.get("sites", len(rows))
    method = str(getattr(cfg, "aggregation", None) or "weighted_sum")
    nav = "<nav><ul>" + "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t, _ in sections) \
        + "</ul></nav>"
    banner = (f'<div class="banner" id="synthetic-banner" role="alert">{esc(SYNTHETIC_BANNER)}'
              '</div>') if synthetic else ""
    description = getattr(cfg, "description", None)
    left_out = [x for x in manifest.get("left_out") or [] if isinstance(x, dict)]
    kept = (f'<p class="sub" id="left-out-line"><b>{len(left_out)} criteri'
            f'{"on" if len(left_out) == 1 else "a"} left out</b>: the scores stand for '
            f'{esc(fmt_pct(manifest.get("weight_kept")))} of the configured weight'
            f'{" (partial run, --allow-partial)" if manifest.get("partial") else ""}; see '
            '<a href="#notes">Left-out criteria and notes</a>.</p>') if left_out else ""
    return (
        f'<header>{banner}<h1>{esc(_title(cfg, manifest))}</h1>'
        f'<p class="sub">Study area: <b>{esc(manifest.get("study_area") or "") or "n/a"}</b> · '
        f'study <code>{esc(_study(cfg, manifest))}</code></p>'
        f'<p class="sub">{esc(fmt_number(n_cells))} candidate cells ({esc(fmt_number(n_out))} '
        f'excluded by constraints) · {esc(fmt_number(n_sites))} sites · {len(criteria)} criteria · '
        f'{esc(aggregation_label(method))} · sitescore '
        f'{esc(manifest.get("sitescore", ""))}</p>{kept}'
        + (f'<p class="small muted">{esc(description)}</p>' if description else "")
        + f'{nav}</header>')


def _document(cfg: Any, manifest: Mapping[str, Any], header: str,
              sections: list[tuple[str, str, str]]) -> str:
    """The whole page: inline CSS, no scripts, nothing fetched from elsewhere."""
    study = _study(cfg, manifest)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(_title(cfg, manifest))} — sitescore report</title><style>{CSS}</style>'
        f'</head>\n<body>\n{header}\n<main>\n'
        + "".join(section(a, t, b) for a, t, b in sections)
        + '</main>\n<footer class="small muted"><p>Written by sitescore from the run manifest'
        + (f' of study <code>{esc(study)}</code>' if study else "")
        + '. Scores are relative to the cells of this study; they rank, they do not certify.</p>'
        '</footer>\n</body></html>\n')
