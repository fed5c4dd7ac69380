"""numba RG-LRU scan: one compiled loop over time per (batch, channel) row, rows in parallel.

Canonical entries as in ``_generic`` (u, delta (B, D, L), A (D, N), h0 (B, D, N), all real in
the compute dtype). Per step and state, Ā = e^{δ ln a} and β = √max(0, −expm1(2δ ln a)) come
from ``numba_support.rglru_abar_gamma`` (β clamped to 0 where δ < 0 or a = 1, as the numerics
layer's ``rglru_clamped``). Nothing of size (B, D, N, L) exists: the forward keeps the N states
of a row in a small buffer; the backward stores the row's states, Ā and β in (L, N) scratch
(one row per thread at a time), then runs the adjoint λ_t = dout_t + Ā_{t+1} λ_{t+1} backwards.
h_{t-1} is read from the stored states, never recovered by dividing by Ā.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_kernel = nbs.kernel()
# Several transcendentals per element: two threads pay off from ~2^14 elements (B2 D8 L4096:
# one thread lost to the generic path's SIMD passes).
_PARALLEL_MIN = 1 << 14
prange = nbs.numba().prange
_rglru = nbs.scalars()[5]
# A typed 0 (``x * 0`` types float32 as float64 in numba and is NaN where x is inf or NaN).
_zero = nbm.helpers()["zero_of"]


def _ln(A):
    # A in (0, 1] was checked under check_finite; elsewhere log's NaN/-inf propagates.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(A)


@_kernel
def _fwd(u, delta, lnA, h0, has_h0, y, last):
    Bsz, D, L = u.shape
    N = lnA.shape[1]
    for row in prange(Bsz * D):
        b, d = row // D, row % D
        h = np.zeros(N, u.dtype)
        if has_h0:
            for n in range(N):
                h[n] = h0[b, d, n]
        for t in range(L):
            dt, ut = delta[b, d, t], u[b, d, t]
            s = _zero(ut)
            for n in range(N):
                Ab, g = _rglru(dt, lnA[d, n])
                h[n] = Ab * h[n] + g * ut
                s += h[n]
            y[b, d, t] = s
        for n in range(N):
            last[b, d, n] = h[n]


@_kernel
def _bwd(dout, u, delta, A, lnA, h0, has_h0, dlast, has_dl, du, ddelta, gA, dh0):
    """gA (B, D, N): per-batch dA, summed by the caller."""
    Bsz, D, L = u.shape
    N = lnA.shape[1]
    for row in prange(Bsz * D):
        b, d = row // D, row % D
        hs = np.empty((L + 1, N), u.dtype)  # hs[t + 1] = h_t, hs[0] = h_{-1}
        abs_ = np.empty((L, N), u.dtype)
        gs = np.empty((L, N), u.dtype)
        lam = np.zeros(N, u.dtype)
        acc = np.zeros(N, u.dtype)
        for n in range(N):
            hs[0, n] = h0[b, d, n] if has_h0 else 0
            if has_dl:
                lam[n] = dlast[b, d, n]
        for t in range(L):
            dt, ut = delta[b, d, t], u[b, d, t]
            for n in range(N):
                Ab, g = _rglru(dt, lnA[d, n])
                abs_[t, n], gs[t, n] = Ab, g
                hs[t + 1, n] = Ab * hs[t, n] + g * ut
        for t in range(L - 1, -1, -1):
            dt, ut, gy = delta[b, d, t], u[b, d, t], dout[b, d, t]
            du_t = _zero(gy)
            dd_t = _zero(gy)
            for n in range(N):
                ln = gy + lam[n]
                Ab, g, la = abs_[t, n], gs[t, n], lnA[d, n]
                # Ā = e^x, β = sqrt(1 - e^{2x}), x = δ ln a: dĀ/dx = Ā, dβ/dx = -Ā²/β (0 where
                # β = 0: the square root's kink, as lrnnx's kernel).
                G_x = ln * hs[t, n] * Ab
                if g > 0:
                    G_x -= ln * ut * Ab * Ab / g
                du_t += ln * g
                dd_t += G_x * la
                acc[n] += G_x * dt / A[d, n]
                lam[n] = Ab * ln
            du[b, d, t] = du_t
            ddelta[b, d, t] = dd_t
        for n in range(N):
            gA[b, d, n] = acc[n]
            dh0[b, d, n] = lam[n]


def _opt(x, shape, dtype):
    return (x, True) if x is not None else (np.zeros(shape, dtype), False)


@nbs.launch(min_elems=_PARALLEL_MIN)
def forward(xp, u, delta, A, h0):
    """(y (B, D, L), last (B, D, N))."""
    Bsz, D, L = u.shape
    N = A.shape[1]
    y = np.empty((Bsz, D, L), u.dtype)
    last = np.empty((Bsz, D, N), u.dtype)
    h0_, has_h0 = _opt(h0, (1, 1, 1), u.dtype)
    _fwd(u, delta, _ln(A), h0_, has_h0, y, last)
    return y, last


@nbs.launch(min_elems=_PARALLEL_MIN)
def backward(xp, dout, u, delta, A, h0, dlast):
    """(du, ddelta, dA, dh0)."""
    Bsz, D, L = u.shape
    N = A.shape[1]
    dt = u.dtype
    du, ddelta = np.empty((Bsz, D, L), dt), np.empty((Bsz, D, L), dt)
    gA, dh0 = np.empty((Bsz, D, N), dt), np.empty((Bsz, D, N), dt)
    h0_, has_h0 = _opt(h0, (1, 1, 1), dt)
    dl_, has_dl = _opt(dlast, (1, 1, 1), dt)
    _bwd(dout, u, delta, A, _ln(A), h0_, has_h0, dl_, has_dl, du, ddelta, gA, dh0)
    return du, ddelta, gA.sum(axis=0), (None if h0 is None else dh0)
