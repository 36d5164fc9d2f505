"""What every reader shares: the registry, safe opening of vector files and CSVs, and the final
step that turns provider columns into a canonical, repaired, EPSG:5070 GeoDataFrame.

A reader is a function `(source, area) -> GeoDataFrame` registered under a name used in configs
(`reader: padus`). It maps provider fields onto `schema.LAYERS[...]` columns and calls
`to_canonical`; provider field names never leave the reader.
"""

from __future__ import annotations

import difflib
import errno
import logging
import os
import re
import stat
import threading
import warnings
import xml.etree.ElementTree as ET
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

from ..errors import ConfigError, DataError
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
    options: tuple[str, ...] = ()   # the keys its layer's `options` may hold


READERS: dict[str, ReaderSpec] = {}


def reader(name: str, layer: str, options: Iterable[str] = ()) -> Callable:
    """Register a reader under `name`, producing canonical layer `layer` and taking the layer
    options `options` (any other key in a config is refused: a misspelt `z_unit` would
    otherwise be ignored without a word)."""
    if layer not in LAYERS:
        raise ValueError(f"unknown canonical layer {layer!r}")

    def register(func: Callable) -> Callable:
        doc = (func.__doc__ or "").strip().splitlines()
        READERS[name] = ReaderSpec(name, layer, func, doc[0] if doc else "", tuple(options))
        return func

    return register


def check_options(spec: ReaderSpec, layer_name: str, options: Mapping[str, Any]) -> None:
    """Refuse a layer option its reader does not take, suggesting the close match; the key
    names the option (`layers.<name>.options.<key>`)."""
    for key in options:
        if key in spec.options:
            continue
        close = difflib.get_close_matches(str(key), spec.options, n=1, cutoff=0.6)
        known = (f"did you mean '{close[0]}'?" if close else
                 f"its options: {', '.join(spec.options)}" if spec.options else "it takes none")
        raise ConfigError(f"unknown option for reader '{spec.name}' ({known})",
                          key=f"layers.{layer_name}.options.{key}")


#: GDAL paths and addresses that read over the network: its remote virtual file systems
#: (/vsicurl/, /vsis3/, ... also inside a chain such as /vsizip//vsicurl/), URLs, and the
#: connection strings of web drivers. `sitescore run` reads local files only.
_NETWORK = re.compile(
    r"/vsi(?:curl|s3|gs|az|adls|oss|swift|hdfs|webhdfs)\w*/"
    r"|\b(?:https?|ftps?|s3|gs|az|abfss?|wasbs?)://"
    r"|^\s*(?:WMS|WMTS|WCS|WFS|OAPIF|EEDAI?|PLScenes|DAAS|NGW|CSW|STACIT|ESRIJSON|PMTiles):",
    re.IGNORECASE)
#: XML roots of GDAL files that name other datasets (VRT) or that are web services themselves.
_REFERRING_ROOTS = {"VRTDataset", "OGRVRTDataSource"}
_SERVICE_ROOTS = {"GDAL_WMS", "GDAL_WMTS", "WCS_GDAL", "GDAL_WCS", "WMS_GDAL", "OGRWFSDataSource"}
#: Elements of a VRT that name a source dataset.
_SOURCE_TAGS = {"SourceFilename", "SrcDataSource", "SourceDataset"}
#: How deep VRTs naming VRTs are followed (GDAL itself stops nesting at a similar depth).
MAX_VRT_DEPTH = 8
#: GDAL settings while a reader runs: remote files are never fetched (no extension is allowed
#: to /vsicurl/ and its kin) and a VRT cannot run Python code.
LOCAL_ONLY_GDAL = {"CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".sitescore-reads-local-files-only",
                   "GDAL_HTTP_MAX_RETRY": "0", "GDAL_VRT_ENABLE_PYTHON": "NO"}


def is_network_path(text: str) -> bool:
    """Whether GDAL would go to the network for this path or connection string."""
    return bool(_NETWORK.search(text))


