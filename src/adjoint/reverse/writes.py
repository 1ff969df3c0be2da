"""writes: the adjoints of item writes, appends and unpacking."""

from __future__ import annotations

from .. import ir
from ..analysis.kinds import item_kind
from ..analysis.terms import index_term
from ..ir import Line, Name, Ref
from .refs import RUNTIME, ShapeRef


class IndexAdd:
    """A contribution to x_bar[index] (basic: the index selects without repeats; container:
    the item is itself a list, tuple or dict)."""

    def __init__(self, index: ir.Index, g, basic: bool, container: bool = False,
                 number: bool = False):
        self.index, self.g, self.basic, self.container = index, g, basic, container
        self.number = number  # g is surely a number (the item of an array of floats)


def index_value(index: ir.Index) -> ir.Parts:
    """An index as a value expression: `i`, `(i, slice(1, n))`."""
    items = []
    for item in index.items:
        if isinstance(item, ir.Slice):
            bits = [ir.atom_parts(x) if x is not None else ("None",)
                    for x in (item.lower, item.upper, item.step)]
            items.append(("slice(", *ir.join(bits), ")"))
        elif isinstance(item, str):
            items.append(("None",) if item == ir.NEWAXIS else ("Ellipsis",))
        else:
            items.append(ir.atom_parts(item))
    if len(items) == 1 and not isinstance(index.items[0], (ir.Slice, str)):
        return items[0]
    return ("(", *ir.join(items), ",)" if len(items) == 1 else ")")


