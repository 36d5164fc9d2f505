"""The Dask engine gives exactly what the local engine gives: the demo end to end, candidate
cells made in strips of grid columns, metrics on spatial partitions (a raster among them),
presets side by side and Monte Carlo draws in chunks; and its mistakes end in one line."""

from __future__ import annotations

import logging
import pickle
import socket
import sys
import textwrap

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from click.testing import CliRunner
from pandas.testing import assert_frame_equal
from rasterio.crs import CRS as RasterCRS

pytest.importorskip("dask_geopandas")
pytest.importorskip("distributed")

from helpers import one_line_error
from sitescore import engine as engine_module
from sitescore.candidates import EligibleLand, make_cells
from sitescore.cli import main
from sitescore.config import (
    CandidatesConfig,
    EngineConfig,
    SensitivityConfig,
    load_config,
    parse_config,
)
from sitescore.engine import (
    DaskEngine,
    LocalEngine,
    MetricJob,
    column_strips,
    open_engine,
)
from sitescore.errors import ConfigError, SitescoreError
from sitescore.pipeline import run, run_many
from sitescore.readers.terrain import Raster
from sitescore.schema import CRS
from sitescore.sensitivity import monte_carlo, site_matrix


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, \
            Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def on_dask(client):
    return DaskEngine(client)


@pytest.fixture(scope="module")
def demo(demo_config):
    return demo_config


@pytest.fixture(scope="module")
def demo_runs(demo, on_dask, tmp_path_factory):
    """The demo with threshold draws, once on each engine."""
    out = tmp_path_factory.mktemp("runs")
    cfg = load_config(demo)
    cfg.sensitivity = SensitivityConfig(draws=200, thresholds=0.1, seed=5)
    here = run(cfg, runs_dir=out / "local", write_map=False)
    there = run(cfg, runs_dir=out / "dask", write_map=False, engine=on_dask)
    return cfg, here, there


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# -- the demo end to end ----------------------------------------------------------------------------

def test_the_demo_gives_the_same_cells_sites_and_stability_on_dask(demo_runs):
    _, here, there = demo_runs
    assert_frame_equal(here.cells, there.cells, check_exact=True)
    assert_frame_equal(here.sites, there.sites, check_exact=True)
    for table in ("sites.csv", "sensitivity.csv", "weight_sweeps.csv", "weight_changes.csv"):
        assert (here.run_dir / table).read_bytes() == (there.run_dir / table).read_bytes(), table
    assert here.manifest["engine"] == {"kind": "local"}
    record = there.manifest["engine"]
    assert record["kind"] == "dask" and record["workers"] == 2 and record["partitions"] == 2
    # the work really was split: candidates in strips, metrics on partitions
    assert "strips" in record["split"]["candidates"] and "partitions" in record["split"]["metrics"]
    assert "ran_here" not in record


# -- candidates in strips of grid columns ---------------------------------------------------------

def _wide_land(n_islands: int = 9) -> EligibleLand:
    """Separate, irregular pieces of land along 60 km (never three within a cell of each other),
    one of them long enough to reach into several strips, each its own parcel and unit."""
    rng = np.random.default_rng(3)
    polys = []
    for i in range(n_islands):
        cx, cy = -1_000_000 + i * 6_500 + 0.37, 1_500_000 + rng.uniform(-2000, 2000)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
        radii = rng.uniform(1_200, 2_600, 9)
        polys.append(shapely.Polygon(np.column_stack([cx + radii * np.cos(angles),
                                                      cy + radii * np.sin(angles)])))
    polys.append(shapely.Polygon([(-1_001_234.5, 1_506_100.25), (-945_000.75, 1_505_300.5),
                                  (-944_100.0, 1_509_900.0), (-1_000_800.0, 1_510_600.0)]))
    parcels = gpd.GeoDataFrame({"mang_name": ["BLM"] * len(polys),
                                "unit_name": [f"Unit {i}" for i in range(len(polys))],
                                "state": ["NM"] * len(polys)}, geometry=polys, crs=CRS)
    return EligibleLand(parcels, shapely.union_all(polys), None, {})  # type: ignore[arg-type]


