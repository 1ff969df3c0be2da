"""Einsums a reversed loop adds into an adjoint, summed once after the loop
(reverse/batched.py), and sums along constant axes given back with `repeat`
(rules/shaped.py): programs where the terms move and near misses where they must not, each
checked against central differences with the optimizer on and off, and for what was emitted."""

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.testing import check_grads

RNG = np.random.default_rng(3)
X = RNG.normal(size=(5, 3))
W = RNG.normal(size=(4, 3))
Q = RNG.normal(size=(2, 3, 3))

# name: (source, arguments, wrt, whether a term is summed after a loop)
CASES = {
    "a layer applied to each row": (
        "def f(W, X):\n"
        "    total = 0.0\n"
        "    for i in range(X.shape[0]):\n"
        "        y = np.einsum('ij,j->i', W, X[i])\n"
        "        total = total + np.sum(np.tanh(y))\n"
        "    return total\n", [W, X], (0, 1), True),
    "per-component factors, as in a mixture": (
        "def f(Q, m, X):\n"
        "    total = 0.0\n"
        "    for x in X:\n"
        "        xc = x - m\n"
        "        z = np.einsum('kij,kj->ki', Q, xc)\n"
        "        total = total - 0.5 * np.sum(z ** 2)\n"
        "    return total\n", [Q, RNG.normal(size=(2, 3)), X], (0, 1), True),
    "no trips": (
        "def f(W, X, k):\n"
        "    total = 0.0\n"
        "    for i in range(k):\n"
        "        total = total + np.sum(np.einsum('ij,j->i', W, X[i]) ** 2)\n"
        "    return total + np.sum(W)\n", [W, X, 0], (0,), True),
    "a weight the loop changes": (
        "def f(W, X):\n"
        "    total = 0.0\n"
        "    for i in range(X.shape[0]):\n"
        "        y = np.einsum('ij,j->i', W, X[i])\n"
        "        W = W * 0.9\n"
        "        total = total + np.sum(np.sin(y))\n"
        "    return total\n", [W, X], (0, 1), False),
    "a row written after its product": (
        "def f(W, X):\n"
        "    total = 0.0\n"
        "    for i in range(X.shape[0]):\n"
        "        v = X[i] * 1.0\n"
        "        y = np.einsum('ij,j->i', W, v)\n"
        "        v[0] = v[0] * y[1]\n"
        "        total = total + np.sum(y * v[0])\n"
        "    return total\n", [W, X], (0, 1), False),
    "a data row changed after its product": (
        "def f(W, X):\n"
        "    Z = X * 1.0\n"
        "    total = 0.0\n"
        "    for i in range(Z.shape[0]):\n"
        "        y = np.einsum('ij,j->i', W, Z[i])\n"
        "        Z[i] = Z[i] * y[0]\n"
        "        total = total + np.sum(y ** 2) + np.sum(Z)\n"
        "    return total\n", [W, X], (0, 1), False),
    "an early exit": (
        "def f(W, X):\n"
        "    total = 0.0\n"
        "    for i in range(X.shape[0]):\n"
        "        y = np.einsum('ij,j->i', W, X[i])\n"
        "        total = total + np.sum(y ** 2)\n"
        "        if total > 3.0:\n"
        "            break\n"
        "    return total\n", [W, X], (0, 1), None),
    "nested loops": (
        "def f(W, X):\n"
        "    total = 0.0\n"
        "    for _ in range(2):\n"
        "        for i in range(X.shape[0]):\n"
        "            y = np.einsum('ij,j->i', W, X[i])\n"
        "            total = total + np.sum(np.cos(y))\n"
        "        W = W * 1.1\n"
        "    return total\n", [W, X], (0, 1), True),
    "three operands": (
        "def f(W, X, c):\n"
        "    total = 0.0\n"
        "    for x in X:\n"
        "        total = total + np.exp(np.einsum('ij,j,i->', W, x, c) * 0.1)\n"
        "    return total\n", [W, X, RNG.normal(size=4)], (0, 1, 2), True),
    "a vector summed along its only axis": (
        "def f(x):\n"
        "    return np.sum(np.sin(x) * x, axis=0)\n", [X[0]], (0,), False),
    "row sums read on one branch only": (
        "def f(A, k):\n"
        "    r = np.sum(A ** 2, axis=1)\n"
        "    out = 0.0\n"
        "    for i in range(k):\n"
        "        if i % 2 == 0:\n"
        "            out = out + np.sum(np.sqrt(r))\n"
        "        else:\n"
        "            out = out * 0.5\n"
        "    return out + np.sum(A)\n", [X, 3], (0,), False),
    "row sums given back along their axis": (
        "def f(A):\n"
        "    r = np.sum(A ** 2, axis=1)\n"
        "    c = A.sum(axis=0, keepdims=True)\n"
        "    return np.sum(np.sqrt(r)) + np.sum(np.sin(c * A))\n", [X], (0,), False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loop_products_summed_after_the_loop(name, optimize):
    src, args, wrt, moves = CASES[name]
    f = make_function(src)
    check_grads(f, args, wrt, optimize=optimize)
    code = adjoint.source(adjoint.grad(f, wrt=wrt, optimize=optimize), *args)
    if moves is not None:
        assert ("_trips.append(" in code) == moves, code


def test_a_repeat_the_product_broadcasts_is_left_out(optimize):
    src, args, wrt, _ = CASES["row sums given back along their axis"]
    code = adjoint.source(adjoint.grad(make_function(src), wrt=wrt, optimize=optimize), *args)
    assert ".repeat(3, axis=1)" not in code and "[:, None] * 2 * A" in code, code
    assert ".repeat(5, axis=0)" in code, code  # read by a sum, which would not repeat it


@pytest.mark.parametrize("axis, keepdims, expected", [
    (1, False, "g[:, None].repeat(3, axis=1)"),
    (-1, False, "g[:, None].repeat(3, axis=1)"),
    (0, True, "g.repeat(5, axis=0)"),
    ((0, 1), True, "g.repeat(5, axis=0).repeat(3, axis=1)"),
    ((0, 1), False, None),  # g is a number
    (None, False, None),
    (2, False, None),
])
def test_a_sum_along_known_axes_is_repeated_back(axis, keepdims, expected):
    from adjoint.rules import shaped
    consts = {"axis": axis, "keepdims": keepdims}
    got = shaped.formula(np.sum, "a", {"a": (5, 3), "axis": None, "keepdims": None}, consts)
    assert got == expected
    if expected is not None:  # the formula gives what the runtime's general adjoint gives
        g = RNG.normal(size=np.sum(X, axis=axis, keepdims=keepdims).shape)
        want = adjoint.runtime.sum_adjoint(g, X, axis=axis, keepdims=keepdims)
        assert np.array_equal(eval(expected, {"g": g}), want)
