"""Helpers that emitted gradient code calls for the hard cases.

Small and boring on purpose: each helper is a few lines of NumPy that dispatch
through NumPy's array protocols (no `np.asarray`, no allocation from a bare
shape), so emitted code runs on any array type that implements them.

A Python float `0.0` stands for a zero adjoint of any shape wherever one is
needed before a loop or branch: it is the additive identity under
broadcasting, and `unbroadcast` and `densify` give it its proper shape.
"""

from __future__ import annotations

import functools
import math
import operator

import numpy as np

from .errors import ApiError, InternalError, NonScalarOutput, UnsupportedArgument

# ---------------------------------------------------------------- shapes


def _shape(x) -> tuple:
    t = type(x)
    if t is np.ndarray or t is np.float64:  # no dispatch: np.shape costs ten times more
        return x.shape
    if t is float or t is int:
        return ()
    try:
        return x.shape
    except AttributeError:
        return np.shape(x)


def _ndim(x) -> int:
    t = type(x)
    if t is np.ndarray:
        return x.ndim
    if t is float or t is int or t is np.float64:
        return 0
    return np.ndim(x)


def unbroadcast(g, x):
    """`g`, summed over the axes along which `x` was broadcast to g's shape."""
    if type(g) is float:
        return g
    gshape, xshape = _shape(g), _shape(x)
    if gshape == xshape:
        return g
    if not xshape:  # a number broadcast against an array: the sum
        return g.sum()
    if len(gshape) < len(xshape) or (gshape != xshape and not gshape):
        return np.broadcast_to(g, xshape) * 1.0 if not _is_zero(g) else g
    lead = len(gshape) - len(xshape)
    axes = tuple(range(lead)) + tuple(
        lead + k for k, n in enumerate(xshape) if n == 1 and gshape[lead + k] != 1
    )
    out = g.sum(axis=axes, keepdims=True) if axes else g
    out = out.reshape(xshape)
    return out if xshape else out[()]


def _is_zero(g) -> bool:
    """Whether g is the number 0 standing for zeros of any shape (0.0 divided by a NumPy
    scalar on its way is still one)."""
    return (type(g) is float or type(g) is np.float64) and g == 0.0


def zeros_like(x):
    """A zero adjoint for `x`: 0.0 for a number, float zeros for an array, one per item of a
    list or tuple (as a list), one per entry of a dict."""
    if type(x) is np.ndarray:  # the common case, without dispatch
        return np.zeros(x.shape, x.dtype if x.dtype.kind in "fc" else np.float64)
    if isinstance(x, (list, tuple)):
        return [zeros_like(v) for v in x]
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    if isinstance(x, (int, float, complex)) or not hasattr(x, "dtype"):
        return 0.0  # a number, or what carries no adjoint (None, a function): a zero
    dtype = x.dtype if np.issubdtype(x.dtype, np.inexact) else float
    return np.zeros_like(x, dtype=dtype)


