"""The rules command: the functions adjoint can differentiate, as text or markdown."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import click

from .. import rules as rules_

PASSIVE_NOTE = "passive (no gradient)"
GROUPS = ["np", "np.linalg", "np.fft", "np.random", "math", "builtins", "operator", "adjoint"]


def display_name(fn: Any) -> str:
    """How the listing names a function: as messages do, or as adjoint.NAME for adjoint's own."""
    name = rules_.name_of(fn)
    if getattr(fn, "__module__", "").startswith("adjoint.") and \
            getattr(importlib.import_module("adjoint"), fn.__name__, None) is fn:
        return f"adjoint.{fn.__name__}"
    return name


SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
           "pow": "**", "matmul": "@", "neg": "-x", "pos": "+x", "lt": "<", "le": "<=",
           "gt": ">", "ge": ">=", "eq": "==", "ne": "!=", "not_": "not", "and_": "&",
           "or_": "|", "invert": "~", "is_": "is", "is_not": "is not", "contains": "in"}


@dataclass
class RuleRow:
    """One function of the listing."""

    name: str  # as in messages: np.sin, math.exp, operator.mul
    what: str  # the parameters a gradient flows through, or PASSIVE_NOTE
    symbol: str = ""  # an operator's spelling: *

    @property
    def passive(self) -> bool:
        return self.what == PASSIVE_NOTE


def rule_rows() -> dict[str, list[RuleRow]]:
    """group -> its rows, from the rule table; passive wins, as in the compiler."""
    rules_.load_optional(import_=True)  # list scipy.special's rules when SciPy is installed
    rows: dict[str, str] = {}
    for fn, formulas in rules_.RULES.items():
        rows[display_name(fn)] = ", ".join(formulas)
    for fn in rules_.PASSIVE:
        if not getattr(fn, "__name__", "").startswith("_"):  # (the runtime's own queries)
            rows[display_name(fn)] = PASSIVE_NOTE
    groups: dict[str, list[RuleRow]] = {}
    for name, what in rows.items():
        group, _, short = name.rpartition(".")
        symbol = SYMBOLS.get(short, "") if group == "operator" else ""
        groups.setdefault(group or "builtins", []).append(RuleRow(name, what, symbol))
    order = sorted(groups, key=lambda g: (GROUPS.index(g) if g in GROUPS else len(GROUPS), g))
    return {g: sorted(groups[g], key=lambda r: r.name.lower()) for g in order}


def method_rows() -> list[tuple[str, str]]:
    """(form, what it stands for) of each method and attribute with a rule."""
    rows = [(f"x.{m}(...)", display_name(fn)) for m, fn in rules_.METHODS.items()]
    rows += [(f"x.{a}", display_name(fn)) for a, fn in rules_.ATTRS.items()]
    rows += [(f"x.{a}", PASSIVE_NOTE) for a in sorted(rules_.PASSIVE_ATTRS)]
    return sorted(rows)


GROUP_TITLES = {"np": "NumPy", "np.linalg": "numpy.linalg", "math": "math",
                "builtins": "Built-in functions", "operator": "Operators (and operator.*)"}
# a paragraph under a group's title, where its rules need more than the parameters' names
GROUP_NOTES = {
    "scipy.integrate": (
        "Differentiated by the adjoint-state method: the forward sweep calls the solver as "
        "written, the reverse sweep solves the adjoint ODE backward in time (rtol 1e-10) along "
        "a dense forward solution, the right-hand side's vector-Jacobian products computed by "
        "adjoint. The right-hand side is a function defined at module level; `args` holds its "
        "parameters (numbers, arrays, containers and records of them). Of solve_ivp's result, "
        "`sol.y` carries the derivative; `sol.t` is taken as fixed. Refused: solve_ivp's "
        "`t_span` or `t_eval` carrying a derivative, terminal events, `sol.sol`, "
        "`sol.t_events`, `sol.y_events`."),
}


def rules_markdown() -> str:
    """docs/rules.md: a table per group, then the methods and attributes."""
    out = ["# Supported functions", "",
           "<!-- Generated from adjoint's rule table by `adjoint rules --markdown` "
           "(`make docs`); do not edit. -->", "",
           "Calls to these functions can be differentiated, whatever name they were "
           "imported under. The second column names the parameters a gradient flows "
           "through; a passive function's result carries no gradient. Add your own with "
           "`adjoint.register(fn, x=\"g * ...\")`.", ""]
    for group, rows in rule_rows().items():
        out += [f"## {GROUP_TITLES.get(group, group)}", ""]
        out += [GROUP_NOTES[group], ""] if group in GROUP_NOTES else []
        out += ["| function | gradient with respect to |", "| --- | --- |"]
        for r in rows:
            symbol = r.symbol.replace("|", "\\|")  # a table cell
            name = f"`{r.name}`" + (f" (`{symbol}`)" if r.symbol else "")
            what = r.what if r.passive else ", ".join(f"`{p}`" for p in r.what.split(", "))
            out.append(f"| {name} | {what} |")
        out.append("")
    out += ["## Methods and attributes", "",
            "A method call or attribute uses the rule of the function it stands for.", "",
            "| form | same as |", "| --- | --- |"]
    out += [f"| `{form}` | {what if what == PASSIVE_NOTE else f'`{what}`'} |"
            for form, what in method_rows()]
    return "\n".join(out) + "\n"


def rules_text() -> str:
    """The plain listing: a line per function, a count at the end."""
    groups = rule_rows()
    names = {id(r): r.name + (f" ({r.symbol})" if r.symbol else "")
             for rows in groups.values() for r in rows}
    width = max(len(n) for n in names.values()) + 2
    out = []
    for group, rows in groups.items():
        out.append(f"{GROUP_TITLES.get(group, group)}:")
        out += [f"  {names[id(r)].ljust(width)}{r.what}" for r in rows]
    out.append("Methods and attributes:")
    out += [f"  {form.ljust(width)}{what}" for form, what in method_rows()]
    every = [r for rows in groups.values() for r in rows]
    out.append(f"{sum(not r.passive for r in every)} functions with derivative rules, "
               f"{sum(r.passive for r in every)} passive; add rules with "
               "adjoint.register(fn, x=\"g * ...\").")
    return "\n".join(out) + "\n"


@click.command()
@click.option("--markdown", is_flag=True, help="Print a markdown page (docs/rules.md).")
def rules(markdown: bool) -> None:
    """List the functions adjoint can differentiate, and the passive ones.

    The column after each name lists the parameters a gradient flows through.
    """
    click.echo(rules_markdown() if markdown else rules_text(), nl=False)
