"""Potential energy of N particles with softened gravity, summed over pairs with a double loop.

Differentiate with respect to the positions (the forces, negated) and the masses.
"""

import math

import numpy as np


def energy(pos, mass, eps=0.01):
    n = pos.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            r = math.sqrt(dx * dx + dy * dy + dz * dz + eps)
            total = total - mass[i] * mass[j] / r
    return total


def example(n=64):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3)), rng.uniform(0.5, 1.5, n)
