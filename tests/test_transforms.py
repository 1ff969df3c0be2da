"""The toolbox around the gradient: what a gradient's signature and docstring say, and the
vector-Jacobian product as a (value, pullback) pair, checked against the gradient with the
same seed and against central differences."""

import dataclasses
import functools
import inspect
import typing

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.testing import check_grads

SOURCE = """
def loss(W, b, X, *, lam=0.1, **extra):
    return np.sum(np.tanh(X @ W + b)) + lam * np.sum(W ** 2)

def model(W, X, scale=1.0):
    return np.tanh(X @ W) * scale

class Net:
    def loss(self, w, x):
        return np.sum((w * x) ** 2)
"""
NS = make_function(SOURCE, name="loss").__globals__

SIGNATURES = [
    ("keyword-only, **kwargs", lambda: adjoint.grad(NS["loss"], wrt=("W", "b")),
     "(W, b, X, *, lam=0.1, loss_bar=1.0, **extra)"),
    ("a default", lambda: adjoint.grad(NS["model"]), "(W, X, scale=1.0, *, model_bar=1.0)"),
    ("value_and_grad", lambda: adjoint.value_and_grad(NS["model"], wrt="scale"),
     "(W, X, scale=1.0, *, model_bar=1.0)"),
    ("a bound method: no self", lambda: adjoint.grad(NS["Net"]().loss),
     "(w, x, *, loss_bar=1.0)"),
    ("a partial fixing a keyword", lambda: adjoint.grad(
        functools.partial(NS["model"], scale=3.0)), "(W, X, *, scale=3.0, model_bar=1.0)"),
    ("a partial fixing the first", lambda: adjoint.grad(
        functools.partial(NS["model"], np.ones((3, 2)))), "(X, scale=1.0, *, model_bar=1.0)"),
]


@pytest.mark.parametrize("label, make, expected", SIGNATURES, ids=[s[0] for s in SIGNATURES])
def test_signature_shows_the_seed(label, make, expected):
    df = make()
    assert str(inspect.signature(df)) == expected
    seed = expected.split("*, ")[1].split("=1.0")[0].split(", ")[-1]
    assert seed in df.__doc__ and "adjoint.source" in df.__doc__


def test_docstring_names_what_it_returns():
    df = adjoint.value_and_grad(NS["loss"], wrt=("W", "b"))
    assert df.__doc__.startswith("The gradient of loss with respect to W, b")
    assert "returns (loss's value, a tuple of gradients (W, b))" in df.__doc__


VJPS = [
    ("one parameter", "model", "W", {}),
    ("two, one a keyword", "model", ("W", "scale"), {"scale": 2.0}),
    ("by position", "model", (1, 0), {}),
]


@pytest.mark.parametrize("label, name, wrt, kwargs", VJPS, ids=[v[0] for v in VJPS])
def test_vjp_is_the_gradient_with_that_seed(label, name, wrt, kwargs):
    f = NS[name]
    r = np.random.default_rng(0)
    args = (r.normal(size=(3, 2)), r.normal(size=(4, 3)))
    value, pullback = adjoint.vjp(f, wrt=wrt)(*args, **kwargs)
    np.testing.assert_allclose(value, f(*args, **kwargs))
    v = r.normal(size=value.shape)
    got = pullback(v)
    want = adjoint.grad(f, wrt=wrt)(*args, **kwargs, **{f"{name}_bar": v})
    for a, b in zip(got if isinstance(wrt, tuple) else (got,),
                    want if isinstance(wrt, tuple) else (want,), strict=True):
        np.testing.assert_allclose(a, b)
    weighted = make_function(f"""
def weighted(W, X, v, scale=1.0):
    return np.sum(v * {name}(W, X, scale))
""", {name: f})
    check_grads(weighted, [*args, v], 0, kwargs=kwargs)


def test_pullback_is_called_once():
    value, pullback = adjoint.vjp(NS["model"])(np.ones((3, 2)), np.ones((4, 3)))
    pullback(np.ones_like(value))
    with pytest.raises(adjoint.AdjointError, match="called already"):
        pullback(np.ones_like(value))


def test_vjp_wrt_names_a_parameter():
    with pytest.raises(adjoint.AdjointError, match="names no parameter of model"):
        adjoint.vjp(NS["model"], wrt="V")


