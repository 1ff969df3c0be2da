"""The Program driver: the functions of one emitted module, and what their names meant."""

from __future__ import annotations

import builtins
import math
import operator
import types
from dataclasses import dataclass, replace
from typing import Any

import libcst
import numpy as np

from . import compile as emit
from . import inline as inline_
from . import link, runtime
from . import normalize as normalize_
from . import optimize as optimize_
from . import parse as parse_
from . import reverse as reverse_
from .errors import ApiError, stage
from .inplace import written_into
from .naming import EMITTED, Namer

RESERVED = set(EMITTED) | {"None", "_"}
BASE_NAMESPACE = {"runtime": runtime, "np": np, "math": math, "operator": operator}


@dataclass(frozen=True)
class DataKind:
    """What code compiled for an attribute holding data (`C.k`, `cfg.scale`, read through
    its class or module) depends on: its kind, checked at each call (global_signature)."""

    signature: tuple


@dataclass
class Compiled:
    """One emitted gradient: its source, the live function and what it was built from."""

    source: str
    function: Any
    name: str
    wrt: tuple[str, ...]
    namespace: dict
    seed: str = ""  # the keyword that takes the adjoint of the result
    data: tuple = ()  # (name, function it is read from, signature) of each global datum
    code: tuple = ()  # (globals or None, 'a', ('b',), object, function) of each module,
    # function or class named a.b (None: a closure's name), to check at each call
    defaults: tuple = ()  # (function, its __defaults__, a copy of its __kwdefaults__) of each
    # function the code was compiled from: the values of literal defaults are written into it

    def refresh(self) -> bool:
        """Put the current values of the global data the code reads into its namespace;
        False when one changed in a way the code was specialized on, a name of a module,
        function or class now means another, or a function's defaults were replaced
        (recompile)."""
        for fn, positional, keyword in self.defaults:
            now = getattr(fn, "__kwdefaults__", None)
            if getattr(fn, "__defaults__", None) is not positional or (
                    now is not keyword and not _same_items(now, keyword)):
                return False
        for space, head, rest, obj, owner in self.code:
            now = space.get(head, MISSING_GLOBAL) if space is not None else named_now(owner, head)
            if now is MISSING_GLOBAL:
                now = _BUILTINS.get(head, MISSING_GLOBAL)  # a builtin (range, max)
            for attr in rest:
                now = getattr(now, attr, MISSING_GLOBAL)
            if now is obj:  # the common case: the same object
                continue
            if isinstance(obj, DataKind):  # an attribute holding data (C.k): of its kind
                if now is MISSING_GLOBAL or global_signature(now) != obj.signature:
                    return False
            elif not (isinstance(now, types.BuiltinMethodType) and now == obj):
                return False  # (dict.fromkeys is a new bound method each time it is read)
        if not self.data:
            return True
        live = self.function.__globals__
        read: dict = {}
        for name, owner, signature in self.data:
            value = current_global(owner, name)
            if value is MISSING_GLOBAL:
                value = named_now(owner, name)  # a builtin (Ellipsis)
            if value is MISSING_GLOBAL or global_signature(value) != signature or \
                    read.setdefault(name, value) is not value:  # two modules' now differ
                return False
            live[name] = value
        return True


_BUILTINS = vars(builtins)


