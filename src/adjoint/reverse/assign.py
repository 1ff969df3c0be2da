"""assign: the adjoint of one assignment, from its rule's formulas."""

from __future__ import annotations

import ast
import functools
import inspect
import math
import operator
from dataclasses import replace

import numpy as np

from .. import ir, rules
from ..analysis import effects
from ..analysis.dataflow import BOTTOM
from ..analysis.plan import Save
from ..analysis.values import elementwise, may_be_infinite
from ..errors import MissingRule
from ..ir import Assign, Const, Line, Name, Ref
from ..rules import shaped
from .refs import RUNTIME, AnsRef, ShapeRef
from .refusals import Refusals
from .specialized import ShapedAdjoint
from .uniform import UniformAdjoint
from .writes import IndexAdd

# runtime helpers that return a new array (never one of their arguments)
FRESH_HELPERS = {"sum_adjoint", "mean_adjoint", "extremum_adjoint", "prod_adjoint",
                 "where_adjoint", "clip_adjoint", "maximum_adjoint", "zeros_like", "owned",
                 "unstack", "split_like", "sequence_adjoint"}


LIST_HELPERS = {"unstack", "split_like", "sequence_adjoint", "add_seq", "densify", "owned"}


def _swap(parts, old: str, new: str):
    """The parts, reading the result of their statement from `new`."""
    if isinstance(parts, IndexAdd):
        return parts
    return tuple(Ref(new) if isinstance(p, AnsRef) and p.name == old else p for p in parts)


def _lists(parts) -> bool:
    """Whether an emitted expression surely gives the adjoint of a list as a list."""
    parts = tuple(parts)
    return len(parts) >= 2 and parts[0] == RUNTIME and isinstance(parts[1], str) and \
        parts[1].lstrip(".").split("(")[0] in LIST_HELPERS


def fresh(parts) -> bool:
    """Whether an emitted expression surely builds a new value, one nothing else holds (so
    it may be updated in place): arithmetic, or a runtime helper that allocates; not a bare
    name, and not what unbroadcast or keep_zeros may hand back unchanged."""
    return _fresh_text(rules._pattern(parts))


@functools.lru_cache(maxsize=4096)
def _fresh_text(text: str) -> bool:
    def new(node) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(
                node.func.value, ast.Name) and node.func.value.id == RUNTIME:
            if node.func.attr == "unbroadcast":
                return new(node.args[0])
            if node.func.attr == "keep_zeros":
                return new(node.args[1])
            return node.func.attr in FRESH_HELPERS
        return isinstance(node, (ast.BinOp, ast.UnaryOp))

    return new(ast.parse(text, mode="eval").body)


