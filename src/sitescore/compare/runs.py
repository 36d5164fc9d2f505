"""Reading the two run folders: manifest, ranked sites and their criteria and weights."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyarrow import ArrowException

from ..errors import DataError
from ..formatting import to_float
from ..schema import CRS


def run_folder(run: Path) -> Path:
    """The run folder; a path to one of its files (sites.parquet, manifest.json) is accepted."""
    run = Path(run)
    if run.is_file() and run.name in ("sites.parquet", "manifest.json", "sitescore.gpkg",
                                      "sites.csv", "cells.parquet"):
        return run.parent
    return run


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise DataError("not a sitescore run: manifest.json not found in this folder "
                        "(give a run folder such as runs/<study>)", file=path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not a sitescore run manifest: not valid JSON "
                        f"({str(exc).splitlines()[0]})", file=path) from None
    if not isinstance(manifest, dict) or "study" not in manifest:
        raise DataError("not a sitescore run manifest: no 'study' in it", file=path)
    return manifest


def read_sites(folder: Path) -> gpd.GeoDataFrame:
    path = folder / "sites.parquet"
    gpkg = folder / "sitescore.gpkg"
    if path.is_file():
        try:
            sites = gpd.read_parquet(path)
        except (OSError, ValueError, RuntimeError, ArrowException) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"not a readable GeoParquet sites table ({msg})", file=path) from None
    elif gpkg.is_file():  # a run written without the parquet format
        path = gpkg
        try:
            sites = gpd.read_file(gpkg, layer="sites")
        except (OSError, ValueError, RuntimeError) as exc:  # pyogrio's errors are RuntimeErrors
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"no readable 'sites' layer ({msg})", file=gpkg) from None
    else:
        raise DataError("not a sitescore run: sites.parquet not found in this folder",
                        file=path)
    for col in ("rank", "score"):
        if col not in sites.columns:
            raise DataError("not a sitescore sites table: column missing", file=path, field=col)
    if sites.crs is None:
        sites = sites.set_crs(CRS)
    elif not sites.crs.equals(CRS):
        sites = sites.to_crs(CRS)
    if len(sites):
        ranks = pd.to_numeric(sites["rank"], errors="coerce")
        if ranks.isna().any():
            raise DataError("sites without a rank", file=path, field="rank")
        sites = sites.assign(rank=ranks.astype(int))
        sites = sites.sort_values("rank", kind="stable").reset_index(drop=True)
    geoms = np.asarray(sites.geometry.values, dtype=object)
    if len(geoms):
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        geoms[ok] = shapely.make_valid(geoms[ok])
        sites = sites.set_geometry(gpd.GeoSeries(geoms, crs=CRS, index=sites.index))
    return sites


def criteria_of(sites: gpd.GeoDataFrame, manifest: dict[str, Any]) -> list[str]:
    """The criteria the run scored: its contribution columns (the configured ones as fallback)."""
    names = [c.split("__", 1)[1] for c in sites.columns if str(c).startswith("contribution__")]
    if names:
        return names
    crit = (manifest.get("config") or {}).get("criteria") or {}
    return list(crit) if isinstance(crit, dict) else []


def configured_weights(manifest: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """Configured weights (direct weighting only: with AHP the written weights are not used)
    and labels, from the manifest's config."""
    config = manifest.get("config") or {}
    crit = config.get("criteria") or {}
    method = ((config.get("weights") or {}).get("method")) or "direct"
    weights: dict[str, float] = {}
    labels: dict[str, str] = {}
    if isinstance(crit, dict):
        for name, c in crit.items():
            if not isinstance(c, dict):
                continue
            if c.get("label"):
                labels[str(name)] = str(c["label"])
            w = to_float(c.get("weight"))
            if w is not None and method == "direct":
                weights[str(name)] = w
    return weights, labels


def effective_shares(sites: gpd.GeoDataFrame, names: Sequence[str],
            configured: dict[str, float]) -> dict[str, float | None]:
    """Effective weight per criterion: weight__c as scored, else the configured weights
    normalised over the scored criteria."""
    out: dict[str, float | None] = {}
    for n in names:
        col = f"weight__{n}"
        vals = pd.to_numeric(sites[col], errors="coerce").dropna() if col in sites.columns \
            else pd.Series(dtype=float)
        out[n] = float(vals.iloc[0]) if len(vals) else None
    if any(v is None for v in out.values()):
        total = sum(configured.get(n, 0.0) for n in names)
        for n in names:
            if out[n] is None and total > 0 and n in configured:
                out[n] = configured[n] / total
    return out