class Program:
    """The functions of one emitted module: a gradient, and the split adjoints (`f_fwd`,
    `f_bwd`) of the user functions it calls with active arguments, compiled on demand."""

    def __init__(self, optimize: bool = True, inline: bool = True):
        self.optimize = optimize
        self.inline = inline  # small helpers inlined where the code is specialized on shapes
        self.typed = False  # for numba: each variable keeps one type (link.Spec.typed)
        self.names = Namer(RESERVED)
        self.functions: list = []
        self.callees: dict = {}
        self.namespace: dict = dict(BASE_NAMESPACE)
        self.sources: dict[str, Any] = {}
        self.lifted: dict = {}
        self.modules: dict[str, str] = {}  # global name -> the module it was read from
        self.owners: dict[str, list] = {}  # global name -> the functions that read it (one
        # per module)
        self.compiled: list = []  # the user functions this module differentiates
        self.resolved: list = []  # (function, {'a.b': object}) of each: what its names meant
        self.portable = True  # whether its names all come from modules (no closures)
        self.defaults: dict[str, str] = {}  # name holding a default value -> its function

    def add(self, fn: Any, wrt: Any, *, mode: str = "grad", as_tuple: bool | None = None,
            bindings: dict | None = None, names: tuple = (), kinds: tuple = ((), ())
            ) -> tuple[list, tuple[str, ...]]:
        """parse, normalize, reverse (activity inside), optimize."""
        with stage("reading", fn):
            src = parse_.parse(fn, bindings)
        namer = Namer(RESERVED | self.names.taken)
        with stage("normalizing", fn):
            normalized = normalize_.normalize(src, namer)
        self.compiled.append(fn)
        self.portable &= not bindings and isinstance(fn, types.FunctionType) and not (
            fn.__closure__)
        wrt_names = resolve_wrt(normalized, wrt) if mode != "split" else wrt
        if self.inline and len(kinds) > 5 and kinds[5]:  # specialized on shapes
            normalized = self.inlined(normalized, wrt_names, namer)
        if mode != "split":
            names = (self.names.fresh(("value_and_grad_" if mode == "value" else "grad_")
                                      + normalized.name),)
        for n in names:
            namer.reserve(n)
        with stage("differentiating", fn):
            emitted = self.reverse(normalized, wrt_names, namer, mode, as_tuple, names, kinds)
        if self.optimize:
            with stage("optimizing the gradient of", fn):
                emitted = [written_into(optimize_.optimize(e)) for e in emitted]
        self.merge(normalized.globals, normalized.name, getattr(fn, "__module__", None))
        self.resolved.append((src.fn, src.resolved))
        self.hold_defaults(normalized)
        for name in normalized.globals:
            self.add_owner(name, src.fn)
        self.functions += emitted
        return emitted, wrt_names

    def hold_defaults(self, normalized) -> None:
        """The values of defaults their text no longer means, held in the namespace under
        the names the emitted signature gives them (not read again)."""
        for name, value in getattr(normalized, "defaults", {}).items():
            self.namespace[name] = value
            self.sources.setdefault(name, normalized.name)
            self.defaults[name] = normalized.name
            self.portable = False

    def inlined(self, normalized, wrt_names: tuple, namer: Namer):
        """normalized with its small helpers' statements in place of their calls
        (inline.py); the helpers' names and sources are kept as a callee's are."""
        with stage("inlining the helpers of", normalized.source.fn):
            done = inline_.inline_calls(normalized, tuple(wrt_names), namer,
                                        RESERVED | self.names.taken | namer.taken)
        for helper, src, globals_ in done.helpers:
            self.compiled.append(helper)
            self.resolved.append((src.fn, src.resolved))
            for name in globals_:  # (a name the caller reads too: the caller's first)
                self.add_owner(name, helper)
        return done.fn

    def mark(self) -> tuple:
        """What `rollback` returns the module to: its functions and callees as they are."""
        return (len(self.functions), dict(self.callees), dict(self.lifted),
                set(self.names.taken), dict(self.names._next))

    def rollback(self, mark: tuple) -> None:
        """Forget the functions compiled since `mark` (callees specialized on shapes their
        calls turned out not to have: link.link_calls)."""
        count, callees, lifted, taken, following = mark
        del self.functions[count:]
        self.callees, self.lifted = callees, lifted
        self.names.taken, self.names._next = taken, following

    def reverse(self, normalized, wrt_names, namer, mode, as_tuple, names, kinds):
        """The reverse stage, specialized on the argument kinds: (scalars, ints[, lists,
        arrays, records, shapes]); without lists and arrays, the code for no call in
        particular; with shapes ((parameter, shape) of arrays), the code for those shapes."""
        spec = link.Spec(tuple(wrt_names), frozenset(kinds[0]), frozenset(kinds[1]),
                         frozenset(kinds[2]) if len(kinds) > 2 else frozenset(),
                         frozenset(kinds[3]) if len(kinds) > 3 else frozenset(),
                         dims=tuple(kinds[5]) if len(kinds) > 5 else (), split=mode == "split",
                         typed=self.typed, ndims=tuple(kinds[6]) if len(kinds) > 6 else ())
        if mode != "split" and len(kinds) < 4:  # code for no call in particular
            spec = replace(spec, assumed=link.assumed(normalized, spec))
        linked, relied = link.link_calls(normalized, spec, namer, self)
        return reverse_.reverse(linked, spec, namer, mode=mode, as_tuple=as_tuple,
                                names=names, relied=relied)

    @staticmethod
    def params(fn: Any) -> list[str]:
        if isinstance(fn, parse_.Nested):
            return fn.params()
        code = fn.__code__
        return list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])

    def split(self, fn: Any, positions: Any, keywords: Any, avoid: set[str], bindings: dict,
              kinds: tuple = ((), ())) -> tuple:
        """(fwd name, bwd name, kind of the result, its shape) of the split adjoint of `fn`
        for these active arguments, specialized on the arguments known to be scalars or
        ints (and on shapes, where kinds has them)."""
        params = self.params(fn)
        positional = fn.positional_count() if isinstance(fn, parse_.Nested) else \
            fn.__code__.co_argcount
        if any(k >= positional for k in positions):
            raise ApiError(f"{fn.__qualname__} is called with more positional arguments than "
                           "it has parameters")
        wrt = tuple(params[k] for k in positions) + tuple(keywords)
        key = (fn, wrt, tuple(sorted((k, id(v)) for k, v in bindings.items())), kinds)
        if key not in self.callees:
            base = parse_.function_name(fn)
            names = tuple(self.names.fresh(f"{base}_{part}") for part in ("fwd", "bwd"))
            for n in names:
                if n in avoid:
                    raise ApiError(f"{n} is both a local name and an emitted function")
            self.callees[key] = (*names, None, None)  # a recursive call knows the names only
            emitted, _ = self.add(fn, wrt, mode="split", bindings=bindings, names=names,
                                  kinds=kinds)
            self.callees[key] = (*names, emitted[0].result_kind, emitted[0].result_dims)
        return self.callees[key]

    def primal(self, nested: parse_.Nested) -> str:
        """The module-level name of a function defined inside a differentiated one."""
        if nested not in self.lifted:
            name = self.names.fresh(nested.__name__)
            self.lifted[nested] = name
            code = libcst.Module([nested.lifted().with_changes(name=libcst.Name(name))]).code
            self.functions.append(code.strip() + "\n")
            self.portable = False
            self.merge({k: v for k, v in nested.parent.namespace.items()
                        if k in libcst_names(nested.funcdef)}, nested.__name__)
        return self.lifted[nested]

    def data(self) -> tuple:
        """The module-level (or closure) values the code reads that are data, not code:
        read again at each call, as Python would."""
        return tuple((n, owner, global_signature(v))
                     for n, v in sorted(self.namespace.items(), key=lambda kv: kv[0])
                     if n in self.owners and n not in BASE_NAMESPACE and is_data(v)
                     for owner in self.owners[n])

    def add_owner(self, name: str, fn: Any) -> None:
        """`fn` reads the global `name`: the first function of each module that does (the
        same name in two modules may be rebound in one of them later)."""
        owners = self.owners.setdefault(name, [])
        space = getattr(fn, "__globals__", None)
        if not any(getattr(o, "__globals__", None) is space for o in owners):
            owners.append(fn)

    def defaults_seen(self) -> tuple:
        """Compiled.defaults: the defaults of each function this module differentiates."""
        return tuple(defaults_entry(fn) for fn in self.compiled)

    def code(self) -> tuple:
        """(function, 'a.b', object) of each module, function or class the compiled functions
        named: the code is compiled for them, and again when a name means another."""
        return tuple(code_entry(owner, dotted, obj if not is_data(obj) else
                                DataKind(global_signature(obj)))
                     for owner, resolved in self.resolved for dotted, obj in
                     sorted(resolved.items()) if not is_data(obj) or "." in dotted)

    def merge(self, globals_: dict, owner: str, module: str | None = None) -> None:
        for name, obj in globals_.items():
            if name in self.namespace and self.namespace[name] is not obj and \
                    name not in BASE_NAMESPACE:
                raise ApiError(f"the name {name!r} means different things in {owner} and in "
                               f"{self.sources[name]}; rename one of them")
            self.namespace[name] = obj
            self.sources.setdefault(name, owner)
            self.modules.setdefault(name, module)

    def source(self) -> str:
        """The module text: each function after the helpers it calls."""
        return emit.to_source(self.functions)