class AssignAdjoint(Refusals, UniformAdjoint, ShapedAdjoint):
    """Methods of Sweep."""

    def assign_adjoint(self, s: Assign) -> list[Line]:
        t = s.target
        if s.prim.kind == "setattr" and (ir.names(s.args[-1:]) | s.prim.key) & self.varied \
                and not (not s.prim.key & self.varied and effects.stored_unread(s, self.fn.source)):
            obj = sorted(s.prim.key & self.varied)
            what = f"an attribute of {obj[0]} is assigned" if obj else (
                f"an attribute is set from {sorted(ir.names(s.args[-1:]))[0]}")
            fix = "make a new object (dataclasses.replace)" if obj and obj[0] in self.wrt \
                else "return it"
            raise self.error(s, f"{what}, which varies with what is differentiated: a "
                             "derivative through an object's state would be lost; keep the "
                             f"value in a local name (or {fix})")
        for a in (*s.args, *(v for _, v in s.kwargs)):
            if isinstance(a, ir.Expr) and ir.names([a]) & self.active and s.adjoint is None:
                raise self.error(s, f"*-unpacking of {sorted(ir.names([a]) & self.active)[0]}"
                                 ", which carries a derivative, is not supported; pass its "
                                 "items one by one")
        if t is None and s.prim.kind in ("method", "call"):
            self.refuse_effect(s)
        contributions: list = []
        first: list[Line] = []
        if t is not None and t in self.active:
            if t in self.defined:
                g = self.bar(t)
                maybe_zero = t in self.zeroed  # g may be 0.0, standing for zeros
                sparse = ("items", t) in self.zeroed  # g is a tuple whose items may be 0.0
                uniform = ("uniform", t) in self.zeroed  # or a number: all entries of a sum
                self.zeroed.discard(("uniform", t))
                maybe_zero &= not uniform  # (0.0 is such a number too)
                if (maybe_zero and not self.elementwise_rule(s)) or (
                        sparse and s.adjoint is not None) or (
                        uniform and not self.passes_uniform(s)):
                    # a rule that needs g's shape gets real zeros, not the 0.0 that stands
                    # for them (the 0.0 came from a branch or loop where t was not read), and
                    # so does the split adjoint of a user function (rules take 0.0 items)
                    first.append(self.assign(g, (RUNTIME, ".densify(", Ref(g), ", ",
                                                 ShapeRef(t), ")")))
                    maybe_zero = sparse = uniform = False
                maybe_zero |= sparse and s.prim.kind in ("tuple", "list", "dict")
                self.defined.discard(t)
                self.owned.discard(t)
                self.from_uniform = t if uniform else None
                contributions = self.contributions(s, g)
                self.from_uniform = None
                uniform |= self.starts_uniform(s)
                if maybe_zero:  # an adjoint a zero adjoint defines may be zero itself
                    self.zeroed.update(x for x, *_ in contributions
                                       if x is not None and x not in self.defined)
                if uniform:  # and one a number standing for an array defines may be one
                    kept = {x for x, parts, *_ in contributions if x is not None and x not in
                            self.defined and not isinstance(parts, IndexAdd) and
                            not self.surely_array(parts, s)}
                    self.zeroed.update(kept | {("uniform", x) for x in kept})
            else:  # nothing flowed back into t; still refuse what has no rule (text kept
                # as written, an f-string's, needs none where nothing flows)
                if s.prim.kind != "expr":
                    self.contributions(s, self.bar(t))
                self.defined.discard(t)
        return first + self.self_restore(s, contributions)

    def elementwise_rule(self, s: Assign) -> bool:
        """Whether s's adjoint works as well with the number 0.0 for g as with zeros."""
        p = s.prim
        if p.kind in ("copy", "index"):
            return True
        if s.adjoint is not None or p.key is None:
            return False
        if not elementwise(p.key):
            return False
        rule = rules.lookup(p.key, p.spelling if p.kind == "method" else None)
        return rule is None or not rules.broadcasts(p.key) or self.zero_keeps_shape(s, rule)

    def zero_keeps_shape(self, s: Assign, rule: rules.Rule) -> bool:
        """Whether, with the number 0.0 for g, each input's contribution still has a shape it
        unbroadcasts from: not when its formula multiplies g by another input (0.0 * b has b's
        shape) that may have neither the result's shape nor none."""
        try:
            bound = rule.signature.bind(*s.args, **dict(s.kwargs)).arguments
        except TypeError:
            return False

        def fits(a) -> bool:
            return self.kind(a) in ("int", "scalar") or (
                isinstance(a, Name) and self.same_shape(a, s))

        for name, atom in bound.items():
            if not isinstance(atom, (Name, Const)):
                return False
            if not self.is_active(atom) or name not in rule.formulas:
                continue
            slots = rule.template(name).slots
            if any(other != name and other in slots and not fits(a)
                   for other, a in bound.items()):
                return False
        return True

    def self_restore(self, s: Assign, contributions) -> list[Line]:
        """Emit contributions; a statement that overwrites one of its own inputs restores
        the old value first, keeping the new one for rules that read the result."""
        t = s.target
        saved = self.plan.saves.get(id(s), {}).get(t) is Save.BEFORE
        out: list[Line] = []
        if saved and t in ir.names(s.args):
            if contributions is not None and contributions and any(
                    uses_ans for *_, uses_ans in contributions):
                new = self.new_value(t)
                copy = (RUNTIME, ".snapshot(", Ref(t), ")") if s.inplace else (Ref(t),)
                out.append(self.assign(new, copy))
                contributions = [(x, _swap(parts, t, new), fresh, u)
                                 for x, parts, fresh, u in contributions]
            out.append(self.restore_line(s, t))
        return out + self.emit_contributions(s, contributions)

    def restore_line(self, s, v: str) -> Line:
        """v = v_stack.pop() (or the name v's old value is kept in); an array changed in
        place gets its old values back in place."""
        popped = self.kept(s, v)
        if getattr(s, "inplace", False):  # an effect: what shares v's memory gets them too
            line = self.assign(v, (RUNTIME, ".restore(", Ref(v), ", ", *popped, ")"))
            return replace(line, effect=True)
        return self.assign(v, popped)

    def new_value(self, t: str) -> str:
        return self.namer.cached(("new", t), f"{t}_new")

    def emit_contributions(self, s: Assign, contributions) -> list[Line]:
        if not contributions:
            return []
        out: list[Line] = []
        grouped: dict[str, list] = {}
        for x, parts, fresh, _ in contributions:
            if x is None:  # a line the contributions read (a helper's reverse sweep)
                out.append(parts)
                continue
            grouped.setdefault(x, []).append((parts, fresh))
        # contributions to the statement's own target read g: emit them last, in one line
        order = [x for x in grouped if x != s.target] + ([s.target] if s.target in grouped
                                                          else [])
        for x in order:
            items = grouped[x]
            if len(items) == 1 or x != s.target:
                for parts, fresh in items:
                    if isinstance(parts, IndexAdd):
                        if x == s.target:  # x = x[i]: g is x_bar, which own() replaces
                            held = self.namer.cached(("new bar", x), f"{x}_new_bar")
                            out.append(self.assign(held, parts.g))
                            parts = IndexAdd(parts.index, (Ref(held),), parts.basic,
                                             parts.container, parts.number)
                        out += self.own(x)
                        out.append(self.index_add(x, parts))
                    else:
                        if not fresh:
                            self.shared(parts)
                        out += self.add(x, parts, fresh)
            else:
                summed = items[0][0]
                for parts, _ in items[1:]:
                    summed = (*summed, " + ", *parts) if self.is_array(x) else (
                        RUNTIME, ".add_seq(", *summed, ", ", *parts, ")")
                out += self.add(x, summed, True)
        return out

    def contributions(self, s: Assign, g: str) -> list:
        """(input name, parts, fresh, reads ans) for each active input of s."""
        p = s.prim
        passed = (*s.args, *(v for _, v in s.kwargs))
        if not any(self.is_active(a) or isinstance(a, ir.Expr) and s.adjoint is not None and
                   ir.names([a]) & self.active for a in passed):  # spread(xs) of a call
            return []  # a constant, whatever computed it
        gp = (Ref(g),)
        if p.kind == "copy":
            return [(s.args[0].id, gp, False, False)] if self.is_active(s.args[0]) else []
        if p.kind == "index":
            base = s.args[0]
            if not self.is_active(base):
                return []
            return [(base.id, IndexAdd(s.index, gp, self.basic(s.index),
                                       s.target in self.seqs or not self.is_array(s.target),
                                       self.kinds.get(s.target) == "scalar"), True, False)]
        if p.kind in ("tuple", "list"):
            return [(a.id, (Ref(g), f"[{k}]"), False, False)
                    for k, a in enumerate(s.args) if self.is_active(a)]
        if p.kind == "dict":
            return [(a.id, (Ref(g), f"[{key}]"), False, False)
                    for key, a in zip(p.key, s.args, strict=True) if self.is_active(a)]
        if rules.is_field(p) and p.key is None:  # p.stiffness: that field of p_bar
            base = s.args[0]
            return [(base.id, (RUNTIME, ".field_adjoint(", Ref(g), ", ", ShapeRef(base.id),
                               f", {p.spelling!r})"), False, False)] if self.is_active(
                base) else []
        if p.key is not None and rules.is_passive(p.key):
            return []  # a constant result (np.zeros_like(x)): nothing flows back
        if self.starts_uniform(s):  # np.sum(x): x_bar is g, standing for a uniform array
            x = s.args[0].id
            if p.key is np.mean and (known := self.dims_of(Name(x))) is not None:
                gp = (Ref(g), f" / {math.prod(known)}")  # g over the number of entries
            elif p.key is np.mean:
                gp = (Ref(g), " / ", RUNTIME, ".entries(", ShapeRef(x), ")")
            return [(x, gp, False, False)]
        if p.kind == "binop" and p.key is operator.add and any(
                isinstance(a, Name) and a.id in self.seqs for a in s.args):
            return self.sequence_binop(s, g)
        if p.kind == "expr":
            raise self.error(s, "cannot differentiate through this expression (and/or, a "
                             "chained comparison, a starred element, an f-string); write it "
                             "with if statements, or the items one by one")
        if getattr(s, "adjoint", None) is not None:
            return self.call_contributions(s, g)
        rule = rules.lookup(p.key, p.spelling if p.kind == "method" else None) if \
            p.key is not None else None
        if rule is None:
            raise self.missing_rule(s)
        return self.rule_contributions(s, rule, g)

    def sequence_binop(self, s: Assign, g: str) -> list:
        """a + b where a or b may hold a list (names are lists on some paths only): two lists
        join, and each gets its part of the joined list's adjoint; else arrays add."""
        a, b = (ir.atom_parts(x) for x in s.args)
        return [(x.id, (RUNTIME, ".add_adjoint(", Ref(g), ", ", *a, ", ", *b, f", {k})"), False,
                 False) for k, x in enumerate(s.args) if self.is_active(x)]

    def rule_contributions(self, s: Assign, rule: rules.Rule, g: str) -> list:
        if any(k == "**" for k, _ in s.kwargs):
            raise self.error(s, f"**-unpacking in a call of {rules.name_of(rule.fn)}: its "
                             "derivative depends on the arguments it gets, which adjoint must "
                             "see; pass them by name")
        args = list(s.args)
        try:
            bound = rule.signature.bind(*args, **dict(s.kwargs))
        except TypeError as exc:
            raise self.error(s, f"cannot match the arguments of {rules.name_of(rule.fn)} to "
                             f"its signature: {exc}") from None
        shapes = {name: self.dims_of(a) for name, a in bound.arguments.items()}
        # (g may be the number 0.0 standing for zeros: then no formula that indexes it)
        consts = {name: a.value for name, a in bound.arguments.items() if isinstance(
            a, Const)} if s.target not in self.zeroed and self.from_uniform != s.target else None
        bound.apply_defaults()
        env = {"g": (Ref(g),), "ans": (AnsRef(s.target),), **self.modules}
        active_params = []
        for name, value in bound.arguments.items():
            kind = rule.signature.parameters[name].kind
            if kind == inspect.Parameter.VAR_POSITIONAL:
                env[name] = ("(", *ir.join([ir.atom_parts(a) for a in value]),
                             ",)" if len(value) == 1 else ")")
                active_params += [(name, k, a) for k, a in enumerate(value) if self.is_active(a)]
            elif kind == inspect.Parameter.VAR_KEYWORD:
                for k, a in value.items():
                    if self.is_active(a):
                        raise self.error(s, f"keyword argument {k} of "
                                         f"{rules.name_of(rule.fn)} carries a derivative")
            elif isinstance(value, (Name, Const)):
                env[name] = ir.atom_parts(value)
                if isinstance(value, Name) and value.id in self.displayed and \
                        rules.reads_array(rule.fn, name):  # [a, b] as NumPy reads it
                    env[name] = ("np.asarray(", *env[name], ")")
                if self.is_active(value):
                    active_params.append((name, None, value))
            else:
                default = None if value is np._NoValue else value
                env[name] = (repr(default),)
        out = []
        for name, k, atom in active_params:
            if name not in rule.formulas:
                raise self.error(s, f"argument {name!r} of {rules.name_of(rule.fn)} depends on "
                                 "the differentiated inputs, but has no derivative rule",
                                 MissingRule)
            formula = shaped.formula(rule.fn, name, shapes, consts) or rule.formulas[name]
            tpl = rules.template(formula, frozenset(rule.signature.parameters))
            env_k = dict(env, k=(str(k),)) if k is not None else env
            parts = rules.instantiate(tpl, env_k)
            if rule.fn is np.einsum and k is not None and self.specialized:
                parts = self.einsum_parts(g, s.args, k) or parts
            if rules.is_zero_product(parts):
                continue  # this input's share is zero (x ** 0): nothing flows back
            if s.target in self.masked and elementwise(rule.fn) and may_be_infinite(
                    rule.formulas[name], rule.fn):
                # g may hold the zeros np.where (or clip, maximum) put where a branch was not
                # taken; keep them zero even through an infinite derivative (0 * inf is nan)
                parts = (RUNTIME, ".keep_zeros(", Ref(g), ", ", *parts, ")")
            if rules.broadcasts(rule.fn) and not self.same_shape(atom, s):
                parts = self.summed_back(parts, atom.id, s.target, formula)
            out.append((atom.id, *self.as_items(atom.id, parts), "ans" in tpl.slots))
        return self.merged(out)

    def as_items(self, x: str, parts) -> tuple:
        """(parts, fresh) of a rule's contribution to x: the adjoint of a list is a list, where
        a NumPy rule gives an array (one item per entry)."""
        if x in self.seqs and not _lists(parts):  # not owned: densify makes a tuple a tuple
            return (RUNTIME, ".densify(", *parts, ", ", Ref(x), ")"), False
        return parts, fresh(parts)

    def call_contributions(self, s: Assign, g: str) -> list:
        """A call of the user's own function: its `_bwd` takes the saved values and g."""
        link = s.adjoint
        targets = [s.args[k] for k in link.positions] + [dict(s.kwargs)[k]
                                                        for k in link.keywords]
        targets = [a.args[0] if isinstance(a, ir.Expr) else a for a in targets]  # spread(xs)
        if not targets:  # a function held in a varying value, called on constants
            return []
        call = (link.bwd, "(", Ref(s.tape), ", ", Ref(g), ")")
        if len(targets) == 1:
            return [(targets[0].id, self.as_items(targets[0].id, call)[0], False, False)]
        parts = [self.namer.cached_for(s, ("part", j), f"{a.id}_part")
                 for j, a in enumerate(targets)]
        head = self.line((*ir.join([(Ref(p),) for p in parts]), " = ", *call), parts)
        return [(None, head, False, False)] + [(a.id, self.as_items(a.id, (Ref(p),))[0], False,
                                                False) for a, p in zip(targets, parts, strict=True)]

    def same_shape(self, atom, s: Assign) -> bool:
        """Whether input `atom` surely has the shape of s's result: its shape term is the
        result's, or every other operand is a scalar."""
        others = [a for a in s.args if a is not atom] + [a for _, a in s.kwargs]
        if all(self.kind(a) in ("int", "scalar") for a in others):
            return True
        return self.known_shape(atom.id) and self.shape.get(atom.id) == self.shape.get(s.target)

    def known_shape(self, name: str) -> bool:
        t = self.shape.get(name)
        return t is not None and t != BOTTOM and not (
            isinstance(t, tuple) and t[0] == "top")

    def basic(self, index: ir.Index) -> bool:
        """Whether an index surely selects without repeats (ints, slices, None, ...), or,
        where shapes are known, with one array of distinct entries as long as the arrays
        of indices broadcast to (`x[np.arange(n), labels]`)."""
        if self.distinct and self.distinct_pick(index):
            return True
        for item in index.items:
            if isinstance(item, ir.Slice):
                continue
            if isinstance(item, str):
                continue
            if self.kind(item) != "int":
                return False
        return True
