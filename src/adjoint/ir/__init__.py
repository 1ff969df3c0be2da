"""The intermediate form: statement records with nested blocks, like a jaxpr.

libcst is used at the edges (parse once, emit once); normalize, analysis and
reverse work on these plain records. After normalize a function body holds:

    Assign(target, prim, args)    target = prim(args...): one primitive on atoms
    SetItem(target, index, value) target[index] = value
    Unpack(targets, value)        a, b = value
    If(test, body, orelse)        the test is an atom
    For(target, iter, body)       iter is an atom holding a range, list or array
    While(prelude, test, body)    prelude recomputes the test atom each trip
    Try(body, handlers, orelse, finalbody)  `caught` records which way it went
    With(items, body)             each item's context expression is passive
    Break, Continue, Return(value)

Atoms are `Name`s and `Const`s. Each record keeps the user statement it came
from (`origin`) for comments and error locations.

`records` holds the records, `traverse` walks and renames them, `render` turns them into
the parts of emitted lines.
"""

from .records import (  # noqa: F401
    COPY,
    DYNAMIC,
    ELLIPSIS,
    NEWAXIS,
    Append,
    Assign,
    Atom,
    Break,
    CallLink,
    Const,
    Continue,
    Expr,
    For,
    Function,
    Handler,
    If,
    Index,
    IndexItem,
    Name,
    Origin,
    Param,
    Prim,
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
from .render import (  # noqa: F401
    Block,
    Clause,
    Emitted,
    Line,
    Parts,
    Ref,
    _operand,
    add_at_parts,
    atom_parts,
    call_parts,
    format_body,
    format_function,
    format_parts,
    handler_head,
    index_parts,
    item_parts,
    join,
    parts_of,
    prim_parts,
    read_refs,
    refs,
    stmt_parts,
    text,
)
from .traverse import (  # noqa: F401
    blocks,
    defs,
    map_stmts,
    names,
    rename,
    uses,
    walk,
    with_blocks,
)

