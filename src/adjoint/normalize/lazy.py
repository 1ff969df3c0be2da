"""lazy: iterators kept in a name (`gen = (y[i] ** 2 for i in ...)`, `m = map(f, y)`).

Python runs them when they are consumed; adjoint runs them where they are made (their
items in a list). The two agree unless what they read changes in between, so an iterator
read again after the function writes a name it reads is refused, naming both."""

from __future__ import annotations

import libcst as cst

LAZY_CALLS = ("map", "filter", "zip", "enumerate", "reversed", "iter")


def is_lazy(value: cst.BaseExpression) -> bool:
    """A generator expression, or a call of a builtin that makes an iterator."""
    return isinstance(value, cst.GeneratorExp) or (
        isinstance(value, cst.Call) and isinstance(value.func, cst.Name)
        and value.func.value in LAZY_CALLS)


def written_after(funcdef: cst.FunctionDef, statement: cst.CSTNode, name: str,
                  value: cst.BaseExpression) -> str | None:
    """A name `value` reads that a statement after `statement` (in the function's source)
    assigns, writes an item or attribute of, or changes with `+=`, before `name` (the
    iterator) is read again; None if there is none."""
    reads = {n.value for n in _walk(value) if isinstance(n, cst.Name)}
    seen = False
    changed = None
    for node in _walk(funcdef.body, skip=statement):
        if node is statement:
            seen = True
            continue
        if not seen:
            continue
        bases = _bases(_targets(node))
        if name in bases:  # the iterator's name bound again: it is gone
            return None
        changed = changed or next((b for b in bases if b in reads), None)
        if changed and isinstance(node, cst.Name) and node.value == name:
            return changed
    return None


def _bases(targets: list) -> list[str]:
    """The names written by assignments to these targets (`y`, `y[i]`, `y.a`, `a, y`)."""
    out = []
    for target in targets:
        while isinstance(target, (cst.Subscript, cst.Attribute)):
            target = target.value
        if isinstance(target, (cst.Tuple, cst.List)):
            out += _bases([el.value for el in target.elements])
        elif isinstance(target, cst.StarredElement):
            out += _bases([target.value])
        elif isinstance(target, cst.Name):
            out.append(target.value)
    return out


def _targets(node: cst.CSTNode) -> list:
    if isinstance(node, cst.Assign):
        return [t.target for t in node.targets]
    if isinstance(node, (cst.AugAssign, cst.AnnAssign)):
        return [node.target]
    if isinstance(node, (cst.For, cst.CompFor)):
        return [node.target]
    return []


def _walk(node: cst.CSTNode, skip: cst.CSTNode | None = None):
    """node and everything in it, in source order (not what is inside `skip`)."""
    yield node
    if node is skip:
        return
    for child in node.children:
        yield from _walk(child, skip)
