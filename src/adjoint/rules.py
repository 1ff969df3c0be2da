"""rules: derivative rules as data. One table, one primitive per line.

A rule maps each differentiable parameter of a function to a Python expression
for that parameter's contribution to the adjoint. The vocabulary:

    g        the adjoint of the result (for a function returning a tuple, a tuple
             with one adjoint per item, the number 0.0 for an item nothing reads)
    ans      the result
    x, axis  the function's parameters, by the names in its signature
             (SIGNATURES gives them where inspect cannot)
    k        inside the formula of a *args parameter: the position of the argument
    np, math, runtime   modules, spelled in emitted code as the user imported them

A formula for a sequence parameter (np.concatenate's `arrays`) returns one adjoint
per item. Parameters without a formula are not differentiable: passing a value
that depends on `wrt` there is refused. Rules are keyed by function object, so
every alias of `np.sin` finds the same entry. Operators map to `operator.*`.
Method calls (x.sum(axis=1)) and attributes (x.T) use the rule of the function in
METHODS and ATTRS. PASSIVE functions have zero derivative; their results carry none.
scipy.special's rules join the table when SciPy is imported (load_optional).

Elementwise binary functions (operators, two-input ufuncs) broadcast: the
compiler sums each contribution back to the input's shape (`runtime.unbroadcast`)
unless it can prove the shapes equal. Other rules sum back themselves.

Conventions. At a point where a function is not differentiable, the gradient is
the midpoint of its subgradients: ties in max/min (np.max, np.maximum, max(),
norms with ord=inf) share g equally; abs, norms and std give 0 at 0; clip and
where send g to the input selected, ends of the interval included. Where a
derivative is infinite or NaN at a finite input (sqrt and log at 0, division by
0, exp overflowing), formulas multiply with runtime.mul/div, which keep a zero
adjoint zero, so np.where and np.clip send nothing from the branch not taken
(runtime.where_adjoint). Functions differentiable only for some arguments refuse
the others when the gradient runs (adjoint.errors.UnsupportedArgument, also a
NotImplementedError, naming the function and the argument).

Users add entries with the call the built-ins use: `register(fn, x="...")`, or
`register(fn, x=helper)` with a function for the hard cases.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import inspect
import math
import operator
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import runtime
from .errors import AdjointError
from .ir import Parts, Ref

# fmt: off
RULES: dict[Any, dict[str, str]] = {
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
    # builtins
    abs:               {"x": "g * np.sign(x)"},
    pow:               {"base": "g * exp * base ** (exp - 1)", "exp": "runtime.power_exponent_adjoint(g, base, ans)"},
    float:             {"x": "g"},
    list:              {"iterable": "runtime.items_adjoint(g, iterable)"},
    tuple:             {"iterable": "runtime.items_adjoint(g, iterable)"},
    sum:               {"iterable": "runtime.sequence_adjoint(g, iterable)", "start": "g"},
    max:               {"args": "runtime.builtin_extremum_adjoint(g, args, k, ans, key=key)"},
    min:               {"args": "runtime.builtin_extremum_adjoint(g, args, k, ans, key=key)"},
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
    # reductions
    # (max/min: ties share the gradient equally, runtime.extremum_adjoint)
    np.sum:            {"a": "runtime.sum_adjoint(g, a, axis=axis, keepdims=keepdims, where=where)"},
    np.nansum:         {"a": "runtime.nansum_adjoint(g, a, axis=axis, keepdims=keepdims, where=where)"},
    np.mean:           {"a": "runtime.mean_adjoint(g, a, axis=axis, keepdims=keepdims, where=where)"},
    np.nanmean:        {"a": "runtime.nanmean_adjoint(g, a, axis=axis, keepdims=keepdims, where=where)"},
    np.average:        {"a": "runtime.average_adjoint(g, a, ans, axis, weights, returned, keepdims)",
                        "weights": "runtime.average_adjoint(g, a, ans, axis, weights, returned, keepdims, of='weights')"},
    np.prod:           {"a": "runtime.prod_adjoint(g, a, ans, axis=axis, keepdims=keepdims, initial=initial, where=where)"},
    np.max:            {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.min:            {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.amax:           {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.amin:           {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.nanmax:         {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.nanmin:         {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.ptp:            {"a": "runtime.ptp_adjoint(g, a, axis=axis, keepdims=keepdims)"},
    np.var:            {"a": "runtime.var_adjoint(g, a, axis=axis, ddof=ddof, keepdims=keepdims, mean=mean, correction=correction, where=where)"},
    np.std:            {"a": "runtime.std_adjoint(g, a, ans, axis=axis, ddof=ddof, keepdims=keepdims, mean=mean, correction=correction, where=where)"},
    np.cumsum:         {"a": "runtime.cumsum_adjoint(g, a, axis)"},
    np.cumprod:        {"a": "runtime.cumprod_adjoint(g, a, ans, axis)"},
    # linear algebra
    np.dot:            {"a": "runtime.dot_lhs(g, a, b)", "b": "runtime.dot_rhs(g, a, b)"},
    np.matmul:         {"x1": "runtime.matmul_lhs(g, x1, x2)", "x2": "runtime.matmul_rhs(g, x1, x2)"},
    np.outer:          {"a": "(g @ np.ravel(b)).reshape(np.shape(a))",
                        "b": "(np.ravel(a) @ g).reshape(np.shape(b))"},
    np.einsum:         {"operands": "runtime.einsum_operand_adjoint(g, operands, k)"},
    np.vdot:           {"a": "g * np.reshape(b, np.shape(a))", "b": "g * np.reshape(a, np.shape(b))"},
    np.inner:          {"a": "runtime.inner_adjoint(g, a, b, 0)", "b": "runtime.inner_adjoint(g, a, b, 1)"},
    np.tensordot:      {"a": "runtime.tensordot_adjoint(g, a, b, axes, 0)", "b": "runtime.tensordot_adjoint(g, a, b, axes, 1)"},
    np.kron:           {"a": "runtime.kron_adjoint(g, a, b, 0)", "b": "runtime.kron_adjoint(g, a, b, 1)"},
    np.cross:          {"a": "runtime.cross_adjoint(g, a, b, 0, axisa, axisb, axisc, axis)",
                        "b": "runtime.cross_adjoint(g, a, b, 1, axisa, axisb, axisc, axis)"},
    np.trace:          {"a": "runtime.trace_adjoint(g, a, offset, axis1, axis2)"},
    np.diagonal:       {"a": "runtime.diagonal_adjoint(g, a, offset, axis1, axis2)"},
    np.diag:           {"v": "runtime.diag_adjoint(g, v, k)"},
    np.tril:           {"m": "runtime.unbroadcast(np.tril(g, k), m)"},
    np.triu:           {"m": "runtime.unbroadcast(np.triu(g, k), m)"},
    np.linalg.inv:     {"a": "runtime.inv_adjoint(g, ans)"},
    np.linalg.solve:   {"a": "runtime.solve_adjoint(g, a, b, ans, 0)", "b": "runtime.solve_adjoint(g, a, b, ans, 1)"},
    np.linalg.det:     {"a": "runtime.det_adjoint(g, a, ans)"},
    np.linalg.slogdet: {"a": "runtime.slogdet_adjoint(g, a, ans)"},
    np.linalg.cholesky: {"a": "runtime.cholesky_adjoint(g, ans, upper)"},
    np.linalg.eigh:    {"a": "runtime.eigh_adjoint(g, a, ans, UPLO)"},
    np.linalg.eigvalsh: {"a": "runtime.eigh_adjoint(g, a, ans, UPLO, values_only=True)"},
    np.linalg.pinv:    {"a": "runtime.pinv_adjoint(g, a, ans, hermitian)"},
    np.linalg.lstsq:   {"a": "runtime.lstsq_adjoint(g, a, b, ans, rcond, 0)", "b": "runtime.lstsq_adjoint(g, a, b, ans, rcond, 1)"},
    np.linalg.qr:      {"a": "runtime.qr_adjoint(g, a, ans, mode)"},
    np.linalg.norm:    {"x": "runtime.norm_adjoint(g, x, ans, ord=ord, axis=axis, keepdims=keepdims)"},
    # shape
    np.transpose:      {"a": "runtime.transpose_adjoint(g, axes=axes)"},
    np.reshape:        {"a": "runtime.reshape_like(g, a)"},
    np.ravel:          {"a": "runtime.reshape_like(g, a)"},
    np.squeeze:        {"a": "runtime.reshape_like(g, a)"},
    np.expand_dims:    {"a": "runtime.reshape_like(g, a)"},
    np.swapaxes:       {"a": "np.swapaxes(g, axis1, axis2)"},
    np.moveaxis:       {"a": "np.moveaxis(g, destination, source)"},
    np.broadcast_to:   {"array": "runtime.unbroadcast(g, array)"},
    np.atleast_1d:     {"arys": "runtime.atleast_adjoint(g, arys, k, ans)"},
    np.atleast_2d:     {"arys": "runtime.atleast_adjoint(g, arys, k, ans)"},
    np.atleast_3d:     {"arys": "runtime.atleast_adjoint(g, arys, k, ans)"},
    np.repeat:         {"a": "runtime.repeat_adjoint(g, a, repeats, axis)"},
    np.tile:           {"A": "runtime.tile_adjoint(g, A, reps)"},
    np.pad:            {"array": "runtime.pad_adjoint(g, array, pad_width, mode, reflect_type)"},
    np.flip:           {"m": "np.flip(g, axis)"},
    np.fliplr:         {"m": "np.fliplr(g)"},
    np.flipud:         {"m": "np.flipud(g)"},
    np.roll:           {"a": "runtime.roll_adjoint(g, shift, axis)"},
    np.diff:           {"a": "runtime.diff_adjoint(g, a, n, axis, prepend, append)"},
    np.copy:           {"a": "g"},
    np.asarray:        {"a": "runtime.cast_adjoint(g, a, dtype)"},
    np.array:          {"object": "runtime.cast_adjoint(g, object, dtype)"},
    np.concatenate:    {"arrays": "runtime.split_like(g, arrays, axis)"},
    np.stack:          {"arrays": "runtime.unstack(g, arrays, axis)"},
    np.hstack:         {"tup": "runtime.stack_adjoint(g, tup, 'h')"},
    np.vstack:         {"tup": "runtime.stack_adjoint(g, tup, 'v')"},
    np.dstack:         {"tup": "runtime.stack_adjoint(g, tup, 'd')"},
    np.column_stack:   {"tup": "runtime.stack_adjoint(g, tup, 'column')"},
    runtime.index_concat: {"items": "runtime.index_concat_adjoint(g, maker, items, k)"},
    np.split:          {"ary": "runtime.split_adjoint(g, ary, indices_or_sections, axis)"},
    np.array_split:    {"ary": "runtime.split_adjoint(g, ary, indices_or_sections, axis, 'array_split')"},
    np.hsplit:         {"ary": "runtime.split_adjoint(g, ary, indices_or_sections, 1 if np.ndim(ary) > 1 else 0)"},
    np.vsplit:         {"ary": "runtime.split_adjoint(g, ary, indices_or_sections, 0)"},
    np.take:           {"a": "runtime.take_axis_adjoint(g, a, indices, axis, mode)"},
    np.take_along_axis: {"arr": "runtime.take_along_axis_adjoint(g, arr, indices, axis)"},
    np.sort:           {"a": "runtime.sort_adjoint(g, a, axis)"},
    np.select:         {"choicelist": "runtime.select_adjoint(g, condlist, choicelist)",
                        "default": "runtime.select_default_adjoint(g, condlist, default)"},
    np.where:          {"x": "runtime.where_adjoint(g, condition, True)",
                        "y": "runtime.where_adjoint(g, condition, False)"},
    np.clip:           {"a": "runtime.clip_adjoint(g, a, a_min, a_max, min, max)",
                        "a_min": "runtime.clip_adjoint(g, a, a_min, a_max, min, max, of='a_min')",
                        "a_max": "runtime.clip_adjoint(g, a, a_min, a_max, min, max, of='a_max')",
                        "min": "runtime.clip_adjoint(g, a, min, a_max, None, max, of='a_min')",
                        "max": "runtime.clip_adjoint(g, a, a_min, max, min, None, of='a_max')"},
    # the runtime's own helpers, so straight-line emitted code differentiates again
    runtime.check_seed:   {"seed": "g", "ans": "0.0"},
    runtime.unbroadcast:  {"v": "runtime.broadcast_back(g, v)", "x": "0.0"},
    runtime.sum_adjoint:  {"v": "runtime.sum_back(g, v, axis, keepdims, where)", "x": "0.0"},
    runtime.mean_adjoint: {"v": "runtime.mean_back(g, v, x, axis, keepdims, where)", "x": "0.0"},
    runtime.densify:      {"v": "g", "x": "0.0"},
    runtime.owned:        {"v": "g", "x": "0.0"},
    runtime.keep_zeros:   {"v": "0.0", "out": "runtime.keep_zeros(v, g)"},
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
    np.any, np.all, runtime.zeros_like, runtime.check_arrays,
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
    min: "*args, key=None, default=None",
    np.pad: "array, pad_width, mode='constant', *, stat_length=None, constant_values=0, "
            "end_values=0, reflect_type='even'",
}

# math functions newer than the oldest Python adjoint supports: rule, signature
for _name, (_rule, _signature) in {
    "exp2":    ({"x": "g * ans * math.log(2)"}, "x, /"),
    "cbrt":    ({"x": "g / (3 * ans * ans)"}, "x, /"),
    "sumprod": ({"p": "runtime.sumprod_adjoint(g, q)", "q": "runtime.sumprod_adjoint(g, p)"}, "p, q, /"),
    "fma":     ({"x": "g * y", "y": "g * x", "z": "g"}, "x, y, z, /"),
}.items():
    if hasattr(math, _name):
        RULES[getattr(math, _name)] = _rule
        SIGNATURES[getattr(math, _name)] = _signature

# NumPy 2's vector and matrix products (generalized ufuncs: core dimensions, no broadcasting
# rule of their own)
for _name, _rule in {
    "vecdot": {"x1": "runtime.vecdot_adjoint(g, x1, x2, axis, 0)", "x2": "runtime.vecdot_adjoint(g, x1, x2, axis, 1)"},
    "matvec": {"x1": "runtime.matvec_adjoint(g, x1, x2, 0)", "x2": "runtime.matvec_adjoint(g, x1, x2, 1)"},
    "vecmat": {"x1": "runtime.matvec_adjoint(g, x2, x1, 1, True)", "x2": "runtime.matvec_adjoint(g, x2, x1, 0, True)"},
}.items():
    if hasattr(np, _name):
        RULES[getattr(np, _name)] = _rule
        SIGNATURES[getattr(np, _name)] = "x1, x2, /, *, axis=-1" if _name == "vecdot" else "x1, x2, /"

if hasattr(np, "row_stack"):  # deprecated in NumPy 2.0: np.vstack under another name
    RULES[np.row_stack] = {"tup": "runtime.stack_adjoint(g, tup, 'v')"}

if hasattr(np, "unstack"):  # NumPy 2.1
    RULES[np.unstack] = {"x": "runtime.unstack_adjoint(g, x, axis)"}

# numpy 2's array-API linear algebra
for _name, _rule in {
    "vector_norm": {"x": "runtime.vector_norm_adjoint(g, x, ans, ord, axis, keepdims)"},
    "matrix_norm": {"x": "runtime.norm_adjoint(g, x, ans, ord, (-2, -1), keepdims)"},
}.items():
    if hasattr(np.linalg, _name):
        RULES[getattr(np.linalg, _name)] = _rule

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
}
# Signatures of method forms that differ from the function: x.reshape(2, 3).
METHOD_SIGNATURES: dict[str, str] = {
    "reshape": "a, /, *shape, order='C'",
    "transpose": "a, /, *axes",
    "astype": "a, /, dtype, order='K', casting='unsafe', subok=True, copy=True",
}
# Attribute reads: x.T is np.transpose(x); x.shape and friends are passive.
ATTRS: dict[str, Any] = {"T": np.transpose}
PASSIVE_ATTRS = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes"}
# fmt: on


FIELDS: set = set()  # the keys of named-tuple fields: what they are read from is a tuple


def _field(owner: str, name: str):
    """The rule key of a field of a named tuple numpy.linalg returns: r.logabsdet."""
    def field(result):
        return getattr(result, name)

    FIELDS.add(field)

    field.__name__ = name
    field.__qualname__ = f"{owner}.{name}"
    field.__module__ = "numpy.linalg"
    RULES[field] = {"result": f"runtime.field_adjoint(g, result, {name!r})"}
    return field


# slogdet(a).logabsdet, eigh(a).eigenvectors, qr(a).R: the adjoint of a named tuple
ATTRS.update({name: _field(owner, name) for owner, names in (
    ("SlogdetResult", ("sign", "logabsdet")), ("EighResult", ("eigenvalues", "eigenvectors")),
    ("QRResult", ("Q", "R"))) for name in names})
# fmt: off


def scipy_rules() -> dict[Any, dict[str, str]]:
    """The rules of scipy.special, registered by `load_optional` when SciPy is imported."""
    try:
        import scipy.special as sp
    except ImportError:
        return {}
    return {
        sp.expit:          {"x": "g * ans * (1 - ans)"},
        sp.logit:          {"x": "g / (x * (1 - x))"},
        sp.log_expit:      {"x": "-g * np.expm1(ans)"},
        sp.erf:            {"x": "g * (2 / math.sqrt(math.pi)) * np.exp(-x * x)"},
        sp.erfc:           {"x": "-g * (2 / math.sqrt(math.pi)) * np.exp(-x * x)"},
        sp.erfinv:         {"x": "g * (math.sqrt(math.pi) / 2 * np.exp(ans * ans))"},
        sp.ndtr:           {"x": "g * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)"},
        sp.log_ndtr:       {"x": "g * np.exp(-0.5 * x * x - ans) / math.sqrt(2 * math.pi)"},
        sp.ndtri:          {"x": "g * (math.sqrt(2 * math.pi) * np.exp(0.5 * ans * ans))"},
        sp.gamma:          {"x": "g * (ans * runtime.polygamma(0, x))"},
        sp.gammaln:        {"x": "g * runtime.polygamma(0, x)"},
        sp.digamma:        {"x": "g * runtime.polygamma(1, x)"},
        sp.xlogy:          {"x1": "g * np.log(x2)", "x2": "g * x1 / x2"},
        sp.xlog1py:        {"x1": "g * np.log1p(x2)", "x2": "g * x1 / (1 + x2)"},
        sp.logsumexp:      {"a": "runtime.logsumexp_adjoint(g, a, ans, axis, b, keepdims, return_sign)",
                            "b": "runtime.logsumexp_adjoint(g, a, ans, axis, b, keepdims, return_sign, of_b=True)"},
        sp.softmax:        {"x": "runtime.softmax_adjoint(g, ans, axis)"},
        sp.log_softmax:    {"x": "runtime.log_softmax_adjoint(g, ans, axis)"},
    }
# fmt: on

# The class of np.r_ and np.c_, whose subscripts concatenate: normalize writes np.r_[a, b]
# as the call runtime.index_concat(np.r_, a, b), which has a rule.
AXIS_CONCATENATOR = type(np.r_).__mro__[1]

BROADCASTING_EXTRA = {np.where, np.clip}
MODULES = {"np": np, "math": math, "runtime": None, "operator": operator}


def broadcasts(fn: Any) -> bool:
    """Whether `fn` broadcasts its inputs elementwise (contributions need unbroadcasting)."""
    if isinstance(fn, np.ufunc):  # not a generalized ufunc (np.matmul): those have core dims
        return fn.nin >= 2 and fn.signature is None
    return fn in BROADCASTING_EXTRA or (
        getattr(fn, "__module__", None) in ("_operator", "operator")
        and fn not in (operator.neg, operator.pos, operator.matmul)
    )


# ---------------------------------------------------------------- templates


@dataclass(frozen=True)
class Slot:
    name: str


@dataclass
class Template:
    """A formula cut at the names it substitutes: text and `Slot`s."""

    formula: str
    parts: tuple
    slots: frozenset = field(default_factory=frozenset)

    def fill(self, env: dict[str, Parts]) -> Parts:
        out: list = []
        for p in self.parts:
            if isinstance(p, Slot):
                out.extend(env[p.name])
            else:
                out.append(p)
        return tuple(out)


@functools.cache
def template(formula: str, params: frozenset) -> Template:
    """Parse `formula` once; its free names must be parameters, g, ans or modules."""
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise AdjointError(f"derivative formula {formula!r} is not a Python expression: "
                           f"{exc}") from None
    known = params | {"g", "ans", "k"} | set(MODULES)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in known and not hasattr(builtins, node.id):
                raise AdjointError(
                    f"derivative formula {formula!r} uses {node.id!r}, which is not a parameter "
                    f"({', '.join(sorted(params))}), g, ans or a module (np, math, runtime)"
                )
            if node.id in known:
                found.append((node.col_offset, node.end_col_offset, node.id))
    parts: list = []
    pos = 0
    for start, end, name in sorted(found):
        parts.append(formula[pos:start])
        parts.append(Slot(name))
        pos = end
    parts.append(formula[pos:])
    return Template(formula, tuple(p for p in parts if p != ""), frozenset(n for *_, n in found))


# ---------------------------------------------------------------- lookup


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
    try:
        formulas = RULES.get(fn)
    except TypeError:  # unhashable
        return None
    if formulas is None and load_optional():
        formulas = RULES.get(fn)
    if formulas is None:
        return None
    return Rule(fn, signature_of(fn, method), formulas)


_optional_loaded = False


def load_optional(import_: bool = False) -> bool:
    """Add the rules of optional libraries (scipy.special) once that library is imported:
    importing SciPy costs more than adjoint itself, and code that calls scipy.special has
    imported it. `import_=True` imports it if it is installed (to list every rule).
    Returns whether it added any."""
    global _optional_loaded
    if import_ and not _optional_loaded:
        with contextlib.suppress(ImportError):
            import scipy.special  # noqa: F401
    if _optional_loaded or "scipy.special" not in sys.modules:
        return False
    _optional_loaded = True
    RULES.update(scipy_rules())
    return True


def is_passive(fn: Any) -> bool:
    try:
        return fn in PASSIVE
    except TypeError:
        return False


def name_of(fn: Any) -> str:
    """How a function is written in messages: np.sin, math.exp, operator.mul."""
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
    if module == "builtins":
        return name
    return f"{module}.{name}" if module else name


def _anonymous(fn: Any) -> bool:
    """A callable object with no name of its own: functools.partial, np.vectorize(...)."""
    return not hasattr(fn, "__qualname__") and not isinstance(fn, np.ufunc)


LIBRARIES = ("numpy", "math", "builtins", "operator", "_operator", "scipy")


def registration_hint(fn: Any, spelling: str | None = None) -> str:
    """The line that would add a rule for `fn`, called as `spelling` in the user's code:
    adjoint.register(np.median, a="g * ..."). Without a spelling, a library function is
    named as in messages (np.median, math.ulp) and the user's own by its bare name."""
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
             **formulas: str | Callable):
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
    if passive:
        if formulas:
            raise AdjointError(f"{name_of(fn)} is declared passive: it takes no formulas")
        REGISTERED.add(fn)
        PASSIVE.add(fn)
        return fn
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
    RULES[fn] = table
    return fn


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