def densify(x_bar, x):
    """`x_bar` with the type and shape of `x`: a symbolic zero becomes real zeros, and the
    adjoint of a tuple or dict becomes a tuple or dict."""
    if isinstance(x, dict):
        return {k: densify(0.0 if _is_zero(x_bar) else x_bar[k], v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):  # x may have grown since: appends not yet undone
        items = [densify(b, v) for b, v in zip(_items(x_bar, len(x)), x, strict=False)]
        return tuple(items) if isinstance(x, tuple) else items
    if _is_zero(x_bar) and not isinstance(x, (int, float)):
        return zeros_like(x)
    return x_bar


def owned(x_bar, x):
    """A fresh array of x's shape holding `x_bar`, safe to update in place (for a list or
    dict: a fresh list or dict of fresh items)."""
    if isinstance(x, (list, tuple)):  # x may have grown since: appends not yet undone
        return [owned(b, v) for b, v in zip(_items(x_bar, len(x)), x, strict=False)]
    if isinstance(x, dict):
        return {k: owned(0.0 if _is_zero(x_bar) else x_bar[k], v) for k, v in x.items()}
    out = zeros_like(x)
    if isinstance(out, float):
        return x_bar
    out += x_bar
    return out


def _items(x_bar, n):
    return [0.0] * n if _is_zero(x_bar) else x_bar


def add_at(acc, index, g):
    """acc[index] += g, adding repeated fancy indices once each; returns acc."""
    if isinstance(acc, (list, dict)):
        acc[index] = add_seq(acc[index], g)
    elif isinstance(index, (int, np.integer, slice)) or (type(index) is tuple and all(
            isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
            for i in index)):
        acc[index] += g  # basic indexing selects each entry once
    else:
        np.add.at(acc, index, g)
    return acc


def check_arrays(fname: str, **values) -> None:
    """Refuse a list, tuple or dict where code compiled for no call in particular took an
    argument to hold an array or a number (its adjoints add with `+`)."""
    for name, value in values.items():
        if isinstance(value, (list, tuple, dict)):
            raise ApiError(f"this gradient of {fname} was compiled for an array or a number in "
                           f"{name}, not a {type(value).__name__}: compile it for this call "
                           f"with adjoint.grad({fname}), which specializes on lists, or pass "
                           "an array")


def rebinds(value, fname: str, param: str) -> None:
    """Refuse `q += v` in a function the differentiated code calls when q holds an array:
    it would change the caller's array in place."""
    if hasattr(value, "__setitem__"):
        raise ApiError(f"{fname} changes its argument {param} in place (an augmented "
                       f"assignment on an array); a function called by differentiated code "
                       "must return new values instead")


NO_ENTRY = object()  # what runtime.entry keeps for a dict entry that did not exist


def entry(d, key):
    """d[key], or NO_ENTRY for a key a dict does not have yet."""
    if isinstance(d, dict) and key not in d:
        return NO_ENTRY
    return d[key]


def put_entry(d, key, value) -> None:
    """d[key] = value, or the entry removed again where there was none."""
    if value is NO_ENTRY:
        del d[key]
    else:
        d[key] = value


def snapshot(x):
    """A copy of x's current values (an array, list or dict changes in place; a number
    does not)."""
    if isinstance(x, list):
        return list(x)
    if isinstance(x, dict):
        return dict(x)
    return x.copy() if hasattr(x, "copy") and hasattr(x, "shape") else x


def refill(x, values) -> None:
    """Put `values` back into x, in place: x's identity is the caller's (a number the
    caller holds never changed)."""
    if not hasattr(x, "__setitem__"):
        return
    if isinstance(x, list):
        x[:] = values
    elif isinstance(x, dict):
        x.clear()
        x.update(values)
    else:
        x[...] = values


def restore(x, values):
    """x with its old values: written back in place for an array, else the old value."""
    if hasattr(x, "__setitem__") and hasattr(values, "shape") and _shape(x) == values.shape:
        x[...] = values
        return x
    return values


def check_seed(ans, seed, fname: str):
    """Refuse the default seed 1.0 for a non-scalar result: `grad` needs a scalar."""
    if type(seed) is float and seed == 1.0 and isinstance(ans, (tuple, list, dict)):
        raise NonScalarOutput(
            f"grad of {fname} needs a scalar result, but {fname} returned a "
            f"{type(ans).__name__}; for a function returning (loss, auxiliary data) pass "
            "has_aux=True, as in JAX")
    if isinstance(seed, (tuple, list)) and not isinstance(ans, (tuple, list)):
        raise ApiError(f"{fname}_bar is a {type(seed).__name__}, but {fname} returned no tuple "
                       f"(with has_aux=True, {fname} must return (a scalar, auxiliary data))")
    if type(seed) is float and seed == 1.0 and _ndim(ans) != 0:
        raise NonScalarOutput(
            f"grad of {fname} needs a scalar result, but {fname} returned an array of shape "
            f"{np.shape(ans)}; reduce it (np.sum, np.mean) or pass {fname}_bar= with the "
            "shape of the result to get a vector-Jacobian product"
        )
    if not isinstance(ans, (list, tuple, dict)) and not isinstance(seed, (
            list, tuple, dict)) and (_ndim(seed) or _ndim(ans)) and _shape(seed) != _shape(ans):
        raise ApiError(f"{fname}_bar has shape {np.shape(seed)}, but {fname} returned shape "
                       f"{np.shape(ans)}; the seed is the adjoint of the result, of its shape")
    return seed


# ---------------------------------------------------------------- elementwise


def mul(g, d):
    """g * d, and exactly 0 where g is 0, even where d is infinite or NaN.

    Rules whose derivative can be infinite or NaN at a finite input (exp overflowing, sqrt
    and log at or below 0, division by 0, powers, the inverse trigonometric functions) use
    `mul` and `div` in place of `*` and `/`: a zero adjoint then contributes zero, which keeps
    the branch that np.where or np.clip did not select out of the gradient (see
    where_adjoint). On a NumPy array the check costs one sum; only a result that is not
    finite pays for the mask."""
    return _keep_zeros(g, g * d)


def div(g, d):
    """g / d, and exactly 0 where g is 0, even where d is 0 (see `mul`)."""
    try:
        out = g / d
    except ZeroDivisionError:  # Python numbers
        if g == 0:
            return 0.0
        raise
    return _keep_zeros(g, out)


def keep_zeros(g, out):
    """`out`, a contribution g * derivative, with exact zeros where g is exactly zero.

    The compiler wraps an elementwise rule in this when its g may hold the zeros np.where,
    np.clip or np.maximum put where an input was not selected: a derivative that is infinite
    there (sqrt or log at 0, a division by 0) then contributes 0, not nan. On a NumPy array
    the check costs one sum; only a result that is not finite pays for the mask."""
    return _keep_zeros(g, out)


def _keep_zeros(g, out):
    if type(out) is np.ndarray:
        return out if math.isfinite(out.sum()) else np.where(g == 0, 0.0, out)
    if isinstance(out, (float, np.floating)):
        return out if g != 0 else 0.0
    return np.where(g == 0, 0.0, out)  # other array types: no data-dependent branch


def safe_ratio(num, den):
    """num / den, and 0 where den is 0: the zero subgradient of a norm (hypot, linalg.norm,
    std) at the origin."""
    if _ndim(den) == 0 and _ndim(num) == 0:
        return num / den if den != 0 else 0.0 * num
    zero = den == 0
    return np.where(zero, 0.0, num / np.where(zero, 1.0, den))


def power_exponent_adjoint(g, base, ans):
    """Adjoint of the exponent p in base ** p: g * ans * log(base); 0 where ans is 0
    (base 0, p > 0: the result stays 0 as p moves)."""
    if _ndim(base) == 0 and _ndim(ans) == 0 and _ndim(g) == 0:
        if ans == 0 or g == 0:  # also where g is not finite: the result does not move
            return 0.0
        return g * ans * (math.log(base) if base > 0 else math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((ans == 0) | (g == 0), 0.0, g * ans * np.log(base))


def sinc_derivative(x, ans):
    """d sinc(x) / dx = (cos(pi x) - sinc(x)) / x, and 0 at x = 0."""
    zero = x == 0
    return np.where(zero, 0.0, (np.cos(np.pi * x) - ans) / np.where(zero, 1.0, x))


def fmax_adjoint(g, x, y, lower: bool = False):
    """The share of `x` in g for np.fmax(x, y) (np.fmin with lower=True): 1 where x wins or
    y is NaN, 1/2 on ties."""
    wins = (x < y) if lower else (x > y)
    return g * _weights(wins + 0.5 * (x == y) + (np.isnan(y) & ~np.isnan(x)), g, x)


def _float_dtype(*values):
    """The floating dtype of those values that have one (a Python number fits any), float64
    if none has one."""
    dtypes = [v.dtype for v in values if getattr(v, "dtype", None) is not None
              and v.dtype.kind == "f"]
    return np.result_type(*dtypes) if dtypes else np.float64


def _weights(w, *like):
    """`w`, a mask, counts or weights (booleans, integers, float64), in the floating dtype of
    `like` (the adjoint g and the argument): a float32 argument keeps a float32 gradient."""
    return w.astype(_float_dtype(*like), copy=False) if hasattr(w, "astype") else w


def parts(g, values) -> list:
    """The adjoint of a tuple-valued result (np.linalg.eigh, np.split, ...), item by item,
    each checked against its item's shape; a zero adjoint stays the number 0.0."""
    items = _items(g, len(values))
    for item, value in zip(items, values, strict=True):
        if not _is_zero(item) and np.shape(item) != np.shape(value):
            raise InternalError(
                f"the adjoint of an item of a tuple result has shape {np.shape(item)}, but "
                f"the item has shape {np.shape(value)}: a bug in adjoint")
    return list(items)


def densify_item(g, k: int, ans, x):
    """Item k of the adjoint of the tuple `ans`, as zeros shaped like `x` when it is zero."""
    return densify(parts(g, ans)[k], x)


def digamma(x: float) -> float:
    """The digamma function of a real number (the derivative of math.lgamma), to about
    1e-13, so math's rules need no SciPy."""
    if x <= 0 and x == math.floor(x):
        return math.nan
    if x < 0.5:
        return digamma(1 - x) - math.pi / math.tan(math.pi * x)
    acc = 0.0
    while x < 6:
        acc -= 1 / x
        x += 1
    f = 1 / (x * x)
    series = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
    return acc + math.log(x) - 0.5 / x - series


def builtin_extremum_adjoint(g, args, k: int, ans, key=None):
    """Adjoint of args[k] in the builtin max(*args) or min(*args): g where it attains the
    result, split equally among ties; max(items) of one list or array, item by item."""
    if key is not None:
        raise UnsupportedArgument("the gradient of max()/min() with key=; compute the values "
                                  "the key compares and take np.max/np.min of them")
    if len(args) == 1:
        items = args[0]
        if not isinstance(items, (list, tuple)):
            return extremum_adjoint(g, items, ans)
        hits = [bool(v == ans) for v in items]
        return tuple(g / sum(hits) if h else 0.0 for h in hits)
    hits = sum(bool(v == ans) for v in args)
    return g / hits if args[k] == ans else 0.0


def prod_sequence_adjoint(g, items, start=1):
    """Adjoint of each item in math.prod(items, start=start): g times the other factors."""
    values = [start, *items]
    others = _prod_others(np.array(values, dtype=float), 0)
    return per_item(tuple(g * float(v) for v in others[1:]), items)


def sumprod_adjoint(g, other):
    """Adjoint of one sequence in math.sumprod(p, q): g times the other, item by item."""
    return per_item(tuple(g * v for v in other), other)


def dist_adjoint(g, p, q, ans):
    """Adjoint of p in math.dist(p, q): g (p - q) / dist, item by item (0 where p == q)."""
    return per_item(tuple(safe_ratio(g * (a - b), ans) for a, b in zip(p, q, strict=True)), p)


# ---------------------------------------------------------------- reductions


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
    g, shape = _expand(g, x, axis, keepdims)
    own = getattr(x, "dtype", None)  # a list of float32 arrays has the dtype of its items
    own = own if own is not None else _float_dtype(*x) if isinstance(x, (list, tuple)) else float
    dtype = np.result_type(own, g, 1.0)  # float32 stays float32
    out = np.empty_like(x, dtype=dtype)
    out[...] = g
    return out if where is None else np.where(where, out, 0.0)


def broadcast_back(c, v):
    """Adjoint of v in unbroadcast(v, x): c (x's shape) spread back over v's shape."""
    vshape = _shape(v)
    if _shape(c) == vshape:
        return c
    if len(_shape(c)) <= len(vshape):
        return np.broadcast_to(c, vshape) * 1.0
    return unbroadcast(c, v)


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
        n = np.sum(np.broadcast_to(where, np.shape(x)), axis=axis, keepdims=keepdims)
        return sum_back(c / _weights(np.maximum(n, 1), c, x), v, axis, keepdims, where)
    n = np.size(x) if axis is None else _count(np.shape(x), axis)
    return sum_back(c, v, axis, keepdims) / n


def mean_adjoint(g, x, axis=None, keepdims=False, where=None):
    """Adjoint of np.mean(x, axis, keepdims=keepdims, where=where)."""
    if where is not None:
        n = _weights(np.sum(np.broadcast_to(where, np.shape(x)), axis=axis, keepdims=True), g, x)
        return sum_adjoint(_expand(g, x, axis, keepdims)[0] / n, x, axis, True, where)
    n = np.size(x) if axis is None else _count(np.shape(x), axis)
    return sum_adjoint(g / n, x, axis, keepdims)


def _count(shape, axis):
    return int(np.prod([shape[a] for a in _axes(axis, len(shape))]))


def extremum_adjoint(g, x, ans, axis=None, keepdims=False, where=None):
    """Adjoint of max/min (np.max, np.amax, np.nanmax, ...): g goes to the positions that
    attain the extremum, split equally among ties; none if `initial` beat every entry."""
    if not _shape(x):
        return g
    if axis is None and where is None:  # a full reduction: one position, or ties
        hit = np.equal(x, ans)
        count = np.count_nonzero(hit)
        share = g * _weights(hit, g, x)
        return share if count == 1 else share / max(count, 1)
    g, shape = _expand(g, x, axis, keepdims)
    a, _ = _expand(ans, x, axis, keepdims)
    hit = x == a
    if where is not None:
        hit = hit & where
    count = hit.sum(axis=axis, keepdims=True)
    if np.all(count == 1):  # no ties: no need to divide
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
    ddof = correction if correction is not None else ddof
    n = np.size(x) if axis is None else _count(np.shape(x), axis)
    g, _ = _expand(g, x, axis, keepdims)
    centre = np.mean(x, axis=axis, keepdims=True) if mean is None else mean
    return g * (2.0 / (n - ddof)) * (x - centre)


def std_adjoint(g, x, ans, axis=None, ddof=0, keepdims=False, mean=None, correction=None,
                where=None):
    """Adjoint of np.std: var's adjoint of g / (2 std); 0 where std is 0 (all entries equal:
    the zero subgradient, as for a norm at the origin), and where it is at the level of
    rounding (entries equal but for rounding: x - mean is noise there, not a direction)."""
    level = np.max(np.abs(x), axis=axis, keepdims=keepdims) * (
        16 * np.finfo(np.result_type(x, np.float32)).eps)
    half = safe_ratio(0.5 * g, np.where(ans <= level, 0.0, ans) if np.ndim(ans) else (
        0.0 if ans <= level else ans))
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


def maximum_adjoint(g, x, y):
    """The share of `x` in g for np.maximum(x, y) (or minimum): 1 where x wins, 1/2 on ties."""
    return g * _weights((x > y) + 0.5 * (x == y), g, x)


# ---------------------------------------------------------------- scipy.special


def polygamma(n: int, x):
    """The n-th derivative of the digamma function (SciPy's), for the rules of scipy.special."""
    from scipy import special

    out = special.polygamma(n, x)  # float64 whatever x is
    return _weights(out, x) if getattr(x, "dtype", None) is not None else out


def logsumexp_adjoint(g, a, ans, axis=None, b=None, keepdims=False, return_sign=False,
                      of_b=False):
    """Adjoint of `a` (or of `b`, with of_b) in scipy.special.logsumexp(a, axis, b=b, ...)."""
    shape = np.broadcast_shapes(np.shape(a), np.shape(b)) if b is not None else np.shape(a)
    if return_sign:  # ans is (log|s|, sign of s): the sign carries no derivative
        g, (ans, sign) = parts(g, ans)[0], ans
        if _is_zero(g):
            return zeros_like(b if of_b else a)
        g = g * sign
    g, _ = _expand(g, a, axis, keepdims, shape)
    ans, _ = _expand(ans, a, axis, keepdims, shape)
    share = g * np.exp(a - ans)
    if of_b:
        return unbroadcast(share * 1.0, b)
    return unbroadcast(share * b if b is not None else share, a)


def softmax_adjoint(g, ans, axis=None):
    """Adjoint of x in s = scipy.special.softmax(x, axis): s * (g - sum(g * s, axis))."""
    return ans * (g - np.sum(g * ans, axis=axis, keepdims=True))


def log_softmax_adjoint(g, ans, axis=None):
    """Adjoint of x in scipy.special.log_softmax(x, axis): g - softmax(x) * sum(g, axis)."""
    return g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True)


# ---------------------------------------------------------------- linear algebra


def matmul_lhs(g, a, b):
    """Adjoint of `a` in a @ b, for vectors, matrices and stacks of matrices."""
    if _ndim(b) == 1:
        return g * b if _ndim(a) == 1 else unbroadcast(g[..., None] * b, a)
    if _ndim(a) == 1:
        return unbroadcast((b @ g[..., None])[..., 0], a)
    return unbroadcast(g @ np.swapaxes(b, -1, -2), a)


def matmul_rhs(g, a, b):
    """Adjoint of `b` in a @ b."""
    if _ndim(a) == 1:
        return g * a if _ndim(b) == 1 else unbroadcast(a[:, None] * g[..., None, :], b)
    if _ndim(b) == 1:
        return unbroadcast((np.swapaxes(a, -1, -2) @ g[..., None])[..., 0], b)
    return unbroadcast(np.swapaxes(a, -1, -2) @ g, b)


def dot_lhs(g, a, b):
    """Adjoint of `a` in np.dot(a, b): scalars, vectors, matrices, and N-d arrays (a sum over
    the last axis of a and the second-to-last of b)."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return unbroadcast(g * b, a)
    if _ndim(a) > 2 or _ndim(b) > 2:
        return tensordot_adjoint(g, a, b, ([-1], [max(_ndim(b) - 2, 0)]), 0)
    return matmul_lhs(g, a, b)


def dot_rhs(g, a, b):
    """Adjoint of `b` in np.dot(a, b)."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return unbroadcast(g * a, b)
    if _ndim(a) > 2 or _ndim(b) > 2:
        return tensordot_adjoint(g, a, b, ([-1], [max(_ndim(b) - 2, 0)]), 1)
    return matmul_rhs(g, a, b)


def tensordot_adjoint(g, a, b, axes, k: int):
    """Adjoint of a (k=0) or b (k=1) in np.tensordot(a, b, axes), through einsum_adjoint."""
    na, nb = _ndim(a), _ndim(b)
    if isinstance(axes, int):
        axes = (list(range(na - axes, na)), list(range(axes)))
    left, right = ([x] if isinstance(x, int) else list(x) for x in axes)
    left, right = [x % na for x in left], [x % nb for x in right]
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    ta = [next(letters) for _ in range(na)]
    tb = [next(letters) for _ in range(nb)]
    for i, j in zip(left, right, strict=True):
        tb[j] = ta[i]
    out = [c for i, c in enumerate(ta) if i not in left] + [
        c for j, c in enumerate(tb) if j not in right]
    spec = f"{''.join(ta)},{''.join(tb)}->{''.join(out)}"
    return einsum_adjoint(g, spec, (a, b), k)


def vecdot_adjoint(g, x1, x2, axis=-1, k: int = 0):
    """Adjoint of x1 (k=0) or x2 (k=1) in np.vecdot(x1, x2, axis=axis) (real arrays)."""
    other, target = (x2, x1) if k == 0 else (x1, x2)
    return unbroadcast(np.expand_dims(g, axis) * other, target)


def matvec_adjoint(g, m, v, k: int, transposed: bool = False):
    """Adjoint of the matrix m (k=0) or the vector v (k=1) in np.matvec(m, v), stacks of
    matrix-vector products; transposed: in np.vecmat(v, m), which uses m's transpose."""
    mt = _t(m) if transposed else m
    if k == 1:
        return unbroadcast((_t(mt) @ g[..., None])[..., 0], v)
    part = g[..., :, None] * v[..., None, :]
    return unbroadcast(_t(part) if transposed else part, m)


def inner_adjoint(g, a, b, k: int):
    """Adjoint of a (k=0) or b (k=1) in np.inner(a, b): a sum over the last axes."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return unbroadcast(g * (b if k == 0 else a), a if k == 0 else b)
    return tensordot_adjoint(g, a, b, ([-1], [-1]), k)


def kron_adjoint(g, a, b, k: int):
    """Adjoint of a (k=0) or b (k=1) in np.kron(a, b)."""
    nd = max(_ndim(a), _ndim(b))
    sa = (1,) * (nd - _ndim(a)) + np.shape(a)
    sb = (1,) * (nd - _ndim(b)) + np.shape(b)
    blocks = np.reshape(g, [n for pair in zip(sa, sb, strict=True) for n in pair])
    other = np.reshape(b if k == 0 else a, sb if k == 0 else sa)
    letters = "abcdefghijklmnopqrstuvwxyz"
    ia, ib = letters[:nd], letters[nd:2 * nd]
    spec = "".join(x + y for x, y in zip(ia, ib, strict=True))
    part = np.einsum(f"{spec},{ib if k == 0 else ia}->{ia if k == 0 else ib}", blocks, other)
    return np.reshape(part, np.shape(a if k == 0 else b))


def _cross3(u, v):
    """u x v for two 3-vectors (np.cross is slow on small vectors)."""
    u0, u1, u2 = u
    v0, v1, v2 = v
    return np.array([u1 * v2 - u2 * v1, u2 * v0 - u0 * v2, u0 * v1 - u1 * v0])


def cross_adjoint(g, a, b, k: int, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Adjoint of a (k=0) or b (k=1) in np.cross(a, b, ...), for 3- and 2-vectors."""
    if type(g) is np.ndarray and g.shape == (3,) and axis is None and _shape(a) == (3,) \
            and _shape(b) == (3,):  # two 3-vectors, the common case
        return _cross3(b, g) if k == 0 else _cross3(g, a)
    if axis is not None:
        axisa = axisb = axisc = axis
    x = np.moveaxis(a, axisa, -1)
    y = np.moveaxis(b, axisb, -1)
    n, m = x.shape[-1], y.shape[-1]
    if n == 2 and m == 2:  # the result is the z component only
        gz = g
        g3 = np.stack([np.zeros_like(gz), np.zeros_like(gz), gz], -1)
    else:
        g3 = np.moveaxis(g, axisc, -1)
    x3 = _pad3(x)
    y3 = _pad3(y)
    part = np.cross(y3, g3) if k == 0 else np.cross(g3, x3)  # d(x × y) = dx × y + x × dy
    part = part[..., :(n if k == 0 else m)]
    target = a if k == 0 else b
    part = unbroadcast(part, np.moveaxis(target, axisa if k == 0 else axisb, -1))
    return np.moveaxis(part, -1, axisa if k == 0 else axisb)


def _pad3(v):
    if v.shape[-1] == 3:
        return v
    return np.concatenate([v, np.zeros_like(v[..., :1])], -1)


def trace_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of np.trace(a, offset, axis1, axis2): g on the diagonal, zeros elsewhere."""
    length = np.shape(np.diagonal(a, offset, axis1, axis2))[-1]
    g = np.broadcast_to(np.expand_dims(g, -1), np.shape(g) + (length,))
    return diagonal_adjoint(g, a, offset, axis1, axis2)


def diagonal_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of np.diagonal(a, offset, axis1, axis2): g placed back on the diagonal."""
    out = zeros_like(a)
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    i = np.arange(np.shape(g)[-1])
    view[..., i + max(-offset, 0), i + max(offset, 0)] = g
    return out


def diag_adjoint(g, v, k=0):
    """Adjoint of np.diag(v, k): the k-th diagonal of g for a vector v, g placed on the
    diagonal for a matrix v."""
    if _ndim(v) == 1:
        return np.diagonal(g, k) * 1.0
    return diagonal_adjoint(g, v, k, 0, 1)


def _t(x):
    return np.swapaxes(x, -1, -2)


def _fold(g, lower: bool = True):
    """The gradient with respect to a full matrix of a function that reads only one triangle
    of it as a symmetric matrix (np.linalg.eigh, cholesky): from a gradient `g` for the
    symmetric matrix, the off-diagonal entries of the triangle read get g_ij + g_ji."""
    both = g + _t(g)
    return (np.tril(both, -1) if lower else np.triu(both, 1)) + _diagonal_part(g)


def _diagonal_part(m):
    """m with its off-diagonal entries zeroed (no identity matrix allocated)."""
    return np.triu(np.tril(m))


def inv_adjoint(g, ans):
    """Adjoint of np.linalg.inv: -inv(a).T @ g @ inv(a).T."""
    return -_t(ans) @ g @ _t(ans)


def solve_adjoint(g, a, b, ans, k: int):
    """Adjoint of a (k=0) or b (k=1) in x = np.linalg.solve(a, b); b is a vector when it
    has one dimension, else a (stack of) matrix."""
    vector = _ndim(b) == 1
    gm = g[..., None] if vector else g
    xm = ans[..., None] if vector else ans
    b_bar = np.linalg.solve(_t(a), gm)
    if k == 1:
        return unbroadcast(b_bar[..., 0] if vector else b_bar, b)
    return unbroadcast(-b_bar @ _t(xm), a)


def det_adjoint(g, a, ans):
    """Adjoint of np.linalg.det: g det(a) inv(a).T, or g adj(a).T from the SVD where a is
    singular (the adjugate is the derivative of det everywhere)."""
    g = np.asanyarray(g)[..., None, None]
    if np.all(ans != 0):
        return g * np.asanyarray(ans)[..., None, None] * _t(np.linalg.inv(a))
    u, s, vt = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    adjugate = sign[..., None, None] * (_t(vt) * _prod_others(s, -1)[..., None, :]) @ _t(u)
    return g * _t(adjugate)


def slogdet_adjoint(g, a, ans):
    """Adjoint of np.linalg.slogdet(a) = (sign, log|det a|): the sign carries none."""
    g = parts(g, ans)[1]
    if _is_zero(g):
        return zeros_like(a)
    return np.asanyarray(g)[..., None, None] * _t(np.linalg.inv(a))


def cholesky_adjoint(g, ans, upper=False):
    """Adjoint of np.linalg.cholesky(a, upper=upper), which reads one triangle of a."""
    L, g = (_t(ans), _t(g)) if upper else (ans, g)
    phi = np.tril(_t(L) @ g)
    phi = phi - 0.5 * _diagonal_part(phi)
    inner = np.linalg.solve(_t(L), phi)  # L^-T phi
    sym = _t(np.linalg.solve(_t(L), _t(inner)))  # L^-T phi L^-1
    return _fold(0.5 * (sym + _t(sym)), lower=not upper)


def eigh_adjoint(g, a, ans, UPLO="L", values_only: bool = False):
    """Adjoint of np.linalg.eigh(a, UPLO) = (w, v) (or of eigvalsh, values_only), which
    reads one triangle of a. Eigenvectors have no derivative at repeated eigenvalues."""
    if values_only:
        gw, gv = g, 0.0
        w, v = np.linalg.eigh(a, UPLO)
    else:
        (gw, gv), (w, v) = parts(g, ans), ans
    out = 0.0 if _is_zero(gw) else (v * gw[..., None, :]) @ _t(v)  # v diag(gw) v'
    if not _is_zero(gv):
        gap = w[..., None, :] - w[..., :, None]  # w_j - w_i: zero on the diagonal
        if np.sum(gap == 0) > np.size(w):
            raise UnsupportedArgument("the gradient through the eigenvectors of "
                                      "np.linalg.eigh at a repeated eigenvalue is not defined")
        zero = gap == 0
        inner = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, gap)) * (_t(v) @ gv)
        out = out + v @ inner @ _t(v)
    if _is_zero(out):
        return zeros_like(a)
    return _fold(out, lower=UPLO.upper() == "L")


