"""Benchmarks of S4 and S4D (``_harness`` format): forward and per-token step at lrnnx's grid
(spec §6: B=32, H=128, N=16 (d_state), L 8..2048), scaled for CPU.

Each forward case carries two baselines: ``ssm_ops`` (the kernel op and the per-channel FFT
convolution on the model's processed parameters) and ``all_ops`` (those plus the block's dense
work: the output Linear's matmul and the three GELUs), so the model's own overhead (parameter
processing, casts, layout changes, checks) is the ratio of the forward to ``all_ops``. Step cases
time one token with a live cache (dense step mode for S4, diagonal for S4D).
"""

from __future__ import annotations

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ...layers.activations import gelu
from ...ops import dplr_kernel, fft_conv_channels, s4d_kernel
from .s4 import S4
from .s4d import S4D


def _build(kind, xp, dtype, H, N):
    cls = S4 if kind == "S4" else S4D
    return cls(H, d_state=N, transposed=False, seed=0, dtype=dtype, xp=xp, verbose=False).eval()


def _baselines(model, x, L):
    xp = model.xp
    kern = model.layer.kernel
    dt, A, B, C, P = kern.process_params()
    u = xp.permute_dims(x, (0, 2, 1))[:, None, ...]
    if isinstance(model, S4):
        def kernel():
            return dplr_kernel(A, B, C, P, dt, L, check_finite=False).k
    else:
        def kernel():
            return s4d_kernel(A, B, C, dt, L, disc=model.disc, check_finite=False).k
    W = model.output_linear._modules["0"].weight

    def ssm_ops():
        return fft_conv_channels(u, kernel())

    def all_ops():
        y = ssm_ops()
        y = gelu(gelu(xp.reshape(y, (x.shape[0], -1, L))))
        return gelu(xp.matmul(W, y))

    return {"ssm_ops": ssm_ops, "all_ops": all_ops}


def _make_forward(kind):
    def make(xp, dtype, B, L, H, N):
        model = _build(kind, xp, dtype, H, N)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, L, H)), dtype)
        item = 4 if dtype == "float32" else 8
        return Case(fwd=lambda: model(x), fwd_work=Work(bytes=2 * item * B * L * H,
                                                        fma=B * L * H * H),
                    baselines=_baselines(model, x, L))
    return make


def _make_step(kind):
    def make(xp, dtype, B, H, N):
        model = _build(kind, xp, dtype, H, N)
        cache = model.allocate_inference_cache(B)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, H)), dtype)
        item = 4 if dtype == "float32" else 8
        n = N * N if kind == "S4" else N // 2  # dense (H, N, N) step vs diagonal (H, N/2)
        return Case(fwd=lambda: model.step(x, cache),
                    fwd_work=Work(bytes=2 * item * (B * H + 2 * n * H), fma=4 * B * n * H))
    return make


_KINDS = ("S4", "S4D")
_FWD_SIZES = {
    "small": [dict(B=2, L=64, H=8, N=8)],
    "cpu": [dict(B=32, L=512, H=128, N=16), dict(B=8, L=2048, H=128, N=16)],
    "gpu": [dict(B=32, L=2048, H=128, N=16), dict(B=128, L=512, H=128, N=16),
            dict(B=32, L=512, H=256, N=16)],
}
_STEP_SIZES = {
    "small": [dict(B=1, H=8, N=8)],
    "cpu": [dict(B=1, H=128, N=16), dict(B=32, H=128, N=16)],
    "gpu": [dict(B=1, H=128, N=16), dict(B=32, H=128, N=16), dict(B=128, H=128, N=16)],
}

BENCHES = [Bench(f"{k}.forward", _make_forward(k), sizes=_FWD_SIZES) for k in _KINDS] + \
    [Bench(f"{k}.step", _make_step(k), sizes=_STEP_SIZES) for k in _KINDS]
