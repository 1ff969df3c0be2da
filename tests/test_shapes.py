"""Gradients specialized on the shapes of their array arguments (analysis/dims.py) and the
adjoints written straight into fresh buffers (reverse/fill.py).

Every program is one where knowing the shapes decides what the emitted code does: a
broadcasting sum kept or dropped, a slice's share added or written, zeros made or not. Each
is checked against central differences, with the optimizer on and off, at several shapes in
one process (so one gradient holds code for each), and its emitted code is checked for what
the shapes allow and for what they do not."""

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint import inline
from adjoint.testing import check_grads

# name: (source, wrt, shapes of the arguments at each call)
SHAPED = {
    "odd-length neighbours": (
        "def f(x):\n    return np.sum(x[:-1] * x[1:]) + np.sum(x[0::2][:len(x) // 2] * x[1::2])\n",
        0, [[(7,)], [(8,)], [(9,)]]),
    "broadcast over size-1 axes": (
        "def f(a, b):\n    return np.sum(np.tanh(a + b) * a)\n", (0, 1),
        [[(3, 1), (1, 4)], [(3, 4), (4,)], [(2, 3), (2, 3)], [(1,), (5,)]]),
    "reductions kept as axes": (
        "def f(x):\n"
        "    m = np.max(x, axis=1, keepdims=True)\n"
        "    s = np.sum(np.exp(x - m), axis=1)\n"
        "    return np.sum(np.log(s)[:, None] * x.mean(axis=0))\n", 0, [[(3, 4)], [(1, 4)]]),
    "matrix products of vectors and matrices": (
        "def f(A, v):\n    w = A @ v\n    return np.sum(w * v[:w.shape[0]]) + np.dot(v, v)\n",
        (0, 1), [[(3, 3), (3,)], [(2, 3), (3,)]]),
    "einsum with an explicit output": (
        "def f(A, v):\n    return np.sum(np.einsum('ij,j->i', A, v) ** 2 + A[:, 0])\n",
        (0, 1), [[(3, 4), (4,)], [(1, 2), (2,)]]),
    "einsums whose adjoints are einsums": (
        "def f(Q, X, v):\n"
        "    a = np.einsum('kij,kj->ki', Q, X)\n"
        "    b = np.einsum('ij,jk->ik', X, Q[0])\n"
        "    c = np.einsum('i,i->', v, v)\n"
        "    d = np.einsum('ij->i', X * X)\n"
        "    return np.sum(a ** 2) + np.sum(np.sin(b)) * c + np.sum(d * v[:d.shape[0]])\n",
        (0, 1, 2), [[(2, 3, 3), (2, 3), (3,)], [(3, 2, 2), (3, 2), (3,)]]),
    "transposes": (
        "def f(A, B):\n    return np.sum(A.T * B) + np.sum(B.T[0] * A[0])\n", (0, 1),
        [[(3, 4), (4, 3)], [(1, 2), (2, 1)]]),
    "overlapping slices": (
        "def f(x):\n    return np.sum(x[0:3] * x[2:5]) + np.sum(x[1:4] ** 2)\n", 0,
        [[(5,)], [(6,)]]),
    "slices covering a matrix": (
        "def f(X):\n    return np.sum(X[:, 0] ** 2 + np.sum(np.sin(X[:, 1:]), axis=1))\n", 0,
        [[(3, 4)], [(2, 1)], [(1, 3)]]),
    "reversed and strided slices": (
        "def f(x):\n    return np.sum(x[::-1] * np.cos(x)) + np.sum(x[::3] ** 3)\n", 0,
        [[(5,)], [(7,)]]),
    "ints read off shapes": (
        "def f(x):\n"
        "    n, m = x.shape\n"
        "    k = n - 1\n"
        "    return np.sum(x[k] * x[0]) + np.sum(x[1:k, :m - 1] ** 2) + np.sum(x[:, m // 2:])\n",
        0, [[(4, 3)], [(3, 5)], [(2, 2)]]),
    "products and cross products of vectors": (
        "def f(A, u, v):\n"
        "    return np.dot(u, v) * np.sum(A @ u) + np.sum(np.cross(u, v) ** 2) + u @ v\n",
        (0, 1, 2), [[(2, 3), (3,), (3,)], [(3, 3), (3,), (3,)]]),
    "broadcasts summed to a 0-d array and to trailing axes": (
        "def f(X, s, r):\n    return np.sum(np.tanh(X * s + r) * X) + np.sum(np.copysign(X, r))\n",
        (0, 1, 2), [[(4, 3), (), (3,)], [(2, 2), (), (2,)]]),
    "a slice written in a loop": (
        "def f(u, c):\n"
        "    for _ in range(3):\n"
        "        v = u.copy()\n"
        "        v[1:-1] = u[1:-1] + c * (u[:-2] - 2.0 * u[1:-1] + u[2:])\n"
        "        u = v\n"
        "    return np.sum(u * u)\n", (0, 1), [[(6,), ()], [(4,), ()]]),
    "a broadcast rebound on every trip, its adjoint zero after the first": (
        "def f(x, y, c):\n"
        "    for i in range(len(x)):\n"
        "        for j in range(len(y)):\n"
        "            v = np.zeros((3,)) + c\n"
        "    n = v.size // 2\n"
        "    return np.sum(v[:n] * x[0])\n", (0, 2), [[(3,), (4,), ()], [(2,), (1,), ()]]),
}

