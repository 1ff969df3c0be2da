"""The hard cases of scipy.stats' rules: densities for the adjoints of cdf-like functions, the
t distribution's degrees of freedom, the Dirichlet and the multivariate normal.

NumPy only, except where a helper needs a special function or another distribution's density:
then it imports SciPy when it runs (code that calls scipy.stats has it)."""

from __future__ import annotations

import math

import numpy as np

from .special import polygamma

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def normal_logdensity(x, loc=0.0, scale=1.0):
    """log of the normal density at x: scipy.stats.norm.logpdf(x, loc, scale), in NumPy."""
    z = (x - loc) / scale
    return -0.5 * z * z - _LOG_SQRT_2PI - np.log(scale)


def normal_density(x, loc=0.0, scale=1.0):
    """The normal density at x: scipy.stats.norm.pdf(x, loc, scale), in NumPy."""
    return np.exp(normal_logdensity(x, loc, scale))


def stats_logdensity(name: str, x, *params):
    """log of the density (or mass) of the scipy.stats distribution `name` at x, for the
    adjoints of its cdf, sf and their logarithms."""
    import scipy.stats

    dist = getattr(scipy.stats, name)
    method = dist.logpmf if isinstance(dist, scipy.stats.rv_discrete) else dist.logpdf
    return method(x, *params)


def stats_density(name: str, x, *params):
    """The density (or mass) of the scipy.stats distribution `name` at x."""
    return np.exp(stats_logdensity(name, x, *params))


def t_df_derivative(x, df, loc=0.0, scale=1.0):
    """d/d df of scipy.stats.t.logpdf(x, df, loc, scale)."""
    z2 = ((x - loc) / scale) ** 2
    return (0.5 * (polygamma(0, (df + 1) / 2) - polygamma(0, df / 2)) - 0.5 / df
            - 0.5 * np.log1p(z2 / df) + 0.5 * (df + 1) * z2 / (df * (df + z2)))


# ---------------------------------------------------------------- dirichlet

def _shaped(v, like):
    """v in the shape of `like`: a NumPy number for a number, as other rules give."""
    v = np.reshape(v, np.shape(like))
    return v[()] if v.ndim == 0 else v


def _per_point(g, shape: tuple):
    """The adjoint of a density evaluated at points of `shape` (what scipy squeezed back)."""
    g = np.asarray(g, dtype=float)
    return np.broadcast_to(g, shape) if g.size == 1 else np.reshape(g, shape)


def _dirichlet_points(x, alpha):
    """x with the component scipy completes when x has one entry fewer than alpha, and whether
    it did: the first axis of x labels the components, the others the points."""
    x = np.asarray(x, dtype=float)
    if x.shape[0] == len(alpha):
        return x, False
    return np.concatenate([x, 1 - np.sum(x, axis=0, keepdims=True)]), True


def dirichlet_x_adjoint(g, x, alpha):
    """Adjoint of x in scipy.stats.dirichlet.logpdf(x, alpha): (alpha - 1) / x per point
    (minus the last component's share when scipy completes x)."""
    alpha = np.asarray(alpha, dtype=float)
    full, completed = _dirichlet_points(x, alpha)
    g = _per_point(g, full.shape[1:])
    a = alpha.reshape(alpha.shape + (1,) * (full.ndim - 1))
    out = g * (a - 1) / full
    if completed:
        out = out[:-1] - out[-1:]
    return _shaped(out, x)


def dirichlet_alpha_adjoint(g, x, alpha):
    """Adjoint of alpha in scipy.stats.dirichlet.logpdf(x, alpha):
    digamma(sum alpha) - digamma(alpha) + log x, summed over the points."""
    alpha_ = np.asarray(alpha, dtype=float)
    full, _ = _dirichlet_points(x, alpha_)
    g = _per_point(g, full.shape[1:])
    logs = np.log(full).reshape(len(alpha_), -1) @ np.reshape(g, -1)
    out = np.sum(g) * (polygamma(0, np.sum(alpha_)) - polygamma(0, alpha_)) + logs
    return _shaped(out, alpha)


# ---------------------------------------------------------------- multivariate normal

def mvn_logpdf_adjoint(g, x, mean, cov, k: int):
    """Adjoint of x (k=0), mean (k=1) or cov (k=2) in
    scipy.stats.multivariate_normal.logpdf(x, mean, cov). With S = cov and r = x - mean for
    each point: -S^-1 r for x, S^-1 r summed over the points for mean,
    (S^-1 r r' S^-1 - S^-1) / 2 summed for cov, folded onto the lower triangle SciPy reads
    (a vector cov is S's diagonal, a number c stands for c I)."""
    from .linalg import _fold

    if not isinstance(cov, (int, float, np.ndarray, list, tuple, np.generic)):
        from ..errors import UnsupportedArgument

        raise UnsupportedArgument("scipy.stats.multivariate_normal.logpdf is differentiated "
                                  "for a covariance given as an array, not a "
                                  f"{type(cov).__name__}")
    c = np.asarray(cov, dtype=float)
    if mean is not None:
        dim = np.size(mean)
    else:
        dim = 1 if c.ndim < 2 else c.shape[0]
    m = np.zeros(dim) if mean is None else np.reshape(np.asarray(mean, dtype=float), dim)
    S = c * np.eye(dim) if c.ndim == 0 else np.diag(c) if c.ndim == 1 else c
    points = np.asarray(x, dtype=float)
    if points.ndim == 0 or (points.ndim == 1 and dim == 1):
        points = np.reshape(points, (-1, 1))
    points = np.reshape(points, (-1, dim))
    g = _per_point(g, points.shape[:1])
    A = np.linalg.solve(S, (points - m).T).T  # one row S^-1 r per point
    if k == 0:
        return _shaped(-g[:, None] * A, x)
    if k == 1:
        return _shaped(g @ A, mean)
    G = 0.5 * ((A.T * g) @ A - np.sum(g) * np.linalg.inv(S))
    G = 0.5 * (G + G.T)
    if c.ndim == 0:
        return _shaped(np.trace(G), cov)
    if c.ndim == 1:
        return np.diagonal(G).copy()
    return _fold(G, lower=True)
