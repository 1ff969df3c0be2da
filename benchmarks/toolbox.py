"""The derivative toolbox beyond the gradient, timed as the gradients are (ratios.py): each
result checked first, then timed in interleaved rounds against the primal, medians of ratios.

- jvp ÷ primal: `adjoint.jvp` along one random tangent, checked against the hand-written
  gradient dotted with that tangent.
- hvp ÷ gradient: `adjoint.hvp` (forward over reverse) along the same tangent, against
  `adjoint.grad` on the same workload; checked against a five-point central difference of the
  hand-written gradient along the tangent. The goal is at most 3.
- The Jacobian of a 100-to-100 map with a loop (samples/jacobian_map.py): adjoint's three
  modes, a hand-written forward recurrence, `jax.jacfwd` and `jax.jacrev` (jitted and not)
  and `torch.func.jacfwd` and `torch.func.jacrev`, each checked against adjoint's reverse-mode
  Jacobian (of its unoptimized code, so the timed tools generate their own).
"""

from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np

from . import handwritten, ratios
from . import tools as tools_
from .workloads import SAMPLES, Workload, all_workloads

if str(SAMPLES) not in sys.path:
    sys.path.insert(0, str(SAMPLES))

import euler_oscillator  # noqa: E402
import jacobian_map  # noqa: E402
import logistic_regression  # noqa: E402

HVP_GOAL = 3.0
FD_STEP = 1e-4  # of the five-point difference that checks H v
SLOW_S = 1.0


# ---------------------------------------------------------------- workloads


def _logistic_args(size):
    """`size` examples of 20 features, drawn as the sample's example() draws its 100 of 4."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(size, 20))
    w = 0.5 * rng.normal(size=20)
    y = (rng.uniform(size=size) < 0.5).astype(float)
    return w, -0.2, X, y


def logistic_gradient(w, b, X, y):
    """d loss / d (w, b) of samples/logistic_regression.py, by hand."""
    p = 1 / (1 + np.exp(-(X @ w + b)))
    r = (p - y) / y.shape[0]
    return X.T @ r, float(np.sum(r))


def flow_jacobian(x, A, dt=0.1, steps=10):
    """d flow / d x of samples/jacobian_map.py, by hand: the Jacobian carried along the
    steps (a matrix product per step where the primal has a matrix-vector product)."""
    y = x
    eye = np.eye(x.shape[0])
    J = eye
    for _ in range(steps):
        t = np.tanh(A @ y)
        J = J + dt * ((1 - t ** 2)[:, None] * (A @ J) - J + eye)
        y = y + dt * (t - y + x)
    return (J,)


def adjoint_jacobian(*args):
    """The reference of the Jacobian table: adjoint's reverse mode on its unoptimized code."""
    import adjoint

    return adjoint.jacobian(jacobian_map.flow, wrt=("x",), mode="reverse", optimize=False)(*args)


def derivative_workloads() -> list[Workload]:
    """The workloads of the jvp and hvp tables: the Euler loop called with its defaults as
    users call it, loss(k, c); the gradient benchmark's workloads but bundle adjustment; and
    logistic regression."""
    kept = ("mlp", "rosenbrock_1e4", "rosenbrock_1e6", "lstm", "gmm")
    by_name = {w.name: w for w in all_workloads()}
    euler = Workload("scalar_loop", "Euler oscillator, scalar floats, loss(k, c)",
                     euler_oscillator.loss, ("k", "c"), lambda size: (2.0, 0.3), 1000,
                     "steps", handwritten.euler_oscillator, [euler_oscillator.loss])
    logistic = Workload("logistic_regression", "logistic regression, 20 features",
                        logistic_regression.loss, ("w", "b"), _logistic_args, 10_000,
                        "examples", logistic_gradient, [logistic_regression.loss],
                        quick_size=1_000)
    return [euler, *(by_name[n] for n in kept), logistic]


