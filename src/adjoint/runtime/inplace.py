"""inplace: arithmetic written into a temporary that the gradient reads no more.

In code specialized on large arrays, `t = a - b` where b is such a temporary is emitted as
`t = runtime.subtract(a, b, out=b)`: the result takes b's memory instead of a fresh
allocation (each a page-faulting `mmap` for arrays of megabytes). The compiler proves that
nothing else reads b or shares its memory; these helpers check what only the values tell:
`out` is written only where the operator would give a NumPy array of out's shape and dtype
from NumPy arrays and numbers, where the ufunc computes exactly what the operator does.
Anything else (a number, a float32 temporary meeting a float64 array, broadcasting to a
larger shape, another library's array) takes the operator, as the code was written.
"""

from __future__ import annotations

import operator

import numpy as np


def _fits(out, x, y) -> bool:
    """Whether ufunc(x, y, out=out) is the operator's result, written into out."""
    if type(out) is not np.ndarray or not out.ndim or out.dtype.kind not in "fc" or not \
            out.flags.writeable:
        return False
    for v in (x, y):
        t = type(v)
        if t is np.ndarray:
            if v.shape != out.shape and np.broadcast_shapes(v.shape, out.shape) != out.shape:
                return False
        elif not (t is float or t is int or isinstance(v, (np.floating, np.integer))):
            return False
    return np.result_type(x, y) == out.dtype


def _written(op, ufunc):
    def into(x, y, *, out):
        return ufunc(x, y, out=out) if _fits(out, x, y) else op(x, y)

    into.__name__ = ufunc.__name__
    into.__doc__ = (f"x {_SYMBOL[op]} y, written into `out` (a temporary the code reads no "
                    "more) where that is exactly the operator's result.")
    return into


_SYMBOL = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/"}

add = _written(operator.add, np.add)
subtract = _written(operator.sub, np.subtract)
multiply = _written(operator.mul, np.multiply)
divide = _written(operator.truediv, np.true_divide)
