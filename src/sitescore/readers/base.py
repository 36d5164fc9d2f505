"""What every reader shares: the registry, safe opening of vector files and CSVs, and the final
step that turns provider columns into a canonical, repaired, EPSG:5070 GeoDataFrame.

A reader is a function `(source, area) -> GeoDataFrame` registered under a name used in configs
(`reader: padus`). It maps provider fields onto `schema.LAYERS[...]` columns and calls
`to_canonical`; provider field names never leave the reader.
"""

from __future__ import annotations

import logging
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..errors import DataError
from ..schema import CRS, LAYERS
from ..study_area import StudyArea

log = logging.getLogger(__name__)

#: How a PostGIS layer's `path` starts: it names the table for messages, it is no file.
POSTGIS_PREFIX = "postgis:"


@dataclass(frozen=True)
class LayerSource:
    """One input layer as the config names it, with its file resolved."""

    name: str                       # config layer name, e.g. "transmission_lines"
    reader: str                     # registered reader, e.g. "hifld_transmission_lines"
    path: Path
    data_dir: Path = Path(".")
    layer: str | None = None        # layer inside a multi-layer file (GDB, GeoPackage)
    options: Mapping[str, Any] = field(default_factory=dict)
    dataset: str | None = None      # catalog id when the layer was given as `dataset:`
    more_paths: tuple[Path, ...] = ()  # further files of the same dataset (per-state extracts)
    datasets: Mapping[str, Path] = field(default_factory=dict)  # data folder: id -> file
    postgis: Any = None             # a postgis.PostgisSource: read from PostGIS, `path` only names it

    def resolve(self, relative: str | Path) -> Path:
        """A path from this layer's options: relative to the data directory, or `dataset:<id>`
        for a fetched or imported catalog dataset."""
        text = str(relative)
        if text.startswith("dataset:"):
            ds = text.removeprefix("dataset:")
            if ds not in self.datasets:
                raise DataError(f"dataset '{ds}' is not in the data folder; run `sitescore fetch "
                                f"--only {ds}` or `sitescore data import {ds} FILE`", file=self.data_dir)
            return self.datasets[ds]
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.data_dir / p

    def resolve_all(self, relative: str | Path) -> list[Path]:
        """Every file an option names: its one path, or every file of a `dataset:<id>` in the
        data folder (the ACS fetched per state is one file per state), the first first."""
        first = self.resolve(relative)
        text = str(relative)
        if not text.startswith("dataset:"):
            return [first]
        from ..datastore import dataset_paths  # the data folder's manifest lists every file

        try:
            stored = dataset_paths(self.data_dir).get(text.removeprefix("dataset:")) or []
        except DataError:
            stored = []
        return [first, *(p for p in stored if p != first)]


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    layer: str          # canonical layer kind it produces (key of schema.LAYERS)
    func: Callable[[LayerSource, StudyArea | None], Any]
    description: str


READERS: dict[str, ReaderSpec] = {}


def reader(name: str, layer: str) -> Callable:
    """Register a reader under `name`, producing canonical layer `layer`."""
    if layer not in LAYERS:
        raise ValueError(f"unknown canonical layer {layer!r}")

    def register(func: Callable) -> Callable:
        doc = (func.__doc__ or "").strip().splitlines()
        READERS[name] = ReaderSpec(name, layer, func, doc[0] if doc else "")
        return func

    return register


def require_file(path: Path) -> Path:
    if str(path).startswith(POSTGIS_PREFIX):
        raise DataError("this reader reads files only (CSV, raster), not PostGIS tables", file=path)
    if not path.exists():
        raise DataError("file not found", file=path)
    if path.is_file() and path.stat().st_size == 0:
        raise DataError("is empty (0 bytes); download or copy it again", file=path)
    return path


def _vsi_path(path: Path) -> str:
    """Zipped shapefiles and GDBs are read in place through GDAL's virtual file system."""
    return str(path)


def open_vector(path: Path, area: StudyArea | None = None, layer: str | None = None,
                require_crs: bool = True) -> gpd.GeoDataFrame:
    """Read a vector file (GDB, GPKG, SHP, zipped SHP, GeoJSON, GeoParquet) filtered to the
    study area's bounding box, so only the features we need are ever loaded."""
    require_file(path)
    path = vector_file(path)
    if path.suffix.lower() == ".parquet":
        try:
            gdf = gpd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types
            raise DataError(f"cannot read GeoParquet: {exc}", file=path) from exc
        if gdf.crs is None and require_crs:
            raise DataError("has no CRS; set one in the file", file=path)
        if area is not None and area.geometry is not None and len(gdf):
            bounds = area.bounds_in(gdf.crs)
            gdf = gdf.cx[bounds[0]:bounds[2], bounds[1]:bounds[3]]
        return gdf
    _check_parts(path)
    src = _vsi_path(path)
    with gdal_notes(path):
        return _read_vector(path, src, area, layer, require_crs)


