"""The real root of x**3 + a*x = b (a > 0), found by Newton's method in a while loop.

Differentiating through the iterations gives the derivative of the root with respect to
a and b: at convergence it matches the implicit-function theorem, dx/da = -x / (3x^2 + a)
and dx/db = 1 / (3x^2 + a).
"""


def root(a, b, tol=1e-12):
    x = b / (1.0 + a)
    step = 1.0
    while abs(step) > tol:
        f = x ** 3 + a * x - b
        slope = 3.0 * x ** 2 + a
        step = f / slope
        x = x - step
    return x


def example():
    return 2.0, 5.0
