"""Adjoints of products: matmul, dot, tensordot, einsum, vecdot, matvec, inner, kron, cross."""

from __future__ import annotations

import functools

import numpy as np

from ..errors import UnsupportedArgument
from .containers import zeros_like
from .shapes import _ndim, _shape, unbroadcast


def _t(x):
    return np.swapaxes(x, -1, -2)


def matmul_lhs(g, a, b):
    """Adjoint of `a` in a @ b, for vectors, matrices and stacks of matrices."""
    if _ndim(b) == 1:
        return g * b if _ndim(a) == 1 else unbroadcast(g[..., None] * b, a)
    if _ndim(a) == 1:
        return unbroadcast((b @ g[..., None])[..., 0], a)
    return unbroadcast(g @ np.swapaxes(b, -1, -2), a)


def matmul_rhs(g, a, b):
    """Adjoint of `b` in a @ b."""
    if _ndim(a) == 1:
        return g * a if _ndim(b) == 1 else unbroadcast(a[:, None] * g[..., None, :], b)
    if _ndim(b) == 1:
        return unbroadcast((np.swapaxes(a, -1, -2) @ g[..., None])[..., 0], b)
    return unbroadcast(np.swapaxes(a, -1, -2) @ g, b)


def dot_lhs(g, a, b):
    """Adjoint of `a` in np.dot(a, b): scalars, vectors, matrices, and N-d arrays (a sum over
    the last axis of a and the second-to-last of b)."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return unbroadcast(g * b, a)
    if _ndim(a) > 2 or _ndim(b) > 2:
        return tensordot_adjoint(g, a, b, ([-1], [max(_ndim(b) - 2, 0)]), 0)
    return matmul_lhs(g, a, b)


def dot_rhs(g, a, b):
    """Adjoint of `b` in np.dot(a, b)."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return unbroadcast(g * a, b)
    if _ndim(a) > 2 or _ndim(b) > 2:
        return tensordot_adjoint(g, a, b, ([-1], [max(_ndim(b) - 2, 0)]), 1)
    return matmul_rhs(g, a, b)


def tensordot_adjoint(g, a, b, axes, k: int):
    """Adjoint of a (k=0) or b (k=1) in np.tensordot(a, b, axes), through einsum_adjoint."""
    na, nb = _ndim(a), _ndim(b)
    if isinstance(axes, int):
        axes = (list(range(na - axes, na)), list(range(axes)))
    left, right = ([x] if isinstance(x, int) else list(x) for x in axes)
    left, right = [x % na for x in left], [x % nb for x in right]
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    ta = [next(letters) for _ in range(na)]
    tb = [next(letters) for _ in range(nb)]
    for i, j in zip(left, right, strict=True):
        tb[j] = ta[i]
    out = [c for i, c in enumerate(ta) if i not in left] + [
        c for j, c in enumerate(tb) if j not in right]
    spec = f"{''.join(ta)},{''.join(tb)}->{''.join(out)}"
    return einsum_adjoint(g, spec, (a, b), k)


def vecdot_adjoint(g, x1, x2, axis=-1, k: int = 0):
    """Adjoint of x1 (k=0) or x2 (k=1) in np.vecdot(x1, x2, axis=axis) (real arrays)."""
    other, target = (x2, x1) if k == 0 else (x1, x2)
    return unbroadcast(np.expand_dims(g, axis) * other, target)


def matvec_adjoint(g, m, v, k: int, transposed: bool = False):
    """Adjoint of the matrix m (k=0) or the vector v (k=1) in np.matvec(m, v), stacks of
    matrix-vector products; transposed: in np.vecmat(v, m), which uses m's transpose."""
    mt = _t(m) if transposed else m
    if k == 1:
        return unbroadcast((_t(mt) @ g[..., None])[..., 0], v)
    part = g[..., :, None] * v[..., None, :]
    return unbroadcast(_t(part) if transposed else part, m)


