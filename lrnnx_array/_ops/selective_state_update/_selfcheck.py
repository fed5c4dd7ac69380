"""selective_state_update against its float64 oracle (for `python -m lrnnx_array check`)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import METHODS, selective_state_update
from ._ref import selective_state_update_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    Bsz, nh, P, N, G = 3, 4, 16, 16, 2
    out = []
    for method in METHODS:
        state = rng.standard_normal((Bsz + 2, nh, P, N))
        A = (
            rng.uniform(0.5, 0.99, (nh, P, N))
            if method == "rglru"
            else -rng.uniform(1, 2, (nh, P, N))
        )
        x, z = rng.standard_normal((Bsz, nh, P)), rng.standard_normal((Bsz, nh, P))
        dt = rng.uniform(0, 0.5, (Bsz, nh, P))
        B, C = rng.standard_normal((Bsz, G, N)), rng.standard_normal((Bsz, G, N))
        D, bias = rng.standard_normal((nh, P)), rng.uniform(-4, -3, (nh, P))
        idx = np.array([4, 0, 2])
        want_s, want_o = selective_state_update_ref(
            state, x, dt, A, B, C, D, z, bias, True, None, idx, method
        )
        st = testing.from_numpy(xp, state, dtype)
        y = selective_state_update(
            st,
            *(testing.from_numpy(xp, v, dtype) for v in (x, dt, A, B, C, D, z, bias)),
            True,
            None,
            testing.from_numpy(xp, idx),
            method,
            impl=impl,
        )
        out += pairs((f"{method} out", f"{method} state"), (y, st), (want_o, want_s))
    return out


CHECKS = [Check("selective_state_update (6 discretizations)", _run, ("float32", "float64"))]
