"""Subscripts: indices kept inline where they are arithmetic, and np.r_[...] as a call."""

from __future__ import annotations

import ast

import libcst as cst

from .. import ir, naming, runtime
from ..ir import Const, Name, Prim
from .base import NormalizerBase


class IndexingMixin(NormalizerBase):
    """`a[i, 1:n]` read as one primitive, its index items atoms or inline arithmetic."""

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

