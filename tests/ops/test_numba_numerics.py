"""The numba scalar formulas against the numerics layer, down to tiny dt*A (real and complex)."""

from __future__ import annotations

import array_api_compat.numpy as xp
import numpy as np
import pytest
from _numba_common import needs_numba

from lrnnx_array import testing
from lrnnx_array._ops._shared import numba_support as nbs
from lrnnx_array._ops._shared import numerics

pytestmark = needs_numba


def _points(dtype):
    mag = np.concatenate([-np.logspace(-14, 0.5, 40), [0.0], np.logspace(-14, 0.5, 40)])
    if dtype.startswith("complex"):
        x = mag * np.exp(1j * np.linspace(0, 2 * np.pi, mag.size))
    else:
        x = mag
    return x.astype(dtype)


@pytest.fixture(scope="module")
def kernels():
    nb = nbs.numba()
    cexp, exp_phi1, dphi1, _, _, rg, _, _, _, vexp = nbs.scalars()

    @nb.njit
    def phi(x, E, P, D):
        for i in range(x.shape[0]):
            e, p = exp_phi1(x[i])
            E[i], P[i], D[i] = e, p, dphi1(x[i], e, p)

    @nb.njit
    def rglru(dt, lnA, Ab, g):
        for i in range(dt.shape[0]):
            Ab[i], g[i] = rg(dt[i], lnA[i])

    @nb.njit
    def vec(x, out):
        vexp(x, out, x.shape[0])

    return phi, rglru, vec


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_exp_phi1_dphi1_match_numerics(kernels, dtype):
    x = _points(dtype)
    E, P, D = (np.empty_like(x) for _ in range(3))
    kernels[0](x, E, P, D)
    x64 = x.astype(np.complex128 if dtype.startswith("complex") else np.float64)
    wE, wP, xs = numerics.exp_phi1(xp, x64)
    wD = numerics.dphi1(xp, xs, wE, wP)
    for name, got, want in (("exp", E, wE), ("phi1", P, wP), ("dphi1", D, wD)):
        testing.assert_close(got, want.astype(dtype), err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rglru_gamma_matches_numerics(kernels, dtype):
    dt = np.concatenate([np.logspace(-12, 1, 30), [0.0, -0.5]]).astype(dtype)
    A = np.full(dt.shape, 0.999, dtype)
    Ab, g = np.empty_like(dt), np.empty_like(dt)
    kernels[1](dt, np.log(A), Ab, g)
    (wAb, wg), _ = numerics.rglru_clamped(xp, A.astype(np.float64), dt.astype(np.float64))
    testing.assert_close(Ab, wAb.astype(dtype), err_msg="Abar")
    testing.assert_close(g, wg.astype(dtype), err_msg="gamma")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vexp_matches_exp(kernels, dtype):
    hi = 88.7 if dtype == "float32" else 709.0
    lo = -86.0 if dtype == "float32" else -706.0
    x = np.concatenate([np.linspace(lo, hi, 20001), [0.0, 1e-30, -1e-30]]).astype(dtype)
    out = np.empty_like(x)
    kernels[2](x, out)
    testing.assert_close(out, np.exp(x.astype(np.float64)).astype(dtype))
    special = np.array([np.nan, np.inf, -np.inf, 1e4, -1e4], dtype)
    out = np.empty_like(special)
    kernels[2](special, out)
    assert np.isnan(out[0]) and out[1] == np.inf and out[2] == 0 and out[3] == np.inf
    assert out[4] == 0
