"""normalize: a libcst `FunctionDef` to A-normal form (`ir.Function`).

After normalize, every simple statement is one primitive on atoms:
`t = op(a, b)`, `t = f(a, k=b)`, `t = a.f(b)`, `t = a[i, 1:n]`, `t = a.T`,
`t = (a, b)`, `t = a`, `a[i] = t`, `a, b = t`, `return t`; atoms are names and
constants. Nested expressions get temporaries named for what they hold.
`if`/`for`/`while` keep their structure: a `for` runs over a name holding a range
(loops over sequences become loops over their indices), a `while` recomputes
its test in a prelude. After a `break` or `continue` nothing follows in its
block: later statements move into the other branch. There is one `return`, the
last statement. Each statement remembers the user statement it came from.
"""

from __future__ import annotations

import ast
import math
import operator
import sys
import types
from collections.abc import Sequence
from typing import Any

import libcst as cst

from . import ir, naming, rules, runtime
from . import parse as parse_
from .errors import UnsupportedSyntax
from .ir import Assign, Const, Name, Prim
from .parse import MISSING, Source

BINOPS = {
    cst.Add: (operator.add, "+", "add"), cst.Subtract: (operator.sub, "-", "sub"),
    cst.Multiply: (operator.mul, "*", "mul"), cst.Divide: (operator.truediv, "/", "truediv"),
    cst.FloorDivide: (operator.floordiv, "//", "floordiv"), cst.Modulo: (operator.mod, "%", "mod"),
    cst.Power: (operator.pow, "**", "pow"), cst.MatrixMultiply: (operator.matmul, "@", "matmul"),
    cst.BitAnd: (operator.and_, "&", "and_"), cst.BitOr: (operator.or_, "|", "or_"),
    cst.BitXor: (operator.xor, "^", "xor"), cst.LeftShift: (operator.lshift, "<<", "lshift"),
    cst.RightShift: (operator.rshift, ">>", "rshift"),
}
AUGOPS = {
    cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide, cst.FloorDivideAssign: cst.FloorDivide,
    cst.ModuloAssign: cst.Modulo, cst.PowerAssign: cst.Power,
    cst.MatrixMultiplyAssign: cst.MatrixMultiply,
}
COMPARES = {
    cst.LessThan: (operator.lt, "<", "lt"), cst.LessThanEqual: (operator.le, "<=", "le"),
    cst.GreaterThan: (operator.gt, ">", "gt"), cst.GreaterThanEqual: (operator.ge, ">=", "ge"),
    cst.Equal: (operator.eq, "==", "eq"), cst.NotEqual: (operator.ne, "!=", "ne"),
    cst.Is: (operator.is_, "is", "is"), cst.IsNot: (operator.is_not, "is not", "is_not"),
    cst.In: (operator.contains, "in", "in"), cst.NotIn: (operator.contains, "not in", "not_in"),
}
UNARY = {cst.Minus: (operator.neg, "-", "neg"), cst.Plus: (operator.pos, "+", "pos"),
         cst.BitInvert: (operator.invert, "~", "inv"), cst.Not: (operator.not_, "not", "not")}

# Calls that run code or reach names adjoint cannot see: what they compute is invisible.
REFUSED_CALLS = {exec: "exec", eval: "eval", compile: "compile", globals: "globals",
                 locals: "locals", vars: "vars", getattr: "getattr", setattr: "setattr",
                 delattr: "delattr", __import__: "__import__"}

REFUSED_STATEMENTS = {
    cst.Try: "try/except", cst.With: "with", cst.Raise: "raise", cst.Global: "global",
    cst.Nonlocal: "nonlocal", cst.ClassDef: "a class definition", cst.Import: "import",
    cst.ImportFrom: "import", cst.Del: "del", cst.Match: "match",
}


DEEP = 8000  # the recursion limit while normalizing: a 2000-term sum is ~6000 frames deep


