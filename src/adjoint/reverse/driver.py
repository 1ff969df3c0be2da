"""driver: the adjoint function of one IR function, its shells (grad, value_and_grad, the
_fwd/_bwd split) and the calls of user functions it links."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .. import inplace, ir, optimize
from ..analysis.dims import is_dims
from ..analysis.exceptions import check_tries
from ..analysis.memory import aliases, check_writes, mutated_params, numbers_rebound
from ..analysis.plan import Plan, Save, to_be_recorded
from ..ir import Assign, Block, Line, Name, Ref
from ..link import Spec
from ..naming import Namer
from .batched import batched
from .fill import fill
from .hoist import hoisted
from .refs import RUNTIME
from .repeats import unrepeated
from .sweep import Sweep


def reverse(fn: ir.Function, spec: Spec, namer: Namer, *, mode: str = "grad",
            as_tuple: bool | None = None, names: tuple[str, ...] = (),
            relied: frozenset = frozenset()) -> list[ir.Emitted]:
    """The emitted adjoint of `fn` (its calls of user functions linked: link.link_calls)
    with respect to the parameters `spec.wrt`.

    mode 'grad': one function running both sweeps and returning the gradients; 'value': the
    same, returning (value, gradients); 'split' (for functions the differentiated code calls):
    `<f>_fwd`, the primal returning (result, saved values), and `<f>_bwd(saved, seed)`,
    the reverse sweep. `relied`: names passed as arrays only because a parameter is taken
    to hold one (the code checks those parameters when it runs)."""
    fn = numbers_rebound(fn)  # `s = c; s += v`: on a number, a new binding
    check_writes(fn)
    check_tries(fn, spec.kinds(fn))
    fn = hoisted(fn, spec.kinds(fn))
    done = record(fn, spec, namer, mode)
    fn, plan, mutated, sweep, backward = (done.fn, done.plan, done.mutated, done.sweep,
                                          done.backward)
    sweep.guards = done.guards
    sweep.relied |= relied
    if sweep.ints or any(is_dims(t) for t in sweep.shape.values()):
        backward = fill(backward, sweep.shape, sweep.ints)
        backward = unrepeated(backward, lambda n: sweep.dims_of(Name(namer.primals.get(n, n))),
                              namer.primals)
        backward = batched(backward, namer, lambda n: sweep.size_of(namer.primals.get(n, n)))
    forward = sweep.forward_sweep()
    grads = tuple(namer.bar(w) for w in spec.wrt)
    as_tuple = len(grads) > 1 if as_tuple is None else as_tuple
    returned = ir.join([(Ref(r),) for r in grads])
    if as_tuple and len(grads) == 1:
        returned = (*returned, ",")
    if mode == "split":
        return split(fn, sweep, forward, backward, returned, names)
    return [whole(fn, sweep, forward, backward, (returned, as_tuple), namer, mode, mutated,
                  plan, names)]



def sweep_of(spec: Spec, fn: ir.Function, namer: Namer, plan: Plan) -> Sweep:
    return Sweep(fn, list(spec.wrt), namer, plan, set(spec.scalars), set(spec.ints),
                 set(spec.seqs), (set(spec.arrays), set(spec.assumed)), spec.dims,
                 split=spec.split, typed=spec.typed, ndims=spec.ndims)


@dataclass
class Recorded:
    """The function version (top-level redefinitions renamed), its plan, the parameters it
    changes in place (with the statements changing them), the guards of `q += v` on
    parameters that may be numbers, and the sweep emitted for that plan with its reverse."""

    fn: ir.Function
    plan: Plan
    mutated: dict
    guards: dict
    sweep: Sweep
    backward: list


def record(fn: ir.Function, spec: Spec, namer: Namer, mode: str) -> Recorded:
    """What to record: from what a reverse sweep reads, again until the reads of what is
    recorded (restores, recomputations) ask for nothing more. The sweep that asks for
    nothing more is the one emitted (its names are all cached, so it is the same sweep)."""
    plan, mutated, guards = Plan(), None, {}
    for _ in range(8):
        sweep = sweep_of(spec, fn, namer, plan)
        backward = sweep.backward(dry=True)
        index = {id(s): s for s in ir.walk(fn.body)}
        new = to_be_recorded(fn, sweep.reads, sweep.value_reads, index, sweep.kinds)
        if new.renames:
            fn = apply_renames(fn, new.renames, namer)
            plan, mutated = Plan(), None
            continue
        if mutated is None:
            mutated, guards = _mutated(fn, spec, mode)
        for stmts in mutated.values():  # the reverse sweep undoes every change to an argument
            for s in stmts:
                if isinstance(s, Assign):
                    new.saves.setdefault(id(s), {})[s.target] = Save.BEFORE
                else:
                    new.slices.add(id(s))
        if new == plan:
            return Recorded(fn, plan, mutated, guards, sweep, backward)
        plan = new
    sweep = sweep_of(spec, fn, namer, plan)
    return Recorded(fn, plan, mutated or {}, guards, sweep, sweep.backward())


def _mutated(fn: ir.Function, spec: Spec, mode: str) -> tuple[dict, dict]:
    """The parameters fn changes in place, and (for a split helper, which must not change
    them) the `q += v` statements to check when they run: on a number `q += v` rebinds q,
    and the caller's q is unchanged."""
    numbers = {n for n, k in spec.kinds(fn).items() if k in ("scalar", "int")}
    mutated = {p: found for p, stmts in mutated_params(fn).items()
               if (found := [s for s in stmts if not (
                   isinstance(s, Assign) and s.target in numbers)])}
    if not mutated or mode != "split":
        return mutated, {}
    for param, stmts in mutated.items():
        for s in stmts:
            if not isinstance(s, Assign):  # an item write: surely in place
                raise fn.source.error(
                    s.origin.node if s.origin else fn.source.funcdef,
                    f"{fn.name} changes its argument {param} in place; a function "
                    "called by differentiated code must return new values instead")
    return {}, {id(s): param for param, stmts in mutated.items() for s in stmts}


