"""NumPy float64/complex128 oracle for one selective-state-space decode step (no mutation).

Written per element from spec §2/§3.6, with the *correct* bilinear Ā = (1 + ΔᴬA/2)/(1 − ΔᴬA/2)
(lrnnx's Triton step uses e^{ΔA} there, so its step disagrees with its scan).
"""

from __future__ import annotations

import numpy as np

from ..selective_scan._ref import discretize_ref

METHODS = ("zoh", "bilinear", "dirac", "mamba", "rglru", "s7")


def disc_ref(dt, dtA, A, method):
    """(Ā, γ) for the step: the new state is Ā·h + γ·B·x. ``dt``, ``dtA`` broadcast with ``A``.

    The selective scan's oracle formulas (one step of the scan is one decode step).
    """
    if method not in METHODS:
        raise ValueError(f"discretization must be one of {METHODS}, got {method!r}")
    d = discretize_ref(dt, dtA, A, method)
    Abar = np.broadcast_to(d.Abar, np.broadcast_shapes(np.shape(d.Abar), np.shape(A)))
    return Abar, np.broadcast_to(d.gamma, Abar.shape)


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


# The dispatch entry: the public layouts in the compute dtypes (see _generic). The oracle steps a
# float64/complex128 copy; the new state is then written into ``state`` (its own dtype).


def step(xp, state, idx, x, dt, z, deltaA, A, B, C, D, dt_bias, *, softplus, method):
    new, out = selective_state_update_ref(
        state, x, dt, A, B, C, D, z, dt_bias, softplus, deltaA, idx, method
    )
    state[...] = xp.asarray(new, dtype=state.dtype)
    return xp.asarray(out, dtype=x.dtype)
