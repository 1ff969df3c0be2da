"""Every rule in the table, against central differences over its domain table.

A rule without a domain entry fails here: adding a rule means saying where to test it.
"""

import math
import operator
import re
import warnings

import numpy as np
import pytest
from conftest import make_function
from domains import DOMAINS, HAVE_SCIPY, scipy

from adjoint import rules, runtime
from adjoint.errors import UnsupportedArgument
from adjoint.testing import check_grads

SAMPLERS = {
    "normal": lambda rng, shape: rng.normal(size=shape),
    "pos": lambda rng, shape: rng.uniform(0.5, 2.0, size=shape),
    "unit": lambda rng, shape: rng.uniform(-0.8, 0.8, size=shape),
    "gt1": lambda rng, shape: rng.uniform(1.2, 3.0, size=shape),
    "away": lambda rng, shape: rng.choice([-1, 1], size=shape) * rng.uniform(0.5, 2, size=shape),
    "spd": lambda rng, shape: _spd(rng, shape),
    "sym": lambda rng, shape: _sym(rng, shape),
}
NAMESPACE = {"np": np, "math": math, "operator": operator, "scipy": scipy, "runtime": runtime}


def _spd(rng, shape):
    """A well-conditioned symmetric positive definite matrix (or stack of them)."""
    a = rng.normal(size=shape)
    return a @ np.swapaxes(a, -1, -2) / shape[-1] + np.eye(shape[-1])


def _sym(rng, shape):
    """A symmetric matrix with well-separated eigenvalues."""
    q, _ = np.linalg.qr(rng.normal(size=shape))
    w = np.arange(1.0, shape[-1] + 1) * rng.choice([-1, 1], size=shape[:-1])
    return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)


def sample(spec, rng):
    domain, shape = spec if isinstance(spec[0] if spec else None, str) else ("normal", spec)
    value = SAMPLERS[domain](rng, shape)
    return float(value) if shape == () else value


def cases():
    for fn, entries in DOMAINS.items():
        for k, entry in enumerate(entries):
            expr, inputs, options = (*entry, {})[:3]
            marks = []
            if "xfail" in options:
                marks.append(pytest.mark.xfail(strict=True, reason=options["xfail"]))
            yield pytest.param(fn, expr, inputs, options, id=f"{rules.name_of(fn)}-{k}",
                               marks=marks)
    if not HAVE_SCIPY:
        yield pytest.param(None, "", {}, {}, id="scipy.special",
                           marks=pytest.mark.skip(reason="SciPy is not installed"))


def body(expr: str) -> tuple[list[str], str]:
    """An entry's statements and its final expression: 'a, b = f(x)\\nb' is both."""
    *statements, last = expr.strip().splitlines()
    return [s.strip() for s in statements], last.strip()


