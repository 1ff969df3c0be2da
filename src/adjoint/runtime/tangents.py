"""Helpers of the tangent (forward-mode) code: zero tangents of values that do not vary,
the seed of a function whose result must be a number, tangents broadcast like the primal,
a tangent's own copy."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from ..errors import UnsupportedArgument


def zero_tangent(value: Any) -> Any:
    """The zero tangent of a value: 0.0 for a number, zeros of an array's shape and dtype,
    a list, tuple or dict of zero tangents for one of values."""
    if isinstance(value, (list, tuple)):
        return type(value)(zero_tangent(v) for v in value) if type(value) in (list, tuple) \
            else [zero_tangent(v) for v in value]
    if isinstance(value, collections.defaultdict) and value.default_factory is not None:
        factory = value.default_factory  # an entry made by reading it: a constant
        return collections.defaultdict(lambda: zero_tangent(factory()),
                                       {k: zero_tangent(v) for k, v in value.items()})
    if isinstance(value, dict):
        return {k: zero_tangent(v) for k, v in value.items()}
    if isinstance(value, (bool, int, str, type(None))):
        return 0.0
    if isinstance(value, range):  # its items are ints: zero tangents, one per item
        return np.zeros(len(value))
    if hasattr(value, "shape") and np.ndim(value):
        return np.zeros_like(value, dtype=np.result_type(value, float))
    return 0.0


def unit_seed(ans: Any, fn: str = "this function") -> float:
    """1.0, the seed that makes a function's adjoint formula its gradient, for a result that
    is a number (forward mode has no tangent from the formula of one that is an array, or
    of several results)."""
    if isinstance(ans, (tuple, list)) or np.ndim(ans):
        what = f"{len(ans)} results" if isinstance(ans, (tuple, list)) else \
            f"a result of shape {np.shape(ans)}"
        raise UnsupportedArgument(
            f"forward mode has a tangent of {fn} only where its result is a number; here it "
            f"has {what}: use adjoint.grad or adjoint.vjp")
    return 1.0


def reduced_tangent(terms: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The tangent of a reduction along `axis` (np.max, np.prod, np.std, logsumexp, ...)
    whose adjoint with ones for g is `terms` / x_dot: each result depends on its own slice
    only, so its tangent is the sum over the slice of the adjoint times the tangent."""
    return np.sum(terms, axis=axis, keepdims=bool(keepdims))  # (None: not given)


def cumprod_tangent(a: Any, a_dot: Any, axis: Any = None) -> Any:
    """The tangent of np.cumprod(a, axis) along a_dot, by the product rule step by step
    (exact where entries are zero, as no division is made)."""
    if axis is None:
        a, a_dot, axis = np.ravel(a), np.ravel(a_dot) * np.ones(np.size(a)), 0
    d = np.moveaxis(np.broadcast_to(a_dot, np.shape(a)), axis, -1)
    a = np.moveaxis(a, axis, -1)
    out = np.zeros(a.shape, dtype=np.result_type(a, d, float))
    prod, prod_dot = np.ones(a.shape[:-1]), np.zeros(a.shape[:-1])
    for k in range(a.shape[-1]):
        prod_dot = prod_dot * a[..., k] + prod * d[..., k]
        prod = prod * a[..., k]
        out[..., k] = prod_dot
    return np.moveaxis(out, -1, axis)


def broadcast_like(t: Any, like: Any, before: Any = None, after: Any = None) -> Any:
    """A tangent of `like`'s shape: t broadcast to it (an operand broadcast in the primal).
    Where `like` is two lists or tuples joined by `+`, one of them (`before` or `after`)
    not varying: t joined to that one's zero tangent."""
    if isinstance(like, (list, tuple)) and isinstance(before if after is None else after,
                                                      (list, tuple)):
        if after is not None:
            return type(like)([*t, *zero_tangent(after)])
        return type(like)([*zero_tangent(before), *t])
    if np.shape(t) == np.shape(like):
        return t
    return np.broadcast_to(t, np.shape(like)).copy()


def tangent_copy(t: Any) -> Any:
    """A tangent of its own (a function that writes into its argument writes into this)."""
    if isinstance(t, list):
        return [tangent_copy(v) for v in t]
    if isinstance(t, dict):
        return {k: tangent_copy(v) for k, v in t.items()}
    return t.copy() if hasattr(t, "copy") and np.ndim(t) else t


def cholesky_tangent(ans: Any, a_dot: Any, upper: bool = False) -> Any:
    """The tangent of cholesky(a) (L, or with upper U = L^T) along a_dot, of which the
    triangle cholesky reads (the lower, or the upper) stands for a symmetric matrix:
    L Phi(L^-1 a_dot L^-T), Phi keeping the lower triangle with the diagonal halved."""
    half = np.triu(a_dot, 1) if upper else np.tril(a_dot, -1)
    a_dot = half + np.swapaxes(half, -1, -2) + np.triu(np.tril(a_dot))
    L = np.swapaxes(ans, -1, -2) if upper else ans
    left = np.linalg.solve(L, a_dot)
    inner = np.swapaxes(np.linalg.solve(L, np.swapaxes(left, -1, -2)), -1, -2)
    phi = np.tril(inner) - 0.5 * inner * np.eye(inner.shape[-1])
    return np.swapaxes(L @ phi, -1, -2) if upper else L @ phi


def multi_dot_tangent(arrays: Any, dots: Any) -> Any:
    """The tangent of np.linalg.multi_dot(arrays) along the items' tangents: one product
    per item that varies, that item replaced by its tangent."""
    terms = [np.linalg.multi_dot([*arrays[:k], d, *arrays[k + 1:]])
             for k, d in enumerate(dots) if np.ndim(d) or d != 0]
    if not terms:
        return zero_tangent(np.linalg.multi_dot(list(arrays)))
    return sum(terms[1:], terms[0])


def det_tangent(a: Any, a_dot: Any, ans: Any) -> Any:
    """The tangent of det(a) along a_dot: tr(adj(a) a_dot), with the adjugate the reverse
    sweep uses (exact where a is singular, where det(a) tr(a^-1 a_dot) is not defined)."""
    from .linalg import det_adjoint

    return np.sum(det_adjoint(1.0, a, ans) * a_dot, axis=(-2, -1))


def extremum_tangent(args: tuple, dots: tuple, ans: Any) -> Any:
    """Tangent of the builtin max(*args) or min(*args): the tangent of the argument that
    attains the result, averaged over ties (as the adjoint splits among them); of max(items)
    of one list or array, of its items that attain it."""
    if len(args) == 1:
        items, items_dot = args[0], dots[0]
        if isinstance(items, (list, tuple)):
            args, dots = tuple(items), tuple(items_dot) if isinstance(
                items_dot, (list, tuple)) else (0.0,) * len(items)
        else:
            hits = np.asarray(items) == ans
            return float(np.sum(np.where(hits, items_dot, 0.0)) / np.sum(hits))
    hits = [bool(v == ans) for v in args]
    return sum(d for d, h in zip(dots, hits, strict=True) if h) / sum(hits)
