"""The disk cache of emitted gradients, keyed on sources, bindings, rules and version."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np

from . import compile as emit
from . import parse as parse_
from .program import (
    BASE_NAMESPACE,
    MISSING_GLOBAL,
    Compiled,
    DataKind,
    Program,
    code_entry,
    defaults_entry,
    global_signature,
    is_data,
    named_now,
)

# The cache's bound: past it, the entries used longest ago go (a hit marks an entry used)
MAX_BYTES = 64 * 2 ** 20  # $ADJOINT_CACHE_MAX_MB overrides
MAX_AGE_DAYS = 30  # $ADJOINT_CACHE_MAX_DAYS overrides: entries unused this long go


def cache_dir() -> Path | None:
    """Where emitted gradients are kept between runs: $ADJOINT_CACHE if it is a path,
    nothing if it is 0 (or off), else adjoint's folder in the user's cache folder (as
    platformdirs names it: ~/.cache/adjoint, ~/Library/Caches/adjoint, ...)."""
    setting = os.environ.get("ADJOINT_CACHE", "")
    if setting.lower() in ("0", "off", "false", "no"):
        return None
    if setting:
        return Path(setting)
    import platformdirs

    return Path(platformdirs.user_cache_dir("adjoint", appauthor=False))


def entries(folder: Path | None = None) -> list[os.DirEntry]:
    """The cache's entries (files `<key>.json`), oldest use first."""
    folder = folder or cache_dir()
    try:
        found = [e for e in os.scandir(folder) if e.name.endswith(".json") and e.is_file()]
    except (OSError, TypeError):
        return []
    return sorted(found, key=lambda e: e.stat().st_mtime)


def info() -> dict:
    """The cache's folder, its number of entries and their size in bytes, and its bound."""
    found = entries()
    return {"folder": cache_dir(), "entries": len(found),
            "bytes": sum(e.stat().st_size for e in found), "max_bytes": _bound()[0],
            "max_age_days": _bound()[1]}


def clear() -> int:
    """Remove every entry; returns how many there were."""
    found = entries()
    for e in found:
        with contextlib.suppress(OSError):
            os.remove(e.path)
    return len(found)


def evict(folder: Path) -> int:
    """Remove the entries unused for longer than the age bound, then the least recently
    used until the rest fit in the size bound; returns how many went."""
    import time

    max_bytes, max_days = _bound()
    found = entries(folder)
    total = sum(e.stat().st_size for e in found)
    old = time.time() - max_days * 86400
    gone = 0
    for e in found:
        if e.stat().st_mtime >= old and total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            total -= e.stat().st_size
            os.remove(e.path)
            gone += 1
    return gone


def _bound() -> tuple[int, float]:
    """(bytes, days): the cache's bound, from the environment or the defaults."""
    try:
        size = int(float(os.environ["ADJOINT_CACHE_MAX_MB"]) * 2 ** 20)
    except (KeyError, ValueError):
        size = MAX_BYTES
    try:
        days = float(os.environ["ADJOINT_CACHE_MAX_DAYS"])
    except (KeyError, ValueError):
        days = MAX_AGE_DAYS
    return size, days


