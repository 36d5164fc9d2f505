"""`sitescore compare`: two runs matched by place, what was gained, lost and moved, and which
criteria drove each move. Hand-made run folders with known answers, then the demo end to end."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import yaml
from click.testing import CliRunner

from sitescore.cli import main
from sitescore.compare import compare_runs, format_report, match_sites, write_outputs
from sitescore.errors import DataError
from sitescore.schema import CRS

KM = 1000.0
X0, Y0 = -1_500_000.0, 1_500_000.0   # somewhere in Arizona, in EPSG:5070 metres


def box_km(x: float, y: float, w: float = 2.0, h: float = 2.0):
    """A w x h km box whose lower-left corner is (x, y) km from the origin above."""
    return shapely.box(X0 + x * KM, Y0 + y * KM, X0 + (x + w) * KM, Y0 + (y + h) * KM)


def make_run(folder: Path, sites: list[dict], weights: dict[str, float], *, study: str = "s",
             title: str | None = None, method: str = "direct") -> Path:
    """A run folder as `sitescore run` writes it: sites.parquet (EPSG:5070) and manifest.json.

    Each site dict: geometry, name, and contributions {criterion: contribution}; rank follows
    the list order, the score is the sum of the contributions."""
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(weights.values())
    rows = []
    for rank, s in enumerate(sites, start=1):
        row = {"rank": rank, "site_id": rank, "name": s["name"], "agency": "BLM",
               "unit_name": s["name"], "state": "AZ", "acres": s["geometry"].area / 4046.86,
               "n_cells": 4, "score": sum(s["contrib"].values())}
        for c, w in weights.items():
            contrib = s["contrib"][c]
            row[f"raw__{c}"] = contrib * 10
            row[f"value__{c}"] = contrib / (w / total) if w else 0.0
            row[f"weight__{c}"] = w / total
            row[f"contribution__{c}"] = contrib
        row["cell_ids"] = f"c{rank}a c{rank}b"
        rows.append(row)
    geoms = [s["geometry"] for s in sites]
    columns = ["rank", "site_id", "name", "agency", "unit_name", "state", "acres", "n_cells",
               "score", *(f"{k}__{c}" for c in weights
                          for k in ("raw", "value", "weight", "contribution")), "cell_ids"]
    gdf = gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry=geoms, crs=CRS)
    if len(gdf):
        ll = gdf.geometry.centroid.to_crs("EPSG:4326")
        gdf["lon"], gdf["lat"] = ll.x.round(5), ll.y.round(5)
    gdf.to_parquet(folder / "sites.parquet", index=False)
    manifest = {
        "sitescore": "0.1.0", "study": study, "title": title or f"Study {study}",
        "synthetic": False,
        "config": {"study": study, "criteria": {c: {"metric": "distance_to", "layer": "x",
                                                    "weight": w, "label": f"Label of {c}"}
                                                for c, w in weights.items()},
                   "weights": {"method": method}, "aggregation": "weighted_sum",
                   "area": {"bbox": [-113, 34, -112, 35]}},
        "counts": {"sites": len(sites)}, "notes": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


W_A = {"power_line": 0.5, "workforce": 0.25, "slope": 0.25}
W_B = {"power_line": 0.5, "workforce": 0.5, "slope": 0.25}


@pytest.fixture()
def pair(tmp_path):
    """Run A: North (1), Middle (2), West (3). Run B: Middle shifted 0.5 km (1), North (2),
    East (3, new). West is lost, East gained; Middle moved up 1, North down 1."""
    a = make_run(tmp_path / "a", [
        {"name": "North", "geometry": box_km(0, 10),
         "contrib": {"power_line": 0.40, "workforce": 0.20, "slope": 0.20}},
        {"name": "Middle", "geometry": box_km(0, 5),
         "contrib": {"power_line": 0.35, "workforce": 0.20, "slope": 0.20}},
        {"name": "West", "geometry": box_km(-10, 5),
         "contrib": {"power_line": 0.30, "workforce": 0.10, "slope": 0.20}},
    ], W_A, study="alpha")
    b = make_run(tmp_path / "b", [
        {"name": "Middle", "geometry": box_km(0.5, 5),
         "contrib": {"power_line": 0.32, "workforce": 0.33, "slope": 0.15}},
        {"name": "North", "geometry": box_km(0, 10),
         "contrib": {"power_line": 0.30, "workforce": 0.25, "slope": 0.15}},
        {"name": "East", "geometry": box_km(10, 5),
         "contrib": {"power_line": 0.30, "workforce": 0.30, "slope": 0.10}},
    ], W_B, study="beta")
    return a, b


def by_name(comp):
    return {c.name: c for c in comp.changes}


# --------------------------------------------------------------------------- matching

def test_gained_lost_and_moved_by_place(pair):
    comp = compare_runs(*pair)
    ch = by_name(comp)
    assert {n: c.status for n, c in ch.items()} == {
        "Middle": "moved", "North": "moved", "East": "gained", "West": "lost"}
    assert (ch["Middle"].rank_a, ch["Middle"].rank_b, ch["Middle"].rank_change) == (2, 1, 1)
    assert (ch["North"].rank_a, ch["North"].rank_b, ch["North"].rank_change) == (1, 2, -1)
    assert (ch["East"].rank_a, ch["East"].rank_b, ch["East"].rank_change) == (None, 3, None)
    assert (ch["West"].rank_a, ch["West"].rank_b) == (3, None)
    # shifted by a quarter of its width: shares 1.5 x 2 of 2.5 x 2 km
    assert ch["Middle"].overlap == pytest.approx(3 / 5)
    assert ch["North"].overlap == pytest.approx(1.0)
    # order: by rank in B, the lost at the end
    assert [c.name for c in comp.changes] == ["Middle", "North", "East", "West"]
    assert comp.counts() == {"moved": 2, "gained": 1, "lost": 1, "up": 1, "down": 1, "same": 0}


def test_drivers_are_contribution_changes_biggest_first(pair):
    ch = by_name(compare_runs(*pair))
    middle = ch["Middle"]
    assert [c for c, _ in middle.drivers] == ["workforce", "slope", "power_line"]
    assert dict(middle.drivers) == pytest.approx(
        {"workforce": 0.13, "slope": -0.05, "power_line": -0.03})
    assert middle.score_change == pytest.approx(sum(d for _, d in middle.drivers))
    assert middle.drivers_text() == "workforce +0.130, slope -0.050, power_line -0.030"
    north = ch["North"]
    assert north.drivers[0] == ("power_line", pytest.approx(-0.10))
    assert ch["East"].drivers == () and ch["East"].drivers_text() == ""


def test_weight_changes_and_criteria_in_one_run_only(tmp_path):
    a = make_run(tmp_path / "a", [
        {"name": "Site", "geometry": box_km(0, 0),
         "contrib": {"power_line": 0.4, "workforce": 0.2, "slope": 0.1}}], W_A)
    w_b = {"power_line": 0.5, "workforce": 0.5, "water": 0.25}
    b = make_run(tmp_path / "b", [
        {"name": "Site", "geometry": box_km(0, 0),
         "contrib": {"power_line": 0.3, "workforce": 0.3, "water": 0.15}}], w_b)
    comp = compare_runs(a, b)
    assert comp.criterion_names == ["power_line", "workforce", "slope", "water"]
    assert [c.name for c in comp.weight_changes] == ["workforce"]
    wf = {c.name: c for c in comp.criteria}["workforce"]
    assert (wf.configured_a, wf.configured_b) == (0.25, 0.5)
    assert (wf.share_a, wf.share_b) == (pytest.approx(0.25), pytest.approx(0.4))
    assert wf.label == "Label of workforce"
    assert comp.only_in_a == ["slope"] and comp.only_in_b == ["water"]
    # a criterion only one run scored counts 0 in the other
    d = dict(comp.changes[0].drivers)
    assert d == pytest.approx({"power_line": -0.1, "workforce": 0.1, "slope": -0.1,
                               "water": 0.15})
    text = "\n".join(format_report(comp))
    assert "weights changed: workforce 0.25 -> 0.5 (share 25.0% -> 40.0%)" in text
    assert "criteria only in A: slope" in text and "criteria only in B: water" in text


def test_weights_without_configured_values_compare_effective_shares(tmp_path):
    """AHP weights: the config's per-criterion weights are not what was used; weight__c is."""
    s = {"name": "Site", "geometry": box_km(0, 0),
         "contrib": {"power_line": 0.4, "workforce": 0.2, "slope": 0.1}}
    a = make_run(tmp_path / "a", [s], W_A, method="ahp")
    b = make_run(tmp_path / "b", [s], {"power_line": 0.5, "workforce": 0.25, "slope": 0.25},
                 method="ahp")
    comp = compare_runs(a, b)
    assert comp.weight_changes == []
    assert all(c.configured_a is None for c in comp.criteria)
    assert "weights: the same in both runs" in format_report(comp)
    c = make_run(tmp_path / "c", [s], W_B, method="ahp")
    assert [x.name for x in compare_runs(a, c).weight_changes] == ["power_line", "workforce",
                                                                   "slope"]


