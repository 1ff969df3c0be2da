"""Every program of the language corpus (tests/programs.py) against central differences."""

import numpy as np
import pytest
from conftest import make_function
from programs import PROGRAMS

from adjoint.testing import check_grads


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_program(program, optimize):
    f = make_function(program.src)
    for seed in range(3):
        args = program.args(np.random.default_rng(seed))
        check_grads(f, args, program.wrt, optimize=optimize, seed=seed,
                    mutates=program.mutates)
