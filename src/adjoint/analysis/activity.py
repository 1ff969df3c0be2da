"""activity: the names that carry derivatives (varied by a wrt parameter, useful to the result)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .. import ir, rules
from ..ir import Assign, Name, SetItem, Unpack
from .memo import per_version
from .memory import aliases
from .shifts import shift_free


@dataclass
class Activity:
    varied: set
    useful: set

    @property
    def active(self) -> set:
        return self.varied & self.useful


def edges(s: ir.Stmt) -> list[tuple[str, str]]:
    """(source, target) pairs along which a derivative can flow in one statement."""
    out = []
    if isinstance(s, Assign) and s.target is not None:
        p = s.prim
        if p.kind in ("compare",) or (p.key is not None and rules.is_passive(p.key)):
            return []
        if p.kind == "attr" and p.spelling in rules.PASSIVE_ATTRS:
            return []
        sources = [s.args[0]] if p.kind == "index" else [*s.args, *(a for _, a in s.kwargs)]
        out = [(n, s.target) for n in sorted(ir.names(sources))]
    elif isinstance(s, (SetItem, ir.Append)) and isinstance(s.value, Name):
        out = [(s.value.id, s.target)]
    elif isinstance(s, Unpack) and isinstance(s.value, Name):
        out = [(s.value.id, t) for t in s.targets]
    return out


@per_version
def analyze(fn: ir.Function, wrt: set[str]) -> Activity:
    """Varied and useful names of `fn` differentiated with respect to `wrt`."""
    forward, backward = defaultdict(set), defaultdict(set)
    returned = set()
    classes = aliases(fn)
    constant = shift_free(fn)
    for s in ir.walk(fn.body):
        for a, b in edges(s):
            if a in constant or b in constant:
                continue
            targets = classes.members(b) if isinstance(s, (SetItem, ir.Append)) else {b}
            for t in targets:
                forward[a].add(t)
                backward[t].add(a)
        if isinstance(s, ir.Return) and isinstance(s.value, Name):
            returned.add(s.value.id)
    return Activity(_closure(set(wrt), forward), _closure(returned, backward))


def _closure(start: set, graph: dict) -> set:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
