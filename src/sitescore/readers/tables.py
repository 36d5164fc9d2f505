"""Tables as agencies publish them (CSV, Excel sheets with title rows above the header): read
as text exactly as published, their fields found without regard to case, their numbers parsed
as providers print them, and points made from lon/lat columns.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import DataError
from ..study_area import StudyArea
from .safety import first_line, require_file

log = logging.getLogger(__name__)


def read_table(path: Path, *, header_names: Iterable[str] = (), sheet: str | int | None = None,
               member: str | None = None, **kwargs: Any) -> pd.DataFrame:
    """Read a table as text, exactly as published: 'NA' stays 'NA' (North America in OurAirports),
    only truly empty cells are missing, and numbers are parsed later by the reader.

    CSV, or an Excel sheet as agencies publish them (EIA-860, BLS LAUS: title rows above the
    header, which is found by `header_names`). A folder (an extracted archive) is searched for
    `member`, a glob such as '2___Plant_Y*.xlsx'."""
    require_file(path)
    if path.is_dir():
        path = _member(path, member)
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        return _read_sheet(path, list(header_names), sheet)
    with path.open("rb") as f:
        if b"\x00" in f.read(8192):
            raise DataError("is not a text table (it holds NUL bytes: binary data, or UTF-16 "
                            "text that should be saved as UTF-8)", file=path)
    kwargs.setdefault("index_col", False)  # never a data column as the index
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                               encoding_errors="replace", **kwargs)
    except pd.errors.ParserWarning:
        raise DataError("some rows have more fields than the header (a comma inside an "
                        "unquoted value?)", file=path) from None
    except Exception as exc:
        raise DataError(f"cannot read as CSV ({first_line(exc)})", file=path) from exc


def _member(folder: Path, pattern: str | None) -> Path:
    hits = sorted(folder.rglob(pattern)) if pattern else []
    if not hits:
        raise DataError(f"no file matching '{pattern}' in this folder" if pattern
                        else "is a folder; name the file inside it", file=folder)
    return require_file(hits[-1])


def _read_sheet(path: Path, header_names: list[str], sheet: str | int | None) -> pd.DataFrame:
    """An Excel sheet as text; the header is the first row holding one of `header_names`
    (joined with the next row where a two-row header splits the names)."""
    try:
        raw = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, header=None, dtype=str)
    except Exception as exc:
        raise DataError(f"cannot read as an Excel sheet ({first_line(exc)})", file=path) from exc
    raw = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
    wanted = {" ".join(n.lower().split()) for n in header_names}

    def names(i: int) -> list[str]:
        return [" ".join(str(v).split()) if isinstance(v, str) else "" for v in raw.iloc[i]]

    def hits(row: list[str]) -> int:
        return sum(1 for v in row if v.lower() in wanted)

    start = next((i for i in range(min(len(raw), 40)) if hits(names(i)) > 0), None) if wanted else 0
    if start is None:
        raise DataError(f"no header row with {', '.join(header_names)} in the first 40 rows",
                        file=path, field=header_names[0])
    header, first_data = names(start), start + 1
    if start + 1 < len(raw) and hits(names(start + 1)) > 0 and hits(header) < len(wanted):
        below = names(start + 1)
        header = [b if b.lower() in wanted or not a else a for a, b in zip(header, below, strict=True)]
        first_data = start + 2
    table = raw.iloc[first_data:].copy()
    table.columns = [h or f"column_{j}" for j, h in enumerate(header)]
    table = table.dropna(how="all").reset_index(drop=True)
    return table.astype(object).where(table.notna(), np.nan)


def find_field(columns: Iterable[str], names: Iterable[str]) -> str | None:
    """The first of `names` present in `columns`, compared without case or surrounding spaces."""
    lookup = {str(c).strip().lower(): c for c in columns}
    for name in names:
        hit = lookup.get(name.strip().lower())
        if hit is not None:
            return hit
    return None


def require_field(columns: Iterable[str], names: Iterable[str] | str, path: Path) -> str:
    """Like `find_field`, but a missing field is the user's error, naming file and field."""
    names = [names] if isinstance(names, str) else list(names)
    hit = find_field(columns, names)
    if hit is None:
        alias = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
        raise DataError(f"required field missing{alias}", file=path, field=names[0])
    return hit


def parse_number(values: pd.Series, sentinels: Iterable[float] = ()) -> pd.Series:
    """Numbers as providers print them: '2,076,894     ', ' 4.5', '' -> float; sentinels -> NaN.

    Text that is no number ('abc') and infinities become NaN too; how many cells held such text
    is kept in `attrs['not_numbers']`, which `to_canonical` reports per column."""
    text = values.astype("string").str.replace(",", "", regex=False).str.strip()
    given = text.notna() & (text != "")
    numbers = pd.to_numeric(text.where(given), errors="coerce").astype(float)  # blanks: <NA>
    numbers = numbers.where(np.isfinite(numbers))
    not_numbers = int((given.fillna(False) & numbers.isna()).sum())
    for s in sentinels:
        numbers = numbers.mask(numbers == s)
    numbers.attrs = {"not_numbers": not_numbers}
    return numbers


def points_from_lonlat(df: pd.DataFrame, lon: str, lat: str, path: Path,
                       crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """A point layer from coordinate columns; rows without usable coordinates are dropped and
    counted (`attrs['dropped']`)."""
    x = parse_number(df[lon])
    y = parse_number(df[lat])
    ok = x.notna() & y.notna() & x.between(-180, 180) & y.between(-90, 90)
    gdf = gpd.GeoDataFrame(df.loc[ok].copy(), geometry=gpd.points_from_xy(x[ok], y[ok]), crs=crs)
    gdf.attrs["dropped"] = int((~ok).sum())
    if (~ok).any():
        log.info("%s: %d rows without valid coordinates dropped", path, int((~ok).sum()))
    return gdf


def clip_points_to_area(gdf: gpd.GeoDataFrame, area: StudyArea | None) -> gpd.GeoDataFrame:
    """Points read from CSV cannot be bbox-filtered by GDAL: filter them here, before reprojection."""
    bounds = area.bounds_in(gdf.crs) if area is not None and len(gdf) else None
    if bounds is None:  # no area, one without a geometry, or no points
        return gdf
    w, s, e, n = bounds
    return gdf.cx[w:e, s:n]
