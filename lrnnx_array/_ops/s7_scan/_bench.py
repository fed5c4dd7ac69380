"""s7_scan benchmarks: lrnnx's grid (spec §5: H ∈ {8, 64}, N ∈ {16, 32}) and the roofline.

Traffic is dominated by the time-varying B and C (batch·N·H·L each): fwd reads u, A, B, C,
bias and writes s, y; bwd reads u, A, B, C, s, dout and writes du, dA, dB, dC, dbias.
"""

import numpy as np

from ... import _bench_jax, _bench_torch, testing
from ..._backend import is_numpy
from ..._harness import Bench, Case, Work, peers
from ._api import s7_scan, s7_scan_vjp


def _make(xp, dtype, B, H, N, L):
    rng = np.random.default_rng(0)

    def arr(*shape, scale=1.0, shift=0.0):
        return testing.from_numpy(xp, shift + scale * rng.standard_normal(shape), dtype)

    u, A = arr(B, H, L), arr(B, N, L, scale=0.02, shift=-0.5)
    Bm, Cm = arr(B, N, H, L, scale=0.02), arr(B, H, N, L, scale=0.02)
    bias, dout = arr(B, N, L), arr(B, H, L)
    s = np.dtype(dtype).itemsize
    bl = B * L
    baselines = {}
    if is_numpy(xp):  # impl="auto" is the numba tier when numba imports: generic beside it
        baselines["generic"] = lambda: s7_scan(u, A, Bm, Cm, bias, impl="generic")
        baselines["generic_vjp"] = lambda: s7_scan_vjp(dout, u, A, Bm, Cm, bias, impl="generic")
        fa = np.ones(B * N * H * L, dtype)  # one elementwise pass over B (B*N*H*L), S7's bulk
        baselines["floor_B_a*b+b"] = lambda: fa * fa + fa
    # Peers: JAX's lax.scan / associative_scan / vjp of the recurrence, and lrnnx's reference
    # algorithm (a loop over L) in torch.
    peer_args = (u, A, Bm, Cm, bias)
    baselines.update(peers(xp, jax=(_bench_jax.s7_scan_scan, _bench_jax.s7_scan_assoc,
                                    peer_args, dout),
                           torch=(_bench_torch.s7_ref_alg, peer_args)))
    return Case(
        fwd=lambda: s7_scan(u, A, Bm, Cm, bias),
        bwd=lambda: s7_scan_vjp(dout, u, A, Bm, Cm, bias),
        fwd_work=Work(bytes=s * bl * (2 * N * H + 2 * H + 3 * N), fma=2 * bl * N * H),
        bwd_work=Work(bytes=s * bl * (5 * N * H + 3 * H + 6 * N), fma=4 * bl * N * H),
        baselines=baselines,
    )


BENCHES = [
    Bench("s7_scan", _make, sizes={
        "small": [dict(B=2, H=8, N=16, L=256)],
        "cpu": [dict(B=2, H=64, N=32, L=1024), dict(B=64, H=8, N=16, L=1024),
                dict(B=1, H=8, N=16, L=65536)],  # 16 state rows x L=65536
        "gpu": [dict(B=64, H=64, N=32, L=4096), dict(B=32, H=32, N=16, L=2048)],
    }),
]
