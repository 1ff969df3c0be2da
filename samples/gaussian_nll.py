"""Negative log-likelihood of data under a Gaussian with learned mean and log-scale."""

import math

import numpy as np


def nll(mu, log_sigma, x):
    sigma = np.exp(log_sigma)
    z = (x - mu) / sigma
    n = len(x)
    return 0.5 * np.sum(z ** 2) + n * log_sigma + 0.5 * n * math.log(2 * math.pi)


def example(seed=0):
    rng = np.random.default_rng(seed)
    x = 1.5 + 0.7 * rng.normal(size=200)
    return 1.0, 0.1, x
