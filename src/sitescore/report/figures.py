"""The report's figures: the overview map and one value-function chart per criterion (PNG).

Drawn with matplotlib's Agg canvas (no pyplot, no global state) at a fixed size and DPI, without
a timestamp, so the same inputs give the same bytes; each file is written atomically.

- ``report_overview.png``: the study area, the federal land considered, excluded land (grey),
  the cells coloured by score (with a colour bar), the top sites outlined and numbered, a scale
  bar and a north arrow, in EPSG:5070;
- ``report_vf_<criterion>.png``: a criterion's value function over the range of raw values the
  cells actually have, with how the cells spread over it (bars for categories).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config import CriterionConfig
from ..config.value_functions import category_key
from ..formatting import to_float, write_atomic
from ..schema import CRS
from ..scoring import apply_value_function

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


# --------------------------------------------------------------------------- small helpers

def _short(x: float) -> str:
    """A compact axis label: 150k, 2.5M, 0.25."""
    a = abs(x)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"



def safe_name(name: str) -> str:
    """A file name part from a criterion or chart name: letters, digits, '-', '_' and '.'."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _mpl_text(text: str) -> str:
    """Text for matplotlib: '$' would start mathtext."""
    return str(text).replace("$", r"\$")


def score_colour(value: float | None) -> str:
    """A 0..1 score's viridis colour, as the map draws it (grey when missing)."""
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
    write_atomic(path, buf.getvalue())
    return path


def criterion_unit(name: str, crit: CriterionConfig) -> str:
    """The criterion's unit: its own, else its metric's."""
    if crit.unit:
        return crit.unit
    from ..metrics import METRICS

    spec = METRICS.get(crit.metric)  # an unknown metric is caught by config validation already
    return spec.unit if spec is not None else ""


def criterion_label(name: str, crit: CriterionConfig) -> str:
    """What a reader sees the criterion called: its label, else its name."""
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
        for i, ring in zip(idx, np.split(coords, np.flatnonzero(np.diff(which)) + 1), strict=True):
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
    if gdf.crs is not None and not gdf.crs.equals(CRS):
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

    from ..geometry import geojson_shapes

    x0, y0, x1, y1 = frame
    width = int(OVERVIEW_SIZE_IN[0] * OVERVIEW_DPI * 2)
    height = max(1, round(width * (y1 - y0) / max(x1 - x0, 1e-9)))
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
        image = rasterize(zip(geojson_shapes(geoms), codes, strict=True), out_shape=(height, width),
                          transform=from_bounds(x0, y0, x1, y1, width, height), fill=0, dtype="int32",
                          all_touched=True)
    rgba = np.zeros((height, width, 4))
    scored = (image > 0) & (image < 1002)
    rgba[scored] = cmap((image[scored] - 1) / 1000.0)
    rgba[image == 1002] = grey
    ax.imshow(rgba, extent=(x0, x1, y0, y1), origin="upper", interpolation="nearest", zorder=4)



# --------------------------------------------------------------------------- the overview map

def _frame(cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
           area_geometry: Any) -> tuple[float, float, float, float]:
    """The map's extent: the study area, else what the cells (or sites) cover, padded 3 %."""
    has_area = area_geometry is not None and not shapely.is_empty(area_geometry)
    extent_geoms = [area_geometry] if has_area else []
    if len(cells):
        extent_geoms.append(shapely.box(*cells.total_bounds))
    if not extent_geoms and len(sites):
        extent_geoms.append(shapely.box(*sites.to_crs(CRS).total_bounds))
    if has_area:
        x0, y0, x1, y1 = area_geometry.bounds
    elif extent_geoms:
        x0, y0, x1, y1 = shapely.union_all(extent_geoms).bounds
    else:
        x0, y0, x1, y1 = 0.0, 0.0, 1.0, 1.0
    pad = 0.03 * max(x1 - x0, y1 - y0, 1.0)
    return x0 - pad, y0 - pad, x1 + pad, y1 + pad


