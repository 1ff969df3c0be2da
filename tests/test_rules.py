"""Every rule in the table, against central differences over its domain table.

A rule without a domain entry fails here: adding a rule means saying where to test it.
"""

import math
import operator

import numpy as np
import pytest
from conftest import make_function
from domains import DOMAINS

from adjoint import rules
from adjoint.testing import check_grads

SAMPLERS = {
    "normal": lambda rng, shape: rng.normal(size=shape),
    "pos": lambda rng, shape: rng.uniform(0.5, 2.0, size=shape),
    "unit": lambda rng, shape: rng.uniform(-0.8, 0.8, size=shape),
    "gt1": lambda rng, shape: rng.uniform(1.2, 3.0, size=shape),
    "away": lambda rng, shape: rng.choice([-1, 1], size=shape) * rng.uniform(0.5, 2, size=shape),
}


def sample(spec, rng):
    domain, shape = spec if isinstance(spec[0] if spec else None, str) else ("normal", spec)
    value = SAMPLERS[domain](rng, shape)
    return float(value) if shape == () else value


def cases():
    for fn, entries in DOMAINS.items():
        for k, (expr, inputs) in enumerate(entries):
            yield pytest.param(fn, expr, inputs, id=f"{rules.name_of(fn)}-{k}")


@pytest.mark.parametrize("fn,expr,inputs", list(cases()))
def test_rule(fn, expr, inputs, optimize):
    rng = np.random.default_rng(sum(map(ord, expr)))
    args = {name: sample(spec, rng) for name, spec in inputs.items()}
    namespace = {"np": np, "math": math, "operator": operator}
    value = eval(expr, namespace, dict(args))
    weights = rng.normal(size=np.shape(value))
    params = ", ".join(args)
    f = make_function(f"def f({params}):\n    return np.sum(({expr}) * weights)\n",
                      {**namespace, "weights": weights})
    check_grads(f, list(args.values()), tuple(args), optimize=optimize, rtol=1e-5, atol=1e-6)


def test_every_rule_has_a_domain():
    missing = [rules.name_of(fn) for fn in rules.RULES if fn not in DOMAINS]
    assert not missing, f"rules without a domain entry in tests/domains.py: {missing}"


def test_every_formula_parses():
    for fn in rules.RULES:
        rule = rules.lookup(fn)
        for param in rule.formulas:
            assert param in rule.signature.parameters, (rules.name_of(fn), param)
            rule.template(param)
