"""Benchmarks of S4 and S4D (``_harness`` format): forward and per-token step at lrnnx's grid
(spec §6: B=32, H=128, N=16 (d_state), L 8..2048), scaled for CPU.

``<model>.forward`` times the forward in training mode (dropout 0, so nothing random; nothing
is cached: the kernel is rebuilt each call) against ``sum_of_ops``: the sequence of public ops
and array operations that forward performs, called directly on pre-built arrays (the processed
parameters, the input already at its dtype) with ``check_finite=False``:

    k = dplr_kernel / s4d_kernel(...)            (the kernel op)
    y = fft_conv_channels(u, k) + u D            (u = x in (B, H, L) layout)
    y = gelu(gelu(y)) ; y = gelu(y W^T + b)      (GELU, GELU, output Linear + GELU)

``ratio_vs_sum_of_ops`` is then the model's own overhead (validation, dtype resolution,
parameter processing, casts, copies): the target is <= 1.3. ``<model>.forward_eval`` times the
forward in eval mode, where the kernel is kept for the current parameters and length
(``models._base.KernelCache``), against the same ``sum_of_ops`` and against
``sum_of_ops_kernel_given`` (the same sequence without the kernel op). ``S4Kernel.forward``
times the kernel module alone in eval mode with only C̃ kept (the kernel rebuilt from it each
call) against the module in training mode (C̃ recomputed from the plain C by the op each call)
and the op given C̃. Step cases time ``STEP_TOKENS`` (16) tokens per call with a live cache
(per-token cost = figure / 16).
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
    return cls(H, d_state=N, transposed=False, seed=0, dtype=dtype, xp=xp, verbose=False)


def _sequences(model, x, L):
    """(sum_of_ops, sum_of_ops_kernel_given): the forward's work as bare calls."""
    xp = model.xp
    kern = model.layer.kernel
    dt, A, B, C, P = kern.process_params()
    if isinstance(model, S4):
        def kernel():
            return dplr_kernel(A, B, C, P, dt, L, check_finite=False).k
    else:
        def kernel():
            return s4d_kernel(A, B, C, dt, L, disc=model.disc, check_finite=False).k
    lin = model.output_linear._modules["0"]
    W, b, D = lin.weight, lin.bias, model.D
    Bn, H = x.shape[0], model.H
    k_given = kernel()

    def rest(k):
        u = xp.permute_dims(x, (0, 2, 1))[:, None, ...]  # (B, 1, H, L)
        y = fft_conv_channels(u, k, check_finite=False) + u * D[None, :, :, None]
        y = xp.permute_dims(xp.reshape(y, (Bn, H, L)), (0, 2, 1))
        y = gelu(gelu(y, xp), xp)
        return gelu(xp.matmul(y, xp.matrix_transpose(W)) + b, xp)

    return (lambda: rest(kernel())), (lambda: rest(k_given))


def _make_forward(kind, eval_mode):
    def make(xp, dtype, B, L, H, N):
        model = _build(kind, xp, dtype, H, N)
        if eval_mode:
            model.eval()
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, L, H)), dtype)
        item = 4 if dtype == "float32" else 8
        full, given = _sequences(model, x, L)
        baselines = {"sum_of_ops": full}
        if eval_mode:
            baselines["sum_of_ops_kernel_given"] = given
        return Case(fwd=lambda: model(x), fwd_work=Work(bytes=2 * item * B * L * H,
                                                        fma=B * L * H * H),
                    baselines=baselines)
    return make


def _make_kernel(xp, dtype, L, H, N):
    """S4Kernel with C̃ kept (k rebuilt each call) vs recomputing C̃ (training mode) vs the op
    given C̃ (what the kept path should cost)."""
    model = _build("S4", xp, dtype, H, N)
    kept = model.layer.kernel
    kept.eval()
    object.__setattr__(kept, "_kernel_cache", _CTildeOnly())
    train = _build("S4", xp, dtype, H, N).layer.kernel
    dt, A, B, C, P = kept.process_params()
    Ct = kept._c_tilde_at(L, False, None, dt, A, C, P)[0]
    return Case(fwd=lambda: kept(L=L), fwd_work=Work(bytes=4 * H * L),
                baselines={"train_C_recomputed": lambda: train(L=L)[0],
                           "op_C_tilde_given": lambda: dplr_kernel(
                               A, B, Ct, P, dt, L, C_is_tilde=True, l_kernel=L,
                               check_finite=False).k})


class _CTildeOnly:
    """A KernelCache stand-in that keeps C̃ but never the kernel (to time the C̃ path alone)."""

    def __init__(self):
        from .._base import KernelCache

        self._inner = KernelCache()

    def clear(self):
        self._inner.clear()

    def get(self, module, kind, key, params, compute):
        if kind == "k":
            return compute()
        return self._inner.get(module, kind, key, params, compute)


def _make_step(kind):
    def make(xp, dtype, B, H, N):
        model = _build(kind, xp, dtype, H, N).eval()
        cache = model.allocate_inference_cache(B)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, H)), dtype)
        item = 4 if dtype == "float32" else 8
        n = N * N if kind == "S4" else N // 2  # dense (H, N, N) step vs diagonal (H, N/2)
        def tokens():
            for _ in range(STEP_TOKENS):
                model.step(x, cache)

        return Case(fwd=tokens,
                    fwd_work=Work(bytes=STEP_TOKENS * 2 * item * (B * H + 2 * n * H),
                                    fma=STEP_TOKENS * 4 * B * n * H))
    return make


STEP_TOKENS = 16  # tokens per timed step call: single sub-100-us calls read noisy when loaded
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
_KERNEL_SIZES = {
    "small": [dict(L=64, H=8, N=8)],
    "cpu": [dict(L=2048, H=128, N=16), dict(L=4096, H=256, N=64)],
    "gpu": [dict(L=16384, H=1024, N=64)],
}

BENCHES = [Bench(f"{k}.forward", _make_forward(k, False), sizes=_FWD_SIZES) for k in _KINDS] + \
    [Bench(f"{k}.forward_eval", _make_forward(k, True), sizes=_FWD_SIZES) for k in _KINDS] + \
    [Bench("S4Kernel.forward", _make_kernel, sizes=_KERNEL_SIZES)] + \
    [Bench(f"{k}.step", _make_step(k), sizes=_STEP_SIZES) for k in _KINDS]
