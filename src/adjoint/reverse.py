"""reverse: the adjoint function, a forward sweep then a reverse sweep.

The forward sweep is the primal, statement for statement, plus what the reverse
sweep needs kept (activity.to_be_recorded): stacks for values overwritten in
loops. The reverse sweep walks the statements backwards. For each active
statement it looks up the rule, fills in its formulas and adds each
contribution to the adjoint of the input: the first contribution defines the
adjoint (`x_bar = ...`), later ones add out of place (`x_bar = x_bar + ...`).
Loops run reversed over their recorded range or trip count; branches replay
their recorded test. Before a loop, adjoints it accumulates start from zero.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import operator
import re
import types
from collections import defaultdict
from dataclasses import replace

import numpy as np

from . import activity, ir, optimize, rules
from . import parse as parse_
from .errors import MissingRule, UnsupportedSyntax
from .ir import Assign, Block, Const, Line, Name, Ref
from .naming import Namer

RUNTIME = "runtime"


class ShapeRef(Ref):
    """A variable read only for its shape (unbroadcast, zeros_like): in-place writes that
    keep the shape do not need to save it."""


class AnsRef(Ref):
    """The result of the statement a rule differentiates (`ans` in its formula), apart from
    an argument of the same name: in `x = np.hypot(x, 2.0)` the formula reads both."""


def reverse(fn: ir.Function, wrt: list[str], namer: Namer, *, mode: str = "grad",
            as_tuple: bool | None = None, scalar_params: set[str] = frozenset(),
            int_params: set[str] = frozenset(), program=None,
            names: tuple[str, ...] = (), seq_params: set[str] = frozenset(),
            array_params: set[str] = frozenset(),
            assume_arrays: bool = False) -> list[ir.Emitted]:
    """The emitted adjoint of `fn` with respect to the parameters `wrt`.

    mode 'grad': one function running both sweeps and returning the gradients; 'value': the
    same, returning (value, gradients); 'split' (for functions the differentiated code calls):
    `<f>_fwd`, the primal returning (result, saved values), and `<f>_bwd(saved, seed)`,
    the reverse sweep. `program` compiles the user functions `fn` calls (api.Program).
    `assume_arrays`: code for no call in particular takes the parameters it does not use as
    lists to hold arrays or numbers, and checks that they do when it runs."""
    activity.check_writes(fn)

    def kinds_of(fn: ir.Function) -> dict[str, str]:
        return activity.kinds(fn, set(scalar_params) | _annotated(fn, float),
                              set(int_params) | _annotated(fn, int))

    assumed: tuple[str, ...] = ()
    if assume_arrays:  # parameters of no known kind that the code does not use as lists
        seqs = sequences(fn, seq_params)
        assumed = tuple(p.name for p in fn.params if p.name not in seqs
                        and p.name not in array_params and kinds_of(fn).get(p.name) is None)
    relied = link_calls(fn, wrt, namer, program, kinds_of(fn), seq_params,
                        (set(array_params), set(assumed)))
    # what to record: from what a dry reverse sweep reads, again until the reads of what is
    # recorded (restores, recomputations) ask for nothing more
    plan, mutated, guards = activity.Plan(), None, {}
    for _ in range(8):
        sweep = Sweep(fn, wrt, namer, plan, scalar_params, int_params, seq_params,
                      (set(array_params), set(assumed)))
        sweep.backward(dry=True)
        index = {id(s): s for s in ir.walk(fn.body)}
        new = activity.to_be_recorded(fn, sweep.reads, sweep.value_reads, index, sweep.kinds)
        if new.renames:
            fn = apply_renames(fn, new.renames, namer)
            plan, mutated = activity.Plan(), None
            continue
        if mutated is None:  # `q += v` on a number rebinds q: the caller's q is unchanged
            numbers = {n for n, k in kinds_of(fn).items() if k in ("scalar", "int")}
            mutated = {p: found for p, stmts in activity.mutated_params(fn).items()
                       if (found := [s for s in stmts if not (
                           isinstance(s, Assign) and s.target in numbers)])}
            if mutated and mode == "split":
                for param, stmts in mutated.items():
                    for s in stmts:
                        if not isinstance(s, Assign):  # an item write: surely in place
                            raise fn.source.error(
                                s.origin.node if s.origin else fn.source.funcdef,
                                f"{fn.name} changes its argument {param} in place; a function "
                                "called by differentiated code must return new values instead")
                # `q += v` of an argument that may be a number: checked when it runs
                guards = {id(s): param for param, stmts in mutated.items() for s in stmts}
                mutated = {}
        for stmts in mutated.values():  # the reverse sweep undoes every change to an argument
            for s in stmts:
                if isinstance(s, Assign):
                    new.saves.setdefault(id(s), {})[s.target] = "before"
                else:
                    new.slices.add(id(s))
        if new == plan:
            break
        plan = new
    sweep = Sweep(fn, wrt, namer, plan, scalar_params, int_params, seq_params,
                  (set(array_params), set(assumed)))
    sweep.guards = guards
    sweep.relied |= relied
    backward = sweep.backward()
    forward = sweep.forward_sweep()
    grads = tuple(namer.bar(w) for w in wrt)
    as_tuple = len(grads) > 1 if as_tuple is None else as_tuple
    returned = ir.join([(Ref(r),) for r in grads])
    if as_tuple and len(grads) == 1:
        returned = (*returned, ",")
    result = fn.body[-1].value
    if mode == "split":
        return split(fn, sweep, forward, backward, returned, names)
    check = []
    if isinstance(result, Name):
        check = [Line((Ref(sweep.seed), " = ", RUNTIME, ".check_seed(", Ref(result.id), ", ",
                       Ref(sweep.seed), f", {fn.name!r})"), (sweep.seed,))]
    after = {p: namer.cached(("after", p), f"{p}_after") for p in sorted(mutated)}
    keep = [Line((Ref(a), " = ", RUNTIME, ".snapshot(", Ref(p), ")"), (a,))
            for p, a in after.items()]
    reapply = [Line((RUNTIME, ".refill(", Ref(p), ", ", Ref(a), ")")) for p, a in after.items()]
    value = result
    if mode == "value" and (held := value_kept(fn, plan, namer)):
        value = Name(held[0])
        keep.append(Line((Ref(held[0]), " = ", *held[1]), (held[0],)))
    body = [Line(("# forward",), comment=True), *sweep.prologue(), *forward, *check, *keep,
            Line(("# backward",), comment=True), *backward, *sweep.epilogue(), *reapply]
    if mode == "value":
        returned = (*ir.atom_parts(value), ", ", *(("(", *returned, ")") if as_tuple
                                                  else returned))
    body.append(Line(("return ", *returned)))
    params = format_params(fn.params, sweep.seed)
    name = names[0] if names else namer.fresh(
        ("value_and_grad_" if mode == "value" else "grad_") + fn.name)
    return [ir.Emitted(name, params, body, primal=frozenset(sweep.primal))]


def value_kept(fn: ir.Function, plan: activity.Plan, namer: Namer):
    """(name, parts) binding the result before the reverse sweep when the sweep restores it,
    by name or in place (a copy then); None when it leaves the result as it is."""
    result = fn.body[-1].value
    if not isinstance(result, Name):
        return None
    members = activity.aliases(fn).members(result.id)
    stmts = {id(s): s for s in ir.walk(fn.body)}
    in_place = any(stmts[sid].target in members for sid in plan.slices)
    if not in_place and not any(result.id in saves for saves in plan.saves.values()):
        return None
    name = namer.fresh(f"{result.id}_value")
    if in_place:
        return name, (RUNTIME, ".snapshot(", Ref(result.id), ")")
    return name, (Ref(result.id),)


def split(fn: ir.Function, sweep: Sweep, forward: list, backward: list, returned,
          names: tuple[str, str]) -> list[ir.Emitted]:
    """`f_fwd` returns the result and what the reverse sweep reads; `f_bwd` takes them back."""
    bound = {p.name for p in fn.params}
    for item in optimize.lines(sweep.prologue() + forward):
        if isinstance(item, Line):
            bound |= set(item.binds)
        elif item.head[:1] == ("for ",):
            bound.add(item.head[1].name)
    saved = sorted({r for item in optimize.lines(backward + sweep.epilogue())
                    for r in ir.refs(item.head if isinstance(item, Block) else item.parts)
                    if r in bound})
    result = fn.body[-1].value
    pack = ("(", *ir.join([(Ref(n),) for n in saved]), ",)" if len(saved) == 1 else ")")
    maybe = sorted(set(saved) - definitely_bound(sweep.prologue() + forward, {
        p.name for p in fn.params}))
    fwd_body = [Line(("# forward",), comment=True),
                *[Line((Ref(n), " = None"), (n,)) for n in maybe], *sweep.prologue(), *forward,
                Line(("return ", *ir.atom_parts(result), ", ", *pack))]
    saved_name = sweep.namer.cached("saved", "saved")
    unpack = [Line((*ir.join([(Ref(n),) for n in saved]), "," if len(saved) == 1 else "",
                    " = ", Ref(saved_name)), tuple(saved))] if saved else []
    bwd_body = [*unpack, Line(("# backward",), comment=True), *backward, *sweep.epilogue(),
                Line(("return ", *returned))]
    fwd_params = format_params(fn.params, None)
    fwd = ir.Emitted(names[0], fwd_params, fwd_body, primal=frozenset(sweep.primal))
    fwd.result_kind = sweep.kinds.get(result.id) if isinstance(result, Name) else None
    if fwd.result_kind is None and isinstance(result, Name) and result.id in sweep.arrays \
            and result.id not in sweep.seqs:
        fwd.result_kind = "array"  # not a list: its adjoints add with +
    return [fwd, ir.Emitted(names[1], f"{saved_name}, {sweep.seed}", bwd_body,
                            primal=frozenset(sweep.primal))]


def definitely_bound(items: list, bound: set) -> set:
    """Names surely bound after running `items` (both branches of an if; a loop may not run)."""
    bound = set(bound)
    for item in items:
        if isinstance(item, Line):
            bound |= set(item.binds)
        elif item.orelse and not item.head[0].startswith(("for", "while")):
            bound |= definitely_bound(item.body, bound) & definitely_bound(item.orelse, bound)
    return bound


def kind_of(a, kinds: dict) -> str | None:
    if isinstance(a, Const):
        return "int" if type(a.value) is int else ("scalar" if type(a.value) is float else None)
    return kinds.get(a.id) if isinstance(a, Name) else None


def link_calls(fn: ir.Function, wrt: list[str], namer: Namer, program,
               kinds: dict | None = None, seq_params=frozenset(),
               array_params=(frozenset(), frozenset())) -> set[str]:
    """Point each call of a user function with active arguments at its emitted adjoint: the
    forward sweep calls `f_fwd` and keeps what it returns for `f_bwd`. Calls of functions
    defined inside this one, with nothing to differentiate, call their lifted primal. The
    callee is specialized on the arguments known to be numbers, ints, lists and arrays
    (`array_params`: the parameters known to hold arrays, and those taken to); returns the
    names passed as arrays only because a parameter is taken to hold one."""
    kinds = kinds or {}
    seqs = sequences(fn, seq_params)
    known, assumed = array_params
    arrs = arrays(fn, kinds, (known | assumed) - seqs)
    sure = arrays(fn, kinds, known - seqs) if assumed else arrs
    relied: set[str] = set()
    active = activity.analyze(fn, set(wrt)).active | set(wrt)
    for s in ir.walk(fn.body):
        if not (isinstance(s, Assign) and s.prim.kind == "call" and is_user_function(s.prim.key)):
            continue
        positions = tuple(k for k, a in enumerate(s.args) if isinstance(a, Name)
                          and a.id in active)
        keywords = tuple(k for k, a in s.kwargs if isinstance(a, Name) and a.id in active)
        if s.target not in active or not (positions or keywords):
            if isinstance(s.prim.key, parse_.Nested):
                s.prim = ir.Prim("call", s.prim.key, program.primal(s.prim.key))
            continue
        if program is None:
            raise fn.source.error(s.node, "calls of your own functions cannot be "
                                  "differentiated here", MissingRule)
        params = program.params(s.prim.key)[:len(s.args)]
        if len(params) < len(s.args):
            raise fn.source.error(s.node, f"{s.prim.spelling} is called with {len(s.args)} "
                                  f"positional arguments but has {len(params)} parameters "
                                  "(*args is not supported)")
        passed = [*zip(params, s.args, strict=True), *s.kwargs]
        bindings = {k: a.value for k, a in passed if isinstance(a, Const) and callable(a.value)}
        scalars = tuple(k for k, a in passed if kind_of(a, kinds) == "scalar")
        ints = tuple(k for k, a in passed if kind_of(a, kinds) == "int")
        lists = tuple(k for k, a in passed if isinstance(a, Name) and a.id in seqs)
        arrays_ = tuple(k for k, a in passed if isinstance(a, Name) and a.id in arrs
                        and kind_of(a, kinds) is None)
        relied |= {a.id for _, a in passed if isinstance(a, Name) and a.id in arrs - sure}
        fwd, bwd, result = program.split(s.prim.key, positions, keywords, set(namer.taken),
                                         bindings, (scalars, ints, lists, arrays_))
        short = s.prim.spelling.split(".")[-1]
        s.tape = namer.cached(("tape", id(s)), f"{short}_saved")
        s.adjoint = (fwd, bwd, positions, keywords, result)
    return relied


def format_params(params: list[ir.Param], seed: str | None) -> str:
    out, star = [], False
    for p in params:
        if p.kind == "keyword" and not star:
            out.append("*")
            star = True
        out.append(p.name if p.default is None else f"{p.name}={p.default}")
    if seed is not None:
        out.append(f"{seed}=1.0")
    return ", ".join(out)


def apply_renames(fn: ir.Function, renames: dict, namer: Namer) -> ir.Function:
    """Give each top-level redefinition in `renames` a fresh name from there on."""
    body = list(fn.body)
    for k, s in enumerate(body):
        for old in renames.get(id(s), {}):
            new = namer.fresh(old)
            if isinstance(s, Assign):
                body[k] = s = replace(s, target=new)
            else:
                body[k] = s = replace(s, targets=tuple(new if t == old else t
                                                       for t in s.targets))
            body[k + 1:] = ir.rename(body[k + 1:], {old: new})
    out = ir.Function(fn.name, fn.params, body, fn.source)
    out.globals = fn.globals
    return out


class Sweep:
    """Emits the forward and reverse sweeps of one function for one plan."""

    def __init__(self, fn: ir.Function, wrt: list[str], namer: Namer, plan: activity.Plan,
                 scalar_params, int_params=frozenset(), seq_params=frozenset(),
                 array_params=(frozenset(), frozenset())):
        self.fn, self.wrt, self.namer, self.plan = fn, wrt, namer, plan
        self.guards: dict[int, str] = {}  # id(q += v) -> the argument q may be
        act = activity.analyze(fn, set(wrt))
        refuse_opaque_subscripts(fn, act)
        self.active = act.active | set(wrt)
        self.kinds = activity.kinds(fn, set(scalar_params) | _annotated(fn, float),
                                    set(int_params) | _annotated(fn, int))
        self.seqs = sequences(fn, seq_params)
        known, self.assumed = array_params  # parameters known to hold arrays; taken to
        self.arrays = arrays(fn, self.kinds, (known | self.assumed) - self.seqs)
        self.sure = arrays(fn, self.kinds, known - self.seqs) if self.assumed else self.arrays
        self.relied: set[str] = set()  # names whose adjoints add with + only if as taken
        self.masked = masked(fn, self.active)
        # an array's rows have one shape, a list's items not: reads of rows rely on arrays
        self.relied |= {s.args[0].id for s in ir.walk(fn.body) if isinstance(s, Assign)
                        and s.prim.kind == "index" and isinstance(s.args[0], Name)
                        and s.args[0].id in (self.arrays - self.sure) & self.active}
        self.primal = {p.name for p in fn.params}
        for s in ir.walk(fn.body):
            self.primal |= ir.defs(s)
        self.shape = activity.shapes(fn, self.kinds, self.seqs | (self.primal - self.arrays))
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
        self.reads: dict[int, set] = defaultdict(set)
        self.value_reads: dict[int, set] = defaultdict(set)
        self.current: int | None = None
        self.stacks: dict[tuple[str, bool], str] = {}
        # names whose values are pushed both after statements (popped at the top of the
        # reverse block) and before in-place changes (popped where the change is undone):
        # the two kinds go on stacks of their own, so each is popped in push order
        after = {v for saves in plan.saves.values() for v, m in saves.items() if m == "after"}
        changed = {v for saves in plan.saves.values() for v, m in saves.items()
                   if m == "before"}
        changed |= {s.target for s in ir.walk(fn.body) if id(s) in plan.slices}
        self.mixed = after & changed
        self.dry = False
        self.modules = module_aliases(fn)

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
        if self.current is not None:
            for p in parts:
                if isinstance(p, Ref) and p.name in self.primal and p.name not in binds:
                    self.reads[self.current].add(p.name)
                    if not isinstance(p, ShapeRef):
                        self.value_reads[self.current].add(p.name)
        return Line(tuple(parts), tuple(binds))

    def assign(self, name: str, parts) -> Line:
        return self.line((Ref(name), " = ", *parts), (name,))

    def stack(self, v: str, old: bool = False) -> str:
        """The stack of v's values; old: of the values statements overwrite."""
        old = old and v in self.mixed
        self.stacks[v, old] = self.namer.cached(("stack", v, old),
                                                f"{v}_undo_stack" if old else f"{v}_stack")
        return self.stacks[v, old]

    def add(self, x: str, contrib, fresh: bool = False) -> list[Line]:
        """x_bar = contrib, or x_bar = x_bar + contrib when x_bar has a value."""
        xb = self.bar(x)
        if x not in self.defined:
            self.defined.add(x)
            (self.owned.add if fresh else self.owned.discard)(x)
            if tuple(contrib) == (Ref(xb),):  # x = x + ...: the adjoint passes through
                return []
            return [self.assign(xb, contrib)]
        if x in self.seqs or not self.is_array(x):  # a list's adjoints add item by item
            return [self.assign(xb, (RUNTIME, ".add_seq(", Ref(xb), ", ", *contrib, ")"))]
        negated = rules.negation(contrib)
        if x in self.owned:  # an array this sweep made and nothing else holds: add in place
            if negated is not None:
                return [self.line((Ref(xb), " -= ", *negated), (xb,))]
            return [self.line((Ref(xb), " += ", *contrib), (xb,))]
        if x not in self.zeroed or self.kinds.get(x) in ("scalar", "int"):
            self.owned.add(x)  # (an array's 0.0 + a contribution 0.0 too is still the number)
        if negated is not None:  # x_bar - g, not x_bar + -g
            return [self.assign(xb, (Ref(xb), " - ", *negated))]
        return [self.assign(xb, (Ref(xb), " + ", *contrib))]

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
            return [self.assign(self.bar(x), (RUNTIME, ".zeros_like(", ShapeRef(x), ")"))]
        if x not in self.owned:
            self.owned.add(x)
            return [self.assign(self.bar(x), (RUNTIME, ".owned(", Ref(self.bar(x)), ", ",
                                              ShapeRef(x), ")"))]
        return []

    def zero(self, x: str) -> Line:
        """x_bar = 0: zeros shaped like x for an untouched parameter, else 0.0, a zero of
        any shape (densified before it is returned)."""
        self.defined.add(x)
        self.owned.discard(x)
        if x in self.untouched:
            self.owned.add(x)
            return self.assign(self.bar(x), (RUNTIME, ".zeros_like(", ShapeRef(x), ")"))
        self.zeroed.add(x)
        return self.assign(self.bar(x), ("0.0",))

    def is_active(self, a) -> bool:
        return isinstance(a, Name) and a.id in self.active

    def kind(self, a) -> str | None:
        if isinstance(a, ir.Expr):
            return "int" if all(self.kind(x) == "int" for x in a.args) else None
        if isinstance(a, Const):
            return "int" if isinstance(a.value, (int, bool)) else (
                "scalar" if isinstance(a.value, float) else None)
        return self.kinds.get(a.id)

    def error(self, s, msg: str, cls=UnsupportedSyntax) -> Exception:
        node = getattr(s, "node", None) or (s.origin.node if s.origin else
                                            self.fn.source.funcdef)
        return self.fn.source.error(node, msg, cls)

    # ------------------------------------------------------------ forward sweep

    def prologue(self) -> list[Line]:
        out = []
        if self.relied and (params := self.checked_params()):
            checked = ir.join([(f"{p}=", Ref(p)) for p in params])
            out.append(self.line((RUNTIME, f".check_arrays({self.fn.name!r}, ", *checked, ")")))
        out += [self.assign(v, ("None",)) for v in sorted(self.plan.preinit)]
        out += [self.assign(self.stacks[k], ("[]",)) for k in sorted(self.stacks)]
        return out

    def forward_sweep(self) -> list:
        self.current = None
        return self.forward(self.fn.body)

    def forward(self, body: list) -> list:
        out: list = []
        for s in body:
            saves = self.plan.saves.get(id(s), {})
            for v, mode in sorted(saves.items()):
                if mode == "before" and getattr(s, "inplace", False):  # a copy: s changes it
                    out.append(self.line((Ref(self.stack(v, True)), ".append(", RUNTIME,
                                          ".snapshot(", Ref(v), "))")))
                elif mode == "before":
                    out.append(self.line((Ref(self.stack(v, True)), ".append(", Ref(v), ")")))
            if id(s) in self.plan.slices and isinstance(s, ir.SetItem):
                out.append(self.line((Ref(self.stack(s.target, True)), ".append(",
                                      *self.slice_of(s), ")")))
            if id(s) in self.guards:  # `q += v` rebinds a number; an array would change
                out.append(self.line((RUNTIME, ".rebinds(", Ref(s.target), ", ",
                                      repr(self.fn.name), ", ", repr(self.guards[id(s)]), ")")))
            out.extend(self.forward_stmt(s))
            for v, mode in sorted(saves.items()):
                if mode == "after":
                    out.append(self.line((Ref(self.stack(v)), ".append(", Ref(v), ")")))
        return out

    def single_use(self, name: str) -> bool:
        return sum(name in ir.uses(x) or name in ir.defs(x) for x in ir.walk(self.fn.body)) == 2

    def keyed(self, s: ir.SetItem) -> bool:
        """Whether s may write a dict entry by key (one that may not exist yet)."""
        items = s.index.items
        return s.target in self.seqs and len(items) == 1 and not isinstance(
            items[0], ir.Slice) and not (isinstance(items[0], Const) and isinstance(
                items[0].value, int)) and self.kind(items[0]) != "int"

    def slice_of(self, s: ir.SetItem) -> ir.Parts:
        if self.keyed(s):  # the entry, or a mark that there was none
            return (RUNTIME, ".entry(", Ref(s.target), ", ", *ir.index_parts(s.index), ")")
        part = (Ref(s.target), "[", *ir.index_parts(s.index), "]")
        return part if s.target in self.seqs else (*part, ".copy()")

    def forward_stmt(self, s) -> list:
        if isinstance(s, ir.Return):
            return []
        if isinstance(s, ir.If):
            body, orelse = self.forward(s.body), self.forward(s.orelse)
            if not body and orelse:
                return [Block(("if not ", *ir.atom_parts(s.test), ":"), orelse)]
            return [Block(("if ", *ir.atom_parts(s.test), ":"), body, orelse)]
        if isinstance(s, ir.For):
            body = self.forward(s.body)
            pre = []
            if s.trips:
                pre = [self.assign(s.trips, ("0",))]
                body = [self.line((Ref(s.trips), " += 1"), (s.trips,)), *body]
            return pre + [Block(("for ", Ref(s.target), " in ", *ir.atom_parts(s.iter), ":"),
                                body)]
        if isinstance(s, ir.While):
            count = self.line((Ref(s.trips), " += 1"), (s.trips,))
            body = [count, *self.forward(s.body)]
            prelude = s.prelude
            if len(prelude) == 1 and isinstance(prelude[0], Assign) and isinstance(
                    s.test, Name) and prelude[0].target == s.test.id and prelude[0].prim.kind in (
                    "compare", "expr") and self.single_use(s.test.id):
                head = ("while ", *ir.prim_parts(prelude[0]), ":")
                return [self.assign(s.trips, ("0",)), Block(head, body)]
            if s.prelude:
                stop = Block(("if not ", *ir.atom_parts(s.test), ":"), [Line(("break",))])
                loop = Block(("while True:",), [*self.forward(s.prelude), stop, *body])
            else:
                loop = Block(("while ", *ir.atom_parts(s.test), ":"), body)
            return [self.assign(s.trips, ("0",)), loop]
        return [self.line(ir.stmt_parts(s), tuple(ir.defs(s)))]

    # ------------------------------------------------------------ reverse sweep

    def backward(self, dry: bool = False) -> list:
        self.dry = dry
        self.defined, self.owned, self.zeroed = set(), set(), set()
        result = self.fn.body[-1].value
        out: list = []
        if isinstance(result, Name) and result.id in self.active:
            self.defined.add(result.id)
            if self.bar(result.id) != self.seed:
                out.append(self.assign(self.bar(result.id), (Ref(self.seed),)))
        out += self.block(self.fn.body[:-1], pops_for=self.fn.body)
        if dry:
            self.epilogue()  # records that it reads the arguments as they came in
        return out

    def epilogue(self) -> list[Line]:
        """Gradients with the type and shape of their argument."""
        self.current = activity.ENTRY
        out = []
        for w in self.wrt:
            if w not in self.defined and w not in self.seqs:
                out.append(self.assign(self.bar(w), (RUNTIME, ".zeros_like(", ShapeRef(w),
                                                     ")")))
            elif w not in self.defined:
                out.append(self.assign(self.bar(w), (RUNTIME, ".densify(0.0, ", ShapeRef(w),
                                                     ")")))
            elif w in self.zeroed or w in self.seqs:
                out.append(self.assign(self.bar(w), (RUNTIME, ".densify(", Ref(self.bar(w)),
                                                     ", ", ShapeRef(w), ")")))
        return out

    def block(self, body: list, pops_for: list | None = None, origin=None) -> list:
        out: list = []
        for s in (pops_for if pops_for is not None else body):
            for v, mode in sorted(self.plan.saves.get(id(s), {}).items()):
                self.current = id(s)
                if mode == "after":
                    out.append(self.assign(v, (Ref(self.stack(v)), ".pop()")))
                elif mode == "recompute":
                    out.extend(self.forward_stmt(s))
        last_origin = origin
        for s in reversed(body):
            self.current = id(s)
            lines = self.stmt(s)
            lines += self.restores(s)
            if lines:
                if s.origin is not None and s.origin is not last_origin:
                    out.append(Line((f"# grad of: {' '.join(s.origin.text.split())}",),
                                    comment=True))
                    last_origin = s.origin
                out.extend(lines)
        return out

    def restores(self, s) -> list[Line]:
        out = []
        if isinstance(s, Assign) and s.target in ir.names(s.args):
            return out  # restored before its contributions (see assign_adjoint)
        for v, mode in sorted(self.plan.saves.get(id(s), {}).items()):
            if mode == "before":
                out.append(self.restore_line(s, v))
        if id(s) in self.plan.slices and isinstance(s, ir.Append):
            out.append(self.line((Ref(s.target), ".pop()")))
        elif id(s) in self.plan.slices and self.keyed(s):
            out.append(self.line((RUNTIME, ".put_entry(", Ref(s.target), ", ",
                                  *ir.index_parts(s.index), ", ",
                                  Ref(self.stack(s.target, True)), ".pop())")))
        elif id(s) in self.plan.slices:
            out.append(self.line((Ref(s.target), "[", *ir.index_parts(s.index), "] = ",
                                  Ref(self.stack(s.target, True)), ".pop()")))
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
        if isinstance(s, (ir.Break, ir.Continue)):
            return []
        if isinstance(s, ir.Return):
            raise self.error(s, "a return inside a block is not supported")
        raise self.error(s, f"cannot differentiate {type(s).__name__}")

    # ---- simple statements

    def assign_adjoint(self, s: Assign) -> list[Line]:
        t = s.target
        if t is None and s.prim.kind in ("method", "call") and any(
                self.is_active(a) for a in (*s.args, *(v for _, v in s.kwargs))) and not (
                s.prim.key is not None and rules.is_passive(s.prim.key)):
            what = f".{s.prim.spelling}()" if s.prim.kind == "method" else s.prim.spelling
            raise self.error(s, f"{what} is called for its effect on a value that carries a "
                             "derivative; adjoint cannot see what it changes. Assign its "
                             "result instead")
        contributions: list = []
        first: list[Line] = []
        if t is not None and t in self.active:
            if t in self.defined:
                g = self.bar(t)
                maybe_zero = t in self.zeroed  # g may be 0.0, standing for zeros
                sparse = ("items", t) in self.zeroed  # g is a tuple whose items may be 0.0
                if (maybe_zero and not self.elementwise_rule(s)) or (
                        sparse and s.adjoint is not None):
                    # a rule that needs g's shape gets real zeros, not the 0.0 that stands
                    # for them (the 0.0 came from a branch or loop where t was not read), and
                    # so does the split adjoint of a user function (rules take 0.0 items)
                    first.append(self.assign(g, (RUNTIME, ".densify(", Ref(g), ", ",
                                                 ShapeRef(t), ")")))
                    maybe_zero = sparse = False
                maybe_zero |= sparse and s.prim.kind in ("tuple", "list", "dict")
                self.defined.discard(t)
                self.owned.discard(t)
                contributions = self.contributions(s, g)
                if maybe_zero:  # an adjoint a zero adjoint defines may be zero itself
                    self.zeroed.update(x for x, *_ in contributions
                                       if x is not None and x not in self.defined)
            else:  # nothing flowed back into t; still refuse what has no rule
                self.contributions(s, self.bar(t))
                self.defined.discard(t)
        return first + self.self_restore(s, contributions)

    def elementwise_rule(self, s: Assign) -> bool:
        """Whether s's adjoint works as well with the number 0.0 for g as with zeros."""
        p = s.prim
        if p.kind in ("copy", "index"):
            return True
        if s.adjoint is not None or p.key is None:
            return False
        if not elementwise(p.key):
            return False
        rule = rules.lookup(p.key, p.spelling if p.kind == "method" else None)
        return rule is None or not rules.broadcasts(p.key) or self.zero_keeps_shape(s, rule)

    def zero_keeps_shape(self, s: Assign, rule: rules.Rule) -> bool:
        """Whether, with the number 0.0 for g, each input's contribution still has a shape it
        unbroadcasts from: not when its formula multiplies g by another input (0.0 * b has b's
        shape) that may have neither the result's shape nor none."""
        try:
            bound = rule.signature.bind(*s.args, **dict(s.kwargs)).arguments
        except TypeError:
            return False

        def fits(a) -> bool:
            return self.kind(a) in ("int", "scalar") or (
                isinstance(a, Name) and self.same_shape(a, s))

        for name, atom in bound.items():
            if not isinstance(atom, (Name, Const)):
                return False
            if not self.is_active(atom) or name not in rule.formulas:
                continue
            slots = rule.template(name).slots
            if any(other != name and other in slots and not fits(a)
                   for other, a in bound.items()):
                return False
        return True

    def self_restore(self, s: Assign, contributions) -> list[Line]:
        """Emit contributions; a statement that overwrites one of its own inputs restores
        the old value first, keeping the new one for rules that read the result."""
        t = s.target
        saved = self.plan.saves.get(id(s), {}).get(t) == "before"
        out: list[Line] = []
        if saved and t in ir.names(s.args):
            if contributions is not None and contributions and any(
                    uses_ans for *_, uses_ans in contributions):
                new = self.new_value(t)
                copy = (RUNTIME, ".snapshot(", Ref(t), ")") if s.inplace else (Ref(t),)
                out.append(self.assign(new, copy))
                contributions = [(x, _swap(parts, t, new), fresh, u)
                                 for x, parts, fresh, u in contributions]
            out.append(self.restore_line(s, t))
        return out + self.emit_contributions(s, contributions)

    def restore_line(self, s, v: str) -> Line:
        """v = v_stack.pop(); an array changed in place gets its old values back in place."""
        popped = (Ref(self.stack(v, True)), ".pop()")
        if getattr(s, "inplace", False):
            return self.assign(v, (RUNTIME, ".restore(", Ref(v), ", ", *popped, ")"))
        return self.assign(v, popped)

    def new_value(self, t: str) -> str:
        return self.namer.cached(("new", t), f"{t}_new")

    def emit_contributions(self, s: Assign, contributions) -> list[Line]:
        if not contributions:
            return []
        out: list[Line] = []
        grouped: dict[str, list] = {}
        for x, parts, fresh, _ in contributions:
            if x is None:  # a line the contributions read (a helper's reverse sweep)
                out.append(parts)
                continue
            grouped.setdefault(x, []).append((parts, fresh))
        # contributions to the statement's own target read g: emit them last, in one line
        order = [x for x in grouped if x != s.target] + ([s.target] if s.target in grouped
                                                          else [])
        for x in order:
            items = grouped[x]
            if len(items) == 1 or x != s.target:
                for parts, fresh in items:
                    if isinstance(parts, IndexAdd):
                        if x == s.target:  # x = x[i]: g is x_bar, which own() replaces
                            held = self.namer.cached(("new bar", x), f"{x}_new_bar")
                            out.append(self.assign(held, parts.g))
                            parts = IndexAdd(parts.index, (Ref(held),), parts.basic,
                                             parts.container)
                        out += self.own(x)
                        out.append(self.index_add(x, parts))
                    else:
                        if not fresh:
                            self.shared(parts)
                        out += self.add(x, parts, fresh)
            else:
                summed = items[0][0]
                for parts, _ in items[1:]:
                    summed = (*summed, " + ", *parts) if self.is_array(x) else (
                        RUNTIME, ".add_seq(", *summed, ", ", *parts, ")")
                out += self.add(x, summed, True)
        return out

    def contributions(self, s: Assign, g: str) -> list:
        """(input name, parts, fresh, reads ans) for each active input of s."""
        p = s.prim
        if not any(self.is_active(a) for a in (*s.args, *(v for _, v in s.kwargs))):
            return []  # a constant, whatever computed it
        gp = (Ref(g),)
        if p.kind == "copy":
            return [(s.args[0].id, gp, False, False)] if self.is_active(s.args[0]) else []
        if p.kind == "index":
            base = s.args[0]
            if not self.is_active(base):
                return []
            return [(base.id, IndexAdd(s.index, gp, self.basic(s.index),
                                       s.target in self.seqs or not self.is_array(s.target)),
                     True, False)]
        if p.kind in ("tuple", "list"):
            return [(a.id, (Ref(g), f"[{k}]"), False, False)
                    for k, a in enumerate(s.args) if self.is_active(a)]
        if p.kind == "dict":
            return [(a.id, (Ref(g), f"[{key}]"), False, False)
                    for key, a in zip(p.key, s.args, strict=True) if self.is_active(a)]
        if p.key is not None and rules.is_passive(p.key):
            return []  # a constant result (np.zeros_like(x)): nothing flows back
        if p.kind == "binop" and p.key is operator.add and any(
                isinstance(a, Name) and a.id in self.seqs for a in s.args):
            return self.sequence_binop(s, g)
        if p.kind == "expr":
            raise self.error(s, "cannot differentiate through this expression (and/or, "
                             "chained comparison); write it with if statements")
        if getattr(s, "adjoint", None) is not None:
            return self.call_contributions(s, g)
        rule = rules.lookup(p.key, p.spelling if p.kind == "method" else None) if \
            p.key is not None else None
        if rule is None:
            raise self.missing_rule(s)
        return self.rule_contributions(s, rule, g)

    def sequence_binop(self, s: Assign, g: str) -> list:
        """a + b where a or b may hold a list (names are lists on some paths only): two lists
        join, and each gets its part of the joined list's adjoint; else arrays add."""
        a, b = (ir.atom_parts(x) for x in s.args)
        return [(x.id, (RUNTIME, ".add_adjoint(", Ref(g), ", ", *a, ", ", *b, f", {k})"), False,
                 False) for k, x in enumerate(s.args) if self.is_active(x)]

    def missing_rule(self, s: Assign) -> Exception:
        p = s.prim
        if p.key in ITERATORS:
            name = p.key.__name__
            return self.error(s, f"{name}(...) of values that carry a derivative is "
                              "differentiated only as the iterable of a for loop or "
                              f"comprehension (for ... in {name}(...)); build the list with a "
                              f"comprehension: [... for ... in {name}(...)]", MissingRule)
        if p.kind == "method" and p.key is None and p.spelling == "pop":
            return self.error(s, "no derivative rule for .pop(): a list popped is not "
                              "differentiated (the gradient of a loop pops its records, so "
                              "only the gradient of straight-line code differentiates again)",
                              MissingRule)
        if p.kind == "method" and p.key is None:
            return self.error(s, f"no derivative rule for the method .{p.spelling}(); "
                              "call the numpy function instead, or register a rule for it",
                              MissingRule)
        if p.kind == "attr":
            return self.error(s, f"no derivative rule for the attribute .{p.spelling}",
                              MissingRule)
        name = rules.name_of(p.key) if p.key is not None else p.spelling
        return self.error(s, f"no derivative rule for {name}; add one with\n    "
                          f"{rules.registration_hint(p.key, p.spelling or None)}", MissingRule)

    def rule_contributions(self, s: Assign, rule: rules.Rule, g: str) -> list:
        args = list(s.args)
        try:
            bound = rule.signature.bind(*args, **dict(s.kwargs))
        except TypeError as exc:
            raise self.error(s, f"cannot match the arguments of {rules.name_of(rule.fn)} to "
                             f"its signature: {exc}") from None
        bound.apply_defaults()
        env = {"g": (Ref(g),), "ans": (AnsRef(s.target),), **self.modules}
        active_params = []
        for name, value in bound.arguments.items():
            kind = rule.signature.parameters[name].kind
            if kind == inspect.Parameter.VAR_POSITIONAL:
                env[name] = ("(", *ir.join([ir.atom_parts(a) for a in value]),
                             ",)" if len(value) == 1 else ")")
                active_params += [(name, k, a) for k, a in enumerate(value) if self.is_active(a)]
            elif kind == inspect.Parameter.VAR_KEYWORD:
                for k, a in value.items():
                    if self.is_active(a):
                        raise self.error(s, f"keyword argument {k} of "
                                         f"{rules.name_of(rule.fn)} carries a derivative")
            elif isinstance(value, (Name, Const)):
                env[name] = ir.atom_parts(value)
                if self.is_active(value):
                    active_params.append((name, None, value))
            else:
                default = None if value is np._NoValue else value
                env[name] = (repr(default),)
        out = []
        for name, k, atom in active_params:
            if name not in rule.formulas:
                raise self.error(s, f"argument {name!r} of {rules.name_of(rule.fn)} depends on "
                                 "the differentiated inputs, but has no derivative rule",
                                 MissingRule)
            tpl = rule.template(name)
            env_k = dict(env, k=(str(k),)) if k is not None else env
            parts = rules.instantiate(tpl, env_k)
            if rules.is_zero_product(parts):
                continue  # this input's share is zero (x ** 0): nothing flows back
            if s.target in self.masked and elementwise(rule.fn) and may_be_infinite(
                    rule.formulas[name]):
                # g may hold the zeros np.where (or clip, maximum) put where a branch was not
                # taken; keep them zero even through an infinite derivative (0 * inf is nan)
                parts = (RUNTIME, ".keep_zeros(", Ref(g), ", ", *parts, ")")
            if rules.broadcasts(rule.fn) and not self.same_shape(atom, s):
                negated = rules.negation(parts)  # -unbroadcast(g): negate the smaller array
                inner = negated if negated is not None else parts
                parts = (RUNTIME, ".unbroadcast(", *inner, ", ", ShapeRef(atom.id), ")")
                if negated is not None:
                    parts = ("-", *parts)
            out.append((atom.id, *self.as_items(atom.id, parts), "ans" in tpl.slots))
        return out

    def as_items(self, x: str, parts) -> tuple:
        """(parts, fresh) of a rule's contribution to x: the adjoint of a list is a list, where
        a NumPy rule gives an array (one item per entry)."""
        if x in self.seqs and not _lists(parts):  # not owned: densify makes a tuple a tuple
            return (RUNTIME, ".densify(", *parts, ", ", Ref(x), ")"), False
        return parts, fresh(parts)

    def call_contributions(self, s: Assign, g: str) -> list:
        """A call of the user's own function: its `_bwd` takes the saved values and g."""
        _, bwd, positions, keywords, _ = s.adjoint
        targets = [s.args[k] for k in positions] + [dict(s.kwargs)[k] for k in keywords]
        call = (bwd, "(", Ref(s.tape), ", ", Ref(g), ")")
        if len(targets) == 1:
            return [(targets[0].id, self.as_items(targets[0].id, call)[0], False, False)]
        parts = [self.namer.cached(("part", id(s), j), f"{a.id}_part")
                 for j, a in enumerate(targets)]
        head = self.line((*ir.join([(Ref(p),) for p in parts]), " = ", *call), parts)
        return [(None, head, False, False)] + [(a.id, self.as_items(a.id, (Ref(p),))[0], False,
                                                False) for a, p in zip(targets, parts, strict=True)]

    def same_shape(self, atom, s: Assign) -> bool:
        """Whether input `atom` surely has the shape of s's result: its shape term is the
        result's, or every other operand is a scalar."""
        others = [a for a in s.args if a is not atom] + [a for _, a in s.kwargs]
        if all(self.kind(a) in ("int", "scalar") for a in others):
            return True
        return self.known_shape(atom.id) and self.shape.get(atom.id) == self.shape.get(s.target)

    def known_shape(self, name: str) -> bool:
        t = self.shape.get(name)
        return t is not None and t != activity.BOTTOM and not (
            isinstance(t, tuple) and t[0] == "top")

    def basic(self, index: ir.Index) -> bool:
        """Whether an index surely selects without repeats (ints, slices, None, ...)."""
        for item in index.items:
            if isinstance(item, ir.Slice):
                continue
            if isinstance(item, str):
                continue
            if self.kind(item) != "int":
                return False
        return True

    def index_add(self, x: str, add: IndexAdd) -> Line:
        xb = self.bar(x)
        if x in self.seqs or (add.container and add.basic):
            # an item of a list or dict: replaced, never updated in place (+= would extend an
            # item that is a list)
            item = (Ref(xb), "[", *ir.index_parts(add.index), "]")
            if add.container:
                return self.line((*item, " = ", RUNTIME, ".add_seq(", *item, ", ", *add.g, ")"))
            return self.line((*item, " = ", *item, " + ", *add.g))
        if add.basic:
            return self.line((Ref(xb), "[", *ir.index_parts(add.index), "] += ", *add.g))
        return self.line((RUNTIME, ".add_at(", Ref(xb), ", ", *index_value(add.index), ", ",
                          *add.g, ")"))

    def setitem_adjoint(self, s: ir.SetItem) -> list[Line]:
        y = s.target
        if y not in self.active or y not in self.defined:
            return []
        if isinstance(s.value, Name) and s.value.id == y and not s.op:  # y[a:b] = y
            part = self.namer.cached(("part", id(s)), f"{y}_part_bar")
            out = self.own(y)
            idx = ir.index_parts(s.index)
            out.append(self.assign(part, (Ref(self.bar(y)), "[", *idx, "].copy()")))
            out.append(self.line((Ref(self.bar(y)), "[", *idx, "] = 0.0")))
            return out + self.add(y, (RUNTIME, ".unbroadcast(", Ref(part), ", ", ShapeRef(y),
                                      ")"), True)
        if s.op:  # y[i] += v: y_bar is unchanged, v gets (minus) its slice
            if not self.is_active(s.value):
                return []
            out = []
            if y in self.zeroed:  # 0.0 on some path: real zeros, to take the slice of
                out.append(self.assign(self.bar(y), (RUNTIME, ".densify(", Ref(self.bar(y)),
                                                     ", ", ShapeRef(y), ")")))
                self.zeroed.discard(y)
            part = (Ref(self.bar(y)), "[", *ir.index_parts(s.index), "]")
            if y not in self.seqs:
                part = (*part, ".copy()")
            target_term = activity.index_term(self.shape.get(y), s.index, self.kinds)
            if not (self.known_shape(s.value.id) and self.shape.get(s.value.id) == target_term):
                part = (RUNTIME, ".unbroadcast(", *part, ", ", ShapeRef(s.value.id), ")")
            return out + self.add(s.value.id, ("-", *part) if s.op == "-" else part, True)
        out = self.own(y)
        idx = ir.index_parts(s.index)
        if self.is_active(s.value):
            v = s.value.id
            part = (Ref(self.bar(y)), "[", *idx, "]")
            if y not in self.seqs:
                part = (*part, ".copy()")
            target_term = activity.index_term(self.shape.get(y), s.index, self.kinds)
            if not (self.known_shape(v) and self.shape.get(v) == target_term):
                part = (RUNTIME, ".unbroadcast(", *part, ", ", ShapeRef(v), ")")
            out += self.add(v, part, True)
        out.append(self.line((Ref(self.bar(y)), "[", *idx, "] = 0.0")))
        if y in self.seqs:  # that item's adjoint is now the number 0.0, standing for zeros
            self.zeroed.add(("items", y))
        return out

    def append_adjoint(self, s: ir.Append) -> list[Line]:
        """The adjoint list mirrors the list: what was appended last is popped first."""
        if s.target not in self.active or s.target not in self.defined:
            return []
        out = self.own(s.target)
        popped = (Ref(self.bar(s.target)), ".pop()")
        if self.is_active(s.value):
            out += self.add(s.value.id, popped, False)
        else:
            out.append(self.line(popped))
        return out

    def unpack_adjoint(self, s: ir.Unpack) -> list[Line]:
        targets = [t for t in s.targets if t in self.active and t in self.defined]
        if not targets or not self.is_active(s.value):
            for t in s.targets:
                self.defined.discard(t)
            return []
        items = [(Ref(self.bar(t)),) if t in self.defined else ("0.0",) for t in s.targets]
        if s.value.id not in self.defined and any(
                t not in self.defined or t in self.zeroed for t in s.targets):
            self.zeroed.add(("items", s.value.id))  # an item may be 0.0
        for t in s.targets:
            self.defined.discard(t)
        tup = ("(", *ir.join(items), ",)" if len(items) == 1 else ")")
        return self.add(s.value.id, tup)  # a tuple: copied to a list before an item is written

    # ---- compound statements

    def snapshot(self):
        return set(self.defined), set(self.owned), set(self.zeroed)

    def restore_state(self, state) -> None:
        self.defined, self.owned, self.zeroed = set(state[0]), set(state[1]), set(state[2])

    def if_adjoint(self, s: ir.If) -> list:
        start = self.snapshot()
        body = self.block(s.body, origin=s.origin)
        after_body = self.snapshot()
        self.restore_state(start)
        orelse = self.block(s.orelse, origin=s.origin)
        after_else = self.snapshot()
        self.current = id(s)
        merged = after_body[0] | after_else[0]
        for x in sorted(merged - after_body[0]):
            body.append(self.zero(x))
        for x in sorted(merged - after_else[0]):
            orelse.append(self.zero(x))
        self.defined = merged
        self.owned = after_body[1] & after_else[1]
        self.zeroed |= after_body[2] | after_else[2]
        if not body and not orelse:
            return []
        test = ir.atom_parts(s.test)
        self.line(test)  # records that the reverse sweep reads the test
        if not body:
            return [Block(("if not ", *test, ":"), orelse)]
        return [Block(("if ", *test, ":"), body, orelse)]

    def loop_adjoint(self, s) -> list:
        inplace = self.inplace_targets(s.body)
        pre: list[Line] = []
        self.current = id(s)
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
                pre.append(self.zero(x) if x not in inplace else self.own(x)[0])
            entry = self.snapshot()
        self.current = id(s)
        for x in sorted(entry[0] - self.defined):
            body.append(self.zero(x))
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


