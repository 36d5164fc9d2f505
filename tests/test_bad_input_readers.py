"""Hostile and broken inputs at the readers, through the real command line (issue 18): network
paths and VRTs with remote sources, named pipes, symbolic link loops, misspelt reader options, a
DEM with no elevation over the area, NaN / infinite / off-the-Earth vertices, and names from the
data that would drive the terminal or run as spreadsheet formulas.

A refused input ends in one stderr line `sitescore: error: <file or key>: <what>`, exit code 2,
no output folder left behind and a previous run's outputs untouched; a damaged feature is
dropped and counted in the manifest, and the run goes on.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from badinput_support import land_study, lines_frame, padus_frame, write_dem
from sitescore.cli import main
from sitescore.safe_text import csv_cell, csv_safe, terminal_text
from test_bad_input import Case, _harmless, _no_outputs, run_cli
from test_cli import small_study

DEM_LINE = "dem: {reader: dem, path: dem.tif}"
LINES_LINE = "transmission_lines: {reader: hifld_transmission_lines, path: lines.geojson}"


def _one_line(result) -> str:
    """The run failed the way a user's mistake must: exit 2 and one line, no traceback."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sitescore: error: "), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def _check_case(case: Case, folder: Path, capfd, *extra: str) -> str:
    cfg = case.make(folder)
    result, caught = run_cli(folder, cfg, *extra)
    line = _one_line(result)
    for needle in case.needles:
        assert needle in line, (needle, line)
    assert capfd.readouterr().err == ""
    assert [str(w.message) for w in caught if not _harmless(w)] == []
    _no_outputs(folder)
    return line


@pytest.fixture(autouse=True)
def _clean_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SITESCORE_DATA_DIR", "SITESCORE_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)


# --- a loopback server that records every request -----------------------------------------

class _Recorder(http.server.SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def parse_request(self) -> bool:
        ok = super().parse_request()
        type(self).requests.append(self.requestline)
        return ok

    def log_message(self, *args) -> None:  # quiet: the test reads `requests`
        pass


@pytest.fixture
def loopback(tmp_path) -> Iterator[tuple[str, list[str], Path]]:
    """A web server on 127.0.0.1 serving a folder of good files (a DEM, a line layer): its base
    URL, the requests it received, and the folder."""
    served = tmp_path / "served"
    served.mkdir()
    write_dem(served / "dem.tif")
    lines_frame().to_file(served / "lines.geojson")
    handler = type("Handler", (_Recorder,), {"requests": []})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: handler(*a, directory=str(served), **k))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests, served
    finally:
        server.shutdown()
        server.server_close()


def _raster_vrt(source: str, relative: bool = False) -> str:
    """A one-band VRT over the test DEM's grid whose pixels come from `source`."""
    return (f'<VRTDataset rasterXSize="200" rasterYSize="160"><SRS>EPSG:4326</SRS>'
            f'<GeoTransform>-107.0, 0.005, 0, 34.6, 0, -0.005</GeoTransform>'
            f'<VRTRasterBand dataType="Float32" band="1"><SimpleSource>'
            f'<SourceFilename relativeToVRT="{int(relative)}">{source}</SourceFilename>'
            f'<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>')


def _vector_vrt(source: str) -> str:
    return (f'<OGRVRTDataSource><OGRVRTLayer name="lines"><SrcDataSource>{source}'
            f'</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>')


def _dem_as(name: str, text: Callable[[Path], str]) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        cfg = land_study(d, **{DEM_LINE: f"dem: {{reader: dem, path: {name}}}"})
        (d / name).write_text(text(d))
        return cfg
    return make


def _lines_at(path_text: str, write: Callable[[Path], object] | None = None):
    def make(d: Path) -> Path:
        cfg = land_study(d, **{LINES_LINE: f"transmission_lines: {{reader: hifld_transmission_lines, "
                                           f"path: '{path_text}'}}"})
        if write is not None:
            write(d)
        return cfg
    return make


