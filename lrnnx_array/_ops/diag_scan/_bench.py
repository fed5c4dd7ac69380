"""diag_scan benchmarks: issue targets and the roofline of spec/performance.md §3.3."""

import numpy as np

from ... import _bench_jax, testing
from ..._backend import is_numpy
from ..._harness import Bench, Case, Work, peers
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
        # One elementwise pass over the same data: the CPU floor (numba: <= 2x fwd,
        # <= 4x VJP).
        baselines={"floor_a*b+b": lambda: a * b + b},
    )
    if is_numpy(xp):  # impl="auto" is the numba tier when numba imports: generic beside it
        case.baselines["generic"] = lambda: diag_scan(a, b, impl="generic")
        case.baselines["generic_vjp"] = lambda: diag_scan_vjp(dh, a, b, impl="generic")
    # JAX: the same recurrence jitted (lrnnx has no diag_scan, so no torch reference here).
    case.baselines.update(peers(xp, jax=(_bench_jax.diag_scan_scan, _bench_jax.diag_scan_assoc,
                                         (a, b), dh)))
    return case


def _make_const_gate(xp, dtype, rows, L):
    """Constant gate per row: the case scipy.signal.lfilter handles (one call per row)."""
    rng = np.random.default_rng(0)
    lam_np = rng.uniform(0.5, 1.0, (rows, 1)).astype(dtype)
    b_np = rng.standard_normal((rows, L)).astype(dtype)
    lam, b = testing.from_numpy(xp, lam_np), testing.from_numpy(xp, b_np)
    baselines = {}
    if is_numpy(xp):
        import scipy.signal

        def lfilter_rows():
            return [scipy.signal.lfilter([1.0], [1.0, -lam_np[r, 0]], b_np[r]) for r in range(rows)]

        baselines["lfilter_per_row"] = lfilter_rows
    s = np.dtype(dtype).itemsize
    return Case(fwd=lambda: diag_scan(lam, b), fwd_work=Work(bytes=2 * s * rows * L),
                baselines=baselines)


BENCHES = [
    Bench("diag_scan", _make, sizes={
        "small": [dict(rows=64, L=256)],
        "cpu": [dict(rows=4096, L=1024), dict(rows=16, L=65536)],
        "gpu": [dict(rows=8 * 1536, L=65536), dict(rows=8 * 1536, L=4096)],
    }),
    Bench("diag_scan const gate", _make_const_gate, sizes={
        "small": [dict(rows=16, L=256)],
        "cpu": [dict(rows=1024, L=4096), dict(rows=8, L=65536)],
        "gpu": [dict(rows=8 * 1536, L=65536)],
    }),
]
