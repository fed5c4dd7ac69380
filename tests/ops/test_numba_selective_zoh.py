"""Real zoh's vectorised VJP partials (``_numba_zoh_grad``) against the float64 oracle: steps
on both sides of the series radius of phi1', a zero step (x = 0), separate steps for A
(deltaA), and a wide spread of |dt A| within one tile."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import close_all, needs_numba
from test_numba_selective_scan import NAMES, _case

from lrnnx_array._ops._shared import numba_support
from lrnnx_array._ops.selective_scan._ref import selective_scan_vjp_ref
from lrnnx_array.ops import selective_scan_vjp

pytestmark = needs_numba


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale", [1e-9, 0.3, 0.49, 0.51, 3.0, 40.0])
@pytest.mark.parametrize("extras", [False, True])
def test_zoh_partials_across_the_series_radius(dtype, scale, extras):
    kw, dout, dlast = _case("zoh", dtype, ("v3", "c"), extras, Bsz=1, Dm=3, N=6, L=70)
    kw["delta"] = (scale * np.linspace(0.5, 1.5, 70)).astype(kw["delta"].dtype)[None, None] \
        * np.ones((1, 3, 1), kw["delta"].dtype)
    kw["delta_softplus"] = False
    kw["delta_bias"] = None
    g = selective_scan_vjp(dout, **kw, discretization="zoh", dlast_state=dlast, impl="numba")
    r = selective_scan_vjp_ref(dout, **kw, discretization="zoh", dlast_state=dlast)
    close_all(NAMES, g, r, dtype, override="selective_scan_grads", normwise=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zoh_partials_zero_step(dtype):
    kw, dout, _ = _case("zoh", dtype, ("c", "v3"), False, Bsz=1, Dm=2, N=4, L=9)
    delta = kw["delta"].copy()
    delta[..., 3:6] = 0  # x = dt A = 0: phi1 = 1, phi1' = 1/2
    kw["delta"] = delta
    g = selective_scan_vjp(dout, **kw, discretization="zoh", impl="numba")
    r = selective_scan_vjp_ref(dout, **kw, discretization="zoh")
    close_all(NAMES, g, r, dtype, override="selective_scan_grads", normwise=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zoh_partials_elementwise(dtype):
    # The partials themselves against the numerics layer in float64, |dt A| from 1e-8 to 60
    # across the series radius (0.5): the closed form (E - phi1)/x in place of the series
    # loses ~|1/x| ulp near 0 and fails here.
    from lrnnx_array._ops._shared.numerics import selective_disc
    from lrnnx_array._ops.selective_scan._numba_zoh_grad import zoh_partials
    from lrnnx_array.testing import assert_close

    @numba_support.numba().njit
    def run(A, dts, dtAs, T, Abs, p0, p1, p2, p3, p4):
        return zoh_partials(A, dts, dtAs, T, Abs, p0, p1, p2, p3, p4)

    rng = np.random.default_rng(3)
    N, T = 7, 64
    A = -np.geomspace(1e-4, 6, N).astype(dtype)
    dts = np.geomspace(1e-4, 10, T).astype(dtype)
    dtAs = rng.uniform(0.01, 2, T).astype(dtype)
    Abs = np.exp(np.float64(dtAs)[:, None] * A).astype(dtype).ravel()
    outs = [np.empty(T * N, dtype) for _ in range(5)]
    assert run(A, dts, dtAs, T, Abs, *outs)
    r = selective_disc(np, "zoh", np.float64(A)[None], np.float64(dts)[:, None],
                       np.float64(dtAs)[:, None], grad=True)
    want = [np.float64(A) * Abs.reshape(T, N), np.float64(dtAs)[:, None] * Abs.reshape(T, N),
            r.dgamma_ddelta, np.zeros((T, N)), r.dgamma_dA]
    for name, got, w in zip(["dAbar/ddtA", "dAbar/dA", "dgamma/ddt", "dgamma/ddtA",
                             "dgamma/dA"], outs, want):
        assert_close(got.reshape(T, N), np.broadcast_to(w, (T, N)).astype(dtype),
                     err_msg=name)
