"""products: numba versions of the adjoints of matrix products (`a @ b`, `np.dot(a, b)`) of
vectors and matrices, picked by the operands' dimensions as numba types the call, and of
the transpose (`.T`) they are written with.

Stacks of matrices (more than two dimensions) have none: the NumPy backend sums their
broadcast axes, which these do not.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from .storage import is_array, is_number


def matmul_lhs(g, a, b):
    """Adjoint of `a` in a @ b."""


def matmul_rhs(g, a, b):
    """Adjoint of `b` in a @ b."""


def dot_lhs(g, a, b):
    """Adjoint of `a` in np.dot(a, b)."""


def dot_rhs(g, a, b):
    """Adjoint of `b` in np.dot(a, b)."""


def transpose_adjoint(g, axes=None):
    """Adjoint of a.T (np.transpose(a)): g transposed back."""


@overload(transpose_adjoint)
def _transpose_adjoint(g, axes=None):
    if not is_array(g) or not (axes is None or isinstance(axes, types.NoneType)):
        return None  # axes given: the NumPy backend's inverse permutation
    return lambda g, axes=None: g.T if g.ndim > 1 else g


def _flat(a, b) -> bool:
    """Vectors and matrices only."""
    return is_array(a) and is_array(b) and 1 <= a.ndim <= 2 and 1 <= b.ndim <= 2


@overload(matmul_lhs)
def _matmul_lhs(g, a, b):
    if not _flat(a, b):
        return None
    if b.ndim == 1:
        if a.ndim == 1:
            return lambda g, a, b: g * b  # a number: the inner product's
        return lambda g, a, b: np.outer(g, b)
    if a.ndim == 1:
        return lambda g, a, b: b @ g
    return lambda g, a, b: g @ b.T


@overload(matmul_rhs)
def _matmul_rhs(g, a, b):
    if not _flat(a, b):
        return None
    if a.ndim == 1:
        if b.ndim == 1:
            return lambda g, a, b: g * a
        return lambda g, a, b: np.outer(a, g)
    return lambda g, a, b: a.T @ g  # g a vector (b one) or a matrix


@overload(dot_lhs)
def _dot_lhs(g, a, b):
    if is_number(a) or is_number(b):  # a product with a number
        if is_number(a) and is_array(b):
            return lambda g, a, b: np.sum(g * b)
        return lambda g, a, b: g * b
    return _matmul_lhs(g, a, b)


@overload(dot_rhs)
def _dot_rhs(g, a, b):
    if is_number(a) or is_number(b):
        if is_number(b) and is_array(a):
            return lambda g, a, b: np.sum(g * a)
        return lambda g, a, b: g * a
    return _matmul_rhs(g, a, b)
