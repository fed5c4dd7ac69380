"""The numba selective scan with rows split over time (``_numba_split``, for fewer rows than
threads), forced on small sizes: against the float64 oracle and against the unsplit kernels,
every discretization, real and complex, constant / variable / grouped B and C, D, z, bias,
deltaA, h0, the last state and its cotangent; chunk and piece counts that do not divide L or
the tiles, empty chunks (L = 1), and a decaying state whose correction underflows to 0."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import close_all, needs_numba
from test_numba_selective_scan import CASES, NAMES, _case

from lrnnx_array._ops.selective_scan import _numba_split
from lrnnx_array._ops.selective_scan._ref import selective_scan_ref, selective_scan_vjp_ref
from lrnnx_array.ops import selective_scan, selective_scan_vjp

pytestmark = needs_numba


@pytest.fixture
def split(monkeypatch):
    """force(K, J): the next calls split every row into K chunks (J correction pieces)."""
    def force(K, J=None):
        monkeypatch.setattr(_numba_split, "SPLIT_CHUNKS", K)
        monkeypatch.setattr(_numba_split, "SPLIT_PIECES", J)
    return force


def _fwd(kw, method):
    return selective_scan(**kw, discretization=method, return_last_state=True, impl="numba")


def _vjp(dout, kw, method, dlast):
    return selective_scan_vjp(dout, **kw, discretization=method, dlast_state=dlast,
                              impl="numba")


def _check(kw, dout, dlast, method, dtype, split, K, J, grads=True):
    split(None)
    plain = _fwd(kw, method)
    plain_g = _vjp(dout, kw, method, dlast) if grads else None
    split(K, J)
    got = _fwd(kw, method)
    ref = selective_scan_ref(**kw, discretization=method, return_last_state=True)
    close_all(["out", "last"], got, ref, dtype, override="selective_scan_out")
    close_all(["out", "last"], got, plain, dtype, override="selective_scan_out")
    if grads:
        g = _vjp(dout, kw, method, dlast)
        r = selective_scan_vjp_ref(dout, **kw, discretization=method, dlast_state=dlast)
        close_all(NAMES, g, r, dtype, override="selective_scan_grads", normwise=True)
        close_all(NAMES, g, plain_g, dtype, override="selective_scan_grads", normwise=True)


@pytest.mark.parametrize("method,dtype,bc,extras", CASES)
def test_split_matches_oracle_and_unsplit(method, dtype, bc, extras, split):
    # L = 157 in 3 chunks (52, 52, 53 steps: no tile boundary in common), 2 pieces each.
    kw, dout, dlast = _case(method, dtype, bc, extras, Bsz=2, Dm=2, L=157)
    _check(kw, dout, dlast, method, dtype, split, 3, 2)


@pytest.mark.parametrize("K,J,L", [(3, 1, 1), (2, 1, 1), (4, 3, 2), (5, 2, 7), (2, 3, 200),
                                   (3, 4, 131), (7, 1, 64), (2, 2, 129)])
@pytest.mark.parametrize("dtype", ["float64", "complex64"])
def test_split_odd_boundaries(K, J, L, dtype, split):
    # Empty chunks (K > L), pieces past a chunk's last tile, chunks of one tile and a step.
    kw, dout, dlast = _case("zoh", dtype, ("v4", "v3"), True, Bsz=1, Dm=1, N=5, L=L, G=1)
    _check(kw, dout, dlast, "zoh", dtype, split, K, J)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
@pytest.mark.parametrize("z", [False, True])
def test_split_correction_underflows(dtype, z, split):
    # Fast decay: Q_t h_in underflows to exactly 0 early in each later chunk, where the
    # correction stops (the gate must still be applied to the rest).
    kw, dout, dlast = _case("mamba", dtype, ("v3", "v3"), True, Bsz=1, Dm=1, N=4, L=3000)
    kw["delta"] = np.full_like(kw["delta"], 2.0)
    if not z:
        kw["z"] = None
    _check(kw, dout, dlast, "mamba", dtype, split, 3, 2)


def test_split_propagates_nan(split):
    kw, _, _ = _case("mamba", "float64", ("c", "c"), True, Bsz=1, Dm=1, L=300)
    kw["u"] = kw["u"].copy()
    kw["u"][0, 0, 5] = np.nan
    split(None)
    plain, plain_last = _fwd(kw, "mamba")
    split(3, 2)
    out, last = _fwd(kw, "mamba")
    np.testing.assert_array_equal(np.isnan(out), np.isnan(plain))
    np.testing.assert_array_equal(np.isnan(last), np.isnan(plain_last))
    assert np.isnan(out[0, 0, 5:]).all()


def test_plan(monkeypatch):
    monkeypatch.setattr(_numba_split, "SPLIT_MIN_STEPS", 1000)
    assert _numba_split.plan(1, 65536, 2) == (2, 8)  # one row, two threads
    assert _numba_split.plan(2, 65536, 2) == (1, 1)  # as many rows as threads: unsplit
    assert _numba_split.plan(1, 1500, 2) == (1, 1)  # chunks would be too short
    assert _numba_split.plan(3, 65536, 8) == (3, 8)
    assert _numba_split.plan(0, 65536, 2) == (1, 1)
    assert _numba_split.plan(1, 65536, 1) == (1, 1)
