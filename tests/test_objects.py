"""Parameters held in objects, as people write them: dataclasses (frozen too), named tuples
(typing.NamedTuple and collections.namedtuple) and objects of a plain class, differentiated as
a whole and unchanged.

One row per program: its source (classes, helpers, then the function differentiated), the
function's name, a builder of its arguments from a seeded generator and the module's
namespace, and `wrt`. Every row is checked against central differences (the gradient of a
record is a record of its type, or a dict for an object of a plain class) with the optimizer
on and off, entry by entry as `adjoint check` does, and for the type of what it returns.
"""

import dataclasses

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint import AdjointError
from adjoint.arguments import kinds_of
from adjoint.testing import check_entries, check_grads

HEAD = """
import collections
import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple
from scipy.special import erf
"""

CHAIN = HEAD + '''
@dataclass
class ChainParams:
    stiffness: float
    damping: float
    x0: np.ndarray

def chain_energy(p, dt=0.02, steps=30):
    x = p.x0 * 1.0
    v = np.zeros_like(x)
    for _ in range(steps):
        a = -p.stiffness * x - p.damping * v
        v = v + dt * a
        x = x + dt * v
    return 0.5 * np.sum(v ** 2) + 0.5 * p.stiffness * np.sum(x ** 2)
'''

PROBIT = HEAD + '''
class ProbitParams(NamedTuple):
    weights: np.ndarray
    bias: float

def probit_nll(theta, X, y):
    z = X @ theta.weights + theta.bias
    p = 0.5 * (1.0 + erf(z / np.sqrt(2.0)))
    return -np.sum(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
'''

RNN = HEAD + '''
class RNNParams(NamedTuple):
    W_xh: np.ndarray
    W_hh: np.ndarray
    b_h: np.ndarray
    W_out: np.ndarray

def step(h, x, W_xh, W_hh, b):
    return np.tanh(W_xh @ x + W_hh @ h + b)

def rnn_loss(params, xs, target):
    *cell, W_out = params
    h = np.zeros(params.W_hh.shape[0])
    for x in xs:
        h = step(h, x, *cell)
    return np.sum((W_out @ h - target) ** 2)
'''

FROZEN = HEAD + '''
@dataclass(frozen=True)
class Spring:
    log_k: float
    rest: np.ndarray
    name: str = "spring"
    n_iter: int = 3

    def __post_init__(self):
        if self.n_iter < 1:
            raise ValueError("n_iter must be positive")

def spring_energy(s, x):
    k = np.exp(s.log_k)
    total = 0.0
    for i in range(s.n_iter):
        total = total + 0.5 * k * np.sum((x - s.rest) ** 2) / (i + 1.0)
    return total
'''

COLLECTIONS = HEAD + '''
Gauss = collections.namedtuple("Gauss", ["mean", "log_std"])

def gauss_nll(theta, data):
    mu, log_std = theta
    z = (data - theta[0]) / np.exp(log_std)
    return np.sum(0.5 * z ** 2 + log_std) + 0.01 * np.sum(mu ** 2)
'''

PLAIN = HEAD + '''
class Hyper:
    def __init__(self):
        self.log_length = 0.1
        self.log_scale = -0.3
        self.noise = 0.05
        self.kind = "rbf"
        self.jitter_steps = 2

def gp_nll(h, X, y):
    d = X[:, None] - X[None, :]
    K = np.exp(2.0 * h.log_scale) * np.exp(-0.5 * d ** 2 / np.exp(2.0 * h.log_length))
    K = K + (h.noise ** 2 + 1e-6) * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(K, y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L)))
'''

HELPERS = HEAD + '''
@dataclass
class Anchor:
    stiffness: float
    damping: float
    anchor: np.ndarray

def anchor_force(x, v, p):
    return -p.stiffness * (x - p.anchor) - p.damping * v

def kinetic(v, p):
    return 0.5 * np.sum(v ** 2) + 0.0 * p.damping

def anchored_energy(p, x0, dt=0.05, steps=20):
    x = x0 * 1.0
    v = np.zeros_like(x)
    for _ in range(steps):
        v = v + dt * anchor_force(x, v, p)
        x = x + dt * v
    return kinetic(v, p) + 0.5 * p.stiffness * np.sum((x - p.anchor) ** 2)
'''

LAYERS = HEAD + '''
@dataclass
class MLP:
    layers: list
    biases: dict
    scale: float = 1.0

def mlp_loss(net, X, y):
    h = X
    for k, W in enumerate(net.layers):
        h = np.tanh(h @ W + net.biases["b%d" % k])
    return np.sum((net.scale * h[:, 0] - y) ** 2)
'''

