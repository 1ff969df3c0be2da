"""One emitted gradient on Dask arrays: lazy, equal to NumPy's, a graph the size of the
primal's that Dask runs a few chunks at a time, in-place writes kept lazy or refused with an
AdjointError, and a LocalCluster."""

import graphlib
import sys
from pathlib import Path

import numpy as np
import pytest

import adjoint
from adjoint import runtime

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
from dask.callbacks import Callback  # noqa: E402
from dask.core import get_dependencies  # noqa: E402
from dask.order import diagnostics  # noqa: E402

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "samples"))

import heat  # noqa: E402
from conftest import make_function  # noqa: E402

from benchmarks.scale import WRT, gmm_nll, parameters  # noqa: E402


class Computes(Callback):
    """Counts the graphs Dask computes while it is active."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def _start(self, dsk):
        self.count += 1


def gmm_arguments(n=600, chunk=150):
    x = np.random.default_rng(3).normal(size=(n, 3)) * 2.0
    numpy_args = (*parameters(), x)
    dask_args = tuple(da.from_array(p) for p in parameters()) + (
        da.from_array(x, chunks=(chunk, 3)),)
    return numpy_args, dask_args


def close(lazy, ref):
    out = dask.compute(*lazy)
    assert len(out) == len(ref)
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gmm_gradient_is_lazy_and_equals_numpy():
    numpy_args, dask_args = gmm_arguments()
    grad = adjoint.grad(gmm_nll, wrt=WRT)
    ref = grad(*numpy_args)
    with Computes() as seen:
        lazy = grad(*dask_args)
    assert seen.count == 0  # calling the gradient computed nothing
    assert all(isinstance(g, da.Array) for g in lazy)
    close(lazy, ref)


def test_gradient_graph_is_a_small_multiple_of_the_primal():
    for chunks in (10, 40):  # the same factor, whatever the number of chunks
        _, dask_args = gmm_arguments(n=100 * chunks, chunk=100)
        primal = len(gmm_nll(*dask_args).__dask_graph__())
        lazy = adjoint.grad(gmm_nll, wrt=WRT)(*dask_args)
        graph = max(len(g.__dask_graph__()) for g in lazy)
        assert graph <= 6 * primal, (graph, primal)
        tasks = {}  # without the layers Dask's own assignment repeats
        for g in lazy:
            tasks.update(g.__dask_graph__().to_dict())
        assert len(tasks) <= 3 * primal, (len(tasks), primal)


def _optimized(arrays) -> dict:
    """The tasks Dask runs for `arrays` (after its graph optimization, blockwise fusion)."""
    dsk = {}
    for a in dask.optimize(*arrays):
        dsk.update(a.__dask_graph__().to_dict())
    return dsk


def _held(arrays) -> int:
    """The most results Dask's ordering of the tasks holds at once."""
    return max(diagnostics(_optimized(arrays))[1])


def test_dask_runs_the_gradient_a_few_chunks_at_a_time():
    """Four times the chunks, not four times the results held (memory bounded by the chunk
    size): each gradient output, and the primal for comparison. Dask's own __setitem__
    (emitted `m_bar[..., 0] += g`) made the ordering hold every chunk's forward values."""
    held = {}
    for chunks in (8, 32):
        _, dask_args = gmm_arguments(n=10 * chunks, chunk=10)
        lazy = adjoint.grad(gmm_nll, wrt=WRT)(*dask_args)
        held[chunks] = [_held([gmm_nll(*dask_args)])] + [_held([g]) for g in lazy]
    assert all(b < 2 * a for a, b in zip(held[8], held[32], strict=True)), held


def _spanning(arrays, x) -> int:
    """How many tasks depend on every chunk of x."""
    dsk = {}
    for a in arrays:
        dsk.update(a.__dask_graph__().to_dict())
    deps = {k: get_dependencies(dsk, k) for k in dsk}
    chunks, mine = {}, set(dask.core.flatten(x.__dask_keys__()))
    for k in graphlib.TopologicalSorter(deps).static_order():
        chunks[k] = frozenset({k} & mine).union(*(chunks[d] for d in deps[k]))
    return sum(len(c) == len(mine) for c in chunks.values())


