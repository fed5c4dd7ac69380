"""The split-over-time S5 forward (``_numba_long``: real GEMMs around a time-major scan whose
rows are cut into chunks, corrected by Q_t h_in) against the float64 oracle and the row form,
at small sizes with the module's thresholds lowered: every discretization, step layout,
deltaA, h0, the last state, complex and real u, s5_inner with and without conj_sym, odd chunk
and tile boundaries, L = 1, a Q that decays to 0 inside a chunk, NaN propagation, and which
path the tier takes."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import S5_LAYOUTS, cast, close_all, needs_numba, s5_case

from lrnnx_array import testing
from lrnnx_array._ops.simplified_scan import _numba, _numba_long
from lrnnx_array._ops.simplified_scan._ref import s5_inner_ref, simplified_scan_ref
from lrnnx_array.ops import s5_inner, simplified_scan

pytestmark = needs_numba
testing.add_override("s5_numba_out", 2, "y sums P length-L complex recurrences: float32 rounding "
                     "grows with P and L (as for the generic path)")
DISCS = ("bilinear", "zoh", "dirac")
LAYOUTS = S5_LAYOUTS


def _case(dtype, layout="BPL", deltaA=False, h0=False, **kw):
    return s5_case(dtype, layout, deltaA, h0, **{"P": 5, "L": 77, **kw})


@pytest.fixture
def split(monkeypatch):
    """Force the split form: ``split(K, tile)`` sets the chunks per batch and T P per tile."""
    def set_(K, tile=16):
        monkeypatch.setattr(_numba_long, "SPLIT_CHUNKS", K)
        monkeypatch.setattr(_numba_long, "TILE_ELEMS", tile)
    return set_


def _spy(monkeypatch):
    calls = []
    for name in ("forward", "inner_forward"):
        fn = getattr(_numba_long, name)
        monkeypatch.setattr(_numba_long, name,
                            lambda *a, _fn=fn, _n=name, **k: calls.append(_n) or _fn(*a, **k))
    return calls


def test_plan_splits_only_few_long_rows():
    assert _numba_long.plan(1, 16, 65536, 2) == 2  # the bench row: one batch, two threads
    assert _numba_long.plan(1, 16, 65536, 4) == 4
    assert _numba_long.plan(1, 16, 65536, 1) == 1  # one thread: time-major, unsplit
    assert _numba_long.plan(2, 16, 65536, 2) == 1  # the batch fills the threads
    # too short to split
    assert _numba_long.plan(1, 16, 2 * _numba_long.SPLIT_MIN_STEPS - 1, 2) == 1
    assert _numba_long.plan(1, 16, _numba_long.LONG_MIN_STEPS - 1, 2) == 0  # the row form
    assert _numba_long.plan(1, 0, 65536, 2) == 0
    assert _numba_long.plan(1, 16, 0, 2) == 0


def test_auto_takes_the_split_form_where_planned(monkeypatch):
    kw = _case("complex64", Bsz=1, L=64)
    calls = _spy(monkeypatch)
    simplified_scan(**kw, discretization="zoh")  # small: one thread, the row form
    assert calls == []
    monkeypatch.setattr(_numba_long, "SPLIT_MIN_STEPS", 16)
    monkeypatch.setattr(_numba_long, "LONG_MIN_STEPS", 32)
    monkeypatch.setattr(_numba, "_long_chunks",
                        lambda u, A: (_numba_long.plan(u.shape[0], A.shape[0], u.shape[2], 2),
                                      2))
    y = simplified_scan(**kw, discretization="zoh")
    out = s5_inner(**{**kw, "u": kw["u"].real}, D=np.ones(3, np.float32),
                   discretization="zoh")
    assert calls == ["forward", "inner_forward"]
    ry = simplified_scan_ref(**kw, discretization="zoh")
    close_all(["y"], [y], [ry], "complex64", override="s5_numba_out")
    assert out.dtype == np.float32
    # fused sizes (P >= 64, few channels) stay fused
    calls.clear()
    simplified_scan(**_case("complex64", Bsz=1, P=70, L=64), discretization="zoh")
    assert calls == []


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dtype", ["float32", "complex64", "complex128"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("extras", [False, True])
def test_split_scan_matches_oracle(split, disc, dtype, layout, extras):
    split(3)  # chunks of 25, 26, 26 steps; tiles of 3 steps (T P = 16, P = 5): odd edges
    kw = _case(dtype, layout, deltaA=extras, h0=extras)
    y, last = simplified_scan(**kw, return_last_state=True, discretization=disc, impl="numba")
    ry, rlast = simplified_scan_ref(**kw, return_last_state=True, discretization=disc)
    close_all(["y", "last"], [y, last], [ry, rlast], dtype, override="s5_numba_out")


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
@pytest.mark.parametrize("conj_sym", [True, False])
@pytest.mark.parametrize("layout", ["P", "BPL"])
def test_split_s5_inner_matches_oracle(split, disc, dtype, conj_sym, layout):
    split(2, tile=64)
    kw = _case(dtype, layout, deltaA=layout == "BPL", h0=layout == "P")
    D = cast(np.linspace(-1, 1, 3), "float32" if dtype != "float64" else "float64")
    out = s5_inner(**kw, D=D, discretization=disc, conj_sym=conj_sym, impl="numba")
    ref = s5_inner_ref(**kw, D=D, discretization=disc, conj_sym=conj_sym)
    close_all(["out"], [out], [ref], dtype, override="s5_numba_out")


@pytest.mark.parametrize("K", [1, 2, 4, 7])
@pytest.mark.parametrize("L", [1, 2, 5, 40])
def test_chunk_counts_and_short_rows(split, K, L):
    """K chunks (at most L: one step each at L < K), against the oracle and the row form."""
    split(K)
    kw = _case("complex128", "BPL", deltaA=True, h0=True, L=L)
    y, last = simplified_scan(**kw, return_last_state=True, discretization="zoh", impl="numba")
    ry, rlast = simplified_scan_ref(**kw, return_last_state=True, discretization="zoh")
    close_all(["y", "last"], [y, last], [ry, rlast], "complex128", override="s5_numba_out")
    split(None)
    oy, olast = simplified_scan(**kw, return_last_state=True, discretization="zoh", impl="numba")
    np.testing.assert_allclose(y, oy, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(last, olast, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_correction_workers(threads):
    """The correction pass's tasks handed round-robin to 1-3 workers give the same states."""
    kw = _case("complex128", "BPL", h0=True, Bsz=1, L=300)
    canon = [kw["u"], kw["delta"], kw["A"], kw["B"], kw["C"], None, kw["h0"]]
    y, last = _numba_long.forward(*canon, "bilinear", 5, threads)
    ry, rlast = simplified_scan_ref(**kw, return_last_state=True, discretization="bilinear")
    close_all(["y", "last"], [y, last], [ry, rlast], "complex128", override="s5_numba_out")


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_q_decaying_to_zero_inside_a_chunk(split, dtype):
    """Re(A) ~ -40: Q underflows in a few steps and is flushed to 0, the chunks' corrections
    stop early (and subnormal products never run); the result is still the oracle's."""
    split(3)
    kw = _case(dtype, "BPL", h0=True, L=200, a_re=(30, 50))
    y, last = simplified_scan(**kw, return_last_state=True, discretization="zoh", impl="numba")
    ry, rlast = simplified_scan_ref(**kw, return_last_state=True, discretization="zoh")
    close_all(["y", "last"], [y, last], [ry, rlast], dtype, override="s5_numba_out")


