"""The rules of shaping, stacking, splitting, indexing and selecting: reshape, take, where."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import runtime

# fmt: off
SHAPING: dict[Any, dict[str, str]] = {
    runtime.item:      {"a": "runtime.item_adjoint(g, a, args)"},  # a.item(...) (METHODS)
    # shape
    np.transpose:      {"a": "runtime.transpose_adjoint(g, axes=axes)"},
    np.reshape:        {"a": "runtime.reshape_like(g, a, order=order)"},
    np.ravel:          {"a": "runtime.reshape_like(g, a, order=order)"},
    np.squeeze:        {"a": "runtime.reshape_like(g, a)"},
    np.expand_dims:    {"a": "runtime.reshape_like(g, a)"},
    np.swapaxes:       {"a": "np.swapaxes(g, axis1, axis2)"},
    np.moveaxis:       {"a": "np.moveaxis(g, destination, source)"},
    np.rollaxis:       {"a": "runtime.rollaxis_adjoint(g, a, axis, start)"},
    np.rot90:          {"m": "np.rot90(g, -k, axes)"},
    np.broadcast_to:   {"array": "runtime.unbroadcast(g, array)"},
    np.full:           {"fill_value": "runtime.unbroadcast(g, fill_value)"},
    np.full_like:      {"fill_value": "runtime.unbroadcast(g, fill_value)", "a": "runtime.zeros_like(a)"},
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
    np.gradient:       {"f": "runtime.gradient_adjoint(g, f, varargs, axis, edge_order, ans)"},
    np.linspace:       {"start": "runtime.linspace_adjoint(g, start, stop, num, endpoint, retstep, dtype, axis, ans)",
                        "stop": "runtime.linspace_adjoint(g, start, stop, num, endpoint, retstep, dtype, axis, ans, of='stop')"},
    np.copy:           {"a": "g"},
    np.real:           {"val": "runtime.real_adjoint(g, val)"},
    np.imag:           {"val": "runtime.imag_adjoint(g, val)"},
    np.real_if_close:  {"a": "runtime.real_adjoint(g, a, 'np.real_if_close')"},
    np.asarray:        {"a": "runtime.cast_adjoint(g, a, dtype)"},
    np.array:          {"object": "runtime.cast_adjoint(g, object, dtype)"},
    np.concatenate:    {"arrays": "runtime.split_like(g, arrays, axis)"},
    np.stack:          {"arrays": "runtime.unstack(g, arrays, axis)"},
    np.hstack:         {"tup": "runtime.stack_adjoint(g, tup, 'h')"},
    np.vstack:         {"tup": "runtime.stack_adjoint(g, tup, 'v')"},
    np.dstack:         {"tup": "runtime.stack_adjoint(g, tup, 'd')"},
    np.column_stack:   {"tup": "runtime.stack_adjoint(g, tup, 'column')"},
    np.append:         {"arr": "runtime.append_adjoint(g, arr, values, axis)",
                        "values": "runtime.append_adjoint(g, arr, values, axis, of='values')"},
    runtime.index_concat: {"items": "runtime.index_concat_adjoint(g, maker, items, k)"},
    np.split:          {"ary": "runtime.split_adjoint(g, ary, indices_or_sections, axis)"},
    np.array_split:    {"ary": "runtime.split_adjoint(g, ary, indices_or_sections, axis, 'array_split')"},
    np.hsplit:         {"ary": "runtime.split_adjoint(g, ary, indices_or_sections, 1 if np.ndim(ary) > 1 else 0)"},
    np.vsplit:         {"ary": "runtime.split_adjoint(g, ary, indices_or_sections, 0)"},
    np.dsplit:         {"ary": "runtime.split_adjoint(g, ary, indices_or_sections, 2)"},
    np.take:           {"a": "runtime.take_axis_adjoint(g, a, indices, axis, mode)"},
    np.take_along_axis: {"arr": "runtime.take_along_axis_adjoint(g, arr, indices, axis)"},
    np.sort:           {"a": "runtime.sort_adjoint(g, a, axis)"},
    np.partition:      {"a": "runtime.partition_adjoint(g, a, ans, axis)"},
    np.select:         {"choicelist": "runtime.select_adjoint(g, condlist, choicelist)",
                        "default": "runtime.select_default_adjoint(g, condlist, default)"},
    np.where:          {"x": "runtime.where_adjoint(g, condition, True)",
                        "y": "runtime.where_adjoint(g, condition, False)"},
    np.clip:           {"a": "runtime.clip_adjoint(g, a, a_min, a_max, min, max)",
                        "a_min": "runtime.clip_adjoint(g, a, a_min, a_max, min, max, of='a_min')",
                        "a_max": "runtime.clip_adjoint(g, a, a_min, a_max, min, max, of='a_max')",
                        "min": "runtime.clip_adjoint(g, a, min, a_max, None, max, of='a_min')",
                        "max": "runtime.clip_adjoint(g, a, a_min, max, min, None, of='a_max')"},
}
# fmt: on

# functions of some NumPy versions only
NEWER_SHAPING: dict[Any, dict[str, str]] = {}
if hasattr(np, "row_stack"):  # deprecated in NumPy 2.0: np.vstack under another name
    NEWER_SHAPING[np.row_stack] = {"tup": "runtime.stack_adjoint(g, tup, 'v')"}

if hasattr(np, "unstack"):  # NumPy 2.1
    NEWER_SHAPING[np.unstack] = {"x": "runtime.unstack_adjoint(g, x, axis)"}

# The class of np.r_ and np.c_, whose subscripts concatenate: normalize writes np.r_[a, b]
# as the call runtime.index_concat(np.r_, a, b), which has a rule.
AXIS_CONCATENATOR = type(np.r_).__mro__[1]
