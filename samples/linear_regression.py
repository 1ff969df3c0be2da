"""Linear regression: mean squared error of a linear model with an L2 penalty."""

import numpy as np


def loss(w, b, X, y, lam=0.1):
    pred = X @ w + b
    resid = pred - y
    mse = np.mean(resid ** 2)
    return mse + lam * np.sum(w * w)


def example(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(64, 5))
    w = rng.normal(size=5)
    b = 0.3
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=64)
    return w, b, X, y
