"""Finding what a command names: the user's FILE imported, its FUNC, and the --wrt given.

How FILE is imported. FILE:FUNC names a function in a Python file, and adjoint
needs the live function (to resolve what its names mean), so the file is
imported the way pytest imports test files by default: as a module named after
the file, with the file's folder put first on sys.path (for a file inside a
package, a folder with `__init__.py`, the folder above the package, and the
module gets its dotted name). That implies:

- the file's top-level code runs, with `__name__` set to the module name, not
  "__main__" (a script's `if __name__ == "__main__":` block does not run);
  whatever it prints goes to stderr, so stdout stays the generated module;
- its imports must resolve from its folder;
- its name must be a valid module name, and must not shadow the standard
  library or a module already imported (`random.py`, `numpy.py` are refused);
- a generated file imports the non-literal globals the gradient reads (arrays,
  helper objects) from that module name (`from mlp import W`), so it runs where
  that module is importable; numpy, math and literal constants are written out.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
import keyword
import re
import sys
import tokenize
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .. import api
from ..errors import AdjointError, ApiError, UnsupportedSyntax


class TargetError(click.ClickException):
    """A FILE, FUNC or option value that names nothing: one line, exit status 2."""

    exit_code = 2


class MissingFile(TargetError):
    """A FILE that does not exist."""


# ---------------------------------------------------------------- importing the user's file

_imported: set[str] = set()  # module names this process imported from user files


def module_name(file: Path) -> tuple[Path, str]:
    """The sys.path folder and module name for `file` (absolute), as pytest's prepend mode
    finds them: the file's folder, or above the outermost package that holds it."""
    parts = [file.stem]
    folder = file.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def import_file(file: Path, shown: str) -> types.ModuleType:
    """Import `file` afresh as a module named after it; `shown` is its path as given."""
    file = file.resolve()
    base, name = module_name(file)
    if not all(p.isidentifier() and not keyword.iskeyword(p) for p in name.split(".")):
        raise TargetError(f"{shown}: {name!r} is not a valid module name, and adjoint imports "
                          "the file as a module named after it; rename the file")
    top = name.split(".")[0]
    existing = sys.modules.get(name)
    existing_file = getattr(existing, "__file__", None)
    if top in sys.stdlib_module_names or (
            existing is not None and name not in _imported
            and (existing_file is None or Path(existing_file).resolve() != file)):
        taken = "the standard library" if top in sys.stdlib_module_names else \
            existing_file or "a built-in module"
        raise TargetError(f"{shown}: adjoint imports the file as module {name!r}, which would "
                          f"shadow the module {top if existing is None else name!r} from "
                          f"{taken}; rename the file")
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    sys.modules.pop(name, None)  # afresh: the file may have changed since an earlier import
    try:
        with contextlib.redirect_stdout(sys.stderr):
            if "." in name:
                module = importlib.import_module(name)
            else:
                spec = importlib.util.spec_from_file_location(name, file)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        where = shown if exc.filename and Path(exc.filename).resolve() == file else \
            exc.filename or shown
        loc = UnsupportedSyntax(exc.msg, where, exc.lineno or 1, (exc.offset or 1) - 1,
                                exc.text or "")
        raise click.ClickException(f"{where} does not parse: {loc}") from None
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise click.ClickException(
            f"importing {shown} failed: {type(exc).__name__}: {exc}") from None
    if Path(getattr(module, "__file__", "") or "").resolve() != file:
        raise TargetError(f"{shown}: importing it as {name!r} found {module.__file__} instead")
    _imported.add(name)
    return module


