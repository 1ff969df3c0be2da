"""optimize: clean-up of emitted code.

Copy propagation (`a = b` with both bound once: uses of a read b), removal of lines that
bind names nothing reads, and negations folded into the products and sums that read them
(exact, as negation is). Correctness never depends on this stage: every gradient test runs
with it on and off.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import replace

from .ir import Block, Clause, Emitted, Line, Ref, read_refs

UFUNC = ("ufunc",)  # the note of `t = np.tanh(z)`, a ufunc of one argument (names nothing,
# so renames keep it; inplace.py reads it)


def optimize(fn: Emitted) -> Emitted:
    body = fn.body
    for _ in range(10):
        new = remove_dead(fold_negations(propagate_copies(body)))
        if new == body:
            break
        body = new
    return replace(fn, body=body)


def lines(body: list):
    for item in body:
        if isinstance(item, Block):
            yield item
            for inner in item.bodies():
                yield from lines(inner)
        else:
            yield item


def counts(body: list) -> tuple[Counter, Counter]:
    """How many lines bind, and how many read, each name."""
    binds, reads = Counter(), Counter()
    for item in lines(body):
        if isinstance(item, Block):
            for name in head_reads(item):
                reads[name] += 1
            for b in (*item.binds, *(b for c in item.clauses for b in c.binds)):
                binds[b] += 2  # a name a head binds is never taken for a copy
            if item.target:
                binds[item.target] += 2  # a loop target is rebound every trip
            continue
        for p in read_refs(item.parts, item.binds):  # names left of ' = ' are written
            reads[p.name] += 1
        for b in set(item.binds):
            binds[b] += 1
    return binds, reads


def head_reads(item: Block) -> list[str]:
    """The names a block's head and its clauses' heads read (not those they bind)."""
    bound = {*item.binds, *(b for c in item.clauses for b in c.binds)}
    heads = [item.head, *(c.head for c in item.clauses)]
    return [p.name for h in heads for p in read_refs(h) if p.name not in bound]


def is_copy(item) -> bool:
    return (isinstance(item, Line) and len(item.parts) == 3 and isinstance(item.parts[0], Ref)
            and item.parts[1] == " = " and isinstance(item.parts[2], Ref)
            and type(item.parts[2]) is Ref and item.binds == (item.parts[0].name,))


def propagate_copies(body: list) -> list:
    """Drop `a = b` where a is bound once and every read of a follows the copy in the same
    block, with b not bound again before the last of them: those reads read b. One pass
    takes the copies that touch no name another copy of the pass touches (optimize repeats
    passes until nothing changes)."""
    binds, total_reads = counts(body)

    def block(items: list) -> list:
        items = [x.rebuilt(block) if isinstance(x, Block) else x for x in items]
        read_at: dict[str, list] = {}
        bound_at: dict[str, list] = {}
        for j, item in enumerate(items):
            if isinstance(item, Line):  # the common case, without a walk
                for p in read_refs(item.parts, item.binds):
                    read_at.setdefault(p.name, []).append(j)
                for name in set(item.binds):
                    bound_at.setdefault(name, []).append(j)
                continue
            b_j, r_j = counts([item])
            for name in r_j:
                read_at.setdefault(name, []).extend([j] * r_j[name])
            for name in b_j:
                bound_at.setdefault(name, []).append(j)
        mapping: dict[str, str] = {}
        dropped: set[int] = set()
        touched: set[str] = set()
        for k, item in enumerate(items):
            if not is_copy(item):
                continue
            a, b = item.parts[0].name, item.parts[2].name
            readers = [j for j in read_at.get(a, ()) if j > k]
            if binds[a] != 1 or not readers or len(readers) != total_reads[a] or {a, b} & touched:
                continue
            last = readers[-1]
            if any(k < j <= last for j in bound_at.get(b, ())) or _rebinds_in_reader(
                    items[k + 1:last + 1], b):
                continue
            mapping[a] = b
            touched |= {a, b}
            dropped.add(k)
        if not mapping:
            return items
        return [x for j, x in enumerate(rename(items, mapping)) if j not in dropped]

    return block(body)


def fold_negations(body: list) -> list:
    """Drop `a = -b` where a is bound once and every read of a, later in the same block, is
    the first factor of a product added to a sum (`z += a * w`, `z = z + a * w`), with b not
    bound again before the last: each subtracts b * w instead. Exact, as negation is, and
    one operation less a read."""
    binds, total_reads = counts(body)

    def block(items: list) -> list:
        items = [x.rebuilt(block) if isinstance(x, Block) else x for x in items]
        for k, item in enumerate(items):
            if not (isinstance(item, Line) and len(item.parts) == 4 and item.parts[1:3] == (
                    " = ", "-") and isinstance(item.parts[3], Ref) and item.binds == (
                    item.parts[0].name,) and type(item.parts[3]) is Ref):
                continue
            a, b = item.parts[0].name, item.parts[3].name
            uses = [j for j in range(k + 1, len(items)) if any(
                isinstance(p, Ref) and p.name == a for x in lines([items[j]])
                for p in (x.parts if isinstance(x, Line) else ()))]
            flipped = [_flipped(items[j], a, b) for j in uses]
            if binds[a] != 1 or not uses or len(uses) != total_reads[a] or None in flipped:
                made = _negated_product(items, k, b, binds, total_reads)
                if made is not None and not any(Ref(a) in (
                        x.parts if isinstance(x, Line) else x.head) for x in lines(
                        items[made[0] + 1:k])):
                    # b = 2 * c; a = -b: a = -2 * c
                    items[made[0]] = Line((Ref(a), *made[1].parts[1:]), (a,), made[1].comment,
                                          made[1].effect)
                    return items[:k] + items[k + 1:]
                continue
            span = items[k + 1:uses[-1] + 1]
            if counts(span)[0][b] or _writes(span, b):
                continue
            for j, line in zip(uses, flipped, strict=True):
                items[j] = line
            return items[:k] + items[k + 1:]
        return items

    return block(body)


def _negated_product(items: list, k: int, b: str, binds: Counter, reads: Counter):
    """For `a = -b` at items[k], where b is read there only and made earlier in the block by
    a product: (where, that line negated), the sign put on a positive literal factor
    (`b = g * 2 * x`: `g * -2 * x`), or taken off a negated one (`b = -g * x`: `g * x`), or
    off the line making its first factor, when that too is read there only (`c = -g / s`;
    `b = c * x`: `neg_c = g / s`; `b = neg_c * x`)."""
    j = _made_by_product(items, k, b, binds, reads)
    if j is None:
        return None
    parts = list(items[j].parts)
    if parts[2] == "-":  # b = -g * x
        return j, _with(items[j], (*parts[:2], *parts[3:]))
    for n, p in enumerate(parts[2:], 2):
        if isinstance(p, str) and (found := _LITERAL_FACTOR.search(p)):
            parts[n] = p[:found.start(2)] + "-" + p[found.start(2):]
            return j, _with(items[j], tuple(parts))
    c = parts[2].name if isinstance(parts[2], Ref) and type(parts[2]) is Ref else None
    i = _made_by_product(items, j, c, binds, reads) if c else None
    if i is None or items[i].parts[2] != "-" or any(Ref(c) in x.parts for x in items[i + 1:j]
                                                    if isinstance(x, Line)):
        return None
    # c now holds minus what it held: named for it, where that name is free
    neg = f"neg_{c}" if not binds[f"neg_{c}"] and not reads[f"neg_{c}"] else c
    items[i] = Line((Ref(neg), " = ", *items[i].parts[3:]), (neg,), items[i].comment,
                    items[i].effect)
    return j, _with(items[j], tuple(Ref(neg) if p == Ref(c) else p for p in items[j].parts))


def _made_by_product(items: list, k: int, b: str, binds: Counter, reads: Counter):
    """Where, before items[k] in its block, the line binding b (once, read once) as a
    product is."""
    if binds[b] != 1 or reads[b] != 1:
        return None
    j = next((j for j in range(k) if isinstance(items[j], Line) and items[j].binds == (b,)
              and items[j].parts[:2] == (Ref(b), " = ")), None)
    return j if j is not None and _is_product(items[j].parts[2:]) else None


def _with(line: Line, parts: tuple) -> Line:
    return Line(parts, line.binds, line.comment, line.effect)


def _is_product(parts) -> bool:
    """Whether parts are a chain of products and quotients of names and numbers."""
    text = "".join(p.name if isinstance(p, Ref) else p for p in parts)
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        if not isinstance(node.right, (ast.Name, ast.Constant)):
            return False
        node = node.left
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, (ast.Name, ast.Constant))


_LITERAL_FACTOR = re.compile(r"(^|\* |/ )(\d+(\.\d*)?([eE][-+]?\d+)?)( \*| /|$)")


def _writes(span: list, name: str) -> bool:
    """Whether a line in span writes into `name` (`b += v`, `b[i] = v`, bound or not)."""
    return any(isinstance(x, Line) and x.parts and isinstance(x.parts[0], Ref) and
               x.parts[0].name == name for x in lines(span))


_FLIP = {" += ": " -= ", " -= ": " += ", " + ": " - ", " - ": " + "}
_FACTORS = re.compile(r"( \* | / )(\d+(\.\d*)?([eE][-+]?\d+)?( \* | / ))*")
_SCALED = re.compile(r" \* \d+(\.\d*)?([eE][-+]?\d+)?")  # times a positive literal


def _flipped(item, a: str, b: str) -> Line | None:
    """`z += a * w` as `z -= b * w` (and `z = z + a * w` as `z = z - b * w`; `u = a * 0.5`
    as `u = b * -0.5`, `u = a * 2 * w` as `u = b * -2 * w`), or None."""
    if not isinstance(item, Line) or not isinstance(item.parts[0], Ref):
        return None
    parts = item.parts
    if len(parts) >= 4 and parts[1:3] == (" = ", Ref(a)) and isinstance(parts[3], str) and (
            found := _SCALED.match(parts[3])) and (len(parts) == 4 and found.end() == len(
                parts[3]) or _is_product(parts[2:]) and parts[3][found.end():] in (" * ", " / ")):
        # u = a * 0.5 (* w): u = b * -0.5 (* w)
        return Line((*parts[:2], Ref(b), " * -" + parts[3][3:], *parts[4:]), item.binds,
                    item.comment, item.effect)
    if len(item.parts) < 5:
        return None
    z = item.parts[0].name
    head = 2 if item.parts[1] in (" += ", " -= ") else 4 if item.parts[1] == " = " and len(
        item.parts) > 4 and item.parts[2] == Ref(z) and item.parts[3] in (" + ", " - ") else 0
    rest = item.parts[head:]
    if not head or len(rest) < 3 or rest[0] != Ref(a) or not (
            isinstance(rest[1], str) and rest[1].startswith(" * ")) or not all(
            (isinstance(p, Ref) and p.name != a) or (isinstance(p, str) and _FACTORS.fullmatch(p))
            for p in rest[1:]):
        return None
    sign = item.parts[head - 1]
    return Line((*item.parts[:head - 1], _FLIP[sign], Ref(b), *rest[1:]), item.binds,
                item.comment, item.effect)


def _rebinds_in_reader(span: list, b: str) -> bool:
    """Whether a loop in `span` rebinds b (its target): a read inside would see the new b."""
    return any(isinstance(x, Block) and (x.target == b or b in x.binds or any(
        b in c.binds for c in x.clauses)) for x in lines(span))


def rename(body: list, mapping: dict) -> list:
    def parts(ps):
        return tuple(type(p)(mapping.get(p.name, p.name)) if isinstance(p, Ref) else p
                     for p in ps)

    out = []
    for item in body:
        if isinstance(item, Block):
            out.append(item.rebuilt(lambda b: rename(b, mapping), parts))
        else:
            out.append(Line(parts(item.parts), tuple(mapping.get(b, b) for b in item.binds),
                            item.comment, item.effect, _renamed_note(item.note, mapping)))
    return out


def _renamed_note(note, mapping: dict):
    """A line's note, kept where it names no name (UFUNC) or only the adjoint an index add
    adds into (its other names are the primal's, which no copy of this stage renames)."""
    if note == UFUNC:
        return note
    if isinstance(note, tuple) and note[:1] == ("add",):
        return (note[0], mapping.get(note[1], note[1]), *note[2:])
    return None


def remove_dead(body: list) -> list:
    """Drop pure lines whose bindings are not read afterwards on any path (a backward
    liveness pass; loops iterate to a fixpoint). Stack pops are never dropped."""
    out, _ = _live_block(body, set())
    return out


def _reads(parts, binds=()) -> set:
    return {p.name for p in read_refs(parts, binds)}


def _pure(item: Line) -> bool:
    return bool(item.binds) and not item.effect and item.parts[1:2] == (" = ",) and not any(
        isinstance(p, str) and ".pop()" in p for p in item.parts)


def _live_block(items: list, live: set) -> tuple[list, set]:
    """The items without dead stores, and what is live before them (`live`, the names live
    after them, is updated in place)."""
    out: list = []
    for item in reversed(items):
        if isinstance(item, Block):
            item, live = _live_compound(item, live)
            out.append(item)
        elif item.comment:
            out.append(item)
        elif _pure(item) and not any(b in live for b in item.binds):
            continue
        else:
            live.difference_update(item.binds)
            live.update(_reads(item.parts, item.binds))
            out.append(item)
    return _drop_empty_comments(out[::-1]), live


def _live_compound(item: Block, live: set) -> tuple[Block, set]:
    head = _reads(item.head)
    if item.kind == "with":
        body, top = _live_block(item.body, set(live))
        return Block(item.head, body, binds=item.binds), (top - set(item.binds)) | set(
            head_reads(item))
    if item.kind == "try":
        return _live_try(item, live)
    if item.kind in ("for", "while"):
        target = {item.target} if item.target else set()
        inside = set(live) | (head - target)  # a while test is read before every trip
        while True:  # what is live at the top of the body is live at its end
            body, top = _live_block(item.body, set(inside))
            new = inside | top
            if new == inside:
                break
            inside = new
        return Block(item.head, body, item.orelse), (live | top | head) - target
    body, live_body = _live_block(item.body, set(live))
    orelse, live_else = _live_block(item.orelse, set(live))
    return Block(item.head, body, orelse), live_body | live_else | head


def _live_try(item: Block, live: set) -> tuple[Block, set]:
    """A try: an exception may leave its body anywhere, so its body is kept as it is, and
    what a handler reads is live throughout it."""
    clauses, after = [], set(live)
    final = [c for c in item.clauses if c.head == ("finally:",)]
    for c in final:
        body, after = _live_block(c.body, set(live))
        clauses.append(Clause(c.head, body, c.binds))
    normal, handled = set(after), set()
    for c in reversed([c for c in item.clauses if c.head != ("finally:",)]):
        body, top = _live_block(c.body, set(after))
        clauses.insert(0, Clause(c.head, body, c.binds))
        if c.head == ("else:",):
            normal = top
        else:
            handled |= top - set(c.binds)
    return Block(item.head, item.body, item.orelse, clauses, item.binds), (
        normal | handled | set(head_reads(item)) | {
            n for x in lines(item.body) for n in (
                head_reads(x) if isinstance(x, Block) else _reads(x.parts, x.binds))})


def text_of(parts) -> str:
    return "".join(p.name if isinstance(p, Ref) else p for p in parts)


def _drop_empty_comments(items: list) -> list:
    """A `# grad of:` comment followed by nothing of its own is dropped."""
    out = []
    for k, item in enumerate(items):
        if isinstance(item, Line) and item.comment and item.parts[0].startswith("# grad of"):
            nxt = items[k + 1] if k + 1 < len(items) else None
            if nxt is None or (isinstance(nxt, Line) and nxt.comment):
                continue
        out.append(item)
    return out