def test_matching_is_one_to_one_largest_share_first():
    big = box_km(0, 0, 4, 2)
    left = box_km(0, 0, 2.5, 2)     # shares 5/8 of the union with big
    right = box_km(2.5, 0, 1.5, 2)  # shares 3/8
    assert match_sites([big], [right, left]) == [(0, 1, pytest.approx(5 / 8))]
    assert match_sites([right, left], [big]) == [(1, 0, pytest.approx(5 / 8))]
    # two chains: the best pair is taken first, the rest match what is left
    a = [box_km(0, 0), box_km(1.8, 0)]
    b = [box_km(0.2, 0), box_km(2.6, 0)]
    assert [(i, j) for i, j, _ in match_sites(a, b)] == [(0, 0), (1, 1)]


def test_touching_outlines_do_not_match_and_ties_go_to_better_ranks():
    assert match_sites([box_km(0, 0)], [box_km(2, 0)]) == []
    # B's only site is the same shape as both A sites (identical A sites): rank 1 wins
    same = box_km(0, 0)
    assert match_sites([same, same], [same]) == [(0, 0, 1.0)]
    assert match_sites([same], [same, same]) == [(0, 0, 1.0)]
    assert match_sites([], [same]) == [] and match_sites([same], []) == []
    assert match_sites([None, shapely.Polygon()], [same]) == []


