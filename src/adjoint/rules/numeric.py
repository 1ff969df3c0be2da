"""The rules of NumPy's numeric routines: the trapezoidal rule, polynomials, convolution, the
median and matrix powers."""

from __future__ import annotations

from typing import Any

import numpy as np

# fmt: off
NUMERIC: dict[Any, dict[str, str]] = {
    np.trapezoid:      {"y": "runtime.trapezoid_adjoint(g, y, x, dx, axis)",
                        "x": "runtime.trapezoid_adjoint(g, y, x, dx, axis, of='x')",
                        "dx": "runtime.trapezoid_adjoint(g, y, x, dx, axis, of='dx')"},
    np.polyval:        {"p": "runtime.polyval_adjoint(g, p, x)",
                        "x": "runtime.polyval_adjoint(g, p, x, of='x')"},
    np.convolve:       {"a": "runtime.convolve_adjoint(g, a, v, mode)",
                        "v": "runtime.convolve_adjoint(g, a, v, mode, of='v')"},
    np.median:         {"a": "runtime.median_adjoint(g, a, axis, keepdims)"},
    np.linalg.matrix_power: {"a": "runtime.matrix_power_adjoint(g, a, n)"},
}
# fmt: on
