"""causal_conv1d benchmarks: Mamba's conv (dim = 2 * d_model, width 4) forward, VJP and step."""

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ._api import causal_conv1d, causal_conv1d_update, causal_conv1d_vjp


def _make(xp, dtype, batch, dim, L, width=4):
    rng = np.random.default_rng(0)
    x = testing.from_numpy(xp, rng.standard_normal((batch, dim, L)), dtype)
    w = testing.from_numpy(xp, rng.standard_normal((dim, width)), dtype)
    b = testing.from_numpy(xp, rng.standard_normal(dim), dtype)
    dout = testing.from_numpy(xp, rng.standard_normal((batch, dim, L)), dtype)
    s = np.dtype(dtype).itemsize
    n = batch * dim * L
    return Case(
        fwd=lambda: causal_conv1d(x, w, b, "silu", check_finite=False),
        bwd=lambda: causal_conv1d_vjp(dout, x, w, b, "silu", check_finite=False),
        fwd_work=Work(bytes=2 * s * n, fma=width * n, sfu=n),
        bwd_work=Work(bytes=4 * s * n, fma=3 * width * n, sfu=n),
        # One elementwise pass over the same data: K taps should cost about K of these.
        baselines={"elementwise_x*x+x": lambda: x * x + x},
    )


def _make_step(xp, dtype, batch, dim, width=4):
    rng = np.random.default_rng(0)
    x = testing.from_numpy(xp, rng.standard_normal((batch, dim)), dtype)
    state = testing.from_numpy(xp, rng.standard_normal((batch, dim, width)), dtype)
    w = testing.from_numpy(xp, rng.standard_normal((dim, width)), dtype)
    b = testing.from_numpy(xp, rng.standard_normal(dim), dtype)
    s = np.dtype(dtype).itemsize
    return Case(fwd=lambda: causal_conv1d_update(x, state, w, b, "silu", check_finite=False),
                fwd_work=Work(bytes=3 * s * batch * dim * width))


BENCHES = [
    Bench("causal_conv1d", _make, sizes={
        "small": [dict(batch=2, dim=64, L=256)],
        "cpu": [dict(batch=8, dim=1024, L=1024)],
        "gpu": [dict(batch=8, dim=3072, L=4096)],
    }),
    Bench("causal_conv1d_update", _make_step, sizes={
        "small": [dict(batch=1, dim=256)],
        "cpu": [dict(batch=1, dim=256), dict(batch=32, dim=2048)],
        "gpu": [dict(batch=64, dim=3072)],
    }),
]
