"""simplified_state_update against its float64 oracle (H = 272 > lrnnx's racy tile of 128)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import simplified_state_update
from ._ref import simplified_state_update_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    Bsz, H, P = 4, 272, 32
    s = rng.standard_normal((Bsz, P)) + 1j * rng.standard_normal((Bsz, P))
    x = rng.standard_normal((Bsz, H))
    dt = 0.1 * rng.uniform(size=P)
    A = -rng.uniform(size=P) + 0.1j * rng.standard_normal(P)
    B = rng.standard_normal((P, H)) + 0.1j * rng.standard_normal((P, H))
    C = rng.standard_normal((H, P)) + 0.1j * rng.standard_normal((H, P))
    D = 0.1 * rng.standard_normal((H, H))
    want_s = s.copy()
    want_y = simplified_state_update_ref(want_s, x, dt, A, B, C, D, None, "zoh")
    rdt = "float32" if dtype == "complex64" else "float64"
    state = testing.from_numpy(xp, s, dtype)
    y = simplified_state_update(state, testing.from_numpy(xp, x, rdt),
                                testing.from_numpy(xp, dt, rdt),
                                *(testing.from_numpy(xp, v, dtype) for v in (A, B, C)),
                                testing.from_numpy(xp, D, rdt), discretization="zoh", impl=impl)
    return pairs(("y", "state"), (y, state), (want_y, want_s))


CHECKS = [Check("simplified_state_update", _run, ("complex64", "complex128"))]
