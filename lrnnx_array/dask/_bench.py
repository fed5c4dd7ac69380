"""Benchmarks of the time-blocked Dask scans (``_harness`` format, ``bench --dask``).

Every case runs on one 2-worker-process ``distributed.LocalCluster`` (one thread per worker,
started at the first case, closed at exit) with its inputs already on the workers (persisted),
and keeps its result there (persist and wait, no gather): the timing is the cluster's work, not
the client's transfers. Baselines, timed in this process on the same data as NumPy:

* ``unchunked``: one :func:`lrnnx_array.ops.diag_scan` call (the ops' own thread pool);
  ``ratio_vs_unchunked`` below 1 means Dask pays.
* ``sequential`` (rerun cases): the same Dask call with ``method="sequential"``;
  ``ratio_vs_sequential`` is the rerun's overhead (or gain, with idle workers) over chaining.

``dask diag_scan`` sweeps L = 2^20..2^24 (rows x L float32, 16 time blocks); ``dask diag_scan
chunks`` fixes L = 2^22 and sweeps the block length (the chunk size where Dask starts to pay);
``dask threads ...`` is the length sweep on the threaded scheduler (2 threads, in-memory
chunks); ``dask task overhead ...`` times ``tasks`` independent no-op tasks on each scheduler
(``fwd_ms / tasks``: the cost of one task).
"""

from __future__ import annotations

import atexit

import numpy as np

from .._harness import Bench, Case, Work

_CLUSTER = {}


def _client():
    """The benches' one 2-process cluster (started once; closed at interpreter exit)."""
    if "client" not in _CLUSTER:
        import distributed

        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
        _CLUSTER.update(cluster=cluster, client=client)
        atexit.register(_close)
    return _CLUSTER["client"]


def _close():
    client, cluster = _CLUSTER.pop("client", None), _CLUSTER.pop("cluster", None)
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def _inputs(rows, L, dtype):
    rng = np.random.default_rng(0)
    return (rng.uniform(0.999, 1.0, (rows, L)).astype(dtype),
            rng.standard_normal((rows, L)).astype(dtype))


def _numpy_only(xp):
    if getattr(xp, "__name__", "").split(".")[-1] not in ("numpy", "numpy_compat"):
        raise NotImplementedError("bench --dask runs NumPy chunks on CPU workers")


def _case(run, method, with_sequential, a, b):
    """The Case of one Dask diag_scan contender ``run(method)``, beside one unchunked call (and
    the sequential method when asked)."""
    from .. import ops

    baselines = {"unchunked": lambda: ops.diag_scan(a, b)}
    if with_sequential:
        baselines["sequential"] = run("sequential")
    return Case(fwd=run(method), fwd_work=Work(bytes=3 * a.dtype.itemsize * a.size),
                baselines=baselines)


def _make(method, with_sequential):
    """On the 2-process cluster (inputs persisted on the workers, results kept there)."""
    def make(xp, dtype, rows, L, block):
        _numpy_only(xp)
        import dask.array as da
        import distributed

        from . import diag_scan

        client = _client()
        a, b = _inputs(rows, L, dtype)
        # inputs live on the workers before the clock starts
        da_, db = client.persist([da.from_array(a, chunks=(rows, block)),
                                  da.from_array(b, chunks=(rows, block))])
        distributed.wait([da_, db])

        def run(m):
            def thunk():
                h = client.persist(diag_scan(da_, db, method=m))
                distributed.wait(h)
                del h
            return thunk

        return _case(run, method, with_sequential, a, b)
    return make


def _make_threads(method, with_sequential):
    """The threaded scheduler with 2 threads in this process (in-memory chunks, persisted)."""
    def make(xp, dtype, rows, L, block):
        _numpy_only(xp)
        import dask
        import dask.array as da

        from . import diag_scan

        a, b = _inputs(rows, L, dtype)
        da_, db = da.from_array(a, chunks=(rows, block)), da.from_array(b, chunks=(rows, block))

        def run(m):
            return lambda: dask.persist(diag_scan(da_, db, method=m), scheduler="threads",
                                        num_workers=2)

        return _case(run, method, with_sequential, a, b)
    return make


def _noop(i):
    return i


def _make_overhead(processes):
    """``tasks`` independent no-op tasks: fwd_ms / tasks is the scheduler's cost per task."""
    def make(xp, dtype, tasks):
        _numpy_only(xp)
        import dask

        if processes:
            import distributed

            client = _client()

            def run():
                futs = client.compute([dask.delayed(_noop, pure=False)(i) for i in range(tasks)])
                distributed.wait(futs)
        else:
            def run():
                dask.compute(*[dask.delayed(_noop, pure=False)(i) for i in range(tasks)],
                             scheduler="threads", num_workers=2)
        return Case(fwd=run)
    return make


_ROWS = 4
_LENGTH_SIZES = {
    "small": [dict(rows=2, L=1 << 12, block=1 << 10)],
    "cpu": [dict(rows=_ROWS, L=1 << p, block=1 << (p - 4)) for p in (20, 21, 22, 24)],
}
_CHUNK_SIZES = {
    "small": [dict(rows=2, L=1 << 12, block=1 << 8)],
    "cpu": [dict(rows=_ROWS, L=1 << 22, block=1 << p) for p in (14, 16, 18, 20, 21)],
}
_OVERHEAD_SIZES = {"small": [dict(tasks=8)], "cpu": [dict(tasks=512)]}

BENCHES = [
    Bench("dask diag_scan rerun", _make("rerun", True), _LENGTH_SIZES),
    Bench("dask diag_scan sequential", _make("sequential", False), _LENGTH_SIZES),
    Bench("dask diag_scan chunks rerun", _make("rerun", False), _CHUNK_SIZES),
    Bench("dask diag_scan chunks sequential", _make("sequential", False), _CHUNK_SIZES),
    Bench("dask threads diag_scan rerun", _make_threads("rerun", True), _LENGTH_SIZES),
    Bench("dask threads diag_scan sequential", _make_threads("sequential", False),
          _LENGTH_SIZES),
    Bench("dask task overhead processes", _make_overhead(True), _OVERHEAD_SIZES),
    Bench("dask task overhead threads", _make_overhead(False), _OVERHEAD_SIZES),
]
