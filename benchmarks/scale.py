"""The "scale" section: one emitted gradient on NumPy in memory and on Dask in chunks.

The workload is the negative log-likelihood of a Gaussian mixture with diagonal covariances
(K components in d dimensions) over n points, written as a user would, with a log-sum-exp
over the components. Its gradient with respect to the means, log-scales and mixture logits
runs on NumPy (the points in memory) and on Dask (the points in chunks of CHUNK rows,
generated chunk by chunk, so no process ever holds them all): with Dask's threads on this
machine, and on a distributed.LocalCluster of 1 and 2 workers (threads in this process, so
tracemalloc sees their memory). Peak memory is what the gradient call allocated on top of
what was live before it (tracemalloc sees NumPy's allocations); for NumPy that excludes the
points themselves (n * d * 8 bytes), for Dask it includes the chunks in flight. The primal's
peak, computed the same way, is the yardstick: on Dask neither should grow with n.
"""

from __future__ import annotations

import contextlib
import time
import tracemalloc

import numpy as np

import adjoint

K, D = 4, 3
CHUNK = 250_000
NS = (100_000, 1_000_000, 10_000_000)
QUICK_NS = (100_000, 1_000_000)


def log_sum_exp(v):
    """log(sum(exp(v))) over the last axis, shifted by the maximum."""
    m = np.max(v, axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.sum(np.exp(v - m), axis=-1))


def gmm_nll(means, log_sigmas, logits, x):
    """The mean negative log-likelihood of the points x (n, d) under a mixture of K Gaussians
    with diagonal covariances: means and log_sigmas (K, d), mixture logits (K,)."""
    n, d = x.shape
    diff = x[:, None, :] - means[None, :, :]
    inv_var = np.exp(-2.0 * log_sigmas)
    quad = np.sum(diff ** 2 * inv_var, axis=2)
    log_norm = -0.5 * d * np.log(2 * np.pi) - np.sum(log_sigmas, axis=1)
    log_weights = logits - log_sum_exp(logits)
    return -np.sum(log_sum_exp(log_weights + log_norm - 0.5 * quad)) / n


WRT = ("means", "log_sigmas", "logits")


def parameters(k=K, d=D, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(k, d)) * 2.0, 0.1 * rng.normal(size=(k, d)),
            0.5 * rng.normal(size=k))


def dask_points(n, d=D, chunk=CHUNK, seed=1):
    import dask.array as da

    return da.random.default_rng(seed).normal(size=(n, d), chunks=(min(chunk, n), d)) * 2.0


def dask_arguments(n, chunk=CHUNK):
    """The parameters as one-chunk Dask arrays (their gradients are then lazy too), the
    points in chunks."""
    import dask.array as da

    return tuple(da.from_array(p) for p in parameters()) + (dask_points(n, chunk=chunk),)


def _measure(call):
    tracemalloc.start()
    try:
        start = time.perf_counter()
        out = call()
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, seconds, peak


def run(ns=NS, log=print) -> list[dict]:
    import dask

    grad = adjoint.grad(gmm_nll, wrt=WRT)
    rows = []
    for n in ns:
        log(f"  scale: n={n:,} ...")
        x = dask_points(n).compute()  # the same points, in memory
        _, _, primal = _measure(lambda x=x: gmm_nll(*parameters(), x))
        ref, seconds, peak = _measure(lambda x=x: grad(*parameters(), x))
        rows.append({"n": n, "how": "NumPy, in memory", "seconds": seconds, "peak": peak,
                     "primal": primal})
        del x
        rows.append(_dask_row(n, grad, ref, f"Dask threads, chunks of {CHUNK:,}",
                              lambda arrays: dask.compute(*arrays, scheduler="threads")))
        for workers in (1, 2):
            with local_cluster(workers) as client:
                rows.append(_dask_row(n, grad, ref, f"LocalCluster, {workers} worker"
                                      + ("s" if workers > 1 else ""),
                                      lambda arrays, c=client: c.compute(arrays, sync=True)))
    return rows


@contextlib.contextmanager
def local_cluster(workers):
    """A Client of a LocalCluster of `workers` one-thread workers, as a user with a
    gradient should make it: the scheduler's worker-saturation at 1.0. Its default, 1.1,
    rounds up to two root tasks (two chunks of points started) per one-thread worker; each
    chunk started holds its forward values (diff and diff**2, K * d values per point)
    until its backward runs, and with two workers about ten chunks were in flight at once
    (bounded, but twice the memory of one started chunk per worker)."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                         dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _dask_row(n, grad, ref, how, compute) -> dict:
    """The gradient on Dask, computed by `compute` (a list of arrays -> their values), and
    the peak of computing the primal the same way."""
    args = dask_arguments(n)
    _, _, primal = _measure(lambda: compute([gmm_nll(*args)]))
    lazy = grad(*args)
    out, seconds, peak = _measure(lambda: compute(list(lazy)))
    _check(out, ref)
    return {"n": n, "how": how, "seconds": seconds, "peak": peak, "primal": primal}


def _check(out, ref) -> None:
    for a, b in zip(out, ref, strict=True):
        if not np.allclose(a, b, rtol=1e-7, atol=1e-10):
            raise AssertionError("the Dask gradient differs from NumPy's")


def table(rows: list[dict]) -> str:
    lines = ["| points | where | gradient time | peak memory | primal's peak |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['n']:,} | {r['how']} | {r['seconds']:.2f} s | "
                     f"{r['peak'] / 2 ** 20:,.0f} MiB | {r['primal'] / 2 ** 20:,.0f} MiB |")
    return "\n".join(lines)


def growth(rows: list[dict]) -> str:
    """Each Dask row's peak at the most points over its peak at the fewest that fill two
    chunks: about 1 when memory is bounded by the chunks, n's ratio when it grows with n."""
    ns = sorted({r["n"] for r in rows if r["n"] >= 2 * CHUNK})
    if len(ns) < 2:
        return ""
    words = []
    for how in dict.fromkeys(r["how"] for r in rows if not r["how"].startswith("NumPy")):
        lo, hi = (next(r for r in rows if r["how"] == how and r["n"] == n) for n in
                  (ns[0], ns[-1]))
        words.append(f"{how}: x{hi['peak'] / lo['peak']:.1f} (primal "
                     f"x{hi['primal'] / lo['primal']:.1f})")
    return (f"\n\nPeak memory from {ns[0]:,} to {ns[-1]:,} points (x{ns[-1] / ns[0]:.0f} "
            "the points): " + "; ".join(words) + ".")


def section(quick=False, log=print) -> str:
    try:
        import dask.array  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        return "### Scale\n\nSkipped: install the dask extra (`pip install -e '.[dask]'`)."
    rows = run(QUICK_NS if quick else NS, log=log)
    return (f"### Scale: a Gaussian mixture's NLL (K={K}, d={D}), NumPy against Dask\n\n"
            + table(rows) + growth(rows) + "\n\nDask's time includes computing the lazy "
            "gradient; its points are generated chunk by chunk inside the graph, NumPy's "
            "exist before the call (not counted in its peak). Dask's peak should be the "
            "chunks in flight (the gradient holds more arrays per chunk than the primal), "
            "not the points, as it must be for data larger than memory: the ratios say "
            "whether it is.")
