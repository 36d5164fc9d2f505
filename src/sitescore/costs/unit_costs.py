"""The unit-cost table: shipped data/unit_costs.yaml, with a study's own file over it.

Every figure is data with its source and dollar year; nothing here knows a price. A row that
is missing, negative, not a number, out of order (low <= base <= high) or without a source
stops the run with one line naming the file and the key, so no cost is ever silently zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import DataError

#: Each class of the table: its unit and the field that picks its row (None: one row).
CLASSES: dict[str, tuple[str, str | None]] = {
    "transmission_line": ("usd_per_mile", "voltage_kv"),
    "new_substation": ("usd_each", "voltage_kv"),
    "substation_bay": ("usd_each", "voltage_kv"),
    "water_pipeline": ("usd_per_mile", "max_mgd"),
    "road_lane": ("usd_per_lane_mile", None),
    "interchange": ("usd_each", None),
    "rail_spur": ("usd_per_mile", None),
    "site_grading": ("usd_per_acre", "max_slope_percent"),
}
#: The classes built along a route (priced per length), the only ones a corridor can cheapen.
LINEAR = tuple(k for k, (unit, _) in CLASSES.items() if unit in ("usd_per_mile", "usd_per_lane_mile"))
SHIPPED = "sitescore/data/unit_costs.yaml"
LEVELS = ("low", "base", "high")
TOP_KEYS = ("classes", "slope_multipliers", "route_factor_without_dem", "corridor_multipliers")


@dataclass(frozen=True)
class UnitCost:
    """One row: a priced item with its range, the year of its dollars and its source."""

    klass: str
    key: str
    low: float
    base: float
    high: float
    dollar_year: int
    source: str
    unit: str
    attrs: dict[str, float] = field(default_factory=dict)

    def level(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass(frozen=True)
class SlopeMultiplier:
    """A friction multiplier for ground at least this steep (percent), with its range."""

    min_slope_percent: float
    low: float
    base: float
    high: float
    source: str


@dataclass(frozen=True)
class CorridorMultiplier:
    """Friction of a linear class built alongside an existing corridor (0 < m <= 1: a line beside
    an existing right-of-way, a road on an old grade), with its range and source."""

    klass: str
    low: float
    base: float
    high: float
    source: str

    def level(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass
class UnitCostTable:
    """The classes in force, where each came from, the slope and corridor multipliers and the
    route factor."""

    classes: dict[str, list[UnitCost]]
    slope: dict[str, list[SlopeMultiplier]]
    route_factor: float
    route_factor_source: str
    origin: dict[str, str]  # class -> file it came from
    corridor: dict[str, CorridorMultiplier] = field(default_factory=dict)  # linear class -> row

    def rows(self, klass: str, *, key: str) -> list[UnitCost]:
        """The rows of a class; a class no file gives stops the run, naming it."""
        if klass not in self.classes:
            files = ", ".join(dict.fromkeys(self.origin.values())) or SHIPPED
            raise DataError(f"the unit-cost tables ({files}) have no class '{klass}'; give it, "
                            f"with a sourced row, in the file costs.unit_costs names", key=key)
        return self.classes[klass]

    def corridor_row(self, klass: str, *, key: str) -> CorridorMultiplier:
        """The corridor multiplier of a linear class; none in any file stops the run, naming it."""
        if klass not in self.corridor:
            files = ", ".join(dict.fromkeys(self.origin.values())) or SHIPPED
            raise DataError(f"the unit-cost tables ({files}) have no corridor_multipliers row for "
                            f"'{klass}'; give the corridor's multiplier here, or a sourced row in "
                            "the file costs.unit_costs names", key=key)
        return self.corridor[klass]


def load_unit_costs(override: Path | None = None) -> UnitCostTable:
    """The shipped table, with the classes (and slope multipliers) of `override` over it."""
    text = resources.files("sitescore").joinpath("data", "unit_costs.yaml").read_text(encoding="utf-8")
    table = _parse(yaml.safe_load(text), SHIPPED)
    if override is None:
        return table
    if not override.is_file():
        raise DataError("unit-cost file not found", file=override)
    try:
        doc = yaml.safe_load(override.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read as YAML ({str(exc).splitlines()[0]})", file=override) from None
    mine = _parse(doc, str(override), partial=True)
    table.classes.update(mine.classes)
    table.origin.update(mine.origin)
    table.slope.update(mine.slope)
    table.corridor.update(mine.corridor)
    if isinstance(doc, dict) and "route_factor_without_dem" in doc:
        table.route_factor, table.route_factor_source = mine.route_factor, mine.route_factor_source
    return table


def _parse(doc: Any, where: str, partial: bool = False) -> UnitCostTable:
    if not isinstance(doc, dict):
        raise DataError("a unit-cost table is a mapping with 'classes'", file=where)
    unknown = sorted(set(doc) - set(TOP_KEYS))
    if unknown:
        raise DataError(f"unknown key (known: {', '.join(TOP_KEYS)})", file=where, field=unknown[0])
    classes: dict[str, list[UnitCost]] = {}
    raw_classes = doc.get("classes") or {}
    if not isinstance(raw_classes, dict):
        raise DataError("must map class names to {unit, rows}", file=where, field="classes")
    for name, body in raw_classes.items():
        classes[str(name)] = _class_rows(str(name), body, where)
    slope = {}
    for kind, rows in (doc.get("slope_multipliers") or {}).items():
        slope[str(kind)] = _slope_rows(str(kind), rows, where)
    factor, factor_source = 1.0, ""
    rf = doc.get("route_factor_without_dem")
    if rf is not None or not partial:
        if not isinstance(rf, dict):
            raise DataError("needs {value, source}", file=where, field="route_factor_without_dem")
        factor = _number(rf.get("value"), where, "route_factor_without_dem.value")
        if factor < 1:
            raise DataError(f"must be at least 1, not {factor:g}", file=where,
                            field="route_factor_without_dem.value")
        factor_source = _source(rf, where, "route_factor_without_dem")
    corridor = _corridor_rows(doc.get("corridor_multipliers"), where)
    return UnitCostTable(classes, slope, factor, factor_source, {c: where for c in classes}, corridor)


def _class_rows(name: str, body: Any, where: str) -> list[UnitCost]:
    if name not in CLASSES:
        raise DataError(f"unknown unit-cost class (known: {', '.join(CLASSES)})", file=where,
                        field=f"classes.{name}")
    unit, pick = CLASSES[name]
    if not isinstance(body, dict) or not isinstance(body.get("rows"), list) or not body["rows"]:
        raise DataError("needs 'unit' and a non-empty list 'rows'", file=where, field=f"classes.{name}")
    if body.get("unit") != unit:
        raise DataError(f"unit must be {unit}, not {body.get('unit')!r}", file=where,
                        field=f"classes.{name}.unit")
    out = []
    for i, row in enumerate(body["rows"]):
        key = f"classes.{name}.rows[{i}]"
        if not isinstance(row, dict):
            raise DataError("a row is a mapping (key, low, base, high, dollar_year, source)",
                            file=where, field=key)
        levels = [_number(row.get(lv), where, f"{key}.{lv}") for lv in LEVELS]
        for lv, value in zip(LEVELS, levels, strict=True):
            if value < 0:
                raise DataError(f"a cost cannot be negative ({value:g})", file=where, field=f"{key}.{lv}")
        if not levels[0] <= levels[1] <= levels[2]:
            raise DataError(f"needs low <= base <= high, got {levels[0]:g}, {levels[1]:g}, "
                            f"{levels[2]:g}", file=where, field=key)
        year = row.get("dollar_year")
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
            raise DataError(f"the year of the dollars (1900..2100), not {year!r}", file=where,
                            field=f"{key}.dollar_year")
        attrs = {}
        if pick is not None:
            attrs[pick] = _number(row.get(pick), where, f"{key}.{pick}")
        if "capacity_mw" in row:
            attrs["capacity_mw"] = _number(row["capacity_mw"], where, f"{key}.capacity_mw")
        low, base, high = levels
        out.append(UnitCost(name, str(row.get("key") or i), low, base, high, year,
                            _source(row, where, key), unit, attrs))
    if pick is not None:
        out.sort(key=lambda r: r.attrs[pick])
        values = [r.attrs[pick] for r in out]
        if len(set(values)) != len(values):
            raise DataError(f"two rows have the same {pick}", file=where, field=f"classes.{name}")
    elif len(out) != 1:
        raise DataError("this class has exactly one row", file=where, field=f"classes.{name}.rows")
    return out


def _slope_rows(kind: str, rows: Any, where: str) -> list[SlopeMultiplier]:
    key = f"slope_multipliers.{kind}"
    if kind not in CLASSES or not isinstance(rows, list):
        raise DataError(f"a list of rows for a unit-cost class (known: {', '.join(CLASSES)})",
                        file=where, field=key)
    out = []
    for i, row in enumerate(rows):
        k = f"{key}[{i}]"
        if not isinstance(row, dict):
            raise DataError("a row is {min_slope_percent, low, base, high, source}", file=where, field=k)
        levels = [_number(row.get(lv), where, f"{k}.{lv}") for lv in LEVELS]
        if min(levels) <= 0 or not levels[0] <= levels[1] <= levels[2]:
            raise DataError("multipliers must be positive with low <= base <= high", file=where, field=k)
        low, base, high = levels
        out.append(SlopeMultiplier(_number(row.get("min_slope_percent"), where, f"{k}.min_slope_percent"),
                                   low, base, high, _source(row, where, k)))
    out.sort(key=lambda r: r.min_slope_percent)
    return out


def _corridor_rows(raw: Any, where: str) -> dict[str, CorridorMultiplier]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DataError("must map linear classes to {low, base, high, source}", file=where,
                        field="corridor_multipliers")
    out = {}
    for kind, row in raw.items():
        k = f"corridor_multipliers.{kind}"
        if kind not in LINEAR:
            raise DataError(f"a class built along a route (known: {', '.join(LINEAR)})",
                            file=where, field=k)
        if not isinstance(row, dict):
            raise DataError("a row is {low, base, high, source}", file=where, field=k)
        low, base, high = (_number(row.get(lv), where, f"{k}.{lv}") for lv in LEVELS)
        if not 0 < low <= base <= high <= 1:
            raise DataError(f"needs 0 < low <= base <= high <= 1 (cheaper alongside), got {low:g}, "
                            f"{base:g}, {high:g}", file=where, field=k)
        out[str(kind)] = CorridorMultiplier(str(kind), low, base, high, _source(row, where, k))
    return out


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"must be a finite number, not {value!r}", file=where, field=key)
    return float(value)


def _source(row: dict, where: str, key: str) -> str:
    source = row.get("source")
    if not isinstance(source, str) or not source.strip():
        raise DataError("needs a 'source': the public document the figure comes from",
                        file=where, field=f"{key}.source")
    return " ".join(source.split())


def pick_row(rows: list[UnitCost], field_name: str, need: float) -> UnitCost:
    """The smallest row whose `field_name` is at least `need` (the largest if none is)."""
    for row in rows:
        if row.attrs.get(field_name, -math.inf) >= need:
            return row
    return rows[-1]
