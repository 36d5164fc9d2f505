"""The static run report (report.html + PNG figures) on the synthetic demo."""

from __future__ import annotations

import html
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from PIL import Image

from sitescore.catalog import load_catalog
from sitescore.config import (
    CriterionConfig,
    SensitivityConfig,
    ValueFunction,
    load_config,
)
from sitescore.demo import generate_demo
from sitescore.pipeline import layer_sources, run
from sitescore.readers import read_layer
from sitescore.report import (
    OVERVIEW_DPI,
    OVERVIEW_PNG,
    OVERVIEW_SIZE_IN,
    SYNTHETIC_BANNER,
    constraint_rule,
    write_report,
)
from sitescore.sensitivity import site_matrix, sweep_charts, weight_sweeps
from sitescore.study_area import bbox_area

XSS = "<script>alert('x')</script>"
HEADINGS = ["Overview map", "Top 10 sites", "Site breakdowns", "Criteria and weights",
            "Aggregation method", "Exclusions", "Data sources and versions",
            "Left-out criteria and notes", "Run time"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One demo run (with a small sensitivity analysis) and everything write_report needs."""
    tmp = tmp_path_factory.mktemp("report_demo")
    cfg = load_config(generate_demo(tmp / "demo"))
    cfg = cfg.model_copy(update={"sensitivity": SensitivityConfig(draws=60, top_k=5, seed=3)})
    result = run(cfg, maps_dir=tmp / "maps", runs_dir=tmp / "runs", write_map=False)
    area = bbox_area(cfg.area.bbox)
    land = read_layer(layer_sources(cfg)["federal_land"], area)
    excluded = gpd.read_file(result.run_dir / "sitescore.gpkg", layer="excluded")
    assert any(c.startswith("p_top_") for c in result.sites.columns)
    plain_sites = result.sites.drop(columns=[c for c in result.sites.columns if c.startswith("p_top_")
                                             or c in ("median_rank", "rank_p05", "rank_p95")])
    kwargs = {"cfg": cfg, "criteria": cfg.criteria,
              "weights": result.manifest["weights"]["normalised"], "cells": result.cells,
              "sites": plain_sites, "excluded": excluded, "layers": {"federal_land": land},
              "area_geometry": area.geometry, "manifest": result.manifest}
    return {"tmp": tmp, "cfg": cfg, "result": result, "kwargs": kwargs, "sites": plain_sites}


@pytest.fixture(scope="module")
def report(demo):
    path = write_report(demo["tmp"] / "maps" / "demo" / "report.html", **demo["kwargs"])
    return path, path.read_text(encoding="utf-8")


def _section(page: str, anchor: str) -> str:
    m = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.DOTALL)
    assert m, f"no section {anchor}"
    return m.group(1)


def test_report_has_every_section_and_the_banner(report, demo):
    path, page = report
    assert path.name == "report.html" and path.parent.name == "demo"
    for heading in HEADINGS:
        assert f"<h2>{html.escape(heading)}</h2>" in page, heading
    assert f'role="alert">{html.escape(SYNTHETIC_BANNER)}</div>' in page
    assert html.escape(demo["cfg"].title) in page
    assert "bbox -113.0,34.6,-111.8,35.5" in page  # the study area's label
    assert "<h2>Sensitivity of the ranking</h2>" not in page  # no p_top_* columns given
    # self-contained: inline CSS, no scripts, nothing fetched from elsewhere
    assert "<style>" in page and "<script" not in page and "http://" not in page \
        and "https://" not in page
    assert not list(path.parent.glob(".*.tmp"))  # nothing half-written left behind


def test_top_ten_table_names_and_scores(report, demo):
    _, page = report
    table = re.search(r'<table class="top-sites">.*?<tbody>(.*?)</tbody>', page, re.DOTALL).group(1)
    rows = re.findall(r"<tr data-rank=\"(\d+)\">(.*?)</tr>", table, re.DOTALL)
    top = demo["sites"].sort_values("rank").head(10)
    assert len(rows) == 10 == len(top)
    for (rank, row), (_, site) in zip(rows, top.iterrows(), strict=True):
        assert int(rank) == int(site["rank"])
        assert f">{html.escape(site['name'])}</a>" in row
        assert f"{site['score']:.3f}</td>" in row
    # each top site has its breakdown with every criterion's contribution
    for _, site in top.iterrows():
        block = re.search(rf'<div class="site" id="site-{int(site["rank"])}">(.*?)</table>',
                          page, re.DOTALL).group(1)
        for name in demo["cfg"].criteria:
            assert f'data-criterion="{name}"' in block
            assert f"{site[f'contribution__{name}']:.3f}" in block
        assert f"<b>{site['score']:.3f}</b>" in block
    assert 'id="site-11"' not in page  # only the top 10


def test_value_function_chart_per_criterion(report, demo):
    path, page = report
    crit_section = _section(page, "criteria")
    for name, crit in demo["cfg"].criteria.items():
        png = path.parent / f"report_vf_{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC
        with Image.open(png) as im:
            im.verify()
        with Image.open(png) as im:
            assert im.size == (320, 200)
            assert len(np.unique(np.asarray(im.convert("L")))) > 5
        assert f'src="{png.name}"' in crit_section
        assert html.escape(crit.label) in crit_section
    assert "20%" in crit_section and "15%" in crit_section  # weights as percentages
    assert "Weighted sum" in _section(page, "aggregation")


def test_overview_png(report):
    path, page = report
    png = path.parent / OVERVIEW_PNG
    assert png.read_bytes()[:8] == PNG_MAGIC
    with Image.open(png) as im:
        assert im.size == (round(OVERVIEW_SIZE_IN[0] * OVERVIEW_DPI),
                           round(OVERVIEW_SIZE_IN[1] * OVERVIEW_DPI))
        pixels = np.asarray(im.convert("RGB"))
    packed = (pixels[..., 0].astype(np.int32) << 16) | (pixels[..., 1].astype(np.int32) << 8) \
        | pixels[..., 2]
    assert len(np.unique(packed)) > 50  # a map, not a blank canvas
    # the viridis scores are on it (the greens of the demo's good cells)
    assert ((pixels[..., 1] > 150) & (pixels[..., 0] < 150) & (pixels[..., 2] < 150)).sum() > 1000
    assert f'src="{OVERVIEW_PNG}"' in page


@pytest.mark.parametrize("cell_km", [None, 20.0])  # the demo's cells; cells narrower than a pixel
def test_overview_of_many_cells_is_an_image_with_the_same_colours(demo, tmp_path, monkeypatch, cell_km):
    """Past OVERVIEW_MAX_CELL_SHAPES the cells are drawn as one image: same frame, same colours."""
    import sitescore.report.figures as report_module

    def overview(folder):
        write_report(folder / "report.html", **kwargs)
        with Image.open(folder / OVERVIEW_PNG) as im:
            return np.asarray(im.convert("RGB")).astype(int)

    kwargs = dict(demo["kwargs"])
    if cell_km:  # the same cells drawn as specks: a national grid seen whole
        cells = kwargs["cells"].copy()
        centre = cells.geometry.centroid
        cells["geometry"] = centre.buffer(cell_km, cap_style="square")
        kwargs["cells"] = cells
    shapes = overview(tmp_path / "shapes")
    monkeypatch.setattr(report_module, "OVERVIEW_MAX_CELL_SHAPES", 10)
    image = overview(tmp_path / "image")
    assert shapes.shape == image.shape
    # viridis greens (the good cells) in both, in about the same number of pixels
    green = lambda px: ((px[..., 1] > 150) & (px[..., 0] < 150) & (px[..., 2] < 150)).sum()  # noqa: E731
    assert green(image) > 200
    assert 0.5 < green(image) / green(shapes) < 2.0
    # and where they are: the two pictures differ in few pixels
    assert (np.abs(shapes - image).sum(axis=2) > 60).mean() < 0.05


def test_exclusions_sources_and_timings(report, demo):
    _, page = report
    result = demo["result"]
    excl = _section(page, "exclusions")
    for rule in result.manifest["excluded_acres_by_rule"]:
        assert f"<td>{html.escape(rule)}</td>" in excl
    n_out = int(result.cells["excluded"].sum())
    assert n_out > 0
    assert re.search(rf"<td>Mean terrain slope &gt; max 10 %</td><td class=\"num\">{n_out}</td>", excl)
    sources = _section(page, "sources")
    for rec in result.manifest["inputs"]:
        assert rec["sha256"][:12] in sources
        assert html.escape(Path(rec["path"]).name) in sources
        assert f"<code>{rec['reader']}</code>" in sources
    assert ">38</td>" in sources  # federal_land features
    runtime = _section(page, "runtime")
    assert "read layers" in runtime and "Total" in runtime
    assert "No criterion was left out." in _section(page, "notes")


def test_deterministic_across_writes(report, demo, tmp_path):
    path, _page = report
    again = write_report(tmp_path / "demo" / "report.html", **demo["kwargs"])
    assert again.read_bytes() == path.read_bytes()
    for png in sorted(path.parent.glob("report_*.png")):
        assert (again.parent / png.name).read_bytes() == png.read_bytes(), png.name


def test_xss_sensitivity_ahp_catalog_and_left_out(demo, tmp_path):
    """One variant write: hostile strings, rank stability with sweep charts, AHP weights, a
    catalog dataset, a criterion left out, and a categorical value function."""
    kw = dict(demo["kwargs"])
    sites = demo["result"].sites.copy()  # with p_top_5, median_rank, rank_p05, rank_p95
    sites.loc[sites["rank"] == 1, "unit_name"] = XSS
    sites.loc[sites["rank"] == 2, "name"] = f"BLM – {XSS}"
    cells = kw["cells"].copy()
    cells["raw__land_class"] = np.where(np.arange(len(cells)) % 3 == 0, "flat", "rolling")
    criteria = {n: c for n, c in kw["criteria"].items() if n != "airport"}
    criteria["land_class"] = CriterionConfig(
        metric="attribute_at", layer="federal_land", label=f"Land class {XSS}",
        value=ValueFunction(kind="categorical", map={"flat": 1.0, "rolling": 0.6, "steep": 0.0}),
        weight=0.05)
    weights = {**{n: w for n, w in kw["weights"].items() if n != "airport"}, "land_class": 0.05}
    dataset = next(iter(load_catalog().datasets.values()))
    manifest = dict(kw["manifest"])
    manifest["inputs"] = [{**rec, "dataset": dataset.id} if rec["layer"] == "federal_land" else rec
                          for rec in manifest["inputs"]]
    manifest["notes"] = ["criterion 'airport' left out: layer 'airports' not found (optional)",
                         f"note with {XSS}"]
    manifest["weights"] = {**manifest["weights"], "method": "ahp",
                           "ahp": {"consistency_ratio": 0.0421, "lambda_max": 10.57}}
    manifest["sensitivity"] = {"draws": 60, "top_k": 5, "weights": "dirichlet", "spread": 0.2,
                               "seed": 3}
    # sweep charts: one set inside the report's folder (linked), one elsewhere (copied beside it)
    out = tmp_path / "maps" / "demo"
    sm = site_matrix(demo["result"].sites, demo["result"].cells, demo["cfg"].criteria)
    sweeps = weight_sweeps(sm, "weighted_sum", sweep_max=2.0, steps=5, top_n=3)
    inside = sweep_charts(sweeps[sweeps["criterion"] == "power_line"], sm.labels, out / "sensitivity")
    outside = sweep_charts(sweeps[sweeps["criterion"] == "workforce"], sm.labels, tmp_path / "elsewhere")
    kw.update(sites=sites, cells=cells, criteria=criteria, weights=weights, manifest=manifest)
    path = write_report(out / "report.html", sensitivity_charts=[*inside, *outside], **kw)
    page = path.read_text(encoding="utf-8")

    # escaped everywhere, never raw
    assert XSS not in page and "<script" not in page
    assert html.escape(XSS) in _section(page, "top-sites")
    assert html.escape(f"BLM – {XSS}") in _section(page, "breakdowns")
    assert html.escape(f"Land class {XSS}") in _section(page, "criteria")
    assert html.escape(f"note with {XSS}") in _section(page, "notes")

    # rank stability
    assert "<h2>Sensitivity of the ranking</h2>" in page
    sens = _section(page, "sensitivity")
    assert "P(top 5)" in sens and "Median rank" in sens and "90 % interval" in sens
    first = sites.sort_values("rank").iloc[0]
    row = re.search(r'<tr data-rank="1">(.*?)</tr>', sens, re.DOTALL).group(1)
    assert f"{100 * first['p_top_5']:.0f}%" in row
    assert f"{first['rank_p05']:.0f}–{first['rank_p95']:.0f}" in row
    assert 'src="sensitivity/sweep_power_line.png"' in sens
    assert 'src="report_sweep_sweep_workforce.png"' in sens
    assert (out / "report_sweep_sweep_workforce.png").read_bytes() == outside[0].read_bytes()

    # AHP, catalog provenance, left-out criterion, categorical chart
    agg = _section(page, "aggregation")
    assert "CR = 0.042" in agg and "acceptable" in agg
    sources = _section(page, "sources")
    assert html.escape(dataset.provider) in sources and html.escape(dataset.licence) in sources
    assert html.escape(dataset.version) in sources
    notes = _section(page, "notes")
    assert "<li><b>airport</b></li>" in notes and "left out" in notes
    assert not (out / "report_vf_airport.png").exists()
    with Image.open(out / "report_vf_land_class.png") as im:
        assert im.size == (320, 200)
    assert "categories: flat-&gt;1, rolling-&gt;0.6, steep-&gt;0 (others 0)" in page


def test_constraint_reasons_group_by_rule():
    labels = {"slope": "Mean terrain slope", "wf": "Workforce"}
    assert constraint_rule("Mean terrain slope 11.3 % > max 10 %", labels) == \
        "Mean terrain slope > max 10 %"
    assert constraint_rule("Workforce 1.2e+03 people < min 5000 people", labels) == \
        "Workforce < min 5000 people"
    assert constraint_rule("Mean terrain slope is 7", labels) == "Mean terrain slope is 7"
    assert constraint_rule("something else", labels) == "something else"


def test_aggregation_names_come_from_the_registry(monkeypatch):
    """The report names a method by its `mcda` label; one it has no formula for (a new one) is
    explained by its docstring, escaped, so adding a method needs nothing here."""
    from sitescore import mcda
    from sitescore.report.sections import aggregation_formula, aggregation_label

    assert [aggregation_label(m) for m in ("weighted_sum", "weighted_product", "topsis")] == \
        ["Weighted sum", "Weighted product", "TOPSIS"]
    monkeypatch.setattr(mcda, "AGGREGATION_METHODS", dict(mcda.AGGREGATION_METHODS))
    monkeypatch.setattr("sitescore.report.sections.AGGREGATION_METHODS", mcda.AGGREGATION_METHODS)

    @mcda.aggregation_method("weakest_link", "weakest <link>")
    def weakest_link(values, weights):
        """S_i = min_j v_ij: a site is as good as its worst criterion
        (one v < 0.1 sinks it; weights are ignored).

        More on the edges."""
        return np.min(values, axis=1)

    assert aggregation_label("weakest_link") == "Weakest <link>"  # the page escapes it
    assert aggregation_formula("weakest_link") == ("S_i = min_j v_ij: a site is as good as its "
                                                   "worst criterion (one v &lt; 0.1 sinks it; "
                                                   "weights are ignored).")
    assert aggregation_label("no_such") == "No_such" and aggregation_formula("no_such") == ""


def test_minimal_inputs_still_give_a_report(demo, tmp_path):
    """No sites, no study area, no excluded land, no layers and an empty manifest: the report
    still says what there is, and the overview frames the cells."""
    kw = dict(demo["kwargs"])
    cells = kw["cells"].head(40).copy()
    cells["raw__slope"] = np.nan  # no raw values: the chart falls back on the value function
    kw.update(cells=cells, sites=demo["sites"].iloc[:0], excluded=None, layers={},
              area_geometry=None, manifest={})
    path = write_report(tmp_path / "r" / "report.html", **kw)
    page = path.read_text(encoding="utf-8")
    assert "No site was found." in page
    assert "The manifest lists no inputs." in page and "No timings were recorded." in page
    for heading in ("Overview map", "Criteria and weights", "Exclusions", "Run time"):
        assert f"<h2>{heading}</h2>" in page
    assert (path.parent / OVERVIEW_PNG).read_bytes()[:8] == PNG_MAGIC
    assert (path.parent / "report_vf_slope.png").read_bytes()[:8] == PNG_MAGIC


def test_data_is_escaped_as_on_the_map(demo, tmp_path):
    """The report escapes with formatting.esc, as the map does: besides markup, template-literal
    and Jinja openers in data ($, {, `) come out as entities."""
    from sitescore.formatting import esc

    kw = dict(demo["kwargs"])
    sites = demo["sites"].copy()
    hostile = "${alert(1)} `x` {{ cfg }}"
    sites.loc[sites["rank"] == 1, "name"] = hostile
    kw.update(sites=sites)
    page = write_report(tmp_path / "r" / "report.html", **kw).read_text(encoding="utf-8")
    assert hostile not in page and "${" not in page and "{{" not in page
    assert f">{esc(hostile)}</a>" in _section(page, "top-sites")
    assert esc(hostile) in _section(page, "breakdowns")


def test_a_run_without_a_report_keeps_its_map(tmp_path):
    """write_report=False: the maps folder gets the map (and sweep charts), no report, and a
    report left there by an earlier run goes with the folder it was in."""
    cfg = load_config(generate_demo(tmp_path / "demo"))
    first = run(cfg, maps_dir=tmp_path / "maps", runs_dir=tmp_path / "runs")
    assert first.report_path == tmp_path / "maps" / "demo" / "report.html" and first.report_path.exists()
    again = run(cfg, maps_dir=tmp_path / "maps", runs_dir=tmp_path / "runs", write_report=False)
    assert again.report_path is None and again.map_path.exists()
    folder = tmp_path / "maps" / "demo"
    assert not (folder / "report.html").exists() and not list(folder.glob("report_*.png"))
    assert str(folder / "report.html") not in again.manifest["outputs"]
    assert str(folder / "report.html") in first.manifest["outputs"]
