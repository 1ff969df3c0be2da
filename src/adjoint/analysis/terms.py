"""terms: the symbolic shapes of names (equal terms, equal shapes), where kinds.py tells
numbers, and dims.py concrete shapes where the code is specialized on them."""

from __future__ import annotations

import numpy as np

from .. import ir, rules
from ..ir import Assign, Const, Name, Unpack
from . import dims
from .dataflow import BOTTOM, solve
from .kinds import ELEMENTWISE_LIKE, LIKE_METHODS, index_kinds
from .memo import per_version


def index_term(base: object, index: ir.Index, kind: dict[str, str],
               ints: dict | None = None) -> object | None:
    """The shape term of base[index], or None when this analysis cannot tell.

    Each index item becomes one operation on an axis: 'int' drops it, 'new' inserts one,
    and a slice with constant bounds keeps it at a length that depends only on its key:
    [a:-c], [a:] and [:-c] keep n - (a + c) of n entries (clipped at 0), so u[:-2], u[1:-1]
    and u[2:] have one shape; other constant slices are equal only to themselves."""
    if base in (BOTTOM, "scalar"):
        return None
    if dims.is_dims(base):
        made = dims.index_dims(base[1], index, ints or {}, kind)
        return ("dims", made) if made is not None else None
    ops = []
    for item in index.items:
        if dims.int_item(item, kind):
            ops.append("int")
        elif item == ir.NEWAXIS:
            ops.append("new")
        elif isinstance(item, ir.Slice):
            key = _slice_key(item)
            if key is None:
                return None
            ops.append(key)
        else:
            return None
    if isinstance(base, tuple) and base[0] == "index" and all(op == "int" for op in base[2]) \
            and all(op == "int" for op in ops):
        return ("index", base[1], base[2] + tuple(ops))
    return ("index", base, tuple(ops))


def _slice_key(item: ir.Slice):
    bounds = []
    for b in (item.lower, item.upper, item.step):
        if b is None:
            bounds.append(None)
        elif isinstance(b, Const) and isinstance(b.value, int) and not isinstance(b.value, bool):
            bounds.append(b.value)
        else:
            return None
    lo, hi, step = bounds
    if step not in (None, 1):
        return ("exact", lo, hi, step)
    lo = lo or 0
    if lo >= 0 and (hi is None or hi < 0):
        return ("drop", lo - (hi or 0))
    return ("exact", lo, hi, 1)


def _operation_term(s: Assign, ts: list, ints: dict | None) -> object | None:
    """The shape term of what s computes from operands of terms `ts`: an elementwise
    operation's is its operand's, a broadcasting one's the larger; with concrete shapes
    (`ints` not None), what dims.made_dims works out."""
    p, args = s.prim, s.args
    if p.kind == "copy":
        return ts[0]
    elementwise = p.kind == "unary" or (p.kind == "call" and (
        (isinstance(p.key, np.ufunc) and p.key.nin == 1) or p.key in ELEMENTWISE_LIKE
        or getattr(p.key, "__module__", None) == "math")) or (
        p.kind == "method" and p.spelling in LIKE_METHODS)
    if elementwise and len(args) >= 1 and not s.kwargs:
        return ts[0]
    if p.kind in ("binop", "call") and p.key is not None and rules.broadcasts(p.key) and \
            len(args) == 2 and not s.kwargs:
        a, b = ts
        if a == b or b == "scalar":
            return a
        if a == "scalar":
            return b
        if dims.is_dims(a) and dims.is_dims(b) and dims.broadcast(a[1], b[1]) is not None:
            return ("dims", dims.broadcast(a[1], b[1]))
    if ints is not None:
        known = {id(a): term[1] for a, term in zip(args, ts, strict=True) if dims.is_dims(term)}
        made = dims.made_dims(s, lambda a: known.get(id(a)), ints)
        if made is not None:
            return ("dims", made)
    return None


def _read_term(s: Assign, base: object, term: dict, kind: dict, ints: dict,
               integral: set) -> object | None:
    """The shape term of base[index]: an item of an integer array, 0-d, indexes as an int
    does; integer arrays of known shapes pick as NumPy's advanced indexing does."""
    at = {a.id: "int" for a in s.index.atoms() if isinstance(a, Name) and a.id in integral
          and term.get(a.id) == ("dims", ())}
    picks = [term.get(a.id) if isinstance(a, Name) and a.id in integral else None
             for a in s.index.items]
    if dims.is_dims(base) and picks and all(dims.is_dims(t) for t in picks):
        made = dims.fancy_dims(base[1], [t[1] for t in picks])
        return ("dims", made) if made is not None else None
    return index_term(base, s.index, {**kind, **at} if at else kind, ints)


def _item_term(s: Unpack, name: str, value_term: object) -> object:
    """The term of target `name` of s, from its value's: ('items', shapes) of a call's
    result gives each its shape; any other a term of its own."""
    items = value_term[1] if isinstance(value_term, tuple) and value_term[0] == "items" else ()
    k = s.targets.index(name)
    if len(items) == len(s.targets) and items[k] is not None:
        return ("dims", items[k])
    return ("def", id(s), name)


def shapes(fn: ir.Function, kind: dict[str, str], lists: set[str] | frozenset = frozenset(),
           given: tuple = (), results: tuple = (), pending: tuple = ()) -> dict[str, object]:
    """The shape term of each name: shapes_and_ints."""
    return shapes_and_ints(fn, kind, lists, given, results, pending)[0]


