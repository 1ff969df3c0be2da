"""dims: concrete shapes, for code specialized on the shapes of a call's array arguments.

`shapes` (terms.py) gives each name a term; where the arguments' shapes are known it starts
each array parameter at ("dims", its shape) and asks this module for the shape of what a
statement makes from operands of known shape. Every answer here is exact for the shapes
it was given, or None: the emitted code drops a broadcasting sum on the strength of it, so
a guess would be a wrong gradient. The ints a function reads off those shapes (`n, d =
x.shape`, `len(x)`) are known too, where their name is bound once."""

from __future__ import annotations

import ast
import operator
from collections import Counter

import numpy as np

from .. import ir
from ..ir import Assign, Const, Name, Unpack

REDUCTIONS = frozenset({np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.prod, np.std,
                        np.var, np.nansum, np.nanmean, np.nanmax, np.nanmin, np.all, np.any})
MAKERS = frozenset({np.zeros, np.ones, np.empty, np.full})
REDUCING_METHODS = frozenset({"sum", "mean", "max", "min", "prod", "std", "var", "all", "any"})
MATMULS = frozenset({operator.matmul, np.matmul, np.dot})


def is_dims(term: object) -> bool:
    return isinstance(term, tuple) and len(term) == 2 and term[0] == "dims"


def split_given(given: tuple) -> tuple[dict, dict]:
    """({parameter: shape}, {parameter: int}) of what code is specialized on: the shapes of
    array parameters, and the ints a caller passes that are known where its shapes are.
    (An entry (parameter, 'int') says an array holds integers: int_arrays.)"""
    return ({p: tuple(v) for p, v in given if isinstance(v, tuple)},
            {p: v for p, v in given if isinstance(v, int) and not isinstance(v, bool)})


def int_arrays(fn: ir.Function, given: tuple, kind: dict | None = None) -> set[str]:
    """The names that hold integer arrays (or their 0-d items): parameters given as such,
    np.arange of ints (`kind`: the names known to hold ints), and names every definition
    of which takes items of one (`obs[i, 0]`)."""
    found = {p for p, v in given if v == "int"}
    once = Counter(n for s in ir.walk(fn.body) for n in ir.defs(s))
    found |= {s.target for s in ir.walk(fn.body) if isinstance(s, Assign) and s.prim.kind ==
              "call" and s.prim.key is np.arange and once[s.target] == 1 and not s.kwargs and
              all(int_item(a, kind or {}) for a in s.args)}
    defs = bindings(fn)
    changed = True
    while changed:
        changed = False
        for n, stmts in defs.items():
            if n not in found and n not in {p.name for p in fn.params} and all(
                    isinstance(s, Assign) and s.prim.kind in ("index", "copy") and isinstance(
                        s.args[0], Name) and s.args[0].id in found for s in stmts):
                found.add(n)
                changed = True
    return found


def known_ints(fn: ir.Function, dims: dict[str, tuple],
               given: dict[str, int] | None = None, shaped: dict | None = None
               ) -> dict[str, object]:
    """The names bound once, in the function's own body (not in a loop or branch), to an int
    or a shape read off a parameter of known shape, or to arithmetic on such ints and the
    int parameters `given` (never bound again): {name: int or tuple of ints}. With `shaped`
    (the shape each name surely has, wherever it is bound), also the names bound anywhere,
    each time to the same int or shape read off those."""
    bound = Counter(n for s in ir.walk(fn.body) for n in ir.defs(s))
    bound.update(p.name for p in fn.params)
    found: dict[str, object] = {p: v for p, v in (given or {}).items() if bound[p] == 1}

    def value(a) -> object:
        if isinstance(a, Const) and isinstance(a.value, int) and not isinstance(a.value, bool):
            return a.value
        return found.get(a.id) if isinstance(a, Name) else None

    for s in fn.body:  # straight-line statements only: each runs once, in order
        if isinstance(s, Unpack):
            v = value(s.value)
            if isinstance(v, tuple) and len(v) == len(s.targets):
                found.update((t, n) for t, n in zip(s.targets, v, strict=True)
                             if bound[t] == 1)
            continue
        if not (isinstance(s, Assign) and s.target and bound[s.target] == 1):
            continue
        got = _int_given(s, value, dims)
        if got is not None:
            found[s.target] = got
    if shaped:
        _bound_alike(fn, found, value, {**shaped, **dims})
    return found


def _bound_alike(fn: ir.Function, found: dict, value, shaped: dict) -> None:
    """Add to `found` the names (not parameters) whose every binding is an Assign giving
    the same int or shape, read off names of the shapes in `shaped`."""
    params = {p.name for p in fn.params}
    binds = bindings(fn)
    changed = True
    while changed:
        changed = False
        for name, ss in binds.items():
            if name in found or name in params or not all(
                    isinstance(s, Assign) and s.target == name for s in ss):
                continue
            got = [_int_given(s, value, shaped) for s in ss]
            if got[0] is not None and all(g == got[0] for g in got):
                found[name] = got[0]
                changed = True


