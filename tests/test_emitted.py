"""The emitted code of the shapes EMITTED.md describes, as golden text, each gradient also
checked against central differences. A change to the emitter shows here as a diff."""

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.testing import check_grads

# name: (source, wrt, arguments, the emitted code for those arguments)
CASES = {
    "loop_overwrite": ("""\
def f1(x, a):
    for i in range(3):
        x = np.sin(x) * a
    return np.sum(x)
""", ('x', 'a'), lambda: [np.linspace(-1.0, 1.0, 4), np.linspace(0.5, 1.5, 4)], """\
def grad_f1(x, a, f1_bar=1.0):
    # forward
    sin_x_stack = []
    x_stack = []
    i_range = range(3)
    for i in i_range:
        sin_x = np.sin(x)
        sin_x_stack.append(sin_x)
        x_stack.append(x)
        x = sin_x * a
    f1_bar = runtime.check_seed(0.0, f1_bar, 'f1')
    # backward
    # grad of: return np.sum(x)
    x_bar = f1_bar
    # grad of: for i in range(3):
    x_bar = runtime.densify(x_bar, x)
    a_bar = runtime.zeros_like(a)
    for i in reversed(i_range):
        sin_x = sin_x_stack.pop()
        # grad of: x = np.sin(x) * a
        sin_x_bar = x_bar * a
        a_bar += x_bar * sin_x
        x = x_stack.pop()
        x_bar = sin_x_bar * np.cos(x)
    x_bar = runtime.densify(x_bar, x)
    return x_bar, a_bar
"""),
    "while_trip_count": ("""\
def f2(x, c):
    while x > 0.1:
        x = x * c
    return x
""", ('x', 'c'), lambda: [3.0, 0.7], """\
def grad_f2(x, c, f2_bar=1.0):
    # forward
    x_stack = []
    trips = 0
    while x > 0.1:
        trips += 1
        x_stack.append(x)
        x = x * c
    f2_bar = runtime.check_seed(0.0, f2_bar, 'f2')
    # backward
    x_bar = f2_bar
    # grad of: while x > 0.1:
    c_bar = runtime.zeros_like(c)
    for _ in range(trips):
        # grad of: x = x * c
        x = x_stack.pop()
        c_bar += x_bar * x
        x_bar = x_bar * c
    return x_bar, c_bar
"""),
    "branch": ("""\
def f3(x, y):
    if x > y:
        z = x * y
    else:
        z = np.exp(x)
    return z
""", ('x', 'y'), lambda: [1.5, 0.3], """\
def grad_f3(x, y, f3_bar=1.0):
    # forward
    x_gt_y = x > y
    if x_gt_y:
        z = x * y
    else:
        z = np.exp(x)
    f3_bar = runtime.check_seed(0.0, f3_bar, 'f3')
    # backward
    # grad of: if x > y:
    if x_gt_y:
        # grad of: z = x * y
        x_bar = f3_bar * y
        y_bar = f3_bar * x
    else:
        # grad of: z = np.exp(x)
        x_bar = f3_bar * z
        y_bar = runtime.zeros_like(y)
    return x_bar, y_bar
"""),
    "filled_in_place": ("""\
def f4(x):
    y = np.zeros_like(x)
    for i in range(1, len(x)):
        y[i] = y[i - 1] + x[i] ** 2
    return np.sum(y)
""", ('x',), lambda: [np.linspace(0.1, 1.0, 5)], """\
def grad_f4(x, f4_bar=1.0):
    # forward
    y = np.zeros_like(x)
    len_x = len(x)
    i_range = range(1, len_x)
    for i in i_range:
        y_im1 = y[i - 1]
        x_i = x[i]
        x_i_sq = x_i ** 2
        y_i = y_im1 + x_i_sq
        y[i] = y_i
    f4_bar = runtime.check_seed(0.0, f4_bar, 'f4')
    # backward
    # grad of: return np.sum(y)
    y_bar = f4_bar
    # grad of: for i in range(1, len(x)):
    y_bar = runtime.densify(y_bar, y)
    x_bar = runtime.zeros_like(x)
    y_bar = runtime.owned(y_bar, y)
    for i in reversed(i_range):
        x_i = x[i]
        # grad of: y[i] = y[i - 1] + x[i] ** 2
        y_i_bar = y_bar[i].copy()
        y_bar[i] = 0.0
        x_i_bar = y_i_bar * 2 * x_i
        x_bar[i] += x_i_bar
        y_bar[i - 1] += y_i_bar
    # grad of: y = np.zeros_like(x)
    return x_bar,
"""),
    "helper": ("""\
def sq_norm(v):
    return np.sum(v * v)

def f5(x, w):
    r = x * w
    return sq_norm(r) + sq_norm(x)
""", ('x', 'w'), lambda: [np.linspace(-1.0, 1.0, 3), np.linspace(0.5, 1.5, 3)], """\
def grad_f5(x, w, f5_bar=1.0):
    # forward
    r = x * w
    f5_bar = runtime.check_seed(0.0, f5_bar, 'f5')
    # backward
    # grad of: sq_norm: return np.sum(v * v)
    x_bar = 2 * f5_bar * x
    # grad of: sq_norm: return np.sum(v * v)
    r_bar = 2 * f5_bar * r
    # grad of: r = x * w
    x_bar += r_bar * w
    w_bar = r_bar * x
    return x_bar, w_bar
"""),
    "negation_folded": ("""\
def f6(k, c, x, v):
    for _ in range(2):
        a = -k * x - c * v
        x = x + 0.1 * v
        v = v + 0.1 * a
    return x * x
""", ('k', 'c'), lambda: [4.0, 0.3, 1.0, -0.5], """\
def grad_f6(k, c, x, v, f6_bar=1.0):
    # forward
    v_stack = []
    x_stack = []
    loop_range = range(2)
    neg_k = -k
    for _ in loop_range:
        neg_k_x = neg_k * x
        c_v = c * v
        a = neg_k_x - c_v
        v_scaled = 0.1 * v
        x_stack.append(x)
        x = x + v_scaled
        a_scaled = 0.1 * a
        v_stack.append(v)
        v = v + a_scaled
    f6_bar = runtime.check_seed(0.0, f6_bar, 'f6')
    # backward
    # grad of: return x * x
    x_bar = 2 * f6_bar * x
    # grad of: for _ in range(2):
    v_bar = 0.0
    c_bar = runtime.zeros_like(c)
    neg_k_bar = 0.0
    for _ in reversed(loop_range):
        # grad of: v = v + 0.1 * a
        v = v_stack.pop()
        a_bar = v_bar * 0.1
        # grad of: x = x + 0.1 * v
        x = x_stack.pop()
        v_bar = v_bar + x_bar * 0.1
        # grad of: a = -k * x - c * v
        c_bar -= a_bar * v
        v_bar -= a_bar * c
        neg_k_bar = neg_k_bar + a_bar * x
        x_bar = x_bar + a_bar * neg_k
    # grad of: a = -k * x - c * v
    k_bar = -neg_k_bar
    return k_bar, c_bar
"""),
    "negations_folded": ("""\
def f7(z, x):
    s = 1 / (1 + np.exp(-z))
    a = x[1::2] - x[0::2] ** 2
    b = 1 - x[0::2]
    return np.sum(s) + np.sum(100 * a ** 2 + b ** 2)
""", ('z', 'x'), lambda: [np.linspace(-1.0, 1.0, 3), np.linspace(-1.2, 1.0, 6)], """\
def grad_f7(z, x, f7_bar=1.0):
    # forward
    neg_z = -z
    exp_neg_z = np.exp(neg_z)
    exp_neg_z_shifted = 1 + exp_neg_z
    s = 1 / exp_neg_z_shifted
    x_part = x[1::2]
    x_part_2 = x[0::2]
    x_part_2_sq = x_part_2 ** 2
    a = x_part - x_part_2_sq
    x_part_3 = x[0::2]
    b = 1 - x_part_3
    f7_bar = runtime.check_seed(0.0, f7_bar, 'f7')
    # backward
    # grad of: return np.sum(s) + np.sum(100 * a ** 2 + b ** 2)
    x_part_3_bar = f7_bar * -2 * b
    a_sq_bar = f7_bar * 100
    a_bar = a_sq_bar * 2 * a
    # grad of: b = 1 - x[0::2]
    x_bar = runtime.zeros_like(x)
    x_bar[0::2] = x_part_3_bar
    # grad of: a = x[1::2] - x[0::2] ** 2
    x_part_2_bar = a_bar * -2 * x_part_2
    x_bar[0::2] += x_part_2_bar
    x_bar[1::2] += a_bar
    # grad of: s = 1 / (1 + np.exp(-z))
    neg_exp_neg_z_shifted_bar = f7_bar * s / exp_neg_z_shifted
    z_bar = neg_exp_neg_z_shifted_bar * exp_neg_z
    return z_bar, x_bar
"""),
    "loop_products_after_the_loop": ("""\
def f8(Q, m, X):
    total = 0.0
    for x in X:
        z = np.einsum("kij,kj->ki", Q, x - m)
        v = -0.5 * np.sum(z ** 2, axis=1)
        v_max = np.max(v)
        total = total + v_max + np.log(np.sum(np.exp(v - v_max)))
    return total
""", ('Q', 'm'), lambda: [np.ones((2, 3, 3)) * 0.2, np.zeros((2, 3)),
                         np.arange(12.0).reshape(4, 3) / 10], """\
def grad_f8(Q, m, X, f8_bar=1.0):
    # forward
    exp_v_minus_v_max_stack = []
    sum_max_stack = []
    x_minus_m_stack = []
    z_stack = []
    len_X = len(X)
    x_index_range = range(len_X)
    for x_index in x_index_range:
        x = X[x_index]
        x_minus_m = x - m
        x_minus_m_stack.append(x_minus_m)
        z = np.einsum("kij,kj->ki", Q, x_minus_m)
        z_stack.append(z)
        z_sq = z ** 2
        sum_z_sq = z_sq.sum(axis=1)
        v = -0.5 * sum_z_sq
        v_max = v.max()
        v_minus_v_max = v - v_max
        exp_v_minus_v_max = np.exp(v_minus_v_max)
        exp_v_minus_v_max_stack.append(exp_v_minus_v_max)
        sum_max = exp_v_minus_v_max.sum()
        sum_max_stack.append(sum_max)
    f8_bar = runtime.check_seed(0.0, f8_bar, 'f8')
    # backward
    total_bar = f8_bar
    # grad of: for x in X:
    Q_bar = runtime.zeros_like(Q)
    m_bar = runtime.zeros_like(m)
    z_bar_trips = []
    x_minus_m_trips = []
    for x_index in reversed(x_index_range):
        x_minus_m = x_minus_m_stack.pop()
        z = z_stack.pop()
        exp_v_minus_v_max = exp_v_minus_v_max_stack.pop()
        sum_max = sum_max_stack.pop()
        # grad of: total = total + v_max + np.log(np.sum(np.exp(v - v_max)))
        total_plus_v_max_bar = total_bar
        sum_max_bar = total_bar / sum_max
        v_minus_v_max_bar = sum_max_bar * exp_v_minus_v_max
        total_bar = total_plus_v_max_bar
        # grad of: v = -0.5 * np.sum(z ** 2, axis=1)
        sum_z_sq_bar = v_minus_v_max_bar * -0.5
        z_bar = sum_z_sq_bar[:, None] * 2 * z
        # grad of: z = np.einsum("kij,kj->ki", Q, x - m)
        z_bar_trips.append(z_bar)
        x_minus_m_trips.append(x_minus_m)
    if z_bar_trips:
        z_bar_trips = np.array(z_bar_trips)
        x_minus_m_trips = np.array(x_minus_m_trips)
        Q_bar += np.einsum('nki,nkj->kij', z_bar_trips, x_minus_m_trips, optimize=True)
        m_bar -= np.einsum('nki,kij->kj', z_bar_trips, Q, optimize=True)
    return Q_bar, m_bar
"""),
}


@pytest.mark.parametrize("name", list(CASES))
def test_emitted(name):
    src, wrt, args, expected = CASES[name]
    f = make_function(src)
    df = adjoint.grad(f, wrt=wrt)
    assert adjoint.source(df, *args()) == expected
    check_grads(f, args(), wrt)
