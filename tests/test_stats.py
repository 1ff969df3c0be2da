"""scipy.stats distributions as programs call them: `from scipy.stats import norm` then
`norm.logpdf(x, mu, sigma)`, `import scipy.stats as st; st.t.logpdf(x, df, loc, scale)`,
keywords and positionals, frozen distributions in one expression.

Each program is checked against central differences with respect to each argument that
carries a derivative (adjoint.testing.check_grads), and the value of the emitted forward
sweep against SciPy's own. The rules themselves are also in tests/domains.py, like every
rule; here are the spellings, the messages and registration.
"""

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint import rules
from adjoint.testing import check_grads

st = pytest.importorskip("scipy.stats")
from scipy.stats import (  # noqa: E402  (the way user code imports them)
    beta,
    dirichlet,
    gamma,
    multivariate_normal,
    norm,
    poisson,
    t,
)

NAMESPACE = {"st": st, "norm": norm, "t": t, "gamma": gamma, "beta": beta, "poisson": poisson,
             "dirichlet": dirichlet, "multivariate_normal": multivariate_normal}

RNG = np.random.default_rng(11)
X = RNG.normal(size=5)
POS = RNG.uniform(0.5, 2.0, size=5)
UNIT = RNG.uniform(0.1, 0.9, size=5)
A = RNG.normal(size=(3, 3))
SPD = A @ A.T / 3 + np.eye(3)
PTS = RNG.normal(size=(4, 3))
SIMPLEX = RNG.uniform(0.5, 2.0, size=3)
KS = np.array([0, 1, 2, 5, 3])