NESTED = HEAD + '''
class Prior(NamedTuple):
    mu: float
    tau: float

@dataclass
class Model:
    w: np.ndarray
    prior: Prior
    label: str = "model"

def neg_log_post(m, X, y):
    r = X @ m.w - y
    return 0.5 * np.sum(r ** 2) + 0.5 * m.prior.tau * np.sum((m.w - m.prior.mu) ** 2)
'''

MIXED = HEAD + '''
@dataclass
class Affine:
    A: np.ndarray
    b: np.ndarray

def affine_loss(p, x, c):
    y = p.A @ x + p.b
    return np.sum(np.sin(y) * c)
'''


BUILT = HEAD + '''
class State(NamedTuple):
    pos: np.ndarray
    vel: np.ndarray

@dataclass
class Damping:
    k: float
    c: float = 0.1

Pair = collections.namedtuple("Pair", "first second")

def step(s, p, dt):
    acc = -p.k * s.pos - p.c * s.vel
    return State(s.pos + dt * s.vel, vel=s.vel + dt * acc)

def simulate(x0, k):
    s = State(x0, np.zeros_like(x0))
    p = Damping(k)
    for _ in range(15):
        s = step(s, p, 0.05)
    pair = Pair(second=np.sum(s.vel ** 2), first=s.pos)
    return np.sum(pair.first ** 2) + 0.5 * pair.second
'''


def built_args(rng, ns):
    return [rng.normal(size=3), float(rng.uniform(1.0, 3.0))]


def chain_args(rng, ns):
    return [ns["ChainParams"](1.3, 0.2, rng.normal(size=3))]


def probit_args(rng, ns):
    return [ns["ProbitParams"](0.3 * rng.normal(size=3), 0.1), rng.normal(size=(5, 3)),
            (rng.random(5) > 0.5) * 1.0]


def rnn_args(rng, ns):
    shapes = [(4, 2), (4, 4), (4,), (2, 4)]
    return [ns["RNNParams"](*(0.4 * rng.normal(size=s) for s in shapes)),
            rng.normal(size=(3, 2)), rng.normal(size=2)]


def spring_args(rng, ns):
    return [ns["Spring"](0.2, rng.normal(size=3), "s1", 2), rng.normal(size=3)]


def gauss_args(rng, ns):
    return [ns["Gauss"](rng.normal(size=2), 0.1 * rng.normal(size=2)), rng.normal(size=(6, 2))]


def plain_args(rng, ns):
    return [ns["Hyper"](), np.linspace(-1.0, 1.0, 5), rng.normal(size=5)]


def anchor_args(rng, ns):
    return [ns["Anchor"](1.5, 0.3, rng.normal(size=2)), rng.normal(size=2)]


def mlp_args(rng, ns):
    layers = [0.5 * rng.normal(size=(3, 4)), 0.5 * rng.normal(size=(4, 2))]
    biases = {"b0": 0.1 * rng.normal(size=4), "b1": 0.1 * rng.normal(size=2)}
    return [ns["MLP"](layers, biases, 1.2), rng.normal(size=(5, 3)), rng.normal(size=5)]


def nested_args(rng, ns):
    return [ns["Model"](rng.normal(size=3), ns["Prior"](0.2, 1.5)), rng.normal(size=(4, 3)),
            rng.normal(size=4)]


def affine_args(rng, ns):
    return [ns["Affine"](rng.normal(size=(2, 3)), rng.normal(size=2)), rng.normal(size=3),
            rng.normal(size=2)]


# name: (source, function, arguments, wrt)
PROGRAMS = {
    "dataclass_chain": (CHAIN, "chain_energy", chain_args, 0),
    "namedtuple_probit": (PROBIT, "probit_nll", probit_args, "theta"),
    "namedtuple_rnn_starred": (RNN, "rnn_loss", rnn_args, 0),
    "frozen_dataclass_static_fields": (FROZEN, "spring_energy", spring_args, (0, 1)),
    "collections_namedtuple_unpacked": (COLLECTIONS, "gauss_nll", gauss_args, 0),
    "plain_object": (PLAIN, "gp_nll", plain_args, 0),
    "dataclass_read_by_helpers": (HELPERS, "anchored_energy", anchor_args, ("p", "x0")),
    "dataclass_of_a_list_and_a_dict": (LAYERS, "mlp_loss", mlp_args, 0),
    "dataclass_holding_a_named_tuple": (NESTED, "neg_log_post", nested_args, 0),
    "dataclass_with_other_arguments": (MIXED, "affine_loss", affine_args, (0, 1)),
    "records_built_inside": (BUILT, "simulate", built_args, (0, 1)),
}


