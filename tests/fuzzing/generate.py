"""Random programs in adjoint's language, as a hypothesis strategy: `programs()`.

A program is a module of helper functions and `f`, with arguments to call `f` on. The
generator knows each name's kind (float scalar, float array of a known shape, int with a known
range, list of floats), so every program runs: shapes broadcast, indices are in bounds, loops
end (`for` over ranges and rows, `while` with an int counter or a sum that grows by at least
0.5 a trip). Values stay in a safe domain: log, sqrt and division only see 1 + x**2 or
1.5 + sin(x), and exp only sin(x).

Derivatives must exist at the drawn point. Each comparison's constant is chosen when the
program first runs it, a distance away from the value compared (`Probe`); a program is
rejected when a later comparison or a kink (abs, max, np.maximum, np.where, np.clip) comes
within MARGIN of its switching point, or when any of them switches at the points where the
central differences of `adjoint.testing.check_grads` (seed 0) evaluate `f`.

Conditions are comparisons, chained comparisons (`C1 < e <= C2`), `and`/`or`/`not`, and tests
of ints (`0 < i < 3`, `i in (0, 2)`) and of dict keys. Comprehensions (`sum(e for i in range(n)
if c)`, `[e for t in xs if c]`, nested `for` clauses, over ranges, rows, lists, enumerate, zip
and dicts) may name their variable like one of the function's; one whose items are read
(stacked, indexed, or summed into an array) is rejected where it has none. Dicts of floats, a
parameter `P` or literals, are read by key and iterated by .items(), .values(), .keys() and
`for k in d`.

Arrays are written in place only where no other name can share their memory (results of
arithmetic, np.zeros, .copy()); a stored view of such an array becomes a copy. Writes into
shared arrays are refused by design, and writes into arguments change the caller's arrays.

Containers as users write them: list and tuple parameters (arrays, numbers, a list of (W, b)
tuples, nested lists such as [[a, b]]), literals, items and slices of them (`xs[1:]`,
`xs[::-1]`, `s = slice(None, -1); xs[s]`, `xs[1:][0]`), unpacking (`W, b = ps[0]`), loops and
comprehensions over them, the stacking family (np.stack, np.vstack, np.hstack,
np.column_stack, np.concatenate, np.r_[...], np.c_[...]) on containers and on single arrays,
recursive helpers (`isinstance(v, list)`), and containers passed through chains of two or
three helpers, each calling the next twice with the same container. Helpers have defaults
(literals, module-level constants, a constant rebound after the def, which Python does not
see), calls leave them out or pass them by keyword, and helpers return mixed tuples
(`return y, None`, `return y, len(p)`, `return y, np.tanh`). Module-level constants and
function globals (`act = np.sin`) are read by the functions, and a program may rebind them
between two calls (`Program.rebinds`): the gradient must follow. A program may be checked
with float32 arrays too (`Program.float32`).

Functions as values (module_functions, each group behind a gate): a module-level list FNS and
dict TABLE of functions (its own, lambdas, np.sin, a callable object OBJ and its bound method
OBJ.method), called as `FNS[1](x)`, `TABLE["wave"](x)`, in `for fn in FNS:` and
`sum(w * phi(x) for w, phi in zip(COEFS, FNS))`, passed to `apply(f, v)`; FNS maybe rebound
between calls. functools.partial made inside (`hp = partial(pk, a, k=b)`), then called and
mapped (`sum(map(hp, X))`, `np.stack(list(map(hp, X)))`), and map of lambdas and NumPy
functions. Closures a factory makes over differentiated values (`fm = make(a, b)`, the factory
maybe bumping `make.count`), then called. Callbacks for their effect in loops (`log(i, v)`,
`show(frame)`), a history kept by `LOG.note(v)`, `LOG.last = v` never read back. `f(...,
**options)` reading `options.get` and passing them on (`hk(x, **options)`; the program's
`kwargs` are passed to each call). `for a, b in zip(*pair(x))`, and `hw(x, *ws)` for helpers
taking `*weights`. Each such function is elementwise: its result has its argument's shape.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import itertools
import math
import operator
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

# Known bugs the generator steers around, each kept as a test in tests/test_regressions.py;
# delete an entry when its bug is fixed, and the generator writes the construct again.
AVOID = {
    "swap_in_loop": "test_write_after_swap_in_loop",  # for: a, b = b, a; then b += 1
    # for _: for t in x: x = sum(... for ...); x[0] = v
    "accumulated_rebind": "test_write_after_accumulated_rebind_in_nested_loop",
    # `v = hw(x, *[c])`, then `for a, b in zip(*pair(v))`: now and then an InternalError
    # "reads v5 where it may not be bound" (the emitted code differs from one compile to the
    # next); the zero gradient of starred arguments alone is fixed
    "starred_calls": "test_starred_call_carries_the_derivative",
    # a partial, closure or mapped lambda made in f and called inside `and`/`or` or a
    # chained comparison (kept as written): InternalError
    "function_made_in_bool_op": "test_partial_called_in_a_chained_comparison",
    # closures made only at f's start, over one of f's arguments: the bug this steered
    # around is fixed (test_closure_called_with_constants); it stays only because the CI
    # sample's coverage of the other new constructs was drawn with it (delete it together
    # with a check of that coverage)
    "closure_passive_call": "test_closure_called_with_constants",
}

# Gates of the constructs below: each is written by default, so the generator reaches the
# class of bugs found in it; a campaign steers around one while its bug is being fixed with
# FUZZ_AVOID=name,name (or by adding it to AVOID). The first group had known bugs when they
# were added (tests/test_reproductions.py).
GATES = {
    "r_c": "np.r_[...] and np.c_[...]",
    "stack_single": "np.vstack, np.hstack, np.stack, np.column_stack, np.concatenate of one array",
    "float32_extrema": "float32 arguments in programs with max, min, np.maximum or np.minimum",
    "list_slice": "slices of lists and tuples (x[1:], x[::-1], x[slice(None, -1)])",
    "container_helpers": "lists and tuples passed to helpers (chains of two and three)",
    "nested_containers": "nested containers ([[a, b]], [(W, b), (W2, b2)])",
    "container_recursion": "recursive helpers over nested lists (isinstance(v, list))",
    "global_defaults": "defaults naming module-level constants, rebound after the def",
    "tril_nan": "np.tril/np.triu/np.where masking an infinite derivative (sqrt of 0)",
    # and the rest
    "swap_in_branch": "a, b = b, a in a branch, then a write into one of them",
    "key_in_tuple": "a dict's key tested with `key in (...)` (in loops over the dict)",
    "call_returned_function": "calling a function a helper returned (y, g = h(x); g(y))",
    "global_methods": "module-level arrays read as names (their attributes, methods)",
    "float32": "float32 array arguments (the gradient's dtype is the argument's)",
    "rebind_const": "module-level constants rebound between two calls",
    "rebind_function": "module-level function globals rebound between two calls",
    "mixed_returns": "helpers returning (y, None), (y, len(p)), (y, np.tanh)",
    "containers": "list and tuple parameters and literals",
    "names_bound_in_loops": "names a loop binds, read after it (in an outer loop's trip)",
    "object_state": "a module-level object's attribute read, set, and changed by its method",
    # functions as values (each drawn with probability GATE_CHANCE by module_functions)
    "function_values": "lists and dicts of functions (helpers, lambdas, np.sin) called by "
                       "index, in loops and zips; a helper given a function; a callable "
                       "object and a bound method of module-level objects",
    "partials": "functools.partial made inside with values that carry a derivative, called "
                "and mapped; map and sum(map(...)) of lambdas and NumPy functions",
    "closure_factories": "closures a module-level factory makes over differentiated values "
                         "(bumping a counter on itself), then called",
    "callbacks": "callbacks called for their effect (TRACE.append((i, v)), frame.copy()), a "
                 "method keeping a history, an attribute written and never read back",
    "kwargs": "f taking **options, read with options.get and passed on to a helper's **kw",
    "star_zip": "for a, b in zip(*pair(x)), pair returning two sequences",
    "starred_calls": "calls hw(x, *ws) of a helper taking *weights",
}
GATE_CHANCE = 0.12  # of each gate of functions as values, in a program
PAST = ["write_helper_result", "helper_writes_float_argument", "comp_var_named_as_its_iterable",
        "dict_keys_loop_unread", "comp_assigned_to_a_name_it_reads"]  # gates of fixed bugs
for _name in filter(None, os.environ.get("FUZZ_AVOID", "").split(",")):
    if _name not in GATES and _name not in PAST and _name not in AVOID:
        raise ValueError(f"FUZZ_AVOID names {_name!r}, not one of {', '.join(GATES)}")
    AVOID[_name] = "FUZZ_AVOID"

MARGIN = 1e-3  # no comparison or kink this close to switching at the drawn point
FD_EPS = 1e-6  # check_grads' default step
MAX_TRIPS = 16  # loop iterations in one nest of loops
MAX_SLOPE = 1e4  # steepest directional derivative (relative to 1 + |f|) worth checking
CONSTS = ["0.5", "1.5", "2.0", "0.3", "-0.7", "3.0", "-1.2"]


# ---------------------------------------------------------------- program text


class Slot:
    """A rendered argument; `{0:o}` in a template parenthesizes it when it is an operator."""

    def __init__(self, text: str, op: bool):
        self.text, self.op = text, op

    def __format__(self, spec: str) -> str:
        return f"({self.text})" if spec == "o" and self.op else self.text


@dataclass(eq=False)
class Expr:
    fmt: str
    args: tuple = ()
    op: bool = False  # an operator at the top: parenthesized where it is an operand
    probe: str | None = None  # the template while probing (records kinks)
    refs: frozenset = frozenset()  # names whose memory the value may share
    kind: str = "a"  # 'a' float (array or scalar), 'i' int
    logic: bool = False  # `and`, `or` or `not` at the top: parenthesized inside another
    seqargs: dict | None = None  # a call's arguments: the containers passed, by parameter

    def render(self, ctx: Ctx) -> str:
        fmt = self.probe if ctx.probing and self.probe else self.fmt
        return fmt.format(*(Slot(a.render(ctx), a.op) for a in self.args))


@dataclass(eq=False)
class Cmp(Expr):
    """`lhs > C`, C chosen at the first run: C = value + offset (times 1 + |value| if rel)."""

    k: int = 0
    rel: bool = True
    offset: float = 0.5

    def render(self, ctx: Ctx) -> str:
        lhs = Slot(self.args[0].render(ctx), self.args[0].op)
        if ctx.probing:
            return f"_P.cmp({self.k}, {lhs}, {self.fmt!r}, {self.offset!r}, {self.rel})"
        return f"{lhs:o} {self.fmt} {ctx.consts.get(self.k, self.offset)!r}"


@dataclass(eq=False)
class Chain(Expr):
    """`C1 op1 lhs op2 C2`, both constants chosen at the first run like Cmp's (`ops` and
    `offsets` in that order; the first comparison reads `lhs op1' C1` with op1 flipped)."""

    ks: tuple = (0, 0)
    ops: tuple = ("<", "<")
    offsets: tuple = (-0.5, 0.5)
    rel: bool = True

    def render(self, ctx: Ctx) -> str:
        lhs = Slot(self.args[0].render(ctx), self.args[0].op)
        if ctx.probing:
            return (f"_P.chain({self.ks!r}, {lhs}, {self.ops!r}, {self.offsets!r}, "
                    f"{self.rel})")
        (k1, k2), (o1, o2) = self.ks, self.offsets
        c1, c2 = ctx.consts.get(k1, o1), ctx.consts.get(k2, o2)
        return f"{c1!r} {self.ops[0]} {lhs:o} {self.ops[1]} {c2!r}"


@dataclass
class Ctx:
    probing: bool
    consts: dict


@dataclass(eq=False)
class Line:
    fmt: str
    args: tuple = ()

    def render(self, ctx: Ctx, ind: str) -> list[str]:
        return [ind + Expr(self.fmt, self.args).render(ctx)]


@dataclass(eq=False)
class Block:
    fmt: str  # the header, e.g. "if {0}:"
    args: tuple
    body: list
    orelse: list | None = None

    def render(self, ctx: Ctx, ind: str) -> list[str]:
        out = [ind + Expr(self.fmt, self.args).render(ctx)]
        for s in self.body:
            out += s.render(ctx, ind + "    ")
        if self.orelse:
            first = self.orelse[0]
            if len(self.orelse) == 1 and isinstance(first, Block) and first.fmt == "if {0}:":
                inner = first.render(ctx, ind)
                out += [ind + "el" + inner[0][len(ind):]] + inner[1:]
            else:
                out.append(ind + "else:")
                for s in self.orelse:
                    out += s.render(ctx, ind + "    ")
        return out


@dataclass(eq=False)
class Def:
    name: str
    params: list[str]  # as written, defaults included
    body: list

    def render(self, ctx: Ctx) -> list[str]:
        out = [f"def {self.name}({', '.join(self.params)}):"]
        for s in self.body:
            out += s.render(ctx, "    ")
        return out


UNKNOWN = frozenset(["<a call through a value>"])  # what its result may share, unknown


def name(n: str, kind: str = "a") -> Expr:
    return Expr(n, refs=frozenset([n]), kind=kind)


def const(text: str) -> Expr:
    return Expr(text, op=text.startswith("-"))


def fresh_copy(e: Expr, shape) -> Expr:
    """A copy that shares nothing (`float` for scalars: adjoint's points-to sees through
    nothing else)."""
    return Expr("np.copy({0})" if shape else "float({0})", (e,))


class Hang(BaseException):
    """A program, or its gradient, ran past its time limit (a BaseException, so that no
    `except Exception` on the way swallows it and runs on)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise Hang when the block runs longer than `seconds` (main thread, Unix; nests)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")

    outer = signal.getitimer(signal.ITIMER_REAL)[0]
    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


@contextlib.contextmanager
def own_constants():
    """Hypothesis now and then draws a constant it found in the source of the local modules
    loaded so far (adjoint's, the tests'): the programs of a seed would change with an edit
    anywhere, or with the tests that ran before. Inside this block it draws none of them, so
    a seed (and CI's derandomized sample) writes the same programs."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.floats import float_to_int
        from sortedcontainers import SortedSet

        empty = providers.Constants(integers=SortedSet(), floats=SortedSet(key=float_to_int),
                                    bytes=SortedSet(), strings=SortedSet())
        saved = providers._get_local_constants
    except (ImportError, AttributeError, TypeError):  # another version of hypothesis
        yield
        return
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = saved
        providers.CONSTANTS_CACHE.cache.clear()


# ---------------------------------------------------------------- probing


class Reject(Exception):
    """The program is fine, but not at this point: a comparison or kink is too close."""


class Probe:
    """Bound to `_P` while the probing version of a program runs: chooses the constants of
    comparisons at their first run and records how close each comparison and kink came to
    switching (`margin`) and which way each went (`trace`)."""

    OPS = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}

    def __init__(self, consts: dict | None = None):
        self.fixed = consts is not None
        self.consts = dict(consts or {})
        self.margin = math.inf
        self.trace: list = []

    def cmp(self, k: int, value, op: str, offset: float, rel: bool) -> bool:
        v = float(value)
        if k not in self.consts:
            if self.fixed:
                raise Reject
            self.consts[k] = round(v + offset * (1 + abs(v) if rel else 1), 3)
        c = self.consts[k]
        self.margin = min(self.margin, abs(v - c))
        result = self.OPS[op](v, c)
        self.trace.append((k, result))
        return result

    FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">="}

    def chain(self, ks: tuple, value, ops: tuple, offsets: tuple, rel: bool) -> bool:
        """`C1 op1 value op2 C2`: both sides are measured, whichever decides."""
        first = self.cmp(ks[0], value, self.FLIP[ops[0]], offsets[0], rel)
        second = self.cmp(ks[1], value, ops[1], offsets[1], rel)
        return first and second

    @staticmethod
    def total(items: list, nonempty: bool):
        """sum(items) of a comprehension; an empty one is rejected where its sum would be
        the int 0 and not an array."""
        if nonempty and not items:
            raise Reject
        return sum(items)

    @staticmethod
    def nonempty(items: list) -> list:
        """A stored list comprehension: its items are read by index and stacked."""
        if not items:
            raise Reject
        return items

    def gap(self, k: int, a, b):
        d = np.asarray(a - b, dtype=float)
        if d.size:
            self.margin = min(self.margin, float(np.min(np.abs(d))))
        self.trace.append((k, tuple(np.sign(d).ravel())))
        return a

    def offdiag(self, k: int, d):
        """Squared distances whose diagonal is masked: the others kept away from 0."""
        d = np.asarray(d, dtype=float)
        off = d[~np.eye(len(d), dtype=bool)]
        if off.size:
            self.margin = min(self.margin, float(np.min(off)))
        self.trace.append((k, ()))
        return d

    def ties(self, k: int, a, axis=None):
        """No ties among the values np.max/np.min choose from."""
        x = np.asarray(a, dtype=float)
        x, axis = (x.ravel(), 0) if axis is None else (x, axis)
        if x.shape[axis] > 1:
            gaps = np.diff(np.sort(x, axis=axis), axis=axis)
            self.margin = min(self.margin, float(np.min(gaps)))
        self.trace.append((k, tuple(np.argsort(x, axis=axis).ravel())))
        return a


# ---------------------------------------------------------------- kinds of names


@dataclass(frozen=True)
class Seq:
    """The structure of a list or tuple of known length: each item a shape (a float of that
    shape) or a Seq."""

    kind: str  # 'list' or 'tuple'
    items: tuple

    def text(self, parts: list[str]) -> str:
        """A literal of this kind holding `parts`."""
        if self.kind == "tuple":
            return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
        return f"[{', '.join(parts)}]"


def leaves(struct) -> list[tuple]:
    """The shapes of the floats a structure holds, in order."""
    if isinstance(struct, Seq):
        return [s for item in struct.items for s in leaves(item)]
    return [struct]


def nested(struct) -> bool:
    return isinstance(struct, Seq) and any(isinstance(i, Seq) for i in struct.items)


def has_tuple(struct) -> bool:
    return isinstance(struct, Seq) and (struct.kind == "tuple" or any(
        has_tuple(i) for i in struct.items))


def uniform(seq: Seq):
    """The one structure all items of `seq` share, or None."""
    first = seq.items[0]
    return first if all(i == first for i in seq.items) else None


@dataclass
class Var:
    kind: str  # 's' float scalar, 'a' float array, 'i' int, 'l' list of floats,
    # 'd' dict of floats by str key, 'k' a key of a dict (in a loop over it),
    # 'c' a list or tuple of known structure (seq), 'z' a slice object (slc),
    # 'f' a function of floats (fn)
    shape: tuple = ()  # of the array, or of each item of the list
    lo: int = 0  # an int's range
    hi: int = 0
    owned: bool = False  # no other name shares its memory: writable in place
    keys: tuple = ()  # a dict's (key, shape) pairs; a key variable's possible keys
    seq: Seq | None = None
    slc: tuple | None = None  # (start, stop, step)
    fn: tuple | None = None  # (shape of its argument, of its result); None: any, the same
    made: str = ""  # a function made here: 'partial' (mapped too) or 'closure' (only called);
    # 'value': a loop's item of FNS or TABLE


@dataclass
class Helper:
    name: str
    params: list[tuple[str, Var]]
    returns: list[tuple]  # shapes, or ("none",), ("int", value), ("fn", Var) in a mixed tuple
    defaults: int = 0  # how many of the last parameters have defaults
    written: frozenset = frozenset()  # float parameters it writes in place (q += ...)

    @property
    def floats(self) -> list[tuple]:
        """The shapes of the float results."""
        return [r for r in self.returns if not (r and isinstance(r[0], str))]


@dataclass
class CompState:
    """The variables one comprehension binds while its element and conditions are drawn."""

    fixed: set  # Gen.fixed before it
    saved: dict = field(default_factory=dict)  # name -> its Var outside (None: unbound)
    src: dict = field(default_factory=dict)  # name -> what its values may share
    names: list = field(default_factory=list)
    read: set = field(default_factory=set)  # words of its conditions so far


@dataclass
class Calls:
    """The module-level functions as values a program has (module_functions), for its
    functions to call."""

    fns: list = field(default_factory=list)  # FNS's items (text): elementwise functions
    table: list = field(default_factory=list)  # TABLE's keys: a dict of them
    coefs: int = 0  # COEFS: a list of that many numbers
    apply: bool = False  # apply(f, v) calls the function it is given
    values: list = field(default_factory=list)  # module-level functions to pass to apply
    obj: bool = False  # OBJ: a callable object, with a method `method`
    log: bool = False  # LOG: an object whose method `note` keeps a history, returning
    partials: list = field(default_factory=list)  # (function, 'pos' or 'kw'): to fix values of
    factories: list = field(default_factory=list)  # (factory, takes a default b)
    callbacks: list = field(default_factory=list)  # (function, 'pair' or 'frame')
    kwargs: bool = False  # f takes **options; hk(p, **kw) reads them
    pairs: list = field(default_factory=list)  # (function, 'arrays' or 'lists')
    starred: list = field(default_factory=list)  # (function, 'loop' or 'unpack'): *weights


@dataclass
class Builder:
    """What one program's functions share: shapes, helpers, fresh names, probe ids."""

    pool: list
    helpers: list = field(default_factory=list)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    probes: itertools.count = field(default_factory=lambda: itertools.count(1))
    globals: dict = field(default_factory=dict)  # module-level names -> Var (read only)
    values: dict = field(default_factory=dict)  # module-level names -> their value as text
    module: list = field(default_factory=list)  # module-level lines and defs, in order
    seqs: list = field(default_factory=list)  # container structures in play
    recursive: dict = field(default_factory=dict)  # 'flat'/'total' -> whether it takes tuples
    state: bool = False  # a module-level object STATE whose attribute `scale` changes
    calls: Calls = field(default_factory=Calls)  # module-level functions as values

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"


