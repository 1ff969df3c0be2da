"""The commands that write and check generated modules: grad and stale."""

from __future__ import annotations

import ast
import contextlib
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from .. import api
from . import writing
from .importing import (
    Loader,
    MissingFile,
    TargetError,
    method_wrt,
    parse_wrt,
    reported,
    split_target,
    wrt_names,
    wrt_text,
)
from .writing import read_header, read_text, unified_diff, why_different, write_atomic

PROGRESS_MIN = 4  # targets in a batch before a progress bar shows (on a terminal)


def command_line(targets: Sequence[str], all_: bool, wrt: Any, output: Path | None,
                 no_optimize: bool, kind: str = "grad", backend: str = "numpy") -> str:
    """The canonical command recorded in a generated file's header (and parsed back by
    `stale`): the same options always give the same text."""
    words = ["adjoint", kind, *targets]
    words += ["--all"] if all_ else []
    words += ["--wrt", wrt_text(wrt)] if wrt is not None else []
    words += ["-o", str(output)] if output is not None else []
    words += ["--no-optimize"] if no_optimize else []
    words += ["--backend", backend] if backend != "numpy" else []
    return shlex.join(words)


def build(loader: Loader, targets: Sequence[str], all_: bool, wrt: str | None,
          output: Path | None, no_optimize: bool, kind: str = "grad",
          backend: str = "numpy") -> str:
    """The text of the module `adjoint grad` (or `adjoint jvp`) writes for these options."""
    wrt_value = parse_wrt(wrt)
    found: list[tuple[Any, str]] = []
    wrts: dict = {}
    for target in targets:
        path, name = split_target(target, all_)
        if name is None:
            found += loader.public_functions(path)
        else:
            found.append((loader.function(path, name), target))
            wrts[target] = method_wrt(loader, path, name, wrt_value)
    files = {Path(o.rpartition(":")[0]).resolve(): o for _, o in found}
    if len(files) > 1:
        first, second = list(files.values())[:2]
        raise TargetError(f"{first} and {second} are in different files; a generated module "
                          "holds gradients from one source file (run adjoint grad once per "
                          "file)")
    if output is not None and output.resolve() in files:
        raise TargetError(f"-o {output} is the source file itself; not overwriting it")
    seen: dict = {}
    for fn, origin in found:
        if fn in seen:
            raise TargetError(f"{origin} is asked for twice (as {seen[fn]} too)")
        seen[fn] = origin
        wrt_names(fn, wrts.get(origin, wrt_value), origin)
    pairs = [(fn, wrts.get(origin, wrt_value)) for fn, origin in found]
    with reported(loader):
        if kind == "grad" and len(pairs) >= PROGRESS_MIN and writing.is_terminal(sys.stderr):
            _compile_with_progress(pairs, not no_optimize)
        command = command_line(targets, all_, None if wrt is None else wrt_value, output,
                               no_optimize, kind, backend)
        if backend == "numba":
            from ..jit import module, require_numba

            require_numba()
            text = module.generate(pairs, command=command, origins=[o for _, o in found],
                                   optimize=not no_optimize)
        else:
            text = api.generate(pairs, command=command, origins=[o for _, o in found],
                                optimize=not no_optimize, kind=kind)
    names = [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise click.ClickException(f"the module would define {', '.join(twice)} more than "
                                   "once; generate these gradients into separate files")
    return text


def _compile_with_progress(pairs: list, optimize: bool) -> None:
    """Compile each target once under a progress bar on stderr (a terminal), so a long batch
    shows where it is and an error shows which function it came from."""
    with click.progressbar(pairs, label="differentiating", file=sys.stderr,
                           item_show_func=lambda p: p[0].__name__ if p else "") as bar:
        for fn, wrt in bar:
            api.compile_grad(fn, wrt, optimize=optimize)


def _writing(kind: str, short_help: str, doc: str) -> click.Command:
    """`adjoint grad` or `adjoint jvp`: the same options, a module of gradients or of
    tangent functions."""

    @click.command(name=kind, short_help=short_help, help=doc)
    @click.argument("targets", nargs=-1, required=True, metavar="FILE:FUNC...")
    @click.option("--all", "all_", is_flag=True,
                  help="A FILE without :FUNC stands for each of its public top-level "
                  "functions (not _private ones, not example).")
    @click.option("--wrt", help="Parameters to differentiate with respect to: names or "
                  "positions, comma separated (default: the first). Applies to every target.")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                  help="Write the module here (default: print it).")
    @click.option("--no-optimize", is_flag=True, help="Skip the cosmetic optimizer.")
    @click.option("--backend", type=click.Choice(["numpy", "numba"]), default="numpy",
                  show_default=True, help="numba: a module of @njit(cache=True) gradients "
                  "(grad only; needs numba).")
    @click.option("--force", is_flag=True, help="Overwrite a file adjoint did not generate.")
    @click.option("--check", is_flag=True, help="Write nothing; exit 1 when the -o file "
                  "differs from what this command would write.")
    def command(targets: tuple[str, ...], all_: bool, wrt: str | None, output: Path | None,
                no_optimize: bool, backend: str, force: bool, check: bool) -> None:
        if check and output is None:
            raise click.UsageError("--check compares with the -o file; give -o OUT")
        if backend != "numpy" and kind != "grad":
            raise click.UsageError(f"--backend {backend} writes gradients (adjoint grad)")
        loader = Loader()
        text = build(loader, targets, all_, wrt, output, no_optimize, kind, backend)
        if check:
            if not report_staleness(output, why_different(read_text(output), text), text,
                                    False):
                raise SystemExit(1)
        elif output is None:
            click.echo(text, nl=False)
        else:
            write_atomic(output, text, force)
            click.echo(f"wrote {output}", err=True)

    return command


