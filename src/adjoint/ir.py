"""The intermediate form: statement records with nested blocks, like a jaxpr.

libcst is used at the edges (parse once, emit once); normalize, activity and
reverse work on these plain records. After normalize a function body holds:

    Assign(target, prim, args)    target = prim(args...): one primitive on atoms
    SetItem(target, index, value) target[index] = value
    Unpack(targets, value)        a, b = value
    If(test, body, orelse)        the test is an atom
    For(target, iter, body)       iter is an atom holding a range, list or array
    While(prelude, test, body)    prelude recomputes the test atom each trip
    Break, Continue, Return(value)

Atoms are `Name`s and `Const`s. Each record keeps the user statement it came
from (`origin`) for comments and error locations.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Const:
    value: Any
    text: str


@dataclass(frozen=True)
class Expr:
    """Integer arithmetic kept inline in an index (`y[i - 1]`): a format template over names.
    It carries no derivative, and the reverse sweep re-evaluates it."""

    template: str
    args: tuple = ()


Atom = Name | Const


@dataclass(frozen=True)
class Slice:
    lower: Atom | None
    upper: Atom | None
    step: Atom | None


NEWAXIS = "None"
ELLIPSIS = "..."
IndexItem = Name | Const | Expr | Slice | str


@dataclass(frozen=True)
class Index:
    items: tuple[IndexItem, ...]

    def atoms(self) -> Iterator[Atom]:
        for item in self.items:
            if isinstance(item, Slice):
                yield from (a for a in (item.lower, item.upper, item.step) if a is not None)
            elif isinstance(item, Expr):
                yield from item.args
            elif isinstance(item, (Name, Const)):
                yield item


@dataclass(frozen=True)
class Prim:
    """What an `Assign` computes.

    kind: 'call' f(a), 'method' a.f(b), 'binop' a + b, 'unary' -a, 'compare' a < b,
    'attr' a.T, 'index' a[i], 'copy' a, 'tuple' (a, b), 'list' [a, b].
    key is the object the rule table is keyed by (operator.add, np.sin, a user
    function); spelling is how the primal writes it ('np.sin', '+', 'sum', 'T').
    """

    kind: str
    key: Any = None
    spelling: str = ""


COPY = Prim("copy")


@dataclass(frozen=True)
class Origin:
    """The user's statement a record came from: its code and its libcst node."""

    text: str
    node: Any = field(compare=False, repr=False)


@dataclass
class Assign:
    target: str | None  # None: a call made for its effect, or an assert
    prim: Prim
    args: tuple[Atom, ...] = ()
    kwargs: tuple[tuple[str, Atom], ...] = ()
    index: Index | None = None
    origin: Origin | None = None
    node: Any = field(default=None, compare=False, repr=False)  # the expression, for errors
    tape: str | None = None  # a call of a user function: the name of what its _fwd saved
    adjoint: Any = None  # ... and (fwd name, bwd name, positions, keywords, result kind)
    inplace: bool = False  # x += v: an array is updated in place, as Python does


@dataclass
class SetItem:
    target: str
    index: Index
    value: Atom
    origin: Origin | None = None
    op: str = ""  # '+' or '-' for target[index] += value (added in place, not replaced)


@dataclass
class Append:
    """target.append(value): the list grows; its adjoint list shrinks in the reverse sweep."""

    target: str
    value: Atom
    origin: Origin | None = None


@dataclass
class Unpack:
    targets: tuple[str, ...]
    value: Atom
    origin: Origin | None = None


@dataclass
class If:
    test: Atom
    body: list
    orelse: list
    origin: Origin | None = None


@dataclass
class For:
    target: str
    iter: Atom
    body: list
    origin: Origin | None = None
    trips: str | None = None  # counts iterations when the loop can break


@dataclass
class While:
    prelude: list
    test: Atom
    body: list
    origin: Origin | None = None
    trips: str = "trips"


@dataclass
class Break:
    origin: Origin | None = None


@dataclass
class Continue:
    origin: Origin | None = None


@dataclass
class Return:
    value: Atom
    origin: Origin | None = None


Stmt = Assign | SetItem | Append | Unpack | If | For | While | Break | Continue | Return


@dataclass
class Param:
    name: str
    default: str | None = None  # source text of the default
    kind: str = "positional"  # or 'keyword'


