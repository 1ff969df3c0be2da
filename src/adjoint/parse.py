"""parse: a function object to its libcst `FunctionDef`, with what names mean.

The source comes from `inspect` (dedented, decorators stripped); it is parsed
once. A lambda is found in its file by its code object (the line it starts on, its
parameters and, where Python records them, the columns of its instructions) and read as
a def with the same parameters and `return <body>`, its nodes at their places in the
file. Names are resolved through the function's closure, globals and builtins,
so `np.sin`, `numpy.sin` and `from numpy import sin` all find the object
`numpy.sin`, whatever the user's import alias. Positions are computed only
when an error needs one.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import inspect
import linecache
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .errors import ApiError, UnsupportedSyntax
from .lambdas import LAMBDA_NAME, _find_lambda, _lambda_source

MISSING = object()


@dataclass
class Source:
    """A parsed function and the namespace its names resolve in."""

    fn: Any
    filename: str
    first_line: int  # line of the module's first line in the file
    dedent: int  # columns removed by dedenting
    module: cst.Module
    funcdef: cst.FunctionDef
    namespace: dict  # closure cells over globals
    local_names: frozenset
    _positions: Any = field(default=None, repr=False)
    extra_params: tuple = ()  # free variables of a nested function, passed by keyword
    bindings: dict = field(default_factory=dict)  # parameters known to hold these functions
    code_object: Any = None  # to find the code of functions nested in this one
    resolved: dict = field(default_factory=dict)  # 'a.b.c' -> the object it meant, as looked up
    # a lambda's synthesized def: its nodes not in `module` -> the node whose place they take,
    # and the lambda itself, the place of any other node not in `module`
    stand_ins: dict = field(default_factory=dict, repr=False)
    anchor: Any = field(default=None, repr=False)
    # the sources of helpers whose statements were put in place of their calls (inline.py):
    # their nodes are located in their own files
    guests: tuple = field(default=(), repr=False)

    @property
    def name(self) -> str:
        return self.funcdef.name.value

    def resolve(self, dotted: list[str]) -> Any:
        """The object `a.b.c` names in the function's scope, or MISSING."""
        head = dotted[0]
        if head in self.bindings:
            obj = self.bindings[head]
            for attr in dotted[1:]:
                obj = getattr(obj, attr, MISSING)
            return obj
        if head in self.local_names:
            return MISSING
        if head in self.namespace:
            obj = self.namespace[head]
        elif hasattr(builtins, head):
            obj = getattr(builtins, head)
        else:
            return MISSING
        for attr in dotted[1:]:
            if not isinstance(obj, (types.ModuleType, type)):
                return MISSING
            obj = getattr(obj, attr, MISSING)
            if obj is MISSING:
                return MISSING
        self.resolved[".".join(dotted)] = obj
        return obj

    def code(self, node: cst.CSTNode) -> str:
        owner = self.owner_of(node)
        return owner.code(node) if owner is not self else self.module.code_for_node(node)

    def _resolved_positions(self) -> Any:
        if self._positions is None:
            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(
                PositionProvider
            )
        return self._positions

    def owner_of(self, node: cst.CSTNode) -> Source:
        """This source, or the source of an inlined helper that the node is part of."""
        for guest in self.guests:
            if guest.stand_ins.get(node, node) in guest._resolved_positions():
                return guest.owner_of(node)
        return self

    def position(self, node: cst.CSTNode) -> tuple[int, int]:
        """(line in the file, 0-based column) of a node of this function."""
        owner = self.owner_of(node)
        if owner is not self:
            return owner.position(node)
        self._resolved_positions()
        pos = self._positions.get(self.stand_ins.get(node, node))
        if pos is None and self.anchor is not None:
            pos = self._positions.get(self.anchor)
        if pos is None:
            return self.first_line, 0
        return self.first_line + pos.start.line - 1, pos.start.column + self.dedent

    def error(self, node: cst.CSTNode, msg: str, cls: type = UnsupportedSyntax) -> Exception:
        owner = self.owner_of(node)
        if owner is not self:
            return owner.error(node, msg, cls)
        line, col = self.position(node)
        text = linecache.getline(self.filename, line) or self.code(node).splitlines()[0]
        return cls(msg, self.filename, line, col, text)


