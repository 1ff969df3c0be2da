"""Lambdas differentiate as people write them: bound to a module-level name, passed inline,
kept in a dict or a list, with defaults, closing over an enclosing function's locals or the
module's globals, calling helpers, two on one line. Each is read from its own place in the
file (the code object's line and instruction columns), as a def `return <body>`."""

import linecache

import numpy as np
import pytest

import adjoint
from adjoint import api, lambdas
from adjoint.errors import ApiError, MissingRule, NonScalarOutput
from adjoint.testing import check_grads

DATA = np.array([0.5, -1.0, 2.0])
SCALE = 1.5
X = np.array([0.3, -0.7, 1.2])


def log_posterior(params, data):
    return -0.5 * np.sum((data - params) ** 2) - 0.1 * np.sum(params ** 2)


def helper(w):
    return w * np.sin(w)


def make_scaled(c):
    """A lambda closing over a local of the function that made it."""
    scaled = lambda x: np.sum(helper(x) * c)  # noqa: E731
    return scaled


objective = lambda params: -log_posterior(params, DATA)  # noqa: E731
LOSSES = {"l2": lambda w: np.sum(w ** 2),
          "logcosh": lambda w: np.sum(np.log(np.cosh(w))),
          "spread": lambda w: np.sum(
              SCALE * w ** 3
              + np.exp(w))}
STEPS = [lambda x: np.sum(np.sin(x)), lambda x: np.sum(np.cos(x) * x)]
with_default = lambda x, c=2.0: np.sum(c * x ** 2)  # noqa: E731
SQUARE, CUBE = lambda x: np.sum(x ** 2), lambda x: np.sum(x ** 3)
NESTED = lambda x: (lambda x: np.sum(x ** 4))  # noqa: E731 - the same parameter, nested
act = lambda x: np.tanh(x) * x  # noqa: E731 - a lambda helper a def calls


def uses_lambda_helper(x):
    return np.sum(act(x) ** 2)


# (id, function, args, exact gradient of the first argument)
CASES = [
    ("module_level", objective, [X], (X - DATA) + 0.2 * X),
    ("inline", lambda x: np.sum(np.tanh(x)), [X], 1 - np.tanh(X) ** 2),
    ("dict_l2", LOSSES["l2"], [X], 2 * X),
    ("dict_logcosh", LOSSES["logcosh"], [X], np.tanh(X)),
    ("dict_multiline", LOSSES["spread"], [X], 3 * SCALE * X ** 2 + np.exp(X)),
    ("list_0", STEPS[0], [X], np.cos(X)),
    ("list_1", STEPS[1], [X], np.cos(X) - X * np.sin(X)),
    ("default", with_default, [X], 4 * X),
    ("default_passed", with_default, [X, 3.0], 6 * X),
    ("closure", make_scaled(3.0), [X], 3.0 * (np.sin(X) + X * np.cos(X))),
    ("closure_other", make_scaled(-0.5), [X], -0.5 * (np.sin(X) + X * np.cos(X))),
    ("one_line_first", SQUARE, [X], 2 * X),
    ("one_line_second", CUBE, [X], 3 * X ** 2),
    ("nested_inner", NESTED(None), [X], 4 * X ** 3),
    ("two_params", lambda a, b: np.sum(a * np.exp(b)), [X, DATA], np.exp(DATA)),
    ("scalar", lambda t: t ** 3 - 2.0 * t, [0.7], 3 * 0.7 ** 2 - 2.0),
    ("lambda_helper", uses_lambda_helper, [X],
     2 * np.tanh(X) * X * (np.tanh(X) + X * (1 - np.tanh(X) ** 2))),
]


