"""Programs the random-program and adversarial tests found wrong, shrunk to their core.

Each test is one bug: a wrong gradient, a crash that is not an AdjointError, a hang, or a
refusal of supported code. A test marked xfail(strict=True) is a known bug (the fix removes the
marker, and the entry of tests/fuzzing/generate.py's AVOID that steers the generator around it).
"""

import copy

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


def test_write_after_swap(optimize):
    """Used to fail: false refusal: after `a, b = b, a` points-to takes a and b to share memory
    (the tuple merges them), so `a[0] = 1.0` is refused.
    """
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


def test_augmented_assignment_to_element_read(optimize):
    """Used to fail: false refusal: `s = y[0]` of a 1-d array is a number, but `s *= 2.0` was
    refused as an in-place write into y's memory; a number is rebound."""
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


def test_append_after_reading_an_item(optimize):
    """Used to fail: false refusal: after `b = a[0]`, `a.append(x)` is refused as a write while b
    may share a's memory, but an append writes no item.
    """
    check("""
def f(x):
    a = [x * 2.0]
    b = a[0]
    a.append(x)
    return np.sum(np.stack(a)) + np.sum(b)
""", [np.array([0.4, 0.3])], optimize=optimize)


def test_array_made_and_written_in_loop(optimize):
    """Used to fail: an array made in a loop body and then written in place: the forward sweep
    pushes both z and the old z[0] on z_stack, and the reverse sweep pops them the wrong way
    round (TypeError: 'numpy.float64' object does not support item assignment).
    """
    check("""
def f(y):
    s = 0.0
    for i in range(2):
        z = y * 2.0
        z[0] = y[1]
        s = s + np.sum(z ** 2)
    return s
""", [np.array([1.0, -0.9])], optimize=optimize)


def test_argument_rebound_and_written_in_loop(optimize):
    """Used to fail: a loop body that rebinds x to a new array and writes into it: x[0] = y[1]
    indexes x_bar while it is the float 0.0 (TypeError), x[0:1] *= y[1:2] fails to broadcast
    (ValueError).
    """
    for write in ("x[0] = y[1]", "x[0:1] *= y[1:2]"):
        check(f"""
def f(x, y):
    for i in range(2):
        x = np.zeros(2)
        {write}
    return np.sum(x ** 2)
""", [np.array([0.4, 0.3]), np.array([1.0, -0.9])], (0, 1), optimize=optimize)


def test_list_read_only_on_path_not_taken(optimize):
    """Used to fail: a list read only on a path not taken: its adjoint is the float 0.0 there, and
    the adjoint of `acc = [A]` indexes it (TypeError: 'float' object is not subscriptable).
    """
    check("""
def f(x, A):
    acc = [A]
    if x[0] > 5.0:
        return np.sum(np.stack(acc))
    return np.sum(np.sin(x))
""", [np.array([0.4, 0.3]), np.ones((2, 2))], (0, 1), optimize=optimize)


def test_augmented_item_write_then_read_on_path_not_taken(optimize):
    """Used to fail: `x[-1] -= c` when x is read later only on a path not taken: its adjoint
    indexes x_bar while it is the float 0.0 (TypeError); `x[-1] = c` makes x_bar an array first
    (runtime.owned), `-=` does not.
    """
    check("""
def f(x, c):
    x = x + 1.0
    x[-1] -= c
    if c > 5.0:
        c = np.mean(x)
    return c * 2.0
""", [np.array([0.4, 0.3]), 0.5], (0, 1), optimize=optimize)


def test_zip_over_name_rebound_in_body(optimize):
    """Used to fail: wrong value and gradient, silently: zip(y, x) (and enumerate(x)) over a name
    the body rebinds reads the new x; value_and_grad gives 3.0 and a zero gradient for x where
    f gives -2.8 (the plain `for b in x` form is right).
    """
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


def test_gradient_shape_after_swap(optimize):
    """Used to fail: after `x, y = y, x`, an argument whose value is not read gets the float 0.0
    as gradient (shape ()), not zeros of its shape.
    """
    check("""
def f(x, y):
    x, y = y, x
    return np.sum(x)
""", [np.array([0.4, 0.3]), np.array([1.0, 2.0])], (0, 1), optimize=optimize)


@pytest.mark.parametrize("expr", [
    pytest.param(" + ".join(f"x[{k % 2}] * {k % 7 + 1}.0" for k in range(500)),
                 id="sum_of_500_terms"),
    pytest.param("np.sum(x" + ".T" * 500 + ")", id="T_500_times"),
    pytest.param("np.sum(" + "np.sin(" * 198 + "x" + ")" * 198 + ")", id="sin_198_deep"),
])
def test_deep_expression(expr):
    """Used to fail: deep expressions (a sum of 500 terms, x.T 500 times, np.sin nested 198
    deep: Python's limit is 200) raised RecursionError from normalize's libcst walk, not an
    AdjointError.
    """
    check(f"def f(x):\n    return {expr}\n", [np.array([0.5, 1.5])])


