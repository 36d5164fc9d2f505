"""Bad input, one way at a time, through the real command line: each case writes real files and a
config to a temporary folder and runs `sitescore run` on them.

A user's mistake must end in exactly one stderr line `sitescore: error: <where>: <what>` naming
the file, layer, field or config key (with its YAML line), exit code 2, no traceback, and no
output folder (nor a temporary one) left behind. Damaged geometries are no mistake: they are
repaired or dropped, counted in the manifest, and the run goes on.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from badinput_support import (
    airports_table,
    gppd_table,
    land_study,
    lines_frame,
    padus_frame,
    shortlist_table,
    states_frame,
    truncate,
    write_dem,
    write_zipped_shapefile,
)
from sitescore.cli import main
from test_cli import small_study


@dataclass(frozen=True)
class Case:
    kind: str
    name: str
    make: Callable[[Path], Path]     # writes the study into the folder, returns the config
    needles: tuple[str, ...]         # each must appear in the error line
    lead: str | None = None          # passes once pipeline.py (the lead's) has this call


def _land(**overrides):
    return lambda d: land_study(d, **overrides)


def _small_land(**overrides):
    """The grid study without its DEM (one criterion: distance to the line)."""
    return lambda d: land_study(d, dem=False, **overrides)


def _with(base: Callable[[Path], Path], change: Callable[[Path], object]) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        cfg = base(d)
        change(d)
        return cfg
    return make


def _small(**overrides):
    return lambda d: small_study(d, **overrides)


def _lines_as(name: str, writer: Callable[[Path], object]):
    """The grid study with its HIFLD line layer replaced by `name`, written by `writer`."""
    return _with(_land(**{"path: lines.geojson": f"path: {name}"}), lambda d: writer(d / name))


def _padus_as(name: str, writer: Callable[[Path], object]):
    return _with(_land(**{"path: padus.geojson": f"path: {name}"}), lambda d: writer(d / name))


def _shortlist_csv(writer: Callable[[Path], object]):
    return _with(_small(), lambda d: writer(d / "sites.csv"))


def _write_text(text: str, encoding: str = "utf-8"):
    return lambda p: p.write_bytes(text.encode(encoding))


def _gpkg(gdf: gpd.GeoDataFrame, layer: str = "lines"):
    return lambda p: gdf.to_file(p, layer=layer, driver="GPKG")


def _shapefile_without(part: str):
    def write(p: Path) -> None:
        lines_frame().to_file(p)
        p.with_suffix(part).unlink()
    return write


def _truncated_zip(p: Path) -> None:
    write_zipped_shapefile(lines_frame(), p)
    truncate(p)


def _truncated_gpkg(p: Path) -> None:
    lines_frame().to_file(p, layer="lines", driver="GPKG")
    truncate(p)


def _garbage(p: Path) -> None:
    p.write_bytes(bytes(range(256)) * 8 + b"\x00\xff\xfe" * 100)


def _utm_labelled_lonlat(p: Path) -> None:
    """Lon/lat numbers written with a UTM CRS: the classic wrong .prj."""
    padus_frame().set_crs("EPSG:26913", allow_override=True).to_file(p)


def _metres_labelled_lonlat(p: Path) -> None:
    """UTM metres written as if they were lon/lat."""
    padus_frame().to_crs("EPSG:26913").set_crs("EPSG:4326", allow_override=True).to_file(p)


#: A GPPD plant layer and a capacity criterion added to the grid study.
PLANTS = {"  dem: {reader: dem, path: dem.tif}\n":
          "  dem: {reader: dem, path: dem.tif}\n  plants: {reader: gppd, path: gppd.csv}\n",
          "constraints:": "  plants:\n    metric: sum_within\n    layer: plants\n    radius_km: 50\n"
                          "    field: capacity_mw\n    value: {kind: linear, best: 1000, worst: 0}\n"
                          "    weight: 1\nconstraints:"}
STATES_LAYER = {"  dem: {reader: dem, path: dem.tif}\n":
                "  dem: {reader: dem, path: dem.tif}\n"
                "  states: {reader: census_states, path: states.geojson}\n"}
BBOX_LINE = "area: {bbox: [-106.8, 34.0, -106.2, 34.4]}"


def _config_bytes(data: bytes):
    def make(d: Path) -> Path:
        land_study(d)
        (d / "land.yaml").write_bytes(data)
        return d / "land.yaml"
    return make


CASES = [
    # --- files -----------------------------------------------------------------------------
    Case("file", "missing file", _land(**{"path: lines.geojson": "path: gone.geojson"}),
         ("gone.geojson", "file not found")),
    Case("file", "missing layer inside a GeoPackage",
         _with(_land(**{"{reader: hifld_transmission_lines, path: lines.geojson}":
                        "{reader: hifld_transmission_lines, path: lines.gpkg, layer: nope}"}),
               lambda d: _gpkg(lines_frame())(d / "lines.gpkg")),
         ("lines.gpkg", "nope", "lines")),
    Case("file", "truncated zipped shapefile", _lines_as("lines.zip", _truncated_zip),
         ("lines.zip",)),
    Case("file", "truncated GeoPackage", _lines_as("lines.gpkg", _truncated_gpkg),
         ("lines.gpkg",)),
    Case("file", "GeoJSON with broken JSON",
         _lines_as("lines.geojson", _write_text('{"type": "FeatureCollection", "features": [{"type": ')),
         ("lines.geojson",)),
    Case("file", "empty GeoJSON file", _lines_as("lines.geojson", _write_text("")),
         ("lines.geojson",)),
    Case("file", "shapefile without .prj", _lines_as("lines.shp", _shapefile_without(".prj")),
         ("lines.shp", "CRS")),
    Case("file", "shapefile without .dbf", _lines_as("lines.shp", _shapefile_without(".dbf")),
         ("lines.shp",)),
    Case("file", "shapefile without .shx", _lines_as("lines.shp", _shapefile_without(".shx")),
         ("lines.shp",)),
    Case("file", "shortlist CSV of binary garbage", _shortlist_csv(_garbage), ("sites.csv",)),
    Case("file", "GPPD CSV of binary garbage", _with(_land(**PLANTS), lambda d: _garbage(d / "gppd.csv")),
         ("gppd.csv", "not a text table")),
    Case("file", "GPPD CSV that is empty",
         _with(_land(**PLANTS), lambda d: (d / "gppd.csv").write_bytes(b"")),
         ("gppd.csv", "empty")),
    Case("file", "GPPD CSV with only a header",
         _with(_land(**PLANTS), lambda d: (d / "gppd.csv").write_text("country,name\n")),
         ("gppd.csv", "field 'gppd_idnr'")),
    Case("file", "DEM that is no raster", _with(_land(), lambda d: _garbage(d / "dem.tif")),
         ("dem.tif", "raster")),
    Case("file", "truncated DEM", _with(_land(), lambda d: truncate(d / "dem.tif", 0.3)),
         ("dem.tif",)),
    Case("file", "PAD-US lon/lat numbers labelled UTM", _padus_as("padus.geojson", _utm_labelled_lonlat),
         ("padus.geojson", "CRS")),
    Case("file", "PAD-US UTM metres labelled lon/lat", _padus_as("padus.geojson", _metres_labelled_lonlat),
         ("padus.geojson", "CRS")),
    Case("file", "HIFLD lines in lon/lat labelled UTM",
         _lines_as("lines.geojson",
                   lambda p: lines_frame().set_crs("EPSG:26913", allow_override=True).to_file(p)),
         ("lines.geojson", "look like lon/lat degrees", "NAD83 / UTM zone 13N")),
    Case("file", "layer path is a folder with nothing in it",
         _with(_land(**{"path: lines.geojson": "path: empty_folder"}),
               lambda d: (d / "empty_folder").mkdir()),
         ("empty_folder",)),
    # --- fields ----------------------------------------------------------------------------
    Case("field", "HIFLD VOLTAGE missing",
         _lines_as("lines.geojson", lambda p: lines_frame().drop(columns="VOLTAGE").to_file(p)),
         ("lines.geojson", "field 'VOLTAGE'", "required field missing")),
    Case("field", "PAD-US manager missing",
         _padus_as("padus.geojson", lambda p: padus_frame().drop(columns="Mang_Name").to_file(p)),
         ("padus.geojson", "field 'Mang_Name'")),
    Case("field", "shortlist without a latitude column",
         _shortlist_csv(lambda p: shortlist_table().drop(columns="lat").to_csv(p, index=False)),
         ("sites.csv", "field 'lat'")),
    Case("field", "shortlist radius_km negative",
         _shortlist_csv(lambda p: shortlist_table().assign(radius_km=["-1", ""]).to_csv(p, index=False)),
         ("sites.csv", "radius_km", "positive")),
    Case("field", "shortlist radius_km text",
         _shortlist_csv(lambda p: shortlist_table().assign(radius_km=["abc", ""]).to_csv(p, index=False)),
         ("sites.csv", "radius_km")),
    Case("field", "shortlist ids repeated",
         _shortlist_csv(lambda p: shortlist_table().assign(id=["A", "A"]).to_csv(p, index=False)),
         ("sites.csv", "field 'id'", "duplicate")),
    Case("field", "shortlist with no usable coordinates",
         _shortlist_csv(lambda p: shortlist_table().assign(lon=["abc", ""]).to_csv(p, index=False)),
         ("sites.csv", "no candidate sites")),
    Case("field", "where-filter on a field the layer lacks",
         _small(**{'where: "voltage_kv >= 345"': 'where: "VOLTAGE >= 345"'}),
         ("criteria.power_line.where", "VOLTAGE")),
    Case("field", "metric field the layer lacks",
         _with(_land(**{**PLANTS, "constraints:": PLANTS["constraints:"].replace("field: capacity_mw",
                                                                                 "field: capacity")}),
               lambda d: gppd_table().to_csv(d / "gppd.csv", index=False)),
         ("land.yaml, line 32", "criteria.plants.field", "no column 'capacity'", "capacity_mw")),
    # --- study area ------------------------------------------------------------------------
    Case("area", "bbox with no data (the DEM is read first)",
         _land(**{"[-106.8, 34.0, -106.2, 34.4]": "[-70.0, 44.0, -69.5, 44.5]"}),
         ("dem.tif", "does not cover the study area (bbox -70.0,44.0,-69.5,44.5)")),
    Case("area", "bbox with no data",
         _small_land(**{"[-106.8, 34.0, -106.2, 34.4]": "[-70.0, 44.0, -69.5, 44.5]"}),
         ("padus.geojson", "no land parcel lies in the study area (bbox -70.0,44.0,-69.5,44.5)")),
    Case("area", "unknown state code", _land(**{"area: {bbox: [-106.8, 34.0, -106.2, 34.4]}":
                                               "area: {states: [NM, XX]}"}),
         ("land.yaml, line 3", "area.states", "XX")),
    Case("area", "state not in the states layer",
         _land(**{BBOX_LINE: "area: {states: [AZ]}", **STATES_LAYER}),
         ("states.geojson", "field 'abbrev'", "AZ")),
    Case("area", "states without a states layer",
         _land(**{"area: {bbox: [-106.8, 34.0, -106.2, 34.4]}": "area: {states: [NM]}"}),
         ("area.states", "line 3", "'states' layer")),
    Case("area", "bbox the wrong way round",
         _land(**{"[-106.8, 34.0, -106.2, 34.4]": "[-106.2, 34.0, -106.8, 34.4]"}),
         ("area.bbox", "line 3")),
    Case("area", "DEM that misses the study area",
         _with(_land(), lambda d: write_dem(d / "dem.tif") and _move_dem(d / "dem.tif")),
         ("dem.tif", "does not cover")),
    # --- config ----------------------------------------------------------------------------
    Case("config", "typo'd top-level key", _land(**{"criteria:": "critera:"}),
         ("config key 'critera'", "did you mean 'criteria'", "line 13")),
    Case("config", "typo'd key in a section", _land(**{"grid: {size_km: 2}": "grid: {sise_km: 2}"}),
         ("candidates.grid.sise_km", "line 12", "did you mean 'size_km'")),
    Case("config", "typo'd weight in a criterion", _land(**{"weight: 2": "wieght: 2"}),
         ("criteria.power_line.wieght", "did you mean 'weight'", "line 18")),
    Case("config", "wrong type", _land(**{"grid: {size_km: 2}": "grid: {size_km: big}"}),
         ("candidates.grid.size_km", "line 12", "valid number")),
    Case("config", "wrong type for a section",
         _land(**{"sites: {min_site_acres: 2000, min_spacing_km: 5, max_sites: 5}": "sites: many"}),
         ("config key 'sites'", "line ")),
    Case("config", "unknown metric", _land(**{"metric: distance_to": "metric: distance_from"}),
         ("criteria.power_line.metric", "distance_from", "line ")),
    Case("config", "unknown reader", _land(**{"reader: hifld_transmission_lines": "reader: hifld_lines"}),
         ("layers.transmission_lines.reader", "hifld_lines", "line 6")),
    Case("config", "weights all zero", _land(**{"weight: 2": "weight: 0", "weight: 1": "weight: 0"}),
         ("criteria", "weights", "line ")),
    Case("config", "negative weight", _land(**{"weight: 2": "weight: -2"}),
         ("criteria.power_line.weight", "line ")),
    Case("config", "constraints exclude every cell", _land(**{"{criterion: slope, max: 10}":
                                                             "{criterion: slope, max: 0}"}),
         ("land.yaml, line 27", "config key 'constraints'",
          "every cell is excluded by the constraints (Mean terrain slope > max 0 %: 102 cells)"),
         lead="require_some_left"),
    Case("config", "constraint on an unknown criterion", _land(**{"{criterion: slope, max: 10}":
                                                                 "{criterion: slop, max: 10}"}),
         ("constraints[0].criterion", "slop", "line ")),
    Case("config", "YAML syntax error", _config_bytes(b"study: land\nlayers: {a: [1, 2}\n"),
         ("land.yaml, line 2", "not valid YAML")),
    Case("config", "a key given twice", _land(**{"    weight: 2\n": "    weight: 2\n    weight: 3\n"}),
         ("land.yaml, line 19", "key 'weight' is given twice, on lines 18 and 19")),
    Case("config", "YAML tab indentation", _config_bytes(b"study: land\nlayers:\n\t a: 1\n"),
         ("land.yaml", "not valid YAML")),
    Case("config", "empty file", _config_bytes(b""), ("land.yaml", "config is empty")),
    Case("config", "only a comment", _config_bytes(b"# nothing yet\n"), ("land.yaml", "empty")),
    Case("config", "a YAML list instead of a mapping", _config_bytes(b"- study: land\n- layers: {}\n"),
         ("land.yaml", "mapping", "not a list")),
    Case("config", "a scalar instead of a mapping", _config_bytes(b"land\n"), ("land.yaml", "mapping")),
    Case("config", "not UTF-8", _config_bytes("study: café\n".encode("latin-1")),
         ("land.yaml", "UTF-8")),
    Case("config", "a mapping as a key", _config_bytes(b"? {a: 1}\n: 2\nstudy: land\n"),
         ("land.yaml",)),
    Case("config", "a Python tag", _config_bytes(b"study: !!python/object/apply:os.system [ls]\n"),
         ("land.yaml", "not valid YAML")),
    Case("config", "study name with a slash", _land(**{"study: land": "study: ../land"}),
         ("config key 'study'", "line 1")),
    Case("config", "missing config file", lambda d: d / "nope.yaml", ("nope.yaml", "not found")),
    Case("config", "unknown catalog dataset",
         _land(**{"{reader: hifld_transmission_lines, path: lines.geojson}": "{dataset: hifld_lines}"}),
         ("layers.transmission_lines.dataset", "unknown dataset 'hifld_lines'")),
    Case("config", "a layer with both path and dataset",
         _land(**{"{reader: hifld_transmission_lines, path: lines.geojson}":
                  "{reader: hifld_transmission_lines, path: lines.geojson, dataset: transmission_lines}"}),
         ("layers.transmission_lines", "line 6", "exactly one")),
    Case("config", "optional that is no yes/no",
         _land(**{"path: lines.geojson}": "path: lines.geojson, optional: maybe}"}),
         ("layers.transmission_lines.optional", "line 6")),
    Case("config", "DEM option z_units unknown",
         _land(**{"dem: {reader: dem, path: dem.tif}":
                  "dem: {reader: dem, path: dem.tif, options: {z_units: furlongs}}"}),
         ("land.yaml, line 7", "layers.dem.options.z_units", "furlongs"), lead="cfg.locate("),
    Case("config", "DEM option band out of range",
         _land(**{"dem: {reader: dem, path: dem.tif}":
                  "dem: {reader: dem, path: dem.tif, options: {band: 3}}"}),
         ("land.yaml, line 7", "layers.dem.options.band", "1..1"), lead="cfg.locate("),
    Case("config", "shortlist option radius_km negative",
         _small(**{"{reader: shortlist, path: sites.csv}":
                   "{reader: shortlist, path: sites.csv, options: {radius_km: -2}}"}),
         ("small.yaml, line 4", "layers.sites.options.radius_km", "positive"), lead="cfg.locate("),
    Case("config", "no land of the chosen agencies", _land(**{"agencies: [BLM]": "agencies: [DOE]"}),
         ("land.yaml, line 10", "candidates.agencies", "no eligible parcels", "BLM"), lead="cfg.locate("),
    Case("config", "every criterion's layer optional and missing",
         _small_land(**{"path: lines.geojson}": "path: gone.geojson, optional: true}"}),
         ("land.yaml, line 12", "config key 'criteria'", "left out"), lead="cfg.locate("),
    Case("config", "value function missing its numbers",
         _land(**{"{kind: linear, best: 0, worst: 50}": "{kind: linear, best: 0}"}),
         ("criteria.power_line.value", "line 17", "worst")),
    Case("config", "metric parameter of the wrong type",
         _land(**{**PLANTS,
                  "constraints:": PLANTS["constraints:"].replace("radius_km: 50", "radius_km: far")}),
         ("criteria.plants.radius_km", "valid number")),
    Case("config", "grid size zero", _land(**{"grid: {size_km: 2}": "grid: {size_km: 0}"}),
         ("candidates.grid.size_km", "line 12", "greater than 0")),
    Case("config", "where-filter that is code",
         _small(**{'where: "voltage_kv >= 345"': 'where: "__import__(\'os\')"'}),
         ("criteria.power_line.where", "small.yaml, line ")),
    Case("config", "preset that does not exist",
         _land(**{"study: land": "study: land\npreset: nosuchpreset"}),
         ("config key 'preset'", "preset not found")),
]


def _move_dem(path: Path) -> None:
    """Rewrite the DEM 5 degrees east of the study area."""
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path) as src:
        values, profile = src.read(1), src.profile
    profile["transform"] = from_origin(-101.0, 34.6, 0.005, 0.005)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)


def run_cli(folder: Path, cfg: Path, *extra: str):
    args = ["run", str(cfg), "--runs-dir", str(folder / "runs"), "--maps-dir", str(folder / "maps"),
            "--cache-dir", str(folder / "cache"), *extra]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result, caught


def _no_outputs(folder: Path) -> None:
    """No output folder, no temporary or old one; only the study's lock file may stay (runs hold
    it with flock, so it is left in place by design)."""
    for kind in ("runs", "maps"):
        base = folder / kind
        left = sorted(p.name for p in base.iterdir() if not p.name.endswith(".lock")) \
            if base.exists() else []
        assert left == [], f"{kind}/ holds {left}"
    assert not (folder / "cache").exists() or not any((folder / "cache").iterdir())


def _param(case: Case):
    return pytest.param(case, id=f"{case.kind}: {case.name}")


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_ends_in_one_line(case, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    cfg = case.make(tmp_path)
    result, caught = run_cli(tmp_path, cfg)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("sitescore: error: "), line
    for needle in case.needles:
        assert needle in line, (needle, line)
    assert "Traceback" not in result.output
    # nothing GDAL or a library printed to the real stderr, no warning a user would see
    assert capfd.readouterr().err == ""
    assert [str(w.message) for w in caught if not _harmless(w)] == []
    _no_outputs(tmp_path)
    print(f"{case.kind:<7} {case.name:<45} {line}")


def _harmless(w: warnings.WarningMessage) -> bool:
    return issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))


# --- damaged geometries and odd values: repaired, dropped or NaN, counted, and the run goes on --

def _bow_tie(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


PARCEL_Z = shapely.Polygon([(x, y, 1500.0) for x, y in
                            shapely.box(-106.6, 34.1, -106.4, 34.3).exterior.coords])


@dataclass(frozen=True)
class Survivable:
    kind: str
    name: str
    make: Callable[[Path], Path]
    layer: str                       # the manifest input whose counts are checked
    counts: dict                     # expected entries of that input record


SURVIVABLE = [
    Survivable("geometry", "bow-tie parcel", _padus_as("padus.geojson", lambda p: padus_frame(
        [shapely.box(-106.6, 34.1, -106.4, 34.3), _bow_tie(-106.7, 34.0, -106.6, 34.1)]).to_file(p)),
        "federal_land", {"repaired": 1, "dropped": 0, "features": 2}),
    # read over the study area, GDAL's box filter never hands over features without geometry
    Survivable("geometry", "empty and null parcels", _padus_as("padus.geojson", lambda p: padus_frame(
        [shapely.box(-106.6, 34.1, -106.4, 34.3), shapely.Polygon(), None]).to_file(p)),
        "federal_land", {"repaired": 0, "dropped": 0, "features": 1}),
    # a shortlist is read whole: there they are seen, dropped and counted
    Survivable("geometry", "empty and null shortlist sites", _with(
        _small(**{"path: sites.csv": "path: sites.geojson"}),
        lambda d: gpd.GeoDataFrame(
            {"id": ["A", "B", "C", "D"], "name": ["Alpha", "Beta", "Gamma", "Delta"]},
            geometry=[shapely.Point(-106.3, 35.0), shapely.box(-106.1, 35.1, -106.0, 35.2), None,
                      shapely.Polygon()], crs="EPSG:4326")
        .to_file(d / "sites.geojson")),
        "sites", {"repaired": 0, "dropped": 2, "features": 2}),
    Survivable("geometry", "points and lines in a polygon layer", _padus_as(
        "padus.geojson", lambda p: padus_frame(
            [shapely.box(-106.6, 34.1, -106.4, 34.3), shapely.Point(-106.5, 34.2),
             shapely.LineString([(-106.6, 34.1), (-106.5, 34.2)])]).to_file(p)),
        "federal_land", {"repaired": 0, "dropped": 2, "features": 1}),
    Survivable("geometry", "3D (z) parcels",
               _padus_as("padus.geojson", lambda p: padus_frame([PARCEL_Z]).to_file(p)),
        "federal_land", {"repaired": 0, "dropped": 0, "flattened_3d": 1, "features": 1}),
    Survivable("geometry", "mixed geometries in a GeoPackage", _padus_as(
        "padus.gpkg", lambda p: padus_frame(
            [shapely.box(-106.6, 34.1, -106.4, 34.3), shapely.Point(-106.5, 34.2),
             _bow_tie(-106.7, 34.0, -106.6, 34.1)]).to_file(p, driver="GPKG", layer="fee")),
        "federal_land", {"repaired": 1, "dropped": 1, "features": 2}),
    Survivable("value", "VOLTAGE text, -999999, negative and null", _lines_as(
        "lines.geojson", lambda p: gpd.GeoDataFrame(
            {"ID": ["1", "2", "3", "4", "5"], "VOLTAGE": ["abc", "-999999", "-5", None, "345"],
             "VOLT_CLASS": ["345"] * 5, "STATUS": ["IN SERVICE"] * 5, "OWNER": ["PNM"] * 5},
            geometry=[shapely.LineString([(-106.5 + i / 10, 33.5), (-106.5 + i / 10, 35.0)])
                      for i in range(5)],
            crs="EPSG:4326").to_file(p)),
        "transmission_lines", {"features": 5, "not_numbers": {"voltage_kv": 1}}),
    Survivable("value", "GPPD capacity negative, text, NaN and blank", _with(
        _land(**PLANTS), lambda d: gppd_table().pipe(
            lambda t: pd.concat([t] * 3, ignore_index=True)).assign(
                gppd_idnr=[f"USA00{i:05d}" for i in range(6)],
                capacity_mw=["-50", "abc", "NaN", "", "250", "1e999"]).to_csv(d / "gppd.csv", index=False)),
        "plants", {"features": 6, "not_numbers": {"capacity_mw": 3}}),
    Survivable("value", "shortlist row without coordinates", _shortlist_csv(
        lambda p: pd.concat([shortlist_table(), pd.DataFrame({"id": ["C"], "name": ["Gamma"], "lon": [""],
                                                             "lat": ["95"], "radius_km": [""]})])
        .to_csv(p, index=False)),
        "sites", {"dropped": 1, "features": 2}),
    Survivable("value", "OurAirports coordinates that are no numbers", _with(_land(**{
        "  dem: {reader: dem, path: dem.tif}\n":
        "  dem: {reader: dem, path: dem.tif}\n  airports: {reader: ourairports, path: airports.csv}\n",
        "constraints:": "  airport:\n    metric: distance_to\n    layer: airports\n"
                        "    value: {kind: linear, best: 0, worst: 100}\n    weight: 1\nconstraints:"}),
        lambda d: airports_table().assign(type="small_airport", latitude_deg=["34.0224", "north"])
        .to_csv(d / "airports.csv", index=False)),
        "airports", {"dropped": 1, "features": 1}),
    Survivable("value", "states layer with a blank state code", _with(
        _land(**{BBOX_LINE: "area: {states: [NM]}", **STATES_LAYER}),
        lambda d: pd.concat([states_frame(), states_frame().assign(STATEFP=[""], STUSPS=[""], NAME=[""])])
        .pipe(lambda g: gpd.GeoDataFrame(g, crs="EPSG:4326")).to_file(d / "states.geojson")),
        "states", {"features": 2}),
]


@pytest.mark.parametrize("case", SURVIVABLE, ids=[f"{c.kind}: {c.name}" for c in SURVIVABLE])
def test_damaged_geometries_and_odd_values_are_counted(case, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    cfg = case.make(tmp_path)
    result, _ = run_cli(tmp_path, cfg, "--no-map")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "sites ranked" in result.stdout and result.stderr == ""
    assert capfd.readouterr().err == ""
    study = "small" if cfg.name == "small.yaml" else "land"
    manifest = json.loads((tmp_path / "runs" / study / "manifest.json").read_text())
    record = next(r for r in manifest["inputs"] if r["layer"] == case.layer)
    for key, value in case.counts.items():
        assert record.get(key) == value, (key, record)
    print(f"{case.kind:<8} {case.name:<45} {json.dumps({k: record.get(k) for k in case.counts})}")


def test_odd_values_become_nan_not_numbers(tmp_path):
    """What the HIFLD and GPPD readers make of the odd values above."""
    from helpers import layer_source
    from sitescore.readers import read_layer

    lines = tmp_path / "lines.geojson"
    gpd.GeoDataFrame({"ID": ["1", "2", "3", "4", "5"], "VOLTAGE": ["abc", "-999999", "-5", None, "345"]},
                     geometry=[shapely.LineString([(0, 0), (1, i)]) for i in range(5)],
                     crs="EPSG:4326").to_file(lines)
    out = read_layer(layer_source("hifld_transmission_lines", lines))
    assert out["voltage_kv"].isna().tolist() == [True, True, True, True, False]
    assert out.attrs["not_numbers"] == {"voltage_kv": 1}  # only 'abc'; -999999 is HIFLD's 'unknown'
    plants = tmp_path / "gppd.csv"
    gppd_table().assign(capacity_mw=["-50", "inf"]).to_csv(plants, index=False)
    out = read_layer(layer_source("gppd", plants))
    assert out["capacity_mw"].isna().all()
    assert out.attrs["not_numbers"] == {"capacity_mw": 1}


def test_every_cell_excluded_names_the_rules():
    """The message pipeline._score raises (through ConstraintResult.require_some_left) when the
    constraints leave a grid run nothing to rank."""
    import numpy as np

    from sitescore.config import ConstraintConfig, CriterionConfig
    from sitescore.errors import ConfigError
    from sitescore.scoring import apply_constraints

    crit = CriterionConfig(metric="zonal", layer="dem", weight=1, label="Mean terrain slope", unit="%",
                           value={"kind": "linear", "best": 0, "worst": 10})
    raw = {"slope": np.array([2.0, 12.0, 30.0, 40.0])}
    cons = apply_constraints(raw, [ConstraintConfig(criterion="slope", max=10),
                                   ConstraintConfig(criterion="slope", min=5)], {"slope": crit}, 4)
    with pytest.raises(ConfigError) as err:
        cons.require_some_left("study.yaml, line 9")
    assert str(err.value) == ("study.yaml, line 9: config key 'constraints': every cell is excluded "
                              "by the constraints (Mean terrain slope > max 10 %: 3 cells; Mean "
                              "terrain slope < min 5 %: 1 cell); relax them")
    assert cons.reasons[0] == "Mean terrain slope 2 % < min 5 %"  # per-cell reasons unchanged
    apply_constraints(raw, [ConstraintConfig(criterion="slope", max=20)], {"slope": crit}, 4) \
        .require_some_left()  # one cell left: fine


#: Cases whose libraries (GDAL, PROJ, libtiff, sqlite) might also write to the real stderr,
#: run as a user runs them: the installed command in a fresh process.
IN_A_PROCESS = ["truncated zipped shapefile", "truncated GeoPackage", "GeoJSON with broken JSON",
                "shapefile without .prj", "DEM that is no raster", "truncated DEM",
                "PAD-US lon/lat numbers labelled UTM", "YAML syntax error"]


@pytest.mark.parametrize("name", IN_A_PROCESS)
def test_bad_input_in_a_real_process(name, tmp_path):
    import subprocess
    import sys

    case = next(c for c in CASES if c.name == name)
    cfg = case.make(tmp_path)
    exe = Path(sys.executable).parent / "sitescore"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITESCORE_")}
    proc = subprocess.run([str(exe), "run", str(cfg), "--runs-dir", "runs", "--maps-dir", "maps",
                           "--cache-dir", "cache"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("sitescore: error: "), proc.stderr
    for needle in case.needles:
        assert needle in lines[0]
    _no_outputs(tmp_path)
