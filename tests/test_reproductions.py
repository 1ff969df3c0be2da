"""Programs written for other differentiation tools that adjoint once got silently wrong.

One row per program: its source, the arguments, `wrt`, and the exact gradient where it is known
by hand (None: central differences alone decide). Every row is checked against central
differences with the optimizer on and off, and the gradient must have its argument's type,
shape and dtype.
"""

import warnings

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.testing import check_grads

A = np.array([1.0, 2.0])
B = np.array([3.0])

# (id, source, args, wrt, exact gradient or None)
CASES = [
    ("r_ of two arrays", """
def f(x):
    b = np.r_[x, x]
    return np.sum(b * np.arange(1.0, 13.0).reshape(6, 2))
""", [np.arange(6.0).reshape(3, 2)], 0, np.array([[8.0, 10], [12, 14], [16, 18]])),
    ("c_ of two arrays", """
def f(x):
    return np.sum(np.c_[x, x] * 2.0)
""", [np.arange(6.0).reshape(3, 2)], 0, np.full((3, 2), 4.0)),
    ("r_ of a range, an array and a scalar", """
def f(x):
    b = np.r_[0:2, x, np.sum(x)]
    return np.sum(b * np.arange(1.0, 7.0))
""", [np.array([1.0, 2.0, 3.0])], 0, np.array([9.0, 10.0, 11.0])),
    ("c_ of two vectors", """
def f(x):
    return np.sum(np.c_[x, x ** 2] * np.arange(1.0, 7.0).reshape(3, 2))
""", [np.array([1.0, 2.0, 3.0])], 0, np.array([5.0, 19.0, 41.0])),
    ("r_ with an axis directive", """
def f(x):
    return np.sum(np.r_['0,2', x, x] * np.arange(1.0, 7.0).reshape(2, 3))
""", [np.array([1.0, 2.0, 3.0])], 0, np.array([5.0, 7.0, 9.0])),
    ("vstack of one array", """
def f(x):
    return np.sum(np.vstack(x) * np.arange(1.0, 7.0).reshape(3, 2))
""", [np.arange(6.0).reshape(3, 2)], 0, np.arange(1.0, 7.0).reshape(3, 2)),
    ("hstack of one array", """
def f(x):
    return np.sum(np.hstack(x) * np.arange(1.0, 7.0))
""", [np.arange(6.0).reshape(3, 2)], 0, np.arange(1.0, 7.0).reshape(3, 2)),
    ("column_stack of one array", """
def f(x):
    return np.sum(np.column_stack(x) * np.arange(1.0, 7.0).reshape(2, 3))
""", [np.arange(6.0).reshape(3, 2)], 0, np.arange(1.0, 7.0).reshape(2, 3).T),
    ("dstack of one array", """
def f(x):
    return np.sum(np.dstack(x) * np.arange(1.0, 7.0).reshape(1, 2, 3))
""", [np.arange(6.0).reshape(3, 2)], 0, np.arange(1.0, 7.0).reshape(2, 3).T),
    ("stack of one array", """
def f(x):
    return np.sum(np.stack(x, axis=1) * np.arange(1.0, 7.0).reshape(2, 3))
""", [np.arange(6.0).reshape(3, 2)], 0, np.arange(1.0, 7.0).reshape(2, 3).T),
    ("concatenate of one array", """
def f(x):
    return np.sum(np.concatenate(x) * np.arange(1.0, 7.0))
""", [np.arange(6.0).reshape(3, 2)], 0, np.arange(1.0, 7.0).reshape(3, 2)),
    ("builtin sum over the rows of an array", """
def f(x):
    return np.sum(sum(x) * np.array([1.0, 2.0]))
""", [np.arange(6.0).reshape(3, 2)], 0, np.array([[1.0, 2.0]] * 3)),
    ("math.fsum of an array", """
import math

def f(x):
    return math.fsum(x) * 3.0
""", [np.array([1.0, 2.0, 3.0])], 0, np.full(3, 3.0)),
    ("einsum in the sublist form", """
def f(x):
    return np.sum(np.einsum(x, (0, 1), (1, 0)) * np.arange(1.0, 7.0).reshape(2, 3))
""", [np.arange(6.0).reshape(3, 2)], 0, np.arange(1.0, 7.0).reshape(2, 3).T),
    ("einsum in the sublist form, two operands", """
def f(x):
    return np.einsum(x, [0, 1], x, [0, 1])
""", [np.arange(6.0).reshape(3, 2)], 0, 2.0 * np.arange(6.0).reshape(3, 2)),
    ("a string literal continued on the next line, in a helper", """
def scaled(v):
    note = ("twice "
            "the value")
    return v * 2.0

def f(x):
    return np.sum(scaled(x))
""", [np.array([1.0, 2.0])], 0, np.array([2.0, 2.0])),
    ("slice of a list", """
def f(x):
    y = x[1:3]
    return y[0]
""", [[1.0, 2.0, 3.0]], 0, [0.0, 1.0, 0.0]),
    ("slice object on a list", """
def f(x):
    s = slice(None, -1, None)
    y = x[s]
    return y[0]
""", [[1.0, 2.0, 3.0]], 0, [1.0, 0.0, 0.0]),
    ("item of a slice of a mixed list", """
def f(x):
    return x[1:][0]
""", [[np.array([1.0]), 2.0, 1.5]], 0, [np.array([0.0]), 1.0, 0.0]),
    ("list parameter through two levels of helpers", """
def predict(params, x):
    W, b = params[0]
    return np.dot(x, W) + b

def inner(params, x1, x2):
    return np.sum(predict(params, x1)) + np.sum(predict(params, x2))

def outer(params, x1, x2):
    return inner(params, x1, x2)
""", [[(np.ones((2, 1)), np.zeros(1))], np.array([[1.0, 2.0]]), np.array([[10.0, 20.0]])], 0,
        [(np.array([[11.0], [22.0]]), np.array([2.0]))]),
    ("lists joined with +", """
def f(xs):
    ys = xs[::-1]
    zs = ys + xs
    return np.sum(np.stack(zs) * np.arange(4.0)[:, None])
""", [[A, np.array([0.5, -1.0])]], 0, [np.full(2, 3.0), np.full(2, 3.0)]),
    ("a list slice passed to a helper twice", """
def h(ps):
    return ps[0] * ps[1]

def f(ps):
    q = h(ps)
    r = h(ps[::-1])
    return np.sum(q + r)
""", [[A, np.array([0.5, -1.0])]], 0, [np.array([1.0, -2.0]), np.array([2.0, 4.0])]),
    ("tuple of a list parameter", """
def f(xs):
    t = tuple(xs)
    return np.sum(t[0] * t[1])
""", [[np.ones(2), np.full(2, 2.0)]], 0, [np.full(2, 2.0), np.ones(2)]),
    ("list of an array's rows, grown", """
def f(x):
    rows = list(x)
    rows.append(x[0])
    return np.sum(np.stack(rows) ** 2)
""", [np.array([[1.0, 2.0], [3.0, 4.0]])], 0, np.array([[4.0, 8.0], [6.0, 8.0]])),
    ("recursion whose other branch computes on arrays", """
def total(v):
    if isinstance(v, (list, tuple)):
        return sum(total(u) for u in v)
    return np.sum(v ** 2 + v + v)

def f(ps):
    return total(ps)
""", [[A, [B]]], 0, [2 * A + 2, [2 * B + 2]]),
    ("a list added to an array", """
def f(xs, y):
    a, b = xs
    z = xs + y
    return np.sum(z ** 2) + np.sum(a)
""", [[A, np.array([2.0, 2.0])], np.array([[1.0, 0.5], [0.2, 0.3]])], 0,
        [np.array([5.0, 6.0]), np.array([4.4, 4.6])]),
    ("dict keys tested with in and a break", """
def f(P):
    v = P["w"]
    for key in P:
        if key in ("w", "b"):
            break
    return v * P["b"]
""", [{"w": -1.377, "b": 0.5}], 0, {"w": 0.5, "b": -1.377}),
    ("a tuple read by item and stacked in a helper", """
def h(ps, p):
    return ps[-1] * np.sum(np.stack(ps)) * p

def f(ps, x):
    return np.sum(h(ps, x))
""", [(np.ones(2), 2 * np.ones(2)), np.array([0.3, 1.2])], 0,
        (np.array([3.0, 3.0]), np.array([4.8, 10.2]))),
    ("recursion over nested lists", """
def flat(v):
    if isinstance(v, list):
        return np.concatenate([flat(u) for u in v])
    return np.ravel(v)

def f(p):
    v = flat(p)
    return np.dot(v, v)
""", [[[A, B]]], 0, [[2 * A, 2 * B]]),
    ("item of a nested list read twice", """
def f(p):
    a = p[0]
    return np.sum(a[0] * a[1])
""", [[[A, A + 1.0]]], 0, [[A + 1.0, A]]),
    ("defaults keep the values of their def", """
GAIN = 1.7
OFFSET = np.array([1.0, -1.0])
def f(x, gain=GAIN, offset=OFFSET, *, scale=GAIN):
    return gain * scale * np.sum((x + offset) ** 2)
GAIN = 2.9
OFFSET = np.array([5.0, 5.0])
""", [np.array([1.0, 2.0])], 0, 1.7 * 1.7 * 2 * np.array([2.0, 1.0])),
    ("attributes of a module-level array", """
W0 = np.ones((2, 3))

def f(x):
    n = W0.shape[0]
    return np.sum(x * n) + np.sum(W0.T @ x[:2]) + np.sum(x * W0.mean())
""", [np.ones(3)], 0, np.array([6.0, 6.0, 3.0])),
    ("std of entries equal but for rounding", """
def f(c):
    c /= 1.5 + np.sin(1.5)
    c **= 2
    return c + np.std(np.divide(np.zeros((3,)) + c, 2.0 + np.tanh(c)))
""", [-0.883], 0, None),
    ("an adjoint zero on every path, added to, then written by item", """
def f(x, A, y):
    acc1 = [np.zeros((4,)) + a for a in x]
    v3 = x
    for i4 in range(1):
        return np.sum(np.stack(acc1))
    if np.mean(y) < 0.05:
        x = np.hypot(v3, A[-4])
    return np.sum(x)
""", [np.array([-0.351, -1.045, -1.42]), np.ones((4, 3)), np.zeros(4)], 0, np.full(3, 4.0)),
    ("a list unpacked, then read by item", """
def f(x, xs):
    w6, w7, w8 = xs
    return np.sum(w8) + np.sum(xs[0] * x)
""", [np.array([0.411]), [np.array([-1.45]), np.array([0.94]), np.array([1.238])]], 1,
        [np.array([0.411]), np.array([0.0]), np.array([1.0])]),
    ("items of a list of several shapes added with broadcasting", """
def h(ps):
    return np.sum(ps[2], axis=0) * np.sum(np.sin(ps[2] + ps[0]))

def f(x):
    return np.sum(h([x, x, np.arange(8.0).reshape(4, 2)]))
""", [np.array([0.411, -0.691])], 0, None),
    ("tril drops an infinite derivative", """
def f(x):
    xy = x.reshape(-1, 2)
    diff = xy[:, None, :] - xy[None, :, :]
    d = np.sqrt(np.sum(diff ** 2, axis=-1))
    return np.sum(np.tril(d, -1) ** 2)
""", [np.array([0.1, 0.5, 1.2, -0.3, 0.7, 0.9])], 0, None),
    ("triu and a boolean mask drop an infinite derivative", """
def f(x):
    diff = x[:, None] - x[None, :]
    d = np.sqrt(diff ** 2)
    upper = np.triu(d, 1)
    off = d[~np.eye(len(x), dtype=bool)]
    return np.sum(upper) + np.sum(np.log1p(off))
""", [np.array([0.3, -0.4, 1.1])], 0, None),
    ("a mask multiplied in drops an infinite derivative", """
def f(x, mask):
    d = np.sqrt(x * x)
    return np.sum(d * mask)
""", [np.array([0.0, 2.0, -1.5]), np.array([0.0, 1.0, 1.0])], 0, np.array([0.0, 1.0, -1.0])),
    ("an index selection drops an infinite derivative", """
def f(x):
    r = np.log(x)
    return r[1] + r[2] ** 2
""", [np.array([0.0, 2.0, 3.0])], 0, np.array([0.0, 0.5, 2 * np.log(3.0) / 3])),
    ("a value set in an inner loop and read after it, inside the outer loop", """
def f(x):
    y = 0.0
    for i in range(3):
        for j in range(2):
            t = np.sin(x[i] * (j + 1))
        y = y + t * t
    return y
""", [np.array([0.3, 0.7, 1.1])], 0, 2 * np.sin(4 * np.array([0.3, 0.7, 1.1]))),
    ("a while loop's last value read after it, inside a for loop", """
def f(x):
    total = 0.0
    for xi in x:
        k = 0
        while k < 3:
            r = xi ** (k + 1)
            k += 1
        total = total + r * xi
    return total
""", [np.array([0.5, 1.5, -0.8])], 0, 4 * np.array([0.5, 1.5, -0.8]) ** 3),
    ("a row computed in a nested loop and used after it, per outer trip", """
def f(W, x):
    out = 0.0
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            row = W[i] * x[j]
        out = out + np.dot(row, row)
    return out
""", [np.arange(1.0, 7.0).reshape(2, 3), np.array([0.5, 2.0, -1.0])], 0,
        2 * np.arange(1.0, 7.0).reshape(2, 3)),
    ("a dict's key read by d[k] only after the loop over its keys", """
def f(x, P):
    s = 0.0
    for k in P:
        s = s + np.sum(x * 2.0)
    return s + np.sum(P[k] * x)
""", [np.array([1.0, 2.0]), {"w": np.array([3.0, 4.0])}], 0, np.array([5.0, 6.0])),
    ("an attribute of a module-level object that a method changes in the loop", """
class Stepper:
    def __init__(self):
        self.scale = 2.0

    def bump(self):
        self.scale += 1.0

S = Stepper()

def f(x):
    S.scale = 2.0
    s = 0.0
    for i in range(3):
        c = S.scale
        s = s + c * x[i]
        S.bump()
    return s
""", [np.array([0.5, 1.0, 1.5])], 0, np.array([2.0, 3.0, 4.0])),
    ("an attribute set in the loop that reads it", """
class Config:
    scale = 1.0

CFG = Config()

def f(x):
    CFG.scale = 1.0
    s = 0.0
    for xi in x:
        s = s + CFG.scale * np.sin(xi)
        CFG.scale = CFG.scale * 2.0
    return s
""", [np.array([0.5, 1.0, 1.5])], 0, np.array([1.0, 2.0, 4.0]) * np.cos([0.5, 1.0, 1.5])),
    ("an index array from argmin along an axis, with repeated entries", """
def f(x, D):
    idx = np.argmin(D, axis=1)
    return np.sum(x[idx] * np.array([1.0, 2.0, 4.0]))
""", [np.array([3.0, 1.0]), np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])], 0,
        np.array([3.0, 4.0])),
    ("hard k-means: points pulled by the centroid argmin assigns", """
def f(centroids, X):
    d = np.sum((X[:, None, :] - centroids[None]) ** 2, axis=2)
    assign = np.argmin(d, axis=1)
    return np.sum((X - centroids[assign]) ** 2)
""", [np.array([[0.0, 0.0], [3.0, 3.0]]), np.array([[0.5, 0.1], [0.2, 0.4], [2.5, 3.5]])], 0,
        np.array([[-1.4, -1.0], [1.0, -1.0]])),
    ("an array unpacked into names, in a helper called twice", """
def g(y):
    a, b = y
    return a * b

def f(x):
    y = x + 0.0
    return g(y) + g(x * 2.0)
""", [np.array([1.5, -0.7])], 0, np.array([-0.7 * 5, 1.5 * 5])),
    ("a write through a slice and an index array (checked for repeats as it runs)", """
def f(x, idx):
    y = np.zeros((2, 3))
    y[:, idx] = x
    return np.sum(y * np.arange(6.0).reshape(2, 3))
""", [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([2, 0])], 0,
        np.array([[2.0, 0.0], [5.0, 3.0]])),
    ("a list item written into the array it came from after an early return", """
def f(x):
    v = np.outer(x, x)
    rows = [np.max(v, axis=0), np.sin(x)]
    for r in rows:
        for j, t in enumerate(x):
            v = v * t + r[j]
            for _ in rows[1:]:
                if t > 2.0:
                    return np.sum(v)
            v[j % 3] = rows[0]
    return np.sum(x) + np.sum(v)
""", [np.array([0.375, 1.192, 0.827])], 0, None),
]