def _nested_vrt(folder: Path, source: str) -> str:
    """inner.vrt reading `source`, and the text of a VRT reading inner.vrt."""
    (folder / "inner.vrt").write_text(_raster_vrt(source))
    return _raster_vrt("inner.vrt", relative=True)


def _network_cases(url: str) -> list[Case]:
    return [
        Case("network", "DEM VRT with a /vsicurl/ source",
             _dem_as("dem.vrt", lambda d: _raster_vrt(f"/vsicurl/{url}/dem.tif")),
             ("dem.vrt", "network source", "/vsicurl/", "local files only")),
        Case("network", "DEM VRT naming a local VRT with a remote source",
             _dem_as("dem.vrt", lambda d: _nested_vrt(d, f"/vsicurl/{url}/dem.tif")),
             ("inner.vrt", "network source")),
        Case("network", "DEM VRT with a /vsis3/ source inside a zip chain",
             _dem_as("dem.vrt", lambda d: _raster_vrt("/vsizip//vsis3/bucket/dems.zip/dem.tif")),
             ("dem.vrt", "network source", "/vsis3/")),
        Case("network", "GDAL_WMS description as the DEM", _dem_as(
            "dem.xml", lambda d: f'<GDAL_WMS><Service name="TMS"><ServerUrl>{url}/${{z}}/${{x}}/'
                                 '${y}.png</ServerUrl></Service></GDAL_WMS>'),
            ("dem.xml", "web-service description", "GDAL_WMS")),
        Case("network", "line layer as an OGR VRT over HTTP", _lines_at("lines.vrt", lambda d: (
            d / "lines.vrt").write_text(_vector_vrt(f"/vsicurl/{url}/lines.geojson"))),
            ("lines.vrt", "network source")),
        Case("network", "line layer path that is a /vsicurl/ address",
             _lines_at(f"/vsicurl/{url}/lines.geojson"),
             ("/vsicurl/", "network address", "local files only")),
    ]


NETWORK_NAMES = [c.name for c in _network_cases("http://127.0.0.1:1")]


@pytest.mark.parametrize("name", NETWORK_NAMES)
def test_a_run_sends_no_request_for_network_inputs(name, tmp_path, loopback, capfd):
    """Only `fetch` uses the network: an input that would make GDAL download ends the run in
    one line naming the file, and the loopback server never hears from it."""
    url, requests, _ = loopback
    case = next(c for c in _network_cases(url) if c.name == name)
    _check_case(case, tmp_path, capfd)
    assert requests == []


def test_gdal_itself_is_kept_off_the_network_while_readers_run(tmp_path, loopback):
    """Belt and braces: a remote VRT opened directly inside `local_only` (as a reader would,
    were the VRT check ever to miss one) fetches nothing."""
    import pyogrio

    from sitescore.readers import local_only

    url, requests, served = loopback
    (tmp_path / "dem.vrt").write_text(_raster_vrt(f"/vsicurl/{url}/dem.tif"))
    (tmp_path / "lines.vrt").write_text(_vector_vrt(f"/vsicurl/{url}/lines.geojson"))
    with local_only():
        with pytest.raises(Exception), rasterio.open(tmp_path / "dem.vrt") as src:  # noqa: B017
            src.read(1)  # GDAL's own error: any will do
        with pytest.raises(Exception):  # noqa: B017
            pyogrio.read_dataframe(tmp_path / "lines.vrt")
    assert requests == []
    # and afterwards GDAL is as it was: a remote VRT reads over the loopback (another file, as
    # GDAL remembers the one it could not have)
    write_dem(served / "again.tif")
    (tmp_path / "again.vrt").write_text(_raster_vrt(f"/vsicurl/{url}/again.tif"))
    with rasterio.open(tmp_path / "again.vrt") as src:
        assert np.isfinite(src.read(1)).all()
    assert requests != []


