"""Checking one random program: the value its emitted code computes against its own, its
gradient against central differences, with the optimizer on and off, and the two gradients
against each other; each gradient's dtype against its argument's (and, for a program marked
float32, the gradient at float32 arguments); the gradient against autograd's where autograd
runs the program (no in-place writes); and all of it again after the program's module-level
names are rebound (`Program.rebinds`). Every call of the program and of its gradient passes
the program's keyword arguments (`Program.kwargs`, for its **options).

Outcomes: 'ok'; 'wrong' (a wrong gradient, value or dtype); 'error' (an AdjointError, a
hang, or an exception the program's own code raised); 'escaped' (an InternalError, adjoint's
own bug caught at its boundary, or any other exception from inside adjoint or the code it
emitted: KeyError, TypeError, IndentationError...).
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import inspect
import itertools
import linecache
import math
import os
import re
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

import adjoint
from adjoint.testing import _same_kind  # the gradient has its argument's type and shape

from .generate import FD_EPS, Hang, Program, direction, fd_points, inner, moved, rebind, time_limit

_files = itertools.count()
ADJOINT_DIR = os.path.dirname(os.path.abspath(adjoint.__file__)) + os.sep


@dataclass
class Outcome:
    kind: str  # 'ok', 'wrong', 'error' or 'escaped' (see the module's docstring)
    message: str = ""
    notes: frozenset = field(default_factory=frozenset)  # the extra checks that ran

    @property
    def signature(self) -> str:
        """What tells one bug from another: the kind and the message without names and
        numbers."""
        first = self.message.splitlines()[0] if self.message else ""
        first = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", first)
        first = re.sub(r"\b[a-zA-Z_]*\d+\w*\b|-?\d[\d.e+-]*", "#", first)
        return f"{self.kind}: {first[:120]}"


class Wrong(AssertionError):
    """A wrong gradient, value or dtype, as the checker found it."""


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
    """The outcome of checking one program, with the message."""
    f, filename = load(p.source, p.namespace)
    notes: set = set()
    try:
        with time_limit(seconds), no_disk_cache():
            _check(f, p, notes)
        return Outcome("ok", notes=frozenset(notes))
    except Wrong as e:
        return Outcome("wrong", str(e), frozenset(notes))
    except Hang as e:
        return Outcome("error", f"Hang: {e}", frozenset(notes))
    except adjoint.errors.InternalError as e:  # adjoint's own bug, caught at its boundary
        tb = "".join(traceback.format_exception(e.__cause__ or e)[-12:])
        return Outcome("escaped", f"InternalError: {e}\n{tb}", frozenset(notes))
    except adjoint.AdjointError as e:
        return Outcome("error", f"{type(e).__name__}: {e}", frozenset(notes))
    except Exception as e:  # noqa: BLE001 - what escaped, and from where
        where = origin(e, filename)
        if where is None:
            return Outcome("error", f"{type(e).__name__} raised by the program's own code: {e}",
                           frozenset(notes))
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-12:])
        return Outcome("escaped", f"{type(e).__name__} from {where}: {e}\n{tb}",
                       frozenset(notes))
    finally:
        linecache.cache.pop(filename, None)


def origin(e: BaseException, filename: str | None = None) -> str | None:
    """Where an exception came from: adjoint's own module and function, or its emitted code
    (innermost first, skipping NumPy and the standard library); None when the program's own
    code (`filename`) raised it."""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if filename is not None and frame.filename == filename:
            return None
        if frame.filename.startswith("<adjoint"):
            return f"the emitted code ({frame.line})"
        if frame.filename.startswith(ADJOINT_DIR):
            return f"adjoint/{frame.filename[len(ADJOINT_DIR):]} in {frame.name}"
    return "the checker"


def _check(f, p: Program, notes: set) -> None:
    value = f(*copy.deepcopy(p.args), **p.kwargs)
    if value != p.value:
        raise Wrong(f"the program's value changed: {value} != {p.value}")
    scale = 1.0 + abs(value)
    theirs = autograd_gradients(p)
    grads, made = _gradients(f, p, value, scale, theirs=theirs, notes=notes)
    if p.float32:
        _float32(f, p, made, grads[True], value, scale, notes)
    if theirs is not None:
        notes.add("autograd")
        _against_autograd(f, p, grads[True], theirs, scale, notes)
    for stage, values in enumerate(p.rebinds, 1):
        notes.add("rebind")
        rebind(f.__globals__, values)
        value = f(*copy.deepcopy(p.args), **p.kwargs)
        if value != p.values[stage]:
            raise Wrong(f"after {values}, the program's value changed: {value} != "
                        f"{p.values[stage]}")
        scale = 1.0 + abs(value)
        grads, _ = _gradients(f, p, value, scale, f"after {_show(values)}: ")
        for optimize, vg in made.items():  # the gradient functions made before
            emitted, g = vg(*copy.deepcopy(p.args), **p.kwargs)
            if not np.allclose(emitted, value, rtol=1e-9, atol=1e-12 * scale):
                raise Wrong(f"after {_show(values)}, the value_and_grad made before (optimize="
                            f"{optimize}) computes {emitted!r}, the program {value!r}")
            for n, a, b in zip(p.wrt, g, grads[optimize], strict=True):
                if not _close(a, b, scale):
                    raise Wrong(f"after {_show(values)}, the value_and_grad made before "
                                f"(optimize={optimize}) gives {a!r} for {n}, a new one {b!r}")


def _show(values: dict) -> str:
    return "; ".join(f"{k} = {v}" for k, v in values.items())


def _gradients(f, p: Program, value, scale: float, when: str = "", theirs=None,
               notes: set | None = None) -> tuple[dict, dict]:
    """The gradients with the optimizer on and off, each checked against central
    differences and for its dtypes, and against each other; and the value_and_grad
    functions that computed them (value_and_grad alone: each mode and optimizer setting
    compiles twice, and compiling is most of the time a program takes)."""
    grads, made = {}, {}
    for optimize in (True, False):
        vg = made[optimize] = adjoint.value_and_grad(f, wrt=p.wrt, optimize=optimize)
        grads[optimize] = _check_grads(f, p, vg, value, scale, f"{when}optimize={optimize}: ",
                                       theirs, notes)
    for n, a, b in zip(p.wrt, grads[True], grads[False], strict=True):
        if not _close(a, b, scale):
            raise Wrong(f"{when}the optimized and unoptimized gradients for {n} differ: "
                        f"{a!r} != {b!r}")
    return grads, made


def _check_grads(f, p: Program, vg, value, scale: float, when: str, theirs=None,
                 notes: set | None = None):
    """adjoint.testing.check_grads(f, args, wrt, rtol=1e-4, atol=1e-6 * scale) with the
    gradient of `vg` (the same directions, steps and checks), and the emitted value against
    the program's and the gradients' dtypes against the arguments'. Where central
    differences cannot decide (a gradient beyond 1e8 times the value: their rounding error
    swamps it) and autograd's gradient (`theirs`) is adjoint's, autograd decides."""
    args = copy.deepcopy(p.args)
    emitted, grads = vg(*args, **p.kwargs)
    if not _same_state(args, p.args):
        raise Wrong(f"{when}the gradient of f changed an argument it was given")
    if not np.allclose(emitted, value, rtol=1e-9, atol=1e-12 * scale):
        raise Wrong(f"{when}the emitted forward sweep computes {emitted!r}, the program "
                    f"{value!r}")
    rng = np.random.default_rng(0)
    for n, k, g in zip(p.wrt, _positions(f, p.wrt), grads, strict=True):
        x = p.args[k]
        if not _same_kind(g, x):
            raise Wrong(f"{when}gradient for {n} has shape {np.shape(g)}, but {n} has shape "
                        f"{np.shape(x)}")
        v = direction(x, rng)
        values = []
        for step in (FD_EPS, -FD_EPS):
            point = copy.deepcopy(p.args)
            point[k] = moved(x, v, step)
            values.append(f(*point, **p.kwargs))
        numeric, analytic = (values[0] - values[1]) / (2 * FD_EPS), inner(g, v)
        ill = abs(analytic) > 1e8 * scale and theirs is not None and _close(
            g, theirs[p.wrt.index(n)], scale)
        if ill and notes is not None:
            notes.add("autograd decides")
        if not ill and not np.isclose(analytic, float(numeric), rtol=1e-4, atol=1e-6 * scale) \
                and _fd_error(f, p.args, k, v, analytic, p.kwargs) > 1e-3 * (1 + abs(analytic)):
            # (central differences that come to the gradient as the step shrinks: curvature
            # or rounding, not adjoint; the generator checked no branch switches there)
            raise Wrong(f"{when}gradient of f with respect to {n} disagrees with central "
                        f"differences: <grad, v> = {analytic!r}, finite differences = "
                        f"{numeric!r}")
    _dtypes(f, p.args, p.wrt, grads, when)
    return grads


def _same_state(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    return True


def _positions(f, wrt) -> list[int]:
    params = list(inspect.signature(f).parameters)
    return [params.index(n) for n in wrt]


def _dtypes(f, args, wrt, grads, when: str) -> None:
    """Each array of each gradient has its argument's dtype."""
    def same(g, x, where):
        if isinstance(x, dict):
            for k in x:
                same(g[k], x[k], f"{where}[{k!r}]")
        elif isinstance(x, (list, tuple)):
            for k, (a, b) in enumerate(zip(g, x, strict=True)):
                same(a, b, f"{where}[{k}]")
        elif isinstance(x, np.ndarray) and (not isinstance(g, np.ndarray) or g.dtype != x.dtype):
            got = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
            raise Wrong(f"{when}the gradient for {where} has dtype {got}, the argument "
                        f"{x.dtype}")

    for n, k, g in zip(wrt, _positions(f, wrt), grads, strict=True):
        same(g, args[k], n)


