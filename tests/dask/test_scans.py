"""Time-blocked Dask scans equal the unchunked NumPy ops: forward, final state and VJP, for one
block, uneven blocks, blocks of length 1, batch and time chunked together; both methods."""

from __future__ import annotations

import numpy as np
import pytest

dask = pytest.importorskip("dask", reason="the Dask tests need dask[array] (the dask extra)")
da = pytest.importorskip("dask.array", reason="the Dask tests need dask[array]")

from _dask_cases import CASES, COMPLEX_OUT, HAS_LAST, L, op_name  # noqa: E402

from lrnnx_array import dask as lxd  # noqa: E402
from lrnnx_array import ops, testing  # noqa: E402

# (batch chunk, time chunk): one block, uneven blocks (4+4+3), blocks of length 1, both axes.
CHUNKINGS = [(None, L), (None, 4), (None, 1), (1, 3)]
METHODS = ["rerun", "sequential"]


def _chunk(x, batch, time):
    """Chunk a NumPy array's batch (first) and time (last) axes if it has them at full size."""
    if x is None or x.ndim == 0:
        return x
    chunks = []
    for ax, n in enumerate(x.shape):
        if ax == x.ndim - 1 and n == L:
            chunks.append(time)
        elif ax == 0 and n == 2 and batch is not None and x.ndim >= 2:
            chunks.append(batch)
        else:
            chunks.append(n)
    return da.from_array(x, chunks=tuple(chunks))


def _time_varying(name, x):
    return x is not None and x.ndim >= 2 and x.shape[-1] == L


def _dask_args(arrays, batch, time):
    """Time-varying arrays as Dask arrays; parameters stay NumPy (one graph key each)."""
    return {n: (_chunk(x, batch, time) if _time_varying(n, x) else x) for n, x in arrays.items()}


def _call(fn_name, arrays, h0, kw, module, **extra):
    fn = getattr(module, fn_name)
    if fn_name == "diag_scan":
        return fn(arrays["a"], arrays["b"], h0, **kw, **extra)
    return fn(**arrays, **kw, h0=h0, **extra)


def _call_vjp(fn_name, dout, arrays, h0, dlast, kw, module, **extra):
    fn = getattr(module, fn_name + "_vjp")
    if fn_name == "diag_scan":
        return fn(dout, arrays["a"], arrays["b"], h0, dlast_state=dlast, **kw, **extra)
    if fn_name == "s5_inner":
        return fn(dout, **arrays, **kw, h0=h0, **extra)
    return fn(dout, **arrays, **kw, h0=h0, dlast_state=dlast, **extra)


def _no_compute(*args, **kwargs):
    raise AssertionError("a Dask graph was computed while it was being built")


def _out_shape(name, arrays):
    if name == "diag_scan":
        return np.broadcast_shapes(arrays["a"].shape, arrays["b"].shape)
    return arrays["u"].shape


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("chunking", CHUNKINGS, ids=lambda c: f"b{c[0]}-t{c[1]}")
@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_vjp_equal_unchunked(case, chunking, method):
    arrays, h0, kw, state_shape = CASES[case]()
    name = op_name(case)
    rng = np.random.default_rng(1)
    dxs = _dask_args(arrays, *chunking)
    dh0 = _chunk(h0, chunking[0], chunking[1]) if h0.ndim >= 2 else h0
    with dask.config.set(scheduler=_no_compute):  # nothing may run while the graph is built
        if name in HAS_LAST:
            got = _call(name, dxs, dh0, kw, lxd, method=method, return_last_state=True)
        else:
            got = (_call(name, dxs, dh0, kw, lxd, method=method), None)
    want = (_call(name, arrays, h0, kw, ops, return_last_state=True) if name in HAS_LAST
            else (_call(name, arrays, h0, kw, ops), None))
    assert isinstance(got[0], da.Array)
    for g, w in zip(got, want):
        if w is not None:
            testing.assert_close(g.compute(), w)

    shape = _out_shape(name, arrays)
    dout = rng.normal(size=shape)
    if name in COMPLEX_OUT:
        dout = dout + 1j * rng.normal(size=shape)
    dlast = None
    if name != "s5_inner":
        dlast = rng.normal(size=state_shape)
        if np.iscomplexobj(want[1] if want[1] is not None else h0):
            dlast = dlast + 1j * rng.normal(size=state_shape)
    with dask.config.set(scheduler=_no_compute):
        g = _call_vjp(name, _chunk(dout, *chunking), dxs, dh0, dlast, kw, lxd, method=method)
    w = _call_vjp(name, dout, arrays, h0, dlast, kw, ops)
    assert type(g) is type(w)
    for field, gi, wi in zip(w._fields, g, w):
        if wi is None:
            assert gi is None, field
            continue
        assert isinstance(gi, da.Array), field
        testing.assert_close(gi.compute(), wi, err_msg=f"{case}: {field}")


@pytest.mark.parametrize("method", METHODS)
def test_without_h0_and_dlast(method):
    arrays, _, kw, _ = CASES["selective-mamba"]()
    got, last = lxd.selective_scan(**_dask_args(arrays, 1, 3), **kw, return_last_state=True,
                                   method=method)
    want, wlast = ops.selective_scan(**arrays, **kw, return_last_state=True)
    testing.assert_close(got.compute(), want)
    testing.assert_close(last.compute(), wlast)
    dout = np.random.default_rng(2).normal(size=want.shape)
    g = lxd.selective_scan_vjp(_chunk(dout, 1, 3), **_dask_args(arrays, 1, 3), **kw,
                               method=method)
    w = ops.selective_scan_vjp(dout, **arrays, **kw)
    assert g.dh0 is None
    for field, gi, wi in zip(w._fields, g, w):
        if wi is not None:
            testing.assert_close(gi.compute(), wi, err_msg=field)


