"""numba diagonal scan: one compiled loop over time per row, rows in parallel (``prange``).

Canonical entries as in ``_generic``: (R, L) rows (``a`` may be (R, 1): a constant gate) in the
compute dtype. The backward runs the forward into the ``da`` buffer (so h_{t-1} is read, never
recovered by dividing by a) and then the adjoint loop
lam_t = g_t + conj(a_{t+1}) lam_{t+1} over the same row, overwriting h with da as it goes:
one (R, L) scratch-free pass each way and no temporaries.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_support as nbs
from . import _generic

_kernel = nbs.kernel()
prange = nbs.numba().prange


# Rows are scanned W at a time, interleaved step by step: W independent chains hide the
# latency of each step's multiply-add (a single chain is latency-bound at ~8 cycles a step).
W = 8


@_kernel
def _fwd(a, b, h0, out, reverse):
    R, L = b.shape
    const = a.shape[1] == 1
    for blk in prange((R + W - 1) // W):
        r0 = blk * W
        w = min(W, R - r0)
        h = np.empty(W, out.dtype)
        for j in range(w):
            h[j] = h0[r0 + j]
        for k in range(L):
            t = L - 1 - k if reverse else k
            ta = 0 if const else t
            for j in range(w):
                h[j] = a[r0 + j, ta] * h[j] + b[r0 + j, t]
                out[r0 + j, t] = h[j]


@_kernel
def _bwd(g, a, b, h0, dlast, has_dlast, da, db, dh0, reverse):
    R, L = b.shape
    const = a.shape[1] == 1
    for blk in prange((R + W - 1) // W):
        r0 = blk * W
        w = min(W, R - r0)
        h = np.empty(W, da.dtype)
        lam = np.empty(W, da.dtype)
        for j in range(w):
            h[j] = h0[r0 + j]
            # lam enters as dlast, passed through a unit "gate" into the last step's g.
            lam[j] = dlast[r0 + j] if has_dlast else 0
        for k in range(L):  # forward states into da
            t = L - 1 - k if reverse else k
            ta = 0 if const else t
            for j in range(w):
                h[j] = a[r0 + j, ta] * h[j] + b[r0 + j, t]
                da[r0 + j, t] = h[j]
        for k in range(L - 1, -1, -1):
            t = L - 1 - k if reverse else k
            tn = t - 1 if reverse else t + 1  # the step after t in scan order
            tp = t + 1 if reverse else t - 1  # the step before
            for j in range(w):
                r = r0 + j
                if k < L - 1:
                    lam[j] = g[r, t] + np.conj(a[r, 0 if const else tn]) * lam[j]
                else:
                    lam[j] = g[r, t] + lam[j]
                h_prev = da[r, tp] if k > 0 else h0[r]
                db[r, t] = lam[j]
                da[r, t] = lam[j] * np.conj(h_prev)
        t0 = L - 1 if reverse else 0
        for j in range(w):
            dh0[r0 + j] = np.conj(a[r0 + j, 0 if const else t0]) * lam[j]


# A constant gate on few long rows: the generic Toeplitz path (matmuls) beats one chain per row
# (8 x 65536: 1.6 ms vs 9 ms here).
_FEW_ROWS = 64


def _state(h0, R, dtype):
    return np.zeros((R,), dtype) if h0 is None else np.ascontiguousarray(h0)


@nbs.launch
def forward(xp, a, b, h0, *, reverse: bool):
    """h for (R, L) rows ``b``; ``a`` is (R, L) or (R, 1) (a constant gate per row)."""
    R, L = b.shape
    if a.shape[1] == 1 and R < _FEW_ROWS and L >= _generic._TOEPLITZ_MIN_L:
        return _generic.forward(xp, a, b, h0, reverse=reverse)
    out = np.empty((R, L), b.dtype)
    _fwd(a, b, _state(h0, R, b.dtype), out, bool(reverse))
    return out


@nbs.launch
def backward(xp, g, a, b, h0, dlast, *, reverse: bool):
    """(da, db, dh0) for (R, L) rows; ``da`` at the full (R, L) shape (see ``_generic``)."""
    R, L = b.shape
    dt = b.dtype
    da, db, dh0 = np.empty((R, L), dt), np.empty((R, L), dt), np.empty((R,), dt)
    has_dlast = dlast is not None
    _bwd(g, a, b, _state(h0, R, dt), _state(dlast, R, dt), has_dlast, da, db, dh0,
         bool(reverse))
    return da, db, (None if h0 is None else dh0)
