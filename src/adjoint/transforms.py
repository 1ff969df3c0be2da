"""transforms: the derivative toolbox beyond the gradient, built on the same emitted code:
the vector-Jacobian product as a (value, pullback) pair, and Jacobians by reverse sweeps."""

from __future__ import annotations

import dataclasses
import types
import weakref
from typing import Any

from .arguments import kinds_of
from .bound import bound_parts
from .errors import AdjointError, ApiError
from .runtime.calls import split_of
from .signatures import (
    argument_of,
    check_tangents,
    keyword,
    numeric,
    picked_params,
    tangent_params,
    tangents_passed,
)

__all__ = ["forward_gradient", "hessian", "hvp", "jacobian", "jvp", "vjp"]


def vjp(fn: Any, wrt: Any = 0, *, optimize: bool = True) -> Any:
    """The vector-Jacobian product of `fn` with respect to `wrt`.

    `vjp(f, wrt)(*args)` runs `f` once and returns `(value, pullback)`; `pullback(v)`, with
    `v` of the result's shape, returns the gradient of `<v, f(*args)>` with respect to
    `wrt` (one, or a tuple for a tuple `wrt`), from what that run kept: call it once (a
    second pullback needs a second `vjp(...)(*args)`). The same as `grad(f, wrt)` with the
    seed `<f>_bar=v`, split in two::

        value, pullback = adjoint.vjp(model, wrt="W")(W, X)
        dW = pullback(np.ones_like(value))
    """
    import numpy as np

    func, front, fixed = bound_parts(fn)
    if not isinstance(func, types.FunctionType):
        raise ApiError(f"adjoint.vjp needs a Python function; {fn!r} is a {type(fn).__name__}")
    code = func.__code__
    names = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    many = isinstance(wrt, (tuple, list))
    picked = picked_params(fn, wrt)
    starred = [n for n in picked if n not in names]
    if starred:
        raise ApiError(f"adjoint.vjp differentiates named parameters; wrt picks *{starred[0]} "
                       f"of {func.__qualname__}: use adjoint.grad(f, wrt={starred[0]!r}) with "
                       f"the seed {func.__name__}_bar=v")
    positions = tuple(names.index(n) for n in picked if names.index(n) < code.co_argcount)
    keywords = tuple(n for n in picked if names.index(n) >= code.co_argcount)
    order = [*(names[k] for k in positions), *keywords]

    def run(*args, **kwargs):
        args, kwargs = (*front, *args), {**fixed, **kwargs}
        fwd, bwd = split_of(func, positions, keywords, args, kwargs)
        value, saved = fwd(*args, **kwargs)
        spent = []

        def pullback(v):
            if spent:
                raise ApiError(f"this pullback of {func.__qualname__} was called already; "
                               "call adjoint.vjp(...)(*args) again for another")
            spent.append(True)
            if isinstance(value, (int, float, complex, np.generic, np.ndarray)) and \
                    np.shape(v) != np.shape(value):
                raise ApiError(f"the pullback of {func.__qualname__} takes a cotangent of "
                               f"its result's shape {np.shape(value)}, not {np.shape(v)}")
            out = bwd(saved, v)
            got = dict(zip(order, out if len(order) > 1 else (out,), strict=True))
            return tuple(got[n] for n in picked) if many else got[picked[0]]

        return value, pullback

    run.__name__ = run.__qualname__ = f"vjp_{func.__name__}"
    run.__doc__ = (f"(value, pullback) of {func.__name__}; pullback(v) gives the gradient of "
                   f"<v, {func.__name__}(...)> with respect to {', '.join(picked)}.")
    return run


def jacobian(fn: Any, wrt: Any = 0, *, mode: str = "auto", optimize: bool = True) -> Any:
    """The Jacobian of `fn` with respect to `wrt`: `jacobian(f, wrt)(*args)` returns an
    array of shape `out.shape + arg.shape` (a tuple of them for a tuple `wrt`).
    `mode="reverse"` runs one reverse sweep per entry of the result (seeding `<f>_bar` with
    its unit vector), `"forward"` one tangent sweep per entry of the arguments in `wrt`,
    `"auto"` whichever makes fewer sweeps (forward on a tie: a tangent sweep costs less than
    a reverse one). Each sweep runs on copies of the arguments."""
    import copy


    if mode not in ("auto", "reverse", "forward"):
        raise ApiError(f"jacobian(mode={mode!r}): mode is 'auto', 'reverse' or 'forward'")
    many = isinstance(wrt, (tuple, list))
    names = picked_params(fn, wrt)

    def run(*args, **kwargs):
        def fresh():
            return copy.deepcopy(args), copy.deepcopy(kwargs)
        a, k = fresh()
        out = numeric(fn(*a, **k), "jacobian", "its result")
        inputs = [numeric(argument_of(fn, n, args, kwargs), "jacobian", n) for n in names]
        forward = mode == "forward" or mode == "auto" and sum(x.size for x in inputs) <= out.size
        blocks = _forward(fn, wrt, names, inputs, out, fresh, optimize) if forward else \
            _reverse(fn, wrt, many, out, fresh, optimize)
        return tuple(blocks) if many else blocks[0]

    run.__name__ = run.__qualname__ = f"jacobian_{getattr(fn, '__name__', 'f')}"
    run.__doc__ = (f"The Jacobian of {getattr(fn, '__name__', 'f')}: shape out.shape + "
                   f"arg.shape ({mode} mode).")
    return run


