"""Adjoints of the builtins max and min and of math.prod, math.sumprod and math.dist."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedArgument
from .containers import per_item
from .elementwise import safe_ratio
from .reductions import _prod_others, extremum_adjoint


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