def compile_split(fn: Any, positions: tuple, keywords: tuple, kinds: tuple) -> tuple:
    """(Compiled, fwd, bwd): the split adjoint of `fn` for these active arguments, as live
    code (a call through a value finds it when the call runs)."""
    program = Program()
    fwd, bwd, _, _ = program.split(fn, positions, keywords, set(), {}, kinds)
    with stage("compiling the adjoint of", fn):
        text = program.source()
        space = emit.load(text, dict(program.namespace), fwd)
    compiled = Compiled(text, space[fwd], fwd, (), program.namespace, "", program.data(),
                        program.code(), program.defaults_seen())
    return compiled, space[fwd], space[bwd]


MISSING_GLOBAL = object()


def is_data(value: Any) -> bool:
    """Whether a global the code reads is data (a number, an array, a tuple...): code
    (modules, functions, classes) decides what is compiled; data is read at each call."""
    return not (isinstance(value, (types.ModuleType, type)) or callable(value))


def global_signature(value: Any) -> tuple:
    """What the compiled code depends on in a global datum: the value of an int, a string
    or a tuple (slice bounds, axes, subscripts), only the type of anything else."""
    if isinstance(value, (bool, int, np.integer, str, bytes, type(None))) or (
            isinstance(value, tuple) and all(
                isinstance(v, (bool, int, np.integer, str, type(None))) for v in value)):
        return (type(value), value)
    return (type(value),)