def _close(a, b, scale: float) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _close(a[k], b[k], scale) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            _close(x, y, scale) for x, y in zip(a, b, strict=True))
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12 * scale))


def _fd_error(f, args, k: int, v, analytic: float, kwargs: dict | None = None,
              steps=(1e-5, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11)) -> float:
    """How close central differences of f along v (in argument k) come to `analytic`
    (f called with `kwargs` too)."""
    errors = []
    for eps in steps:
        values = []
        for step in (eps, -eps):
            point = copy.deepcopy(args)
            point[k] = moved(args[k], v, step)
            values.append(f(*point, **(kwargs or {})))
        errors.append(abs((values[0] - values[1]) / (2 * eps) - analytic))
    return min(errors)


# ---------------------------------------------------------------- float32


def _to32(x):
    if isinstance(x, dict):
        return {k: _to32(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to32(v) for v in x)
    return x.astype(np.float32) if isinstance(x, np.ndarray) else x


def _leaves(g, like) -> list[float]:
    """The numbers of a gradient, in the order of its argument's structure."""
    if isinstance(like, dict):
        return [v for k in like for v in _leaves(g[k], like[k])]
    if isinstance(like, (list, tuple)):
        if len(g) != len(like):
            raise ValueError("not the argument's length")
        return [v for a, b in zip(g, like, strict=True) for v in _leaves(a, b)]
    if np.shape(g) != np.shape(like):
        raise ValueError("not the argument's shape")
    return list(np.ravel(np.asarray(g, dtype=float)))


def _shaped(vector, like, start: int = 0):
    """The inverse of _leaves: `vector` in `like`'s structure (lists for lists and tuples, as
    check_grads' directions are); returns (value, next start)."""
    if isinstance(like, dict):
        out = {}
        for k in like:
            out[k], start = _shaped(vector, like[k], start)
        return out, start
    if isinstance(like, (list, tuple)):
        out = []
        for item in like:
            v, start = _shaped(vector, item, start)
            out.append(v)
        return out, start
    size = int(np.size(like))
    part = vector[start:start + size]
    if np.ndim(like) == 0:
        return float(part[0]), start + 1
    return part.reshape(np.shape(like)), start + size


def _float32(f, p: Program, made: dict, g64, value, scale: float, notes: set) -> None:
    """The gradient at float32 arguments: float32 arrays, close to the float64 one (the
    arguments are values float32 holds exactly)."""
    args = _to32(p.args)
    notes.add("float32")
    for optimize in (False, True):
        _, g32 = made[optimize](*copy.deepcopy(args), **p.kwargs)
        _dtypes(f, args, p.wrt, g32, f"float32 arguments, optimize={optimize}: ")
    value32 = f(*copy.deepcopy(args), **p.kwargs)
    if not abs(float(value32) - value) <= 1e-4 * scale:
        return  # float32 rounding changes the program's value itself: nothing to compare
    for n, k, a, b in zip(p.wrt, _positions(f, p.wrt), g32, g64, strict=True):
        a32, b64 = np.array(_leaves(a, p.args[k])), np.array(_leaves(b, p.args[k]))
        if not np.allclose(a32, b64, rtol=1e-2, atol=1e-3 * (scale + np.max(np.abs(b64),
                                                                            initial=0.0))):
            raise Wrong(f"with float32 arguments the gradient for {n} is {a!r}, with "
                        f"float64 ones {b!r}")


# ---------------------------------------------------------------- autograd

# a write into an item or slice, or an augmented assignment: autograd cannot run these
IN_PLACE = re.compile(r"^\s*[^=\n]*\]\s*(?:[-+*/]|\*\*)?=(?!=)|\s(?:[-+*/]|\*\*)=\s", re.M)


def _autograd_namespace() -> dict | None:
    try:
        import autograd.numpy as anp
        from autograd.extend import Box
    except ImportError:
        return None

    def to_float(v):
        if isinstance(v, Box):
            return v if v.shape == () else anp.reshape(v, ())
        return builtins.float(v)

    class Math:
        """math, with the functions autograd can trace when a traced value comes in."""

        NAMES = {"atan": "arctan", "fsum": "sum", "pow": "power"}

        def __getattr__(self, n):
            plain = getattr(math, n)
            traced = getattr(anp, self.NAMES.get(n, n), None)
            if traced is None or not callable(plain):
                return plain

            def call(*args):
                if any(isinstance(a, Box) for a in args):
                    return traced(*args)
                return plain(*args)
            return call

    return {"np": anp, "math": Math(), "float": to_float, "__name__": "fuzz_autograd"}


def autograd_gradients(p: Program) -> list | None:
    """autograd's gradients of the program, one per `wrt` argument; None where autograd
    cannot run it (in-place writes, functions it has no rule for, float() of a traced
    array...)."""
    if IN_PLACE.search(p.source):
        return None
    ns = _autograd_namespace()
    if ns is None:
        return None
    import autograd
    import autograd.numpy as anp

    for k, v in p.namespace.items():
        traced = getattr(anp, getattr(v, "__name__", ""), None)
        ns[k] = traced if callable(v) and getattr(np, getattr(v, "__name__", ""), None) is v \
            and traced is not None else v
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), time_limit(20):
            warnings.simplefilter("ignore")
            exec(compile(p.source, "<fuzz-autograd>", "exec"), ns)
            f = ns["f"]
            return [autograd.grad(f, k)(*copy.deepcopy(p.args), **p.kwargs)
                    for k in _positions(f, p.wrt)]
    except (Exception, Hang):  # noqa: BLE001 - autograd cannot run it: no second oracle
        return None


