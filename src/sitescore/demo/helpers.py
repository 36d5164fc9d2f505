"""Small helpers the layer writers share: GeoJSON as GDAL writes it, CSV, rounding, lengths,
dates and a little geometry."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from .region import _GEOD, _TO_MERCATOR


def _r6(v: float) -> float:
    return round(float(v), 6)


def _coords(geom: Any) -> Any:
    """GeoJSON coordinates of a shapely geometry, rounded to 6 decimals (about 0.1 m)."""
    mapping = shapely.geometry.mapping(geom)
    return _round_nested(mapping["coordinates"])


def _round_nested(c: Any) -> Any:
    if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
        return [_r6(v) for v in c]
    return [_round_nested(x) for x in c]


def _feature(props: dict[str, Any], geom: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": geom.geom_type, "coordinates": _coords(geom)}}


def _write_geojson(path: Path, name: str, features: list[dict[str, Any]]) -> None:
    """GeoJSON as GDAL writes it: one feature per line, RFC 7946 lon/lat (no crs member)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"type": "FeatureCollection", "name": name}, ensure_ascii=False)[:-1]
    body = ",\n".join(json.dumps(f, ensure_ascii=False, allow_nan=False) for f in features)
    path.write_text(f'{head}, "features": [\n{body}\n]\n}}\n', encoding="utf-8")


def _geodesic_km(geom: Any) -> float:
    return abs(_GEOD.geometry_length(geom)) / 1000.0


def _mercator_length(geom: Any) -> float:
    return float(shapely.length(shapely.transform(
        geom, lambda xy: np.column_stack(_TO_MERCATOR.transform(xy[:, 0], xy[:, 1])))))


def _epoch_ms(year: int, month: int, day: int) -> int:
    days = (np.datetime64(f"{year:04d}-{month:02d}-{day:02d}") - np.datetime64("1970-01-01"))
    return int(days.astype(int)) * 86_400_000


def _jitter(rng: np.random.Generator, pts: Sequence[tuple[float, float]], amount: float = 0.002
            ) -> list[tuple[float, float]]:
    """Inner vertices of a line nudged a little (ends stay where they join something)."""
    out = [(pts[0][0], pts[0][1])]
    for x, y in pts[1:-1]:
        out.append((x + rng.uniform(-amount, amount), y + rng.uniform(-amount, amount)))
    out.append((pts[-1][0], pts[-1][1]))
    return out


def _densify(pts: Sequence[tuple[float, float]], rng: np.random.Generator, step: float = 0.02,
             wiggle: float = 0.0015) -> list[tuple[float, float]]:
    """A polyline with extra, slightly wandering vertices every `step` degrees (roads, rivers)."""
    out: list[tuple[float, float]] = [(pts[0][0], pts[0][1])]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        for k in range(1, n):
            t = k / n
            out.append((x0 + t * (x1 - x0) + rng.uniform(-wiggle, wiggle),
                        y0 + t * (y1 - y0) + rng.uniform(-wiggle, wiggle)))
        out.append((x1, y1))
    return out


def _poly(*pts: tuple[float, float]) -> Polygon:
    return Polygon(pts)


def _partition(frame: Polygon, pieces: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(key, shape) pieces in priority order cut into a partition of `frame`; the last key takes
    whatever is left (pass shape None)."""
    out, taken = [], Polygon()
    for key, shape in pieces:
        geom = frame if shape is None else shapely.intersection(shape, frame)
        geom = shapely.difference(geom, taken)
        geom = shapely.set_precision(geom, 1e-7)
        if not geom.is_empty:
            out.append((key, geom))
            taken = shapely.union(taken, geom)
    return out


def _write_csv(path: Path, header: list[str], rows: list[dict[str, Any]],
               lineterminator: str = "\r\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator=lineterminator)
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))