def current_global(fn: Any, name: str) -> Any:
    """The value `name` has now where `fn` (a function or a module) reads it: a closure
    cell, or the module's globals."""
    if isinstance(fn, types.ModuleType):
        return vars(fn).get(name, MISSING_GLOBAL)
    code = getattr(fn, "__code__", None)
    if code is not None and name in code.co_freevars and fn.__closure__:
        try:
            return fn.__closure__[code.co_freevars.index(name)].cell_contents
        except ValueError:
            return MISSING_GLOBAL
    return getattr(fn, "__globals__", {}).get(name, MISSING_GLOBAL)


def code_entry(owner: Any, dotted: str, obj: Any) -> tuple:
    """What Compiled.refresh checks of a name: where it is read (the globals of `owner`, or
    None for a closure's name), its head and attributes, and the object it meant."""
    head, *rest = dotted.split(".")
    if isinstance(owner, types.ModuleType):
        space = vars(owner)
    else:
        code = getattr(owner, "__code__", None)
        closed = code is not None and head in code.co_freevars
        space = None if closed else getattr(owner, "__globals__", None)
    return space, head, tuple(rest), obj, owner


def defaults_entry(fn: Any) -> tuple:
    """What Compiled.refresh checks of a function's defaults: the tuple holding the
    positional ones, and the keyword-only ones (a copy: their dict can change in place)."""
    keyword = getattr(fn, "__kwdefaults__", None)
    return fn, getattr(fn, "__defaults__", None), None if keyword is None else dict(keyword)


def _same_items(now: dict | None, then: dict | None) -> bool:
    """Whether a function's keyword-only defaults are the objects they were."""
    if now is None or then is None:
        return now is then
    return len(now) == len(then) and all(now.get(k, then) is v for k, v in then.items())


def named_now(owner: Any, dotted: str) -> Any:
    """What `a.b.c` means now where `owner` (a function) reads it: its closure, its module's
    globals, or the builtins."""
    import builtins

    head, *rest = dotted.split(".")
    obj = current_global(owner, head)
    if obj is MISSING_GLOBAL:
        obj = getattr(builtins, head, MISSING_GLOBAL)
    for attr in rest:
        obj = getattr(obj, attr, MISSING_GLOBAL)
    return obj


def libcst_names(node: libcst.CSTNode) -> set[str]:
    """Every name a libcst node mentions."""
    found: set[str] = set()

    class V(libcst.CSTVisitor):
        def visit_Name(self, n: libcst.Name) -> None:
            found.add(n.value)

    node.visit(V())
    return found


def resolve_wrt(fn: Any, wrt: Any) -> tuple[str, ...]:
    """Parameter names for `wrt`: a position, a name, or a tuple of them."""
    params = [p.name for p in fn.params]
    items = wrt if isinstance(wrt, (tuple, list)) else (wrt,)
    if not items:
        raise ApiError("wrt is empty; name at least one parameter to differentiate with "
                       "respect to")
    out = []
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            raise ApiError(f"wrt must name parameters by position or name, not {w!r}")
        if isinstance(w, int):
            if not -len(params) <= w < len(params):
                raise ApiError(f"wrt={w} is out of range: {fn.name} has {len(params)} "
                               f"parameter(s) ({', '.join(params)})")
            w = params[w]
        elif w not in params:
            raise ApiError(f"wrt={w!r} names no parameter of {fn.name} (its parameters: "
                           f"{', '.join(params)})")
        if w in out:
            raise ApiError(f"wrt names {w!r} twice")
        if any(p.name == w and getattr(p, "kind", "") == "varkw" for p in fn.params):
            raise ApiError(f"wrt={w!r} names the **{w} parameter, which holds keyword "
                           "arguments that are not differentiated; name a parameter of its own")
        out.append(w)
    return tuple(out)