def build(name):
    src, fname, make_args, wrt = PROGRAMS[name]
    f = make_function(src, name=fname)
    return f, f.__globals__, make_args, wrt


@pytest.mark.parametrize("name", PROGRAMS)
def test_against_central_differences(name, optimize):
    f, ns, make_args, wrt = build(name)
    for seed in range(2):
        args = make_args(np.random.default_rng(seed), ns)
        check_grads(f, args, wrt, optimize=optimize, seed=seed)


@pytest.mark.parametrize("name", PROGRAMS)
def test_entry_by_entry(name):
    """check_entries (what `adjoint check` prints) walks the fields: a row per array or
    number, labelled p.stiffness, each entry within tolerance."""
    f, ns, make_args, wrt = build(name)
    args = make_args(np.random.default_rng(0), ns)
    checks = check_entries(f, args, wrt)
    assert checks and all(c.problem is None for c in checks), [c.problem for c in checks]
    for c in checks:
        assert not c.failing(1e-4, 1e-6), (c.label, c.failing(1e-4, 1e-6))
    labels = {c.label for c in checks}
    first = f.__code__.co_varnames[0]
    if first in dict(kinds_of(f, args, {})[4]):  # a record: a row per field
        assert any(label.startswith(f"{first}.") for label in labels), labels


def test_the_gradient_of_a_record_is_a_record_of_its_type():
    """Float fields get gradients; static fields (str, int) keep the argument's value; a
    frozen dataclass whose __post_init__ checks its fields is rebuilt without running it."""
    f, ns, make_args, _ = build("frozen_dataclass_static_fields")
    s, x = make_args(np.random.default_rng(0), ns)
    g = adjoint.grad(f)(s, x)
    assert type(g) is ns["Spring"] and (g.name, g.n_iter) == ("s1", 2)
    assert isinstance(g.rest, np.ndarray) and g.rest.shape == (3,)
    once = dataclasses.replace(s, n_iter=1)  # a static field read as a loop bound
    assert adjoint.grad(f)(once, x).n_iter == 1
    f, ns, make_args, _ = build("namedtuple_probit")
    theta, *rest = make_args(np.random.default_rng(0), ns)
    assert type(adjoint.grad(f)(theta, *rest)) is ns["ProbitParams"]


def test_the_gradient_of_a_plain_object_is_a_dict_of_its_float_attributes():
    f, ns, make_args, _ = build("plain_object")
    args = make_args(np.random.default_rng(0), ns)
    g = adjoint.grad(f)(*args)
    assert set(g) == {"log_length", "log_scale", "noise"}
    value, g2 = adjoint.value_and_grad(f)(*args)
    assert value == pytest.approx(f(*args)) and g2.keys() == g.keys()


def test_nested_records_and_containers_keep_their_shape():
    f, ns, make_args, _ = build("dataclass_holding_a_named_tuple")
    g = adjoint.grad(f)(*make_args(np.random.default_rng(0), ns))
    assert type(g.prior) is ns["Prior"] and g.label == "model"
    f, ns, make_args, _ = build("dataclass_of_a_list_and_a_dict")
    g = adjoint.grad(f)(*make_args(np.random.default_rng(0), ns))
    assert isinstance(g.layers, list) and [w.shape for w in g.layers] == [(3, 4), (4, 2)]
    assert set(g.biases) == {"b0", "b1"}


# records whose construction computes: their fields are not the arguments
COMPUTING_RECORDS = {
    "a dataclass with __post_init__": """
@dataclass
class Doubled:
    a: float
    def __post_init__(self):
        self.a = self.a * 2
""",
    "a frozen dataclass setting a field in __post_init__": """
@dataclass(frozen=True)
class Doubled:
    a: float
    def __post_init__(self):
        object.__setattr__(self, "a", self.a * 2)
""",
    "a dataclass whose __post_init__ calls its own method": """
@dataclass
class Doubled:
    a: float
    def __post_init__(self):
        self.double()
    def double(self):
        self.a = self.a * 2
""",
    "a dataclass with its own __init__": """
@dataclass
class Doubled:
    a: float
    def __init__(self, a):
        self.a = a * 2
""",
    "a named tuple's subclass with its own __new__": """
class Doubled(collections.namedtuple("Base", "a")):
    def __new__(cls, a):
        return super().__new__(cls, a * 2)
""",
}


