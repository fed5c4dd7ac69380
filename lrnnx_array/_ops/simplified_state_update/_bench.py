"""S5 decode step: launch-bound at lrnnx sizes (spec/performance.md §3.4)."""

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ._api import simplified_state_update


def _make(xp, dtype, B, H, P):
    rng = np.random.default_rng(0)
    rdt = "float32" if dtype == "complex64" else "float64"
    state = testing.from_numpy(xp, rng.standard_normal((B, P)) + 0j, dtype)
    x = testing.from_numpy(xp, rng.standard_normal((B, H)), rdt)
    dt = testing.from_numpy(xp, 0.1 * rng.uniform(size=P), rdt)
    A = testing.from_numpy(xp, -rng.uniform(size=P) + 0.1j, dtype)
    Bm = testing.from_numpy(xp, rng.standard_normal((P, H)) + 0j, dtype)
    C = testing.from_numpy(xp, rng.standard_normal((H, P)) + 0j, dtype)
    s = np.dtype(dtype).itemsize
    return Case(fwd=lambda: simplified_state_update(state, x, dt, A, Bm, C, None, None, "zoh"),
                fwd_work=Work(bytes=2 * s * (B * P + P * H)))


BENCHES = [
    Bench("simplified_state_update", _make, dtype="complex64", sizes={
        "small": [dict(B=4, H=256, P=16)],
        "cpu": [dict(B=32, H=256, P=64)],
        "gpu": [dict(B=32, H=512, P=64), dict(B=32, H=32, P=16)],
    }),
]
