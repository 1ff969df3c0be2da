"""The Python API: grad's forms, value_and_grad, source, caching, types of gradients."""

import collections
import dataclasses
import inspect
import math
import os
import traceback

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint import api, cache
from adjoint.testing import check_grads


def f(x, y):
    return np.sum(np.sin(x) * y)


def scalar_f(a, b):
    return math.sin(a) * b + a * a


X = np.array([0.1, 0.2, 0.3])
Y = np.array([1.0, -2.0, 0.5])


@pytest.mark.parametrize("wrt", [0, "x", -2])
def test_wrt_single(wrt):
    g = adjoint.grad(f, wrt=wrt)(X, Y)
    np.testing.assert_allclose(g, np.cos(X) * Y)


def test_wrt_tuple_returns_tuple():
    gx, gy = adjoint.grad(f, wrt=("x", 1))(X, Y)
    np.testing.assert_allclose(gx, np.cos(X) * Y)
    np.testing.assert_allclose(gy, np.sin(X))
    (only,) = adjoint.grad(f, wrt=("y",))(X, Y)
    np.testing.assert_allclose(only, np.sin(X))


def test_decorator_forms():
    @adjoint.grad
    def g(x):
        return np.sum(x ** 3)

    @adjoint.grad(wrt="y")
    def h(x, y):
        return np.sum(x * y * y)

    np.testing.assert_allclose(g(X), 3 * X ** 2)
    np.testing.assert_allclose(h(X, Y), 2 * X * Y)


def test_value_and_grad():
    value, (gx, gy) = adjoint.value_and_grad(f, wrt=(0, 1))(X, Y)
    assert value == pytest.approx(f(X, Y))
    np.testing.assert_allclose(gy, np.sin(X))
    value, ga = adjoint.value_and_grad(scalar_f)(0.5, 2.0)
    assert value == pytest.approx(scalar_f(0.5, 2.0))
    assert ga == pytest.approx(math.cos(0.5) * 2.0 + 1.0)


def test_gradients_have_the_type_and_shape_of_their_argument():
    ga, gb = adjoint.grad(scalar_f, wrt=(0, 1))(0.5, 2.0)
    assert isinstance(ga, float) and isinstance(gb, float)
    gx = adjoint.grad(f)(X, Y)
    assert isinstance(gx, np.ndarray) and gx.shape == X.shape and gx.dtype == np.float64
    g32 = adjoint.grad(f)(X.astype(np.float32), Y.astype(np.float32))
    assert g32.dtype == np.float32


def test_arguments_are_not_changed():
    x, y = X.copy(), Y.copy()
    adjoint.grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(y, Y)


def test_source_is_what_runs():
    df = adjoint.grad(f)
    src = adjoint.source(df)
    assert src.startswith("def grad_f(x, y, f_bar=1.0):")
    assert "# grad of: return np.sum(np.sin(x) * y)" in src
    # the compiled function's own source, through linecache, is the same text
    compiled = df.__adjoint__.function
    assert inspect.getsource(compiled) in src


def test_tracebacks_show_emitted_lines():
    df = adjoint.grad(f)
    with pytest.raises(ValueError) as info:
        df(X, np.ones(4))
    frames = traceback.extract_tb(info.tb)
    emitted = [fr for fr in frames if fr.filename.startswith("<adjoint grad_f")]
    assert emitted and emitted[-1].line  # the line text comes from linecache


def test_specialized_on_scalar_arguments():
    df = adjoint.grad(scalar_f, wrt=(0, 1))
    generic = adjoint.source(df)
    assert "runtime.unbroadcast" in generic
    df(0.5, 2.0)
    scalar = adjoint.source(df)
    assert "runtime.unbroadcast" not in scalar
    assert adjoint.source(df, 0.5, 2.0) == scalar
    # the code for no call in particular takes a to hold an array, and checks it does; the
    # code for arrays is specialized on their shapes: equal ones need no broadcasting sums
    assert "    runtime.check_arrays('scalar_f', a=a)\n" in generic
    same = adjoint.source(df, np.ones(2), np.ones(2))
    assert "unbroadcast(scalar_f_bar, " not in same and "check_arrays" not in same
    assert "scalar_f_bar.sum(axis=(1,), keepdims=True)" in adjoint.source(
        df, np.ones((2, 1)), np.ones(3))
    with pytest.raises(adjoint.AdjointError, match="compiled for an array or a number in a"):
        df.__adjoint_generic__.function([0.5, 1.0], 2.0)


