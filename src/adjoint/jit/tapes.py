"""tapes: where each tape of a numba gradient makes room for its values.

A tape is an array (or a tuple of arrays, or a list of references) with a counter `S_top`
and a capacity `S_cap`. It is made empty where the NumPy backend makes its list, typed by a
witness: a list the emitted code appends each pushed value to on a branch that never runs
(`if S_top < 0:`), from which numba learns the type of the tape's items before the loops that
fill it run.

Room is made once per loop, not once per push, wherever that is provably enough: a push in
the body of a `for` over a range (its innermost loop) is counted at that loop, and before the
loop starts the tape grows to hold `S_top + count * len(R)` values. That holds when each
counted push runs at most once per trip (it is in the loop's body, not in a loop inside it),
no push to the same tape runs in a loop inside that loop, and the tape is made at the top of
the function. Any other push (in a `while`, at the top level, in a loop whose iterable is not
a range) checks the capacity itself and doubles the tape when full. A tape written past its
capacity would corrupt memory (numba does not check bounds), so the rule is conservative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Block, Line, Ref, text

RUNTIME = "runtime"


@dataclass
class Tape:
    """One stack's variables; `reserves`: {id(loop): pushes counted there}; `checked`: the
    ids of the pushes that check the capacity themselves; `pushed`: whether it has pushes."""

    top: str
    cap: str
    witness: str
    reserves: dict = field(default_factory=dict)
    checked: set = field(default_factory=set)
    pushed: bool = False


def is_push(item, stacks) -> bool:
    return isinstance(item, Line) and len(item.parts) > 3 and isinstance(
        item.parts[0], Ref) and item.parts[0].name in stacks and item.parts[1] == ".append(" \
        and item.parts[-1] == ")"


def plan(body: list, stacks: set[str], top_level: set[str], fresh) -> dict[str, Tape]:
    """A Tape for each stack; `top_level`: the stacks made in the function's own body (not
    in a block); `fresh(base)`: a name not yet used."""
    sites: dict[str, list] = {s: [] for s in stacks}
    ranged = range_names(body)

    def visit(items: list, loops: tuple) -> None:
        for item in items:
            if is_push(item, stacks):
                sites[item.parts[0].name].append((item, loops))
            elif isinstance(item, Block):
                inner = (*loops, item) if item.kind in ("for", "while") else loops
                visit(item.body, inner)  # a loop's `else:` runs once, after the loop
                for b in [item.orelse, *(c.body for c in item.clauses)]:
                    visit(b, loops)

    visit(body, ())
    tapes = {}
    for s in sorted(stacks):
        tape = tapes[s] = Tape(fresh(f"{s}_top"), fresh(f"{s}_cap"), fresh(f"{s}_witness"))
        tape.pushed = bool(sites[s])
        deeper = {id(loop) for _, loops in sites[s] for loop in loops[:-1]}
        for push, loops in sites[s]:
            loop = loops[-1] if loops else None
            if s in top_level and loop is not None and id(loop) not in deeper and trips(
                    loop, ranged):
                tape.reserves[id(loop)] = tape.reserves.get(id(loop), 0) + 1
            else:
                tape.checked.add(id(push))
    return tapes


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
        out += [Line((Ref(tape.witness), " = []"), (tape.witness,)),
                Line((Ref(stack), " = ", RUNTIME, ".tape_like(", Ref(tape.witness), ", 0)"),
                     (stack,)),
                Line((Ref(tape.cap), " = 0"), (tape.cap,))]
    return out


def reserved(loop: Block, tapes: dict[str, Tape], ranged: set[str]) -> list:
    """Before `loop`: room on each tape for the pushes counted at it."""
    out = []
    for stack, tape in sorted(tapes.items()):
        count = tape.reserves.get(id(loop))
        if not count:
            continue
        need = (Ref(tape.top), " + ", *((f"{count} * ",) if count > 1 else ()),
                *trips(loop, ranged))
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
    out += [Block(("if ", Ref(tape.top), " < 0:"), [  # never runs: numba types the tape
        Line((Ref(tape.witness), ".append(", *value, ")"))]),
        Line((RUNTIME, ".tape_put(", Ref(stack), ", ", Ref(tape.top), ", ", *value, ")")),
        Line((Ref(tape.top), " += 1"), (tape.top,))]
    return out
