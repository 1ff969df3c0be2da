"""contents: names that surely hold lists or tuples (NumPy reads them as arrays), names
that surely hold arrays of floats (a value written into one is never cast), and names that
hold copies of a parameter (its shape and dtype)."""

from __future__ import annotations

import operator

import numpy as np

from .. import ir
from ..ir import Assign, Const, For, Name, Unpack


def made_lists(fn: ir.Function, params=frozenset()) -> set[str]:
    """Names that surely hold lists or tuples (where a NumPy function reads an array, it
    reads np.asarray of one): `params` known to, and names bound only to displays (`[a, b]`),
    list(), tuple(), sorted(), comprehensions, copies and slices of such names."""
    return _bound_only_by(fn, set(params), _makes_list)


def _bound_only_by(fn: ir.Function, params: set[str], makes) -> set[str]:
    """`params`, and the names each of whose bindings `makes(statement, names so far)`
    accepts (the greatest such set: a name read in its own binding counts)."""
    found = params | {s.target for s in ir.walk(fn.body) if isinstance(s, Assign) and s.target}
    found -= {p.name for p in fn.params if p.name not in params}
    found -= {t for s in ir.walk(fn.body) if isinstance(s, (For, Unpack)) for t in ir.defs(s)}
    changed = True
    while changed:
        changed = False
        for s in ir.walk(fn.body):
            if isinstance(s, Assign) and s.target in found and not makes(s, found):
                found.discard(s.target)
                changed = True
    return found


def _makes_list(s: Assign, found: set[str]) -> bool:
    p, args = s.prim, s.args
    if p.kind in ("list", "tuple") or (p.kind == "call" and p.key in (list, tuple, sorted)):
        return True
    held = bool(args) and isinstance(args[0], Name) and args[0].id in found
    if p.kind == "copy" or s.inplace:  # a copy, or L += [...]
        return held
    if p.kind == "binop" and p.key is operator.add:  # L + [x]: lists joined
        return all(isinstance(a, Name) and a.id in found for a in args)
    return p.kind == "index" and held and s.index is not None and all(
        isinstance(i, ir.Slice) for i in s.index.items)


def param_copies(fn: ir.Function, params: set[str]) -> dict[str, str]:
    """{name: parameter} of the names bound only to copies of one of `params` (arrays the
    function never binds again): `u = u0.copy()`, `new = u.copy()`, `u = new`. Such a name
    has the parameter's shape and dtype wherever it is read."""
    bound = {n for s in ir.walk(fn.body) for n in ir.defs(s)}
    out: dict[str, str] = {}
    for param in sorted(params - bound):
        for name in _bound_only_by(fn, {param}, _makes_copy) - {param}:
            out.setdefault(name, param)
    return out


def _makes_copy(s: Assign, found: set[str]) -> bool:
    p, args = s.prim, s.args
    copy = p.kind == "copy" or (p.kind == "method" and p.spelling == "copy") or (
        p.kind == "call" and p.key is np.copy)
    return copy and len(args) == 1 and not s.kwargs and isinstance(args[0], Name) and \
        args[0].id in found


_MADE_FLOAT = {np.zeros, np.ones, np.empty, np.eye, np.identity, np.linspace}
_LIKE = {np.zeros_like, np.ones_like, np.empty_like, np.copy, np.array, np.asarray}
_TRUE_DIVISION = {operator.truediv, np.true_divide, np.divide}


def float_arrays(fn: ir.Function, floats: set[str]) -> set[str]:
    """Names that surely hold arrays of floats (or numbers): `floats` (parameters checked to
    hold floats), and names bound only to np.zeros(...) and its kin without dtype=, to
    copies of such names, and to arithmetic with one of them (or a float) or a true
    division. A float written into any other array may be cast to an int or a bool."""
    return _bound_only_by(fn, set(floats), _makes_floats)


def _makes_floats(s: Assign, found: set[str]) -> bool:
    p, args = s.prim, s.args

    def floaty(a) -> bool:
        return isinstance(a, Name) and a.id in found or (
            isinstance(a, Const) and isinstance(a.value, float))

    if any(k == "dtype" for k, _ in s.kwargs):
        return False
    if p.kind == "copy" or (p.kind in ("call", "method") and p.key in _LIKE):
        return bool(args) and floaty(args[0])
    if p.kind == "call" and p.key in _MADE_FLOAT:
        return True
    if p.kind == "binop":
        return p.key in _TRUE_DIVISION or any(floaty(a) for a in args)
    return False
