"""Errors. Every error adjoint raises derives from `AdjointError`.

Errors about the user's source are also `SyntaxError`s, so Python prints the
file, line and a caret under the construct.
"""

from __future__ import annotations


class AdjointError(Exception):
    """Base class of every error raised by adjoint."""


class UnsupportedSyntax(AdjointError, SyntaxError):
    """A construct adjoint cannot differentiate, with its location in the user's file."""

    def __init__(self, msg: str, filename: str, lineno: int, col: int, text: str):
        SyntaxError.__init__(self, msg, (filename, lineno, col + 1, text))

    def __str__(self) -> str:
        where = f"{self.filename}, line {self.lineno}, column {self.offset}"
        line = (self.text or "").rstrip("\n")
        caret = " " * ((self.offset or 1) - 1 - (len(line) - len(line.lstrip()))) + "^"
        return f"{self.msg}\n  {where}\n    {line.strip()}\n    {caret}"


class MissingRule(UnsupportedSyntax):
    """A call to a function that has no derivative rule."""


class InternalError(AdjointError):
    """The emitter produced code that fails its own checks: a bug in adjoint."""


class ApiError(AdjointError, TypeError):
    """Misuse of the Python API: a bad `wrt`, a function without source, a wrong argument."""


class NonScalarOutput(AdjointError, ValueError):
    """`grad` of a function whose result is not a scalar."""
