"""Which library an array belongs to: NumPy's own, or another that speaks NumPy's protocols.

Emitted code and the runtime call NumPy functions; on CuPy and Dask arrays (and any type with
`__array_function__` / `__array_ufunc__`) those dispatch to the array's own library. Two things
do not dispatch and must not happen to such arrays: reading a value into Python (an `if` on
data, `float(x)`, `np.size`: a device sync on a GPU, a compute in Dask), and allocating from a
bare shape (`np.zeros(shape)` builds a NumPy array in host memory). So the helpers keep their
Python branches on values for NumPy's arrays (`on_host`), take shapes from metadata
(`shape`, `size`), and allocate through `zeros`, which follows an argument: its library and
device, through array-api-compat (imported only when such an array first shows up).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

_NUMPY_TYPES = (np.ndarray, np.generic, numbers.Number, str, bytes, type(None))


def foreign(x) -> bool:
    """Whether x is an array of another library than NumPy (CuPy, Dask, ...), read through
    NumPy's protocols; lists, tuples and dicts are walked by their own helpers, not here."""
    t = type(x)
    if t is np.ndarray or t is float or t is int or t is np.float64:
        return False
    if isinstance(x, _NUMPY_TYPES) or isinstance(x, (list, tuple, dict)):
        return False
    return hasattr(t, "__array_function__") or hasattr(t, "__array_namespace__")


def on_host(*values) -> bool:
    """Whether Python may read these values (NumPy's arrays and numbers): no sync, no
    compute. A helper branches on values only when this holds."""
    for v in values:
        t = type(v)
        if t is np.ndarray or t is float or t is int or t is np.float64:
            continue
        if foreign(v):
            return False
    return True


def shape(x) -> tuple:
    """x's shape from its metadata, never computing it."""
    s = getattr(x, "shape", None)
    return tuple(s) if s is not None else np.shape(x)


def size(x) -> int:
    """The number of entries of x, from its shape."""
    return math.prod(shape(x))


def dtype_of(x):
    """x's dtype, or x itself for a Python number (for np.result_type, which would turn an
    array of another library into a NumPy array)."""
    d = getattr(x, "dtype", None)
    return d if d is not None else x


def _compat():
    try:
        import array_api_compat
    except ImportError:  # the numpy-only install: dispatch through the protocols alone
        return None
    return array_api_compat


def namespace(*values):
    """The array module of the values: numpy for NumPy's; for CuPy, Dask and other libraries
    that array-api-compat knows, theirs (its `array_namespace`); numpy again, dispatching
    through the protocols, for a type it does not know."""
    arrays = [v for v in values if foreign(v)]
    compat = _compat() if arrays else None
    if compat is None:
        return np
    try:
        return compat.array_namespace(*arrays)
    except TypeError:
        return np


def zeros(shape_, dtype, like):
    """Zeros of `shape_` and `dtype`, in like's library and on like's device (NumPy's
    `np.zeros` when `like` is NumPy's)."""
    if not foreign(like):
        return np.zeros(shape_, dtype)
    xp = namespace(like)
    if xp is np:
        return np.zeros_like(like, dtype=dtype, shape=shape_)
    return xp.zeros(shape_, dtype=dtype, device=_compat().device(like))


def is_lazy(x) -> bool:
    """Whether x is a lazy array (Dask's): its values exist only once computed."""
    if not foreign(x):
        return False
    compat = _compat()
    if compat is not None and hasattr(compat, "is_lazy_array"):
        return bool(compat.is_lazy_array(x))
    return hasattr(x, "__dask_graph__")
