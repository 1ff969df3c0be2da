"""values: which names surely hold arrays, which may hold lists, and where a mask drops an
infinite derivative."""

from __future__ import annotations

import collections
import math
import operator
import random
import re
import types
from collections import defaultdict

import numpy as np

from .. import ir, rules
from .. import parse as parse_
from ..ir import Assign, Const, Name
from .activity import Activity
from .memo import per_version


@per_version
def _annotated(fn: ir.Function, typ: type) -> set[str]:
    params = fn.source.funcdef.params if fn.source is not None else None
    out = set()
    if params is None:
        return out
    for p in [*params.posonly_params, *params.params, *params.kwonly_params]:
        ann = p.annotation
        if ann is not None and getattr(ann.annotation, "value", None) == typ.__name__:
            out.add(p.name.value)
    return out


def elementwise(fn) -> bool:
    """Whether entry i of the result depends on entry i of the inputs only (a ufunc, not a
    generalized one as np.matmul and np.vecdot are)."""
    if isinstance(fn, np.ufunc):
        return fn.signature is None
    return fn in MASKING or getattr(fn, "__module__", None) in (
        "math", "_operator", "operator") and fn is not operator.matmul


def may_be_infinite(formula, fn=None) -> bool:
    """Whether a rule's contribution may be infinite or NaN where g is 0 at a finite input:
    any but g itself, g times one of the inputs, and the slopes of functions whose slope is
    bounded everywhere (tanh, sin, cos, arctan)."""
    if fn is not None and _hashable(fn) and fn in BOUNDED_SLOPES:
        return False
    return not (isinstance(formula, str) and re.fullmatch(r"-?g( \* (?!ans\b)[a-z_]\w*)?",
                                                           formula))


# elementwise functions whose derivative is finite at every finite input
BOUNDED_SLOPES = {np.tanh, np.sin, np.cos, np.arctan, math.tanh, math.sin, math.cos, math.atan}


# Their adjoints are zero where an input was not selected: np.where's other branch, the
# clipped entries of np.clip, the smaller side of np.maximum.
MASKING = {np.where, np.clip, np.maximum, np.minimum, np.fmax, np.fmin}


# calls whose adjoint is exactly zero, by structure, at the entries they drop
SELECTING = {np.tril, np.triu, np.diag, np.diagonal, np.take, np.take_along_axis, np.extract,
             np.compress, np.select, np.trace, np.delete}


@per_version
def masked(fn: ir.Function, active: set[str] = frozenset(),
           seeded: frozenset = frozenset()) -> set[str]:
    """Names whose adjoint may hold structural zeros: the inputs of a masking call
    (np.where, np.clip, np.maximum), of a selection (an index read, np.tril, np.take) and of
    a product with a value that carries no derivative (a mask), the names in `seeded`, and,
    going upstream, the inputs of elementwise operations on them."""
    found: set[str] = set(seeded)
    changed = True
    while changed:
        changed = False
        for s in ir.walk(fn.body):
            if not (isinstance(s, Assign) and s.prim.kind in ("call", "binop", "unary",
                                                               "method", "copy", "index")):
                continue
            key = s.prim.key
            selects = s.prim.kind == "index" or (key is not None and _hashable(key) and (
                key in MASKING or key in SELECTING)) or (
                key in (operator.mul, np.multiply) and any(
                    isinstance(a, Name) and a.id not in active for a in s.args))
            source = selects or (
                s.target in found and (s.prim.kind == "copy" or (
                    key is not None and elementwise(key))))
            if source:
                for a in s.args:
                    if isinstance(a, Name) and a.id not in found:
                        found.add(a.id)
                        changed = True
    return found


def returned(fn: ir.Function) -> frozenset:
    """The name fn returns, and the items of a tuple it builds to return."""
    result = fn.body[-1].value
    if not isinstance(result, Name):
        return frozenset()
    items = {a.id for s in ir.walk(fn.body) if isinstance(s, Assign) and s.target == result.id
             and s.prim.kind == "tuple" for a in s.args if isinstance(a, Name)}
    return frozenset({result.id} | items)


def _hashable(key) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


CONTAINER_MAKERS = (list, tuple, collections.defaultdict, collections.OrderedDict)


def makes_container(s: Assign) -> bool:
    """Whether s makes a new list, tuple or dict (a display, list(...), defaultdict(float))."""
    return s.prim.kind in ("tuple", "list", "dict") or (
        s.prim.kind == "call" and s.prim.key in CONTAINER_MAKERS)