# What users registered (the rest of RULES and PASSIVE is adjoint's own table).
REGISTERED: set = set()


def stop_gradient(x):
    """The value of `x`, through which no gradient flows."""
    return x


PASSIVE.add(stop_gradient)


def instantiate(tpl: Template, env: dict[str, Parts]) -> Parts:
    """A formula with its slots filled, constants folded (`x ** (2 - 1)` is `x`)."""
    filled = {}
    constant = False
    for name, parts in env.items():
        if name not in tpl.slots:
            continue
        if name not in MODULES and tuple(parts) != tuple(p for p in parts if isinstance(p, Ref)):
            constant = True  # a number, a tuple of arguments...: there may be something to fold
        if len(parts) == 1 and (isinstance(parts[0], Ref) or not str(parts[0]).startswith("-")):
            filled[name] = parts
        else:
            filled[name] = ("(", *parts, ")")
    out = tpl.fill(filled)
    return fold(out) if constant else out


def is_zero_product(parts: Parts) -> bool:
    """Whether the formula is a product with the factor 0 (`g * 0 * x ** -1`, the base's
    share in x ** 0): its value is zero everywhere, even where a factor is not finite."""
    text = _pattern(parts)
    if "0" not in text:
        return False
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False

    def zero(n) -> bool:
        if isinstance(n, ast.Constant) and type(n.value) in (int, float):
            return n.value == 0
        return isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and (
            zero(n.left) or zero(n.right))

    return zero(node)


