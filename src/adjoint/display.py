"""display: emitted code as a notebook shows it. `adjoint.source(df)` is a `Source`, a str
that Jupyter renders as HTML: each `# grad of:` block beside the line of the user's code it
differentiates (a two-column table), then the whole function, highlighted by pygments when
it is installed (escaped plain text otherwise). A gradient function displays the same way."""

from __future__ import annotations

import html
import re

GRAD_OF = re.compile(r"^(\s*)# grad of: (.*)$")


class Source(str):
    """Emitted source text; in a notebook, the adjoint of each line beside that line."""

    def _repr_html_(self) -> str:
        return render(self)


def pairs(code: str) -> list[tuple[str, str]]:
    """(the user's line, the adjoint code for it) for each `# grad of:` block, in the order
    the reverse sweep runs them; a block ends at the next one, or where the code goes back
    out of the block's indentation."""
    out: list[tuple[str, list[str]]] = []
    depth = None
    for line in code.splitlines():
        found = GRAD_OF.match(line)
        if found:
            depth = len(found[1])
            out.append((found[2], []))
        elif out and depth is not None and line.strip() and \
                len(line) - len(line.lstrip()) >= depth:
            out[-1][1].append(line[depth:])
        elif line.strip():
            depth = None
    return [(user, "\n".join(body)) for user, body in out]


def highlighted(code: str) -> str:
    """HTML of Python code: pygments' spans when it is installed, else escaped text."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return html.escape(code)
    return highlight(code, PythonLexer(), HtmlFormatter(nowrap=True, noclasses=True)).rstrip("\n")


def render(code: str) -> str:
    """The HTML of emitted code: the two-column table of the user's lines and their
    adjoints, then the whole function."""
    rows = "".join(
        f"<tr><td style='text-align:left;vertical-align:top'><pre>{highlighted(user)}</pre>"
        f"</td><td style='text-align:left;vertical-align:top'><pre>{highlighted(body)}</pre>"
        "</td></tr>" for user, body in pairs(code))
    table = ("<table class='adjoint-pairs'><tr><th style='text-align:left'>your code</th>"
             f"<th style='text-align:left'>its adjoint</th></tr>{rows}</table>") if rows else ""
    return (f"<div class='adjoint-source'>{table}<details><summary>the emitted function"
            f"</summary><pre>{highlighted(code)}</pre></details></div>")
