"""Records: named tuples, dataclasses and plain objects whose fields hold floats or arrays.

A record differentiated is a node of the trees `tree_map` walks, like a dict. Its fields that
hold no floats (ints, strings, None, objects with no float inside) are static: they carry no
derivative, and a gradient keeps their values as the argument holds them. The adjoint of a
record, while the emitted code sums it, is a dict of its fields (a list for a named tuple);
`rebuild` gives it the argument's type at the end: a named tuple or dataclass of the same
type, or a dict of the float attributes of a plain object.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import enum
import inspect
import textwrap
import types
from typing import Any

import numpy as np

from ..errors import InternalError, UnsupportedArgument

# types whose objects are never records, whatever attributes they carry
_NOT_RECORDS = (type, types.ModuleType, types.FunctionType, types.MethodType,
                types.BuiltinFunctionType, np.ndarray, np.generic, np.dtype, str, bytes,
                int, float, complex, bool, list, dict, set, frozenset, range, slice,
                enum.Enum, BaseException)
_LIBRARIES = frozenset({"builtins", "numpy", "scipy", "adjoint", "functools", "jax", "torch",
                        "cupy", "dask", "array_api_strict"})


def record_fields(x: Any) -> tuple[str, ...] | None:
    """The fields of a record: a named tuple's, a dataclass object's, or the attributes of an
    object of the user's own class (in its __dict__); None for anything else."""
    t = type(x)
    if isinstance(x, tuple):
        fields = getattr(t, "_fields", None)
        return tuple(fields) if isinstance(fields, tuple) else None
    if isinstance(x, _NOT_RECORDS):
        return None
    if dataclasses.is_dataclass(t):
        return tuple(f.name for f in dataclasses.fields(x))
    attrs = getattr(x, "__dict__", None)
    if not isinstance(attrs, dict) or (t.__module__ or "").split(".")[0] in _LIBRARIES or any(
            hasattr(x, a) for a in ("__array__", "__array_function__", "__array_namespace__",
                                    "dtype")):
        return None
    return tuple(attrs)


def is_record(x: Any) -> bool:
    return record_fields(x) is not None


def is_object_record(x: Any) -> bool:
    """A record that is no tuple: a dataclass or plain object (its adjoint sums as a dict)."""
    return not isinstance(x, (tuple, list, dict, float, np.ndarray)) and is_record(x)


