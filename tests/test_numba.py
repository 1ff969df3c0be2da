"""The numba backend: gradients of element-loop programs compiled with numba.njit, checked
against central differences and against the NumPy backend's gradients. Each gradient is
compiled once (numba takes seconds) and reused by the checks."""

import functools
import importlib
import math
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import adjoint  # noqa: E402
from adjoint.jit import NumbaUnsupported  # noqa: E402
from adjoint.testing import check_grads  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent / "samples"))


def sample(name: str):
    return importlib.import_module(name)


@numba.njit
def spring(d, k):
    return 0.5 * k * d * d


@numba.njit
def chain_energy(x, k):
    """An njit function calling an njit helper."""
    total = 0.0
    for i in range(x.shape[0] - 1):
        total = total + spring(x[i + 1] - x[i], k)
    return total


@numba.njit
def powered(a, p=2.0):
    return a ** p


@numba.njit
def defaulted_calls(x, k):
    """An njit helper called with its defaulted parameter left out, and passed."""
    total = 0.0
    for i in range(x.shape[0]):
        total = total + k * powered(x[i]) + powered(x[i], 3.0)
    return total


@numba.njit
def norm_of(v):
    """A helper with a loop of its own: its forward sweep saves an int and numbers."""
    s = 0.0
    for i in range(v.shape[0]):
        s += v[i] * v[i]
    return math.sqrt(s)


@numba.njit
def softplus(z):
    """A helper that may return early."""
    if z > 20.0:
        return z
    return math.log1p(math.exp(z))


@numba.njit
def row_norms(X, a):
    """Helpers with a loop and an early return, called in a loop (their saved values a tape
    of records)."""
    s = 0.0
    for i in range(X.shape[0]):
        s += norm_of(X[i] * a) * a + softplus(a * X[i, 0] * 30.0)
    return s


def relax(x, rate):
    """A while loop whose trip count does not depend on the differentiated values."""
    t = 0.0
    while t < 1.0:
        x = x - rate * x * x * 0.1
        t = t + 0.1
    return x * x


def pairs(x, w):
    """Nested loops, the inner range depending on the outer variable; a total overwritten in
    both loops."""
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        total = total * 0.9 + w * x[i]
        for j in range(i + 1, n):
            d = x[i] - x[j]
            total = total + w * d * d / (1.0 + j)
    return total


def settle(x, rate):
    """A while loop (its trip count found as it runs) around a for loop."""
    total = 0.0
    decay = 1.0
    t = 0
    while t < 4:
        for i in range(x.shape[0] - t):
            total = total + rate * decay * x[i] * x[i + t]
            decay = decay * 0.99
        t = t + 1
    return total


def rk4_loss(a, b, c, d, x0, y0, dt, steps):
    return sample("rk4").loss(a, b, c, d, x0, y0, dt, steps)


# loop nests whose tapes make room before the outer loop, or must not (checked like the rest,
# and with numba's bounds checks on, in a process of their own)


def triangle(x, w):
    """The inner range reads the outer loop's target: a counting loop sums the pushes."""
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(i):
            total = total * 0.97 + w * x[i] * x[j]
    return total


def shrinking(x, w):
    """The inner bound is bound again in the outer loop, after the inner loop."""
    m = x.shape[0]
    total = 0.0
    for t in range(4):
        for i in range(m):
            total = total * 0.95 + w * x[i] * x[m - 1 - i] * (t + 1)
        m = m - 1
    return total


def bounds(x, w, s):
    """Inner ranges bound in the outer loop: to arithmetic of its target, with a literal step
    (counted); to a call's value, with a step read from an argument (not: it could be 0)."""
    n = x.shape[0]
    total = 0.0
    for t in range(3):
        m = n - t
        for i in range(m):
            total = total * 0.9 + 0.01 * total * total + w * x[i]
        for i in range(0, n, 2):
            total = total * 0.9 + 0.01 * total * total + w * x[i] * (t + 1)
        k = min(n, t + 2)
        for i in range(k):
            total = total * 0.9 + 0.01 * total * total - w * x[i] * x[i]
        for i in range(1, n, s):
            total = total * 0.9 + 0.01 * total * total - w * x[i]
    return total


def deep(x, w):
    """Three nested loops known when the outermost starts, and a push in each body."""
    n = x.shape[0]
    total = 0.0
    for _ in range(3):
        total = total * 0.5 + w
        m = n - 1
        for i in range(1, m):
            total = total * 0.9 + x[i] * w
            for k in range(2):
                total = total + w * x[i - 1] * x[i + 1] * (k + 1)
    return total


def while_in_for(x, rate):
    """A while loop in a for loop (its pushes check the capacity themselves), and a for loop
    in it (room made when that loop starts)."""
    total = 0.0
    for t in range(3):
        k = 0
        while k < x.shape[0] - t:
            total = total * 0.9 + 0.01 * total * total + rate * x[k] * (t + 1)
            for i in range(x.shape[0] - k):
                total = total * 0.95 + 0.01 * total * total + rate * x[i] * (k + 1)
            k = k + 1
    return total


