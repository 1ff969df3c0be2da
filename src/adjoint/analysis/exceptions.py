"""exceptions: which `try` statements can be differentiated.

The reverse sweep replays a try by the way it went: its body then its else, or one handler.
When an exception stops the body part way, what the body did up to there stays done, and the
reverse sweep does not undo it (the forward sweep drops only what it kept for the reverse
sweep: reverse.compound). So a try is differentiated when

- its body changes no object that existed before it: no item or attribute written, no append
  or in-place update (`v += w` on an array), no call made for its effect or to a method that
  changes its object (objects the body makes itself, such as a comprehension's list, may
  change); and
- no name its body binds is read, where a handler starts, before being bound again (by the
  handler, or by the code after the try on that path): it may hold a value computed part way.
  A name bound only by the body's last statement is exempt: that statement binds it whole or
  not at all.

Otherwise it is refused, naming the try and what breaks the rule. (A try with no except
clause lets every exception through: nothing to check.)
"""

from __future__ import annotations

from .. import ir
from ..ir import Assign, SetItem, Try, Unpack
from .memory import liveness
from .points_to import points_to

# methods that change the object they are called on
MUTATING = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
                      "update", "setdefault", "popitem", "fill", "resize", "put", "itemset",
                      "add", "discard"})


def check_tries(fn: ir.Function, kinds: dict[str, str]) -> None:
    """Refuse a try the reverse sweep cannot follow when an exception stops its body."""
    tries = [s for s in ir.walk(fn.body) if isinstance(s, Try) and s.handlers]
    if not tries:
        return
    live = liveness(fn.body, set())
    before = points_to(fn)
    for s in tries:
        made = {id(x) for x in ir.walk(s.body)}
        for x in ir.walk(s.body):
            change = _change(x, before.get(id(x)), made, kinds)
            if change:
                raise _refusal(fn, s, f"its body {change}{_line(fn, x)}, and an exception "
                               "after that would leave the change in place with no "
                               "derivative through it; make the change after the try (in "
                               "its else clause)")
        partial = _bound(s.body) - _whole(s.body)
        for h in s.handlers:
            read = sorted(partial & live.get(id(h), set()))
            if read:
                clause = h.origin.text if h.origin else "except:"
                raise _refusal(fn, s, f"{read[0]} is bound in its body and read on the path "
                               f"through `{clause}`{_line(fn, h)} before that path binds it "
                               f"again: when an exception stops the body part way, {read[0]} "
                               f"may hold a value computed part way; bind {read[0]} in that "
                               "except clause too")


def _change(x: ir.Stmt, state: dict | None, made: set, kinds: dict) -> str | None:
    """What x changes of an object that existed before the try (None if nothing)."""
    if isinstance(x, (SetItem, ir.Append)) or (isinstance(x, Assign) and x.inplace):
        if isinstance(x, Assign) and kinds.get(x.target) in ("scalar", "int"):
            return None  # a number: rebound, not changed
        objects = (state or {}).get(x.target)
        if objects and all(_made_in(o, age, made) for o, age in objects):
            return None
        verb = "appends to" if isinstance(x, ir.Append) else "writes into"
        return f"{verb} {x.target}"
    if not isinstance(x, Assign):
        return None
    if x.prim.kind == "setattr":
        return "sets an attribute"
    if x.target is None and x.prim.kind in ("call", "method"):
        return f"calls {x.prim.spelling} for its effect"
    if x.prim.kind == "method" and x.prim.spelling.split(".")[-1] in MUTATING:
        return f"calls .{x.prim.spelling}(), which changes its object"
    return None


def _made_in(site, age: str, made: set) -> bool:
    """Whether an object (site, age) of points_to is the latest made by a statement in
    `made`."""
    if isinstance(site, tuple) and site[0] == "item":
        site = site[1]
    return age == "new" and site in made


def _bound(body: list) -> set[str]:
    return {n for x in ir.walk(body) for n in ir.defs(x)}


def _whole(body: list) -> set[str]:
    """Names only the body's last statement binds, when it is a simple one (it binds them all
    at once, after everything in it that could raise)."""
    if not body or not isinstance(body[-1], (Assign, Unpack)):
        return set()
    earlier = _bound(body[:-1])
    return {n for n in ir.defs(body[-1]) if n not in earlier}


def _line(fn: ir.Function, at) -> str:
    """` (line n)`: where a statement or handler of the function is."""
    if getattr(at, "origin", None) is None:
        return ""
    return f" (line {fn.source.position(at.origin.node)[0]})"


def _refusal(fn: ir.Function, s: Try, why: str) -> Exception:
    node = s.origin.node if s.origin else fn.source.funcdef
    line, _ = fn.source.position(node)
    return fn.source.error(node, f"the try at line {line} cannot be differentiated: {why}")
