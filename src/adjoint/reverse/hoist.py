"""hoist: arithmetic on numbers that a loop does not change, done once before the loop.

`a = -k * x - c * v` in a loop of an Euler step reads `-k` on every trip; the primal pays
for it, and so does the gradient twice more (the value each trip, its adjoint each trip).
Where the operands are numbers (ints and floats: adding, subtracting, multiplying or
negating them can raise nothing) that no statement of the loop binds, and the name is bound
by that statement alone, the statement moves in front of the loop: the same operation on
the same values, so the same result, computed once; its adjoint then adds up across the
trips and flows back once. A new version of the function is made (records are never
changed in place)."""

from __future__ import annotations

import operator
from collections import Counter
from dataclasses import replace

from .. import ir
from ..ir import Assign, Const, For, Name, While

SAFE = frozenset({operator.add, operator.sub, operator.mul, operator.neg, operator.pos})


def hoisted(fn: ir.Function, kinds: dict) -> ir.Function:
    """fn with the loop-invariant arithmetic on numbers of each loop before it."""
    bound = Counter(n for s in ir.walk(fn.body) for n in ir.defs(s))
    bound.update(p.name for p in fn.params)
    body, moved = _body(fn.body, bound, kinds)
    return replace(fn, body=body) if moved else fn


def _body(body: list, bound: Counter, kinds: dict) -> tuple[list, bool]:
    out: list = []
    moved = False
    for s in body:
        if isinstance(s, (For, While)):
            inner, deeper = _body(s.body, bound, kinds)
            defined = {n for t in ir.walk(inner) for n in ir.defs(t)} | ir.defs(s)
            if isinstance(s, While):
                defined |= {n for t in ir.walk(s.prelude) for n in ir.defs(t)}
            kept = []
            for t in inner:
                if _invariant(t, defined, bound, kinds):
                    out.append(t)
                    defined.discard(t.target)
                    moved = True
                else:
                    kept.append(t)
            moved |= deeper
            s = replace(s, body=kept) if len(kept) != len(s.body) or deeper else s
        out.append(s)
    return out, moved


def _invariant(s, defined: set, bound: Counter, kinds: dict) -> bool:
    """Whether s is number arithmetic on values no statement of the loop binds."""
    if not (isinstance(s, Assign) and s.target and bound[s.target] == 1 and not s.inplace
            and s.prim.kind in ("unary", "binop") and s.prim.key in SAFE and not s.kwargs
            and s.adjoint is None and kinds.get(s.target) in ("scalar", "int")):
        return False
    for a in s.args:
        if isinstance(a, Const):
            if type(a.value) not in (int, float):
                return False
        elif not (isinstance(a, Name) and a.id not in defined and kinds.get(a.id) in (
                "scalar", "int")):
            return False
    return True