def bindings(fn: ir.Function) -> dict[str, list]:
    """{name: the statements that bind it, in program order}."""
    found: dict[str, list] = {}
    for s in ir.walk(fn.body):
        for n in ir.defs(s):
            found.setdefault(n, []).append(s)
    return found


def _int_given(s: Assign, value, dims: dict[str, tuple]) -> object:
    p, args = s.prim, s.args
    if p.kind == "attr" and p.spelling == "shape" and isinstance(args[0], Name):
        return dims.get(args[0].id)
    if p.kind == "call" and p.key is len and len(args) == 1 and isinstance(args[0], Name):
        shape = dims.get(args[0].id)
        return shape[0] if shape else None
    if p.kind == "copy":
        return value(args[0])
    if p.kind == "tuple":
        items = tuple(value(a) for a in args)
        return items if all(isinstance(v, int) for v in items) else None
    if p.kind == "index" and len(s.index.items) == 1:
        base, item = value(args[0]), s.index.items[0]
        k = value(item) if isinstance(item, (Name, Const)) else None
        if isinstance(base, tuple) and isinstance(k, int) and -len(base) <= k < len(base):
            return base[k]
        return None
    if p.kind == "binop" and p.key in (operator.add, operator.sub, operator.mul,
                                       operator.floordiv) and len(args) == 2:
        a, b = (value(x) for x in args)
        if isinstance(a, int) and isinstance(b, int) and not (
                p.key is operator.floordiv and b == 0):
            return p.key(a, b)
    return None


def index_dims(shape: tuple, index: ir.Index, ints: dict, kind: dict) -> tuple | None:
    """The shape of base[index] for a base of this shape: slices with known bounds, ints
    (any int selects one entry: its value does not change the shape), None and `...`."""
    key: list = []
    for item in index.items:
        if isinstance(item, ir.Slice):
            bounds = [int_value(b, ints) if b is not None else None
                      for b in (item.lower, item.upper, item.step)]
            if any(b is UNKNOWN for b in bounds) or bounds[2] == 0:
                return None
            key.append(slice(*bounds))
        elif item == ir.NEWAXIS:
            key.append(None)
        elif item == ir.ELLIPSIS:
            key.append(Ellipsis)
        elif int_item(item, kind):
            key.append(0)
        else:
            return None  # an array of indices, or what this module cannot tell
    try:
        probe = np.lib.stride_tricks.as_strided(np.zeros(1), shape, (0,) * len(shape))
        return probe[tuple(key)].shape
    except (IndexError, ValueError, TypeError):
        return None


UNKNOWN = object()
_INT_OPS = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Add, ast.Sub, ast.Mult,
            ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd)


def int_value(a, ints: dict) -> object:
    """The int (or None) an index bound or item surely is, or UNKNOWN: a constant, a name
    of a known int, or inline integer arithmetic on them (`2 * b`)."""
    if isinstance(a, Const) and (a.value is None or (
            isinstance(a.value, int) and not isinstance(a.value, bool))):
        return a.value
    if isinstance(a, Name) and isinstance(ints.get(a.id), int):
        return ints[a.id]
    if isinstance(a, ir.Expr) and a.args:
        values = [int_value(x, ints) for x in a.args]
        if not all(isinstance(v, int) for v in values):
            return UNKNOWN
        try:
            tree = ast.parse(a.template.format(*values), mode="eval")
        except (SyntaxError, IndexError, KeyError, ValueError):
            return UNKNOWN
        if all(isinstance(n, _INT_OPS) and not (isinstance(n, ast.Constant) and type(
                n.value) is not int) for n in ast.walk(tree)):
            try:
                return eval(compile(tree, "<index>", "eval"), {"__builtins__": {}})  # noqa: S307
            except ArithmeticError:
                return UNKNOWN
    return UNKNOWN


def fancy_dims(shape: tuple, items: list) -> tuple | None:
    """The shape of base[i, j, ...] for integer arrays of these shapes (`items`), in front
    of the base's axes: their broadcast shape, then the axes not indexed."""
    if len(items) > len(shape):
        return None
    try:
        return tuple(np.broadcast_shapes(*items)) + tuple(shape[len(items):])
    except ValueError:
        return None


def int_item(item, kind: dict[str, str]) -> bool:
    """Whether an index item (or an argument) is surely an int."""
    if isinstance(item, Const):
        return isinstance(item.value, int) and not isinstance(item.value, bool)
    if isinstance(item, Name):
        return kind.get(item.id) == "int"
    return isinstance(item, ir.Expr) and all(kind.get(x.id) == "int" for x in item.args)