@per_version
def sequences(fn: ir.Function, params=frozenset()) -> set[str]:
    """Names that hold tuples or lists (their adjoints add item by item); `params` are the
    parameters known to."""
    found = set(params)
    for s in ir.walk(fn.body):
        if isinstance(s, Assign) and s.target and makes_container(s):
            found.add(s.target)
        elif isinstance(s, Assign) and s.prim.kind == "index" and isinstance(s.args[0], Name) \
                and any(isinstance(i, Const) and isinstance(i.value, str) for i in s.index.items):
            found.add(s.args[0].id)  # read by a string key: a dict
        elif isinstance(s, ir.Unpack) and isinstance(s.value, Name):
            found.add(s.value.id)
        elif isinstance(s, ir.Append):
            found.add(s.target)
        elif isinstance(s, Assign) and rules.is_field(s.prim) and isinstance(s.args[0], Name):
            found.add(s.args[0].id)  # r.Q, p.stiffness: r and p are records
    changed = True
    while changed:
        changed = False
        for s in ir.walk(fn.body):
            if isinstance(s, Assign) and s.prim.kind == "copy" and isinstance(s.args[0], Name):
                pair = {s.target, s.args[0].id}
                if pair & found and not pair <= found:
                    found |= pair
                    changed = True
            elif isinstance(s, Assign) and s.prim.kind == "index" and s.target in found and \
                    isinstance(s.args[0], Name) and s.args[0].id not in found:
                found.add(s.args[0].id)  # an item is a container: so is what holds it
                changed = True
            elif isinstance(s, Assign) and s.prim.kind == "binop" and s.target not in found \
                    and s.prim.key is operator.add and ir.names(s.args) & found:
                found.add(s.target)  # xs + ys of lists: a list
                changed = True
            elif isinstance(s, Assign) and s.prim.kind == "index" and s.target not in found \
                    and isinstance(s.args[0], Name) and s.args[0].id in found and any(
                        isinstance(i, ir.Slice) for i in s.index.items):
                found.add(s.target)  # a slice of a list is a list
                changed = True
    return found


# builtins making iterators: a for loop's iterable, written out by normalize; as values their
# items carry derivatives no rule follows
ITERATORS = {zip, enumerate, map, filter, reversed, iter, sorted}


# functions of the libraries with rules that return a tuple or list of arrays
CONTAINER_RESULTS = {np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit, np.meshgrid,
                     np.broadcast_arrays, np.linalg.qr, np.linalg.eigh, np.linalg.svd,
                     np.linalg.slogdet, np.linalg.eig, np.histogram, np.gradient,
                     getattr(np, "unstack", np.split)}


NUMBER_BUILTINS = {abs, pow, float, sum, max, min, len, int, round}


@per_version
def arrays(fn: ir.Function, kinds: dict, params=frozenset()) -> set[str]:
    """Names that surely hold an array or a number, never a list, tuple or dict, so their
    adjoints add with `+`: numbers, what NumPy calls and arithmetic on such values return,
    items and attributes of arrays; `params` are the parameters known to hold arrays."""
    defs: dict[str, list] = defaultdict(list)
    for s in ir.walk(fn.body):
        for name in ir.defs(s):
            defs[name].append(s)
    found = set(params) | {n for n, k in kinds.items() if k in ("int", "scalar")}
    found |= {n for n in defs if n not in {p.name for p in fn.params}}
    changed = True
    while changed:
        changed = False
        for name in sorted(found):
            if kinds.get(name) in ("int", "scalar"):
                continue
            if not all(_makes_array(s, name, found, kinds, defs) for s in defs.get(name, ())):
                found.discard(name)
                changed = True
    return found


