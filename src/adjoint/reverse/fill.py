"""fill: an adjoint made of pieces written into fresh zeros, written straight in.

The reverse sweep makes an array's adjoint as `x_bar = runtime.zeros_like(x)` and adds each
slice's share with `x_bar[s] += g`. Where the code is specialized on shapes, the slices are
known: when the adds that follow the zeros (before anything else touches x_bar) select
disjoint entries, each is an assignment (`x_bar[s] = g`), as adding to zero is; and when
they cover every entry, the zeros are never read, so x_bar is made empty
(`runtime.empty_like`). Rosenbrock's `x_bar[0::2]`, `x_bar[1::2]` are the model.

Each selection is a box: one `range` of positions per axis. Two boxes are disjoint where
one axis's ranges are; boxes that differ in one axis only, and there are disjoint, cover
the array when their lengths add up to that axis's length."""

from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..analysis.dims import UNKNOWN, int_value, is_dims
from ..ir import Block, Line, Ref

LARGE = 1 << 16  # ranges longer than this are compared by their arithmetic only


def fill(body: list, shape: dict, ints: dict) -> list:
    """The lines of body (and of its blocks) with the adds into fresh zeros made writes."""
    out = [item.rebuilt(lambda b: fill(b, shape, ints)) if isinstance(item, Block)
           else item for item in body]
    for k, item in enumerate(out):
        note = getattr(item, "note", None)
        if isinstance(item, Line) and note and note[0] == "zeros" and is_dims(
                shape.get(note[2])):
            _fill_after(out, k, shape[note[2]][1], ints)
    return out


def _fill_after(items: list, k: int, dims: tuple, ints: dict) -> None:
    """Make the adds that follow items[k] (x_bar = zeros) writes, in place in `items`."""
    xb = items[k].note[1]
    boxes: list = []
    for j in range(k + 1, len(items)):
        item = items[j]
        if not _touches(item, xb):
            continue
        note = getattr(item, "note", None)
        if not (note and note[0] == "add" and note[1] == xb):
            break
        box = _box(note[3], dims, ints)
        if box is None or any(not _disjoint(box, b) for b in boxes):
            break
        boxes.append(box)
        at = item.parts.index("] += ")
        items[j] = replace(item, parts=(*item.parts[:at], "] = ", *item.parts[at + 1:]),
                           note=None)
    if boxes and _cover(boxes, dims):
        zeros = items[k]
        at = zeros.parts.index(".zeros_like(")
        items[k] = replace(zeros, parts=(*zeros.parts[:at], ".empty_like(",
                                         *zeros.parts[at + 1:]), note=None)


def _touches(item, name: str) -> bool:
    for parts in ir.parts_of(item):
        if any(isinstance(p, Ref) and p.name == name for p in parts):
            return True
    return False


def _box(index: ir.Index, dims: tuple, ints: dict) -> tuple | None:
    """One range of positions per axis of what x[index] selects, or None."""
    items = list(index.items)
    if ir.ELLIPSIS in items:
        at = items.index(ir.ELLIPSIS)
        fill_in = len(dims) - (len(items) - 1 - items.count(ir.NEWAXIS))
        items[at:at + 1] = [ir.Slice(None, None, None)] * fill_in
    items = [i for i in items if i != ir.NEWAXIS]
    if len(items) > len(dims):
        return None
    items += [ir.Slice(None, None, None)] * (len(dims) - len(items))
    box = []
    for item, n in zip(items, dims, strict=True):
        if isinstance(item, ir.Slice):
            bounds = [int_value(b, ints) if b is not None else None
                      for b in (item.lower, item.upper, item.step)]
            if any(b is UNKNOWN for b in bounds) or bounds[2] == 0:
                return None
            box.append(range(n)[slice(*bounds)])
            continue
        k = int_value(item, ints)
        if not isinstance(k, int) or isinstance(k, bool) or not -n <= k < n:
            return None
        box.append(range(k % n, k % n + 1))
    return tuple(box)


def _disjoint(a: tuple, b: tuple) -> bool:
    return any(_ranges_disjoint(r, s) for r, s in zip(a, b, strict=True))


def _ranges_disjoint(r: range, s: range) -> bool:
    if not r or not s:
        return True
    lo_r, hi_r = min(r[0], r[-1]), max(r[0], r[-1])
    lo_s, hi_s = min(s[0], s[-1]), max(s[0], s[-1])
    if hi_r < lo_s or hi_s < lo_r:
        return True
    step_r, step_s = abs(r.step), abs(s.step)
    if step_r == step_s and (r[0] - s[0]) % step_r:
        return True  # one stride, other residues
    if len(r) <= LARGE and len(s) <= LARGE:
        return not set(r) & set(s)
    return False


def _cover(boxes: list, dims: tuple) -> bool:
    """Whether disjoint boxes cover an array of these dims: they differ in one axis only,
    and there their lengths add up to its length."""
    varying = [k for k in range(len(dims)) if len({b[k] for b in boxes}) > 1]
    if len(varying) > 1:
        return False
    fixed = [k for k in range(len(dims)) if k not in varying]
    if any(len(boxes[0][k]) != dims[k] for k in fixed):
        return False
    if not varying:
        return len(boxes) == 1
    axis = varying[0]
    return sum(len(b[axis]) for b in boxes) == dims[axis]