JACOBIANS = [
    ("a vector model", "def f(x, A):\n    return np.tanh(A @ x) * x[0]\n",
     lambda r: [r.normal(size=3), r.normal(size=(4, 3))], 0),
    ("a matrix output, two parameters", "def f(W, b):\n    return np.sin(W * b) + W ** 2\n",
     lambda r: [r.normal(size=(2, 3)), r.normal(size=3)], (0, 1)),
    ("a scalar output", "def f(x):\n    return np.sum(np.exp(x))\n",
     lambda r: [r.normal(size=4)], 0),
    ("a loop writing in place", """
def f(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = x[i] * x[(i + 1) % 3]
    return y
""", lambda r: [r.normal(size=3)], 0),
]


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
@pytest.mark.parametrize("label, src, build, wrt", JACOBIANS, ids=[j[0] for j in JACOBIANS])
def test_jacobian_against_central_differences(label, src, build, wrt, mode):
    f = make_function(src)
    args = build(np.random.default_rng(1))
    got = adjoint.jacobian(f, wrt=wrt, mode=mode)(*args)
    for j, w in enumerate(wrt if isinstance(wrt, tuple) else (wrt,)):
        J = got[j] if isinstance(wrt, tuple) else got
        x = np.asarray(args[w], dtype=float)
        out = np.asarray(f(*args))
        assert J.shape == out.shape + x.shape
        for k in range(x.size):
            e = np.zeros(x.size)
            e[k] = 1e-6
            up = [a if i != w else x + e.reshape(x.shape) for i, a in enumerate(args)]
            down = [a if i != w else x - e.reshape(x.shape) for i, a in enumerate(args)]
            column = (np.asarray(f(*up)) - np.asarray(f(*down))) / 2e-6
            np.testing.assert_allclose(J.reshape(out.shape + (x.size,))[..., k], column,
                                       rtol=1e-5, atol=1e-7)


def test_jacobian_mode_is_checked():
    with pytest.raises(adjoint.AdjointError, match="mode is 'auto', 'reverse' or 'forward'"):
        adjoint.jacobian(NS["model"], mode="sideways")


class Pair(typing.NamedTuple):
    a: np.ndarray
    b: float


@dataclasses.dataclass
class Params:
    W: np.ndarray
    steps: int
    rate: float


FLATTEN_TREES = {
    "a dict of arrays and a number": lambda: {"W": np.arange(6.0).reshape(2, 3), "b": 0.5},
    "a list and a tuple": lambda: [np.ones(2), (np.zeros((1, 2)), 2.0)],
    "a named tuple": lambda: Pair(np.array([1.0, 2.0]), 3.0),
    "a dataclass with a static int": lambda: Params(np.array([[1.0], [2.0]]), 4, 0.25),
}


@pytest.mark.parametrize("name", sorted(FLATTEN_TREES))
def test_flatten_and_back(name):
    tree = FLATTEN_TREES[name]()
    vector, unflatten = adjoint.flatten(tree)
    assert vector.dtype == np.float64 and vector.ndim == 1
    back = unflatten(vector * 2.0)
    assert type(back) is type(tree)
    np.testing.assert_array_equal(adjoint.flatten(back)[0], vector * 2.0)
    with pytest.raises(adjoint.ApiError, match="a vector of"):
        unflatten(vector[:-1])


CLASHES = """
def f(x, k=2.0):
    f_bar = np.sum(x ** 2)
    return f_bar * k

def g(x, y):
    x_dot = x - 1.0
    return np.sum(np.sin(x_dot) * x_dot) * y
"""
CLASH = make_function(CLASHES, name="f").__globals__


def _along(fn, x, v, eps=1e-6):
    return (fn(x + eps * v) - fn(x - eps * v)) / (2 * eps)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_seed_keyword_is_f_bar_where_f_has_a_variable_of_that_name(backend):
    """The emitted code names its seed f_bar_2 beside f's own f_bar; f_bar= still seeds."""
    if backend == "numba":
        pytest.importorskip("numba")
    x = np.array([1.5, -2.0])
    df = adjoint.grad(CLASH["f"], backend=backend)
    np.testing.assert_allclose(df(x, f_bar=3.0), 3.0 * 2.0 * 2.0 * x)
    assert "f_bar" in inspect.signature(df).parameters


def test_tangent_keywords_are_x_dot_where_f_has_a_variable_of_that_name():
    g, x, v = CLASH["g"], np.array([1.5, 0.2]), np.array([0.3, -1.0])
    value, dot = adjoint.jvp(g, "x")(x, 2.0, x_dot=v)
    assert value == pytest.approx(g(x, 2.0))
    assert dot == pytest.approx(_along(lambda z: g(z, 2.0), x, v), rel=1e-6)
    hv = adjoint.hvp(g, "x")(x, 2.0, x_dot=v)
    np.testing.assert_allclose(hv, _along(lambda z: adjoint.grad(g)(z, 2.0), x, v), rtol=1e-6)
    for made in (adjoint.jvp(g, "x"), adjoint.hvp(g, "x")):  # the code for such a call
        assert "x_dot_2" in adjoint.source(made, x, 2.0)


