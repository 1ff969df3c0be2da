"""tangent: forward mode. `emit.Tangent` writes the tangent function of one IR function;
`add` puts it, and the tangent functions of the user's functions it calls, in a Program
(the module the reverse mode's gradients go in too)."""

from __future__ import annotations

from typing import Any

from .. import ir
from .. import normalize as normalize_
from .. import optimize as optimize_
from .. import parse as parse_
from ..analysis.contents import made_lists
from ..analysis.memory import mutated_params, numbers_rebound
from ..errors import UnsupportedSyntax, stage
from ..naming import Namer
from ..reverse.driver import format_params
from .emit import Tangent

__all__ = ["add"]


def add(program: Any, fn: Any, wrt: Any, name: str | None = None,
        bindings: dict | None = None, lists: tuple = ()) -> tuple[ir.Emitted, tuple[str, ...]]:
    """The tangent function of `fn` with respect to `wrt` (named `name`, else jvp_<f>),
    added to `program` with those of the functions it calls: it takes fn's arguments and
    a tangent keyword `<param>_dot` per parameter in wrt, and returns (value, tangent).
    `lists`: the parameters its caller passes lists."""
    from ..program import RESERVED, resolve_wrt

    called = name is not None and bindings is None  # a function the differentiated one calls

    with stage("reading", fn):
        src = parse_.parse(fn, bindings)
    namer = Namer(RESERVED | program.names.taken)
    with stage("normalizing", fn):
        normalized = numbers_rebound(normalize_.normalize(src, namer))
    names = resolve_wrt(normalized, wrt) if name is None else tuple(wrt)
    name = name or program.names.fresh(f"jvp_{normalized.name}")
    namer.reserve(name)

    def link(s: ir.Assign, varied: set) -> tuple[str, list]:
        return _link(program, normalized, s, varied)

    with stage("differentiating (forward mode)", fn):
        emitter = Tangent(normalized, names, namer, link, lists,
                          _guards(normalized) if called else {})
        body = emitter.body(normalized.body)
        body = _prologue(normalized, names, emitter, body) + body
    params = list(normalized.params)
    dots = [ir.Param(emitter.dot(w), None, "keyword") for w in names]
    cut = next((k for k, p in enumerate(params) if p.kind == "varkw"), len(params))
    primal = frozenset(p.name for p in params) | frozenset(
        n for x in ir.walk(normalized.body) for n in ir.defs(x))
    emitted = ir.Emitted(name, format_params([*params[:cut], *dots, *params[cut:]], None), body,
                         primal=primal)
    if program.optimize:
        emitted = optimize_.optimize(emitted)
    program.merge(normalized.globals, normalized.name, getattr(fn, "__module__", None))
    program.resolved.append((src.fn, src.resolved))
    program.hold_defaults(normalized)
    for global_name in normalized.globals:
        program.add_owner(global_name, src.fn)
    program.compiled.append(fn)
    program.functions.append(emitted)
    return emitted, names


def _guards(fn: ir.Function) -> dict[int, str]:
    """Of a function the differentiated one calls: the `q += v` changing a parameter q (a
    number rebinds, an array would change the caller's: checked as it runs), each item
    write into a parameter refused, as the reverse mode does."""
    guards = {}
    for param, stmts in mutated_params(fn).items():
        for s in stmts:
            if not isinstance(s, ir.Assign):
                raise fn.source.error(
                    s.origin.node if s.origin else fn.source.funcdef,
                    f"{fn.name} changes its argument {param} in place; a function called by "
                    "differentiated code must return new values instead", UnsupportedSyntax)
            guards[id(s)] = param
    return guards


def _prologue(fn: ir.Function, wrt: tuple[str, ...], emitter: Tangent, body: list) -> list:
    """A tangent of its own for each parameter the function writes into; a zero tangent for
    each other parameter a varying value rebinds later; None for each tangent first bound
    inside a block (read only where its value was bound, as the primal's names are)."""
    mutated = set(mutated_params(fn)) & set(wrt)
    out = [emitter.set_dot(p, ("runtime.tangent_copy(", ir.Ref(emitter.dot(p)), ")"))
           for p in sorted(mutated)]
    out += [emitter.set_dot(p.name, ("runtime.zero_tangent(", ir.Ref(p.name), ")"))
            for p in fn.params if p.name in emitter.varied and p.name not in wrt]
    top = {b for item in body if isinstance(item, ir.Line) for b in item.binds}
    inner = {b for item in body if isinstance(item, ir.Block) for b in _binds(item)}
    dots = {emitter.dot(n) for n in emitter.varied - {p.name for p in fn.params}}
    return out + [emitter.set_dot_name(d, ("None",)) for d in sorted((inner - top) & dots)]


def _binds(block: ir.Block) -> set:
    out: set = set()
    for body in block.bodies():
        for item in body:
            out |= _binds(item) if isinstance(item, ir.Block) else set(item.binds)
    return out


def _link(program: Any, caller: ir.Function, s: ir.Assign, varied: set) -> tuple[str, list]:
    """(name of the callee's tangent function, [(its parameter, the atom passed)] for the
    varying arguments) of a call of the user's function; compiled once per callee and
    varying parameters."""
    callee = s.prim.key
    params = program.params(callee)
    passed = [(params[k], a) for k, a in enumerate(s.args)
              if isinstance(a, ir.Name) and a.id in varied and k < len(params)]
    passed += [(k, a) for k, a in s.kwargs if isinstance(a, ir.Name) and a.id in varied]
    if any(isinstance(a, ir.Expr) and ir.names([a]) & varied for a in (*s.args, *(
            v for _, v in s.kwargs))) or len(s.args) > len(params):
        raise caller.source.error(s.node, f"forward mode does not pass *-unpacked values that "
                                  f"vary to {s.prim.spelling} yet", UnsupportedSyntax)
    wrt = tuple(p for p, _ in passed)
    made = made_lists(caller)
    lists = tuple(params[k] for k, a in enumerate(s.args)
                  if isinstance(a, ir.Name) and a.id in made and k < len(params))
    key = ("jvp", callee, wrt, lists)
    if key not in program.callees:
        base = parse_.function_name(callee)
        program.callees[key] = program.names.fresh(f"{base}_jvp")
        add(program, callee, wrt, program.callees[key], lists=lists)
    return program.callees[key], passed
