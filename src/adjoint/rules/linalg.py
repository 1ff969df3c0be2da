"""The rules of products and linear algebra, and of the named tuples numpy.linalg returns."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

# fmt: off
LINALG: dict[Any, dict[str, str]] = {
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
    np.linalg.multi_dot: {"arrays": "runtime.multi_dot_adjoint(g, arrays)"},
    np.linalg.solve:   {"a": "runtime.solve_adjoint(g, a, b, ans, 0)", "b": "runtime.solve_adjoint(g, a, b, ans, 1)"},
    np.linalg.det:     {"a": "runtime.det_adjoint(g, a, ans)"},
    np.linalg.slogdet: {"a": "runtime.slogdet_adjoint(g, a, ans)"},
    np.linalg.cholesky: {"a": "runtime.cholesky_adjoint(g, ans, upper)"},
    np.linalg.eigh:    {"a": "runtime.eigh_adjoint(g, a, ans, UPLO)"},
    np.linalg.eigvalsh: {"a": "runtime.eigh_adjoint(g, a, ans, UPLO, values_only=True)"},
    np.linalg.pinv:    {"a": "runtime.pinv_adjoint(g, a, ans, hermitian)"},
    np.linalg.lstsq:   {"a": "runtime.lstsq_adjoint(g, a, b, ans, rcond, 0)", "b": "runtime.lstsq_adjoint(g, a, b, ans, rcond, 1)"},
    np.linalg.qr:      {"a": "runtime.qr_adjoint(g, a, ans, mode)"},
    np.linalg.svd:     {"a": "runtime.svd_adjoint(g, a, ans, full_matrices, compute_uv, hermitian)"},
    np.linalg.norm:    {"x": "runtime.norm_adjoint(g, x, ans, ord=ord, axis=axis, keepdims=keepdims)"},
}
# fmt: on

# NumPy 2's vector and matrix products (generalized ufuncs: core dimensions, no broadcasting
# rule of their own)
NUMPY2_PRODUCTS: dict[Any, dict[str, str]] = {}
NUMPY2_PRODUCT_SIGNATURES: dict[Any, str] = {}
for _name, _rule in {
    "vecdot": {"x1": "runtime.vecdot_adjoint(g, x1, x2, axis, 0)", "x2": "runtime.vecdot_adjoint(g, x1, x2, axis, 1)"},
    "matvec": {"x1": "runtime.matvec_adjoint(g, x1, x2, 0)", "x2": "runtime.matvec_adjoint(g, x1, x2, 1)"},
    "vecmat": {"x1": "runtime.matvec_adjoint(g, x2, x1, 1, True)", "x2": "runtime.matvec_adjoint(g, x2, x1, 0, True)"},
}.items():
    if hasattr(np, _name):
        NUMPY2_PRODUCTS[getattr(np, _name)] = _rule
        NUMPY2_PRODUCT_SIGNATURES[getattr(np, _name)] = "x1, x2, /, *, axis=-1" if _name == "vecdot" else "x1, x2, /"

# numpy 2's array-API linear algebra
ARRAY_API_NORMS: dict[Any, dict[str, str]] = {}
for _name, _rule in {
    "vector_norm": {"x": "runtime.vector_norm_adjoint(g, x, ans, ord, axis, keepdims)"},
    "matrix_norm": {"x": "runtime.norm_adjoint(g, x, ans, ord, (-2, -1), keepdims)"},
}.items():
    if hasattr(np.linalg, _name):
        ARRAY_API_NORMS[getattr(np.linalg, _name)] = _rule

FIELDS: set = set()  # the keys of named-tuple fields: what they are read from is a tuple
FIELD_RULES: dict[Any, dict[str, str]] = {}  # the rules of those keys


def _field(owner: str, name: str) -> Callable[[Any], Any]:
    """The rule key of a field of a named tuple numpy.linalg returns: r.logabsdet."""
    def field(result):
        return getattr(result, name)

    FIELDS.add(field)

    field.__name__ = name
    field.__qualname__ = f"{owner}.{name}"
    field.__module__ = "numpy.linalg"
    FIELD_RULES[field] = {"result": f"runtime.field_adjoint(g, result, {name!r})"}
    return field


# slogdet(a).logabsdet, eigh(a).eigenvectors, qr(a).R, svd(a).S: the adjoint of a named tuple
FIELD_ATTRS: dict[str, Any] = {name: _field(owner, name) for owner, names in (
    ("SlogdetResult", ("sign", "logabsdet")), ("EighResult", ("eigenvalues", "eigenvectors")),
    ("QRResult", ("Q", "R")), ("SVDResult", ("U", "S", "Vh"))) for name in names}


def scipy_linalg_rules() -> dict[Any, dict[str, str]]:
    """The rules of scipy.linalg, registered by `load_optional` when it is imported."""
    try:
        import scipy.linalg as sla
    except ImportError:
        return {}
    solve = "runtime.scipy_solve_adjoint(g, a, b, ans, lower, assume_a, transposed, {k})"
    triangular = "runtime.solve_triangular_adjoint(g, a, b, ans, trans, lower, unit_diagonal, {k})"
    return {
        sla.solve: {"a": solve.format(k=0), "b": solve.format(k=1)},
        sla.solve_triangular: {"a": triangular.format(k=0), "b": triangular.format(k=1)},
        sla.cholesky: {"a": "runtime.cholesky_adjoint(g, ans, not lower)"},
        sla.inv: {"a": "runtime.scipy_inv_adjoint(g, ans, assume_a, lower)" if "assume_a" in
                  inspect.signature(sla.inv).parameters else "runtime.inv_adjoint(g, ans)"},
        sla.det: {"a": "runtime.det_adjoint(g, a, ans)"},
    }
