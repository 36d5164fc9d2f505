"""What every reader shares: the registry, safe opening of vector files and CSVs, and the final
step that turns provider columns into a canonical, repaired, EPSG:5070 GeoDataFrame.

A reader is a function `(source, area) -> GeoDataFrame` registered under a name used in configs
(`reader: padus`). It maps provider fields onto `schema.LAYERS[...]` columns and calls
`to_canonical`; provider field names never leave the reader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
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
    src = _vsi_path(path)
    try:
        info = pyogrio.read_info(src, layer=layer)
    except Exception as exc:
        raise DataError(f"cannot open as a vector dataset ({_first_line(exc)})", file=path) from exc
    crs = info.get("crs")
    if crs is None and require_crs:
        raise DataError("has no CRS (no .prj or crs member); cannot place it on the map", file=path)
    bbox = area.bounds_in(crs) if (area is not None and crs is not None) else None
    try:
        # Arrow-based reads: columnar batches instead of row-by-row Python objects
        gdf = pyogrio.read_dataframe(src, layer=layer, bbox=bbox, use_arrow=True)
    except Exception as exc:
        raise DataError(f"cannot read features ({_first_line(exc)})", file=path) from exc
    if gdf.crs is None and crs is not None:
        gdf = gdf.set_crs(crs)
    return gdf


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
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                           encoding_errors="replace", **kwargs)
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
    """Numbers as providers print them: '2,076,894     ', ' 4.5', '' -> float; sentinels -> NaN."""
    text = values.astype("string").str.replace(",", "", regex=False).str.strip()
    numbers = pd.to_numeric(text.replace({"": pd.NA}), errors="coerce").astype(float)
    for s in sentinels:
        numbers = numbers.mask(numbers == s)
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
    for col, dtype in schema.columns.items():
        value = columns.get(col, None)
        if isinstance(value, (pd.Series, np.ndarray, list)):
            series = pd.Series(np.asarray(value, dtype=object), index=gdf.index) \
                if not isinstance(value, pd.Series) else value
        else:
            series = pd.Series([value] * len(gdf), index=gdf.index, dtype=object)
        out[col] = _coerce(series, dtype)
    dropped = int(gdf.attrs.get("dropped", 0))
    geoms = out.geometry.values
    # drop z: everything downstream is planar
    if len(out) and shapely.has_z(geoms).any():
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
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
