"""The public API: grad, value_and_grad, source, and the pipeline driver."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import operator
import os
import sys
import tempfile
import types
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libcst
import numpy as np

from . import compile as emit
from . import normalize as normalize_
from . import optimize as optimize_
from . import parse as parse_
from . import reverse as reverse_
from . import runtime
from .errors import FORWARD, AdjointError, ApiError, from_adjoint, internal, stage
from .naming import EMITTED, Namer

RESERVED = set(EMITTED) | {"None", "_"}
BASE_NAMESPACE = {"runtime": runtime, "np": np, "math": math, "operator": operator}


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

    def refresh(self) -> bool:
        """Put the current values of the global data the code reads into its namespace;
        False when one changed in a way the code was specialized on, or a name of a module,
        function or class now means another (recompile)."""
        for space, head, rest, obj, owner in self.code:
            now = space.get(head, MISSING_GLOBAL) if space is not None else named_now(owner, head)
            if now is MISSING_GLOBAL:
                now = named_now(owner, head)  # a builtin
            for attr in rest:
                now = getattr(now, attr, MISSING_GLOBAL)
            if now is not obj:
                return False
        live = self.function.__globals__
        for name, owner, signature in self.data:
            value = current_global(owner, name)
            if value is MISSING_GLOBAL or global_signature(value) != signature:
                return False
            live[name] = value
        return True


class Program:
    """The functions of one emitted module: a gradient, and the split adjoints (`f_fwd`,
    `f_bwd`) of the user functions it calls with active arguments, compiled on demand."""

    def __init__(self, optimize: bool = True):
        self.optimize = optimize
        self.names = Namer(RESERVED)
        self.functions: list = []
        self.callees: dict = {}
        self.namespace: dict = dict(BASE_NAMESPACE)
        self.sources: dict[str, Any] = {}
        self.lifted: dict = {}
        self.modules: dict[str, str] = {}  # global name -> the module it was read from
        self.owners: dict[str, Any] = {}  # global name -> the function that reads it
        self.compiled: list = []  # the user functions this module differentiates
        self.resolved: list = []  # (function, {'a.b': object}) of each: what its names meant
        self.portable = True  # whether its names all come from modules (no closures)
        self.defaults: dict[str, str] = {}  # name holding a default value -> its function

    def add(self, fn: Any, wrt, *, mode: str = "grad", as_tuple: bool | None = None,
            bindings: dict | None = None, names: tuple = (), kinds: tuple = ((), ())):
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
        if mode != "split":
            names = (self.names.fresh(("value_and_grad_" if mode == "value" else "grad_")
                                      + normalized.name),)
        for n in names:
            namer.reserve(n)
        with stage("differentiating", fn):
            emitted = self.reverse(normalized, wrt_names, namer, mode, as_tuple, names, kinds)
        if self.optimize:
            with stage("optimizing the gradient of", fn):
                emitted = [optimize_.optimize(e) for e in emitted]
        self.merge(normalized.globals, normalized.name, getattr(fn, "__module__", None))
        self.resolved.append((src.fn, src.resolved))
        for name, value in getattr(normalized, "defaults", {}).items():
            self.namespace[name] = value  # a default its text no longer means: held, not read
            self.sources.setdefault(name, normalized.name)
            self.defaults[name] = normalized.name
            self.portable = False
        for name in normalized.globals:
            self.owners.setdefault(name, src.fn)
        self.functions += emitted
        return emitted, wrt_names

    def reverse(self, normalized, wrt_names, namer, mode, as_tuple, names, kinds):
        """The reverse stage, specialized on the argument kinds: (scalars, ints[, lists,
        arrays]); without lists and arrays, the code for no call in particular."""
        return reverse_.reverse(normalized, list(wrt_names), namer, mode=mode,
                                as_tuple=as_tuple, program=self, names=names,
                                scalar_params=set(kinds[0]), int_params=set(kinds[1]),
                                seq_params=set(kinds[2]) if len(kinds) > 2 else set(),
                                array_params=set(kinds[3]) if len(kinds) > 3 else set(),
                                assume_arrays=mode != "split" and len(kinds) < 4)

    @staticmethod
    def params(fn) -> list[str]:
        if isinstance(fn, parse_.Nested):
            return fn.params()
        code = fn.__code__
        return list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])

    def split(self, fn, positions, keywords, avoid, bindings, kinds=((), ())):
        """(fwd name, bwd name, kind of the result) of the split adjoint of `fn` for these
        active arguments, specialized on the arguments known to be scalars or ints."""
        params = self.params(fn)
        positional = fn.positional_count() if isinstance(fn, parse_.Nested) else \
            fn.__code__.co_argcount
        if any(k >= positional for k in positions):
            raise ApiError(f"{fn.__qualname__} is called with more positional arguments than "
                           "it has parameters")
        wrt = tuple(params[k] for k in positions) + tuple(keywords)
        key = (fn, wrt, tuple(sorted((k, id(v)) for k, v in bindings.items())), kinds)
        if key not in self.callees:
            names = tuple(self.names.fresh(f"{fn.__name__}_{part}") for part in ("fwd", "bwd"))
            for n in names:
                if n in avoid:
                    raise ApiError(f"{n} is both a local name and an emitted function")
            self.callees[key] = (*names, None)  # a recursive call knows the names only
            emitted, _ = self.add(fn, wrt, mode="split", bindings=bindings, names=names,
                                  kinds=kinds)
            self.callees[key] = (*names, emitted[0].result_kind)
        return self.callees[key]

    def primal(self, nested) -> str:
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
        return tuple((n, self.owners[n], global_signature(v))
                     for n, v in sorted(self.namespace.items(), key=lambda kv: kv[0])
                     if n in self.owners and n not in BASE_NAMESPACE and is_data(v))

    def code(self) -> tuple:
        """(function, 'a.b', object) of each module, function or class the compiled functions
        named: the code is compiled for them, and again when a name means another."""
        return tuple(code_entry(owner, dotted, obj) for owner, resolved in self.resolved
                     for dotted, obj in sorted(resolved.items()) if not is_data(obj))

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


def libcst_names(node) -> set[str]:
    """Every name a libcst node mentions."""
    found: set[str] = set()

    class V(libcst.CSTVisitor):
        def visit_Name(self, n: libcst.Name) -> None:
            found.add(n.value)

    node.visit(V())
    return found


def compile_grad(fn: Any, wrt=0, *, value: bool = False, optimize: bool = True,
                 kinds: tuple = ((), ())) -> Compiled:
    """The gradient of `fn` as live code: the pipeline, then compile. `kinds` names the
    parameters known to hold scalars and ints (the code then skips broadcasting sums).
    The emitted source is kept on disk (see `cache_dir`) and reused while the sources of
    the functions it came from, what each name they read meant, the rule table and adjoint's
    version are unchanged."""
    key = cache_key(fn, wrt, value, optimize, kinds)
    hit = load_cached(key)
    if hit is not None:
        return hit
    program = Program(optimize)
    (top, *_), names = program.add(fn, wrt, mode="value" if value else "grad",
                                   as_tuple=isinstance(wrt, (tuple, list)), kinds=kinds)
    with stage("compiling the gradient of", fn):
        text = program.source()
        live = emit.load(text, dict(program.namespace), top.name)[top.name]
    seed = top.params.rsplit(",", 1)[-1].split("=")[0].strip()
    compiled = Compiled(text, live, top.name, tuple(names), program.namespace, seed,
                        program.data(), program.code())
    if key is not None and program.portable:
        store_cached(key, compiled, program)
    return compiled


# ---------------------------------------------------------------- the cache on disk


def cache_dir() -> Path | None:
    """Where emitted gradients are kept between runs: $ADJOINT_CACHE if it is a path,
    nothing if it is 0 (or off), else adjoint/ in the user's cache folder."""
    setting = os.environ.get("ADJOINT_CACHE", "")
    if setting.lower() in ("0", "off", "false", "no"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "adjoint"


@functools.lru_cache(maxsize=1)
def _package_hash() -> str:
    """A hash of adjoint's own source files: a changed compiler makes new keys."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _fingerprint() -> str:
    """What the rule table says, so a registered rule makes a new key."""
    from . import rules

    text = _package_hash()
    text += repr(sorted((rules.name_of(f), repr(v)) for f, v in rules.RULES.items()))
    text += repr(sorted(rules.name_of(f) for f in rules.PASSIVE))
    return hashlib.sha256(text.encode()).hexdigest()


def cache_key(fn, wrt, value, optimize, kinds) -> str | None:
    from . import __version__

    if cache_dir() is None or not isinstance(fn, types.FunctionType) or fn.__closure__:
        return None
    try:
        parts = [__version__, _fingerprint(), fn.__module__, fn.__qualname__, source_hash(fn),
                 repr(wrt), value, optimize, repr(kinds)]
    except (OSError, TypeError):
        return None
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _resolve(module: str, qualname: str):
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def binding(obj: Any) -> list | None:
    """What a name meant, as far as the emitted code depends on it: the name of a module, the
    module, qualified name and source of a function, the name of a ufunc, the kind of a datum
    (read at each call); None when it cannot be told again in another process."""
    if obj is MISSING_GLOBAL:
        return None
    if isinstance(obj, types.ModuleType):
        return ["module", obj.__name__]
    if isinstance(obj, np.ufunc):
        return ["ufunc", obj.__name__]
    if is_data(obj):
        return ["data", repr(global_signature(obj))]
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not (isinstance(module, str) and isinstance(qualname, str)):
        return None
    if isinstance(obj, types.FunctionType):
        try:
            return ["function", module, qualname, source_hash(obj)]
        except (OSError, TypeError):
            return None
    return ["object", module, qualname]


def store_cached(key: str, compiled: Compiled, program: Program) -> None:
    names = emit.free_names(compiled.source)
    bindings = [[getattr(owner, "__module__", None), dotted, binding(obj)]
                for owner, resolved in program.resolved for dotted, obj in sorted(resolved.items())]
    entry = {"source": compiled.source, "name": compiled.name, "wrt": list(compiled.wrt),
             "seed": compiled.seed,
             "depends": [[f.__module__, f.__qualname__, source_hash(f)]
                         for f in program.compiled],
             "bindings": bindings,
             "globals": {n: program.modules.get(n) for n in sorted(names)
                         if n in program.namespace and n not in BASE_NAMESPACE},
             "data": {n: repr(signature) for n, _, signature in compiled.data}}
    if any(m is None for m in entry["globals"].values()) or any(
            b is None or m is None for m, _, b in bindings):
        return  # a name whose meaning cannot be checked in another process: not kept
    folder = cache_dir()
    with contextlib.suppress(OSError):  # a cache that cannot be written is no cache
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".entry.")
        with os.fdopen(fd, "w") as fh:
            json.dump(entry, fh)
        os.replace(tmp, folder / f"{key}.json")


def load_cached(key: str | None) -> Compiled | None:
    if key is None:
        return None
    try:
        entry = json.loads((cache_dir() / f"{key}.json").read_text())
        for module, qualname, digest in entry["depends"]:
            if source_hash(_resolve(module, qualname)) != digest:
                return None
        code = []
        for module, dotted, meant in entry["bindings"]:
            now = named_now(sys.modules.get(module), dotted)
            if binding(now) != meant:
                return None  # a name now means something else: compiled for other bindings
            if meant[0] != "data":
                code.append(code_entry(sys.modules[module], dotted, now))
        namespace = dict(BASE_NAMESPACE)
        data = []
        for name, module in entry["globals"].items():
            namespace[name] = sys.modules[module].__dict__[name]
            if name in entry["data"]:
                signature = global_signature(namespace[name])
                if repr(signature) != entry["data"][name]:
                    return None  # compiled for a global of another kind
                data.append((name, sys.modules[module], signature))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    live = emit.load(entry["source"], dict(namespace), entry["name"])[entry["name"]]
    return Compiled(entry["source"], live, entry["name"], tuple(entry["wrt"]), namespace,
                    entry["seed"], tuple(data), tuple(code))


def resolve_wrt(fn, wrt) -> tuple[str, ...]:
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
        out.append(w)
    return tuple(out)


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(fn, wrt, value, optimize, kinds=((), ())) -> Compiled:
    """compile_grad, once per function object, options and argument kinds."""
    key = (_freeze(wrt), value, optimize, kinds)
    try:
        per_function = _cache.setdefault(fn, {})
    except TypeError:
        per_function = {}
    if key not in per_function or not per_function[key].refresh():
        per_function[key] = compile_grad(fn, wrt, value=value, optimize=optimize, kinds=kinds)
    return per_function[key]


def _freeze(wrt):
    return tuple(wrt) if isinstance(wrt, list) else wrt


def kinds_of(fn, args, kwargs) -> tuple[tuple[str, ...], ...]:
    """(parameters holding scalars, holding ints, holding lists or tuples, holding arrays)
    for a call: the gradient is specialized on them, as a scalar never needs a broadcasting
    sum, the adjoint of a list is a list, and the adjoints of an array add with `+`."""
    code = fn.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    defaults = parse_.defaults_of(fn) if len(args) < len(names) else {}
    scalars, ints, seqs, arrays = [], [], [], []
    for k, name in enumerate(names):
        if k < len(args):
            value = args[k]
        elif name in kwargs:
            value = kwargs[name]
        elif name in defaults:  # the default, as Python computed it when the def ran
            value = defaults[name]
        else:
            continue
        if type(value) is np.ndarray:
            arrays.append(name)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, (float, np.floating)):
            scalars.append(name)
        elif isinstance(value, (int, np.integer)):
            ints.append(name)
        elif isinstance(value, (list, tuple)):
            seqs.append(name)
        elif type(value) is np.ndarray or hasattr(value, "__array_namespace__") or hasattr(
                value, "__array_function__"):
            arrays.append(name)
    return tuple(scalars), tuple(ints), tuple(seqs), tuple(arrays)


def _gradient(fn, wrt, value: bool, optimize: bool, has_aux: bool = False):
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return _bound_gradient(fn, wrt, value, optimize, has_aux)
    generic = _compiled(fn, wrt, value or has_aux, optimize)  # errors surface at grad(f)
    params = list(generic.wrt)

    @functools.wraps(fn)
    def gradient(*args, **kwargs):
        compiled = _compiled(fn, wrt, value or has_aux, optimize, kinds_of(fn, args, kwargs))
        gradient.__adjoint__ = compiled
        narrow = _check_args(fn, params, args, kwargs)
        if not has_aux:
            out = _run(compiled, fn, args, kwargs)
            if not narrow:
                return out
            return (out[0], _narrowed(out[1], narrow, wrt)) if value else _narrowed(
                out, narrow, wrt)
        kwargs.setdefault(compiled.seed, (1.0, 0.0))  # the auxiliary data carries no adjoint
        result, grads = _run(compiled, fn, args, kwargs)
        if not isinstance(result, (tuple, list)) or len(result) != 2 or np.ndim(result[0]):
            raise ApiError(f"with has_aux=True, {fn.__name__} must return (a scalar, auxiliary "
                           f"data); it returned {_brief(result)}")
        grads = _narrowed(grads, narrow, wrt) if narrow else grads
        return (result, grads) if value else (grads, result[1])

    gradient.__adjoint__ = generic
    gradient.__adjoint_generic__ = generic  # grad(gradient) differentiates this code
    gradient.__wrapped__ = fn
    gradient.__name__ = generic.name
    gradient.__qualname__ = generic.name
    gradient.__adjoint_options__ = (wrt, value or has_aux, optimize)
    return gradient


def _run(compiled: Compiled, fn, args, kwargs):
    """Run emitted code; an exception adjoint raised (not the user's code, computing the
    function) becomes an InternalError naming the function and where it failed."""
    try:
        return compiled.function(*args, **kwargs)
    except AdjointError:
        raise
    except Exception as exc:
        where = from_adjoint(exc)
        if where is None or (where == FORWARD and _primal_raises(fn, exc, args, kwargs,
                                                                  compiled.seed)):
            raise
        raise internal(exc, fn.__qualname__, where) from exc


def _primal_raises(fn, exc: Exception, args, kwargs, seed: str) -> bool:
    """Whether the function itself, called as the gradient was (on copies of the arguments),
    raises what the forward sweep raised: then it is the user's error, not adjoint's."""
    import copy

    kwargs = {k: v for k, v in kwargs.items() if k != seed}
    try:
        fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    except Exception as again:  # noqa: BLE001 - compared with what the gradient raised
        return type(again) is type(exc)
    return False


def _narrowed(grads, narrow: dict, wrt):
    """The gradients of float32 (or float16) arrays, alone or in containers, in their
    argument's dtype, where the function mixed float64 values in."""
    if not isinstance(wrt, (tuple, list)):
        return _cast_like(grads, narrow[0]) if 0 in narrow else grads
    return tuple(_cast_like(g, narrow[k]) if k in narrow else g for k, g in enumerate(grads))


def _cast_like(g, x):
    if isinstance(x, dict) and isinstance(g, dict):
        return {k: _cast_like(g[k], v) if k in g else g for k, v in x.items()}
    if isinstance(x, (list, tuple)) and isinstance(g, (list, tuple)):
        return type(g)(_cast_like(a, v) for a, v in zip(g, x, strict=False))
    if type(x) is np.ndarray and hasattr(g, "astype") and g.dtype != x.dtype:
        return g.astype(x.dtype, copy=False)
    return g


def _has_narrow(x) -> bool:
    if type(x) is np.ndarray:
        return x.dtype.kind == "f" and x.itemsize < 8
    if isinstance(x, dict):
        return any(_has_narrow(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_has_narrow(v) for v in x)
    return type(x) is np.ndarray and x.dtype.kind == "f" and x.itemsize < 8


def _brief(value) -> str:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return f"a pair whose first item has shape {np.shape(value[0])}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _bound_gradient(method: types.MethodType, wrt, value: bool, optimize: bool,
                    has_aux: bool = False):
    """A bound method (or a classmethod): the gradient of its function, called with the object
    it is bound to in front; `wrt` counts and names the method's own parameters."""
    func, bound = method.__func__, method.__self__
    code = func.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    own = names[1:]

    def shift(w):
        if isinstance(w, (tuple, list)):
            return type(w)(shift(x) for x in w)
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            return w  # resolve_wrt says what is wrong with it
        if isinstance(w, int):
            if not -len(own) <= w < len(own):
                raise ApiError(f"wrt={w} is out of range: the bound method {func.__qualname__} "
                               f"has {len(own)} parameter(s) ({', '.join(own)})")
            return w + 1 if w >= 0 else w
        if names and w == names[0]:
            raise ApiError(f"wrt={w!r} names the object {func.__qualname__} is bound to; "
                           f"differentiate the function {func.__qualname__} and pass the "
                           "object yourself")
        return w

    shifted = shift(wrt)
    inner = _gradient(func, shifted, value, optimize, has_aux)

    @functools.wraps(method)
    def gradient(*args, **kwargs):
        out = inner(bound, *args, **kwargs)
        gradient.__adjoint__ = inner.__adjoint__
        return out

    gradient.__adjoint__ = inner.__adjoint__
    gradient.__wrapped__ = func
    gradient.__name__ = gradient.__qualname__ = inner.__name__
    gradient.__adjoint_options__ = (shifted, value, optimize)
    gradient.__adjoint_bound__ = (bound,)
    return gradient


def _check_args(fn, params, args, kwargs) -> dict:
    """Refuse arguments that cannot be differentiated; returns {position in wrt: argument}
    of the differentiated arguments holding float arrays narrower than float64."""
    names = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    narrow = {}
    for k, name in enumerate(names):
        if not (k < len(args) or name in kwargs):
            continue
        value = args[k] if k < len(args) else kwargs[name]
        if name in params:
            _check_value(fn, name, value)
            if _has_narrow(value):
                narrow[params.index(name)] = value
        elif isinstance(value, complex) or (
                type(value) is np.ndarray and value.dtype.kind == "c"):
            raise ApiError(f"cannot differentiate {fn.__name__}: its argument {name} is "
                           "complex, and adjoint's rules are for real values")
    return narrow


def _check_value(fn, name: str, value) -> None:
    """A differentiated argument holds floats: numbers, arrays, or containers of them."""
    if isinstance(value, dict):
        for v in value.values():
            _check_value(fn, name, v)
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_value(fn, name, v)
        return
    kind = _dtype_kind(fn, name, value)
    if isinstance(value, (bool, int, np.integer)) or kind in ("b", "i", "u"):
        raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: it holds "
                       f"integers or booleans ({type(value).__name__}); pass floats")
    if isinstance(value, complex) or kind == "c":
        raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: "
                       "complex inputs are not supported")


