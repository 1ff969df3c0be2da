"""points_to: the objects each name may point to before each in-place write, and what a
user function's result may share with its arguments."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from .. import ir, naming, rules
from .. import normalize as normalize_
from .. import parse as parse_
from ..errors import AdjointError
from ..ir import Assign, For, If, Name, SetItem, Unpack, While
from ..runtime.checks import kept, snapshot
from ..runtime.indexing import add_at
from .memo import per_version

# Calls whose result may share memory with their first argument.
VIEWS = {np.reshape, np.ravel, np.transpose, np.squeeze, np.expand_dims, np.asarray,
         np.swapaxes, np.moveaxis, np.diagonal, np.broadcast_to, np.atleast_1d, np.atleast_2d,
         np.real, np.imag, np.rot90, np.rollaxis, np.real_if_close, np.flip, np.fliplr,
         np.flipud, np.atleast_3d}
VIEW_METHODS = {"reshape", "ravel", "transpose", "squeeze", "view", "swapaxes", "diagonal"}


def shares_first(s: Assign) -> bool:
    """Whether the value s makes may share memory with its first argument: a copy of the
    name, an item or view of it, or a conversion that may return it (`x.astype(float,
    copy=False)`, `np.array(x, copy=False)`)."""
    p = s.prim
    return p.kind in ("copy", "index") or rules.is_field(p) or (
        p.kind == "attr" and p.spelling in ("T", "real", "imag")) or (
        p.kind == "call" and p.key in VIEWS) or (
        p.kind == "method" and p.spelling in VIEW_METHODS) or (
        ((p.kind == "method" and p.spelling == "astype") or (
            p.kind == "call" and p.key is np.array)) and any(
            k == "copy" and not (isinstance(v, ir.Const) and v.value is True)
            for k, v in s.kwargs))
# functions returning a list (or tuple) of views of their first argument
SPLITS = {np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit, np.broadcast_arrays} | (
    {np.unstack} if hasattr(np, "unstack") else set())

State = dict  # name -> objects; ('contents', n) -> what n's items may point to;
# ('items', n) / ('held', n) -> per item of a tuple packed here: the objects, their contents


@per_version
def points_to(fn: ir.Function) -> dict[int, dict[str, frozenset]]:
    """For each in-place write (by id), the objects each name may point to just before it.

    An object is (site, age): the site is the statement that made it (or the parameter), and
    the age tells the latest object from a site ('new') from all earlier ones ('old'), so
    `new = u.copy()` in a loop never aliases the `u` of the previous trip."""
    walker = PointsTo(fn)
    walker.block(fn.body, {p.name: frozenset({(("param", p.name), "new")}) for p in fn.params})
    return walker.before


def join(a: State, b: State) -> State:
    out = {}
    for k in a.keys() | b.keys():
        if isinstance(k, tuple) and k[0] in ("items", "held"):
            # what each item of a tuple packed on both paths points to; else unknown
            x, y = a.get(k, ()), b.get(k, ())
            out[k] = tuple(p | q for p, q in zip(x, y, strict=True)) if len(x) == len(y) else ()
        else:
            out[k] = a.get(k, frozenset()) | b.get(k, frozenset())
    return out


def merge(*states: State | None) -> State | None:
    """The join of the states of the paths that reach a point (None: no path does)."""
    live = [x for x in states if x is not None]
    if not live:
        return None
    out = live[0]
    for x in live[1:]:
        out = join(out, x)
    return out


def pts(state: State, a) -> frozenset:
    return state.get(a.id, frozenset()) if isinstance(a, Name) else frozenset()


def contents(state: State, a) -> frozenset:
    """What the items of a list, tuple or dict a may point to."""
    return state.get(("contents", a.id), frozenset()) if isinstance(a, Name) else frozenset()


def age(objects: frozenset, site) -> frozenset:
    """The objects, with those site made last counted among the old."""
    made = {o for o, when in objects if when == "new" and (o == site or (
        isinstance(o, tuple) and o[0] == "item" and o[1] == site))}
    if not made:
        return objects
    return frozenset((o, "old" if o in made else when) for o, when in objects)


def passed(known: CallAliases | None, s: Assign) -> dict:
    """The callee's parameter names bound to the call's arguments."""
    if known is None:
        return {}
    return {**dict(zip(known.params, s.args, strict=False)), **dict(s.kwargs)}


def _user_call(p: ir.Prim) -> CallAliases | None:
    if p.kind == "call" and not rules.lookup(p.key) and not rules.is_passive(p.key):
        return call_aliases(p.key)
    return None


class PointsTo:
    """The walk of points_to: a state per program point, loops to their fixpoint."""

    def __init__(self, fn: ir.Function):
        self.before: dict[int, dict[str, frozenset]] = {}
        self.in_loops = {id(x) for s in ir.walk(fn.body) if isinstance(s, (For, While))
                         for x in ir.walk(s.body + (s.prelude if isinstance(s, While)
                                                    else []))}
        self.containers = {id(s) for s in ir.walk(fn.body) if isinstance(s, Assign)
                           and s.target and s.prim.kind in ("tuple", "list", "dict")}
        self.heads: dict[int, tuple[dict, dict]] = {}
        self.jumps: list[tuple[list, list]] = []  # per loop: states at its breaks, continues

    def views(self, objects: frozenset) -> frozenset:
        """What an item of one of the objects may share memory with: the object itself,
        unless it is a list, tuple or dict (whose items are its contents)."""
        return frozenset(o for o in objects if o[0] not in self.containers)

    def made(self, s: Assign, state: State) -> tuple[frozenset, frozenset]:
        """What the value s makes may share with others (shared), and what its items may
        point to (inside)."""
        p = s.prim
        args = (*s.args, *(v for _, v in s.kwargs))
        shared: frozenset = frozenset()
        inside = frozenset().union(*(contents(state, a) for a in args))
        field = rules.is_field(p)  # p.x0: what the record holds, as an item of a container
        if shares_first(s) and s.args:
            shared = pts(state, s.args[0])
            if p.kind == "index" or field:  # an item of a container, or a view of an array
                shared = self.views(shared) | contents(state, s.args[0])
        elif p.kind == "method" and p.spelling == "get" and s.args:  # d.get(k, default)
            shared = self.views(pts(state, s.args[0])) | contents(state, s.args[0])
            for default in (*s.args[2:], *(v for k, v in s.kwargs if k == "default")):
                shared |= pts(state, default) | contents(state, default)
        elif p.kind in ("tuple", "list", "dict"):  # a new container holding the args
            inside |= frozenset().union(*(pts(state, a) for a in args))
        elif p.kind == "call" and p.key in (list, tuple) and len(s.args) == 1:
            # a new list: the items of a list, the rows (views) of an array, the keys of a dict
            inside = contents(state, s.args[0]) | self.views(pts(state, s.args[0]))
        elif p.kind == "call" and p.key in (snapshot, kept):  # a copy (a list's: its items)
            inside = contents(state, s.args[0])
        elif p.kind == "call" and p.key is add_at:  # acc, added into in place
            shared = pts(state, s.args[0])
            inside = contents(state, s.args[0])
        elif p.kind == "call" and p.key in SPLITS:  # a list of views of the array
            inside = self.views(pts(state, s.args[0])) if s.args else inside
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
        return shared, inside

    def assign(self, s: Assign, state: State) -> None:
        site = id(s)
        if site in self.in_loops:  # it runs again: what it made before is now old
            for k, v in state.items():
                state[k] = tuple(age(x, site) for x in v) if isinstance(v, tuple) else age(
                    v, site)
        shared, inside = self.made(s, state)
        state[s.target] = frozenset({(site, "new")}) | shared
        state[("contents", s.target)] = inside
        packed = s.prim.kind in ("tuple", "list")
        state[("items", s.target)] = tuple(pts(state, a) for a in s.args) if packed else ()
        state[("held", s.target)] = tuple(contents(state, a) for a in s.args) if packed else ()
        known = _user_call(s.prim)
        if known is not None and known.items is not None:
            bound = passed(known, s)  # one object per item, and what it may share

            def reach(names: frozenset) -> frozenset:
                return frozenset().union(*(pts(state, bound[n]) | contents(
                    state, bound[n]) for n in names if n in bound))

            state[("items", s.target)] = tuple(
                frozenset({(("item", site, k), "new")}) | reach(names)
                for k, names in enumerate(known.items))
            state[("held", s.target)] = tuple(reach(names) for names in known.items)

    def transfer(self, s, state: State) -> State:
        """The state after s (updated in place)."""
        if isinstance(s, Assign) and s.target:
            self.assign(s, state)
        elif isinstance(s, Unpack):
            value = s.value.id if isinstance(s.value, Name) else None
            items, held = state.get(("items", value), ()), state.get(("held", value), ())
            inside = contents(state, s.value)
            known = len(items) == len(held) == len(s.targets)
            for k, t in enumerate(s.targets):  # item by item when the tuple was packed here
                state[t] = items[k] if known else self.views(pts(state, s.value)) | inside
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

    def block(self, stmts: list, state: State | None) -> State | None:
        """The state after stmts; None when every path leaves by break or continue."""
        for s in stmts:
            if state is None:
                return None
            if isinstance(s, (SetItem, ir.Append, ir.Return)) or (
                    isinstance(s, Assign) and s.inplace):
                old = self.before.get(id(s))
                self.before[id(s)] = join(old, state) if old is not None else dict(state)
            if isinstance(s, ir.Break):
                self.jumps[-1][0].append(state)
                return None
            if isinstance(s, ir.Continue):
                self.jumps[-1][1].append(state)
                return None
            if isinstance(s, If):
                state = merge(self.block(s.body, dict(state)), self.block(s.orelse, dict(state)))
            elif isinstance(s, ir.Try):
                state = self.tried(s, state)
            elif isinstance(s, ir.With):
                state = self.block(s.body, state)
            elif isinstance(s, (For, While)):
                state = self.loop(s, state)
            else:
                state = self.transfer(s, state)
        return state

    def tried(self, s: ir.Try, state: State) -> State | None:
        """The state after a try: a handler starts from the state before the body or after
        it (what the body binds part way is never read there: analysis.exceptions)."""
        done = self.block(s.body, dict(state))
        start = merge(state, done)
        ways = [self.block(s.orelse, dict(done)) if done is not None else None]
        ways += [self.block(h.body, dict(start)) for h in s.handlers]
        after = merge(*ways)
        return self.block(s.finalbody, after) if after is not None else None

    def loop(self, s, state: State) -> State | None:
        """The state after a loop: its head grows to a fixpoint, also across trips of
        enclosing loops (start from what it was, so nested loops cost no more than their
        depth times)."""
        head = join(self.heads[id(s)][0], state) if id(s) in self.heads else dict(state)
        if id(s) in self.heads and self.heads[id(s)][0] == head:
            return dict(self.heads[id(s)][1])
        prelude = s.prelude if isinstance(s, While) else None
        while True:
            self.jumps.append(([], []))
            inner = self.block(prelude, dict(head)) if prelude is not None else dict(head)
            out = self.block(s.body, inner)
            breaks, continues = self.jumps.pop()
            new = merge(head, out, *continues)
            if new == head:
                break
            head = new
        done = self.block(prelude, dict(head)) if prelude is not None else dict(head)
        state = merge(done, *breaks)
        self.heads[id(s)] = (head, dict(state))
        return state


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
