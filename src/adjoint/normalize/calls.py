"""Calls: what a callee names, nested function definitions, and the call primitives."""

from __future__ import annotations

import inspect
from typing import Any

import libcst as cst
import libcst.matchers as m
import numpy as np

from .. import ir, jit, naming, rules
from .. import parse as parse_
from ..errors import MissingRule
from ..ir import Assign, Const, Name, Prim
from ..parse import MISSING
from ..rules import stats as rules_stats
from ..runtime import inplace
from .callables import CallablesMixin, held_function
from .syntax import bindings_of, dict_view, dotted_name, names_in
from .tables import REFUSED_CALLS, refused


class CallsMixin(CallablesMixin):
    """Calls of functions, of methods and of functions defined inside this one."""

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
        if obj is MISSING and len(dotted) > 1:
            return self.distribution_method(func, dotted)
        generic = getattr(obj, "__adjoint_generic__", None)
        if jit.is_dispatcher(obj) and rules.lookup(obj) is None:
            return obj.py_func  # an njit function: differentiated through its Python source
        return obj if generic is None else generic.function  # a gradient: its emitted code

    def distribution_method(self, func: cst.BaseExpression, dotted: list[str]) -> Any:
        """`norm.logpdf`, `st.norm.logpdf`: a method of a scipy.stats distribution, as the
        rule table keys it (a bound method is a new object at each read); a frozen
        distribution's method is refused. MISSING for anything else."""
        owner = self.source.resolve(dotted[:-1])
        if rules_stats.is_distribution(owner):
            return rules.DistributionMethod(type(owner), dotted[-1], owner)
        dist = rules_stats.frozen_from(owner) if rules_stats.is_frozen(owner) else None
        if dist is not None and rules.lookup(rules.DistributionMethod(type(dist), dotted[-1],
                                                                      dist)):
            if _parameters_kept(owner):
                return MISSING  # global_frozen_call passes its parameters
            raise self.frozen_error(func, ".".join(dotted[:-1]), dist)
        return MISSING

    def frozen_local(self, func: cst.BaseExpression) -> None:
        """Refuse `d.logpdf(x)` where every assignment to the local d freezes a distribution
        (d = norm(a, b)) and the method has a rule: the parameters' derivatives would be
        lost in the frozen object."""
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)
                and func.value.value in self.locals
                and func.value.value not in self.scope
                and func.attr.value in rules_stats.METHOD_NAMES):
            return
        name = func.value.value
        if name not in self.frozen:
            self.frozen[name] = self.frozen_by(name)
        dist = self.frozen[name]
        if dist is not None and rules.lookup(
                rules.DistributionMethod(type(dist), func.attr.value, dist)) is not None:
            raise self.frozen_error(func, name, dist)

    def frozen_by(self, name: str) -> Any:
        """The distribution every assignment to the local `name` freezes (d = norm(a, b)),
        or None."""
        p = self.source.funcdef.params
        if name in {x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)}:
            return None
        values = [a.value for a in m.findall(self.source.funcdef, m.Assign())
                  if any(isinstance(t.target, cst.Name) and t.target.value == name
                         for t in a.targets)]
        if not values or len(values) != bindings_of(name, self.source.funcdef):
            return None
        dists = []
        for value in values:
            dotted = dotted_name(value.func) if isinstance(value, cst.Call) else None
            if not dotted or self.is_local(dotted[0]) or dotted[0] in self.source.bindings:
                return None
            dists.append(self.source.resolve(dotted))
            if not rules_stats.is_distribution(dists[-1]):
                return None
        return dists[0]

    def frozen_error(self, node: cst.CSTNode, what: str, dist: Any) -> Exception:
        """The refusal of a frozen distribution's method: what to write instead."""
        name = rules_stats.distribution_name(dist)
        return self.error(node, f"{what} is a frozen scipy.stats distribution ({name} with its "
                          "parameters fixed), whose methods adjoint does not differentiate; "
                          "pass the parameters to the distribution's method instead: "
                          f"{rules_stats.unfrozen_spelling(dist)}, or write "
                          f"{name}(...).logpdf(x) in one expression", MissingRule)

    def unfrozen_call(self, node: cst.Call) -> tuple | None:
        """`norm(a, b).logpdf(x)`, a frozen distribution's method in one expression, as the
        call `norm.logpdf(x, a, b)` (the parameters carry derivatives this way):
        (key, spelling, args, kwargs), the constructor's arguments evaluated first, as Python
        does. None for any other call."""
        func = node.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call)):
            return None
        inner = func.value
        dotted = dotted_name(inner.func)
        if not dotted or self.is_local(dotted[0]) or dotted[0] in self.source.bindings:
            return None
        dist = self.source.resolve(dotted)
        if not rules_stats.is_distribution(dist):
            return None
        key = rules.DistributionMethod(type(dist), func.attr.value, dist)
        points, names = key.points(), key.parameters()
        outer = node.args
        if points is None or any(a.star for a in (*inner.args, *outer)):
            return None  # a method whose arguments adjoint cannot place: as Python runs it
        frozen = [a for a in inner.args if a.keyword is None]
        named = [(a.keyword.value, a) for a in inner.args if a.keyword is not None]
        if len(frozen) > len(names) or any(k not in names for k, _ in named if k != "seed"):
            return None
        self.callee(inner.func, dist)  # registers the distribution's global name
        frozen_atoms = [self.expr(a.value) for a in frozen]
        named_atoms = [(k, self.expr(a.value)) for k, a in named if k != "seed"]
        args, kwargs = self.placed(key, outer, frozen_atoms, named_atoms)
        spelling = f"{self.source.code(inner.func)}.{func.attr.value}"
        return key, spelling, args, kwargs

    def global_frozen_call(self, node: cst.Call) -> tuple | None:
        """`PRIOR.logpdf(w)` where the module holds `PRIOR = norm(0.0, 2.0)`: the call
        `norm.logpdf(w, PRIOR.args[0], PRIOR.args[1])`, its parameters read from the frozen
        object (they carry no derivative). (key, spelling, args, kwargs), or None."""
        func = node.func
        dotted = dotted_name(func)
        if not dotted or len(dotted) < 2 or self.is_local(dotted[0]) or \
                dotted[0] in self.source.bindings:
            return None
        frozen = self.source.resolve(dotted[:-1])
        dist = rules_stats.frozen_from(frozen) if rules_stats.is_frozen(frozen) else None
        if dist is None or not _parameters_kept(frozen):
            return None
        key = rules.DistributionMethod(type(dist), dotted[-1], dist)
        if key.points() is None or rules.lookup(key) is None or any(a.star for a in node.args):
            return None
        self.callee(cst.Name(dotted[0]), self.source.resolve(dotted[:1]))
        owner = ".".join(dotted[:-1])
        frozen_atoms = [Const(v, f"{owner}.args[{k}]") for k, v in enumerate(frozen.args)]
        named_atoms = [(k, Const(v, f"{owner}.kwds[{k!r}]")) for k, v in frozen.kwds.items()]
        args, kwargs = self.placed(key, node.args, frozen_atoms, named_atoms)
        return key, f"{owner}.dist.{dotted[-1]}", args, kwargs

    def placed(self, key: Any, outer, frozen_atoms: list, named_atoms: list) -> tuple:
        """The arguments of a frozen distribution's method with its parameters passed."""
        names, points = key.parameters(), key.points()
        args, kwargs = [], []
        for a in outer:
            atom = self.expr(a.value)
            if a.keyword is not None:
                kwargs.append((a.keyword.value, atom))
            else:
                args.append(atom)
        if len(args) == points and not kwargs:  # norm.logpdf(x, a, b)
            args += frozen_atoms
        else:  # the point by keyword: the parameters by name, norm.logpdf(x=x, loc=a, ...)
            kwargs += list(zip(names, frozen_atoms, strict=False))
        kwargs += named_atoms
        return args, kwargs

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
            read = names_in(param.default) & self.locals
            if read:  # evaluated where the def runs, which the lifted function cannot see
                raise self.error(param.default, f"the default of {param.name.value} reads "
                                 f"{sorted(read)[0]}, a local of {self.source.name}; pass it "
                                 "as an argument instead")
        for inner in m.findall(node, m.Nonlocal() | m.Global()):
            raise self.error(inner, f"{name} rebinds a name of an enclosing scope "
                             f"({self.source.code(inner).strip()}); return the value instead")
        self.nested[name] = parse_.Nested(self.source, node, code, free)

    def call(self, node: cst.Call, target, statement: bool = False) -> ir.Atom:
        """The recursion into the callee's object and the arguments stays here, not in
        helpers: a method chain nests without limit, and a helper would cost a frame per
        level."""
        func, known, prefix = node.func, None, ([], [])
        if isinstance(func, cst.Name) and func.value in self.partials and \
                func.value not in self.scope:  # a partial or closure made here
            func, known, *prefix = self.partials[func.value]
        fn = known if known is not None else self.resolve_callee(func)
        plain = _without_out(node, fn)
        if plain is not None:  # emitted code differentiated again: what it computes
            return self.expr(plain, target)
        if self.made_partial(node, fn, target) or self.made_closure(node, fn, target):
            return Name(target)
        mapped = self.mapped(node, fn)
        if mapped is not None:
            return self.comprehension(mapped, target, total=True) if fn is sum else \
                self.expr(mapped, target)
        listed = _listed_view(node) if fn is MISSING else None
        if listed is not None and self.is_local(node.func.value.value):
            return self.expr(listed, target)  # d.values() read as a list of them
        if fn is dict and node.args and all(a.keyword is not None and not a.star
                                            for a in node.args):  # dict(w=x): {'w': x}
            values = [self.expr(a.value) for a in node.args]
            keys = tuple(repr(a.keyword.value) for a in node.args)
            return self.assign(target, Prim("dict", keys), values, node=node, hint="params")
        if refused(fn):
            raise self.error(node, f"{REFUSED_CALLS[fn]}() runs code or reads names adjoint "
                             "cannot see, so its derivative cannot be known; write the "
                             "computation out")
        if _sums_comprehension(node, fn):
            return self.comprehension(node.args[0].value, target, total=True)
        if statement and self.appends(node):
            lst = self.name(func.value)
            self.emit(ir.Append(lst.id, self.expr(node.args[0].value)))
            return Const(None, "None")
        if fn is MISSING:
            self.frozen_local(func)
            if self.through_value(func):
                return self.value_call(node, target, statement, func, prefix)
        elif held_function(fn):
            return self.value_call(node, target, statement, func, prefix)
        unfrozen = self.unfrozen_call(node) or self.global_frozen_call(node) \
            if fn is MISSING else None
        if unfrozen is not None:
            key, spelling, args, kwargs = unfrozen
            return self.distribution_call(node, target, statement, key, spelling, args, kwargs)
        method, kwargs = self.callee(func, fn) if known is None else (None, [])
        args = [self.expr(func.value)] if method is not None else []
        args, kwargs = self.call_arguments(node, args + list(prefix[0]),
                                           kwargs + list(prefix[1]))
        if (any(k == "out" for k, _ in kwargs) or (method is None and _out_passed(fn, args))) \
                and not (method is None and _own_function(fn)):
            raise self.error(node, "out= (by keyword or by position) writes into an existing "
                             "array; assign the result instead")
        prim, hint = self.call_prim(func, fn, method, args)
        if known is not None and isinstance(node.func, cst.Name):  # named for the local
            hint = naming.call_name(node.func.value, self.label(args[0]) if args else None)
        if statement:  # a call for its effect: no value
            self.emit(Assign(None, prim, tuple(args), tuple(kwargs), node=node))
            return Const(None, "None")
        return self.assign(target, prim, args, kwargs, node=node, hint=hint)

    def distribution_call(self, node: cst.Call, target, statement: bool, key: Any,
                          spelling: str, args: list, kwargs: list) -> ir.Atom:
        """The call of a distribution's method with the frozen parameters passed."""
        prim = Prim("call", key, spelling)
        if statement:
            self.emit(Assign(None, prim, tuple(args), tuple(kwargs), node=node))
            return Const(None, "None")
        hint = naming.call_name(key.method, self.label(args[0]) if args else None)
        return self.assign(target, prim, args, kwargs, node=node, hint=hint)

    def appends(self, node: cst.Call) -> bool:
        """Whether the call is `xs.append(x)` on a local list (as a statement, an Append)."""
        func = node.func
        return isinstance(func, cst.Attribute) and func.attr.value == "append" and \
            isinstance(func.value, cst.Name) and len(node.args) == 1 and \
            not node.args[0].keyword and (func.value.value in self.locals
                                          or func.value.value in self.scope)

    def callee(self, func: cst.BaseExpression, fn: Any) -> tuple[str | None, list]:
        """The method a call calls (None for a function; its object is the first argument)
        and the keyword arguments it gets first: a nested function's free variables. A
        global function's name is registered; a name that is no function is an error."""
        if fn is MISSING and isinstance(func, cst.Attribute) and not (
                dotted_name(func) and not self.is_local(dotted_name(func)[0])
                and not self.global_datum(dotted_name(func)[0])):
            return func.attr.value, []
        if isinstance(fn, parse_.Nested):
            return None, [(n, Name(n)) for n in fn.free]
        if fn is MISSING:
            dotted = dotted_name(func)
            if dotted and self.is_local(dotted[0]):
                raise self.error(func, f"calling {'.'.join(dotted)}, a local variable, is "
                                 "not supported yet")
            if dotted and len(dotted) > 1 and isinstance(
                    self.source.resolve(dotted[:-1]), np.ufunc):  # np.maximum.accumulate
                raise self.error(func, f"the ufunc method {'.'.join(dotted)} has no "
                                 "derivative rule (np.add.at is differentiated; write the "
                                 "others with a loop or the function's own reduction)",
                                 MissingRule)
            if dotted:
                raise self.error(func, f"{'.'.join(dotted)} is not defined")
            raise self.error(func, "only calls of named functions are supported")
        if dotted_name(func)[0] not in self.source.bindings:
            self.globals[dotted_name(func)[0]] = self.source.resolve(dotted_name(func)[:1])
            self.namer.reserve(dotted_name(func)[0])
        return None, []

    def call_prim(self, func: cst.BaseExpression, fn: Any, method: str | None,
                  args: list) -> tuple[Prim, str]:
        """The primitive of a call and the hint its result is named by."""
        first = self.label(args[0]) if args else None
        if method is not None:
            key = rules.METHODS.get(method)
            prim = Prim("method", key, method)
            hint = naming.call_name(method, first)
        else:
            spelling = self.source.code(func)
            prim = Prim("call", fn, spelling)
            short = getattr(fn, "__name__", None)
            if short == "<lambda>":  # a lambda is named by the name it is called through
                short = (dotted_name(func) or ["lambda"])[-1]
            short = short or dotted_name(func)[-1]
            hint = naming.call_name(short, first)
        return prim, hint


