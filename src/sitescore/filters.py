"""Attribute filters for criteria (`where: "voltage_kv >= 345"`), parsed safely.

Only `column OP literal` comparisons joined by and / or / not are allowed, so a config can never
run code (unlike `DataFrame.query`). A filter is at most MAX_LENGTH characters and nests
and / or / not at most MAX_DEPTH deep, so a hostile one cannot exhaust the parser or the stack.
When the layer's column types are known (the config check), a column that does not exist or a
literal of the wrong kind (`voltage_kv >= '345'`, `status < 5`) is refused before any data is
read; at run time the same mistakes raise `FilterError`.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Longest filter accepted, in characters (a long `in [...]` list of codes fits many times).
MAX_LENGTH = 10_000
#: Deepest nesting of and / or / not accepted (real filters nest two or three deep).
MAX_DEPTH = 20

_OPS: dict[type, Callable] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_SYMBOLS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.In: "in", ast.NotIn: "not in"}
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)

Filter = Callable[[pd.DataFrame], np.ndarray]


class FilterError(KeyError):
    """A filter that does not fit the layer it is applied to (a column it lacks, values of
    another kind). A KeyError, so callers catching the missing column catch these too."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class _Comparison:
    column: str
    op: str
    value: object          # a number, text, True/False, or a list of them (for in / not in)


def _show(expr: str) -> str:
    """The filter as quoted in messages: shortened, so an error stays one readable line."""
    return repr(expr if len(expr) <= 80 else expr[:77] + "...")


def parse_where(expr: str, columns: Mapping[str, str] | None = None) -> Filter:
    """Compile a where-expression into a function DataFrame -> boolean mask.

    `columns` (canonical name -> 'str' / 'float' / 'int' / 'bool', as in schema.LAYERS) checks
    the columns and the kinds of the literals now. Raises ValueError with a planner-readable
    message for anything else.
    """
    if len(expr) > MAX_LENGTH:
        raise ValueError(f"filter {_show(expr)} is {len(expr):,} characters long; at most "
                         f"{MAX_LENGTH:,} are allowed")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        why = f" ({exc.msg})" if isinstance(exc, SyntaxError) and "nested" in (exc.msg or "") else ""
        raise ValueError(f"cannot parse filter {_show(expr)}{why}; write e.g. "
                         "\"voltage_kv >= 345\"") from None
    depth = _depth(tree.body)
    if depth > MAX_DEPTH:
        raise ValueError(f"filter {_show(expr)} nests and/or/not {depth:,} deep; at most "
                         f"{MAX_DEPTH} levels are allowed")
    comparisons: list[_Comparison] = []
    compiled = _compile(tree.body, expr, comparisons)
    if columns is not None:
        for comparison in comparisons:
            _check_kind(comparison, columns, expr)
    return compiled


def _depth(root: ast.AST) -> int:
    """How deep and / or / not nest (walked without recursion: the tree may be very deep)."""
    deepest, stack = 0, [(root, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, ast.BoolOp) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in
                         (node.values if isinstance(node, ast.BoolOp) else [node.operand]))
    return deepest


def _scalar(node: ast.AST) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)) \
            and not isinstance(node.operand.value, bool):
        return -node.operand.value
    raise TypeError


def _literal(node: ast.AST, expr: str) -> object:
    try:
        return _scalar(node)
    except TypeError:
        pass
    if isinstance(node, (ast.List, ast.Tuple)):
        try:
            return [_scalar(e) for e in node.elts]
        except TypeError:
            raise ValueError(f"filter {_show(expr)}: a list may hold only numbers, text and "
                             "True/False") from None
    raise ValueError(f"filter {_show(expr)}: only numbers, text, True/False and lists may be compared")


