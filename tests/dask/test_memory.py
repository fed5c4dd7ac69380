"""Peak worker memory of a time-blocked diag_scan stays near two blocks.

The input is generated lazily per chunk on the workers (``da.random``, never a NumPy array) and
the result is reduced there (``h.sum()``), so nothing of total size ever exists. Every block
task makes its own input chunk inside it (``lrnnx_array.dask._inline``) and runs the op in
pieces, so a worker holds about: the running task's input and result, a result waiting for the
reduction, and a piece of the op's temporaries. Measured with tracemalloc (NumPy reports its
buffers to it) in one worker process with one thread, in blocks of the input (= one block of
the result):

* what one block task adds while it runs (its input, its result, a piece of temporaries):
  2.3-2.7 for both methods (3.2-3.3 without the time pieces);
* the worker's peak with ``rerun``: 2.6-3.1.

With ``sequential`` the worker's peak is Dask's order's, not the graph's: the order does not see
sizes and may run a row's whole chain before the reduction of its results (one worker, 2 rows:
10-16 of 16 blocks held; one worker per row: 3.6-4.1, once 6.7 in CI), so it has no bound here
(README, "Memory").
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask", reason="the Dask tests need dask[array] (the dask extra)")
distributed = pytest.importorskip("distributed", reason="the memory test needs distributed")
import dask  # noqa: E402
import dask.array as da  # noqa: E402
from distributed.diagnostics.plugin import WorkerPlugin  # noqa: E402

from lrnnx_array import dask as lxd  # noqa: E402
from lrnnx_array import ops, testing  # noqa: E402

BOUND_BLOCKS = 4  # "near two blocks": input + result + one result in flight + temporaries
TASK_BOUND_BLOCKS = 3  # one task: its input + its result + a piece of the op's temporaries


class _Peaks(WorkerPlugin):
    """tracemalloc on the worker: the whole peak, and per task what it added while it ran (the
    peak between its start and end minus the memory at its start; one thread runs one task at a
    time)."""

    def setup(self, worker):
        import tracemalloc

        from lrnnx_array import ops

        ops.diag_scan(np.full((1, 1), 0.9), np.ones((1, 8)))  # compile / import before tracing
        self.whole, self.task, self.base = 0, 0, 0
        tracemalloc.start()

    def transition(self, key, start, finish, **kwargs):
        import tracemalloc

        if finish == "executing":
            self.whole = max(self.whole, tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()
            self.base = tracemalloc.get_traced_memory()[0]
        elif start == "executing":
            self.task = max(self.task, tracemalloc.get_traced_memory()[1] - self.base)


def _read_peaks(dask_worker):
    import tracemalloc

    p = dask_worker.plugins["peaks"]
    whole = max(p.whole, tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
    return whole, p.task


def _lazy_input(rows, L, block):
    return da.random.default_rng(0).standard_normal((rows, L), chunks=(1, block))


def _peak_blocks(method, rows, log2_L, log2_block):
    """(the worker's peak, the largest addition of one task), in blocks, and the total in
    blocks."""
    L, block = 1 << log2_L, 1 << log2_block
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.register_plugin(_Peaks(), name="peaks")
        h = lxd.diag_scan(np.full((1, 1), 1 - 1e-6), _lazy_input(rows, L, block), method=method)
        total = client.compute(h.sum()).result()
        assert np.isfinite(total)
        ((whole, task),) = client.run(_read_peaks).values()
    return whole / (block * 8), task / (block * 8), rows * L // block


def _check(method, whole, task, total):
    assert task <= TASK_BOUND_BLOCKS, f"{method}: one task added {task:.2f} blocks of {total}"
    if method == "rerun":
        assert whole <= BOUND_BLOCKS, f"{method}: worker peak {whole:.2f} blocks of {total}"


@pytest.mark.parametrize("method", ["rerun", "sequential"])
def test_peak_worker_memory_is_near_two_blocks(method):
    # 64 MiB of float64 in 16 blocks of 4 MiB over 2 rows (two chains / two trees on one worker)
    _check(method, *_peak_blocks(method, 2, 22, 19))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["rerun", "sequential"])
def test_peak_worker_memory_is_near_two_blocks_at_2_gib(method):
    # 2 GiB of float64 in 64 blocks of 32 MiB
    _check(method, *_peak_blocks(method, 2, 27, 22))


def _keys(graph, prefix):
    return [k for k in graph if str(k).startswith(prefix) or
            (isinstance(k, tuple) and str(k[0]).startswith(prefix))]


@pytest.mark.parametrize("method", ["rerun", "sequential"])
def test_block_tasks_make_their_own_input_chunks(method):
    """No input chunk is a task of its own (the scheduler cannot make them early); a computed
    chunk broadcast to every block stays one shared task; the result is unchanged."""
    b = _lazy_input(2, 1 << 10, 1 << 7)
    a = da.full((1, 1), 0.99, chunks=1) * 1.0  # computed, broadcast to every block
    h = lxd.diag_scan(a, b, method=method)
    with dask.config.set({"optimization.fuse.active": False}):
        (opt,) = dask.optimize(h)
    graph = dict(opt.__dask_graph__())
    assert _keys(graph, "standard_normal") == []
    assert len(_keys(graph, "mul")) == 1
    testing.assert_close(h.compute(), ops.diag_scan(np.full((1, 1), 0.99), b.compute()))
