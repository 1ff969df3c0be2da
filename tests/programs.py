"""A corpus of small programs, one or more per construct of the supported language.

Each entry: a name, the source (the last def is differentiated; earlier defs are helpers
it may call), a function giving the arguments, and `wrt`. test_language.py checks every
entry against central differences with the optimizer on and off.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Program:
    name: str
    src: str
    args: Callable[[np.random.Generator], list]
    wrt: Any = 0
    mutates: bool = False  # the function changes its arguments (the caller sees it)


def vec(n):
    return lambda rng: [rng.normal(size=n)]


PROGRAMS = [
    # ---- straight-line code
    Program("tuple_swap", """
def f(x, y):
    a, b = x * 2.0, y
    a, b = b, a
    return np.sum(a * np.sin(b))
""", lambda r: [r.normal(size=3), r.normal(size=3)], (0, 1)),
    Program("reassign_top_level", """
def f(x):
    y = x * x
    x = np.sin(x)
    return np.sum(y + x)
""", vec(4)),
    Program("augmented", """
def f(x, w):
    s = x * 1.0
    s += w
    s *= x
    s -= 1.0
    s /= 2.0
    s **= 2
    return np.sum(s)
""", lambda r: [r.normal(size=3), r.normal(size=3)], (0, 1)),
    Program("attribute_and_methods", """
def f(A, v):
    B = A.T @ A
    s = B.sum(axis=0)
    return s.dot(v) + A.reshape(-1).max()
""", lambda r: [r.normal(size=(3, 2)), r.normal(size=2)], (0, 1)),
    Program("conditional_expression", """
def f(x):
    y = x * 2.0 if np.sum(x) > 0 else x * 3.0
    return np.sum(y ** 2)
""", vec(3)),
    Program("passive_integers", """
def f(x):
    n = len(x)
    m = x.shape[0] // 2
    k = int(np.floor(1.7))
    i = np.argmax(x)
    return x[i] * n + np.sum(x[:m]) * k + np.pi * x[0]
""", vec(5)),
    Program("index_reads", """
def f(A):
    a = A[0, 1] + A[-1, ::-1][0]
    b = A[1:, None, 1] * A[1:, 2:3]
    c = A[[0, 2, 0]] * 2.0
    d = A[A > 0]
    return a + np.sum(b) + np.sum(c) + np.sum(d ** 2)
""", lambda r: [r.normal(size=(3, 4))]),
    # ---- branches
    Program("if_elif_else", """
def f(x, y):
    if x > 1.0:
        z = x * y
    elif x > 0.0:
        z = np.sin(x) + y
    else:
        z = np.exp(x) * y * y
    return z
""", lambda r: [float(r.choice([1.5, 0.5, -0.5])), 0.7], (0, 1)),
    Program("and_or_not", """
def f(x, y):
    if x > 0 and not y < 0 or x > 10:
        return x * y
    return x + y
""", lambda r: [float(r.choice([1.5, -0.5])), float(r.choice([0.7, -0.3]))], (0, 1)),
    Program("early_returns", """
def f(x, y):
    if x > 1.0:
        return x * y
    z = np.sin(x)
    for i in range(5):
        z = z * y
        if z > 10.0:
            return z
    return z + x
""", lambda r: [float(r.choice([2.0, 0.5])), float(r.choice([3.0, 0.5, 1.5]))], (0, 1)),
    # ---- loops
    Program("loop_overwrite", """
def f(x, a):
    for i in range(3):
        x = np.sin(x) * a
    return np.sum(x)
""", lambda r: [r.normal(size=4), r.normal(size=4)], (0, 1)),
    Program("loop_computed_bounds", """
def f(x):
    total = 0.0
    n = len(x)
    for i in range(n - 1, 0, -2):
        total = total + x[i] * x[i - 1]
    return total
""", vec(7)),
    Program("loop_over_rows", """
def f(X, w):
    total = 0.0
    for row in X:
        total = total + np.tanh(row @ w)
    return total
""", lambda r: [r.normal(size=(4, 3)), r.normal(size=3)], (0, 1)),
    Program("loop_enumerate_zip", """
def f(xs, ys):
    total = 0.0
    for i, x in enumerate(xs):
        total = total + i * x
    for a, b in zip(xs, ys):
        total = total + a * b
    return total
""", lambda r: [r.normal(size=4), r.normal(size=4)], (0, 1)),
    Program("loop_over_list", """