def broken(x, w):
    """Breaks out of the inner and the outer loop: neither is counted inside the other."""
    n = x.shape[0]
    total = 0.0
    for t in range(5):
        for i in range(n):
            total = total * 0.9 + 0.01 * total * total + w * x[i] * (t + 1)
            if total > 3.0:
                break
        if total > 10.0:
            break
    return total


def guarded(x, w):
    """An inner loop under an if (it may not run): room is made when it starts."""
    n = x.shape[0]
    total = 0.0
    for t in range(4):
        total = total * 0.5 + w
        if t % 2 == 0:
            for i in range(n):
                total = total * 0.9 + 0.01 * total * total + w * x[i]
    return total


def heat2d(u0, kappa):
    """Copies of a 2-d grid pushed by shape only, inside a nest counted before the outer loop."""
    n = u0.shape[0]
    m = u0.shape[1]
    u = u0.copy()
    for _ in range(3):
        new = u.copy()
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                new[i, j] = u[i, j] + kappa * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1]
                                               + u[i, j + 1] - 4.0 * u[i, j])
        u = new
    total = 0.0
    for i in range(n):
        for j in range(m):
            total = total + u[i, j] * u[i, j]
    return total


# element loops whose reverse sweep reuses the adjoint arrays it makes each trip


def ring(u0, kappa):
    """u[i - 1] at i = 0 reads the last point: a negative index wraps, in the reverse too."""
    n = u0.shape[0]
    u = u0.copy()
    for _ in range(4):
        new = u.copy()
        for i in range(n):
            new[i] = u[i] + kappa * (u[i - 1] - u[i]) * u[i]
        u = new
    total = 0.0
    for i in range(n):
        total = total + u[i] * u[i] * (i + 1)
    return total


def narrowing(u0, kappa):
    """Each step's grid is a point shorter: no buffer of another shape is taken."""
    u = u0.copy()
    for _ in range(3):
        m = u.shape[0] - 1
        new = np.zeros(m)
        for i in range(m):
            new[i] = u[i] + kappa * u[i + 1] * u[i]
        u = new
    total = 0.0
    for i in range(u.shape[0]):
        total = total + u[i] * u[i]
    return total


def coupled(u0, v0, a):
    """Two grids carried together, each read by the other's update."""
    n = u0.shape[0]
    u = u0.copy()
    v = v0.copy()
    for _ in range(3):
        nu = u.copy()
        nv = v.copy()
        for i in range(1, n - 1):
            nu[i] = u[i] + a * (v[i + 1] - v[i - 1])
            nv[i] = v[i] + a * (u[i + 1] - u[i - 1]) * u[i]
        u = nu
        v = nv
    total = 0.0
    for i in range(n):
        total = total + u[i] * v[i]
    return total


def layers(W1, b1, w2, X, y):
    """Matrix and vector products (`@`, np.dot) in a small network, steps of it in a loop."""
    total = 0.0
    for k in range(X.shape[0]):
        h = np.tanh(W1 @ X[k] + b1)
        total += (np.dot(h, w2) - y[k]) ** 2
    H = np.tanh(X @ W1.T)
    return total + np.sum((H @ w2) ** 2) * 0.1 + np.dot(w2, w2)


def strided(u0, kappa, steps):
    """Ranges with literal steps (2, and -1 from a literal start), and an accumulator read
    after the loop."""
    n = u0.shape[0]
    u = u0.copy()
    acc = np.zeros(n)
    for _ in range(steps):
        new = u.copy()
        for i in range(2, n, 2):
            new[i] = u[i] * (1.0 - kappa) + kappa * u[i - 2] * u[i - 1]
        for i in range(5, 0, -1):
            new[i] = new[i] + kappa * new[i - 1]
        for i in range(n):
            acc[i] = acc[i] + new[i] * u[i]
        u = new
    total = 0.0
    for i in range(n):
        total = total + u[i] * acc[i]
    return total


def kinked(x, a):
    """max and min of numbers, np.maximum and np.minimum, a power with a varying exponent,
    hypot and arctan2 (a guarded ratio), np.max of the array: numba versions of their
    adjoints (jit/extrema.py)."""
    s = 0.0
    for i in range(x.shape[0]):
        h = max(x[i] * a, 0.0) + min(x[i], a, 0.5) + np.maximum(x[i], 0.3)
        s += h * np.minimum(x[i], a) + 1.5 ** (a * x[i]) + math.hypot(x[i], 1.5)
        s += np.arctan2(x[i], 0.7) * a
    return s + np.max(x * a) + max(a, 0.7) * 2.0


def two_stencils(u, v):
    """Two arrays read at i - 1 and i + 1 in one loop: the adds into both adjoints carried."""
    s = 0.0
    for i in range(1, u.shape[0] - 1):
        s = s + u[i - 1] * 2.0 * v[i] + u[i + 1]
        s = s + v[i + 1] * 3.0 + v[i - 1] * u[i]
    return s


