"""The rules of the operators, the builtins, math and NumPy's elementwise functions."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

# fmt: off
OPERATORS: dict[Any, dict[str, str]] = {
    # operators (operator.* is the key for both `a + b` and operator.add(a, b))
    operator.add:      {"a": "g", "b": "g"},
    operator.sub:      {"a": "g", "b": "-g"},
    operator.mul:      {"a": "g * b", "b": "g * a"},
    operator.truediv:  {"a": "g / b", "b": "-g * ans / b"},
    operator.pow:      {"a": "g * b * a ** (b - 1)", "b": "runtime.power_exponent_adjoint(g, a, ans)"},
    operator.mod:      {"a": "g", "b": "runtime.mod_adjoint_rhs(g, a, b)"},
    operator.matmul:   {"a": "runtime.matmul_lhs(g, a, b)", "b": "runtime.matmul_rhs(g, a, b)"},
    operator.neg:      {"a": "-g"},
    operator.pos:      {"a": "g"},
}

BUILTINS: dict[Any, dict[str, str]] = {
    # builtins
    abs:               {"x": "g * np.sign(x)"},
    pow:               {"base": "g * exp * base ** (exp - 1)", "exp": "runtime.power_exponent_adjoint(g, base, ans)"},
    float:             {"x": "g"},
    np.float64:        {"value": "g"},
    list:              {"iterable": "runtime.items_adjoint(g, iterable)"},
    tuple:             {"iterable": "runtime.items_adjoint(g, iterable)"},
    sum:               {"iterable": "runtime.sequence_adjoint(g, iterable)", "start": "g"},
    max:               {"args": "runtime.builtin_extremum_adjoint(g, args, k, ans, key=key)"},
    min:               {"args": "runtime.builtin_extremum_adjoint(g, args, k, ans, key=key)"},
    sorted:            {"iterable": "runtime.sorted_adjoint(g, iterable, key, reverse)"},
    # d.get(key, default), a method keyed on dict.get (table.METHODS)
    dict.get:          {"self": "runtime.dict_get_adjoint(g, self, key)",
                        "default": "runtime.dict_default_adjoint(g, self, key, default)"},
}

MATH: dict[Any, dict[str, str]] = {
    # math
    math.sin:          {"x": "g * math.cos(x)"},
    math.cos:          {"x": "-g * math.sin(x)"},
    math.tan:          {"x": "g * (1 + ans * ans)"},
    math.asin:         {"x": "g / math.sqrt(1 - x * x)"},
    math.acos:         {"x": "-g / math.sqrt(1 - x * x)"},
    math.atan:         {"x": "g / (1 + x * x)"},
    math.atan2:        {"y": "g * x / (x * x + y * y)", "x": "-g * y / (x * x + y * y)"},
    math.sinh:         {"x": "g * math.cosh(x)"},
    math.cosh:         {"x": "g * math.sinh(x)"},
    math.tanh:         {"x": "g * (1 - ans * ans)"},
    math.asinh:        {"x": "g / math.sqrt(x * x + 1)"},
    math.acosh:        {"x": "g / math.sqrt(x * x - 1)"},
    math.atanh:        {"x": "g / (1 - x * x)"},
    math.exp:          {"x": "g * ans"},
    math.expm1:        {"x": "g * (ans + 1)"},
    math.log:          {"x": "g / x if base is None else g / (x * math.log(base))"},
    math.log1p:        {"x": "g / (1 + x)"},
    math.log2:         {"x": "g / (x * math.log(2))"},
    math.log10:        {"x": "g / (x * math.log(10))"},
    math.sqrt:         {"x": "g * 0.5 / ans"},
    math.pow:          {"x": "g * y * x ** (y - 1)", "y": "runtime.power_exponent_adjoint(g, x, ans)"},
    math.hypot:        {"coordinates": "runtime.safe_ratio(g * coordinates[k], ans)"},
    math.dist:         {"p": "runtime.dist_adjoint(g, p, q, ans)", "q": "runtime.dist_adjoint(g, q, p, ans)"},
    math.fsum:         {"seq": "runtime.sequence_adjoint(g, seq)"},
    math.prod:         {"iterable": "runtime.prod_sequence_adjoint(g, iterable, start)", "start": "g * math.prod(iterable)"},
    math.erf:          {"x": "g * 2 / math.sqrt(math.pi) * math.exp(-x * x)"},
    math.erfc:         {"x": "-g * 2 / math.sqrt(math.pi) * math.exp(-x * x)"},
    math.gamma:        {"x": "g * ans * runtime.digamma(x)"},
    math.lgamma:       {"x": "g * runtime.digamma(x)"},
    math.fabs:         {"x": "g * math.copysign(1.0, x)"},
    math.copysign:     {"x": "g * math.copysign(1.0, x) * math.copysign(1.0, y)", "y": "0.0"},
    math.fmod:         {"x": "g", "y": "-g * (x - ans) / y"},
    math.remainder:    {"x": "g", "y": "-g * (x - ans) / y"},
    math.ldexp:        {"x": "g * 2.0 ** i"},
    math.nextafter:    {"x": "g", "y": "0.0"},
    math.modf:         {"x": "g[0]"},
    math.frexp:        {"x": "g[0] * 2.0 ** -ans[1]"},
    math.degrees:      {"x": "g * 180 / math.pi"},
    math.radians:      {"x": "g * math.pi / 180"},
}

UFUNCS: dict[Any, dict[str, str]] = {
    # numpy elementwise
    np.add:            {"x1": "g", "x2": "g"},
    np.subtract:       {"x1": "g", "x2": "-g"},
    np.multiply:       {"x1": "g * x2", "x2": "g * x1"},
    np.divide:         {"x1": "g / x2", "x2": "-g * ans / x2"},
    np.power:          {"x1": "g * x2 * x1 ** (x2 - 1)", "x2": "runtime.power_exponent_adjoint(g, x1, ans)"},
    np.float_power:    {"x1": "g * x2 * np.float_power(x1, x2 - 1)", "x2": "runtime.power_exponent_adjoint(g, x1, ans)"},
    np.reciprocal:     {"x": "-g * ans * ans"},
    np.mod:            {"x1": "g", "x2": "-g * np.floor_divide(x1, x2)"},
    np.fmod:           {"x1": "g", "x2": "-g * (x1 - ans) / x2"},
    np.copysign:       {"x1": "g * np.sign(x1) * np.sign(ans)", "x2": "runtime.zeros_like(x2)"},
    np.ldexp:          {"x1": "np.ldexp(g, x2)"},
    np.modf:           {"x": "runtime.densify_item(g, 0, ans, x)"},
    np.frexp:          {"x": "np.ldexp(runtime.densify_item(g, 0, ans, x), -ans[1])"},
    np.divmod:         {"x1": "runtime.densify_item(g, 1, ans, x1)",
                        "x2": "-runtime.densify_item(g, 1, ans, ans[1]) * ans[0]"},
    np.nextafter:      {"x1": "g", "x2": "runtime.zeros_like(x2)"},
    np.negative:       {"x": "-g"},
    np.positive:       {"x": "g"},
    np.conjugate:      {"x": "g"},
    np.sin:            {"x": "g * np.cos(x)"},
    np.cos:            {"x": "-g * np.sin(x)"},
    np.tan:            {"x": "g * (1 + ans * ans)"},
    np.arcsin:         {"x": "g / np.sqrt(1 - x * x)"},
    np.arccos:         {"x": "-g / np.sqrt(1 - x * x)"},
    np.arctan:         {"x": "g / (1 + x * x)"},
    np.arctan2:        {"x1": "runtime.safe_ratio(g * x2, x1 * x1 + x2 * x2)", "x2": "runtime.safe_ratio(-g * x1, x1 * x1 + x2 * x2)"},
    np.sinh:           {"x": "g * np.cosh(x)"},
    np.cosh:           {"x": "g * np.sinh(x)"},
    np.tanh:           {"x": "g * (1 - ans * ans)"},
    np.arcsinh:        {"x": "g / np.sqrt(x * x + 1)"},
    np.arccosh:        {"x": "g / np.sqrt(x * x - 1)"},
    np.arctanh:        {"x": "g / (1 - x * x)"},
    np.exp:            {"x": "g * ans"},
    np.exp2:           {"x": "g * ans * math.log(2)"},
    np.expm1:          {"x": "g * (ans + 1)"},
    np.log:            {"x": "g / x"},
    np.log2:           {"x": "g / (x * math.log(2))"},
    np.log10:          {"x": "g / (x * math.log(10))"},
    np.log1p:          {"x": "g / (1 + x)"},
    np.logaddexp:      {"x1": "g * np.exp(x1 - ans)", "x2": "g * np.exp(x2 - ans)"},
    np.logaddexp2:     {"x1": "g * np.exp2(x1 - ans)", "x2": "g * np.exp2(x2 - ans)"},
    np.sqrt:           {"x": "g / (2 * ans)"},
    np.cbrt:           {"x": "g / (3 * ans * ans)"},
    np.square:         {"x": "g * 2 * x"},
    np.abs:            {"x": "g * np.sign(x)"},
    np.fabs:           {"x": "g * np.sign(x)"},
    np.sinc:           {"x": "g * runtime.sinc_derivative(x, ans)"},
    np.deg2rad:        {"x": "g * np.pi / 180"},
    np.radians:        {"x": "g * np.pi / 180"},
    np.rad2deg:        {"x": "g * 180 / np.pi"},
    np.degrees:        {"x": "g * 180 / np.pi"},
    np.maximum:        {"x1": "runtime.maximum_adjoint(g, x1, x2)",
                        "x2": "runtime.maximum_adjoint(g, x2, x1)"},
    np.minimum:        {"x1": "runtime.maximum_adjoint(g, x2, x1)",
                        "x2": "runtime.maximum_adjoint(g, x1, x2)"},
    np.fmax:           {"x1": "runtime.fmax_adjoint(g, x1, x2)", "x2": "runtime.fmax_adjoint(g, x2, x1)"},
    np.fmin:           {"x1": "runtime.fmax_adjoint(g, x1, x2, lower=True)", "x2": "runtime.fmax_adjoint(g, x2, x1, lower=True)"},
    np.hypot:          {"x1": "runtime.safe_ratio(g * x1, ans)", "x2": "runtime.safe_ratio(g * x2, ans)"},
}
# fmt: on

# math functions newer than the oldest Python adjoint supports: rule, signature
NEWER_MATH: dict[Any, dict[str, str]] = {}
NEWER_MATH_SIGNATURES: dict[Any, str] = {}
for _name, (_rule, _signature) in {
    "exp2":    ({"x": "g * ans * math.log(2)"}, "x, /"),
    "cbrt":    ({"x": "g / (3 * ans * ans)"}, "x, /"),
    "sumprod": ({"p": "runtime.sumprod_adjoint(g, q)", "q": "runtime.sumprod_adjoint(g, p)"}, "p, q, /"),
    "fma":     ({"x": "g * y", "y": "g * x", "z": "g"}, "x, y, z, /"),
}.items():
    if hasattr(math, _name):
        NEWER_MATH[getattr(math, _name)] = _rule
        NEWER_MATH_SIGNATURES[getattr(math, _name)] = _signature