def _same(got, want):
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), (got, want)
        for k in want:
            _same(got[k], want[k])
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), (got, want)
        for g, w in zip(got, want, strict=True):
            _same(g, w)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("src, args, wrt, exact", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_reproduction(src, args, wrt, exact, optimize):
    f = make_function(src)
    (got,) = check_grads(f, args, (wrt,), optimize=optimize)
    if exact is not None:
        _same(got, exact)
    assert np.all(np.isfinite(np.concatenate([np.ravel(v) for v in _leaves(got)])))


def _leaves(g):
    if isinstance(g, dict):
        g = list(g.values())
    if isinstance(g, (list, tuple)):
        return [leaf for item in g for leaf in _leaves(item)]
    return [np.asarray(g, dtype=float)]


def _same_type(got, want):
    """The gradient has its argument's type, shape and dtype (an array's is an array)."""
    if isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), (got, want)
        for g, w in zip(got, want, strict=True):
            _same_type(g, w)
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"a {type(got).__name__} for an array"
        assert (got.shape, got.dtype) == (want.shape, want.dtype), (got, want)


@pytest.mark.parametrize("src, args, wrt, exact", [c[1:] for c in CASES if c[4] is not None],
                         ids=[c[0] for c in CASES if c[4] is not None])
def test_reproduction_type(src, args, wrt, exact):
    _same_type(adjoint.grad(make_function(src), wrt=wrt)(*args), args[wrt])


