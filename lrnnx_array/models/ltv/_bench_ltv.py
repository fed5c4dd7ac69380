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
from ...layers import gelu, sigmoid
from ...ops import (
    causal_conv1d,
    rglru_scan,
    s5_inner,
    s7_scan,
    selective_scan,
)
from ._bench_ltv_step import make_step
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


BENCHES = []
for _kind in ("mamba", "rglru", "s5", "s7"):
    BENCHES.append(Bench(f"{_kind} forward", _make_forward(_kind), sizes={
        "small": [dict(B=1, L=64, H=32)],
        "cpu": [dict(B=4, L=512, H=128), dict(B=32, L=512, H=128)],
        "gpu": [dict(B=32, L=512, H=128), dict(B=32, L=2048, H=128)],
    }))
    BENCHES.append(Bench(f"{_kind} step", make_step(_kind, _model), sizes={
        "small": [dict(B=1, H=32)],
        "cpu": [dict(B=1, H=128), dict(B=32, H=128)],
        "gpu": [dict(B=32, H=128)],
    }))