def path_status(path: Path) -> os.stat_result | None:
    """`os.stat` of a layer's path, None when it does not exist; a symbolic link loop or a path
    that cannot be looked at is the user's error, said as such (not 'file not found')."""
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        if exc.errno == errno.ELOOP:
            raise DataError("is a symbolic link loop (ELOOP): a link on this path points back to "
                            "itself; make it point at the real file", file=path) from None
        raise DataError(f"cannot be looked at ({exc.strerror})", file=path) from None


def require_file(path: Path) -> Path:
    """The path of a local file (or of a folder, for readers that take one: a .gdb, an
    extracted archive) that can be read without hanging or going to the network: no network
    path, no named pipe, device or socket, no empty file, no VRT with a remote source."""
    if str(path).startswith(POSTGIS_PREFIX):
        raise DataError("this reader reads files only (CSV, raster), not PostGIS tables", file=path)
    if is_network_path(str(path)):
        raise DataError("is a network address; `sitescore run` reads local files only (only "
                        "`sitescore fetch` downloads): download the file and give its path",
                        file=path)
    st = path_status(path)
    if st is None:
        raise DataError("file not found", file=path)
    if stat.S_ISDIR(st.st_mode):
        return path
    if not stat.S_ISREG(st.st_mode):
        raise DataError("is not a regular file (a named pipe, device or socket); reading it could "
                        "wait forever: give the path of a file", file=path)
    if st.st_size == 0:
        raise DataError("is empty (0 bytes); download or copy it again", file=path)
    refuse_network_sources(path)
    return path


def refuse_network_sources(path: Path, depth: int = 0, seen: set[Path] | None = None) -> None:
    """A GDAL VRT (raster or vector) whose sources, or its VRTs' sources, are remote would make
    GDAL download them; a web-service description (GDAL_WMS, ...) is remote by nature. Both are
    refused, naming the file; other files are left alone (only their first bytes are read)."""
    root = _xml_root(path)
    if root is None:
        return
    if root in _SERVICE_ROOTS:
        raise DataError(f"is a GDAL web-service description ({root}); `sitescore run` reads local "
                        "files only: download the data and give its path", file=path)
    if root not in _REFERRING_ROOTS:
        return
    seen = set() if seen is None else seen
    seen.add(path.resolve())
    for name, relative in _vrt_sources(path):
        if is_network_path(name):
            shown = name if len(name) <= 120 else name[:120] + "…"
            raise DataError(f"is a VRT with a network source ({shown}); `sitescore run` reads "
                            "local files only: download the source and point the VRT at it",
                            file=path)
        source = Path(name)
        if relative and not source.is_absolute():
            source = path.parent / source
        try:
            st = path_status(source)
        except DataError:
            st = None  # a source GDAL cannot open either: its error names it
        if st is None or stat.S_ISDIR(st.st_mode):
            continue  # missing sources, or driver syntax ('NITF_IM:0:x'), are GDAL's to report
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"is a VRT whose source {name} is not a regular file (a named pipe, "
                            "device or socket); reading it could wait forever", file=path)
        if source.resolve() in seen:
            continue
        if depth >= MAX_VRT_DEPTH:
            raise DataError(f"nests VRTs more than {MAX_VRT_DEPTH} deep", file=path)
        refuse_network_sources(source, depth + 1, seen)


