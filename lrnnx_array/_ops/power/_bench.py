"""power fwd/VJP at S4 forward_state shapes (dense (H, 2N, 2N) Ā, v = B̄ applied to the input).

Baseline: the sequential state loop x <- Ā x + v_i (L' matvecs), which the pairwise halving
replaces with ~log2 L' batched matmuls.
"""

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ._api import power, power_vjp


def _make(xp, dtype, batch, H, N, L):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((H, N, N)) / np.sqrt(N) * 0.9
    A = A + 0.3j * rng.standard_normal(A.shape) / np.sqrt(N)
    # Spectral radius 0.95 per head, so A^L and the sums stay finite (unscaled, the random
    # matrices' radius exceeds 1 and the L=1024 power overflowed to NaN).
    A = A * (0.95 / np.abs(np.linalg.eigvals(A)).max(axis=-1))[:, None, None]
    A = testing.from_numpy(xp, A, dtype)
    v = testing.from_numpy(xp, rng.standard_normal((batch, H, N, L)), dtype)
    gAL = testing.from_numpy(xp, rng.standard_normal((H, N, N)), dtype)
    gs = testing.from_numpy(xp, rng.standard_normal((batch, H, N)), dtype)

    def loop():
        x = xp.zeros((batch, H, N, 1), dtype=A.dtype)
        for i in range(L - 1, -1, -1):
            x = xp.matmul(A, x) + v[..., i:i + 1]
        return x

    s = np.dtype(dtype).itemsize
    # Pairwise halving: sum over rounds of batch*H*N^2*(L'/2^r) ~ batch*H*N^2*L' MACs, plus
    # log2 L + log2 L' squarings of H*N^3; the VJP is about twice that.
    fma = batch * H * N * N * L + 2 * np.log2(max(L, 2)) * H * N ** 3
    return Case(fwd=lambda: power(L, A, v),
                bwd=lambda: power_vjp((gAL, gs), L, A, v),
                fwd_work=Work(bytes=s * batch * H * N * L, fma=4 * fma),
                bwd_work=Work(bytes=3 * s * batch * H * N * L, fma=8 * fma),
                baselines={"sequential x<-Ax+v_i": loop})


BENCHES = [Bench("power", _make, dtype="complex64", sizes={
    "small": [dict(batch=2, H=4, N=16, L=256)],
    "cpu": [dict(batch=4, H=64, N=64, L=1024)],
    "gpu": [dict(batch=8, H=256, N=64, L=4096)],
})]
