"""tapes: where each tape of a numba gradient makes room for its values.

A tape is an array (or a record array, or a tuple of arrays, or a list of references: see
storage.py) with a counter `S_top` and a capacity `S_cap`. It is made empty where the NumPy
backend makes its list, typed by a witness: a list the emitted code appends each pushed value
to on a branch that never runs, from which numba learns the type of the tape's items before
the loops that fill it run. The witness itself is made on such a branch too (`never`): it is
never allocated, only typed.

Room is made once, before the outermost loop whose trips can be counted when it starts
(counts.py), not once per push. A push in a `for` over a range is counted at that loop or at
a loop around it: before that loop starts, the tape grows to hold `S_top` plus the pushes
counted there, `len(R) * count` for a push in its body, `len(R) * len(range(a, b)) * count`
for one in a loop nested in it whose range is known then, or a sum a counting loop adds up
over R where the inner range reads the outer loop's target. That holds when

- each counted push runs at most once per trip of the loop it is in (an `if` around it may
  skip it: room to spare),
- every push to the same tape inside the loop where room is made is counted there (no other
  push spends that room), and
- the tape is made at the top of the function (not emptied again inside the loop).

Any other push (in a `while`, at the top level, in a loop whose iterable is not a range)
checks the capacity itself and doubles the tape when full. A tape written past its capacity
would corrupt memory (numba does not check bounds), so the rule is conservative.

Where room is made before a loop that no loop is around, the pushes' witness branch is
`if runtime.never():`, which LLVM drops: their loops keep no branch or call, and may be
vectorized. Elsewhere it stays `if S_top < 0:` (never true either; numba keeps the branch).
A tape whose popped values the reverse sweep reads only for their shape (`ShapeRef`: the
argument of unbroadcast, zeros_like...) keeps nothing for numbers (`shape_tape_like`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Block, Line, Ref, text
from ..reverse.refs import ShapeRef
from .counts import Loops, forward, lines

RUNTIME = "runtime"


@dataclass
class Reserve:
    """The pushes to one tape counted at a loop: {factor text: [count, factor parts]} (a
    factor: the product of the trip counts of the loops between, () for none), and the name
    of the counting loop's target (a factor that reads it is summed over the loop's range)."""

    target: str
    terms: dict = field(default_factory=dict)

    def add(self, factor: tuple) -> None:
        key = text(factor)
        self.terms.setdefault(key, [0, factor])[0] += 1

    @property
    def counted(self) -> bool:
        return any(Ref(self.target) in factor for _, factor in self.terms.values())

    def total(self) -> tuple:
        """The pushes per trip, as parts: `2 + len(range(...))`."""
        out: list = []
        for _, (count, factor) in sorted(self.terms.items()):
            term = (str(count),) if not factor else factor if count == 1 else (
                f"{count} * ", *factor)
            out += [*([" + "] if out else []), *term]
        return tuple(out)


@dataclass
class Tape:
    """One stack's variables; `reserves`: {id(loop): Reserve}; `checked`: the ids of the
    pushes that check the capacity themselves; `quiet`: the ids of the pushes whose witness
    branch LLVM drops; `pushed`: whether it has pushes; `shapes`: read only for shapes."""

    top: str
    cap: str
    witness: str
    need: str
    spare: str
    reserves: dict = field(default_factory=dict)
    checked: set = field(default_factory=set)
    quiet: set = field(default_factory=set)
    pushed: bool = False
    shapes: bool = False


def is_push(item, stacks) -> bool:
    return isinstance(item, Line) and len(item.parts) > 3 and isinstance(
        item.parts[0], Ref) and item.parts[0].name in stacks and item.parts[1] == ".append(" \
        and item.parts[-1] == ")"


def is_pop(item, stacks) -> bool:
    """`v = S.pop()`, the whole line."""
    return isinstance(item, Line) and len(item.parts) == 4 and isinstance(
        item.parts[0], Ref) and item.parts[1] == " = " and isinstance(
        item.parts[2], Ref) and item.parts[2].name in stacks and item.parts[3] == ".pop()"


def sites(body: list, stacks) -> dict[str, list]:
    """{stack: [(push, the loops around it, outermost first)]}; a loop's `else:` runs once,
    after the loop, and an `if` is no loop."""
    found: dict[str, list] = {s: [] for s in stacks}

    def visit(items: list, loops: tuple) -> None:
        for item in items:
            if is_push(item, stacks):
                found[item.parts[0].name].append((item, loops))
            elif isinstance(item, Block):
                visit(item.body, (*loops, item) if item.kind in ("for", "while") else loops)
                for b in [item.orelse, *(c.body for c in item.clauses)]:
                    visit(b, loops)

    visit(body, ())
    return found


def plan(body: list, stacks: set[str], top_level: set[str], fresh, params: set[str]
         ) -> dict[str, Tape]:
    """A Tape for each stack; `top_level`: the stacks made in the function's own body (not
    in a block); `fresh(base)`: a name not yet used; `params`: the function's parameters."""
    loops, ranged = Loops(body, params), range_names(body)
    targets: dict[int, str] = {}  # id(loop) -> its counting loop's target

    def target(loop: Block) -> str:
        if id(loop) not in targets:
            base = loop.head[1].name if isinstance(loop.head[1], Ref) else "trip"
            targets[id(loop)] = fresh(f"{base}_counted")
        return targets[id(loop)]

    shaped = shape_only(body, stacks & top_level)
    tapes = {}
    for s, found in sorted(sites(body, stacks).items()):
        tape = tapes[s] = Tape(*(fresh(f"{s}_{part}") for part in (
            "top", "cap", "witness", "need", "spare")), pushed=bool(found), shapes=s in shaped)
        options = [_options(chain, loops, ranged, target) if s in top_level else {}
                   for _, chain in found]
        within = [{id(loop) for loop in chain} for _, chain in found]
        for (push, chain), option in zip(found, options, strict=True):
            good = [loop for loop in chain if id(loop) in option and all(
                id(loop) in other for ids, other in zip(within, options, strict=True)
                if id(loop) in ids)]
            if not good:
                tape.checked.add(id(push))
                continue
            loop = good[0]  # the outermost
            tape.reserves.setdefault(id(loop), Reserve(target(loop))).add(option[id(loop)])
            if loop is chain[0]:
                tape.quiet.add(id(push))
    return tapes