def normalize(source: Source, namer: naming.Namer) -> ir.Function:
    """The function in `source`, in A-normal form."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, DEEP))  # libcst walks nested expressions recursively
    try:
        return Normalizer(source, namer).function()
    except RecursionError:
        raise source.error(source.funcdef, f"{source.name} nests expressions or blocks too "
                           "deeply for adjoint; name some intermediate values") from None
    finally:
        sys.setrecursionlimit(limit)


class Normalizer:
    def __init__(self, source: Source, namer: naming.Namer):
        self.source = source
        self.namer = namer
        self.out: list = []
        self.origin: ir.Origin | None = None
        self.globals: dict[str, Any] = {}
        self.defaults: dict[str, Any] = {}  # name -> a default value its text no longer means
        self.result: str | None = None  # the name every `return` assigns, when there are several
        self.scope: dict[str, str] = {}  # comprehension variables -> their emitted names
        self.nested: dict[str, parse_.Nested] = {}  # functions defined inside this one
        self.seen_defs: dict[str, int] = {}
        self.locals = set(source.local_names)
        code = getattr(source.fn, "__code__", None)
        for name in self.locals | set(getattr(code, "co_names", ())) | set(
                getattr(code, "co_freevars", ())):
            namer.reserve(name)

    # ------------------------------------------------------------ helpers

    def error(self, node: cst.CSTNode, msg: str, cls=UnsupportedSyntax) -> Exception:
        return self.source.error(node, msg, cls)

    def emit(self, stmt) -> None:
        stmt.origin = self.origin
        self.out.append(stmt)

    def assign(self, target: str | None, prim: Prim, args=(), kwargs=(), index=None,
               node=None, hint: str = "t") -> Name:
        name = target or self.namer.fresh(hint)
        self.emit(Assign(name, prim, tuple(args), tuple(kwargs), index, node=node))
        return Name(name)

    def sub_block(self, suite) -> list:
        """The statements of an indented block, or of a suite on its header's line
        (`if c: return x`)."""
        saved, self.out = self.out, []
        for s in ([suite] if isinstance(suite, cst.SimpleStatementSuite) else suite.body):
            self.statement(s)
        body, self.out = self.out, saved
        return body

    @staticmethod
    def label(atom: ir.Atom | None) -> str | None:
        return atom.id if isinstance(atom, Name) else None

    # ------------------------------------------------------------ function

    def default(self, param: cst.Param) -> str:
        """The text of a parameter's default, for the value Python computed when the def ran
        (`__defaults__`), not for what its text means now: a name rebound since then gives
        the old value, written as a literal or bound to a name of its own."""
        text = self.source.code(param.default)
        fn = self.source.fn
        if getattr(fn, "__code__", None) is not self.source.code_object:
            return text  # a nested def: its defaults are evaluated as the lifted def runs
        name = param.name.value
        values = parse_.defaults_of(fn)
        if name not in values:
            return text
        value = values[name]
        if _literal_value(value) and not _is_literal_text(param.default):
            return repr(value)
        if _is_literal_text(param.default) or self.source.resolve(
                text.split(".")) is value and _dotted(param.default):
            return text
        held = self.namer.fresh(f"{name}_default")
        self.defaults[held] = value
        return held

    def function(self) -> ir.Function:
        fd = self.source.funcdef
        p = fd.params
        if p.star_arg not in (cst.MaybeSentinel.DEFAULT, None) and isinstance(p.star_arg,
                                                                               cst.Param):
            raise self.error(p.star_arg, "*args parameters are not supported")
        if p.star_kwarg is not None:
            raise self.error(p.star_kwarg, "**kwargs parameters are not supported")
        params = []
        for kind, group in (("positional", p.posonly_params), ("positional", p.params),
                            ("keyword", p.kwonly_params)):
            for param in group:
                if param.name.value in self.source.extra_params:
                    params.append(ir.Param(param.name.value, None, "keyword"))
                    continue
                default = None
                if param.default is not None:
                    self.passive_names(param.default)
                    default = self.default(param)
                params.append(ir.Param(param.name.value, default, kind))
        returns = count_returns(fd)
        if returns == 0:
            raise self.error(fd, f"{fd.name.value} returns nothing; adjoint differentiates "
                             "functions that return a value")
        last = fd.body if isinstance(fd.body, cst.SimpleStatementSuite) else (
            fd.body.body[-1] if fd.body.body else None)
        single = returns == 1 and isinstance(last, (
            cst.SimpleStatementLine, cst.SimpleStatementSuite)) and isinstance(
            last.body[-1], cst.Return)
        self.result = None if single else self.namer.fresh(fd.name.value)
        body = self.sub_block(fd.body)
        if not single:
            body = single_exit(body, self.result, self.namer)
        body = pin_tests(structure_jumps(body), self.namer)
        for param in params:
            if param.name in naming.EMITTED:
                raise self.error(fd.params, f"the parameter {param.name} has the name of "
                                 "something the emitted gradient calls; rename it")
        clashes = {n for s in ir.walk(body) for n in ir.defs(s)} & naming.EMITTED
        if clashes:  # a local named like something the emitted code calls: renamed
            body = ir.rename(body, {n: self.namer.fresh(f"{n}_") for n in sorted(clashes)})
        if not body or not isinstance(body[-1], ir.Return):
            raise self.error(fd, f"{fd.name.value} can end without returning a value; "
                             "adjoint differentiates functions that always return one")
        fn = ir.Function(fd.name.value, params, body, self.source)
        fn.globals = self.globals
        fn.defaults = self.defaults
        return fn

    # ------------------------------------------------------------ statements

    def statement(self, stmt: cst.CSTNode) -> None:
        if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in stmt.body:
                self.origin = ir.Origin(self.statement_text(stmt), stmt)
                self.small(small)
            return
        self.origin = ir.Origin(self.header(stmt), stmt)
        if isinstance(stmt, cst.If):
            self.if_(stmt)
        elif isinstance(stmt, cst.For):
            self.for_(stmt)
        elif isinstance(stmt, cst.While):
            self.while_(stmt)
        elif isinstance(stmt, cst.FunctionDef):
            self.define_nested(stmt, stmt.name.value)
        else:
            what = REFUSED_STATEMENTS.get(type(stmt), type(stmt).__name__)
            raise self.error(stmt, f"{what} is not supported inside a differentiated function")

    def statement_text(self, stmt) -> str:
        """A simple statement's code, without comments."""
        return "; ".join(self.source.code(small).strip() for small in stmt.body)

    def header(self, stmt) -> str:
        """The first line of a compound statement, without comments, for `# grad of:`."""
        code = self.source.code
        if isinstance(stmt, cst.For):
            return f"for {code(stmt.target)} in {code(stmt.iter)}:"
        if isinstance(stmt, cst.While):
            return f"while {code(stmt.test)}:"
        if isinstance(stmt, cst.If):
            return f"if {code(stmt.test)}:"
        lines = [x for x in code(stmt).strip().splitlines() if not x.lstrip().startswith("#")]
        return lines[0] if lines else ""


    def small(self, s: cst.BaseSmallStatement) -> None:
        if isinstance(s, cst.Assign):
            self.assign_stmt(s.targets, s.value, s)
        elif isinstance(s, cst.AnnAssign):
            if s.value is not None:
                self.assign_stmt([cst.AssignTarget(s.target)], s.value, s)
        elif isinstance(s, cst.AugAssign):
            self.aug_assign(s)
        elif isinstance(s, cst.Return):
            if s.value is None:
                raise self.error(s, "`return` without a value; adjoint differentiates "
                                 "functions that return a value")
            if self.result is not None:  # several returns: each assigns the one result
                value = self.expr(s.value, self.result)
            else:
                value = self.expr(s.value, self.result_name(s.value))
            self.emit(ir.Return(value))
        elif isinstance(s, cst.Expr):
            if isinstance(s.value, (cst.SimpleString, cst.ConcatenatedString)):
                return  # docstring
            if isinstance(s.value, cst.Call):
                self.call(s.value, None, statement=True)
            else:
                self.expr(s.value)
        elif isinstance(s, cst.Pass):
            return
        elif isinstance(s, cst.Break):
            self.emit(ir.Break())
        elif isinstance(s, cst.Continue):
            self.emit(ir.Continue())
        elif isinstance(s, cst.Assert):
            self.opaque(s)
        else:
            what = REFUSED_STATEMENTS.get(type(s), type(s).__name__)
            raise self.error(s, f"{what} is not supported inside a differentiated function")

    def result_name(self, value: cst.BaseExpression) -> str | None:
        if isinstance(value, cst.Name) and value.value in self.locals:
            return None
        return self.namer.fresh(self.source.name)

    def assign_stmt(self, targets: Sequence[cst.AssignTarget], value, node) -> None:
        if len(targets) > 1:
            atom = self.expr(value)
            for t in targets:
                self.bind(t.target, atom, node)
            return
        target = targets[0].target
        if isinstance(target, cst.Name) and isinstance(value, cst.Lambda):
            body = cst.IndentedBlock([cst.SimpleStatementLine([cst.Return(value.body)])])
            self.define_nested(cst.FunctionDef(cst.Name(target.value), value.params, body),
                               "<lambda>")
        elif isinstance(target, cst.Name):
            self.local_name(target)
            self.expr(value, target.value)
        elif isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple,
                                                                             cst.List)):
            self.parallel_assign(target, value, node)
        elif isinstance(target, cst.Subscript) and not isinstance(value, (
                cst.Name, cst.Integer, cst.Float, cst.SimpleString)):
            # the value stored at y[i] is named for its place: y_i
            name = self.namer.fresh(naming.identifier(self.source.code(target)))
            self.bind(target, self.expr(value, name), node)
        else:
            self.bind(target, self.expr(value), node)

    def parallel_assign(self, target, value, node) -> None:
        """a, b = x, y: straight into the targets when no element reads a target."""
        names = [e.value for e in target.elements]
        simple = all(isinstance(n, cst.Name) for n in names) and len(names) == len(
            value.elements) and not any(isinstance(e, cst.StarredElement) for e in names)
        if simple:
            written = {n.value for n in names}
            reads = set()
            for e in value.elements:
                reads |= self.names_in(e.value)
            if not (written & reads):
                for n, e in zip(names, value.elements, strict=True):
                    self.local_name(n)
                    self.expr(e.value, n.value)
                return
        self.bind(target, self.expr(value), node)

    def names_in(self, node) -> set[str]:
        found = set()

        class V(cst.CSTVisitor):
            def visit_Name(self, n: cst.Name) -> None:
                found.add(n.value)

        node.visit(V())
        return found

    def local_name(self, node: cst.Name) -> None:
        if node.value not in self.locals:
            raise self.error(node, f"cannot assign to {node.value!r} here")

    def bind(self, target, atom: ir.Atom, node) -> None:
        """Store an already computed atom into an assignment target."""
        if isinstance(target, cst.Name):
            self.assign(self.target_name(target), ir.COPY, [atom], node=node)
        elif isinstance(target, (cst.Tuple, cst.List)):
            names = []
            inner = []
            for el in target.elements:
                if isinstance(el, cst.StarredElement):
                    raise self.error(el, "starred assignment targets are not supported")
                if isinstance(el.value, cst.Name):
                    names.append(self.target_name(el.value))
                else:
                    tmp = self.namer.fresh("item")
                    names.append(tmp)
                    inner.append((el.value, tmp))
            self.emit(ir.Unpack(tuple(names), atom))
            for t, tmp in inner:
                self.bind(t, Name(tmp), node)
        elif isinstance(target, cst.Subscript):
            base = self.target_base(target)
            index = self.index(target)
            self.emit(ir.SetItem(base, index, atom))
        else:
            raise self.error(target, "only names, tuples and subscripts can be assigned to")

    def target_base(self, sub: cst.Subscript) -> str:
        if not isinstance(sub.value, cst.Name) or sub.value.value not in self.locals:
            raise self.error(sub.value, "only a local variable can be written in place "
                             "(x[i] = ...)")
        return sub.value.value

    def aug_assign(self, s: cst.AugAssign) -> None:
        op = AUGOPS.get(type(s.operator))
        if op is None:
            raise self.error(s, f"augmented assignment {s.operator.__class__.__name__}")
        key, spelling, word = BINOPS[op]
        value = self.expr(s.value)
        if isinstance(s.target, cst.Name):  # kept as written: an array changes in place
            self.local_name(s.target)
            self.emit(Assign(s.target.value, Prim("binop", key, spelling),
                             (Name(s.target.value), value), node=s, inplace=True))
        elif isinstance(s.target, cst.Subscript) and spelling in ("+", "-"):
            base = self.target_base(s.target)  # y[i] += v: added in place
            self.emit(ir.SetItem(base, self.index(s.target), value, op=spelling))
        elif isinstance(s.target, cst.Subscript):
            base = self.target_base(s.target)
            index = self.index(s.target)
            old = self.assign(None, Prim("index", None), [Name(base)], index=index, node=s,
                              hint=f"{base}_old")
            new = self.assign(None, Prim("binop", key, spelling), [old, value], node=s,
                              hint=f"{base}_new")
            self.emit(ir.SetItem(base, index, new))
        else:
            raise self.error(s.target, "augmented assignment to an attribute is not supported")

    def opaque(self, node) -> None:
        """A statement with no value to differentiate (assert): kept as the user wrote it."""
        template, args = self.passive_template(node)
        self.emit(Assign(None, Prim("expr", None, template), args, node=node))

    # ------------------------------------------------------------ control flow

    def test_atom(self, node) -> ir.Atom:
        return self.expr(node, hint_prefix="cond")

    def if_(self, s: cst.If) -> None:
        test = self.test_atom(s.test)
        origin = self.origin
        body = self.sub_block(s.body)
        orelse: list = []
        if isinstance(s.orelse, cst.If):
            saved, self.out = self.out, []
            self.origin = ir.Origin(f"elif {self.source.code(s.orelse.test)}:", s.orelse)
            self.if_(s.orelse)
            orelse, self.out = self.out, saved
        elif isinstance(s.orelse, cst.Else):
            orelse = self.sub_block(s.orelse.body)
        self.origin = origin
        self.emit(ir.If(test, body, orelse))

    def for_(self, s: cst.For) -> None:
        if s.asynchronous is not None:
            raise self.error(s, "async for is not supported")
        self.loop(s.target, s.iter, lambda: self.out.extend(self.sub_block(s.body)), s,
                  s.body)
        self.loop_else(s)

    def loop_else(self, s) -> None:
        """`else` on a loop runs when no `break` left it: a flag set before each break."""
        if s.orelse is None:
            return
        loop = self.out.pop()
        flag = self.namer.fresh("broke")
        loop.body = _flag_breaks(loop.body, flag, loop.origin)
        orelse = self.sub_block(s.orelse.body)
        self.origin = loop.origin
        self.emit(Assign(flag, ir.COPY, (Const(False, "False"),)))
        self.out.append(loop)
        self.origin = ir.Origin("else:", s.orelse)
        self.emit(ir.If(Name(flag), [], orelse))

    def assigned_in(self, node) -> set[str]:
        """Names bound inside a statement (for loop bodies)."""
        found: set[str] = set()

        class V(cst.CSTVisitor):
            def visit_AssignTarget(self, n) -> None:
                found.update(x.value for x in _target_names(n.target))

            def visit_AugAssign(self, n) -> None:
                found.update(x.value for x in _target_names(n.target))

            def visit_AnnAssign(self, n) -> None:
                found.update(x.value for x in _target_names(n.target))

            def visit_For(self, n) -> None:
                found.update(x.value for x in _target_names(n.target))

        if node is not None:
            node.visit(V())
        return found

    def loop(self, target, it, body, node, body_node=None, bind=None) -> None:
        """Emit `for target in it:` with `body()` emitting the body. Loops run over a range:
        `for x in xs` becomes `for x_index in range(len(xs)): x = xs[x_index]` (and likewise
        enumerate, zip, and a dict's keys, values and items). `bind()` runs once the
        iterable is read, before the targets are named (a comprehension's variables take
        their names there: `for x in x` reads the outer x)."""
        bind = bind or (lambda: None)
        origin = self.origin
        fn = self.resolve_callee(it.func) if isinstance(it, cst.Call) else None
        prologue: list[tuple[Any, ir.Atom]] = []  # (target node, atom holding its value)
        rebound = self.assigned_in(body_node)
        backwards = False

        def pin(seq: ir.Atom) -> ir.Atom:
            """`for row in A` keeps iterating the A it started with, even if the body
            rebinds A: the loop indexes a name of its own."""
            if isinstance(seq, Name) and seq.id in rebound:
                return self.assign(None, ir.COPY, [seq], hint=f"{seq.id}_items")
            return seq
        if fn is range and isinstance(target, cst.Name):
            hint = self.scope.get(target.value, target.value)
            rng = self.call(it, self.namer.fresh(f"{hint.strip('_') or 'loop'}_range"))
            bind()
            counter = self.target_name(target)
        else:
            if fn is enumerate and isinstance(target, cst.Tuple) and len(it.args) == 1 and len(
                    target.elements) == 2:
                counter_node, target = target.elements[0].value, target.elements[1].value
                if not isinstance(counter_node, cst.Name):
                    raise self.error(counter_node, "the counter of enumerate must be a name")
                inner = it.args[0].value
                if isinstance(inner, cst.Call) and self.resolve_callee(inner.func) is zip and \
                        isinstance(target, cst.Tuple) and len(inner.args) == len(
                        target.elements) and not any(a.keyword or a.star for a in inner.args):
                    # enumerate(zip(xs, ys)): the counter indexes every sequence
                    seqs = [(el.value, pin(self.expr(a.value)))
                            for el, a in zip(target.elements, inner.args, strict=True)]
                else:
                    seqs = [(target, pin(self.expr(inner)))]
                bind()
                counter = self.target_name(counter_node)
            elif fn is zip and isinstance(target, cst.Tuple) and len(it.args) == len(
                    target.elements) and not any(a.keyword or a.star for a in it.args):
                seqs = [(el.value, pin(self.expr(a.value)))
                        for el, a in zip(target.elements, it.args, strict=True)]
                bind()
                counter = self.namer.fresh("k")
            elif dict_view(it) is not None:
                seqs, counter = self.dict_loop(target, *dict_view(it), pin, bind)
            elif iterates_keys(target, it, body_node or node):
                # `for k in d: ... d[k]`: the keys of a dict (an element that indexes its
                # own sequence is a key or an int, never a value with a derivative)
                seqs, counter = self.dict_loop(target, "keys", it, pin, bind)
            elif fn is reversed and len(it.args) == 1 and not it.args[0].keyword and \
                    not it.args[0].star:
                backwards = True  # for v in reversed(xs): the indices from the last down
                seqs = [(target, pin(self.expr(it.args[0].value)))]
                bind()
                base = target.value if isinstance(target, cst.Name) else "item"
                counter = self.namer.fresh(f"{base}_index")
            else:
                if fn in (zip, enumerate, map, filter, reversed, iter) or isinstance(
                        it, (cst.GeneratorExp, cst.SetComp, cst.DictComp)):
                    raise self.error(it, "loops run over lists, tuples, arrays, range, and "
                                     "enumerate or zip of them unpacked into names; build a "
                                     "list first (or index with range)")
                seqs = [(target, pin(self.expr(it)))]
                bind()
                base = target.value if isinstance(target, cst.Name) else "item"
                counter = self.namer.fresh(f"{base}_index")
            self.locals.add(counter)
            lengths = [self.assign(None, Prim("call", len, "len"), [a], hint=f"len_{a.id}"
                                   if isinstance(a, Name) else "n") for _, a in seqs
                       if a is not None]
            if len(lengths) > 1:
                n = self.assign(None, Prim("call", min, "min"), lengths, hint="n")
            else:
                n = lengths[0]
            if backwards:
                last = self.assign(None, Prim("binop", operator.sub, "-"), [n, Const(1, "1")],
                                   hint="last")
                rng = self.assign(None, Prim("call", range, "range"),
                                  [last, Const(-1, "-1"), Const(-1, "-1")],
                                  hint=f"{counter}_range")
            else:
                rng = self.assign(None, Prim("call", range, "range"), [n],
                                  hint=f"{counter}_range")
            prologue = seqs
        saved, self.out = self.out, []
        self.origin = origin
        if isinstance(target, cst.Name) and len(prologue) == 1 and reads_of(
                target.value, self.source.funcdef) == 1:
            prologue = []  # `for _ in xs`: the items are never read, only counted
        for tnode, seq in prologue:
            if seq is None:  # the value of a dict entry: d[key]
                tnode, base, key = tnode
                self.assign(self.target_name(tnode), Prim("index"), [base],
                            index=ir.Index((key,)))
                continue
            idx = ir.Index((Name(counter),))
            if isinstance(tnode, str):  # an emitted name (the key of a dict values loop)
                self.assign(tnode, Prim("index"), [seq], index=idx)
            elif isinstance(tnode, cst.Name):
                self.assign(self.target_name(tnode), Prim("index"), [seq], index=idx)
            else:
                self.bind(tnode, self.assign(None, Prim("index"), [seq], index=idx,
                                             hint="item"), node)
        body()
        inner, self.out = self.out, saved
        self.origin = origin
        self.emit(ir.For(counter, rng, inner))

    def dict_loop(self, target, view: str, base_node, pin, bind):
        """`for k in d.keys()`, `for v in d.values()`, `for k, v in d.items()`: over a list of
        the keys, reading each value by key."""
        base = pin(self.expr(base_node))
        bind()
        keys = self.assign(None, Prim("call", list, "list"), [base], hint="keys")
        counter = self.namer.fresh("key_index")
        key_node = target.elements[0].value if view == "items" else target
        if view == "items" and not (isinstance(target, cst.Tuple) and len(target.elements) == 2):
            raise self.error(target, "unpack the items of a dict into two names: for k, v in")
        value_node = target.elements[1].value if view == "items" else target
        if view == "values":
            key = Name(self.namer.fresh("key"))
            self.locals.add(key.id)
            return [(key.id, keys), ((value_node, base, key), None)], counter
        if not isinstance(key_node, cst.Name):
            raise self.error(key_node, "the key of a dict loop must be a name")
        key = Name(self.target_name(key_node))
        seqs = [(key_node, keys)]
        if view == "items":
            seqs.append(((value_node, base, key), None))
        return seqs, counter

    def target_name(self, node: cst.Name) -> str:
        """The name a loop or comprehension target binds (comprehension variables are
        renamed so they never clobber the function's own names)."""
        if node.value in self.scope:
            return self.scope[node.value]
        self.local_name(node)
        return node.value

    def while_(self, s: cst.While) -> None:
        origin = self.origin
        saved, self.out = self.out, []
        test = self.test_atom(s.test)
        prelude, self.out = self.out, saved
        body = self.sub_block(s.body)
        self.origin = origin
        self.emit(ir.While(prelude, test, body, trips=self.namer.fresh("trips")))
        self.loop_else(s)

    # ------------------------------------------------------------ expressions

    def expr(self, node: cst.BaseExpression, target: str | None = None,
             hint_prefix: str | None = None) -> ir.Atom:
        """Emit the statements computing `node`; return the atom holding its value.

        With `target`, the last primitive assigns straight to that name."""
        atom = self._expr(node, target, hint_prefix)
        if target is not None and not (isinstance(atom, Name) and atom.id == target):
            self.assign(target, ir.COPY, [atom], node=node)
            return Name(target)
        return atom

    def _expr(self, node, target, hint_prefix=None) -> ir.Atom:
        if isinstance(node, cst.Name):
            return self.name(node)
        if isinstance(node, cst.Imaginary):
            raise self.error(node, f"the complex number {node.value} is not supported: "
                             "adjoint's rules are for real values")
        if isinstance(node, (cst.Integer, cst.Float)):
            return Const(ast.literal_eval(node.value), node.value)
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            text = self.source.code(node)
            value = ast.literal_eval(f"({text})")  # "a"\n"b" across lines, in parentheses
            return Const(value, text if "\n" not in text else repr(value))
        if isinstance(node, cst.UnaryOperation):
            return self.unary(node, target)
        if isinstance(node, cst.BinaryOperation):
            key, spelling, word = self.binop_info(node.operator)
            a = self.expr(node.left)
            b = self.expr(node.right)
            hint = naming.binop_name(word, self.label(a), self.label(b),
                                     b.value if isinstance(b, Const) else None)
            return self.assign(target, Prim("binop", key, spelling), [a, b], node=node,
                               hint=hint)
        if isinstance(node, cst.Comparison):
            return self.comparison(node, target, hint_prefix)
        if isinstance(node, cst.BooleanOperation):
            template, args = self.passive_template(node)
            return self.assign(target, Prim("expr", None, template), args, node=node,
                               hint=hint_prefix or "cond")
        if isinstance(node, cst.Call):
            return self.call(node, target)
        if isinstance(node, cst.Attribute):
            return self.attribute(node, target)
        if isinstance(node, cst.Subscript):
            base = self.expr(node.value)
            if isinstance(base, Const) and isinstance(base.value, rules.AXIS_CONCATENATOR):
                return self.index_concat(node, base, target)
            index = self.index(node)
            hint = self.index_hint(base, index)
            return self.assign(target, Prim("index"), [base], index=index, node=node, hint=hint)
        if isinstance(node, (cst.Tuple, cst.List)):
            kind = "tuple" if isinstance(node, cst.Tuple) else "list"
            items = []
            for el in node.elements:
                if isinstance(el, cst.StarredElement):
                    raise self.error(el, "starred elements are not supported")
                items.append(self.expr(el.value))
            return self.assign(target, Prim(kind), items, node=node, hint=kind[:3]
                               if kind == "tuple" else "items")
        if isinstance(node, cst.IfExp):
            return self.if_exp(node, target)
        if isinstance(node, (cst.ListComp, cst.GeneratorExp)):
            return self.comprehension(node, target)
        if isinstance(node, cst.Dict):
            return self.dict_literal(node, target)
        if isinstance(node, cst.Ellipsis):
            return Const(Ellipsis, "...")
        what = {
            cst.Lambda: "a lambda", cst.ListComp: "a list comprehension",
            cst.GeneratorExp: "a generator expression", cst.DictComp: "a dict comprehension",
            cst.SetComp: "a set comprehension",
            cst.Set: "a set literal", cst.NamedExpr: "an assignment expression (:=)",
            cst.Yield: "yield", cst.Await: "await", cst.FormattedString: "an f-string",
        }.get(type(node), type(node).__name__)
        raise self.error(node, f"{what} is not supported inside a differentiated function")

    def name(self, node: cst.Name) -> ir.Atom:
        n = node.value
        if n in ("True", "False", "None"):
            return Const({"True": True, "False": False, "None": None}[n], n)
        if n in self.scope:
            return Name(self.scope[n])
        if n in self.nested:
            raise self.error(node, f"{n}, a function defined inside {self.source.name}, is used "
                             "as a value; only calls of it can be differentiated (define it at "
                             "module level to pass it around)")
        if n in self.locals:
            return Name(n)
        obj = self.source.resolve([n])
        if obj is MISSING:
            raise self.error(node, f"name {n!r} is not defined")
        self.globals[n] = obj
        self.namer.reserve(n)
        return Const(obj, n)

    def unary(self, node: cst.UnaryOperation, target) -> ir.Atom:
        key, spelling, word = UNARY[type(node.operator)]
        if isinstance(node.expression, (cst.Integer, cst.Float)) and key is operator.neg:
            text = "-" + node.expression.value
            return Const(-ast.literal_eval(node.expression.value), text)
        a = self.expr(node.expression)
        hint = f"{word}_{a.id}" if isinstance(a, Name) else word
        return self.assign(target, Prim("unary", key, spelling), [a], node=node, hint=hint)

    def binop_info(self, op) -> tuple:
        info = BINOPS.get(type(op))
        if info is None:
            raise self.error(op, f"operator {type(op).__name__}")
        return info

    def comparison(self, node: cst.Comparison, target, hint_prefix) -> ir.Atom:
        if len(node.comparisons) > 1:
            template, args = self.passive_template(node)
            return self.assign(target, Prim("expr", None, template), args, node=node,
                               hint=hint_prefix or "cond")
        comp = node.comparisons[0]
        key, spelling, word = COMPARES[type(comp.operator)]
        a = self.expr(node.left)
        b = self.expr(comp.comparator)
        hint = naming.binop_name(word, self.label(a), self.label(b), b.value if isinstance(
            b, Const) else None) if word in ("lt", "le", "gt", "ge", "eq", "ne") else "cond"
        if word == "not_in":
            template, args = self.passive_template(node)
            return self.assign(target, Prim("expr", None, template), args, node=node,
                               hint=hint)
        return self.assign(target, Prim("compare", key, spelling), [a, b], node=node, hint=hint)

    def if_exp(self, node: cst.IfExp, target) -> ir.Atom:
        test = self.test_atom(node.test)
        name = target or self.namer.fresh("choice")
        saved, self.out = self.out, []
        self.expr(node.body, name)
        body, self.out = self.out, []
        self.expr(node.orelse, name)
        orelse, self.out = self.out, saved
        self.emit(ir.If(test, body, orelse))
        return Name(name)

    def comprehension(self, node, target, total: bool = False) -> ir.Atom:
        """[e for x in xs if c] as a loop appending to a list; with total, sum(e for ...)
        as a loop adding into an accumulator. Comprehension variables get names of their
        own, as in Python they do not leak."""
        # `x = sum(x * 2.0 for ...)` reads x in the loop: accumulate in a name of its own
        reads_target = target is not None and target in self.names_in(node)
        result = target if target and not reads_target else self.namer.fresh(
            "total" if total else "items")
        if total:
            self.assign(result, ir.COPY, [Const(0, "0")], node=node)
        else:
            self.assign(result, Prim("list"), [], node=node)
        saved_scope = dict(self.scope)

        def level(comp: cst.CompFor) -> None:
            if comp.asynchronous is not None:
                raise self.error(comp, "async comprehensions are not supported")

            def bind() -> None:  # after the iterable is read: `for x in x` reads the outer x
                for name in self.names_in(comp.target):
                    self.scope[name] = self.namer.fresh(name)
            self.loop(comp.target, comp.iter, lambda: inner(comp), node, bind=bind)

        def inner(comp: cst.CompFor) -> None:
            def rest(ifs: list) -> None:
                if ifs:
                    test = self.test_atom(ifs[0].test)
                    saved, self.out = self.out, []
                    rest(ifs[1:])
                    body, self.out = self.out, saved
                    self.emit(ir.If(test, body, []))
                elif comp.inner_for_in is not None:
                    level(comp.inner_for_in)
                elif total:
                    value = self.expr(node.elt)
                    self.assign(result, Prim("binop", operator.add, "+"), [Name(result), value],
                                node=node)
                else:
                    self.emit(ir.Append(result, self.expr(node.elt)))
            rest(list(comp.ifs))

        level(node.for_in)
        self.scope = saved_scope
        if reads_target:
            return self.assign(target, ir.COPY, [Name(result)], node=node)
        return Name(result)

    def dict_literal(self, node: cst.Dict, target) -> ir.Atom:
        keys, values = [], []
        for el in node.elements:
            if not isinstance(el, cst.DictElement) or not isinstance(
                    el.key, (cst.SimpleString, cst.Integer)):
                raise self.error(el, "dict literals need literal keys ('W': ...)")
            keys.append(self.source.code(el.key))
            values.append(self.expr(el.value))
        return self.assign(target, Prim("dict", tuple(keys)), values, node=node, hint="params")

    def attribute(self, node: cst.Attribute, target) -> ir.Atom:
        dotted = dotted_name(node)
        if dotted and not self.is_local(dotted[0]):
            obj = self.source.resolve(dotted)
            if obj is not MISSING:
                self.globals[dotted[0]] = self.source.resolve(dotted[:1])
                self.namer.reserve(dotted[0])
                return Const(obj, ".".join(dotted))
            if not self.global_datum(dotted[0]):
                raise self.error(node, f"{'.'.join(dotted)} is not defined")
            # an attribute of a global datum (W0.shape, W0.T): read as a local's would be
        base = self.expr(node.value)
        attr = node.attr.value
        hint = f"{base.id}_{attr}" if isinstance(base, Name) else attr
        key = rules.ATTRS.get(attr)
        if key is None and attr in rules.PASSIVE_ATTRS:
            key = np_shape_key(attr)
        return self.assign(target, Prim("attr", key, attr), [base], node=node, hint=hint)

    def global_datum(self, name: str) -> bool:
        """Whether `name` is a global holding data (an array, a number), not a module or a
        class: its attributes and methods are read as a local's are."""
        head = self.source.resolve([name])
        return head is not MISSING and not isinstance(head, (types.ModuleType, type))

    def is_local(self, name: str) -> bool:
        """Whether `name` is the function's own variable or a comprehension's."""
        return name in self.locals or name in self.scope

    def resolve_callee(self, func: cst.BaseExpression) -> Any:
        dotted = dotted_name(func)
        if dotted and dotted[0] in self.scope:  # a comprehension variable
            return MISSING
        if dotted and len(dotted) == 1 and dotted[0] in self.nested:
            return self.nested[dotted[0]]
        if dotted and dotted[0] in self.source.bindings:
            return self.source.resolve(dotted)
        if not dotted or dotted[0] in self.locals:
            return MISSING
        obj = self.source.resolve(dotted)
        generic = getattr(obj, "__adjoint_generic__", None)
        return obj if generic is None else generic.function  # a gradient: its emitted code

    def define_nested(self, node: cst.FunctionDef, code_name: str) -> None:
        """A def (or named lambda) inside the function: calls of it are calls of a function
        lifted to module level, its free variables passed by keyword."""
        name = node.name.value
        if name in self.nested:
            raise self.error(node, f"{name} is defined twice inside {self.source.name}")
        index = self.seen_defs.get(code_name, 0)
        self.seen_defs[code_name] = index + 1
        code = parse_.code_of(self.source.code_object, code_name, index)
        free = tuple(n for n in (code.co_freevars if code is not None else ())
                     if n in self.locals)
        if name in free:
            raise self.error(node, f"{name} calls itself from inside {self.source.name}; "
                             "define it at module level for recursion")
        for n in free:
            if n in self.nested:
                raise self.error(node, f"{name} calls {n}, another function defined inside "
                                 f"{self.source.name}; define them at module level")
        p = node.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            if param.default is None:
                continue
            read = {n.value for n in _names_in(param.default)} & self.locals
            if read:  # evaluated where the def runs, which the lifted function cannot see
                raise self.error(param.default, f"the default of {param.name.value} reads "
                                 f"{sorted(read)[0]}, a local of {self.source.name}; pass it "
                                 "as an argument instead")
        for inner in _statements_of(node, (cst.Nonlocal, cst.Global)):
            raise self.error(inner, f"{name} rebinds a name of an enclosing scope "
                             f"({self.source.code(inner).strip()}); return the value instead")
        self.nested[name] = parse_.Nested(self.source, node, code, free)

    def call(self, node: cst.Call, target, statement: bool = False) -> ir.Atom:
        func = node.func
        args, kwargs = [], []
        fn = self.resolve_callee(func)
        if _refused(fn):
            raise self.error(node, f"{REFUSED_CALLS[fn]}() runs code or reads names adjoint "
                             "cannot see, so its derivative cannot be known; write the "
                             "computation out")
        if fn is sum and len(node.args) == 1 and isinstance(node.args[0].value, (
                cst.GeneratorExp, cst.ListComp)) and not node.args[0].keyword:
            return self.comprehension(node.args[0].value, target, total=True)
        if statement and isinstance(func, cst.Attribute) and func.attr.value == "append" and \
                isinstance(func.value, cst.Name) and len(node.args) == 1 and \
                not node.args[0].keyword and (func.value.value in self.locals
                                              or func.value.value in self.scope):
            lst = self.name(func.value)
            self.emit(ir.Append(lst.id, self.expr(node.args[0].value)))
            return Const(None, "None")
        method = None
        if fn is MISSING and isinstance(func, cst.Attribute) and not (
                dotted_name(func) and not self.is_local(dotted_name(func)[0])
                and not self.global_datum(dotted_name(func)[0])):
            method = func.attr.value
            args.append(self.expr(func.value))
        elif isinstance(fn, parse_.Nested):
            kwargs += [(n, Name(n)) for n in fn.free]
        elif fn is MISSING:
            dotted = dotted_name(func)
            if dotted and self.is_local(dotted[0]):
                raise self.error(func, f"calling {'.'.join(dotted)}, a local variable, is "
                                 "not supported yet")
            if dotted:
                raise self.error(func, f"{'.'.join(dotted)} is not defined")
            raise self.error(func, "only calls of named functions are supported")
        elif dotted_name(func)[0] not in self.source.bindings:
            self.globals[dotted_name(func)[0]] = self.source.resolve(dotted_name(func)[:1])
            self.namer.reserve(dotted_name(func)[0])
        for arg in node.args:
            if arg.star:
                raise self.error(arg, f"{arg.star}-unpacking in a call is not supported")
            atom = self.expr(arg.value)
            if arg.keyword is not None:
                kwargs.append((arg.keyword.value, atom))
            else:
                args.append(atom)
        if any(k == "out" for k, _ in kwargs):
            raise self.error(node, "out= writes into an existing array; assign the result "
                             "instead")
        first = self.label(args[0]) if args else None
        if method is not None:
            key = rules.METHODS.get(method)
            prim = Prim("method", key, method)
            hint = naming.call_name(method, first)
        else:
            spelling = self.source.code(func)
            prim = Prim("call", fn, spelling)
            short = getattr(fn, "__name__", None) or dotted_name(func)[-1]
            hint = naming.call_name(short, first)
        if statement:  # a call for its effect: no value
            self.emit(Assign(None, prim, tuple(args), tuple(kwargs), node=node))
            return Const(None, "None")
        return self.assign(target, prim, args, kwargs, node=node, hint=hint)

    def index(self, sub: cst.Subscript) -> ir.Index:
        items = []
        for el in sub.slice:
            s = el.slice
            if isinstance(s, cst.Slice):
                parts = [self.index_item(x) if x is not None else None
                         for x in (s.lower, s.upper, s.step)]
                items.append(ir.Slice(*parts))
            elif isinstance(s.value, cst.Name) and s.value.value == "None":
                items.append(ir.NEWAXIS)
            elif isinstance(s.value, cst.Ellipsis):
                items.append(ir.ELLIPSIS)
            else:
                items.append(self.index_item(s.value))
        return ir.Index(tuple(items))

    def index_concat(self, node: cst.Subscript, maker: Const, target) -> ir.Atom:
        """np.r_[a, b:c, d] (np.c_, any AxisConcatenator) as a call with a derivative rule:
        runtime.index_concat(np.r_, a, slice(b, c, None), d)."""
        if self.is_local("slice") or self.source.resolve(["slice"]) is not slice:
            raise self.error(node, f"{maker.text}[...] needs the builtin slice, which a name "
                             "of this module hides")
        items: list[ir.Atom] = []
        for el in node.slice:
            if not isinstance(el.slice, cst.Slice):
                items.append(self.expr(el.slice.value))
                continue
            bounds = [Const(None, "None") if x is None else Const(
                ast.literal_eval(x.value), x.value) if isinstance(x, cst.Imaginary)
                else self.expr(x) for x in (el.slice.lower, el.slice.upper, el.slice.step)]
            items.append(self.assign(None, Prim("call", slice, "slice"), bounds, node=node,
                                     hint="span"))
        if items and isinstance(items[0], Const) and isinstance(items[0].value, str) and \
                items[0].value in ("r", "c"):
            raise self.error(node, f"{maker.text}[{items[0].text}, ...] builds a matrix; "
                             f"adjoint differentiates {maker.text}[...] building arrays only")
        self.globals["slice"] = slice
        return self.assign(target, Prim("call", runtime.index_concat, "runtime.index_concat"),
                           [maker, *items], node=node, hint="joined")

    def index_item(self, node) -> ir.Atom | ir.Expr:
        """An index: arithmetic on names and numbers stays inline (`y[i - 1]`)."""
        negative_literal = isinstance(node, cst.UnaryOperation) and isinstance(
            node.operator, cst.Minus) and isinstance(node.expression, (cst.Integer, cst.Float))
        if isinstance(node, (cst.BinaryOperation, cst.UnaryOperation)) and self.arithmetic(
                node) and not negative_literal:
            template, args = self.passive_template(node)
            return ir.Expr(template, tuple(args))
        return self.expr(node)

    def arithmetic(self, node) -> bool:
        if isinstance(node, cst.BinaryOperation):
            return type(node.operator) in (cst.Add, cst.Subtract, cst.Multiply,
                                           cst.FloorDivide, cst.Modulo) and \
                self.arithmetic(node.left) and self.arithmetic(node.right)
        if isinstance(node, cst.UnaryOperation):
            return isinstance(node.operator, cst.Minus) and self.arithmetic(node.expression)
        if isinstance(node, cst.Name):
            return node.value in self.locals
        return isinstance(node, cst.Integer)

    @staticmethod
    def index_hint(base: ir.Atom, index: ir.Index) -> str:
        label = base.id if isinstance(base, Name) else "item"
        bits = []
        for item in index.items:
            if isinstance(item, Name):
                bits.append(item.id)
            elif isinstance(item, ir.Expr):
                spelled = ir.text(ir.atom_parts(item)).replace("+", "p").replace("-", "m")
                bits.append(naming.identifier(spelled.replace(" ", "")))
            elif isinstance(item, Const) and isinstance(item.value, int):
                bits.append(str(item.value).replace("-", "m"))
            else:
                return f"{label}_part"
        return "_".join([label, *bits])

    # ------------------------------------------------------------ passive text

    def passive_names(self, node) -> set[str]:
        """Register the global names a passive expression reads; return its local names."""
        local = set()
        for n in self.names_in(node):
            if self.is_local(n):
                local.add(n)
            elif n not in ("True", "False", "None"):
                obj = self.source.resolve([n])
                if obj is not MISSING:
                    self.globals[n] = obj
                    self.namer.reserve(n)
        return local

    def passive_template(self, node) -> tuple[str, list[Name]]:
        """`node`'s code as a format template over the local names it reads (a
        comprehension's variables by their emitted names)."""
        self.passive_names(node)
        code = self.source.code(node).strip()
        if isinstance(node, cst.Assert):
            tree = ast.parse(code)
        else:
            tree = ast.parse(f"({code})", mode="eval")
            code = f"({code})"
        lines = code.splitlines(keepends=True)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))
        spots = sorted(
            (starts[n.lineno - 1] + n.col_offset, starts[n.lineno - 1] + n.end_col_offset, n.id)
            for n in ast.walk(tree) if isinstance(n, ast.Name) and self.is_local(n.id)
        )
        order: list[str] = []
        out, pos = [], 0
        for start, end, name in spots:
            out.append(code[pos:start].replace("{", "{{").replace("}", "}}"))
            if name not in order:
                order.append(name)
            out.append(f"{{{order.index(name)}}}")
            pos = end
        out.append(code[pos:].replace("{", "{{").replace("}", "}}"))
        text = "".join(out)
        if not isinstance(node, cst.Assert) and text.startswith("(") and text.endswith(")"):
            text = text[1:-1]
        return " ".join(text.split()), [Name(self.scope.get(n, n)) for n in order]


