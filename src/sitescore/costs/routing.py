"""Least-cost routes: one accumulated-cost surface per connection, traced back per site.

`scikit-image`'s `graph.MCP_Geometric` runs once per connection from every passable pixel of the
layer's qualifying features outward (`find_costs(starts=feature pixels)`), over the 8-connected
grid, each step costing its length times the mean friction of the two pixels. That one run gives
every pixel its cheapest route to the nearest feature: a candidate cell reads its cost at its
centre, and a ranked site's route is the run's own predecessor array followed back from the
site's pixel. Thousands of sites cost one run per connection, not one run per site.

Two searches give that surface:

- `exact`: the run over the whole grid. Right for the grids a study usually routes on (a few
  million pixels take seconds), and what the tests check by hand.
- `corridor`, coarse to fine, for state-size grids (42 million pixels take minutes exactly): the
  same run on a grid `COARSE_FACTOR` times coarser finds each target's coarse route; the exact
  run then covers only the pixels within `CORRIDOR_CELLS` coarse cells of those routes, one
  component of that corridor at a time on its own crop. Its costs are the least within the
  corridor: equal to the exact ones where the best route stays in it, dearer where it leaves.
  On the routing benchmark (1,000 random sites, 4 layers, a 7,000 x 6,000 grid, 10 % of it
  impassable) 99.3 % of the costs were the exact ones, the 99th percentile equal and the worst
  2.2 % dearer, for about a tenth of the pixels searched. A coarse cell is passable when any of
  its pixels is (so no target the exact search reaches is ever called unreachable) and costs
  the mean friction of those pixels over their share of it (so a gap of a few pixels is dear,
  not free). A target the corridor does not reach, though the coarse run did, is searched again
  in a corridor three times wider, then exactly.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely
from scipy import ndimage

from .friction import Grid

#: A coarse cell is this many pixels on a side.
COARSE_FACTOR = 5
#: The fine search runs within this many coarse cells of each coarse route.
CORRIDOR_CELLS = 3
#: `auto` searches exactly up to this many pixels (seconds per connection), by corridor above.
EXACT_MAX_CELLS = 4_000_000
#: 8-connected neighbourhood (scipy.ndimage structure).
EIGHT = np.ones((3, 3), dtype=bool)

Search = Literal["exact", "corridor"]


@dataclass
class Surface:
    """One connection's run: accumulated friction (in pixel steps; inf where no feature is
    reachable or the search did not go), the predecessor of each pixel (an index into
    `offsets`, -1 at a feature), whether any feature lies on the grid, and how it was searched
    (`exact`, `corridor`, or a corridor's fallback)."""

    cost: np.ndarray
    traceback: np.ndarray
    offsets: np.ndarray
    has_features: bool
    search: str = "exact"


def resolve_search(search: str, shape: tuple[int, int]) -> Search:
    """`auto`: exact up to `EXACT_MAX_CELLS` pixels, by corridor above."""
    if search == "auto":
        return "exact" if shape[0] * shape[1] <= EXACT_MAX_CELLS else "corridor"
    if search not in ("exact", "corridor"):
        raise ValueError(f"unknown search {search!r} (auto, exact or corridor)")
    return "exact" if search == "exact" else "corridor"


def accumulate(friction: np.ndarray, starts: np.ndarray, targets: np.ndarray | None = None,
               *, search: Search = "exact", area: np.ndarray | None = None) -> Surface:
    """The cheapest route from every pixel to the nearest start pixel (rows, cols: n x 2) that is
    passable. `corridor` needs the pixels that must get a cost (`targets`, n x 2) and may be
    given a region whose every pixel the corridor covers too (`area`, a boolean grid)."""
    starts = np.asarray(starts, dtype=np.int64).reshape(-1, 2)
    has_features = len(starts) > 0
    starts = starts[friction[starts[:, 0], starts[:, 1]] > 0] if has_features else starts
    if len(starts) == 0:
        return Surface(np.full(friction.shape, np.inf, dtype=np.float32),
                       np.full(friction.shape, -1, dtype=np.int8), _offsets(), has_features)
    if search == "exact" or targets is None or len(targets) == 0:
        return _exact(friction, starts)
    targets = np.asarray(targets, dtype=np.int64).reshape(-1, 2)
    return _coarse_to_fine(friction, starts, targets, area)


def accumulate_all(jobs: Sequence[tuple[np.ndarray, np.ndarray]], targets: np.ndarray | None = None,
                   *, search: Search = "exact", area: np.ndarray | None = None,
                   workers: int = 1) -> list[Surface]:
    """`accumulate` for each (friction, starts), in `workers` processes when there are several
    jobs and the platform forks (the arrays are inherited, not copied); in order."""
    workers = min(workers, len(jobs), os.cpu_count() or 1)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [accumulate(f, s, targets, search=search, area=area) for f, s in jobs]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_keep,
                             initargs=(list(jobs), targets, search, area)) as pool:
        return [_unpack(p) for p in pool.map(_run_kept, range(len(jobs)))]


