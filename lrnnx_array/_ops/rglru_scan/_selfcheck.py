"""rglru_scan against its float64 oracle at small sizes (for `python -m lrnnx_array check`)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import rglru_scan, rglru_scan_vjp
from ._ref import rglru_scan_ref, rglru_scan_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    u = rng.standard_normal((2, 8, 300))
    delta = 8 / (1 + np.exp(-rng.standard_normal(u.shape)))
    A = rng.uniform(0.9, 0.999, (8, 2))
    h0 = rng.standard_normal((2, 8, 2))
    dout = rng.standard_normal(u.shape)
    want = [
        *rglru_scan_ref(u, delta, A, True, h0=h0),
        *rglru_scan_vjp_ref(dout, u, delta, A, h0=h0),
    ]
    args = [testing.from_numpy(xp, v, dtype) for v in (u, delta, A)]
    H0 = testing.from_numpy(xp, h0, dtype)
    got = [
        *rglru_scan(*args, True, h0=H0, impl=impl),
        *rglru_scan_vjp(testing.from_numpy(xp, dout, dtype), *args, h0=H0, impl=impl),
    ]
    return pairs(("out", "last_state", "du", "ddelta", "dA", "dh0"), got, want)


CHECKS = [Check("rglru_scan fwd+vjp", _run, ("float32", "float64"))]
