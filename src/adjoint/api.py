"""The public API: grad, value_and_grad, source, and the gradients they run."""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
import types
import weakref
from typing import Any

import numpy as np

from . import compile as emit
from . import parse as parse_
from .arguments import check_args, kinds_of, narrowed, plain_signature
from .bound import bound_gradient, bound_parts
from .cache import (
    binding,
    cache_dir,
    cache_key,
    load_cached,
    source_hash,
    store_cached,
)
from .display import Source, render
from .errors import (
    FORWARD,
    AdjointError,
    ApiError,
    InternalError,
    UnsupportedArgument,
    array_library_refusal,
    from_adjoint,
    internal,
    stage,
)
from .generation import generate, stage_source
from .program import (
    BASE_NAMESPACE,
    MISSING_GLOBAL,
    RESERVED,
    Compiled,
    Program,
    code_entry,
    current_global,
    global_signature,
    is_data,
    libcst_names,
    named_now,
    resolve_wrt,
)
from .signatures import aliased, keyword, signed

__all__ = [
    # defined here
    "compile_grad", "grad", "source", "value_and_grad",
    # re-exported: the Program driver (program.py), the disk cache (cache.py), the per-call
    # argument checks (arguments.py), the generated modules (generation.py), as other
    # modules and tests import them from here
    "generate", "stage_source",
    "BASE_NAMESPACE", "MISSING_GLOBAL", "RESERVED", "Compiled", "Program", "binding",
    "cache_dir", "cache_key", "code_entry", "current_global", "global_signature", "is_data",
    "kinds_of", "libcst_names", "load_cached", "named_now", "resolve_wrt", "source_hash",
    "store_cached",
]


LOG = logging.getLogger("adjoint")
SLOW_BUILD = 1.0  # seconds: a build this long is logged (INFO)


def compile_grad(fn: Any, wrt: Any = 0, *, value: bool = False, optimize: bool = True,
                 kinds: tuple = ((), ()), inline: bool = True) -> Compiled:
    """The gradient of `fn` as live code: the pipeline, then compile. `kinds` names the
    parameters known to hold scalars and ints (the code then skips broadcasting sums).
    The emitted source is kept on disk (see `cache_dir`) and reused while the sources of
    the functions it came from, what each name they read meant, the rule table and adjoint's
    version are unchanged. `inline=False` keeps the calls of helpers (code that forward
    mode differentiates again: hvp)."""
    # a lambda is not kept on disk: it has no name another process could find it by, and
    # lambdas on one line share their module, qualified name and source line
    key = None if parse_.is_lambda(fn) else cache_key(
        fn, wrt, value, optimize, kinds if inline else (*kinds, "calls kept"))
    hit = load_cached(key)
    if hit is not None:
        return hit
    started = time.perf_counter()
    program = Program(optimize, inline)
    (top, *_), names = program.add(fn, wrt, mode="value" if value else "grad",
                                   as_tuple=isinstance(wrt, (tuple, list)), kinds=kinds)
    with stage("compiling the gradient of", fn):
        text = program.source()
        live = emit.load(text, dict(program.namespace), top.name)[top.name]
    params = re.sub(r",\s*\*\*\w+$", "", top.params)  # the seed comes before **kwargs
    seed = params.rsplit(",", 1)[-1].split("=")[0].strip()
    compiled = Compiled(text, live, top.name, tuple(names), program.namespace, seed,
                        program.data(), program.code(), program.defaults_seen())
    took = time.perf_counter() - started
    if took >= SLOW_BUILD:  # feedback on a long build (logging.getLogger("adjoint"))
        LOG.info("adjoint: built the gradient of %s (%d lines) in %.1f s",
                 getattr(fn, "__qualname__", fn), text.count("\n"), took)
    if key is not None and program.portable and not any(
            parse_.is_lambda(f) for f in program.compiled):  # a lambda helper: not found again
        store_cached(key, compiled, program)
    return compiled


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


