"""holders: which names hold the same array through the trips of a loop, for reuse.py.

An abstract run of the loop body: a state maps each tracked name (and each buffer a plan
adds) to the array it holds, numbered, with where the array came from (`made` by the loop,
from `before` it, or `none`: an empty buffer). The first trip starts from the state before
the loop, the later ones from every state a trip may end in, until no new state appears;
each way a helper may go is followed (zeros made afresh where a buffer's shape does not fit,
a copy made where one is not skipped). A rewrite of the plan is refuted where, in some
state, the array it would skip copying or would reuse came from before the loop, or is held
by another name that is read afterwards (liveness over the body and around the loop, with
every tracked name read after it ends).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Line, Ref

LIMIT = 4000  # abstract states explored before giving up on a loop


@dataclass
class Site:
    """A top-level statement of the loop body binding a tracked name: `zeros`
    (x = runtime.zeros_like(shape)), `owned` (x = runtime.owned(x, shape)) or `alias`
    (x = y)."""

    k: int
    name: str
    kind: str
    shape: tuple = ()
    source: str | None = None


@dataclass
class Plan:
    """The rewrites tried: owned sites whose copy is skipped after the first trip; zeros
    sites made in a buffer, with the name whose array each trip leaves there."""

    elide: set = field(default_factory=set)
    recycle: dict = field(default_factory=dict)  # site index -> tracked name

    def without(self, failed: set) -> Plan:
        return Plan(self.elide - failed, {k: v for k, v in self.recycle.items()
                                          if k not in failed})


@dataclass
class Step:
    """A statement of the loop body as the abstract run sees it: `zeros` (made in `buffer`
    where one is given), `owned` (`skip`: the copy skipped after the first trip), `alias`,
    `keep` (the buffer `name` takes the array of `source`), or `other`."""

    kind: str
    name: str | None = None
    source: str | None = None
    buffer: str | None = None
    skip: bool = False
    uses: frozenset = frozenset()
    defs: frozenset = frozenset()


def _steps(body: list, sites: dict, tracked: set, plan: Plan) -> list[Step]:
    out = []
    for k, item in enumerate(body):
        site = sites.get(k)
        if site is None:
            out.append(Step("other", uses=frozenset(_names(item) & tracked)))
        elif site.kind == "alias":
            out.append(Step("alias", site.name, source=site.source,
                            uses=frozenset({site.source} & tracked), defs=frozenset({site.name})))
        elif site.kind == "owned":
            out.append(Step("owned", site.name, skip=k in plan.elide,
                            uses=frozenset({site.name}), defs=frozenset({site.name})))
        else:
            buffer = f"#{k}" if k in plan.recycle else None
            out.append(Step("zeros", site.name, buffer=buffer, uses=frozenset(
                {buffer} - {None}), defs=frozenset({site.name})))
    for k, name in sorted(plan.recycle.items()):
        out.append(Step("keep", f"#{k}", source=name, uses=frozenset({name}),
                        defs=frozenset({f"#{k}"})))
    return out


def _names(item) -> set:
    if isinstance(item, Line):
        return {p.name for p in item.parts if isinstance(p, Ref)}
    found = {p.name for h in [item.head, *(c.head for c in item.clauses)] for p in h
             if isinstance(p, Ref)}
    return found.union(*(_names(i) for b in item.bodies() for i in b))


def _live_after(steps: list[Step], after_loop: set) -> list[set]:
    """The names read after each step before they are bound again (around the loop; those
    in after_loop count as read once it ends)."""
    n = len(steps)
    live_in = [set() for _ in steps]
    changed = True
    while changed:
        changed = False
        for k in reversed(range(n)):
            out = live_in[k + 1] if k + 1 < n else live_in[0] | after_loop
            new = set(steps[k].uses) | (out - steps[k].defs)
            if new != live_in[k]:
                live_in[k], changed = new, True
    return [live_in[k + 1] if k + 1 < n else live_in[0] | after_loop for k in range(n)]


def verify(body: list, sites: dict, tracked: set, plan: Plan) -> set | None:
    """The sites of the plan whose rewrite the abstract run cannot show safe (None: too many
    states to tell)."""
    steps = _steps(body, sites, tracked, plan)
    live = _live_after(steps, set(tracked))
    start = {**{name: (k, "before") for k, name in enumerate(sorted(tracked))},
             **{f"#{k}": (len(tracked) + k, "none") for k in plan.recycle}}
    failed: set = set()
    seen: set = set()
    frontier = _trip(_canonical(start), steps, live, True, failed)
    while frontier:
        if len(seen) > LIMIT:
            return None
        later: set = set()
        for state in frontier:
            seen.add(state)
            later |= _trip(state, steps, live, False, failed)
        frontier = later - seen
    return failed


def _canonical(holds: dict) -> tuple:
    """The state {name: (array, kind)} with arrays numbered in the order of the names:
    equal states of different trips compare equal. An array's kind is `made` (by the
    loop's statements), `before` (the loop did not make it: never reused) or `none` (a
    buffer's empty start)."""
    number: dict = {}
    return tuple((name, number.setdefault(holds[name][0], len(number)), holds[name][1])
                 for name in sorted(holds))


def _trip(state: tuple, steps: list[Step], live: list[set], first: bool,
          failed: set) -> set:
    """The states a trip from `state` may end in; the sites whose rewrite a state refutes
    are added to `failed`."""
    states = {state}
    for k, step in enumerate(steps):
        states = {out for st in states for out in _step(st, k, step, live[k], first, failed)}
    return states


def _step(state: tuple, k: int, step: Step, live: set, first: bool, failed: set) -> list:
    holds = {name: (array, kind) for name, array, kind in state}
    new = (max(a for a, _ in holds.values()) + 1, "made")

    def after(name, value):
        return _canonical({**holds, name: value})

    def others_read(name, exempt):  # other names holding name's array, read later
        return ({n for n, v in holds.items() if v[0] == holds[name][0]} - exempt) & live

    if step.kind == "alias":
        return [after(step.name, holds.get(step.source, (new[0], "before")))]
    if step.kind == "owned" and step.skip and not first:
        if holds[step.name][1] != "made" or others_read(step.name, {step.name}):
            failed.add(k)
        return [state, after(step.name, new)]
    if step.kind == "zeros" and step.buffer and holds[step.buffer][1] != "none":
        if holds[step.buffer][1] != "made" or others_read(step.buffer, {step.buffer,
                                                                          step.name}):
            failed.add(k)
        return [after(step.name, holds[step.buffer]), after(step.name, new)]
    if step.kind in ("owned", "zeros"):
        return [after(step.name, new)]
    if step.kind == "keep":
        return [after(step.name, holds[step.source]), after(step.name, (new[0], "none"))]
    return [state]
