"""Bad input: every refusal names the construct and its line and column; API misuse is clear.

Nothing here may raise anything but an AdjointError (never a NameError, IndexError, ...)."""

import contextlib
import functools
import math

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.errors import (
    ApiError,
    MissingRule,
    NonScalarOutput,
    UnsupportedArgument,
    UnsupportedSyntax,
)

# (name, source, error class, words the message contains, line, column of the construct)
REFUSED = [
    ("starred argument carrying a derivative",
     "def f(x, y):\n    xs = (x, y)\n    return np.sum(np.hypot(*xs))\n", UnsupportedSyntax,
     "*-unpacking of xs", 3, 19),
    ("starred element carrying a derivative",
     "def f(x, y):\n    xs = [x, y]\n    ys = [*xs, y]\n    return np.sum(ys[0])\n",
     UnsupportedSyntax, "starred element", 3, 10),
    ("double-starred argument", "def f(x, kw):\n    return np.sum(np.clip(x, **kw))\n",
     UnsupportedSyntax, "**-unpacking in a call of np.clip", 2, 19),
    ("attribute set from a differentiated value and read back",
     "def f(x):\n    f.last = x * 2.0\n    return np.sum(f.last)\n", UnsupportedSyntax,
     "an attribute is set from x", 2, 5),
    ("try_body_writes", "def f(x):\n    y = x * 1.0\n    try:\n        y[0] = np.log(x[1])\n"
     "    except ValueError:\n        y = x\n    return np.sum(y)\n", UnsupportedSyntax,
     "the try at line 3 cannot be differentiated: its body writes into y (line 4)", 3, 5),
    ("try_partial", "def f(x):\n    try:\n        y = x * 2\n        z = np.log(y)\n"
     "    except ValueError:\n        z = x\n    return np.sum(y * z)\n", UnsupportedSyntax,
     "the try at line 2 cannot be differentiated: y is bound in its body", 2, 5),
    ("try_star", "def f(x):\n    try:\n        y = x * 2\n    except* ValueError:\n"
     "        y = x\n    return np.sum(y)\n", UnsupportedSyntax, "try/except*", 2, 5),
    ("global", "def f(x):\n    global G\n    G = x\n    return x\n", UnsupportedSyntax,
     "global", 2, 5),
    ("class", "def f(x):\n    class A:\n        pass\n    return x\n", UnsupportedSyntax,
     "class definition", 2, 5),
    ("with_suppress", "def f(x):\n    y = x\n    with contextlib.suppress(ValueError):\n"
     "        y = np.log(x)\n    return np.sum(y)\n", UnsupportedSyntax,
     "contextlib.suppress swallows exceptions", 3, 10),
    ("with_reads_a_derivative", "def f(x):\n    with np.errstate(over=OVER[x[0] > 0]):\n"
     "        y = np.exp(x)\n    return np.sum(y)\n", UnsupportedSyntax,
     "context manager reads x", 2, 5),
    ("import", "def f(x):\n    import math\n    return math.sin(x)\n", UnsupportedSyntax,
     "import", 2, 5),
    ("del", "def f(x):\n    y = x\n    del y\n    return x\n", UnsupportedSyntax, "del", 3, 5),
    ("match", "def f(x):\n    match x:\n        case 1:\n            return x\n    return x\n",
     UnsupportedSyntax, "match", 2, 5),
    ("exec", "def f(x):\n    exec('y = 1')\n    return x\n", UnsupportedSyntax, "exec()", 2, 5),
    ("eval", "def f(x):\n    return eval('x * 2')\n", UnsupportedSyntax, "eval()", 2, 12),
    ("walrus", "def f(x):\n    if (y := x) > 0:\n        return y\n    return x\n",
     UnsupportedSyntax, ":=", 2, 9),
    ("fstring", "def f(x):\n    s = float(f'{x}')\n    return s * x\n", UnsupportedSyntax,
     "an f-string", 2, 15),
    ("set", "def f(x):\n    s = {1, 2}\n    return x\n", UnsupportedSyntax, "set literal", 2, 9),
    ("ufunc_method", "def f(x):\n    return np.sum(np.maximum.accumulate(x))\n", MissingRule,
     "the ufunc method np.maximum.accumulate has no derivative rule", 2, 19),
    ("attribute_write", "def f(x):\n    x.attr = 1\n    return x\n", UnsupportedSyntax,
     "assigned", 2, 5),
    ("no_return", "def f(x):\n    y = x\n", UnsupportedSyntax, "returns nothing", 1, 1),
    ("undefined", "def f(x):\n    return x * undefined_name\n", UnsupportedSyntax,
     "'undefined_name' is not defined", 2, 16),
    ("missing_rule", "def f(x):\n    return np.sum(np.unwrap(x))\n", MissingRule,
     "no derivative rule for np.unwrap", 2, 19),
    ("missing_rule_builtin", "def f(x):\n    return np.sum(divmod(x, 2.0)[0])\n", MissingRule,
     "adjoint.register(divmod", 2, 19),
    ("iterator_value", "def f(x):\n    return list(reversed(x))[0]\n", MissingRule,
     "only as the iterable of a for loop", 2, 17),
    ("zip_value", "def f(xs, ys):\n    return np.sum(list(zip(xs, ys))[0][0])\n", MissingRule,
     "zip(...) of values that carry a derivative", 2, 24),
    ("inplace_method", "def f(x):\n    x.sort()\n    return x[0]\n", UnsupportedSyntax,
     ".sort()", 2, 5),
    ("alias_write", "def f(x):\n    y = x * 1.0\n    z = y\n    y[0] = 5.0\n"
     "    return np.sum(z)\n", UnsupportedSyntax, "may share its memory", 4, 5),
    ("alias_write_through_call", "def f(x):\n    def h(p):\n        return p, p * 2.0\n"
     "    y = x * 1.0\n    a, b = h(y)\n    a[0] = 5.0\n    return np.sum(y) + np.sum(b)\n",
     UnsupportedSyntax, "y may share its memory", 6, 5),
    ("alias_write_between_items", "def f(x):\n    def h(p):\n        q = p * 1.0\n"
     "        return q, q\n    a, b = h(x)\n    a[0] = 5.0\n    return np.sum(b)\n",
     UnsupportedSyntax, "b may share its memory", 6, 5),
    ("write_into_a_split_part", "def f(x):\n    y = x * 1.0\n    parts = np.split(y, 2)\n"
     "    p = parts[0]\n    p[0] = 5.0\n    return np.sum(y * y)\n", UnsupportedSyntax,
     "y may share its memory", 5, 5),
    ("loop_over_filter", "def f(x):\n    s = 0.0\n    for v in filter(None, x):\n"
     "        s = s + v\n    return s\n", UnsupportedSyntax, "loops run over lists", 3, 14),
    ("write_into_a_row_of_list_of_an_array", "def f(x):\n    A = np.outer(x, x)\n"
     "    rows = list(A)\n    r = rows[0]\n    r[0] = 5.0\n    return np.sum(A)\n",
     UnsupportedSyntax, "A may share its memory", 5, 5),
    ("complex_literal", "def f(x):\n    return abs(np.sum(x * (1 + 2j)))\n", UnsupportedSyntax,
     "complex number 2j", 2, 32),
    ("nonlocal", "def f(x):\n    s = 1.0\n    def g():\n        nonlocal s\n        s = 2.0\n"
     "    g()\n    return x * s\n", UnsupportedSyntax, "nonlocal s", 4, 9),
    ("nested_default_reads_local", "def f(x):\n    def g(v, w=x):\n        return v * w\n"
     "    return np.sum(g(x))\n", UnsupportedSyntax, "the default of w reads x", 2, 16),
    ("value_or", "def f(x):\n    y = x or 1.0\n    return y\n", UnsupportedSyntax, "and/or", 2, 9),
    ("nested_as_value",
     "def f(x):\n    g = lambda v: v\n    return np.sum(np.apply_along_axis(g, 0, x))\n",
     UnsupportedSyntax, "used as a value", 3, 39),
    ("r_matrix_directive", "def f(x):\n    return np.sum(np.r_['r', x, x])\n",
     UnsupportedSyntax, "np.r_['r', ...] builds a matrix", 2, 19),
    ("subscript_of_index_expression", "def f(x):\n    s = np.s_[x]\n    return np.sum(s)\n",
     UnsupportedSyntax, "np.s_[...] reads an index that carries a derivative", 2, 9),
    ("subscript_of_an_alias_of_r_", "def f(x):\n    r = np.r_\n    return np.sum(r[x, x])\n",
     UnsupportedSyntax, "write np.r_[...] itself", 3, 19),
    ("subscript_of_a_user_object", "def f(x):\n    return np.sum(BOX[x, 1.0] * 2.0)\n",
     UnsupportedSyntax, "BOX is of type Box", 2, 19),
    ("write_into_astype_without_copy", "def f(x):\n    z = x * 1.0\n"
     "    y = z.astype(float, copy=False)\n    y[0] = y[1] * 2.0\n    return np.sum(z ** 2)\n",
     UnsupportedSyntax, "z may share its memory", 4, 5),
    ("write_into_np_array_without_copy", "def f(x):\n    z = x * 1.0\n"
     "    y = np.array(z, copy=False)\n    y[0] = 5.0\n    return np.sum(z ** 2)\n",
     UnsupportedSyntax, "z may share its memory", 4, 5),
    # NumPy functions that write into their first argument, and out passed by position
    ("copyto_a_varying_value", "def f(x):\n    out = np.zeros(2)\n"
     "    np.copyto(out, 2.0 * x)\n    return np.sum(out)\n", UnsupportedSyntax,
     "np.copyto writes into out in place", 3, 5),
    ("put_kept_in_a_name", "def f(x):\n    y = np.zeros(3)\n    r = np.put(y, [0, 2], x)\n"
     "    return np.sum(y)\n", UnsupportedSyntax, "np.put writes into y in place", 3, 9),
    ("fill_diagonal_with_a_varying_value", "def f(x):\n    Z = np.zeros((2, 2))\n"
     "    np.fill_diagonal(Z, x[0])\n    return np.sum(Z)\n", UnsupportedSyntax,
     "np.fill_diagonal writes into Z in place", 3, 5),
    ("out_by_position", "def f(x):\n    C = np.zeros(2)\n    np.add(x, x, C)\n"
     "    return np.sum(C)\n", UnsupportedSyntax, "out= (by keyword or by position)", 3, 5),
    # an iterator runs when it is consumed: after a name it reads is written, refused
    ("map_consumed_after_a_write", "def f(x):\n    y = x.copy()\n    m = map(np.sin, y)\n"
     "    y *= 2.0\n    return sum(m)\n", UnsupportedSyntax,
     "m is an iterator (run when it is consumed) that reads y", 3, 5),
    ("generator_consumed_after_a_write", "def f(x):\n    y = x.copy()\n"
     "    gen = (y[i] ** 2 for i in range(2))\n    y[0] = 10.0\n    return sum(gen)\n",
     UnsupportedSyntax, "gen is an iterator", 3, 5),
    ("slice_of_a_list_written", "def f(x):\n    buf = [0.0, 0.0, 0.0]\n"
     "    buf[1:] = [x[1] ** 2, x[0]]\n    return sum(buf)\n", UnsupportedSyntax,
     "a slice of the list buf is written", 3, 5),
]


