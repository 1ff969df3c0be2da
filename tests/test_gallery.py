"""Gallery programs: objectives written the way tutorials and example galleries of other
differentiation tools write them (autograd's examples, JAX tutorials, SciPy notebooks), each a
small module with its helpers and data, differentiated unchanged.

One row per program: its source, the function differentiated, a builder of its arguments (from
a seeded generator and the module's namespace, for the program's own init helpers), `wrt`, and
an oracle besides central differences: "autograd" (the same source run with autograd.numpy),
a function of (args, namespace) giving exact gradients by hand for some of `wrt`, or None.
Every row is checked against central differences with the optimizer on and off.
"""

import copy

import numpy as np
import pytest
from conftest import make_function

from adjoint.testing import check_grads

AUTOGRAD = "autograd"

MLP = '''
from scipy.special import logsumexp

def init_random_params(scale, layer_sizes, rs):
    """A list of (weights, biases) tuples, one per layer."""
    return [(scale * rs.randn(m, n), scale * rs.randn(n))
            for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]

def neural_net_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs, axis=1, keepdims=True)

def l2_norm(params):
    """Sum of squares of every array in a nested structure."""
    if isinstance(params, (list, tuple)):
        return sum(l2_norm(p) for p in params)
    return np.sum(params ** 2)

def log_posterior(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * l2_norm(params)
    log_lik = np.sum(neural_net_predict(params, inputs) * targets)
    return log_prior + log_lik

def objective(params, inputs, targets):
    return -log_posterior(params, inputs, targets, 0.1)
'''


def mlp_args(rng, ns):
    params = ns["init_random_params"](0.3, [4, 5, 3], np.random.RandomState(0))
    return [params, rng.normal(size=(6, 4)), np.eye(3)[rng.integers(0, 3, size=6)]]


LOGREG = '''
_rs = np.random.RandomState(1)
X = _rs.randn(20, 3)
y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * _rs.randn(20) > 0).astype(float)

def sigmoid(x):
    return 0.5 * (np.tanh(x / 2.0) + 1)

def logistic_predictions(weights, inputs):
    return sigmoid(np.dot(inputs, weights))

def training_loss(weights, inputs, targets, l2=0.01):
    preds = logistic_predictions(weights, inputs)
    label_probabilities = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probabilities)) + l2 * np.dot(weights, weights)

objective = lambda w: training_loss(w, X, y)
'''

GP = '''
def rbf_kernel(x1, x2, lengthscale, variance):
    sqdist = np.sum(x1 ** 2, 1)[:, None] + np.sum(x2 ** 2, 1)[None, :] - 2 * x1 @ x2.T
    return variance * np.exp(-0.5 * sqdist / lengthscale ** 2)

def gp_nll(log_params, X, y):
    lengthscale, variance, noise = np.exp(log_params)
    K = rbf_kernel(X, X, lengthscale, variance) + noise * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    _, logdet = np.linalg.slogdet(K)
    return 0.5 * y @ alpha + 0.25 * logdet + 0.5 * np.sum(np.log(np.diag(L))) \\
        + 0.5 * len(X) * np.log(2 * np.pi)
'''

VAE = '''
def unpack_gaussian(params):
    D = params.shape[-1] // 2
    return params[:, :D], params[:, D:]

def neural_net(weights, inputs):
    W1, b1, W2, b2 = weights
    h = np.tanh(inputs @ W1 + b1)
    return h @ W2 + b2

def sample_diag_gaussian(mean, log_std, rs):
    return rs.randn(*mean.shape) * np.exp(log_std) + mean

def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(-0.5 * ((x - mu) / np.exp(log_std)) ** 2 - log_std
                  - 0.5 * np.log(2 * np.pi), axis=-1)

def bernoulli_log_density(targets, logits):
    return np.sum(targets * logits - np.logaddexp(0.0, logits), axis=-1)

def vae_lower_bound(gen_params, rec_params, data, seed=0):
    rs = np.random.RandomState(seed)
    q_means, q_log_stds = unpack_gaussian(neural_net(rec_params, data))
    latents = sample_diag_gaussian(q_means, q_log_stds, rs)
    logits = neural_net(gen_params, latents)
    log_prior = diag_gaussian_log_density(latents, 0.0, 0.0)
    log_q = diag_gaussian_log_density(latents, q_means, q_log_stds)
    log_lik = bernoulli_log_density(data, logits)
    return np.mean(log_lik + log_prior - log_q)
'''


