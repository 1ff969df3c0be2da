"""A small regression network fitted by SciPy's trust-region Newton-CG method.

The loss has matrix products and four parameter arrays in a dict. `adjoint.flatten` turns
the dict into the one vector SciPy moves, `value_and_grad` gives the loss and its gradient
(`jac=True`), and `hvp` the Hessian-vector products `hessp` asks for (forward mode over the
emitted gradient), so no Hessian is ever formed.
"""

import numpy as np
import scipy.optimize

import adjoint


def loss(params, X, y, decay=1e-3):
    hidden = np.tanh(X @ params["W1"] + params["b1"])
    predicted = hidden @ params["W2"] + params["b2"]
    fit = 0.5 * np.mean((predicted - y) ** 2)
    return fit + decay * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))


def fit(params, X, y, method="trust-ncg"):
    """scipy.optimize.minimize over the flattened parameters; returns (params, result)."""
    theta, unflatten = adjoint.flatten(params)
    value_and_grad = adjoint.value_and_grad(loss)
    product = adjoint.hvp(loss)

    def fun(t):
        value, g = value_and_grad(unflatten(t), X, y)
        return value, adjoint.flatten(g)[0]

    def hessp(t, p):
        return adjoint.flatten(product(unflatten(t), X, y, params_dot=unflatten(p)))[0]

    result = scipy.optimize.minimize(fun, theta, jac=True, hessp=hessp, method=method)
    return unflatten(result.x), result


def example(n=200, hidden=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2]
    params = {"W1": 0.5 * rng.normal(size=(3, hidden)), "b1": np.zeros(hidden),
              "W2": 0.5 * rng.normal(size=hidden), "b2": 0.0}
    return params, X, y