def test_cells_made_in_strips_equal_the_local_cells(client):
    land = _wide_land()
    cfg = CandidatesConfig(grid={"kind": "square", "size_km": 1.0}, min_eligible_share=0.3)
    parts = np.asarray(shapely.get_parts(land.geometry))
    strips = column_strips(parts, 1000.0, 4)
    assert len(strips) == 4
    # the long piece of land reaches across strip boundaries
    long_part = parts[np.argmax(shapely.length(parts))]
    lo, hi = np.floor(shapely.bounds(long_part)[[0, 2]] / 1000.0)
    assert sum(lo < c0 <= hi for c0, _ in strips[1:]) >= 2
    engine = DaskEngine(client, partitions=4)
    cells = engine.make_cells(land, cfg)
    assert engine.split["candidates"] == "4 strips of whole grid columns" and not engine.ran_here
    expected = make_cells(land, cfg)
    assert len(expected) > 300
    assert_frame_equal(cells, expected, check_exact=True)
    # cells of every strip, on both sides of each boundary
    cols = np.floor(shapely.bounds(cells.geometry.values)[:, 0] / 1000.0 + 0.5)
    for c0, _ in strips[1:]:
        assert (cols == c0 - 1).any() and (cols == c0).any()


def test_checkerboard_land_in_strips_and_h3_cells_made_here(client, caplog):
    """Cells over many separate pieces of land (BLM's checkerboard) still get the local acres to
    the last bit; H3 cells have no columns to split along and are made here, and the log says so."""
    caplog.set_level(logging.INFO, logger="sitescore.engine")
    boxes = [shapely.box(x, y, x + 700, y + 700) for x in np.arange(0, 20_000, 1_400.0)
             for y in (0.0, 1_400.0)]
    boxes += [shapely.box(x + 700, 700, x + 1_400, 1_400) for x in np.arange(0, 20_000, 1_400.0)]
    parcels = gpd.GeoDataFrame({"mang_name": ["BLM"] * len(boxes), "unit_name": ["Checkers"] * len(boxes),
                                "state": ["NM"] * len(boxes)},
                               geometry=[shapely.affinity.translate(b, -1e6, 1.5e6) for b in boxes], crs=CRS)
    land = EligibleLand(parcels, shapely.union_all(parcels.geometry.values), None, {})  # type: ignore[arg-type]
    engine = DaskEngine(client, partitions=3)
    square = CandidatesConfig(grid={"kind": "square", "size_km": 1.0}, min_eligible_share=0.1)
    assert_frame_equal(engine.make_cells(land, square), make_cells(land, square), check_exact=True)
    assert engine.split["candidates"] == "3 strips of whole grid columns" and not engine.ran_here
    h3 = CandidatesConfig(grid={"kind": "h3", "resolution": 8}, min_eligible_share=0.1)
    assert_frame_equal(engine.make_cells(land, h3), make_cells(land, h3), check_exact=True)
    assert "H3" in engine.ran_here["candidates"]
    assert "candidates run here, not on the Dask workers: H3" in caplog.text


# -- metrics on partitions ------------------------------------------------------------------------

def _grid(n_cols: int, n_rows: int, size: float = 1000.0) -> gpd.GeoDataFrame:
    c, r = (a.ravel() for a in np.meshgrid(np.arange(n_cols), np.arange(n_rows)))
    x0, y0 = -1_050_000.0, 1_480_000.0
    cells = gpd.GeoDataFrame({"cell_id": [f"c{i}_{j}" for i, j in zip(c, r, strict=True)],
                              "eligible_acres": np.linspace(50, 247, len(c))},
                             geometry=shapely.box(x0 + c * size, y0 + r * size, x0 + (c + 1) * size,
                                                  y0 + (r + 1) * size), crs=CRS)
    return cells.drop(index=[5, 77, 301]).reset_index(drop=True)  # holes: several blocks


def _dem(cells: gpd.GeoDataFrame) -> Raster:
    """A projected DEM over the cells at 130 m pixels (cells are not whole pixels), with nodata."""
    minx, miny, maxx, maxy = cells.total_bounds
    rows, cols = int((maxy - miny) / 130) + 4, int((maxx - minx) / 130) + 4
    yy, xx = np.mgrid[0:rows, 0:cols]
    values = 1500 + 40 * np.sin(xx / 7.0) * np.cos(yy / 5.0) + 3.0 * xx
    values[10:30, 20:40] = np.nan  # whole cells without data
    transform = Affine(130.0, 0, minx - 260.0, 0, -130.0, maxy + 260.0)
    return Raster(path=None, values=values, transform=transform, crs=RasterCRS.from_epsg(5070))  # type: ignore[arg-type]


