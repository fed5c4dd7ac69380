"""discretize benchmarks: zoh (the costliest method) on Mamba/S5-sized grids.

Baseline: one ``exp(delta * A)`` pass over the same output, i.e. what A_bar alone costs.
"""

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ...discretization import zoh, zoh_vjp


def _make(xp, dtype, B, D, L, N):
    rng = np.random.default_rng(0)
    cplx = dtype.startswith("complex")
    rdt = "float32" if dtype in ("float32", "complex64") else "float64"
    A = -rng.uniform(0.1, 3.0, (D, 1, N)) + (1j * rng.uniform(-4, 4, (D, 1, N)) if cplx else 0)
    A = testing.from_numpy(xp, A, dtype)
    dt = testing.from_numpy(xp, rng.uniform(1e-3, 0.1, (B, D, L, 1)), rdt)
    n = B * D * L * N
    g = testing.from_numpy(xp, rng.standard_normal((B, D, L, N)), dtype)
    s = np.dtype(dtype).itemsize
    return Case(
        fwd=lambda: zoh(A, dt),
        bwd=lambda: zoh_vjp((g, g), A, dt),
        # Complex: exp (3 SFU), expm1 via expm1/exp/sin/cos/sin(b/2) (5), a division.
        fwd_work=Work(bytes=2 * s * n, sfu=(10 if cplx else 3) * n, fma=30 * n),
        bwd_work=Work(bytes=4 * s * n, sfu=(14 if cplx else 5) * n, fma=60 * n),
        baselines={"exp(dt*A)": lambda: xp.exp(dt * A)},
    )


BENCHES = [
    Bench("discretize_zoh", _make, dtype="complex64", sizes={
        "small": [dict(B=1, D=64, L=1, N=16)],
        "cpu": [dict(B=1, D=1536, L=1, N=16), dict(B=2, D=256, L=256, N=16)],
        "gpu": [dict(B=1, D=1536, L=1, N=16), dict(B=8, D=1536, L=512, N=16)],
    }),
]
