"""The show command: the code of a function after a stage of the pipeline, highlighted."""

from __future__ import annotations

import io
import keyword
import sys
import tokenize
from pathlib import Path

import click

from .. import api
from . import writing
from .importing import Loader, method_wrt, parse_wrt, reported, split_target, wrt_names

STAGES = ("normalize", "reverse", "optimize")


def highlight(code: str) -> str:
    """Python source with ANSI colors: keywords, definitions, strings, numbers, comments,
    and the adjoints (`x_bar`) that the reverse sweep accumulates."""
    starts = [0]
    for line in code.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out, pos, previous = [], 0, ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            style = _style(tok, previous)
            if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                tokenize.DEDENT, tokenize.COMMENT):
                previous = tok.string
            if style is None:
                continue
            start = starts[tok.start[0] - 1] + tok.start[1]
            end = starts[tok.end[0] - 1] + tok.end[1]
            out += [code[pos:start], click.style(code[start:end], **style)]
            pos = end
    except (tokenize.TokenError, SyntaxError):
        return code
    return "".join(out) + code[pos:]


def _style(tok: tokenize.TokenInfo, previous: str) -> dict | None:
    if tok.type == tokenize.COMMENT:
        heading = tok.string in ("# forward", "# backward")
        return {"fg": "yellow", "bold": True} if heading else {"fg": "bright_black"}
    if tok.type == tokenize.STRING:
        return {"fg": "green"}
    if tok.type == tokenize.NUMBER:
        return {"fg": "cyan"}
    if tok.type == tokenize.NAME:
        if keyword.iskeyword(tok.string):
            return {"fg": "magenta", "bold": True}
        if previous == "def":
            return {"fg": "blue", "bold": True}
        if tok.string.endswith("_bar"):
            return {"fg": "yellow"}
    return None


@click.command()
@click.argument("target", metavar="FILE:FUNC")
@click.option("--wrt", help="Parameters to differentiate with respect to (default: the "
              "first).")
@click.option("--stage", type=click.Choice(STAGES), default="optimize", show_default=True,
              help="Show the code after this stage.")
@click.option("--color/--no-color", default=None,
              help="Highlight the code (default: when stdout is a terminal).")
@click.option("--graph", "as_graph", is_flag=True,
              help="Draw the computational graph instead, labelled with each value and its "
              "adjoint at --args (needs the graphviz package).")
@click.option("--args", "expr", metavar="EXPR", help="With --graph: a Python expression, "
              "evaluated in FILE's namespace, giving the arguments (default: example()).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="With --graph: write it here; .gv or .dot for the DOT source, .svg, .png "
              "or .pdf rendered by graphviz's dot (default: print the DOT source).")
def show(target: str, wrt: str | None, stage: str, color: bool | None, as_graph: bool,
         expr: str | None, output: Path | None) -> None:
    """Print the code of FILE:FUNC after a stage of the pipeline (or, with --graph, its
    computational graph).

    normalize: the function in A-normal form (one primitive per statement);
    reverse: the emitted gradient as the reverse sweep writes it;
    optimize: after the cosmetic optimizer, as `adjoint grad` writes it.
    """
    loader = Loader()
    path, name = split_target(target, False)
    fn = loader.function(path, name)
    wrt_value = method_wrt(loader, path, name, parse_wrt(wrt))
    wrt_names(fn, wrt_value, target)
    if as_graph:
        _graph(loader, fn, path, wrt_value, expr, output)
        return
    with reported(loader):
        code = api.stage_source(fn, wrt_value, stage)
    if color is None:
        color = writing.is_terminal(sys.stdout)
    click.echo(highlight(code) if color else code, nl=False, color=color)


def _graph(loader: Loader, fn, path: str, wrt, expr: str | None, output: Path | None) -> None:
    """`show --graph`: the DOT source, or a file rendered by graphviz."""
    from ..drawing import graph as draw
    from .checking import arguments

    args = arguments(loader, loader.module(path), expr, path)
    with reported(loader):
        drawn = draw(fn, *args, wrt=wrt)
    if output is None:
        click.echo(drawn.source, nl=False)
    elif output.suffix in (".gv", ".dot"):
        output.write_text(drawn.source)
        click.echo(f"wrote {output}", err=True)
    else:
        try:
            data = drawn.pipe(format=output.suffix.lstrip(".") or "svg")
        except Exception as exc:  # noqa: BLE001 - graphviz's own errors, said as they are
            raise click.ClickException(f"graphviz cannot render {output.suffix or 'it'} "
                                       f"({exc}); write -o {output.with_suffix('.gv')} for "
                                       "the DOT source") from None
        output.write_bytes(data)
        click.echo(f"wrote {output}", err=True)
