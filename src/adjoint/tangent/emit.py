"""emit: the tangent function of one IR function (forward mode). It runs the primal as
written, with beside each line that makes a value varying with the differentiated
parameters the line making its tangent (`x_dot`), under a `# tangent of:` comment with the
user's line. Loops, branches and in-place writes keep their shape: nothing is recorded,
the tangent travels with the value. The statements it cannot follow are refused, naming
them (try, with, calls through values, attribute writes of varying values)."""

from __future__ import annotations

import operator
from dataclasses import replace

from .. import ir, rules, runtime
from ..analysis import effects
from ..analysis.activity import analyze
from ..analysis.contents import float_arrays, made_lists
from ..analysis.memory import check_writes
from ..analysis.values import is_user_function, sequences
from ..errors import AdjointError, MissingRule, UnsupportedSyntax
from ..ir import Assign, Block, Line, Ref
from ..link import fills_varargs
from ..naming import Namer
from ..normalize.syntax import one_line
from ..reverse.forward import effectful
from ..reverse.refs import item_check, module_aliases
from . import rules as tangent_rules
from .rules import in_tables

RUNTIME = "runtime"


class Tangent:
    """The emitter: one per function; `link(s)` gives (jvp name, varied positions,
    keywords) of a call of the user's function `s` makes with varying arguments."""

    def __init__(self, fn: ir.Function, wrt: tuple[str, ...], namer: Namer, link,
                 lists: tuple = (), guards: dict | None = None):
        check_writes(fn)
        self.guards = guards or {}  # id(q += v) -> the parameter q (runtime.rebinds)
        self.fn, self.wrt, self.namer, self.link = fn, wrt, namer, link
        facts = analyze(fn, set(wrt))
        self.varied = facts.active | set(wrt)  # varied, and read on to the result
        self.depends = facts.varied | set(wrt)  # varied, read on to the result or not
        for s in ir.walk(fn.body):
            why = effects.writer_refusal(s, self.depends)
            if why is not None:
                raise self.error(s, why)
        self.origin = None
        self.modules = module_aliases(fn)
        self.displayed = frozenset(made_lists(fn, lists))  # lists: arrays to NumPy
        self.floats = float_arrays(fn, set(wrt))  # a value written in is never cast
        self.written = {x.target for x in ir.walk(fn.body) if isinstance(x, (
            ir.SetItem, ir.Append)) or isinstance(x, Assign) and x.inplace}
        self.written |= {x.target for x in ir.walk(fn.body) if _adds_at(x)}
        self.seqs = sequences(fn, lists)  # names that may hold lists, tuples or dicts

    def dot(self, name: str) -> str:
        return self.namer.cached(("dot", name), f"{name}_dot")

    def error(self, s, msg: str, cls=UnsupportedSyntax) -> Exception:
        node = s.origin.node if getattr(s, "origin", None) else self.fn.source.funcdef
        return self.fn.source.error(node, msg, cls)

    def body(self, stmts: list) -> list:
        out: list = []
        for s in stmts:
            origin = getattr(s, "origin", None)
            if origin is not None and origin is not self.origin and not isinstance(
                    s, ir.Return):
                self.origin = origin
                out.append(Line((f"# tangent of: {one_line(origin.text)}",),
                                comment=True))
            out += self.stmt(s)
        return out

    def stmt(self, s) -> list:
        if isinstance(s, Assign):
            return self.assign(s)
        if isinstance(s, ir.SetItem):
            return self.setitem(s)
        if isinstance(s, ir.Append):
            line = Line(ir.stmt_parts(s))
            if s.target not in self.varied:
                return [line]
            return [line, Line((Ref(self.dot(s.target)), ".append(", *self.of(s.value), ")"))]
        if isinstance(s, ir.Unpack):
            line = Line(ir.stmt_parts(s), tuple(s.targets))
            if not set(s.targets) & self.varied:
                return [line]
            targets = ir.join([(Ref(self.dot(t)),) for t in s.targets])
            return [Line((*targets, *((",",) if len(s.targets) == 1 else ()), " = ",
                          *self.of(s.value)), tuple(self.dot(t) for t in s.targets)), line]
        if isinstance(s, ir.If):
            return [Block(("if ", *ir.atom_parts(s.test), ":"), self.body(s.body),
                          self.body(s.orelse))]
        if isinstance(s, ir.For):
            return [Block(("for ", Ref(s.target), " in ", *ir.atom_parts(s.iter), ":"),
                          self.body(s.body))]
        if isinstance(s, ir.While):
            stop = Block(("if not ", *ir.atom_parts(s.test), ":"), [Line(("break",))])
            return [Block(("while True:",), [*self.body(s.prelude), stop, *self.body(s.body)])]
        if isinstance(s, (ir.Break, ir.Continue)):
            return [Line(ir.stmt_parts(s))]
        if isinstance(s, ir.Return):
            return [Line(("return ", *ir.atom_parts(s.value), ", ", *self.of(s.value)))]
        if isinstance(s, ir.With):  # the tangent lines run inside the same managers
            binds = tuple(item.name for item in s.items if item.name)
            return [Block(ir.stmt_parts(s), self.body(s.body), binds=binds)]
        if isinstance(s, ir.Try):  # an exception stops primal and tangent at the same line
            clauses = [ir.Clause(ir.handler_head(h.types, h.name), self.body(h.body),
                                 (h.name,) if h.name else ()) for h in s.handlers]
            clauses += [ir.Clause(head, self.body(block)) for head, block in (
                (("else:",), s.orelse), (("finally:",), s.finalbody)) if block]
            if not clauses:  # `try: ... finally: pass`: the body alone
                return self.body(s.body)
            return [Block(("try:",), self.body(s.body), clauses=clauses)]
        raise self.error(s, f"forward mode does not follow {type(s).__name__} statements yet; "
                         "use adjoint.grad or adjoint.vjp")

    def setitem(self, s: ir.SetItem) -> list:
        """`y[i] = v` and `y[i] op= v`: the same write into y's tangent (before the primal
        write, where the tangent reads the entries it overwrites)."""
        line = Line(ir.stmt_parts(s))
        checks = [item_check(s, self.fn.name)] if (s.op in ("+", "-") or s.aug) and \
            s.target in self.seqs and s.target in self.depends else []
        if s.target not in self.varied:
            return [*checks, line]
        return [*checks, *self.item_tangent(s, line)]

    def item_tangent(self, s: ir.SetItem, line: Line) -> list:
        place = (Ref(self.dot(s.target)), "[", *ir.index_parts(s.index), "]")
        old = (Ref(s.target), "[", *ir.index_parts(s.index), "]")
        v, v_dot = ir.atom_parts(s.value), self.of(s.value)
        if s.target not in self.floats:  # an array of ints or bools casts what it gets
            v_dot = (RUNTIME, ".written(", *v_dot, ", ", Ref(s.target), ")")
        if s.op in ("", "+", "-"):
            return [line, Line((*place, f" {s.op}= ", *v_dot))]
        if s.op == "at":
            return [line, Line(ir.add_at_parts((Ref(self.dot(s.target)),), s.index, v_dot))]
        if s.op == "*":
            return [Line((*place, " = ", *place, " * ", *v, " + ", *old, " * ", *v_dot)), line]
        if s.op == "/":
            return [Line((*place, " = (", *place, " - ", *old, " / ", *v, " * ", *v_dot, ") / ",
                          *v)), line]
        raise self.error(s, f"forward mode does not follow `{s.op}=` writes into arrays yet")

    def of(self, atom) -> ir.Parts:
        """The tangent of an atom: its `_dot` name, or a zero of its kind."""
        if isinstance(atom, ir.Name) and atom.id in self.varied:
            return (Ref(self.dot(atom.id)),)
        return (RUNTIME, ".zero_tangent(", *ir.atom_parts(atom), ")")

    def assign(self, s: Assign) -> list:
        if id(s) in self.guards:  # `q += v` on a parameter: a number rebinds
            check = Line((RUNTIME, ".rebinds(", *ir.atom_parts(s.args[0]), ", ",
                          repr(self.fn.name), ", ", repr(self.guards[id(s)]), ")"))
            return [check, *self.assign_checked(s)]
        return self.assign_checked(s)

    def assign_checked(self, s: Assign) -> list:
        if s.shared:  # `s = c; s += v`: a number rebinds; an array is refused as it runs
            check = Line((RUNTIME, ".rebinds_number(", *ir.atom_parts(s.args[0]), ", ", repr(
                self.fn.name), f", {s.target!r}, {s.shared!r}, {s.prim.spelling!r})"))
            return [check, *self.assign_checked(replace(s, shared=""))]
        line = Line(ir.stmt_parts(s), (s.target,) if s.target else (), effect=effectful(s))
        if s.prim.kind == "setattr":  # kept for the user, or refused as the reverse mode does
            value = ir.names(s.args[-1:]) & self.varied
            if (s.prim.key & self.varied) or value and not effects.stored_unread(
                    s, self.fn.source):
                raise self.error(s, "an attribute is set from a value that varies with what "
                                 "is differentiated, and read back: its derivative would be "
                                 "lost; keep the value in a local name (or return it)")
            return [line]
        popped = s.args[0] if s.prim.kind == "method" and s.prim.key is None and \
            s.prim.spelling == "pop" and s.args else None
        if isinstance(popped, ir.Name) and popped.id in self.varied and (
                s.target is None or s.target not in self.varied):
            # a stack's tangent is popped with it, even where the item's tangent is unused
            return [line, Line((*self.of(popped), ".pop(", *ir.join(
                [ir.atom_parts(a) for a in s.args[1:]]), ")"))]
        if s.target is None or s.target not in self.varied:
            passive = s.prim.key is not None and (rules.is_passive(s.prim.key) or getattr(
                s.prim.key, "__name__", "") in ("check_distinct", "rebinds"))
            passed = [*s.args, *(v for _, v in s.kwargs)]
            if s.target is None and ir.names(passed) & self.varied and \
                    s.prim.kind not in ("expr",) and not passive:
                why = effects.refusal(s, [bool(ir.names([a]) & self.varied) for a in passed],
                                      self.varied, self.fn)  # a callback: as in the primal
                if why is not None:
                    raise self.error(s, why)
            return [line]
        inputs = ir.names([*s.args, *(v for _, v in s.kwargs)]) | (
            set(ir.names(s.index.atoms())) if s.index else set())
        if inputs & self.varied and s.prim.kind == "call" and (
                is_user_function(s.prim.key) and not in_tables(s.prim.key)):
            return [self.call(s)]
        if inputs & self.varied and s.prim.kind == "call" and s.prim.key is ir.DYNAMIC:
            return [self.value_call(s)]
        if inputs & self.varied and s.prim.kind == "method" and s.prim.key is None and \
                not ir.names(s.args[:1]) & self.varied and s.prim.spelling != "pop":
            # a method of an object that does not vary (`MODEL.predict(W, X)`): its function
            callee = ir.Expr("{0}." + s.prim.spelling, (s.args[0],))
            return [self.value_call(replace(s, prim=ir.Prim(
                "call", ir.DYNAMIC, f"{ir.text(ir.atom_parts(s.args[0]))}.{s.prim.spelling}"),
                args=(callee, *s.args[1:])))]
        if not inputs & self.varied:  # a value that does not vary here: a zero tangent
            number = s.prim.kind == "copy" and isinstance(s.args[0], ir.Const) and isinstance(
                s.args[0].value, (int, float)) and not isinstance(s.args[0].value, bool)
            zero = ("0.0",) if number else (RUNTIME, ".zero_tangent(", Ref(s.target), ")")
            return [line, self.set_dot(s.target, zero)]
        if s.prim.key is not None and rules.is_passive(s.prim.key):  # np.zeros_like(x)
            return [line, self.set_dot(s.target, (RUNTIME, ".zero_tangent(", Ref(s.target),
                                                  ")"))]
        terms, reads_ans = self.terms(s)
        total = self.owned(s, _sum(terms))
        if s.target in inputs:  # `x = x * c`: the tangent reads the x before
            return [self.set_dot(s.target, total), line] if not reads_ans else \
                self.through_temporary(s, total)
        return [line, self.set_dot(s.target, total)]

    def owned(self, s: Assign, total) -> ir.Parts:
        """The tangent as the primal makes its value: broadcast to the result's shape where
        an operand that does not vary is broadcast, and a copy where the primal makes a new
        array that is written in place later but the tangent is another's (`x_dot` of
        `x + 1.0`)."""
        p = s.prim
        if p.kind in ("binop", "call", "method") and p.key is not None and \
                rules.broadcasts(p.key):
            still = [a.id for a in s.args if isinstance(a, ir.Name) and a.id not in self.varied]
            if any(n not in {x.name for x in total if isinstance(x, Ref)} for n in still):
                return (RUNTIME, ".broadcast_like(", *total, ", ", Ref(s.target),
                        *_joined_to(s, self.varied), ")")
        if p.kind not in ("copy", "index", "attr") and len(total) == 1 and isinstance(
                total[0], Ref) and s.target in self.written:
            return (RUNTIME, ".tangent_copy(", *total, ")")
        return total

    def through_temporary(self, s: Assign, total) -> list:
        """`x = x * c` whose tangent reads both x's: the new value in a temporary first.
        `x *= c` (in place): the temporary is only the tangent's, then the line as written
        (the array keeps its identity and dtype)."""
        new = self.namer.fresh(f"{s.target}_new")
        renamed = (Ref(new), " = ", *ir.prim_parts(s)) if s.inplace else tuple(
            Ref(new) if isinstance(p, Ref) and p.name == s.target and k == 0 else p
            for k, p in enumerate(ir.stmt_parts(s)))
        total = tuple(Ref(new) if isinstance(p, Ref) and p.name == s.target else p
                      for p in total)
        last = (Line(ir.stmt_parts(s), (s.target,)) if s.inplace else
                Line((Ref(s.target), " = ", Ref(new)), (s.target,)))
        return [Line(renamed, (new,)), self.set_dot(s.target, total), last]

    def set_dot(self, name: str, parts) -> Line:
        return self.set_dot_name(self.dot(name), parts)

    @staticmethod
    def set_dot_name(dot: str, parts) -> Line:
        return Line((Ref(dot), " = ", *parts), (dot,))

    def terms(self, s: Assign) -> tuple[list, bool]:
        p = s.prim
        if p.kind == "copy":
            return [self.of(s.args[0])], False
        if p.kind == "compare" or p.kind == "unary" and p.spelling == "not":
            return [(RUNTIME, ".zero_tangent(", Ref(s.target), ")")], False  # a truth value
        if p.kind == "expr":
            raise self.error(s, "cannot differentiate through this expression (and/or, a "
                             "chained comparison, a starred element, an f-string); write it "
                             "with if statements, or the items one by one")
        if p.kind == "index":
            return [(*self.of(s.args[0]), "[", *ir.index_parts(s.index), "]")], False
        if p.kind in ("tuple", "list", "dict"):
            dotted = Assign(s.target, p, tuple(ir.Name("_") for _ in s.args))
            parts = list(ir.prim_parts(dotted))
            items = iter([self.of(a) for a in s.args])
            return [tuple(x for part in parts for x in (
                next(items) if isinstance(part, Ref) and part.name == "_" else (part,)))], False
        if p.kind == "method" and p.key is None and p.spelling == "pop" and not s.args[1:]:
            return [(*self.of(s.args[0]), ".pop()")], False  # a stack of the gradient's code
        if p.kind == "attr" and p.spelling in ("T", "real"):
            return [(*self.of(s.args[0]), ".", p.spelling)], False
        found = tangent_rules.contributions(s, self.varied, self.dot, self.modules,
                                            self.displayed)
        if isinstance(found, str) and p.key in (runtime.call_fwd, runtime.call_bwd):
            called = ir.text(ir.atom_parts(s.args[0])) if s.args else "a function"
            raise self.error(s, f"the gradient calls {called} through its value or into its "
                             "*args, and forward mode has no tangent of such a call's split "
                             "adjoint yet", MissingRule)
        if isinstance(found, str):
            raise self.error(s, f"{found}: no tangent in forward mode", MissingRule)
        return found

    def value_call(self, s: Assign) -> Line:
        """A call through a value (`phi(t)`): `runtime.call_jvp` finds the tangent function
        of what the value holds as the call runs; a function read from a varying value is
        checked to hold no numbers (`runtime.plain`)."""
        callee, rest = s.args[0], s.args[1:]
        if any(isinstance(a, ir.Expr) and ir.names([a]) & self.varied for a in (
                *rest, *(v for _, v in s.kwargs))):
            raise self.error(s, f"forward mode does not pass *-unpacked values that vary to "
                             f"{s.prim.spelling} yet")
        positions = tuple(k for k, a in enumerate(rest) if ir.names([a]) & self.varied)
        keywords = tuple(k for k, a in s.kwargs if ir.names([a]) & self.varied)
        dots = [self.of(rest[k]) for k in positions] + [self.of(dict(s.kwargs)[k])
                                                        for k in keywords]
        fn = ir.atom_parts(callee)
        if ir.names([callee]) & self.varied:
            fn = (RUNTIME, ".plain(", *fn, f", {s.prim.spelling!r})")
        head = (RUNTIME, ".call_jvp(", *fn, f", {positions!r}, {keywords!r}, (",
                *ir.join(dots), ",)" if len(dots) == 1 else ")")
        call = ir.call_parts("", rest, s.kwargs)
        parts = (*head, *((", ",) if rest or s.kwargs else ()), *call[2:])
        return Line((Ref(s.target), ", ", Ref(self.dot(s.target)), " = ", *parts),
                    (s.target, self.dot(s.target)), effect=True)

    def call(self, s: Assign) -> Line:
        """A call of the user's own function: its tangent function returns (value, tangent)
        of the result, given the tangents of the varying arguments. One passing values to
        its *args (`l2(w1, w2)`, `def l2(*ws)`) goes through runtime.call_jvp."""
        if fills_varargs(s):
            return self.value_call(replace(s, prim=ir.Prim("call", ir.DYNAMIC, s.prim.spelling),
                                           args=(ir.Const(s.prim.key, s.prim.spelling), *s.args)))
        try:
            name, passed = self.link(s, self.varied)
        except AdjointError as exc:
            if not (getattr(s.prim.key, "__module__", None) or "").startswith("adjoint."):
                raise
            # a helper of adjoint's emitted gradients, differentiated through where it can be
            raise self.error(s, f"forward mode has no tangent of {s.prim.spelling} yet (a "
                             "helper of adjoint's emitted gradients)", MissingRule) from exc
        dots = [(f"{param}_dot=", *self.of(a)) for param, a in passed]
        call = ir.call_parts(name, s.args, s.kwargs)
        call = (*call[:-1], *((", " if s.args or s.kwargs else ""),), *ir.join(dots), ")")
        return Line((Ref(s.target), ", ", Ref(self.dot(s.target)), " = ", *call),
                    (s.target, self.dot(s.target)), effect=True)


