"""The passes of the numba backend over reversed loops as the reverse sweep emits them: the
abstract run of jit/reuse.py (where an owned copy may be skipped, or zeros made in an array
an earlier trip made) and jit/spread.py (a number's adjoint summed per inner index), each on
the loop as emitted and on edits of it that must keep the loop as it is."""

import re

import pytest

from adjoint.ir import Block, Line, Ref
from adjoint.ir import text as as_text

pytest.importorskip("numba")

from adjoint.jit.reuse import reuse  # noqa: E402
from adjoint.jit.spread import spread  # noqa: E402


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
    emitted = "\n".join(_lines(out))
    assert ("owned_unless(new_bar, new, t_later)" in emitted) == reused[0], emitted
    assert ("zeros_into(u_bar_buffer, u)" in emitted) == reused[1], emitted


def _lines(body):
    for item in body:
        yield as_text(item.head if hasattr(item, "head") else item.parts)
        for inner in (item.bodies() if hasattr(item, "bodies") else []):
            yield from _lines(inner)


NEST_REVERSE = """
$k_bar = runtime.zeros_like($k)
for $t in runtime.backwards(range(0, $R.stop)):
    $u_bar = runtime.zeros_like($u)
    for $i in runtime.backwards(range(1, $S.stop)):
        $g = runtime.copy($new_bar[$i])
        $k_bar += $g * $d
        $u_bar[$i - 1] += $g * $k
    $k_bar += $c
"""


@pytest.mark.parametrize("case, edit, spread_", [
    ("as emitted", ("", ""), True),
    ("subtracted", ("$k_bar += $g * $d", "$k_bar -= $g * $d"), True),
    ("read in the inner loop", ("$k_bar += $g * $d", "$k_bar += $g * $d\n        $h = $k_bar"),
     False),
    ("read in the outer loop", ("$k_bar += $c", "$h = $k_bar"), False),
    ("rebound in the outer loop", ("$k_bar += $c", "$k_bar = $k_bar + $c"), False),
    ("added to itself", ("$k_bar += $g * $d", "$k_bar += $k_bar * $d"), False),
    ("returning", ("$k_bar += $g * $d", "$k_bar += $g * $d\n        return $g"), False),
    ("the index rebound", ("$k_bar += $g * $d", "$k_bar += $g * $d\n        $i = $j"), False),
    ("a start that is not a literal", ("range(1, $S", "range($a, $S"), False),
    ("a start of 0", ("range(1, $S", "range(0, $S"), True),
])
def test_a_number_adjoint_is_spread_per_inner_index_only_where_the_nest_only_adds_to_it(
        case, edit, spread_):
    """jit/spread.py on a nest of reversed loops adding into the adjoint of a number read by
    every trip (k), and edits that read, rebind or leave it; the adds of the outer loop stay
    as they are, and the per-index sums are added once, after the outer loop."""
    code = NEST_REVERSE.replace(*edit, 1) if edit[0] else NEST_REVERSE
    out = spread(_loop(code), frozenset({"k_bar"}), lambda base: base, set())
    emitted = "\n".join(_lines(out))
    start = 0 if "range(0, $S" in code else 1
    index = "[i - 1]" if start else "[i]"
    expected = [
        "k_bar_per_i = runtime.sums_like(k_bar)",
        f"if len(k_bar_per_i) < S.stop{' - 1' if start else ''}:",
        f"k_bar_per_i = runtime.room(k_bar_per_i, S.stop{' - 1' if start else ''})",
        f"k_bar_per_i{index} {'-' if 'subtracted' in case else '+'}= g * d",
        "k_bar += c",  # an add of the outer loop stays
        "k_bar += runtime.total(k_bar_per_i)"]
    assert all(e in emitted for e in expected) == spread_, emitted
    assert ("k_bar_per_i" in emitted) == spread_, emitted
    if spread_:  # the total after the loop, the sums made before it
        lines = emitted.splitlines()
        assert lines.index("k_bar_per_i = runtime.sums_like(k_bar)") < lines.index(
            next(line for line in lines if line.startswith("for t in"))) < lines.index(
            "k_bar += runtime.total(k_bar_per_i)")
