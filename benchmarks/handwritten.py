"""Hand-written numpy gradients of the benchmark workloads: the reference to beat.

Each is what a careful person writes by hand for the primal as the sample states it: the
forward part performs the primal's own operations (same loops, same per-step numpy calls, so
the comparison measures the cost of differentiating, not a better primal), keeps what the
backward part needs and reuses it (tanh's result, the softmax weights), accumulates into arrays
it owns in place, and moves reductions and scatters that are linear out of loops. Each returns
the gradients in the order of the workload's `wrt`.
"""

import numpy as np

# ---------------------------------------------------------------- Euler oscillator


def euler_oscillator(k, c, x0=1.0, v0=0.0, dt=0.01, steps=1000):
    """d loss / d (k, c) of samples/euler_oscillator.py, with Python floats."""
    xs = [x0]
    vs = [v0]
    x = x0
    v = v0
    for _ in range(steps):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        xs.append(x)
        vs.append(v)
    k_bar = 0.0
    c_bar = 0.0
    x_bar = 0.0
    v_bar = 0.0
    two_dt = 2 * dt
    for t in range(steps, 0, -1):
        x_bar = x_bar + two_dt * xs[t]
        a_bar = dt * v_bar
        k_bar = k_bar - a_bar * xs[t - 1]
        c_bar = c_bar - a_bar * vs[t - 1]
        x_bar, v_bar = x_bar - k * a_bar, v_bar + dt * x_bar - c * a_bar
    return k_bar, c_bar


# ---------------------------------------------------------------- MLP


def mlp(W1, b1, W2, b2, X, labels):
    """d loss / d (W1, b1, W2, b2) of samples/mlp.py: softmax minus one-hot, then backprop."""
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    e = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    n = X.shape[0]
    logits_bar = e / (np.sum(e, axis=1, keepdims=True) * n)
    logits_bar[np.arange(n), labels] -= 1 / n
    W2_bar = h.T @ logits_bar
    b2_bar = np.sum(logits_bar, axis=0)
    z_bar = logits_bar @ W2.T
    z_bar *= 1 - h * h
    W1_bar = X.T @ z_bar
    b1_bar = np.sum(z_bar, axis=0)
    return W1_bar, b1_bar, W2_bar, b2_bar


# ---------------------------------------------------------------- Rosenbrock


def rosenbrock(x):
    """d f / d x of samples/rosenbrock.py."""
    x_odd = x[0::2]
    x_even = x[1::2]
    a_bar = x_even - x_odd ** 2
    a_bar *= 200
    g = np.empty_like(x)
    g[1::2] = a_bar
    t = x_odd * a_bar
    t -= x_odd
    t += 1
    t *= -2
    g[0::2] = t
    return (g,)


# ---------------------------------------------------------------- GMM


def _tril_by_columns(d):
    """Rows and columns of the strictly-lower entries of a d x d matrix, column by column."""
    cols, rows = np.triu_indices(d, 1)
    return rows, cols


def gmm(alpha, means, icf, x, gamma, m):
    """d f / d (alpha, means, icf) of samples/gmm.py. The loop over points computes each
    point's term and its softmax weights; the weight-times-outer-product sums are done once
    after the loop."""
    n, d = x.shape
    K = alpha.shape[0]
    diag = np.exp(icf[:, :d])
    rows, cols = _tril_by_columns(d)
    on_diag = np.arange(d)
    Qs = np.zeros((K, d, d))
    Qs[:, on_diag, on_diag] = diag
    Qs[:, rows, cols] = icf[:, d:]
    sum_qs = np.sum(icf[:, :d], axis=1)
    weights = np.empty((n, K))
    pQxcs = np.empty((n, K, d))
    xcs = np.empty((n, K, d))
    for i in range(n):
        xc = x[i] - means
        Qxc = np.einsum("kij,kj->ki", Qs, xc)
        main = alpha + sum_qs - 0.5 * np.sum(Qxc ** 2, axis=1)
        e = np.exp(main - np.max(main))
        p = e / np.sum(e)
        weights[i] = p
        pQxcs[i] = p[:, None] * Qxc
        xcs[i] = xc
    main_bar = np.sum(weights, axis=0)
    Qs_bar = -np.einsum("nki,nkj->kij", pQxcs, xcs, optimize=True)
    means_bar = np.einsum("kij,ki->kj", Qs, np.sum(pQxcs, axis=0))
    e_alpha = np.exp(alpha - np.max(alpha))
    alpha_bar = main_bar - n * e_alpha / np.sum(e_alpha)
    icf_bar = np.empty_like(icf)
    icf_bar[:, :d] = (main_bar[:, None] + Qs_bar[:, on_diag, on_diag] * diag
                      + gamma ** 2 * diag ** 2 - m)
    icf_bar[:, d:] = Qs_bar[:, rows, cols] + gamma ** 2 * icf[:, d:]
    return alpha_bar, means_bar, icf_bar


