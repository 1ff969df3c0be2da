"""Adjoints of joining, splitting, casting, repeating, padding and reordering arrays."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedArgument
from .arrays import dtype_of, size
from .containers import densify, parts, per_item, zeros_like
from .shapes import _ndim, _shape, _weights


def _cut(g, sizes, axis=0) -> list:
    """g cut along `axis` into consecutive pieces of these sizes: slices, cut where the
    shapes say (np.split of a Dask array would compute it)."""
    bounds = np.cumsum([0, *sizes]).tolist()
    return _slices(g, list(zip(bounds, bounds[1:], strict=False)), axis)


def _slices(g, bounds, axis) -> list:
    """g[start:stop] along `axis` for each (start, stop)."""
    axis = axis % _ndim(g)
    return [g[(slice(None),) * axis + (slice(a, b),)] for a, b in bounds]


def split_like(g, arrays, axis=0):
    """Adjoint of np.concatenate(arrays, axis): g cut into pieces shaped like the inputs
    (axis=None: the inputs were flattened)."""
    if axis is None:
        pieces = _cut(g, [size(a) for a in arrays])
        return per_item([np.reshape(p, _shape(a)) for p, a in zip(pieces, arrays, strict=True)],
                        arrays)
    sizes = [_shape(a)[axis] if _ndim(a) else 1 for a in arrays]
    return per_item(_cut(g, sizes, axis), arrays)


STACKS = {"h": (np.atleast_1d, 1), "v": (np.atleast_2d, 0), "d": (np.atleast_3d, 2)}


def stack_adjoint(g, items, kind: str):
    """Adjoint of np.hstack, np.vstack, np.dstack or np.column_stack (kind 'h', 'v', 'd',
    'column') of `items`: g cut into pieces, each shaped like its item."""
    if kind == "column":
        shapes = [_shape(x) if _ndim(x) > 1 else (size(x), 1) for x in items]
        axis = 1
    else:
        promote, axis = STACKS[kind]
        shapes = [_shape(promote(x)) for x in items]
        if kind == "h" and len(shapes[0]) == 1:
            axis = 0
    pieces = _cut(g, [shape[axis] for shape in shapes], axis)
    return per_item([np.reshape(p, _shape(x)) for p, x in zip(pieces, items, strict=True)],
                    items)


def split_adjoint(g, ary, indices_or_sections, axis=0, how: str = "split"):
    """Adjoint of np.split (np.array_split with how='array_split'): the pieces' adjoints,
    zeros for the pieces not used, put back together."""
    n = _shape(ary)[axis]
    if isinstance(indices_or_sections, (int, np.integer)):  # equal sections (array_split:
        k = int(indices_or_sections)  # the first n % k one longer; np.split, none)
        pieces = _cut(ary, [n // k + (j < n % k) for j in range(k)], axis)
    else:  # ary[a:b] between consecutive indices, as np.split cuts
        cuts = [0, *(int(c) for c in indices_or_sections), n]
        pieces = _slices(ary, list(zip(cuts, cuts[1:], strict=False)), axis)
    return np.concatenate([densify(p, x) for p, x in zip(parts(g, pieces), pieces,
                                                         strict=True)], axis)


def unstack_adjoint(g, x, axis=0):
    """Adjoint of np.unstack(x, axis): the items' adjoints stacked back."""
    items = [np.take(x, k, axis=axis) for k in range(np.shape(x)[axis])]
    return np.stack([densify(p, v) for p, v in zip(parts(g, items), items, strict=True)], axis)


def unstack(g, arrays, axis=0):
    """Adjoint of np.stack(arrays, axis)."""
    return per_item([np.take(g, k, axis=axis) for k in range(len(arrays))], arrays)


def atleast_adjoint(g, arys, k: int, ans):
    """Adjoint of arys[k] in np.atleast_1d/2d/3d(*arys): a list of results for several."""
    g = g if len(arys) == 1 else densify(parts(g, ans)[k], ans[k])
    return np.reshape(g, np.shape(arys[k]))


def cast_adjoint(g, a, dtype=None):
    """Adjoint of np.asarray(a, dtype), np.array(a, dtype) and a.astype(dtype): g shaped like
    `a` (item by item for a list); zero for a cast to integers or booleans, whose derivative
    is zero like np.trunc's."""
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.inexact):
        return zeros_like(a)
    if isinstance(a, (list, tuple)):
        return [cast_adjoint(g[k], item) for k, item in enumerate(a)]
    out = np.reshape(g, np.shape(a)) if _ndim(a) or _ndim(g) else g
    own = getattr(a, "dtype", None)  # float32 cast to float64 and back: a float32 gradient
    if own is not None and own.kind == "f" and hasattr(out, "astype"):
        return out.astype(own, copy=False)
    return out


