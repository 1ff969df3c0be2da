"""refusals: what the numba backend refuses, and numba's own errors said about the user's
code (never a raw numba TypingError)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import AdjointError, ApiError


class NumbaUnsupported(AdjointError, NotImplementedError):
    """A gradient the numba backend cannot compile: a construct numba has no code for (a
    dict, a try, a helper on lists), named with the user's statement it comes from."""


class NumbaMissing(ApiError):
    """backend="numba" without numba installed."""


# the runtime helpers with a numba version (jit/runtime.py): emitted code may call these
JIT_HELPERS = frozenset({
    "backwards", "builtin_extremum_adjoint", "check_distinct", "check_seed", "copy",
    "densify", "dot_lhs", "dot_rhs", "extremum_adjoint", "maximum_adjoint",
    "power_exponent_adjoint", "safe_ratio",
    "keep_buffer", "keep_zeros", "kept", "matmul_lhs", "matmul_rhs", "mean_adjoint", "never",
    "no_buffer", "owned", "owned_unless", "rebinds_item", "rebinds_number", "restore",
    "room", "shape_get", "shape_tape_like", "snapshot", "spare", "sum_adjoint", "sums_like",
    "tape_capacity",
    "tape_get", "tape_grow", "tape_like", "tape_put", "transpose_adjoint", "unbroadcast",
    "total", "written",
    "zeros_into",
    "zeros_like",
})

# why a helper of the NumPy backend has none: what in the user's code calls for it
REASONS = {
    "add_seq": "adjoints of lists, tuples or dicts (the NumPy backend adds them item by item "
               "in Python lists)",
    "call_fwd": "a call of a function held in a value",
    "call_bwd": "a call of a function held in a value",
    "entry": "a write into a dict",
    "put_entry": "a write into a dict",
    "per_item": "an adjoint made of a list of items",
    "refill": "a change in place of an argument",
    "rebinds": "an augmented assignment on an argument",
}


def helper_reason(name: str) -> str:
    """Words for the construct behind a helper with no numba version."""
    if name in REASONS:
        return REASONS[name]
    return (f"its derivative calls runtime.{name}, which has no numba version (write the "
            "computation with element loops and arithmetic, or use the NumPy backend)")


def require_numba() -> None:
    """Refuse backend="numba" when numba is not installed."""
    try:
        import numba  # noqa: F401
    except ImportError:
        raise NumbaMissing("backend='numba' needs numba: pip install 'adjoint[numba]' (or pip "
                           "install numba)") from None


LOCATION = re.compile(r'File "([^"]+)", line (\d+)')


def translated(exc: Exception, path: Path, owner: str) -> NumbaUnsupported:
    """A numba compile error as a refusal: what numba says, and the user's statement behind
    the emitted line it points at (the `# grad of:` comment above it)."""
    message = str(exc) or ("numba's compiler stopped at a check of its own (values of two "
                           "types on one tape or list)")
    lines = path.read_text().splitlines() if path.exists() else []
    where = ""
    for file, number in LOCATION.findall(message):
        if Path(file).resolve() == path.resolve() and 0 < int(number) <= len(lines):
            where = _statement(lines, int(number) - 1)
    reason = _reason(message)
    return NumbaUnsupported(f"numba cannot compile the gradient of {owner}: {reason}"
                            + (f", in {where}" if where else ""))


def _statement(lines: list[str], k: int) -> str:
    """The user's statement an emitted line belongs to: the nearest `# grad of:` comment above
    it in the reverse sweep, else the line itself (the forward sweep runs the primal)."""
    line = lines[k].strip()
    for j in range(k, -1, -1):
        text = lines[j].strip()
        if text.startswith("# grad of: "):
            return f"the reverse of `{text[len('# grad of: '):]}` (emitted `{line}`)"
        if text == "# backward" or text.startswith("def "):
            break
    return f"`{line}`"


def _reason(message: str) -> str:
    """The line of numba's message that says what failed, in fewer words."""
    skip = ("Failed in", "During:", "File ", "<source", "Enable logging", "This error",
            "^", "- Resolution", "raised from", "Rewrite", "Current values")
    for text in (t.strip() for t in message.splitlines()):
        if not text or text.startswith(skip):
            continue
        if text.startswith("No implementation of function"):
            found = re.search(r"Function\(([^)]*)\)", text)
            what = found.group(1) if found else "a function"
            return f"numba has no implementation of {what} for these types"
        if text.startswith("Unknown attribute"):
            return f"numba does not know {text[len('Unknown attribute '):]}"
        return text.rstrip(".")
    return "numba refused it"