# ---------------------------------------------------------------- LSTM


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm(main_params, extra_params, state, sequence):
    """d loss / d (main_params, extra_params) of samples/lstm.py: the forward keeps each
    step's gates, the backward runs through time and layers in reverse."""
    n_chars, b = sequence.shape
    n_layers = state.shape[0] // 2
    in_w, out_w, out_b = extra_params
    hidden = [state[2 * i] for i in range(n_layers)]
    cell = [state[2 * i + 1] for i in range(n_layers)]
    tape = []
    for t in range(n_chars - 1):
        x = sequence[t] * in_w
        steps = []
        for i in range(n_layers):
            W = main_params[2 * i]
            B = main_params[2 * i + 1]
            h = hidden[i]
            c = cell[i]
            forget = _sigmoid(x * W[0:b] + B[0:b])
            ingate = _sigmoid(h * W[b:2 * b] + B[b:2 * b])
            outgate = _sigmoid(x * W[2 * b:3 * b] + B[2 * b:3 * b])
            change = np.tanh(h * W[3 * b:] + B[3 * b:])
            cell[i] = c * forget + ingate * change
            tanh_cell = np.tanh(cell[i])
            hidden[i] = outgate * tanh_cell
            steps.append((x, h, c, forget, ingate, outgate, change, tanh_cell))
            x = hidden[i]
        ypred = x * out_w + out_b
        e = np.exp(ypred)
        tape.append((steps, x, e / (2 + np.sum(e))))

    main_bar = np.zeros_like(main_params)
    out_w_bar = np.zeros(b)
    out_b_bar = np.zeros(b)
    in_w_bar = np.zeros(b)
    scale = -1 / ((n_chars - 1) * b)
    hidden_bar = [0.0] * n_layers
    cell_bar = [0.0] * n_layers
    for t in range(n_chars - 2, -1, -1):
        steps, x_top, softmax = tape[t]
        ynorm_bar = scale * sequence[t + 1]
        ypred_bar = ynorm_bar - np.sum(ynorm_bar) * softmax
        out_w_bar += ypred_bar * x_top
        out_b_bar += ypred_bar
        x_bar = ypred_bar * out_w
        for i in range(n_layers - 1, -1, -1):
            W = main_params[2 * i]
            x, h, c, forget, ingate, outgate, change, tanh_cell = steps[i]
            h_new_bar = x_bar + hidden_bar[i]
            c_new_bar = cell_bar[i] + h_new_bar * outgate * (1 - tanh_cell * tanh_cell)
            z_forget = c_new_bar * c * forget * (1 - forget)
            z_ingate = c_new_bar * change * ingate * (1 - ingate)
            z_outgate = h_new_bar * tanh_cell * outgate * (1 - outgate)
            z_change = c_new_bar * ingate * (1 - change * change)
            W_bar = main_bar[2 * i]
            B_bar = main_bar[2 * i + 1]
            W_bar[0:b] += z_forget * x
            W_bar[b:2 * b] += z_ingate * h
            W_bar[2 * b:3 * b] += z_outgate * x
            W_bar[3 * b:] += z_change * h
            B_bar[0:b] += z_forget
            B_bar[b:2 * b] += z_ingate
            B_bar[2 * b:3 * b] += z_outgate
            B_bar[3 * b:] += z_change
            cell_bar[i] = c_new_bar * forget
            hidden_bar[i] = z_ingate * W[b:2 * b] + z_change * W[3 * b:]
            x_bar = z_forget * W[0:b] + z_outgate * W[2 * b:3 * b]
        in_w_bar += x_bar * sequence[t]
    return main_bar, np.stack([in_w_bar, out_w_bar, out_b_bar])


