"""Control flow restructured on the IR: one exit, jumps last in their blocks, pinned tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator

from .. import ir, naming
from ..ir import Assign, Const, Name

WORDS = {ir.Return: "return", ir.Break: "break", ir.Continue: "continue"}


class Unstructured(Exception):
    """A jump the restructuring cannot place: `stmt` is where, `msg` says why (normalize turns
    it into an error at that statement)."""

    def __init__(self, stmt: ir.Stmt, msg: str):
        super().__init__(msg)
        self.stmt, self.msg = stmt, msg


def arms(s: ir.Stmt) -> list[list]:
    """The blocks of a branch, try or with: those a jump inside leaves from (a loop's body
    is the loop's own)."""
    if isinstance(s, ir.If):
        return [s.body, s.orelse]
    if isinstance(s, ir.Try):
        return [s.body, *(h.body for h in s.handlers), s.orelse, s.finalbody]
    if isinstance(s, ir.With):
        return [s.body]
    return []


def single_exit(body: list, result: str, namer: naming.Namer) -> list:
    """A body whose every path ends at one final `return result`.

    Every `return` has already assigned `result`. Inside a loop a return sets a flag and
    breaks (and the loop is followed by `if flag: return`); then what follows a branch that
    returns moves into the branch that does not."""
    body = _returns_out_of_loops(body, result, namer)
    body = _structure(body, (ir.Return,))
    body = [s for s in _strip_returns(body)]
    return body + [ir.Return(Name(result), origin=_last_origin(body))]


def _last_origin(body: list) -> ir.Origin | None:
    for s in reversed(list(ir.walk(body))):
        if s.origin is not None:
            return s.origin
    return None


def _contains_return(body: list) -> bool:
    return any(isinstance(s, ir.Return) for s in ir.walk(body))


def _returns_out_of_loops(body: list, result: str, namer: naming.Namer) -> list:
    out: list = []
    for s in body:
        if isinstance(s, (ir.For, ir.While)) and _contains_return(s.body):
            flag = namer.fresh("returned")
            s.body = _return_to_break(s.body, flag)
            out += [Assign(flag, ir.COPY, (Const(False, "False"),), origin=s.origin), s,
                    ir.If(Name(flag), [ir.Return(Name(result), origin=s.origin)], [],
                          origin=s.origin)]
            continue
        for arm in arms(s):
            arm[:] = _returns_out_of_loops(arm, result, namer)
        out.append(s)
    return out


def _return_to_break(body: list, flag: str) -> list:
    out: list = []
    for s in body:
        if isinstance(s, ir.Return):
            out += [Assign(flag, ir.COPY, (Const(True, "True"),), origin=s.origin),
                    ir.Break(origin=s.origin)]
            continue
        for arm in arms(s):
            arm[:] = _return_to_break(arm, flag)
        if isinstance(s, (ir.For, ir.While)) and _contains_return(s.body):
            s.body = _return_to_break(s.body, flag)
            out += [s, ir.If(Name(flag), [ir.Break(origin=s.origin)], [], origin=s.origin)]
            continue
        out.append(s)
    return out


def _strip_returns(body: list) -> list:
    out = []
    for s in body:
        if isinstance(s, ir.Return):
            continue
        for arm in arms(s):
            arm[:] = _strip_returns(arm)
        out.append(s)
    return out


def structure_jumps(body: list) -> list:
    """Move what follows a `break`/`continue` (or an `if` that may jump) into the branch
    that does not jump, so every jump is the last statement of its block. Loops that can
    break count their trips."""
    return _structure(body, (ir.Break, ir.Continue))


def _structure(body: list, jumps: tuple) -> list:
    out: list = []
    for k, s in enumerate(body):
        for arm in arms(s):
            arm[:] = _structure(arm, jumps)
        if isinstance(s, (ir.Try, ir.With)) and _may_jump(s, jumps):
            if _continue_after(s, body[k + 1:], jumps):
                out.append(s)
                return out
        elif isinstance(s, (ir.For, ir.While)) and ir.Break in jumps:
            s.body = _structure(s.body, jumps)
            if isinstance(s, ir.For) and any(isinstance(x, ir.Break)
                                              for x in _loop_level(s.body)):
                s.trips = s.trips or f"{s.target}_trips"
        out.append(s)
        if isinstance(s, jumps):
            return out  # the rest is unreachable
        if isinstance(s, ir.If):
            rest = body[k + 1:]
            body_jumps = _ends_in_jump(s.body, jumps)
            else_jumps = _ends_in_jump(s.orelse, jumps)
            if rest and (body_jumps or else_jumps or _may_jump(s, jumps)):
                if body_jumps and else_jumps:
                    return out
                if body_jumps:
                    s.orelse = _structure(s.orelse + rest, jumps)
                elif else_jumps:
                    s.body = _structure(s.body + rest, jumps)
                else:  # copy the rest before structuring changes it in place
                    copies = [_copy(x) for x in rest]
                    s.body = _structure(s.body + rest, jumps)
                    s.orelse = _structure(s.orelse + copies, jumps)
                return out
    return out


def _continue_after(s: ir.Try | ir.With, rest: list, jumps: tuple) -> bool:
    """Whether the statements after a try or with that may jump (`rest`) moved into it: into
    its else and the handlers that do not jump; True too when no path reaches them."""
    word = next(WORDS[j] for j in jumps if any(isinstance(x, j) for x in _loop_level([s])))
    if isinstance(s, ir.With):
        if rest and not _ends_in_jump(s.body, jumps):
            raise Unstructured(s, f"a {word} inside a with must end its body: the code after "
                               "the with would run outside the context manager on one path "
                               "and not run on the other")
        return _ends_in_jump(s.body, jumps)
    if s.finalbody:
        raise Unstructured(s, f"a {word} inside a try with a finally clause is not supported: "
                           "compute the value in the try and its handlers, then leave after it")
    if _may_jump_in(s.body, jumps) and not _ends_in_jump(s.body, jumps):
        raise Unstructured(s, f"a {word} inside a try body must be its last statement on "
                           "every path (the gradient replays the body as a whole)")
    if _ends_in_jump(s.body, jumps):
        s.orelse = []  # never runs
    if not rest:
        return True
    ways = [s.orelse] if not _ends_in_jump(s.body, jumps) else []
    ways += [h.body for h in s.handlers]
    first = True
    for way in ways:
        if not _ends_in_jump(way, jumps):
            way[:] = _structure(way + (rest if first else [_copy(x) for x in rest]), jumps)
            first = False
    return True


def flag_breaks(body: list, flag: str, origin: ir.Origin | None) -> list:
    """Set `flag` before each break that leaves this loop (not breaks of inner loops)."""
    out: list = []
    for s in body:
        if isinstance(s, ir.Break):
            out.append(Assign(flag, ir.COPY, (Const(True, "True"),), origin=s.origin or origin))
        elif isinstance(s, ir.If):
            s.body = flag_breaks(s.body, flag, origin)
            s.orelse = flag_breaks(s.orelse, flag, origin)
        out.append(s)
    return out


def pin_tests(body: list, namer: naming.Namer) -> list:
    """`if flag:` whose branches rebind flag tests a copy of it, so the reverse sweep, which
    replays the branch after the forward sweep has run it, reads the value tested."""
    out: list = []
    for s in body:
        for block in ir.blocks(s):
            block[:] = pin_tests(block, namer)
        if isinstance(s, ir.If) and isinstance(s.test, Name) and s.test.id in {
                n for x in ir.walk(s.body + s.orelse) for n in ir.defs(x)}:
            held = namer.fresh(f"{s.test.id}_tested")
            out.append(Assign(held, ir.COPY, (s.test,), origin=s.origin))
            s.test = Name(held)
        out.append(s)
    return out


def _copy(stmt: ir.Stmt) -> ir.Stmt:
    return copy.deepcopy(stmt)


def _ends_in_jump(block: list, jumps: tuple) -> bool:
    if not block:
        return False
    last = block[-1]
    if isinstance(last, jumps):
        return True
    if isinstance(last, ir.If):
        return _ends_in_jump(last.body, jumps) and _ends_in_jump(last.orelse, jumps)
    if isinstance(last, ir.With):
        return _ends_in_jump(last.body, jumps)
    if isinstance(last, ir.Try):
        return (_ends_in_jump(last.body, jumps) or _ends_in_jump(last.orelse, jumps)) and all(
            _ends_in_jump(h.body, jumps) for h in last.handlers)
    return False


def _may_jump(s: ir.Stmt, jumps: tuple) -> bool:
    return _may_jump_in([s], jumps)


def _may_jump_in(body: list, jumps: tuple) -> bool:
    return any(isinstance(x, jumps) for x in _loop_level(body))


def _loop_level(body: list) -> Iterator[ir.Stmt]:
    """Statements of `body` outside nested loops (where a break would apply to this loop)."""
    for s in body:
        yield s
        for arm in arms(s):
            yield from _loop_level(arm)
