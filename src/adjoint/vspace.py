"""vspace: the arguments check_grads and check_entries move along, as trees.

Arguments may be numbers, arrays, and lists, tuples, dicts and records (named tuples,
dataclasses, objects of the user's class: runtime/records.py) of them. A direction in a record
is a dict over its fields that hold floats; the others are static, never moved. One walk for
every checker: adjoint.testing, `adjoint check` and the tests use these (autograd's vspace).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from .runtime import records


def add(x, d):
    """x moved by the direction d."""
    if records.is_record(x):
        return records.replaced(x, {k: add(getattr(x, k), v) for k, v in d.items()})
    if isinstance(x, dict):
        return {k: add(x[k], d[k]) for k in x}
    if isinstance(x, (list, tuple)):
        return type(x)(add(a, b) for a, b in zip(x, d, strict=True))
    return x + d


def direction(x, rng):
    """A random direction in the space of x (its floats)."""
    if records.is_record(x):
        return {f: direction(getattr(x, f), rng) for f in records.differentiable(x)}
    if isinstance(x, dict):
        return {k: direction(v, rng) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [direction(v, rng) for v in x]
    if np.ndim(x) == 0:
        return float(rng.normal())
    return rng.normal(size=np.shape(x))


def dot(a, b) -> float:
    """The inner product of a gradient (or a tree like x) with a direction."""
    if isinstance(b, dict):  # a: a dict, or a record's gradient (direction b: a dict)
        return sum(dot(a[k] if isinstance(a, dict) else getattr(a, k), b[k]) for k in b)
    if isinstance(a, (list, tuple)):
        return sum(dot(x, y) for x, y in zip(a, b, strict=True))
    return float(np.sum(np.asarray(a) * np.asarray(b)))


def scale(d, s):
    """The direction d times the number s."""
    if isinstance(d, dict):
        return {k: scale(v, s) for k, v in d.items()}
    if isinstance(d, list):
        return [scale(v, s) for v in d]
    return d * s


def same_kind(g, x) -> bool:
    """Whether g has the type and shape the gradient of x must have."""
    if records.is_record(x):  # a record of x's type, or a dict for an object of a plain class
        fields = records.differentiable(x)
        plain = not isinstance(x, tuple) and not dataclasses.is_dataclass(x)
        if plain:
            return isinstance(g, dict) and set(g) == set(fields) and all(
                same_kind(g[f], getattr(x, f)) for f in fields)
        return type(g) is type(x) and all(same_kind(getattr(g, f), getattr(x, f))
                                          for f in fields)
    if isinstance(x, dict):
        return isinstance(g, dict) and g.keys() == x.keys() and all(
            same_kind(g[k], x[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return isinstance(g, (list, tuple)) and len(g) == len(x) and all(
            same_kind(a, b) for a, b in zip(g, x, strict=True))
    if np.ndim(x) == 0:
        return np.ndim(g) == 0
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":  # an array's gradient is an array
        return isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == x.dtype
    return np.shape(g) == np.shape(x)


def kind(x) -> str:
    """How a value is described in check_grads' messages: a float32 array of shape (3,)."""
    if isinstance(x, np.ndarray):
        return f"a {x.dtype} array of shape {x.shape}"
    return f"a {type(x).__name__} of shape {np.shape(x)}"


def with_entry(x, path: tuple, index: tuple, value: float):
    """A copy of `x` with the entry at `path` (keys and positions into dicts, lists and
    tuples), then `index` (into an array there), set to `value`."""
    if path:
        head, rest = path[0], path[1:]
        if records.is_record(x):
            return records.replaced(x, {head: with_entry(getattr(x, head), rest, index,
                                                          value)})
        if isinstance(x, dict):
            moved = copy.copy(x)
            moved[head] = with_entry(x[head], rest, index, value)
            return moved
        items = list(x)
        items[head] = with_entry(items[head], rest, index, value)
        return type(x)(items)
    if isinstance(x, np.ndarray):
        moved = x.copy()
        moved[index] = value
        return moved
    return value


def combine(plus, minus, factor):
    """(plus - minus) * factor over two results of f: a central difference."""
    if isinstance(plus, dict):
        return {k: combine(plus[k], minus[k], factor) for k in plus}
    if isinstance(plus, (list, tuple)):
        return [combine(a, b, factor) for a, b in zip(plus, minus, strict=True)]
    return (np.asarray(plus, dtype=float) - np.asarray(minus, dtype=float)) * factor


def same_state(actual, expected, fname: str) -> None:
    """The arguments after the gradient call equal those after calling f itself."""
    def same(a, e) -> bool:
        if records.is_record(a):
            return all(same(getattr(a, f), getattr(e, f)) for f in records.differentiable(a))
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


def flatten(tree):
    """(vector, unflatten): the floats of a tree of parameters as one float64 vector, and the
    function that puts a vector of that length back into a tree of the same structure.

    The tree holds numbers and arrays in dicts, lists, tuples and records (dataclasses, named
    tuples, objects of your own class), as the arguments of a gradient may; its leaves that
    hold no floats (ints, strings, None) are static: unflatten keeps them as they are. A
    gradient has the structure of its argument, so it flattens in the same order: this is
    what `scipy.optimize.minimize(fun, x0, jac=True, hessp=...)` needs of a model with several
    parameter arrays (JAX's ravel_pytree)::

        theta, unflatten = adjoint.flatten(params)
        value, g = adjoint.value_and_grad(loss)(unflatten(theta), X, y)
        g_vector, _ = adjoint.flatten(g)
    """
    from .errors import ApiError
    from .runtime.trees import tree_map

    leaves: list = []

    def visit(leaf):
        if _float_leaf(leaf):
            leaves.append(leaf)
        return leaf

    tree_map(visit, tree)
    pieces = [np.ravel(np.asarray(leaf, dtype=float)) for leaf in leaves]
    vector = np.concatenate(pieces) if pieces else np.zeros(0)
    size = vector.size

    def unflatten(v):
        v = np.asarray(v, dtype=float)
        if v.shape != (size,):
            raise ApiError(f"unflatten takes a vector of {size} floats, the length flatten "
                           f"gave; this one has shape {v.shape}")
        offset = 0

        def put(leaf):
            nonlocal offset
            if not _float_leaf(leaf):
                return leaf
            piece = v[offset:offset + np.size(leaf)]
            offset += np.size(leaf)
            if isinstance(leaf, (float, np.floating)):
                return type(leaf)(piece[0])
            return piece.reshape(np.shape(leaf)).astype(leaf.dtype)

        return tree_map(put, tree)

    return vector, unflatten


def _float_leaf(leaf) -> bool:
    """Whether a leaf of a parameter tree holds floats (a float, a float array)."""
    if isinstance(leaf, bool):
        return False
    if isinstance(leaf, (float, np.floating)):
        return True
    return isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f"
