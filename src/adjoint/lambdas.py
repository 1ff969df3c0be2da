"""lambdas: a lambda's own source, found in its file by its code object (the line it
starts on, its parameters and, where Python records them, the columns of its
instructions; else the names, constants and bytecode its body reads)."""

from __future__ import annotations

import ast
import functools
import inspect
import types

from .errors import ApiError

LAMBDA_NAME = "lambda"  # the name of a lambda not assigned to a name: grad_lambda, lambda_bar



def _lambda_source(fn: types.FunctionType) -> tuple[str, list[str]]:
    """The file of a lambda and its lines."""
    code = fn.__code__
    try:
        lines, _ = inspect.findsource(fn)
        filename = inspect.getsourcefile(fn) or code.co_filename
    except (OSError, TypeError) as exc:
        raise ApiError(f"cannot read the source of the lambda at {code.co_filename}:"
                       f"{code.co_firstlineno} ({exc}); adjoint needs a lambda written in a "
                       "file or registered in linecache") from None
    return filename, lines


def _find_lambda(code: types.CodeType, filename: str, text: str) -> tuple[ast.Lambda, str]:
    """The lambda expression whose code is `code`, and the name it is assigned to: of the
    lambdas on the line it starts on with its parameters, the innermost whose body holds the
    places of all its instructions; without those places (Python 3.10, -X no_debug_ranges),
    the one whose body, compiled alone, reads the names and constants its code reads (and,
    of several, the one with its bytecode)."""
    line = code.co_firstlineno
    candidates = [c for c in _lambdas(filename, text).get(line, ())
                  if _params(c[0]) == _code_params(code)]
    places = _places(code)
    held = [c for c in candidates if all(_holds(c[0].body, p) for p in places)]
    if len(candidates) > 1 and places and held:
        candidates = sorted(held, key=lambda c: (c[0].lineno, c[0].col_offset))[-1:]
    if len(candidates) > 1:
        alone = [(c, _alone(c[0], code, filename)) for c in candidates]
        same = [(c, a) for c, a in alone if a is not None and _reads(a) == _reads(code)]
        # the bytecode settles a tie where it is the same compiled alone as in the file (not
        # always: Python 3.11 loads a method of a module the file imports differently)
        exact = [c for c, a in same if a.co_code == code.co_code]
        candidates = exact if len(exact) == 1 else [c for c, _ in same] or candidates
        if len({ast.dump(c[0]) for c in candidates}) == 1:  # the same text: either will do
            candidates = candidates[:1]
    if not candidates:
        raise ApiError(f"could not find the lambda of {filename}:{line} with parameters "
                       f"({', '.join(_code_params(code))}) in its source; was the file "
                       "changed since it was imported?")
    if len(candidates) > 1:
        raise ApiError(
            f"cannot tell apart the {len(candidates)} lambdas with parameters "
            f"({', '.join(_code_params(code))}) on line {line} of {filename}: this Python "
            "records only the line a lambda starts on, and their bodies read the same names "
            "and constants (and their bytecode tells nothing); put each on a line of its own, "
            "or write them as defs")
    return candidates[0]


@functools.lru_cache(maxsize=8)
def _lambdas(filename: str, text: str) -> dict[int, list[tuple[ast.Lambda, str]]]:
    """The lambdas of a file by the line they start on, each with the name it is assigned
    to (`name = lambda ...`, `name: T = lambda ...`, `(name := lambda ...)`) or `lambda`."""
    try:
        tree = ast.parse(text, filename)
    except (SyntaxError, ValueError) as exc:
        raise ApiError(f"cannot parse {filename} to find a lambda in it ({exc}); was the file "
                       "changed since it was imported?") from None
    names: dict[int, str] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and len(n.targets) == 1:
            target = n.targets[0]
        elif isinstance(n, (ast.AnnAssign, ast.NamedExpr)):
            target = n.target
        else:
            continue
        if isinstance(n.value, ast.Lambda) and isinstance(target, ast.Name):
            names[id(n.value)] = target.id
    out: dict[int, list] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Lambda):
            out.setdefault(n.lineno, []).append((n, names.get(id(n), LAMBDA_NAME)))
    return out


def _params(node: ast.Lambda) -> tuple[str, ...]:
    """The parameter names of a lambda, in the order of its code's co_varnames."""
    a = node.args
    return tuple(p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs,
                                 *([a.vararg] if a.vararg else []),
                                 *([a.kwarg] if a.kwarg else [])))


def _code_params(code: types.CodeType) -> tuple[str, ...]:
    n = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & inspect.CO_VARARGS) \
        + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    return tuple(code.co_varnames[:n])


def _places(code: types.CodeType) -> list[tuple[int, int, int, int]]:
    """The places in the file of the code's instructions, where Python records them
    (empty ones, such as the lambda's own RESUME and RETURN, left out)."""
    positions = getattr(code, "co_positions", None)
    if positions is None:
        return []
    return [p for p in positions() if None not in p and (p[0], p[2]) != (p[1], p[3])]


def _holds(node: ast.AST, place: tuple[int, int, int, int]) -> bool:
    line, end_line, col, end_col = place
    return (node.lineno, node.col_offset) <= (line, col) and (end_line, end_col) <= (
        node.end_lineno, node.end_col_offset)


def _alone(node: ast.Lambda, code: types.CodeType, filename: str) -> types.CodeType | None:
    """The code of the lambda expression compiled on its own, its free variables cells of an
    enclosing function as in the original; None where it does not compile."""
    free = [ast.arg(v) for v in code.co_freevars]
    args = ast.arguments(posonlyargs=[], args=free, vararg=None, kwonlyargs=[],
                         kw_defaults=[], kwarg=None, defaults=[])
    outer = ast.FunctionDef(name="outer", args=args, body=[ast.Return(node)],
                            decorator_list=[], returns=None, type_comment=None)
    if "type_params" in ast.FunctionDef._fields:  # Python 3.12+
        outer.type_params = []
    try:
        module = compile(ast.fix_missing_locations(ast.Module([outer], [])), filename, "exec")
    except (SyntaxError, ValueError, TypeError):
        return None
    inner = [c for f in module.co_consts if isinstance(f, types.CodeType)
             for c in f.co_consts if isinstance(c, types.CodeType) and c.co_name == "<lambda>"]
    return inner[0] if inner else None


def _reads(code: types.CodeType) -> tuple:
    """The names and constants a code reads, in order, its nested functions' too (not their
    qualified names, which Python 3.10 keeps among the constants)."""
    return (code.co_names, code.co_varnames, code.co_freevars, tuple(
        _reads(k) if isinstance(k, types.CodeType) else repr(k) for k in code.co_consts
        if not (isinstance(k, str) and k.endswith(">") and "<locals>" in k)))
