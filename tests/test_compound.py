"""try/except/else/finally and with inside differentiated functions.

Every program's gradient is checked on each way through it (the body, each handler) against
central differences, with the optimizer on and off; where a gradient is easy to write, also
against that formula (which shows the way taken really was). Then the programs that are
refused, each with the construct, its line and column."""

import contextlib
import math
import warnings

import numpy as np
import pytest
from conftest import make_function
from scipy.special import expit, xlogy

import adjoint
from adjoint.errors import UnsupportedSyntax
from adjoint.testing import check_grads

TABLE = {"a": 2.0, "b": 3.0}


class Timer:
    """A context manager of the user's own: entered by the forward sweep only."""

    entered = 0

    def __enter__(self):
        Timer.entered += 1
        return self

    def __exit__(self, *exc):
        return False


NAMESPACE = {"math": math, "warnings": warnings, "contextlib": contextlib, "expit": expit,
             "xlogy": xlogy, "TABLE": TABLE, "Timer": Timer}

rng = np.random.default_rng(0)
X, Y, W = rng.normal(size=(6, 3)), (rng.random(6) > 0.5) * 1.0, rng.normal(size=3)
PHI = rng.normal(size=(6, 3))
V3 = np.array([0.5, 2.0, 3.0])

# name: (source, wrt, [(arguments, the way they take, the exact gradient or None)])
PROGRAMS = {
    "logistic_loss_with_a_fallback": ("""
def loss(w, X, y, l2=0.05):
    z = X @ w
    try:
        p = expit(z)
        ll = xlogy(y, p) + xlogy(1.0 - y, 1.0 - p)
    except FloatingPointError:
        ll = y * z - np.logaddexp(0.0, z)
    return -np.mean(ll) + l2 * np.dot(w, w)
""", 0, [([W, X, Y], "body", None)]),
    "log_determinant_by_cholesky_or_slogdet": ("""
def neg_log_evidence(log_alpha, Phi, t, shift):
    A = np.exp(log_alpha) * np.eye(Phi.shape[1]) + shift * (Phi.T @ Phi)
    try:
        L = np.linalg.cholesky(A)
        logdet = 2.0 * np.sum(np.log(np.diag(L)))
    except np.linalg.LinAlgError:
        sign, logdet = np.linalg.slogdet(A)
    return 0.5 * logdet - 0.5 * np.sum(t ** 2)
""", 0, [([0.3, PHI, PHI[:, 0], 1.0], "body", None),
         ([3.0, PHI, PHI[:, 0], -1.0], "handler", None)]),
    "entropy_under_errstate": ("""
def entropy(logits):
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.exp(logits - np.max(logits))
        p = p / np.sum(p)
        h = -np.sum(np.where(p > 0, p * np.log(p), 0.0))
    return h
""", 0, [([np.array([0.3, -1.2, 2.0, 0.1])], "body", None)]),
    "warnings_caught_and_filtered": ("""
def f(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = np.log(x)
        z = np.sqrt(y)
    return np.sum(np.where(np.isfinite(z), z, 0.0))
""", 0, [([V3], "body", None)]),
    "several_managers_and_as": ("""
def f(x):
    with np.errstate(divide="ignore"), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        y = np.log(x) * x
    return np.sum(y) + 0.0 * len(seen)
""", 0, [([V3], "body", None)]),
    "a_timer_of_your_own": ("""
def f(x):
    with Timer() as t:
        y = np.sin(x) * x
    return np.sum(y)
""", 0, [([V3], "body", None)]),
    "dict_lookup_or_default": ("""
def f(x, key):
    try:
        s = TABLE[key] * x
    except KeyError:
        s = 0.5 * x * x
    return np.sum(s)
""", 0, [([V3, "b"], "body", lambda x, key: np.full(3, 3.0)),
         ([V3, "z"], "handler", lambda x, key: x)]),
    "float_conversion_that_raises": ("""
def f(x, text):
    try:
        c = float(text)
    except ValueError as err:
        c = 2.0 + 0.0 * len(str(err))
    return c * np.sum(x * x)
""", 0, [([V3, "1.5"], "body", lambda x, text: 3.0 * x),
         ([V3, "n/a"], "handler", lambda x, text: 4.0 * x)]),
    "raise_in_a_loop_the_way_differs_by_trip": ("""
def f(x):
    total = 0.0
    for i in range(len(x)):
        try:
            if x[i] < 0:
                raise ValueError("negative")
            v = math.log(x[i])
        except ValueError:
            v = 0.5 * x[i]
        total = total + v * v
    return total
""", 0, [([np.array([0.5, -1.0, 2.0, -0.3])], "both by trip",
          lambda x: np.where(x < 0, 0.5 * x, 2.0 * np.log(np.abs(x)) / x))]),
    "returns_from_the_body_and_the_handler": ("""
def f(x):
    try:
        return math.log(x) * x
    except ValueError:
        return 2.0 * x
""", 0, [([2.0], "body", lambda x: math.log(x) + 1.0), ([-2.0], "handler", lambda x: 2.0)]),
    "several_handlers_else_finally": ("""
def f(x, k):
    try:
        if k == 1:
            raise KeyError(k)
        if k == 2:
            raise IndexError(k)
        v = x * x
    except KeyError:
        v = 3.0 * x
    except (IndexError, TypeError) as err:
        v = np.sin(x)
    else:
        v = v + x
    finally:
        w = v * 2.0
    return np.sum(w)
""", 0, [([V3, 0], "body", lambda x, k: 4.0 * x + 2.0),
         ([V3, 1], "first handler", lambda x, k: np.full(3, 6.0)),
         ([V3, 2], "second handler", lambda x, k: 2.0 * np.cos(x))]),
    "loop_inside_the_body": ("""
def f(x):
    try:
        acc = 1.0
        for v in x:
            acc = acc * v
            if abs(acc) > 10.0:
                raise OverflowError
        r = acc
    except OverflowError:
        r = np.sum(x)
    return r
""", 0, [([V3], "body", lambda x: np.prod(x) / x),
         ([V3 * 3.0], "handler", lambda x: np.ones(3))]),
    "comprehension_inside_the_body": ("""
def f(x):
    try:
        vals = [math.log(v) for v in x]
        s = sum(vals)
    except ValueError:
        s = np.sum(x * x)
    return s
""", 0, [([V3], "body", lambda x: 1.0 / x), ([-V3], "handler", lambda x: 2.0 * x)]),
    "try_and_with_in_a_loop": ("""
def f(x):
    out = 0.0
    for i in range(len(x)):
        with np.errstate(divide="ignore"):
            try:
                r = 1.0 / x[i]
                if abs(r) > 5:
                    raise OverflowError
            except OverflowError:
                r = x[i]
        out = out + r * r
    return out
""", 0, [([np.array([0.5, 0.1, 3.0, -0.05])], "both by trip",
          lambda x: np.where(np.abs(1 / x) > 5, 2.0 * x, -2.0 / x ** 3))]),
    "bare_except_and_a_rebound_name": ("""
def f(x, A):
    z = x * x
    try:
        x = np.linalg.solve(A, x)
    except:
        x = z + 1.0
    return np.sum(x * z)
""", 0, [([V3, np.diag(V3)], "body", lambda x, A: 3.0 * x ** 2 / np.diag(A)),
         ([V3, np.zeros((3, 3))], "handler", lambda x, A: 4.0 * x ** 3 + 2.0 * x)]),
    "while_loops_inside_a_try_inside_a_while": ("""
def f(x, n):
    k = 0
    s = 0.0
    while k < n:
        try:
            t = x[k % 3]
            if t * k > 1.0:
                raise ValueError
            j = 0
            acc = t
            while j < k:
                acc = acc * t
                j += 1
            s = s + np.sin(acc)
        except ValueError:
            s = s + x[k % 3] ** 2
        k += 1
    return s
""", 0, [([np.array([0.3, 0.9, 1.2]), 5], "both by trip", None)]),
    "try_else_in_a_branch_in_a_loop": ("""
def f(x, y):
    out = 0.0
    for i in range(3):
        if x[i] > 0:
            try:
                r = math.sqrt(x[i]) * y
                if r > 1.5:
                    raise ArithmeticError
            except ArithmeticError:
                r = y * y
            else:
                r = r + x[i]
            out = out + r * x[i]
        else:
            out = out - x[i] * y
    return out
""", (0, 1), [([np.array([0.3, -0.9, 2.2]), 0.8], "body", None),
              ([np.array([0.3, -0.9, 2.2]), 1.3], "both by trip", None)]),
    "nested_tries": ("""
def f(x, a, b):
    try:
        try:
            c = float(a)
        except ValueError:
            c = TABLE[b]
        y = c * x
    except KeyError:
        y = np.sin(x)
    return np.sum(y)
""", 0, [([V3, "2.0", "a"], "body", lambda x, a, b: np.full(3, 2.0)),
         ([V3, "?", "b"], "inner handler", lambda x, a, b: np.full(3, 3.0)),
         ([V3, "?", "?"], "outer handler", lambda x, a, b: np.cos(x))]),
    "try_finally_without_handlers": ("""
def f(x):
    try:
        y = np.sin(x)
    finally:
        z = x * 2.0
    return np.sum(y * z)
""", 0, [([V3], "body", lambda x: 2.0 * (np.cos(x) * x + np.sin(x)))]),
    "a_helper_with_a_try": ("""
def safe_log(v):
    try:
        r = math.log(v)
    except ValueError:
        r = v - 1.0
    return r

def f(x):
    return safe_log(x * x) + safe_log(-x)
""", 0, [([0.5], "body, then handler", lambda x: 2.0 / x - 1.0)]),
}

