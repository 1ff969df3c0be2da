"""effects: what a function of the user's, called for its effect (a callback: `show(u)`,
`record(i, loss)`, a factory bumping a counter), may change. Such a call runs in the forward
sweep as in the primal; it is safe when the function writes into no object its arguments
hold, and the differentiated function reads none of the global objects it writes into (what
it stored there would come back without its derivative)."""

from __future__ import annotations

import ast
import functools
import linecache
import re
from dataclasses import dataclass, replace
from typing import Any

import libcst as cst
import numpy as np

from .. import ir, naming, rules
from .. import normalize as normalize_
from .. import parse as parse_
from ..errors import AdjointError
from ..ir import Append, Assign, Name, SetItem, Unpack
from ..normalize.syntax import count_returns
from .points_to import points_to

# methods that read their object and change nothing
PURE_METHODS = frozenset({
    "copy", "sum", "mean", "max", "min", "std", "var", "prod", "reshape", "astype", "tolist",
    "item", "index", "count", "get", "keys", "values", "items", "ravel", "flatten", "dot",
    "transpose", "round", "any", "all", "argmax", "argmin", "cumsum", "format", "join",
    "startswith", "endswith", "split", "strip", "upper", "lower", "replace", "squeeze",
})


@dataclass(frozen=True)
class Effects:
    """writes_arguments: whether it may write into an object an argument holds; globals:
    the module-level names whose objects it writes into."""

    writes_arguments: bool
    globals: frozenset


_effects: dict = {}


def effects(obj: Any, depth: int = 0) -> Effects | None:
    """The Effects of the user function obj (None: adjoint cannot read it)."""
    try:
        if obj in _effects:
            return _effects[obj]
    except TypeError:
        return None
    if depth > 4:
        return None
    _effects[obj] = None  # a recursive call: unknown while the answer is worked out
    try:
        fn = normalize_.normalize(_returning(parse_.parse(obj)), naming.Namer())
    except AdjointError:
        return None
    _effects[obj] = found = _of(fn, depth)
    return found


def _of(fn: ir.Function, depth: int) -> Effects | None:
    from .values import is_user_function

    params = {p.name for p in fn.params}
    local = params | {t for s in ir.walk(fn.body) for t in _bound(s)}
    before = points_to(fn)
    writes, written = False, set()

    def write(name: str, s) -> None:
        nonlocal writes
        if name not in local:
            written.add(name)
            return
        objects = before.get(id(s), {}).get(name, frozenset())
        if name in params or not objects or any(
                isinstance(site, tuple) and site[0] == "param" for site, _ in objects):
            writes = True

    for s in ir.walk(fn.body):
        if isinstance(s, (SetItem, Append)):
            write(s.target, s)
        elif isinstance(s, Assign) and s.inplace:
            write(s.target, s)
        elif isinstance(s, Assign) and s.prim.kind == "setattr":
            for name in s.prim.key:
                write(name, s)
        elif isinstance(s, Assign) and s.prim.kind == "method" and s.prim.key is None and \
                s.prim.spelling not in PURE_METHODS:
            if isinstance(s.args[0], Name):
                write(s.args[0].id, s)
            elif isinstance(s.args[0], ir.Const):  # a module-level object: TRACE.append(v)
                written.add(s.args[0].text.split(".")[0])
            else:
                writes = True
        elif isinstance(s, Assign) and s.prim.kind == "call" and (
                is_user_function(s.prim.key) or s.prim.key is ir.DYNAMIC):
            inner = effects(s.prim.key, depth + 1) if s.prim.key is not ir.DYNAMIC else None
            if inner is None:
                return None
            writes |= inner.writes_arguments
            written |= inner.globals
    return Effects(writes, frozenset(written))


def _returning(src: parse_.Source) -> parse_.Source:
    """The source of a function that returns nothing (as callbacks do), returning None; of
    a factory returning a function it defines, without that def, returning None."""
    fd = src.funcdef
    if not isinstance(fd.body, cst.IndentedBlock):
        return src
    body = list(fd.body.body)
    last = body[-1]
    if isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[0], cst.Return) \
            and isinstance(last.body[0].value, cst.Name):
        made = last.body[0].value.value
        if any(isinstance(s, cst.FunctionDef) and s.name.value == made for s in body):
            body = [s for s in body[:-1] if not (isinstance(s, cst.FunctionDef)
                                                 and s.name.value == made)]
        else:
            return src
    elif count_returns(fd):
        return src
    ret = cst.SimpleStatementLine([cst.Return(cst.Name("None"))])
    return replace(src, funcdef=fd.with_changes(body=fd.body.with_changes(body=[*body, ret])))


def _bound(s) -> tuple:
    if isinstance(s, Assign) and s.target and s.prim.kind != "setattr" and not s.inplace:
        return (s.target,)
    if isinstance(s, Unpack):
        return tuple(s.targets)
    if isinstance(s, ir.For):
        return (s.target,)
    return ()


