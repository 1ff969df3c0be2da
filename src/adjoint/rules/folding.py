"""Folding filled formulas: constants (`x ** (2 - 1)` is `x`), negations, zero products."""

from __future__ import annotations

import ast
import functools
import operator
import re

from ..ir import Parts, Ref


def is_zero_product(parts: Parts) -> bool:
    """Whether the formula is a product with the factor 0 (`g * 0 * x ** -1`, the base's
    share in x ** 0): its value is zero everywhere, even where a factor is not finite."""
    text = _pattern(parts)
    if "0" not in text:
        return False
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False

    def zero(n) -> bool:
        if isinstance(n, ast.Constant) and type(n.value) in (int, float):
            return n.value == 0
        return isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and (
            zero(n.left) or zero(n.right))

    return zero(node)


def fold(parts: Parts) -> Parts:
    """Fold constant arithmetic, drop `* 1`, `** 1`, `+ 0` and runtime keyword arguments
    left at None or False."""
    return _refill(_fold_text(_pattern(parts)), parts)


def _pattern(parts: Parts) -> str:
    """The parts as text, each Ref replaced by a numbered placeholder."""
    out, k = [], 0
    for p in parts:
        if isinstance(p, Ref):
            out.append(f"__ref{k}__")
            k += 1
        else:
            out.append(p)
    return "".join(out)


def _refill(text: str | None, parts: Parts) -> Parts | None:
    if text is None:
        return None
    refs = [p for p in parts if isinstance(p, Ref)]
    out: list = []
    for piece in re.split(r"(__ref\d+__)", text):
        if piece.startswith("__ref") and piece.endswith("__"):
            out.append(refs[int(piece[5:-2])])
        elif piece:
            out.append(piece)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _fold_text(text: str) -> str:
    tree = ast.parse(text, mode="eval")
    return ast.unparse(ast.fix_missing_locations(_Folder().visit(tree)).body)


def negation(parts: Parts) -> Parts | None:
    """For `-a`, or `-a * b / c` (a leading minus in a chain of products), the parts of `a`
    or `a * b / c`, so that `x_bar + -a` can be written `x_bar - a`; None for anything else."""
    if not parts or not (isinstance(parts[0], str) and parts[0].startswith("-")):
        return None
    return _refill(_negated_text(_pattern(parts)), parts)


@functools.lru_cache(maxsize=4096)
def _negated_text(text: str) -> str | None:
    node = ast.parse(text, mode="eval").body
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        tight = (ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript)
        if isinstance(node.operand, tight) or (isinstance(node.operand, ast.BinOp) and isinstance(
                node.operand.op, (ast.Mult, ast.Div, ast.Pow, ast.MatMult))):
            return ast.unparse(node.operand)
        return None
    parent, chain = None, node
    while isinstance(chain, ast.BinOp) and isinstance(chain.op, (ast.Mult, ast.Div)):
        parent, chain = chain, chain.left
    if parent is None or not (isinstance(chain, ast.UnaryOp) and isinstance(chain.op, ast.USub)):
        return None
    parent.left = chain.operand
    return ast.unparse(node)


class _Folder(ast.NodeTransformer):
    OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}

    @staticmethod
    def number(node) -> bool:
        return isinstance(node, ast.Constant) and type(node.value) in (int, float)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        op = self.OPS.get(type(node.op))
        if op and self.number(node.left) and self.number(node.right):
            try:
                value = op(node.left.value, node.right.value)
            except (ZeroDivisionError, OverflowError):
                return node
            if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 and \
                    isinstance(node.left.value, int) and isinstance(node.right.value, int):
                value = int(value)
            return ast.Constant(value) if value >= 0 else ast.UnaryOp(ast.USub(),
                                                                       ast.Constant(-value))
        one = lambda n: self.number(n) and n.value == 1  # noqa: E731
        zero = lambda n: self.number(n) and n.value == 0  # noqa: E731
        if isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)) and one(node.right):
            return node.left
        if isinstance(node.op, ast.Mult) and one(node.left):
            return node.right
        if isinstance(node.op, (ast.Add, ast.Sub)) and zero(node.right):
            return node.left
        return node

    def visit_Subscript(self, node):
        """(a, b, c)[1:] is (b, c); (a, b, c)[0] is a."""
        self.generic_visit(node)
        if not isinstance(node.value, ast.Tuple):
            return node
        items, key = node.value.elts, node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, int) and \
                -len(items) <= key.value < len(items):
            return items[key.value]
        if isinstance(key, ast.Slice) and key.step is None and all(
                b is None or (isinstance(b, ast.Constant) and isinstance(b.value, int))
                for b in (key.lower, key.upper)):
            lo = key.lower.value if key.lower else None
            hi = key.upper.value if key.upper else None
            return ast.Tuple(items[lo:hi], ast.Load())
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.UnaryOp) and \
                isinstance(node.operand.op, ast.USub):
            return node.operand.operand
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
                func.value.id == "runtime":
            defaults = _runtime_defaults(func.attr)
            node.keywords = [k for k in node.keywords if not (
                isinstance(k.value, ast.Constant) and (
                    k.value.value is None or k.value.value is False or
                    k.arg in defaults and defaults[k.arg] == k.value.value))]
            if func.attr == "mul" and len(node.args) == 2 and self.polynomial(node.args[1]):
                return self.times(node.args[0], node.args[1])  # finite where its inputs are
        return node

    def times(self, g, factor):
        """g * factor, written as `g * 2 * x` rather than `g * (2 * x)`."""
        if isinstance(factor, ast.BinOp) and isinstance(factor.op, ast.Mult):
            return ast.BinOp(self.times(g, factor.left), ast.Mult(), factor.right)
        return ast.BinOp(g, ast.Mult(), factor)

    def polynomial(self, node) -> bool:
        """Whether `node` is sums and products of names and numbers, with whole powers."""
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                return self.polynomial(node.left) and self.number(node.right) and \
                    isinstance(node.right.value, int) and node.right.value >= 0
            return isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)) and \
                self.polynomial(node.left) and self.polynomial(node.right)
        if isinstance(node, ast.UnaryOp):
            return isinstance(node.op, (ast.USub, ast.UAdd)) and self.polynomial(node.operand)
        return isinstance(node, ast.Name) or self.number(node)

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.Is, ast.IsNot)) and all(
                isinstance(n, ast.Constant) for n in (node.left, *node.comparators)):
            same = node.left.value is node.comparators[0].value
            return ast.Constant(same if isinstance(node.ops[0], ast.Is) else not same)
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        return node


@functools.cache
def _runtime_defaults(name: str) -> dict:
    """The text defaults (order='C') of the runtime helper `name`'s keyword parameters."""
    import inspect

    from .. import runtime

    try:
        params = inspect.signature(getattr(runtime, name)).parameters.values()
    except (AttributeError, TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if isinstance(p.default, str)}
