"""Explicit finite differences for the heat equation, updating the grid in place.

The loss compares the final temperature with a target; differentiate with respect to the
initial temperature u0 and the diffusivity kappa.
"""

import numpy as np


def loss(u0, kappa, target, steps=40):
    u = u0.copy()
    for t in range(steps):
        lap = u[:-2] - 2.0 * u[1:-1] + u[2:]
        u[1:-1] += kappa * lap
        u[0] = u[1]
        u[-1] = u[-2]
    return np.sum((u - target) ** 2)


def example(n=32):
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-50.0 * (x - 0.3) ** 2)
    target = np.exp(-20.0 * (x - 0.5) ** 2) * 0.5
    return u0, 0.2, target
