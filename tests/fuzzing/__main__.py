"""A long random-program campaign: `make fuzz` (or `python -m fuzzing` with tests/ on the path).

Checks FUZZ_PROGRAMS random programs (default 3000), or as many as fit in FUZZ_SECONDS, in
batches of hypothesis runs seeded from FUZZ_SEED. Every program counts; the first program
of each new kind of failure is shrunk by hypothesis (for up to FUZZ_SHRINK_SECONDS) and
printed. The line before the last counts the programs each extra check ran on (autograd,
float32, rebinds); the last reads `fuzz: N programs checked, K wrong gradients, E errors,
X escaped` (escaped: exceptions other than AdjointError from inside adjoint); the exit
status is 1 if any program failed.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import time

from hypothesis import HealthCheck, Phase, given, seed, settings

from .check import Outcome, check
from .generate import Program, own_constants, programs

BATCH = 50


class Found(Exception):
    def __init__(self, program: Program, outcome: Outcome):
        super().__init__(f"{outcome.signature}\n{program!r}\n{outcome.message}")
        self.program, self.outcome = program, outcome


def batch(number: int, size: int, counts: dict, known: dict, shrink_seconds: float,
          notes: dict) -> None:
    """Check `size` programs, counting outcomes in `counts` and failures by signature in
    `known`; shrink the first failure of a signature not seen before, and print it."""
    state = {"target": None, "until": 0.0}
    failed: dict[str, Outcome] = {}  # while shrinking: outcomes by program

    @seed(number)
    @settings(max_examples=size, deadline=None, database=None, report_multiple_bugs=False,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(programs())
    def run(program: Program) -> None:
        faulthandler.dump_traceback_later(300)  # show where a program took over 5 minutes
        shrinking = state["target"] is not None
        if shrinking and time.monotonic() > state["until"]:
            # out of time: only programs already seen fail, so hypothesis stops soon
            outcome = failed.get(repr(program), Outcome("ok"))
        else:
            outcome = check(program, seconds=5 if shrinking else 30)
        if not shrinking:
            counts[outcome.kind] += 1
            for note in outcome.notes:
                notes[note] = notes.get(note, 0) + 1
            if outcome.kind != "ok":
                if outcome.signature not in known:
                    state["target"] = outcome.signature  # shrink this one
                    state["until"] = time.monotonic() + shrink_seconds
                known[outcome.signature] = known.get(outcome.signature, 0) + 1
        if outcome.kind != "ok" and outcome.signature == state["target"]:
            failed[repr(program)] = outcome
            raise Found(program, outcome)  # one place: hypothesis tells bugs by it

    try:
        run()
    except Found as found:
        print(f"\n---- failure {len(known)}: {found.outcome.signature}")
        print(repr(found.program))
        print(found.outcome.message[:3000], flush=True)
    except Exception as e:  # noqa: BLE001 - a flaky shrink loses the example, not the count
        print(f"\n---- failure {len(known)} (not shrunk: {type(e).__name__})\n{e}"[:4000],
              flush=True)


def campaign(total: int, seconds: float, first_seed: int, shrink_seconds: float) -> int:
    # hypothesis has no public limit on shrinking time (its own is 5 minutes)
    from hypothesis.internal.conjecture import engine
    if hasattr(engine, "MAX_SHRINKING_SECONDS"):
        engine.MAX_SHRINKING_SECONDS = shrink_seconds
    counts = {"ok": 0, "wrong": 0, "error": 0, "escaped": 0}
    notes: dict[str, int] = {}  # extra checks -> programs they ran on
    known: dict[str, int] = {}  # signature -> programs that failed that way
    start = time.monotonic()
    number = first_seed
    while sum(counts.values()) < total and time.monotonic() - start < seconds:
        batch(number, min(BATCH, total - sum(counts.values())), counts, known, shrink_seconds,
              notes)
        number += 1
        print(f"[{time.monotonic() - start:7.0f} s] {sum(counts.values())} programs, "
              f"{counts['wrong']} wrong, {counts['error']} errors, {counts['escaped']} escaped",
              file=sys.stderr, flush=True)
    faulthandler.cancel_dump_traceback_later()
    if known:
        print("\nfailures by kind:")
        for sig, n in sorted(known.items(), key=lambda kv: -kv[1]):
            print(f"  {n:5d}  {sig}")
    print("extra checks: " + ", ".join(f"{k} on {v}" for k, v in sorted(notes.items())))
    print(f"fuzz: {sum(counts.values())} programs checked, {counts['wrong']} wrong gradients, "
          f"{counts['error']} errors, {counts['escaped']} escaped")
    return 1 if known else 0


if __name__ == "__main__":
    with own_constants():  # a seed writes the same programs whatever adjoint's source
        code = campaign(int(os.environ.get("FUZZ_PROGRAMS", "3000")),
                        float(os.environ.get("FUZZ_SECONDS", "inf")),
                        int(os.environ.get("FUZZ_SEED", "0")),
                        float(os.environ.get("FUZZ_SHRINK_SECONDS", "120")))
    sys.exit(code)
