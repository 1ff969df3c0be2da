"""Calls through values: a function held in a name, a list or a dict (`phi(t)`,
`TESTBED[name](x)`), a bound method (`self.act(z)`, `MODEL.log_prior(w)`), a callable object,
or a `functools.partial` made outside the differentiated function.

What such a call calls is known only when it runs, so the forward sweep looks it up then:
`call_fwd` finds the split adjoint of the function the value holds (compiled once per
function, active arguments and argument kinds, and compiled again when a name the function
reads comes to mean something else) and runs its forward half; `call_bwd` runs the backward
half with what the forward half kept. The function's own closure cells, bound object and
partial arguments are read as they are: they carry no derivative.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import linecache
import types
import weakref
from typing import Any

from ..errors import UnsupportedArgument

_splits: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_wrappers: dict = {}
_count = itertools.count()


class Spread(tuple):
    """The items of `*xs` in a call `call_fwd` makes: passed one by one; its adjoint is the
    list of theirs."""


def spread(xs: Any) -> Spread:
    return Spread(xs)


def call_fwd(fn: Any, positions: tuple, keywords: tuple, *args: Any, **kwargs: Any) -> tuple:
    """(value, kept) of the call fn(*args, **kwargs), differentiated with respect to the
    positional arguments `positions` and the keyword arguments `keywords` (an argument
    `spread(xs)` stands for `*xs`)."""
    target, front, bound = unwrapped(fn)
    flat, where = list(front), []
    for a in args:
        where.append(list(range(len(flat), len(flat) + len(a))) if isinstance(a, Spread)
                     else len(flat))
        flat.extend(a) if isinstance(a, Spread) else flat.append(a)
    kwargs = {**bound, **kwargs}
    active = sorted({j for k in positions for j in _listed(where[k])})
    count, extra = _positional(target)
    named = tuple(j for j in active if j < count)
    rest = [j for j in active if j >= count]
    if rest and extra is None:
        raise TypeError(f"{getattr(target, '__name__', target)!r} takes {count} positional "
                        f"arguments but {len(flat)} were given")
    fwd, bwd = split_of(target, named, keywords + ((extra,) if rest else ()), tuple(flat),
                        kwargs)
    value, saved = fwd(*flat, **kwargs)
    return value, (bwd, saved, (positions, keywords, where, named, count, bool(rest)))


def call_bwd(kept: tuple, g: Any) -> Any:
    """The adjoints of the differentiated arguments of a call `call_fwd` made (one, or a
    tuple in the order positions then keywords; a list for a spread argument)."""
    bwd, saved, (positions, keywords, where, named, count, rest) = kept
    bars = bwd(saved, g)
    wanted = len(named) + len(keywords) + rest
    bars = tuple(bars) if wanted > 1 else (bars,)
    by_index = dict(zip(named, bars, strict=False))
    if rest and isinstance(bars[-1], (list, tuple)):
        by_index.update((count + j, bar) for j, bar in enumerate(bars[-1]))
    out = [[by_index.get(j, 0.0) for j in where[k]] if isinstance(where[k], list)
           else by_index.get(where[k], 0.0) for k in positions]
    out += list(bars[len(named):len(named) + len(keywords)])
    return out[0] if len(out) == 1 else tuple(out)


def _listed(where: Any) -> list:
    return where if isinstance(where, list) else [where]


def _positional(fn: Any) -> tuple[int, str | None]:
    """How many positional parameters fn has, and the name of its *args (or None)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return 1 << 30, None
    extra = code.co_varnames[code.co_argcount + code.co_kwonlyargcount] if \
        code.co_flags & inspect.CO_VARARGS else None
    return code.co_argcount, extra


def plain(fn: Any, spelling: str) -> Any:
    """fn, after checking it holds no numbers: a function read from a value that carries a
    derivative (`y, act = pick(x)`) must not keep such values in its closure, the object it
    is bound to or a partial's arguments, where their derivatives would be lost."""
    target, front, bound = unwrapped(fn)
    held = [*front, *bound.values()]
    cells = getattr(target, "__closure__", None) or ()
    for cell in cells:
        try:
            held.append(cell.cell_contents)
        except ValueError:
            continue
    if any(_numeric(v, 3) for v in held):
        raise UnsupportedArgument(
            f"{spelling} holds a function made with values that may carry a derivative (in "
            "its closure, the object it is bound to, or the arguments a partial fixes), "
            "which adjoint cannot follow into it; define the function with def and pass "
            "those values as arguments")
    return fn


def _numeric(value: Any, depth: int) -> bool:
    """Whether a value is or holds a float or an array (a few levels deep)."""
    if isinstance(value, (bool, int, str, bytes, type(None), types.ModuleType, type)) or \
            callable(value) and not hasattr(value, "__dict__"):
        return False
    if isinstance(value, (float, complex)) or hasattr(value, "__array__") or depth == 0:
        return True
    if isinstance(value, dict):
        return any(_numeric(v, depth - 1) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_numeric(v, depth - 1) for v in value)
    if isinstance(value, (types.FunctionType, functools.partial, types.MethodType)):
        return False
    return any(_numeric(v, depth - 1) for v in getattr(value, "__dict__", {}).values())


