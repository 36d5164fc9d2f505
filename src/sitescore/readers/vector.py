"""Opening vector files (GDB, GeoPackage, shapefile, zipped shapefile, GeoJSON, GeoParquet)
filtered to the study area's box, with GDAL's warnings sent to the log and the usual mistakes
said plainly: a shapefile without its .dbf, a missing layer, a file declaring the wrong CRS.
"""

from __future__ import annotations

import logging
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from ..errors import DataError
from ..study_area import StudyArea
from .registry import LayerSource
from .safety import first_line, require_file

log = logging.getLogger(__name__)


def gdal_name(path: Path) -> str:
    """What GDAL is given for a vector file: the path itself, or for a zip holding a file
    geodatabase (a PAD-US state download) `/vsizip/<zip>/<name>.gdb`, so the GDB is opened
    whatever else the zip holds (KMZ, metadata); zipped shapefiles are read in place."""
    if path.suffix.lower() != ".zip" or not zipfile.is_zipfile(path):
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return str(path)  # _check_parts or GDAL says what is wrong with it
    gdbs = _geodatabases(members)
    return f"/vsizip/{path.absolute()}/{gdbs[0]}" if gdbs else str(path)


def _geodatabases(members: list[str]) -> list[str]:
    """The `.gdb` folders among a zip's member names (a GDB is a folder of many files)."""
    found = set()
    for name in members:
        parts = name.split("/")
        for i, part in enumerate(parts[:-1]):
            if part.lower().endswith(".gdb"):
                found.add("/".join(parts[:i + 1]))
                break
    return sorted(found)


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
        bounds = area.bounds_in(gdf.crs) if area is not None and len(gdf) else None
        if bounds is not None:
            gdf = gdf.cx[bounds[0]:bounds[2], bounds[1]:bounds[3]]
        return gdf
    _check_parts(path)
    src = gdal_name(path)
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
    if info.get("geometry_type") is None and info.get("features", 0):
        # GDAL opens a lone .dbf (or a GDB table) as features without shapes; said as that,
        # not as the missing CRS that would follow
        what = ("a shapefile's attribute table without its .shp and .shx beside it"
                if path.suffix.lower() == ".dbf" else
                f"a table{f' ({layer})' if layer else ''}, not a layer of shapes")
        raise DataError(f"has no geometry: {what}; give the file with the shapes", file=path)
    crs = info.get("crs")
    if crs is None and require_crs:
        raise DataError("has no CRS (no .prj or crs member); cannot place it on the map", file=path)
    try:
        bbox = area.bounds_in(crs) if (area is not None and crs is not None) else None
    except Exception as exc:  # pyproj: a CRS it cannot use
        raise DataError(f"has a CRS that cannot be used ({first_line(exc)})", file=path) from exc
    try:
        gdf = _read_features(path, src, layer, bbox)
        if gdf.crs is None and crs is not None:
            gdf = gdf.set_crs(crs)
    except Exception as exc:
        raise DataError(f"cannot read features ({first_line(exc)})", file=path) from exc
    _valid_text(gdf, path)
    if len(gdf) == 0 and area is not None and bbox is not None:
        wrong = _wrong_crs(src, layer, crs)
        if wrong:
            raise DataError(f"no feature lies in the study area ({area.label}), and {wrong}",
                            file=path)
    return gdf


def _read_features(path: Path, src: str, layer: str | None,
                   bbox: tuple[float, float, float, float] | None) -> gpd.GeoDataFrame:
    """The features through GDAL's Arrow stream (columnar batches, no Python object per row).

    Arrow hands geometries over as WKB, and a file geodatabase's curved edges (circular arcs in
    PAD-US boundaries) arrive as CurvePolygon / MultiSurface, which GEOS cannot hold. Such a
    layer is read again through GDAL's feature-by-feature path, which turns every curve into
    its linear approximation (OGR_G_GetLinearGeometry, a vertex every OGR_ARC_STEPSIZE = 4
    degrees of arc: under 0.07 % of the radius off the true curve); `attrs["curves_linearised"]`
    says so."""
    try:
        return pyogrio.read_dataframe(src, layer=layer, bbox=bbox, use_arrow=True)
    except NotImplementedError as exc:  # shapely.from_wkb: "Nonlinear geometry types ..."
        if "nonlinear" not in str(exc).lower():
            raise
    log.info("%s%s: curved geometries read as their linear approximation", path,
             f" (layer {layer})" if layer else "")
    gdf = pyogrio.read_dataframe(src, layer=layer, bbox=bbox, use_arrow=False)
    gdf.attrs["curves_linearised"] = True
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
        for sibling in siblings:  # GDAL opens them all: a named pipe among them would hang it
            if sibling != path and not (sibling.is_file() or sibling.is_dir()):
                raise DataError(f"its {sibling.suffix} file is not a regular file (a named pipe, "
                                "device or socket?); reading it could wait forever", file=path)
    elif suffix == ".zip" and path.is_file() and not zipfile.is_zipfile(path):
        raise DataError("is not a readable zip archive (cut short or damaged?); download it "
                        "again", file=path)


def _open_problem(src: str, layer: str | None, exc: Exception) -> str:
    """Why a vector file would not open; a missing layer is named with the layers there are."""
    if layer is not None:
        try:
            names = [str(n) for n in pyogrio.list_layers(src)[:, 0]]
        except Exception:  # unreadable: the caller says so
            names = None
        if names is not None and layer not in names:
            return f"has no layer '{layer}' (its layers: {', '.join(names) or 'none'})"
    return f"cannot open as a vector dataset ({first_line(exc)})"


def _wrong_crs(src: str, layer: str | None, crs: Any) -> str | None:
    """Why a file none of whose features lies in the study area probably declares the wrong CRS:
    degree-sized coordinates under a projected CRS, or metre-sized ones under lon/lat."""
    try:
        from pyproj import CRS as ProjCRS

        declared = ProjCRS.from_user_input(crs)
        bounds = pyogrio.read_info(src, layer=layer, force_total_bounds=True).get("total_bounds")
        xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    except Exception:  # no extent to judge by
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