def _dtype_kind(fn, name: str, value) -> str | None:
    """NumPy's kind letter of an array argument's dtype (None for a number); an array type
    whose dtype NumPy cannot read (an array-API-only array) is refused by name."""
    if type(value) is np.ndarray:
        return value.dtype.kind
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return None
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array_function__"):
        with contextlib.suppress(TypeError):
            return np.dtype(dtype).kind
    raise ApiError(f"cannot differentiate {fn.__name__} with respect to {name}: it holds a "
                   f"{type(value).__module__}.{type(value).__name__} of dtype {dtype}, an array "
                   "type adjoint does not know; pass a NumPy array (or one that implements "
                   "NumPy's array protocols)")


def grad(fn=None, wrt=0, *, optimize: bool = True, has_aux: bool = False):
    """The gradient of `fn` with respect to the parameters `wrt`.

    `wrt` is a position, a parameter name, or a tuple of them; the gradient
    function returns one gradient, or a tuple for a tuple `wrt`. `fn` must
    return a scalar. The gradient takes the same arguments as `fn`, plus a
    keyword seed for the result's adjoint (default 1.0). Works as a decorator,
    with or without arguments::

        def loss(W, b, x, y):
            return np.sum((np.tanh(x @ W + b) - y) ** 2)

        dW, db = adjoint.grad(loss, wrt=("W", "b"))(W, b, x, y)

        @adjoint.grad(wrt="x")
        def f(x, y):
            return np.sin(x) * y
    """
    if fn is None:
        return lambda f: _gradient(f, wrt, False, optimize, has_aux)
    if isinstance(fn, (int, str, tuple, list)):
        raise ApiError("grad's first argument is the function; pass wrt by keyword: "
                       "grad(f, wrt=...)")
    return _gradient(fn, wrt, False, optimize, has_aux)


