"""The check command: a function's gradient beside central differences, entry by entry."""

from __future__ import annotations

import contextlib
import inspect
import types
from collections.abc import Iterator

import click

from .. import testing
from ..errors import AdjointError
from ..testing import EntryCheck
from .importing import (
    Loader,
    TargetError,
    method_wrt,
    parse_wrt,
    reported,
    split_target,
    wrt_names,
)


@contextlib.contextmanager
def user_code(fname: str) -> Iterator[None]:
    """An exception from the user's function (or its gradient): one line, exit status 1."""
    try:
        yield
    except (AdjointError, click.ClickException):
        raise
    except Exception as exc:
        raise click.ClickException(f"running {fname} failed: {type(exc).__name__}: {exc}"
                                   ) from None


def _fmt(x: float) -> str:
    return f"{x:.1e}"


def table(rows: list[list[str]]) -> str:
    """Rows as columns padded to their widest cell."""
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def arguments(loader: Loader, module: types.ModuleType, expr: str | None, shown: str) -> tuple:
    """The argument tuple: `expr` evaluated in the module's namespace, or its example()."""
    if expr is None:
        if not callable(getattr(module, "example", None)):
            raise TargetError(f"{shown} defines no example(); give the arguments with --args "
                              "'EXPR'")
        expr = "example()"
    try:
        value = eval(expr, dict(vars(module)))
    except Exception as exc:
        raise TargetError(f"--args {expr!r} failed: {type(exc).__name__}: {exc}") from None
    return value if isinstance(value, tuple) else (value,)


@click.command()
@click.argument("target", metavar="FILE:FUNC")
@click.option("--wrt", help="Parameters to check (default: the first).")
@click.option("--args", "expr", metavar="EXPR",
              help="A Python expression, evaluated in FILE's namespace, giving the argument "
              "tuple (default: example(), which FILE must define).")
@click.option("--entries", default=100, show_default=True, type=click.IntRange(min=1),
              metavar="N",
              help="Check at most this many entries per argument, picked at random.")
@click.option("--rtol", default=1e-5, show_default=True, help="Relative tolerance.")
@click.option("--atol", default=1e-7, show_default=True, help="Absolute tolerance.")
@click.option("--eps", type=float, help="Finite-difference step, relative to max(1, |x|) "
              "(default: the cube root of the dtype's machine epsilon, 6e-6 for float64).")
@click.option("--seed", default=0, show_default=True, help="Picks the entries.")
@click.option("--no-optimize", is_flag=True, help="Check the unoptimized gradient.")
def check(target: str, wrt: str | None, expr: str | None, entries: int, rtol: float,
          atol: float, eps: float | None, seed: int, no_optimize: bool) -> None:
    """Compare the gradient of FILE:FUNC with central finite differences.

    One row per differentiated argument (per array or number in it, for a list, tuple,
    dict, dataclass or named tuple): the entries checked (all of them up to --entries, else
    that many at random, always the same for the same --seed), and the largest absolute and
    relative error,
    |adjoint - fd| / max(|adjoint|, |fd|) over entries where that exceeds --atol. An entry
    agrees when |adjoint - fd| <= atol + rtol * |fd|; exit status 1 when one does not.
    """
    loader = Loader()
    path, name = split_target(target, False)
    fn = loader.function(path, name)
    wrt_value = method_wrt(loader, path, name, parse_wrt(wrt))
    names = wrt_names(fn, wrt_value, target)
    args = arguments(loader, loader.module(path), expr, path)
    params = list(inspect.signature(fn).parameters)
    for n in names:
        if params.index(n) >= len(args):
            raise TargetError(f"the arguments give {len(args)} value(s), none for {n}")
    with reported(loader), user_code(fn.__name__):
        results = testing.check_entries(fn, args, names, optimize=not no_optimize,
                                        entries=entries, eps=eps, seed=seed)
    if not _print_comparisons(fn.__name__, results, rtol, atol):
        raise SystemExit(1)


def _print_comparisons(fname: str, results: list[EntryCheck], rtol: float, atol: float
                       ) -> bool:
    """Print a row per array checked, then the worst entries of each that disagrees; True
    when all agree."""
    click.echo(f"{fname}: adjoint gradient vs central differences "
               f"(rtol {rtol:g}, atol {atol:g})")
    rows = [["argument", "shape", "entries", "max abs err", "max rel err", ""]]
    failures = []
    for r in results:
        if r.problem:
            rows.append([r.label, str(r.shape), "-", "-", "-", "FAIL"])
            failures.append((r, None))
            continue
        err, rel = r.errors(atol)
        bad = r.failing(rtol, atol)
        checked = f"all {r.size}" if len(r.checked) == r.size else \
            f"{len(r.checked)} of {r.size}"
        rows.append([r.label, str(r.shape), checked, _fmt(err.max(initial=0.0)),
                     _fmt(rel.max(initial=0.0)), "FAIL" if bad else "ok"])
        if bad:
            failures.append((r, bad))
    click.echo(table(rows))
    for r, bad in failures:
        click.echo(f"\n{r.label}: {r.problem}" if bad is None else
                   f"\n{r.label}: {len(bad)} of {len(r.checked)} entries disagree; the worst:")
        if bad:
            worst = sorted(bad, key=lambda c: -abs(c[1] - c[2]))[:5]
            click.echo(table([["  index", "adjoint", "finite diff"]] + [
                [f"  {tuple(int(i) for i in c[0])}", f"{c[1]:.6g}", f"{c[2]:.6g}"]
                for c in worst]))
    return not failures
