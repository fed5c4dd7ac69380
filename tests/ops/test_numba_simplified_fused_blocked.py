"""The register-blocked tile products of the fused S5 forms (``_numba_fused_gemm``) against
float64 NumPy at every blocking remainder (channels not a multiple of the block of 4, odd time
rows, a state count off the vector width, a state offset), then the fused passes at such
channel counts against the float64 oracle and against the BLAS form (the fused pass switched
off through ``MAX_H``)."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import cast, close_all, needs_numba

from lrnnx_array import testing
from lrnnx_array._ops.simplified_scan import _numba_fused
from lrnnx_array._ops.simplified_scan import _numba_fused_gemm as G
from lrnnx_array._ops.simplified_scan._ref import (
    s5_inner_ref,
    s5_inner_vjp_ref,
    simplified_scan_ref,
    simplified_scan_vjp_ref,
)
from lrnnx_array.ops import s5_inner, s5_inner_vjp, simplified_scan, simplified_scan_vjp

pytestmark = needs_numba
N_STATES, C0 = 37, 5  # lanes off any vector width, read from a state offset
SCAN_NAMES = ("du", "ddelta", "dA", "dB", "dC", "ddeltaA", "dh0")
INNER_NAMES = ("du", "ddelta", "dA", "dB", "dC", "dD", "ddeltaA", "dh0")


def _complex(rng, shape, zero_imag_rows=()):
    """Complex values with the imaginary part zero on the given rows of axis 1 (the kernels
    skip the imaginary terms of such blocks)."""
    z = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    for r in zero_imag_rows:
        z[:, r] = z[:, r].real
    return z


def _close(got, want, dtype):
    testing.assert_close(got, want.astype(dtype), normwise=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H", [1, 3, 4, 5, 6, 8, 9])
@pytest.mark.parametrize("T", [1, 3, 8])
@pytest.mark.parametrize("kind", ["real", "complex", "mixed"])
def test_project_tile(dtype, H, T, kind):
    rng = np.random.default_rng(H * 10 + T)
    t0, n, L = 2, N_STATES, T + 4
    if kind == "real":
        u = rng.standard_normal((2, H, L))
    else:  # "mixed": some channels real, so some blocks take the imaginary pass and some not
        u = _complex(rng, (2, H, L), range(0, H, 3) if kind == "mixed" else ())
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    u = u.astype(dtype if kind == "real" else cdt)
    B = _complex(rng, (C0 + n + 3, H))
    BrT, BiT = (np.ascontiguousarray(x.T.astype(dtype)) for x in (B.real, B.imag))
    vr, vi = np.full(T * n, np.nan, dtype), np.full(T * n, np.nan, dtype)  # all written
    G.project_tile(u, 1, t0, T, BrT, BiT, C0, n, vr, vi)
    want = (B[C0:C0 + n].astype(np.complex128) @ u[1, :, t0:t0 + T]).T  # (T, n)
    _close(vr.reshape(T, n), want.real, dtype)
    _close(vi.reshape(T, n), want.imag, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("Hp", [1, 2, 3, 4, 5, 7, 9])
@pytest.mark.parametrize("T", [1, 2, 3, 5])
def test_output_tile(dtype, Hp, T):
    rng = np.random.default_rng(Hp * 10 + T)
    n = N_STATES
    M = _complex(rng, (Hp, C0 + n + 2))
    x = _complex(rng, (T, n))
    Mr, Mi = M.real.astype(dtype), M.imag.astype(dtype)
    xr, xi = (np.ascontiguousarray(v.astype(dtype)).reshape(-1) for v in (x.real, x.imag))
    for want_imag in (False, True):
        yr, yi = np.full(T * Hp, np.nan, dtype), np.full(T * Hp, np.nan, dtype)
        G.output_tile(T, n, C0, Mr, -Mi, Mi, xr, xi, want_imag, yr, yi)
        want = x @ M[:, C0:C0 + n].T  # (T, Hp): y = M x per time row
        _close(yr.reshape(T, Hp), want.real, dtype)
        if want_imag:
            _close(yi.reshape(T, Hp), want.imag, dtype)
        else:
            assert np.isnan(yi).all()  # the imaginary plane untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T", [1, 3, 4, 5, 8, 9])
@pytest.mark.parametrize("kind", ["real", "mixed"])
def test_outer_acc(dtype, T, kind):
    rng = np.random.default_rng(T)
    H, n, t0, L = 3, N_STATES, 1, T + 3
    z = rng.standard_normal((2, H, L)) if kind == "real" else _complex(rng, (2, H, L))
    if kind == "mixed":  # a time block of real values between complex ones
        z[:, :, t0 + 4:t0 + 8] = z[:, :, t0 + 4:t0 + 8].real
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    z = z.astype(dtype if kind == "real" else cdt)
    p = _complex(rng, (T, n))
    pr, pi = (np.ascontiguousarray(v.astype(dtype)).reshape(-1) for v in (p.real, p.imag))
    acc0 = _complex(rng, (H, n))
    accr, acci = (np.ascontiguousarray(v.astype(dtype)).reshape(-1) for v in (acc0.real,
                                                                             acc0.imag))
    G.outer_acc(z, 1, t0, T, n, pr, pi, accr, acci)
    want = acc0 + np.conj(z[1, :, t0:t0 + T]).astype(np.complex128) @ p  # (H, n)
    _close(accr.reshape(H, n), want.real, dtype)
    _close(acci.reshape(H, n), want.imag, dtype)


def _case(dtype, H, L, seed=0):
    rng = np.random.default_rng(seed)
    Bsz, P = 2, 70
    real = "float32" if dtype in ("float32", "complex64") else "float64"
    u = rng.standard_normal((Bsz, H, L)) if not dtype.startswith("complex") else _complex(
        rng, (Bsz, H, L), range(0, H, 2))
    return dict(u=cast(u, dtype), delta=cast(rng.uniform(0.05, 0.8, (Bsz, P, L)), real),
                A=cast(-rng.uniform(0.1, 1, P) + 1j * rng.uniform(-2, 2, P), dtype),
                B=cast(_complex(rng, (P, H)) / 2, dtype),
                C=cast(_complex(rng, (H, P)) / 2, dtype))


def _blas_form(monkeypatch):
    monkeypatch.setattr(_numba_fused, "MAX_H", {"forward": 0, "vjp": 0})


@pytest.mark.parametrize("H", [5, 6, 7])
@pytest.mark.parametrize("L", [41, 300])  # one odd tile; tiles of 85 and a tail of 45
def test_scan_at_channel_remainders(H, L, monkeypatch):
    dtype = "complex64"
    assert _numba_fused.suits(2, H, 70, 2, "forward") and _numba_fused.suits(2, H, 70, 2, "vjp")
    kw = _case(dtype, H, L)
    rng = np.random.default_rng(1)
    dout = cast(_complex(rng, kw["u"].shape), dtype)
    y = simplified_scan(**kw, discretization="zoh", impl="numba")
    g = simplified_scan_vjp(dout, **kw, discretization="zoh", impl="numba")
    close_all(["y"], [y], [simplified_scan_ref(**kw, discretization="zoh")], dtype,
              override="s5_fused_out")
    close_all(SCAN_NAMES, g, simplified_scan_vjp_ref(dout, **kw, discretization="zoh"), dtype,
              override="s5_fused_grads", normwise=True)
    _blas_form(monkeypatch)
    assert not _numba_fused.suits(2, H, 70, 2, "forward")
    yb = simplified_scan(**kw, discretization="zoh", impl="numba")
    gb = simplified_scan_vjp(dout, **kw, discretization="zoh", impl="numba")
    close_all(["y"], [y], [yb], dtype, override="s5_fused_out")
    close_all(SCAN_NAMES, g, gb, dtype, override="s5_fused_grads", normwise=True)


@pytest.mark.parametrize("H", [5, 6])
@pytest.mark.parametrize("disc", ["zoh", "bilinear"])
def test_s5_inner_at_channel_remainders(H, disc, monkeypatch):
    dtype = "float32"
    kw = _case(dtype, H, 300)
    D = cast(np.linspace(-1, 1, H), dtype)
    dout = cast(np.random.default_rng(3).standard_normal(kw["u"].shape), dtype)
    out = s5_inner(**kw, D=D, discretization=disc, impl="numba")
    g = s5_inner_vjp(dout, **kw, D=D, discretization=disc, impl="numba")
    close_all(["out"], [out], [s5_inner_ref(**kw, D=D, discretization=disc)], dtype,
              override="s5_fused_out")
    close_all(INNER_NAMES, g, s5_inner_vjp_ref(dout, **kw, D=D, discretization=disc), dtype,
              override="s5_fused_grads", normwise=True)
    _blas_form(monkeypatch)
    ob = s5_inner(**kw, D=D, discretization=disc, impl="numba")
    gb = s5_inner_vjp(dout, **kw, D=D, discretization=disc, impl="numba")
    close_all(["out"], [out], [ob], dtype, override="s5_fused_out")
    close_all(INNER_NAMES, g, gb, dtype, override="s5_fused_grads", normwise=True)


@pytest.mark.parametrize("scale", [1e-6, 1e-2, 0.4, 3.0])
def test_float32_zoh_series_across_the_radius(scale):
    """float32 sums phi1'(x)'s series to 9 terms (``_numba_fused_vjp._NC32``): gradients at
    steps whose |x| lies below, around and above SERIES_RADIUS against the float64 oracle."""
    dtype = "complex64"
    kw = _case(dtype, 5, 41)
    kw["delta"] = cast(np.asarray(kw["delta"], np.float64) * scale, "float32")
    dout = cast(_complex(np.random.default_rng(4), kw["u"].shape), dtype)
    g = simplified_scan_vjp(dout, **kw, discretization="zoh", impl="numba")
    close_all(SCAN_NAMES, g, simplified_scan_vjp_ref(dout, **kw, discretization="zoh"), dtype,
              override="s5_fused_grads", normwise=True)
