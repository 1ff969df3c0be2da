"""A two-layer perceptron with tanh hidden units and a softmax cross-entropy loss."""

import numpy as np


def loss(W1, b1, W2, b2, X, labels):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    n = X.shape[0]
    picked = log_probs[np.arange(n), labels]
    return -np.mean(picked)


def example(seed=0, batch=32, d_in=8, d_hidden=16, d_out=4):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(d_in, d_hidden)) / np.sqrt(d_in)
    b1 = np.zeros(d_hidden)
    W2 = rng.normal(size=(d_hidden, d_out)) / np.sqrt(d_hidden)
    b2 = np.zeros(d_out)
    X = rng.normal(size=(batch, d_in))
    labels = rng.integers(0, d_out, size=batch)
    return W1, b1, W2, b2, X, labels
