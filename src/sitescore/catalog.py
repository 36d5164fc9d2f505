"""The catalog of public datasets sitescore reads: data (catalog.yaml), not code.

Each dataset names its provider, version, licence, official download locations (national files,
per-state extracts, ArcGIS feature services, known mirrors and archives), format, the layer inside
the file, the provider fields the reader uses, and a size and sha256 where a fixed file is
published. `sitescore fetch` and `sitescore data` work from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError
from .schema import LAYERS, STATE_FIPS, STATE_NAMES

SourceRole = Literal["national", "state", "tile", "service", "mirror", "archive"]
SourceKind = Literal["file", "arcgis", "census_api"]


class Source(BaseModel):
    """One place a dataset can be had."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: SourceRole
    kind: SourceKind = "file"
    url: str = Field(description="Download or service URL; state sources use {state}, "
                                 "{state_fips}, {state_name} or {state_lower} placeholders, "
                                 "tile sources {tile} (e.g. n36w107).")
    filename: str | None = Field(None, description="Name saved under data/raw/<dataset>/ "
                                                   "(placeholders allowed).")
    size_bytes: int | None = Field(None, ge=0, description="Published size, if fixed.")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    unzip: bool = Field(False, description="Extract the archive after download.")
    note: str | None = None

    def for_state(self, state: str) -> Source:
        """This source with its state placeholders filled in."""
        fill = {"state": state.upper(), "state_lower": state.lower(),
                "state_fips": STATE_FIPS[state.upper()],
                "state_name": STATE_NAMES[state.upper()].replace(" ", "_")}
        return self.model_copy(update={
            "url": self.url.format(**fill),
            "filename": self.filename.format(**fill) if self.filename else None})

    def for_tile(self, north: int, west: int) -> Source:
        """This source for one 1 x 1 degree tile named by its north-west corner (n36w107)."""
        tile = f"n{north:02d}w{west:03d}"
        return self.model_copy(update={
            "url": self.url.format(tile=tile),
            "filename": self.filename.format(tile=tile) if self.filename else None})

    @property
    def per_state(self) -> bool:
        return "{state" in self.url

    @property
    def per_tile(self) -> bool:
        return "{tile}" in self.url


class Dataset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: str
    provider: str
    product: str
    version: str
    licence: str
    homepage: str
    layer: str = Field(description="Canonical layer it feeds (schema.LAYERS).")
    reader: str | None = Field(None, description="Reader for its files; None for join tables.")
    format: str
    file_layer: str | None = None
    fields: list[str] = Field(default_factory=list)
    expected_size: str | None = Field(None, description="Human size of the national download.")
    sources: list[Source]
    notes: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Dataset:
        if self.layer not in LAYERS and self.layer != "table":
            raise ValueError(f"unknown canonical layer '{self.layer}'")
        if not self.sources:
            raise ValueError("at least one source is needed")
        return self

    def sources_for(self, role: SourceRole) -> list[Source]:
        return [s for s in self.sources if s.role == role]


@dataclass(frozen=True)
class Catalog:
    datasets: dict[str, Dataset] = field(default_factory=dict)

    def get(self, dataset_id: str, key: str | None = None) -> Dataset:
        try:
            return self.datasets[dataset_id]
        except KeyError:
            raise ConfigError(f"unknown dataset '{dataset_id}'; known: {', '.join(sorted(self.datasets))}",
                              key=key) from None


def parse_catalog(doc: dict, origin: str = "catalog.yaml") -> Catalog:
    try:
        items = doc["datasets"]
        datasets = {k: Dataset.model_validate({"id": k, **v}) for k, v in items.items()}
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(err["msg"], file=origin,
                          key=".".join(str(p) for p in err["loc"])) from None
    except (KeyError, TypeError, AttributeError):
        raise ConfigError("a catalog is a mapping with a 'datasets' mapping", file=origin) from None
    return Catalog(datasets)


def load_catalog() -> Catalog:
    """The catalog shipped with sitescore, or the one SITESCORE_CATALOG names (an organisation's
    own copy pointing at internal mirrors, say)."""
    return _load(os.environ.get("SITESCORE_CATALOG") or None)


@lru_cache(maxsize=4)
def _load(path: str | None) -> Catalog:
    if path is None:
        text = resources.files("sitescore").joinpath("catalog.yaml").read_text(encoding="utf-8")
        return parse_catalog(yaml.safe_load(text))
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the catalog ({exc.strerror})", file=path) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({exc})", file=path) from None
    return parse_catalog(doc, path)
