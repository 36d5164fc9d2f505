"""Attribute filters for criteria (`where: "voltage_kv >= 345"`), parsed safely.

Only `column OP literal` comparisons joined by and / or / not are allowed, so a config can never
run code (unlike `DataFrame.query`).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

import numpy as np
import pandas as pd

_OPS: dict[type, Callable] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}

Filter = Callable[[pd.DataFrame], np.ndarray]


def parse_where(expr: str) -> Filter:
    """Compile a where-expression into a function DataFrame -> boolean mask.

    Raises ValueError with a planner-readable message for anything else.
    """
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot parse filter {expr!r}; write e.g. \"voltage_kv >= 345\"") from None
    return _compile(tree.body, expr)


def _literal(node: ast.AST, expr: str) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)):
        return -node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, expr) for e in node.elts]
    raise ValueError(f"filter {expr!r}: only numbers, text, True/False and lists may be compared")


def _compile(node: ast.AST, expr: str) -> Filter:
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, expr) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return lambda df: combine.reduce([p(df) for p in parts])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _compile(node.operand, expr)
        return lambda df: ~inner(df)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name):
        column = node.left.id
        op = node.ops[0]
        value = _literal(node.comparators[0], expr)
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(value, list):
                raise ValueError(f"filter {expr!r}: 'in' needs a list, e.g. in ['a', 'b']")
            negate = isinstance(op, ast.NotIn)

            def member(df: pd.DataFrame) -> np.ndarray:
                hit = _column(df, column, expr).isin(value).to_numpy(dtype=bool)
                return ~hit if negate else hit
            return member
        fn = _OPS.get(type(op))
        if fn is None:
            raise ValueError(f"filter {expr!r}: unsupported operator")

        def compare(df: pd.DataFrame) -> np.ndarray:
            col = _column(df, column, expr)
            result = fn(col, value)
            return pd.Series(result).fillna(False).to_numpy(dtype=bool)
        return compare
    raise ValueError(f"filter {expr!r}: write comparisons like \"column >= 345\" joined by and/or")


def _column(df: pd.DataFrame, column: str, expr: str) -> pd.Series:
    if column not in df.columns:
        known = ", ".join(c for c in df.columns if c != "geometry")
        raise KeyError(f"filter {expr!r}: no column '{column}' (columns: {known})")
    return df[column]
