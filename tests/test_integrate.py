"""scipy.integrate.odeint and solve_ivp inside a differentiated function, as people fit ODEs.

Each program is checked against central differences (adjoint.testing.check_grads) with
respect to the initial state and the parameters passed in `args`, and, for the exponential
decay y = y0 exp(-k t), against its exact gradient. The primal solves use tight tolerances,
so that central differences of the solution are accurate (the adjoint's own solves use rtol
1e-10 whatever the primal's). Then the forms that are refused, and why.
"""

import dataclasses
import functools

import numpy as np
import pytest

import adjoint
from adjoint import rules
from adjoint.errors import MissingRule, UnsupportedArgument, UnsupportedSyntax
from adjoint.testing import check_grads

pytest.importorskip("scipy.integrate")
from scipy.integrate import odeint, solve_ivp  # noqa: E402  (as user code imports them)

TIGHT = 1e-11
T = np.linspace(0.0, 3.0, 7)
OBS = 2.0 * np.exp(-0.8 * T) + np.array([0.03, -0.02, 0.01, 0.02, -0.01, 0.0, 0.01])
T_LV = np.linspace(0.0, 4.0, 9)
T_OSC = np.linspace(0.5, 4.0, 8)


# ---- right-hand sides, at module level as the compiler requires of a function passed on

def decay(y, t, k):
    return -k * y


def decay_t(t, y, k):
    return -k * y


def lotka_volterra(z, t, alpha, beta, delta, gamma):
    prey, pred = z
    return [alpha * prey - beta * prey * pred, delta * prey * pred - gamma * pred]


def lotka_volterra_t(t, z, alpha, beta, delta, gamma):
    return lotka_volterra(z, t, alpha, beta, delta, gamma)


LV_DATA = odeint(lotka_volterra, [10.0, 5.0], T_LV, args=(1.1, 0.4, 0.1, 0.4)) * 1.03


def oscillator(t, state, omega, zeta):
    x, v = state
    return np.array([v, -2.0 * zeta * omega * v - omega ** 2 * x])


def restoring(theta, k):
    return -k * np.sin(theta)


def pendulum(y, t, k, c):  # calls a helper of its own
    theta, omega = y
    return [omega, restoring(theta, k) - c * omega]


def oscillator_theta(t, state, theta):
    return np.array([state[1], -theta[0] * state[0] - theta[1] * state[1]])


@dataclasses.dataclass(frozen=True)
class Spring:
    stiffness: float
    damping: float
    label: str = "spring"


def spring(t, state, p):
    return np.array([state[1], -p.stiffness * state[0] - p.damping * state[1]])


def forced(t, y, lam, w):  # stiff for large lam
    return np.array([-lam * (y[0] - np.cos(w * t)), y[0] - 0.5 * y[1]])


FORCED_PARTIAL = functools.partial(forced, w=2.0)


# ---- the programs

def decay_fit_odeint(y0, k):
    y = odeint(decay, y0, T, args=(k,), rtol=TIGHT, atol=TIGHT)
    return np.sum((y[:, 0] - OBS) ** 2)


def decay_fit_solve_ivp(y0, k):
    sol = solve_ivp(decay_t, (0.0, 3.0), [y0], t_eval=T, args=(k,), rtol=TIGHT, atol=TIGHT)
    return np.sum((sol.y[0] - OBS) ** 2)


def decay_exact_gradient(y0, k):
    e = np.exp(-k * T)
    r = 2 * (y0 * e - OBS)
    return np.sum(r * e), np.sum(r * y0 * -T * e)


def lotka_volterra_fit(z0, alpha, beta, delta, gamma):
    z = odeint(lotka_volterra, z0, T_LV, args=(alpha, beta, delta, gamma), rtol=TIGHT,
               atol=TIGHT)
    return np.mean((np.log(z) - np.log(LV_DATA)) ** 2)


