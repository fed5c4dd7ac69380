"""diag_scan benchmarks: issue targets and the roofline of spec/performance.md §3.3."""

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ._api import diag_scan, diag_scan_vjp


def _make(xp, dtype, rows, L):
    rng = np.random.default_rng(0)
    a = testing.from_numpy(xp, rng.uniform(0.5, 1.0, (rows, L)), dtype)
    b = testing.from_numpy(xp, rng.standard_normal((rows, L)), dtype)
    dh = testing.from_numpy(xp, rng.standard_normal((rows, L)), dtype)
    s = np.dtype(dtype).itemsize
    n = rows * L
    case = Case(
        fwd=lambda: diag_scan(a, b),
        bwd=lambda: diag_scan_vjp(dh, a, b),
        fwd_work=Work(bytes=3 * s * n),
        bwd_work=Work(bytes=5 * s * n),
        # One elementwise pass over the same data: the CPU yardstick (<= 20x).
        baselines={"elementwise_a*b+b": lambda: a * b + b},
    )
    return case


BENCHES = [
    Bench("diag_scan", _make, sizes={
        "small": [dict(rows=64, L=256)],
        "cpu": [dict(rows=4096, L=1024), dict(rows=16, L=65536)],
        "gpu": [dict(rows=8 * 1536, L=65536), dict(rows=8 * 1536, L=4096)],
    }),
]
