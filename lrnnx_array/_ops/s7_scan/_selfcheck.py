"""s7_scan against its float64 oracle at small sizes (for `python -m lrnnx_array check`)."""

import numpy as np

from ... import testing
from ..._harness import Check
from ._api import s7_scan, s7_scan_vjp
from ._ref import s7_scan_ref, s7_scan_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    Bsz, H, N, L = 2, 8, 4, 1100
    u = rng.standard_normal((Bsz, H, L))
    A = -0.5 + 0.5 * rng.standard_normal((Bsz, N, L))
    B, C = 0.5 * rng.standard_normal((Bsz, N, H, L)), 0.5 * rng.standard_normal((Bsz, H, N, L))
    bias, h0 = rng.standard_normal((Bsz, N, L)), rng.standard_normal((Bsz, N))
    dout = rng.standard_normal(u.shape)
    want = [*s7_scan_ref(u, A, B, C, bias, True, h0=h0),
            *s7_scan_vjp_ref(dout, u, A, B, C, bias, h0=h0)]
    args = [testing.from_numpy(xp, v, dtype) for v in (u, A, B, C, bias)]
    H0 = testing.from_numpy(xp, h0, dtype)
    got = [*s7_scan(*args, True, h0=H0, impl=impl),
           *s7_scan_vjp(testing.from_numpy(xp, dout, dtype), *args, h0=H0, impl=impl)]
    err = max(float(np.max(np.abs(testing.to_numpy(g) - w)) / max(1.0, float(np.max(np.abs(w)))))
              for g, w in zip(got, want))
    return err, 100 * testing.tolerance(dtype)[0]


CHECKS = [Check("s7_scan fwd+vjp (rel. to max)", _run, ("float32", "float64"))]