HELPERS = {
    "a helper called at two shapes": (
        "def h(v):\n    return np.sum(v[:2] * v[2:4]) + np.sum(v[-1] * v)\n"
        "def f(x):\n    return h(x * 2.0) + h(x[1:])\n", 0, [[(6,)], [(5,)]]),
    "a state carried through a helper returning a tuple": (
        "def step(w, s):\n"
        "    n = s.shape[0]\n"
        "    h = np.tanh(w[:n] * s + w[n:])\n"
        "    return h, s + h\n"
        "def f(w, s):\n"
        "    total = 0.0\n"
        "    for _ in range(3):\n"
        "        h, s = step(w, s)\n"
        "        total = total + np.sum(h * h)\n"
        "    return total\n", (0, 1), [[(8,), (4,)], [(6,), (3,)]]),
    "ints read off shapes passed to a helper": (
        "def build(w, d, k):\n"
        "    Q = np.zeros((d, d))\n"
        "    for i in range(d):\n"
        "        Q[i, i] = np.exp(w[i])\n"
        "        Q[i, :i] = w[d:d + i] * k\n"
        "    return Q\n"
        "def f(w, x):\n"
        "    n, d = x.shape\n"
        "    total = 0.0\n"
        "    for j in range(n):\n"
        "        Q = build(w, d, j + 1)\n"
        "        total = total + np.sum((Q @ x[j]) ** 2) + np.sum(build(w, 2, 0.5))\n"
        "    return total\n", 0, [[(9,), (2, 3)], [(6,), (3, 2)]]),
    "a state whose helper changes its shape": (
        "def grow(s):\n    return np.concatenate([s, np.sin(s[:1])])\n"
        "def f(x):\n"
        "    s = x\n"
        "    for _ in range(3):\n"
        "        s = grow(s)\n"
        "    return np.sum(s[1:] * s[:-1])\n", 0, [[(3,)], [(2,)]]),
}


def _args(shapes, rng):
    """A float for (); an array of each other shape ((), as a 0-d array, in the second
    argument of a call that has three)."""
    return [np.array(rng.normal()) if shape == () and len(shapes) == 3 else float(
        rng.normal()) if shape == () else rng.normal(size=shape) for shape in shapes]




@pytest.mark.parametrize("name", sorted({**SHAPED, **HELPERS}))
def test_specialized_on_shapes_matches_finite_differences(name, optimize):
    src, wrt, calls = {**SHAPED, **HELPERS}[name]
    f = make_function(src)
    rng = np.random.default_rng(3)
    for shapes in calls:
        args = _args(shapes, rng)
        grads = check_grads(f, args, wrt, optimize=optimize)
        for g, k in zip(grads, wrt if isinstance(wrt, tuple) else (wrt,), strict=True):
            assert np.shape(g) == np.shape(args[k]), (name, shapes)


