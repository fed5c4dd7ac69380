"""map_batches (the model as one graph key), the one-thread cap inside tasks, the ops' routing
of Dask arrays, and a 2-worker distributed LocalCluster run."""

from __future__ import annotations

import numpy as np
import pytest

dask = pytest.importorskip("dask", reason="the Dask tests need dask[array] (the dask extra)")
da = pytest.importorskip("dask.array", reason="the Dask tests need dask[array]")

from dask.core import get_dependencies  # noqa: E402

from lrnnx_array import dask as lxd  # noqa: E402
from lrnnx_array import ops, testing  # noqa: E402
from lrnnx_array._ops._shared import threads  # noqa: E402
from lrnnx_array.models.lti import LRU, S5  # noqa: E402


def _no_compute(*args, **kwargs):
    raise AssertionError("a Dask graph was computed while it was being built")


def test_map_batches_equals_the_model_and_holds_it_once():
    model = LRU(d_model=4, d_state=8, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 16, 4)).astype(np.float32)
    dx = da.from_array(x, chunks=(2, 8, 4))  # time split too: map_batches joins it
    with dask.config.set(scheduler=_no_compute):
        y = lxd.map_batches(model, dx)
    assert y.chunks[0] == (2, 2, 1) and y.shape == (5, 16, 4)
    testing.assert_close(y.compute(), model(x))
    graph = dict(y.__dask_graph__())
    model_keys = [k for k in graph if str(k).startswith("lrnnx-model-")]
    assert len(model_keys) == 1
    users = [k for k in graph if model_keys[0] in get_dependencies(graph, k)]
    assert len(users) == 3  # one task per batch chunk reads the one model key


def test_map_batches_shape_from_dtype_and_tail_and_errors():
    x = da.ones((4, 3), chunks=(1, 3))
    y = lxd.map_batches(lambda v: v[:, :1] * 2, x, dtype=np.float64, tail=(1,))
    assert y.shape == (4, 1)
    np.testing.assert_array_equal(y.compute(), np.full((4, 1), 2.0))
    with pytest.raises(TypeError, match="Dask array"):
        lxd.map_batches(lambda v: v, np.ones((2, 2)))
    with pytest.raises(TypeError, match="callable"):
        lxd.map_batches(3, x)
    with pytest.raises(ValueError, match="batch size"):
        lxd.map_batches(lambda v, w: v, x, da.ones((5, 3)))


def test_tasks_run_with_one_pool_thread():
    seen = []

    def probe(v):
        seen.append(threads.threads())
        return v

    lxd.map_batches(probe, da.ones((4, 2), chunks=(2, 2)), dtype=np.float64,
                    tail=(2,)).compute(scheduler="threads")
    assert seen and set(seen) == {1}
    assert threads.threads() == max(1, min(__import__("os").cpu_count() or 1, 8))
    with lxd.cap_numpy_threads(1):
        assert threads.threads() == 1
    with pytest.raises(ValueError, match="n must be"):
        with lxd.cap_numpy_threads(0):
            pass


def test_public_ops_route_dask_arrays():
    a = da.full((2, 9), 0.9, chunks=(1, 4))
    b = da.ones((2, 9), chunks=(1, 4))
    h = ops.diag_scan(a, b)
    assert isinstance(h, da.Array)
    testing.assert_close(h.compute(), ops.diag_scan(np.full((2, 9), 0.9), np.ones((2, 9))))
    with pytest.raises(TypeError, match="does not run on Dask"):
        ops.power(a, 2)


def test_local_cluster_two_workers():
    distributed = pytest.importorskip("distributed", reason="the cluster test needs distributed")
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.9, 1.0, (4, 300)), rng.normal(size=(4, 300))
    u, dt = rng.normal(size=(2, 3, 40)), rng.uniform(0.1, 1.0, (2, 3, 40))
    A = -rng.uniform(0.5, 1.0, (3, 4))
    B, C = rng.normal(size=(2, 3, 4))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        h = lxd.diag_scan(da.from_array(a, chunks=(2, 64)), da.from_array(b, chunks=(2, 64)))
        testing.assert_close(client.compute(h).result(), ops.diag_scan(a, b))
        dout = rng.normal(size=u.shape)
        g = lxd.selective_scan_vjp(da.from_array(dout, chunks=(1, 3, 9)),
                                   da.from_array(u, chunks=(1, 3, 9)),
                                   da.from_array(dt, chunks=(1, 3, 9)), A, B, C,
                                   method="rerun")
        got = client.gather(client.compute(list(g[:5])))
        want = ops.selective_scan_vjp(dout, u, dt, A, B, C)
        for field, gi, wi in zip(want._fields, got, want):
            testing.assert_close(gi, wi, err_msg=field)


