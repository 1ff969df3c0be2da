"""drawing: the computational graph of a function as adjoint normalizes it, one node per
intermediate variable, edges for the operations, each node labelled with its value and its
adjoint at given arguments (a number, or an array's shape and norm), drawn with the
`graphviz` package (`pip install adjoint[graph]`). A loop is one cluster (not unrolled); a
branch shows the statements of the path taken solid, the others dashed. The values and
adjoints are those the emitted gradient holds when it returns: a loop's values are its last
trip's."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from . import ir
from .errors import ApiError


def graph(fn: Any, *args: Any, wrt: Any = 0, **kwargs: Any) -> Any:
    """A `graphviz.Digraph` of `fn`'s normalized code at these arguments (see the module)."""
    try:
        import graphviz
    except ImportError:
        raise ApiError("adjoint.graph draws with the graphviz package: pip install "
                       "adjoint[graph] (and graphviz's dot program to render it)") from None
    from . import api, naming
    from . import normalize as normalize_
    from . import parse as parse_

    fn_ir = normalize_.normalize(parse_.parse(fn), naming.Namer(api.RESERVED))
    df = api.value_and_grad(fn, wrt)  # (the result is computed, to be shown)
    seen = _run(df, args, kwargs)
    dot = graphviz.Digraph(fn_ir.name, graph_attr={"rankdir": "TB", "fontsize": "10"},
                           node_attr={"shape": "box", "fontsize": "10"})
    drawer = Drawer(dot, seen, fn_ir)
    for p in fn_ir.params:
        drawer.node(p.name, dot, "bold")
    drawer.body(fn_ir.body, dot, taken=True)
    return dot


class Drawer:
    """Nodes and edges of a body, a cluster per loop. A name bound again is a new node
    (`y`, then `y (2)`); a read is an edge from the name's latest node."""

    def __init__(self, dot: Any, seen: dict, fn: ir.Function):
        self.dot, self.seen, self.loops = dot, seen, 0
        self.latest: dict[str, str] = {}
        self.count: dict[str, int] = {}
        self.last: dict[str, int] = {}  # name -> id of its last binding on the path taken
        self.walk(fn.body, True)

    def walk(self, stmts: list, taken: bool) -> None:
        for s in stmts:
            if isinstance(s, ir.Assign) and s.target and taken and s.target in self.seen:
                self.last[s.target] = id(s)
            elif isinstance(s, ir.If):
                went = self.went(s)
                self.walk(s.body, taken and went is not False)
                self.walk(s.orelse, taken and went is not True)
            elif isinstance(s, (ir.For, ir.While)):
                self.walk(getattr(s, "prelude", []) + s.body, taken)
            elif isinstance(s, (ir.Try, ir.With)):
                self.walk(s.body, taken)

    def went(self, s: ir.If) -> bool | None:
        test = s.test.id if isinstance(s.test, ir.Name) else None
        return bool(self.seen.get(test)) if test in self.seen else None

    def node(self, name: str, into: Any, style: str, s: Any = None) -> str:
        """A node for a binding of `name`: its value and adjoint where they are the ones the
        gradient holds at its end (its last binding on the path taken; a parameter's
        when nothing binds it again)."""
        self.count[name] = self.count.get(name, 0) + 1
        key = name if self.count[name] == 1 else f"{name} ({self.count[name]})"
        last = self.last.get(name) == id(s) if s is not None else name not in self.last
        into.node(key, _label(name, self.seen) if last else name, style=style)
        self.latest[name] = key
        return key

    def body(self, stmts: list, into: Any, taken: bool) -> None:
        for s in stmts:
            if isinstance(s, ir.Assign) and s.target:
                style = "solid" if taken and s.target in self.seen else "dashed"
                sources = [self.latest.get(n, n) for a in (*s.args, *(v for _, v in s.kwargs))
                           for n in sorted(ir.names([a]))]
                key = self.node(s.target, into, style, s)
                for source in sources:
                    self.dot.edge(source, key, label=_operation(s), style=style)
            elif isinstance(s, ir.If):
                went = self.went(s)
                self.body(s.body, into, taken and went is not False)
                self.body(s.orelse, into, taken and went is not True)
            elif isinstance(s, (ir.For, ir.While)):
                self.loops += 1
                with into.subgraph(name=f"cluster_{self.loops}") as cluster:
                    cluster.attr(label=ir.text(ir.stmt_parts(s)).rstrip(":"), style="rounded")
                    self.body(getattr(s, "prelude", []) + s.body, cluster, taken)
            elif isinstance(s, (ir.Try, ir.With)):
                self.body(s.body, into, taken)


def _run(df: Any, args: tuple, kwargs: dict) -> dict:
    """The locals of the emitted gradient as it returns: each value and each `_bar`."""
    df(*args, **kwargs)  # compiles the code for these arguments' kinds
    code = df.__adjoint__.function.__code__
    seen: dict = {}

    def watch(frame, event, _):
        if event == "return" and frame.f_code is code:
            seen.update(frame.f_locals)

    previous = sys.getprofile()
    sys.setprofile(watch)
    try:
        df(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    return seen


def _label(name: str, seen: dict) -> str:
    value = _brief(seen.get(name))
    bar = _brief(seen.get(f"{name}_bar"))
    lines = [name] + ([f"value {value}"] if value else []) + ([f"adjoint {bar}"] if bar else [])
    return "\n".join(lines)


def _operation(s: ir.Assign) -> str:
    p = s.prim
    if p.kind in ("call", "method", "binop", "unary", "compare"):
        return p.spelling if p.key is not ir.DYNAMIC else "call"
    return {"index": "[ ]", "copy": "=", "attr": f".{p.spelling}"}.get(p.kind, p.kind)


def _brief(v: Any) -> str:
    """A number, or an array's shape and norm."""
    if isinstance(v, (bool, str)) or v is None:
        return ""
    if isinstance(v, (int, float, np.number)) or (hasattr(v, "shape") and np.ndim(v) == 0):
        return f"{float(v):.4g}"
    if hasattr(v, "shape"):
        return f"shape {tuple(np.shape(v))}, norm {float(np.linalg.norm(np.ravel(v))):.4g}"
    return ""
