"""The workload samples: their values against ADBench's reference values (and other known
values), and the hand-written gradients of the benchmarks against central differences."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "samples"))
sys.path.insert(0, str(ROOT))

import adbench_io  # noqa: E402
import bundle_adjustment  # noqa: E402
import euler_oscillator  # noqa: E402
import gmm  # noqa: E402
import lstm  # noqa: E402
import mlp  # noqa: E402
import rosenbrock  # noqa: E402

from benchmarks import handwritten  # noqa: E402

DATA = adbench_io.DATA


# ---------------------------------------------------------------- values


def test_gmm_value_on_adbench_test_input():
    assert gmm.objective(*gmm.example()) == pytest.approx(8.07380408004975791, rel=1e-13)


def test_gmm_value_on_d10_K25():
    args = gmm.example(DATA / "gmm" / "1k" / "gmm_d10_K25.txt")
    assert gmm.objective(*args) == pytest.approx(-25649.65262, abs=1e-5)


def test_gmm_gradient_matches_adbench():
    """ADBench's reference gradient on test.txt (order alpha, means, icf), first and last."""
    flat = np.concatenate([g.ravel() for g in handwritten.gmm(*gmm.example())])
    assert flat.shape == (18,)
    np.testing.assert_allclose(flat[:4], [1.0866285550865e-01, -7.4127003952390e-01,
                                          6.3260718401525e-01, 1.1169257653279e+00], rtol=1e-11)
    np.testing.assert_allclose(flat[-2:], [8.6009109079087e-01, -9.9464093046632e-01],
                               rtol=1e-11)