def test_shapes_decide_the_emitted_code():
    """Equal shapes drop the broadcasting sums; disjoint slices that cover an array are
    written into room made empty; overlapping ones are added into zeros."""
    rosen = make_function("def f(x):\n    odd, even = x[0::2], x[1::2]\n"
                          "    return np.sum(100 * (even - odd ** 2) ** 2 + (1 - odd) ** 2)\n")
    df = adjoint.grad(rosen)
    even = adjoint.source(df, np.ones(6))
    assert "unbroadcast" not in even and "runtime.empty_like(x)" in even
    assert "x_bar[1::2] = " in even and "x_bar[0::2] = " in even and "+=" not in even.split(
        "empty_like")[1]
    odd = adjoint.source(df, np.ones(7))  # 4 odd entries, 3 even: a broadcasting error
    with pytest.raises(ValueError):
        rosen(np.ones(7))
    assert odd != even
    overlap = make_function(SHAPED["overlapping slices"][0])
    code = adjoint.source(adjoint.grad(overlap), np.ones(5))
    assert "runtime.zeros_like(x)" in code and "x_bar[2:5] += " in code


# reductions of arrays of known shape: (source, the line the forward sweep has or None,
# a line it must not have or None)
METHOD_FORMS = {
    "a sum along an axis": ("def f(x):\n    s = np.sum(x * x, axis=1)\n"
                            "    return np.sum(np.sin(s))\n", "s = x_x.sum(axis=1)", None),
    "a max and a mean by position": (
        "def f(x):\n    m = np.max(x, 0)\n    return np.mean(m * x, 1)[0]\n",
        "m = x.max(0)", None),
    "keepdims by position: np.sum only": (
        "def f(x):\n    s = np.sum(x, 1, None, None, True)\n    return np.sum(s * x)\n",
        "s = np.sum(x, 1, None, None, True)", "x.sum(1"),
    "a keyword the method lacks: np.std only": (
        "def f(x):\n    s = np.std(x, axis=1, correction=1)\n    return np.sum(s * s)\n",
        "s = np.std(x, axis=1, correction=1)", "x.std("),
    "a list: the function": (
        "def f(x):\n    v = [x[0], x[1]]\n    s = np.sum(v)\n    return s * s\n",
        None, "v.sum("),
}


@pytest.mark.parametrize("name", sorted(METHOD_FORMS))
def test_reductions_of_known_arrays_are_their_methods(name, optimize):
    """np.sum(a, ...) of an array whose shape is known runs as a.sum(...), where the method
    takes the same arguments; the gradient is the same."""
    src, has, lacks = METHOD_FORMS[name]
    f = make_function(src)
    x = np.random.default_rng(5).normal(size=(3, 4))
    check_grads(f, [x], 0, optimize=optimize)
    code = adjoint.source(adjoint.grad(f, optimize=optimize), x)
    assert has is None or has in code, code
    assert lacks is None or lacks not in code, code


def test_the_generic_code_serves_shapes_past_the_limit():
    """A gradient called with many shapes keeps MAX_SHAPES versions; later shapes run the
    code that is not specialized on shapes, and are as right."""
    from adjoint import api

    f = make_function("def f(x):\n    return np.sum(x[:2] * x[-2:])\n")
    df = adjoint.grad(f)
    for n in range(2, api.MAX_SHAPES + 6):
        x = np.linspace(-1.0, 1.0, n)
        expected = np.zeros(n)
        expected[:2] += x[-2:]
        expected[-2:] += x[:2]
        np.testing.assert_allclose(df(x), expected)
    late = adjoint.source(df, np.ones(api.MAX_SHAPES + 10))
    assert "runtime.unbroadcast" in late  # the shape-generic code
    assert "runtime.unbroadcast" not in adjoint.source(df, np.ones(3))


def test_a_callee_specialized_on_a_shape_its_call_lacks_is_linked_again(monkeypatch):
    """The state grows each trip, so the helper cannot be specialized on the first shape:
    the calls are linked with no shapes, and the code has its broadcasting sums. (Its
    helper is kept a call here: small helpers are otherwise inlined.)"""
    monkeypatch.setattr(inline, "MAX_STATEMENTS", 0)
    src = HELPERS["a state whose helper changes its shape"][0]
    f = make_function(src)
    code = adjoint.source(adjoint.grad(f), np.ones(3))
    assert "grow_fwd" in code and code.count("def grow_fwd") == 1


CROSS_ENTROPY = """\
def f(W, b, X, labels):
    logits = X @ W + b
    m = np.max(logits, axis=1, keepdims=True)
    shifted = logits - m
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(X.shape[0]), labels])
"""