def pinv_adjoint(g, a, ans, hermitian=False):
    """Adjoint of p = np.linalg.pinv(a), where the rank of a does not change:
    -p' g p' + (1 - a p)' g' p p' + p' p g' (1 - p a), with ' the transpose."""
    p = ans
    pt = _t(p)
    left = _t(g) @ p @ pt  # (1 - a p) left, without forming the identity
    right = pt @ p @ _t(g)  # right (1 - p a)
    out = -pt @ g @ pt + (left - a @ (p @ left)) + (right - (right @ p) @ a)
    return _fold(out) if hermitian else out


def lstsq_adjoint(g, a, b, ans, rcond=None, k: int = 0):
    """Adjoint of a (k=0) or b (k=1) in np.linalg.lstsq(a, b, rcond) = (x, residuals, rank,
    singular values): x is pinv(a) @ b, differentiable where the rank of a stays the same."""
    gx, gres, _, gs = parts(g, ans)
    x, res, _, _ = ans
    vector = _ndim(b) == 1
    bm = b[:, None] if vector else b
    xm = x[:, None] if vector else x
    out = zeros_like(b if k else a)
    if not _is_zero(gx):
        gxm = gx[:, None] if vector else gx
        p = np.linalg.pinv(a) if rcond is None else np.linalg.pinv(a, rcond=rcond)
        if k:
            out = out + np.reshape(_t(p) @ gxm, np.shape(b))
        else:
            out = out + pinv_adjoint(gxm @ _t(bm), a, p)
    if not _is_zero(gres) and np.size(res):
        r = bm - a @ xm  # residuals are |b - a x|^2 per column, at the optimal x
        gr = np.reshape(gres, (1, -1)) * 2 * r
        out = out + (np.reshape(gr, np.shape(b)) if k else -gr @ _t(xm))
    if not _is_zero(gs) and not k:
        u, _, vt = np.linalg.svd(a, full_matrices=False)
        out = out + (u * gs) @ vt
    return out


