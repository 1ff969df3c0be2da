"""Checking gradients against finite differences.

`check_grads(f, args, wrt=...)` compares adjoint's gradient of `f` with central
differences of `f` along a random direction: one scalar comparison per `wrt`
argument, any shapes. Use it to test rules you register yourself.
`check_entries(f, args, wrt=...)` compares them entry by entry and returns the numbers
(what `adjoint check` prints) rather than asserting.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import vspace
from .api import grad as _grad
from .api import resolve_wrt
from .errors import ApiError
from .normalize import normalize
from .parse import parse
from .runtime import records


def _perturb(args: list, kwargs: dict, name: str, position: int | None,
             change: Callable[[Any], Any]) -> None:
    """Replace the argument `name` (at `position` when passed there) with `change` of it."""
    if position is not None and position < len(args):
        args[position] = change(args[position])
    else:
        kwargs[name] = change(kwargs[name])


def _moved_values(f, args: list, kwargs: dict, move: Callable[[list, dict, float], None],
                  h: float) -> list:
    """[f(x + h), f(x - h)]: f at copies of the arguments that `move(args, kwargs, step)`
    changes in place, with step h and -h: the two sides of every central difference."""
    values = []
    for step in (h, -h):
        a, kw = copy.deepcopy((args, kwargs))
        move(a, kw, step)
        values.append(f(*a, **kw))
    return values


def check_grads(f, args, wrt=0, *, kwargs: dict | None = None, optimize: bool = True,
                eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0,
                mutates: bool = False) -> Any:
    """Assert that adjoint's gradient of `f` at `args` matches central differences.

    For each parameter in `wrt`, the gradient's inner product with a random direction v is
    compared with (f(x + eps v) - f(x - eps v)) / (2 eps); in a dataclass or named tuple, v
    moves the fields that hold floats only. Also checks that each gradient has its
    argument's type and shape, and that the gradient call leaves the arguments as `f`
    itself leaves them (`mutates=True` for a function that changes its arguments).
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
    vspace.same_state((args, kwargs), expected_after, f.__name__)
    args, kwargs = before
    rng = np.random.default_rng(seed)
    for name, g in zip(names, grads, strict=True):
        k = params.index(name)
        x = args[k] if k < len(args) else kwargs[name]
        if not vspace.same_kind(g, x):
            raise AssertionError(f"gradient for {name} is {vspace.kind(g)}, but {name} is "
                                 f"{vspace.kind(x)}")
        v = vspace.direction(x, rng)
        numeric = _directional(f, args, kwargs, {name: (k, v)}, eps)
        analytic = vspace.dot(g, v)
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
    w = vspace.direction(result, rng)
    df = _grad(f, wrt=tuple(names), optimize=optimize)
    seed_name = df.__adjoint__.seed
    grads = df(*copy.deepcopy(args), **copy.deepcopy(kwargs), **{seed_name: w})
    directions = {}
    adjoint_side = 0.0
    for name, g in zip(names, grads, strict=True):
        k = params.index(name)
        x = args[k] if k < len(args) else kwargs[name]
        directions[name] = (k, vspace.direction(x, rng))
        adjoint_side += vspace.dot(g, directions[name][1])
    tangent_side = vspace.dot(_directional(f, args, kwargs, directions, eps), w)
    if not np.isclose(adjoint_side, tangent_side, rtol=rtol, atol=atol):
        raise AssertionError(
            f"dot-product test of {f.__name__} fails: <v, J^T w> = {adjoint_side!r} from the "
            f"adjoint, <J v, w> = {tangent_side!r} from central differences")
    return adjoint_side, tangent_side


