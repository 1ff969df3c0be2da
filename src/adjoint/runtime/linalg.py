"""Adjoints of diagonals, traces and np.linalg: solves, determinants, decompositions, norms."""

from __future__ import annotations

import functools

import numpy as np

from ..errors import UnsupportedArgument
from .containers import parts, per_item, zeros_like
from .elementwise import safe_ratio
from .products import _t
from .reductions import _axes, _expand, _prod_others, extremum_adjoint
from .shapes import _is_zero, _ndim, _weights, unbroadcast


def trace_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of np.trace(a, offset, axis1, axis2): g on the diagonal, zeros elsewhere."""
    length = np.shape(np.diagonal(a, offset, axis1, axis2))[-1]
    g = np.broadcast_to(np.expand_dims(g, -1), np.shape(g) + (length,))
    return diagonal_adjoint(g, a, offset, axis1, axis2)


def diagonal_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of np.diagonal(a, offset, axis1, axis2): g placed back on the diagonal."""
    out = zeros_like(a)
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    i = np.arange(np.shape(g)[-1])
    view[..., i + max(-offset, 0), i + max(offset, 0)] = g
    return out


def diag_adjoint(g, v, k=0):
    """Adjoint of np.diag(v, k): the k-th diagonal of g for a vector v, g placed on the
    diagonal for a matrix v."""
    if _ndim(v) == 1:
        return np.diagonal(g, k) * 1.0
    return diagonal_adjoint(g, v, k, 0, 1)


def _fold(g, lower: bool = True):
    """The gradient with respect to a full matrix of a function that reads only one triangle
    of it as a symmetric matrix (np.linalg.eigh, cholesky): from a gradient `g` for the
    symmetric matrix, the off-diagonal entries of the triangle read get g_ij + g_ji."""
    both = g + _t(g)
    return (np.tril(both, -1) if lower else np.triu(both, 1)) + _diagonal_part(g)


def _diagonal_part(m):
    """m with its off-diagonal entries zeroed (no identity matrix allocated)."""
    return np.triu(np.tril(m))


def multi_dot_adjoint(g, arrays):
    """Adjoint of each array in np.linalg.multi_dot(arrays): the product of those before it,
    transposed, times g times the product of those after it, transposed (a first 1-D array
    is a row, a last one a column, as multi_dot reads them)."""
    mats = [np.asarray(a) for a in arrays]
    first, last = mats[0].ndim == 1, mats[-1].ndim == 1
    if first:
        mats[0] = mats[0][None, :]
    if last:
        mats[-1] = mats[-1][:, None]
    g = np.asarray(g)
    g2 = g.reshape(mats[0].shape[0], mats[-1].shape[1])
    before = [np.eye(mats[0].shape[0])]
    for m in mats[:-1]:
        before.append(before[-1] @ m)
    after = [np.eye(mats[-1].shape[1])]
    for m in reversed(mats[1:]):
        after.append(m @ after[-1])
    after.reverse()
    out = [before[k].T @ g2 @ after[k].T for k in range(len(mats))]
    out = [np.reshape(o, np.shape(a)) for o, a in zip(out, arrays, strict=True)]
    return per_item(out, arrays)


def inv_adjoint(g, ans):
    """Adjoint of np.linalg.inv: -inv(a).T @ g @ inv(a).T."""
    return -_t(ans) @ g @ _t(ans)


def solve_adjoint(g, a, b, ans, k: int):
    """Adjoint of a (k=0) or b (k=1) in x = np.linalg.solve(a, b); b is a vector when it
    has one dimension, else a (stack of) matrix."""
    vector = _ndim(b) == 1
    gm = g[..., None] if vector else g
    xm = ans[..., None] if vector else ans
    b_bar = np.linalg.solve(_t(a), gm)
    if k == 1:
        return unbroadcast(b_bar[..., 0] if vector else b_bar, b)
    return unbroadcast(-b_bar @ _t(xm), a)


def det_adjoint(g, a, ans):
    """Adjoint of np.linalg.det: g det(a) inv(a).T, or g adj(a).T from the SVD where a is
    singular (the adjugate is the derivative of det everywhere)."""
    g = np.asanyarray(g)[..., None, None]
    if np.all(ans != 0):
        return g * np.asanyarray(ans)[..., None, None] * _t(np.linalg.inv(a))
    u, s, vt = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    adjugate = sign[..., None, None] * (_t(vt) * _prod_others(s, -1)[..., None, :]) @ _t(u)
    return g * _t(adjugate)


def slogdet_adjoint(g, a, ans):
    """Adjoint of np.linalg.slogdet(a) = (sign, log|det a|): the sign carries none."""
    g = parts(g, ans)[1]
    if _is_zero(g):
        return zeros_like(a)
    return np.asanyarray(g)[..., None, None] * _t(np.linalg.inv(a))