# name -> (the function's body, its arguments, wrt): a parameter list follows from args
CASES = {
    # norm: each method, positional and keyword loc/scale, both import styles
    "norm.logpdf positional": ("np.sum(norm.logpdf(x, mu, sigma))", dict(x=X, mu=0.3, sigma=1.7)),
    "norm.logpdf keywords": ("np.sum(norm.logpdf(x, loc=mu, scale=sigma))",
                             dict(x=X, mu=0.3, sigma=1.7)),
    "st.norm.logpdf": ("np.sum(st.norm.logpdf(x, mu, sigma))", dict(x=X, mu=X[::-1], sigma=POS)),
    "st.norm.logpdf scale only": ("np.sum(st.norm.logpdf(x, scale=sigma))",
                                  dict(x=X, sigma=1.3)),
    "norm.logpdf broadcasting": ("np.sum(norm.logpdf(x[:, None], mu, sigma))",
                                 dict(x=X, mu=X[:3], sigma=POS[:3])),
    "norm.logpdf scalars": ("norm.logpdf(x, mu, sigma) * 2.0", dict(x=0.4, mu=-0.2, sigma=0.8)),
    "norm.pdf": ("np.sum(norm.pdf(x, mu, sigma))", dict(x=X, mu=0.1, sigma=POS)),
    "norm.cdf": ("np.sum(norm.cdf(x, mu, sigma))", dict(x=X, mu=0.1, sigma=1.4)),
    "st.norm.cdf keywords": ("np.sum(st.norm.cdf(x, loc=mu, scale=sigma) ** 2)",
                             dict(x=X, mu=0.1, sigma=1.4)),
    "norm.logcdf": ("np.sum(norm.logcdf(x, mu, sigma))", dict(x=X, mu=0.2, sigma=POS)),
    "norm.logcdf far tail": ("np.sum(norm.logcdf(-20 * x, mu, sigma))",
                             dict(x=POS, mu=0.2, sigma=1.1)),
    "norm.sf": ("np.sum(norm.sf(x, mu, sigma))", dict(x=X, mu=-0.3, sigma=0.9)),
    "norm.logsf": ("np.sum(st.norm.logsf(x, loc=mu, scale=sigma))", dict(x=X, mu=-0.3, sigma=0.9)),
    "norm.logsf far tail": ("np.sum(norm.logsf(20 * x, mu))", dict(x=POS, mu=0.2)),
    # t, with respect to x, loc, scale and df
    "t.logpdf": ("np.sum(t.logpdf(x, df, loc, scale))", dict(x=X, df=4.5, loc=0.2, scale=1.3)),
    "st.t.logpdf keywords": ("np.sum(st.t.logpdf(x, df=nu, loc=mu, scale=s))",
                             dict(x=X, nu=POS + 2, mu=0.2, s=0.7)),
    "t.pdf": ("np.sum(t.pdf(x, df, loc, scale))", dict(x=X, df=3.0, loc=0.2, scale=1.3)),
    "t.cdf": ("np.sum(t.cdf(x, 3.0, loc, scale))", dict(x=X, loc=0.2, scale=1.3)),
    # gamma: shape a, x, loc and scale
    "gamma.logpdf": ("np.sum(gamma.logpdf(x, a, scale=scale))", dict(x=POS, a=2.5, scale=0.8)),
    "st.gamma.logpdf loc": ("np.sum(st.gamma.logpdf(x, a, loc, scale))",
                            dict(x=POS + 1, a=POS, loc=0.3, scale=1.2)),
    "gamma.pdf": ("np.sum(gamma.pdf(x, a, loc=0.0, scale=scale))", dict(x=POS, a=1.7, scale=1.5)),
    "gamma.sf": ("np.sum(gamma.logsf(x, 2.0, scale=scale))", dict(x=POS, scale=1.5)),
    # beta: a, b, x, loc, scale
    "beta.logpdf": ("np.sum(beta.logpdf(x, a, b))", dict(x=UNIT, a=2.5, b=POS)),
    "st.beta.logpdf loc scale": ("np.sum(st.beta.logpdf(x, a, b, loc=loc, scale=scale))",
                                 dict(x=UNIT, a=1.5, b=3.0, loc=-0.2, scale=1.5)),
    "beta.pdf": ("np.sum(beta.pdf(x, a, b))", dict(x=UNIT, a=POS, b=1.5)),
    "beta.cdf": ("np.sum(beta.cdf(x, 2.0, 3.0))", dict(x=UNIT)),
    # poisson: with respect to the rate
    "poisson.logpmf": ("np.sum(poisson.logpmf(k, mu))", dict(k=KS, mu=2.5), "mu"),
    "st.poisson.logpmf keyword": ("np.sum(st.poisson.logpmf(k, mu=rate))",
                                  dict(k=KS, rate=POS * 2), "rate"),
    "poisson.pmf": ("np.sum(poisson.pmf(k, mu))", dict(k=KS, mu=POS * 3), "mu"),
    "poisson.cdf": ("np.sum(poisson.cdf(k, mu))", dict(k=KS, mu=2.5), "mu"),
    # dirichlet: alpha and x (x on the simplex, as scipy insists)
    "dirichlet.logpdf": ("dirichlet.logpdf(x / np.sum(x), alpha)", dict(x=SIMPLEX, alpha=POS[:3])),
    "st.dirichlet.logpdf points": ("np.sum(st.dirichlet.logpdf(x / np.sum(x, axis=0), alpha))",
                                   dict(x=RNG.uniform(0.5, 2, size=(3, 4)), alpha=POS[:3])),
    "dirichlet.pdf": ("dirichlet.pdf(x / np.sum(x), alpha)", dict(x=SIMPLEX, alpha=POS[:3] + 1)),
    # multivariate_normal: x, mean and cov (as a matrix, a diagonal, a number)
    "multivariate_normal.logpdf": ("multivariate_normal.logpdf(x, mean, cov)",
                                   dict(x=X[:3], mean=X[2:], cov=SPD)),
    "multivariate_normal.logpdf rows": ("np.sum(multivariate_normal.logpdf(x, mean, cov))",
                                        dict(x=PTS, mean=X[:3], cov=SPD)),
    "st.multivariate_normal.logpdf keywords": (
        "np.sum(st.multivariate_normal.logpdf(x, mean=m, cov=c))", dict(x=PTS, m=X[:3], c=SPD)),
    "multivariate_normal.logpdf cholesky": (
        "np.sum(multivariate_normal.logpdf(x, mean, L @ L.T + np.eye(3)))",
        dict(x=PTS, mean=X[:3], L=A)),
    "multivariate_normal.logpdf diagonal": ("multivariate_normal.logpdf(x, mean, cov)",
                                            dict(x=X[:3], mean=X[2:], cov=POS[:3])),
    "multivariate_normal.logpdf number": ("np.sum(multivariate_normal.logpdf(x, mean, cov))",
                                          dict(x=PTS[:, :2], mean=X[:2], cov=1.3)),
    "multivariate_normal.pdf": ("multivariate_normal.pdf(x, mean, cov)",
                                dict(x=X[:3] / 3, mean=X[2:] / 3, cov=SPD)),
    # frozen distributions in one expression: the same calls
    "frozen norm": ("np.sum(norm(mu, sigma).logpdf(x))", dict(x=X, mu=0.3, sigma=1.7)),
    "frozen st.norm keywords": ("np.sum(st.norm(loc=mu, scale=sigma).cdf(x))",
                                dict(x=X, mu=0.3, sigma=1.7)),
    "frozen t": ("np.sum(t(df, scale=s).logpdf(x))", dict(x=X, df=5.0, s=1.2)),
    "frozen multivariate_normal": ("np.sum(multivariate_normal(mean, cov).logpdf(x))",
                                   dict(x=PTS, mean=X[:3], cov=SPD)),
    "frozen dirichlet": ("dirichlet(alpha).logpdf(x / np.sum(x))", dict(x=SIMPLEX, alpha=POS[:3])),
    "frozen poisson": ("np.sum(poisson(mu).logpmf(k))", dict(k=KS, mu=2.5), "mu"),
    # a little model: a Gaussian likelihood with a Student-t prior
    "model": ("""
        resid = y - w * x
        nll = -np.sum(norm.logpdf(resid, scale=np.exp(log_s)))
        return nll - t.logpdf(w, 3.0, scale=2.0)
    """, dict(w=0.7, log_s=-0.2, x=X, y=2 * X + 0.1 * POS), ("w", "log_s")),
}