def test_metrics_on_partitions_equal_the_local_values_bit_for_bit(client):
    rng = np.random.default_rng(11)
    cells = _grid(30, 20)
    minx, miny, maxx, maxy = cells.total_bounds
    pts = shapely.points(rng.uniform(minx - 20e3, maxx + 20e3, 60), rng.uniform(miny - 20e3, maxy + 20e3, 60))
    plants = gpd.GeoDataFrame({"capacity_mw": rng.uniform(1, 900, 60)}, geometry=pts, crs=CRS)
    lines = gpd.GeoDataFrame({"voltage_kv": [345, 500]}, geometry=[
        shapely.LineString([(minx - 5e3, miny), (maxx + 3e3, maxy + 1e3)]),
        shapely.LineString([(minx, maxy + 4e3), (maxx, miny - 2e3)])], crs=CRS)
    zones = gpd.GeoDataFrame({"bws_score": [1.5, 3.25, 4.0], "label": ["low", "high", "extreme"]},
                             geometry=[shapely.box(minx, miny, minx + 11e3, maxy),
                                       shapely.box(minx + 9e3, miny, maxx, miny + 12e3),
                                       shapely.Point(maxx - 8e3, maxy - 6e3).buffer(5e3)], crs=CRS)
    counties = gpd.GeoDataFrame({"labor_force": rng.uniform(1e3, 2e5, 40)},
                                geometry=shapely.points(rng.uniform(minx - 60e3, maxx + 60e3, 40),
                                                        rng.uniform(miny - 60e3, maxy + 60e3, 40)).tolist(),
                                crs=CRS)
    counties["geometry"] = counties.buffer(3e3)
    dem = _dem(cells)
    again = pickle.loads(pickle.dumps(dem))  # the raster travels to the workers
    assert np.array_equal(again.slope_percent(), dem.slope_percent(), equal_nan=True)
    dem = _dem(cells)  # a fresh DEM, its slope not worked out yet
    jobs = [MetricJob("plant_mw", "sum_within", plants, {"field": "capacity_mw", "radius_km": 9}),
            MetricJob("plants", "count_within", plants, {"radius_km": 7}),
            MetricJob("plant", "distance_to", plants, {}),
            MetricJob("line", "distance_to", lines, {}),
            MetricJob("stress", "attribute_at", zones, {"field": "bws_score"}),
            MetricJob("stress_label", "attribute_at", zones, {"field": "label"}),
            MetricJob("flooded", "overlap_share", zones, {}),
            MetricJob("workforce", "gravity_access", counties,
                      {"field": "labor_force", "decay_km": 20, "cutoff_km": 60, "decay": "exponential"}),
            MetricJob("slope", "zonal", dem, {"variable": "slope_percent", "stat": "mean"}),
            MetricJob("top", "zonal", dem, {"variable": "elevation", "stat": "max"}),
            MetricJob("room", "contiguous_acres", None, {})]
    engine = DaskEngine(client, partitions=5)
    there = engine.metrics(cells, jobs)
    here = LocalEngine(threads=4).metrics(cells, jobs)
    one_at_a_time = LocalEngine(threads=1).metrics(cells, jobs)
    assert list(there) == list(here) == list(one_at_a_time) == [j.name for j in jobs]
    for name in here:  # metrics on threads: each exactly as computed alone
        assert here[name][0].dtype == one_at_a_time[name][0].dtype, name
        np.testing.assert_array_equal(here[name][0], one_at_a_time[name][0], err_msg=name)
    for name in here:
        assert there[name][0].dtype == here[name][0].dtype, name
        np.testing.assert_array_equal(there[name][0], here[name][0], err_msg=name)
    assert np.isnan(here["slope"][0]).any() and np.isfinite(here["slope"][0]).sum() > 500
    assert engine.split["metrics"] == "5 partitions in Hilbert order"
    assert "every cell" in engine.ran_here["metric room"]
    # a shortlist's few sites (which may overlap) are scored here
    sites = cells.iloc[:12].assign(geometry=cells.geometry.iloc[:12].buffer(800.0))
    there = engine.metrics(sites, jobs, cells_may_overlap=True)
    assert "shortlist" in engine.ran_here["metrics"]
    for name, (values, _) in LocalEngine().metrics(sites, jobs).items():
        np.testing.assert_array_equal(there[name][0], values, err_msg=name)