def cholesky_adjoint(g, ans, upper=False):
    """Adjoint of np.linalg.cholesky(a, upper=upper), which reads one triangle of a."""
    L, g = (_t(ans), _t(g)) if upper else (ans, g)
    phi = np.tril(_t(L) @ g)
    phi = phi - 0.5 * _diagonal_part(phi)
    inner = np.linalg.solve(_t(L), phi)  # L^-T phi
    sym = _t(np.linalg.solve(_t(L), _t(inner)))  # L^-T phi L^-1
    return _fold(0.5 * (sym + _t(sym)), lower=not upper)


def eigh_adjoint(g, a, ans, UPLO="L", values_only: bool = False):
    """Adjoint of np.linalg.eigh(a, UPLO) = (w, v) (or of eigvalsh, values_only), which
    reads one triangle of a. Eigenvectors have no derivative at repeated eigenvalues."""
    if values_only:
        gw, gv = g, 0.0
        w, v = np.linalg.eigh(a, UPLO)
    else:
        (gw, gv), (w, v) = parts(g, ans), ans
    out = 0.0 if _is_zero(gw) else (v * gw[..., None, :]) @ _t(v)  # v diag(gw) v'
    if not _is_zero(gv):
        gap = w[..., None, :] - w[..., :, None]  # w_j - w_i: zero on the diagonal
        if np.sum(gap == 0) > np.size(w):
            raise UnsupportedArgument("the gradient through the eigenvectors of "
                                      "np.linalg.eigh at a repeated eigenvalue is not defined")
        zero = gap == 0
        inner = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, gap)) * (_t(v) @ gv)
        out = out + v @ inner @ _t(v)
    if _is_zero(out):
        return zeros_like(a)
    return _fold(out, lower=UPLO.upper() == "L")


def pinv_adjoint(g, a, ans, hermitian=False):
    """Adjoint of p = np.linalg.pinv(a), where the rank of a does not change:
    -p' g p' + (1 - a p)' g' p p' + p' p g' (1 - p a), with ' the transpose."""
    p = ans
    pt = _t(p)
    left = _t(g) @ p @ pt  # (1 - a p) left, without forming the identity
    right = pt @ p @ _t(g)  # right (1 - p a)
    out = -pt @ g @ pt + (left - a @ (p @ left)) + (right - (right @ p) @ a)
    return _fold(out) if hermitian else out


def lstsq_adjoint(g, a, b, ans, rcond=None, k: int = 0):
    """Adjoint of a (k=0) or b (k=1) in np.linalg.lstsq(a, b, rcond) = (x, residuals, rank,
    singular values): x is pinv(a) @ b, differentiable where the rank of a stays the same."""
    gx, gres, _, gs = parts(g, ans)
    x, res, _, _ = ans
    vector = _ndim(b) == 1
    bm = b[:, None] if vector else b
    xm = x[:, None] if vector else x
    out = zeros_like(b if k else a)
    if not _is_zero(gx):
        gxm = gx[:, None] if vector else gx
        p = np.linalg.pinv(a) if rcond is None else np.linalg.pinv(a, rcond=rcond)
        if k:
            out = out + np.reshape(_t(p) @ gxm, np.shape(b))
        else:
            out = out + pinv_adjoint(gxm @ _t(bm), a, p)
    if not _is_zero(gres) and np.size(res):
        r = bm - a @ xm  # residuals are |b - a x|^2 per column, at the optimal x
        gr = np.reshape(gres, (1, -1)) * 2 * r
        out = out + (np.reshape(gr, np.shape(b)) if k else -gr @ _t(xm))
    if not _is_zero(gs) and not k:
        u, _, vt = np.linalg.svd(a, full_matrices=False)
        out = out + (u * gs) @ vt
    return out


def qr_adjoint(g, a, ans, mode="reduced"):
    """Adjoint of np.linalg.qr(a, mode): (q, r) for 'reduced' (and 'complete' when a has
    no more rows than columns), r alone for 'r'."""
    m, n = np.shape(a)[-2:]
    if mode not in ("reduced", "r") and not (mode == "complete" and m <= n):
        raise UnsupportedArgument(f"the gradient of np.linalg.qr with mode={mode!r}")
    if mode == "r":
        q, r = np.linalg.qr(a)
        gq, gr = 0.0, g
    else:
        (gq, gr), (q, r) = parts(g, ans), ans
    gq = zeros_like(q) if _is_zero(gq) else gq
    gr = zeros_like(r) if _is_zero(gr) else gr
    if m >= n:
        return _qr_square_adjoint(gq, gr, q, r)
    y = a[..., :, m:]  # a = [x | y], r = [u | v], x = q u
    u, gu, gv = r[..., :, :m], gr[..., :, :m], gr[..., :, m:]
    gx = _qr_square_adjoint(gq + y @ _t(gv), gu, q, u)
    return np.concatenate([gx, q @ gv], -1)