grad = _writing("grad", "Write the gradient of FILE:FUNC as a standalone module.", """\
Write the gradients of FILE:FUNC... as one standalone Python module.

Each gradient, grad_FUNC, takes FUNC's parameters plus a keyword seed for the result's
adjoint. All targets come from one file.""")
jvp = _writing("jvp", "Write the tangent function of FILE:FUNC (forward mode).", """\
Write the tangent functions of FILE:FUNC... (forward mode) as one standalone module.

Each, jvp_FUNC, takes FUNC's parameters plus a tangent keyword <param>_dot per
parameter in --wrt, and returns (value, tangent). All targets come from one file.""")
WRITERS = {"grad": grad, "jvp": jvp}


def report_staleness(path: Path, reasons: list[str], new: str | None, diff: bool,
                     command: str | None = None) -> bool:
    """Print whether `path` is current; True when it is."""
    if not reasons:
        click.echo(f"{path}: current")
        return True
    click.echo(f"{path}: stale")
    for reason in reasons:
        click.echo(f"  {reason}")
    if command:
        click.echo(f"  regenerate with: {command}")
    if diff and new is not None:
        click.echo(unified_diff(read_text(path), new, str(path)), nl=False)
    return False


@click.command(short_help="Exit 1 when a generated file is out of date.")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--diff", is_flag=True, help="Also print what regenerating would change.")
def stale(files: tuple[Path, ...], diff: bool) -> None:
    """Exit 1 when a generated FILE differs from what regenerating it would write.

    Each file is regenerated in memory with the command in its header, run in the folder it
    ran in (found from the file's own path and the -o path the header names, so `stale`
    works from any folder), and compared byte for byte. Exit 2 when a source it names
    cannot be found.
    """
    failed, missing = False, False
    for path in files:
        old = read_text(path)
        header = read_header(old)
        new = None
        if header is None:
            reasons = ["it has no header: it was not generated by adjoint"]
        else:
            kind, *args = shlex.split(header.command)[1:]
            try:
                with in_folder(command_folder(path, args)):
                    p = WRITERS[kind].make_context(kind, args).params
                    new = build(Loader(), p["targets"], p["all_"], p["wrt"], p["output"],
                                p["no_optimize"], kind, p.get("backend", "numpy"))
                reasons = why_different(old, new)
            except click.ClickException as exc:
                missing |= isinstance(exc, MissingFile)
                reasons = [f"it cannot be regenerated: {exc.format_message()}"]
        current = report_staleness(path, reasons, new, diff,
                                   header.command if header else None)
        failed = failed or not current
    if missing:
        raise SystemExit(2)
    if failed:
        raise SystemExit(1)


def command_folder(generated: Path, args: list[str]) -> Path:
    """The folder a header's command ran in: the generated file's folder less the folders of
    its -o path (`-o out/f_grad.py`, the file at /p/out/f_grad.py: /p); the current folder
    when the command names no relative -o that ends the file's path."""
    output = next((args[k + 1] for k, a in enumerate(args[:-1]) if a in ("-o", "--output")),
                  None)
    here = Path.cwd()
    if output is None or Path(output).is_absolute():
        return here
    parts, full = Path(output).parts, generated.resolve().parts
    if len(parts) < len(full) and full[-len(parts):] == parts:
        return Path(*full[:-len(parts)])
    return here


@contextlib.contextmanager
def in_folder(folder: Path) -> Iterator[None]:
    """Run a block with `folder` as the current folder (the paths of a header are relative
    to where its command ran)."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)
