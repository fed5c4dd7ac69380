"""NumPy float64 oracle for the RG-LRU scan: a plain loop over time, VJP as a reverse loop.

h_t = Ā_t ⊙ h_{t-1} + β_t ⊙ u_t with Ā_t = A^{δ_t} = exp(δ_t ln A), β_t = √(1 − Ā_t²),
y_t = Σ_n h_t.
β is computed as √(−expm1(2 δ ln A)), exact for δ → 0 and A → 1 where 1 − Ā² cancels.
"""

from __future__ import annotations

import numpy as np


def disc_ref(delta, lnA):
    """(Ā, β, dβ/dx) at x = δ ln A; dβ/dx = −Ā²/β, and 0 where β = 0 (δ ≤ 0 or A = 1)."""
    x = delta * lnA
    abar = np.exp(x)
    om = -np.expm1(2 * x)
    ok = om > 0
    beta = np.sqrt(np.where(ok, om, 0.0))
    dbeta_dx = np.where(ok, -abar * abar / np.where(ok, beta, 1.0), 0.0)
    return abar, beta, dbeta_dx


def _f64(*xs):
    return [None if x is None else np.asarray(x, dtype=np.float64) for x in xs]


def _states(u, delta, A, h0):
    """All states h_{-1..L-1} as (L+1, B, D, N)."""
    Bsz, D, L = u.shape
    lnA = np.log(A)
    hs = np.zeros((L + 1, Bsz, D, A.shape[1]))
    if h0 is not None:
        hs[0] = h0
    for t in range(L):
        abar, beta, _ = disc_ref(delta[:, :, t, None], lnA[None])
        hs[t + 1] = abar * hs[t] + beta * u[:, :, t, None]
    return hs


def rglru_scan_ref(u, delta, A, return_last_state=False, *, h0=None):
    """y (B, D, L) in float64, and the last state (B, D, N) when asked."""
    u, delta, A, h0 = _f64(u, delta, A, h0)
    hs = _states(u, delta, A, h0)
    y = np.moveaxis(hs[1:].sum(axis=-1), 0, -1)
    return (y, hs[-1]) if return_last_state else y


def rglru_scan_vjp_ref(dout, u, delta, A, return_last_state=False, *, h0=None, dlast_state=None):
    """(du, ddelta, dA, dh0) by the adjoint λ_t = dout_t + Ā_{t+1} λ_{t+1} (+ dlast at t = L−1).

    dx = λ (Ā h_{t−1} + u dβ/dx) with x = δ ln A; dδ = Σ_n dx ln A, dA = Σ_{b,t} dx δ / A.
    """
    dout, u, delta, A, h0, dlast = _f64(dout, u, delta, A, h0, dlast_state)
    hs = _states(u, delta, A, h0)
    L = u.shape[-1]
    lnA = np.log(A)
    lam = (
        np.zeros(hs.shape[1:]) if dlast is None else np.array(np.broadcast_to(dlast, hs.shape[1:]))
    )
    du, ddelta = np.zeros(u.shape), np.zeros(u.shape)
    dlnA = np.zeros(A.shape)
    gate_next = np.zeros(hs.shape[1:])
    for t in range(L - 1, -1, -1):
        lam = dout[:, :, t, None] + gate_next * lam if t < L - 1 else lam + dout[:, :, t, None]
        abar, beta, dbdx = disc_ref(delta[:, :, t, None], lnA[None])
        du[:, :, t] = np.sum(beta * lam, axis=-1)
        dx = lam * (abar * hs[t] + u[:, :, t, None] * dbdx)
        ddelta[:, :, t] = np.sum(dx * lnA, axis=-1)
        dlnA += np.sum(dx * delta[:, :, t, None], axis=0)
        gate_next = abar
    dh0 = None if h0 is None else gate_next * lam
    return du, ddelta, dlnA / A, dh0


# The dispatch entries: canonical arrays in the compute dtype in, that dtype out. The oracle
# itself computes in float64.


def forward(xp, u, delta, A, h0):
    y, last = rglru_scan_ref(u, delta, A, True, h0=h0)
    return xp.asarray(y, dtype=u.dtype), xp.asarray(last, dtype=u.dtype)


def backward(xp, dout, u, delta, A, h0, dlast):
    g = rglru_scan_vjp_ref(dout, u, delta, A, h0=h0, dlast_state=dlast)
    return tuple(None if x is None else xp.asarray(x, dtype=u.dtype) for x in g)
