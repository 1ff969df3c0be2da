"""Nothing but an AdjointError escapes adjoint: every program of the corpus (tests/programs.py)
and every sample (samples/SAMPLES) through adjoint.grad, with the optimizer on and off, ends
in a gradient or an AdjointError, never a KeyError, TypeError, IndentationError... from
inside adjoint or the code it emitted. (The random programs of tests/fuzzing count such an
exception as a failure of its own kind, "escaped".)"""

import importlib
from pathlib import Path

import numpy as np
import pytest
from conftest import make_function
from programs import PROGRAMS
from test_samples import manifest as samples  # also puts samples/ on sys.path

import adjoint


def only_adjoint_errors(f, wrt, args, optimize: bool) -> None:
    try:
        adjoint.grad(f, wrt=wrt, optimize=optimize)(*args)
    except adjoint.AdjointError:
        pass
    except Exception as e:  # noqa: BLE001 - what escaped is the failure
        pytest.fail(f"{type(e).__name__} escaped adjoint.grad: {e}")


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_corpus_program(program, optimize):
    f = make_function(program.src)
    args = program.args(np.random.default_rng(0))
    only_adjoint_errors(f, program.wrt, args, optimize)


@pytest.mark.parametrize("file,func,wrt", list(samples()))
def test_sample(file, func, wrt, optimize):
    module = importlib.import_module(Path(file).stem)
    only_adjoint_errors(getattr(module, func), wrt, module.example(), optimize)