def _unwrap(fn: Any) -> Any:
    if isinstance(fn, functools.partial):
        raise ApiError(
            f"adjoint cannot differentiate a functools.partial object ({fn!r}); "
            "differentiate the underlying function and pass the fixed arguments yourself"
        )
    if isinstance(fn, (types.MethodType, staticmethod, classmethod)):
        fn = fn.__func__
    generic = getattr(fn, "__adjoint_generic__", None)
    if generic is not None:  # a gradient made by adjoint: its emitted code, differentiated
        return generic.function
    if getattr(fn, "__adjoint_source__", None) is not None:
        raise ApiError(
            f"{fn.__qualname__} is a gradient compiled by numba (backend='numba'), which "
            "adjoint does not differentiate again; differentiate the NumPy backend's "
            "gradient of the same function (adjoint.grad without backend=)")
    if isinstance(fn, types.FunctionType) and getattr(fn, "__wrapped__", None) is not None:
        raise ApiError(
            f"{fn.__qualname__} ({_where(fn.__wrapped__)}) is wrapped by a decorator "
            "(functools.wraps): its code is the wrapper's, not the function's. Differentiate "
            f"the function itself (pass {fn.__qualname__}.__wrapped__ if the decorator does not "
            "change what it computes)")
    if not isinstance(fn, types.FunctionType):
        raise ApiError(
            f"adjoint needs a Python function defined in a file; {fn!r} is a "
            f"{type(fn).__name__}, whose source cannot be read"
        )
    if fn.__code__.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE
                               | inspect.CO_ASYNC_GENERATOR):
        raise ApiError(f"adjoint cannot differentiate {fn.__qualname__} ({_where(fn)}): it is "
                       "a generator or coroutine function; return a value instead of yielding "
                       "it")
    return fn


def _where(fn: Any) -> str:
    """`file.py, line 12`: where a function's def is (the last function a chain of
    functools.wraps wrappers wraps)."""
    while getattr(fn, "__wrapped__", None) is not None:
        fn = fn.__wrapped__
    code = getattr(fn, "__code__", None)
    return f"{code.co_filename}, line {code.co_firstlineno}" if code is not None else "?"


def _local_names(code: types.CodeType) -> frozenset:
    return frozenset(code.co_varnames) | frozenset(code.co_cellvars)


def defaults_of(fn: types.FunctionType) -> dict:
    """Each parameter with a default and its value, as Python computed it when the def ran
    (`__defaults__`, `__kwdefaults__`)."""
    code = fn.__code__
    out = dict(zip(reversed(code.co_varnames[:code.co_argcount]),
                   reversed(fn.__defaults__ or ()), strict=False))
    out.update(getattr(fn, "__kwdefaults__", None) or {})
    return out


def defaults_key(fn: Any) -> tuple:
    """What code compiled for fn holds of its defaults' values, as a hash of it across runs
    sees them: a Python number, string, None or tuple of them by its type and repr (the
    code writes it as a literal), anything else by its type (code holding one is not kept
    on disk)."""
    try:
        values = defaults_of(fn)
    except AttributeError:  # not a Python function: no defaults of its own
        return ()
    return tuple((name, type(v).__name__, repr(v) if _is_literal(v) else None)
                 for name, v in sorted(values.items()))


def _is_literal(value: object) -> bool:
    if type(value) is tuple:
        return all(_is_literal(v) for v in value)
    return type(value) in (int, float, complex, bool, str, bytes, type(None))


def parse(fn: Any, bindings: dict | None = None) -> Source:
    """Parse a function object (or a `Nested` function) into a `Source`; `bindings` fixes
    parameters that hold functions, so calls through them resolve."""
    if isinstance(fn, Nested):
        return fn.source(bindings or {})
    src = _parse(fn)
    src.bindings = dict(bindings or {})
    return src


def is_lambda(fn: Any) -> bool:
    """Whether `fn` is a function a lambda expression made."""
    return isinstance(fn, types.FunctionType) and fn.__code__.co_name == "<lambda>"


def function_name(fn: Any) -> str:
    """The name emitted code names a function's code by: its `__name__`; for a lambda, the
    name it is assigned to (`act = lambda ...`), else `lambda`."""
    if not is_lambda(fn):
        return fn.__name__
    try:
        filename, lines = _lambda_source(fn)
        return _find_lambda(fn.__code__, filename, "".join(lines))[1]
    except ApiError:
        return LAMBDA_NAME  # parse says why, when it reads the lambda


def _namespace(fn: types.FunctionType) -> dict:
    """The function's globals, its closure cells over them."""
    namespace = dict(fn.__globals__)
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__, strict=True):
            with contextlib.suppress(ValueError):  # empty: defined later in the enclosing scope
                namespace[name] = cell.cell_contents
    return namespace


