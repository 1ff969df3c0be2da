"""The rules of scipy.integrate's ODE solvers, which join the table once scipy.integrate is
imported.

odeint(func, y0, t, args=()) and solve_ivp(fun, t_span, y0, t_eval=..., args=...) are
differentiated by the adjoint-state method (runtime/integrate.py): the forward sweep calls the
solver as the user's code does; the reverse sweep solves the adjoint ODE backward in time,
differentiating the user's right-hand side with adjoint itself. Gradients flow to y0 and to
the extra arguments `args` (numbers, arrays, and containers or records of them), and to
odeint's output times t. solve_ivp returns an OdeResult: its field `y` carries the derivative
(sol.y, sol.y[:, -1]); its adjoint reaches the rule as a dict over the fields
(runtime.ode_result_field_adjoint). solve_ivp's t_span and t_eval have no formula: a value
that carries a derivative there is refused. The right-hand side itself carries none: a
function defined at module level (the compiler refuses a lambda or a nested def passed as a
value), whose parameters go in `args`.
"""

from __future__ import annotations

from typing import Any

from .numeric import TRAPEZOID

# fmt: off
ODEINT = "runtime.odeint_adjoint(g, ans, func, y0, t, args, tfirst, full_output, {part!r})"
SOLVE_IVP = "runtime.solve_ivp_adjoint(g, ans, fun, t_span, y0, method, t_eval, args, events, {part!r})"


def integrate_rules() -> dict[Any, dict[str, str]]:
    """The rules of scipy.integrate, registered by `load_optional` when it is imported."""
    try:
        import scipy.integrate as si
    except ImportError:
        return {}
    return {
        si.odeint:    {p: ODEINT.format(part=p) for p in ("y0", "args", "t")},
        si.solve_ivp: {p: SOLVE_IVP.format(part=p) for p in ("y0", "args")},
        **({si.trapezoid: TRAPEZOID} if hasattr(si, "trapezoid") else {}),  # as NumPy's
    }
# fmt: on
