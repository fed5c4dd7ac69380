"""LTV model benchmarks (``BENCHES`` in ``lrnnx_array._harness`` format) for ``bench --models``.

Grid: lrnnx's benchmark models (spec §6: Mamba N=16, expand 2, H=128, B=32) plus RG-LRU,
S5-LTV (N=16) and S7 (N=16), at L=512 and B=4..32 on CPU.

Forward baselines (issue 11's yardstick is the sum of the model's ops):

* ``sum of ops``: the public ops and layer calls of the model's forward, in its order (the
  projections as ``Linear`` calls on 2-D (B*L, C) arrays, ``causal_conv1d``, the scan op with
  ``check_finite=False`` as the models call it, the activations and gate products), each on
  arrays built beforehand in the layout that call takes (contiguous, channels-first for the
  ops). ``ratio_vs_sum of ops`` is then the price of everything the model adds: layout changes,
  copies, casts, checks, parameter processing.
* ``projections``: the matmuls alone (their BLAS share of the sum).
* ``scan op``: the scan alone.

Step cases time ``STEP_TOKENS`` (16) tokens per call, each contender alike (per-token cost =
figure / 16). Step baselines (B=1, d_model=128): ``sum of ops`` (the step's public ops and layer
calls on pre-built arrays), ``sum of impls`` (the same work with every op's resolved
implementation function and bare matmuls: no checks, no dispatch), ``state update op`` (the
public state-update op alone, validated, ``check_finite=False``) and ``state update impl`` (its
implementation function on canonical arrays). step / sum of impls is the model's own per-token
overhead (its token and cache checks); sum of ops - sum of impls is what per-op validation and
dispatch would cost; state update op - state update impl is that of the state update alone.
"""

from __future__ import annotations

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ..._ops.causal_conv1d._api import UPDATE_SPEC as _CONV_SPEC
from ..._ops.selective_state_update._api import SPEC as _SSU_SPEC
from ..._ops.selective_state_update._api import _resolve as _ssu_resolve
from ..._ops.simplified_state_update._api import SPEC as _S5U_SPEC
from ..._ops.simplified_state_update._api import _shapes as _s5u_shapes
from ...layers import gelu, sigmoid
from ...ops import (
    causal_conv1d,
    causal_conv1d_update,
    rglru_scan,
    s5_inner,
    s7_scan,
    selective_scan,
    selective_state_update,
    simplified_state_update,
)
from .mamba import Mamba
from .rglru import RGLRU
from .s5 import S5
from .s7 import S7

_NOCHECK = {"check_finite": False}


def _model(kind, H, N, xp, dtype):
    kw = dict(seed=0, dtype=dtype, xp=xp)
    return {"mamba": lambda: Mamba(H, d_state=N, expand=2, **kw),
            "rglru": lambda: RGLRU(H, **kw),
            "s5": lambda: S5(H, N, **kw),
            "s7": lambda: S7(H, N, **kw)}[kind]()


def _contig(xp, v):
    """A C-ordered copy of ``v`` (a flat reshape of a strided view copies in C order)."""
    return xp.reshape(xp.reshape(v, (-1,)), tuple(v.shape))


def _cf(xp, v2, B, L):
    """(B*L, C) -> contiguous (B, C, L): the channels-first layout the ops take."""
    return _contig(xp, xp.permute_dims(xp.reshape(v2, (B, L, v2.shape[-1])), (0, 2, 1)))


def _cl(xp, v):
    """(B, C, L) -> contiguous (B*L, C): the layout a Linear call takes."""
    B, C, L = v.shape
    return _contig(xp, xp.reshape(_contig(xp, xp.permute_dims(v, (0, 2, 1))), (B * L, C)))


def _T(xp, w):
    return xp.matrix_transpose(w)


# -- forward: the model's ops on pre-built arrays ------------------------------------------------