class IndexAdd:
    """A contribution to x_bar[index] (basic: the index selects without repeats; container:
    the item is itself a list, tuple or dict)."""

    def __init__(self, index: ir.Index, g, basic: bool, container: bool = False):
        self.index, self.g, self.basic, self.container = index, g, basic, container


def index_value(index: ir.Index) -> ir.Parts:
    """An index as a value expression: `i`, `(i, slice(1, n))`."""
    items = []
    for item in index.items:
        if isinstance(item, ir.Slice):
            bits = [ir.atom_parts(x) if x is not None else ("None",)
                    for x in (item.lower, item.upper, item.step)]
            items.append(("slice(", *ir.join(bits), ")"))
        elif isinstance(item, str):
            items.append(("None",) if item == ir.NEWAXIS else ("Ellipsis",))
        else:
            items.append(ir.atom_parts(item))
    if len(items) == 1 and not isinstance(index.items[0], (ir.Slice, str)):
        return items[0]
    return ("(", *ir.join(items), ",)" if len(items) == 1 else ")")


def _swap(parts, old: str, new: str):
    """The parts, reading the result of their statement from `new`."""
    if isinstance(parts, IndexAdd):
        return parts
    return tuple(Ref(new) if isinstance(p, AnsRef) and p.name == old else p for p in parts)