# ---------------------------------------------------------------- the generator


class Gen:
    """Draws the statements of one function, keeping `env` (name -> Var) up to date."""

    def __init__(self, draw, b: Builder, params: dict[str, Var], main: bool):
        self.draw, self.b, self.main = draw, b, main
        self.env: dict[str, Var] = {**copy.deepcopy(b.globals), **params}
        self.trips = 1  # iterations of the loops around the current statement
        self.loop = None  # 'for' or 'while' when inside a loop
        # loop counters and items, module-level names: never reassigned
        self.fixed: set[str] = set(b.globals)
        self.loop_owned: set[str] = set()  # owned where an enclosing loop starts
        self.comp_depth = 0  # comprehensions around the current expression
        self.iterated: set[str] = set()  # arrays iterated by a for-in inside another loop
        self.must: list[Expr] = []  # terms every result adds (calls the program must make)
        self.jumps = 0  # break/continue statements drawn in the current loop's body
        self.options = main and b.calls.kwargs  # f's **options, read here
        self.made_name: str | None = None  # what the last use of a function value bound
        self.chaining = 0  # drawing an operand of `and`, `or`, a chained comparison

    # ---- drawing; the first option is the simplest, where shrinking goes

    def pick(self, options):
        options = [(w, v) for w, v in options if w > 0]
        r = self.draw(st.integers(0, sum(w for w, _ in options) - 1))
        for w, v in options:
            if r < w:
                return v
            r -= w
        raise AssertionError

    def choice(self, seq):
        return seq[self.draw(st.integers(0, len(seq) - 1))]

    def chance(self, p: float) -> bool:
        return self.draw(st.integers(0, 99)) >= 100 - round(100 * p)

    def probe_id(self) -> int:
        return next(self.b.probes)

    # ---- names

    def floats(self, shape) -> list[str]:
        return [n for n, v in self.env.items() if v.kind in "sa" and v.shape == shape]

    def arrays(self, ndim: int | None = None) -> list[str]:
        return [n for n, v in self.env.items()
                if v.kind == "a" and (ndim is None or len(v.shape) == ndim)]

    def ints(self, lo: int = -10**9, hi: int = 10**9) -> list[str]:
        return [n for n, v in self.env.items() if v.kind == "i" and lo <= v.lo and v.hi <= hi]

    def lists(self, shape=None) -> list[str]:
        return [n for n, v in self.env.items()
                if v.kind == "l" and (shape is None or v.shape == shape)]

    def dicts(self) -> list[str]:
        return [n for n, v in self.env.items() if v.kind == "d"]

    def keyvars(self) -> list[str]:
        return [n for n, v in self.env.items() if v.kind == "k"]

    def dims(self) -> list[int]:
        return sorted({d for s in self.b.pool for d in s})

    def kind_of(self, shape) -> str:
        return "s" if shape == () else "a"

    def unshared(self, e: Expr, shape) -> Expr:
        """`e`, or a copy of it when it may share the memory of a name written in place."""
        if any(self.env.get(r, Var("s")).owned for r in e.refs):
            return fresh_copy(e, shape)
        return e

    def store(self, e: Expr, shape) -> tuple[Expr, bool]:
        """The expression to store under a name, and whether the name then owns its value:
        no other name may share its memory, so it may be written in place (`y[i] = v`,
        `y += v`; adjoint counts `s += v` on a number as in place too)."""
        e = self.unshared(e, shape)
        return e, not e.refs

    def bind(self, target: str, e: Expr, shape) -> Expr:
        old = self.env.get(target)
        if "accumulated_rebind" in AVOID and target in self.iterated and \
                e.fmt.startswith("sum("):
            e = fresh_copy(e, shape)
        e, owned = self.store(e, shape)
        if not owned and old is not None and (old.owned or target in self.loop_owned):
            if self.loop:  # the writes of the next trip expect an array of its own
                e, owned = fresh_copy(e, shape), True
        self.env[target] = Var(self.kind_of(shape), shape, owned=owned)
        return e

    def writable(self, arrays_only: bool) -> list[str]:
        """Names that may be written in place."""
        return [n for n, v in self.env.items() if v.owned and n not in self.fixed
                and (v.kind == "a" or (v.kind == "s" and not arrays_only))]

    # ---- expressions

    def expr(self, shape, budget: int) -> Expr:
        if budget <= 0:
            return self.leaf(shape)
        b = budget - 1
        opts = [(6, lambda: self.leaf(shape)), (4, lambda: self.unary(shape, b)),
                (5, lambda: self.binary(shape, b)), (1, lambda: self.kink(shape, b)),
                (1, lambda: self.ifexp(shape, b)),
                (1, lambda: self.with_int(shape, b))]
        if shape == ():
            opts += [(4, lambda: self.reduce(b)), (2, lambda: self.element(b)),
                     (1, lambda: self.dot(b))]
            if "tril_nan" not in AVOID:
                opts.append((1, lambda: self.masked_sqrt(b)))
        else:
            opts += [(3, lambda: self.shaped(shape, b))]
        calls = [h for h in self.b.helpers if shape in h.floats]
        if calls:
            opts.append((2, lambda: self.call(self.choice(calls), shape, b)))
            seq_calls = [h for h in calls if any(v.kind == "c" for _, v in h.params)]
            if seq_calls:  # the same container passed to the same helper twice
                opts.append((1, lambda: self.call_twice(self.choice(seq_calls), shape, b)))
        if self.lists(shape) or (shape == () and self.lists()):
            opts.append((2, lambda: self.from_list(shape, b)))
        if self.has_seqs():  # (the forms are many: found only when chosen)
            opts.append((2, lambda: self.from_seq(shape, b)))
        if self.comp_depth == 0 or (self.comp_depth == 1 and self.chance(0.2)):
            opts.append((1, lambda: self.comp_sum(shape, b)))
        if self.b.calls.partials:
            opts.append((1, lambda: self.mapped(shape, b)))
        return self.pick(opts)()

    def leaf_without_items(self, shape) -> Expr:
        return self.leaf(shape, items=False)

    def leaf(self, shape, items: bool = True) -> Expr:
        names = self.floats(shape)
        local = [n for n in names if n not in self.b.globals]
        opts = []
        if local:
            opts.append((8, lambda: name(self.choice(local))))
        if len(local) < len(names) and (shape == () or "global_methods" not in AVOID):
            opts.append((1, lambda: name(self.choice([n for n in names if n not in local]))))
        entries = [(d, k) for d in self.dicts() for k, s in self.env[d].keys if s == shape]
        if entries:
            opts.append((3, lambda: self.entry(*self.choice(entries))))
        if items and self.has_seqs():
            opts.append((3, lambda: self.item_read(shape)))
        if items and self.has_seqs(module=True):
            opts.append((1, lambda: self.item_read(shape, module=True)))
        if shape == ():
            opts.append((1, lambda: const(self.choice(CONSTS))))
            if self.b.state:
                opts.append((1, lambda: const("STATE.scale")))
            if self.options:
                opts.append((1, lambda: const(self.choice(
                    ['options.get("scale", 1.0)', 'options.get("shift", 0.0)',
                     'options.get("gain", 2.0)']))))
            if self.ints():
                opts.append((1, lambda: Expr("float({0})", (self.int_expr(),))))
        else:
            opts.append((1 if names else 4, lambda: self.broadcast(shape)))
        return self.pick(opts)()

    @staticmethod
    def entry(d: str, key: str) -> Expr:
        """A dict's value read by key (it shares the dict's memory)."""
        return Expr(f'{d}["{key}"]', refs=frozenset([d]))

    def broadcast(self, shape) -> Expr:
        """An array of this shape from a smaller name (or a constant)."""
        smaller = [s for s in [(), shape[-1:]] if s != shape]
        names = [n for s in smaller for n in self.floats(s)]
        if names:
            src = name(self.choice(names))
        else:
            src = const(self.choice(CONSTS))
        form = self.choice(["{0:o} * np.ones(S)", "np.zeros(S) + {0:o}",
                            "np.broadcast_to({0}, S) * 1.0"])
        return Expr(form.replace("S", repr(shape)), (src,), op=True)

    def operand_shapes(self, shape) -> tuple:
        """Two shapes that broadcast to `shape`, at least one of them equal to it."""
        other = self.choice([shape, (), shape[-1:]] if shape else [()])
        return (shape, other) if self.chance(0.5) else (other, shape)

    UNARY = ["np.sin({0})", "np.cos({0})", "np.tanh({0})", "-{0:o}", "{0:o} ** 2",
             "np.exp(np.sin({0}))", "np.log(1.0 + {0:o} ** 2)", "np.sqrt(1.0 + {0:o} ** 2)",
             "{0:o} / (1.0 + {0:o} ** 2)", "np.arctan({0})", "np.square({0})",
             "np.arcsinh({0})", "np.log1p({0:o} ** 2)", "np.expm1(np.tanh({0}))",
             "np.cosh(np.tanh({0}))", "np.hypot({0}, 1.0)", "np.logaddexp({0}, 0.5)",
             "2.0 * {0:o}", "{0:o} - 1.0", "np.cbrt(2.0 + np.sin({0}))", "np.positive({0})"]
    MATH = ["math.sin({0})", "math.exp(math.tanh({0}))", "math.sqrt(1.0 + {0:o} ** 2)",
            "math.log(1.0 + {0:o} ** 2)", "math.atan({0})", "float({0})", "math.cos({0})",
            "math.tanh({0})", "abs(math.tanh({0}) + 2.0)", "math.hypot({0}, 1.0)",
            "pow({0}, 2)"]

    def unary(self, shape, b: int) -> Expr:
        fns = [n for n, v in self.env.items() if v.kind == "f"
               and (v.fn[1] is None or v.fn[1] == shape)
               and (n in self.b.globals or v.made or "call_returned_function" not in AVOID)]
        values = self.value_calls(shape, b)
        if values and self.chance(0.3):
            return self.choice(values)()
        made = [n for n in fns if self.env[n].made and not self.unmade(n)]
        if made and self.chance(0.4):  # a function made here, or FNS's item: a copy goes in
            g, a = self.choice(made), self.arg(shape, b)
            return Expr(f"{g}({{0}})", (a,),
                        refs=a.refs | (UNKNOWN if self.env[g].made == "value" else frozenset()))
        fns = [n for n in fns if not self.env[n].made]
        if fns and self.chance(0.4):
            g = self.choice(fns)
            arg = self.env[g].fn[0]
            e = self.expr(shape if arg is None else arg, b)
            # (a function a helper returned: adjoint takes its result to share memory)
            return Expr(f"{g}({{0}})", (e,),
                        refs=frozenset() if g in self.b.globals else e.refs | UNKNOWN)
        t = self.choice(self.UNARY + (self.MATH if shape == () else []))
        return Expr(t, (self.expr(shape, b),), op=not t[0].isalpha())

    BINARY = ["{0:o} + {1:o}", "{0:o} - {1:o}", "{0:o} * {1:o}", "{0:o} / (1.5 + np.sin({1}))",
              "{0:o} / (1.0 + {1:o} ** 2)", "np.add({0}, {1})", "np.multiply({0}, {1})",
              "np.power(1.0 + {0:o} ** 2, np.sin({1}))", "np.logaddexp({0}, {1})",
              "np.arctan2({0}, 2.0 + np.cos({1}))", "np.subtract({0}, {1})",
              "np.hypot({0}, 1.0 + {1:o} ** 2)", "np.divide({0}, 2.0 + np.tanh({1}))"]

    def binary(self, shape, b: int) -> Expr:
        t = self.choice(self.BINARY)
        s0, s1 = self.operand_shapes(shape)
        return Expr(t, (self.expr(s0, b), self.expr(s1, b)), op=not t[0].isalpha())

    def nonscalar_shape(self) -> tuple:
        return self.choice([s for s in self.b.pool if s])

    REDUCE = ["np.sum({0})", "np.mean({0})", "{0:o}.sum()", "{0:o}.mean()", "np.prod({0})",
              "np.linalg.norm(1.0 + {0:o} ** 2)", "np.sum({0}, axis=None)",
              "np.average({0})", "np.nansum({0})", "math.fsum(np.ravel({0}))"]

    def reduce(self, b: int) -> Expr:
        s = self.nonscalar_shape()
        opts = [(10, "np.sum({0})"), (len(self.REDUCE), None)]
        t = self.pick(opts) or self.choice(self.REDUCE)
        if math.prod(s) > 1 and self.chance(0.15):
            t = self.choice(["np.std({0})", "np.var({0})"])
        elif len(s) == 2 and "stack_single" not in AVOID and self.chance(0.15):
            t = self.choice(["np.sum(np.concatenate({0}) ** 2)", "np.mean(np.hstack({0}))",
                             "np.sum(np.sin(np.vstack({0})))", "np.sum(np.column_stack({0}))"])
        return Expr(t, (self.expr(s, b),))

    def masked_sqrt(self, b: int) -> Expr:
        """Distances between the rows of an array, their zero diagonal left out by np.tril,
        np.triu or np.where: sqrt's infinite derivative there must not reach the gradient
        (the rows are kept MARGIN apart)."""
        p, q = self.choice([s for s in self.b.pool if len(s) == 2])
        k = self.probe_id()
        sq = "np.sum(({0:o}[:, None, :] - {0:o}[None, :, :]) ** 2, axis=-1)"
        mask = self.choice(["np.tril(np.sqrt(@D), -1)", "np.triu(np.sqrt(@D), 1)",
                            "np.tril(np.sqrt(@D), k=-1)",
                            f"np.where(np.eye({p}) > 0.0, 0.0, np.sqrt(@D))"])
        outer = self.choice(["np.sum(@M)", "np.sum(@M ** 2)", "np.sum(np.sin(@M))"])
        fmt = outer.replace("@M", mask)
        return Expr(fmt.replace("@D", sq), (self.expr((p, q), b),),
                    probe=fmt.replace("@D", f"_P.offdiag({k}, {sq})"))

    def element(self, b: int) -> Expr:
        s = self.nonscalar_shape()
        idx = ", ".join(f"{{{k + 1}}}" for k in range(len(s)))
        return self.view("{0:o}[" + idx + "]", self.expr(s, b), *[self.index(d) for d in s])

    def dot(self, b: int) -> Expr:
        s = self.choice([s for s in self.b.pool if len(s) == 1])
        t = self.choice(["np.dot({0}, {1})", "{0:o} @ {1:o}", "np.inner({0}, {1})",
                         "np.vdot({0}, {1})", "{0:o}.dot({1})"])
        return Expr(t, (self.expr(s, b), self.expr(s, b)), op="@" in t)

    def shaped(self, shape, b: int) -> Expr:
        """Arrays from arrays of other shapes: reductions along an axis, products, rows,
        slices, transposes, stacks."""
        opts = []
        E = self.expr
        twod = [s for s in self.b.pool if len(s) == 2]
        if len(shape) == 1:
            d = shape[0]
            for p, q in twod:
                if q == d:
                    opts += [
                        (2, lambda p=p, q=q: Expr(self.choice(
                            ["np.sum({0}, axis=0)", "{0:o}.mean(axis=0)",
                             "np.cumsum({0}, axis=0)[-1]"]), (E((p, q), b),))),
                        (2, lambda p=p, q=q: Expr("{0:o} @ {1:o}", (E((p,), b), E((p, q), b)),
                                                  op=True)),
                        (2, lambda p=p, q=q: self.view("{0:o}[{1}]", E((p, q), b), self.index(p))),
                        (1, lambda p=p, q=q: Expr("{0:o}.T @ {1:o}", (E((p, q), b), E((p,), b)),
                                                  op=True)),
                        (3, lambda p=p, q=q: Expr("np.einsum('ij,i->j', {0}, {1})",
                                                  (E((p, q), b), E((p,), b))))]
                if p == d:
                    opts += [
                        (2, lambda p=p, q=q: Expr(self.choice(
                            ["np.sum({0}, axis=1)", "{0:o}.mean(axis=-1)", "np.prod({0}, axis=1)"]),
                            (E((p, q), b),))),
                        (2, lambda p=p, q=q: Expr(
                            self.choice(["{0:o} @ {1:o}", "np.dot({0}, {1})"]),
                            (E((p, q), b), E((q,), b)), op=True)),
                        (2, lambda p=p, q=q: self.view("{0:o}[:, {1}]", E((p, q), b),
                                                       self.index(q))),
                        (3, lambda p=p, q=q: Expr("np.einsum('ij,j->i', {0}, {1})",
                                                  (E((p, q), b), E((q,), b))))]
                if p * q == d:
                    opts.append((1, lambda p=p, q=q: self.view(
                        self.choice(["{0:o}.ravel()", "{0:o}.reshape(-1)", "np.ravel({0})"]),
                        E((p, q), b))))
            for (L,) in [s for s in self.b.pool if len(s) == 1]:
                if L > d:
                    a = self.draw(st.integers(0, L - d))
                    opts.append((1, lambda L=L, a=a: self.view(f"{{0:o}}[{a}:{a + d}]",
                                                               E((L,), b))))
            opts += [(1, lambda: self.view("{0:o}[::-1]", E(shape, b))),
                     (1, lambda: Expr("np.cumsum({0})", (E(shape, b),)))]
            if d >= 2:
                a = self.draw(st.integers(1, d - 1))
                opts.append((1, lambda: Expr("np.concatenate([{0}, {1}])",
                                             (E((a,), b), E((d - a,), b)))))
        else:
            p, q = shape
            opts += [(2, lambda: Expr("np.outer({0}, {1})", (E((p,), b), E((q,), b)))),
                     (3, lambda: Expr("np.einsum('i,j->ij', {0}, {1})", (E((p,), b), E((q,), b)))),
                     (1, lambda: Expr("{0:o}[:, None] * {1:o}", (E((p,), b), E((q,), b)),
                                      op=True)),
                     (2, lambda: self.view(self.choice(["{0:o}.T", "np.transpose({0})"]),
                                           E((q, p), b))),
                     (1, lambda: Expr(self.choice(["np.tril({0})", "np.triu({0})"]),
                                      (E(shape, b),)))]
            for r in self.dims():
                opts.append((1, lambda r=r: Expr("{0:o} @ {1:o}", (E((p, r), b), E((r, q), b)),
                                                 op=True)))
            if p == 2:
                opts.append((1, lambda: Expr("np.stack([{0}, {1}])", (E((q,), b), E((q,), b)))))
            if q == 2:
                opts.append((1, lambda: Expr("np.stack([{0}, {1}], axis=1)",
                                             (E((p,), b), E((p,), b)))))
        opts += self.stacked(shape, b)
        return self.pick(opts)()

    def seq_of(self, shapes, b: int) -> tuple[str, tuple]:
        """A list or tuple literal of expressions of `shapes`: its template and arguments."""
        slots = [f"{{{k}}}" for k in range(len(shapes))]
        return Seq(self.choice(["list", "tuple"]), ()).text(slots), \
            tuple(self.expr(s, b) for s in shapes)

    def stacked(self, shape, b: int) -> list:
        """The stacking family, np.r_ and np.c_: on lists and tuples of arrays, and on one
        array (`np.vstack(A)` stacks A's rows, `np.hstack(x)` its entries)."""
        E, opts = self.expr, []
        single = "stack_single" not in AVOID
        rc = "r_c" not in AVOID

        def add(w, fmt, *shapes):
            opts.append((w, lambda: Expr(fmt, tuple(E(s, b) for s in shapes))))

        def add_seq(w, fmt, shapes):
            def make():
                text, args = self.seq_of(shapes, b)
                return Expr(fmt.replace("SEQ", text), args)
            opts.append((w, make))

        if len(shape) == 1:
            (d,) = shape
            if single:
                for fmt in ["np.hstack({0})", "np.stack({0})", "np.vstack({0})[:, 0]",
                            "np.column_stack({0})[0]", "np.vstack({0}).ravel()"]:
                    add(1, fmt, shape)
                for s2 in [s for s in self.b.pool if len(s) == 2 and math.prod(s) == d]:
                    add(1, "np.hstack({0})", s2)
                    add(1, "np.concatenate({0})", s2)
                for s2 in [s for s in self.b.pool if len(s) == 2 and s[0] == d]:
                    add(1, "np.column_stack({0})[0]", s2)
                for s2 in [s for s in self.b.pool if len(s) == 2 and math.prod(s) > d]:
                    add(1, f"np.concatenate({{0}})[:{d}]", s2)
                    add(1, f"np.hstack({{0}})[-{d}:]", s2)
            if rc:
                add(1, "np.r_[{0}]", shape)
                add(1, "np.c_[{0}][:, 0]", shape)
                add(1, "np.r_[{1}, {0}][1:]", shape, ())
                add(1, "np.c_[{0}, {1}][:, 1]", shape, shape)
                if d >= 2:
                    a = self.draw(st.integers(1, d - 1))
                    add(2, "np.r_[{0}, {1}]", (a,), (d - a,))
                    add(1, "np.r_[{0}, {1}]", (d - 1,), ())
            if d >= 2:
                a = self.draw(st.integers(1, d - 1))
                for fmt in ["np.hstack(SEQ)", "np.concatenate(SEQ)"]:
                    add_seq(1, fmt, [(a,), (d - a,)])
            for fmt in ["np.hstack(SEQ)", "np.stack(SEQ)", "np.array(SEQ)"]:
                add_seq(1, fmt, [()] * d)
            if d <= 4:
                add_seq(1, "np.column_stack(SEQ)[0]", [()] * d)
                add_seq(1, "np.vstack(SEQ)[:, 0]", [()] * d)
            z = [(n, v.slc) for n, v in self.env.items() if v.kind == "z"]
            for n, sl in z:
                for (L,) in [s for s in self.b.pool if len(s) == 1]:
                    if len(range(L)[slice(*sl)]) == d:
                        opts.append((1, lambda n=n, L=L: self.view(f"{{0:o}}[{n}]", E((L,), b))))
        elif len(shape) == 2:
            p, q = shape
            if single:
                for fmt in ["np.vstack({0})", "np.stack({0})", "np.column_stack({0:o}.T)"]:
                    add(1, fmt, shape)
                add(1, "np.column_stack({0})", (q, p))
                if q == 1:
                    add(1, "np.vstack({0})", (p,))
                if p == 1:
                    add(1, "np.column_stack({0})", (q,))
            if rc:
                add(1, "np.r_[{0}]", shape)
                add(1, "np.c_[{0}]", shape)
                if p >= 2:
                    a = self.draw(st.integers(1, p - 1))
                    add(1, "np.r_[{0}, {1}]", (a, q), (p - a, q))
                if q >= 2:
                    a = self.draw(st.integers(1, q - 1))
                    add(1, "np.c_[{0}, {1}]", (p, a), (p, q - a))
                    add(1, "np.c_[{0}, {1}]", (p,), (p, q - 1))
                if q == 2:
                    add(1, "np.c_[{0}, {1}]", (p,), (p,))
                if q == 1:
                    add(1, "np.c_[{0}]", (p,))
            if p <= 4:
                for fmt in ["np.vstack(SEQ)", "np.stack(SEQ)", "np.array(SEQ)"]:
                    add_seq(1, fmt, [(q,)] * p)
            if q <= 4:
                for fmt in ["np.column_stack(SEQ)", "np.stack(SEQ, axis=1)"]:
                    add_seq(1, fmt, [(p,)] * q)
            if p >= 2:
                a = self.draw(st.integers(1, p - 1))
                for fmt in ["np.vstack(SEQ)", "np.concatenate(SEQ)"]:
                    add_seq(1, fmt, [(a, q), (p - a, q)])
            if q >= 2:
                a = self.draw(st.integers(1, q - 1))
                for fmt in ["np.hstack(SEQ)", "np.concatenate(SEQ, axis=1)"]:
                    add_seq(1, fmt, [(p, a), (p, q - a)])
        return opts

    def view(self, fmt: str, *args: Expr) -> Expr:
        """A result that shares the memory of its first argument."""
        return Expr(fmt, args, refs=args[0].refs)

    def kink(self, shape, b: int) -> Expr:
        """Functions with kinks, each wrapped while probing to record its margin."""
        k = self.probe_id()
        a = self.expr(shape, b)
        s0, s1 = self.operand_shapes(shape)
        forms = [
            lambda: Expr("np.maximum({0}, {1})", (self.expr(s0, b), self.expr(s1, b)),
                         probe=f"np.maximum(_P.gap({k}, {{0}}, {{1}}), {{1}})"),
            lambda: Expr("np.minimum({0}, {1})", (self.expr(s0, b), self.expr(s1, b)),
                         probe=f"np.minimum(_P.gap({k}, {{0}}, {{1}}), {{1}})"),
            lambda: Expr("abs({0})", (a,), probe=f"abs(_P.gap({k}, {{0}}, 0.0))"),
            lambda: Expr("np.abs({0})", (a,), probe=f"np.abs(_P.gap({k}, {{0}}, 0.0))"),
            lambda: Expr("np.where({0:o} > 0.0, {1}, {2})",
                         (self.expr(shape, b), a, self.expr(shape, b)),
                         probe=f"np.where(_P.gap({k}, {{0}}, 0.0) > 0.0, {{1}}, {{2}})"),
            lambda: Expr("np.clip({0}, -0.5, 0.5)", (a,), probe=f"np.clip(_P.gap({k}, _P.gap("
                         f"{k}, {{0}}, -0.5), 0.5), -0.5, 0.5)"),
        ]
        if shape == ():
            s = self.nonscalar_shape()
            forms += [
                lambda: Expr("max({0}, {1})", (a, self.expr((), b)),
                             probe=f"max(_P.gap({k}, {{0}}, {{1}}), {{1}})"),
                lambda: Expr("min({0}, {1}, 0.5)", (a, self.expr((), b)),
                             probe=f"min(_P.gap({k}, _P.gap({k}, {{0}}, {{1}}), 0.5), {{1}}, "
                                   f"_P.gap({k}, 0.5, {{1}}))"),
                lambda: Expr("np.max({0})", (self.expr(s, b),),
                             probe=f"np.max(_P.ties({k}, {{0}}))"),
                lambda: Expr("{0:o}.min()", (self.expr(s, b),),
                             probe=f"_P.ties({k}, {{0}}).min()")]
        elif len(shape) == 1:
            for p, q in [s for s in self.b.pool if len(s) == 2]:
                if q == shape[0]:
                    forms.append(lambda p=p, q=q: Expr(
                        "np.max({0}, axis=0)", (self.expr((p, q), b),),
                        probe=f"np.max(_P.ties({k}, {{0}}, 0), axis=0)"))
        return self.choice(forms)()

    def ifexp(self, shape, b: int) -> Expr:
        x, y = self.expr(shape, b), self.expr(shape, b)
        return Expr("{1:o} if {0} else {2:o}", (self.cond(b), x, y), op=True, refs=x.refs | y.refs)

    def with_int(self, shape, b: int) -> Expr:
        """Floats mixed with passive ints: counters, lengths, shapes."""
        t = self.choice(["{0:o} * {1:o}", "{0:o} / {1:o}", "{0:o} + {1:o}"])
        n = self.int_expr()
        if t == "{0:o} / {1:o}":
            n = Expr("(1 + abs({0}))", (n,))
        return Expr(t, (self.expr(shape, b), n), op=True)

    def call(self, h: Helper, shape, b: int, same: Expr | None = None) -> Expr:
        """A call of a helper; adjoint takes its result to share its arguments' memory."""
        args = self.call_args(h, b, same)
        refs = args.refs | ({"<result>"} if "write_helper_result" in AVOID else set())
        if len(h.returns) == 1:
            return Expr(f"{h.name}({{0}})", (args,), refs=frozenset(refs))
        return Expr(f"{h.name}({{0}})[{h.returns.index(shape)}]", (args,), refs=frozenset(refs))

    def call_args(self, h: Helper, b: int, same: Expr | None = None) -> Expr:
        """The arguments of a call of `h`: parameters with defaults passed, passed by keyword
        or left out (the last one maybe by keyword too); an int parameter gets the value the
        helper was written for; a container one the containers of `same` (an earlier call's
        arguments) or one of its structure."""
        parts, exprs, seqs = [], [], {}
        keyword = False
        for k, (p, v) in enumerate(h.params):
            if k >= len(h.params) - h.defaults:
                how = self.pick([(3, "pos"), (2, "kw"), (3, "omit")])
                keyword = keyword or how != "pos"
                if how == "omit":
                    continue
            elif k == len(h.params) - 1 and self.chance(0.3):
                keyword = True
            if v.kind == "i":
                same_ints = [n for n, w in self.env.items()
                             if w.kind == "i" and w.lo == w.hi == v.lo]
                e = Expr(self.choice([str(v.lo)] + same_ints), kind="i")
            elif v.kind == "c":
                reuse = same.seqargs.get(p) if same is not None and same.seqargs else None
                e = reuse or self.seq_expr(v.seq, b)
                seqs[p] = e
            else:
                e = self.unshared(self.expr(v.shape, b), v.shape)
                if p in h.written and "helper_writes_float_argument" in AVOID and \
                        not e.fmt.startswith("float("):
                    e = Expr("float({0})", (e,))
            slot = f"{{{len(exprs)}}}"
            parts.append(f"{p}={slot}" if keyword else slot)
            exprs.append(e)
        return Expr(", ".join(parts), tuple(exprs),
                    refs=frozenset().union(*(e.refs for e in exprs)), seqargs=seqs)

    def from_list(self, shape, b: int) -> Expr:
        opts = []
        same = self.lists(shape)
        if same:
            n = self.choice(same)
            opts += [(3, lambda n=n: Expr(f"{n}[{self.choice(['-1', '0'])}]", (),
                                          refs=frozenset([n]))),
                     (2, lambda n=n: Expr(f"sum({n})", ())),
                     (1, lambda n=n: Expr(f"np.mean(np.stack({n}), axis=0)", ()))]
        if shape == () and self.lists():
            m = self.choice(self.lists())
            opts += [(2, lambda: Expr(f"np.sum(np.stack({m}))", ())),
                     (1, lambda: Expr(f"sum(np.sum(t ** 2) for t in {m})", ())),
                     (1, lambda: Expr(f"sum([np.sum(np.sin(t)) for t in {m}])", ()))]
        return self.pick(opts)()

    # ---- containers: lists and tuples of known structure

    SLICES = [("[1:]", slice(1, None)), ("[:-1]", slice(None, -1)),
              ("[::-1]", slice(None, None, -1)), ("[1:3]", slice(1, 3)),
              ("[:2]", slice(None, 2)), ("[-2:]", slice(-2, None)), ("[::2]", slice(None, None, 2))]

    def views(self, module: bool = False) -> list[tuple[str, Seq, frozenset]]:
        """Containers readable here, as (text, structure, names whose memory it shares): the
        names, their slices (`xs[1:]`, `xs[s]` with s a slice object), their items that are
        containers (`ps[0]`) and the slices of those. Those of module-level names only with
        `module` (they are read less often)."""
        out: list = []
        slices = "list_slice" not in AVOID
        objects = [(n, slice(*v.slc)) for n, v in self.env.items() if v.kind == "z"]

        def add(text: str, seq: Seq, refs: frozenset, depth: int) -> None:
            out.append((text, seq, refs))
            if slices:
                for form, sl in self.SLICES + [(f"[{z}]", sl) for z, sl in objects]:
                    idx = list(range(len(seq.items)))[sl]
                    if idx:
                        out.append((text + form, Seq(seq.kind, tuple(seq.items[i] for i in idx)),
                                    refs))
            if depth > 0 and "nested_containers" not in AVOID:
                for k, item in enumerate(seq.items):
                    if isinstance(item, Seq):
                        add(f"{text}[{k}]", item, refs, depth - 1)

        for n, v in self.env.items():
            if v.kind == "c" and (n in self.b.globals) == module:
                add(n, v.seq, frozenset([n]), 1)
        return out

    def item_reads(self, shape, module: bool = False) -> list[tuple[str, frozenset, bool]]:
        """Floats of `shape` read out of containers (`xs[0]`, `ps[1][0]`, `xs[1:][-1]`), each
        with what it shares and whether it reads a name's item directly."""
        out = []
        for text, seq, refs in self.views(module):
            n = len(seq.items)
            for k, item in enumerate(seq.items):
                if item == shape and not isinstance(item, Seq):
                    out += [(f"{text}[{k}]", refs, "[" not in text),
                            (f"{text}[{k - n}]", refs, False)]
        return out

    def item_read(self, shape, module: bool = False) -> Expr:
        """An item of a container read (mostly a name's item), or else a leaf."""
        reads = self.item_reads(shape, module)
        if not reads:
            return self.leaf_without_items(shape)
        direct = [r for r in reads if r[2]]
        text, refs, _ = self.choice(direct if direct and self.chance(0.6) else reads)
        return Expr(text, refs=refs)

    def has_seqs(self, module: bool = False) -> bool:
        return any(v.kind == "c" and (n in self.b.globals) == module
                   for n, v in self.env.items())

    def from_seq(self, shape, b: int) -> Expr:
        forms = self.seq_forms(shape)
        return self.choice(forms)() if forms else self.expr(shape, b)

    def seq_expr(self, seq: Seq, b: int) -> Expr:
        """A container of structure `seq`: a name or a view of one, or a literal."""
        same = [(t, r) for t, s, r in self.views() + self.views(module=True) if s == seq]
        if same and self.chance(0.75):
            direct = [x for x in same if "[" not in x[0]]
            t, r = self.choice(direct) if direct and self.chance(0.7) else self.choice(same)
            return Expr(t, refs=r)
        return self.seq_literal(seq, b)

    def seq_literal(self, seq: Seq, b: int) -> Expr:
        parts, args = [], []
        for item in seq.items:
            if isinstance(item, Seq):
                e = self.seq_expr(item, b)
            else:
                e = self.store(self.expr(item, b), item)[0]
            parts.append(f"{{{len(args)}}}")
            args.append(e)
        return Expr(seq.text(parts), tuple(args),
                    refs=frozenset().union(*(e.refs for e in args)))

    def draw_seq(self, depth: int = 1) -> Seq:
        """A structure: 1 to 3 floats of the pool's shapes, a list of (W, b) tuples, or
        (depth > 0) a container of containers."""
        kind = self.choice(["list", "list", "tuple"])
        if depth > 0 and "nested_containers" not in AVOID and self.chance(0.3):
            items = tuple(self.draw_seq(0) for _ in range(self.draw(st.integers(1, 2))))
            return Seq(kind, items)
        if self.chance(0.25):  # layers
            twod = [s for s in self.b.pool if len(s) == 2]
            layer = Seq("tuple", (self.choice(twod), (twod[0][1],)))
            return Seq("list", (layer,) * self.draw(st.integers(1, 2)))
        shapes = [s for s in self.b.pool if s] if self.chance(0.8) else self.b.pool
        n = self.draw(st.integers(1, 3))
        if self.chance(0.5):
            return Seq(kind, (self.choice(shapes),) * n)
        return Seq(kind, tuple(self.choice(shapes) for _ in range(n)))

    def seq_forms(self, shape) -> list:
        """Floats of `shape` computed from whole containers: stacked, concatenated, summed,
        flattened by a recursive helper (each a thunk)."""
        return [lambda fmt=fmt, refs=refs: self.fill(fmt, refs) for text, seq, refs in self.views()
                for fmt in self.forms_of(text, seq, shape)]

    def fill(self, fmt: str, refs: frozenset = frozenset()) -> Expr:
        """A form of forms_of with fresh names for its comprehension variables (a call of a
        recursive helper shares what its argument shares, as adjoint takes it)."""
        names = {}

        def fresh(m):
            if m.group(1) not in names:
                names[m.group(1)] = self.b.fresh("w")
            return names[m.group(1)]

        text = re.sub(r"@(\d)", fresh, fmt)
        return Expr(text, op=not isinstance(ast.parse(text, mode="eval").body,
                                            (ast.Call, ast.Subscript, ast.Name)),
                    refs=refs if re.search(r"\b(flat|total)\(", text) else frozenset())

    def forms_of(self, text: str, seq: Seq, shape) -> list[str]:
        u = uniform(seq)
        flat = leaves(seq)
        leafy = not nested(seq)
        n = len(seq.items)
        w = "@0"
        forms: list[str] = []
        if shape == ():
            if u is not None and not isinstance(u, Seq):
                forms += [f"np.sum(np.stack({text}))", f"sum(np.sum({w} ** 2) for {w} in {text})",
                          f"np.mean(np.array({text}))"]
                if u == ():
                    forms += [f"sum({text})", f"np.sum(np.hstack({text}))"]
            if leafy:
                forms.append(f"np.sum(np.concatenate([np.ravel({w}) for {w} in {text}]) ** 2)")
                if all(len(s) == 1 for s in flat):
                    forms += [f"np.sum(np.hstack({text}) ** 2)",
                              f"np.sum(np.sin(np.concatenate({text})))"]
                if all(len(s) == 2 and s[1] == flat[0][1] for s in flat):
                    forms += [f"np.sum(np.vstack({text}) ** 2)",
                              f"np.sum(np.concatenate({text}, axis=0))"]
                if all(len(s) == 2 and s[0] == flat[0][0] for s in flat):
                    forms.append(f"np.sum(np.sin(np.hstack({text})))")
            if u is not None and not isinstance(u, Seq) and len(u) == 1:
                forms += [f"np.sum(np.vstack({text}) * 2.0)",
                          f"np.sum(np.sin(np.column_stack({text})))",
                          f"np.sum(np.stack({text}, axis=1) ** 2)"]
            if u is not None and isinstance(u, Seq) and len(u.items) in (2, 3) and \
                    not nested(u):
                names = [f"@{k}" for k in range(len(u.items))]
                forms.append(f"sum({' + '.join(f'np.sum(np.sin({m}))' for m in names)} "
                             f"for {', '.join(names)} in {text})")
            if "flat" in self.b.recursive and (self.b.recursive["flat"] or not has_tuple(seq)):
                forms += [f"np.sum(np.sin(flat({text})))", f"flat({text}) @ flat({text})"]
            if "total" in self.b.recursive and (self.b.recursive["total"] or not has_tuple(seq)):
                forms.append(f"total({text})")
        else:
            if u is not None and not isinstance(u, Seq):
                if (n, *u) == shape and len(u) <= 1:
                    forms += [f"np.stack({text})", f"np.array({text})"]
                    if len(u) == 1:
                        forms.append(f"np.vstack({text})")
                    else:
                        forms.append(f"np.hstack({text})")
                if len(u) == 1 and shape == (u[0], n):
                    forms += [f"np.column_stack({text})", f"np.stack({text}, axis=1)"]
                if u == shape:
                    forms += [f"sum({text})", f"np.sum(np.stack({text}), axis=0)",
                              f"np.mean(np.stack({text}), axis=0)",
                              f"sum({w} * 2.0 for {w} in {text})"]
            if leafy and len(shape) == 1 and all(len(s) == 1 for s in flat) and \
                    sum(s[0] for s in flat) == shape[0]:
                forms += [f"np.concatenate({text})", f"np.hstack({text})"]
            if leafy and len(shape) == 2 and all(len(s) == 2 and s[1] == shape[1] for s in flat) \
                    and sum(s[0] for s in flat) == shape[0]:
                forms += [f"np.vstack({text})", f"np.concatenate({text})",
                          f"np.concatenate({text}, axis=0)"]
            if "flat" in self.b.recursive and (self.b.recursive["flat"] or not has_tuple(seq)) \
                    and len(shape) == 1 and sum(math.prod(s) for s in flat) == shape[0]:
                forms.append(f"flat({text})")
        return forms

    def call_twice(self, h: Helper, shape, b: int) -> Expr:
        """`h(xs, e1) + h(xs, e2)`: one container, one helper, two calls."""
        first = self.call(h, shape, b)
        second = self.call(h, shape, b, same=first.args[0])
        return Expr(self.choice(["{0:o} + {1:o}", "{0:o} * {1:o}", "{0:o} - {1:o}"]),
                    (first, second), op=True, refs=first.refs | second.refs)

    def new_container(self, depth: int, form: str | None = None) -> list:
        """`cs = [e1, e2]`, `cs = xs[1:]`, `cs = list(xs)`, `s = slice(None, -1); cs = xs[s]`."""
        target = self.b.fresh("cs")
        views = self.views()
        long = [v for v in views if len(v[1].items) >= 2 and "[" not in v[0]]
        opts = [(3, "literal")]
        if views:
            opts += [(3, "view"), (1, "convert")]
        if long and "list_slice" not in AVOID:
            opts.append((2, "object"))
        if form not in [f for _, f in opts]:
            form = self.pick(opts)
        if form == "literal":
            seq = self.draw_seq()
            e = self.seq_literal(seq, self.budget())
            self.env[target] = Var("c", seq=seq)
            return [Line(f"{target} = {{0}}", (e,))]
        if form == "object":
            text, seq, _ = self.choice(long)
            sl = self.choice([(None, -1, None)] * 3 + [(1, None, None), (None, None, -1),
                                                        (0, 2, None), (1, 3, None),
                                                        (None, 2, None)])
            idx = list(range(len(seq.items)))[slice(*sl)]
            if not idx:
                sl, idx = (None, -1, None), list(range(len(seq.items) - 1))
            z = self.b.fresh("s")
            self.env[z] = Var("z", slc=sl)
            self.fixed.add(z)
            self.env[target] = Var("c", seq=Seq(seq.kind, tuple(seq.items[i] for i in idx)))
            args = ", ".join(repr(a) for a in (sl if sl[2] is not None else sl[:2]))
            return [Line(f"{z} = slice({args})"), Line(f"{target} = {text}[{z}]")]
        text, seq, _ = self.choice(views)
        if form == "convert":
            kind = self.choice(["list", "tuple"])
            self.env[target] = Var("c", seq=Seq(kind, seq.items))
            return [Line(f"{target} = {kind}({text})")]
        self.env[target] = Var("c", seq=seq)
        return [Line(f"{target} = {text}")]

    def unpack(self, depth: int) -> list:
        """`W, b = ps[0]`, `a, _ = xs[:2]`."""
        views = [v for v in self.views() if 2 <= len(v[1].items) <= 3]
        if not views:
            return self.new_container(depth)
        text, seq, _ = self.choice(views)
        targets = []
        for item in seq.items:
            if targets and self.chance(0.15):
                targets.append("_")
                continue
            if isinstance(item, Seq):
                n = self.b.fresh("cs")
                self.env[n] = Var("c", seq=item)
            else:
                n = self.b.fresh("w")
                self.env[n] = Var(self.kind_of(item), item)
            targets.append(n)
        return [Line(f"{', '.join(targets)} = {text}")]

    def for_seq(self, depth: int) -> list:
        """`for t in xs:`, `for W, b in ps:`, `for j, t in enumerate(xs[::-1]):`."""
        views = [v for v in self.views() if uniform(v[1]) is not None
                 and self.room(len(v[1].items))]
        if not views:
            return self.new_container(depth)
        text, seq, _ = self.choice(views)
        item = uniform(seq)
        saved_fixed = set(self.fixed)
        bound: dict[str, Var] = {}
        if isinstance(item, Seq) and 2 <= len(item.items) <= 3 and not nested(item) and \
                self.chance(0.7):
            names = [self.b.fresh("w") for _ in item.items]
            for n, s in zip(names, item.items, strict=True):
                bound[n] = Var(self.kind_of(s), s)
            target = ", ".join(names)
        elif isinstance(item, Seq):
            target = self.b.fresh("cs")
            bound[target] = Var("c", seq=item)
        else:
            target = self.b.fresh("t")
            bound[target] = Var(self.kind_of(item), item)
        counter = self.b.fresh("j")
        if self.chance(0.3):
            header = f"for {counter}, {target if ',' not in target else f'({target})'} in " \
                     f"enumerate({text}):"
            bound[counter] = Var("i", lo=0, hi=len(seq.items) - 1)
        else:
            header = f"for {target} in {text}:"

        def setup():
            self.env.update(bound)
            self.fixed.update(bound)

        body = self.loop_body(depth, len(seq.items), "for", setup)
        self.fixed = saved_fixed
        return [Block(header, (), body)]

    # ---- comprehensions

    def shadowable(self, comp: CompState) -> list[str]:
        """Names a comprehension variable may reuse: in Python 3 it does not leak, and after
        the comprehension the name is the function's again. Not the names of an entry read
        by a loop's key (`d[k]`), nor an earlier variable of the same comprehension."""
        pinned = {w for n in self.env if "[" in n for w in re.findall(r"\w+", n)}
        return [n for n, v in self.env.items() if "[" not in n and n not in pinned
                and v.kind in "sail" and n not in comp.names and n not in self.b.globals]

    def comp_name(self, comp: CompState, prefix: str, kind: str, iterable: str,
                  reuse: float = 0.3) -> str:
        """A fresh name, or one of the function's; in a `for` after the first, not one its
        iterable or an earlier condition reads (they run inside the comprehension, where
        the name is bound)."""
        if self.chance(reuse):
            inside = comp.names or "comp_var_named_as_its_iterable" in AVOID
            avoid = set(re.findall(r"\w+", iterable)) | comp.read if inside else set()
            names = [n for n in self.shadowable(comp) if n not in avoid]
            same = [n for n in names if self.env[n].kind == kind]
            names = same if same and self.chance(0.7) else names
            if names:
                return self.choice(names)
        return self.b.fresh(prefix)

    def comp_bind(self, comp: CompState, n: str, var: Var, src: frozenset) -> None:
        if n not in comp.saved:
            comp.saved[n] = self.env.get(n)
        self.env[n] = var
        comp.src[n] = src
        comp.names.append(n)
        self.fixed.add(n)

    def comp_refs(self, e: Expr, comp: CompState) -> frozenset:
        """What `e` may share, comprehension variables taken back to what they iterate."""
        out = set()
        for r in e.refs:
            out |= comp.src.get(r, {r})
        return frozenset(out)

    def comp_end(self, comp: CompState) -> None:
        for n, v in comp.saved.items():
            if v is None:
                self.env.pop(n, None)
            else:
                self.env[n] = v
        self.fixed = comp.fixed
        self.comp_depth -= 1

    def comp_clauses(self, b: int) -> tuple[CompState, list]:
        """The `for` and `if` clauses of a comprehension, its variables bound in env until
        comp_end: one `for` or two nested, each maybe with conditions."""
        comp = CompState(fixed=set(self.fixed))
        self.comp_depth += 1
        parts: list = []
        trips = 1
        for _ in range(2 if self.chance(0.25) and self.trips <= 4 else 1):
            header, names, n = self.comp_for(comp, 16 // trips)
            trips *= max(n, 1)
            parts.append(header)
            for _ in range(self.pick([(5, 0), (6, 1), (1, 2)])):
                parts.append(self.comp_cond(names, b))
                comp.read |= set(re.findall(r"\w+", parts[-1].render(Ctx(False, {}))))
        return comp, parts

    def comp_for(self, comp: CompState, room: int) -> tuple[str, list, int]:
        """One `for` clause: its text, the names it binds, its trips."""
        opts = []
        ranges = [f for f in self.range_forms() if f[3] <= room]
        if ranges:
            opts.append((4, lambda: self.comp_range(comp, self.choice(ranges))))
        arrays = [a for a in self.arrays() if self.env[a].shape[0] <= room]
        if arrays:
            opts.append((3, lambda: self.comp_rows(comp, self.choice(arrays))))
            opts.append((1, lambda: self.comp_enumerate(comp, self.choice(arrays))))
        lists = self.lists()
        if lists:
            opts.append((2, lambda: self.comp_list(comp, self.choice(lists))))
        seqs = [v for v in self.views() if len(v[1].items) <= room and uniform(v[1]) is not None
                and not isinstance(uniform(v[1]), Seq)]
        if seqs:
            opts.append((2, lambda: self.comp_seq(comp, *self.choice(seqs))))
        dicts = [d for d in self.dicts() if len({s for _, s in self.env[d].keys}) == 1
                 and len(self.env[d].keys) <= room]
        if dicts:
            opts.append((4, lambda: self.comp_dict(comp, self.choice(dicts))))
        if not opts:
            return self.comp_range(comp, ("range(1)", 0, 0, 1))
        return self.pick(opts)()

    def comp_range(self, comp: CompState, form) -> tuple[str, list, int]:
        header, lo, hi, trips = form
        i = self.comp_name(comp, "i", "i", header, reuse=0.5)  # i = 1; sum(x[i] for i in ...)
        self.comp_bind(comp, i, Var("i", lo=lo, hi=hi), frozenset())
        return f"for {i} in {header}", [i], trips

    def comp_rows(self, comp: CompState, a: str) -> tuple[str, list, int]:
        s = self.env[a].shape
        src = self.comp_refs(name(a), comp)
        others = [o for o in self.arrays(len(s)) if self.env[o].shape[1:] == s[1:] and o != a]
        o = self.choice(others) if others and self.chance(0.3) else None
        it = f"{a} {o}"
        t = self.comp_name(comp, "row" if len(s) == 2 else "t", self.kind_of(s[1:]), it)
        if o:
            src_o = self.comp_refs(name(o), comp)
            u = self.comp_name(comp, "u", self.kind_of(s[1:]), it)
            if u == t:
                u = self.b.fresh("u")
            trips = min(s[0], self.env[o].shape[0])
            self.comp_bind(comp, t, Var(self.kind_of(s[1:]), s[1:]), src)
            self.comp_bind(comp, u, Var(self.kind_of(s[1:]), s[1:]), src_o)
            return f"for {t}, {u} in zip({a}, {o})", [t, u], trips
        self.comp_bind(comp, t, Var(self.kind_of(s[1:]), s[1:]), src)
        return f"for {t} in {a}", [t], s[0]

    def comp_enumerate(self, comp: CompState, a: str) -> tuple[str, list, int]:
        s = self.env[a].shape
        src = self.comp_refs(name(a), comp)
        j = self.comp_name(comp, "j", "i", a)
        t = self.comp_name(comp, "t", self.kind_of(s[1:]), a)
        if t == j:
            t = self.b.fresh("t")
        self.comp_bind(comp, j, Var("i", lo=0, hi=s[0] - 1), frozenset())
        self.comp_bind(comp, t, Var(self.kind_of(s[1:]), s[1:]), src)
        return f"for {j}, {t} in enumerate({a})", [j, t], s[0]

    def comp_list(self, comp: CompState, n: str) -> tuple[str, list, int]:
        shape = self.env[n].shape
        src = self.comp_refs(name(n), comp)
        t = self.comp_name(comp, "t", self.kind_of(shape), n)
        self.comp_bind(comp, t, Var(self.kind_of(shape), shape), src)
        return f"for {t} in {n}", [t], 4  # lists grow in loops: a guess

    def comp_seq(self, comp: CompState, text: str, seq: Seq, refs) -> tuple[str, list, int]:
        item = uniform(seq)
        src = self.comp_refs(Expr(text, refs=refs), comp)
        t = self.comp_name(comp, "t", self.kind_of(item), text)
        self.comp_bind(comp, t, Var(self.kind_of(item), item), src)
        return f"for {t} in {text}", [t], len(seq.items)

    def comp_dict(self, comp: CompState, d: str) -> tuple[str, list, int]:
        keys = self.env[d].keys
        shape = keys[0][1]
        src = self.comp_refs(name(d), comp)
        value = Var(self.kind_of(shape), shape)
        form = self.choice(["values", "items", "keys", "in"])
        if form == "in" and "dict_keys_loop_unread" in AVOID:
            form = "keys"
        if form == "values":
            v = self.comp_name(comp, "val", value.kind, d)
            self.comp_bind(comp, v, value, src)
            return f"for {v} in {d}.values()", [v], len(keys)
        k = self.b.fresh("key")
        self.comp_bind(comp, k, Var("k", keys=tuple(key for key, _ in keys)), frozenset())
        if form == "items":
            v = self.comp_name(comp, "val", value.kind, d)
            self.comp_bind(comp, v, value, src)
            return f"for {k}, {v} in {d}.items()", [k, v], len(keys)
        self.comp_bind(comp, f"{d}[{k}]", value, src)
        return f"for {k} in {d}" + (".keys()" if form == "keys" else ""), [k, f"{d}[{k}]"], \
            len(keys)

    def comp_cond(self, names: list, b: int) -> Expr:
        """An `if` of a comprehension, mostly about the variables of its `for`."""
        opts = [(1, lambda: self.cond(min(b, 1)))]
        ints = [n for n in names if self.env[n].kind == "i"]
        if ints:
            opts.append((4, lambda: self.int_cond(self.choice(ints))))
        keys = [n for n in names if self.env[n].kind == "k"]
        if keys:
            opts.append((3, lambda: self.key_cond(self.choice(keys))))
        data = [n for n in names if self.env[n].kind in "sai"]
        terms = [n for n in data if self.var_term(n, (), draw=False) is not None]
        if terms:
            opts += [(4, lambda: self.cmp(b, self.var_term(self.choice(terms), ()))),
                     (1, lambda: self.chain(b, self.var_term(self.choice(terms), ())))]
        if b > 0:
            opts += [(1, lambda: self.logic("and", *self.operands(
                         lambda: self.comp_cond(names, b - 1)))),
                     (1, lambda: self.logic("or", *self.operands(
                         lambda: self.comp_cond(names, b - 1)))),
                     (1, lambda: self.logic("not", self.comp_cond(names, b - 1)))]
        return self.pick(opts)()

    def var_term(self, n: str, shape, draw: bool = True) -> Expr | None:
        """An expression of `shape` reading the comprehension variable n: `x[i]` for an int,
        `t`, `t.sum()`, `np.sum(t * t)`, `v.T` for a float; None when there is none (with
        draw=False: whether there is one, drawing nothing)."""
        v = self.env[n]
        if v.kind == "i":
            rows = [a for a in self.arrays() if self.env[a].shape[0] > v.hi and v.lo >= 0
                    and self.reshaped(self.env[a].shape[1:], shape)]
            if not rows:
                return None
            if not draw:
                return True
            a = self.choice(rows)
            return self.reshape(Expr(f"{a}[{n}]", refs=frozenset([a])), self.env[a].shape[1:],
                                shape)
        if v.kind in "sa" and self.reshaped(v.shape, shape):
            return self.reshape(name(n), v.shape, shape) if draw else True
        return None

    @staticmethod
    def reshaped(s, shape) -> bool:
        return s == shape or shape == () or s == () or (len(s) == 2 and s[::-1] == shape)

    def reshape(self, e: Expr, s, shape) -> Expr:
        """An expression of `shape` from `e` of shape s (see reshaped)."""
        if s == shape:
            forms = [("{0}", e.refs), ("np.sin({0})", ()), ("{0:o} * {0:o}", ())]
            if len(s) == 1 or (len(s) == 2 and s[0] == s[1]):
                forms.append(("{0:o}.T", e.refs))
        elif shape == ():
            forms = [("np.sum({0})", ()), ("{0:o}.sum()", ()), ("np.sum({0:o} * {0:o})", ()),
                     ("{0:o}.mean()", ())]
            if len(s) == 1:
                forms += [("np.dot({0}, {0})", ()), ("{0:o} @ {0:o}", ()), ("{0:o}[-1]", ())]
            forms += [("np.sum({0:o}.T * 2.0)", ()), ("np.sum({0:o}.T @ {0:o})", ())]
        elif s == ():
            forms = [(f"{{0:o}} * np.ones({shape!r})", ())]
        else:
            forms = [("{0:o}.T", e.refs), ("np.transpose({0})", e.refs)]
        fmt, refs = self.choice(forms)
        if fmt == "{0}":
            return e
        return Expr(fmt, (e,), op=fmt.startswith("{0:o} "), refs=frozenset(refs))

    def comp_element(self, names: list, shape, b: int) -> Expr:
        """The element of a comprehension: mostly an expression of one of its variables."""
        terms = [n for n in names if self.var_term(n, shape, draw=False) is not None]
        if not terms or self.chance(0.3):
            return self.expr(shape, b)
        e = self.var_term(self.choice(terms), shape)
        if self.chance(0.5):
            t = self.choice(["{0:o} * {1:o}", "{0:o} + {1:o}", "{1:o} - {0:o}"])
            e = Expr(t, (e, self.expr(shape, max(b - 1, 0))), op=True)
        return e

    def comp_text(self, comp_parts: list, element: Expr) -> tuple[str, tuple]:
        """`{0} for ... if {1}` and its arguments, the element first."""
        args, words = [element], ["{0}"]
        for part in comp_parts:
            if isinstance(part, str):
                words.append(part)
            else:
                words.append(f"if {{{len(args)}}}")
                args.append(part)
        return " ".join(words), tuple(args)

    def comp_sum(self, shape, b: int) -> Expr:
        """`sum(e for ... if ...)`, `sum([...])`, `np.sum(np.stack([...]))`: the sum of a
        comprehension."""
        if shape == () and self.dicts() and self.chance(0.3):
            return self.dict_sum(b)
        comp, parts = self.comp_clauses(b)
        element = self.comp_element(comp.names, shape, b)
        self.comp_end(comp)
        text, args = self.comp_text(parts, element)
        nonempty = shape != ()
        form = self.choice(["gen", "list", "stack"])
        if form == "gen":
            fmt = f"sum({text})"
        elif form == "list":
            fmt = f"sum([{text}])"
        else:
            fmt = f"np.sum(np.stack([{text}]), axis=0)" if shape else \
                f"np.sum(np.stack([{text}]))"
            return Expr(fmt, args, probe=fmt.replace(f"[{text}]", f"_P.nonempty([{text}])"))
        return Expr(fmt, args, probe=f"_P.total([{text}], {nonempty})")

    UNARY_ANY = ["{0:o} ** 2", "np.sin({0})", "np.tanh({0})", "{0:o} * {0:o}",
                 "np.log(1.0 + {0:o} ** 2)"]

    def dict_sum(self, b: int) -> Expr:
        """A sum over a dict of values of any shapes: each reduced to a number."""
        d = self.choice(self.dicts())
        keys = [k for k, _ in self.env[d].keys]
        k, v = self.b.fresh("key"), self.b.fresh("val")
        f = self.choice(["np.sum", "np.mean"])
        u = self.choice(self.UNARY_ANY).replace("{0:o}", v).replace("{0}", v)
        element = f"{f}({u})"
        if self.chance(0.5):
            element += f' * (2.0 if {k} == "{self.choice(keys)}" else 1.0)'
        fmt = f"{{0:o}} * sum({element} for {k}, {v} in {d}.items()"
        if self.chance(0.4):
            self.env[k] = Var("k", keys=tuple(keys))
            cond = self.key_cond(k)
            del self.env[k]
            fmt += f" if {cond.fmt}"
        return Expr(fmt + ")", (self.expr((), max(b - 1, 0)),), op=True)

    def cond(self, b: int) -> Expr:
        opts = [(6, lambda: self.cmp(b)), (2, lambda: self.chain(b))]
        ints = self.ints(0)
        if ints:
            opts.append((3, lambda: self.int_cond(self.choice(ints))))
        keys = self.keyvars()
        if keys:
            opts.append((2, lambda: self.key_cond(self.choice(keys))))
        if b > 0:
            opts += [(1, lambda: self.logic("and", *self.operands(lambda: self.cond(b - 1)))),
                     (1, lambda: self.logic("or", *self.operands(lambda: self.cond(b - 1)))),
                     (1, lambda: self.logic("not", self.cond(b - 1)))]
        return self.pick(opts)()

    def operands(self, draw, n: int = 2) -> tuple:
        """`n` operands of `and`/`or`, each drawn by `draw` (see unmade)."""
        self.chaining += 1
        try:
            return tuple(draw() for _ in range(n))
        finally:
            self.chaining -= 1

    @staticmethod
    def logic(word: str, *args: Expr) -> Expr:
        """`a and b`, `a or b`, `not a`, an inner `and`/`or`/`not` in parentheses."""
        slots = [f"({{{k}}})" if a.logic else f"{{{k}}}" for k, a in enumerate(args)]
        fmt = f"not {slots[0]}" if word == "not" else f" {word} ".join(slots)
        return Expr(fmt, args, op=True, logic=True)

    def cmp(self, b: int, lhs: Expr | None = None, op: str | None = None,
            offset: float | None = None, rel: bool = True) -> Cmp:
        lhs = lhs or self.expr((), min(b, 2))
        op = op or self.choice([">", "<", ">=", "<="])
        if offset is None:
            offset = self.choice([0.3, -0.3, 0.1, -0.1, 0.6, -0.6, 1.0, -1.0, 0.05, -0.05])
        return Cmp(op, (lhs,), op=True, k=self.probe_id(), rel=rel, offset=offset)

    def chain(self, b: int, lhs: Expr | None = None) -> Chain:
        """A chained comparison `C1 < lhs <= C2` (or with >), mostly true at the first run."""
        if lhs is None:
            (lhs,) = self.operands(lambda: self.expr((), min(b, 2)), 1)
        below = [-0.3, -0.1, -0.6, -1.0, -0.05, 0.1]
        above = [0.3, 0.1, 0.6, 1.0, 0.05, -0.1]
        lo, hi = self.choice(below), self.choice(above)
        if self.chance(0.5):
            ops, offsets = (self.choice(["<", "<="]), self.choice(["<", "<="])), (lo, hi)
        else:
            ops, offsets = (self.choice([">", ">="]), self.choice([">", ">="])), (hi, lo)
        return Chain("", (lhs,), op=True, ks=(self.probe_id(), self.probe_id()), ops=ops,
                     offsets=offsets)

    def int_cond(self, n: str) -> Expr:
        """A test of an int with a known range: parity, a comparison, a chained comparison,
        membership in a tuple."""
        v = self.env[n]
        lo, hi = v.lo, v.hi
        c = self.draw(st.integers(lo - 1, hi + 1))
        forms = [
            lambda: f"{n} % 2 == {self.choice('01')}",
            lambda: f"{n} {self.choice(['>', '<', '>=', '<=', '==', '!='])} {c}",
            lambda: f"{c} {self.choice(['<', '<='])} {n} {self.choice(['<', '<='])} "
                    f"{self.draw(st.integers(c, hi + 2))}",
            lambda: f"{n} {self.choice(['in', 'not in'])} {self.int_tuple(lo, hi)}"]
        return Expr(self.choice(forms)(), (), op=True)

    def int_tuple(self, lo: int, hi: int) -> str:
        items = sorted({self.draw(st.integers(lo, hi + 1)) for _ in range(self.draw(
            st.integers(1, 3)))})
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(map(str, items))})"

    def key_cond(self, k: str) -> Expr:
        keys = list(self.env[k].keys)
        key = self.choice(keys)
        forms = [lambda: f'{k} == "{key}"', lambda: f'{k} != "{key}"']
        if "key_in_tuple" not in AVOID:
            forms.append(lambda: f'{k} {self.choice(["in", "not in"])} ("{key}", '
                                 f'"{self.choice(keys)}")')
        return Expr(self.choice(forms)(), (), op=True)

    # ---- ints

    def int_expr(self) -> Expr:
        opts = []
        ints = self.ints()
        if ints:
            opts.append((4, lambda: name(self.choice(ints), "i")))
        arrays = self.arrays()
        if arrays:
            opts.append((2, lambda: Expr(f"len({self.choice(arrays)})", (), kind="i")))
            opts.append((1, lambda: Expr(f"{self.choice(arrays)}.shape[0]", (), kind="i")))
        opts.append((1, lambda: Expr(str(self.draw(st.integers(1, 3))), (), kind="i")))
        views = self.views()
        if views:
            opts.append((1, lambda: Expr(f"len({self.choice(views)[0]})", (), kind="i")))
        return self.pick(opts)()

    def index(self, dim: int) -> Expr:
        """An int in [-dim, dim - 1]."""
        opts = [(2, lambda: const(str(self.draw(st.integers(-dim, dim - 1)))))]
        ok = self.ints(-dim, dim - 1)
        if ok:
            opts.append((5, lambda: name(self.choice(ok), "i")))
        shifted = self.ints(1 - dim, dim)
        if shifted:
            opts.append((2, lambda: Expr("{0} - 1", (name(self.choice(shifted), "i"),),
                                         op=True)))
        nonneg = self.ints(0)
        if nonneg:
            opts.append((1, lambda: Expr(f"{{0}} % {dim}", (name(self.choice(nonneg), "i"),),
                                         op=True)))
            small = self.ints(0, dim - 1)
            if small:
                opts.append((1, lambda: Expr(f"{dim} - 1 - {{0}}", (name(self.choice(small)),),
                                             op=True)))
        return self.pick(opts)()

    # ---- statements

    def block(self, depth: int, most: int, least: int = 1) -> list:
        out = []
        for _ in range(self.draw(st.integers(least, most))):
            stmts, ends = self.statement(depth)
            out += stmts
            if ends:
                break
        return out

    def reassignable(self) -> list[str]:
        return [n for n, v in self.env.items() if v.kind in "sa" and n not in self.fixed]

    def statement(self, depth: int) -> tuple[list, bool]:
        opts = [(8, self.assign_new), (4, self.reassign) if self.reassignable() else (0, None),
                (2, self.augassign), (2, self.make_array), (1, self.int_var),
                (1, self.tuple_assign), (2, self.new_list), (1, self.stabilized)]
        if self.writable(arrays_only=True):
            opts.append((4, self.write))
        if self.lists():
            opts.append((4 if self.loop else 2, self.append))
        if any(len(h.returns) >= 2 for h in self.b.helpers):
            opts.append((3, self.tuple_call))
        opts.append((1 if len(self.dicts()) < 2 else 0, self.new_dict))
        seqs = any(v.kind == "c" for v in self.env.values())
        if "containers" not in AVOID:
            opts += [(2 if seqs else 1, self.new_container)]
            if seqs:
                opts.append((1, self.unpack))
        if depth < 3:
            opts += [(3, self.if_), (2, self.for_range), (2, self.for_iter),
                     (1, self.while_counter), (1, self.while_sum)]
            if self.dicts():
                opts.append((3, self.for_dict))
            if seqs:
                opts.append((1, self.for_seq))
        if self.loop:
            opts.append((3, self.jump))
        if self.main:
            opts.append((1, self.early_return))
        if self.b.state:
            opts.append((1, self.state_change))
        c = self.b.calls
        if c.callbacks or c.log:
            opts.append((3 if self.loop else 1, self.callback))
        if c.partials:
            opts.append((1, self.make_partial))
        if c.factories and "closure_passive_call" not in AVOID:
            opts.append((1, self.make_closure))
        if depth < 3 and (c.fns or c.table):
            opts.append((1, self.for_fns))
        if depth < 3 and c.pairs:
            opts.append((1, self.for_star_zip))
        stmts = self.pick(opts)(depth)
        if isinstance(stmts, tuple):
            return stmts
        return stmts, False

    def budget(self) -> int:
        return self.draw(st.integers(1, 3))

    def assign_new(self, depth: int) -> list:
        shape = self.choice(self.b.pool)
        e = self.expr(shape, self.budget())
        target = self.b.fresh("v")
        return [Line(f"{target} = {{0}}", (self.bind(target, e, shape),))]

    def stabilized(self, depth: int) -> list:
        """A log-sum-exp or softmax shifted by its max, as numerically careful code writes
        it: smooth in the values, whichever entry the max picks. The shift and the shifted
        exponentials keep names of their own that nothing else reads."""
        shape = self.nonscalar_shape()
        v, m, e = self.b.fresh("v"), self.b.fresh("shift"), self.b.fresh("e")
        lines = [Line(f"{v} = {{0}}", (self.bind(v, self.expr(shape, self.budget()), shape),))]
        target = self.b.fresh("v")
        if len(shape) == 2 and self.chance(0.5):  # softmax of each row
            axis = self.choice(["1", "-1"])
            lines += [Line(f"{m} = np.max({v}, axis={axis}, keepdims=True)"),
                      Line(f"{e} = np.exp({v} - {m})")]
            out = Expr(f"{e} / np.sum({e}, axis={axis}, keepdims=True)", (), op=True)
            return lines + [Line(f"{target} = {{0}}", (self.bind(target, out, shape),))]
        lines.append(Line(f"{m} = " + self.choice([f"np.max({v})", f"{v}.max()"])))
        out = Expr(f"{m} + np.log(np.sum(np.exp({v} - {m})))", (), op=True)
        return lines + [Line(f"{target} = {{0}}", (self.bind(target, out, ()),))]

    def reassign(self, depth: int) -> list:
        target = self.choice(self.reassignable())
        shape = self.env[target].shape
        e = self.expr(shape, self.budget())
        if "comp_assigned_to_a_name_it_reads" in AVOID and e.fmt.startswith("sum(") and \
                target in re.findall(r"\w+", e.render(Ctx(False, {}))):
            target = self.b.fresh("v")
        return [Line(f"{target} = {{0}}", (self.bind(target, e, shape),))]

    def augassign(self, depth: int) -> list:
        names = self.writable(arrays_only=False)
        if not names:
            return self.assign_new(depth)
        target = self.choice(names)
        shape = self.env[target].shape
        s = self.choice([shape, (), shape[-1:]]) if shape else ()
        op = self.choice(["+=", "-=", "*=", "/="] + (["**="] if shape == () else []))
        e = self.expr(s, self.budget())
        if op == "/=":
            e = Expr("(1.5 + np.sin({0}))", (e,))
        elif op == "**=":
            e = const("2")
        return [Line(f"{target} {op} {{0}}", (e,))]

    def make_array(self, depth: int) -> list:
        shape = self.nonscalar_shape()
        forms = [lambda: Expr("np.zeros_like({0})", (self.expr(shape, 1),)),
                 lambda: Expr(f"np.zeros({shape if len(shape) > 1 else shape[0]!r})", ()),
                 lambda: Expr("{0:o}.copy()", (self.expr(shape, 1),)),
                 lambda: Expr("np.copy({0})", (self.expr(shape, 1),))]
        ones = self.arrays(1)
        if len(shape) == 1 and any(self.env[n].shape == shape for n in ones):
            n = self.choice([n for n in ones if self.env[n].shape == shape])
            forms.append(lambda: Expr(f"np.zeros(len({n}))", ()))
        e = self.choice(forms)()
        existing = [n for n in self.floats(shape) if n not in self.fixed]
        target = self.choice(existing) if existing and self.chance(0.3) else self.b.fresh("y")
        return [Line(f"{target} = {{0}}", (self.bind(target, e, shape),))]

    def write(self, depth: int) -> list:
        target = self.choice(self.writable(arrays_only=True))
        shape = self.env[target].shape
        op = self.choice(["=", "+=", "-=", "*="])
        forms = [lambda: ([self.index(shape[0])], shape[1:])]
        d = shape[0]
        if d >= 2:
            a = self.draw(st.integers(0, d - 2))
            e = self.draw(st.integers(a + 1, d))
            forms.append(lambda: ([const(f"{a}:{e}")], (e - a,) + shape[1:]))
        if len(shape) == 2:
            forms += [lambda: ([self.index(shape[0]), self.index(shape[1])], ()),
                      lambda: ([const(":"), self.index(shape[1])], (shape[0],))]
        idx, sub = self.choice(forms)()
        s = self.choice([sub, ()]) if sub else ()
        where = ", ".join(f"{{{k + 1}}}" for k in range(len(idx)))
        return [Line(f"{target}[{where}] {op} {{0}}", (self.expr(s, self.budget()), *idx))]

    def int_var(self, depth: int) -> list:
        target = self.b.fresh("n")
        arrays = self.arrays()
        v = self.draw(st.integers(0, 4))
        forms = [lambda: (str(v), v)]
        for a in arrays:
            s = self.env[a].shape
            forms += [lambda a=a, s=s: (f"len({a})", s[0]),
                      lambda a=a, s=s: (f"{a}.shape[{len(s) - 1}]", s[-1]),
                      lambda a=a, s=s: (f"{a}.size // 2", math.prod(s) // 2)]
        for text, seq, _ in self.views():
            forms.append(lambda text=text, seq=seq: (f"len({text})", len(seq.items)))
        text, value = self.choice(forms)()
        self.env[target] = Var("i", lo=value, hi=value)
        return [Line(f"{target} = {text}")]

    def tuple_assign(self, depth: int) -> list:
        swaps = [(a, c) for a in self.reassignable() for c in self.reassignable()
                 if a < c and self.env[a].shape == self.env[c].shape
                 and self.env[a].owned == self.env[c].owned
                 and not (self.loop and self.env[a].owned and "swap_in_loop" in AVOID)
                 and not (depth and self.env[a].owned and "swap_in_branch" in AVOID)]
        if swaps and self.chance(0.5):
            a, c = self.choice(swaps)
            return [Line(f"{a}, {c} = {c}, {a}")]
        shapes = [self.choice(self.b.pool) for _ in range(2)]
        exprs = [self.expr(s, self.budget()) for s in shapes]
        targets = [self.b.fresh("v") for _ in shapes]
        stored = [self.bind(t, e, s) for t, e, s in zip(targets, exprs, shapes, strict=True)]
        return [Line(f"{targets[0]}, {targets[1]} = {{0}}, {{1}}", tuple(stored))]

    def tuple_call(self, depth: int, h: Helper | None = None) -> list:
        """`p1, p2 = h(...)`, and mixed tuples: `p1, _ = h(...)` (None), `p1, n2 = h(...)` (an
        int), `p1, g2 = h(...)` (a function, called later)."""
        h = h or self.choice([h for h in self.b.helpers if len(h.returns) >= 2])
        args = self.call_args(h, self.budget())
        targets, fn = [], None
        for r in h.returns:
            if r and r[0] == "none":
                targets.append("_")
            elif r and r[0] == "int":
                targets.append(self.b.fresh("n"))
                self.env[targets[-1]] = Var("i", lo=r[1], hi=r[1])
            elif r and r[0] == "fn":
                targets.append(self.b.fresh("g"))
                self.env[targets[-1]] = r[1]
                self.fixed.add(targets[-1])
                fn = targets[-1]
            else:
                targets.append(self.b.fresh("p"))
                self.env[targets[-1]] = Var(self.kind_of(r), r, owned=not args.refs
                                            and "write_helper_result" not in AVOID)
        out = [Line(f"{', '.join(targets)} = {h.name}({{0}})", (args,))]
        if fn and "call_returned_function" not in AVOID and self.chance(0.7):  # and call it
            arg, result = self.env[fn].fn
            shape = arg if arg is not None else self.choice(self.b.pool)
            target = self.b.fresh("v")
            a = self.expr(shape, 1)
            e = Expr(f"{fn}({{0}})", (a,), refs=a.refs | UNKNOWN)
            out.append(Line(f"{target} = {{0}}", (self.bind(target, e, result or shape),)))
        return out

    def new_list(self, depth: int) -> list:
        shape = self.choice(self.b.pool)
        target = self.b.fresh("acc")
        src = self.lists()
        if src and self.chance(0.3):
            n = self.choice(src)
            self.env[target] = Var("l", self.env[n].shape)
            return [Line(f"{target} = [np.sin(t) * 2.0 for t in {n}]")]
        if self.chance(0.35):  # [e for t in xs if c], kept only where it has items
            comp, parts = self.comp_clauses(self.budget())
            e = self.comp_element(comp.names, shape, self.budget())
            refs = self.comp_refs(e, comp)
            self.comp_end(comp)
            if any(self.env.get(r, Var("s")).owned for r in refs):
                e = fresh_copy(e, shape)
            text, args = self.comp_text(parts, e)
            self.env[target] = Var("l", shape)
            return [Line(f"{target} = {{0}}", (Expr(f"[{text}]", args,
                                                    probe=f"_P.nonempty([{text}])"),))]
        e = self.to_list(self.expr(shape, self.budget()), shape)
        self.env[target] = Var("l", shape)
        return [Line(f"{target} = [{{0}}]", (e,))]

    def to_list(self, e: Expr, shape) -> Expr:
        """An item to put in a list."""
        return self.store(e, shape)[0]

    def append(self, depth: int) -> list:
        n = self.choice(self.lists())
        shape = self.env[n].shape
        e = self.to_list(self.expr(shape, self.budget()), shape)
        return [Line(f"{n}.append({{0}})", (e,))]

    KEYS = ["w", "b", "u", "z"]

    def dict_keys(self) -> tuple:
        """(key, shape) pairs of a dict: all of one shape, or of any."""
        keys = self.KEYS[: self.draw(st.integers(1, 3))]
        shape = self.choice(self.b.pool)
        uniform = self.chance(0.5)
        return tuple((k, shape if uniform else self.choice(self.b.pool)) for k in keys)

    def new_dict(self, depth: int) -> list:
        target = self.b.fresh("d")
        keys = self.dict_keys()
        values = [self.store(self.expr(s, self.budget()), s)[0] for _, s in keys]
        self.env[target] = Var("d", keys=keys)
        items = ", ".join(f'"{k}": {{{j}}}' for j, (k, _) in enumerate(keys))
        return [Line(f"{target} = {{{{{items}}}}}", tuple(values))]

    # ---- control flow

    def snapshot(self) -> dict:
        return copy.deepcopy(self.env)

    @staticmethod
    def merge(a: dict, b: dict) -> dict:
        out = {}
        for n, v in a.items():
            w = b.get(n)
            if w is not None and (w.kind, w.shape, w.keys, w.seq, w.slc, w.fn) == \
                    (v.kind, v.shape, v.keys, v.seq, v.slc, v.fn):
                out[n] = dataclasses.replace(v, lo=min(v.lo, w.lo), hi=max(v.hi, w.hi),
                                             owned=v.owned and w.owned)
        return out

    def if_(self, depth: int) -> list:
        cond = self.cond(2)
        before = self.snapshot()
        body = self.block(depth + 1, 3)
        after_body, self.env = self.env, copy.deepcopy(before)
        orelse = None
        if self.chance(0.5):
            orelse = self.block(depth + 1, 3) if self.chance(0.7) else self.if_(depth + 1)
        self.env = self.merge(after_body, self.env)
        return [Block("if {0}:", (cond,), body, orelse)]

    def loop_body(self, depth: int, trips: int, kind: str, setup=None,
                  sure: bool | None = None, most: int = 4, least: int = 1) -> list:
        """The body of a loop. A loop sure to run a trip without jumping keeps the names its
        body binds (read after it, as `t` in `for j ...: t = ...` then `y = y + t`). `setup`
        runs inside the loop, before the body is drawn: what it returns starts the body."""
        before = self.snapshot()
        saved = self.trips, self.loop, self.loop_owned, self.jumps
        self.trips, self.loop = self.trips * max(trips, 1), kind
        self.loop_owned = self.loop_owned | {n for n, v in before.items() if v.owned}
        first = (setup() if setup else None) or []
        self.jumps = 0
        body = first + self.block(depth + 1, most, least)
        after, jumped = self.env, self.jumps
        self.trips, self.loop, self.loop_owned, self.jumps = saved
        self.env = {n: dataclasses.replace(v, owned=v.owned and after.get(n, v).owned)
                    for n, v in before.items()}
        if (trips >= 1 if sure is None else sure) and not jumped \
                and "names_bound_in_loops" not in AVOID:
            self.env.update({n: v for n, v in after.items()
                             if n not in before and v.kind not in "kz"})
        return body

    def written_in_loop(self, a: str) -> bool:
        """Whether the enclosing loop may write into `a` in place (it owned `a` where it
        starts): its items, bound here and read after, are alive when the next trip writes
        (adjoint takes an item of an array to share the array's memory)."""
        return bool(self.loop) and a in self.loop_owned

    def room(self, trips: int) -> bool:
        return self.trips * max(trips, 1) <= MAX_TRIPS

    def range_forms(self) -> list[tuple[str, int, int, int]]:
        """`range(...)` headers with the counter's range and the trips."""
        forms = []
        for K in range(1, 5):
            forms.append((f"range({K})", 0, K - 1, K))
        for a in self.arrays():
            s = self.env[a].shape
            d = s[0]
            forms += [(f"range(len({a}))", 0, d - 1, d),
                      (f"range(1, {a}.shape[0])", 1, d - 1, d - 1),
                      (f"range(len({a}) - 1, -1, -1)", 0, d - 1, d),
                      (f"range(0, {a}.shape[{len(s) - 1}], 2)", 0, s[-1] - 1, (s[-1] + 1) // 2)]
        for n in self.ints(0, 4):
            v = self.env[n]
            if v.lo == v.hi:
                forms.append((f"range({n})", 0, v.lo - 1, v.lo))
        return forms

    def for_range(self, depth: int) -> list:
        forms = [f for f in self.range_forms() if self.room(f[3])]
        if not forms:
            return self.assign_new(depth)
        header, lo, hi, trips = self.choice(forms)
        i = self.b.fresh("i")

        def setup():
            self.env[i] = Var("i", lo=lo, hi=hi)
            self.fixed.add(i)

        body = self.loop_body(depth, trips, "for", setup)
        self.fixed.discard(i)
        return [Block(f"for {i} in {header}:", (), body)]

    def for_iter(self, depth: int) -> list:
        arrays = [a for a in self.arrays() if self.room(self.env[a].shape[0])
                  and not self.written_in_loop(a)]
        if not arrays:
            return self.assign_new(depth)
        a = self.choice(arrays)
        s = self.env[a].shape
        self.env[a].owned = False  # its rows are alive while the loop runs
        saved_fixed = set(self.fixed)
        item = self.b.fresh("row" if len(s) == 2 else "t")
        form = self.choice(["plain", "enumerate", "zip"])
        others = [o for o in self.arrays(len(s)) if self.env[o].shape[1:] == s[1:] and o != a
                  and not self.written_in_loop(o)]
        if form == "zip" and not others:
            form = "plain"
        counter = self.b.fresh("j")
        other_item = self.b.fresh("u")
        trips = s[0]
        if form == "enumerate":
            header = f"for {counter}, {item} in enumerate({a}):"
        elif form == "zip":
            o = self.choice(others)
            self.env[o].owned = False
            trips = min(trips, self.env[o].shape[0])
            header = f"for {item}, {other_item} in zip({a}, {o}):"
        else:
            header = f"for {item} in {a}:"
        saved_iterated = set(self.iterated)
        if self.loop:
            self.iterated |= {a, o} if form == "zip" else {a}

        def setup():
            self.env[item] = Var(self.kind_of(s[1:]), s[1:])
            self.fixed.add(item)
            if form == "enumerate":
                self.env[counter] = Var("i", lo=0, hi=s[0] - 1)
            if form == "zip":
                self.env[other_item] = Var(self.kind_of(s[1:]), s[1:])
                self.fixed.add(other_item)

        body = self.loop_body(depth, trips, "for", setup)
        self.fixed, self.iterated = saved_fixed, saved_iterated
        return [Block(header, (), body)]

    def for_dict(self, depth: int) -> list:
        """`for k, v in d.items()`, `for v in d.values()`, `for k in d` reading d[k]. Values
        of one shape make a loop variable of that shape; values of several shapes go into
        a number, `acc = acc + np.sum(v ** 2) * (2.0 if k == "w" else 1.0)`, first."""
        d = self.choice(self.dicts())
        keys = self.env[d].keys
        if not self.room(len(keys)):
            return self.assign_new(depth)
        form = self.choice(["items", "values", "keys", "in"])
        k, v = self.b.fresh("key"), self.b.fresh("val")
        if form == "items":
            header = f"for {k}, {v} in {d}.items():"
        elif form == "values":
            header, k = f"for {v} in {d}.values():", None
        else:
            header = f"for {k} in {d}" + (".keys():" if form == "keys" else ":")
            v = f"{d}[{k}]"
        shapes = {s for _, s in keys}
        pre, first = [], []
        reads = form == "in" and "dict_keys_loop_unread" in AVOID  # d[k] in the first line
        if len(shapes) > 1 or reads or self.chance(0.2):
            acc = self.b.fresh("s")
            self.env[acc] = Var("s", owned=True)
            pre = [Line(f"{acc} = 0.0")]
            u = self.choice(self.UNARY_ANY).replace("{0:o}", v).replace("{0}", v)
            term = f"{self.choice(['np.sum', 'np.mean'])}({u})"
            if k and self.chance(0.5):
                term += f' * (2.0 if {k} == "{self.choice(keys)[0]}" else 1.0)'
            first = [Line(f"{acc} = {acc} + {term} * {{0:o}}", (self.expr((), 1),))]
        saved_fixed = set(self.fixed)

        def setup():
            if k:
                self.env[k] = Var("k", keys=tuple(key for key, _ in keys))
            if len(shapes) == 1:
                (s,) = shapes
                self.env[v] = Var(self.kind_of(s), s)
                self.fixed.add(v)
            if pre:
                self.fixed.add(acc)

        body = self.loop_body(depth, len(keys), "for", setup) if not first or \
            self.chance(0.5) else []
        self.fixed = saved_fixed
        return pre + [Block(header, (), first + body)]

    def while_counter(self, depth: int) -> list:
        K = self.draw(st.integers(1, 4))
        if not self.room(K):
            return self.assign_new(depth)
        k = self.b.fresh("k")
        cond = Expr(self.choice([f"{k} < {K}", f"0 <= {k} < {K}"]), (), op=True)
        anded = self.chance(0.4)
        if anded:  # `and` keeps the end
            cond = self.logic("and", cond, *self.operands(
                lambda: self.cmp(1) if self.chance(0.5) else self.cond(1), 1))

        def setup():
            self.env[k] = Var("i", lo=1, hi=K)
            self.fixed.add(k)

        body = self.loop_body(depth, K, "while", setup, sure=not anded)
        self.fixed.discard(k)
        self.env[k] = Var("i", lo=0, hi=K)
        step = self.choice([f"{k} = {k} + 1", f"{k} += 1"])
        return [Line(f"{k} = 0"), Block("while {0}:", (cond,), [Line(step)] + body)]

    def while_sum(self, depth: int) -> list:
        """`while s < C` where every trip adds at least 0.5 to s: at most 6 trips."""
        if not self.room(6):
            return self.assign_new(depth)
        s = self.b.fresh("s")
        start, owned = self.store(self.expr((), self.budget()), ())
        step = Expr("0.5 + {0:o} ** 2", (self.expr((), 1),), op=True)
        if not owned:  # `s += step` writes s in place
            start = fresh_copy(start, ())
        self.env[s] = Var("s", owned=True)
        offset = self.choice([0.3, 0.8, 1.2, 2.5])
        if self.chance(0.3):  # s only grows: C1 < s holds throughout
            cond = Chain("", (name(s),), op=True, ks=(self.probe_id(), self.probe_id()),
                         ops=("<", "<"), offsets=(-5.0, offset), rel=False)
        else:
            cond = self.cmp(0, name(s), "<", offset, rel=False)
        ints = self.ints(0)
        if ints and self.chance(0.2):
            cond = self.logic("and", cond, self.int_cond(self.choice(ints)))

        def setup():
            self.fixed.add(s)

        body = self.loop_body(depth, 6, "while", setup, sure=False)
        self.fixed.discard(s)
        return [Line(f"{s} = {{0}}", (start,)),
                Block("while {0}:", (cond,), [Line(self.choice([f"{s} += {{0}}",
                                                                f"{s} = {s} + {{0}}"]), (step,))]
                      + body)]

    def state_change(self, depth: int) -> list:
        """STATE's attribute changed as a side effect: by its method, set from itself (a
        number that carries no derivative), or a counter bumped."""
        return [Line(self.choice(["STATE.bump()", "STATE.scale = STATE.scale * 1.05 + 0.02",
                                  "STATE.scale += 0.1", "STATE.calls += 1"]))]

    # ---- functions as values (module_functions writes the module-level ones)

    def fn_value(self) -> str:
        """A module-level function as a value, to pass to apply: a NumPy function, a
        function of the program's own, an item of FNS or TABLE, OBJ or its bound method."""
        c = self.b.calls
        opts = [(3, lambda: self.choice(c.values))]
        if c.fns:
            opts.append((2, lambda: f"FNS[{self.draw(st.integers(-len(c.fns), len(c.fns) - 1))}]"))
        if c.table:
            opts.append((1, lambda: f'TABLE["{self.choice(c.table)}"]'))
        return self.pick(opts)()

    def value_calls(self, shape, b: int) -> list:
        """Calls through values keeping the shape of their argument (thunks): FNS[k](e),
        TABLE["key"](e), apply(np.tanh, e), OBJ(e), OBJ.method(e), LOG.note(e) (its
        argument back), hk(e, **options), hw(e, *ws), sum(w * phi(e) for w, phi in
        zip(COEFS, FNS))."""
        c, out = self.b.calls, []

        def call(fmt, unknown: bool = True):
            """(adjoint cannot tell what a function held in a value returns: its result may
            share its argument's memory, or another's)"""
            def make():
                e = self.arg(shape, b)
                return Expr(fmt() if callable(fmt) else fmt, (e,),
                            refs=e.refs | (UNKNOWN if unknown else frozenset()))
            return make

        if c.fns:
            out.append(call(lambda: f"FNS[{self.draw(st.integers(-len(c.fns), len(c.fns) - 1))}]"
                                    "({0})"))
            coefs = [a for a in self.arrays(1) if a not in self.b.globals] + \
                (["COEFS"] if c.coefs else [])
            if coefs:
                out.append(lambda: self.basis_sum(self.choice(coefs), shape, b))
        if c.table:
            out.append(call(lambda: f'TABLE["{self.choice(c.table)}"]({{0}})'))
        if c.apply:
            out.append(call(lambda: f"apply({self.fn_value()}, {{0}})"))
        if c.obj:
            out += [call("OBJ({0})"), call("OBJ.method({0})")]
        if c.log:
            out.append(call("LOG.note({0})"))  # (its argument back: adjoint's points-to
            # then takes `v = LOG.note(s * a); acc = [v[0] * 2.0]; s = acc[0]` to share v)
        if self.options:
            out.append(call("hk({0}, **options)", unknown=False))
        if c.starred:
            out.append(lambda: self.starred_call(shape, b))
        return out

    def unmade(self, n: str) -> bool:
        """Whether the function made here `n` is steered away from here (an operand of
        `and`/`or` or of a chained comparison, while its bug is known; lambdas mapped too)."""
        return bool(self.chaining) and self.env[n].made in ("partial", "closure") and \
            "function_made_in_bool_op" in AVOID

    def arg(self, shape, b: int) -> Expr:
        """An argument of a call through a value: adjoint takes the result to share its
        memory (as it takes a helper's), so a name written in place goes in as a copy."""
        return self.unshared(self.expr(shape, b), shape)

    def basis_sum(self, coefs: str, shape, b: int) -> Expr:
        """`sum(w * phi(e) for w, phi in zip(x, FNS))`: functions zipped with numbers."""
        w, phi = self.b.fresh("w"), self.b.fresh("phi")
        fns = self.choice(["FNS", "FNS", "FNS[::-1]"])
        return Expr(f"sum({w} * {phi}({{0}}) for {w}, {phi} in zip({coefs}, {fns}))",
                    (self.arg(shape, b),))

    def starred_call(self, shape, b: int) -> Expr:
        """`hw(e, *ws)`, hw taking `*weights`: a container of numbers (two for a helper that
        unpacks them), or a literal."""
        fn, kind = self.choice(self.b.calls.starred)
        ok = [(t, r) for t, seq, r in self.views() + self.views(module=True)
              if all(i == () for i in seq.items) and (kind == "loop" or len(seq.items) == 2)]
        e = self.arg(shape, b)
        if ok and self.chance(0.6):
            t, r = self.choice(ok)
            return Expr(f"{fn}({{0}}, *{t})", (e,), refs=e.refs | r)
        n = 2 if kind == "unpack" else self.draw(st.integers(1, 3))
        parts = [self.unshared(self.expr((), max(b - 1, 0)), ()) for _ in range(n)]
        text = Seq(self.choice(["list", "tuple"]), ()).text(
            [f"{{{k + 1}}}" for k in range(n)])
        return Expr(f"{fn}({{0}}, *{text})", (e, *parts),
                    refs=e.refs.union(*(p.refs for p in parts)))

    def mapped(self, shape, b: int, fn: str | None = None) -> Expr:
        """map of a partial made here (`fn`), of a partial made inline, of a lambda or of a
        NumPy function: summed (`sum(map(h, X))`, X's items of `shape`) or stacked back
        (`np.stack(list(map(h, X)))`, X of `shape`)."""
        made = [n for n, v in self.env.items() if v.kind == "f" and v.made == "partial"
                and not self.unmade(n)]
        rows = [s for s in self.b.pool if s[1:] == shape and s]
        forms = [(3, "sum")] if rows or self.lists(shape) or self.seq_items(shape) else []
        if shape:
            forms.append((2, "stack"))
        form = self.pick(forms)
        if fn is None:
            lambdas = 0 if self.chaining and "function_made_in_bool_op" in AVOID else 1
            kinds = [(4 if made else 0, "made"), (2, "inline"), (3 * lambdas, "lambda"),
                     (1, "numpy")]
            if form == "sum" and rows:
                kinds.append((lambdas, "lambda2"))
            kind = self.pick(kinds)
        else:
            kind = "made"
        args: list = []

        def iterable() -> Expr:
            if form == "stack":
                return self.expr(shape, b)
            opts = []
            if rows:
                opts.append((4, lambda: self.expr(self.choice(rows), b)))
            if self.lists(shape):
                opts.append((1, lambda: name(self.choice(self.lists(shape)))))
            if self.seq_items(shape):
                opts.append((1, lambda: Expr(self.choice(self.seq_items(shape)))))
            return self.pick(opts)()

        def slot(e: Expr) -> str:
            args.append(e)
            return f"{{{len(args) - 1}}}"

        if kind == "made":
            func = fn or self.choice(made)
        elif kind == "inline":
            pk, how = self.choice(self.b.calls.partials)
            a = slot(self.unshared(self.expr((), max(b - 1, 0)), ()))
            func = f"partial({pk}, {a})" if how == "pos" else f"partial({pk}, k={a})"
        elif kind == "numpy":
            func = self.choice(NUMPY_VALUES[:-1])
        else:
            t, u = self.b.fresh("t"), self.b.fresh("t")
            body = elementwise(self, t)
            local = [n for n, v in self.env.items() if v.kind == "s" and n not in self.b.globals]
            if local and self.comp_depth == 0 and self.chance(0.5):
                body = f"{body} * {slot(name(self.choice(local)))}"
            if kind == "lambda2":
                func = f"lambda {t}, {u}: {t} * {elementwise(self, u)}"
            else:
                func = f"lambda {t}: {body}"
        its = slot(iterable())
        if kind == "lambda2":
            its += ", " + slot(self.expr(self.choice(rows), b))
        if form == "sum":
            return Expr(f"sum(map({func}, {its}))", tuple(args))
        return Expr(f"{self.choice(['np.stack', 'np.array'])}(list(map({func}, {its})))",
                    tuple(args))

    def seq_items(self, shape) -> list[str]:
        """Containers whose items are all floats of `shape`."""
        return [t for t, seq, _ in self.views() if uniform(seq) == shape]

    def accumulate(self, depth: int, header: str, args: tuple, trips: int, bound: dict,
                   first, shape=None) -> list:
        """`acc = 0.0` (or zeros), then a loop `header` binding `bound` whose body starts with
        the lines `first(acc)` draws (inside the loop); self.made_name is acc."""
        shape = self.choice(self.b.pool) if shape is None else shape
        acc = self.b.fresh("s")
        init = "0.0" if shape == () else f"np.zeros({shape!r})"
        self.env[acc] = Var(self.kind_of(shape), shape, owned=True)
        saved_fixed = set(self.fixed)

        def setup():
            self.env.update(bound)
            self.fixed.update(bound)
            return first(acc, shape)

        body = self.loop_body(depth, trips, "for", setup, most=3, least=0)
        self.fixed = saved_fixed
        self.made_name = acc
        return [Line(f"{acc} = {init}"), Block(header, args, body)]

    def for_fns(self, depth: int) -> list:
        """`for fn in FNS: acc = acc + fn(e)`, over TABLE.values(), TABLE.items(),
        enumerate(FNS), zip(COEFS, FNS)."""
        c = self.b.calls
        fn, j, k = self.b.fresh("fn"), self.b.fresh("j"), self.b.fresh("key")
        forms = []
        if c.fns:
            n = len(c.fns)
            forms += [(3, (f"for {fn} in FNS:", n, {})),
                      (1, (f"for {fn} in FNS[::-1]:", n, {})),
                      (1, (f"for {j}, {fn} in enumerate(FNS):", n,
                           {j: Var("i", lo=0, hi=n - 1)}))]
            if c.coefs:
                forms.append((1, (f"for {k}, {fn} in zip(COEFS, FNS):", min(n, c.coefs),
                                  {k: Var("s")})))
        if c.table:
            n = len(c.table)
            forms += [(2, (f"for {fn} in TABLE.values():", n, {})),
                      (1, (f"for {k}, {fn} in TABLE.items():", n,
                           {k: Var("k", keys=tuple(c.table))}))]
        header, trips, bound = self.pick(forms)
        if not self.room(trips):
            return self.assign_new(depth)
        bound[fn] = Var("f", fn=(None, None), made="value")

        def first(acc, shape):
            e = Expr(f"{fn}({{0}})", (self.arg(shape, 1),))
            if k in bound and bound[k].kind == "s":
                e = Expr(f"{k} * {{0}}", (e,), op=True)
            return [Line(f"{acc} = {acc} + {{0:o}}", (e,))]

        return self.accumulate(depth, header, (), trips, bound, first)

    def for_star_zip(self, depth: int) -> list:
        """`for a, b in zip(*pair(e)):`, pair returning two arrays (their rows zipped) or two
        lists of arrays of e's shape."""
        fn, kind = self.choice(self.b.calls.pairs)
        if kind == "arrays":
            shape = self.nonscalar_shape()
            trips, item = shape[0], shape[1:]
        else:
            shape = self.choice(self.b.pool)
            trips, item = 2, shape
        if not self.room(trips):
            return self.assign_new(depth)
        e = self.expr(shape, 1)
        if any(self.written_in_loop(r) for r in e.refs):
            e = fresh_copy(e, shape)
        for r in e.refs:  # the items may be e itself, alive while the loop runs
            if r in self.env:
                self.env[r].owned = False
        a, u = self.b.fresh("w"), self.b.fresh("w")
        bound = {a: Var(self.kind_of(item), item), u: Var(self.kind_of(item), item)}
        # (not enumerate(zip(*pair(e))): refused where e carries a derivative, and its
        # gradient fails where it does not, TypeError: object of type 'zip' has no len())
        header = f"for {a}, {u} in zip(*{fn}({{0}})):"

        def first(acc, shape):
            t = self.choice(Gen.UNARY)
            return [Line(f"{acc} = {acc} + {a} * {{0:o}}",
                         (Expr(t, (name(u),), op=not t[0].isalpha()),))]

        return self.accumulate(depth, header, (e,), trips, bound, first, item)

    def call_loop(self, depth: int, fn: str) -> list:
        """`for i in range(...): acc = acc + fn(e)`: a function made here, called in a loop."""
        forms = [f for f in self.range_forms() if self.room(f[3]) and f[3] >= 1]
        if not forms:
            return self.call_made(fn)
        header, lo, hi, trips = self.choice(forms)
        i = self.b.fresh("i")

        def first(acc, shape):
            return [Line(f"{acc} = {acc} + {fn}({{0}})", (self.arg(shape, 1),))]

        return self.accumulate(depth, f"for {i} in {header}:", (), trips,
                               {i: Var("i", lo=lo, hi=hi)}, first)

    def call_made(self, fn: str) -> list:
        """`v = fn(e)`, `v = sum(map(fn, X))`: a function made here, called or mapped."""
        shape = self.choice(self.b.pool)
        target = self.b.fresh("v")
        if self.env[fn].made == "partial" and self.chance(0.4):
            e = self.mapped(shape, 1, fn)
        else:
            a = self.arg(shape, 1)
            e = Expr(f"{fn}({{0}})", (a,), refs=a.refs)
        self.made_name = target
        return [Line(f"{target} = {{0}}", (self.bind(target, e, shape),))]

    def use_made(self, depth: int, fn: str) -> list:
        if self.chance(0.3):
            return self.call_loop(depth, fn)
        return self.call_made(fn)

    def make_partial(self, depth: int) -> list:
        """`hp = functools.partial(pk, a)`, `partial(pk, a, k=b)`, `partial(pk2, k=b)`: values
        that carry a derivative fixed; hp is then only called and mapped."""
        fn, how = self.choice(self.b.calls.partials)
        wrap = self.choice(["functools.partial", "partial"])
        args: list = []

        def value() -> str:
            args.append(self.unshared(self.expr((), self.budget()), ()))
            return f"{{{len(args) - 1}}}"

        if how == "pos":
            fmt = f"{wrap}({fn}, {value()}" + (f", k={value()})" if self.chance(0.4) else ")")
        elif self.chance(0.5):
            fmt = f"{wrap}({fn}, k={value()})"
        else:
            a, k = value(), value()
            fmt = f"{wrap}({fn}, a={a}, k={k})" if self.chance(0.5) else \
                f"{wrap}({fn}, k={k}, a={a})"
        target = self.b.fresh("hp")
        self.env[target] = Var("f", fn=(None, None), made="partial")
        self.fixed.add(target)
        return [Line(f"{target} = {fmt}", tuple(args))] + self.use_made(depth, target)

    def make_closure(self, depth: int, active: list | None = None) -> list:
        """`fm = make(a, b)` (b maybe by keyword, or left to its default): a closure over
        values that carry a derivative, then only called. `active`: f's float arguments, not
        rebound yet, one of which `a` reads."""
        fn, default = self.choice(self.b.calls.factories)
        if active:
            n = self.choice(active)
            a = name(n) if self.env[n].kind == "s" else Expr(f"np.sum(np.sin({n}))")
        else:
            a = self.unshared(self.expr((), self.budget()), ())
        how = self.pick([(3, "pos"), (2, "kw"), (2 if default else 0, "omit")])
        if how == "omit":
            fmt, args = f"{fn}({{0}})", (a,)
        else:
            k = self.unshared(self.expr((), self.budget()), ())
            fmt, args = f"{fn}({{0}}, {'b=' if how == 'kw' else ''}{{1}})", (a, k)
        target = self.b.fresh("fm")
        self.env[target] = Var("f", fn=(None, None), made="closure")
        self.fixed.add(target)
        return [Line(f"{target} = {fmt}", args)] + self.use_made(depth, target)

    def callback(self, depth: int) -> list:
        """A call made for its effect: `log(i, v)`, `show(frame)`; `LOG.last = v`, an
        attribute nothing reads back."""
        c = self.b.calls
        opts = []
        for fn, kind in c.callbacks:
            if kind == "pair":
                opts.append((3, lambda fn=fn: Line(f"{fn}({{0}}, {{1}})", (
                    self.int_expr(), self.expr(self.choice(self.b.pool), 1)))))
            else:
                opts.append((2, lambda fn=fn: Line(
                    f"{fn}({{0}}{self.choice(['', ', step={1}', ', {1}'])})",
                    (self.expr(self.nonscalar_shape(), 1), self.int_expr()))))
        if c.log:
            opts.append((2, lambda: Line(f"LOG.{self.choice(['last', 'latest'])} = {{0}}",
                                         (self.expr(self.choice(self.b.pool), 1),))))
        return [self.pick(opts)()]

    def callback_loop(self, depth: int) -> list:
        """`for i in range(...): acc = acc + e; log(i, acc)`: a callback in a loop."""
        forms = [f for f in self.range_forms() if self.room(f[3]) and f[3] >= 1]
        if not forms:
            return self.callback(depth)
        header, lo, hi, trips = self.choice(forms)
        i = self.b.fresh("i")

        def first(acc, shape):
            lines = [Line(f"{acc} = {acc} + {{0:o}}", (self.expr(shape, 1),))]
            fns = [fn for fn, kind in self.b.calls.callbacks
                   if kind == "pair" or (kind == "frame" and shape)]
            if fns and self.chance(0.6):
                fn = self.choice(fns)
                lines.append(Line(f"{fn}({i}, {acc})" if fn.startswith("log") else
                                  f"{fn}({acc}, step={i})"))
            else:
                lines += self.callback(depth + 1)
            return lines

        return self.accumulate(depth, f"for {i} in {header}:", (), trips,
                               {i: Var("i", lo=lo, hi=hi)}, first)

    def value_statement(self, which: str) -> list:
        """`v = <a call through a value>` (of `which`: 'any', 'obj', 'kwargs' or 'starred')."""
        shape = self.choice(self.b.pool)
        if which == "kwargs":
            a = self.arg(shape, 1)
            e = Expr("hk({0}, **options)", (a,), refs=a.refs)
        elif which == "starred":
            e = self.starred_call(shape, 1)
        elif which == "obj":
            a = self.arg(shape, 1)
            e = Expr(self.choice(["OBJ({0})", "OBJ.method({0})"]), (a,), refs=a.refs | UNKNOWN)
        else:
            e = self.choice(self.value_calls(shape, 1))()
        target = self.b.fresh("v")
        self.made_name = target
        return [Line(f"{target} = {{0}}", (self.bind(target, e, shape),))]

    def starters(self, active: list) -> list:
        """At the start of f, a use of each kind of function as a value the program has (what
        it is drawn for), its result part of every return. `active`: f's float arguments."""
        c, uses = self.b.calls, []
        if c.fns or c.table:
            uses.append(lambda: self.for_fns(0) if self.chance(0.4) else
                        self.value_statement("any"))
        if c.obj:
            uses.append(lambda: self.value_statement("obj"))
        if c.partials:
            uses.append(lambda: self.make_partial(0))
        if c.factories:
            uses.append(lambda: self.make_closure(
                0, active if "closure_passive_call" in AVOID else None))
        if c.callbacks:
            uses.append(lambda: self.callback_loop(0))
        if c.log:
            uses.append(lambda: self.value_statement("any") if self.chance(0.5) else
                        [Line(f"LOG.{self.choice(['last', 'latest'])} = {{0}}",
                              (self.expr(self.choice(self.b.pool), 1),))])
        if self.options:
            uses.append(lambda: self.value_statement("kwargs"))
        if c.pairs:
            uses.append(lambda: self.for_star_zip(0))
        if c.starred:
            uses.append(lambda: self.value_statement("starred"))
        out = []
        for use in uses:
            self.made_name = None
            out += use()
            n = self.made_name
            if n is not None and n in self.env and self.env[n].kind in "sa":
                self.must.append(name(n) if self.env[n].kind == "s" else
                                 Expr("np.sum({0})", (name(n),)))
        return out

    def jump(self, depth: int) -> tuple[list, bool]:
        self.jumps += 1
        word = self.choice(["break", "continue"])
        if self.chance(0.2):
            return [Line(word)], True
        return [Block("if {0}:", (self.cond(1),), [Line(word)])], False

    def early_return(self, depth: int) -> tuple[list, bool]:
        ret = Line("return {0}", (self.result(),))
        if depth == 0 and not self.loop and self.chance(0.1):
            return [ret], True
        return [Block("if {0}:", (self.cond(1),), [ret])], False

    def result(self) -> Expr:
        """The scalar `f` returns: a sum over live float names, and maybe more."""
        names = [n for n, v in self.env.items() if v.kind in "sal"]
        terms = []
        chosen = names[-3:] if self.chance(0.8) else [self.choice(names)]
        for n in chosen:
            v = self.env[n]
            if v.kind == "l":
                terms.append(Expr(f"np.sum(np.stack({n}))", ()))
            elif v.kind == "s":
                terms.append(name(n))
            else:
                t = self.choice(["np.sum({0})", "np.sum(np.sin({0}))", "np.mean({0:o} ** 2)"])
                terms.append(Expr(t, (name(n),)))
        if self.chance(0.3):
            terms.append(self.expr((), 2))
        terms += self.must
        fmt = " + ".join(f"{{{k}:o}}" for k in range(len(terms)))
        return Expr(fmt, tuple(terms), op=len(terms) > 1)


# ---------------------------------------------------------------- whole programs


@dataclass(eq=False)
class Program:
    source: str
    args: list
    wrt: tuple
    value: float
    probe_source: str = ""
    namespace: dict = field(default_factory=dict)  # globals beyond np and math
    float32: bool = False  # checked again with its arrays in float32
    # module-level names rebound between calls ({name: value as source}, applied in turn),
    # and f's value after each
    rebinds: list = field(default_factory=list)
    values: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)  # passed to f at each call (its **options)

    def __repr__(self) -> str:
        shown = ", ".join(_show(a) for a in self.args)
        extra = ", float32=True" if self.float32 else ""
        extra += f", kwargs={self.kwargs!r}" if self.kwargs else ""
        then = "".join(f"# then, between calls: {'; '.join(f'{k} = {v}' for k, v in r.items())}\n"
                       for r in self.rebinds)
        return f"Program(wrt={self.wrt}, args=[{shown}]{extra}):\n{self.source}{then}"


def _show(a) -> str:
    if isinstance(a, dict):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in a.items()) + "}"
    if isinstance(a, list):
        return "[" + ", ".join(_show(v) for v in a) + "]"
    if isinstance(a, tuple):
        return "(" + ", ".join(_show(v) for v in a) + (",)" if len(a) == 1 else ")")
    if isinstance(a, np.ndarray):
        return f"np.array({np.round(a, 4).tolist()})"
    return repr(a)


CONSTANTS = {"SCALE": "0.5", "OFFSET": "-0.7", "G": "1.5"}
FUNCTIONS = ["np.sin", "np.tanh", "np.cos", "np.arctan"]


def new_global(b: Builder, n: str, var: Var, text: str) -> None:
    """A module-level name, bound where the module defines it so far."""
    b.globals[n] = var
    b.values[n] = text
    b.module.append(Line(f"{n} = {text}"))


def default_value(g: Gen, b: Builder, kind: str) -> tuple[str, Var]:
    """The default of a helper's parameter: a literal, or a module-level constant (maybe
    rebound after the def: the default stays the value it had at the def)."""
    if kind == "c":
        var = Var("c", seq=Seq("tuple", ((), ())))
        if "global_defaults" not in AVOID and g.chance(0.5):
            if "WS" not in b.globals:
                new_global(b, "WS", var, "(0.5, 2.0)")
            return "WS", var
        return g.choice(["(0.5, 2.0)", "(1.5, -0.3)"]), var
    var = Var("s", owned=True)
    if "global_defaults" not in AVOID and g.chance(0.6):
        n = g.choice(list(CONSTANTS))
        if n not in b.globals:
            new_global(b, n, Var("s"), CONSTANTS[n])
        return n, var
    return g.choice(["0.5", "1.5", "2.0", "-0.7"]), var


def helper(draw, b: Builder, k: int, below: Helper | None = None,
           seq: Seq | None = None) -> tuple[Def, Helper]:
    """A helper h{k}: a container parameter `ps` sometimes (always with `seq`), 1 to 3 float
    ones, an int one sometimes, parameters with defaults last. `below`: a helper taking a
    container that this one calls twice, passing its own container along (a chain)."""
    g = Gen(draw, b, {}, main=False)
    params: list[tuple[str, Var]] = []
    if below is not None:
        params.append(("ps", next(v for _, v in below.params if v.kind == "c")))
    elif seq is not None:
        params.append(("ps", Var("c", seq=seq)))
    elif b.seqs and "container_helpers" not in AVOID and g.chance(0.3):
        params.append(("ps", Var("c", seq=g.choice(b.seqs))))
    for n in ["p", "q", "r"][: draw(st.integers(1, 3))]:
        shape = draw(st.sampled_from(b.pool))
        params.append((n, Var("s", owned=True) if shape == () else Var("a", shape)))
    if draw(st.integers(0, 9)) == 0:
        v = draw(st.integers(1, 3))
        params.append(("m", Var("i", lo=v, hi=v)))
    written = [n for n, _ in params]
    defaults = 0
    # a default on the last float parameter, or new parameters with defaults
    if params[-1][1].kind == "s" and g.chance(0.4):
        text, _ = default_value(g, b, "s")
        written[-1] += f"={text}"
        defaults = 1
    for n, kind in [("scale", "s"), ("ws", "c")]:
        if g.chance(0.2):
            text, var = default_value(g, b, kind)
            params.append((n, var))
            written.append(f"{n}={text}")
            defaults += 1
    g = Gen(draw, b, dict(params), main=False)
    body = g.block(1, 3) if below is None and draw(st.booleans()) else []
    values = []
    if below is not None:  # (compiling a chain costs about twice more with each level)
        shape = g.choice(below.floats)
        same = Expr("", seqargs={"ps": name("ps")})
        first = g.call(below, shape, 0, same=same)
        second = g.call(below, shape, 0, same=same)
        values.append(Expr(g.choice(["{0:o} + {1:o}", "{0:o} * {1:o}", "{0:o} - {1:o}"]),
                           (first, second), op=True))
        returns = [shape]
    else:
        returns = [draw(st.sampled_from(b.pool)) for _ in range(draw(st.integers(1, 2)))]
        for s in returns:
            e = g.expr(s, 2)
            values.append(fresh_copy(e, s) if e.refs and s else e)
        reads = g.seq_forms(())
        if reads and params[0][0] == "ps":  # read the container, whatever the body did
            values[0] = Expr("{0:o} * {1:o}", (values[0], g.choice(reads)()), op=True)
    if len(returns) == 1 and "mixed_returns" not in AVOID and g.chance(0.35):
        returns, values = mixed_return(g, b, params, returns, values)
    fmt = ", ".join(f"{{{j}}}" for j in range(len(values)))
    body.append(Line(f"return {fmt}", tuple(values)))
    d = Def(f"h{k}", written, body)
    text = "\n".join(d.render(Ctx(False, {})))
    inplace = frozenset(n for n, v in params if v.kind == "s"
                        and re.search(rf"^\s+{n} [-+*/]+= ", text, re.M))
    b.module.append(d)
    if "global_defaults" not in AVOID:
        for n in [n for n in CONSTANTS if n in b.globals and re.search(rf"={n}\b", text)]:
            if g.chance(0.7):  # rebound after the def: the default keeps the old value
                b.values[n] = g.choice([c for c in ["0.25", "2.5", "-1.5"] if c != b.values[n]])
                b.module.append(Line(f"{n} = {b.values[n]}"))
    return d, Helper(f"h{k}", params, returns, defaults, inplace)


def mixed_return(g: Gen, b: Builder, params, returns, values) -> tuple[list, list]:
    """`return y, None`, `return np.ravel(p), None`, `return y, len(p)`, `return y, np.tanh`,
    `return y, h1`: a tuple the caller unpacks."""
    opts = [(3, "none"), (3, "fn")]
    arrays = [(n, v) for n, v in params if v.kind in "ac"]
    if arrays:
        opts.append((2, "int"))
    form = g.pick(opts)
    if form == "none":
        arrays = [(n, v.shape) for n, v in params if v.kind == "a" and len(v.shape) == 1]
        if arrays and g.chance(0.6):
            n, shape = g.choice(arrays)
            returns, values = [shape], [Expr(f"np.ravel({n})")]
        return returns + [("none",)], values + [Expr("None")]
    if form == "int":
        n, v = g.choice(arrays)
        size = len(v.seq.items) if v.kind == "c" else v.shape[0]
        text = f"len({n})" if v.kind == "c" or g.chance(0.5) else f"{n}.shape[0]"
        return returns + [("int", size)], values + [Expr(text)]
    fns = [(t, Var("f", fn=(None, None))) for t in FUNCTIONS]
    fns += [(n, v) for n, v in b.globals.items() if v.kind == "f"]
    fns += [(h.name, Var("f", fn=(h.params[0][1].shape, h.floats[0]))) for h in b.helpers
            if len(h.params) - h.defaults == 1 and h.params[0][1].kind in "sa"
            and len(h.returns) == 1]
    text, var = g.choice(fns)
    return returns + [("fn", var)], values + [Expr(text)]


RECURSIVE = {
    "flat": ["def flat(v):", "    if isinstance(v, {types}):",
             "        return np.concatenate([flat(u) for u in v])", "    return np.ravel(v)"],
    "total": ["def total(v):", "    if isinstance(v, {types}):",
              "        return sum(total(u) for u in v)", "    return np.sum(v ** 2)"],
}


def recursive_helper(g: Gen, b: Builder) -> None:
    """`flat` or `total`: recursion over nested containers, told apart by isinstance."""
    n = g.choice(list(RECURSIVE))
    tuples = any(has_tuple(s) for s in b.seqs) or g.chance(0.2)
    test = g.choice(["isinstance(v, (list, tuple))", "isinstance(v, list) or isinstance(v, tuple)"]
                    if tuples else ["isinstance(v, list)"])
    b.recursive[n] = tuples
    b.module.append(Raw([t.replace("isinstance(v, {types})", test) for t in RECURSIVE[n]]))


@dataclass(eq=False)
class Raw:
    """A def written out as it is."""

    lines: list

    def render(self, ctx: Ctx) -> list[str]:
        return list(self.lines)


def scalar_param() -> Var:
    return Var("s", owned=True)


def make_args(rng: np.random.Generator, params: list[tuple[str, Var]],
              float32: bool = False) -> list:
    """Values for the parameters; with float32, values a float32 holds exactly."""
    def value(struct):
        if isinstance(struct, Seq):
            items = [value(s) for s in struct.items]
            return items if struct.kind == "list" else tuple(items)
        if struct == ():
            v = float(np.round(rng.uniform(-1.5, 1.5), 3))
            return float(np.float32(v)) if float32 else v
        a = np.round(rng.uniform(-1.5, 1.5, size=struct), 3)
        return a.astype(np.float32).astype(np.float64) if float32 else a

    out = []
    for _, v in params:
        if v.kind == "i":
            out.append(v.lo)
        elif v.kind == "d":
            out.append({k: value(s) for k, s in v.keys})
        elif v.kind == "c":
            out.append(value(v.seq))
        else:
            out.append(value(v.shape))
    return out


def direction(x, rng: np.random.Generator):
    """check_grads' random direction for an argument (a dict's in the order of its keys, a
    list's or tuple's item by item, as a list)."""
    if isinstance(x, dict):
        return {k: direction(v, rng) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [direction(v, rng) for v in x]
    return float(rng.normal()) if np.ndim(x) == 0 else rng.normal(size=np.shape(x))


def moved(x, v, step: float):
    """x + step v, for a dict entry by entry, for a list or tuple item by item."""
    if isinstance(x, dict):
        return {k: moved(x[k], v[k], step) for k in x}
    if isinstance(x, (list, tuple)):
        return type(x)(moved(a, d, step) for a, d in zip(x, v, strict=True))
    return x + step * v


def inner(g, v) -> float:
    """<g, v>, for dicts, lists and tuples summed over their entries."""
    if isinstance(g, dict):
        return sum(inner(g[k], v[k]) for k in g)
    if isinstance(g, (list, tuple)):
        return sum(inner(a, d) for a, d in zip(g, v, strict=True))
    return float(np.sum(np.asarray(g) * np.asarray(v)))


def fd_points(args: list, wrt_positions: list[int], seed: int = 0):
    """The points where check_grads(..., seed=seed) evaluates f: one direction per `wrt`
    argument, drawn in order, each argument moved by +-eps alone."""
    rng = np.random.default_rng(seed)
    for k in wrt_positions:
        x = args[k]
        v = direction(x, rng)
        for step in (FD_EPS, -FD_EPS):
            point = copy.deepcopy(args)
            point[k] = moved(x, v, step)
            yield point


def rebind(ns: dict, values: dict) -> None:
    """Rebind module-level names of a program's namespace, as `name = value` at the module's
    top level would."""
    for n, text in values.items():
        exec(f"{n} = {text}", ns)


def run_probe(source: str, args: list, consts: dict | None = None, fixed: bool | None = None,
              rebinds: list = (), kwargs: dict | None = None) -> Probe:
    """Run the probing version of a program (after the rebindings of `rebinds`), passing
    `kwargs` to f."""
    probe = Probe(consts)
    if fixed is not None:
        probe.fixed = fixed
    ns = {"np": np, "math": math, "_P": probe, "__name__": "fuzz_probe"}
    exec(compile(source, "<fuzz-probe>", "exec"), ns)
    for values in rebinds:
        rebind(ns, values)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        try:
            with time_limit(10):  # every loop ends by construction: a hang is a bug here
                value = ns["f"](*copy.deepcopy(args), **(kwargs or {}))
        except (FloatingPointError, OverflowError, ZeroDivisionError) as e:
            raise Reject from e
    if not (np.ndim(value) == 0 and np.isfinite(value) and abs(value) < 1e6):
        raise Reject
    probe.value = float(value)
    return probe


class GeneratorBug(Exception):
    """The generator wrote a program that does not run: a bug here, not in adjoint."""


def render_module(items: list, ctx: Ctx) -> str:
    """Module-level lines and defs, a blank line around each def."""
    chunks: list[list[str]] = []
    for item in items:
        if isinstance(item, (Def, Raw)):
            chunks.append(item.render(ctx))
            chunks.append([])
        else:
            if not chunks or not chunks[-1]:
                chunks.append([])
            chunks[-1] += item.render(ctx, "")
    return "\n\n".join("\n".join(c) for c in chunks if c) + "\n"


def module_globals(draw, b: Builder, g: Gen) -> None:
    """Module-level constants and functions the program reads (maybe none)."""
    if g.chance(0.2):
        new_global(b, "G", Var("s"), CONSTANTS["G"])
    if g.chance(0.15):
        shape = g.nonscalar_shape()
        a = np.round(np.random.default_rng(draw(st.integers(0, 99))).uniform(-1, 1, shape), 2)
        new_global(b, "W0", Var("a", shape), f"np.array({a.tolist()})")
    if g.chance(0.2):
        new_global(b, "act", Var("f", fn=(None, None)), g.choice(FUNCTIONS))
    if "object_state" not in AVOID and g.chance(0.15):
        b.state = True
        b.module.append(Raw(["class State:", "    def __init__(self):",
                             "        self.scale = 0.5", "        self.calls = 0", "",
                             "    def bump(self):",
                             "        self.scale = self.scale * 1.1 + 0.1"]))
        b.module.append(Line("STATE = State()"))


NUMPY_VALUES = ["np.sin", "np.tanh", "np.cos", "np.arctan", "np.arcsinh", "np.exp"]  # exp last
PARAMETRIC = ["a * np.sin(t) + k * t", "np.tanh(a * t) + k * t ** 2",
              "a * t / (1.0 + t ** 2) + np.cos(k * t)", "np.exp(np.sin(a * t)) * k",
              "a * np.arctan(t) - k * np.log(1.0 + t ** 2)", "(a + k * np.cos(t)) * t"]


def elementwise(g: Gen, v: str) -> str:
    """A smooth expression of the name v, elementwise (one or two of Gen.UNARY)."""
    e = name(v)
    for _ in range(g.draw(st.integers(1, 2))):
        t = g.choice(Gen.UNARY)
        e = Expr(t, (e,), op=not t[0].isalpha())
    return e.render(Ctx(False, {}))


def module_functions(draw, b: Builder, g: Gen) -> None:
    """Module-level functions as values (each group behind its gate, drawn with probability
    GATE_CHANCE): lists and dicts of them, a helper calling the function it is given, a
    callable object; functions to fix values of with functools.partial; closure factories;
    callbacks; a helper taking **kw; pairs of sequences to zip(*...); helpers taking
    *weights. Each takes and returns floats of any one shape (elementwise). (A gate in AVOID
    draws nothing: the programs are those of a generator without it.)"""
    c = b.calls
    lines: list = []

    def gate(n: str) -> bool:
        return n not in AVOID and g.chance(GATE_CHANCE)

    def fn_def(head: str, *body: str) -> None:
        lines.append(Raw([head] + [f"    {t}" for t in body]))

    if gate("function_values"):
        own = ["wave", "soft"][: g.draw(st.integers(1, 2))]
        for n in own:
            fn_def(f"def {n}(t):", f"return {elementwise(g, 't')}")
        c.obj = g.chance(0.5)
        if c.obj:
            lines.append(Raw(["class Scale:", "    def __init__(self, k):",
                              "        self.k = k", "",
                              "    def __call__(self, t):",
                              f"        return self.k * {elementwise(g, 't')}", "",
                              "    def method(self, t):",
                              f"        return {elementwise(g, 't')} + self.k * t"]))
            lines.append(Line(f"OBJ = Scale({g.choice(['1.5', '0.5', '-0.8'])})"))
        c.values = NUMPY_VALUES[:-1] + own + (["OBJ", "OBJ.method"] if c.obj else [])

        def item() -> str:
            return g.pick([(3, lambda: g.choice(c.values)), (2, lambda: f"lambda t: "
                                                                    f"{elementwise(g, 't')}"),
                           (1, lambda: "np.exp")])()

        c.fns = [item() for _ in range(g.draw(st.integers(2, 4)))]
        lines.append(Line(f"FNS = [{', '.join(c.fns)}]"))
        if g.chance(0.4):
            keys = ["sin", "soft", "wave", "lin"][: g.draw(st.integers(1, 3))]
            c.table = keys
            lines.append(Line("TABLE = {{" + ", ".join(f'"{k}": {item()}' for k in keys) + "}}"))
        if g.chance(0.4):
            c.coefs = g.draw(st.integers(1, 4))
            lines.append(Line(f"COEFS = {[0.5, -1.2, 2.0, 0.3][:c.coefs]!r}"))
        c.apply = g.chance(0.6)
        if c.apply:
            fn_def("def apply(f, v):", "return " + g.choice(
                ["f(v) * 2.0", "0.5 * f(v) + v", "f(v) - np.sin(v)", "f(2.0 * v)"]))
    if gate("partials"):
        lines += [Line("import functools"), Line("from functools import partial")]
        for fn, how, head in [("pk", "pos", "def pk(a, t, k=0.5):"),
                              ("pk2", "kw", "def pk2(t, k=0.5, a=1.0):")]:
            if not c.partials or g.chance(0.5):
                fn_def(head, f"return {g.choice(PARAMETRIC)}")
                c.partials.append((fn, how))
    if gate("closure_factories"):
        for n in ["make", "make2"][: g.draw(st.integers(1, 2))]:
            default = g.chance(0.5)
            count = g.chance(0.5)
            body = re.sub(r"\bk\b", "b", g.choice(PARAMETRIC))
            fn_def(f"def {n}(a, b{'=0.5' if default else ''}):",
                   *([f"{n}.count += 1"] if count else []), "def inner(t):",
                   f"    return {body}", "return inner")
            if count:
                lines.append(Line(f"{n}.count = 0"))
            c.factories.append((n, default))
    if gate("callbacks"):
        if g.chance(0.7):
            lines.append(Line("TRACE = []"))
            fn_def("def log(i, v):", "TRACE.append((i, v))")
            c.callbacks.append(("log", "pair"))
        if not c.callbacks or g.chance(0.4):
            lines.append(Line("FRAMES = []"))
            fn_def("def show(frame, step=0):", "FRAMES.append(frame.copy())")
            c.callbacks.append(("show", "frame"))
        c.log = g.chance(0.5)
        if c.log:
            lines.append(Raw(["class Log:", "    def __init__(self):",
                              "        self.history = []", "", "    def note(self, v):",
                              "        self.history.append(v)", "        return v"]))
            lines.append(Line("LOG = Log()"))
    if gate("kwargs"):
        c.kwargs = True
        fn_def("def hk(p, **kw):", f'return {elementwise(g, "p")} * kw.get("scale", 1.0) + '
                                   'kw.get("shift", 0.0)')
    if gate("star_zip"):
        for n, kind in [("pair", "arrays"), ("pair2", "lists")]:
            if not c.pairs or g.chance(0.4):
                if kind == "arrays":
                    fn_def(f"def {n}(v):",
                           f"return {elementwise(g, 'v')}, {elementwise(g, 'v')}")
                else:
                    fn_def(f"def {n}(v):", f"return [v, {elementwise(g, 'v')}], "
                                           f"[{elementwise(g, 'v')}, 0.5 * v]")
                c.pairs.append((n, kind))
    if gate("starred_calls"):
        for n, kind in [("hw", "loop"), ("hw2", "unpack")]:
            if not c.starred or g.chance(0.4):
                if kind == "loop":
                    fn_def(f"def {n}(p, *weights):", "out = p", "for w in weights:",
                           f"    out = out * {g.choice(['np.cos(w)', '(1.0 + w ** 2)'])} + "
                           "0.5 * w", "return out")
                else:
                    fn_def(f"def {n}(p, *weights):", "a, b = weights",
                           f"return p * a + {g.choice(['np.sin(b * p)', 'b'])}")
                c.starred.append((n, kind))
    b.module += lines


def rebinding(g: Gen, b: Builder, source: str) -> dict:
    """New values for the module-level names the program reads, set between two calls."""
    out = {}
    for n, v in b.globals.items():
        if not re.search(rf"\b{n}\b", source) or not g.chance(0.8):
            continue
        if v.kind == "f" and "rebind_function" not in AVOID:
            out[n] = g.choice([t for t in FUNCTIONS if t != b.values[n]])
        elif v.kind == "s" and "rebind_const" not in AVOID:
            out[n] = g.choice([c for c in ["0.25", "2.5", "-1.5", "0.8"] if c != b.values[n]])
        elif v.kind == "a" and "rebind_const" not in AVOID:
            out[n] = f"-0.5 * {b.values[n]}"
        elif v.kind == "c" and "rebind_const" not in AVOID:
            out[n] = "(1.5, -0.5)"
    fns = b.calls.fns
    if fns and re.search(r"\bFNS\b", source) and "rebind_function" not in AVOID and \
            g.chance(0.9):  # a new list: its functions are read at each call
        new = [g.choice([t for t in b.calls.values if t != old]) for old in fns]
        out["FNS"] = f"[{', '.join(new)}]"
    return out


@st.composite
def programs(draw, points: bool = True) -> Program:
    """A random program in adjoint's language, with arguments where its gradient exists
    (points=False: without the runs at the points of central differences, which tell
    whether a branch switches there: for a quick look at what the generator writes)."""
    n, m = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    b = Builder([(), (n,), (m,), (m, n)])
    g0 = Gen(draw, b, {}, main=True)  # draws the program's outline
    module_globals(draw, b, g0)
    module_functions(draw, b, g0)
    params: list[tuple[str, Var]] = []
    for pname, shape in [("x", (n,)), ("A", (m, n)), ("y", (m,)), ("c", ())]:
        if not params or draw(st.booleans()):
            params.append((pname, scalar_param() if shape == () else Var("a", shape)))
    if "containers" not in AVOID:
        for pname in ["xs", "ps"]:
            if g0.chance(0.2):
                params.append((pname, Var("c", seq=g0.draw_seq())))
    b.seqs = [v.seq for _, v in params if v.kind == "c"]
    if draw(st.integers(0, 4)) == 0:  # a dict of parameters, read by key or iterated
        params.append(("P", Var("d", keys=g0.dict_keys())))
    if draw(st.integers(0, 4)) == 0:
        v = draw(st.integers(0, 3))
        params.append(("k", Var("i", lo=v, hi=v)))
    if b.seqs and "container_recursion" not in AVOID and g0.chance(0.4):
        recursive_helper(g0, b)
    chained = bool(b.seqs) and "container_helpers" not in AVOID and g0.chance(0.3)
    for k in range(draw(st.integers(0, 0 if chained else 2))):
        d, h = helper(draw, b, k + 1)
        b.helpers.append(h)
    chain = None
    if chained:  # a chain of helpers passing a container down, each calling the next twice
        for level in range(3 if g0.chance(0.45) else 2):
            k = len(b.helpers) + 1
            if level == 0:
                d, chain = helper(draw, b, k, seq=g0.choice(b.seqs))
            else:
                d, chain = helper(draw, b, k, below=chain)
            b.helpers.append(chain)
    # f: its parameters, maybe one more with a default the calls leave out
    g = Gen(draw, b, dict(params), main=True)
    written = [p for p, _ in params]
    if g0.chance(0.15):
        text, var = default_value(g0, b, "s")
        written.append(f"scale={text}")
        g = Gen(draw, b, {**dict(params), "scale": var}, main=True)
    kwargs = {}
    if b.calls.kwargs:  # f(..., **options), called with some of them
        written.append("**options")
        while not kwargs:
            for key, values in [("scale", [0.5, 1.5, -0.8]), ("shift", [0.2, -1.0]),
                                ("other", [3.0])]:
                if g0.chance(0.6):
                    kwargs[key] = g0.choice(values)
    if chain is not None:
        shape = g.choice(chain.floats)
        e = g.call_twice(chain, shape, 1) if g.chance(0.7) else g.call(chain, shape, 1)
        g.must.append(e if shape == () else Expr("np.sum({0})", (e,)))
    if b.recursive and g.chance(0.6):  # a recursive helper on a container parameter
        seq_param, var = g.choice([(p, v) for p, v in params if v.kind == "c"])
        forms = [f for f in g.forms_of(seq_param, var.seq, ()) if "flat(" in f or "total(" in f]
        if forms:
            g.must.append(g.fill(g.choice(forms), frozenset([seq_param])))
    # constructs that take several draws to come together, often at the start
    body = [Line("STATE.scale = 0.5")] if b.state else []  # each call starts alike
    mixed = [h for h in b.helpers if len(h.floats) < len(h.returns)]
    if mixed and g.chance(0.7):
        body += g.tuple_call(0, g.choice(mixed))
    if any(v.kind == "c" for v in g.env.values()) and "list_slice" not in AVOID and \
            g.chance(0.25):
        body += g.new_container(0, "object")
    body += g.starters([p for p, v in params if v.kind in "sa"])
    body += g.block(0, 8, least=2)
    if not (body and isinstance(body[-1], Line) and body[-1].fmt.startswith("return")):
        body.append(Line("return {0}", (g.result(),)))
    b.module.append(Def("f", written, body))
    if written[-1] == "scale=SCALE" and "global_defaults" not in AVOID and g0.chance(0.7):
        b.values["SCALE"] = g0.choice([c for c in ["0.25", "2.5"] if c != b.values["SCALE"]])
        b.module.append(Line(f"SCALE = {b.values['SCALE']}"))  # f keeps the old default
    wrt = tuple(p for p, v in params if v.kind != "i")
    positions = [k for k, (_, v) in enumerate(params) if v.kind != "i"]
    float32 = "float32" not in AVOID and g0.chance(0.15)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    args = make_args(rng, params, float32)

    def render(ctx: Ctx) -> str:
        return render_module(b.module, ctx)

    probe_source = render(Ctx(True, {}))
    plain = render(Ctx(False, {}))
    if float32 and "float32_extrema" in AVOID and re.search(r"\b(max|min|maximum|minimum)\(",
                                                             plain):
        float32 = False
    stages = [{}]
    defs = render_module([d for d in b.module if not isinstance(d, Line)], Ctx(False, {}))
    again = rebinding(g0, b, defs) if g0.chance(0.6) else {}
    if again:
        stages.append(again)
    try:
        consts: dict = {}
        values = []
        for s in range(len(stages)):
            probe = run_probe(probe_source, args, consts, fixed=False, rebinds=stages[:s + 1],
                              kwargs=kwargs)
            consts = probe.consts
            smooth = probe.margin >= MARGIN
            points = []
            for point in fd_points(args, positions) if smooth and points else ():
                other = run_probe(probe_source, point, consts, rebinds=stages[:s + 1],
                                  kwargs=kwargs)
                smooth = smooth and other.trace == probe.trace
                points.append(other.value)
            # slopes so steep that central differences cannot tell the gradient (a sine of a
            # value grown by squaring in a loop) say nothing about adjoint
            slopes = [abs(a - c) / (2 * FD_EPS) for a, c in zip(points[::2], points[1::2],
                                                                 strict=True)]
            smooth = smooth and all(x < MAX_SLOPE * (1 + abs(probe.value)) for x in slopes)
            values.append(probe.value)
            if not smooth:
                break
    except Reject:
        smooth = False
    except (Exception, Hang) as e:
        raise GeneratorBug(f"{type(e).__name__}: {e}\n{probe_source}") from e
    assume(smooth)
    source = render(Ctx(False, consts))
    return Program(source, args, wrt, values[0], probe_source, float32=float32,
                   rebinds=stages[1:], values=values, kwargs=kwargs)
