"""The rules of NumPy's reductions and cumulative functions: sum, mean, max, var, cumsum."""

from __future__ import annotations

from typing import Any

import numpy as np

# fmt: off
REDUCTIONS: dict[Any, dict[str, str]] = {
    # reductions
    # (max/min: ties share the gradient equally, runtime.extremum_adjoint)
    np.sum:            {"a": "runtime.sum_adjoint(g, a, axis=axis, keepdims=keepdims, where=where)"},
    np.nansum:         {"a": "runtime.nansum_adjoint(g, a, axis=axis, keepdims=keepdims, where=where)"},
    np.mean:           {"a": "runtime.mean_adjoint(g, a, axis=axis, keepdims=keepdims, where=where)"},
    np.nanmean:        {"a": "runtime.nanmean_adjoint(g, a, axis=axis, keepdims=keepdims, where=where)"},
    np.average:        {"a": "runtime.average_adjoint(g, a, ans, axis, weights, returned, keepdims)",
                        "weights": "runtime.average_adjoint(g, a, ans, axis, weights, returned, keepdims, of='weights')"},
    np.prod:           {"a": "runtime.prod_adjoint(g, a, ans, axis=axis, keepdims=keepdims, initial=initial, where=where)"},
    np.max:            {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.min:            {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.amax:           {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.amin:           {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.nanmax:         {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.nanmin:         {"a": "runtime.extremum_adjoint(g, a, ans, axis=axis, keepdims=keepdims, where=where)"},
    np.ptp:            {"a": "runtime.ptp_adjoint(g, a, axis=axis, keepdims=keepdims)"},
    np.var:            {"a": "runtime.var_adjoint(g, a, axis=axis, ddof=ddof, keepdims=keepdims, mean=mean, correction=correction, where=where)"},
    np.std:            {"a": "runtime.std_adjoint(g, a, ans, axis=axis, ddof=ddof, keepdims=keepdims, mean=mean, correction=correction, where=where)"},
    np.cov:            {"m": "runtime.cov_adjoint(g, m, y, rowvar, bias, ddof, fweights, aweights)"},
    np.cumsum:         {"a": "runtime.cumsum_adjoint(g, a, axis)"},
    np.cumprod:        {"a": "runtime.cumprod_adjoint(g, a, ans, axis)"},
}
# fmt: on
