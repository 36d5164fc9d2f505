"""Text for the pages the tool writes (map, report, comparison), formatted one way everywhere.

One home for what the map, the report and the comparison page all need, so they cannot drift
apart: escaping data for HTML and for inline scripts, human numbers and percentages, the
missing-value test, and the atomic file write. Percentages have no space before the sign
("25%", "12.5%"), on every page.

Imports nothing from sitescore, so any module may use it without an import cycle.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["cell_text", "esc", "fmt_number", "fmt_pct", "is_missing", "is_true", "js_json",
           "pathway_text", "script_safe", "to_float", "write_atomic"]


# --------------------------------------------------------------------------- missing values

def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA; never raises (a list or an object is not missing)."""
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def to_float(value: Any) -> float | None:
    """A finite float, or None (text, missing, infinite): tables hold all kinds of cells."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def is_true(value: Any) -> bool:
    """A boolean cell: missing counts as False (a flag column may hold NA)."""
    return False if is_missing(value) else bool(value)


def cell_text(row: Mapping[Any, Any], column: str) -> str:
    """A cell of a row as text, '' when the column is absent or the value missing."""
    value = row.get(column)
    return "" if is_missing(value) else str(value)


def pathway_text(row: Mapping[Any, Any]) -> str:
    """A site's or cell's land pathway in one line ('Exchange (FLPMA sec. 206) · 36-72 months ·
    EIS'), '' where it has none; 'no land pathway known' where the table knew no rule."""
    if "pathway" not in row and "pathway_acres" not in row:
        return ""
    if is_missing(row.get("pathway")):
        return "land pathway unknown"
    label = cell_text(row, "pathway_label") or cell_text(row, "pathway")
    low, high = to_float(row.get("pathway_months_low")), to_float(row.get("pathway_months_high"))
    parts = [label]
    if row.get("pathway_available") is False:
        parts.append("not available short of an act of Congress")
    elif low is not None and high is not None:
        parts.append(f"{low:g}\u2013{high:g} months")
    nepa = cell_text(row, "pathway_nepa")
    if nepa and nepa != "none":
        parts.append(f"NEPA {nepa}")
    return " · ".join(parts)


# --------------------------------------------------------------------------- escaping

_JS_SENSITIVE = str.maketrans({
    # folium puts popup and tooltip HTML inside JS template literals: keep data from closing
    # them (`), interpolating (${) or starting escapes (\); braces never reach Jinja either.
    "`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;",
})


def esc(value: Any) -> str:
    """Data value -> text safe in HTML (element or attribute) and in folium's JS literals."""
    return "" if is_missing(value) else html.escape(str(value), quote=True).translate(_JS_SENSITIVE)


def js_json(obj: Any) -> str:
    """JSON for inline <script>: nothing in it can close the script or start markup."""
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def script_safe(js: str) -> str:
    """Script text that cannot end its <script> element early."""
    return js.replace("</script", "<\\/script").replace("<!--", "<\\!--")


# --------------------------------------------------------------------------- numbers

def fmt_number(value: Any, unit: str = "") -> str:
    """Human number with a precision fit for its size (and unit), 'n/a' when missing."""
    x = to_float(value)
    if x is None:
        return "n/a"
    a = abs(x)
    if a >= 1000 or (x == round(x) and a < 1e15):
        s = f"{x:,.0f}"
    elif a >= 100:
        s = f"{x:.0f}"
    elif a >= 10:
        s = f"{x:.1f}"
    elif a >= 1:
        s = f"{x:.2f}"
    elif a == 0:
        s = "0"
    else:
        s = f"{x:.3g}"
    return f"{s} {unit}".strip() if unit else s


def fmt_pct(fraction: Any, *, places: int | None = None, missing: str = "n/a") -> str:
    """A fraction as a percentage, no space before the sign: '25%', '12.5%'.

    ``places=None`` drops the decimal when the percentage is whole to 0.05 (weights read best
    that way); a number fixes the decimals (a table column of shares lines up).
    """
    f = to_float(fraction)
    if f is None:
        return missing
    p = 100 * f
    if places is None:
        return f"{p:.0f}%" if abs(p - round(p)) < 0.05 else f"{p:.1f}%"
    return f"{p:.{places}f}%"


# --------------------------------------------------------------------------- files

def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temp file in the same folder, renamed into place: a reader (or a crash)
    sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
