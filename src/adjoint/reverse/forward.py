"""the forward sweep: the primal with the pushes the plan asks for."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import ir
from ..analysis.plan import Save
from ..ir import Assign, Block, Const, Line, Name, Ref
from ..optimize import UFUNC
from .refs import RUNTIME, item_check
from .writes import index_value


class Forward:
    """Methods of Sweep."""

    def prologue(self) -> list[Line]:
        out = []
        if self.relied and (params := self.checked_params()):
            checked = ir.join([(f"{p}=", Ref(p)) for p in params])
            out.append(self.line((RUNTIME, f".check_arrays({self.fn.name!r}, ", *checked, ")")))
        out += [self.assign(v, (self.unbound(v),)) for v in sorted(self.plan.preinit)]
        out += [self.assign(self.stacks[k], ("[]",)) for k in sorted(self.stacks)]
        return out

    def unbound(self, v: str) -> str:
        """What a name saved before its first binding holds till then: None, or, where each
        variable has one type (numba), a zero of its type: an empty array of floats where
        it surely holds one of known dimensions (numba refuses the name of another array)."""
        if not self.typed:
            return "None"
        if v in self.floats and self.ndim_of.get(v):
            return f"np.empty(({'0, ' * self.ndim_of[v]}))".replace(", ))", ",))")
        return "0" if self.kind(Name(v)) == "int" else "0.0"

    def forward_sweep(self) -> list:
        self.current = None
        return self.forward(self.fn.body)

    def forward(self, body: list) -> list:
        out: list = []
        for s in body:
            saves = self.plan.saves.get(id(s), {})
            for v, mode in sorted(saves.items()):
                if mode is Save.BEFORE and getattr(s, "inplace", False):  # a copy: s changes it
                    out.append(self.keep(s, v, (RUNTIME, ".snapshot(", Ref(v), ")")))
                elif mode is Save.BEFORE:
                    out.append(self.keep(s, v, (Ref(v),)))
            if id(s) in self.plan.slices and isinstance(s, ir.SetItem):
                out.append(self.keep(s, s.target, self.slice_of(s)))
            picks = [i for i in s.index.items if not isinstance(i, (ir.Slice, str))] if \
                isinstance(s, ir.SetItem) and s.op != "at" else []  # (np.add.at: repeats add)
            if picks and s.target not in self.seqs and not self.basic(s.index) and \
                    self.is_active(s.value):  # an index picking a place twice drops values
                out.append(self.line((RUNTIME, ".check_distinct(", *index_value(s.index),
                                      ", ", repr(self.fn.name), ", ", repr(s.target), ", ",
                                      Ref(s.target), ")")))
            if isinstance(s, ir.SetItem) and (s.op in ("+", "-") or s.aug) and \
                    s.target in self.seqs and s.target in self.varied:
                out.append(item_check(s, self.fn.name))
            if getattr(s, "shared", "") and self.kind(Name(s.target)) not in ("int", "scalar"):
                out.append(self.line((RUNTIME, ".rebinds_number(", *ir.atom_parts(s.args[0]),
                                      ", ", repr(self.fn.name), f", {s.target!r}, "
                                      f"{s.shared!r}, {s.prim.spelling!r})")))
            if id(s) in self.guards:  # `q += v` rebinds a number; an array would change
                out.append(self.line((RUNTIME, ".rebinds(", Ref(s.target), ", ",
                                      repr(self.fn.name), ", ", repr(self.guards[id(s)]), ")")))
            out.extend(self.forward_stmt(s))
            for v, mode in sorted(saves.items()):
                if mode is Save.AFTER:
                    out.append(self.line((Ref(self.stack(v)), ".append(", Ref(v), ")")))
        return out

    def single_use(self, name: str) -> bool:
        return sum(name in ir.uses(x) or name in ir.defs(x) for x in ir.walk(self.fn.body)) == 2

    def keyed(self, s: ir.SetItem) -> bool:
        """Whether s may write a dict entry by key (one that may not exist yet)."""
        items = s.index.items
        return s.target in self.seqs and len(items) == 1 and not isinstance(
            items[0], ir.Slice) and not (isinstance(items[0], Const) and isinstance(
                items[0].value, int)) and self.kind(items[0]) != "int"

    def slice_of(self, s: ir.SetItem) -> ir.Parts:
        if self.keyed(s):  # the entry, or a mark that there was none
            return (RUNTIME, ".entry(", Ref(s.target), ", ", *ir.index_parts(s.index), ")")
        part = (Ref(s.target), "[", *ir.index_parts(s.index), "]")
        return part if s.target in self.seqs else (*part, ".copy()")

    def forward_stmt(self, s) -> list:
        if isinstance(s, ir.Return):
            return []
        if isinstance(s, ir.Try):
            return self.try_forward(s)
        if isinstance(s, ir.With):
            return self.with_forward(s)
        if isinstance(s, ir.If):
            body, orelse = self.forward(s.body), self.forward(s.orelse)
            if not body and orelse:
                return [Block(("if not ", *ir.atom_parts(s.test), ":"), orelse)]
            return [Block(("if ", *ir.atom_parts(s.test), ":"), body, orelse)]
        if isinstance(s, ir.For):
            body = self.forward(s.body)
            pre = []
            if s.trips:
                pre = [self.assign(s.trips, ("0",))]
                body = [self.line((Ref(s.trips), " += 1"), (s.trips,)), *body]
            return pre + [Block(("for ", Ref(s.target), " in ", *ir.atom_parts(s.iter), ":"),
                                body)]
        if isinstance(s, ir.While):
            count = self.line((Ref(s.trips), " += 1"), (s.trips,))
            body = [count, *self.forward(s.body)]
            prelude = s.prelude
            if len(prelude) == 1 and isinstance(prelude[0], Assign) and isinstance(
                    s.test, Name) and prelude[0].target == s.test.id and prelude[0].prim.kind in (
                    "compare", "expr") and self.single_use(s.test.id):
                head = ("while ", *ir.prim_parts(prelude[0]), ":")
                return [self.assign(s.trips, ("0",)), Block(head, body)]
            if s.prelude:
                stop = Block(("if not ", *ir.atom_parts(s.test), ":"), [Line(("break",))])
                loop = Block(("while True:",), [*self.forward(s.prelude), stop, *body])
            else:
                loop = Block(("while ", *ir.atom_parts(s.test), ":"), body)
            return [self.assign(s.trips, ("0",)), loop]
        line = self.line(ir.stmt_parts(self.fast_form(s)), tuple(ir.defs(s)))
        line.effect = effectful(s)  # kept though its value is unused: `v = h(x)`, h bumping
        if isinstance(s, Assign) and s.prim.kind == "call" and len(s.args) == 1 and isinstance(
                s.args[0], Name) and not s.kwargs and same_type_ufunc(s.prim.key):
            line.note = UFUNC  # inplace.py may write it into its argument
        return [line]

    def fast_form(self, s):
        """The same computation as s, in a faster spelling that the shapes allow:
        `np.sum(a, axis=1)` as `a.sum(axis=1)` where a is surely an array (NumPy's Python
        wrapper is half the cost of a small reduction), where the method takes the same
        arguments; `np.cross(a, b)` of two 3-vectors as runtime.cross3 (bit for bit)."""
        if not (isinstance(s, Assign) and s.prim.kind == "call" and s.args and isinstance(
                s.args[0], Name)):
            return s
        if s.prim.key is np.cross and len(s.args) == 2 and not s.kwargs and all(
                isinstance(a, Name) and self.dims_of(a) == (3,) for a in s.args):
            return replace(s, prim=ir.Prim("call", np.cross, f"{RUNTIME}.cross3"))
        form = METHOD_FORMS.get(s.prim.key)
        if form is None or len(s.args) > form[1] or any(k not in form[2] for k, _ in s.kwargs) \
                or s.prim.spelling.rsplit(".", 1)[-1] != form[0] or not self.dims_of(s.args[0]):
            return s
        return replace(s, prim=ir.Prim("method", s.prim.key, form[0]))


_REDUCING = ("axis", "out", "keepdims", "where")
# NumPy functions whose ndarray method does the same: (its name, the positional arguments
# both take, array included, the keywords the method takes)
METHOD_FORMS = {
    np.sum: ("sum", 4, (*_REDUCING, "dtype", "initial")),
    np.prod: ("prod", 4, (*_REDUCING, "dtype", "initial")),
    np.max: ("max", 3, (*_REDUCING, "initial")), np.min: ("min", 3, (*_REDUCING, "initial")),
    np.mean: ("mean", 4, (*_REDUCING, "dtype")),
    np.std: ("std", 5, (*_REDUCING, "dtype", "ddof", "mean")),
    np.var: ("var", 5, (*_REDUCING, "dtype", "ddof", "mean")),
    np.any: ("any", 3, _REDUCING), np.all: ("all", 3, _REDUCING),
    np.cumsum: ("cumsum", 4, ("axis", "dtype", "out")),
    np.cumprod: ("cumprod", 4, ("axis", "dtype", "out")),
    np.argmax: ("argmax", 3, ("axis", "out", "keepdims")),
    np.argmin: ("argmin", 3, ("axis", "out", "keepdims")),
}


def same_type_ufunc(f) -> bool:
    """Whether f is a NumPy ufunc of one array whose result has its argument's floating or
    complex dtype (np.tanh, np.exp; not np.abs of complex numbers, not np.isnan)."""
    if not isinstance(f, np.ufunc) or f.nin != 1 or f.nout != 1:
        return False
    loops = [t.split("->") for t in f.types]
    return any(a in "efdgFDG" for a, _ in loops) and all(a == b for a, b in loops
                                                        if a in "efdgFDG")


def effectful(s) -> bool:
    """Whether s calls a function of the user's (or one held in a value, or a method with no
    rule): it may change state, so it runs even where its value is not read."""
    from ..analysis.values import is_user_function, stateful

    if not isinstance(s, Assign) or s.prim.kind not in ("call", "method"):
        return False
    return s.adjoint is not None or s.prim.key is ir.DYNAMIC or is_user_function(
        s.prim.key) or s.prim.kind == "method" and s.prim.key is None or stateful(s.prim.key)
