"""Results written into temporaries the gradient reads no more (inplace.py,
runtime/inplace.py), in code specialized on the shapes of large arrays.

Each program is checked against central differences (a dot-product test along random
directions), with the optimizer on and off; the two gradients must be equal to the last bit
(a ufunc writing into a spent temporary computes what the operator computes), and the
specialized code must write into exactly the temporaries listed. The near misses (a
temporary read twice, one a view is taken of, a loop's state kept on a tape) keep their
allocations; float32 arrays and broadcasting to a larger shape reach the operator at run
time."""

import re

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint import runtime
from adjoint.inplace import LARGE
from adjoint.testing import dot_product_test

N = 2 * LARGE + 6  # entries: large enough to be worth it (halves too), and even

# name: (source, argument shapes, the temporaries written into)
PROGRAMS = {
    "Rosenbrock with slices": ("""
def f(x):
    x_odd = x[0::2]
    x_even = x[1::2]
    a = x_even - x_odd ** 2
    b = 1 - x_odd
    return np.sum(100 * a ** 2 + b ** 2)
""", [(N,)], {"x_odd_sq", "a", "b"}),
    "a least-squares residual": ("""
def f(w, x, y):
    r = x * w - y
    return 0.5 * np.sum(r * r)
""", [(N,), (N,), (N,)], {"x_w", "r"}),
    "a smooth penalty of a difference": ("""
def f(u, v):
    d = u - 2.0 * v
    s = np.sqrt(1.0 + d * d)
    return np.sum(s) / d.shape[0]
""", [(N,), (N,)], {"v_scaled", "d_d"}),
    "a temporary read twice": ("""
def f(x):
    a = x * x
    return np.sum(a * a) + np.sum(np.sin(a))
""", [(N,)], set()),
    "a view of a temporary": ("""
def f(x):
    a = 3.0 * x
    head = a[: a.shape[0] // 2]
    return np.sum(head * head) + np.sum(a)
""", [(N,)], set()),
    "a loop: its state kept on a tape, its scratch reused": ("""
def f(x, w):
    h = x
    for _ in range(3):
        z = w * h + 0.5
        h = np.tanh(z)
    return np.sum(h)
""", [(N,), (N,)], {"w_h"}),
    "a temporary broadcast against a matrix": ("""
def f(x, m):
    a = 2.0 * x
    t = a + m
    return np.sum(t * t)
""", [(N,), (2, N)], {"a", "t"}),
}


def _args(shapes, dtype=np.float64):
    rng = np.random.default_rng(7)
    return [rng.uniform(0.5, 1.5, size=s).astype(dtype) for s in shapes]


def _written(code: str) -> set:
    return set(re.findall(r"runtime\.(?:add|subtract|multiply|divide)\(.*, out=(\w+)\)", code))


@pytest.mark.parametrize("name", PROGRAMS)
def test_gradient(name, optimize):
    source, shapes, _ = PROGRAMS[name]
    f = make_function(source)
    dot_product_test(f, _args(shapes), tuple(range(len(shapes))), optimize=optimize)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", PROGRAMS)
def test_same_bits_and_temporaries(name, dtype):
    source, shapes, written = PROGRAMS[name]
    f = make_function(source)
    wrt = tuple(range(len(shapes)))
    on, off = adjoint.grad(f, wrt=wrt), adjoint.grad(f, wrt=wrt, optimize=False)
    args = _args(shapes, dtype)
    for a, b in zip(on(*args), off(*args), strict=True):
        assert a.dtype == b.dtype
        assert np.array_equal(a, b)
    assert _written(adjoint.source(on, *args)) == written
    assert not _written(adjoint.source(off, *args))


def test_small_arrays_keep_their_allocations():
    f = make_function(PROGRAMS["Rosenbrock with slices"][0])
    assert not _written(adjoint.source(adjoint.grad(f), np.ones(1000)))


x64 = np.linspace(1.0, 2.0, 6)
x32 = x64.astype(np.float32)
row = np.linspace(0.0, 1.0, 3)

# (operation, x, y, which of them is `out`, whether it is written into)
CASES = [
    (runtime.subtract, x64, x64 * 2, 1, True),
    (runtime.multiply, 3.0, x64 * 2, 1, True),
    (runtime.divide, x64 * 2, np.float64(4.0), 0, True),
    (runtime.add, x64.reshape(2, 3) * 1, row, 0, True),  # y broadcasts into out's shape
    (runtime.add, row * 1, x64.reshape(2, 3), 0, False),  # the result is larger than out
    (runtime.multiply, x32 * 1, x64, 0, False),  # float32 out, float64 result
    (runtime.multiply, x32 * 1, 2.0, 0, True),  # a Python float keeps float32
    (runtime.divide, np.arange(6) * 1, 2, 0, False),  # an int array
    (runtime.subtract, np.float64(2.0), np.float64(1.0), 1, False),  # numbers
    (runtime.add, np.ones((0,)) * 1, 1.0, 0, True),
    (runtime.multiply, x64 * 1, [1.0] * 6, 0, False),  # a list: the operator's own way
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_runtime_writes_only_what_the_operator_gives(case):
    op, x, y, k, expect = CASES[case]
    x = x.copy() if isinstance(x, np.ndarray) else x
    y = y.copy() if isinstance(y, np.ndarray) else y
    plain = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
             "divide": np.true_divide}[op.__name__]
    want = plain(np.asarray(x) if isinstance(x, list) else x,
                 np.asarray(y) if isinstance(y, list) else y)
    out = (x, y)[k]
    got = op(x, y, out=out)
    assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
    assert np.array_equal(got, want)
    assert (got is out) == expect
