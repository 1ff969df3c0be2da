"""Errors. Every error adjoint raises derives from `AdjointError`.

Errors about the user's source are also `SyntaxError`s, so Python prints the
file, line and a caret under the construct.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import traceback
from typing import Any


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


class UnsupportedArgument(AdjointError, NotImplementedError):
    """A function called with an argument whose derivative adjoint does not support, found
    when the gradient runs (np.pad with mode='mean', max() with key=, an eigenvector at a
    repeated eigenvalue); the message names the function and the argument."""


class InternalError(AdjointError):
    """The emitter produced code that fails its own checks: a bug in adjoint."""


class ApiError(AdjointError, TypeError):
    """Misuse of the Python API: a bad `wrt`, a function without source, a wrong argument."""


class NonScalarOutput(AdjointError, ValueError):
    """`grad` of a function whose result is not a scalar."""


# ---------------------------------------------------------------- the API boundary


@contextlib.contextmanager
def stage(what: str, fn: Any):
    """Turn an unexpected exception of a compiler stage into an InternalError naming the
    function and the stage, the original chained; adjoint's own errors pass unchanged."""
    try:
        yield
    except AdjointError:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: any other exception is a bug
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
        raise InternalError(f"adjoint failed while {what} {name} ({type(exc).__name__}: "
                            f"{exc}); this is a bug in adjoint, please report it") from exc


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


FORWARD = "the forward sweep"


def from_adjoint(exc: BaseException) -> str | None:
    """Where `exc` was raised while a gradient ran: a runtime helper, 'the reverse sweep'
    of an emitted function, or FORWARD (the forward sweep, which computes the function as
    the user wrote it, and may be the user's own error); None for the user's own code (a
    function the forward sweep calls, a rule written by the user)."""
    frames = list(traceback.walk_tb(exc.__traceback__))
    for frame, lineno in reversed(frames):
        filename = frame.f_code.co_filename
        if filename.startswith("<adjoint "):
            return "the reverse sweep" if _in_reverse_sweep(filename, lineno) else FORWARD
        folder = os.path.dirname(os.path.abspath(filename))
        if os.path.dirname(folder) == _PACKAGE:  # a subpackage's module: adjoint.runtime.<name>
            return f"adjoint.{os.path.basename(folder)}.{frame.f_code.co_name}"
        if folder == _PACKAGE and not filename.endswith("api.py"):
            return f"adjoint.{os.path.basename(filename)[:-3]}.{frame.f_code.co_name}"
        if not _library(filename):
            return None  # the user's own code
    return None


def _in_reverse_sweep(filename: str, lineno: int) -> bool:
    lines = linecache.getlines(filename)
    for line in reversed(lines[:lineno]):
        text = line.strip()
        if text == "# backward":
            return True
        if text == "# forward" or text.startswith("def "):
            return False
    return False


def _library(filename: str) -> bool:
    """NumPy's, SciPy's or Python's own code, which both sweeps call."""
    parts = os.path.abspath(filename).split(os.sep)
    return "site-packages" in parts or "dist-packages" in parts or filename.startswith(
        "<frozen") or os.path.dirname(os.path.abspath(filename)) == os.path.dirname(
        os.__file__)


def internal(exc: Exception, fname: str, where: str) -> AdjointError:
    refused = array_library_refusal(exc, fname)
    if refused is not None:
        return refused
    return InternalError(f"the gradient of {fname} failed in {where} ({type(exc).__name__}: "
                         f"{exc}); this is a bug in adjoint, please report it")


_DASK_WRITES = frozenset({"__setitem__", "setitem_array", "_elemwise_normalize_out"})


def array_library_refusal(exc: BaseException, fname: str) -> AdjointError | None:
    """An error that Dask raised where the gradient (or the function) writes in place, as an
    UnsupportedArgument naming the line and the functional form; None for any other error."""
    frames = [f for f, _ in traceback.walk_tb(exc.__traceback__)]
    if not any(str(f.f_globals.get("__name__", "")).startswith("dask.") and f.f_code.co_name
               in _DASK_WRITES for f in frames):
        return None
    line = ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename.startswith("<adjoint ") or not _library(
                frame.f_code.co_filename) and "adjoint" not in frame.f_code.co_filename:
            line = linecache.getline(frame.f_code.co_filename, lineno).strip() or line
    return UnsupportedArgument(
        f"the gradient of {fname} writes into an array in place where Dask cannot"
        + (f" (`{line}`)" if line else "") + f": {type(exc).__name__}: {exc}. A NumPy array "
        "(an argument, or a buffer such as np.zeros(n)) cannot take a Dask value in place: "
        "pass the argument as a Dask array (dask.array.from_array), allocate the buffer from "
        "the data (np.zeros_like(x, shape=n)), or write the function without the in-place "
        "write: np.where(mask, new, x), np.concatenate of the pieces, np.stack of the rows")