# runtime helpers that return a new array (never one of their arguments)
FRESH_HELPERS = {"sum_adjoint", "mean_adjoint", "extremum_adjoint", "prod_adjoint",
                 "where_adjoint", "clip_adjoint", "maximum_adjoint", "zeros_like", "owned",
                 "unstack", "split_like", "sequence_adjoint"}


LIST_HELPERS = {"unstack", "split_like", "sequence_adjoint", "add_seq", "densify", "owned"}


def _lists(parts) -> bool:
    """Whether an emitted expression surely gives the adjoint of a list as a list."""
    parts = tuple(parts)
    return len(parts) >= 2 and parts[0] == RUNTIME and isinstance(parts[1], str) and \
        parts[1].lstrip(".").split("(")[0] in LIST_HELPERS


def fresh(parts) -> bool:
    """Whether an emitted expression surely builds a new value, one nothing else holds (so
    it may be updated in place): arithmetic, or a runtime helper that allocates; not a bare
    name, and not what unbroadcast or keep_zeros may hand back unchanged."""
    return _fresh_text(rules._pattern(parts))


@functools.lru_cache(maxsize=4096)
def _fresh_text(text: str) -> bool:
    def new(node) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(
                node.func.value, ast.Name) and node.func.value.id == RUNTIME:
            if node.func.attr == "unbroadcast":
                return new(node.args[0])
            if node.func.attr == "keep_zeros":
                return new(node.args[1])
            return node.func.attr in FRESH_HELPERS
        return isinstance(node, (ast.BinOp, ast.UnaryOp))

    return new(ast.parse(text, mode="eval").body)


