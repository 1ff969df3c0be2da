"""The adjoint of np.linalg.svd: of the singular values, and of the singular vectors where
the singular values are distinct."""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedArgument
from .containers import parts, zeros_like
from .linalg import _fold
from .products import _t
from .shapes import _is_zero


def svd_adjoint(g, a, ans, full_matrices=True, compute_uv=True, hermitian=False):
    """Adjoint of np.linalg.svd(a, full_matrices, compute_uv, hermitian) = (u, s, vh), or s
    alone with compute_uv=False: u diag(gs) vh for the singular values; the vectors' share
    (the standard formula) needs distinct, nonzero singular values. With full_matrices=True
    and a not square, the columns of u (rows of vh) past min(m, n) are not determined by a:
    a gradient through them is refused. hermitian=True reads one triangle of a (as eigh)."""
    if not compute_uv:
        gu, gs, gvh = 0.0, g, 0.0
        u, s, vh = np.linalg.svd(a, full_matrices=False, hermitian=hermitian)
    else:
        (gu, gs, gvh), (u, s, vh) = parts(g, ans), ans
        k = np.shape(s)[-1]
        u, gu = _leading(u, gu, k, -1, "columns of u")
        vh, gvh = _leading(vh, gvh, k, -2, "rows of vh")
    out = 0.0 if _is_zero(gs) else (u * gs[..., None, :]) @ vh
    if not (_is_zero(gu) and _is_zero(gvh)):
        out = out + _vectors_adjoint(gu, gvh, u, s, vh, np.shape(a)[-2:])
    if _is_zero(out):
        return zeros_like(a)
    return _fold(out) if hermitian else out


def _leading(m, gm, k, axis, what):
    """The first k columns (axis -1) or rows (axis -2) of u or vh and of its adjoint: with
    full_matrices=True the others span the rest of the space in no particular way."""
    if np.shape(m)[axis] == k:
        return m, gm
    if not _is_zero(gm) and np.any(np.take(gm, range(k, np.shape(m)[axis]), axis)):
        raise UnsupportedArgument(
            f"the gradient of np.linalg.svd with full_matrices=True through the {what} past "
            f"min(m, n) = {k} (a is not square): they are not determined by a; pass "
            "full_matrices=False, or use only the first min(m, n) of them")
    take = (slice(None),) * (np.ndim(m) + axis) + (slice(0, k),)
    return m[take], (gm if _is_zero(gm) else gm[take])


def _vectors_adjoint(gu, gvh, u, s, vh, shape):
    """The singular vectors' share of the adjoint of a = u diag(s) vh (reduced):
    u (F o (u'gu - gu'u) S + S (F o (v'gv - gv'v))) vh, F_ij = 1 / (s_j^2 - s_i^2), plus for
    a not square (1 - u u') gu S^-1 vh and u S^-1 gv' (1 - v v')."""
    m, n = shape
    v = _t(vh)
    gv = 0.0 if _is_zero(gvh) else _t(gvh)
    s2 = s * s
    gap = s2[..., None, :] - s2[..., :, None]  # zero on the diagonal
    zero = gap == 0
    if np.sum(zero) > np.size(s):
        raise UnsupportedArgument("the gradient through the singular vectors of "
                                  "np.linalg.svd at a repeated singular value is not defined")
    if m != n and np.any(s == 0):
        raise UnsupportedArgument("the gradient through the singular vectors of "
                                  "np.linalg.svd of a matrix that is not square, at a zero "
                                  "singular value, is not defined")
    f = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, gap))
    inner = 0.0
    out = 0.0
    if not _is_zero(gu):
        utgu = _t(u) @ gu
        inner = inner + f * (utgu - _t(utgu)) * s[..., None, :]
        if m > n:
            out = out + ((gu - u @ utgu) / s[..., None, :]) @ vh
    if not _is_zero(gv):
        vtgv = _t(v) @ gv
        inner = inner + s[..., :, None] * (f * (vtgv - _t(vtgv)))
        if n > m:
            out = out + u @ _t((gv - v @ vtgv) / s[..., None, :])
    return out + u @ inner @ vh
