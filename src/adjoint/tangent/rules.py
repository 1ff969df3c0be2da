"""The tangent of one primitive, from the same rule table the reverse sweep reads.

An elementwise function's Jacobian is diagonal, so its adjoint formula with `g` filled by
an input's tangent is that input's tangent term (`np.cos(x) * x_dot` from `g * np.cos(x)`),
and the terms of all inputs add. A function linear in its differentiable arguments
(`np.sum`, `reshape`, indexing, `np.concatenate`, `@` in each operand) has as tangent the
same call on the tangents, one term per varied argument. Any other function with a rule
has a tangent here only where its result is a number: then its adjoint formula with `g`
filled by 1.0 is its gradient, and the tangent is that gradient's inner product with the
tangents (`runtime.unit_seed` refuses a result that is no number as it runs). The rest
is refused, with its name."""

from __future__ import annotations

import importlib.util
import operator

import numpy as np

from .. import ir, rules
from ..analysis.values import elementwise
from ..ir import Parts, Ref
from ..rules.numeric import TRAPEZOIDS
from ..rules.templates import instantiate, template
from ..runtime import special as _special
from ..runtime.shaping import item

# linear in their differentiable arguments together: the tangent is the same call with each
# of them replaced by its tangent (a zero tangent where it does not vary)
LINEAR = {
    np.sum, np.mean, np.reshape, np.transpose, np.ravel, np.squeeze, np.expand_dims,
    np.concatenate, np.stack, np.vstack, np.hstack, np.dstack, np.column_stack, np.array,
    np.asarray, np.cumsum, np.diff, np.flip, np.fliplr, np.flipud, np.roll, np.tile,
    np.repeat, np.trace, np.diag, np.diagonal, np.tril, np.triu, np.swapaxes, np.moveaxis,
    np.broadcast_to, np.copy, np.atleast_1d, np.atleast_2d, np.atleast_3d, np.split,
    np.array_split, np.take, np.rot90, np.append, sum, list, tuple, float, np.real,
    np.float64, np.full, np.full_like,
    np.negative, operator.neg, operator.pos, np.conj, np.gradient, np.dsplit, np.imag,
    np.real_if_close, np.rollaxis, np.take_along_axis, item,
}
# linear in each differentiable argument (products): a call per varying argument with it
# replaced by its tangent, the others as they are
MULTILINEAR = {np.dot, np.vdot, np.inner, np.outer, np.kron, np.matmul, operator.matmul,
               np.tensordot, np.einsum, np.cross, np.convolve, *TRAPEZOIDS}


def _runtime_tables() -> tuple[dict, dict]:
    """The runtime helpers emitted gradients call, as forward mode sees them (the tangent of
    a gradient is a Hessian-vector product): linear in the named arguments together, or in
    each of them (a product); their other arguments give shapes, masks or positions only."""
    from .. import runtime as r
    from ..runtime import reductions, shapes

    joint = {r.sum_adjoint: ("g",), r.mean_adjoint: ("g",), r.unbroadcast: ("g",),
             r.densify: ("x_bar",), r.broadcast_back: ("c",), r.sum_back: ("c",),
             r.mean_back: ("c",), r.keep_zeros: ("out",), r.transpose_adjoint: ("g",),
             r.reshape_like: ("g",), r.cast_adjoint: ("g",), r.maximum_adjoint: ("g",),
             r.clip_adjoint: ("g",), r.where_adjoint: ("g",), r.extremum_adjoint: ("g",),
             r.owned: ("x_bar",), r.add_at: ("acc", "g"), r.add_seq: ("a", "b"),
             r.take_axis_adjoint: ("g",), r.roll_adjoint: ("g",), r.cumsum_adjoint: ("g",),
             r.tile_adjoint: ("g",), r.repeat_adjoint: ("g",), r.diff_adjoint: ("g",),
             r.stack_adjoint: ("g",), r.split_adjoint: ("g",), r.unstack_adjoint: ("g",),
             r.select_adjoint: ("g",), r.field_adjoint: ("g",), r.items_adjoint: ("g",),
             r.densify_item: ("g",), r.check_seed: ("seed",), r.parts: ("g",),
             reductions._expand: ("g",), r.snapshot: ("x",), r.kept: ("x",),
             r.restore: ("x", "values"), shapes._weights: ("w",)}
    # linear in g; the other arguments give a shape, a diagonal or an order (constant
    # where the function is differentiable)
    joint.update({f: ("g",) for f in (
        r.trace_adjoint, r.diagonal_adjoint, r.diag_adjoint, r.take_along_axis_adjoint,
        r.sort_adjoint, r.partition_adjoint, r.sorted_adjoint, r.rollaxis_adjoint,
        r.pad_adjoint, r.linspace_adjoint, r.item_adjoint, r.written)})
    multi = {r.matmul_lhs: ("g", "b"), r.matmul_rhs: ("g", "a"), r.dot_lhs: ("g", "b"),
             r.dot_rhs: ("g", "a"), r.mul: ("g", "d")}
    return joint, multi