def _reverse(fn, wrt, many, out, fresh, optimize) -> list:
    """The Jacobian's blocks, a row per entry of the result (reverse sweeps)."""
    import numpy as np

    from .api import grad

    df = grad(fn, wrt, optimize=optimize)
    seed = df.__adjoint__.seed
    rows = []
    for k in range(out.size):
        unit = np.zeros(out.shape)
        unit.flat[k] = 1.0
        a, kw = fresh()
        got = df(*a, **kw, **{seed: unit if out.ndim else 1.0})
        rows.append(got if many else (got,))
    per = [np.stack([np.asarray(r[j], dtype=float) for r in rows]) for j in range(len(rows[0]))]
    return [p.reshape(out.shape + p.shape[1:]) for p in per]


def _forward(fn, wrt, names, inputs, out, fresh, optimize) -> list:
    """The Jacobian's blocks, a column per entry of the arguments (tangent sweeps)."""
    import numpy as np

    jf = jvp(fn, wrt, optimize=optimize)
    blocks = []
    for j, x in enumerate(inputs):
        columns = []
        for k in range(x.size):
            dots = _unit_tangents(names, inputs, j, k)
            a, kw = fresh()
            columns.append(np.asarray(jf(*a, **kw, **dots)[1], dtype=float))
        blocks.append(np.stack(columns, axis=-1).reshape(out.shape + x.shape))
    return blocks


def _unit_tangents(names: list[str], inputs: list, j: int, k: int) -> dict:
    """The tangent keywords of one sweep: entry k of argument j set to 1, all else 0."""
    import numpy as np

    dots = {f"{n}_dot": np.zeros_like(y) if y.ndim else 0.0
            for n, y in zip(names, inputs, strict=True)}
    unit = np.zeros(inputs[j].shape)
    unit.flat[k] = 1.0
    dots[f"{names[j]}_dot"] = unit if inputs[j].ndim else 1.0
    return dots


def jvp(fn: Any, wrt: Any = 0, *, optimize: bool = True, has_aux: bool = False) -> Any:
    """Forward mode: the Jacobian-vector product of `fn` with respect to `wrt`.

    `jvp(f, wrt)(*args, <param>_dot=v, ...)` returns `(value, value_dot)`: f's result and
    its directional derivative along the tangents given for the parameters in `wrt` (one
    keyword `<param>_dot` each, of that parameter's shape). The emitted tangent code runs the
    primal with, beside each line, the line making its tangent (`adjoint.source` shows it)::

        value, value_dot = adjoint.jvp(model, wrt="W")(W, X, W_dot=V)

    With `has_aux=True`, f returns `(out, aux)` and the call `(out, out_dot, aux)`, as JAX's.
    """
    from .bound import bound_parts

    func, front, fixed = bound_parts(fn)
    generic = getattr(func, "__adjoint_generic__", None)
    if generic is not None:  # a gradient made by adjoint: the tangent of its emitted code
        func = generic.function
    if not isinstance(func, types.FunctionType):
        raise ApiError(f"adjoint.jvp needs a Python function; {fn!r} is a {type(fn).__name__}")
    picked = picked_params(func if generic is not None else fn, wrt)
    compiled = _tangent(func, tuple(picked), optimize)
    needed = [keyword(f"{w}_dot", t, func) for w, t in
              zip(picked, tangent_params(compiled.function, len(picked)), strict=True)]

    def run(*args, **kwargs):
        check_tangents(func, picked, (*front, *args), {**fixed, **kwargs}, "jvp")
        now = _tangent(func, tuple(picked), optimize)
        kwargs = tangents_passed(now.function, picked, kwargs, func, "jvp")
        run.__adjoint__ = now
        value, value_dot = _running(now.function, func, (*front, *args), {**fixed, **kwargs},
                                    picked)
        if not has_aux:
            return value, value_dot
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ApiError(f"with has_aux=True, {func.__qualname__} must return (out, "
                           f"auxiliary data); it returned a {type(value).__name__}")
        return value[0], value_dot[0], value[1]

    run.__adjoint__ = compiled
    run.__adjoint_source__ = lambda *args, **kwargs: _tangent(func, tuple(picked),
                                                              optimize).source
    run.__name__ = run.__qualname__ = compiled.name
    run.__doc__ = (f"(value, tangent) of {func.__name__} along the tangents "
                   f"{', '.join(needed)}= of {', '.join(picked)} (forward mode).")
    return run