_KEPT: tuple = ()


def _keep(jobs: list, targets: np.ndarray | None, search: Search, area: np.ndarray | None) -> None:
    global _KEPT
    _KEPT = (jobs, targets, search, area)


def _run_kept(i: int) -> tuple:
    """Job i, its surface packed: only the pixels reached cross back to the parent."""
    jobs, targets, search, area = _KEPT
    friction, starts = jobs[i]
    s = accumulate(friction, starts, targets, search=search, area=area)
    reached = np.flatnonzero(np.isfinite(s.cost))
    return (s.cost.shape, reached, s.cost.ravel()[reached], s.traceback.ravel()[reached], s.offsets,
            s.has_features, s.search)


def _unpack(packed: tuple) -> Surface:
    shape, reached, cost, traceback, offsets, has_features, search = packed
    full_cost = np.full(shape, np.inf, dtype=np.float32)
    full_tb = np.full(shape, -1, dtype=np.int8)
    full_cost.ravel()[reached] = cost
    full_tb.ravel()[reached] = traceback
    return Surface(full_cost, full_tb, offsets, has_features, search)


def _offsets() -> np.ndarray:
    from skimage.graph import MCP_Geometric

    return np.array(MCP_Geometric(np.ones((3, 3)), fully_connected=True).offsets, dtype=np.int64)


def _tuples(pixels: np.ndarray) -> list[tuple[int, int]]:
    return list(zip(pixels[:, 0].tolist(), pixels[:, 1].tolist(), strict=True))


def _exact(friction: np.ndarray, starts: np.ndarray) -> Surface:
    from skimage.graph import MCP_Geometric

    mcp = MCP_Geometric(friction, fully_connected=True)
    cost, traceback = mcp.find_costs(_tuples(starts))
    # the arrays belong to the MCP object: a copy outlives it
    return Surface(np.asarray(cost, dtype=np.float32), np.array(traceback, dtype=np.int8),
                   np.array(mcp.offsets, dtype=np.int64), True, "exact")