class Box:
    """An object whose subscript adjoint cannot see into."""

    def __getitem__(self, key):
        return key[0]


@pytest.mark.parametrize("name,src,error,words,line,col",
                         [r for r in REFUSED if r[2] is not None],
                         ids=[r[0] for r in REFUSED if r[2] is not None])
def test_refused(name, src, error, words, line, col):
    f = make_function(src, {"BOX": Box(), "contextlib": contextlib,
                            "OVER": {True: "ignore", False: "warn"}})
    with pytest.raises(error) as info:
        adjoint.grad(f)(np.array([1.0, 2.0]))
    err = info.value
    assert isinstance(err, adjoint.AdjointError)
    assert words in str(err)
    assert isinstance(err, SyntaxError)
    assert (err.lineno, err.offset) == (line, col), str(err)
    assert err.filename.startswith("<test-source-")


def test_missing_rule_names_the_registration_line():
    f = make_function("def f(x):\n    return np.unwrap(x) * 2.0\n", {"math": math})
    with pytest.raises(MissingRule) as info:
        adjoint.grad(f)(1.5)
    assert "adjoint.register(" in str(info.value)


# ---- API misuse


def square(x):
    return x * x


def two(x, y):
    return np.sum(x * y)


@pytest.mark.parametrize("wrt,words", [("z", "names no parameter"), (2, "out of range"),
                                       (("x", "x"), "twice"), ((), "empty"),
                                       (1.5, "by position or name")])
