"""adjoint: source-to-source reverse-mode differentiation of numeric Python.

    import adjoint
    df = adjoint.grad(f, wrt=("W", "b"))
    print(adjoint.source(df))
"""

from .api import grad, source, value_and_grad
from .errors import (
    AdjointError,
    ApiError,
    MissingRule,
    NonScalarOutput,
    UnsupportedArgument,
    UnsupportedSyntax,
)
from .rules import register, stop_gradient

__version__ = "0.1.0"

__all__ = [
    "AdjointError", "ApiError", "MissingRule", "NonScalarOutput", "UnsupportedArgument",
    "UnsupportedSyntax",
    "grad", "register", "source", "stop_gradient", "value_and_grad",
]