def lotka_volterra_final(x0, y0, alpha, beta, delta, gamma):
    sol = solve_ivp(lotka_volterra_t, (0.0, 4.0), [x0, y0], t_eval=T_LV,
                    args=(alpha, beta, delta, gamma), rtol=TIGHT, atol=TIGHT)
    final = sol.y[:, -1]
    return final[0] * final[1] + np.sum(sol.y[0] - LV_DATA[:, 0]) ** 2 / 100


def oscillator_energy(state0, omega, zeta):
    sol = solve_ivp(oscillator, (0.0, 4.0), state0, t_eval=T_OSC, args=(omega, zeta),
                    rtol=TIGHT, atol=TIGHT)
    x, v = sol.y
    return np.sum(x ** 2) + 0.5 * v[-1] ** 2


def pendulum_swing(theta0, k, c):
    y = odeint(pendulum, np.array([theta0, 0.0]), T, args=(k, c), rtol=TIGHT, atol=TIGHT)
    return np.sum(np.cos(y[:, 0]))


def oscillator_array_params(theta):
    sol = solve_ivp(oscillator_theta, (0.0, 4.0), [1.0, 0.0], t_eval=T_OSC, args=(theta,),
                    rtol=TIGHT, atol=TIGHT)
    return np.sum(sol["y"][0] ** 2)


def spring_record(p, state0):
    final = solve_ivp(spring, (0.0, 3.0), state0, args=(p,), rtol=TIGHT, atol=TIGHT).y[:, -1]
    return final @ final


def forced_radau(y0, lam):
    sol = solve_ivp(forced, (0.0, 1.0), y0, method="Radau", t_eval=[0.5, 1.0],
                    args=[lam, 2.0], rtol=TIGHT, atol=TIGHT)
    return np.sum(sol.y ** 2) * sol.t[-1]


def forced_partial(y0, lam):
    y, info = odeint(FORCED_PARTIAL, y0, T, args=(lam,), tfirst=True, rtol=TIGHT, atol=TIGHT,
                     full_output=True)
    return np.sum(y[-1] ** 2) + y[2, 1]


def decay_times(y0, k, t):
    y = odeint(decay, y0, t, args=(k,), rtol=TIGHT, atol=TIGHT)
    return np.sum((y[:, 0] - OBS) ** 2)


S0 = np.array([1.0, -0.5])
CASES = {  # name -> (function, arguments, wrt)
    "exponential decay fitted to data, odeint": (decay_fit_odeint, [1.7, 0.6], (0, 1)),
    "exponential decay fitted to data, solve_ivp": (decay_fit_solve_ivp, [1.7, 0.6], (0, 1)),
    "Lotka-Volterra, 4 parameters in args, odeint": (
        lotka_volterra_fit, [np.array([9.0, 5.5]), 1.0, 0.45, 0.12, 0.35], (0, 1, 2, 3, 4)),
    "Lotka-Volterra, y0 a list of scalars, sol.y[:, -1]": (
        lotka_volterra_final, [9.0, 5.5, 1.0, 0.45, 0.12, 0.35], (0, 1, 2, 3, 4, 5)),
    "damped oscillator, 2-vector state": (oscillator_energy, [S0, 2.0, 0.15], (0, 1, 2)),
    "pendulum whose rhs calls a helper": (pendulum_swing, [0.8, 3.0, 0.2], (0, 1, 2)),
    "parameters in an array, sol['y']": (oscillator_array_params, [np.array([4.0, 0.3])], 0),
    "parameters in a dataclass, no t_eval": (spring_record, [Spring(3.0, 0.4), S0], (0, 1)),
    "Radau on a stiff problem, args a list": (forced_radau, [S0, 50.0], (0, 1)),
    "partial as the rhs, full_output": (forced_partial, [S0, 5.0], (0, 1)),
    "odeint's output times": (decay_times, [1.7, 0.6, T + 0.2], (0, 1, 2)),
}


