"""activity: what carries derivatives, what may share memory, what must be recorded.

`analyze` finds the active names: those that depend on a `wrt` parameter
(varied) and that the result depends on (useful). Only active names get
adjoints. Integers, shapes, `len`, comparisons and constants are passive.
The analysis is per name, over the whole function: conservative where one name
holds values of different kinds.

`check_writes` refuses an in-place write `y[i] = v` while another name that
may share y's memory is still to be read: its derivative would be lost.

`kinds` knows which names hold Python or NumPy scalars and which hold ints, so
the reverse stage can skip broadcasting reductions and index adjoints in place.

`to_be_recorded` decides, from what the reverse sweep reads, which overwritten
values must be kept: renamed at the top level, pushed on a stack in loops.
"""

from __future__ import annotations

import math
import operator
import weakref
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from . import ir, naming, rules
from . import normalize as normalize_
from . import parse as parse_
from .errors import AdjointError, UnsupportedSyntax
from .ir import Assign, Const, For, If, Name, SetItem, Unpack, While

# Calls whose result may share memory with their first argument.
VIEWS = {np.reshape, np.ravel, np.transpose, np.squeeze, np.expand_dims, np.asarray,
         np.swapaxes, np.moveaxis, np.diagonal, np.broadcast_to, np.atleast_1d, np.atleast_2d,
         np.real, np.imag}
VIEW_METHODS = {"reshape", "ravel", "transpose", "squeeze", "view", "swapaxes", "diagonal"}
# functions returning a list (or tuple) of views of their first argument
SPLITS = {np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit, np.broadcast_arrays} | (
    {np.unstack} if hasattr(np, "unstack") else set())


@dataclass
class Activity:
    varied: set
    useful: set

    @property
    def active(self) -> set:
        return self.varied & self.useful


def edges(s: ir.Stmt) -> list[tuple[str, str]]:
    """(source, target) pairs along which a derivative can flow in one statement."""
    out = []
    if isinstance(s, Assign) and s.target is not None:
        p = s.prim
        if p.kind in ("compare",) or (p.key is not None and rules.is_passive(p.key)):
            return []
        if p.kind == "attr" and p.spelling in rules.PASSIVE_ATTRS:
            return []
        sources = [s.args[0]] if p.kind == "index" else [*s.args, *(a for _, a in s.kwargs)]
        out = [(a.id, s.target) for a in sources if isinstance(a, Name)]
    elif isinstance(s, (SetItem, ir.Append)) and isinstance(s.value, Name):
        out = [(s.value.id, s.target)]
    elif isinstance(s, Unpack) and isinstance(s.value, Name):
        out = [(s.value.id, t) for t in s.targets]
    return out


def analyze(fn: ir.Function, wrt: set[str]) -> Activity:
    """Varied and useful names of `fn` differentiated with respect to `wrt`."""
    forward, backward = defaultdict(set), defaultdict(set)
    returned = set()
    classes = aliases(fn)
    for s in ir.walk(fn.body):
        for a, b in edges(s):
            targets = classes.members(b) if isinstance(s, (SetItem, ir.Append)) else {b}
            for t in targets:
                forward[a].add(t)
                backward[t].add(a)
        if isinstance(s, ir.Return) and isinstance(s.value, Name):
            returned.add(s.value.id)
    return Activity(_closure(set(wrt), forward), _closure(returned, backward))


def _closure(start: set, graph: dict) -> set:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# ---------------------------------------------------------------- aliasing


