"""compound: the forward and reverse sweeps of `try` and `with`.

try/except/else/finally. The forward sweep runs the try as written (the same exception
types, the same `as` names), and records the way it went in `caught`, like a branch's test
(pushed like one inside a loop): False, or True when the one handler ran; with several
handlers, 0 or the handler's number. The reverse sweep runs the adjoint of `finally` first,
then the adjoint of the way taken: the else and the body, or that handler. When an exception
stops the body part way, what the body pushed for the reverse sweep is dropped as the
handler starts (the stacks are cut back to their length before the try, and a name whose old
values were pushed takes back the first of them), so the reverse sweep sees the handler's
path as if the body had not run; analysis.exceptions refuses the bodies for which that
would not hold (those that change objects, or bind names read part way).

with. The forward sweep enters every context manager around the body. The reverse sweep
enters again those that set the numeric environment (np.errstate, warnings.catch_warnings:
normalize.tables.REENTERED) around the body's adjoint, whose arithmetic raises the warnings
the primal's does, and makes again the calls inside that set what they restore
(warnings.simplefilter: normalize.tables.SETTINGS). Any other manager (a timer, an open
file) is entered in the forward sweep only: the adjoint runs outside it. A context
expression that reads a value carrying a derivative is refused.
"""

from __future__ import annotations

from .. import errors, ir
from ..analysis.plan import Save
from ..ir import Assign, Block, Clause, Line, Ref
from ..normalize.tables import SETTINGS


class CompoundAdjoint:
    """Methods of Sweep."""

    # ------------------------------------------------------------ try

    def try_forward(self, s: ir.Try) -> list:
        if not s.handlers:  # try/finally: one way through
            clauses = [Clause(("finally:",), self.forward(s.finalbody))]
            return [Block(("try:",), self.forward(s.body), clauses=clauses)]
        kept = self.kept_by(s)
        several = len(s.handlers) > 1
        clauses = []
        if raises_ours(s.body) and any(catches_ours(h.types) for h in s.handlers):
            clauses.append(Clause(("except runtime.AdjointError:",), [Line(("raise",))]))
        for k, h in enumerate(s.handlers, 1):
            flag = self.assign(s.caught, (str(k) if several else "True",))
            clauses.append(Clause(ir.handler_head(h.types, h.name),
                                  [flag, *self.rollback(kept), *self.forward(h.body)],
                                  (h.name,) if h.name else ()))
        for head, block in ((("else:",), s.orelse), (("finally:",), s.finalbody)):
            if block:
                clauses.append(Clause(head, self.forward(block)))
        start = self.assign(s.caught, ("0" if several else "False",))
        marks = [self.assign(mark, ("len(", Ref(stack), ")")) for stack, _, mark in kept]
        return [start, *marks, Block(("try:",), self.forward(s.body), clauses=clauses)]

    def kept_by(self, s: ir.Try) -> list[tuple[str, str | None, str]]:
        """(stack, name, mark) for each stack the try body pushes on: the name whose old
        values it holds (None for new values), and the name of its length before the try."""
        olds: dict[str, str | None] = {}
        for x in ir.walk(s.body):
            for v, mode in sorted(self.plan.saves.get(id(x), {}).items()):
                if mode is Save.BEFORE:
                    olds[self.stack(v, True)] = v
                elif mode is Save.AFTER:
                    olds.setdefault(self.stack(v), None)
        return [(stack, v, self.namer.cached(("mark", s.caught, stack), f"{stack}_mark"))
                for stack, v in sorted(olds.items())]

    def rollback(self, kept: list) -> list:
        """What a handler starts with: each stack the body pushed on cut back to its length
        before the try; a name whose old values were pushed takes back the first one."""
        out: list = []
        for stack, v, mark in kept:
            cut = self.line(("del ", Ref(stack), "[", Ref(mark), ":]"))
            if v is None:
                out.append(cut)
                continue
            out.append(Block(("if len(", Ref(stack), ") > ", Ref(mark), ":"),
                             [self.assign(v, (Ref(stack), "[", Ref(mark), "]")), cut]))
        return out

    def try_adjoint(self, s: ir.Try) -> list:
        final = self.block(s.finalbody, origin=s.origin)
        if not s.handlers:
            return [*final, *self.block(s.body, origin=s.origin)]
        normal, *handled = self.arms(s, [s.body + s.orelse, *(h.body for h in s.handlers)])
        if not normal and not any(handled):
            return final
        caught = Ref(s.caught)
        self.line((caught,))  # records that the reverse sweep reads it
        if final:  # the finally's adjoint came first: name the try again
            final = [*final, Line((f"# grad of: {s.origin.text}",), comment=True)]
        if len(handled) == 1 and not handled[0]:
            return [*final, Block(("if not ", caught, ":"), normal)]
        if len(handled) == 1:
            return [*final, Block(("if ", caught, ":"), handled[0], normal)]
        chain = normal
        for k in range(len(handled), 0, -1):
            if handled[k - 1] or chain:
                chain = [Block(("if ", caught, f" == {k}:"), handled[k - 1], chain)]
        return [*final, *chain]

    # ------------------------------------------------------------ with

    def with_forward(self, s: ir.With) -> list:
        binds = tuple(item.name for item in s.items if item.name)
        return [Block(ir.stmt_parts(s), self.forward(s.body), binds=binds)]

    def with_adjoint(self, s: ir.With) -> list:
        for item in s.items:
            carried = sorted(ir.names([item.context]) & self.varied)
            if carried:
                raise self.error(s, f"the with statement's context manager reads "
                                 f"{carried[0]}, which carries a derivative; a context "
                                 "manager is passive: compute it from values that do not")
        body = self.block(s.body, origin=s.origin)
        again = [item for item in s.items if item.again]
        self.current = id(s)
        if not body or not again:
            return body
        head = ("with ", *ir.join([ir.item_parts(i, bind=False) for i in again]), ":")
        self.line(head)  # records what entering it reads
        settings = [self.line(ir.stmt_parts(x)) for x in s.body if _sets(x)]
        return [Block(head, [*settings, *body])]


def _sets(x: ir.Stmt) -> bool:
    """Whether x is a call that sets what a numeric-environment manager restores."""
    if not (isinstance(x, Assign) and x.target is None and x.prim.kind == "call"):
        return False
    try:
        return x.prim.key in SETTINGS
    except TypeError:  # unhashable
        return False



def raises_ours(body: list) -> bool:
    """Whether the forward sweep of `body` may raise an error of adjoint's (a refusal as a
    function called through a value compiles, a check as a helper's adjoint runs, a write
    through an index that picks one place twice): those pass through the user's handlers."""
    return any(isinstance(x, ir.SetItem) or isinstance(x, Assign) and (
        x.adjoint is not None or x.prim.key is ir.DYNAMIC) for x in ir.walk(body))


def catches_ours(types: ir.Const | None) -> bool:
    """Whether an `except` clause catching `types` (None: a bare except) would catch an
    error adjoint raises while the gradient runs (a refusal of a function called through a
    value, a check of an argument's kind)."""
    if types is None:
        return True
    caught = types.value if isinstance(types.value, tuple) else (types.value,)
    ours = (errors.UnsupportedSyntax, errors.MissingRule, errors.UnsupportedArgument,
            errors.InternalError, errors.ApiError, errors.NonScalarOutput)
    return any(isinstance(t, type) and issubclass(e, t) for t in caught for e in ours)