def _adds_at(s) -> bool:
    """Whether s is `acc = runtime.add_at(acc, index, g)` (acc[index] += g, in place), as a
    gradient's code accumulates an adjoint."""
    from .. import runtime

    return isinstance(s, Assign) and s.prim.kind == "call" and s.prim.key is \
        runtime.add_at and bool(s.args) and s.args[0] == ir.Name(s.target)


def _sum(terms: list) -> ir.Parts:
    """Terms added: `a - b` for a term written `-b`."""
    out: list = []
    for k, term in enumerate(terms):
        negated = term and isinstance(term[0], str) and term[0].startswith("-") and \
            not term[0].startswith("-(") and k
        if negated:
            out += [" - ", term[0][1:], *term[1:]] if term[0] != "-" else [" - ", *term[1:]]
        else:
            out += [*((" + ",) if k else ()), *term]
    return tuple(p for p in out if p != "") or ("0.0",)


def _joined_to(s: Assign, varied: set) -> ir.Parts:
    """For `a + b` with one side not varying: that side, as broadcast_like's `before=` or
    `after=` (two lists or tuples join: the tangent joins a zero tangent of that side)."""
    if s.prim.key is not operator.add or len(s.args) != 2:
        return ()
    a, b = s.args
    if ir.names([a]) & varied and not ir.names([b]) & varied:
        return (", after=", *ir.atom_parts(b))
    if ir.names([b]) & varied and not ir.names([a]) & varied:
        return (", before=", *ir.atom_parts(a))
    return ()
