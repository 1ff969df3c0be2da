"""Statements: simple statements, assignment and its targets, `if`, in A-normal form."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
import numpy as np

from .. import ir, naming
from ..ir import Assign, Name, Prim
from .base import NormalizerBase
from .lazy import is_lazy, written_after
from .syntax import dotted_name, names_in
from .tables import AUGOPS, BINOPS, REFUSED_STATEMENTS


class StatementsMixin(NormalizerBase):
    """A user statement to IR statements, each remembering the statement it came from."""

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
        elif isinstance(stmt, cst.Try):
            self.try_(stmt)
        elif isinstance(stmt, cst.With):
            self.with_(stmt)
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
            if isinstance(s.value, cst.Call) and self.is_add_at(s.value):
                self.add_at(s.value)
            elif isinstance(s.value, cst.Call):
                self.call(s.value, None, statement=True)
            else:
                self.expr(s.value)
        elif isinstance(s, cst.Pass):
            return
        elif isinstance(s, cst.Break):
            self.emit(ir.Break())
        elif isinstance(s, cst.Continue):
            self.emit(ir.Continue())
        elif isinstance(s, (cst.Assert, cst.Raise)):  # a raise: the path has no gradient
            self.opaque(s)
        else:
            what = REFUSED_STATEMENTS.get(type(s), type(s).__name__)
            raise self.error(s, f"{what} is not supported inside a differentiated function")

    def result_name(self, value: cst.BaseExpression) -> str | None:
        if isinstance(value, cst.Name) and value.value in self.locals:
            return None
        return self.namer.fresh(self.source.name)

    def check_lazy(self, name: str, value, node) -> None:
        """Refuse an iterator kept in `name` and consumed after a name it reads is written:
        Python runs it when it is consumed, adjoint where it is made (normalize/lazy.py)."""
        changed = written_after(self.source.funcdef, node, name, value)
        if changed is not None:
            raise self.error(node, f"{name} is an iterator (run when it is consumed) that reads "
                             f"{changed}, which is written after it; adjoint runs it where it "
                             f"is made: build a list ([... for ...]) or consume {name} before "
                             f"{changed} changes")

    def assign_stmt(self, targets: Sequence[cst.AssignTarget], value, node) -> None:
        if len(targets) > 1:
            atom = self.expr(value)
            for t in targets:
                self.bind(t.target, atom, node)
            return
        target = targets[0].target
        if isinstance(target, cst.Attribute):
            self.attribute_write(target, self.expr(value), " = ", node)
        elif isinstance(target, cst.Name) and isinstance(value, cst.Lambda):
            body = cst.IndentedBlock([cst.SimpleStatementLine([cst.Return(value.body)])])
            self.define_nested(cst.FunctionDef(cst.Name(target.value), value.params, body),
                               "<lambda>")
        elif isinstance(target, cst.Name):
            self.local_name(target)
            if is_lazy(value):
                self.check_lazy(target.value, value, node)
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
                reads |= names_in(e.value)
            if not (written & reads):
                for n, e in zip(names, value.elements, strict=True):
                    self.local_name(n)
                    self.expr(e.value, n.value)
                return
        self.bind(target, self.expr(value), node)

    def bind(self, target, atom: ir.Atom, node) -> None:
        """Store an already computed atom into an assignment target."""
        if isinstance(target, cst.Name):
            self.assign(self.target_name(target), ir.COPY, [atom], node=node)
        elif isinstance(target, (cst.Tuple, cst.List)):
            if any(isinstance(el, cst.StarredElement) for el in target.elements):
                self.starred_bind(target, atom, node)  # starred.py
                return
            names = []
            inner = []
            for el in target.elements:
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
        elif isinstance(target, cst.Attribute):
            self.attribute_write(target, atom, " = ", node)
        else:
            raise self.error(target, "only names, tuples and subscripts can be assigned to")

    def is_add_at(self, call: cst.Call) -> bool:
        dotted = dotted_name(call.func)
        return dotted is not None and len(dotted) > 1 and dotted[-1] == "at" and \
            self.source.resolve(dotted[:-1]) is np.add

    def add_at(self, call: cst.Call) -> None:
        """np.add.at(a, indices, b): b added into a at indices, a place repeated there
        added again (written in place as y[i] += v is, without its check of distinct
        places)."""
        args = call.args
        if len(args) != 3 or any(a.keyword or a.star for a in args) or not isinstance(
                args[0].value, cst.Name) or args[0].value.value not in self.locals:
            raise self.error(call, "np.add.at is differentiated when called as "
                             "np.add.at(a, indices, b) with a a local array")
        where = args[1].value
        items = [el.value for el in where.elements] if isinstance(where, cst.Tuple) else [where]
        index = ir.Index(tuple(self.expr(item) for item in items))
        self.emit(ir.SetItem(args[0].value.value, index, self.expr(args[2].value), op="at"))

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
            self.emit(ir.SetItem(base, index, new, aug=spelling))
        elif isinstance(s.target, cst.Attribute):
            self.attribute_write(s.target, value, f" {spelling}= ", s)
        else:
            raise self.error(s.target, "augmented assignment to this target is not supported")

    def attribute_write(self, target: cst.Attribute, value: ir.Atom, op: str, node) -> None:
        """`self.nfev += 1`, `self.n_in = X.shape[1]`, `counter.calls = 0`: the value, then
        the write as written, for its effect; the reverse sweep refuses it where the value
        written varies with what is differentiated (a derivative through an object's state
        would be lost)."""
        place, args = self.passive_template(target)
        dotted = dotted_name(target)
        objects = frozenset({self.scope.get(dotted[0], dotted[0])} if dotted else ())
        template = f"{place}{op}{{{len(args)}}}"
        self.emit(Assign(None, Prim("setattr", objects, template), (*args, value), node=node))

    def opaque(self, node) -> None:
        """A statement with no value to differentiate (assert): kept as the user wrote it."""
        template, args = self.passive_template(node)
        self.emit(Assign(None, Prim("expr", None, template), args, node=node))

    # ------------------------------------------------------------ if

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
