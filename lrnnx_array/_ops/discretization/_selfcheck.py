"""Every discretization and its VJP against the float64 oracle (``python -m lrnnx_array check``)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ...discretization import discretize, discretize_vjp
from ._api import METHODS
from ._ref import discretize_ref, discretize_vjp_ref


def _data(method, dtype):
    rng = np.random.default_rng(0)
    shape_A, shape_dt = (8, 1, 16), (2, 8, 5, 1)  # A (D, 1, N), delta per (batch, channel, time)
    if method == "rglru":
        A = rng.uniform(0.05, 0.999, shape_A)
    else:
        A = -rng.uniform(0.1, 3.0, shape_A)
        if dtype.startswith("complex"):
            A = A + 1j * rng.uniform(-4, 4, shape_A)
    dt = rng.uniform(1e-6, 1.0, shape_dt)
    tau = rng.uniform(0.1, 2.0, (2, 1, 5, 1)) if method == "async" else None
    return rng, A, dt, tau


def _runner(method):
    def run(xp, impl, dtype):
        # No CUDA kernel: on CuPy the "cuda" row checks what impl="auto" runs (the generic path).
        impl = "auto" if impl == "cuda" else impl
        rng, A, dt, tau = _data(method, dtype)
        rdt = "float32" if dtype in ("float32", "complex64") else "float64"
        args = [testing.from_numpy(xp, A, dtype), testing.from_numpy(xp, dt, rdt),
                testing.from_numpy(xp, tau, rdt)]
        want = list(discretize_ref(method, A, dt, tau))
        cots = [rng.standard_normal(want[0].shape) for _ in range(2)]
        want += list(discretize_vjp_ref(cots, method, A, dt, tau))
        got = list(discretize(args[0], args[1], method, args[2], impl=impl))
        dcots = tuple(testing.from_numpy(xp, c, rdt) for c in cots)
        grads = discretize_vjp(dcots, args[0], args[1], method, args[2], impl=impl)
        got += list(grads)
        return pairs(("A_bar", "gamma_bar", *grads._fields), got, want)

    return run


CHECKS = [
    Check(f"discretize {m} fwd+vjp", _runner(m),
          ("float32", "float64") if m in ("s7", "rglru") else ("float32", "float64", "complex64"))
    for m in METHODS
]
