"""Functions as values: calls through a value (`phi(t)`, `TESTBED[name](x)`, a global
functools.partial or callable object), a functools.partial made inside the function (its
calls call the function it wraps, with the values it fixed), and `map(f, xs)` as the list
`[f(x) for x in xs]`."""

from __future__ import annotations

import functools
import inspect
import types
from typing import Any

import libcst as cst

from .. import ir, naming, rules
from .. import parse as parse_
from ..errors import AdjointError
from ..ir import Assign, Const, Prim
from ..parse import MISSING
from .base import NormalizerBase
from .syntax import bindings_of, dotted_name, names_in


class CallablesMixin(NormalizerBase):
    """Calls of functions held in values."""

    def through_value(self, func: cst.BaseExpression) -> bool:
        """Whether a call calls a value: a local name (`phi(t)`, a comprehension variable
        too) or an expression that is no name (`TESTBED[name](x)`, `make()(x)`)."""
        if isinstance(func, cst.Name):
            return self.is_local(func.value) and func.value not in self.nested
        return not isinstance(func, cst.Attribute)

    def value_call(self, node: cst.Call, target, statement: bool, func: cst.BaseExpression,
                   prefix: tuple) -> ir.Atom:
        """A call of a function held in a value: the function called is the first argument
        (the reverse sweep finds its adjoint when the call runs). `prefix`: the arguments
        a partial made here fixed."""
        callee = self.expr(func)
        args, kwargs = self.call_arguments(node, [callee, *prefix[0]], list(prefix[1]))
        prim = Prim("call", ir.DYNAMIC, self.source.code(func))
        if statement:
            self.emit(Assign(None, prim, tuple(args), tuple(kwargs), node=node))
            return Const(None, "None")
        short = (dotted_name(func) or [self.label(callee) or "call"])[-1]
        hint = naming.call_name(short, self.label(args[1]) if len(args) > 1 else None)
        return self.assign(target, prim, args, kwargs, node=node, hint=hint)

    def call_arguments(self, node: cst.Call, args: list, kwargs: list) -> tuple[list, list]:
        """The atoms of a call's arguments after `args` and `kwargs` (a starred one passed as
        it is: refused where it carries a derivative)."""
        for arg in node.args:
            atom = self.expr(arg.value)
            if arg.star == "**":  # passed as it is: refused where it carries a derivative
                kwargs.append(("**", ir.Expr("**{0}", (atom,))))
                continue
            if arg.star:
                atom = ir.Expr("*{0}", (atom,))
            if arg.keyword is not None:
                kwargs.append((arg.keyword.value, atom))
            else:
                args.append(atom)
        return args, kwargs

    def made_partial(self, node: cst.Call, fn: Any, target: str | None) -> bool:
        """`score = partial(f, a, k=b)` inside the function, `score` bound once and only
        called (or mapped): each call `score(x)` becomes `f(a, x, k=b)`, with the values a
        and b had here. Records it and returns True; False for any other call."""
        if fn is not functools.partial or target is None or not node.args or any(
                a.star for a in node.args) or node.args[0].keyword is not None:
            return False
        if target in self.partials or bindings_of(target, self.source.funcdef) != 1 or \
                not self.only_called(target):
            return False
        func = node.args[0].value
        if self.resolve_callee(func) is MISSING and not self.through_value(func):
            return False
        fixed, named = [], []
        for k, arg in enumerate(node.args[1:]):
            atom = self.expr(arg.value)
            if isinstance(atom, ir.Name):  # the value it has now, whatever rebinds the name
                hint = f"{target}_{arg.keyword.value if arg.keyword else k}"
                atom = self.assign(None, ir.COPY, [atom], node=arg, hint=hint)
            if arg.keyword is not None:
                named.append((arg.keyword.value, atom))
            else:
                fixed.append(atom)
        self.partials[target] = (func, None, fixed, named)
        return True

    def made_closure(self, node: cst.Call, fn: Any, target: str | None) -> bool:
        """`k = make_kernel(a, b)`, a function of the user's that returns a function it
        defines over its own parameters, `k` bound once and only called: each call `k(x)`
        calls that function with the values a and b had here as its free variables (the
        factory still runs here for whatever else it does). Records it; False otherwise."""
        if target is None or target in self.partials or any(a.star for a in node.args) or \
                bindings_of(target, self.source.funcdef) != 1 or not self.only_called(target):
            return False
        found = closure_factory(fn)
        if found is None:
            return False
        nested, effects = found
        try:
            bound = inspect.signature(fn).bind(
                *[a.value for a in node.args if a.keyword is None],
                **{a.keyword.value: a.value for a in node.args if a.keyword is not None})
        except TypeError:
            return False
        defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items()}
        if any(n not in bound.arguments and not _literal(defaults.get(n)) for n in nested.free):
            return False
        atoms = {k: self.expr(v) for k, v in bound.arguments.items()}
        if effects:  # the factory runs for what else it does, as in the primal
            self.callee(node.func, fn)
            args = [atoms[k] for k in list(bound.arguments)[:len(bound.args)]]
            kwargs = [(k, atoms[k]) for k in list(bound.arguments)[len(bound.args):]]
            self.emit(Assign(None, Prim("call", fn, self.source.code(node.func)), tuple(args),
                             tuple(kwargs), node=node))
        named = []
        for n in nested.free:
            atom = atoms.get(n) or Const(defaults[n], repr(defaults[n]))
            if isinstance(atom, ir.Name):
                atom = self.assign(None, ir.COPY, [atom], node=node, hint=f"{target}_{n}")
            named.append((n, atom))
        self.partials[target] = (node.func, nested, [], named)
        return True

    def only_called(self, name: str) -> bool:
        """Whether every read of the local `name` calls it or maps it."""
        fd = self.source.funcdef
        reads = sum(1 for n in _names(fd) if n.value == name)
        calls = sum(1 for c in _calls(fd) if isinstance(c.func, cst.Name)
                    and c.func.value == name)
        mapped = sum(1 for c in _calls(fd) if dotted_name(c.func) == ["map"] and c.args
                     and isinstance(c.args[0].value, cst.Name) and c.args[0].value.value == name)
        return reads == 1 + calls + mapped  # the one binding, then only calls

    def mapped(self, node: cst.Call, fn: Any) -> cst.ListComp | None:
        """The list comprehension a call of map is (`map(f, xs)`, `sum(map(f, xs))`,
        `list(map(f, xs))`), or None."""
        if fn is map:
            return self.map_comprehension(node)
        if fn in (sum, list) and len(node.args) == 1 and not node.args[0].keyword and \
                not node.args[0].star and isinstance(node.args[0].value, cst.Call) and \
                self.resolve_callee(node.args[0].value.func) is map:
            return self.map_comprehension(node.args[0].value)
        return None

    def map_comprehension(self, node: cst.Call) -> cst.ListComp | None:
        """`map(f, xs, ys)` as `[f(x, y) for x, y in zip(xs, ys)]`; a lambda's body is the
        element itself (`map(lambda p: p(w), ps)`: `[p(w) for p in ps]`). None where the
        arguments are not plain."""
        if len(node.args) < 2 or any(a.star or a.keyword for a in node.args):
            return None
        func, iters = node.args[0].value, [a.value for a in node.args[1:]]
        if isinstance(func, cst.Lambda):
            p = func.params
            if p.star_arg is not cst.MaybeSentinel.DEFAULT and p.star_arg is not None or (
                    p.kwonly_params or p.posonly_params or p.star_kwarg
                    or len(p.params) != len(iters) or any(x.default for x in p.params)):
                return None
            names = [x.name for x in p.params]
            elt = func.body
        else:
            taken = names_in(self.source.funcdef) | set(self.locals)
            names = [cst.Name(_fresh("item", taken, k)) for k in range(len(iters))]
            fixed: list = []
            if isinstance(func, cst.Call) and self.resolve_callee(func.func) is \
                    functools.partial and func.args and not any(a.star for a in func.args):
                func, *fixed = (a if k else a.value for k, a in enumerate(func.args))
            positional = [a for a in fixed if a.keyword is None]
            named = [a for a in fixed if a.keyword is not None]
            elt = cst.Call(func, [*positional, *(cst.Arg(n) for n in names), *named])
            self.source.stand_ins[elt] = node
        target = names[0] if len(names) == 1 else cst.Tuple(
            [cst.Element(n) for n in names], lpar=(), rpar=())
        it = iters[0] if len(iters) == 1 else cst.Call(cst.Name("zip"),
                                                       [cst.Arg(i) for i in iters])
        comp = cst.ListComp(elt, cst.CompFor(target=target, iter=it))
        self.source.stand_ins[comp] = node
        return comp