def _add_polygons(ax: Any, gdf: gpd.GeoDataFrame, *, face: Any, edge: Any, lw: float,
                  simplify: float, alpha: float = 1.0, z: int = 1) -> None:
    from matplotlib.collections import PathCollection

    paths = [p for p in _polygon_paths(list(gdf.geometry.values), simplify) if p is not None]
    if paths:
        ax.add_collection(PathCollection(paths, facecolors=face, edgecolors=edge, linewidths=lw,
                                         alpha=alpha, zorder=z))


def _draw_land(ax: Any, land: gpd.GeoDataFrame | None, excluded: gpd.GeoDataFrame | None,
               agencies: Sequence[str], frame: Any, tolerance: float, legend: list[Any]) -> None:
    """Federal land read for the study (the chosen agencies' darker) and the land excluded."""
    from matplotlib.patches import Patch

    land = _in_box(land, frame)
    if land is not None and len(land):
        agency_col = next((c for c in ("mang_name", "agency") if c in land.columns), None)
        mine = land[agency_col].astype(str).isin(list(agencies)).to_numpy() \
            if agency_col and agencies else np.ones(len(land), dtype=bool)
        if (~mine).any():
            _add_polygons(ax, land[~mine], face=OTHER_LAND_COLOR, edge="#c9c0ad", lw=0.3,
                          simplify=tolerance, z=1)
            legend.append(Patch(facecolor=OTHER_LAND_COLOR, edgecolor="#c9c0ad",
                                label="Other federal land"))
        if mine.any():
            _add_polygons(ax, land[mine], face=LAND_COLOR, edge="#b89f6a", lw=0.3,
                          simplify=tolerance, z=2)
            what = ", ".join(agencies) if agencies else "candidate"
            legend.append(Patch(facecolor=LAND_COLOR, edgecolor="#b89f6a",
                                label=_mpl_text(f"Federal land considered ({what})"[:60])))
    excluded = _in_box(excluded, frame)
    if excluded is not None and len(excluded):
        _add_polygons(ax, excluded, face="#bdbdbd", edge="#6f6f6f", lw=0.3, simplify=tolerance,
                      alpha=0.85, z=3)
        legend.append(Patch(facecolor="#bdbdbd", edgecolor="#6f6f6f", label="Excluded land"))


def _draw_cells(ax: Any, cells: gpd.GeoDataFrame, frame: tuple[float, float, float, float],
                legend: list[Any]) -> None:
    """Cells in viridis by score, grey where a constraint excludes them; past
    OVERVIEW_MAX_CELL_SHAPES as one image."""
    from matplotlib import colormaps
    from matplotlib.collections import PathCollection
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch

    if not len(cells):
        return
    cmap = colormaps["viridis"]
    scores = pd.to_numeric(cells["score"], errors="coerce").to_numpy(dtype=float) \
        if "score" in cells.columns else np.full(len(cells), np.nan)
    out = cells["excluded"].fillna(False).to_numpy(dtype=bool) \
        if "excluded" in cells.columns else np.zeros(len(cells), dtype=bool)
    grey = np.array([0.56, 0.56, 0.56, 1.0])
    if len(cells) > OVERVIEW_MAX_CELL_SHAPES:
        _cells_image(ax, cells.geometry.values, np.where(out, np.nan, scores), frame, cmap, grey)
    else:
        paths = _polygon_paths(list(cells.geometry.values), 0.0)
        colours = cmap(Normalize(0.0, 1.0)(np.nan_to_num(scores, nan=0.0)))
        colours[out | ~np.isfinite(scores)] = grey
        keep = [i for i, p in enumerate(paths) if p is not None]
        if keep:
            ax.add_collection(PathCollection([paths[i] for i in keep], facecolors=colours[keep],
                                             edgecolors="none", linewidths=0, zorder=4))
    if out.any():
        legend.append(Patch(facecolor=EXCLUDED_COLOR, label="Cell excluded by a constraint"))


def _draw_area(ax: Any, area_geometry: Any, tolerance: float, legend: list[Any]) -> None:
    from matplotlib.collections import PathCollection
    from matplotlib.lines import Line2D

    if area_geometry is None or shapely.is_empty(area_geometry):
        return
    paths = [p for p in _polygon_paths([area_geometry], tolerance) if p is not None]
    if paths:
        ax.add_collection(PathCollection(paths, facecolors="none", edgecolors="#222222",
                                         linewidths=1.2, linestyles="--", zorder=6))
        legend.append(Line2D([], [], color="#222222", linestyle="--", linewidth=1.2,
                             label="Study area"))


