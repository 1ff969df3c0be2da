"""link: calls of the user's own functions, resolved to their split adjoints before the
reverse stage (the driver compiles each callee; the IR is never changed in place: a linked
function is a new version), and the specialization those adjoints are built for."""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import ir
from . import parse as parse_
from .analysis.activity import analyze
from .analysis.kinds import atom_kind, kinds
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

    def kinds(self, fn: ir.Function) -> dict[str, str]:
        return kinds(fn, set(self.scalars) | _annotated(fn, float),
                     set(self.ints) | _annotated(fn, int))


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
    parameter is taken to hold one."""
    kinds = spec.kinds(fn)
    seqs = sequences(fn, spec.seqs)
    known, assumed = set(spec.arrays), set(spec.assumed)
    arrs = arrays(fn, kinds, (known | assumed) - seqs)
    sure = arrays(fn, kinds, known - seqs) if assumed else arrs
    relied: set[str] = set()
    active = analyze(fn, set(spec.wrt)).active | set(spec.wrt)

    def link(s):
        if not (isinstance(s, Assign) and s.prim.kind == "call" and is_user_function(s.prim.key)):
            return s
        positions = tuple(k for k, a in enumerate(s.args) if isinstance(a, Name)
                          and a.id in active)
        keywords = tuple(k for k, a in s.kwargs if isinstance(a, Name) and a.id in active)
        starred = any(isinstance(a, ir.Expr) for a in s.args)
        if starred and s.target in active and (positions or keywords or ir.names(s.args)
                                               & active):
            raise fn.source.error(s.node, f"{s.prim.spelling} is called with *-unpacking "
                                  "and values that carry a derivative; pass the arguments "
                                  "one by one")
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
                                  f"positional arguments but has {len(params)} parameters "
                                  "(*args is not supported)")
        passed = [*zip(params, s.args, strict=True), *s.kwargs]
        bindings = {k: a.value for k, a in passed if isinstance(a, Const) and callable(a.value)}
        scalars = tuple(k for k, a in passed if atom_kind(a, kinds) == "scalar")
        ints = tuple(k for k, a in passed if atom_kind(a, kinds) == "int")
        lists = tuple(k for k, a in passed if isinstance(a, Name) and a.id in seqs)
        arrays_ = tuple(k for k, a in passed if isinstance(a, Name) and a.id in arrs
                        and atom_kind(a, kinds) is None)
        relied.update(a.id for _, a in passed if isinstance(a, Name) and a.id in arrs - sure)
        fwd, bwd, result = program.split(s.prim.key, positions, keywords, set(namer.taken),
                                         bindings, (scalars, ints, lists, arrays_))
        short = s.prim.spelling.split(".")[-1]
        return replace(s, tape=namer.cached(("tape", id(s)), f"{short}_saved"),
                       adjoint=ir.CallLink(fwd, bwd, positions, keywords, result))

    body = ir.map_stmts(fn.body, link)
    same = all(a is b for a, b in zip(body, fn.body, strict=True))
    return (fn if same else replace(fn, body=body)), frozenset(relied)
