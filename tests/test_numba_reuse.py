"""The abstract run of jit/reuse.py on a reversed loop as the reverse sweep emits it: where
the numba backend may skip an owned copy or make zeros in an array an earlier trip made, and
edits of the loop that must keep the copies and zeros."""

import re

import pytest

from adjoint.ir import Block, Line, Ref
from adjoint.ir import text as as_text

pytest.importorskip("numba")

from adjoint.jit.reuse import reuse  # noqa: E402


def _loop(text: str) -> list:
    """Emitted lines and blocks from indented text; `$x` is the name x."""

    def parts(line):
        out = []
        for chunk in re.split(r"(\$\w+)", line):
            if chunk.startswith("$"):
                out.append(Ref(chunk[1:]))
            else:
                out += [c for c in re.split(r"(runtime)(?=\.(?!copy))", chunk) if c]
        return tuple(out)

    rows = [(len(r) - len(r.lstrip()), r.strip()) for r in text.strip("\n").splitlines()]

    def block(k, indent):
        body = []
        while k < len(rows) and rows[k][0] == indent:
            line = parts(rows[k][1])
            if rows[k][1].endswith(":"):
                inner, k = block(k + 1, rows[k + 1][0])
                body.append(Block(line, inner))
                continue
            binds = (line[0].name,) if isinstance(line[0], Ref) and len(line) > 1 and \
                line[1] in (" = ", " += ") else ()
            body.append(Line(line, binds))
            k += 1
        return body, k

    return block(0, 0)[0]


HEAT_REVERSE = """
for $t in runtime.backwards($R):
    $new_bar = $u_bar
    $new_bar = runtime.owned($new_bar, $new)
    $u_bar = runtime.zeros_like($u)
    for $i in runtime.backwards($S):
        $g = runtime.copy($new_bar[$i])
        $new_bar[$i] = 0.0
        $u_bar[$i - 1] += $g
    $u_bar += $new_bar
"""


@pytest.mark.parametrize("case, edit, reused", [
    ("as emitted", ("", ""), (True, True)),
    ("pushed to a tape", ("    $u_bar += $new_bar", "    runtime.tape_put($T, $k, $new_bar)"),
     (False, False)),
    ("bound to another name inside", ("        $new_bar[$i] = 0.0", "        $z = $new_bar"),
     (False, False)),
    ("read whole by a helper", ("    $u_bar += $new_bar",
                                "    $h = runtime.unbroadcast($new_bar, $x)"), (False, False)),
    ("bound under an if", ("    $u_bar += $new_bar",
                           "    if $c:\n        $u_bar = runtime.zeros_like($u)"), (False, False)),
    ("left by continue", ("    $u_bar += $new_bar", "    if $c:\n        continue"),
     (False, False)),
    ("returning", ("        $new_bar[$i] = 0.0", "        return $g"), (False, False)),
    ("held past the loop", ("    $new_bar = $u_bar", "    $keep = $u_bar"), (False, True)),
    ("kept a trip longer", ("for $t in runtime.backwards($R):", "    $last = $new_bar"),
     (True, False)),
])
def test_arrays_are_reused_only_where_nothing_else_reads_them(case, edit, reused):
    """The abstract run of jit/reuse.py on a loop as the reverse sweep emits it, and edits
    that keep (some of) the copies and zeros: an array another name holds and reads later,
    or a loop whose statements may not all run."""
    before, after = edit
    code = HEAT_REVERSE.replace(before, f"{before}\n{after}" if before else "", 1)
    taken: set = set()
    out = reuse(_loop(code), lambda base: base, taken)

    def lines(body):
        for item in body:
            yield as_text(item.head if hasattr(item, "head") else item.parts)
            for inner in (item.bodies() if hasattr(item, "bodies") else []):
                yield from lines(inner)

    emitted = "\n".join(lines(out))
    assert ("owned_unless(new_bar, new, t_later)" in emitted) == reused[0], emitted
    assert ("zeros_into(u_bar_buffer, u)" in emitted) == reused[1], emitted
