"""normalize, source in and A-normal form out: one primitive per statement."""

import pytest
from conftest import make_function

from adjoint import api, ir, naming, normalize, parse

# name: (the user's function, what normalize makes of it)
CASES = {
    "nested": ("""\
def f(x, W, b):
    return np.sum(np.tanh(x @ W + b) ** 2) / len(x)
""", """\
def f(x, W, b):
    xW = x @ W
    xW_plus_b = xW + b
    tanh_xW_plus_b = np.tanh(xW_plus_b)
    tanh_xW_plus_b_sq = tanh_xW_plus_b ** 2
    sum_sq = np.sum(tanh_xW_plus_b_sq)
    len_x = len(x)
    f = sum_sq / len_x
    return f
"""),
    "methods_attrs": ("""\
def f(A):
    return A.T.dot(A).sum(axis=0).max()
""", """\
def f(A):
    A_T = A.T
    dot_A_T = A_T.dot(A)
    sum_dot_A_T = dot_A_T.sum(axis=0)
    f = sum_dot_A_T.max()
    return f
"""),
    "augmented_subscript": ("""\
def f(y, v):
    y = y.copy()
    y[1:3] += v * 2.0
    return np.sum(y)
""", """\
def f(y, v):
    y = y.copy()
    v_scaled = v * 2.0
    y[1:3] += v_scaled
    f = np.sum(y)
    return f
"""),
    "loop_rows": ("""\
def f(X, w):
    total = 0.0
    for row in X:
        total += row @ w
    return total
""", """\
def f(X, w):
    total = 0.0
    len_X = len(X)
    row_index_range = range(len_X)
    for row_index in row_index_range:
        row = X[row_index]
        roww = row @ w
        total += roww
    return total
"""),
    "branch_return": ("""\
def f(x):
    if x > 0:
        return x * 2.0
    return -x
""", """\
def f(x):
    x_gt_0 = x > 0
    if x_gt_0:
        f = x * 2.0
    else:
        f = -x
    return f
"""),
    "while": ("""\
def f(x):
    while x > 1.0:
        x = x / 2.0
    return x
""", """\
def f(x):
    while True:
        x_gt_1_0 = x > 1.0
        if not x_gt_1_0:
            break
        x = x / 2.0
    return x
"""),
    "comprehension": ("""\
def f(xs):
    return sum(x * x for x in xs if x > 0)
""", """\
def f(xs):
    f = 0
    len_xs = len(xs)
    x_index_range = range(len_xs)
    for x_index in x_index_range:
        x = xs[x_index]
        x_gt_0 = x > 0
        if x_gt_0:
            x_x = x * x
            f = f + x_x
    return f
"""),
    "break": ("""\
def f(x):
    for i in range(10):
        if x > 5:
            break
        x = x * 2
    return x
""", """\
def f(x):
    i_range = range(10)
    for i in i_range:
        x_gt_5 = x > 5
        if x_gt_5:
            break
        else:
            x = x * 2
    return x
"""),
    "try_returns": ("""\
def f(x, text):
    try:
        return float(text) * x
    except (TypeError, ValueError) as err:
        y = np.sin(x) * 2.0
    return np.sum(y)
""", """\
def f(x, text):
    try:
        float_text = float(text)
        f = float_text * x
    except (TypeError, ValueError) as err:
        sin_x = np.sin(x)
        y = sin_x * 2.0
        f = np.sum(y)
    return f
"""),
    "with_items": ("""\
def f(x):
    with np.errstate(divide="ignore"), np.errstate(invalid="ignore") as state:
        y = np.log(x) * x
    return np.sum(y)
""", """\
def f(x):
    with np.errstate(divide="ignore"), np.errstate(invalid="ignore") as state:
        log_x = np.log(x)
        y = log_x * x
    f = np.sum(y)
    return f
"""),
}


@pytest.mark.parametrize("name", list(CASES))
def test_normalize(name):
    src, expected = CASES[name]
    normalized = normalize.normalize(parse.parse(make_function(src)),
                                     naming.Namer(api.RESERVED))
    assert ir.format_function(normalized) == expected


def test_names_for_statements_are_never_handed_to_another():
    """A name cached for a statement is keyed by its identity: the namer holds it, so a
    temporary freed at once (a call rewritten on its way to being linked) cannot pass its id,
    and its tape's name, to the next (two calls sharing a tape: one's adjoint read the
    other's values)."""
    namer = naming.Namer()
    names = [namer.cached_for(ir.Name(f"x{k}"), ("tape",), "call_saved") for k in range(200)]
    assert len(set(names)) == len(names)
    s = ir.Name("y")
    assert namer.cached_for(s, ("tape",), "call_saved") == namer.cached_for(
        s, ("tape",), "call_saved")
