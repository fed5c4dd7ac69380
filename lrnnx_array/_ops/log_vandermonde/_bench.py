"""log_vandermonde benchmarks. CPU issue target: >= 3x faster than materialising exp(x (x) l)."""

import functools

import numpy as np

from ... import _bench_torch, testing
from ..._harness import Bench, Case, Work, peers
from ._api import log_vandermonde, log_vandermonde_transpose, log_vandermonde_vjp


def _make(xp, dtype, H, N2, L):
    rng = np.random.default_rng(0)
    v = rng.standard_normal((H, N2)) + 1j * rng.standard_normal((H, N2))
    x = -rng.uniform(0.001, 0.1, (H, N2)) + 1j * rng.uniform(0, 100, (H, N2)) / L
    v, x = testing.from_numpy(xp, v, dtype), testing.from_numpy(xp, x, dtype)
    rdt = "float32" if dtype == "complex64" else "float64"
    g = testing.from_numpy(xp, rng.standard_normal((H, L)), rdt)
    ll = xp.astype(xp.arange(L), x.dtype)
    s = np.dtype(dtype).itemsize
    pairs = H * N2 * L
    # lrnnx's log_vandermonde_naive (spec §3.9) in torch: what lrnnx runs on CPU.
    tfn = functools.partial(_bench_torch.log_vandermonde_naive_alg, L=L)
    torch_peer = peers(xp, torch=(tfn, (v, x)))
    return Case(
        fwd=lambda: log_vandermonde(v, x, L),
        bwd=lambda: log_vandermonde_vjp(g, v, x, L),
        # Stepped powers: ~4 FMA per pair for the product, 2 for the accumulation.
        fwd_work=Work(bytes=H * L * s // 2 + 2 * H * N2 * s, fma=6 * pairs),
        bwd_work=Work(bytes=H * L * s // 2 + 4 * H * N2 * s, fma=10 * pairs),
        baselines={
            # lrnnx's CPU path: one complex exp per (n, l), then a contraction.
            "naive_exp(x*l)": lambda: 2 * xp.real(
                xp.sum(v[:, :, None] * xp.exp(x[:, :, None] * ll), axis=1)),
            "transpose": lambda: log_vandermonde_transpose(g, v, x, L),
            **torch_peer,
        },
    )


BENCHES = [
    Bench("log_vandermonde", _make, dtype="complex64", sizes={
        "small": [dict(H=16, N2=8, L=256)],
        "cpu": [dict(H=256, N2=32, L=4096)],
        "gpu": [dict(H=256, N2=32, L=4096), dict(H=1024, N2=32, L=16384)],
    }),
]
