"""tree_map: a function applied leaf by leaf over nested dicts, lists and tuples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .shapes import _is_zero


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, lists: bool = False,
             strict: bool = True) -> Any:
    """f(leaf, *the matching parts of rest) for each leaf of `tree`, in a tree of its shape.

    `tree` leads the walk: a dict (a subclass too) gives a dict of its keys, a list a list,
    a tuple (a named tuple too) a tuple, or a list with lists=True; anything else (an array,
    a number, None) is a leaf. Each tree in `rest` is read at tree's keys and along its
    items, whatever its own container; where it is the number 0 (0.0, the zero adjoint of
    any shape) and `tree` has a container, it reads as 0.0 at each key and item. Lists of
    different lengths raise ValueError; with strict=False they stop at the shortest, as zip.
    """
    if not isinstance(tree, (dict, list, tuple)):
        return f(tree, *rest)

    def walk(tree, *rest):
        if isinstance(tree, dict):
            return {k: walk(v, *[0.0 if _is_zero(r) else r[k] for r in rest])
                    for k, v in tree.items()}
        if isinstance(tree, (list, tuple)):
            others = [[0.0] * len(tree) if _is_zero(r) else r for r in rest]
            items = [walk(*leaves) for leaves in zip(tree, *others, strict=strict)]
            return items if lists or isinstance(tree, list) else tuple(items)
        return f(tree, *rest)

    return walk(tree, *rest)
