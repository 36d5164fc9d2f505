"""The land-pathway table: which legal instrument could put a park on a parcel, and how fast.

The facts are data (the shipped data/land_pathways.yaml, every row with its source); this module
only reads and checks them. A user table adds rows and instruments of its own, matched before
the shipped rules, so a planner who knows a district's practice can say so without editing the
package. Every fault names the file, the row and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config.yaml_loader import LineLoader, line_of, read_yaml
from ..errors import ConfigError

#: The parcel attributes a rule may match on (PAD-US Mang_Name, Mang_Type, Des_Tp, GAP_Sts).
MATCH_KEYS = ("mang_name", "mang_type", "des_tp", "gap_sts")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _months_range(value: tuple[float, float] | None, *, none_ok: bool) -> None:
    if value is None:
        if not none_ok:
            raise ValueError("months are required: [low, high]")
        return
    low, high = value
    if low < 0 or high < 0:
        raise ValueError(f"months must not be negative (got [{low:g}, {high:g}])")
    if low > high:
        raise ValueError(f"months low {low:g} is above high {high:g}")


class Instrument(_Strict):
    """A legal instrument by which a park could occupy land (sale, lease, exchange, ...)."""

    label: str = Field(min_length=1)
    kind: Literal["transfer", "lease", "authorization", "legislation", "none"]
    nepa: Literal["CX", "EA", "EIS", "none"]
    months: tuple[float, float] | None = None
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _months(self) -> Instrument:
        _months_range(self.months, none_ok=self.kind == "none")
        return self


class Match(_Strict):
    """Which parcels a rule is for; every key given must hold (a list is any of its values)."""

    mang_name: list[str] | None = None
    mang_type: list[str] | None = None
    des_tp: list[str] | None = None
    gap_sts: list[int] | None = None

    @model_validator(mode="after")
    def _some_key(self) -> Match:
        if all(getattr(self, k) is None for k in MATCH_KEYS):
            raise ValueError("a rule's match needs at least one of " + ", ".join(MATCH_KEYS))
        for k in ("mang_name", "mang_type", "des_tp"):
            values = getattr(self, k)
            if values is not None:
                setattr(self, k, [str(v).strip().upper() for v in values])
        return self


class Rule(_Strict):
    """One row: the parcels it matches and the pathway they get."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    match: Match
    available: bool
    pathway: str
    instruments: list[str] = Field(min_length=1)
    nepa: Literal["CX", "EA", "EIS", "none"]
    months: tuple[float, float] | None = None
    source: str = Field(min_length=1)
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.pathway != self.instruments[0]:
            raise ValueError(f"pathway '{self.pathway}' must be the first of instruments "
                             f"{self.instruments}")
        _months_range(self.months, none_ok=not self.available)
        return self

    def holds(self, mang_name: str | None, mang_type: str | None, des_tp: str | None,
              gap_sts: float | None) -> bool:
        m = self.match
        if m.mang_name is not None and mang_name not in m.mang_name:
            return False
        if m.mang_type is not None and mang_type not in m.mang_type:
            return False
        if m.des_tp is not None and des_tp not in m.des_tp:
            return False
        return not (m.gap_sts is not None and (gap_sts is None or int(gap_sts) not in m.gap_sts))


class SmaAgency(_Strict):
    """A BLM SMA agency code and the PAD-US manager it is read as."""

    label: str
    mang_name: str
    mang_type: str
    source: str = Field(min_length=1)


class _Codes(_Strict):
    mang_name: dict[str, str] = Field(default_factory=dict)
    mang_type: dict[str, str] = Field(default_factory=dict)


class _TableFile(_Strict):
    instruments: dict[str, Instrument] = Field(default_factory=dict)
    codes: _Codes = Field(default_factory=_Codes)
    sma_agencies: dict[str, SmaAgency] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    replace: bool = Field(default=False, description="A user table only: use its rules alone.")


@dataclass(frozen=True)
class PathwayTable:
    """The rules in match order (a user's first), the instruments they name, the known codes."""

    instruments: dict[str, Instrument]
    rules: tuple[Rule, ...]
    mang_names: dict[str, str]
    mang_types: dict[str, str]
    sma_agencies: dict[str, SmaAgency]
    sources: tuple[str, ...]  # the files read, shipped table first

    def instrument_label(self, code: object) -> str | None:
        inst = self.instruments.get(code) if isinstance(code, str) else None
        return inst.label if inst is not None else None