def _annotated(fn: ir.Function, typ: type) -> set[str]:
    params = fn.source.funcdef.params if fn.source is not None else None
    out = set()
    if params is None:
        return out
    for p in [*params.posonly_params, *params.params, *params.kwonly_params]:
        ann = p.annotation
        if ann is not None and getattr(ann.annotation, "value", None) == typ.__name__:
            out.add(p.name.value)
    return out


# Their adjoints are zero where an input was not selected: np.where's other branch, the
# clipped entries of np.clip, the smaller side of np.maximum.
MASKING = {np.where, np.clip, np.maximum, np.minimum, np.fmax, np.fmin}
# calls whose adjoint is exactly zero, by structure, at the entries they drop
SELECTING = {np.tril, np.triu, np.diag, np.diagonal, np.take, np.take_along_axis, np.extract,
             np.compress, np.select, np.trace, np.delete}


def elementwise(fn) -> bool:
    """Whether entry i of the result depends on entry i of the inputs only."""
    return isinstance(fn, np.ufunc) or fn in MASKING or getattr(fn, "__module__", None) in (
        "math", "_operator", "operator") and fn is not operator.matmul


def may_be_infinite(formula) -> bool:
    """Whether a rule's contribution may be infinite or NaN where g is 0 at a finite input:
    any but g itself and g times one of the inputs."""
    return not (isinstance(formula, str) and re.fullmatch(r"-?g( \* (?!ans\b)[a-z_]\w*)?",
                                                           formula))


