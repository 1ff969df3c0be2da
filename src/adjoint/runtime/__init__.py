"""Helpers that emitted gradient code calls for the hard cases.

Small and boring on purpose: each helper is a few lines of NumPy that dispatch
through NumPy's array protocols (no `np.asarray`, no allocation from a bare
shape), so emitted code runs on any array type that implements them.

A Python float `0.0` stands for a zero adjoint of any shape wherever one is
needed before a loop or branch: it is the additive identity under
broadcasting, and `unbroadcast` and `densify` give it its proper shape.

The helpers live in modules by topic (shapes, containers, checks, elementwise, reductions,
scalars, special, stats, products, linalg, svd, indexing, shaping, numeric, integrate,
inplace; trees holds tree_map); emitted code reaches each one as runtime.<its name>, from
here. `arrays` tells NumPy's arrays from CuPy's and Dask's, and `lazy` keeps Dask's adjoint
buffers lazy.
"""

from __future__ import annotations

import operator
import types

from ..errors import AdjointError
from . import (
    arrays,
    calls,
    checks,
    containers,
    elementwise,
    indexing,
    integrate,
    lazy,
    linalg,
    numeric,
    products,
    reductions,
    scalars,
    shapes,
    shaping,
    special,
    stats,
    svd,
    tangents,
    trees,
)
from .calls import call_bwd, call_fwd, call_jvp, plain, spread
from .checks import (
    NO_ENTRY,
    check_arrays,
    check_distinct,
    check_seed,
    entry,
    kept,
    put_entry,
    rebinds,
    rebinds_item,
    rebinds_number,
    refill,
    restore,
    snapshot,
    written,
)
from .containers import (
    add_adjoint,
    add_seq,
    densify,
    densify_item,
    empty_like,
    entries,
    field_adjoint,
    items_adjoint,
    owned,
    parts,
    per_item,
    record_arg_adjoint,
    sequence_adjoint,
    unbroadcast_from,
    zeros_like,
)
from .elementwise import (
    clip_adjoint,
    div,
    fmax_adjoint,
    keep_zeros,
    maximum_adjoint,
    mod_adjoint_rhs,
    mul,
    power_exponent_adjoint,
    safe_ratio,
    sinc_derivative,
    where_adjoint,
)
from .indexing import (
    add_at,
    index_concat,
    index_concat_adjoint,
    select_adjoint,
    select_default_adjoint,
    sort_adjoint,
    take_along_axis_adjoint,
    take_axis_adjoint,
)
from .inplace import add, divide, multiply, subtract, unary
from .integrate import ode_result_field_adjoint, odeint_adjoint, solve_ivp_adjoint
from .linalg import (
    cholesky_adjoint,
    det_adjoint,
    diag_adjoint,
    diagonal_adjoint,
    eigh_adjoint,
    inv_adjoint,
    lstsq_adjoint,
    multi_dot_adjoint,
    norm_adjoint,
    pinv_adjoint,
    qr_adjoint,
    scipy_inv_adjoint,
    scipy_solve_adjoint,
    scipy_solve_tangent,
    slogdet_adjoint,
    solve_adjoint,
    solve_triangular_adjoint,
    solve_triangular_tangent,
    trace_adjoint,
    vector_norm_adjoint,
)
from .numeric import (
    append_adjoint,
    convolve_adjoint,
    dict_default_adjoint,
    dict_get_adjoint,
    dict_get_tangent,
    gradient_adjoint,
    imag_adjoint,
    interp_adjoint,
    interp_tangent,
    linspace_adjoint,
    matrix_power_adjoint,
    median_adjoint,
    partition_adjoint,
    polyval_adjoint,
    real_adjoint,
    rollaxis_adjoint,
    sorted_adjoint,
    sorted_tangent,
    trapezoid_adjoint,
)
from .products import (
    cross3,
    cross_adjoint,
    dot_lhs,
    dot_rhs,
    einsum_adjoint,
    einsum_adjoint_tangent,
    einsum_operand_adjoint,
    inner_adjoint,
    kron_adjoint,
    matmul_lhs,
    matmul_rhs,
    matvec_adjoint,
    tensordot_adjoint,
    vecdot_adjoint,
)
from .reductions import (
    average_adjoint,
    cov_adjoint,
    cumprod_adjoint,
    cumsum_adjoint,
    extremum_adjoint,
    mean_adjoint,
    mean_back,
    nanmean_adjoint,
    nansum_adjoint,
    prod_adjoint,
    ptp_adjoint,
    std_adjoint,
    sum_adjoint,
    sum_back,
    var_adjoint,
)
from .scalars import builtin_extremum_adjoint, dist_adjoint, prod_sequence_adjoint, sumprod_adjoint
from .shapes import broadcast_back, unbroadcast
from .shaping import (
    STACKS,
    atleast_adjoint,
    cast_adjoint,
    diff_adjoint,
    item,
    item_adjoint,
    layout_order,
    pad_adjoint,
    repeat_adjoint,
    reshape_like,
    roll_adjoint,
    split_adjoint,
    split_like,
    stack_adjoint,
    tile_adjoint,
    transpose_adjoint,
    unstack,
    unstack_adjoint,
)
from .special import (
    bessel_derivative,
    betainc_derivative,
    digamma,
    gammainc_derivative,
    log_softmax_adjoint,
    logsumexp_adjoint,
    multigammaln_derivative,
    polygamma,
    rgamma_derivative,
    softmax_adjoint,
)
from .stats import (
    dirichlet_alpha_adjoint,
    dirichlet_x_adjoint,
    mvn_logpdf_adjoint,
    normal_density,
    normal_logdensity,
    stats_density,
    stats_logdensity,
    t_df_derivative,
)
from .svd import svd_adjoint
from .tangents import (
    broadcast_like,
    cholesky_tangent,
    cumprod_tangent,
    det_tangent,
    extremum_tangent,
    multi_dot_tangent,
    reduced_tangent,
    tangent_copy,
    unit_seed,
    zero_tangent,
)

