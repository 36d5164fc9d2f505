"""The catalog of public datasets sitescore reads: data (catalog.yaml), not code.

Each dataset names its provider, version, licence, official download locations (national files,
per-state extracts, ArcGIS feature services, known mirrors and archives), format, the layer inside
the file, the provider fields the reader uses, and a size and sha256 where a fixed file is
published. `sitescore fetch` and `sitescore data` work from it.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError
from .schema import LAYERS, STATE_FIPS, STATE_NAMES

SourceRole = Literal["national", "state", "tile", "service", "mirror", "archive"]
SourceKind = Literal["file", "arcgis", "census_api"]

#: A dataset id names its folder in the data folder (data/raw/<id>/) and its lock file, so it is
#: a plain lower-case name: no dots, separators or spaces.
DATASET_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: Names sitescore itself keeps in the data folder and its dataset folders (the manifest, lock
#: files, parts of downloads, imports under way): no catalog file name may take one of them.
RESERVED_NAMES = frozenset({"manifest.json", ".manifest.lock"})
RESERVED_SUFFIXES = (".part", ".part.json", ".importing")
#: The placeholders a source URL or file name may hold (see Source.for_state / for_tile).
PLACEHOLDERS = frozenset({"state", "state_lower", "state_fips", "state_name", "tile"})
#: A host name in a dataset's redirect_hosts: `data.example.gov`, or `*.example.gov` for any
#: host below it.
HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def file_name_problem(name: str) -> str | None:
    """Why `name` cannot be a file saved in a dataset folder (None if it can): a catalog names
    files, never paths, and never one of sitescore's own files."""
    if name in ("", ".", ".."):
        return "is not a file name"
    if "/" in name or "\\" in name:
        return "holds a path separator; give a plain file name"
    if any(ord(ch) < 32 or ch == "\x7f" for ch in name):
        return "holds a control character"
    if len(name.encode("utf-8")) > 255:
        return "is longer than 255 bytes"
    if name.startswith("."):
        return "starts with '.' (hidden names are sitescore's own temporary and lock files)"
    if name.lower() in RESERVED_NAMES or name.lower().endswith(RESERVED_SUFFIXES):
        return "is a name sitescore keeps for its own files (the manifest, parts of downloads)"
    return None


