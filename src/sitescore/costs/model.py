"""What each site costs to make ready: the cost model built once per run, per-cell estimates for
the `readiness_cost` criterion, and per-site routes and cost ranges.

Where routing runs. Routes are per site, but the criterion needs a value per cell before any
site exists. Both come from the same runs: `prepare_costs` builds the friction surface over the
cells and runs one least-cost search per connection from its features outward (`routing`), which
gives every pixel its cheapest route at once; a cell's readiness cost reads that surface at its
centre with base unit costs, and each ranked site's route is traced back through the same run
from a point inside the site. So the criterion and the site's breakdown agree, and the work does
not grow with the number of sites (a loop of one search per site grows with sites times area).

A cost is never zero for want of data: a connection whose features are out of reach, or a site
off the grid, has a missing cost and the reason. Unit costs come from `unit_costs` (data with
sources); a site's low / base / high put every unit cost and slope multiplier at that level, and
its distribution draws each from a triangular law (low, base, high) with the seeded PCG64
generator the rank Monte Carlo (`sensitivity`) uses, one draw per item shared by all sites.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config.costs import ConnectionConfig, CorridorConfig, CostsConfig
from ..config.models import Config
from ..errors import ConfigError
from ..filters import parse_where
from ..schema import CRS, M_PER_KM
from .friction import (
    Grid,
    burn,
    class_multipliers,
    excluded_factor,
    friction,
    grid_around,
    grid_bounds,
    slope_on_grid,
    terrain_classes,
)
from .plan import CostsPlan
from .routing import (
    COARSE_FACTOR,
    Surface,
    accumulate_all,
    class_lengths,
    resolve_search,
    route_line,
    sample,
    trace_many,
)
from .unit_costs import LEVELS, UnitCost, UnitCostTable, load_unit_costs, pick_row

KM_PER_MILE = 1.609344
ACRES_PER_M2 = 1 / 4046.8564224
#: The site's cost distribution is summarised by these percentiles.
PERCENTILES = (10, 50, 90)


@dataclass
class Connection:
    """One connection with what it builds (its rows of the table) and its least-cost run."""

    name: str
    config: ConnectionConfig
    line: UnitCost
    per_length: float  # lanes for a road, else 1
    fixed: list[UnitCost]
    classes: np.ndarray  # terrain class per pixel for this build's slope rows
    slope_rows: list[Any]
    surface: Surface
    reason: str | None  # why nothing is reachable, when nothing is
    corridor: np.ndarray | None = None  # per pixel: 0 off any corridor, k on the k-th `along`
    corridor_levels: list[dict[str, Any]] = field(default_factory=list)  # k-1 -> level -> m, source

    @property
    def label(self) -> str:
        return self.config.label or self.name

    def per_km(self, level: str) -> float:
        return self.line.level(level) / KM_PER_MILE * self.per_length

    def fixed_cost(self, level: str) -> float:
        return sum(r.level(level) for r in self.fixed)


@dataclass
class CostModel:
    """A run's friction grid, its connections' surfaces, the table and what the notes say."""

    config: CostsConfig
    grid: Grid
    slope: np.ndarray | None
    excluded: np.ndarray
    table: UnitCostTable
    connections: dict[str, Connection]
    grading: list[UnitCost] | None
    site_acres: float
    notes: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)  # components not priced -> reason

    def components(self) -> list[str]:
        return [*self.connections, *(["grading"] if self.grading else [])]

    def record(self) -> dict[str, Any]:
        """What the manifest keeps: the grid and every unit cost used, with its source."""
        used = {(r.klass, r.key): r for c in self.connections.values() for r in (c.line, *c.fixed)}
        for r in self.grading or []:
            used[(r.klass, r.key)] = r
        return {"grid": {"cell_km": self.grid.cell_km, "shape": list(self.grid.shape)},
                "route_factor_without_dem": self.table.route_factor,
                "unit_costs": [{"class": r.klass, "key": r.key, "unit": r.unit, "low": r.low,
                                "base": r.base, "high": r.high, "dollar_year": r.dollar_year,
                                "source": r.source, "file": self.table.origin.get(r.klass)}
                               for r in used.values()],
                "corridors": [{"connection": c.name, "layer": a.layer, "where": a.where,
                               "width_km": a.width_km, **lv}
                              for c in self.connections.values()
                              for a, lv in zip(c.config.along, c.corridor_levels, strict=True)],
                "left_out": dict(self.left_out), "notes": list(self.notes)}


def prepare_costs(cfg: CostsConfig, layers: Mapping[str, Any], cells: gpd.GeoDataFrame,
                  excluded: gpd.GeoDataFrame | None, *, config_dir: Path,
                  site_acres: float, left_out: Mapping[str, str] | None = None) -> CostModel:
    """The friction grid over the cells and one least-cost run per connection (`left_out`: the
    components the run cannot price, name -> reason: every site's total is missing for them)."""
    for name, conn in cfg.connections.items():
        if conn.layer not in layers:
            raise ConfigError(f"layer '{conn.layer}' is not in 'layers'",
                              key=f"costs.connections.{name}.layer")
    if cfg.terrain is not None and cfg.terrain not in layers:
        raise ConfigError(f"layer '{cfg.terrain}' is not in 'layers'", key="costs.terrain")
    override = None
    if cfg.unit_costs:
        override = Path(cfg.unit_costs).expanduser()
        override = override if override.is_absolute() else config_dir / override
    table = load_unit_costs(override)
    notes: list[str] = []
    grid = grid_around(tuple(cells.total_bounds), cfg.resolution_km, cfg.margin_km, cfg.max_raster_cells)
    slope = slope_on_grid(layers[cfg.terrain], grid) if cfg.terrain else None
    if slope is None:
        notes.append(f"costs: no terrain layer; routes cost their routed length x "
                     f"{table.route_factor:g} ({table.route_factor_source})")
    elif not np.isfinite(slope).all():
        share = float(np.mean(~np.isfinite(slope)))
        notes.append(f"costs: the DEM leaves {share:.0%} of the routing grid uncovered; routes "
                     f"there cost their length x {table.route_factor:g} (the table's route factor)")
    excl = excluded_factor(grid, excluded, cfg.excluded_land)
    if excluded is None:
        notes.append("costs: no excluded land is known to the routing (a shortlist study): routes "
                     "may cross protected land")
    builds, jobs = [], []
    for name, conn in cfg.connections.items():
        key = f"costs.connections.{name}"
        line, per_length, fixed = _rows(cfg, table, conn, key)
        rows = table.slope.get(conn.build, [])
        if slope is not None and not rows:
            notes.append(f"costs: the unit-cost table has no slope multipliers for {conn.build}: "
                         f"connection '{name}' costs the same on any slope")
        classes = terrain_classes(slope, rows, grid.shape)
        features = _features(layers[conn.layer], conn, key)
        corridor, levels = _corridors(grid, layers, table, conn, key)
        base = friction(classes, class_multipliers(rows, "base", table.route_factor), excl)
        if corridor is not None:
            factor = np.array([1.0, *(lv["base"] for lv in levels)])[corridor]
            base = np.where(base > 0, base * factor, base)
        builds.append((name, conn, line, per_length, fixed, classes, rows, corridor, levels))
        jobs.append((base, np.argwhere(burn(grid, features.geometry.values))))
    search = resolve_search(cfg.search, grid.shape)
    targets, area = _targets(grid, cells) if search == "corridor" else (None, None)
    surfaces = accumulate_all(jobs, targets, search=search, area=area, workers=cfg.workers)
    connections = {}
    for (name, conn, line, per_length, fixed, classes, rows, corridor, levels), surface in \
            zip(builds, surfaces, strict=True):
        reason = None
        if not surface.has_features:
            reason = (f"no feature of layer '{conn.layer}'{_where_text(conn)} within "
                      f"{cfg.margin_km:g} km of the candidate cells")
            notes.append(f"costs: connection '{name}': {reason}")
        connections[name] = Connection(name, conn, line, per_length, fixed, classes, rows, surface,
                                       reason, corridor, levels)
    searched = sorted({s.search for s in surfaces})
    if searched != ["exact"]:
        notes.append(f"costs: least-cost search {', '.join(searched)} over the {grid.shape[1]:,} x "
                     f"{grid.shape[0]:,} routing grid: each cost is the least within a corridor "
                     f"around the route a {COARSE_FACTOR}x coarser search found")
    grading = None
    if cfg.grading:
        if slope is None:
            raise ConfigError("site grading is priced by slope: set costs.terrain", key="costs.grading")
        grading = table.rows("site_grading", key="costs.grading")
    return CostModel(cfg, grid, slope, excl, table, connections, grading, site_acres, notes,
                     dict(left_out or {}))


def _targets(grid: Grid, cells: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """What a corridor search must cover: the cells' centres (their costs) and every pixel
    under a cell (a site's route starts anywhere inside its cells)."""
    xy = shapely.get_coordinates(shapely.centroid(cells.geometry.values))
    rows, cols, inside = grid.pixels(xy)
    return np.column_stack([rows[inside], cols[inside]]), burn(grid, cells.geometry.values)


def study_costs(plan: CostsPlan, cfg: Config, layers: Mapping[str, Any], cells: gpd.GeoDataFrame,
                excluded: gpd.GeoDataFrame | None) -> CostModel | None:
    """The study's cost model for what `plan` prices (None when nothing): grading covers
    `costs.site_acres`, else the sites' minimum acres; a unit-cost file is relative to the
    config's folder."""
    if plan.config is None:
        return None
    return prepare_costs(plan.config, layers, cells, excluded, left_out=plan.left_out,
                         site_acres=plan.config.site_acres or cfg.sites.min_site_acres,
                         config_dir=cfg.source_path.parent if cfg.source_path else Path.cwd())


def _rows(cfg: CostsConfig, table: UnitCostTable, conn: ConnectionConfig,
          key: str) -> tuple[UnitCost, float, list[UnitCost]]:
    """The rows a connection builds: its route class sized by demand, and its fixed items."""
    rows = table.rows(conn.build, key=f"{key}.build")
    per_length = 1.0
    voltage = None
    if conn.build == "transmission_line":
        line = pick_row(rows, "voltage_kv", cfg.voltage_kv) if cfg.voltage_kv is not None \
            else pick_row(rows, "capacity_mw", cfg.power_mw)
        voltage = line.attrs["voltage_kv"]
    elif conn.build == "water_pipeline":
        line = pick_row(rows, "max_mgd", cfg.water_mgd)
    else:
        line = rows[0]
        per_length = float(cfg.road_lanes) if conn.build == "road_lane" else 1.0
    fixed = []
    for klass in conn.at_feature:
        at = table.rows(klass, key=f"{key}.at_feature")
        if klass in ("new_substation", "substation_bay"):
            if voltage is None:
                raise ConfigError(f"{klass} is sized by the line's voltage: build a "
                                  "transmission_line on this connection", key=f"{key}.at_feature")
            fixed.append(pick_row(at, "voltage_kv", voltage))
        else:
            fixed.append(at[0])
    return line, per_length, fixed


def _features(layer: Any, conn: ConnectionConfig | CorridorConfig, key: str) -> gpd.GeoDataFrame:
    if not isinstance(layer, gpd.GeoDataFrame):
        raise ConfigError(f"layer '{conn.layer}' is a raster; a connection reaches vector "
                          "features", key=f"{key}.layer")
    if conn.where:
        try:
            layer = layer[parse_where(conn.where)(layer)]
        except (KeyError, ValueError) as exc:
            raise ConfigError(str(exc.args[0]), key=f"{key}.where") from None
    return layer


def _corridors(grid: Grid, layers: Mapping[str, Any], table: UnitCostTable, conn: ConnectionConfig,
               key: str) -> tuple[np.ndarray | None, list[dict[str, Any]]]:
    """Which pixels lie along each of the connection's existing corridors (0: none; k: the k-th
    `along`, the first where they overlap) and each corridor's friction multiplier per level
    with where it came from: the config's (one value) or the unit-cost table's row for the
    build (low / base / high, its source)."""
    if not conn.along:
        return None, []
    index = np.zeros(grid.shape, dtype=np.int8)
    levels = []
    for k, along in enumerate(conn.along, start=1):
        at = f"{key}.along[{k - 1}]"
        if along.layer not in layers:
            raise ConfigError(f"layer '{along.layer}' is not in 'layers'", key=f"{at}.layer")
        if along.multiplier is not None:
            levels.append({**dict.fromkeys(LEVELS, along.multiplier), "source": f"{at}.multiplier"})
        else:
            row = table.corridor_row(conn.build, key=f"{at}.multiplier")
            levels.append({**{lv: row.level(lv) for lv in LEVELS}, "source": row.source})
        geoms = _features(layers[along.layer], along, at).geometry.values
        width = along.width_km * M_PER_KM
        geoms = geoms[shapely.dwithin(geoms, shapely.box(*grid_bounds(grid)), width)]  # buffer only these
        near = burn(grid, shapely.buffer(geoms, width))
        index[near & (index == 0)] = k
    return index, levels


def _where_text(conn: ConnectionConfig) -> str:
    return f" matching \"{conn.where}\"" if conn.where else ""


# -- per cell: the criterion ---------------------------------------------------------------------

def cell_costs(model: CostModel, cells: gpd.GeoDataFrame, component: str = "total") -> np.ndarray:
    """Base readiness cost per cell in million $ (a connection's alone when `component` names it;
    NaN where any needed connection is out of reach)."""
    known = ["total", *model.components()]
    if component not in known:
        raise ConfigError(f"unknown component '{component}' (known: {', '.join(known)})",
                          key="criteria")
    xy = shapely.get_coordinates(shapely.centroid(cells.geometry.values))
    parts = {}
    for name, conn in model.connections.items():
        fkm = sample(conn.surface, model.grid, xy)
        parts[name] = fkm * conn.per_km("base") + conn.fixed_cost("base")
    if model.grading:
        parts["grading"] = _grading(model, xy, "base")
    values = parts[component] if component != "total" else np.sum(list(parts.values()), axis=0)
    return np.asarray(values, dtype=float) / 1e6


def _grading(model: CostModel, xy: np.ndarray, level: str, acres: np.ndarray | None = None) -> np.ndarray:
    assert model.grading is not None and model.slope is not None
    rows, cols, inside = model.grid.pixels(xy)
    slope = np.full(len(xy), np.nan)
    slope[inside] = model.slope[rows[inside], cols[inside]]
    return _grading_at(model, slope, level, acres)


def _grading_at(model: CostModel, slope: np.ndarray, level: str,
                acres: np.ndarray | None = None) -> np.ndarray:
    assert model.grading is not None
    limits = np.array([r.attrs["max_slope_percent"] for r in model.grading])
    idx = np.minimum(np.searchsorted(limits, np.nan_to_num(slope, nan=np.inf)), len(limits) - 1)
    per_acre = np.array([r.level(level) for r in model.grading])[idx]
    out = per_acre * (model.site_acres if acres is None else acres)
    return np.where(np.isfinite(slope), out, np.nan)


# -- per site: routes, ranges and the distribution -------------------------------------------------

def site_costs(model: CostModel, sites: gpd.GeoDataFrame) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Per site (by `site_id`) the route km and base cost of each connection, the total as low /
    base / high and its percentiles over the draws, and why a cost is missing; and the routes
    as lines (EPSG:5070) with their length and cost range."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(model.config.seed)))
    draws = model.config.draws
    drawn: dict[tuple[str, str], np.ndarray] = {}

    def draw(item: tuple[str, str], low: float, base: float, high: float) -> np.ndarray:
        if item not in drawn:
            drawn[item] = np.full(draws, base) if high <= low else rng.triangular(low, base, high, draws)
        return drawn[item]

    points = shapely.point_on_surface(sites.geometry.values)
    xy = shapely.get_coordinates(points)
    n = len(sites)
    table: dict[str, Any] = {"site_id": sites["site_id"].to_numpy()}
    total = {lv: np.zeros(n) for lv in LEVELS}
    total_draws = np.zeros((n, draws))
    missing: list[list[str]] = [[] for _ in range(n)]
    route_rows = []
    weights = np.abs(model.excluded)  # each route's steps weighted by the excluded-land factor
    for name, conn in model.connections.items():
        km = np.full(n, np.nan)
        cost = {lv: np.full(n, np.nan) for lv in LEVELS}
        mult = {lv: class_multipliers(conn.slope_rows, lv, model.table.route_factor) for lv in LEVELS}
        mult_draws = np.column_stack(
            [np.full(draws, model.table.route_factor), np.ones(draws),
             *(draw(("slope", f"{conn.config.build}>{r.min_slope_percent:g}"), r.low, r.base, r.high)
               for r in conn.slope_rows)])
        per_km_draws = draw((conn.line.klass, conn.line.key), conn.line.low, conn.line.base,
                            conn.line.high) / KM_PER_MILE * conn.per_length
        fixed_draws = sum((draw((r.klass, r.key), r.low, r.base, r.high) for r in conn.fixed),
                          np.zeros(draws))
        along = [{**dict.fromkeys(LEVELS, 1.0), "draws": np.ones(draws)}]
        along += [{**lv, "draws": draw(("corridor", f"{name}>{k}"), lv["low"], lv["base"], lv["high"])}
                  for k, lv in enumerate(conn.corridor_levels, start=1)]
        for i, path in enumerate(trace_many(conn.surface, model.grid, xy)):
            if path is None:
                missing[i].append(f"{conn.label}: {conn.reason or _unreachable(model, conn)}")
                continue
            parts = _route_lengths(conn, weights, path, model.grid.cell_km)
            line = route_line(model.grid, path)
            km[i] = shapely.length(line) / M_PER_KM
            for lv in LEVELS:
                fkm = sum(along[k][lv] * (lengths @ mult[lv]) for k, lengths in parts)
                cost[lv][i] = fkm * conn.per_km(lv) + conn.fixed_cost(lv)
            fkm_draws = sum((along[k]["draws"] * (mult_draws @ lengths) for k, lengths in parts),
                            np.zeros(draws))
            total_draws[i] += fkm_draws * per_km_draws + fixed_draws
            route_rows.append({"site_id": table["site_id"][i], "connection": name,
                               "build": conn.config.build, "reaches": conn.config.layer,
                               "length_km": round(float(km[i]), 3),
                               **{f"cost_{lv}_musd": cost[lv][i] / 1e6 for lv in LEVELS},
                               "dollar_year": conn.line.dollar_year, "geometry": line})
        for lv in LEVELS:
            total[lv] += cost[lv]
        table[f"{name}_route_km"] = km
        table[f"{name}_cost_musd"] = cost["base"] / 1e6
    if model.grading:
        slope = _site_slopes(model, sites)
        acres = (sites["acres"].to_numpy(dtype=float) if "acres" in sites.columns
                 else shapely.area(sites.geometry.values) * ACRES_PER_M2)
        for lv in LEVELS:
            total[lv] += _grading_at(model, slope, lv, acres)
        limits = np.array([r.attrs["max_slope_percent"] for r in model.grading])
        idx = np.minimum(np.searchsorted(limits, np.nan_to_num(slope, nan=np.inf)), len(limits) - 1)
        per_acre = np.column_stack([draw((r.klass, r.key), r.low, r.base, r.high) for r in model.grading])
        total_draws += per_acre[:, idx].T * acres[:, None]
        table["grading_cost_musd"] = _grading_at(model, slope, "base", acres) / 1e6
        for j in np.flatnonzero(~np.isfinite(slope)):
            missing[int(j)].append("grading: no slope under the site")
    for name, why in model.left_out.items():  # not priced at all: no site has a total
        for m in missing:
            m.append(f"{name}: not priced, {why}")
    ok = np.array([not m for m in missing])
    for lv in LEVELS:
        table[f"readiness_cost_{lv}_musd"] = np.where(ok, total[lv] / 1e6, np.nan)
    table["readiness_cost_musd"] = table["readiness_cost_base_musd"]
    for q in PERCENTILES:
        pct = np.percentile(total_draws, q, axis=1) / 1e6 if n else np.zeros(0)
        table[f"readiness_cost_p{q}_musd"] = np.where(ok, pct, np.nan)
    table["readiness_cost_note"] = ["; ".join(m) if m else "" for m in missing]
    routes = gpd.GeoDataFrame(route_rows or None, geometry="geometry" if route_rows else None, crs=CRS) \
        if route_rows else gpd.GeoDataFrame(
            {"site_id": [], "connection": [], "build": [], "reaches": [], "length_km": [],
             **{f"cost_{lv}_musd": [] for lv in LEVELS}, "dollar_year": []},
            geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    return pd.DataFrame(table), routes


def _route_lengths(conn: Connection, excluded: np.ndarray, path: np.ndarray,
                   cell_km: float) -> list[tuple[int, np.ndarray]]:
    """The route's km per terrain class, split by the corridor it runs along: (0 for open
    ground or k for the k-th `along`, its class lengths), parts the route does not touch left
    out."""
    n = len(conn.slope_rows)
    if conn.corridor is None:
        return [(0, class_lengths(path, conn.classes, excluded, n, cell_km))]
    parts = [(k, class_lengths(path, conn.classes, excluded, n, cell_km, part=(conn.corridor, k)))
             for k in range(len(conn.corridor_levels) + 1)]
    return [(k, lengths) for k, lengths in parts if lengths.any()] or parts[:1]


def with_site_costs(model: CostModel | None,
                    sites: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """The sites with their cost columns, and their routes (the sites as they are, and no routes,
    without a cost model)."""
    if model is None:
        return sites, None
    table, routes = site_costs(model, sites)
    return sites.merge(table, on="site_id", how="left"), routes


def _unreachable(model: CostModel, conn: Connection) -> str:
    return (f"no feature of layer '{conn.config.layer}'{_where_text(conn.config)} is reachable "
            f"within the routing grid ({model.config.margin_km:g} km beyond the cells) without "
            "crossing excluded land")


def _site_slopes(model: CostModel, sites: gpd.GeoDataFrame) -> np.ndarray:
    """Mean slope under each site's outline on the routing grid (its point where it is smaller
    than a pixel)."""
    from rasterio.features import rasterize

    assert model.slope is not None
    n = len(sites)
    ids = rasterize(((shapely.geometry.mapping(g), i + 1) for i, g in enumerate(sites.geometry.values)),
                    out_shape=model.grid.shape, transform=model.grid.transform, fill=0,
                    dtype="int32") if n else np.zeros(model.grid.shape, dtype=np.int32)
    flat, vals = ids.ravel(), model.slope.ravel()
    ok = (flat > 0) & np.isfinite(vals)
    sums = np.bincount(flat[ok] - 1, weights=vals[ok], minlength=n)
    counts = np.bincount(flat[ok] - 1, minlength=n)
    out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        pts = shapely.get_coordinates(shapely.point_on_surface(sites.geometry.values[empty]))
        rows, cols, inside = model.grid.pixels(pts)
        out[empty[inside]] = model.slope[rows[inside], cols[inside]]
    return out


def cost_constraint_criterion(cfg: CostsConfig | None, criteria: Mapping[str, Any]) -> str | None:
    """The criterion `costs.max_cost_musd` limits: the one scoring the total readiness cost."""
    if cfg is None or cfg.max_cost_musd is None:
        return None
    for name, crit in criteria.items():
        if crit.metric == "readiness_cost" and crit.params.get("component", "total") == "total":
            return name
    raise ConfigError("costs.max_cost_musd limits the readiness_cost criterion: add one "
                      "(metric: readiness_cost; weight 0 to use it only as a limit)",
                      key="costs.max_cost_musd")