# tangents written out where neither of the above holds: per parameter, a formula with `g`
# standing for that parameter's tangent (the same vocabulary as the adjoint formulas)
EXPLICIT = {
    np.linalg.inv: {"a": "-(ans @ g @ ans)"},
    np.linalg.solve: {"a": "-np.linalg.solve(a, g @ ans)", "b": "np.linalg.solve(a, g)"},
    np.linalg.det: {"a": "runtime.det_tangent(a, g, ans)"},
    np.linalg.multi_dot: {"arrays": "runtime.multi_dot_tangent(arrays, g)"},
    np.linalg.cholesky: {"a": "runtime.cholesky_tangent(ans, g, upper)"},
    np.interp: {name: f"runtime.interp_tangent(g, x, xp, fp, left, right, period, of={name!r})"
                for name in ("x", "xp", "fp", "left", "right")},
    np.cumprod: {"a": "runtime.cumprod_tangent(a, g, axis)"},
    np.sort: {"a": "np.take_along_axis(g, np.argsort(a, axis=axis), axis=axis)"},
    np.polyval: {"p": "np.polyval(g, x)", "x": "g * np.polyval(np.polyder(p), x)"},
    sorted: {"iterable": "runtime.sorted_tangent(iterable, g, key, reverse)"},
    dict.get: {"self": "runtime.dict_get_tangent(g, self, key)",
               "default": "runtime.dict_get_tangent(g, self, key, of='default')"},
    max: {"args": "runtime.extremum_tangent(args, g, ans)"},
    min: {"args": "runtime.extremum_tangent(args, g, ans)"},
}
# runtime helpers of the emitted gradients with their tangents written out, as EXPLICIT's
HELPERS: dict = {}
if importlib.util.find_spec("scipy") is not None:  # scipy is optional
    import scipy.linalg as _sla
    import scipy.special as _sp

    _SOLVE = "runtime.scipy_solve_tangent(g, a, b, ans, lower, assume_a, transposed, {of!r})"
    _TRI = "runtime.solve_triangular_tangent(g, a, b, ans, trans, lower, unit_diagonal, {of!r})"
    EXPLICIT.update({
        _sla.solve: {"a": _SOLVE.format(of="a"), "b": _SOLVE.format(of="b")},
        _sla.solve_triangular: {"a": _TRI.format(of="a"), "b": _TRI.format(of="b")},
        _sla.cholesky: {"a": "runtime.cholesky_tangent(ans, g, not lower)"},
        _sla.det: {"a": "runtime.det_tangent(a, g, ans)"},
    })
    # the derivatives of gammaln, digamma, betaln... are polygammas: one order up
    HELPERS[_special.polygamma] = {"x": "runtime.polygamma(n + 1, x) * g"}
    HELPERS[_special.digamma] = {"x": "runtime.polygamma(1, x) * g"}
    # softmax's Jacobian is symmetric: its tangent is its adjoint
    EXPLICIT[_sp.softmax] = {"x": "runtime.softmax_adjoint(g, ans, axis)"}
    EXPLICIT[_sp.log_softmax] = {"x": "g - np.sum(np.exp(ans) * g, axis=axis, keepdims=True)"}


