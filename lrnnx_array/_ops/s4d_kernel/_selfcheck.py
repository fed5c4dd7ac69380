"""S4D kernel (zoh, bilinear, state) and its VJP against the float64 oracles (``check``)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import s4d_kernel, s4d_kernel_vjp
from ._ref import s4d_forward_state_vjp_ref, s4d_kernel_ref, s4d_kernel_vjp_ref
from ._state_api import s4d_forward_state_vjp


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    H, N2, L = 4, 8, 64
    A = -rng.uniform(0.1, 1, (H, N2)) + 1j * rng.uniform(-5, 5, (H, N2))
    B = rng.standard_normal((H, N2)) + 1j * rng.standard_normal((H, N2))
    C = rng.standard_normal((2, H, N2)) + 1j * rng.standard_normal((2, H, N2))
    s = rng.standard_normal((2, H, N2)) + 1j * rng.standard_normal((2, H, N2))
    dt = rng.uniform(0.01, 0.2, H)
    rdt = "float32" if dtype == "complex64" else "float64"
    out = []
    for disc in ("zoh", "bilinear"):
        want = s4d_kernel_ref(A, B, C, dt[:, None], L, disc=disc, state=s)
        args = [testing.from_numpy(xp, v, dtype) for v in (A, B, C)]
        args.append(testing.from_numpy(xp, dt, rdt))
        got = s4d_kernel(*args, L, disc=disc, state=testing.from_numpy(xp, s, dtype), impl=impl)
        out += pairs((f"{disc} k", f"{disc} k_state"), got, want)
    return out


def _run_vjp(xp, impl, dtype):
    """Gradients of k and k_state (both discretizations) and of forward_state, normalised."""
    rng = np.random.default_rng(1)
    H, N2, L = 4, 8, 200
    A = -rng.uniform(0.1, 1, (H, N2)) + 1j * rng.uniform(-5, 5, (H, N2))
    B, s = (rng.standard_normal(sh) + 1j * rng.standard_normal(sh) for sh in ((H, N2),
                                                                              (2, H, N2)))
    C = rng.standard_normal((2, H, N2)) + 1j * rng.standard_normal((2, H, N2))
    dt = rng.uniform(0.01, 0.2, (H, 1))
    dk, dks = rng.standard_normal((2, H, L)), rng.standard_normal((2, 2, H, L))
    rdt = "float32" if dtype == "complex64" else "float64"
    on = (lambda a, d=dtype: testing.from_numpy(xp, a, d))
    out = []
    for disc in ("zoh", "bilinear"):
        want = s4d_kernel_vjp_ref((dk, dks), A, B, C, dt, L, disc=disc, state=s)
        got = s4d_kernel_vjp((on(dk, rdt), on(dks, rdt)), on(A), on(B), on(C), on(dt, rdt), L,
                             disc=disc, state=on(s), impl=impl)
        out += pairs([f"{disc} {n}" for n in got._fields], got, want)
    u, g = rng.standard_normal((2, H, L)), rng.standard_normal((2, H, N2)) + 1j
    dA, dB = np.exp(0.05 * A), B
    want = s4d_forward_state_vjp_ref(g, u, s, dA, dB)
    got = s4d_forward_state_vjp(on(g), on(u, rdt), on(s), on(dA), on(dB), impl=impl)
    out += pairs([f"forward_state {n}" for n in got._fields], got, want)
    return out


CHECKS = [Check("s4d_kernel zoh+bilinear+state", _run, ("complex64", "complex128")),
          Check("s4d_kernel vjp + forward_state vjp", _run_vjp, ("complex64", "complex128"))]
