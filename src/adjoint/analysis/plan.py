"""plan: what the forward sweep keeps for the reverse sweep (renames, stacks, recomputation)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum

from .. import ir
from ..ir import Assign, Const, For, If, SetItem, Unpack, While
from .memo import per_version
from .memory import aliases
from .values import is_user_function, stateful

ENTRY = 0  # in reads: what the reverse sweep reads of the function's entry (no statement)


@dataclass
class Place:
    pos: int
    end: int
    loops: tuple  # ids of enclosing loops, outermost first
    block: int  # id of the list the statement sits in
    top: bool  # directly in the function body (or in a with there)
    arms: tuple = ()  # (id of an enclosing if, 0 for its body or 1 for its else)


class Save(str, Enum):
    """How the reverse sweep gets back a value a statement overwrites."""

    BEFORE = "before"  # pushed before the statement, popped back after its adjoint
    AFTER = "after"  # pushed after it, popped at the top of its reversed block
    RECOMPUTE = "recompute"  # computed again at the top of its reversed block


@dataclass
class Plan:
    """What the forward sweep keeps for the reverse sweep.

    renames: top-level redefinitions given a fresh name (a new version);
    saves: id(statement) -> {name: Save}: push the old value
        before the statement overwrites it (pop after its adjoint); push the new value after
        the statement (pop at the top of its reversed block); or compute it again there;
    slices: ids of `y[i] = v` statements whose overwritten slice is pushed;
    preinit: names to bind to None at the start, so a first push has a value.
    """

    renames: dict = field(default_factory=dict)  # id(stmt) -> {old: new}
    saves: dict = field(default_factory=dict)
    slices: set = field(default_factory=set)
    preinit: set = field(default_factory=set)


@per_version
def places(fn: ir.Function) -> dict[int, Place]:
    out: dict[int, Place] = {}
    counter = [0]

    def block(stmts: list, loops: tuple, top: bool, arms: tuple) -> None:
        for s in stmts:
            counter[0] += 1
            pos = counter[0]
            inner = loops + (id(s),) if isinstance(s, (For, While)) else loops
            for k, b in enumerate(ir.blocks(s)):
                # a with's body runs whole, as straight code around it does
                block(b, inner, top and isinstance(s, ir.With),
                      arms + ((id(s), k),) if isinstance(s, If) else arms)
            out[id(s)] = Place(pos, counter[0], loops, id(stmts), top, arms)

    block(fn.body, (), True, ())
    return out


@per_version
def run_once(fn: ir.Function) -> frozenset[int]:
    """The ids of the statements that run at most once a call: in no loop, and in no try
    body (whose handler cuts the stacks back to where the try began)."""
    out: set[int] = set()

    def block(stmts: list) -> None:
        for s in stmts:
            out.add(id(s))
            if not isinstance(s, (For, While, ir.Try)):
                for b in ir.blocks(s):
                    block(b)

    block(fn.body)
    return frozenset(out)


def exclusive(a: Place, b: Place) -> bool:
    """Whether two statements lie in different arms of one if: one never runs after the
    other (within a trip of any loop around that if)."""
    arms = dict(a.arms)
    return any(arms.get(i, k) != k for i, k in b.arms)


def to_be_recorded(fn: ir.Function, reads: dict[int, set], value_reads: dict[int, set],
                   stmts: dict[int, ir.Stmt], kind: dict[str, str] | None = None) -> Plan:
    """Which overwritten values the reverse sweep needs, from what each statement's adjoint
    reads (`reads`: id(stmt) -> names; `value_reads`: the subset read for their values)."""
    where = places(fn)
    where[ENTRY] = Place(0, 0, (), id(fn.body), True)
    plan = Plan()
    read_at = _read_positions(reads, value_reads, stmts, where)
    defs_of: dict[str, list] = defaultdict(list)
    for s in ir.walk(fn.body):
        for n in ir.defs(s):
            defs_of[n].append(s)
    for name, found in read_at.items():
        for d in defs_of.get(name, ()):
            _record_definition(fn, plan, where, name, d, found, defs_of)
    choose_recompute(fn, plan, where, kind or {})
    _record_changes(fn, plan, where, read_at, defs_of)
    return plan


def _read_positions(reads: dict, value_reads: dict, stmts: dict, where: dict) -> dict:
    """name -> [(position, statement id, read for its value)]: a compound statement's
    adjoint reads at its end (it runs first)."""
    read_at: dict[str, list] = defaultdict(list)
    for sid, names in reads.items():
        s, pl = stmts.get(sid), where[sid]
        for n in names:
            if sid == ENTRY:  # the arguments as they came in
                pos = 0
            elif isinstance(s, (If, For, While, ir.Try, ir.With)):
                pos = pl.end + 0.5
            elif n in ir.defs(s):  # the statement's own result (ans), or its old value
                pos = pl.pos - 0.5 if n in ir.uses(s) else pl.pos + 0.5
            else:
                pos = pl.pos
            read_at[n].append((pos, sid, n in value_reads.get(sid, ())))
    return read_at


def _shares_loop(where: dict, a: int, b: int) -> bool:
    return bool(set(where[a].loops) & set(where[b].loops))


def _record_definition(fn: ir.Function, plan: Plan, where: dict, name: str, d, found: list,
                       defs_of: dict) -> None:
    """How the reverse sweep gets back the value `d` gives `name`, if a read needs it: a
    top-level redefinition is renamed; in a loop the value is pushed after d (when every
    read sees d's latest value) or the old one before it."""
    dp = where[id(d)]
    relevant = [(p, sid) for p, sid, _ in found
                if not (isinstance(d, For) and name == d.target and id(d) in where[sid].loops)
                and (_shares_loop(where, sid, id(d)) or not exclusive(where[sid], dp))]
    if not any(p < dp.pos or _shares_loop(where, sid, id(d)) for p, sid in relevant):
        return
    params = {p.name for p in fn.params}
    if not dp.loops:
        if dp.top and isinstance(d, (Assign, Unpack)) and not getattr(d, "inplace", False):
            plan.renames.setdefault(id(d), {})[name] = None
        else:
            plan.saves.setdefault(id(d), {})[name] = Save.BEFORE
            if name not in params and not _defined_before(fn, name, where, id(d)):
                plan.preinit.add(name)  # a path may reach d with name unbound
        return
    loop = dp.loops[-1]
    in_loop_defs = [x for x in defs_of[name] if loop in where[id(x)].loops]
    after = (
        len(in_loop_defs) == 1 and not isinstance(d, For)
        and not getattr(d, "inplace", False)
        and all(
            (p > dp.pos and _within_block(where, sid, d, dp))
            # past the loop, but not inside an outer one: the pops of a later trip
            # of the outer loop would have run before this read is reversed
            or (p > where[loop].end and not _shares_loop(where, sid, id(d)))
            for p, sid in relevant)
    )
    if after:
        plan.saves.setdefault(id(d), {})[name] = Save.AFTER
    else:
        plan.saves.setdefault(id(d), {})[name] = Save.BEFORE
        if name not in params and not _defined_before(fn, name, where, dp.loops[0]):
            plan.preinit.add(name)


def _record_changes(fn: ir.Function, plan: Plan, where: dict, read_at: dict,
                    defs_of: dict) -> None:
    """In-place changes whose old contents a read needs: `v += c` on an array changes what
    shares its memory too (keep v's old values when another name for that memory is read
    before); `y[i] = v` keeps the overwritten slice (an append is undone by popping). The
    undoing writes into what the name holds then, so a later rebinding of the name is
    recorded as a read would make it (`v += c; v, w = w, v`)."""
    classes = aliases(fn)

    def undone_into(s) -> None:
        found = [*read_at.get(s.target, ()), (where[id(s)].pos - 0.5, id(s), True)]
        for d in defs_of.get(s.target, ()):
            if d is not s:
                before = plan.saves.get(id(d), {}).get(s.target) is Save.BEFORE
                _record_definition(fn, plan, where, s.target, d, found, defs_of)
                if before:  # kept for every read already
                    plan.saves[id(d)][s.target] = Save.BEFORE

    def read_before(member: str, sid_: int, sp: Place) -> bool:
        return any(is_value and (p < sp.pos or _shares_loop(where, sid, sid_))
                   for p, sid, is_value in read_at.get(member, ()))

    for s in ir.walk(fn.body):
        if isinstance(s, Assign) and s.inplace and s.target:
            if any(read_before(m, id(s), where[id(s)])
                   for m in classes.members(s.target) - {s.target}):
                plan.saves.setdefault(id(s), {})[s.target] = Save.BEFORE
                undone_into(s)
        elif isinstance(s, (SetItem, ir.Append)):
            # appending changes only the list's length: only reads of the list itself matter
            members = {s.target} if isinstance(s, ir.Append) else classes.members(s.target)
            if any(read_before(m, id(s), where[id(s)]) for m in members):
                plan.slices.add(id(s))
                undone_into(s)


CHEAP_CALLS = {len, abs, float}


def _draws(d) -> bool:
    """Whether d calls what may give another value with the same arguments: a draw from a
    random generator, a function of the user's or one held in a value."""
    return isinstance(d, Assign) and d.prim.kind in ("call", "method") and (
        d.prim.key is None or d.prim.key is ir.DYNAMIC or stateful(d.prim.key)
        or is_user_function(d.prim.key))


def cheap(d, kind: dict[str, str]) -> bool:
    """Whether computing `d` again costs less than keeping its value on a stack: an index,
    an attribute, integer or scalar arithmetic, a math function of a scalar."""
    if _draws(d):
        return False
    p = d.prim
    scalar = kind.get(d.target) in ("int", "scalar")
    return p.kind in ("index", "attr", "copy", "compare") or (
        p.kind in ("binop", "unary") and scalar) or (
        p.kind == "call" and scalar and (p.key in CHEAP_CALLS or getattr(
            p.key, "__module__", None) == "math"))


def choose_recompute(fn: ir.Function, plan: Plan, where: dict, kind: dict[str, str]) -> None:
    """Turn 'after' saves of cheap values into recomputation at the top of the reversed
    block, where each input still holds the value it had: a loop counter, a name no loop
    changes, or a name defined once earlier in the same block and itself kept or recomputed
    (its restore comes later in the reversed block)."""
    stmts = {id(s): s for s in ir.walk(fn.body)}
    classes = aliases(fn)
    mutated: set = set()
    for s in ir.walk(fn.body):
        if isinstance(s, (SetItem, ir.Append)):
            mutated |= classes.members(s.target)
        elif isinstance(s, Assign) and s.prim.kind == "setattr":  # obj.n = ...: obj changes
            mutated |= {m for n in s.prim.key for m in classes.members(n)}
        # a module-level object read here may change through any call (its methods, a
        # helper): what is read of it is kept, never taken to hold still or read again
        mutated |= _objects_read(s)
    definitions: dict[str, int] = {}
    for s in ir.walk(fn.body):
        for n in ir.defs(s):
            definitions[n] = definitions.get(n, 0) + 1
    # a value no trip changes needs no record, when only its new value is read (the value
    # before the loop may differ)
    for sid, saves in plan.saves.items():
        d = stmts[sid]
        if isinstance(d, Assign) and d.adjoint is None and not d.inplace \
                and saves.get(d.target) is Save.AFTER \
                and definitions[d.target] == 1 and d.target not in mutated \
                and _invariant(d, stmts, where, mutated):
            del saves[d.target]
    changed = True
    while changed:
        changed = False
        for sid, saves in plan.saves.items():
            d = stmts[sid]
            if isinstance(d, Assign) and d.adjoint is None and saves.get(d.target) is Save.AFTER \
                    and cheap(d, kind) and all(_available(u, d, stmts, where, plan, mutated)
                                               for u in _reads(d)):
                saves[d.target] = Save.RECOMPUTE
                changed = True


def _reads(d) -> set[str]:
    """The names d reads, and the module-level objects whose attributes, methods or items it
    reads (held as constants, by the name they are read by): their state may change."""
    return ir.uses(d) | _objects_read(d)


def _objects_read(d) -> set[str]:
    if isinstance(d, Assign) and d.prim.kind in ("attr", "method", "index"):
        return {a.text for a in d.args[:1] if isinstance(a, Const)}
    return set()


def _invariant(d, stmts: dict, where: dict, mutated: set) -> bool:
    """Whether d computes the same value on every trip of the loops around it: nothing it
    reads is written inside them (not even a loop counter)."""
    loops = [stmts[x] for x in where[id(d)].loops]
    if not loops or _draws(d):
        return False
    written = set()
    for x in ir.walk(loops[:1]):
        written |= ir.defs(x)
    return not (_reads(d) & (written | mutated))


def _available(u: str, d, stmts: dict, where: dict, plan: Plan, mutated: set) -> bool:
    """Whether name `u` holds, at the top of d's reversed block, the value d read."""
    dp = where[id(d)]
    loops = [stmts[x] for x in dp.loops]
    if any(isinstance(x, For) and x.target == u for x in loops):
        return True
    written = set()
    for x in ir.walk(loops[:1]):
        written |= ir.defs(x)
    if u not in written and u not in mutated:
        return True
    defs = [x for x in ir.walk(loops[-1:]) if u in ir.defs(x)]
    if len(defs) != 1 or u in mutated:
        return False
    up = where[id(defs[0])]
    return up.block == dp.block and up.pos < dp.pos and bool(
        plan.saves.get(id(defs[0]), {}).get(u))


def _within_block(where: dict, sid: int, d, dp: Place) -> bool:
    """Whether statement `sid` sits in the same block as `d`, or nested inside it."""
    sp = where[sid]
    if sp.block == dp.block:
        return True
    # nested: some statement of d's block after d contains sid
    return sp.pos > dp.pos and any(
        where[x].block == dp.block and where[x].pos <= sp.pos <= where[x].end
        for x in where if where[x].pos > dp.pos)


def _defined_before(fn: ir.Function, name: str, where: dict, loop_id: int) -> bool:
    """Whether `name` surely has a value when the statement (often a loop) `loop_id` starts:
    bound by a statement that runs before it in the same block or in an enclosing one."""

    def search(body: list) -> bool | None:
        for k, s in enumerate(body):
            before = any(name in ir.defs(x) for x in body[:k])
            if id(s) == loop_id:
                return before
            for block in ir.blocks(s):
                found = search(block)
                if found is not None:
                    return found or before
        return None

    return bool(search(fn.body))


def stacks_apart(fn: ir.Function, plan: Plan) -> tuple[set[str], set[str]]:
    """(mixed, items apart): names whose values are pushed both after statements (popped at
    the top of the reverse block) and before in-place changes (popped where the change is
    undone), and names written into item by item (their old items pushed) that other saves
    push whole. Each kind goes on a stack of its own, so each is popped in push order, and
    a stack holds values of one type (numba types each)."""
    after = {v for saves in plan.saves.values() for v, m in saves.items() if m is Save.AFTER}
    before = {v for saves in plan.saves.values() for v, m in saves.items() if m is Save.BEFORE}
    sliced = {s.target for s in ir.walk(fn.body) if id(s) in plan.slices}
    items = {s.target for s in ir.walk(fn.body)
             if id(s) in plan.slices and isinstance(s, ir.SetItem)}
    return after & (before | sliced), items & (before | after)
