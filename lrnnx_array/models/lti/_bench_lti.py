"""Benchmarks of the LTI models (``_harness`` format): forward and per-token step of S5 (LTI), LRU
and Centaurus at lrnnx's benchmark grid (spec §6: B=32, H=128, N=16, L 8..2048), scaled for CPU.

Each forward case carries the baseline ``ops``: the model's convolution op alone on precomputed
kernel and matrices, so the model's overhead (kernel generation, casts, checks) is the ratio of
the two. Step cases time one token with a live cache (per-token cost).
"""

from __future__ import annotations

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ...ops import fft_conv_channels, ssm_conv
from .centaurus import Centaurus
from .lru import LRU
from .s5 import S5


def _build(kind, xp, dtype, H, N):
    if kind == "S5":
        return S5(H, N, "zoh", seed=0, dtype=dtype, xp=xp)
    if kind == "LRU":
        return LRU(H, N, seed=0, dtype=dtype, xp=xp)
    mode = kind.split(".")[1]
    return Centaurus(H, H if mode == "dws" else N, 8, mode=mode, seed=0, dtype=dtype, xp=xp)


def _ops_baseline(model, x, L, dtype):
    """Thunk running only the convolution op the model's forward calls."""
    xp = model.xp
    rdt = xp.float32 if dtype == "float32" else xp.float64
    if isinstance(model, S5):
        A_bar, g, C = model.discretize()
        K, B_bar = model.compute_kernel(L, A_bar, g)
        return lambda: ssm_conv(x, K, B_bar, C)
    if isinstance(model, LRU):
        K, B_norm = model.compute_kernel(L)
        C = model.discretize()[2]
        return lambda: ssm_conv(x, K, B_norm, C)
    K, _ = model.compute_kernel(L)
    if model.mode == "dws":
        u = xp.permute_dims(x, (0, 2, 1))
        return lambda: fft_conv_channels(u, K)
    Bb, Ce = model._effective_B(rdt), model._effective_C(rdt)
    return lambda: ssm_conv(x, K, Bb, Ce)


def _make_forward(kind):
    def make(xp, dtype, B, L, H, N):
        model = _build(kind, xp, dtype, H, N)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, L, H)), dtype)
        item = 4 if dtype == "float32" else 8
        return Case(fwd=lambda: model(x), fwd_work=Work(bytes=2 * item * B * L * H),
                    baselines={"ops": _ops_baseline(model, x, L, dtype)})
    return make


def _make_step(kind):
    def make(xp, dtype, B, H, N):
        model = _build(kind, xp, dtype, H, N)
        cache = model.allocate_inference_cache(B)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, H)), dtype)
        item = 4 if dtype == "float32" else 8
        return Case(fwd=lambda: model.step(x, cache),
                    fwd_work=Work(bytes=2 * item * (B * H + 2 * N * H), fma=8 * B * N * H))
    return make


_KINDS = ("S5", "LRU", "Centaurus.neck", "Centaurus.pointwise", "Centaurus.dws")
_FWD_SIZES = {
    "small": [dict(B=2, L=64, H=8, N=4)],
    "cpu": [dict(B=32, L=512, H=128, N=16), dict(B=8, L=2048, H=128, N=16)],
    "gpu": [dict(B=32, L=2048, H=128, N=16), dict(B=128, L=512, H=128, N=16),
            dict(B=32, L=512, H=256, N=16)],
}
_STEP_SIZES = {
    "small": [dict(B=1, H=8, N=4)],
    "cpu": [dict(B=1, H=128, N=16), dict(B=32, H=128, N=16)],
    "gpu": [dict(B=1, H=128, N=16), dict(B=32, H=128, N=16), dict(B=128, H=128, N=16)],
}

BENCHES = [Bench(f"{k}.forward", _make_forward(k), sizes=_FWD_SIZES) for k in _KINDS] + \
    [Bench(f"{k}.step", _make_step(k), sizes=_STEP_SIZES) for k in _KINDS]