def inner_adjoint(g, a, b, k: int):
    """Adjoint of a (k=0) or b (k=1) in np.inner(a, b): a sum over the last axes."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return unbroadcast(g * (b if k == 0 else a), a if k == 0 else b)
    return tensordot_adjoint(g, a, b, ([-1], [-1]), k)


def kron_adjoint(g, a, b, k: int):
    """Adjoint of a (k=0) or b (k=1) in np.kron(a, b)."""
    nd = max(_ndim(a), _ndim(b))
    sa = (1,) * (nd - _ndim(a)) + np.shape(a)
    sb = (1,) * (nd - _ndim(b)) + np.shape(b)
    blocks = np.reshape(g, [n for pair in zip(sa, sb, strict=True) for n in pair])
    other = np.reshape(b if k == 0 else a, sb if k == 0 else sa)
    letters = "abcdefghijklmnopqrstuvwxyz"
    ia, ib = letters[:nd], letters[nd:2 * nd]
    spec = "".join(x + y for x, y in zip(ia, ib, strict=True))
    part = np.einsum(f"{spec},{ib if k == 0 else ia}->{ia if k == 0 else ib}", blocks, other)
    return np.reshape(part, np.shape(a if k == 0 else b))


def cross3(u, v):
    """np.cross(u, v) of two 3-vectors, the same products and differences in the same order
    (so the same result to the bit), without np.cross's checks (ten times its cost)."""
    u0, u1, u2 = u
    v0, v1, v2 = v
    return np.array([u1 * v2 - u2 * v1, u2 * v0 - u0 * v2, u0 * v1 - u1 * v0])


def cross_adjoint(g, a, b, k: int, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Adjoint of a (k=0) or b (k=1) in np.cross(a, b, ...), for 3- and 2-vectors."""
    if type(g) is np.ndarray and g.shape == (3,) and axis is None and _shape(a) == (3,) \
            and _shape(b) == (3,):  # two 3-vectors, the common case
        return cross3(b, g) if k == 0 else cross3(g, a)
    if axis is not None:
        axisa = axisb = axisc = axis
    x = np.moveaxis(a, axisa, -1)
    y = np.moveaxis(b, axisb, -1)
    n, m = x.shape[-1], y.shape[-1]
    if n == 2 and m == 2:  # the result is the z component only
        gz = g
        g3 = np.stack([np.zeros_like(gz), np.zeros_like(gz), gz], -1)
    else:
        g3 = np.moveaxis(g, axisc, -1)
    x3 = _pad3(x)
    y3 = _pad3(y)
    part = np.cross(y3, g3) if k == 0 else np.cross(g3, x3)  # d(x × y) = dx × y + x × dy
    part = part[..., :(n if k == 0 else m)]
    target = a if k == 0 else b
    part = unbroadcast(part, np.moveaxis(target, axisa if k == 0 else axisb, -1))
    return np.moveaxis(part, -1, axisa if k == 0 else axisb)


def _pad3(v):
    if v.shape[-1] == 3:
        return v
    return np.concatenate([v, np.zeros_like(v[..., :1])], -1)


def _einsum_terms(spec: str, ndims: list[int]) -> tuple[list[str], str]:
    """Explicit subscripts of np.einsum(spec, ...): ellipses spelled out as capital letters."""
    spec = spec.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    ell = max((n - (len(t) - 3) for t, n in zip(terms, ndims, strict=True) if "..." in t),
              default=0)
    spare = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec)[:ell]
    out_terms = []
    for t, n in zip(terms, ndims, strict=True):
        if "..." in t:
            k = n - (len(t) - 3)
            t = t.replace("...", spare[ell - k:])
        out_terms.append(t)
    if arrow:
        output = output.replace("...", spare)
    else:
        letters = "".join(out_terms)
        output = spare + "".join(sorted(c for c in set(letters)
                                        if c.islower() and letters.count(c) == 1))
    return out_terms, output


@functools.lru_cache(maxsize=512)
def _einsum_plan(spec: str, ndims: tuple, k: int) -> tuple:
    """How to get the adjoint of operand k: the einsum to run, and whether its result is
    already the adjoint (no broadcast or diagonal letters to restore)."""
    terms, output = _einsum_terms(spec, list(ndims))
    target = terms[k]
    others = [t for j, t in enumerate(terms) if j != k]
    available = set(output).union(*others)
    kept = "".join(dict.fromkeys(c for c in target if c in available))
    return ",".join([output, *others]) + "->" + kept, target, kept, kept == target


def einsum_operand_adjoint(g, operands, k: int):
    """Adjoint of operands[k] in np.einsum(*operands): the subscripts first
    (np.einsum('ij,jk', a, b)), or the sublist form (np.einsum(a, [0, 1], b, [1, 2], [0, 2]))."""
    if isinstance(operands[0], str):
        return einsum_adjoint(g, operands[0], operands[1:], k - 1)
    if k % 2:
        raise UnsupportedArgument(f"the gradient of np.einsum with respect to its argument "
                                  f"{k}, a sublist of axis labels")
    spec, arrays = _einsum_sublists(operands)
    return einsum_adjoint(g, spec, arrays, k // 2)


def _einsum_sublists(operands) -> tuple[str, tuple]:
    """The subscripts string and the arrays of np.einsum's sublist form: (op0, sublist0, op1,
    sublist1, ..., [output sublist])."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def spell(sublist) -> str:
        try:
            return "".join("..." if v is Ellipsis else letters[int(v)] for v in sublist)
        except (IndexError, TypeError, ValueError):
            raise UnsupportedArgument(f"the gradient of np.einsum with the sublist "
                                      f"{sublist!r}: labels must be integers 0 to 51 or "
                                      "Ellipsis") from None

    pairs = len(operands) // 2
    arrays = tuple(operands[0:2 * pairs:2])
    spec = ",".join(spell(operands[2 * j + 1]) for j in range(pairs))
    if len(operands) % 2:
        spec += "->" + spell(operands[-1])
    return spec, arrays


