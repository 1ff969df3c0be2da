"""Adjoints of lists, tuples, dicts and records: zeros, dense and owned copies, items, joins."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InternalError
from . import integrate, lazy, records
from .shapes import _is_zero, _ndim, _shape, unbroadcast
from .trees import tree_map


def zeros_like(x):
    """A zero adjoint for `x`: 0.0 for a number, float zeros for an array, one per item of a
    list or tuple (as a list), one per entry of a dict, one per float field of a record (as
    a dict, or a list for a named tuple)."""
    if type(x) is np.ndarray:  # the common case: no walk
        return _zero(x)
    return tree_map(_zero, x, lists=True)


def empty_like(x):
    """Room for the adjoint of the array `x`, each entry of which the code writes before it
    reads any: `x_bar[0::2] = ...; x_bar[1::2] = ...`. zeros_like for other values."""
    if type(x) is np.ndarray:
        return np.empty(x.shape, x.dtype if x.dtype.kind in "fc" else np.float64)
    return zeros_like(x)


def _zero(x):
    """zeros_like of a leaf (neither a list, a tuple nor a dict)."""
    if type(x) is np.ndarray:  # without dispatch
        return np.zeros(x.shape, x.dtype if x.dtype.kind in "fc" else np.float64)
    if isinstance(x, (int, float, complex)) or not hasattr(x, "dtype"):
        return 0.0  # a number, or what carries no adjoint (None, a function): a zero
    dtype = x.dtype if np.issubdtype(x.dtype, np.inexact) else float
    return lazy.writable(np.zeros_like(x, dtype=dtype))  # in x's library (a Dask buffer)


def densify(x_bar, x):
    """`x_bar` with the type and shape of `x`: a symbolic zero becomes real zeros, and the
    adjoint of a tuple, dict or record becomes a tuple, dict or record (records.rebuild)."""
    if type(x) is np.ndarray:
        return _dense(x, x_bar)
    if type(x) is float or type(x) is np.float64:  # a number's adjoint is a number already
        return x_bar
    if type(x) is tuple and type(x_bar) is tuple and len(x) == len(x_bar) and all(
            type(v) is np.ndarray for v in x):  # a function's arrays: no tree walk
        return tuple(_dense(v, b) for v, b in zip(x, x_bar, strict=True))
    # x may have grown since: appends not yet undone
    return tree_map(_dense, x, x_bar, strict=False)


def _dense(x, x_bar):
    """densify of the adjoint of a leaf of x: a number standing for an array of x's shape
    (0.0 for zeros, or the adjoint of a sum, the same for every entry) becomes that array."""
    if _is_zero(x_bar) and not isinstance(x, (int, float)):
        return _zero(x)
    if _ndim(x) and isinstance(x_bar, (int, float, np.number, np.ndarray)) and \
            not _ndim(x_bar):
        return _zero(x) + x_bar
    return x_bar


def entries(x) -> int:
    """The number of entries of an array, from its shape (np.size of a Dask array would
    compute it)."""
    return math.prod(_shape(x))


def unbroadcast_from(g, x, t):
    """unbroadcast(g, x) where g may be a number standing for an array of t's shape (all of
    its entries g: the adjoint of a sum), or an array broadcast against it: that array's
    entries summed over the axes along which x was broadcast to t's shape."""
    if (type(g) is float or type(g) is np.float64) and _shape(x) == _shape(t):
        return g  # still the number standing for x's array
    if _shape(g) != _shape(t):
        g = _zero(t) + g  # the array g stands for, to sum over x's broadcast axes
    return unbroadcast(g, x)


def owned(x_bar, x):
    """A fresh array of x's shape holding `x_bar`, safe to update in place (for a list or
    dict: a fresh list or dict of fresh items; for a record, a dict or list of them)."""
    if type(x) is np.ndarray:
        return _owned(x, x_bar)
    # x may have grown since: appends not yet undone
    return tree_map(_owned, x, x_bar, lists=True, strict=False)


