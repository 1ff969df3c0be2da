"""The adjoints of scipy.integrate.odeint and solve_ivp, by the adjoint-state method.

The forward sweep calls the solver as the user's code does. The reverse sweep runs here: with
a(t) = dL/dy(t) and the right-hand side f(y, t, p),

    da/dt = -a^T df/dy,      dq/dt = -a^T df/dp,       solved from the last output time
                                                       back to the initial time,

where a jumps by g_k (the adjoint of the result at output time t_k) at each t_k where g_k is
nonzero. At the initial time t0, a(t0) is y0's adjoint and q(t0) = ∫ a^T df/dp dt that of the
parameters passed in `args` (each one that holds floats: a number, an array, a tuple, list,
dict or record of them). The vector-Jacobian products a^T df/dy and a^T df/dp come from
adjoint itself: the user's right-hand side is differentiated like any function called through
a value (runtime.calls: call_fwd/call_bwd, compiled once per function and argument kinds).

The state y(t) the backward equations read comes from a dense forward solution, computed
again here (solve_ivp with dense_output=True) and interpolated, not from solving y backward
with a: y solved backward in time is unstable for dissipative and stiff systems (its errors
grow as fast as the forward solution decays), while the interpolant is as good as the
forward solve wherever it is stable. Both solves use tight tolerances (rtol 1e-10, atol
1e-12), so gradients agree with central differences of a tightly solved primal to about
1e-7. odeint's problems are solved with LSODA (odeint's own solver: it switches between Adams
and BDF formulas as stiffness requires), and so are solve_ivp's with an implicit method
(Radau, BDF, LSODA; its steps run in Fortran, several times faster here than Radau's at these
tolerances); with an explicit one (RK23, RK45, DOP853), with DOP853, the cheapest at these
tolerances.

Results: odeint's array (rows are output times); solve_ivp's OdeResult, whose field `y` is
read (sol.y, sol.y[:, -1]): the compiler gives the adjoint of a field read as a dict of the
object's fields (containers.field_adjoint calls `ode_result_field_adjoint`), and the helper
reads its 'y'. The output times are passive (sol.t, without t_eval the solver's own steps,
is taken as fixed), except odeint's `t`, differentiated: dL/dt_k = g_k . f(y(t_k), t_k) for
k >= 1 and dL/dt_0 = -a(t_0)^T f(y0, t_0), a(t_0) before the jump of g_0. Refused when the
gradient runs: complex states, solve_ivp's terminal events (the end time moves with the
parameters) and the gradient of sol.sol, sol.t_events and sol.y_events.

Each rule's formula (one per differentiated argument) calls a helper here; they share one
solve: the last result is kept (per thread), keyed by the identity of g, ans and the
arguments, so the y0, args and t adjoints of one call cost one backward solve.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UnsupportedArgument
from .calls import _positional, call_bwd, call_fwd, split_of, unwrapped
from .records import carries_floats
from .shapes import _is_zero
from .trees import tree_map

RTOL = 1e-10
ATOL = 1e-12
EXPLICIT = ("RK23", "RK45", "DOP853")
_last = threading.local()  # .entry: (key objects, result) of the last solve


def _is_float_leaf(x: Any) -> bool:
    """Whether a leaf of a parameter tree carries a derivative: a float or a float array."""
    if isinstance(x, (bool, int, np.integer)):
        return False
    if isinstance(x, (float, np.floating)):
        return True
    dtype = getattr(x, "dtype", None)
    return dtype is not None and np.dtype(dtype).kind == "f"


def _flatten(trees: list, bars: list) -> np.ndarray:
    """The adjoints `bars` of the parameter trees, their float leaves in one flat vector
    (a zero adjoint 0.0 as zeros)."""
    out: list = []

    def leaf(x: Any, bar: Any) -> None:
        if _is_float_leaf(x):
            out.append(np.broadcast_to(np.asarray(bar, dtype=float), np.shape(x)).ravel())

    for tree, bar in zip(trees, bars, strict=True):
        if type(tree) is float:  # the common case, without a walk
            out.append((float(bar),))
        else:
            tree_map(leaf, tree, bar)
    return np.concatenate(out) if out else np.zeros(0)


def _unflatten(trees: list, flat: np.ndarray) -> list:
    """Inverse of `_flatten`: one adjoint per tree, as the emitted code sums adjoints (lists
    for tuples, dicts for records), 0.0 at leaves that carry no derivative."""
    pos = 0

    def leaf(x: Any) -> Any:
        nonlocal pos
        if not _is_float_leaf(x):
            return 0.0
        n = int(np.size(x))
        chunk, pos = flat[pos:pos + n], pos + n
        if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
            return float(chunk[0])
        return chunk.reshape(np.shape(x)).astype(x.dtype, copy=False)

    return [tree_map(leaf, tree, lists=True) for tree in trees]


def _seed(a: np.ndarray, value: Any) -> Any:
    """The flat adjoint `a` in the form of the right-hand side's value: a number, an array,
    or a list of items (a function returning [dx, dy])."""
    if isinstance(value, (list, tuple)):
        out, pos = [], 0
        for item in value:
            n = int(np.size(item))
            chunk, pos = a[pos:pos + n], pos + n
            out.append(float(chunk[0]) if np.ndim(item) == 0 else chunk.reshape(np.shape(item)))
        return out
    if np.ndim(value) == 0:
        return float(a[0])
    return a.reshape(np.shape(value))


@dataclass
class Rhs:
    """The user's right-hand side with its extra arguments: func(y, t, *args) (odeint) or
    func(t, y, *args) (solve_ivp, odeint with tfirst=True)."""

    func: Any
    y_first: bool
    args: tuple

    def __post_init__(self) -> None:
        self.active = tuple(j for j, a in enumerate(self.args) if carries_floats(a))
        self.params = [self.args[j] for j in self.active]
        self.size = _flatten(self.params, [0.0] * len(self.params)).size
        self.positions = (0 if self.y_first else 1, *(2 + j for j in self.active))
        self.split: tuple | None = None  # (fwd, bwd, arguments in front, bound keywords)

    def _call_args(self, t: float, y: np.ndarray) -> tuple:
        t = float(t)
        return (y, t, *self.args) if self.y_first else (t, y, *self.args)

    def value(self, t: float, y: np.ndarray) -> np.ndarray:
        """f(y, t) as a flat float vector."""
        return np.asarray(self.func(*self._call_args(t, np.array(y, dtype=float))),
                          dtype=float).ravel()

    def vjp(self, t: float, y: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(a^T df/dy, a^T df/dp flattened over the parameters), by adjoint's own split of
        func: found once per solve (the names it reads cannot change while SciPy runs)."""
        y = np.array(y, dtype=float)
        args = self._call_args(t, y)
        if self.split is None:
            self.split = _split(self.func, self.positions, args)
        if self.split:
            fwd, bwd, front, bound = self.split
            value, saved = fwd(*front, *args, **bound)
            bars = bwd(saved, _seed(a, value))
        else:  # a function taking *args: call_fwd maps the arguments
            value, kept = call_fwd(self.func, self.positions, (), *args)
            bars = call_bwd(kept, _seed(a, value))
        bars = tuple(bars) if len(self.positions) > 1 else (bars,)
        a_y = np.broadcast_to(np.asarray(bars[0], dtype=float), y.shape).ravel()
        return a_y, _flatten(self.params, list(bars[1:]))


