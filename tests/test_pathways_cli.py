"""Land pathways through the CLI on the demo region: the pathway in the tables, the map, the
report and explain; a user's area layer; the limits; bad input as one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from shapely.geometry import box

from helpers import one_line_error
from sitescore.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def study(tmp_path, demo_config):
    """The demo's data copied to tmp_path with a config of its own to change."""
    data = tmp_path / "data"
    shutil.copytree(demo_config.parent, data)
    return data / demo_config.name


def edit(config: Path, change) -> Path:
    doc = yaml.safe_load(config.read_text())
    change(doc)
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    return config


def run_study(config: Path):
    """`sitescore run` with the run and map folders beside the config."""
    return invoke("run", config, "--runs-dir", config.parent / "runs", "--maps-dir",
                  config.parent / "maps")


def outputs(config: Path):
    runs = config.parent / "runs" / yaml.safe_load(config.read_text())["study"]
    return runs, pd.read_csv(runs / "sites.csv"), json.loads((runs / "manifest.json").read_text())


def _with_dod(doc):
    doc["candidates"]["agencies"] = ["BLM", "DOD"]
    doc["candidates"].setdefault("exclude", {})["designations"] = "default"


def test_every_site_says_how_its_land_could_be_had(study):
    result = run_study(edit(study, _with_dod))
    assert result.exit_code == 0, result.output
    _, sites, manifest = outputs(study)
    assert sites["pathway"].notna().all()
    assert {"pathway_label", "pathway_months_low", "pathway_months_high", "pathway_acres"} <= set(sites)
    record = manifest["land_pathways"]
    assert record["tables"] == ["sitescore/data/land_pathways.yaml"]
    assert set(record["candidate_acres_by_pathway"]) == {"sale", "enhanced_use_lease"}
    assert record["unknown_parcels"] == 0
    page = (study.parent / "maps" / manifest["study"] / "report.html").read_text()
    assert "Can the land be had?" in page
    assert "Land: " in (study.parent / "maps" / manifest["study"] / "index.html").read_text()
    explain = invoke("explain", study, "--site", "1", "--runs-dir", study.parent / "runs")
    assert explain.exit_code == 0 and "  land: " in explain.output


def test_a_criterion_on_the_months_and_a_limit_change_the_ranking(study):
    assert run_study(edit(study, _with_dod)).exit_code == 0
    _, plain, _ = outputs(study)
    military = plain.loc[plain["pathway"] == "enhanced_use_lease", "rank"]
    assert len(military), plain[["rank", "name", "pathway"]]

    def months(doc):
        doc["criteria"]["land_time"] = {
            "label": "Months to a right to build", "unit": "months", "metric": "land_pathway",
            "layer": "federal_land", "value": {"kind": "linear", "best": 6, "worst": 60},
            "params": {"measure": "months"}, "weight": 0.5}
    assert run_study(edit(study, months)).exit_code == 0
    _, timed, _ = outputs(study)
    assert timed["raw__land_time"].notna().all()
    # an enhanced-use lease is faster than a sale: the military land climbs
    assert timed.loc[timed["pathway"] == "enhanced_use_lease", "rank"].min() < military.min()

    def limit(doc):
        doc["criteria"].pop("land_time")
        doc["candidates"]["pathways"] = {"exclude_pathways": ["enhanced_use_lease"]}
    assert run_study(edit(study, limit)).exit_code == 0
    _, limited, manifest = outputs(study)
    assert "enhanced_use_lease" not in set(limited["pathway"])
    assert manifest["excluded_acres_by_rule"]["land pathway enhanced_use_lease excluded"] > 0


def test_a_users_area_layer_sets_the_pathway_of_its_land(study):
    assert run_study(study).exit_code == 0
    _, before, _ = outputs(study)
    top = before.iloc[0]
    lon, lat = float(top["lon"]), float(top["lat"])
    gpd.GeoDataFrame({"name": ["RMP disposal tract"], "pathway": ["sale"], "mode": ["override"],
                      "months_low": [10.0], "months_high": [20.0], "source": ["demo RMP"]},
                     geometry=[box(lon - 0.2, lat - 0.2, lon + 0.2, lat + 0.2)],
                     crs="EPSG:4326").to_file(study.parent / "disposal.geojson")

    def change(doc):
        doc["layers"]["disposal"] = {"reader": "pathway_areas", "path": "disposal.geojson"}
        doc["candidates"]["pathways"] = {"layers": ["disposal"]}
    assert run_study(edit(study, change)).exit_code == 0
    _, sites, manifest = outputs(study)
    first = sites.iloc[0]
    assert first["pathway"] == "sale" and first["pathway_months_low"] == 10.0
    assert manifest["land_pathways"]["area_layers_acres"]["disposal"] > 0


