"""memory: which names may share memory (alias classes) and liveness, the parameters changed
in place, and the in-place writes that must be refused."""

from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..errors import UnsupportedSyntax
from ..ir import Assign, For, If, Name, SetItem, Unpack, While
from .memo import per_version
from .points_to import SPLITS, points_to, shares_first


class Classes:
    """Union-find over names that may share memory."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        while self.parent.get(x, x) != x:
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def members(self, x: str) -> set[str]:
        if not hasattr(self, "_groups"):
            self._groups: dict[str, set] = {}
            for n in {*self.parent, *self.parent.values()}:  # roots are only values
                self._groups.setdefault(self.find(n), set()).add(n)
        return self._groups.get(self.find(x), set()) | {x}


@per_version
def aliases(fn: ir.Function) -> Classes:
    classes = Classes()
    for s in ir.walk(fn.body):
        if isinstance(s, Assign) and s.target and s.args and isinstance(s.args[0], Name):
            p = s.prim
            if shares_first(s) or (p.kind == "call" and p.key in SPLITS):
                classes.union(s.target, s.args[0].id)
            if p.kind == "method" and p.spelling == "get":  # d's item, or the default
                for a in s.args:
                    if isinstance(a, Name):
                        classes.union(s.target, a.id)
            if p.kind in ("tuple", "list", "dict"):
                for a in s.args:
                    if isinstance(a, Name):
                        classes.union(s.target, a.id)
        if isinstance(s, Assign) and s.tape:  # what a helper saves may hold its result and
            classes.union(s.tape, s.target)   # its arguments themselves
            for a in s.args:
                if isinstance(a, Name):
                    classes.union(s.tape, a.id)
        elif isinstance(s, Unpack) and isinstance(s.value, Name):
            for t in s.targets:
                classes.union(t, s.value.id)
        elif isinstance(s, ir.Append) and isinstance(s.value, Name):
            classes.union(s.target, s.value.id)
    return classes


def liveness(body: list, live_out: set) -> dict[int, set]:
    """For each statement (by id), the names live just after it; for each handler of a try
    (by id), the names live where it starts."""
    after: dict[int, set] = {}

    def block(stmts: list, live: set) -> set:
        for s in reversed(stmts):
            live = stmt(s, live)
        return live

    def stmt(s, live: set) -> set:
        after[id(s)] = set(live) | after.get(id(s), set())
        if isinstance(s, If):
            live = block(s.body, set(live)) | block(s.orelse, set(live))
            return live | ir.uses(s)
        if isinstance(s, (For, While)):
            # iterate to a fixpoint: what is live at the top of the body is live at its end;
            # from the fixpoint an enclosing loop's earlier trip reached (it only grows)
            inner = set(live) | loops.get(id(s), set())
            while loops.get(id(s)) != inner:
                top = block(s.body, set(inner))
                if isinstance(s, While):
                    top = block(s.prelude, top | ir.uses(s))
                if top <= inner:
                    loops[id(s)] = set(inner)
                inner |= top
            # a while's prelude computes its test before reading it
            reads = ir.uses(s) - ({n for x in s.prelude for n in ir.defs(x)}
                                  if isinstance(s, While) else set())
            return (inner | live | reads) - ({s.target} if isinstance(s, For) else set())
        if isinstance(s, ir.Try):
            return tried(s, live)
        if isinstance(s, ir.With):
            return (block(s.body, set(live)) - ir.defs(s)) | ir.uses(s)
        if isinstance(s, ir.Return):
            return ir.uses(s)
        return (live - ir.defs(s)) | ir.uses(s)

    def tried(s: ir.Try, live: set) -> set:
        """Live before a try: an exception may leave its body at any statement, so what a
        handler reads is live throughout the body (and kept, by id of the handler, as what
        is live where the handler starts)."""
        final = block(s.finalbody, set(live))
        handled = set()
        for h in s.handlers:
            top = block(h.body, set(final)) - ({h.name} if h.name else set())
            after[id(h)] = top | after.get(id(h), set())
            handled |= top
        body = block(s.body, block(s.orelse, set(final)) | handled)
        for x in ir.walk(s.body):  # not killed inside it either
            after[id(x)] = after.get(id(x), set()) | handled
        return body | handled

    loops: dict[int, set] = {}
    block(body, set(live_out))
    return after










@per_version
def mutated_params(fn: ir.Function) -> dict[str, list]:
    """Parameters whose arrays (or lists) the function changes in place, with the
    statements that change them."""
    before = points_to(fn)
    params = {p.name for p in fn.params}
    found: dict[str, list] = {}
    for s in ir.walk(fn.body):
        if isinstance(s, (SetItem, ir.Append)):
            target = s.target
        elif isinstance(s, Assign) and s.inplace:
            target = s.target
        else:
            continue
        for site, _ in before.get(id(s), {}).get(target, frozenset()):
            if isinstance(site, tuple) and site[0] == "param" and site[1] in params:
                found.setdefault(site[1], []).append(s)
    return found


@per_version
def check_writes(fn: ir.Function) -> None:
    """Refuse `y[i] = v` (or `y.append(v)`) while another name that may point to y's array
    is still to be read: its derivative would be lost."""
    for s, other in _shared_writes(fn):
        node = s.origin.node if s.origin else fn.source.funcdef
        raise fn.source.error(node, shared_message(s, other), UnsupportedSyntax)


def shared_message(s, other: str) -> str:
    fix = f"copy first ({s.target} = {s.target}.copy())"
    if isinstance(s, Assign):  # `t += v`: a number is never written in place
        fix = f"write {s.target} = {s.target} {s.prim.spelling} ... or {fix}"
    return (f"{s.target} is written in place while {other} may share its memory and is read "
            f"later; {fix} so the derivative through both is right")


@per_version
def numbers_rebound(fn: ir.Function) -> ir.Function:
    """fn with each `x += v` whose x may share its memory with a name read later written
    `x = x + v`, naming that name (Assign.shared): where x holds a number, += rebinds it, as
    Python does; the code refuses an array as it runs (runtime.rebinds_number)."""
    found = {id(s): other for s, other in _shared_writes(fn) if isinstance(s, Assign)}
    if not found:
        return fn
    return replace(fn, body=ir.map_stmts(fn.body, lambda s: replace(
        s, inplace=False, shared=found[id(s)]) if id(s) in found else s))


def _shared_writes(fn: ir.Function):
    """(statement, another name) of each write in place (`y[i] = v`, `y.append(v)`,
    `y += v`) while that name, read later, may point to y's array."""
    before = points_to(fn)
    live_after = liveness(fn.body, set())
    for s in ir.walk(fn.body):
        if not (isinstance(s, (SetItem, ir.Append)) or (isinstance(s, Assign) and s.inplace)):
            continue
        state = before.get(id(s), {})
        objects = state.get(s.target, frozenset())
        others = {z for z in live_after.get(id(s), set()) - {s.target}
                  if (state.get(z, frozenset()) | state.get(("contents", z), frozenset()))
                  & objects}
        if isinstance(s, ir.Append) and isinstance(s.value, Name):
            others.discard(s.value.id)  # the appended value itself: the list only holds it
        if others:
            named = sorted(o for o in others if isinstance(o, str) and o.isidentifier())
            yield s, named[0] if named else "a value the code keeps (a comprehension's)"
