"""Compound statements kept around their bodies: `with` and `try`/`except`/`else`/`finally`.

A `with` keeps its context expressions as written (passive: no derivative flows through a
context manager); the forward sweep enters them around the body, and the reverse sweep enters
again those that set the numeric environment (tables.REENTERED). A `try` keeps its clauses;
which way it went is recorded as it runs (`Try.caught`), like a branch's test, and the reverse
sweep replays that way. What makes a try differentiable (its body changes no object, and what
it binds part way is never read) is checked once the function is analysed
(analysis.exceptions).
"""

from __future__ import annotations

import ast
from typing import Any

import libcst as cst

from .. import ir
from ..ir import Const
from ..parse import MISSING
from .base import NormalizerBase
from .syntax import dotted_name, one_line
from .tables import REENTERED, SWALLOWING


def _entry(table: dict, fn: Any) -> str | None:
    """The table's spelling of fn, or of a class fn derives from."""
    for key, spelling in table.items():
        try:
            if fn is key or (isinstance(fn, type) and isinstance(key, type)
                             and issubclass(fn, key)):
                return spelling
        except TypeError:
            continue
    return None


class CompoundMixin(NormalizerBase):
    """`with` and `try` to `ir.With` and `ir.Try`."""

    def with_(self, s: cst.With) -> None:
        if s.asynchronous is not None:
            raise self.error(s, "async with is not supported inside a differentiated function")
        texts = [self.source.code(i.item) + (f" as {self.source.code(i.asname.name)}"
                                             if i.asname else "") for i in s.items]
        self.origin = ir.Origin(f"with {', '.join(' '.join(t.split()) for t in texts)}:", s)
        origin = self.origin
        items = tuple(self.with_item(item) for item in s.items)
        body = self.sub_block(s.body)
        self.origin = origin
        self.emit(ir.With(items, body))

    def with_item(self, item: cst.WithItem) -> ir.WithItem:
        node = item.item
        fn = self.resolve_callee(node.func) if isinstance(node, cst.Call) else MISSING
        swallows = _entry(SWALLOWING, fn)
        if swallows is not None:
            raise self.error(node, f"{swallows} swallows exceptions: the code after the with "
                             "may then follow a body stopped part way, whose derivatives "
                             "cannot be followed; write try/except with the alternative "
                             "computed in the except clause")
        self.defined(node)
        template, args = self.passive_template(node)
        name = None
        if item.asname is not None:
            target = item.asname.name
            if not isinstance(target, cst.Name):
                raise self.error(target, "`with ... as` must bind one name here")
            name = self.target_name(target)
        again = _entry(REENTERED, fn) is not None
        return ir.WithItem(ir.Expr(template, tuple(args)), name, again)

    def defined(self, node: cst.BaseExpression) -> None:
        """Refuse a passive expression that reads a name nothing defines."""
        code = one_line(self.source.code(node))
        for n in ast.walk(ast.parse(f"({code})", mode="eval")):
            if isinstance(n, ast.Name) and not self.is_local(n.id) and \
                    self.source.resolve([n.id]) is MISSING:
                raise self.error(node, f"name {n.id!r} is not defined")

    def try_(self, s: cst.Try) -> None:
        origin = self.origin
        caught = self.namer.fresh("caught")
        body = self.sub_block(s.body)
        handlers = [self.handler(h) for h in s.handlers]
        orelse = self.clause(s.orelse, "else:")
        final = self.clause(s.finalbody, "finally:")
        self.origin = origin
        self.emit(ir.Try(body, handlers, orelse, final, caught=caught))

    def clause(self, node: cst.Else | cst.Finally | None, header: str) -> list:
        if node is None:
            return []
        self.origin = ir.Origin(header, node)
        return self.sub_block(node.body)

    def handler(self, h: cst.ExceptHandler) -> ir.Handler:
        types = None
        if h.type is not None:
            self.defined(h.type)
            local = self.passive_names(h.type)
            if local:
                raise self.error(h.type, f"the except clause reads {sorted(local)[0]}: adjoint "
                                 "catches exception classes named by globals (ValueError, "
                                 "np.linalg.LinAlgError, a tuple of them)")
            dotted = dotted_name(h.type)
            types = Const(self.source.resolve(dotted) if dotted else None,
                          one_line(self.source.code(h.type)))
        name = None
        if h.name is not None:
            if not isinstance(h.name.name, cst.Name):
                raise self.error(h.name, "`except ... as` must bind one name")
            name = self.target_name(h.name.name)
        origin = self.origin = ir.Origin(ir.text(ir.handler_head(types, name)), h)
        return ir.Handler(types, name, self.sub_block(h.body), origin)
