"""Outputs, low level: the files of a run (tables, manifest), the inputs' checksums and the
versions it ran with.

Nothing here knows a whole study: `publish.write_result` puts a scored study's files together
from these, and `folders` puts them in place atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd


def file_digest(path: Path) -> dict[str, Any]:
    """Size and sha256 of an input (a folder such as a .gdb is hashed file by file, sorted)."""
    h = hashlib.sha256()
    size = 0
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        size += f.stat().st_size
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return {"bytes": size, "sha256": h.hexdigest()}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("sitescore", "geopandas", "shapely", "pyogrio", "pyproj", "rasterio", "numpy",
                "pandas", "folium", "h3", "pyarrow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    try:
        import pyogrio
        out["gdal"] = pyogrio.__gdal_version_string__
        import pyproj
        out["proj"] = pyproj.proj_version_str
    except Exception:  # pragma: no cover - informational only
        pass
    return out


def _plain(df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Object columns holding mixed None/str become plain strings so every format accepts them."""
    out = df.copy()
    for col in out.columns:
        if col == "geometry":
            continue
        if out[col].dtype == object:  # None and NaN become <NA>, anything else its str()
            out[col] = out[col].astype("string")
    return out


#: The time stamp written into GeoPackages (they record one; identical runs give identical files).
GPKG_DATE = "2000-01-01T00:00:00.000Z"


def write_tables(folder: Path, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                 excluded: gpd.GeoDataFrame | None, formats: Sequence[str]) -> list[Path]:
    """Ranked sites and scored cells as GeoPackage / GeoParquet, and a CSV of sites with lon/lat."""
    written = []
    cells_out, sites_out = _plain(cells), _plain(sites)
    if "gpkg" in formats:
        # GeoPackages stamp the time of writing; a fixed stamp keeps identical runs byte-identical
        import pyogrio
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
        path = folder / "sitescore.gpkg"
        # Arrow hands GDAL whole columns: half the time of row-by-row writing, same file
        sites_out.to_file(path, layer="sites", driver="GPKG", use_arrow=True)
        cells_out.to_file(path, layer="cells", driver="GPKG", use_arrow=True)
        if excluded is not None and len(excluded):
            _plain(excluded).to_file(path, layer="excluded", driver="GPKG", use_arrow=True)
        written.append(path)
    if "parquet" in formats:
        for name, df in (("sites", sites_out), ("cells", cells_out)):
            path = folder / f"{name}.parquet"
            df.to_parquet(path, index=False)
            written.append(path)
    if "csv" in formats:  # names from the data cannot become spreadsheet formulas
        from .safe_text import write_csv

        path = folder / "sites.csv"
        table = pd.DataFrame(sites_out.drop(columns="geometry"))
        for col in ("lon", "lat"):  # every digit: '%.6g' would move -106.3031 by 10 m
            if col in table.columns:
                table[col] = [repr(float(v)) if pd.notna(v) else None for v in table[col]]
        write_csv(table, path, index=False, float_format="%.6g")
        written.append(path)
    return written


def write_manifest(path: Path, manifest: dict[str, Any]) -> Path:
    """The manifest as strict JSON: NaN and infinities (in data, never in a valid config) become
    null, since JSON has no such numbers and other tools refuse files holding them."""
    path.write_text(json.dumps(_finite(manifest), indent=2, default=_json_default, sort_keys=False,
                               allow_nan=False) + "\n", encoding="utf-8")
    return path


def _finite(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (containers copied, nothing else)."""
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return str(value)


def verify_inputs(manifest: dict[str, Any]) -> list[str]:
    """Inputs of a past run that are missing or whose checksum changed since: one line each."""
    changed = []
    for rec in manifest.get("inputs", []):
        files = [rec, *rec.get("joined_files", [])]
        for f in files:
            if "sha256" not in f:
                continue
            path = Path(f["path"])
            if not path.exists():
                changed.append(f"{path}: missing (was {f.get('bytes', 0):,} bytes)")
                continue
            now = file_digest(path)
            if now["sha256"] != f["sha256"]:
                changed.append(f"{path}: changed (sha256 {f['sha256'][:12]}… -> {now['sha256'][:12]}…, "
                               f"{f.get('bytes', 0):,} -> {now['bytes']:,} bytes)")
    return changed
