"""The benchmark harness in its quickest mode, with the numpy tools only (no optional peers)."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

import adjoint  # noqa: E402
from benchmarks import __main__ as bench  # noqa: E402
from benchmarks import compile_time, jitted, memory, ratios, tools, workloads  # noqa: E402


def test_quick_ratio_table_with_numpy_tools(capsys):
    bench.main(["--quick", "--sections", "ratios", "--workloads", "rosenbrock_1e4",
                "--tools", "adjoint,hand-written"])
    out = capsys.readouterr().out
    assert "| workload | primal | adjoint | hand-written | adjoint ÷ hand |" in out
    row = next(line for line in out.splitlines() if line.startswith("| extended Rosenbrock"))
    figures = [cell.strip() for cell in row.strip("|").split("|")][2:]
    assert all(float(f) > 0 for f in figures)
    assert "Machine:" in out


def test_wrong_gradient_is_reported_not_timed():
    workload = next(w for w in workloads.all_workloads() if w.name == "rosenbrock_1e4")

    class Wrong(tools.Tool):
        name = "wrong"

        def prepare(self, workload, args):
            return lambda: tuple(2 * g for g in workload.hand(*args))

    row = ratios.run_workload(workload, [Wrong()], quick=True, rounds=1, min_time=0.0,
                              slow_s=1.0, log=lambda message: None)
    cell = row.cells["wrong"]
    assert cell.ratio is None and cell.note.startswith("wrong gradient")


@pytest.mark.parametrize("workload", [w for w in workloads.all_workloads() if
                                      w.peer_functions != [w.function]], ids=lambda w: w.name)
def test_ports_compute_the_samples_values(workload):
    """The functional ports the tracing tools run give the samples' values, with numpy."""
    args = workload.make_args(workload.quick_size or workload.size)
    ported = tools.rebind(workload.peer_functions, np, workload.function.__name__)
    assert ported(*args) == pytest.approx(workload.function(*args), rel=1e-13)


def test_compile_time_and_memory_sections_run():
    assert "| 10 |" in compile_time.table(compile_time.run((10,), repeats=1))
    assert "| linear | 10 |" in memory.table(memory.run((10,)))


@pytest.mark.parametrize("label, name, fname, wrt, full, quick", jitted.WORKLOADS,
                         ids=[w[1] for w in jitted.WORKLOADS])
def test_hand_written_njit_gradients_are_the_gradients(label, name, fname, wrt, full, quick):
    """The hand-written njit gradients the numba backend is timed beside compute what the
    NumPy backend's gradient computes."""
    pytest.importorskip("numba")
    from benchmarks.handjit import GRADIENTS

    module = jitted._sample(name)
    args = module.example(*quick)
    fn = getattr(module, fname)
    want = adjoint.grad(getattr(fn, "py_func", fn), wrt=wrt)(*args)
    for got, expected in zip(GRADIENTS[name](*args), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