def test_gmm_Q_is_filled_column_by_column():
    d = 4
    icf = np.arange(1.0, 1 + d + d * (d - 1) // 2)[None, :]
    Q = gmm.make_Qs(icf, d)[0]
    np.testing.assert_allclose(np.diag(Q), np.exp(icf[0, :d]))
    below = [Q[i, j] for j in range(d) for i in range(j + 1, d)]
    assert below == list(icf[0, d:])
    assert np.all(np.triu(Q, 1) == 0)


def test_ba_residuals_on_adbench_test_input():
    reproj_err, w_err = bundle_adjustment.residuals(*bundle_adjustment.example())
    assert reproj_err.shape == (10, 2) and w_err.shape == (10,)
    np.testing.assert_allclose(reproj_err, np.tile([-0.269048849235189402,
                                                    0.259944792677901881], (10, 1)), rtol=1e-13)
    np.testing.assert_allclose(w_err, 0.826092651515999976, rtol=1e-13)


def test_ba_residuals_on_ba1():
    cams, X, w, obs, feats = bundle_adjustment.example(DATA / "ba" / "ba1_n49_m7776_p31843.txt")
    assert (cams.shape, X.shape, w.shape, obs.shape) == ((49, 11), (7776, 3), (31843,),
                                                         (31843, 2))
    assert obs[31842].tolist() == [31842 % 49, 31842 % 7776]
    reproj_err, w_err = bundle_adjustment.residuals(cams, X, w[:50], obs[:50], feats[:50])
    np.testing.assert_allclose(reproj_err, np.tile([0.1013358379, -0.06896776592], (50, 1)),
                               rtol=1e-9)
    np.testing.assert_allclose(w_err, 0.8260926515, rtol=1e-9)


def test_ba_jacobian_row_matches_adbench():
    """ADBench's first Jacobian row, d reproj_err[0, 0] / d (camera, point, weight), begins
    228.877202208, 634.574811496, -782.222866259 (central differences here)."""
    cams, X, w, obs, feats = bundle_adjustment.example()

    def first(cam):
        return w[0] * (bundle_adjustment.project(cam, X[obs[0, 1]]) - feats[0])[0]

    cam = cams[obs[0, 0]]
    eps = 1e-6
    row = [(first(cam + eps * e) - first(cam - eps * e)) / (2 * eps) for e in np.eye(11)[:3]]
    np.testing.assert_allclose(row, [228.877202208, 634.574811496, -782.222866259], rtol=1e-6)


def test_ba_zero_rotation_branch():
    cams, X, w, obs, feats = bundle_adjustment.example()
    r = np.zeros(3)
    np.testing.assert_allclose(bundle_adjustment.rodrigues_rotate(r, X[0]), X[0])
    small = np.full(3, 1e-9)
    np.testing.assert_allclose(bundle_adjustment.rodrigues_rotate(small, X[0]),
                               X[0] + np.cross(small, X[0]), rtol=1e-12)


def test_lstm_value_on_adbench_l2():
    assert lstm.objective(*lstm.example()) == pytest.approx(0.66666518, abs=5e-9)


def test_lstm_gradient_matches_adbench():
    main_bar, extra_bar = handwritten.lstm(*lstm.example())
    assert main_bar.size + extra_bar.size == 266
    np.testing.assert_allclose(main_bar.ravel()[:9], [3.14387025e-06, 0, 0, 0, 0, 0, 0,
                                                      -3.67840807e-05, -1.54848613e-04],
                               rtol=1e-8, atol=1e-14)


def test_euler_oscillator_matches_matrix_powers():
    """Explicit Euler is the linear map s -> A s on s = (x, v); the loss sums dt * x**2."""
    k, c, x0, v0, dt, steps = euler_oscillator.example(steps=200)
    A = np.array([[1.0, dt], [-k * dt, 1.0 - c * dt]])
    s = np.array([x0, v0])
    expected = 0.0
    for _ in range(steps):
        s = A @ s
        expected += dt * s[0] ** 2
    assert euler_oscillator.loss(k, c, x0, v0, dt, steps) == pytest.approx(expected, rel=1e-12)
    assert euler_oscillator.loss(0.0, 0.0, 1.5, 0.0, 0.01, 100) == pytest.approx(100 * 0.01
                                                                                  * 1.5 ** 2)


def test_rosenbrock_known_values():
    n = 10
    assert rosenbrock.rosenbrock(np.tile([-1.2, 1.0], n // 2)) == pytest.approx(24.2 * n / 2)
    assert rosenbrock.rosenbrock(np.ones(n)) == 0.0


# ---------------------------------------------------------------- hand-written gradients


def small_workloads():
    """(name, function, arguments, wrt positions, hand-written gradient), small sizes."""
    ba = bundle_adjustment.example()
    zero_rotation = (ba[0].copy(),) + ba[1:]
    zero_rotation[0][1, :3] = 0.0
    return [
        ("euler", euler_oscillator.loss, euler_oscillator.example(steps=50), (0, 1),
         handwritten.euler_oscillator),
        ("mlp", mlp.loss, mlp.example(batch=7, d_in=3, d_hidden=5, d_out=4), (0, 1, 2, 3),
         handwritten.mlp),
        ("rosenbrock", rosenbrock.rosenbrock, rosenbrock.example(n=12), (0,),
         handwritten.rosenbrock),
        ("gmm", gmm.objective, gmm.example(), (0, 1, 2), handwritten.gmm),
        ("gmm_d10", gmm.objective, _gmm_d10_few_points(), (0, 1, 2), handwritten.gmm),
        ("lstm", lstm.objective, lstm.example(steps=6), (0, 1), handwritten.lstm),
        ("ba", bundle_adjustment.objective, ba, (0, 1, 2), handwritten.bundle_adjustment),
        ("ba_zero_rotation", bundle_adjustment.objective, zero_rotation, (0, 1, 2),
         handwritten.bundle_adjustment),
    ]


def _gmm_d10_few_points():
    alpha, means, icf, x, gamma, m = adbench_io.read_gmm(DATA / "gmm" / "1k" / "gmm_d10_K25.txt")
    return alpha, means, icf, x[:5], gamma, m


@pytest.mark.parametrize("name,f,args,positions,hand", small_workloads(),
                         ids=[w[0] for w in small_workloads()])
def test_hand_written_gradient_against_central_differences(name, f, args, positions, hand):
    """<gradient, direction> against (f(x + eps d) - f(x - eps d)) / (2 eps), per argument."""
    grads = hand(*args)
    assert len(grads) == len(positions)
    rng = np.random.default_rng(1)
    for g, p in zip(grads, positions, strict=True):
        x = args[p]
        assert np.shape(g) == np.shape(x)
        d = rng.normal(size=np.shape(x))
        eps = 1e-6
        plus = list(args)
        minus = list(args)
        plus[p] = x + eps * d
        minus[p] = x - eps * d
        numeric = (f(*plus) - f(*minus)) / (2 * eps)
        assert float(np.sum(g * d)) == pytest.approx(numeric, rel=1e-6, abs=1e-8)
