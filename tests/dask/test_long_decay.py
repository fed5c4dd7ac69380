"""Long-decay stability: gates |Ā| -> 1 over 2^20 steps (2^24 behind ``slow``). The blocked
scan stays finite and matches the sequential result: the blocks' products of gates (a^L of a
constant gate, the product of a varying one) neither underflow nor lose the long memory."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask", reason="the Dask tests need dask[array] (the dask extra)")
import dask.array as da  # noqa: E402

from lrnnx_array import dask as lxd  # noqa: E402
from lrnnx_array import ops, testing  # noqa: E402

GATE = 1 - 1e-7  # |Ā|^(2^24) = e^-1.7 (float64) / e^-2 (float32: 1 - 2^-23): long memory
SIZES = [pytest.param(20, id="2^20"), pytest.param(24, id="2^24", marks=pytest.mark.slow)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("log2n", SIZES)
def test_constant_gate_matches_sequential_and_closed_form(log2n, dtype):
    n = 1 << log2n
    a = np.full((1, 1), GATE, dtype=dtype)  # one gate for every step: the block's P is a^L
    b = da.ones((1, n), chunks=(1, n // 8), dtype=dtype)
    got = lxd.diag_scan(a, b).compute()
    seq = lxd.diag_scan(a, b, method="sequential").compute()
    assert got.dtype == dtype and np.all(np.isfinite(got))
    testing.assert_close(got, seq, normwise=True)
    testing.assert_close(got, ops.diag_scan(a, np.ones((1, n), dtype)), normwise=True)
    # h_t = sum_{k<=t} a^k = (1 - a^(t+1)) / (1 - a), in float64 at the gate the op sees
    g = np.float64(a[0, 0])
    exact = -np.expm1(np.arange(1, n + 1) * np.log(g)) / -np.expm1(np.log(g))
    testing.assert_close(got[0], exact.astype(dtype), normwise=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("log2n", SIZES)
def test_varying_gate_is_as_accurate_as_the_sequential_scan(log2n, dtype):
    n = 1 << log2n
    rng = np.random.default_rng(0)
    a = (1 - rng.uniform(0, 2e-7, (2, n))).astype(dtype)
    b = rng.normal(size=(2, n)).astype(dtype)
    chunks = (1, n // 8)
    got = lxd.diag_scan(da.from_array(a, chunks=chunks), da.from_array(b, chunks=chunks))
    got = got.compute()
    assert np.all(np.isfinite(got))
    seq = ops.diag_scan(a, b)
    if dtype == np.float64:
        testing.assert_close(got, seq, normwise=True)
        return
    # float32 over 2^20+ steps with 1 - a ~ 1e-7 is ill-conditioned (the sequential scan itself
    # is off by ~1e-3..4e-2 normwise): the blocked scan must be no less accurate than it
    # against the float64 recurrence on the same rounded inputs.
    ref = ops.diag_scan(a.astype(np.float64), b.astype(np.float64))
    scale = np.abs(ref).max()
    err_blocked = np.abs(got - ref).max() / scale
    err_sequential = np.abs(seq - ref).max() / scale
    assert err_blocked <= 2 * err_sequential + 1e-6, (err_blocked, err_sequential)