def whole(fn: ir.Function, sweep: Sweep, forward: list, backward: list, returned,
          namer: Namer, mode: str, mutated: dict, plan: Plan, names) -> ir.Emitted:
    """grad_f (or value_and_grad_f): the forward sweep, the check of the seed, the reverse
    sweep, and the gradients returned."""
    returned, as_tuple = returned
    result = fn.body[-1].value
    check = []
    if isinstance(result, Name):
        # a result surely a number is checked against as 0.0: its value, when only the
        # gradient is asked for, need not be computed
        ans = (Ref(result.id),) if sweep.kinds.get(result.id) != "scalar" else ("0.0",)
        check = [Line((Ref(sweep.seed), " = ", RUNTIME, ".check_seed(", *ans, ", ",
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
    return ir.Emitted(name, params, body, primal=frozenset(sweep.primal | sweep.slots),
                      large=large_arrays(sweep), numbers=number_adjoints(sweep))


def large_arrays(sweep: Sweep) -> frozenset:
    """The names of arrays whose shapes the code is specialized on, of at least
    inplace.LARGE entries, and of their adjoints (their dead temporaries are worth writing
    into; the runtime checks each one's shape as it writes)."""
    if not sweep.specialized:
        return frozenset()
    names = {n for n, t in sweep.shape.items() if is_dims(t) and t[1] and all(
        isinstance(d, int) for d in t[1]) and math.prod(t[1]) >= inplace.LARGE}
    adjoints = sweep.namer.adjoints
    return frozenset(names | {adjoints[n] for n in names if n in adjoints})


def number_adjoints(sweep: Sweep) -> frozenset:
    """The adjoints of the names surely holding a number everywhere."""
    adjoints = sweep.namer.adjoints
    return frozenset(adjoints[n] for n, k in sweep.kinds.items() if k == "scalar" and
                     n in adjoints)


def value_kept(fn: ir.Function, plan: Plan, namer: Namer):
    """(name, parts) binding the result before the reverse sweep when the sweep restores it,
    by name or in place (a copy then); None when it leaves the result as it is."""
    result = fn.body[-1].value
    if not isinstance(result, Name):
        return None
    members = aliases(fn).members(result.id)
    stmts = {id(s): s for s in ir.walk(fn.body)}
    # a value saved before a statement is put back in place (runtime.restore): an array
    # the result holds (`return loss, h`, h restored) would change under it
    in_place = any(stmts[sid].target in members for sid in plan.slices) or any(
        v in members and v != result.id and mode is Save.BEFORE
        for saves in plan.saves.values() for v, mode in saves.items())
    if not in_place and not any(result.id in saves for saves in plan.saves.values()):
        return None
    name = namer.fresh(f"{result.id}_value")
    if in_place:
        return name, (RUNTIME, ".kept(", Ref(result.id), ")")
    return name, (Ref(result.id),)


def split(fn: ir.Function, sweep: Sweep, forward: list, backward: list, returned,
          names: tuple[str, str]) -> list[ir.Emitted]:
    """`f_fwd` returns the result and what the reverse sweep reads; `f_bwd` takes them back."""
    bound = {p.name for p in fn.params}
    for item in optimize.lines(sweep.prologue() + forward):
        if isinstance(item, Line):
            bound |= set(item.binds)
        else:
            bound |= {item.target} - {None} | set(item.binds) | {
                b for c in item.clauses for b in c.binds}
    saved = sorted({r for item in optimize.lines(backward + sweep.epilogue())
                    for r in ir.refs(item.head if isinstance(item, Block) else item.parts)
                    if r in bound})
    result = fn.body[-1].value
    pack = ("(", *ir.join([(Ref(n),) for n in saved]), ",)" if len(saved) == 1 else ")")
    maybe = sorted(set(saved) - definitely_bound(sweep.prologue() + forward, {
        p.name for p in fn.params}))
    fwd_body = [Line(("# forward",), comment=True),
                *[Line((Ref(n), f" = {sweep.unbound(n)}"), (n,)) for n in maybe],  # (kept:
                # a loop that makes no trip leaves its target unbound)
                *sweep.prologue(), *forward,
                Line(("return ", *ir.atom_parts(result), ", ", *pack))]
    saved_name = sweep.namer.cached("saved", "saved")
    unpack = [Line((*ir.join([(Ref(n),) for n in saved]), "," if len(saved) == 1 else "",
                    " = ", Ref(saved_name)), tuple(saved))] if saved else []
    bwd_body = [*unpack, Line(("# backward",), comment=True), *backward, *sweep.epilogue(),
                Line(("return ", *returned))]
    fwd_params = format_params(fn.params, None)
    fwd = ir.Emitted(names[0], fwd_params, fwd_body, primal=frozenset(sweep.primal | sweep.slots))
    fwd.result_kind = sweep.kinds.get(result.id) if isinstance(result, Name) else None
    if fwd.result_kind is None and isinstance(result, Name) and result.id in sweep.arrays \
            and result.id not in sweep.seqs:
        fwd.result_kind = "array"  # not a list: its adjoints add with +
    fwd.result_dims = result_dims(fn, sweep.shape, result)
    return [fwd, ir.Emitted(names[1], f"{saved_name}, {sweep.seed}", bwd_body,
                            primal=frozenset(sweep.primal | sweep.slots),
                            numbers=number_adjoints(sweep))]


def result_dims(fn: ir.Function, shape: dict, result) -> object:
    """The shape of what fn returns, where the code is specialized on shapes: a shape, or
    ('items', shapes) for a tuple of arrays (None for an item of unknown shape)."""
    if not isinstance(result, Name):
        return None
    if is_dims(shape.get(result.id)):
        return shape[result.id][1]
    made = [s for s in ir.walk(fn.body) if isinstance(s, Assign) and s.target == result.id]
    if len(made) != 1 or made[0].prim.kind != "tuple":
        return None
    items = tuple(shape[a.id][1] if isinstance(a, Name) and is_dims(shape.get(a.id)) else None
                  for a in made[0].args)
    return ("items", items) if any(d is not None for d in items) else None


def definitely_bound(items: list, bound: set) -> set:
    """Names surely bound after running `items` (both branches of an if; a loop may not run)."""
    bound = set(bound)
    for item in items:
        if isinstance(item, Line):
            bound |= set(item.binds)
        elif item.orelse and item.kind == "if":
            bound |= definitely_bound(item.body, bound) & definitely_bound(item.orelse, bound)
        elif item.kind == "with":
            bound |= definitely_bound(item.body, bound | set(item.binds))
    return bound






def format_params(params: list[ir.Param], seed: str | None) -> str:
    out, star = [], False
    for p in params:
        if p.kind == "varkw":  # **kwargs: after the seed
            continue
        if p.kind == "var":  # *args: the extra positional arguments, a tuple
            out.append(f"*{p.name}")
            star = True
            continue
        if p.kind == "keyword" and not star:
            out.append("*")
            star = True
        out.append(p.name if p.default is None else f"{p.name}={p.default}")
    if seed is not None:
        out.append(f"{seed}=1.0")
    out += [f"**{p.name}" for p in params if p.kind == "varkw"]
    return ", ".join(out)


def apply_renames(fn: ir.Function, renames: dict, namer: Namer) -> ir.Function:
    """Give each top-level redefinition in `renames` a fresh name from there on (one in the
    body of a top-level with too: the body runs whole)."""
    return replace(fn, body=_renamed(fn.body, renames, namer)[0])


def _renamed(body: list, renames: dict, namer: Namer) -> tuple[list, dict]:
    """The body with its redefinitions renamed, and the renames (old -> new) that apply after
    it."""
    body, after = list(body), {}
    for k, s in enumerate(body):
        done = {}
        if isinstance(s, ir.With):
            inner, done = _renamed(s.body, renames, namer)
            if done:
                body[k] = replace(s, body=inner)
        for old in renames.get(id(s), {}):
            new = done[old] = namer.fresh(old)
            if isinstance(s, Assign):
                body[k] = s = replace(s, target=new)
            else:
                body[k] = s = replace(s, targets=tuple(new if t == old else t
                                                       for t in s.targets))
        if done:
            body[k + 1:] = ir.rename(body[k + 1:], done)
            after.update(done)
    return body, after
