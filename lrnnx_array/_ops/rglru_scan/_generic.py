"""Array-API RG-LRU scan: discretise elementwise, then the tuned diagonal scan over rows.

Strategy: Ā and β·u are materialised as (B, D, N, L) arrays (rows = B·D·N) and handed to the
diagonal scan's generic implementation, which picks the threaded time loop for many rows and
the √L-chunked form for few long rows. That costs O(B·D·N·L) memory, which is fine for the
RG-LRU (lrnnx uses N = 1) and small N; for large N prefer the CUDA kernel, which keeps states on
chip. The VJP recomputes the forward and runs the adjoint as one reverse scan with the gates
shifted by one step; h_{t−1} comes from the forward states, never from dividing by Ā.
The discretization (Ā, β and their partials) is the numerics layer's rglru, with β clamped to
0 where δ < 0.
"""

from __future__ import annotations

from .._shared.numerics import rglru_clamped
from ..diag_scan._api import SPEC as _DIAG


def _scan(xp, a, b, h0, reverse=False):
    return _DIAG.get("generic", "forward")(xp, a, b, h0, reverse=reverse)


def _disc(xp, delta, A, grad):
    """Ā, β (and partials) at the (B, D, N, L) broadcast of δ (B, D, 1, L) and A (1, D, N, 1)."""
    return rglru_clamped(xp, A[None, :, :, None], delta[:, :, None, :], grad=grad)


def _sum_n(xp, x4):
    return x4[:, :, 0, :] if x4.shape[2] == 1 else xp.sum(x4, axis=2)


def _states(xp, u, delta, A, h0):
    """All states h4 (B, D, N, L)."""
    Bsz, D, L = u.shape
    N = A.shape[1]
    R = Bsz * D * N
    (abar, beta), _ = _disc(xp, delta, A, False)
    b = beta * u[:, :, None, :]
    h = _scan(xp, xp.reshape(abar, (R, L)), xp.reshape(b, (R, L)),
              None if h0 is None else xp.reshape(h0, (R,)))
    return xp.reshape(h, (Bsz, D, N, L))


def forward(xp, u, delta, A, h0):
    """(y (B, D, L), last (B, D, N)) for arrays already in the computation dtype."""
    h4 = _states(xp, u, delta, A, h0)
    return _sum_n(xp, h4), h4[..., h4.shape[-1] - 1]


def backward(xp, dout, u, delta, A, h0, dlast):
    """(du, ddelta, dA, dh0) for arrays already in the computation dtype."""
    Bsz, D, L = u.shape
    N = A.shape[1]
    R = Bsz * D * N
    h4 = _states(xp, u, delta, A, h0)
    (abar, beta), ((dAb_dA, dAb_dd, _), (db_dA, db_dd, _)) = _disc(xp, delta, A, True)
    dt = u.dtype
    zero_col = xp.zeros((Bsz, D, N, 1), dtype=dt)
    init = zero_col if h0 is None else h0[..., None]
    h_prev = xp.concat([init, h4[..., : L - 1]], axis=3)
    g = xp.broadcast_to(dout[:, :, None, :], (Bsz, D, N, L))
    if dlast is not None:
        g = xp.concat([g[..., : L - 1], g[..., L - 1:] + dlast[..., None]], axis=3)
    gates = xp.concat([abar[..., 1:], zero_col], axis=3)
    lam = xp.reshape(_scan(xp, xp.reshape(gates, (R, L)), xp.reshape(g, (R, L)), None,
                           reverse=True), (Bsz, D, N, L))
    du = _sum_n(xp, beta * lam)
    # G_Abar = lam h_{t-1}, G_beta = lam u; chain rule through the numerics layer's partials.
    g_ab, g_b = lam * h_prev, lam * u[:, :, None, :]
    ddelta = _sum_n(xp, g_ab * dAb_dd + g_b * db_dd)
    dA = xp.sum(xp.sum(g_ab * dAb_dA + g_b * db_dA, axis=3), axis=0)
    dh0 = None if h0 is None else abar[..., 0] * lam[..., 0]
    return du, ddelta, dA, dh0
