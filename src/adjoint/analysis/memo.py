"""memo: each analysis runs once per function version (an ir.Function is never changed in
place after normalize: a stage that changes it makes a new one)."""

from __future__ import annotations

import functools
from collections import Counter

RUNS: Counter = Counter()  # analysis name -> how many times it ran (not served from memory)


def _frozen(arg):
    if isinstance(arg, dict):
        return frozenset(arg.items())
    if isinstance(arg, (set, frozenset, list, tuple)):
        return frozenset(arg)
    return arg


def per_version(analysis):
    """Memoize `analysis(fn, *args)` on the function version fn; a set or dict result is
    handed out as a copy, so callers may change what they get."""
    name = analysis.__name__

    @functools.wraps(analysis)
    def memo(fn, *args):
        cache = fn.__dict__.setdefault("_facts", {})
        key = (name, *map(_frozen, args))
        if key not in cache:
            RUNS[name] += 1
            cache[key] = analysis(fn, *args)
        found = cache[key]
        return found.copy() if isinstance(found, (set, dict)) else found

    return memo
