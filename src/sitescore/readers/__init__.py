"""Readers: one per dataset, official formats and field names in, canonical layers out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import geopandas as gpd
import pandas as pd

from ..errors import ConfigError, DataError
from ..schema import LAYERS
from ..study_area import StudyArea

# Importing the reader modules registers their readers.
from . import (  # noqa: F401
    boundaries,
    federal_land,
    pathway_areas,
    power,
    shortlist,
    terrain,
    transport,
    water,
    workforce,
)
from .registry import READERS, LayerSource, ReaderSpec, check_options, reader  # noqa: F401
from .safety import local_only, path_status, require_file
from .vector import gdal_notes


def read_layer(source: LayerSource, area: StudyArea | None = None) -> Any:
    """Read one configured layer through its registered reader; a dataset fetched as several
    files (per-state extracts) is read file by file and joined.

    Before any reader looks at a file, its options are checked and each file must be a local,
    regular file (or folder) that cannot hang the run or send GDAL to the network; while the
    reader runs GDAL is kept off the network whatever the files name (`local_only`)."""
    spec = READERS.get(source.reader)
    if spec is None:
        raise ConfigError(f"unknown reader '{source.reader}'; known: {', '.join(sorted(READERS))}",
                          key=f"layers.{source.name}.reader")
    check_options(spec, source.name, source.options)
    if source.dataset and path_status(source.path) is None:
        raise DataError(f"dataset '{source.dataset}' is not in the data folder; run `sitescore fetch "
                        f"--only {source.dataset}` or `sitescore data import {source.dataset} FILE`",
                        file=source.data_dir)
    if source.postgis is None:
        for path in (source.path, *source.more_paths):
            if path_status(path) is not None:  # a missing file is its reader's to report
                require_file(path)
    with local_only(), gdal_notes(source.path):  # warnings go to the log, not the terminal
        if not source.more_paths or LAYERS[spec.layer].geometry == "raster":
            return spec.func(source, area)  # raster readers mosaic their own tiles
        parts = [spec.func(replace(source, path=p, more_paths=()), area)
                 for p in (source.path, *source.more_paths)]
    joined = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=parts[0].crs)
    joined.attrs = {"path": ", ".join(str(p.attrs.get("path")) for p in parts),
                    **{k: sum(int(p.attrs.get(k, 0)) for p in parts)
                       for k in ("features", "repaired", "dropped", "bad_coordinates")
                       if k != "bad_coordinates" or any(k in p.attrs for p in parts)}}
    return joined