def program(name: str):
    body, args, *wrt = CASES[name]
    body = body.strip()
    if "\n" in body:
        lines = "\n".join("    " + line.strip() for line in body.splitlines())
    else:
        lines = f"    return {body}"
    f = make_function(f"def f({', '.join(args)}):\n{lines}\n", NAMESPACE)
    wrt = wrt[0] if wrt else tuple(args)
    return f, list(args.values()), wrt


@pytest.mark.parametrize("name", list(CASES))
def test_against_central_differences(name, optimize):
    f, args, wrt = program(name)
    check_grads(f, args, wrt, optimize=optimize)


@pytest.mark.parametrize("name", list(CASES))
def test_forward_value_is_scipys(name):
    f, args, wrt = program(name)
    value, _ = adjoint.value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-13, atol=0)


def test_norm_logpdf_values():
    """The gradient of norm.logpdf is the textbook one, at a point written out."""
    f, _, _ = program("norm.logpdf positional")
    x, mu, sigma = np.array([0.5, -1.0]), 0.25, 2.0
    dx, dmu, dsigma = adjoint.grad(f, wrt=("x", "mu", "sigma"))(x, mu, sigma)
    r = x - mu
    np.testing.assert_allclose(dx, -r / sigma ** 2)
    np.testing.assert_allclose(dmu, np.sum(r) / sigma ** 2)
    np.testing.assert_allclose(dsigma, np.sum((r ** 2 / sigma ** 2 - 1) / sigma))


def test_multivariate_normal_values():
    f, _, _ = program("multivariate_normal.logpdf rows")
    dx, dmean, dcov = adjoint.grad(f, wrt=("x", "mean", "cov"))(PTS, X[:3], SPD)
    inv = np.linalg.inv(SPD)
    r = PTS - X[:3]
    np.testing.assert_allclose(dx, -r @ inv)
    np.testing.assert_allclose(dmean, np.sum(r @ inv, axis=0))
    full = 0.5 * (inv @ r.T @ r @ inv - len(r) * inv)  # symmetric: folded on the lower triangle
    np.testing.assert_allclose(dcov, np.tril(2 * full, -1) + np.diag(np.diag(full)))


def test_scalar_arguments_give_numbers():
    f, args, wrt = program("norm.logpdf scalars")
    grads = adjoint.grad(f, wrt=wrt)(*args)
    assert all(np.ndim(g) == 0 for g in grads)


def test_emitted_code_calls_scipy_as_written():
    f, args, wrt = program("frozen norm")
    text = adjoint.source(adjoint.grad(f, wrt=wrt), *args)
    assert "norm.logpdf(x, mu, sigma)" in text
    f, args, wrt = program("st.norm.logpdf")
    assert "st.norm.logpdf(x, mu, sigma)" in adjoint.source(adjoint.grad(f, wrt=wrt), *args)


# ---- keys, names and messages

def test_rules_are_keyed_by_distribution_and_method():
    a, b = norm.logpdf, st.norm.logpdf
    assert a is not b  # a new bound method at each read
    assert rules.lookup(a) is not None and rules.method_key(a) == rules.method_key(b)
    assert rules.name_of(a) == "scipy.stats.norm.logpdf"
    assert rules.name_of(rules.method_key(multivariate_normal.logpdf)) == \
        "scipy.stats.multivariate_normal.logpdf"
    assert not rules.is_passive(norm.logpdf)
    assert rules.broadcasts(norm.cdf) and not rules.broadcasts(dirichlet.logpdf)
    assert list(rules.signature_of(t.logpdf).parameters) == ["x", "df", "loc", "scale"]
    assert list(rules.signature_of(poisson.logpmf).parameters) == ["k", "mu", "loc"]
    assert list(rules.lookup(multivariate_normal.logpdf).signature.parameters)[:3] == [
        "x", "mean", "cov"]


