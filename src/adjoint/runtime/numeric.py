"""Adjoints of np.gradient, np.linspace, np.partition, np.append, np.rollaxis, the real and
imaginary parts of real arrays, sorted() and dict.get."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedArgument
from .arrays import dtype_of
from .containers import densify, parts, per_item, zeros_like
from .indexing import _shaped_like
from .shapes import _is_zero, _ndim, _weights, unbroadcast


def gradient_adjoint(g, f, varargs=(), axis=None, edge_order=1, ans=None):
    """Adjoint of np.gradient(f, *varargs, axis=axis, edge_order=edge_order): along each
    axis differentiated, its (linear) differences transposed. The spacing is what NumPy
    takes: none (1), one number for every axis, or one number or coordinate array per axis."""
    nd = _ndim(f)
    axes = tuple(range(nd)) if axis is None else (axis,) if isinstance(axis, int) else tuple(
        axis)
    axes = tuple(a % nd for a in axes)
    gs = [g] if len(axes) == 1 else parts(g, ans)
    if len(varargs) == 0:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = list(varargs) * len(axes)
    else:
        spacings = list(varargs)  # one per axis: np.gradient checked there are as many
    out = zeros_like(f)
    for ax, gk, h in zip(axes, gs, spacings, strict=True):
        if not _is_zero(gk):
            moved = np.moveaxis(gk, ax, -1)
            out = out + np.moveaxis(_differences_transposed(moved, h, edge_order), -1, ax)
    return _weights(out, f) if not _is_zero(out) else out


def _differences_transposed(g, h, edge_order):
    """The adjoint of np.gradient(f, h, edge_order=edge_order) along the last axis, given g.
    An entry of the result reads at most three consecutive entries of f (the two ends with
    edge_order=2 read their first or last three), so np.gradient run on three probes (1 at
    every third entry, starting at 0, 1 and 2) gives each weight apart: coef[j % 3, i] is
    the weight of f[j] in entry i."""
    n = g.shape[-1]
    coef = np.stack([np.gradient((np.arange(n) % 3 == r) * 1.0, h, edge_order=edge_order)
                     for r in range(3)])
    out = np.zeros_like(g, dtype=np.result_type(dtype_of(g), coef))
    for d in (-1, 0, 1):  # entry i reads f[i + d]
        i = np.arange(max(0, -d), n - max(0, d))
        out[..., i + d] += g[..., i] * coef[(i + d) % 3, i]
    if edge_order == 2:  # the first entry reads f[2], the last f[n - 3]
        out[..., 2] += g[..., 0] * coef[2, 0]
        out[..., n - 3] += g[..., n - 1] * coef[(n - 3) % 3, n - 1]
    return out


def linspace_adjoint(g, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
                     axis=0, ans=None, of="start"):
    """Adjoint of `start` (or `stop`, of='stop') in np.linspace(start, stop, num, ...):
    sample k is start + (stop - start) k / div (div = num - 1 with the endpoint, else num),
    and the step (retstep=True) is (stop - start) / div."""
    x = stop if of == "stop" else start
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.inexact):
        return zeros_like(x)  # rounded down to integers: a derivative of zero, as np.floor
    gstep = 0.0
    if retstep:
        g, gstep = parts(g, ans)
    div = num - 1 if endpoint else num
    t = np.arange(num) / div if div > 0 else np.zeros(num)
    weight = t if of == "stop" else 1 - t
    total = 0.0
    if not _is_zero(g):
        total = np.tensordot(weight, np.moveaxis(g, axis, 0), axes=(0, 0))
    if not _is_zero(gstep) and div > 0:
        total = total + (gstep if of == "stop" else -gstep) / div
    if _is_zero(total):
        return zeros_like(x)
    shape = np.broadcast_shapes(np.shape(start), np.shape(stop))
    return unbroadcast(np.broadcast_to(total, shape) * 1.0, x)


def partition_adjoint(g, a, ans, axis=-1):
    """Adjoint of np.partition(a, kth, axis): g sent back through the arrangement, found by
    matching the sorted values of a and of the result along the axis (among equal entries
    any match is as good: they move together)."""
    if axis is None:
        return np.reshape(partition_adjoint(g, np.ravel(a), ans, 0), np.shape(a))
    source = np.empty_like(a, dtype=np.intp)  # the entry of a at each place of ans
    np.put_along_axis(source, np.argsort(ans, axis, kind="stable"),
                      np.argsort(a, axis, kind="stable"), axis)
    out = np.zeros_like(g)  # g has a's shape (a may be a list)
    np.put_along_axis(out, source, g, axis)
    return out


def append_adjoint(g, arr, values, axis=None, of="arr"):
    """Adjoint of `arr` (or `values`, of='values') in np.append(arr, values, axis): its part
    of g (of the flattened g without an axis), in its form (an array, a number, a list)."""
    item = values if of == "values" else arr
    if axis is None:
        cut = np.size(arr)
        flat = np.ravel(g)
        piece = flat[cut:] if of == "values" else flat[:cut]
    else:
        piece = np.split(g, [np.shape(arr)[axis]], axis)[1 if of == "values" else 0]
    return _shaped_like(np.ravel(piece), item)


def rollaxis_adjoint(g, a, axis, start=0):
    """Adjoint of np.rollaxis(a, axis, start): the axis moved back from where it went."""
    n = _ndim(a)
    axis = axis % n
    start = start + n if start < 0 else start
    return np.moveaxis(g, start - 1 if axis < start else start, axis)


def real_adjoint(g, val, name="np.real"):
    """Adjoint of np.real(val), val.real or np.real_if_close(val) for a real val: g."""
    if np.iscomplexobj(val):
        raise UnsupportedArgument(f"the gradient of {name} of a complex array (adjoint's rules "
                                  "are for real values)")
    if isinstance(val, (list, tuple)):
        return _shaped_like(np.ravel(g), val)
    return np.reshape(g, np.shape(val)) if _ndim(val) or _ndim(g) else g


def imag_adjoint(g, val):
    """Adjoint of np.imag(val) or val.imag for a real val: zeros (its imaginary part is 0)."""
    if np.iscomplexobj(val):
        raise UnsupportedArgument("the gradient of np.imag of a complex array (adjoint's rules "
                                  "are for real values)")
    return zeros_like(val)


def sorted_adjoint(g, iterable, key=None, reverse=False):
    """Adjoint of sorted(iterable, key=key, reverse=reverse): item k of g goes back to the
    item sorted into place k. The order is found again by sorting the positions (Python's
    sort is stable, with reverse=True too), so equal items keep theirs."""
    if _is_zero(g) or isinstance(iterable, dict):
        return 0.0  # nothing flows back, or a dict's keys, which carry none
    items = list(iterable)
    rank = (lambda i: items[i]) if key is None else (lambda i: key(items[i]))
    order = sorted(range(len(items)), key=rank, reverse=reverse)
    out: list = [0.0] * len(items)
    for place, i in enumerate(order):
        out[i] = densify(g[place], items[i])
    return per_item(out, iterable)


def sorted_tangent(iterable, t, key=None, reverse=False):
    """Tangent of sorted(iterable, key=key, reverse=reverse) along t (the items' tangents,
    or a zero): t's items in the order sorted puts the items in."""
    items = list(iterable)
    if _is_zero(t):
        return [0.0] * len(items)
    rank = (lambda i: items[i]) if key is None else (lambda i: key(items[i]))
    return [t[i] for i in sorted(range(len(items)), key=rank, reverse=reverse)]


