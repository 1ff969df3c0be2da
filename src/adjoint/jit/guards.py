"""guards: what a call of a numba gradient checks before it runs a compiled version, as
straight-line code.

A call with the argument types of an earlier call runs the version compiled for them once
two things hold: the arguments have those types (the dtype and dimensions of each array,
the type of each number), and what the code was compiled from is what it was (the
function's defaults, the module, function and class each global name means:
Compiled.refresh). In Python a loop over the arguments or the globals costs more than the
comparisons it makes (about a tenth of the gradient of a small stencil), so for each
version both checks are written out once as functions of their own:

    def same(args):                        # the types of the call that built the entry
        if len(args) != 3:
            return False
        a0, a1, a2 = args
        return type(a0) is ndarray and a0.ndim == 1 and a0.dtype is t0 and \\
            type(a1) is t1 and type(a2) is ndarray and a2.ndim == 1 and a2.dtype is t2

    def fresh():                           # the defaults and globals compiled in
        return getattr(f0, '__defaults__', None) is p0 and \\
            getattr(f0, '__kwdefaults__', None) is k0 and \\
            s0.get('range', builtins.get('range', missing)) is o0

Each compares identities only; where one fails (an equal dtype that is another object, a
default replaced by an equal tuple) or the code reads module data, the call goes the long
way (the key of its types, Compiled.refresh), which decides.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..program import MISSING_GLOBAL, DataKind


@dataclass(frozen=True, slots=True)
class Entry:
    """A compiled version for the types of a call: what to call with which trailing
    arguments, its file (for numba's errors), and its two checks."""

    compiled: Any
    path: Any
    call: Any
    tail: tuple
    same: Any  # same(args) -> bool: the call's types are the entry's
    fresh: Any  # fresh() -> bool: nothing the code was compiled from changed (False: ask
    # compiled.refresh)


def entry(compiled: Any, path: Any, call: Any, tail: tuple, key: tuple) -> Entry:
    """The entry of a version for arguments of the types `key` (jit._type_key)."""
    return Entry(compiled, path, call, tail, _same(key), _fresh(compiled))


def _same(key: tuple):
    values: dict = {"ndarray": np.ndarray}
    names = [f"a{k}" for k in range(len(key))]
    tests = []
    for k, kind in enumerate(key):
        if isinstance(kind, tuple):  # (dtype, ndim) of an array
            values[f"t{k}"] = kind[0]
            tests.append(f"type(a{k}) is ndarray and a{k}.ndim == {int(kind[1])} and "
                         f"a{k}.dtype is t{k}")
        else:
            values[f"t{k}"] = kind
            tests.append(f"type(a{k}) is t{k}")
    unpack = f"    {', '.join(names)}, = args\n" if names else ""
    source = (f"def same(args):\n    if len(args) != {len(key)}:\n        return False\n"
              f"{unpack}    return {' and '.join(tests) or 'True'}\n")
    return _made(source, "same", values)


def _fresh(compiled: Any):
    """The identity checks of compiled.refresh, written out; compiled.refresh itself where
    the code reads module data (refresh puts its values in, and checks their kinds) or names
    a global through a closure."""
    if compiled.data or any(space is None or isinstance(obj, DataKind)
                            for space, _, _, obj, _ in compiled.code):
        return compiled.refresh
    values: dict = {"builtins": vars(builtins), "missing": MISSING_GLOBAL}
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
    source = f"def fresh():\n    return {' and '.join(tests) or 'True'}\n"
    return _made(source, "fresh", values)


def _made(source: str, name: str, values: dict):
    space = dict(values)
    exec(compile(source, f"<adjoint guard {name}>", "exec"), space)  # noqa: S102
    return space[name]
