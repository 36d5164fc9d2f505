"""TIGER/Line primary and secondary roads: a zipped NAD83 shapefile, as the Census ships it."""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path

import numpy as np
from shapely.geometry import LineString

from .helpers import _densify, _r6
from .region import _FIXED_DATE, _ZIP_DATE


def _roads(rng: np.random.Generator) -> list[tuple[str, str, str, list[tuple[float, float]]]]:
    """(FULLNAME, RTTYP, MTFCC, vertices) per road; long roads are split into TIGER-like pieces."""
    i40 = _densify([(-113.05, 35.30), (-112.75, 35.27), (-112.50, 35.245), (-112.30, 35.235),
                    (-112.05, 35.25), (-111.75, 35.282)], rng, 0.01, 0.0006)
    us89 = _densify([(-112.46, 34.55), (-112.44, 34.80), (-112.40, 35.00), (-112.33, 35.15),
                     (-112.31, 35.235)], rng, 0.01, 0.0008)
    us89n = _densify([(-112.31, 35.235), (-112.36, 35.38), (-112.50, 35.55)], rng, 0.01, 0.0008)
    us93 = _densify([(-112.89, 34.55), (-112.87, 34.90), (-112.92, 35.10), (-112.95, 35.295)],
                    rng, 0.01, 0.0008)
    sr64 = _densify([(-112.30, 35.238), (-112.10, 35.30), (-111.95, 35.40), (-111.75, 35.47)],
                    rng, 0.01, 0.0008)
    sr96 = _densify([(-113.05, 34.80), (-112.70, 34.84), (-112.44, 34.82), (-112.15, 34.94),
                     (-111.75, 35.06)], rng, 0.01, 0.0008)
    bypass = _densify([(-112.42, 35.243), (-112.38, 35.29), (-112.28, 35.30), (-112.22, 35.24)],
                      rng, 0.01, 0.0005)
    co5 = _densify([(-112.60, 35.25), (-112.62, 35.05), (-112.64, 34.97)], rng, 0.01, 0.0008)

    def pieces(name: str, rttyp: str, mtfcc: str, pts: list, n: int) -> list:
        cut = np.linspace(0, len(pts) - 1, n + 1).round().astype(int)
        return [(name, rttyp, mtfcc, pts[a:b + 1]) for a, b in itertools.pairwise(cut)]

    return [*pieces("I- 40", "I", "S1100", i40, 6),
            *pieces("US Hwy 89", "U", "S1200", us89, 3),
            *pieces("US Hwy 89", "U", "S1200", us89n, 2),
            *pieces("US Hwy 93", "U", "S1200", us93, 3),
            *pieces("State Rte 64", "S", "S1200", sr64, 2),
            *pieces("State Rte 96", "S", "S1200", sr96, 3),
            *pieces("Juniper Pkwy", "M", "S1100", bypass, 1),
            *pieces("Co Rd 5", "C", "S1200", co5, 1)]


def _write_tiger_roads(path: Path, rng: np.random.Generator) -> None:
    import tempfile

    import geopandas as gpd
    import pyogrio

    roads = _roads(rng)
    rows = [{"LINEARID": str(1104475120000 + 1373 * i), "FULLNAME": name, "RTTYP": rttyp,
             "MTFCC": mtfcc} for i, (name, rttyp, mtfcc, _) in enumerate(roads)]
    geoms = [LineString([(_r6(x), _r6(y)) for x, y in pts]) for *_, pts in roads]
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4269")
    stem = path.name.removesuffix(".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{stem}.shp"
        pyogrio.write_dataframe(gdf, shp, driver="ESRI Shapefile", geometry_type="LineString",
                                layer_options={"ENCODING": "UTF-8",
                                               "DBF_DATE_LAST_UPDATE": _FIXED_DATE[:10]})
        _zip_files(path, sorted(Path(tmp).iterdir()))


def _zip_files(path: Path, files: list[Path]) -> None:
    """A zip with fixed entry dates and order, so it is byte-identical run to run."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            info = zipfile.ZipInfo(f.name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, f.read_bytes())