def _draw_sites(ax: Any, sites: gpd.GeoDataFrame, top: int, legend: list[Any]) -> None:
    """The top sites outlined, each numbered off its upper right corner (outline left visible)."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    if not len(sites):
        return
    ranked = sites.sort_values("rank", kind="stable") if "rank" in sites.columns else sites
    ranked = ranked.head(top)
    if ranked.crs is not None and not ranked.crs.equals(CRS):
        ranked = ranked.to_crs(CRS)
    _add_polygons(ax, ranked, face="none", edge=SITE_COLOR, lw=1.6, simplify=0.0, z=7)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for i, (_, row) in enumerate(ranked.iterrows()):
        g = row.geometry
        if g is None or shapely.is_empty(g):
            continue
        rank = int(row["rank"]) if "rank" in ranked.columns and to_float(row["rank"]) else i + 1
        _, _, gx, gy = g.bounds
        ax.annotate(str(rank), xy=(gx, gy), xytext=(2, 2), textcoords="offset points",
                    ha="left", va="bottom", fontsize=8, fontweight="bold", color=SITE_COLOR,
                    zorder=8, path_effects=halo, annotation_clip=False)
    legend.append(Line2D([], [], color=SITE_COLOR, linewidth=1.6,
                         label=f"Top {min(top, len(sites))} sites (numbered by rank)"))


def _draw_furniture(ax: Any, frame: tuple[float, float, float, float]) -> None:
    """Scale bar (lower left), north arrow (upper right, true north at the centre), the CRS."""
    from matplotlib import patheffects

    x0, y0, x1, y1 = frame
    length = _nice_length(x1 - x0)
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    tick = 0.008 * (y1 - y0)
    ax.plot([bx, bx + length], [by, by], color="black", linewidth=2.5, solid_capstyle="butt",
            zorder=9)
    for xx in (bx, bx + length / 2, bx + length):
        ax.plot([xx, xx], [by - tick, by + tick], color="black", linewidth=1, zorder=9)
    ax.text(bx + length / 2, by + 2.5 * tick, f"{length / 1000.0:g} km", ha="center", va="bottom",
            fontsize=8, zorder=9,
            path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])
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


def overview_png(path: Path, *, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                 excluded: gpd.GeoDataFrame | None, land: gpd.GeoDataFrame | None,
                 agencies: Sequence[str], area_geometry: Any, top: int) -> Path:
    """The overview map: land, excluded land, cells by score, the study area, the top sites
    numbered, a scale bar, a north arrow and a colour bar."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    if cells.crs is not None and not cells.crs.equals(CRS):
        cells = cells.to_crs(CRS)
    x0, y0, x1, y1 = frame = _frame(cells, sites, area_geometry)
    tolerance = max(x1 - x0, y1 - y0) / 2000.0  # about half a pixel
    fig = Figure(figsize=OVERVIEW_SIZE_IN, dpi=OVERVIEW_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.04, 0.80, 0.90))
    ax.set_facecolor("white")
    legend: list[Any] = []
    _draw_land(ax, land, excluded, agencies, shapely.box(*frame), tolerance, legend)
    _draw_cells(ax, cells, frame, legend)
    _draw_area(ax, area_geometry, tolerance, legend)
    _draw_sites(ax, sites, top, legend)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#888888")
    _draw_furniture(ax, frame)
    if legend:
        ax.legend(handles=legend, loc="lower right", fontsize=6.5, framealpha=0.9,
                  bbox_to_anchor=(1.0, 0.03))
    cax = fig.add_axes((0.86, 0.20, 0.025, 0.60))
    cb = fig.colorbar(ScalarMappable(norm=Normalize(0.0, 1.0), cmap=colormaps["viridis"]), cax=cax)
    cb.set_label("Suitability score (0 = worst, 1 = best)", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return _save_figure(fig, path)

# --------------------------------------------------------------------------- value functions

def _raw_values(cells: gpd.GeoDataFrame, name: str) -> pd.Series:
    col = f"raw__{name}"
    return cells[col] if col in cells.columns else pd.Series([], dtype=float)


def vf_png(path: Path, name: str, crit: CriterionConfig, cells: gpd.GeoDataFrame) -> Path:
    """A criterion's value function as its kind charts it (`chart_range`, `chart_log`,
    `named_categories`, `chart_label`), over how the cells' raw values spread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    vf = crit.value
    unit = criterion_unit(name, crit)
    raw = _raw_values(cells, name)
    fig = Figure(figsize=VF_SIZE_IN, dpi=VF_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if not vf.numeric:  # a bar per category: the commonest the cells have, then those it names
        # as the scorer reads them (a code 3.0 is category '3'), so each bar has its cells' score
        keys = [k for k in (category_key(v) for v in raw.dropna().tolist()) if k]
        counts = pd.Series(keys, dtype=object).value_counts() if keys else pd.Series(dtype=int)
        cats = list(dict.fromkeys([*counts.index[:10].tolist(), *vf.named_categories()]))[:14]
        scores = apply_value_function(vf, np.array(cats, dtype=object)) if cats else np.array([])
        xs = np.arange(len(cats))
        ax.bar(xs, scores, color=[score_colour(float(s)) for s in scores], edgecolor="#333333",
               linewidth=0.5)
        ax.set_xticks(xs)
        ax.set_xticklabels([_mpl_text(c if len(c) <= 12 else c[:11] + "…") for c in cats],
                           rotation=45 if len(cats) > 4 else 0, ha="right" if len(cats) > 4
                           else "center", fontsize=6)
    else:
        x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        lo, hi = vf.chart_range(x)
        log_x = vf.chart_log and lo > 0
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
    ax.set_xlabel(_mpl_text(vf.chart_label(unit)), fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_yticks([0, 0.5, 1])
    ax.set_ylabel("score", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    title = criterion_label(name, crit)
    ax.set_title(_mpl_text(title if len(title) <= 48 else title[:45] + "..."), fontsize=7.5)
    # a fixed layout (no tight_layout): faster, and every chart lines up with the others
    rotated = not vf.numeric and len(ax.get_xticks()) > 4
    fig.subplots_adjust(left=0.15, right=0.96, top=0.88, bottom=0.36 if rotated else 0.23)
    return _save_figure(fig, path)


# --------------------------------------------------------------------------- all the figures

def draw_figures(folder: Path, *, cfg: Any, criteria: Mapping[str, CriterionConfig],
                 cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                 excluded: gpd.GeoDataFrame | None, layers: Mapping[str, Any], area_geometry: Any,
                 top: int) -> dict[str, str]:
    """The overview map and a value-function chart per criterion in `folder`; charts of
    criteria no longer scored are removed. The chart file name of each criterion."""
    source = getattr(getattr(cfg, "candidates", None), "source", None)
    land = layers.get(source) if source else None
    land = land if isinstance(land, gpd.GeoDataFrame) else None
    agencies = list(getattr(getattr(cfg, "candidates", None), "agencies", []) or [])
    charts: dict[str, str] = {}
    with chart_text():
        overview_png(folder / OVERVIEW_PNG, cells=cells, sites=sites, excluded=excluded, land=land,
                     agencies=agencies, area_geometry=area_geometry, top=top)
        for name, crit in criteria.items():
            target = folder / f"{VF_PREFIX}{safe_name(name)}.png"
            vf_png(target, name, crit, cells)
            charts[name] = target.name
    for stale in folder.glob(f"{VF_PREFIX}*.png"):
        if stale.name not in charts.values():
            stale.unlink(missing_ok=True)
    return charts


def local_chart(chart: Path, folder: Path) -> str:
    """A sweep chart as a link relative to the report: charts under the report's folder are
    linked where they are, others copied beside the report."""
    chart = Path(chart)
    try:
        return chart.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        target = folder / f"{SWEEP_PREFIX}{safe_name(chart.name)}"
        write_atomic(target, chart.read_bytes())
        return target.name