def test_listing_names_them():
    from adjoint.cli.listing import rules_markdown, rules_text

    text = rules_text()
    assert "scipy.stats.norm.logpdf" in text and "scipy.stats.dirichlet.logpdf" in text
    assert "| `scipy.stats.multivariate_normal.logpdf` | `x`, `mean`, `cov` |" in rules_markdown()


def test_method_without_rule():
    f = make_function("def f(x):\n    return np.sum(norm.ppf(x))\n", NAMESPACE)
    with pytest.raises(adjoint.AdjointError) as info:
        adjoint.grad(f)(UNIT)
    message = str(info.value)
    assert "no derivative rule for scipy.stats.norm.ppf" in message
    assert 'adjoint.register(norm.ppf, q="g * ...")' in message


def test_method_without_rule_st_spelling():
    f = make_function("def f(x):\n    return np.sum(st.laplace.logpdf(x, 0.0, 2.0))\n",
                      NAMESPACE)
    with pytest.raises(adjoint.MissingRule, match=r"no derivative rule for "
                       r"scipy\.stats\.laplace\.logpdf; add one with\n    "
                       r"adjoint\.register\(st\.laplace\.logpdf, x="):
        adjoint.grad(f)(X)


def test_parameter_without_rule_is_refused():
    f = make_function("def f(a):\n    return np.sum(gamma.cdf(X, a))\n", {**NAMESPACE, "X": POS})
    with pytest.raises(adjoint.MissingRule, match="argument 'a' of scipy.stats.gamma.cdf"):
        adjoint.grad(f)(2.0)


def test_passive_parameter_needs_no_rule():
    """k of poisson carries no derivative; a constant loc or scale takes none either."""
    f = make_function("def f(mu):\n"
                      "    return np.sum(poisson.logpmf(K, mu) + norm.logpdf(mu, 0, 2))\n",
                      {**NAMESPACE, "K": KS})
    check_grads(f, [1.5])


@pytest.fixture
def restore_rules():
    saved = dict(rules.RULES), set(rules.REGISTERED)
    yield
    rules.RULES.clear()
    rules.RULES.update(saved[0])
    rules.REGISTERED.intersection_update(saved[1])


def test_register_a_distribution_method(restore_rules):
    """adjoint.register takes the bound method, as the message says."""
    adjoint.register(st.laplace.logpdf, x="-g * np.sign(x - loc) / scale")
    f = make_function("def f(x):\n    return np.sum(st.laplace.logpdf(x, 0.5, 2.0))\n", NAMESPACE)
    check_grads(f, [X])
    assert rules.method_key(st.laplace.logpdf) in rules.REGISTERED


# ---- frozen distributions that are not written in one expression

def test_frozen_local_is_refused():
    f = make_function("""
        def f(x, mu):
            d = norm(mu, 2.0)
            return np.sum(d.logpdf(x))
    """, NAMESPACE)
    with pytest.raises(adjoint.AdjointError) as info:
        adjoint.grad(f)(X, 0.3)
    message = str(info.value)
    assert "d is a frozen scipy.stats distribution (norm" in message
    assert "norm.logpdf(x, loc, scale)" in message


# a module-level frozen distribution: its parameters are data the call passes on
FROZEN_GLOBALS = [
    ("t(3.0).logpdf", t(3.0), "logpdf", X),
    ("norm(0.0, 2.0).logpdf", norm(0.0, 2.0), "logpdf", X),
    ("norm(loc=1.0, scale=0.5).logcdf", norm(loc=1.0, scale=0.5), "logcdf", X),
    ("gamma(2.0, scale=1.5).logpdf", st.gamma(2.0, scale=1.5), "logpdf", np.abs(X) + 0.5),
]


@pytest.mark.parametrize("label, prior, method, x", FROZEN_GLOBALS,
                         ids=[row[0] for row in FROZEN_GLOBALS])
def test_frozen_global_passes_its_parameters(label, prior, method, x, optimize):
    f = make_function(f"def f(x):\n    return np.sum(x * prior.{method}(x))\n",
                      {**NAMESPACE, "prior": prior})
    check_grads(f, [x], optimize=optimize)
    src = adjoint.source(adjoint.grad(f), x)
    assert f"prior.dist.{method}(x, " in src and ("prior.args[0]" in src or "prior.kwds[" in src)


def test_frozen_multivariate_global_is_refused():
    f = make_function("def f(x):\n    return prior.logpdf(x)\n",
                      {**NAMESPACE, "prior": multivariate_normal(np.zeros(3), SPD)})
    with pytest.raises(adjoint.AdjointError,
                       match=r"multivariate_normal\.logpdf\(x, mean, cov\)"):
        adjoint.grad(f)(X[:3])
