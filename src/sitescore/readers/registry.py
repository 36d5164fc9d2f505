"""The reader registry: what a layer in a config names (`LayerSource`), the readers registered
under the names configs use (`reader: padus`), and the check of a layer's reader options.

A reader is a function `(source, area) -> GeoDataFrame` registered with `@reader`. It maps
provider fields onto `schema.LAYERS[...]` columns and calls `canonical.to_canonical`; provider
field names never leave the reader.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..schema import LAYERS
from ..study_area import StudyArea


@dataclass(frozen=True)
class LayerSource:
    """One input layer as the config names it, with its file resolved."""

    name: str                       # config layer name, e.g. "transmission_lines"
    reader: str                     # registered reader, e.g. "hifld_transmission_lines"
    path: Path
    data_dir: Path = Path(".")
    layer: str | None = None        # layer inside a multi-layer file (GDB, GeoPackage)
    options: Mapping[str, Any] = field(default_factory=dict)
    dataset: str | None = None      # catalog id when the layer was given as `dataset:`
    more_paths: tuple[Path, ...] = ()  # further files of the same dataset (per-state extracts)
    datasets: Mapping[str, Path] = field(default_factory=dict)  # data folder: id -> file
    postgis: Any = None             # a postgis.PostgisSource: read from PostGIS, `path` only names it

    def resolve(self, relative: str | Path) -> Path:
        """A path from this layer's options: relative to the data directory, or `dataset:<id>`
        for a fetched or imported catalog dataset."""
        text = str(relative)
        if text.startswith("dataset:"):
            ds = text.removeprefix("dataset:")
            if ds not in self.datasets:
                raise DataError(f"dataset '{ds}' is not in the data folder; run `sitescore fetch "
                                f"--only {ds}` or `sitescore data import {ds} FILE`", file=self.data_dir)
            return self.datasets[ds]
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.data_dir / p

    def resolve_all(self, relative: str | Path) -> list[Path]:
        """Every file an option names: its one path, or every file of a `dataset:<id>` in the
        data folder (the ACS fetched per state is one file per state), the first first."""
        first = self.resolve(relative)
        text = str(relative)
        if not text.startswith("dataset:"):
            return [first]
        from ..datastore import dataset_paths  # the data folder's manifest lists every file

        try:
            stored = dataset_paths(self.data_dir).get(text.removeprefix("dataset:")) or []
        except DataError:
            stored = []
        return [first, *(p for p in stored if p != first)]


@dataclass(frozen=True)
class ReaderSpec:
    """A registered reader: the canonical layer it produces and the options it takes."""

    name: str
    layer: str          # canonical layer kind it produces (key of schema.LAYERS)
    func: Callable[[LayerSource, StudyArea | None], Any]
    description: str
    options: tuple[str, ...] = ()   # the keys its layer's `options` may hold


READERS: dict[str, ReaderSpec] = {}


def reader(name: str, layer: str, options: Iterable[str] = ()) -> Callable:
    """Register a reader under `name`, producing canonical layer `layer` and taking the layer
    options `options` (any other key in a config is refused: a misspelt `z_unit` would
    otherwise be ignored without a word)."""
    if layer not in LAYERS:
        raise ValueError(f"unknown canonical layer {layer!r}")

    def register(func: Callable) -> Callable:
        doc = (func.__doc__ or "").strip().splitlines()
        READERS[name] = ReaderSpec(name, layer, func, doc[0] if doc else "", tuple(options))
        return func

    return register


def check_options(spec: ReaderSpec, layer_name: str, options: Mapping[str, Any]) -> None:
    """Refuse a layer option its reader does not take, suggesting the close match; the key
    names the option (`layers.<name>.options.<key>`)."""
    for key in options:
        if key in spec.options:
            continue
        close = difflib.get_close_matches(str(key), spec.options, n=1, cutoff=0.6)
        known = (f"did you mean '{close[0]}'?" if close else
                 f"its options: {', '.join(spec.options)}" if spec.options else "it takes none")
        raise ConfigError(f"unknown option for reader '{spec.name}' ({known})",
                          key=f"layers.{layer_name}.options.{key}")