# reductions along `axis`: each result depends on its own slice only, so its tangent is the
# slice's sum of the adjoint with ones for g times the tangent (runtime.reduced_tangent)
REDUCING = {np.max: "a", np.min: "a", np.amax: "a", np.amin: "a", np.nanmax: "a",
            np.nanmin: "a", np.ptp: "a", np.prod: "a", np.var: "a", np.std: "a",
            np.linalg.norm: "x"}


def _reducing(fn) -> str | None:
    """The parameter `fn` reduces along `axis`, if it is a reduction of REDUCING (or
    scipy's logsumexp without b's sign)."""
    if fn in REDUCING:
        return REDUCING[fn]
    return "a" if rules.name_of(fn) == "scipy.special.logsumexp" else None


def _reduced(s: ir.Assign, rule, params: dict, active: list, env: dict, dot) -> list | None:
    """The tangent term of a reduction of REDUCING along `axis`, where only the reduced
    array varies; None for any other call."""
    x = _reducing(rule.fn)
    if x is None or active != [x] or "axis" not in params or _truthy(params, "return_sign"):
        return None
    ones = ("np.ones_like(", Ref(s.target), ")")
    adjoint = instantiate(rule.template(x), {**env, "g": ones})
    return [("runtime.reduced_tangent(", *adjoint, " * ", *_parts(params[x], dot), ", ",
             *_parts(params["axis"]), ", ", *_parts(params.get("keepdims", False)), ")")]


def _truthy(params: dict, name: str) -> bool:
    """Whether the argument `name` may be true (given, and not the constant False)."""
    a = params.get(name, False)
    return not (a is False or isinstance(a, ir.Const) and a.value is False)


def in_tables(fn) -> bool:
    """Whether `fn` is a runtime helper with its tangent in the tables above (a helper of
    the runtime with none is differentiated through its source, as a user's function)."""
    joint, multi = _runtime_tables()
    return fn in joint or fn in multi or fn in HELPERS or fn is _einsum_adjoint()


