"""The toolbox benchmark (jvp, hvp, Jacobians) in its quickest mode, with the numpy tools only."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import __main__ as bench  # noqa: E402
from benchmarks import ratios, toolbox  # noqa: E402


def _figures(out: str, start: str) -> list[list[str]]:
    rows = [line for line in out.splitlines() if line.startswith(f"| {start}")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_quick_toolbox_section_with_numpy_tools(capsys):
    bench.main(["--quick", "--sections", "toolbox", "--workloads",
                "rosenbrock_1e4,logistic_regression,jacobian_map",
                "--tools", "adjoint,hand-written"])
    out = capsys.readouterr().out
    assert "jvp ÷ primal" in out and "hvp ÷ gradient (goal ≤ 3)" in out
    rosenbrock = _figures(out, "extended Rosenbrock")
    assert len(rosenbrock) == 2  # the jvp row and the hvp row
    for cells in rosenbrock:
        assert float(cells[2]) > 0 and float(cells[3]) > 0
    jacobian = {cells[0]: cells for cells in _figures(out, "") if cells[0] in (
        "hand-written", "adjoint forward", "adjoint reverse", "adjoint auto")}
    assert len(jacobian) == 4
    assert all(float(cells[2]) > 0 for cells in jacobian.values())
    assert "JAX" not in out.split("#### Jacobian")[1]


def test_references_agree_with_adjoint():
    """The references the toolbox checks against: J v, H v and the hand-written Jacobian."""
    import adjoint

    workload = next(w for w in toolbox.derivative_workloads() if w.name == "scalar_loop")
    args = workload.make_args(workload.size)
    dots = toolbox.tangents(workload, args)
    want = adjoint.hvp(workload.function, wrt=workload.wrt)(*args, **dots)
    got = toolbox.hvp_reference(workload).hand(*args)
    assert ratios._relative_error(got, want) < 1e-7
    (jv,) = toolbox.jvp_reference(workload).hand(*args)
    assert jv == pytest.approx(adjoint.jvp(workload.function, wrt=workload.wrt)(
        *args, **dots)[1], rel=1e-12)
    x, A = toolbox.jacobian_map.example(n=8)
    np.testing.assert_allclose(toolbox.flow_jacobian(x, A)[0],
                               toolbox.adjoint_jacobian(x, A)[0], rtol=1e-12, atol=1e-14)