@functools.lru_cache(maxsize=1)
def _package_hash() -> str:
    """A hash of adjoint's own source files, its subpackages' too: a changed compiler makes
    new keys."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _fingerprint() -> str:
    """What the rule table says, so a registered rule makes a new key."""
    from . import rules

    text = _package_hash()
    text += repr(sorted((rules.name_of(f), repr(v)) for f, v in rules.RULES.items()))
    text += repr(sorted(rules.name_of(f) for f in rules.PASSIVE))
    return hashlib.sha256(text.encode()).hexdigest()


def cache_key(fn: Any, wrt: Any, value: bool, optimize: bool, kinds: tuple) -> str | None:
    """The name of the entry for these compile_grad arguments; None when there is no cache,
    or `fn` (a closure, a builtin, a function without source) cannot be kept in one."""
    from . import __version__

    if cache_dir() is None or not isinstance(fn, types.FunctionType) or fn.__closure__:
        return None
    try:
        parts = [__version__, _fingerprint(), fn.__module__, fn.__qualname__, source_hash(fn),
                 repr(wrt), value, optimize, repr(kinds)]
    except (OSError, TypeError):
        return None
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _resolve(module: str, qualname: str) -> Any:
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def binding(obj: Any) -> list | None:
    """What a name meant, as far as the emitted code depends on it: the name of a module, the
    module, qualified name and source of a function, the name of a ufunc, the kind of a datum
    (read at each call); None when it cannot be told again in another process."""
    if obj is MISSING_GLOBAL:
        return None
    if isinstance(obj, types.ModuleType):
        return ["module", obj.__name__]
    if isinstance(obj, np.ufunc):
        return ["ufunc", obj.__name__]
    if is_data(obj):
        return ["data", repr(global_signature(obj))]
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not (isinstance(module, str) and isinstance(qualname, str)):
        return None
    if isinstance(obj, types.FunctionType):
        try:
            return ["function", module, qualname, source_hash(obj)]
        except (OSError, TypeError):
            return None
    return ["object", module, qualname]


def store_cached(key: str, compiled: Compiled, program: Program) -> None:
    """Keep `compiled` on disk when every name it reads can be checked in another process."""
    names = emit.free_names(compiled.source)
    bindings = [[getattr(owner, "__module__", None), dotted, binding(obj)]
                for owner, resolved in program.resolved for dotted, obj in sorted(resolved.items())]
    entry = {"source": compiled.source, "name": compiled.name, "wrt": list(compiled.wrt),
             "seed": compiled.seed,
             "depends": [[f.__module__, f.__qualname__, source_hash(f)]
                         for f in program.compiled],
             "bindings": bindings,
             "globals": {n: program.modules.get(n) for n in sorted(names)
                         if n in program.namespace and n not in BASE_NAMESPACE},
             "data": {n: repr(signature) for n, _, signature in compiled.data}}
    if any(m is None for m in entry["globals"].values()) or any(
            b is None or m is None for m, _, b in bindings):
        return  # a name whose meaning cannot be checked in another process: not kept
    folder = cache_dir()
    with contextlib.suppress(OSError):  # a cache that cannot be written is no cache
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".entry.")
        with os.fdopen(fd, "w") as fh:
            json.dump(entry, fh)
        os.replace(tmp, folder / f"{key}.json")
        evict(folder)


def load_cached(key: str | None) -> Compiled | None:
    """The entry `key` as live code, or None: none kept, or one compiled for other sources,
    other meanings of its names or global data of other kinds."""
    if key is None:
        return None
    try:
        path = cache_dir() / f"{key}.json"
        entry = json.loads(path.read_text())
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: the last to go
        depends = [_resolve(module, qualname) for module, qualname, _ in entry["depends"]]
        if any(source_hash(fn) != digest
               for fn, (_, _, digest) in zip(depends, entry["depends"], strict=True)):
            return None
        code = []
        for module, dotted, meant in entry["bindings"]:
            now = named_now(sys.modules.get(module), dotted)
            if binding(now) != meant:
                return None  # a name now means something else: compiled for other bindings
            if meant[0] != "data":
                code.append(code_entry(sys.modules[module], dotted, now))
            elif "." in dotted:  # an attribute holding data: checked for its kind
                code.append(code_entry(sys.modules[module], dotted,
                                       DataKind(global_signature(now))))
        namespace = dict(BASE_NAMESPACE)
        data = []
        for name, module in entry["globals"].items():
            namespace[name] = sys.modules[module].__dict__[name]
            if name in entry["data"]:
                signature = global_signature(namespace[name])
                if repr(signature) != entry["data"][name]:
                    return None  # compiled for a global of another kind
                data.append((name, sys.modules[module], signature))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    live = emit.load(entry["source"], dict(namespace), entry["name"])[entry["name"]]
    return Compiled(entry["source"], live, entry["name"], tuple(entry["wrt"]), namespace,
                    entry["seed"], tuple(data), tuple(code),
                    tuple(defaults_entry(fn) for fn in depends))


def source_hash(fn: Any) -> str:
    """A hash of the function's source text and of its defaults' values (a default names a
    module's constant the text does not show), recorded in generated files."""
    text, defaults = inspect.getsource(fn), parse_.defaults_key(fn)
    if defaults:
        text += repr(defaults)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
