"""S5 benchmarks: issue targets and the roofline of spec/performance.md §3.2.

Work counts the scan alone (as §3.2 does): fwd reads Bu and writes x (4 complex-halves = 16 B
per state element at complex64), bwd reads Bu and dx and writes dBu (24 B), plus one complex
exp per element when the steps vary in time. The GEMMs (B u, C x, and in the VJP C^H g, B^H dBu,
dB, dC) are timed separately as baselines, so the fused-vs-GEMM split can be judged.
"""

import functools

import numpy as np

from ... import _bench_jax, _bench_torch, testing
from ..._harness import Bench, Case, Work, peers
from ...models.init import make_s5_params
from ._api import s5_inner, s5_inner_vjp


def _make(xp, dtype, B, H, P, L, disc="zoh", var=False):
    """``var``: a step per (batch, state, time) (B, P, L), lrnnx's layout; else one per state."""
    rng = np.random.default_rng(0)
    A, Bm, C, dt, D = make_s5_params(H, P)
    if var:
        dt = dt[None, :, None] * rng.uniform(0.5, 2, (B, P, L))
    rdt = "float32" if dtype == "complex64" else "float64"
    u_np = rng.standard_normal((B, H, L))
    u = testing.from_numpy(xp, u_np, rdt)
    dtx = testing.from_numpy(xp, dt, rdt)
    Ax, Bx, Cx = (testing.from_numpy(xp, v, dtype) for v in (A, Bm, C))
    Dx = testing.from_numpy(xp, D, rdt)
    g = testing.from_numpy(xp, rng.standard_normal((B, H, L)), rdt)
    s = 2 * np.dtype(rdt).itemsize
    n = B * P * L
    uc = xp.astype(u, xp.complex64 if dtype == "complex64" else xp.complex128)
    x = xp.matmul(Bx, uc)
    baselines = {"gemm_Bu": lambda: xp.matmul(Bx, uc), "gemm_Cx": lambda: xp.matmul(Cx, x)}
    # Peers on the same arrays: JAX's lax.scan / associative_scan / vjp of the recurrence, and
    # lrnnx's simplified_scan_ref algorithm ((B, P, L) gates, a loop, then C) in torch.
    scan, assoc = _bench_jax.s5_inner_fns(disc, varying_dt=var)
    tfn = functools.partial(_bench_torch.s5_inner_ref_alg, method=disc)
    peer_args = (u, dtx, Ax, Bx, Cx, Dx)
    baselines.update(peers(xp, jax=(scan, assoc, peer_args, g), torch=(tfn, peer_args)))
    if type(u).__module__.startswith("numpy"):
        # impl="auto" is the numba tier when numba imports: the array-API path beside it, and
        # one elementwise a*b+b pass over the state volume B*P*L (the floor).
        baselines["generic"] = lambda: s5_inner(u, dtx, Ax, Bx, Cx, Dx, None, disc,
                                                impl="generic")
        baselines["generic_vjp"] = lambda: s5_inner_vjp(g, u, dtx, Ax, Bx, Cx, Dx, None, disc,
                                                        impl="generic")
        fa = np.ones(n, dtype)
        baselines["floor_state_a*b+b"] = lambda: fa * fa + fa
    return Case(
        fwd=lambda: s5_inner(u, dtx, Ax, Bx, Cx, Dx, None, disc),
        bwd=lambda: s5_inner_vjp(g, u, dtx, Ax, Bx, Cx, Dx, None, disc),
        fwd_work=Work(bytes=2 * s * n),
        bwd_work=Work(bytes=3 * s * n),
        baselines=baselines,
    )


BENCHES = [
    Bench("s5_inner", _make, dtype="complex64", sizes={
        "small": [dict(B=2, H=8, P=16, L=256)],
        "cpu": [dict(B=2, H=64, P=64, L=1024), dict(B=4, H=128, P=16, L=2048, var=True),
                # The floor sizes, varying steps: 4096 state rows (B*P) x L=1024 and
                # 16 rows x L=65536.
                dict(B=16, H=16, P=256, L=1024, var=True),
                dict(B=1, H=16, P=16, L=65536, var=True)],
        "gpu": [dict(B=32, H=256, P=256, L=4096),
                dict(B=32, H=128, P=16, L=512), dict(B=32, H=128, P=16, L=2048)],
    }),
]


def _make_scan(xp, dtype, B, P, L, disc="zoh"):
    """The scan alone (what §3.2's roofline counts): Bu -> x, and (Bu, dx) -> dBu + reductions."""
    from ..._backend import is_cupy
    from . import _generic

    rng = np.random.default_rng(0)
    A, _, _, dt, _ = make_s5_params(8, P)
    rdt = "float32" if dtype == "complex64" else "float64"
    Bu = testing.from_numpy(xp, rng.standard_normal((B, P, L)) + 0j, dtype)
    dx = testing.from_numpy(xp, rng.standard_normal((B, P, L)) + 0j, dtype)
    dt3 = testing.from_numpy(xp, dt.reshape(1, P, 1), rdt)
    Ax = testing.from_numpy(xp, A, dtype)
    s = 2 * np.dtype(rdt).itemsize
    n = B * P * L
    if is_cupy(xp):
        import cupy as cp

        from ._cuda import _scan_bwd, _scan_fwd

        ckpt = _scan_fwd(cp, disc, Bu, dt3, Ax, None, None, True)[2]
        fwd = lambda: _scan_fwd(cp, disc, Bu, dt3, Ax, None, None, False)  # noqa: E731
        bwd = lambda: _scan_bwd(cp, disc, Bu, dx, dt3, Ax, None, None, ckpt, None)  # noqa: E731
    else:
        Ab, _, _ = _generic.discretize(xp, disc, xp.reshape(Ax, (1, P, 1)), dt3, None)
        fwd = lambda: _generic._scan(xp, Ab, Bu, None, Bu.dtype)  # noqa: E731
        bwd = None
    return Case(fwd=fwd, bwd=bwd, fwd_work=Work(bytes=2 * s * n), bwd_work=Work(bytes=3 * s * n))


BENCHES.append(Bench("s5_scan_only", _make_scan, dtype="complex64", sizes={
    "small": [dict(B=2, P=16, L=256)],
    "cpu": [dict(B=2, P=64, L=1024)],
    "gpu": [dict(B=32, P=256, L=4096), dict(B=32, P=16, L=2048)],
}))