def sparse_rows(vals, cols, rowptr, x):
    """A CSR matrix times x, row by row: items of int arrays index x (ints, as numba
    compiles for the arrays' dtypes: plain adds, not runtime.add_at)."""
    total = 0.0
    for i in range(rowptr.shape[0] - 1):
        acc = 0.0
        for k in range(rowptr[i], rowptr[i + 1]):
            acc += vals[k] * x[cols[k]]
        total += acc * acc
    return total


def rebound_vector(x, n=6):
    """A vector rebound in a loop and read by np.dot, on one arm of a branch: its adjoint
    is an array from the loop's start (numba gives each variable one type)."""
    v = x.copy()
    t = 0.0
    for k in range(n):
        if k % 2 == 0:
            v = v * 0.5
            t += np.dot(v, v)
        else:
            t += v[0]
    return t


def made_in_the_loop(x, n):
    """A vector first made inside the loop (no trips: zero gradient from it)."""
    t = np.sum(x)
    for k in range(n):
        w = x * (k + 1.0)
        t += np.sum(w * w)
    return t


def descend(b, x0, lr=0.1):
    """Gradient descent that stops where it converged: a loop with a break."""
    x = x0
    for _ in range(20):
        g = x - b
        if np.sum(g * g) < 1e-20:
            break
        x = x - lr * g
    return np.sum(x * x)


def either_arm(x, c):
    """A number bound on both arms of a branch in a loop, first in the loop."""
    total = 0.0
    for i in range(len(x)):
        if x[i] > 0:
            t = x[i] * c
        else:
            t = 2.0 * c
        total += t
    return total


def discounted(coupon, n=5):
    """`cf = coupon; cf += 100.0`: a number rebound, not changed in place."""
    total = 0.0
    for i in range(n):
        cf = coupon
        if i == n - 1:
            cf += 100.0
        total += cf / (1.05 ** (i + 1))
    return total


def grown(x0, a):
    """`x = x0; x += ...`: on a number a new binding, the argument unchanged (on an array the
    argument would change in place)."""
    x = x0
    for _ in range(10):
        x += 0.1 * a * x
    return x


def ragged(x, w, c):
    """Inner loops from a literal start growing with the outer loop, coefficients read in
    both loops: the adds into w_bar and c_bar of the inner loops are summed per index (room
    made as the loops grow), the outer loop's added as they are; acc_bar, read each trip,
    is not."""
    s = 0.0
    for t in range(x.shape[0]):
        acc = w * s
        for i in range(1, t + 1):
            acc = acc + w * x[i] * x[i - 1] - c * x[i]
        s = 0.5 * s + acc * c
    return s


def squared_stages(x, k, steps=3):
    """A name filled item by item, then rebound, each trip: its old items and its old arrays
    go on tapes of their own (numba types each); the first trip saves it before any binding
    (an empty array of its dimensions)."""
    n = x.shape[0]
    u = x.copy()
    for _ in range(steps):
        tmp = np.zeros(n)
        for i in range(n):
            tmp[i] = k * u[i]
        tmp = tmp * tmp
        u = tmp + u
    return np.sum(u)


def nudged_grid(x, k, steps=4):
    """The grid written in place in a while loop, then rebound to the step's new grid."""
    n = x.shape[0]
    u = x.copy()
    s = 0.0
    t = 0
    while t < steps:
        new = u.copy()
        for i in range(0, n - 1):
            new[i] = u[i] + k * (u[i + 1] - u[i])
        for i in range(0, t):
            if u[i] > 0.9:
                break
            u[i] = u[i] + k * u[i] * 0.1
            s += k * u[i]
        u = new
        t += 1
    return s + np.sum(u * u)


def _rng():
    return np.random.default_rng(0)