_BINARY = {"+": cst.Add, "-": cst.Subtract, "*": cst.Multiply, "/": cst.Divide}


def _without_out(node: cst.Call, fn: Any) -> cst.BaseExpression | None:
    """`x * y` for `runtime.multiply(x, y, out=t)` and `f(x)` for `runtime.unary(f, x,
    out=t)`, the calls emitted code writes into a temporary t that nothing reads after them
    (inplace.py): differentiated again, they are the operations they compute."""
    op = next((sym for f, sym in inplace.OPERATORS.items() if f is fn), None)
    if op is None and fn is not inplace.unary:
        return None
    args = [a for a in node.args if not (a.keyword is not None and a.keyword.value == "out")]
    if len(args) != 2 or len(node.args) != 3 or any(a.keyword or a.star for a in args):
        return None
    if op is not None:
        return cst.BinaryOperation(args[0].value, _BINARY[op](), args[1].value)
    return cst.Call(args[0].value, [cst.Arg(args[1].value)])


def _own_function(fn: Any) -> bool:
    """A function of the user's (its `out=` is a parameter like any other, not NumPy's)."""
    from ..analysis.values import is_user_function

    return fn is not MISSING and is_user_function(fn)


def _parameters_kept(frozen: Any) -> bool:
    """Whether a frozen distribution keeps its parameters as `.args` and `.kwds`."""
    return isinstance(getattr(frozen, "args", None), tuple) and isinstance(
        getattr(frozen, "kwds", None), dict) and getattr(frozen, "dist", None) is not None


