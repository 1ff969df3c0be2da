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


# ---------------------------------------------------------------- scipy.special's derivatives

# d/dx of a Bessel function of order v from its neighbours of orders v - 1 and v + 1:
# (a * f(v - 1, x) + b * f(v + 1, x)) / 2, plus c * sign(x) * f(v, x) (or c * f(v, x)) for the
# scaled ones (ive = iv exp(-|x|), kve = kv exp(x))
_BESSEL = {"iv": (1, 1, 0), "jv": (1, -1, 0), "yv": (1, -1, 0), "yn": (1, -1, 0),
           "kv": (-1, -1, 0), "ive": (1, 1, -1), "kve": (-1, -1, 1)}


def bessel_derivative(name: str, v, x):
    """d/dx of scipy.special.<name>(v, x), the Bessel function `name` (iv, ive, jv, yv, yn,
    kv, kve) of order v: (f(v-1, x) + f(v+1, x)) / 2 for iv, (f(v-1, x) - f(v+1, x)) / 2 for
    jv, yv and yn, -(f(v-1, x) + f(v+1, x)) / 2 for kv; the scaled ive and kve add the
    derivative of their factor. i0, j1, k0e and their kin are these at orders 0 and 1."""
    from scipy import special

    f = getattr(special, name)
    a, b, c = _BESSEL[name]
    out = (a * f(v - 1, x) + b * f(v + 1, x)) / 2
    if c:
        out = out + c * (np.sign(x) if name == "ive" else 1.0) * f(v, x)
    return _weights(out, x)


def gammainc_derivative(a, x):
    """d/dx of scipy.special.gammainc(a, x), the regularized lower incomplete gamma
    function: exp(-x) x^(a-1) / gamma(a), in logarithms (gammaincc's is its negative)."""
    from scipy import special

    out = np.exp(special.xlogy(a - 1, x) - x - special.gammaln(a))
    return _weights(out, x)


def betainc_derivative(a, b, x):
    """d/dx of scipy.special.betainc(a, b, x), the regularized incomplete beta function:
    x^(a-1) (1-x)^(b-1) / B(a, b), in logarithms (betaincc's is its negative)."""
    from scipy import special

    out = np.exp(special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b))
    return _weights(out, x)


def rgamma_derivative(x, ans):
    """d/dx of scipy.special.rgamma(x) = 1 / gamma(x): -rgamma(x) digamma(x), and at the
    poles of gamma (x = -n, n = 0, 1, ...), where rgamma is 0, its limit (-1)^n n!."""
    from scipy import special

    pole = (x <= 0) & (np.floor(x) == x)
    n = np.where(pole, -x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = -ans * special.psi(np.where(pole, 1.0, x))
    out = np.where(pole, (-1.0) ** n * special.gamma(n + 1), smooth)
    return _weights(out, x) if getattr(x, "dtype", None) is not None else out[()]


def multigammaln_derivative(a, d):
    """d/da of scipy.special.multigammaln(a, d), the log of the multivariate gamma function:
    the sum of digamma(a - j / 2) for j = 0 .. d - 1."""
    from scipy import special

    out = sum(special.psi(a - j / 2) for j in range(int(d)))
    return _weights(out, a) if getattr(a, "dtype", None) is not None else out