def nested(depth: int, header, inner: str) -> str:
    lines = ["def f(x):", "    y = x * 1.0"]
    for k in range(depth):
        lines += ["    " * (k + 1) + line for line in header(k)]
    return "\n".join(lines + ["    " * (depth + 1) + inner, "    return np.sum(y)"]) + "\n"


def test_compile_time_of_nested_loops():
    """Used to fail: compile time grows exponentially with nesting: while loops ~3x a level (8
    deep: 2.5 s, 10 deep: 26 s, 19 deep: hours), for loops holding ifs ~2.2x a loop (22 deep: 5
    s, 30 deep: minutes).
    """
    whiles = nested(10, lambda k: [f"k{k} = 0", f"while k{k} < 1:", f"    k{k} += 1"],
                    "y = np.sin(y) * 1.01")
    mixed = nested(22, lambda k: [f"for i{k} in range(2):" if k % 2 == 0 else
                                  f"if y[0] > {-100 - k}.0:"], "y = np.sin(y) * 1.01")
    for src in (whiles, mixed):
        with time_limit(3):
            adjoint.grad(make_function(src))


def test_nonlocal_in_nested_function():
    """Used to fail: `nonlocal s` in a nested def: the emitted code does not compile (SyntaxError:
    name 's' is parameter and nonlocal), a plain SyntaxError and not an AdjointError.
    """
    f = make_function("""
def f(x):
    s = 1.0
    def g():
        nonlocal s
        s = 2.0
    g()
    return np.sum(x) * s
""")
    try:
        check_grads(f, [np.array([0.5, 1.5])])
    except adjoint.AdjointError:
        pass


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_complex_intermediate(optimize):
    """Used to fail: wrong gradient, silently: a real function of real arguments through complex
    intermediates, abs(np.sum(x * (1 + 2j))); refuse complex values or differentiate them.
    """
    try:
        check("def f(x):\n    return abs(np.sum(x * (1 + 2j)))\n", [np.array([0.5, 1.5])],
              optimize=optimize)
    except adjoint.AdjointError:
        pass


def test_nested_default_reads_outer_local(optimize):
    """Used to fail: a nested def whose default is an outer local, `def g(v, w=x)`: InternalError
    (emitted g_fwd reads 'x', which nothing defines) instead of a gradient or a refusal with a
    location.
    """
    with pytest.raises(adjoint.AdjointError) as info:  # now refused, with the location
        check("""
def f(x):
    def g(v, w=x):
        return v * w
    return np.sum(g(x))
""", [np.array([0.5, 1.5])], optimize=optimize)
    assert (info.value.lineno, info.value.offset) == (2, 16)


def test_return_in_loop_not_taken(optimize):
    """Used to fail: a return inside a loop, not taken: the final return pushes the result name on
    f_undo_stack before anything defines it (UnboundLocalError).
    """
    check("""
def f(x, c):
    for k in range(1):
        if c > 0.95:
            return np.sum(x)
    return c
""", [np.array([0.4]), 0.5], (0, 1), optimize=optimize)


@pytest.mark.parametrize("expr", ["np.hypot(x, 2.0)", "np.logaddexp(x, 0.5)"])
@pytest.mark.parametrize("header", ["if c > 0.0:", "for i in range(2):"])
def test_rule_reading_result_and_overwritten_argument(expr, header, optimize):
    """Used to fail: wrong gradient, silently: `x = np.hypot(x, 2.0)` (or np.logaddexp,
    np.logaddexp2: rules that read both ans and their argument) in a branch or a loop: the
    adjoint reads the new x where the rule means the old one, x_bar = safe_ratio(x_bar * x_new,
    x_new).
    """
    check(f"def f(x, c):\n    {header}\n        x = {expr}\n    return np.sum(x)\n",
          [np.array([0.411, -0.691, -1.377]), 1.0], optimize=optimize)


def test_stack_read_only_on_path_not_taken(optimize):
    """Used to fail: `v = np.stack([x, x]) / (1.5 + np.sin(c))` read only on a path not taken: the
    reverse sweep fails with IndexError (index 1 is out of bounds for axis 0 with size 1).
    """
    check("""
def f(x, c):
    v = np.stack([x, x]) / (1.5 + np.sin(c))
    if c > 0.95:
        return np.sum(v)
    return np.sum(x)
""", [np.array([0.4]), 0.5], (0, 1), optimize=optimize)