def carries_floats(x: Any, _seen: frozenset = frozenset()) -> bool:
    """Whether a value holds a float somewhere: a number, a float or complex array, or a
    list, tuple, dict or record holding one."""
    if isinstance(x, (bool, int, np.integer, str, bytes, type(None))):
        return False
    if isinstance(x, (float, complex, np.inexact)):
        return True
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        try:
            return np.dtype(dtype).kind in "fc"
        except TypeError:
            return True  # an array type NumPy cannot read: refused where it is checked
    if id(x) in _seen:  # objects that refer to each other
        return False
    seen = _seen | {id(x)}
    if isinstance(x, dict):
        return any(carries_floats(v, seen) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(carries_floats(v, seen) for v in x)
    fields = record_fields(x)
    return fields is not None and any(carries_floats(getattr(x, f), seen) for f in fields)


def differentiable(x: Any) -> tuple[str, ...]:
    """The fields of a record that carry derivatives (hold floats)."""
    return tuple(f for f in record_fields(x) or () if carries_floats(getattr(x, f)))


def field_of(r: Any, x: Any, name: str, k: int) -> Any:
    """Field `name` (at position k in the record x) of r, a tree read along x: a dict or a
    record by name (0.0 where it lacks the field: a zero adjoint), a list by position."""
    if isinstance(r, dict):
        return r.get(name, 0.0)
    if isinstance(r, list) or (isinstance(r, tuple) and not hasattr(r, name)):
        return r[k]
    return getattr(r, name, 0.0)


def rebuild(x: Any, values: dict[str, Any], lists: bool) -> Any:
    """The adjoint of the record x holding `values` at its fields that carry derivatives:
    with lists=True the form the emitted code sums (a list for a named tuple, else a dict);
    else x's type, its static fields kept (a plain object: a dict of its float attributes).
    A dataclass is copied and its fields set, so no __init__ or __post_init__ runs on
    gradient values (which may fail a check that a parameter is positive); frozen ones too."""
    if isinstance(x, tuple):
        return [values.get(f, 0.0) for f in x._fields] if lists else x._replace(**values)
    if lists or not dataclasses.is_dataclass(type(x)):
        return dict(values)
    return replaced(x, values)


def replaced(x: Any, values: dict[str, Any]) -> Any:
    """A copy of the record x with `values` at those fields (a named tuple's _replace; else
    a shallow copy whose attributes are set, frozen dataclasses too, running no __init__)."""
    if isinstance(x, tuple):
        return x._replace(**values)
    out = copy.copy(x)
    for name, value in values.items():
        object.__setattr__(out, name, value)
    return out


def as_dict(x: Any) -> dict:
    """The adjoint of a dataclass or plain object as the dict the emitted code sums."""
    if isinstance(x, dict):
        return x
    if not is_record(x) or isinstance(x, tuple):
        raise InternalError(f"a {type(x).__name__} added to the adjoint of a dict or record: "
                            "a bug in adjoint")
    return {f: getattr(x, f) for f in differentiable(x)}


def field_adjoint(g: Any, x: Any, name: str) -> Any:
    """Adjoint of the field read x.name: g at that field, zeros (0.0) at the others; a tuple
    for a named tuple, a dict holding the one field for a dataclass or plain object."""
    fields = record_fields(x)
    if fields is None or name not in fields:
        raise UnsupportedArgument(f"the gradient of the attribute .{name} of a "
                                  f"{type(x).__name__}")
    if isinstance(x, tuple):
        return tuple(g if f == name else 0.0 for f in fields)
    return {name: g}


def constructed_fields(cls: Any) -> tuple[str, ...] | None:
    """The fields a call of a record class binds, one parameter each: a named tuple's, or
    a dataclass's whose generated __init__ only stores its parameters (no __post_init__,
    no field left out of __init__); None for any other class."""
    if not isinstance(cls, type):
        return None
    if issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        made = _defining(cls, "__new__")  # the class namedtuple made, not a subclass's own
        return tuple(cls._fields) if "_fields" in vars(made) and _generated(
            cls.__new__) and cls.__init__ is object.__init__ else None
    if not dataclasses.is_dataclass(cls) or not _checks_only(
            getattr(cls, "__post_init__", None)) or \
            cls.__new__ is not object.__new__ or not _generated(cls.__init__) or \
            not dataclasses.is_dataclass(_defining(cls, "__init__")):
        return None
    fields = dataclasses.fields(cls)
    if any(not f.init for f in fields):
        return None
    return tuple(f.name for f in fields)


def _checks_only(post_init: Any) -> bool:
    """Whether a dataclass's __post_init__ (None: it has none) stores nothing: no attribute
    assigned or deleted, no setattr, no __dict__ written (a check that raises on a bad
    value leaves the fields the arguments)."""
    if post_init is None:
        return True
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(post_init)))
    except (OSError, TypeError, SyntaxError):
        return False
    args = tree.body[0].args.args if tree.body and isinstance(
        tree.body[0], ast.FunctionDef) else []
    me = args[0].arg if args else "self"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (_rooted_at(node.func, me) or any(
                isinstance(a, ast.Name) and a.id == me for a in node.args)):
            return False  # self.fix(), self.w.sort(), helper(self): may store
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [
            node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        if any(isinstance(part, (ast.Attribute, ast.Subscript))
               for t in targets for part in ast.walk(t)):
            return False
        if isinstance(node, ast.Call) and (
                isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr")
                or isinstance(node.func, ast.Attribute) and node.func.attr in (
                    "__setattr__", "__delattr__", "update", "__init__")):
            return False
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            return False
    return True


def _rooted_at(node: ast.AST, name: str) -> bool:
    """Whether an expression is an attribute chain on `name` (self.w.sort)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return isinstance(node, ast.Name) and node.id == name


def _defining(cls: type, name: str) -> type:
    """The class of cls's method resolution order that defines `name`."""
    return next(k for k in cls.__mro__ if name in vars(k))


def _generated(method: Any) -> bool:
    """Whether a method is one the collections or dataclasses module wrote (compiled from a
    string), not the user's."""
    code = getattr(method, "__code__", None)
    return code is not None and code.co_filename == "<string>"


def record_arg_adjoint(g: Any, name: str, k: int) -> Any:
    """The adjoint of the argument a record was built from at its field `name` (the k-th):
    that field of the record's adjoint (a tuple or list for a named tuple, a dict for a
    dataclass, or a record), zero where the adjoint is one."""
    if g is None or (isinstance(g, (int, float)) and g == 0):
        return 0.0
    if isinstance(g, dict):
        return g.get(name, 0.0)
    if isinstance(g, (list, tuple)) and record_fields(g) is None:
        return g[k]
    if record_fields(g) is not None:
        return getattr(g, name)
    raise InternalError(f"the adjoint of a record is a {type(g).__name__}")


def signature(x: Any, _seen: frozenset = frozenset()) -> Any:
    """What the code compiled for a record depends on: its type and, field by field, what
    each holds (a number, an int, an array, a container, a record, something static)."""
    fields = record_fields(x)
    if fields is None:
        return _leaf_kind(x)
    t = type(x)
    name = f"{t.__module__}.{t.__qualname__}"
    if id(x) in _seen:  # objects that refer to each other
        return name
    seen = _seen | {id(x)}
    return (name, tuple((f, signature(getattr(x, f), seen)) for f in fields))


def _leaf_kind(x: Any) -> Any:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, (int, np.integer)):
        return "int"
    if isinstance(x, (float, np.floating)):
        return "scalar"
    if isinstance(x, (list, tuple, dict)):  # code for containers is the same for any items
        return type(x).__name__
    if getattr(x, "dtype", None) is not None:
        return "array"
    return type(x).__name__