def _compile(node: ast.AST, expr: str, comparisons: list[_Comparison]) -> Filter:
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, expr, comparisons) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return lambda df: combine.reduce([p(df) for p in parts])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _compile(node.operand, expr, comparisons)
        return lambda df: ~inner(df)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name):
        column = node.left.id
        op = node.ops[0]
        symbol = _SYMBOLS.get(type(op))
        if symbol is None:
            raise ValueError(f"filter {_show(expr)}: unsupported operator")
        value = _literal(node.comparators[0], expr)
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(value, list):
                raise ValueError(f"filter {_show(expr)}: '{symbol}' needs a list, e.g. "
                                 f"{column} {symbol} ['a', 'b']")
        elif isinstance(value, list):
            raise ValueError(f"filter {_show(expr)}: '{symbol}' compares with one value, not a "
                             f"list; use {column} in [...] for several")
        elif isinstance(value, bool) and isinstance(op, _ORDERING):
            raise ValueError(f"filter {_show(expr)}: True/False can only be compared with == or !=")
        comparisons.append(_Comparison(column, symbol, value))
        if isinstance(op, (ast.In, ast.NotIn)):
            negate = isinstance(op, ast.NotIn)

            def member(df: pd.DataFrame) -> np.ndarray:
                col = _column(df, column, expr)
                _check_values(col, column, symbol, value, expr)
                hit = col.isin(value if isinstance(value, list) else [value]).to_numpy(dtype=bool)
                return ~hit if negate else hit
            return member
        fn = _OPS[type(op)]

        def compare(df: pd.DataFrame) -> np.ndarray:
            col = _column(df, column, expr)
            _check_values(col, column, symbol, value, expr)
            try:
                result = fn(col, value)
            except TypeError:
                raise FilterError(f"filter {_show(expr)}: the values of column '{column}' cannot "
                                  f"be compared with {value!r}") from None
            return pd.Series(result).fillna(False).to_numpy(dtype=bool)
        return compare
    raise ValueError(f"filter {_show(expr)}: write comparisons like \"column >= 345\" joined by "
                     "and/or")


#: What each canonical column type holds, in the words of the messages, and an example literal.
_KINDS = {"float": ("numbers", "a number", "345"), "int": ("numbers", "a number", "345"),
          "str": ("text", "text in quotes", "'345'"), "bool": ("True/False", "True or False", "True")}


def _kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    return "float" if isinstance(value, (int, float)) else "str"


def _example(holds: str, value: object) -> str:
    """The literal the planner probably meant: the number in the text, the number as text."""
    if holds == "str":
        return repr(str(value))
    if holds == "float" and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return _KINDS[holds][2]
        return f"{number:g}" if np.isfinite(number) else _KINDS[holds][2]
    return _KINDS[holds][2]


def _mismatch(column: str, holds: str, op: str, value: object, expr: str) -> ValueError:
    words, wanted, _ = _KINDS[holds]
    example = _example(holds, value)
    shown = f"the text {value!r}" if isinstance(value, str) else repr(value)
    return ValueError(f"filter {_show(expr)}: column '{column}' holds {words}: compare it with "
                      f"{wanted}, not {shown} (e.g. {column} {op} "
                      f"{'[' + example + ']' if op in ('in', 'not in') else example})")


def _check_kind(comparison: _Comparison, columns: Mapping[str, str], expr: str) -> None:
    """A comparison against the layer's canonical columns: the column exists and the literal is
    of the kind the column holds (else the filter silently matches nothing, or fails later)."""
    column, op, value = comparison.column, comparison.op, comparison.value
    if column not in columns:
        raise ValueError(f"filter {_show(expr)}: no column '{column}' (columns: "
                         f"{', '.join(columns) or 'none'})")
    holds = "float" if columns[column] == "int" else columns[column]
    for v in (value if isinstance(value, list) else [value]):
        if _kind_of(v) != holds:
            raise _mismatch(column, holds, op, v, expr)
    if holds == "bool" and op not in ("==", "!=", "in", "not in"):
        raise ValueError(f"filter {_show(expr)}: column '{column}' holds True/False; use == or !=")


def _check_values(col: pd.Series, column: str, op: str, value: object, expr: str) -> None:
    """At run time: numbers are never compared with text or the other way round (pandas would
    raise for < and >, and silently match nothing for ==)."""
    holds: str | None
    if pd.api.types.is_bool_dtype(col):
        holds = "bool"
    elif pd.api.types.is_numeric_dtype(col):
        holds = "float"
    else:
        kind = pd.api.types.infer_dtype(col, skipna=True)
        holds = {"boolean": "bool", "floating": "float", "integer": "float", "mixed-integer-float": "float",
                 "decimal": "float", "string": "str"}.get(kind)
        if holds is None:
            return  # empty, or mixed values: compared as they are
    for v in (value if isinstance(value, list) else [value]):
        kind = _kind_of(v)
        if kind != holds and not (holds == "float" and kind == "bool") \
                and not (holds == "bool" and kind == "float" and v in (0, 1)):
            raise FilterError(str(_mismatch(column, holds, op, v, expr)))


def _column(df: pd.DataFrame, column: str, expr: str) -> pd.Series:
    columns = getattr(df, "columns", None)
    if columns is None:
        raise FilterError(f"filter {_show(expr)}: this layer is a raster and has no columns to "
                          "filter; remove 'where'")
    if column not in columns:
        known = ", ".join(str(c) for c in columns if c != "geometry")
        raise FilterError(f"filter {_show(expr)}: no column '{column}' (columns: {known})")
    return df[column]