@dataclass
class Function:
    name: str
    params: list[Param]
    body: list
    source: Any = field(repr=False, default=None)  # parse.Source, for error locations


# ---------------------------------------------------------------- traversal


def blocks(stmt: Stmt) -> list[list]:
    """The nested statement lists of a compound statement."""
    if isinstance(stmt, If):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, For):
        return [stmt.body]
    if isinstance(stmt, While):
        return [stmt.prelude, stmt.body]
    return []


def walk(body: list) -> Iterator[Stmt]:
    """Every statement, compound ones before their contents (program order)."""
    for stmt in body:
        yield stmt
        for block in blocks(stmt):
            yield from walk(block)


def names(atoms) -> set[str]:
    return {a.id for a in atoms if isinstance(a, Name)}


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
    return set()


def rename(body: list, mapping: dict[str, str]) -> list:
    """A copy of `body` with names replaced by `mapping`."""

    def atom(a):
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
        out.append(s)
    return out


# ---------------------------------------------------------------- rendering

@dataclass(frozen=True)
class Ref:
    """A variable inside emitted code, so later passes can rename and count it."""

    name: str


Parts = tuple  # of str | Ref


def atom_parts(a: Atom) -> Parts:
    if isinstance(a, Expr):
        return format_parts(a.template, a.args)
    return (Ref(a.id),) if isinstance(a, Name) else (a.text,)


def format_parts(template: str, args) -> Parts:
    """A format template (`{0} - 1`) over atoms, as parts."""
    out: list = []
    for literal, field_name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if field_name is not None:
            out.extend(atom_parts(args[int(field_name)]))
    return tuple(x for x in out if x != "")


def _operand(a: Atom, left_of_pow: bool = False) -> Parts:
    if isinstance(a, Const) and left_of_pow and a.text.startswith("-"):
        return ("(", a.text, ")")
    return atom_parts(a)


def join(items: list[Parts], sep: str = ", ") -> Parts:
    out: list = []
    for k, item in enumerate(items):
        if k:
            out.append(sep)
        out.extend(item)
    return tuple(out)


def index_parts(index: Index) -> Parts:
    items = []
    for item in index.items:
        if isinstance(item, Slice):
            part = (
                *(atom_parts(item.lower) if item.lower else ()),
                ":",
                *(atom_parts(item.upper) if item.upper else ()),
                *((":", *atom_parts(item.step)) if item.step else ()),
            )
            items.append(part)
        elif isinstance(item, str):
            items.append((item,))
        else:
            items.append(atom_parts(item))
    if len(items) == 1 and isinstance(index.items[0], (Name, Const)):
        # a single atom that may hold a tuple: x[t] is not x[t,]
        return items[0]
    if len(items) == 1:
        return items[0]
    return join(items)


def call_parts(func: str, args, kwargs) -> Parts:
    items = [atom_parts(a) for a in args] + [(f"{k}=", *atom_parts(v)) for k, v in kwargs]
    return (func, "(", *join(items), ")")


def prim_parts(s: Assign) -> Parts:
    """The right-hand side of an `Assign`, as the primal writes it."""
    p, args = s.prim, s.args
    if p.kind == "copy":
        return atom_parts(args[0])
    if p.kind == "call":
        return call_parts(p.spelling, args, s.kwargs)
    if p.kind == "method":
        return (*atom_parts(args[0]), ".", *call_parts(p.spelling, args[1:], s.kwargs))
    if p.kind in ("binop", "compare"):
        return (*_operand(args[0], p.spelling == "**"), f" {p.spelling} ", *_operand(args[1]))
    if p.kind == "unary":
        sep = " " if p.spelling == "not" else ""
        return (p.spelling, sep, *_operand(args[0], True))
    if p.kind == "attr":
        return (*atom_parts(args[0]), ".", p.spelling)
    if p.kind == "index":
        return (*atom_parts(args[0]), "[", *index_parts(s.index), "]")
    if p.kind == "tuple":
        if len(args) == 1:
            return ("(", *atom_parts(args[0]), ",)")
        return ("(", *join([atom_parts(a) for a in args]), ")")
    if p.kind == "list":
        return ("[", *join([atom_parts(a) for a in args]), "]")
    if p.kind == "dict":  # the keys are literals, kept in p.key
        return ("{", *join([(k, ": ", *atom_parts(a)) for k, a in zip(p.key, args, strict=True)]),
                "}")
    if p.kind == "expr":  # passive code kept as written: a format template over args
        return format_parts(p.spelling, args)
    raise ValueError(f"unknown primitive kind {p.kind!r}")