def test_helper_with_loop_called_on_constant(optimize):
    """Used to fail: false refusal: a helper with a loop, called on a constant, whose result
    replaces the argument: MissingRule (no derivative rule for h) though nothing active flows
    through the call.
    """
    check("""
def h(p):
    for i in range(2):
        s = 1.0
    return np.ones(2)

def f(x):
    x = h(np.ones(2))
    return np.sum(x)
""", [np.array([0.4, 0.2])], optimize=optimize)


def test_helper_augmented_assignment_to_float_parameter(optimize):
    """Used to fail: false refusal: `q += q` on a float parameter of a helper is refused as
    changing the argument in place, but rebinding a number changes nothing of the caller's.
    """
    check("""
def h(p, q):
    q += q
    return p * q

def f(x):
    return np.sum(h(x, 0.5))
""", [np.array([0.4, 0.2])], optimize=optimize)


@pytest.mark.parametrize("local", ["runtime", "reversed", "range", "len"])
def test_local_shadows_a_name_of_the_emitted_code(local, optimize):
    """Used to fail: a local named like something the emitted code calls (runtime, reversed,
    range, len) shadows it there: AttributeError, TypeError or UnboundLocalError at run time
    instead of a renamed local.
    """
    check(f"""
def f(x, c):
    t = 0.0
    k = 0
    while k < 2:
        k += 1
        t = t + np.sum(np.sin(x)) * c
    for i in [0, 1]:
        {local} = x * c
        t = t + np.sum({local} * x)
    return t
""", [np.array([0.5, 1.5]), 0.7], (0, 1), optimize=optimize)


def test_parameter_reused_as_loop_variable(optimize):
    """Used to fail: wrong gradient, silently: a parameter reused as a loop variable (`for c in
    range(3)`) collects adjoint from the loop's ints: the gradient for c is -0.73, central
    differences give 0.
    """
    check("""
def f(x, c):
    y = x
    for c in range(3):
        y = y * (c + 1.0)
    return y
""", [0.5, 0.7], (0, 1), optimize=optimize)


def test_power_zero_at_zero(optimize):
    """Used to fail: `t ** 0` at t = 0.0: the power rule computes 0 * t ** -1 in Python floats and
    raises ZeroDivisionError (the derivative is 0).
    """
    check("def f(x):\n    t = x * 0.0\n    return t ** 0 * x\n", [0.5], optimize=optimize)


def test_return_after_inner_loop_with_return(optimize):
    """Used to fail: wrong gradient, silently: a return that ends a loop trip after an inner loop
    that holds another (not taken) return: the reverse sweep skips the adjoint of the return
    taken (`if not returned:`), so the gradient for A is 0.
    """
    check("""
def f(A, c):
    for k in range(2):
        for j in range(2):
            if c > 1.0:
                return c
        return np.sum(A * A)
    return c
""", [np.array([[1.236, -0.729], [0.807, 0.078]]), -0.485], (0, 1), optimize=optimize)


def test_appended_list_read_only_on_path_not_taken(optimize):
    """Used to fail: a list appended to and read only on a path not taken: the reverse sweep pairs
    the list with its adjoint by zip(strict=True) and fails (ValueError: zip() argument 2 is
    longer than argument 1).
    """
    check("""
def f(x, c):
    acc = [x]
    acc.append(x)
    if c > 0.95:
        return np.sum(np.stack(acc))
    return np.sum(x)
""", [np.array([0.4]), 0.5], (0, 1), optimize=optimize)


def test_write_into_fresh_item_of_tuple_call(optimize):
    """Used to fail: false refusal: `a, b = h(x, c)` where h returns (q, abs(np.sin(q *
    np.ones(4)))): writing b[0] is refused as b may share x's memory, but nothing h returns
    reads p.
    """
    check("""
def h(p, q):
    return q, abs(np.sin(q * np.ones(4)))

def f(x, c):
    a, b = h(x, c * 1.0)
    b[0] = a
    return np.sum(b) + np.sum(x)
""", [np.array([0.4, 0.3]), 0.5], (0, 1), optimize=optimize)


def test_augmented_assignment_to_copy_of_float(optimize):
    """Used to fail: false refusal: `s = c; s += 0.5` on a float was refused as an in-place
    write while c may share its memory; a number is rebound, as Python does. On an array the
    same code is refused as it runs (it would change c's array too)."""
    f = make_function("def f(x, c):\n    s = c\n    s += 0.5\n    return np.sum(x * s * c)\n")
    with pytest.raises(adjoint.AdjointError, match="s holds an array, written in place"):
        adjoint.grad(f, optimize=optimize)(np.array([0.4, 0.3]), np.array([0.5, 0.1]))
    check("""
def f(x, c):
    s = c
    s += 0.5
    return np.sum(x) * s * c
""", [np.array([0.4, 0.3]), 0.5], (0, 1), optimize=optimize)


