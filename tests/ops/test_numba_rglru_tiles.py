"""The numba RG-LRU scan's row kernels against the float64 oracle: several time tiles per row,
8-row tasks with a partly filled last one (and a single row), N > 1, strided
inputs, edge values (δ < 0, δ = 0, a = 1) past the first tile, NaN kept to its own lane, and the
forward's row kernel (8-row tasks, 256-step tiles)."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import cast, close_all, needs_numba

from lrnnx_array import testing
from lrnnx_array._ops.rglru_scan._ref import rglru_scan_ref, rglru_scan_vjp_ref
from lrnnx_array.ops import rglru_scan, rglru_scan_vjp

pytestmark = needs_numba
testing.add_override("numba_scan_out", 2, "outputs sum N length-L recurrences: float32 rounding "
                     "grows with N and L")
testing.add_override("numba_scan_grads", 4, "gradients add a reverse recurrence and sums over "
                     "batch and time to the forward's rounding")

# (Bsz, D, N, L): tasks of 8 rows (the last one partly filled), tiles of 256 steps (a short last).
CASES = [
    (5, 13, 1, 600),  # R = 65: 9 tasks, the last with one row
    (1, 16, 2, 700),  # R = 16: two full tasks, two states
    (2, 3, 1, 700),  # R = 6: one task of 6 rows
    (1, 1, 3, 2200),  # R = 1: one row, 9 tiles
]


def _data(dtype, Bsz, D, N, L, seed=0):
    rng = np.random.default_rng(seed)
    delta = rng.uniform(0, 3, (Bsz, D, L))
    delta.flat[5::11] = -0.4  # beta clamped to 0
    delta.flat[7::13] = 0.0  # beta = 0, Abar = 1: the kink's gradient 0
    A = rng.uniform(0.6, 1, (D, N))
    A.flat[::4] = 1.0
    kw = dict(u=rng.standard_normal((Bsz, D, L)), delta=delta, A=A,
              h0=rng.standard_normal((Bsz, D, N)))
    kw = {k: cast(v, dtype) for k, v in kw.items()}
    dout = cast(rng.standard_normal((Bsz, D, L)), dtype)
    dlast = cast(rng.standard_normal((Bsz, D, N)), dtype)
    return kw, dout, dlast


def test_cases_cover_partial_tasks_and_several_tiles():
    from lrnnx_array._ops.rglru_scan import _numba_rows

    W, steps = _numba_rows.LANES, _numba_rows.STEPS
    assert [B * D % W for B, D, _, _ in CASES] == [1, 0, 6, 1]
    for _, _, _, L in CASES:
        assert L > 2 * steps and L % steps, "each case must span three tiles, the last short"


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("Bsz,D,N,L", CASES)
def test_tiles_match_oracle(dtype, Bsz, D, N, L, keep, monkeypatch):
    from lrnnx_array._ops.rglru_scan import _numba

    # The backward keeps the first pass's tiles when they are small (every case here), else
    # recomputes each tile from a checkpoint: both ways, against the oracle.
    assert 3 * N * L * 8 * 2 <= _numba._KEEP_MAX
    if not keep:
        monkeypatch.setattr(_numba, "_KEEP_MAX", 0)
    kw, dout, dlast = _data(dtype, Bsz, D, N, L)
    y, last = rglru_scan(**kw, return_last_state=True, impl="numba")
    close_all(["y", "last"], [y, last], rglru_scan_ref(**kw, return_last_state=True), dtype,
              override="numba_scan_out")
    g = rglru_scan_vjp(dout, **kw, dlast_state=dlast, impl="numba")
    r = rglru_scan_vjp_ref(dout, **kw, dlast_state=dlast)
    close_all(["du", "ddelta", "dA", "dh0"], g, r, dtype, override="numba_scan_grads",
              normwise=True)


def test_strided_inputs_match_contiguous():
    kw, dout, dlast = _data("float32", 5, 13, 1, 150)
    # (B, L, D) buffers seen as (B, D, L): the time axis is not the contiguous one
    strided = {k: (np.ascontiguousarray(np.swapaxes(v, 1, 2)).swapaxes(1, 2)
                   if k in ("u", "delta") else v) for k, v in kw.items()}
    assert not strided["u"].flags.c_contiguous
    for a, b in zip(rglru_scan(**strided, return_last_state=True, impl="numba"),
                    rglru_scan(**kw, return_last_state=True, impl="numba")):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(rglru_scan_vjp(dout, **strided, dlast_state=dlast, impl="numba"),
                    rglru_scan_vjp(dout, **kw, dlast_state=dlast, impl="numba")):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_stays_in_its_row_and_after_its_step(bad):
    kw, dout, _ = _data("float32", 5, 13, 1, 600)
    clean = rglru_scan(**kw, impl="numba")
    kw["u"] = kw["u"].copy()
    kw["u"][2, 7, 300] = bad  # row 33: lane 1 of the fifth task, the second tile
    with np.errstate(all="ignore"):
        y = rglru_scan(**kw, impl="numba")
        want = rglru_scan_ref(**kw)
    np.testing.assert_array_equal(np.isfinite(y), np.isfinite(want))
    others = np.ones(y.shape, bool)
    others[2, 7, 300:] = False
    np.testing.assert_array_equal(y[others], clean[others])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("Bsz,D,N,L", [(3, 5, 2, 600), (1, 9, 1, 513), (2, 1, 3, 700)])
def test_forward_rows_match_oracle(dtype, Bsz, D, N, L):
    """The forward's row kernel: tasks of 8 rows with a partly filled last one (15, 9 and 2
    rows), several time tiles with a short last one, N > 1 summed into y."""
    from lrnnx_array._ops.rglru_scan import _numba_rows

    assert L > 2 * _numba_rows.STEPS and L % _numba_rows.STEPS
    assert Bsz * D % _numba_rows.LANES
    kw, _, _ = _data(dtype, Bsz, D, N, L, seed=1)
    y, last = rglru_scan(**kw, return_last_state=True, impl="numba")
    close_all(["y", "last"], [y, last], rglru_scan_ref(**kw, return_last_state=True), dtype,
              override="numba_scan_out")
