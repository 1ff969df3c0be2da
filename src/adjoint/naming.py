"""Deterministic, collision-free names for temporaries and adjoints.

One `Namer` per emitted module hands out every name the compiler invents, so
temporaries are named for what they hold (`sin_x`, `xW`, `err_sq`), adjoints
are `x_bar`, and nothing shadows a name the user's code reads.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Iterable

MAX_LEN = 16  # longer generated names fall back to the operation's name
# names the emitted code reads for itself: a local of the user's so named is renamed
EMITTED = frozenset({"runtime", "np", "math", "operator", "range", "reversed", "len", "slice",
                     "Ellipsis", "float"})

# How a temporary holding `a OP b` is named, by operator word.
BINOP_NAMES = {
    "add": "{a}_plus_{b}",
    "sub": "{a}_minus_{b}",
    "mul": "{a}_{b}",
    "truediv": "{a}_over_{b}",
    "floordiv": "{a}_div_{b}",
    "mod": "{a}_mod_{b}",
    "matmul": "{a}{b}",
    "pow": "{a}_pow_{b}",
    "lt": "{a}_lt_{b}",
    "le": "{a}_le_{b}",
    "gt": "{a}_gt_{b}",
    "ge": "{a}_ge_{b}",
    "eq": "{a}_eq_{b}",
    "ne": "{a}_ne_{b}",
    "and_": "{a}_and_{b}",
    "or_": "{a}_or_{b}",
}
# ... and when one side is a constant.
SCALED = {"add": "{a}_shifted", "sub": "{a}_shifted", "mul": "{a}_scaled", "truediv": "{a}_scaled"}
SHORT = {"add": "total", "sub": "diff", "mul": "prod", "truediv": "ratio", "matmul": "product",
         "pow": "power"}
POWERS = {2: "{a}_sq", 3: "{a}_cube", 0.5: "sqrt_{a}", -1: "inv_{a}"}


def identifier(text: str) -> str:
    """`text` made into a valid, non-keyword identifier, in the form Python reads it (NFKC:
    `"µm"` with a micro sign and `"μm"` with a mu name one variable, so both are compared
    normalized)."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c if ("a" + c).isidentifier() else " " for c in text)
    text = re.sub(r"\W+", "_", text).strip("_") or "t"
    if not text[0].isidentifier():  # a digit, or a mark no name starts with
        text = "t" + text
    if keyword.iskeyword(text) or keyword.issoftkeyword(text):
        text += "_"
    return text


def _nfkc(name: str) -> str:
    return name if name.isascii() else unicodedata.normalize("NFKC", name)


class Namer:
    """Hands out fresh names; never one in `reserved` or one handed out before."""

    def __init__(self, reserved: Iterable[str] = ()):
        self.taken: set[str] = {_nfkc(n) for n in reserved}
        self.adjoints: dict[str, str] = {}
        self.primals: dict[str, str] = {}  # x_bar -> x
        self._next: dict[str, int] = {}  # base -> the first suffix that may be free
        self._held: dict[int, object] = {}  # id -> an object cached_for names

    def reserve(self, name: str) -> None:
        self.taken.add(_nfkc(name))

    def fresh(self, base: str) -> str:
        base = identifier(base)
        name, k = base, self._next.get(base, 2)
        if name in self.taken:
            name = f"{base}_{k}"
        while name in self.taken:
            name, k = f"{base}_{k + 1}", k + 1
        self._next[base] = k
        self.taken.add(name)
        return name

    def cached(self, key, base: str) -> str:
        """A fresh name, the same one every time for the same key."""
        if key not in self.adjoints:
            self.adjoints[key] = self.fresh(base)
        return self.adjoints[key]

    def cached_for(self, obj: object, key: tuple, base: str) -> str:
        """A fresh name for `obj` (a statement), the same one every time for it and `key`:
        keyed by its identity, and the object held, so that no other takes its id (a
        temporary freed at once would hand its name to the next)."""
        self._held.setdefault(id(obj), obj)
        return self.cached((*key, id(obj)), base)

    def bar(self, name: str) -> str:
        """The adjoint of `name`: `x_bar`, the same answer every time."""
        if name not in self.adjoints:
            self.adjoints[name] = self.fresh(f"{name}_bar")
            self.primals[self.adjoints[name]] = name
        return self.adjoints[name]


def binop_name(op: str, a: str | None, b: str | None, b_value: object = None) -> str:
    """A name for the result of `a OP b`; `None` stands for a constant operand (whose value,
    when it is the right operand, is `b_value`)."""
    if op == "pow" and a is not None and b is None and b_value in POWERS:
        return POWERS[b_value].format(a=a)
    if a is None and b is None:
        return op.rstrip("_")
    if a is None or b is None:
        if op == "truediv" and a is None:
            return f"inv_{b}"
        if op in SCALED:
            return SCALED[op].format(a=a or b)
        const = str(b_value).replace(".", "_").replace("-", "m") if b_value is not None and \
            len(str(b_value)) <= 5 else "c"
        return identifier(BINOP_NAMES.get(op, "{a}_" + op + "_{b}").format(a=a or const,
                                                                             b=b or const))
    name = BINOP_NAMES.get(op, "{a}_" + op + "_{b}").format(a=a, b=b)
    return name if len(name) <= MAX_LEN else SHORT.get(op, op.rstrip("_"))


def call_name(func: str, first: str | None) -> str:
    """A name for the result of `func(first, ...)`: `sin_x`, `sum_err_sq`; for a long
    argument name, its last word: `sum_sq` for np.sum(tanh_xW_plus_b_sq)."""
    name = f"{func}_{first}" if first else func
    if len(name) <= MAX_LEN + 4:
        return name
    short = f"{func}_{first.rsplit('_', 1)[-1]}" if first else func
    return short if len(short) <= MAX_LEN + 4 else func
