"""buffers: the helpers of adjoint arrays a reversed loop reuses (reuse.py), as numba
overloads (runtime.py re-exports them).

A loop that makes an adjoint's zeros each trip (`x_bar = runtime.zeros_like(x)`) may take
them from an array an earlier trip made and nothing reads any more, held in a buffer:

    if runtime.never():
        x_bar_pool = []                    # never made: types the buffer
    x_bar_buffer = runtime.no_buffer(x_bar_pool)
    for t in ...:
        x_bar = runtime.zeros_into(x_bar_buffer, x)
        if runtime.never():
            x_bar_pool.append(runtime.zeros_like(x))
        # ... the statements of the trip
        x_bar_buffer = runtime.keep_buffer(x_bar_buffer, y_bar)

and a copy that makes an adjoint safe to update in place (`runtime.owned`) is skipped after
the first trip, where the array is one the loop made and no other name reads.

Each helper is typed like the code it replaces (an array of float64 in C order of x's
dimensions, or the number); one given what it has no fast way for does what the plain
helper does. They are inlined where they are called (numba's IR), so the adjoint passes
through with no extra reference counting.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import intrinsic, overload

from .storage import empty_value, is_array


def _float_c(t, x) -> bool:
    """Whether t is the type zeros_like(x) has for an array x: float64, C order, writable."""
    return is_array(t) and is_array(x) and t.dtype == types.float64 and t.layout == "C" and \
        t.ndim == x.ndim and t.mutable


@intrinsic
def _empty_of(typingctx, pool):
    """An empty array of the type of the (never made) pool's items."""
    return pool.dtype(pool), lambda context, builder, sig, args: empty_value(
        context, builder, sig.return_type)


@intrinsic
def _empty_like(typingctx, array):
    """An empty array of array's type."""
    return array(array), lambda context, builder, sig, args: empty_value(
        context, builder, sig.return_type)


def no_buffer(pool):
    """An empty buffer of the type of the pool's items (the pool is never made)."""


@overload(no_buffer, inline="always")
def _no_buffer(pool):
    if not isinstance(pool, types.List):
        return None
    if is_array(pool.dtype):
        return lambda pool: _empty_of(pool)
    return lambda pool: 0.0  # zeros_like(x) of a number x


def zeros_into(buffer, x):
    """zeros_like(x), in the buffer's array where it has x's shape."""


@overload(zeros_into, inline="always")
def _zeros_into(buffer, x):
    from .runtime import zeros_like

    if not _float_c(buffer, x):
        return lambda buffer, x: zeros_like(x)

    def impl(buffer, x):
        if buffer.size > 0 and buffer.shape == x.shape:
            buffer[...] = 0.0
            return buffer
        return np.zeros(x.shape, np.float64)
    return impl


def keep_buffer(buffer, value):
    """value, the buffer's next array, where it has the buffer's type; else an empty one."""


@overload(keep_buffer, inline="always")
def _keep_buffer(buffer, value):
    if buffer == value:
        return lambda buffer, value: value
    if is_array(buffer):
        return lambda buffer, value: _empty_like(buffer)
    return lambda buffer, value: buffer


def owned_unless(g, x, later):
    """owned(g, x), or g itself where `later` (the loop made g and nothing else reads it) and
    g is already an array of x's shape and type."""


@overload(owned_unless, inline="always")
def _owned_unless(g, x, later):
    from .runtime import owned

    if not _float_c(g, x):
        return lambda g, x, later: owned(g, x)

    def impl(g, x, later):
        if later and g.shape == x.shape:
            return g
        out = np.zeros(x.shape, np.float64)
        out += g
        return out
    return impl


# ---------------------------------------------------------------- sums per index (spread.py)


def sums_like(x):
    """No sums yet of adds into the number x: an empty array of its type."""


@overload(sums_like)
def _sums_like(x):
    if isinstance(x, (types.Float, types.Complex)):
        dtype = x
        return lambda x: np.zeros(0, dtype)
    return None


def room(sums, size):
    """sums with `size` entries or more: the ones it has, then zeros."""


@overload(room)
def _room(sums, size):
    def impl(sums, size):
        out = np.zeros(max(size, 2 * len(sums)), sums.dtype)
        out[:len(sums)] = sums
        return out
    return impl


def total(sums):
    """The sum of the entries."""


@overload(total)
def _total(sums):
    return lambda sums: sums.sum()