@pytest.mark.parametrize("name, fn, args, exact", CASES, ids=[c[0] for c in CASES])
def test_lambda_gradients(name, fn, args, exact, optimize):
    (g,) = check_grads(fn, args, wrt=(0,), optimize=optimize)
    np.testing.assert_allclose(g, exact, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(adjoint.grad(fn, optimize=optimize)(*args), exact, rtol=1e-10,
                               atol=1e-12)


def test_inline_grad_call():
    np.testing.assert_allclose(adjoint.grad(lambda x: np.sum(np.tanh(x)))(X),
                               1 - np.tanh(X) ** 2)
    g = adjoint.grad(lambda a, b: np.sum(a * b ** 2), wrt=("a", "b"))(X, DATA)
    np.testing.assert_allclose(g[0], DATA ** 2)
    np.testing.assert_allclose(g[1], 2 * X * DATA)


def test_factory_lambdas_in_a_loop_each_get_their_own_gradient():
    fns = [make_scaled(c) for c in (1.0, 2.0, 5.0)]
    powers = [lambda x, k=k: np.sum(x ** k) for k in (2, 3)]  # one lambda, two defaults
    for c, fn in zip((1.0, 2.0, 5.0), fns, strict=True):
        np.testing.assert_allclose(adjoint.grad(fn)(X), c * (np.sin(X) + X * np.cos(X)))
    np.testing.assert_allclose(adjoint.grad(powers[0])(X), 2 * X)
    np.testing.assert_allclose(adjoint.grad(powers[1])(X), 3 * X ** 2)


def test_value_and_grad_of_a_lambda():
    value, g = adjoint.value_and_grad(objective)(X)
    assert value == pytest.approx(objective(X))
    np.testing.assert_allclose(g, (X - DATA) + 0.2 * X)
    value, (ga, gb) = adjoint.value_and_grad(lambda a, b: a * b + a, wrt=(0, 1))(2.0, 3.0)
    assert (value, ga, gb) == (8.0, 4.0, 2.0)


def test_second_derivative_of_a_lambda():
    assert adjoint.grad(adjoint.grad(lambda t: t ** 3))(2.0) == pytest.approx(12.0)


def test_source_of_a_named_lambda():
    """`objective = lambda params: ...` is read as `def objective(params): return ...`."""
    text = adjoint.source(adjoint.grad(objective), X)
    assert text == '''\
def grad_objective(params, objective_bar=1.0):
    # forward
    data = DATA
    diff = data - params
    objective_bar = runtime.check_seed(0.0, objective_bar, 'objective')
    # backward
    # grad of: return -log_posterior(params, DATA)
    log_posterior_params_bar = -objective_bar
    # grad of: log_posterior: return -0.5 * np.sum((data - params) ** 2) - 0.1 * np.sum(params ** 2)
    sum_params_sq_bar = log_posterior_params_bar * -0.1
    params_bar = sum_params_sq_bar * 2 * params
    sum_diff_sq_bar = log_posterior_params_bar * -0.5
    diff_bar = sum_diff_sq_bar * 2 * diff
    params_bar -= runtime.unbroadcast_from(diff_bar, params, diff)
    return params_bar
'''  # (the helper, a def, is inlined: code specialized on shapes)
    generic = adjoint.source(adjoint.grad(objective))  # for any shapes: the split adjoint
    assert generic.startswith("def log_posterior_fwd(params, data):\n")  # the helper first
    assert "log_posterior_params, log_posterior_saved = log_posterior_fwd(params, DATA)" in \
        generic


def test_source_of_an_inline_lambda():
    df = adjoint.grad(lambda x: np.sum(np.tanh(x)))
    assert adjoint.source(df, X) == '''\
def grad_lambda(x, lambda_bar=1.0):
    # forward
    tanh_x = np.tanh(x)
    lambda_bar = runtime.check_seed(0.0, lambda_bar, 'lambda')
    # backward
    # grad of: return np.sum(np.tanh(x))
    x_bar = lambda_bar * (1 - tanh_x * tanh_x)
    return x_bar
'''
    assert df.__name__ == "grad_lambda"
    # the seed is named after the function, as for a def: a vector-Jacobian product
    vjp = adjoint.grad(lambda x: np.tanh(x))(X, lambda_bar=np.ones(3))
    np.testing.assert_allclose(vjp, 1 - np.tanh(X) ** 2)


def test_source_of_a_lambda_with_a_default():
    text = adjoint.source(adjoint.grad(with_default), X)
    assert text.startswith("def grad_with_default(x, c=2.0, with_default_bar=1.0):\n")
    assert "# grad of: return np.sum(c * x ** 2)" in text


def test_closure_rebound_recompiles():
    """A lambda reads its closure cells as a def does: data at each call, and a function
    rebound in the enclosing scope compiles the gradient again."""
    def make():
        fn = np.tanh
        scale = 2.0
        f = lambda x: np.sum(fn(x)) * scale  # noqa: E731

        def rebind(new_fn, new_scale):
            nonlocal fn, scale
            fn, scale = new_fn, new_scale
        return f, rebind

    f, rebind = make()
    g = adjoint.grad(f)
    np.testing.assert_allclose(g(X), 2.0 * (1 - np.tanh(X) ** 2))
    rebind(np.tanh, 3.0)
    np.testing.assert_allclose(g(X), 3.0 * (1 - np.tanh(X) ** 2))
    rebind(np.sin, 0.5)
    np.testing.assert_allclose(g(X), 0.5 * np.cos(X))
    assert "np.cos(x)" in adjoint.source(g)  # compiled again for np.sin


def test_global_rebound_is_read_again(monkeypatch):
    g = adjoint.grad(LOSSES["spread"])
    monkeypatch.setattr(__import__(__name__), "SCALE", 4.0)
    np.testing.assert_allclose(g(X), 3 * 4.0 * X ** 2 + np.exp(X))


def test_lambdas_never_share_a_disk_cache_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("ADJOINT_CACHE", str(tmp_path))
    first = api.compile_grad(SQUARE)
    second = api.compile_grad(CUBE)  # the same module, qualified name and source line
    assert first.source != second.source
    np.testing.assert_allclose(first.function(X), 2 * X)
    np.testing.assert_allclose(second.function(X), 3 * X ** 2)
    assert not list(tmp_path.glob("*.json"))  # a lambda has no name to be found by again
    api.compile_grad(uses_lambda_helper)  # a def calling a lambda: not found again either
    assert not list(tmp_path.glob("*.json"))
    api.compile_grad(log_posterior)  # a def alone is kept, as before
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_error_inside_a_lambda_names_its_file_line_and_column():
    bad = {"σ": lambda x: np.sum(np.unwrap(x))}  # non-ASCII before it: columns in characters
    line = bad["σ"].__code__.co_firstlineno
    with pytest.raises(MissingRule) as info:
        adjoint.grad(bad["σ"])
    err = info.value
    assert (err.filename, err.lineno) == (__file__, line)
    assert err.offset == linecache.getline(__file__, line).index("np.unwrap") + 1
    assert "np.unwrap" in str(err)


def test_error_on_a_later_line_of_a_lambda():
    bad = (lambda x:
           np.sum(x) + np.sum(np.unwrap(x)))
    with pytest.raises(MissingRule) as info:
        adjoint.grad(bad)
    line = bad.__code__.co_firstlineno + 1
    assert info.value.lineno == line
    assert info.value.offset == linecache.getline(__file__, line).index("np.unwrap") + 1


def test_api_errors_about_a_lambda_name_its_file_and_line():
    fn = lambda x: np.tanh(x)  # noqa: E731
    where = f"(the lambda at {__file__}:{fn.__code__.co_firstlineno})"
    with pytest.raises(NonScalarOutput, match="scalar result") as info:
        adjoint.grad(fn)(X)
    assert where in str(info.value)
    with pytest.raises(ApiError, match="names no parameter of fn") as info:
        adjoint.grad(fn, wrt="y")
    assert where in str(info.value)


def test_starred_lambda_parameters_are_a_tuple():
    fn = lambda w, *xs: np.sum(w * xs[0]) + len(xs)  # noqa: E731
    assert np.allclose(adjoint.grad(fn)(X, 2.0 * X, 7.0), 2.0 * X)
    (g,) = adjoint.grad(fn, wrt="xs")(X, 2.0 * X)
    assert np.allclose(g, X)


def test_lambda_without_a_source_file_is_refused():
    fn = eval("lambda x: x * x")
    with pytest.raises(ApiError, match="cannot read the source of the lambda at <string>:1"):
        adjoint.grad(fn)


def test_without_instruction_columns_lambdas_on_one_line_are_told_by_their_body(monkeypatch):
    """Python 3.10 records only the line a lambda starts on: lambdas on one line with the same
    parameters are told apart by the names and constants their bodies read, then by their
    bytecode; where nothing tells them apart, adjoint refuses and says why."""
    monkeypatch.setattr(lambdas, "_places", lambda code: [])
    np.testing.assert_allclose(adjoint.grad(SQUARE)(X), 2 * X)  # constants
    np.testing.assert_allclose(adjoint.grad(CUBE)(X), 3 * X ** 2)
    np.testing.assert_allclose(adjoint.grad(NESTED(None))(X), 4 * X ** 3)  # the inner one
    ops = lambda x, y: x * y, lambda x, y: x + y  # noqa: E731 - the same names: bytecode
    assert adjoint.grad(ops[0])(2.0, 5.0) == 5.0
    assert adjoint.grad(ops[1])(2.0, 5.0) == 1.0
    same = lambda x: x * x, lambda x: x * x  # noqa: E731 - the same text: either will do
    assert adjoint.grad(same[1])(3.0) == 6.0
    twin = lambda x, c=1.0: x * c, lambda x, c=2.0: x * c  # noqa: E731 - only defaults differ
    with pytest.raises(ApiError, match="cannot tell apart the 2 lambdas with parameters "
                                       r"\(x, c\) on line \d+ .*put each on a line of its own"):
        adjoint.grad(twin[1])
    # with the columns Python 3.11+ records, the same two are told apart
    monkeypatch.undo()
    if lambdas._places(twin[1].__code__):  # not under -X no_debug_ranges
        assert adjoint.grad(twin[1])(3.0) == 2.0


def test_named_lambda_inside_a_def_still_lifts():
    def f(x):
        g = lambda v: v * np.sin(v)  # noqa: E731
        return np.sum(g(x) + g(2 * x))

    (g,) = check_grads(f, [X], wrt=(0,))
    np.testing.assert_allclose(g, np.sin(X) + X * np.cos(X)
                               + 2 * (np.sin(2 * X) + 2 * X * np.cos(2 * X)))
