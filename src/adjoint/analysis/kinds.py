"""kinds: which names hold numbers or ints (and, where the code is specialized on them, the
dimensions of arrays); terms.py gives the symbolic shapes of the rest."""

from __future__ import annotations

import math
import operator

import numpy as np

from .. import ir, rules
from ..ir import Assign, Const, For, Name, Unpack, While
from . import dims
from .dataflow import BOTTOM, solve
from .memo import per_version

INT_FUNCS = {len, int, round, math.floor, math.ceil, math.trunc, np.argmax, np.argmin, np.ndim,
             np.size}


SCALAR_FUNCS = {float, abs} | {getattr(math, n) for n in dir(math)
                               if callable(getattr(math, n))} - INT_FUNCS


FULL_REDUCTIONS = {np.sum, np.mean, np.max, np.min, np.prod}


def _join(a: object, b: object, name: str = "", s=None) -> object:
    if a == BOTTOM:
        return b
    if b == BOTTOM or a == b:
        return a
    if {a, b} == {"int", "scalar"}:
        return "scalar"
    return None


def kinds(fn: ir.Function, scalar_params: set[str] = frozenset(),
          int_params: set[str] = frozenset(), ndims: tuple = ()) -> dict[str, str]:
    """Names known to hold an 'int', a 'scalar' (shape ()) or a 'shape' tuple everywhere.

    An optimistic fixpoint: every name starts with no kind and takes the join of what
    its definitions give. With `ndims` ((parameter, dimensions) of the arrays the code is
    specialized on), the dimensions of the arrays made from them are followed too, so an
    item of one (`u[i]`, `a[i, j]`) is a 'scalar'."""
    found = _kinds(fn, frozenset(scalar_params), frozenset(int_params), tuple(ndims))
    return {n: k for n, k in found.items() if isinstance(k, str) and k != BOTTOM}


def array_dims(fn: ir.Function, scalar_params: set[str] = frozenset(),
               int_params: set[str] = frozenset(), ndims: tuple = ()) -> dict[str, int]:
    """The dimensions of each name surely holding an array made from the arrays of known
    dimensions `ndims` (kinds)."""
    if not ndims:
        return {}
    found = _kinds(fn, frozenset(scalar_params), frozenset(int_params), tuple(ndims))
    return {n: k[1] for n, k in found.items() if isinstance(k, tuple)}


@per_version
def _kinds(fn: ir.Function, scalar_params: frozenset, int_params: frozenset,
           ndims: tuple) -> dict[str, object]:
    found = _solved(fn, scalar_params, int_params, {}, None)
    if ndims:
        items = index_kinds(fn, found)  # indices that are surely ints, not bools
        found = _solved(fn, scalar_params, int_params, dict(ndims), items)
    return found


def _solved(fn: ir.Function, scalar_params, int_params, ndims: dict,
            items: dict | None) -> dict:
    found: dict[str, object] = {}
    for p in fn.params:
        given = ndims.get(p.name)
        found[p.name] = "scalar" if p.name in scalar_params else (
            "int" if p.name in int_params else (
                ("array", *given) if isinstance(given, tuple) else  # (ndim, 'int')
                ("array", given) if given is not None else None))
    defining = [s for s in ir.walk(fn.body)
                if isinstance(s, (For, While, Unpack)) or (isinstance(s, Assign) and s.target)]
    solve(defining, lambda s: _kind_given(s, found, items), _join, found)
    return {n: k for n, k in found.items() if k is not None}


def atom_kind(a, kinds: dict) -> str | None:
    """The kind of an atom once the kinds of names are known: an int (bools count), a
    'scalar', or None (an array, a list, anything else)."""
    if isinstance(a, ir.Expr):
        return "int" if all(atom_kind(x, kinds) == "int" for x in a.args) else None
    if isinstance(a, Const):
        return "int" if isinstance(a.value, (int, bool)) else (
            "scalar" if isinstance(a.value, float) else None)
    return kinds.get(a.id) if isinstance(a, Name) else None


def _kind_of(a, found: dict) -> str | None:
    if isinstance(a, Const):
        if isinstance(a.value, (bool, int)):
            return "int"
        return "scalar" if isinstance(a.value, float) else None
    if isinstance(a, ir.Expr):
        ks = {_kind_of(x, found) for x in a.args}
        return BOTTOM if BOTTOM in ks else ("int" if ks <= {"int"} else None)
    if not isinstance(a, Name):
        return None
    return found.get(a.id, BOTTOM)


def _kind_given(s, found: dict, items: dict | None = None) -> object:
    """The kind statement s gives what it defines, with `found` the kinds known so far
    (and, with `items`, the kinds of index items, ('array', dimensions) of arrays)."""
    if isinstance(s, (For, While)):
        return "int"
    if isinstance(s, Unpack):  # the lengths of a shape (`n, d = x.shape`) are ints
        k = _kind_of(s.value, found)
        return BOTTOM if k == BOTTOM else ("int" if k == "shape" else None)
    p, args = s.prim, s.args
    ks = [_kind_of(a, found) for a in args]
    if BOTTOM in ks:
        return BOTTOM
    if items is not None and any(isinstance(k, tuple) for k in ks):
        made = _array_kind(s, ks, items)
        if made is not None:
            return made
    if items is not None and p.kind == "call" and p.key in (np.zeros, np.ones, np.empty) and \
            ks == ["int"] and not s.kwargs:
        return ("array", 1)  # np.zeros(n): floats, one dimension
    numeric = all(k in ("int", "scalar") for k in ks)
    if p.kind == "copy":
        return ks[0]
    if p.kind in ("binop", "unary"):
        if not numeric:
            return None
        return "int" if all(k == "int" for k in ks) and p.key is not operator.truediv \
            else "scalar"
    if p.kind == "compare":
        return "int" if numeric else None
    if p.kind == "call" and s.adjoint is not None:  # a user function: what it returns
        return s.adjoint.result if s.adjoint.result in ("scalar", "int") else None
    if p.kind == "call":
        return _call_kind(s, numeric)
    if p.kind == "method":
        return "scalar" if p.key in FULL_REDUCTIONS and len(args) == 1 and not s.kwargs \
            else None
    if p.kind == "attr":
        return {"shape": "shape", "ndim": "int", "size": "int"}.get(p.spelling)
    if p.kind == "index" and ks[0] == "shape":
        items_ = s.index.items
        return "int" if len(items_) == 1 and _kind_of(items_[0], found) == "int" else None
    return None


