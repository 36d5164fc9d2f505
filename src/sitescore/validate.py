"""`sitescore validate`: a study's scoring tried on the user's own past siting decisions.

An organisation that picked some sites and turned others down can check a preset against that
history: the cases (points, chosen yes/no, an optional group) are scored in one shortlist run
together with random comparison points drawn in each state the cases lie in, and the answer is
how the chosen sites rank among those points (percentiles), how well the score tells chosen from
not chosen (the AUC, exact: Mann-Whitney U / (n1 n2), ties counted half) and which criteria
separate them most. This is a stage of its own above the pipeline: it builds a shortlist config
from the user's and runs `pipeline.score` on it.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .cache import default_cache_dir, read_cached
from .candidates import eligible_land
from .config import AreaConfig, CandidatesConfig, Config, LayerConfig
from .errors import DataError, SitescoreError
from .folders import atomic_dirs, study_lock
from .outputs import file_digest, write_manifest
from .pipeline import layer_sources, score
from .readers import READERS, LayerSource, read_layer
from .readers.safety import require_file
from .readers.tables import find_field, parse_number, read_table
from .safe_text import write_csv
from .schema import CRS, M_PER_KM, STATE_FIPS, WEB_CRS
from .study_area import StudyArea

#: What a planner may write in the `chosen` column, and what it means.
CHOSEN_WORDS = {"yes": True, "y": True, "true": True, "1": True,
                "no": False, "n": False, "false": False, "0": False}
LON_FIELDS = ["lon", "lng", "longitude"]
LAT_FIELDS = ["lat", "latitude"]
ID_FIELDS = ["id", "case_id", "site_id"]
GROUP_FIELDS = ["group"]
NAME_FIELDS = ["name"]
DEFAULT_RANDOM_PER_STATE = 50
DEFAULT_SEED = 1
#: Each case and comparison point is scored as a circle of this radius (area metrics use it).
DEFAULT_RADIUS_KM = 1.0
#: A case just off a generalised coastline still belongs to the state this close to it.
NEAREST_STATE_KM = 10.0
TOP_CRITERIA = 3
OVERALL = "all cases"
NO_GROUP = "(no group)"
#: Rejection sampling: rounds, and the most candidate points one round draws.
MAX_DRAW_ROUNDS = 50
MAX_BATCH = 2_000_000
#: The name of the config layer the cases and comparison points are scored as.
POINTS_LAYER = "validation_points"
STATE_CODES = {fips: code for code, fips in STATE_FIPS.items()}
#: Columns the outputs add: a cases file's own column of such a name is kept as `case_<name>`.
RESERVED = {"kind", "state", "score", "percentile", "excluded", "exclusion_reason", "case_row",
            "cell_id"}


@dataclass
class Region:
    """Where comparison points are drawn in each state, and how that was decided (said in the
    printout and the record, since it changes what a percentile means)."""

    draw_on: dict[str, Any]          # state code -> polygon (EPSG:5070) the points are drawn on
    description: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Validation:
    """The outcome: every point with its scores, the summary per group, the per-criterion
    separation, the settings, and where the files went."""

    study: str
    points: pd.DataFrame
    summary: pd.DataFrame
    criteria: pd.DataFrame
    labels: dict[str, str]
    region: Region
    notes: list[str]
    settings: dict[str, Any]
    run_dir: Path | None = None


def parse_count(value: str | int | None, option: str, default: int, *, least: int = 0) -> int:
    """A whole-number command-line option, checked here so a typo is one line naming it."""
    if value is None:
        return default
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        raise SitescoreError(f"must be a whole number, got {text!r}", file=option) from None
    if number < least:
        raise SitescoreError(f"must be at least {least}, got {number}", file=option)
    return number


def parse_km(value: str | float | None, option: str, default: float) -> float:
    """A positive distance option in km."""
    if value is None:
        return default
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        raise SitescoreError(f"must be a number of km, got {text!r}", file=option) from None
    if not (math.isfinite(number) and number > 0):
        raise SitescoreError(f"must be a positive number of km, got {text!r}", file=option)
    return number


def _where(row: int) -> str:
    """A data row as a spreadsheet user finds it: the row under the header, and its line."""
    return f"row {row} (line {row + 1})"


def read_cases(path: Path) -> pd.DataFrame:
    """The cases: columns id, name, group, chosen (bool), lon, lat, row (1-based data row),
    then the file's other columns as they are (a `source` column travels to the outputs).
    Any unusable value names the file, its column and its row."""
    require_file(path)
    table = read_table(path)
    columns = [str(c) for c in table.columns]
    lon = find_field(columns, LON_FIELDS)
    lat = find_field(columns, LAT_FIELDS)
    chosen = find_field(columns, ["chosen"])
    for found, wanted in ((lon, "lon"), (lat, "lat"), (chosen, "chosen")):
        if found is None:
            raise DataError(f"required column missing (the columns are: {', '.join(columns) or 'none'})",
                            file=path, field=wanted)
    assert lon is not None and lat is not None and chosen is not None
    if len(table) == 0:
        raise DataError("holds no cases: one row per past decision is needed", file=path)
    rows = np.arange(1, len(table) + 1)
    out = pd.DataFrame({"row": rows})
    for col, limit, what in ((lon, 180.0, "longitude"), (lat, 90.0, "latitude")):
        numbers = parse_number(table[col]).to_numpy(dtype=float)
        bad = ~(np.abs(numbers) <= limit)  # NaN (blank, text) fails too
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{_where(i + 1)}: {_shown(table[col].iloc[i])} is not a {what} "
                            f"(decimal degrees, -{limit:g} to {limit:g})", file=path, field=col)
        out["lon" if col == lon else "lat"] = numbers
    words = table[chosen].fillna("").astype(str).str.strip().str.lower()
    unknown = ~words.isin(list(CHOSEN_WORDS))
    if unknown.any():
        i = int(np.argmax(unknown.to_numpy()))
        raise DataError(f"{_where(i + 1)}: {_shown(table[chosen].iloc[i])} is not yes or no "
                        "(write yes/no, true/false or 1/0)", file=path, field=chosen)
    out["chosen"] = words.map(CHOSEN_WORDS).astype(bool).to_numpy()
    if not out["chosen"].any():
        raise DataError("no case is marked chosen: nothing to calibrate on", file=path, field=chosen)
    id_col = find_field(columns, ID_FIELDS)
    ids = _column(table, id_col)
    ids = pd.Series([v if v is not None else str(r) for v, r in zip(ids, rows, strict=True)], dtype=object)
    twice = ids[ids.duplicated()]
    if len(twice):
        first = int(np.flatnonzero((ids == twice.iloc[0]).to_numpy())[0]) + 1
        again = int(twice.index[0]) + 1
        raise DataError(f"{_where(again)}: id {twice.iloc[0]!r} is already used in {_where(first)}",
                        file=path, field=id_col or "id")
    out["id"] = ids.to_numpy(dtype=object)
    name_col = find_field(columns, NAME_FIELDS)
    names = _column(table, name_col)
    out["name"] = [n if n is not None else f"case {i}" for n, i in zip(names, ids, strict=True)]
    group_col = find_field(columns, GROUP_FIELDS)
    groups = _column(table, group_col)
    out["group"] = [g if g is not None else NO_GROUP for g in groups]
    used = {c for c in (lon, lat, chosen, id_col, name_col, group_col) if c is not None}
    for col in columns:
        if col not in used:
            taken = col in out.columns or col in RESERVED or col.startswith(("raw__", "value__"))
            target = f"case_{col}" if taken else col
            out[target] = table[col].to_numpy(dtype=object)
    out.attrs["path"] = path
    out.attrs["has_groups"] = group_col is not None and bool((out["group"] != NO_GROUP).any())
    return out


def _shown(value: Any) -> str:
    return "a blank" if value is None or (isinstance(value, float) and math.isnan(value)) \
        or not str(value).strip() else repr(str(value).strip())


def _column(table: pd.DataFrame, col: str | None) -> pd.Series:
    """An optional text column, trimmed; all None where the file has no such column."""
    return _text(table[col]) if col is not None else pd.Series([None] * len(table), dtype=object)


def _union(geoms: np.ndarray) -> Any:
    return shapely.union_all(shapely.make_valid(geoms))


def _text(values: pd.Series) -> pd.Series:
    """Text cells trimmed; blanks become None."""
    return pd.Series([None if v is None or (isinstance(v, float) and math.isnan(v)) or not str(v).strip()
                      else str(v).strip() for v in values], dtype=object)


def _kind(source: LayerSource) -> str:
    return READERS[source.reader].layer


def _present(source: LayerSource) -> bool:
    return source.postgis is not None or source.path.exists()


def state_polygons(sources: dict[str, LayerSource]) -> tuple[dict[str, Any], str]:
    """Each state's outline (EPSG:5070) from the config's states layer, else from its counties
    (their GEOID's first two digits are the state's FIPS code); and which of the two it was."""
    states = [s for s in sources.values() if _kind(s) == "states" and _present(s)]
    if states:
        layer = read_layer(states[0], None)
        codes = layer["abbrev"].fillna("").astype(str).str.upper()
        polys = {c: _union(layer.geometry.values[(codes == c).to_numpy()])
                 for c in sorted(set(codes) & set(STATE_FIPS))}
        return polys, f"the state boundaries of layer '{states[0].name}'"
    counties = [s for s in sources.values() if _kind(s) == "counties" and _present(s)]
    if counties:
        layer = read_layer(counties[0], None)
        fips = layer["geoid"].fillna("").astype(str).str.zfill(5).str[:2]
        polys = {STATE_CODES[f]: _union(layer.geometry.values[(fips == f).to_numpy()])
                 for f in sorted(set(fips) & set(STATE_CODES))}
        return polys, f"the states made of the counties of layer '{counties[0].name}'"
    raise SitescoreError("validate places each case in its state and draws comparison points "
                         "there: the config needs a 'states' layer (e.g. states: {dataset: states}) "
                         "or a counties layer", key="layers")


def assign_states(cases: pd.DataFrame, polys: dict[str, Any]) -> list[str]:
    """The state each case lies in (or lies within 10 km of: coastlines are generalised)."""
    codes = list(polys)
    points = gpd.GeoSeries(gpd.points_from_xy(cases["lon"], cases["lat"]), crs=WEB_CRS).to_crs(CRS).values
    tree = shapely.STRtree([polys[c] for c in codes])
    found: list[str | None] = [None] * len(points)
    hit_points, hit_states = tree.query(points, predicate="intersects")
    for p, s in zip(hit_points, hit_states, strict=True):
        if found[p] is None:
            found[p] = codes[s]
    path = cases.attrs.get("path")
    for i, code in enumerate(found):
        if code is not None:
            continue
        nearest, distance = tree.query_nearest(points[i], return_distance=True, all_matches=False)
        km = float(distance[0]) / M_PER_KM
        if km > NEAREST_STATE_KM:
            raise DataError(f"{_where(int(cases['row'].iloc[i]))}: ({cases['lon'].iloc[i]:g}, "
                            f"{cases['lat'].iloc[i]:g}) lies in no state of the config's layers "
                            f"(the nearest, {codes[int(nearest[0])]}, is {km:,.0f} km away)",
                            file=path, field="lon")
        found[i] = codes[int(nearest[0])]
    return [str(c) for c in found]


def comparison_region(cfg: Config, sources: dict[str, LayerSource], states: Iterable[str],
                      polys: dict[str, Any], polys_from: str, cache_dir: Path) -> Region:
    """Where comparison points are drawn: the config's candidate land (agencies and exclusions
    applied) within each state, or the state itself when the config's candidates are a
    shortlist and it has no land to draw on."""
    used = sorted(set(states))
    source = sources[cfg.candidates.source]
    if _kind(source) == "candidates":
        return Region({s: polys[s] for s in used},
                      f"uniform over {polys_from} (the config's candidates are a shortlist, so "
                      "there is no candidate land to draw on)")
    area = StudyArea(", ".join(used), shapely.union_all([polys[s] for s in used]))
    land = _read(source, area, cache_dir)
    extra = {n: _read(sources[n], area, cache_dir) for n in cfg.candidates.exclude.layers
             if _present(sources[n])}
    eligible = eligible_land(land, cfg.candidates, area, extra).geometry
    draw_on, notes = {}, []
    for s in used:
        draw_on[s] = shapely.intersection(eligible, polys[s])
        if shapely.area(draw_on[s]) <= 0:
            notes.append(f"no candidate land of layer '{source.name}' in {s}: no comparison points "
                         "there, so its cases get no percentile")
    agencies = ", ".join(cfg.candidates.agencies)
    return Region(draw_on, f"uniform over the candidate land of layer '{source.name}' ({agencies}; "
                           f"the config's exclusions applied) within {polys_from}", notes)


def _read(source: LayerSource, area: StudyArea, cache_dir: Path) -> Any:
    cached = read_cached(source, area, cache_dir) if source.path.exists() else None
    return cached if cached is not None else read_layer(source, area)


def sample_points(geometry: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` points uniform over `geometry` (EPSG:5070 is equal-area, so uniform on the ground),
    by rejection from its bounding box; an (n, 2) array, empty for land of no area."""
    if n == 0 or geometry is None or shapely.is_empty(geometry) or shapely.area(geometry) <= 0:
        return np.empty((0, 2))
    shapely.prepare(geometry)
    x0, y0, x1, y1 = shapely.bounds(geometry)
    share = shapely.area(geometry) / ((x1 - x0) * (y1 - y0))
    kept: list[np.ndarray] = []
    got = 0
    for _ in range(MAX_DRAW_ROUNDS):
        batch = int(min(MAX_BATCH, max(1024, math.ceil(1.5 * (n - got) / share))))
        xs, ys = rng.uniform(x0, x1, batch), rng.uniform(y0, y1, batch)
        inside = shapely.contains_xy(geometry, xs, ys)
        kept.append(np.column_stack([xs[inside], ys[inside]]))
        got += int(inside.sum())
        if got >= n:
            break
    points = np.concatenate(kept)[:n]
    if len(points) < n:  # land this thin within its box is not worth drawing on
        raise DataError(f"could draw only {len(points)} of {n} comparison points on land covering "
                        f"{share:.2e} of its bounding box", file="--random-per-state")
    return points


