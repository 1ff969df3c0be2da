"""A damped oscillator x'' = -k x - c x', integrated with explicit Euler steps of Python floats.

The loss is the time integral of x**2 along the trajectory (a Riemann sum), a smooth function of
the stiffness k and the damping c. Differentiate with respect to k and c.
"""


def loss(k, c, x0=1.0, v0=0.0, dt=0.01, steps=1000):
    x = x0
    v = v0
    total = 0.0
    for _ in range(steps):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        total = total + dt * x * x
    return total


def example(steps=1000):
    return 2.0, 0.3, 1.0, 0.0, 0.01, steps