CASES = [(name, k) for name, (_, _, ways) in PROGRAMS.items() for k in range(len(ways))]


@pytest.mark.parametrize("name,way", CASES, ids=[f"{n}-{w}" for n, w in CASES])
def test_each_way_through(name, way, optimize):
    src, wrt, ways = PROGRAMS[name]
    args, _, exact = ways[way]
    f = make_function(src, NAMESPACE)
    check_grads(f, args, wrt, optimize=optimize)
    if exact is not None:
        got = adjoint.grad(f, wrt=wrt, optimize=optimize)(*args)
        np.testing.assert_allclose(got, exact(*args), rtol=1e-10, atol=1e-12)


def test_a_manager_of_your_own_is_entered_once_per_gradient():
    f = make_function(PROGRAMS["a_timer_of_your_own"][0], NAMESPACE)
    df = adjoint.grad(f)
    before = Timer.entered
    df(V3)
    assert Timer.entered == before + 1


def test_the_reverse_sweep_reenters_the_numeric_environment():
    """np.log(0) warns in the primal, and its adjoint divides 0 by 0: under np.errstate
    neither warns, in either sweep."""
    f = make_function("""
def f(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)
    return np.sum(np.where(np.isfinite(y), y, 0.0))
""")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = adjoint.grad(f)(np.array([0.0, 2.0]))
    np.testing.assert_allclose(g, [0.0, 0.5])


