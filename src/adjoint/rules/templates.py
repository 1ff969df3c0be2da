"""Formula templates: a rule's formula parsed once, cut at the names it fills in."""

from __future__ import annotations

import ast
import builtins
import functools
import math
import operator
from dataclasses import dataclass, field

import numpy as np

from ..errors import AdjointError
from ..ir import Parts, Ref
from .folding import fold

MODULES = {"np": np, "math": math, "runtime": None, "operator": operator}


@dataclass(frozen=True)
class Slot:
    name: str


@dataclass
class Template:
    """A formula cut at the names it substitutes: text and `Slot`s."""

    formula: str
    parts: tuple
    slots: frozenset = field(default_factory=frozenset)

    def fill(self, env: dict[str, Parts]) -> Parts:
        out: list = []
        for p in self.parts:
            if isinstance(p, Slot):
                out.extend(env[p.name])
            else:
                out.append(p)
        return tuple(out)


@functools.cache
def template(formula: str, params: frozenset) -> Template:
    """Parse `formula` once; its free names must be parameters, g, ans or modules."""
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise AdjointError(f"derivative formula {formula!r} is not a Python expression: "
                           f"{exc}") from None
    known = params | {"g", "ans", "k"} | set(MODULES)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in known and not hasattr(builtins, node.id):
                raise AdjointError(
                    f"derivative formula {formula!r} uses {node.id!r}, which is not a parameter "
                    f"({', '.join(sorted(params))}), g, ans or a module (np, math, runtime)"
                )
            if node.id in known:
                found.append((node.col_offset, node.end_col_offset, node.id))
    parts: list = []
    pos = 0
    for start, end, name in sorted(found):
        parts.append(formula[pos:start])
        parts.append(Slot(name))
        pos = end
    parts.append(formula[pos:])
    return Template(formula, tuple(p for p in parts if p != ""), frozenset(n for *_, n in found))


def instantiate(tpl: Template, env: dict[str, Parts]) -> Parts:
    """A formula with its slots filled, constants folded (`x ** (2 - 1)` is `x`)."""
    filled = {}
    constant = False
    for name, parts in env.items():
        if name not in tpl.slots:
            continue
        if name not in MODULES and tuple(parts) != tuple(p for p in parts if isinstance(p, Ref)):
            constant = True  # a number, a tuple of arguments...: there may be something to fold
        if len(parts) == 1 and (isinstance(parts[0], Ref) or not str(parts[0]).startswith("-")):
            filled[name] = parts
        else:
            filled[name] = ("(", *parts, ")")
    out = tpl.fill(filled)
    return fold(out) if constant else out
