"""The stabilizing shift of a log-sum-exp or a softmax has no derivative (analysis/shifts.py):
the programs where the proof holds, as people write them, and near misses where it must not.
Each is checked against central differences and forward mode, with the optimizer on and off,
and for whether the max's tie bookkeeping (`extremum_adjoint`) is still emitted."""

import inspect

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.testing import check_grads

RNG = np.random.default_rng(7)
V = RNG.normal(size=6)
M = RNG.normal(size=(4, 5))
LABELS = np.array([0, 3, 1, 4])
CONSTANTS = {"OFFSETS": RNG.normal(size=(3, 4, 5)), "TABLE": RNG.normal(size=(3, 4))}

# name: (source, arguments, whether the shift is left out of the derivative)
CASES = {
    "log-sum-exp of a vector": (
        "def f(v):\n"
        "    v_max = np.max(v)\n"
        "    return v_max + np.log(np.sum(np.exp(v - v_max)))\n", [V], True),
    "log-softmax rows, keepdims": (
        "def f(z, labels):\n"
        "    shifted = z - np.max(z, axis=1, keepdims=True)\n"
        "    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))\n"
        "    return -np.mean(log_p[np.arange(z.shape[0]), labels])\n", [M, LABELS], True),
    "softmax with methods and a negative axis": (
        "def f(z):\n"
        "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
        "    p = e / e.sum(axis=-1, keepdims=True)\n"
        "    return np.sum(p * np.cos(z))\n", [M], True),
    "a log-sum-exp in a loop body": (
        "def f(z):\n"
        "    total = 0.0\n"
        "    for row in z:\n"
        "        m = np.max(row)\n"
        "        total = total + m + np.log(np.sum(np.exp(row - m)))\n"
        "    return total\n", [M], True),
    "values centred after the shift": (
        "def f(v):\n"
        "    c = np.max(v)\n"
        "    d = v - c\n"
        "    return np.sum((d - np.mean(d)) ** 2)\n", [V], True),
    "the shift left in the result": (
        "def f(v):\n"
        "    m = np.max(v)\n"
        "    return m + np.sum(np.exp(v - m))\n", [V], False),
    "a shift that does not cancel": (
        "def f(v):\n"
        "    m = np.max(v)\n"
        "    return 2 * m + np.log(np.sum(np.exp(v - m)))\n", [V], False),
    "a sum across the rows of a row shift": (
        "def f(z):\n"
        "    m = np.max(z, axis=1, keepdims=True)\n"
        "    return np.sum(m) + np.log(np.sum(np.exp(z - m)))\n", [M], False),
    "a row shift without keepdims": (
        "def f(z):\n"
        "    m = np.max(z, axis=1)\n"
        "    e = np.exp(z - m[:, None])\n"
        "    return np.sum(np.log(np.sum(e, axis=1)) + m)\n", [M], False),
    "a shift read again on the next trip": (
        "def f(v):\n"
        "    out = 0.0\n"
        "    e = v\n"
        "    for _ in range(2):\n"
        "        out = out + np.sum(e)\n"
        "        m = np.max(v)\n"
        "        e = np.exp(v - m)\n"
        "    return out\n", [V], False),
    "a row shift broadcast against a deeper array": (
        "def f(z, w):\n"
        "    m = np.max(z, axis=1, keepdims=True)\n"
        "    e = np.exp((z - m) + w)\n"
        "    return np.sum(np.log(np.sum(e, axis=1, keepdims=True)) + m)\n",
        [M, RNG.normal(size=(3, 4, 5))], False),
    "a row shift broadcast against a constant array": (
        "def f(z):\n"
        "    m = np.max(z, axis=1, keepdims=True)\n"
        "    e = np.exp((z - m) + OFFSETS)\n"
        "    return np.sum(np.log(np.sum(e, axis=1, keepdims=True)) + m)\n", [M], False),
    "the shift of a constant array's rows": (
        "def f(v):\n"
        "    m = np.max(TABLE, axis=1, keepdims=True)\n"
        "    return np.sum(v * np.log(np.sum(np.exp(TABLE - m), axis=1)))\n", [RNG.normal(size=3)],
        True),
    "a shift written into an array": (
        "def f(v):\n"
        "    m = np.max(v)\n"
        "    out = np.zeros(2)\n"
        "    out[0] = m\n"
        "    return np.sum(out) + np.log(np.sum(np.exp(v - m)))\n", [V], False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_cancelling_shift_has_no_derivative(name, optimize):
    src, args, cancels = CASES[name]
    f = make_function(src, CONSTANTS)
    wrt = tuple(i for i, a in enumerate(args) if a.dtype.kind == "f")
    check_grads(f, args, wrt, optimize=optimize)
    code = adjoint.source(adjoint.grad(f, wrt=wrt, optimize=optimize), *args)
    assert ("extremum_adjoint" not in code) == cancels, code


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n][2]))
def test_forward_mode_agrees(name):
    src, args, _ = CASES[name]
    f = make_function(src, CONSTANTS)
    direction = RNG.normal(size=args[0].shape)
    first = inspect.signature(f).parameters
    _, tangent = adjoint.jvp(f, wrt=0)(*args, **{f"{next(iter(first))}_dot": direction})
    eps = 1e-6
    moved = [(f(args[0] + s * eps * direction, *args[1:])) for s in (1, -1)]
    assert np.isclose(tangent, (moved[0] - moved[1]) / (2 * eps), rtol=1e-6, atol=1e-8)