# -- scenarios side by side, Monte Carlo in chunks --------------------------------------------------

def test_presets_side_by_side_equal_the_runs_one_after_another(demo, on_dask, tmp_path):
    (tmp_path / "nobody.yaml").write_text("candidates:\n  agencies: [NOBODY]\n")
    presets = ["data_center", str(tmp_path / "nobody.yaml"), "semiconductor_fab"]
    cfgs = [load_config(demo, preset=p) for p in presets]
    one_by_one = [run(cfg, runs_dir=tmp_path / "seq", write_map=False) for cfg in cfgs[::2]]
    side_by_side = run_many(cfgs, engine=on_dask, runs_dir=tmp_path / "par", write_map=False)
    # a preset that fails stops no other, and its error comes back in its place
    assert isinstance(side_by_side[1], SitescoreError) and "no eligible parcels" in str(side_by_side[1])
    for a, b in zip(one_by_one, side_by_side[::2], strict=True):
        assert b.run_dir == (tmp_path / "par" / a.run_dir.name).absolute()
        assert_frame_equal(a.cells, b.cells, check_exact=True)
        assert_frame_equal(a.sites, b.sites, check_exact=True)
        assert (a.run_dir / "sites.csv").read_bytes() == (b.run_dir / "sites.csv").read_bytes()
        assert b.manifest["engine"]["kind"] == "local"
        assert b.manifest["engine"]["task_of"]["kind"] == "dask"
    assert sorted(p.name for p in (tmp_path / "par").iterdir() if not p.name.startswith(".")) == \
        ["demo-data_center", "demo-semiconductor_fab"]


def test_several_presets_on_the_command_line_print_each_and_fail_in_one_line(demo, tmp_path):
    (tmp_path / "nobody.yaml").write_text("candidates:\n  agencies: [NOBODY]\n")
    r = invoke("run", demo, "--preset", tmp_path / "nobody.yaml", "--preset", "data_center",
               "--no-map", "--runs-dir", tmp_path / "r", "--top", "2")
    one_line_error(r, "candidates.agencies", "NOBODY", "preset nobody")
    assert "== demo-nobody ==\nnot run" in r.stdout and "== demo-data_center ==" in r.stdout
    assert "sites ranked" in r.stdout
    assert sorted(p.name for p in (tmp_path / "r").iterdir() if not p.name.startswith(".")) == \
        ["demo-data_center"]


def test_monte_carlo_chunks_on_the_engine_equal_the_local_draws(demo_runs, on_dask):
    cfg, here, _ = demo_runs
    sm = site_matrix(here.sites, here.cells, cfg.criteria)
    for method, sc in (("weighted_sum", SensitivityConfig(draws=700, thresholds=0.15, seed=9)),
                       ("topsis", SensitivityConfig(draws=300, weights="uniform", seed=2))):
        assert_frame_equal(monte_carlo(sm, sc, method, engine=on_dask), monte_carlo(sm, sc, method),
                           check_exact=True)


def test_tasks_return_results_in_order_and_user_errors_in_place(on_dask, tmp_path):
    missing = [tmp_path / f"nope{i}.yaml" for i in range(3)]
    out = on_dask.map(load_config, missing, return_errors=True)
    assert [type(e) for e in out] == [ConfigError] * 3 and "nope1.yaml" in str(out[1])
    with pytest.raises(ConfigError, match=r"nope0\.yaml: config file not found"):
        on_dask.map(load_config, missing)
    assert on_dask.map(abs, range(-5, 5)) == [abs(i) for i in range(-5, 5)]