def euler(k, c, steps=50, dt=0.01):
    x, v, total = 1.0, 0.0, 0.0
    for _ in range(steps):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        total = total + dt * x * x
    return total


def test_specialized_on_defaults():
    """A call that leaves float and int defaults out gets the code for numbers, as one that
    passes the same values does."""
    df = adjoint.grad(euler, wrt=(0, 1))
    left_out = df(4.0, 0.3)
    code = adjoint.source(df)
    passed = df(4.0, 0.3, 50, 0.01)
    assert adjoint.source(df) == code
    assert "runtime.unbroadcast" not in code and "densify" not in code
    assert left_out == passed


def test_compiled_once():
    assert adjoint.grad(f).__adjoint__ is adjoint.grad(f).__adjoint__


def test_seed_scales_the_gradient():
    g = adjoint.grad(f)(X, Y, f_bar=3.0)
    np.testing.assert_allclose(g, 3.0 * np.cos(X) * Y)


def test_dot_product_test_on_array_results():
    from adjoint.testing import dot_product_test

    def field(x, w):
        return np.tanh(np.outer(x, w)) * x[:, None]

    a, b = dot_product_test(field, [X, Y], wrt=(0, 1))
    assert a == pytest.approx(b, rel=1e-5)


def test_dot_product_test_catches_a_wrong_rule():
    from adjoint.testing import dot_product_test

    def cube(x):
        return x * x * x

    adjoint.register(cube, x="g * 2 * x")  # wrong on purpose: d(x^3) = 3x^2

    def uses(x):
        return cube(x) + x

    with pytest.raises(AssertionError, match="dot-product test"):
        dot_product_test(uses, [X])


