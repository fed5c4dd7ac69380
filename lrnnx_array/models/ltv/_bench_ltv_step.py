"""The step cases of ``bench --models`` for the LTV models (see ``_bench_ltv`` for the baselines).

Each step baseline does the work of one token of the model's ``step`` on pre-built arrays: the
public ops and layer calls (``sum of ops``), the same through the implementation functions and
bare matmuls (``sum of impls``), the public state-update op alone and its implementation alone.
"""

from __future__ import annotations

import numpy as np

from ... import testing
from ..._harness import Case, Work
from ..._ops.causal_conv1d._api import UPDATE_SPEC as _CONV_SPEC
from ..._ops.selective_state_update._api import SPEC as _SSU_SPEC
from ..._ops.selective_state_update._api import _resolve as _ssu_resolve
from ..._ops.simplified_state_update._api import SPEC as _S5U_SPEC
from ..._ops.simplified_state_update._api import _shapes as _s5u_shapes
from ...layers import gelu, sigmoid
from ...ops import causal_conv1d_update, selective_state_update, simplified_state_update

_NOCHECK = {"check_finite": False}


def _contig(xp, v):
    """A C-ordered copy of ``v`` (a flat reshape of a strided view copies in C order)."""
    return xp.reshape(xp.reshape(v, (-1,)), tuple(v.shape))


def _T(xp, w):
    return xp.matrix_transpose(w)


# -- step: the model's per-token ops on pre-built arrays -------------------------------------------


def _ssu_impl(xp, state, x, dt, A, B, C, D=None, z=None, *, dt_bias=None, deltaA=None,
              method):
    """The resolved implementation of selective_state_update, called on canonical arrays."""
    fn = _SSU_SPEC.get(_ssu_resolve("auto", xp, state, state.dtype, method), "step")
    softplus = dt_bias is not None
    return lambda: fn(xp, state, None, x, dt, z, deltaA, A, B, C, D, dt_bias,
                      softplus=softplus, method=method)


def _mm(xp, layer, v):
    """``layer``'s affine map as a bare matmul (no layer checks): the impl-level projection."""
    y = xp.matmul(v, _T(xp, layer.weight))
    return y + layer.bias if layer.has_bias else y


def _conv_impl(xp, x, conv_state, weight, bias, activation):
    """causal_conv1d_update's resolved implementation on canonical arrays, state written."""
    fn = _CONV_SPEC.get(_CONV_SPEC.resolve("auto", xp, x.dtype), "update")

    def call():
        out, new = fn(xp, x[:, :, None], conv_state, weight, bias, activation=activation)
        conv_state[...] = new
        return out[:, :, 0]

    return call


def _mamba_step_ops(m, B):
    xp = m.xp
    H, Di, N, r, K = m.d_model, m.d_inner, m.d_state, m.dt_rank, m.d_conv
    rng = np.random.default_rng(2)
    f = m.dtype.name
    x = testing.from_numpy(xp, rng.standard_normal((B, H)), f)
    u0 = testing.from_numpy(xp, rng.standard_normal((B, Di)), f)
    conv_state = xp.zeros((B, Di, K), dtype=x.dtype)
    w = xp.reshape(m.conv1d.weight, (Di, K))
    u = causal_conv1d_update(u0, xp.zeros((B, Di, K), dtype=x.dtype), w, m.conv1d.bias, "silu")
    x_db = m.x_proj(u)
    dtin = _contig(xp, x_db[:, :r])
    dt = xp.matmul(dtin, _T(xp, m.dt_proj.weight))
    Bm, Cm = _contig(xp, x_db[:, r:r + N]), _contig(xp, x_db[:, r + N:])
    A = -xp.exp(m.A_log)
    state = xp.zeros((B, Di, N), dtype=x.dtype)
    z = testing.from_numpy(xp, rng.standard_normal((B, Di)), f)
    y = testing.from_numpy(xp, rng.standard_normal((B, Di)), f)
    kw = dict(dt_bias=m.dt_proj.bias, dt_softplus=True, discretization=m.discretization)

    def op():
        return selective_state_update(state, u, dt, A, Bm, Cm, m.D, z, **kw, **_NOCHECK)

    def ops():
        m.in_proj(x)
        causal_conv1d_update(u0, conv_state, w, m.conv1d.bias, "silu", **_NOCHECK)
        m.x_proj(u)
        xp.matmul(dtin, _T(xp, m.dt_proj.weight))
        -xp.exp(m.A_log)
        op()
        return m.out_proj(y)

    impl = _ssu_impl(xp, state, u, dt, A, Bm, Cm, m.D, z, dt_bias=m.dt_proj.bias,
                     method=m.discretization)
    conv = _conv_impl(xp, u0, conv_state, w, m.conv1d.bias, "silu")

    def impls():
        _mm(xp, m.in_proj, x)
        conv()
        _mm(xp, m.x_proj, u)
        xp.matmul(dtin, _T(xp, m.dt_proj.weight))
        -xp.exp(m.A_log)
        impl()
        return _mm(xp, m.out_proj, y)

    return ops, impls, op, impl


