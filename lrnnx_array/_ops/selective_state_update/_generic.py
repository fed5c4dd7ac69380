"""Array-API decode step: every (batch, head, dim, state) element at once.

Canonical arguments (see ``_api``): ``state`` as the caller passed it, (rows, [nheads,] dim,
dstate), written in place; x (B, nh, P); dt, z, deltaA broadcastable to it; A broadcastable to
(nh, P, N); D, dt_bias to (nh, P); B, C (B, G, N). Broadcasts stay stride-0 views: the few
ufunc passes over the (B, nh, P, N) state are the whole cost at decode sizes, so nothing else
is materialised at that size. The discretization is the numerics layer's (two steps: Ā at
deltaA, γ at Δ).
"""

from __future__ import annotations

from ..._backend import is_cupy, is_numpy
from .._shared.numerics import selective_disc


def _softplus(xp, v):
    # Same threshold rule as torch/lrnnx: identity above 20 (and no overflow in exp).
    big = v > 20
    return xp.where(big, v, xp.log1p(xp.exp(xp.where(big, xp.zeros_like(v), v))))


def _per_head(xp, M, nh):
    """B or C (B, G, N) as (B, nh or 1, 1, N): head h reads group h // (nh / G)."""
    Bsz, G, N = M.shape
    if G > 1:
        M = xp.reshape(xp.broadcast_to(M[:, :, None, :], (Bsz, G, nh // G, N)), (Bsz, nh, N))
    return M[:, :, None, :]


def step(xp, state, idx, x, dt, z, deltaA, A, B, C, D, dt_bias, *, softplus, method):
    """Step the selected rows of ``state`` in place; returns out (B, nh, P) in x's dtype."""
    Bsz, nh, P = x.shape
    N = state.shape[-1]
    rows = state if idx is None else xp.take(state, idx, axis=0)
    rows = xp.reshape(rows, (Bsz, nh, P, N))
    if rows.dtype != A.dtype:  # the state's own precision may be lower than the computation's
        rows = xp.astype(rows, A.dtype)
    d = dt if dt_bias is None else dt + dt_bias
    if softplus:
        d = _softplus(xp, d)
    dA = None if deltaA is None else deltaA[..., None]
    disc = selective_disc(xp, method, A, d[..., None], dA)
    g = disc.gamma
    gx = x[..., None] if isinstance(g, float) else g * x[..., None]
    new = disc.Abar * rows + gx * _per_head(xp, B, nh)
    y = xp.matmul(new, xp.matrix_transpose(_per_head(xp, C, nh)))[..., 0]
    if xp.isdtype(y.dtype, "complex floating"):
        y = 2 * xp.real(y)
    if D is not None:
        y = y + D * x
    if z is not None:
        y = y * (z / (1 + xp.exp(-z)))
    _scatter(xp, state, idx, xp.reshape(new, (Bsz, *tuple(state.shape[1:]))))
    return y


def _scatter(xp, state, idx, new):
    """Write ``new`` into ``state`` in place (rows ``idx`` if given)."""
    new = xp.astype(new, state.dtype) if new.dtype != state.dtype else new
    if idx is None:
        state[...] = new
    elif is_numpy(xp) or is_cupy(xp):
        state[idx, ...] = new
    else:
        # The array API has no integer-array setitem: one row at a time (decode batches are small).
        for b in range(new.shape[0]):
            state[int(idx[b]), ...] = new[b, ...]
