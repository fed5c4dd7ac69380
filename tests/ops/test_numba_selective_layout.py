"""The numba selective scan's two variable B/C layouts (``_numba._bc``): the caller's
(B, G, N, L), read by row views, and the time-major copy (B, G, L, N) taken when a group has
``_TM_MIN_CHANNELS`` channels. Both forced on the same arrays, forward and VJP, against the
float64 oracle, at a power-of-two L of several tiles (rows 4 KiB apart in float32)."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import cast, close_all, needs_numba

from lrnnx_array import testing
from lrnnx_array._ops.selective_scan import _numba
from lrnnx_array._ops.selective_scan._ref import selective_scan_ref, selective_scan_vjp_ref
from lrnnx_array.ops import selective_scan, selective_scan_vjp

pytestmark = needs_numba
# The entries (and reasons) test_numba_selective_scan.py registers (same factors: idempotent).
testing.add_override("selective_scan_out", 2, "out and last state are sums over dstate of a "
                     "length-L recurrence: float32 rounding grows with N and L")
testing.add_override("selective_scan_grads", 4, "gradients add a reverse recurrence and reductions "
                     "over batch and time to the forward's rounding")
NAMES = ("du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias", "ddeltaA", "dh0")


def _case(dtype, bc, Bsz=1, Dm=4, N=4, L=1024, G=2):
    rng = np.random.default_rng(1)
    cplx = dtype.startswith("complex")
    real = "float32" if dtype in ("float32", "complex64") else "float64"

    def c(shape):
        x = rng.standard_normal(shape)
        return x + 1j * rng.standard_normal(shape) if cplx else x

    A = -rng.uniform(0.05, 1, (Dm, N)) + (1j * rng.uniform(-2, 2, (Dm, N)) if cplx else 0)
    shapes = {"c": (Dm, N), "v3": (Bsz, N, L), "v4": (Bsz, G, N, L)}
    kw = dict(u=rng.standard_normal((Bsz, Dm, L)), delta=rng.uniform(-3, 0, (Bsz, Dm, L)),
              A=A, B=c(shapes[bc[0]]), C=c(shapes[bc[1]]), D=rng.standard_normal(Dm),
              z=rng.standard_normal((Bsz, Dm, L)), delta_bias=0.3 * rng.standard_normal(Dm),
              h0=c((Bsz, Dm, N)))
    arrays = {k: cast(v, dtype if k in ("A", "B", "C", "h0") else real) for k, v in kw.items()}
    return arrays, cast(rng.standard_normal((Bsz, Dm, L)), real), cast(c((Bsz, Dm, N)), dtype)


@pytest.mark.parametrize("tm_min", [1, 10**9])  # every group time-major / none
@pytest.mark.parametrize("bc", [("v4", "v4"), ("v3", "c"), ("c", "v4")])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
def test_layouts_match_oracle(monkeypatch, tm_min, bc, dtype):
    monkeypatch.setattr(_numba, "_TM_MIN_CHANNELS", tm_min)
    kw, dout, dlast = _case(dtype, bc)
    a = kw  # (the flags _args gives the kernels: the layout really taken)
    _, flags = _numba._args(a["u"], a["delta"], a["A"], a["B"], a["C"], a["D"], a["z"],
                            a["delta_bias"], None, a["h0"], True, "mamba", False)
    want_flag = 2 if tm_min == 1 else 1  # the layout this case is meant to run
    assert all(f == (0 if x == "c" else want_flag) for f, x in zip(flags[:2], bc))
    out, last = selective_scan(**kw, delta_softplus=True, return_last_state=True, impl="numba")
    r_out, r_last = selective_scan_ref(**kw, delta_softplus=True, return_last_state=True)
    close_all(["out", "last"], [out, last], [r_out, r_last], dtype,
              override="selective_scan_out")
    g = selective_scan_vjp(dout, **kw, delta_softplus=True, dlast_state=dlast, impl="numba")
    r = selective_scan_vjp_ref(dout, **kw, delta_softplus=True, dlast_state=dlast)
    close_all(NAMES, g, r, dtype, override="selective_scan_grads", normwise=True)