def einsum_adjoint_tangent(g, g_dot, spec: str, operands, operands_dot, k: int):
    """Tangent of einsum_adjoint(g, spec, operands, k) (forward mode over a gradient: hvp):
    linear in g, and in each operand but the k-th (which gives its shape only), so a term
    for g's tangent and one per other operand with its tangent in its place."""
    out = einsum_adjoint(g_dot, spec, operands, k)
    for j, dot in enumerate(operands_dot):
        if j != k and not (np.ndim(dot) == 0 and dot == 0):
            swapped = (*operands[:j], dot, *operands[j + 1:])
            out = out + einsum_adjoint(g, spec, swapped, k)
    return out


def einsum_adjoint(g, spec: str, operands, k: int):
    """Adjoint of operand k of np.einsum(spec, *operands), for any subscripts."""
    ops = tuple(operands)
    sub, target, kept, simple = _einsum_plan(spec, tuple(_ndim(o) for o in ops), k)
    rest = ops[:k] + ops[k + 1:]
    part = np.einsum(sub, g, *rest, optimize=len(rest) > 1)
    shape = _shape(ops[k])
    if simple and _shape(part) == shape:
        return part
    sizes = dict(zip(target, shape, strict=True))
    wide = tuple(i for i, c in enumerate(kept) if sizes[c] == 1 and np.shape(part)[i] != 1)
    if wide:  # a length-1 axis of operand k that the ellipsis broadcast
        part = np.sum(part, axis=wide, keepdims=True)
    distinct = "".join(dict.fromkeys(target))
    for c in distinct:  # letters summed away inside operand k alone come back by broadcasting
        if c not in kept:
            part = np.expand_dims(part, distinct.index(c))
            kept = kept[:distinct.index(c)] + c + kept[distinct.index(c):]
    part = np.broadcast_to(part, [sizes[c] for c in distinct])
    if distinct == target:
        return unbroadcast(part * 1.0, ops[k]) if np.shape(part) != shape else part * 1.0
    out = zeros_like(ops[k])  # repeated letters: place the values on the diagonal
    grid = np.indices([sizes[c] for c in distinct], sparse=True)
    out[tuple(grid[distinct.index(c)] for c in target)] = part
    return out