def _against_autograd(f, p: Program, grads, theirs, scale: float, notes: set) -> None:
    """adjoint's gradient against autograd's; where they differ, central differences along
    their difference decide: a wrong gradient where they disagree with adjoint's."""
    for n, k, g, a in zip(p.wrt, _positions(f, p.wrt), grads, theirs, strict=True):
        x = p.args[k]
        try:
            ours, other = np.array(_leaves(g, x)), np.array(_leaves(a, x))
        except (ValueError, TypeError, KeyError, IndexError):
            continue  # autograd's result is not shaped like the argument
        if not np.all(np.isfinite(other)):
            continue
        big = 1.0 + max(np.max(np.abs(ours), initial=0.0), np.max(np.abs(other), initial=0.0))
        if np.allclose(ours, other, rtol=1e-6, atol=1e-9 * big):
            continue
        unit = (ours - other) / np.linalg.norm(ours - other)
        d, _ = _shaped(unit, x)
        analytic, other_side = float(ours @ unit), float(other @ unit)
        if abs(analytic - other_side) <= 1e-5 * big:
            continue  # closer than central differences can tell
        error = _fd_error(f, p.args, k, d, analytic, p.kwargs,
                          steps=(1e-4, 1e-5, 1e-6, 1e-7))
        if error <= 1e-4 * (1 + abs(analytic)) or error <= 0.1 * abs(analytic - other_side):
            notes.add("autograd differs")  # central differences side with adjoint
            continue
        raise Wrong(f"the gradient for {n} disagrees with autograd's, and central differences "
                    f"along their difference disagree with it too: <adjoint, d> = "
                    f"{analytic!r}, <autograd, d> = {other_side!r}, off by {error!r}\n"
                    f"adjoint: {g!r}\nautograd: {a!r}")


__all__ = ["Hang", "Outcome", "autograd_gradients", "check", "fd_points", "load", "origin",
           "time_limit"]