def _running(function: Any, fn: Any, args: tuple, kwargs: dict, picked) -> Any:
    """Run emitted tangent code of fn; what it raises, as grad's gradients raise it."""
    from .api import raise_from_run

    try:
        return function(*args, **kwargs)
    except AdjointError:
        raise
    except Exception as exc:
        raise_from_run(exc, fn, args, kwargs, set(tangent_params(function, len(picked))))


_tangents: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tangent(func: Any, wrt: tuple, optimize: bool) -> Any:
    """The compiled tangent function of func for wrt: once per function object, again when
    a name it reads changes."""
    from . import compile as emit
    from . import tangent
    from .program import Compiled, Program

    per = _tangents.setdefault(func, {})
    key = (wrt, optimize)
    if key not in per or not per[key].refresh():
        program = Program(optimize)
        emitted, names = tangent.add(program, func, wrt)
        text = program.source()
        space = emit.load(text, dict(program.namespace), emitted.name)
        per[key] = Compiled(text, space[emitted.name], emitted.name, names, program.namespace,
                            "", program.data(), program.code(), program.defaults_seen())
    return per[key]


def hvp(fn: Any, wrt: Any = 0, *, optimize: bool = True) -> Any:
    """The Hessian-vector product of `fn` with respect to `wrt`, by forward mode over the
    emitted gradient: `hvp(f, wrt)(*args, <param>_dot=v, ...)` returns H v (a tuple for a
    tuple `wrt`), through loops, branches, in-place writes and helpers as the gradient's own
    code runs them."""
    from .api import _compiled, grad
    from .bound import bound_parts

    func, front, fixed = bound_parts(fn)
    if func is not fn and isinstance(func, types.FunctionType):  # a partial, a bound method
        return _bound_hvp(fn, func, front, fixed, wrt, optimize)
    df = grad(fn, wrt, optimize=optimize)
    plain = isinstance(fn, types.FunctionType) and not hasattr(fn, "__adjoint_generic__")
    picked = tuple(picked_params(fn, wrt)) if plain else ()
    try:
        jf = jvp(df, wrt, optimize=optimize)
    except AdjointError as exc:
        if not plain:
            raise _second(exc, getattr(fn, "__name__", "f")) from None
        # the code for no call in particular (`x = x0; x += a`: an argument changed in place
        # where x0 holds an array); a call's own code may have a tangent: tried as it runs
        jf = None

    def tangent_for(args, kwargs):
        """The tangent of the gradient specialized on these arguments' kinds (no
        broadcasting sums for numbers), as grad(f) runs it."""
        if not plain:
            return jf.__adjoint__
        primal = {k: v for k, v in kwargs.items() if k not in {f"{w}_dot" for w in picked}}
        # (helpers kept as calls: forward mode refuses the writes an inlined helper's state
        # takes beside its stack, the LSTM's new_state)
        specialized = _compiled(fn, wrt, False, optimize, kinds_of(fn, args, primal, shapes=True),
                                inline=False)
        try:
            return _tangent(specialized.function, picked, optimize)
        except AdjointError as exc:
            raise _second(exc, getattr(fn, "__name__", "f")) from None

    def run(*args, **kwargs):
        if not plain:
            return jf(*args, **kwargs)[1]
        check_tangents(fn, picked, args, kwargs, "hvp")
        now = tangent_for(args, kwargs)
        kwargs = tangents_passed(now.function, picked, kwargs, fn, "hvp")
        run.__adjoint__ = now
        return _running(now.function, fn, args, kwargs, picked)[1]

    run.__adjoint_source__ = lambda *args, **kwargs: tangent_for(args, kwargs).source
    run.__adjoint__ = jf.__adjoint__ if jf is not None else df.__adjoint__
    run.__name__ = run.__qualname__ = f"hvp_{getattr(fn, '__name__', 'f')}"
    run.__doc__ = (f"H v of {getattr(fn, '__name__', 'f')}: the tangent of its gradient along "
                   "the tangents given as <param>_dot=.")
    return run


