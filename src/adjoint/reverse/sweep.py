"""sweep: the emitter of one function's sweeps for one plan, and its ledger of adjoints."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from .. import ir, rules
from ..analysis.activity import analyze
from ..analysis.contents import float_arrays, made_lists, param_copies
from ..analysis.kinds import array_dims, atom_kind, index_kinds, kinds
from ..analysis.plan import ENTRY, Plan, Save, run_once, stacks_apart
from ..analysis.terms import shapes_and_ints
from ..analysis.values import (
    _annotated,
    arrays,
    makes_container,
    masked,
    refuse_opaque_subscripts,
    returned,
    sequences,
)
from ..errors import UnsupportedSyntax
from ..ir import Assign, Line, Name, Ref
from ..naming import Namer
from ..normalize.syntax import one_line
from .assign import AssignAdjoint
from .compound import CompoundAdjoint
from .control import ControlAdjoint
from .forward import Forward
from .refs import RUNTIME, ShapeRef, module_aliases
from .writes import WriteAdjoint


def distinct_ranges(fn: ir.Function) -> set[str]:
    """Names bound once to np.arange(...) and read only as index items or operands of
    arithmetic: nothing can change their entries, which stay distinct."""
    once = Counter(n for s in ir.walk(fn.body) for n in ir.defs(s))
    found = {s.target for s in ir.walk(fn.body) if isinstance(s, Assign) and s.prim.kind ==
             "call" and s.prim.key is np.arange and once[s.target] == 1}
    for s in ir.walk(fn.body):
        read = ir.uses(s) & found
        if not read:
            continue
        if isinstance(s, Assign) and s.prim.kind == "call" and s.prim.key is np.arange:
            continue  # its own bounds
        safe = ir.names(s.index.atoms()) if getattr(s, "index", None) else set()
        if isinstance(s, Assign) and s.prim.kind in ("binop", "unary", "compare") and \
                not s.inplace:
            safe |= ir.names(s.args)
        if isinstance(s, ir.SetItem):
            safe -= {s.target} | ir.names([s.value])
        elif isinstance(s, Assign) and s.prim.kind == "index":
            safe -= ir.names(s.args)
        found -= read - safe
    return found


class Sweep(Forward, AssignAdjoint, WriteAdjoint, ControlAdjoint, CompoundAdjoint):
    """Emits the forward and reverse sweeps of one function for one plan."""

    def __init__(self, fn: ir.Function, wrt: list[str], namer: Namer, plan: Plan,
                 scalar_params, int_params=frozenset(), seq_params=frozenset(),
                 array_params=(frozenset(), frozenset()), dims: tuple = (), split: bool = False,
                 typed: bool = False, ndims: tuple = ()):
        self.fn, self.wrt, self.namer, self.plan = fn, wrt, namer, plan
        self.guards: dict[int, str] = {}  # id(q += v) -> the argument q may be
        act = analyze(fn, set(wrt))
        refuse_opaque_subscripts(fn, act)
        self.active = act.active | set(wrt)
        self.varied = act.varied | set(wrt)
        self.refuse_writers()
        known = (set(scalar_params) | _annotated(fn, float), set(int_params) | _annotated(
            fn, int), ndims)
        self.kinds = kinds(fn, *known)
        self.ndim_of = array_dims(fn, *known)  # the arrays of known dimensions
        self.seqs = sequences(fn, seq_params)
        self.displayed = made_lists(fn, seq_params)  # an array where NumPy reads one
        self.floats = float_arrays(fn, set(wrt))  # a value written in is never cast
        # names surely holding a list or tuple: made by a display, list(), tuple() or a call
        # of a user function (its results), or parameters known to (an unpacked name may
        # also hold an array: `a, b = y` takes its rows)
        self.made_seqs = set(seq_params) | {
            s.target for s in ir.walk(fn.body) if isinstance(s, Assign) and s.target and (
                makes_container(s) or s.adjoint is not None)}
        known, self.assumed = array_params  # parameters known to hold arrays; taken to
        self.arrays = arrays(fn, self.kinds, (known | self.assumed) - self.seqs)
        self.sure = arrays(fn, self.kinds, known - self.seqs) if self.assumed else self.arrays
        self.copies = param_copies(fn, set(known) - self.seqs)  # name -> the array it copies
        self.relied: set[str] = set()  # names whose adjoints add with + only if as taken
        # a split adjoint's seed may hold zeros its caller's selections put there (h(x)[0])
        self.masked = masked(fn, self.active, returned(fn) if split else frozenset())
        self.split = split
        self.typed = typed  # one type per variable: a loop's adjoints start as zeros of it
        # an array's rows have one shape, a list's items not: reads of rows rely on arrays
        self.relied |= {s.args[0].id for s in ir.walk(fn.body) if isinstance(s, Assign)
                        and s.prim.kind == "index" and isinstance(s.args[0], Name)
                        and s.args[0].id in (self.arrays - self.sure) & self.active}
        self.primal = {p.name for p in fn.params}
        for s in ir.walk(fn.body):
            self.primal |= ir.defs(s)
        self.shaped_facts(dims)
        assigned = set()
        for s in ir.walk(fn.body):
            assigned |= ir.defs(s) | ({s.target} if isinstance(s, ir.SetItem) else set())
        self.untouched = {p.name for p in fn.params} - assigned
        result = fn.body[-1].value
        if isinstance(result, Name) and result.id == fn.name:
            self.seed = namer.bar(result.id)
        else:
            self.seed = namer.cached(("seed", fn.name), f"{fn.name}_bar")
        self.defined: set[str] = set()
        self.owned: set[str] = set()
        self.zeroed: set[str] = set()
        self.from_uniform: str | None = None  # the target whose g stands for an array
        self.reads: dict[int, set] = defaultdict(set)
        self.value_reads: dict[int, set] = defaultdict(set)
        self.current: int | None = None
        self.stacks: dict[tuple[str, bool, bool], str] = {}  # (v, old, item) -> name
        self.mixed, self.items_apart = stacks_apart(fn, plan)
        self.once = run_once(fn)
        self.slots: set[str] = set()
        self.name_slots()
        self.dry = False
        self.modules = module_aliases(fn)

    def shaped_facts(self, dims: tuple) -> None:
        """The shape of each name (concrete where the code is specialized on the shapes of
        its arrays, `dims`), the ints known from those shapes, and the ranges of distinct
        entries (reverse/specialized.py)."""
        self.shape, self.ints = shapes_and_ints(
            self.fn, self.kinds, self.seqs | (self.primal - self.arrays), dims)
        self.specialized = bool(dims)  # on the shapes of its arrays: analysis/dims.py
        self.index_kind = index_kinds(self.fn, self.kinds)  # bools apart: x[True] adds an axis
        self.distinct = distinct_ranges(self.fn) if dims else set()

    def is_array(self, x: str) -> bool:
        """Whether x surely holds an array or a number (its adjoints add with +)."""
        if x in self.arrays and x not in self.sure:
            self.relied.add(x)
        return x in self.arrays

    def checked_params(self) -> list[str]:
        """The parameters taken to hold arrays that the emitted code depends on."""
        every = {p.name for p in self.fn.params if p.name in self.assumed}
        known = self.sure | every
        return [p.name for p in self.fn.params if p.name in every and self.relied - arrays(
            self.fn, self.kinds, known - {p.name} - self.seqs)]

    # ------------------------------------------------------------ emission helpers

    def bar(self, x: str) -> str:
        return self.namer.bar(x)

    def line(self, parts, binds=()) -> Line:
        if self.copies:  # a copy's shape is its parameter's: nothing kept for it
            parts = [ShapeRef(self.copies[p.name]) if type(p) is ShapeRef and p.name in
                     self.copies else p for p in parts]
        if self.current is not None:
            for p in parts:
                if isinstance(p, Ref) and p.name in self.primal and p.name not in binds:
                    self.reads[self.current].add(p.name)
                    if not isinstance(p, ShapeRef):
                        self.value_reads[self.current].add(p.name)
        return Line(tuple(parts), tuple(binds))

    def assign(self, name: str, parts) -> Line:
        return self.line((Ref(name), " = ", *parts), (name,))

    def name_slots(self) -> None:
        """The names that keep old values of statements run once, in the order the
        statements run (the reverse sweep asks for them last first)."""
        for s in ir.walk(self.fn.body):
            if id(s) in self.once:
                for v, mode in sorted(self.plan.saves.get(id(s), {}).items()):
                    if mode is Save.BEFORE:
                        self.slot(s, v)
                if id(s) in self.plan.slices and isinstance(s, ir.SetItem):
                    self.slot(s, s.target)

    def keep(self, s, v: str, value: ir.Parts) -> Line:
        """Keep `value` (v's old value, or the slice s overwrites) for the reverse sweep: in
        a name of its own where s runs once, else on v's stack."""
        if id(s) in self.once:
            return self.assign(self.slot(s, v), value)
        item = isinstance(s, ir.SetItem) and id(s) in self.plan.slices
        return self.line((Ref(self.stack(v, True, item)), ".append(", *value, ")"))

    def kept(self, s, v: str) -> ir.Parts:
        """What `keep` kept, where the reverse sweep takes it back."""
        if id(s) in self.once:
            return (Ref(self.slot(s, v)),)
        item = isinstance(s, ir.SetItem) and id(s) in self.plan.slices
        return (Ref(self.stack(v, True, item)), ".pop()")

    def slot(self, s, v: str) -> str:
        name = self.namer.cached_for(s, ("old", v), f"{v}_old")
        self.slots.add(name)  # bound where the reverse sweep reads it, as primal names are
        return name

    def stack(self, v: str, old: bool = False, item: bool = False) -> str:
        """The stack of v's values; old: of the values statements overwrite; item: of the
        items or slices of v writes into it overwrite."""
        item = item and v in self.items_apart
        old = old and (item or v in self.mixed)
        self.stacks[v, old, item] = self.namer.cached(
            ("stack", v, "item" if item else old),
            f"{v}_item_stack" if item else f"{v}_undo_stack" if old else f"{v}_stack")
        return self.stacks[v, old, item]

    def add(self, x: str, contrib, fresh: bool = False) -> list[Line]:
        """x_bar = contrib, or x_bar = x_bar + contrib when x_bar has a value."""
        xb = self.bar(x)
        if x not in self.defined:
            self.defined.add(x)
            # (a number standing for an array is never updated in place)
            fresh = fresh and ("uniform", x) not in self.zeroed
            (self.owned.add if fresh else self.owned.discard)(x)
            if tuple(contrib) == (Ref(xb),):  # x = x + ...: the adjoint passes through
                return []
            return [_noted(self.assign(xb, contrib), ("set", xb, contrib))]
        if x in self.seqs or not self.is_array(x):  # a list's adjoints add item by item
            return [self.assign(xb, (RUNTIME, ".add_seq(", Ref(xb), ", ", *contrib, ")"))]
        negated = rules.negation(contrib)
        term, sign = (contrib, "+") if negated is None else (negated, "-")
        if x in self.owned:  # an array this sweep made and nothing else holds: add in place
            line = self.line((Ref(xb), f" {sign}= ", *term), (xb,))
        else:
            if x not in self.zeroed or self.kinds.get(x) in ("scalar", "int"):
                self.owned.add(x)  # (an array's 0.0 + a contribution 0.0 too is the number)
            line = self.assign(xb, (Ref(xb), f" {sign} ", *term))  # x_bar - g, not + -g
        return [_noted(line, ("acc", xb, term))]

    def shared(self, parts) -> None:
        """A value that may be another adjoint itself (g, not g * w): neither may then be
        updated in place."""
        primal_of = self.namer.primals
        for p in parts:
            if isinstance(p, Ref) and p.name in primal_of:
                self.owned.discard(primal_of[p.name])

    def own(self, x: str) -> list[Line]:
        """Make x_bar an array this sweep may update in place."""
        if x not in self.defined:
            self.defined.add(x)
            self.owned.add(x)
            return [self.zeros(x)]
        if x not in self.owned:
            self.owned.add(x)
            return [self.assign(self.bar(x), (RUNTIME, ".owned(", Ref(self.bar(x)), ", ",
                                              ShapeRef(x), ")"))]
        return []

    def zeros(self, x: str) -> Line:
        """x_bar = zeros shaped like x (noted, so fill.py may make it room to fill)."""
        line = self.assign(self.bar(x), (RUNTIME, ".zeros_like(", ShapeRef(x), ")"))
        line.note = ("zeros", self.bar(x), x)
        return line

    def zero(self, x: str, bound: bool = False) -> Line:
        """x_bar = 0: zeros shaped like x for an untouched parameter (or, in code giving each
        variable one type, for what may hold an array, where x is bound: before a loop, or
        on a way through a branch), else 0.0, a zero of any shape (densified before it is
        returned)."""
        self.defined.add(x)
        self.owned.discard(x)
        if x in self.untouched or (bound and self.typed and
                                   self.kind(Name(x)) not in ("int", "scalar")):
            self.owned.add(x)
            return self.zeros(x)
        self.zeroed.add(x)
        return self.assign(self.bar(x), ("0.0",))

    def is_active(self, a) -> bool:
        return isinstance(a, Name) and a.id in self.active

    def kind(self, a) -> str | None:
        return atom_kind(a, self.kinds)

    def error(self, s, msg: str, cls=UnsupportedSyntax) -> Exception:
        node = getattr(s, "node", None) or (s.origin.node if s.origin else
                                            self.fn.source.funcdef)
        return self.fn.source.error(node, msg, cls)

    # ------------------------------------------------------------ forward sweep

    # ------------------------------------------------------------ reverse sweep

    def backward(self, dry: bool = False) -> list:
        self.dry = dry
        self.defined, self.owned, self.zeroed = set(), set(), set()
        result = self.fn.body[-1].value
        out: list = []
        if isinstance(result, Name) and result.id in self.active:
            self.defined.add(result.id)
            if not self.split and any(
                    isinstance(s, ir.Assign) and s.target == result.id and (
                        s.prim.kind in ("tuple", "list") or s.adjoint is not None)
                    for s in ir.walk(self.fn.body)):
                # the user's seed of a tuple may hold 0.0 for an item: has_aux passes
                # (1.0, 0.0), whatever the data (a split adjoint's callers pass real zeros)
                self.zeroed.add(("items", result.id))
            if self.bar(result.id) != self.seed:
                out.append(self.assign(self.bar(result.id), (Ref(self.seed),)))
        out += self.block(self.fn.body[:-1], pops_for=self.fn.body)
        if dry:
            self.epilogue()  # records that it reads the arguments as they came in
        return out

    def epilogue(self) -> list[Line]:
        """Gradients with the type and shape of their argument."""
        self.current = ENTRY
        out = []
        for w in self.wrt:
            if w not in self.defined and w not in self.seqs:
                out.append(self.assign(self.bar(w), (RUNTIME, ".zeros_like(", ShapeRef(w),
                                                     ")")))
            elif w not in self.defined:
                out.append(self.assign(self.bar(w), (RUNTIME, ".densify(0.0, ", ShapeRef(w),
                                                     ")")))
            elif (w in self.zeroed and self.kinds.get(w) not in ("scalar", "int")) or \
                    w in self.seqs:  # a number's zero is 0.0 already
                out.append(self.assign(self.bar(w), (RUNTIME, ".densify(", Ref(self.bar(w)),
                                                     ", ", ShapeRef(w), ")")))
        return out

    def block(self, body: list, pops_for: list | None = None, origin=None) -> list:
        out: list = []
        for s in (pops_for if pops_for is not None else body):
            for v, mode in sorted(self.plan.saves.get(id(s), {}).items()):
                self.current = id(s)
                if mode is Save.AFTER:
                    out.append(self.assign(v, (Ref(self.stack(v)), ".pop()")))
                elif mode is Save.RECOMPUTE:
                    out.extend(self.forward_stmt(s))
        last_origin = origin
        for s in reversed(body):
            self.current = id(s)
            lines = self.stmt(s)
            lines += self.restores(s)
            if lines:  # (lines that open with a comment of their own need no header)
                if s.origin is not None and s.origin is not last_origin and not (
                        isinstance(lines[0], Line) and lines[0].comment):
                    out.append(Line((f"# grad of: {one_line(s.origin.text)}",),
                                    comment=True))
                    last_origin = s.origin
                out.extend(lines)
        return out

    def restores(self, s) -> list[Line]:
        out = []
        if isinstance(s, Assign) and s.target in ir.names(s.args):
            return out  # restored before its contributions (see assign_adjoint)
        for v, mode in sorted(self.plan.saves.get(id(s), {}).items()):
            if mode is Save.BEFORE:
                out.append(self.restore_line(s, v))
        if id(s) in self.plan.slices and isinstance(s, ir.Append):
            out.append(self.line((Ref(s.target), ".pop()")))
        elif id(s) in self.plan.slices and self.keyed(s):
            out.append(self.line((RUNTIME, ".put_entry(", Ref(s.target), ", ",
                                  *ir.index_parts(s.index), ", ", *self.kept(s, s.target),
                                  ")")))
        elif id(s) in self.plan.slices:
            out.append(self.line((Ref(s.target), "[", *ir.index_parts(s.index), "] = ",
                                  *self.kept(s, s.target))))
        return out

    def stmt(self, s) -> list:
        if isinstance(s, Assign):
            return self.assign_adjoint(s)
        if isinstance(s, ir.SetItem):
            return self.setitem_adjoint(s)
        if isinstance(s, ir.Append):
            return self.append_adjoint(s)
        if isinstance(s, ir.Unpack):
            return self.unpack_adjoint(s)
        if isinstance(s, ir.If):
            return self.if_adjoint(s)
        if isinstance(s, (ir.For, ir.While)):
            return self.loop_adjoint(s)
        if isinstance(s, ir.Try):
            return self.try_adjoint(s)
        if isinstance(s, ir.With):
            return self.with_adjoint(s)
        if isinstance(s, (ir.Break, ir.Continue)):
            return []
        if isinstance(s, ir.Return):
            raise self.error(s, "a return inside a block is not supported")
        raise self.error(s, f"cannot differentiate {type(s).__name__}")

    # ---- simple statements

    # ---- compound statements

    def snapshot(self):
        return set(self.defined), set(self.owned), set(self.zeroed)

    def restore_state(self, state) -> None:
        self.defined, self.owned, self.zeroed = set(state[0]), set(state[1]), set(state[2])


def _noted(line: Line, note: tuple) -> Line:
    """line, noting what it makes of an adjoint: ('set', x_bar, parts) for its first value,
    ('acc', x_bar, parts) for a term added (or subtracted) in (reverse/batched.py)."""
    line.note = note
    return line
