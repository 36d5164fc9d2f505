"""Fuzzing the two doors user input comes through: the config loader and the readers.

Whatever the bytes, `load_config` returns a Config or raises SitescoreError, and `read_layer`
returns a GeoDataFrame / Raster or raises SitescoreError: never another exception (which the CLI
would show as a traceback). Bounded: about 100 examples a test, well under a minute in all.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import textwrap
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badinput_support import (
    BBOX,
    LAND_CONFIG,
    airports_table,
    gppd_table,
    lines_frame,
    padus_frame,
    shortlist_table,
    write_dem,
    write_zipped_shapefile,
)
from sitescore.config import Config, load_config, parse_config
from sitescore.errors import SitescoreError
from sitescore.readers import read_layer
from sitescore.readers.base import LayerSource
from sitescore.readers.terrain import Raster
from sitescore.study_area import bbox_area

#: Examples per test; SITESCORE_FUZZ_EXAMPLES=5000 for a longer hunt.
EXAMPLES = int(os.environ.get("SITESCORE_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# --- the config loader -----------------------------------------------------------------------

#: A valid config using most sections: the grid study plus AHP-free extras.
VALID = yaml.safe_load(textwrap.dedent(LAND_CONFIG))
VALID["title"] = "Fuzz"
VALID["sensitivity"] = {"draws": 100, "seed": 1}
VALID["outputs"] = {"formats": ["csv"], "map_layers": False}
VALID["constraints"].append({"criterion": "power_line", "exclude_values": ["x"]})

#: Pieces of YAML, good and bad, that random text is stitched from.
YAML_TOKENS = ["study:", " land", "\n", "  ", "\t", "layers:", "criteria:", "- ", "{", "}", "[", "]",
               ",", ":", "? ", "&a ", "*a", "!!python/object:os.system", "!!binary ", "!!float ",
               "'", '"', "#", "---", "...", "|", ">", "%YAML 1.1", "~", "null", "true", "1e999",
               "-0", "0x1F", "<<: ", "weight: ", "metric: distance_to", "reader: padus", "\\u0000",
               "\x00", "\u2028", "é", "\ufeff", "preset: ", "..", "/", "value: {kind: linear}"]

yaml_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join),
)

#: Keys the config knows somewhere, inserted with random values where they may not belong.
KNOWN_KEYS = ["preset", "study", "layers", "criteria", "reader", "path", "dataset", "postgis",
              "layer", "options", "optional", "relative_to", "weights", "method", "pairwise",
              "aggregation", "sensitivity", "constraints", "min", "max", "exclude_values",
              "metric", "field", "radius_km", "where", "value", "kind", "points", "map",
              "area", "states", "bbox", "grid", "size_km", "agencies", "source", "outputs",
              "formats", "data_dir", "tables", "band", "z_units", "capacity_table"]

#: Scalars and small structures a mutation puts in place of a value.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) |
    st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20) |
    st.sampled_from(["padus", "distance_to", "BLM", "linear", "..", ".", "/", "", "nan", "-1"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(node, prefix=()):
    """Every key / index path inside a parsed config."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


#: A real scenario preset, to mutate as a preset file.
PRESET = yaml.safe_load((Path(__file__).resolve().parents[1] / "src" / "sitescore" / "presets" /
                         "data_center.yaml").read_text())


@st.composite
def mutated_configs(draw, base=VALID):
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["delete", "replace", "insert", "wrap"]))
        last = path[-1]
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(json_values)
        elif action == "wrap":  # a right value at the wrong depth
            parent[last] = draw(st.sampled_from([[parent[last]], {"x": parent[last]}]))
        elif isinstance(parent[last], dict):
            key = draw(st.text(max_size=10) | st.sampled_from(KNOWN_KEYS))
            parent[last][key] = draw(json_values)
        else:
            parent[last] = draw(json_values)
    return doc


def _loads_or_refuses(path: Path) -> None:
    try:
        cfg = load_config(path)
    except SitescoreError as exc:
        assert str(exc).strip(), "an error needs a message"
        assert "\n" not in str(exc), "the CLI prints one line"
    else:
        assert isinstance(cfg, Config)


@FUZZ
@given(text=yaml_text)
def test_config_text_loads_or_is_refused(text, tmp_path):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    _loads_or_refuses(path)


@FUZZ
@given(data=st.binary(max_size=200))
def test_config_bytes_load_or_are_refused(data, tmp_path):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    _loads_or_refuses(path)