@dataclass
class EntryCheck:
    """One float array or number among a differentiated argument: central differences
    along single entries of it, beside adjoint's gradient there."""

    label: str  # the argument, and where in it: p['w'], xs[1]
    shape: tuple
    size: int
    checked: list = field(default_factory=list)  # (index, adjoint, finite difference)
    problem: str | None = None  # why no entry could be compared

    def errors(self, atol: float) -> tuple[np.ndarray, np.ndarray]:
        """|adjoint - fd| of each entry checked, and that over max(|adjoint|, |fd|) where
        this exceeds `atol` (else 0)."""
        a = np.array([c[1] for c in self.checked], dtype=float)
        n = np.array([c[2] for c in self.checked], dtype=float)
        err = np.abs(a - n)
        scale = np.maximum(np.abs(a), np.abs(n))
        rel = np.where(scale > atol, err / np.where(scale > 0, scale, 1.0), 0.0)
        return err, rel

    def failing(self, rtol: float, atol: float) -> list:
        """The entries checked that disagree: |adjoint - fd| > atol + rtol * |fd|."""
        err, _ = self.errors(atol)
        n = np.array([c[2] for c in self.checked], dtype=float)
        bad = ~(err <= atol + rtol * np.abs(n))
        return [c for c, b in zip(self.checked, bad, strict=True) if b]


