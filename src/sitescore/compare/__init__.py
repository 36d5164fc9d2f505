"""What changed between two runs: sites gained, lost and moved, and the criteria behind it.

`compare_runs(run_a, run_b)` reads two run folders (``runs/<study>/sites.parquet`` and
``manifest.json``, as :mod:`sitescore.outputs` writes them) and matches their sites **by place**,
not by id (a site's id is its rank, so ids mean nothing across runs):

- two sites match when their outlines overlap; the pair with the largest overlap share
  (intersection over union) is matched first, then the next largest among the sites still free,
  and so on: a one-to-one matching, deterministic (ties go to the larger overlap area, then to
  the better ranks);
- a B site that matches nothing is *gained*, an A site that matches nothing is *lost*, a matched
  pair has *moved* (its rank change may be 0: same place in the list);
- for every matched pair, each criterion's change in contribution to the score
  (``contribution__c`` in B minus in A, a criterion missing from a run counting 0) says what
  drove the change: sorted by absolute size, these are the site's *drivers*. With the weighted
  sum they add up to the score change;
- the runs' weights are compared too: per criterion the configured weight (from the manifest's
  config) and the effective, normalised share (``weight__c``), and which criteria only one run
  scored.

The result prints as a table, and writes as ``compare.csv`` (one row per site, a ``delta__c``
column per criterion) and ``compare.html`` (a folium map: A outlines in one colour, B outlines in
another, gained/lost/moved styled apart, each site numbered with both ranks and a popup with its
driver table). Every data string is escaped, the page is deterministic, files are written
atomically.

The package, one part a module, each importing only the ones above it:
``model`` (the comparison's data classes), ``runs`` (reading run folders), ``matching`` (sites
matched by overlap, contribution drivers), ``diff`` (`compare_runs`), ``text`` (the printed
report), ``page`` (compare.html), ``files`` (compare.csv and the output folder).
"""

from __future__ import annotations

from .diff import compare_runs
from .files import default_out_dir, write_compare_csv, write_outputs
from .matching import match_sites
from .model import DRIVER_MIN, STATUSES, TOP_DRIVERS, Comparison, CriterionChange, SiteChange
from .page import A_COLOR, B_COLOR, DOWN_COLOR, SAME_COLOR, UP_COLOR, write_compare_map
from .text import PRINT_ROWS, format_report, share_text, weight_lines

__all__ = ["A_COLOR", "B_COLOR", "DOWN_COLOR", "DRIVER_MIN", "PRINT_ROWS", "SAME_COLOR", "STATUSES",
           "TOP_DRIVERS", "UP_COLOR", "Comparison", "CriterionChange", "SiteChange", "compare_runs",
           "default_out_dir", "format_report", "match_sites", "share_text", "weight_lines",
           "write_compare_csv", "write_compare_map", "write_outputs"]
