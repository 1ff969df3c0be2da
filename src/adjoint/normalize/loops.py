"""Loops: `for` over a range of indices, `while` with its test in a prelude, comprehensions."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import libcst as cst

from .. import ir
from ..ir import Assign, Const, Name, Prim
from .base import NormalizerBase
from .jumps import flag_breaks
from .syntax import (
    assigned_names,
    bindings_of,
    dict_view,
    iterates_keys,
    names_in,
    reads_of,
)

# (target node, atom holding the sequence it reads), or ((target, dict, key), None) for d[key]
Sequences = list[tuple[Any, Any]]


class LoopsMixin(NormalizerBase):
    """`for`, `while` and `else` on them, and comprehensions written out as loops."""

    def for_(self, s: cst.For) -> None:
        if s.asynchronous is not None:
            raise self.error(s, "async for is not supported")
        self.loop(s.target, s.iter, lambda: self.out.extend(self.sub_block(s.body)), s,
                  s.body)
        self.loop_else(s)

    def loop_else(self, s) -> None:
        """`else` on a loop runs when no `break` left it: a flag set before each break."""
        if s.orelse is None:
            return
        loop = self.out.pop()
        flag = self.namer.fresh("broke")
        loop.body = flag_breaks(loop.body, flag, loop.origin)
        orelse = self.sub_block(s.orelse.body)
        self.origin = loop.origin
        self.emit(Assign(flag, ir.COPY, (Const(False, "False"),)))
        self.out.append(loop)
        self.origin = ir.Origin("else:", s.orelse)
        self.emit(ir.If(Name(flag), [], orelse))

    def while_(self, s: cst.While) -> None:
        origin = self.origin
        saved, self.out = self.out, []
        test = self.test_atom(s.test)
        prelude, self.out = self.out, saved
        body = self.sub_block(s.body)
        self.origin = origin
        self.emit(ir.While(prelude, test, body, trips=self.namer.fresh("trips")))
        self.loop_else(s)

    # ------------------------------------------------------------ for

    def loop(self, target, it, body: Callable[[], None], node, body_node=None,
             bind: Callable[[], None] | None = None) -> None:
        """Emit `for target in it:` with `body()` emitting the body. Loops run over a range:
        `for x in xs` becomes `for x_index in range(len(xs)): x = xs[x_index]` (and likewise
        enumerate, zip, and a dict's keys, values and items). `bind()` runs once the
        iterable is read, before the targets are named (a comprehension's variables take
        their names there: `for x in x` reads the outer x)."""
        bind = bind or (lambda: None)
        origin = self.origin
        fn = self.resolve_callee(it.func) if isinstance(it, cst.Call) else None
        prologue: Sequences = []
        if fn is range and isinstance(target, cst.Name):
            hint = self.scope.get(target.value, target.value)
            rng = self.call(it, self.namer.fresh(f"{hint.strip('_') or 'loop'}_range"))
            bind()
            counter = self.target_name(target)
        else:
            target, prologue, counter, backwards = self.loop_sequences(
                target, it, fn, body_node, body_node or node, bind)
            self.locals.add(counter)
            rng = self.index_range(prologue, counter, backwards)
        saved, self.out = self.out, []
        self.origin = origin
        if isinstance(target, cst.Name) and len(prologue) == 1 and reads_of(
                target.value, self.source.funcdef) == 1:
            prologue = []  # `for _ in xs`: the items are never read, only counted
        for tnode, seq in prologue:
            self.read_item(tnode, seq, counter, node)
        body()  # here, not in a helper: a loop nested in a loop costs no extra frame
        inner, self.out = self.out, saved
        self.origin = origin
        self.emit(ir.For(counter, rng, inner))

    def loop_sequences(self, target, it, fn: Any, body_node, scope_node,
                       bind: Callable[[], None]) -> tuple[Any, Sequences, str, bool]:
        """The sequences a loop over `it` indexes, each with the target it binds; the
        counter's name; whether the loop runs backwards. An enumerate loop's target is
        what it binds besides the counter."""
        rebound = assigned_names(body_node)

        def pin(seq: ir.Atom) -> ir.Atom:
            """`for row in A` keeps iterating the A it started with, even if the body
            rebinds A: the loop indexes a name of its own."""
            if isinstance(seq, Name) and seq.id in rebound:
                return self.assign(None, ir.COPY, [seq], hint=f"{seq.id}_items")
            return seq
        if fn is enumerate and isinstance(target, cst.Tuple) and len(it.args) == 1 and len(
                target.elements) == 2:
            return (*self.enumerate_sequences(target, it, pin, bind), False)
        if fn is zip and _unpacks_zip(target, it):
            seqs = self.zip_sequences(target, it, pin)
            bind()
            return target, seqs, self.namer.fresh("k"), False
        if fn is zip and _unpacks_star_zip(target, it):
            seqs = self.star_zip_sequences(target, it)
            bind()
            return target, seqs, self.namer.fresh("k"), False
        if dict_view(it) is not None:
            return (target, *self.dict_loop(target, *dict_view(it), pin, bind), False)
        if iterates_keys(target, it, scope_node) or (
                isinstance(target, cst.Name) and bindings_of(target.value, self.source.funcdef)
                == 1 and iterates_keys(target, it, self.source.funcdef)):
            # `for k in d: ... d[k]`: the keys of a dict (an element that indexes its
            # own sequence is a key or an int, never a value with a derivative); d[k] may
            # follow the loop when nothing else binds k
            return (target, *self.dict_loop(target, "keys", it, pin, bind), False)
        backwards = fn is reversed and len(it.args) == 1 and not it.args[0].keyword and \
            not it.args[0].star
        if backwards:  # for v in reversed(xs): the indices from the last down
            seqs = [(target, pin(self.expr(it.args[0].value)))]
        elif fn is map and self.map_comprehension(it) is not None:  # the list it makes
            seqs = [(target, self.expr(self.map_comprehension(it)))]
        else:
            self.check_iterable(it, fn)
            seqs = [(target, pin(self.expr(it)))]
        bind()
        base = target.value if isinstance(target, cst.Name) else "item"
        return target, seqs, self.namer.fresh(f"{base}_index"), backwards

    def check_iterable(self, it, fn: Any) -> None:
        if fn in (zip, enumerate, map, filter, reversed, iter) or isinstance(
                it, (cst.GeneratorExp, cst.SetComp, cst.DictComp)):
            raise self.error(it, "loops run over lists, tuples, arrays, range, and "
                             "enumerate or zip of them unpacked into names; build a "
                             "list first (or index with range)")

    def enumerate_sequences(self, target: cst.Tuple, it: cst.Call, pin, bind
                            ) -> tuple[Any, Sequences, str]:
        """`for i, x in enumerate(xs)`: x indexes xs by the counter i (and
        `for i, (x, y) in enumerate(zip(xs, ys))` every sequence)."""
        counter_node, target = target.elements[0].value, target.elements[1].value
        if not isinstance(counter_node, cst.Name):
            raise self.error(counter_node, "the counter of enumerate must be a name")
        inner = it.args[0].value
        if isinstance(inner, cst.Call) and self.resolve_callee(inner.func) is zip and \
                _unpacks_zip(target, inner):
            # enumerate(zip(xs, ys)): the counter indexes every sequence
            seqs = self.zip_sequences(target, inner, pin)
        else:
            seqs = [(target, pin(self.expr(inner)))]
        bind()
        return target, seqs, self.target_name(counter_node)

    def star_zip_sequences(self, target: cst.Tuple, call: cst.Call) -> Sequences:
        """`for m, c, w in zip(*unpack(params))`: the value unpacked into as many sequences
        as the target has names (Python's own unpacking raises if it holds another number),
        then zipped."""
        value = self.expr(call.args[0].value)
        names = [self.namer.fresh(f"{el.value.value}_seq" if isinstance(el.value, cst.Name)
                                  else "seq") for el in target.elements]
        self.emit(ir.Unpack(tuple(names), value))
        return [(el.value, Name(n)) for el, n in zip(target.elements, names, strict=True)]

    def zip_sequences(self, target: cst.Tuple, call: cst.Call, pin) -> Sequences:
        return [(el.value, pin(self.expr(a.value)))
                for el, a in zip(target.elements, call.args, strict=True)]

    def dict_loop(self, target, view: str, base_node, pin, bind) -> tuple[Sequences, str]:
        """`for k in d.keys()`, `for v in d.values()`, `for k, v in d.items()`: over a list of
        the keys, reading each value by key."""
        base = pin(self.expr(base_node))
        bind()
        keys = self.assign(None, Prim("call", list, "list"), [base], hint="keys")
        counter = self.namer.fresh("key_index")
        key_node = target.elements[0].value if view == "items" else target
        if view == "items" and not (isinstance(target, cst.Tuple) and len(target.elements) == 2):
            raise self.error(target, "unpack the items of a dict into two names: for k, v in")
        value_node = target.elements[1].value if view == "items" else target
        if view == "values":
            key = Name(self.namer.fresh("key"))
            self.locals.add(key.id)
            return [(key.id, keys), ((value_node, base, key), None)], counter
        if not isinstance(key_node, cst.Name):
            raise self.error(key_node, "the key of a dict loop must be a name")
        key = Name(self.target_name(key_node))
        seqs = [(key_node, keys)]
        if view == "items":
            seqs.append(((value_node, base, key), None))
        return seqs, counter

    def index_range(self, seqs: Sequences, counter: str, backwards: bool) -> ir.Atom:
        """The range of indices a loop over `seqs` runs: up to the shortest one's length."""
        lengths = [self.assign(None, Prim("call", len, "len"), [a], hint=f"len_{a.id}"
                               if isinstance(a, Name) else "n") for _, a in seqs
                   if a is not None]
        if len(lengths) > 1:
            n = self.assign(None, Prim("call", min, "min"), lengths, hint="n")
        else:
            n = lengths[0]
        if backwards:
            last = self.assign(None, Prim("binop", operator.sub, "-"), [n, Const(1, "1")],
                               hint="last")
            return self.assign(None, Prim("call", range, "range"),
                               [last, Const(-1, "-1"), Const(-1, "-1")],
                               hint=f"{counter}_range")
        return self.assign(None, Prim("call", range, "range"), [n], hint=f"{counter}_range")

    def read_item(self, tnode, seq: ir.Atom | None, counter: str, node) -> None:
        """`x = xs[x_index]`: a loop target bound to its sequence's item at the counter."""
        if seq is None:  # the value of a dict entry: d[key]
            tnode, base, key = tnode
            self.assign(self.target_name(tnode), Prim("index"), [base],
                        index=ir.Index((key,)))
            return
        idx = ir.Index((Name(counter),))
        if isinstance(tnode, str):  # an emitted name (the key of a dict values loop)
            self.assign(tnode, Prim("index"), [seq], index=idx)
        elif isinstance(tnode, cst.Name):
            self.assign(self.target_name(tnode), Prim("index"), [seq], index=idx)
        else:
            self.bind(tnode, self.assign(None, Prim("index"), [seq], index=idx,
                                         hint="item"), node)

    # ------------------------------------------------------------ comprehensions

    def comprehension(self, node, target, total: bool = False) -> ir.Atom:
        """[e for x in xs if c] as a loop appending to a list, {k: e for ...} as one
        putting entries into a dict; with total, sum(e for ...) as a loop adding into an
        accumulator. Comprehension variables get names of their own, as in Python they do
        not leak."""
        # `x = sum(x * 2.0 for ...)` reads x in the loop: accumulate in a name of its own
        reads_target = target is not None and target in names_in(node)
        keyed = isinstance(node, cst.DictComp)
        result = target if target and not reads_target else self.namer.fresh(
            "total" if total else "entries" if keyed else "items")
        if total:
            self.assign(result, ir.COPY, [Const(0, "0")], node=node)
        else:
            self.assign(result, Prim("dict", ()) if keyed else Prim("list"), [], node=node)
        saved_scope = dict(self.scope)

        def level(comp: cst.CompFor) -> None:
            if comp.asynchronous is not None:
                raise self.error(comp, "async comprehensions are not supported")

            def bind() -> None:  # after the iterable is read: `for x in x` reads the outer x
                for name in names_in(comp.target):
                    self.scope[name] = self.namer.fresh(name)
            self.loop(comp.target, comp.iter, lambda: inner(comp), node, bind=bind)

        def inner(comp: cst.CompFor) -> None:
            def rest(ifs: list) -> None:
                if ifs:
                    test = self.test_atom(ifs[0].test)
                    saved, self.out = self.out, []
                    rest(ifs[1:])
                    body, self.out = self.out, saved
                    self.emit(ir.If(test, body, []))
                elif comp.inner_for_in is not None:
                    level(comp.inner_for_in)
                elif total:
                    value = self.expr(node.elt)
                    self.assign(result, Prim("binop", operator.add, "+"), [Name(result), value],
                                node=node)
                elif keyed:
                    key = self.expr(node.key)
                    self.emit(ir.SetItem(result, ir.Index((key,)), self.expr(node.value)))
                else:
                    self.emit(ir.Append(result, self.expr(node.elt)))
            rest(list(comp.ifs))

        level(node.for_in)
        self.scope = saved_scope
        if reads_target:
            return self.assign(target, ir.COPY, [Name(result)], node=node)
        return Name(result)



def _unpacks_star_zip(target, call: cst.Call) -> bool:
    """`for x, y in zip(*pairs)`: one starred argument, a tuple of names."""
    return isinstance(target, cst.Tuple) and len(call.args) == 1 and \
        call.args[0].star == "*" and not call.args[0].keyword


def _unpacks_zip(target, call: cst.Call) -> bool:
    """`for x, y in zip(xs, ys)`: as many names as sequences, none passed by keyword or *."""
    return isinstance(target, cst.Tuple) and len(call.args) == len(target.elements) and \
        not any(a.keyword or a.star for a in call.args)