def f(w, b):
    params = [w, b, w * b]
    total = 0.0
    for p in params:
        total = total + np.sum(p ** 2)
    return total
""", lambda r: [r.normal(size=3), r.normal(size=3)], (0, 1)),
    Program("nested_loops", """
def f(A):
    total = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            total = total + A[i, j] * (i + 1) * np.cos(A[j, i])
    return total
""", lambda r: [r.normal(size=(3, 3))]),
    Program("while_data_dependent", """
def f(x, c):
    while x > 0.1:
        x = x * c
    return x
""", lambda r: [3.0, 0.7], (0, 1)),
    Program("while_with_computed_test", """
def f(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x
""", lambda r: [2.0]),
    Program("break_continue", """
def f(x, c):
    total = 0.0
    for i in range(8):
        if i % 3 == 1:
            continue
        total = total + x ** i * c
        if total > 50.0:
            break
    return total
""", lambda r: [float(r.choice([1.1, 1.9])), 0.8], (0, 1)),
    Program("loop_else", """
def f(x, c):
    y = x
    for i in range(6):
        y = y * c
        if y > 5.0:
            break
    else:
        y = y + 100.0 * x
    return y
""", lambda r: [float(r.choice([1.0, 0.1])), 1.5], (0, 1)),
    # ---- in-place writes
    Program("fill_in_loop", """
def f(x):
    y = np.zeros_like(x)
    for i in range(1, len(x)):
        y[i] = y[i - 1] + x[i] ** 2
    return np.sum(y)
""", vec(5)),
    Program("copy_then_write", """
def f(x):
    y = x.copy()
    y[0] = 3.0 * x[1]
    y[1:3] += x[2:4] * y[0]
    y *= 2.0
    return np.sum(y * x)
""", vec(5)),
    Program("row_writes", """
def f(A, v):
    B = np.zeros((3, 2))
    for i in range(3):
        B[i, :] = A[i] * v
    B[0] = B[1] * B[2]
    return np.sum(B ** 2)
""", lambda r: [r.normal(size=(3, 2)), r.normal(size=2)], (0, 1)),
    Program("stencil", """
def f(u, dt):
    u = u.copy()
    for step in range(4):
        new = u.copy()
        for i in range(1, len(u) - 1):
            new[i] = u[i] + dt * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = new
    return np.sum(u ** 2)
""", lambda r: [r.normal(size=6), 0.1], (0, 1)),
    Program("eye_and_empty", """
def f(x):
    M = np.eye(3)
    M[0, 1] = x[0]
    E = np.empty(2)
    E[0] = x[1]
    E[1] = x[2] * x[0]
    return np.sum(M @ x) + np.sum(E ** 2)
""", vec(3)),
    Program("overwritten_value_read_later", """
def f(x):
    y = x * 1.0
    z = np.sum(y * y)
    y[0] = 5.0
    return z + np.sum(y)
""", vec(3)),
    # ---- containers
    Program("list_append_rnn", """
def f(W, xs, h):
    hs = []
    for x in xs:
        h = np.tanh(W @ h + x)
        hs.append(h)
    return sum(np.sum(hh ** 2) for hh in hs)
""", lambda r: [0.5 * r.normal(size=(3, 3)), r.normal(size=(4, 3)), r.normal(size=3)],
        (0, 1, 2)),
    Program("list_comprehension", """
def f(x, w):
    ys = [np.sin(v) * w for v in x if v > 0]
    return np.sum(np.stack(ys)) + sum([v * v for v in x])
""", lambda r: [r.normal(size=6), 0.7], (0, 1)),
    Program("np_array_of_list", """
def f(x):
    rows = []
    for i in range(3):
        rows.append(x * (i + 1.0))
    M = np.concatenate(rows)
    return np.sum(M ** 2) + np.sum(np.stack(rows)[1])
""", vec(3)),
    Program("dict_params", """
def f(params, x):
    h = np.tanh(x @ params["W"] + params["b"])
    return np.sum(h ** 2)
""", lambda r: [{"W": r.normal(size=(2, 3)), "b": r.normal(size=3)}, r.normal(size=(4, 2))]),
    Program("dict_loop", """
def f(a, b):
    p = {"a": a, "b": b}
    total = 0.0
    for k, v in p.items():
        total = total + np.sum(v * v)
    for v in p.values():
        total = total + np.sum(v)
    return total
""", lambda r: [r.normal(size=3), r.normal(size=2)], (0, 1)),
    Program("dict_param_loop", """
def f(params):
    total = 0.0
    for k, v in params.items():
        total = total + np.sum(v ** 2) * (2.0 if k == "w" else 1.0)
    return total
""", lambda r: [{"w": r.normal(size=3), "s": 1.5}]),
    Program("write_after_stacking_a_copy", """
def f(x):
    v = 0.5 * np.ones((3,))
    kept = [np.stack([v, v + x[0]], axis=1)]
    v[0] = x[1]
    return np.sum(np.stack(kept) ** 2) + np.sum(v * x[1])
""", vec(2)),
    Program("zero_adjoint_times_broadcast_operand", """
def f(x, y):
    m = np.zeros((2, 3)) + x
    s = np.sum(x)
    while s < 0.518:
        s = s + 0.5 + np.sum(m) ** 2
        m = np.hypot(y, 1.0)[:, None] * x
    return s
""", lambda r: [np.array([0.644, -0.73, 0.304]), r.normal(size=2)], (0, 1)),
    Program("augmented_write_into_a_view_of_a_result_a_rule_reads", """
def f(A, y, c):
    v = np.hypot(y, A)[0:1]
    v += c
    return np.sum(v)
""", lambda r: [r.normal(size=(2, 1)), r.normal(size=2), 1.2], (0, 1, 2)),
    Program("item_write_into_a_row_of_a_result_a_rule_reads", """
def f(A, c):
    H = np.linalg.inv(A)
    v = H[0]
    v[0] = c
    return np.sum(v * v)
""", lambda r: [np.eye(2) * 2.0 + 0.3 * r.normal(size=(2, 2)), 1.2], (0, 1)),
    Program("enumerate_zip", """
def f(x):
    s = 1.0
    for i, (a, b) in enumerate(zip(x, x[1:])):
        if a > b:
            continue
        s = s * (a - b) + i
    return s
""", lambda r: [np.array([0.3, 0.9, -0.4, 0.5])]),
    Program("reversed_loop", """
def f(x):
    s = 0.0
    for v in reversed(x):
        s = s * 0.5 + v * v
    return s
""", vec(4)),
    Program("numpy_call_on_a_list_built_in_a_loop", """
def f(x):
    return np.sum([v ** 2 for v in x if abs(v) < 1.0]) + np.max([v * 3.0 for v in x])
""", lambda r: [np.array([0.3, -0.5, 2.0, 0.1])]),
    Program("list_parameter_to_numpy_calls", """
def f(xs):
    return np.sum(np.array(xs) ** 2) + np.sum(xs) * np.mean(xs)
""", lambda r: [[0.5, -1.0, 2.0]]),
    Program("dict_filled_by_key", """
def f(x):
    d = {}
    d["a"] = x * 2.0
    d["b"] = d["a"] ** 2
    d["a"] = d["a"] + d["b"]
    return np.sum(d["a"])
""", vec(2)),
    Program("dict_entries_rewritten_in_a_loop_over_its_keys", """
def f(x):
    d = {"a": x, "b": x * x}
    for k in d:
        d[k] = d[k] * 2.0
    return np.sum(d["a"] ** 2 + d["b"])
""", vec(2)),
    Program("dict_comprehensions", """
def f(x, w):
    names = ["a", "b", "c"]
    scaled = {name: x[i] * w for i, name in enumerate(names)}
    squares = {k: v ** 2 for k, v in scaled.items() if k != "b"}
    parity = {i % 2: np.sin(x[i]) * w for i in range(3)}  # key 0 written twice
    total = 0.0
    for k in squares:
        total = total + squares[k]
    return total + scaled["b"] * parity[0] + parity[1]
""", lambda r: [r.normal(size=3), float(r.normal())], (0, 1)),
    Program("dict_views_read_as_values", """
def f(p):
    stacked = np.array(list(p.values()))
    pairs = list(p.items())
    return np.sum(stacked ** 2) + sum(p.values()) * pairs[0][1] + max(p.values()) * \
        len(p.keys())
""", lambda r: [{"a": float(r.normal()), "b": float(r.normal()), "c": float(r.normal())}]),
    Program("reshaped_in_fortran_order", """
def f(v, M):
    A = v.reshape((2, 3), order="F")
    cols = np.reshape(M, (3, 2), order="F")
    flat = M.ravel(order="F") + np.ravel(A, "F")
    return np.sum(A * M) + np.sum(cols @ A) + np.sum(flat * np.arange(6.0)) + \
        np.sum(M.T.flatten("F") ** 2)
""", lambda r: [r.normal(size=6), r.normal(size=(2, 3))], (0, 1)),
    Program("numpy_calls_on_lists_of_numbers", """
def f(a, b):
    pair = [a, b]
    w = [1.0, 2.0]
    s = np.dot(w, pair) + np.dot(pair, [a, 0.5])
    s = s + np.std(pair) + np.var([a, b, 1.0]) + np.linalg.norm(pair)
    s = s + np.sum(np.clip([a, b], -0.2, 0.4)) + np.sum(np.maximum(pair, 0.1))
    s = s + np.sum(np.arctan2(pair, w)) + np.sum(np.hypot(pair, 1.0)) + np.sum(np.power(pair, 3))
    s = s + np.sum(np.sort(pair) * w) + np.sum(np.take(pair, [1, 1]))
    s = s + np.average(pair, weights=[1.0, 3.0])
    return s + np.sum(np.matmul(pair, [[1.0, 0.5], [0.2, 1.0]]))
""", lambda r: [float(r.normal()), float(r.normal())], (0, 1)),
    Program("sum_of_a_matmul", """
def f(x, W):
    return np.sum(np.matmul(x, W)) + np.mean(np.matmul(W.T, x))
""", lambda r: [r.normal(size=3), r.normal(size=(3, 2))], (0, 1)),
    Program("gauss_seidel_with_running_sums", """
def f(A, b, sweeps=4):
    n = b.shape[0]
    x = np.zeros(n)
    for sweep in range(sweeps):
        for i in range(n):
            s = b[i]
            for j in range(n):
                if j != i:
                    s -= A[i, j] * x[j]
            x[i] = s / A[i, i]
    cf = x[0]
    cf += 1.0
    return np.sum(x ** 2) + cf
""", lambda r: [np.eye(3) * 5.0 + r.uniform(-1.0, 1.0, (3, 3)), r.normal(size=3)], (0, 1)),
    Program("entries_read_with_item", """
def f(x, W):
    s = np.sum(x ** 2).item()
    first = x[0].item()
    second = (W @ x).item(1)
    corner = W.item((1, 2))
    return s * first + second * corner + W.item(4) ** 2
""", lambda r: [r.normal(size=3), r.normal(size=(2, 3))], (0, 1)),
    Program("floats_written_into_int_and_bool_arrays", """
def f(x):
    flags = 0.5 == np.ones(3)  # booleans: a float written in becomes True
    flags[0] = x[1]
    counts = np.array([0, 0, 0])  # ints: a float written in is truncated
    counts[1] = x[0] * 10.0
    counts[2] += x[2]
    scaled = np.zeros(3)
    scaled[0] = x[0] * x[1]
    return np.sum(flags * x[1]) + np.sum(counts * x) + np.sum(scaled * x)
""", lambda r: [np.array([0.37, 0.81, 1.6]) + 0.01 * r.normal(size=3)]),
    Program("gaussian_process_with_scipy_linalg", """
import scipy.linalg

def f(X, y, ell):
    d = X[:, None] - X[None, :]
    K = np.exp(-0.5 * d ** 2 / ell ** 2) + 0.1 * np.eye(len(X))
    L = scipy.linalg.cholesky(K, lower=True)
    alpha = scipy.linalg.solve_triangular(L, y, lower=True)
    beta = scipy.linalg.solve(K, y, assume_a='pos')
    return 0.5 * np.sum(alpha ** 2) + np.sum(np.log(np.diag(L))) + 0.1 * np.dot(y, beta)
""", lambda r: [r.normal(size=4), r.normal(size=4), 0.8], (0, 1, 2)),
    Program("piecewise_linear_table_lookup", """
XP = np.array([0.0, 0.5, 1.5, 3.0])

def f(x, fp, scale):
    y = np.interp(x * scale, XP, fp)
    edge = np.interp(5.0, XP, fp, right=scale)
    return np.sum(y ** 2) + edge
""", lambda r: [r.uniform(0.1, 2.5, 5), r.normal(size=4), 1.1], (0, 1, 2)),
    Program("numpy_calls_on_built_lists", """
def square_sum(v):
    return np.sum(np.square(v))

def shifted(a, d):
    s = a
    s += d
    return s

def f(a, b):
    L = []
    L.append(a)
    L.append(b)
    M = [b * k for k in range(1, 3)]
    joined = L + [a * b]
    p = {"u": a, "v": b}
    s = np.sum(np.take(L, [0, 1, 1]) ** 2) + np.std(joined) + np.std(list(p.values()))
    s = s + np.sum(np.add(L, M) ** 2) + np.sum(np.multiply([a, b], 2.0)) + np.dot(L, M)
    s = s + square_sum([a, b * 2.0]) + np.linalg.norm(sorted(L)) + p.get("u", 0.0) * b
    return s + shifted(a, b) * a
""", lambda r: [float(r.normal()), float(r.normal())], (0, 1)),
    Program("one_line_suites", """
def f(x):
    s = 0.0
    for v in x: s = s + v * v
    else: s = s * 2.0
    if s > 100.0: s = s + 1.0
    elif s > 0.1: s = s * 3.0
    else: s = -s
    k = 0
    while k < 2: k += 1
    def h(t): return t * 2.0 + k
    return h(s)
""", vec(3)),
    Program("one_line_def", "def f(x): return np.sum(np.sin(x) * x)", vec(3)),
    Program("tuple_of_arrays_param", """
def f(layers, x):
    for W, b in layers:
        x = np.tanh(W @ x + b)
    return np.sum(x)
""", lambda r: [[(r.normal(size=(3, 2)), r.normal(size=3)),
                 (r.normal(size=(2, 3)), r.normal(size=2))], r.normal(size=2)], (0, 1)),
    # ---- functions
    Program("helper_twice", """
def sq_norm(v):
    return np.sum(v * v)

def f(x, w):
    r = x * w
    return sq_norm(r) + sq_norm(x)
""", lambda r: [r.normal(size=3), r.normal(size=3)], (0, 1)),
    Program("helper_tuple_return_defaults_keywords", """
def scale(a, s=2.0):
    return a * s, a + s

def f(x, y):
    total = 0.0
    for i in range(3):
        p, q = scale(x, s=y)
        total = total + np.sum(p * q)
        x = np.sin(p)
    u, v = scale(x)
    return total + np.sum(u * v)
""", lambda r: [r.normal(size=3), 0.7], (0, 1)),
    Program("condition_continued_with_backslash", """
def f(x, k=2, mode="sum  of squares"):
    if x.shape == (3,) and k == 2 \
            and mode == "sum  of squares":
        return np.sum(x ** 2)
    return np.sum(x)
""", lambda r: [r.normal(size=3)]),
    Program("strings_that_name_one_identifier", """
def f(x, unit="\u03bcm", mode="\ufb01t", power="m\u00b2"):
    if unit == "\u00b5m":
        y = x ** 3
    else:
        y = x ** 2
    if unit == "\u03bcm":
        z = y * 2.0
    else:
        z = y * 5.0
    if mode == "fit":
        z = z * 3.0
    if power == "m\u00b2" and mode == "\ufb01t":
        z = z + np.exp(x)
    return np.sum(z)
""", lambda r: [r.normal(size=3)]),
    Program("builtin_max_min_of_numbers", """
def smooth_max(*xs):
    return max(xs) + 0.1 * min(xs)

def f(a, b):
    pair = (a * b, a + b)
    return max(pair) * 2 + max(a * b, a + b, 0.1) + min(a, b * b) + smooth_max(a, b, 0.5)
""", lambda r: [float(r.uniform(0.2, 2.0)), float(r.uniform(0.2, 2.0))], (0, 1)),
    Program("random_draws_in_a_loop", """
import random

def f(W, x):
    np.random.seed(7)
    random.seed(3)
    rng = np.random.default_rng(1)
    h = x * 1.0
    for t in range(3):
        unused = np.random.rand(3)
        mask = (np.random.rand(3) < 0.8) / 0.8
        scale = random.gauss(1.0, 0.3)
        noise = rng.normal(size=3) * 0.1
        h = np.tanh(W @ h + noise) * mask * scale
    return np.sum(h ** 2)
""", lambda r: [r.normal(size=(3, 3)), r.normal(size=3)], (0, 1)),
    Program("scatter_add_with_np_add_at", """
def f(k, x):
    n = x.shape[0]
    K = np.zeros((n, n))
    for e in range(n - 1):
        rows = np.array([e, e, e + 1, e + 1])
        cols = np.array([e, e + 1, e, e + 1])
        np.add.at(K, (rows, cols), k[e] * np.array([1.0, -1.0, -1.0, 1.0]))
    load = np.zeros(n)
    np.add.at(load, np.array([0, 0, n - 1]), x[:3] * k[0])
    return x @ K @ x + np.sum(load ** 2)
""", lambda r: [r.uniform(1.0, 2.0, 3), r.normal(size=4)], (0, 1)),
    Program("f_strings_in_messages_and_labels", """
def f(x, w):
    log = []
    total = 0.0
    for i in range(3):
        total = total + np.sum(np.tanh(x * w) * (i + 1))
        log.append(f"step {i}: total={total:.3f}, |x|={np.linalg.norm(x):.2f}")
    label = f"{x.shape[0]}-dim"
    if label == "3-dim" and len(log) == 3:
        total = total * 2.0
    return total
""", lambda r: [r.normal(size=3), float(r.normal())], (0, 1)),
    Program("math_hypot_of_several_numbers", """
import math

def f(a, b):
    return math.hypot(a, 2.0, b * a) + math.hypot(b, a) * a
""", lambda r: [float(r.uniform(0.5, 2.0)), float(r.uniform(0.5, 2.0))], (0, 1)),
    Program("normalized_in_place", """
def f(x, a):
    P = np.exp(x * a)
    P /= np.sum(P)
    s = a * 2.0
    s /= a + 1.0
    return np.sum(P ** 2) * s + np.sum(P * x)
""", lambda r: [r.normal(size=4), float(r.uniform(0.5, 1.5))], (0, 1)),
    Program("array_default_argument", """
def f(x, offset=np.array([0.1, 0.2, -0.3]), *, scale=np.ones(3) * 2.0):
    return np.sum(scale * (x - offset) ** 2)
""", vec(3)),
    Program("lists_joined_to_constant_lists", """
def f(x, a):
    head = [x[0] * a] + [1.0, 2.0]
    tail = [0.5] + [x[1], x[2] * a]
    pair = (x[0], a) + (3.0,)
    return sum(head) * tail[1] + tail[2] * head[0] + np.sum(np.array(tail) ** 2) + \
        pair[0] * pair[1] * pair[2]
""", lambda r: [r.normal(size=3), float(r.normal())], (0, 1)),
    Program("einsum_of_one_to_four_operands", """
def f(x, A):
    P = A @ A.T + np.eye(3)
    quad = np.einsum('i,ij,j->', x, P, x)
    trace = np.einsum('ii->', np.outer(x, x) * P)
    chain = np.einsum('i,ij,jk,k->', x, P, A, x ** 2)
    total = np.einsum('i->', np.sin(x) * x)
    return quad + 0.5 * trace + 0.1 * chain + total
""", lambda r: [r.normal(size=3), r.normal(size=(3, 3))], (0, 1)),
    Program("helper_gathering_star_args", """
def l2(*ws):
    return sum(np.sum(w ** 2) for w in ws)

def weighted(scale, *arrays, shift=0.0):
    total = 0.0
    for a in arrays:
        total = total + scale * np.sum(np.sin(a)) + shift
    return total

def f(w1, w2, x):
    h = np.tanh(x @ w1)
    fit = np.sum((h @ w2) ** 2)
    return fit + 0.01 * l2(w1, w2) + weighted(2.0, w1, w2 * x[0, 0], shift=0.5) + \
        weighted(0.5, w2) + l2()
""", lambda r: [r.normal(size=(3, 4)), r.normal(size=(4, 2)), r.normal(size=(5, 3))],
            (0, 1, 2)),
    Program("helpers_calling_helpers", """
def inner(v, w):
    return np.tanh(v * w)

def middle(v, w):
    return inner(v, w) * inner(w, v)

def f(x, w):
    return np.sum(middle(x, w) + inner(x, 1.5))
""", lambda r: [r.normal(size=3), r.normal(size=3)], (0, 1)),
    Program("recursion", """
def power(x, n):
    if n == 0:
        return x * 0.0 + 1.0
    return x * power(x, n - 1)

def f(x):
    return np.sum(power(x, 4))
""", vec(3)),
    Program("closure_and_lambda", """
def f(x, w):
    def inner(v):
        return np.sin(v) * w
    sq = lambda v: v * v
    total = 0.0
    for k in range(3):
        total = total + np.sum(inner(x) * sq(x + k))
    return total + np.sum(inner(2.0 * x))
""", lambda r: [r.normal(size=3), 0.7], (0, 1)),
    Program("helper_passed_as_argument", """
def square(v):
    return v * v

def cube(v):
    return v * v * v

def apply(fn, x):
    return fn(x) + 1.0

def f(x):
    return np.sum(apply(square, x) * apply(cube, x))
""", vec(3)),
    Program("helper_in_loop_with_branch", """
def rodrigues(r, X):
    theta2 = np.dot(r, r)
    if theta2 > 1e-12:
        theta = np.sqrt(theta2)
        v = r / theta
        return X * np.cos(theta) + v * np.sin(theta) + v * np.dot(v, X) * (1 - np.cos(theta))
    return X + r

def f(r, points):
    total = 0.0
    for p in points:
        q = rodrigues(r, p)
        total = total + np.sum(q[:2] / q[2])
    return total
""", lambda r: [r.normal(size=3) * 0.3, r.normal(size=(4, 3)) + np.array([0, 0, 5.0])],
        (0, 1)),
    # ---- functions that change their arguments
    Program("writes_into_argument", """
def f(x):
    s = np.sum(x * x)
    x[0] = 5.0 * x[1]
    x += 1.0
    x *= x[2]
    return s + np.sum(x)
""", vec(4), mutates=True),
    Program("appends_to_argument", """
def f(xs, w):
    xs.append(w * 2.0)
    return sum(v * v for v in xs)
""", lambda r: [[r.normal(), r.normal()], r.normal()], (0, 1), mutates=True),
    Program("unpacked_items_of_different_shapes", """
def f(x, y):
    t = (x, y)
    a, b = t
    return np.sum(a * b)
""", lambda r: [r.normal(size=3), r.normal(size=(2, 3))], (0, 1)),
    # ---- raise: input validation runs in the forward sweep; a path that raises has none
    Program("validated_inputs", """
def f(x, lam=0.5, mode="sq"):
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    if x.ndim != 1:
        raise ValueError("x must be 1-d")
    if mode == "sq":
        return lam * np.sum(x ** 2)
    elif mode == "abs":
        return lam * np.sum(np.abs(x))
    raise ValueError("unknown mode " + mode)
""", vec(3)),
    Program("raise_inside_a_loop", """
def f(x):
    s = 0.0
    for xi in x:
        if not np.isfinite(xi):
            raise ValueError("not finite")
        s = s + np.sin(xi) * xi
    return s
""", vec(4)),
    # ---- try/except: the way it went is recorded and replayed; with: entered around the body
    Program("try_except_the_way_differs_by_trip", """
def f(x):
    total = 0.0
    for v in x:
        try:
            if v < 0.0:
                raise ValueError("negative")
            r = np.sqrt(v)
        except ValueError:
            r = -0.5 * v
        total = total + r * v
    return total
""", vec(5)),
    Program("try_cholesky_else_finally", """
def f(A, b):
    S = A @ A.T + np.eye(3)
    try:
        L = np.linalg.cholesky(S)
        y = np.sum(np.log(np.diag(L)))
    except np.linalg.LinAlgError:
        y = np.sum(np.linalg.solve(S, b))
    else:
        y = y + np.sum(b * b)
    finally:
        z = y * 2.0
    return z
""", lambda r: [r.normal(size=(3, 3)), r.normal(size=3)], (0, 1)),
    Program("try_returns_from_each_way", """
def f(x, key):
    try:
        return {"a": 2.0, "b": 3.0}[key] * np.sum(x * x)
    except KeyError:
        return np.sum(np.sin(x))
""", lambda r: [r.normal(size=3), "b" if r.random() < 0.5 else "z"]),
    Program("with_errstate", """
def f(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(x > 0, np.log(np.abs(x)), 0.0)
        y = y * x
    return np.sum(y * x)
""", vec(4)),
    # ---- *args: the extra positional arguments, a tuple read by item, unpacked, passed on
    Program("star_args_data", """
def f(w, *data):
    X, y = data[:2]
    scale = data[2] if len(data) > 2 else 1.0
    return scale * np.sum((X @ w - y) ** 2) + np.sum(np.ones(*w.shape) * w)
""", lambda r: [r.normal(size=2), r.normal(size=(3, 2)), r.normal(size=3), 0.5]),
    Program("star_args_method_style_counter", """
class Counter:
    nfev = 0

C = Counter()

def f(x, *args):
    C.nfev += 1
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
""", vec(4)),
    # ---- attributes set for their effect: counters, shapes remembered by an object
    Program("function_attribute_counter", """
def f(x):
    f.calls += 1
    f.last_size = x.shape[0]
    return np.sum(np.tanh(x) ** 2)

f.calls = 0
""", vec(3)),
    Program("object_counts_its_evaluations", """
class Objective:
    def __init__(self):
        self.nfev = 0
        self.n_in = None

OBJ = Objective()

def f(x, W):
    OBJ.nfev += 1
    if OBJ.n_in is None:
        OBJ.n_in = W.shape[1]
    return np.sum(np.sin(W @ x)) / OBJ.n_in
""", lambda r: [r.normal(size=3), r.normal(size=(2, 3))], (0, 1)),
    # ---- random draws: passive values made in the forward sweep as the primal makes them
    Program("reparameterized_draw", """
def f(mu, log_sigma, seed=3):
    rs = np.random.RandomState(seed)
    eps = rs.randn(*mu.shape)
    z = mu + np.exp(log_sigma) * eps
    return np.sum(z ** 2) - np.sum(log_sigma)
""", lambda r: [r.normal(size=(2, 3)), 0.1 * r.normal(size=(2, 3))], (0, 1)),
    Program("dropout_mask_from_a_reseeded_global_generator", """
def f(W, x):
    np.random.seed(11)
    h = np.tanh(W @ x)
    keep = 0.75
    mask = (np.random.rand(*h.shape) < keep) / keep
    return np.sum((h * mask) ** 2)
""", lambda r: [r.normal(size=(4, 3)), r.normal(size=3)], 0),
    Program("generator_made_inside", """
def f(theta):
    rng = np.random.default_rng(5)
    noise = rng.standard_normal(theta.shape[0])
    draws = rng.normal(0.0, 1.0, size=(3, theta.shape[0]))
    return np.sum(np.sin(theta + noise)) + np.sum(draws @ theta)
""", vec(4)),
    Program("star_unpacked_shape_in_passive_calls", """
def f(x):
    shape = x.shape
    ones = np.ones(*shape[:1])
    grid = np.zeros((*shape, 2))
    return np.sum(x * ones) + np.sum(grid) + np.sum(np.full(x.shape, 2.0) * x ** 2)
""", vec(3)),
    Program("bool_from_a_comparison_as_an_index", """
def f(x, a, c):
    flag = a > 0.5
    y = x[flag]
    s = y * c
    return np.sum(s * s) + a * np.sum(x[a < 0.0])
""", lambda r: [r.normal(size=3), 0.7, r.normal(size=3)], (0, 1)),
    Program("number_items_of_a_list_and_dict_changed_in_place", """
def f(p):
    qs = [p * 1.0, p[0]]
    d = {"k": p[1]}
    qs[1] *= qs[1]
    qs[1] -= 0.5 * p[1]
    d["k"] += qs[1] * p[0]
    d["k"] /= 3.0
    return np.sum(qs[0] ** 2) * qs[1] + d["k"]
""", vec(2)),
    Program("defaultdict_of_floats_summed_into", """
import collections

def f(p):
    d = collections.defaultdict(float)
    for i in range(p.shape[0]):
        d[i % 2] += p[i] ** 2
    d[5] -= p[0]
    return d[0] + 3.0 * d[1] * d[5]
""", vec(3)),
    Program("ellipsis_item_written", """
def f(x):
    y = np.zeros(2)
    y[..., 0] = x[0] * x[1]
    y[1] = 1.0
    z = x * 1.5
    for i in range(x.shape[0]):
        z[..., i] = z[i] ** 2
    return np.sum(y ** 2) + np.sum(z ** 2)
""", vec(2)),
    Program("bool_passed_to_a_nested_helper_as_an_index", """
def f(x, a, b):
    flag = a > b
    def pick(v, s):
        return v[s]
    return np.sum(pick(x, flag) * a) + np.sum(pick(x, a < b))
""", lambda r: [r.normal(size=3), 1.2, 1.0], (0, 1)),
    Program("iterators_kept_in_names_and_consumed_before_writes", """
def f(x):
    y = x.copy()
    gen = (y[i] ** 2 for i in range(y.shape[0]))
    m = map(np.sin, y)
    s = sum(gen) + sum(m)
    y = y * 2.0
    return s + sum(a * b for a, b in zip(x, y))
""", vec(3)),
    Program("dict_comprehension_of_constants_over_a_dict", """
def f(p, names):
    w = {k: 2.0 for k in p}
    scale = {n: 1.5 for n in names}
    return w["a"] * p["a"] + w["b"] * p["b"] ** 2 * scale["b"]
""", lambda r: [{"a": r.normal(), "b": r.normal()}, ["a", "b"]], 0),
]
