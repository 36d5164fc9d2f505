"""Outputs: tables and the run manifest, written so a run never leaves half-written files.

Everything for a study is written into a temporary sibling folder and renamed into place at the
end; a failed or interrupted run leaves the previous outputs as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd



@contextmanager
def study_lock(*finals: Path | None) -> Iterator[None]:
    """Hold the study's lock for a whole run; refuse a second run of the same study at once.

    Under the lock, temporary folders that a killed run left behind are removed: no live run of
    this study can own them."""
    import fcntl

    from .errors import SitescoreError

    first = finals[0]
    first.parent.mkdir(parents=True, exist_ok=True)
    lock_path = first.parent / f".{first.name}.lock"
    fh = open(lock_path, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "another process"
            raise SitescoreError(f"another run of this study is in progress ({owner}); wait for it "
                                 "to finish, or give this run another --runs-dir", file=first) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        for final in (f for f in finals if f is not None):
            olds = sorted(final.parent.glob(f".{final.name}.old-*"), key=lambda p: p.stat().st_mtime)
            if olds and not final.exists():  # killed between its two renames: put it back
                os.replace(olds.pop(), final)
            for stale in list(final.parent.glob(f".{final.name}.tmp-*")) + olds:
                shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        fh.close()


@contextmanager
def atomic_dirs(*finals: Path) -> Iterator[list[Path]]:
    """Yield temporary folders; on success each replaces its final folder, on error all vanish."""
    temps: list[Path] = []
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            temp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
            os.chmod(temp, 0o777 & ~_umask())  # mkdtemp makes it private; outputs are shared
            temps.append(temp)
        yield temps
    except BaseException:
        for t in temps:
            shutil.rmtree(t, ignore_errors=True)
        raise
    olds = []
    for final, temp in zip(finals, temps):
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            olds.append(old)
        os.replace(temp, final)
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    try:
        import pyogrio
        out["gdal"] = pyogrio.__gdal_version_string__
        import pyproj
        out["proj"] = pyproj.proj_version_str
    except Exception:  # pragma: no cover - informational only
        pass
    return out


def _plain(df: pd.DataFrame) -> pd.DataFrame:
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
                 excluded: gpd.GeoDataFrame | None, formats: list[str]) -> list[Path]:
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
    if "csv" in formats:
        path = folder / "sites.csv"
        pd.DataFrame(sites_out.drop(columns="geometry")).to_csv(path, index=False, float_format="%.6g")
        written.append(path)
    return written


def write_manifest(path: Path, manifest: dict[str, Any]) -> Path:
    path.write_text(json.dumps(manifest, indent=2, default=_json_default, sort_keys=False) + "\n",
                    encoding="utf-8")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def verify_inputs(manifest: dict[str, Any]) -> list[str]:
    """Inputs of a past run that are missing or whose checksum changed since: one line each."""
    changed = []
    for rec in manifest.get("inputs", []):
        files = [rec] + list(rec.get("joined_files", []))
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
