"""ADBench's Gaussian mixture model objective: a log-likelihood plus a Wishart prior.

Each component k has a weight alpha[k], a mean means[k] and a packed lower-triangular factor
icf[k] of its inverse covariance: the first D entries are the log of Q_k's diagonal, the rest
are Q_k's strictly-lower entries, column by column. For each point the objective takes a
log-sum-exp over the components. Differentiate with respect to alpha, means and icf; x, gamma
and m are data. The sign conventions are ADBench's (see data/adbench/README.md); on
data/adbench/gmm/test.txt the value is 8.07380408004975791.
"""

import math

import numpy as np
from adbench_io import read_gmm


def log_sum_exp(v):
    v_max = np.max(v)
    return v_max + np.log(np.sum(np.exp(v - v_max)))


def multigammaln(a, p):
    """log of the multivariate gamma function (scipy.special.multigammaln)."""
    out = 0.25 * p * (p - 1) * math.log(math.pi)
    for j in range(1, p + 1):
        out = out + math.lgamma(a + 0.5 * (1 - j))
    return out


def make_Qs(icf, d):
    """The K lower-triangular factors Q_k, filled entry by entry."""
    K = icf.shape[0]
    Qs = np.zeros((K, d, d))
    for k in range(K):
        for j in range(d):
            Qs[k, j, j] = np.exp(icf[k, j])
        pos = d
        for j in range(d):
            for i in range(j + 1, d):
                Qs[k, i, j] = icf[k, pos]
                pos = pos + 1
    return Qs


def log_wishart_prior(icf, d, gamma, m):
    K = icf.shape[0]
    n = d + m + 1
    sum_qs = np.sum(icf[:, :d], axis=1)
    diag = np.exp(icf[:, :d])
    frobenius = np.sum(diag ** 2, axis=1) + np.sum(icf[:, d:] ** 2, axis=1)
    out = np.sum(0.5 * gamma ** 2 * frobenius - m * sum_qs)
    C = n * d * (math.log(gamma) - 0.5 * math.log(2)) - multigammaln(0.5 * n, d)
    return out - K * C


def objective(alpha, means, icf, x, gamma, m):
    n, d = x.shape
    Qs = make_Qs(icf, d)
    sum_qs = np.sum(icf[:, :d], axis=1)
    total = 0.0
    for i in range(n):
        xc = x[i] - means
        Qxc = np.einsum("kij,kj->ki", Qs, xc)
        main = alpha + sum_qs - 0.5 * np.sum(Qxc ** 2, axis=1)
        total = total + log_sum_exp(main)
    constant = -0.5 * n * d * math.log(2 * math.pi)
    return (constant + total - n * log_sum_exp(alpha)
            + log_wishart_prior(icf, d, gamma, m))


def example(path=None):
    """The arguments of `objective` for ADBench's unit-test input (D=2, K=3, N=1)."""
    return read_gmm() if path is None else read_gmm(path)
