"""reuse: the adjoint arrays a reversed loop makes each trip, taken from earlier trips.

The reverse sweep of a loop that carries an array (`u = new` after `new = u.copy()`) makes
two arrays a trip: `new_bar = runtime.owned(new_bar, new)`, a copy safe to update in place
(new_bar came from `new_bar = u_bar`), and `u_bar = runtime.zeros_like(u)`. Where it is
sure to be the same, the lowered loop instead

- skips the copy after the first trip (`runtime.owned_unless(..., later)`), where the array
  is one the loop made and no other name reads it afterwards, and
- makes the zeros in an array an earlier trip made that nothing reads any more, kept in a
  buffer at the end of each trip (`runtime.zeros_into`, buffers.py).

Sure means: no name outside the loop's own adjoints can hold those arrays, and a small
abstract run of the loop body shows it. The loop has no `return`, `break` or `continue` of
its own (each statement of its body runs each trip, in order); the names it binds with
`zeros_like` or `owned` at the top of its body, and those `x = y` there joins to them (the
tracked names), are bound nowhere else in it, and are read only

    x[...] = e, x[...] += e       writes into the array (e reading them only as below)
    x += e, z += x                in place (numba's `+=` on an array), or a new number
    runtime.copy(x[...])          a copy of an item

and nothing else may mention them. Each tracked name then holds an array a statement of the
loop made (one known to no other name), or one from before the loop (never reused). The
abstract run (holders.py) follows which names hold the same array through the first trip
and every trip after; a copy is skipped, or an array reused, only where every other name
holding that array is read no more. Anything else keeps the code as it was.
"""

from __future__ import annotations

import re

from ..ir import Block, Line, Ref
from .holders import Plan, Site, verify
from .tapes import RUNTIME, never

ASSIGN_OPS = (" += ", " -= ", " *= ", " /= ")


def reuse(body: list, fresh, bound: set) -> list:
    """body with its loops (nested ones first) rewritten where they may reuse arrays;
    `fresh(base)`: a name not yet used; the names made are added to `bound`."""
    out: list = []
    for item in body:
        if isinstance(item, Block):
            item = item.rebuilt(lambda b: reuse(b, fresh, bound))
            if item.kind == "for":
                out += _loop(item, fresh, bound)
                continue
        out.append(item)
    return out


def _loop(loop: Block, fresh, bound: set) -> list:
    sites = _sites(loop.body)
    tracked = _tracked(sites)
    sites = {k: s for k, s in sites.items() if s.name in tracked}
    if not tracked or not _plain(loop.body, True) or not _contained(loop, sites, tracked):
        return [loop]
    plan = _choose(loop.body, sites, tracked)
    if not plan.elide and not plan.recycle:
        return [loop]
    return _rewritten(loop, sites, plan, fresh, bound)


def _sites(body: list) -> dict[int, Site]:
    found = {}
    for k, item in enumerate(body):
        if not isinstance(item, Line) or len(item.parts) < 3 or not isinstance(
                item.parts[0], Ref) or item.parts[1] != " = " or tuple(item.binds) != (
                item.parts[0].name,):
            continue
        name, rest = item.parts[0].name, item.parts[2:]
        if len(rest) == 1 and isinstance(rest[0], Ref):
            found[k] = Site(k, name, "alias", source=rest[0].name)
        elif rest[:2] == (RUNTIME, ".zeros_like(") and rest[-1] == ")":
            found[k] = Site(k, name, "zeros", shape=rest[2:-1])
        elif rest[:3] == (RUNTIME, ".owned(", Ref(name)) and rest[3] == ", " and \
                rest[-1] == ")":
            found[k] = Site(k, name, "owned", shape=rest[4:-1])
    return found


def _tracked(sites: dict) -> set:
    """The names made by zeros_like or owned, and those `x = y` joins to them."""
    names = {s.name for s in sites.values() if s.kind != "alias"}
    grew = bool(names)
    while grew:
        grew = False
        for s in sites.values():
            if s.kind == "alias" and (s.name in names) != (s.source in names):
                names |= {s.name, s.source}
                grew = True
    return names


def _plain(body: list, own: bool) -> bool:
    """No `return` in body, nor (own) a `break` or `continue` of the loop itself."""
    for item in body:
        if isinstance(item, Line):
            words = "".join(p.name if isinstance(p, Ref) else p for p in item.parts).split()
            if words[:1] == ["return"] or (own and words[:1] in (["break"], ["continue"])):
                return False
        elif not all(_plain(b, own and item.kind not in ("for", "while"))
                     for b in item.bodies()):
            return False
    return True


# ---------------------------------------------------------------- what may read them


def _contained(loop: Block, sites: dict, tracked: set) -> bool:
    """Whether the tracked names appear in the loop only as the module's docstring lists."""
    if _mentions(loop.head, tracked):
        return False
    for k, item in enumerate(loop.body):
        site = sites.get(k)
        if site is None:
            if not _safe(item, tracked):
                return False
        elif site.kind != "alias" and _mentions(site.shape, tracked):
            return False
    return True


def _mentions(parts, names: set) -> bool:
    return any(isinstance(p, Ref) and p.name in names for p in parts)


