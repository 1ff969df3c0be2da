"""Run one generated gradient file beside a finite-difference check.

`make demo` writes samples/generated/*_grad.py with the CLI, then runs this.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np

here = Path(__file__).parent
sys.path.insert(0, str(here))

import mlp  # noqa: E402


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def central_difference(f, args, k, eps=1e-6):
    """d f / d args[k], one entry at a time."""
    x = np.array(args[k], dtype=float)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        for sign in (1, -1):
            xs = x.copy()
            xs[i] += sign * eps
            out[i] += sign * f(*args[:k], xs, *args[k + 1:]) / (2 * eps)
    return out


generated = load(here / "generated" / "mlp_grad.py")
args = mlp.example(batch=16, d_in=4, d_hidden=5, d_out=3)
grads = generated.grad_loss(*args)
print(f"loss = {mlp.loss(*args):.6f}")
print(f"{'parameter':<10}{'shape':<10}{'adjoint[0]':>16}{'finite diff[0]':>18}{'max |diff|':>14}")
for k, (name, g) in enumerate(zip(["W1", "b1", "W2", "b2"], grads, strict=True)):
    numeric = central_difference(mlp.loss, list(args), k)
    print(f"{name:<10}{str(np.shape(g)):<10}{np.ravel(g)[0]:>16.8f}{np.ravel(numeric)[0]:>18.8f}"
          f"{np.max(np.abs(g - numeric)):>14.2e}")


def seconds(call, repeat=5):
    """The best of `repeat` timings of call(), in seconds."""
    import time

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


# The point of the reverse sweep: one sweep gives every partial derivative, where finite
# differences need one evaluation per parameter (and two for central differences).
big = mlp.example(batch=64, d_in=20, d_hidden=40, d_out=10)
n = sum(np.size(a) for a in big[:4])
primal = seconds(lambda: mlp.loss(*big))
reverse = seconds(lambda: generated.grad_loss(*big))


def forward_differences(f, args, eps=1e-6):
    """Every partial derivative by forward differences: n + 1 evaluations."""
    base = f(*args)
    out = []
    for k in range(4):
        x = np.array(args[k], dtype=float)
        d = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            xs = x.copy()
            xs[i] += eps
            d[i] = (f(*args[:k], xs, *args[k + 1:]) - base) / eps
        out.append(d)
    return out


differences = seconds(lambda: forward_differences(mlp.loss, list(big)), repeat=1)
print(f"\ncost of all {n} partial derivatives of the loss, measured (one evaluation: "
      f"{primal * 1e6:.0f} us)")
print(f"  reverse sweep (grad_loss)       {reverse * 1e3:9.3f} ms  = "
      f"{reverse / primal:6.1f} evaluations")
print(f"  finite differences (n + 1)      {differences * 1e3:9.3f} ms  = "
      f"{differences / primal:6.0f} evaluations ({n + 1} calls)")
