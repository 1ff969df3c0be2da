"""Arithmetic on numbers that a loop does not change, computed once before the loop
(reverse/hoist.py): the programs where it may move and where it must not, each checked
against central differences with the optimizer on and off, and for where the line went."""

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.testing import check_grads

# name: (source, arguments, the line, whether it moves in front of the first loop)
CASES = {
    "a negated parameter": (
        "def f(k, x):\n"
        "    for _ in range(3):\n"
        "        x = x - k * x * 0.1\n"
        "        x = x + -k * 0.5\n"
        "    return x * x\n", [2.0, 1.5], "neg_k = -k", True),
    "a chain of invariants, two loops deep": (
        "def f(a, b, x):\n"
        "    for i in range(2):\n"
        "        for j in range(3):\n"
        "            s = a * b\n"
        "            t = s + 1.0\n"
        "            x = x * 0.9 + t * x * 0.01\n"
        "    return x\n", [0.3, 1.2, 2.0], "s = a * b", True),
    "an operand the loop rebinds": (
        "def f(k, x):\n"
        "    for _ in range(3):\n"
        "        m = -k\n"
        "        k = k * 0.5\n"
        "        x = x + m * x\n"
        "    return x\n", [2.0, 1.5], "m = -k", False),
    "a name bound twice": (
        "def f(k, x):\n"
        "    m = 0.0\n"
        "    for _ in range(3):\n"
        "        m = k * 2.0\n"
        "        x = x + m * x * 0.1\n"
        "    return x + m\n", [2.0, 1.5], "m = k * 2.0", False),
    "a division, which may raise": (
        "def f(k, x):\n"
        "    for _ in range(3):\n"
        "        r = 1.0 / k\n"
        "        x = x + r * x\n"
        "    return x\n", [2.0, 1.5], "r = 1.0 / k", False),
    "arrays, whose shapes may not agree": (
        "def f(w, x):\n"
        "    for _ in range(3):\n"
        "        u = w * 2.0\n"
        "        x = x + np.tanh(u) * x\n"
        "    return np.sum(x)\n", [np.array([0.1, 0.2]), np.array([1.0, -1.0])],
        "u = w * 2.0", False),
    "a while loop": (
        "def f(k, x):\n"
        "    n = 0\n"
        "    while n < 4:\n"
        "        h = k * 0.25\n"
        "        x = x - h * x\n"
        "        n = n + 1\n"
        "    return x\n", [0.5, 2.0], "h = k * 0.25", True),
    "a loop that never runs": (
        "def f(k, x):\n"
        "    for _ in range(0):\n"
        "        x = x * -k\n"
        "    return x * k\n", [2.0, 1.5], "neg_k = -k", True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loop_invariant_numbers_are_computed_once(name, optimize):
    src, args, line, moves = CASES[name]
    f = make_function(src)
    wrt = tuple(range(len(args)))
    check_grads(f, args, wrt, optimize=optimize)
    code = adjoint.source(adjoint.grad(f, wrt=wrt, optimize=optimize), *args)
    forward = code.split("# backward")[0]
    before = forward.split("    for ")[0].split("    while ")[0]
    assert (f"    {line}\n" in before) == moves, code