def names_read(fn: ir.Function, skip: Any = None) -> set[str]:
    """Every name fn reads (but in the statement `skip`): its locals, and the module-level
    names it reads data from."""
    out: set[str] = set()
    for s in ir.walk(fn.body):
        if s is skip:
            continue
        out |= ir.uses(s)
        atoms = [*getattr(s, "args", ()), *(v for _, v in getattr(s, "kwargs", ()))]
        for name in ("value", "test", "iter"):
            atoms.append(getattr(s, name, None))
        index = getattr(s, "index", None)
        atoms += list(index.atoms()) if index is not None else []
        out |= {a.text.split(".")[0] for a in atoms
                if isinstance(a, ir.Const) and a.text.split(".")[0].isidentifier()}
    return out


def refusal(s: Assign, active: list[bool], varied: set[str], fn: ir.Function) -> str | None:
    """Why the call s, made for its effect, cannot run as in the primal (None: it can). It
    can when it is passive (print); when it calls a function of the user's that writes into
    none of its arguments and stores nothing into a global object fn reads; when it is a
    method of an object storing a value (`self.history.append(loss)`, `TRACE.append(v)`)
    that nothing differentiated reads back. `active` tells which of its arguments carry a
    derivative; `varied`, the names that vary with what is differentiated."""
    from .values import is_user_function

    if s.prim.key is not None and rules.is_passive(s.prim.key):
        return None
    method = s.prim.kind == "method" and s.prim.key is None
    user = s.prim.kind == "call" and is_user_function(s.prim.key)
    stored = ir.names((*s.args[1 if method else 0:], *(v for _, v in s.kwargs))) & varied
    if not (any(active) or ((user or method) and stored)):
        return None
    what = f".{s.prim.spelling}()" if s.prim.kind == "method" else s.prim.spelling
    reads = names_read(fn, skip=s)
    if method and stored and not any(active):
        if _kept(s, fn.source, reads):
            return None
        return (f"{what} keeps a value that varies with what is differentiated in an object "
                "that is read back: its derivative would be lost; keep the value in a local "
                "name (or return it)")
    if method and s.prim.spelling in STORING and _kept(s, fn.source, reads):
        return None
    found = effects(s.prim.key) if user else None
    if found is not None and not found.writes_arguments:
        back = sorted(found.globals & reads)
        if not back:
            return None
        return (f"{what} stores values into {back[0]}, which this function reads back: their "
                "derivatives would be lost; pass the values back as results instead")
    if found is not None:
        return (f"{what} may write into the values it is passed, which vary with what is "
                "differentiated; work on a copy inside it, or return the new value and "
                "assign it")
    return (f"{what} is called for its effect on a value that carries a derivative; adjoint "
            "cannot see what it changes. Assign its result instead")


STORING = ("append", "extend")

# NumPy functions that write into their first argument (np.add.at is followed, as a write)
WRITERS = frozenset({np.copyto, np.put, np.place, np.putmask, np.fill_diagonal,
                     np.put_along_axis})


def writer_refusal(s, varied: set[str]) -> str | None:
    """Why a call that writes into its first argument (np.copyto, np.put...) is refused:
    a value it writes, or the array written, varies with what is differentiated, and
    adjoint follows writes made by assignments only (None: all of it is constant)."""
    if not (isinstance(s, Assign) and s.prim.kind == "call" and s.prim.key in WRITERS):
        return None
    if not ir.names((*s.args, *(v for _, v in s.kwargs))) & varied:
        return None
    target = s.args[0].id if s.args and isinstance(s.args[0], ir.Name) else "its argument"
    return (f"{s.prim.spelling} writes into {target} in place, with values that vary with "
            f"what is differentiated; adjoint follows writes made by assignment: write "
            f"{target}[...] = ... (or build the array with np.where) instead")


def _kept(s: Assign, source: parse_.Source, reads: set[str]) -> bool:
    """Whether `xs.append(v)` keeps v where nothing differentiated reads it back: xs is a
    module-level list this function does not read, or an attribute (`self.history`) no code
    of the module reads."""
    node = s.node
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return False
    owner = node.func.value
    if isinstance(owner, cst.Name) and isinstance(s.args[0], ir.Const):
        return owner.value not in reads
    return isinstance(owner, cst.Attribute) and owner.attr.value not in module_reads(
        source.filename)


def stored_unread(s: Assign, source: parse_.Source) -> bool:
    """Whether the attribute an attribute write (`self.last = value`) sets is read nowhere
    in the module of the function writing it: a value kept there for the user, not for the
    computation, whose derivative no one needs."""
    found = re.search(r"\.([A-Za-z_]\w*)\s*\S*=\s*\{\d+\}$", s.prim.spelling)
    return found is not None and found.group(1) not in module_reads(source.filename)


def module_reads(filename: str) -> frozenset:
    """The attribute names a module's code reads (`x.name` loaded, other than as the list
    of an `x.name.append(v)` statement); every name when its text cannot be read."""
    return _attribute_loads("".join(linecache.getlines(filename)))


@functools.lru_cache(maxsize=32)
def _attribute_loads(text: str) -> frozenset:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return _EVERYTHING
    if not text:
        return _EVERYTHING
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)):
            continue
        up = parents.get(node)
        if isinstance(up, ast.Attribute) and up.attr in STORING and isinstance(
                parents.get(up), ast.Call) and isinstance(parents.get(parents.get(up)),
                                                          ast.Expr):
            continue
        out.add(node.attr)
    return frozenset(out)


class _Everything(frozenset):
    def __contains__(self, item: object) -> bool:
        return True


_EVERYTHING = _Everything()
