"""shaped: the formulas a careful person writes where the operands' shapes are known.

The table's formulas hold for any shapes: `runtime.dot_lhs(g, a, b)` works out at run time
whether a product of vectors, of a matrix and a vector or of matrices was taken. Code
specialized on shapes (analysis/dims.py) knows which, and then writes the product itself:
the adjoint of `np.dot(u, v)` for vectors is `g * v`, with no call that finds it out. Each
entry is exact for the shapes it names and gives None for any other."""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np


def _products(shapes: dict, param: str) -> str | None:
    (x, a), (y, b) = list(shapes.items())[:2]  # a @ b, np.dot(a, b), np.matmul(x1, x2)
    if a is None or b is None or len(shapes) != 2:
        return None
    if len(a) == 1 and len(b) == 1 and a == b:  # u . v: a number
        return {x: f"g * {y}", y: f"g * {x}"}[param]
    if len(a) == 2 and len(b) == 1 and a[1] == b[0]:  # A v
        return {x: f"g[:, None] * {y}", y: f"g @ {x}"}[param]
    if len(a) == 2 and len(b) == 2 and a[1] == b[0]:  # A B
        return {x: f"g @ {y}.T", y: f"{x}.T @ g"}[param]
    return None


def _repeated(shapes: dict, param: str, consts: dict) -> str | None:
    """np.sum(a, axis) along constant axes: g given back its summed axes and repeated along
    them (`g[:, None].repeat(10, axis=1)`), one NumPy method call a time."""
    if consts is None:  # g may be a number
        return None
    dims, axis = shapes.get("a"), consts.get("axis")
    if param != "a" or not dims or set(shapes) - {"a", "axis", "keepdims"} or (
            "axis" in shapes and axis is None) or ("keepdims" in shapes and not isinstance(
                consts.get("keepdims"), bool)):
        return None
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not all(isinstance(k, int) and not isinstance(k, bool) and -len(dims) <= k < len(dims)
               for k in axes):
        return None
    axes = sorted({k % len(dims) for k in axes})
    keep = consts.get("keepdims", False)
    if len(axes) == len(dims) and not keep:  # g is a number
        return None
    out = "g"
    if not keep:
        out += "[" + ", ".join("None" if k in axes else ":" for k in range(len(dims))) + "]"
    for k in axes:
        out += f".repeat({dims[k]}, axis={k})"
    return out


SHAPED: dict[Callable, Callable] = {
    np.dot: _products,
    np.matmul: _products,
    operator.matmul: _products,
}
WITH_CONSTANTS: dict[Callable, Callable] = {
    np.sum: _repeated,
}


def formula(fn: Callable, param: str, shapes: dict, consts: dict | None = None) -> str | None:
    """The formula for `param` of a call of fn whose parameters have these shapes
    ({parameter: shape, or None where unknown, for each parameter the call passes, in the
    signature's order}) and constant values (`consts`: {parameter: value}; None where g
    may be a number standing for zeros), or None where the table's formula is the one to
    use."""
    entry = SHAPED.get(fn)
    if entry is not None:
        return entry(shapes, param)
    entry = WITH_CONSTANTS.get(fn)
    return entry(shapes, param, consts) if entry is not None else None
