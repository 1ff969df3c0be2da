"""Adjoints of indexing: updates at an index, np.take, np.sort, np.select, np.r_ and np.c_."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedArgument
from . import lazy
from .containers import add_seq, per_item, zeros_like
from .shapes import _is_zero, _ndim, unbroadcast


def add_at(acc, index, g):
    """acc[index] += g, adding repeated fancy indices once each; returns acc."""
    if isinstance(acc, (list, dict)):
        acc[index] = add_seq(acc[index], g)
    elif isinstance(index, (int, np.integer, slice)) or (type(index) is tuple and all(
            isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
            for i in index)):
        acc[index] += g  # basic indexing selects each entry once
    elif lazy.is_dask(acc):  # Dask has no np.add.at
        return lazy.add_at(acc, index, g)
    else:
        np.add.at(acc, index, g)
    return acc


def take_axis_adjoint(g, a, indices, axis=None, mode="raise"):
    """Adjoint of np.take(a, indices, axis, mode=mode): g added back at the indices
    (repeated indices add up)."""
    n = np.size(a) if axis is None else np.shape(a)[axis]
    indices = np.asarray(indices)
    if mode == "wrap":
        indices = indices % n
    elif mode == "clip":
        indices = np.clip(indices, 0, n - 1)
    # (an array even for a list: the adds below go into it, not into a copy of it)
    out = np.zeros(np.shape(a)) if isinstance(a, (list, tuple)) else zeros_like(a)
    if axis is None:
        np.add.at(np.reshape(out, -1), indices, g)
        return out
    axis = axis % _ndim(a)
    index = (slice(None),) * axis + (indices,)
    np.add.at(out, index, g)
    return out


def take_along_axis_adjoint(g, arr, indices, axis=-1):
    """Adjoint of np.take_along_axis(arr, indices, axis): g added back along the axis."""
    if axis is None:
        out = zeros_like(np.ravel(arr))
        np.add.at(out, indices, g)
        return np.reshape(out, np.shape(arr))
    axis = axis % _ndim(arr)
    out = zeros_like(arr)
    grid = np.ogrid[tuple(slice(n) for n in np.shape(indices))]
    index = tuple(indices if k == axis else grid[k] for k in range(_ndim(arr)))
    np.add.at(out, index, g)
    return out


def sort_adjoint(g, a, axis=-1):
    """Adjoint of np.sort(a, axis): g sent back through the sorting permutation (among
    equal entries any order is as good: they move together)."""
    if axis is None:
        out = zeros_like(np.ravel(a))
        out[np.argsort(a, axis=None, kind="stable")] = g
        return np.reshape(out, np.shape(a))
    order = np.argsort(a, axis=axis, kind="stable")
    out = zeros_like(a)
    np.put_along_axis(out, order, g, axis)
    return out


def select_adjoint(g, condlist, choicelist):
    """Adjoint of each choice in np.select(condlist, choicelist, default): g where its
    condition is the first one true (np.where, so unselected NaNs stay out)."""
    taken = False
    out = []
    for cond, choice in zip(condlist, choicelist, strict=True):
        here = cond & ~taken
        out.append(unbroadcast(np.where(here, g, 0.0), choice))
        taken = taken | cond
    return per_item(out, choicelist)


def select_default_adjoint(g, condlist, default):
    """Adjoint of `default` in np.select(condlist, choicelist, default): g where no
    condition holds."""
    hit = np.logical_or.reduce([np.broadcast_to(c, np.shape(g)) for c in condlist])
    return unbroadcast(np.where(hit, 0.0, g), default)


def index_concat(maker, *items):
    """np.r_[items] or np.c_[items] (`maker`, the AxisConcatenator), as a call: the compiler
    writes the subscript so, to differentiate it."""
    return maker[items]


def index_concat_adjoint(g, maker, items, k: int):
    """Adjoint of items[k] in np.r_[items] or np.c_[items]: the same concatenation run on
    the positions of items[k]'s entries (-1 for the other items' entries) tells where each
    entry went."""
    item = items[k]
    if getattr(maker, "matrix", False) or (items and isinstance(items[0], str)
                                           and items[0] in ("r", "c")):
        raise UnsupportedArgument("the gradient of np.r_[...] or np.c_[...] building a matrix "
                                  f"(the directive {items[0]!r})")
    if _is_zero(g):
        return zeros_like(item)
    marks = [_concat_marks(v, j == k) for j, v in enumerate(items)]
    where = np.ravel(maker[tuple(marks)])
    taken = where >= 0
    own = getattr(item, "dtype", None)
    flat = np.zeros(np.size(item), dtype=own if own is not None and own.kind == "f" else g.dtype)
    flat[where[taken].astype(np.intp)] = np.ravel(g)[taken]
    return _shaped_like(flat, item)


def _concat_marks(item, numbered: bool):
    """What stands for `item` in index_concat_adjoint: its entries' positions, or -1s; a
    directive stays, a slice becomes the -1s of its range, a scalar stays a scalar."""
    if isinstance(item, str):
        return item
    if isinstance(item, slice):
        return np.full(np.size(np.r_[item]), -1.0)
    values = np.arange(float(np.size(item))) if numbered else np.full(np.size(item), -1.0)
    if type(item) in np.ScalarType:
        return float(values[0])
    return np.reshape(values, np.shape(item))


def _shaped_like(flat, item):
    """The entries `flat` in the form of `item`: an array of its shape, a list of the same
    nesting, or a number."""
    if isinstance(item, (list, tuple)):
        sizes = np.cumsum([np.size(v) for v in item])[:-1]
        return [_shaped_like(p, v) for p, v in zip(np.split(flat, sizes), item, strict=True)]
    if type(item) in np.ScalarType or not hasattr(item, "shape"):
        return float(flat[0]) if not isinstance(item, np.generic) else flat.dtype.type(flat[0])
    return np.reshape(flat, np.shape(item))