def field_adjoint(g, result, name: str):
    """Adjoint of a named tuple read by field (np.linalg.slogdet(a).logabsdet): g at that
    field, zero adjoints at the others."""
    fields = getattr(result, "_fields", None)
    if fields is None or name not in fields:
        raise UnsupportedArgument(f"the gradient of the attribute .{name} of a "
                                  f"{type(result).__name__}")
    return tuple(g if f == name else 0.0 for f in fields)


def qr_adjoint(g, a, ans, mode="reduced"):
    """Adjoint of np.linalg.qr(a, mode): (q, r) for 'reduced' (and 'complete' when a has
    no more rows than columns), r alone for 'r'."""
    m, n = np.shape(a)[-2:]
    if mode not in ("reduced", "r") and not (mode == "complete" and m <= n):
        raise UnsupportedArgument(f"the gradient of np.linalg.qr with mode={mode!r}")
    if mode == "r":
        q, r = np.linalg.qr(a)
        gq, gr = 0.0, g
    else:
        (gq, gr), (q, r) = parts(g, ans), ans
    gq = zeros_like(q) if _is_zero(gq) else gq
    gr = zeros_like(r) if _is_zero(gr) else gr
    if m >= n:
        return _qr_square_adjoint(gq, gr, q, r)
    y = a[..., :, m:]  # a = [x | y], r = [u | v], x = q u
    u, gu, gv = r[..., :, :m], gr[..., :, :m], gr[..., :, m:]
    gx = _qr_square_adjoint(gq + y @ _t(gv), gu, q, u)
    return np.concatenate([gx, q @ gv], -1)


