"""The analysis stage on its own: the facts of small programs (activity, aliases, kinds,
shapes, the recording plan), and that each analysis runs once per function version."""

import pytest
from conftest import make_function

from adjoint import api, ir, naming, normalize, parse
from adjoint.analysis import memo
from adjoint.analysis.activity import analyze
from adjoint.analysis.kinds import kinds
from adjoint.analysis.memory import aliases
from adjoint.analysis.terms import shapes
from adjoint.link import Spec
from adjoint.reverse.driver import record


def lowered(src: str) -> ir.Function:
    return normalize.normalize(parse.parse(make_function(src)), naming.Namer(api.RESERVED))


# (id, source, wrt, names that must be active, names that must not be)
ACTIVITY = [
    ("passive and unused", """
def f(x, n):
    k = len(x)
    y = x * 2.0
    z = np.sin(n)
    w = y + z
    u = np.cos(x)
    return np.sum(w)
""", ["x"], {"x", "y", "w"}, {"k", "z", "u", "n"}),
    ("through a loop and a branch", """
def f(x, c):
    s = 0.0
    for i in range(3):
        if i > 0:
            s = s + x[i] * c
    t = np.floor(s)
    return s
""", ["x"], {"x", "s"}, {"i", "t"}),
    ("wrt the other parameter", """
def f(x, c):
    y = x * 2.0
    z = y * c
    return np.sum(z)
""", ["c"], {"c", "z"}, {"x", "y"}),
]


@pytest.mark.parametrize("src, wrt, active, passive",
                         [c[1:] for c in ACTIVITY], ids=[c[0] for c in ACTIVITY])
def test_activity(src, wrt, active, passive):
    found = analyze(lowered(src), set(wrt)).active | set(wrt)
    assert active <= found
    assert not passive & found


# (id, source, groups of names that may share memory, names that must not share with x)
ALIASES = [
    ("views and copies", """
def f(x):
    y = x
    v = x.reshape(-1)
    t = x.T
    c = x.copy()
    d = np.exp(x)
    return np.sum(y + v + c + d) + np.sum(t)
""", [{"x", "y", "v", "t"}], {"c", "d"}),
    ("items of a list", """
def f(x, z):
    xs = [x, z]
    a = xs[0]
    w = np.sin(z)
    return np.sum(a) + np.sum(w)
""", [{"x", "a"}], {"w"}),
]


@pytest.mark.parametrize("src, groups, apart", [c[1:] for c in ALIASES],
                         ids=[c[0] for c in ALIASES])
def test_aliases(src, groups, apart):
    classes = aliases(lowered(src))
    for group in groups:
        assert group <= classes.members(sorted(group)[0])
    assert not apart & classes.members("x")


KINDS = [
    ("numbers, ints and arrays", """
def f(x, a):
    n = len(x)
    m = n * 2
    r = a / 2
    s = np.sum(x)
    y = x * a
    return s + np.sum(y) + r + m
""", {"a"}, {"n": "int", "m": "int", "r": "scalar", "s": "scalar", "a": "scalar"},
        {"x", "y"}),
    ("a name that is sometimes an array", """
def f(x, c):
    v = 0.0
    if c > 0:
        v = x * 2.0
    return np.sum(v)
""", {"c"}, {"c": "scalar"}, {"v", "x"}),
]


@pytest.mark.parametrize("src, scalars, expected, unknown", [c[1:] for c in KINDS],
                         ids=[c[0] for c in KINDS])
def test_kinds(src, scalars, expected, unknown):
    found = kinds(lowered(src), scalars)
    assert {n: found.get(n) for n in expected} == expected
    assert not unknown & found.keys()


def test_shapes_equal_terms_mean_equal_shapes():
    fn = lowered("""
def f(x, W, c):
    y = np.tanh(x)
    z = y * c
    r = W[0]
    q = W[1] + r
    u = W @ x
    return np.sum(z) + np.sum(q) + np.sum(u)
""")
    term = shapes(fn, kinds(fn, {"c"}))
    assert term["y"] == term["z"] == term["x"] == ("param", "x")
    assert term["r"] == term["q"] != term["W"]  # a row of W, whatever W's shape
    assert term["u"] not in (term["x"], term["W"])


def saves_of(src: str, wrt=("x",)) -> dict[str, dict[str, str]]:
    """The recording plan of a program: its statement's text -> {name: mode}, plus renames
    (top-level redefinitions) as 'renamed'."""
    fn = lowered(src)
    done = record(fn, Spec(tuple(wrt)), naming.Namer(api.RESERVED), "grad")
    version, plan = done.fn, done.plan
    out: dict[str, dict[str, str]] = {}
    for s in ir.walk(version.body):
        modes = dict(plan.saves.get(id(s), {}))
        if id(s) in plan.slices:
            modes[s.target] = "slice"
        if modes:
            out[ir.text(ir.stmt_parts(s))] = modes
    if version is not fn:
        out["renamed"] = {}
    return out


# (id, source, the plan: statement -> {name: 'before' | 'after' | 'recompute' | 'slice'})
PLANS = [
    ("a value read after an inner loop, inside the outer loop, is kept before", """
def f(x):
    y = 0.0
    for i in range(3):
        for j in range(2):
            t = np.sin(x[i] * (j + 1))
        y = y + t * t
    return y
""", {"t = np.sin(x_i_j_shifted)": {"t": "before"}, "y = y + t_t": {"y": "before"},
      "t_t = t * t": {"t_t": "after"}, "x_i_j_shifted = x_i * j_shifted": {
          "x_i_j_shifted": "after"}, "j_shifted = j + 1": {"j_shifted": "recompute"},
      "for j in j_range:": {"j": "before"}}),
    ("a value read in its own trip is pushed after, or computed again", """
def f(x):
    s = 0.0
    for i in range(3):
        u = np.exp(x[i])
        s = s + u * u
    return s
""", {"u = np.exp(x_i)": {"u": "after"}, "s = s + u_u": {"s": "before"},
      "u_u = u * u": {"u_u": "after"}}),
    ("an item write keeps the slice it overwrites", """
def f(x):
    y = x.copy()
    for i in range(2):
        y[i] = y[i] * x[i]
    return np.sum(y)
""", {"y[i] = y_i": {"y": "slice"}, "y_i_2 = y[i]": {"y_i_2": "after"},
      "y_i = y_i_2 * x_i": {"y_i": "after"}, "x_i = x[i]": {"x_i": "recompute"}}),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in PLANS], ids=[c[0] for c in PLANS])
def test_recording_plan(src, expected):
    assert saves_of(src) == expected


STRAIGHT = "def f(x):\n    v0 = x\n" + "".join(
    f"    v{k} = np.sin(v{k - 1}) * 1.5\n" for k in range(1, 30)) + "    return np.sum(v29)\n"


def test_each_analysis_runs_once_per_function_version():
    f = make_function(STRAIGHT)
    memo.RUNS.clear()
    api.Program(True).add(f, ("x",))
    # one version (no calls to link, no top-level redefinition read by the reverse sweep);
    # `arrays` and `_annotated` answer two different questions each
    assert dict(memo.RUNS) == {
        "check_writes": 1, "numbers_rebound": 1, "points_to": 1, "sequences": 1,
        "_annotated": 2, "_kinds": 1,
        "arrays": 2, "analyze": 1, "aliases": 1, "masked": 1, "shapes_and_ints": 1, "places": 1,
        "mutated_params": 1, "run_once": 1, "shift_free": 1}
