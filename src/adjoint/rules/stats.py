"""The rules of scipy.stats' distributions, which join the table once scipy.stats is imported.

`norm.logpdf` is a method bound to the distribution `norm`, and every attribute read makes a
new bound method: a rule cannot be keyed on it. The table keys these rules on a
DistributionMethod instead: the distribution's class and the method's name (norm_gen,
'logpdf'), which every alias (`from scipy.stats import norm`, `st.norm`) and every instance of
the class share. Messages and the listing name it as SciPy does: scipy.stats.norm.logpdf.
`method_key` turns a bound method (what a user passes to adjoint.register) into its key.

The distributions of one variable broadcast their arguments like ufuncs (the compiler sums
each contribution back to its input's shape); the multivariate ones' helpers (runtime/stats.py)
give each argument its own shape, multivariate_normal's cov folded onto the lower triangle
SciPy reads (as np.linalg.eigh's rule does). Parameters without a formula carry no derivative
and refuse a value that does: poisson's k and loc, the shapes of t, gamma and beta in their
cdf, sf, logcdf and logsf, multivariate_normal's allow_singular.

A frozen distribution's method written in one expression, norm(a, b).logpdf(x), is normalized
into the call norm.logpdf(x, a, b) (normalize/calls.py); one kept in a name is refused with
that spelling (`unfrozen_spelling`).
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass, field
from typing import Any

# the methods of a distribution of one variable, by what their first argument is
POINT_METHODS = ("pdf", "logpdf", "pmf", "logpmf", "cdf", "logcdf", "sf", "logsf")
QUANTILE_METHODS = ("ppf", "isf")
SUMMARY_METHODS = ("mean", "var", "std", "median", "entropy")
METHOD_NAMES = frozenset(POINT_METHODS + QUANTILE_METHODS + SUMMARY_METHODS)


def _based_on(obj: Any, bases: tuple[str, ...]) -> bool:
    """Whether obj is an instance of one of scipy.stats' classes `bases` (by name, so that
    checking costs no import of scipy.stats)."""
    return any(c.__name__ in bases and c.__module__.startswith("scipy.stats")
               for c in type(obj).__mro__)


def is_distribution(obj: Any) -> bool:
    """Whether obj is a scipy.stats distribution (norm, multivariate_normal), not frozen."""
    return _based_on(obj, ("rv_generic", "multi_rv_generic"))


def is_frozen(obj: Any) -> bool:
    """Whether obj is a frozen scipy.stats distribution: norm(0, 1), its parameters fixed."""
    return _based_on(obj, ("rv_frozen", "multi_rv_frozen"))


def frozen_from(frozen: Any) -> Any:
    """The distribution a frozen one was made from (norm for norm(0, 1))."""
    dist = getattr(frozen, "dist", None)
    return dist if is_distribution(dist) else getattr(frozen, "_dist", None)


def distribution_name(dist: Any) -> str:
    """How SciPy names a distribution: norm, multivariate_normal."""
    name = getattr(dist, "name", None)
    if isinstance(name, str) and name.isidentifier():
        return name
    name = type(dist).__name__
    return name[:-4] if name.endswith("_gen") else name


@dataclass(frozen=True)
class DistributionMethod:
    """The rule table's key for a method of a scipy.stats distribution: its class and the
    method's name. `instance` (not part of the key) gives the names and the signature."""

    family: type
    method: str
    instance: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        module = self.family.__module__
        # named as SciPy spells it, so messages, hints and the listing say scipy.stats.norm.pdf
        set_ = object.__setattr__
        set_(self, "__module__", "scipy.stats" if module.startswith("scipy.stats") else module)
        set_(self, "__qualname__", f"{self.distribution}.{self.method}")
        set_(self, "__name__", self.method)

    @property
    def distribution(self) -> str:
        if self.instance is not None:
            return distribution_name(self.instance)
        name = self.family.__name__
        return name[:-4] if name.endswith("_gen") else name

    @property
    def elementwise(self) -> bool:
        """Whether the method broadcasts its arguments as a ufunc does (one variable)."""
        return any(c.__name__ == "rv_generic" for c in self.family.__mro__)

    @property
    def discrete(self) -> bool:
        return any(c.__name__ == "rv_discrete" for c in self.family.__mro__)

    def signature_text(self) -> str | None:
        """The parameters of a method of a distribution of one variable, which SciPy writes
        as (x, *args, **kwds): its point, the shapes, loc and (continuous) scale."""
        if not self.elementwise:
            return None
        if self.method in POINT_METHODS:
            point = ["k" if self.discrete else "x"]
        elif self.method in QUANTILE_METHODS:
            point = ["q"]
        elif self.method in SUMMARY_METHODS:
            point = []
        else:
            return None
        shapes = getattr(self.instance, "shapes", None) or ""
        params = point + [s.strip() for s in shapes.split(",") if s.strip()] + ["loc=0"]
        return ", ".join(params + ([] if self.discrete else ["scale=1"]))

    def signature(self) -> inspect.Signature | None:
        """The method's own signature (multivariate_normal.logpdf has a real one)."""
        try:
            return inspect.signature(getattr(self.instance, self.method))
        except (TypeError, ValueError, AttributeError):
            return None

    def points(self) -> int | None:
        """How many leading arguments of the method are its points (x), not parameters of
        the distribution; None when not known."""
        if self.elementwise:
            return 1 if self.method in POINT_METHODS + QUANTILE_METHODS else \
                0 if self.method in SUMMARY_METHODS else None
        sig = self.signature()
        if sig is None:
            return None
        first = next(iter(sig.parameters), None)
        return 1 if first == "x" else None

    def parameters(self) -> list[str]:
        """The names of the distribution's parameters, in the order the frozen distribution's
        constructor takes them (loc, scale; df, loc, scale; mean, cov)."""
        if self.elementwise:
            shapes = getattr(self.instance, "shapes", None) or ""
            return [s.strip() for s in shapes.split(",") if s.strip()] + (
                ["loc"] if self.discrete else ["loc", "scale"])
        try:
            sig = inspect.signature(self.instance.__call__)
        except (TypeError, ValueError):
            return []
        return [p.name for p in sig.parameters.values() if p.name != "seed" and p.kind in (
            p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def method_key(fn: Any) -> Any:
    """The rule table's key for `fn`: a DistributionMethod for a bound method of a scipy.stats
    distribution (norm.logpdf), else fn itself."""
    if isinstance(fn, types.MethodType) and is_distribution(fn.__self__):
        return DistributionMethod(type(fn.__self__), fn.__name__, fn.__self__)
    return fn


def unfrozen_spelling(dist: Any) -> str:
    """How to call a distribution's density with its parameters passed: norm.logpdf(x, loc,
    scale), poisson.logpmf(k, mu, loc)."""
    method = "logpmf" if _based_on(dist, ("rv_discrete",)) else "logpdf"
    key = DistributionMethod(type(dist), method, dist)
    point = "k" if key.discrete else "x"
    params = [p for p in key.parameters() if p != "allow_singular"]
    return f"{key.distribution}.{method}({', '.join([point, *params])})"


# fmt: off
def _loc_scale(d: dict[str, str], density: str) -> dict[str, dict[str, str]]:
    """The rules of the pdf and logpdf of a distribution from the derivatives `d` of its
    logpdf, and those of its cdf, sf, logcdf and logsf from its density (log-density)
    expression (x, loc and scale: F((x - loc) / scale))."""
    log_density, dens = density, f"np.exp({density})"
    ratio = f"np.exp({log_density} - ans)"  # density / cdf, stably where cdf underflows
    return {
        "logpdf": {p: f"g * {f}" if not f.startswith("-") else f"-g * {f[1:]}"
                   for p, f in d.items()},
        "pdf":    {p: f"g * ans * {f}" if not f.startswith("-") else f"-g * ans * {f[1:]}"
                   for p, f in d.items()},
        "cdf":    {"x": f"g * {dens}", "loc": f"-g * {dens}",
                   "scale": f"-g * {dens} * (x - loc) / scale"},
        "sf":     {"x": f"-g * {dens}", "loc": f"g * {dens}",
                   "scale": f"g * {dens} * (x - loc) / scale"},
        "logcdf": {"x": f"g * {ratio}", "loc": f"-g * {ratio}",
                   "scale": f"-g * {ratio} * (x - loc) / scale"},
        "logsf":  {"x": f"-g * {ratio}", "loc": f"g * {ratio}",
                   "scale": f"g * {ratio} * (x - loc) / scale"},
    }


# d logpdf / d parameter of the distributions of one variable, z = (x - loc) / scale
NORM = {
    "x":     "-(x - loc) / (scale * scale)",
    "loc":   "(x - loc) / (scale * scale)",
    "scale": "(((x - loc) / scale) ** 2 - 1) / scale",
}
T = {
    "x":     "-(df + 1) * (x - loc) / (df * scale * scale + (x - loc) ** 2)",
    "df":    "runtime.t_df_derivative(x, df, loc, scale)",
    "loc":   "(df + 1) * (x - loc) / (df * scale * scale + (x - loc) ** 2)",
    "scale": "((df + 1) * (x - loc) ** 2 / (df * scale * scale + (x - loc) ** 2) - 1) / scale",
}
GAMMA = {
    "x":     "((a - 1) / (x - loc) - 1 / scale)",
    "a":     "(np.log((x - loc) / scale) - runtime.polygamma(0, a))",
    "loc":   "(1 / scale - (a - 1) / (x - loc))",
    "scale": "((x - loc) / scale - a) / scale",
}
BETA = {
    "x":     "((a - 1) / (x - loc) - (b - 1) / (scale + loc - x))",
    "a":     "(np.log((x - loc) / scale) - runtime.polygamma(0, a) + runtime.polygamma(0, a + b))",
    "b":     "(np.log1p(-(x - loc) / scale) - runtime.polygamma(0, b) + runtime.polygamma(0, a + b))",
    "loc":   "((b - 1) / (scale + loc - x) - (a - 1) / (x - loc))",
    "scale": "((b - 1) * (x - loc) / (scale + loc - x) - a) / scale",
}


def stats_rules() -> dict[Any, dict[str, str]]:
    """The rules of scipy.stats, registered by `load_optional` when scipy.stats is imported."""
    try:
        import scipy.stats as st
    except ImportError:
        return {}

    def key(dist: Any, method: str) -> DistributionMethod:
        return DistributionMethod(type(dist), method, dist)

    table: dict[Any, dict[str, str]] = {}
    for dist, d, density in (
            (st.norm, NORM, "runtime.normal_logdensity(x, loc, scale)"),
            (st.t, T, "runtime.stats_logdensity('t', x, df, loc, scale)"),
            (st.gamma, GAMMA, "runtime.stats_logdensity('gamma', x, a, loc, scale)"),
            (st.beta, BETA, "runtime.stats_logdensity('beta', x, a, b, loc, scale)")):
        for method, formulas in _loc_scale(d, density).items():
            table[key(dist, method)] = formulas
    # poisson: with respect to the rate mu (k and loc are integers)
    mass = "runtime.stats_logdensity('poisson', np.floor(k - loc) + loc, mu, loc)"
    table.update({
        key(st.poisson, "logpmf"): {"mu": "g * ((k - loc) / mu - 1)"},
        key(st.poisson, "pmf"):    {"mu": "g * ans * ((k - loc) / mu - 1)"},
        key(st.poisson, "cdf"):    {"mu": f"-g * np.exp({mass})"},
        key(st.poisson, "sf"):     {"mu": f"g * np.exp({mass})"},
        key(st.poisson, "logcdf"): {"mu": f"-g * np.exp({mass} - ans)"},
        key(st.poisson, "logsf"):  {"mu": f"g * np.exp({mass} - ans)"},
    })
    mvn = "runtime.mvn_logpdf_adjoint({g}, x, mean, cov, {k})"
    table.update({
        key(st.dirichlet, "logpdf"): {"x": "runtime.dirichlet_x_adjoint(g, x, alpha)",
                                      "alpha": "runtime.dirichlet_alpha_adjoint(g, x, alpha)"},
        key(st.dirichlet, "pdf"): {"x": "runtime.dirichlet_x_adjoint(g * ans, x, alpha)",
                                   "alpha": "runtime.dirichlet_alpha_adjoint(g * ans, x, alpha)"},
        key(st.multivariate_normal, "logpdf"): {
            p: mvn.format(g="g", k=k) for k, p in enumerate(("x", "mean", "cov"))},
        key(st.multivariate_normal, "pdf"): {
            p: mvn.format(g="g * ans", k=k) for k, p in enumerate(("x", "mean", "cov"))},
    })
    return table
# fmt: on