def _qr_square_adjoint(gq, gr, q, r):
    """Adjoint of a = q r with r square upper triangular: (gq + q copyltu(M)) r^-T,
    M = r gr' - gq' q."""
    mid = r @ _t(gr) - _t(gq) @ q
    sym = np.tril(mid, -1)
    sym = sym + _t(sym) + _diagonal_part(mid)
    return _t(np.linalg.solve(r, _t(gq + q @ sym)))


def _einsum_terms(spec: str, ndims: list[int]) -> tuple[list[str], str]:
    """Explicit subscripts of np.einsum(spec, ...): ellipses spelled out as capital letters."""
    spec = spec.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    ell = max((n - (len(t) - 3) for t, n in zip(terms, ndims, strict=True) if "..." in t),
              default=0)
    spare = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec)[:ell]
    out_terms = []
    for t, n in zip(terms, ndims, strict=True):
        if "..." in t:
            k = n - (len(t) - 3)
            t = t.replace("...", spare[ell - k:])
        out_terms.append(t)
    if arrow:
        output = output.replace("...", spare)
    else:
        letters = "".join(out_terms)
        output = spare + "".join(sorted(c for c in set(letters)
                                        if c.islower() and letters.count(c) == 1))
    return out_terms, output


@functools.lru_cache(maxsize=512)
def _einsum_plan(spec: str, ndims: tuple, k: int) -> tuple:
    """How to get the adjoint of operand k: the einsum to run, and whether its result is
    already the adjoint (no broadcast or diagonal letters to restore)."""
    terms, output = _einsum_terms(spec, list(ndims))
    target = terms[k]
    others = [t for j, t in enumerate(terms) if j != k]
    available = set(output).union(*others)
    kept = "".join(dict.fromkeys(c for c in target if c in available))
    return ",".join([output, *others]) + "->" + kept, target, kept, kept == target


