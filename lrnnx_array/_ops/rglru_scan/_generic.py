"""Array-API RG-LRU scan: discretise elementwise, then the tuned diagonal scan over rows.

Strategy: Ā and β·u are materialised as (B, D, N, L) arrays (rows = B·D·N) and handed to
``diag_scan._generic.scan_rows``, which picks the threaded time loop for many rows and the
√L-chunked form for few long rows. That costs O(B·D·N·L) memory, which is fine for the RG-LRU
(lrnnx uses N = 1) and small N; for large N prefer the CUDA kernel, which keeps states on chip.
The VJP recomputes the forward and runs the adjoint as one reverse ``scan_rows`` with the gates
shifted by one step; h_{t−1} comes from the forward states, never from dividing by Ā.
"""

from __future__ import annotations

from ..diag_scan._generic import scan_rows


def _disc(xp, delta, lnA):
    """Ā and β as (B, D, N, L) arrays; β = √(−expm1(2x)) clamped at 0 (δ < 0 gives no input)."""
    x = delta[:, :, None, :] * lnA[None, :, :, None]
    return xp.exp(x), xp.sqrt(xp.clip(-xp.expm1(x + x), min=0.0))


def _sum_n(xp, x4):
    return x4[:, :, 0, :] if x4.shape[2] == 1 else xp.sum(x4, axis=2)


def forward(xp, u, delta, A, h0):
    """(y, last, h4): y (B, D, L), last (B, D, N), all states h4 (B, D, N, L)."""
    Bsz, D, L = u.shape
    N = A.shape[1]
    R = Bsz * D * N
    abar, beta = _disc(xp, delta, xp.log(A))
    b = beta * u[:, :, None, :]
    h = scan_rows(xp, xp.reshape(abar, (R, L)), xp.reshape(b, (R, L)),
                  None if h0 is None else xp.reshape(h0, (R,)))
    h4 = xp.reshape(h, (Bsz, D, N, L))
    return _sum_n(xp, h4), h4[..., L - 1], h4


def vjp(xp, dout, u, delta, A, h0, dlast):
    """(du, ddelta, dA, dh0) for arrays already in the computation dtype."""
    Bsz, D, L = u.shape
    N = A.shape[1]
    R = Bsz * D * N
    lnA = xp.log(A)
    _, _, h4 = forward(xp, u, delta, A, h0)
    abar, beta = _disc(xp, delta, lnA)
    ok = beta > 0
    dt = u.dtype
    zero_col = xp.zeros((Bsz, D, N, 1), dtype=dt)
    init = zero_col if h0 is None else h0[..., None]
    h_prev = xp.concat([init, h4[..., : L - 1]], axis=3)
    g = xp.broadcast_to(dout[:, :, None, :], (Bsz, D, N, L))
    if dlast is not None:
        g = xp.concat([g[..., : L - 1], g[..., L - 1:] + dlast[..., None]], axis=3)
    gates = xp.concat([abar[..., 1:], zero_col], axis=3)
    lam = xp.reshape(scan_rows(xp, xp.reshape(gates, (R, L)), xp.reshape(g, (R, L)), None,
                               reverse=True), (Bsz, D, N, L))
    du = _sum_n(xp, beta * lam)
    # dβ/dx = −Ā²/β where β > 0; 0 on the non-differentiable set β = 0 (δ ≤ 0 or A = 1).
    dbdx = xp.where(ok, -(abar * abar) / xp.where(ok, beta, xp.ones_like(beta)),
                    xp.zeros_like(beta))
    dx = lam * (abar * h_prev + u[:, :, None, :] * dbdx)
    ddelta = _sum_n(xp, dx * lnA[None, :, :, None])
    dA = xp.sum(xp.sum(dx * delta[:, :, None, :], axis=3), axis=0) / A
    dh0 = None if h0 is None else abar[..., 0] * lam[..., 0]
    return du, ddelta, dA, dh0
