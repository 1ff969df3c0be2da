"""Starred unpacking: `*cell, W_out = params` as index reads, and `step(h, x, *cell)` of the
user's own function of fixed arity as a call with its arguments one by one.

After this, a starred assignment target is `a = v[0]`, `rest = list(v[1:-1])`, `b = v[-1]`
(the starred name holds a list, as in Python), and a starred argument that fills the last
positional parameters of a user function with no defaults among them is unpacked first,
`cell_0, cell_1 = cell`, so the call passes names, each of which may carry a derivative.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

import libcst as cst

from .. import ir
from .. import parse as parse_
from ..ir import Assign, Const, Name, Prim
from .base import NormalizerBase


class StarredMixin(NormalizerBase):
    """Starred targets and starred arguments of the user's functions."""

    def starred_bind(self, target: cst.Tuple | cst.List, atom: ir.Atom, node) -> None:
        """`a, *rest, b = v`: each target an index read of v, the starred one a list of the
        items between."""
        elements = list(target.elements)
        k = next(i for i, el in enumerate(elements) if isinstance(el, cst.StarredElement))
        if any(isinstance(el, cst.StarredElement) for el in elements[k + 1:]):
            raise self.error(elements[k], "two starred targets in one assignment")
        after = len(elements) - k - 1
        need = len(elements) - 1  # Python's own check: the items are read by index below
        self.emit(Assign(None, Prim("expr", None, f"if len({{0}}) < {need}: raise ValueError("
                                    f"'not enough values to unpack (expected at least {need})')"),
                         (atom,), node=node))
        for i, el in enumerate(elements):
            if i == k:
                bounds = ir.Slice(Const(k, str(k)) if k else None,
                                  Const(-after, str(-after)) if after else None, None)
                self.bind_item(el.value, atom, ir.Index((bounds,)), node, listed=True)
            else:
                j = i if i < k else i - len(elements)
                self.bind_item(el.value, atom, ir.Index((Const(j, str(j)),)), node)

    def bind_item(self, target, atom: ir.Atom, index: ir.Index, node, listed: bool = False
                  ) -> None:
        """target = atom[index], or list(atom[index]) when `listed` (the slice itself when a
        name of the module hides the builtin list)."""
        named = isinstance(target, cst.Name)
        hint = target.value if named else "item"
        if listed:
            atom = self.assign(None, Prim("index"), [atom], index=index, node=node,
                               hint=f"{hint}_part")
            if self.is_local("list") or self.source.resolve(["list"]) is not list:
                self.bind(target, atom, node)
                return
            self.globals["list"] = list
            self.namer.reserve("list")
            prim, index = Prim("call", list, "list"), None
        else:
            prim = Prim("index")
        item = self.assign(self.target_name(target) if named else None, prim, [atom],
                           index=index, node=node, hint=hint)
        if not named:
            self.bind(target, item, node)

    def emit(self, stmt) -> None:
        """A call of a user function of fixed arity with a starred last argument: the
        sequence unpacked into names first (Python raises as it would, on a wrong length)."""
        expanded = self.starred_call(stmt)
        if expanded is not None:
            unpack, stmt = expanded
            super().emit(unpack)
        super().emit(stmt)

    def starred_call(self, s) -> tuple[ir.Unpack, Assign] | None:
        from ..analysis.values import is_user_function  # analysis imports normalize

        if not (isinstance(s, Assign) and s.prim.kind == "call" and s.args
                and is_user_function(s.prim.key)):
            return None
        last = s.args[-1]
        if not (isinstance(last, ir.Expr) and last.template == "*{0}" and isinstance(
                last.args[0], Name)) or any(isinstance(a, ir.Expr) for a in s.args[:-1]):
            return None
        free = _free_positional(s.prim.key, len(s.args) - 1, {k for k, _ in s.kwargs})
        if not free:
            return None
        seq = last.args[0].id
        names = tuple(self.namer.fresh(f"{seq}_{i}") for i in range(free))
        call = Assign(s.target, s.prim, (*s.args[:-1], *(Name(n) for n in names)), s.kwargs,
                      s.index, node=s.node)
        return ir.Unpack(names, Name(seq)), call


def _free_positional(fn: Any, given: int, keywords: set[str]) -> int:
    """How many positional parameters of `fn` a starred argument after `given` positional
    ones fills, when that is fixed (no defaults among them, no *args, none passed by
    keyword); else 0."""
    if isinstance(fn, parse_.Nested):
        p = fn.funcdef.params
        params = [*p.posonly_params, *p.params]
        if isinstance(p.star_arg, cst.Param):
            return 0
        names = [x.name.value for x in params]
        defaulted = {x.name.value for x in params if x.default is not None}
    elif isinstance(fn, types.FunctionType):
        code = fn.__code__
        if code.co_flags & inspect.CO_VARARGS:
            return 0
        names = list(code.co_varnames[: code.co_argcount])
        defaulted = set(names[len(names) - len(fn.__defaults__ or ()):])
    else:
        return 0
    rest = names[given:]
    if not rest or defaulted & set(rest) or keywords & set(rest):
        return 0
    return len(rest)
