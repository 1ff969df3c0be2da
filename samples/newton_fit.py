"""Newton's method on a loop: fit the stiffness and damping of an oscillator to a trajectory.

The misfit integrates x'' = -k x - c x' with explicit Euler steps in a Python loop and sums
the squared distance to the observed positions. Each Newton step solves with the Hessian of
the misfit (forward mode over its emitted gradient, through the loop) and its gradient.
"""

import numpy as np

import adjoint


def misfit(theta, observed, dt=0.05):
    k = theta[0]
    c = theta[1]
    x = 1.0
    v = 0.0
    total = 0.0
    for t in range(len(observed)):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        total = total + (x - observed[t]) ** 2
    return total * dt


def trajectory(k, c, steps=200, dt=0.05):
    """The positions the misfit's loop computes, for given k and c: the data to fit."""
    xs, x, v = [], 1.0, 0.0
    for _ in range(steps):
        x, v = x + dt * v, v + dt * (-k * x - c * v)
        xs.append(x)
    return np.array(xs)


def fit(theta, observed, iterations=10):
    """Newton's method: theta - H^-1 g until the step is below 1e-12."""
    gradient = adjoint.grad(misfit)
    hessian = adjoint.hessian(misfit)
    for _ in range(iterations):
        step = np.linalg.solve(hessian(theta, observed), gradient(theta, observed))
        theta = theta - step
        if np.max(np.abs(step)) < 1e-12:
            break
    return theta


def example():
    return np.array([2.5, 0.2]), trajectory(3.0, 0.4)
