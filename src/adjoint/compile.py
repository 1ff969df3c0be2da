"""compile: emitted functions to source text, and source text to live functions.

The source is registered in linecache under a name derived from its hash, so
`inspect.getsource`, tracebacks and pdb show the emitted lines: what you
inspect is what runs. Before compiling, the text is checked: it must re-parse,
and every name it reads must be bound (an emitter bug becomes an
`InternalError`, not a `NameError` at run time).
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import linecache

from .errors import InternalError
from .ir import Block, Emitted, read_refs, text

INDENT = "    "


def to_source(functions: list[Emitted]) -> str:
    """The text of emitted functions, one after another."""
    chunks = []
    for fn in functions:
        if isinstance(fn, str):  # a function kept as written (a lifted nested def)
            chunks.append(fn)
            continue
        check_emitted(fn)
        out = [f"def {fn.name}({fn.params}):", *_body(fn.body, 1)]
        chunks.append("\n".join(out) + "\n")
    return "\n\n".join(chunks)


def _body(items: list, depth: int) -> list[str]:
    pad = INDENT * depth
    out = []
    for item in items:
        if isinstance(item, Block):
            out.append(pad + text(item.head))
            out += _body(item.body, depth + 1) or [pad + INDENT + "pass"]
            if item.orelse:
                out.append(pad + "else:")
                out += _body(item.orelse, depth + 1)
            handled = any(c.head[0] == "except" for c in item.clauses)
            for clause in item.clauses:
                if not clause.body and (handled or clause.head == ("else:",)):
                    continue  # an empty else or finally says nothing
                out.append(pad + text(clause.head))
                out += _body(clause.body, depth + 1) or [pad + INDENT + "pass"]
        else:
            out.append(pad + text(item.parts))
    return out


def check(source: str, namespace: dict) -> None:
    """Refuse emitted code that does not parse or reads a name nothing binds."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise InternalError(f"emitted code does not parse ({exc}):\n{source}") from None
    top = top_level(tree)
    for fn, node in _unbound_reads(tree):
        if node.id not in namespace and node.id not in top:
            raise InternalError(
                f"emitted code reads {node.id!r}, which nothing defines (line "
                f"{node.lineno} of the emitted {fn.name}); this is a bug in adjoint:\n"
                + source)


def _unbound_reads(tree: ast.Module):
    """(function, Name node) for each name a top-level function reads that neither it
    nor builtins bind."""
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        bound = {a.arg for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs}
        bound |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif isinstance(node, ast.ExceptHandler) and node.name:  # except E as err
                bound.add(node.name)
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and \
                    node.id not in bound and not hasattr(builtins, node.id):
                yield fn, node


def check_emitted(fn: Emitted) -> None:
    """Every name the emitter introduced (adjoints, stacks, temporaries) is bound on every
    path before it is read; names of the user's code follow the user's own structure.
    A loop body is checked as its first trip: what it reads before binding must be bound
    before the loop."""
    params = {p.strip().split("=")[0].strip("* ") for p in fn.params.split(",")}

    def block(items: list, bound: set) -> set:
        """The names surely bound after `items`; `bound` is updated in place."""
        for item in items:
            if isinstance(item, Block):
                head = item.head
                need(head, (), bound | set(item.binds), item)
                if item.kind == "try":
                    bound |= tried(item, bound)
                elif item.kind == "with":
                    bound |= block(item.body, bound | set(item.binds))
                elif item.target:
                    inner = block(item.body, bound | {item.target})
                    bound |= inner - {item.target}
                elif item.kind == "while":
                    bound |= block(item.body, set(bound))
                else:
                    both = block(item.body, set(bound)) & block(item.orelse, set(bound))
                    bound |= both
            elif not item.comment:
                need(item.parts, item.binds, bound, item)
                bound.update(item.binds)
        return bound

    def tried(item: Block, bound: set) -> set:
        """After a try: what every way through it binds (a handler may start anywhere in the
        body: it sees only what was bound before it)."""
        ways = [block(item.body, set(bound))]
        for clause in item.clauses:
            need(clause.head, (), bound | set(clause.binds), item)
            if clause.head == ("else:",):
                ways[0] = block(clause.body, ways[0])
            elif clause.head == ("finally:",):
                return block(clause.body, set.intersection(*ways))
            else:
                ways.append(block(clause.body, bound | set(clause.binds)))
        return set.intersection(*ways)

    def need(parts, binds, bound: set, item) -> None:
        for p in read_refs(parts, binds):
            if p.name in fn.primal or p.name in bound:
                continue
            raise InternalError(
                f"emitted {fn.name} reads {p.name} where it may not be bound:\n    "
                f"{text(item.head if isinstance(item, Block) else item.parts)}\n"
                "this is a bug in adjoint")

    block(fn.body, set(params))