def contributions(s: ir.Assign, varied: set[str], dot, modules: dict,
                  displayed: frozenset = frozenset()) -> tuple[list[Parts], bool] | str:
    """The tangent terms of `s` (one per varied input; they add) and whether a term reads
    `ans` (s's result); or, where there is no tangent, the reason. `modules`: how the
    formulas' modules are spelled in the emitted code; `displayed`: names bound to lists
    written out (`[a, b]`), which a NumPy function reads as arrays."""
    p = s.prim
    joint, multi = _runtime_tables()
    if p.kind == "call" and (p.key in joint or p.key in multi or p.key is _einsum_adjoint()):
        return _helper(s, joint, multi, varied, dot), False
    if p.kind == "call" and p.key in HELPERS:
        return _written_out(s, HELPERS[p.key], varied, dot, modules)
    rule = rules.lookup(p.key, p.spelling if p.kind == "method" else None) if \
        p.key is not None else None
    if rule is None:
        return f"no derivative rule for {rules.name_of(p.key) if p.key else p.spelling}"
    try:
        bound = rule.signature.bind(*s.args, **dict(s.kwargs))
    except TypeError as exc:
        return f"cannot match the arguments of {rules.name_of(rule.fn)}: {exc}"
    bound.apply_defaults()
    params = dict(bound.arguments)
    active = [n for n, a in params.items() if _names(a) & varied]
    refused = [n for n in active if n not in rule.formulas]
    if refused:
        return f"{rules.name_of(rule.fn)} has no derivative with respect to {refused[0]}"
    items = [x for n in rule.formulas if n in params
             for x in (params[n] if isinstance(params[n], tuple) else (params[n],))]
    if rule.fn in (np.reshape, np.ravel) and not _reads_in_index_order(params.get("order")):
        return _MEMORY_ORDER.format(rules.name_of(rule.fn))
    if rule.fn in LINEAR or p.kind == "method" and p.key in LINEAR:
        return [_swapped(s, {id(x): _dot_or_zero(x, varied, dot) for x in items})], False
    if rule.fn in MULTILINEAR or p.kind == "method" and p.key in MULTILINEAR:
        if any(_is_starred(x) and _names(x) & varied for x in items):  # a term per item
            return (f"forward mode does not take *-unpacked varying arguments of "
                    f"{rules.name_of(rule.fn)} (a product: its tangent has a term per item)")
        return [_swapped(s, {id(x): _dotted(x, dot)}) for x in items if _names(x) & varied], \
            False
    read = _reader(rule.fn, params, displayed)
    env = {**modules, **{name: read(name, _parts(a)) for name, a in params.items()}}
    env["ans"] = (Ref(s.target),)
    if rule.fn in EXPLICIT and all(n in EXPLICIT[rule.fn] for n in active):
        known = frozenset(rule.signature.parameters)
        return [instantiate(template(EXPLICIT[rule.fn][n], known),
                            {**env, "g": read(n, _tangent_parts(params[n], varied, dot))})
                for n in active], True
    reduced = _reduced(s, rule, params, active, env, dot)
    if reduced is not None:
        return reduced, True
    if elementwise(rule.fn):
        if any(_is_starred(x) for n in active for _, x in _items(params[n], varied)):
            return (f"forward mode does not take *-unpacked varying arguments of "
                    f"{rules.name_of(rule.fn)}")
        terms = [instantiate(rule.template(n), {**env, "g": read(n, _parts(item, dot)),
                                                "k": (str(k),)})
                 for n in active for k, item in _items(params[n], varied)]
        return terms, any("ans" in rule.template(n).slots for n in active)
    # 1.0, or refused as it runs: the result is no number
    unit = ("runtime.unit_seed(", Ref(s.target), f", {rules.name_of(rule.fn)!r})")
    return [("np.sum(", *instantiate(rule.template(n), {**env, "g": unit}), " * ",
             *read(n, _parts(params[n], dot)), ")") for n in active], True


def _written_out(s: ir.Assign, formulas: dict, varied: set, dot,
                 modules: dict) -> tuple[list[Parts], bool] | str:
    """The tangent terms of a call of a runtime helper with its formulas in HELPERS."""
    import inspect

    signature = inspect.signature(s.prim.key)
    bound = signature.bind(*s.args, **dict(s.kwargs))
    bound.apply_defaults()
    params = dict(bound.arguments)
    active = [n for n, a in params.items() if _names(a) & varied]
    if any(n not in formulas for n in active):
        return f"runtime.{s.prim.key.__name__} has no tangent along {active[0]}"
    env = {**modules, **{name: _parts(a) for name, a in params.items()},
           "ans": (Ref(s.target),)}
    known = frozenset(signature.parameters)
    return [instantiate(template(formulas[n], known),
                        {**env, "g": _tangent_parts(params[n], varied, dot)})
            for n in active], True


def _helper(s: ir.Assign, joint: dict, multi: dict, varied: set, dot) -> list[Parts]:
    """The tangent terms of a call of a runtime helper of the tables above."""
    import inspect

    bound = inspect.signature(s.prim.key).bind(*s.args, **dict(s.kwargs)).arguments
    if s.prim.key is _einsum_adjoint():  # linear in g and in each operand but the k-th
        g, spec, ops, k = (bound[n] for n in ("g", "spec", "operands", "k"))
        return [("runtime.einsum_adjoint_tangent(", *ir.join([
            ir.atom_parts(a) for a in (g, _dot_or_zero(g, varied, dot), spec, ops,
                                       _dot_or_zero(ops, varied, dot), k)]), ")")]
    if s.prim.key in joint:
        slots = [bound[n] for n in joint[s.prim.key] if n in bound]
        return [_swapped(s, {id(x): _dot_or_zero(x, varied, dot) for x in slots})]
    return [_swapped(s, {id(bound[n]): _dotted(bound[n], dot)}) for n in multi[s.prim.key]
            if n in bound and _names(bound[n]) & varied]