def _listed_view(node: cst.Call) -> cst.ListComp | None:
    """`[v for v in d.values()]` for `d.values()` of a local d (and likewise keys and items),
    None for any other call: a view read as a value (sum(d.values()), list(d.items())) is
    the list a loop over it makes."""
    view = dict_view(node)
    if view is None or not isinstance(view[1], cst.Name):
        return None
    key, value = cst.Name("key"), cst.Name("value")
    target, elt = {"keys": (key, key), "values": (value, value),
                   "items": (cst.Tuple([cst.Element(key), cst.Element(value)]),) * 2}[view[0]]
    return cst.ListComp(elt, cst.CompFor(target=target, iter=node))


def _sums_comprehension(node: cst.Call, fn: Any) -> bool:
    """`sum(e for x in xs)` or `sum([e for x in xs])`: a loop adding, no list built."""
    return fn is sum and len(node.args) == 1 and isinstance(node.args[0].value, (
        cst.GeneratorExp, cst.ListComp)) and not node.args[0].keyword


def _out_passed(fn: Any, args: list) -> bool:
    """Whether a NumPy function's `out` is passed by position (`np.dot(a, b, c)`,
    `np.add(a, b, c)`): it writes into that array."""
    if isinstance(fn, np.ufunc):
        return len(args) > fn.nin and not _none(args[fn.nin])
    if not callable(fn) or not (getattr(fn, "__module__", None) or "").startswith("numpy"):
        return False
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p.name for p in params if p.kind in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    at = positional.index("out") if "out" in positional else len(args)
    return len(args) > at and not _none(args[at])


def _none(a) -> bool:
    return isinstance(a, ir.Const) and a.value is None
