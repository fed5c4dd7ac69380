"""S5 decode step: launch-bound at lrnnx sizes (spec/performance.md §3.4)."""

import functools

import numpy as np

from ... import _bench_torch, testing
from ..._backend import is_numpy
from ..._harness import Bench, Case, Work, peers
from ._api import SPEC, simplified_state_update


def _arrays(xp, dtype, B, H, P):
    """(state, x, dt, A, B, C) at lrnnx's decode distribution, on ``xp``."""
    rng = np.random.default_rng(0)
    rdt = "float32" if dtype == "complex64" else "float64"
    return (testing.from_numpy(xp, rng.standard_normal((B, P)) + 0j, dtype),
            testing.from_numpy(xp, rng.standard_normal((B, H)), rdt),
            testing.from_numpy(xp, 0.1 * rng.uniform(size=P), rdt),
            testing.from_numpy(xp, -rng.uniform(size=P) + 0.1j, dtype),
            testing.from_numpy(xp, rng.standard_normal((P, H)) + 0j, dtype),
            testing.from_numpy(xp, rng.standard_normal((H, P)) + 0j, dtype))


def _make(xp, dtype, B, H, P, method="zoh"):
    state, x, dt, A, Bm, C = _arrays(xp, dtype, B, H, P)
    s = np.dtype(dtype).itemsize
    baselines = {}
    if is_numpy(xp):  # impl="auto" is the numba tier when numba imports: generic beside it
        baselines["generic"] = lambda: simplified_state_update(state, x, dt, A, Bm, C, None, None,
                                                               method, impl="generic")
        # fwd's own call again: sub-ms calls timed first in a round (after gc) read slower, so
        # ratio_vs_generic is only meaningful next to ratio_vs_fwd_again (the position bias).
        baselines["fwd_again"] = lambda: simplified_state_update(state, x, dt, A, Bm, C, None,
                                                                 None, method)
    # lrnnx's simplified_state_update_ref algorithm (spec §3.7) in torch, on its own state copy.
    tfn = functools.partial(_bench_torch.simplified_state_update_ref_alg, method=method)
    baselines.update(peers(xp, torch=(tfn, (state, x, dt, A, Bm, C))))
    return Case(fwd=lambda: simplified_state_update(state, x, dt, A, Bm, C, None, None, method),
                fwd_work=Work(bytes=2 * s * (B * P + P * H)), baselines=baselines)


BENCHES = [
    Bench("simplified_state_update", _make, dtype="complex64", sizes={
        "small": [dict(B=4, H=256, P=16)],
        "cpu": [dict(B=32, H=256, P=64), dict(B=32, H=128, P=16)],
        "gpu": [dict(B=32, H=512, P=64), dict(B=32, H=32, P=16)],
    }),
]


def _make_overhead(xp, dtype, B, H, P):
    """Validation + dispatch cost of one S5 decode step (issue 8: <= 15% of the call and
    <= 20 us at B=1..2, H ~ 2048 on CPU, with check_finite=False): the public call (``fwd``)
    against the implementation it resolves to, called directly on the canonical arrays the public
    layer would pass (``impl_direct``; the inputs are already at the compute dtype, so the public
    layer casts nothing). Overhead = fwd_ms - impl_direct_ms; ``checked`` is the default
    check_finite=True call."""
    state, x, dt, A, Bm, C = _arrays(xp, dtype, B, H, P)
    step = SPEC.get(SPEC.resolve("auto", xp, A.dtype), "step")
    dt2 = xp.reshape(dt, (1, P))
    return Case(
        fwd=lambda: simplified_state_update(state, x, dt, A, Bm, C, None, None, "zoh",
                                            check_finite=False),
        baselines={
            "impl_direct": lambda: step(xp, state, x, dt2, A, Bm, C, None, None, disc="zoh",
                                        conj_sym=True),
            "checked": lambda: simplified_state_update(state, x, dt, A, Bm, C, None, None, "zoh"),
        },
    )


BENCHES.append(Bench("simplified_state_update overhead", _make_overhead, dtype="complex64",
                     sizes={
                         "small": [dict(B=1, H=256, P=16)],
                         "cpu": [dict(B=1, H=2048, P=16), dict(B=2, H=2048, P=16),
                                 dict(B=1, H=2048, P=64), dict(B=2, H=2048, P=64)],
                         "gpu": [dict(B=1, H=2048, P=16), dict(B=2, H=2048, P=64)],
                     }))
