"""Array-API decode step: every (batch, [head,] dim, state) element at once.

Canonical arguments (see ``_api``): the public layouts, cast to the compute dtypes. ``state``
(rows, [nheads,] dim, dstate) is written in place; x (batch, [nheads,] dim); dt, z, deltaA
broadcast to x's shape, A to state.shape[1:], D and dt_bias to state.shape[1:-1]; B, C (batch,
dstate) or (batch, ngroups, dstate). Every broadcast is left to the ufuncs (no views or copies
are built for them): at decode sizes the few passes over the state are the whole cost, and the
Python-level calls around them are the rest. The discretization is the numerics layer's (two
steps: Ā at deltaA, γ at Δ).
"""

from __future__ import annotations

from ..._backend import is_cupy, is_numpy
from .._shared.numerics import selective_disc


def _softplus(xp, v):
    # Same threshold rule as torch/lrnnx: identity above 20 (and no overflow in exp).
    big = v > 20
    return xp.where(big, v, xp.log1p(xp.exp(xp.where(big, xp.zeros_like(v), v))))


def _per_row(xp, M, state):
    """B or C as (batch, nheads or 1, 1, dstate) for a headed state, else (batch, 1, dstate):
    head h reads group h // (nheads / ngroups)."""
    Bsz, N = M.shape[0], M.shape[-1]
    if state.ndim == 3:
        return xp.reshape(M, (Bsz, 1, N))
    G, nh = (M.shape[1] if M.ndim == 3 else 1), state.shape[1]
    if G > 1:
        M = xp.reshape(xp.broadcast_to(M[:, :, None, :], (Bsz, G, nh // G, N)), (Bsz, nh, N))
        return M[:, :, None, :]
    return xp.reshape(M, (Bsz, 1, 1, N))


def step(xp, state, idx, x, dt, z, deltaA, A, B, C, D, dt_bias, *, softplus, method):
    """Step the selected rows of ``state`` in place; returns out (x's shape and dtype)."""
    rows = state if idx is None else xp.take(state, idx, axis=0)
    if rows.dtype != A.dtype:  # the state's own precision may be lower than the computation's
        rows = xp.astype(rows, A.dtype)
    d = dt if dt_bias is None else dt + dt_bias
    if softplus:
        d = _softplus(xp, d)
    dA = None if deltaA is None else deltaA[..., None]
    disc = selective_disc(xp, method, A, d[..., None], dA)
    g = disc.gamma
    gx = x[..., None] if isinstance(g, float) else g * x[..., None]
    new = disc.Abar * rows + gx * _per_row(xp, B, state)
    y = xp.matmul(new, xp.matrix_transpose(_per_row(xp, C, state)))[..., 0]
    if xp.isdtype(y.dtype, "complex floating"):
        y = 2 * xp.real(y)
    if D is not None:
        y = y + D * x
    if z is not None:
        y = y * (z / (1 + xp.exp(-z)))
    _scatter(xp, state, idx, new)
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