def text(parts: Parts) -> str:
    return "".join(p.name if isinstance(p, Ref) else p for p in parts)


def stmt_parts(s: Stmt) -> Parts:
    """A simple statement as the primal writes it (compound ones: their header)."""
    if isinstance(s, Assign):
        if s.adjoint is not None:
            call = call_parts(s.adjoint[0], s.args, s.kwargs)
            return (Ref(s.target), ", ", Ref(s.tape), " = ", *call)
        if s.inplace:
            return (Ref(s.target), f" {s.prim.spelling}= ", *atom_parts(s.args[1]))
        return (Ref(s.target), " = ", *prim_parts(s)) if s.target else prim_parts(s)
    if isinstance(s, SetItem):
        return (Ref(s.target), "[", *index_parts(s.index), f"] {s.op}= ", *atom_parts(s.value))
    if isinstance(s, Append):
        return (Ref(s.target), ".append(", *atom_parts(s.value), ")")
    if isinstance(s, Unpack):
        targets = join([(Ref(t),) for t in s.targets])
        if len(s.targets) == 1:
            targets = (*targets, ",")
        return (*targets, " = ", *atom_parts(s.value))
    if isinstance(s, Return):
        return ("return ", *atom_parts(s.value))
    if isinstance(s, Break):
        return ("break",)
    if isinstance(s, Continue):
        return ("continue",)
    if isinstance(s, If):
        return ("if ", *atom_parts(s.test), ":")
    if isinstance(s, For):
        return ("for ", Ref(s.target), " in ", *atom_parts(s.iter), ":")
    if isinstance(s, While):
        return ("while ", *atom_parts(s.test), ":")
    raise ValueError(f"unknown statement {s!r}")


def format_body(body: list, indent: int = 1) -> list[str]:
    """Source lines of a normalized body (for `adjoint show --stage normalize`)."""
    pad = "    " * indent
    lines = []
    for s in body:
        if isinstance(s, While):
            if s.prelude:
                lines.append(pad + "while True:")
                lines += format_body(s.prelude, indent + 1)
                lines.append(pad + f"    if not {text(atom_parts(s.test))}:")
                lines.append(pad + "        break")
            else:
                lines.append(pad + text(stmt_parts(s)))
            lines += format_body(s.body, indent + 1)
            continue
        lines.append(pad + text(stmt_parts(s)))
        if isinstance(s, If):
            lines += format_body(s.body, indent + 1) or [pad + "    pass"]
            if s.orelse:
                lines.append(pad + "else:")
                lines += format_body(s.orelse, indent + 1)
        elif isinstance(s, For):
            lines += format_body(s.body, indent + 1) or [pad + "    pass"]
    return lines


def format_function(fn: Function) -> str:
    params = []
    for p in fn.params:
        params.append(p.name if p.default is None else f"{p.name}={p.default}")
    header = f"def {fn.name}({', '.join(params)}):"
    return "\n".join([header, *format_body(fn.body)]) + "\n"


# ---------------------------------------------------------------- emitted code

@dataclass
class Line:
    """One emitted simple statement (or comment), with the names it binds."""

    parts: Parts
    binds: tuple = ()
    comment: bool = False


@dataclass
class Block:
    """An emitted compound statement: `head:` then body (and `else:` orelse)."""

    head: Parts
    body: list
    orelse: list = field(default_factory=list)


@dataclass
class Emitted:
    """An emitted function: what compile prints and optimize rewrites."""

    name: str
    params: str  # the parameter list, as text
    body: list  # of Line | Block
    result_kind: str | None = None  # 'scalar' or 'int' when the primal result surely is one
    primal: frozenset = frozenset()  # names of the user's code (checked by its own structure)


def refs(parts: Parts) -> Iterator[str]:
    return (p.name for p in parts if isinstance(p, Ref))


def read_refs(parts: Parts, binds: tuple = ()) -> list[Ref]:
    """The Refs a line reads: all but the names it binds left of ` = `."""
    try:
        eq = parts.index(" = ")
    except ValueError:
        eq = 0
    return [p for k, p in enumerate(parts)
            if isinstance(p, Ref) and not (k < eq and p.name in binds)]
