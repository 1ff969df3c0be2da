"""The numba backend on element-loop programs: the njit primal, adjoint's njit gradient, a
hand-written njit gradient (handjit.py), the NumPy backend's (Python) gradient of the same code,
and numba's compile time of the gradient.

The workloads are the samples written with element loops as numba users write them (their
helpers njit-compiled too, so the primal is all numba). Run: `python -m benchmarks
--sections jitted` (needs numba).
"""

from __future__ import annotations

import importlib
import statistics
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

SAMPLES = Path(__file__).parent.parent / "samples"

# (label, sample module, function, wrt, example() arguments: full size and quick)
WORKLOADS = (
    ("euler oscillator (1000 steps)", "euler_oscillator", "loss", ("k", "c"), (1000,), (200,)),
    ("heat stencil (64 points, 40 steps)", "heat_loops", "loss", ("u0", "kappa"), (64,), (16,)),
    ("n-body pairs (64 bodies)", "nbody", "energy", ("pos", "mass"), (64,), (16,)),
    ("RK4 predator-prey (1000 steps)", "rk4", "loss", ("a", "b", "c", "d"), (1000,), (200,)),
)


@dataclass
class Row:
    label: str
    primal: float  # seconds per call
    gradient: float
    hand: float  # the hand-written njit gradient
    python: float
    compile: float


def _sample(name: str):
    """The sample module `name` (samples/<name>.py)."""
    if str(SAMPLES) not in sys.path:
        sys.path.insert(0, str(SAMPLES))
    return importlib.import_module(name)


def _jitted_module(name: str):
    """The sample module with its functions njit-compiled (each call among them is numba)."""
    import numba

    module = _sample(name)
    jitted = types.SimpleNamespace(example=module.example)
    for key, value in vars(module).items():
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__ \
                and key != "example":
            setattr(module, key, numba.njit(value))
            setattr(jitted, key, getattr(module, key))
    return module, jitted


def _time(fn, args, rounds: int, min_time: float) -> float:
    """Median over rounds of the mean time per call (calls repeated for min_time)."""
    fn(*args)
    samples = []
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while True:
            fn(*args)
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        samples.append(elapsed / count)
    return statistics.median(samples)


def run(quick: bool = False, rounds: int = 5, min_time: float = 0.1, log=print) -> list[Row]:
    import numpy as np

    import adjoint

    from .handjit import GRADIENTS

    rows = []
    for label, name, fname, wrt, full, small in WORKLOADS:
        module, jitted = _jitted_module(name)
        primal = getattr(jitted, fname)
        args = module.example(*(small if quick else full))
        gradient = adjoint.grad(primal, wrt=wrt)
        start = time.perf_counter()
        got = gradient(*args)  # numba compiles on the first call
        took = time.perf_counter() - start
        python = adjoint.grad(primal.py_func, wrt=wrt)
        hand = GRADIENTS[name]
        for a, b, c in zip(got, python(*args), hand(*args), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(c, b, rtol=1e-9, atol=1e-12)
        rows.append(Row(label, _time(primal, args, rounds, min_time),
                        _time(gradient, args, rounds, min_time),
                        _time(hand, args, rounds, min_time),
                        _time(python, args, rounds, min_time if not quick else 0.0), took))
        log(f"  {label}: done")
    return rows


def table(rows: list[Row]) -> str:
    out = ["| workload | njit primal | numba gradient | gradient / primal | hand-written njit "
           "| hand / primal | Python gradient | Python / numba | numba compile |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r.label} | {r.primal * 1e6:.1f} us | {r.gradient * 1e6:.1f} us | "
                   f"{r.gradient / r.primal:.1f}x | {r.hand * 1e6:.1f} us | "
                   f"{r.hand / r.primal:.1f}x | {r.python * 1e3:.2f} ms | "
                   f"{r.python / r.gradient:.0f}x | {r.compile:.1f} s |")
    return "\n".join(out)


def section(quick: bool = False, log=print) -> str:
    try:
        import numba  # noqa: F401
    except ImportError:
        return "### numba backend\n\nSkipped: numba is not installed (pip install numba)."
    rows = run(quick, rounds=1 if quick else 5, min_time=0.0 if quick else 0.1, log=log)
    return ("### numba backend: gradient time / njit primal time\n\n"
            "adjoint.grad of an njit function (element loops); hand-written njit: "
            "benchmarks/handjit.py, a reverse sweep written by hand for speed; the Python "
            "gradient is the NumPy backend's code for the same function. Compile: the "
            "gradient's first call (numba's cache of earlier runs may shorten it).\n\n"
            + table(rows))
