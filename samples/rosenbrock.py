"""The extended Rosenbrock function of More, Garbow and Hillstrom (1981), for even n:
the sum over pairs (x[2i], x[2i+1]) of 100 (x[2i+1] - x[2i]**2)**2 + (1 - x[2i])**2.

Written with slices, as one would for large n. It is 0 at x = (1, ..., 1); at the standard
starting point (-1.2, 1, -1.2, 1, ...) it is 24.2 per pair.
"""

import numpy as np


def rosenbrock(x):
    x_odd = x[0::2]
    x_even = x[1::2]
    a = x_even - x_odd ** 2
    b = 1 - x_odd
    return np.sum(100 * a ** 2 + b ** 2)


def example(n=10, seed=0):
    """A random point near the standard start (-1.2, 1, -1.2, 1, ...) in n dimensions."""
    rng = np.random.default_rng(seed)
    start = np.tile([-1.2, 1.0], n // 2)
    return (start + 0.1 * rng.normal(size=n),)
