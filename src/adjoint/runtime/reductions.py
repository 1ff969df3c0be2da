"""Adjoints of reductions: sums, means, extrema, products, variances, cumulative sums."""

from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedArgument
from . import arrays, lazy
from .containers import parts, zeros_like
from .elementwise import safe_ratio
from .shapes import _float_dtype, _is_zero, _ndim, _shape, _weights, unbroadcast


def _expand(g, x, axis, keepdims, shape=None):
    """g with the reduced axes put back (length 1), after a reduction of x over `axis`."""
    shape = _shape(x) if shape is None else shape
    if axis is not None and not keepdims and _ndim(g):  # a number broadcasts as it is
        axes = {axis % len(shape)} if isinstance(axis, int) else {a % len(shape) for a in axis}
        g = g.reshape([1 if k in axes else n for k, n in enumerate(shape)])
    return g, shape


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """The reduced axes, non-negative: all of them for axis=None."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in ((axis,) if isinstance(axis, int) else axis)))


def sum_adjoint(g, x, axis=None, keepdims=False, where=None):
    """Adjoint of np.sum(x, axis, keepdims=keepdims, where=where): g repeated along the
    summed axes (and 0 where `where` leaves an entry out)."""
    if not _shape(x):
        return g if where is None else np.where(where, g, 0.0)
    if axis is None and where is None and type(x) is np.ndarray and x.dtype == np.float64 \
            and (type(g) is float or type(g) is np.float64):  # the common case, no dispatch
        out = np.empty(x.shape)
        out.fill(g)
        return out
    if type(x) is np.ndarray and type(g) is np.ndarray and x.dtype == np.float64 and \
            g.dtype == np.float64 and where is None:  # NumPy's float64 arrays, no dispatch
        out = np.empty(x.shape)
        out[...] = _expand(g, x, axis, keepdims)[0]
        return out
    g, shape = _expand(g, x, axis, keepdims)
    own = getattr(x, "dtype", None)  # a list of float32 arrays has the dtype of its items
    own = own if own is not None else _float_dtype(*x) if isinstance(x, (list, tuple)) else float
    dtype = np.result_type(own, arrays.dtype_of(g), 1.0)  # float32 stays float32
    if arrays.on_host(x, g):
        out = np.empty_like(x, dtype=dtype)
        out[...] = g
    else:  # CuPy, Dask: an array expression in x's library (g may be NumPy's, x not)
        out = np.zeros_like(x, dtype=dtype) if arrays.foreign(x) else arrays.zeros(
            shape, dtype, g)
        out = lazy.writable(out + g)  # a Dask adjoint: a Buffer, to write into
    return out if where is None else np.where(where, out, 0.0)


def sum_back(c, v, axis=None, keepdims=False, where=None):
    """Adjoint of v in sum_adjoint(v, x, axis, keepdims, where): c (x's shape) summed
    over the axes v was repeated along."""
    if where is not None:
        c = np.where(where, c, 0.0)
    if not _shape(c):
        return c
    out = np.sum(c, axis=axis, keepdims=keepdims)
    return np.reshape(out, _shape(v)) if _ndim(v) else out


def mean_back(c, v, x, axis=None, keepdims=False, where=None):
    """Adjoint of v in mean_adjoint(v, x, axis, keepdims, where)."""
    if where is not None:
        n = np.sum(np.broadcast_to(where, _shape(x)), axis=axis, keepdims=keepdims)
        return sum_back(c / _weights(np.maximum(n, 1), c, x), v, axis, keepdims, where)
    return sum_back(c, v, axis, keepdims) / _count(_shape(x), axis)


def mean_adjoint(g, x, axis=None, keepdims=False, where=None):
    """Adjoint of np.mean(x, axis, keepdims=keepdims, where=where)."""
    if where is not None:
        n = _weights(np.sum(np.broadcast_to(where, _shape(x)), axis=axis, keepdims=True), g, x)
        return sum_adjoint(_expand(g, x, axis, keepdims)[0] / n, x, axis, True, where)
    return sum_adjoint(g / _count(_shape(x), axis), x, axis, keepdims)


def _count(shape, axis) -> int:
    """The number of entries a reduction over `axis` of an array of `shape` sums: from the
    shape alone (np.size of a Dask array would compute it)."""
    return math.prod(shape[a] for a in _axes(axis, len(shape)))


def extremum_adjoint(g, x, ans, axis=None, keepdims=False, where=None):
    """Adjoint of max/min (np.max, np.amax, np.nanmax, ...): g goes to the positions that
    attain the extremum, split equally among ties; none if `initial` beat every entry."""
    if type(x) is np.ndarray and x.dtype == np.float64 and axis is None and where is None and (
            type(g) is float or type(g) is np.float64):  # the common case, no dispatch
        hit = x == ans
        count = np.count_nonzero(hit)
        return (g if count == 1 else g / max(count, 1)) * hit if x.ndim else g
    if not _shape(x):
        return g
    host = arrays.on_host(x, g, ans)  # else no value is read: ties divide as an array
    if axis is None and where is None:  # a full reduction: one position, or ties
        hit = np.equal(x, ans)
        share = g * _weights(hit, g, x)
        if not host:
            return share / _weights(np.maximum(np.sum(hit), 1), g, x)
        count = np.count_nonzero(hit)
        return share if count == 1 else share / max(count, 1)
    g, shape = _expand(g, x, axis, keepdims)
    a, _ = _expand(ans, x, axis, keepdims)
    hit = x == a
    if where is not None:
        hit = hit & where
    count = hit.sum(axis=axis, keepdims=True)
    if host and np.all(count == 1):  # no ties: no need to divide
        return g * _weights(hit, g, x)
    return g * _weights(hit, g, x) / _weights(np.maximum(count, 1), g, x)


def ptp_adjoint(g, x, axis=None, keepdims=False):
    """Adjoint of np.ptp(x, axis) = max - min."""
    top = np.max(x, axis=axis, keepdims=True)
    bottom = np.min(x, axis=axis, keepdims=True)
    return extremum_adjoint(g, x, top, axis, keepdims) - extremum_adjoint(g, x, bottom, axis,
                                                                          keepdims)


def prod_adjoint(g, x, ans, axis=None, keepdims=False, initial=None, where=None):
    """Adjoint of np.prod(x, axis, keepdims=..., initial=..., where=...); exact also where
    some entries are zero."""
    scale = 1.0 if initial is None else initial
    if not np.shape(x):
        return g * scale if where is None else np.where(where, g * scale, 0.0)
    g, _ = _expand(g, x, axis, keepdims)
    if where is not None:
        x = np.where(where, x, 1.0)
    out = g * _prod_others_axes(x, axis) * scale
    return out if where is None else np.where(where, out, 0.0)


def _prod_others_axes(x, axis):
    """The product of the other entries of each entry's slice, over one or several axes."""
    nd = _ndim(x)
    axes = _axes(axis, nd)
    last = tuple(range(nd - len(axes), nd))
    moved = np.moveaxis(x, axes, last)
    flat = np.reshape(moved, moved.shape[:nd - len(axes)] + (-1,))
    others = np.reshape(_prod_others(flat, -1), moved.shape)
    return np.moveaxis(others, last, axes)


def _prod_others(x, axis):
    """The product of all entries but one along `axis`, for each entry."""
    x = np.moveaxis(x, axis, -1)
    left = np.cumprod(np.concatenate([np.ones_like(x[..., :1]), x[..., :-1]], -1), -1)
    right = np.cumprod(np.concatenate([np.ones_like(x[..., :1]), x[..., :0:-1]], -1), -1)
    return np.moveaxis(left * right[..., ::-1], -1, axis)


def var_adjoint(g, x, axis=None, ddof=0, keepdims=False, mean=None, correction=None,
                where=None):
    """Adjoint of np.var(x, axis, ddof=ddof, keepdims=..., mean=..., correction=...):
    2 (x - mean) / (n - ddof), g spread along the reduced axes."""
    if where is not None:
        raise UnsupportedArgument("the gradient of np.var/np.std with where=")
    x = np.asarray(x) if isinstance(x, (list, tuple)) else x  # as np.var reads a list
    ddof = correction if correction is not None else ddof
    n = _count(_shape(x), axis)
    g, _ = _expand(g, x, axis, keepdims)
    centre = np.mean(x, axis=axis, keepdims=True) if mean is None else mean
    return g * (2.0 / (n - ddof)) * (x - centre)


def std_adjoint(g, x, ans, axis=None, ddof=0, keepdims=False, mean=None, correction=None,
                where=None):
    """Adjoint of np.std: var's adjoint of g / (2 std); 0 where std is 0 (all entries equal:
    the zero subgradient, as for a norm at the origin), and where it is at the level of
    rounding (entries equal but for rounding: x - mean is noise there, not a direction)."""
    x = np.asarray(x) if isinstance(x, (list, tuple)) else x  # as np.std reads a list
    level = np.max(np.abs(x), axis=axis, keepdims=keepdims) * (
        16 * np.finfo(np.result_type(arrays.dtype_of(x), np.float32)).eps)
    half = safe_ratio(0.5 * g, np.where(ans <= level, 0.0, ans) if _ndim(ans) or not
                      arrays.on_host(ans, level) else (0.0 if ans <= level else ans))
    return var_adjoint(half, x, axis, ddof, keepdims, mean, correction, where)


def _reverse_cumsum(g, axis):
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def cumsum_adjoint(g, x, axis=None):
    """Adjoint of np.cumsum(x, axis): the reversed cumulative sum of g (x flattened when
    axis is None)."""
    if axis is None:
        return np.reshape(_reverse_cumsum(np.ravel(g), 0), np.shape(x))
    return _reverse_cumsum(g, axis)


def cumprod_adjoint(g, x, ans, axis=None):
    """Adjoint of np.cumprod(x, axis); exact also where entries are zero (then O(n^2) along
    the axis)."""
    shape = np.shape(x)
    if axis is None:
        x, g, ans, axis = np.ravel(x), np.ravel(g), np.ravel(ans), 0
    if np.all(x != 0):
        return np.reshape(_reverse_cumsum(g * ans, axis) / x, shape)
    xm, gm = np.moveaxis(x, axis, -1), np.moveaxis(g, axis, -1)
    n = xm.shape[-1]
    eye = np.eye(n, dtype=bool)
    # row i: x with x_i replaced by 1; its cumulative product at j >= i is d ans_j / d x_i
    partial = np.cumprod(np.where(eye, 1.0, xm[..., None, :]), axis=-1)
    out = np.sum(np.triu(partial) * gm[..., None, :], axis=-1)
    return np.reshape(np.moveaxis(out, -1, axis), shape)


def nansum_adjoint(g, x, axis=None, keepdims=False, where=None):
    """Adjoint of np.nansum: as np.sum, and 0 at the NaN entries."""
    return np.where(np.isnan(x), 0.0, sum_adjoint(g, x, axis, keepdims, where))


def nanmean_adjoint(g, x, axis=None, keepdims=False, where=None):
    """Adjoint of np.nanmean: g over the count of non-NaN entries, 0 at the NaN entries."""
    keep = ~np.isnan(x) if where is None else ~np.isnan(x) & where
    n = _weights(np.sum(keep, axis=axis, keepdims=True), g, x)
    return np.where(keep, sum_adjoint(_expand(g, x, axis, keepdims)[0] / n, x, axis, True), 0.0)


def average_adjoint(g, a, ans, axis=None, weights=None, returned=False, keepdims=False,
                    of="a"):
    """Adjoint of `a` (or of `weights`, with of='weights') in
    np.average(a, axis, weights, returned, keepdims=...)."""
    if returned:  # ans and g are pairs: (average, sum of weights)
        (ans, _), (g, g_total) = ans, parts(g, ans)
    else:
        g_total = 0.0
    if weights is None:
        return mean_adjoint(g, a, axis, keepdims) if not _is_zero(g) else zeros_like(a)
    w = weights
    if _ndim(w) != _ndim(a):  # 1-d weights along `axis`
        shape = [1] * _ndim(a)
        shape[axis % _ndim(a)] = np.size(w)
        w = np.reshape(w, shape)
    g, _ = _expand(g, a, axis, keepdims)
    avg, _ = _expand(ans, a, axis, keepdims)
    total = np.sum(w, axis=axis, keepdims=True)
    if of == "a":
        return unbroadcast(np.broadcast_to(g * w / total, np.shape(a)) * 1.0, a)
    g_total, _ = _expand(g_total, a, axis, keepdims)
    share = np.broadcast_to(g * (a - avg) / total + g_total, np.broadcast_shapes(
        np.shape(a), np.shape(w)))
    return np.reshape(unbroadcast(share * 1.0, w), np.shape(weights))


def cov_adjoint(g, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
                aweights=None):
    """Adjoint of np.cov(m, rowvar=..., bias=..., ddof=...): C = Xc Xc^T / (n - ddof) over
    the centred variables Xc, so Xc's adjoint is (G + G^T) Xc / (n - ddof), centred."""
    if y is not None or fweights is not None or aweights is not None:
        raise UnsupportedArgument("the gradient of np.cov with y=, fweights= or aweights=")
    x = np.atleast_2d(np.asarray(m, dtype=float))
    flip = not rowvar and x.shape[0] != 1
    if flip:
        x = x.T
    ddof = (0 if bias else 1) if ddof is None else ddof
    centred = x - x.mean(axis=1, keepdims=True)
    k = x.shape[0]
    g = np.broadcast_to(g, (k, k))  # (a 0-d result for one variable, or the number 0.0)
    out = (g + g.T) @ centred / (x.shape[1] - ddof)
    out = out - out.mean(axis=1, keepdims=True)
    return np.reshape(out.T if flip else out, np.shape(m))
