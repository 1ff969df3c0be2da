"""Querying the table: Rule, signatures, SciPy's optional rules, passivity, broadcasting, names."""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import operator
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AdjointError
from ..runtime import records
from .integrate import integrate_rules
from .linalg import scipy_linalg_rules
from .special import scipy_rules
from .stats import DistributionMethod, method_key, stats_rules
from .table import METHOD_SIGNATURES, PASSIVE, SIGNATURES
from .templates import Template, template


def rule_table() -> dict[Any, dict[str, str]]:
    """RULES as adjoint.rules names it now. Read at each use, not bound at import: a caller
    may rebind adjoint.rules.RULES (tests swap in a copy for files that register rules)."""
    return sys.modules[__package__].RULES


@dataclass(frozen=True)
class Rule:
    fn: Any
    signature: inspect.Signature
    formulas: dict  # param -> formula

    def template(self, param: str) -> Template:
        return template(self.formulas[param], frozenset(self.signature.parameters))


_signatures: dict = {}


def signature_of(fn: Any, method: str | None = None) -> inspect.Signature:
    """The signature a call of `fn` (or of the method form `method`) binds to (cached)."""
    fn = method_key(fn)
    try:
        key = (fn, method, SIGNATURES.get(fn))
        if key in _signatures:
            return _signatures[key]
    except TypeError:  # unhashable
        return _signature_of(fn, method)
    _signatures[key] = sig = _signature_of(fn, method)
    return sig


def _signature_of(fn: Any, method: str | None = None) -> inspect.Signature:
    text = METHOD_SIGNATURES.get(method) if method else None
    text = text or SIGNATURES.get(fn)
    if text is None and isinstance(fn, DistributionMethod):  # norm.logpdf(x, loc=0, scale=1)
        text = fn.signature_text()
        own = fn.signature() if text is None else None
        if own is not None:
            return own
    if text is None:
        try:
            return inspect.signature(fn)
        except (TypeError, ValueError):
            if isinstance(fn, np.ufunc):
                text = "x, /" if fn.nin == 1 else ", ".join(f"x{k + 1}" for k in range(fn.nin))
                text += ", /" if fn.nin > 1 else ""
            else:
                raise AdjointError(f"cannot read the signature of {name_of(fn)}; register its "
                                   "rule with signature='...'") from None
    return _parse_signature(text)


@functools.cache
def _parse_signature(text: str) -> inspect.Signature:
    scope: dict = {}
    exec(f"def f({text}): pass", {}, scope)
    return inspect.signature(scope["f"])



def lookup(fn: Any, method: str | None = None) -> Rule | None:
    fn = method_key(fn)
    rules = rule_table()
    try:
        formulas = rules.get(fn)
    except TypeError:  # unhashable
        return None
    if formulas is None and load_optional():
        formulas = rules.get(fn)
    if formulas is None:
        formulas = _record_formulas(fn)
    if formulas is None:
        return None
    return Rule(fn, signature_of(fn, method), formulas)


def _record_formulas(cls: Any) -> dict | None:
    """The rule of a named tuple or dataclass built from its fields: each argument's adjoint
    is its field of the record's."""
    fields = records.constructed_fields(cls)
    if not fields:
        return None
    return {f: f"runtime.record_arg_adjoint(g, {f!r}, {k})" for k, f in enumerate(fields)}



# the optional libraries with rules, and the function that makes each one's
OPTIONAL = {"scipy.special": scipy_rules, "scipy.stats": stats_rules,
            "scipy.integrate": integrate_rules, "scipy.linalg": scipy_linalg_rules}
_optional_loaded: set = set()


def load_optional(import_: bool = False) -> bool:
    """Add the rules of optional libraries (scipy.special, scipy.stats, scipy.integrate) once
    that library is imported: importing SciPy costs more than adjoint itself, and code that
    calls scipy.special has imported it. `import_=True` imports them if they are installed (to
    list every rule). Returns whether it added any."""
    added = False
    for module, make in OPTIONAL.items():
        if module in _optional_loaded:
            continue
        if import_:
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
        if module not in sys.modules:
            continue
        _optional_loaded.add(module)
        rule_table().update(make())
        added = True
    return added



def is_passive(fn: Any) -> bool:
    try:
        return method_key(fn) in PASSIVE
    except TypeError:
        return False



BROADCASTING_EXTRA = {np.where, np.clip}


def broadcasts(fn: Any) -> bool:
    """Whether `fn` broadcasts its inputs elementwise (contributions need unbroadcasting)."""
    fn = method_key(fn)
    if isinstance(fn, DistributionMethod):  # norm.logpdf(x, loc, scale), not dirichlet's
        return fn.elementwise
    if isinstance(fn, np.ufunc):  # not a generalized ufunc (np.matmul): those have core dims
        return fn.nin >= 2 and fn.signature is None
    return fn in BROADCASTING_EXTRA or (
        getattr(fn, "__module__", None) in ("_operator", "operator")
        and fn not in (operator.neg, operator.pos, operator.matmul)
    )


def name_of(fn: Any) -> str:
    """How a function is written in messages: np.sin, math.exp, operator.mul,
    scipy.stats.norm.logpdf."""
    fn = method_key(fn)
    if _anonymous(fn):
        return f"a {type(fn).__name__} object"
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
    special = sys.modules.get("scipy.special")
    if module.startswith("scipy.special") or (
            isinstance(fn, np.ufunc) and getattr(np, name, None) is not fn and
            special is not None and getattr(special, name, None) is fn):
        return f"scipy.special.{name}"
    if isinstance(fn, np.ufunc) or module.startswith("numpy"):
        sub = module.split(".")[1:2]
        sub = [s for s in sub if s in ("linalg", "fft", "random")]
        return ".".join(["np", *sub, name])
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    if module.startswith("scipy."):  # scipy.integrate.solve_ivp, not scipy.integrate._ivp.ivp's
        module = _public_module(fn, module, name)
    if module == "builtins":
        return name
    return f"{module}.{name}" if module else name


def _public_module(fn: Any, module: str, name: str) -> str:
    """The first module on the way to `module` that exposes fn as `name` (scipy.integrate for
    scipy.integrate._ivp.ivp.solve_ivp), else `module` without its private parts."""
    parts = module.split(".")
    for k in range(1, len(parts)):
        if getattr(sys.modules.get(".".join(parts[:k])), name, None) is fn:
            return ".".join(parts[:k])
    return ".".join(p for p in parts if not p.startswith("_"))


def _anonymous(fn: Any) -> bool:
    """A callable object with no name of its own: functools.partial, np.vectorize(...)."""
    return not hasattr(fn, "__qualname__") and not isinstance(fn, np.ufunc)
