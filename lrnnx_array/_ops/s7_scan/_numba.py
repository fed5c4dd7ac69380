"""numba S7 scan: compiled contractions over H / N and a compiled loop over time.

Canonical entries as in ``_generic``: u (B, H, L), A (B, N, L), B (B, N, H, L), C (B, H, N, L),
bias (B, N, L), h0 (B, N), all real in the compute dtype. Every loop runs along L, the
contiguous axis of every array, so each pass streams: per (batch, state) row the input term
Σ_h B u (h outer, t inner), then the recurrence s_t = Ā_t s_{t−1} + ... with
Ā = 1 − 1/(a² + ½) (numerics.py's "s7"); per (batch, channel) row y = Σ_n C s. The VJP mirrors
it: ds = Σ_h C dout per state row, the reverse adjoint λ_t = ds_t + Ā_{t+1} λ_{t+1} together with
dA, dB = λ u and dbias = λ, then du = Σ_n B λ and dC = dout s per channel row. Only (B, N, L)
state-sized arrays are kept (s, λ); s_{t−1} is read from s, never recovered by dividing by Ā.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_kernel = nbs.kernel()
prange = nbs.numba().prange
# A typed 0: ``x * 0`` types float32 as float64 in numba (the state ran in float64) and is NaN
# where x is inf or NaN.
_zero = nbm.helpers()["zero_of"]


@_kernel
def _states(u, A, B, bias, has_bias, h0, has_h0, s, one, half):
    Bsz, N, H, L = B.shape
    for row in prange(Bsz * N):
        b, n = row // N, row % N
        for t in range(L):
            s[b, n, t] = bias[b, n, t] if has_bias else 0
        for k in range(H):
            for t in range(L):
                s[b, n, t] += B[b, n, k, t] * u[b, k, t]
        h = h0[b, n] if has_h0 else _zero(s[b, n, 0])
        for t in range(L):
            a = A[b, n, t]
            h = (one - one / (a * a + half)) * h + s[b, n, t]
            s[b, n, t] = h


@_kernel
def _out(C, s, y):
    """y[b, k, t] = sum_n C[b, k, n, t] s[b, n, t]."""
    Bsz, H, N, L = C.shape
    for row in prange(Bsz * H):
        b, k = row // H, row % H
        for t in range(L):
            y[b, k, t] = 0
        for n in range(N):
            for t in range(L):
                y[b, k, t] += C[b, k, n, t] * s[b, n, t]


@_kernel
def _adjoint(dout, u, A, B, C, s, h0, has_h0, dlast, has_dl, lam, dA, dB, dh0, one, half):
    """lam (B, N, L): λ; dA, dB per element; dh0 (B, N)."""
    Bsz, N, H, L = B.shape
    for row in prange(Bsz * N):
        b, n = row // N, row % N
        for t in range(L):
            lam[b, n, t] = 0
        for k in range(H):
            for t in range(L):
                lam[b, n, t] += C[b, k, n, t] * dout[b, k, t]
        carry = dlast[b, n] if has_dl else _zero(lam[b, n, 0])
        for t in range(L - 1, -1, -1):
            a = A[b, n, t]
            w = a * a + half
            ln = lam[b, n, t] + carry
            lam[b, n, t] = ln
            sp = s[b, n, t - 1] if t > 0 else (h0[b, n] if has_h0 else _zero(ln))
            dA[b, n, t] = ln * sp * ((a + a) / (w * w))
            carry = (one - one / w) * ln
        dh0[b, n] = carry
        for k in range(H):
            for t in range(L):
                dB[b, n, k, t] = lam[b, n, t] * u[b, k, t]


@_kernel
def _channel_grads(dout, B, s, lam, du, dC):
    Bsz, N, H, L = B.shape
    for row in prange(Bsz * H):
        b, k = row // H, row % H
        for t in range(L):
            du[b, k, t] = 0
        for n in range(N):
            for t in range(L):
                du[b, k, t] += B[b, n, k, t] * lam[b, n, t]
                dC[b, k, n, t] = dout[b, k, t] * s[b, n, t]


def _consts(dtype):
    """1 and 1/2 in the compute precision (float64 literals would promote float32 work)."""
    return dtype.type(1), dtype.type(0.5)


def _opt(x, shape, dtype):
    return (x, True) if x is not None else (np.zeros(shape, dtype), False)


def _scan(u, A, B, bias, h0):
    Bsz, N, H, L = B.shape
    s = np.empty((Bsz, N, L), u.dtype)
    bias_, has_b = _opt(bias, (1, 1, 1), u.dtype)
    h0_, has_h0 = _opt(h0, (1, 1), u.dtype)
    _states(u, A, B, bias_, has_b, h0_, has_h0, s, *_consts(u.dtype))
    return s


@nbs.launch
def forward(xp, u, A, B, C, bias, h0):
    """(y (batch, H, L), last (batch, N))."""
    s = _scan(u, A, B, bias, h0)
    y = np.empty(u.shape, u.dtype)
    _out(C, s, y)
    return y, np.ascontiguousarray(s[:, :, -1])


@nbs.launch
def backward(xp, dout, u, A, B, C, bias, h0, dlast):
    """(du, dA, dB, dC, dbias, dh0)."""
    s = _scan(u, A, B, bias, h0)
    dt = u.dtype
    Bsz, N, H, L = B.shape
    lam = np.empty((Bsz, N, L), dt)
    dA, dB, dC = np.empty(A.shape, dt), np.empty(B.shape, dt), np.empty(C.shape, dt)
    du, dh0 = np.empty(u.shape, dt), np.empty((Bsz, N), dt)
    h0_, has_h0 = _opt(h0, (1, 1), dt)
    dl_, has_dl = _opt(dlast, (1, 1), dt)
    _adjoint(dout, u, A, B, C, s, h0_, has_h0, dl_, has_dl, lam, dA, dB, dh0, *_consts(dt))
    _channel_grads(dout, B, s, lam, du, dC)
    return du, dA, dB, dC, (None if bias is None else lam), (None if h0 is None else dh0)