def einsum_operand_adjoint(g, operands, k: int):
    """Adjoint of operands[k] in np.einsum(*operands): the subscripts first
    (np.einsum('ij,jk', a, b)), or the sublist form (np.einsum(a, [0, 1], b, [1, 2], [0, 2]))."""
    if isinstance(operands[0], str):
        return einsum_adjoint(g, operands[0], operands[1:], k - 1)
    if k % 2:
        raise UnsupportedArgument(f"the gradient of np.einsum with respect to its argument "
                                  f"{k}, a sublist of axis labels")
    spec, arrays = _einsum_sublists(operands)
    return einsum_adjoint(g, spec, arrays, k // 2)


def _einsum_sublists(operands) -> tuple[str, tuple]:
    """The subscripts string and the arrays of np.einsum's sublist form: (op0, sublist0, op1,
    sublist1, ..., [output sublist])."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def spell(sublist) -> str:
        try:
            return "".join("..." if v is Ellipsis else letters[int(v)] for v in sublist)
        except (IndexError, TypeError, ValueError):
            raise UnsupportedArgument(f"the gradient of np.einsum with the sublist "
                                      f"{sublist!r}: labels must be integers 0 to 51 or "
                                      "Ellipsis") from None

    pairs = len(operands) // 2
    arrays = tuple(operands[0:2 * pairs:2])
    spec = ",".join(spell(operands[2 * j + 1]) for j in range(pairs))
    if len(operands) % 2:
        spec += "->" + spell(operands[-1])
    return spec, arrays


def einsum_adjoint(g, spec: str, operands, k: int):
    """Adjoint of operand k of np.einsum(spec, *operands), for any subscripts."""
    ops = tuple(operands)
    sub, target, kept, simple = _einsum_plan(spec, tuple(_ndim(o) for o in ops), k)
    rest = ops[:k] + ops[k + 1:]
    part = np.einsum(sub, g, *rest, optimize=len(rest) > 1)
    shape = _shape(ops[k])
    if simple and _shape(part) == shape:
        return part
    sizes = dict(zip(target, shape, strict=True))
    wide = tuple(i for i, c in enumerate(kept) if sizes[c] == 1 and np.shape(part)[i] != 1)
    if wide:  # a length-1 axis of operand k that the ellipsis broadcast
        part = np.sum(part, axis=wide, keepdims=True)
    distinct = "".join(dict.fromkeys(target))
    for c in distinct:  # letters summed away inside operand k alone come back by broadcasting
        if c not in kept:
            part = np.expand_dims(part, distinct.index(c))
            kept = kept[:distinct.index(c)] + c + kept[distinct.index(c):]
    part = np.broadcast_to(part, [sizes[c] for c in distinct])
    if distinct == target:
        return unbroadcast(part * 1.0, ops[k]) if np.shape(part) != shape else part * 1.0
    out = zeros_like(ops[k])  # repeated letters: place the values on the diagonal
    grid = np.indices([sizes[c] for c in distinct], sparse=True)
    out[tuple(grid[distinct.index(c)] for c in target)] = part
    return out


def norm_adjoint(g, x, ans, ord=None, axis=None, keepdims=False):
    """Adjoint of np.linalg.norm(x, ord, axis, keepdims): vector norms (ord None, 2, 1, inf,
    -inf, 0, any p) and matrix norms ('fro', 'nuc', 2, -2, 1, -1, inf, -inf). At a kink the
    gradient is the midpoint of the subgradients: 0 at the origin, ties share equally."""
    nd = _ndim(x)
    if axis is None and (ord is None or nd == 1):
        axes = tuple(range(nd))  # the 2-norm of x.ravel()
    elif axis is None:
        axes = (0, 1) if nd == 2 else None
    else:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if axes is None:
        raise UnsupportedArgument(f"the gradient of np.linalg.norm of a {nd}-d array with "
                                  f"ord={ord!r} and no axis")
    g, _ = _expand(g, x, axes, keepdims)
    n, _ = _expand(ans, x, axes, keepdims)
    if len(axes) == 2 and ord not in (None, "fro"):
        return _matrix_norm_adjoint(g, x, n, ord, axes)
    if ord in (None, 2, "fro"):
        return safe_ratio(g * x, n)
    if len(axes) != 1:
        raise UnsupportedArgument(f"the gradient of np.linalg.norm with ord={ord!r} over "
                                  f"axes {axes}")
    return g * _vector_norm_derivative(x, n, ord, axes[0])


def vector_norm_adjoint(g, x, ans, ord=2, axis=None, keepdims=False):
    """Adjoint of np.linalg.vector_norm(x, axis=axis, keepdims=..., ord=ord): a vector norm
    over `axis` (all axes, or a tuple of them, taken as one flattened vector)."""
    nd = _ndim(x)
    axes = _axes(axis, nd)
    g, _ = _expand(g, x, axes, keepdims)
    n, _ = _expand(ans, x, axes, keepdims)
    if ord in (None, 2):
        return safe_ratio(g * x, n)
    last = tuple(range(nd - len(axes), nd))
    moved = np.moveaxis(x, axes, last)
    flat = np.reshape(moved, moved.shape[:nd - len(axes)] + (-1,))
    n = np.reshape(np.moveaxis(n, axes, last) if _ndim(n) else n, flat.shape[:-1] + (1,))
    d = np.reshape(_vector_norm_derivative(flat, n, ord, -1), moved.shape)
    return g * np.moveaxis(d, last, axes)


def _vector_norm_derivative(x, n, ord, axis):
    if ord == 0:
        return zeros_like(x)
    if ord == 1:
        return np.sign(x)
    if ord in (np.inf, -np.inf):
        size = np.abs(x)
        return np.sign(x) * extremum_adjoint(1.0, size, n, axis=axis, keepdims=True)
    if not isinstance(ord, (int, float)):
        raise UnsupportedArgument(f"the gradient of np.linalg.norm with ord={ord!r} for a "
                                  "vector")
    size = np.abs(x)
    return np.sign(x) * safe_ratio(size ** (ord - 1), n ** (ord - 1))


def _matrix_norm_adjoint(g, x, n, ord, axes):
    moved = np.moveaxis(x, axes, (-2, -1))
    gm = np.moveaxis(g, axes, (-2, -1)) if _ndim(g) else g
    if ord in (1, -1, np.inf, -np.inf):  # the largest (smallest) column or row sum of |x|
        over = -2 if ord in (1, -1) else -1
        sums = np.sum(np.abs(moved), axis=over, keepdims=True)
        pick = np.max(sums, -1 if over == -2 else -2, keepdims=True) if ord in (1, np.inf) \
            else np.min(sums, -1 if over == -2 else -2, keepdims=True)
        hit = sums == pick
        share = _weights(hit / np.sum(hit, axis=(-2, -1), keepdims=True), x)
        return np.moveaxis(gm * np.sign(moved) * share, (-2, -1), axes)
    if ord not in ("nuc", 2, -2):
        raise UnsupportedArgument(f"the gradient of np.linalg.norm with ord={ord!r} for a "
                                  "matrix")
    u, s, vt = np.linalg.svd(moved, full_matrices=False)
    if ord == "nuc":  # the sum of singular values: u v' over the nonzero ones
        tol = np.max(s, -1, keepdims=True) * max(np.shape(moved)[-2:]) * np.finfo(float).eps
        weight = s > tol
    else:  # the largest (smallest) singular value: its vectors, shared among ties
        hit = s == (s[..., :1] if ord == 2 else s[..., -1:])
        weight = hit / np.sum(hit, -1, keepdims=True)
    weight = _weights(weight, s)
    return np.moveaxis(gm * ((u * weight[..., None, :]) @ vt), (-2, -1), axes)


# ---------------------------------------------------------------- assembly


def split_like(g, arrays, axis=0):
    """Adjoint of np.concatenate(arrays, axis): g cut into pieces shaped like the inputs
    (axis=None: the inputs were flattened)."""
    if axis is None:
        cuts = np.cumsum([np.size(a) for a in arrays])[:-1]
        return per_item([np.reshape(p, np.shape(a)) for p, a in zip(np.split(g, cuts), arrays,
                                                                      strict=True)], arrays)
    sizes = [np.shape(a)[axis] if _ndim(a) else 1 for a in arrays]
    cuts = np.cumsum(sizes)[:-1]
    return per_item(list(np.split(g, cuts, axis=axis)), arrays)


STACKS = {"h": (np.atleast_1d, 1), "v": (np.atleast_2d, 0), "d": (np.atleast_3d, 2)}


def stack_adjoint(g, items, kind: str):
    """Adjoint of np.hstack, np.vstack, np.dstack or np.column_stack (kind 'h', 'v', 'd',
    'column') of `items`: g cut into pieces, each shaped like its item."""
    if kind == "column":
        shapes = [np.shape(x) if _ndim(x) > 1 else (np.size(x), 1) for x in items]
        axis = 1
    else:
        promote, axis = STACKS[kind]
        shapes = [np.shape(promote(x)) for x in items]
        if kind == "h" and len(shapes[0]) == 1:
            axis = 0
    cuts = np.cumsum([shape[axis] for shape in shapes])[:-1]
    return per_item([np.reshape(p, np.shape(x)) for p, x in zip(
        np.split(g, cuts, axis=axis), items, strict=True)], items)


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


def split_adjoint(g, ary, indices_or_sections, axis=0, how: str = "split"):
    """Adjoint of np.split (np.array_split with how='array_split'): the pieces' adjoints,
    zeros for the pieces not used, put back together."""
    pieces = getattr(np, how)(ary, indices_or_sections, axis)
    return np.concatenate([densify(p, x) for p, x in zip(parts(g, pieces), pieces,
                                                         strict=True)], axis)


def unstack_adjoint(g, x, axis=0):
    """Adjoint of np.unstack(x, axis): the items' adjoints stacked back."""
    items = [np.take(x, k, axis=axis) for k in range(np.shape(x)[axis])]
    return np.stack([densify(p, v) for p, v in zip(parts(g, items), items, strict=True)], axis)


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


def take_axis_adjoint(g, a, indices, axis=None, mode="raise"):
    """Adjoint of np.take(a, indices, axis, mode=mode): g added back at the indices
    (repeated indices add up)."""
    n = np.size(a) if axis is None else np.shape(a)[axis]
    indices = np.asarray(indices)
    if mode == "wrap":
        indices = indices % n
    elif mode == "clip":
        indices = np.clip(indices, 0, n - 1)
    out = zeros_like(a)
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


def unstack(g, arrays, axis=0):
    """Adjoint of np.stack(arrays, axis)."""
    return per_item([np.take(g, k, axis=axis) for k in range(len(arrays))], arrays)


def where_adjoint(g, condition, select: bool):
    """Adjoint of x (select=True) or y in np.where(condition, x, y): g where selected, else 0.

    The convention: where the selected values are finite, the branch not taken sends no NaN
    or inf into the gradient. Two things make it hold. Here, np.where rather than g * mask,
    so an inf or NaN in g at an unselected place becomes an exact 0. Upstream, every rule
    whose derivative can be infinite or NaN at a finite input (sqrt, log, division, powers,
    exp overflowing, arcsin, ...) multiplies with `mul`/`div`, which keep a zero adjoint
    zero: in np.where(x > 0, np.sqrt(x), 0.0), sqrt's rule sees g = 0 where x <= 0 and gives
    0 there, not 0 / sqrt(x) = NaN. np.clip (clip_adjoint) follows the same convention.
    What it does not cover: a product whose other factor is itself inf or NaN at the
    unselected places (x * np.exp(x) with exp overflowing): the primal's inf is then an
    input of `*`, whose rule stays a plain product. Move the where inside
    (np.exp(np.where(c, x, 0.0))) for those."""
    return np.where(condition, g, 0.0) if select else np.where(condition, 0.0, g)


def clip_adjoint(g, a, a_min=None, a_max=None, lower=None, upper=None, of="a"):
    """Adjoint of `a` (or of the bound `of` names: 'a_min', 'a_max') in
    np.clip(a, a_min, a_max), also spelled np.clip(a, min=..., max=...).

    g goes to `a` inside the interval, ends included, and to a bound where `a` is beyond
    it; computed with np.where, so the side not taken sends no inf or NaN (where_adjoint)."""
    a_min = lower if a_min is None else a_min
    a_max = upper if a_max is None else a_max
    above = (np.maximum(a, a_min) if a_min is not None else a) > a_max \
        if a_max is not None else False  # clip is minimum(maximum(a, a_min), a_max)
    below = (a < a_min) & ~above if a_min is not None else False
    if of == "a_min":
        return unbroadcast(np.where(below, g, 0.0), a_min)
    if of == "a_max":
        return unbroadcast(np.where(above, g, 0.0), a_max)
    return unbroadcast(np.where(below | above, 0.0, g), a)


def take_adjoint(g, x, index):
    """Adjoint of x[index] as a fresh array: zeros with g added at `index`."""
    out = zeros_like(x)
    return add_at(out, index, g)


def expand_dims_adjoint(g, axis):
    return np.squeeze(g, axis=axis)


def reshape_like(g, x):
    return np.reshape(g, np.shape(x))


def transpose_adjoint(g, axes=None):
    """Adjoint of np.transpose(a, axes) and a.transpose(*axes): the inverse permutation."""
    if axes is not None and len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]  # a.transpose((1, 0))
    if not axes:
        return np.transpose(g)
    return np.transpose(g, np.argsort([a % len(axes) for a in axes]))


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
    """a + b item by item, for the adjoints of lists, tuples and dicts (a list or dict)."""
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    if isinstance(a, dict):
        return {k: add_seq(a[k], b[k]) for k in a}
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        # item by item (an array's items are its rows); a zero list may be longer: its list
        # grew later
        longer = a if len(a) > len(b) else b
        return [add_seq(x, y) for x, y in zip(a, b, strict=False)] + list(
            longer[min(len(a), len(b)):])
    return a + b


