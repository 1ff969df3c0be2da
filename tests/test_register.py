"""Users' own rules: adjoint.register in its formula and helper-function forms, as a
decorator, passive functions, stop_gradient, and the missing-rule message.

Each rule is checked the way the built-in ones are: a small function calling the primitive,
differentiated against central differences with the optimizer on and off.
"""

import functools
import math

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint import rules, runtime
from adjoint.testing import check_grads

RNG = np.random.default_rng(7)
X = RNG.normal(size=4)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _softplus_dx(g, x):
    return g / (1 + np.exp(-x))


def _softplus_from_ans(g, ans):
    return g * -np.expm1(-ans)


def _scaled_sin_a(g, x, a):
    return runtime.unbroadcast(g * np.sin(x), a)


def _shifted_dx(g, *, shift):
    return g * np.exp(shift)


def _total_dx(g, k):
    return g * (k + 1)


# name -> (the primitive, its rules, a function body calling it as `prim`, args, wrt)
CASES = {
    "formula": (_softplus, {"x": "g * (1 - np.exp(-ans))"}, "np.sum(prim(x))", [X], 0),
    "helper": (_softplus, {"x": _softplus_dx}, "np.sum(prim(x))", [X], 0),
    "helper reading ans": (_softplus, {"x": _softplus_from_ans}, "np.sum(prim(x) ** 2)",
                           [X], 0),
    "lambda helper": (_softplus, {"x": lambda g, x: g / (1 + np.exp(-x))},
                      "np.sum(prim(x) * x)", [X], 0),
    "formula and helper, broadcasting": (
        lambda x, a: a * np.sin(x), {"x": "g * a * np.cos(x)", "a": _scaled_sin_a},
        "np.sum(prim(x, a))", [X, 1.5], (0, 1)),
    "keyword-only parameter": (
        lambda x, *, shift=0.0: x * np.exp(shift), {"x": _shifted_dx},
        "np.sum(prim(x, shift=0.5) * x)", [X], 0),
    "*args formula": (lambda *xs: sum((k + 1) * v for k, v in enumerate(xs)),
                      {"xs": "g * (k + 1)"}, "np.sum(prim(x, y, x))", [X, X[::-1]], (0, 1)),
    "*args helper": (lambda *xs: sum((k + 1) * v for k, v in enumerate(xs)),
                     {"xs": _total_dx}, "np.sum(prim(x, y, x))", [X, X[::-1]], (0, 1)),
}


def fresh(fn):
    """A new function object with fn's code, so each case registers its own primitive."""
    @functools.wraps(fn)
    def prim(*args, **kwargs):
        return fn(*args, **kwargs)

    prim.__signature__ = rules.signature_of(fn)
    return prim


@pytest.mark.parametrize("name", list(CASES))
def test_registered_rule(name, optimize):
    fn, formulas, body, args, wrt = CASES[name]
    prim = adjoint.register(fresh(fn), **formulas)
    names = ["x", "a"] if "a" in formulas else ["x", "y"][:len(args)]
    f = make_function(f"def f({', '.join(names)}):\n    return {body}\n", {"prim": prim})
    check_grads(f, args, wrt, optimize=optimize)


def test_decorator_forms(optimize):
    @adjoint.register(x="g * 3 * x ** 2")
    def cube(x):
        return x ** 3

    def square_dx(g, x):
        return 2 * g * x

    @adjoint.register(x=square_dx)
    def square(x):
        return x * x

    assert cube(2.0) == 8.0 and square(3.0) == 9.0  # the decorator keeps the function
    f = make_function("def f(x):\n    return np.sum(cube(x) + square(x))\n",
                      {"cube": cube, "square": square})
    check_grads(f, [X], optimize=optimize)


def test_helper_is_named_in_emitted_code():
    def helper_in_source(g, x):
        return g * 2.0

    prim = adjoint.register(fresh(lambda x: 2.0 * x), x=helper_in_source)
    f = make_function("def f(x):\n    return np.sum(prim(x))\n", {"prim": prim})
    assert "runtime.helper_in_source(" in adjoint.source(adjoint.grad(f))


def test_helper_names_never_shadow_runtime():
    def mul(g, x):  # runtime.mul exists: the helper gets another name
        return g * 4.0

    prim = adjoint.register(fresh(lambda x: 4.0 * x), x=mul)
    formula = rules.RULES[prim]["x"]
    assert formula.startswith("runtime.mul_") and runtime.mul is not mul
    f = make_function("def f(x):\n    return np.sum(prim(x))\n", {"prim": prim})
    check_grads(f, [X])