def test_the_cell_budget_holds_for_the_whole_land_not_each_strip(demo, on_dask, monkeypatch,
                                                                 tmp_path):
    """Strips are gridded apart on the workers: the budget is checked on all the land first."""
    cfg = load_config(demo)
    cfg.candidates.grid.size_km = 0.5
    cfg.candidates.max_cells = 1_000
    submitted = []
    monkeypatch.setattr(on_dask.client, "submit", lambda *a, **k: submitted.append(a))
    with pytest.raises(SitescoreError, match=r"more than candidates.max_cells \(1,000\)"):
        run(cfg, runs_dir=tmp_path / "runs", write_map=False, engine=on_dask)
    assert submitted == []


# -- a cluster of its own, and mistakes -----------------------------------------------------------

def test_a_cluster_the_config_asks_for_is_started_and_closed():
    with open_engine(EngineConfig(kind="dask", workers=1, partitions=3)) as engine:
        assert engine.describe()["workers"] == 1 and engine.partitions == 3
        assert engine.map(abs, [-1, -2]) == [1, 2]
    assert engine.client.status == "closed"


def test_an_unreachable_scheduler_is_one_line_naming_it_and_nothing_is_written(demo, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setattr(engine_module, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    one_line_error(invoke("run", demo, "--scheduler", address, "--runs-dir", tmp_path / "r",
                          "--maps-dir", tmp_path / "m"),
                   "engine.scheduler", address, "cannot reach the Dask scheduler")
    assert not (tmp_path / "r").exists() and not (tmp_path / "m").exists()
    one_line_error(invoke("run", demo, "--scheduler", "not-an-address", "--runs-dir", tmp_path / "r"),
                   "--scheduler", "engine.scheduler", "is not a scheduler address")
    one_line_error(invoke("run", demo, "--engine", "local", "--workers", "2"), "engine.workers")
    one_line_error(invoke("run", demo, "--preset", "data_center", "--preset", "data_center"),
                   "--preset", "each preset once")


def _config(tmp_path, engine_yaml: str):
    path = tmp_path / "study.yaml"
    path.write_text(textwrap.dedent("""\
        study: s
        layers:
          sites: {reader: shortlist, path: sites.csv}
        candidates: {source: sites}
        criteria:
          near:
            metric: distance_to
            layer: sites
            value: {kind: linear, best: 0, worst: 50}
            weight: 1
        """) + engine_yaml)
    return path


@pytest.mark.parametrize("engine_yaml, key, words", [
    ("engine:\n  kind: dask\n  scheduler: 'tcp://host'\n", "engine.scheduler", "not a scheduler address"),
    ("engine:\n  kind: local\n  workers: 2\n", "engine.workers", "only used with kind: dask"),
    ("engine:\n  kind: dask\n  scheduler: tcp://h:8786\n  workers: 2\n", "engine.workers", "own workers"),
    ("engine:\n  kind: dask\n  wrokers: 2\n", "engine.wrokers", "did you mean 'workers'"),
    ("engine:\n  kind: dask\n  threads: 2\n", "engine.threads", "only used with kind: local"),
    ("engine:\n  threads: 0\n", "engine.threads", "greater than or equal to 1"),
    ("engine:\n  kind: spark\n", "engine.kind", "'local' or 'dask'"),
])
def test_engine_settings_are_checked_with_their_key_and_line(tmp_path, engine_yaml, key, words):
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, engine_yaml))
    assert f"config key '{key}'" in str(err.value) and words in str(err.value)
    assert ", line 1" in str(err.value)


def test_the_dask_engine_without_its_packages_is_one_line_with_the_install_command(tmp_path, demo,
                                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_geopandas", None)  # as if not installed
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "engine: {kind: dask}\n"))
    message = str(err.value)
    assert "config key 'engine.kind'" in message and "line 11" in message
    assert "dask-geopandas" in message and "pip install 'sitescore[dask]'" in message
    one_line_error(invoke("run", demo, "--engine", "dask", "--runs-dir", tmp_path / "r"),
                   "engine.kind", "pip install 'sitescore[dask]'")
    assert not (tmp_path / "r").exists()
    assert parse_config({"study": "x", "layers": {"a": {"reader": "shortlist", "path": "a.csv"}},
                         "candidates": {"source": "a"},
                         "criteria": {"c": {"metric": "distance_to", "layer": "a", "weight": 1,
                                            "value": {"kind": "linear", "best": 0, "worst": 1}}}}
                        ).engine.kind == "local"