def test_top_keeps_sites_in_the_top_of_either_run(tmp_path):
    geoms = [box_km(5 * i, 0) for i in range(5)]
    contrib = {"power_line": 0.1, "workforce": 0.1, "slope": 0.1}
    a = make_run(tmp_path / "a", [{"name": f"S{i}", "geometry": g, "contrib": contrib}
                                  for i, g in enumerate(geoms)], W_A)
    order = [4, 0, 1, 2, 3]   # S4 jumps from 5 to 1
    b = make_run(tmp_path / "b", [{"name": f"S{i}", "geometry": geoms[i], "contrib": contrib}
                                  for i in order], W_A)
    comp = compare_runs(a, b, top=2)
    assert [(c.name, c.rank_a, c.rank_b) for c in comp.changes] == [
        ("S4", 5, 1), ("S0", 1, 2), ("S1", 2, 3)]
    assert all(c.status == "moved" for c in comp.changes)
    assert len(compare_runs(a, b).changes) == 5
    with pytest.raises(DataError, match="--top"):
        compare_runs(a, b, top=0)


def test_sites_in_another_crs_and_a_file_path_for_the_run(pair, tmp_path):
    a, b = pair
    sites = gpd.read_parquet(b / "sites.parquet").to_crs("EPSG:4326")
    sites.to_parquet(b / "sites.parquet", index=False)
    comp = compare_runs(a / "sites.parquet", b / "manifest.json")
    assert {c.name: c.status for c in comp.changes}["Middle"] == "moved"
    assert by_name(comp)["Middle"].overlap == pytest.approx(0.6, rel=1e-3)
    assert comp.run_a == a and comp.run_b == b


def test_a_run_written_without_parquet_is_read_from_its_geopackage(pair):
    a, b = pair
    gpd.read_parquet(a / "sites.parquet").to_file(a / "sitescore.gpkg", layer="sites",
                                                  driver="GPKG")
    (a / "sites.parquet").unlink()
    assert compare_runs(a, b).counts()["moved"] == 2