def value_and_grad(fn=None, wrt=0, *, optimize: bool = True, has_aux: bool = False):
    """Like `grad`, but the function returns `(value, gradient)`; with `has_aux`,
    `((value, aux), gradient)`."""
    if fn is None:
        return lambda f: _gradient(f, wrt, True, optimize, has_aux)
    return _gradient(fn, wrt, True, optimize, has_aux)


def source(gradient, *args, **kwargs) -> str:
    """The emitted source of a gradient made by `grad` or `value_and_grad`.

    Gradients are specialized on which arguments are Python or NumPy scalars (a scalar
    needs no broadcasting sums). With arguments, the source of the code for such a call;
    without, the code that ran last (or, before any call, the code for arrays)."""
    compiled = getattr(gradient, "__adjoint__", None)
    if compiled is None:
        raise ApiError(f"{gradient!r} was not made by adjoint.grad or value_and_grad")
    if args or kwargs:
        fn = gradient.__wrapped__
        wrt, value, optimize = gradient.__adjoint_options__
        args = (*getattr(gradient, "__adjoint_bound__", ()), *args)
        compiled = _compiled(fn, wrt, value, optimize, kinds_of(fn, args, kwargs))
    return compiled.source


def source_hash(fn: Any) -> str:
    """A hash of the function's source text, recorded in generated files."""
    import hashlib
    import inspect

    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]


