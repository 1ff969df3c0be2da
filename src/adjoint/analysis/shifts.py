"""shifts: the stabilizing shift of a log-sum-exp or a softmax, whose derivative is zero.

`m = np.max(v)` then `m + np.log(np.sum(np.exp(v - m)))` is the same number whatever m holds,
and so is `np.exp(v - m) / np.sum(np.exp(v - m))`. Differentiated as written, m's adjoint is
`g - g / s * s`, zero up to rounding, and reaches v through a max with tie bookkeeping. A
careful person leaves the shift out of the derivative, and so does this analysis: it proves
that nothing m reaches depends on m and hands m to `activity` as a name with no derivative.

The proof follows m through one block: each value that depends on m is tracked as
`x(m + c) = x(m) + k*c` ('add', k) or `x(m + c) = x(m) * exp(k*c)` ('mul', k), for every c of
m's shape. A value whose k comes to 0 no longer depends on m. Anything else that reads a
tracked value (a call, an index, a write, a test, a return, a later trip of a loop) ends the
proof for that m, which is then differentiated as written.
"""

from __future__ import annotations

import math
import operator
from collections import Counter

import numpy as np

from .. import ir
from ..ir import Assign, Const, Name
from .memo import per_version

EXTREMA = {np.max, np.min, np.amax, np.amin}
SUMS = {np.sum: "sum", np.mean: "mean"} | {f: "max" for f in EXTREMA}
EXP = {np.exp, math.exp}
LOG = {np.log, math.log}
INVARIANT = ("add", 0)


@per_version
def shift_free(fn: ir.Function) -> frozenset[str]:
    """Names whose value the function's results do not depend on: their derivative is zero."""
    defined = Counter(n for s in ir.walk(fn.body) for n in ir.defs(s))
    out = set()
    for block in _blocks(fn.body):
        for pos, s in enumerate(block):
            if _is_shift(s) and defined[s.target] == 1 and _cancels(fn, block, pos, defined):
                out.add(s.target)
    return frozenset(out)


def _blocks(body: list):
    yield body
    for s in body:
        for b in ir.blocks(s):
            yield from _blocks(b)


def _reduction(s: Assign) -> tuple | None:
    """(kind, axes, keepdims) of a sum, mean, max or min over constant axes; None for others
    (or with any other keyword)."""
    if s.prim.kind not in ("call", "method") or s.prim.key not in SUMS or not s.args:
        return None
    options = dict(s.kwargs)
    if len(s.args) > 2 or (len(s.args) == 2 and "axis" in options) or \
            set(options) - {"axis", "keepdims"}:
        return None
    axis = options.get("axis", s.args[1] if len(s.args) == 2 else Const(None, "None"))
    keep = options.get("keepdims", Const(False, "False"))
    if not isinstance(axis, Const) or not isinstance(keep, Const):
        return None
    axes = axis.value if isinstance(axis.value, tuple) else (axis.value,)
    if not all(a is None or isinstance(a, int) for a in axes):
        return None
    return SUMS[s.prim.key], frozenset(axes), bool(keep.value)


def _is_shift(s) -> bool:
    if not isinstance(s, Assign) or s.target is None or s.prim.key not in EXTREMA:
        return False
    r = _reduction(s)
    return r is not None and (r[1] == {None} or r[2])


def _cancels(fn: ir.Function, block: list, pos: int, defined: Counter) -> bool:
    """Whether every value that block[pos]'s target reaches is tracked to one that does not
    depend on it, each read of a tracked value in that block after it."""
    shift = block[pos]
    axes = _reduction(shift)[1]
    later = {n for s in ir.walk(block[pos + 1:]) for n in ir.defs(s)}
    # positive axes name the same axis only while no operand adds leading ones
    argument = shift.args[0]
    same = None if all(a is None or a < 0 for a in axes) else (
        {argument} - {Name(n) for n in later} if isinstance(argument, Name) else set())
    tracked = {shift.target: ("add", 1)}
    readers = set()
    for s in block[pos + 1:]:
        if not ir.uses(s) & set(tracked):
            continue
        if not isinstance(s, Assign) or s.target is None or s.inplace or s.tape:
            return False
        state = _transfer(s, tracked, axes, same)
        if state is None or (state != INVARIANT and defined[s.target] != 1):
            return False
        readers.add(id(s))
        if state != INVARIANT:
            tracked[s.target] = state
    return not any(ir.uses(s) & set(tracked) and id(s) not in readers
                   for s in ir.walk(fn.body))


def _transfer(s: Assign, tracked: dict, axes: frozenset, same: set | None) -> tuple | None:
    """How the value s computes moves with the shift, from how its arguments do."""
    states = [tracked.get(a.id, INVARIANT) if isinstance(a, Name) else INVARIANT
              for a in s.args]
    key, kind = s.prim.key, s.prim.kind
    if kind == "copy":
        return states[0]
    if (s.kwargs and key not in SUMS) or s.index is not None:
        return None
    if kind == "unary" and key in (operator.neg, operator.pos):
        sign = -1 if key is operator.neg and states[0][0] == "add" else 1
        return (states[0][0], sign * states[0][1])
    if kind == "binop" and len(states) == 2:
        if same is not None and any(x == INVARIANT and not (
                isinstance(a, Const) and type(a.value) in (int, float)) and not (
                isinstance(a, Name) and a in same) for a, x in zip(s.args, states, strict=True)):
            return None  # (a constant array may add leading axes too)
        return _binop(key, *states)
    if kind == "call" and len(states) == 1 and key in EXP | LOG:
        want, give = ("add", "mul") if key in EXP else ("mul", "add")
        return (give, states[0][1]) if states[0][0] == want else None
    if key in SUMS and all(x == INVARIANT for x in states[1:]):
        return _reduced(s, states[0], axes)
    return None


def _binop(key, a: tuple, b: tuple) -> tuple | None:
    if key in (operator.add, operator.sub):
        sign = 1 if key is operator.add else -1
        if a[0] == b[0] == "add":
            return ("add", a[1] + sign * b[1])
        return a if a[0] == b[0] == "mul" and a[1] == b[1] else None
    if key in (operator.mul, operator.truediv):
        if "add" in (a[0] if a != INVARIANT else "", b[0] if b != INVARIANT else ""):
            return None
        sign = 1 if key is operator.mul else -1
        k = a[1] * (a[0] == "mul") + sign * b[1] * (b[0] == "mul")
        return ("mul", k) if k else INVARIANT
    return None


def _reduced(s: Assign, state: tuple, axes: frozenset) -> tuple | None:
    """A sum or mean over axes along which the shift is constant keeps a value's 'mul'; a
    mean, max or min keeps its 'add'."""
    found = _reduction(s)
    if found is None:
        return None
    kind, over, keep = found
    if axes != {None} and not (keep and over <= axes and None not in over):
        return None
    if state[0] == "mul" and kind in ("sum", "mean"):
        return state
    if state[0] == "add" and kind in ("mean", "max"):
        return state
    return None