def test_a_parameter_named_like_the_tangent_is_refused_naming_the_keyword():
    h = make_function("def h(v, v_dot):\n    return np.sum(v * v_dot) + np.sum(v ** 3)\n")
    x = np.array([1.5, 2.0])
    with pytest.raises(adjoint.AdjointError, match="needs the tangent v_dot_2=.*v_dot is a "
                                                   "parameter of h"):
        adjoint.jvp(h, "v")(x, 2 * x, v_dot=np.ones(2))
    _, dot = adjoint.jvp(h, "v")(x, 2 * x, v_dot_2=np.ones(2))
    assert dot == pytest.approx(np.sum(2 * x) + 3 * np.sum(x ** 2))


def _cube(x):
    return np.sum(x ** 3)


def _sin(v):
    return np.sin(v)


def _residuals(w, *data):
    X, y = data
    return np.sum((X @ w - y) ** 2)


_W, _X, _Y = np.ones(2), np.array([[1.0, 0.5], [0.2, 2.0]]), np.array([1.0, 3.0])

MISUSED = {  # calls a user can get wrong: each an ApiError naming what is wrong
    "tangent of another shape": (lambda: adjoint.jvp(_cube)(np.ones(2), x_dot=np.ones((2, 2))),
                                 r"x_dot= has shape \(2, 2\), but x has shape \(2,\)"),
    "array tangent of a number": (lambda: adjoint.hvp(_cube)(1.5, x_dot=np.ones(3)),
                                  r"has shape \(3,\), but x has shape \(\)"),
    "cotangent of another shape": (lambda: adjoint.vjp(_sin)(np.ones(2))[1](np.ones(3)),
                                   r"result's shape \(2,\), not \(3,\)"),
    "cotangent of a number's result": (lambda: adjoint.vjp(_cube)(np.ones(2))[1](np.ones(2)),
                                       r"result's shape \(\), not \(2,\)"),
    "a tangent for no parameter in wrt": (
        lambda: adjoint.jvp(_residuals)(_W, _X, _Y, w_dot=_W, y_dot=_Y),
        "y_dot= is for no parameter in wrt"),
    "vjp of *args": (lambda: adjoint.vjp(_residuals, wrt=-1)(_W, _X, _Y),
                     r"wrt picks \*data"),
    "hessian of a tuple": (lambda: adjoint.hessian(_residuals, wrt="data")(_W, _X, _Y),
                           "takes arrays and numbers; data holds a tuple"),
    "jacobian of a dict": (lambda: adjoint.jacobian(lambda p: p["a"] ** 2)({"a": 1.0}),
                           "takes arrays and numbers; p holds a dict"),
}


@pytest.mark.parametrize("name", sorted(MISUSED))
def test_misused_transforms_say_what_is_wrong(name):
    call, words = MISUSED[name]
    with pytest.raises(adjoint.errors.ApiError, match=words):
        call()


def test_wrt_picks_the_same_parameter_in_every_transform():
    """wrt=-1 of `f(w, *data)` is *data in grad, jvp and hvp alike (vjp refuses it)."""
    g = adjoint.grad(_residuals, wrt=-1)(_W, _X, _Y)
    dX, dy = np.ones((2, 2)), np.array([0.5, -1.0])
    _, dot = adjoint.jvp(_residuals, wrt=-1)(_W, _X, _Y, data_dot=(dX, dy))
    assert dot == pytest.approx(np.sum(g[0] * dX) + np.sum(g[1] * dy))


def test_hvp_of_a_partial_and_of_a_bound_method():
    """What a partial fixes by keyword, and the object a bound method reads, pass to the
    function's own hvp."""
    def loss(w, X, lam):
        return np.sum((X @ w) ** 3) + lam * w @ w

    class Model:
        def __init__(self):
            self.X = _X

        def objective(self, w):
            return np.sum(np.tanh(self.X @ w) ** 2)

    w, v = np.array([0.3, -0.2]), np.array([1.0, 0.5])
    for fn in (functools.partial(loss, X=_X, lam=0.1), Model().objective):
        df = adjoint.grad(fn)
        fd = (df(w + 1e-6 * v) - df(w - 1e-6 * v)) / 2e-6
        np.testing.assert_allclose(adjoint.hvp(fn)(w, w_dot=v), fd, rtol=1e-6, atol=1e-8)
