"""A Lotka-Volterra predator-prey system integrated with fixed-step fourth-order Runge-Kutta.

The loss is the time integral of the squared distance of the prey and predator populations to
an equilibrium; differentiate with respect to the rates a, b, c and d.
"""


def prey(x, y, a, b):
    return a * x - b * x * y


def predators(x, y, c, d):
    return d * x * y - c * y


def loss(a, b, c, d, x0=1.0, y0=0.5, dt=0.01, steps=1000):
    x = x0
    y = y0
    total = 0.0
    for _ in range(steps):
        k1x = prey(x, y, a, b)
        k1y = predators(x, y, c, d)
        k2x = prey(x + 0.5 * dt * k1x, y + 0.5 * dt * k1y, a, b)
        k2y = predators(x + 0.5 * dt * k1x, y + 0.5 * dt * k1y, c, d)
        k3x = prey(x + 0.5 * dt * k2x, y + 0.5 * dt * k2y, a, b)
        k3y = predators(x + 0.5 * dt * k2x, y + 0.5 * dt * k2y, c, d)
        k4x = prey(x + dt * k3x, y + dt * k3y, a, b)
        k4y = predators(x + dt * k3x, y + dt * k3y, c, d)
        x = x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
        y = y + dt / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
        total = total + dt * ((x - 1.0) ** 2 + (y - 0.5) ** 2)
    return total


def example(steps=1000):
    return 1.1, 0.4, 0.4, 0.1, 1.0, 0.5, 0.01, steps
