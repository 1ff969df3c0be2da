"""Programs the random-program and adversarial tests found wrong, shrunk to their core.

Each test is one bug: a wrong gradient, a crash that is not an AdjointError, a hang, or a
refusal of supported code. A test marked xfail(strict=True) is a known bug (the fix removes the
marker, and the entry of tests/fuzzing/generate.py's AVOID that steers the generator around it).
"""

import numpy as np
import pytest
from conftest import make_function
from fuzzing.check import time_limit

import adjoint
from adjoint.testing import check_grads


def check(src, args, wrt=0, optimize=True):
    check_grads(make_function(src), args, wrt, optimize=optimize)


def test_loop_over_array_rebound_in_body(optimize):
    """Used to fail: a loop over an array whose name the body rebinds iterates the new array: the
    emitted forward reads A[row_index] after A = A * 2.0 (wrong value), and the reverse sweep
    indexes a float A_bar (TypeError).
    """
    check("""
def f(A):
    t = 0.0
    for row in A:
        A = A * 2.0
        t = t + np.sum(row)
    return t
""", [np.array([[0.3, -0.5], [1.1, 0.2]])], optimize=optimize)


def test_augmented_assignment_to_float_parameter(optimize):
    """Used to fail: `c *= 1.5` on a float parameter: the emitted code calls runtime.refill(c,
    ...) on a float (TypeError), with or without c in wrt.
    """
    check("""
def f(x, c):
    c *= 1.5
    return np.sum(x) * c
""", [np.array([0.5, 1.0]), 0.5], (0, 1), optimize=optimize)


def test_while_counter_kept_by_optimizer():
    """Used to fail: the optimizer drops `k = k + 1` from a while loop when only the loop test
    reads k (also `s = s + 0.5` under `while s < 3.0`): the forward sweep never ends; `k += 1`
    is kept.
    """
    with time_limit(5):
        check("""
def f(x):
    k = 0
    while k < 2:
        k = k + 1
        x = np.sin(x)
    return np.sum(x)
""", [np.array([0.5, 1.0])])
        check("""
def f(x):
    s = np.sum(x)
    while s < 3.0:
        s = s + 0.5
        x = np.sin(x)
    return np.sum(x)
""", [np.array([0.5, 0.8])])


def test_helper_with_unused_active_parameter(optimize):
    """Used to fail: a helper that ignores an active parameter: its emitted h_bwd reads the
    parameter (runtime.zeros_like(p)) but h_fwd does not save it (InternalError: emitted code
    reads 'p', which nothing defines).
    """
    check("""
def h(p, q):
    return q * 2.0

def f(x, y):
    return h(x, y)
""", [0.5, 0.7], (0, 1), optimize=optimize)


@pytest.mark.xfail(strict=True, reason="false refusal: after `a, b = b, a` points-to takes a "
                   "and b to share memory (the tuple merges them), so `a[0] = 1.0` is refused")
def test_write_after_swap(optimize):
    check("""
def f(x):
    a = x * 2.0
    b = x * 3.0
    a, b = b, a
    a[0] = 1.0
    return np.sum(a * b)
""", [np.array([0.5, 0.7])], optimize=optimize)


def test_write_after_tuple_call(optimize):
    """Used to fail: false refusal: `a, b = h(x)` takes a and b to share memory, so writing a[0]
    while b is live is refused.
    """
    check("""
def h(p):
    return p * 2.0, p * 3.0

def f(x):
    a, b = h(x)
    a[0] = 1.0
    return np.sum(a * b)
""", [np.array([0.5, 0.7])], optimize=optimize)


@pytest.mark.xfail(strict=True, reason="false refusal: `s = y[0]` of a 1-d array is a number, "
                   "but `s *= 2.0` is refused as an in-place write into y's memory (and the "
                   "message suggests s = s.copy())")
def test_augmented_assignment_to_element_read(optimize):
    check("""
def f(x):
    y = x * 1.0
    s = y[0]
    s *= 2.0
    return np.sum(y) * s
""", [np.array([0.5, 0.7])], optimize=optimize)


