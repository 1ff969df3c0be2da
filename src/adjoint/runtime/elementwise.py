"""Elementwise adjoints: zero-keeping products and ratios, powers, maxima, np.where, np.clip."""

from __future__ import annotations

import math

import numpy as np

from .arrays import on_host
from .shapes import _ndim, _weights, unbroadcast


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
    if _ndim(den) == 0 and _ndim(num) == 0 and on_host(num, den):
        return num / den if den != 0 else 0.0 * num
    zero = den == 0
    return np.where(zero, 0.0, num / np.where(zero, 1.0, den))


def power_exponent_adjoint(g, base, ans):
    """Adjoint of the exponent p in base ** p: g * ans * log(base); 0 where ans is 0 or the
    base 1 (base 0 and p > 0, or base 1: the result stays as p moves)."""
    if _ndim(base) == 0 and _ndim(ans) == 0 and _ndim(g) == 0 and on_host(base, ans, g):
        if ans == 0 or g == 0 or base == 1:  # also where g is not finite: the result stays
            return 0.0
        return g * ans * (math.log(base) if base > 0 else math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((ans == 0) | (g == 0) | (base == 1), 0.0, g * ans * np.log(base))


def sinc_derivative(x, ans):
    """d sinc(x) / dx = (cos(pi x) - sinc(x)) / x, and 0 at x = 0."""
    zero = x == 0
    return np.where(zero, 0.0, (np.cos(np.pi * x) - ans) / np.where(zero, 1.0, x))


def fmax_adjoint(g, x, y, lower: bool = False):
    """The share of `x` in g for np.fmax(x, y) (np.fmin with lower=True): 1 where x wins or
    y is NaN, 1/2 on ties."""
    wins = (x < y) if lower else (x > y)
    return g * _weights(wins + 0.5 * (x == y) + (np.isnan(y) & ~np.isnan(x)), g, x)


def maximum_adjoint(g, x, y):
    """The share of `x` in g for np.maximum(x, y) (or minimum): 1 where x wins, 1/2 on ties."""
    return g * _weights((x > y) + 0.5 * (x == y), g, x)


def mod_adjoint_rhs(g, x1, x2):
    return unbroadcast(-g * np.floor_divide(x1, x2), x2)


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
