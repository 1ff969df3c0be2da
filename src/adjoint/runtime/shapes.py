"""Shapes, the symbolic zero 0.0, floating dtypes, and adjoints summed back over broadcasting."""

from __future__ import annotations

import numpy as np

from . import lazy


def _shape(x) -> tuple:
    t = type(x)
    if t is np.ndarray or t is np.float64:  # no dispatch: np.shape costs ten times more
        return x.shape
    if t is float or t is int:
        return ()
    try:
        return x.shape
    except AttributeError:
        return np.shape(x)


def _ndim(x) -> int:
    t = type(x)
    if t is np.ndarray:
        return x.ndim
    if t is float or t is int or t is np.float64:
        return 0
    n = getattr(x, "ndim", None)  # an array of another library: its metadata (np.ndim may
    return n if isinstance(n, int) else np.ndim(x)  # not dispatch, and convert it)


def _is_zero(g) -> bool:
    """Whether g is the number 0 standing for zeros of any shape (0.0 divided by a NumPy
    scalar on its way is still one)."""
    return (type(g) is float or type(g) is np.float64) and g == 0.0


def _float_dtype(*values):
    """The floating dtype of those values that have one (a Python number fits any), float64
    if none has one."""
    dtypes = [v.dtype for v in values if getattr(v, "dtype", None) is not None
              and v.dtype.kind == "f"]
    return np.result_type(*dtypes) if dtypes else np.float64


def _weights(w, *like):
    """`w`, a mask, counts or weights (booleans, integers, float64), in the floating dtype of
    `like` (the adjoint g and the argument): a float32 argument keeps a float32 gradient."""
    return w.astype(_float_dtype(*like), copy=False) if hasattr(w, "astype") else w


def unbroadcast(g, x):
    """`g`, summed over the axes along which `x` was broadcast to g's shape."""
    if type(g) is float:
        return g
    gshape, xshape = _shape(g), _shape(x)
    if gshape == xshape:
        return g
    if not xshape:  # a number broadcast against an array: the sum
        return g.sum()
    if len(gshape) < len(xshape) or (gshape != xshape and not gshape):
        return np.broadcast_to(g, xshape) * 1.0 if not _is_zero(g) else g
    lead = len(gshape) - len(xshape)
    axes = tuple(range(lead)) + tuple(
        lead + k for k, n in enumerate(xshape) if n == 1 and gshape[lead + k] != 1
    )
    out = g.sum(axis=axes, keepdims=True) if axes else g
    out = out.reshape(xshape)
    if type(out) is not np.ndarray:  # a Dask adjoint: a Buffer, to write into
        out = lazy.writable(out)
    return out if xshape else out[()]


def broadcast_back(c, v):
    """Adjoint of v in unbroadcast(v, x): c (x's shape) spread back over v's shape."""
    vshape = _shape(v)
    if _shape(c) == vshape:
        return c
    if len(_shape(c)) <= len(vshape):
        return np.broadcast_to(c, vshape) * 1.0
    return unbroadcast(c, v)
