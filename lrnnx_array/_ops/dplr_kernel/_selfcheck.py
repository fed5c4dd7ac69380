"""S4 DPLR kernel and its VJP (ranks 1-3, state, rate, C̃) against the dense oracle (``check``)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import dplr_kernel, dplr_kernel_vjp
from ._ref import dplr_kernel_ref, dplr_kernel_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    H, N2, L = 3, 8, 64
    cx = (lambda *s: rng.standard_normal(s) + 1j * rng.standard_normal(s))
    A = -rng.uniform(0.1, 1, (H, N2)) + 1j * rng.uniform(-5, 5, (H, N2))
    B, C, s = cx(H, N2), cx(2, H, N2), cx(2, H, N2)
    dt = rng.uniform(0.01, 0.2, H)
    rdt = "float32" if dtype == "complex64" else "float64"
    out = []
    for rank, rate in ((1, 1.0), (2, 0.5), (3, 2.0)):
        P = 0.5 * cx(rank, H, N2)
        want = dplr_kernel_ref(A, B, C, P, dt, L, rate=rate, state=s)
        args = [testing.from_numpy(xp, v, dtype) for v in (A, B, C, P)]
        got = dplr_kernel(*args, testing.from_numpy(xp, dt, rdt), L, rate=rate,
                          state=testing.from_numpy(xp, s, dtype), impl=impl)
        out += pairs((f"rank {rank} k", f"rank {rank} k_state"), got, want)
    return out


def _run_vjp(xp, impl, dtype):
    rng = np.random.default_rng(1)
    H, N2, L = 2, 4, 24
    cx = (lambda *s: rng.standard_normal(s) + 1j * rng.standard_normal(s))
    A = -rng.uniform(0.1, 1, (H, N2)) + 1j * rng.uniform(-5, 5, (H, N2))
    B, C, s = cx(H, N2), cx(2, H, N2), cx(2, H, N2)
    dt = rng.uniform(0.01, 0.2, H)
    rdt = "float32" if dtype == "complex64" else "float64"
    dk, dks = rng.standard_normal((2, H, L)), rng.standard_normal((2, 2, H, L))
    on = lambda x, d=dtype: testing.from_numpy(xp, x, d)  # noqa: E731
    out = []
    for rank, rate, tilde in ((1, 1.0, False), (2, 0.5, True), (3, 2.0, False)):
        P = 0.5 * cx(rank, H, N2)
        kw = dict(rate=rate, state=s, C_is_tilde=tilde, l_kernel=8 if tilde else None)
        want = dplr_kernel_vjp_ref((dk, dks), A, B, C, P, dt, L, **kw)
        kw["state"] = on(s)
        got = dplr_kernel_vjp((on(dk, rdt), on(dks, rdt)), on(A), on(B), on(C), on(P),
                              on(dt, rdt), L, impl=impl, **kw)
        out += pairs([f"rank {rank} {n}" for n in got._fields], got, want)
    return out


def _run_per_mode(xp, impl, dtype):
    """One dt per mode (dt_tie=False): kernel and VJP, rank 2, state, rate 0.5, C̃ doubling."""
    rng = np.random.default_rng(2)
    H, N2, L = 3, 8, 32
    cx = (lambda *s: rng.standard_normal(s) + 1j * rng.standard_normal(s))
    A = -rng.uniform(0.1, 1, (H, N2)) + 1j * rng.uniform(-5, 5, (H, N2))
    B, C, s, P = cx(H, N2), cx(2, H, N2), cx(2, H, N2), 0.5 * cx(2, H, N2)
    dt = rng.uniform(0.01, 0.2, (H, N2))
    rdt = "float32" if dtype == "complex64" else "float64"
    dk, dks = rng.standard_normal((2, H, L)), rng.standard_normal((2, 2, H, L))
    on = lambda x, d=dtype: testing.from_numpy(xp, x, d)  # noqa: E731
    kw = dict(rate=0.5, C_is_tilde=True, l_kernel=8)
    got = dplr_kernel(on(A), on(B), on(C), on(P), on(dt, rdt), L, state=on(s), impl=impl,
                      dt_tie=False, **kw)
    out = pairs(("k", "k_state"), got, dplr_kernel_ref(A, B, C, P, dt, L, state=s, **kw))
    g = dplr_kernel_vjp((on(dk, rdt), on(dks, rdt)), on(A), on(B), on(C), on(P), on(dt, rdt), L,
                        state=on(s), impl=impl, dt_tie=False, **kw)
    want = dplr_kernel_vjp_ref((dk, dks), A, B, C, P, dt, L, state=s, **kw)
    return out + pairs(list(g._fields), g, want)


CHECKS = [
    Check("dplr_kernel ranks 1-3 + state + rate", _run, ("complex64", "complex128")),
    Check("dplr_kernel_vjp ranks 1-3 + state + rate + C~", _run_vjp, ("complex64", "complex128")),
    Check("dplr_kernel + vjp, one dt per mode (dt_tie=False)", _run_per_mode,
          ("complex64", "complex128")),
]