# ---------------------------------------------------------------- bundle adjustment

_NEXT = np.array([1, 2, 0])
_PREV = np.array([2, 0, 1])


def _cross(a, b):
    """np.cross of two 3-vectors, without np.cross's per-call overhead."""
    return a[_NEXT] * b[_PREV] - a[_PREV] * b[_NEXT]


def bundle_adjustment(cams, X, w, obs, feats):
    """d objective / d (cams, X, w) of samples/bundle_adjustment.py. Each observation's
    residual is independent, so the loop computes it and its gradient together; the scatter
    into cameras and points is one np.add.at after the loop."""
    p = obs.shape[0]
    cam_bars = np.empty((p, 11))
    X_bars = np.empty((p, 3))
    w_bar = np.empty(p)
    for i in range(p):
        cam = cams[obs[i, 0]]
        r = cam[0:3]
        Xo = X[obs[i, 1]] - cam[3:6]
        theta2 = np.dot(r, r)
        rotated = theta2 != 0
        if rotated:
            theta = np.sqrt(theta2)
            v = r / theta
            cos_theta = np.cos(theta)
            sin_theta = np.sin(theta)
            v_cross_Xo = np.cross(v, Xo)
            v_dot_Xo = np.dot(v, Xo)
            Xc = Xo * cos_theta + v_cross_Xo * sin_theta + v * (v_dot_Xo * (1 - cos_theta))
        else:
            Xc = Xo + np.cross(r, Xo)
        u0 = Xc[0:2] / Xc[2]
        s = np.dot(u0, u0)
        distortion = 1 + cam[9] * s + cam[10] * s * s
        u = u0 * distortion
        err = u * cam[6] + cam[7:9] - feats[i]
        w_err = 1 - w[i] * w[i]
        # backward of 0.5 * (w^2 |err|^2 + w_err^2)
        proj_bar = w[i] * w[i] * err
        w_bar[i] = w[i] * np.dot(err, err) - 2 * w[i] * w_err
        cam_bar = cam_bars[i]
        cam_bar[7:9] = proj_bar
        cam_bar[6] = np.dot(proj_bar, u)
        u_bar = proj_bar * cam[6]
        distortion_bar = np.dot(u_bar, u0)
        cam_bar[9] = distortion_bar * s
        cam_bar[10] = distortion_bar * s * s
        s_bar = distortion_bar * (cam[9] + 2 * cam[10] * s)
        u0_bar = u_bar * distortion + 2 * s_bar * u0
        Xc_bar = np.empty(3)
        Xc_bar[0:2] = u0_bar / Xc[2]
        Xc_bar[2] = -np.dot(u0_bar, u0) / Xc[2]
        if rotated:
            Xo_bar = (Xc_bar * cos_theta + _cross(Xc_bar, v) * sin_theta
                      + v * (np.dot(Xc_bar, v) * (1 - cos_theta)))
            v_bar = (_cross(Xo, Xc_bar) * sin_theta + Xc_bar * (v_dot_Xo * (1 - cos_theta))
                     + Xo * (np.dot(Xc_bar, v) * (1 - cos_theta)))
            theta_bar = (-np.dot(Xc_bar, Xo) * sin_theta + np.dot(Xc_bar, v_cross_Xo) * cos_theta
                         + np.dot(Xc_bar, v) * v_dot_Xo * sin_theta)
            # v = r / theta and theta = |r|
            r_bar = (v_bar - np.dot(v_bar, v) * v) / theta + theta_bar * v
        else:
            Xo_bar = Xc_bar + _cross(Xc_bar, r)
            r_bar = _cross(Xo, Xc_bar)
        cam_bar[0:3] = r_bar
        cam_bar[3:6] = -Xo_bar
        X_bars[i] = Xo_bar
    cams_bar = np.zeros_like(cams)
    X_bar = np.zeros_like(X)
    np.add.at(cams_bar, obs[:, 0], cam_bars)
    np.add.at(X_bar, obs[:, 1], X_bars)
    return cams_bar, X_bar, w_bar
