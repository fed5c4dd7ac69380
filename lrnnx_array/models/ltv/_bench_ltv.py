"""LTV model benchmarks (``BENCHES`` in ``lrnnx_array._harness`` format) for ``bench --models``.

Grid: lrnnx's benchmark models (spec §6: Mamba N=16, expand 2, H=128, B=32) plus RG-LRU,
S5-LTV (N=16) and S7 (N=16). CPU sizes are scaled down (B=4, L=512) to finish in seconds.
Each forward case times the model next to its scan op alone on the same sizes (baseline
``scan op``), so the overhead of projections, conv and gates is visible; each step case
(B=1, d_model=128 on CPU) times one token next to the bare state-update op
(``state update op``), whose difference is the model's per-token validation and dispatch.
"""

from __future__ import annotations

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ...ops import (
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


def _model(kind, H, N, xp, dtype):
    kw = dict(seed=0, dtype=dtype, xp=xp)
    return {"mamba": lambda: Mamba(H, d_state=N, expand=2, **kw),
            "rglru": lambda: RGLRU(H, **kw),
            "s5": lambda: S5(H, N, **kw),
            "s7": lambda: S7(H, N, **kw)}[kind]()


def _scan_alone(kind, m, xp, dtype, B, L):
    """The model's scan op on inputs of the model's sizes (the cost floor of a forward)."""
    rng = np.random.default_rng(1)

    def r(*shape, lo=None):
        v = rng.uniform(0.1, 0.9, shape) if lo else rng.standard_normal(shape)
        return testing.from_numpy(xp, v, dtype)

    H, N = m.d_model, getattr(m, "d_state", 1)
    if kind == "mamba":
        D = m.d_inner
        args = (r(B, D, L), r(B, D, L), -r(D, N, lo=1), r(B, N, L), r(B, N, L))
        return lambda: selective_scan(*args, delta_softplus=True)
    if kind == "rglru":
        D = m.d_inner
        args = (r(B, D, L), r(B, D, L, lo=1), r(D, 1, lo=1))
        return lambda: rglru_scan(*args)
    if kind == "s5":
        A = testing.from_numpy(xp, -0.5 + 1j * np.arange(N), "complex64" if dtype == "float32"
                               else "complex128")
        Bc = testing.from_numpy(xp, rng.standard_normal((N, H)) + 0j, A.dtype.name
                                if hasattr(A.dtype, "name") else None)
        Cc = testing.from_numpy(xp, rng.standard_normal((H, N)) + 0j, A.dtype.name
                                if hasattr(A.dtype, "name") else None)
        args = (r(B, H, L), r(N, lo=1), A, Bc, Cc, r(H))
        return lambda: s5_inner(*args, discretization="zoh", conj_sym=False)
    args = (r(B, H, L), r(B, N, L), r(B, N, H, L), r(B, H, N, L), r(B, N, L))
    return lambda: s7_scan(*args)


def _make_forward(kind):
    def make(xp, dtype, B, L, H, N=16):
        m = _model(kind, H, N, xp, dtype)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, L, H)), dtype)
        s = np.dtype(dtype).itemsize
        return Case(fwd=lambda: m(x), fwd_work=Work(bytes=2 * s * B * L * H),
                    baselines={"scan op": _scan_alone(kind, m, xp, dtype, B, L)})
    return make


def _step_alone(kind, m, cache, xp, dtype, B):
    """The bare state-update op on a copy of the model's state (no model checks)."""
    rng = np.random.default_rng(2)
    if kind == "s5":
        P, H = m.d_state, m.d_model
        state = xp.zeros((B, P), dtype=cache["ssm_state"].dtype)
        args = (state, testing.from_numpy(xp, rng.standard_normal((B, H)), dtype), cache["dt"],
                cache["A"], cache["B_tilde"], cache["C_tilde"])
        return lambda: simplified_state_update(*args, discretization="zoh", conj_sym=False)
    D, N = (m.d_inner, m.d_state) if kind == "mamba" else (m.d_inner, 1) if kind == "rglru" \
        else (m.d_state, 1)
    disc = {"mamba": "mamba", "rglru": "rglru", "s7": "s7"}[kind]
    state = xp.zeros((B, D, N), dtype=testing.xp_dtype(xp, dtype))
    x = testing.from_numpy(xp, rng.standard_normal((B, D)), dtype)
    dt = testing.from_numpy(xp, rng.uniform(0.1, 0.9, (B, D)), dtype)
    A = testing.from_numpy(xp, rng.uniform(0.1, 0.9, (D, N)) * (-1 if kind == "mamba" else 1),
                           dtype)
    BC = testing.from_numpy(xp, rng.standard_normal((B, N)), dtype)
    return lambda: selective_state_update(state, x, dt, A, BC, BC, discretization=disc)


def _make_step(kind):
    def make(xp, dtype, B, H, N=16):
        m = _model(kind, H, N, xp, dtype)
        cache = m.allocate_inference_cache(B, 1)
        x = testing.from_numpy(xp, np.random.default_rng(0).standard_normal((B, 1, H)), dtype)
        s = np.dtype(dtype).itemsize
        return Case(fwd=lambda: m.step(x, cache), fwd_work=Work(bytes=2 * s * B * H),
                    baselines={"state update op": _step_alone(kind, m, cache, xp, dtype, B)})
    return make


BENCHES = []
for _kind in ("mamba", "rglru", "s5", "s7"):
    BENCHES.append(Bench(f"{_kind} forward", _make_forward(_kind), sizes={
        "small": [dict(B=1, L=64, H=32)],
        "cpu": [dict(B=4, L=512, H=128)],
        "gpu": [dict(B=32, L=512, H=128), dict(B=32, L=2048, H=128)],
    }))
    BENCHES.append(Bench(f"{_kind} step", _make_step(_kind), sizes={
        "small": [dict(B=1, H=32)],
        "cpu": [dict(B=1, H=128), dict(B=32, H=128)],
        "gpu": [dict(B=32, H=128)],
    }))
