"""Shared helpers: functions built from source text, as if they lived in a file."""

import itertools
import linecache
import os
import tempfile
import textwrap

import numpy as np
import pytest

_counter = itertools.count()

# the tests keep emitted gradients in a cache folder of their own, never the user's
os.environ["ADJOINT_CACHE"] = tempfile.mkdtemp(prefix="adjoint-test-cache-")


def make_function(src: str, namespace: dict | None = None, name: str | None = None):
    """Compile `src` (one or more defs) in a fake file registered in linecache, so adjoint can
    read its source; returns the function called `name` (default: the last def)."""
    src = textwrap.dedent(src).strip() + "\n"
    filename = f"<test-source-{next(_counter)}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns = {"np": np, "__name__": "test_source"}
    ns.update(namespace or {})
    exec(compile(src, filename, "exec"), ns)
    if name is None:
        name = [line.split("(")[0][4:] for line in src.splitlines() if line.startswith("def ")][-1]
    return ns[name]


@pytest.fixture(params=[True, False], ids=["optimized", "unoptimized"])
def optimize(request):
    """Every gradient test runs with the optimizer on and off."""
    return request.param