def _mamba_ops(m, x):
    xp = m.xp
    B, L, H = x.shape
    Di, N, r = m.d_inner, m.d_state, m.dt_rank
    x2 = _contig(xp, xp.reshape(x, (B * L, H)))
    xz2 = m.in_proj(x2)
    u_pre, z = _cf(xp, xz2[:, :Di], B, L), _cf(xp, xz2[:, Di:], B, L)
    w = xp.reshape(m.conv1d.weight, (Di, m.d_conv))
    cb = m.conv1d.bias if m.conv1d.has_bias else None
    u = causal_conv1d(u_pre, w, cb, "silu")
    u2 = _cl(xp, u)
    x_dbl = m.x_proj(u2)
    dtin = _contig(xp, x_dbl[:, :r])
    W_dt, b_dt = m.dt_proj.weight, m.dt_proj.bias
    delta = _cf(xp, xp.matmul(dtin, _T(xp, W_dt)), B, L)
    Bm, Cm = _cf(xp, x_dbl[:, r:r + N], B, L), _cf(xp, x_dbl[:, r + N:], B, L)
    A = -xp.exp(m.A_log)
    scan_args = (u, delta, A, Bm, Cm, m.D, z)
    scan_kw = dict(delta_bias=b_dt, delta_softplus=True, discretization=m.discretization,
                   **_NOCHECK)
    out2 = _cl(xp, selective_scan(*scan_args, **scan_kw))

    def scan():
        return selective_scan(*scan_args, **scan_kw)

    def projections():
        m.in_proj(x2)
        m.x_proj(u2)
        xp.matmul(dtin, _T(xp, W_dt))
        return m.out_proj(out2)

    def ops():
        m.in_proj(x2)
        causal_conv1d(u_pre, w, cb, "silu", **_NOCHECK)
        m.x_proj(u2)
        xp.matmul(dtin, _T(xp, W_dt))
        -xp.exp(m.A_log)
        scan()
        return m.out_proj(out2)

    return ops, projections, scan


def _rglru_ops(m, x):
    xp = m.xp
    B, L, H = x.shape
    Di = m.d_inner
    x2 = _contig(xp, xp.reshape(x, (B * L, H)))
    g_pre = m.gate_proj(x2)
    gate = gelu(g_pre, xp)
    u_pre = _cf(xp, m.in_proj(x2), B, L)
    w = xp.reshape(m.conv1d.weight, (Di, m.d_conv))
    cb = m.conv1d.bias if m.conv1d.has_bias else None
    u = causal_conv1d(u_pre, w, cb)
    u2 = _cl(xp, u)
    r_pre, i_pre = m.recurrent_gate_proj(u2), m.input_gate_proj(u2)
    r_, i_ = sigmoid(r_pre, xp), sigmoid(i_pre, xp)
    delta, iu = _cf(xp, m.c * r_, B, L), _cf(xp, i_ * u2, B, L)
    a = sigmoid(m.a_log, xp)
    h2 = _cl(xp, rglru_scan(iu, delta, a, **_NOCHECK))
    gh2 = gate * h2

    def scan():
        return rglru_scan(iu, delta, a, **_NOCHECK)

    def projections():
        m.gate_proj(x2)
        m.in_proj(x2)
        m.recurrent_gate_proj(u2)
        m.input_gate_proj(u2)
        return m.out_proj(gh2)

    def ops():
        gelu(m.gate_proj(x2), xp)
        m.in_proj(x2)
        causal_conv1d(u_pre, w, cb, **_NOCHECK)
        sigmoid(m.recurrent_gate_proj(u2), xp)
        sigmoid(m.input_gate_proj(u2), xp)
        m.c * r_
        i_ * u2
        sigmoid(m.a_log, xp)
        scan()
        gate * h2
        return m.out_proj(gh2)

    return ops, projections, scan


