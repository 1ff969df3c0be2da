"""Small helpers' statements put in place of their calls (inline.py), where a gradient is
specialized on the shapes of its arrays.

Each program is written as people write helpers: an activation, a cell stepping a state,
a helper that rebinds its parameter, one with a branch, keyword arguments and literal
defaults, helpers calling helpers, names shared by the helper and its caller. Each is
checked against central differences, with the optimizer on and off, and for whether the
specialized code still calls a split adjoint (`_fwd`); the near misses keep their calls."""

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint import inline
from adjoint.errors import AdjointError
from adjoint.testing import check_grads

# name: (source, wrt, argument shapes, whether every call is inlined)
PROGRAMS = {
    "an activation in a loop": ("""
def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def f(w, x):
    h = x
    for _ in range(3):
        h = sigmoid(w * h + 0.1)
    return np.sum(h ** 2)
""", (0, 1), [(4,), (4,)], True),
    "a cell returning a tuple": ("""
def cell(w, h, c, x):
    n = h.shape[0]
    gate = 1 / (1 + np.exp(-(x * w[:n] + w[n:2 * n])))
    c = c * gate + np.tanh(h * w[2 * n:])
    h = gate * np.tanh(c)
    return h, c

def f(w, x):
    h = np.zeros(3)
    c = np.zeros(3)
    total = 0.0
    for t in range(x.shape[0]):
        h, c = cell(w, h, c, x[t])
        total = total + np.sum(h * c)
    return total
""", (0, 1), [(9,), (4, 3)], True),
    "a parameter rebound first thing": ("""
def scaled(x, k):
    x = x * k
    return np.sin(x) + x

def f(x):
    return np.sum(scaled(x, 2.0) * scaled(x[::-1], 0.5))
""", 0, [(5,)], True),
    "a parameter carried through the helper's loop": ("""
def smooth(u, steps):
    for _ in range(steps):
        u = 0.5 * u + 0.25 * np.roll(u, 1) + 0.25 * np.roll(u, -1)
    return u

def f(u):
    return np.sum(smooth(u, 3) ** 3)
""", 0, [(6,)], True),
    "a branch in the helper": ("""
def rotate(r, X):
    theta2 = np.dot(r, r)
    if theta2 != 0:
        theta = np.sqrt(theta2)
        v = r / theta
        Xc = X * np.cos(theta) + np.cross(v, X) * np.sin(theta)
    else:
        Xc = X + np.cross(r, X)
    return Xc

def f(cams, X):
    total = 0.0
    for i in range(cams.shape[0]):
        p = rotate(cams[i], X[i])
        total = total + np.sum(p[0:2] / p[2])
    return total
""", (0, 1), [(3, 3), (3, 3)], True),
    "keywords and a literal default": ("""
def softplus(x, beta=1.0, limit=20.0):
    return np.log1p(np.exp(beta * np.minimum(x, limit))) / beta

def f(x, y):
    return np.sum(softplus(x) + softplus(beta=2.0, x=y * x))
""", (0, 1), [(4,), (4,)], True),
    "helpers calling helpers": ("""
def square(v):
    return v * v

def energy(v, w):
    return np.sum(square(v) * w) + np.sum(square(w))

def f(v, w):
    return energy(v, w) + energy(w[::-1], v)
""", (0, 1), [(3,), (3,)], True),
    "locals named like the caller's": ("""
def helper(x):
    y = x * 2.0
    total = np.sum(y)
    return total * y

def f(x):
    y = x + 1.0
    total = helper(y)
    y = helper(total) + y
    return np.sum(y * total)
""", 0, [(3,)], True),
    "the result passed back in": ("""
def step(s, a):
    s = s + a * np.sin(s)
    return s

def f(s, a):
    for _ in range(4):
        s = step(s, a)
    return np.sum(s)
""", (0, 1), [(3,), (3,)], True),
    "an accumulator added to in place": ("""
def energy(v, w):
    total = 0.0
    for k in range(v.shape[0]):
        total += w[k] * v[k] ** 2
    out = np.tanh(v)
    out *= w
    return total + np.sum(out)

def f(v, w):
    return energy(v, w) * energy(w, v)
""", (0, 1), [(3,), (3,)], True),
    "a keyword named out": ("""
def smooth(x, out=None, weight=0.5):
    if out is None:
        out = x * 2.0
    return weight * out + (1 - weight) * x

def f(x, y):
    return np.sum(smooth(x, out=y, weight=0.2) * smooth(y))
""", (0, 1), [(3,), (3,)], True),
    "one helper's local named like another's global": ("""
def first(x):
    K = x * 2.0
    return np.sum(K * x)

def second(x):
    return np.sum(x * K)

def f(x):
    return first(x) + second(x) * first(x[::-1])
""", 0, [(3,)], True),
    "a function passed: kept a call": ("""
def apply(fn, x):
    return fn(x) * x

def f(x):
    return np.sum(apply(np.tanh, x))
""", 0, [(4,)], False),
    "a starred tuple of known length": ("""
def pair(a, b):
    return a * b

def f(x):
    parts = (x, x[::-1])
    return np.sum(pair(*parts))
""", 0, [(4,)], True),
    "a helper filling the state it makes, row by row": ("""
def step(w, state, x):
    new = np.zeros_like(state)
    for i in range(state.shape[0]):
        new[i] = np.tanh(w[i] * state[i] + x)
    return new

def f(w, xs):
    s = np.ones((2, 3))
    total = 0.0
    for t in range(xs.shape[0]):
        s = step(w, s, xs[t])
        total = total + np.sum(s * s)
    return total
""", 0, [(2, 3), (4, 3)], True),
}


