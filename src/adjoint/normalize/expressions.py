"""Expressions: each nested expression computed into a temporary named for what it holds."""

from __future__ import annotations

import ast
import operator
from typing import Any

import libcst as cst

from .. import ir, naming, rules
from ..ir import Const, Name, Prim
from ..parse import MISSING
from .base import NormalizerBase
from .syntax import dotted_name
from .tables import BINOPS, COMPARES, UNARY, UNSUPPORTED_EXPRESSIONS


class ExpressionsMixin(NormalizerBase):
    """An expression to the statements computing it, and the atom holding its value."""

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
        """Binary operations, subscripts and sequences are written out here, not in helpers:
        chains of them nest without limit, and a helper would cost a frame per level."""
        if isinstance(node, cst.Name):
            return self.name(node)
        if isinstance(node, cst.Imaginary):
            raise self.error(node, f"the complex number {node.value} is not supported: "
                             "adjoint's rules are for real values")
        if isinstance(node, (cst.Integer, cst.Float)):
            return Const(ast.literal_eval(node.value), node.value)
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            return self.string(node)
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
            hint = "tup" if kind == "tuple" else "items"
            if any(isinstance(el, cst.StarredElement) for el in node.elements):
                return self.starred_display(node, target, hint)
            items = [self.expr(el.value) for el in node.elements]
            return self.assign(target, Prim(kind), items, node=node, hint=hint)
        if isinstance(node, cst.IfExp):
            return self.if_exp(node, target)
        if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.DictComp)):
            return self.comprehension(node, target)
        if isinstance(node, cst.Dict):
            return self.dict_literal(node, target)
        if isinstance(node, cst.Ellipsis):
            return Const(Ellipsis, "...")
        if isinstance(node, cst.FormattedString):  # text (a message, a label): as written
            template, args = self.passive_template(node)
            return self.assign(target, Prim("expr", None, template), args, node=node,
                               hint="text")
        what = UNSUPPORTED_EXPRESSIONS.get(type(node), type(node).__name__)
        raise self.error(node, f"{what} is not supported inside a differentiated function")

    def string(self, node: cst.SimpleString | cst.ConcatenatedString) -> Const:
        text = self.source.code(node)
        value = ast.literal_eval(f"({text})")  # "a"\n"b" across lines, in parentheses
        return Const(value, text if "\n" not in text else repr(value))

    def starred_display(self, node, target, hint: str) -> ir.Atom:
        """`(*x.shape, 2)`: as written (refused where it carries a derivative)."""
        template, args = self.passive_template(node)
        return self.assign(target, Prim("expr", None, template), args, node=node, hint=hint)

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



def np_shape_key(attr: str) -> Any:
    import numpy as np

    return {"shape": np.shape, "ndim": np.ndim, "size": np.size}.get(attr, len)
