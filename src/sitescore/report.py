"""The run's printable report: one static HTML page beside the web map, with PNG figures.

:func:`write_report` writes ``report.html`` (CSS inline, no scripts, no network) and its figures
as PNG files in the same folder:

- ``report_overview.png``: the study area, the federal land considered, excluded land (grey),
  the cells coloured by score (with a colour bar), the top sites outlined and numbered, a scale
  bar and a north arrow, in EPSG:5070;
- ``report_vf_<criterion>.png``: one small chart per criterion of its value function over the
  range of raw values the cells actually have (bars for categories).

The page says what was scored and how (criteria, value functions, weights, the AHP consistency
ratio, the aggregation), what came out (the top sites with their per-criterion breakdown, rank
stability when a sensitivity analysis ran), what was left out (criteria, excluded land by rule,
cells excluded by constraint), from which inputs (file, features, sha256, catalog provider,
version and licence) and how long it took. Synthetic data is announced in a banner at the top.

Every data string is escaped with :func:`html.escape`; the figures are drawn with matplotlib's
Agg canvas (no pyplot, no global state) at a fixed size and DPI without a timestamp, so the
same inputs give the same bytes; every file is written through a temp file and ``os.replace``.
"""

from __future__ import annotations

import html
import io
import math
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import CriterionConfig, ValueFunction
from .scoring import apply_value_function, describe_value_function
from .formatting import fmt_number, fmt_pct
from .formatting import is_missing as _isna
from .formatting import to_float as _num
from .formatting import write_atomic as _write_atomic

__all__ = ["OVERVIEW_PNG", "SYNTHETIC_BANNER", "TOP_N", "write_report"]

SYNTHETIC_BANNER = "Synthetic demo data — not real places"
#: Sites listed with their breakdown, numbered on the overview map.
TOP_N = 10
OVERVIEW_PNG = "report_overview.png"
VF_PREFIX = "report_vf_"
SWEEP_PREFIX = "report_sweep_"

#: Overview figure: fixed size and resolution so the PNG is reproducible.
OVERVIEW_SIZE_IN = (8.0, 6.4)
OVERVIEW_DPI = 110
#: Past this many cells the overview draws them as an image rather than one shape each.
OVERVIEW_MAX_CELL_SHAPES = 50_000
VF_SIZE_IN = (3.2, 2.0)
VF_DPI = 100

SITE_COLOR = "#e0115f"
EXCLUDED_COLOR = "#8f8f8f"
LAND_COLOR = "#e8d9b5"        # land of the chosen agencies
OTHER_LAND_COLOR = "#f3efe6"  # other federal land read for the study
BAR_COLOR = "#1f6fb2"

_AGGREGATION = {
    "weighted_sum": ("Weighted sum",
                     ("score = Σ w<sub>j</sub> · v<sub>j</sub>: each criterion's 0..1 value times its "
                     "weight, added up. A weak criterion can be made up for by strong ones.")),
    "weighted_product": ("Weighted product",
                         ("score = Π v<sub>j</sub><sup>w<sub>j</sub></sup>: values raised to their "
                         "weights and multiplied. A value near 0 on any criterion pulls the score "
                         "down hard (little compensation).")),
    "topsis": ("TOPSIS",
               ("score = d<sup>−</sup> / (d<sup>+</sup> + d<sup>−</sup>): closeness to the ideal "
               "alternative (best value on every criterion) relative to the anti-ideal, with "
               "weighted, vector-normalised values (Hwang &amp; Yoon 1981).")),
}


# --------------------------------------------------------------------------- small helpers

def _e(value: Any) -> str:
    """Data value -> escaped HTML text ('' for missing)."""
    return "" if _isna(value) else html.escape(str(value), quote=True)


def _fmt(value: Any, unit: str = "") -> str:
    """The map's number format; text is kept as it is."""
    if _num(value) is None and isinstance(value, str) and value:
        return value
    return fmt_number(value, unit)


def _pct(weight: Any) -> str:
    """A weight as the map shows it: '25%', '12.5%'."""
    return fmt_pct(weight)


def _bytes(n: Any) -> str:
    x = _num(n)
    if x is None:
        return ""
    for unit in ("B", "kB", "MB", "GB"):
        if x < 1000 or unit == "GB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1000
    return ""  # pragma: no cover


def _short(x: float) -> str:
    """A compact axis label: 150k, 2.5M, 0.25."""
    a = abs(x)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def _bar(fraction: float | None, colour: str = BAR_COLOR, width_px: int = 60) -> str:
    f = 0.0 if fraction is None else min(1.0, max(0.0, fraction))
    return (f'<span class="bar" style="width:{width_px}px">'
            f'<span style="width:{100 * f:.0f}%;background:{colour}"></span></span>')


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _mpl_text(text: str) -> str:
    """Text for matplotlib: '$' would start mathtext."""
    return str(text).replace("$", r"\$")


def _viridis_hex(value: float | None) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if value is None:
        return EXCLUDED_COLOR
    return to_hex(colormaps["viridis"](min(1.0, max(0.0, value))))


#: Families chart text is drawn in, glyph by glyph in this order (those installed): DejaVu Sans
#: has Latin, Greek and Cyrillic; the others cover Chinese, Japanese and Korean names.
CHART_FONTS = ("DejaVu Sans", "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK KR",
               "Source Han Sans", "WenQuanYi Zen Hei", "Droid Sans Fallback", "IPAGothic",
               "Noto Sans", "Arial Unicode MS")


