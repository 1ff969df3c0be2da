"""adjoint: source-to-source reverse-mode differentiation of numeric Python.

    import adjoint
    df = adjoint.grad(f, wrt=("W", "b"))
    print(adjoint.source(df))

The compiler (and libcst) loads on first use of grad, value_and_grad, source, register or
stop_gradient: `adjoint.runtime`, which emitted gradients import, needs NumPy alone.
"""

from .errors import (
    AdjointError,
    ApiError,
    MissingRule,
    NonScalarOutput,
    UnsupportedArgument,
    UnsupportedSyntax,
)

__version__ = "0.1.0"

_LAZY = {"grad": "api", "source": "api", "value_and_grad": "api", "register": "rules",
         "stop_gradient": "rules"}

__all__ = [
    "AdjointError", "ApiError", "MissingRule", "NonScalarOutput", "UnsupportedArgument",
    "UnsupportedSyntax",
    "grad", "register", "source", "stop_gradient", "value_and_grad",
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'adjoint' has no attribute {name!r}")
