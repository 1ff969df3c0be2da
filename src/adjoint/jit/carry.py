"""carry: the adds a reversed stencil makes into neighbouring entries, summed in numbers.

The reverse of a stencil (`new[i] = u[i] + k * (u[i - 1] - 2.0 * u[i] + u[i + 1])`) adds
into the entries around its index each trip, and each entry gets adds from consecutive
trips: in memory, a load and a store per add, each waiting for the store before it.
Where the adjoint is an array made just before the loop (zeros no other name holds), the
loop reads it no other way, and each add puts a number at the loop's index plus a
constant, the adds go into numbers instead, one per entry still open, and each entry is
written once, by the trip that makes its last add:

    u_bar_im1 = 0.0                        # the adds still to make into u_bar[i - 1]
    u_bar_i = 0.0                          # ... into u_bar[i]
    u_bar_ip1 = 0.0                        # ... into u_bar[i + 1]
    u_bar_last_i = 0
    for i in runtime.backwards(range(1, R.stop)):
        u_bar_last_i = i
        # (the trip's other lines, as they were)
        u_bar_ip1 += d_bar                 # was u_bar[i + 1] += d_bar
        u_bar_i += e_bar                   # was u_bar[i] += e_bar
        u_bar_im1 += d_bar                 # was u_bar[i - 1] += d_bar
        u_bar[i + 1] += u_bar_ip1          # no later trip adds into u_bar[i + 1]
        u_bar_ip1 = u_bar_i                # the next trip's i + 1 is this one's i
        u_bar_i = u_bar_im1
        u_bar_im1 = 0.0
    if u_bar_ip1 != 0.0:                   # the entries the last trip left open
        u_bar[u_bar_last_i] += u_bar_ip1
    if u_bar_i != 0.0:
        u_bar[u_bar_last_i - 1] += u_bar_i

A reversed range counts down by one (`runtime.backwards(range(a, R.stop))`: its start
written, its step 1). Leaving an add of zero out changes no entry, so a loop that made no
trip writes nothing. Any other loop, or other use of the adjoint in it, is left as it is.
"""

from __future__ import annotations

import re

from .. import ir
from ..ir import Block, Line, Ref

HEAD = re.compile(r"for (\w+) in runtime\.backwards\(range\([^,()]+, \w+\.stop\)\):")
INDEX = re.compile(r"(\w+)(?: ([+-]) (\d+))?")
MAKERS = (".zeros_into(", ".zeros_like(")


def carry(body: list, fresh, bound: set) -> list:
    """body with the adds of its reversed stencil loops (nested ones first) carried."""
    out: list = []
    for item in body:
        if isinstance(item, Block):
            item = item.rebuilt(lambda b: carry(b, fresh, bound))
            found = HEAD.fullmatch(ir.text(item.head)) if item.kind == "for" else None
            if found:
                out += _carried(item, found.group(1), out, fresh, bound)
                continue
        out.append(item)
    return out


def _carried(loop: Block, i: str, before: list, fresh, bound: set) -> list:
    start: list = []
    left: list = []
    while True:  # one adjoint at a time: each rewrite moves the lines of the body
        found = {xb: offsets for xb, offsets in _candidates(loop.body, i).items()
                 if _made_fresh(before, xb)}
        if not found:
            return [*start, loop, *left]
        xb = min(found)
        first, loop, last = _rewritten(loop, xb, found[xb], i, fresh, bound)
        start, left = start + first, left + last


def _candidates(body: list, i: str) -> dict[str, dict[int, int]]:
    """{adjoint: {position of each add in body: its offset}} of the arrays the loop body
    touches only by adding numbers at i plus a constant (and never rebinds i)."""
    adds: dict[str, dict[int, int]] = {}
    spoiled: set[str] = set()
    for k, item in enumerate(body):
        note = getattr(item, "note", None)
        if isinstance(item, Line) and note and note[0] == "add" and note[-1] is True and \
                item.parts[:2] == (Ref(note[1]), "[") and "] += " in item.parts:
            offset = _offset(item.parts[2:item.parts.index("] += ")], i)
            if offset is not None:
                adds.setdefault(note[1], {})[k] = offset
                spoiled |= set(ir.refs(item.parts[item.parts.index("] += ") + 1:]))
                continue
        spoiled |= _names(item)
    if any(i in (item.binds if isinstance(item, Line) else ()) for item in body):
        return {}
    return {xb: found for xb, found in adds.items() if xb not in spoiled and len(set(
        found.values())) > 1}  # (adds at one place are written once a trip anyway)


def _offset(index: tuple, i: str) -> int | None:
    """c where the index parts are `i + c` (or `i`, `i - c`)."""
    found = INDEX.fullmatch(ir.text(index))
    if found is None or found.group(1) != i:
        return None
    return int(found.group(3) or 0) * (-1 if found.group(2) == "-" else 1)


def _names(item) -> set[str]:
    if isinstance(item, Block):
        heads = [item.head, *(c.head for c in item.clauses)]
        return {n for h in heads for n in ir.refs(h)} | {
            n for b in item.bodies() for x in b for n in _names(x)}
    return set(ir.refs(item.parts)) | set(item.binds)


def _made_fresh(before: list, xb: str) -> bool:
    """Whether the last line before the loop that names xb makes it zeros."""
    for item in reversed(before):
        if xb not in _names(item):
            continue
        parts = getattr(item, "parts", ())
        return item.binds == (xb,) and len(parts) > 3 and parts[:2] == (Ref(xb), " = ") \
            and parts[3] in MAKERS
    return False


def _rewritten(loop: Block, xb: str, offsets: dict[int, int], i: str, fresh,
               bound: set) -> tuple[list, Block, list]:
    """(the lines before the loop, the loop, the lines after it) with xb's adds carried;
    `offsets`: {position in loop.body of each add: its offset}."""
    low, high = min(offsets.values()), max(offsets.values())
    open_ = {c: fresh(f"{xb}_{i}{'p' if c > 0 else 'm' if c < 0 else ''}{abs(c) or ''}")
             for c in range(low, high + 1)}
    at = fresh(f"{xb}_last_{i}")
    bound |= {*open_.values(), at}
    body = []
    for k, item in enumerate(loop.body):
        if k in offsets:
            value = item.parts[item.parts.index("] += ") + 1:]
            name = open_[offsets[k]]
            item = Line((Ref(name), " += ", *value), (name,))
        body.append(item)
    body.insert(0, Line((Ref(at), " = ", Ref(i)), (at,)))
    body.append(Line((Ref(xb), "[", *_at(i, high), "] += ", Ref(open_[high]))))
    for c in range(high, low, -1):
        body.append(Line((Ref(open_[c]), " = ", Ref(open_[c - 1])), (open_[c],)))
    body.append(Line((Ref(open_[low]), " = 0.0"), (open_[low],)))
    start = [Line((Ref(v), " = 0.0"), (v,)) for v in open_.values()]
    start.append(Line((Ref(at), " = 0"), (at,)))
    left = [Block(("if ", Ref(open_[c]), " != 0.0:"), [
        Line((Ref(xb), "[", *_at(at, c - 1), "] += ", Ref(open_[c])))])
        for c in range(high, low, -1)]
    return start, Block(loop.head, body, loop.orelse, loop.clauses, loop.binds), left


def _at(i: str, offset: int) -> tuple:
    if offset == 0:
        return (Ref(i),)
    return (Ref(i), f" {'+' if offset > 0 else '-'} {abs(offset)}")

