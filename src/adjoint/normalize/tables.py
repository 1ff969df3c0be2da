"""The operator tables of normalize, and the statements and calls it refuses."""

from __future__ import annotations

import contextlib
import operator
import warnings

import libcst as cst
import numpy as np

BINOPS = {
    cst.Add: (operator.add, "+", "add"), cst.Subtract: (operator.sub, "-", "sub"),
    cst.Multiply: (operator.mul, "*", "mul"), cst.Divide: (operator.truediv, "/", "truediv"),
    cst.FloorDivide: (operator.floordiv, "//", "floordiv"), cst.Modulo: (operator.mod, "%", "mod"),
    cst.Power: (operator.pow, "**", "pow"), cst.MatrixMultiply: (operator.matmul, "@", "matmul"),
    cst.BitAnd: (operator.and_, "&", "and_"), cst.BitOr: (operator.or_, "|", "or_"),
    cst.BitXor: (operator.xor, "^", "xor"), cst.LeftShift: (operator.lshift, "<<", "lshift"),
    cst.RightShift: (operator.rshift, ">>", "rshift"),
}
AUGOPS = {
    cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide, cst.FloorDivideAssign: cst.FloorDivide,
    cst.ModuloAssign: cst.Modulo, cst.PowerAssign: cst.Power,
    cst.MatrixMultiplyAssign: cst.MatrixMultiply,
}
COMPARES = {
    cst.LessThan: (operator.lt, "<", "lt"), cst.LessThanEqual: (operator.le, "<=", "le"),
    cst.GreaterThan: (operator.gt, ">", "gt"), cst.GreaterThanEqual: (operator.ge, ">=", "ge"),
    cst.Equal: (operator.eq, "==", "eq"), cst.NotEqual: (operator.ne, "!=", "ne"),
    cst.Is: (operator.is_, "is", "is"), cst.IsNot: (operator.is_not, "is not", "is_not"),
    cst.In: (operator.contains, "in", "in"), cst.NotIn: (operator.contains, "not in", "not_in"),
}
UNARY = {cst.Minus: (operator.neg, "-", "neg"), cst.Plus: (operator.pos, "+", "pos"),
         cst.BitInvert: (operator.invert, "~", "inv"), cst.Not: (operator.not_, "not", "not")}

# Calls that run code or reach names adjoint cannot see: what they compute is invisible.
REFUSED_CALLS = {exec: "exec", eval: "eval", compile: "compile", globals: "globals",
                 locals: "locals", vars: "vars", getattr: "getattr", setattr: "setattr",
                 delattr: "delattr", __import__: "__import__"}

REFUSED_STATEMENTS = {
    cst.TryStar: "try/except*", cst.Raise: "raise", cst.Global: "global",
    cst.Nonlocal: "nonlocal", cst.ClassDef: "a class definition", cst.Import: "import",
    cst.ImportFrom: "import", cst.Del: "del", cst.Match: "match",
}

# Context managers that set the numeric environment: the reverse sweep enters them again
# around the body's adjoint, whose arithmetic raises the warnings the primal's does (others,
# a timer, an open file, enter in the forward sweep only).
REENTERED = {np.errstate: "np.errstate", warnings.catch_warnings: "warnings.catch_warnings"}
with contextlib.suppress(ImportError):  # scipy is optional
    import scipy.special

    REENTERED[scipy.special.errstate] = "scipy.special.errstate"
# Calls inside such a with that set what it restores: the reverse sweep makes them again.
SETTINGS = {warnings.simplefilter: "warnings.simplefilter",
            warnings.filterwarnings: "warnings.filterwarnings", np.seterr: "np.seterr"}
# Context managers that swallow exceptions: the code after the with may follow a body that
# stopped part way, whose values the reverse sweep cannot follow.
SWALLOWING = {contextlib.suppress: "contextlib.suppress"}

# What `_expr` calls an expression it cannot normalize, in its error message.
UNSUPPORTED_EXPRESSIONS = {
    cst.Lambda: "a lambda", cst.ListComp: "a list comprehension",
    cst.GeneratorExp: "a generator expression", cst.DictComp: "a dict comprehension",
    cst.SetComp: "a set comprehension",
    cst.Set: "a set literal", cst.NamedExpr: "an assignment expression (:=)",
    cst.Yield: "yield", cst.Await: "await",
}


def refused(fn: object) -> bool:
    """Whether `fn` is one of REFUSED_CALLS (an unhashable value is not)."""
    try:
        return fn in REFUSED_CALLS
    except TypeError:  # unhashable
        return False
