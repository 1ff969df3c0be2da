"""counts: how many times the loops nested in a loop run, told before that loop starts.

tapes.py makes room on a tape once, before the outermost loop whose trips it can count. In

    for t in t_range:               # t_range = range(steps), bound before the loop
        m = n - 1
        i_range = range(1, m)
        for i in i_range:
            S.append(...)

the pushes number len(t_range) * len(range(1, (n - 1))): `m` is bound once in the outer loop,
before the inner loop and in the same body, to arithmetic of a name the outer loop never
binds. Where the inner range reads the outer loop's target (`range(t + 1, n)`), the count is
a sum over the outer range, which a counting loop before it adds up.

The rule is conservative; a count is given only where it is sure to be enough:

- each inner loop is a `for` over a range, directly in the body of the loop around it (not
  under an `if`, which may skip it, nor in a `while`, whose trips are not known);
- the inner range is a name bound to `range(...)` once in the outer loop, in a body the inner
  loop is in, before it, or a range bound before the outer loop;
- each name its arguments read is a parameter, a name bound before the outer loop in a body
  it is in (or nowhere in the function: a global, constant in numba), and bound nowhere in the
  outer loop; or bound once in the outer loop as above, to `+`, `-`, `*` of such names and int
  literals (no call, subscript or division, which could fail where the loop would not run);
  or the outer loop's target, which only its head binds (a counting loop then sums);
- a range's step, if given, is a nonzero int literal (`range(a, b, 0)` raises).

A loop cut short (continue, an `if` around a push) pushes less than counted: room to spare,
never too little. A loop that a `break` (or `return`) may leave is neither counted inside
another nor counts the loops inside it (`leaves`): its trips may be far fewer than its range's
length, and the product of such lengths could ask for more memory than the pushes need.
"""

from __future__ import annotations

import re
from collections import Counter

from ..ir import Block, Line, Ref, text

ARITHMETIC = re.compile(r"[\s\d()+\-*]*")  # no `**`: checked apart
ASSIGN = re.compile(r"\s*(?:[-+*/%@&|^]|//|\*\*|<<|>>)?=\s*")
STEP = re.compile(r"\s*-?[1-9]\d*\s*")  # an int literal, not 0


def forward(body: list) -> list:
    """The statements before the `# backward` comment (all of them in a split helper)."""
    for k, item in enumerate(body):
        if isinstance(item, Line) and item.comment and text(item.parts) == "# backward":
            return body[:k]
    return body


def lines(body: list):
    for item in body:
        yield item
        if isinstance(item, Block):
            for inner in item.bodies():
                yield from lines(inner)


def bound_by(item) -> list[str]:
    """The names a line or a block's head binds (each as often as it binds it)."""
    if isinstance(item, Block):
        names = list(item.binds) + [c for clause in item.clauses for c in clause.binds]
        if item.kind == "for" and " in " in item.head:
            names += [p.name for p in item.head[:item.head.index(" in ")] if isinstance(p, Ref)]
        return names
    names = list(item.binds)
    parts = item.parts
    for k in range(len(parts) - 1):  # `x += 1`, `a, b = v`: a Ref left of an assignment
        if isinstance(parts[k], Ref) and isinstance(parts[k + 1], str) and ASSIGN.fullmatch(
                parts[k + 1]) and parts[k].name not in names:
            names.append(parts[k].name)
    return names


