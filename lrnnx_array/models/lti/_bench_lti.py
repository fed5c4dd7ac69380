"""Benchmarks of the LTI models (``_harness`` format): forward and per-token step of S5 (LTI), LRU
and Centaurus at lrnnx's benchmark grid (spec §6: B=32, H=128, N=16, L 8..2048), scaled for CPU.

``<model>.forward`` times the forward in training mode (nothing cached: the kernel is rebuilt
each call) against ``sum_of_ops``: the sequence of computations that forward performs, called
directly on pre-built arrays (parameters already in complex/real form at the input's dtype) with
``check_finite=False``:

* S5: ``discretize`` (zoh) -> powers ``exp(l log Ā)`` -> ``ssm_conv(x, K, γ̄ B, C) + x D``;
* LRU: powers ``exp(l log λ)`` -> ``ssm_conv(x, K, e^γ B, C) + D x``;
* Centaurus neck/pointwise: real powers ``Re exp(l δA)`` (summed against E for neck) ->
  ``ssm_conv(x, K, δ B, C)``; dws: the same kernel times δ B C -> ``fft_conv_channels``.

The powers are the model's own kernel primitive (``LTI_LRNN._powers``: float64 phase, no checks).
``ratio_vs_sum_of_ops`` is the model's overhead (validation, dtype resolution, casts, copies):
the target is <= 1.3. ``<model>.forward_eval`` times the eval-mode forward, whose kernel and
matrices are kept for the current parameters and length, against the same ``sum_of_ops`` and
``sum_of_ops_kernel_given`` (the convolution part alone). Step cases time ``STEP_TOKENS`` (16)
tokens per call with a live cache (per-token cost = figure / 16).
"""

from __future__ import annotations

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ...discretization import discretize
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


def _cplx(xp, re, im, cdt):
    return xp.astype(re, cdt) + xp.astype(im, cdt) * 1j


def _sequences(model, x, L):
    """(kernel(), conv(parts)): the forward's kernel stage and convolution stage as bare calls."""
    xp = model.xp
    rdt = x.dtype
    cdt = xp.complex64 if rdt == xp.float32 else xp.complex128
    p = {k: xp.astype(v, rdt) if v.dtype in (xp.float32, xp.float64) else v
         for k, v in model._params.items()}
    if isinstance(model, S5):
        A = _cplx(xp, -xp.log1p(xp.exp(p["A"][:, 0])), p["A"][:, 1], cdt)
        dt, B, C, D = xp.exp(p["log_dt"]), xp.astype(p["B"], cdt), \
            _cplx(xp, p["C"][..., 0], p["C"][..., 1], cdt), p["D"]

        def kernel():
            A_bar, g = discretize(A, dt, "zoh", check_finite=False)
            K = model._powers(xp.log(xp.astype(A_bar, xp.complex128)), L, cdt)
            return K, g[:, None] * B, C

        def conv(parts):
            return ssm_conv(x, *parts, check_finite=False) + x @ D
    elif isinstance(model, LRU):
        log_lam = _cplx(xp, -xp.exp(p["nu_log"]), xp.exp(p["theta_log"]), cdt)
        Bc = _cplx(xp, p["B_re"], p["B_im"], cdt) * xp.astype(xp.exp(p["gamma_log"]), cdt)[:, None]
        C, D = _cplx(xp, p["C_re"], p["C_im"], cdt), p["D"]

        def kernel():
            return model._powers(log_lam, L, cdt), Bc, C

        def conv(parts):
            return ssm_conv(x, *parts, check_finite=False) + x * D
    else:
        delta = xp.exp(p["log_delta"])
        poles = xp.astype(delta, cdt)[:, None] * xp.astype(p["A"], cdt)
        E = p.get("E")
        Bb, Ce = model._effective_B(rdt), model._effective_C(rdt)

        def kernel():
            if model.mode == "pointwise":
                return model._powers(xp.reshape(poles, (-1,)), L, rdt, real=True), Bb, Ce
            K = xp.sum(model._powers(poles, L, rdt, real=True) * E[:, :, None], axis=1)
            if model.mode == "dws":
                return (delta * p["B"] * p["C"])[:, None] * K
            return K, Bb, Ce

        if model.mode == "dws":
            def conv(k):
                u = xp.permute_dims(x, (0, 2, 1))
                return xp.permute_dims(fft_conv_channels(u, k, check_finite=False), (0, 2, 1))
        else:
            def conv(parts):
                return ssm_conv(x, *parts, check_finite=False)
    return kernel, conv


def _make_forward(kind, eval_mode):
    def make(xp, dtype, B, L, H, N):
        model = _build(kind, xp, dtype, H, N)
        if eval_mode:
            model.eval()
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, L, H)), dtype)
        item = 4 if dtype == "float32" else 8
        kernel, conv = _sequences(model, x, L)
        given = kernel()
        baselines = {"sum_of_ops": lambda: conv(kernel())}
        if eval_mode:
            baselines["sum_of_ops_kernel_given"] = lambda: conv(given)
        return Case(fwd=lambda: model(x), fwd_work=Work(bytes=2 * item * B * L * H),
                    baselines=baselines)
    return make


def _make_step(kind):
    def make(xp, dtype, B, H, N):
        model = _build(kind, xp, dtype, H, N)
        cache = model.allocate_inference_cache(B)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, H)), dtype)
        item = 4 if dtype == "float32" else 8
        def tokens():
            for _ in range(STEP_TOKENS):
                model.step(x, cache)

        return Case(fwd=tokens,
                    fwd_work=Work(bytes=STEP_TOKENS * 2 * item * (B * H + 2 * N * H),
                                    fma=STEP_TOKENS * 8 * B * N * H))
    return make


STEP_TOKENS = 16  # tokens per timed step call: single sub-100-us calls read noisy when loaded
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

BENCHES = [Bench(f"{k}.forward", _make_forward(k, False), sizes=_FWD_SIZES) for k in _KINDS] + \
    [Bench(f"{k}.forward_eval", _make_forward(k, True), sizes=_FWD_SIZES) for k in _KINDS] + \
    [Bench(f"{k}.step", _make_step(k), sizes=_STEP_SIZES) for k in _KINDS]
