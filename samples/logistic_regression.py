"""Logistic regression: binary cross-entropy, written with a stable log-sigmoid."""

import numpy as np


def loss(w, b, X, y):
    logits = X @ w + b
    # log(sigmoid(z)) = -log(1 + exp(-z)), and log(1 - sigmoid(z)) = -z - log(1 + exp(-z))
    log_p = -np.log1p(np.exp(-logits))
    log_q = -logits + log_p
    nll = -(y * log_p + (1 - y) * log_q)
    return np.mean(nll)


def example(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(100, 4))
    w = 0.5 * rng.normal(size=4)
    b = -0.2
    y = (rng.uniform(size=100) < 0.5).astype(float)
    return w, b, X, y