def test_augmented_assignment_to_numpy_scalar(optimize):
    """Used to fail: `c *= c` where c holds a NumPy scalar (np.sin of a float): runtime.restore
    writes c[...] = old into the np.float64 (TypeError: object does not support item
    assignment).
    """
    check("""
def f(x):
    c = np.sin(x)
    c *= c
    return c
""", [0.5], optimize=optimize)


def test_slice_written_from_its_own_array(optimize):
    """Used to fail: wrong gradient: `y[0:2] = y` (an array written into its own slice) gives a
    zero gradient; central differences give 1 per entry.
    """
    check("""
def f(x):
    y = x.copy()
    y[0:2] = y
    return np.sum(y)
""", [np.array([0.4, -0.7])], optimize=optimize)


def test_augmented_matmul_in_loop(optimize):
    """Used to fail: `A = np.outer(x, x); A += x @ A` inside a loop: the reverse sweep indexes an
    adjoint that is still the float 0.0 (TypeError: 'float' object is not subscriptable).
    """
    check("""
def f(x, A):
    for t in x:
        A = np.outer(x, x)
        A += x @ A
    return np.sum(A)
""", [np.array([0.4, -0.7]), np.ones((2, 2))], (0, 1), optimize=optimize)


def test_constant_overwrite_in_branch_or_loop(optimize):
    """Used to fail: an if or a loop that overwrites an active array with a constant one resets
    its adjoint to the float 0.0: a rule that needs the shape then fails (np.cumsum:
    ValueError: cannot reshape), and a gradient can come back with shape ().
    """
    for header in ("if c > 0.0:", "for i in range(1):"):
        check(f"""
def f(x, c):
    v = np.cumsum(x)
    {header}
        v = np.zeros(3)
    return np.sum(v) + c
""", [np.array([0.4, -0.7, 1.1]), 0.5], (0, 1), optimize=optimize)
    check("""
def f(x, c):
    v = x * 1.0
    if c > -1.0:
        v = np.zeros(2)
    return np.sum(v)
""", [np.array([0.4, -0.7]), 0.5], (0, 1), optimize=optimize)


def test_append_items_of_iterated_array(optimize):
    """Used to fail: false refusal: appending the items of a loop over x to a list is refused as
    an in-place write while x may share its memory.
    """
    check("""
def f(x):
    acc = [0.5]
    for t in x:
        acc.append(t)
    return np.sum(np.stack(acc))
""", [np.array([0.4, -0.7])], optimize=optimize)


def test_branch_defines_name_read_by_rule(optimize):
    """Used to fail: a name first defined in both branches of an if, whose first branch's rule
    reads the result (np.exp, np.prod): the else branch pushes the name on a stack before it is
    defined (UnboundLocalError) when the first branch is not taken; conditional expressions hit
    it too.
    """
    check("""
def f(x, c):
    if c > 2.0:
        v = np.exp(x)
    else:
        v = x
    return np.sum(v)
""", [np.array([0.4]), 1.0], (0, 1), optimize=optimize)
    check("""
def f(x, c):
    return np.sum(x) + (np.prod(x) if c > 2.0 else c)
""", [np.array([0.4, 0.3]), 1.0], (0, 1), optimize=optimize)


def test_early_return_in_nested_if(optimize):
    """Used to fail: a return inside an if inside an if, not taken: the reverse sweep of the final
    return reads sin_x, which the forward sweep computed only on the other path
    (UnboundLocalError).
    """
    check("""
def f(x, c):
    if c > 0.95:
        if c > 2.0:
            return np.sum(x)
    return np.sum(np.sin(x))
""", [np.array([0.4, -0.7]), 0.5], optimize=optimize)


def test_gradient_shape_after_early_return_not_taken(optimize):
    """Used to fail: the gradient for an array argument read only before an early return that is
    not taken is the float 0.0 (shape ()).
    """
    check("""
def f(x, A):
    v = A * 2.0
    if x[0] > 0.95:
        return np.sum(v)
    return np.sum(x)
""", [np.array([0.4]), np.ones((2, 1))], (0, 1), optimize=optimize)