class WriteAdjoint:
    """Methods of Sweep."""

    def index_add(self, x: str, add: IndexAdd) -> Line:
        xb = self.bar(x)
        if x in self.seqs or (add.container and add.basic):
            # an item of a list or dict: replaced, never updated in place (+= would extend an
            # item that is a list)
            item = (Ref(xb), "[", *ir.index_parts(add.index), "]")
            if add.container:
                return self.line((*item, " = ", RUNTIME, ".add_seq(", *item, ", ", *add.g, ")"))
            return self.line((*item, " = ", *item, " + ", *add.g))
        if add.basic:
            line = self.line((Ref(xb), "[", *ir.index_parts(add.index), "] += ", *add.g))
            line.note = ("add", xb, x, add.index, add.number)
            return line
        # bound to its result (x_bar itself), so what differentiates this code again sees
        # x_bar made from g
        return self.assign(xb, (RUNTIME, ".add_at(", Ref(xb), ", ", *index_value(add.index),
                                ", ", *add.g, ")"))

    def setitem_adjoint(self, s: ir.SetItem) -> list[Line]:
        y = s.target
        if y not in self.active or y not in self.defined:
            return []
        if y in self.made_seqs and any(isinstance(i, ir.Slice) for i in s.index.items):
            raise self.error(s, f"a slice of the list {y} is written ({y}[a:b] = ...), which "
                             "may change its length; build a new list instead "
                             f"({y} = {y}[:a] + [...])")
        if isinstance(s.value, Name) and s.value.id == y and not s.op:  # y[a:b] = y
            part = self.namer.cached_for(s, ("part",), f"{y}_part_bar")
            out = self.own(y)
            idx = ir.index_parts(s.index)
            out.append(self.assign(part, (Ref(self.bar(y)), "[", *idx, "].copy()")))
            out.append(self.line((Ref(self.bar(y)), "[", *idx, "] = 0.0")))
            return out + self.add(y, (RUNTIME, ".unbroadcast(", Ref(part), ", ", ShapeRef(y),
                                      ")"), True)
        if s.op:  # y[i] += v: y_bar is unchanged, v gets (minus) its slice
            if not self.is_active(s.value):
                return []
            out = []
            if y in self.zeroed:  # 0.0 on some path: real zeros, to take the slice of
                out.append(self.assign(self.bar(y), (RUNTIME, ".densify(", Ref(self.bar(y)),
                                                     ", ", ShapeRef(y), ")")))
                self.zeroed.discard(y)
            part = (Ref(self.bar(y)), "[", *ir.index_parts(s.index), "]")
            target_term = self.item_term(y, s.index)
            if y not in self.seqs:  # (an item, copied: the code differentiated again
                # sees no view of y_bar that the write below changes)
                part = (*part, ".copy()")
            if not (self.known_shape(s.value.id) and self.shape.get(s.value.id) == target_term):
                part = (RUNTIME, ".unbroadcast(", *part, ", ", ShapeRef(s.value.id), ")")
            part = self.through_cast(y, part)
            return out + self.add(s.value.id, ("-", *part) if s.op == "-" else part, True)
        out = self.own(y)
        idx = ir.index_parts(s.index)
        if self.is_active(s.value):
            v = s.value.id
            part = (Ref(self.bar(y)), "[", *idx, "]")
            target_term = self.item_term(y, s.index)
            if y not in self.seqs:  # (an item, copied: the code differentiated again
                # sees no view of y_bar that the write below changes)
                part = (*part, ".copy()")
            if not (self.known_shape(v) and self.shape.get(v) == target_term):
                part = (RUNTIME, ".unbroadcast(", *part, ", ", ShapeRef(v), ")")
            out += self.add(v, self.through_cast(y, part), True)
        out.append(self.line((Ref(self.bar(y)), "[", *idx, "] = 0.0")))
        if y in self.seqs:  # that item's adjoint is now the number 0.0, standing for zeros
            self.zeroed.add(("items", y))
        return out

    def item_term(self, y: str, index: ir.Index) -> object:
        """The shape term of y[index]: a number's where y's dimensions are known and the
        index takes them all (an item of an array of floats is a NumPy float, never a
        view)."""
        if y in self.ndim_of and item_kind(self.ndim_of[y], index, self.index_kind) == "scalar":
            return "scalar"
        return index_term(self.shape.get(y), index, self.index_kind, self.ints)

    def through_cast(self, y: str, part: ir.Parts) -> ir.Parts:
        """The adjoint of a value written into y: zero where y holds ints or bools (checked
        as the code runs where y is not surely an array of floats)."""
        if y in self.floats or y in self.seqs:
            return part
        return (RUNTIME, ".written(", *part, ", ", ShapeRef(y), ")")

    def append_adjoint(self, s: ir.Append) -> list[Line]:
        """The adjoint list mirrors the list: what was appended last is popped first."""
        if s.target not in self.active or s.target not in self.defined:
            return []
        out = self.own(s.target)
        popped = (Ref(self.bar(s.target)), ".pop()")
        if self.is_active(s.value):
            out += self.add(s.value.id, popped, False)
        else:
            out.append(self.line(popped))
        return out

    def unpack_adjoint(self, s: ir.Unpack) -> list[Line]:
        targets = [t for t in s.targets if t in self.active and t in self.defined]
        if not targets or not self.is_active(s.value):
            for t in s.targets:
                self.defined.discard(t)
            return []
        items = [(Ref(self.bar(t)),) if t in self.defined else ("0.0",) for t in s.targets]
        if s.value.id not in self.defined and any(
                t not in self.defined or t in self.zeroed for t in s.targets):
            self.zeroed.add(("items", s.value.id))  # an item may be 0.0
        for t in s.targets:
            self.defined.discard(t)
        if s.value.id not in self.made_seqs:  # may be an array (`a, b = y` takes its rows):
            # the adjoint is an array of its shape, or the list of the items' adjoints
            listed = ("[", *ir.join(items), "]")
            return self.add(s.value.id, (RUNTIME, ".per_item(", *listed, ", ",
                                         ShapeRef(s.value.id), ")"))
        tup = ("(", *ir.join(items), ",)" if len(items) == 1 else ")")
        return self.add(s.value.id, tup)  # a tuple: copied to a list before an item is written