@pytest.mark.parametrize("body", ["x = x[::-1]", "x = x[[2, 0, 1]]", "x = x[0:2]"])
@pytest.mark.parametrize("header", ["for k in range(2):", "if x[0] < 5.0:"])
def test_subscript_of_the_name_it_rebinds(body, header, optimize):
    """Used to fail: wrong gradient, silently: `x = x[::-1]` (a subscript of the name it rebinds)
    in a loop or a branch: the adjoint sets x_bar to zeros before it adds x_bar into it, so the
    gradient is 0 (x = x[0:2] fails to broadcast).
    """
    check(f"def f(x):\n    {header}\n        {body}\n"
          "    return np.sum(x * np.arange(1.0, 1.0 + len(x)))\n",
          [np.array([-0.26, 1.43, 0.7])], optimize=optimize)


def test_write_after_returning_a_name_on_another_path(optimize):
    """Used to fail: false refusal: `return v` in a loop trip that does not return, then `v -=
    x[0]`: refused as writing v while f (the result) may share its memory.
    """
    check("""
def f(x, c):
    v = float(c)
    for i in range(2):
        if i > 5:
            return v
        v -= x[0]
    return v * x[1]
""", [np.array([0.4, 0.3]), 0.5], (0, 1), optimize=optimize)


@pytest.mark.xfail(strict=True, reason="false refusal: `a, b = b, a` inside a loop, then "
                   "`b += 1.0`: points-to joins the trips and takes a and b to share memory")
def test_write_after_swap_in_loop(optimize):
    check("""
def f(x, y):
    a = x * 1.0
    b = y * 1.0
    for i in range(2):
        a, b = b, a
    b += 1.0
    return np.sum(a * b)
""", [np.array([0.4, 0.3]), np.array([0.8, 0.6])], (0, 1), optimize=optimize)


def test_calling_a_function_a_helper_returned(optimize):
    """Used to be refused (the callee is known only when the code runs); now called through
    its value, checked to hold no numbers."""
    check("""
def pick(x):
    return x * 2.0, np.sin

def f(x):
    y, act = pick(x)
    return np.sum(act(y))
""", [np.array([0.4, 0.3])], optimize=optimize)


def test_slice_write_then_name_rebound_in_branch(optimize):
    """Used to fail: wrong gradient, silently: after `x[2:3] *= c` the forward keeps x_old =
    x[2:3], a view; a branch then rebinds x without saving it, so the reverse sweep restores
    the slice into the new array and x_old keeps the new values (the gradient for c is -1.83,
    central differences give -1.15).
    """
    check("""
def f(x, c):
    x = c + x
    x[2:3] *= c
    v = x
    if c > -1.4:
        x = np.zeros(4)
    else:
        c = c / x[0]
    return c + np.sum(v)
""", [np.array([0.907, -0.976, 0.743, 0.766]), -1.297], (0, 1), optimize=optimize)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_power_of_zero_base_twice(optimize):
    """Used to fail: 0.0 ** s ** t: the adjoint of t ** s2 at t = 0 with s2 < 1 is inf * 0 = nan,
    and runtime.power_exponent_adjoint passes the nan to math.log(0.0) (ValueError: math domain
    error); f is 0 near the point, so the gradient is 0.
    """
    check("""
def f(a, b):
    t = 0.0 ** np.sum(a * a)
    return t ** np.sum(b * b)
""", [np.array([0.126, -0.132, 0.64]), np.array([0.105, -0.536])], (0, 1), optimize=optimize)


def test_input_rebound_by_a_later_loop(optimize):
    """Used to fail, silently: a rule that reads its input (np.logaddexp(c, x) reads c) after a
    later loop rebinds c to a value no trip changes: that value was taken to need no record,
    so the reverse sweep read the new c (gradient for c 0.065, central differences 0.129).
    """
    check("""
def f(x, c):
    v = np.logaddexp(c, x)
    for k in range(1):
        c = np.sum(x)
    return np.sum(v)
""", [np.array([0.411, -0.691, -1.377]), -0.973], (0, 1), optimize=optimize)


def test_write_into_a_helper_result_it_saved(optimize):
    """Used to fail, silently: a helper's split adjoint saves its result by reference (h_saved
    holds q itself), the caller then writes q[0, 0] += c, and h_bwd read the changed q
    (gradient -0.179, central differences -0.054).
    """
    check("""
def h(r):
    return 0.5 / r

def f(c):
    q = h(c * np.ones((2, 3)))
    q[0, 0] += c
    return np.sum(q)
""", [-1.45], optimize=optimize)


def test_helper_augmented_assignment_to_float_of_argument(optimize):
    """Used to fail: a helper's `q += q` on a parameter passed float(c) was refused as a change
    to its argument in place: float() of an argument of unknown kind was not known to be a
    number.
    """
    check("""
def h(p, q):
    q += q
    return q * p

def f(x, c):
    return np.sum(h(x, float(c)))
""", [np.array([0.411, 1.2]), -0.691], (0, 1), optimize=optimize)


