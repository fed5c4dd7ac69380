"""cauchy against its complex128 oracle at small sizes (for `python -m lrnnx_array check`)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import cauchy, cauchy_vjp
from ._ref import cauchy_ref, cauchy_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    cn = lambda *s: rng.standard_normal(s) + 1j * rng.standard_normal(s)  # noqa: E731
    v, w = cn(4, 37), cn(4, 37) - 0.5
    z = np.exp(1j * rng.standard_normal(300))
    g = cn(4, 300)
    want = [cauchy_ref(v, z, w), *cauchy_vjp_ref(g, v, z, w)]
    args = [testing.from_numpy(xp, a, dtype) for a in (v, z, w)]
    G = testing.from_numpy(xp, g, dtype)
    got = [cauchy(*args, impl=impl), *cauchy_vjp(G, *args, impl=impl)]
    return pairs(("out", "dv", "dz", "dw"), got, want)


CHECKS = [Check("cauchy fwd+vjp", _run, ("complex64", "complex128"))]