def jacobian_workload() -> Workload:
    return Workload("jacobian_map", "y' = tanh(A y) - y + x, 10 Euler steps",
                    jacobian_map.flow, ("x",), lambda size: jacobian_map.example(n=size), 100,
                    "inputs and outputs", adjoint_jacobian, [jacobian_map.flow], quick_size=20)


# ---------------------------------------------------------------- references


def tangents(workload: Workload, args: tuple) -> dict:
    """One tangent direction, `<param>_dot=` for each parameter in wrt: normal draws of each
    argument's shape (the same for the same arguments)."""
    rng = np.random.default_rng(1)
    out = {}
    for name, p in zip(workload.wrt, workload.positions, strict=True):
        a = args[p]
        out[f"{name}_dot"] = rng.normal(size=a.shape) if isinstance(a, np.ndarray) \
            else float(rng.normal())
    return out


def jvp_reference(workload: Workload) -> Workload:
    """`workload` whose reference is J v: the hand-written gradient dotted with the tangent."""
    def hand(*args):
        dots = tangents(workload, args)
        grads = workload.hand(*args)
        return (sum(float(np.vdot(g, dots[f"{n}_dot"]))
                    for g, n in zip(grads, workload.wrt, strict=True)),)
    return dataclasses.replace(workload, hand=hand)


def hvp_reference(workload: Workload) -> Workload:
    """`workload` whose reference is H v: a five-point central difference of the hand-written
    gradient along the tangent (error of order FD_STEP**4)."""
    def hand(*args):
        dots = tangents(workload, args)

        def gradient_at(t):
            moved = list(args)
            for n, p in zip(workload.wrt, workload.positions, strict=True):
                moved[p] = args[p] + t * dots[f"{n}_dot"]
            return [np.asarray(g, dtype=float) for g in workload.hand(*moved)]

        h = FD_STEP
        g2, g1, m1, m2 = (gradient_at(t) for t in (2 * h, h, -h, -2 * h))
        return tuple((8 * (b - c) - (a - d)) / (12 * h)
                     for a, b, c, d in zip(g2, g1, m1, m2, strict=True))
    return dataclasses.replace(workload, hand=hand)


# ---------------------------------------------------------------- tools


def _adjoint_version():
    return tools_.Adjoint().version()


def _unavailable(e: Exception) -> tools_.Unavailable:
    """What adjoint refused, with the whole first line of its message."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return tools_.Unavailable(f"{type(e).__name__}: {first}")


class _Product(tools_.Tool):
    """An adjoint transform of the workload's function, called along the tangents."""

    warms_up = True
    pair = False  # whether it returns (value, tangent), of which the tangent is timed

    def build(self, adjoint, workload):
        raise NotImplementedError

    def prepare(self, workload, args):
        import adjoint

        try:
            product = self.build(adjoint, workload)
        except Exception as e:  # anything the compiler refuses or fails on
            raise _unavailable(e) from e
        dots = tangents(workload, args)
        if self.pair:
            return lambda: (product(*args, **dots)[1],)
        return lambda: product(*args, **dots)


class Jvp(_Product):
    name = "adjoint jvp"
    pair = True

    def build(self, adjoint, workload):
        return adjoint.jvp(workload.function, wrt=workload.wrt)


class Hvp(_Product):
    name = "adjoint hvp"

    def build(self, adjoint, workload):
        return adjoint.hvp(workload.function, wrt=workload.wrt)


class AdjointJacobian(tools_.Tool):
    warms_up = True

    def __init__(self, mode: str):
        self.mode = mode
        self.name = f"adjoint {mode}"

    def version(self):
        return _adjoint_version()

    def prepare(self, workload, args):
        import adjoint

        jacobian = adjoint.jacobian(workload.function, wrt=workload.wrt, mode=self.mode)
        return lambda: jacobian(*args)


class HandJacobian(tools_.Tool):
    name = "hand-written"

    def prepare(self, workload, args):
        return lambda: flow_jacobian(*args)


