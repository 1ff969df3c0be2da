"""The rule table: every domain's rules in one RULES, and PASSIVE, SIGNATURES, METHODS, ATTRS."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from .. import runtime
from ..runtime import products, shapes
from .elementwise import BUILTINS, MATH, NEWER_MATH, NEWER_MATH_SIGNATURES, OPERATORS, UFUNCS
from .linalg import (
    ARRAY_API_NORMS,
    FIELD_ATTRS,
    FIELD_RULES,
    LINALG,
    NUMPY2_PRODUCT_SIGNATURES,
    NUMPY2_PRODUCTS,
)
from .numeric import NUMERIC
from .reductions import REDUCTIONS
from .shaping import NEWER_SHAPING, SHAPING

# fmt: off
HELPERS: dict[Any, dict[str, str]] = {
    # the runtime's own helpers, so straight-line emitted code differentiates again
    runtime.check_seed:   {"seed": "g", "ans": "0.0"},
    runtime.unbroadcast:  {"v": "runtime.broadcast_back(g, v)", "x": "0.0"},
    runtime.sum_adjoint:  {"v": "runtime.sum_back(g, v, axis, keepdims, where)", "x": "0.0"},
    runtime.mean_adjoint: {"v": "runtime.mean_back(g, v, x, axis, keepdims, where)", "x": "0.0"},
    runtime.densify:      {"v": "g", "x": "0.0"},
    runtime.owned:        {"v": "g", "x": "0.0"},
    runtime.keep_zeros:   {"v": "0.0", "out": "runtime.keep_zeros(v, g)"},
    runtime.snapshot:     {"x": "g"},
    runtime.kept:         {"x": "g"},
    runtime.restore:      {"x": "0.0", "values": "g"},
}

# One table, in the order of the sections above: a key's position is its first section's.
RULES: dict[Any, dict[str, str]] = {
    **OPERATORS, **BUILTINS, **MATH, **UFUNCS, **REDUCTIONS, **NUMERIC, **LINALG, **SHAPING,
    **HELPERS,
}

# Functions whose derivative is zero wherever it exists: their results carry no gradient.
PASSIVE: set = {
    len, range, int, bool, round, isinstance, print, type,
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.isclose,
    math.factorial, math.comb, math.perm, math.gcd, math.lcm, math.isqrt, math.ulp,
    np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.sign, np.fix, np.signbit,
    np.heaviside, np.spacing, np.gcd, np.lcm, np.logical_xor, np.invert, np.bitwise_and,
    np.bitwise_or, np.bitwise_xor, np.left_shift, np.right_shift, np.isnat,
    np.argmax, np.argmin, np.argsort, np.nonzero, np.shape, np.ndim, np.size,
    np.isnan, np.isinf, np.isfinite, np.isclose, np.allclose, np.array_equal,
    np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like, np.empty_like, np.eye,
    np.identity, np.arange, np.floor_divide, np.greater, np.less, np.equal, np.not_equal,
    np.greater_equal, np.less_equal, np.logical_and, np.logical_or, np.logical_not,
    np.any, np.all, runtime.zeros_like, runtime.empty_like, runtime.check_arrays,
    # the runtime's shape queries, met where a gradient's own code is differentiated
    shapes._shape, shapes._ndim, shapes._is_zero, shapes._float_dtype, products._einsum_plan,
    operator.floordiv, operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
    operator.ne, operator.not_, operator.and_, operator.or_, operator.invert, operator.is_,
    operator.is_not, operator.contains,
}

# Signatures where inspect cannot read one.
SIGNATURES: dict[Any, str] = {
    # runtime helpers take the adjoint g as an argument: here it is v, as g is the formula's
    runtime.unbroadcast: "v, x",
    runtime.sum_adjoint: "v, x, axis=None, keepdims=False, where=None",
    runtime.mean_adjoint: "v, x, axis=None, keepdims=False, where=None",
    runtime.densify: "v, x",
    runtime.owned: "v, x",
    list: "iterable=(), /",
    tuple: "iterable=(), /",
    runtime.keep_zeros: "v, out",
    math.log: "x, base=None, /",
    math.hypot: "*coordinates",
    math.fsum: "seq, /",
    math.prod: "iterable, /, *, start=1",
    math.dist: "p, q, /",
    math.ldexp: "x, i, /",
    math.copysign: "x, y, /",
    math.fmod: "x, y, /",
    math.remainder: "x, y, /",
    math.nextafter: "x, y, /",
    max: "*args, key=None, default=None",
    sorted: "iterable, /, *, key=None, reverse=False",
    min: "*args, key=None, default=None",
    np.pad: "array, pad_width, mode='constant', *, stat_length=None, constant_values=0, "
            "end_values=0, reflect_type='even'",
}

# the entries of some Python and NumPy versions only, in the table's order
RULES.update(NEWER_MATH)
SIGNATURES.update(NEWER_MATH_SIGNATURES)
RULES.update(NUMPY2_PRODUCTS)
SIGNATURES.update(NUMPY2_PRODUCT_SIGNATURES)
RULES.update(NEWER_SHAPING)
RULES.update(ARRAY_API_NORMS)

# Method calls share the rules of these functions: x.sum(axis=0) is np.sum(x, axis=0).
METHODS: dict[str, Any] = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "std": np.std, "var": np.var, "cumsum": np.cumsum, "cumprod": np.cumprod,
    "trace": np.trace, "diagonal": np.diagonal, "swapaxes": np.swapaxes, "repeat": np.repeat,
    "take": np.take, "astype": np.asarray, "conj": np.conjugate, "conjugate": np.conjugate,
    "dot": np.dot, "reshape": np.reshape, "ravel": np.ravel, "flatten": np.ravel,
    "transpose": np.transpose, "squeeze": np.squeeze, "copy": np.copy, "clip": np.clip,
    "argmax": np.argmax, "argmin": np.argmin, "argsort": np.argsort, "any": np.any,
    "all": np.all, "nonzero": np.nonzero, "round": np.round,
    "get": dict.get,  # d.get(key, default): for a dict only (runtime.dict_get_adjoint checks)
    "item": runtime.item,  # x.item(), x.item(k): one entry as a number
}
# Signatures of method forms that differ from the function: x.reshape(2, 3).
METHOD_SIGNATURES: dict[str, str] = {
    "reshape": "a, /, *shape, order='C'",
    "transpose": "a, /, *axes",
    "astype": "a, /, dtype, order='K', casting='unsafe', subok=True, copy=True",
}
# Attribute reads: x.T is np.transpose(x), x.real np.real(x); x.shape and friends are
# passive.
ATTRS: dict[str, Any] = {"T": np.transpose, "real": np.real, "imag": np.imag}
PASSIVE_ATTRS = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes"}
# fmt: on
# The attributes of arrays (not methods). Any other attribute read, p.stiffness, is a field
# of a record (a named tuple, a dataclass, an object of the user's class): its adjoint goes
# to that field of the record's adjoint (runtime.field_adjoint).
ARRAY_ATTRS = frozenset(n for n in dir(np.ndarray)
                        if not n.startswith("_") and not callable(getattr(np.ndarray, n)))


# parameters taking a sequence of arrays (np.stack(arrays), np.vstack(tup), np.select's), the
# object an array is made of, axes and shapes, or a tuple of extra arguments or bounds
# (odeint's args, solve_ivp's t_span): a list there is no array
SEQUENCE_PARAMS = frozenset({
    "arrays", "tup", "object", "condlist", "choicelist", "axis", "axes", "axis1", "axis2",
    "source", "destination", "shape", "newshape", "reps", "pad_width", "s", "dims", "args",
    "kwargs", "t_span", "bounds", "c_and_lower"})


def reads_array(fn: Any, param: str) -> bool:
    """Whether a function of NumPy, scipy.special, scipy.linalg or scipy.stats reads a list
    passed as `param` as the array np.asarray makes of it (np.dot([1.0, 2.0], [a, b]))."""
    module = getattr(fn, "__module__", None) or ""
    return param not in SEQUENCE_PARAMS and (
        isinstance(fn, np.ufunc) or module.split(".")[0] == "numpy" or
        module.startswith(("scipy.special", "scipy.linalg", "scipy.stats")))


def is_field(prim: Any) -> bool:
    """Whether an IR primitive reads a field of a record: `r.name` with no rule of its own
    that is no array attribute, or the field of a named tuple numpy.linalg returns."""
    return prim.kind == "attr" and (prim.key in FIELD_RULES or (
        prim.key is None and prim.spelling not in ARRAY_ATTRS))

# the fields of numpy.linalg's named tuples (linalg.py): attributes, and the last rules
ATTRS.update(FIELD_ATTRS)
RULES.update(FIELD_RULES)