def _owned(x, x_bar):
    """owned of the adjoint of a leaf of x."""
    out = _zero(x)
    if isinstance(out, float):
        return x_bar
    out += x_bar
    return lazy.writable(out)  # (Dask's += made a new array)


def _items(x_bar, n):
    return [0.0] * n if _is_zero(x_bar) else x_bar


def parts(g, values) -> list:
    """The adjoint of a tuple-valued result (np.linalg.eigh, np.split, ...), item by item,
    each checked against its item's shape; a zero adjoint stays the number 0.0."""
    items = _items(g, len(values))
    for item, value in zip(items, values, strict=True):
        if not _is_zero(item) and _shape(item) != _shape(value):
            raise InternalError(
                f"the adjoint of an item of a tuple result has shape {_shape(item)}, but "
                f"the item has shape {_shape(value)}: a bug in adjoint")
    return list(items)


def densify_item(g, k: int, ans, x):
    """Item k of the adjoint of the tuple `ans`, as zeros shaped like `x` when it is zero."""
    return densify(parts(g, ans)[k], x)


def per_item(adjoints: list, seq):
    """The adjoints of the items of a sequence argument, as its adjoint: a list for a list or
    tuple; for an array (np.vstack(x) stacks the rows of x), an array of its shape and dtype."""
    if isinstance(seq, (list, tuple)):
        return adjoints
    out = zeros_like(seq)
    for k, a in enumerate(adjoints):  # a may be the number 0.0, standing for zeros
        out[k] = a
    return out


def items_adjoint(g, iterable):
    """Adjoint of list(x) or tuple(x), a new list of x's items (a list's items, an array's
    rows): g, one adjoint per item, as x's adjoint; a dict's keys carry none."""
    if _is_zero(g) or isinstance(iterable, dict):
        return 0.0
    return per_item([densify(a, v) for a, v in zip(g, iterable, strict=True)], iterable)


def sequence_adjoint(g, items):
    """Adjoint of each item of a list or tuple passed to `sum(items)`: g, unbroadcast."""
    return per_item([unbroadcast(g, v) for v in items], items)


def add_adjoint(g, a, b, k: int):
    """The adjoint of operand k of `a + b`: two lists or tuples join, and each gets its
    items of g, the joined list's adjoint; anything else adds (unbroadcast)."""
    if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
        return unbroadcast(g, (a, b)[k])
    if _is_zero(g):
        return 0.0
    return list(g[:len(a)]) if k == 0 else list(g[len(a):])


def add_seq(a, b):
    """a + b item by item, for the adjoints of lists, tuples, dicts and records (a list or
    dict; a key one lacks is a zero there)."""
    if type(a) is np.ndarray and type(b) is np.ndarray:  # the common case: no dispatch
        return a + b
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    if isinstance(a, dict) or isinstance(b, dict) or records.is_object_record(a) or \
            records.is_object_record(b):
        a, b = records.as_dict(a), records.as_dict(b)
        return {k: add_seq(a.get(k, 0.0), b.get(k, 0.0)) for k in {**a, **b}}
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        # item by item (an array's items are its rows); a zero list may be longer: its list
        # grew later
        longer = a if len(a) > len(b) else b
        return [add_seq(x, y) for x, y in zip(a, b, strict=False)] + list(
            longer[min(len(a), len(b)):])
    return a + b


def record_arg_adjoint(g, name: str, k: int):
    """Adjoint of the argument a record (a named tuple, a dataclass) was built from for its
    field `name`, the k-th: that field of the record's adjoint."""
    return records.record_arg_adjoint(g, name, k)


def field_adjoint(g, result, name: str):
    """Adjoint of a field read: of a named tuple (np.linalg.slogdet(a).logabsdet, theta.bias)
    g at that field and zero adjoints at the others; of a dataclass or an object of the
    user's class (p.stiffness), a dict holding g at that field; of solve_ivp's result
    (sol.y), a dict over its fields (integrate.ode_result_field_adjoint)."""
    if integrate.is_ode_result(result):
        return integrate.ode_result_field_adjoint(g, result, name)
    return records.field_adjoint(g, result, name)
