"""link: calls of the user's own functions, resolved to their split adjoints before the
reverse stage (the driver compiles each callee; the IR is never changed in place: a linked
function is a new version), and the specialization those adjoints are built for."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace

from . import ir
from . import parse as parse_
from .analysis.activity import analyze
from .analysis.dims import int_arrays, int_value, is_dims, known_ints, split_given
from .analysis.kinds import atom_kind, index_kinds, kinds
from .analysis.terms import shapes
from .analysis.values import _annotated, arrays, is_user_function, sequences
from .errors import MissingRule
from .ir import Assign, Const, Name
from .naming import Namer


@dataclass(frozen=True)
class Spec:
    """What one version of the emitted code is specialized on: the parameters differentiated
    and those known to hold numbers, ints, lists, arrays (or taken to hold arrays)."""

    wrt: tuple[str, ...]
    scalars: frozenset = frozenset()
    ints: frozenset = frozenset()
    seqs: frozenset = frozenset()
    arrays: frozenset = frozenset()
    assumed: tuple[str, ...] = ()
    dims: tuple = ()  # (parameter, shape) of the arrays whose shapes are known
    ndims: tuple = ()  # (parameter, dimensions) of the arrays whose dimensions are known
    split: bool = False  # a helper's split adjoint: its seed comes from its caller
    typed: bool = False  # for a compiler that gives each variable one type (numba)

    def kinds(self, fn: ir.Function) -> dict[str, str]:
        return kinds(fn, set(self.scalars) | _annotated(fn, float),
                     set(self.ints) | _annotated(fn, int), self.ndims)


def assumed(fn: ir.Function, spec: Spec) -> tuple[str, ...]:
    """The parameters of no known kind that the code does not use as lists."""
    seqs = sequences(fn, spec.seqs)
    kinds_ = spec.kinds(fn)
    return tuple(p.name for p in fn.params if p.name not in seqs
                 and p.name not in spec.arrays and kinds_.get(p.name) is None)


def link_calls(fn: ir.Function, spec: Spec, namer: Namer,
               program) -> tuple[ir.Function, frozenset]:
    """Point each call of a user function with active arguments at its emitted adjoint: the
    forward sweep calls `f_fwd` and keeps what it returns for `f_bwd`. Calls of functions
    defined inside this one, with nothing to differentiate, call their lifted primal. The
    callee is specialized on the arguments known to be numbers, ints, lists and arrays
    (`spec.arrays`: the parameters known to hold arrays; `spec.assumed`: those taken to).
    `program` (the driver) compiles each callee: params(f), split(...) and primal(nested).
    Returns the linked version of fn, and the names passed as arrays only because a
    parameter is taken to hold one.

    Where fn is specialized on shapes, so is each callee on the shapes of the arrays it is
    passed. A value a call returns may be passed to that call again (a state carried
    through a loop), so calls not linked yet are taken to return what agrees with the rest;
    once all are linked, the shapes are worked out again from what each returns, and if any
    callee was specialized on a shape its call does not have, fn's calls are linked again
    with no shapes."""
    used: dict[int, tuple] = {}
    mark = program.mark() if spec.dims and program is not None else None
    linked, relied, results = _link_calls(fn, spec, namer, program, used)
    if used and not _confirmed(fn, spec, results, used):
        program.rollback(mark)
        linked, relied, _ = _link_calls(fn, replace(spec, dims=()), namer, program, {})
    return linked, relied


def _confirmed(fn: ir.Function, spec: Spec, results: dict, used: dict) -> bool:
    """Whether each callee specialized on shapes is passed arrays of those shapes."""
    kinds = spec.kinds(fn)
    seqs = sequences(fn, spec.seqs)
    arrs = arrays(fn, kinds, (set(spec.arrays) | set(spec.assumed)) - seqs)
    terms = call_shapes(fn, kinds, seqs, arrs, spec.dims, results, ())
    known = known_ints(fn, *split_given(spec.dims))
    known.update((n, "int") for n in int_arrays(fn, spec.dims))
    return all(callee_kinds(passed, index_kinds(fn, kinds), seqs, arrs, terms, known) == kinds_
               for passed, kinds_ in used.values())


def _link_calls(fn: ir.Function, spec: Spec, namer: Namer, program, used: dict) -> tuple:
    """link_calls, recording in `used` {id(call): (what it passes, the kinds and shapes its
    callee is specialized on)}; returns (linked fn, relied, {id(call): the shape of what it
    returns})."""
    kinds = spec.kinds(fn)
    seqs = sequences(fn, spec.seqs)
    known, assumed = set(spec.arrays), set(spec.assumed)
    arrs = arrays(fn, kinds, (known | assumed) - seqs)
    sure = arrays(fn, kinds, known - seqs) if assumed else arrs
    relied: set[str] = set()
    active = analyze(fn, set(spec.wrt)).active | set(spec.wrt)
    results: dict[int, object] = {}  # id(call) -> the shape of what it returns
    calls = {id(s) for s in ir.walk(fn.body) if isinstance(s, Assign) and s.prim.kind == "call"
             and is_user_function(s.prim.key)}
    known = known_ints(fn, *split_given(spec.dims)) if spec.dims else {}
    known.update((n, "int") for n in int_arrays(fn, spec.dims))

    def link(s):
        if isinstance(s, Assign) and s.target in active and through_value(s, active):
            return link_value_call(fn, s, active, namer)
        if not (isinstance(s, Assign) and s.prim.kind == "call" and is_user_function(s.prim.key)):
            return s
        results[id(s)] = None
        positions = tuple(k for k, a in enumerate(s.args) if isinstance(a, Name)
                          and a.id in active)
        keywords = tuple(k for k, a in s.kwargs if isinstance(a, Name) and a.id in active)
        starred = any(isinstance(a, ir.Expr) for a in s.args) or fills_varargs(s)
        if starred and s.target in active and (positions or keywords or ir.names(s.args)
                                               & active):  # `l2(w1, w2)`, `def l2(*ws)` too
            return link_starred_call(fn, s, active, namer)
        if s.target not in active or not (positions or keywords):
            if isinstance(s.prim.key, parse_.Nested):
                return replace(s, prim=ir.Prim("call", s.prim.key, program.primal(s.prim.key)))
            return s
        if program is None:
            raise fn.source.error(s.node, "calls of your own functions cannot be "
                                  "differentiated here", MissingRule)
        params = program.params(s.prim.key)[:len(s.args)]
        if len(params) < len(s.args):
            raise fn.source.error(s.node, f"{s.prim.spelling} is called with {len(s.args)} "
                                  f"positional arguments but has {len(params)} parameters")
        passed = [*zip(params, s.args, strict=True), *s.kwargs]
        bindings = {k: a.value for k, a in passed if isinstance(a, Const) and callable(a.value)}
        del results[id(s)]  # this call is still to be linked
        terms = call_shapes(fn, kinds, seqs, arrs, spec.dims, results, calls - set(results))
        kinds_ = callee_kinds(passed, index_kinds(fn, kinds), seqs, arrs, terms, known)
        relied.update(a.id for _, a in passed if isinstance(a, Name) and a.id in arrs - sure)
        if len(kinds_) > 5:
            used[id(s)] = (passed, kinds_)
        fwd, bwd, result, made = program.split(s.prim.key, positions, keywords,
                                               set(namer.taken), bindings, kinds_)
        results[id(s)] = made
        short = s.prim.spelling.split(".")[-1]
        return replace(s, tape=namer.cached_for(s, ("tape",), f"{short}_saved"),
                       adjoint=ir.CallLink(fwd, bwd, positions, keywords, result, made))

    body = ir.map_stmts(fn.body, link)
    same = all(a is b for a, b in zip(body, fn.body, strict=True))
    return (fn if same else replace(fn, body=body)), frozenset(relied), results


def callee_kinds(passed: list, kinds: dict, seqs: set, arrs: set, terms: dict,
                 known: dict) -> tuple:
    """What a callee is specialized on: the parameters passed numbers, ints, lists and
    arrays, and, where the caller is specialized on shapes, (parameter, shape) of its
    arrays and (parameter, int) of the ints known there (constants, and ints read off
    shapes: `known`, where 'int' marks a name holding integer arrays). A value of known
    shape is an array (or a NumPy number), wherever it came from."""
    scalars = tuple(k for k, a in passed if atom_kind(a, kinds) == "scalar")
    ints = tuple(k for k, a in passed if atom_kind(a, kinds) == "int" or (
        isinstance(a, Name) and isinstance(known.get(a.id), int)))
    shaped = {a.id for k, a in passed if isinstance(a, Name) and is_dims(terms.get(a.id))
              and atom_kind(a, kinds) is None and k not in ints}
    lists = tuple(k for k, a in passed if isinstance(a, Name) and a.id in seqs - shaped)
    arrays_ = tuple(k for k, a in passed if isinstance(a, Name) and (
        a.id in arrs or a.id in shaped) and atom_kind(a, kinds) is None and k not in ints)
    dims_ = tuple((k, terms[a.id][1]) for k, a in passed if isinstance(a, Name)
                  and a.id in shaped)
    if terms:
        dims_ += tuple((k, v) for k, a in passed if k in ints and isinstance(
            v := int_value(a, known), int))
        dims_ += tuple((k, "int") for k, a in passed if isinstance(a, Name) and a.id in shaped
                       and known.get(a.id) == "int")
    return (scalars, ints, lists, arrays_, (), dims_) if dims_ else (
        scalars, ints, lists, arrays_)


def call_shapes(fn: ir.Function, kinds: dict, seqs: set, arrs: set, dims: tuple,
                results: dict, pending: set | tuple) -> dict:
    """The shape terms of fn's names where fn is specialized on its arrays' shapes (so a
    callee is specialized on the shapes it is passed), else none; `results`: {id(call):
    the shape of what it returns, or None} of the calls linked so far, `pending`: those
    not linked yet."""
    if not dims:
        return {}
    names = {p.name for p in fn.params} | {n for s in ir.walk(fn.body) for n in ir.defs(s)}
    return shapes(fn, kinds, seqs | (names - arrs), dims,
                  tuple((k, v) for k, v in results.items() if v is not None),
                  tuple(sorted(pending)))


# methods of objects that are containers' own: never called through a value
CONTAINER_METHODS = frozenset({"append", "pop", "extend", "insert", "index", "count", "get",
                               "items", "keys", "values", "copy", "setdefault", "update"})


def through_value(s: Assign, active: set) -> bool:
    """Whether s calls a function held in a value with arguments that carry a derivative: a
    call through a name or expression, or a method with no rule of an object that carries
    none (`self.act(z)`, `MODEL.log_prior(w)`: its bound method)."""
    p = s.prim
    if p.kind == "call" and p.key is ir.DYNAMIC:
        rest = (*s.args, *(v for _, v in s.kwargs))  # the function too: refused if active
    elif p.kind == "method" and p.key is None and p.spelling not in CONTAINER_METHODS:
        if isinstance(s.args[0], Name) and s.args[0].id in active:
            return False  # a method of a value that carries a derivative: a rule or refused
        rest = (*s.args[1:], *(v for _, v in s.kwargs))
    else:
        return False
    return bool(ir.names(rest) & active)


def fills_varargs(s: Assign) -> bool:
    """Whether a call of a function of the user's (not one defined inside the differentiated
    one) passes values to its *args: `l2(w1, w2)` of `def l2(*ws)`."""
    code = getattr(s.prim.key, "__code__", None)
    return code is not None and not isinstance(s.prim.key, parse_.Nested) and bool(
        code.co_flags & inspect.CO_VARARGS) and len(s.args) > code.co_argcount


def link_starred_call(fn: ir.Function, s: Assign, active: set, namer: Namer) -> Assign:
    """`step(h, x, *cell)` with values that carry a derivative in `cell`: a call through the
    function's value, whose items are known as it runs (`runtime.spread`)."""
    if isinstance(s.prim.key, parse_.Nested):
        raise fn.source.error(s.node, f"{s.prim.spelling} is called with *-unpacking and "
                              "values that carry a derivative; pass the arguments one by one")
    through = replace(s, prim=ir.Prim("call", ir.DYNAMIC, s.prim.spelling), args=(
        Const(s.prim.key, s.prim.spelling), *s.args))
    return link_value_call(fn, through, active, namer, named=s)


