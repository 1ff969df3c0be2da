"""The gradients of bound methods, classmethods and functools.partial objects: the gradient
of the function underneath, called with what the method or partial fixes in front."""

from __future__ import annotations

import functools
import types
from typing import Any

from .display import render
from .errors import ApiError
from .signatures import signed


def bound_gradient(fn, wrt, value: bool, optimize: bool, has_aux: bool, make) -> Any:
    """A bound method, a classmethod or a functools.partial: the gradient of its function,
    called with the object it is bound to (the arguments the partial fixes) in front; `wrt`
    counts and names the parameters left to pass. `make` makes the function's gradient."""
    func, front, fixed = bound_parts(fn)
    what = "the partial of" if isinstance(fn, functools.partial) else "the bound method"
    generic = getattr(func, "__adjoint_generic__", None)  # a gradient: its emitted code's
    code = (generic.function if generic is not None else func).__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    own = [n for n in names[len(front):] if n not in fixed]

    def shift(w):
        if isinstance(w, (tuple, list)):
            return type(w)(shift(x) for x in w)
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            return w  # resolve_wrt says what is wrong with it
        if isinstance(w, int):
            if not -len(own) <= w < len(own):
                left = " left" if isinstance(fn, functools.partial) else ""
                raise ApiError(f"wrt={w} is out of range: {what} {func.__qualname__} "
                               f"has {len(own)} parameter(s){left} ({', '.join(own)})")
            return own[w]
        if isinstance(fn, types.MethodType) and names and w == names[0]:
            raise ApiError(f"wrt={w!r} names the object {func.__qualname__} is bound to; "
                           f"differentiate the function {func.__qualname__} and pass the "
                           "object yourself")
        if w in names[:len(front)] or w in fixed:
            raise ApiError(f"wrt={w!r} names a parameter {what} {func.__qualname__} fixes; "
                           f"differentiate the function {func.__qualname__} and pass it "
                           "yourself")
        return w

    shifted = shift(wrt)
    inner = make(func, shifted, value, optimize, has_aux)

    @functools.wraps(fn)
    def gradient(*args, **kwargs):
        out = inner(*front, *args, **{**fixed, **kwargs})
        gradient.__adjoint__ = inner.__adjoint__
        return out

    gradient.__adjoint__ = inner.__adjoint__
    gradient.__wrapped__ = func
    gradient.__name__ = gradient.__qualname__ = inner.__name__
    gradient.__adjoint_options__ = (shifted, value, optimize)
    gradient.__adjoint_bound__ = front
    gradient.__adjoint_fixed__ = fixed
    gradient.__adjoint_inner__ = inner  # grad(gradient): inner's, the object in front
    signed(gradient, fn, inner.__adjoint__.seed, inner.__adjoint__.wrt,
           kind="value" if value else "grad")  # the signature of the method or partial
    gradient._repr_html_ = lambda: render(gradient.__adjoint__.source)
    return gradient


def bound_parts(fn: Any) -> tuple:
    """(function, arguments in front, fixed keywords) of a bound method or a partial."""
    front: tuple = ()
    fixed: dict = {}
    while True:
        if isinstance(fn, functools.partial):
            front, fixed = (*fn.args, *front), {**fn.keywords, **fixed}
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            front, fn = (fn.__self__, *front), fn.__func__
        elif hasattr(fn, "__adjoint_inner__"):  # the gradient of a bound method
            front, fn = (*fn.__adjoint_bound__, *front), fn.__adjoint_inner__
        else:
            return fn, front, fixed
