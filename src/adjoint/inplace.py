"""inplace: results written into temporaries the gradient reads no more (optimize stage).

In code specialized on the shapes of large arrays, each fresh array is an allocation of
megabytes (a page-faulting `mmap`), and a careful hand-written gradient reuses the dead
ones: Rosenbrock's `b = 1 - x_odd` is read once, by `x_odd_bar = g * -2 * b`, which may as
well write into b. Here a line `t = x OP y` (OP one of + - * /) whose operand y (or x) is
such a temporary becomes `t = runtime.subtract(x, y, out=y)`, and a line `t = np.tanh(z)`
(a ufunc of one argument that keeps a float's dtype) becomes `t = runtime.unary(np.tanh, z,
out=z)`, when

- the temporary is one of `large` (arrays the code is specialized on, of at least LARGE
  entries, and their adjoints: for small ones a fresh array costs less than the check),
- the value read is the one bound last before the line, in the same block, by arithmetic
  or such a ufunc (`b = 1 - x_odd`: a fresh array, whose memory nothing else shares),
- every read of it is in the lines between that binding and this line, each of which
  computes new values from it (arithmetic into a name: no view, copy, push or call keeps
  it), and this line reads it once.

runtime/inplace.py then writes into it only where that gives exactly the operator's result;
normalize reads these calls as the operations they compute, so emitted code differentiates
again (hvp).
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import replace

from .ir import Block, Emitted, Line, Ref, parts_of, read_refs, text
from .optimize import UFUNC, counts

LARGE = 1 << 15  # entries: NumPy's own temporaries are reused from 256 KiB of float64
NAMES = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide"}
# what lines reading a spent temporary may be made of: arithmetic makes new arrays, and an
# attribute (`w.T`) is a view that lives only while the line runs
ARITHMETIC = (ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Attribute, ast.operator,
              ast.unaryop, ast.Load, ast.Store)


def written_into(fn: Emitted) -> Emitted:
    """fn with results written into spent temporaries of `fn.large`, as the module says."""
    if not fn.large:
        return fn
    _, reads = counts(fn.body)
    return replace(fn, body=_block(fn.body, fn.large, reads))


def _block(items: list, large: frozenset, reads: Counter) -> list:
    items = [x.rebuilt(lambda b: _block(b, large, reads)) if isinstance(x, Block) else x
             for x in items]
    trees = [_tree(x) for x in items]
    out = list(items)
    for j, tree in enumerate(trees):
        arg = _ufunc_argument(items[j])
        if arg in large and _spent(arg, j, items, trees, reads):
            out[j] = _applied(items[j], arg)
        if not (isinstance(tree, ast.Assign) and isinstance(tree.value, ast.BinOp)
                and type(tree.value.op) in NAMES):
            continue
        for side in (tree.value.left, tree.value.right):
            if isinstance(side, ast.Name) and side.id in large and _spent(
                    side.id, j, items, trees, reads):
                out[j] = _rewritten(items[j], tree, side.id)
                break
    return out


def _tree(item) -> ast.stmt | None:
    """The statement a simple line is, parsed (None for a comment, a block, or a line that
    binds more or other than one name)."""
    if not isinstance(item, Line) or item.comment or len(item.binds) != 1:
        return None
    spelled = text(item.parts)
    if not spelled.isascii():  # ast's offsets count bytes
        return None
    try:
        tree = ast.parse(spelled).body
    except SyntaxError:
        return None
    if len(tree) != 1 or not isinstance(tree[0], (ast.Assign, ast.AugAssign)):
        return None
    targets = tree[0].targets if isinstance(tree[0], ast.Assign) else [tree[0].target]
    if len(targets) != 1 or not isinstance(targets[0], ast.Name):
        return None
    return tree[0]


def _arithmetic(node: ast.AST) -> bool:
    return all(isinstance(n, ARITHMETIC) for n in ast.walk(node))


def _spent(name: str, j: int, items: list, trees: list, reads: Counter) -> bool:
    """Whether the value of `name` that items[j] reads is a fresh array nothing reads after
    items[j] and nothing else holds (see the module)."""
    bound = [k for k in range(j) if isinstance(items[k], Line) and name in items[k].binds]
    if not bound or _count(items[j], name) != 1:
        return False
    k = bound[-1]
    if not _fresh(items[k], trees[k]):
        return False
    seen = 1
    for m in range(k + 1, j):
        n = _count(items[m], name)
        if not n:
            continue
        tree = trees[m]
        if tree is None or not _arithmetic(tree.value) or name in items[m].binds:
            return False
        if isinstance(tree, ast.Assign) and not isinstance(tree.value, (ast.BinOp,
                                                                          ast.UnaryOp)):
            return False  # `c = b`: another name for the same memory
        seen += n
    return seen == reads[name]


def _fresh(item, tree) -> bool:
    """Whether a line binds a new array: arithmetic, or a ufunc of one argument."""
    return _ufunc_argument(item) is not None or isinstance(tree, ast.Assign) and isinstance(
        tree.value, (ast.BinOp, ast.UnaryOp)) and _arithmetic(tree.value)


def _ufunc_argument(item) -> str | None:
    """The argument z of a line `t = np.tanh(z)` (noted UFUNC where it was emitted)."""
    if not isinstance(item, Line) or item.note != UFUNC:
        return None
    parts = item.parts
    ok = len(parts) > 5 and parts[1] == " = " and parts[-3] == "(" and parts[-1] == ")" and \
        type(parts[-2]) is Ref
    return parts[-2].name if ok else None


def _count(item, name: str) -> int:
    """How many times a line reads `name` (a block that mentions it at all: 1)."""
    if isinstance(item, Line):
        return sum(1 for p in read_refs(item.parts, item.binds) if p.name == name)
    return int(any(isinstance(p, Ref) and p.name == name for parts in parts_of(item)
                   for p in parts))


def _rewritten(item: Line, tree: ast.Assign, name: str) -> Line:
    """`t = runtime.OP(x, y, out=name)` for the line `t = x OP y`."""
    body = text(item.parts)
    line_parts = _spans(item.parts)
    op = tree.value
    left = _slice(line_parts, body, op.left)
    right = _slice(line_parts, body, op.right)
    if left is None or right is None:
        return item
    return Line((item.parts[0], " = ", "runtime.", NAMES[type(op.op)], "(", *left, ", ",
                 *right, ", out=", Ref(name), ")"), item.binds)


def _applied(item: Line, name: str) -> Line:
    """`t = runtime.unary(np.tanh, z, out=z)` for the line `t = np.tanh(z)`."""
    parts = item.parts
    return Line((parts[0], " = runtime.unary(", *parts[2:-3], ", ", Ref(name), ", out=",
                 Ref(name), ")"), item.binds)


def _spans(parts) -> list:
    """(start, end, part) of each part in the line's text."""
    out, at = [], 0
    for p in parts:
        n = len(p.name if isinstance(p, Ref) else p)
        out.append((at, at + n, p))
        at += n
    return out


def _slice(spans: list, body: str, node: ast.AST) -> tuple | None:
    """The parts spelling `node` (its text, with the Refs it reads kept as Refs)."""
    start, end = node.col_offset, node.end_col_offset
    out = []
    for a, b, p in spans:
        if b <= start or a >= end:
            continue
        if isinstance(p, Ref):
            if a < start or b > end:
                return None
            out.append(p)
        else:
            out.append(p[max(start, a) - a: min(end, b) - a])
    spelled = "".join(p.name if isinstance(p, Ref) else p for p in out)
    return tuple(out) if spelled == body[start:end] else None
