"""Prepared layer cache: each layer once read whole, stored as GeoParquet in EPSG:5070 with bbox
covering columns and rows in Hilbert order, so later runs read only the row groups their study
area touches instead of parsing a national file again.

A cache file is keyed by the reader, its options and the source files' size and modification
time; a changed source simply misses the cache. `sitescore data prepare CONFIG` builds them;
`sitescore run` uses them when present.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .readers import LayerSource, read_layer
from .schema import CRS
from .study_area import StudyArea

#: Rows per Parquet row group: small enough that a state reads a few groups of a national layer.
ROW_GROUP_SIZE = 4096


def default_cache_dir() -> Path:
    return Path(os.environ.get("SITESCORE_CACHE_DIR") or "data/cache")


def cache_key(source: LayerSource) -> str:
    """Changes whenever what the reader would return could change."""
    files = []
    for p in (source.path, *source.more_paths):
        st = p.stat()
        files.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    extra = [p for t in source.options.get("tables", []) or [] if isinstance(t, dict) and "path" in t
             for p in source.resolve_all(t["path"])]
    for p in extra:
        if p.exists():
            st = p.stat()
            files.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    blob = json.dumps({"reader": source.reader, "layer": source.layer, "files": files,
                       "options": source.options}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cache_file(cache_dir: Path, source: LayerSource) -> Path:
    return cache_dir / f"{source.name}-{source.reader}-{cache_key(source)}.parquet"


def prepare(source: LayerSource, cache_dir: Path) -> Path:
    """Read the whole layer once and store it for bbox reads (vector layers only)."""
    target = cache_file(cache_dir, source)
    if target.exists():
        return target
    layer = read_layer(source, None)
    if not isinstance(layer, gpd.GeoDataFrame):
        raise TypeError("only vector layers are cached")
    if len(layer):
        order = layer.geometry.hilbert_distance().to_numpy()
        layer = layer.iloc[np.lexsort((np.arange(len(layer)), order))]
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=cache_dir)
    os.close(fd)
    try:
        layer.to_parquet(tmp, index=False, write_covering_bbox=True, row_group_size=ROW_GROUP_SIZE,
                         schema_version="1.1.0")
        side = Path(f"{tmp}.json")
        side.write_text(json.dumps(layer.attrs, default=str))
        os.replace(side, target.with_suffix(".json"))  # the sidecar first: readers start from
        os.replace(tmp, target)                          # the parquet, which comes last
    finally:
        for leftover in (tmp, f"{tmp}.json"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return target


def read_cached(source: LayerSource, area: StudyArea | None, cache_dir: Path) -> gpd.GeoDataFrame | None:
    """The layer from its prepared cache, only what the study area touches; None if not cached."""
    try:
        path = cache_file(cache_dir, source)
    except OSError:
        return None
    if not path.exists():
        return None
    bbox = area.bounds_in(CRS) if area is not None else None
    try:
        gdf = gpd.read_parquet(path, bbox=bbox) if bbox else gpd.read_parquet(path)
    except Exception:  # a damaged cache file is a cache miss: the source is read instead
        return None
    if area is not None and area.geometry is not None and len(gdf):
        shapely.prepare(area.geometry)
        gdf = gdf[shapely.intersects(area.geometry, gdf.geometry.values)].reset_index(drop=True)
    for col in gdf.columns:  # Parquet gives back pandas strings; readers hand out objects/None
        if col != "geometry" and isinstance(gdf[col].dtype, pd.StringDtype):
            gdf[col] = gdf[col].astype(object).where(gdf[col].notna(), None)
    meta: dict[str, Any] = {}
    side = path.with_suffix(".json")
    if side.exists():
        try:
            meta = json.loads(side.read_bytes().decode("utf-8"))
        except (OSError, ValueError):   # a damaged sidecar is a miss too, like its parquet
            return None
        if not isinstance(meta, dict):
            return None
    gdf.attrs = {**meta, "path": meta.get("path", str(source.path)), "features": len(gdf),
                 "cache": str(path)}
    return gdf
