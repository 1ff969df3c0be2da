"""Functions as values, as people write them: a list or dict of functions and lambdas, a
helper received as an argument, a bound method or callable object of their own class, a
functools.partial made outside or inside the function, `map` and `sum(map(...))`. Each
program is checked against central differences; the refusals name what is missing."""

import functools
import textwrap

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.testing import check_grads

PROGRAMS = {
    "list of force functions, summed in a generator": ("""
def anchor(x, v, k):
    return -k * x

def drag(x, v, k):
    return -0.2 * v

FORCES = [anchor, drag, lambda x, v, k: np.r_[np.diff(x), 0.0] - np.r_[0.0, np.diff(x)]]

def energy(x0, k, dt=0.05, steps=15):
    x = x0 * 1.0
    v = np.zeros_like(x)
    for _ in range(steps):
        a = sum(force(x, v, k) for force in FORCES)
        v = v + dt * a
        x = x + dt * v
    return 0.5 * np.sum(v ** 2) + 0.5 * k * np.sum(x ** 2)
""", lambda r: [r.normal(size=4), 1.3], (0, 1)),
    "objectives looked up by name in a dict of lambdas": ("""
TESTBED = {"bowl": lambda x: np.sum((1.0 + np.arange(x.size)) * x ** 2),
           "valley": lambda x: (1.0 - x[0]) ** 2 + 4.0 * (x[1] - np.sin(x[0])) ** 2}
WEIGHTS = {"bowl": 0.5, "valley": 2.0}

def suite(x):
    total = 0.0
    for name, weight in WEIGHTS.items():
        total += weight * TESTBED[name](x)
    return total
""", lambda r: [r.normal(size=2)], (0,)),
    "NumPy functions and lambdas zipped with coefficients": ("""
BASIS = [np.sin, np.cos, lambda t: t ** 2 / 10.0, lambda t: np.exp(-t)]

def fit(coef, t, y):
    pred = sum(c * phi(t) for c, phi in zip(coef, BASIS[:len(coef)]))
    return np.mean((pred - y) ** 2)
""", lambda r: [r.normal(size=4), np.linspace(0.0, 3.0, 9), r.normal(size=9)], (0, 1)),
    "a callable object held by a module-level model": ("""
class Softplus:
    def __call__(self, z):
        return np.logaddexp(0.0, z)

class Model:
    def __init__(self):
        self.act = Softplus()
        self.scale = 1.5

    def predict(self, W, X):
        return self.act(X @ W) * self.scale

MODEL = Model()

def loss(W, X, y):
    return np.sum((MODEL.predict(W, X) - y) ** 2)
""", lambda r: [r.normal(size=(3, 2)), r.normal(size=(5, 3)), r.normal(size=(5, 2))], (0, 1)),
    "a helper that calls the function it is given": ("""
CUBE = lambda z: z ** 3

def twice(f, x):
    return f(x) * 2.0

def g(x):
    return np.sum(twice(np.tanh, x)) + np.sum(twice(CUBE, x))
""", lambda r: [r.normal(size=3)], (0,)),
    "a method of a module-level problem object that counts its calls": ("""
class Problem:
    def __init__(self):
        self.nfev = 0
        self.c = np.array([0.5, -0.2, 0.1])

    def fun(self, x, *args):
        self.nfev += 1
        return np.sum((x - self.c) ** 2 * (1 + np.arange(3)))

PROBLEM = Problem()
FUN = PROBLEM.fun

def g(x):
    return PROBLEM.fun(x) + FUN(np.cos(x))
""", lambda r: [r.normal(size=3)], (0,)),
    "module-level functools.partial and a closure made by a factory": ("""
import functools

def scaled_sine(a, x, s=1.0):
    return s * np.sum(np.sin(a * x))

SCALED = functools.partial(scaled_sine, 2.0, s=0.5)

def make_kernel(ell):
    def k(a, b):
        return np.exp(-0.5 * (a - b) ** 2 / ell ** 2)
    return k

KERNEL = make_kernel(0.7)

def g(x):
    K = KERNEL(x[:, None], x[None, :])
    return SCALED(x) + SCALED(x * x) + np.sum(K @ x)
""", lambda r: [r.normal(size=3)], (0,)),
    "HMM scored with sum(map(partial(...), sequences))": ("""
from functools import partial
from scipy.special import logsumexp

def sequence_loglik(log_T, log_E, log_start, seq):
    log_alpha = log_start + log_E[:, seq[0]]
    for obs in seq[1:]:
        log_alpha = logsumexp(log_alpha[:, None] + log_T, axis=0) + log_E[:, obs]
    return logsumexp(log_alpha)

def hmm(T_logits, E_logits, start_logits, sequences):
    log_T = T_logits - logsumexp(T_logits, axis=1, keepdims=True)
    log_E = E_logits - logsumexp(E_logits, axis=1, keepdims=True)
    log_start = start_logits - logsumexp(start_logits)
    score = partial(sequence_loglik, log_T, log_E, log_start)
    return -sum(map(score, sequences))
""", lambda r: [r.normal(size=(2, 2)), r.normal(size=(2, 3)), r.normal(size=2),
                [list(r.integers(0, 3, size=n)) for n in (4, 2, 5)]], (0, 1, 2)),
    "a keyword partial made inside, its fixed value rebound later": ("""
import functools

def rbf(A, B, lengthscale=1.0, amplitude=1.0):
    d2 = np.sum(A ** 2, axis=1)[:, None] + np.sum(B ** 2, axis=1)[None, :] - 2.0 * A @ B.T
    return amplitude * np.exp(-0.5 * d2 / lengthscale ** 2)

def ridge(alpha, X, y, ell, lam=0.05):
    gram = functools.partial(rbf, lengthscale=ell)
    ell = ell * 100.0
    K = gram(X, X)
    f = K @ alpha
    return np.sum((f - y) ** 2) + lam * alpha @ K @ alpha + ell
""", lambda r: [0.5 * r.normal(size=5), r.normal(size=(5, 2)), r.normal(size=5), 0.8], (0, 3)),
    "map of a lambda over a list of penalties, list(map(np.sin, w))": ("""
def smooth_l1(w, delta=0.5):
    return np.sum(np.sqrt(delta ** 2 + w ** 2) - delta)

def ridge(w):
    return np.sum(w ** 2)

PENALTIES = [smooth_l1, ridge]

def penalty(w):
    return 0.1 * sum(map(lambda pen: pen(w), PENALTIES)) + np.sum(np.array(list(map(np.sin, w))))
""", lambda r: [r.normal(size=4)], (0,)),
    "Newton's method mapped over times with a keyword partial": ("""
from functools import partial

def kepler(M, e, tol=1e-13):
    E = M
    delta = 1.0
    while abs(delta) > tol:
        delta = (E - e * np.sin(E) - M) / (1.0 - e * np.cos(E))
        E = E - delta
    return E

def orbit(e, times):
    E = np.array(list(map(partial(kepler, e=e), times)))
    return np.sum(np.cos(E) - e)
""", lambda r: [0.3, r.uniform(0.1, 2.9, size=4)], (0, 1)),
    "map of a two-argument lambda over two arrays": ("""
def g(x, y):
    return sum(map(lambda a, b: a * np.sin(b), x, y))
""", lambda r: [r.normal(size=3), r.normal(size=3)], (0, 1)),
    "a kernel closure returned by a factory over differentiated values": ("""
def squared_exp(length, signal):
    def cov(a, b):
        r = (a[:, None] - b[None, :]) / length
        return signal ** 2 * np.exp(-0.5 * r ** 2)
    return cov

def neg_log_evidence(hyp, t, y):
    k = squared_exp(np.exp(hyp[0]), np.exp(hyp[1]))
    C = k(t, t) + np.exp(2.0 * hyp[2]) * np.eye(t.size)
    a = np.linalg.solve(C, y)
    return 0.5 * y @ a + 0.5 * np.linalg.slogdet(C)[1]
""", lambda r: [np.array([0.1, 0.2, -1.0]), np.sort(r.uniform(0, 5, 6)), r.normal(size=6)],
        (0,)),
    "an RK4 right-hand side made by a factory that counts what it builds": ("""
def make_rhs(k, c, forcing=0.3):
    \"\"\"The oscillator's right-hand side.\"\"\"
    make_rhs.built += 1
    def rhs(state, t):
        x, v = state
        return np.array([v, -k * x - c * v - 0.2 * x ** 3 + forcing * np.cos(t)])
    return rhs

make_rhs.built = 0

def final_energy(p, x0=1.0, v0=0.0, dt=0.05, steps=12):
    f = make_rhs(p[0], c=p[1])
    s = np.r_[x0, v0]
    t = 0.0
    for _ in range(steps):
        k1 = f(s, t)
        k2 = f(s + 0.5 * dt * k1, t + 0.5 * dt)
        k3 = f(s + 0.5 * dt * k2, t + 0.5 * dt)
        k4 = f(s + dt * k3, t + dt)
        s = s + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        t = t + dt
    return 0.5 * s[1] ** 2 + 0.5 * p[0] * s[0] ** 2
""", lambda r: [np.array([1.2, 0.15])], (0,)),
    "a plotting callback each few steps, with **style": ("""
FRAMES = []

def show(frame, **style):
    FRAMES.append((frame.copy(), style.get("color", "k")))

def burgers(u0, nu=0.07, dt=0.01, dx=0.2, n_steps=8):
    u = u0.copy()
    for step in range(n_steps):
        un = u.copy()
        u[1:-1] = (un[1:-1] - dt / dx * un[1:-1] * (un[1:-1] - un[:-2])
                   + nu * dt / dx ** 2 * (un[2:] - 2 * un[1:-1] + un[:-2]))
        if step % 3 == 0:
            show(u, color="r", step=step)
    return np.sum(u ** 2)
""", lambda r: [r.normal(size=7)], (0,)),
    "a logging callback that keeps (step, value) pairs": ("""
TRACE = []

def record(i, value):
    TRACE.append((i, value))

def misfit(a, x):
    m = 0.0
    for i in range(len(x)):
        m = m + (a * x[i] - 1.0) ** 2
        record(i, m)
    print("misfit", m)
    return m
""", lambda r: [0.7, r.normal(size=5)], (0, 1)),
    "**options in the objective, read with .get and passed on": ("""
def penalty(w, **kw):
    kind = kw.get("kind", "l2")
    strength = kw.get("strength", 0.1)
    if kind == "l2":
        return strength * np.sum(w ** 2)
    return strength * np.sum(np.abs(w))

def objective(w, X, y, **options):
    resid = X @ w - y
    return 0.5 * np.mean(resid ** 2) + penalty(w, **options) + options["scale"] * np.sum(w)
""", lambda r: [r.normal(size=3), r.normal(size=(6, 3)), r.normal(size=6)], (0, 1)),
    "a layer that caches its input, initialises itself, keeps a history": ("""
class Tanh:
    def __call__(self, z):
        return np.tanh(z)

class Dense:
    def __init__(self, activation):
        self.activation = activation
        self.ready = False
        self.cache = None
        self.history = []

    def forward(self, X, W, b):
        if not self.ready:
            self.n = X.shape[0]
            self.ready = True
        Z = X @ W + b
        self.cache = (X, Z)
        out = self.activation(Z)
        self.history.append(np.sum(out))
        return out

LAYER = Dense(Tanh())

def loss(W, b, X, Y):
    out = LAYER.forward(X, W, b)
    value = np.sum((out - Y) ** 2) / LAYER.n
    LAYER.last_loss = value
    return value
""", lambda r: [r.normal(size=(3, 2)), r.normal(size=2), r.normal(size=(4, 3)),
                r.normal(size=(4, 2))], (0, 1, 2)),
    "a module-level frozen prior": ("""
from scipy.stats import norm

PRIOR = norm(0.0, 2.0)

def neg_log_post(w, X, y):
    return 0.5 * np.sum((X @ w - y) ** 2) - np.sum(PRIOR.logpdf(w))
""", lambda r: [r.normal(size=3), r.normal(size=(5, 3)), r.normal(size=5)], (0,)),
    "an RNN cell taking its weights as *weights, called with *cell": ("""
def cell_step(h, x_t, *weights):
    W_in, W_rec, bias = weights
    return np.tanh(x_t @ W_in + h @ W_rec + bias)

def rnn_loss(params, xs, target):
    *cell, W_out = params
    h = np.zeros(W_out.shape[0])
    for x_t in xs:
        h = cell_step(h, x_t, *cell)
    return 0.5 * np.sum((h @ W_out - target) ** 2)
""", lambda r: [[0.5 * r.normal(size=(2, 3)), 0.5 * r.normal(size=(3, 3)),
                 0.1 * r.normal(size=3), 0.5 * r.normal(size=(3, 2))],
                r.normal(size=(4, 2)), r.normal(size=2)], (0,)),
    "a mixture iterating zip(*unpack(params))": ("""
from scipy.special import logsumexp

def unpack(params):
    return params["means"], params["log_sds"], params["logits"]

def mixture_nll(params, x):
    terms = []
    for mean, log_sd, logit in zip(*unpack(params)):
        sd = np.exp(log_sd)
        terms.append(logit - np.log(sd) - 0.5 * ((x - mean) / sd) ** 2)
    log_weights_norm = logsumexp(params["logits"])
    return -np.sum(logsumexp(np.array(terms), axis=0) - log_weights_norm)
""", lambda r: [{"means": r.normal(size=3), "log_sds": 0.1 * r.normal(size=3),
                 "logits": r.normal(size=3)}, r.normal(size=8)], (0,)),
    "parameters kept with dict(w=..., b=...)": ("""
def f(x, b):
    p = dict(w=x * 2.0, b=b)
    return np.sum(p["w"] ** 2) + p["b"] * np.sum(x)
""", lambda r: [r.normal(size=3), 0.3], (0, 1)),
    "loops over map of a lambda and of a NumPy function": ("""
def g(x, w):
    total = 0.0
    for v in map(lambda a, b: a * np.sin(b), x, w):
        total = total + v ** 2
    for r in map(np.tanh, x):
        total = total + r
    return total
""", lambda r: [r.normal(size=3), r.normal(size=3)], (0, 1)),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_function_values(name, optimize):
    src, build, wrt = PROGRAMS[name]
    f = make_function(src)
    kwargs = {"scale": 0.3, "kind": "l2"} if "**options" in src else {}
    check_grads(f, build(np.random.default_rng(3)), wrt, kwargs=kwargs, optimize=optimize)


def test_callbacks_and_factories_run_as_in_the_primal():
    """A callback called for its effect, and a factory's own statements, run once per
    gradient call, in the forward sweep, as in one call of the function."""
    src, build, _ = PROGRAMS["a logging callback that keeps (step, value) pairs"]
    f = make_function(src)
    args = build(np.random.default_rng(0))
    adjoint.grad(f)(*args)
    assert [i for i, _ in f.__globals__["TRACE"]] == list(range(5))
    src, build, _ = PROGRAMS["an RK4 right-hand side made by a factory that counts what it builds"]
    f = make_function(src)
    df = adjoint.grad(f)
    df(*build(np.random.default_rng(0)))
    df(*build(np.random.default_rng(0)))
    assert f.__globals__["make_rhs"].built == 2


def test_kwargs_parameter_in_the_gradient_signature():
    f = make_function("""
def f(w, **options):
    return options.get("scale", 1.0) * np.sum(w ** 2)
""")
    df = adjoint.grad(f)
    w = np.array([1.0, -2.0])
    np.testing.assert_allclose(df(w, scale=3.0), 6.0 * w)
    np.testing.assert_allclose(df(w), 2.0 * w)
    assert "def grad_f(w, f_bar=1.0, **options):" in adjoint.source(df)
    with pytest.raises(adjoint.AdjointError, match="names the \\*\\*options parameter"):
        adjoint.grad(f, wrt="options")


def test_the_function_a_list_holds_is_read_at_each_call():
    """A call through a value looks the function up when it runs: replacing the list's item
    changes what the gradient differentiates, as it changes what the function computes."""
    f = make_function("""
FNS = [np.sin]

def g(x):
    return np.sum(FNS[0](x))
""")
    df = adjoint.grad(f)
    x = np.array([0.3, -1.2])
    np.testing.assert_allclose(df(x), np.cos(x))
    f.__globals__["FNS"][0] = np.tanh
    np.testing.assert_allclose(df(x), 1.0 - np.tanh(x) ** 2)


REFUSED = {
    "a function made from values that carry a derivative": ("""
def make_scaled(c):
    def scaled(x):
        return c * x
    return scaled

def g(w, x):
    fs = [make_scaled(w)]
    return np.sum(fs[0](x))
""", "used as a value"),
    "a partial fixing a differentiated value, passed on": ("""
from functools import partial

def apply(f, x):
    return f(x)

def mul(a, b):
    return a * b

def g(w, x):
    f = partial(mul, w)
    return np.sum(apply(f, x))
""", "functools.partial fixes values that carry a derivative"),
    "a callback whose stored values the function reads back": ("""
TRACE = []

def record(value):
    TRACE.append(value)

def g(w, x):
    record(np.sum(w * x))
    return TRACE[-1] * 2.0
""", "record stores values into TRACE, which this function reads back"),
    "a callback that writes into the array it is passed": ("""
def clip_first(u):
    u[0] = 0.0

def g(w, x):
    u = w * x
    clip_first(u)
    return np.sum(u ** 2)
""", "clip_first may write into the values it is passed"),
    "differentiated values passed through **": ("""
def h(x, scale=1.0):
    return scale * x

def g(w, x):
    return np.sum(h(x, **{"scale": w[0]}))
""", "unpacking of"),
    "a value kept in an attribute the module reads back": ("""
class Layer:
    def forward(self, x):
        self.cache = x * 2.0
        return self.cache

    def backward(self, g):
        return g * self.cache

LAYER = Layer()

def g(w, x):
    return np.sum(LAYER.forward(w) * x)
""", "an attribute is set from"),
    "a history list the module reads back": ("""
class Model:
    def __init__(self):
        self.history = []

    def loss(self, w):
        self.history.append(np.sum(w ** 2))
        return self.history[-1]

MODEL = Model()

def g(w, x):
    return MODEL.loss(w * x)
""", "keeps a value that varies"),
    "a module-level list appended to and read back": ("""
HISTORY = []

def g(w, x):
    HISTORY.append(np.sum(w ** 2))
    return HISTORY[-1] + np.sum(w * x)
""", "keeps a value that varies"),
    "a function read from a pair that carries a derivative, holding numbers": ("""
class Scaler:
    def __init__(self, s):
        self.s = s

    def __call__(self, t):
        return self.s * t

def pick(w):
    return w * 2.0, Scaler(1.5)

def g(w, x):
    y, scale = pick(w)
    return np.sum(scale(y) * x)
""", "holds a function made with values that may carry a derivative"),
    "that refusal inside a try whose handler catches everything": ("""
class Scaler:
    def __init__(self, s):
        self.s = s

    def __call__(self, t):
        return self.s * t

def pick(w):
    return w * 2.0, Scaler(1.5)

def g(w, x):
    y, scale = pick(w)
    try:
        z = scale(y)
    except Exception:
        z = y
    return np.sum(z * x)
""", "holds a function made with values that may carry a derivative"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_function_values_refused(name):
    src, message = REFUSED[name]
    f = make_function(src)
    with pytest.raises(adjoint.AdjointError, match=message) as info:
        adjoint.grad(f)(np.array([0.5, 1.5]), np.array([1.0, 2.0]))
    if isinstance(info.value, SyntaxError):  # refused as it compiles: where, in the source
        assert info.value.lineno is not None
    else:  # refused as the call runs: what, by the name the source gives it
        assert "scale holds" in str(info.value)


def test_emitted_call_through_a_value():
    f = make_function("""
FNS = [np.sin, np.cos]

def g(x):
    total = 0.0
    for phi in FNS:
        total = total + np.sum(phi(x))
    return total
""")
    x = np.array([0.2, 0.4])
    df = adjoint.grad(f)
    np.testing.assert_allclose(df(x), np.cos(x) - np.sin(x))
    assert adjoint.source(df) == textwrap.dedent("""\
        def grad_g(x, g_bar=1.0):
            # forward
            phi_saved_stack = []
            phi_x_stack = []
            n = len(FNS)
            phi_index_range = range(n)
            for phi_index in phi_index_range:
                phi = FNS[phi_index]
                phi_x, phi_saved = runtime.call_fwd(phi, (0,), (), x)
                phi_saved_stack.append(phi_saved)
                phi_x_stack.append(phi_x)
            g_bar = runtime.check_seed(0.0, g_bar, 'g')
            # backward
            # grad of: for phi in FNS:
            x_bar = runtime.zeros_like(x)
            for phi_index in reversed(phi_index_range):
                phi_saved = phi_saved_stack.pop()
                phi_x = phi_x_stack.pop()
                # grad of: total = total + np.sum(phi(x))
                phi_x_bar = runtime.sum_adjoint(g_bar, phi_x)
                x_bar += runtime.call_bwd(phi_saved, phi_x_bar)
            return x_bar
        """)


def test_grad_of_a_partial():
    """grad(partial(f, ...)) differentiates f with the fixed arguments in front (as JAX's
    grad of a partial); wrt counts and names the parameters left to pass."""
    f = make_function("""
def loss(w, X, y, lam=0.1):
    return np.sum((X @ w - y) ** 2) + lam * np.sum(w ** 2)
""")
    r = np.random.default_rng(0)
    X, y, w = r.normal(size=(5, 3)), r.normal(size=5), r.normal(size=3)
    objective = functools.partial(f, X=X, y=y, lam=0.5)
    np.testing.assert_allclose(adjoint.grad(objective)(w), 2 * X.T @ (X @ w - y) + w)
    at_w = functools.partial(f, w)
    dy, dlam = adjoint.grad(at_w, wrt=("y", "lam"))(X, y, lam=0.3)
    np.testing.assert_allclose(dy, -2 * (X @ w - y))
    np.testing.assert_allclose(dlam, np.sum(w ** 2))
    with pytest.raises(adjoint.AdjointError, match="names a parameter the partial of loss"):
        adjoint.grad(objective, wrt="X")