def _options(chain: tuple, loops: Loops, ranged: set[str], target) -> dict[int, tuple]:
    """{id(loop): the factor the push counts with there} for the loops of `chain` where its
    pushes can be counted, from the innermost out."""
    out: dict[int, tuple] = {}
    if not chain or trips(chain[-1], ranged) is None:
        return out
    out[id(chain[-1])] = ()
    for j in range(len(chain) - 2, -1, -1):
        if trips(chain[j], ranged) is None or loops.leaves(chain[j + 1]) or loops.leaves(
                chain[j]):
            break
        factor = loops.count(chain[j], chain[j + 1:], target(chain[j]))
        if factor is None:
            break
        out[id(chain[j])] = factor
    return out


def range_names(body: list) -> set[str]:
    """Names the forward sweep binds only to ranges (`R = range(...)`): a loop over one runs
    len(R) times. (The reverse sweep may bind them again, from a tape, after the loops.)"""
    ranges, other = set(), set()
    for item in lines(forward(body)):
        if isinstance(item, Line) and len(item.parts) > 3 and isinstance(
                item.parts[0], Ref) and item.parts[1:4] == (" = ", "range", "("):
            ranges.add(item.parts[0].name)
        else:
            other |= set(item.binds) | ({item.target} if isinstance(item, Block) else set())
    return ranges - other


def shape_only(body: list, stacks: set[str]) -> set[str]:
    """The stacks whose popped values the reverse sweep reads only for their shape: each use
    of a name they pop into is a ShapeRef, after `# backward`, and the stack is only made,
    pushed to before `# backward` and popped from after it (not handed on to another
    function)."""
    fwd = forward(body)
    if len(fwd) == len(body):
        return set()
    reverse = list(lines(body[len(fwd):]))
    after = {id(item) for item in reverse}
    bad, popped = set(), {s: set() for s in stacks}
    for item in lines(body):
        parts = item.head if isinstance(item, Block) else item.parts
        if is_pop(item, stacks) and id(item) in after:
            popped[parts[2].name].add(parts[0].name)
        elif not ((is_push(item, stacks) and id(item) not in after) or parts[1:] == (
                " = ", "[]")):
            bad |= {p.name for p in parts if isinstance(p, Ref) and p.name in stacks}
    names = set().union(*popped.values())
    for item in reverse:
        parts = item.head if isinstance(item, Block) else item.parts
        skip = 0 if is_pop(item, stacks) else -1  # the target of a pop
        names -= {p.name for k, p in enumerate(parts) if isinstance(p, Ref) and k != skip
                  and not isinstance(p, ShapeRef)}
    return {s for s in stacks if s not in bad and popped[s] and popped[s] <= names}


def trips(loop: Block, ranged: set[str]) -> tuple | None:
    """`len(R)` for `for t in R:` with R a name bound only to ranges."""
    head = loop.head
    if loop.kind != "for" or len(head) != 5 or head[2] != " in " or not isinstance(
            head[3], Ref) or head[4] != ":" or head[3].name not in ranged:
        return None
    return ("len(", Ref(head[3].name), ")")