@pytest.mark.parametrize("repeat", [False, True])
def test_picks_with_distinct_rows_add_in_place(repeat, optimize):
    """`x[np.arange(n), labels]` picks each row once: its adjoint adds in place, with no
    np.add.at; labels that repeat a class change nothing. The count of a mean is a number."""
    f = make_function(CROSS_ENTROPY)
    rng = np.random.default_rng(5)
    W, b, X = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(6, 4))
    labels = np.zeros(6, dtype=int) if repeat else rng.integers(0, 3, size=6)
    check_grads(f, [W, b, X, labels], (0, 1), optimize=optimize)
    code = adjoint.source(adjoint.grad(f, wrt=(0, 1)), W, b, X, labels)
    assert "add_at" not in code and "[arange_X_shape_0, labels] += " in code
    assert "/ 6" in code and "entries" not in code
    assert "W_bar = X.T @ " in code


NOT_DISTINCT = {
    "a range written into": "    idx = np.arange(x.shape[0])\n    idx[1] = 0\n",
    "a range scaled to zeros": "    idx = np.arange(x.shape[0]) * 0\n",
    "a range rebound": "    idx = np.arange(x.shape[0])\n    if x[0, 0] > -10.0:\n"
                       "        idx = labels\n",
}


@pytest.mark.parametrize("name", sorted(NOT_DISTINCT))
def test_picks_whose_rows_may_repeat_add_each_share(name, optimize):
    """Rows picked twice add both shares: only a range nothing writes is taken as distinct."""
    f = make_function("def f(x, labels):\n" + NOT_DISTINCT[name]
                      + "    return np.sum(np.sin(x[idx, labels]))\n")
    x = np.random.default_rng(0).normal(size=(4, 3))
    check_grads(f, [x, np.array([0, 0, 2, 1])], 0, optimize=optimize)


def _shapes_seen(monkeypatch, f, args, wrt) -> tuple[dict, dict]:
    """(the concrete shape the analysis gives each name of f's gradient, each name's value
    when the gradient returns), from the code compiled for these arguments."""
    from adjoint.analysis.dims import is_dims
    from adjoint.reverse.sweep import Sweep

    found: dict = {}
    facts = Sweep.shaped_facts

    def record(self, dims):
        facts(self, dims)
        if dims and self.fn.name == f.__name__:
            found.update({n: t[1] for n, t in self.shape.items() if is_dims(t)})

    monkeypatch.setattr(Sweep, "shaped_facts", record)
    df = adjoint.grad(f, wrt=wrt)
    seen: dict = {}
    emitted = f"grad_{f.__name__}"  # the code compiled for these arguments' shapes

    def tracer(frame, event, arg):
        if frame.f_code.co_name == emitted and event == "return":
            seen.update(frame.f_locals)
        return tracer if frame.f_code.co_name == emitted else None

    import sys
    sys.settrace(tracer)
    try:
        df(*args)
    finally:
        sys.settrace(None)
    return found, seen


@pytest.mark.parametrize("name", sorted({**SHAPED, **HELPERS}))
def test_the_shapes_worked_out_are_the_shapes_the_code_meets(name, monkeypatch):
    """Every name the analysis gives a concrete shape holds a value of that shape when the
    gradient runs (the last value of a name bound in a loop, which has it on every trip)."""
    src, wrt, calls = {**SHAPED, **HELPERS}[name]
    f = make_function(src)
    args = _args(calls[0], np.random.default_rng(1))
    found, seen = _shapes_seen(monkeypatch, f, args, wrt)
    assert found, name
    checked = [n for n in found if n in seen and seen[n] is not None]
    assert len(checked) >= len(found) // 3, (name, found, sorted(seen))
    for n in checked:
        assert np.shape(seen[n]) == found[n], (name, n, np.shape(seen[n]), found[n])


def _samples():
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for p in (str(root / "samples"), str(root)):
        if p not in sys.path:
            sys.path.insert(0, p)
    from benchmarks.workloads import all_workloads

    return {w.name: w for w in all_workloads()}


@pytest.mark.parametrize("name", ["mlp", "gmm", "rosenbrock_1e4", "lstm", "ba"])
def test_the_samples_meet_the_shapes_worked_out(name, monkeypatch):
    """The same oracle on the benchmark samples at a small size, helpers and all."""
    w = _samples()[name]
    args = w.make_args(w.quick_size or 50)
    found, seen = _shapes_seen(monkeypatch, w.function, args, w.wrt)
    checked = [n for n in found if n in seen and seen[n] is not None]
    assert checked, name
    for n in checked:
        assert np.shape(seen[n]) == found[n], (name, n, np.shape(seen[n]), found[n])
