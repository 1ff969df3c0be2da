"""tree_map: a function applied leaf by leaf over nested dicts, lists, tuples and records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .records import differentiable, field_of, is_record, rebuild
from .shapes import _is_zero


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, lists: bool = False,
             strict: bool = True) -> Any:
    """f(leaf, *the matching parts of rest) for each leaf of `tree`, in a tree of its shape.

    `tree` leads the walk: a dict (a subclass too) gives a dict of its keys, a list a list,
    a tuple a tuple, or a list with lists=True; a record (a named tuple, a dataclass, an
    object of the user's class: records.py) is walked at its fields that hold floats and
    gives `records.rebuild` of them (its type, or with lists=True a list or dict); anything
    else (an array, a number, None) is a leaf. Each tree in `rest` is read at tree's keys
    and along its items, whatever its own container; where it is the number 0 (0.0, the
    zero adjoint of any shape) and `tree` has a container, it reads as 0.0 at each key and
    item. Lists of different lengths raise ValueError; with strict=False they stop at the
    shortest, as zip.
    """
    if not isinstance(tree, (dict, list, tuple)) and not is_record(tree):
        return f(tree, *rest)

    def walk(tree, *rest):
        if isinstance(tree, dict):
            return {k: walk(v, *[0.0 if _is_zero(r) else r[k] for r in rest])
                    for k, v in tree.items()}
        if not isinstance(tree, list) and is_record(tree):
            return record(tree, *rest)
        if isinstance(tree, (list, tuple)):
            others = [[0.0] * len(tree) if _is_zero(r) else r for r in rest]
            items = [walk(*leaves) for leaves in zip(tree, *others, strict=strict)]
            return items if lists or isinstance(tree, list) else tuple(items)
        return f(tree, *rest)

    def record(tree, *rest):
        fields = tree._fields if isinstance(tree, tuple) else None
        values = {}
        for name in differentiable(tree):
            k = fields.index(name) if fields is not None else -1
            values[name] = walk(getattr(tree, name),
                                *[0.0 if _is_zero(r) else field_of(r, tree, name, k)
                                  for r in rest])
        return rebuild(tree, values, lists)

    return walk(tree, *rest)