#: Where rasterio logs GDAL's warnings (at WARNING, which the CLI would print).
_GDAL_LOGGERS = ("rasterio._env", "rasterio._base", "rasterio._io", "rasterio")


@contextmanager
def gdal_notes(path: Path) -> Iterator[None]:
    """GDAL's warnings about a file (pyogrio raises them as Python warnings, rasterio logs them)
    go to sitescore's log at INFO, not to the user's terminal, where they would come before the
    one line an error prints."""
    def to_info(record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            log.info("%s: %s", path, record.getMessage())
            return False
        return True

    loggers = [logging.getLogger(name) for name in _GDAL_LOGGERS]
    for lg in loggers:
        lg.addFilter(to_info)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        for lg in loggers:
            lg.removeFilter(to_info)
    for w in caught:
        log.info("%s: %s", path, w.message)


def _read_vector(path: Path, src: str, area: StudyArea | None, layer: str | None,
                 require_crs: bool) -> gpd.GeoDataFrame:
    try:
        info = pyogrio.read_info(src, layer=layer)
    except Exception as exc:
        raise DataError(_open_problem(src, layer, exc), file=path) from exc
    crs = info.get("crs")
    if crs is None and require_crs:
        raise DataError("has no CRS (no .prj or crs member); cannot place it on the map", file=path)
    try:
        bbox = area.bounds_in(crs) if (area is not None and crs is not None) else None
    except Exception as exc:  # pyproj: a CRS it cannot use
        raise DataError(f"has a CRS that cannot be used ({_first_line(exc)})", file=path) from exc
    try:
        # Arrow-based reads: columnar batches instead of row-by-row Python objects
        gdf = pyogrio.read_dataframe(src, layer=layer, bbox=bbox, use_arrow=True)
        if gdf.crs is None and crs is not None:
            gdf = gdf.set_crs(crs)
    except Exception as exc:
        raise DataError(f"cannot read features ({_first_line(exc)})", file=path) from exc
    _valid_text(gdf, path)
    if len(gdf) == 0 and bbox is not None:
        wrong = _wrong_crs(src, layer, crs)
        if wrong:
            raise DataError(f"no feature lies in the study area ({area.label}), and {wrong}",
                            file=path)
    return gdf


def _valid_text(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Text that is not UTF-8 (a wrong .cpg, a damaged file) arrives from GDAL's Arrow stream
    unchecked and would fail later, anywhere; here its bad bytes become U+FFFD, and are logged."""
    import pyarrow as pa

    for col in gdf.columns:
        values = gdf[col].array
        if col == gdf.geometry.name or not hasattr(values, "__arrow_array__"):
            continue
        arrow = values.__arrow_array__()
        if not (pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type)):
            continue
        try:
            arrow.validate(full=True)
        except pa.ArrowInvalid:
            raw = arrow.cast(pa.large_binary() if pa.types.is_large_string(arrow.type) else pa.binary())
            gdf[col] = pd.Series([None if b is None else b.decode("utf-8", "replace")
                                  for b in raw.to_pylist()], index=gdf.index, dtype=object)
            log.info("%s: field %s holds text that is not UTF-8; bad bytes replaced", path, col)


def _check_parts(path: Path) -> None:
    """A shapefile needs its .shx and .dbf beside it, a zip must be whole: say so plainly
    (GDAL reads a shapefile without .dbf as one without fields, and a cut zip as a missing
    file)."""
    suffix = path.suffix.lower()
    if suffix == ".shp":
        here = {p.name.lower() for p in path.parent.iterdir()}
        for part, what in ((".shx", "index"), (".dbf", "attribute table")):
            if f"{path.stem.lower()}{part}" not in here:
                raise DataError(f"its {part} file (the {what}) is missing beside it; copy all "
                                "the shapefile's files (.shp, .shx, .dbf, .prj)", file=path)
    elif suffix == ".zip" and path.is_file() and not zipfile.is_zipfile(path):
        raise DataError("is not a readable zip archive (cut short or damaged?); download it "
                        "again", file=path)


def _open_problem(src: str, layer: str | None, exc: Exception) -> str:
    """Why a vector file would not open; a missing layer is named with the layers there are."""
    if layer is not None:
        try:
            names = [str(n) for n in pyogrio.list_layers(src)[:, 0]]
        except Exception:  # noqa: BLE001 - unreadable: the caller says so
            names = None
        if names is not None and layer not in names:
            return f"has no layer '{layer}' (its layers: {', '.join(names) or 'none'})"
    return f"cannot open as a vector dataset ({_first_line(exc)})"


def _wrong_crs(src: str, layer: str | None, crs: Any) -> str | None:
    """Why a file none of whose features lies in the study area probably declares the wrong CRS:
    degree-sized coordinates under a projected CRS, or metre-sized ones under lon/lat."""
    try:
        from pyproj import CRS as ProjCRS

        declared = ProjCRS.from_user_input(crs)
        bounds = pyogrio.read_info(src, layer=layer, force_total_bounds=True).get("total_bounds")
        xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    except Exception:  # noqa: BLE001 - no extent to judge by
        return None
    if not all(np.isfinite([xmin, ymin, xmax, ymax])):
        return None
    degrees = -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90
    if declared.is_projected and degrees:
        return (f"its coordinates look like lon/lat degrees ({xmin:.4g}..{xmax:.4g}, "
                f"{ymin:.4g}..{ymax:.4g}) but its CRS is {declared.name}: the CRS (.prj) is wrong")
    if declared.is_geographic and not degrees:
        return (f"its coordinates ({xmin:.0f}..{xmax:.0f}, {ymin:.0f}..{ymax:.0f}) are not lon/lat "
                f"degrees but its CRS is {declared.name}: the CRS (.prj) is wrong")
    return None


def open_source(source: LayerSource, area: StudyArea | None = None,
                layer: str | None = None) -> gpd.GeoDataFrame:
    """A layer's features in the study area's box with the provider's own columns: from PostGIS
    when the layer is configured with `postgis:`, else from its file (`layer`, when given,
    overrides the configured layer inside the file)."""
    if source.postgis is not None:
        from ..postgis import read_postgis_layer
        return read_postgis_layer(source.postgis, area)
    return open_vector(source.path, area, layer=layer if layer is not None else source.layer)


#: What an extracted archive is searched for, best first (PAD-US and Aqueduct zips hold a GDB
#: beside KMZ files, CSV tables and documentation).
VECTOR_KINDS = ("*.gdb", "*.gpkg", "*.parquet", "*.shp", "*.geojson", "*.json")


def vector_file(path: Path) -> Path:
    """The vector dataset a path stands for: itself, or the one inside an extracted archive
    (its geodatabase, else GeoPackage, ...)."""
    if not path.is_dir() or path.suffix.lower() == ".gdb":
        return path
    folder = path
    for pattern in VECTOR_KINDS:
        hits = sorted(p for p in folder.rglob(pattern) if not p.name.startswith("."))
        if hits:
            return hits[0]
    raise DataError("is a folder holding no vector dataset (GDB, GeoPackage, shapefile, ...)",
                    file=folder)


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
        raise DataError(f"cannot read as CSV ({_first_line(exc)})", file=path) from exc


def _member(folder: Path, pattern: str | None) -> Path:
    hits = sorted(folder.rglob(pattern)) if pattern else []
    if not hits:
        raise DataError(f"no file matching '{pattern}' in this folder" if pattern
                        else "is a folder; name the file inside it", file=folder)
    return hits[-1]


def _read_sheet(path: Path, header_names: list[str], sheet: str | int | None) -> pd.DataFrame:
    """An Excel sheet as text; the header is the first row holding one of `header_names`
    (joined with the next row where a two-row header splits the names)."""
    try:
        raw = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, header=None, dtype=str)
    except Exception as exc:
        raise DataError(f"cannot read as an Excel sheet ({_first_line(exc)})", file=path) from exc
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
        header = [b if b.lower() in wanted or not a else a for a, b in zip(header, below)]
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
    numbers = pd.to_numeric(text.where(given, pd.NA), errors="coerce").astype(float)
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
    if area is None or area.geometry is None or len(gdf) == 0:
        return gdf
    w, s, e, n = area.bounds_in(gdf.crs)
    return gdf.cx[w:e, s:n]


_POLY = {"Polygon", "MultiPolygon"}
_LINE = {"LineString", "MultiLineString", "LinearRing"}
_POINT = {"Point", "MultiPoint"}
_KINDS = {"polygon": _POLY, "line": _LINE, "point": _POINT}


def to_canonical(gdf: gpd.GeoDataFrame, layer: str, columns: Mapping[str, Any], path: Path,
                 area: StudyArea | None = None) -> gpd.GeoDataFrame:
    """Finish a reader: canonical columns only, dtypes coerced, EPSG:5070, invalid geometries
    repaired (and counted), empty or wrong-kind geometries dropped (and counted).

    `columns` maps canonical column -> a Series/array aligned with `gdf`, or a scalar.
    Repair/drop counts travel in `attrs` so the run manifest can report them.
    """
    schema = LAYERS[layer]
    if gdf.crs is None:
        raise DataError("has no CRS; cannot place it on the map", file=path)
    out = gpd.GeoDataFrame(index=gdf.index, geometry=gdf.geometry.values, crs=gdf.crs)
    not_numbers: dict[str, int] = {}
    for col, dtype in schema.columns.items():
        value = columns.get(col, None)
        count = value.attrs.get("not_numbers") if isinstance(value, pd.Series) else None
        if isinstance(count, (int, np.integer)) and count > 0:  # set by parse_number
            not_numbers[col] = int(count)
        if isinstance(value, (pd.Series, np.ndarray, list)):
            series = pd.Series(np.asarray(value, dtype=object), index=gdf.index) \
                if not isinstance(value, pd.Series) else value
        else:
            series = pd.Series([value] * len(gdf), index=gdf.index, dtype=object)
        out[col] = _coerce(series, dtype)
    dropped = int(gdf.attrs.get("dropped", 0))
    geoms = out.geometry.values
    # drop z: everything downstream is planar
    flattened = int(shapely.has_z(geoms).sum()) if len(out) else 0
    if flattened:
        geoms = shapely.force_2d(geoms)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    repaired = int(invalid.sum())
    if repaired:
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
    if schema.geometry in _KINDS and len(out):
        out = out.set_geometry(_keep_kind(out.geometry, schema.geometry))
    bad = shapely.is_missing(out.geometry.values) | shapely.is_empty(out.geometry.values)
    dropped += int(bad.sum())
    out = out.loc[~bad]
    out = out.to_crs(CRS)
    if area is not None:
        out = area.clip_mask(out)
    out = out.reset_index(drop=True)
    out.attrs = {"path": str(path), "repaired": repaired, "dropped": dropped,
                 "features": int(len(out))}
    if flattened:  # 3D geometries: heights dropped
        out.attrs["flattened_3d"] = flattened
    if not_numbers:  # text where a number belongs, read as missing
        out.attrs["not_numbers"] = not_numbers
        log.info("%s: cells that are not numbers, read as missing: %s", path, not_numbers)
    if repaired or dropped:
        log.info("%s: %d invalid geometries repaired, %d dropped", path, repaired, dropped)
    return out


def _keep_kind(geoms: gpd.GeoSeries, kind: str) -> gpd.GeoSeries:
    """After make_valid a polygon may become a collection: keep only the parts of the right kind."""
    wanted = _KINDS[kind]
    types = geoms.geom_type
    mixed = ~types.isin(wanted)
    if not mixed.any():
        return geoms
    fixed = geoms.copy()
    for i in np.flatnonzero(mixed.to_numpy()):
        g = geoms.iloc[i]
        parts = [p for p in shapely.get_parts(g) if p.geom_type in wanted] if g is not None else []
        fixed.iloc[i] = shapely.union_all(parts) if parts else None
    return fixed


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == "float":
        if series.dtype.kind in "fiu":
            return series.astype(float)
        return parse_number(series)
    if dtype == "int":
        return parse_number(series).astype("Int64")
    if dtype == "bool":
        return series.map(_truthy).astype(bool)
    text = series.astype("string").str.strip()
    keep = (text.notna() & (text != "")).fillna(False).astype(bool)
    return text.astype(object).where(keep, None)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "y", "yes", "true", "t"}
    return bool(value) if value is not None and value == value else False


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "disk image is malformed" in text or "file is not a database" in text:
        return "the SQLite/GeoPackage file is damaged: " + text.rsplit("; ", 1)[-1].rsplit(": ", 1)[-1]
    return text if len(text) <= 240 else text[:240] + "…"
