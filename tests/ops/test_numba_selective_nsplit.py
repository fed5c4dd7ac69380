"""The numba selective scan with a row's states split into blocks run as virtual channels
(``_numba_nsplit``, for fewer rows than threads), forced on small sizes: against the float64
oracle and against the unsplit kernels, every discretization, real and complex, constant /
variable / grouped B and C, D, z, bias with softplus, deltaA, h0, the last state and its
cotangent, float32 / float64; block counts that N does not divide (the plan takes the largest
divisor), N with no divisor (the unsplit path), several batches and channels per group, the VJP's
state store and its recompute."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import close_all, needs_numba
from test_numba_selective_scan import CASES, NAMES, _case

from lrnnx_array._ops.selective_scan import _numba, _numba_nsplit
from lrnnx_array._ops.selective_scan._ref import selective_scan_ref, selective_scan_vjp_ref
from lrnnx_array.ops import selective_scan, selective_scan_vjp

pytestmark = needs_numba


@pytest.fixture
def nsplit(monkeypatch):
    """force(K, min_states): the next calls cut every row's states into (at most) K blocks."""
    def force(K, min_states=1):
        monkeypatch.setattr(_numba_nsplit, "NSPLIT_BLOCKS", K)
        monkeypatch.setattr(_numba_nsplit, "NSPLIT_MIN_STATES", min_states)
    return force


def _fwd(kw, method):
    return selective_scan(**kw, discretization=method, return_last_state=True, impl="numba")


def _vjp(dout, kw, method, dlast):
    return selective_scan_vjp(dout, **kw, discretization=method, dlast_state=dlast,
                              impl="numba")


def _check(kw, dout, dlast, method, dtype, nsplit, K):
    nsplit(1)
    plain = _fwd(kw, method)
    plain_g = _vjp(dout, kw, method, dlast)
    nsplit(K)
    got = _fwd(kw, method)
    ref = selective_scan_ref(**kw, discretization=method, return_last_state=True)
    close_all(["out", "last"], got, ref, dtype, override="selective_scan_out")
    close_all(["out", "last"], got, plain, dtype, override="selective_scan_out")
    g = _vjp(dout, kw, method, dlast)
    r = selective_scan_vjp_ref(dout, **kw, discretization=method, dlast_state=dlast)
    close_all(NAMES, g, r, dtype, override="selective_scan_grads", normwise=True)
    close_all(NAMES, g, plain_g, dtype, override="selective_scan_grads", normwise=True)


def test_plan():
    # one row on 2 threads: 2 blocks where N / 2 >= 8 and 2 divides N, else none
    assert _numba_nsplit.plan(1, 16, 65536, 2) == 2
    assert _numba_nsplit.plan(1, 17, 65536, 2) == 1
    assert _numba_nsplit.plan(1, 14, 65536, 2) == 1
    assert _numba_nsplit.plan(2, 16, 65536, 2) == 1
    assert _numba_nsplit.plan(1, 16, 8, 2) == 1  # too little work for the pool
    # 16 threads: the largest divisor of N with >= 8 states a block
    assert _numba_nsplit.plan(1, 64, 65536, 16) == 8
    assert _numba_nsplit.plan(1, 24, 65536, 16) == 3
    assert _numba_nsplit.plan(3, 64, 65536, 16) == 4
    assert _numba_nsplit.plan(0, 16, 65536, 2) == 1
    # complex A: not split; a forward the time split would take: 16 states a block
    assert _numba_nsplit.plan(1, 16, 65536, 2, cplx=True) == 1
    assert _numba_nsplit.plan(1, 16, 65536, 2, time_split=True) == 1
    assert _numba_nsplit.plan(1, 32, 65536, 2, time_split=True) == 2
    # the VJP: blocks of 8 where K stays a multiple of the rows' share of the threads
    assert _numba_nsplit.plan(1, 32, 65536, 2, vjp=True) == 4
    assert _numba_nsplit.plan(1, 24, 65536, 2, vjp=True) == 2
    assert _numba_nsplit.plan(1, 16, 65536, 2, vjp=True) == 2
    assert _numba_nsplit.plan(3, 96, 65536, 16, vjp=True) == 12