_MODULES = (arrays, calls, checks, containers, elementwise, indexing, integrate, lazy, linalg,
            numeric, products, reductions, scalars, shapes, shaping, special, stats, svd,
            tangents, trees)

# ---------------------------------------------------------------- users' rules

_helpers: dict[str, object] = {}  # runtime.<name> -> a function registered as a rule


def add_helper(fn, name: str) -> str:
    """Make `fn`, a derivative rule given as a function, reachable from emitted code as
    runtime.<its name> (or `name` for a lambda); returns the name it got."""
    own = getattr(fn, "__name__", "")
    base = own if own.isidentifier() else name
    candidate, n = base, 1
    while True:
        other = _helpers.get(candidate)
        if not _taken(candidate) and (other is None or other is fn or _same_function(
                other, fn)):
            _helpers[candidate] = fn
            return candidate
        n += 1
        candidate = f"{base}_{n}"


def _same_function(a, b) -> bool:
    """The same function defined again (its module reloaded): it replaces the old one."""
    key = lambda f: (getattr(f, "__module__", None), getattr(f, "__qualname__", None))  # noqa
    return key(a) == key(b) and getattr(a, "__name__", "") != "<lambda>"


def __getattr__(name: str):
    try:
        return _helpers[name]
    except KeyError:
        raise AttributeError(
            f"adjoint.runtime has no {name!r}. If it is a derivative rule registered as a "
            f"function (adjoint.register(f, x={name})), import the module that registers it "
            "before running this code") from None


def _taken(name: str) -> bool:
    """Whether runtime.<name> already means something: a name of this package or of one of
    its modules (the names of runtime.py, when the runtime was one module)."""
    return name in globals() or any(name in vars(module) for module in _MODULES)