def mod_adjoint_rhs(g, x1, x2):
    return unbroadcast(-g * np.floor_divide(x1, x2), x2)


# ---------------------------------------------------------------- users' rules

_helpers: dict[str, object] = {}  # runtime.<name> -> a function registered as a rule


def add_helper(fn, name: str) -> str:
    """Make `fn`, a derivative rule given as a function, reachable from emitted code as
    runtime.<its name> (or `name` for a lambda); returns the name it got."""
    own = getattr(fn, "__name__", "")
    base = own if own.isidentifier() else name
    candidate, n = base, 1
    while True:
        other = _helpers.get(candidate)
        if candidate not in globals() and (other is None or other is fn or _same_function(
                other, fn)):
            _helpers[candidate] = fn
            return candidate
        n += 1
        candidate = f"{base}_{n}"


def _same_function(a, b) -> bool:
    """The same function defined again (its module reloaded): it replaces the old one."""
    key = lambda f: (getattr(f, "__module__", None), getattr(f, "__qualname__", None))  # noqa
    return key(a) == key(b) and getattr(a, "__name__", "") != "<lambda>"


def __getattr__(name: str):
    try:
        return _helpers[name]
    except KeyError:
        raise AttributeError(
            f"adjoint.runtime has no {name!r}. If it is a derivative rule registered as a "
            f"function (adjoint.register(f, x={name})), import the module that registers it "
            "before running this code") from None


__all__ = [name for name in dir() if not name.startswith("_")] + ["operator"]
