"""The RG-LRU forward over rows: the discretization along each row, 8 rows' chains side by side.

The kernel before this one tiled (T, W) lane-major: δ and u of W rows copied into k-major buffers
(index k W + j), the recurrence vectorised over the lanes, y copied back. On a Zen 3 (AVX2) the
two scalar transposes in and the one out cost more than the discretization (single thread,
B16 D256 L1024: the loads 9.7 ns an element on a loaded machine, e^x 5.4, the recurrence 0.5,
the store 2.2), and every tile read 16 rows 4 KiB apart (16 streams per array for the
prefetchers). Here nothing is transposed:

* per row of the task, one loop along t (contiguous in δ, u and the buffers) computes
  Ā = e^x and β u with β = √max(0, −m (m + 2)), m = e^x − 1, x = δ ln a (``numba_math``'s
  vectorisable e^x / e^x − 1; the same formulas and order as the tile kernel, so the same
  values);
* the recurrence h_t = Ā_t h_{t−1} + (β u)_t runs 8 rows as 8 scalar chains in one loop over t
  (8 independent multiply-adds per step hide the chain's latency). The chains are 8 named
  scalars: an array of lane states went through memory each step (store-to-load forwarding);
  the buffer rows are ``_S = T + 24`` elements apart, not a power of two (rows 4 KiB apart
  alias in L1 and in the store buffer's 4K check);
* the states overwrite the β u buffer and are copied (N = 1) or added (N > 1) into y's rows.

Same arithmetic as the tile kernel (float32 stays float32): the same values.
Measured A/B in one process (single thread, load ~5, float32, tile kernel -> this): B16 D256
L1024 61 -> 36 ms, L = 1000 59 -> 30, B1 D16 L65536 12.4 -> 3.7.
"""

from __future__ import annotations

import math

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_M = nbm.helpers()
_expm1_exp, _zero, _one = _M["expm1_exp"], _M["zero_of"], _M["one_of"]
_jit = nbs.numba().njit(cache=True, error_model="numpy")
prange = nbs.numba().prange

LANES = 8  # rows per task: the recurrence's 8 scalar chains (rec8)
STEPS = 256  # steps per tile: 2 buffers of 8 rows of 256 (+ pad) floats, 17 KiB, sit in L1
_PAD = 24  # elements between buffer rows beyond the tile's steps


@_jit
def disc_row(dl, ul, la, T, a, b):
    """a[k] = Ā, b[k] = β u at step k of one row (x = δ ln a, la = ln a)."""
    zero = _zero(la)
    two = _one(la) + _one(la)
    for k in range(T):
        m, e = _expm1_exp(dl[k] * la)
        g2 = -m * (m + two)  # 1 - e^{2x} without cancellation
        a[k] = e
        b[k] = math.sqrt(zero if g2 <= zero else g2) * ul[k]  # (NaN stays NaN)


@_jit
def rec8(T, S, a, b, h):
    """For the 8 buffer rows j (S apart): b[j S + k] <- h_j after step k, h_j carried in h."""
    # One view per row: indexed as a[j S + k], numba cannot prove j S + k >= 0 and checks it
    # for wraparound at every access (this loop: 0.54 -> 0.33 ns an element, single thread).
    S = max(S, 0)
    a1, a2, a3, a4 = a[S:], a[2 * S:], a[3 * S:], a[4 * S:]
    a5, a6, a7 = a[5 * S:], a[6 * S:], a[7 * S:]
    b1, b2, b3, b4 = b[S:], b[2 * S:], b[3 * S:], b[4 * S:]
    b5, b6, b7 = b[5 * S:], b[6 * S:], b[7 * S:]
    h0, h1, h2, h3, h4, h5, h6, h7 = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    for k in range(T):
        h0 = a[k] * h0 + b[k]
        b[k] = h0
        h1 = a1[k] * h1 + b1[k]
        b1[k] = h1
        h2 = a2[k] * h2 + b2[k]
        b2[k] = h2
        h3 = a3[k] * h3 + b3[k]
        b3[k] = h3
        h4 = a4[k] * h4 + b4[k]
        b4[k] = h4
        h5 = a5[k] * h5 + b5[k]
        b5[k] = h5
        h6 = a6[k] * h6 + b6[k]
        b6[k] = h6
        h7 = a7[k] * h7 + b7[k]
        b7[k] = h7
    h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7] = h0, h1, h2, h3, h4, h5, h6, h7


@nbs.kernel()
def fwd(u, delta, lnA, h0, has_h0, y, last):
    """y (B, D, L) and last (B, D, N) for N >= 1 (the caller zero-fills y for N = 0). Lanes
    past the task's last row keep zero buffers: their chains run on zeros."""
    Bsz, D, L = u.shape
    N = lnA.shape[1]
    R = Bsz * D
    W = LANES
    S = STEPS + _PAD
    for task in prange((R + W - 1) // W):
        r0 = task * W
        w = min(W, R - r0)
        h = np.zeros((N, W), u.dtype)
        if has_h0:
            for n in range(N):
                for j in range(w):
                    h[n, j] = h0[(r0 + j) // D, (r0 + j) % D, n]
        a = np.zeros(W * S, u.dtype)
        b = np.zeros(W * S, u.dtype)
        for t0 in range(0, L, STEPS):
            T = min(STEPS, L - t0)
            for n in range(N):
                for j in range(w):
                    bb, dd = (r0 + j) // D, (r0 + j) % D
                    disc_row(delta[bb, dd, t0:t0 + T], u[bb, dd, t0:t0 + T], lnA[dd, n], T,
                             a[j * S:j * S + T], b[j * S:j * S + T])
                rec8(T, S, a, b, h[n])
                for j in range(w):
                    yr = y[(r0 + j) // D, (r0 + j) % D, t0:t0 + T]
                    bj = b[j * S:j * S + T]
                    if n == 0:
                        yr[:] = bj
                    else:
                        for k in range(T):
                            yr[k] += bj[k]
        for n in range(N):
            for j in range(w):
                last[(r0 + j) // D, (r0 + j) % D, n] = h[n, j]