MAX_SHAPES = 8  # versions of one gradient specialized on shapes; then shape-generic code


def _compiled(fn, wrt, value, optimize, kinds=((), ()), inline: bool = True) -> Compiled:
    """compile_grad, once per function object, options and argument kinds (and shapes, for
    the first MAX_SHAPES shapes a gradient is called with); `inline=False`: the code hvp
    differentiates again, kept apart."""
    key = (_freeze(wrt), value, optimize, kinds)
    try:
        per_function = _cache.setdefault(fn, {})
    except TypeError:
        per_function = {}
    if inline and len(kinds) > 5 and kinds[5] and key not in per_function:
        seen = per_function.setdefault(("shapes", *key[:3], kinds[:5]), set())
        seen.add(kinds[5])
        if len(seen) > MAX_SHAPES:
            key = (*key[:3], (*kinds[:5], ()))
            kinds = key[3]
    if not inline:
        key = ("calls kept", *key)
    if key not in per_function or not per_function[key].refresh():
        per_function[key] = compile_grad(fn, wrt, value=value, optimize=optimize, kinds=kinds,
                                         inline=inline)
    return per_function[key]


def _freeze(wrt):
    return tuple(wrt) if isinstance(wrt, list) else wrt


def _gradient(fn, wrt, value: bool, optimize: bool, has_aux: bool = False):
    if hasattr(fn, "__adjoint_forward__"):
        first = fn.__adjoint_forward__.__wrapped__
        raise UnsupportedArgument(
            f"a third derivative of {getattr(first, '__qualname__', first)}: its second is "
            "forward mode over the loops of its gradient, which adjoint does not differentiate "
            "again; a third derivative works where the gradient of the gradient has no loops "
            "(straight-line code), and adjoint.hessian and adjoint.hvp give second "
            "derivatives through any code")
    if (isinstance(fn, (types.MethodType, functools.partial)) or hasattr(
            fn, "__adjoint_inner__")) and isinstance(bound_parts(fn)[0], types.FunctionType):
        return bound_gradient(fn, wrt, value, optimize, has_aux, _gradient)
    try:
        generic, forward = _generic(fn, wrt, value, optimize, has_aux)
    except AdjointError as exc:  # raised here: the user's frame and grad's
        _located(exc, fn)
        raise _trimmed(exc) from exc.__cause__
    if forward is not None:
        return forward
    params = list(generic.wrt)

    plain: dict = {}  # plain_signature of a call -> the code compiled for it

    @functools.wraps(fn)
    def gradient(*args, **kwargs):
        try:
            sig = plain_signature(fn, args, kwargs) if not has_aux else None
            hit = plain.get(sig) if sig is not None else None
            if hit is not None and hit.refresh():  # float arrays and floats, seen before
                gradient.__adjoint__ = hit
                return _run(hit, fn, args, kwargs)
            compiled = _compiled(fn, wrt, value or has_aux, optimize,
                                 kinds_of(fn, args, kwargs, shapes=True))
            gradient.__adjoint__ = compiled
            narrow = check_args(fn, params, args, kwargs)
            if sig is not None and not narrow:
                if len(plain) >= MAX_SHAPES:
                    plain.clear()
                plain[sig] = compiled
            if has_aux:
                return _with_aux(compiled, fn, args, kwargs, narrow, wrt, value)
            out = _run(compiled, fn, args, kwargs)
            if not narrow:
                return out
            return (out[0], narrowed(out[1], narrow, wrt)) if value else narrowed(
                out, narrow, wrt)
        except AdjointError as exc:
            _located(exc, fn)
            raise _trimmed(exc) from exc.__cause__

    gradient.__adjoint__ = generic
    gradient.__adjoint_generic__ = generic  # grad(gradient) differentiates this code
    gradient.__wrapped__ = fn
    gradient.__name__ = generic.name
    gradient.__qualname__ = generic.name
    gradient.__adjoint_options__ = (wrt, value or has_aux, optimize)
    seed = keyword(f"{getattr(fn, '__name__', '')}_bar", generic.seed, fn)
    signed(gradient, fn, seed, generic.wrt, kind="value" if value else "grad")
    gradient._repr_html_ = lambda: render(gradient.__adjoint__.source)  # in a notebook
    return gradient


