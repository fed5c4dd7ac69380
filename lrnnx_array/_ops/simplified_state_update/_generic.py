"""Array-API S5 decode step: two small GEMMs ((B,H)@(H,P), (B,P)@(P,H)) around an elementwise
update. Every state element is computed once and written once (no H-tiling, so no race)."""

from __future__ import annotations

from ..simplified_scan._generic import discretize


def step(xp, disc, state, x, dt, A, B, C, D, dtA, conj_sym, cdt):
    """New state (B,P) and y (B,H); inputs already cast (x real, state/A/B/C complex)."""
    Ab, gb = discretize(xp, disc, A[None, :], dt, dtA)
    Bu = xp.matmul(xp.astype(x, cdt), xp.permute_dims(B, (1, 0)))
    new = Ab * state + (Bu if gb is None else gb * Bu)
    y = (2.0 if conj_sym else 1.0) * xp.real(xp.matmul(new, xp.permute_dims(C, (1, 0))))
    if D is not None:
        y = y + xp.matmul(x, xp.permute_dims(D, (1, 0)))
    return new, y
