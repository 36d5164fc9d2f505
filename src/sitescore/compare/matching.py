"""Sites of two runs matched by place (overlap), and what drove each matched pair's change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

from ..formatting import to_float

#: Overlaps under this share of the smaller site are slivers from rounding, not a match.
MIN_OVERLAP_SHARE_OF_SMALLER = 1e-6


def _valid_only(geoms: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """The geometries with the missing and empty ones as None, which STRtree leaves out."""
    out = geoms.copy()
    out[~ok] = None
    return out


def match_sites(geoms_a: Sequence[Any], geoms_b: Sequence[Any]
                ) -> list[tuple[int, int, float]]:
    """One-to-one matching of outlines by overlap: (index in A, index in B, overlap share).

    The overlap share of a pair is the area they share over the area of their union. Pairs are
    taken largest share first (ties: larger shared area, then lower indexes, i.e. better ranks),
    skipping sites already matched. Overlaps thinner than a millionth of the smaller site
    (rounding slivers along a shared edge) do not count.
    """
    a = np.asarray(geoms_a, dtype=object)
    b = np.asarray(geoms_b, dtype=object)
    if not len(a) or not len(b):
        return []
    ok_a = ~(shapely.is_missing(a) | shapely.is_empty(a))
    ok_b = ~(shapely.is_missing(b) | shapely.is_empty(b))
    tree = shapely.STRtree(_valid_only(b, ok_b))
    ia, ib = tree.query(_valid_only(a, ok_a), predicate="intersects")
    if not len(ia):
        return []
    inter = shapely.area(shapely.intersection(a[ia], b[ib]))
    area_a = shapely.area(a[ia])
    area_b = shapely.area(b[ib])
    union = area_a + area_b - inter
    keep = (inter > 0) & (inter > MIN_OVERLAP_SHARE_OF_SMALLER * np.minimum(area_a, area_b))
    ia, ib, inter, union = ia[keep], ib[keep], inter[keep], union[keep]
    share = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    # shares are rounded so that float noise never decides between equal overlaps
    order = np.lexsort((ib, ia, -np.round(inter, 3), -np.round(share, 9)))
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for k in order:
        i, j = int(ia[k]), int(ib[k])
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((i, j, float(min(1.0, share[k]))))
    return pairs


def drivers(a: pd.Series, b: pd.Series, names: Sequence[str], in_a: set[str],
             in_b: set[str]) -> tuple[tuple[str, float], ...]:
    """Change in contribution per criterion (missing criterion = 0), biggest change first."""
    out = []
    for n in names:
        ca = to_float(a.get(f"contribution__{n}")) if n in in_a else 0.0
        cb = to_float(b.get(f"contribution__{n}")) if n in in_b else 0.0
        if ca is None or cb is None:
            continue  # a value missing in a run: no honest difference to report
        out.append((n, cb - ca))
    # ties by name, so the order never depends on the config's order of keys
    out.sort(key=lambda t: (-round(abs(t[1]), 12), t[0]))
    return tuple(out)
