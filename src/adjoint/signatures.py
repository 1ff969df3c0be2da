"""What a user reads of a function adjoint returns: its signature (the function's own
parameters, then the keyword seed of the result's adjoint), its docstring, and the keywords
its seed and tangents are passed by; the parameters `wrt` picks, and the checks of the
tangents and arrays the transforms are given."""

from __future__ import annotations

import inspect
from typing import Any

from .errors import ApiError


def signed(made: Any, fn: Any, seed: str, wrt: tuple, *, kind: str = "grad") -> None:
    """Give `made` (a gradient of `fn`: a function, a bound method, a partial) the
    signature and docstring a user reads: `fn`'s parameters (as inspect shows them), with
    the keyword `seed=1.0` before any **kwargs."""
    name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "f")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        params = list(sig.parameters.values())
        seed_param = inspect.Parameter(seed, inspect.Parameter.KEYWORD_ONLY, default=1.0)
        rest = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
        more = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
        made.__signature__ = sig.replace(parameters=[*rest, seed_param, *more],
                                         return_annotation=inspect.Signature.empty)
    made.__doc__ = docstring(name, seed, wrt, kind)


def docstring(name: str, seed: str, wrt: tuple, kind: str) -> str:
    """What a gradient made by grad or value_and_grad computes, and how to call it."""
    which = ", ".join(wrt)
    many = len(wrt) > 1
    gives = f"a tuple of gradients ({which})" if many else f"the gradient with respect to {which}"
    if kind == "value":
        gives = f"({name}'s value, {gives})"
    return (f"The gradient of {name} with respect to {which}, emitted by adjoint.\n\n"
            f"Takes {name}'s arguments and returns {gives}.\n"
            f"The keyword {seed} (default 1.0) is the adjoint of {name}'s result: an array\n"
            "of the result's shape gives the vector-Jacobian product.\n"
            "adjoint.source(this function) shows the code that ran.")


def aliased(kwargs: dict, conventional: str, actual: str, fn: Any) -> dict:
    """kwargs with a seed or tangent passed by its conventional keyword (`f_bar`, `x_dot`)
    moved to the name the emitted code gives it (`f_bar_2`, where f has a variable `f_bar`);
    as they are where the names agree, or where fn has a parameter of that name."""
    if actual == conventional or conventional not in kwargs or conventional in parameter_names(fn):
        return kwargs
    out = dict(kwargs)
    out[actual] = out.pop(conventional)
    return out


def keyword(conventional: str, actual: str, fn: Any) -> str:
    """The keyword a user passes a seed or tangent by: the conventional one, unless fn has a
    parameter of that name."""
    if not conventional.isidentifier() or conventional in parameter_names(fn):
        return actual  # (a lambda's seed is named for the name it is assigned to)
    return conventional


def parameter_names(fn: Any) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def tangent_params(function: Any, count: int) -> list[str]:
    """The tangent parameters of emitted tangent code, the last `count` of its keyword-only
    ones: one per parameter in wrt, in order (`x_dot`, or `x_dot_2` where the function has
    a variable `x_dot`)."""
    return [p.name for p in inspect.signature(function).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY][-count:] if count else []


def tangents_passed(function: Any, picked: list, kwargs: dict, fn: Any, what: str) -> dict:
    """kwargs with each tangent under the name the tangent code takes it by; refused, naming
    the keywords, where one is missing."""
    names = tangent_params(function, len(picked))
    for w, name in zip(picked, names, strict=True):
        kwargs = aliased(kwargs, f"{w}_dot", name, fn)
    missing = [keyword(f"{w}_dot", name, fn) for w, name in zip(picked, names, strict=True)
               if name not in kwargs]
    if missing:
        clash = [f"{w}_dot" for w in picked if f"{w}_dot" in parameter_names(fn)]
        raise ApiError(f"{what} of {fn.__qualname__} needs the tangent "
                       f"{' and '.join(missing)}= (one per parameter in wrt)" + (
                           f"; {clash[0]} is a parameter of {fn.__name__}" if clash else ""))
    return kwargs


def picked_params(fn: Any, wrt: Any) -> list[str]:
    """The parameter names `wrt` picks of fn (a method's or partial's own parameters)."""
    from .bound import bound_parts

    func, front, fixed = bound_parts(fn)
    params = [p for p in inspect.signature(func).parameters.values()
              if p.kind is not inspect.Parameter.VAR_KEYWORD]  # (*args in its place)
    own = [p.name for p in params[len(front):] if p.name not in fixed]
    out = []
    for w in (wrt if isinstance(wrt, (tuple, list)) else (wrt,)):
        if isinstance(w, int) and not isinstance(w, bool) and -len(own) <= w < len(own):
            out.append(own[w])
        elif isinstance(w, str) and w in own:
            out.append(w)
        else:
            raise ApiError(f"wrt={w!r} names no parameter of {func.__qualname__} "
                           f"(its parameters: {', '.join(own)})")
    return out


def check_tangents(fn: Any, picked: list, args: tuple, kwargs: dict, what: str) -> None:
    """Refuse a `<name>_dot=` for no parameter in wrt, and a tangent whose shape is not
    its array's or number's (NumPy would broadcast it, and the result would be wrong)."""
    import numpy as np

    names = {f"{w}_dot": w for w in picked}
    own = set(parameter_names(fn))
    extra = [k for k in kwargs if k.endswith("_dot") and k not in names and k not in own]
    if extra:
        raise ApiError(f"{what} of {fn.__qualname__} takes the tangents "
                       f"{', '.join(n + '=' for n in names)}; {extra[0]}= is for no parameter "
                       "in wrt")
    primal = {k: v for k, v in kwargs.items() if k not in names}
    for key, w in names.items():
        if key not in kwargs:
            continue
        try:
            value = argument_of(fn, w, args, primal)
        except (TypeError, KeyError):
            return  # the call itself is wrong: the function says how, as it runs
        if isinstance(value, (bool, int, float, complex, np.generic, np.ndarray)) and \
                np.shape(kwargs[key]) != np.shape(value):
            raise ApiError(f"the tangent {key}= has shape {np.shape(kwargs[key])}, but {w} "
                           f"has shape {np.shape(value)}: pass a tangent of {w}'s shape")


def numeric(value: Any, what: str, name: str) -> Any:
    """value as an array of floats, for a Jacobian or Hessian; a list, tuple, dict or record
    (or anything else) refused, naming it."""
    import numpy as np

    if isinstance(value, (bool, int, float, complex, np.generic, np.ndarray)):
        return np.asarray(value, dtype=float)
    raise ApiError(f"adjoint.{what} takes arrays and numbers; {name} holds a "
                   f"{type(value).__name__}: use adjoint.grad, adjoint.jvp or adjoint.hvp "
                   "with it, or pass its values as one array")


def argument_of(fn: Any, name: str, args: tuple, kwargs: dict) -> Any:
    """The value a call passes for the parameter `name` (its default if none)."""

    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments[name]
