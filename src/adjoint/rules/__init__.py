"""rules: derivative rules as data. One table, one primitive per line.

A rule maps each differentiable parameter of a function to a Python expression
for that parameter's contribution to the adjoint. The vocabulary:

    g        the adjoint of the result (for a function returning a tuple, a tuple
             with one adjoint per item, the number 0.0 for an item nothing reads)
    ans      the result
    x, axis  the function's parameters, by the names in its signature
             (SIGNATURES gives them where inspect cannot)
    k        inside the formula of a *args parameter: the position of the argument
    np, math, runtime   modules, spelled in emitted code as the user imported them

A formula for a sequence parameter (np.concatenate's `arrays`) returns one adjoint
per item. Parameters without a formula are not differentiable: passing a value
that depends on `wrt` there is refused. Rules are keyed by function object, so
every alias of `np.sin` finds the same entry. Operators map to `operator.*`.
Method calls (x.sum(axis=1)) and attributes (x.T) use the rule of the function in
METHODS and ATTRS. PASSIVE functions have zero derivative; their results carry none.
scipy.special's rules join the table when SciPy is imported (load_optional), and so do
scipy.stats' (stats.py): a distribution's method, a new bound method at each read, is keyed
by the distribution's class and the method's name (DistributionMethod, `method_key`), and
named scipy.stats.norm.logpdf.
scipy.integrate's odeint and solve_ivp join it too (integrate.py): differentiated by the
adjoint-state method in runtime/integrate.py, which differentiates the user's right-hand side
with adjoint itself.

Elementwise binary functions (operators, two-input ufuncs) broadcast: the
compiler sums each contribution back to the input's shape (`runtime.unbroadcast`)
unless it can prove the shapes equal. Other rules sum back themselves.

Conventions. At a point where a function is not differentiable, the gradient is
the midpoint of its subgradients: ties in max/min (np.max, np.maximum, max(),
norms with ord=inf) share g equally; abs, norms and std give 0 at 0; clip and
where send g to the input selected, ends of the interval included. Where a
derivative is infinite or NaN at a finite input (sqrt and log at 0, division by
0, exp overflowing), formulas multiply with runtime.mul/div, which keep a zero
adjoint zero, so np.where and np.clip send nothing from the branch not taken
(runtime.where_adjoint). Functions differentiable only for some arguments refuse
the others when the gradient runs (adjoint.errors.UnsupportedArgument, also a
NotImplementedError, naming the function and the argument).

Users add entries with the call the built-ins use: `register(fn, x="...")`, or
`register(fn, x=helper)` with a function for the hard cases.

The modules: elementwise, reductions, linalg, shaping, special, stats and integrate hold the
rules by domain;
table joins them into RULES (with PASSIVE, SIGNATURES, METHODS and ATTRS); query looks rules
up; registration adds users' rules; templates and folding fill formulas in.
"""

from __future__ import annotations

from typing import Any

from .folding import _pattern, fold, is_zero_product, negation
from .integrate import integrate_rules
from .linalg import FIELDS
from .query import (
    BROADCASTING_EXTRA,
    Rule,
    broadcasts,
    is_passive,
    load_optional,
    lookup,
    name_of,
    signature_of,
)
from .registration import LIBRARIES, REGISTERED, register, registration_hint
from .shaping import AXIS_CONCATENATOR
from .special import scipy_rules
from .stats import DistributionMethod, method_key, stats_rules
from .table import (
    ARRAY_ATTRS,
    ATTRS,
    METHOD_SIGNATURES,
    METHODS,
    PASSIVE,
    PASSIVE_ATTRS,
    RULES,
    SIGNATURES,
    is_field,
    reads_array,
)
from .templates import MODULES, Slot, Template, instantiate, template

__all__ = [
    # the table (shared objects: add to them, do not rebind them, except RULES, read at each use)
    "ARRAY_ATTRS", "ATTRS", "AXIS_CONCATENATOR", "BROADCASTING_EXTRA", "FIELDS", "LIBRARIES",
    "METHODS", "METHOD_SIGNATURES", "MODULES", "PASSIVE", "PASSIVE_ATTRS", "REGISTERED", "RULES",
    "SIGNATURES",
    # lookup and registration
    "DistributionMethod", "Rule", "broadcasts", "is_field", "is_passive", "load_optional",
    "reads_array",
    "integrate_rules", "lookup", "method_key", "name_of", "register", "registration_hint",
    "scipy_rules",
    "signature_of", "stats_rules", "stop_gradient",
    # formulas
    "Slot", "Template", "_pattern", "fold", "instantiate", "is_zero_product", "negation",
    "template",
]


# here, so that messages and the listing name it adjoint.rules.stop_gradient, as they always have
def stop_gradient(x: Any) -> Any:
    """The value of `x`, through which no gradient flows."""
    return x


PASSIVE.add(stop_gradient)