# ---- refused: (name, source, words of the message, line, column)
REFUSED = [
    ("body_appends", """
def f(x):
    xs = [x]
    try:
        xs.append(np.log(x))
    except ValueError:
        pass
    return np.sum(xs[-1])
""", "the try at line 3 cannot be differentiated: its body appends to xs (line 4)", 3, 5),
    ("body_writes_an_item", """
def f(x):
    y = x * 1.0
    try:
        y[0] = math.log(x[1])
    except ValueError:
        y = x * 2.0
    return np.sum(y)
""", "the try at line 3 cannot be differentiated: its body writes into y (line 4)", 3, 5),
    ("body_calls_for_effect", """
def f(x):
    try:
        print(x)
        y = x * 2.0
    except ValueError:
        y = x
    return np.sum(y)
""", "the try at line 2 cannot be differentiated: its body calls print for its effect", 2, 5),
    ("body_pops", """
def f(x):
    xs = [x, x * 2.0]
    try:
        v = xs.pop()
        y = v * x
    except IndexError:
        y = x
    return np.sum(y)
""", "calls .pop(), which changes its object", 3, 5),
    ("name_bound_part_way_read_after", """
def f(x):
    try:
        a = x * 2.0
        b = np.log(a)
    except ValueError:
        b = x
    return np.sum(a + b)
""", "the try at line 2 cannot be differentiated: a is bound in its body and read on the "
        "path through `except ValueError:` (line 5)", 2, 5),
    ("name_bound_part_way_read_by_the_handler", """
def f(x):
    try:
        a = x * 2.0
        b = math.log(a)
    except ValueError:
        b = a
    return b
""", "a is bound in its body and read on the path", 2, 5),
    ("return_in_the_middle_of_the_body", """
def f(x):
    try:
        if np.sum(x) > 0:
            return x * 2.0
        y = x * 3.0
    except ValueError:
        y = x
    return y
""", "a return inside a try body must be its last statement", 2, 5),
    ("return_with_finally", """
def f(x):
    try:
        return x * 2.0
    finally:
        print("done")
""", "a return inside a try with a finally clause", 2, 5),
    ("exception_types_from_a_local", """
def f(x, errors=(ValueError,)):
    try:
        y = x * 2.0
    except errors:
        y = x
    return np.sum(y)
""", "the except clause reads errors", 4, 12),
    ("undefined_manager", """
def f(x):
    with no_such_manager():
        y = x * 2.0
    return np.sum(y)
""", "name 'no_such_manager' is not defined", 2, 10),
    ("suppress_swallows", """
def f(x):
    y = x
    with contextlib.suppress(ValueError):
        y = np.log(x)
    return np.sum(y)
""", "contextlib.suppress swallows exceptions", 3, 10),
    ("context_reads_a_derivative", """
def f(x):
    with np.errstate(over="ignore" if np.sum(x) > 0 else "warn"):
        y = np.exp(x)
    return np.sum(y)
""", "the with statement's context manager reads x, which carries a derivative", 2, 5),
    ("break_leaves_a_with_part_way", """
def f(x):
    s = 0.0
    for v in x:
        with np.errstate(all="ignore"):
            if v < 0:
                break
            s = s + v
        s = s * 2.0
    return s
""", "a break inside a with must end its body", 4, 9),
]


@pytest.mark.parametrize("name,src,words,line,col", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(name, src, words, line, col):
    f = make_function(src, NAMESPACE)
    with pytest.raises(UnsupportedSyntax) as info:
        adjoint.grad(f)(V3.copy())
    err = info.value
    assert words in str(err)
    assert (err.lineno, err.offset) == (line, col), str(err)
