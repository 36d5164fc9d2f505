"""Where a run's work happens: in this process (`LocalEngine`) or on a Dask cluster (`DaskEngine`).

The stages keep their code in their own modules; an engine only decides where pieces of that
code run, and puts the pieces back together in the order the local engine gives them, so both
engines write identical tables:

- candidates (square grids): the eligible land is split into strips of whole grid columns (a
  cell belongs to one strip by its column index); `candidates.make_cells` runs per strip on a
  worker, on the whole land parts that reach into the strip and on every parcel; the strips'
  cells are joined and sorted by cell id, as `make_cells` sorts them.
- metrics: the cells become a dask-geopandas frame in Hilbert order (spatially compact
  partitions); each metric runs per partition with its layer sent once to every worker, and the
  values go back to the cells' own order. `contiguous_acres` needs all cells: it runs here, as
  do a shortlist's few sites.
- tasks (`map`): whole runs of presets, chunks of Monte Carlo draws, in order.

Work the Dask engine cannot split exactly runs here, and the log and the manifest say why.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .candidates import EligibleLand, check_cell_budget, make_cells
from .config import INSTALL_HINT, CandidatesConfig, EngineConfig, missing_dask_packages
from .errors import ConfigError, SitescoreError
from .metrics import compute_metric
from .schema import CRS, M_PER_KM

log = logging.getLogger(__name__)

#: How long to wait for a scheduler to answer, and for it to have a worker.
CONNECT_TIMEOUT_S = 10.0
#: Metrics computed at once by the local engine, at most (each holds its own working memory).
DEFAULT_METRIC_THREADS = 4
#: Metrics that need every cell at once; they run here on the Dask engine.
WHOLE_FRAME_METRICS = frozenset({"contiguous_acres", "land_pathway"})

@dataclass
class MetricJob:
    """One criterion's metric: its (filtered) layer and validated parameters."""

    name: str
    metric: str
    layer: Any
    params: dict[str, Any]