def test_disk_cache(tmp_path, monkeypatch):
    """A gradient compiled once is loaded from disk later; a changed source is compiled anew."""
    import importlib.util
    import sys

    from adjoint import api

    def module(text: str):
        path = tmp_path / "cached_module.py"
        path.write_text("import numpy as np\n\n" + text)
        spec = importlib.util.spec_from_file_location("cached_module", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["cached_module"] = mod
        spec.loader.exec_module(mod)
        return mod

    monkeypatch.setenv("ADJOINT_CACHE", str(tmp_path / "cache"))
    f = module("def cached(x):\n    return np.sum(np.sin(x) * x)\n").cached
    first = api.compile_grad(f)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again instead of loading from the cache")

    with monkeypatch.context() as m:
        m.setattr(api.Program, "add", no_compiling)
        again = api.compile_grad(f)
    assert again.source == first.source
    np.testing.assert_allclose(again.function(X), np.sin(X) + X * np.cos(X))
    g = module("def cached(x):\n    return np.sum(np.cos(x) * x)\n").cached  # a new source
    assert api.compile_grad(g).source != first.source
    monkeypatch.setenv("ADJOINT_CACHE", "0")
    assert api.cache_dir() is None
    del sys.modules["cached_module"]


def _gradient_in_a_new_process(tmp_path, module: str, text: str) -> list:
    """adjoint.grad(module.loss) at [0.5, 1.0], in a new process reading the module `text`
    and keeping gradients in tmp_path/cache."""
    import subprocess
    import sys

    (tmp_path / f"{module}.py").write_text(text)
    script = (f"import numpy as np, adjoint, {module} as m\n"
              "print(repr(adjoint.grad(m.loss)(np.array([0.5, 1.0])).tolist()))")
    env = {**os.environ, "ADJOINT_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    return eval(out.stdout)


# (module text before, after): the same `def loss`, a name bound to something else
REBOUND = [
    ("act = np.sin", "act = np.tanh"),
    ("from scipy.special import expit as act", "from scipy.special import log_expit as act"),
    ("import helper_module as lib\nact = lib.act", "import helper_module as lib\nact = lib.other"),
]


@pytest.mark.parametrize("before, after", REBOUND, ids=["alias", "import", "helper"])
def test_disk_cache_follows_rebound_names_across_processes(tmp_path, before, after):
    """A new process whose module binds a name the function reads to something else never
    loads the gradient compiled for the old binding."""

    (tmp_path / "helper_module.py").write_text(
        "import numpy as np\n\n\ndef act(x):\n    return np.sin(x)\n\n\n"
        "def other(x):\n    return x * x\n")
    def gradient(binding: str) -> list:
        return _gradient_in_a_new_process(tmp_path, "rebound_module", (
            f"import numpy as np\n{binding}\n\n\ndef loss(x):\n    return np.sum(act(x))\n"))

    first = gradient(before)
    assert list((tmp_path / "cache").glob("*.json"))
    assert gradient(before) == first  # loaded from disk
    ns: dict = {"np": np}
    exec(f"import scipy.special\n{after}" if "helper" not in after else
         "act = lambda x: x * x", ns)
    x = np.array([0.5, 1.0])
    h = 1e-6
    expected = (ns["act"](x + h) - ns["act"](x - h)) / (2 * h)
    np.testing.assert_allclose(gradient(after), expected, rtol=1e-6)


# (module text before, after): the same functions, whose defaults name a module constant
# that now holds another value (the code is written with the old value as a literal)
CONSTANT_DEFAULTS = [
    ("K = 2.0", "K = 5.0", "def loss(x, k=K):\n    return np.sum(x ** 2) * k\n"),
    ("K = 2.0", "K = 5.0", "def scaled(x, k=K):\n    return x * k\n\n\n"
                           "def loss(x):\n    return np.sum(scaled(x) ** 2)\n"),
    ("STEPS = 2", "STEPS = 5", "def loss(x, steps=STEPS):\n    s = 0.0\n"
                               "    for _ in range(steps):\n        s = s + np.sum(x * x)\n"
                               "    return s\n"),
]


@pytest.mark.parametrize("before, after, defs", CONSTANT_DEFAULTS,
                         ids=["default", "helper's default", "loop count"])
def test_disk_cache_follows_the_values_of_defaults(tmp_path, before, after, defs):
    """A default that names a module's constant is the value the constant held when the def
    ran: a new process where it holds another never loads the gradient written for the old
    value (the function's source is the same)."""
    def gradient(constant: str) -> list:
        return _gradient_in_a_new_process(tmp_path, "defaults_module",
                                          f"import numpy as np\n{constant}\n\n\n{defs}")

    first = gradient(before)
    assert list((tmp_path / "cache").glob("*.json"))
    assert gradient(before) == first  # loaded from disk
    for constant in (after, before):
        ns: dict = {"np": np}
        exec(f"{constant}\n{defs}", ns)
        x, h = np.array([0.5, 1.0]), 1e-6
        expected = [(ns["loss"](x + h * e) - ns["loss"](x - h * e)) / (2 * h) for e in np.eye(2)]
        np.testing.assert_allclose(gradient(constant), expected, rtol=1e-6)


def test_replaced_defaults_compile_again():
    """Defaults replaced after the gradient was made (`f.__defaults__ = ...`, of the function
    or of a helper it calls) are followed, as Python follows them."""
    helper = make_function("def helper(x, k=2.0):\n    return x * k\n")
    f = make_function("def f(x, p=3.0):\n    return np.sum(helper(x) ** 2) * p\n",
                      {"helper": helper})
    g = adjoint.grad(f)
    np.testing.assert_allclose(g(X), 2 * X * 4.0 * 3.0)
    f.__defaults__ = (5.0,)
    np.testing.assert_allclose(g(X), 2 * X * 4.0 * 5.0)
    helper.__defaults__ = (7.0,)
    np.testing.assert_allclose(g(X), 2 * X * 49.0 * 5.0)
    f.__defaults__ = (5,)  # an int now: the same value, another literal
    np.testing.assert_allclose(g(X), 2 * X * 49.0 * 5)
    k = make_function("def k(x, *, p=2.0):\n    return np.sum(x ** 2) * p\n")
    dk = adjoint.grad(k)
    np.testing.assert_allclose(dk(X), 4 * X)
    k.__kwdefaults__["p"] = 3.0  # changed in place
    np.testing.assert_allclose(dk(X), 6 * X)
    # a list default is the function's own list: changed in place, then replaced
    weights = make_function("def weights(x, w=[1.0, 2.0]):\n    return x * w[0] + x * x * w[1]\n")
    uses = make_function("def uses(x):\n    return weights(x) * 2.0\n", {"weights": weights})
    dw, du = adjoint.grad(weights), adjoint.grad(uses)
    assert (dw(0.7), du(0.7)) == pytest.approx((3.8, 7.6))
    weights.__defaults__[0][1] = 5.0
    assert (dw(0.7), du(0.7)) == pytest.approx((8.0, 16.0))
    weights.__defaults__ = ([3.0, -1.0],)
    assert (dw(0.7), du(0.7)) == pytest.approx((1.6, 3.2))


def test_attributes_holding_data_are_checked_for_their_kind():
    """A class's or module's attribute the function reads (`C.k`, `cfg.scale`) that becomes
    an array compiles again (the code was specialized on a number), as a global does."""
    import types

    cfg = types.ModuleType("cfg")
    cfg.scale = 2.0
    holder = type("Holder", (), {"k": 2.0})
    f = make_function("def f(x):\n    return np.sum(Holder.k * x ** 2) + np.sum(cfg.scale * x)\n",
                      {"Holder": holder, "cfg": cfg})
    g = adjoint.grad(f)
    np.testing.assert_allclose(g(X), 4 * X + 2.0)
    holder.k = np.array([[1.0], [2.0]])  # broadcast against x: its sum over the new axis
    np.testing.assert_allclose(g(X), 2 * 3.0 * X + 2.0)
    cfg.scale = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(g(X), 6.0 * X + cfg.scale)


def test_one_global_read_from_two_modules():
    """A name a helper's module binds and the caller imports (`from lib import h, K`) is one
    value while both bind the same object; rebound in one of them, the gradient is refused
    (the emitted module has one K), never computed with the other's."""
    import types

    lib = types.ModuleType("lib_of_k")
    lib.K = 2.0
    h = make_function("def h(z):\n    return K * z ** 2\n", {"K": 2.0})
    h.__globals__["K"] = lib.K
    f = make_function("def f(x):\n    return np.sum(h(x)) + K * np.sum(x)\n",
                      {"h": h, "K": lib.K})
    g = adjoint.grad(f)
    np.testing.assert_allclose(g(X), 4 * X + 2.0)
    h.__globals__["K"] = 10.0
    with pytest.raises(adjoint.AdjointError, match="the name 'K' means different things"):
        g(X)


def test_globals_are_read_at_each_call():
    """Numbers and arrays the function reads from its module are read when the gradient
    runs, as Python reads them; a change the code was specialized on (a float that becomes
    an array, an int slice bound) compiles it again."""
    f = make_function("""
def helper(x):
    return x * SCALE

def f(x):
    return np.sum(helper(x)[N:] ** 2)
""", {"SCALE": 2.0, "N": 1})
    g = adjoint.grad(f)
    after_first = np.arange(3) >= 1
    np.testing.assert_allclose(g(X), 2 * X * 2.0 ** 2 * after_first)
    f.__globals__["SCALE"] = 3.0
    np.testing.assert_allclose(g(X), 2 * X * 3.0 ** 2 * after_first)
    f.__globals__["SCALE"] = Y  # an array now, no longer a number
    np.testing.assert_allclose(g(X), 2 * X * Y ** 2 * after_first)
    f.__globals__["N"] = 2
    np.testing.assert_allclose(g(X), 2 * X * Y ** 2 * (np.arange(3) >= 2))


def test_functions_are_read_at_each_call():
    """A function global (and a module's attribute) rebound between calls is followed, as
    Python follows it: the gradient is compiled again for the new binding."""
    import types

    lib = types.ModuleType("lib")  # a module whose attribute is rebound
    f = make_function("""
def f(x):
    return np.sum(act(x)) + np.sum(np.sin(x))
""", {"act": np.sin})
    g = adjoint.value_and_grad(f)
    np.testing.assert_allclose(g(X)[1], 2 * np.cos(X))
    f.__globals__["act"] = np.tanh
    value, grad = g(X)
    np.testing.assert_allclose(value, f(X))
    np.testing.assert_allclose(grad, 1 - np.tanh(X) ** 2 + np.cos(X))
    lib.act = np.sin  # an attribute of a module-like global, rebound
    h = make_function("def h(x):\n    return np.sum(lib.act(x))\n", {"lib": lib})
    dh = adjoint.grad(h)
    np.testing.assert_allclose(dh(X), np.cos(X))
    lib.act = np.arctan
    np.testing.assert_allclose(dh(X), 1 / (1 + X * X))


def test_disk_cache_entry_for_another_kind_of_global(tmp_path, monkeypatch):
    """A cached gradient compiled while a global held a number is not loaded once it holds
    an array; the one loaded reads the global's value of the moment."""
    import importlib.util
    import sys

    from adjoint import api

    path = tmp_path / "module_with_global.py"
    path.write_text("import numpy as np\n\nSCALE = 2.0\n\n\n"
                    "def scaled(x):\n    return np.sum((x * SCALE) ** 2)\n")
    spec = importlib.util.spec_from_file_location("module_with_global", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["module_with_global"] = mod
    spec.loader.exec_module(mod)
    monkeypatch.setenv("ADJOINT_CACHE", str(tmp_path / "cache"))
    try:
        api.compile_grad(mod.scaled)
        mod.SCALE = 5.0
        loaded = api.compile_grad(mod.scaled)
        assert loaded.refresh()
        np.testing.assert_allclose(loaded.function(X), 2 * X * 25.0)
        mod.SCALE = Y
        assert not loaded.refresh()
        again = api.compile_grad(mod.scaled)
        np.testing.assert_allclose(again.function(X), 2 * X * Y ** 2)
    finally:
        del sys.modules["module_with_global"]


def test_gradient_of_a_gradient():
    """The emitted code of straight-line code differentiates again: second derivatives, and
    Hessian-vector products through a gradient called inside a function."""
    from adjoint.testing import check_grads

    f = make_function("def f(x):\n    return x ** 3 + np.sin(x) * x\n")
    d2 = adjoint.grad(adjoint.grad(f))
    np.testing.assert_allclose(d2(0.7), 6 * 0.7 + 2 * np.cos(0.7) - 0.7 * np.sin(0.7))
    g = make_function("def g(x):\n"
                      "    return np.sum(np.tanh(x) ** 2) + np.mean(x * x) * np.sum(x)\n")
    hvp = make_function("def hvp(x, v):\n    return np.sum(dg(x) * v)\n",
                        {"dg": adjoint.grad(g)})
    check_grads(hvp, [X, Y], (0, 1))


# a function calling a gradient adjoint makes: as a global, made in its body, or in a lambda
CALLED_GRADIENTS = [
    "def hvp(x, v):\n    return np.sum(dg(x) * v)\n",
    "def hvp(x, v):\n    d = adjoint.grad(g)\n    return np.sum(d(x) * v)\n",
    "def hvp(x, v):\n    return np.sum(adjoint.grad(g)(x) * v)\n",
    "def hvp(x, v):\n    value, d = adjoint.value_and_grad(g)(x)\n    return np.sum(d * v)\n",
]


@pytest.mark.parametrize("src", CALLED_GRADIENTS, ids=["global", "made", "inline", "value"])
def test_gradient_called_inside_a_function(src):
    """A gradient called in the function differentiated is differentiated through its
    emitted code, however it is reached (calling one made inside the function raised an
    InternalError: its wrapper was read as the code)."""
    from adjoint.testing import check_grads

    g = make_function("def g(x):\n    return np.sum(np.tanh(x) ** 2) + np.sum(x ** 3)\n")
    hvp = make_function(src, {"adjoint": adjoint, "g": g, "dg": adjoint.grad(g)})
    check_grads(hvp, [X, Y], (0, 1))
    expected = (2 * (1 - 3 * np.tanh(X) ** 2) * (1 - np.tanh(X) ** 2) + 6 * X) * Y
    np.testing.assert_allclose(adjoint.grad(hvp)(X, Y), expected, rtol=1e-10)


def test_gradient_compiled_by_numba_is_not_differentiated_again():
    pytest.importorskip("numba")
    g = make_function("def g(x):\n    return np.sum(x ** 3)\n")
    hvp = make_function("def hvp(x, v):\n    return np.sum(dg(x) * v)\n",
                        {"dg": adjoint.grad(g, backend="numba")})
    with pytest.raises(adjoint.AdjointError, match="compiled by numba.*without backend="):
        adjoint.grad(hvp)(X, Y)


def test_gradient_of_a_gradient_with_a_loop():
    """Was refused (the loop's stacks have no reverse); now forward mode over the gradient's
    code, for a function of a number (an array is refused, naming hvp and hessian)."""
    f = make_function("def f(x):\n    s = 0.0\n    for i in range(3):\n"
                      "        s = s + np.sin(x) * i\n    return np.sum(s)\n")
    d2 = adjoint.grad(adjoint.grad(f))
    np.testing.assert_allclose(d2(0.4), -3.0 * np.sin(0.4))
    with pytest.raises(adjoint.AdjointError, match="adjoint.hessian or adjoint.hvp"):
        d2(np.ones(2))


def test_decorated_function_is_refused_with_a_reason():
    import functools

    f = make_function("def f(x):\n    return np.sum(x * x)\n")

    @functools.wraps(f)
    def wrapper(*args):
        return f(*args)

    with pytest.raises(adjoint.AdjointError, match="wrapped by a decorator"):
        adjoint.grad(wrapper)


def test_seed_of_another_shape_is_refused():
    with pytest.raises(adjoint.AdjointError, match="f_bar has shape"):
        adjoint.grad(f)(X, Y, f_bar=np.ones(3))


def test_helper_changing_an_array_argument_in_place_is_refused_when_it_runs():
    """`q += q` in a helper rebinds a number, but would change an array the caller holds:
    the emitted code checks which it is."""
    f = make_function("""
def h(q):
    q += q
    return q * 2.0

def f(x, c):
    return np.sum(h(x)) + h(c)
""")
    g = adjoint.grad(f, wrt=(0, 1))
    with pytest.raises(adjoint.AdjointError, match="h changes its argument q in place"):
        g(X, 0.5)
    source = adjoint.source(g)
    assert "runtime.rebinds(q, 'h', 'q')" in source


class _Posterior:
    """A model as people write one: a counter, a prior scale, *extra, a validation raise."""

    def __init__(self, prior_scale):
        self.prior_scale = prior_scale
        self.nfev = 0

    def log_posterior(self, w, X, y, *extra, noise=0.5):
        self.nfev += 1
        if noise <= 0:
            raise ValueError("noise must be positive")
        lp = np.sum(-0.5 * ((y - X @ w) / noise) ** 2)
        lp = lp - np.sum(w ** 2) / (2 * self.prior_scale ** 2)
        for e in extra:
            lp = lp - 0.1 * np.sum(w ** 2) * e
        return lp


def test_bound_method_with_star_args_against_central_differences_and_exact():
    model = _Posterior(2.0)
    r = np.random.default_rng(1)
    X, y, w = r.normal(size=(6, 3)), r.normal(size=6), r.normal(size=3)
    (g,) = check_grads(model.log_posterior, [w, X, y, 1.5], ("w",))
    exact = X.T @ (y - X @ w) / 0.25 - w / 4.0 - 0.3 * w
    np.testing.assert_allclose(g, exact, rtol=1e-10)
    calls = model.nfev
    adjoint.grad(model.log_posterior, wrt="w")(w, X, y)
    assert model.nfev == calls + 1  # one gradient call counts once, as one call of the method
    with pytest.raises(ValueError, match="noise must be positive"):
        adjoint.grad(model.log_posterior, wrt="w")(w, X, y, noise=-1.0)


def test_cache_command_and_bound(tmp_path, monkeypatch):
    """`adjoint cache info` / `clear` (a real process), and the bound: past the size bound
    the entries used longest ago go, and so do entries unused past the age bound; a hit marks
    an entry used."""
    import subprocess
    import sys
    import time

    folder = tmp_path / "cache"
    env = {**os.environ, "ADJOINT_CACHE": str(folder), "PYTHONPATH": str(tmp_path)}
    (tmp_path / "cached_funcs.py").write_text(
        "import numpy as np\n\n\ndef f1(x):\n    return np.sum(np.sin(x))\n\n\n"
        "def f2(x):\n    return np.sum(np.cos(x))\n\n\ndef f3(x):\n    return np.sum(x ** 3)\n")
    script = ("import numpy as np, adjoint, cached_funcs as m\n"
              "for f in (m.f1, m.f2, m.f3):\n    adjoint.grad(f)(np.ones(2))\n")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, cwd=tmp_path)
    info = subprocess.run([sys.executable, "-m", "adjoint", "cache", "info"], env=env,
                          capture_output=True, text=True, check=True)
    monkeypatch.setenv("ADJOINT_CACHE", str(folder))
    files = [e.path for e in cache.entries()]
    n = len(files)  # the code for no call in particular, and for these arguments' kinds
    assert f"folder: {folder}" in info.stdout and f"entries: {n}" in info.stdout and n >= 3
    sizes = [os.path.getsize(p) for p in files]
    now = time.time()
    for k, p in enumerate(files):  # used in this order, the first longest ago
        os.utime(p, (now - (n - k) * 1000, now - (n - k) * 1000))
    monkeypatch.setenv("ADJOINT_CACHE_MAX_MB", str(sum(sizes[1:]) / 2 ** 20))
    assert cache.evict(folder) == 1 and not os.path.exists(files[0])
    monkeypatch.setenv("ADJOINT_CACHE_MAX_MB", "64")
    monkeypatch.setenv("ADJOINT_CACHE_MAX_DAYS", str(1500 / 86400))
    assert cache.evict(folder) == n - 2 and [e.path for e in cache.entries()] == [files[-1]]
    cleared = subprocess.run([sys.executable, "-m", "adjoint", "cache", "clear"], env=env,
                             capture_output=True, text=True, check=True)
    assert cleared.stdout == "removed 1 entries\n" and not list(folder.glob("*.json"))


def test_a_slow_build_is_logged(monkeypatch, caplog):
    monkeypatch.setattr(api, "SLOW_BUILD", 0.0)
    monkeypatch.setenv("ADJOINT_CACHE", "0")
    f = make_function("def slowly(x):\n    return np.sum(np.sin(x) * x)\n")
    with caplog.at_level("INFO", logger="adjoint"):
        adjoint.grad(f)(X)
    assert any("built the gradient of slowly" in r.getMessage() for r in caplog.records)


def test_code_reading_a_bound_builtin_and_an_ellipsis_is_not_compiled_again():
    """Used to compile again on every call (3 ms instead of 26 us): `dict.fromkeys` is a new
    bound method each time it is read, and `...` was looked up among the globals only."""
    f = make_function("""
def f(x):
    return np.sum(x[..., 0] ** 2) + sum(dict.fromkeys(["a"], 1.0).values())
""")
    df = adjoint.grad(f)
    df(np.ones((3, 2)))
    first = df.__adjoint__
    np.testing.assert_allclose(df(np.ones((3, 2))), [[2.0, 0.0]] * 3)
    assert df.__adjoint__ is first


def test_calls_alternating_shapes_and_kinds_each_run_their_own_code():
    """A gradient called over and over with float64 arrays of a few shapes, floats, float32
    arrays and lists (the first kinds take a fast path once compiled): each call gets the
    gradient of its own arguments."""
    f = make_function("def f(x, c):\n    return np.sum(np.sin(x) * c)\n")
    g = adjoint.grad(f)
    for x, c in [(X, 2.0), (np.linspace(0.0, 1.0, 5), 2.0), (X, 3.0), (X, Y),
                 (X.astype(np.float32), 2.0), (np.linspace(0.0, 1.0, 5), 0.5), (X, 2.0)] * 2:
        got = g(x, c)
        np.testing.assert_allclose(got, np.cos(np.asarray(x, float)) * c, rtol=1e-6)
        assert got.dtype == np.asarray(x).dtype
    assert g([0.5, 1.0], 2.0) == pytest.approx(list(np.cos([0.5, 1.0]) * 2.0))
    with pytest.raises(adjoint.AdjointError):
        g(np.arange(3), 2.0)


# has_aux: what the function returns beside its loss, as JAX users return it
AUX = {
    "an array": "h",
    "a tuple of arrays": "(z, h)",
    "a list": "[z, h]",
    "a dict": "{'z': z, 'scale': 2.0}",
    "a nested tuple with a number": "(np.sum(z), (h, z), 3)",
    "a named tuple": "Stats(z, h=h)",
    "a dataclass": "Info(np.sum(z), h)",
}
Stats = collections.namedtuple("Stats", "z h")


@dataclasses.dataclass
class Info:
    total: float
    h: np.ndarray


@pytest.mark.parametrize("label", AUX)
def test_has_aux_returns_any_data(label):
    body = "    z = w * x\n    h = np.tanh(z)\n    g = h * 2.0\n"
    f = make_function(f"def f(w, x):\n{body}    return np.sum(g * g), {AUX[label]}\n",
                      {"Stats": Stats, "Info": Info})
    loss = make_function(f"def loss(w, x):\n{body}    return np.sum(g * g)\n")
    w, x = np.linspace(0.1, 1.0, 5), np.linspace(1.0, 2.0, 5)
    want_aux = f(w, x)[1]
    g, aux = adjoint.grad(f, has_aux=True)(w, x)
    (value, aux2), g2 = adjoint.value_and_grad(f, has_aux=True)(w, x)
    want = 8 * np.tanh(w * x) * (1 - np.tanh(w * x) ** 2) * x
    np.testing.assert_allclose(g, want, rtol=1e-12)
    assert np.array_equal(g, g2) and value == loss(w, x)
    for got in (aux, aux2):
        assert type(got) is type(want_aux)
        assert repr(got) == repr(want_aux)
    check_grads(loss, [w, x])


# data the gradient's reverse sweep puts old values back into: returned as the function
# returns it, not as the reverse sweep leaves it
CHANGED_AUX = {
    "an array scaled in place": """
def f(w):
    h = w.copy()
    h *= 3.0
    return np.sum(h ** 2), h
""",
    "losses filled in a loop, with a history": """
def f(w):
    hist = []
    losses = np.zeros(3)
    for t in range(3):
        losses[t] = np.sum(w ** 2) * t
        hist.append({"t": t, "norm": float(np.linalg.norm(w))})
    return np.sum(losses), (losses, hist)
""",
    "a state rebound in a loop": """
def f(w):
    h = w
    for _ in range(3):
        h = np.tanh(h * w)
    return np.sum(h), {"state": h, "scale": 2.0}
""",
}


@pytest.mark.parametrize("label", CHANGED_AUX)
def test_has_aux_data_is_what_the_function_returned(label):
    f = make_function(CHANGED_AUX[label])
    w = np.array([0.5, -1.0, 2.0])
    want = f(w)[1]
    for got in (adjoint.grad(f, has_aux=True)(w)[1],
                adjoint.value_and_grad(f, has_aux=True)(w)[0][1]):
        assert repr(got) == repr(want)
    g = adjoint.grad(f, has_aux=True)(w)[0]
    eps = 1e-6
    fd = [(f(w + eps * e)[0] - f(w - eps * e)[0]) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_a_name_that_held_text_rebound_to_a_number():
    """An f-string's name reused for a number later (text printed, then a value): nothing
    flows back into the text, so it needs no derivative (was refused)."""
    f = make_function("""
def f(x, w):
    s = f"{np.sum(x):.3f}"
    print(s, end="")
    s = np.sum(x * w)
    total = 0.0
    for i in range(2):
        note = f"trip {i}"
        note = np.sum(x ** 2) * i
        total = total + note
    return s + total
""")
    check_grads(f, [X, Y], (0, 1))
