"""spread: a number's adjoint summed over a nest of reversed loops, kept per inner index.

The adjoint of a number the loops read every trip (a coefficient: `kappa` in
`new[i] = u[i] + kappa * (...)`) takes one add from each trip of the inner loop, and every
add waits for the one before it: a chain as long as all the nest's trips together, which
the other work of the trips cannot hide. Where the nest only adds to that adjoint (reads
it no other way, rebinds it no other way), the inner loop adds into one entry per index
instead, and the entries are summed once, after the nest:

    kappa_bar_per_i = runtime.sums_like(kappa_bar)    # before the outer loop
    for t in runtime.backwards(range(0, T.stop)):
        # (the outer trip's other lines)
        if len(kappa_bar_per_i) < R.stop - 1:
            kappa_bar_per_i = runtime.room(kappa_bar_per_i, R.stop - 1)
        for i in runtime.backwards(range(1, R.stop)):
            # (the inner trip's other lines)
            kappa_bar_per_i[i - 1] += new_i_bar * diff   # was kappa_bar += ...
    kappa_bar += runtime.total(kappa_bar_per_i)

Each entry then takes one add per outer trip, far apart. The sum is the same sum in another
order (as NumPy's pairwise sums are). Only a reversed range counting down by one from its
stop to a literal start is spread (`runtime.backwards(range(a, R.stop))`, a >= 0 so the
entries start at 0); a nest with a `return` in it, or an index the loop rebinds, is left
as it is.
"""

from __future__ import annotations

import re

from .. import ir
from ..ir import Block, Line, Ref

START = re.compile(r"for \w+ in runtime\.backwards\(range\((\d+), (\w+)\.stop\)\):")
ADDS = (" += ", " -= ")


def spread(body: list, numbers: frozenset, fresh, bound: set) -> list:
    """body with the adds of each number in `numbers` inside nested reversed loops spread
    per inner index (the outermost loop that only adds to it holds the sums)."""
    out: list = []
    for item in body:
        if isinstance(item, Block):
            found = _spread_nest(item, numbers, fresh, bound) if item.kind in (
                "for", "while") else None
            if found is not None:
                out += found
                continue
            item = item.rebuilt(lambda b: spread(b, numbers, fresh, bound))
        out.append(item)
    return out


def _spread_nest(loop: Block, numbers: frozenset, fresh, bound: set) -> list | None:
    """[the sums' start, the loop, their total] where an inner loop of `loop` adds into a
    number only added to in `loop`; None where none does."""
    if any(ir.text(p).startswith("return") for p in ir.parts_of(loop)):
        return None
    targets = sorted(x for x in numbers if _only_added(loop, x) and any(
        _spreadable(i, x) for i in _items(loop)))
    if not targets:
        return None
    before, after = [], []
    for xb in targets:
        i = next(x.target for x in _items(loop) if _spreadable(x, xb))
        per = fresh(f"{xb}_per_{i}")
        bound.add(per)
        loop = loop.rebuilt(lambda b, xb=xb, per=per: _rewritten(b, xb, per))
        before.append(Line((Ref(per), " = runtime.sums_like(", Ref(xb), ")"), (per,)))
        after.append(Line((Ref(xb), " += runtime.total(", Ref(per), ")"), (xb,)))
    return [*before, loop, *after]


def _is_add(item, xb: str) -> bool:
    """`xb += e` or `xb -= e`, e not reading xb."""
    parts = getattr(item, "parts", ())
    return isinstance(item, Line) and len(parts) > 2 and parts[0] == Ref(xb) and \
        parts[1] in ADDS and xb not in set(ir.refs(parts[2:]))


def _only_added(loop: Block, xb: str) -> bool:
    """Whether every line of `loop` naming xb adds to it (heads never name it)."""
    for item in _items(loop):
        if isinstance(item, Block):
            heads = [item.head, *(c.head for c in item.clauses)]
            if any(xb in set(ir.refs(h)) or xb in item.binds for h in heads):
                return False
        elif (xb in set(ir.refs(item.parts)) or xb in item.binds) and not _is_add(item, xb):
            return False
    return True


def _items(block: Block):
    """Every line and block nested in `block` (not the block itself)."""
    for body in block.bodies():
        for item in body:
            yield item
            if isinstance(item, Block):
                yield from _items(item)


def _spreadable(item, xb: str) -> bool:
    """A reversed range loop (counting down to a literal start) adding into xb in its own
    body, and not rebinding its index."""
    if not (isinstance(item, Block) and item.kind == "for" and
            START.fullmatch(ir.text(item.head))):
        return False
    i = item.target
    return any(_is_add(x, xb) for x in item.body) and not any(
        i in getattr(x, "binds", ()) for x in _items(item))


def _rewritten(body: list, xb: str, per: str) -> list:
    """body with each spreadable loop's adds into xb made into per's entries (room made
    just before the loop)."""
    out: list = []
    for item in body:
        if _spreadable(item, xb):
            start, stop = START.fullmatch(ir.text(item.head)).groups()
            i = item.target
            at = (Ref(i),) if start == "0" else (Ref(i), f" - {start}")
            size = (Ref(stop), ".stop") if start == "0" else (Ref(stop), f".stop - {start}")
            out.append(Block(("if len(", Ref(per), ") < ", *size, ":"), [
                Line((Ref(per), " = runtime.room(", Ref(per), ", ", *size, ")"), (per,))]))
            inner = [Line((Ref(per), "[", *at, "]", x.parts[1], *x.parts[2:]))
                     if _is_add(x, xb) else x for x in item.body]
            out.append(Block(item.head, inner, item.orelse, item.clauses, item.binds))
            continue
        if isinstance(item, Block):
            item = item.rebuilt(lambda b: _rewritten(b, xb, per))
        out.append(item)
    return out