def test_only_the_final_reductions_depend_on_every_chunk():
    """Per chunk, the gradient's graph is the chunk's own: what depends on every chunk is
    the tail of a reduction to the parameters' shape, as many tasks whatever the chunks,
    and each layer holds its own tasks (Dask's __setitem__ copies the value's tasks into its
    layer, which graph optimization then computes twice)."""
    counts = []
    for chunks in (8, 32):
        _, dask_args = gmm_arguments(n=10 * chunks, chunk=10)
        lazy = adjoint.grad(gmm_nll, wrt=WRT)(*dask_args)
        counts.append([_spanning([g], dask_args[-1]) for g in lazy])
        for g in lazy:
            seen = {}
            for name, layer in g.__dask_graph__().layers.items():
                for key in layer:
                    assert seen.setdefault(key, name) == name, (key, name, seen[key])
    assert counts[0] == counts[1] and max(counts[0]) <= 20, counts


def test_in_place_loop_graph_stays_near_the_primal():
    u0, kappa, target = heat.example(16)
    du0 = da.from_array(u0, chunks=4)
    steps = 6
    primal = heat.loss(du0, kappa, target, steps=steps)
    grad = adjoint.grad(heat.loss, wrt=("u0", "kappa"))
    with Computes() as seen:
        lazy = grad(du0, kappa, target, steps=steps)
    assert seen.count == 0
    size = len(primal.__dask_graph__())
    assert all(len(g.__dask_graph__()) <= 2 * size for g in lazy)
    close(lazy, grad(u0, kappa, target, steps=steps))


@pytest.mark.parametrize("fname", ["mean", "max", "concat", "where_clip", "stack", "matmul"])
def test_common_adjoints_compute_nothing(fname):
    src = {
        "mean": "def f(x):\n    return np.mean(x ** 2) + np.sum(np.mean(x, axis=0))",
        "max": "def f(x):\n    return np.max(x) + np.sum(np.min(x, axis=1))",
        "concat": "def f(x):\n    y = np.concatenate([x, 2.0 * x], axis=0)\n"
                  "    return np.sum(y ** 2)",
        "where_clip": "def f(x):\n    y = np.where(x > 0.5, x, 0.1 * x)\n"
                      "    return np.sum(np.clip(y, -1.0, 1.0) ** 2)",
        "stack": "def f(x):\n    y = np.stack([x, x ** 2])\n    return np.sum(y[1] - y[0])",
        "matmul": "def f(x):\n    return np.sum(np.tanh(x @ x.T) @ x)",
    }[fname]
    f = make_function(src)
    x = np.random.default_rng(1).normal(size=(8, 4))
    x[2, 1] = x[5, 3] = x.max()  # a tie for the maximum
    grad = adjoint.grad(f)
    with Computes() as seen:
        lazy = grad(da.from_array(x, chunks=(3, 2)))
    assert seen.count == 0, fname
    np.testing.assert_allclose(lazy.compute(), grad(x), rtol=1e-12)


def test_split_adjoints_compute_nothing():
    """(np.split itself, in the primal, is not Dask's: it computes; its adjoint does not.)"""
    x = np.arange(24.0).reshape(4, 6)
    dx = da.from_array(x, chunks=2)
    with Computes() as seen:
        joined = runtime.split_adjoint([da.ones((4, 2)), 0.0, 2 * da.ones((4, 3))], dx,
                                       [2, 3], 1)
        pieces = runtime.split_like(da.from_array(np.arange(10.0), chunks=3),
                                    [np.ones(4), np.ones(6)])
    assert seen.count == 0
    np.testing.assert_array_equal(joined.compute(), runtime.split_adjoint(
        [np.ones((4, 2)), 0.0, 2 * np.ones((4, 3))], x, [2, 3], 1))
    np.testing.assert_array_equal(pieces[1].compute(), np.arange(4.0, 10.0))