def _safe(item, tracked: set) -> bool:
    if isinstance(item, Block):
        heads = [item.head, *(c.head for c in item.clauses)]
        binds = {*item.binds, *(b for c in item.clauses for b in c.binds)}
        return not (binds & tracked or item.target in tracked or any(
            _mentions(h, tracked) for h in heads)) and all(
            _safe(i, tracked) for b in item.bodies() for i in b)
    parts, binds = item.parts, set(item.binds)
    if not _mentions(parts, tracked):
        return True
    head = parts[0]
    if isinstance(head, Ref) and head.name in tracked:
        if len(parts) > 1 and parts[1] in ASSIGN_OPS:  # x += e: in place
            return binds <= {head.name} and _reads(parts[2:], tracked, whole=True)
        written = _subscript_write(parts)
        return not binds and written is not None and not _mentions(
            written[0], tracked) and _reads(written[1], tracked)
    if len(parts) == 3 and isinstance(head, Ref) and parts[1] in (" += ", " -= "):
        return True  # z += x: x's values added into z (z is not tracked)
    return not binds & tracked and _reads(parts, tracked)


def _reads(parts, tracked: set, whole: bool = False) -> bool:
    """Whether each tracked name in parts is read as `runtime.copy(x[...])` (or, whole, the
    parts are that one name)."""
    if whole and len(parts) == 1:
        return True
    for m, p in enumerate(parts):
        if isinstance(p, Ref) and p.name in tracked and not (
                m > 0 and isinstance(parts[m - 1], str) and parts[m - 1].endswith(
                    "runtime.copy(") and m + 1 < len(parts) and isinstance(
                    parts[m + 1], str) and parts[m + 1].startswith("[")):
            return False
    return True


WRITE = re.compile(r"\s*(?:[-+*/%]|//|\*\*)?=(?!=)\s*(.*)$", re.DOTALL)


def _subscript_write(parts) -> tuple | None:
    """(index parts, value parts) of `x[index] = value` (or `+=`...), else None."""
    if len(parts) < 3 or parts[1] != "[":
        return None
    depth = 0
    for j in range(1, len(parts)):
        p = parts[j]
        if isinstance(p, Ref):
            continue
        for c, char in enumerate(p):
            depth += (char == "[") - (char == "]")
            if char == "]" and depth == 0:
                found = WRITE.match(p[c + 1:])
                if found is None:
                    return None
                value = ((found.group(1),) if found.group(1) else ()) + tuple(parts[j + 1:])
                return (*parts[2:j], p[:c]), value
    return None


# ---------------------------------------------------------------- choosing and writing


def _choose(body: list, sites: dict, tracked: set) -> Plan:
    """Every copy skipped that the run shows safe, then each zeros made in a buffer left
    by the first tracked name with which the run still shows everything safe."""
    plan = Plan({k for k, s in sites.items() if s.kind == "owned"})
    while plan.elide:
        failed = verify(body, sites, tracked, plan)
        if failed is None:
            return Plan()
        if not failed:
            break
        plan = plan.without(failed)
    for k in sorted(k for k, s in sites.items() if s.kind == "zeros"):
        for name in sorted(tracked):
            trial = Plan(set(plan.elide), {**plan.recycle, k: name})
            if verify(body, sites, tracked, trial) == set():
                plan = trial
                break
    return plan


def _rewritten(loop: Block, sites: dict, plan: Plan, fresh, bound: set) -> list:
    """The lines that make the buffers, and the loop using them."""
    before, body, end = [], list(loop.body), []
    if plan.elide:
        later = fresh(f"{(loop.target or '').strip('_') or 'trip'}_later")
        bound.add(later)
        before.append(Line((Ref(later), " = False"), (later,)))
        end.append(Line((Ref(later), " = True"), (later,)))
        for k in plan.elide:
            x, shape = sites[k].name, sites[k].shape
            body[k] = Line((Ref(x), " = ", RUNTIME, ".owned_unless(", Ref(x), ", ", *shape,
                            ", ", Ref(later), ")"), (x,))
    for k, name in sorted(plan.recycle.items()):
        x, shape = sites[k].name, sites[k].shape
        buffer, pool = fresh(f"{x}_buffer"), fresh(f"{x}_pool")
        bound |= {buffer, pool}
        before += [never([Line((Ref(pool), " = []"), (pool,))]),
                   Line((Ref(buffer), " = ", RUNTIME, ".no_buffer(", Ref(pool), ")"),
                        (buffer,))]
        body[k] = [Line((Ref(x), " = ", RUNTIME, ".zeros_into(", Ref(buffer), ", ", *shape,
                         ")"), (x,)),
                   never([Line((Ref(pool), ".append(", RUNTIME, ".zeros_like(", *shape,
                                "))"))])]
        end.insert(len(end) - bool(plan.elide), Line((
            Ref(buffer), " = ", RUNTIME, ".keep_buffer(", Ref(buffer), ", ", Ref(name), ")"),
            (buffer,)))
    flat = [line for item in body for line in (item if isinstance(item, list) else [item])]
    return [*before, Block(loop.head, flat + end, loop.orelse, loop.clauses, loop.binds)]
