"""Decode-step benchmarks (spec §5 Triton grid; roofline performance.md §3.4: 2·B·D·N·s)."""

import functools

import numpy as np

from ... import _bench_torch, testing
from ..._backend import is_numpy
from ..._harness import Bench, Case, Work, peers
from ._api import SPEC, selective_state_update


def _make(xp, dtype, B, D, N, nh=None, method="mamba"):
    rng = np.random.default_rng(0)
    P = D // nh if nh else D
    lead = (nh,) if nh else ()

    def arr(*shape, lo=None, hi=None):
        v = rng.standard_normal(shape) if lo is None else rng.uniform(lo, hi, shape)
        return testing.from_numpy(xp, v, dtype)

    state = arr(B, *lead, P, N)
    x, dt, z = arr(B, *lead, P), arr(B, *lead, P, lo=0, hi=0.1), arr(B, *lead, P)
    A = arr(*lead, P, N, lo=-2, hi=-1)
    Bm, Cm = arr(B, *((1,) if nh else ()), N), arr(B, *((1,) if nh else ()), N)
    Dp, bias = arr(*lead, P), arr(*lead, P, lo=-4, hi=-3)
    s = np.dtype(dtype).itemsize
    baselines = {}
    if is_numpy(xp):  # impl="auto" is the numba tier when numba imports: generic beside it
        baselines["generic"] = lambda: selective_state_update(
            state, x, dt, A, Bm, Cm, Dp, z, bias, True, discretization=method, impl="generic")
        # fwd's own call again: sub-ms calls timed first in a round (after gc) read slower, so
        # ratio_vs_generic is only meaningful next to ratio_vs_fwd_again (the position bias).
        baselines["fwd_again"] = lambda: selective_state_update(
            state, x, dt, A, Bm, Cm, Dp, z, bias, True, discretization=method)
    if nh is None and method in ("mamba", "zoh"):
        # lrnnx's selective_state_update_ref algorithm (spec §3.6) in torch, on its own state copy.
        tfn = functools.partial(_bench_torch.selective_state_update_ref_alg, method=method)
        baselines.update(peers(xp, torch=(tfn, (state, x, dt, A, Bm, Cm, Dp, z, bias))))
    return Case(
        fwd=lambda: selective_state_update(
            state, x, dt, A, Bm, Cm, Dp, z, bias, True, discretization=method
        ),
        baselines=baselines,
        # state read + written, A read (per head, per dim, per n); vectors are O(B·D).
        fwd_work=Work(
            bytes=s * (2 * B * D * N + D * N + 6 * B * D), sfu=B * D * N, fma=4 * B * D * N
        ),
    )


def _make_overhead(xp, dtype, B, D, N):
    """Validation + dispatch cost of one decode step (issue 8: <= 15% of the call and <= 20 us
    at B=1..2, D=2048, N=16 on CPU, with check_finite=False): the public call (``fwd``) against
    the implementation it resolves to, called directly on the canonical arrays the public layer
    would build (``impl_direct``). Overhead = fwd_ms - impl_direct_ms."""
    rng = np.random.default_rng(0)

    def arr(*shape, lo=None, hi=None):
        v = rng.standard_normal(shape) if lo is None else rng.uniform(lo, hi, shape)
        return testing.from_numpy(xp, v, dtype)

    state = arr(B, D, N)
    x, dt, z = arr(B, D), arr(B, D, lo=0, hi=0.1), arr(B, D)
    A = arr(D, N, lo=-2, hi=-1)
    Bm, Cm = arr(B, N), arr(B, N)
    Dp, bias = arr(D), arr(D, lo=-4, hi=-3)
    step = SPEC.get(SPEC.resolve("auto", xp, state.dtype), "step")
    canon = (x, dt, z, None, A, Bm, Cm, Dp, bias)  # one dtype: the public layouts are canonical
    from ... import ops  # the function users call (with the torch/Dask routing wrapper)

    public = ops.selective_state_update
    return Case(
        fwd=lambda: public(state, x, dt, A, Bm, Cm, Dp, z, bias, True, check_finite=False),
        baselines={
            "impl_direct": lambda: step(xp, state, None, *canon, softplus=True, method="mamba"),
            "checked": lambda: public(state, x, dt, A, Bm, Cm, Dp, z, bias, True),
        },
    )


BENCHES = [
    Bench(
        "selective_state_update",
        _make,
        sizes={
            "small": [dict(B=2, D=256, N=16)],
            "cpu": [
                dict(B=2, D=2048, N=16),
                dict(B=2, D=4096, N=64),
                dict(B=16, D=2048, N=16, nh=32),
                dict(B=32, D=256, N=16),  # the review's lrnnx comparison (0.33 ms in torch)
            ],
            "gpu": [
                dict(B=2, D=4096, N=64),
                dict(B=32, D=4096, N=16),
                dict(B=64, D=2048, N=128, nh=32),
            ],
        },
    ),
]
BENCHES.append(
    Bench(
        "selective_state_update overhead",
        _make_overhead,
        sizes={
            "small": [dict(B=1, D=256, N=16)],
            "cpu": [dict(B=1, D=2048, N=16), dict(B=2, D=2048, N=16)],
            "gpu": [dict(B=1, D=2048, N=16), dict(B=2, D=2048, N=16)],
        },
    )
)