@pytest.mark.parametrize("name", CASES)
def test_against_central_differences(name):
    f, args, wrt = CASES[name]
    check_grads(f, args, wrt, eps=1e-4, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f", [decay_fit_odeint, decay_fit_solve_ivp])
def test_exponential_decay_exact_gradient(f, optimize):
    got = adjoint.grad(f, wrt=(0, 1), optimize=optimize)(1.7, 0.6)
    np.testing.assert_allclose(got, decay_exact_gradient(1.7, 0.6), rtol=1e-7)
    assert all(type(g) is float for g in got)


def test_forward_value_is_the_solvers():
    args = [np.array([9.0, 5.5]), 1.0, 0.45, 0.12, 0.35]
    value, _ = adjoint.value_and_grad(lotka_volterra_fit, wrt=1)(*args)
    assert value == lotka_volterra_fit(*args)


def test_one_backward_solve_serves_y0_and_args(monkeypatch):
    from adjoint.runtime import integrate

    calls = []
    sweep = integrate.sweep
    monkeypatch.setattr(integrate, "sweep", lambda *a: calls.append(1) or sweep(*a))
    adjoint.grad(oscillator_energy, wrt=(0, 1, 2))(S0, 2.0, 0.15)
    assert len(calls) == 1


def test_rules_are_listed_under_scipy_integrate():
    assert rules.name_of(odeint) == "scipy.integrate.odeint"
    assert rules.name_of(solve_ivp) == "scipy.integrate.solve_ivp"
    assert set(rules.lookup(odeint).formulas) == {"y0", "args", "t"}
    assert set(rules.lookup(solve_ivp).formulas) == {"y0", "args"}


# ---- refused


def hit_half(t, y, k):
    return y[0] - 0.5


hit_half.terminal = True


def moving_end(y0, t1):
    return np.sum(solve_ivp(decay_t, (0.0, t1), y0, args=(0.5,)).y)


def moving_times(y0, s):
    return np.sum(solve_ivp(decay_t, (0.0, 3.0), y0, t_eval=T * s, args=(0.5,)).y)


def stops_at_event(y0, k):
    return np.sum(solve_ivp(decay_t, (0.0, 3.0), y0, args=(k,), events=hit_half).y)


def reads_events(y0, k):
    sol = solve_ivp(decay_t, (0.0, 3.0), y0, args=(k,), events=restoring_event)
    return np.sum(sol.y_events[0])


def restoring_event(t, y, k):
    return y[0] - 0.5


def inline_lambda(y0, k):
    return np.sum(odeint(lambda y, t: -k * y, y0, T))


def nested_rhs(y0, k):
    def rhs(y, t):
        return -k * y

    return np.sum(odeint(rhs, y0, T))


def tolerance_from_parameter(y0, k):
    return np.sum(solve_ivp(decay_t, (0.0, 3.0), y0, args=(k,), rtol=k * 1e-6).y)


REFUSED = {  # name -> (function, error, words of the message)
    "t_span carrying a derivative": (moving_end, MissingRule, "'t_span'"),
    "t_eval carrying a derivative": (moving_times, MissingRule, "'t_eval'"),
    "a terminal event": (stops_at_event, UnsupportedArgument, "terminal event"),
    "sol.y_events": (reads_events, UnsupportedArgument, "sol.y_events"),
    "a lambda as the rhs": (inline_lambda, UnsupportedSyntax, "lambda"),
    "a nested def as the rhs": (nested_rhs, UnsupportedSyntax, "module level"),
    "an option carrying a derivative": (tolerance_from_parameter, UnsupportedSyntax, "rtol"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused(name):
    f, error, words = REFUSED[name]
    with pytest.raises(error, match=words):
        adjoint.grad(f, wrt=(0, 1))(np.array([1.0, 2.0]), 0.7)


def test_complex_state_is_refused():
    from adjoint import runtime

    sol = solve_ivp(decay_t, (0.0, 1.0), [1.0 + 1.0j], args=(0.5,))
    with pytest.raises(UnsupportedArgument, match="complex"):
        runtime.solve_ivp_adjoint({"y": np.ones((1, len(sol.t)))}, sol, decay_t, (0.0, 1.0),
                                  [1.0 + 1.0j], args=(0.5,))
