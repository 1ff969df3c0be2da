"""guards: what a call of a numba gradient checks before it runs a compiled version, as
straight-line code.

A call with the argument types of an earlier call runs the version compiled for them once
two things hold: the arguments have those types (the dtype and dimensions of each array,
the type of each number), and what the code was compiled from is what it was (the
function's defaults, the module, function and class each global name means:
Compiled.refresh). In Python a loop over the arguments or the globals costs more than the
comparisons it makes (about a tenth of the gradient of a small stencil), so each version's
checks and call are written out once, as a function of their own:

    def go(args):
        if len(args) != 3:
            return MISS
        a0, a1, a2, = args
        if not (type(a0) is ndarray and a0.ndim == 1 and a0.dtype is t0 and
                type(a1) is t1 and type(a2) is ndarray and a2.ndim == 1 and a2.dtype is t2):
            return MISS                    # other types: their own version
        if not (getattr(f0, '__defaults__', None) is p0 and ... and
                s0.get('range', builtins.get('range', missing)) is o0) and not refresh():
            return MISS                    # the sources changed: built again
        return call(a0, a1, a2, d0, d1)    # the njit kernel, the wrapper's defaults after

Each test compares identities; where one fails (an equal dtype that is another object, a
default replaced by an equal tuple) or the code reads module data, Compiled.refresh decides,
as it does for every call of the NumPy backend.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..program import MISSING_GLOBAL, DataKind

MISS = object()  # what Entry.go returns where the call is not the entry's to run


@dataclass(frozen=True, slots=True)
class Entry:
    """A compiled version for the types of a call: its file (for numba's errors) and `go`,
    which checks a call's arguments and sources and runs it, or returns MISS."""

    compiled: Any
    path: Any
    go: Any  # go(args) -> the gradient, or MISS


def entry(compiled: Any, path: Any, call: Any, tail: tuple, key: tuple) -> Entry:
    """The entry of a version for arguments of the types `key` (jit._type_key); `call`
    takes the arguments, then `tail`."""
    values: dict = {"ndarray": np.ndarray, "MISS": MISS, "call": call,
                    "refresh": compiled.refresh}
    names = [f"a{k}" for k in range(len(key))]
    values.update({f"d{k}": v for k, v in enumerate(tail)})
    same = _same(key, values)
    fresh = _fresh(compiled, values)
    passed = ", ".join([*names, *(f"d{k}" for k in range(len(tail)))])
    source = (f"def go(args):\n    if len(args) != {len(key)}:\n        return MISS\n"
              + (f"    {', '.join(names)}, = args\n" if names else "")
              + f"    if not ({same}):\n        return MISS\n"
              + f"    if not ({fresh}) and not refresh():\n        return MISS\n"
              + f"    return call({passed})\n")
    space = dict(values)
    exec(compile(source, "<adjoint guard>", "exec"), space)  # noqa: S102
    return Entry(compiled, path, space["go"])


def _same(key: tuple, values: dict) -> str:
    """The test that the arguments a0, a1, ... have the types `key`."""
    tests = []
    for k, kind in enumerate(key):
        if isinstance(kind, tuple):  # (dtype, ndim) of an array
            values[f"t{k}"] = kind[0]
            tests.append(f"type(a{k}) is ndarray and a{k}.ndim == {int(kind[1])} and "
                         f"a{k}.dtype is t{k}")
        else:
            values[f"t{k}"] = kind
            tests.append(f"type(a{k}) is t{k}")
    return " and ".join(tests) or "True"


def _fresh(compiled: Any, values: dict) -> str:
    """The identity checks of compiled.refresh; False (refresh decides) where the code reads
    module data (refresh puts its values in, and checks their kinds) or names a global
    through a closure."""
    if compiled.data or any(space is None or isinstance(obj, DataKind)
                            for space, _, _, obj, _ in compiled.code):
        return "False"
    values.update({"builtins": vars(builtins), "missing": MISSING_GLOBAL})
    tests = []
    for k, (fn, positional, keyword) in enumerate(compiled.defaults):
        values.update({f"f{k}": fn, f"p{k}": positional, f"k{k}": keyword})
        tests += [f"getattr(f{k}, '__defaults__', None) is p{k}",
                  f"getattr(f{k}, '__kwdefaults__', None) is k{k}"]
    for k, (space, head, rest, obj, _) in enumerate(compiled.code):
        values.update({f"s{k}": space, f"o{k}": obj})
        now = f"s{k}.get({head!r}, builtins.get({head!r}, missing))"
        for attr in rest:
            now = f"getattr({now}, {attr!r}, missing)"
        tests.append(f"{now} is o{k}")
    return " and ".join(tests) or "True"
