"""diag_scan against its float64 oracle at small sizes (for `python -m lrnnx_array check`)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import diag_scan, diag_scan_vjp
from ._ref import diag_scan_ref, diag_scan_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    a = rng.uniform(-0.95, 0.95, (6, 300))
    b = rng.standard_normal(a.shape)
    h0 = rng.standard_normal(6)
    dh = rng.standard_normal(a.shape)
    if dtype.startswith("complex"):  # complex inputs (zero imaginary parts): complex results
        a, b, h0, dh = (v.astype(complex) for v in (a, b, h0, dh))
    want = [diag_scan_ref(a, b, h0), *diag_scan_vjp_ref(dh, a, b, h0)]
    args = [testing.from_numpy(xp, v, dtype) for v in (a, b, h0)]
    got = [diag_scan(*args, impl=impl),
           *diag_scan_vjp(testing.from_numpy(xp, dh, dtype), *args, impl=impl)]
    return pairs(("h", "da", "db", "dh0"), got, want)


CHECKS = [Check("diag_scan fwd+vjp", _run, ("float32", "float64", "complex64"))]
