"""Functional ports of the sample helpers that write into arrays in place.

autograd and JAX cannot trace `Q[i, j] = v` into an array (autograd's boxes do not go into a
plain ndarray, JAX arrays are immutable), so the tracing tools run the samples' own source with
these few helpers swapped in: the same operations, with the in-place writes replaced by building
arrays from lists, as ADBench's own autograd ports do. PyTorch runs the same ports, so the three
tracing tools differentiate identical code. Everything else is the samples' source, re-bound to
each tool's numpy-like namespace (see `tools.rebind`). With numpy, each port gives the same
values as the helper it replaces.
"""

import numpy as np


def make_Qs(icf, d):
    """gmm.make_Qs: each Q_k from its diagonal and its columns below the diagonal."""
    K = icf.shape[0]
    Qs = []
    for k in range(K):
        columns = []
        pos = d
        for j in range(d):
            below = d - j - 1
            columns.append(np.concatenate([np.zeros(j + 1), icf[k, pos:pos + below]]))
            pos = pos + below
        Qs.append(np.diag(np.exp(icf[k, :d])) + np.stack(columns, axis=1))
    return np.stack(Qs)


def residuals(cams, X, w, obs, feats):
    """bundle_adjustment.residuals, collecting each observation's residuals in lists."""
    p = obs.shape[0]
    reproj_err = []
    w_err = []
    for i in range(p):
        proj = project(cams[obs[i, 0]], X[obs[i, 1]])  # noqa: F821 (the sample's, re-bound)
        reproj_err.append(w[i] * (proj - feats[i]))
        w_err.append(1 - w[i] * w[i])
    return np.stack(reproj_err), np.stack(w_err)


def predict(main_params, extra_params, state, x):
    """lstm.predict, returning the new state as a list of rows."""
    new_state = []
    x = x * extra_params[0]
    for i in range(0, len(state), 2):
        hidden, cell = lstm_cell(  # noqa: F821 (the sample's, re-bound)
            main_params[i], main_params[i + 1], state[i], state[i + 1], x)
        new_state.append(hidden)
        new_state.append(cell)
        x = hidden
    return x * extra_params[1] + extra_params[2], new_state
