"""The rules of NumPy's numeric routines: the trapezoidal rule, polynomials, convolution, the
median, matrix powers and linear interpolation."""

from __future__ import annotations

from typing import Any

import numpy as np

# np.trapezoid (NumPy 2), np.trapz (its name before)
TRAPEZOIDS = tuple(f for f in (getattr(np, "trapezoid", None), getattr(np, "trapz", None))
                   if f is not None)
TRAPEZOID = {"y": "runtime.trapezoid_adjoint(g, y, x, dx, axis)",
             "x": "runtime.trapezoid_adjoint(g, y, x, dx, axis, of='x')",
             "dx": "runtime.trapezoid_adjoint(g, y, x, dx, axis, of='dx')"}

# fmt: off
NUMERIC: dict[Any, dict[str, str]] = {
    **{f: TRAPEZOID for f in TRAPEZOIDS},
    np.polyval:        {"p": "runtime.polyval_adjoint(g, p, x)",
                        "x": "runtime.polyval_adjoint(g, p, x, of='x')"},
    np.convolve:       {"a": "runtime.convolve_adjoint(g, a, v, mode)",
                        "v": "runtime.convolve_adjoint(g, a, v, mode, of='v')"},
    np.median:         {"a": "runtime.median_adjoint(g, a, axis, keepdims)"},
    np.linalg.matrix_power: {"a": "runtime.matrix_power_adjoint(g, a, n)"},
    np.interp:         {name: f"runtime.interp_adjoint(g, x, xp, fp, left, right, period, of={name!r})"
                        for name in ("x", "xp", "fp", "left", "right")},
}
# fmt: on