def held_function(fn: Any) -> bool:
    """Whether a global is a function held in an object adjoint calls through its value: a
    functools.partial, a bound method of the user's object, a callable object of the user's
    class (each reads what it holds when the call runs)."""
    if isinstance(fn, functools.partial):
        return True
    if isinstance(fn, types.MethodType):
        return isinstance(fn.__func__, types.FunctionType) and not rules.lookup(fn)
    library = (type(fn).__module__ or "").split(".")[0] in ("numpy", "scipy", "adjoint")
    return not library and not isinstance(fn, (type, types.FunctionType,
                                               types.BuiltinFunctionType)) and \
        isinstance(inspect.getattr_static(type(fn), "__call__", None), types.FunctionType) and \
        rules.lookup(fn) is None and not rules.is_passive(fn)


_factories: dict = {}


def closure_factory(fn: Any) -> tuple | None:
    """(the Nested function it returns, whether it does anything else) of a function of the
    user's whose last statement returns a function it defines with def, over parameters it
    never rebinds; None for any other function."""
    from ..analysis.values import is_user_function

    if not isinstance(fn, types.FunctionType) or not is_user_function(fn):
        return None
    if fn in _factories:
        return _factories[fn]
    _factories[fn] = None
    try:
        src = parse_.parse(fn)
    except AdjointError:
        return None
    body = list(src.funcdef.body.body) if isinstance(src.funcdef.body, cst.IndentedBlock) \
        else []
    last = body[-1] if body else None
    if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[0], cst.Return)
            and isinstance(last.body[0].value, cst.Name)):
        return None
    name = last.body[0].value.value
    defs = [s for s in body if isinstance(s, cst.FunctionDef) and s.name.value == name]
    code = parse_.code_of(src.code_object, name, 0)
    params = set(inspect.signature(fn).parameters)
    if len(defs) != 1 or code is None or defs[0].decorators or not set(
            code.co_freevars) <= params or any(
            bindings_of(n, src.funcdef) for n in code.co_freevars):
        return None
    rest = [s for s in body[:-1] if s is not defs[0] and not _docstring(s)]
    nested = parse_.Nested(src, defs[0], code, tuple(code.co_freevars))
    _factories[fn] = (nested, bool(rest))
    return _factories[fn]


def _docstring(s: cst.CSTNode) -> bool:
    return isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.Expr) and \
        isinstance(s.body[0].value, (cst.SimpleString, cst.ConcatenatedString))


def _literal(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool, type(None))) and \
        value is not inspect.Parameter.empty


def _fresh(base: str, taken: set, k: int) -> str:
    name = base if k == 0 else f"{base}_{k}"
    while name in taken:
        name += "_"
    return name


def _names(node: cst.CSTNode) -> list:
    import libcst.matchers as m

    return m.findall(node, m.Name())


def _calls(node: cst.CSTNode) -> list:
    import libcst.matchers as m

    return m.findall(node, m.Call())
