"""The restricted evaluator of formula expressions: arithmetic, comparisons and a fixed list
of functions (``log``, ``I``, ``C``/``factor``, ``scale``, ...) evaluated on data columns,
without Python's ``eval`` (a formula can never run code).

Used by :mod:`glmmteach.model.design`. Imports :mod:`glmmteach.model.formula` (the parsed
nodes) and :mod:`glmmteach.model.factors`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from glmmteach.model.formula import (
    BinOp,
    Call,
    Name,
    Node,
    Num,
    Paren,
    Str,
    Unary,
    deparse,
)

__all__ = ["CONSTANTS", "AsFactor", "column_value", "Evaluator"]

# ---------------------------------------------------------------------------------------------
# restricted evaluator
# ---------------------------------------------------------------------------------------------

CONSTANTS: dict[str, Any] = {
    "pi": np.pi, "TRUE": True, "FALSE": False, "T": True, "F": False, "Inf": np.inf,
}  # fmt: skip

_MATH: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "exp": np.exp, "expm1": np.expm1,
    "sqrt": np.sqrt, "abs": np.abs, "absolute": np.abs, "sin": np.sin, "cos": np.cos,
    "tan": np.tan, "floor": np.floor, "ceiling": np.ceil, "ceil": np.ceil, "trunc": np.trunc,
    "sign": np.sign, "square": np.square,
}  # fmt: skip

_SUPPORTED = sorted(
    [*_MATH, "I", "C", "factor", "as.factor", "as.numeric", "log", "round", "pmin", "pmax",
     "minimum", "maximum", "power", "scale"]
)  # fmt: skip


class AsFactor:
    """Marks a value as categorical (``C(x)``, ``factor(x)``)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def column_value(series: pd.Series, keep_int: bool = False) -> Any:
    """A data column as the evaluator sees it."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return series
    if pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(dtype):
        if keep_int and pd.api.types.is_integer_dtype(dtype):
            return series.to_numpy(dtype=np.int64)
        return series.to_numpy(dtype=float)
    return series


class Evaluator:
    """Evaluate a formula expression on data columns; no Python ``eval``."""

    def __init__(self, env: Mapping[str, pd.Series], state: dict[str, Any], fitting: bool):
        self.env = env
        self.state = state
        self.fitting = fitting

    def fail(self, node: Node, message: str) -> ValueError:
        return ValueError(f"cannot evaluate '{deparse(node)}': {message}")

    def num(self, node: Node) -> Any:
        v = self.eval(node)
        if isinstance(v, AsFactor):
            raise self.fail(node, "a factor cannot be used in arithmetic")
        if isinstance(v, pd.Series):
            raise self.fail(
                node,
                "it is categorical (strings or a Categorical), not numeric; compare it instead, "
                f'e.g. I({deparse(node)} == "level")',
            )
        if isinstance(v, str):
            raise self.fail(node, "a string is not a number")
        if isinstance(v, np.ndarray) and v.dtype == bool:
            return v.astype(float)
        if isinstance(v, (bool, np.bool_)):
            return float(v)
        return v

    def logical(self, node: Node) -> Any:
        v = self.eval(node)
        if isinstance(v, np.ndarray) and v.dtype == bool or isinstance(v, (bool, np.bool_)):
            return v
        raise self.fail(node, "'&', '|' and '!' need logical (TRUE/FALSE) values")

    def comparable(self, node: Node) -> Any:
        v = self.eval(node)
        if isinstance(v, AsFactor):
            v = v.value
        return v

    def eval(self, node: Node) -> Any:
        if isinstance(node, Num):
            return float(node.value)
        if isinstance(node, Str):
            return node.value
        if isinstance(node, Name):
            if node.id in self.env:
                return column_value(self.env[node.id])
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise self.fail(node, f"unknown name {node.id!r}")
        if isinstance(node, Paren):
            return self.eval(node.expr)
        if isinstance(node, Unary):
            if node.op == "!":
                return ~np.asarray(self.logical(node.operand))
            v = self.num(node.operand)
            return -v if node.op == "-" else v
        if isinstance(node, BinOp):
            return self._binop(node)
        if isinstance(node, Call):
            return self._call(node)
        raise self.fail(node, "unsupported expression")  # pragma: no cover

    def _binop(self, node: BinOp) -> Any:
        op = node.op
        if op in ("+", "-", "*", "/", "^", "%%", "%/%"):
            a, b = self.num(node.left), self.num(node.right)
            with np.errstate(all="ignore"):
                if op == "+":
                    return np.add(a, b)
                if op == "-":
                    return np.subtract(a, b)
                if op == "*":
                    return np.multiply(a, b)
                if op == "/":
                    return np.true_divide(a, b)
                if op == "^":
                    return np.power(np.asarray(a, dtype=float), b)
                if op == "%%":
                    return np.mod(a, b)
                return np.floor_divide(a, b)
        if op in ("==", "!=", "<", ">", "<=", ">="):
            a, b = self.comparable(node.left), self.comparable(node.right)
            try:
                with np.errstate(all="ignore"):
                    res = {
                        "==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b,
                        ">": lambda: a > b, "<=": lambda: a <= b, ">=": lambda: a >= b,
                    }[op]()  # fmt: skip
            except TypeError as err:
                raise self.fail(node, f"the two sides cannot be compared ({err})") from err
            if isinstance(res, pd.Series):
                return res.to_numpy(dtype=bool)
            return np.asarray(res, dtype=bool) if np.ndim(res) else bool(res)
        if op in ("&", "&&"):
            return np.logical_and(self.logical(node.left), self.logical(node.right))
        if op in ("|", "||"):
            return np.logical_or(self.logical(node.left), self.logical(node.right))
        raise self.fail(node, f"the operator {op!r} is not supported inside an expression")

    def _call(self, node: Call) -> Any:
        func = node.func
        for prefix in ("np.", "numpy."):
            if func.startswith(prefix):
                func = func[len(prefix):]
                break
        args = node.args

        def nargs(*allowed: int) -> None:
            if len(args) not in allowed:
                want = " or ".join(str(a) for a in allowed)
                raise self.fail(node, f"{node.func}() takes {want} argument(s)")

        if func == "I" and node.func == "I":
            nargs(1)
            return self.eval(args[0])
        if func in ("C", "factor", "as.factor") and node.func == func:
            nargs(1)
            v = self.eval(args[0])
            return v if isinstance(v, AsFactor) else AsFactor(v)
        if func == "as.numeric":
            nargs(1)
            return np.asarray(self.num(args[0]), dtype=float)
        with np.errstate(all="ignore"):
            if func in _MATH:
                nargs(1)
                return _MATH[func](self.num(args[0]))
            if func == "log":
                nargs(1, 2)
                x = np.log(self.num(args[0]))
                return x if len(args) == 1 else x / np.log(self.num(args[1]))
            if func == "round":
                nargs(1, 2)
                digits = 0 if len(args) == 1 else int(self.num(args[1]))
                return np.round(self.num(args[0]), digits)
            if func in ("pmin", "pmax", "minimum", "maximum"):
                if len(args) < 2:
                    raise self.fail(node, f"{node.func}() needs at least two arguments")
                fn = np.minimum if func in ("pmin", "minimum") else np.maximum
                out = self.num(args[0])
                for a in args[1:]:
                    out = fn(out, self.num(a))
                return out
            if func == "power":
                nargs(2)
                return np.power(np.asarray(self.num(args[0]), dtype=float), self.num(args[1]))
            if func == "scale" and node.func == "scale":
                nargs(1)
                x = np.asarray(self.num(args[0]), dtype=float)
                key = deparse(node)
                if self.fitting or key not in self.state:
                    center = float(np.mean(x))
                    sd = float(np.std(x, ddof=1)) if x.size > 1 else float("nan")
                    self.state[key] = (center, sd)
                center, sd = self.state[key]
                return (x - center) / sd
        raise self.fail(
            node, f"the function {node.func!r} is not supported; supported: {', '.join(_SUPPORTED)}"
        )