def test_nan_in_u_stays_forward_in_time(split):
    split(3)
    kw = _case("complex64", "BPL", L=64)
    kw["u"] = kw["u"].copy()
    kw["u"][0, 1, 10] = np.nan  # in chunk 0: it reaches chunks 1 and 2 through h_in
    y, last = simplified_scan(**kw, return_last_state=True, discretization="zoh",
                              impl="numba")
    assert np.isfinite(y[0, :, :10]).all() and np.isnan(y[0, :, 10:]).all()
    assert np.isfinite(y[1]).all() and np.isnan(last[0]).all() and np.isfinite(last[1]).all()


@pytest.mark.parametrize("h0_shape", [(5,), (1, 5)])
def test_broadcast_h0(split, h0_shape):
    """h0 broadcast over the batch (a stride-0 view reaches the kernel)."""
    split(2)
    kw = _case("complex128", "BPL", L=30)
    kw["h0"] = np.linspace(-1, 1, 5).reshape(h0_shape) + 0.5j
    y, last = simplified_scan(**kw, return_last_state=True, discretization="zoh", impl="numba")
    ry, rlast = simplified_scan_ref(**kw, return_last_state=True, discretization="zoh")
    close_all(["y", "last"], [y, last], [ry, rlast], "complex128", override="s5_numba_out")

