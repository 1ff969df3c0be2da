"""module: the text of a module of njit-compiled gradients, and loading it from a real file
(numba's cache=True keeps machine code beside the source it was compiled from).

Each emitted function becomes an `@njit(cache=True)` function; each gradient the user asked
for gets a thin Python wrapper under its usual name, holding the defaults and the seed
keyword, that passes every argument to `<name>_njit` (numba's dispatch of an omitted
defaulted argument is slow).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
import tempfile
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import compile as emit
from .. import parse as parse_
from ..cache import binding, cache_dir
from ..errors import stage
from ..ir import Emitted
from ..program import Program, is_data
from .data import pass_data
from .lower import lower
from .refusals import NumbaUnsupported

DECORATOR = "@njit(cache=True)"
IMPORTS = ["from numba import njit", "", "from adjoint.jit import runtime"]


@dataclass
class Built:
    """The numba code of some gradients: its text (without imports) and wrappers, the
    namespace it reads, and (kernel name, user function name) of each gradient."""

    code: str
    namespace: dict
    names: list  # (wrapper, kernel, the user's function name, wrt names)
    program: Program
    refused: Exception | None = None  # why numba cannot take this code (build(defer=True))


def build(targets: list[tuple[Any, Any, str]], optimize: bool = True,
          kinds: tuple = ((), ()), defer: bool = False) -> Built:
    """The numba gradients of `targets` ((function, wrt, mode 'grad' or 'value')),
    specialized on the argument kinds; with `defer`, a runtime helper with no numba version
    is kept in `refused` rather than raised (code for no call in particular may need one
    where the code for a call, specialized on its kinds, does not: `x = x0; x += a` changes
    an argument in place only where x0 holds an array)."""
    try:
        return _build(targets, optimize, kinds)
    except NumbaUnsupported as exc:
        if not defer or getattr(exc, "helper", None) is None:  # (a try, *args: in any code)
            raise
        program = Program(optimize, inline=False)
        program.typed = True
        tops = [(program.add(fn, wrt, mode=mode, as_tuple=isinstance(wrt, (tuple, list)),
                             kinds=kinds), fn) for fn, wrt, mode in targets]
        names = [(top.name, f"{top.name}_njit", parse_.function_name(fn), wrt_names)
                 for ((top, *_), wrt_names), fn in tops]
        stubs = "".join(f"def {top.name}({top.params}):\n    ...\n" for ((top, *_), _), _ in tops)
        note = "".join(f"# {line}\n" for line in str(exc).splitlines())
        return Built(f"# numba cannot compile this code for no call in particular:\n{note}"
                     "# the code for a call is built as it runs (adjoint.source(df, *args))\n"
                     + stubs, dict(program.namespace), names, program, exc)


def _build(targets: list[tuple[Any, Any, str]], optimize: bool, kinds: tuple) -> Built:
    program = Program(optimize, inline=False)  # numba's own compiler inlines helpers
    program.typed = True
    tops = []
    for fn, wrt, mode in targets:
        (top, *_), names = program.add(fn, wrt, mode=mode,
                                       as_tuple=isinstance(wrt, (tuple, list)), kinds=kinds)
        tops.append((top, parse_.function_name(fn), names))
    owners = _owners(program)
    top_names = {t.name for t, _, _ in tops}
    chunks, names, stacks = [], [], {}
    pairs = {entry[1]: entry[0] for entry in program.callees.values()}
    for fn in program.functions:
        owner = owners.get(getattr(fn, "name", None), tops[-1][1])
        if isinstance(fn, str):
            lower(fn, owner)  # refused: a function defined inside the differentiated one
        with stage("compiling for numba the gradient of", owner):
            done = lower(fn, owner, stacks.get(pairs.get(fn.name), frozenset()),
                         fn.name in top_names)
        stacks[done.fn.name] = done.stacks
        if fn.name in top_names:
            kernel = program.names.fresh(f"{fn.name}_njit")
            wrapper = _wrapper(fn, kernel, done.checks)
            done.fn.name = kernel
            chunks += [_njit(done.fn), wrapper]
            names.append((fn.name, kernel, owner, next(n for t, _, n in tops if t is fn)))
        else:
            chunks.append(_njit(done.fn))
    data = {n for n, _, _ in program.data()}  # read at each call, not compiled in
    code = pass_data("\n\n".join(chunks), data, tops[-1][1], _dotted_data(program))
    return Built(code, dict(program.namespace), names, program)


LIBRARIES = frozenset({"numpy", "math", "cmath", "scipy"})  # their constants are compiled in


def _dotted_data(program: Program) -> frozenset:
    """The module attributes holding data the code reads ('cfg.scale'): passed to the njit
    code at each call, as a module's names are (not np.pi)."""
    out = set()
    for _, resolved in program.resolved:
        for dotted, obj in resolved.items():
            head = program.namespace.get(dotted.split(".")[0])
            library = isinstance(head, types.ModuleType) and \
                head.__name__.split(".")[0] in LIBRARIES
            if "." in dotted and is_data(obj) and not library:
                out.add(dotted)
    return frozenset(out)