def link_value_call(fn: ir.Function, s: Assign, active: set, namer: Namer,
                    named: Assign | None = None) -> Assign:
    """The forward sweep calls `runtime.call_fwd(f, positions, keywords, *args)`, which
    finds (and compiles, once per function and argument kinds) the split adjoint of the
    function f holds; the reverse sweep calls `runtime.call_bwd` with what it kept.
    `named`: the statement of the function's body the tape is named for (s itself)."""
    named = s if named is None else named
    if s.prim.kind == "method":  # the bound method, read where the call runs
        callee: ir.Atom = ir.Expr("{0}." + s.prim.spelling, (s.args[0],))
        spelling = f"{ir.text(ir.atom_parts(s.args[0]))}.{s.prim.spelling}"
    else:
        callee, spelling = s.args[0], s.prim.spelling
    if ir.names([callee]) & active:  # held with values that do (`y, act = pick(x)`)
        callee = ir.Expr("runtime.plain({0}, " + repr(spelling) + ")", (callee,))
    rest = tuple(ir.Expr("runtime.spread({0})", a.args) if isinstance(a, ir.Expr)
                 and a.template == "*{0}" and ir.names([a]) & active else a for a in s.args[1:])
    positions = tuple(k for k, a in enumerate(rest) if ir.names([a]) & active)
    keywords = tuple(k for k, a in s.kwargs if isinstance(a, Name) and a.id in active)
    marks = (Const(positions, repr(positions)), Const(keywords, repr(keywords)))
    short = spelling.split(".")[-1].split("[")[0] or "call"
    tape = namer.cached_for(named, ("tape",), f"{naming_short(short)}_saved")
    return replace(s, prim=ir.Prim("call", ir.DYNAMIC, spelling), args=(callee, *marks, *rest),
                   tape=tape, adjoint=ir.CallLink("runtime.call_fwd", "runtime.call_bwd",
                                                  tuple(k + 3 for k in positions), keywords,
                                                  None))


def naming_short(text: str) -> str:
    """An identifier from the spelling of what is called."""
    word = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_")
    return word if word and not word[0].isdigit() else "call"
