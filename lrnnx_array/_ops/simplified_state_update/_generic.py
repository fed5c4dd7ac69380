"""Array-API S5 decode step: two small GEMMs ((B,H)@(H,P), (B,P)@(P,H)) around an elementwise
update. Every state element is computed once and written once (no H-tiling, so no race). The
discretization is the numerics layer's (``numerics.split_steps``), as in the scan."""

from __future__ import annotations

from .._shared.numerics import split_steps


def step(xp, state, x, dt, A, B, C, D, dtA, *, disc, conj_sym):
    """Write the new state (B,P) into ``state`` and return y (B,H).

    Inputs arrive cast: x, dt (1 or B, P), D, dtA real; A, B, C complex at the compute dtype;
    ``state`` is the caller's array (complex, any precision).
    """
    cdt = A.dtype
    (Ab, gb), _ = split_steps(xp, disc, A[None, :], dt, dtA)
    Bu = xp.matmul(xp.astype(x, cdt), xp.permute_dims(B, (1, 0)))
    s = state if state.dtype == cdt else xp.astype(state, cdt)
    new = Ab * s + (Bu if isinstance(gb, float) else gb * Bu)
    y = xp.matmul(new, xp.permute_dims(C, (1, 0)))
    y = (2.0 if conj_sym else 1.0) * xp.real(y)
    if D is not None:
        y = y + xp.matmul(x, xp.permute_dims(D, (1, 0)))
    state[...] = new if new.dtype == state.dtype else xp.astype(new, state.dtype)
    return y