def random_points(region: Region, per_state: int, seed: int) -> pd.DataFrame:
    """`per_state` points in each state, each state from its own generator seeded by (seed,
    state FIPS): the same seed gives the same points, whichever other states are in the list."""
    frames = []
    for state in sorted(region.draw_on):
        rng = np.random.default_rng([seed, int(STATE_FIPS[state])])
        xy = sample_points(region.draw_on[state], per_state, rng)
        if not len(xy):
            continue
        lonlat = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS).to_crs(WEB_CRS)
        k = np.arange(1, len(xy) + 1)
        frames.append(pd.DataFrame({"id": [f"random-{state}-{i}" for i in k],
                                    "name": [f"random point {state} {i}" for i in k],
                                    "state": state, "lon": lonlat.x.to_numpy(),
                                    "lat": lonlat.y.to_numpy()}))
    columns = ["id", "name", "state", "lon", "lat"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def study_config(cfg: Config, points_csv: Path, radius_km: float) -> Config:
    """The user's study as a shortlist of the cases and comparison points: the same layers,
    criteria, weights, constraints and aggregation; no study area (the points are anywhere), no
    sensitivity run."""
    name = POINTS_LAYER
    while name in cfg.layers:
        name += "_"
    layers = dict(cfg.layers)
    layers[name] = LayerConfig(reader="shortlist", path=str(points_csv.absolute()),
                               options={"radius_km": radius_km})
    return cfg.model_copy(update={"study": f"{cfg.study}-validate", "layers": layers,
                                  "candidates": CandidatesConfig(source=name), "area": AreaConfig(),
                                  "sensitivity": None, "notes": list(cfg.notes)})


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive outranks a negative), ties counted half: Mann-Whitney U / (n1 n2), exact.
    NaN values are left out; NaN when either side is empty."""
    pos = np.asarray(positive, dtype=float)
    neg = np.sort(np.asarray(negative, dtype=float))
    pos, neg = pos[~np.isnan(pos)], neg[~np.isnan(neg)]
    if not len(pos) or not len(neg):
        return float("nan")
    below = np.searchsorted(neg, pos, side="left")
    upto = np.searchsorted(neg, pos, side="right")
    u = float(below.sum()) + 0.5 * float((upto - below).sum())
    return u / (len(pos) * len(neg))


def percentile_among(values: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Each value's percentile among `others`: the share below it, ties counted half, x 100."""
    ref = np.sort(np.asarray(others, dtype=float))
    ref = ref[~np.isnan(ref)]
    vals = np.asarray(values, dtype=float)
    if not len(ref):
        return np.full(len(vals), np.nan)
    below = np.searchsorted(ref, vals, side="left")
    upto = np.searchsorted(ref, vals, side="right")
    return 100.0 * (below + 0.5 * (upto - below)) / len(ref)


