"""refusals: what the reverse sweep refuses of a statement, and why, in words about the
user's code: a call with no derivative rule, a call for its effect that may change what is
differentiated."""

from __future__ import annotations

import functools

import numpy as np

from .. import ir, rules
from ..analysis import effects
from ..analysis.values import ITERATORS
from ..errors import MissingRule
from ..ir import Assign


class Refusals:
    """Methods of Sweep."""

    def refuse_effect(self, s: Assign) -> None:
        """A call for its effect on values that vary with what is differentiated: refused
        unless it is passive or a harmless function of the user's (see analysis.effects)."""
        why = effects.refusal(s, [self.is_active(a) for a in (*s.args, *(
            v for _, v in s.kwargs))], self.varied, self.fn)
        if why is not None:
            raise self.error(s, why)

    def refuse_writers(self) -> None:
        """A call that writes into its first argument values that vary (np.copyto, np.put...):
        refused, wherever its result goes (analysis.effects.writer_refusal)."""
        for s in ir.walk(self.fn.body):
            why = effects.writer_refusal(s, self.varied)
            if why is not None:
                raise self.error(s, why)

    def missing_rule(self, s: Assign) -> Exception:
        p = s.prim
        if p.key in ITERATORS:
            name = p.key.__name__
            return self.error(s, f"{name}(...) of values that carry a derivative is "
                              "differentiated only as the iterable of a for loop or "
                              f"comprehension (for ... in {name}(...)); build the list with a "
                              f"comprehension: [... for ... in {name}(...)]", MissingRule)
        if p.key is functools.partial:
            return self.error(s, "functools.partial fixes values that carry a derivative in a "
                              "function passed on or kept; adjoint follows such a partial "
                              "only where this function calls it (f = partial(g, a); f(x)): "
                              "call g with all its arguments instead", MissingRule)
        if p.kind == "method" and p.key is None and p.spelling == "pop":
            return self.error(s, "no derivative rule for .pop(): a list popped is not "
                              "differentiated (the gradient of a loop pops its records, so "
                              "only the gradient of straight-line code differentiates again)",
                              MissingRule)
        if p.kind == "method" and p.key is None and not hasattr(np.ndarray, p.spelling) and \
                self.is_active(s.args[0]):
            obj = s.args[0].id
            return self.error(s, f"the method .{p.spelling}() of {obj} is called, and {obj} "
                              "carries a derivative: adjoint does not differentiate methods of "
                              f"objects; write it as a function of {obj} "
                              f"(def {p.spelling}({obj}, ...)) and call that", MissingRule)
        if p.kind == "method" and p.key is None:
            return self.error(s, f"no derivative rule for the method .{p.spelling}(); "
                              "call the numpy function instead, or register a rule for it",
                              MissingRule)
        if p.kind == "attr":
            return self.error(s, f"no derivative rule for the attribute .{p.spelling}",
                              MissingRule)
        name = rules.name_of(p.key) if p.key is not None else p.spelling
        return self.error(s, f"no derivative rule for {name}; add one with\n    "
                          f"{rules.registration_hint(p.key, p.spelling or None)}", MissingRule)