def test_check_grads_catches_a_wrong_helper():
    prim = adjoint.register(fresh(lambda x: x ** 3), x=lambda g, x: g * 2 * x)  # not 3x^2
    f = make_function("def f(x):\n    return np.sum(prim(x))\n", {"prim": prim})
    with pytest.raises(AssertionError, match="disagrees with central differences"):
        check_grads(f, [X])


def test_opaque_user_function():
    """A function adjoint cannot read (compiled, cached, ...) is a primitive like np.sin."""
    @functools.cache
    def kernel(x):
        return math.sin(x) * x

    f = make_function("def f(x):\n    return kernel(x) * 2.0\n", {"kernel": kernel})
    with pytest.raises(adjoint.MissingRule) as info:
        adjoint.grad(f)(0.3)
    assert 'adjoint.register(kernel, x="g * ...")' in str(info.value)
    adjoint.register(kernel, x="g * (math.cos(x) * x + math.sin(x))")
    check_grads(f, [0.3])


def test_passive():
    def step(x):
        return np.floor(x)

    adjoint.register(step, passive=True)
    f = make_function("def f(x):\n    return np.sum(x * step(x))\n", {"step": step})
    x = np.array([0.3, 1.4, -2.2])
    np.testing.assert_array_equal(adjoint.grad(f)(x), step(x))
    check_grads(f, [x])  # floor is locally constant: the derivative really is step(x)


def test_stop_gradient():
    f = make_function("def f(x):\n    return np.sum(x * adjoint.stop_gradient(x))\n",
                      {"adjoint": adjoint})
    x = np.array([0.5, -2.0])
    np.testing.assert_array_equal(adjoint.grad(f)(x), x)  # not 2x: no gradient through it
    assert adjoint.stop_gradient(x) is x


def test_registration_errors():
    def two(x, y):
        return x * y

    with pytest.raises(adjoint.AdjointError, match="has no parameter 'z'"):
        adjoint.register(two, z="g")
    with pytest.raises(adjoint.AdjointError, match="uses 'w'"):
        adjoint.register(two, x="g * w")
    with pytest.raises(adjoint.AdjointError, match="takes 'w'"):
        adjoint.register(two, x=lambda g, w: g * w)
    with pytest.raises(adjoint.AdjointError, match="at least one"):
        adjoint.register(two)
    with pytest.raises(adjoint.AdjointError, match="takes no formulas"):
        adjoint.register(two, passive=True, x="g")
    with pytest.raises(adjoint.AdjointError, match="not a Python expression"):
        adjoint.register(two, x="g *")
    assert two not in rules.RULES


def test_unknown_runtime_name_says_what_to_import():
    with pytest.raises(AttributeError, match="import the module that registers it"):
        runtime.some_helper_nobody_registered  # noqa: B018


@pytest.mark.parametrize("call,hint", [
    ("np.nanmedian(x)", 'adjoint.register(np.nanmedian, a="g * ...")'),
    ("np.correlate(x, x)", 'adjoint.register(np.correlate, a="g * ...", v="g * ...")'),
    ("np.i0(x)", 'adjoint.register(np.i0, x="g * ...")'),
    ("vec(x)", 'adjoint.register(vec, signature="x, /", x="g * ...")'),
])
def test_missing_rule_says_what_to_paste(call, hint):
    vec = np.vectorize(lambda v: v * 2)
    f = make_function(f"def f(x):\n    return np.sum({call})\n", {"math": math, "vec": vec})
    with pytest.raises(adjoint.MissingRule) as info:
        adjoint.grad(f)(X)
    assert hint in str(info.value)


def test_hints_for_math_and_the_users_functions():
    """Every function in math has a rule or is passive: the hint is checked directly."""
    assert rules.registration_hint(math.nextafter) == \
        'adjoint.register(math.nextafter, x="g * ...", y="g * ...")'
    assert rules.registration_hint(math.gamma) == 'adjoint.register(math.gamma, x="g * ...")'

    def local_kernel(u, v, scale=1.0):
        return u * v * scale

    assert rules.registration_hint(local_kernel) == \
        'adjoint.register(local_kernel, u="g * ...", v="g * ...")'


def test_every_math_function_is_covered():
    left = [n for n in dir(math) if callable(getattr(math, n)) and not n.startswith("_")
            and getattr(math, n) not in rules.RULES and getattr(math, n) not in rules.PASSIVE]
    assert not left, f"math functions with no rule and not passive: {left}"


def test_hint_uses_the_spelling_when_given():
    assert rules.registration_hint(np.median, "numpy.median") == \
        'adjoint.register(numpy.median, a="g * ...")'