def dict_get_adjoint(g, d, key):
    """Adjoint of the dict d in d.get(key, default): g at `key` when d holds it, zeros at
    the other keys."""
    if not isinstance(d, dict):
        raise UnsupportedArgument(f"the gradient of .get() of a {type(d).__name__}: adjoint "
                                  "differentiates the .get() of a dict")
    return {k: densify(g, v) if k == key else zeros_like(v) for k, v in d.items()}


def dict_default_adjoint(g, d, key, default):
    """Adjoint of `default` in d.get(key, default): g when d has no `key`, else zeros."""
    if isinstance(d, dict) and key in d:
        return zeros_like(default)
    return densify(g, default)


def dict_get_tangent(t, d, key, of="self"):
    """Tangent of d.get(key, default) along t, the tangent of d (of="self": its entry at
    key, where d holds it) or of the default (where d does not)."""
    held = isinstance(d, dict) and key in d
    if of == "self":
        return t[key] if held else 0.0
    return 0.0 if held else t


def trapezoid_adjoint(g, y, x=None, dx=1.0, axis=-1, of="y"):
    """Adjoint of y (of='y'), x or dx in np.trapezoid(y, x, dx, axis): the integral is
    sum_k d_k (y_k + y_k+1) / 2 along the axis (d_k = x_k+1 - x_k, or dx), linear in y
    and in each spacing."""
    y = np.asarray(y, dtype=float)
    axis = axis % y.ndim
    n = y.shape[axis]
    if of == "dx":  # the integral with unit spacing
        pairs = 0.5 * (np.take(y, range(n - 1), axis) + np.take(y, range(1, n), axis))
        return np.sum(g * np.sum(pairs, axis=axis))
    g = np.expand_dims(np.asarray(g, dtype=float), axis)
    shape = [1] * y.ndim
    shape[axis] = y.shape[axis]
    xs = None if x is None else np.asarray(x, dtype=float)
    if xs is None:
        spacing = np.full([n - 1 if k == axis else 1 for k, n in enumerate(shape)], dx,
                          dtype=float)
    else:
        spacing = np.diff(xs.reshape(shape) if xs.ndim == 1 else xs, axis=axis)
    if of == "y":
        return unbroadcast(g * 0.5 * (_shifted(spacing, axis, 1) + _shifted(spacing, axis, 0)),
                           y)
    pairs = 0.5 * (np.take(y, range(n - 1), axis) + np.take(y, range(1, n), axis))
    out = g * (_shifted(pairs, axis, 1) - _shifted(pairs, axis, 0))  # pair j-1 less pair j
    return unbroadcast(out, xs.reshape(shape) if xs.ndim == 1 else xs).reshape(xs.shape)


