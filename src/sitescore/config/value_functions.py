"""Value functions: how a criterion's raw value becomes a 0..1 score (1 = best).

One class per kind, each carrying its parameters, their checks, the curve and the line a planner
reads in the map and report. A new kind is one more class here: it registers itself under its
`kind` and joins the `AnyValueFunction` union the config validates against.
"""

from __future__ import annotations

import functools
import itertools
import operator
import typing
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

#: kind -> class, filled as the classes below are defined.
VALUE_FUNCTIONS: dict[str, type[ValueFunction]] = {}

Direction = Literal["lower_better", "higher_better"]


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
            kind = VALUE_FUNCTIONS.get(data.get("kind"))  # type: ignore[arg-type]
            if kind is None:
                _ADAPTER.validate_python(data)  # raises: the kind is missing or unknown
            cls = kind  # type: ignore[assignment]
        return super().__new__(cls)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> ValueFunction:  # type: ignore[override]
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
        # zero or negative values are as bad as it gets on a log scale
        return np.where((x <= 0) & np.isfinite(x), 1.0 if self.best < self.worst else 0.0, out)

    def describe(self, unit: str = "") -> str:
        return f"1 at {self.best:g}{_u(unit)}, 0 at {self.worst:g}{_u(unit)} (log scale, linear between)"


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


#: What a criterion's `value` is validated as: the class named by its `kind` (every class above).
AnyValueFunction = Annotated[functools.reduce(operator.or_, VALUE_FUNCTIONS.values()),  # type: ignore[valid-type]
                             Field(discriminator="kind")]

_ADAPTER: TypeAdapter[ValueFunction] = TypeAdapter(AnyValueFunction)
