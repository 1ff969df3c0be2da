"""dataflow: the fixpoint the per-name analyses share (kinds, shapes): each name's value is
the join of what its definitions give, iterated until nothing changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .. import ir

BOTTOM = "bottom"  # no definition seen yet


def solve(defining: Iterable, infer: Callable, join: Callable, values: dict) -> dict:
    """Grow `values` (name -> value, BOTTOM where absent) from the statements `defining`:
    `infer(s)` is what s gives the names it defines (read from `values`), and
    `join(old, new, name, s)` what a name holds once one more definition is seen."""
    defining = list(defining)
    changed = True
    while changed:
        changed = False
        for s in defining:
            new = infer(s)
            for name in ir.defs(s):
                old = values.get(name, BOTTOM)
                merged = join(old, new, name, s)
                if merged != old:
                    values[name] = merged
                    changed = True
    return values
