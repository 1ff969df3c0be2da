"""repeats: a sum's adjoint repeated along its axes only to be multiplied by a whole array.

The same holds for the adjoint of a whole sum, a number spread over the array
(`runtime.sum_adjoint(s_bar, q)`).

The adjoint of `s = np.sum(q, axis=1)` is s_bar repeated along axis 1
(`q_bar = s_bar[:, None].repeat(10, axis=1)`, rules/shaped.py). Where q_bar is read once,
as the first factor of a product that has a factor of q's whole shape
(`z_bar = q_bar * 2 * z` for `q = z ** 2`), the product's broadcast repeats it anyway:
`z_bar = s_bar[:, None] * 2 * z` computes the same numbers, each one the same way, with
one array and one call less."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from ..ir import Block, Line, Ref, parts_of
from .batched import refs

REPEATED = re.compile(r"(\[[^\]]*\])?((?:\.repeat\(\d+, axis=\d+\))+)")
LITERAL = re.compile(r"\d+(\.\d*)?([eE][-+]?\d+)?")


def unrepeated(body: list, dims, adjoints, total: Counter | None = None) -> list:
    """body with each repeat that the product reading it broadcasts anyway left out.
    dims(name): the shape of the array a name holds, where known; adjoints: the names of
    adjoints (which may hold a number standing for zeros of their shape)."""
    total = refs(body) if total is None else total
    out = [item.rebuilt(lambda b: unrepeated(b, dims, adjoints, total))
           if isinstance(item, Block) else item for item in body]
    for k, item in enumerate(out[:-1]):
        repeated = _repeat(item, dims)
        if repeated is None or total[item.parts[0].name] != 2:
            continue
        name, base = item.parts[0].name, repeated
        reader = next((j for j in range(k + 1, len(out)) if Ref(name) in _flat(out[j])), None)
        if reader is not None and not any(base[0] in _flat(x) for x in out[k + 1:reader]) \
                and _broadcasts(out[reader], name, dims, adjoints):
            line = out[reader]
            at = line.parts.index(Ref(name))
            out[reader] = Line((*line.parts[:at], *base, *line.parts[at + 1:]), line.binds,
                               line.comment, line.effect)
            out[k] = None
    return [item for item in out if item is not None]


def _flat(item) -> tuple:
    return tuple(p for parts in parts_of(item) for p in parts)


def _repeat(item, dims) -> tuple | None:
    """For `a = b[:, None].repeat(n, axis=k)`, the parts of `b[:, None]`; for
    `a = runtime.sum_adjoint(b, x)` with b a number, of b."""
    parts = getattr(item, "parts", ())
    if 7 <= len(parts) <= 8 and parts[1] == " = " and all(
            isinstance(p, str) for p in parts[2:-4]) and "".join(parts[2:-4]) == \
            "runtime.sum_adjoint(" and parts[-3::2] == (", ", ")") and isinstance(
                parts[-4], Ref) and isinstance(parts[-2], Ref) and dims(
                parts[-4].name) == () and item.binds == (parts[0].name,):
        return (parts[-4],)
    if not isinstance(item, Line) or len(item.parts) != 4 or item.parts[1] != " = " or not (
            isinstance(item.parts[0], Ref) and isinstance(item.parts[2], Ref)
            and isinstance(item.parts[3], str)):
        return None
    found = REPEATED.fullmatch(item.parts[3])
    if found is None or item.binds != (item.parts[0].name,):
        return None
    return (item.parts[2], found.group(1)) if found.group(1) else (item.parts[2],)


def _broadcasts(line: Line, name: str, dims, adjoints) -> bool:
    """Whether line is `c = name * f * ...` (or adds that product to c) of numbers and
    names, one a primal value of the whole shape name's array has, all broadcasting to it."""
    parts = line.parts
    if Ref(name) not in parts or not isinstance(parts[0], Ref):
        return False
    at, c = parts.index(Ref(name)), parts[0]
    if parts[:at] not in ((c, " = "), (c, " += "), (c, " -= "), (c, " = ", c, " + "),
                          (c, " = ", c, " - ")) or line.binds != (c.name,):
        return False
    whole = dims(name)
    shapes, text, whole_primal = [], "", False
    for p in parts[at + 1:]:
        if isinstance(p, Ref):
            if p.name == name:
                return False
            shapes.append(dims(p.name))
            whole_primal |= p.name not in adjoints and shapes[-1] == whole
            text += "x"
        else:
            text += p
    factors = text.split(" * ")
    if len(factors) < 2 or factors[0] != "" or not all(
            f == "x" or LITERAL.fullmatch(f) for f in factors[1:]):
        return False
    if whole is None or any(d is None for d in shapes) or not whole_primal:
        return False
    try:
        return np.broadcast_shapes(*shapes, whole) == tuple(whole)
    except ValueError:
        return False