class Engine:
    """Runs everything in this process: the stages exactly as they are."""

    kind = "local"

    def __init__(self, threads: int | None = None) -> None:
        #: metrics computed at once in this process (default: one per CPU, at most 4)
        self.metric_threads = threads or min(os.cpu_count() or 1, DEFAULT_METRIC_THREADS)
        self.ran_here: dict[str, str] = {}  # stage -> why it did not run on the workers
        self.split: dict[str, str] = {}     # stage -> how it was split

    def new_run(self) -> None:
        """Forget what the previous run on this engine recorded (an engine may serve many)."""
        self.ran_here.clear()
        self.split.clear()

    def make_cells(self, land: EligibleLand, cfg: CandidatesConfig) -> gpd.GeoDataFrame:
        return make_cells(land, cfg)

    def metrics(self, cells: gpd.GeoDataFrame, jobs: Sequence[MetricJob], *,
                cells_may_overlap: bool = False) -> dict[str, tuple[np.ndarray, float]]:
        """Each job's values (one per cell, in the cells' order) and seconds spent.

        Several metrics run at once on threads: shapely's and scipy's spatial queries, GDAL and
        numpy let go of the interpreter while they work, so a 2-core machine computes two
        metrics in the time of one. Each metric is computed exactly as it would be alone."""
        from concurrent.futures import ThreadPoolExecutor

        from tqdm import tqdm

        threads = max(1, min(self.metric_threads, len(jobs)))
        bar = tqdm(total=len(jobs), desc="metrics", unit="criterion", disable=not sys.stderr.isatty(),
                   leave=False)
        with bar, ThreadPoolExecutor(threads, thread_name_prefix="metric") as pool:
            futures = [pool.submit(_timed_metric, cells, job.layer, job.metric, job.params) for job in jobs]
            for f in futures:
                f.add_done_callback(lambda _: bar.update())
            # the first error in job order
            return {job.name: f.result() for job, f in zip(jobs, futures, strict=True)}

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: dict[str, Any] | None = None,
            return_errors: bool = False) -> list[Any]:
        """`fn(item, **shared)` for each item, in order. With `return_errors` a `SitescoreError`
        takes the place of its item's result instead of stopping the others."""
        return _run_batch(fn, list(items), return_errors, shared or {})

    def describe(self) -> dict[str, Any]:
        """What the run manifest records about where the work ran."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.split:
            out["split"] = dict(self.split)
        if self.ran_here:
            out["ran_here"] = dict(self.ran_here)
        return out

    def close(self) -> None:
        pass

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalEngine(Engine):
    """Today's behaviour. `within` records the engine a task of which this run is (a preset run
    on a Dask worker), for the manifest."""

    def __init__(self, within: dict[str, Any] | None = None, threads: int | None = None) -> None:
        super().__init__(threads)
        self.within = within

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.within:
            out["task_of"] = self.within
        return out


class DaskEngine(Engine):
    """Candidates, metrics and tasks on a Dask cluster.

    Build it from an existing `distributed.Client` (a benchmark reuses one cluster across runs)
    or through `open_engine` from the config; only what it started itself is closed with it."""

    kind = "dask"

    def __init__(self, client: Any, *, partitions: int | None = None, scheduler: str | None = None,
                 cluster: Any = None, owns_client: bool = False) -> None:
        super().__init__()
        self.client = client
        self.scheduler = scheduler or ("local cluster" if cluster is not None
                                       else str(client.scheduler.address))
        self._partitions = partitions
        self._cluster = cluster
        self._owns_client = owns_client
        # the stages' imports on every worker now, not in the first timed task
        self._warmed: set[str] = set()
        client.run(_warm, ())

    @classmethod
    def from_config(cls, config: EngineConfig) -> DaskEngine:
        """Connect to `config.scheduler`, or start a local cluster of `config.workers` processes
        (default: one per CPU) that is closed with the engine."""
        missing = missing_dask_packages()
        if missing:
            raise ConfigError(f"the dask engine needs {', '.join(missing)}: {INSTALL_HINT}",
                              key="engine.kind")
        from distributed import Client, LocalCluster

        # the scheduler of a local cluster lives in this process: its chatter only with -vv
        debug = logging.getLogger("sitescore").getEffectiveLevel() <= logging.DEBUG
        logging.getLogger("distributed").setLevel(logging.INFO if debug else logging.WARNING)
        if config.scheduler:
            try:
                client = Client(config.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            except (OSError, TimeoutError, ValueError):
                raise ConfigError(f"cannot reach the Dask scheduler at {config.scheduler} (no answer "
                                  f"within {CONNECT_TIMEOUT_S:g} s); is `dask scheduler` running "
                                  "there?", key="engine.scheduler") from None
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError):
                client.close()
                raise ConfigError(f"the Dask scheduler at {config.scheduler} has no worker (start "
                                  f"one with `dask worker {config.scheduler}`)",
                                  key="engine.scheduler") from None
            try:
                return cls(client, partitions=config.partitions, scheduler=config.scheduler,
                           owns_client=True)
            except BaseException:
                client.close()
                raise
        n = config.workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.CRITICAL)
        client = Client(cluster, set_as_default=False)
        log.info("local Dask cluster of %d worker(s); dashboard %s", n, client.dashboard_link)
        try:
            return cls(client, partitions=config.partitions, cluster=cluster, owns_client=True)
        except BaseException:
            client.close()
            cluster.close()
            raise

    @property
    def workers(self) -> int:
        return len(self.client.nthreads())

    @property
    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    @property
    def partitions(self) -> int:
        """Strips and partitions the cells are split into (default: one per worker thread)."""
        return self._partitions or self.threads

    def describe(self) -> dict[str, Any]:
        out = {"kind": self.kind, "scheduler": self.scheduler, "workers": self.workers,
               "threads": self.threads, "partitions": self.partitions}
        return out | {k: v for k, v in super().describe().items() if k != "kind"}

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def _here(self, stage: str, why: str) -> None:
        log.info("%s run here, not on the Dask workers: %s", stage, why)
        self.ran_here[stage] = why

    # -- candidates ----------------------------------------------------------------------------

    def make_cells(self, land: EligibleLand, cfg: CandidatesConfig) -> gpd.GeoDataFrame:
        if cfg.grid.kind != "square":
            self._here("candidates", "H3 cells have no grid columns to split the land along")
            return make_cells(land, cfg)
        if shapely.is_empty(land.geometry):
            return make_cells(land, cfg)  # says why there is nothing to score
        check_cell_budget(land.geometry, cfg)  # each strip alone would pass it
        size = cfg.grid.size_km * M_PER_KM
        parts = np.asarray(shapely.get_parts(land.geometry))
        strips = column_strips(parts, size, self.partitions)
        if len(strips) < 2:
            self._here("candidates", "the land spans too few grid columns to split")
            return make_cells(land, cfg)
        tree = shapely.STRtree(parts)
        miny, maxy = shapely.total_bounds(parts)[[1, 3]]
        parcels = self._share(land.parcels)[0]
        futures = []
        for c0, c1 in strips:
            reach = np.sort(tree.query(shapely.box(c0 * size, miny, c1 * size, maxy),
                                       predicate="intersects"))
            futures.append(self.client.submit(_guarded, _strip_cells, parts[reach], parcels, cfg,
                                              c0, c1, pure=False))
        frames = [f for f in self._gather(futures) if len(f)]
        if not frames:
            return make_cells(land, cfg)
        cells = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=CRS)
        cells = cells.sort_values("cell_id", kind="stable").reset_index(drop=True)
        self.split["candidates"] = f"{len(strips)} strips of whole grid columns"
        log.info("%d candidate cells (%s grid) from %d strips on the Dask workers", len(cells),
                 cfg.grid.kind, len(strips))
        return cells

    # -- metrics -------------------------------------------------------------------------------

    def metrics(self, cells: gpd.GeoDataFrame, jobs: Sequence[MetricJob], *,
                cells_may_overlap: bool = False) -> dict[str, tuple[np.ndarray, float]]:
        if cells_may_overlap:
            self._here("metrics", "a shortlist's sites are few and may overlap (a raster pixel "
                       "then counts for one of them) or differ in shape: scored here")
            return super().metrics(cells, jobs)
        here = [j for j in jobs if j.metric in WHOLE_FRAME_METRICS]
        remote = [j for j in jobs if j not in here]
        n = min(self.partitions, len(cells))
        if remote and n < 2:
            self._here("metrics", f"{len(cells)} cell(s) are too few to partition")
            return super().metrics(cells, jobs)
        for j in here:
            self._here(f"metric {j.name}", "it needs every cell at once")
        out: dict[str, tuple[np.ndarray, float]] = {}
        if remote:
            import dask_geopandas

            order = spatial_order(cells)
            ddf = dask_geopandas.from_geopandas(cells.iloc[order][["geometry"]].reset_index(drop=True),
                                                npartitions=n, sort=False)
            partitions = self.client.compute(ddf.to_delayed())
            for j in remote:  # a DEM's slope is worked out once here and sent with it
                if j.params.get("variable") == "slope_percent" and hasattr(j.layer, "slope_percent"):
                    j.layer.slope_percent()
            distinct = list({id(j.layer): j.layer for j in remote}.values())
            # each layer once per worker
            shared = dict(zip(map(id, distinct), self._share(*distinct), strict=True))
            specs = [(j.metric, j.params, shared[id(j.layer)]) for j in remote]
            tasks = [self.client.submit(_guarded, _partition_metrics, part, specs, pure=False)
                     for part in partitions]
        for j in here:  # while the workers compute
            out[j.name] = _timed_metric(cells, j.layer, j.metric, j.params)
        if remote:
            done = self._gather(tasks)  # per partition, per job: (values, seconds)
            for i, j in enumerate(remote):
                pieces = [part[i] for part in done]
                values = np.concatenate([v for v, _ in pieces])
                full = np.empty(len(cells), dtype=values.dtype)
                full[order] = values
                out[j.name] = (full, sum(s for _, s in pieces))
            self.split["metrics"] = f"{len(partitions)} partitions in Hilbert order"
            log.info("%d metric(s) on %d partitions on the Dask workers", len(remote), len(partitions))
        return {j.name: out[j.name] for j in jobs}

    # -- tasks ---------------------------------------------------------------------------------

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: dict[str, Any] | None = None,
            return_errors: bool = False) -> list[Any]:
        """Consecutive items are batched into at most two tasks per worker thread; `shared`
        values go to every worker once."""
        items = list(items)
        if not items:
            return []
        module = getattr(fn, "__module__", None)
        if module and module not in self._warmed:  # the task's own module (a run, a chunk of draws)
            self.client.run(_warm, (module,))
            self._warmed.add(module)
        shared_f = self._share(dict(shared or {}))[0]
        n = min(len(items), 2 * self.threads)
        edges = np.linspace(0, len(items), n + 1).round().astype(int)
        futures = [self.client.submit(_guarded, _run_batch, fn, items[a:b], return_errors, shared_f,
                                      pure=False)
                   for a, b in itertools.pairwise(edges)]
        return [r for batch in self._gather(futures) for r in batch]

    def _share(self, *objs: Any) -> list[Any]:
        """Each object sent once to every worker, in one round trip: futures tasks take as
        arguments."""
        return self.client.scatter(list(objs), broadcast=True, hash=False)

    def _gather(self, futures: list[Any]) -> list[Any]:
        """All results in order; the first user error (in task order) is raised here, as the
        local engine would raise it."""
        results = self.client.gather(futures)
        for r in results:
            if isinstance(r, _Failed):
                raise r.error
        return results


@contextmanager
def open_engine(config: EngineConfig, given: Engine | None = None) -> Iterator[Engine]:
    """The engine a run uses: `given` (left open), or one made from the config and closed after."""
    if given is not None:
        yield given
        return
    engine: Engine = LocalEngine(threads=config.threads) if config.kind == "local" \
        else DaskEngine.from_config(config)
    try:
        yield engine
    finally:
        engine.close()


def column_strips(parts: np.ndarray, size: float, n: int) -> list[tuple[int, int]]:
    """Grid columns [c0, c1) in up to `n` strips holding about equal land, each cut placed, near
    its share, where the land parts crossing it are smallest (a part reaching into two strips is
    worked on by both)."""
    b = shapely.bounds(parts)
    lo = np.floor(b[:, 0] / size).astype(np.int64)
    hi = np.maximum(np.ceil(b[:, 2] / size).astype(np.int64), lo + 1)
    first, last = int(lo.min()), int(hi.max())
    ncols = last - first
    n = min(n, ncols)
    if n < 2:
        return [(first, last)]
    area = shapely.area(parts)
    load = np.zeros(ncols + 1)  # each part's area spread evenly over its columns
    np.add.at(load, lo - first, area / (hi - lo))
    np.add.at(load, hi - first, -area / (hi - lo))
    cum = np.concatenate([[0.0], np.cumsum(np.cumsum(load)[:-1])])  # land left of cut k
    cross = np.zeros(ncols + 2)  # area of the parts a cut at column line k goes through
    np.add.at(cross, lo - first + 1, area)
    np.add.at(cross, hi - first, -area)
    cross = np.cumsum(cross)[:ncols + 1]
    window = max(1, ncols // (4 * n))
    cuts = [0]
    for j in range(1, n):
        k = int(np.searchsorted(cum, cum[-1] * j / n))
        cand = np.arange(max(cuts[-1] + 1, k - window), min(ncols - 1, k + window) + 1)
        if len(cand):
            cuts.append(int(cand[np.lexsort((np.abs(cand - k), cross[cand]))[0]]))
    cuts.append(ncols)
    return [(first + a, first + b) for a, b in itertools.pairwise(cuts) if cum[b] > cum[a]]


def spatial_order(cells: gpd.GeoDataFrame) -> np.ndarray:
    """Row positions of the cells along a Hilbert curve, so consecutive rows lie close together
    (dask-geopandas' `spatial_shuffle` orders by the same distance)."""
    distance = cells.geometry.hilbert_distance(total_bounds=cells.total_bounds)
    return np.argsort(distance.to_numpy(), kind="stable")


# -- what runs on the workers ----------------------------------------------------------------------

@dataclass
class _Failed:
    """A user error raised in a task, sent back as a value: the client raises it, in task order,
    and the workers log no failure for what is the user's input."""

    error: SitescoreError


def _warm(modules: tuple[str, ...]) -> None:
    """Import on a worker what its tasks run: this module and its stages (candidates, metrics)
    come with the function itself; a task's own module (a preset run, a chunk of draws) is
    named by the caller's function, so the engine needs no stage above it."""
    import rasterio.features  # noqa: F401  (zonal)

    for name in modules:
        importlib.import_module(name)


def _guarded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except SitescoreError as exc:
        return _Failed(exc)


def _run_batch(fn: Callable[..., Any], items: list[Any], return_errors: bool,
               shared: dict[str, Any]) -> list[Any]:
    out = []
    for item in items:
        try:
            out.append(fn(item, **shared))
        except SitescoreError as exc:
            if not return_errors:
                raise
            out.append(exc)
    return out


def _partition_metrics(cells: gpd.GeoDataFrame,
                       specs: list[tuple[str, dict[str, Any], Any]]) -> list[tuple[np.ndarray, float]]:
    """Every metric of a run on one partition of the cells: one task, not one per metric."""
    return [_timed_metric(cells, layer, metric, params) for metric, params, layer in specs]


def _timed_metric(cells: gpd.GeoDataFrame, layer: Any, metric: str,
                  params: dict[str, Any]) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    values = compute_metric(metric, cells, layer, params)
    return values, time.perf_counter() - t0


def _strip_cells(parts: np.ndarray, parcels: gpd.GeoDataFrame, cfg: CandidatesConfig, c0: int,
                 c1: int) -> gpd.GeoDataFrame:
    """The cells of grid columns c0..c1-1, made by `make_cells` from the whole land parts that
    reach into them (the same pieces of land, so the same acres) and every parcel (the same
    names)."""
    size = cfg.grid.size_km * M_PER_KM
    polygons = bool(np.all(shapely.get_type_id(parts) == 3))
    land = parts[0] if len(parts) == 1 else (shapely.multipolygons(parts) if polygons
                                             else shapely.geometrycollections(parts))
    cells = make_cells(EligibleLand(parcels, land, None, {}), cfg)
    col = np.floor(shapely.bounds(cells.geometry.values)[:, 0] / size + 0.5).astype(np.int64)
    return cells[(col >= c0) & (col < c1)].reset_index(drop=True)
