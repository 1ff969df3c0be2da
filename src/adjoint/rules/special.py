"""The rules of scipy.special, which join the table once SciPy is imported."""

from __future__ import annotations

from typing import Any

# fmt: off


def scipy_rules() -> dict[Any, dict[str, str]]:
    """The rules of scipy.special, registered by `load_optional` when SciPy is imported."""
    try:
        import scipy.special as sp
    except ImportError:
        return {}
    return {
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
    }
# fmt: on
