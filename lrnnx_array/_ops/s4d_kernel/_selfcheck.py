"""S4D kernel (zoh, bilinear, state) and its VJP against the float64 oracles (``check``)."""

import numpy as np

from ... import testing
from ..._harness import Check
from ._api import s4d_forward_state_vjp, s4d_kernel, s4d_kernel_vjp
from ._ref import s4d_forward_state_vjp_ref, s4d_kernel_ref, s4d_kernel_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    H, N2, L = 4, 8, 200
    A = -rng.uniform(0.1, 1, (H, N2)) + 1j * rng.uniform(-5, 5, (H, N2))
    B = rng.standard_normal((H, N2)) + 1j * rng.standard_normal((H, N2))
    C = rng.standard_normal((2, H, N2)) + 1j * rng.standard_normal((2, H, N2))
    s = rng.standard_normal((2, H, N2)) + 1j * rng.standard_normal((2, H, N2))
    dt = rng.uniform(0.01, 0.2, H)
    rdt = "float32" if dtype == "complex64" else "float64"
    err, scale = 0.0, 1.0
    for disc in ("zoh", "bilinear"):
        want = s4d_kernel_ref(A, B, C, dt[:, None], L, disc=disc, state=s)
        args = [testing.from_numpy(xp, v, dtype) for v in (A, B, C)]
        args.append(testing.from_numpy(xp, dt, rdt))
        got = s4d_kernel(*args, L, disc=disc, state=testing.from_numpy(xp, s, dtype), impl=impl)
        err = max(err, *(float(np.max(np.abs(testing.to_numpy(g) - w))) for g, w in zip(got, want)))
        scale = max(scale, float(np.abs(want[1]).max()))
    return err, 10 * testing.tolerance(dtype)[0] * scale


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
    pairs = []
    for disc in ("zoh", "bilinear"):
        want = s4d_kernel_vjp_ref((dk, dks), A, B, C, dt, L, disc=disc, state=s)
        got = s4d_kernel_vjp((on(dk, rdt), on(dks, rdt)), on(A), on(B), on(C), on(dt, rdt), L,
                             disc=disc, state=on(s), impl=impl)
        pairs += list(zip(got, want))
    u, g = rng.standard_normal((2, H, L)), rng.standard_normal((2, H, N2)) + 1j
    dA, dB = np.exp(0.05 * A), B
    want = s4d_forward_state_vjp_ref(g, u, s, dA, dB)
    got = s4d_forward_state_vjp(on(g), on(u, rdt), on(s), on(dA), on(dB), impl=impl)
    pairs += list(zip(got, want))
    err = max(float(np.max(np.abs(testing.to_numpy(a) - b)) / max(1.0, np.abs(b).max()))
              for a, b in pairs)
    return err, 10 * testing.tolerance(dtype)[0]


CHECKS = [Check("s4d_kernel zoh+bilinear+state", _run, ("complex64", "complex128")),
          Check("s4d_kernel vjp + forward_state vjp", _run_vjp, ("complex64", "complex128"))]