def _placeholder_problem(text: str) -> str | None:
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        return f"has a broken placeholder ({exc})"
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            return (f"has the placeholder '{{{name}}}'; known: "
                    + ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS)))
    return None


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

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"'{v}' is not an http(s) URL with a host")
        if problem := _placeholder_problem(v):
            raise ValueError(problem)
        return v

    @field_validator("filename")
    @classmethod
    def _filename(cls, v: str | None) -> str | None:
        if v is None:
            return v
        problem = _placeholder_problem(v) or file_name_problem(v)
        if problem:
            raise ValueError(f"'{v}' {problem}")
        return v

    @model_validator(mode="after")
    def _name_from_url(self) -> Source:
        """A file saved under its URL's last path segment: that segment must be a file name."""
        if self.kind == "file" and self.filename is None:
            base = unquote(PurePosixPath(urlsplit(self.url).path).name)
            problem = file_name_problem(base) if base else None
            if problem:
                raise ValueError(f"the URL's file name '{base}' {problem}; give a filename")
        return self

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
    redirect_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts a download may be redirected to besides those of the dataset's own "
                    "URLs and homepage (a provider's storage, say); `*.example.gov` for any "
                    "host below it.")
    notes: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not DATASET_ID.match(v):
            raise ValueError(f"dataset id '{v}' is not a plain name (lower-case letters, digits, "
                             "'_' and '-', at most 64, starting with a letter or digit)")
        return v

    @field_validator("redirect_hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        for host in v:
            if not HOST_PATTERN.match(host):
                raise ValueError(f"'{host}' is not a host name (data.example.gov or "
                                 "*.example.gov)")
        return v

    @model_validator(mode="after")
    def _check(self) -> Dataset:
        if self.layer not in LAYERS and self.layer != "table":
            raise ValueError(f"unknown canonical layer '{self.layer}'")
        if not self.sources:
            raise ValueError("at least one source is needed")
        return self

    def sources_for(self, role: SourceRole) -> list[Source]:
        return [s for s in self.sources if s.role == role]

    def allows_host(self, host: str) -> bool:
        """Whether a download of this dataset may be redirected to `host`: a host of one of its
        URLs or its homepage, or one its redirect_hosts names."""
        host = host.lower().rstrip(".")
        own = {urlsplit(u).hostname for u in (self.homepage, *(s.url for s in self.sources))}
        if host in own:
            return True
        for pattern in self.redirect_hosts:
            if pattern.startswith("*.") and host.endswith(pattern[1:]):
                return True
            if host == pattern:
                return True
        return False


@dataclass(frozen=True)
class Catalog:
    datasets: dict[str, Dataset] = field(default_factory=dict)

    def get(self, dataset_id: str, key: str | None = None) -> Dataset:
        try:
            return self.datasets[dataset_id]
        except KeyError:
            raise ConfigError(f"unknown dataset '{dataset_id}'; known: {', '.join(sorted(self.datasets))}",
                              key=key) from None


def parse_catalog(doc: Any, origin: str = "catalog.yaml") -> Catalog:
    """Validate a parsed catalog; a mistake names the catalog file, its YAML line (where the
    document came from the line-keeping loader) and the key (`datasets.<id>.sources[0].url`)."""
    from .config.yaml_loader import line_of

    items = doc.get("datasets") if isinstance(doc, dict) else None
    if not isinstance(items, dict):
        raise ConfigError("a catalog is a mapping with a 'datasets' mapping", file=origin)
    datasets = {}
    for k, v in items.items():
        if not isinstance(v, dict):
            raise ConfigError("a dataset is a mapping of title, provider, ..., sources",
                              file=_where(origin, line_of(doc, ("datasets", k))),
                              key=f"datasets.{_printable(k)}")
        if "id" in v and v["id"] != k:
            raise ConfigError("a dataset's id is its key in 'datasets'; drop the 'id' entry",
                              file=_where(origin, line_of(doc, ("datasets", k, "id"))),
                              key=f"datasets.{_printable(k)}.id")
        try:
            datasets[k] = Dataset.model_validate({**v, "id": k})
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ("datasets", k, *(p for p in err["loc"] if p != "id"))
            key = "".join(f"[{p}]" if isinstance(p, int) else f".{_printable(p)}" for p in loc)
            raise ConfigError(err["msg"].removeprefix("Value error, "),
                              file=_where(origin, line_of(doc, loc)), key=key[1:]) from None
    return Catalog(datasets)


def _where(origin: str, line: int | None) -> str:
    return f"{origin}, line {line}" if line else origin


def _printable(key: object) -> str:
    """A key from the file as one printable line (a key may hold a line break)."""
    return str(key).encode("unicode_escape").decode("ascii")


def load_catalog() -> Catalog:
    """The catalog shipped with sitescore, or the one SITESCORE_CATALOG names (an organisation's
    own copy pointing at internal mirrors, say)."""
    return _load(os.environ.get("SITESCORE_CATALOG") or None)


@lru_cache(maxsize=4)
def _load(path: str | None) -> Catalog:
    from .config.yaml_loader import LineLoader

    if path is None:
        text = resources.files("sitescore").joinpath("catalog.yaml").read_text(encoding="utf-8")
        return parse_catalog(yaml.load(text, Loader=LineLoader))
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the catalog ({exc.strerror or exc})", file=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}, at "
                          f"offset {exc.start}); a catalog is a UTF-8 YAML file", file=path) from None
    try:
        doc = yaml.load(text, Loader=LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"not valid YAML ({where}{what})", file=path) from None
    return parse_catalog(doc, path)