def unwrapped(fn: Any) -> tuple:
    """(the function to differentiate, arguments in front, bound keywords) of a value."""
    front: tuple = ()
    bound: dict = {}
    while True:
        if isinstance(fn, functools.partial):
            front = (*fn.args, *front)
            bound = {**fn.keywords, **bound}
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            front = (fn.__self__, *front)
            fn = fn.__func__
        elif getattr(fn, "__adjoint_generic__", None) is not None:
            fn = fn.__adjoint_generic__.function  # a gradient made by adjoint: its code
        elif isinstance(fn, types.FunctionType) or not callable(fn):
            return fn, front, bound
        elif isinstance(inspect.getattr_static(type(fn), "__call__", None),
                        types.FunctionType):
            front = (fn, *front)  # an object whose class defines __call__
            fn = type(fn).__call__
        else:
            return fn, front, bound


def split_of(target: Any, positions: tuple, keywords: tuple, args: tuple,
             kwargs: dict) -> tuple:
    """The (fwd, bwd) pair of `target` for these active arguments and argument kinds."""
    from ..arguments import kinds_of
    from ..program import compile_split

    if not isinstance(target, types.FunctionType) or _no_source(target):
        target = wrapper(target, len(args), tuple(kwargs))
    kinds = kinds_of(target, args, kwargs)
    key = (positions, keywords, kinds)
    try:
        per_function = _splits.setdefault(target, {})
    except TypeError:
        per_function = {}
    if key not in per_function or not per_function[key][0].refresh():
        per_function[key] = compile_split(target, positions, keywords, kinds)
    return per_function[key][1:]


def _no_source(fn: types.FunctionType) -> bool:
    """Whether adjoint differentiates calls of fn by a rule, not by reading its source."""
    from .. import rules

    module = (getattr(fn, "__module__", "") or "").split(".")[0]
    return rules.lookup(fn) is not None or module in ("numpy", "scipy", "math", "builtins")


def wrapper(fn: Any, count: int, keywords: tuple) -> types.FunctionType:
    """A function whose source calls fn (a NumPy or SciPy function, a builtin): adjoint
    reads it and differentiates the call by fn's rule."""
    key = (id(fn), count, keywords)
    hit = _wrappers.get(key)
    if hit is not None and hit[0] is fn:
        return hit[1]
    name = getattr(fn, "__name__", "") or "function"
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    callee = f"{name}_called" if name.isidentifier() else "function_called"
    params = [f"x{k}" for k in range(count)] + list(keywords)
    passed = [f"x{k}" for k in range(count)] + [f"{k}={k}" for k in keywords]
    text = (f"def call_{name}({', '.join(params)}):\n"
            f"    return {callee}({', '.join(passed)})\n")
    filename = f"<adjoint call of {name} {next(_count)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    space = {"__name__": "adjoint_calls", callee: fn}
    exec(compile(text, filename, "exec"), space)
    made = space[f"call_{name}"]
    _wrappers[key] = (fn, made)
    return made


_tangents: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def call_jvp(fn: Any, positions: tuple, keywords: tuple, dots: tuple, *args: Any,
             **kwargs: Any) -> tuple:
    """(value, tangent) of the call fn(*args, **kwargs) (forward mode), given the tangents
    `dots` of the positional arguments `positions`, then of the keyword arguments
    `keywords`: the tangent function of what fn holds, compiled once per function and
    arguments that vary."""
    from .. import compile as emit
    from .. import tangent
    from ..program import Compiled, Program

    target, front, bound = unwrapped(fn)
    args, kwargs = (*front, *args), {**bound, **kwargs}
    if not isinstance(target, types.FunctionType) or _no_source(target):
        target = wrapper(target, len(args), tuple(kwargs))
    wrt, given = _tangent_arguments(target, [k + len(front) for k in positions], keywords,
                                    dots, args)
    per = _tangents.setdefault(target, {})
    if wrt not in per or not per[wrt].refresh():
        program = Program()
        emitted, _ = tangent.add(program, target, wrt)
        text = program.source()
        space = emit.load(text, dict(program.namespace), emitted.name)
        per[wrt] = Compiled(text, space[emitted.name], emitted.name, wrt, program.namespace,
                            "", program.data(), program.code(), program.defaults_seen())
    return per[wrt].function(*args, **kwargs, **given)


def _tangent_arguments(target: Any, flat: list, keywords: tuple, dots: tuple,
                       args: tuple) -> tuple[tuple, dict]:
    """(the parameters a call's tangents vary, {<param>_dot: tangent}): the arguments at
    positions `flat` and the keyword arguments; those that fall in target's *args vary it,
    as a tuple of tangents with zeros for the items that do not vary."""
    from .tangents import zero_tangent

    count, extra = _positional(target)
    code = target.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    by_place = dict(zip(flat, dots, strict=False))
    named = [j for j in flat if j < count]
    rest = [j for j in flat if j >= count]
    if rest and extra is None:
        raise TypeError(f"{getattr(target, '__name__', target)!r} takes {count} positional "
                        f"arguments but {len(args)} were given")
    wrt = tuple(names[j] for j in named) + tuple(keywords) + ((extra,) if rest else ())
    given = {f"{names[j]}_dot": by_place[j] for j in named}
    given.update((f"{k}_dot", d) for k, d in zip(keywords, dots[len(flat):], strict=True))
    if rest:
        given[f"{extra}_dot"] = tuple(by_place[j] if j in by_place else zero_tangent(args[j])
                                      for j in range(count, len(args)))
    return wrt, given
