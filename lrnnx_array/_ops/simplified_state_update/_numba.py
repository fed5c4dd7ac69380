"""numba S5 decode step: the two small GEMMs stay BLAS calls, the update is one compiled pass.

Canonical arguments as in ``_generic`` (x, dt (1 or B, P), D, dtA real; A, B, C complex at the
compute dtype; ``state`` the caller's complex array, any precision). ``Bu = x Bᵀ`` and
``y = new Cᵀ`` (+ ``x Dᵀ``) are NumPy matmuls; in between one kernel over the (batch, state)
elements computes Ā and γ̄ (the numba twins of the numerics layer: e^x as e^re (cos, sin), γ̄
through expm1's φ₁), steps the state at the computation's precision and writes it back in
place at the state's. Nothing raises in here (every check ran in the public layer).
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_support as nbs

_kernel = nbs.kernel(parallel=False)  # decode sizes: B*P is far below a thread's worth
sel_disc = nbs.scalars()[7]
_CODE = {"bilinear": nbs.BILINEAR, "zoh": nbs.ZOH, "dirac": nbs.DIRAC}


@_kernel
def _update(state, Bu, dt, dtA, has_dtA, A, method, new):
    Bsz, P = Bu.shape
    bd, bda = dt.shape[0] > 1, dtA.shape[0] > 1
    for b in range(Bsz):
        for p in range(P):
            d = dt[b if bd else 0, p]
            da = dtA[b if bda else 0, p] if has_dtA else d
            Ab, gm = sel_disc(method, A[p], d, da, A[p])
            v = Ab * state[b, p] + gm * Bu[b, p]
            new[b, p] = v
            state[b, p] = v


def step(xp, state, x, dt, A, B, C, D, dtA, *, disc, conj_sym):
    """Write the new state (B,P) into ``state`` and return y (B,H)."""
    cdt = A.dtype
    Bu = np.matmul(x.astype(cdt), B.T)
    new = np.empty(Bu.shape, cdt)
    dtA_ = np.zeros((1, 1), dt.dtype) if dtA is None else dtA
    _update(state, Bu, dt, dtA_, dtA is not None, A, _CODE[disc], new)
    y = np.matmul(new, C.T).real
    y = 2 * y if conj_sym else np.ascontiguousarray(y)
    if D is not None:
        y = y + np.matmul(x, D.T)
    return y
