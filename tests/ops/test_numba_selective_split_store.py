"""The split forward's stored head (``_numba_split``: W_t = C_t Q_t kept by pass 1, capped by
``SPLIT_STORE_BYTES``) forced on small sizes: no store (the recurrence everywhere), a store of a
few tiles (the recurrence past it, from the Q pass 1 left there) and the whole chunk, each
against the float64 oracle and the unsplit kernels; a slowly decaying state, so that Q is still
live past the stored tiles; every discretization, real and complex, D, z, bias, deltaA, h0 and
the last state; odd chunk / piece / tile boundaries, L = 1, underflow and NaN propagation."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import close_all, needs_numba
from test_numba_selective_scan import CASES, _case

from lrnnx_array._ops.selective_scan import _numba_split
from lrnnx_array._ops.selective_scan._ref import selective_scan_ref
from lrnnx_array.ops import selective_scan

pytestmark = needs_numba


def _fwd(kw, method):
    return selective_scan(**kw, discretization=method, return_last_state=True, impl="numba")


def _store_bytes(store, kw, K):
    """SPLIT_STORE_BYTES for a store of ``store`` tiles per later chunk ("all": the default)."""
    if store == "all":
        return _numba_split.SPLIT_STORE_BYTES
    Bsz, Dm, _ = kw["u"].shape
    N = kw["A"].shape[1]
    return store * Bsz * Dm * (K - 1) * 64 * N * kw["A"].dtype.itemsize


def _check(kw, method, dtype, monkeypatch, K, J, store):
    monkeypatch.setattr(_numba_split, "SPLIT_CHUNKS", None)
    plain = _fwd(kw, method)
    Bsz, Dm, L = kw["u"].shape
    nbytes = _store_bytes(store, kw, K)
    monkeypatch.setattr(_numba_split, "SPLIT_STORE_BYTES", nbytes)
    if store != "all":  # the cap gives the tiles asked for (at most the chunk's)
        S = _numba_split.store_tiles(Bsz * Dm, K, L, kw["A"].shape[1], kw["A"].dtype.itemsize)
        assert S == min(store, (L // K + 64) // 64)
    monkeypatch.setattr(_numba_split, "SPLIT_CHUNKS", K)
    monkeypatch.setattr(_numba_split, "SPLIT_PIECES", J)
    got = _fwd(kw, method)
    ref = selective_scan_ref(**kw, discretization=method, return_last_state=True)
    close_all(["out", "last"], got, ref, dtype, override="selective_scan_out")
    close_all(["out", "last"], got, plain, dtype, override="selective_scan_out")
    return got, plain


def _slow(kw, method):
    """The decay slowed ~10x (Q stays above the flush threshold over whole chunks)."""
    kw = dict(kw)
    A = kw["A"]
    kw["A"] = (A ** 0.1 if method == "rglru" else A * 0.1).astype(A.dtype)
    return kw


@pytest.mark.parametrize("store", [0, 2, "all"])
@pytest.mark.parametrize("method,dtype,bc,extras", CASES)
def test_store_matches_oracle_and_unsplit(method, dtype, bc, extras, store, monkeypatch):
    # L = 1000 in 3 chunks of 333 / 333 / 334 steps (6 tiles, the last one short), 2 pieces:
    # piece 0 (tiles 0-2) has stored tiles and, with 2 stored, a recurrence from tile 2.
    kw, _, _ = _case(method, dtype, bc, extras, Bsz=1, Dm=2, L=1000)
    _check(_slow(kw, method), method, dtype, monkeypatch, 3, 2, store)


@pytest.mark.parametrize("K,J,L,store", [(3, 1, 1, 1), (2, 1, 1, 0), (4, 3, 2, 1),
                                         (5, 2, 700, 1), (2, 3, 200, 1), (3, 4, 1131, 3),
                                         (7, 1, 64, 1), (2, 2, 1290, 4), (2, 5, 1290, 7)])
@pytest.mark.parametrize("dtype", ["float64", "complex64"])
def test_store_odd_boundaries(K, J, L, store, dtype, monkeypatch):
    # Empty chunks (K > L), a store longer than the chunk, pieces wholly inside or past it,
    # chunks of one tile and a step.
    kw, _, _ = _case("zoh", dtype, ("v4", "v3"), True, Bsz=1, Dm=1, N=5, L=L, G=1)
    _check(_slow(kw, "zoh"), "zoh", dtype, monkeypatch, K, J, store)


@pytest.mark.parametrize("store", [0, 1, "all"])
@pytest.mark.parametrize("dtype", ["float32", "complex64", "complex128"])
def test_store_underflow(dtype, store, monkeypatch):
    # Fast decay: Q is flushed to 0 in the first stored tile; past it nothing is stored, the
    # correction is 0 and only the gate applies.
    kw, _, _ = _case("mamba", dtype, ("v3", "v3"), True, Bsz=1, Dm=1, N=4, L=3000)
    kw["delta"] = np.full_like(kw["delta"], 2.0)
    _check(kw, "mamba", dtype, monkeypatch, 3, 2, store)


@pytest.mark.parametrize("store", [0, 2, "all"])
@pytest.mark.parametrize("dtype", ["float32", "complex64"])
def test_store_propagates_nan(dtype, store, monkeypatch):
    # A NaN in chunk 0 makes every later chunk's h_in NaN: stored tiles, the recurrence and
    # the zero tail all give NaN (0 NaN), as the unsplit scan does.
    kw, _, _ = _case("mamba", dtype, ("c", "c"), True, Bsz=1, Dm=1, L=1000)
    kw["u"] = kw["u"].copy()
    kw["u"][0, 0, 5] = np.nan
    kw["delta"] = np.full_like(kw["delta"], 2.0)  # Q dies in the first tile: a zero tail
    monkeypatch.setattr(_numba_split, "SPLIT_CHUNKS", None)
    plain, plain_last = _fwd(kw, "mamba")
    monkeypatch.setattr(_numba_split, "SPLIT_STORE_BYTES", _store_bytes(store, kw, 3))
    monkeypatch.setattr(_numba_split, "SPLIT_CHUNKS", 3)
    monkeypatch.setattr(_numba_split, "SPLIT_PIECES", 2)
    out, last = _fwd(kw, "mamba")
    np.testing.assert_array_equal(np.isnan(out), np.isnan(plain))
    np.testing.assert_array_equal(np.isnan(last), np.isnan(plain_last))
    assert np.isnan(out[0, 0, 5:]).all()


def test_store_tiles():
    n = _numba_split.SPLIT_STORE_BYTES
    per_tile = 1 * 1 * 64 * 16 * 8  # one row, K = 2, N = 16, complex64
    assert _numba_split.store_tiles(1, 2, 65536, 16, 8) == min(513, n // per_tile)
    assert _numba_split.store_tiles(1, 2, 100, 16, 8) == 1  # the chunk's 50 steps: 1 tile
    assert _numba_split.store_tiles(3, 4, 1 << 40, 16, 16) == n // (3 * 3 * 64 * 16 * 16)
