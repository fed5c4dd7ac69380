"""cauchy benchmarks: lrnnx's benchmark (batch 1024, N/2=32, L=16384, complex64) on the GPU.

Roofline (spec/performance.md §2.4): per (row, pair, node) ~16 FMA-pipe ops and one MUFU rcp
forward; backward ~35 ops and two rcp. Memory is O(batch (N + L)), negligible.
"""

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
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
    return Case(
        fwd=lambda: cauchy(v, z, w),
        bwd=lambda: cauchy_vjp(g, v, z, w, need_dz=False),
        fwd_work=Work(bytes=io, sfu=pairs, fma=16 * pairs),
        bwd_work=Work(bytes=io, sfu=2 * pairs, fma=35 * pairs),
        baselines=baselines,
    )


BENCHES = [
    Bench("cauchy", _make, dtype="complex64", sizes={
        "small": [dict(batch=8, N2=16, L=256)],
        "cpu": [dict(batch=64, N2=32, L=4096)],
        "gpu": [dict(batch=1024, N2=32, L=16384), dict(batch=4, N2=1024, L=2**18)],
    }),
]
