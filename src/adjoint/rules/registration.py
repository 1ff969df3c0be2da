"""Users' rules: register, what users registered, and the hint that says how to add a rule."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import runtime
from ..errors import AdjointError
from .query import _anonymous, name_of, rule_table, signature_of
from .stats import method_key
from .table import PASSIVE, SIGNATURES
from .templates import template

# What users registered (the rest of RULES and PASSIVE is adjoint's own table).
REGISTERED: set = set()

LIBRARIES = ("numpy", "math", "builtins", "operator", "_operator", "scipy")


def registration_hint(fn: Any, spelling: str | None = None) -> str:
    """The line that would add a rule for `fn`, called as `spelling` in the user's code:
    adjoint.register(np.median, a="g * ..."). Without a spelling, a library function is
    named as in messages (np.median, math.ulp) and the user's own by its bare name."""
    fn = method_key(fn)
    module = (getattr(fn, "__module__", None) or "").split(".")[0]
    if spelling is None and _anonymous(fn):
        spelling = "<the function>"  # an object whose name only the caller's code knows
    if spelling is None and (module in LIBRARIES or isinstance(fn, np.ufunc)):
        spelling = name_of(fn)
    elif spelling is None:  # the user's own: as their code most likely calls it
        spelling = fn.__name__ if "<locals>" in fn.__qualname__ else fn.__qualname__
    extra = ""
    try:
        sig = signature_of(fn)
        params = [p.name for p in sig.parameters.values() if p.default is p.empty and p.kind in (
            p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    except AdjointError:
        params = []
    if not params:  # no signature, or only *args/**kwargs: say what the parameters are
        extra, params = 'signature="x, /", ', ["x"]
    formulas = ", ".join(f'{p}="g * ..."' for p in params[:3])
    return f"adjoint.register({spelling}, {extra}{formulas})"


def register(fn: Any = None, /, *, signature: str | None = None, passive: bool = False,
             **formulas: str | Callable) -> Any:
    """Add a derivative rule for `fn`, as the built-in rules are written.

    Each keyword names a parameter of `fn` and gives its contribution to the adjoint: either
    a Python expression in `g` (the adjoint of `fn`'s result), `ans` (the result), `fn`'s
    parameters and the modules np, math and runtime, or, for a hard case, a function of
    some of those names that computes it. The emitted code calls such a helper as
    `runtime.<its name>(...)`, so the module that registers it must be imported before a
    saved gradient file runs (as it is when the registration sits beside `fn`).
    `passive=True` declares `fn`'s result constant (zero derivative). `signature="x, y, /"`
    gives the parameters of a function inspect cannot read. Works as a decorator when `fn`
    is left out::

        adjoint.register(softplus, x="g * (1 - np.exp(-ans))")

        def softplus_dx(g, x):  # takes any of g, ans, k and softplus's parameters
            return g / (1 + np.exp(-x))

        adjoint.register(softplus, x=softplus_dx)

        @adjoint.register(x="g * 2 * x")
        def square(x):
            return x * x

    Check a rule with adjoint.testing.check_grads on a function that calls `fn`.
    """
    if fn is None:
        return lambda f: register(f, signature=signature, passive=passive, **formulas)
    given, fn = fn, method_key(fn)  # norm.logpdf: keyed on (norm's class, 'logpdf')
    if passive:
        if formulas:
            raise AdjointError(f"{name_of(fn)} is declared passive: it takes no formulas")
        REGISTERED.add(fn)
        PASSIVE.add(fn)
        return given
    if not formulas:
        raise AdjointError(f"register({name_of(fn)}) needs a formula for at least one "
                           "parameter (x=\"g * ...\"), or passive=True")
    if signature is not None:
        SIGNATURES[fn] = signature
    sig = signature_of(fn)
    table = {}
    for param, formula in formulas.items():
        if param not in sig.parameters:
            raise AdjointError(f"{name_of(fn)} has no parameter {param!r} "
                               f"(its parameters: {', '.join(sig.parameters)})")
        if callable(formula):
            formula = _helper_formula(fn, param, formula, sig)
        elif not isinstance(formula, str):
            raise AdjointError(f"the rule for {param!r} of {name_of(fn)} must be a formula "
                               f"(a string) or a function, not {formula!r}")
        template(formula, frozenset(sig.parameters))
        table[param] = formula
    REGISTERED.add(fn)
    PASSIVE.discard(fn)
    rule_table()[fn] = table
    return given


def _helper_formula(fn: Any, param: str, helper: Callable, sig: inspect.Signature) -> str:
    """The one-line formula that calls a helper given as a rule: runtime.softplus_dx(g, x)."""
    vocabulary = {"g", "ans", "k", *sig.parameters}
    try:
        params = inspect.signature(helper).parameters.values()
    except (TypeError, ValueError):
        raise AdjointError(f"cannot read the parameters of {helper!r}, the rule for "
                           f"{param!r} of {name_of(fn)}") from None
    args: list[str] = []
    by_name = False
    for p in params:
        if p.name not in vocabulary or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise AdjointError(
                    f"the rule for {param!r} of {name_of(fn)} takes {p.name!r}, which is not "
                    f"g, ans, k or a parameter of {name_of(fn)} ({', '.join(sig.parameters)})")
            by_name = True  # later names must go by keyword
            continue
        by_name = by_name or p.kind is p.KEYWORD_ONLY
        args.append(f"{p.name}={p.name}" if by_name else p.name)
    short = re.sub(r"\W+", "_", getattr(fn, "__name__", "")).strip("_") or "rule"
    name = runtime.add_helper(helper, f"{short}_{param}_adjoint")
    return f"runtime.{name}({', '.join(args)})"
