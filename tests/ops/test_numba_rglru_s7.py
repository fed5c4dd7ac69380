"""The numba RG-LRU and S7 scans against the float64 oracles: float32/float64, forward and VJP,
h0 / bias / the last state's cotangent, L = 1 and prime L, edge values (δ ≤ 0, a = 1), zero-size
dimensions."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import cast, close_all, needs_numba

from lrnnx_array import testing
from lrnnx_array._ops.rglru_scan._ref import rglru_scan_ref, rglru_scan_vjp_ref
from lrnnx_array._ops.s7_scan._ref import s7_scan_ref, s7_scan_vjp_ref
from lrnnx_array.ops import rglru_scan, rglru_scan_vjp, s7_scan, s7_scan_vjp

pytestmark = needs_numba
testing.add_override("numba_scan_out", 2, "outputs sum N length-L recurrences: float32 rounding "
                     "grows with N and L")
testing.add_override("numba_scan_grads", 4, "gradients add a reverse recurrence and sums over "
                     "batch and time to the forward's rounding")
DTYPES = ("float32", "float64")


def _rglru(dtype, Bsz=2, D=3, N=4, L=9, h0=True, seed=0):
    rng = np.random.default_rng(seed)
    delta = rng.uniform(0, 3, (Bsz, D, L))
    delta.flat[::7] = -0.3  # delta < 0: beta clamped to 0
    A = rng.uniform(0.6, 1, (D, N))
    A.flat[:1] = 1.0  # a = 1: beta = 0, Abar = 1
    kw = dict(u=rng.standard_normal((Bsz, D, L)), delta=delta, A=A)
    if h0:
        kw["h0"] = rng.standard_normal((Bsz, D, N))
    kw = {k: cast(v, dtype) for k, v in kw.items()}
    dout = cast(rng.standard_normal((Bsz, D, L)), dtype)
    dlast = cast(rng.standard_normal((Bsz, D, N)), dtype) if h0 else None
    return kw, dout, dlast


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("L", [1, 9, 131])
@pytest.mark.parametrize("h0", [False, True])
def test_rglru_matches_oracle(dtype, L, h0):
    kw, dout, dlast = _rglru(dtype, L=L, h0=h0)
    y, last = rglru_scan(**kw, return_last_state=True, impl="numba")
    close_all(["y", "last"], [y, last], rglru_scan_ref(**kw, return_last_state=True), dtype,
              override="numba_scan_out")
    g = rglru_scan_vjp(dout, **kw, dlast_state=dlast, impl="numba")
    r = rglru_scan_vjp_ref(dout, **kw, dlast_state=dlast)
    close_all(["du", "ddelta", "dA", "dh0"], g, r, dtype, override="numba_scan_grads",
              normwise=True)


def _s7(dtype, Bsz=2, H=3, N=4, L=9, extras=True, seed=0):
    rng = np.random.default_rng(seed)
    kw = dict(u=rng.standard_normal((Bsz, H, L)), A=rng.standard_normal((Bsz, N, L)),
              B=rng.standard_normal((Bsz, N, H, L)), C=rng.standard_normal((Bsz, H, N, L)))
    if extras:
        kw.update(bias=rng.standard_normal((Bsz, N, L)), h0=rng.standard_normal((Bsz, N)))
    kw = {k: cast(v, dtype) for k, v in kw.items()}
    dout = cast(rng.standard_normal((Bsz, H, L)), dtype)
    dlast = cast(rng.standard_normal((Bsz, N)), dtype) if extras else None
    return kw, dout, dlast


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("L", [1, 9, 131])
@pytest.mark.parametrize("extras", [False, True])
def test_s7_matches_oracle(dtype, L, extras):
    kw, dout, dlast = _s7(dtype, L=L, extras=extras)
    y, last = s7_scan(**kw, return_last_state=True, impl="numba")
    close_all(["y", "last"], [y, last], s7_scan_ref(**kw, return_last_state=True), dtype,
              override="numba_scan_out")
    g = s7_scan_vjp(dout, **kw, dlast_state=dlast, impl="numba")
    r = s7_scan_vjp_ref(dout, **kw, dlast_state=dlast)
    close_all(["du", "dA", "dB", "dC", "dbias", "dh0"], g, r, dtype,
              override="numba_scan_grads", normwise=True)


@pytest.mark.parametrize("dims", [dict(Bsz=0), dict(D=0), dict(N=0), dict(L=0)])
def test_rglru_zero_size(dims):
    kw, dout, dlast = _rglru("float32", **dims)
    y, last = rglru_scan(**kw, return_last_state=True, impl="numba")
    assert y.shape == kw["u"].shape and last.shape == kw["h0"].shape
    g = rglru_scan_vjp(dout, **kw, dlast_state=dlast, impl="numba")
    assert [x.shape for x in g] == [kw[k].shape for k in ("u", "delta", "A", "h0")]


@pytest.mark.parametrize("dims", [dict(Bsz=0), dict(H=0), dict(N=0), dict(L=0)])
def test_s7_zero_size(dims):
    kw, dout, dlast = _s7("float32", **dims)
    y, last = s7_scan(**kw, return_last_state=True, impl="numba")
    assert y.shape == kw["u"].shape and last.shape == kw["h0"].shape
    g = s7_scan_vjp(dout, **kw, dlast_state=dlast, impl="numba")
    assert [x.shape for x in g] == [kw[k].shape for k in ("u", "A", "B", "C", "bias", "h0")]
