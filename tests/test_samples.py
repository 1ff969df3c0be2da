"""Every sample: its gradient against finite differences, and its committed gradient file."""

import difflib
import importlib
import sys
from pathlib import Path

import pytest

import adjoint
from adjoint.testing import check_grads

SAMPLES_DIR = Path(__file__).parent.parent / "samples"
sys.path.insert(0, str(SAMPLES_DIR))


def manifest():
    for line in (SAMPLES_DIR / "SAMPLES").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            target, wrt = line.split()
            file, func = target.split(":")
            yield pytest.param(file, func, tuple(wrt.split(",")), id=target)


@pytest.mark.parametrize("file,func,wrt", list(manifest()))
def test_sample_gradient(file, func, wrt, optimize):
    module = importlib.import_module(Path(file).stem)
    check_grads(getattr(module, func), module.example(), wrt, optimize=optimize)


@pytest.mark.parametrize("file,func,wrt", list(manifest()))
def test_generated_file_is_current(file, func, wrt):
    module = importlib.import_module(Path(file).stem)
    target = f"samples/{file}:{func}"
    out = SAMPLES_DIR / "generated" / f"{Path(file).stem}_grad.py"
    command = f"adjoint grad {target} --wrt {','.join(wrt)} -o samples/generated/{out.name}"
    expected = adjoint.api.generate([(getattr(module, func), wrt if len(wrt) > 1 else wrt[0])],
                                    command=command, origins=[target])
    actual = out.read_text() if out.exists() else ""
    if actual != expected:
        diff = "".join(difflib.unified_diff(actual.splitlines(True), expected.splitlines(True),
                                            str(out), "regenerated"))
        pytest.fail(f"{out} is stale; run `make golden`\n{diff}")


@pytest.mark.parametrize("file,func,wrt", list(manifest()))
def test_generated_file_runs(file, func, wrt):
    """The committed file is a standalone module whose gradient matches the live one."""
    import numpy as np

    module = importlib.import_module(Path(file).stem)
    path = SAMPLES_DIR / "generated" / f"{Path(file).stem}_grad.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    generated = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generated)
    args = module.example()
    live = adjoint.grad(getattr(module, func), wrt=wrt)(*args)
    from_file = getattr(generated, f"grad_{func}")(*args)
    for a, b in zip(live, from_file if len(wrt) > 1 else (from_file,), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