def _args(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) * 0.5 for s in shapes]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_inlined_helpers_match_finite_differences(name, optimize):
    src, wrt, shapes, inlined = PROGRAMS[name]
    f = make_function(src, {"K": 1.5})
    args = _args(shapes)
    check_grads(f, args, wrt, optimize=optimize)
    code = adjoint.source(adjoint.grad(f, wrt=wrt, optimize=optimize), *args)
    assert ("_fwd(" not in code) == inlined, code


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_hvp_where_helpers_are_inlined(name):
    """hvp is forward mode over the gradient specialized on the arguments' shapes, which
    keeps the helpers' calls: H v against differences of gradients."""
    src, wrt, shapes, _ = PROGRAMS[name]
    f = make_function(src, {"K": 1.5})
    args = _args(shapes)
    first = wrt[0] if isinstance(wrt, tuple) else wrt
    v = np.random.default_rng(5).normal(size=shapes[first])
    g = adjoint.grad(f, wrt=first)
    name_dot = f"{f.__code__.co_varnames[first]}_dot"
    hv = adjoint.hvp(f, wrt=first)(*args, **{name_dot: v})
    eps = 1e-5
    moved = [[a + s * eps * v if k == first else a for k, a in enumerate(args)]
             for s in (1, -1)]
    fd = (g(*moved[0]) - g(*moved[1])) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7 * (1 + np.abs(fd).max()))


def test_inlined_code_reads_as_one_function():
    """The helper's lines head their share of the reverse sweep as `helper: line`, and its
    locals take the caller's names (the result, the call's target)."""
    f = make_function(PROGRAMS["an activation in a loop"][0])
    code = adjoint.source(adjoint.grad(f, wrt=(0, 1)), *_args([(4,), (4,)]))
    assert "# grad of: sigmoid: return 1 / (1 + np.exp(-z))" in code
    assert "h = 1 / exp_neg_z_shifted" in code
    assert code.count("def ") == 1


def test_a_helper_past_the_size_limit_keeps_its_call(monkeypatch):
    monkeypatch.setattr(inline, "MAX_STATEMENTS", 2)
    f = make_function(PROGRAMS["a cell returning a tuple"][0])
    args = _args([(9,), (4, 3)])
    check_grads(f, args, (0, 1))
    assert "cell_fwd(" in adjoint.source(adjoint.grad(f, wrt=(0, 1)), *args)


def test_a_helper_whose_global_the_caller_hides_keeps_its_call():
    """The helper reads its module's `scale`; the caller has a local of that name: inlined,
    the helper's statements would read the caller's local."""
    boost = make_function("def boost(x):\n    return np.exp(x) * scale\n", {"scale": 2.0})
    f = make_function("def f(x):\n    scale = x * 3.0\n    return np.sum(boost(x) * scale)\n",
                      {"boost": boost})
    args = _args([(3,)])
    (g,) = check_grads(f, args, (0,))
    x = args[0]
    np.testing.assert_allclose(g, 6.0 * np.exp(x) * (x + 1.0))
    assert "boost_fwd(" in adjoint.source(adjoint.grad(f), *args)


def test_an_error_in_an_inlined_helper_names_the_helper_line():
    """A call with no derivative rule inside the helper: the error points at the helper's
    own line, not the caller's."""
    f = make_function("""
def helper(x):
    y = x * 2.0
    return np.sum(np.unwrap(y))

def f(x):
    return helper(x) + 1.0
""")
    with pytest.raises(AdjointError) as info:
        adjoint.grad(f)(np.ones(3))
    assert info.value.lineno == 3, (info.value.lineno, str(info.value))
    assert "unwrap" in str(info.value)


@pytest.mark.parametrize("limit", [0, inline.MAX_STATEMENTS], ids=["called", "inlined"])
def test_a_selection_of_a_helpers_result_leaves_zeros_not_nan(limit, monkeypatch):
    """h(x)[0] with h = sqrt and x[1] = 0: the derivative with respect to x[1] is 0. A split
    adjoint's seed holds the zero its caller's pick put there, and sqrt's infinite slope at 0
    must not turn it into nan."""
    monkeypatch.setattr(inline, "MAX_STATEMENTS", limit)
    f = make_function("def h(x):\n    return np.sqrt(x)\ndef f(x):\n    return h(x)[0] * 3.0\n")
    with np.errstate(divide="ignore", invalid="ignore"):
        g = adjoint.grad(f)(np.array([4.0, 0.0]))
    np.testing.assert_array_equal(g, [0.75, 0.0])


@pytest.mark.parametrize("fn,kept", [("np.sqrt", True), ("np.log", True), ("np.tanh", False),
                                     ("np.sin", False), ("np.arctan", False)])
def test_zeros_are_kept_only_through_slopes_that_can_be_infinite(fn, kept):
    """Under a selection, a slope that is infinite at some finite input (sqrt and log at 0)
    gets its zeros kept; a bounded one (tanh, sin, arctan) is written as it is."""
    f = make_function(f"def h(x):\n    return {fn}(x)\ndef f(x):\n    return h(x)[0] * 3.0\n")
    x = np.array([0.7, 0.0, 2.0])
    df = adjoint.grad(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = df(x)
    expected = np.zeros(3)
    expected[0] = 3.0 * {"np.sqrt": 0.5 / np.sqrt(0.7), "np.log": 1 / 0.7,
                         "np.tanh": 1 - np.tanh(0.7) ** 2, "np.sin": np.cos(0.7),
                         "np.arctan": 1 / (1 + 0.7 ** 2)}[fn]
    np.testing.assert_allclose(g, expected)
    assert ("keep_zeros" in adjoint.source(df, x)) == kept
    assert ("keep_zeros" in adjoint.source(df)) == kept  # the split helper's seed, too