@FUZZ
@given(doc=mutated_configs())
def test_mutated_config_loads_or_is_refused(doc, tmp_path):
    path = tmp_path / "fuzz.yaml"
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:  # e.g. a key YAML cannot write: nothing to load
        return
    path.write_text(text, encoding="utf-8")
    _loads_or_refuses(path)
    # and the already-parsed form, as presets and tests pass it
    with contextlib.suppress(SitescoreError):
        parse_config(doc, "fuzz.yaml")


@FUZZ
@given(preset=mutated_configs(PRESET))
def test_mutated_preset_applies_or_is_refused(preset, tmp_path):
    study = tmp_path / "land.yaml"
    study.write_text(textwrap.dedent(LAND_CONFIG))
    path = tmp_path / "preset.yaml"
    try:
        path.write_text(yaml.safe_dump(preset, allow_unicode=True), encoding="utf-8")
    except yaml.YAMLError:
        return
    try:
        cfg = load_config(study, preset=path)
    except SitescoreError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
    else:
        assert isinstance(cfg, Config)


# --- the readers ---------------------------------------------------------------------------

def _write_inputs(folder: Path) -> dict[str, tuple[str, Path]]:
    """Small valid files: name -> (reader, path)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    lines_frame().to_file(folder / "lines.geojson")
    out["geojson"] = ("hifld_transmission_lines", folder / "lines.geojson")
    padus_frame().to_file(folder / "padus.gpkg", driver="GPKG", layer="fee")
    out["gpkg"] = ("padus", folder / "padus.gpkg")
    write_zipped_shapefile(lines_frame(), folder / "lines.zip")
    out["zipped shapefile"] = ("hifld_transmission_lines", folder / "lines.zip")
    shortlist_table().to_csv(folder / "sites.csv", index=False)
    out["shortlist csv"] = ("shortlist", folder / "sites.csv")
    gppd_table().to_csv(folder / "gppd.csv", index=False)
    out["gppd csv"] = ("gppd", folder / "gppd.csv")
    airports_table().to_csv(folder / "airports.csv", index=False)
    out["ourairports csv"] = ("ourairports", folder / "airports.csv")
    write_dem(folder / "dem.tif")
    out["dem geotiff"] = ("dem", folder / "dem.tif")
    return out


@pytest.fixture(scope="module")
def valid_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-inputs")
    return {name: (reader, path, path.read_bytes()) for name, (reader, path) in
            _write_inputs(folder).items()}


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """`data` with bytes flipped, inserted, deleted or cut off (1 to 4 such changes)."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip", "insert", "delete", "truncate", "overwrite"]))
        if not buf:
            break
        at = draw(st.integers(0, len(buf) - 1))
        if kind == "flip":
            buf[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del buf[at:at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del buf[at:]
        else:
            chunk = draw(st.binary(min_size=1, max_size=32))
            buf[at:at + len(chunk)] = chunk
    return bytes(buf)


class _Loud(logging.Handler):
    """Log records at WARNING or above: what `sitescore` prints on stderr by default."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


READER_EXAMPLES = max(EXAMPLES * 45 // 100, 10)  # per format: 7 formats


@pytest.mark.parametrize("name", ["geojson", "gpkg", "zipped shapefile", "shortlist csv", "gppd csv",
                                  "ourairports csv", "dem geotiff"])
def test_damaged_file_is_read_or_refused(name, valid_inputs, tmp_path):
    reader, original, data = valid_inputs[name]
    area = bbox_area(BBOX)

    @settings(max_examples=READER_EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(blob=st.data(), with_area=st.booleans())
    def check(blob, with_area):
        path = tmp_path / original.name
        path.write_bytes(blob.draw(damaged(data)))
        source = LayerSource("fuzzed", reader, path, tmp_path)
        loud = _Loud()
        logging.getLogger().addHandler(loud)
        try:
            with warnings.catch_warnings(record=True) as caught:  # GDAL's go to the log at INFO
                warnings.simplefilter("always")
                try:
                    out = read_layer(source, area if with_area else None)
                except SitescoreError as exc:
                    assert str(exc).strip() and "\n" not in str(exc)
                    out = None
        finally:
            logging.getLogger().removeHandler(loud)
        # nothing the CLI would print before (or instead of) its one line
        assert [str(w.message) for w in caught] == []
        assert loud.messages == []
        if out is None:
            return
        assert isinstance(out, (gpd.GeoDataFrame, Raster)), type(out)
        if isinstance(out, gpd.GeoDataFrame):
            assert out.crs is not None and out.crs.to_epsg() == 5070

    check()