def test_a_local_vrt_still_reads(tmp_path, capfd):
    """A VRT over local files is no network input: the run goes on."""
    cfg = _dem_as("dem.vrt", lambda d: _raster_vrt("dem.tif", relative=True))(tmp_path)
    result, _ = run_cli(tmp_path, cfg, "--no-map")
    assert result.exit_code == 0, (result.output, result.stderr)
    manifest = json.loads((tmp_path / "runs/land/manifest.json").read_text())
    assert any(r["path"].endswith("dem.vrt") for r in manifest["inputs"])


def test_a_failed_run_leaves_the_previous_outputs_intact(tmp_path, loopback, capfd):
    url, requests, _ = loopback
    cfg = land_study(tmp_path)
    first, _ = run_cli(tmp_path, cfg, "--no-map")
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in (tmp_path / "runs/land").iterdir()}
    (tmp_path / "dem.vrt").write_text(_raster_vrt(f"/vsicurl/{url}/dem.tif"))
    cfg.write_text(cfg.read_text().replace("path: dem.tif", "path: dem.vrt"))
    second, _ = run_cli(tmp_path, cfg, "--no-map")
    assert "dem.vrt" in _one_line(second)
    assert {p.name: p.read_bytes() for p in (tmp_path / "runs/land").iterdir()} == before
    assert requests == []


# --- named pipes: refused at once, never opened (a subprocess, so a regression cannot hang) --

def _fifo_instead(name: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / name).unlink()
        os.mkfifo(d / name)
    return make


def _shapefile_lines(d: Path) -> Path:
    cfg = land_study(d, **{"path: lines.geojson": "path: lines.shp"})
    lines_frame().to_file(d / "lines.shp")
    return cfg


