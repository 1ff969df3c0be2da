"""The rules of scipy.special, which join the table once SciPy is imported.

SciPy's ufuncs name their parameters x1, x2: `SPECIAL_SIGNATURES` gives those of the
functions below SciPy's own names, so that a message says which one (the order v of iv). An
order (v, n), gammainc's and gammaincc's shape a and betainc's a and b have no formula: a
value that carries a derivative there is refused.
"""

from __future__ import annotations

from typing import Any

from .table import SIGNATURES

# the parameters of scipy.special's ufuncs, by SciPy's names
SPECIAL_SIGNATURES = {
    "iv": "v, z, /", "ive": "v, z, /", "jv": "v, z, /", "yv": "v, z, /", "kv": "v, z, /",
    "kve": "v, z, /", "yn": "n, x, /", "gammainc": "a, x, /", "gammaincc": "a, x, /",
    "beta": "a, b, /", "betaln": "a, b, /", "betainc": "a, b, x, /", "betaincc": "a, b, x, /",
}

# fmt: off


def scipy_rules() -> dict[Any, dict[str, str]]:
    """The rules of scipy.special, registered by `load_optional` when SciPy is imported (which
    names the parameters of its ufuncs in SIGNATURES too)."""
    try:
        import scipy.special as sp
    except ImportError:
        return {}
    SIGNATURES.update({getattr(sp, name): text for name, text in SPECIAL_SIGNATURES.items()
                       if hasattr(sp, name)})
    rules = {
        sp.expit:          {"x": "g * ans * (1 - ans)"},
        sp.logit:          {"x": "g / (x * (1 - x))"},
        sp.log_expit:      {"x": "-g * np.expm1(ans)"},
        sp.erf:            {"x": "g * (2 / math.sqrt(math.pi)) * np.exp(-x * x)"},
        sp.erfc:           {"x": "-g * (2 / math.sqrt(math.pi)) * np.exp(-x * x)"},
        sp.erfinv:         {"x": "g * (math.sqrt(math.pi) / 2 * np.exp(ans * ans))"},
        sp.ndtr:           {"x": "g * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)"},
        sp.log_ndtr:       {"x": "g * np.exp(-0.5 * x * x - ans) / math.sqrt(2 * math.pi)"},
        sp.ndtri:          {"x": "g * (math.sqrt(2 * math.pi) * np.exp(0.5 * ans * ans))"},
        sp.gamma:          {"x": "g * (ans * runtime.polygamma(0, x))"},
        sp.gammaln:        {"x": "g * runtime.polygamma(0, x)"},
        sp.digamma:        {"x": "g * runtime.polygamma(1, x)"},
        sp.xlogy:          {"x1": "g * np.log(x2)", "x2": "g * x1 / x2"},
        sp.xlog1py:        {"x1": "g * np.log1p(x2)", "x2": "g * x1 / (1 + x2)"},
        sp.logsumexp:      {"a": "runtime.logsumexp_adjoint(g, a, ans, axis, b, keepdims, return_sign)",
                            "b": "runtime.logsumexp_adjoint(g, a, ans, axis, b, keepdims, return_sign, of_b=True)"},
        sp.softmax:        {"x": "runtime.softmax_adjoint(g, ans, axis)"},
        sp.log_softmax:    {"x": "runtime.log_softmax_adjoint(g, ans, axis)"},
        sp.erfcinv:        {"x": "g * (-math.sqrt(math.pi) / 2 * np.exp(ans * ans))"},
        sp.polygamma:      {"x": "runtime.unbroadcast(g * runtime.polygamma(n + 1, x), x)"},
        sp.rgamma:         {"x": "g * runtime.rgamma_derivative(x, ans)"},
        sp.gammasgn:       {"x": "runtime.zeros_like(x)"},
        sp.gammainc:       {"x": "g * runtime.gammainc_derivative(a, x)"},
        sp.gammaincc:      {"x": "-g * runtime.gammainc_derivative(a, x)"},
        sp.beta:           {"a": "g * ans * (runtime.polygamma(0, a) - runtime.polygamma(0, a + b))",
                            "b": "g * ans * (runtime.polygamma(0, b) - runtime.polygamma(0, a + b))"},
        sp.betaln:         {"a": "g * (runtime.polygamma(0, a) - runtime.polygamma(0, a + b))",
                            "b": "g * (runtime.polygamma(0, b) - runtime.polygamma(0, a + b))"},
        sp.betainc:        {"x": "g * runtime.betainc_derivative(a, b, x)"},
        sp.multigammaln:   {"a": "g * runtime.multigammaln_derivative(a, d)"},
    }
    # Bessel functions: with respect to the argument, from the neighbouring orders
    for name in ("iv", "ive", "jv", "yv", "kv", "kve"):
        rules[getattr(sp, name)] = {"z": f"g * runtime.bessel_derivative({name!r}, v, z)"}
    rules[sp.yn] = {"x": "g * runtime.bessel_derivative('yn', n, x)"}
    for name, (family, order) in {
            "i0": ("iv", 0), "i1": ("iv", 1), "i0e": ("ive", 0), "i1e": ("ive", 1),
            "j0": ("jv", 0), "j1": ("jv", 1), "y0": ("yv", 0), "y1": ("yv", 1),
            "k0": ("kv", 0), "k1": ("kv", 1), "k0e": ("kve", 0), "k1e": ("kve", 1)}.items():
        rules[getattr(sp, name)] = {"x": f"g * runtime.bessel_derivative({family!r}, {order}, x)"}
    if hasattr(sp, "betaincc"):  # SciPy 1.11
        rules[sp.betaincc] = {"x": "-g * runtime.betainc_derivative(a, b, x)"}
    return rules
# fmt: on
