"""The numba backend: gradients of element-loop programs compiled with numba.njit, checked
against central differences and against the NumPy backend's gradients. Each gradient is
compiled once (numba takes seconds) and reused by the checks."""

import functools
import importlib
import sys
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


def test_nested_tapes_make_room_outside_the_inner_loop():
    _, _, df = compiled("nested_triangle")
    text = df.__adjoint_source__(*PROGRAMS["nested_triangle"][1]())
    inner = text[text.index("for j in"):text.index("# backward")]
    assert "tape_capacity" not in inner and "tape_grow" not in inner
    assert "_stack_top + len(j_range) > " in text  # room made when the inner loop starts


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