class Classes:
    """Union-find over names that may share memory."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        while self.parent.get(x, x) != x:
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def members(self, x: str) -> set[str]:
        if not hasattr(self, "_groups"):
            self._groups: dict[str, set] = {}
            for n in {*self.parent, *self.parent.values()}:  # roots are only values
                self._groups.setdefault(self.find(n), set()).add(n)
        return self._groups.get(self.find(x), set()) | {x}


def aliases(fn: ir.Function) -> Classes:
    classes = Classes()
    for s in ir.walk(fn.body):
        if isinstance(s, Assign) and s.target and s.args and isinstance(s.args[0], Name):
            p = s.prim
            view = p.kind in ("copy", "index") or (p.kind == "attr" and p.spelling in (
                "T", "real", "imag")) or (p.kind == "call" and p.key in VIEWS) or (
                p.kind == "method" and p.spelling in VIEW_METHODS)
            if view or (p.kind == "call" and p.key in SPLITS):
                classes.union(s.target, s.args[0].id)
            if p.kind in ("tuple", "list", "dict"):
                for a in s.args:
                    if isinstance(a, Name):
                        classes.union(s.target, a.id)
        if isinstance(s, Assign) and s.tape:  # what a helper saves may hold its result and
            classes.union(s.tape, s.target)   # its arguments themselves
            for a in s.args:
                if isinstance(a, Name):
                    classes.union(s.tape, a.id)
        elif isinstance(s, Unpack) and isinstance(s.value, Name):
            for t in s.targets:
                classes.union(t, s.value.id)
        elif isinstance(s, ir.Append) and isinstance(s.value, Name):
            classes.union(s.target, s.value.id)
    return classes


def liveness(body: list, live_out: set) -> dict[int, set]:
    """For each statement (by id), the names live just after it."""
    after: dict[int, set] = {}

    def block(stmts: list, live: set) -> set:
        for s in reversed(stmts):
            live = stmt(s, live)
        return live

    def stmt(s, live: set) -> set:
        after[id(s)] = set(live) | after.get(id(s), set())
        if isinstance(s, If):
            live = block(s.body, set(live)) | block(s.orelse, set(live))
            return live | ir.uses(s)
        if isinstance(s, (For, While)):
            # iterate to a fixpoint: what is live at the top of the body is live at its end;
            # from the fixpoint an enclosing loop's earlier trip reached (it only grows)
            inner = set(live) | loops.get(id(s), set())
            while loops.get(id(s)) != inner:
                top = block(s.body, set(inner))
                if isinstance(s, While):
                    top = block(s.prelude, top | ir.uses(s))
                if top <= inner:
                    loops[id(s)] = set(inner)
                inner |= top
            return (inner | live | ir.uses(s)) - ({s.target} if isinstance(s, For) else set())
        if isinstance(s, ir.Return):
            return ir.uses(s)
        return (live - ir.defs(s)) | ir.uses(s)

    loops: dict[int, set] = {}
    block(body, set(live_out))
    return after


def points_to(fn: ir.Function) -> dict[int, dict[str, frozenset]]:
    """For each in-place write (by id), the objects each name may point to just before it.

    An object is (site, age): the site is the statement that made it (or the parameter), and
    the age tells the latest object from a site ('new') from all earlier ones ('old'), so
    `new = u.copy()` in a loop never aliases the `u` of the previous trip."""
    before: dict[int, dict[str, frozenset]] = {}
    in_loops = {id(x) for s in ir.walk(fn.body) if isinstance(s, (For, While))
                for x in ir.walk(s.body + (s.prelude if isinstance(s, While) else []))}

    def join(a: dict, b: dict) -> dict:
        out = {}
        for k in a.keys() | b.keys():
            if isinstance(k, tuple) and k[0] in ("items", "held"):
                # what each item of a tuple packed on both paths points to; else unknown
                x, y = a.get(k, ()), b.get(k, ())
                out[k] = tuple(p | q for p, q in zip(x, y, strict=True)) if len(x) == len(y) else ()
            else:
                out[k] = a.get(k, frozenset()) | b.get(k, frozenset())
        return out

    def pts(state: dict, a) -> frozenset:
        return state.get(a.id, frozenset()) if isinstance(a, Name) else frozenset()

    containers = {id(s) for s in ir.walk(fn.body) if isinstance(s, Assign) and s.target
                  and s.prim.kind in ("tuple", "list", "dict")}

    def views(objects: frozenset) -> frozenset:
        """What an item of one of the objects may share memory with: the object itself,
        unless it is a list, tuple or dict (whose items are its contents)."""
        return frozenset(o for o in objects if o[0] not in containers)

    def passed(known: CallAliases | None, s: Assign) -> dict:
        """The callee's parameter names bound to the call's arguments."""
        if known is None:
            return {}
        return {**dict(zip(known.params, s.args, strict=False)), **dict(s.kwargs)}

    def age(objects: frozenset, site) -> frozenset:
        """The objects, with those site made last counted among the old."""
        made = {o for o, when in objects if when == "new" and (o == site or (
            isinstance(o, tuple) and o[0] == "item" and o[1] == site))}
        if not made:
            return objects
        return frozenset((o, "old" if o in made else when) for o, when in objects)

    def contents(state: dict, a) -> frozenset:
        """What the items of a list, tuple or dict a may point to."""
        return state.get(("contents", a.id), frozenset()) if isinstance(a, Name) else frozenset()

    def transfer(s, state: dict) -> dict:
        """The state after s (updated in place)."""
        if isinstance(s, Assign) and s.target:
            site = id(s)
            if site in in_loops:  # it runs again: what it made before is now old
                for k, v in state.items():
                    if isinstance(v, tuple):
                        state[k] = tuple(age(x, site) for x in v)
                    else:
                        state[k] = age(v, site)
            p = s.prim
            args = (*s.args, *(v for _, v in s.kwargs))
            shared: frozenset = frozenset()
            inside = frozenset().union(*(contents(state, a) for a in args))
            if p.kind in ("copy", "index") or (p.kind == "attr" and p.spelling in (
                    "T", "real", "imag")) or (p.kind == "call" and p.key in VIEWS) or (
                    p.kind == "method" and p.spelling in VIEW_METHODS):
                shared = pts(state, s.args[0])
                if p.kind == "index":  # an item of a container, or a view of an array
                    shared = views(shared) | contents(state, s.args[0])
            elif p.kind in ("tuple", "list", "dict"):  # a new container holding the args
                inside |= frozenset().union(*(pts(state, a) for a in args))
            elif p.kind == "call" and p.key in (list, tuple) and len(s.args) == 1:
                # a new list: the items of a list, the rows (views) of an array, the keys
                # of a dict
                inside = contents(state, s.args[0]) | views(pts(state, s.args[0]))
            elif p.kind == "call" and p.key in SPLITS:  # a list of views of the array
                inside = views(pts(state, s.args[0])) if s.args else inside
            elif p.kind == "call" and rules.lookup(p.key) and getattr(
                    p.key, "__module__", "").startswith("numpy"):
                inside = frozenset()  # a new array holds nothing of its arguments
            elif p.kind == "call" and not rules.lookup(p.key) and not rules.is_passive(p.key):
                # a user function may return its arguments or their items
                known = call_aliases(p.key)
                bound = passed(known, s)
                for a in (args if known is None else (bound[n] for n in known.whole
                                                      if n in bound)):
                    shared |= pts(state, a) | contents(state, a)
                inside |= shared
            if s.inplace:  # the same array, updated (or a new number)
                shared |= pts(state, s.args[0])
            state[s.target] = frozenset({(site, "new")}) | shared
            state[("contents", s.target)] = inside
            packed = p.kind in ("tuple", "list")
            state[("items", s.target)] = tuple(pts(state, a) for a in s.args) if packed else ()
            state[("held", s.target)] = tuple(contents(state, a) for a in s.args) if packed \
                else ()
            known = call_aliases(p.key) if p.kind == "call" and not rules.lookup(
                p.key) and not rules.is_passive(p.key) else None
            if known is not None and known.items is not None:
                bound = passed(known, s)  # one object per item, and what it may share

                def reach(names: frozenset) -> frozenset:
                    return frozenset().union(*(pts(state, bound[n]) | contents(
                        state, bound[n]) for n in names if n in bound))

                state[("items", s.target)] = tuple(
                    frozenset({(("item", site, k), "new")}) | reach(names)
                    for k, names in enumerate(known.items))
                state[("held", s.target)] = tuple(reach(names) for names in known.items)
        elif isinstance(s, Unpack):
            items = state.get(("items", s.value.id), ()) if isinstance(s.value, Name) else ()
            held = state.get(("held", s.value.id), ()) if isinstance(s.value, Name) else ()
            inside = contents(state, s.value)
            known = len(items) == len(held) == len(s.targets)
            for k, t in enumerate(s.targets):  # item by item when the tuple was packed here
                state[t] = items[k] if known else views(pts(state, s.value)) | inside
                state[("contents", t)] = held[k] if known else inside
                state[("items", t)] = state[("held", t)] = ()
        elif isinstance(s, ir.Append):  # the list holds one more object; it is still the list
            key = ("contents", s.target)
            state[key] = state.get(key, frozenset()) | pts(state, s.value) | contents(
                state, s.value)
            state[("items", s.target)] = state[("held", s.target)] = ()  # items changed
        elif isinstance(s, SetItem):
            state[("items", s.target)] = state[("held", s.target)] = ()
        return state

    def merge(*states: dict | None) -> dict | None:
        """The join of the states of the paths that reach a point (None: no path does)."""
        live = [x for x in states if x is not None]
        if not live:
            return None
        out = live[0]
        for x in live[1:]:
            out = join(out, x)
        return out

    def block(stmts: list, state: dict | None) -> dict | None:
        """The state after stmts; None when every path leaves by break or continue."""
        for s in stmts:
            if state is None:
                return None
            if isinstance(s, (SetItem, ir.Append, ir.Return)) or (
                    isinstance(s, Assign) and s.inplace):
                before[id(s)] = join(before[id(s)], state) if id(s) in before else dict(state)
            if isinstance(s, ir.Break):
                jumps[-1][0].append(state)
                return None
            if isinstance(s, ir.Continue):
                jumps[-1][1].append(state)
                return None
            if isinstance(s, If):
                state = merge(block(s.body, dict(state)), block(s.orelse, dict(state)))
            elif isinstance(s, (For, While)):
                # the loop head only grows, also across trips of enclosing loops: start
                # from what it was, so nested loops cost no more than their depth times
                head = join(heads[id(s)][0], state) if id(s) in heads else dict(state)
                if id(s) in heads and heads[id(s)][0] == head:
                    state = dict(heads[id(s)][1])
                    continue
                while True:
                    jumps.append(([], []))
                    inner = block(s.prelude, dict(head)) if isinstance(s, While) else dict(head)
                    out = block(s.body, inner)
                    breaks, continues = jumps.pop()
                    new = merge(head, out, *continues)
                    if new == head:
                        break
                    head = new
                done = block(s.prelude, dict(head)) if isinstance(s, While) else dict(head)
                state = merge(done, *breaks)
                heads[id(s)] = (head, dict(state))
            else:
                state = transfer(s, state)
        return state

    heads: dict[int, tuple[dict, dict]] = {}
    jumps: list[tuple[list, list]] = []  # per enclosing loop: states at its breaks, continues

    block(fn.body, {p.name: frozenset({(("param", p.name), "new")}) for p in fn.params})
    return before


_aliases: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class CallAliases:
    """What the result of a user function may share with its arguments, judged from its
    source: `whole`, the parameters whose objects (or their items) the result may be or hold;
    `items`, for a tuple it packs of different objects, the same per item (else None)."""

    params: tuple[str, ...]
    whole: frozenset
    items: tuple[frozenset, ...] | None


def call_aliases(obj) -> CallAliases | None:
    """CallAliases of the user function obj; None when adjoint cannot read it."""
    try:
        if obj in _aliases:
            return _aliases[obj]
        _aliases[obj] = None  # what a recursive call sees while the answer is worked out
    except TypeError:  # not a function adjoint can read
        return None
    try:
        fn = normalize_.normalize(parse_.parse(obj), naming.Namer())
    except AdjointError:
        return None
    result = fn.body[-1].value
    params = tuple(p.name for p in fn.params)
    if not isinstance(result, Name):  # a constant
        _aliases[obj] = CallAliases(params, frozenset(), None)
        return _aliases[obj]
    state = points_to(fn).get(id(fn.body[-1]), {})

    def reached(objects: frozenset) -> frozenset:
        return frozenset(site[1] for site, _ in objects
                         if isinstance(site, tuple) and site[0] == "param")

    whole = reached(state.get(result.id, frozenset()) | state.get(("contents", result.id),
                                                                  frozenset()))
    items, held = state.get(("items", result.id), ()), state.get(("held", result.id), ())
    distinct = len(items) == len(held) and all(
        a.isdisjoint(b) for k, a in enumerate(items) for b in items[k + 1:])
    _aliases[obj] = CallAliases(params, whole, tuple(
        reached(a | b) for a, b in zip(items, held, strict=True)) if items and distinct
        else None)
    return _aliases[obj]


def mutated_params(fn: ir.Function) -> dict[str, list]:
    """Parameters whose arrays (or lists) the function changes in place, with the
    statements that change them."""
    before = points_to(fn)
    params = {p.name for p in fn.params}
    found: dict[str, list] = {}
    for s in ir.walk(fn.body):
        if isinstance(s, (SetItem, ir.Append)):
            target = s.target
        elif isinstance(s, Assign) and s.inplace:
            target = s.target
        else:
            continue
        for site, _ in before.get(id(s), {}).get(target, frozenset()):
            if isinstance(site, tuple) and site[0] == "param" and site[1] in params:
                found.setdefault(site[1], []).append(s)
    return found


def check_writes(fn: ir.Function) -> None:
    """Refuse `y[i] = v` (or `y.append(v)`) while another name that may point to y's array
    is still to be read: its derivative would be lost."""
    before = points_to(fn)
    live_after = liveness(fn.body, set())
    for s in ir.walk(fn.body):
        if not (isinstance(s, (SetItem, ir.Append)) or (isinstance(s, Assign) and s.inplace)):
            continue
        state = before.get(id(s), {})
        objects = state.get(s.target, frozenset())
        others = {z for z in live_after.get(id(s), set()) - {s.target}
                  if (state.get(z, frozenset()) | state.get(("contents", z), frozenset()))
                  & objects}
        if isinstance(s, ir.Append) and isinstance(s.value, Name):
            others.discard(s.value.id)  # the appended value itself: the list only holds it
        if others:
            other = sorted(others)[0]
            node = s.origin.node if s.origin else fn.source.funcdef
            fix = f"copy first ({s.target} = {s.target}.copy())"
            if isinstance(s, Assign):  # `t += v`: a number is never written in place
                fix = f"write {s.target} = {s.target} {s.prim.spelling} ... or {fix}"
            raise fn.source.error(
                node, f"{s.target} is written in place while {other} may share its memory "
                f"and is read later; {fix} so the derivative through both is right",
                UnsupportedSyntax)


# ---------------------------------------------------------------- kinds

INT_FUNCS = {len, int, round, math.floor, math.ceil, math.trunc, np.argmax, np.argmin, np.ndim,
             np.size}
SCALAR_FUNCS = {float, abs} | {getattr(math, n) for n in dir(math)
                               if callable(getattr(math, n))} - INT_FUNCS
FULL_REDUCTIONS = {np.sum, np.mean, np.max, np.min, np.prod}


BOTTOM = "bottom"  # no definition seen yet


def _join(a: str | None, b: str | None) -> str | None:
    if a == BOTTOM:
        return b
    if b == BOTTOM or a == b:
        return a
    if {a, b} == {"int", "scalar"}:
        return "scalar"
    return None


def kinds(fn: ir.Function, scalar_params: set[str] = frozenset(),
          int_params: set[str] = frozenset()) -> dict[str, str]:
    """Names known to hold an 'int', a 'scalar' (shape ()) or a 'shape' tuple everywhere.

    An optimistic fixpoint: every name starts with no kind and takes the join of what
    its definitions give."""
    found: dict[str, str | None] = {}
    for p in fn.params:
        found[p.name] = "scalar" if p.name in scalar_params else (
            "int" if p.name in int_params else None)

    def kind_of(a) -> str | None:
        if isinstance(a, Const):
            if isinstance(a.value, (bool, int)):
                return "int"
            return "scalar" if isinstance(a.value, float) else None
        if isinstance(a, ir.Expr):
            ks = {kind_of(x) for x in a.args}
            return BOTTOM if BOTTOM in ks else ("int" if ks <= {"int"} else None)
        if not isinstance(a, Name):
            return None
        return found.get(a.id, BOTTOM)

    def infer(s) -> str | None:
        if isinstance(s, (For, While)):
            return "int"
        if isinstance(s, Unpack):
            return None
        p, args = s.prim, s.args
        ks = [kind_of(a) for a in args]
        if BOTTOM in ks:
            return BOTTOM
        numeric = all(k in ("int", "scalar") for k in ks)
        if p.kind == "copy":
            return ks[0]
        if p.kind in ("binop", "unary"):
            if not numeric:
                return None
            return "int" if all(k == "int" for k in ks) and p.key is not operator.truediv \
                else "scalar"
        if p.kind == "compare":
            return "int" if numeric else None
        if p.kind == "call" and s.adjoint is not None:  # a user function: what it returns
            return s.adjoint[4] if s.adjoint[4] in ("scalar", "int") else None
        if p.kind == "call":
            if p.key in INT_FUNCS:
                return "int"
            if p.key in SCALAR_FUNCS and p.key is not abs and args:
                return "scalar"  # float() and the math module return a number, whatever
            if (p.key is abs or isinstance(p.key, np.ufunc)) and numeric and args:
                return "scalar"
            if p.key is np.shape:
                return "shape"
            if p.key in FULL_REDUCTIONS and len(args) == 1 and not s.kwargs:
                return "scalar"
            return None
        if p.kind == "method":
            return "scalar" if p.key in FULL_REDUCTIONS and len(args) == 1 and not s.kwargs \
                else None
        if p.kind == "attr":
            return {"shape": "shape", "ndim": "int", "size": "int"}.get(p.spelling)
        if p.kind == "index" and ks[0] == "shape":
            items = s.index.items
            return "int" if len(items) == 1 and kind_of(items[0]) == "int" else None
        return None

    defining = [s for s in ir.walk(fn.body)
                if isinstance(s, (For, While, Unpack)) or (isinstance(s, Assign) and s.target)]
    changed = True
    while changed:
        changed = False
        for s in defining:
            k = infer(s)
            for name in ir.defs(s):
                new = _join(found.get(name, BOTTOM), k)
                if new != found.get(name, BOTTOM):
                    found[name] = new
                    changed = True
    return {n: k for n, k in found.items() if k not in (None, BOTTOM)}


ELEMENTWISE_LIKE = {np.zeros_like, np.ones_like, np.empty_like, np.copy, abs, float}
LIKE_METHODS = {"copy", "astype"}


def int_item(item, kind: dict[str, str]) -> bool:
    """Whether an index item is surely an int."""
    if isinstance(item, Name):
        return kind.get(item.id) == "int"
    if isinstance(item, Const):
        return isinstance(item.value, int) and not isinstance(item.value, bool)
    if isinstance(item, ir.Expr):
        return all(kind.get(x.id) == "int" for x in item.args)
    return False


def index_term(base: object, index: ir.Index, kind: dict[str, str]) -> object | None:
    """The shape term of base[index], or None when this analysis cannot tell.

    Each index item becomes one operation on an axis: 'int' drops it, 'new' inserts one,
    and a slice with constant bounds keeps it at a length that depends only on its key:
    [a:-c], [a:] and [:-c] keep n - (a + c) of n entries (clipped at 0), so u[:-2], u[1:-1]
    and u[2:] have one shape; other constant slices are equal only to themselves."""
    if base in (BOTTOM, "scalar"):
        return None
    ops = []
    for item in index.items:
        if int_item(item, kind):
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


def shapes(fn: ir.Function, kind: dict[str, str],
           lists: set[str] | frozenset = frozenset()) -> dict[str, object]:
    """A shape term for each name: names with equal terms surely have equal shapes.

    'scalar' is shape (); ('param', p) is parameter p's shape; ('row', k, T) is T's shape
    without its first k axes (x[i] for an int i); a name whose definitions disagree, or
    come from an operation this analysis does not follow, gets a term of its own, and so
    does an item of one of `lists` (names that may hold lists: their items' shapes differ)."""
    term: dict[str, object] = {}
    for p in fn.params:
        term[p.name] = "scalar" if kind.get(p.name) in ("int", "scalar") else ("param", p.name)

    def t(a) -> object:
        if isinstance(a, Const):
            return "scalar" if isinstance(a.value, (int, float)) else ("const", id(a))
        if isinstance(a, Name):
            if kind.get(a.id) in ("int", "scalar"):
                return "scalar"
            return term.get(a.id, BOTTOM)
        return ("expr", id(a))

    def infer(s) -> object:
        if not isinstance(s, Assign):
            return ("def", id(s))
        p, args = s.prim, s.args
        ts = [t(a) for a in args]
        if BOTTOM in ts:
            return BOTTOM
        if s.target and kind.get(s.target) in ("int", "scalar"):
            return "scalar"
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
        if p.kind == "index" and not (isinstance(args[0], Name) and args[0].id in lists):
            return index_term(ts[0], s.index, kind) or ("def", id(s))
        return ("def", id(s))

    defining = [s for s in ir.walk(fn.body) if ir.defs(s)]
    changed = True
    while changed:
        changed = False
        for s in defining:
            new_term = infer(s)
            for name in ir.defs(s):
                if isinstance(s, Unpack):  # each item of a tuple has a shape of its own
                    new_term = ("def", id(s), name)
                old = term.get(name, BOTTOM)
                if old == new_term or new_term == BOTTOM:
                    continue
                merged = new_term if old == BOTTOM else ("top", name)
                if merged != old:
                    term[name] = merged
                    changed = True
    return term


# ---------------------------------------------------------------- to be recorded


ENTRY = 0  # in reads: what the reverse sweep reads of the function's entry (no statement)


@dataclass
class Place:
    pos: int
    end: int
    loops: tuple  # ids of enclosing loops, outermost first
    block: int  # id of the list the statement sits in
    top: bool  # directly in the function body
    arms: tuple = ()  # (id of an enclosing if, 0 for its body or 1 for its else)


@dataclass
class Plan:
    """What the forward sweep keeps for the reverse sweep.

    renames: top-level redefinitions given a fresh name (a new version);
    saves: id(statement) -> {name: 'before' | 'after' | 'recompute'}: push the old value
        before the statement overwrites it (pop after its adjoint); push the new value after
        the statement (pop at the top of its reversed block); or compute it again there;
    slices: ids of `y[i] = v` statements whose overwritten slice is pushed;
    preinit: names to bind to None at the start, so a first push has a value.
    """

    renames: dict = field(default_factory=dict)  # id(stmt) -> {old: new}
    saves: dict = field(default_factory=dict)
    slices: set = field(default_factory=set)
    preinit: set = field(default_factory=set)


def places(fn: ir.Function) -> dict[int, Place]:
    out: dict[int, Place] = {}
    counter = [0]

    def block(stmts: list, loops: tuple, top: bool, arms: tuple) -> None:
        for s in stmts:
            counter[0] += 1
            pos = counter[0]
            inner = loops + (id(s),) if isinstance(s, (For, While)) else loops
            for k, b in enumerate(ir.blocks(s)):
                block(b, inner, False, arms + ((id(s), k),) if isinstance(s, If) else arms)
            out[id(s)] = Place(pos, counter[0], loops, id(stmts), top, arms)

    block(fn.body, (), True, ())
    return out


def exclusive(a: Place, b: Place) -> bool:
    """Whether two statements lie in different arms of one if: one never runs after the
    other (within a trip of any loop around that if)."""
    arms = dict(a.arms)
    return any(arms.get(i, k) != k for i, k in b.arms)


def to_be_recorded(fn: ir.Function, reads: dict[int, set], value_reads: dict[int, set],
                   stmts: dict[int, ir.Stmt], kind: dict[str, str] | None = None) -> Plan:
    """Which overwritten values the reverse sweep needs, from what each statement's adjoint
    reads (`reads`: id(stmt) -> names; `value_reads`: the subset read for their values)."""
    where = places(fn)
    where[ENTRY] = Place(0, 0, (), id(fn.body), True)
    plan = Plan()
    params = {p.name for p in fn.params}
    # read positions: a compound statement's adjoint reads at its end (it runs first)
    read_at: dict[str, list] = defaultdict(list)
    for sid, names in reads.items():
        s, pl = stmts.get(sid), where[sid]
        for n in names:
            if sid == ENTRY:  # the arguments as they came in
                pos = 0
            elif isinstance(s, (If, For, While)):
                pos = pl.end + 0.5
            elif n in ir.defs(s):  # the statement's own result (ans), or its old value
                pos = pl.pos - 0.5 if n in ir.uses(s) else pl.pos + 0.5
            else:
                pos = pl.pos
            read_at[n].append((pos, sid, n in value_reads.get(sid, ())))

    def shares_loop(a: int, b: int) -> bool:
        return bool(set(where[a].loops) & set(where[b].loops))

    def inside(sid: int, loop_id: int) -> bool:
        return loop_id in where[sid].loops

    defs_of: dict[str, list] = defaultdict(list)
    for s in ir.walk(fn.body):
        for n in ir.defs(s):
            defs_of[n].append(s)
    classes = aliases(fn)
    for name, found in read_at.items():
        for d in defs_of.get(name, ()):
            dp = where[id(d)]
            relevant = [(p, sid) for p, sid, _ in found
                        if not (isinstance(d, For) and name == d.target and inside(sid, id(d)))
                        and (shares_loop(sid, id(d)) or not exclusive(where[sid], dp))]
            if not any(p < dp.pos or shares_loop(sid, id(d)) for p, sid in relevant):
                continue
            if not dp.loops:
                if dp.top and isinstance(d, (Assign, Unpack)) and not getattr(d, "inplace",
                                                                               False):
                    plan.renames.setdefault(id(d), {})[name] = None
                else:
                    plan.saves.setdefault(id(d), {})[name] = "before"
                    if name not in params and not _defined_before(fn, name, where, id(d)):
                        plan.preinit.add(name)  # a path may reach d with name unbound
                continue
            loop = dp.loops[-1]
            in_loop_defs = [x for x in defs_of[name] if inside(id(x), loop)]
            after = (
                len(in_loop_defs) == 1 and not isinstance(d, For)
                and not getattr(d, "inplace", False)
                and all(
                    (p > dp.pos and _within_block(where, sid, d, dp))
                    # past the loop, but not inside an outer one: the pops of a later trip
                    # of the outer loop would have run before this read is reversed
                    or (p > where[loop].end and not shares_loop(sid, id(d)))
                    for p, sid in relevant)
            )
            if after:
                plan.saves.setdefault(id(d), {})[name] = "after"
            else:
                plan.saves.setdefault(id(d), {})[name] = "before"
                if name not in params and not _defined_before(fn, name, where, dp.loops[0]):
                    plan.preinit.add(name)
    choose_recompute(fn, plan, where, kind or {})
    # `v += c` on an array changes what shares its memory too: keep v's old values when
    # another name for that memory is read before (`v = h[0:1]`, and h's rule reads h)
    for s in ir.walk(fn.body):
        if isinstance(s, Assign) and s.inplace and s.target:
            sp = where[id(s)]
            if any(is_value and (p < sp.pos or shares_loop(sid, id(s)))
                   for member in classes.members(s.target) - {s.target}
                   for p, sid, is_value in read_at.get(member, ())):
                plan.saves.setdefault(id(s), {})[s.target] = "before"
    # in-place writes: keep the overwritten slice when the old contents are read later (an
    # append is undone by popping the list)
    for s in ir.walk(fn.body):
        if not isinstance(s, (SetItem, ir.Append)):
            continue
        sp = where[id(s)]
        # appending changes only the list's length: only reads of the list itself matter
        members = {s.target} if isinstance(s, ir.Append) else classes.members(s.target)
        for member in members:
            if any(is_value and (p < sp.pos or shares_loop(sid, id(s)))
                   for p, sid, is_value in read_at.get(member, ())):
                plan.slices.add(id(s))
                break
    return plan


CHEAP_CALLS = {len, abs, float}


def cheap(d, kind: dict[str, str]) -> bool:
    """Whether computing `d` again costs less than keeping its value on a stack: an index,
    an attribute, integer or scalar arithmetic, a math function of a scalar."""
    p = d.prim
    scalar = kind.get(d.target) in ("int", "scalar")
    return p.kind in ("index", "attr", "copy", "compare") or (
        p.kind in ("binop", "unary") and scalar) or (
        p.kind == "call" and scalar and (p.key in CHEAP_CALLS or getattr(
            p.key, "__module__", None) == "math"))


def choose_recompute(fn: ir.Function, plan: Plan, where: dict, kind: dict[str, str]) -> None:
    """Turn 'after' saves of cheap values into recomputation at the top of the reversed
    block, where each input still holds the value it had: a loop counter, a name no loop
    changes, or a name defined once earlier in the same block and itself kept or recomputed
    (its restore comes later in the reversed block)."""
    stmts = {id(s): s for s in ir.walk(fn.body)}
    classes = aliases(fn)
    mutated: set = set()
    for s in ir.walk(fn.body):
        if isinstance(s, (SetItem, ir.Append)):
            mutated |= classes.members(s.target)
    definitions: dict[str, int] = {}
    for s in ir.walk(fn.body):
        for n in ir.defs(s):
            definitions[n] = definitions.get(n, 0) + 1
    # a value no trip changes needs no record, when only its new value is read (the value
    # before the loop may differ)
    for sid, saves in plan.saves.items():
        d = stmts[sid]
        if isinstance(d, Assign) and d.adjoint is None and not d.inplace \
                and saves.get(d.target) == "after" \
                and definitions[d.target] == 1 and d.target not in mutated \
                and _invariant(d, stmts, where, mutated):
            del saves[d.target]
    changed = True
    while changed:
        changed = False
        for sid, saves in plan.saves.items():
            d = stmts[sid]
            if isinstance(d, Assign) and d.adjoint is None and saves.get(d.target) == "after" \
                    and cheap(d, kind) and all(_available(u, d, stmts, where, plan, mutated)
                                               for u in ir.uses(d)):
                saves[d.target] = "recompute"
                changed = True


def _invariant(d, stmts: dict, where: dict, mutated: set) -> bool:
    """Whether d computes the same value on every trip of the loops around it: nothing it
    reads is written inside them (not even a loop counter)."""
    loops = [stmts[x] for x in where[id(d)].loops]
    if not loops:
        return False
    written = set()
    for x in ir.walk(loops[:1]):
        written |= ir.defs(x)
    return not (ir.uses(d) & (written | mutated))


def _available(u: str, d, stmts: dict, where: dict, plan: Plan, mutated: set) -> bool:
    """Whether name `u` holds, at the top of d's reversed block, the value d read."""
    dp = where[id(d)]
    loops = [stmts[x] for x in dp.loops]
    if any(isinstance(x, For) and x.target == u for x in loops):
        return True
    written = set()
    for x in ir.walk(loops[:1]):
        written |= ir.defs(x)
    if u not in written and u not in mutated:
        return True
    defs = [x for x in ir.walk(loops[-1:]) if u in ir.defs(x)]
    if len(defs) != 1 or u in mutated:
        return False
    up = where[id(defs[0])]
    return up.block == dp.block and up.pos < dp.pos and bool(
        plan.saves.get(id(defs[0]), {}).get(u))


def _within_block(where: dict, sid: int, d, dp: Place) -> bool:
    """Whether statement `sid` sits in the same block as `d`, or nested inside it."""
    sp = where[sid]
    if sp.block == dp.block:
        return True
    # nested: some statement of d's block after d contains sid
    return sp.pos > dp.pos and any(
        where[x].block == dp.block and where[x].pos <= sp.pos <= where[x].end
        for x in where if where[x].pos > dp.pos)


def _defined_before(fn: ir.Function, name: str, where: dict, loop_id: int) -> bool:
    """Whether `name` surely has a value when the statement (often a loop) `loop_id` starts:
    bound by a statement that runs before it in the same block or in an enclosing one."""

    def search(body: list) -> bool | None:
        for k, s in enumerate(body):
            before = any(name in ir.defs(x) for x in body[:k])
            if id(s) == loop_id:
                return before
            for block in ir.blocks(s):
                found = search(block)
                if found is not None:
                    return found or before
        return None

    return bool(search(fn.body))