def made(stack: str, tape: Tape) -> list:
    """The lines that make an empty tape where the NumPy backend makes its list."""
    out = [Line((Ref(tape.top), " = 0"), (tape.top,))]
    if tape.pushed:
        like = ".shape_tape_like(" if tape.shapes else ".tape_like("
        out += [never([Line((Ref(tape.witness), " = []"), (tape.witness,))]),
                Line((Ref(stack), " = ", RUNTIME, like, Ref(tape.witness), ", 0)"),
                     (stack,)),
                Line((Ref(tape.cap), " = 0"), (tape.cap,))]
    return out


def never(body: list) -> Block:
    """`if runtime.never():` around body: code numba types but LLVM drops. A list made there
    types what is appended to it elsewhere and costs nothing when the function runs (numba
    sets a variable bound on no path taken to zeros: an empty list no call reads)."""
    return Block(("if ", RUNTIME, ".never():"), body)


def spares(tapes: dict[str, Tape]) -> list:
    """After the forward sweep: the spare array each shape-only tape's pops view."""
    return [Line((Ref(tape.spare), " = ", RUNTIME, ".spare(", Ref(stack), ")"), (tape.spare,))
            for stack, tape in sorted(tapes.items()) if tape.shapes and tape.pushed]


def popped(stack: str, tape: Tape) -> tuple:
    """The parts that read the value at the tape's counter (moved down before)."""
    if tape.shapes:
        return (RUNTIME, ".shape_get(", Ref(stack), ", ", Ref(tape.top), ", ", Ref(tape.spare),
                ")")
    return (RUNTIME, ".tape_get(", Ref(stack), ", ", Ref(tape.top), ")")


def reserved(loop: Block, tapes: dict[str, Tape], ranged: set[str]) -> list:
    """Before `loop`: room on each tape for the pushes counted at it (summed by a counting
    loop over its range where a count reads its target)."""
    here = [(stack, tape, tape.reserves[id(loop)]) for stack, tape in sorted(tapes.items())
            if id(loop) in tape.reserves]
    counted = [(stack, tape, r) for stack, tape, r in here if r.counted]
    out: list = [Line((Ref(tape.need), " = 0"), (tape.need,)) for _, tape, _ in counted]
    if counted:
        target = counted[0][2].target
        out.append(Block(("for ", Ref(target), " in ", loop.head[3], ":"), [
            Line((Ref(tape.need), " += ", *r.total()), (tape.need,)) for _, tape, r in counted]))
    for stack, tape, r in here:
        if r.counted:
            need = (Ref(tape.top), " + ", Ref(tape.need))
        elif list(r.terms) == [""]:  # pushes in the loop's own body: count * len(R)
            count = r.terms[""][0]
            need = (Ref(tape.top), " + ", *((f"{count} * ",) if count > 1 else ()),
                    *trips(loop, ranged))
        else:
            need = (Ref(tape.top), " + ", *trips(loop, ranged), " * (", *r.total(), ")")
        out.append(Block(("if ", *need, " > ", Ref(tape.cap), ":"), _grow(stack, tape, need)))
    return out


def _grow(stack: str, tape: Tape, need: tuple) -> list:
    return [Line((Ref(tape.cap), " = ", RUNTIME, ".tape_capacity(", Ref(tape.cap), ", ", *need,
                  ")"), (tape.cap,)),
            Line((Ref(stack), " = ", RUNTIME, ".tape_grow(", Ref(stack), ", ", Ref(tape.cap),
                  ")"), (stack,))]


def pushed(item: Line, stack: str, tape: Tape, value: tuple) -> list:
    """The push of `value` (a name): the capacity checked (unless room was made before the
    loop), the witness's append that types the tape, the value kept, the counter moved."""
    out = []
    if id(item) in tape.checked:
        need = (Ref(tape.top), " + 1")
        out.append(Block(("if ", Ref(tape.top), " == ", Ref(tape.cap), ":"),
                         _grow(stack, tape, need)))
    guard = (RUNTIME, ".never():") if id(item) in tape.quiet else (Ref(tape.top), " < 0:")
    out += [Block(("if ", *guard), [  # never runs: numba types the tape
        Line((Ref(tape.witness), ".append(", *value, ")"))]),
        Line((RUNTIME, ".tape_put(", Ref(stack), ", ", Ref(tape.top), ", ", *value, ")")),
        Line((Ref(tape.top), " += 1"), (tape.top,))]
    return out
