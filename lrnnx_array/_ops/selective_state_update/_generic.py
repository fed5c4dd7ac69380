"""Array-API decode step: every (batch, head, dim, state) element at once.

Shapes arrive canonical (headed): state rows (B, nh, P, N), x/dt/z/deltaA (B, nh, P) (possibly
stride-0 broadcasts), A (nh, P, N), D/dt_bias (nh, P), B/C (B, G, N). Heads are grouped as
(B, G, nh/G, ...) so B and C broadcast over the heads of their group without a copy.
"""

from __future__ import annotations

from ..._backend import is_cupy, is_numpy


def _softplus(xp, v):
    # Same threshold rule as torch/lrnnx: identity above 20 (and no overflow in exp).
    big = v > 20
    return xp.where(big, v, xp.log1p(xp.exp(xp.where(big, xp.zeros_like(v), v))))


def discretize(xp, dt, dtA, A, method):
    """(Ā, γ) broadcast from dt, dtA (..., 1) and A (..., N)."""
    if method in ("zoh", "dirac", "mamba"):
        Abar = xp.exp(dtA * A)
        if method == "dirac":
            return Abar, None
        if method == "mamba":
            return Abar, dt
        zero = A == 0
        A_safe = xp.where(zero, xp.ones_like(A), A)
        return Abar, xp.where(zero, dt + 0 * A, xp.expm1(dt * A) / A_safe)
    if method == "bilinear":
        return (1 + dtA * A / 2) / (1 - dtA * A / 2), dt / (1 - dt * A / 2)
    if method == "rglru":
        x = dtA * xp.log(A)
        om = -xp.expm1(2 * x)
        return xp.exp(x), xp.sqrt(xp.where(om > 0, om, xp.zeros_like(om)))
    # s7: A is unused (lrnnx passes zeros); Ā depends on the step only.
    Abar = 1 - 1 / (dtA * dtA + 0.5)
    return Abar, None


def step(xp, rows, x, dt, A, B, C, D, z, dt_bias, softplus, deltaA, method, cplx):
    """(new_rows (B, nh, P, N), out (B, nh, P)); inputs already in the computation dtypes."""
    Bsz, nh, P, N = rows.shape
    G = B.shape[1]
    hpg = nh // G
    d = dt if dt_bias is None else dt + dt_bias
    if softplus:
        d = _softplus(xp, d)
    dA = d if deltaA is None else deltaA
    Abar, gamma = discretize(xp, d[..., None], dA[..., None], A, method)
    Bg = xp.reshape(B, (Bsz, G, 1, 1, N))
    Cg = xp.reshape(C, (Bsz, G, 1, 1, N))
    bx = Bg * xp.reshape(x, (Bsz, G, hpg, P, 1))
    if gamma is not None:
        bx = bx * xp.reshape(xp.broadcast_to(gamma, (Bsz, nh, P, gamma.shape[-1])),
                             (Bsz, G, hpg, P, gamma.shape[-1]))
    Ab = xp.reshape(xp.broadcast_to(Abar, (Bsz, nh, P, N)), (Bsz, G, hpg, P, N))
    new = Ab * xp.reshape(rows, (Bsz, G, hpg, P, N)) + bx
    y = xp.sum(new * Cg, axis=-1)
    y = 2 * xp.real(y) if cplx else y
    y = xp.reshape(y, (Bsz, nh, P))
    if D is not None:
        y = y + D * x
    if z is not None:
        y = y * (z / (1 + xp.exp(-z)))
    return xp.reshape(new, (Bsz, nh, P, N)), y


def gather(xp, state, idx):
    return state if idx is None else xp.take(state, idx, axis=0)


def scatter(xp, state, idx, new):
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
