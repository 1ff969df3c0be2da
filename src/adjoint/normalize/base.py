"""The Normalizer's state and the helpers every part of it uses: emitting, names, passive text."""

from __future__ import annotations

import ast
import types
from typing import Any

import libcst as cst

from .. import ir, naming
from .. import parse as parse_
from ..errors import UnsupportedSyntax
from ..ir import Assign, Name, Prim
from ..parse import MISSING, Source
from .syntax import names_in, one_line


class NormalizerBase:
    """What is being built (`out`, `globals`, ...) and how the user's names map onto it."""

    def __init__(self, source: Source, namer: naming.Namer):
        self.source = source
        self.namer = namer
        self.out: list = []
        self.origin: ir.Origin | None = None
        self.globals: dict[str, Any] = {}
        self.defaults: dict[str, Any] = {}  # name -> a default value its text no longer means
        self.result: str | None = None  # the name every `return` assigns, when there are several
        self.scope: dict[str, str] = {}  # comprehension variables -> their emitted names
        self.partials: dict = {}  # local -> (function, fixed args, fixed keywords) of a partial
        self.nested: dict[str, parse_.Nested] = {}  # functions defined inside this one
        self.seen_defs: dict[str, int] = {}
        self.frozen: dict[str, Any] = {}  # local -> the scipy.stats distribution it freezes
        self.locals = set(source.local_names)
        code = getattr(source.fn, "__code__", None)
        for name in self.locals | set(getattr(code, "co_names", ())) | set(
                getattr(code, "co_freevars", ())):
            namer.reserve(name)

    # ------------------------------------------------------------ emitting

    def error(self, node: cst.CSTNode, msg: str, cls=UnsupportedSyntax) -> Exception:
        return self.source.error(node, msg, cls)

    def emit(self, stmt) -> None:
        stmt.origin = self.origin
        self.out.append(stmt)

    def assign(self, target: str | None, prim: Prim, args=(), kwargs=(), index=None,
               node=None, hint: str = "t") -> Name:
        name = target or self.namer.fresh(hint)
        self.emit(Assign(name, prim, tuple(args), tuple(kwargs), index, node=node))
        return Name(name)

    def sub_block(self, suite) -> list:
        """The statements of an indented block, or of a suite on its header's line
        (`if c: return x`)."""
        saved, self.out = self.out, []
        for s in ([suite] if isinstance(suite, cst.SimpleStatementSuite) else suite.body):
            self.statement(s)
        body, self.out = self.out, saved
        return body

    @staticmethod
    def label(atom: ir.Atom | None) -> str | None:
        return atom.id if isinstance(atom, Name) else None

    # ------------------------------------------------------------ names

    def local_name(self, node: cst.Name) -> None:
        if node.value not in self.locals:
            raise self.error(node, f"cannot assign to {node.value!r} here")

    def target_name(self, node: cst.Name) -> str:
        """The name a loop or comprehension target binds (comprehension variables are
        renamed so they never clobber the function's own names)."""
        if node.value in self.scope:
            return self.scope[node.value]
        self.local_name(node)
        return node.value

    def is_local(self, name: str) -> bool:
        """Whether `name` is the function's own variable or a comprehension's."""
        return name in self.locals or name in self.scope

    def global_datum(self, name: str) -> bool:
        """Whether `name` is a global holding data (an array, a number), not a module or a
        class: its attributes and methods are read as a local's are."""
        head = self.source.resolve([name])
        return head is not MISSING and not isinstance(head, (types.ModuleType, type))

    # ------------------------------------------------------------ passive text

    def passive_names(self, node) -> set[str]:
        """Register the global names a passive expression reads; return its local names."""
        local = set()
        for n in names_in(node):
            if self.is_local(n):
                local.add(n)
            elif n not in ("True", "False", "None"):
                obj = self.source.resolve([n])
                if obj is not MISSING:
                    self.globals[n] = obj
                    self.namer.reserve(n)
        return local

    def passive_template(self, node) -> tuple[str, list[Name]]:
        """`node`'s code as a format template over the local names it reads (a
        comprehension's variables by their emitted names)."""
        self.passive_names(node)
        code = self.source.code(node).strip()
        if isinstance(node, (cst.Assert, cst.Raise)):  # a statement
            tree = ast.parse(code)
        else:
            tree = ast.parse(f"({code})", mode="eval")
            code = f"({code})"
        lines = code.splitlines(keepends=True)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))

        def at(line: int, offset: int) -> int:  # ast counts a line's UTF-8 bytes
            return starts[line - 1] + len(lines[line - 1].encode()[:offset].decode())

        spots = []
        for n in ast.walk(tree):
            if isinstance(n, ast.Name):
                start, end = at(n.lineno, n.col_offset), at(n.end_lineno, n.end_col_offset)
                if self.is_local(code[start:end]):  # as written (ast's n.id is NFKC)
                    spots.append((start, end, code[start:end]))
                elif self.is_local(n.id):  # a place ast misreports (an f-string's, 3.11)
                    raise self.error(node, "this expression could not be kept as written "
                                     f"(the place of {n.id} in it); write it on one line")
        spots.sort()
        order: list[str] = []
        out, pos = [], 0
        for start, end, name in spots:
            out.append(code[pos:start].replace("{", "{{").replace("}", "}}"))
            if name not in order:
                order.append(name)
            out.append(f"{{{order.index(name)}}}")
            pos = end
        out.append(code[pos:].replace("{", "{{").replace("}", "}}"))
        text = "".join(out)
        if not isinstance(node, (cst.Assert, cst.Raise)) and text.startswith("(") and \
                text.endswith(")"):
            text = text[1:-1]
        return one_line(text), [Name(self.scope.get(n, n)) for n in order]


