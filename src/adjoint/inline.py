"""inline: the statements of small helpers of the user's put in place of their calls.

Where a gradient is specialized on the shapes of its arrays, a call of a small helper with
arguments that carry a derivative (`forget = sigmoid(z)`, `proj = project(cam, X)`) is
replaced by the helper's own statements, its locals given names of the caller's: what a
person writing the gradient by hand does. The gradient then makes no call and keeps no tuple
of saved values in either sweep, and every analysis sees the helper's statements in the
caller's context (shapes, shifts, accumulations in loops).

A call is inlined only where nothing can change: the helper is a plain function of the
user's (no closure, no lambda, no function defined inside another), every parameter is
passed (or has a literal default), no argument is starred or a function, the helper changes
none of its arguments in place and calls nothing through a value, its names mean in its
module what they mean in the caller's (or the caller does not read them), and it is small.
Anything else is left to the split adjoint (`f_fwd`/`f_bwd`, link.py). Errors in inlined
statements name the helper's own file and line: the caller's source knows the helper's."""

from __future__ import annotations

import ast
import types
from dataclasses import dataclass, field, replace

from . import ir
from . import normalize as normalize_
from . import parse as parse_
from .analysis.activity import analyze
from .analysis.memory import mutated_params
from .analysis.values import is_user_function
from .errors import AdjointError
from .ir import Assign, Const, Name
from .naming import Namer

MAX_STATEMENTS = 60  # a helper's statements, once normalized, for it to be inlined
MAX_ROUNDS = 4  # helpers calling helpers: inlined this many levels deep
MAX_GROWTH = 600  # statements the caller may gain in all


@dataclass
class Inlined:
    """The caller with its helpers' statements in place, and what they came from."""

    fn: ir.Function
    helpers: list = field(default_factory=list)  # (function, Source, globals) of each


def inline_calls(fn: ir.Function, wrt: tuple, namer: Namer, reserved: set) -> Inlined:
    """fn with the calls of small helpers that carry a derivative replaced by the helpers'
    statements (module doc); `reserved`: names the caller's module already gives out."""
    done = Inlined(fn)
    helpers: dict = {}  # function -> its normalized IR and Source, or None: not inlined
    grown = 0
    for _ in range(MAX_ROUNDS):
        active = analyze(done.fn, set(wrt)).active | set(wrt)
        locals_ = _locals(done.fn)
        changed = False
        for s in ir.walk(done.fn.body):  # no helper's local takes the name of another's global
            helper = _eligible(s, active, helpers, namer, reserved)
            for name in helper[0].globals if helper is not None else ():
                namer.reserve(name)

        def splice(s, active=active, locals_=locals_):
            nonlocal grown, changed
            helper = _eligible(s, active, helpers, namer, reserved)
            if helper is None or grown + len(helper[0].body) > MAX_GROWTH:
                return [s]
            callee, src = helper
            if not _same_globals(done.fn, callee, locals_):
                return [s]
            grown += len(callee.body)
            changed = True
            if all(h[0] is not s.prim.key for h in done.helpers):
                done.helpers.append((s.prim.key, src, callee.globals))
            done.fn = replace(done.fn, globals={**done.fn.globals, **callee.globals})
            for name in callee.globals:
                namer.reserve(name)
            stmts = _inlined(s, callee, namer, src)
            locals_ |= {n for x in ir.walk(stmts) for n in ir.defs(x)}  # (later helpers')
            return stmts

        body = _splice(done.fn.body, splice)
        if not changed:
            break
        guests = (*done.fn.source.guests, *(src for _, src, _ in done.helpers
                                           if src not in done.fn.source.guests))
        done.fn = replace(done.fn, body=body, source=replace(done.fn.source, guests=guests))
    return done


def _splice(body: list, f) -> list:
    """A new body with each simple statement s replaced by the statements f(s) gives."""
    out: list = []
    for s in body:
        old = ir.blocks(s)
        if not old:
            out.extend(f(s))
            continue
        new = [_splice(b, f) for b in old]
        changed = any(len(a) != len(b) or any(x is not y for x, y in zip(a, b, strict=True))
                      for a, b in zip(new, old, strict=True))
        out.append(ir.with_blocks(s, new) if changed else s)
    return out


def _eligible(s, active: set, helpers: dict, namer: Namer, reserved: set) -> tuple | None:
    """(the helper's IR, its Source) where the call s may be inlined, else None."""
    if not (isinstance(s, Assign) and s.prim.kind == "call" and s.target in active
            and _plain_function(s.prim.key)):
        return None
    if not any(isinstance(a, Name) and a.id in active for a in (*s.args, *dict(s.kwargs).values())):
        return None
    if any(not isinstance(a, (Name, Const)) or isinstance(a, Const) and callable(a.value)
           for a in (*s.args, *dict(s.kwargs).values())):
        return None  # starred, or a function passed (the helper is specialized on it)
    fn = s.prim.key
    if fn not in helpers:
        helpers[fn] = _helper(fn, reserved)
    helper = helpers[fn]
    if helper is None or _bound(s, helper[0]) is None:
        return None
    return helper


def _plain_function(fn) -> bool:
    return isinstance(fn, types.FunctionType) and not parse_.is_lambda(fn) and not (
        fn.__closure__) and is_user_function(fn) and not (
        getattr(fn, "__module__", "") or "").startswith("adjoint")