def test_statement_after_two_ifs_that_may_jump(optimize):
    """Used to fail, silently: in a loop, after an `if` that may break and a second `if` that
    may return, the statement after both ran twice on the path taking neither (the rest of the
    body moved into both arms of the first `if` was copied after the second had taken it in),
    so the emitted primal computed another function (gradient 2.01, central differences 0.50).
    """
    check("""
def f(x, s):
    for i in range(2):
        if s < 1.0:
            if s > 0.3:
                break
        if s > 2.6:
            if s > 5.0:
                return np.sum(x)
        x = x * 2.0
    return np.sum(x)
""", [np.array([-1.001, 0.5]), 3.0], (0, 1), optimize=optimize)


VALUE_RESTORED = {
    "rebound": ("def f(x, c):\n    for i in range(2):\n        c = np.sum(x * c)\n    return c\n",
                [np.array([0.3, 0.5]), 0.7]),
    "written_in_place": ("def f(x):\n    y = x * 2.0\n    for i in range(2):\n"
                         "        y[i] = y[i] * y[i]\n    return np.sum(y)\n",
                         [np.array([0.3, 0.5])]),
    "in_place_result": ("def f(x):\n    y = x * 2.0\n    for i in range(2):\n"
                        "        y[i] = y[i] * y[i]\n    return y\n", [np.array([0.3, 0.5])]),
}


@pytest.mark.parametrize("name", VALUE_RESTORED)
def test_value_of_a_result_the_reverse_sweep_restores(name, optimize):
    """Used to fail, silently: value_and_grad returned the result after the reverse sweep had
    restored it (by name, or in place) to an earlier value (0.7 for 0.448 in "rebound")."""
    source, args = VALUE_RESTORED[name]
    f = make_function(source)
    expected = f(*copy.deepcopy(args))
    seed = {"f_bar": np.ones_like(expected)} if np.ndim(expected) else {}
    value, _ = adjoint.value_and_grad(f, optimize=optimize)(*copy.deepcopy(args), **seed)
    np.testing.assert_allclose(value, expected, rtol=1e-12)


COMPREHENSION_NAMES = {
    "chained_comparison": "sum(x[i] for i in range(4) if 0 < i < 3)",
    "boolean_operation": "sum(x[i] for i in range(4) if i > 0 and i < 3)",
    "not_in": "sum(x[i] for i in range(4) if i not in (1, 2))",
    "attribute": "sum(np.sum(v.T * 2.0) for v in [x, x * x])",
    "method": "sum(v.sum() for v in [x, x * x])",
}


@pytest.mark.parametrize("name", COMPREHENSION_NAMES)
def test_comprehension_variable_shadowing_a_local(name, optimize):
    """Used to fail, silently: a condition written as a chained comparison, `and`/`or` or
    `not in` read a comprehension's variable by its name in the enclosing function (the local
    i = 0, not the comprehension's i); attributes and methods of a comprehension variable were
    looked up among the module's globals ("v.T is not defined")."""
    check(f"""
def f(x):
    i = 0
    v = 2.0
    return {COMPREHENSION_NAMES[name]} + x[i] * v
""", [np.array([0.3, 0.5, -0.2, 0.9])], optimize=optimize)


def test_calling_a_comprehension_variable_calls_what_it_holds(optimize):
    """Used to fail, silently: `f(x) for f in fs` called the module's global f. Then refused;
    now the call goes through the value the comprehension variable holds."""
    check("""
def f(x):
    return np.tan(x)

def g(x, fs=(np.sin, np.cos)):
    return sum(np.sum(f(x)) for f in fs)
""", [np.array([0.3, 0.5, -0.2])], optimize=optimize)


def test_comprehension_variable_named_as_its_iterable(optimize):
    """Used to fail: a comprehension variable named as its own iterable, sum(np.sum(x) for x
    in x): the iterable was read under the variable's emitted name (InternalError: emitted
    code reads 'x_2', which nothing defines; unoptimized, UnboundLocalError).
    """
    check("""
def f(x):
    return sum(np.sum(x) for x in x)
""", [np.array([[0.3, 0.5], [0.1, 0.2]])], optimize=optimize)


COMPREHENSION_TARGETS = {
    "element": "x = sum(x * 2.0 for i in range(2))",
    "list": "x = sum([x * 2.0 for i in range(2)])",
    "iterable": "x = sum(v * 2.0 for v in x)",
}