def test_empty_run_everything_gained(pair, tmp_path):
    _, b = pair
    empty = make_run(tmp_path / "empty", [], W_A)
    comp = compare_runs(empty, b)
    assert [c.status for c in comp.changes] == ["gained"] * 3
    csv_path, html_path = write_outputs(comp, tmp_path / "out")
    assert len(pd.read_csv(csv_path)) == 3 and html_path.exists()


# --------------------------------------------------------------------------- errors

def test_not_a_run_is_one_clear_error(pair, tmp_path):
    a, b = pair
    with pytest.raises(DataError, match=r"nowhere: run folder not found"):
        compare_runs(tmp_path / "nowhere", b)
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match=r"plain/manifest.json: not a sitescore run"):
        compare_runs(a, tmp_path / "plain")
    (tmp_path / "plain" / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match=r"manifest.json: not a sitescore run manifest: not valid"):
        compare_runs(a, tmp_path / "plain")
    (tmp_path / "plain" / "manifest.json").write_text('{"hello": 1}')
    with pytest.raises(DataError, match=r"no 'study'"):
        compare_runs(a, tmp_path / "plain")
    (tmp_path / "plain" / "manifest.json").write_text('{"study": "x"}')
    with pytest.raises(DataError, match=r"plain/sites.parquet: not a sitescore run: sites.parquet"):
        compare_runs(a, tmp_path / "plain")
    (tmp_path / "plain" / "sites.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"sites.parquet: not a readable GeoParquet"):
        compare_runs(a, tmp_path / "plain")
    gpd.read_parquet(b / "sites.parquet").drop(columns="rank").to_parquet(
        tmp_path / "plain" / "sites.parquet")
    with pytest.raises(DataError, match=r"sites.parquet: field 'rank': not a sitescore sites"):
        compare_runs(a, tmp_path / "plain")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(DataError, match="not a run folder"):
        compare_runs(f, b)


def test_cli_missing_folder_is_one_line_exit_2(pair, tmp_path):
    a, _ = pair
    r = CliRunner().invoke(main, ["compare", str(a), str(tmp_path / "missing")])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert lines[0].startswith("sitescore: error: ") and "missing: run folder not found" in lines[0]


# --------------------------------------------------------------------------- outputs

def test_csv_one_row_per_site_with_driver_columns(pair, tmp_path):
    comp = compare_runs(*pair)
    csv_path, _ = write_outputs(comp, tmp_path / "out")
    df = pd.read_csv(csv_path)
    assert list(df["status"]) == ["moved", "moved", "gained", "lost"]
    assert list(df["name"]) == ["Middle", "North", "East", "West"]
    assert {"rank_a", "rank_b", "rank_change", "score_a", "score_b", "score_change",
            "top_drivers", "delta__power_line", "delta__workforce", "delta__slope"} <= set(df)
    middle = df.iloc[0]
    assert (middle["rank_a"], middle["rank_b"], middle["rank_change"]) == (2, 1, 1)
    assert middle["delta__workforce"] == pytest.approx(0.13)
    assert middle["score_a"] == pytest.approx(0.75) and middle["score_b"] == pytest.approx(0.80)
    assert middle["top_drivers"].startswith("workforce +0.130")
    assert df.loc[df["status"] == "gained", "delta__workforce"].isna().all()
    assert pd.isna(df.iloc[3]["rank_b"]) and df.iloc[3]["rank_a"] == 3
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_map_outlines_both_runs_numbers_both_ranks_and_escapes_data(tmp_path):
    evil = "<script>alert('x')</script> `${boom}` \\ {{jinja}}"
    contrib = {"power_line": 0.3, "workforce": 0.2, "slope": 0.1}
    a = make_run(tmp_path / "a", [{"name": evil, "geometry": box_km(0, 0), "contrib": contrib},
                                  {"name": "Gone", "geometry": box_km(20, 0),
                                   "contrib": contrib}], W_A, title=f"A {evil}")
    b = make_run(tmp_path / "b", [{"name": "New", "geometry": box_km(-20, 0),
                                   "contrib": contrib},
                                  {"name": evil, "geometry": box_km(0.5, 0),
                                   "contrib": {**contrib, "workforce": 0.4}}], W_B)
    comp = compare_runs(a, b)
    _, html_path = write_outputs(comp, tmp_path / "out")
    page = html_path.read_text(encoding="utf-8")
    assert "<script>alert" not in page and "${boom}" not in page and "{{jinja}}" not in page
    assert "&lt;script&gt;alert" in page
    assert "1→2" in page and "new→1" in page and "2→out" in page    # both ranks on the marks
    from sitescore.compare import A_COLOR, B_COLOR
    assert A_COLOR in page and B_COLOR in page
    assert "cmp-gained" in page and "cmp-lost" in page and "cmp-down" in page
    assert 'data-criterion="workforce"' in page and "cmp-drivers" in page
    # deterministic, and written atomically (nothing left beside it)
    first = html_path.read_bytes()
    write_outputs(comp, tmp_path / "out")
    assert html_path.read_bytes() == first
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["compare.csv",
                                                                    "compare.html"]


def test_cli_writes_to_the_default_folder(pair, tmp_path, monkeypatch):
    a, b = pair
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["compare", str(a), str(b)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = tmp_path / "runs" / "compare-alpha-vs-beta"
    assert (out / "compare.csv").exists() and (out / "compare.html").exists()
    assert "2 -> 1" in r.output and "workforce +0.130" in r.output
    assert " new -> 3" in r.output and "   3 -> out" in r.output


# --------------------------------------------------------------------------- the demo

@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """The demo region run twice: as shipped, and with the workforce weight doubled."""
    from sitescore.config import load_config, parse_config
    from sitescore.demo import generate_demo
    from sitescore.pipeline import run

    root = tmp_path_factory.mktemp("demo-compare")
    config_path = generate_demo(root / "data")
    run(load_config(config_path), runs_dir=root / "runs_a", write_map=False)
    doc = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    doc["criteria"]["workforce"]["weight"] *= 2
    cfg = parse_config(doc, config_path)
    cfg.source_path = config_path.resolve()
    run(cfg, runs_dir=root / "runs_b", write_map=False)
    return root, root / "runs_a" / "demo", root / "runs_b" / "demo"


def test_demo_end_to_end_workforce_weight_doubled(demo_runs):
    root, a, b = demo_runs
    out = root / "cmp"
    r = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "weights changed: workforce 0.15 -> 0.3" in r.output
    df = pd.read_csv(out / "compare.csv")
    assert set(df["status"]) <= {"moved", "gained", "lost"}
    moved = df[df["status"] == "moved"]
    assert len(moved) >= 3
    # every site in both runs: counts add up
    n_a = len(gpd.read_parquet(a / "sites.parquet"))
    n_b = len(gpd.read_parquet(b / "sites.parquet"))
    assert len(moved) + (df["status"] == "lost").sum() == n_a
    assert len(moved) + (df["status"] == "gained").sum() == n_b
    # workforce drives the moves: among the named drivers of each, first for most of them
    assert moved["top_drivers"].str.contains("workforce").all()
    assert (moved["top_drivers"].str.startswith("workforce")).mean() > 0.5
    assert (moved["delta__workforce"] > 0).mean() > 0.5
    deltas = moved[[c for c in df.columns if c.startswith("delta__")]].sum(axis=1)
    assert deltas.to_numpy() == pytest.approx(moved["score_change"].to_numpy(), abs=1e-4)
    assert (out / "compare.html").stat().st_size > 1000
    assert "Synthetic demo data" in (out / "compare.html").read_text(encoding="utf-8")


def test_demo_compare_missing_folder_exit_2(demo_runs):
    root, a, _ = demo_runs
    r = CliRunner().invoke(main, ["compare", str(a), str(root / "runs_c" / "demo")])
    assert r.exit_code == 2
    assert len(r.output.strip().splitlines()) == 1
    assert "run folder not found" in r.output


def test_demo_same_run_twice_nothing_moves(demo_runs):
    _, a, _ = demo_runs
    comp = compare_runs(a, a)
    n = comp.counts()
    assert n["gained"] == n["lost"] == n["up"] == n["down"] == 0 and n["same"] == len(comp.sites_a)
    assert all(c.overlap == pytest.approx(1.0) and c.drivers_text() == "no change"
               for c in comp.changes)
    assert comp.weight_changes == []