def _qr_square_adjoint(gq, gr, q, r):
    """Adjoint of a = q r with r square upper triangular: (gq + q copyltu(M)) r^-T,
    M = r gr' - gq' q."""
    mid = r @ _t(gr) - _t(gq) @ q
    sym = np.tril(mid, -1)
    sym = sym + _t(sym) + _diagonal_part(mid)
    return _t(np.linalg.solve(r, _t(gq + q @ sym)))


def norm_adjoint(g, x, ans, ord=None, axis=None, keepdims=False):
    """Adjoint of np.linalg.norm(x, ord, axis, keepdims): vector norms (ord None, 2, 1, inf,
    -inf, 0, any p) and matrix norms ('fro', 'nuc', 2, -2, 1, -1, inf, -inf). At a kink the
    gradient is the midpoint of the subgradients: 0 at the origin, ties share equally."""
    nd = _ndim(x)
    if axis is None and (ord is None or nd == 1):
        axes = tuple(range(nd))  # the 2-norm of x.ravel()
    elif axis is None:
        axes = (0, 1) if nd == 2 else None
    else:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if axes is None:
        raise UnsupportedArgument(f"the gradient of np.linalg.norm of a {nd}-d array with "
                                  f"ord={ord!r} and no axis")
    g, _ = _expand(g, x, axes, keepdims)
    n, _ = _expand(ans, x, axes, keepdims)
    if len(axes) == 2 and ord not in (None, "fro"):
        return _matrix_norm_adjoint(g, x, n, ord, axes)
    if ord in (None, 2, "fro"):
        return safe_ratio(g * x, n)
    if len(axes) != 1:
        raise UnsupportedArgument(f"the gradient of np.linalg.norm with ord={ord!r} over "
                                  f"axes {axes}")
    return g * _vector_norm_derivative(x, n, ord, axes[0])


def vector_norm_adjoint(g, x, ans, ord=2, axis=None, keepdims=False):
    """Adjoint of np.linalg.vector_norm(x, axis=axis, keepdims=..., ord=ord): a vector norm
    over `axis` (all axes, or a tuple of them, taken as one flattened vector)."""
    nd = _ndim(x)
    axes = _axes(axis, nd)
    g, _ = _expand(g, x, axes, keepdims)
    n, _ = _expand(ans, x, axes, keepdims)
    if ord in (None, 2):
        return safe_ratio(g * x, n)
    last = tuple(range(nd - len(axes), nd))
    moved = np.moveaxis(x, axes, last)
    flat = np.reshape(moved, moved.shape[:nd - len(axes)] + (-1,))
    n = np.reshape(np.moveaxis(n, axes, last) if _ndim(n) else n, flat.shape[:-1] + (1,))
    d = np.reshape(_vector_norm_derivative(flat, n, ord, -1), moved.shape)
    return g * np.moveaxis(d, last, axes)


def _vector_norm_derivative(x, n, ord, axis):
    if ord == 0:
        return zeros_like(x)
    if ord == 1:
        return np.sign(x)
    if ord in (np.inf, -np.inf):
        size = np.abs(x)
        return np.sign(x) * extremum_adjoint(1.0, size, n, axis=axis, keepdims=True)
    if not isinstance(ord, (int, float)):
        raise UnsupportedArgument(f"the gradient of np.linalg.norm with ord={ord!r} for a "
                                  "vector")
    size = np.abs(x)
    return np.sign(x) * safe_ratio(size ** (ord - 1), n ** (ord - 1))


def _matrix_norm_adjoint(g, x, n, ord, axes):
    moved = np.moveaxis(x, axes, (-2, -1))
    gm = np.moveaxis(g, axes, (-2, -1)) if _ndim(g) else g
    if ord in (1, -1, np.inf, -np.inf):  # the largest (smallest) column or row sum of |x|
        over = -2 if ord in (1, -1) else -1
        sums = np.sum(np.abs(moved), axis=over, keepdims=True)
        pick = np.max(sums, -1 if over == -2 else -2, keepdims=True) if ord in (1, np.inf) \
            else np.min(sums, -1 if over == -2 else -2, keepdims=True)
        hit = sums == pick
        share = _weights(hit / np.sum(hit, axis=(-2, -1), keepdims=True), x)
        return np.moveaxis(gm * np.sign(moved) * share, (-2, -1), axes)
    if ord not in ("nuc", 2, -2):
        raise UnsupportedArgument(f"the gradient of np.linalg.norm with ord={ord!r} for a "
                                  "matrix")
    u, s, vt = np.linalg.svd(moved, full_matrices=False)
    if ord == "nuc":  # the sum of singular values: u v' over the nonzero ones
        tol = np.max(s, -1, keepdims=True) * max(np.shape(moved)[-2:]) * np.finfo(float).eps
        weight = s > tol
    else:  # the largest (smallest) singular value: its vectors, shared among ties
        hit = s == (s[..., :1] if ord == 2 else s[..., -1:])
        weight = hit / np.sum(hit, -1, keepdims=True)
    weight = _weights(weight, s)
    return np.moveaxis(gm * ((u * weight[..., None, :]) @ vt), (-2, -1), axes)