@pytest.mark.parametrize("name", COMPREHENSION_TARGETS)
def test_comprehension_assigned_to_a_name_it_reads(name, optimize):
    """Used to fail, silently: `x = sum(x * 2.0 for i in range(2))` started the sum in x
    itself (x = 0) before the element read x: the emitted forward computed 0.0 for 5.44, the
    gradient was 0 for [9.6, 16.0]; with `for v in x`, TypeError (len of the int 0).
    """
    check(f"""
def f(x):
    {COMPREHENSION_TARGETS[name]}
    return np.sum(x * x)
""", [np.array([0.3, 0.5])], optimize=optimize)


DICT_KEYS = {
    "loop": "t = 0.0\n    for k in P:\n        t = t + np.sum(P[k] ** 2)\n    return t",
    "comprehension": "return sum(np.sum(P[k] ** 2) for k in P)",
}


@pytest.mark.parametrize("name", DICT_KEYS)
def test_loop_over_the_keys_of_a_dict(name, optimize):
    """Used to fail: `for k in P` over a dict (not P.keys()) indexed P by position (KeyError:
    0); P.keys(), .values() and .items() worked.
    """
    check(f"def f(P):\n    {DICT_KEYS[name]}\n",
          [{"w": np.array([0.3, 0.5]), "b": 0.7}], optimize=optimize)


FLOAT_ARGUMENTS = {
    "dict_entry": ('return h(P["w"])', [{"w": 0.7}]),
    "fresh_value": ("return h(np.sin(P))", [0.7]),
}


@pytest.mark.parametrize("name", FLOAT_ARGUMENTS)
def test_helper_augmented_assignment_to_float_argument(name, optimize):
    """Used to fail: false refusal: a helper's `q += q` on a float parameter was refused as
    changing its argument in place when the argument was h(P['w']) with P = {'w': 0.7}, or
    h(np.sin(c)) (a new value); only constants and float(...) passed.
    """
    body, args = FLOAT_ARGUMENTS[name]
    check(f"""
def h(q):
    q += q
    return q * 2.0

def f(P):
    {body}
""", args, optimize=optimize)


def test_loop_over_the_keys_of_a_dict_not_read_by_key(optimize):
    """Used to fail: `for k in P` over a dict whose body does not read P[k] (here only
    `k == 'w'`) indexed P by position: KeyError: 0 (with no read of k at all, KeyError
    unoptimized only). A loop variable compared with a string is a key; one never read is
    not bound.
    """
    check("""
def f(x, P):
    t = 0.0
    for k in P:
        t = t + np.sum(x) * (2.0 if k == "w" else 1.0)
    return t
""", [np.array([0.3, 0.5]), {"w": 0.7}], (0, 1), optimize=optimize)


@pytest.mark.xfail(strict=True, reason="false refusal: in `for t in x` inside another loop, x "
                   "rebound to a sum accumulated in a loop (x = sum(x * t for i in range(1)), "
                   "or acc = 0.0; for ...: acc = acc + x) and then x[0] = 1.0: 'x is written in "
                   "place while x_items may share its memory' (x_items is adjoint's own name); "
                   "without the outer loop, or with np.copy(sum(...)), it passes")
def test_write_after_accumulated_rebind_in_nested_loop(optimize):
    check("""
def f(x):
    for k in range(2):
        for t in x:
            x = sum(x * t for i in range(1))
            x[0] = 1.0
    return np.sum(x)
""", [np.array([0.3, 0.5])], optimize=optimize)


def test_list_item_written_into_array_after_early_return():
    check("""
W0 = np.array([[0.55, -0.12, 0.72], [0.39, -0.81, 0.95], [0.52, 0.57, -0.74]])

def f(x):
    v1 = W0
    cs2 = [np.max(v1, axis=0), np.sin(x)]
    for t3 in cs2:
        for j6, t5 in enumerate(x):
            v1 = np.c_[np.zeros((3, 2)) + t5, t5 * np.ones((3, 1))] + np.add(x, t3)[:, None] * \\
                v1[:, j6 - 1]
            for t8 in cs2[1:]:
                if 1.75 > t5 > 0.512 and t5 <= 1.411:
                    return np.sum(x)
            v1[j6 % 3] = cs2[0]
    return np.sum(x) + np.sum(v1)
""", [np.array([0.375, 1.192, 0.827])])


# Found by the random-program generator's gates for functions as values (see AVOID there).

def test_starred_call_carries_the_derivative(optimize):
    """Used to fail, silently: a zero gradient where only starred arguments of a helper's
    *weights carried the derivative (a spread argument was not seen as active)."""
    check("""
def hw(*weights):
    a, b = weights
    return a * b

def f(x):
    return hw(*[x[0], x[1]]) + hw(*[x[1] ** 2, x[0]])
""", [np.array([2.0, 3.0])], optimize=optimize)


