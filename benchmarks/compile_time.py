"""Time for `adjoint.grad` to generate a gradient, against the size of the function.

The functions are synthetic but shaped like numeric code: n assignments, each one elementwise
operation or numpy call on earlier values, all of them active, then a sum. Each one is a fresh
function object (registered in linecache, as if it lived in a file) and adjoint's in-memory
cache is cleared before every run, so every figure is a full generation.
"""

from __future__ import annotations

import itertools
import linecache
import math
import statistics
import time

import numpy as np

SIZES = (10, 20, 50, 100, 200, 500, 1000, 2000)
QUICK_SIZES = (10, 50, 200)

_PATTERNS = (
    "t{i} = np.sin(t{a}) * y",
    "t{i} = t{a} + 0.5 * t{b}",
    "t{i} = np.tanh(t{a} - y)",
    "t{i} = t{a} * t{b} / (1.0 + t{a} ** 2)",
    "t{i} = np.exp(-t{a}) + np.log(1.0 + t{b} ** 2)",
)
_counter = itertools.count()


def synthetic_source(n: int) -> str:
    """A function of n statements (plus the return)."""
    lines = ["def synthetic(x, y):", "    t0 = x * y"]
    for i in range(1, n):
        lines.append("    " + _PATTERNS[i % len(_PATTERNS)].format(i=i, a=i - 1,
                                                                    b=max(i - 2, 0)))
    lines.append(f"    return np.sum(t{n - 1})")
    return "\n".join(lines) + "\n"


def synthetic_function(n: int):
    source = synthetic_source(n)
    filename = f"<adjoint-benchmark-{n}-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"np": np}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["synthetic"]


def clear_cache() -> None:
    """Empty adjoint's in-memory cache of compiled gradients."""
    import adjoint.api

    cache = getattr(adjoint.api, "_cache", None)
    if cache is not None:
        cache.clear()


def generation_time(n: int, repeats: int) -> float:
    """Median of `repeats` generations, or one when a generation is slow (over 2 s)."""
    import adjoint

    times = []
    for k in range(repeats):
        if k == 1 and times[0] > 2.0:
            break
        f = synthetic_function(n)
        clear_cache()
        start = time.perf_counter()
        adjoint.grad(f, wrt=("x", "y"))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(sizes=SIZES, repeats: int = 3, cap_s: float = 15.0) -> list[tuple[int, float | None]]:
    """(size, seconds) along `sizes`. A size whose time, extrapolated from the growth between
    the last two sizes, would exceed `cap_s` is not run (None), nor are the larger ones: this
    keeps the benchmark short while generation grows faster than linearly."""
    import adjoint

    adjoint.grad(synthetic_function(3))  # import-time and first-use costs are not the curve
    results: list[tuple[int, float | None]] = []
    for n in sizes:
        measured = [(m, t) for m, t in results if t is not None]
        predicted = 0.0
        if len(measured) == len(results) and measured:
            (n0, t0), (n1, t1) = measured[-2:] if len(measured) > 1 else (measured[0],) * 2
            growth = math.log(t1 / t0) / math.log(n1 / n0) if n1 != n0 else 1.0
            predicted = t1 * (n / n1) ** max(growth, 1.0)
        skip = len(measured) < len(results) or predicted > cap_s
        results.append((n, None if skip else generation_time(n, repeats)))
    return results


def table(results: list[tuple[int, float | None]]) -> str:
    """A markdown table with a bar per size (the curve) and the growth exponent between
    neighbouring sizes: 1 is linear, 2 quadratic."""
    measured = [(n, t) for n, t in results if t is not None]
    longest = max(t for _, t in measured)
    lines = ["| statements | time to generate | per statement | growth | |",
             "|---|---|---|---|---|"]
    previous = None
    for n, t in results:
        if t is None:
            lines.append(f"| {n} | not run: the growth so far predicts over the cap | | | |")
            continue
        growth = "" if previous is None else \
            f"n^{math.log(t / previous[1]) / math.log(n / previous[0]):.2f}"
        bar = "█" * max(1, round(30 * t / longest))
        lines.append(f"| {n} | {_ms(t)} | {t / n * 1e3:.2f} ms | {growth} | `{bar}` |")
        previous = (n, t)
    return "\n".join(lines)


def _ms(t: float) -> str:
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.1f} s"