def generate(targets: list[tuple[Any, Any]], *, command: str, origins: list[str],
             optimize: bool = True) -> str:
    """A standalone module holding the gradients of `targets` ((function, wrt) pairs).

    It imports what the emitted code reads, as the user's module spelled it, plus
    adjoint.runtime; its header names the sources, the adjoint version and a hash of each
    function's source, so it is reproducible byte for byte and can be checked for staleness.
    """
    from . import __version__

    program = Program(optimize)
    wrts = [program.add(fn, wrt, as_tuple=isinstance(wrt, (tuple, list)))[1]
            for fn, wrt in targets]
    code = program.source()
    free = emit.free_names(code)
    for name, owner in program.defaults.items():
        if name in free:
            raise ApiError(f"a default of {owner} is no longer what its text says (the name "
                           "was rebound after the def); a generated file cannot hold that "
                           f"value: write the default as a literal ({name.rsplit('_default', 1)[0]}"
                           f"={program.namespace[name]!r}) or use adjoint.grad")
    used = {n: program.namespace[n] for n in free if n in program.namespace}
    user_module = targets[0][0].__module__ if targets else None
    lines = [
        f"# Generated by adjoint {__version__}. Do not edit: regenerate with",
        f"#   {command}",
    ]
    for (fn, _), origin, names in zip(targets, origins, wrts, strict=True):
        lines.append(f"# adjoint-source: {origin} wrt={','.join(names)} "
                     f"sha256={source_hash(fn)}")
    lines += ['"""Gradients emitted by adjoint; see the header for their sources."""', ""]
    lines += emit.import_lines(used, user_module)
    return "\n".join(lines) + "\n\n\n" + code


def stage_source(fn: Any, wrt=0, stage: str = "optimize") -> str:
    """The code of `fn` after a stage: 'normalize', 'reverse' or 'optimize'."""
    from . import ir

    if stage == "normalize":
        return ir.format_function(normalize_.normalize(parse_.parse(fn), Namer(RESERVED)))
    program = Program(optimize=stage == "optimize")
    program.add(fn, wrt, as_tuple=isinstance(wrt, (tuple, list)))
    return program.source()
