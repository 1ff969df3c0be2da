"""data: module-level data the njit functions read, passed to them as arguments.

numba compiles a global number or array into the machine code as a constant (and its disk
cache keeps that code across processes), so a gradient reading `K` or `W` from the user's
module would go on computing with the values of its first compile. Here each njit function
that reads such a name, or calls one that does, takes it as a parameter of the same name
after its own, and each call passes it on: the Python wrapper reads it from its module at
each call (api refreshes that module's values from the user's, as for the NumPy backend),
so a rebound or changed global is the value the gradient computes with, as in Python.

A module attribute holding data (`cfg.scale`, `cfg.W[i]`) is such a name too: in the njit
functions it is a parameter named after it (`cfg_scale`), and the wrapper passes
`cfg.scale`, read as it runs. (A library's constants, `np.pi`, are compiled in.)
"""

from __future__ import annotations

import ast

import libcst as cst

from .. import compile as emit
from .refusals import NumbaUnsupported


def pass_data(code: str, data: set[str], owner: str, dotted: frozenset = frozenset()) -> str:
    """`code` (njit functions and their Python wrappers) with the names in `data` that its
    njit functions read, themselves or through the njit functions they call, made their
    parameters, and each call of such a function passing them; the module attributes in
    `dotted` ('cfg.scale') likewise, under names of their own."""
    module = cst.parse_module(code)
    defs = {d.name.value: d for d in module.body if isinstance(d, cst.FunctionDef)}
    jitted = {n for n, d in defs.items() if d.decorators}
    aliases = _aliases(module, dotted)
    if aliases:
        module = module.visit(_Naming({v: k for k, v in aliases.items()}, jitted))
        defs = {d.name.value: d for d in module.body if isinstance(d, cst.FunctionDef)}
        data = set(data) | set(aliases)
    reads = {n: emit.free_names(module.code_for_node(d)) for n, d in defs.items()}
    needs = {n: reads[n] & data if n in jitted else set() for n in defs}
    changed = True
    while changed:  # what a function's callees need, it needs too (and passes on)
        changed = False
        for name in jitted:
            more = set().union(*(needs[c] for c in reads[name] & jitted)) - needs[name]
            if more:
                needs[name] |= more
                changed = True
    if not any(needs.values()):
        return code
    for name, need in needs.items():
        clash = sorted((need - reads[name]) & _bound(module.code_for_node(defs[name])))
        if clash:
            raise NumbaUnsupported(
                f"the numba backend cannot compile the gradient of {owner}: its module-level "
                f"{clash[0]} has the name of a variable of the code that calls a function "
                "reading it; rename one of them")
    return module.visit(_Passing({n: sorted(v) for n, v in needs.items() if v}, jitted,
                                 aliases)).code


def _aliases(module: cst.Module, dotted: frozenset) -> dict[str, str]:
    """{parameter name: 'cfg.scale'} of the module attributes the code reads, each named
    after its attribute (cfg_scale) apart from every name of the code."""
    taken = {n.value for n in _names(module)}
    out: dict[str, str] = {}
    for d in sorted(dotted):
        name = base = d.replace(".", "_")
        k = 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        out[name] = d
    return out


def _names(node: cst.CSTNode):
    if isinstance(node, cst.Name):
        yield node
    for child in node.children:
        yield from _names(child)


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr.value}"
    return None


class _Naming(cst.CSTTransformer):
    """In the njit functions, each read of a module attribute made the name standing for it."""

    def __init__(self, names: dict[str, str], jitted: set[str]):
        super().__init__()
        self.names = names  # 'cfg.scale' -> cfg_scale
        self.jitted = jitted
        self.inside: list[bool] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.inside.append(node.name.value in self.jitted)
        return True

    def leave_FunctionDef(self, original, updated):
        self.inside.pop()
        return updated

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
        name = self.names.get(_dotted(original) or "")
        if name is None or not (self.inside and self.inside[-1]):
            return updated
        return cst.Name(name)


class _Passing(cst.CSTTransformer):
    """Append the data parameters to each njit function that needs them, and the data
    arguments to each call of one."""

    def __init__(self, needs: dict[str, list[str]], jitted: set[str],
                 aliases: dict[str, str]):
        super().__init__()
        self.needs = needs
        self.jitted = jitted
        self.aliases = aliases  # cfg_scale -> 'cfg.scale': what a wrapper passes for it
        self.inside: list[bool] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.inside.append(node.name.value in self.jitted)
        return True

    def leave_FunctionDef(self, original: cst.FunctionDef,
                          updated: cst.FunctionDef) -> cst.FunctionDef:
        self.inside.pop()
        name = original.name.value
        if name not in self.jitted or name not in self.needs:
            return updated
        params = [*updated.params.params, *(cst.Param(cst.Name(n)) for n in self.needs[name])]
        return updated.with_changes(params=updated.params.with_changes(params=params))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        func = original.func
        if not isinstance(func, cst.Name) or func.value not in self.needs:
            return updated
        wrapper = not (self.inside and self.inside[-1])  # reads cfg.scale as it runs
        args = [*updated.args, *(cst.Arg(cst.parse_expression(self.aliases[n]) if wrapper and
                                         n in self.aliases else cst.Name(n))
                                 for n in self.needs[func.value])]
        if len(updated.args) and updated.args[-1].comma is cst.MaybeSentinel.DEFAULT:
            args[len(updated.args) - 1] = updated.args[-1].with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        return updated.with_changes(args=args)


def _bound(source: str) -> set[str]:
    """The names a function's code binds: its parameters and the targets it assigns."""
    tree = ast.parse(source)
    return {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)} | {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
