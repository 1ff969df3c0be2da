"""jit: the numba backend. The same pipeline as the NumPy backend (parse, normalize, analysis,
reverse, optimize) emits the gradient's lines; `lower` rewrites them for numba (tapes as
arrays with a counter, typed runtime helpers), `module` writes them as a module of
`@njit(cache=True)` functions with thin Python wrappers, and this module's `gradient` runs
them, compiled once per kind of arguments.

numba is optional: this package imports it only when a numba gradient is built.

    df = adjoint.grad(f_njit, wrt=("k", "c"))        # f_njit = numba.njit(f)
    df = adjoint.grad(f, wrt="x", backend="numba")   # a plain function, compiled gradient
"""

from __future__ import annotations

import ast
import functools
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AdjointError, ApiError
from ..signatures import aliased, keyword, signed
from .refusals import NumbaMissing, NumbaUnsupported, require_numba, translated

__all__ = ["NumbaMissing", "NumbaUnsupported", "gradient", "is_dispatcher", "primal_of"]


def is_dispatcher(obj: Any) -> bool:
    """Whether obj is a numba-compiled function (`numba.njit(f)`): its Python source is
    `obj.py_func`. Told without importing numba."""
    return type(obj).__module__.startswith("numba.") and hasattr(obj, "py_func")


def primal_of(fn: Any) -> Any:
    return fn.py_func if is_dispatcher(fn) else fn


def gradient(fn: Any, wrt: Any, value: bool, optimize: bool, has_aux: bool = False) -> Any:
    """The numba gradient of `fn` (a Python function or an njit dispatcher); what it cannot
    compile is refused here, before the first call, where the code for no call in
    particular shows it."""
    require_numba()
    if has_aux:
        raise ApiError("has_aux=True is not supported by the numba backend")
    from ..program import Compiled
    from .guards import MISS
    from .module import build

    primal = primal_of(fn)
    mode = "value" if value else "grad"
    # refusals surface at grad(f), but for what the code for a call may not need
    generic = build([(primal, wrt, mode)], optimize, defer=True)
    wrapper, _, owner, wrt_names = generic.names[0]
    if not is_dispatcher(fn):
        _refuse_draws(generic.program, owner)
    seed = _seed_of(generic.code, wrapper)
    versions: dict = {}
    version = functools.partial(_version, (primal, wrt, mode, optimize), generic.names[0],
                                versions)
    calls = _Calls(primal, owner, seed, tuple(wrt_names), version, versions)
    fast, recent, last = calls.fast, calls.recent, calls.last

    @functools.wraps(primal)
    def run(*args, **kwargs):
        path = None
        try:
            if not kwargs:
                hit = recent[0]  # the types of the last call, tried first (guards.py)
                if hit is not None:
                    path = hit.path
                    out = hit.go(args)
                    if out is not MISS:
                        return out
                hit = fast.get(_type_key(args))
                if hit is not None:
                    path = hit.path
                    out = hit.go(args)
                    if out is not MISS:
                        recent[0], run.__adjoint__ = hit, hit.compiled
                        return out
            last[0] = None
            return _slow(calls, run, args, kwargs)
        except AdjointError as exc:
            raise exc.with_traceback(None) from exc.__cause__
        except Exception as exc:
            if _numba_error(exc):
                raise translated(exc, path or last[0], owner) from None
            raise

    run.__adjoint__ = Compiled(generic.code, None, wrapper, tuple(wrt_names), generic.namespace,
                               seed)
    run.__adjoint_source__ = functools.partial(_source_for, primal, versions, version)
    return _named(run, primal, generic.names[0], seed, value)


@dataclass
class _Calls:
    """What the calls of one numba gradient share: its versions (by the arguments' kinds),
    their entries by the arguments' types (guards.py), the entry of the last call that had
    one, and the file of the version a slow call ran (for numba's errors)."""

    primal: Any
    owner: str
    seed: str
    wrt_names: tuple
    version: Any  # version(kinds) -> (Compiled, file), built and kept in versions
    versions: dict
    fast: dict = field(default_factory=dict)
    recent: list = field(default_factory=lambda: [None])
    last: list = field(default_factory=lambda: [None])


def _slow(calls: _Calls, run: Any, args: tuple, kwargs: dict) -> Any:
    """A call no entry runs: its version found (or built) from the arguments' kinds, the
    arguments checked, and an entry made for the types of a call without keywords."""
    from ..arguments import check_args, kinds_of
    from .guards import entry

    primal = calls.primal
    kwargs = aliased(kwargs, f"{calls.owner}_bar", calls.seed, primal)
    kinds = kinds_of(primal, args, kwargs, ndims=True)
    compiled, path = calls.versions.get(kinds) or calls.version(kinds)
    if not compiled.refresh():  # a name means another, defaults replaced: build again
        compiled, path = calls.version(kinds)
        compiled.refresh()
    run.__adjoint__, calls.last[0] = compiled, path
    if not set(calls.wrt_names) <= set(kinds[0]):  # all numbers: nothing more to check
        check_args(primal, list(calls.wrt_names), args, kwargs)
    key = None if kwargs else _type_key(args)
    # the same types are the same kinds and pass the same checks; the last call's entry
    # holds what run.__adjoint__ shows
    calls.recent[0] = None if key is None else entry(
        compiled, path, *_direct(compiled, len(args)), key)
    if key is not None:
        calls.fast[key] = calls.recent[0]
    return compiled.function(*args, **kwargs)


