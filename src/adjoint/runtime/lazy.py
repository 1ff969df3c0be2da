"""Adjoint buffers of Dask arrays: the reverse sweep's in-place writes as array expressions.

Emitted code updates an adjoint in place (`x_bar[1:-1] += g`, `x_bar[0] = 0.0`). Dask's own
`__setitem__` copies the whole graph of the value into each write, so a loop of writes
builds a graph quadratic in its length. The buffers that `zeros_like` and `owned` give for a
Dask array are a `Buffer`, a Dask array whose writes through ints, slices, `...` and `None`
rebuild it by slicing and concatenation: one small layer per write. A write through an
integer array goes to Dask's `__setitem__`; what Dask cannot write is refused with an
AdjointError that names the functional form. Dask is imported only when a Dask array shows up.

Dask's own `__setitem__` also copies the value's whole graph into one layer that declares no
dependency on it: graph optimization then fuses the value's layers anyway, the copy computes
them a second time, and the scheduler holds every chunk's intermediates until the end (a
gradient's memory grows with the data). So arithmetic on a Buffer gives a Buffer (emitted
code writes in place into the adjoints it makes with arithmetic, `x_bar = -g`), and a write
that Dask's `__setitem__` must do gets its layer's dependencies declared.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import UnsupportedArgument

FUNCTIONAL = ("write it without the in-place write: np.where(mask, new, x) for a masked "
              "update, np.concatenate of the pieces for a block, np.stack for rows")


def is_dask(x) -> bool:
    return type(x).__module__.startswith("dask.") and hasattr(x, "__dask_graph__")


def writable(x):
    """x itself, or for a Dask array a Buffer holding it: safe to write into in place."""
    if not is_dask(x) or type(x) is _buffer_type():
        return x
    return _buffer_type()(x.dask, x.name, x.chunks, meta=x._meta)


# operators whose result stays a Buffer (a new array: writes into it change nothing else)
_ARITHMETIC = tuple(f"__{op}__" for op in (
    "neg", "pos", "abs", "add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv",
    "pow", "rpow", "matmul", "rmatmul"))


def _kept(method, name):
    def op(self, *other):
        out = method(self, *other)
        return out if out is NotImplemented else writable(out)

    op.__name__ = op.__qualname__ = name
    return op


@functools.cache
def _buffer_type():
    import dask.array as da

    class Buffer(da.Array):
        """A Dask array written in place as array expressions (see adjoint.runtime.lazy)."""

        __slots__ = ()

        def __setitem__(self, key, value):
            new = put(da.Array(self.dask, self.name, self.chunks, meta=self._meta), key, value)
            self._meta, self.dask, self._name, self._chunks = (new._meta, new.dask, new.name,
                                                               new.chunks)

    for name in _ARITHMETIC:
        setattr(Buffer, name, _kept(getattr(da.Array, name), name))
    Buffer.__module__, Buffer.__qualname__ = "dask.array", "Buffer"  # a Dask array (is_dask)
    return Buffer


def put(a, key, value):
    """A new Dask array: `a` with `value` written at `key` (NumPy's rules of assignment)."""
    bounds = _region(key, a.shape)
    if bounds is None:  # integer arrays, masks, steps: Dask's own assignment, where it can
        return _dask_setitem(a, key, value)
    region, read_shape, _ = bounds
    import dask.array as da

    v = da.broadcast_to(da.asarray(value, dtype=a.dtype), read_shape)
    v = v.reshape(tuple(hi - lo for lo, hi in region))  # ints and Nones: axes of length 1
    if 0 in v.shape:
        return a
    return _place(a, region, v, 0)


def _region(key, shape):
    """((lo, hi) per axis, the shape a[key] has, kept axes) for a key of ints, slices with
    step 1, `...` and None; None for any other key."""
    key = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        used = sum(k is not None and k is not Ellipsis for k in key)
        key = key[:at] + (slice(None),) * (len(shape) - used) + key[at + 1:]
    region, read, axis = [], [], 0
    for k in key:
        if k is None:
            read.append(1)
            continue
        if axis >= len(shape):
            return None
        n = shape[axis]
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            i = int(k) + n * (int(k) < 0)
            if not 0 <= i < n:
                return None  # out of bounds: Dask's assignment says so
            region.append((i, i + 1))
        elif isinstance(k, slice):
            lo, hi, step = k.indices(n)
            if step != 1:
                return None
            region.append((lo, max(lo, hi)))
            read.append(max(hi - lo, 0))
        else:
            return None
        axis += 1
    for n in shape[axis:]:
        region.append((0, n))
        read.append(n)
    return region, tuple(read), axis


def _place(a, region, v, axis):
    """a with v written over the block `region` (v has the block's shape)."""
    import dask.array as da

    if axis == a.ndim:
        return v
    lo, hi = region[axis]
    n = a.shape[axis]
    at = (slice(None),) * axis
    middle = _place(a[at + (slice(lo, hi),)], region, v, axis + 1)
    if lo == 0 and hi == n:
        return middle
    pieces = [p for p in (a[at + (slice(0, lo),)], middle, a[at + (slice(hi, n),)])
              if p.shape[axis]]
    return da.concatenate(pieces, axis=axis)


def _dask_setitem(a, key, value):
    import dask.array as da

    out = da.Array(a.dask, a.name, a.chunks, meta=a._meta)
    try:
        out[key] = value
    except (NotImplementedError, ValueError, TypeError, IndexError) as exc:
        raise UnsupportedArgument(
            f"an in-place write into a Dask array at index {_spell(key)} ({exc}); Dask "
            f"cannot assign there: {FUNCTIONAL}") from None
    keys = key if isinstance(key, tuple) else (key,)
    return _declared(out, a, [v for v in (*keys, value) if is_dask(v)])


def _declared(out, a, inputs):
    """`out`, made by Dask's `__setitem__` from `a` and the Dask arrays `inputs` (value,
    index), with its layer holding only its own tasks and depending on the inputs' layers:
    Dask's copies of the inputs' tasks there would be computed apart from the inputs."""
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    if not inputs:
        return out
    theirs = set().union(*(v.__dask_graph__().keys() for v in inputs))
    own = {k: t for k, t in out.dask.layers[out.name].items() if k not in theirs}
    graph = HighLevelGraph.from_collections(out.name, own, dependencies=[a, *inputs])
    return da.Array(graph, out.name, out.chunks, meta=out._meta)


def add_at(acc, index, g):
    """acc[index] += g for a Dask array `acc` and an index with integer arrays: repeated
    entries of a NumPy index added up first, then one assignment (np.add.at, which Dask
    lacks)."""
    items = index if isinstance(index, tuple) else (index,)
    picks = [k for k, i in enumerate(items) if not isinstance(i, slice)]
    if len(picks) != 1 or not isinstance(items[picks[0]], (np.ndarray, list)) or \
            np.ndim(items[picks[0]]) != 1:  # one 1-d NumPy index among slices
        raise UnsupportedArgument(
            f"adding into a Dask array at index {_spell(index)}: Dask has no np.add.at; "
            f"{FUNCTIONAL}")
    at = picks[0]
    pick = np.asarray(items[at])
    if pick.dtype == bool:
        pick = np.flatnonzero(pick)
    unique, inverse = np.unique(pick, return_inverse=True)
    if len(unique) < len(pick):  # sum the rows that go to one place: a 0/1 matrix product
        import dask.array as da

        g = da.broadcast_to(da.asarray(g), acc[index].shape)
        onehot = (inverse[None, :] == np.arange(len(unique))[:, None]).astype(acc.dtype)
        g = da.moveaxis(da.tensordot(onehot, da.moveaxis(g, at, 0), axes=(1, 0)), 0, at)
        items = items[:at] + (unique,) + items[at + 1:]
    index = items if isinstance(index, tuple) else items[0]
    acc[index] = acc[index] + g
    return acc


def _spell(key) -> str:
    key = key if isinstance(key, tuple) else (key,)
    words = ["None" if k is None else "..." if k is Ellipsis else
             f"{k.start if k.start is not None else ''}:{k.stop if k.stop is not None else ''}"
             + (f":{k.step}" if k.step not in (None, 1) else "") if isinstance(k, slice) else
             repr(k) if isinstance(k, (int, np.integer)) else
             f"an array of shape {np.shape(k) if not hasattr(k, 'shape') else k.shape}"
             for k in key]
    return "[" + ", ".join(words) + "]"
