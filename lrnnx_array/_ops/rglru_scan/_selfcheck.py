"""rglru_scan against its float64 oracle at small sizes (for `python -m lrnnx_array check`)."""

import numpy as np

from ... import testing
from ..._harness import Check
from ._api import rglru_scan, rglru_scan_vjp
from ._ref import rglru_scan_ref, rglru_scan_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    u = rng.standard_normal((2, 8, 1100))
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
    err = max(
        float(np.max(np.abs(testing.to_numpy(g) - w)) / max(1.0, float(np.max(np.abs(w)))))
        for g, w in zip(got, want)
    )
    return err, 100 * testing.tolerance(dtype)[0]


CHECKS = [Check("rglru_scan fwd+vjp (rel. to max)", _run, ("float32", "float64"))]