def fold(parts: Parts) -> Parts:
    """Fold constant arithmetic, drop `* 1`, `** 1`, `+ 0` and runtime keyword arguments
    left at None or False."""
    return _refill(_fold_text(_pattern(parts)), parts)


def _pattern(parts: Parts) -> str:
    """The parts as text, each Ref replaced by a numbered placeholder."""
    out, k = [], 0
    for p in parts:
        if isinstance(p, Ref):
            out.append(f"__ref{k}__")
            k += 1
        else:
            out.append(p)
    return "".join(out)


def _refill(text: str | None, parts: Parts) -> Parts | None:
    if text is None:
        return None
    refs = [p for p in parts if isinstance(p, Ref)]
    out: list = []
    for piece in re.split(r"(__ref\d+__)", text):
        if piece.startswith("__ref") and piece.endswith("__"):
            out.append(refs[int(piece[5:-2])])
        elif piece:
            out.append(piece)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _fold_text(text: str) -> str:
    tree = ast.parse(text, mode="eval")
    return ast.unparse(ast.fix_missing_locations(_Folder().visit(tree)).body)


def negation(parts: Parts) -> Parts | None:
    """For `-a`, or `-a * b / c` (a leading minus in a chain of products), the parts of `a`
    or `a * b / c`, so that `x_bar + -a` can be written `x_bar - a`; None for anything else."""
    if not parts or not (isinstance(parts[0], str) and parts[0].startswith("-")):
        return None
    return _refill(_negated_text(_pattern(parts)), parts)


