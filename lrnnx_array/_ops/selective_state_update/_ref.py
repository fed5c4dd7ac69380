"""NumPy float64/complex128 oracle for one selective-state-space decode step (no mutation).

Written per element from spec §2/§3.6, with the *correct* bilinear Ā = (1 + ΔᴬA/2)/(1 − ΔᴬA/2)
(lrnnx's Triton step uses e^{ΔA} there, so its step disagrees with its scan).
"""

from __future__ import annotations

import numpy as np

METHODS = ("zoh", "bilinear", "dirac", "mamba", "rglru", "s7")


def disc_ref(dt, dtA, A, method):
    """(Ā, γ) for the step: the new state is Ā·h + γ·B·x. ``dt``, ``dtA`` broadcast with ``A``."""
    if method in ("zoh", "dirac", "mamba"):
        Abar = np.exp(dtA * A)
        if method == "dirac":
            return Abar, np.ones_like(Abar)
        if method == "mamba":
            return Abar, np.broadcast_to(dt, Abar.shape)
        zero = A == 0
        gamma = np.where(zero, dt, np.expm1(dt * A) / np.where(zero, 1, A))
        return Abar, gamma
    if method == "bilinear":
        return (1 + dtA * A / 2) / (1 - dtA * A / 2), dt / (1 - dt * A / 2)
    if method == "rglru":
        x = dtA * np.log(A)
        om = -np.expm1(2 * x)
        return np.exp(x), np.sqrt(np.where(om > 0, om, 0.0))
    if method == "s7":
        Abar = np.broadcast_to(
            1 - 1 / (dtA * dtA + 0.5), np.broadcast_shapes(np.shape(dtA), np.shape(A))
        )
        return Abar, np.ones_like(Abar)
    raise ValueError(f"discretization must be one of {METHODS}, got {method!r}")


def selective_state_update_ref(
    state,
    x,
    dt,
    A,
    B,
    C,
    D=None,
    z=None,
    dt_bias=None,
    dt_softplus=False,
    deltaA=None,
    state_batch_indices=None,
    discretization="mamba",
):
    """Returns ``(new_state, out)``: a float64/complex128 copy of the whole ``state`` with the
    selected rows stepped, and ``out`` (real; 2·Re Σ C h when the state is complex)."""
    cplx = any(v is not None and np.iscomplexobj(v) for v in (state, A, B, C))
    ct = np.complex128 if cplx else np.float64

    def f(v, dtype=np.float64):
        return None if v is None else np.asarray(v, dtype=dtype)

    new_state = np.array(state, dtype=ct)
    headed = new_state.ndim == 4
    x, dt, D, z, dt_bias, deltaA = (f(v) for v in (x, dt, D, z, dt_bias, deltaA))
    A, B, C = f(A, ct), f(B, ct), f(C, ct)
    if not headed:  # one head: (batch, dim) -> (batch, 1, dim)
        x, dt, z, deltaA = (None if v is None else v[:, None] for v in (x, dt, z, deltaA))
        A = A[None]
        D, dt_bias = (None if v is None else v[None] for v in (D, dt_bias))
        new_view = new_state[:, None]
    else:
        new_view = new_state
    Bsz, nh, P = x.shape
    N = new_state.shape[-1]
    # Broadcast shapes (tie_hdim: A, dt, dt_bias constant over the head dim) to full ones.
    dt, z, deltaA = (None if v is None else np.broadcast_to(v, x.shape) for v in (dt, z, deltaA))
    D, dt_bias = (None if v is None else np.broadcast_to(v, (nh, P)) for v in (D, dt_bias))
    A = np.broadcast_to(A, (nh, P, N))
    B, C = (v[:, None] if v.ndim == 2 else v for v in (B, C))
    G = B.shape[1]
    rows = np.arange(Bsz) if state_batch_indices is None else np.asarray(state_batch_indices)
    out = np.zeros((Bsz, nh, P))
    for b in range(Bsz):
        for h in range(nh):
            g = h // (nh // G)
            for p in range(P):
                d = dt[b, h, p] + (0.0 if dt_bias is None else dt_bias[h, p])
                if dt_softplus:
                    d = d if d > 20 else np.log1p(np.exp(d))
                dA = d if deltaA is None else deltaA[b, h, p]
                Abar, gamma = disc_ref(d, dA, A[h, p], discretization)
                s = Abar * new_view[rows[b], h, p] + gamma * B[b, g] * x[b, h, p]
                new_view[rows[b], h, p] = s
                y = np.sum(s * C[b, g])
                y = 2 * y.real if cplx else y
                if D is not None:
                    y = y + D[h, p] * x[b, h, p]
                if z is not None:
                    y = y * z[b, h, p] / (1 + np.exp(-z[b, h, p]))
                out[b, h, p] = y
    return new_state, (out if headed else out[:, 0])
