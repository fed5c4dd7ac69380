"""The vectorised tiles of ``_numba_disc`` (complex zoh, real and complex bilinear): (Abar,
gamma) and the five VJP partials element by element against the numerics layer in float64
(|dt A| from 1e-8 to ~60 across phi1' series radius, x = 0, a separate A step), and the scan
and its VJP through them against the float64 oracle on both sides of the radius."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import close_all, needs_numba
from test_numba_selective_scan import NAMES, _case

from lrnnx_array._ops._shared import numba_support
from lrnnx_array._ops.selective_scan._ref import selective_scan_ref, selective_scan_vjp_ref
from lrnnx_array.ops import selective_scan, selective_scan_vjp
from lrnnx_array.testing import assert_close

pytestmark = needs_numba
CASES = [("zoh", "complex64"), ("zoh", "complex128"), ("bilinear", "float32"),
         ("bilinear", "float64"), ("bilinear", "complex64"), ("bilinear", "complex128")]


def _rows(dtype, N=7, T=64):
    rng = np.random.default_rng(5)
    real = "float32" if dtype in ("float32", "complex64") else "float64"
    A = -np.geomspace(1e-4, 6, N)
    if dtype.startswith("complex"):
        A = A + 1j * np.linspace(-6, 6, N)
    dts = np.geomspace(1e-4, 10, T)
    dts[T // 2] = 0  # x = 0: phi1 = 1, phi1' = 1/2
    return A.astype(dtype), dts.astype(real), rng.uniform(0.01, 2, T).astype(real)


@pytest.mark.parametrize("method,dtype", CASES)
@pytest.mark.parametrize("split", [False, True])
def test_tiles_elementwise(method, dtype, split):
    from lrnnx_array._ops._shared.numerics import selective_disc
    from lrnnx_array._ops.selective_scan._numba_disc import disc_fast, partials_fast

    nb = numba_support.numba()

    @nb.njit
    def run(m, a, dts, dtAs, T, ab, gm, p0, p1, p2, p3, p4, wx, ws, wc):
        ok = disc_fast(m, a, dts, dtAs, T, ab, gm, wx, ws, wc)
        return ok and partials_fast(m, a, dts, dtAs, T, ab, p0, p1, p2, p3, p4, wx, ws, wc)

    N, T = 7, 64
    A, dts, dtAs = _rows(dtype, N, T)
    if not split:
        dtAs = dts.copy()
    real = dts.dtype
    out = [np.empty(T * N, dtype) for _ in range(7)]
    w = [np.empty(T * N, real) for _ in range(3)]
    assert run(numba_support.METHOD_CODE[method], A, dts, dtAs, T, *out, *w)
    A64 = A.astype("complex128" if dtype.startswith("complex") else "float64")[None]
    r = selective_disc(np, method, A64, np.float64(dts)[:, None],
                       np.float64(dtAs)[:, None] if split else None, grad=True)
    if split:
        want = [r.Abar, r.gamma, r.dAbar_ddeltaA, r.dAbar_dA, r.dgamma_ddelta,
                r.dgamma_ddeltaA, r.dgamma_dA]
    else:  # one step: its partial is both step partials' sum, dgamma/ddtA written as 0
        want = [r.Abar, r.gamma, r.dAbar_ddeltaA, r.dAbar_dA, r.dgamma_ddelta, None,
                r.dgamma_dA]
    names = ["Abar", "gamma", "dAbar/ddtA", "dAbar/dA", "dgamma/ddt", "dgamma/ddtA",
             "dgamma/dA"]
    for name, got, wv in zip(names, out, want):
        wv = np.zeros((T, N)) if wv is None else np.broadcast_to(wv, (T, N))
        assert_close(got.reshape(T, N), wv.astype(dtype), err_msg=name)


def test_other_methods_are_left_to_the_caller():
    from lrnnx_array._ops.selective_scan._numba_disc import disc_fast, partials_fast

    nb = numba_support.numba()

    @nb.njit
    def run(m, a, dts, T, b0, b1, b2, b3, b4, b5, wx, ws, wc):
        return (disc_fast(m, a, dts, dts, T, b0, b1, wx, ws, wc),
                partials_fast(m, a, dts, dts, T, b0, b1, b2, b3, b4, b5, wx, ws, wc))

    for dtype, methods in (("float32", ("mamba", "zoh", "dirac", "s7", "rglru")),
                           ("complex64", ("mamba", "dirac"))):
        A, dts, _ = _rows(dtype, 3, 4)
        bufs = [np.empty(12, dtype) for _ in range(6)]
        w = [np.empty(12, dts.dtype) for _ in range(3)]
        for m in methods:
            assert run(numba_support.METHOD_CODE[m], A, dts, 4, *bufs, *w) == (False, False)


@pytest.mark.parametrize("method,dtype", CASES)
@pytest.mark.parametrize("scale", [1e-9, 0.3, 3.0, 40.0])
@pytest.mark.parametrize("extras", [False, True])
def test_scan_and_vjp_across_the_radius(method, dtype, scale, extras):
    # extras: D, z, delta_bias (softplus off to keep the scale), deltaA, h0 and dlast
    kw, dout, dlast = _case(method, dtype, ("v3", "c"), extras, Bsz=1, Dm=3, N=6, L=70)
    kw["delta"] = (scale * np.linspace(0.5, 1.5, 70)).astype(kw["delta"].dtype)[None, None] \
        * np.ones((1, 3, 1), kw["delta"].dtype)
    kw["delta_softplus"] = False
    kw["delta_bias"] = None
    out, last = selective_scan(**kw, discretization=method, return_last_state=True,
                               impl="numba")
    r_out, r_last = selective_scan_ref(**kw, discretization=method, return_last_state=True)
    close_all(["out", "last"], [out, last], [r_out, r_last], dtype,
              override="selective_scan_out")
    g = selective_scan_vjp(dout, **kw, discretization=method, dlast_state=dlast, impl="numba")
    r = selective_scan_vjp_ref(dout, **kw, discretization=method, dlast_state=dlast)
    close_all(NAMES, g, r, dtype, override="selective_scan_grads", normwise=True)