class Loops:
    """The forward sweep's statements by place: `path` of an item is ((id(list), index), ...)
    from the function's body down to it."""

    def __init__(self, body: list, params: set[str]):
        self.params = params
        self.paths: dict[int, tuple] = {}
        self.anywhere = {n for item in lines(body) for n in bound_by(item)}
        self.defs: dict[str, list] = {}  # name -> [(Line, path)] of the forward's lines
        self.binds: dict[int, Counter] = {}  # id(block) -> names bound in it, with counts
        self.exits: dict[int, bool] = {}  # id(loop) -> whether it may be left early
        self._index(forward(body), ())

    def _index(self, body: list, path: tuple) -> None:
        for k, item in enumerate(body):
            here = (*path, (id(body), k))
            self.paths[id(item)] = here
            if isinstance(item, Line):
                for name in bound_by(item):
                    self.defs.setdefault(name, []).append((item, here))
            else:
                for inner in item.bodies():
                    self._index(inner, here)

    def bound_in(self, loop: Block) -> Counter:
        if id(loop) not in self.binds:
            found = Counter(bound_by(loop))
            for inner in loop.bodies():
                for item in lines(inner):
                    found.update(bound_by(item))
            self.binds[id(loop)] = found
        return self.binds[id(loop)]

    def leaves(self, loop: Block) -> bool:
        """Whether a `break` of its own or a `return` may leave the loop early."""
        if id(loop) not in self.exits:
            self.exits[id(loop)] = _exits(loop.body, True) or _exits(loop.orelse, False)
        return self.exits[id(loop)]

    def nested(self, outer: Block, inner: Block) -> bool:
        """Whether `inner` is a statement of outer's body itself."""
        path = self.paths.get(id(inner))
        return path is not None and path[:-1] == self.paths.get(id(outer)) and path[-1][
            0] == id(outer.body)

    def count(self, outer: Block, chain: tuple, target: str | None) -> tuple | None:
        """The parts of the product of the trip counts of `chain` (loops each nested in the
        one before, the first in `outer`), as evaluated before `outer`; `target` names outer's
        target in it (None: the count may not read it). None where it is not sure."""
        out: list = []
        above = outer
        for loop in chain:
            if loop.kind != "for" or not self.nested(above, loop) or len(
                    loop.head) != 5 or not isinstance(loop.head[3], Ref):
                return None
            trips = self._trips(loop.head[3].name, loop, outer, target)
            if trips is None:
                return None
            out += [*([" * "] if out else []), *trips]
            above = loop
        return tuple(out)

    def _trips(self, name: str, loop: Block, outer: Block, target: str | None) -> tuple | None:
        if name not in self.bound_in(outer):
            defs = self.defs.get(name, ())
            return ("len(", Ref(name), ")") if defs and self._before(outer, name) and all(
                _is_range(line) for line, _ in defs) else None
        found = self._definition(name, self.paths[id(loop)], outer)
        if found is None or not _is_range(found[0]):
            return None
        line, path = found
        args = _arguments(line.parts[4:-1])
        if args is None or len(args) > 3 or (len(args) == 3 and not (
                len(args[2]) == 1 and isinstance(args[2][0], str) and STEP.fullmatch(
                args[2][0]))):
            return None
        out: list = []
        for arg in args:
            value = self._value(arg, path, outer, target, frozenset())
            if value is None:
                return None
            out += [*([", "] if out else []), *value]
        return ("len(range(", *out, "))")

    def _value(self, parts: tuple, at: tuple, outer: Block, target, seen) -> tuple | None:
        """`parts` (arithmetic, read at `at` in outer) as evaluated before outer."""
        out: list = []
        for p in parts:
            if isinstance(p, Ref):
                value = self._name(p.name, at, outer, target, seen)
                if value is None:
                    return None
                out += value
            elif isinstance(p, str) and ARITHMETIC.fullmatch(p) and "**" not in p:
                out.append(p)
            else:
                return None
        return tuple(out)

    def _name(self, name: str, at: tuple, outer: Block, target, seen) -> tuple | None:
        binds = self.bound_in(outer)
        if name not in binds:
            return (Ref(name),) if self._before(outer, name) else None
        head = outer.head[1] if len(outer.head) > 1 else None
        if isinstance(head, Ref) and name == head.name and binds[name] == 1:  # by the head
            return (Ref(target),) if target is not None else None
        found = self._definition(name, at, outer)
        if found is None or name in seen:
            return None
        line, path = found
        if len(line.parts) < 3 or line.parts[1] != " = ":
            return None
        value = self._value(line.parts[2:], path, outer, target, seen | {name})
        return None if value is None else ("(", *value, ")")

    def _definition(self, name: str, at: tuple, outer: Block) -> tuple | None:
        """The one line in `outer` that binds `name`, if it is `name = ...` alone and runs
        before `at` each time `at` runs (a statement before it in a body it is in)."""
        if self.bound_in(outer)[name] != 1:
            return None
        start = self.paths[id(outer)]
        inside = [(line, path) for line, path in self.defs.get(name, ())
                  if path[:len(start)] == start and len(path) > len(start)]
        if len(inside) != 1:
            return None
        line, path = inside[0]
        if line.parts[:1] != (Ref(name),) or tuple(line.binds) != (name,):
            return None
        depth = len(path) - 1
        if len(at) <= depth or at[:depth] != path[:depth] or at[depth][0] != path[depth][
                0] or at[depth][1] <= path[depth][1]:
            return None
        return line, path

    def _before(self, outer: Block, name: str) -> bool:
        """Whether `name` surely holds a value when outer starts: a parameter, a global, or
        bound by a line before outer in a body outer is in."""
        if name in self.params or name not in self.anywhere:
            return True
        path = self.paths[id(outer)]
        return any(len(p) <= len(path) and p[:-1] == path[:len(p) - 1] and p[-1][0] == path[
            len(p) - 1][0] and p[-1][1] < path[len(p) - 1][1] for _, p in self.defs.get(name, ()))