def _generic(fn, wrt, value: bool, optimize: bool, has_aux: bool) -> tuple:
    """(the shape-generic code of fn's gradient, None), its errors raised at grad(f); or
    (None, forward mode over a gradient's code) for the gradient of a gradient that loops."""
    try:
        return _compiled(fn, wrt, value or has_aux, optimize), None
    except AdjointError:
        if getattr(fn, "__adjoint_generic__", None) is not None and not has_aux:
            from .transforms import forward_gradient

            with contextlib.suppress(AdjointError):
                return None, forward_gradient(fn, wrt, value, optimize)
        raise


def _with_aux(compiled: Compiled, fn, args, kwargs, narrow: dict, wrt, value: bool):
    """A call of a has_aux gradient: fn returns (a scalar, auxiliary data); the data gets no
    adjoint. (value, grads) and data, or grads and data."""
    # a seed given is the loss's; the data's is zero, whatever it holds
    kwargs = aliased(kwargs, f"{fn.__name__}_bar", compiled.seed, fn)
    kwargs[compiled.seed] = (kwargs.get(compiled.seed, 1.0), 0.0)
    result, grads = _run(compiled, fn, args, kwargs)
    if not isinstance(result, (tuple, list)) or len(result) != 2 or np.ndim(result[0]):
        raise ApiError(f"with has_aux=True, {fn.__name__} must return (a scalar, "
                       f"auxiliary data); it returned {_brief(result)}")
    grads = narrowed(grads, narrow, wrt) if narrow else grads
    return (result, grads) if value else (grads, result[1])


def _trimmed(exc: AdjointError) -> AdjointError:
    """`exc` without the frames of adjoint's own code it passed through: raised again, its
    traceback is the user's frame and the API call. An InternalError (a bug in adjoint)
    keeps them all."""
    return exc if isinstance(exc, InternalError) else exc.with_traceback(None)


def _located(exc: AdjointError, fn) -> None:
    """Make `exc`'s message name the file and line of `fn` when `fn` is a lambda: its name
    (`lambda`, or the name it is assigned to) may not tell which one. An error about a place
    in the source names it already."""
    code = getattr(fn, "__code__", None)
    if parse_.is_lambda(fn) and not isinstance(exc, SyntaxError) and exc.args and \
            isinstance(exc.args[0], str) and code.co_filename not in exc.args[0]:
        exc.args = (f"{exc.args[0]} (the lambda at {code.co_filename}:{code.co_firstlineno})",
                    *exc.args[1:])


def _run(compiled: Compiled, fn, args, kwargs):
    """Run emitted code; an exception adjoint raised (not the user's code, computing the
    function) becomes an InternalError naming the function and where it failed."""
    if kwargs:
        kwargs = aliased(kwargs, f"{getattr(fn, '__name__', '')}_bar", compiled.seed, fn)
    try:
        return compiled.function(*args, **kwargs)
    except AdjointError:
        raise
    except Exception as exc:
        raise_from_run(exc, fn, args, kwargs, {compiled.seed})


def raise_from_run(exc: Exception, fn, args, kwargs, extra: set) -> None:
    """Raise what emitted code raised as it ran fn's derivative with these arguments (and
    the keywords `extra`, its seed or tangents): as it is where the user's code raised it
    (fn itself raises it too), else as an InternalError naming where it failed."""
    where = from_adjoint(exc)
    if where is None or (where == FORWARD and _primal_raises(fn, exc, args, kwargs, extra)):
        refused = array_library_refusal(exc, fn.__qualname__)  # Dask's in-place limits
        if refused is None:
            raise exc
        raise refused from exc
    raise internal(exc, fn.__qualname__, where) from exc