class JaxJacobian(tools_.Jax):
    def __init__(self, transform: str, jit: bool):
        self.transform, self.jit = transform, jit
        self.name = f"JAX {'jit ' if jit else ''}{transform}"

    def prepare(self, workload, args):
        try:
            import jax
            import jax.numpy as jnp
        except ImportError as e:
            raise tools_.Unavailable("not installed") from e
        jax.config.update("jax_enable_x64", True)
        f = tools_.rebind(workload.peer_functions, jnp, workload.function.__name__)
        jacobian = getattr(jax, self.transform)(f, argnums=workload.positions)
        if self.jit:
            jacobian = jax.jit(jacobian)
        jargs = tuple(jnp.asarray(a) for a in args)
        return lambda: jax.block_until_ready(jacobian(*jargs))


class TorchJacobian(tools_.Torch):
    def __init__(self, transform: str):
        self.transform = transform
        self.name = f"PyTorch {transform}"

    def prepare(self, workload, args):
        try:
            import torch
            import torch.func
        except ImportError as e:
            raise tools_.Unavailable("not installed") from e
        f = tools_.rebind(workload.peer_functions, tools_.torch_numpy(),
                          workload.function.__name__)
        jacobian = getattr(torch.func, self.transform)(f, argnums=workload.positions)
        targs = tuple(torch.from_numpy(a) for a in args)
        return lambda: jacobian(*targs)


def jacobian_tools() -> list[tools_.Tool]:
    return [HandJacobian(), *(AdjointJacobian(m) for m in ("forward", "reverse", "auto")),
            *(JaxJacobian(t, jit) for jit in (False, True) for t in ("jacfwd", "jacrev")),
            *(TorchJacobian(t) for t in ("jacfwd", "jacrev"))]


# ---------------------------------------------------------------- runs and tables


def _run(workload, tools, options) -> ratios.Row:
    return ratios.run_workload(workload, tools, slow_s=SLOW_S, **options)


def _ratio(row: ratios.Row, name: str) -> float | None:
    return row.cells[name].ratio


def _text(row: ratios.Row, name: str) -> str:
    return ratios._cell_text(row.cells[name], row, width=40)


def _build(row: ratios.Row, name: str) -> str:
    cell = row.cells[name]
    return ratios.fmt_time(ratios._build_s(cell)) if cell.ratio is not None else ""


def _quotient(a: float | None, b: float | None, goal: float | None = None) -> str:
    if a is None or b is None:
        return ""
    mark = "" if goal is None else " (met)" if a / b <= goal else " (missed)"
    return ratios.fmt_ratio(a / b) + mark


def derivative_tables(results: list[dict[str, ratios.Row]]) -> str:
    """The jvp and hvp tables, from the rows of each workload's three runs."""
    jvp = ["| workload | primal | gradient ÷ primal | jvp ÷ primal | jvp ÷ gradient "
           "| jvp generation |", "|" + "---|" * 6]
    hvp = ["| workload | primal | gradient ÷ primal | hvp ÷ primal | hvp ÷ gradient "
           f"(goal ≤ {HVP_GOAL:g}) | hvp generation |", "|" + "---|" * 6]
    notes = []
    for runs in results:
        g = runs["gradient"]
        head = f"| {g.workload.title}, {g.size:,} {g.workload.unit} | {ratios.fmt_time(g.primal_s)}"
        gradient = _ratio(g, "adjoint")
        for lines, kind, tool, goal in ((jvp, "jvp", Jvp.name, None),
                                        (hvp, "hvp", Hvp.name, HVP_GOAL)):
            row = runs[kind]
            lines.append(f"{head} | {_text(g, 'adjoint')} | {_text(row, tool)} | "
                         f"{_quotient(_ratio(row, tool), gradient, goal)} | "
                         f"{_build(row, tool)} |")
            note = row.cells[tool].note
            if note and len(note) > 40:
                notes.append(f"- {g.workload.name}, {kind}: {note}")
    return "\n".join(["#### Forward mode: jvp time / primal time", "", *jvp, "",
                      "#### Hessian-vector product: hvp time / gradient time", "", *hvp,
                      *([""] + notes if notes else [])])


