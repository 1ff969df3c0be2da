"""Hand-written `numba.njit` reverse-mode gradients of the jitted section's four workloads.

They are what the numba backend's gradient is measured beside: what an expert numba user writes
by hand for speed. The forward sweep records the state once per step in a preallocated 2-D tape
(no per-step allocation), the reverse sweep recomputes cheap intermediates (stage values,
stencil differences) from the tape instead of storing them, the inner loops are plain
contiguous loops LLVM can vectorize, and each entry is the njit function itself (no Python
wrapper). No fastmath: the arithmetic is IEEE as in the njit primal. Each takes the sample
function's arguments (same defaults) and returns the gradients in the order of the workload's
`wrt` (floats for scalars, arrays for arrays). Needs numba.
"""

import math

import numba
import numpy as np

# ---------------------------------------------------------------- Euler oscillator


@numba.njit
def euler_oscillator(k, c, x0=1.0, v0=0.0, dt=0.01, steps=1000):
    """d loss / d (k, c) of samples/euler_oscillator.py."""
    tape = np.empty((steps + 1, 2))  # (x, v) before each step
    x = x0
    v = v0
    tape[0, 0] = x
    tape[0, 1] = v
    for t in range(steps):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        tape[t + 1, 0] = x
        tape[t + 1, 1] = v
    k_bar = 0.0
    c_bar = 0.0
    x_bar = 0.0
    v_bar = 0.0
    two_dt = 2.0 * dt
    for t in range(steps, 0, -1):
        x_bar += two_dt * tape[t, 0]  # total += dt * x * x
        a_bar = dt * v_bar
        k_bar -= a_bar * tape[t - 1, 0]
        c_bar -= a_bar * tape[t - 1, 1]
        x_bar, v_bar = x_bar - k * a_bar, v_bar + dt * x_bar - c * a_bar
    return k_bar, c_bar


# ---------------------------------------------------------------- heat stencil


@numba.njit
def heat_loops(u0, kappa, target, steps=40):
    """d loss / d (u0, kappa) of samples/heat_loops.py."""
    n = u0.shape[0]
    tape = np.empty((steps + 1, n))  # the grid before each step
    tape[0, :] = u0
    for t in range(steps):
        u = tape[t]
        new = tape[t + 1]
        new[0] = u[0]
        new[n - 1] = u[n - 1]
        for i in range(1, n - 1):
            new[i] = u[i] + kappa * (u[i - 1] - 2.0 * u[i] + u[i + 1])
    g = np.empty(n)  # adjoint of the grid after the step being reversed
    h = np.empty(n)  # adjoint of the grid before it
    u = tape[steps]
    for i in range(n):
        g[i] = 2.0 * (u[i] - target[i])
    kappa_bar = 0.0
    for t in range(steps - 1, -1, -1):
        u = tape[t]
        for i in range(1, n - 1):
            kappa_bar += g[i] * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        # the boundary points are copied, not updated: they send no stencil adjoint
        g_first = g[0]
        g_last = g[n - 1]
        g[0] = 0.0
        g[n - 1] = 0.0
        for i in range(1, n - 1):
            h[i] = g[i] + kappa * (g[i - 1] - 2.0 * g[i] + g[i + 1])
        h[0] = g_first + kappa * g[1]
        h[n - 1] = g_last + kappa * g[n - 2]
        g, h = h, g
    return g, kappa_bar


# ---------------------------------------------------------------- n-body pairs


@numba.njit(error_model="numpy")  # no ZeroDivisionError branch: the loops vectorize
def nbody(pos, mass, eps=0.01):
    """d energy / d (pos, mass) of samples/nbody.py, one pass over the pairs (no tape).

    For each i, a first j loop computes 1 / r into a row buffer (contiguous coordinate arrays:
    vectorized sqrt and divide); a second takes the pair terms from it, summing the i side and
    scattering the j side into an (n, 4) gradient whose rows hold d/d(x, y, z, mass).
    """
    n = pos.shape[0]
    x = np.ascontiguousarray(pos[:, 0])
    y = np.ascontiguousarray(pos[:, 1])
    z = np.ascontiguousarray(pos[:, 2])
    g = np.zeros((n, 4))
    inv_r = np.empty(n)
    for i in range(n):
        xi, yi, zi, mi = x[i], y[i], z[i], mass[i]
        for j in range(i + 1, n):
            dx = xi - x[j]
            dy = yi - y[j]
            dz = zi - z[j]
            inv_r[j] = 1.0 / math.sqrt(dx * dx + dy * dy + dz * dz + eps)
        sx = sy = sz = sm = 0.0
        for j in range(i + 1, n):
            dx = xi - x[j]
            dy = yi - y[j]
            dz = zi - z[j]
            mj_r = mass[j] * inv_r[j]  # d(-mi mj / r) / d mi = -mj / r
            s = mi * mj_r * inv_r[j] * inv_r[j]  # d(-mi mj / r) / d(dx) = mi mj dx / r^3
            sx += s * dx
            sy += s * dy
            sz += s * dz
            sm += mj_r
            g[j, 0] -= s * dx
            g[j, 1] -= s * dy
            g[j, 2] -= s * dz
            g[j, 3] -= mi * inv_r[j]
        g[i, 0] += sx
        g[i, 1] += sy
        g[i, 2] += sz
        g[i, 3] -= sm
    return g[:, :3].copy(), g[:, 3].copy()


