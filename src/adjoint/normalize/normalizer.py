"""The entry point `normalize` and the Normalizer its parts combine into."""

from __future__ import annotations

import ast
import math
import sys

import libcst as cst

from .. import ir, naming
from .. import parse as parse_
from ..parse import Source
from .calls import CallsMixin
from .compound import CompoundMixin
from .expressions import ExpressionsMixin
from .indexing import IndexingMixin
from .jumps import Unstructured, pin_tests, single_exit, structure_jumps
from .loops import LoopsMixin
from .starred import StarredMixin
from .statements import StatementsMixin
from .syntax import count_returns, dotted_name

DEEP = 8000  # the recursion limit while normalizing: a 2000-term sum is ~6000 frames deep


def normalize(source: Source, namer: naming.Namer) -> ir.Function:
    """The function in `source`, in A-normal form.

    After normalize, every simple statement is one primitive on atoms:
    `t = op(a, b)`, `t = f(a, k=b)`, `t = a.f(b)`, `t = a[i, 1:n]`, `t = a.T`,
    `t = (a, b)`, `t = a`, `a[i] = t`, `a, b = t`, `return t`; atoms are names and
    constants. Nested expressions get temporaries named for what they hold.
    `if`/`for`/`while`/`try`/`with` keep their structure: a `for` runs over a name
    holding a range (loops over sequences become loops over their indices), a `while`
    recomputes its test in a prelude, a `with` keeps its context expressions as written.
    After a `break` or `continue` nothing follows in its block: later statements move into
    the other branch. There is one `return`, the
    last statement. Each statement remembers the user statement it came from.
    """
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, DEEP))  # libcst walks nested expressions recursively
    try:
        return Normalizer(source, namer).function()
    except RecursionError:
        raise source.error(source.funcdef, f"{source.name} nests expressions or blocks too "
                           "deeply for adjoint; name some intermediate values") from None
    finally:
        sys.setrecursionlimit(limit)


class Normalizer(StarredMixin, StatementsMixin, LoopsMixin, CompoundMixin, ExpressionsMixin,
                 CallsMixin, IndexingMixin):
    """One user function to an `ir.Function`: its parameters, then its body."""

    def function(self) -> ir.Function:
        fd = self.source.funcdef
        params = self.parameters()
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
        try:
            if not single:
                body = single_exit(body, self.result, self.namer)
            body = pin_tests(structure_jumps(body), self.namer)
        except Unstructured as exc:
            raise self.error(exc.stmt.origin.node if exc.stmt.origin else fd, exc.msg) from None
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

    def parameters(self) -> list[ir.Param]:
        p = self.source.funcdef.params
        star = p.star_arg if isinstance(p.star_arg, cst.Param) else None
        if star is not None and isinstance(self.source.fn, parse_.Nested):
            raise self.error(star, "*args parameters of a function defined inside another "
                             "are not supported")
        params = []
        groups = [("positional", p.posonly_params), ("positional", p.params),
                  ("var", [star] if star is not None else []), ("keyword", p.kwonly_params)]
        for kind, group in groups:
            for param in group:
                if param.name.value in self.source.extra_params:
                    params.append(ir.Param(param.name.value, None, "keyword"))
                    continue
                default = None
                if param.default is not None:
                    self.passive_names(param.default)
                    default = self.default(param)
                params.append(ir.Param(param.name.value, default, kind))
        if p.star_kwarg is not None:  # **kwargs: the extra keyword arguments, a dict
            params.append(ir.Param(p.star_kwarg.name.value, None, "varkw"))
        return params

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
        if _literal_value(value):  # the text, where it still writes the value exactly
            return text if _is_literal_text(param.default) and _same_literal(
                ast.literal_eval(text), value) else repr(value)
        if dotted_name(param.default) is not None and self.source.resolve(
                text.split(".")) is value:
            return text  # a name that still means the object (a list literal would make
            # another: the function's own list, changed in place, is the default)
        held = self.namer.fresh(f"{name}_default")
        self.defaults[held] = value
        return held


def _literal_value(value: object) -> bool:
    """A value its repr writes exactly: a Python number, bool, None or string, or a tuple of
    them."""
    if isinstance(value, tuple):
        return all(_literal_value(v) for v in value)
    return type(value) in (int, float, bool, str, type(None)) and (
        not isinstance(value, float) or math.isfinite(value))


def _same_literal(a: object, b: object) -> bool:
    """Whether two literal values are one value (1 is not 1.0, nor -0.0 0.0)."""
    return type(a) is type(b) and repr(a) == repr(b)


def _is_literal_text(node: cst.CSTNode) -> bool:
    try:
        ast.literal_eval(cst.Module([]).code_for_node(node))
    except (ValueError, SyntaxError, TypeError):
        return False
    return True