@pytest.mark.parametrize("label", COMPUTING_RECORDS)
def test_a_record_whose_construction_computes_is_refused(label):
    """Building a record whose __init__, __post_init__ or __new__ is the user's is refused,
    naming it: the rule that each argument's adjoint is its field's would be wrong."""
    f = make_function(HEAD + COMPUTING_RECORDS[label] + """
def f(a):
    return Doubled(a).a * 3
""")
    assert f(1.5) == 9.0
    with pytest.raises(AdjointError, match="no derivative rule for .*Doubled"):
        adjoint.grad(f)(1.5)


def test_a_record_whose_post_init_only_checks_is_built():
    """A __post_init__ that only checks its fields (raising on a bad value) stores nothing:
    the record built inside is differentiated, each argument's adjoint its field's."""
    f = make_function(HEAD + """
@dataclass
class Checked:
    rate: float
    w: np.ndarray
    def __post_init__(self):
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        n, m = self.w.shape[0], 2

def f(rate, w):
    c = Checked(rate * 2.0, w)
    return c.rate * np.sum(np.tanh(c.w) ** 2)
""")
    check_grads(f, [1.5, np.array([0.3, -0.2, 0.7])], (0, 1))


def test_an_unread_record_has_a_zero_gradient():
    f = make_function(CHAIN + "\ndef unread(p, x):\n    return np.sum(x ** 2)\n")
    p = f.__globals__["ChainParams"](1.0, 2.0, np.ones(2))
    g = adjoint.grad(f)(p, np.ones(2))
    assert (g.stiffness, g.damping, list(g.x0)) == (0.0, 0.0, [0.0, 0.0])


def test_float32_fields_keep_their_dtype():
    f, ns, _, _ = build("dataclass_with_other_arguments")
    p = ns["Affine"](np.ones((2, 3), np.float32), np.ones(2, np.float32))
    g = adjoint.grad(f)(p, np.ones(3), np.ones(2))
    assert (g.A.dtype, g.b.dtype) == (np.float32, np.float32)


def test_kinds_tell_records_apart():
    """The code is specialized on the record's type and what each field holds, so a cache
    never runs code compiled for one kind of record on another."""
    f, ns, _, _ = build("dataclass_chain")
    C = ns["ChainParams"]
    one = kinds_of(f, (C(1.0, 0.5, np.ones(2)),), {})
    assert "p" in one[2] and one[4][0][0] == "p"
    assert kinds_of(f, (C(np.array(1.0), 0.5, np.ones(2)),), {}) != one
    df = adjoint.grad(f)
    for p in (C(1.0, 0.5, np.ones(2)), C(np.array(1.0), 0.5, np.ones(2))):
        check_grads(f, [p])
        assert np.shape(df(p).stiffness) == np.shape(p.stiffness)
    twin = make_function(PROBIT + "\nclass Chain(NamedTuple):\n    stiffness: float\n"
                         "    damping: float\n    x0: np.ndarray\n", name="probit_nll")
    as_tuple = twin.__globals__["Chain"](1.0, 0.5, np.ones(2))  # the same fields, a tuple
    for p in (C(1.0, 0.5, np.ones(2)), as_tuple, C(2.0, 0.5, np.ones(2))):
        assert type(df(p)) is type(p)


# name: (the user's function, what normalize makes of it, arguments for central differences)
STARRED = {
    "starred_target_and_argument": ("""\
def step(h, W, b):
    return np.tanh(W @ h + b)

def f(params, h):
    first, *mid, last = params
    return np.sum(step(h, *mid) * first * last)
""", """\
def f(params, h):
    if len(params) < 2: raise ValueError('not enough values to unpack (expected at least 2)')
    first = params[0]
    mid_part = params[1:-1]
    mid = list(mid_part)
    last = params[-1]
    mid_0, mid_1 = mid
    step_h = step(h, mid_0, mid_1)
    step_h_first = step_h * first
    prod = step_h_first * last
    f = np.sum(prod)
    return f
""", lambda r: [(0.5, r.normal(size=(2, 2)), r.normal(size=2), 1.5), r.normal(size=2)]),
    "nested_starred_targets": ("""\
def f(params):
    *init, (a, b) = params
    head, *tail = init
    return np.sum(head * a * b) + len(tail)
""", """\
def f(params):
    if len(params) < 1: raise ValueError('not enough values to unpack (expected at least 1)')
    init_part = params[:-1]
    init = list(init_part)
    item = params[-1]
    a, b = item
    if len(init) < 1: raise ValueError('not enough values to unpack (expected at least 1)')
    head = init[0]
    tail_part = init[1:]
    tail = list(tail_part)
    head_a = head * a
    head_a_b = head_a * b
    sum_head_a_b = np.sum(head_a_b)
    len_tail = len(tail)
    f = sum_head_a_b + len_tail
    return f
""", lambda r: [[r.normal(size=3), r.normal(size=3), (0.5, r.normal(size=3))]]),
}


