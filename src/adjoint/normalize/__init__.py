"""normalize: a libcst `FunctionDef` to A-normal form (`ir.Function`)."""

from .expressions import np_shape_key
from .jumps import pin_tests, single_exit, structure_jumps
from .normalizer import DEEP, Normalizer, normalize
from .syntax import count_returns, dict_view, dotted_name, iterates_keys, reads_of
from .tables import AUGOPS, BINOPS, COMPARES, REFUSED_CALLS, REFUSED_STATEMENTS, UNARY

__all__ = [
    "AUGOPS", "BINOPS", "COMPARES", "DEEP", "REFUSED_CALLS", "REFUSED_STATEMENTS", "UNARY",
    "Normalizer", "count_returns", "dict_view", "dotted_name", "iterates_keys", "normalize",
    "np_shape_key", "pin_tests", "reads_of", "single_exit", "structure_jumps",
]