def _rank_key(points: pd.DataFrame) -> np.ndarray:
    """What ranks a point: its score, and a vetoed point (a constraint) below every point that
    passes, as a shortlist run ranks them. Scores lie on 0..1, so 2 below is below them all."""
    return points["score"].to_numpy(dtype=float) - 2.0 * points["excluded"].to_numpy(dtype=bool)


def analyse(points: pd.DataFrame, criteria: Sequence[str], labels: dict[str, str],
            has_groups: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary per group (overall first) and the criteria separating chosen from not
    chosen (or from the random points, where a group has no case that was turned down)."""
    key = _rank_key(points)
    is_case = (points["kind"] == "case").to_numpy()
    chosen = is_case & points["chosen"].eq("yes").to_numpy()
    not_chosen = is_case & points["chosen"].eq("no").to_numpy()
    is_random = ~is_case
    groups = [(OVERALL, is_case)]
    if has_groups:
        groups += [(g, is_case & (points["group"] == g).to_numpy())
                   for g in dict.fromkeys(points.loc[is_case, "group"])]
    rows, crit_rows = [], []
    for group, members in groups:
        states = set(points.loc[members, "state"])
        rand = is_random & points["state"].isin(states).to_numpy()
        ch, no = members & chosen, members & not_chosen
        pct = points.loc[ch, "percentile"].to_numpy(dtype=float)
        against, against_name = (no, "not chosen") if no.any() else (rand, "random points")
        ranked = []
        for c in criteria:
            values = points[f"value__{c}"].to_numpy(dtype=float)
            a = auc(values[ch], values[against])
            diff = float(np.nanmean(values[ch]) - np.nanmean(values[against])) \
                if against.any() and np.isfinite(values[ch]).any() and np.isfinite(values[against]).any() \
                else float("nan")
            ranked.append((c, a, diff))
            crit_rows.append({"group": group, "criterion": c, "label": labels[c], "against": against_name,
                              "mean_chosen": float(np.nanmean(values[ch])) if np.isfinite(values[ch]).any()
                              else float("nan"),
                              "mean_against": float(np.nanmean(values[against]))
                              if np.isfinite(values[against]).any() else float("nan"),
                              "difference": diff, "auc": a})
        ranked.sort(key=lambda t: (-_strength(t[1]), -_strength_diff(t[2]), t[0]))
        top = [t for t in ranked if np.isfinite(t[1])][:TOP_CRITERIA]
        row: dict[str, Any] = {
            "group": group, "chosen": int(ch.sum()), "not_chosen": int(no.sum()),
            "random": int(rand.sum()), "states": " ".join(sorted(states)),
            "median_percentile": float(np.nanmedian(pct)) if np.isfinite(pct).any() else float("nan"),
            "min_percentile": float(np.nanmin(pct)) if np.isfinite(pct).any() else float("nan"),
            "auc_chosen_vs_not_chosen": auc(key[ch], key[no]),
            "auc_chosen_vs_random": auc(key[ch], key[rand]),
            "separating_against": against_name if top else "",
        }
        for i in range(TOP_CRITERIA):
            row[f"criterion_{i + 1}"] = _separation_text(top[i]) if i < len(top) else ""
        rows.append(row)
        for r in crit_rows:
            if r["group"] == group:
                r["rank"] = next(i + 1 for i, t in enumerate(ranked) if t[0] == r["criterion"])
    return pd.DataFrame(rows), pd.DataFrame(crit_rows)


def _strength(a: float) -> float:
    return abs(a - 0.5) if np.isfinite(a) else -1.0


def _strength_diff(d: float) -> float:
    return abs(d) if np.isfinite(d) else -1.0


def _separation_text(item: tuple[str, float, float]) -> str:
    name, a, diff = item
    return f"{name} (AUC {a:.2f}, {diff:+.2f})" if np.isfinite(diff) else f"{name} (AUC {a:.2f})"


def validate(cases_path: Path, cfg: Config, *, random_per_state: int = DEFAULT_RANDOM_PER_STATE,
             seed: int = DEFAULT_SEED, radius_km: float = DEFAULT_RADIUS_KM,
             data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
             runs_dir: str | Path | None = None, write: bool = True,
             allow_partial: bool = False) -> Validation:
    """Score the cases of `cases_path` and the comparison points under `cfg` and compare them;
    with `write`, put validation.csv, summary.csv, criteria.csv and validate.json in
    runs/<study>-validate atomically (the previous ones stay if anything fails). A study whose
    scored criteria keep too little of the configured weight stops, as a run does, unless
    `allow_partial`: a calibration on a fraction of the preset would say little about it."""
    cases = read_cases(Path(cases_path))
    run_dir = Path(runs_dir or cfg.outputs.runs_dir) / f"{cfg.study}-validate"
    with study_lock(run_dir if write else None, options=("--runs-dir",)):
        result = _compute(cases, cfg, random_per_state, seed, radius_km, data_dir,
                          Path(cache_dir) if cache_dir else default_cache_dir(), allow_partial)
        if write:
            with atomic_dirs(run_dir) as temps:
                _write(result, temps[0])
            result.run_dir = run_dir
    return result


def _compute(cases: pd.DataFrame, cfg: Config, per_state: int, seed: int, radius_km: float,
             data_dir: str | Path | None, cache_dir: Path, allow_partial: bool) -> Validation:
    sources = layer_sources(cfg, data_dir)
    polys, polys_from = state_polygons(sources)
    cases = cases.assign(state=assign_states(cases, polys), kind="case")
    region = comparison_region(cfg, sources, cases["state"], polys, polys_from, cache_dir)
    rand = random_points(region, per_state, seed).assign(kind="random")
    shortlist = pd.concat([
        pd.DataFrame({"id": [f"case-{r}" for r in cases["row"]], "name": cases["name"],
                      "lon": cases["lon"], "lat": cases["lat"]}),
        rand[["id", "name", "lon", "lat"]]], ignore_index=True)
    with tempfile.TemporaryDirectory(prefix="sitescore-validate-") as tmp:
        points_csv = Path(tmp) / "points.csv"
        write_csv(shortlist, points_csv, index=False, float_format="%.9f")
        scored = score(study_config(cfg, points_csv, radius_km), data_dir=data_dir,
                       cache_dir=cache_dir, allow_partial=allow_partial)
    names = list(scored.criteria)
    labels = {n: c.label or n for n, c in scored.criteria.items()}
    keep = ["cell_id", "score", "excluded", "exclusion_reason",
            *(f"{p}__{n}" for n in names for p in ("raw", "value"))]
    table = scored.cells[keep].set_index("cell_id")
    case_part = cases.assign(chosen=np.where(cases["chosen"], "yes", "no"),
                             cell_id=[f"case-{r}" for r in cases["row"]])
    rand_part = rand.assign(chosen="", group="", cell_id=rand["id"])
    points = pd.concat([case_part, rand_part], ignore_index=True)
    points = points.join(table, on="cell_id")
    key = _rank_key(points)
    pct = np.full(len(points), np.nan)
    is_case = (points["kind"] == "case").to_numpy()
    for state in sorted(set(points.loc[is_case, "state"])):
        here = is_case & (points["state"] == state).to_numpy()
        others = (~is_case) & (points["state"] == state).to_numpy()
        pct[here] = percentile_among(key[here], key[others])
    points["percentile"] = pct
    lead = ["kind", "id", "name", "group", "chosen", "state", "lon", "lat", "score", "percentile",
            "excluded", "exclusion_reason"]
    extra = [c for c in cases.columns if c not in lead and c not in ("row",)]
    points = points[lead + [c for c in keep if c.startswith(("raw__", "value__"))] + ["row"] + extra]
    points = points.rename(columns={"row": "case_row"}).astype({"case_row": "Int64"})
    summary, criteria = analyse(points, names, labels, bool(cases.attrs.get("has_groups")))
    notes = region.notes + list(scored.notes)
    settings = {"cases_file": str(cases.attrs["path"]), **file_digest(Path(cases.attrs["path"])),
                "config_file": str(cfg.source_path) if cfg.source_path else None,
                "preset": cfg.preset, "random_per_state": per_state, "seed": seed,
                "radius_km": radius_km, "comparison_points": region.description,
                "criteria": {n: scored.weights[n] for n in names}, "aggregation": cfg.aggregation,
                "criteria_configured": scored.n_configured, "weight_kept": scored.weight_kept,
                "partial": scored.partial, "left_out": [lo.record() for lo in scored.left_out]}
    return Validation(cfg.study, points, summary, criteria, labels, region, notes, settings)


def _write(result: Validation, folder: Path) -> None:
    write_csv(result.points, folder / "validation.csv", index=False)
    write_csv(result.summary, folder / "summary.csv", index=False)
    write_csv(result.criteria, folder / "criteria.csv", index=False)
    write_manifest(folder / "validate.json", {"study": result.study, **result.settings,
                                              "notes": result.notes})


def _num(value: float, fmt: str = ".2f", missing: str = "-") -> str:
    return format(value, fmt) if np.isfinite(value) else missing


def report_lines(result: Validation) -> list[str]:
    """The printed table: per group the counts, the chosen sites' percentiles among the random
    points, the AUCs and the criteria that separate chosen from not chosen."""
    s = result.settings
    cases = result.points[result.points["kind"] == "case"]
    n_chosen = int((cases["chosen"] == "yes").sum())
    n_rand = int((result.points["kind"] == "random").sum())
    lines = [f"validation of {result.study}: {len(cases)} cases ({n_chosen} chosen, "
             f"{len(cases) - n_chosen} not chosen) and {n_rand} comparison points",
             f"comparison points: {s['random_per_state']} per state, {s['comparison_points']}; "
             f"seed {s['seed']}; every point scored as a {s['radius_km']:g} km circle",
             f"criteria scored: {len(s['criteria'])} of {s['criteria_configured']} configured, "
             f"{s['weight_kept']:.0%} of the configured weight"
             f"{' (below the minimum: --allow-partial)' if s['partial'] else ''}",
             "percentile: a chosen site's score among the random points of its state (50 = as good "
             "as a random point); AUC: chance that a chosen site outscores the other side (0.5 = "
             "no better than chance)", "",
             f"{'group':<24} {'chosen':>6} {'not':>4} {'random':>6} {'pctl med':>8} {'pctl min':>8} "
             f"{'AUC vs not':>10} {'AUC vs random':>13}"]
    for _, r in result.summary.iterrows():
        lines.append(f"{str(r['group'])[:24]:<24} {r['chosen']:>6} {r['not_chosen']:>4} {r['random']:>6} "
                     f"{_num(r['median_percentile'], '.1f'):>8} {_num(r['min_percentile'], '.1f'):>8} "
                     f"{_num(r['auc_chosen_vs_not_chosen']):>10} {_num(r['auc_chosen_vs_random']):>13}")
    lines.append("")
    for _, r in result.summary.iterrows():
        top = [r[f"criterion_{i + 1}"] for i in range(TOP_CRITERIA) if r[f"criterion_{i + 1}"]]
        if top:
            lines.append(f"{r['group']}: separating chosen from {r['separating_against']}: "
                         f"{'; '.join(top)}")
    lines.extend(f"note: {n}" for n in result.notes)
    if result.run_dir is not None:
        lines += ["", f"tables: {result.run_dir} (validation.csv, summary.csv, criteria.csv)"]
    return lines
