"""Value functions: how a criterion's raw value becomes a 0..1 score (1 = best).

One class per kind, each carrying its parameters, their checks, the curve, the line a planner
reads in the map and report, the parameters the Monte Carlo jitters (`jitter_params`, evaluated
for many draws at once by `score_batch`) and the x-range its report chart draws
(`chart_range`). A new kind is one more class here and nothing elsewhere: it registers itself
under its `kind` and joins the `AnyValueFunction` union the config validates against (a kind
defined outside this module, after the union was made, is still found by its `kind`).
"""

from __future__ import annotations

import functools
import itertools
import operator
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, NamedTuple, Self, TypeAlias

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    WrapSerializer,
    WrapValidator,
    model_validator,
)

#: kind -> class, filled as the classes below are defined.
VALUE_FUNCTIONS: dict[str, type[ValueFunction]] = {}

Direction = Literal["lower_better", "higher_better"]


class Jitter(NamedTuple):
    """One numeric parameter the Monte Carlo moves: it draws `value + t x scale x N(0, 1)`, or for a
    `positive` one (a width, a half-life) `value x max(1 + t x N(0, 1), floor)` so it stays > 0."""

    name: str
    value: float
    scale: float
    positive: bool


class ValueFunction(BaseModel):
    """Base of every kind. `ValueFunction(kind="linear", ...)` and `ValueFunction.model_validate`
    build the class of that kind, so callers need not know the classes."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    kind: str
    missing: float = Field(0.0, ge=0, le=1, description="Score when the raw value is missing.")

    #: False for kinds that score text (categories) rather than numbers.
    numeric: ClassVar[bool] = True

    def __new__(cls, /, **data: Any) -> ValueFunction:
        if cls is ValueFunction:
            kind = VALUE_FUNCTIONS.get(str(data.get("kind")))
            if kind is None:
                _ADAPTER.validate_python(data)  # raises: the kind is missing or unknown
                raise AssertionError("unreachable: validation of an unknown kind raises")
            return super().__new__(kind)
        return super().__new__(cls)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> ValueFunction:
        """The kind's class for a mapping with `kind`, when called on the base class."""
        if cls is ValueFunction:
            return _ADAPTER.validate_python(obj, **kwargs)
        return super().model_validate(obj, **kwargs)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        kinds = typing.get_args(cls.model_fields["kind"].annotation)
        if len(kinds) == 1:  # a concrete kind (Literal["..."]), not an intermediate base
            VALUE_FUNCTIONS[kinds[0]] = cls

    @model_validator(mode="before")
    @classmethod
    def _needs(cls, data: Any) -> Any:
        """A kind's required parameters, all named in one message (as planners fix them)."""
        if isinstance(data, dict) and set(data) <= set(cls.model_fields):  # else: unknown key
            need = [n for n, f in cls.model_fields.items() if f.is_required() and n != "kind"]
            missing = [n for n in need if data.get(n) is None]
            if missing:
                raise ValueError(f"value kind '{data.get('kind')}' needs {', '.join(missing)}")
        return data

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Raw values -> 0..1; values missing or unreadable for this kind get `missing`."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self.curve(numbers(raw) if self.numeric else np.asarray(raw, dtype=object))
        out = np.clip(out, 0.0, 1.0)
        return np.where(np.isnan(out), self.missing, out)

    def curve(self, x: np.ndarray) -> np.ndarray:
        """The kind's own mapping (NaN where it has no score); `apply` clips and fills it."""
        raise NotImplementedError(f"value kind '{self.kind}' defines no curve")

    def describe(self, unit: str = "") -> str:
        """One line a planner reads in the map legend and report."""
        raise NotImplementedError(f"value kind '{self.kind}' defines no description")

    # -- the Monte Carlo's threshold draws ----------------------------------------------------

    def jitter_params(self) -> list[Jitter]:
        """The numeric parameters the Monte Carlo's `thresholds` jitter moves, in a fixed order
        (the draws depend on it). Empty by default: a kind with thresholds names them here."""
        return []

    def with_params(self, values: Mapping[str, Any]) -> Self:
        """This function with the parameters named in `values` replaced, unchecked: numbers, or
        (draws x 1) arrays that `curve` broadcasts against (draws x cells) raw values."""
        return self.model_copy(update=dict(values))

    def curve_batch(self, x: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """`curve` for (1 x cells) raw values under (draws x 1) parameter arrays. By default the
        kind's own curve on a copy holding the arrays, which numpy broadcasts; a kind whose curve
        cannot take arrays (piecewise: np.interp) overrides this."""
        return self.with_params(params).curve(x)

    def score_batch(self, x: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """`apply` for many parameter draws at once: numeric raw values (cells,) and, per name
        of `jitter_params`, a (draws x 1) array -> scores (draws x cells). Equal to `apply` when
        the parameters are the function's own."""
        xs = np.asarray(x, dtype=float)[None, :]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = np.clip(self.curve_batch(xs, params), 0.0, 1.0)
        return np.where(np.isnan(out), self.missing, out)

    # -- the report's chart ----------------------------------------------------------------

    #: Whether the chart draws raw values on a log axis (when they are all > 0).
    chart_log: ClassVar[bool] = False

    def chart_range(self, raw: np.ndarray | Sequence[Any]) -> tuple[float, float]:
        """The x-range (lo < hi) a chart of this function draws: the finite raw values' range,
        else the function's own (`own_range`); a single value is widened around it."""
        x = numbers(np.asarray(raw, dtype=object))
        x = x[np.isfinite(x)]
        lo, hi = (float(np.min(x)), float(np.max(x))) if len(x) else self.own_range()
        return self.widen(lo, hi) if hi <= lo else (lo, hi)

    def own_range(self) -> tuple[float, float]:
        """Where the curve changes, for a chart with no raw values to go by: by default the span
        of the parameters it jitters (0..1 for a kind without any)."""
        values = [p.value for p in self.jitter_params()]
        return (min(values), max(values)) if values else (0.0, 1.0)

    def widen(self, lo: float, hi: float) -> tuple[float, float]:
        """A range that is one value (or empty) made wide enough to show the curve around it."""
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad

    def named_categories(self) -> list[str]:
        """The categories the function itself names (a chart shows them even where no cell has
        them); none for a numeric kind."""
        return []

    def chart_label(self, unit: str = "") -> str:
        """What a chart's x axis says the raw value is."""
        return f"raw value ({unit})" if unit else "raw value"


def numbers(raw: np.ndarray) -> np.ndarray:
    """Raw values as floats; text that is no number becomes NaN (a missing value)."""
    return np.asarray(pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce"), dtype=float)


def category_key(value: object) -> str | None:
    """A raw value as the category text a config names (3.0 -> '3'); None when missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _u(unit: str) -> str:
    return f" {unit}" if unit else ""


class LinearValue(ValueFunction):
    """1 at `best`, 0 at `worst`, a straight line between (either may be the larger)."""

    kind: Literal["linear"]
    best: float = Field(description="Raw value that scores 1.")
    worst: float = Field(description="Raw value that scores 0.")

    @model_validator(mode="after")
    def _differ(self) -> LinearValue:
        if self.best == self.worst:
            raise ValueError("best and worst must differ")
        return self

    def curve(self, x: np.ndarray) -> np.ndarray:
        return (x - self.worst) / (self.best - self.worst)

    def describe(self, unit: str = "") -> str:
        return f"1 at {self.best:g}{_u(unit)}, 0 at {self.worst:g}{_u(unit)} (linear between)"

    def jitter_params(self) -> list[Jitter]:
        return _best_worst(self.best, self.worst, positive=False)


def _best_worst(best: float, worst: float, positive: bool) -> list[Jitter]:
    """`best` and `worst`, each jittered by its own size (a 0 by the span, so 'best: 0' moves)."""
    span = abs(best - worst)
    return [Jitter(n, float(p), abs(p) or span, positive) for n, p in (("best", best), ("worst", worst))]


class LogLinearValue(ValueFunction):
    """Linear in log10 of the value: a tenfold change counts the same anywhere on the scale."""

    kind: Literal["log_linear"]
    best: float = Field(description="Raw value that scores 1 (> 0).")
    worst: float = Field(description="Raw value that scores 0 (> 0).")

    @model_validator(mode="after")
    def _positive(self) -> LogLinearValue:
        if self.best == self.worst:
            raise ValueError("best and worst must differ")
        if self.best <= 0 or self.worst <= 0:
            raise ValueError("log_linear needs best and worst > 0")
        return self

    def curve(self, x: np.ndarray) -> np.ndarray:
        lx = np.log10(np.where(x > 0, x, np.nan))
        lo, hi = np.log10(self.worst), np.log10(self.best)
        out = (lx - lo) / (hi - lo)
        # zero or negative values are as bad as it gets on a log scale (np.where: `best` and
        # `worst` may be arrays of draws)
        return np.where((x <= 0) & np.isfinite(x), np.where(self.best < self.worst, 1.0, 0.0), out)

    def describe(self, unit: str = "") -> str:
        return f"1 at {self.best:g}{_u(unit)}, 0 at {self.worst:g}{_u(unit)} (log scale, linear between)"

    def jitter_params(self) -> list[Jitter]:
        return _best_worst(self.best, self.worst, positive=True)

    chart_log: ClassVar[bool] = True

    def widen(self, lo: float, hi: float) -> tuple[float, float]:
        lo, hi = super().widen(lo, hi)
        return (hi / 100, hi) if lo <= 0 < hi else (lo, hi)  # keep the log axis


class ExponentialValue(ValueFunction):
    """1 up to `origin`, then halving every `half_life` in the worse direction."""

    kind: Literal["exponential"]
    origin: float = Field(description="Raw value up to which the score is 1.")
    half_life: float = Field(gt=0, description="Distance past `origin` over which the score halves.")
    direction: Direction

    def curve(self, x: np.ndarray) -> np.ndarray:
        excess = (x - self.origin) if self.direction == "lower_better" else (self.origin - x)
        return np.power(0.5, np.maximum(excess, 0.0) / self.half_life)

    def describe(self, unit: str = "") -> str:
        side = "above" if self.direction == "lower_better" else "below"
        return f"1 up to {self.origin:g}{_u(unit)}, halves every {self.half_life:g}{_u(unit)} {side}"

    def jitter_params(self) -> list[Jitter]:
        return [Jitter("origin", float(self.origin), abs(self.origin) or self.half_life, False),
                Jitter("half_life", float(self.half_life), self.half_life, True)]

    def own_range(self) -> tuple[float, float]:
        """From `origin` four half-lives (down to 1/16) in the worse direction."""
        far = self.origin + (4 if self.direction == "lower_better" else -4) * self.half_life
        lo, hi = sorted((self.origin, far))
        return lo, hi


class LogisticValue(ValueFunction):
    """An S-curve: 0.5 at `midpoint`, steepness set by `scale`."""

    kind: Literal["logistic"]
    midpoint: float = Field(description="Raw value that scores 0.5.")
    scale: float = Field(gt=0, description="How wide the S is: larger is gentler.")
    direction: Direction

    def curve(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.midpoint) / self.scale
        return 1.0 / (1.0 + np.exp(z if self.direction == "lower_better" else -z))

    def describe(self, unit: str = "") -> str:
        better = "lower" if self.direction == "lower_better" else "higher"
        return (f"logistic, 0.5 at {self.midpoint:g}{_u(unit)} (scale {self.scale:g}), "
                f"{better} is better")

    def jitter_params(self) -> list[Jitter]:
        return [Jitter("midpoint", float(self.midpoint), abs(self.midpoint) or self.scale, False),
                Jitter("scale", float(self.scale), self.scale, True)]

    def own_range(self) -> tuple[float, float]:
        """Six scales either side of the midpoint: the S from about 0.0025 to 0.9975."""
        return self.midpoint - 6 * self.scale, self.midpoint + 6 * self.scale


class PiecewiseValue(ValueFunction):
    """Straight lines between (raw, score) points; flat beyond the first and last."""

    kind: Literal["piecewise"]
    points: list[tuple[float, float]] = Field(description="[raw, score] pairs, raw increasing.")

    @model_validator(mode="after")
    def _increasing(self) -> PiecewiseValue:
        xs = [p[0] for p in self.points]
        if len(xs) < 2 or any(b <= a for a, b in itertools.pairwise(xs)):
            raise ValueError("piecewise points need 2+ strictly increasing x values")
        if any(not 0 <= p[1] <= 1 for p in self.points):
            raise ValueError("piecewise scores must lie in 0..1")
        return self

    def curve(self, x: np.ndarray) -> np.ndarray:
        out = np.interp(x, [p[0] for p in self.points], [p[1] for p in self.points])
        out[np.isnan(x)] = np.nan
        return out

    def describe(self, unit: str = "") -> str:
        return "piecewise: " + ", ".join(f"{x:g}{_u(unit)}->{y:g}" for x, y in self.points)

    def jitter_params(self) -> list[Jitter]:
        """The points' raw values x0, x1, ... (their scores stay)."""
        xs = [p[0] for p in self.points]
        span = xs[-1] - xs[0]
        return [Jitter(f"x{i}", float(x), abs(x) or span, False) for i, x in enumerate(xs)]

    def curve_batch(self, x: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """np.interp with knots that differ per draw (x: 1 x cells, each x<i>: draws x 1).
        Knots pushed out of order by the jitter are held non-decreasing."""
        ys = [float(q[1]) for q in self.points]
        knots = np.maximum.accumulate(
            np.concatenate([params[f"x{i}"] for i in range(len(ys))], axis=1), axis=1)
        out = np.full((knots.shape[0], x.shape[1]), ys[0], dtype=float)
        for i in range(1, len(ys)):
            lo, hi = knots[:, i - 1:i], knots[:, i:i + 1]
            frac = np.where(hi > lo, (x - lo) / (hi - lo), 1.0)
            seg = ys[i - 1] + frac * (ys[i] - ys[i - 1])
            out = np.where(x >= lo, np.where(x <= hi, seg, ys[i]), out)
        return np.where(np.isnan(x), np.nan, out)


class CategoricalValue(ValueFunction):
    """A score per category (text or whole numbers); `default` for the ones not listed."""

    kind: Literal["categorical"]
    map: dict[str, float] = Field(description="Category -> score (0..1).")
    default: float = Field(0.0, ge=0, le=1, description="Score of a category not in `map`.")

    numeric: ClassVar[bool] = False

    @model_validator(mode="after")
    def _scores(self) -> CategoricalValue:
        if any(not 0 <= v <= 1 for v in self.map.values()):
            raise ValueError("categorical scores must lie in 0..1")
        return self

    def curve(self, x: np.ndarray) -> np.ndarray:
        keys = [category_key(v) for v in x]
        return np.array([self.map.get(k, self.default) if k is not None else np.nan for k in keys],
                        dtype=float)

    def describe(self, unit: str = "") -> str:
        return "categories: " + ", ".join(f"{k}->{v:g}" for k, v in self.map.items()) + \
            f" (others {self.default:g})"

    def named_categories(self) -> list[str]:
        return list(self.map)

    def chart_label(self, unit: str = "") -> str:
        return f"category (others score {self.default:g})"


#: The kinds defined above: the tagged union the config schema lists and validates directly.
_SHIPPED = dict(VALUE_FUNCTIONS)


def _later_kind(data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A kind registered after the union was made (a class defined elsewhere) is validated by its
    own class; every other value goes through the union (and its errors)."""
    kind = data.get("kind") if isinstance(data, dict) else getattr(data, "kind", None)
    if isinstance(kind, str) and kind not in _SHIPPED and kind in VALUE_FUNCTIONS:
        cls = VALUE_FUNCTIONS[kind]
        return data if isinstance(data, cls) else cls.model_validate(data)
    return handler(data)


def _dump_later_kind(value: Any, handler: SerializerFunctionWrapHandler,
                     info: SerializationInfo) -> Any:
    """Such a kind is written by its own class (the union would write only `kind`)."""
    if isinstance(value, ValueFunction) and value.kind not in _SHIPPED:
        return value.model_dump(mode=info.mode)
    return handler(value)


#: What a criterion's `value` is validated as: the class named by its `kind` (every class above,
#: and any registered later).
if TYPE_CHECKING:
    AnyValueFunction: TypeAlias = ValueFunction
else:
    AnyValueFunction = Annotated[functools.reduce(operator.or_, _SHIPPED.values()),
                                 Field(discriminator="kind"), WrapValidator(_later_kind),
                                 WrapSerializer(_dump_later_kind)]

_ADAPTER: TypeAdapter[ValueFunction] = TypeAdapter(AnyValueFunction)