@pytest.mark.parametrize("method,dtype,bc,extras", CASES)
def test_nsplit_matches_oracle_and_unsplit(method, dtype, bc, extras, nsplit):
    # N = 6 in 3 blocks of 2; 2 batches, 4 channels in 2 groups (2 a group).
    kw, dout, dlast = _case(method, dtype, bc, extras, Bsz=2, Dm=4, N=6, L=157)
    _check(kw, dout, dlast, method, dtype, nsplit, 3)


@pytest.mark.parametrize("N,K", [(6, 4), (9, 2), (5, 3), (8, 8), (12, 5)])
@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_nsplit_blocks_not_dividing(N, K, dtype, nsplit):
    # K not a divisor of N: the largest divisor below it (4 -> 3 of 6, 2 -> 1 of 9: unsplit)
    kw, dout, dlast = _case("zoh", dtype, ("v4", "c"), True, Bsz=1, Dm=1, N=N, L=200, G=1)
    nsplit(K)
    Kp = _numba_nsplit.plan(1, N, 200, 2)
    assert N % Kp == 0 and Kp <= K
    _check(kw, dout, dlast, "zoh", dtype, nsplit, K)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
@pytest.mark.parametrize("z", [False, True])
@pytest.mark.parametrize("store", [False, True])
def test_nsplit_one_row_store_and_recompute(dtype, z, store, nsplit, monkeypatch):
    # The bench's shape scaled down: one row, variable (B, N, L) B and C, D, bias, softplus,
    # over several checkpoint chunks; the VJP's whole-state store and its recompute.
    kw, dout, dlast = _case("mamba", dtype, ("v3", "v3"), True, Bsz=1, Dm=1, N=16, L=1000)
    if not z:
        kw["z"] = None
    monkeypatch.setattr(_numba, "STORE_STATES_MAX_BYTES", (1 << 30) if store else 0)
    _check(kw, dout, dlast, "mamba", dtype, nsplit, 2)


def test_nsplit_nonfinite_like_unsplit(nsplit):
    # An inf input and a NaN step: the same non-finite entries as the unsplit kernels. (Not
    # always the same kind: mamba's ddelta_t = u_t sum_n (...) is a sum over the blocks here,
    # inf - inf = NaN where the unsplit kernel's one product gives -inf; the float64 oracle,
    # a sum over the states, gives NaN there too.)
    kw, dout, dlast = _case("mamba", "float64", ("v3", "c"), True, Bsz=1, Dm=2, N=8, L=300)
    kw["u"][0, 0, 50] = np.inf
    kw["delta"][0, 1, 120] = np.nan
    nsplit(1)
    plain, plain_g = _fwd(kw, "mamba"), _vjp(dout, kw, "mamba", dlast)
    nsplit(2)
    got, g = _fwd(kw, "mamba"), _vjp(dout, kw, "mamba", dlast)
    for a, b in zip((*got, *g), (*plain, *plain_g)):
        if a is None:
            assert b is None
            continue
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))


def test_nsplit_default_plan_one_row(nsplit):
    # Unforced: one row of N = 16 with enough steps (N L >= 2^17) takes the N split on 2+
    # threads (and is correct whichever path the machine's thread count picks).
    kw, dout, dlast = _case("mamba", "float32", ("v3", "v3"), True, Bsz=1, Dm=1, N=16,
                            L=9000)
    nsplit(None, 8)
    got = _fwd(kw, "mamba")
    ref = selective_scan_ref(**kw, discretization="mamba", return_last_state=True)
    close_all(["out", "last"], got, ref, "float32", override="selective_scan_out")
    g = _vjp(dout, kw, "mamba", dlast)
    r = selective_scan_vjp_ref(dout, **kw, discretization="mamba", dlast_state=dlast)
    close_all(NAMES, g, r, "float32", override="selective_scan_grads", normwise=True)
