"""Forward mode: `adjoint.jvp` against the reverse mode on the whole corpus (the tangent
along v must be the gradient's inner product with v), against central differences on
programs of its own, and its refusals and emitted code."""

import copy
import math
import textwrap

import numpy as np
import pytest
from conftest import make_function
from programs import PROGRAMS

import adjoint
from adjoint.errors import UnsupportedSyntax
from adjoint.rules.numeric import TRAPEZOIDS

# corpus programs forward mode refuses today, with the reason (a strict check: when one
# starts to work, it moves out of this table)
REFUSED: dict = {}


def tangent_like(value, rng):
    """A random tangent with the structure of `value` (None where nothing is a float)."""
    if isinstance(value, dict):
        return {k: tangent_like(v, rng) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(tangent_like(v, rng) for v in value)
    if isinstance(value, (bool, int, np.integer)) and not isinstance(value, float):
        return 0.0
    if np.ndim(value):
        return rng.normal(size=np.shape(value))
    return float(rng.normal())


def inner(g, v) -> float:
    if isinstance(g, dict):
        return sum(inner(g[k], v[k]) for k in g)
    if isinstance(g, (list, tuple)):
        return sum(inner(a, b) for a, b in zip(g, v, strict=True))
    return float(np.sum(np.asarray(g, dtype=float) * v))


def names_of(f, wrt):
    code = f.__code__
    params = list(code.co_varnames[:code.co_argcount])
    return [params[w] if isinstance(w, int) else w
            for w in (wrt if isinstance(wrt, tuple) else (wrt,))], params


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_jvp_is_the_gradient_along_v(program, optimize):
    f = make_function(program.src)
    rng = np.random.default_rng(7)
    args = program.args(rng)
    names, params = names_of(f, program.wrt)
    try:
        jf = adjoint.jvp(f, wrt=program.wrt, optimize=optimize)
    except adjoint.AdjointError as exc:
        assert program.name in REFUSED and REFUSED[program.name] in str(exc), str(exc)
        return
    assert program.name not in REFUSED, "forward mode works here now: drop it from REFUSED"
    tangents = {n: tangent_like(args[params.index(n)], rng) for n in names}
    try:
        value, value_dot = jf(*copy.deepcopy(args),
                              **{f"{n}_dot": t for n, t in tangents.items()})
    except adjoint.AdjointError as exc:  # refused as it runs (no tangent for an array result)
        assert program.name in REFUSED and REFUSED[program.name] in str(exc), str(exc)
        return
    g = adjoint.grad(f, wrt=program.wrt)(*copy.deepcopy(args))
    g = g if isinstance(program.wrt, tuple) else (g,)
    want = sum(inner(gi, tangents[n]) for gi, n in zip(g, names, strict=True))
    np.testing.assert_allclose(value, f(*copy.deepcopy(args)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(value_dot, want, rtol=1e-7, atol=1e-9)


OWN = {
    "a vector result: the Jacobian times v": ("""
def f(x, A):
    y = np.tanh(A @ x)
    y[0] = y[0] * x[1]
    return y * np.exp(-x[0])
""", lambda r: [r.normal(size=3), r.normal(size=(4, 3))], "x"),
    "a loop calling a helper, an array filled in place": ("""
def step(s, k):
    return s + 0.1 * np.array([s[1], -k * s[0]])

def orbit(s0, k):
    path = np.zeros((5, 2))
    s = s0
    for t in range(5):
        s = step(s, k)
        path[t] = s
    return path
""", lambda r: [r.normal(size=2), 1.3], ("s0", "k")),
}


@pytest.mark.parametrize("name", sorted(OWN))
def test_jvp_against_central_differences(name, optimize):
    src, build, wrt = OWN[name]
    f = make_function(src)
    rng = np.random.default_rng(3)
    args = build(rng)
    names, params = names_of(f, wrt)
    tangents = {n: tangent_like(args[params.index(n)], rng) for n in names}
    _, value_dot = adjoint.jvp(f, wrt=wrt, optimize=optimize)(
        *args, **{f"{n}_dot": t for n, t in tangents.items()})

    def at(eps):
        moved = [a + eps * tangents[p] if p in tangents else a
                 for p, a in zip(params, args, strict=True)]
        return np.asarray(f(*moved))
    np.testing.assert_allclose(value_dot, (at(1e-6) - at(-1e-6)) / 2e-6, rtol=1e-6, atol=1e-8)


def test_emitted_tangent_code():
    f = make_function("""
def f(x, c):
    y = np.sin(x) * c
    for i in range(2):
        y = y * x
    return np.sum(y ** 2)
""")
    jf = adjoint.jvp(f, wrt="x")
    value, value_dot = jf(np.array([0.3, 0.4]), 2.0, x_dot=np.array([1.0, 0.0]))
    assert adjoint.source(jf) == textwrap.dedent("""\
        def jvp_f(x, c, *, x_dot):
            # tangent of: y = np.sin(x) * c
            sin_x = np.sin(x)
            sin_x_dot = x_dot * np.cos(x)
            y = sin_x * c
            y_dot = sin_x_dot * c
            # tangent of: for i in range(2):
            i_range = range(2)
            for i in i_range:
                # tangent of: y = y * x
                y_dot = y_dot * x + x_dot * y
                y = y * x
            # tangent of: return np.sum(y ** 2)
            y_sq = y ** 2
            y_sq_dot = y_dot * 2 * y
            f = np.sum(y_sq)
            f_dot = np.sum(y_sq_dot)
            return f, f_dot
        """)


def test_jvp_needs_the_tangents():
    f = make_function("def f(x, y):\n    return np.sum(x * y)\n")
    with pytest.raises(adjoint.AdjointError, match="needs the tangent y_dot="):
        adjoint.jvp(f, wrt=("x", "y"))(np.ones(2), np.ones(2), x_dot=np.ones(2))
    with pytest.raises(UnsupportedSyntax, match="forward mode does not pass \\*-unpacked"):
        adjoint.jvp(make_function("FNS = [np.hypot]\n\ndef g(x):\n    return FNS[0](*x)\n"))


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_hvp_is_the_tangent_of_the_gradient(program):
    """Forward over reverse: H v against central differences of the emitted gradient along v,
    on the corpus (or refused, with an AdjointError)."""
    f = make_function(program.src)
    rng = np.random.default_rng(5)
    args = program.args(rng)
    (name, *_), params = names_of(f, program.wrt)
    x = args[params.index(name)]
    if isinstance(x, (list, tuple, dict)) or program.mutates:
        return
    v = tangent_like(x, rng)
    try:
        hv = adjoint.hvp(f, wrt=name)(*copy.deepcopy(args), **{f"{name}_dot": v})
    except adjoint.AdjointError:
        return  # refused: its gradient's code goes where forward mode does not follow yet
    df = adjoint.grad(f, wrt=name)

    def at(eps):
        moved = copy.deepcopy(args)
        moved[params.index(name)] = x + eps * v
        return np.asarray(df(*moved), dtype=float)
    np.testing.assert_allclose(hv, (at(1e-6) - at(-1e-6)) / 2e-6, rtol=1e-4, atol=1e-5)


def test_hessian_of_a_logistic_regression_is_exact():
    f = make_function("""
def loss(w, X, y):
    z = X @ w
    return np.sum(np.logaddexp(0.0, z) - y * z) + 0.1 * w @ w
""")
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(20, 3)), (rng.uniform(size=20) < 0.5) * 1.0, rng.normal(size=3)
    p = 1.0 / (1.0 + np.exp(-X @ w))
    exact = X.T @ ((p * (1 - p))[:, None] * X) + 0.2 * np.eye(3)
    np.testing.assert_allclose(adjoint.hessian(f)(w, X, y), exact, rtol=1e-12, atol=1e-12)
    v = rng.normal(size=3)
    np.testing.assert_allclose(adjoint.hvp(f)(w, X, y, w_dot=v), exact @ v, rtol=1e-12)


def test_hessian_blocks_of_a_loop():
    f = make_function("""
def f(x, W):
    h = x
    for i in range(3):
        h = np.tanh(W @ h) + 0.5 * h
    return np.sum(h ** 2) * x[0]
""")
    rng = np.random.default_rng(1)
    x, W = rng.normal(size=3), 0.5 * rng.normal(size=(3, 3))
    blocks = adjoint.hessian(f, wrt=("x", "W"))(x, W)
    assert [[b.shape for b in row] for row in blocks] == [[(3, 3), (3, 3, 3)],
                                                          [(3, 3, 3), (3, 3, 3, 3)]]
    np.testing.assert_allclose(blocks[0][1], np.moveaxis(blocks[1][0], -1, 0), atol=1e-10)
    dx = adjoint.grad(f, wrt="x")
    fd = np.stack([(dx(x + 1e-6 * e, W) - dx(x - 1e-6 * e, W)) / 2e-6 for e in np.eye(3)], -1)
    np.testing.assert_allclose(blocks[0][0], fd, rtol=1e-5, atol=1e-7)


def test_jvp_with_auxiliary_data():
    f = make_function("""
def f(x):
    y = np.sin(x)
    return np.sum(y * y), {"y": y, "n": len(x)}
""")
    x, v = np.array([0.2, 0.7]), np.array([1.0, -2.0])
    out, out_dot, aux = adjoint.jvp(f, has_aux=True)(x, x_dot=v)
    np.testing.assert_allclose(out_dot, np.sum(2 * np.sin(x) * np.cos(x) * v))
    np.testing.assert_allclose(aux["y"], np.sin(x))
    assert aux["n"] == 2 and np.isclose(out, np.sum(np.sin(x) ** 2))
    with pytest.raises(adjoint.AdjointError, match="must return"):
        adjoint.jvp(make_function("def g(x):\n    return np.sum(x)\n"), has_aux=True)(
            x, x_dot=v)


SECOND = {
    "a loop": ("""
def f(x):
    y = x
    for i in range(3):
        y = math.sin(y) * x
    return y
""", 0.7),
    "a while loop and a branch": ("""
def f(x):
    total, k = 0.0, 0
    while k < 4:
        if k % 2:
            total = total + math.exp(-x * k)
        else:
            total = total + x ** k
        k = k + 1
    return total
""", 0.3),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_grad_of_grad_through_loops(name):
    """grad(grad(f)) of a function of a number whose gradient's code loops: forward mode over
    that code (its stacks have no reverse), against central differences of the gradient."""
    import math

    src, x = SECOND[name]
    f = make_function(src, {"math": math})
    df = adjoint.grad(f)
    want = (df(x + 1e-6) - df(x - 1e-6)) / 2e-6
    np.testing.assert_allclose(adjoint.grad(df)(x), want, rtol=1e-6)
    value, second = adjoint.value_and_grad(df)(x)
    np.testing.assert_allclose((value, second), (df(x), want), rtol=1e-6)


def test_grad_of_a_bound_methods_gradient():
    import math

    f = make_function("def energy(self, x):\n    y = x\n    for i in range(2):\n"
                      "        y = y * math.cos(x)\n    return y\n", {"math": math})

    class Model:
        energy = f

    d2 = adjoint.grad(adjoint.grad(Model().energy))
    de = adjoint.grad(Model().energy)
    np.testing.assert_allclose(d2(0.4), (de(0.4 + 1e-6) - de(0.4 - 1e-6)) / 2e-6, rtol=1e-6)
    with pytest.raises(adjoint.AdjointError, match="must be a number"):
        adjoint.grad(adjoint.grad(make_function(
            "def g(x):\n    s = 0.0\n    for v in x:\n        s = s + v ** 3\n    return s\n"
        )))(np.ones(2))


def _value_programs():
    from test_functions import PROGRAMS as VALUES

    return sorted(VALUES.items())


@pytest.mark.parametrize("name, spec", _value_programs(), ids=[n for n, _ in _value_programs()])
def test_jvp_of_functions_as_values(name, spec):
    """Forward mode through calls through values, partials, closures, callbacks, **kwargs:
    the tangent along v is the gradient's inner product with v (or a clean refusal)."""
    src, build, wrt = spec
    f = make_function(src)
    rng = np.random.default_rng(11)
    args = build(rng)
    kwargs = {"scale": 0.3, "kind": "l2"} if "**options" in src else {}
    names, params = names_of(f, wrt)
    tangents = {n: tangent_like(args[params.index(n)], rng) for n in names}
    try:
        _, value_dot = adjoint.jvp(f, wrt=wrt)(*copy.deepcopy(args), **kwargs,
                                               **{f"{n}_dot": t for n, t in tangents.items()})
    except adjoint.AdjointError:
        return
    g = adjoint.grad(f, wrt=wrt)(*copy.deepcopy(args), **kwargs)
    g = g if isinstance(wrt, tuple) else (g,)
    want = sum(inner(gi, tangents[n]) for gi, n in zip(g, names, strict=True))
    np.testing.assert_allclose(value_dot, want, rtol=1e-7, atol=1e-9)


# reductions along an axis, whose tangent is the slice's sum of the adjoint times the tangent
REDUCTIONS = [
    "np.max(x, axis=1, keepdims=True)", "np.min(x, axis=0)", "np.max(x)",
    "np.prod(x, axis=1)", "np.std(x, axis=0)", "np.var(x, axis=1, ddof=1)",
    "np.linalg.norm(x, axis=1)", "sp.logsumexp(x, axis=1)",
    "sp.logsumexp(x, axis=0, keepdims=True)", "np.ptp(x, axis=1)",
    # not reductions, with tangents of their own
    "sp.softmax(x, axis=1)", "sp.log_softmax(x, axis=0)", "sp.log_softmax(x)",
    "np.cumprod(x, axis=1)", "np.cumprod(x)", "np.cumprod(x, axis=0)", "np.cumprod(x, axis=-2)",
    # products and polynomials with array results
    *(f"np.{f.__name__}(x, axis=0)" for f in TRAPEZOIDS),
    *(f"np.{f.__name__}(x * x, dx=0.5)" for f in TRAPEZOIDS),
    *(f"np.{f.__name__}(x, np.cumsum(np.exp(x[0])))" for f in TRAPEZOIDS),
    "np.convolve(x[0], x[1])",
    "np.convolve(x[0], np.ones(2), mode='same')", "np.polyval(x[0], x[1])",
    "np.polyval(np.ones(3), x)",
    "np.linalg.multi_dot([x, x.T, x])", "np.linalg.multi_dot([x[0], x.T, x, x[1]])",
]


@pytest.mark.parametrize("expr", REDUCTIONS)
def test_jvp_of_a_reduction_along_an_axis(expr):
    import scipy.special as sp

    f = make_function(f"def f(x):\n    return {expr} * 2.0\n", {"sp": sp})
    rng = np.random.default_rng(4)
    x, v = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    _, dot = adjoint.jvp(f)(x, x_dot=v)
    np.testing.assert_allclose(dot, (f(x + 1e-6 * v) - f(x - 1e-6 * v)) / 2e-6, rtol=1e-6,
                               atol=1e-8)


def test_hessian_through_an_entry_written_into_zeros():
    """The gradient reads y_bar[0] as a copy before it zeroes it: forward mode, on that
    gradient, sees no view of y_bar changed under it."""
    f = make_function("def f(x):\n    y = np.zeros(3)\n    y[0] = x[0] ** 3\n"
                      "    y[1:] = x[1:] * x[0]\n    return np.sum(y * y) + np.sum(x ** 2)\n")
    x = np.array([1.0, 2.0, 3.0])
    df = adjoint.grad(f)
    fd = np.stack([(df(x + 1e-6 * e) - df(x - 1e-6 * e)) / 2e-6 for e in np.eye(3)], -1)
    np.testing.assert_allclose(adjoint.hessian(f)(x), fd, rtol=1e-5, atol=1e-6)


def test_jvp_of_a_return_in_a_try_with_an_empty_finally():
    f = make_function("def f(x):\n    try:\n        return 1.0 / x\n    finally:\n"
                      "        pass\n")
    assert adjoint.jvp(f, "x")(2.0, x_dot=1.0) == (0.5, -0.25)


@pytest.mark.parametrize("A", [[[1.0, 2.0], [2.0, 4.0]], [[1.0, 2.0, 3.0]] * 3,
                               [[2.0, 0.5, 0.0], [0.1, 1.0, 0.3], [0.0, 0.2, 3.0]]],
                         ids=["singular", "rank_one", "regular"])
def test_jvp_of_det_where_the_matrix_is_singular_too(A):
    """det's tangent is tr(adj(A) A_dot), defined where A has no inverse."""
    f = make_function("def f(A):\n    return np.linalg.det(A) * 3.0\n")
    A = np.array(A)
    V = np.random.default_rng(5).normal(size=A.shape)
    _, dot = adjoint.jvp(f)(A, A_dot=V)
    np.testing.assert_allclose(dot, (f(A + 1e-6 * V) - f(A - 1e-6 * V)) / 2e-6, rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(dot, np.sum(adjoint.grad(f)(A) * V), rtol=1e-12, atol=1e-12)


# gradients whose code calls runtime helpers with no tangent of their own: forward mode goes
# through the helper's source, so hvp and hessian follow
THROUGH_HELPERS = {
    "solve": "np.sum(np.linalg.solve(np.eye(3) * 2.0 + np.outer(x, x), x))",
    "inverse": "np.sum(np.linalg.inv(np.eye(3) + np.outer(x, x)))",
    "logsumexp rows": "np.sum(sp.logsumexp(np.outer(x, x), axis=1) ** 2)",
    "softmax": "np.sum(sp.softmax(np.outer(x, x), axis=0) ** 3)",
    "max along an axis": "np.sum(np.max(np.outer(x, x + 1.0), axis=1) ** 2)",
    "product along an axis": "np.sum(np.prod(np.outer(x, x) + 2.0, axis=0))",
    "unpacked items": "x[0] * x[1] * x[2] + np.sin(x[0]) * x[2]",
    "stacked rows in a loop": "sum(np.sum(r ** 3) for r in np.stack([x, x * 2.0]))",
    "norm of rows": "np.sum(np.linalg.norm(np.outer(x, x) + 1.0, axis=1))",
    "std of columns": "np.sum(np.std(np.outer(x, x), axis=0))",
    # gammaln's derivative is digamma, digamma's is a polygamma: each one order up
    "gamma log-likelihood": "np.sum(x * np.log(2.0) - sp.gammaln(x + 2.0) + x * x)",
    "beta and digamma": "np.sum(sp.betaln(x + 2.0, 1.5) + sp.digamma(x + 1.5) * x)",
    "math lgamma": "math.lgamma(x[0] + 2.0) * x[1] + math.lgamma(x[2] + 1.5)",
}


@pytest.mark.parametrize("name", sorted(THROUGH_HELPERS))
def test_hessian_through_runtime_helpers(name):
    import scipy.special as sp

    f = make_function(f"def f(x):\n    return {THROUGH_HELPERS[name]}\n",
                      {"sp": sp, "math": math})
    x = np.array([0.3, -0.5, 0.7])
    df = adjoint.grad(f)
    fd = np.stack([(df(x + 1e-6 * e) - df(x - 1e-6 * e)) / 2e-6 for e in np.eye(3)], -1)
    H = adjoint.hessian(f)(x)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-10)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(adjoint.hvp(f)(x, x_dot=v), H @ v, rtol=1e-9, atol=1e-10)


def test_third_and_fourth_derivatives_of_straight_line_code():
    """grad of grad of grad: each gradient's code is straight-line (its one in-place update
    keeps the old value in a name, not on a stack), so reverse mode goes on."""
    f = make_function("def f(x):\n    return np.sin(x) * x ** 3\n")
    x = 0.7
    third = (-np.cos(x) * x ** 3 - 9 * np.sin(x) * x ** 2 + 18 * np.cos(x) * x
             + 6 * np.sin(x))
    d3 = adjoint.grad(adjoint.grad(adjoint.grad(f)))
    np.testing.assert_allclose(d3(x), third, rtol=1e-12)
    d4 = adjoint.grad(d3)
    np.testing.assert_allclose(d4(x), (d3(x + 1e-5) - d3(x - 1e-5)) / 2e-5, rtol=1e-7)


def test_a_third_derivative_through_loops_is_refused_in_words():
    import math

    f = make_function(SECOND["a loop"][0], {"math": math})
    with pytest.raises(adjoint.AdjointError, match="a third derivative of f: its second is "
                       "forward mode over the loops of its gradient"):
        adjoint.grad(adjoint.grad(adjoint.grad(f)))


def test_hvp_of_a_loop_of_numbers_is_specialized_as_its_gradient():
    """hvp runs the tangent of the gradient specialized on the arguments' kinds: for numbers,
    no broadcasting sums (it was 26 gradients' time on the Euler sample)."""
    f = make_function(SECOND["a loop"][0].replace("math.sin", "np.sin"))
    h = adjoint.hvp(f)
    df = adjoint.grad(f)
    np.testing.assert_allclose(h(0.7, x_dot=2.0), 2.0 * (df(0.7 + 1e-6) - df(0.7 - 1e-6)) / 2e-6,
                               rtol=1e-6)
    assert "unbroadcast" not in adjoint.source(h)


# second derivatives through the rules whose adjoints place g by a diagonal or an order
# (runtime helpers linear in g) and through orderings in forward mode
ORDERED = {
    "a GP evidence with cholesky, diag and trace": ("""
def f(L, y):
    K = L @ L.T + np.eye(3)
    C = np.linalg.cholesky(K)
    return 0.5 * y @ np.linalg.solve(K, y) + np.sum(np.log(np.diag(C))) + 0.1 * np.trace(K @ K)
""", lambda r: [r.normal(size=(3, 3)), r.normal(size=3)]),
    "a weighted sort": ("""
def f(x):
    return np.sum(np.linspace(0.0, 1.0, x.shape[0]) * np.sort(x) ** 2)
""", lambda r: [r.normal(size=5)]),
    "the largest of each row, by take_along_axis": ("""
def f(x):
    order = np.argsort(x, axis=1)
    return np.sum(np.take_along_axis(x, order, axis=1)[:, -1] ** 3)
""", lambda r: [r.normal(size=(3, 4))]),
    "diagonals": ("""
def f(A):
    return np.sum(np.diagonal(A @ A) ** 2) + np.sum(np.diag(np.diag(A)) * A)
""", lambda r: [r.normal(size=(3, 3))]),
    "sorted numbers": ("""
def f(x):
    items = sorted([x[0] * 2.0, x[1], x[2] ** 2], reverse=True)
    return items[0] * items[2] + items[1] ** 2
""", lambda r: [r.normal(size=3)]),
}


@pytest.mark.parametrize("name", sorted(ORDERED))
def test_hvp_through_orders_and_diagonals(name):
    """hvp (forward over reverse) where the gradient places g by a diagonal or an order: was
    refused (the runtime helpers write in place), and np.sort, sorted and take_along_axis
    had no tangent; against central differences of the gradient along v."""
    src, build = ORDERED[name]
    f = make_function(src)
    rng = np.random.default_rng(3)
    args = build(rng)
    x = args[0]
    v = rng.normal(size=x.shape)
    hv = adjoint.hvp(f)(*args, **{f"{f.__code__.co_varnames[0]}_dot": v})
    df = adjoint.grad(f)
    want = (df(x + 1e-5 * v, *args[1:]) - df(x - 1e-5 * v, *args[1:])) / 2e-5
    np.testing.assert_allclose(hv, want, rtol=1e-5, atol=1e-7)
    value, dot = adjoint.jvp(f)(*args, **{f"{f.__code__.co_varnames[0]}_dot": v})
    np.testing.assert_allclose(dot, np.sum(df(*args) * v), rtol=1e-7, atol=1e-9)


def test_a_function_of_several_results_is_refused_naming_it():
    """Forward mode's tangent from an adjoint formula needs a result that is a number; of
    np.linalg.eigh (two results) it is refused as it runs, naming the function."""
    f = make_function("def f(A):\n    w, V = np.linalg.eigh(A + A.T)\n"
                      "    return np.sum(w ** 2)\n")
    with pytest.raises(adjoint.AdjointError, match="tangent of np.linalg.eigh only where its "
                       "result is a number; here it has 2 results"):
        adjoint.jvp(f)(np.eye(3), A_dot=np.ones((3, 3)))


@pytest.mark.parametrize("expr", ["x.T.reshape(6, order='A')", "np.ravel(x, order='K')",
                                  "np.reshape(x, 6, order=how)"])
def test_reshape_in_memory_order_is_refused(expr):
    """With order 'A' or 'K' reshape reads in the order of the memory layout, which the
    tangent need not share; refused rather than read in another order."""
    f = make_function(f"def f(x, how='A'):\n    return np.sum({expr} * np.arange(6.0))\n")
    with pytest.raises(adjoint.errors.MissingRule, match="with order 'C' or 'F'"):
        adjoint.jvp(f)(np.ones((2, 3)), x_dot=np.ones((2, 3)))


def test_hvp_through_a_call_into_args_names_the_helper():
    f = make_function("""
def l2(*ws):
    return sum(np.sum(w ** 2) for w in ws)

def f(a, b):
    return np.sum(np.sin(a) * b) + l2(a, b)
""")
    a, b = np.array([0.3, 0.7]), np.array([1.1, -0.4])
    with pytest.raises(adjoint.errors.MissingRule, match=r"calls l2 through its value or into "
                                                          r"its \*args"):
        adjoint.hvp(f, wrt="a")(a, b, a_dot=np.ones(2))


@pytest.mark.parametrize("expr", [
    "np.linalg.cholesky(A)", "np.linalg.cholesky(A, upper=True)",
    "scipy.linalg.cholesky(A)", "scipy.linalg.cholesky(A, lower=True)",
    "scipy.linalg.solve(A, B, assume_a='pos')", "scipy.linalg.solve(A, B, transposed=True)",
    "scipy.linalg.solve_triangular(A, B, lower=True, trans='T')",
    "scipy.linalg.solve_triangular(A, B, unit_diagonal=True)", "scipy.linalg.det(A)",
])
def test_matrices_read_as_one_triangle_along_any_tangent(expr):
    """Used to fail: wrong jvp, silently: np.linalg.cholesky's tangent averaged a tangent
    that is not symmetric where cholesky reads one triangle (and took U for L with upper=)."""
    pytest.importorskip("scipy")
    f = make_function(f"import scipy.linalg\n\ndef f(A, B):\n    return np.sum(({expr}) * "
                      "np.arange(1.0, 10.0).reshape(3, 3))\n")
    rng = np.random.default_rng(5)
    M = rng.normal(size=(3, 3))
    A, B, V = M @ M.T + 3.0 * np.eye(3), rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    _, dot = adjoint.jvp(f, wrt=("A", "B"))(A, B, A_dot=V, B_dot=V.T)
    eps = 1e-6
    want = (f(A + eps * V, B + eps * V.T) - f(A - eps * V, B - eps * V.T)) / (2 * eps)
    assert dot == pytest.approx(want, rel=1e-6, abs=1e-8)


def test_hvp_where_only_an_array_argument_would_change_in_place():
    """`x = x0; x += a` changes x0 in place only where it holds an array: the code for no
    call in particular has no tangent, the code for numbers has one."""
    f = make_function("def f(x0, a):\n    x = x0\n    for _ in range(3):\n"
                      "        x += a * x\n    return x * x\n")
    df = adjoint.grad(f, wrt=(0, 1))
    eps = 1e-6
    want = (np.array(df(0.5 + eps, 0.3 + 0.5 * eps)) -
            np.array(df(0.5 - eps, 0.3 - 0.5 * eps))) / (2 * eps)
    got = adjoint.hvp(f, wrt=(0, 1))(0.5, 0.3, x0_dot=1.0, a_dot=0.5)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_hvp_with_respect_to_one_item_of_a_list():
    """Used to fail: wrong hvp, silently: the gradient pops the list's adjoint item by item;
    where an item's adjoint is not asked for, its tangent was not popped, so the next item
    got its tangent."""
    f = make_function("def f(a, b):\n    L = []\n    L.append(a)\n    L.append(b)\n"
                      "    return L[0] * L[0] * L[1] + L[1] ** 3\n")
    a, b, v, eps = -0.8, -1.3, -0.25, 1e-6
    df = adjoint.grad(f, wrt="a")
    want = (df(a + eps * v, b) - df(a - eps * v, b)) / (2 * eps)
    assert adjoint.hvp(f, wrt="a")(a, b, a_dot=v) == pytest.approx(want, rel=1e-6)


def test_hvp_stopped_in_a_helper_of_the_gradient_names_it():
    """Where the gradient's code calls a runtime helper forward mode cannot go through, the
    refusal names that helper (it named a line of the helper's own source before)."""
    pytest.importorskip("scipy")
    f = make_function("import scipy.linalg\n\ndef f(A, b):\n"
                      "    L = scipy.linalg.cholesky(A, lower=True)\n"
                      "    return np.sum(scipy.linalg.solve_triangular(L, b, lower=True) ** 2)\n")
    with pytest.raises(adjoint.errors.MissingRule,
                       match="no tangent of runtime.solve_triangular_adjoint yet"):
        adjoint.hvp(f, wrt="b")(np.eye(2) * 2.0, np.ones(2), b_dot=np.ones(2))
