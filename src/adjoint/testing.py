"""Checking gradients against finite differences.

`check_grads(f, args, wrt=...)` compares adjoint's gradient of `f` with central
differences of `f` along a random direction: one scalar comparison per `wrt`
argument, any shapes. Use it to test rules you register yourself.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .api import grad as _grad
from .api import resolve_wrt
from .normalize import normalize
from .parse import parse


def _perturb(args: list, kwargs: dict, name: str, position: int | None, delta) -> tuple:
    args, kwargs = list(args), dict(kwargs)
    if position is not None and position < len(args):
        args[position] = _add(args[position], delta)
    else:
        kwargs[name] = _add(kwargs[name], delta)
    return args, kwargs


# Arguments may be numbers, arrays, and lists, tuples and dicts of them.

def _add(x, d):
    if isinstance(x, dict):
        return {k: _add(x[k], d[k]) for k in x}
    if isinstance(x, (list, tuple)):
        return type(x)(_add(a, b) for a, b in zip(x, d, strict=True))
    return x + d


def _direction(x, rng):
    if isinstance(x, dict):
        return {k: _direction(v, rng) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_direction(v, rng) for v in x]
    if np.ndim(x) == 0:
        return float(rng.normal())
    return rng.normal(size=np.shape(x))


def _dot(a, b) -> float:
    if isinstance(a, dict):
        return sum(_dot(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return sum(_dot(x, y) for x, y in zip(a, b, strict=True))
    return float(np.sum(np.asarray(a) * np.asarray(b)))


def _scale(d, s):
    if isinstance(d, dict):
        return {k: _scale(v, s) for k, v in d.items()}
    if isinstance(d, list):
        return [_scale(v, s) for v in d]
    return d * s


def _same_kind(g, x) -> bool:
    if isinstance(x, dict):
        return isinstance(g, dict) and g.keys() == x.keys() and all(
            _same_kind(g[k], x[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return isinstance(g, (list, tuple)) and len(g) == len(x) and all(
            _same_kind(a, b) for a, b in zip(g, x, strict=True))
    if np.ndim(x) == 0:
        return np.ndim(g) == 0
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":  # an array's gradient is an array
        return isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == x.dtype
    return np.shape(g) == np.shape(x)


def _kind(x) -> str:
    """How a value is described in check_grads' messages: a float32 array of shape (3,)."""
    if isinstance(x, np.ndarray):
        return f"a {x.dtype} array of shape {x.shape}"
    return f"a {type(x).__name__} of shape {np.shape(x)}"


def check_grads(f, args, wrt=0, *, kwargs: dict | None = None, optimize: bool = True,
                eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0,
                mutates: bool = False) -> Any:
    """Assert that adjoint's gradient of `f` at `args` matches central differences.

    For each parameter in `wrt`, the gradient's inner product with a random direction v is
    compared with (f(x + eps v) - f(x - eps v)) / (2 eps). Also checks that each gradient
    has its argument's type and shape, and that the gradient call leaves the arguments as
    `f` itself leaves them (`mutates=True` for a function that changes its arguments).
    Returns the gradients, a tuple in the order of `wrt`. To test a rule you registered,
    differentiate a small function that calls it::

        adjoint.register(softplus, x="g / (1 + np.exp(-x))")

        def uses_softplus(x):
            return np.sum(softplus(x) * x)

        check_grads(uses_softplus, [np.linspace(-2.0, 2.0, 5)])
    """
    kwargs = dict(kwargs or {})
    args = list(args)
    names, params = _names(f, wrt)
    df = _grad(f, wrt=tuple(names), optimize=optimize)
    expected_after = copy.deepcopy((args, kwargs))
    if mutates:
        f(*expected_after[0], **expected_after[1])
    before = copy.deepcopy((args, kwargs))
    grads = df(*args, **kwargs)
    _same_state((args, kwargs), expected_after, f.__name__)
    args, kwargs = before
    rng = np.random.default_rng(seed)
    for name, g in zip(names, grads, strict=True):
        k = params.index(name)
        x = args[k] if k < len(args) else kwargs[name]
        if not _same_kind(g, x):
            raise AssertionError(f"gradient for {name} is {_kind(g)}, but {name} is "
                                 f"{_kind(x)}")
        v = _direction(x, rng)
        numeric = _directional(f, args, kwargs, {name: (k, v)}, eps)
        analytic = _dot(g, v)
        if not np.isclose(analytic, float(numeric), rtol=rtol, atol=atol):
            raise AssertionError(
                f"gradient of {f.__name__} with respect to {name} disagrees with central "
                f"differences: <grad, v> = {analytic!r}, finite differences = {numeric!r}")
    return grads


