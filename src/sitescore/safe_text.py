"""Text from the data, made safe for where it ends up: a terminal, or a CSV a spreadsheet opens.

Names come from public files anyone can edit (OpenStreetMap-derived layers, HIFLD owners, a
planner's shortlist). Printed raw, ``ESC ] 52`` writes the user's clipboard and ``ESC [ 2 J``
clears the screen; written raw to CSV, ``=HYPERLINK(...)`` or ``@SUM(...)`` runs as a formula
when the file is opened in Excel or LibreOffice. Outputs that keep values as data (GeoPackage,
Parquet, JSON) keep the true text; only these two places get the safe form.
"""

from __future__ import annotations

import re
from os import PathLike
from typing import Any, overload

import pandas as pd

#: Escape sequences (ECMA-48), whole: CSI `ESC [` / U+009B parameters and a final byte; OSC
#: `ESC ]` / U+009D, DCS, SOS, PM and APC strings up to their terminator (BEL, `ESC \` or
#: U+009C; an unterminated one runs to the end of the text); any other `ESC` plus one character.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?",
)
#: What is left after the sequences: C0 controls, DEL and C1 controls (U+0080-U+009F).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Line breaks and tabs inside one value would break the one-line layout: they become a space.
_SPACE_LIKE = re.compile(r"[\t\n\r\x0b\x0c]+")

#: A cell starting with one of these is a formula (or a DDE call) to a spreadsheet (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Text that is a plain number ('-3.5', '+1e3'): a spreadsheet reads it as that number, not a
#: formula, so it is written as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def terminal_text(value: Any) -> str:
    """`value` as text that cannot drive the terminal: escape sequences removed whole, tabs and
    line breaks turned into a space, every other control character (C0, DEL, C1) dropped."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the usual case: nothing to do
        return text
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _SPACE_LIKE.sub(" ", text)
    return _CONTROL.sub("", text)


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet will show as text: one starting with = + - @, a tab or a carriage
    return gets a leading apostrophe (OWASP's advice), unless it is a plain number. Anything that
    is not text is returned unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` for writing as CSV: text cells through `csv_cell`, the column names
    too; number, boolean and date columns untouched (their minus signs stay numbers)."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            out[col] = pd.Series([csv_cell(v) for v in values], index=values.index,
                                 dtype=values.dtype)  # None stays None, <NA> stays <NA>
    out.columns = [csv_cell(c) for c in out.columns]
    return out


@overload
def write_csv(frame: pd.DataFrame, path: None = None, **kwargs: Any) -> str: ...


@overload
def write_csv(frame: pd.DataFrame, path: str | PathLike[str], **kwargs: Any) -> None: ...


def write_csv(frame: pd.DataFrame, path: str | PathLike[str] | None = None, **kwargs: Any) -> str | None:
    """`frame.to_csv` after `csv_safe`: the one way sitescore writes a CSV. With no `path` the
    CSV text is returned (for writers that put it in place atomically themselves)."""
    return csv_safe(frame).to_csv(path, **kwargs)
