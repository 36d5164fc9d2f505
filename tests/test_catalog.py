"""The shipped catalog (src/sitescore/catalog.yaml): it loads, every dataset is read by a registered
reader of the right layer, every URL template fills in for each state and tile, and the model
rejects what it should."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import yaml

from sitescore.catalog import Source, load_catalog, parse_catalog
from sitescore.errors import ConfigError
from sitescore.readers import READERS
from sitescore.schema import LAYERS, STATE_FIPS

#: The 50 states and DC: every per-state source must work for each of them.
STATES_AND_DC = [s for s in STATE_FIPS if s not in {"AS", "GU", "MP", "PR", "VI"}]
#: Tiles across CONUS, Alaska and Hawaii (north-west corners).
TILES = [(36, 107), (49, 125), (25, 81), (71, 157), (20, 156), (9, 1)]
#: URLs allowed to be plain http, each with the reason. None today.
HTTP_EXCEPTIONS: dict[str, str] = {}
PLACEHOLDER = re.compile(r"[{}]")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def all_sources(catalog):
    return [(ds, s) for ds in catalog.datasets.values() for s in ds.sources]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping key given twice (safe_load keeps the last one)."""


def _no_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ValueError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def test_shipped_catalog_is_package_data():
    text = resources.files("sitescore").joinpath("catalog.yaml").read_text(encoding="utf-8")
    assert "datasets:" in text


def test_shipped_catalog_loads(catalog):
    assert len(catalog.datasets) >= 20
    for wanted in ["padus", "blm_sma", "transmission_lines", "substations", "eia860",
                   "eia_power_plants", "gppd", "tiger_primary_roads", "tiger_prisecroads",
                   "counties", "states", "fra_narn", "ourairports", "ourairports_runways", "nhd",
                   "natural_earth_rivers", "aqueduct", "acs", "bls_laus", "dem_3dep",
                   "us_freeways", "us_class1_rail"]:
        assert wanted in catalog.datasets, wanted


def test_dataset_ids_unique_and_match_their_keys(catalog):
    text = resources.files("sitescore").joinpath("catalog.yaml").read_text(encoding="utf-8")
    doc = yaml.load(text, Loader=_UniqueKeyLoader)  # raises on a repeated dataset id
    assert list(doc["datasets"]) == list(catalog.datasets)
    for key, ds in catalog.datasets.items():
        assert ds.id == key
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key), key


def test_every_reader_is_registered_and_feeds_the_dataset_layer(catalog):
    for ds in catalog.datasets.values():
        if ds.layer == "table":
            assert ds.reader is None, f"{ds.id}: a join table has no reader of its own"
            continue
        assert ds.layer in LAYERS, ds.id
        assert ds.reader in READERS, f"{ds.id}: reader {ds.reader!r} is not registered"
        assert READERS[ds.reader].layer == ds.layer, \
            f"{ds.id}: reader {ds.reader} makes {READERS[ds.reader].layer}, not {ds.layer}"


def test_every_dataset_has_licence_homepage_version_and_fields(catalog):
    for ds in catalog.datasets.values():
        assert ds.licence.strip(), ds.id
        assert ds.homepage.startswith("https://"), ds.id
        assert ds.version.strip() and ds.title.strip() and ds.provider.strip(), ds.id
        if LAYERS.get(ds.layer) is None or LAYERS[ds.layer].geometry != "raster":
            assert ds.fields, f"{ds.id}: name the provider fields the reader uses"


def test_every_dataset_can_be_had_somewhere(catalog):
    fetchable = {"national", "state", "tile", "service", "mirror"}
    for ds in catalog.datasets.values():
        assert any(s.role in fetchable for s in ds.sources), ds.id


def test_state_sources_fill_in_for_50_states_and_dc(catalog):
    found = 0
    for ds, src in all_sources(catalog):
        if not src.per_state:
            continue
        found += 1
        assert src.role == "state", f"{ds.id}: {src.url} has state placeholders"
        assert src.filename and "{state" in src.filename, \
            f"{ds.id}: a per-state file needs a per-state filename"
        urls, names = set(), set()
        for state in STATES_AND_DC:
            filled = src.for_state(state)
            assert not PLACEHOLDER.search(filled.url), (ds.id, state, filled.url)
            assert not PLACEHOLDER.search(filled.filename), (ds.id, state, filled.filename)
            assert " " not in filled.url, (ds.id, state, filled.url)
            urls.add(filled.url)
            names.add(filled.filename)
        assert len(urls) == len(names) == len(STATES_AND_DC), ds.id
    assert found >= 4   # padus, tiger_prisecroads, nhd, acs


def test_state_placeholders_fill_in_as_documented():
    src = Source(role="state", url="https://x.example/{state}/{state_lower}/{state_fips}/"
                                   "{state_name}.zip", filename="{state_name}.zip")
    filled = src.for_state("NM")
    assert filled.url == "https://x.example/NM/nm/35/New_Mexico.zip"
    assert src.for_state("dc").filename == "District_of_Columbia.zip"


