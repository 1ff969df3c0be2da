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


def module_aliases(fn: ir.Function) -> dict[str, ir.Parts]:
    """How rule formulas spell modules in this function's emitted code."""
    out = {"runtime": (RUNTIME,), "operator": ("operator",), "math": ("math",), "np": ("np",)}
    for name, obj in getattr(fn, "globals", {}).items():
        if obj is np and "np" not in fn.globals:
            out["np"] = (name,)
        if obj is math and "math" not in fn.globals:
            out["math"] = (name,)
    return out