def vae_args(rng, ns):
    def layer(m, n):
        return [0.3 * rng.normal(size=(m, n)), 0.1 * rng.normal(size=n)]
    D, H, Z = 6, 5, 2
    rec = layer(D, H) + layer(H, 2 * Z)
    gen = layer(Z, H) + layer(H, D)
    return [gen, rec, (rng.random((4, D)) > 0.5).astype(float)]


LSTM = '''
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))

def lstm_cell(params, x, h, c):
    z = np.concatenate([x, h], axis=1) @ params["W"] + params["b"]
    i, f, o, g = np.split(z, 4, axis=1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    return h, c

def lstm_loss(params, inputs, targets):
    hidden = params["b"].shape[0] // 4
    batch = inputs.shape[1]
    h = np.zeros((batch, hidden))
    c = np.zeros((batch, hidden))
    loss = 0.0
    for t in range(inputs.shape[0]):
        h, c = lstm_cell(params, inputs[t], h, c)
        pred = h @ params["W_out"] + params["b_out"]
        loss = loss + np.mean((pred - targets[t]) ** 2)
    return loss / inputs.shape[0]
'''


def lstm_args(rng, ns):
    n_in, H, n_out, T, B = 3, 4, 2, 5, 2
    params = {"W": 0.4 * rng.normal(size=(n_in + H, 4 * H)), "b": 0.1 * rng.normal(size=4 * H),
              "W_out": 0.4 * rng.normal(size=(H, n_out)), "b_out": np.zeros(n_out)}
    return [params, rng.normal(size=(T, B, n_in)), rng.normal(size=(T, B, n_out))]


HMM = '''
from scipy.special import logsumexp

def log_normalize(logits, axis):
    return logits - logsumexp(logits, axis=axis, keepdims=True)

def hmm_log_likelihood(trans_logits, emit_logits, init_logits, obs):
    log_A = log_normalize(trans_logits, 1)
    log_B = log_normalize(emit_logits, 1)
    log_pi = log_normalize(init_logits, 0)
    log_alpha = log_pi + log_B[:, obs[0]]
    for t in range(1, len(obs)):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, obs[t]]
    return logsumexp(log_alpha)
'''

GMM_STAR = '''
import scipy.stats as st
from scipy.special import logsumexp

def init_gmm_params(num_components, D, scale, rs):
    return {"log_proportions": rs.randn(num_components) * scale,
            "means": rs.randn(num_components, D) * scale,
            "lower_tris": np.zeros((num_components, D, D)) + np.eye(D)}

def log_normalize(x):
    return x - logsumexp(x)

def unpack_gmm_params(params):
    normalized_log_proportions = log_normalize(params["log_proportions"])
    return normalized_log_proportions, params["means"], params["lower_tris"]

def gmm_log_likelihood(params, data):
    cluster_lls = []
    for log_proportion, mean, cov_sqrt in zip(*unpack_gmm_params(params)):
        cov = np.dot(cov_sqrt.T, cov_sqrt)
        cluster_lls.append(log_proportion + st.multivariate_normal.logpdf(data, mean, cov))
    return np.sum(logsumexp(np.vstack(cluster_lls), axis=0))

def objective(params, data):
    return -gmm_log_likelihood(params, data)
'''

GMM = GMM_STAR.replace(
    "    for log_proportion, mean, cov_sqrt in zip(*unpack_gmm_params(params)):\n",
    "    log_proportions, means, cov_sqrts = unpack_gmm_params(params)\n"
    "    for log_proportion, mean, cov_sqrt in zip(log_proportions, means, cov_sqrts):\n")