@dataclass
class Loader:
    """The user's files, each imported once per command."""

    modules: dict = field(default_factory=dict)  # resolved path -> module
    shown: dict = field(default_factory=dict)  # resolved path (str) -> path as given

    def module(self, path: str) -> types.ModuleType:
        file = Path(path)
        if not file.is_file():
            raise MissingFile(f"{path}: no such file")
        key = file.resolve()
        if key not in self.modules:
            self.modules[key] = import_file(file, path)
            self.shown[str(key)] = path
        return self.modules[key]

    def function(self, path: str, name: str) -> Any:
        module = self.module(path)
        fn: Any = module
        for part in name.split("."):  # Class.method: the class's function
            fn = getattr(fn, part, None)
        if not callable(fn):
            defined = [n for n, obj in vars(module).items()
                       if isinstance(obj, types.FunctionType) and obj.__module__ ==
                       module.__name__]
            hint = f" (it defines {', '.join(defined)})" if defined else ""
            raise TargetError(f"{path} defines no function {name!r}{hint}")
        return fn

    def public_functions(self, path: str) -> list[tuple[Any, str]]:
        """`--all`: the file's top-level `def`s, in source order, except private ones
        (`_name`), `example` (it supplies `check`'s arguments), functions without
        parameters and names bound to something else by the time the file has run (a
        decorator's wrapper, a later assignment)."""
        module = self.module(path)
        file = Path(path).resolve()
        with tokenize.open(file) as fh:
            tree = ast.parse(fh.read())
        out: list[tuple[Any, str]] = []
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_") or \
                    node.name == "example" or any(n == node.name for _, n in out):
                continue
            args = node.args
            if not (args.posonlyargs or args.args or args.kwonlyargs):
                continue
            fn = getattr(module, node.name, None)
            if isinstance(fn, types.FunctionType) and fn.__name__ == node.name and \
                    Path(fn.__code__.co_filename).resolve() == file:
                out.append((fn, node.name))
        if not out:
            raise click.ClickException(f"{path} defines no public top-level function to "
                                       "differentiate")
        return [(fn, f"{path}:{name}") for fn, name in out]

    def describe(self, exc: AdjointError) -> str:
        """An error's message, naming the user's file as they gave it."""
        if isinstance(exc, SyntaxError) and exc.filename:
            with contextlib.suppress(OSError):
                exc.filename = self.shown.get(str(Path(exc.filename).resolve()), exc.filename)
        return str(exc)


def split_target(target: str, all_: bool) -> tuple[str, str | None]:
    """FILE:FUNC (or FILE:Class.method) -> (FILE, FUNC); FILE (with --all) -> (FILE, None)."""
    path, sep, name = target.rpartition(":")
    if sep and path and name and all(part.isidentifier() for part in name.split(".")):
        return path, name  # FUNC, or Class.method
    if all_:
        return target, None
    raise TargetError(f"{target!r} is not FILE:FUNC (to take every function of a file, "
                      "give FILE with --all)")


@contextlib.contextmanager
def reported(loader: Loader) -> Iterator[None]:
    """AdjointError -> its message on stderr and exit status 1, no traceback."""
    try:
        yield
    except AdjointError as exc:
        raise click.ClickException(loader.describe(exc)) from None


# ---------------------------------------------------------------- wrt

def parse_wrt(text: str | None) -> Any:
    """'W1,b1' -> ('W1', 'b1'); 'x' -> 'x'; '0' -> 0; None -> 0 (the first parameter)."""
    if text is None:
        return 0
    items = [w.strip() for w in text.split(",")]
    if not all(items):
        raise click.BadParameter(f"{text!r} has an empty name", param_hint="--wrt")
    out = tuple(int(w) if re.fullmatch(r"-?\d+", w) else w for w in items)
    return out[0] if len(out) == 1 else out


def method_wrt(loader: Loader, path: str, name: str, wrt: Any) -> Any:
    """`wrt` for FILE:Class.method: positions count the method's parameters after self (as
    adjoint.grad does for a bound method), and the default is the first of them; the
    generated function takes the object first."""
    owner_name, _, attr = name.rpartition(".")
    if not owner_name:
        return wrt
    owner = loader.function(path, owner_name) if owner_name else None
    if not isinstance(owner, type) or not isinstance(inspect.getattr_static(owner, attr, None),
                                                     types.FunctionType):
        return wrt

    def shift(w: Any) -> Any:
        if isinstance(w, tuple):
            return tuple(shift(x) for x in w)
        return w + 1 if isinstance(w, int) and w >= 0 else w
    return shift(wrt)


def wrt_text(wrt: Any) -> str:
    """('W1', 'b1') -> 'W1,b1', as --wrt spells it."""
    return ",".join(str(w) for w in (wrt if isinstance(wrt, tuple) else (wrt,)))


def wrt_names(fn: Any, wrt: Any, shown: str) -> tuple[str, ...]:
    """The parameter names `wrt` picks, checked against the signature (a usage error, exit
    status 2, when it names no parameter)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return ()  # not a plain function: the compiler says why
    stub = types.SimpleNamespace(name=getattr(fn, "__name__", shown),
                                 params=[types.SimpleNamespace(name=p) for p in params])
    try:
        return api.resolve_wrt(stub, wrt)
    except ApiError as exc:
        raise TargetError(f"{shown}: {exc}") from None