def _owners(program: Program) -> dict[str, str]:
    """The user's function each emitted split helper differentiates."""
    return {name: parse_.function_name(key[0]) for key, entry in program.callees.items()
            for name in entry[:2]}  # (fwd, bwd, what is known of the result...)


def _njit(fn: Emitted) -> str:
    return f"{DECORATOR}\n{emit.to_source([fn])}"


def _wrapper(fn: Emitted, kernel: str, checks: list[str]) -> str:
    """`def grad_f(x, n=3, f_bar=1.0): return grad_f_njit(x, n, f_bar)`."""
    names = [p.split("=")[0].strip() for p in fn.params.split(",")]
    names = [n for n in names if n and n != "*"]
    body = [f"    {check}" for check in checks]
    body.append(f"    return {kernel}({', '.join(names)})")
    return f"def {fn.name}({fn.params}):\n" + "\n".join(body) + "\n"


def generate(targets: list[tuple[Any, Any]], *, command: str, origins: list[str],
             optimize: bool = True) -> str:
    """A standalone module of numba gradients (`adjoint grad --backend numba`): the header
    `adjoint stale` reads, the imports, the njit functions and their wrappers."""
    from .. import __version__
    from ..cache import source_hash

    built = build([(fn, wrt, "grad") for fn, wrt in targets], optimize)
    free = emit.free_names(built.code) - {"njit", "runtime"}
    used = {n: built.namespace[n] for n in free if n in built.namespace}
    user_module = targets[0][0].__module__ if targets else None
    lines = [f"# Generated by adjoint {__version__}. Do not edit: regenerate with",
             f"#   {command}"]
    for (fn, _), origin, (_, _, _, wrt) in zip(targets, origins, built.names, strict=True):
        lines.append(f"# adjoint-source: {origin} wrt={','.join(wrt)} "
                     f"sha256={source_hash(fn)}")
    lines += ['"""Gradients emitted by adjoint, compiled by numba; see the header for their '
              'sources."""', ""]
    imports = emit.import_lines(used, user_module)
    lines += [*imports, *([""] if imports else []), *IMPORTS]
    return "\n".join(lines) + "\n\n\n" + built.code


def folder() -> Path:
    """Where numba gradients are written: adjoint's cache folder, or (the cache off) a folder
    of this process's own."""
    base = cache_dir()
    if base is None:
        global _temporary
        if _temporary is None:
            import atexit
            import shutil

            _temporary = Path(tempfile.mkdtemp(prefix="adjoint-numba-"))
            atexit.register(shutil.rmtree, _temporary, True)
        return _temporary
    return base / "numba"


_temporary: Path | None = None


def load(built: Built, label: str) -> tuple[dict, Path]:
    """Run the code of `built` as a module read from a file (written once per text and
    meanings of its names); returns its namespace and the file."""
    from . import runtime

    text = f"from numba import njit\n\n\n{built.code}"
    digest = hashlib.sha256((text + repr(_meanings(built)) + _runtime_stamp()).encode()
                            ).hexdigest()[:20]
    path = folder() / f"{label}_{digest}.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".module.")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    name = f"adjoint_numba_{label}_{digest}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    space = module.__dict__
    space.update(built.namespace)
    space["runtime"] = runtime
    space["njit"] = runtime.njit
    sys.modules[name] = module
    emit.check(text, space)
    exec(compile(text, str(path), "exec"), space)  # noqa: S102 - code adjoint emitted
    return space, path


@functools.cache
def _runtime_stamp() -> str:
    """The text of the helpers emitted code calls: numba's cache keeps machine code with the
    helpers inlined, so a changed runtime makes a new file."""
    here = Path(__file__).parent
    return hashlib.sha256(b"".join((here / f).read_bytes() for f in (
        "runtime.py", "storage.py", "buffers.py"))).hexdigest()


def _meanings(built: Built) -> list:
    """What each name the code reads means (a changed helper makes a new file, so numba's
    cache of the old one is not reused)."""
    out = []
    for name, obj in sorted(built.namespace.items()):
        inner = getattr(obj, "py_func", None)
        with contextlib.suppress(OSError, TypeError):
            out.append((name, binding(inner if inner is not None else obj)))
    return out