def gmm_args(rng, ns):
    params = ns["init_gmm_params"](3, 2, 0.5, np.random.RandomState(0))
    params["lower_tris"] = params["lower_tris"] + 0.1 * rng.normal(size=(3, 2, 2))
    return [params, rng.normal(size=(8, 2))]


HEAT = '''
def simulate_heat(kappa, u0, nt, dt, dx):
    nx = u0.shape[0]
    u = np.zeros((nt + 1, nx))
    u[0, :] = u0
    r = kappa * dt / dx ** 2
    for n in range(nt):
        for i in range(1, nx - 1):
            u[n + 1, i] = u[n, i] + r * (u[n, i + 1] - 2 * u[n, i] + u[n, i - 1])
        u[n + 1, 0] = 0.0
        u[n + 1, nx - 1] = 0.0
    return u

def heat_loss(kappa, u0, target):
    u = simulate_heat(kappa, u0, 10, 0.001, 0.1)
    return np.sum((u[-1] - target) ** 2)
'''


def heat_exact(args, ns):
    """The scheme is linear in u0: u[-1] = M u0, with M the step matrix to the 10th power."""
    kappa, u0, target = args
    nx, r = len(u0), kappa * 0.001 / 0.1 ** 2
    step = np.zeros((nx, nx))
    for i in range(1, nx - 1):
        step[i, i - 1:i + 2] = [r, 1 - 2 * r, r]
    M = np.linalg.matrix_power(step, 10)
    return {"u0": 2 * M.T @ (M @ u0 - target)}


WAVE = '''
def wave_step(u, u_prev, c2):
    u_next = np.zeros_like(u)
    u_next[1:-1] = 2 * u[1:-1] - u_prev[1:-1] + c2 * (u[2:] - 2 * u[1:-1] + u[:-2])
    return u_next

def wave_energy(u0, c, steps=20):
    c2 = (c * 0.5) ** 2
    u_prev = u0.copy()
    u = u0.copy()
    for _ in range(steps):
        u_prev, u = u, wave_step(u, u_prev, c2)
    return np.sum(u ** 2) + np.sum((u - u_prev) ** 2)
'''

ODE_RK4 = '''
def rhs(t, y, params):
    alpha, beta, delta, gamma = params
    prey, predator = y
    return np.array([alpha * prey - beta * prey * predator,
                     delta * prey * predator - gamma * predator])

def rk4_step(t, y, dt, params):
    k1 = rhs(t, y, params)
    k2 = rhs(t + dt / 2, y + dt / 2 * k1, params)
    k3 = rhs(t + dt / 2, y + dt / 2 * k2, params)
    k4 = rhs(t + dt, y + dt * k3, params)
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

def integrate(params, y0, ts):
    ys = [y0]
    y = y0
    for i in range(len(ts) - 1):
        y = rk4_step(ts[i], y, ts[i + 1] - ts[i], params)
        ys.append(y)
    return np.stack(ys)

def fit_loss(params, y0, ts, observed):
    pred = integrate(params, y0, ts)
    return np.mean((pred - observed) ** 2)
'''

ODE_RK4_INDEXED = ODE_RK4.replace(
    "    alpha, beta, delta, gamma = params\n    prey, predator = y\n",
    "    alpha, beta, delta, gamma = params[0], params[1], params[2], params[3]\n"
    "    prey, predator = y[0], y[1]\n")


def ode_args(rng, ns):
    ts = np.linspace(0.0, 2.0, 11)
    params, y0 = np.array([1.1, 0.4, 0.1, 0.4]), np.array([10.0, 5.0])
    p, y, ys = params + 0.05, y0, [y0]  # the data: the same RK4, written out here
    f = lambda y: np.array([p[0] * y[0] - p[1] * y[0] * y[1], p[2] * y[0] * y[1] - p[3] * y[1]])
    for dt in np.diff(ts):
        k1 = f(y)
        k2 = f(y + dt / 2 * k1)
        k3 = f(y + dt / 2 * k2)
        k4 = f(y + dt * k3)
        y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ys.append(y)
    return [params, y0, ts, np.stack(ys) + 0.1 * rng.normal(size=(11, 2))]