def _xml_root(path: Path) -> str | None:
    """The root element's name when the file is XML, else None."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return None  # unreadable: the reader says so
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"<"):
        return None
    match = re.search(rb"<([A-Za-z_][\w.-]*)[\s>/]", re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"",
                                                          text, flags=re.DOTALL))
    return match.group(1).decode("ascii", "replace") if match else None


def _vrt_sources(path: Path) -> Iterator[tuple[str, bool]]:
    """(source name, relative to the VRT?) of every source element of a VRT, streamed."""
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag in _SOURCE_TAGS and elem.text and elem.text.strip():
                yield elem.text.strip(), elem.get("relativeToVRT", "0").strip() == "1"
            elem.clear()
    except ET.ParseError as exc:
        raise DataError(f"is not a readable VRT (XML error: {exc})", file=path) from None


#: pyogrio's GDAL settings are process-wide: readers running at once (runs on threads) share
#: one `local_only` setting, made by the first and undone by the last.
_LOCAL_ONLY_LOCK = threading.Lock()
_local_only_state: dict[str, Any] = {"depth": 0, "saved": {}}


@contextmanager
def local_only() -> Iterator[None]:
    """GDAL set, in both the raster (rasterio) and vector (pyogrio) libraries, so that nothing a
    reader opens can fetch a remote file, whatever a file names (`LOCAL_ONLY_GDAL`); the
    previous settings come back afterwards."""
    import rasterio

    with _LOCAL_ONLY_LOCK:
        if _local_only_state["depth"] == 0:
            _local_only_state["saved"] = {k: pyogrio.get_gdal_config_option(k)
                                          for k in LOCAL_ONLY_GDAL}
            pyogrio.set_gdal_config_options(LOCAL_ONLY_GDAL)
        _local_only_state["depth"] += 1
    try:
        with rasterio.Env(**LOCAL_ONLY_GDAL):
            yield
    finally:
        with _LOCAL_ONLY_LOCK:
            _local_only_state["depth"] -= 1
            if _local_only_state["depth"] == 0:
                pyogrio.set_gdal_config_options(_local_only_state["saved"])


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
        siblings = [p for p in path.parent.iterdir() if p.stem.lower() == path.stem.lower()]
        here = {p.name.lower() for p in siblings}
        for part, what in ((".shx", "index"), (".dbf", "attribute table")):
            if f"{path.stem.lower()}{part}" not in here:
                raise DataError(f"its {part} file (the {what}) is missing beside it; copy all "
                                "the shapefile's files (.shp, .shx, .dbf, .prj)", file=path)
        for part in siblings:  # GDAL opens them all: a named pipe among them would hang it
            if part != path and not (part.is_file() or part.is_dir()):
                raise DataError(f"its {part.suffix} file is not a regular file (a named pipe, "
                                "device or socket?); reading it could wait forever", file=path)
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
            return require_file(hits[0])  # a named pipe found in the folder would hang GDAL
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
    return require_file(hits[-1])


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
    wild_rows = list(gdf.attrs.get("bad_coordinate_features", []))
    wild_count = int(gdf.attrs.get("bad_coordinates", 0))
    geoms = out.geometry.values
    # drop z: everything downstream is planar
    flattened = int(shapely.has_z(geoms).sum()) if len(out) else 0
    if flattened:
        geoms = shapely.force_2d(geoms)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    # a NaN, infinite or off-the-Earth vertex: GEOS cannot repair it and one such feature can
    # wipe out a whole union; the feature is dropped (as if it had no geometry) and counted
    wild = off_the_map(geoms, out.crs, suspects=invalid)
    if wild.any():
        geoms = np.array(geoms, dtype=object)
        geoms[wild] = None
        invalid &= ~wild
        wild_count += int(wild.sum())
        wild_rows += _row_numbers(out.index[wild])
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
    wild = off_the_map(out.geometry.values, CRS)  # valid in its own CRS, off the map in ours
    if wild.any():
        wild_count += int(wild.sum())
        dropped += int(wild.sum())
        wild_rows += _row_numbers(out.index[wild])
        out = out.loc[~wild]
    if wild_count:
        shown = ", ".join(str(r) for r in wild_rows[:10]) + (", ..." if len(wild_rows) > 10 else "")
        log.info("%s: %d features dropped, their coordinates not finite or off the Earth "
                 "(features %s, counted from 1 in the order read)", path, wild_count, shown)
        if len(out) == 0:
            raise DataError(f"no feature is left: {wild_count} dropped for coordinates that are not "
                            f"finite or off the Earth (e.g. feature {wild_rows[0]})", file=path)
    if area is not None:
        out = area.clip_mask(out)
    out = out.reset_index(drop=True)
    out.attrs = {"path": str(path), "repaired": repaired, "dropped": dropped,
                 "features": int(len(out))}
    if flattened:  # 3D geometries: heights dropped
        out.attrs["flattened_3d"] = flattened
    if wild_count:  # NaN, infinite or off-the-Earth coordinates: dropped, first ones named
        out.attrs["bad_coordinates"] = wild_count
        out.attrs["bad_coordinate_features"] = wild_rows[:10]
    if not_numbers:  # text where a number belongs, read as missing
        out.attrs["not_numbers"] = not_numbers
        log.info("%s: cells that are not numbers, read as missing: %s", path, not_numbers)
    if repaired or dropped:
        log.info("%s: %d invalid geometries repaired, %d dropped", path, repaired, dropped)
    return out


#: A planar coordinate further than this from the origin is off the Earth (its circumference is
#: 40,075 km), in metres; in degrees, |longitude| beyond 540 (one and a half turns, as some
#: files wrap) or |latitude| beyond 90.
MAX_PLANAR_M = 41_000_000.0
MAX_LON_DEG, MAX_LAT_DEG = 540.0, 90.000001


def _coordinate_limits(crs: Any) -> tuple[float, float]:
    """The largest |x| and |y| a coordinate of `crs` can have on the Earth, in its units."""
    from pyproj import CRS as ProjCRS

    try:
        proj = ProjCRS.from_user_input(crs)
        if proj.is_geographic:
            return MAX_LON_DEG, MAX_LAT_DEG
        to_m = proj.axis_info[0].unit_conversion_factor if proj.axis_info else 1.0
    except Exception:  # noqa: BLE001 - a CRS pyproj cannot judge: finite is all we ask
        return np.inf, np.inf
    return MAX_PLANAR_M / to_m, MAX_PLANAR_M / to_m


def off_the_map(geoms: Any, crs: Any, suspects: np.ndarray | None = None) -> np.ndarray:
    """True for each geometry with a coordinate that is NaN, infinite or off the Earth in `crs`.

    Bounds find infinite and far-out vertices; a NaN one may escape them, but makes its geometry
    invalid, so the vertices of `suspects` (the invalid geometries; all of them when None) are
    looked at too, a chunk at a time."""
    geoms = np.asarray(geoms, dtype=object)
    wild = np.zeros(len(geoms), dtype=bool)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return wild
    xlim, ylim = _coordinate_limits(crs)
    with np.errstate(invalid="ignore"):
        b = shapely.bounds(geoms)
        inside = (np.isfinite(b).all(axis=1) & (np.abs(b[:, [0, 2]]) <= xlim).all(axis=1)
                  & (np.abs(b[:, [1, 3]]) <= ylim).all(axis=1))
    wild = present & ~inside
    look = np.flatnonzero(present & ~wild & (True if suspects is None else suspects))
    for start in range(0, len(look), 100_000):
        part = look[start:start + 100_000]
        coords, which = shapely.get_coordinates(geoms[part], return_index=True)
        wild[part[np.unique(which[~np.isfinite(coords).all(axis=1)])]] = True
    return wild


def _row_numbers(index: pd.Index) -> list[int]:
    """Features named by their place in what was read, counted from 1."""
    return [int(i) + 1 if isinstance(i, (int, np.integer)) else i for i in index]


def drop_off_the_map(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """`gdf` without the features `off_the_map` finds, for readers that work on geometries
    before `to_canonical` (which counts what is dropped here from `attrs`)."""
    if gdf.crs is None or len(gdf) == 0:
        return gdf
    wild = off_the_map(gdf.geometry.values, gdf.crs)
    if not wild.any():
        return gdf
    attrs = dict(gdf.attrs)
    out = gdf.loc[~wild]
    out.attrs = {**attrs, "dropped": int(attrs.get("dropped", 0)) + int(wild.sum()),
                 "bad_coordinates": int(attrs.get("bad_coordinates", 0)) + int(wild.sum()),
                 "bad_coordinate_features": list(attrs.get("bad_coordinate_features", []))
                 + _row_numbers(gdf.index[wild])}
    if len(out) == 0:
        raise DataError(f"every feature has coordinates that are not finite or off the Earth "
                        f"(e.g. feature {out.attrs['bad_coordinate_features'][0]}); nothing is "
                        "left to read", file=path)
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