def test_an_area_without_an_instrument_is_one_line_naming_file_and_row(study):
    gpd.GeoDataFrame({"name": ["a", "b"], "pathway": ["sale", None]},
                     geometry=[box(-112.5, 35, -112.4, 35.1), box(-112.4, 35, -112.3, 35.1)],
                     crs="EPSG:4326").to_file(study.parent / "areas.geojson")

    def change(doc):
        doc["layers"]["areas"] = {"reader": "pathway_areas", "path": "areas.geojson"}
        doc["candidates"]["pathways"] = {"layers": ["areas"]}
    one_line_error(run_study(edit(study, change)), "areas.geojson", "row 2", "pathway")


def test_an_area_with_negative_months_is_one_line(study):
    gpd.GeoDataFrame({"pathway": ["sale"], "months_low": [-4.0], "months_high": [12.0]},
                     geometry=[box(-112.5, 35, -112.4, 35.1)],
                     crs="EPSG:4326").to_file(study.parent / "areas.geojson")

    def change(doc):
        doc["layers"]["areas"] = {"reader": "pathway_areas", "path": "areas.geojson"}
        doc["candidates"]["pathways"] = {"layers": ["areas"]}
    one_line_error(run_study(edit(study, change)), "areas.geojson", "row 1", "negative")


@pytest.mark.parametrize(("pathways", "needles"), [
    ({"exclude_pathways": ["barter"]}, ("candidates.pathways.exclude_pathways.0", "barter")),
    ({"max_months": -3}, ("candidates.pathways.max_months",)),
    ({"layers": ["nowhere"]}, ("candidates.pathways.layers.0", "nowhere")),
    ({"layers": ["federal_land"]}, ("candidates.pathways.layers.0", "pathway_areas")),
    ({"table": "missing.yaml"}, ("missing.yaml", "not found")),
])
def test_bad_pathway_settings_are_one_line(study, pathways, needles):
    def change(doc):
        doc["candidates"]["pathways"] = pathways
    one_line_error(invoke("config", "check", edit(study, change)), *needles)


def test_a_user_table_missing_a_column_names_file_and_row(study):
    (study.parent / "mine.yaml").write_text(
        "rules:\n  - id: district\n    match: {mang_name: [BLM]}\n    available: true\n"
        "    pathway: sale\n    instruments: [sale]\n    nepa: EA\n    source: my district\n")

    def change(doc):
        doc["candidates"]["pathways"] = {"table": "mine.yaml"}
    one_line_error(run_study(edit(study, change)), "mine.yaml", "rule 1 ('district')",
                   "months")


def test_a_code_the_table_does_not_know_is_counted_and_named_never_given_a_pathway(study):
    """A parcel with an unknown Des_Tp (as a newer PAD-US release might carry): no pathway, the
    manifest counts it, the notes name it, the run goes on."""
    gpkg = study.parent / "padus" / "PADUS4_0_Fee.gpkg"
    land = gpd.read_file(gpkg)
    land.loc[land["Unit_Nm"] == "Westgate Public Lands", "Des_Tp"] = "ZZQ"
    land.to_file(gpkg, driver="GPKG", layer="PADUS4_0Fee")
    result = run_study(study)
    assert result.exit_code == 0, result.output
    _, sites, manifest = outputs(study)
    record = manifest["land_pathways"]
    assert record["unknown"]["des_tp"] == {"ZZQ": 1} and record["unknown_parcels"] == 1
    assert "unknown" in record["candidate_acres_by_pathway"]
    assert any("ZZQ (1 parcel)" in n and "Des_Tp" in n for n in manifest["notes"])
    westgate = sites[sites["unit_name"] == "Westgate Public Lands"]
    assert len(westgate) and westgate["pathway"].isna().all()
    assert westgate["pathway_acres"].str.startswith("unknown").all()
