"""A stand-in for a GPU array (CuPy's): an array type that implements only NumPy's protocols.

`Device` wraps a NumPy array and answers `__array_function__` and `__array_ufunc__`, shape,
dtype, ndim, indexing and arithmetic, as CuPy does; `__array__` raises, so nothing may turn it
into a NumPy array. Reading a value into Python (`bool`, `float`, `int`, `.item()`), which on a
GPU waits for the device, is counted in `Device.syncs`; with `Device.strict` set it raises.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin


class ConversionError(TypeError):
    """Something asked for a NumPy array (or a Python value) where a device array was."""


def wrap(x):
    if isinstance(x, np.ndarray) or isinstance(x, np.generic) and not isinstance(
            x, (np.str_, np.bytes_)):
        return Device(x)
    if isinstance(x, tuple):
        return tuple(wrap(v) for v in x)
    if isinstance(x, list):
        return [wrap(v) for v in x]
    return x


def unwrap(x):
    if isinstance(x, Device):
        return x.data
    if isinstance(x, tuple):
        return tuple(unwrap(v) for v in x)
    if isinstance(x, list):
        return [unwrap(v) for v in x]
    if isinstance(x, dict):
        return {k: unwrap(v) for k, v in x.items()}
    return x


class Device(NDArrayOperatorsMixin):
    """A device array: NumPy's protocols only."""

    syncs = 0
    strict = False

    def __init__(self, data):
        self.data = np.array(data) if not isinstance(data, np.ndarray) else data

    # ------------------------------------------------------------ the protocols
    def __array__(self, dtype=None, copy=None):
        raise ConversionError("a device array cannot become a NumPy array implicitly")

    def __array_function__(self, func, types, args, kwargs):
        if func in (np.result_type, np.can_cast, np.min_scalar_type):
            raise ConversionError(f"{func.__name__} of a device array")
        return wrap(func(*unwrap(args), **unwrap(kwargs)))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        given = kwargs.get("out")
        if given is not None:
            kwargs["out"] = tuple(unwrap(o) for o in given)
        out = getattr(ufunc, method)(*unwrap(inputs), **kwargs)
        if method == "at":
            return None
        if given is not None:  # written in place: the arrays given, as NumPy returns them
            return given[0] if len(given) == 1 else given
        return wrap(out)

    # ------------------------------------------------------------ metadata
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    T = property(lambda self: Device(self.data.T))

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return f"Device({self.data!r})"

    # ------------------------------------------------------------ values into Python
    def _sync(self, kind):
        if Device.strict:
            raise ConversionError(f"{kind} of a device array (a device sync)")
        Device.syncs += 1

    def __bool__(self):
        self._sync("bool")
        return bool(self.data)

    def __float__(self):
        self._sync("float")
        return float(self.data)

    def __int__(self):
        self._sync("int")
        return int(self.data)

    def __index__(self):
        self._sync("index")
        return self.data.__index__()

    def item(self):
        self._sync("item")
        return self.data.item()

    # ------------------------------------------------------------ indexing and methods
    def __getitem__(self, key):
        return wrap(self.data[unwrap(key)])

    def __setitem__(self, key, value):
        self.data[unwrap(key)] = unwrap(value)

    def __iter__(self):
        return (wrap(row) for row in self.data)

    def copy(self):
        return Device(self.data.copy())

    def astype(self, dtype, copy=True):
        return Device(self.data.astype(dtype, copy=copy))

    def __getattr__(self, name):  # reshape, sum, mean, max, ravel, ...: as NumPy's methods
        if name.startswith("__") or name in ("data", "tolist", "tobytes"):
            raise AttributeError(name)
        method = getattr(self.data, name)
        return lambda *args, **kwargs: wrap(method(*unwrap(args), **unwrap(kwargs)))


def to_device(x):
    """x, a NumPy array (or a tuple, list or dict of them), on the device."""
    if isinstance(x, dict):
        return {k: to_device(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(to_device(v) for v in x)
    return Device(x) if isinstance(x, np.ndarray) else x


def to_host(x):
    """The device array's values as NumPy arrays (an explicit copy back)."""
    if isinstance(x, (tuple, list)):
        return type(x)(to_host(v) for v in x)
    if isinstance(x, dict):
        return {k: to_host(v) for k, v in x.items()}
    return x.data if isinstance(x, Device) else x