@per_version
def shapes_and_ints(fn: ir.Function, kind: dict[str, str],
                    lists: set[str] | frozenset = frozenset(), given: tuple = (),
                    results: tuple = (), pending: tuple = ()) -> tuple[dict, dict]:
    """The shape terms (`_shapes`) and the ints known (dims.known_ints), worked out
    together: an int read off a shape inside a loop (`b = h.shape[0]`, h of known shape)
    is known, and a slice it bounds has a known shape, which may make more ints known."""
    if not given:
        return _shapes(fn, kind, lists, given, results, pending, {}), {}
    given_dims, given_ints = dims.split_given(given)
    first = ints = dims.known_ints(fn, given_dims, given_ints)
    bound = {s.target for s in ir.walk(fn.body) if isinstance(s, Assign) and s.target and (
        kind.get(s.target) == "int" or s.prim.kind == "attr" and s.prim.spelling == "shape")}

    def derived(term: dict) -> dict:
        shaped = {n: t[1] for n, t in term.items() if dims.is_dims(t)}
        return dims.known_ints(fn, given_dims, given_ints, shaped)

    for _ in range(6):  # optimistic: what an int still unknown bounds is not known yet
        more = derived(_shapes(fn, kind, lists, given, results, pending, ints,
                               frozenset(bound - set(ints))))
        if more == ints:
            break
        ints = more
    term = _shapes(fn, kind, lists, given, results, pending, ints)
    if ints is first or derived(term) == ints:  # the ints assumed are the ints found
        return term, ints
    return _shapes(fn, kind, lists, given, results, pending, first), first


def _shapes(fn: ir.Function, kind: dict[str, str], lists, given: tuple, results: tuple,
            pending: tuple, ints: dict, waiting: frozenset = frozenset()) -> dict[str, object]:
    """A shape term for each name: names with equal terms surely have equal shapes.

    'scalar' is shape (); ('param', p) is parameter p's shape; ('row', k, T) is T's shape
    without its first k axes (x[i] for an int i); a name whose definitions disagree, or
    come from an operation this analysis does not follow, gets a term of its own, and so
    does an item of one of `lists` (names that may hold lists: their items' shapes differ).
    `given`: (parameter, shape) of the array parameters whose shapes the code is specialized
    on; from them ('dims', shape) terms are concrete shapes (dims.py). What a call of the
    user's function returns has the shape its linked adjoint reports (`results`: {id(call):
    shape} for calls not linked yet): a shape, or ('items', shapes) of a tuple; a call in
    `pending` (ids of calls not linked yet) is taken to return what agrees with the rest,
    which link.py confirms once they are linked."""
    given_dims, _ = dims.split_given(given)
    integral = dims.int_arrays(fn, given, kind) if given else set()
    index_kind = index_kinds(fn, kind)
    returned = dict(results)
    term: dict[str, object] = {}
    number = ("dims", ()) if given else "scalar"  # a number's shape, as a 0-d array's
    for p in fn.params:
        term[p.name] = number if kind.get(p.name) in ("int", "scalar") else (
            ("dims", given_dims[p.name]) if p.name in given_dims else ("param", p.name))

    def t(a) -> object:
        if isinstance(a, Const):
            return number if isinstance(a.value, (int, float)) else ("const", id(a))
        if isinstance(a, Name):
            if kind.get(a.id) in ("int", "scalar"):
                return number
            return term.get(a.id, BOTTOM)
        return ("expr", id(a))

    def infer(s) -> object:
        if isinstance(s, Unpack) and isinstance(s.value, Name) and (
                term.get(s.value.id, BOTTOM) == BOTTOM or (isinstance(
                    term.get(s.value.id), tuple) and term[s.value.id][0] == "items")):
            return term.get(s.value.id, BOTTOM)  # join takes each target's item
        if not isinstance(s, Assign):
            return ("def", id(s))
        if id(s) in pending:
            return BOTTOM
        made = s.adjoint.dims if s.adjoint is not None else returned.get(id(s))
        if made is not None:
            return made if made and made[0] == "items" else ("dims", made)
        ts = [t(a) for a in s.args]
        if BOTTOM in ts:
            return BOTTOM
        if s.target and kind.get(s.target) in ("int", "scalar"):
            return number
        if waiting and ir.names((*s.index.atoms(),) if s.index else (*s.args, *(
                v for _, v in s.kwargs))) & waiting:
            return BOTTOM  # an int or shape that may yet be known
        if s.prim.kind == "index" and not (isinstance(s.args[0], Name) and s.args[0].id in lists):
            return _read_term(s, ts[0], term, index_kind, ints, integral) or ("def", id(s))
        if s.prim.kind == "tuple" and ts and all(dims.is_dims(x) for x in ts):
            return ("items", tuple(x[1] for x in ts))  # unpacked, each item has its shape
        return _operation_term(s, ts, ints if given else None) or ("def", id(s))

    def join(old, new_term, name: str, s) -> object:
        if isinstance(s, Unpack) and new_term != BOTTOM:  # each item: a shape of its own
            new_term = _item_term(s, name, new_term)
        elif isinstance(s, Assign) and name == s.tape:  # what a call's _fwd saved: a tuple
            new_term = ("def", id(s), name)
        if old == new_term or new_term == BOTTOM:
            return old
        return new_term if old == BOTTOM else ("top", name)

    return solve([s for s in ir.walk(fn.body) if ir.defs(s)], infer, join, term)