def _rglru_step_ops(m, B):
    xp = m.xp
    H, Di, K = m.d_model, m.d_inner, m.d_conv
    rng = np.random.default_rng(2)
    f = m.dtype.name
    x = testing.from_numpy(xp, rng.standard_normal((B, H)), f)
    u0 = testing.from_numpy(xp, rng.standard_normal((B, Di)), f)
    conv_state = xp.zeros((B, Di, K), dtype=x.dtype)
    w = xp.reshape(m.conv1d.weight, (Di, K))
    u = causal_conv1d_update(u0, xp.zeros((B, Di, K), dtype=x.dtype), w, m.conv1d.bias)
    gate = gelu(m.gate_proj(x), xp)
    r_, i_ = sigmoid(m.recurrent_gate_proj(u), xp), sigmoid(m.input_gate_proj(u), xp)
    delta, iu = m.c * r_, i_ * u
    a = sigmoid(m.a_log, xp)
    ones = xp.ones((B, 1), dtype=x.dtype)
    state = xp.zeros((B, Di, 1), dtype=x.dtype)
    y = testing.from_numpy(xp, rng.standard_normal((B, Di)), f)

    def op():
        return selective_state_update(state, iu, delta, a, ones, ones, discretization="rglru",
                                      **_NOCHECK)

    def ops():
        gelu(m.gate_proj(x), xp)
        causal_conv1d_update(m.in_proj(x), conv_state, w, m.conv1d.bias, **_NOCHECK)
        sigmoid(m.recurrent_gate_proj(u), xp)
        sigmoid(m.input_gate_proj(u), xp)
        m.c * r_
        i_ * u
        sigmoid(m.a_log, xp)
        xp.ones((B, 1), dtype=x.dtype)
        op()
        return m.out_proj(gate * y)

    impl = _ssu_impl(xp, state, iu, delta, a, ones, ones, method="rglru")
    conv = _conv_impl(xp, u0, conv_state, w, m.conv1d.bias, None)

    def impls():
        gelu(_mm(xp, m.gate_proj, x), xp)
        _mm(xp, m.in_proj, x)
        conv()
        sigmoid(_mm(xp, m.recurrent_gate_proj, u), xp)
        sigmoid(_mm(xp, m.input_gate_proj, u), xp)
        m.c * r_
        i_ * u
        sigmoid(m.a_log, xp)
        xp.ones((B, 1), dtype=x.dtype)
        impl()
        return _mm(xp, m.out_proj, gate * y)

    return ops, impls, op, impl