#: what is made, the file then replaced by a named pipe, what the error names
FIFO_CASES = {
    "GeoJSON layer": (lambda d: land_study(d), "padus.geojson", "padus.geojson"),
    "DEM": (lambda d: land_study(d), "dem.tif", "dem.tif"),
    "shortlist CSV": (lambda d: small_study(d), "sites.csv", "sites.csv"),
    "source of a DEM VRT": (_dem_as("dem.vrt", lambda d: _raster_vrt("dem.tif", relative=True)),
                            "dem.tif", "dem.vrt"),
    "shapefile's .dbf": (_shapefile_lines, "lines.dbf", "lines.shp"),
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
@pytest.mark.parametrize("kind", list(FIFO_CASES))
def test_a_named_pipe_is_refused_not_waited_on(kind, tmp_path):
    make, name, named = FIFO_CASES[kind]
    cfg = make(tmp_path)
    _fifo_instead(name)(tmp_path)
    exe = Path(sys.executable).parent / "sitescore"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITESCORE_")}
    proc = subprocess.run([str(exe), "run", str(cfg), "--runs-dir", "runs", "--maps-dir", "maps",
                           "--cache-dir", "cache"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=90, env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("sitescore: error: "), proc.stderr
    assert named in lines[0] and "not a regular file" in lines[0], lines[0]
    _no_outputs(tmp_path)


# --- the other refusals, in process ---------------------------------------------------------

def _nodata_dem(fraction: float) -> Callable[[Path], None]:
    """The DEM with its western `fraction` of columns set to nodata."""
    def change(d: Path) -> None:
        with rasterio.open(d / "dem.tif") as src:
            values, profile = src.read(1), src.profile
        values[:, : int(values.shape[1] * fraction)] = profile["nodata"]
        with rasterio.open(d / "dem.tif", "w", **profile) as dst:
            dst.write(values, 1)
    return change


def _then(make: Callable[[Path], Path], change: Callable[[Path], object]) -> Callable[[Path], Path]:
    def both(d: Path) -> Path:
        cfg = make(d)
        change(d)
        return cfg
    return both


def _self_link(name: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        (d / name).unlink()
        os.symlink(name, d / name)
    return change


def _padus_gpkg(geoms) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        cfg = land_study(d, **{"path: padus.geojson": "path: padus.gpkg"})
        padus_frame(geoms).to_file(d / "padus.gpkg", driver="GPKG")
        return cfg
    return make


def _with_options(layer_line: str, options: str) -> Callable[[Path], Path]:
    return lambda d: land_study(d, **{layer_line: layer_line[:-1] + f", options: {options}}}"})


FAR_VERTEX = shapely.Polygon([(-106.7, 34.0), (1e300, 34.05), (-106.6, 34.1), (-106.7, 34.1)])

CASES = [
    Case("option", "misspelt DEM option z_unit", _with_options(DEM_LINE, "{z_unit: ft}"),
         ("land.yaml, line 7", "layers.dem.options.z_unit", "did you mean 'z_units'?")),
    Case("option", "option on a reader that takes none",
         _with_options(LINES_LINE, "{voltage_field: KV}"),
         ("land.yaml, line 6", "layers.transmission_lines.options.voltage_field", "takes none")),
    Case("option", "unknown option, nothing close",
         _with_options(DEM_LINE, "{resampling: bilinear}"),
         ("layers.dem.options.resampling", "its options: band, z_units")),
    Case("dem", "DEM with no valid value over the area", _then(lambda d: land_study(d), _nodata_dem(1.0)),
         ("dem.tif", "no valid elevation over the study area")),
    Case("path", "symbolic link loop", _then(lambda d: land_study(d), _self_link("lines.geojson")),
         ("lines.geojson", "symbolic link loop")),
    Case("path", "symbolic link loop as the DEM", _then(lambda d: land_study(d), _self_link("dem.tif")),
         ("dem.tif", "symbolic link loop")),
    Case("geometry", "every parcel has a vertex at 1e300", _padus_gpkg([FAR_VERTEX]),
         ("padus.gpkg", "no feature is left", "not finite or off the Earth")),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}: {c.name}" for c in CASES])
def test_bad_reader_input_ends_in_one_line(case, tmp_path, capfd):
    line = _check_case(case, tmp_path, capfd)
    print(f"{case.kind:<8} {case.name:<40} {line}")


def test_config_check_refuses_a_misspelt_option(tmp_path):
    cfg = _with_options(DEM_LINE, "{z_unit: ft}")(tmp_path)
    result = CliRunner().invoke(main, ["config", "check", str(cfg)], catch_exceptions=False)
    line = _one_line(result)
    assert "land.yaml, line 7" in line and "layers.dem.options.z_unit" in line
    assert "did you mean 'z_units'?" in line


def test_a_dataset_layer_option_is_checked_against_its_catalog_reader(tmp_path):
    """`rail: {dataset: us_class1_rail}` has no `reader:`: its options are the catalog reader's."""
    from sitescore.config import load_config
    from sitescore.errors import ConfigError

    cfg = land_study(tmp_path, **{DEM_LINE: DEM_LINE + "\n  rail: {dataset: us_class1_rail, "
                                                        "options: {clas1: true}}"})
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert "layers.rail.options.clas1" in str(err.value) and "did you mean 'class1'?" in str(err.value)
    assert "line 8" in str(err.value)


def test_every_shipped_config_preset_and_the_demo_take_their_options(tmp_path):
    from sitescore.config import load_config
    from sitescore.demo import generate_demo

    root = Path(__file__).resolve().parents[1] / "configs"
    configs = sorted(root.glob("*.yaml"))
    presets = sorted((root.parent / "src" / "sitescore" / "presets").glob("*.yaml"))
    assert configs and presets
    for path in configs:
        for preset in (None, *presets):
            assert load_config(path, preset=preset).layers
    demo = generate_demo(tmp_path / "demo")
    result = CliRunner().invoke(main, ["config", "check", str(demo)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_a_dem_partly_without_data_still_runs(tmp_path):
    cfg = _then(lambda d: land_study(d), _nodata_dem(0.45))(tmp_path)
    result, _ = run_cli(tmp_path, cfg, "--no-map")
    assert result.exit_code == 0, (result.output, result.stderr)
    assert "sites ranked" in result.stdout


# --- NaN, infinite and far-out vertices: the feature is dropped and counted ------------------

def _manifest_record(folder: Path, layer: str, study: str = "land") -> dict:
    manifest = json.loads((folder / "runs" / study / "manifest.json").read_text())
    return next(r for r in manifest["inputs"] if r["layer"] == layer)


def _run_ok(folder: Path, cfg: Path, capfd):
    result, caught = run_cli(folder, cfg, "--no-map")
    assert result.exit_code == 0, (result.output, result.stderr)
    assert result.stderr == "" and capfd.readouterr().err == ""
    assert [str(w.message) for w in caught if not _harmless(w)] == []
    return result


GOOD = shapely.box(-106.6, 34.1, -106.4, 34.3)


def _with_vertex(kind: str, x: float, coords: list[tuple[float, float]]):
    """A polygon or line whose second vertex has longitude `x` (NaN, inf, 1e300)."""
    xy = np.array(coords, dtype=float)
    xy[1, 0] = x
    with np.errstate(invalid="ignore"):  # shapely checks the ring's closure with NaN in it
        return shapely.polygons(xy) if kind == "polygon" else shapely.linestrings(xy)


RING = [(-106.7, 34.0), (-106.65, 34.05), (-106.6, 34.1), (-106.7, 34.1), (-106.7, 34.0)]
NAN_VERTEX = _with_vertex("polygon", np.nan, RING)
INF_VERTEX = _with_vertex("polygon", np.inf, RING)


@pytest.mark.parametrize("bad", [NAN_VERTEX, INF_VERTEX, FAR_VERTEX], ids=["NaN", "inf", "1e300"])
def test_a_parcel_with_a_wild_vertex_is_dropped_and_counted(bad, tmp_path, capfd):
    """The other parcel is scored; the manifest counts the dropped one and names it (feature 2
    of the file)."""
    cfg = _padus_gpkg([GOOD, bad])(tmp_path)
    result = _run_ok(tmp_path, cfg, capfd)
    assert "sites ranked" in result.stdout
    record = _manifest_record(tmp_path, "federal_land")
    assert record["features"] == 1 and record["dropped"] == 1
    assert record["bad_coordinates"] == 1 and record["bad_coordinate_features"] == [2]


def test_a_point_with_a_nan_coordinate_is_dropped_and_counted(tmp_path, capfd):
    """A shortlist GeoPackage with a NaN point: the other sites are scored."""
    cfg = small_study(tmp_path, **{"path: sites.csv": "path: sites.gpkg"})
    gpd.GeoDataFrame({"id": ["A", "B", "C"], "name": ["Alpha", "Beta", "Gamma"]},
                     geometry=[shapely.Point(-106.3, 35.0), shapely.Point(np.nan, 35.1),
                               shapely.Point(-106.0, 35.2)],
                     crs="EPSG:4326").to_file(tmp_path / "sites.gpkg", driver="GPKG")
    result = _run_ok(tmp_path, cfg, capfd)
    assert "2 sites ranked" in result.stdout
    record = _manifest_record(tmp_path, "sites", "small")
    assert record["features"] == 2 and record["bad_coordinates"] == 1


def test_a_line_with_a_nan_vertex_is_dropped_like_the_others(tmp_path, capfd):
    cfg = land_study(tmp_path, **{"path: lines.geojson": "path: lines.gpkg"})
    good = lines_frame().geometry.iloc[0]
    bad = _with_vertex("line", np.nan, [(-106.4, 33.5), (-106.4, 34.0), (-106.4, 35.0)])
    gpd.GeoDataFrame({"ID": ["1", "2"], "VOLTAGE": [345.0, 345.0]}, geometry=[good, bad],
                     crs="EPSG:4326").to_file(tmp_path / "lines.gpkg", driver="GPKG")
    _run_ok(tmp_path, cfg, capfd)
    record = _manifest_record(tmp_path, "transmission_lines")
    assert record["features"] == 1 and record["bad_coordinates"] == 1 and record["repaired"] == 0


# --- names from the data: safe on the terminal and in CSV -----------------------------------

HOSTILE_NAME = ("\x1b]52;c;ZWNobyBwd25lZA==\x07Socorro\x1b[2J\x9b2J \x1b]0;pwned\x07Field"
                "\x1bc Office\x7f\x85\x9d8;;http://example.invalid\x9c")


def _controls(text: str) -> list[str]:
    return sorted({hex(ord(c)) for c in text if (ord(c) < 32 and c != "\n") or 0x7f <= ord(c) <= 0x9f})


def test_run_and_explain_print_no_control_characters(tmp_path, capfd):
    cfg = land_study(tmp_path)
    padus_frame(Unit_Nm=[HOSTILE_NAME]).to_file(tmp_path / "padus.geojson")
    result = _run_ok(tmp_path, cfg, capfd)
    assert _controls(result.stdout) == [] and "SocorroField" not in result.stdout
    assert "Socorro Field Office" in result.stdout
    explained = CliRunner().invoke(main, ["explain", str(cfg), "--runs-dir", str(tmp_path / "runs")],
                                   catch_exceptions=False)
    assert explained.exit_code == 0, explained.output
    assert _controls(explained.stdout) == [] and "Socorro Field Office" in explained.stdout
    # the data keep their true text: only the terminal gets the safe form
    sites = gpd.read_parquet(tmp_path / "runs/land/sites.parquet")
    assert sites["unit_name"].iloc[0] == HOSTILE_NAME


def test_sensitivity_and_compare_print_no_control_characters(tmp_path, capfd):
    """The other two commands that print site names from the data."""
    cfg = land_study(tmp_path)
    padus_frame(Unit_Nm=[HOSTILE_NAME]).to_file(tmp_path / "padus.geojson")
    runs = tmp_path / "runs"
    swept = CliRunner().invoke(main, ["sensitivity", str(cfg), "--draws", "10", "--runs-dir",
                                      str(runs), "--maps-dir", str(tmp_path / "maps"),
                                      "--cache-dir", str(tmp_path / "cache")],
                               catch_exceptions=False)
    assert swept.exit_code == 0, swept.output
    assert _controls(swept.stdout) == [] and "Socorro Field Office" in swept.stdout
    (runs / "land").rename(runs / "before")
    _run_ok(tmp_path, cfg, capfd)
    compared = CliRunner().invoke(main, ["compare", str(runs / "before"), str(runs / "land"),
                                         "--out", str(tmp_path / "cmp")], catch_exceptions=False)
    assert compared.exit_code == 0, compared.output
    assert _controls(compared.stdout) == [] and "Socorro Field Office" in compared.stdout


def test_config_check_names_a_symbolic_link_loop(tmp_path):
    cfg = land_study(tmp_path)
    (tmp_path / "lines.geojson").unlink()
    (tmp_path / "lines.geojson").symlink_to(tmp_path / "lines.geojson")
    result = CliRunner().invoke(main, ["config", "check", str(cfg)], catch_exceptions=False)
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "lines.geojson" in lines[0] and "symbolic link loop" in lines[0]


def test_terminal_text_strips_sequences_whole():
    assert terminal_text("a\x1b[31;1mred\x1b[0m b") == "ared b"
    assert terminal_text("x\x1b]0;title\x1b\\y") == "xy"                 # OSC ended by ST
    assert terminal_text("x\x1b]52;c;Zm9v") == "x"                      # unterminated OSC
    assert terminal_text("x\x9b2Jy\x9d0;t\x9cz") == "xyz"                # C1 CSI and OSC
    assert terminal_text("one\ntwo\tthree\r") == "one two three "
    assert terminal_text("nul\x00del\x7fnel\x85") == "nuldelnel"
    assert terminal_text("Café – Socorro 2") == "Café – Socorro 2"
    assert terminal_text(None) == "None"


FORMULAS = ["=HYPERLINK(\"http://example.invalid\",\"x\")", "+1+2", "-2+cmd|' /C calc'!A0",
            "@SUM(A1:A2)", "-3.5"]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _formula_study(folder: Path, **overrides: str) -> Path:
    cfg = small_study(folder, **overrides)
    n = len(FORMULAS)
    pd.DataFrame({"id": [f"S{i}" for i in range(n)], "name": FORMULAS,
                  "lon": [-106.3 + 0.1 * i for i in range(n)], "lat": [35.0] * n}
                 ).to_csv(folder / "sites.csv", index=False)
    return cfg


def _neutralised(values: list[str]) -> None:
    assert sorted(values) == sorted(["'" + f if f != "-3.5" else f for f in FORMULAS]), values


def test_sites_csv_and_compare_csv_neutralise_formulas(tmp_path, capfd):
    cfg = _formula_study(tmp_path)
    _run_ok(tmp_path, cfg, capfd)
    rows = _csv_rows(tmp_path / "runs/small/sites.csv")
    _neutralised([r["name"] for r in rows])
    assert all(float(r["lon"]) < -105 for r in rows)  # negative numbers stay numbers
    assert not any(r["lon"].startswith("'") or r["score"].startswith("'") for r in rows)
    # GeoPackage and Parquet keep the true names
    assert sorted(gpd.read_parquet(tmp_path / "runs/small/sites.parquet")["name"]) == sorted(FORMULAS)
    assert sorted(gpd.read_file(tmp_path / "runs/small/sitescore.gpkg", layer="sites")["name"]) \
        == sorted(FORMULAS)
    other = tmp_path / "other"
    other.mkdir()
    result, _ = run_cli(other, _formula_study(other), "--no-map")
    assert result.exit_code == 0, result.output
    compared = CliRunner().invoke(main, ["compare", str(tmp_path / "runs/small"),
                                         str(other / "runs/small"), "--out", str(tmp_path / "cmp")],
                                  catch_exceptions=False)
    assert compared.exit_code == 0, compared.output
    assert _controls(compared.stdout) == []
    rows = _csv_rows(tmp_path / "cmp/compare.csv")
    _neutralised([r["name"] for r in rows])
    assert all(float(r["lon"]) < -105 for r in rows)


def test_sensitivity_csvs_neutralise_formulas(tmp_path, capfd):
    """sensitivity.csv and weight_changes.csv carry site names too."""
    cfg = _formula_study(tmp_path, **{"weight: 1\n": "weight: 1\nsensitivity: {draws: 20}\n"})
    _run_ok(tmp_path, cfg, capfd)
    _neutralised([r["name"] for r in _csv_rows(tmp_path / "runs/small/sensitivity.csv")])
    changes = _csv_rows(tmp_path / "runs/small/weight_changes.csv")
    _neutralised(sorted({r["name"] for r in changes}))


def test_csv_cell_prefixes_formulas_only():
    assert [csv_cell(v) for v in ["=1+1", "+A1", "-x", "@A", "\tx", "\rx"]] == \
        ["'=1+1", "'+A1", "'-x", "'@A", "'\tx", "'\rx"]
    assert [csv_cell(v) for v in ["-3.5", "+1e3", "-.5", "Alpha", "", None, -3.5, 7]] == \
        ["-3.5", "+1e3", "-.5", "Alpha", "", None, -3.5, 7]
    frame = pd.DataFrame({"name": pd.Series(["=cmd", None, "ok"], dtype=object),
                          "score": [-1.5, 0.0, 2.0],
                          "state": pd.array(["@x", pd.NA, "NM"], dtype="string"), "=col": [1, 2, 3]})
    safe = csv_safe(frame)
    assert safe["name"].tolist() == ["'=cmd", None, "ok"]
    assert safe["score"].tolist() == [-1.5, 0.0, 2.0] and safe["score"].dtype == float
    assert safe["state"].tolist()[0] == "'@x" and pd.isna(safe["state"].tolist()[1])
    assert list(safe.columns) == ["name", "score", "state", "'=col"]
    assert frame["name"].tolist()[0] == "=cmd"  # the frame itself is left as it was
