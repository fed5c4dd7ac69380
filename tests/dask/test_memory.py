"""Peak worker memory of a time-blocked diag_scan stays near two blocks.

The input is generated lazily per chunk on the workers (``da.random``, never a NumPy array) and
the result is reduced there (``h.sum()``), so nothing of total size ever exists. Every block
task makes its own input chunk inside it (``lrnnx_array.dask._inline``) and runs the op in
pieces, so a worker holds about: the running task's input and result, a result waiting for the
reduction, and a piece of the op's temporaries. The peak is measured with tracemalloc in each of
the 2 worker processes (NumPy reports its buffers to tracemalloc) and compared with the bytes of
one block of the input (= one block of the result); measured 2.8-3.6 blocks for both methods.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask", reason="the Dask tests need dask[array] (the dask extra)")
distributed = pytest.importorskip("distributed", reason="the memory test needs distributed")
import dask  # noqa: E402
import dask.array as da  # noqa: E402

from lrnnx_array import dask as lxd  # noqa: E402
from lrnnx_array import ops, testing  # noqa: E402

BOUND_BLOCKS = 4  # "near two blocks": input + result + one result in flight + temporaries


def _start_tracing():
    import tracemalloc

    from lrnnx_array import ops

    ops.diag_scan(np.full((1, 1), 0.9), np.ones((1, 8)))  # compile / import before tracing
    tracemalloc.start()


def _peak():
    import tracemalloc

    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _lazy_input(rows, L, block):
    return da.random.default_rng(0).standard_normal((rows, L), chunks=(1, block))


def _peak_blocks(method, rows, log2_L, log2_block):
    """Max over the 2 workers of the tracemalloc peak, in blocks, and the total in blocks."""
    L, block = 1 << log2_L, 1 << log2_block
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(_start_tracing)
        h = lxd.diag_scan(np.full((1, 1), 1 - 1e-6), _lazy_input(rows, L, block), method=method)
        total = client.compute(h.sum()).result()
        assert np.isfinite(total)
        peak = max(client.run(_peak).values())
    return peak / (block * 8), rows * L // block


@pytest.mark.parametrize("method", ["rerun", "sequential"])
def test_peak_worker_memory_is_near_two_blocks(method):
    # 64 MiB of float64 in 16 blocks of 4 MiB over 2 rows (two chains / two trees at once)
    blocks, total = _peak_blocks(method, 2, 22, 19)
    assert blocks <= BOUND_BLOCKS, f"{method}: peak {blocks:.2f} blocks of {total}"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["rerun", "sequential"])
def test_peak_worker_memory_is_near_two_blocks_at_2_gib(method):
    # 2 GiB of float64 in 64 blocks of 32 MiB
    blocks, total = _peak_blocks(method, 2, 27, 22)
    assert blocks <= BOUND_BLOCKS, f"{method}: peak {blocks:.2f} blocks of {total}"


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