def _bound_hvp(fn: Any, func: Any, front: tuple, fixed: dict, wrt: Any, optimize: bool) -> Any:
    """hvp of a partial or a bound method: the function's own, with what they fix passed."""
    names = picked_params(fn, wrt)
    inner = hvp(func, tuple(names) if isinstance(wrt, (tuple, list)) else names[0],
                optimize=optimize)

    def run(*args, **kwargs):
        return inner(*front, *args, **{**fixed, **kwargs})
    run.__name__ = run.__qualname__ = f"hvp_{func.__name__}"
    run.__adjoint_source__ = lambda *args, **kwargs: inner.__adjoint_source__(
        *front, *args, **{**fixed, **kwargs})
    return run


def hessian(fn: Any, wrt: Any = 0, *, optimize: bool = True) -> Any:
    """The Hessian of `fn` with respect to `wrt`: `hessian(f, wrt)(*args)` returns an array of
    shape `arg.shape + arg.shape` (for a tuple `wrt`, a tuple of tuples: block [i][j] has
    shape `arg_i.shape + arg_j.shape`), one Hessian-vector product per entry."""
    import copy

    import numpy as np

    names = picked_params(fn, wrt)
    many = isinstance(wrt, (tuple, list))
    product = hvp(fn, tuple(names) if many else names[0], optimize=optimize)

    def run(*args, **kwargs):
        inputs = [numeric(argument_of(fn, n, args, kwargs), "hessian", n) for n in names]
        blocks = [[None] * len(names) for _ in names]
        for j, x in enumerate(inputs):
            columns = []
            for k in range(x.size):
                dots = _unit_tangents(names, inputs, j, k)
                got = product(*copy.deepcopy(args), **copy.deepcopy(kwargs), **dots)
                columns.append(got if many else (got,))
            for i, y in enumerate(inputs):
                col = np.stack([np.asarray(c[i], dtype=float) for c in columns], axis=-1)
                block = col.reshape(y.shape + x.shape)
                blocks[i][j] = float(block) if not block.ndim else block  # numbers: a number
        return tuple(tuple(row) for row in blocks) if many else blocks[0][0]

    run.__name__ = run.__qualname__ = f"hessian_{getattr(fn, '__name__', 'f')}"
    run.__doc__ = f"The Hessian of {getattr(fn, '__name__', 'f')} (forward over reverse)."
    return run


def _second(exc: AdjointError, name: str) -> AdjointError:
    """`exc`, raised by forward mode on a gradient's emitted code, saying so."""
    prefix = (f"the second derivative of {name} is the tangent of its emitted gradient, "
              "where forward mode stops: ")
    if isinstance(exc, SyntaxError):
        exc.msg = prefix + exc.msg
        exc.args = (exc.msg, *exc.args[1:])
    elif exc.args:
        exc.args = (prefix + str(exc.args[0]), *exc.args[1:])
    return exc


def forward_gradient(fn: Any, wrt: Any, value: bool, optimize: bool) -> Any:
    """The gradient of a gradient `fn` whose own code loops (its stacks have no reverse):
    forward mode over it, one tangent sweep per parameter in `wrt`, each a number here (the
    second derivative of a function of numbers, as `grad(grad(f))` asks)."""
    import numpy as np

    from .errors import NonScalarOutput

    jf = jvp(fn, wrt, optimize=optimize)
    names = picked_params(fn.__adjoint_generic__.function, wrt)
    many = isinstance(wrt, (tuple, list))
    seed_name = f"{fn.__name__}_bar"

    def gradient(*args, **kwargs):
        seed = kwargs.pop(seed_name, 1.0)
        grads, result = [], None
        for n in names:
            if np.ndim(argument_of(jf.__adjoint__.function, n, args, {**kwargs, **{
                    f"{m}_dot": 0.0 for m in names}})):
                raise ApiError(f"the gradient of {fn.__name__}, whose code loops, is forward "
                               f"mode over it, one sweep per parameter: {n} must be a number "
                               "(use adjoint.hessian or adjoint.hvp for arrays)")
            dots = {f"{m}_dot": 1.0 if m == n else 0.0 for m in names}
            result, tangent = jf(*args, **kwargs, **dots)
            if np.ndim(tangent):
                raise NonScalarOutput(f"grad of {fn.__name__} needs a scalar result; it "
                                      f"returned shape {np.shape(tangent)}")
            grads.append(seed * tangent)
        out = tuple(grads) if many else grads[0]
        return (result, out) if value else out

    gradient.__adjoint__ = dataclasses.replace(jf.__adjoint__, seed=seed_name,
                                               wrt=tuple(names))
    gradient.__adjoint_forward__ = fn  # a second derivative, not code to differentiate
    gradient.__name__ = gradient.__qualname__ = f"grad_{fn.__name__}"
    gradient.__doc__ = (f"The gradient of {fn.__name__} (forward mode over its code, one sweep "
                        "per parameter).")
    return gradient
