"""specialized: the adjoint code that the shapes of a specialized gradient allow.

Where the code is specialized on the shapes of its arrays (analysis/dims.py), a sum back to
an operand's shape is NumPy's own `np.sum` over known axes, a mean's count is a number, an
index with one array of distinct entries (np.arange) adds in place, and a product of
vectors is the product a person writes (rules/shaped.py). Two equal contributions of one
statement to one adjoint are one, doubled."""

from __future__ import annotations

import ast
import functools

import numpy as np

from .. import ir, rules
from ..analysis.dims import is_dims
from ..ir import Const, Name, Ref
from .refs import RUNTIME, ShapeRef


@functools.lru_cache(maxsize=1024)
def g_shaped(formula: str) -> bool:
    """Whether a formula surely has the shape of g, its result's adjoint: g times (or
    divided by) numbers, operands and ans, or elementwise functions of them; so an operand
    broadcast to the result's shape gets it summed as NumPy would (`runtime.zeros_like(x2)`
    has x2's shape, and is not)."""
    try:
        node = ast.parse(formula, mode="eval").body
    except SyntaxError:
        return False
    factors = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        factors.append(node.right)
        node = node.left
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Name) and node.id == "g" and all(map(_elementwise_of, factors))


def _elementwise_of(node) -> bool:
    """An expression of names and numbers through arithmetic and NumPy's one-input ufuncs."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return not isinstance(node, ast.Name) or node.id != "g"
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div,
                                                            ast.Pow, ast.Mod, ast.FloorDiv)):
        return _elementwise_of(node.left) and _elementwise_of(node.right)
    if isinstance(node, ast.UnaryOp):
        return _elementwise_of(node.operand)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(
            node.func.value, ast.Name) and node.func.value.id == "np" and not node.keywords:
        fn = getattr(np, node.func.attr, None)
        return isinstance(fn, np.ufunc) and fn.nin == len(node.args) and all(
            map(_elementwise_of, node.args))
    return False


def _is_product(parts) -> bool:
    """Whether an emitted expression is a name or a chain of products (`g * x`)."""
    try:
        node = ast.parse(rules._pattern(parts), mode="eval").body
    except SyntaxError:
        return False
    return isinstance(node, ast.Name) or (isinstance(node, ast.BinOp) and isinstance(
        node.op, ast.Mult))


class Einsum(tuple):
    """The parts of an emitted `np.einsum(spec, *operands)`, knowing its spec and the parts of
    each operand (for reverse/batched.py)."""

    spec: str
    operands: tuple
    np: tuple

    def __new__(cls, parts: tuple, spec: str, operands: tuple, np_parts: tuple) -> Einsum:
        out = super().__new__(cls, parts)
        out.spec, out.operands, out.np = spec, operands, np_parts
        return out


class ShapedAdjoint:
    """The assign adjoint's helpers that read shapes (a mixin of the Sweep)."""

    def distinct_pick(self, index: ir.Index) -> bool:
        picks = [i for i in index.items if not isinstance(i, (ir.Slice, str))]
        shapes = [self.dims_of(i) if isinstance(i, Name) else () if isinstance(
            i, Const) and isinstance(i.value, int) else None for i in picks]
        if not picks or any(d is None for d in shapes):
            return False
        try:
            whole = np.broadcast_shapes(*shapes)
        except ValueError:
            return False
        return any(isinstance(i, Name) and i.id in self.distinct and d == whole and len(d) == 1
                   for i, d in zip(picks, shapes, strict=True))

    def einsum_parts(self, g: str, operands: tuple, k: int) -> tuple | None:
        """The adjoint of operands[k] of np.einsum(spec, *arrays) as one einsum of g and the
        other arrays, where every shape is known and each of the operand's labels is in the
        output or in another operand (else its adjoint broadcasts: the runtime's helper)."""
        spec = operands[0].value if isinstance(operands[0], Const) else None
        shapes = [self.dims_of(a) for a in operands[1:]]
        if not isinstance(spec, str) or spec.count("->") != 1 or "." in spec or k < 1 or any(
                d is None for d in shapes):
            return None
        inputs, output = spec.replace(" ", "").split("->")
        terms = inputs.split(",")
        size: dict = {}
        if len(terms) != len(shapes) or any(
                len(t) != len(d) or len(set(t)) != len(t) or any(
                    size.setdefault(c, n) != n for c, n in zip(t, d, strict=True))
                for t, d in zip(terms, shapes, strict=True)):
            return None
        others = [t for j, t in enumerate(terms) if j != k - 1]
        if not set(terms[k - 1]) <= set(output).union(*others):
            return None
        new = ",".join([output, *others]) + "->" + terms[k - 1]
        rest = [ir.atom_parts(a) for j, a in enumerate(operands[1:]) if j != k - 1]
        return Einsum((*self.modules["np"], f".einsum({new!r}, ", Ref(g), *(
            p for parts in rest for p in (", ", *parts)), ")"), new, ((Ref(g),), *rest),
            self.modules["np"])

    def dims_of(self, a) -> tuple | None:
        """The shape `a` surely has, where the code is specialized on shapes."""
        term = self.shape.get(a.id) if isinstance(a, Name) else None
        if term == "scalar" and self.specialized:
            return ()
        return term[1] if is_dims(term) else None

    def size_of(self, name: str) -> int | None:
        """How many entries the array `name` surely holds, where its shape is known."""
        dims = self.dims_of(Name(name))
        return None if dims is None else int(np.prod(dims))

    def summed_back(self, parts, x: str, y: str, formula: str) -> tuple:
        """A broadcasting rule's contribution to x, summed back from y's shape to x's."""
        negated = rules.negation(parts)  # -unbroadcast(g): negate the smaller array
        inner = negated if negated is not None else parts
        if self.from_uniform == y:  # g: a number standing for an array
            parts = (RUNTIME, ".unbroadcast_from(", *inner, ", ", ShapeRef(x), ", ",
                     ShapeRef(y), ")")
        else:
            parts = g_shaped(formula) and self.summed(inner, x, y) or (
                RUNTIME, ".unbroadcast(", *inner, ", ", ShapeRef(x), ")")
        return ("-", *parts) if negated is not None else parts

    def summed(self, parts, x: str, y: str) -> tuple | None:
        """`parts`, a contribution of y's shape, summed to x's known shape, as NumPy sums
        it (the axes y's broadcast put in front), or None where runtime.unbroadcast must."""
        xs, ys = self.dims_of(Name(x)), self.dims_of(Name(y))
        if xs is not None and xs == ys:
            return parts
        if y in self.zeroed:  # g may be the number 0.0, standing for zeros: the runtime sums
            return None
        whole = parts if len(parts) == 1 and isinstance(parts[0], Ref) else ("(", *parts, ")")
        if xs is not None and ys is not None and len(xs) == len(ys) and xs != ys and all(
                m == n or m == 1 for m, n in zip(xs, ys, strict=True)):  # kept axes of length 1
            axes = tuple(k for k, (m, n) in enumerate(zip(xs, ys, strict=True)) if m != n)
            return (*whole, f".sum(axis={axes}, keepdims=True)")
        if xs is None or ys is None or len(xs) > len(ys) or ys[len(ys) - len(xs):] != xs:
            return None
        if not xs:  # (np.sum: the contribution may be a number where y's shape was taken)
            return ("np.sum(", *parts, ")")
        return (*whole, f".sum(axis={tuple(range(len(ys) - len(xs)))})")

    def merged(self, out: list) -> list:
        """Equal contributions to one name (`x * x` gives g * x twice) as one: 2 * g * x.
        Doubling is exact in floating point, so the order of the products does not matter."""
        merged: list = []
        for item in out:
            twin = next((k for k, m in enumerate(merged) if m[0] == item[0] and m[1] == item[1]
                         and item[0] not in self.seqs), None)
            if twin is None:
                merged.append(item)
                continue
            name, parts, _, ans = merged[twin]
            doubled = ("2 * ", *parts) if _is_product(parts) else ("2 * (", *parts, ")")
            merged[twin] = (name, doubled, True, ans)
        return merged
