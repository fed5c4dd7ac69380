"""s7_scan against its float64 oracle at small sizes (for `python -m lrnnx_array check`)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import s7_scan, s7_scan_vjp
from ._ref import s7_scan_ref, s7_scan_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    Bsz, H, N, L = 2, 8, 4, 300
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
    labels = ("out", "last_state", "du", "dA", "dB", "dC", "dbias", "dh0")
    return pairs(labels, got, want)


CHECKS = [Check("s7_scan fwd+vjp", _run, ("float32", "float64"))]