def _split(func: Any, positions: tuple, args: tuple) -> tuple:
    """(fwd, bwd, arguments a partial or bound method puts in front, bound keywords) of
    func, differentiated at `positions` of `args`, as call_fwd finds it; () where an active
    argument falls in func's *args (call_fwd then maps each call)."""
    target, front, bound = unwrapped(func)
    count, _ = _positional(target)
    named = tuple(len(front) + k for k in positions)
    if any(j >= count for j in named):
        return ()
    fwd, bwd = split_of(target, named, (), (*front, *args), bound)
    return fwd, bwd, front, bound


def _solver(method: Any) -> str:
    """The method of the solves here: DOP853 for an explicit Runge-Kutta method (the
    cheapest at tight tolerances), else LSODA (Radau, BDF, LSODA, a class of the user's: a
    problem that may be stiff)."""
    return "DOP853" if isinstance(method, str) and method.upper() in EXPLICIT else "LSODA"


def _solved(sol: Any, what: str) -> Any:
    if not sol.success:
        raise UnsupportedArgument(f"the gradient of an ODE solve: the {what} failed "
                                  f"({sol.message})")
    return sol


def _trajectory(rhs: Rhs, method: Any, y0: np.ndarray, t0: float, t1: float) -> Any:
    """The forward solution from t0 to t1 as a function of t (dense output)."""
    if t0 == t1:
        return lambda t: y0
    from scipy.integrate import solve_ivp

    sol = solve_ivp(rhs.value, (t0, t1), y0, method=method, dense_output=True, rtol=RTOL,
                    atol=ATOL)
    return _solved(sol, "forward solve").sol


