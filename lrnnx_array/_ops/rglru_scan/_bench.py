"""rglru_scan benchmarks: lrnnx's grid (spec §5: B=64, D=64, N=1) and the roofline (§3.3)."""

import numpy as np

from ... import _bench_jax, _bench_torch, testing
from ..._backend import is_numpy
from ..._harness import Bench, Case, Work, peers
from ._api import rglru_scan, rglru_scan_vjp


def _make(xp, dtype, B, D, L, N=1):
    rng = np.random.default_rng(0)
    u = testing.from_numpy(xp, rng.standard_normal((B, D, L)), dtype)
    delta = testing.from_numpy(xp, 8 / (1 + np.exp(-rng.standard_normal((B, D, L)))), dtype)
    A = testing.from_numpy(xp, rng.uniform(0.9, 0.999, (D, N)), dtype)
    dout = testing.from_numpy(xp, rng.standard_normal((B, D, L)), dtype)
    s = np.dtype(dtype).itemsize
    n = B * D * L
    baselines = {"elementwise_u*delta+u": lambda: u * delta + u}
    if is_numpy(xp):  # impl="auto" is the numba tier when numba imports: generic beside it
        baselines["generic"] = lambda: rglru_scan(u, delta, A, impl="generic")
        baselines["generic_vjp"] = lambda: rglru_scan_vjp(dout, u, delta, A, impl="generic")
        fa = np.ones(n * N, dtype)  # one elementwise pass over the state volume B*D*N*L
        baselines["floor_state_a*b+b"] = lambda: fa * fa + fa
    # Peers: JAX's lax.scan / associative_scan / vjp of the recurrence, and lrnnx's reference
    # algorithm ((B, D, L, N) gates in log space, a loop) in torch.
    baselines.update(peers(xp, jax=(_bench_jax.rglru_scan_scan, _bench_jax.rglru_scan_assoc,
                                    (u, delta, A), dout),
                           torch=(_bench_torch.rglru_ref_alg, (u, delta, A))))
    return Case(
        fwd=lambda: rglru_scan(u, delta, A),
        bwd=lambda: rglru_scan_vjp(dout, u, delta, A),
        # fwd reads u, δ and writes y; per state: exp, expm1, sqrt.
        fwd_work=Work(bytes=3 * s * n, sfu=3 * n * N, fma=8 * n * N),
        # bwd: checkpointed forward (reads u, δ) + reads u, δ, dout, writes du, dδ.
        bwd_work=Work(bytes=7 * s * n, sfu=8 * n * N, fma=30 * n * N),
        baselines=baselines,
    )


BENCHES = [
    Bench(
        "rglru_scan",
        _make,
        sizes={
            "small": [dict(B=2, D=64, L=256)],
            "cpu": [
                dict(B=64, D=64, L=1024),
                dict(B=2, D=8, L=4096),
                dict(B=8, D=256, L=1024, N=4),
                # The floor sizes: 4096 rows x L=1024, 16 rows x L=65536.
                dict(B=16, D=256, L=1024),
                dict(B=1, D=16, L=65536),
            ],
            "gpu": [
                dict(B=64, D=64, L=4096),
                dict(B=8, D=1536, L=4096),
                dict(B=8, D=1536, L=4096, N=16),
            ],
        },
    ),
]