def top_level(tree: ast.Module) -> set[str]:
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def load(source: str, namespace: dict, label: str) -> dict:
    """Compile and run emitted source in `namespace`; returns the namespace."""
    check(source, namespace)
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    filename = f"<adjoint {label} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    exec(code, namespace)
    return namespace


LITERALS = (int, float, complex, str, bytes, bool, type(None))


def _literal(value) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_literal(v) for v in value)
    return isinstance(value, LITERALS)


def import_lines(namespace: dict, user_module: str | None) -> list[str]:
    """The imports that give emitted code the names it reads, as the user's module spelled
    them: modules, library functions, literal constants, and the rest from the user's module."""
    import importlib
    import types

    lines: list[str] = []
    for name in sorted(namespace):
        obj = namespace[name]
        if name == "runtime":
            lines.append("from adjoint import runtime")
        elif isinstance(obj, types.ModuleType):
            module = obj.__name__
            if module == name:
                lines.append(f"import {module}")
            elif "." in module and module.rsplit(".", 1)[1] == name:
                parent, child = module.rsplit(".", 1)
                lines.append(f"from {parent} import {child}")
            else:
                lines.append(f"import {module} as {name}")
        elif _literal(obj):
            lines.append(f"{name} = {obj!r}")
        else:
            module = getattr(obj, "__module__", None)
            qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
            found = None
            if module and qual and "." not in qual and module != user_module:
                try:
                    found = getattr(importlib.import_module(module), qual, None)
                except ImportError:
                    found = None
            if found is obj:
                alias = "" if qual == name else f" as {name}"
                lines.append(f"from {_public(module, qual, obj)} import {qual}{alias}")
            elif user_module:
                lines.append(f"from {user_module} import {name}")
            else:
                raise InternalError(f"cannot write an import for {name} ({obj!r})")
    return _grouped(lines, user_module)


def _grouped(lines: list[str], user_module: str | None) -> list[str]:
    """Imports in groups: standard library, third party, adjoint, the user's module;
    then constants."""
    import sys

    def group(line: str) -> int:
        if not line.startswith(("import ", "from ")):
            return 4
        top = line.split()[1].split(".")[0]
        if top == "adjoint":
            return 2
        if user_module and top == user_module.split(".")[0]:
            return 3
        return 0 if top in sys.stdlib_module_names else 1

    out: list[str] = []
    for k in range(5):
        chunk = sorted(line for line in lines if group(line) == k)
        if chunk:
            out += ([""] if out else []) + chunk
    return out


def _public(module: str, qual: str, obj) -> str:
    """numpy._core.fromnumeric -> numpy, when the object is reachable from the package."""
    import importlib

    parts = module.split(".")
    for k in range(1, len(parts) + 1):
        candidate = ".".join(parts[:k])
        try:
            if getattr(importlib.import_module(candidate), qual, None) is obj:
                return candidate
        except ImportError:
            continue
    return module


def free_names(source: str) -> set[str]:
    """Names the functions in `source` read but do not bind."""
    tree = ast.parse(source)
    return {node.id for _, node in _unbound_reads(tree)} - top_level(tree)