@pytest.mark.parametrize("fn,expr,inputs,options", list(cases()))
def test_rule(fn, expr, inputs, options, optimize):
    rng = np.random.default_rng(sum(map(ord, expr)))
    args = {name: sample(spec, rng) for name, spec in inputs.items()}
    statements, last = body(expr)
    scope = dict(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec("\n".join(statements), NAMESPACE, scope)
        value = eval(last, NAMESPACE, scope)
    weights = rng.normal(size=np.shape(value))
    params = ", ".join(args)
    lines = "".join(f"    {s}\n" for s in statements)
    f = make_function(f"def f({params}):\n{lines}    return np.sum(({last}) * weights)\n",
                      {**NAMESPACE, "weights": weights})
    wrt = options.get("wrt", tuple(args))
    with warnings.catch_warnings():
        if options.get("quiet"):  # a form NumPy deprecates, a NaN on purpose
            warnings.simplefilter("ignore")
        check_grads(f, list(args.values()), wrt, optimize=optimize,
                    rtol=options.get("rtol", 1e-5), atol=1e-6)


def test_every_rule_has_a_domain():
    rules.load_optional(import_=True)
    missing = [rules.name_of(fn) for fn in rules.RULES
               if fn not in DOMAINS and fn not in rules.REGISTERED]
    assert not missing, f"rules without a domain entry in tests/domains.py: {missing}"


def test_every_formula_parses():
    rules.load_optional(import_=True)
    for fn in rules.RULES:
        rule = rules.lookup(fn)
        for param in rule.formulas:
            assert param in rule.signature.parameters, (rules.name_of(fn), param)
            rule.template(param)


# ---- np.where and np.clip: the branch not taken sends no NaN or inf into the gradient

NAN_SAFE = [
    # (body, x, expected gradient): at the boundary and in the unselected region
    ("np.where(x > 0, np.sqrt(x), 0.0)", [-1.0, 0.0, 1.0, 4.0], [0.0, 0.0, 0.5, 0.25]),
    ("np.where(x > 0, x ** 0.5, 0.0)", [-1.0, 0.0, 4.0], [0.0, 0.0, 0.25]),
    ("np.where(x > 0, np.log(x), 0.0)", [-1.0, 0.0, 2.0], [0.0, 0.0, 0.5]),
    ("np.where(x <= 0, 0.0, np.log(x))", [-1.0, 0.0, 2.0], [0.0, 0.0, 0.5]),
    ("np.where(x > 0, np.log(x), x)", [-1.0, 0.0, 2.0], [1.0, 1.0, 0.5]),
    ("np.where(x != 0, 1.0 / x, 0.0)", [0.0, 2.0], [0.0, -0.25]),
    ("np.where(x > -1, np.arcsin(x / 2), 0.0)", [-3.0, 0.0], [0.0, 0.5]),
    ("np.where(x > 30, x, np.log1p(np.exp(x)))", [1000.0, 0.0], [1.0, 0.5]),
    ("np.where(x < 1, np.sqrt(1 - x), 0.0)", [1.0, 2.0, -3.0], [0.0, 0.0, -0.25]),
    ("np.clip(np.exp(x), 0.0, 10.0)", [1000.0, 1.0], [0.0, math.e]),
    ("np.sqrt(np.clip(x, 1.0, None))", [-1.0, 4.0], [0.0, 0.25]),
]


@pytest.mark.parametrize("expr,x,expected", NAN_SAFE, ids=[c[0] for c in NAN_SAFE])
def test_unselected_branch_sends_no_nan(expr, x, expected, optimize):
    import adjoint

    f = make_function(f"def f(x):\n    return np.sum({expr})\n")
    with np.errstate(all="ignore"):
        g = adjoint.grad(f, optimize=optimize)(np.array(x))
    np.testing.assert_allclose(g, expected, rtol=1e-12)


def test_selected_infinite_derivative_stays_infinite():
    """The convention spares only the branch not taken: sqrt at 0, selected, is infinite."""
    import adjoint

    f = make_function("def f(x):\n    return np.sum(np.where(x >= 0, np.sqrt(x), 0.0))\n")
    with np.errstate(all="ignore"):
        g = adjoint.grad(f)(np.array([0.0, -1.0]))
    assert np.isinf(g[0]) and g[1] == 0.0


def test_where_on_scalars():
    import adjoint

    f = make_function("def f(x):\n    return np.where(x > 0, np.log(x), 0.0) * 1.0\n")
    with np.errstate(all="ignore"):
        assert adjoint.grad(f)(-1.0) == 0.0
        assert adjoint.grad(f)(2.0) == 0.5


def test_every_method_form_has_a_domain():
    """x.sum(...), x.T: each method and attribute the table maps is tested in that form."""
    exprs = [entry[0] for entries in DOMAINS.values() for entry in entries]
    missing = []
    for name, fn in [*rules.METHODS.items(), *rules.ATTRS.items()]:
        call = r"\(" if name in rules.METHODS else r"\b"
        receiver = r"(\)|\b(?!np\.|math\.|scipy\.)[a-z_]\w*(\[[^]]*\])?)"
        form = re.compile(rf"{receiver}\.{name}{call}")
        if not rules.is_passive(fn) and not any(form.search(e) for e in exprs):
            missing.append(name)
    assert not missing, f"method forms without a domain entry: {missing}"


# ---- arguments a rule does not support are refused when the gradient runs, never wrong

REFUSED = [
    ("w, v = np.linalg.eigh(x)\nreturn np.sum(v ** 3)", np.eye(3), "repeated eigenvalue"),
    ("return np.sum(np.pad(x, 1, mode='linear_ramp'))", np.ones(3), "mode='linear_ramp'"),
    ("return np.sum(np.pad(x, 1, mode='mean'))", np.ones(3), "mode='mean'"),
    ("return np.sum(np.pad(x, 1, mode='reflect', reflect_type='odd'))", np.ones(3),
     "reflect_type='odd'"),
    ("q, r = np.linalg.qr(x, mode='complete')\nreturn np.sum(q)", np.ones((3, 2)),
     "mode='complete'"),
    ("return max(x[0], x[1], key=abs)", np.ones(2), "key="),
    ("return np.var(x, where=x > 0)", np.ones(3), "where="),
    ("d = 'c'\nreturn np.sum(np.r_[d, x, x])", np.ones(3), "the directive 'c'"),
    ("u, s, vh = np.linalg.svd(x)\nreturn np.sum(u ** 3)", np.array([[1.0, 2.0], [3.0, 4.0],
                                                                    [5.0, 7.0]]),
     "full_matrices=True through the columns of u"),
    ("u, s, vh = np.linalg.svd(x)\nreturn np.sum(vh ** 3)", np.ones((2, 3)) + np.eye(2, 3),
     "full_matrices=True through the rows of vh"),
    ("u, s, vh = np.linalg.svd(x)\nreturn np.sum(u ** 3)", np.eye(3), "repeated singular value"),
    ("u, s, vh = np.linalg.svd(x, full_matrices=False)\nreturn np.sum(u ** 3)",
     np.eye(3, 2) * [1.0, 0.0], "zero singular value"),
]


@pytest.mark.parametrize("body,x,message", REFUSED, ids=[c[2] for c in REFUSED])
def test_refused_arguments(body, x, message):
    import adjoint

    lines = "".join(f"    {line}\n" for line in body.splitlines())
    f = make_function(f"def f(x):\n{lines}")
    with pytest.raises(UnsupportedArgument, match=re.escape(message)) as info, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.r_['c', ...]: np.matrix
        adjoint.grad(f)(x)
    assert isinstance(info.value, adjoint.AdjointError)
    assert isinstance(info.value, NotImplementedError)  # as before it was an AdjointError


# ---- orders, shapes and spacings have no formula: a value that carries a derivative there is
# refused when the gradient is compiled, naming the parameter

CONSTANT_PARAMETERS = [
    ("scipy.special.iv(x[0], x[1])", "argument 'v' of scipy.special.iv"),
    ("scipy.special.ive(x[0], 1.0)", "argument 'v' of scipy.special.ive"),
    ("scipy.special.jv(x[0], 1.0)", "argument 'v' of scipy.special.jv"),
    ("scipy.special.yn(x[0], 1.0)", "argument 'n' of scipy.special.yn"),
    ("scipy.special.polygamma(x[0], 2.0)", "argument 'n' of scipy.special.polygamma"),
    ("scipy.special.gammainc(x[0], x[1])", "argument 'a' of scipy.special.gammainc"),
    ("scipy.special.gammaincc(x[0], 2.0)", "argument 'a' of scipy.special.gammaincc"),
    ("scipy.special.betainc(x[0], 2.0, 0.5)", "argument 'a' of scipy.special.betainc"),
    ("scipy.special.betainc(2.0, x[1], 0.5)", "argument 'b' of scipy.special.betainc"),
    ("scipy.special.multigammaln(3.0, x[0])", "argument 'd' of scipy.special.multigammaln"),
    ("np.gradient(x, x[0])", "argument 'varargs' of np.gradient"),
]


@pytest.mark.skipif(not HAVE_SCIPY, reason="SciPy is not installed")
@pytest.mark.parametrize("expr,message", CONSTANT_PARAMETERS,
                         ids=[c[1] for c in CONSTANT_PARAMETERS])
def test_constant_parameters_are_refused(expr, message):
    import adjoint
    from adjoint.errors import MissingRule

    f = make_function(f"def f(x):\n    return np.sum({expr})\n", {"scipy": scipy})
    with pytest.raises(MissingRule, match=re.escape(message)):
        adjoint.grad(f)(np.array([1.5, 0.7]))


@pytest.mark.skipif(not HAVE_SCIPY, reason="SciPy is not installed")
def test_rgamma_at_the_poles_of_gamma():
    """1 / gamma(x) is 0 at x = 0, -1, -2, ...: its derivative there is (-1)^n n!."""
    import adjoint

    f = make_function("def f(x):\n    return np.sum(scipy.special.rgamma(x))\n",
                      {"scipy": scipy})
    x = np.array([0.0, -1.0, -2.0, -3.0])
    h = 1e-6
    central = (scipy.special.rgamma(x + h) - scipy.special.rgamma(x - h)) / (2 * h)
    np.testing.assert_allclose(adjoint.grad(f)(x), [1.0, -1.0, 2.0, -6.0])
    np.testing.assert_allclose(central, [1.0, -1.0, 2.0, -6.0], rtol=1e-6)


def test_dict_get_of_a_parameter_dict():
    """d.get(key, default) of a dict argument: the gradient is a dict, zeros at the keys not
    read; a default read where the key is missing gets the adjoint."""
    import adjoint

    f = make_function("def f(p, w0):\n    return np.sum(p.get('w', w0) ** 2) + "
                      "np.sum(p.get('v', w0) * p['b'])\n")
    p = {"w": np.array([1.0, 2.0]), "b": np.array([3.0, -1.0])}
    w0 = np.array([0.5, 0.5])
    gp, gw0 = adjoint.grad(f, wrt=(0, 1))(p, w0)
    np.testing.assert_allclose(gp["w"], 2 * p["w"])
    np.testing.assert_allclose(gp["b"], w0)
    np.testing.assert_allclose(gw0, p["b"])


def test_eigenvalues_alone_are_fine_at_repeated_eigenvalues():
    import adjoint

    f = make_function("def f(x):\n    w, v = np.linalg.eigh(x)\n    return np.sum(w ** 2)\n")
    np.testing.assert_allclose(adjoint.grad(f)(np.eye(3)), 2 * np.eye(3))