def _exits(body: list, own: bool) -> bool:
    """Whether `body` holds a `return`, or (`own`) a `break` outside the loops in it."""
    for item in body:
        if isinstance(item, Line):
            words = text(item.parts).split()
            if words[:1] == ["return"] or (own and words[:1] == ["break"]):
                return True
        elif any(_exits(b, own and item.kind not in ("for", "while")) for b in [
                item.body, item.orelse, *(c.body for c in item.clauses)]):
            return True
    return False


def _is_range(line: Line) -> bool:
    parts = line.parts
    return len(parts) > 4 and isinstance(parts[0], Ref) and parts[1:4] == (
        " = ", "range", "(") and parts[-1] == ")"


def _arguments(parts: tuple) -> list[tuple] | None:
    """The arguments of a call's parts (between its parentheses), split at top-level `, `."""
    out: list = [[]]
    depth = 0
    for p in parts:
        if p == ", " and depth == 0:
            out.append([])
            continue
        if isinstance(p, str):
            depth += p.count("(") - p.count(")")
            if depth < 0 or ("," in p):
                return None
        out[-1].append(p)
    return [tuple(a) for a in out] if depth == 0 and all(out) else None


INT = re.compile(r"-?\d+")


def literal_ranges(body: list, stacks: set[str], params: set[str]) -> dict[str, tuple]:
    """{R: (start, step)} for each name R the function binds only to `range(...)` calls
    with the same int literals for start and step (None: no step), or to values popped
    from a stack that only R's own values are pushed to (a parameter is never one).

    `range(start, R.stop, step)` is then R itself, written where LLVM sees the literals:
    in the reverse sweep's `for i in runtime.backwards(range(1, R.stop))` it knows i >= 1,
    and `x_bar[i - 1] += g` keeps no test for a negative index (which makes the address of
    each add wait on a select, and the loop slow)."""
    found: dict[str, set] = {}
    pushes: dict[str, set] = {}
    for item in lines(body):
        if isinstance(item, Line) and len(item.parts) == 4 and isinstance(
                item.parts[0], Ref) and item.parts[0].name in stacks and item.parts[1] == \
                ".append(" and item.parts[3] == ")":
            value = item.parts[2]
            pushes.setdefault(item.parts[0].name, set()).add(
                value.name if isinstance(value, Ref) else None)
    for item in lines(body):
        for name in bound_by(item):
            found.setdefault(name, set()).add(_range_bounds(item, name, stacks))
    out = {}
    for name, kinds in found.items():
        bounds = {k for k in kinds if k is not None and k[0] != "pop"}
        pops = {k[1] for k in kinds if k is not None and k[0] == "pop"}
        if name in params or None in kinds or len(bounds) != 1:
            continue
        if all(pushes.get(s, {None}) == {name} for s in pops):
            out[name] = bounds.pop()
    return out


def _range_bounds(item, name: str, stacks: set[str]) -> tuple | None:
    """What a binding of `name` is: (start, step) of a range with literal ones, ("pop",
    stack) for `name = S.pop()`, or None."""
    if not isinstance(item, Line) or item.parts[:2] != (Ref(name), " = ") or tuple(
            item.binds) != (name,):
        return None
    parts = item.parts
    if len(parts) == 4 and isinstance(parts[2], Ref) and parts[2].name in stacks and \
            parts[3] == ".pop()":
        return ("pop", parts[2].name)
    if not _is_range(item):
        return None
    args = _arguments(parts[4:-1])
    if args is None or not 1 <= len(args) <= 3:
        return None
    start = args[0] if len(args) > 1 else ("0",)
    step = args[2] if len(args) == 3 else None
    literal = [a for a in (start, step) if a is not None]
    if not all(len(a) == 1 and isinstance(a[0], str) and INT.fullmatch(a[0].strip())
               for a in literal) or (step is not None and int(step[0]) == 0):
        return None
    return (start[0].strip(), step[0].strip() if step else None)