def _back(rhs: Rhs, method: Any, state: Any, z: np.ndarray, t1: float, t0: float) -> np.ndarray:
    """The augmented adjoint state z = (a, q) carried from t1 back to t0."""
    if t1 == t0 or not np.any(z[:state.n]):
        return z  # a = 0 stays 0, and q does not change
    from scipy.integrate import solve_ivp

    n = state.n

    def backward(t: float, z: np.ndarray) -> np.ndarray:
        a_y, a_p = rhs.vjp(t, state.y(t), z[:n])
        return -np.concatenate([a_y, a_p])

    sol = solve_ivp(backward, (t1, t0), z, method=method, rtol=RTOL, atol=ATOL)
    return _solved(sol, "backward (adjoint) solve").y[:, -1]


@dataclass
class Sweep:
    """What the reverse sweep of one solve gives: a(t0) (y0's adjoint), the parameters'
    flat adjoint, and a at the first output time before its jump (for odeint's t0)."""

    y0_bar: np.ndarray
    p_bar: np.ndarray
    first: np.ndarray


@dataclass
class _State:
    n: int
    y: Any


def sweep(rhs: Rhs, method: Any, y0: np.ndarray, t0: float, times: np.ndarray,
          rows: np.ndarray) -> Sweep:
    """The reverse sweep over output times `times` (y0 given at t0), rows[k] = g_k."""
    n = y0.size
    z = np.zeros(n + rhs.size)
    jumps = [k for k in range(len(times)) if np.any(rows[k])]
    if not jumps:
        return Sweep(z[:n], z[n:], z[:n])
    state = _State(n, _trajectory(rhs, method, y0, t0, float(times[jumps[-1]])))
    current = float(times[jumps[-1]])
    for k in [*reversed(jumps), *([0] if jumps[0] != 0 else [])]:
        z = _back(rhs, method, state, z, current, float(times[k]))
        current = float(times[k])
        if k == 0:
            first = z[:n].copy()
        z[:n] += rows[k]
    z = _back(rhs, method, state, z, current, t0)
    return Sweep(z[:n], z[n:], first)


def _cached(key: tuple, compute: Any) -> Any:
    """compute(), or its value for the same objects `key` as the last call (one solve serves
    the formulas of y0, args and t of one call)."""
    hit = getattr(_last, "entry", None)
    if hit is not None and len(hit[0]) == len(key) and all(
            a is b for a, b in zip(hit[0], key, strict=True)):
        return hit[1]
    value = compute()
    _last.entry = (key, value)
    return value


def _state_of(y0: Any, name: str) -> np.ndarray:
    y = np.asarray(y0)
    if y.dtype.kind == "c":
        raise UnsupportedArgument(f"the gradient of {name} with a complex state y0")
    return np.array(y, dtype=float).ravel()


def _like(flat: np.ndarray, x: Any) -> Any:
    """A flat adjoint with x's shape: a number for a number, a list for a list of numbers
    ([x0, v0]), else an array."""
    if np.ndim(x) == 0:
        return float(flat[0])
    if isinstance(x, (list, tuple)) and all(np.ndim(v) == 0 for v in x):
        return [float(v) for v in flat]
    dtype = getattr(x, "dtype", None)
    out = flat.reshape(np.shape(x))
    return out.astype(dtype, copy=False) if dtype is not None and dtype.kind == "f" else out


def _args_bar(rhs: Rhs, p_bar: np.ndarray, args: Any) -> Any:
    """The adjoint of `args` from the parameters' flat adjoint: one adjoint per item (a list,
    as the emitted code sums the adjoint of a tuple), an array for an array of parameters."""
    out: list = [0.0] * len(rhs.args)
    for j, bar in zip(rhs.active, _unflatten(rhs.params, p_bar), strict=True):
        out[j] = bar
    if isinstance(args, np.ndarray):
        return np.array(out, dtype=float).reshape(args.shape)
    return out


def _zero_part(part: str, y0: Any, args: Any, t: Any) -> Any:
    if part == "y0":
        return _like(np.zeros(int(np.size(y0))), y0)
    if part == "t":
        return _like(np.zeros(int(np.size(t))), t)
    n = len(args) if args is not None else 0
    return np.zeros(np.shape(args)) if isinstance(args, np.ndarray) else [0.0] * n