def masked(fn: ir.Function, active: set[str] = frozenset()) -> set[str]:
    """Names whose adjoint may hold structural zeros: the inputs of a masking call
    (np.where, np.clip, np.maximum), of a selection (an index read, np.tril, np.take) and of
    a product with a value that carries no derivative (a mask), and, going upstream, the
    inputs of elementwise operations on them."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for s in ir.walk(fn.body):
            if not (isinstance(s, Assign) and s.prim.kind in ("call", "binop", "unary",
                                                               "method", "copy", "index")):
                continue
            key = s.prim.key
            selects = s.prim.kind == "index" or (key is not None and _hashable(key) and (
                key in MASKING or key in SELECTING)) or (
                key in (operator.mul, np.multiply) and any(
                    isinstance(a, Name) and a.id not in active for a in s.args))
            source = selects or (
                s.target in found and (s.prim.kind == "copy" or (
                    key is not None and elementwise(key))))
            if source:
                for a in s.args:
                    if isinstance(a, Name) and a.id not in found:
                        found.add(a.id)
                        changed = True
    return found


def _hashable(key) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def sequences(fn: ir.Function, params=frozenset()) -> set[str]:
    """Names that hold tuples or lists (their adjoints add item by item); `params` are the
    parameters known to."""
    found = set(params)
    for s in ir.walk(fn.body):
        if isinstance(s, Assign) and s.target and (s.prim.kind in ("tuple", "list", "dict") or (
                s.prim.kind == "call" and s.prim.key in (list, tuple))):
            found.add(s.target)
        elif isinstance(s, Assign) and s.prim.kind == "index" and isinstance(s.args[0], Name) \
                and any(isinstance(i, Const) and isinstance(i.value, str) for i in s.index.items):
            found.add(s.args[0].id)  # read by a string key: a dict
        elif isinstance(s, ir.Unpack) and isinstance(s.value, Name):
            found.add(s.value.id)
        elif isinstance(s, ir.Append):
            found.add(s.target)
        elif isinstance(s, Assign) and s.prim.kind == "attr" and s.prim.key in rules.FIELDS \
                and isinstance(s.args[0], Name):
            found.add(s.args[0].id)  # r.Q, r.R: r is a named tuple
    changed = True
    while changed:
        changed = False
        for s in ir.walk(fn.body):
            if isinstance(s, Assign) and s.prim.kind == "copy" and isinstance(s.args[0], Name):
                pair = {s.target, s.args[0].id}
                if pair & found and not pair <= found:
                    found |= pair
                    changed = True
            elif isinstance(s, Assign) and s.prim.kind == "index" and s.target in found and \
                    isinstance(s.args[0], Name) and s.args[0].id not in found:
                found.add(s.args[0].id)  # an item is a container: so is what holds it
                changed = True
            elif isinstance(s, Assign) and s.prim.kind == "binop" and s.target not in found \
                    and s.prim.key is operator.add and ir.names(s.args) & found:
                found.add(s.target)  # xs + ys of lists: a list
                changed = True
            elif isinstance(s, Assign) and s.prim.kind == "index" and s.target not in found \
                    and isinstance(s.args[0], Name) and s.args[0].id in found and any(
                        isinstance(i, ir.Slice) for i in s.index.items):
                found.add(s.target)  # a slice of a list is a list
                changed = True
    return found


# builtins making iterators: a for loop's iterable, written out by normalize; as values their
# items carry derivatives no rule follows
ITERATORS = {zip, enumerate, map, filter, reversed, iter, sorted}

# functions of the libraries with rules that return a tuple or list of arrays
CONTAINER_RESULTS = {np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit, np.meshgrid,
                     np.broadcast_arrays, np.linalg.qr, np.linalg.eigh, np.linalg.svd,
                     np.linalg.slogdet, np.linalg.eig, np.histogram, np.gradient,
                     getattr(np, "unstack", np.split)}
NUMBER_BUILTINS = {abs, pow, float, sum, max, min, len, int, round}


def arrays(fn: ir.Function, kinds: dict, params=frozenset()) -> set[str]:
    """Names that surely hold an array or a number, never a list, tuple or dict, so their
    adjoints add with `+`: numbers, what NumPy calls and arithmetic on such values return,
    items and attributes of arrays; `params` are the parameters known to hold arrays."""
    defs: dict[str, list] = defaultdict(list)
    for s in ir.walk(fn.body):
        for name in ir.defs(s):
            defs[name].append(s)
    found = set(params) | {n for n, k in kinds.items() if k in ("int", "scalar")}
    found |= {n for n in defs if n not in {p.name for p in fn.params}}
    changed = True
    while changed:
        changed = False
        for name in sorted(found):
            if kinds.get(name) in ("int", "scalar"):
                continue
            if not all(_makes_array(s, name, found, kinds) for s in defs.get(name, ())):
                found.discard(name)
                changed = True
    return found


def _makes_array(s, name: str, found: set, kinds: dict) -> bool:
    """Whether statement s, binding `name`, surely binds an array or a number when the names
    in `found` do."""
    def arrayish(a) -> bool:
        return not isinstance(a, Name) or a.id in found

    if isinstance(s, ir.For):
        return name == s.trips or arrayish(s.iter)
    if isinstance(s, ir.Unpack):
        return arrayish(s.value)
    if not isinstance(s, Assign) or name != s.target:
        return name == getattr(s, "trips", None)
    p = s.prim
    if p.kind in ("unary", "compare"):
        return True  # on a list: an error, or a bool
    if p.kind == "binop":  # list + array is an array; list + list and list * 2 are lists
        return any(isinstance(a, Name) and a.id in found and kinds.get(a.id) != "int" or (
            isinstance(a, Const) and isinstance(a.value, float)) for a in s.args)
    if p.kind in ("copy", "index", "attr"):
        return all(arrayish(a) for a in s.args)
    if p.kind == "method":
        return bool(s.args) and arrayish(s.args[0]) and p.spelling.split(".")[-1] != "tolist"
    if p.kind != "call" or s.adjoint is not None or p.key is None:
        return s.adjoint is not None and s.adjoint[4] in ("scalar", "int", "array")
    if isinstance(p.key, np.ufunc):
        return p.key.nout == 1
    if p.key in NUMBER_BUILTINS:
        return True
    module = getattr(p.key, "__module__", None) or ""
    return module.split(".")[0] in ("numpy", "scipy", "math") and p.key not in CONTAINER_RESULTS \
        and not (p.key in (np.atleast_1d, np.atleast_2d, np.atleast_3d) and len(s.args) > 1)


def module_aliases(fn: ir.Function) -> dict[str, ir.Parts]:
    """How rule formulas spell modules in this function's emitted code."""
    out = {"runtime": (RUNTIME,), "operator": ("operator",), "math": ("math",), "np": ("np",)}
    for name, obj in getattr(fn, "globals", {}).items():
        if obj is np and "np" not in fn.globals:
            out["np"] = (name,)
        if obj is math and "math" not in fn.globals:
            out["math"] = (name,)
    return out


