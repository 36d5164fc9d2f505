"""The run's printable report: one static HTML page beside the web map, with PNG figures.

:func:`write_report` writes ``report.html`` (CSS inline, no scripts, no network) and its figures
as PNG files in the same folder. The page says what was scored and how (criteria, value
functions, weights, the AHP consistency ratio, the aggregation), what came out (the top sites
with their per-criterion breakdown, rank stability when a sensitivity analysis ran), what was
left out (criteria, excluded land by rule, cells excluded by constraint), from which inputs
(file, features, sha256, catalog provider, version and licence) and how long it took. Synthetic
data is announced in a banner at the top. Same inputs give the same bytes.

Parts, each importing only the ones above it:

- ``figures``: the overview map and value-function charts (matplotlib's Agg canvas, no pyplot);
- ``sections``: the page's sections as HTML, every data string escaped (`formatting.esc`);
- ``network``: a network of parks' sections (parks by role and why, links, the solve);
- ``page``: `write_report`, the figures and the sections put together.
"""

from __future__ import annotations

from ..formatting import fmt_pct
from .figures import OVERVIEW_DPI, OVERVIEW_PNG, OVERVIEW_SIZE_IN, chart_text
from .page import write_report
from .sections import SYNTHETIC_BANNER, TOP_N, constraint_rule

__all__ = ["OVERVIEW_DPI", "OVERVIEW_PNG", "OVERVIEW_SIZE_IN", "SYNTHETIC_BANNER", "TOP_N",
           "chart_text", "constraint_rule", "write_report"]

#: The report formats weights with `formatting.fmt_pct`; this name is what
#: tests/test_formatting.py checks it by.
_pct = fmt_pct
