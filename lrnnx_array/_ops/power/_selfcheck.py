"""power and power_vjp against NumPy's matrix_power, the plain loop sum and the reference VJP."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import power, power_vjp
from ._ref import power_ref, power_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    N, L, Lv = 16, 37, 100
    cplx = dtype.startswith("complex")
    A = rng.standard_normal((3, N, N)) / np.sqrt(N) * 0.9
    v = rng.standard_normal((2, 1, N, Lv))
    gAL, gs = rng.standard_normal(A.shape), rng.standard_normal((2, 3, N))
    if cplx:
        A = A + 0.3j * rng.standard_normal(A.shape) / np.sqrt(N)
        v, gAL, gs = v + 1j, gAL - 0.5j, gs + 2j
    AL_ref, s_ref = power_ref(L, A, v)
    want = [np.linalg.matrix_power(A, L), s_ref, *power_vjp_ref((gAL, gs), L, A, v)]
    on = (lambda a: testing.from_numpy(xp, a, dtype))
    got = [*power(L, on(A), on(v), impl=impl), *power_vjp((on(gAL), on(gs)), L, on(A), on(v),
                                                          impl=impl)]
    return pairs(("A^L", "s", "dA", "dv"), got, want)


CHECKS = [Check("power fwd+vjp", _run, ("float32", "float64", "complex64", "complex128"))]
