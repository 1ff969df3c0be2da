"""Helpers that emitted gradient code calls for the hard cases.

Small and boring on purpose: each helper is a few lines of NumPy that dispatch
through NumPy's array protocols (no `np.asarray`, no allocation from a bare
shape), so emitted code runs on any array type that implements them.

A Python float `0.0` stands for a zero adjoint of any shape wherever one is
needed before a loop or branch: it is the additive identity under
broadcasting, and `unbroadcast` and `densify` give it its proper shape.
"""

from __future__ import annotations

import operator

import numpy as np

from .errors import NonScalarOutput

# ---------------------------------------------------------------- shapes


def unbroadcast(g, x):
    """`g`, summed over the axes along which `x` was broadcast to g's shape."""
    if type(g) is float:
        return g
    gshape, xshape = np.shape(g), np.shape(x)
    if gshape == xshape:
        return g
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
    return type(g) is float and g == 0.0


def zeros_like(x):
    """A zero adjoint for `x`: 0.0 for a number, float zeros for an array, one per item of a
    list or tuple (as a list), one per entry of a dict."""
    if isinstance(x, (list, tuple)):
        return [zeros_like(v) for v in x]
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    if isinstance(x, (int, float, complex)):
        return 0.0
    dtype = x.dtype if np.issubdtype(x.dtype, np.inexact) else float
    return np.zeros_like(x, dtype=dtype)