def test_row_stack_is_vstack():
    """np.row_stack (deprecated in NumPy 2) differentiates as np.vstack, also of one array."""
    if not hasattr(np, "row_stack"):
        pytest.skip("this NumPy has no np.row_stack")
    f = make_function("def f(x):\n    return np.sum(np.row_stack(x) * np.arange(1.0, 7.0)"
                      ".reshape(3, 2))\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        g = adjoint.grad(f)(np.zeros((3, 2)))
    _same_type(g, np.zeros((3, 2)))
    np.testing.assert_array_equal(g, np.arange(1.0, 7.0).reshape(3, 2))


F32 = [  # bodies whose adjoints once made a float32 argument's gradient float64
    "np.max(x)", "np.min(x)", "np.sum(np.maximum(x, 0.0))", "np.sum(np.minimum(x, 0.0) ** 2)",
    "np.max(np.stack([x, -x]), axis=0, where=np.array([True, False, True]), initial=-9.0)"
    ".sum()", "np.ptp(x)", "np.sum(np.fmax(x, 0.5) + np.fmin(x, 0.5))",
    "np.mean(x, where=x > -5.0)", "np.nanmean(x)", "np.sum(np.exp2(x) + np.log2(x * x))",
    "np.sum(np.log10(x * x))", "np.sum(np.ldexp(x, np.array([1, 2, 3])))",
    "np.sum(np.frexp(x * 1.5)[0])", "np.sum(x.astype(np.float64) ** 2)", "np.sum(np.repeat(x, 2))",
    "np.sum(np.pad(x, 2, mode='edge') ** 2)", "np.linalg.norm(x, np.inf)",
    "np.linalg.norm(np.outer(x, x) + np.eye(3, dtype=np.float32), 'nuc')",
    "np.linalg.norm(np.outer(x, x), 1)", "np.linalg.norm(np.outer(x, x), 2)",
    "np.sum(np.linalg.qr(np.outer(x, x) + np.diag(x))[1])", "np.sum(np.r_[x, 2.0] ** 2)",
    "np.sum(sum([x, x]) ** 2)", "np.sum(np.sum([x, x * 2.0]))", "math.fsum(x)",
]


@pytest.mark.parametrize("body", F32)
def test_float32_is_kept(body):
    """The gradient of a float32 argument is float32 through every adjoint."""
    f = make_function(f"import math\n\ndef f(x):\n    return {body}\n")
    x = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    df = adjoint.grad(f)
    g = df(x)
    assert g.dtype == np.float32, body
    assert df.__adjoint__.function(x).dtype == np.float32, body  # the code, without the cast
    (want,) = check_grads(f, [x.astype(np.float64)], (0,))
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


def test_float32_gradient_of_a_function_mixing_float64():
    """A function that mixes float64 values in still gets its float32 argument's gradient in
    float32 (as its type and shape, the dtype is the argument's)."""
    f = make_function("def f(x, w):\n    return np.sum(np.sin(2.0) * x * np.float64(3.0) * w)\n")
    x, w = np.ones(3, np.float32), np.ones(3)
    assert adjoint.grad(f)(x, w).dtype == np.float32
    gx, gw = adjoint.grad(f, wrt=(0, 1))(x, w)
    assert (gx.dtype, gw.dtype) == (np.float32, np.float64)
    np.testing.assert_allclose(gx, 3 * np.sin(2.0), rtol=1e-6)
    gx, (gp,) = adjoint.grad(make_function(
        "def f(x, ps):\n    return np.sum(x * np.ones((2, 1)) + sum(ps))\n"), wrt=(0, 1))(
        x[:1], [np.array([[-0.5], [1.5]], dtype=np.float32)])
    assert (gx.dtype, gp.dtype) == (np.float32, np.float32)  # items of a list too
    (_, aux), g = adjoint.value_and_grad(
        make_function("def f(x):\n    return np.sum(x * np.float64(2.0)), 1\n"), has_aux=True)(x)
    assert g.dtype == np.float32 and aux == 1


# a write into a view a NumPy function returns, or into what d.get returned, then a read
# of the original: refused (a silently wrong gradient before those were known to share)
VIEW_WRITES = {
    "np.rot90": "z = np.rot90(y.reshape(2, 2))\n    z[0, 0] = 5.0",
    "np.rollaxis": "z = np.rollaxis(y.reshape(2, 2), 1)\n    z[0, 0] = 5.0",
    "np.flip": "z = np.flip(y)\n    z[0] = 5.0",
    "np.fliplr": "z = np.fliplr(y.reshape(2, 2))\n    z[0, 0] = 5.0",
    "np.flipud": "z = np.flipud(y)\n    z[0] = 5.0",
    "np.real_if_close": "z = np.real_if_close(y)\n    z[0] = 5.0",
    "dict.get": "z = {'a': y}.get('a', x)\n    z[0] = 5.0",
}


@pytest.mark.parametrize("name", sorted(VIEW_WRITES))
def test_write_into_a_view_is_refused(name):
    f = make_function(f"def f(x):\n    y = x * 1.0\n    {VIEW_WRITES[name]}\n"
                      "    return np.sum(y * x)\n")
    with pytest.raises(adjoint.AdjointError, match="may share its memory"):
        adjoint.grad(f)(np.arange(4.0))
