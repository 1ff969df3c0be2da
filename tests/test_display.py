"""How emitted code shows in a notebook: IPython's own display formatter renders a gradient
and `adjoint.source(...)` as HTML, each `# grad of:` block beside the user's line it
differentiates, highlighted by pygments (escaped plain text without it)."""

import html
import re
import sys

import numpy as np
import pytest
from conftest import make_function

import adjoint
from adjoint.display import pairs

SRC = """
def f(x, c):
    y = np.sin(x) * c
    for i in range(2):
        y = y * x
    return np.sum(y ** 2)
"""
PAIRS = [  # the user's line, a line of its adjoint
    ("return np.sum(y ** 2)", "y_bar = f_bar * 2 * y"),
    ("for i in range(2):", "for i in reversed(i_range):"),
    ("y = y * x", "x_bar += y_bar * y"),
    ("y = np.sin(x) * c", "sin_x_bar = y_bar * c"),
]


def text_of(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", cell))


def rows(page: str) -> list[tuple[str, str]]:
    cells = re.findall(r"<td[^>]*><pre>(.*?)</pre></td>", page, re.S)
    return [(text_of(a), text_of(b)) for a, b in zip(cells[::2], cells[1::2], strict=True)]


@pytest.fixture
def gradient():
    df = adjoint.grad(make_function(SRC))
    df(np.ones(3), 2.0)
    return df


def test_notebook_shows_each_line_beside_its_adjoint(gradient):
    formatter = pytest.importorskip("IPython.core.formatters").DisplayFormatter()
    for shown in (gradient, adjoint.source(gradient)):
        bundle, _ = formatter.format(shown)
        page = bundle["text/html"]
        got = rows(page)
        assert [user for user, _ in got] == [user for user, _ in PAIRS]
        for (user, body), (_, line) in zip(got, PAIRS, strict=True):
            assert line in body, (user, body)
        assert "<span style=" in page  # highlighted
        assert text_of(page.split("<details>")[1]).count("def grad_f(x, c, f_bar=1.0):") == 1


def test_pairs_and_plain_text_without_pygments(gradient, monkeypatch):
    source = adjoint.source(gradient)
    assert [u for u, _ in pairs(source)] == [u for u, _ in PAIRS]
    monkeypatch.setitem(sys.modules, "pygments", None)  # not installed
    page = source._repr_html_()
    assert "<span" not in page and "y_bar = f_bar * 2 * y" in html.unescape(page)
    assert rows(page)[0][0] == "return np.sum(y ** 2)"


GRAPHED = """
def f(x, c):
    y = np.sin(x) * c
    for i in range(2):
        y = y * x
    if c > 0:
        z = np.sum(y ** 2)
    else:
        z = np.sum(y)
    return z
"""


def labels(source: str) -> dict:
    """node id -> its label, from DOT source."""
    found = re.findall(r'^\t+("?[\w ()]+"?) \[label=("(?:[^"\\\\]|\\\\.)*"|\w+)', source, re.M)
    return {k.strip('"'): v.strip('"') for k, v in found}


def test_graph_labels_hold_the_values_and_adjoints_the_gradient_computes():
    pytest.importorskip("graphviz")
    f = make_function(GRAPHED)
    x, c = np.array([0.3, 0.4]), 2.0
    drawn = adjoint.graph(f, x, c)
    got = labels(drawn.source)
    y = np.sin(x) * c * x * x
    sin_x_bar = 2 * y * c * x ** 2  # d sum(y ** 2) / d sin(x)
    assert got["sin_x"].splitlines() == [
        "sin_x", f"value shape (2,), norm {np.linalg.norm(np.sin(x)):.4g}",
        f"adjoint shape (2,), norm {np.linalg.norm(sin_x_bar):.4g}"]
    assert got["x"].splitlines()[2] == \
        f"adjoint shape (2,), norm {np.linalg.norm(adjoint.grad(f)(x, c)):.4g}"
    assert got["z"].splitlines()[1] == f"value {np.sum(y ** 2):.4g}"
    assert got["z (2)"] == "z"  # the branch not taken: no value
    assert 'label="for i in i_range"' in drawn.source and "cluster_1" in drawn.source
    assert '"y (2)" -> y_sq' in drawn.source and "style=dashed" in drawn.source


def test_show_graph_from_the_command_line(tmp_path, monkeypatch):
    import shutil

    from click.testing import CliRunner

    from adjoint import cli

    pytest.importorskip("graphviz")
    (tmp_path / "model.py").write_text("import numpy as np\n\n\n" + GRAPHED.strip() + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    run = CliRunner().invoke
    args = ["show", "model.py:f", "--graph", "--args", "(np.array([0.3, 0.4]), 2.0)"]
    assert run(cli.main, [*args, "-o", "g.gv"]).exit_code == 0
    assert (tmp_path / "g.gv").read_text().startswith("digraph f {")
    svg = run(cli.main, [*args, "-o", "g.svg"])
    if shutil.which("dot"):
        assert svg.exit_code == 0 and (tmp_path / "g.svg").read_text().lstrip().startswith("<")
    else:
        assert svg.exit_code == 1 and "write -o g.gv for the DOT source" in svg.output
