"""The heat equation of heat.py written with element loops, as numba code is written.

Each explicit step updates the interior points one at a time from the previous grid; the loss
is the squared distance of the final grid to a target. Differentiate with respect to the
initial temperature u0 and the diffusivity kappa.
"""

import numpy as np


def loss(u0, kappa, target, steps=40):
    n = u0.shape[0]
    u = u0.copy()
    for t in range(steps):
        new = u.copy()
        for i in range(1, n - 1):
            new[i] = u[i] + kappa * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = new
    total = 0.0
    for i in range(n):
        d = u[i] - target[i]
        total = total + d * d
    return total


def example(n=64):
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-50.0 * (x - 0.3) ** 2)
    target = np.exp(-20.0 * (x - 0.5) ** 2) * 0.5
    return u0, 0.2, target
