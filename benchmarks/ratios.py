"""Gradient time / primal time for each workload and tool, side by side in one process.

The primal is the sample's plain numpy function. Each tool's gradient is first checked against
the hand-written one (a wrong gradient is reported, never timed), then every tool and the
primal are timed in interleaved rounds: one measurement of each per round, so slow drifts of
the machine hit all of them alike. A figure is the median over rounds of
(tool time / primal time in the same round). A tool that is too slow for the full problem runs
a smaller one (same code, fewer loop iterations), against the primal at that size, marked †.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import tools as tools_
from .workloads import Workload

CHECK_RTOL = 1e-7  # max |g - g_hand| / max |g_hand|, per gradient array


@dataclass
class Cell:
    """One tool on one workload: a ratio, or why there is none."""

    tool: str
    ratio: float | None = None
    size: int = 0
    note: str | None = None  # "n/a: ..." or "wrong gradient ..."
    first_call_s: float | None = None  # includes tracing/compiling for the jit
    call_s: float | None = None  # one call, once warmed up
    prepare_s: float | None = None  # time to build the gradient function (adjoint: compile)
    ratios: list[float] = field(default_factory=list)


@dataclass
class Row:
    workload: Workload
    primal_s: float
    cells: dict[str, Cell]
    size: int  # the problem size of the primal column


def _measure(call: Callable, number: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) / number


def _relative_error(got, want) -> float:
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        g, w = np.asarray(g, dtype=float), np.asarray(w, dtype=float)
        if g.shape != w.shape:
            return float("inf")
        scale = max(float(np.max(np.abs(w))), 1e-300)
        worst = max(worst, float(np.max(np.abs(g - w))) / scale)
    return worst


def run_workload(workload: Workload, tools: list[tools_.Tool], *, quick: bool, rounds: int,
                 min_time: float, slow_s: float, log=print) -> Row:
    cells: dict[str, Cell] = {}
    timed: list[tuple[Cell, Callable, int]] = []  # (cell, call, calls per measurement)
    primals: dict[int, tuple[Callable, int]] = {}  # size -> (call, calls per measurement)
    args_at: dict[int, tuple] = {}
    hand_at: dict[int, tuple] = {}
    slow_primal = False

    def args_for(size):
        nonlocal slow_primal
        if size not in args_at:
            args_at[size] = workload.make_args(size)
            hand_at[size] = tuple(workload.hand(*args_at[size]))
            primal = tools_.Primal().prepare(workload, args_at[size])
            one = _measure(primal, 1)
            slow_primal = slow_primal or one > slow_s
            primals[size] = (primal, max(1, int(min_time / max(one, 1e-9))))
        return args_at[size]

    main_size = workload.size_for("hand-written", quick)
    args_for(main_size)
    for tool in tools:
        size = workload.size_for(tool.name, quick)
        cell = cells[tool.name] = Cell(tool.name, size=size)
        args = args_for(size)
        try:
            start = time.perf_counter()
            call = tool.prepare(workload, args)
            cell.prepare_s = time.perf_counter() - start
            start = time.perf_counter()
            result = call()
            cell.first_call_s = time.perf_counter() - start
            got = tool.to_numpy(result)
        except tools_.Unavailable as e:
            cell.note = f"n/a: {e}"
            continue
        except Exception as e:  # a tool failing at run time is a result too
            cell.note = f"n/a: fails: {tools_._short(e)}"
            continue
        error = _relative_error(got, hand_at[size])
        if not error <= CHECK_RTOL:
            cell.note = f"wrong gradient (relative error {error:.1e})"
            continue
        # A second call gives the steady time (the first may compile, specialize or fill
        # caches), which sets how many calls make one measurement; a slow tool that does not
        # warm up is spared it.
        warm = tool.warms_up or cell.first_call_s <= slow_s
        cell.call_s = _measure(call, 1) if warm else cell.first_call_s
        timed.append((cell, call, max(1, int(min_time / max(cell.call_s, 1e-9)))))
        log(f"  {workload.name}: {tool.name} checked, {cell.call_s * 1e3:.2f} ms per gradient "
            f"({size:,} {workload.unit}; first call {cell.first_call_s * 1e3:.2f} ms)")

    primal_times: dict[int, list[float]] = {size: [] for size in primals}
    if slow_primal:
        rounds = min(rounds, 3)  # a slow primal: every tool is slow too
    for r in range(rounds):
        this_round = {size: _measure(call, number) for size, (call, number) in primals.items()}
        for size, t in this_round.items():
            primal_times[size].append(t)
        for cell, call, number in timed:
            if r >= 3 and _slow(cell, slow_s):
                continue  # a slow tool's figure is the median of 3 rounds
            cell.ratios.append(_measure(call, number) / this_round[cell.size])
    for cell, _, _ in timed:
        cell.ratio = statistics.median(cell.ratios)
    return Row(workload, statistics.median(primal_times[main_size]), cells, main_size)


def _build_s(cell: Cell) -> float:
    return cell.prepare_s + max(0.0, cell.first_call_s - cell.call_s)


def _slow(cell: Cell, slow_s: float) -> bool:
    return cell.call_s is not None and cell.call_s > slow_s


# ---------------------------------------------------------------- formatting


def fmt_ratio(r: float) -> str:
    if r < 10:
        return f"{r:.2f}"
    if r < 100:
        return f"{r:.1f}"
    return f"{r:,.0f}"


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def _cell_text(cell: Cell, row: Row, width: int = 48) -> str:
    if cell.ratio is None:
        note = cell.note or "n/a"
        return note if len(note) <= width else note[:width - 1] + "…"
    text = fmt_ratio(cell.ratio)
    return text + " †" if cell.size != row.size else text


def table(rows: list[Row], tool_names: list[str]) -> str:
    """The markdown table: one row per workload, one column per tool, plus adjoint / hand."""
    header = ["workload", "primal", *tool_names]
    both = "adjoint" in tool_names and "hand-written" in tool_names
    if both:
        header.append("adjoint ÷ hand")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        title = f"{row.workload.title}, {row.size:,} {row.workload.unit}"
        cells = [title, fmt_time(row.primal_s)]
        cells += [_cell_text(row.cells[name], row) for name in tool_names]
        if both:
            a, h = row.cells["adjoint"].ratio, row.cells["hand-written"].ratio
            cells.append(f"{a / h:.2f}" if a is not None and h is not None else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def notes(rows: list[Row]) -> str:
    """Footnotes: smaller problems (†), the full text of every n/a, first-call times."""
    out = []
    for row in rows:
        for cell in row.cells.values():
            if cell.ratio is not None and cell.size != row.size:
                out.append(f"- † {row.workload.name}, {cell.tool}: run on {cell.size:,} "
                           f"{row.workload.unit} (against the primal at that size)")
            if cell.note and len(cell.note) > 48:
                out.append(f"- {row.workload.name}, {cell.tool}: {cell.note}")
    built = []
    for row in rows:
        parts = [f"{name} {fmt_time(_build_s(cell))}" for name, cell in row.cells.items()
                 if name in ("adjoint", "JAX jit") and cell.ratio is not None]
        if parts:
            built.append(f"{row.workload.name}: " + ", ".join(parts))
    if built:
        out.append("- time to build the gradient (`adjoint.grad`, or `jax.jit` tracing and "
                   "compiling, with what the first call costs more than later ones): "
                   + "; ".join(built))
    return "\n".join(out)


# Reference figures of the other tools: gradient/primal on a 2-core machine.
TARGETS = {
    "scalar_loop": {"hand-written": 2.35, "autograd": 1537, "PyTorch": 618},
    "mlp": {"hand-written": 1.85, "autograd": 4.7, "PyTorch": 2.45},
    "gmm": {"hand-written": 2.23, "autograd": 3.5, "PyTorch": 1.00},
    "rosenbrock_1e4": {"hand-written": 1.11, "autograd": 14.5, "PyTorch": 5.9},
    "rosenbrock_1e6": {"hand-written": 1.39, "autograd": 7.3, "PyTorch": 5.4},
    "lstm": {"hand-written": 2.35, "autograd": 12.9, "PyTorch": 4.7},
}


def targets_table(rows: list[Row]) -> str:
    """adjoint against its goals, each as adjoint's figure divided by the other tool's
    figure measured here: within 1.2x of hand-written (1.5x on Rosenbrock), below autograd
    (100x below on the scalar loop) and below PyTorch eager. The reference figures are in
    parentheses."""
    lines = ["| workload | adjoint | hand-written (ref.) | autograd (ref.) | PyTorch (ref.) "
             "| adjoint ÷ hand (goal ≤ 1.2; Rosenbrock ≤ 1.5) | adjoint ÷ autograd (goal < 1; "
             "scalar loop "
             "≤ 0.01) | adjoint ÷ PyTorch (goal < 1) |", "|" + "---|" * 8]
    for row in rows:
        target = TARGETS.get(row.workload.name)
        if target is None:
            continue
        a = row.cells.get("adjoint")
        a = a.ratio if a is not None else None
        cells = [row.workload.name, fmt_ratio(a) if a is not None else "n/a"]
        for name in ("hand-written", "autograd", "PyTorch"):
            cell = row.cells.get(name)
            got = "—" if cell is None else fmt_ratio(cell.ratio) if cell.ratio else "n/a"
            cells.append(f"{got} ({fmt_ratio(target[name])})")
        for name, goal in (("hand-written", 1.2), ("autograd", 1.0), ("PyTorch", 1.0)):
            if name == "autograd" and row.workload.name == "scalar_loop":
                goal = 0.01
            if name == "hand-written" and row.workload.name.startswith("rosenbrock"):
                goal = 1.5  # slices of a long vector: the hand-written code reuses buffers
            cell = row.cells.get(name)
            if a is None or cell is None or cell.ratio is None:
                cells.append("")
                continue
            quotient = a / cell.ratio
            mark = "met" if quotient <= goal else "missed"
            cells.append(f"{quotient:.3g} ({mark})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