_TRIANGLES = {"upper triangular": np.triu, "lower triangular": np.tril}
_SYMMETRIC = ("sym", "her", "pos", "symmetric", "hermitian", "positive definite")


def scipy_solve_adjoint(g, a, b, ans, lower=False, assume_a="gen", transposed=False,
                        k: int = 0):
    """Adjoint of a (k=0) or b (k=1) in x = scipy.linalg.solve(a, b, lower, assume_a,
    transposed): as np.linalg.solve's of the matrix solved with, folded onto the triangle
    read where a is taken to be symmetric (or triangular)."""
    read = _read_as(assume_a, lower)
    op = _t(read(a)) if transposed else read(a)  # the matrix solved with
    if k == 1:
        return solve_adjoint(g, op, b, ans, 1)
    op_bar = solve_adjoint(g, op, b, ans, 0)
    a_bar = _t(op_bar) if transposed else op_bar
    return _fold(a_bar, lower) if (assume_a or "gen") in _SYMMETRIC else read(a_bar)


def scipy_solve_tangent(g, a, b, ans, lower=False, assume_a="gen", transposed=False, of="a"):
    """Tangent of x = scipy.linalg.solve(a, b, ...) along the tangent g of a or b."""
    read = _read_as(assume_a, lower)
    op = _t(read(a)) if transposed else read(a)
    if of == "b":
        return np.linalg.solve(op, g)
    op_dot = _t(read(g)) if transposed else read(g)
    return -np.linalg.solve(op, op_dot @ ans)


def _read_as(assume_a, lower: bool):
    """The matrix scipy.linalg.solve solves with, as a function of a (linear in a)."""
    kind = assume_a or "gen"
    if kind in ("gen", "general"):
        return lambda m: m
    if kind in _SYMMETRIC:  # the triangle read, mirrored

        def mirrored(m):
            half = np.tril(m, -1) if lower else np.triu(m, 1)
            return half + _t(half) + _diagonal_part(m)
        return mirrored
    if kind in _TRIANGLES:
        return _TRIANGLES[kind]
    if kind == "diagonal":
        return _diagonal_part
    raise UnsupportedArgument(f"scipy.linalg.solve with assume_a={assume_a!r} has no "
                              "derivative rule; use 'gen', 'sym', 'pos' or a triangular one")


def solve_triangular_adjoint(g, a, b, ans, trans=0, lower=False, unit_diagonal=False,
                             k: int = 0):
    """Adjoint of a (k=0) or b (k=1) in x = scipy.linalg.solve_triangular(a, b, trans,
    lower, unit_diagonal), which reads one triangle of a (not its diagonal where it is taken
    to be ones)."""
    import scipy.linalg as sla

    transposed = trans in (1, 2, "T", "C")
    b_bar = sla.solve_triangular(a, g, trans=0 if transposed else 1, lower=lower,
                                 unit_diagonal=unit_diagonal)
    if k == 1:
        return b_bar
    vector = _ndim(b) == 1
    op_bar = -(np.outer(b_bar, ans) if vector else b_bar @ _t(ans))
    return _triangle(_t(op_bar) if transposed else op_bar, lower, unit_diagonal)


def solve_triangular_tangent(g, a, b, ans, trans=0, lower=False, unit_diagonal=False,
                             of="a"):
    """Tangent of x = scipy.linalg.solve_triangular(a, b, ...) along the tangent g of a or
    b."""
    import scipy.linalg as sla

    solve = functools.partial(sla.solve_triangular, a, trans=trans, lower=lower,
                              unit_diagonal=unit_diagonal)
    if of == "b":
        return solve(g)
    tri = _triangle(g, lower, unit_diagonal)
    return -solve((_t(tri) if trans in (1, 2, "T", "C") else tri) @ ans)


def _triangle(m, lower: bool, unit_diagonal: bool):
    """The triangle of m solve_triangular reads (without the diagonal taken to be ones)."""
    if lower:
        return np.tril(m, -1 if unit_diagonal else 0)
    return np.triu(m, 1 if unit_diagonal else 0)


def scipy_inv_adjoint(g, ans, assume_a=None, lower=False):
    """Adjoint of scipy.linalg.inv(a, assume_a, lower): np.linalg.inv's, folded onto the
    triangle read where a is taken to be symmetric."""
    a_bar = inv_adjoint(g, ans)
    return _fold(a_bar, lower) if assume_a in _SYMMETRIC else a_bar
