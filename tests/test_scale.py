"""One emitted gradient on a GPU-like array: a stand-in for CuPy that implements only NumPy's
protocols and refuses to become a NumPy array (tests/standin.py). The samples' gradients on
it equal NumPy's, stay on the device, and read no value back (no device sync) beyond what
the function itself reads."""

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import adjoint
from adjoint import runtime

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "samples"))
sys.path.insert(0, str(Path(__file__).parent))

from conftest import make_function  # noqa: E402
from standin import ConversionError, Device, to_device, to_host  # noqa: E402

SAMPLES = {line.split()[0].split(":")[0][:-3]: (line.split()[0].split(":")[1],
                                                tuple(line.split()[1].split(",")))
           for line in (ROOT / "samples" / "SAMPLES").read_text().splitlines()
           if line.strip() and not line.startswith("#")}


@pytest.fixture
def strict():
    """Any read of a device value into Python raises."""
    Device.strict, Device.syncs = True, 0
    yield
    Device.strict = False


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


@pytest.mark.parametrize("name", ["mlp", "logistic_regression", "gaussian_nll", "rosenbrock",
                                  "heat", "linear_regression", "lstm"])
def test_sample_gradient_on_the_device_equals_numpy(name, strict):
    fname, wrt = SAMPLES[name]
    module = importlib.import_module(name)
    args = _as_tuple(module.example())
    grad = adjoint.grad(getattr(module, fname), wrt=wrt)
    ref = _as_tuple(grad(*args))
    out = _as_tuple(grad(*to_device(args)))
    assert all(isinstance(g, Device) for g in out)  # nothing came back to the host
    for a, b in zip(to_host(out), ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gradient_syncs_no_more_than_the_function():
    """gmm fills a NumPy buffer (np.zeros) from device values, which reads them: the
    gradient reads no more than that."""
    Device.strict = False
    module = importlib.import_module("gmm")
    args = module.example()
    Device.syncs = 0
    module.objective(*to_device(args))
    primal = Device.syncs
    grad = adjoint.grad(module.objective, wrt=SAMPLES["gmm"][1])
    Device.syncs = 0
    out = grad(*to_device(args))
    assert Device.syncs <= primal
    for a, b in zip(to_host(out), grad(*args), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_the_stand_in_refuses_conversion():
    with pytest.raises(ConversionError):
        np.asarray(Device(np.ones(3)))


@pytest.mark.parametrize("src", [
    "def f(x):\n    return np.max(x) + np.sum(np.min(x, axis=1)) + np.mean(x ** 2)",
    "def f(x):\n    y = np.concatenate([x, 2.0 * x], axis=1)\n    return np.sum(y ** 2)",
    "def f(x):\n    a, b = np.split(x, 2, axis=1)\n    return np.sum(np.stack([a, b]) ** 3)",
    "def f(x):\n    y = np.where(x > 0.5, x, 0.1 * x)\n"
    "    return np.sum(np.clip(y, -1.0, 1.0) ** 2)",
    "def f(x):\n    return np.sum(np.tanh(x @ x.T) @ x)",
    "def f(x):\n    return np.std(x) + np.sum(np.sqrt(np.abs(x)) * x[1])",
    "def f(x):\n    y = x * 1.0\n    y[1:3] = np.sin(x[1:3])\n    return np.sum(y ** 2)",
], ids=["extrema", "concatenate", "split_stack", "where_clip", "matmul", "std_index",
        "setitem"])
def test_common_adjoints_read_no_device_value(src, strict):
    f = make_function(src)
    x = np.random.default_rng(0).normal(size=(4, 6))
    x[1, 2] = x[3, 4] = x.max()  # a tie
    grad = adjoint.grad(f)
    out = grad(Device(x))
    assert isinstance(out, Device)
    np.testing.assert_allclose(out.data, grad(x), rtol=1e-10, atol=1e-12)


def test_allocation_follows_the_argument():
    d = Device(np.ones((2, 3), dtype=np.float32))
    assert isinstance(runtime.zeros_like(d), Device)
    assert isinstance(runtime.arrays.zeros((4,), np.float32, d), Device)
    assert runtime.arrays.namespace(np.ones(2)) is np
    assert runtime.arrays.on_host(np.ones(2), 1.0) and not runtime.arrays.on_host(d)
    out = runtime.sum_adjoint(Device(np.float32(2.0)), np.ones(3, dtype=np.float32))
    assert isinstance(out, Device) and out.dtype == np.float32
