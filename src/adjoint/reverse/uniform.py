"""The adjoint of a full sum or mean as a number: it stands for an array of the summed
value's shape, all of its entries equal, through the statements whose adjoints work with it
(elementwise rules, whose contributions keep that shape, and indexing of an array); any
other makes the array first (runtime.densify), and so does a loop before its trips. The
names whose adjoint may be such a number are kept in the sweep's `zeroed` set as
("uniform", name), beside the name itself (0.0 is such a number too)."""

from __future__ import annotations

import numpy as np

from ..ir import Assign, Name, Ref
from .refs import ShapeRef


class UniformAdjoint:
    """Methods of Sweep."""

    def passes_uniform(self, s: Assign) -> bool:
        """Whether s's adjoint works with a number for g that stands for an array of the
        result's shape, all of its entries equal (the adjoint of a sum): an elementwise rule,
        whose contributions keep that shape (unbroadcast_from sums where an input was
        broadcast), or an index of an array."""
        base = s.args[0] if s.args else None
        if s.prim.kind == "index" and (not isinstance(base, Name) or base.id in self.seqs or
                                       not self.is_array(base.id)):
            return False
        if any(isinstance(a, Name) and (a.id in self.seqs or a.id in self.displayed)
               for a in s.args):  # np.multiply([a, b], 2.0): the list's adjoint has items
            return False
        return s.prim.kind not in ("tuple", "list", "dict") and self.elementwise_rule(s)

    def surely_array(self, parts, s: Assign) -> bool:
        """Whether a contribution surely is an array of s's result's shape: it reads an
        array of that shape (g * x, with x as s's result), so it is no number."""
        return self.known_shape(s.target) and any(
            isinstance(p, Ref) and not isinstance(p, ShapeRef) and p.name in self.primal and
            p.name not in self.seqs and self.is_array(p.name) and self.known_shape(p.name)
            and self.shape.get(p.name) == self.shape.get(s.target) for p in parts)

    def starts_uniform(self, s: Assign) -> bool:
        """Whether s is `t = np.sum(x)` (or np.mean) of an array, outside loops: x's adjoint
        is then the number t's adjoint is (over x's size), standing for an array of x's
        shape (no array is made)."""
        p = s.prim
        summed = p.kind in ("call", "method") and p.key in (np.sum, np.mean) and (
            p.kind == "call" or p.spelling in ("sum", "mean"))
        x = s.args[0] if s.args else None
        return summed and len(s.args) == 1 and not s.kwargs and isinstance(x, Name) and \
            self.is_active(x) and x.id not in self.seqs and self.is_array(x.id) and \
            self.kinds.get(x.id) not in ("scalar", "int") and \
            self.kinds.get(s.target) == "scalar" and id(s) in self.once

