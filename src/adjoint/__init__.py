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

_LAZY = {"grad": "api", "source": "api", "value_and_grad": "api", "vjp": "transforms",
         "jacobian": "transforms", "jvp": "transforms", "hvp": "transforms",
         "hessian": "transforms", "graph": "drawing", "register": "rules",
         "stop_gradient": "rules", "flatten": "vspace"}

__all__ = [
    "AdjointError", "ApiError", "MissingRule", "NonScalarOutput", "UnsupportedArgument",
    "UnsupportedSyntax",
    "flatten", "grad", "graph", "hessian", "hvp", "jacobian", "jvp", "register", "source",
    "stop_gradient", "value_and_grad", "vjp",
]


def __getattr__(name: str):
    import importlib
    import importlib.util

    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:  # adjoint.api, ...
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'adjoint' has no attribute {name!r}")
    globals()[name] = value
    return value
