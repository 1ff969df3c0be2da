"""A map from R^n to R^n with a loop: the state of a network of n coupled units after a few
explicit Euler steps of y' = tanh(A y) - y + x, started from y = x.

The input x drives every step, so the Jacobian d y / d x is dense: a square map, where neither
forward mode (one sweep per input) nor reverse mode (one per output) has fewer sweeps.
"""

import numpy as np


def flow(x, A, dt=0.1, steps=10):
    y = x
    for _ in range(steps):
        y = y + dt * (np.tanh(A @ y) - y + x)
    return y


def example(n=100, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n)) / np.sqrt(n)
    x = rng.normal(size=n)
    return x, A
