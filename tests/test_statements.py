"""The forward and reverse sweeps of each kind of statement, as golden text (the kinds
tests/test_emitted.py does not show: in-place updates, appends, unpacking, jumps, try and
with); each gradient is also checked against central differences."""

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.testing import check_grads

# name: (what it shows, source, wrt, arguments, the emitted code for those arguments)
CASES = {
    "augmented_in_place": (
        "an array updated in place (`y += v`, `y *= x`): its old values kept and restored",
        """\
def f(x, v):
    y = x * 2.0
    y += v
    y *= x
    return np.sum(y)
""", ('x', 'v'), lambda: [np.linspace(0.5, 1.0, 3), np.linspace(-1.0, 1.0, 3)], """\
def grad_f(x, v, f_bar=1.0):
    # forward
    y = x * 2.0
    y += v
    y_old = runtime.snapshot(y)
    y *= x
    f_bar = runtime.check_seed(0.0, f_bar, 'f')
    # backward
    # grad of: return np.sum(y)
    y_bar = f_bar
    # grad of: y *= x
    y = runtime.restore(y, y_old)
    x_bar = y_bar * y
    y_bar = y_bar * x
    # grad of: y += v
    v_bar = y_bar
    # grad of: y = x * 2.0
    x_bar += y_bar * 2.0
    v_bar = runtime.densify(v_bar, v)
    return x_bar, v_bar
"""),
    "item_added_in_place": (
        "an item added to in place (`y[i] += v`): the item's adjoint is read, not zeroed",
        """\
def f(x, w):
    y = np.zeros(3)
    for i in range(3):
        y[i] += x[i] * w
    return np.sum(y * y)
""", ('x', 'w'), lambda: [np.linspace(0.5, 1.0, 3), 1.5], """\
def grad_f(x, w, f_bar=1.0):
    # forward
    y = np.zeros(3)
    i_range = range(3)
    for i in i_range:
        x_i = x[i]
        x_i_w = x_i * w
        y[i] += x_i_w
    f_bar = runtime.check_seed(0.0, f_bar, 'f')
    # backward
    # grad of: return np.sum(y * y)
    y_bar = 2 * f_bar * y
    # grad of: for i in range(3):
    x_bar = runtime.zeros_like(x)
    w_bar = runtime.zeros_like(w)
    for i in reversed(i_range):
        x_i = x[i]
        # grad of: y[i] += x[i] * w
        x_i_w_bar = y_bar[i].copy()
        x_i_bar = x_i_w_bar * w
        w_bar += x_i_w_bar * x_i
        x_bar[i] += x_i_bar
    return x_bar, w_bar
"""),
    "appended_list": (
        "a list grown by append: its adjoint list shrinks by pop in the reverse sweep",
        """\
def f(x):
    hs = []
    h = x
    for i in range(3):
        h = np.tanh(h)
        hs.append(h)
    return np.sum(hs[0] * hs[2])
""", ('x',), lambda: [np.linspace(-1.0, 1.0, 3)], """\
def grad_f(x, f_bar=1.0):
    # forward
    h_stack = []
    hs = []
    h = x
    i_range = range(3)
    for i in i_range:
        h_stack.append(h)
        h = np.tanh(h)
        hs.append(h)
    hs_0 = hs[0]
    hs_2 = hs[2]
    hs_0_hs_2 = hs_0 * hs_2
    f_bar = runtime.check_seed(0.0, f_bar, 'f')
    # backward
    # grad of: return np.sum(hs[0] * hs[2])
    hs_0_hs_2_bar = runtime.sum_adjoint(f_bar, hs_0_hs_2)
    hs_0_bar = runtime.unbroadcast(hs_0_hs_2_bar * hs_2, hs_0)
    hs_2_bar = runtime.unbroadcast(hs_0_hs_2_bar * hs_0, hs_2)
    hs_bar = runtime.zeros_like(hs)
    hs_bar[2] = runtime.add_seq(hs_bar[2], hs_2_bar)
    hs_bar[0] = runtime.add_seq(hs_bar[0], hs_0_bar)
    # grad of: for i in range(3):
    h_bar = 0.0
    for i in reversed(i_range):
        # grad of: hs.append(h)
        h_bar = h_bar + hs_bar.pop()
        # grad of: h = np.tanh(h)
        h_new = h
        h = h_stack.pop()
        h_bar = h_bar * (1 - h_new * h_new)
    # grad of: h = x
    x_bar = h_bar
    x_bar = runtime.densify(x_bar, x)
    return x_bar,
"""),
    "unpacked_tuple": (
        "a tuple unpacked into names (`a, b = u, v`)",
        """\
def f(x, y):
    a, b = x * y, x + y
    return np.sum(a * b)
""", ('x', 'y'), lambda: [np.linspace(0.5, 1.0, 3), np.linspace(-1.0, 1.0, 3)], """\
def grad_f(x, y, f_bar=1.0):
    # forward
    a = x * y
    b = x + y
    f_bar = runtime.check_seed(0.0, f_bar, 'f')
    # backward
    # grad of: return np.sum(a * b)
    a_bar = f_bar * b
    b_bar = f_bar * a
    # grad of: a, b = x * y, x + y
    x_bar = b_bar
    y_bar = b_bar
    x_bar = x_bar + a_bar * y
    y_bar = y_bar + a_bar * x
    return x_bar, y_bar
"""),
    "early_return_in_loop": (
        "a return inside a loop: a flag, a break, and the trip count",
        """\
def f(x):
    s = 0.0
    for xi in x:
        if s > 1.0:
            return s
        s = s + xi * xi
    return s
""", ('x',), lambda: [np.array([0.5, 0.9, 0.7, 0.3])], """\
def grad_f(x, f_bar=1.0):
    # forward
    s_gt_1_0_stack = []
    s = 0.0
    len_x = len(x)
    xi_index_range = range(len_x)
    returned = False
    xi_index_trips = 0
    for xi_index in xi_index_range:
        xi_index_trips += 1
        xi = x[xi_index]
        s_gt_1_0 = s > 1.0
        s_gt_1_0_stack.append(s_gt_1_0)
        if s_gt_1_0:
            f = s
            returned = True
            break
        else:
            xi_xi = xi * xi
            s = s + xi_xi
    if not returned:
        f = s
    f_bar = runtime.check_seed(f, f_bar, 'f')
    # backward
    # grad of: for xi in x:
    if returned:
        s_bar = 0.0
    else:
        # grad of: return s
        s_bar = f_bar
        f_bar = 0.0
    x_bar = runtime.zeros_like(x)
    for xi_index in reversed(xi_index_range[:xi_index_trips]):
        xi = x[xi_index]
        s_gt_1_0 = s_gt_1_0_stack.pop()
        # grad of: if s > 1.0:
        if s_gt_1_0:
            # grad of: return s
            s_bar = s_bar + f_bar
            f_bar = 0.0
            xi_bar = 0.0
        else:
            # grad of: s = s + xi * xi
            xi_bar = 2 * s_bar * xi
        # grad of: for xi in x:
        x_bar[xi_index] += xi_bar
    return x_bar,
"""),
    "continue_and_break": (
        "continue and break: the trips are counted, each branch replays its test",
        """\
def f(x):
    s = 0.0
    for xi in x:
        if xi < 0.0:
            continue
        s = s + np.sin(xi)
        if s > 1.0:
            break
    return s
""", ('x',), lambda: [np.array([0.5, -0.2, 0.7, 0.9])], """\
def grad_f(x, f_bar=1.0):
    # forward
    s = 0.0
    len_x = len(x)
    xi_index_range = range(len_x)
    xi_index_trips = 0
    for xi_index in xi_index_range:
        xi_index_trips += 1
        xi = x[xi_index]
        xi_lt_0_0 = xi < 0.0
        if xi_lt_0_0:
            continue
        else:
            sin_xi = np.sin(xi)
            s = s + sin_xi
            s_gt_1_0 = s > 1.0
            if s_gt_1_0:
                break
    f_bar = runtime.check_seed(s, f_bar, 'f')
    # backward
    # grad of: for xi in x:
    x_bar = runtime.zeros_like(x)
    for xi_index in reversed(xi_index_range[:xi_index_trips]):
        xi = x[xi_index]
        xi_lt_0_0 = xi < 0.0
        # grad of: if xi < 0.0:
        if xi_lt_0_0:
            xi_bar = 0.0
        else:
            # grad of: s = s + np.sin(xi)
            xi_bar = f_bar * np.cos(xi)
        # grad of: for xi in x:
        x_bar[xi_index] += xi_bar
    return x_bar,
"""),
    "try_except": (
        "try/except: the way it went is recorded (`caught`) and replayed by the reverse sweep",
        """\
def f(x, c):
    try:
        s = float(c) * x
    except ValueError:
        s = np.sin(x)
    return np.sum(s * s)
""", ('x',), lambda: [np.linspace(0.5, 1.0, 3), '2.5'], """\
def grad_f(x, c, f_bar=1.0):
    # forward
    caught = False
    try:
        float_c = float(c)
        s = float_c * x
    except ValueError:
        caught = True
        s = np.sin(x)
    f_bar = runtime.check_seed(0.0, f_bar, 'f')
    # backward
    # grad of: return np.sum(s * s)
    s_bar = 2 * f_bar * s
    # grad of: try:
    if caught:
        # grad of: s = np.sin(x)
        x_bar = s_bar * np.cos(x)
    else:
        # grad of: s = float(c) * x
        x_bar = s_bar * float_c
    return x_bar,
"""),
    "try_in_a_loop": (
        "a try in a loop, the way differing by trip: `caught` is pushed like a branch's test, "
        "and a handler first drops what the body pushed part way",
        """\
def f(x):
    total = 0.0
    for v in x:
        try:
            if v < 0.0:
                raise ValueError(v)
            r = np.sqrt(v)
        except ValueError:
            r = -v
        total = total + r * v
    return total
""", ('x',), lambda: [np.array([0.5, -1.0, 2.0])], """\
def grad_f(x, f_bar=1.0):
    # forward
    r = None
    caught_stack = []
    r_stack = []
    total = 0.0
    len_x = len(x)
    v_index_range = range(len_x)
    for v_index in v_index_range:
        v = x[v_index]
        caught = False
        r_stack_mark = len(r_stack)
        try:
            v_lt_0_0 = v < 0.0
            if v_lt_0_0:
                raise ValueError(v)
            r_stack.append(r)
            r = np.sqrt(v)
        except ValueError:
            caught = True
            if len(r_stack) > r_stack_mark:
                r = r_stack[r_stack_mark]
                del r_stack[r_stack_mark:]
            r_stack.append(r)
            r = -v
        caught_stack.append(caught)
        r_v = r * v
        total = total + r_v
    f_bar = runtime.check_seed(total, f_bar, 'f')
    # backward
    # grad of: for v in x:
    x_bar = runtime.zeros_like(x)
    for v_index in reversed(v_index_range):
        v = x[v_index]
        caught = caught_stack.pop()
        # grad of: total = total + r * v
        r_bar = f_bar * v
        v_bar = f_bar * r
        # grad of: try:
        if caught:
            # grad of: r = -v
            v_bar -= r_bar
            r = r_stack.pop()
        else:
            # grad of: r = np.sqrt(v)
            v_bar += r_bar / (2 * r)
            r = r_stack.pop()
        # grad of: for v in x:
        x_bar[v_index] += v_bar
    return x_bar,
"""),
    "with_errstate": (
        "with np.errstate(...): entered around the body, and again around its adjoint",
        """\
def f(x):
    with np.errstate(divide="ignore"):
        y = np.log(x)
        y = y * x
    return np.sum(y)
""", ('x',), lambda: [np.linspace(0.5, 1.0, 3)], """\
def grad_f(x, f_bar=1.0):
    # forward
    with np.errstate(divide="ignore"):
        y = np.log(x)
    f_bar = runtime.check_seed(0.0, f_bar, 'f')
    # backward
    # grad of: with np.errstate(divide="ignore"):
    with np.errstate(divide="ignore"):
        # grad of: y = y * x
        y_bar = f_bar * x
        x_bar = f_bar * y
        # grad of: y = np.log(x)
        x_bar += y_bar / x
    return x_bar,
"""),
}


@pytest.mark.parametrize("name", list(CASES))
def test_statement_kind(name):
    _, src, wrt, args, expected = CASES[name]
    f = make_function(src)
    df = adjoint.grad(f, wrt=wrt)
    assert adjoint.source(df, *args()) == expected
    check_grads(f, args(), wrt)
