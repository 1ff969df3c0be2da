"""Digamma, polygamma, and the adjoints of scipy.special's logsumexp and softmax."""

from __future__ import annotations

import math

import numpy as np

from .containers import parts, zeros_like
from .reductions import _expand
from .shapes import _is_zero, _weights, unbroadcast


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
