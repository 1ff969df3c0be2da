"""inplace: arithmetic written into a temporary that the gradient reads no more.

In code specialized on large arrays, `t = a - b` where b is such a temporary is emitted as
`t = runtime.subtract(a, b, out=b)` (and `h = np.tanh(z)` where z is one, as
`h = runtime.unary(np.tanh, z, out=z)`): the result takes b's memory instead of a fresh
allocation (each a page-faulting `mmap` for arrays of megabytes). The compiler proves that
nothing else reads b or shares its memory; these helpers check what only the values tell:
`out` is written only where the operator would give a NumPy array of out's shape and dtype
from NumPy arrays and numbers, where the ufunc computes exactly what the operator does.
Anything else (a number, a float32 temporary meeting a float64 array, broadcasting to a
larger shape, another library's array) takes the operator, as the code was written.
"""

from __future__ import annotations

import numpy as np


def _writable(out) -> bool:
    return type(out) is np.ndarray and out.ndim > 0 and out.dtype.kind in "fc" and \
        out.dtype.isnative and out.flags.writeable


def _fits(out, x, y) -> bool:
    """Whether ufunc(x, y, out=out) is the operator's result, written into out."""
    if not _writable(out):
        return False
    for v in (x, y):
        t = type(v)
        if t is np.ndarray:
            if v.shape != out.shape and np.broadcast_shapes(v.shape, out.shape) != out.shape:
                return False
        elif not (t is float or t is int or isinstance(v, (np.floating, np.integer))):
            return False
    return np.result_type(x, y) == out.dtype


def add(x, y, *, out):
    """x + y, written into `out` (x or y, a temporary the code reads no more) where that is
    exactly the operator's result."""
    return np.add(x, y, out=out) if _fits(out, x, y) else x + y


def subtract(x, y, *, out):
    """x - y, written into `out` where that is exactly the operator's result."""
    return np.subtract(x, y, out=out) if _fits(out, x, y) else x - y


def multiply(x, y, *, out):
    """x * y, written into `out` where that is exactly the operator's result."""
    return np.multiply(x, y, out=out) if _fits(out, x, y) else x * y


def divide(x, y, *, out):
    """x / y, written into `out` where that is exactly the operator's result."""
    return np.true_divide(x, y, out=out) if _fits(out, x, y) else x / y


# what each stands for where emitted code is differentiated again (normalize drops out=)
OPERATORS = {add: "+", subtract: "-", multiply: "*", divide: "/"}


def unary(ufunc, x, *, out):
    """ufunc(x) of a ufunc of one argument, written into `out` (x itself, a temporary the code
    reads no more) where the ufunc gives x's own dtype."""
    if out is x and _writable(out) and f"{x.dtype.char}->{x.dtype.char}" in ufunc.types:
        return ufunc(x, out=out)
    return ufunc(x)
