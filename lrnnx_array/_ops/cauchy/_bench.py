"""cauchy benchmarks.

``cauchy``: lrnnx's benchmark (batch 1024, N/2=32, L=16384, complex64), one pole row per
coefficient row. ``cauchy_shared_w``: the S4 DPLR kernel's call, v (rows, H, N/2) against
w (H, N/2) shared by the rows and L/2+1 nodes on the imaginary axis (dplr_kernel at L=4096 is
rows=4, H=256, N2=32, F=2048 nodes plus the Nyquist one, computed without cauchy).

Roofline (spec/performance.md §2.4): per (row, pair, node) ~16 FMA-pipe ops and one MUFU rcp
forward; backward ~35 ops and two rcp. Memory is O(batch (N + L)), negligible.
"""

import numpy as np

from ... import _bench_torch, testing
from ..._harness import Bench, Case, Work, peers
from ._api import cauchy, cauchy_vjp


def _make(xp, dtype, batch, N2, L):
    rng = np.random.default_rng(0)
    cn = lambda *s: rng.standard_normal(s) + 1j * rng.standard_normal(s)  # noqa: E731
    v = testing.from_numpy(xp, cn(batch, N2), dtype)
    w = testing.from_numpy(xp, cn(batch, N2) - 0.5, dtype)
    z = testing.from_numpy(xp, np.exp(1j * rng.uniform(0, 2 * np.pi, L)), dtype)
    g = testing.from_numpy(xp, cn(batch, L), dtype)
    s = np.dtype(dtype).itemsize
    pairs = batch * N2 * L
    io = (batch * (L + 2 * N2) + L) * s
    baselines = {}
    if batch * N2 * L <= 2**24:
        # lrnnx's cauchy_naive: the (batch, N, L) matrix of conj-concatenated terms.
        def naive():
            fv = xp.concat([v, xp.conj(v)], axis=-1)[:, :, None]
            fw = xp.concat([w, xp.conj(w)], axis=-1)[:, :, None]
            return xp.sum(fv / (z - fw), axis=1)

        baselines["naive"] = naive
        # lrnnx's cauchy_naive (spec §3.8) in torch: the same matrix, what lrnnx runs on CPU.
        baselines.update(peers(xp, torch=(_bench_torch.cauchy_naive_alg, (v, z, w))))
    return Case(
        fwd=lambda: cauchy(v, z, w),
        bwd=lambda: cauchy_vjp(g, v, z, w, need_dz=False),
        fwd_work=Work(bytes=io, sfu=pairs, fma=16 * pairs),
        bwd_work=Work(bytes=io, sfu=2 * pairs, fma=35 * pairs),
        baselines=baselines,
    )


def _make_shared(xp, dtype, rows, H, N2, F):
    rng = np.random.default_rng(0)
    cn = lambda *s: rng.standard_normal(s) + 1j * rng.standard_normal(s)  # noqa: E731
    dt = np.exp(rng.uniform(np.log(1e-3), np.log(1e-1), (H, 1)))
    w = dt * (-0.5 + 1j * np.pi * np.arange(N2))
    v, z = cn(rows, H, N2) * dt, 2j * np.tan(np.arange(F) * np.pi / (2 * F))
    V, Z, W = (testing.from_numpy(xp, a, dtype) for a in (v, z, w))
    g = testing.from_numpy(xp, cn(rows, H, F), dtype)
    s = np.dtype(dtype).itemsize
    pairs = rows * H * N2 * F
    io = (rows * H * (F + N2) + H * N2 + F) * s
    return Case(
        fwd=lambda: cauchy(V, Z, W),
        bwd=lambda: cauchy_vjp(g, V, Z, W, need_dz=False),
        fwd_work=Work(bytes=io, sfu=pairs, fma=16 * pairs),
        bwd_work=Work(bytes=io, sfu=2 * pairs, fma=35 * pairs),
    )


BENCHES = [
    Bench("cauchy", _make, dtype="complex64", sizes={
        "small": [dict(batch=8, N2=16, L=256)],
        "cpu": [dict(batch=64, N2=32, L=4096)],
        "gpu": [dict(batch=1024, N2=32, L=16384), dict(batch=4, N2=1024, L=2**18)],
    }),
    Bench("cauchy_shared_w", _make_shared, dtype="complex64", sizes={
        "small": [dict(rows=4, H=8, N2=16, F=128)],
        "cpu": [dict(rows=4, H=256, N2=32, F=2048)],
        "gpu": [dict(rows=4, H=1024, N2=32, F=8192)],
    }),
]