def repeat_adjoint(g, a, repeats, axis=None):
    """Adjoint of np.repeat(a, repeats, axis): each entry gets the sum of its copies."""
    if axis is None:
        flat = np.ravel(a)
        owner = np.repeat(np.arange(np.size(flat)), repeats)
        total = np.bincount(owner, weights=np.ravel(g), minlength=np.size(flat))
        return np.reshape(_weights(total, g, a), np.shape(a))
    out = zeros_like(a)
    owner = np.repeat(np.arange(np.shape(a)[axis]), repeats)
    np.add.at(np.moveaxis(out, axis, 0), owner, np.moveaxis(g, axis, 0))
    return out


def tile_adjoint(g, a, reps):
    """Adjoint of np.tile(a, reps): the sum over the tiles."""
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = max(_ndim(a), len(reps))
    shape = (1,) * (nd - _ndim(a)) + np.shape(a)
    reps = (1,) * (nd - len(reps)) + reps
    tiles = np.reshape(g, [n for pair in zip(reps, shape, strict=True) for n in pair])
    return np.reshape(np.sum(tiles, axis=tuple(range(0, 2 * nd, 2))), np.shape(a))


def pad_adjoint(g, array, pad_width, mode="constant", reflect_type="even"):
    """Adjoint of np.pad(array, pad_width, mode) for the modes that copy entries: 'constant'
    (and 'empty'), 'edge', 'wrap', 'reflect' and 'symmetric' (reflect_type='even')."""
    if mode in ("constant", "empty"):
        widths = np.broadcast_to(pad_width, (_ndim(array), 2))
        return g[tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, np.shape(array),
                                                                 strict=True))] * 1.0
    if mode not in ("edge", "wrap", "reflect", "symmetric") or reflect_type != "even":
        raise UnsupportedArgument(f"the gradient of np.pad with mode={mode!r}"
                                  + (f", reflect_type={reflect_type!r}"
                                     if reflect_type != "even" else ""))
    # each entry of the result copies one entry of `array`: pad the indices to find which
    index = np.pad(np.reshape(np.arange(np.size(array)), np.shape(array)), pad_width, mode)
    total = np.bincount(np.ravel(index), weights=np.ravel(g), minlength=np.size(array))
    return np.reshape(_weights(total, g, array), np.shape(array))


def diff_adjoint(g, a, n=1, axis=-1, prepend=None, append=None):
    """Adjoint of `a` in np.diff(a, n, axis, prepend=..., append=...)."""
    before = 0 if prepend is None else (np.shape(prepend)[axis] if _ndim(prepend) else 1)
    for _ in range(n):  # the adjoint of one difference: -g[i] + g[i-1]
        pad = [(0, 0)] * _ndim(g)
        pad[axis] = (1, 1)
        padded = np.pad(g, pad)
        g = np.take(padded, range(0, np.shape(padded)[axis] - 1), axis) - np.take(
            padded, range(1, np.shape(padded)[axis]), axis)
    return np.take(g, range(before, before + np.shape(a)[axis]), axis)


def roll_adjoint(g, shift, axis=None):
    """Adjoint of np.roll(a, shift, axis): rolled back."""
    return np.roll(g, np.negative(shift), axis)


def reshape_like(g, x, order="C"):
    """Adjoint of np.reshape(x, ..., order) and np.ravel(x, order): g read back into x's
    shape in the order x was read in."""
    return np.reshape(g, np.shape(x), order=layout_order(x, order))


def layout_order(x, order) -> str:
    """'C' or 'F': the index order np.reshape and np.ravel read x in for `order` ('A' and
    'K' follow x's memory layout)."""
    if order in ("C", "F", None):
        return order or "C"
    if order in ("A", "K"):
        layout = getattr(x, "flags", None)
        if layout is None or layout.c_contiguous:
            return "C"
        if layout.f_contiguous:
            return "F"
        if order == "A":
            return "C"
    raise UnsupportedArgument(f"reshape or ravel with order={order!r} of an array laid out "
                              "neither in C nor in Fortran order; pass order='C' or 'F'")


def transpose_adjoint(g, axes=None):
    """Adjoint of np.transpose(a, axes) and a.transpose(*axes): the inverse permutation."""
    if axes is not None and len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]  # a.transpose((1, 0))
    if not axes:
        return np.transpose(g)
    return np.transpose(g, np.argsort([a % len(axes) for a in axes]))


def item(a, /, *args):
    """a.item(*args), the key of that method's rule: one entry, as a Python number."""
    return a.item(*args)


def item_adjoint(g, a, args=()):
    """Adjoint of a.item(*args): g at the entry read (by flat position or by index), zeros
    elsewhere."""
    out = np.zeros(np.shape(a), np.result_type(dtype_of(a), float))
    if not args:
        out.flat[0] = g  # an array of one entry
    elif len(args) == 1 and not isinstance(args[0], tuple):
        out.flat[args[0]] = g
    else:
        out[args[0] if len(args) == 1 else args] = g
    return out