def _s5_step_ops(m, B):
    xp = m.xp
    rng = np.random.default_rng(2)
    x = testing.from_numpy(xp, rng.standard_normal((B, m.d_model)), m.dtype.name)
    A, Bc, Cc, D, dt = m._ssm(x.dtype)
    state = xp.zeros((B, m.d_state), dtype=A.dtype)
    kw = dict(discretization=m.discretization, conj_sym=m.conj_sym)

    def op():
        return simplified_state_update(state, x, dt, A, Bc, Cc, **kw, **_NOCHECK)

    def ops():
        m._ssm(x.dtype)
        return op() + D * x

    name = _S5U_SPEC.resolve("auto", xp, A.dtype)
    fn = _S5U_SPEC.get(name, "step")
    dt2, _ = _s5u_shapes(xp, state, x, dt, A, Bc, Cc, None, None)

    def impl():
        return fn(xp, state, x, dt2, A, Bc, Cc, None, None, disc=m.discretization,
                  conj_sym=m.conj_sym)

    def impls():
        m._ssm(x.dtype)
        return impl() + D * x

    return ops, impls, op, impl


def _s7_step_ops(m, B):
    xp = m.xp
    H, N = m.d_model, m.d_state
    rng = np.random.default_rng(2)
    f = m.dtype.name
    h = testing.from_numpy(xp, rng.standard_normal((B, H)), f)
    x = m.in_proj(h)
    p = m.x_proj(x)
    a = p[:, :N] + m.base_params
    Bm = xp.reshape(p[:, N:N + H * N], (B, H, N))
    Cm = xp.reshape(p[:, N + H * N:N + 2 * H * N], (B, H, N))
    D = p[:, N + 2 * H * N:N + 2 * H * N + H]
    bias = p[:, N + 2 * H * N + H:]
    Bu = xp.sum(Bm * x[:, :, None], axis=1) + bias
    ones = xp.ones((B, 1), dtype=x.dtype)
    zA = xp.zeros((N, 1), dtype=x.dtype)
    state = xp.zeros((B, N, 1), dtype=x.dtype)
    s = state[:, :, 0]
    y = xp.sum(Cm * s[:, None, :], axis=2) + D * x

    def op():
        return selective_state_update(state, Bu, a, zA, ones, ones, discretization="s7",
                                      **_NOCHECK)

    def ops():
        m.in_proj(h)
        m.x_proj(x)
        p[:, :N] + m.base_params
        xp.sum(Bm * x[:, :, None], axis=1) + bias
        op()
        xp.sum(Cm * s[:, None, :], axis=2) + D * x
        return sigmoid(m.gate_proj(gelu(y, xp)), xp) * y + h

    impl = _ssu_impl(xp, state, Bu, a, zA, ones, ones, method="s7")

    def impls():
        _mm(xp, m.in_proj, h)
        _mm(xp, m.x_proj, x)
        p[:, :N] + m.base_params
        xp.sum(Bm * x[:, :, None], axis=1) + bias
        impl()
        xp.sum(Cm * s[:, None, :], axis=2) + D * x
        return sigmoid(_mm(xp, m.gate_proj, gelu(y, xp)), xp) * y + h

    return ops, impls, op, impl


_STEP_OPS = {"mamba": _mamba_step_ops, "rglru": _rglru_step_ops, "s5": _s5_step_ops,
             "s7": _s7_step_ops}


def make_step(kind, model):
    """``Bench.make`` of the step of ``kind``; ``model(kind, H, N, xp, dtype)`` builds it."""
    def make(xp, dtype, B, H, N=16):
        m = model(kind, H, N, xp, dtype)
        cache = m.allocate_inference_cache(B, 1)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, 1, H)), dtype)
        ops, impls, op, impl = _STEP_OPS[kind](m, B)
        s = np.dtype(dtype).itemsize
        base = {"sum of ops": ops, "sum of impls": impls, "state update op": op,
                "state update impl": impl}
        return Case(fwd=_tokens(lambda: m.step(x, cache)),
                    fwd_work=Work(bytes=2 * s * B * H * STEP_TOKENS),
                    baselines={k: _tokens(v) for k, v in base.items()})
    return make


#: Tokens per timed step call: one token takes 20-300 us, and single timed calls that short read
#: up to 2.5x slow on the loaded shared machine (S5: 74 us in the harness, 30 us of CPU time per
#: token in a loop); a call of STEP_TOKENS tokens is steadier (per token = figure / STEP_TOKENS).
STEP_TOKENS = 16


def _tokens(fn):
    def run():
        for _ in range(STEP_TOKENS - 1):
            fn()
        return fn()
    return run