def test_tile_sources_fill_in(catalog):
    found = 0
    for ds, src in all_sources(catalog):
        if not src.per_tile:
            continue
        found += 1
        assert src.role == "tile", ds.id
        assert src.filename and "{tile}" in src.filename, ds.id
        names = set()
        for north, west in TILES:
            filled = src.for_tile(north, west)
            tile = f"n{north:02d}w{west:03d}"
            assert tile in filled.url and tile in filled.filename, (ds.id, filled.url)
            assert not PLACEHOLDER.search(filled.url + filled.filename), (ds.id, filled.url)
            names.add(filled.filename)
        assert len(names) == len(TILES)
    assert found >= 1   # dem_3dep
    dem = catalog.get("dem_3dep").sources_for("tile")[0].for_tile(36, 107)
    assert dem.url.endswith("/Elevation/1/TIFF/current/n36w107/USGS_1_n36w107.tif")


def test_roles_match_placeholders(catalog):
    for ds, src in all_sources(catalog):
        if src.role == "state":
            assert src.per_state, f"{ds.id}: role state without a state placeholder: {src.url}"
        elif src.role == "tile":
            assert src.per_tile, f"{ds.id}: role tile without {{tile}}: {src.url}"
        else:
            assert not PLACEHOLDER.search(src.url), f"{ds.id}: unfilled placeholder in {src.url}"
            assert not src.filename or not PLACEHOLDER.search(src.filename), ds.id


def test_every_url_is_https(catalog):
    for ds, src in all_sources(catalog):
        if src.url in HTTP_EXCEPTIONS:
            continue
        assert src.url.startswith("https://"), f"{ds.id}: not https: {src.url}"
        assert not re.search(r"\s", src.url), f"{ds.id}: whitespace in {src.url!r}"


def test_kinds_fit_their_urls(catalog):
    for ds, src in all_sources(catalog):
        if src.kind == "arcgis":
            assert re.search(r"/(FeatureServer|MapServer)/\d+$", src.url), \
                f"{ds.id}: an ArcGIS source names one layer: {src.url}"
        elif src.kind == "census_api":
            assert src.url.startswith("https://api.census.gov/data/"), ds.id
            assert ds.layer == "table", ds.id


def test_filenames_unique_within_a_dataset(catalog):
    for ds in catalog.datasets.values():
        names = [s.filename for s in ds.sources if s.filename]
        assert len(names) == len(set(names)), f"{ds.id}: repeated filename in {names}"
        for name in names:
            assert "/" not in name and "\\" not in name and not name.startswith("."), name


def test_file_sources_that_download_have_a_filename(catalog):
    for ds, src in all_sources(catalog):
        if src.role in {"national", "state", "tile"}:
            assert src.filename, f"{ds.id}: {src.url} needs a filename to save under"


def test_checksums_and_sizes_are_well_formed(catalog):
    for ds, src in all_sources(catalog):
        if src.sha256 is not None:
            assert re.fullmatch(r"[0-9a-f]{64}", src.sha256), ds.id
            assert not src.per_state and not src.per_tile, \
                f"{ds.id}: one checksum cannot fit every state or tile"
        if src.size_bytes is not None:
            assert src.size_bytes > 0, ds.id
            assert not src.per_state and not src.per_tile, ds.id
            assert src.kind == "file", f"{ds.id}: a service export has no fixed size"


def test_model_rejects_a_bad_sha256():
    doc = {"datasets": {"x": {**_minimal(), "sources": [
        {"role": "national", "url": "https://x.example/a.zip", "sha256": "ABC"}]}}}
    with pytest.raises(ConfigError) as err:
        parse_catalog(doc)
    assert "sha256" in str(err.value)


def _minimal() -> dict:
    return {"title": "t", "provider": "p", "product": "p", "version": "1", "licence": "PD",
            "homepage": "https://x.example", "layer": "rivers", "reader": "natural_earth_rivers",
            "format": "zip", "sources": [{"role": "national", "url": "https://x.example/a.zip"}]}


def test_parse_catalog_accepts_a_minimal_dataset():
    cat = parse_catalog({"datasets": {"x": _minimal()}})
    assert cat.get("x").sources_for("national")[0].url == "https://x.example/a.zip"


def test_parse_catalog_rejects_an_unknown_dataset_key():
    with pytest.raises(ConfigError) as err:
        parse_catalog({"datasets": {"x": {**_minimal(), "licence_url": "https://x.example"}}},
                      origin="my_catalog.yaml")
    message = str(err.value)
    assert "licence_url" in message and "my_catalog.yaml" in message


def test_parse_catalog_rejects_an_unknown_source_key():
    bad = {**_minimal(), "sources": [{"role": "national", "url": "https://x.example/a.zip",
                                      "checksum": "abc"}]}
    with pytest.raises(ConfigError) as err:
        parse_catalog({"datasets": {"x": bad}})
    assert "checksum" in str(err.value)


def test_parse_catalog_rejects_unknown_layer_role_and_shape():
    with pytest.raises(ConfigError):
        parse_catalog({"datasets": {"x": {**_minimal(), "layer": "pipelines"}}})
    with pytest.raises(ConfigError):
        parse_catalog({"datasets": {"x": {**_minimal(), "sources": [
            {"role": "primary", "url": "https://x.example/a.zip"}]}}})
    with pytest.raises(ConfigError):
        parse_catalog({"datasets": {"x": {**_minimal(), "sources": []}}})
    with pytest.raises(ConfigError):
        parse_catalog({"sets": {}})


def test_unknown_dataset_is_a_config_error(catalog):
    with pytest.raises(ConfigError) as err:
        catalog.get("hifld_open_lines")
    assert "transmission_lines" in str(err.value)