def _parse(fn: Any) -> Source:
    fn = _unwrap(fn)
    if is_lambda(fn):
        return _parse_lambda(fn)
    try:
        lines, first_line = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError) as exc:
        raise ApiError(
            f"cannot read the source of {fn.__qualname__} ({exc}); adjoint needs a function "
            "defined in a file or registered in linecache"
        ) from None
    raw = "".join(lines)
    src = textwrap.dedent(raw)
    dedent = len(lines[0]) - len(lines[0].lstrip()) if src != raw else 0
    try:
        module = cst.parse_module(src)
    except cst.ParserSyntaxError as exc:
        raise UnsupportedSyntax(f"cannot parse the source of {fn.__qualname__}: {exc.message}",
                                filename, first_line + exc.raw_line - 1, exc.raw_column,
                                lines[exc.raw_line - 1] if exc.raw_line <= len(lines) else ""
                                ) from None
    funcdef = next((s for s in module.body if isinstance(s, cst.FunctionDef)), None)
    if funcdef is None or funcdef.name.value != fn.__name__:
        raise ApiError(f"could not find the definition of {fn.__qualname__} in {filename}")
    return Source(fn, filename, first_line, dedent, module, funcdef, _namespace(fn),
                  _local_names(fn.__code__), code_object=fn.__code__)




def _parse_lambda(fn: types.FunctionType) -> Source:
    """A lambda as a def with its parameters and `return <body>`, named for the name it is
    assigned to (`objective = lambda ...`), else `lambda`. Its text is read from the file at
    the lambda's own place: its nodes' positions are their places in the file."""
    code = fn.__code__
    filename, lines = _lambda_source(fn)
    node, name = _find_lambda(code, filename, "".join(lines))
    start = lines[node.lineno - 1].encode()
    end = lines[node.end_lineno - 1].encode()
    indent = len(start[:node.col_offset].decode())
    if node.lineno == node.end_lineno:
        text = start[node.col_offset:node.end_col_offset].decode()
    else:
        text = (start[node.col_offset:].decode() + "".join(lines[node.lineno:node.end_lineno - 1])
                + end[:node.end_col_offset].decode())
    # "(" on a line of its own, then the lambda at its line and column: the module's line k
    # is the file's line first_line + k - 1, its columns the file's
    module_text = "(\n" + " " * indent + text + ")\n"
    first_line = node.lineno - 1
    try:
        module = cst.parse_module(module_text)
    except cst.ParserSyntaxError as exc:
        line = first_line + exc.raw_line - 1
        raise UnsupportedSyntax(f"cannot parse the lambda at {filename}:{node.lineno}: "
                                f"{exc.message}", filename, line, exc.raw_column,
                                linecache.getline(filename, line)) from None
    lam = module.body[0].body[0].value
    if not isinstance(lam, cst.Lambda):
        raise ApiError(f"could not read the lambda at {filename}:{node.lineno}")
    ret = cst.Return(lam.body)
    stmt = cst.SimpleStatementLine([ret])
    block = cst.IndentedBlock([stmt])
    funcdef = cst.FunctionDef(cst.Name(name), lam.params, block)
    stand_ins = {funcdef: lam, block: lam.body, stmt: lam.body, ret: lam.body}
    return Source(fn, filename, first_line, 0, module, funcdef, _namespace(fn),
                  _local_names(code), code_object=code, stand_ins=stand_ins, anchor=lam)


class Nested:
    """A function defined inside another (a def, or a lambda given a name), compiled as a
    module-level function whose free variables become keyword-only parameters."""

    def __init__(self, parent: Source, funcdef: cst.FunctionDef, code: types.CodeType | None,
                 free: tuple[str, ...]):
        self.parent, self.funcdef, self.code, self.free = parent, funcdef, code, free
        self.__name__ = self.__qualname__ = funcdef.name.value
        self.__module__ = getattr(parent.fn, "__module__", None)

    def params(self) -> list[str]:
        p = self.funcdef.params
        return [x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)] + list(
            self.free)

    def positional_count(self) -> int:
        p = self.funcdef.params
        return len(p.posonly_params) + len(p.params)

    def lifted(self) -> cst.FunctionDef:
        """The def with its free variables as keyword-only parameters."""
        extra = [cst.Param(cst.Name(n)) for n in self.free]
        params = self.funcdef.params
        return self.funcdef.with_changes(params=params.with_changes(
            kwonly_params=(*params.kwonly_params, *extra),
            star_arg=params.star_arg if (params.kwonly_params or not extra
                                         or isinstance(params.star_arg, cst.Param))
            else cst.ParamStar()), decorators=())

    def source(self, bindings: dict) -> Source:
        funcdef = self.lifted()
        local = (_local_names(self.code) if self.code is not None else frozenset()) | set(
            self.free)
        src = Source(self.parent.fn, self.parent.filename, self.parent.first_line,
                     self.parent.dedent, self.parent.module, funcdef, dict(self.parent.namespace),
                     frozenset(local), self.parent._positions, tuple(self.free), dict(bindings),
                     self.code)
        return src


def code_of(parent_code: types.CodeType | None, name: str, index: int) -> types.CodeType | None:
    """The code object of the index-th function called `name` defined in `parent_code`."""
    if parent_code is None:
        return None
    found = [c for c in parent_code.co_consts if isinstance(c, types.CodeType)
             and c.co_name == name]
    return found[index] if index < len(found) else None