def jacobian_table(row: ratios.Row) -> str:
    w = row.workload
    lines = [f"#### Jacobian of a {row.size}-to-{row.size} map with a loop ({w.title})", "",
             "| tool | time per Jacobian | ÷ primal | first call (adjoint: generating; jit: "
             "compiling) |", "|---|---|---|---|",
             f"| primal (numpy) | {ratios.fmt_time(row.primal_s)} | 1 | |"]
    notes = []
    for name, cell in row.cells.items():
        if cell.ratio is None:
            lines.append(f"| {name} | {_text(row, name)} | | |")
            if cell.note and len(cell.note) > 40:
                notes.append(f"- {name}: {cell.note}")
            continue
        first = ratios.fmt_time(cell.first_call_s)
        lines.append(f"| {name} | {ratios.fmt_time(cell.ratio * row.primal_s)} | "
                     f"{ratios.fmt_ratio(cell.ratio)} | {first} |")
    compiled = [f"{name.split()[-1]} {ratios.fmt_time(cell.first_call_s - cell.call_s)}"
                for name, cell in row.cells.items()
                if name.startswith("JAX jit") and cell.ratio is not None]
    if compiled:
        notes.append("- `jax.jit` tracing and compiling (the first call's time beyond a later "
                     "one's): " + ", ".join(compiled))
    if "adjoint auto" in row.cells:
        notes.append("- `mode=\"auto\"` runs reverse mode unless the inputs are fewer than the "
                     "outputs: here they are as many")
    return "\n".join(lines + ([""] + notes if notes else []))


def section(workload_names=None, tool_names=None, *, quick=False, rounds=None, machine=None,
            log=print) -> str:
    """Run the toolbox benchmarks and return their markdown. `tool_names` keeps the tools of
    those families (the first word of a name: adjoint, hand-written, JAX, PyTorch);
    `machine(tools)`, if given, describes the machine and the versions of those tools."""
    rounds = rounds or (1 if quick else 5)
    options = {"quick": quick, "rounds": rounds, "min_time": 0.0 if quick else 0.05,
               "log": log}

    def wanted(tool):
        return not tool_names or tool.name.split()[0] in tool_names

    results = []
    for w in derivative_workloads():
        if wanted(tools_.Adjoint()) and (not workload_names or w.name in workload_names):
            start = time.perf_counter()
            results.append({"gradient": _run(w, [tools_.Adjoint()], options),
                            "jvp": _run(jvp_reference(w), [Jvp()], options),
                            "hvp": _run(hvp_reference(w), [Hvp()], options)})
            log(f"  toolbox {w.name}: {time.perf_counter() - start:.1f} s")
    jacobian = jacobian_workload()
    tools = [t for t in jacobian_tools() if wanted(t)]
    row = None
    if tools and (not workload_names or jacobian.name in workload_names):
        start = time.perf_counter()
        row = _run(jacobian, tools, options)
        log(f"  toolbox {jacobian.name}: {time.perf_counter() - start:.1f} s")
    parts = ["### The derivative toolbox: jvp, hvp, Jacobians", "",
             f"Median of {rounds} interleaved round{'s' if rounds > 1 else ''} of each "
             "derivative against the primal, the sample's numpy function; lower is better. "
             "The jvp and hvp run along one random tangent, the gradient is `adjoint.grad`; "
             "every result was checked before it was timed (jvp: against the hand-written "
             "gradient dotted with the tangent; hvp: a five-point difference of the "
             "hand-written gradient; Jacobians: adjoint's reverse mode). Generation: building "
             "the function and what its first call costs beyond a later one (code is generated "
             "once per function: the second Rosenbrock row reuses the first's)."]
    if machine is not None:
        parts += ["", machine([tools_.Adjoint(), *tools])]
    if results:
        parts += ["", derivative_tables(results)]
    if row is not None:
        parts += ["", jacobian_table(row)]
    return "\n".join(parts)
