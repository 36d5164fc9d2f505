"""Shortlists with an area, coordinates exact: a site's stated acres are what a land-size
criterion counts, and the lon/lat written for a point site is the point it was given."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from sitescore.candidates import shortlist_cells
from sitescore.cli import main
from sitescore.config import ConstraintConfig, CriterionConfig, load_config
from sitescore.locate import shortlist_sites
from sitescore.metrics import compute_metric
from sitescore.readers import read_layer
from sitescore.readers.base import LayerSource
from sitescore.scoring import apply_constraints
from test_bad_input import _no_outputs, run_cli

SQM_PER_ACRE = 4046.8564224
#: Given to five decimals (what the map keeps): Los Alamos, the New Mexico / Texas line at
#: 32 N (0.001 deg west of Texas), and a point just south of the Colorado line.
POINTS = [("A", "Alpha", "-106.30315", "35.84401", "0.5", "5000"),
          ("B", "Beta", "-103.06499", "32.00013", "0.5", ""),
          ("C", "Gamma", "-106.01234", "36.99871", "3", "500")]


def _shortlist_csv(path: Path, rows=POINTS) -> Path:
    pd.DataFrame(rows, columns=["id", "name", "lon", "lat", "radius_km", "acres"]).to_csv(path, index=False)
    return path


def _read(path: Path, **options) -> gpd.GeoDataFrame:
    return read_layer(LayerSource("sites", "shortlist", path, options=options), None)


def test_a_shortlist_with_acres(tmp_path):
    """A point site stating 5,000 acres on a 0.5 km circle (194 acres) scores and passes a
    `contiguous_acres >= 1000` constraint by its stated acres; one stating 500 acres on a 3 km
    circle (6,985 acres) fails it; one stating nothing counts its circle."""
    cells = shortlist_cells(_read(_shortlist_csv(tmp_path / "sites.csv")))
    circle = math.pi * 500.0 ** 2 / SQM_PER_ACRE
    assert cells["eligible_acres"].tolist() == pytest.approx([5000.0, circle, 500.0], rel=1e-3)
    assert cells["area_source"].tolist() == ["stated", "circle", "stated"]
    raw = compute_metric("contiguous_acres", cells, None, {})
    assert raw.tolist() == pytest.approx([5000.0, circle, 500.0], rel=1e-3)
    crit = CriterionConfig(metric="contiguous_acres", layer="sites", weight=1,
                           value={"kind": "linear", "best": 5000, "worst": 0})
    cons = apply_constraints({"room": raw}, [ConstraintConfig(criterion="room", min=1000)],
                             {"room": crit}, len(cells))
    assert cons.excluded.tolist() == [False, True, True]
    cells["score"] = raw / 5000
    cells["excluded"], cells["exclusion_reason"] = cons.excluded, cons.reasons
    sites, _ = shortlist_sites(cells, [])
    first = sites.iloc[0]
    assert (first["name"], first["acres"], first["area_source"]) == ("Alpha", 5000.0, "stated")
    assert not first["excluded"]


def test_coordinates_are_the_given_points_to_the_last_digit(tmp_path):
    cells = shortlist_cells(_read(_shortlist_csv(tmp_path / "sites.csv")))
    cells["score"], cells["excluded"], cells["exclusion_reason"] = 0.5, False, None
    sites, _ = shortlist_sites(cells, [])
    got = {r.name: (r.lon, r.lat) for r in sites.itertuples()}
    for _, name, lon, lat, *_ in POINTS:
        assert got[name] == (float(lon), float(lat)), name
    # the circle's representative point, which the tables showed before, is ~70 m off
    rep = gpd.GeoSeries([shapely.point_on_surface(cells.geometry.iloc[0])], crs=5070).to_crs(4326)
    assert abs(rep.x.iloc[0] - float(POINTS[0][2])) + abs(rep.y.iloc[0] - float(POINTS[0][3])) > 1e-4


def test_polygons_keep_a_point_inside_and_stated_acres_win(tmp_path):
    path = tmp_path / "sites.geojson"
    poly = shapely.box(-111.70, 33.28, -111.65, 33.32)
    gpd.GeoDataFrame({"id": ["P"], "acres": [9000.0]}, geometry=[poly], crs=4326).to_file(path)
    layer = _read(path)
    cells = shortlist_cells(layer)
    assert cells["eligible_acres"].iloc[0] == 9000.0 and cells["area_source"].iloc[0] == "stated"
    assert "'P'" in layer.attrs["notes"][0]  # the drawn polygon holds ~2,700 acres: a note
    cells["score"], cells["excluded"], cells["exclusion_reason"] = 0.5, False, None
    sites, _ = shortlist_sites(cells, [])
    assert poly.contains(shapely.Point(sites["lon"].iloc[0], sites["lat"].iloc[0]))


STUDY = textwrap.dedent("""\
    study: small
    data_dir: .
    layers:
      sites: {reader: shortlist, path: sites.csv}
      transmission_lines: {reader: hifld_transmission_lines, path: lines.geojson}
    candidates: {source: sites}
    criteria:
      power_line:
        metric: distance_to
        layer: transmission_lines
        value: {kind: linear, best: 0, worst: 500}
        weight: 1
      room:
        metric: contiguous_acres
        layer: sites
        value: {kind: linear, best: 5000, worst: 0}
        weight: 1
    constraints:
      - {criterion: room, min: 1000}
    """)


def _study(folder: Path, rows=POINTS) -> Path:
    _shortlist_csv(folder / "sites.csv", rows)
    gpd.GeoDataFrame({"ID": ["1"], "VOLTAGE": [345.0], "VOLT_CLASS": ["345"], "STATUS": ["IN SERVICE"],
                      "OWNER": ["PNM"]}, geometry=[shapely.LineString([(-106.5, 31), (-106.5, 37.5)])],
                     crs="EPSG:4326").to_file(folder / "lines.geojson")
    (folder / "small.yaml").write_text(STUDY)
    return folder / "small.yaml"


def test_a_run_writes_the_given_points_and_the_stated_acres(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _study(tmp_path)
    result, _ = run_cli(tmp_path, cfg)
    assert result.exit_code == 0, result.output
    # sites.csv: the coordinates as the planner typed them, the stated acres, the reasons
    text = pd.read_csv(tmp_path / "runs/small/sites.csv", dtype=str, keep_default_na=False)
    rows = text.set_index("name")
    for _, name, lon, lat, *_ in POINTS:
        assert (rows.loc[name, "lon"], rows.loc[name, "lat"]) == (lon, lat), name
    assert rows.loc["Alpha", "acres"] == "5000" and rows.loc["Alpha", "area_source"] == "stated"
    assert rows.loc["Alpha", "excluded"] == "False"
    assert rows.loc["Gamma", "exclusion_reason"] == "room 500 < min 1000"
    assert rows.loc["Beta", "area_source"] == "circle"
    # the GeoParquet and GeoPackage tables hold the same floats
    for sites in (gpd.read_parquet(tmp_path / "runs/small/sites.parquet"),
                  gpd.read_file(tmp_path / "runs/small/sitescore.gpkg", layer="sites")):
        by_name = sites.set_index("name")
        for _, name, lon, lat, *_ in POINTS:
            assert (by_name.loc[name, "lon"], by_name.loc[name, "lat"]) == (float(lon), float(lat))
    # the map's markers stand on the given points
    page = (tmp_path / "maps/small/index.html").read_text(encoding="utf-8")
    for _, _, lon, lat, *_ in POINTS:
        assert f"[{lat},{lon}]" in page, (lat, lon)
    # explain names the stated acres and the point
    explained = CliRunner().invoke(main, ["explain", str(cfg), "--runs-dir", str(tmp_path / "runs")],
                                   catch_exceptions=False)
    assert explained.exit_code == 0, explained.output
    assert "5,000 acres" in explained.output and "at -106.30315, 35.84401" in explained.output


def test_a_preset_on_a_shortlist_counts_the_stated_acres(tmp_path):
    """A preset's land-size criterion names the land layer it selects; on a shortlist study it
    measures the shortlist instead of being left out."""
    cfg = load_config(_study(tmp_path), preset="data_center")
    assert cfg.criteria["contiguous_land"].layer == "sites"
    assert any(c.criterion == "contiguous_land" and c.min == 1000 for c in cfg.constraints)
    assert not any("contiguous_land" in n for n in cfg.notes)


def test_polygon_area_mismatch_is_a_run_note(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _study(tmp_path)
    gpd.GeoDataFrame({"id": ["P"], "name": ["Drawn"], "site_acres": [9000.0]},
                     geometry=[shapely.box(-106.40, 35.00, -106.35, 35.04)], crs=4326).to_file(
        tmp_path / "sites.geojson")
    cfg.write_text(STUDY.replace("path: sites.csv", "path: sites.geojson"))
    result, _ = run_cli(tmp_path, cfg, "--no-map")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "runs/small/manifest.json").read_text())
    assert any("shortlist site 'P': its stated 9,000 acres are used" in n for n in manifest["notes"])


@pytest.mark.parametrize(("column", "value", "needles"), [
    ("acres", "-5", ("sites.csv", "field 'acres'", "positive number of acres (row 2)")),
    ("acres", "lots", ("sites.csv", "field 'acres'", "(row 2)")),
    ("area_ha", "0", ("sites.csv", "field 'area_ha'", "positive number of hectares (row 2)")),
])
def test_bad_acres_end_in_one_line_and_keep_the_last_run(tmp_path, monkeypatch, column, value, needles):
    monkeypatch.chdir(tmp_path)
    cfg = _study(tmp_path)
    assert run_cli(tmp_path, cfg)[0].exit_code == 0
    before = {p: p.read_bytes() for p in (tmp_path / "runs/small").iterdir()}
    bad = pd.read_csv(tmp_path / "sites.csv", dtype=str, keep_default_na=False)
    bad = bad.rename(columns={"acres": column})
    bad.loc[1, column] = value
    bad.to_csv(tmp_path / "sites.csv", index=False)
    result, _ = run_cli(tmp_path, cfg)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("sitescore: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in result.output
    assert {p: p.read_bytes() for p in (tmp_path / "runs/small").iterdir()} == before


def test_acres_and_hectares_together_end_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _study(tmp_path)
    table = pd.read_csv(tmp_path / "sites.csv", dtype=str, keep_default_na=False)
    table.assign(hectares="10").to_csv(tmp_path / "sites.csv", index=False)
    result, _ = run_cli(tmp_path, cfg)
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "states the area twice" in lines[0] and "sites.csv" in lines[0]
    _no_outputs(tmp_path)


def test_hectares_convert_exactly(tmp_path):
    rows = [("H", "Hectares", "-106.3", "35.0", "1", "")]
    path = _shortlist_csv(tmp_path / "sites.csv", rows)
    pd.read_csv(path, dtype=str, keep_default_na=False).rename(columns={"acres": "hectares"}).assign(
        hectares="404.68564224").to_csv(path, index=False)
    # 404.68564224 ha = 4,046,856.4224 m^2 = exactly 1,000 international acres
    assert _read(path)["acres"].iloc[0] == pytest.approx(1000.0, rel=1e-15)
    assert np.isclose(shortlist_cells(_read(path))["eligible_acres"].iloc[0], 1000.0, rtol=1e-15)
