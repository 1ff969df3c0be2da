"""The benchmark workloads: each sample function, its arguments, `wrt`, and its hand-written
gradient; plus, for the tracing tools, the sample's functions with the in-place helpers swapped
for their functional ports."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
if str(SAMPLES) not in sys.path:
    sys.path.insert(0, str(SAMPLES))

import adbench_io  # noqa: E402
import bundle_adjustment  # noqa: E402
import euler_oscillator  # noqa: E402
import gmm  # noqa: E402
import lstm  # noqa: E402
import mlp  # noqa: E402
import rosenbrock  # noqa: E402

from . import handwritten, ports  # noqa: E402


@dataclass
class Workload:
    name: str
    title: str
    function: Callable  # the sample's primal, plain numpy
    wrt: tuple[str, ...]
    make_args: Callable[[int], tuple]  # problem size -> arguments of `function`
    size: int  # the problem size benchmarked
    unit: str  # what the size counts
    hand: Callable  # hand-written gradient, same arguments, returns a tuple in wrt order
    peer_functions: list[Callable] = field(default_factory=list)  # re-bound for tracing tools
    quick_size: int | None = None  # the problem size of --quick runs
    sizes: dict[str, int] = field(default_factory=dict)  # smaller problems for slow tools
    no_jit: str | None = None  # why JAX jit is not run, if it is not

    def size_for(self, tool: str, quick: bool) -> int:
        """The problem size `tool` runs at: the benchmark's, unless the workload gives the tool
        a smaller one (it is too slow otherwise) or the run is --quick."""
        candidates = [self.size, self.sizes.get(tool), self.quick_size if quick else None]
        return min(s for s in candidates if s is not None)

    @property
    def positions(self) -> tuple[int, ...]:
        names = self.function.__code__.co_varnames[:self.function.__code__.co_argcount]
        return tuple(names.index(w) for w in self.wrt)


def _functions(module) -> list[Callable]:
    return [v for v in vars(module).values()
            if callable(v) and getattr(v, "__module__", None) == module.__name__
            and v.__name__ != "example"]


def _ported(module, *replacements) -> list[Callable]:
    names = {f.__name__ for f in replacements}
    return [f for f in _functions(module) if f.__name__ not in names] + list(replacements)


def _ba_args(size):
    cams, X, w, obs, feats = adbench_io.read_ba(
        adbench_io.DATA / "ba" / "ba1_n49_m7776_p31843.txt")
    return cams, X, w[:size], obs[:size], feats[:size]


def _gmm_args(size):
    alpha, means, icf, x, gamma, m = adbench_io.read_gmm(
        adbench_io.DATA / "gmm" / "1k" / "gmm_d10_K25.txt")
    return alpha, means, icf, x[:size], gamma, m


def _mlp_args(size):
    return mlp.example(batch=size, d_in=64, d_hidden=128, d_out=10)


def all_workloads() -> list[Workload]:
    return [
        Workload("scalar_loop", "Euler oscillator, scalar floats", euler_oscillator.loss,
                 ("k", "c"), lambda size: euler_oscillator.example(steps=size), 1000, "steps",
                 handwritten.euler_oscillator, [euler_oscillator.loss], quick_size=100,
                 sizes={"JAX": 250, "JAX jit": 250}),
        Workload("mlp", "MLP 64-128-10", mlp.loss, ("W1", "b1", "W2", "b2"), _mlp_args, 256,
                 "examples", handwritten.mlp, [mlp.loss]),
        Workload("gmm", "GMM d=10 K=25 (ADBench)", gmm.objective, ("alpha", "means", "icf"),
                 _gmm_args, 1000, "points", handwritten.gmm, _ported(gmm, ports.make_Qs),
                 quick_size=20, sizes={"JAX": 20, "JAX jit": 20}),
        Workload("rosenbrock_1e4", "extended Rosenbrock", rosenbrock.rosenbrock, ("x",),
                 lambda size: rosenbrock.example(n=size), 10_000, "variables",
                 handwritten.rosenbrock, [rosenbrock.rosenbrock]),
        Workload("rosenbrock_1e6", "extended Rosenbrock", rosenbrock.rosenbrock, ("x",),
                 lambda size: rosenbrock.example(n=size), 1_000_000, "variables",
                 handwritten.rosenbrock, [rosenbrock.rosenbrock], quick_size=100_000),
        Workload("lstm", "LSTM, 2 layers (ADBench l2)", lstm.objective,
                 ("main_params", "extra_params"), lambda size: lstm.example(steps=size), 20,
                 "steps", handwritten.lstm, _ported(lstm, ports.predict), quick_size=4,
                 sizes={"JAX jit": 5}),
        Workload("ba", "bundle adjustment (ADBench ba1)", bundle_adjustment.objective,
                 ("cams", "X", "w"), _ba_args, 31_843, "observations",
                 handwritten.bundle_adjustment, _ported(bundle_adjustment, ports.residuals),
                 quick_size=50, sizes={"autograd": 250, "PyTorch": 500, "JAX": 25},
                 no_jit="jit would unroll the per-observation loop"),
    ]