# ---------------------------------------------------------------- RK4 predator-prey


@numba.njit(inline="always")
def _rates(x, y, a, b, c, d):
    return a * x - b * x * y, d * x * y - c * y


@numba.njit(inline="always")
def _rates_bar(kx_bar, ky_bar, x, y, a, b, c, d, p_bar):
    """Reverse of _rates: the adjoints of x and y, and p_bar (those of a, b, c, d) plus this
    stage's part."""
    xy = x * y
    return (kx_bar * (a - b * y) + ky_bar * d * y, ky_bar * (d * x - c) - kx_bar * b * x,
            (p_bar[0] + kx_bar * x, p_bar[1] - kx_bar * xy, p_bar[2] - ky_bar * y,
             p_bar[3] + ky_bar * xy))


@numba.njit
def rk4(a, b, c, d, x0=1.0, y0=0.5, dt=0.01, steps=1000):
    """d loss / d (a, b, c, d) of samples/rk4.py: a (steps + 1, 2) tape of the state; the
    reverse sweep recomputes each step's stage states from it."""
    half, third, sixth = 0.5 * dt, dt / 3.0, dt / 6.0
    tape = np.empty((steps + 1, 2))
    x, y = x0, y0
    tape[0, 0], tape[0, 1] = x, y
    for t in range(steps):
        k1x, k1y = _rates(x, y, a, b, c, d)
        k2x, k2y = _rates(x + half * k1x, y + half * k1y, a, b, c, d)
        k3x, k3y = _rates(x + half * k2x, y + half * k2y, a, b, c, d)
        k4x, k4y = _rates(x + dt * k3x, y + dt * k3y, a, b, c, d)
        x = x + sixth * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
        y = y + sixth * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
        tape[t + 1, 0], tape[t + 1, 1] = x, y
    p_bar = (0.0, 0.0, 0.0, 0.0)  # adjoints of a, b, c, d
    x_bar = y_bar = 0.0  # adjoints of the state after the step being reversed
    for t in range(steps - 1, -1, -1):
        x_bar += 2.0 * dt * (tape[t + 1, 0] - 1.0)  # total += dt * ((x - 1)^2 + (y - 0.5)^2)
        y_bar += 2.0 * dt * (tape[t + 1, 1] - 0.5)
        x, y = tape[t, 0], tape[t, 1]  # recompute the stage states
        k1x, k1y = _rates(x, y, a, b, c, d)
        x2, y2 = x + half * k1x, y + half * k1y
        k2x, k2y = _rates(x2, y2, a, b, c, d)
        x3, y3 = x + half * k2x, y + half * k2y
        k3x, k3y = _rates(x3, y3, a, b, c, d)
        x4, y4 = x + dt * k3x, y + dt * k3y
        # stages 4 to 1: a stage state's adjoint feeds the previous stage's rates
        x4_bar, y4_bar, p_bar = _rates_bar(sixth * x_bar, sixth * y_bar, x4, y4, a, b, c, d,
                                           p_bar)
        x3_bar, y3_bar, p_bar = _rates_bar(third * x_bar + dt * x4_bar,
                                           third * y_bar + dt * y4_bar, x3, y3, a, b, c, d, p_bar)
        x2_bar, y2_bar, p_bar = _rates_bar(third * x_bar + half * x3_bar,
                                           third * y_bar + half * y3_bar, x2, y2, a, b, c, d,
                                           p_bar)
        x1_bar, y1_bar, p_bar = _rates_bar(sixth * x_bar + half * x2_bar,
                                           sixth * y_bar + half * y2_bar, x, y, a, b, c, d, p_bar)
        x_bar += x4_bar + x3_bar + x2_bar + x1_bar
        y_bar += y4_bar + y3_bar + y2_bar + y1_bar
    return p_bar


GRADIENTS = {"euler_oscillator": euler_oscillator, "heat_loops": heat_loops, "nbody": nbody,
             "rk4": rk4}