def check_entries(f: Callable, args: Sequence, wrt: Any = 0, *, kwargs: dict | None = None,
                  optimize: bool = True, entries: int = 100, eps: float | None = None,
                  seed: int = 0) -> list[EntryCheck]:
    """Compare adjoint's gradient of `f` at `args` with central differences, entry by entry.

    Each float array or number among the `wrt` arguments (lists, tuples, dicts and the
    float fields of records are walked: dataclasses, named tuples, objects of your class)
    gets an EntryCheck: all its entries, or `entries` of them picked at random (the same
    for the same `seed`), each moved by h = eps * max(1, |x|) either way (`eps` by default
    the cube root of the dtype's machine epsilon). Returns the numbers, without judging
    them: EntryCheck.failing names the entries that disagree. `adjoint check` prints them."""
    kwargs = dict(kwargs or {})
    args = list(args)
    df = _grad(f, wrt=tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,),
               optimize=optimize)  # first: its errors name the stage that failed
    grads = df(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    names, params = _names(f, wrt)
    rng = np.random.default_rng(seed)
    out = []
    for name, g in zip(names, grads, strict=True):
        k = params.index(name)
        x = args[k] if k < len(args) else kwargs[name]
        for label, path, leaf, leaf_grad in _leaves(name, x, g):
            where = (name, k, path)
            out.append(_check_leaf(f, args, kwargs, where, label, leaf, leaf_grad, entries,
                                   rng, eps))
    return out


def _leaves(label: str, x, g, path: tuple = ()) -> list[tuple[str, tuple, Any, Any]]:
    """(label, path, value, gradient) of each array or number in `x`, walking the lists,
    tuples and dicts that its gradient `g` matches; `path` holds their indexes and keys."""
    if records.is_record(x) and vspace.same_kind(g, x):
        return [leaf for f in records.differentiable(x)
                for leaf in _leaves(f"{label}.{f}", getattr(x, f),
                                    g[f] if isinstance(g, dict) else getattr(g, f), (*path, f))]
    if isinstance(x, dict) and isinstance(g, dict) and g.keys() == x.keys():
        return [leaf for key in x
                for leaf in _leaves(f"{label}[{key!r}]", x[key], g[key], (*path, key))]
    if isinstance(x, (list, tuple)) and isinstance(g, (list, tuple)) and len(g) == len(x):
        return [leaf for k, (v, d) in enumerate(zip(x, g, strict=True))
                for leaf in _leaves(f"{label}[{k}]", v, d, (*path, k))]
    return [(label, path, x, g)]


def _check_leaf(f, args: list, kwargs: dict, where: tuple, label: str, x, g, entries: int,
                rng: np.random.Generator, eps: float | None) -> EntryCheck:
    """Central differences of `f` along single entries of `x` (all of them, or a random
    `entries` of them for a bigger array), beside its gradient `g`; `where` is (argument
    name, position, path) of `x`."""
    shape = _shape(x)
    out = EntryCheck(label, shape, int(np.prod(shape, dtype=int)))
    out.problem = _mismatch(x, g)
    if out.problem is not None:
        return out
    dtype = x.dtype if isinstance(x, np.ndarray) else np.dtype(float)
    step = eps if eps is not None else float(np.cbrt(np.finfo(dtype).eps))
    picked = range(out.size) if out.size <= entries else \
        sorted(rng.choice(out.size, size=entries, replace=False))
    grad = np.reshape(np.asarray(g, dtype=float), -1)
    name, k, path = where
    for i in picked:
        index = np.unravel_index(i, shape) if shape else ()
        xi = float(np.reshape(x, -1)[i])
        h = step * max(1.0, abs(xi))

        def move(a: list, kw: dict, delta: float, index=index, xi=xi) -> None:
            _perturb(a, kw, name, k, lambda arg: vspace.with_entry(arg, path, index, xi + delta))

        plus, minus = _moved_values(f, args, kwargs, move, h)
        numeric = (_scalar(plus, f) - _scalar(minus, f)) / (2 * h)
        out.checked.append((index, float(grad[i]), numeric))
    return out


def _shape(x) -> tuple:
    try:
        return np.shape(x)
    except ValueError:  # a ragged list
        return ()


def _mismatch(x, g) -> str | None:
    """Why the gradient `g` cannot be compared with the value `x` entry by entry."""
    if records.is_record(x):
        return f"the gradient is a {type(g).__name__}, the argument a {type(x).__name__}"
    if isinstance(x, dict) and isinstance(g, dict):
        return f"the gradient has the keys {list(g)}, the argument {list(x)}"
    if isinstance(x, (list, tuple)) and isinstance(g, (list, tuple)):
        return f"the gradient has {len(g)} items, the argument {len(x)}"
    if isinstance(x, (dict, list, tuple)):
        return f"the gradient is a {type(g).__name__}, the argument a {type(x).__name__}"
    if not isinstance(x, (np.ndarray, np.number, float, int)):
        return f"it holds a {type(x).__name__}, not floats"
    if _shape(g) != _shape(x):
        return f"the gradient has shape {_shape(g)}, the argument {_shape(x)}"
    return None


def _scalar(value, f) -> float:
    if np.ndim(value) != 0:
        raise ValueError(f"{f.__name__} returned an array of shape {np.shape(value)}; "
                         "central differences along entries need a scalar result")
    return float(value)



def _names(f, wrt) -> tuple[tuple, list]:
    names = resolve_wrt(normalize(parse(f), _namer()), wrt)
    generic = getattr(f, "__adjoint_generic__", None)  # a gradient: its emitted function's
    code = (f if generic is None else generic.function).__code__
    params = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    if getattr(f, "__self__", None) is not None and hasattr(f, "__func__"):
        params = params[1:]  # a bound method: the arguments start after self
    for name in names:
        if name not in params:  # *args
            raise ApiError(f"central differences along {name}, the *args of {f.__name__}, "
                           "are not supported: check the named parameters")
    return names, params


def _directional(f, args, kwargs, directions: dict, eps: float):
    """(f(x + eps v) - f(x - eps v)) / (2 eps), moving every argument in `directions`."""
    def move(a: list, kw: dict, step: float) -> None:
        for name, (k, v) in directions.items():
            delta = vspace.scale(v, step)
            _perturb(a, kw, name, k, lambda x, d=delta: vspace.add(x, d))

    plus, minus = _moved_values(f, args, kwargs, move, eps)
    return vspace.combine(plus, minus, 1 / (2 * eps))


_same_kind = vspace.same_kind  # tests/fuzzing reads it here


def _namer():
    from .api import RESERVED
    from .naming import Namer

    return Namer(RESERVED)
