"""Results written into temporaries the gradient reads no more (inplace.py,
runtime/inplace.py), in code specialized on the shapes of large arrays.

Each program is checked against central differences (a dot-product test along random
directions), with the optimizer on and off; the two gradients must be equal to the last bit
(a ufunc writing into a spent temporary computes what the operator computes), and the
specialized code must write into exactly the temporaries listed. The near misses (a
temporary read twice, one a view is taken of, a loop's state kept on a tape) keep their
allocations; float32 arrays and broadcasting to a larger shape reach the operator at run
time."""

import copy
import re

import numpy as np
import pytest
from conftest import make_function
from programs import PROGRAMS as CORPUS

import adjoint
import adjoint.program
from adjoint import inplace, runtime
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
""", [(N,), (N,), (N,)], {"x_w", "r", "r_bar"}),
    "a smooth penalty of a difference": ("""
def f(u, v):
    d = u - 2.0 * v
    s = np.sqrt(1.0 + d * d)
    return np.sum(s) / d.shape[0]
""", [(N,), (N,)], {"v_scaled", "d_d", "d_d_shifted"}),
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
""", [(N,), (N,)], {"w_h", "z", "z_bar"}),
    "a tanh layer with a bias": ("""
def f(W, b, X):
    h = np.tanh(X @ W + b)
    return np.mean(h ** 2)
""", [(64, 128), (128,), (512, 64)], {"XW", "XW_plus_b", "h_bar"}),
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
    return set(re.findall(r"runtime\.(?:add|subtract|multiply|divide|unary)\(.*, out=(\w+)\)",
                          code))


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
    (runtime.unary, np.tanh, x64 * 1, 1, True),
    (runtime.unary, np.exp, x32 * 1, 1, True),
    (runtime.unary, np.exp, np.arange(6) * 1, 1, False),  # float64 from ints
    (runtime.unary, np.sqrt, (x64 * 1)[::2], 1, True),  # a strided view of its own memory
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_runtime_writes_only_what_the_operator_gives(case):
    op, x, y, k, expect = CASES[case]
    x = x.copy() if isinstance(x, np.ndarray) else x
    y = y.copy() if isinstance(y, np.ndarray) else y
    plain = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
             "divide": np.true_divide, "unary": lambda u, v: u(v)}[op.__name__]
    want = plain(np.asarray(x) if isinstance(x, list) else x,
                 np.asarray(y) if isinstance(y, list) else y)
    out = (x, y)[k]
    got = op(x, y, out=out)
    assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
    assert np.array_equal(got, want)
    assert (got is out) == expect


@pytest.mark.parametrize("name", ["Rosenbrock with slices", "a tanh layer with a bias",
                                  "a smooth penalty of a difference"])
def test_differentiated_again(name):
    """hvp is forward mode over the specialized gradient, whose calls written into spent
    temporaries are the operations they compute: H v against differences of gradients."""
    source, shapes, written = PROGRAMS[name]
    f = make_function(source)
    args = _args(shapes)
    g = adjoint.grad(f)
    assert written & _written(adjoint.source(g, *args))
    v = np.random.default_rng(3).normal(size=args[0].shape)
    hv = adjoint.hvp(f)(*args, **{f"{f.__code__.co_varnames[0]}_dot": v})
    eps = 1e-5
    fd = (g(args[0] + eps * v, *args[1:]) - g(args[0] - eps * v, *args[1:])) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


@pytest.mark.parametrize("program", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_with_every_array_large(program, monkeypatch):
    """Every program of the language corpus, with every array counted large: the gradient
    writing into spent temporaries is the gradient without, to the last bit."""
    monkeypatch.setattr(inplace, "LARGE", 1)
    args = program.args(np.random.default_rng(0))
    on = adjoint.grad(make_function(program.src), wrt=program.wrt)
    got = on(*copy.deepcopy(args))
    monkeypatch.setattr(adjoint.program, "written_into", lambda e: e)
    off = adjoint.grad(make_function(program.src), wrt=program.wrt)
    want = off(*copy.deepcopy(args))
    for a, b in zip(_leaves(got), _leaves(want), strict=True):
        assert type(a) is type(b) and np.asarray(a).dtype == np.asarray(b).dtype
        assert np.array_equal(a, b, equal_nan=True)


def _leaves(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree, key=repr) for leaf in _leaves(tree[key])]
    return [tree]
