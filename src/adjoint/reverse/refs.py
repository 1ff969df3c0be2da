"""refs: the references emitted lines carry, and the names emitted code calls modules by."""

from __future__ import annotations

import math

import numpy as np

from .. import ir
from ..ir import Ref

RUNTIME = "runtime"


class ShapeRef(Ref):
    """A variable read only for its shape (unbroadcast, zeros_like): in-place writes that
    keep the shape do not need to save it."""


class AnsRef(Ref):
    """The result of the statement a rule differentiates (`ans` in its formula), apart from
    an argument of the same name: in `x = np.hypot(x, 2.0)` the formula reads both."""


def item_check(s: ir.SetItem, fname: str) -> ir.Line:
    """`runtime.rebinds_item(...)` before `c[k] op= v` on a name that may hold a list or
    dict: an item that is an array would change in place (the derivative code follows the
    item replaced, as a number is)."""
    item = (Ref(s.target), "[", *ir.index_parts(s.index), "]")
    place = "".join(p.name if isinstance(p, Ref) else p for p in item)
    return ir.Line((RUNTIME, ".rebinds_item(", Ref(s.target), ", ", *item, ", ", repr(fname),
                    ", ", repr(place), ", ", repr(s.op or s.aug), ")"))


def module_aliases(fn: ir.Function) -> dict[str, ir.Parts]:
    """How rule formulas spell modules in this function's emitted code."""
    out = {"runtime": (RUNTIME,), "operator": ("operator",), "math": ("math",), "np": ("np",)}
    for name, obj in getattr(fn, "globals", {}).items():
        if obj is np and "np" not in fn.globals:
            out["np"] = (name,)
        if obj is math and "math" not in fn.globals:
            out["math"] = (name,)
    return out