def _helper(fn, reserved: set) -> tuple | None:
    """The normalized IR and Source of a helper that may be inlined, or None."""
    try:
        src = parse_.parse(fn)
        callee = normalize_.normalize(src, Namer(reserved))
    except AdjointError:
        return None  # its split adjoint says why, where it is compiled
    if callee.defaults or any(p.kind not in ("positional", "keyword") for p in callee.params):
        return None
    stmts = list(ir.walk(callee.body))
    if len(stmts) > MAX_STATEMENTS or mutated_params(callee):
        return None
    for x in stmts:
        if isinstance(x, Assign) and (x.prim.key is fn or isinstance(
                x.prim.key, parse_.Nested) or (x.prim.kind == "call" and x.prim.key is
                                               ir.DYNAMIC) or (
                x.prim.kind == "method" and x.prim.key is None)):
            return None  # a call through a value or a method with no rule may change state
    return callee, src


def _bound(s: Assign, callee: ir.Function) -> dict | None:
    """{parameter: the atom the call passes it}, or None where the call does not pass each
    parameter once (a literal default counts as passed)."""
    params = callee.params
    positional = [p for p in params if p.kind == "positional"]
    if len(s.args) > len(positional):
        return None
    bound = {p.name: a for p, a in zip(positional, s.args, strict=False)}
    for k, a in s.kwargs:
        if k in bound or k not in {p.name for p in params}:
            return None
        bound[k] = a
    for p in params:
        if p.name not in bound:
            value = _literal(p.default)
            if value is None:
                return None
            bound[p.name] = Const(value[0], p.default)
    return bound


def _literal(text: str | None) -> tuple | None:
    """(value,) of a default written as a number, a string, True, False or None."""
    if text is None:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return (value,) if isinstance(value, (int, float, complex, str, bool, type(None))) else None


def _locals(fn: ir.Function) -> set:
    return {p.name for p in fn.params} | {n for s in ir.walk(fn.body) for n in ir.defs(s)}


def _same_globals(fn: ir.Function, callee: ir.Function, locals_: set) -> bool:
    """Whether the helper's global names mean in the caller what they mean in its module,
    and no local of the caller's hides one."""
    return all(fn.globals.get(n, obj) is obj and n not in locals_
               for n, obj in callee.globals.items())


def _inlined(s: Assign, callee: ir.Function, namer: Namer, src) -> list:
    """The statements standing for the call s: the helper's body, its locals renamed to
    fresh names of the caller's, each parameter the caller's atom, the result the call's
    target."""
    bound = _bound(s, callee)
    names = {n for x in ir.walk(callee.body) for n in ir.defs(x)}
    result = callee.body[-1].value
    mapping: dict[str, str] = {}
    pre = []
    rebound = {}
    for p in callee.params:
        a = bound[p.name]
        if isinstance(a, Name) and p.name not in names:
            mapping[p.name] = a.id
        else:  # a constant, or a parameter the helper rebinds: a local of its own
            mapping[p.name] = namer.fresh(p.name)
            rebound[mapping[p.name]] = a
    passed = {a.id for a in bound.values() if isinstance(a, Name)}
    into_target = isinstance(result, Name) and result.id in names - set(mapping) and \
        s.target not in passed
    for n in sorted(names - set(mapping)):
        mapping[n] = s.target if into_target and n == result.id else namer.fresh(n)
    labels: dict = {}
    body = [_labelled(x, callee.name, labels) for x in ir.rename(callee.body[:-1], mapping)]
    for local, a in rebound.items():
        body, kept = _read_before(body, local, a)
        if kept:
            pre.append(Assign(local, ir.COPY, (a,), origin=s.origin, node=s.node))
    if not into_target:
        value = ir.rename([callee.body[-1]], mapping)[0].value
        body.append(Assign(s.target, ir.COPY, (value,), origin=_label(
            callee.body[-1].origin, callee.name, labels), node=s.node))
    return pre + body


def _read_before(body: list, local: str, a) -> tuple[list, bool]:
    """body with the parameter `local` read as the caller's name `a` up to (and in) the
    statement that first binds it, where that is a simple statement of the helper's own
    body (the usual `x = x * 2`): no copy of the argument is made. Else body as it is, and
    True: the parameter needs a local of its own from the start."""
    first = next((k for k, x in enumerate(body) if any(
        local in ir.defs(y) for y in ir.walk([x]))), None)
    if not isinstance(a, Name) or first is None or not isinstance(
            body[first], (Assign, ir.Unpack)):
        return body, True
    swap = {local: a.id}
    bound = ir.rename([body[first]], swap)[0]
    if isinstance(bound, Assign):
        bound = replace(bound, target=body[first].target)
    else:
        bound = replace(bound, targets=body[first].targets)
    return [*ir.rename(body[:first], swap), bound, *body[first + 1:]], False


def _labelled(s, helper: str, labels: dict):
    """s (and what it holds), its origin's text saying which helper it is from."""
    blocks = ir.blocks(s)
    if blocks:
        s = ir.with_blocks(s, [[_labelled(x, helper, labels) for x in b] for b in blocks])
    if isinstance(s, ir.Try):
        s = replace(s, handlers=[replace(h, origin=_label(h.origin, helper, labels))
                                 for h in s.handlers])
    origin = getattr(s, "origin", None)
    return replace(s, origin=_label(origin, helper, labels)) if origin else s


def _label(origin, helper: str, labels: dict):
    """`helper: <the line>`, one record for each line (the reverse sweep heads each run of
    statements from one line with one comment)."""
    if origin is None or origin.text.startswith(f"{helper}: "):
        return origin
    if id(origin) not in labels:
        labels[id(origin)] = (origin, ir.Origin(f"{helper}: {origin.text}", origin.node))
    return labels[id(origin)][1]
