"""runtime: the helpers emitted numba code calls, as numba overloads.

The NumPy runtime decides as it runs what an adjoint is (a number, an array, a zero of any
shape); numba types each call once, so here each helper picks its code from the types of its
arguments: `unbroadcast(g, x)` of two numbers is `g`, with no test left in the compiled loop.
An adjoint that stands for zeros of an array's shape is an array of zeros here (a variable
holds one type). What a helper has no code for fails to type, and the gradient is refused.

Tapes replace the lists the NumPy backend pushes to and pops from; their helpers are in
storage.py (numbers in arrays of their dtype, tuples of numbers in record arrays, anything
else by reference), re-exported here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import overload

from ..runtime import check_arrays  # noqa: F401 - called by the Python wrapper, not in njit
from .buffers import (  # noqa: F401
    keep_buffer,
    no_buffer,
    owned_unless,
    room,
    sums_like,
    total,
    zeros_into,
)
from .extrema import (  # noqa: F401
    builtin_extremum_adjoint,
    extremum_adjoint,
    maximum_adjoint,
    power_exponent_adjoint,
    safe_ratio,
)
from .products import dot_lhs, dot_rhs, matmul_lhs, matmul_rhs, transpose_adjoint  # noqa: F401
from .storage import is_array as _is_array
from .storage import is_number as _is_number
from .storage import (  # noqa: F401 - the tapes emitted code calls
    never,
    shape_get,
    shape_tape_like,
    spare,
    tape_capacity,
    tape_get,
    tape_grow,
    tape_like,
    tape_put,
)

# ---------------------------------------------------------------- adjoints


def unbroadcast(g, x):
    """g summed over the axes along which x was broadcast to g's shape."""


@overload(unbroadcast)
def _unbroadcast(g, x):
    if not _is_array(x):
        if _is_array(g):
            return lambda g, x: g.sum()
        return lambda g, x: g
    if not _is_array(g):
        return lambda g, x: np.full(x.shape, g, np.float64)
    if g.ndim == x.ndim:
        return lambda g, x: np.asarray(g) if g.shape == x.shape else _sum_to(g, x)
    if g.ndim > x.ndim:
        return lambda g, x: _sum_to(g, x)
    return None


@njit(cache=True)
def _sum_to(g, x):
    """g (of at least x's dimensions) summed into x's shape, an axis of length 1 of x
    taking the sum along it."""
    out = np.zeros(x.size)
    gshape, xshape = g.shape, x.shape
    lead = len(gshape) - len(xshape)
    flat = np.ascontiguousarray(g).ravel()
    for k in range(flat.size):
        rest, place, stride = k, 0, 1
        for axis in range(len(gshape) - 1, -1, -1):
            i = rest % gshape[axis]
            rest //= gshape[axis]
            if axis >= lead:
                size = xshape[axis - lead]
                if size != 1:
                    place += i * stride
                stride *= size
        out[place] += flat[k]
    return out.reshape(xshape)


def zeros_like(x):
    """A zero adjoint for x: 0.0 for a number, float zeros for an array."""


@overload(zeros_like)
def _zeros_like(x):
    if _is_array(x):
        return lambda x: np.zeros(x.shape, np.float64)
    if _is_number(x):
        return lambda x: 0.0
    return None


def densify(g, x):
    """g with x's type and shape: a number standing for zeros of an array becomes an array."""


@overload(densify)
def _densify(g, x):
    if _is_array(x) and not _is_array(g):
        return lambda g, x: np.full(x.shape, g, np.float64)
    if _is_array(x) or _is_number(g):
        return lambda g, x: g
    return None


def owned(g, x):
    """A fresh array of x's shape holding g, safe to update in place."""


@overload(owned)
def _owned(g, x):
    if _is_array(x):
        def impl(g, x):
            out = np.zeros(x.shape, np.float64)
            out += g
            return out
        return impl
    if _is_number(x):
        return lambda g, x: g
    return None


def sum_adjoint(g, x):
    """Adjoint of np.sum(x): g repeated over x's shape."""