def _primal_raises(fn, exc: Exception, args, kwargs, extra: set) -> bool:
    """Whether the function itself, called as the gradient was (on copies of the arguments),
    raises what the forward sweep raised: then it is the user's error, not adjoint's."""
    import copy

    kwargs = {k: v for k, v in kwargs.items() if k not in extra}
    try:
        fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    except Exception as again:  # noqa: BLE001 - compared with what the gradient raised
        return type(again) is type(exc)
    return False


def _brief(value) -> str:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return f"a pair whose first item has shape {np.shape(value[0])}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def grad(fn: Any = None, wrt: Any = 0, *, optimize: bool = True, has_aux: bool = False,
         backend: str = "numpy") -> Any:
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

    A gradient has its argument's type: an array for an array, a list, tuple or dict of
    gradients for a list, tuple or dict. A dataclass or named tuple argument gets an object
    of its type whose float fields hold the gradients and whose other fields (ints,
    strings, None) keep the argument's values; an object of a plain class gets a dict of
    its float attributes' gradients::

        @dataclass
        class ChainParams:
            stiffness: float
            x0: np.ndarray

        g = adjoint.grad(energy)(ChainParams(1.3, x0))  # g.stiffness, g.x0

    `backend="numba"` compiles the gradient with numba (`pip install 'adjoint[numba]'`);
    an `numba.njit` function gets it without asking: its source is differentiated and the
    gradient is njit-compiled too.
    """
    if fn is None:
        return lambda f: _backend(f, backend)(f, wrt, False, optimize, has_aux)
    if isinstance(fn, (int, str, tuple, list)):
        raise ApiError("grad's first argument is the function; pass wrt by keyword: "
                       "grad(f, wrt=...)")
    return _backend(fn, backend)(fn, wrt, False, optimize, has_aux)


def value_and_grad(fn: Any = None, wrt: Any = 0, *, optimize: bool = True,
                   has_aux: bool = False, backend: str = "numpy") -> Any:
    """Like `grad`, but the function returns `(value, gradient)`; with `has_aux`,
    `((value, aux), gradient)`."""
    if fn is None:
        return lambda f: _backend(f, backend)(f, wrt, True, optimize, has_aux)
    return _backend(fn, backend)(fn, wrt, True, optimize, has_aux)


def _backend(fn, backend: str):
    """What makes the gradient: the NumPy backend (Python code), or the numba backend (njit
    code: asked for, or `fn` is an njit function)."""
    from . import jit

    if backend not in ("numpy", "numba"):
        raise ApiError(f"backend must be 'numpy' or 'numba', not {backend!r}")
    return jit.gradient if backend == "numba" or jit.is_dispatcher(fn) else _gradient


def source(gradient: Any, *args: Any, **kwargs: Any) -> str:
    """The emitted source of a function made by `grad`, `value_and_grad`, `jvp` or `hvp`.

    Gradients are specialized on which arguments are Python or NumPy scalars (a scalar
    needs no broadcasting sums). With arguments, the source of the code for such a call;
    without, the code that ran last (or, before any call, the code for arrays)."""
    compiled = getattr(gradient, "__adjoint__", None)
    if compiled is None:
        raise ApiError(f"{gradient!r} was not made by adjoint.grad, value_and_grad, jvp or "
                       "hvp")
    hook = getattr(gradient, "__adjoint_source__", None)  # the numba backend's module
    if hook is not None and (args or kwargs):
        return Source(hook(*args, **kwargs))
    if args or kwargs:
        fn = gradient.__wrapped__
        wrt, value, optimize = gradient.__adjoint_options__
        args = (*getattr(gradient, "__adjoint_bound__", ()), *args)
        kwargs = {**getattr(gradient, "__adjoint_fixed__", {}), **kwargs}
        compiled = _compiled(fn, wrt, value, optimize, kinds_of(fn, args, kwargs, shapes=True))
    return Source(compiled.source)