def test_closure_called_with_constants(optimize):
    """Used to fail: a closure from a factory called with values that carry no derivative
    named its result after the lifted def (`inner = inner(0.5, a=2.0)`: UnboundLocalError);
    and code after a return, duplicated, could not be copied (it held the Nested callee)."""
    check("""
def make(a, b=0.5):
    def inner(t):
        return a * np.sin(t) + b * t
    return inner

def f(x, y):
    fm = make(2.0)
    c = fm(0.5)
    fm3 = make(np.sum(np.sin(x)), 0.5)
    v4 = fm3(x)
    if y > 2.9:
        return np.sum(v4) * c
    cs9 = [fm3(0.3 * np.ones((3,)))]
    return np.sum(v4) + c * np.sum(cs9[0])
""", [np.array([1.0, 2.0, 0.5]), 1.0], optimize=optimize)


BUMPED = """
class State:
    def bump(self):
        self.scale = self.scale * 1.1 + 0.1

STATE = State()

def h1(p):
    STATE.bump()
    return np.sum(p)

def f(x):
    STATE.scale = 0.5
    v = h1(x)
    return np.sum(x) * STATE.scale
"""


def test_unused_call_result_keeps_its_effect(optimize):
    """Used to fail, silently (the value, and the gradient, too): the optimizer dropped
    `v = h1(x)`, whose value is not read, and with it STATE.bump() inside h1."""
    check(BUMPED, [np.array([1.0, 2.0])], optimize=optimize)
    f = make_function(BUMPED)
    np.testing.assert_allclose(adjoint.grad(f, optimize=optimize)(np.ones(2)), [0.65, 0.65])


@pytest.mark.xfail(strict=True, raises=adjoint.AdjointError,
                   reason="InternalError: a partial made in f, called inside a chained "
                          "comparison (kept as written), reads a name the rewrite removed")
def test_partial_called_in_a_chained_comparison(optimize):
    check("""
from functools import partial

def pk(a, t):
    return a * t

def f(x):
    hp = partial(pk, x[0])
    if 0.0 < hp(x[1]) < 10.0:
        return x[1] * x[0]
    return x[0]
""", [np.array([1.0, 2.0])], optimize=optimize)


@pytest.mark.xfail(strict=True, raises=adjoint.AdjointError,
                   reason="InternalError: map of a lambda inside a chained comparison")
def test_map_of_a_lambda_in_a_chained_comparison(optimize):
    check("""
def f(x):
    if 0.0 < sum(map(lambda t: t * 2.0, x)) < 10.0:
        return x[0] * x[1]
    return x[1]
""", [np.array([1.0, 2.0])], optimize=optimize)


def test_swap_after_an_augmented_update(optimize):
    """Used to be a wrong gradient: the reverse sweep put v1's old values back into what v1
    held then, v2's array after the swap, and the tanh adjoint read the damaged v2."""
    check("""
def f(x):
    v1 = x + x
    v2 = np.tanh(x)
    v3 = np.sin(v2)
    v1 += x
    v1, v2 = v2, v1
    return np.sum(v3)
""", [np.array([0.411, -0.691, -1.377, -1.45])], optimize=optimize)


@pytest.mark.parametrize("rebinding", ["y = z", "y, q = z, y", "if x[0] < 0:\n        y = z"])
def test_written_slice_then_name_rebound(rebinding, optimize):
    check(f"""
def f(x):
    y = np.zeros(4)
    z = np.tanh(x)
    y[0] = z[1]
    w = np.sin(z)
    {rebinding}
    return np.sum(w) + np.sum(y * y)
""", [np.array([0.411, -0.691, -1.377, -1.45])], optimize=optimize)


def test_function_from_a_varying_pair_called_on_constants(optimize):
    """Used to fail (emitted code that did not parse, ` = runtime.call_bwd(...)`): a function
    read from a value that carries a derivative, called with arguments that carry none."""
    check("""
def pick(x):
    return x * 2.0, np.sin

def f(x):
    y, act = pick(x)
    return np.sum(act(np.ones(2) * 0.5)) + np.sum(act(y))
""", [np.array([0.4, 0.3])], optimize=optimize)


