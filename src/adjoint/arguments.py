"""What a gradient checks of each call's arguments: their kinds, and those it refuses."""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import numpy as np

from . import parse as parse_
from .errors import ApiError


def kinds_of(fn: Any, args: tuple, kwargs: dict) -> tuple[tuple[str, ...], ...]:
    """(parameters holding scalars, holding ints, holding lists or tuples, holding arrays)
    for a call: the gradient is specialized on them, as a scalar never needs a broadcasting
    sum, the adjoint of a list is a list, and the adjoints of an array add with `+`."""
    code = fn.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    defaults = parse_.defaults_of(fn) if len(args) < len(names) else {}
    scalars, ints, seqs, arrays = [], [], [], []
    for k, name in enumerate(names):
        if k < len(args):
            value = args[k]
        elif name in kwargs:
            value = kwargs[name]
        elif name in defaults:  # the default, as Python computed it when the def ran
            value = defaults[name]
        else:
            continue
        if type(value) is np.ndarray:
            arrays.append(name)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, (float, np.floating)):
            scalars.append(name)
        elif isinstance(value, (int, np.integer)):
            ints.append(name)
        elif isinstance(value, (list, tuple)):
            seqs.append(name)
        elif type(value) is np.ndarray or hasattr(value, "__array_namespace__") or hasattr(
                value, "__array_function__"):
            arrays.append(name)
    if code.co_flags & inspect.CO_VARARGS:  # *args: the extra positional arguments, a tuple
        seqs.append(code.co_varnames[code.co_argcount + code.co_kwonlyargcount])
    return tuple(scalars), tuple(ints), tuple(seqs), tuple(arrays)


def check_args(fn: Any, params: list[str], args: tuple, kwargs: dict) -> dict:
    """Refuse arguments that cannot be differentiated; returns {position in wrt: argument}
    of the differentiated arguments holding float arrays narrower than float64."""
    names = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    narrow = {}
    for k, name in enumerate(names):
        if not (k < len(args) or name in kwargs):
            continue
        value = args[k] if k < len(args) else kwargs[name]
        if name in params:
            _check_value(fn, name, value)
            if _has_narrow(value):
                narrow[params.index(name)] = value
        elif isinstance(value, complex) or (
                type(value) is np.ndarray and value.dtype.kind == "c"):
            raise ApiError(f"cannot differentiate {fn.__name__}: its argument {name} is "
                           "complex, and adjoint's rules are for real values")
    return narrow


def _check_value(fn: Any, name: str, value: Any) -> None:
    """A differentiated argument holds floats: numbers, arrays, or containers of them."""
    if isinstance(value, dict):
        for v in value.values():
            _check_value(fn, name, v)
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_value(fn, name, v)
        return
    kind = _dtype_kind(fn, name, value)
    if isinstance(value, (bool, int, np.integer)) or kind in ("b", "i", "u"):
        raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: it holds "
                       f"integers or booleans ({type(value).__name__}); pass floats")
    if isinstance(value, complex) or kind == "c":
        raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: "
                       "complex inputs are not supported")


def _dtype_kind(fn: Any, name: str, value: Any) -> str | None:
    """NumPy's kind letter of an array argument's dtype (None for a number); an array type
    whose dtype NumPy cannot read (an array-API-only array) is refused by name."""
    if type(value) is np.ndarray:
        return value.dtype.kind
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return None
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array_function__"):
        with contextlib.suppress(TypeError):
            return np.dtype(dtype).kind
    raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: it holds a "
                   f"{type(value).__module__}.{type(value).__name__} of dtype {dtype}, an array "
                   "type adjoint does not know; pass a NumPy array (or one that implements "
                   "NumPy's array protocols)")


def narrowed(grads: Any, narrow: dict, wrt: Any) -> Any:
    """The gradients of float32 (or float16) arrays, alone or in containers, in their
    argument's dtype, where the function mixed float64 values in."""
    if not isinstance(wrt, (tuple, list)):
        return _cast_like(grads, narrow[0]) if 0 in narrow else grads
    return tuple(_cast_like(g, narrow[k]) if k in narrow else g for k, g in enumerate(grads))


def _cast_like(g: Any, x: Any) -> Any:
    if isinstance(x, dict) and isinstance(g, dict):
        return {k: _cast_like(g[k], v) if k in g else g for k, v in x.items()}
    if isinstance(x, (list, tuple)) and isinstance(g, (list, tuple)):
        return type(g)(_cast_like(a, v) for a, v in zip(g, x, strict=False))
    if type(x) is np.ndarray and hasattr(g, "astype") and g.dtype != x.dtype:
        return g.astype(x.dtype, copy=False)
    return g


def _has_narrow(x: Any) -> bool:
    if type(x) is np.ndarray:
        return x.dtype.kind == "f" and x.itemsize < 8
    if isinstance(x, dict):
        return any(_has_narrow(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_has_narrow(v) for v in x)
    return type(x) is np.ndarray and x.dtype.kind == "f" and x.itemsize < 8