@overload(sum_adjoint)
def _sum_adjoint(g, x):
    if _is_array(x):
        return lambda g, x: np.full(x.shape, g, np.float64)
    return lambda g, x: g


def mean_adjoint(g, x):
    """Adjoint of np.mean(x)."""


@overload(mean_adjoint)
def _mean_adjoint(g, x):
    if _is_array(x):
        return lambda g, x: np.full(x.shape, g / x.size, np.float64)
    return lambda g, x: g


def keep_zeros(g, out):
    """out (a contribution g * derivative), with exact zeros where g is exactly zero (an
    infinite derivative where nothing flows contributes 0, not nan)."""


@overload(keep_zeros)
def _keep_zeros(g, out):
    if _is_array(out):
        return lambda g, out: out if np.isfinite(out.sum()) else np.where(g == 0, 0.0, out)
    return lambda g, out: 0.0 if g == 0 else out


def check_seed(ans, seed, fname):
    """The seed (the Python wrapper checked it)."""


@overload(check_seed)
def _check_seed(ans, seed, fname):
    return lambda ans, seed, fname: seed


def snapshot(x):
    """A copy of x's current values."""


@overload(snapshot)
def _snapshot(x):
    if _is_array(x):
        return lambda x: x.copy()
    return lambda x: x


copy = snapshot  # `a[i].copy()` of the NumPy backend: an item may be a number here
kept = snapshot  # a value returned beside the gradient: an array or a number here


def restore(x, values):
    """x with its old values: written back in place for an array, else the old value."""


@overload(restore)
def _restore(x, values):
    if _is_array(x) and _is_array(values) and x.ndim == values.ndim:
        def impl(x, values):
            if x.shape == values.shape:
                x[...] = values
                return x
            return values
        return impl
    return lambda x, values: values


def written(g, y):
    """g where y holds floats; zero where it holds ints or bools (a cast)."""


@overload(written)
def _written(g, y):
    if not _is_array(y) or isinstance(y.dtype, (types.Float, types.Complex)):
        return lambda g, y: g
    if _is_array(g):
        return lambda g, y: np.zeros_like(g)
    return lambda g, y: 0.0


def rebinds_number(value, fname, target, other, op):
    """Nothing to check for a number (`s = c; s += v` rebinds it); an array is refused."""


@overload(rebinds_number)
def _rebinds_number(value, fname, target, other, op):
    if _is_array(value):
        raise TypingError("an augmented assignment on an array another name may share")
    return lambda value, fname, target, other, op: None


def rebinds_item(container, item, fname, place, op):
    """Nothing to check for an item of an array or a number (replaced); an array item of a
    list is refused."""


@overload(rebinds_item)
def _rebinds_item(container, item, fname, place, op):
    if _is_array(item) and not _is_array(container):
        raise TypingError("an augmented assignment on an array held in a list")
    return lambda container, item, fname, place, op: None


def check_distinct(index, fname, target, array=None):
    """Nothing to check for an index of numbers and slices (an array picking places is not
    compiled)."""


@overload(check_distinct)
def _check_distinct(index, fname, target, array=None):
    items = index.types if isinstance(index, types.BaseTuple) else (index,)
    if any(_is_array(t) for t in items):
        raise TypingError("an index holding an array of positions (written through in place)")
    return lambda index, fname, target, array=None: None


# ---------------------------------------------------------------- loops


def backwards(r, trips=-1):
    """The items of a range (or an array's rows) in reverse; with trips, of its first trips
    items (a loop left by break)."""


@overload(backwards)
def _backwards(r, trips=-1):
    if isinstance(r, types.RangeType):
        def impl(r, trips=-1):
            n = len(r) if trips < 0 else trips
            return range(r.start + (n - 1) * r.step, r.start - r.step, -r.step)
        return impl
    if _is_array(r):
        def impl_array(r, trips=-1):
            n = len(r) if trips < 0 else trips
            return r[:n][::-1]
        return impl_array
    return None
