"""Questions about libcst trees that normalize asks: names read, names bound, returns."""

from __future__ import annotations

import io
import tokenize
from typing import Any

import libcst as cst
import libcst.matchers as m

# The statements that bind names in a loop body: `x = `, `x += `, `x: T = `, `for x in`.
_BINDING = m.AssignTarget() | m.AugAssign() | m.AnnAssign() | m.For()
_STRINGS = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)


def names_in(node: cst.CSTNode) -> set[str]:
    """Every name inside `node`, nested functions and lambdas included."""
    return {n.value for n in m.findall(node, m.Name())}


def reads_of(name: str, node: cst.CSTNode) -> int:
    """How many times `name` appears as a name in `node`."""
    return len(m.findall(node, m.Name(name)))


def target_names(node: cst.CSTNode) -> list[cst.Name]:
    """The Name nodes an assignment target binds (a plain name, or names in a tuple)."""
    if isinstance(node, cst.Name):
        return [node]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for el in node.elements for n in target_names(el.value)]
    return []


def assigned_names(node: cst.CSTNode | None) -> set[str]:
    """Names bound inside a statement (for loop bodies)."""
    if node is None:
        return set()
    return {x.value for n in m.findall(node, _BINDING) for x in target_names(n.target)}


def bindings_of(name: str, node: cst.CSTNode) -> int:
    """How many statements and comprehension clauses in node bind `name`."""
    binders = m.findall(node, _BINDING | m.CompFor())
    return sum(name in {x.value for x in target_names(n.target)} for n in binders)


def iterates_keys(target: cst.BaseExpression, it: cst.BaseExpression,
                  scope_node: cst.CSTNode | None) -> bool:
    """Whether `for k in d` reads d[k] (or d[..., k, ...]) in `scope_node`, compares k with
    a string, or makes k a key of a dict comprehension (`{k: 0.0 for k in d}`): then d is a
    dict and k its keys (or d is a list of keys: list(d) is its items either way)."""
    if not (isinstance(target, cst.Name) and isinstance(it, cst.Name)) or scope_node is None:
        return False
    if isinstance(scope_node, cst.DictComp) and isinstance(scope_node.key, cst.Name) and \
            scope_node.key.value == target.value:
        return True
    key = m.Index(value=m.Name(target.value))
    reads = m.Subscript(value=m.Name(it.value),
                        slice=[m.ZeroOrMore(), m.SubscriptElement(slice=key), m.ZeroOrMore()])
    return bool(m.findall(scope_node, reads)) or any(
        _compares_with_string(c, target.value) for c in m.findall(scope_node, m.Comparison()))


def _compares_with_string(n: cst.Comparison, name: str) -> bool:
    """`k == "w"` or `k in ("w", "b")`: a comparison of the name `name` with strings."""
    sides = [n.left, *(c.comparator for c in n.comparisons)]
    return any(isinstance(x, cst.Name) and x.value == name for x in sides) and any(
        isinstance(x, _STRINGS) or (isinstance(x, (cst.Tuple, cst.List, cst.Set)) and any(
            isinstance(e.value, _STRINGS) for e in x.elements))  # k in ("w", "b")
        for x in sides)


def dict_view(it: cst.BaseExpression) -> tuple[str, Any] | None:
    """('items', d) for `d.items()`, and likewise keys and values."""
    if isinstance(it, cst.Call) and not it.args and isinstance(it.func, cst.Attribute) and \
            it.func.attr.value in ("items", "keys", "values"):
        return it.func.attr.value, it.func.value
    return None


def dotted_name(node: cst.BaseExpression) -> list[str] | None:
    """['np', 'linalg', 'norm'] for `np.linalg.norm`; None if not a dotted name."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return parts[::-1]


def count_returns(fd: cst.FunctionDef) -> int:
    """Returns of `fd` itself (not of functions or classes nested in it).

    A walk over statements only (a return is a statement; an expression holds none), which
    costs a small part of what a visitor of every node does."""
    def count(node) -> int:
        if isinstance(node, cst.Return):
            return 1
        if isinstance(node, cst.SimpleStatementLine):
            return sum(isinstance(s, cst.Return) for s in node.body)
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node is not fd:
            return 0
        total = 0
        for attr in ("body", "orelse", "handlers", "finalbody", "cases"):
            child = getattr(node, attr, None)
            if isinstance(child, (list, tuple)):
                total += sum(count(c) for c in child)
            elif isinstance(child, cst.CSTNode):
                total += count(child)
        return total

    return count(fd)


def one_line(code: str) -> str:
    """The source of an expression on one line: line breaks (a backslash continuation
    included) and runs of spaces between tokens become one space; string literals are kept
    as written."""
    out: list[str] = []
    last = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                            tokenize.ENDMARKER, tokenize.COMMENT):
                continue
            if last is not None and tok.start != last:
                out.append(" ")
            out.append(tok.string)
            last = tok.end
    except (tokenize.TokenError, SyntaxError):
        return " ".join(code.split())
    return "".join(out)