@pytest.mark.parametrize("name", STARRED)
def test_starred_unpacking(name, optimize):
    """Before and after normalize, then against central differences: a starred target is
    index reads (the starred one a list), a starred argument of a function of fixed arity is
    unpacked into names."""
    from adjoint import api, ir, naming, normalize, parse

    src, expected, make_args = STARRED[name]
    f = make_function(src)
    normalized = normalize.normalize(parse.parse(f), naming.Namer(api.RESERVED))
    assert ir.format_function(normalized) == expected
    check_grads(f, make_args(np.random.default_rng(0)), optimize=optimize)


# name: (source of the function, the words of the message, its line)
REFUSED = {
    "field_written": ("def f(p, x):\n    p.stiffness = p.stiffness * 2.0\n"
                      "    return np.sum(p.x0 * x) * p.stiffness\n",
                      "an attribute of p is assigned", 2),
    "method_called": ("def f(p, x):\n    e = p.energy(x)\n    return e * p.stiffness\n",
                      "the method .energy() of p", 2),
    "field_array_written_in_place": ("def f(p, x):\n    y = p.x0\n    y[0] = x[0]\n"
                                     "    return np.sum(y * p.stiffness)\n",
                                     "p may share its memory", 3),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused(name):
    src, words, line = REFUSED[name]
    ns = {}
    exec(compile(CHAIN, "<chain>", "exec"), {"np": np, "__name__": "chain"}, ns)
    f = make_function(src)
    with pytest.raises(AdjointError) as info:
        adjoint.grad(f)(ns["ChainParams"](1.0, 0.5, np.ones(2)), np.ones(2))
    assert words in str(info.value) and getattr(info.value, "lineno", None) == line, \
        str(info.value)


# (dataclass source, arguments, words of the message)
REFUSED_ARGUMENTS = {
    "int_in_a_float_field": ("ChainParams(1, 0.5, np.ones(2))",
                             "p.stiffness is annotated float but holds the int 1; pass 1.0"),
    "field_named_like_an_array_attribute": (
        "Shaped(np.ones(2))", "its field 'shape' has the name of an array attribute"),
}


@pytest.mark.parametrize("name", REFUSED_ARGUMENTS)
def test_refused_arguments(name):
    expr, words = REFUSED_ARGUMENTS[name]
    src = CHAIN + "\n@dataclass\nclass Shaped:\n    shape: np.ndarray\n" + \
        "\ndef g(p):\n    return np.sum(p.x0) * p.stiffness\n"
    f = make_function(src)
    with pytest.raises(AdjointError, match="cannot differentiate") as info:
        adjoint.grad(f)(eval(expr, f.__globals__))
    assert words in str(info.value)

def test_objects_that_refer_to_each_other_are_refused():
    f = make_function(PLAIN + "\ndef linked(h):\n    return h.noise * h.other.noise\n")
    a, b = f.__globals__["Hyper"](), f.__globals__["Hyper"]()
    a.other, b.other = b, a
    with pytest.raises(AdjointError, match="h.other.other is an object it is inside"):
        adjoint.grad(f)(a)
    b.other = None
    assert adjoint.grad(f)(a)["other"] == {"noise": a.noise, "log_length": 0.0,
                                           "log_scale": 0.0}


CLI_MODULE = '''\
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class ChainParams:
    stiffness: float
    damping: float
    x0: np.ndarray
    label: str = "chain"


class Line(NamedTuple):
    slope: float
    offset: np.ndarray


def energy(p, line):
    x = p.x0 * line.slope + line.offset
    return 0.5 * p.stiffness * np.sum(x ** 2) + p.damping * np.sum(x)


def example():
    return ChainParams(1.3, 0.2, np.array([0.5, -1.0, 2.0])), Line(0.7, np.ones(3))
'''


def test_adjoint_check_gives_a_row_per_field(tmp_path, monkeypatch):
    """`adjoint check` walks a record's float fields (its static ones get no row)."""
    import sys

    from click.testing import CliRunner

    from adjoint import cli, rules

    (tmp_path / "springs.py").write_text(CLI_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(rules, "RULES", dict(rules.RULES))
    result = CliRunner().invoke(cli.main, ["check", "springs.py:energy", "--wrt", "p,line"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[-1] for line in result.stdout.splitlines()[2:]
            if line.strip()}
    assert rows == {"p.stiffness": "ok", "p.damping": "ok", "p.x0": "ok", "line.slope": "ok",
                    "line.offset": "ok"}, result.stdout