def _s5_ops(m, x):
    xp = m.xp
    u = _contig(xp, xp.permute_dims(x, (0, 2, 1)))
    A, Bc, Cc, D, dt = m._ssm(x.dtype)
    kw = dict(discretization=m.discretization, conj_sym=m.conj_sym, **_NOCHECK)

    def scan():
        return s5_inner(u, dt, A, Bc, Cc, D, None, **kw)

    def ops():
        m._ssm(x.dtype)  # exp(log_dt) and the complex parameters from their (re, im) views
        return xp.permute_dims(scan(), (0, 2, 1))

    return ops, None, scan


def _s7_ops(m, h):
    xp = m.xp
    B, L, H = h.shape
    N = m.d_state
    h2 = _contig(xp, xp.reshape(h, (B * L, H)))
    x2 = m.in_proj(h2)
    p = m.x_proj(x2)
    a = _cf(xp, p[:, :N] + m.base_params, B, L)
    Bm = _contig(xp, xp.permute_dims(xp.reshape(p[:, N:N + H * N], (B, L, H, N)), (0, 3, 2, 1)))
    Cm = _contig(xp, xp.permute_dims(xp.reshape(p[:, N + H * N:N + 2 * H * N], (B, L, H, N)),
                                     (0, 2, 3, 1)))
    D2 = _contig(xp, p[:, N + 2 * H * N:N + 2 * H * N + H])
    bias = _cf(xp, p[:, N + 2 * H * N + H:], B, L)
    u = _cf(xp, x2, B, L)
    y2 = _cl(xp, s7_scan(u, a, Bm, Cm, bias, **_NOCHECK)) + D2 * x2
    gy = gelu(y2, xp)
    g = sigmoid(m.gate_proj(gy), xp)

    def scan():
        return s7_scan(u, a, Bm, Cm, bias, **_NOCHECK)

    def projections():
        m.in_proj(h2)
        m.x_proj(x2)
        return m.gate_proj(gy)

    def ops():
        m.in_proj(h2)
        m.x_proj(x2)
        p[:, :N] + m.base_params
        scan()
        y2 + D2 * x2
        sigmoid(m.gate_proj(gelu(y2, xp)), xp)
        return g * y2 + h2

    return ops, projections, scan


_FORWARD_OPS = {"mamba": _mamba_ops, "rglru": _rglru_ops, "s5": _s5_ops, "s7": _s7_ops}


def _make_forward(kind):
    def make(xp, dtype, B, L, H, N=16):
        m = _model(kind, H, N, xp, dtype)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, L, H)), dtype)
        ops, projections, scan = _FORWARD_OPS[kind](m, x)
        base = {"sum of ops": ops, "scan op": scan}
        if projections is not None:
            base["projections"] = projections
        s = np.dtype(dtype).itemsize
        return Case(fwd=lambda: m(x), fwd_work=Work(bytes=2 * s * B * L * H), baselines=base)
    return make


# -- step: the model's per-token ops on pre-built arrays -------------------------------------------


def _ssu_impl(xp, state, x, dt, A, B, C, D=None, z=None, *, dt_bias=None, deltaA=None,
              method):
    """The resolved implementation of selective_state_update, called on canonical arrays."""
    fn = _SSU_SPEC.get(_ssu_resolve("auto", xp, state, state.dtype), "step")
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


def _make_step(kind):
    def make(xp, dtype, B, H, N=16):
        m = _model(kind, H, N, xp, dtype)
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


BENCHES = []
for _kind in ("mamba", "rglru", "s5", "s7"):
    BENCHES.append(Bench(f"{_kind} forward", _make_forward(_kind), sizes={
        "small": [dict(B=1, L=64, H=32)],
        "cpu": [dict(B=4, L=512, H=128), dict(B=32, L=512, H=128)],
        "gpu": [dict(B=32, L=512, H=128), dict(B=32, L=2048, H=128)],
    }))
    BENCHES.append(Bench(f"{_kind} step", _make_step(_kind), sizes={
        "small": [dict(B=1, H=32)],
        "cpu": [dict(B=1, H=128), dict(B=32, H=128)],
        "gpu": [dict(B=32, H=128)],
    }))