def _array_kind(s: Assign, ks: list, items: dict) -> object:
    """('array', dimensions) of what s makes from arrays of known dimensions (kinds ks),
    or 'scalar' for an item of one; None where this analysis cannot tell."""
    p = s.prim
    if s.kwargs or not all(isinstance(k, tuple) or k in ("int", "scalar") for k in ks):
        return None
    ndim = max(k[1] for k in ks if isinstance(k, tuple))
    if p.kind == "index":
        if not isinstance(ks[0], tuple):
            return None
        made = item_kind(ks[0][1], s.index, items)
        if ks[0][2:] == ("int",):  # of an array of ints: an int, or an array of them
            return "int" if made == "scalar" else (*made, "int") if made else None
        return made
    if p.kind == "unary" or (p.kind == "binop" and rules.broadcasts(p.key)) or (
            p.kind == "method" and p.spelling in LIKE_METHODS and len(ks) == 1) or (
            p.kind == "call" and len(ks) == 1 and (p.key in ELEMENTWISE_LIKE - {abs, float} or (
                isinstance(p.key, np.ufunc) and p.key.nin == 1 and p.key.nout == 1))):
        return ("array", ndim)
    return None


def item_kind(ndim: int, index: ir.Index, items: dict) -> object:
    """The kind of x[index] for an array x of ndim dimensions: each int takes an axis away,
    a slice keeps one, np.newaxis adds one; anything else (an array, a bool, ...) is not
    followed."""
    taken = made = 0  # the axes of x the items take; the dimensions they make
    for item in index.items:
        if item == ir.NEWAXIS:
            made += 1
        elif isinstance(item, ir.Slice):
            taken += 1
            made += 1
        elif dims.int_item(item, items):
            taken += 1
        else:
            return None
    if taken > ndim:
        return None
    made += ndim - taken
    return "scalar" if made == 0 else ("array", made)


def _call_kind(s: Assign, numeric: bool) -> str | None:
    p, args = s.prim, s.args
    if p.key in (np.argmax, np.argmin) and (len(args) > 1 or s.kwargs):
        return None  # along an axis: an array of indices
    if p.key in INT_FUNCS:
        return "int"
    if p.key in SCALAR_FUNCS and p.key is not abs and args:
        return "scalar"  # float() and the math module return a number, whatever
    if (p.key is abs or isinstance(p.key, np.ufunc)) and numeric and args:
        return "scalar"
    if p.key is np.shape:
        return "shape"
    if p.key in FULL_REDUCTIONS and len(args) == 1 and not s.kwargs:
        return "scalar"
    return None


ARITHMETIC = frozenset({operator.add, operator.sub, operator.mul, operator.floordiv,
                        operator.mod, operator.pow, operator.neg, operator.pos})


def index_kinds(fn: ir.Function, kind: dict[str, str]) -> dict[str, str]:
    """`kind`, with each 'int' that may hold a bool (a comparison's result, True, what a
    function of the user's returns) marked 'bool': as an index a bool adds an axis
    (`x[True]` is `x[np.newaxis]`), so only names surely ints index as ints do."""
    made: dict[str, list] = {}
    for s in ir.walk(fn.body):
        for n in ir.defs(s):
            made.setdefault(n, []).append(s)
    ints = {n for n, k in kind.items() if k == "int"}
    sure = set(ints)
    changed = True
    while changed:
        changed = False
        for n in sorted(sure):
            if not all(_makes_int(s, sure) for s in made.get(n, ())):
                sure.discard(n)
                changed = True
    return {**kind, **dict.fromkeys(ints - sure, "bool")} if ints - sure else kind


def _makes_int(s, sure: set) -> bool:
    """Whether a statement that gives a name the kind 'int' surely binds an int to it."""
    if not isinstance(s, Assign):
        return True  # a loop's counter, a shape's lengths
    p, args = s.prim, s.args
    if p.kind == "copy":
        a = args[0]
        return (isinstance(a, Name) and a.id in sure) or (
            isinstance(a, Const) and isinstance(a.value, int) and not isinstance(a.value, bool))
    if p.kind in ("binop", "unary"):
        return p.key in ARITHMETIC  # on ints or bools, an int
    if p.kind == "call":
        return s.adjoint is None and p.key in INT_FUNCS
    return p.kind in ("attr", "index")  # x.ndim, x.size, x.shape[k]


ELEMENTWISE_LIKE = {np.zeros_like, np.ones_like, np.empty_like, np.copy, abs, float}


LIKE_METHODS = {"copy", "astype"}
