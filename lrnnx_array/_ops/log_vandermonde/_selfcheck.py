"""log_vandermonde (+ transpose) against the complex128 oracle at small sizes."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs, rounded
from ._api import log_vandermonde, log_vandermonde_transpose, log_vandermonde_vjp
from ._ref import log_vandermonde_ref, log_vandermonde_transpose_ref, log_vandermonde_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    L = 300
    v = rng.standard_normal((4, 37)) + 1j * rng.standard_normal((4, 37))
    x = -rng.uniform(0.001, 0.01, (4, 37)) + 1j * rng.uniform(-3, 3, (4, 37))
    g = rng.standard_normal((4, L))
    # the phase l*Im(x) makes the map ill-conditioned: the oracle sees the rounded inputs
    v, x, g = rounded(v, dtype), rounded(x, dtype), rounded(g, dtype)
    rdt = "float32" if dtype == "complex64" else "float64"
    V, X = (testing.from_numpy(xp, a, dtype) for a in (v, x))
    G = testing.from_numpy(xp, g, rdt)
    want = [log_vandermonde_ref(v, x, L), *log_vandermonde_vjp_ref(g, v, x, L),
            log_vandermonde_transpose_ref(g, v, x, L)]
    got = [log_vandermonde(V, X, L, impl=impl), *log_vandermonde_vjp(G, V, X, L, impl=impl),
           log_vandermonde_transpose(G, V, X, L, impl=impl)]
    return pairs(("out", "dv", "dx", "transpose"), got, want)


CHECKS = [Check("log_vandermonde fwd+vjp+transpose", _run, ("complex64", "complex128"))]
