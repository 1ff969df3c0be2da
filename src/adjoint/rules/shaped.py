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


SHAPED: dict[Callable, Callable] = {
    np.dot: _products,
    np.matmul: _products,
    operator.matmul: _products,
}


def formula(fn: Callable, param: str, shapes: dict) -> str | None:
    """The formula for `param` of a call of fn whose parameters have these shapes
    ({parameter: shape, or None where unknown, for each parameter the call passes, in the
    signature's order}), or None where the table's formula is the one to use."""
    entry = SHAPED.get(fn)
    return entry(shapes, param) if entry is not None else None
