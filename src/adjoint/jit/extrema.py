"""extrema: numba versions of the adjoints of max and min (the builtins, np.maximum and
np.minimum, np.max of an array), of a power's exponent and of the guarded ratio of norms
(math.hypot, np.arctan2), each the NumPy runtime's rule for the types numba passes.

Numbers are what element loops give them; arrays where the NumPy rule is one expression
that numba compiles too. Anything else has no version here, and the gradient is refused.
"""

from __future__ import annotations

import math

from numba import types
from numba.extending import overload

from .storage import is_array, is_number


def builtin_extremum_adjoint(g, args, k, ans, key=None):
    """Adjoint of args[k] in max(*args) or min(*args): g where it attains the result, split
    equally among ties."""


@overload(builtin_extremum_adjoint)
def _builtin_extremum_adjoint(g, args, k, ans, key=None):
    if not (key is None or isinstance(key, (types.NoneType, types.Omitted))) or not \
            is_number(g) or not isinstance(args, types.BaseTuple) or len(args) < 2 or not all(
            is_number(t) for t in args.types):
        return None  # key=, or max(items) of one list: the NumPy backend's
    n = len(args)
    lines = ["def impl(g, args, k, ans, key=None):",
             "    hits = " + " + ".join(f"(args[{j}] == ans)" for j in range(n)),
             "    mine = False"]
    lines += [f"    if k == {j}:\n        mine = args[{j}] == ans" for j in range(n)]
    lines.append("    return g / hits if mine else 0.0 * g")
    scope: dict = {}
    exec("\n".join(lines) + "\n", scope)  # noqa: S102 - a fixed template over the count
    return scope["impl"]


def maximum_adjoint(g, x, y):
    """The share of `x` in g for np.maximum(x, y) (or minimum): 1 where x wins, 1/2 on
    ties."""


@overload(maximum_adjoint)
def _maximum_adjoint(g, x, y):
    if all(is_number(t) for t in (g, x, y)):
        return lambda g, x, y: g * (1.0 if x > y else 0.5 if x == y else 0.0)
    if any(is_array(t) for t in (g, x, y)) and all(is_array(t) or is_number(t)
                                                    for t in (g, x, y)):
        return lambda g, x, y: g * ((x > y) * 1.0 + (x == y) * 0.5)
    return None


def power_exponent_adjoint(g, base, ans):
    """Adjoint of the exponent p in base ** p: g * ans * log(base); 0 where ans is 0, g is
    0 or the base 1."""


@overload(power_exponent_adjoint)
def _power_exponent_adjoint(g, base, ans):
    if not all(is_number(t) for t in (g, base, ans)):
        return None

    def impl(g, base, ans):
        if ans == 0 or g == 0 or base == 1:
            return 0.0
        return g * ans * (math.log(base) if base > 0 else math.nan)
    return impl


def safe_ratio(num, den):
    """num / den, and 0 where den is 0 (a norm's zero subgradient at the origin)."""


@overload(safe_ratio)
def _safe_ratio(num, den):
    if not (is_number(num) and is_number(den)):
        return None
    return lambda num, den: num / den if den != 0 else 0.0 * num


def extremum_adjoint(g, x, ans, axis=None, keepdims=False, where=None):
    """Adjoint of np.max(x) (np.min, np.amax...) of a whole array: g at the positions that
    attain it, split equally among ties."""


@overload(extremum_adjoint)
def _extremum_adjoint(g, x, ans, axis=None, keepdims=False, where=None):
    plain = all(a is None or isinstance(a, (types.NoneType, types.Omitted))
                for a in (axis, where))
    if not plain or not is_number(g):
        return None
    if is_number(x):
        return lambda g, x, ans, axis=None, keepdims=False, where=None: g
    if not is_array(x):
        return None

    def impl(g, x, ans, axis=None, keepdims=False, where=None):
        hit = (x == ans) * 1.0
        return hit * (g / max(hit.sum(), 1.0))
    return impl