def dot_product_test(f, args, wrt=0, *, kwargs: dict | None = None, optimize: bool = True,
                     eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7,
                     seed: int = 0) -> tuple[float, float]:
    """The adjoint consistency check: <J v, w> against <v, J^T w>.

    J is the Jacobian of `f` with respect to the `wrt` arguments, v a random direction in
    them and w a random weighting of f's result (any shape: the emitted code, seeded with
    w, is a vector-Jacobian product). J v comes from central differences, J^T w from the
    emitted adjoint. Asserts the two inner products agree; returns them."""
    kwargs = dict(kwargs or {})
    args = list(args)
    names, params = _names(f, wrt)
    rng = np.random.default_rng(seed)
    result = f(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    w = _direction(result, rng)
    df = _grad(f, wrt=tuple(names), optimize=optimize)
    seed_name = df.__adjoint__.seed
    grads = df(*copy.deepcopy(args), **copy.deepcopy(kwargs), **{seed_name: w})
    directions = {}
    adjoint_side = 0.0
    for name, g in zip(names, grads, strict=True):
        k = params.index(name)
        x = args[k] if k < len(args) else kwargs[name]
        directions[name] = (k, _direction(x, rng))
        adjoint_side += _dot(g, directions[name][1])
    tangent_side = _dot(_directional(f, args, kwargs, directions, eps), w)
    if not np.isclose(adjoint_side, tangent_side, rtol=rtol, atol=atol):
        raise AssertionError(
            f"dot-product test of {f.__name__} fails: <v, J^T w> = {adjoint_side!r} from the "
            f"adjoint, <J v, w> = {tangent_side!r} from central differences")
    return adjoint_side, tangent_side


def _names(f, wrt) -> tuple[tuple, list]:
    names = resolve_wrt(normalize(parse(f), _namer()), wrt)
    generic = getattr(f, "__adjoint_generic__", None)  # a gradient: its emitted function's
    code = (f if generic is None else generic.function).__code__
    return names, list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])


def _directional(f, args, kwargs, directions: dict, eps: float):
    """(f(x + eps v) - f(x - eps v)) / (2 eps), moving every argument in `directions`."""
    values = []
    for step in (eps, -eps):
        a, kw = copy.deepcopy((args, kwargs))
        for name, (k, v) in directions.items():
            a, kw = _perturb(a, kw, name, k, _scale(v, step))
        values.append(f(*a, **kw))
    return _combine(values[0], values[1], 1 / (2 * eps))


def _combine(plus, minus, scale):
    if isinstance(plus, dict):
        return {k: _combine(plus[k], minus[k], scale) for k in plus}
    if isinstance(plus, (list, tuple)):
        return [_combine(a, b, scale) for a, b in zip(plus, minus, strict=True)]
    return (np.asarray(plus, dtype=float) - np.asarray(minus, dtype=float)) * scale


def _same_state(actual, expected, fname: str) -> None:
    """The arguments after the gradient call equal those after calling f itself."""
    def same(a, e) -> bool:
        if isinstance(a, dict):
            return all(same(a[k], e[k]) for k in a)
        if isinstance(a, (list, tuple)):
            return len(a) == len(e) and all(same(x, y) for x, y in zip(a, e, strict=True))
        if isinstance(a, np.ndarray):
            return np.array_equal(a, e, equal_nan=True)
        return True

    for a, e in zip([*actual[0], *actual[1].values()], [*expected[0], *expected[1].values()],
                    strict=True):
        if not same(a, e):
            raise AssertionError(f"the gradient of {fname} changed an argument it was given")


def _namer():
    from .api import RESERVED
    from .naming import Namer

    return Namer(RESERVED)