def test_bad_wrt(wrt, words):
    with pytest.raises(ApiError, match=words):
        adjoint.grad(two, wrt=wrt)


class ForeignArray:
    """An array type without NumPy's protocols (as an array-API-only library makes)."""

    dtype = "foreign.float64"
    shape = (2,)


@pytest.mark.parametrize("value,words", [(3, "integer"), (True, "integer"),
                                         (np.arange(3), "integer"), (1 + 2j, "complex"),
                                         (np.ones(2, complex), "complex"),
                                         (ForeignArray(), "array type adjoint does not know")])
def test_bad_argument_kinds(value, words):
    with pytest.raises(ApiError, match=words):
        adjoint.grad(square)(value)


def test_non_scalar_output():
    with pytest.raises(NonScalarOutput, match="scalar result"):
        adjoint.grad(square)(np.ones(3))
    # with an explicit seed it is a vector-Jacobian product
    g = adjoint.grad(square)(np.array([1.0, 2.0]), square_bar=np.array([1.0, 10.0]))
    np.testing.assert_allclose(g, [2.0, 40.0])


@pytest.mark.parametrize("fn,words", [
    (len, "source cannot be read"), (np.sin, "source cannot be read"),
    (functools.partial(np.multiply, 2.0), "functools.partial"),
    (eval("lambda x: x * x"), "source of the lambda at <string>:1"),  # no file to read
])
def test_functions_without_usable_source(fn, words):
    with pytest.raises(ApiError, match=words):
        adjoint.grad(fn)


