"""lower: the reverse emitter's functions (lines and blocks, analysis/reverse) made into code
numba compiles.

The reverse stage emits the same structure for both backends; this pass rewrites the parts
numba cannot take, on that structure (never on the printed text):

    S = [] / S.append(v) / v = S.pop()   a tape (storage.py: an array, a record array, a
                                         list of references...) and its counter S_top, given
                                         room before the outermost loop whose trips are
                                         known when it starts (tapes.py, counts.py), else
                                         grown by doubling; a tape read only for shapes
                                         keeps shapes
    for t in reversed(R):                for t in runtime.backwards(R), or
                                         runtime.backwards(range(1, R.stop)) where R is
                                         bound only to ranges with that literal start
                                         (and step): LLVM then knows t >= 1, and tests
                                         no index x_bar[t - 1] for a negative value
    x_bar = runtime.zeros_like(x), or    in a loop: an array an earlier trip made, where
      runtime.owned(x_bar, x)              nothing reads it any more (reuse.py)
    a[i].copy()                          runtime.copy(a[i])  (an item may be a number)
    i = None  (a range loop's target,    i = 0  (one type per variable)
      or an int counter kept before
      its first binding)
    runtime.check_arrays(...)            moved to the Python wrapper

A runtime helper with no numba version, a try or with block, a function defined inside the
differentiated one, or *args/**kwargs are refused, naming the user's statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .. import ir
from ..ir import Block, Emitted, Line, Ref
from .carry import carry
from .counts import literal_ranges
from .refusals import JIT_HELPERS, NumbaUnsupported, helper_reason
from .reuse import reuse
from .spread import spread
from .tapes import (
    RUNTIME,
    Tape,
    is_push,
    made,
    plan,
    popped,
    pushed,
    range_names,
    reserved,
    spares,
)


@dataclass
class Lowered:
    """A lowered function, the stacks it hands on (a split helper's saved values), and the
    arrays checks its wrapper runs (`runtime.check_arrays` arguments, as text)."""

    fn: Emitted
    stacks: frozenset
    checks: list = field(default_factory=list)


def lower(fn: Emitted | str, owner: str, inherited: frozenset = frozenset(),
          top: bool = True) -> Lowered:
    """`fn` as numba code; `owner`: the user's function it differentiates (for messages);
    `inherited`: stacks a `_bwd` function receives from its `_fwd`; a `top` function is
    called by its Python wrapper with every argument (a split helper keeps its defaults, for
    the njit code that calls it leaving one out)."""
    if isinstance(fn, str):
        raise NumbaUnsupported(f"the numba backend cannot compile {owner}: it defines a "
                               "function inside itself (numba compiles no nested def); "
                               "define the helper at module level")
    if "*" in fn.params:
        starred = [p.strip() for p in fn.params.split(",") if p.strip().startswith("*")]
        what = "keyword-only parameters (after a bare *)" if starred == ["*"] else \
            "*args or **kwargs"
        raise NumbaUnsupported(f"the numba backend cannot compile {owner}: it takes {what}; "
                               "give it named parameters")
    names = _names(fn)
    stacks = {i.parts[0].name for i in _lines(fn.body) if _is_init(i, fn.primal)}
    stacks |= inherited & names
    fresh = _Fresh(names)
    inside = {i.parts[0].name for b in fn.body if isinstance(b, Block) for body in b.bodies()
              for i in _lines(body) if _is_init(i, fn.primal)}  # emptied again in a block
    top_level = {i.parts[0].name for i in fn.body if _is_init(i, fn.primal)} - inside
    tapes = plan(fn.body, stacks, top_level, fresh, _param_names(fn.params))
    pass_ = _Pass(fn, owner, tapes, fresh)
    body = carry(reuse(pass_.block(fn.body), fresh, pass_.bound), fresh, pass_.bound)
    body = spread(body, fn.numbers, fresh, pass_.bound)
    primal = fn.primal | frozenset(stacks) | frozenset(pass_.bound)
    params = _plain_params(fn.params) if top else fn.params
    lowered = replace(fn, body=body, params=params, primal=primal)
    return Lowered(lowered, frozenset(stacks), pass_.checks)


def _param_names(params: str) -> set[str]:
    return {p.split("=")[0].strip().lstrip("*") for p in params.split(",")} - {""}


def _plain_params(params: str) -> str:
    """The parameter list without defaults: the Python wrapper passes every argument."""
    return ", ".join(p.split("=")[0].strip() for p in params.split(",") if p.strip())


def _names(fn: Emitted) -> set[str]:
    found = {p.split("=")[0].strip() for p in fn.params.split(",")}
    for item in _lines(fn.body):
        parts = item.head if isinstance(item, Block) else item.parts
        found |= set(ir.refs(parts))
    return found


def _lines(body: list):
    for item in body:
        yield item
        if isinstance(item, Block):
            for inner in item.bodies():
                yield from _lines(inner)


def _is_init(item, primal: frozenset) -> bool:
    return isinstance(item, Line) and len(item.parts) == 3 and isinstance(
        item.parts[0], Ref) and item.parts[1:] == (" = ", "[]") and item.parts[0].name not in primal


class _Fresh:
    """Names not yet used in the function."""

    def __init__(self, taken: set[str]):
        self.taken = set(taken)

    def __call__(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name


HELPER = re.compile(r"\bruntime\.(\w+)\(")


class _Pass:
    """The rewrite of one function's lines and blocks."""

    def __init__(self, fn: Emitted, owner: str, tapes: dict[str, Tape], fresh: _Fresh):
        self.fn, self.owner, self.tapes, self.fresh = fn, owner, tapes, fresh
        self.where = "its forward sweep"
        self.checks: list = []
        self.bound: set[str] = set()
        self.ranged = _range_targets(fn.body) | _counters(fn.body, set(tapes))
        self.ranges = range_names(fn.body)
        self.literal = literal_ranges(fn.body, set(tapes), _param_names(fn.params))
        self.bound |= {n for t in tapes.values() for n in (t.top, t.cap, t.witness, t.need,
                                                            t.spare)}
        self.bound |= {r.target for t in tapes.values() for r in t.reserves.values()}

    def block(self, items: list) -> list:
        out: list = []
        for item in items:
            if isinstance(item, Block):
                out += reserved(item, self.tapes, self.ranges)
                out.append(self.compound(item))
            elif item.comment:
                text = ir.text(item.parts)
                if text.startswith("# grad of: "):
                    self.where = f"the reverse of `{text[len('# grad of: '):]}`"
                out.append(item)
                if text == "# backward" and items is self.fn.body:
                    out += spares(self.tapes)
            else:
                out += self.line(item)
        return out

    def compound(self, item: Block) -> Block:
        if item.kind in ("try", "with"):
            raise self.refuse(f"a {item.kind} statement")
        head = self.reversed_head(item.head) if item.kind == "for" else item.head
        self.helpers(head)
        return replace(item.rebuilt(self.block), head=head)

    def refuse(self, what: str) -> NumbaUnsupported:
        return NumbaUnsupported(f"the numba backend cannot compile the gradient of "
                                f"{self.owner}: {what}, in {self.where}")

    def line(self, item: Line) -> list:
        parts = item.parts
        if _is_init(item, self.fn.primal) and parts[0].name in self.tapes:
            return made(parts[0].name, self.tapes[parts[0].name])
        if is_push(item, self.tapes):
            return self.push(item)
        if parts[:1] == (RUNTIME,) and str(parts[1]).startswith(".check_arrays("):
            self.checks.append(ir.text(parts))
            return []
        if len(parts) == 3 and parts[1:] == (" = ", "None") and parts[0].name in self.ranged:
            parts = (parts[0], " = 0")  # an int (a range loop's target, a counter), never None
        pops, parts = self.pops(self.handed_on(parts))
        parts = _copies(parts)
        self.helpers(parts)
        return [*pops, replace(item, parts=parts)]

    def helpers(self, parts) -> None:
        for name in HELPER.findall(ir.text(parts)):
            if name not in JIT_HELPERS:
                refused = self.refuse(helper_reason(name))
                refused.helper = name  # the code for some calls may not need it
                raise refused

    def push(self, item: Line) -> list:
        """The value kept at the tape's counter (a value that is no name, in a name first)."""
        stack, value = item.parts[0].name, item.parts[2:-1]
        out = []
        if not (len(value) == 1 and (isinstance(value[0], Ref) or value[0].isidentifier())):
            temp = self.fresh(f"{stack}_item")  # (`a[i].copy()`: an item may be a number)
            out.append(Line((Ref(temp), " = ", *_copies(value)), (temp,)))
            value = (Ref(temp),)
        self.bound.add(stack)
        return out + pushed(item, stack, self.tapes[stack], value)

    def pops(self, parts: tuple) -> tuple[list, tuple]:
        """`S.pop()` in a line: the counter goes down first, then the value is read."""
        out, pops = [], []
        k = 0
        while k < len(parts):
            p = parts[k]
            if isinstance(p, Ref) and p.name in self.tapes and parts[k + 1:k + 2] == (".pop()",):
                top = self.tapes[p.name].top
                pops.append(Line((Ref(top), " -= 1"), (top,)))
                out += popped(p.name, self.tapes[p.name])
                k += 2
                continue
            out.append(p)
            k += 1
        return pops, tuple(out)

    def handed_on(self, parts: tuple) -> tuple:
        """A stack in a split helper's saved values travels with its counter."""
        out = []
        for k, p in enumerate(parts):
            out.append(p)
            if isinstance(p, Ref) and p.name in self.tapes and parts[k + 1:k + 2] != (".pop()",):
                out += [", ", Ref(self.tapes[p.name].top)]
        return tuple(out)

    def reversed_head(self, head: tuple) -> tuple:
        if " in reversed(" not in head:
            return head
        k = head.index(" in reversed(")
        rest = head[k + 1:]
        if rest[-1] == "]):" and "[:" in rest:  # reversed(R[:trips]): a loop left by break
            j = rest.index("[:")
            rest = (*rest[:j], ", ", *rest[j + 1:-1], "):")
        if isinstance(rest[0], Ref) and rest[0].name in self.literal:  # R, bounds told
            start, step = self.literal[rest[0].name]
            rest = (f"range({start}, ", rest[0], f".stop{f', {step}' if step else ''})",
                    *rest[1:])
        return (*head[:k], " in runtime.backwards(", *rest)


def _copies(parts: tuple) -> tuple:
    """`a[i].copy()` -> `runtime.copy(a[i])`: an item of an array is a number in numba."""
    parts = list(parts)
    for k in range(len(parts) - 1, -1, -1):
        p = parts[k]
        if p == "].copy()" or (p == ".copy()" and k and parts[k - 1] == "]"):
            end = k if p == "].copy()" else k - 1
            start = _opening(parts, end)
            if p == ".copy()":
                del parts[k]
            else:
                parts[k] = "]"
            parts.insert(end + 1, ")")
            parts.insert(start, "runtime.copy(")
        elif p == ".copy()" and k and isinstance(parts[k - 1], Ref):
            parts[k] = ")"
            parts.insert(k - 1, "runtime.copy(")
    return tuple(parts)


def _opening(parts: list, end: int) -> int:
    """The place of the name whose subscript closes at parts[end]."""
    depth = 0
    for k in range(end, -1, -1):
        p = parts[k]
        if isinstance(p, str):
            depth += p.count("]") - p.count("[")
            if depth == 0 and "[" in p:
                return k - 1
    raise ValueError("unbalanced subscript")


def _range_targets(body: list) -> set[str]:
    """Names that loops over ranges bind (`for i in i_range:` with `i_range = range(...)`)."""
    ranges = {i.parts[0].name for i in _lines(body) if isinstance(i, Line) and len(
        i.parts) > 3 and isinstance(i.parts[0], Ref) and i.parts[1:4] == (" = ", "range", "(")}
    return {i.target for i in _lines(body) if isinstance(i, Block) and i.target and len(
        i.head) == 5 and isinstance(i.head[3], Ref) and i.head[3].name in ranges}


INT = re.compile(r" [-+]?= \d+")


def _counters(body: list, stacks: set[str]) -> set[str]:
    """Names the NumPy backend binds to None before the tapes are made (a name saved before
    its first binding) and otherwise only to int literals, themselves plus or minus an int,
    and values popped from a tape: ints (`i_trips` of a loop left by break, a while loop's
    counter), whose None can be 0 (one type per variable)."""
    placeholders = set()
    for item in body:
        if _is_init(item, frozenset()) and item.parts[0].name in stacks:
            break
        if isinstance(item, Line) and len(item.parts) == 3 and item.parts[1:] == (
                " = ", "None") and isinstance(item.parts[0], Ref):
            placeholders.add(item.parts[0].name)
    else:
        return set()  # no tape: the Nones are the user's own
    other = set()
    for item in _lines(body):
        if isinstance(item, Block):
            other |= set(item.binds) | ({item.target} if item.target else set())
            continue
        parts, name = item.parts, item.parts[0].name if isinstance(item.parts[0], Ref) else ""
        rest = "".join(p.name if isinstance(p, Ref) else p for p in parts[1:])
        if tuple(item.binds) == (name,) and name in placeholders and (
                rest == " = None" or INT.fullmatch(rest) or re.fullmatch(
                    rf" = {re.escape(name)} [-+] \d+", rest) or (
                    len(parts) == 4 and isinstance(parts[2], Ref) and parts[2].name in stacks
                    and parts[3] == ".pop()")):
            continue
        other |= set(item.binds)
    return placeholders - other