ODE_EULER = '''
def rhs(t, y, params):
    k, c = params
    x, v = y
    return (v, -k * x - c * v + np.sin(t))

def euler_loss(params, x_obs, dt=0.05):
    y = (1.0, 0.0)
    t = 0.0
    loss = 0.0
    for n in range(len(x_obs)):
        dx, dv = rhs(t, y, params)
        y = (y[0] + dt * dx, y[1] + dt * dv)
        t = t + dt
        loss = loss + (y[0] - x_obs[n]) ** 2
    return loss
'''

BENCHMARKS = '''
def rosenbrock(x, a=1.0, b=100.0):
    return np.sum(b * (x[1:] - x[:-1] ** 2) ** 2 + (a - x[:-1]) ** 2)

def himmelblau(p):
    x, y = p
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2

def objective(z):
    return rosenbrock(z) + himmelblau(z[:2])
'''

BAYES_LINREG = '''
from scipy.stats import norm

_rs = np.random.RandomState(3)
X = _rs.randn(15, 3)
y = X @ np.array([0.5, -1.0, 2.0]) + 0.3 * _rs.randn(15)

def log_prior(w, log_sigma):
    return np.sum(norm.logpdf(w, 0.0, 1.0)) + norm.logpdf(log_sigma, loc=0.0, scale=2.0)

def log_likelihood(w, log_sigma, X, y):
    return np.sum(norm.logpdf(y, loc=X @ w, scale=np.exp(log_sigma)))

def log_posterior(params, X, y):
    w, log_sigma = params[:-1], params[-1]
    return log_prior(w, log_sigma) + log_likelihood(w, log_sigma, X, y)

objective = lambda params: -log_posterior(params, X, y)
'''


def bayes_linreg_exact(args, ns):
    (params,), X, y = args, ns["X"], ns["y"]
    w, log_sigma = params[:-1], params[-1]
    r = y - X @ w
    s2 = np.exp(2 * log_sigma)
    dw = -w + X.T @ r / s2
    dlog_sigma = -log_sigma / 4.0 - len(y) + np.sum(r ** 2) / s2
    return {"params": -np.r_[dw, dlog_sigma]}


SOFTMAX_CLASSIFIER = '''
ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": lambda x: np.tanh(x),
    "softplus": lambda x: np.logaddexp(0.0, x),
}

def softmax(z):
    z = z - np.max(z, axis=1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=1, keepdims=True)

def classifier_loss(params, X, labels, activation="softplus"):
    act = ACTIVATIONS[activation]
    h = act(X @ params["W1"] + params["b1"])
    probs = softmax(h @ params["W2"] + params["b2"])
    return -np.mean(np.log(probs[np.arange(len(labels)), labels]))
'''


def softmax_args(rng, ns):
    params = {"W1": 0.5 * rng.normal(size=(4, 6)), "b1": 0.1 * rng.normal(size=6),
              "W2": 0.5 * rng.normal(size=(6, 3)), "b2": np.zeros(3)}
    return [params, rng.normal(size=(7, 4)), rng.integers(0, 3, size=7)]


DROPOUT = '''
def dropout(x, rate, seed):
    np.random.seed(seed)
    mask = np.random.rand(*x.shape) > rate
    return x * mask / (1.0 - rate)

def mlp_dropout_loss(W1, W2, X, y, seed=0):
    h = dropout(np.tanh(X @ W1), 0.3, seed)
    pred = h @ W2
    return np.mean((pred - y) ** 2)
'''

NBODY = '''
def pairwise_distances(positions, softening):
    diff = positions[:, None, :] - positions[None, :, :]
    return np.sqrt(np.sum(diff ** 2, axis=-1) + softening ** 2)

def total_energy(positions, velocities, masses, G=1.0, softening=0.1):
    kinetic = 0.5 * np.sum(masses[:, None] * velocities ** 2)
    dist = pairwise_distances(positions, softening)
    n = len(masses)
    potential = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            potential = potential - G * masses[i] * masses[j] / dist[i, j]
    return kinetic + potential
'''

