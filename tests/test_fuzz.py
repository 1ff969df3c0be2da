"""Random programs in the supported language against central differences (tests/fuzzing).

A fixed, derandomized sample keeps CI reproducible; `make fuzz` runs a long campaign.
"""

import numpy as np
from fuzzing.check import check
from fuzzing.generate import Probe, Program, programs, run_probe
from hypothesis import HealthCheck, Phase, given, settings

import adjoint
from adjoint import rules

# no shrinking in CI: the failing program is in the message, and make fuzz shrinks
CI = settings(max_examples=120, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


@CI
@given(programs())
def test_random_program(program):
    outcome = check(program)
    assert outcome.kind == "ok", f"{outcome.message}\n{program!r}"


def test_programs_cover_the_language():
    """The generator writes each construct it is meant to (over a fixed sample)."""
    seen = []

    @settings(CI, max_examples=400)
    @given(programs())
    def collect(program):
        seen.append(program.source)

    collect()
    text = "\n".join(seen)
    for construct in ["for i", "for t", "enumerate(", "while ", "if ", "else:", "elif ",
                      "break", "continue", "def h", ", p", ".append(", "] = ", " += ",
                      "np.zeros", ".copy()", "len(", ".shape[", " @ ", "np.maximum(", "abs(",
                      " if ", " else ", "math.", "sum(", " for ", " in (", " not in (", " and ",
                      " or ", "not ", '= {"', 'P["', ".items()", ".values()", ".keys()"]:
        assert construct in text, construct


def test_probe_chooses_constants_away_from_the_value():
    probe = Probe()
    assert probe.cmp(1, 2.0, ">", 0.5, True) is False  # C = 2 + 0.5 * 3 = 3.5
    assert probe.consts[1] == 3.5 and probe.margin == 1.5
    probe.gap(2, np.array([1.0, -0.25]), 0.0)
    assert probe.margin == 0.25
    assert Probe(probe.consts).cmp(1, 4.0, ">", 0.5, True) is True


def test_kinks_are_rejected_near_their_switch():
    src = "def f(x):\n    return np.sum(abs(_P.gap(1, x, 0.0)))\n"
    assert run_probe(src, [np.array([1e-5, 1.0])]).margin < 1e-3


def wrong_sin(x):
    return np.sin(x)


def test_a_wrong_gradient_is_caught():
    """The checker itself: a wrong gradient is reported, not passed."""
    adjoint.register(wrong_sin, x="g * np.sin(x)")  # should be cos: wrong on purpose
    try:
        src = "def f(x):\n    return np.sum(wrong_sin(x) * x)\n"
        x = np.array([0.3, -1.2])
        program = Program(src, [x], ("x",), float(np.sum(np.sin(x) * x)),
                          namespace={"wrong_sin": wrong_sin})
        outcome = check(program)
    finally:
        rules.RULES.pop(wrong_sin, None)
    assert outcome.kind == "wrong" and "central differences" in outcome.message
