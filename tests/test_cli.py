"""The command line as a planner uses it: good runs, and bad input ending in one line + exit 2."""

import json
import textwrap

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from sitescore.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def small_study(tmp_path, **overrides):
    """A one-shortlist-site study with a HIFLD-schema line file, in tmp_path."""
    pd.DataFrame({"id": ["A", "B"], "name": ["Alpha", "Beta"], "lon": [-106.3, -106.0],
                  "lat": [35.0, 35.2]}).to_csv(tmp_path / "sites.csv", index=False)
    gpd.GeoDataFrame({"ID": ["1"], "VOLTAGE": [345.0], "VOLT_CLASS": ["345"], "STATUS": ["IN SERVICE"],
                      "OWNER": ["PNM"]},
                     geometry=[shapely.LineString([(-106.5, 34), (-106.5, 36)])],
                     crs="EPSG:4326").to_file(tmp_path / "lines.geojson")
    text = textwrap.dedent("""\
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
            where: "voltage_kv >= 345"
            value: {kind: linear, best: 0, worst: 50}
            weight: 1
        """)
    for old, new in overrides.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "small.yaml"
    path.write_text(text)
    return path


def test_run_prints_ranked_sites_and_writes_outputs(tmp_path):
    cfg = small_study(tmp_path)
    r = invoke("run", cfg, "--maps-dir", tmp_path / "maps", "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 0, r.output
    assert "2 sites ranked" in r.output and "Alpha" in r.output
    assert (tmp_path / "runs/small/sites.csv").exists()
    assert (tmp_path / "runs/small/sitescore.gpkg").exists()
    assert (tmp_path / "runs/small/sites.parquet").exists()
    assert (tmp_path / "maps/small/index.html").exists()
    manifest = json.loads((tmp_path / "runs/small/manifest.json").read_text())
    assert manifest["study"] == "small" and len(manifest["inputs"]) == 2
    # Alpha is 0.2 deg of longitude (about 18 km) from the line, Beta 0.5 deg
    sites = pd.read_csv(tmp_path / "runs/small/sites.csv")
    assert sites.loc[0, "name"] == "Alpha" and 17 < sites.loc[0, "raw__power_line"] < 19.5


def test_identical_runs_give_identical_tables(tmp_path):
    cfg = small_study(tmp_path)
    for out in ("a", "b"):
        assert invoke("run", cfg, "--no-map", "--runs-dir", tmp_path / out).exit_code == 0
    for name in ("sites.csv", "sites.parquet", "cells.parquet", "sitescore.gpkg"):
        assert (tmp_path / "a/small" / name).read_bytes() == (tmp_path / "b/small" / name).read_bytes()


def test_config_check_schema_and_layers(tmp_path):
    cfg = small_study(tmp_path)
    r = invoke("config", "check", cfg)
    assert r.exit_code == 0 and "valid" in r.output
    r = invoke("config", "schema")
    assert r.exit_code == 0 and json.loads(r.output)["title"] == "sitescore run config"
    r = invoke("layers", cfg)
    assert r.exit_code == 0
    assert "transmission_lines" in r.output and "1 features" in r.output and "EPSG:5070" in r.output


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    err = result.stderr if hasattr(result, "stderr") else result.output
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1, err
    assert lines[0].startswith("sitescore: error: ")
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_missing_config_file(tmp_path):
    one_line_error(invoke("run", tmp_path / "nope.yaml"), "nope.yaml", "config file not found")


def test_missing_layer_file(tmp_path):
    cfg = small_study(tmp_path, **{"path: lines.geojson": "path: gone.geojson"})
    one_line_error(invoke("run", cfg, "--runs-dir", tmp_path / "r"), "gone.geojson", "file not found")
    assert not (tmp_path / "r" / "small").exists()


def test_missing_field(tmp_path):
    cfg = small_study(tmp_path)
    lines = gpd.read_file(tmp_path / "lines.geojson").drop(columns="VOLTAGE")
    lines.to_file(tmp_path / "lines.geojson")
    one_line_error(invoke("run", cfg, "--runs-dir", tmp_path / "r"), "lines.geojson", "VOLTAGE")


def test_wrong_type_in_config(tmp_path):
    cfg = small_study(tmp_path, **{"weight: 1": "weight: lots"})
    one_line_error(invoke("run", cfg), "criteria.power_line.weight", "line ")


def test_unknown_metric(tmp_path):
    cfg = small_study(tmp_path, **{"metric: distance_to": "metric: distance_from"})
    one_line_error(invoke("run", cfg), "criteria.power_line.metric", "distance_from")


def test_unknown_reader(tmp_path):
    cfg = small_study(tmp_path, **{"reader: hifld_transmission_lines": "reader: hifld_lines"})
    one_line_error(invoke("run", cfg), "layers.transmission_lines.reader", "hifld_lines")


def test_file_without_crs(tmp_path):
    cfg = small_study(tmp_path, **{"path: lines.geojson": "path: lines.shp"})
    gpd.read_file(tmp_path / "lines.geojson").to_file(tmp_path / "lines.shp")
    (tmp_path / "lines.prj").unlink()
    one_line_error(invoke("run", cfg, "--runs-dir", tmp_path / "r"), "lines.shp", "CRS")


def test_filter_on_a_missing_column(tmp_path):
    cfg = small_study(tmp_path, **{'where: "voltage_kv >= 345"': 'where: "volts >= 345"'})
    one_line_error(invoke("run", cfg, "--runs-dir", tmp_path / "r"), "criteria.power_line.where", "volts")


def test_failed_run_keeps_previous_outputs(tmp_path):
    good = small_study(tmp_path)
    assert invoke("run", good, "--no-map", "--runs-dir", tmp_path / "r").exit_code == 0
    before = (tmp_path / "r/small/sites.csv").read_bytes()
    bad = small_study(tmp_path, **{"path: lines.geojson": "path: gone.geojson"})
    assert invoke("run", bad, "--no-map", "--runs-dir", tmp_path / "r").exit_code == 2
    assert (tmp_path / "r/small/sites.csv").read_bytes() == before
    assert [p.name for p in (tmp_path / "r").iterdir() if not p.name.endswith(".lock")] == ["small"]


def test_sitescore_demo_end_to_end(tmp_path):
    """`sitescore demo` as installed, in a fresh folder: synthetic data, ranked sites, a map."""
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "sitescore"
    proc = subprocess.run([str(exe), "demo"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "synthetic" in proc.stdout and "sites ranked" in proc.stdout
    assert " 1  0." in proc.stdout  # rank 1 with its score
    html = (tmp_path / "maps/demo/index.html").read_text()
    assert "Synthetic demo data" in html
    for toggle in ("Federal land (by managing agency)", "Transmission lines (by voltage)",
                   "Excluded land (with reason)", "Power plants (sized by MW)", "Counties (workforce)"):
        assert f'"{toggle}" : feature_group_' in html, toggle
    sites = pd.read_csv(tmp_path / "runs/demo/sites.csv")
    assert len(sites) >= 5 and (sites["agency"] == "BLM").all()
    assert (sites["data"] == "synthetic demo data - not real places").all()
    manifest = json.loads((tmp_path / "runs/demo/manifest.json").read_text())
    assert manifest["synthetic"] is True
    report = (tmp_path / "maps/demo/report.html").read_text()
    assert "Synthetic" in report and (tmp_path / "maps/demo/report_overview.png").exists()


def test_no_map_leaves_the_previous_map_alone(tmp_path):
    cfg = small_study(tmp_path)
    assert invoke("run", cfg, "--maps-dir", tmp_path / "m", "--runs-dir", tmp_path / "r").exit_code == 0
    before = (tmp_path / "m/small/index.html").read_bytes()
    no_map = invoke("run", cfg, "--no-map", "--maps-dir", tmp_path / "m", "--runs-dir", tmp_path / "r")
    assert no_map.exit_code == 0
    assert (tmp_path / "m/small/index.html").read_bytes() == before


def test_data_list_status_import_and_prepare(tmp_path):
    raw = tmp_path / "raw"
    r = invoke("data", "list", "--data-dir", raw)
    assert r.exit_code == 0
    assert "padus" in r.output and "USGS" in r.output and "transmission_lines" in r.output
    cfg = small_study(tmp_path)
    r = invoke("data", "import", "transmission_lines", tmp_path / "lines.geojson", "--data-dir", raw)
    assert r.exit_code == 0 and "checksummed" in r.output
    r = invoke("data", "status", "--data-dir", raw)
    assert r.exit_code == 0
    line = next(ln for ln in r.output.splitlines() if ln.startswith("transmission_lines"))
    assert "present" in line
    (raw / "transmission_lines" / "lines.geojson").write_text("{}")
    one_line_error(invoke("data", "status", "--data-dir", raw), "MANIFEST.json", "differ")
    one_line_error(invoke("data", "import", "transmision_lines", tmp_path / "lines.geojson",
                          "--data-dir", raw), "unknown dataset 'transmision_lines'")
    one_line_error(invoke("data", "import", "gppd", tmp_path / "nope.csv", "--data-dir", raw),
                   "nope.csv", "file not found")
    r = invoke("data", "prepare", cfg, "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 0 and "transmission_lines" in r.output
    assert len(list((tmp_path / "cache").glob("*.parquet"))) == 2


def test_a_layer_named_by_dataset_reads_the_imported_file(tmp_path):
    by_path = "transmission_lines: {reader: hifld_transmission_lines, path: lines.geojson}"
    cfg = small_study(tmp_path, **{by_path: "transmission_lines: {dataset: transmission_lines}"})
    one_line_error(invoke("run", cfg, "--runs-dir", tmp_path / "r"),
                   "dataset 'transmission_lines' is not in the data folder", "sitescore data import")
    assert invoke("data", "import", "transmission_lines", tmp_path / "lines.geojson",
                  "--data-dir", tmp_path).exit_code == 0
    r = invoke("run", cfg, "--no-map", "--runs-dir", tmp_path / "r")
    assert r.exit_code == 0, r.output
    assert "Alpha" in r.output


def test_fetch_refuses_bad_arguments_in_one_line(tmp_path):
    one_line_error(invoke("fetch", "--states", "XX", "--dry-run"), "--states", "XX")
    one_line_error(invoke("fetch", "--only", "padus,nope", "--dry-run"), "unknown dataset 'nope'")


def _demo_config(tmp_path):
    from sitescore.demo import generate_demo
    return generate_demo(tmp_path / "demo")


def test_sensitivity_command_on_the_demo(tmp_path):
    cfg = _demo_config(tmp_path)
    args = ["sensitivity", cfg, "--draws", "200", "--seed", "3", "--maps-dir", tmp_path / "m",
            "--runs-dir", tmp_path / "r"]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert "200 draws (dirichlet, spread 0.2; seed 3)" in r.output and "p_top_10" in r.output
    table = pd.read_csv(tmp_path / "r/demo/sensitivity.csv")
    assert table["p_top_10"].between(0, 1).all()
    assert (table["rank_p05"] <= table["median_rank"]).all()
    assert (table["median_rank"] <= table["rank_p95"]).all()
    sites = pd.read_csv(tmp_path / "r/demo/sites.csv")
    assert {"p_top_10", "median_rank", "rank_p05", "rank_p95"} <= set(sites.columns)
    assert (tmp_path / "m/demo/sensitivity/index.html").exists()
    assert len(list((tmp_path / "m/demo/sensitivity").glob("sweep_*.png"))) >= 5
    html = (tmp_path / "m/demo/index.html").read_text()
    assert "Rank stability" in html
    # the same seed gives the same numbers
    before = (tmp_path / "r/demo/sensitivity.csv").read_bytes()
    assert invoke(*args).exit_code == 0
    assert (tmp_path / "r/demo/sensitivity.csv").read_bytes() == before
    one_line_error(invoke("sensitivity", cfg, "--draws", "1", "--runs-dir", tmp_path / "r"), "--draws")


def test_explain_a_site_of_the_demo(tmp_path):
    cfg = _demo_config(tmp_path)
    assert invoke("run", cfg, "--no-map", "--runs-dir", tmp_path / "r").exit_code == 0
    r = invoke("explain", cfg, "--site", "2", "--top-k", "3", "--runs-dir", tmp_path / "r")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Site 2 of ")
    assert "Distance to a 345 kV+ transmission line" in r.output and "█" in r.output
    assert "Smallest single-weight changes that move it out of the top 3" in r.output
    assert "cells excluded: Mean terrain slope > max 10 %" in r.output
    assert "acres of land excluded: GAP status 1" in r.output
    one_line_error(invoke("explain", cfg, "--site", "99", "--runs-dir", tmp_path / "r"), "no site 99")
    one_line_error(invoke("explain", cfg, "--runs-dir", tmp_path / "nothing"), "sitescore run")


def test_aggregation_methods_rank_the_demo(tmp_path):
    import yaml

    from sitescore.config import parse_config
    from sitescore.pipeline import run
    path = _demo_config(tmp_path)
    results = {}
    for method in ("weighted_sum", "weighted_product", "topsis"):
        doc = yaml.safe_load(path.read_text())
        doc["aggregation"] = method
        cfg = parse_config(doc, path)
        cfg.source_path = path
        results[method] = run(cfg, runs_dir=tmp_path / method, write_map=False).sites
        assert results[method]["score"].between(0, 1).all()
        assert results[method]["score"].is_monotonic_decreasing
    assert len(results["topsis"]) >= 5 and len(results["weighted_product"]) >= 5


def test_verify_detects_changed_inputs(tmp_path):
    cfg = small_study(tmp_path)
    one_line_error(invoke("run", cfg, "--verify", "--runs-dir", tmp_path / "r"), "has not been run")
    assert invoke("run", cfg, "--no-map", "--runs-dir", tmp_path / "r").exit_code == 0
    r = invoke("run", cfg, "--verify", "--runs-dir", tmp_path / "r")
    assert r.exit_code == 0 and "all 2 input files match" in r.output
    with open(tmp_path / "sites.csv", "a") as fh:
        fh.write("C,Gamma,-106.1,35.1\n")
    r = invoke("run", cfg, "--verify", "--runs-dir", tmp_path / "r")
    assert r.exit_code == 2
    assert "sites.csv: changed (sha256" in r.stdout
    assert "1 input file(s) differ" in r.stderr


def test_a_second_run_of_the_same_study_is_refused_while_one_holds_it(tmp_path):
    import fcntl
    cfg = small_study(tmp_path)
    (tmp_path / "r").mkdir()
    with open(tmp_path / "r" / ".small.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("pid 12345")
        fh.flush()
        one_line_error(invoke("run", cfg, "--no-map", "--runs-dir", tmp_path / "r"),
                       "another run of this study is in progress (pid 12345)")
    assert invoke("run", cfg, "--no-map", "--runs-dir", tmp_path / "r").exit_code == 0


@pytest.mark.parametrize("kill_after_s", [0.4, 0.9, 1.4, 1.9, 2.4])
def test_a_run_killed_at_any_stage_leaves_the_previous_outputs_intact(tmp_path, kill_after_s):
    """SIGKILL (no clean-up possible) at different moments of a demo run: the previous run's
    outputs stay as they were, and the next run restarts cleanly, removing the dead run's temp
    folders."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from sitescore.demo import generate_demo

    cfg = generate_demo(tmp_path / "demo")
    exe = str(Path(sys.executable).parent / "sitescore")
    args = [exe, "run", str(cfg), "--runs-dir", str(tmp_path / "r"), "--maps-dir", str(tmp_path / "m")]
    assert subprocess.run(args, capture_output=True, timeout=300).returncode == 0
    before = {p: p.read_bytes() for p in (tmp_path / "r/demo").iterdir()}
    map_before = (tmp_path / "m/demo/index.html").read_bytes()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(kill_after_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    after = {p: p.read_bytes() for p in (tmp_path / "r/demo").iterdir()}
    if after != before:  # the kill came after the new run was renamed into place: it is whole
        assert set(after) == set(before)
        assert json.loads((tmp_path / "r/demo/manifest.json").read_text())["counts"]["sites"] > 0
    else:
        assert (tmp_path / "m/demo/index.html").read_bytes() == map_before
    assert subprocess.run(args, capture_output=True, timeout=300).returncode == 0
    leftovers = [p.name for p in (tmp_path / "r").iterdir()] + [p.name for p in (tmp_path / "m").iterdir()]
    assert sorted(n for n in leftovers if not n.endswith(".lock")) == ["demo", "demo"], leftovers


def test_outputs_moved_aside_by_a_killed_swap_are_put_back(tmp_path):
    """A run killed between moving the old folder aside and moving the new one in: the next
    run of the study restores the previous outputs before anything else."""
    from sitescore.folders import study_lock
    final = tmp_path / "r" / "small"
    final.mkdir(parents=True)
    (final / "sites.csv").write_text("old")
    aside = tmp_path / "r" / ".small.old-4242"
    final.rename(aside)
    (tmp_path / "r" / ".small.tmp-dead").mkdir()
    with study_lock(final):
        assert (final / "sites.csv").read_text() == "old"
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [".small.lock", "small"]


def test_no_map_and_no_report_say_what_they_skip(tmp_path):
    """--no-map writes tables only and says the map and report were not written; --no-report
    writes the map without the report; --help says what each one skips."""
    help_text = " ".join(invoke("run", "--help").output.split())
    assert "--no-map Write the tables and manifest only: no web map and no report" in help_text
    assert "--no-report Write the web map but not the printable report" in help_text
    cfg = small_study(tmp_path)
    where = ("--maps-dir", tmp_path / "m", "--runs-dir", tmp_path / "r")
    full = invoke("run", cfg, *where)
    assert full.exit_code == 0, full.output
    assert f"report: {tmp_path / 'm/small/report.html'}" in full.output
    no_report = invoke("run", cfg, "--no-report", *where)
    assert no_report.exit_code == 0, no_report.output
    assert "report: not written (--no-report)" in no_report.output
    assert (tmp_path / "m/small/index.html").exists() and not (tmp_path / "m/small/report.html").exists()
    manifest = json.loads((tmp_path / "r/small/manifest.json").read_text())
    assert str(tmp_path / "m/small/index.html") in manifest["outputs"]
    assert not any(o.endswith("report.html") for o in manifest["outputs"])
    before = (tmp_path / "m/small/index.html").read_bytes()
    no_map = invoke("run", cfg, "--no-map", *where)
    assert no_map.exit_code == 0, no_map.output
    assert "map and report: not written (--no-map); the maps folder is as it was" in no_map.output
    assert "map:    " not in no_map.output
    assert (tmp_path / "m/small/index.html").read_bytes() == before


def test_a_full_disk_while_writing_the_report_keeps_the_previous_outputs(tmp_path, monkeypatch):
    """The report is written inside the run's swap: a failure there (a full disk) is one line
    naming the report where it was going, exit 2, and the tables, map and report of the
    previous run stay as they were, with nothing left half-written beside them."""
    import errno

    import sitescore.report.page as page

    def dir_snapshot(folder):  # every entry, lock files aside, with its bytes
        return {str(q.relative_to(folder)): q.read_bytes() if q.is_file() else None
                for q in sorted(folder.rglob("*")) if not q.name.endswith(".lock")}

    cfg = small_study(tmp_path)
    where = ("--maps-dir", tmp_path / "m", "--runs-dir", tmp_path / "r")
    assert invoke("run", cfg, *where).exit_code == 0
    before = dir_snapshot(tmp_path / "m"), dir_snapshot(tmp_path / "r")

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(page, "write_atomic", full)
    r = CliRunner().invoke(main, ["run", str(cfg), *map(str, where)])
    assert r.exit_code == 2, r.output
    lines = r.stderr.splitlines()
    assert lines == [f"sitescore: error: {tmp_path / 'm/small/report.html'}: cannot write the "
                     "outputs: No space left on device"], r.stderr
    assert (dir_snapshot(tmp_path / "m"), dir_snapshot(tmp_path / "r")) == before