# the adjoint of a sum (or mean) is a number standing for an array of equal entries: each
# consumer either keeps the number (elementwise rules, indexing) or makes the array first;
# these are the places where a number would be wrong if kept
UNIFORM_SUMS = {
    "a broadcast operand": ("def f(a, b):\n    return np.sum(a + b)\n",
                            lambda r: [r.normal(size=(3, 4)), r.normal(size=4)], (0, 1)),
    "a broadcast constant": ("def f(x):\n    return np.sum(x * C)\n",
                             lambda r: [r.normal(size=(3, 4))], 0),
    "a mean of a broadcast difference": ("def f(a, b):\n    return np.mean(a - b[:, None])\n",
                                         lambda r: [r.normal(size=(3, 4)), r.normal(size=3)],
                                         (0, 1)),
    "then a loop": ("""
def f(x):
    y = x * 1.0
    for i in range(3):
        y = np.sin(y) + x
    return np.sum(y)
""", lambda r: [r.normal(size=4)], 0),
    "a repeated fancy index": ("def f(x):\n    return np.sum(x[np.array([0, 2, 2, 1])] ** 2)\n",
                               lambda r: [r.normal(size=3)], 0),
    "in a branch": ("""
def f(x, c):
    if c > 0:
        t = np.sum(x * x)
    else:
        t = np.sum(np.sin(x))
    return t * c
""", lambda r: [r.normal(size=4), 1.5], (0, 1)),
    "an item of a list": ("def f(x, y):\n    xs = [x, y * 2.0]\n    return np.sum(xs[0]) + "
                          "np.sum(xs[1] ** 2)\n", lambda r: [r.normal(size=3), r.normal(size=2)],
                          (0, 1)),
    "a transpose and a reshape": ("def f(x):\n    return np.sum(x.T * 2.0) + "
                                  "np.sum(np.reshape(x, (-1,)) ** 2)\n",
                                  lambda r: [r.normal(size=(2, 3))], 0),
    "a where with a broadcast branch": ("def f(x, y):\n    return np.sum(np.where(x > 0, x, "
                                        "0.5 * y))\n",
                                        lambda r: [r.normal(size=(3, 4)), r.normal(size=4)],
                                        (0, 1)),
    "a sum and a sum of squares": ("def f(x):\n    return np.sum(x) + np.sum(x ** 2)\n",
                                   lambda r: [r.normal(size=5)], 0),
    "a matrix product": ("def f(x, W):\n    return np.sum(x @ W) + np.mean(np.tanh(x @ W))\n",
                         lambda r: [r.normal(size=(2, 3)), r.normal(size=(3, 4))], (0, 1)),
    "an in-place update after": ("""
def f(x):
    y = x * 2.0
    s = np.sum(y)
    y[0] = s
    return np.sum(y ** 2)
""", lambda r: [r.normal(size=3)], 0),
    "a scalar broadcast into an array": ("def f(x, c):\n    return np.sum(x * 0.0 + c)\n",
                                         lambda r: [r.normal(size=4), 0.7], (0, 1)),
}


@pytest.mark.parametrize("name", sorted(UNIFORM_SUMS))
def test_the_adjoint_of_a_sum_as_a_number(name, optimize):
    src, build, wrt = UNIFORM_SUMS[name]
    f = make_function(src, {"C": np.array([[1.0], [2.0], [-1.0]])})
    args = build(np.random.default_rng(7))
    check_grads(f, args, wrt, optimize=optimize)
    grads = adjoint.grad(f, wrt=wrt, optimize=optimize)(*args)
    for g, k in zip(grads if isinstance(wrt, tuple) else (grads,),
                    wrt if isinstance(wrt, tuple) else (wrt,), strict=True):
        assert np.shape(g) == np.shape(args[k]), name  # an array, not the number


@pytest.mark.parametrize("seed", [2, 2.0, np.float64(2.0), np.array(2.0)])
def test_the_adjoint_of_a_sum_from_any_number_seed(seed):
    f = make_function("def f(x):\n    y = x * 3.0\n    return np.sum(y)\n")
    g = adjoint.grad(f)(np.ones(3), f_bar=seed)
    assert np.shape(g) == (3,)
    np.testing.assert_allclose(g, [6.0, 6.0, 6.0])


def test_exponent_of_one_moves_nothing(optimize):
    """Used to fail: gradient NaN: in `a ** 2 ** (1 ** x)` with a < 0, the exponent's NaN
    adjoint (log of a negative base) reached x through `1 ** x`, whose result does not move
    as x does."""
    check("""
def f(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 ** (1 ** x[:-1]) ** 2) * 1.0 ** x[0]
""", [np.array([0.3, -1.2, 0.8, 1.5])], optimize=optimize)


def test_scaled_sum_of_a_list_grown_from_star_args(optimize):
    """Used to fail: InternalError: `scale * np.sum(parts)` with parts grown in a loop over
    *args: the adjoint of the sum was summed with `.sum()`, which a Python float lacks."""
    f = make_function("def f(w, *extras, scale=2.0):\n    parts = [np.sum(w ** 2)]\n"
                      "    for e in extras:\n        parts.append(np.dot(w, e))\n"
                      "    return scale * np.sum(parts) + np.std(parts)\n")
    rng = np.random.default_rng(3)
    w, a, b = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    got = adjoint.grad(f, optimize=optimize)(w, a, b)
    eps, eye = 1e-6, np.eye(3)
    want = [(f(w + eps * eye[i], a, b) - f(w - eps * eye[i], a, b)) / (2 * eps)
            for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