def coarsen(friction: np.ndarray, factor: int) -> np.ndarray:
    """Friction of `factor` x `factor` blocks: the mean over the block's passable pixels divided
    by their share of it (a block past the grid's edge counts those pixels impassable); -1 where
    none is passable."""
    h, w = friction.shape
    hc, wc = -(-h // factor), -(-w // factor)
    padded = np.full((hc * factor, wc * factor), -1.0, dtype=np.float32)
    padded[:h, :w] = friction
    blocks = padded.reshape(hc, factor, wc, factor)
    passable = (blocks > 0).sum(axis=(1, 3), dtype=np.int32)
    total = np.maximum(blocks, 0).sum(axis=(1, 3), dtype=np.float64)
    # mean / share = (total / passable) / (passable / factor^2)
    return np.where(passable > 0, total * factor * factor / np.maximum(passable, 1) ** 2, -1.0)


def _coarse_to_fine(friction: np.ndarray, starts: np.ndarray, targets: np.ndarray,
                    area: np.ndarray | None) -> Surface:
    from skimage.graph import MCP_Geometric

    k = COARSE_FACTOR
    mcp = MCP_Geometric(coarsen(friction, k), fully_connected=True)
    coarse_cost, coarse_tb = mcp.find_costs(_tuples(np.unique(starts // k, axis=0)))
    offsets = np.array(mcp.offsets, dtype=np.int64)
    seeds = np.zeros(coarse_cost.shape, dtype=bool)
    seeds[targets[:, 0] // k, targets[:, 1] // k] = True
    if area is not None:
        rows, cols = np.nonzero(area)
        seeds[rows // k, cols // k] = True
    # a target in a wholly impassable block starts from the blocks around it
    seeds = ndimage.binary_dilation(seeds, structure=EIGHT) & np.isfinite(coarse_cost)
    routes = _route_cells(seeds, coarse_tb, offsets)
    # a target the exact search could reach: passable there or next door, in reach of the coarse run
    reachable = _near(np.isfinite(coarse_cost), targets // k) & _near(friction > 0, targets)
    for width, label in ((CORRIDOR_CELLS, "corridor"), (3 * CORRIDOR_CELLS, "corridor (widened)")):
        corridor = ndimage.binary_dilation(routes, structure=EIGHT, iterations=width)
        surface = _search_within(friction, starts, corridor, k, offsets, label)
        if not (reachable & ~_near(np.isfinite(surface.cost), targets)).any():
            return surface
    surface = _exact(friction, starts)
    surface.search = "exact (a corridor missed a target)"
    return surface


def _route_cells(seeds: np.ndarray, traceback: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Every coarse cell on the route from a seed back to its feature: the routes step back
    together and stop where they join one already marked."""
    marked = np.zeros(seeds.shape, dtype=bool)
    live = np.argwhere(seeds)
    while len(live):
        marked[live[:, 0], live[:, 1]] = True
        step = traceback[live[:, 0], live[:, 1]]
        live = live[step >= 0] - offsets[step[step >= 0]]
        live = np.unique(live[~marked[live[:, 0], live[:, 1]]], axis=0)
    return marked


def _near(mask: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Per pixel: whether it or one of its eight neighbours is set in `mask`."""
    padded = np.pad(mask, 1)
    r, c = pixels[:, 0] + 1, pixels[:, 1] + 1
    return np.logical_or.reduce([padded[r + dr, c + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)])


def _search_within(friction: np.ndarray, starts: np.ndarray, corridor: np.ndarray, k: int,
                   offsets: np.ndarray, label: str) -> Surface:
    """The exact run inside the corridor (coarse cells), one 8-connected component at a time on
    the crop of its bounding box, pixels outside it impassable."""
    from skimage.graph import MCP_Geometric

    h, w = friction.shape
    cost = np.full(friction.shape, np.inf, dtype=np.float32)
    traceback = np.full(friction.shape, -1, dtype=np.int8)
    labels, _ = ndimage.label(corridor, structure=EIGHT)
    start_label = labels[starts[:, 0] // k, starts[:, 1] // k]
    order = np.argsort(start_label, kind="stable")
    sorted_labels = start_label[order]
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        a, b = np.searchsorted(sorted_labels, [i, i + 1])
        if box is None or a == b:
            continue  # no feature in this piece of corridor: nothing is reached in it
        r0, r1 = box[0].start * k, min(box[0].stop * k, h)
        c0, c1 = box[1].start * k, min(box[1].stop * k, w)
        inside = np.repeat(np.repeat(labels[box] == i, k, axis=0), k, axis=1)[:r1 - r0, :c1 - c0]
        mcp = MCP_Geometric(np.where(inside, friction[r0:r1, c0:c1], -1.0), fully_connected=True)
        part_cost, part_tb = mcp.find_costs(_tuples(starts[order[a:b]] - (r0, c0)))
        reached = np.isfinite(part_cost)
        cost[r0:r1, c0:c1][reached] = part_cost[reached]
        traceback[r0:r1, c0:c1][reached] = part_tb[reached]
    return Surface(cost, traceback, offsets, True, label)


def sample(surface: Surface, grid: Grid, xy: np.ndarray) -> np.ndarray:
    """Friction-km from each point to the nearest feature; NaN off the grid or unreachable. A
    point on an impassable pixel (its cell reaches into excluded land) starts from the
    cheapest of its eight neighbours, one step away."""
    rows, cols, inside = grid.pixels(xy)
    out = np.full(len(xy), np.nan)
    r, c = rows[inside], cols[inside]
    value = surface.cost[r, c].astype(np.float64)
    blocked = ~np.isfinite(value)
    if blocked.any():
        padded = np.pad(surface.cost, 1, constant_values=np.inf)
        best = np.full(int(blocked.sum()), np.inf)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr or dc:
                    step = np.hypot(dr, dc)
                    best = np.minimum(best, padded[r[blocked] + 1 + dr, c[blocked] + 1 + dc] + step)
        value[blocked] = best
    value[~np.isfinite(value)] = np.nan
    out[inside] = value * grid.cell_km
    return out


def trace(surface: Surface, grid: Grid, point: np.ndarray) -> np.ndarray | None:
    """The route's pixels (rows, cols: n x 2) from the point's pixel to the feature, following
    the run's predecessors; None off the grid or where no feature is reachable."""
    return trace_many(surface, grid, np.asarray(point, dtype=float).reshape(1, 2))[0]


def trace_many(surface: Surface, grid: Grid, points: np.ndarray) -> list[np.ndarray | None]:
    """The routes of many points at once: every route steps back together, one numpy step for
    all of them per pixel of the longest route."""
    starts = [trace_start(surface, grid, p) for p in points]
    live = [i for i, s in enumerate(starts) if s is not None]
    out: list[np.ndarray | None] = [None] * len(points)
    if not live:
        return out
    pos = np.array([starts[i] for i in live])
    steps = [pos.copy()]
    done_at = np.full(len(live), -1)
    for k in range(surface.cost.size):
        idx = surface.traceback[pos[:, 0], pos[:, 1]]
        ended = (idx < 0) & (done_at < 0)
        done_at[ended] = k
        if (done_at >= 0).all():
            break
        moving = idx >= 0
        pos = pos.copy()
        pos[moving] -= surface.offsets[idx[moving]]
        steps.append(pos)
    stacked = np.stack(steps)  # steps x routes x 2
    for j, i in enumerate(live):
        out[i] = stacked[:done_at[j] + 1, j]
    return out


def trace_start(surface: Surface, grid: Grid, point: np.ndarray) -> np.ndarray | None:
    """The pixel a route from the point starts at (a neighbour when the point's own pixel is
    impassable); None off the grid or where no feature is reachable."""
    rows, cols, inside = grid.pixels(point.reshape(1, 2))
    if not inside[0]:
        return None
    pos = np.array([rows[0], cols[0]])
    return pos if np.isfinite(surface.cost[pos[0], pos[1]]) else _cheapest_neighbour(surface, pos)


def _cheapest_neighbour(surface: Surface, pos: np.ndarray) -> np.ndarray | None:
    best, best_pos = np.inf, None
    h, w = surface.cost.shape
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r, c = pos[0] + dr, pos[1] + dc
            if (dr or dc) and 0 <= r < h and 0 <= c < w and surface.cost[r, c] + np.hypot(dr, dc) < best:
                best, best_pos = surface.cost[r, c] + np.hypot(dr, dc), np.array([r, c])
    return best_pos if np.isfinite(best) else None


def route_line(grid: Grid, path: np.ndarray) -> shapely.LineString:
    """The route through its pixels' centres (a one-pixel route is a point doubled)."""
    xy = grid.centres(path[:, 0], path[:, 1])
    if len(xy) == 1:
        xy = np.vstack([xy, xy])
    return shapely.linestrings(xy)


def class_lengths(path: np.ndarray, classes: np.ndarray, excluded: np.ndarray, n_classes: int,
                  cell_km: float, part: tuple[np.ndarray, int] | None = None) -> np.ndarray:
    """Km of the route per terrain class (index class + 1; `n_classes` slope rows), weighted by
    the excluded-land factor: each step's length split half to each end's class, as
    MCP_Geometric charges it, so the route's friction-km under any multipliers m is
    `class_lengths @ m`. `part` (labels per pixel, k) counts only the ends labelled k: a route's
    share along one corridor."""
    out = np.zeros(n_classes + 2)  # no DEM, flat, then each slope row
    if len(path) < 2:
        return out
    a, b = path[:-1], path[1:]
    step = np.hypot(*(b - a).T) * cell_km
    for ends in (a, b):
        weight = 0.5 * step * excluded[ends[:, 0], ends[:, 1]]
        if part is not None:
            weight = weight * (part[0][ends[:, 0], ends[:, 1]] == part[1])
        np.add.at(out, classes[ends[:, 0], ends[:, 1]].astype(np.int64) + 1, weight)
    return out