def test_in_place_writes_of_the_user_stay_lazy():
    f = make_function("""
    def f(x):
        y = x * 1.0
        y[1:3] = np.sin(x[1:3])
        y[0] += 2.0 * x[-1]
        return np.sum(y ** 2)
    """)
    x = np.linspace(0.1, 1.0, 6)
    grad = adjoint.grad(f)
    with Computes() as seen:
        lazy = grad(da.from_array(x, chunks=2))
    assert seen.count == 0
    np.testing.assert_allclose(lazy.compute(), grad(x), rtol=1e-12)


def test_write_dask_cannot_do_is_an_adjoint_error():
    f = make_function("""
    def f(x, rows, cols):
        y = x * 1.0
        y[rows, cols] = 0.0
        return np.sum(y ** 2)
    """)
    x = da.from_array(np.ones((4, 4)), chunks=2)
    with pytest.raises(adjoint.AdjointError, match="np.where"):
        adjoint.grad(f)(x, np.array([0, 1]), np.array([1, 2]))


def test_numpy_buffer_with_a_dask_contribution_is_an_adjoint_error():
    f = make_function("""
    def f(w, x):
        return np.sum(x * w[None, :])
    """)
    x = da.from_array(np.ones((4, 3)), chunks=2)
    with pytest.raises(adjoint.AdjointError, match="from_array"):
        adjoint.grad(f)(np.ones(3), x)


def test_dask_buffer_writes_match_numpy():
    """runtime.lazy.put against NumPy's assignment, for the keys emitted code writes with."""
    base = np.arange(24.0).reshape(2, 3, 4)
    for key, value in [((slice(None), 1), 7.0), ((Ellipsis, 0), np.ones(3)),
                       ((None, 1, slice(1, 3)), -np.ones((1, 2, 4))), ((-1, -1, -1), 5.0),
                       ((slice(0, 0),), 1.0), ((0, slice(None), slice(1, None)), np.ones(3))]:
        buffer = runtime.lazy.writable(da.from_array(base, chunks=2))
        buffer[key] += value
        ref = base.copy()
        ref[key] += value
        np.testing.assert_array_equal(buffer.compute(), ref)
    acc = runtime.zeros_like(da.from_array(base, chunks=2))
    runtime.add_at(acc, (slice(None), np.array([0, 2, 0])), np.ones((2, 3, 4)))
    ref = np.zeros_like(base)
    np.add.at(ref, (slice(None), np.array([0, 2, 0])), np.ones((2, 3, 4)))
    np.testing.assert_array_equal(acc.compute(), ref)


def test_arithmetic_keeps_buffers_and_dask_writes_keep_layers():
    """An adjoint made by arithmetic on a Buffer is one (emitted code writes into it in
    place); a write Dask does itself (an integer array index) leaves the value's tasks in
    the value's layers, not copied into the write's."""
    x = da.from_array(np.arange(12.0).reshape(6, 2), chunks=2)
    buffer = runtime.zeros_like(x)
    acc = -(2.0 * buffer + x)
    assert type(acc) is type(buffer) is type(x - buffer) and type(x * 2.0) is da.Array
    acc[np.array([0, 3])] += np.sin(x[1:3])
    ref = -np.arange(12.0).reshape(6, 2)
    ref[[0, 3]] += np.sin(ref[1:3] * -1.0)
    np.testing.assert_allclose(acc.compute(), ref, rtol=1e-12)
    seen = {}
    for name, layer in acc.__dask_graph__().layers.items():
        for key in layer:
            assert seen.setdefault(key, name) == name, (key, name)


def test_gmm_gradient_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    numpy_args, dask_args = gmm_arguments(n=800, chunk=200)
    grad = adjoint.grad(gmm_nll, wrt=WRT)
    ref = grad(*numpy_args)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        lazy = grad(*dask_args)
        out = client.compute(list(lazy), sync=True)
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
