"""traverse: walking, mapping and renaming statement records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from .records import (
    Append,
    Assign,
    Const,
    Expr,
    For,
    Handler,
    If,
    Index,
    Name,
    Return,
    SetItem,
    Slice,
    Stmt,
    Try,
    Unpack,
    While,
    With,
)


def blocks(stmt: Stmt) -> list[list]:
    """The nested statement lists of a compound statement."""
    if isinstance(stmt, If):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, For):
        return [stmt.body]
    if isinstance(stmt, While):
        return [stmt.prelude, stmt.body]
    if isinstance(stmt, Try):
        return [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
    if isinstance(stmt, With):
        return [stmt.body]
    return []


def map_stmts(body: list, f) -> list:
    """A new body with each simple statement s replaced by f(s) (compound ones rebuilt
    around their new blocks): records are never changed in place."""
    out = []
    for s in body:
        old = blocks(s)
        if not old:
            out.append(f(s))
            continue
        new = [map_stmts(b, f) for b in old]
        if any(x is not y for a, b in zip(new, old, strict=True)
               for x, y in zip(a, b, strict=True)):
            s = with_blocks(s, new)
        out.append(s)
    return out


def with_blocks(stmt: Stmt, new: list[list]) -> Stmt:
    """A copy of a compound statement with its blocks (in the order `blocks` gives) replaced."""
    if isinstance(stmt, If):
        return replace(stmt, body=new[0], orelse=new[1])
    if isinstance(stmt, For):
        return replace(stmt, body=new[0])
    if isinstance(stmt, While):
        return replace(stmt, prelude=new[0], body=new[1])
    if isinstance(stmt, Try):
        handlers = [replace(h, body=b) for h, b in zip(stmt.handlers, new[1:-2], strict=True)]
        return replace(stmt, body=new[0], handlers=handlers, orelse=new[-2], finalbody=new[-1])
    return replace(stmt, body=new[0])  # With


def walk(body: list) -> Iterator[Stmt]:
    """Every statement, compound ones before their contents (program order)."""
    for stmt in body:
        yield stmt
        for block in blocks(stmt):
            yield from walk(block)


def names(atoms) -> set[str]:
    """The names atoms read (those inside an inline expression, `*xs` in a call, too)."""
    out = set()
    for a in atoms:
        if isinstance(a, Name):
            out.add(a.id)
        elif isinstance(a, Expr):
            out |= {x.id for x in a.args if isinstance(x, Name)}
    return out


def uses(stmt: Stmt) -> set[str]:
    """Names a statement reads (not counting nested blocks)."""
    if isinstance(stmt, Assign):
        found = names(stmt.args) | names(a for _, a in stmt.kwargs)
        return found | (names(stmt.index.atoms()) if stmt.index else set())
    if isinstance(stmt, SetItem):
        return {stmt.target} | names([stmt.value]) | names(stmt.index.atoms())
    if isinstance(stmt, Append):
        return {stmt.target} | names([stmt.value])
    if isinstance(stmt, (Unpack, Return)):
        return names([stmt.value])
    if isinstance(stmt, (If, While)):
        return names([stmt.test])
    if isinstance(stmt, For):
        return names([stmt.iter])
    if isinstance(stmt, With):
        return names(item.context for item in stmt.items)
    return set()


def defs(stmt: Stmt) -> set[str]:
    """Names a statement binds (not counting nested blocks)."""
    if isinstance(stmt, Assign):
        return {n for n in (stmt.target, stmt.tape) if n}
    if isinstance(stmt, Unpack):
        return set(stmt.targets)
    if isinstance(stmt, For):
        return {stmt.target} | ({stmt.trips} if stmt.trips else set())
    if isinstance(stmt, While):
        return {stmt.trips}
    if isinstance(stmt, Try):
        return {stmt.caught} | {h.name for h in stmt.handlers if h.name}
    if isinstance(stmt, With):
        return {item.name for item in stmt.items if item.name}
    return set()


def rename(body: list, mapping: dict[str, str]) -> list:
    """A copy of `body` with names replaced by `mapping`."""

    def atom(a):
        if isinstance(a, Expr):
            return Expr(a.template, tuple(atom(x) for x in a.args))
        return Name(mapping.get(a.id, a.id)) if isinstance(a, Name) else a

    def item(i):
        if isinstance(i, Slice):
            return Slice(*(item(x) if x is not None else None for x in (i.lower, i.upper, i.step)))
        if isinstance(i, Expr):
            return Expr(i.template, tuple(atom(a) for a in i.args))
        return atom(i) if isinstance(i, (Name, Const)) else i

    def index(ix):
        return Index(tuple(item(i) for i in ix.items)) if ix is not None else None

    def name(n):
        return mapping.get(n, n)

    out = []
    for s in body:
        if isinstance(s, Assign):
            s = replace(s, target=name(s.target), tape=name(s.tape), args=tuple(map(atom, s.args)),
                        kwargs=tuple((k, atom(v)) for k, v in s.kwargs), index=index(s.index))
        elif isinstance(s, SetItem):
            s = replace(s, target=name(s.target), index=index(s.index), value=atom(s.value))
        elif isinstance(s, Append):
            s = replace(s, target=name(s.target), value=atom(s.value))
        elif isinstance(s, Unpack):
            s = replace(s, targets=tuple(map(name, s.targets)), value=atom(s.value))
        elif isinstance(s, Return):
            s = replace(s, value=atom(s.value))
        elif isinstance(s, If):
            s = replace(s, test=atom(s.test), body=rename(s.body, mapping),
                        orelse=rename(s.orelse, mapping))
        elif isinstance(s, For):
            s = replace(s, target=name(s.target), iter=atom(s.iter), body=rename(s.body, mapping))
        elif isinstance(s, While):
            s = replace(s, prelude=rename(s.prelude, mapping), test=atom(s.test),
                        body=rename(s.body, mapping))
        elif isinstance(s, Try):
            s = replace(s, body=rename(s.body, mapping), handlers=[
                Handler(h.types, name(h.name), rename(h.body, mapping), h.origin)
                for h in s.handlers], orelse=rename(s.orelse, mapping),
                finalbody=rename(s.finalbody, mapping), caught=name(s.caught))
        elif isinstance(s, With):
            s = replace(s, items=tuple(replace(i, context=atom(i.context), name=name(i.name))
                                       for i in s.items), body=rename(s.body, mapping))
        out.append(s)
    return out