def _einsum_adjoint():
    from ..runtime import einsum_adjoint

    return einsum_adjoint


def _swapped(s: ir.Assign, swap: dict) -> Parts:
    """The call of s with the arguments in `swap` (by id) replaced."""
    args = [swap.get(id(a), a) for a in s.args]
    kwargs = [(k, swap.get(id(a), a)) for k, a in s.kwargs]
    return ir.prim_parts(ir.Assign(s.target, s.prim, tuple(args), tuple(kwargs), s.index))


def _dot_or_zero(a, varied: set, dot):
    """An argument's tangent: its `_dot` name, or a zero tangent where it does not vary."""
    if _names(a) & varied:
        return _dotted(a, dot)
    if isinstance(a, ir.Const) and isinstance(a.value, (int, float)):
        return ir.Const(0.0, "0.0")
    return ir.Expr("runtime.zero_tangent({0})", (a,))


def _dotted(a, dot):
    if isinstance(a, ir.Name):
        return ir.Name(dot(a.id))
    if isinstance(a, ir.Expr):
        return ir.Expr(a.template, tuple(_dotted(x, dot) for x in a.args))
    return a


def _items(a, varied: set) -> list[tuple[int, object]]:
    """(k, item) of each varying item of *args (a tuple), or [(0, a)] for one argument."""
    if not isinstance(a, tuple):
        return [(0, a)]
    return [(k, x) for k, x in enumerate(a) if _names(x) & varied]


def _is_starred(a) -> bool:
    return isinstance(a, ir.Expr) and a.template == "*{0}"


def _names(a) -> set[str]:
    if isinstance(a, tuple):
        return set().union(*(ir.names([x]) for x in a)) if a else set()
    return ir.names([a]) if isinstance(a, (ir.Name, ir.Expr)) else set()


def _tangent_parts(a, varied: set, dot) -> Parts:
    """The tangent of an argument; of *args, a tuple with zeros where items do not vary."""
    if isinstance(a, tuple):
        return ("(", *ir.join([ir.atom_parts(_dot_or_zero(x, varied, dot)) for x in a]),
                ",)" if len(a) == 1 else ")")
    return _parts(a, dot)


def _parts(a, dot=None) -> Parts:
    if isinstance(a, dict):  # **kwargs of a rule's function: nothing to fill
        return ("{}",)
    if not isinstance(a, (ir.Name, ir.Const, ir.Expr, tuple)):  # a default's value
        return (repr(None if a is np._NoValue else a),)
    if isinstance(a, tuple):
        return ("(", *ir.join([_parts(x, dot) for x in a]), ",)" if len(a) == 1 else ")")
    if dot is not None:
        a = _dotted(a, dot)
    return ir.atom_parts(a)


_MEMORY_ORDER = ("forward mode takes {} with order 'C' or 'F' (with 'A' or 'K' the order "
                 "follows the memory layout, which a tangent may not share)")


def _reader(fn, params: dict, displayed: frozenset):
    """parts -> parts of a parameter as the formulas read it: a list NumPy reads as an array,
    as that array."""
    arrays = {n for n, a in params.items() if isinstance(a, ir.Name) and a.id in displayed
              and rules.reads_array(fn, n)}
    return lambda n, parts: ("np.asarray(", *parts, ")") if n in arrays else parts


def _reads_in_index_order(order) -> bool:
    """Whether reshape's or ravel's `order` argument (an atom; None: left out) is 'C' or
    'F', an order of indices, not of memory."""
    value = order.value if isinstance(order, ir.Const) else order
    return value in (None, "C", "F")
