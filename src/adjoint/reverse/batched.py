"""batched: the einsums a reversed loop adds into an adjoint, done once after the loop.

A loop over data points makes, on every trip, `Qs_bar = Qs_bar + np.einsum('ki,kj->kij', a, b)`
and `means_bar -= np.einsum('ki,kij->kj', a, Qs)`: small products that cost more in NumPy's
dispatch than in arithmetic. Their sum over the trips is one einsum with one more label,
over the trips' values stacked: `np.einsum('nki,nkj->kij', a_trips, b_trips)`. A careful
person writes the loop that way (ADBench's hand-written GMM gradient does); this pass does it
where the code is specialized on shapes (only then is an adjoint an einsum: specialized.py).

A term moves out of the loop when
- its adjoint is read in the loop only by the lines that add to it (so no trip sees a partial
  sum), and the term does not read it;
- each operand is a name: one the loop does not bind is the same on every trip (it holds the
  value it had before the loop); one it binds is kept on a list, as the trip has it where
  the term is made, and the loop binds it only by plain assignment (`a = ...`, which leaves
  the value kept untouched: an adjoint the sweep updates in place is an array it owns, that
  no other name holds);
- the loop holds no jump.
An adjoint made by an einsum and read once, by a line adding it to another
(`xc_bar = np.einsum(...)`; `means_bar -= xc_bar`), counts as that einsum added there. The
sums after the loop run only when it ran (`if a_trips:`), so a loop of no trips adds nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..ir import Block, Line, Ref, parts_of
from .specialized import Einsum

LETTERS = "nmtbqrsuvwxyzabcdefghijklop"
SMALL = 1 << 14  # entries of an operand kept for each trip: where NumPy's dispatch dominates


@dataclass
class Term:
    """One einsum (or one name's array) added to `acc` on each trip: the line adding it
    (rewritten after the loop), the item it comes from (the line itself, or the line making
    the einsum read by it)."""

    line: Line
    acc: str
    einsum: Einsum | None  # None: a name added as it is
    made_at: int
    added_at: int
    lists: list = field(default_factory=list)  # per operand: a list name, or None

    @property
    def operands(self) -> tuple:
        return self.einsum.operands if self.einsum is not None else (self.line.note[2],)


def batched(body: list, namer, size, total: Counter | None = None) -> list:
    """body with the einsum terms of its reversed loops (and theirs) summed after each loop.
    size(name): how many entries the array a name holds has, where known."""
    total = refs(body) if total is None else total
    out: list = []
    for item in body:
        if isinstance(item, Block):
            item = item.rebuilt(lambda b: batched(b, namer, size, total))
            if item.kind == "for":
                out += _hoisted(item, namer, total, size)
                continue
        out.append(item)
    return out


def refs(items) -> Counter:
    """How many times each name is written in items (lines and blocks, heads included)."""
    found: Counter = Counter()
    for item in items:
        for parts in parts_of(item):
            found.update(p.name for p in parts if isinstance(p, Ref))
    return found


def _binding_lines(item):
    if isinstance(item, Line):
        yield item
        return
    for body in item.bodies():
        for inner in body:
            yield from _binding_lines(inner)


def _hoisted(loop: Block, namer, total: Counter, size) -> list:
    body = loop.body
    if any(p.strip() in ("break", "continue") or p.startswith("return")
           for item in body for parts in parts_of(item) for p in parts
           if isinstance(p, str)):
        return [loop]
    written = _written(body)
    if written - set(namer.primals):
        return [loop]  # a value of the primal's changes in place: a view kept may change too
    inside = refs(body)
    bound = Counter(n for item in body for line in _binding_lines(item) for n in line.binds)
    bound.update(p.name for p in loop.head if isinstance(p, Ref))
    terms = [t for pos, item in enumerate(body) if (t := _term(body, pos, inside, total))]
    terms = [t for t in terms if _movable(t, body, terms, bound, written, size)]
    if not any(t.einsum is not None for t in terms):
        return [loop]
    return _rewrite(loop, terms, bound, namer)


MUTATORS = (".restore(", ".refill(", ".add_at(", ".put_entry(", ".add_adjoint(",
            ".field_adjoint(", ".at(", ".fill(")


def _written(body: list) -> set:
    """The names whose arrays lines of body change in place."""
    out = set()
    for item in body:
        for line in _binding_lines(item):
            parts = line.parts
            if len(parts) > 1 and isinstance(parts[0], Ref) and parts[1] != " = ":
                out.add(parts[0].name)
            out |= {parts[k + 1].name for k in range(len(parts) - 1)
                    if isinstance(parts[k], str) and parts[k].endswith(MUTATORS)
                    and isinstance(parts[k + 1], Ref)}
    return out


def _term(body: list, pos: int, inside: Counter, total: Counter) -> Term | None:
    item = body[pos]
    note = getattr(item, "note", None) if isinstance(item, Line) else None
    if not note or note[0] != "acc":
        return None
    _, acc, term = note
    if isinstance(term, Einsum):
        return Term(item, acc, term, pos, pos)
    if len(term) != 1 or not isinstance(term[0], Ref):
        return None
    made = term[0].name  # x_bar = np.einsum(...) read once, here
    for k in range(pos):
        note = getattr(body[k], "note", None) if isinstance(body[k], Line) else None
        if note and note[0] == "set" and note[1] == made and isinstance(note[2], Einsum) \
                and inside[made] == total[made] == 2:
            return Term(item, acc, note[2], k, pos)
    return Term(item, acc, None, pos, pos)  # a name: its values listed, summed after


def _movable(t: Term, body: list, terms: list, bound: Counter, written: set, size) -> bool:
    """Whether t's adjoint is read only by lines adding terms to it, t reads it not, and
    each operand t reads the loop changes not in place and binds only by plain assignment
    of a value that is no view of what it changes."""
    names = [_name(op) for op in t.operands]
    if None in names or t.acc in names or (t.einsum is not None and "..." in t.einsum.spec) \
            or not all(size(n) is not None and size(n) <= SMALL for n in names if bound[n]):
        return False
    if t.einsum is None and not (bound[names[0]] == 1 and size(names[0]) > 1):
        return False  # a name bound once by the loop, to an array: a number adds fast
    if not any(bound[n] for n in names):
        return False
    adding = {id(other.line) for other in terms if other.acc == t.acc}
    for item in body:
        for line in _binding_lines(item):
            if Ref(t.acc) in line.parts and not _adds_to(line, t.acc, adding):
                return False
    for item in body:
        for parts in parts_of(item):
            if not isinstance(item, Line) and Ref(t.acc) in parts:
                return False  # a block's head reads it
    for n in names:
        if n in written or bound[n] and not all(
                _plain(line, n, written) for item in body for line in _binding_lines(item)
                if n in line.binds):
            return False
    return True


def _adds_to(line: Line, acc: str, adding: set) -> bool:
    note = line.note
    return id(line) in adding or bool(note and note[0] == "acc" and note[1] == acc and
                                      Ref(acc) not in note[2])


def _plain(line: Line, name: str, written: set) -> bool:
    """`name = ...` reading not name itself (a new value, the old one left as it was), nor
    an item, attribute or method of an array changed in place (a view of it)."""
    parts = line.parts
    if parts[:2] != (Ref(name), " = ") or Ref(name) in parts[2:] or line.binds != (name,):
        return False
    return not (len(parts) > 3 and isinstance(parts[2], Ref) and parts[2].name in written
                and isinstance(parts[3], str) and parts[3].startswith(("[", ".")))


def _name(parts: tuple) -> str | None:
    return parts[0].name if len(parts) == 1 and isinstance(parts[0], Ref) else None


def _rewrite(loop: Block, terms: list, bound: Counter, namer) -> list:
    """The loop keeping each term's varying operands on lists, and the sums after it."""
    kept: dict = {}  # (operand, where the loop last bound it before the term) -> list name
    appends: dict = {}  # position in body -> the lines appending there
    for t in terms:
        for op in t.operands:
            n = _name(op)
            if not bound[n]:
                t.lists.append(None)
                continue
            key = (n, _last_binding(loop.body, n, t.made_at))
            if key not in kept:
                kept[key] = namer.fresh(f"{n}_trips")
                appends.setdefault(t.made_at, []).append(
                    Line((Ref(kept[key]), ".append(", Ref(n), ")")))
            t.lists.append(kept[key])
    gone = {t.made_at for t in terms} | {t.added_at for t in terms}
    body = []
    for pos, item in enumerate(loop.body):
        body += appends.get(pos, [])
        if pos not in gone:
            body.append(item)
    lists = list(dict.fromkeys(kept.values()))
    before = [Line((Ref(k), " = ", "[]"), (k,)) for k in lists]
    np_parts = next(t.einsum.np for t in terms if t.einsum is not None)
    stacked = [Line((Ref(k), " = ", *np_parts, ".array(", Ref(k), ")"), (k,)) for k in lists]
    sums = [_batched_line(t) for t in terms]
    after = Block(("if ", Ref(lists[0]), ":"), [*stacked, *sums]) if lists else None
    return [*before, Block(loop.head, body, loop.orelse, loop.clauses, loop.binds),
            *([after] if after else sums)]


def _last_binding(body: list, name: str, pos: int) -> int:
    return max((k for k in range(pos) if any(name in line.binds
                                             for line in _binding_lines(body[k]))), default=-1)


def _batched_line(t: Term) -> Line:
    """t's line, adding the einsum of all trips (a new label over the listed operands), or
    the sum of the listed values."""
    line = t.line
    head = line.parts[:len(line.parts) - len(line.note[2])]
    if t.einsum is None:
        return Line((*head, Ref(t.lists[0]), ".sum(axis=0)"), line.binds)
    spec = t.einsum.spec
    label = next(c for c in LETTERS if c not in spec)
    inputs, output = spec.split("->")
    terms = inputs.split(",")
    new = ",".join(label + term if kept else term
                   for term, kept in zip(terms, t.lists, strict=True)) + "->" + output
    operands = [(Ref(k),) if k else op for k, op in zip(t.lists, t.einsum.operands,
                                                        strict=True)]
    call = (*t.einsum.np, f".einsum({new!r}", *(p for op in operands for p in (", ", *op)),
            ", optimize=True)")
    return Line((*head, *call), line.binds)