@pytest.mark.parametrize("method", ["rerun", "sequential"])
@pytest.mark.parametrize("make", [
    lambda: LRU(d_model=4, d_state=8, seed=0, dtype=np.float64),
    lambda: S5(d_model=4, d_state=6, discretization="zoh", seed=1,
               dtype=np.float64),
], ids=["LRU", "S5"])
def test_long_forward_equals_the_lti_forward(make, method):
    model = make()
    x = np.random.default_rng(0).standard_normal((3, 50, 4))
    with dask.config.set(scheduler=_no_compute):
        y = lxd.long_forward(model, da.from_array(x, chunks=(2, 7, 4)), method=method)
    testing.assert_close(y.compute(), model(x))


def test_long_forward_rejects_non_diagonal_models_and_bad_input():
    class DenseStep:  # a step form that is neither diagonal nor a state input
        def allocate_inference_cache(self, batch_size):
            return {"lrnn_state": np.zeros((batch_size, 4)), "A": np.eye(4)}

    x = da.ones((1, 8, 4), chunks=(1, 4, 4))
    with pytest.raises(NotImplementedError, match="neither a diagonal step"):
        lxd.long_forward(DenseStep(), x)
    with pytest.raises(ValueError, match="method"):
        lxd.long_forward(LRU(d_model=4, d_state=4, seed=0), x, method="fast")
    with pytest.raises(ValueError, match="d_model"):
        lxd.long_forward(LRU(d_model=3, d_state=4, seed=0), x)
    with pytest.raises(TypeError, match="Dask array"):
        lxd.long_forward(LRU(d_model=4, d_state=4, seed=0), np.ones((1, 8, 4)))


def _centaurus(mode):
    from lrnnx_array.models.lti import Centaurus

    return lambda: Centaurus(4, {"dws": 4, "full": 16}.get(mode, 6), 3, mode=mode, seed=0,
                             dtype=np.float64)


@pytest.mark.parametrize("method", ["rerun", "sequential"])
@pytest.mark.parametrize("mode", ["neck", "pointwise", "dws", "full"])
def test_long_forward_centaurus_equals_its_forward(mode, method):
    model = _centaurus(mode)()
    x = np.random.default_rng(1).standard_normal((3, 40, 4))
    with dask.config.set(scheduler=_no_compute):
        y = lxd.long_forward(model, da.from_array(x, chunks=(2, 9, 4)), method=method)
    testing.assert_close(y.compute(), model(x))


def _s4(kind, dtype=np.float64):
    from lrnnx_array.models.lti import S4, S4D

    cls = S4 if kind == "S4" else S4D
    model = cls(d_model=4, d_state=8, transposed=False, seed=0, dtype=dtype)
    model.eval()
    return model


@pytest.mark.parametrize("method", ["rerun", "sequential"])
@pytest.mark.parametrize("kind", ["S4", "S4D"])
def test_long_forward_s4_carries_the_state_between_blocks(kind, method):
    model = _s4(kind)
    x = np.random.default_rng(2).standard_normal((3, 37, 4))
    with dask.config.set(scheduler=_no_compute):
        y = lxd.long_forward(model, da.from_array(x, chunks=(2, 10, 4)), method=method)
    want = model(x, state=model.default_state(3))[0]
    testing.assert_close(y.compute(), want)
    testing.assert_close(y.compute(), model(x)[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["S4", "S4D"])
def test_long_forward_s4_rerun_uneven_blocks_and_length_one(kind, dtype):
    """rerun: every block from zero for S_k, the tree over (Ā^{L_k}, S_k), every block rerun
    from its state; equal to the unchunked forward, and the carried state matters (blocks run
    from zero each differ from it)."""
    model = _s4(kind, dtype)
    x = np.random.default_rng(3).standard_normal((2, 64, 4)).astype(dtype)
    chunks = (1, (20, 1, 1, 30, 12), 4)
    y = lxd.long_forward(model, da.from_array(x, chunks=chunks), method="rerun").compute()
    want = model(x)[0]
    testing.assert_close(y, want)
    cuts = np.cumsum((0,) + chunks[1])
    alone = np.concatenate([model(x[:, a:b])[0] for a, b in zip(cuts[:-1], cuts[1:])], axis=1)
    assert not np.allclose(alone, want, atol=1e-3)