def test_generator_function():
    def gen(x):
        yield x

    with pytest.raises(ApiError, match="generator"):
        adjoint.grad(gen)


def test_source_of_something_else():
    with pytest.raises(ApiError):
        adjoint.source(square)


def test_every_error_is_an_adjoint_error():
    for cls in (ApiError, MissingRule, NonScalarOutput, UnsupportedSyntax, UnsupportedArgument):
        assert issubclass(cls, adjoint.AdjointError)


def test_tuple_result_names_has_aux():
    def with_aux(x):
        return np.sum(x * x), x

    with pytest.raises(NonScalarOutput, match="has_aux=True"):
        adjoint.grad(with_aux)(np.ones(2))
    (value, aux), g = adjoint.value_and_grad(with_aux, has_aux=True)(np.array([1.0, 2.0]))
    assert value == 5.0 and aux.tolist() == [1.0, 2.0] and g.tolist() == [2.0, 4.0]
    g, aux = adjoint.grad(with_aux, has_aux=True)(np.array([1.0, 2.0]))
    assert g.tolist() == [2.0, 4.0] and aux.tolist() == [1.0, 2.0]
    with pytest.raises(ApiError, match="must return"):
        adjoint.grad(square, has_aux=True)(np.ones(2))


# ---- the API boundary: an exception adjoint raises by mistake is an InternalError naming
# the function and the stage; the user's own code's exceptions pass unchanged

def broken(*args, **kwargs):
    raise KeyError(0)


@pytest.mark.parametrize("module, attribute, stage", [
    ("adjoint.normalize", "normalize", "normalizing"),
    ("adjoint.reverse", "reverse", "differentiating"),
    ("adjoint.optimize", "optimize", "optimizing"),
    ("adjoint.compile", "load", "compiling"),
])
def test_internal_errors_name_function_and_stage(monkeypatch, module, attribute, stage):
    import importlib

    monkeypatch.setenv("ADJOINT_CACHE", "0")
    monkeypatch.setattr(importlib.import_module(module), attribute, broken)
    f = make_function("def victim(x):\n    return np.sum(np.sin(x))\n")
    with pytest.raises(adjoint.errors.InternalError, match=f"{stage}.*victim") as info:
        adjoint.grad(f)
    assert isinstance(info.value.__cause__, KeyError)


def test_internal_error_in_the_reverse_sweep(monkeypatch):
    from adjoint import runtime

    f = make_function("def victim(x):\n    return np.sum(np.sin(x) * x, axis=0)\n")
    df = adjoint.grad(f)
    space: dict = {}  # a runtime helper with a bug: its code is the runtime's
    exec(compile("def sum_adjoint(*args, **kwargs):\n    raise KeyError(0)\n", runtime.__file__,
                 "exec"), space)
    monkeypatch.setattr(runtime, "sum_adjoint", space["sum_adjoint"])
    with pytest.raises(adjoint.errors.InternalError, match="victim.*sum_adjoint|sum_adjoint"):
        df(np.ones(2))