# name: (function, arguments, wrt)
PROGRAMS = {
    "euler": (lambda: sample("euler_oscillator").loss, lambda: (2.0, 0.3, 1.0, 0.0, 0.01, 60),
              ("k", "c")),
    "heat": (lambda: sample("heat_loops").loss, lambda: (
        np.exp(-50.0 * (np.linspace(0, 1, 10) - 0.3) ** 2), 0.2,
        0.5 * np.exp(-20.0 * (np.linspace(0, 1, 10) - 0.5) ** 2), 6), ("u0", "kappa")),
    "nbody": (lambda: sample("nbody").energy, lambda: (
        _rng().standard_normal((6, 3)), _rng().uniform(0.5, 1.5, 6)), ("pos", "mass")),
    "rk4": (lambda: sample("rk4").loss, lambda: (1.1, 0.4, 0.4, 0.1, 1.0, 0.5, 0.01, 30),
            ("a", "b", "c", "d")),
    "njit_helper": (lambda: chain_energy, lambda: (np.linspace(0.0, 1.0, 7) ** 2, 1.7),
                    ("x", "k")),
    "while": (lambda: relax, lambda: (0.8, 0.5), ("x", "rate")),
    "nested_triangle": (lambda: pairs, lambda: (_rng().standard_normal(7), 1.3), ("x", "w")),
    "while_for": (lambda: settle, lambda: (_rng().standard_normal(6), 0.7), ("x", "rate")),
    "triangle": (lambda: triangle, lambda: (_rng().standard_normal(7), 0.8), ("x", "w")),
    "shrinking": (lambda: shrinking, lambda: (_rng().standard_normal(7), 0.6), ("x", "w")),
    "bounds": (lambda: bounds, lambda: (_rng().standard_normal(7), 0.9, 3), ("x", "w")),
    "deep": (lambda: deep, lambda: (_rng().standard_normal(6), 0.7), ("x", "w")),
    "while_in_for": (lambda: while_in_for, lambda: (_rng().standard_normal(5), 0.6),
                     ("x", "rate")),
    "broken": (lambda: broken, lambda: (np.linspace(0.1, 1.0, 6), 1.3), ("x", "w")),
    "guarded": (lambda: guarded, lambda: (_rng().standard_normal(5), 0.7), ("x", "w")),
    "heat2d": (lambda: heat2d, lambda: (_rng().uniform(0.0, 1.0, (5, 4)), 0.1),
               ("u0", "kappa")),
    "ring": (lambda: ring, lambda: (_rng().uniform(0.0, 1.0, 7), 0.2), ("u0", "kappa")),
    "narrowing": (lambda: narrowing, lambda: (_rng().uniform(0.0, 1.0, 7), 0.3),
                  ("u0", "kappa")),
    "coupled": (lambda: coupled, lambda: (_rng().uniform(0.0, 1.0, 7),
                                          _rng().uniform(0.0, 1.0, 7), 0.2), ("u0", "v0", "a")),
    "strided": (lambda: strided, lambda: (_rng().uniform(0.0, 1.0, 9), 0.2, 3),
                ("u0", "kappa")),
    "layers": (lambda: layers, lambda: (_rng().standard_normal((4, 3)),
                                        _rng().standard_normal(4), _rng().standard_normal(4),
                                        _rng().standard_normal((5, 3)),
                                        _rng().standard_normal(5)), ("W1", "b1", "w2")),
    "rebound_vector": (lambda: rebound_vector, lambda: (_rng().standard_normal(4),), ("x",)),
    "made_in_the_loop": (lambda: made_in_the_loop, lambda: (_rng().standard_normal(4), 3),
                         ("x",)),
    "made_in_no_trip": (lambda: made_in_the_loop, lambda: (_rng().standard_normal(4), 0),
                        ("x",)),
    "break": (lambda: descend, lambda: (np.array([1.0, 2.0]), np.array([0.5, -0.5])),
              ("b", "x0")),
    "either_arm": (lambda: either_arm, lambda: (np.array([0.3, -2.0, 1.2, 0.7]), 1.3),
                   ("x", "c")),
    "rebound_number": (lambda: discounted, lambda: (3.0,), ("coupon",)),
    "argument_rebound": (lambda: grown, lambda: (0.5, 0.3), ("x0", "a")),
    "helpers_in_a_loop": (lambda: row_norms, lambda: (np.array([[1.0, 2.0, 3.0], [-0.4, 0.5, 0.6],
                                                               [0.9, 0.1, -0.7]]), 0.7),
                          ("X", "a")),
    "two_stencils": (lambda: two_stencils, lambda: (_rng().uniform(0.0, 1.0, 6),
                                                    _rng().uniform(0.0, 1.0, 6)), ("u", "v")),
    "sparse_rows": (lambda: sparse_rows, lambda: (
        np.array([1.0, 2.0, -1.0, 0.5, 0.7]), np.array([0, 2, 1, 3, 0]), np.array([0, 2, 4, 5]),
        np.array([0.3, -1.2, 2.0, 0.5])), ("vals", "x")),
    "kinked": (lambda: kinked, lambda: (np.array([0.4, -0.2, 1.3, 0.8]), 0.9), ("x", "a")),
    "defaulted_helper": (lambda: defaulted_calls, lambda: (np.linspace(0.2, 1.0, 5), 1.3),
                         ("x", "k")),
    "squared_stages": (lambda: squared_stages, lambda: (np.linspace(0.2, 1.0, 5), 0.7),
                       ("x", "k")),
    "nudged_grid": (lambda: nudged_grid, lambda: (np.linspace(0.2, 0.95, 6), 0.6), ("x", "k")),
    "ragged": (lambda: ragged, lambda: (_rng().uniform(0.0, 1.0, 6), 0.7, 0.4),
               ("x", "w", "c")),
    "ragged_one": (lambda: ragged, lambda: (np.array([0.3]), 0.7, 0.4), ("x", "w", "c")),
}


@functools.cache
def compiled(name: str):
    """(the function, its njit version, the numba gradient) of a program, built once."""
    fn, _, wrt = PROGRAMS[name]
    fn = fn()
    plain = fn.py_func if hasattr(fn, "py_func") else fn
    jitted = fn if hasattr(fn, "py_func") else numba.njit(fn)
    return plain, jitted, adjoint.grad(jitted, wrt=wrt)