@pytest.mark.xfail(strict=True, reason="false refusal: after `b = a[0]`, `a.append(x)` is "
                   "refused as a write while b may share a's memory, but an append writes no item")
def test_append_after_reading_an_item(optimize):
    check("""
def f(x):
    a = [x * 2.0]
    b = a[0]
    a.append(x)
    return np.sum(np.stack(a)) + np.sum(b)
""", [np.array([0.4, 0.3])], optimize=optimize)


@pytest.mark.xfail(strict=True, reason="an array made in a loop body and then written in "
                   "place: the forward sweep pushes both z and the old z[0] on z_stack, and the "
                   "reverse sweep pops them the wrong way round (TypeError: 'numpy.float64' "
                   "object does not support item assignment)")
def test_array_made_and_written_in_loop(optimize):
    check("""
def f(y):
    s = 0.0
    for i in range(2):
        z = y * 2.0
        z[0] = y[1]
        s = s + np.sum(z ** 2)
    return s
""", [np.array([1.0, -0.9])], optimize=optimize)


@pytest.mark.xfail(strict=True, reason="a loop body that rebinds x to a new array and writes "
                   "into it: x[0] = y[1] indexes x_bar while it is the float 0.0 (TypeError), "
                   "x[0:1] *= y[1:2] fails to broadcast (ValueError)")
def test_argument_rebound_and_written_in_loop(optimize):
    for write in ("x[0] = y[1]", "x[0:1] *= y[1:2]"):
        check(f"""
def f(x, y):
    for i in range(2):
        x = np.zeros(2)
        {write}
    return np.sum(x ** 2)
""", [np.array([0.4, 0.3]), np.array([1.0, -0.9])], (0, 1), optimize=optimize)


@pytest.mark.xfail(strict=True, reason="a list read only on a path not taken: its adjoint is "
                   "the float 0.0 there, and the adjoint of `acc = [A]` indexes it (TypeError: "
                   "'float' object is not subscriptable)")
def test_list_read_only_on_path_not_taken(optimize):
    check("""
def f(x, A):
    acc = [A]
    if x[0] > 5.0:
        return np.sum(np.stack(acc))
    return np.sum(np.sin(x))
""", [np.array([0.4, 0.3]), np.ones((2, 2))], (0, 1), optimize=optimize)


@pytest.mark.xfail(strict=True, reason="`x[-1] -= c` when x is read later only on a path not "
                   "taken: its adjoint indexes x_bar while it is the float 0.0 (TypeError); "
                   "`x[-1] = c` makes x_bar an array first (runtime.owned), `-=` does not")
def test_augmented_item_write_then_read_on_path_not_taken(optimize):
    check("""
def f(x, c):
    x = x + 1.0
    x[-1] -= c
    if c > 5.0:
        c = np.mean(x)
    return c * 2.0
""", [np.array([0.4, 0.3]), 0.5], (0, 1), optimize=optimize)


@pytest.mark.xfail(strict=True, reason="wrong value and gradient, silently: zip(y, x) (and "
                   "enumerate(x)) over a name the body rebinds reads the new x; value_and_grad "
                   "gives 3.0 and a zero gradient for x where f gives -2.8 (the plain "
                   "`for b in x` form is right)")
def test_zip_over_name_rebound_in_body(optimize):
    src = """
def f(x, y):
    for a, b in zip(y, x):
        if b < -1.0:
            return b * a
        x = np.sin(x)
    return np.sum(y)
"""
    args = [np.array([-0.5, -1.4]), np.array([1.0, 2.0])]
    f = make_function(src)
    value, _ = adjoint.value_and_grad(f, wrt=(0, 1), optimize=optimize)(*args)
    assert value == f(*args)
    check(src, args, (0, 1), optimize=optimize)
    check("""
def f(x, y):
    t = 0.0
    for i, b in enumerate(x):
        x = x * 2.0
        t = t + b * y[i]
    return t
""", args, (0, 1), optimize=optimize)
