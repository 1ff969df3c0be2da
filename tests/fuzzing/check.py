"""Checking one random program: the value its emitted code computes against its own, its
gradient against central differences, with the optimizer on and off, and the two gradients
against each other."""

from __future__ import annotations

import contextlib
import copy
import itertools
import linecache
import math
import os
import re
from dataclasses import dataclass

import numpy as np

import adjoint
from adjoint.testing import check_grads

from .generate import Hang, Program, direction, fd_points, inner, moved, time_limit

_files = itertools.count()


@dataclass
class Outcome:
    kind: str  # 'ok', 'wrong' (a wrong gradient) or 'error' (an exception from adjoint)
    message: str = ""

    @property
    def signature(self) -> str:
        """What tells one bug from another: the kind and the message without names and
        numbers."""
        first = self.message.splitlines()[0] if self.message else ""
        first = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", first)
        first = re.sub(r"\b[a-zA-Z_]*\d+\w*\b|-?\d[\d.e+-]*", "#", first)
        return f"{self.kind}: {first[:120]}"


def load(source: str, namespace: dict | None = None):
    """`f` of the program, from a fake file registered in linecache."""
    filename = f"<fuzz-{next(_files)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = {"np": np, "math": math, "__name__": "fuzz_program", **(namespace or {})}
    exec(compile(source, filename, "exec"), ns)
    return ns["f"], filename


@contextlib.contextmanager
def no_disk_cache():
    """Compile every program afresh: the fuzzer tests the compiler, not the cache."""
    saved = os.environ.get("ADJOINT_CACHE")
    os.environ["ADJOINT_CACHE"] = "0"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["ADJOINT_CACHE"]
        else:
            os.environ["ADJOINT_CACHE"] = saved


def check(p: Program, seconds: float = 30.0) -> Outcome:
    """The outcome of checking one program: 'ok', 'wrong' or 'error', with the message."""
    f, filename = load(p.source, p.namespace)
    try:
        with time_limit(seconds), no_disk_cache():
            return _check(f, p)
    except AssertionError as e:
        return Outcome("wrong", str(e))
    except (Exception, Hang) as e:  # any exception from adjoint is a finding
        return Outcome("error", f"{type(e).__name__}: {e}")
    finally:
        linecache.cache.pop(filename, None)


def _check(f, p: Program) -> Outcome:
    value = f(*copy.deepcopy(p.args))
    assert value == p.value, f"the program's value changed: {value} != {p.value}"
    scale = 1.0 + abs(value)
    grads = {}
    for optimize in (True, False):
        emitted, _ = adjoint.value_and_grad(f, wrt=p.wrt, optimize=optimize)(
            *copy.deepcopy(p.args))
        if not np.allclose(emitted, value, rtol=1e-9, atol=1e-12 * scale):
            raise AssertionError(f"optimize={optimize}: the emitted forward sweep computes "
                                 f"{emitted!r}, the program {value!r}")
        try:
            grads[optimize] = check_grads(f, copy.deepcopy(p.args), p.wrt, optimize=optimize,
                                          rtol=1e-4, atol=1e-6 * scale)
        except AssertionError as e:
            if "disagrees with central differences" in str(e) and _fd_noise(f, p, optimize):
                grads[optimize] = adjoint.grad(f, wrt=p.wrt, optimize=optimize)(
                    *copy.deepcopy(p.args))
                continue
            raise AssertionError(f"optimize={optimize}: {e}") from None
    for name, a, b in zip(p.wrt, grads[True], grads[False], strict=True):
        if not _close(a, b, scale):
            raise AssertionError(f"the optimized and unoptimized gradients for {name} differ: "
                                 f"{a!r} != {b!r}")
    return Outcome("ok")


def _close(a, b, scale: float) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _close(a[k], b[k], scale) for k in a)
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12 * scale))


def _fd_noise(f, p: Program, optimize: bool) -> bool:
    """Whether central differences along check_grads' own directions come to the gradient
    as the step shrinks: then the disagreement came from curvature or rounding, not from
    adjoint (the generator checked that no branch switches within those steps)."""
    grads = adjoint.grad(f, wrt=p.wrt, optimize=optimize)(*copy.deepcopy(p.args))
    positions = [k for k, a in enumerate(p.args) if not isinstance(a, int)]
    rng = np.random.default_rng(0)  # the directions of check_grads(..., seed=0)
    for k, g in zip(positions, grads, strict=True):
        x = p.args[k]
        v = direction(x, rng)
        analytic = inner(g, v)
        errors = []
        for eps in (1e-5, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11):
            values = []
            for step in (eps, -eps):
                args = copy.deepcopy(p.args)
                args[k] = moved(x, v, step)
                values.append(f(*args))
            errors.append(abs((values[0] - values[1]) / (2 * eps) - analytic))
        if min(errors) > 1e-3 * (1 + abs(analytic)):
            return False
    return True


__all__ = ["Hang", "Outcome", "check", "fd_points", "load", "time_limit"]