def _makes_array(s, name: str, found: set, kinds: dict, defs: dict) -> bool:
    """Whether statement s, binding `name`, surely binds an array or a number when the names
    in `found` do."""
    def arrayish(a) -> bool:
        return not isinstance(a, Name) or a.id in found

    if isinstance(s, ir.For):
        return name == s.trips or arrayish(s.iter)
    if isinstance(s, ir.Unpack):
        made = defs.get(s.value.id, ()) if isinstance(s.value, Name) else ()
        k = s.targets.index(name)
        if made and all(isinstance(d, Assign) and d.prim.kind == "tuple" and d.target ==
                        s.value.id and len(d.args) == len(s.targets) for d in made):
            return all(arrayish(d.args[k]) for d in made)  # `a, b = t` of `t = (x, y)`
        return arrayish(s.value)
    if not isinstance(s, Assign) or name != s.target:
        return name == getattr(s, "trips", None)
    p = s.prim
    if p.kind in ("unary", "compare"):
        return True  # on a list: an error, or a bool
    if p.kind == "binop":  # list + array is an array; list + list and list * 2 are lists
        return any(isinstance(a, Name) and a.id in found and kinds.get(a.id) != "int" or (
            isinstance(a, Const) and isinstance(a.value, float)) for a in s.args)
    if p.kind in ("copy", "index", "attr"):
        return all(arrayish(a) for a in s.args)
    if p.kind == "method":
        return bool(s.args) and arrayish(s.args[0]) and p.spelling.split(".")[-1] != "tolist"
    if p.kind != "call" or s.adjoint is not None or p.key is None:
        return s.adjoint is not None and s.adjoint.result in ("scalar", "int", "array")
    if isinstance(p.key, np.ufunc):
        return p.key.nout == 1
    if p.key in NUMBER_BUILTINS:
        return True
    module = getattr(p.key, "__module__", None) or ""
    return module.split(".")[0] in ("numpy", "scipy", "math") and p.key not in CONTAINER_RESULTS \
        and not (p.key in (np.atleast_1d, np.atleast_2d, np.atleast_3d) and len(s.args) > 1)




def is_user_function(obj) -> bool:
    """Whether calls of obj are differentiated through its source: a function of the
    user's, or a helper of adjoint's runtime with no rule (one an emitted gradient calls,
    met again when that gradient is differentiated)."""
    if isinstance(obj, parse_.Nested):
        return True
    if not isinstance(obj, types.FunctionType) or rules.lookup(obj) is not None:
        return False
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("adjoint.runtime"):  # (not the calls through values: compiled as
        return not rules.is_passive(obj) and not obj.__name__.startswith("call_")  # they run)
    top = module.split(".")[0]
    return top not in ("numpy", "scipy", "math", "builtins", "adjoint")


# what adjoint differentiates an index read of (the index itself carries no derivative)
SUBSCRIPTABLE = (np.ndarray, np.generic, list, tuple, dict, str, bytes, int, float, range)


def refuse_opaque_subscripts(fn: ir.Function, act: Activity) -> None:
    """Refuse obj[i] where obj, a global, is no array, list, tuple or dict (np.s_, np.mgrid,
    an object of the user's class) and i carries a derivative: adjoint cannot know what the
    subscript computes, and would give it none. (np.r_[...] and np.c_[...] written so are
    calls with a rule, normalize.index_concat.)"""
    bound: dict[str, list] = defaultdict(list)  # name -> the constants assigned to it
    for s in ir.walk(fn.body):
        for name in ir.defs(s):
            bound[name].append(s.args[0] if isinstance(s, Assign) and s.prim.kind == "copy"
                               and isinstance(s.args[0], Const) else None)
    for s in ir.walk(fn.body):
        if not (isinstance(s, Assign) and s.prim.kind == "index" and s.target in act.useful
                and any(isinstance(a, Name) and a.id in act.varied for a in s.index.atoms())):
            continue
        base = s.args[0]
        label = base.id if isinstance(base, Name) else base.text
        if isinstance(base, Name) and len(bound.get(base.id, ())) == 1:
            base = bound[base.id][0] or base  # a name only ever holding one global
        if isinstance(base, Const) and not isinstance(base.value, SUBSCRIPTABLE):
            hint = f"; write {base.text}[...] itself" if isinstance(
                base.value, rules.AXIS_CONCATENATOR) else ""
            kind = type(base.value).__name__
            raise fn.source.error(s.node, f"{label}[...] reads an index that carries a "
                                  f"derivative, but {label} is of type {kind}, not an array, "
                                  "list, tuple or dict: adjoint cannot differentiate its "
                                  f"subscript{hint}")


def stateful(fn) -> bool:
    """Whether fn draws from (or seeds) a random generator's state: NumPy's global one
    (np.random.rand), a Generator's or RandomState's method, Python's random module. A draw
    whose value is not read still moves the state the next draw reads, and two draws with
    the same arguments give different values."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, (np.random.Generator, np.random.RandomState, np.random.BitGenerator,
                          random.Random)):
        return True
    module = getattr(fn, "__module__", None) or ""
    return module == "random" or module.startswith("numpy.random")
