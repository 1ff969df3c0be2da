"""render: records as the parts of emitted lines, and emitted code as structure."""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass, field

from .records import (
    DYNAMIC,
    Append,
    Assign,
    Atom,
    Break,
    Const,
    Continue,
    Expr,
    For,
    Function,
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
    WithItem,
)


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


def add_at_parts(target: Parts, index: Index, value: Parts) -> Parts:
    """`np.add.at(target, index, value)`: the index a tuple where it has several items."""
    where = index_parts(index) if len(index.items) == 1 else ("(", *index_parts(index), ")")
    return ("np.add.at(", *target, ", ", *where, ", ", *value, ")")


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
    """`func(a, k=b)`; a keyword item named `**` is a dict passed as `**d`."""
    items = [atom_parts(a) for a in args] + [
        atom_parts(v) if k == "**" else (f"{k}=", *atom_parts(v)) for k, v in kwargs]
    return (func, "(", *join(items), ")")


def prim_parts(s: Assign) -> Parts:
    """The right-hand side of an `Assign`, as the primal writes it."""
    p, args = s.prim, s.args
    if p.kind == "copy":
        return atom_parts(args[0])
    if p.kind == "call" and p.key is DYNAMIC:  # the function called is the first argument
        return (*atom_parts(args[0]), *call_parts("", args[1:], s.kwargs))
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
    if p.kind in ("expr", "setattr"):  # code kept as written: a format template over args
        return format_parts(p.spelling, args)
    raise ValueError(f"unknown primitive kind {p.kind!r}")


def text(parts: Parts) -> str:
    return "".join(p.name if isinstance(p, Ref) else p for p in parts)


def stmt_parts(s: Stmt) -> Parts:
    """A simple statement as the primal writes it (compound ones: their header)."""
    if isinstance(s, Assign):
        if s.adjoint is not None:
            call = call_parts(s.adjoint.fwd, s.args, s.kwargs)
            return (Ref(s.target), ", ", Ref(s.tape), " = ", *call)
        if s.inplace:
            return (Ref(s.target), f" {s.prim.spelling}= ", *atom_parts(s.args[1]))
        return (Ref(s.target), " = ", *prim_parts(s)) if s.target else prim_parts(s)
    if isinstance(s, SetItem):
        if s.op == "at":  # np.add.at: repeated places add each time
            return add_at_parts((Ref(s.target),), s.index, atom_parts(s.value))
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
    if isinstance(s, Try):
        return ("try:",)
    if isinstance(s, With):
        return ("with ", *join([item_parts(i) for i in s.items]), ":")
    raise ValueError(f"unknown statement {s!r}")


def item_parts(item: WithItem, bind: bool = True) -> Parts:
    """`np.errstate(over='ignore') as old`: one context manager of a with."""
    name = (" as ", Ref(item.name)) if item.name and bind else ()
    return (*atom_parts(item.context), *name)


def handler_head(types: Const | None, name: str | None) -> Parts:
    """`except ValueError as err:`"""
    return ("except", *((" ", types.text) if types is not None else ()),
            *((" as ", Ref(name)) if name else ()), ":")


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
        elif isinstance(s, (For, With)):
            lines += format_body(s.body, indent + 1) or [pad + "    pass"]
        elif isinstance(s, Try):
            lines += format_body(s.body, indent + 1) or [pad + "    pass"]
            clauses = [(text(handler_head(h.types, h.name)), h.body) for h in s.handlers]
            clauses += [(w, b) for w, b in (("else:", s.orelse), ("finally:", s.finalbody)) if b]
            for head, block in clauses:
                lines.append(pad + head)
                lines += format_body(block, indent + 1) or [pad + "    pass"]
    return lines


def format_function(fn: Function) -> str:
    params = []
    for p in fn.params:
        params.append(p.name if p.default is None else f"{p.name}={p.default}")
    header = f"def {fn.name}({', '.join(params)}):"
    return "\n".join([header, *format_body(fn.body)]) + "\n"




@dataclass
class Line:
    """One emitted simple statement (or comment), with the names it binds."""

    parts: Parts
    binds: tuple = ()
    comment: bool = False
    effect: bool = False  # a call of the user's that may do more than make its value
    # what an adjoint's fresh zeros and its index-adds are, for reverse/fill.py
    note: object = field(default=None, compare=False, repr=False)


@dataclass
class Clause:
    """A later clause of an emitted `try` (`except E as err:`, `else:`, `finally:`), with the
    name its head binds."""

    head: Parts
    body: list
    binds: tuple = ()


@dataclass
class Block:
    """An emitted compound statement: `head:` then body (and `else:` orelse); a `try` has
    its other clauses in `clauses`; `binds`: the names the head binds (`with ... as f`)."""

    head: Parts
    body: list
    orelse: list = field(default_factory=list)
    clauses: list = field(default_factory=list)  # of Clause
    binds: tuple = ()

    @property
    def kind(self) -> str:
        """'for', 'while', 'try', 'with' or 'if': the statement the head starts."""
        start = text(self.head)
        for kind in ("for", "while", "try", "with"):
            if start.startswith((f"{kind} ", f"{kind}:")):
                return kind
        return "if"

    def bodies(self) -> list[list]:
        """Every nested list of lines: the body, the else, each later clause's."""
        return [self.body, self.orelse, *(c.body for c in self.clauses)]

    def rebuilt(self, f, parts=lambda p: p) -> Block:
        """The same block with each nested list of lines replaced by f(lines) (and each head
        by parts(head))."""
        return Block(parts(self.head), f(self.body), f(self.orelse),
                     [Clause(parts(c.head), f(c.body), c.binds) for c in self.clauses],
                     self.binds)

    @property
    def target(self) -> str | None:
        """The name a `for` block binds every trip."""
        return self.head[1].name if self.head[:1] == ("for ",) else None


@dataclass
class Emitted:
    """An emitted function: what compile prints and optimize rewrites."""

    name: str
    params: str  # the parameter list, as text
    body: list  # of Line | Block
    result_kind: str | None = None  # 'scalar' or 'int' when the primal result surely is one
    result_dims: object = None  # the result's shape, or ('items', shapes) of a tuple's items
    primal: frozenset = frozenset()  # names of the user's code (checked by its own structure)
    large: frozenset = frozenset()  # of those, arrays of known shape and many entries
    numbers: frozenset = frozenset()  # adjoints surely holding a number everywhere


def parts_of(item: Line | Block) -> Iterator[Parts]:
    """The parts of an emitted line, or of a block's heads and every line inside it."""
    if isinstance(item, Line):
        yield item.parts
        return
    yield item.head
    for c in item.clauses:
        yield c.head
    for body in item.bodies():
        for inner in body:
            yield from parts_of(inner)


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
