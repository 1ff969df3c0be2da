"""What a gradient checks of each call's arguments: their kinds, and those it refuses."""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import numpy as np

from . import parse as parse_
from . import rules
from .errors import ApiError
from .runtime import records


def kinds_of(fn: Any, args: tuple, kwargs: dict, shapes: bool = False,
             ndims: bool = False) -> tuple[tuple, ...]:
    """(parameters holding scalars, holding ints, holding lists, tuples or records, holding
    arrays, and (parameter, signature) of each holding a record) for a call: the gradient is
    specialized on them, as a scalar never needs a broadcasting sum, the adjoint of a list is
    a list, and the adjoints of an array add with `+`. A record (a named tuple, a dataclass,
    an object of the user's class: runtime/records.py) is told by its type and what each
    field holds, so code compiled for one is never run for another. With `shapes`, a sixth:
    (parameter, shape) of each array, where broadcasting sums are then known (none when
    an array is not NumPy's: a Dask array's shape may be unknown until it is computed). With
    `ndims`, a seventh: (parameter, dimensions) of each NumPy array of floats, and
    (parameter, (dimensions, 'int')) of each of ints (the numba backend, which compiles for
    each number of dimensions and dtype, not for each shape)."""
    code = fn.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    defaults = parse_.defaults_of(fn) if len(args) < len(names) else {}
    scalars, ints, seqs, arrays, objects, dims, counts = [], [], [], [], [], [], []
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
            dims.append((name, value.shape))
            if value.dtype.kind in "fc":
                counts.append((name, value.ndim))
            elif value.dtype.kind in "iu":  # its items index as ints do
                counts.append((name, (value.ndim, "int")))
            if value.dtype.kind in "iu":  # its entries index as ints do
                dims.append((name, "int"))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, (float, np.floating)):
            scalars.append(name)
        elif isinstance(value, (int, np.integer)):
            ints.append(name)
        elif isinstance(value, (list, tuple)) or records.is_record(value):
            seqs.append(name)
            if records.is_record(value):
                objects.append((name, records.signature(value)))
        elif type(value) is np.ndarray or hasattr(value, "__array_namespace__") or hasattr(
                value, "__array_function__"):
            arrays.append(name)
    if code.co_flags & inspect.CO_VARARGS:  # *args: the extra positional arguments, a tuple
        seqs.append(code.co_varnames[code.co_argcount + code.co_kwonlyargcount])
    found = tuple(scalars), tuple(ints), tuple(seqs), tuple(arrays), tuple(objects)
    if len({name for name, _ in dims}) < len(arrays):  # another library's: shapes left alone
        dims = []
    if ndims:
        return (*found, tuple(dims) if shapes else (), tuple(counts))
    return (*found, tuple(dims)) if shapes else found


FLOAT64 = np.dtype(np.float64)


def plain_signature(fn: Any, args: tuple, kwargs: dict) -> tuple | None:
    """The shapes of a call that passes parameters of fn by position, each a float64 NumPy
    array or a float, and leaves the others to defaults that are Python numbers (None for
    any other call): such calls have the same kinds_of and pass check_args alike, so the
    code compiled for one serves the others (api's fast path, which still refreshes the
    code's globals and checks that the defaults are those it was compiled for)."""
    code = fn.__code__
    left = code.co_argcount - len(args)
    if kwargs or code.co_kwonlyargcount or code.co_flags & (
            inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) or left < 0 or (
            left and not _number_defaults(fn.__defaults__, left)):
        return None
    out = [left]
    for a in args:
        if type(a) is np.ndarray and a.dtype is FLOAT64:
            out.append(a.shape)
        elif type(a) is float:
            out.append(None)
        else:
            return None
    return tuple(out)


def _number_defaults(defaults: tuple | None, last: int) -> bool:
    """Whether the last `last` defaults are there and each a Python number."""
    return defaults is not None and len(defaults) >= last and all(
        type(d) in (int, float) for d in defaults[len(defaults) - last:])


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


def _check_value(fn: Any, name: str, value: Any, inside: frozenset = frozenset()) -> None:
    """A differentiated argument holds floats: numbers, arrays, or containers of them (a
    record's fields that hold no floats are static: ints, strings, None); `inside`: the
    records it is in."""
    if records.is_record(value):
        _check_record(fn, name, value, inside)
        return
    if isinstance(value, dict):
        for v in value.values():
            _check_value(fn, name, v, inside)
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_value(fn, name, v, inside)
        return
    kind = _dtype_kind(fn, name, value)
    if isinstance(value, (bool, int, np.integer)) or kind in ("b", "i", "u"):
        raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: it holds "
                       f"integers or booleans ({type(value).__name__}); pass floats")
    if isinstance(value, complex) or kind == "c":
        raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: "
                       "complex inputs are not supported")


def _check_record(fn: Any, name: str, value: Any, inside: frozenset) -> None:
    """Each field of a record that holds floats, checked; refused: a record inside itself
    (objects that refer to each other are no tree), a field annotated float that holds an
    int (it would be static, its gradient silently its value), and a field named like an
    attribute of arrays (p.shape reads as the array attribute)."""
    if id(value) in inside:
        raise ApiError(f"cannot differentiate {fn.__name__} with respect to "
                       f"{name.split('.')[0]}: {name} is an object it is inside (objects that "
                       "refer to each other are no tree of parameters); pass objects whose "
                       "fields hold floats, arrays and other such objects")
    inside = inside | {id(value)}
    hints = _float_annotated(type(value))
    for field in records.record_fields(value):
        item = getattr(value, field)
        where = f"{name}.{field}"
        if field in hints and isinstance(item, (int, np.integer)) and not isinstance(
                item, bool):
            raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: "
                           f"{where} is annotated float but holds the int {item!r}; pass "
                           f"{float(item)!r}")
        if not records.carries_floats(item):
            continue  # static: kept as it is in the gradient
        if field in rules.ARRAY_ATTRS:
            raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: its "
                           f"field {field!r} has the name of an array attribute, so {where} "
                           "would read as one; rename the field")
        _check_value(fn, where, item, inside)


def _float_annotated(cls: type) -> set[str]:
    """The fields of a dataclass or named tuple annotated `float`."""
    hints: dict = {}
    for c in reversed(cls.__mro__):
        try:
            hints.update(inspect.get_annotations(c))
        except (TypeError, ValueError):
            continue
    return {f for f, h in hints.items() if h is float or h == "float"}


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
    if records.is_record(x) and not isinstance(g, list):  # g: x's type, or a dict
        return records.rebuild(x, {f: _cast_like(records.field_of(g, x, f, k), getattr(x, f))
                                   for k, f in enumerate(records.record_fields(x))
                                   if f in records.differentiable(x)}, lists=False)
    if isinstance(x, (list, tuple)) and isinstance(g, (list, tuple)):
        items = [_cast_like(a, v) for a, v in zip(g, x, strict=False)]
        return items if isinstance(g, list) else tuple(items)
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
    if records.is_record(x):
        return any(_has_narrow(getattr(x, f)) for f in records.differentiable(x))
    return False