def central(f, args: list, k: int, v, eps: float = 1e-6) -> float:
    up, down = list(args), list(args)
    up[k] = args[k] + eps * v
    down[k] = args[k] - eps * v
    return (f(*up) - f(*down)) / (2 * eps)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_gradient_against_differences_and_numpy(name):
    plain, jitted, df = compiled(name)
    _, make, wrt = PROGRAMS[name]
    args = list(make())
    grads = df(*args)
    expected = check_grads(plain, args, wrt)  # the NumPy backend, against differences
    params = list(plain.__code__.co_varnames[:plain.__code__.co_argcount])
    rng = np.random.default_rng(1)
    for w, g, e in zip(wrt, grads, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
        assert np.shape(g) == np.shape(args[params.index(w)])
        v = rng.standard_normal(np.shape(g)) if np.ndim(g) else 1.0
        numeric = central(plain, args, params.index(w), v)
        assert np.isclose(np.sum(g * v), numeric, rtol=1e-5, atol=1e-7), (w, g, numeric)
    if name == "euler":  # the seed scales; value_and_grad shares the code
        np.testing.assert_allclose(df(*args, loss_bar=2.0), 2.0 * np.asarray(grads))
        value, again = adjoint.value_and_grad(plain, wrt=wrt, backend="numba")(*args)
        assert value == pytest.approx(plain(*args))
        np.testing.assert_allclose(again, grads)


def test_emitted_code_is_njit_with_array_tapes():
    _, _, df = compiled("euler")
    df(*PROGRAMS["euler"][1]())
    text = adjoint.source(df)
    assert "@njit(cache=True)" in text
    assert "_stack.append(" not in text and ".pop()" not in text
    assert "runtime.tape_like(x_stack_witness, 0)" in text  # typed before the loop
    assert "if x_stack_top + len(loop_range) > x_stack_cap:" in text  # room made once


def source(name: str) -> str:
    """The emitted numba module of a program, for its example arguments."""
    _, _, df = compiled(name)
    return df.__adjoint_source__(*PROGRAMS[name][1]())


def forward_of(text: str, loop: str) -> str:
    """The first emitted block whose head starts with `loop`: its head and body."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip().startswith(loop))
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next(k for k in range(start + 1, len(lines))
               if len(lines[k]) - len(lines[k].lstrip()) <= indent and lines[k].strip())
    return "\n".join(lines[start:end])


def test_nested_tapes_make_room_before_the_outer_loop():
    text = source("heat")  # the inner range's bound, n - 1, is computed before the loop
    inside = forward_of(text, "for t in t_range:")
    assert "tape_capacity" not in inside and "tape_grow" not in inside
    assert " + len(t_range) * (len(range(1, n_shifted))) > " in text
    assert "if runtime.never():" in inside and "_top < 0:" not in inside


def test_inner_ranges_reading_the_outer_target_are_summed_by_a_counting_loop():
    text = source("nested_triangle")  # range(i + 1, n)
    assert "for i_counted in i_range:" in text
    assert "_need += len(range((i_counted + 1), n))" in text
    inside = forward_of(text, "for i in i_range:")
    assert "tape_capacity" not in inside and "tape_grow" not in inside


@pytest.mark.parametrize("name, inner", [
    ("shrinking", "for i in i_range:"),  # its bound is bound again after the inner loop
    ("bounds", "for i in i_range_3:"),  # its bound is a call's value
    ("bounds", "for i in i_range_4:"),  # a step read from an argument
    ("guarded", "for i in i_range:"),  # under an if
    ("broken", "for i in i_range:"),  # a loop left by break
])
def test_room_is_made_where_the_inner_loop_starts_where_its_trips_are_not_known(name, inner):
    text = source(name)
    outer = forward_of(text, "for t in t_range:")
    assert outer.index("tape_grow") < outer.index(inner)  # made inside the outer loop
    assert "tape_grow" not in forward_of(text, inner)  # but not per push


def test_while_loops_check_capacity_per_push():
    text = source("while_in_for")
    loop = forward_of(text, "while ")
    assert "== total_stack_cap:" in loop and "_top < 0:" in loop
    inner = forward_of(text, "for i in i_range:")
    assert "tape_grow" not in inner and "tape_grow" in loop  # room made when it starts


def test_tape_layouts():
    text = source("heat")
    assert "new_stack" not in text and "u_stack" not in text  # copies of u0: u0's shape
    assert "runtime.zeros_into(u_bar_buffer, u0)" in text
    assert "total_stack" not in text  # a number (u's items are): nothing kept for its shape
    assert "diff_plus_u_ip1_stack = runtime.tape_like(" in text  # its value is read
    shrinking = source("narrowing")  # each step's grid a point shorter: its shape kept
    assert "u_stack = runtime.shape_tape_like(" in shrinking
    assert "runtime.shape_get(u_stack, u_stack_top, u_stack_spare)" in shrinking
    assert "prey_saved_stack = runtime.tape_like(" in source("rk4")


@pytest.mark.parametrize("name, present, absent", [
    ("heat", ["new_bar = runtime.owned_unless(new_bar, u0, t_later)",  # no copy after trip 1
              "u_bar = runtime.zeros_into(u_bar_buffer, u0)",  # zeros in an earlier trip's array
              "u_bar_buffer = runtime.keep_buffer(u_bar_buffer, new_bar)",
              "for i in runtime.backwards(range(1, i_range.stop)):",  # LLVM knows i >= 1
              "u_bar[i + 1] += u_bar_ip1",  # each entry written once a step (jit/carry.py)
              "kappa_bar_per_i[i - 1] += ",  # no chain of adds into one number (spread.py)
              "kappa_bar += runtime.total(kappa_bar_per_i)"],
     ["runtime.owned(", "u_bar_witness", "u_bar[i - 1] +=", "kappa_bar += new"]),
    ("ragged", ["w_bar_per_i[i - 1] += ", "c_bar_per_i[i - 1] += ",
                "w_bar += runtime.total(w_bar_per_i)"], ["acc_bar_per"]),
    ("strided", ["for i in runtime.backwards(range(2, i_range.stop, 2)):",
                 "for i in runtime.backwards(range(5, i_range_2.stop, -1)):"],
     ["_ip1 = 0.0"]),  # trips a step of 2 apart: no neighbours carried
    ("broken", ["for i in runtime.backwards(range(0, i_range.stop), i_trips):"], []),
    ("nbody", ["for j in runtime.backwards(j_range):"],  # range(i + 1, n): no literal start
     ["zeros_into", "owned_unless"]),
    ("heat2d", ["runtime.zeros_into(", "for j in runtime.backwards(range(1, j_range.stop)):"],
     []),
])
def test_reversed_loops_reuse_arrays_and_tell_their_bounds(name, present, absent):
    text = source(name)
    assert all(p in text for p in present), [p for p in present if p not in text]
    assert not any(a in text for a in absent), [a for a in absent if a in text]
    assert "    if runtime.never():\n        x_stack_witness = []" in source("euler")


@pytest.mark.parametrize("name, size", [("heat", 2), ("heat", 3), ("ring", 1), ("ring", 2),
                                        ("coupled", 2), ("coupled", 3), ("narrowing", 4),
                                        ("two_stencils", 2), ("two_stencils", 4)])
def test_stencil_adds_carried_in_numbers_hold_at_every_size(name, size):
    """A reversed stencil sums its adds into neighbouring entries in numbers (jit/carry.py):
    right where the loop makes no trip, one trip, or wraps a negative index."""
    plain, _, df = compiled(name)
    args, wrt = list(PROGRAMS[name][1]()), PROGRAMS[name][2]
    args = [a[:size].copy() if isinstance(a, np.ndarray) else a for a in args]
    for got, expected in zip(df(*args), check_grads(plain, args, wrt), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    text = source(name)
    assert "u_bar_ip1 = 0.0" in text or "u_bar_i = 0.0" in text, text
    if name == "two_stencils":
        assert "v_bar[i + 1] += v_bar_ip1" in text and "u_bar[i + 1] += u_bar_ip1" in text


@pytest.mark.parametrize("x, a", [([0.3, 0.5, 0.0, 0.9], 0.7), ([1.3, 0.5, 1.3], 0.5)])
def test_extrema_split_ties_as_the_numpy_backend(x, a):
    """At ties (max(0.0, 0.0), np.maximum(0.3, 0.3), two equal maxima of np.max) each
    attaining argument gets an equal share, in numba as in the NumPy backend."""
    plain, _, df = compiled("kinked")
    x = np.array(x)
    for got, expected in zip(df(x, a), adjoint.grad(plain, wrt=("x", "a"))(x, a), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_bounds_hold_with_numba_checking_them(tmp_path):
    """numba does not check bounds: a tape written past its room would corrupt memory. Run
    the loop nests again with NUMBA_BOUNDSCHECK=1 (an IndexError where room is short)."""
    names = ["heat", "nbody", "triangle", "bounds", "deep", "guarded", "heat2d", "ring",
             "narrowing", "coupled", "strided"]
    script = (f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
              "import numpy as np, test_numba as t\n"
              f"for name in {names!r}:\n    plain, _, df = t.compiled(name)\n"
              "    args, wrt = list(t.PROGRAMS[name][1]()), t.PROGRAMS[name][2]\n"
              "    for g, e in zip(df(*args), t.check_grads(plain, args, wrt)):\n"
              "        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)\nprint('ok')\n")
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "ADJOINT_CACHE": str(tmp_path),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


DATA_MODULE = """
import numpy as np
K = 2.0
W = np.array([1.0, 2.0, 3.0])

def term(xi, i):
    return K * W[i] * xi ** 2

def loss(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += term(x[i], i)
    return s
"""


def test_module_data_is_read_at_each_call(tmp_path, monkeypatch):
    """numba compiles a global's value into the code: the numba gradient takes the module's
    numbers and arrays as arguments instead, read at each call, so a rebound, resized or
    changed global is what it computes with, as the function itself does (a helper's
    reads are passed through its callers)."""
    (tmp_path / "data_module.py").write_text(DATA_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import data_module as m

    df = adjoint.grad(m.loss, backend="numba")
    assert "def grad_loss_njit(x, loss_bar, K, W)" in adjoint.source(df, np.ones(3))

    def expected(x):
        return 2 * m.K * m.W[:x.size] * x

    changes = [lambda: None, lambda: setattr(m, "K", 3.0),
               lambda: setattr(m, "W", np.array([5.0, 6.0, 7.0, 8.0])),
               lambda: m.W.__setitem__(0, -1.0), lambda: setattr(m, "K", 1)]
    for change, n in zip(changes, (3, 3, 4, 4, 4), strict=True):
        change()
        x = np.linspace(0.5, 1.5, n)
        np.testing.assert_allclose(df(x), expected(x), rtol=1e-12)


CONFIG_MODULE = """
import numpy as np
scale = 0.5
W = np.array([1.0, 2.0, 3.0, 4.0])
"""

ATTRIBUTE_MODULE = """
import numpy as np
import numba
import data_config

@numba.njit
def term(xi, i):
    return data_config.W[i] * data_config.scale * xi ** 2

@numba.njit
def loss(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += term(x[i], i) + data_config.scale * np.pi * x[i]
    return s
"""


def test_module_attributes_are_read_at_each_call(tmp_path, monkeypatch):
    """`cfg.scale`, `cfg.W` (a module's data read through the module, in the function and
    in an njit helper it differentiates) are passed to the njit code as a module's names
    are: rebinding one, changing an array in place, or making an int of a float is what the
    next call computes with (np.pi is compiled in)."""
    (tmp_path / "data_config.py").write_text(CONFIG_MODULE)
    (tmp_path / "attribute_module.py").write_text(ATTRIBUTE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import attribute_module as m
    import data_config as c

    df = adjoint.grad(m.loss)
    x = np.linspace(0.5, 1.5, 3)
    text = adjoint.source(df, x)
    kernels = [line for line in text.split("def grad_loss(")[0].splitlines()
               if not line.strip().startswith("#")]
    assert not any("data_config." in line for line in kernels), text  # passed in
    assert "return grad_loss_njit(x, loss_bar, data_config.W, data_config.scale)" in text
    assert "np.pi" in text

    def expected(x):
        return 2 * c.W[:x.size] * c.scale * x + c.scale * np.pi

    changes = [lambda: None, lambda: setattr(c, "scale", 3.0),
               lambda: setattr(c, "W", np.array([5.0, 6.0, 7.0, 8.0])),
               lambda: c.W.__setitem__(0, -1.0), lambda: setattr(c, "scale", 2)]
    for change in changes:
        change()
        np.testing.assert_allclose(df(x), expected(x), rtol=1e-12)


SWITCHING_MODULE = """
import numpy as np

def scale(v):
    return v * v

def loss(x, a, n=3):
    s = 0.0
    for k in range(n):
        for i in range(x.shape[0]):
            s += a * scale(x[i]) * (k + 1)
    return s
"""


def _cube(v):
    return v * v * v


def test_later_calls_run_the_version_built_for_them(tmp_path, monkeypatch):
    """A call with the types of an earlier one runs its version after two checks written
    out per version (jit/guards.py): of the arguments' types, and of the defaults and
    globals compiled in. Calls that change one of them, in turn, against central
    differences of the function as it is then."""
    (tmp_path / "switching_module.py").write_text(SWITCHING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import switching_module as m

    df = adjoint.grad(m.loss, wrt="x", backend="numba")
    x = np.linspace(0.3, 1.2, 6)
    calls = [
        ("first", lambda: None, (x, 0.5)),
        ("again", lambda: None, (x, 0.5)),
        ("an int", lambda: None, (x, 2)),
        ("a float again", lambda: None, (x, 0.5)),
        ("strided", lambda: None, (x[::2], 0.5)),
        ("defaults replaced", lambda: setattr(m.loss, "__defaults__", (5,)), (x, 0.5)),
        ("a global rebound", lambda: setattr(m, "scale", _cube), (x, 0.5)),
        ("a keyword", lambda: None, (x, 0.5, 2)),
    ]
    for case, change, args in calls:
        change()
        got = df(*args)
        v = np.random.default_rng(3).standard_normal(args[0].shape)
        numeric = central(m.loss, list(args), 0, v)
        assert np.isclose(np.sum(got * v), numeric, rtol=1e-6, atol=1e-8), case


def test_a_version_runs_only_for_the_types_and_sources_it_was_built_for():
    """jit/guards.py: an entry runs its call (with the wrapper's defaults after the
    arguments) for arguments of the types it was made for, and sends anything else the long
    way (MISS): other dtypes, dimensions, number types, counts, containers, subclasses; and
    a function whose defaults were replaced, unless Compiled.refresh finds them the same."""
    from adjoint.jit import _type_key
    from adjoint.jit.guards import MISS, entry

    def owner(x, a, n=3):
        return x

    stale = []
    compiled = types.SimpleNamespace(data=(), code=(), defaults=((owner, (3,), None),),
                                     refresh=lambda: not stale)
    x = np.ones(3)
    ran = entry(compiled, None, lambda *a: a, (7,), _type_key((x, 0.5)))
    assert ran.go((x, 0.5)) == (x, 0.5, 7)
    others = [(x,), (x, 0.5, 1), (x.astype(np.float32), 0.5), (np.ones((3, 1)), 0.5),
              (x, 1), (x, np.float64(0.5)), (x.tolist(), 0.5), (x.view(np.recarray), 0.5),
              (x > 0, 0.5)]
    assert [ran.go(args) is MISS for args in others] == [True] * len(others)
    owner.__defaults__ = (int("3"),)  # an equal tuple, another object: refresh decides
    assert ran.go((x, 0.5)) == (x, 0.5, 7)
    stale.append(True)
    assert ran.go((x, 0.5)) is MISS


def test_module_data_across_processes(tmp_path):
    """A new process whose module holds other values: the gradient (and numba's own disk
    cache of its machine code) computes with them, not with those of the first compile."""
    (tmp_path / "data_module.py").write_text(DATA_MODULE)
    script = ("import numpy as np, adjoint, data_module as m\n"
              "print(repr(adjoint.grad(m.loss, backend='numba')(np.ones(3)).tolist()))")
    env = {**os.environ, "ADJOINT_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(tmp_path),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    got = []
    for k in ("2.0", "5.0"):
        (tmp_path / "data_module.py").write_text(DATA_MODULE.replace("K = 2.0", f"K = {k}"))
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, timeout=300, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        got.append(eval(out.stdout))
    assert got == [[4.0, 8.0, 12.0], [10.0, 20.0, 30.0]]


def noisy(x):
    """Draws from NumPy's global generator in a loop."""
    t = 0.0
    for _ in range(3):
        t = t + np.sin(x * np.random.rand())
    return t


def seeded_noisy(x):
    """noisy, seeding the generator it draws from first."""
    np.random.seed(3)
    t = 0.0
    for _ in range(3):
        t = t + np.sin(x * np.random.rand())
    return t


def test_random_draws_of_a_python_function_are_refused():
    """numba draws from generators of its own: the numba gradient of a Python function
    that draws would see other numbers than the function (its gradient silently wrong),
    so it is refused; an njit function draws from numba's, as its gradient does."""
    with pytest.raises(NumbaUnsupported, match=r"draws random numbers \(np.random.rand\)"):
        adjoint.grad(noisy, backend="numba")
    jitted = numba.njit(seeded_noisy)  # seeds numba's generator: the same draws each call
    want = (jitted(0.4 + 1e-6) - jitted(0.4 - 1e-6)) / 2e-6
    assert adjoint.grad(jitted)(0.4) == pytest.approx(want, rel=1e-6)


def test_source_shows_the_numba_module():
    _, _, df = compiled("euler")
    text = df.__adjoint_source__(*PROGRAMS["euler"][1]())
    assert "@njit(cache=True)" in text and "runtime.tape_like(" in text


def test_refuses_what_numba_cannot_compile():
    def uses_dict(x):
        d = {"a": x}
        total = 0.0
        for _ in range(3):
            total = total + d["a"] * x
        return total

    with pytest.raises(NumbaUnsupported, match="cannot compile the gradient of uses_dict: "
                       "adjoints of lists, tuples or dicts"):
        adjoint.grad(uses_dict, backend="numba")(1.5)


def _keyword_only(x, *, k=2.0):
    return x * k


def _starred(x, *rest):
    return x * 2.0


@pytest.mark.parametrize("fn, says", [(_keyword_only, "keyword-only parameters"),
                                      (_starred, r"\*args or \*\*kwargs")])
def test_refuses_parameters_numba_cannot_take_saying_which(fn, says):
    with pytest.raises(NumbaUnsupported, match=f"cannot compile {fn.__name__}: it takes {says}"):
        adjoint.grad(fn, backend="numba")(1.5)


def scale():
    return 2.0


def test_translates_numba_errors():
    def calls_python(x):
        return x * x * scale()

    df = adjoint.grad(calls_python, backend="numba")
    with pytest.raises(NumbaUnsupported, match="numba cannot compile the gradient of "
                       "calls_python: Untyped global name 'scale'.*in `") as caught:
        df(1.5)
    assert "TypingError" not in str(caught.value)


def test_a_lowering_numba_lacks_is_refused():
    """numba types `y[...] = v` but has no code for its gradient's `y_bar[...]`: a
    NotImplementedError of its compiler is a refusal, not a crash."""
    def whole_write(x):
        y = x * 1.0
        y[...] = 2.0 * y
        return np.sum(y)

    df = adjoint.grad(whole_write, backend="numba")
    with pytest.raises(NumbaUnsupported, match="numba cannot compile the gradient of "
                       "whole_write"):
        df(np.array([1.5, 2.0]))
    np.testing.assert_allclose(adjoint.grad(whole_write)(np.array([1.5, 2.0])), [2.0, 2.0])


def test_refuses_a_try_naming_the_statement():
    def guarded(x):
        try:
            y = x * 2.0
        except ValueError:
            y = x
        return y * y

    with pytest.raises(NumbaUnsupported, match="try statement"):
        adjoint.grad(guarded, backend="numba")


def test_unknown_backend():
    with pytest.raises(adjoint.ApiError, match="backend must be"):
        adjoint.grad(relax, backend="jax")