def _shifted(d, axis: int, before: int):
    """d with a zero added along the axis, before its first entry (1) or after its last."""
    width = [(0, 0)] * d.ndim
    width[axis] = (before, 1 - before)
    return np.pad(d, width)


def polyval_adjoint(g, p, x, of="p"):
    """Adjoint of p (coefficients, highest power first) or x in np.polyval(p, x)."""
    p = np.asarray(p, dtype=float)
    if of == "x":
        return g * np.polyval(np.polyder(p), x) if p.size > 1 else zeros_like(x)
    powers = np.asarray(x, dtype=float)[..., None] ** np.arange(p.size - 1, -1, -1)
    return np.sum(np.asarray(g)[..., None] * powers, axis=tuple(range(powers.ndim - 1)))


def convolve_adjoint(g, a, v, mode="full", of="a"):
    """Adjoint of a (of='a') or v in np.convolve(a, v, mode) of vectors: g placed back in
    the full convolution, then correlated with the other input."""
    shape = np.shape(a if of == "a" else v)  # a number is a vector of one item
    a, v = np.atleast_1d(np.asarray(a, dtype=float)), np.atleast_1d(np.asarray(v, dtype=float))
    n, m = a.size, v.size
    full = np.zeros(n + m - 1)
    start = {"full": 0, "same": (n + m - 1 - max(n, m)) // 2, "valid": min(n, m) - 1}[mode]
    full[start:start + np.size(g)] = g
    return np.correlate(full, v if of == "a" else a, mode="valid").reshape(shape)


def median_adjoint(g, a, axis=None, keepdims=False):
    """Adjoint of np.median(a, axis): g at the middle entry along the axis, or half of it at
    each of the two middle ones (an even count)."""
    a = np.asarray(a, dtype=float)
    if axis is None:
        return median_adjoint(np.reshape(g, (1,)), np.ravel(a), 0).reshape(a.shape)
    if isinstance(axis, (tuple, list)):  # the axes moved last and joined into one
        axes = tuple(k % a.ndim for k in axis)
        if not keepdims:
            g = np.expand_dims(g, axes)
        moved = np.moveaxis(a, axes, range(a.ndim - len(axes), a.ndim))
        joined = moved.reshape(*moved.shape[:a.ndim - len(axes)], -1)
        g = np.reshape(np.moveaxis(g, axes, range(a.ndim - len(axes), a.ndim)),
                       (*moved.shape[:a.ndim - len(axes)], 1))
        out = median_adjoint(g, joined, -1, keepdims=True).reshape(moved.shape)
        return np.moveaxis(out, range(a.ndim - len(axes), a.ndim), axes)
    axis = axis % a.ndim
    n = a.shape[axis]
    order = np.argsort(a, axis=axis)
    weights = np.zeros(n)
    weights[(n - 1) // 2] += 0.5
    weights[n // 2] += 0.5
    shape = [1] * a.ndim
    shape[axis] = n
    g = np.asarray(g, dtype=float) if keepdims else np.expand_dims(g, axis)
    out = np.zeros_like(a)
    np.put_along_axis(out, order, g * weights.reshape(shape), axis)
    return out


def matrix_power_adjoint(g, a, n):
    """Adjoint of np.linalg.matrix_power(a, n): sum_k (a^T)^k g (a^T)^(n-1-k) for n > 0;
    through the inverse for n < 0."""
    a = np.asarray(a, dtype=float)
    if n == 0:
        return np.zeros_like(a)
    if n < 0:
        inv = np.linalg.inv(a)
        inner = matrix_power_adjoint(g, inv, -n)
        t = np.swapaxes(inv, -1, -2)
        return -(t @ inner @ t)
    t = np.swapaxes(a, -1, -2)
    powers = [np.broadcast_to(np.eye(a.shape[-1]), a.shape)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ t)
    return sum(powers[k] @ g @ powers[n - 1 - k] for k in range(n))


def interp_adjoint(g, x, xp, fp, left=None, right=None, period=None, of="x"):
    """Adjoint of np.interp(x, xp, fp, left, right) with respect to `of` (x, xp, fp, left or
    right): each x is a weighted mean of the two values of fp around it (left or right, or
    the end value, outside xp's range)."""
    xs, xp, j, t, slope, below, above = _interp_places(x, xp, fp, period)
    g = np.broadcast_to(g, xs.shape)
    n = xp.shape[0]
    inside = ~below & ~above
    if of == "x":
        return unbroadcast(np.where(inside, g * slope, 0.0), x)
    if of in ("left", "right"):
        return np.sum(np.where(below if of == "left" else above, g, 0.0))
    weight = np.where(inside, g, 0.0) if of == "fp" else np.where(inside, -g * slope, 0.0)
    out = np.zeros(n)
    np.add.at(out, j, weight * (1 - t))
    np.add.at(out, j + 1, weight * t)
    if of == "fp":
        out[0] += np.sum(g[below]) if left is None else 0.0
        out[-1] += np.sum(g[above]) if right is None else 0.0
    return out


def interp_tangent(g, x, xp, fp, left=None, right=None, period=None, of="x"):
    """Tangent of np.interp(x, xp, fp, left, right) along the tangent g of `of`."""
    xs, xp, j, t, slope, below, above = _interp_places(x, xp, fp, period)
    inside = ~below & ~above
    if of == "x":
        out = np.where(inside, g * slope, 0.0)
    elif of in ("left", "right"):
        out = np.where(below if of == "left" else above, g, 0.0)
    else:
        g = np.asarray(g, float)
        mixed = (1 - t) * g[j] + t * g[j + 1]
        if of == "xp":
            out = np.where(inside, -slope * mixed, 0.0)
        else:
            out = np.where(inside, mixed, 0.0)
            out = np.where(below & (left is None), g[0], out)
            out = np.where(above & (right is None), g[-1], out)
    return out if np.ndim(x) else float(out)


def _interp_places(x, xp, fp, period):
    """For each x of np.interp: the segment j of xp it falls in, where in it (t in [0, 1]),
    the segment's slope, and whether it lies below or above xp's range."""
    if period is not None:
        raise UnsupportedArgument("np.interp with period= has no derivative rule")
    xs, xp, fp = np.asarray(x, float), np.asarray(xp, float), np.asarray(fp, float)
    j = np.clip(np.searchsorted(xp, xs, side="right") - 1, 0, xp.shape[0] - 2)
    width = xp[j + 1] - xp[j]
    return (xs, xp, j, (xs - xp[j]) / width, (fp[j + 1] - fp[j]) / width, xs < xp[0],
            xs > xp[-1])