def test_float32_and_reference_oracle():
    arrays, h0, kw, _ = CASES["rglru"]()
    a32 = {n: x.astype(np.float32) for n, x in arrays.items()}
    got = lxd.rglru_scan(**_dask_args(a32, 1, 2), h0=h0.astype(np.float32)).compute()
    assert got.dtype == np.float32
    testing.assert_close(got, ops.rglru_scan(**a32, h0=h0.astype(np.float32)))
    ref = ops.rglru_scan(**arrays, h0=h0, impl="reference")
    testing.assert_close(lxd.rglru_scan(**_dask_args(arrays, 1, 2), h0=h0).compute(), ref)


def test_channel_chunks_rglru():
    arrays, h0, _, _ = CASES["rglru"]()
    dxs = {n: da.from_array(x, chunks=(1, 2, 3)) if x.ndim == 3 else x
           for n, x in arrays.items()}
    got = lxd.rglru_scan(**dxs, h0=da.from_array(h0, chunks=(1, 1, 2)))
    assert got.chunks[1] == (2, 2)
    testing.assert_close(got.compute(), ops.rglru_scan(**arrays, h0=h0))


def test_graph_has_o_blocks_tasks():
    n = 4096
    a = da.full((n,), 0.99, chunks=n // 16)
    b = da.ones((n,), chunks=n // 16)
    small = len(lxd.diag_scan(a, b).__dask_graph__())
    big = len(lxd.diag_scan(a.rechunk(n // 64), b.rechunk(n // 64)).__dask_graph__())
    assert big <= 12 * 64 and small <= 12 * 16
    assert big > 2 * small  # it grows with the blocks


def test_bad_input_is_named_at_build_time():
    u = da.ones((2, 3, 8), chunks=(1, 3, 4))
    A, B = -np.ones((3, 4)), np.ones((3, 4))
    with pytest.raises(ValueError, match="method"):
        lxd.selective_scan(u, u, A, B, B, method="fast")
    with pytest.raises(ValueError, match="delta"):
        lxd.selective_scan(u, u[:, :, :5], A, B, B)
    with pytest.raises(TypeError, match="delta_softplus"):
        lxd.selective_scan(u, u, A, B, B, delta_softplus="yes")
    with pytest.raises(ValueError, match="A must be finite"):
        lxd.selective_scan(u, u, np.full((3, 4), np.nan), B, B)
    with pytest.raises(TypeError, match="Dask array"):
        lxd.diag_scan(np.ones(4), np.ones(4))
    with pytest.raises(TypeError, match="return_last_state"):
        lxd.rglru_scan(u, u, np.full((3, 1), 0.9), return_last_state=1)
    with pytest.raises(ValueError, match="A"):
        lxd.rglru_scan(u, u, da.ones((3, 2, 2)))


def test_dask_parameter_is_value_checked_in_the_blocks():
    u = da.ones((2, 3, 8), chunks=(1, 3, 4))
    A = da.from_array(np.full((3, 2), 1.5))  # rglru needs A in (0, 1]: only the values tell
    y = lxd.rglru_scan(u, u, A)
    with pytest.raises(ValueError, match="A"):
        y.compute(scheduler="sync")


def test_import_lrnnx_array_does_not_import_dask():
    import subprocess
    import sys

    code = "import sys, lrnnx_array; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("module", ["_scans", "_batches", "_lti"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"lrnnx_array.dask.{module}")
    failed, attempted = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0


# rerun for every case (summaries without output, reruns without final state); sequential
# (output and final state) for diag_scan both ways and one selective_scan
_DIAG = [c for c in sorted(CASES) if op_name(c) == "diag_scan"]
_PIECE_CASES = ([(c, "rerun", False) for c in sorted(CASES)]
                + [(c, m, True) for c in _DIAG for m in METHODS]
                + [(_DIAG[0], "sequential", False), ("selective-mamba", "sequential", False)])


@pytest.mark.parametrize("case,method,reverse", _PIECE_CASES)
def test_blocks_run_in_time_pieces_equal_unchunked(case, method, reverse, monkeypatch):
    """A block's op runs in time pieces carrying h0 (so its temporaries are one piece's); at
    test sizes blocks are one piece, so the pieces are made short here: 4-step blocks in
    pieces of 1, 1 and 2 steps (the threaded scheduler runs in this process)."""
    from lrnnx_array.dask import _engine

    monkeypatch.setattr(_engine, "SUB_STEPS", 1)
    monkeypatch.setattr(_engine, "SUB_PIECES", 3)
    arrays, h0, kw, _ = CASES[case]()
    name = op_name(case)
    kw = {**kw, "reverse": True} if reverse else kw
    dxs = _dask_args(arrays, 1, 4)
    if name in HAS_LAST:
        got = _call(name, dxs, h0, kw, lxd, method=method, return_last_state=True)
        want = _call(name, arrays, h0, kw, ops, return_last_state=True)
    else:
        got, want = (_call(name, dxs, h0, kw, lxd, method=method),), (_call(name, arrays, h0,
                                                                         kw, ops),)
    with dask.config.set(scheduler="threads"):
        for g, w in zip(got, want):
            testing.assert_close(g.compute(), w)