@functools.lru_cache(maxsize=4096)
def _negated_text(text: str) -> str | None:
    node = ast.parse(text, mode="eval").body
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        tight = (ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript)
        if isinstance(node.operand, tight) or (isinstance(node.operand, ast.BinOp) and isinstance(
                node.operand.op, (ast.Mult, ast.Div, ast.Pow, ast.MatMult))):
            return ast.unparse(node.operand)
        return None
    parent, chain = None, node
    while isinstance(chain, ast.BinOp) and isinstance(chain.op, (ast.Mult, ast.Div)):
        parent, chain = chain, chain.left
    if parent is None or not (isinstance(chain, ast.UnaryOp) and isinstance(chain.op, ast.USub)):
        return None
    parent.left = chain.operand
    return ast.unparse(node)


class _Folder(ast.NodeTransformer):
    OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}

    @staticmethod
    def number(node) -> bool:
        return isinstance(node, ast.Constant) and type(node.value) in (int, float)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        op = self.OPS.get(type(node.op))
        if op and self.number(node.left) and self.number(node.right):
            try:
                value = op(node.left.value, node.right.value)
            except (ZeroDivisionError, OverflowError):
                return node
            if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 and \
                    isinstance(node.left.value, int) and isinstance(node.right.value, int):
                value = int(value)
            return ast.Constant(value) if value >= 0 else ast.UnaryOp(ast.USub(),
                                                                       ast.Constant(-value))
        one = lambda n: self.number(n) and n.value == 1  # noqa: E731
        zero = lambda n: self.number(n) and n.value == 0  # noqa: E731
        if isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)) and one(node.right):
            return node.left
        if isinstance(node.op, ast.Mult) and one(node.left):
            return node.right
        if isinstance(node.op, (ast.Add, ast.Sub)) and zero(node.right):
            return node.left
        return node

    def visit_Subscript(self, node):
        """(a, b, c)[1:] is (b, c); (a, b, c)[0] is a."""
        self.generic_visit(node)
        if not isinstance(node.value, ast.Tuple):
            return node
        items, key = node.value.elts, node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, int) and \
                -len(items) <= key.value < len(items):
            return items[key.value]
        if isinstance(key, ast.Slice) and key.step is None and all(
                b is None or (isinstance(b, ast.Constant) and isinstance(b.value, int))
                for b in (key.lower, key.upper)):
            lo = key.lower.value if key.lower else None
            hi = key.upper.value if key.upper else None
            return ast.Tuple(items[lo:hi], ast.Load())
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.UnaryOp) and \
                isinstance(node.operand.op, ast.USub):
            return node.operand.operand
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
                func.value.id == "runtime":
            node.keywords = [k for k in node.keywords if not (
                isinstance(k.value, ast.Constant) and (k.value.value is None
                                                       or k.value.value is False))]
            if func.attr == "mul" and len(node.args) == 2 and self.polynomial(node.args[1]):
                return self.times(node.args[0], node.args[1])  # finite where its inputs are
        return node

    def times(self, g, factor):
        """g * factor, written as `g * 2 * x` rather than `g * (2 * x)`."""
        if isinstance(factor, ast.BinOp) and isinstance(factor.op, ast.Mult):
            return ast.BinOp(self.times(g, factor.left), ast.Mult(), factor.right)
        return ast.BinOp(g, ast.Mult(), factor)

    def polynomial(self, node) -> bool:
        """Whether `node` is sums and products of names and numbers, with whole powers."""
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                return self.polynomial(node.left) and self.number(node.right) and \
                    isinstance(node.right.value, int) and node.right.value >= 0
            return isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)) and \
                self.polynomial(node.left) and self.polynomial(node.right)
        if isinstance(node, ast.UnaryOp):
            return isinstance(node.op, (ast.USub, ast.UAdd)) and self.polynomial(node.operand)
        return isinstance(node, ast.Name) or self.number(node)

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.Is, ast.IsNot)) and all(
                isinstance(n, ast.Constant) for n in (node.left, *node.comparators)):
            same = node.left.value is node.comparators[0].value
            return ast.Constant(same if isinstance(node.ops[0], ast.Is) else not same)
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        return node