@contextmanager
def chart_text() -> Iterator[None]:
    """Draw figures inside this block: names in any script an installed font has show as written,
    and a glyph no installed font has becomes a box without the warning matplotlib would print on
    a successful run's stderr (silenced here only, not for the process)."""
    from matplotlib import font_manager, rc_context

    installed = {f.name for f in font_manager.fontManager.ttflist}
    families = [f for f in CHART_FONTS if f in installed] or ["sans-serif"]
    with rc_context({"font.family": families}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def _save_figure(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    # no 'Software' (matplotlib version) and no timestamp: same figure, same bytes
    fig.savefig(buf, format="png", metadata={"Software": None})
    _write_atomic(path, buf.getvalue())
    return path


def _unit(name: str, crit: CriterionConfig) -> str:
    if crit.unit:
        return crit.unit
    from .metrics import METRICS

    spec = METRICS.get(crit.metric)  # an unknown metric is caught by config validation already
    return spec.unit if spec is not None else ""


def _label(name: str, crit: CriterionConfig) -> str:
    return crit.label or name


# --------------------------------------------------------------------------- geometry drawing

def _polygon_paths(geoms: Sequence[Any], tolerance: float) -> list[Any]:
    """matplotlib Paths (with holes) for the polygons in `geoms`; one Path per input geometry
    (several parts in one Path), None where nothing polygonal is left."""
    from matplotlib.path import Path as MPath

    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    missing = shapely.is_missing(arr)
    arr[missing] = shapely.Polygon()
    if tolerance > 0:
        arr = shapely.simplify(arr, tolerance, preserve_topology=True)
    out: list[Any] = [None] * len(arr)
    # plain polygons without holes (cells, mostly) in one go
    simple = (shapely.get_type_id(arr) == 3) & ~shapely.is_empty(arr) & \
        (shapely.get_num_interior_rings(arr) == 0)
    idx = np.flatnonzero(simple)
    if len(idx):
        coords, which = shapely.get_coordinates(shapely.get_exterior_ring(arr[idx]),
                                                return_index=True)
        for i, ring in zip(idx, np.split(coords, np.flatnonzero(np.diff(which)) + 1)):
            if len(ring) >= 4:
                out[i] = MPath(ring, closed=True)
    for i in np.flatnonzero(~simple):
        g = arr[i]
        if shapely.is_empty(g):
            continue
        verts, codes = [], []
        for part in shapely.get_parts(g):
            if part.geom_type == "GeometryCollection" or part.geom_type.startswith("Multi"):
                parts = [p for p in shapely.get_parts(part) if p.geom_type == "Polygon"]
            else:
                parts = [part] if part.geom_type == "Polygon" else []
            for poly in parts:
                for ring in (poly.exterior, *poly.interiors):
                    c = np.asarray(ring.coords)[:, :2]
                    if len(c) < 4:
                        continue
                    verts.append(c)
                    codes.extend([MPath.MOVETO] + [MPath.LINETO] * (len(c) - 2) + [MPath.CLOSEPOLY])
        out[i] = MPath(np.concatenate(verts), codes) if verts else None
    return out


def _in_box(gdf: gpd.GeoDataFrame | None, box: Any) -> gpd.GeoDataFrame | None:
    if gdf is None or not isinstance(gdf, gpd.GeoDataFrame) or len(gdf) == 0:
        return None
    if gdf.crs is not None:
        from .schema import CRS
        if not gdf.crs.equals(CRS):
            gdf = gdf.to_crs(CRS)
    geoms = gdf.geometry.values
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    keep &= shapely.intersects(np.asarray(geoms, dtype=object), box)
    return gdf[keep]


def _nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^n metres) about a fifth of the span."""
    target = max(span_m / 5.0, 1.0)
    exp = 10 ** math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * exp <= target:
            return m * exp
    return exp


def _north_angle(x: float, y: float) -> float:
    """Direction of true north at (x, y) in EPSG:5070, as an angle from the +x axis (radians)."""
    from pyproj import Transformer

    from .schema import CRS
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    from_ll = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    lon, lat = to_ll.transform(x, y)
    x2, y2 = from_ll.transform(lon, min(lat + 0.05, 89.9))
    return math.atan2(y2 - y, x2 - x)


def _cells_image(ax: Any, geoms: np.ndarray, scores: np.ndarray, frame: tuple[float, float, float, float],
                 cmap: Any, grey: np.ndarray) -> None:
    """Many cells drawn as one image at the figure's resolution: a national grid has more cells
    than the figure has pixels, and a million vector shapes would take minutes to draw."""
    from rasterio.features import rasterize
    from rasterio.transform import from_bounds

    from .geometry import geojson_shapes

    x0, y0, x1, y1 = frame
    width = int(OVERVIEW_SIZE_IN[0] * OVERVIEW_DPI * 2)
    height = max(1, int(round(width * (y1 - y0) / max(x1 - x0, 1e-9))))
    # scores burnt as 1..1001 (0 = no cell, 1001 + 1 = a cell out by a constraint or without score)
    codes = np.where(np.isfinite(scores), 1 + np.round(np.clip(scores, 0, 1) * 1000), 1002).astype("int32")
    b = shapely.bounds(geoms)
    if np.median(b[:, 2] - b[:, 0]) <= (x1 - x0) / width:  # cells no wider than a pixel: one each
        xy = shapely.get_coordinates(shapely.centroid(geoms))
        col = np.clip(((xy[:, 0] - x0) / (x1 - x0) * width).astype(int), 0, width - 1)
        row = np.clip(((y1 - xy[:, 1]) / (y1 - y0) * height).astype(int), 0, height - 1)
        image = np.zeros((height, width), dtype="int32")
        image[row, col] = codes
    else:
        image = rasterize(zip(geojson_shapes(geoms), codes), out_shape=(height, width),
                          transform=from_bounds(x0, y0, x1, y1, width, height), fill=0, dtype="int32",
                          all_touched=True)
    rgba = np.zeros((height, width, 4))
    scored = (image > 0) & (image < 1002)
    rgba[scored] = cmap((image[scored] - 1) / 1000.0)
    rgba[image == 1002] = grey
    ax.imshow(rgba, extent=(x0, x1, y0, y1), origin="upper", interpolation="nearest", zorder=4)


def _overview_png(path: Path, *, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                  excluded: gpd.GeoDataFrame | None, land: gpd.GeoDataFrame | None,
                  agencies: Sequence[str], area_geometry: Any, top: int) -> Path:
    from matplotlib import colormaps, patheffects
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PathCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from .schema import CRS

    if cells.crs is not None and not cells.crs.equals(CRS):
        cells = cells.to_crs(CRS)
    extent_geoms = [g for g in (area_geometry,) if g is not None and not shapely.is_empty(g)]
    if len(cells):
        extent_geoms.append(shapely.box(*cells.total_bounds))
    if not extent_geoms and len(sites):
        extent_geoms.append(shapely.box(*sites.to_crs(CRS).total_bounds))
    if area_geometry is not None and not shapely.is_empty(area_geometry):
        x0, y0, x1, y1 = area_geometry.bounds
    elif extent_geoms:
        x0, y0, x1, y1 = shapely.union_all(extent_geoms).bounds
    else:
        x0, y0, x1, y1 = 0.0, 0.0, 1.0, 1.0
    pad = 0.03 * max(x1 - x0, y1 - y0, 1.0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    frame = shapely.box(x0, y0, x1, y1)
    tolerance = max(x1 - x0, y1 - y0) / 2000.0  # about half a pixel

    fig = Figure(figsize=OVERVIEW_SIZE_IN, dpi=OVERVIEW_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.04, 0.80, 0.90))
    ax.set_facecolor("white")
    legend: list[Any] = []

    def collection(gdf, *, face, edge, lw, alpha=1.0, z=1, simplify=tolerance):
        paths = [p for p in _polygon_paths(list(gdf.geometry.values), simplify) if p is not None]
        if not paths:
            return None
        pc = PathCollection(paths, facecolors=face, edgecolors=edge, linewidths=lw, alpha=alpha,
                            zorder=z)
        ax.add_collection(pc)
        return pc

    land = _in_box(land, frame)
    if land is not None and len(land):
        agency_col = next((c for c in ("mang_name", "agency") if c in land.columns), None)
        mine = land[agency_col].astype(str).isin(list(agencies)).to_numpy() \
            if agency_col and agencies else np.ones(len(land), dtype=bool)
        if (~mine).any():
            collection(land[~mine], face=OTHER_LAND_COLOR, edge="#c9c0ad", lw=0.3, z=1)
            legend.append(Patch(facecolor=OTHER_LAND_COLOR, edgecolor="#c9c0ad",
                                label="Other federal land"))
        if mine.any():
            collection(land[mine], face=LAND_COLOR, edge="#b89f6a", lw=0.3, z=2)
            what = ", ".join(agencies) if agencies else "candidate"
            legend.append(Patch(facecolor=LAND_COLOR, edgecolor="#b89f6a",
                                label=_mpl_text(f"Federal land considered ({what})"[:60])))
    excluded = _in_box(excluded, frame)
    if excluded is not None and len(excluded):
        collection(excluded, face="#bdbdbd", edge="#6f6f6f", lw=0.3, alpha=0.85, z=3)
        legend.append(Patch(facecolor="#bdbdbd", edgecolor="#6f6f6f", label="Excluded land"))

    norm = Normalize(0.0, 1.0)
    cmap = colormaps["viridis"]
    if len(cells):
        scores = pd.to_numeric(cells["score"], errors="coerce").to_numpy(dtype=float) \
            if "score" in cells.columns else np.full(len(cells), np.nan)
        out = cells["excluded"].fillna(False).to_numpy(dtype=bool) \
            if "excluded" in cells.columns else np.zeros(len(cells), dtype=bool)
        grey = np.array([0.56, 0.56, 0.56, 1.0])
        if len(cells) > OVERVIEW_MAX_CELL_SHAPES:
            _cells_image(ax, cells.geometry.values, np.where(out, np.nan, scores), (x0, y0, x1, y1),
                         cmap, grey)
        else:
            paths = _polygon_paths(list(cells.geometry.values), 0.0)
            colours = cmap(norm(np.nan_to_num(scores, nan=0.0)))
            colours[out | ~np.isfinite(scores)] = grey
            keep = [i for i, p in enumerate(paths) if p is not None]
            if keep:
                ax.add_collection(PathCollection([paths[i] for i in keep], facecolors=colours[keep],
                                                 edgecolors="none", linewidths=0, zorder=4))
        if out.any():
            legend.append(Patch(facecolor=EXCLUDED_COLOR, label="Cell excluded by a constraint"))

    if area_geometry is not None and not shapely.is_empty(area_geometry):
        paths = [p for p in _polygon_paths([area_geometry], tolerance) if p is not None]
        if paths:
            ax.add_collection(PathCollection(paths, facecolors="none", edgecolors="#222222",
                                             linewidths=1.2, linestyles="--", zorder=6))
            legend.append(Line2D([], [], color="#222222", linestyle="--", linewidth=1.2,
                                 label="Study area"))

    if len(sites):
        ranked = sites.sort_values("rank", kind="stable") if "rank" in sites.columns else sites
        ranked = ranked.head(top)
        if ranked.crs is not None and not ranked.crs.equals(CRS):
            ranked = ranked.to_crs(CRS)
        collection(ranked, face="none", edge=SITE_COLOR, lw=1.6, z=7, simplify=0.0)
        halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
        for i, (_, row) in enumerate(ranked.iterrows()):
            g = row.geometry
            if g is None or shapely.is_empty(g):
                continue
            rank = int(row["rank"]) if "rank" in ranked.columns and _num(row["rank"]) else i + 1
            # the number sits off the site's upper right corner, leaving its outline visible
            _, _, gx, gy = g.bounds
            ax.annotate(str(rank), xy=(gx, gy), xytext=(2, 2), textcoords="offset points",
                        ha="left", va="bottom", fontsize=8, fontweight="bold", color=SITE_COLOR,
                        zorder=8, path_effects=halo, annotation_clip=False)
        legend.append(Line2D([], [], color=SITE_COLOR, linewidth=1.6,
                             label=f"Top {min(top, len(sites))} sites (numbered by rank)"))

    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#888888")

    # scale bar, lower left
    length = _nice_length(x1 - x0)
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    tick = 0.008 * (y1 - y0)
    ax.plot([bx, bx + length], [by, by], color="black", linewidth=2.5, solid_capstyle="butt",
            zorder=9)
    for xx in (bx, bx + length / 2, bx + length):
        ax.plot([xx, xx], [by - tick, by + tick], color="black", linewidth=1, zorder=9)
    km = length / 1000.0
    ax.text(bx + length / 2, by + 2.5 * tick, f"{km:g} km", ha="center", va="bottom", fontsize=8,
            zorder=9, path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])

    # north arrow, upper right (true north at the map's centre)
    angle = _north_angle((x0 + x1) / 2, (y0 + y1) / 2)
    if not math.isfinite(angle):  # outside the projection's domain: grid north
        angle = math.pi / 2
    dx, dy = math.cos(angle), math.sin(angle)
    head = (0.93, 0.90)
    ax.annotate("", xy=head, xycoords="axes fraction", xytext=(-28 * dx, -28 * dy),
                textcoords="offset points",
                arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.5}, zorder=9)
    ax.annotate("N", xy=head, xycoords="axes fraction", xytext=(8 * dx, 8 * dy),
                textcoords="offset points", ha="center", va="center", fontsize=10,
                fontweight="bold", zorder=9)

    ax.text(0.995, 0.005, "EPSG:5070 (NAD83 / Conus Albers)", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=6, color="#555555")
    if legend:
        ax.legend(handles=legend, loc="lower right", fontsize=6.5, framealpha=0.9,
                  bbox_to_anchor=(1.0, 0.03))
    cax = fig.add_axes((0.86, 0.20, 0.025, 0.60))
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
    cb.set_label("Suitability score (0 = worst, 1 = best)", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return _save_figure(fig, path)


# --------------------------------------------------------------------------- value functions

def _raw_values(cells: gpd.GeoDataFrame, name: str) -> pd.Series:
    col = f"raw__{name}"
    return cells[col] if col in cells.columns else pd.Series([], dtype=float)


def _vf_range(vf: ValueFunction, x: np.ndarray) -> tuple[float, float]:
    """The cells' raw range, or the value function's own where the cells give none."""
    if len(x):
        lo, hi = float(np.min(x)), float(np.max(x))
    else:
        if vf.kind in ("linear", "log_linear"):
            lo, hi = sorted((vf.best, vf.worst))
        elif vf.kind == "exponential":
            lo, hi = sorted((vf.origin, vf.origin + (4 if vf.direction == "lower_better" else -4)
                             * vf.half_life))
        elif vf.kind == "logistic":
            lo, hi = vf.midpoint - 6 * vf.scale, vf.midpoint + 6 * vf.scale
        else:  # piecewise
            lo, hi = vf.points[0][0], vf.points[-1][0]
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
        if vf.kind == "log_linear" and lo <= 0 < hi:
            lo = hi / 100
    return lo, hi


def _vf_png(path: Path, name: str, crit: CriterionConfig, cells: gpd.GeoDataFrame) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    vf = crit.value
    unit = _unit(name, crit)
    raw = _raw_values(cells, name)
    fig = Figure(figsize=VF_SIZE_IN, dpi=VF_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if vf.kind == "categorical":
        keys = [k for k in (None if v is None else str(v) for v in raw.dropna().tolist()) if k]
        counts = pd.Series(keys, dtype=object).value_counts() if keys else pd.Series(dtype=int)
        cats = list(dict.fromkeys([*counts.index[:10].tolist(), *vf.map.keys()]))[:14]
        scores = apply_value_function(vf, np.array(cats, dtype=object)) if cats else np.array([])
        xs = np.arange(len(cats))
        ax.bar(xs, scores, color=[_viridis_hex(float(s)) for s in scores], edgecolor="#333333",
               linewidth=0.5)
        ax.set_xticks(xs)
        ax.set_xticklabels([_mpl_text(c if len(c) <= 12 else c[:11] + "…") for c in cats],
                           rotation=45 if len(cats) > 4 else 0, ha="right" if len(cats) > 4
                           else "center", fontsize=6)
        ax.set_xlabel(_mpl_text(f"category (others score {vf.default:g})"), fontsize=7)
    else:
        x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        lo, hi = _vf_range(vf, x)
        log_x = vf.kind == "log_linear" and lo > 0
        grid = np.geomspace(lo, hi, 240) if log_x else np.linspace(lo, hi, 240)
        y = apply_value_function(vf, grid)
        if len(x):
            bins = np.geomspace(lo, hi, 25) if log_x else np.linspace(lo, hi, 25)
            hist, edges = np.histogram(x, bins=bins)
            if hist.max() > 0:
                ax.stairs(0.9 * hist / hist.max(), edges, fill=True, color="#d9d9d9", zorder=1)
        ax.plot(grid, y, color=BAR_COLOR, linewidth=1.8, zorder=3)
        if log_x:
            from matplotlib.ticker import LogLocator, NullFormatter
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_minor_formatter(NullFormatter())
        from matplotlib.ticker import FuncFormatter
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _short(v)))
        ax.set_xlim(lo, hi)
        ax.set_xlabel(_mpl_text(f"raw value ({unit})" if unit else "raw value"), fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_yticks([0, 0.5, 1])
    ax.set_ylabel("score", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    title = _label(name, crit)
    ax.set_title(_mpl_text(title if len(title) <= 48 else title[:45] + "..."), fontsize=7.5)
    # a fixed layout (no tight_layout): faster, and every chart lines up with the others
    rotated = vf.kind == "categorical" and len(ax.get_xticks()) > 4
    fig.subplots_adjust(left=0.15, right=0.96, top=0.88, bottom=0.36 if rotated else 0.23)
    return _save_figure(fig, path)


# --------------------------------------------------------------------------- page sections

_CSS = """
body { font: 14px/1.45 "Helvetica Neue", Arial, sans-serif; color: #222; margin: 0 auto;
  max-width: 1100px; padding: 0 20px 40px; }
h1 { font-size: 24px; margin: 18px 0 4px; }
h2 { font-size: 19px; margin: 30px 0 8px; border-bottom: 2px solid #ddd; padding-bottom: 3px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
.sub { color: #555; margin: 0 0 6px; }
.banner { background: #b00020; color: #fff; font-weight: 700; font-size: 16px; padding: 10px 14px;
  margin: 14px 0 6px; border-radius: 4px; text-align: center; letter-spacing: .02em; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot td { font-weight: 600; border-top: 1px solid #999; }
.bar { display: inline-block; height: 9px; background: #eee; border-radius: 2px;
  vertical-align: middle; margin-right: 4px; overflow: hidden; }
.bar > span { display: block; height: 100%; }
.muted { color: #666; }
.small { font-size: 12px; }
code { font-size: 12px; background: #f4f4f4; padding: 0 3px; border-radius: 2px; }
figure { margin: 8px 0; }
figure.map img { max-width: 100%; border: 1px solid #ccc; }
figcaption { color: #555; font-size: 12px; }
.site { margin: 14px 0 20px; page-break-inside: avoid; }
.site h3 .rank { color: #e0115f; }
.charts figure { display: inline-block; margin: 6px; vertical-align: top; }
img.vf { width: 240px; height: auto; }
nav ul { columns: 2; padding-left: 18px; margin: 6px 0; }
@media print { .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>\n{body}\n</section>\n'


def _site_rows(sites: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    if not len(sites):
        return []
    if "rank" in sites.columns:
        sites = sites[sites["rank"].notna()].sort_values("rank", kind="stable")
    else:
        sites = sites.assign(rank=range(1, len(sites) + 1))
    return pd.DataFrame(sites.drop(columns=sites.geometry.name, errors="ignore")
                        if isinstance(sites, gpd.GeoDataFrame) else sites).to_dict("records")


def _top_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>No site was found.</p>"
    body = []
    for r in rows:
        score = _num(r.get("score"))
        lon, lat = _num(r.get("lon")), _num(r.get("lat"))
        where = f"{lat:.4f}, {lon:.4f}" if lon is not None and lat is not None else ""
        body.append(
            f'<tr data-rank="{int(r["rank"])}"><td class="num">{int(r["rank"])}</td>'
            f'<td><a href="#site-{int(r["rank"])}">{_e(r.get("name"))}</a></td>'
            f'<td>{_e(r.get("agency"))}</td><td>{_e(r.get("unit_name"))}</td>'
            f'<td>{_e(r.get("state"))}</td>'
            f'<td class="num">{_e(_fmt(r.get("acres")))}</td>'
            f'<td class="num">{_e(_fmt(r.get("n_cells")))}</td>'
            f'<td class="num score">{_bar(score, _viridis_hex(score), 50)}'
            f'{"n/a" if score is None else f"{score:.3f}"}</td>'
            f'<td class="num small">{where}</td></tr>')
    return ('<table class="top-sites"><thead><tr><th class="num">#</th><th>Site</th>'
            '<th>Agency</th><th>Unit</th><th>State</th><th class="num">Acres</th>'
            '<th class="num">Cells</th><th class="num">Score</th><th class="num">Lat, lon</th>'
            '</tr></thead><tbody>' + "".join(body) + "</tbody></table>")


def _breakdown(r: dict[str, Any], criteria: Mapping[str, CriterionConfig],
               weights: Mapping[str, float]) -> str:
    rank = int(r["rank"])
    ws = {}
    for name in criteria:
        w = _num(r.get(f"weight__{name}"))
        ws[name] = _num(weights.get(name)) if w is None else w
    w_max = max([w for w in ws.values() if w is not None] + [1e-9])
    rows, total = [], 0.0
    for name, crit in criteria.items():
        unit = _unit(name, crit)
        w = ws[name]
        value = _num(r.get(f"value__{name}"))
        contrib = _num(r.get(f"contribution__{name}"))
        if contrib is None and value is not None and w is not None:
            contrib = w * value
        total += contrib or 0.0
        value_cell = "n/a" if value is None else f"{_bar(value, _viridis_hex(value), 50)}{value:.2f}"
        contrib_cell = "n/a"
        if contrib is not None:
            share = contrib / w if w else 0.0
            contrib_cell = f"{_bar(share, BAR_COLOR, int(12 + 58 * (w or 0) / w_max))}{contrib:.3f}"
        rows.append(
            f'<tr data-criterion="{_e(name)}"><td>{_e(_label(name, crit))}</td>'
            f'<td class="num">{_e(_fmt(r.get(f"raw__{name}"), unit))}</td>'
            f'<td class="num">{value_cell}</td><td class="num">{_pct(w)}</td>'
            f'<td class="num">{contrib_cell}</td></tr>')
    score = _num(r.get("score"))
    score_text = f"{score:.3f}" if score is not None else f"{total:.3f}"
    meta = " · ".join(_e(x) for x in (r.get("agency"), r.get("unit_name"), r.get("state"))
                      if _e(x))
    stability = ""
    p_cols = [k for k in r if str(k).startswith("p_top_")]
    if p_cols and _num(r.get(p_cols[0])) is not None:
        k = str(p_cols[0]).removeprefix("p_top_")
        med, lo, hi = (_num(r.get(c)) for c in ("median_rank", "rank_p05", "rank_p95"))
        stability = (f'<p class="small">In the top {_e(k)} in {fmt_pct(r[p_cols[0]], places=0)} of '
                     f'weight draws' + (f'; median rank {med:.0f}' if med is not None else "")
                     + (f', 90% interval {lo:.0f}–{hi:.0f}' if lo is not None and hi is not None
                        else "") + ".</p>")
    return (
        f'<div class="site" id="site-{rank}"><h3><span class="rank">#{rank}</span> '
        f'{_e(r.get("name"))}</h3>'
        f'<p class="sub">{meta}{" · " if meta else ""}{_e(_fmt(r.get("acres")))} acres · '
        f'{_e(_fmt(r.get("n_cells")))} cells · score <b>{score_text}</b></p>'
        f'<table class="breakdown"><thead><tr><th>Criterion</th><th class="num">Raw value</th>'
        f'<th class="num">Score 0..1</th><th class="num">Weight</th>'
        f'<th class="num">Contribution</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        f'<tfoot><tr><td colspan="4">Total score</td><td class="num">{score_text}</td></tr>'
        f'</tfoot></table>{stability}</div>')


def _criteria_section(cfg: Any, criteria: Mapping[str, CriterionConfig],
                      weights: Mapping[str, float], charts: Mapping[str, str]) -> str:
    constraints: dict[str, list[str]] = {}
    for con in getattr(cfg, "constraints", []) or []:
        crit = criteria.get(con.criterion)
        if crit is None:
            continue
        unit = _unit(con.criterion, crit)
        u = f" {unit}" if unit else ""
        parts = []
        if con.min is not None:
            parts.append(f"at least {con.min:g}{u}")
        if con.max is not None:
            parts.append(f"at most {con.max:g}{u}")
        if con.exclude_values:
            parts.append("not " + ", ".join(str(v) for v in con.exclude_values))
        constraints.setdefault(con.criterion, []).append(" and ".join(parts))
    rows = []
    for name, crit in criteria.items():
        unit = _unit(name, crit)
        where = f'<br><span class="small">where <code>{_e(crit.where)}</code></span>' \
            if crit.where else ""
        con = "; ".join(constraints.get(name, []))
        con_html = f'<br><span class="small">constraint: {_e(con)}</span>' if con else ""
        img = charts.get(name)
        img_html = (f'<img class="vf" src="{_e(img)}" alt="value function of {_e(name)}" '
                    f'width="240">') if img else ""
        w = _num(weights.get(name))
        rows.append(
            f'<tr data-criterion="{_e(name)}"><td><b>{_e(_label(name, crit))}</b><br>'
            f'<span class="small muted">{_e(name)}</span></td>'
            f'<td><code>{_e(crit.metric)}</code> on <code>{_e(crit.layer)}</code>{where}</td>'
            f'<td>{_e(describe_value_function(crit.value, unit))}{con_html}</td>'
            f'<td class="num">{_bar(w, BAR_COLOR, 60)}{_pct(w)}</td><td>{img_html}</td></tr>')
    return ('<p>Each criterion turns a raw measurement per cell into a score from 0 (worst) to 1 '
            '(best) through its value function, drawn below over the range of raw values the '
            'cells have (grey: how the cells are spread over that range). Weights are normalised '
            'to sum to 100 %.</p>'
            '<table class="criteria"><thead><tr><th>Criterion</th><th>Measured as</th>'
            '<th>Value function</th><th class="num">Weight</th><th>Chart</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _aggregation_section(cfg: Any, manifest: Mapping[str, Any]) -> str:
    method = str(getattr(cfg, "aggregation", None) or "weighted_sum")
    name, formula = _AGGREGATION.get(method, (method, ""))
    wman = manifest.get("weights") or {}
    wmethod = wman.get("method") or getattr(getattr(cfg, "weights", None), "method", "direct")
    parts = [(f'<p><b>{_e(name)}</b> (<code>{_e(method)}</code>). {formula} Hard constraints are '
             f'vetoes: a cell that breaks one is excluded whatever its score.</p>')]
    ahp = wman.get("ahp") or getattr(cfg, "ahp", None)
    if str(wmethod) == "ahp" or ahp:
        parts.append("<p>Weights come from an AHP pairwise-comparison matrix (Saaty): the "
                     "principal eigenvector of the judgements.</p>")
    else:
        parts.append("<p>Weights were set directly in the configuration.</p>")
    if ahp:
        cr = _num(ahp.get("consistency_ratio"))
        lam = _num(ahp.get("lambda_max"))
        limit = _num(getattr(getattr(cfg, "weights", None), "max_consistency_ratio", 0.10))
        verdict = ""
        if cr is not None and limit is not None:
            verdict = " (acceptable)" if cr <= limit else " (above the limit)"
        parts.append(f'<p class="ahp">AHP consistency ratio <b>CR = '
                     f'{"n/a" if cr is None else f"{cr:.3f}"}</b>{verdict}, limit '
                     f'{_fmt(limit)}; λ<sub>max</sub> = {"n/a" if lam is None else f"{lam:.3f}"}.'
                     f'</p>')
    return "".join(parts)


def _sensitivity_section(rows: list[dict[str, Any]], manifest: Mapping[str, Any],
                         charts: Sequence[str]) -> str:
    p_cols = list(dict.fromkeys(k for r in rows[:1] for k in r if str(k).startswith("p_top_")))
    parts = []
    sens = manifest.get("sensitivity") or {}
    if sens:
        bits = []
        if sens.get("draws") is not None:
            bits.append(f"{_e(sens.get('draws'))} draws")
        if sens.get("weights"):
            bits.append(f"{_e(sens.get('weights'))} weights")
        if sens.get("spread") is not None:
            bits.append(f"spread {_e(sens.get('spread'))}")
        if _num(sens.get("thresholds")):
            bits.append(f"value-function thresholds jittered by {_e(sens.get('thresholds'))}")
        if sens.get("seed") is not None:
            bits.append(f"seed {_e(sens.get('seed'))}")
        if bits:
            parts.append(f'<p class="small">Monte Carlo: {", ".join(bits)}.</p>')
    parts.append("<p>How sure is the ranking? The weights were drawn at random around the "
                 "configured ones and the sites ranked again for each draw: the share of draws in "
                 "which a site stays in the top <i>k</i>, its median rank and the 90 % interval "
                 "of its rank.</p>")
    head = "".join(f'<th class="num">P(top {_e(c.removeprefix("p_top_"))})</th>' for c in p_cols)
    body = []
    for r in rows:
        cells = []
        for c in p_cols:
            p = _num(r.get(c))
            cells.append(f'<td class="num">{_bar(p, BAR_COLOR, 50)}'
                         f'{fmt_pct(p, places=0)}</td>')
        med, lo, hi = (_num(r.get(c)) for c in ("median_rank", "rank_p05", "rank_p95"))
        interval = f"{lo:.0f}–{hi:.0f}" if lo is not None and hi is not None else "n/a"
        body.append(f'<tr data-rank="{int(r["rank"])}"><td class="num">{int(r["rank"])}</td>'
                    f'<td>{_e(r.get("name"))}</td>{"".join(cells)}'
                    f'<td class="num">{"n/a" if med is None else f"{med:.0f}"}</td>'
                    f'<td class="num">{interval}</td></tr>')
    parts.append(f'<table class="sensitivity"><thead><tr><th class="num">Rank</th><th>Site</th>'
                 f'{head}<th class="num">Median rank</th><th class="num">90 % interval</th>'
                 f'</tr></thead><tbody>{"".join(body)}</tbody></table>')
    if charts:
        figs = "".join(f'<figure><a href="{_e(c)}"><img src="{_e(c)}" alt="{_e(Path(c).stem)}" '
                       f'width="384"></a></figure>' for c in charts)
        parts.append("<h3>Weight sweeps</h3><p>Rank of the top sites as one criterion's weight "
                     "moves from 0 to its maximum multiple, the others renormalised (dashed line: "
                     f"the configured weight).</p><div class=\"charts\">{figs}</div>")
    return "".join(parts)


_NUMBER = r"[-+]?(?:\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|nan|inf)"


def _constraint_rule(reason: str, labels: Mapping[str, str]) -> str:
    """A cell's reason ('Mean terrain slope 11.3 % > max 10 %') as its rule
    ('Mean terrain slope > max 10 %'), so cells group by the rule they break."""
    for label in sorted(labels.values(), key=len, reverse=True):
        if reason.startswith(label + " "):
            rest = reason[len(label) + 1:]
            m = re.match(rf"^{_NUMBER}.*? ([<>] (?:min|max) .+)$", rest)
            if m:
                return f"{label} {m.group(1)}"
            return reason
    return reason


def _exclusions_section(cfg: Any, cells: gpd.GeoDataFrame, excluded: gpd.GeoDataFrame | None,
                        criteria: Mapping[str, CriterionConfig], manifest: Mapping[str, Any]) -> str:
    parts = []
    by_rule = manifest.get("excluded_acres_by_rule") or {}
    areas: dict[str, int] = {}
    if excluded is not None and len(excluded) and "reason" in excluded.columns:
        areas = {str(k): int(v) for k, v in excluded["reason"].fillna("excluded")
                 .astype(str).value_counts(sort=False).items()}
    parts.append("<h3>Land removed before the grid</h3>")
    if by_rule:
        top = max([_num(v) or 0.0 for v in by_rule.values()] + [1e-9])
        rows = "".join(
            f'<tr><td>{_e(rule)}</td><td class="num">{_bar((_num(a) or 0) / top, "#8f8f8f", 80)}'
            f'{_e(_fmt(a))}</td><td class="num">{_e(areas.get(str(rule), ""))}</td></tr>'
            for rule, a in by_rule.items())
        total = sum(_num(v) or 0.0 for v in by_rule.values())
        parts.append('<p>Acres of the chosen agencies\' land in the study area removed by each '
                     'rule, the rules applied in turn (protected areas and extra exclusion layers '
                     'with their buffer; land an earlier rule removed is not counted again). '
                     'Areas: excluded features with that reason.</p>'
                     '<table class="excluded-land"><thead><tr><th>Rule</th>'
                     '<th class="num">Acres removed</th><th class="num">Areas</th></tr></thead>'
                     f'<tbody>{rows}</tbody><tfoot><tr><td>Total</td>'
                     f'<td class="num">{_e(_fmt(total))}</td><td></td></tr></tfoot></table>')
    else:
        parts.append("<p>No land was removed by an exclusion rule (or the candidates are a "
                     "shortlist).</p>")

    parts.append("<h3>Cells excluded by constraints</h3>")
    out = cells["excluded"].fillna(False).to_numpy(dtype=bool) if "excluded" in cells.columns \
        else np.zeros(len(cells), dtype=bool)
    if out.any():
        labels = {n: _label(n, c) for n, c in criteria.items()}
        reasons = cells.loc[out, "exclusion_reason"] if "exclusion_reason" in cells.columns \
            else pd.Series(["excluded"] * int(out.sum()))
        rules = [_constraint_rule(str(r) if r is not None and not pd.isna(r) else "excluded", labels)
                 for r in reasons]
        acres = pd.to_numeric(cells.loc[out, "cell_acres"], errors="coerce").to_numpy() \
            if "cell_acres" in cells.columns else np.full(int(out.sum()), np.nan)
        table = pd.DataFrame({"rule": rules, "acres": acres})
        grouped = table.groupby("rule", sort=True).agg(cells=("rule", "size"),
                                                       acres=("acres", "sum"))
        grouped = grouped.sort_values("cells", ascending=False, kind="stable")
        rows = "".join(f'<tr><td>{_e(rule)}</td><td class="num">{int(g.cells)}</td>'
                       f'<td class="num">{_e(_fmt(g.acres))}</td></tr>'
                       for rule, g in grouped.iterrows())
        parts.append(f'<p>{int(out.sum()):,} of {len(cells):,} cells break a hard constraint '
                     '(each counted under the first rule it breaks).</p>'
                     '<table class="excluded-cells"><thead><tr><th>Rule</th><th class="num">Cells'
                     f'</th><th class="num">Acres</th></tr></thead><tbody>{rows}</tbody></table>')
    else:
        parts.append(f"<p>None of the {len(cells):,} cells breaks a constraint.</p>")
    return "".join(parts)


def _dataset_info(rec: Mapping[str, Any], cfg: Any) -> Any:
    dataset = rec.get("dataset")
    if not dataset:
        lc = (getattr(cfg, "layers", None) or {}).get(rec.get("layer"))
        dataset = getattr(lc, "dataset", None)
    if not dataset:
        return None
    from .catalog import load_catalog
    from .errors import SitescoreError

    try:
        return load_catalog().get(str(dataset))
    except SitescoreError:  # an unknown id or an unreadable catalog: say only the id
        return str(dataset)


def _sources_section(cfg: Any, manifest: Mapping[str, Any]) -> str:
    rows = []
    for rec in manifest.get("inputs") or []:
        info = _dataset_info(rec, cfg)
        if info is None:
            source = f'reader <code>{_e(rec.get("reader"))}</code>'
        elif isinstance(info, str):
            source = f'dataset <code>{_e(info)}</code> (not in the catalog)'
        else:
            source = (f'{_e(info.provider)}: {_e(info.title)}, version {_e(info.version)}<br>'
                      f'<span class="small">licence: {_e(info.licence)} · dataset '
                      f'<code>{_e(info.id)}</code></span>')
        if rec.get("postgis"):
            pg = rec["postgis"]
            what = pg.get("table") or "SQL query" if isinstance(pg, Mapping) else pg
            file_cell = f'PostGIS: {_e(what)}'
        else:
            file_cell = f'<span title="{_e(rec.get("path"))}">{_e(Path(str(rec.get("path", ""))).name)}</span>'
        sha = str(rec.get("sha256") or "")
        rows.append(
            f'<tr data-layer="{_e(rec.get("layer"))}"><td>{_e(rec.get("layer"))}</td>'
            f'<td>{file_cell}</td><td>{source}</td>'
            f'<td class="num">{_e(_fmt(rec.get("features")) if rec.get("features") is not None else "")}</td>'
            f'<td class="num">{_e(_bytes(rec.get("bytes")))}</td>'
            f'<td><code title="{_e(sha)}">{_e(sha[:12])}</code></td></tr>')
        for j in rec.get("joined_files") or []:
            jsha = str(j.get("sha256") or "")
            rows.append(
                f'<tr class="joined"><td></td><td>↳ {_e(Path(str(j.get("path", ""))).name)}</td>'
                f'<td class="small">joined table</td><td></td>'
                f'<td class="num">{_e(_bytes(j.get("bytes")))}</td>'
                f'<td><code title="{_e(jsha)}">{_e(jsha[:12])}</code></td></tr>')
    if not rows:
        return "<p>The manifest lists no inputs.</p>"
    return ('<p>Every input as read, with its size and the first 12 characters of its SHA-256 '
            '(the full digest is in the run\'s manifest.json). Provider, version and licence are '
            'given where the layer names a catalog dataset.</p>'
            '<table class="sources"><thead><tr><th>Layer</th><th>File</th><th>Source</th>'
            '<th class="num">Features</th><th class="num">Size</th><th>SHA-256</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _notes_section(cfg: Any, criteria: Mapping[str, CriterionConfig],
                   manifest: Mapping[str, Any]) -> str:
    configured = list((getattr(cfg, "criteria", None) or {}).keys())
    left_out = [n for n in configured if n not in criteria]
    notes = [str(n) for n in (manifest.get("notes") or [])]
    parts = []
    if left_out:
        items = "".join(f"<li><b>{_e(n)}</b></li>" for n in left_out)
        parts.append(f'<p>Criteria in the configuration that were left out of this run:</p>'
                     f'<ul class="left-out">{items}</ul>')
    else:
        parts.append("<p>No criterion was left out.</p>")
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    else:
        parts.append("<p>The run recorded no notes.</p>")
    return "".join(parts)


def _runtime_section(manifest: Mapping[str, Any]) -> str:
    timings = manifest.get("timings_s") or {}
    peaks = manifest.get("peak_memory_mb") or {}
    parts = []
    if timings:
        total = _num(timings.get("total"))

        def peak(stage: str) -> str:
            mb = _num(peaks.get(stage))
            return f'<td class="num">{mb:,.0f} MB</td>' if mb is not None else '<td class="num"></td>'

        rows = "".join(f'<tr><td>{_e(k)}</td><td class="num">{_num(v) or 0:.3f} s</td>{peak(k)}</tr>'
                       for k, v in timings.items() if k != "total")
        foot = f'<tfoot><tr><td>Total</td><td class="num">{total:.3f} s</td><td></td></tr></tfoot>' \
            if total is not None else ""
        parts.append('<table class="timings"><thead><tr><th>Stage</th><th class="num">Time</th>'
                     '<th class="num">Peak memory (process, at the end of the stage)</th>'
                     f'</tr></thead><tbody>{rows}</tbody>{foot}</table>')
    else:
        parts.append("<p>No timings were recorded.</p>")
    versions = manifest.get("versions") or {}
    if versions:
        text = ", ".join(f"{_e(k)} {_e(v)}" for k, v in versions.items())
        parts.append(f'<p class="small muted">Software: {text}.</p>')
    return "".join(parts)


# --------------------------------------------------------------------------- the report

def _local_chart(chart: Path, folder: Path) -> str:
    """A sweep chart as a link relative to the report: charts under the report's folder are
    linked where they are, others copied beside the report."""
    chart = Path(chart)
    try:
        return chart.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        target = folder / f"{SWEEP_PREFIX}{_safe(chart.name)}"
        _write_atomic(target, chart.read_bytes())
        return target.name


def write_report(path: Path, *, cfg: Any, criteria: Mapping[str, CriterionConfig],
                 weights: Mapping[str, float], cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                 excluded: gpd.GeoDataFrame | None, layers: Mapping[str, Any],
                 area_geometry: Any, manifest: Mapping[str, Any],
                 sensitivity_charts: Sequence[Path] = ()) -> Path:
    """Write the run's static report to ``path`` (normally ``maps/<study>/report.html``) with its
    PNG figures beside it, each file atomically, and return ``path``.

    ``criteria`` are the criteria actually scored (the config's, minus any left out) and
    ``weights`` their normalised weights; ``cells``, ``sites`` and ``excluded`` are the run's
    tables in EPSG:5070; ``layers`` the input layers as read (non-vector ones are ignored);
    ``area_geometry`` the study area in EPSG:5070 or None; ``manifest`` the run manifest
    (inputs, notes, excluded_acres_by_rule, weights, timings_s, versions, sensitivity);
    ``sensitivity_charts`` the weight-sweep PNGs, linked where they lie under the report's
    folder and copied beside it otherwise. Same inputs give the same bytes.
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    criteria = dict(criteria)
    total_w = sum(_num(weights.get(n)) or 0.0 for n in criteria)
    weights = {n: ((_num(weights.get(n)) or 0.0) / total_w if total_w > 0 else 0.0)
               for n in criteria}
    rows = _site_rows(sites)
    top_rows = rows[:TOP_N]

    # figures
    source = getattr(getattr(cfg, "candidates", None), "source", None)
    land = layers.get(source) if source else None
    land = land if isinstance(land, gpd.GeoDataFrame) else None
    agencies = list(getattr(getattr(cfg, "candidates", None), "agencies", []) or [])
    charts: dict[str, str] = {}
    with chart_text():
        _overview_png(folder / OVERVIEW_PNG, cells=cells, sites=sites, excluded=excluded, land=land,
                      agencies=agencies, area_geometry=area_geometry, top=TOP_N)
        for name, crit in criteria.items():
            target = folder / f"{VF_PREFIX}{_safe(name)}.png"
            _vf_png(target, name, crit, cells)
            charts[name] = target.name
    for stale in folder.glob(f"{VF_PREFIX}*.png"):  # charts of criteria no longer scored
        if stale.name not in charts.values():
            stale.unlink(missing_ok=True)
    sweep_links = [_local_chart(Path(c), folder) for c in sensitivity_charts]

    # page
    title = getattr(cfg, "title", None) or manifest.get("title") or getattr(cfg, "study", "") \
        or "sitescore run"
    study = getattr(cfg, "study", None) or manifest.get("study") or ""
    synthetic = bool(getattr(cfg, "synthetic", False) or manifest.get("synthetic"))
    area_label = manifest.get("study_area") or ""
    counts = manifest.get("counts") or {}
    n_cells = counts.get("cells", len(cells))
    n_out = counts.get("cells_excluded", int(cells["excluded"].sum()) if "excluded" in cells else 0)
    n_sites = counts.get("sites", len(rows))
    has_sensitivity = any(str(k).startswith("p_top_") for r in rows[:1] for k in r) and \
        any(_num(r.get(k)) is not None for r in rows for k in r if str(k).startswith("p_top_"))
    method = str(getattr(cfg, "aggregation", None) or "weighted_sum")

    sections = [
        ("overview", "Overview map",
         (f'<figure class="map"><img src="{OVERVIEW_PNG}" alt="Overview map of the study area, '
         f'cells coloured by score and the top sites numbered" width="880">'
         f'<figcaption>Cells coloured by suitability score (grey: excluded by a constraint); the '
         f'top {min(TOP_N, len(rows))} sites outlined and numbered by rank; grey areas: excluded '
         f'land; dashed: the study area. EPSG:5070. The interactive map (index.html) has every '
         f'layer.</figcaption></figure>')),
        ("top-sites", f"Top {min(TOP_N, len(rows)) or TOP_N} sites", _top_table(top_rows)),
        ("breakdowns", "Site breakdowns",
         "<p>For each of the top sites: the raw value of each criterion, its 0..1 score, the "
         "criterion's weight and what it contributes to the total (the bar's length is the "
         "weight, its fill what the site earns of it).</p>"
         + "".join(_breakdown(r, criteria, weights) for r in top_rows)),
        ("criteria", "Criteria and weights", _criteria_section(cfg, criteria, weights, charts)),
        ("aggregation", "Aggregation method", _aggregation_section(cfg, manifest)),
    ]
    if has_sensitivity:
        sections.append(("sensitivity", "Sensitivity of the ranking",
                         _sensitivity_section(rows, manifest, sweep_links)))
    sections += [
        ("exclusions", "Exclusions", _exclusions_section(cfg, cells, excluded, criteria, manifest)),
        ("sources", "Data sources and versions", _sources_section(cfg, manifest)),
        ("notes", "Left-out criteria and notes", _notes_section(cfg, criteria, manifest)),
        ("runtime", "Run time", _runtime_section(manifest)),
    ]
    nav = "<nav><ul>" + "".join(f'<li><a href="#{a}">{_e(t)}</a></li>' for a, t, _ in sections) \
        + "</ul></nav>"
    banner = (f'<div class="banner" id="synthetic-banner" role="alert">{_e(SYNTHETIC_BANNER)}'
              '</div>') if synthetic else ""
    agg_name = _AGGREGATION.get(method, (method, ""))[0]
    header = (
        f'<header>{banner}<h1>{_e(title)}</h1>'
        f'<p class="sub">Study area: <b>{_e(area_label) or "n/a"}</b> · study '
        f'<code>{_e(study)}</code></p>'
        f'<p class="sub">{_e(_fmt(n_cells))} candidate cells ({_e(_fmt(n_out))} excluded by '
        f'constraints) · {_e(_fmt(n_sites))} sites · {len(criteria)} criteria · '
        f'{_e(agg_name)} · sitescore {_e(manifest.get("sitescore", ""))}</p>'
        + (f'<p class="small muted">{_e(getattr(cfg, "description", None))}</p>'
           if getattr(cfg, "description", None) else "")
        + f'{nav}</header>')
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{_e(title)} — sitescore report</title><style>{_CSS}</style></head>\n<body>\n'
        f'{header}\n<main>\n'
        + "".join(_section(a, t, b) for a, t, b in sections)
        + '</main>\n<footer class="small muted"><p>Written by sitescore from the run manifest'
        + (f' of study <code>{_e(study)}</code>' if study else "")
        + '. Scores are relative to the cells of this study; they rank, they do not certify.</p>'
        '</footer>\n</body></html>\n')
    _write_atomic(path, page.encode("utf-8"))
    return path