__all__ = [
    "AdjointError", "NO_ENTRY", "STACKS", "add_adjoint", "add_at", "add_helper", "add_seq",
    "atleast_adjoint",
    "average_adjoint", "broadcast_back", "builtin_extremum_adjoint", "call_bwd", "call_fwd",
    "call_jvp", "cast_adjoint",
    "check_arrays", "check_distinct", "check_seed", "cholesky_adjoint", "clip_adjoint",
    "cov_adjoint", "cross3", "cross_adjoint", "cumprod_adjoint", "cumsum_adjoint", "densify",
    "densify_item", "det_adjoint", "diag_adjoint",
    "diagonal_adjoint", "diff_adjoint", "digamma", "dirichlet_alpha_adjoint",
    "dirichlet_x_adjoint", "dist_adjoint", "div", "dot_lhs", "dot_rhs", "eigh_adjoint",
    "einsum_adjoint", "einsum_adjoint_tangent",
    "einsum_operand_adjoint", "entry", "extremum_adjoint", "field_adjoint",
    "fmax_adjoint", "index_concat", "index_concat_adjoint", "inner_adjoint", "inv_adjoint",
    "multi_dot_adjoint",
    "items_adjoint", "keep_zeros", "kept", "kron_adjoint", "layout_order", "log_softmax_adjoint",
    "logsumexp_adjoint",
    "lstsq_adjoint", "matmul_lhs", "matmul_rhs", "matvec_adjoint", "maximum_adjoint",
    "mean_adjoint", "mean_back", "mod_adjoint_rhs", "mul", "mvn_logpdf_adjoint", "nanmean_adjoint",
    "nansum_adjoint", "norm_adjoint", "normal_density", "normal_logdensity",
    "ode_result_field_adjoint", "odeint_adjoint", "operator", "owned",
    "pad_adjoint", "parts", "per_item", "pinv_adjoint", "plain", "polygamma",
    "power_exponent_adjoint",
    "prod_adjoint", "prod_sequence_adjoint", "ptp_adjoint", "put_entry", "qr_adjoint", "rebinds",
    "rebinds_item", "rebinds_number", "written",
    "record_arg_adjoint", "refill", "repeat_adjoint", "reshape_like", "restore", "roll_adjoint",
    "safe_ratio", "scipy_inv_adjoint", "scipy_solve_adjoint", "scipy_solve_tangent",
    "solve_triangular_adjoint", "solve_triangular_tangent",
    "select_adjoint", "select_default_adjoint", "sequence_adjoint", "sinc_derivative",
    "slogdet_adjoint", "snapshot", "softmax_adjoint", "spread", "solve_adjoint",
    "solve_ivp_adjoint", "sort_adjoint",
    "split_adjoint", "split_like", "stack_adjoint", "stats_density", "stats_logdensity",
    "std_adjoint", "sum_adjoint", "sum_back", "sumprod_adjoint", "t_df_derivative",
    "take_along_axis_adjoint", "take_axis_adjoint", "tensordot_adjoint", "tile_adjoint",
    "trace_adjoint", "transpose_adjoint", "unbroadcast", "unbroadcast_from", "entries",
    "empty_like", "unstack", "unstack_adjoint",
    "var_adjoint", "broadcast_like", "cholesky_tangent", "extremum_tangent", "tangent_copy",
    "unit_seed",
    "zero_tangent", "reduced_tangent", "cumprod_tangent", "det_tangent", "multi_dot_tangent",
    "vecdot_adjoint", "vector_norm_adjoint", "where_adjoint", "zeros_like",
]

__all__ += ["add", "divide", "multiply", "subtract", "unary"]  # into a spent temporary

__all__ += [  # np.gradient, np.linspace, np.linalg.svd, sorted, dict.get, scipy.special
    "append_adjoint", "bessel_derivative", "betainc_derivative", "dict_default_adjoint",
    "dict_get_adjoint", "dict_get_tangent", "gammainc_derivative", "gradient_adjoint",
    "imag_adjoint", "interp_adjoint", "interp_tangent", "item", "item_adjoint",
    "linspace_adjoint", "multigammaln_derivative", "partition_adjoint", "real_adjoint",
    "rgamma_derivative", "rollaxis_adjoint", "sorted_adjoint", "sorted_tangent", "svd_adjoint",
    "trapezoid_adjoint", "polyval_adjoint", "convolve_adjoint", "median_adjoint",
    "matrix_power_adjoint",
]

for _name in __all__:  # adjoint.runtime.densify, not adjoint.runtime.containers.densify: in
    _fn = globals()[_name]  # messages, the rule table and the imports of generated files
    if isinstance(_fn, types.FunctionType):
        _fn.__module__ = __name__
del _name, _fn