def _target_names(node) -> list:
    """The Name nodes an assignment target binds (a plain name, or names in a tuple)."""
    if isinstance(node, cst.Name):
        return [node]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for el in node.elements for n in _target_names(el.value)]
    return []


def iterates_keys(target, it, scope_node) -> bool:
    """Whether `for k in d` reads d[k] (or d[..., k, ...]) in `scope_node`, or compares k
    with a string: then d is a dict and k its keys."""
    if not (isinstance(target, cst.Name) and isinstance(it, cst.Name)) or scope_node is None:
        return False
    found = []
    strings = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)

    def is_k(n) -> bool:
        return isinstance(n, cst.Name) and n.value == target.value

    class V(cst.CSTVisitor):
        def visit_Subscript(self, n: cst.Subscript) -> None:
            if isinstance(n.value, cst.Name) and n.value.value == it.value and any(
                    isinstance(el.slice, cst.Index) and is_k(el.slice.value) for el in n.slice):
                found.append(n)

        def visit_Comparison(self, n: cst.Comparison) -> None:
            sides = [n.left, *(c.comparator for c in n.comparisons)]
            if any(is_k(x) for x in sides) and any(isinstance(x, strings) or (
                    isinstance(x, (cst.Tuple, cst.List, cst.Set)) and any(
                        isinstance(e.value, strings) for e in x.elements))  # k in ("w", "b")
                    for x in sides):
                found.append(n)

    scope_node.visit(V())
    return bool(found)