def densify(x_bar, x):
    """`x_bar` with the type and shape of `x`: a symbolic zero becomes real zeros, and the
    adjoint of a tuple or dict becomes a tuple or dict."""
    if isinstance(x, dict):
        return {k: densify(0.0 if _is_zero(x_bar) else x_bar[k], v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        items = [densify(b, v) for b, v in zip(_items(x_bar, len(x)), x, strict=True)]
        return tuple(items) if isinstance(x, tuple) else items
    if _is_zero(x_bar) and not isinstance(x, (int, float)):
        return zeros_like(x)
    return x_bar


def owned(x_bar, x):
    """A fresh array of x's shape holding `x_bar`, safe to update in place (for a list or
    dict: a fresh list or dict of fresh items)."""
    if isinstance(x, (list, tuple)):
        return [owned(b, v) for b, v in zip(_items(x_bar, len(x)), x, strict=True)]
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
    if isinstance(acc, list):
        acc[index] = acc[index] + g
    else:
        np.add.at(acc, index, g)
    return acc


def check_seed(ans, seed, fname: str):
    """Refuse the default seed 1.0 for a non-scalar result: `grad` needs a scalar."""
    if type(seed) is float and seed == 1.0 and np.ndim(ans) != 0:
        raise NonScalarOutput(
            f"grad of {fname} needs a scalar result, but {fname} returned an array of shape "
            f"{np.shape(ans)}; reduce it (np.sum, np.mean) or pass {fname}_bar= with the "
            "shape of the result to get a vector-Jacobian product"
        )
    return seed


# ---------------------------------------------------------------- reductions


def _expand(g, x, axis, keepdims):
    """g broadcast back to x's shape, after a reduction over `axis`."""
    shape = np.shape(x)
    if axis is not None and not keepdims:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = sorted(a % len(shape) for a in axes)
        for a in axes:
            g = np.expand_dims(g, a)
    return g, shape


def sum_adjoint(g, x, axis=None, keepdims=False):
    """Adjoint of np.sum(x, axis, keepdims=keepdims): g repeated along the summed axes."""
    if not np.shape(x):
        return g
    g, shape = _expand(g, x, axis, keepdims)
    return np.broadcast_to(g, shape) * 1.0 if np.ndim(g) else np.full_like(x, g, dtype=float)


def mean_adjoint(g, x, axis=None, keepdims=False):
    n = np.size(x) if axis is None else _count(np.shape(x), axis)
    return sum_adjoint(g / n, x, axis, keepdims)


def _count(shape, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return int(np.prod([shape[a] for a in axes]))


def extremum_adjoint(g, x, ans, axis=None, keepdims=False):
    """Adjoint of max/min: g goes to the positions that attain the extremum, split equally
    among ties."""
    if not np.shape(x):
        return g
    g, shape = _expand(g, x, axis, keepdims)
    a, _ = _expand(ans, x, axis, keepdims)
    hit = x == a
    return g * hit / hit.sum(axis=axis, keepdims=True)


def prod_adjoint(g, x, ans, axis=None, keepdims=False):
    """Adjoint of np.prod; exact also where some entries are zero."""
    if not np.shape(x):
        return g
    g, _ = _expand(g, x, axis, keepdims)
    if axis is None:
        flat = np.ravel(x)
        return (g * _prod_others(flat, 0)).reshape(np.shape(x))
    ax = axis % np.ndim(x)
    return g * _prod_others(x, ax)


def _prod_others(x, axis):
    """The product of all entries but one along `axis`, for each entry."""
    x = np.moveaxis(x, axis, -1)
    left = np.cumprod(np.concatenate([np.ones_like(x[..., :1]), x[..., :-1]], -1), -1)
    right = np.cumprod(np.concatenate([np.ones_like(x[..., :1]), x[..., :0:-1]], -1), -1)
    return np.moveaxis(left * right[..., ::-1], -1, axis)


def maximum_adjoint(g, x, y):
    """The share of `x` in g for np.maximum(x, y) (or minimum): 1 where x wins, 1/2 on ties."""
    return g * ((x > y) + 0.5 * (x == y))


# ---------------------------------------------------------------- linear algebra


def matmul_lhs(g, a, b):
    """Adjoint of `a` in a @ b, for vectors, matrices and stacks of matrices."""
    if np.ndim(b) == 1:
        return g * b if np.ndim(a) == 1 else unbroadcast(g[..., None] * b, a)
    if np.ndim(a) == 1:
        return unbroadcast((b @ g[..., None])[..., 0], a)
    return unbroadcast(g @ np.swapaxes(b, -1, -2), a)


def matmul_rhs(g, a, b):
    """Adjoint of `b` in a @ b."""
    if np.ndim(a) == 1:
        return g * a if np.ndim(b) == 1 else unbroadcast(a[:, None] * g[..., None, :], b)
    if np.ndim(b) == 1:
        return unbroadcast((np.swapaxes(a, -1, -2) @ g[..., None])[..., 0], b)
    return unbroadcast(np.swapaxes(a, -1, -2) @ g, b)


def dot_lhs(g, a, b):
    """Adjoint of `a` in np.dot(a, b) (scalars, vectors and matrices)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    _dot_dims(a, b)
    return matmul_lhs(g, a, b)


def dot_rhs(g, a, b):
    """Adjoint of `b` in np.dot(a, b)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    _dot_dims(a, b)
    return matmul_rhs(g, a, b)


def _dot_dims(a, b):
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise NotImplementedError("the gradient of np.dot of arrays with more than two "
                                  "dimensions; use np.matmul or np.einsum")


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


def einsum_adjoint(g, spec: str, operands, k: int):
    """Adjoint of operand k of np.einsum(spec, *operands), for any subscripts."""
    ops = list(operands)
    terms, output = _einsum_terms(spec, [np.ndim(o) for o in ops])
    target = terms[k]
    others = [t for j, t in enumerate(terms) if j != k]
    rest = [o for j, o in enumerate(ops) if j != k]
    available = set(output).union(*others)
    kept = "".join(dict.fromkeys(c for c in target if c in available))
    part = np.einsum(",".join([output, *others]) + "->" + kept, g, *rest, optimize=True)
    shape = np.shape(ops[k])
    sizes = dict(zip(target, shape, strict=True))
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
    """Adjoint of np.linalg.norm for the 2-norm of vectors (and Frobenius of matrices)."""
    if ord not in (None, 2, "fro") or (ord == 2 and np.ndim(x) > 1 and axis is None):
        raise NotImplementedError(f"the gradient of np.linalg.norm with ord={ord!r}")
    g, _ = _expand(g, x, axis, keepdims)
    n, _ = _expand(ans, x, axis, keepdims)
    return g * x / n


# ---------------------------------------------------------------- assembly


def split_like(g, arrays, axis=0):
    """Adjoint of np.concatenate(arrays, axis): g cut into pieces shaped like the inputs."""
    sizes = [np.shape(a)[axis] if np.ndim(a) else 1 for a in arrays]
    cuts = np.cumsum(sizes)[:-1]
    return list(np.split(g, cuts, axis=axis))


def unstack(g, arrays, axis=0):
    """Adjoint of np.stack(arrays, axis)."""
    return [np.take(g, k, axis=axis) for k in range(len(arrays))]


def where_adjoint(g, condition, select: bool):
    """Adjoint of x (select=True) or y in np.where(condition, x, y): g where selected, else 0.

    Computed with np.where, never g * mask, so an inf or NaN in the branch not taken does
    not leak into the gradient."""
    return np.where(condition, g, 0.0) if select else np.where(condition, 0.0, g)


def clip_adjoint(g, a, a_min, a_max):
    """Adjoint of `a` in np.clip(a, a_min, a_max): g inside the interval (ends included)."""
    inside = np.ones(np.shape(a), dtype=bool) if np.ndim(a) else True
    if a_min is not None:
        inside = inside & (a >= a_min)
    if a_max is not None:
        inside = inside & (a <= a_max)
    return np.where(inside, g, 0.0)


def take_adjoint(g, x, index):
    """Adjoint of x[index] as a fresh array: zeros with g added at `index`."""
    out = zeros_like(x)
    return add_at(out, index, g)


def expand_dims_adjoint(g, axis):
    return np.squeeze(g, axis=axis)


def reshape_like(g, x):
    return np.reshape(g, np.shape(x))


def transpose_adjoint(g, axes=None):
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort(axes))


def sequence_adjoint(g, items):
    """Adjoint of each item of a list or tuple passed to `sum(items)`: g, unbroadcast."""
    return [unbroadcast(g, v) for v in items]


def add_seq(a, b):
    """a + b item by item, for the adjoints of lists, tuples and dicts (a list or dict)."""
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    if isinstance(a, dict):
        return {k: add_seq(a[k], b[k]) for k in a}
    if isinstance(a, (list, tuple)):
        return [add_seq(x, y) for x, y in zip(a, b, strict=True)]
    return a + b


def mod_adjoint_rhs(g, x1, x2):
    return unbroadcast(-g * np.floor_divide(x1, x2), x2)


__all__ = [name for name in dir() if not name.startswith("_")] + ["operator"]