SHIPPED_NAME = "land_pathways.yaml"


def _parse(doc: Any, where: str, *, user: bool) -> _TableFile:
    if not isinstance(doc, dict):
        raise ConfigError("a land-pathway table must be a YAML mapping (instruments, rules)",
                          file=where)
    try:
        parsed = _TableFile.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        row = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rules = doc.get("rules")
            rid = rules[loc[1]].get("id") if isinstance(rules, list) and loc[1] < len(rules) \
                and isinstance(rules[loc[1]], dict) else None
            row = f"rule {loc[1] + 1}" + (f" ('{rid}')" if rid else "") + ": "
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "value_error" and loc and loc[-1] not in MATCH_KEYS:
            # a row's own check (months, pathway): point at the key it is about
            about = next((k for k in ("months", "pathway", "match") if k in msg), None)
            if about is not None and loc[-1] != about and about != "match":
                loc = (*loc, about)
        key = ".".join(str(p) for p in loc)
        if err["type"] == "missing":
            msg = "missing (every rule needs id, match, available, pathway, instruments, nepa, "\
                  "months, source)" if loc and loc[0] == "rules" else "missing"
        line = line_of(doc, loc)
        raise ConfigError(f"{row}{msg}", file=f"{where}, line {line}" if line else where,
                          key=key) from None
    if parsed.replace and not user:
        raise ConfigError("'replace' is for a user table", file=where, key="replace")
    return parsed


@lru_cache(maxsize=1)
def _shipped() -> _TableFile:
    text = resources.files("sitescore").joinpath("data", SHIPPED_NAME).read_text(encoding="utf-8")
    import yaml

    return _parse(yaml.load(text, Loader=LineLoader), f"sitescore/data/{SHIPPED_NAME}", user=False)


def table_from_doc(doc: Any, where: str = "<land-pathway table>") -> PathwayTable:
    """A whole table from one parsed YAML document (a test's or a tool's own), checked as the
    shipped one is."""
    parsed = _parse(doc, where, user=False)
    _check(parsed.instruments, parsed.rules, where)
    return PathwayTable(dict(parsed.instruments), tuple(parsed.rules), dict(parsed.codes.mang_name),
                        dict(parsed.codes.mang_type), dict(parsed.sma_agencies), (where,))


def load_pathway_table(user_table: str | Path | None = None) -> PathwayTable:
    """The shipped table, with a user's table (rules matched first; `replace: true` alone) on top.
    Checked whole: every instrument a rule names is defined, ids are unique."""
    base = _shipped()
    sources = [f"sitescore/data/{SHIPPED_NAME}"]
    instruments = dict(base.instruments)
    rules = list(base.rules)
    mang_names, mang_types = dict(base.codes.mang_name), dict(base.codes.mang_type)
    sma = dict(base.sma_agencies)
    if user_table is not None:
        path = Path(user_table)
        user = _parse(read_yaml(path, "land-pathway table"), str(path), user=True)
        if not user.rules:
            raise ConfigError("a land-pathway table needs at least one rule", file=path,
                              key="rules")
        instruments.update(user.instruments)
        rules = list(user.rules) if user.replace else [*user.rules, *rules]
        mang_names.update(user.codes.mang_name)
        mang_types.update(user.codes.mang_type)
        sma.update(user.sma_agencies)
        sources.append(str(path))
        _check(instruments, user.rules, str(path))
    _check(instruments, base.rules, sources[0])
    return PathwayTable(instruments, tuple(rules), mang_names, mang_types, sma, tuple(sources))


def _check(instruments: dict[str, Instrument], rules: list[Rule], where: str) -> None:
    """Every instrument a file's rules name is defined; no id twice in one file (a user's rule may
    share a shipped rule's id: it is matched first)."""
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.id in seen:
            raise ConfigError(f"rule {i + 1}: id '{rule.id}' appears twice", file=where,
                              key=f"rules.{i}.id")
        seen.add(rule.id)
        for code in rule.instruments:
            if code not in instruments:
                known = ", ".join(sorted(instruments))
                raise ConfigError(f"rule {i + 1} ('{rule.id}'): instrument '{code}' is not "
                                  f"defined (instruments: {known})", file=where,
                                  key=f"rules.{i}.instruments")
