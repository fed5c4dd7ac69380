"""The numba selective scan VJP with the forward's states kept (``_numba._bwd``'s ``store``,
on below ``STORE_STATES_MAX_BYTES``) against the checkpoint recompute (the cap lowered to 0)
and the float64 oracle: every discretization, real and complex, constant / variable / grouped
B and C, D, z, bias, deltaA, h0, the last state's cotangent; several channels per task (the
buffers reused) and lengths off the tile size."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import close_all, needs_numba
from test_numba_selective_scan import CASES, NAMES, _case

from lrnnx_array._ops.selective_scan import _numba
from lrnnx_array._ops.selective_scan._ref import selective_scan_vjp_ref
from lrnnx_array.ops import selective_scan_vjp

pytestmark = needs_numba


def _vjp(dout, kw, method, dlast):
    return selective_scan_vjp(dout, **kw, discretization=method, dlast_state=dlast,
                              impl="numba")


def _check(kw, dout, dlast, method, dtype, monkeypatch):
    monkeypatch.setattr(_numba, "STORE_STATES_MAX_BYTES", 0)
    recomputed = _vjp(dout, kw, method, dlast)
    monkeypatch.setattr(_numba, "STORE_STATES_MAX_BYTES", 1 << 30)
    stored = _vjp(dout, kw, method, dlast)
    ref = selective_scan_vjp_ref(dout, **kw, discretization=method, dlast_state=dlast)
    close_all(NAMES, stored, ref, dtype, override="selective_scan_grads", normwise=True)
    close_all(NAMES, stored, recomputed, dtype, override="selective_scan_grads",
              normwise=True)


@pytest.mark.parametrize("method,dtype,bc,extras", CASES)
def test_stored_states_match_oracle_and_recompute(method, dtype, bc, extras, monkeypatch):
    # L = 131: two full tiles and one of 3 steps; Dm = 6 in 2 groups: channels share a task.
    kw, dout, dlast = _case(method, dtype, bc, extras, Bsz=2, Dm=6, L=131)
    _check(kw, dout, dlast, method, dtype, monkeypatch)


@pytest.mark.parametrize("L", [1, 63, 64, 65])
@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_stored_states_tile_edges(L, dtype, monkeypatch):
    kw, dout, dlast = _case("mamba", dtype, ("v4", "v3"), True, Bsz=1, Dm=5, N=4, L=L, G=1)
    _check(kw, dout, dlast, "mamba", dtype, monkeypatch)


@pytest.mark.parametrize("method", ["mamba", "dirac", "zoh", "bilinear"])
def test_store_follows_the_cap(method, monkeypatch):
    # mamba/dirac keep Abar too (two buffers); the rest recompute it (one).
    per = (2 if method in ("mamba", "dirac") else 1) * 3 * (100 + 1) * 4 * 8
    monkeypatch.setattr(_numba, "STORE_STATES_MAX_BYTES", per)
    store, Hst, Ast = _numba._state_store(3, 100, 4, np.dtype("float64"), method)
    assert store and Hst.shape == (3, 101 * 4)
    assert Ast.shape == ((3, 400) if method in ("mamba", "dirac") else (1, 1))
    monkeypatch.setattr(_numba, "STORE_STATES_MAX_BYTES", per - 1)
    assert not _numba._state_store(3, 100, 4, np.dtype("float64"), method)[0]
    assert not _numba._state_store(0, 100, 4, np.dtype("float64"), method)[0]


@pytest.fixture
def split(monkeypatch):
    """force(K): the next calls split every row into K chunks over time."""
    from lrnnx_array._ops.selective_scan import _numba_split

    def force(K):
        monkeypatch.setattr(_numba_split, "SPLIT_CHUNKS", K)
        monkeypatch.setattr(_numba_split, "SPLIT_PIECES", 2 if K else None)
    return force


@pytest.mark.parametrize("method,dtype,bc,extras", CASES)
def test_split_stored_states_match_oracle_and_recompute(method, dtype, bc, extras,
                                                        monkeypatch, split):
    # L = 157 in 3 chunks (52, 52, 53 steps): the local states + Q_t h_in of pass A.
    kw, dout, dlast = _case(method, dtype, bc, extras, Bsz=2, Dm=2, L=157)
    split(3)
    _check(kw, dout, dlast, method, dtype, monkeypatch)


@pytest.mark.parametrize("K,L", [(3, 1), (4, 2), (2, 129), (7, 64), (3, 131)])
@pytest.mark.parametrize("dtype", ["float64", "complex64"])
@pytest.mark.parametrize("method", ["mamba", "zoh"])
def test_split_stored_states_odd_boundaries(K, L, dtype, method, monkeypatch, split):
    # Empty chunks (K > L), chunks of one tile and a step.
    kw, dout, dlast = _case(method, dtype, ("v4", "v3"), True, Bsz=1, Dm=1, N=5, L=L, G=1)
    split(K)
    _check(kw, dout, dlast, method, dtype, monkeypatch)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
def test_split_stored_states_after_q_flushes(dtype, monkeypatch, split):
    # Fast decay: Q is flushed to 0 early in each later chunk, where the local states are
    # read as they are (no correction).
    kw, dout, dlast = _case("mamba", dtype, ("v3", "v3"), True, Bsz=1, Dm=1, N=4, L=3000)
    kw["delta"] = np.full_like(kw["delta"], 2.0)
    split(3)
    _check(kw, dout, dlast, "mamba", dtype, monkeypatch)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_split_stored_states_non_finite_state(bad, monkeypatch, split):
    # A non-finite state entering a chunk reaches the gradients as in the recompute, even
    # where Q was flushed to 0 (0 * inf is NaN in both).
    kw, dout, dlast = _case("mamba", "float32", ("v3", "v3"), False, Bsz=1, Dm=1, N=4, L=300)
    kw["delta"] = np.full_like(kw["delta"], 2.0)
    kw["u"][0, 0, 40] = bad
    split(3)
    monkeypatch.setattr(_numba, "STORE_STATES_MAX_BYTES", 0)
    recomputed = _vjp(dout, kw, "mamba", dlast)
    monkeypatch.setattr(_numba, "STORE_STATES_MAX_BYTES", 1 << 30)
    stored = _vjp(dout, kw, "mamba", dlast)
    for name, a, b in zip(NAMES, stored, recomputed):
        if b is not None:
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
            np.testing.assert_array_equal(np.isinf(a), np.isinf(b), err_msg=name)