PORTFOLIO = '''
def portfolio_weights(logits):
    e = np.exp(logits - np.max(logits))
    return e / np.sum(e)

def mean_variance_objective(logits, returns, risk_aversion=3.0):
    w = portfolio_weights(logits)
    sigma = np.cov(returns, rowvar=False)
    mu = returns.mean(axis=0)
    return risk_aversion * w @ sigma @ w - mu @ w
'''


def portfolio_args(rng, ns):
    return [rng.normal(size=4), 0.01 * rng.normal(size=(30, 4))]


SOFT_KMEANS = '''
from scipy.special import softmax

def squared_distances(X, centroids):
    return np.sum((X[:, None, :] - centroids[None, :, :]) ** 2, axis=-1)

def soft_kmeans_loss(centroids, X, beta=2.0):
    d = squared_distances(X, centroids)
    resp = softmax(-beta * d, axis=1)
    return np.sum(resp * d) / X.shape[0]
'''

HARD_KMEANS = '''
def kmeans_loss(centroids, X):
    d = np.sum((X[:, None, :] - centroids[None]) ** 2, axis=2)
    assign = np.argmin(d, axis=1)
    return np.sum((X - centroids[assign]) ** 2)
'''


def hard_kmeans_exact(args, ns):
    centroids, X = args
    assign = np.argmin(np.sum((X[:, None, :] - centroids[None]) ** 2, axis=2), axis=1)
    g = np.zeros_like(centroids)
    np.add.at(g, assign, -2 * (X - centroids[assign]))
    return {"centroids": g}