def is_user_function(obj) -> bool:
    if isinstance(obj, parse_.Nested):
        return True
    if not isinstance(obj, types.FunctionType) or rules.lookup(obj) is not None:
        return False
    module = getattr(obj, "__module__", "") or ""
    top = module.split(".")[0]
    return top not in ("numpy", "scipy", "math", "builtins", "adjoint")


# what adjoint differentiates an index read of (the index itself carries no derivative)
SUBSCRIPTABLE = (np.ndarray, np.generic, list, tuple, dict, str, bytes, int, float, range)


def refuse_opaque_subscripts(fn: ir.Function, act: activity.Activity) -> None:
    """Refuse obj[i] where obj, a global, is no array, list, tuple or dict (np.s_, np.mgrid,
    an object of the user's class) and i carries a derivative: adjoint cannot know what the
    subscript computes, and would give it none. (np.r_[...] and np.c_[...] written so are
    calls with a rule, normalize.index_concat.)"""
    bound: dict[str, list] = defaultdict(list)  # name -> the constants assigned to it
    for s in ir.walk(fn.body):
        for name in ir.defs(s):
            bound[name].append(s.args[0] if isinstance(s, Assign) and s.prim.kind == "copy"
                               and isinstance(s.args[0], Const) else None)
    for s in ir.walk(fn.body):
        if not (isinstance(s, Assign) and s.prim.kind == "index" and s.target in act.useful
                and any(isinstance(a, Name) and a.id in act.varied for a in s.index.atoms())):
            continue
        base = s.args[0]
        label = base.id if isinstance(base, Name) else base.text
        if isinstance(base, Name) and len(bound.get(base.id, ())) == 1:
            base = bound[base.id][0] or base  # a name only ever holding one global
        if isinstance(base, Const) and not isinstance(base.value, SUBSCRIPTABLE):
            hint = f"; write {base.text}[...] itself" if isinstance(
                base.value, rules.AXIS_CONCATENATOR) else ""
            kind = type(base.value).__name__
            raise fn.source.error(s.node, f"{label}[...] reads an index that carries a "
                                  f"derivative, but {label} is of type {kind}, not an array, "
                                  "list, tuple or dict: adjoint cannot differentiate its "
                                  f"subscript{hint}")
