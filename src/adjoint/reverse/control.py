"""control: the adjoints of branches and loops."""

from __future__ import annotations

from .. import ir
from ..ir import Assign, Block, Line, Name, Ref
from .refs import RUNTIME, ShapeRef


class ControlAdjoint:
    """Methods of Sweep."""

    def if_adjoint(self, s: ir.If) -> list:
        body, orelse = self.arms(s, [s.body, s.orelse])
        if not body and not orelse:
            return []
        test = ir.atom_parts(s.test)
        self.line(test)  # records that the reverse sweep reads the test
        if not body:
            return [Block(("if not ", *test, ":"), orelse)]
        return [Block(("if ", *test, ":"), body, orelse)]

    def arms(self, s, blocks: list[list]) -> list[list]:
        """The reverse of each way through a branch (or a try), each from the adjoints
        defined after it; one that leaves an adjoint undefined that another defines sets it
        to zero, so every way ends with the same adjoints defined."""
        start = self.snapshot()
        outs, ends = [], []
        for b in blocks:
            self.restore_state(start)
            outs.append(self.block(b, origin=s.origin))
            ends.append(self.snapshot())
        self.current = id(s)
        merged = set().union(*(end[0] for end in ends))
        before = self.bound_before(s) if self.typed else set()
        for out, end in zip(outs, ends, strict=True):
            out += [self.zero(x, bound=x in before) for x in sorted(merged - end[0])]
        self.defined = merged
        self.owned = set.intersection(*(end[1] for end in ends))
        self.zeroed |= set().union(*(end[2] for end in ends))
        return outs

    def bound_before(self, s) -> set[str]:
        """The parameters, and the names the statements before s in its block bind: bound
        wherever s runs (a zero for their adjoints may be made like them)."""
        def search(body: list):
            for k, t in enumerate(body):
                if t is s:
                    return body[:k]
                for inner in ir.blocks(t):
                    found = search(inner)
                    if found is not None:
                        return found
            return None

        earlier = search(self.fn.body) or []
        return {p.name for p in self.fn.params} | {n for t in earlier for n in ir.defs(t)}

    def loop_adjoint(self, s) -> list:
        inplace = self.inplace_targets(s.body)
        pre: list[Line] = []
        self.current = id(s)
        for x in sorted(m[1] for m in self.zeroed if isinstance(m, tuple) and m[0] ==
                        "uniform"):  # a loop's trips get arrays, not numbers standing for them
            self.zeroed.discard(("uniform", x))
            if x in self.defined:
                pre.append(self.assign(self.bar(x), (RUNTIME, ".densify(", Ref(self.bar(x)),
                                                     ", ", ShapeRef(x), ")")))
        for x in sorted(inplace):
            if x in self.active and (x in self.defined or x in self.accumulated(s)):
                pre += self.own(x)
        entry = self.snapshot()
        for _ in range(4):
            self.restore_state(entry)
            body = self.block(s.body, origin=s.origin)
            if isinstance(s, ir.For):  # each trip binds the target afresh: nothing flows on
                self.defined.discard(s.target)
                self.zeroed.discard(s.target)
            missing = self.defined - entry[0]
            # the next (earlier) iteration starts from what this one leaves: 0.0 for an
            # adjoint the body zeroes, or that it no longer defines
            zeroed = ((self.zeroed & self.defined) | (entry[0] - self.defined)) - entry[2]
            disowned = entry[1] - self.owned
            if not missing and not zeroed and not disowned:
                break
            if not missing:
                entry = (entry[0], entry[1] - disowned, entry[2] | zeroed)
                continue
            self.restore_state(entry)
            self.current = id(s)
            for x in sorted(missing):
                pre.append(self.zero(x, bound=True) if x not in inplace else self.own(x)[0])
            entry = self.snapshot()
        self.current = id(s)
        for x in sorted(entry[0] - self.defined):  # (bound here, or its adjoint unread)
            body.append(self.zero(x, bound=True))
        self.defined = set(entry[0])
        self.owned = entry[1] & self.owned
        if not body:
            return pre
        if isinstance(s, ir.While):
            head = ("for _ in range(", Ref(s.trips), "):")
        elif s.trips:
            head = ("for ", Ref(s.target), " in reversed(", *ir.atom_parts(s.iter), "[:",
                    Ref(s.trips), "]):")
        else:
            head = ("for ", Ref(s.target), " in reversed(", *ir.atom_parts(s.iter), "):")
        self.line(head)  # records what the loop reads
        return pre + [Block(head, body)]

    def inplace_targets(self, body: list) -> set[str]:
        found = set()
        for s in ir.walk(body):
            if isinstance(s, Assign) and s.prim.kind == "index" and isinstance(s.args[0], Name):
                found.add(s.args[0].id)
            elif isinstance(s, (ir.SetItem, ir.Append)):
                found.add(s.target)
        defined_inside = set()
        for s in ir.walk(body):
            defined_inside |= ir.defs(s)
        return found - defined_inside

    def accumulated(self, s) -> set[str]:
        return {a.id for x in ir.walk(s.body) if isinstance(x, Assign) and x.prim.kind == "index"
                for a in x.args[:1] if isinstance(a, Name)}
