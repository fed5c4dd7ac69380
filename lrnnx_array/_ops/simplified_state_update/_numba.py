"""numba S5 decode step: the two small GEMMs stay BLAS calls, the update is one compiled pass.

Canonical arguments as in ``_generic`` (x, dt (1 or B, P), D, dtA real; A, B, C complex at the
compute dtype; ``state`` the caller's complex array, any precision). ``Bu = x Bᵀ`` and
``y = Re(new Cᵀ)`` (+ ``x Dᵀ``) are real NumPy matmuls on the complex arrays' real views; in
between one kernel over the (batch, state) elements computes Ā and γ̄ (the numba twins of the
numerics layer: e^x as e^re (cos, sin), γ̄ through expm1's φ₁; once per state when the steps are
the same for the whole batch), steps the state at the computation's precision and writes it
back in place at the state's. Nothing raises in here (every check ran in the public layer).
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_support as nbs

_kernel = nbs.kernel(parallel=False)  # decode sizes: B*P is far below a thread's worth
sel_disc = nbs.scalars()[7]
_CODE = {"bilinear": nbs.BILINEAR, "zoh": nbs.ZOH, "dirac": nbs.DIRAC}


@_kernel
def _update(state, Bu, dt, dtA, has_dtA, A, method, sc, out, ab, gm):
    Bsz, P = Bu.shape
    bd, bda = dt.shape[0] > 1, has_dtA and dtA.shape[0] > 1
    if not (bd or bda):
        # One step per state for the whole batch (dt of shape (P,), lrnnx's decode): A-bar and
        # gamma once per state, not once per (batch, state) element (the complex zoh formulas
        # are ~60 ns an element, 30 us of a 65 us step at B32 P16).
        for p in range(P):
            ab[p], gm[p] = sel_disc(method, A[p], dt[0, p], dtA[0, p] if has_dtA else dt[0, p],
                                    A[p])
        for b in range(Bsz):
            for p in range(P):
                v = ab[p] * state[b, p] + gm[p] * Bu[b, p]
                out[b, 2 * p] = sc * v.real
                out[b, 2 * p + 1] = -(sc * v.imag)
                state[b, p] = v
        return
    for b in range(Bsz):
        for p in range(P):
            d = dt[b if bd else 0, p]
            da = dtA[b if bda else 0, p] if has_dtA else d
            Ab, g = sel_disc(method, A[p], d, da, A[p])
            v = Ab * state[b, p] + g * Bu[b, p]
            out[b, 2 * p] = sc * v.real
            out[b, 2 * p + 1] = -(sc * v.imag)
            state[b, p] = v


def step(xp, state, x, dt, A, B, C, D, dtA, *, disc, conj_sym):
    """Write the new state (B,P) into ``state`` and return y (B,H)."""
    cdt = A.dtype
    rdt = x.dtype  # (A's real dtype: the inputs arrive cast)
    # Both GEMMs are real ones on the complex arrays' real views: Bu = x Bᵀ as x (Bsz, H) times
    # Bᵀ's view (H, 2P), which is Bu's view (Bsz, 2P); a complex matmul promoted x to complex
    # first and did twice the multiplies (half of them on zeros). y = Re(new Cᵀ) = conj(new)'s
    # view (Bsz, 2P) times C's view transposed (2P, H): the kernel writes scale·conj(new) into
    # ``out`` (scale 2 for conjugate pairs, exact), so no complex product, real part or 2·y pass.
    Bu = np.matmul(x, np.ascontiguousarray(B.T).view(rdt)).view(cdt)
    out = np.empty((Bu.shape[0], 2 * Bu.shape[1]), rdt)
    dtA_ = np.zeros((1, 1), dt.dtype) if dtA is None else dtA
    P = A.shape[0]
    _update(state, Bu, dt, dtA_, dtA is not None, A, _CODE[disc], rdt.type(2 if conj_sym else 1),
            out, np.empty(P, cdt), np.empty(P, cdt))
    y = np.matmul(out, (C if C.flags.c_contiguous else np.ascontiguousarray(C)).view(rdt).T)
    if D is not None:
        y += np.matmul(x, D.T)
    return y
