"""Peak memory of adjoint's gradient against the primal, for loops of n iterations that
overwrite an array (measured with tracemalloc, which sees numpy's allocations).

Three loops, each over an array of 10,000 floats (78 KiB):
- `nonlinear`: x = np.sin(x) * 0.9. The reverse sweep needs every overwritten x (for cos(x)),
  so the tape must grow by one array per iteration, and by nothing else.
- `linear`: x = 0.9 * x + 1.0. The reverse sweep needs none of the overwritten values: the
  gradient should take constant memory, whatever n.
- `rows`: y[i] = np.sin(y[i - 1]) * 0.9 + x[i], filling the rows of a (n, 1000) array in place.
  Each row is written once and no adjoint reads an overwritten row, so nothing needs saving;
  the gradient needs y, x and their adjoints: about twice the primal.
"""

from __future__ import annotations

import itertools
import linecache
import tracemalloc

import numpy as np

SIZE = 10_000
ROW = 1_000
NS = (10, 100, 1000)
QUICK_NS = (10, 100)

_SOURCES = {
    "nonlinear": """
def nonlinear(x, n):
    for _ in range(n):
        x = np.sin(x) * 0.9
    return np.sum(x)
""",
    "linear": """
def linear(x, n):
    for _ in range(n):
        x = 0.9 * x + 1.0
    return np.sum(x)
""",
    "rows": """
def rows(x, n):
    y = np.zeros_like(x)
    for i in range(1, n):
        y[i] = np.sin(y[i - 1]) * 0.9 + x[i]
    return np.sum(y)
""",
}
_counter = itertools.count()


def loop_function(name: str):
    source = _SOURCES[name].lstrip()
    filename = f"<adjoint-memory-{name}-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"np": np}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def peak_bytes(f, *args) -> int:
    """Peak traced allocation during `f(*args)`, above what was allocated before it."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    f(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - before


def run(ns=NS) -> list[dict]:
    import adjoint

    out = []
    for name in _SOURCES:
        f = loop_function(name)
        gradient = adjoint.grad(f, wrt="x")
        for n in ns:
            x = np.random.default_rng(0).normal(size=(n, ROW) if name == "rows" else SIZE)
            gradient(x, n)  # warm up
            out.append({"loop": name, "n": n, "array": x.nbytes if name != "rows" else
                        ROW * 8, "primal": peak_bytes(f, x, n),
                        "gradient": peak_bytes(gradient, x, n)})
    return out


def _kib(b: float) -> str:
    return f"{b / 1024:,.0f} KiB"


def table(results: list[dict]) -> str:
    lines = ["| loop | n | primal peak | gradient peak | gradient ÷ primal | growth per iteration "
             "| array / row |", "|---|---|---|---|---|---|---|"]
    previous = {}
    for r in results:
        growth = ""
        if r["loop"] in previous:
            n0, g0 = previous[r["loop"]]
            growth = _kib((r["gradient"] - g0) / (r["n"] - n0))
        previous[r["loop"]] = (r["n"], r["gradient"])
        lines.append(f"| {r['loop']} | {r['n']} | {_kib(r['primal'])} | {_kib(r['gradient'])} | "
                     f"{r['gradient'] / max(r['primal'], 1):.1f} | {growth} | "
                     f"{_kib(r['array'])} |")
    return "\n".join(lines)
