"""Every sample: its gradient against finite differences, and its committed gradient file."""

import difflib
import importlib
import sys
from pathlib import Path

import numpy as np
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


# ---- ADBench's reference gradients, from adjoint's gradient of the samples as written

def test_gmm_gradient_is_adbench_reference():
    import gmm

    grads = adjoint.grad(gmm.objective, wrt=("alpha", "means", "icf"))(*gmm.example())
    flat = np.concatenate([g.ravel() for g in grads])
    np.testing.assert_allclose(flat[:4], [1.0866285550865e-01, -7.4127003952390e-01,
                                          6.3260718401525e-01, 1.1169257653279e+00], rtol=1e-11)
    np.testing.assert_allclose(flat[-2:], [8.6009109079087e-01, -9.9464093046632e-01],
                               rtol=1e-11)


def test_lstm_gradient_is_adbench_reference():
    import lstm

    main_bar, extra_bar = adjoint.grad(lstm.objective, wrt=(0, 1))(*lstm.example())
    flat = np.concatenate([main_bar.ravel(), extra_bar.ravel()])
    assert flat.shape == (266,)
    np.testing.assert_allclose(flat[:9], [3.14387025e-06, 0, 0, 0, 0, 0, 0, -3.67840807e-05,
                                          -1.54848613e-04], rtol=1e-6, atol=1e-12)


def test_ba_jacobian_row_is_adbench_reference():
    """d reproj_err[0, 0] / d camera: a vector-Jacobian product through the residuals."""
    import bundle_adjustment as ba

    cams, X, w, obs, feats = ba.example()
    seed = (np.zeros((len(obs), 2)), np.zeros(len(obs)))
    seed[0][0, 0] = 1.0
    cams_bar, X_bar, w_bar = adjoint.grad(ba.residuals, wrt=("cams", "X", "w"))(
        cams, X, w, obs, feats, residuals_bar=seed)
    row = np.concatenate([cams_bar[obs[0, 0]], X_bar[obs[0, 1]], [w_bar[0]]])
    assert row.shape == (15,) and row[8] == 0.0  # x ignores the principal point's y
    np.testing.assert_allclose(row[:3], [228.877202208, 634.574811496, -782.222866259],
                               rtol=1e-9)


def test_generated_files_run_without_the_compiler():
    """A generated gradient file needs NumPy and adjoint.runtime only: with libcst blocked, every
    sample's file imports and computes the gradient the compiler computes."""
    import subprocess

    script = """
import importlib, sys
sys.modules["libcst"] = None  # the compiler cannot load
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/generated")
import numpy as np
for line in open(sys.argv[1] + "/SAMPLES").read().splitlines():
    if not line.strip() or line.startswith("#"):
        continue
    stem = line.split()[0].split(":")[0][:-3]
    grads = importlib.import_module(stem + "_grad")
    fn = [v for k, v in vars(grads).items() if k.startswith("grad_")][0]
    out = fn(*importlib.import_module(stem).example())
    print(stem, float(sum(np.sum(np.abs(g)) for g in (out if isinstance(out, tuple) else [out]))))
assert "adjoint.api" not in sys.modules and sys.modules["libcst"] is None
"""
    done = subprocess.run([sys.executable, "-c", script, str(SAMPLES_DIR)], capture_output=True,
                          text=True, check=True)
    printed = dict(line.split() for line in done.stdout.splitlines())
    for file, func, wrt in (p.values for p in manifest()):
        module = importlib.import_module(Path(file).stem)
        df = adjoint.grad(getattr(module, func), wrt=wrt if len(wrt) > 1 else wrt[0])
        out = df(*module.example())
        total = float(sum(np.sum(np.abs(g)) for g in (out if isinstance(out, tuple) else [out])))
        assert float(printed[Path(file).stem]) == pytest.approx(total, rel=1e-9), file


def test_newton_with_the_hessian_of_a_loop_recovers_the_parameters():
    import newton_fit

    observed = newton_fit.trajectory(3.0, 0.4, steps=60)
    theta = newton_fit.fit(np.array([2.6, 0.25]), observed)
    np.testing.assert_allclose(theta, [3.0, 0.4], rtol=1e-9)


def test_trust_region_newton_cg_with_flattened_parameters():
    """scipy's trust-ncg and Newton-CG, with jac from value_and_grad and hessp from hvp over
    `adjoint.flatten`ed parameters, reach the same minimum; hessp is the change of the
    gradient along p."""
    import trust_region

    params, X, y = trust_region.example(n=60, hidden=4)
    found = [trust_region.fit(params, X, y, method=m) for m in ("trust-ncg", "Newton-CG")]
    assert all(r.success for _, r in found)
    np.testing.assert_allclose(found[0][1].fun, found[1][1].fun, rtol=1e-5)
    theta, unflatten = adjoint.flatten(params)
    df = adjoint.grad(trust_region.loss)
    p = np.random.default_rng(0).normal(size=theta.size)

    def g(t):
        return adjoint.flatten(df(unflatten(t), X, y))[0]
    hv = adjoint.hvp(trust_region.loss)(params, X, y, params_dot=unflatten(p))
    np.testing.assert_allclose(adjoint.flatten(hv)[0], (g(theta + 1e-6 * p) - g(theta - 1e-6 * p))
                               / 2e-6, rtol=1e-5, atol=1e-8)