# (id, source, function, args(rng, namespace), wrt, oracle)
CASES = [
    ("neural net, list of (W, b), recursive sum of squares", MLP, "objective", mlp_args,
     ("params",), None),
    ("logistic regression, L2, lambda objective", LOGREG, "objective",
     lambda rng, ns: [rng.normal(size=3)], (0,), AUTOGRAD),
    ("Gaussian process NLL: Cholesky, solve, slogdet", GP, "gp_nll",
     lambda rng, ns: [np.log(np.array([0.8, 1.2, 0.1])), rng.normal(size=(6, 2)),
                      rng.normal(size=6)], ("log_params", "X", "y"), AUTOGRAD),
    ("VAE ELBO, reparameterized with a RandomState made inside", VAE, "vae_lower_bound",
     vae_args, ("gen_params", "rec_params"), AUTOGRAD),
    ("LSTM over a sequence, cell helper, np.split gates", LSTM, "lstm_loss", lstm_args,
     ("params", "inputs"), AUTOGRAD),
    ("HMM forward pass in log space", HMM, "hmm_log_likelihood",
     lambda rng, ns: [rng.normal(size=(3, 3)), rng.normal(size=(3, 4)), rng.normal(size=3),
                      rng.integers(0, 4, size=7)],
     ("trans_logits", "emit_logits", "init_logits"), AUTOGRAD),
    ("Gaussian mixture, multivariate_normal.logpdf, zip of three names", GMM, "objective",
     gmm_args, ("params", "data"), AUTOGRAD),
    ("1-D heat equation filled in place, nested loops", HEAT, "heat_loss",
     lambda rng, ns: [0.5, np.sin(np.linspace(0, np.pi, 8)), 0.1 * rng.normal(size=8)],
     ("kappa", "u0"), heat_exact),
    ("1-D wave equation, slice writes, swapped buffers", WAVE, "wave_energy",
     lambda rng, ns: [np.exp(-(np.linspace(-1, 1, 9) * 3) ** 2), 0.9], ("u0", "c"), None),
    ("ODE fitted by RK4, rhs(t, y, params), parameters read by index", ODE_RK4_INDEXED,
     "fit_loss", ode_args, ("params", "y0"), AUTOGRAD),
    ("ODE by explicit Euler on a tuple state", ODE_EULER, "euler_loss",
     lambda rng, ns: [(2.0, 0.3), 0.5 * rng.normal(size=12)], ("params", "x_obs"), AUTOGRAD),
    ("Rosenbrock plus Himmelblau", BENCHMARKS, "objective",
     lambda rng, ns: [rng.normal(size=5)], (0,), AUTOGRAD),
    ("Bayesian linear regression, norm.logpdf, lambda objective", BAYES_LINREG, "objective",
     lambda rng, ns: [rng.normal(size=4)], (0,), bayes_linreg_exact),
    ("dropout with np.random.seed inside", DROPOUT, "mlp_dropout_loss",
     lambda rng, ns: [rng.normal(size=(4, 5)), rng.normal(size=(5, 2)),
                      rng.normal(size=(6, 4)), rng.normal(size=(6, 2))],
     ("W1", "W2", "X"), AUTOGRAD),
    ("N-body energy, pairwise distances", NBODY, "total_energy",
     lambda rng, ns: [rng.normal(size=(5, 3)), rng.normal(size=(5, 3)),
                      rng.uniform(0.5, 2.0, size=5)],
     ("positions", "velocities", "masses"), AUTOGRAD),
    ("portfolio mean-variance with np.cov, by the weights", PORTFOLIO,
     "mean_variance_objective", portfolio_args, ("logits",), AUTOGRAD),
    ("portfolio mean-variance with np.cov, by the weights and the returns", PORTFOLIO,
     "mean_variance_objective", portfolio_args, ("logits", "returns"), None),
    ("hard k-means: np.argmin(..., axis=1) assigns, indices repeat", HARD_KMEANS,
     "kmeans_loss", lambda rng, ns: [rng.normal(size=(3, 2)), rng.normal(size=(10, 2))],
     ("centroids",), hard_kmeans_exact),
    ("ODE fitted by RK4, `alpha, beta, delta, gamma = params` of an array", ODE_RK4,
     "fit_loss", ode_args, ("params", "y0"), AUTOGRAD),
    ("Himmelblau, `x, y = p` of the array differentiated", BENCHMARKS.split("def objective")[0],
     "himmelblau", lambda rng, ns: [np.array([1.0, 2.0])], (0,), AUTOGRAD),
    ("soft k-means, scipy.special.softmax", SOFT_KMEANS, "soft_kmeans_loss",
     lambda rng, ns: [rng.normal(size=(3, 2)), rng.normal(size=(10, 2))],
     ("centroids", "X"), None),
    ("softmax classifier, activation lambda looked up in a dict", SOFTMAX_CLASSIFIER,
     "classifier_loss", softmax_args, ("params", "X"), AUTOGRAD),
    ("Gaussian mixture, autograd's `zip(*unpack_gmm_params(params))`", GMM_STAR, "objective",
     gmm_args, ("params", "data"), AUTOGRAD),
]


def _autograd_gradients(src, fname, args, names, params):
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    src = (src.replace("from scipy.special", "from autograd.scipy.special")
           .replace("import scipy.stats as st", "import autograd.scipy.stats as st"))
    g = make_function(src, {"np": anp}, name=fname)
    return [autograd.grad(g, argnum=params.index(n))(*copy.deepcopy(args)) for n in names]


def _leaves(g):
    if isinstance(g, dict):
        return [leaf for k in sorted(g) for leaf in _leaves(g[k])]
    if isinstance(g, (list, tuple)):
        return [leaf for item in g for leaf in _leaves(item)]
    return [np.asarray(g, dtype=float)]


def _same(got, want):
    a, b = _leaves(got), _leaves(want)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("src, fname, build, wrt, oracle", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_gallery(src, fname, build, wrt, oracle, optimize):
    f = make_function(src, name=fname)
    args = build(np.random.default_rng(0), f.__globals__)
    got = check_grads(f, copy.deepcopy(args), wrt, optimize=optimize)
    params = list(f.__code__.co_varnames[:f.__code__.co_argcount])
    names = [params[w] if isinstance(w, int) else w for w in wrt]
    if oracle == AUTOGRAD:
        _same(got, _autograd_gradients(src, fname, args, names, params))
    elif oracle is not None:
        want = oracle(args, f.__globals__)
        for name, g in zip(names, got, strict=True):
            if name in want:
                _same(g, want[name])