def reads_of(name: str, node) -> int:
    """How many times `name` appears as a name in `node`."""
    count = [0]

    class V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            count[0] += n.value == name

    node.visit(V())
    return count[0]


def dict_view(it) -> tuple[str, Any] | None:
    """('items', d) for `d.items()`, and likewise keys and values."""
    if isinstance(it, cst.Call) and not it.args and isinstance(it.func, cst.Attribute) and \
            it.func.attr.value in ("items", "keys", "values"):
        return it.func.attr.value, it.func.value
    return None


def np_shape_key(attr: str) -> Any:
    import numpy as np

    return {"shape": np.shape, "ndim": np.ndim, "size": np.size}.get(attr, len)


def dotted_name(node: cst.BaseExpression) -> list[str] | None:
    """['np', 'linalg', 'norm'] for `np.linalg.norm`; None if not a dotted name."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return parts[::-1]


def _refused(fn) -> bool:
    try:
        return fn in REFUSED_CALLS
    except TypeError:  # unhashable
        return False


def count_returns(fd: cst.FunctionDef) -> int:
    """Returns of `fd` itself (not of functions nested in it)."""
    found = [0]

    class V(cst.CSTVisitor):
        def visit_Return(self, node) -> None:
            found[0] += 1

        def visit_FunctionDef(self, node) -> bool:
            return node is fd

        def visit_Lambda(self, node) -> bool:
            return False

    fd.visit(V())
    return found[0]


def single_exit(body: list, result: str, namer: naming.Namer) -> list:
    """A body whose every path ends at one final `return result`.

    Every `return` has already assigned `result`. Inside a loop a return sets a flag and
    breaks (and the loop is followed by `if flag: return`); then what follows a branch that
    returns moves into the branch that does not."""
    body = _returns_out_of_loops(body, result, namer)
    body = _structure(body, (ir.Return,))
    body = [s for s in _strip_returns(body)]
    return body + [ir.Return(Name(result), origin=_last_origin(body))]


def _last_origin(body: list):
    for s in reversed(list(ir.walk(body))):
        if s.origin is not None:
            return s.origin
    return None


def _contains_return(body: list) -> bool:
    return any(isinstance(s, ir.Return) for s in ir.walk(body))


def _returns_out_of_loops(body: list, result: str, namer: naming.Namer) -> list:
    out: list = []
    for s in body:
        if isinstance(s, (ir.For, ir.While)) and _contains_return(s.body):
            flag = namer.fresh("returned")
            s.body = _return_to_break(s.body, flag)
            out += [Assign(flag, ir.COPY, (Const(False, "False"),), origin=s.origin), s,
                    ir.If(Name(flag), [ir.Return(Name(result), origin=s.origin)], [],
                          origin=s.origin)]
            continue
        if isinstance(s, ir.If):
            s.body = _returns_out_of_loops(s.body, result, namer)
            s.orelse = _returns_out_of_loops(s.orelse, result, namer)
        out.append(s)
    return out


def _return_to_break(body: list, flag: str) -> list:
    out: list = []
    for s in body:
        if isinstance(s, ir.Return):
            out += [Assign(flag, ir.COPY, (Const(True, "True"),), origin=s.origin),
                    ir.Break(origin=s.origin)]
            continue
        if isinstance(s, ir.If):
            s.body = _return_to_break(s.body, flag)
            s.orelse = _return_to_break(s.orelse, flag)
        elif isinstance(s, (ir.For, ir.While)) and _contains_return(s.body):
            s.body = _return_to_break(s.body, flag)
            out += [s, ir.If(Name(flag), [ir.Break(origin=s.origin)], [], origin=s.origin)]
            continue
        out.append(s)
    return out


def _strip_returns(body: list) -> list:
    out = []
    for s in body:
        if isinstance(s, ir.Return):
            continue
        if isinstance(s, ir.If):
            s.body = _strip_returns(s.body)
            s.orelse = _strip_returns(s.orelse)
        out.append(s)
    return out


def structure_jumps(body: list) -> list:
    """Move what follows a `break`/`continue` (or an `if` that may jump) into the branch
    that does not jump, so every jump is the last statement of its block. Loops that can
    break count their trips."""
    return _structure(body, (ir.Break, ir.Continue))


def _structure(body: list, jumps: tuple) -> list:
    out: list = []
    for k, s in enumerate(body):
        if isinstance(s, ir.If):
            s.body = _structure(s.body, jumps)
            s.orelse = _structure(s.orelse, jumps)
        elif isinstance(s, (ir.For, ir.While)) and ir.Break in jumps:
            s.body = _structure(s.body, jumps)
            if isinstance(s, ir.For) and any(isinstance(x, ir.Break)
                                              for x in _loop_level(s.body)):
                s.trips = s.trips or f"{s.target}_trips"
        out.append(s)
        if isinstance(s, jumps):
            return out  # the rest is unreachable
        if isinstance(s, ir.If):
            rest = body[k + 1:]
            body_jumps = _ends_in_jump(s.body, jumps)
            else_jumps = _ends_in_jump(s.orelse, jumps)
            if rest and (body_jumps or else_jumps or _may_jump(s, jumps)):
                if body_jumps and else_jumps:
                    return out
                if body_jumps:
                    s.orelse = _structure(s.orelse + rest, jumps)
                elif else_jumps:
                    s.body = _structure(s.body + rest, jumps)
                else:  # copy the rest before structuring changes it in place
                    copies = [_copy(x) for x in rest]
                    s.body = _structure(s.body + rest, jumps)
                    s.orelse = _structure(s.orelse + copies, jumps)
                return out
    return out


def _flag_breaks(body: list, flag: str, origin) -> list:
    """Set `flag` before each break that leaves this loop (not breaks of inner loops)."""
    out: list = []
    for s in body:
        if isinstance(s, ir.Break):
            out.append(Assign(flag, ir.COPY, (Const(True, "True"),), origin=s.origin or origin))
        elif isinstance(s, ir.If):
            s.body = _flag_breaks(s.body, flag, origin)
            s.orelse = _flag_breaks(s.orelse, flag, origin)
        out.append(s)
    return out


def pin_tests(body: list, namer: naming.Namer) -> list:
    """`if flag:` whose branches rebind flag tests a copy of it, so the reverse sweep, which
    replays the branch after the forward sweep has run it, reads the value tested."""
    out: list = []
    for s in body:
        for block in ir.blocks(s):
            block[:] = pin_tests(block, namer)
        if isinstance(s, ir.If) and isinstance(s.test, Name) and s.test.id in {
                n for x in ir.walk(s.body + s.orelse) for n in ir.defs(x)}:
            held = namer.fresh(f"{s.test.id}_tested")
            out.append(Assign(held, ir.COPY, (s.test,), origin=s.origin))
            s.test = Name(held)
        out.append(s)
    return out


def _copy(stmt):
    import copy

    return copy.deepcopy(stmt)


def _ends_in_jump(block: list, jumps: tuple) -> bool:
    if not block:
        return False
    last = block[-1]
    if isinstance(last, jumps):
        return True
    if isinstance(last, ir.If):
        return _ends_in_jump(last.body, jumps) and _ends_in_jump(last.orelse, jumps)
    return False


def _may_jump(s, jumps: tuple) -> bool:
    return any(isinstance(x, jumps) for x in _loop_level([s]))


def _loop_level(body: list):
    """Statements of `body` outside nested loops (where a break would apply to this loop)."""
    for s in body:
        yield s
        if isinstance(s, ir.If):
            yield from _loop_level(s.body)
            yield from _loop_level(s.orelse)


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    """The Name nodes inside an expression."""
    found: list[cst.Name] = []

    class V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.append(n)

    node.visit(V())
    return found


def _literal_value(value) -> bool:
    """A value its repr writes exactly: a Python number, bool, None or string, or a tuple of
    them."""
    if isinstance(value, tuple):
        return all(_literal_value(v) for v in value)
    return type(value) in (int, float, bool, str, type(None)) and (
        not isinstance(value, float) or math.isfinite(value))


def _is_literal_text(node: cst.CSTNode) -> bool:
    try:
        ast.literal_eval(cst.Module([]).code_for_node(node))
    except (ValueError, SyntaxError, TypeError):
        return False
    return True


def _dotted(node: cst.CSTNode) -> bool:
    if isinstance(node, cst.Attribute):
        return _dotted(node.value)
    return isinstance(node, cst.Name)


def _statements_of(node: cst.CSTNode, kinds: tuple) -> list:
    """The nodes of the given kinds inside node."""
    found: list = []

    class V(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            if isinstance(n, kinds):
                found.append(n)
            return True

    node.visit(V())
    return found