def test_the_users_own_errors_pass_unchanged():
    f = make_function("""
def shapes(x, y):
    return np.sum(x @ y)
""")
    with pytest.raises(ValueError, match="matmul"):
        adjoint.grad(f)(np.ones((2, 3)), np.ones((2, 3)))
    g = make_function("""
def helper(x):
    if np.any(x < 0):
        return np.sum(np.log(x))
    return np.sum(x)

def lookup(x, table):
    return table["missing"] * np.sum(x)
""")
    with pytest.raises(KeyError):
        adjoint.grad(g)(np.ones(2), {"w": 1.0})


def test_an_error_of_the_forward_sweep_alone_is_internal():
    """The forward sweep runs the function as written; an exception there that the function
    itself does not raise is adjoint's (here: the emitted code's np is broken)."""
    f = make_function("def victim(x):\n    return np.sum(np.sin(x) ** 2)\n")
    df = adjoint.grad(f)
    df(np.ones(2))
    space = df.__adjoint__.function.__globals__

    saved, space["np"] = space["np"], object()  # np.sin: an AttributeError
    try:
        with pytest.raises(adjoint.errors.InternalError, match="victim.*forward sweep"):
            df(np.ones(2))
    finally:
        space["np"] = saved


@pytest.mark.parametrize("op", ["=", "+="])
@pytest.mark.parametrize("repeat", [[0, 0, 1], [0, -3, 1], [2, 1, -1]])
def test_write_through_repeated_index_is_refused_when_it_runs(op, repeat):
    """NumPy keeps the last of the values written to one place: a gradient that added them
    all back would be wrong, so such a write is refused as it runs (distinct ones are not)."""
    f = make_function(f"""
def f(x, idx):
    y = np.zeros(3)
    y[idx] {op} x
    return np.sum(y * np.array([1.0, 2.0, 3.0]))
""")
    df = adjoint.grad(f, wrt="x")
    assert np.allclose(df(np.array([3.0, 1.0, 5.0]), np.array([0, 2, 1])), [1.0, 3.0, 2.0])
    with pytest.raises(UnsupportedArgument, match="picks one place more than once"):
        df(np.array([3.0, 1.0, 5.0]), np.array(repeat))  # -3 is 0, -1 is 2 of three


@pytest.mark.parametrize("when", ["grad(f)", "df(x)"])
def test_errors_at_the_api_boundary_show_the_users_frame(when):
    """A refusal's traceback holds the user's frame and the API call, not adjoint's internal
    frames (an InternalError, a bug in adjoint, keeps them all)."""
    import traceback

    src = "def f(x):\n    global G\n    return x\n" if when == "grad(f)" else \
        "def f(x):\n    return x * 2.0\n"
    f = make_function(src)
    with pytest.raises(adjoint.AdjointError) as info:
        adjoint.grad(f)(np.ones(3))
    frames = traceback.extract_tb(info.value.__traceback__)
    inside = [fr for fr in frames if "/adjoint/" in fr.filename.replace("\\", "/")]
    assert frames[0].filename == __file__ and len(inside) <= 2, [fr.name for fr in frames]


ITEM_CHANGED_IN_PLACE = {  # an array in a list or dict, changed by `c[k] op= v`
    "read_first": ("qs = [p * 1.0]", "qs[0] -= qs[0] * qs[0]", "np.sum(qs[0])"),
    "held_by_another_name": ("a = p * 1.0\n    qs = [a]", "qs[0] += 2.0 * p", "np.sum(a * a)"),
    "scaled_in_a_dict": ("a = p * 1.0\n    qs = {'k': a}", "qs['k'] /= 2.0", "np.sum(a * a)"),
    "multiplied": ("a = p * 1.0\n    qs = [a, 1.0]", "qs[0] *= qs[1]", "np.sum(a * a)"),
}


@pytest.mark.parametrize("name", sorted(ITEM_CHANGED_IN_PLACE))
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_array_item_changed_in_place_is_refused_when_it_runs(name, mode):
    """Python changes an array held in a list or dict in place (`qs[0] -= v`), where other
    names may hold it; the derivative code follows the item replaced, as a number is, so an
    array there is refused as the code runs (a number is not: tests/programs.py)."""
    before, write, result = ITEM_CHANGED_IN_PLACE[name]
    f = make_function(f"def f(p):\n    {before}\n    {write}\n    return {result}\n")
    p = np.array([0.3, 0.5])
    with pytest.raises(UnsupportedArgument, match=r"holds an array, changed in place by"):
        if mode == "grad":
            adjoint.grad(f)(p)
        else:
            adjoint.jvp(f)(p, p_dot=np.ones(2))
