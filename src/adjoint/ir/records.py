"""records: the statement records and atoms of the intermediate form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Const:
    value: Any
    text: str

    def __deepcopy__(self, memo: dict) -> Const:
        return self  # records are copied, never what a constant holds (a module, an array)


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

    def __deepcopy__(self, memo: dict) -> Prim:
        return self  # immutable; its key is a function or a Nested, shared, not copied


COPY = Prim("copy")


class _Dynamic:
    """The key of a call through a value (`phi(t)`, `TESTBED[name](x)`, `self.act(z)`): its
    first argument is the function called, known only when the call runs."""

    def __repr__(self) -> str:
        return "DYNAMIC"


DYNAMIC = _Dynamic()


@dataclass(frozen=True)
class CallLink:
    """A call of the user's own function with active arguments, linked to its split adjoint:
    the forward sweep calls `fwd` and keeps what it saves; the reverse sweep calls `bwd`
    with those and the seed. `positions`/`keywords`: the arguments that get adjoints;
    `result`: the kind of value it returns ('scalar', 'int', 'array' or None)."""

    fwd: str
    bwd: str
    positions: tuple[int, ...]
    keywords: tuple[str, ...]
    result: str | None
    dims: object = None  # the result's shape, where known: driver.result_dims


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
    adjoint: CallLink | None = None  # ... and the split adjoint it is linked to
    inplace: bool = False  # x += v: an array is updated in place, as Python does
    shared: str = ""  # x += v where x may share its memory with this name, read later:
    # written x = x + v, right for a number; an array is refused as the code runs


@dataclass
class SetItem:
    target: str
    index: Index
    value: Atom
    origin: Origin | None = None
    op: str = ""  # '+' or '-' for target[index] += value (added in place, not replaced);
    # 'at' for np.add.at(target, index, value) (added at each place, repeated ones again)
    aug: str = ""  # the operator of `target[index] *= v` (written as a replaced value)


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
class Handler:
    """One `except` clause of a `Try`: the exception types as written (a global name or a
    tuple of them, None for a bare `except:`), the name `as` binds, and its body."""

    types: Const | None
    name: str | None
    body: list
    origin: Origin | None = None


@dataclass
class Try:
    """try/except/else/finally. Which way it went is known only as it runs: `caught` records
    it (False, or True when the one handler ran; with several, 0 or the handler's number)."""

    body: list
    handlers: list  # of Handler
    orelse: list
    finalbody: list
    origin: Origin | None = None
    caught: str = "caught"


@dataclass(frozen=True)
class WithItem:
    """One context manager of a `With`: its expression (no derivative flows through it), the
    name `as` binds, and whether the reverse sweep enters it again (a numeric environment such
    as np.errstate: the adjoint's arithmetic raises the warnings the primal's does)."""

    context: Expr
    name: str | None = None
    again: bool = False


@dataclass
class With:
    items: tuple[WithItem, ...]
    body: list
    origin: Origin | None = None


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


Stmt = (Assign | SetItem | Append | Unpack | If | For | While | Try | With | Break | Continue
        | Return)


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
    globals: dict = field(repr=False, default_factory=dict)  # global name -> what it meant
    defaults: dict = field(repr=False, default_factory=dict)  # held name -> a default value

