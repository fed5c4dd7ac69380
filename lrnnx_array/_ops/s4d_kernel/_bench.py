"""S4D kernel generation vs the naive exp(x ⊗ l) materialisation (issue target >= 3x on CPU)."""

import functools

import numpy as np

from ... import _bench_torch, testing
from ..._harness import Bench, Case, Work, peers
from ._api import s4d_kernel, s4d_kernel_vjp


def _make(xp, dtype, H, N2, L, disc="zoh"):
    rng = np.random.default_rng(0)
    rdt = "float32" if dtype == "complex64" else "float64"
    A = testing.from_numpy(xp, -0.5 + 1j * np.pi * np.arange(N2) * np.ones((H, 1)), dtype)
    B = testing.from_numpy(xp, np.ones((H, N2)), dtype)
    C = rng.standard_normal((1, H, N2)) + 1j * rng.standard_normal((1, H, N2))
    C = testing.from_numpy(xp, C, dtype)
    dt = testing.from_numpy(xp, np.exp(rng.uniform(np.log(1e-3), np.log(1e-1), H)), rdt)
    ell = xp.astype(xp.arange(L), xp.float32 if rdt == "float32" else xp.float64)

    def naive():  # zoh's (the NumPy stand-in; the torch peer below follows ``disc``)
        dtA = dt[:, None] * A
        v = C * (xp.exp(dtA) - 1) / A * B
        return 2 * xp.real(xp.sum(v[..., None] * xp.exp(dtA[..., None] * ell), axis=-2))

    # lrnnx's S4DKernel forward on CPU (spec §3.11: log_vandermonde_naive) in torch.
    tfn = functools.partial(_bench_torch.s4d_kernel_ref_alg, L=L, disc=disc)
    baselines = {"naive exp(x*l)": naive} if disc == "zoh" else {}
    baselines.update(peers(xp, torch=(tfn, (A, B, C, dt))))

    dk = testing.from_numpy(xp, rng.standard_normal((1, H, L)), rdt)
    n = H * N2 * L
    return Case(fwd=lambda: s4d_kernel(A, B, C, dt, L, disc=disc),
                bwd=lambda: s4d_kernel_vjp((dk, None), A, B, C, dt, L, disc=disc),
                fwd_work=Work(bytes=4 * H * L, sfu=H * N2 * 64, fma=4 * n),
                # The VJP is log_vandermonde_vjp: two l-weighted transposed products.
                bwd_work=Work(bytes=4 * H * L, sfu=H * N2 * 64, fma=8 * n),
                baselines=baselines)


BENCHES = [Bench("s4d_kernel", _make, dtype="complex64", sizes={
    "small": [dict(H=16, N2=8, L=256)],
    "cpu": [dict(H=256, N2=32, L=4096)],
    "gpu": [dict(H=1024, N2=32, L=16384)],
})]