def _named(run: Any, primal: Any, names: tuple, seed: str, value: bool) -> Any:
    """The gradient under its emitted name, with the signature and docstring users read."""
    wrapper, _, owner, wrt_names = names
    run.__name__ = run.__qualname__ = wrapper
    signed(run, primal, keyword(f"{owner}_bar", seed, primal), tuple(wrt_names),
           kind="value" if value else "grad")
    return run


def _direct(compiled: Any, count: int) -> tuple:
    """(what to call, the arguments after `count` positional ones): the njit function and
    the wrapper's defaults it would pass, where the wrapper only passes its parameters on
    (one Python call less); else the wrapper itself."""
    node = next(n for n in ast.parse(compiled.source).body
                if isinstance(n, ast.FunctionDef) and n.name == compiled.name)
    params = [a.arg for a in node.args.args]
    defaults = compiled.function.__defaults__ or ()
    first = len(params) - len(defaults)
    body = node.body[-1] if len(node.body) == 1 else None
    call = body.value if isinstance(body, ast.Return) else None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or \
            call.keywords or node.args.kwonlyargs or node.args.vararg or \
            not first <= count <= len(params) or \
            [a.id if isinstance(a, ast.Name) else None for a in call.args] != params:
        return compiled.function, ()
    return compiled.namespace[call.func.id], defaults[count - first:]


def _seed_of(code: str, wrapper: str) -> str:
    """The keyword of the result's adjoint: the wrapper's last parameter (f_bar, or f_bar_2
    where f has a variable f_bar)."""
    node = next(n for n in ast.parse(code).body
                if isinstance(n, ast.FunctionDef) and n.name == wrapper)
    return node.args.args[-1].arg


def _refuse_draws(program, owner: str) -> None:
    """Refuse a Python function that draws random numbers: numba draws from generators of
    its own, not NumPy's or Python's, so its gradient would see other draws than the
    function (an njit function draws from numba's, as its gradient does)."""
    from ..analysis.values import stateful

    for _, resolved in program.resolved:
        for dotted, obj in sorted(resolved.items()):
            if stateful(obj):
                raise NumbaUnsupported(
                    f"the numba backend cannot compile the gradient of {owner}: it draws "
                    f"random numbers ({dotted}), and numba draws from generators of its own, "
                    "not NumPy's or Python's, so the gradient would see other draws than "
                    "the function; use the NumPy backend, or differentiate an njit function")


def _version(target: tuple, names: tuple, versions: dict, kinds: tuple) -> tuple:
    """(Compiled, file) of the numba gradient of `target` (primal, wrt, mode, optimize) for
    arguments of these kinds, built and kept in `versions`."""
    from ..program import Compiled
    from .module import build, load

    primal, wrt, mode, optimize = target
    wrapper, _, owner, wrt_names = names
    built = build([(primal, wrt, mode)], optimize, kinds)
    space, path = load(built, owner)
    program = built.program
    compiled = Compiled(path.read_text(), space[wrapper], wrapper, tuple(wrt_names), space,
                        _seed_of(built.code, wrapper), program.data(), program.code(),
                        program.defaults_seen())
    versions[kinds] = (compiled, path)
    return versions[kinds]


def _source_for(primal: Any, versions: dict, version: Any, *args: Any, **kwargs: Any) -> str:
    """The numba module that runs for such arguments (`adjoint.source(df, *args)`)."""
    from ..arguments import kinds_of

    kinds = kinds_of(primal, args, kwargs, ndims=True)
    return (versions.get(kinds) or version(kinds))[0].source


SIMPLE = (float, int, bool, complex)


def _type_key(args: tuple) -> tuple | None:
    """What of positional arguments decides their kinds and checks: the type of a number,
    the dtype and dimensions of an array; None for anything else (a list, a record: its
    kinds depend on its contents)."""
    key = []
    append = key.append
    for a in args:
        t = type(a)
        if t is np.ndarray:
            append((a.dtype, a.ndim))
        elif t is float or t in SIMPLE or isinstance(a, np.generic):
            append(t)
        else:
            return None
    return tuple(key)


def _numba_error(exc: Exception) -> bool:
    """Whether numba failed to compile: its own error, or an assertion or a missing lowering
    of its compiler (a list of values of two types; `y[...] = v`)."""
    import traceback

    from numba.core.errors import NumbaError

    if isinstance(exc, NumbaError):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    return isinstance(exc, (AssertionError, NotImplementedError)) and bool(frames) and (
        f"{os.sep}numba{os.sep}" in frames[-1].filename)