def odeint_adjoint(g: Any, ans: Any, func: Any, y0: Any, t: Any, args: Any = (),
                   tfirst: bool = False, full_output: Any = 0, part: str = "y0") -> Any:
    """The adjoint of y0, args or t (`part`) of ans = scipy.integrate.odeint(func, y0, t,
    args=args, tfirst=tfirst), from g, the adjoint of ans (rows: output times)."""
    if full_output:  # (y, infodict): the dict carries no derivative
        ans, g = ans[0], (0.0 if _is_zero(g) else g[0])
    args = args if isinstance(args, tuple) else (args,)
    if _is_zero(g):
        return _zero_part(part, y0, args, t)
    rhs = Rhs(func, not tfirst, args)
    times = np.asarray(t, dtype=float).ravel()
    rows = np.broadcast_to(np.asarray(g, dtype=float), ans.shape)
    y = _state_of(y0, "scipy.integrate.odeint")
    s = _cached((g, ans, func, y0, t, args),
                lambda: sweep(rhs, "LSODA", y, float(times[0]), times, rows))
    if part == "y0":
        return _like(s.y0_bar, y0)
    if part == "args":
        return _args_bar(rhs, s.p_bar, args)
    out = np.zeros(len(times))  # dL/dt_k = g_k . f(y_k, t_k); dL/dt_0 = -a(t_0) . f(y0, t_0)
    for k in range(1, len(times)):
        if np.any(rows[k]):
            out[k] = rows[k] @ rhs.value(times[k], ans[k])
    out[0] = -s.first @ rhs.value(times[0], y)
    return _like(out, t)


def _terminal(events: Any) -> bool:
    """Whether an event of solve_ivp stops the integration (its end time then moves with the
    parameters)."""
    listed = events if isinstance(events, (list, tuple)) else [events]
    return any(getattr(e, "terminal", False) for e in listed)


def solve_ivp_adjoint(g: Any, ans: Any, fun: Any, t_span: Any, y0: Any, method: Any = "RK45",
                      t_eval: Any = None, args: Any = None, events: Any = None,
                      part: str = "y0") -> Any:
    """The adjoint of y0 or args (`part`) of ans = scipy.integrate.solve_ivp(fun, t_span, y0,
    method, t_eval, args=args), from g, the adjoint of the OdeResult ans: a dict holding the
    adjoint of its field y (ode_result_field_adjoint), or 0.0."""
    if events is not None and _terminal(events):
        raise UnsupportedArgument(
            "the gradient of scipy.integrate.solve_ivp with a terminal event: where it stops "
            "moves with the parameters; integrate to a fixed time with t_eval instead")
    g_y = g.get("y", 0.0) if isinstance(g, dict) else g
    if _is_zero(g_y):
        return _zero_part(part, y0, args, None)
    rhs = Rhs(fun, False, () if args is None else tuple(args))
    times = np.asarray(ans.t, dtype=float)
    rows = np.broadcast_to(np.asarray(g_y, dtype=float), ans.y.shape).T
    y = _state_of(y0, "scipy.integrate.solve_ivp")
    s = _cached((g, ans, fun, y0, args),
                lambda: sweep(rhs, _solver(method), y, float(t_span[0]), times, rows))
    if part == "y0":
        return _like(s.y0_bar, y0)
    return _args_bar(rhs, s.p_bar, args)


def is_ode_result(x: Any) -> bool:
    """Whether x is what solve_ivp returns (checked without importing SciPy)."""
    t = type(x)
    return t.__name__ == "OdeResult" and (t.__module__ or "").startswith("scipy.integrate")


def ode_result_field_adjoint(g: Any, result: Any, name: str) -> dict:
    """Adjoint of the field read sol.name of solve_ivp's result: a dict over its fields, g
    at y; sol.t (the output times) is passive, and so are the fields that hold no floats."""
    if name not in ("y", "t") and not _is_zero(g) and carries_floats(result.get(name)):
        raise UnsupportedArgument(
            f"the gradient of sol.{name} of scipy.integrate.solve_ivp's result sol: only sol.y, "
            "the solution at the output times, carries one (pass t_eval for the times you "
            "need)")
    return {k: g if k == name == "y" else 0.0 for k in result}