def broadcast(a: tuple, b: tuple) -> tuple | None:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def made_dims(s: Assign, shape_of, ints: dict) -> tuple | None:
    """The shape of what s makes, from the shapes of its operands (`shape_of(atom)`: a
    tuple, or None where unknown): reductions along constant axes, matrix products,
    transposes and einsum with an explicit output."""
    p, args = s.prim, s.args
    if p.kind == "call" and p.key is np.arange and 1 <= len(args) <= 3 and not s.kwargs:
        bounds = [int_value(a, ints) for a in args]
        if all(isinstance(b, int) for b in bounds) and (len(bounds) < 3 or bounds[2] != 0):
            return (len(range(*bounds)),)
        return None
    if p.kind == "call" and p.key in MAKERS and args and "like" not in dict(s.kwargs):
        return _shape_arg(args[0], ints)
    if p.kind == "attr" and p.spelling == "T" and len(args) == 1:
        shape = shape_of(args[0])
        return shape[::-1] if shape is not None else None
    if p.kind in ("binop", "call") and p.key in MATMULS and len(args) == 2 and not s.kwargs:
        return _matmul(shape_of(args[0]), shape_of(args[1]), p.key is np.dot)
    if p.kind == "call" and p.key is np.cross and len(args) == 2 and not s.kwargs:
        a, b = shape_of(args[0]), shape_of(args[1])  # 3-vectors, along the last axis
        if a and b and a[-1] == 3 and b[-1] == 3:
            return broadcast(a, b)
        return None
    if p.kind == "call" and p.key in REDUCTIONS and args:
        return _reduced(shape_of(args[0]), args[1:], s.kwargs, ints)
    if p.kind == "method" and p.spelling in REDUCING_METHODS and p.key in REDUCTIONS and args:
        return _reduced(shape_of(args[0]), args[1:], s.kwargs, ints)
    if p.kind == "call" and p.key is np.einsum and args and isinstance(args[0], Const) \
            and isinstance(args[0].value, str) and not s.kwargs:
        return _einsum(args[0].value, [shape_of(a) for a in args[1:]])
    return None


def _shape_arg(a, ints: dict) -> tuple | None:
    """The shape a shape argument (`np.zeros((K, d, d))`, `np.zeros(n)`) surely is."""
    if isinstance(a, Const) and isinstance(a.value, tuple):
        value = a.value
    elif isinstance(a, Name) and a.id in ints:
        value = ints[a.id]
    else:
        value = int_value(a, ints)
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, tuple) and all(isinstance(n, int) and not isinstance(n, bool)
                                        and n >= 0 for n in value):
        return value
    return None


def _matmul(a: tuple | None, b: tuple | None, dot: bool) -> tuple | None:
    if a is None or b is None or not a or not b:
        return None
    if len(a) == 1 and len(b) == 1:
        return () if a == b else None
    if len(b) == 1:
        return a[:-1] if a[-1] == b[0] else None
    if len(a) == 1:
        return b[:-2] + b[-1:] if a[0] == b[-2] else None
    if a[-1] != b[-2] or (dot and (len(a) > 2 or len(b) > 2)):
        return None
    batch = broadcast(a[:-2], b[:-2])
    return None if batch is None else batch + (a[-2], b[-1])


def _reduced(shape: tuple | None, rest: tuple, kwargs: tuple, ints: dict) -> tuple | None:
    if shape is None:
        return None
    named = dict(kwargs)
    if set(named) - {"axis", "keepdims"} or len(rest) > 1:
        return None  # dtype=, out=, ddof= ...: left to the generic code
    axis_atom = rest[0] if rest else named.get("axis")
    keep = named.get("keepdims")
    if keep is not None and not (isinstance(keep, Const) and isinstance(keep.value, bool)):
        return None
    keepdims = bool(keep.value) if keep is not None else False
    if axis_atom is None or (isinstance(axis_atom, Const) and axis_atom.value is None):
        axes = tuple(range(len(shape)))
    else:
        axis = int_value(axis_atom, ints)
        if isinstance(axis_atom, Const) and isinstance(axis_atom.value, tuple):
            axis = axis_atom.value
        if axis is UNKNOWN or axis is None:
            return None
        axes = axis if isinstance(axis, tuple) else (axis,)
        if not all(isinstance(k, int) and -len(shape) <= k < len(shape) for k in axes):
            return None
        axes = tuple(k % len(shape) for k in axes)
    if keepdims:
        return tuple(1 if k in axes else n for k, n in enumerate(shape))
    return tuple(n for k, n in enumerate(shape) if k not in axes)


def _einsum(spec: str, shapes: list) -> tuple | None:
    if "->" not in spec or "." in spec or any(s is None for s in shapes):
        return None
    if spec.count("->") != 1:
        return None  # NumPy refuses it when the call runs
    inputs, output = spec.replace(" ", "").split("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        return None
    size: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        if len(term) != len(shape):
            return None
        for letter, n in zip(term, shape, strict=True):
            if size.setdefault(letter, n) != n:
                return None
    if any(letter not in size for letter in output):
        return None
    return tuple(size[letter] for letter in output)
