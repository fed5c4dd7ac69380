"""Skewed, register-resident blocks of 8 rows for the numba diag_scan (``_numba`` dispatches).

Why: the rows of a block are scanned interleaved (8 independent chains hide the multiply-add's
latency), but with a power-of-two row length (L = 1024 floats = 4 KiB, 65536 = 256 KiB) the same
time step of every row falls in one L1 set: 8 rows x 3-5 arrays exceed its 8 ways and every
access misses (59 ms vs 5.9 ms at L = 1000 on a Zen 3, one thread). Here row j of a block runs
``SK * j`` steps behind row 0, so at any moment the 8 rows touch 8 different cache lines (16
elements = one 64-byte line for float32, two for wider types), whatever L is. The lane states are
8 named scalars (registers): a state array (``h[j]``) goes through memory every step and was 4x
slower. The ramps (the first and last ``SK * 7`` steps, where some rows have not started or have
finished) run the same body with the time index clamped and the state update masked: an idle
row rewrites its first output with h0 (overwritten when it starts) or its last one with its
final value (already there), so no branch per row and no second code path.

Only full blocks of 8 rows are handled here; the launcher scans the remaining rows with the
plain kernels of ``_numba``.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_support as nbs

_kernel = nbs.kernel()
_jit = nbs.numba().njit(cache=True, nogil=True, error_model="numpy", inline="always")
prange = nbs.numba().prange

W = 8  # rows a block (the body below names its 8 states)
SK = 16  # steps row j lags row j - 1: one 64-byte line of float32
LEAD = SK * (W - 1)


@_jit
def _f(a, b, out, r, t, const, h):
    h = a[r, 0 if const else t] * h + b[r, t]
    out[r, t] = h
    return h


@_jit
def _fc(a, b, out, r, i, L, off, sg, const, h):
    """One masked forward step of row ``r`` at scan index ``i`` (may lie outside [0, L))."""
    t = off + sg * min(max(i, 0), L - 1)
    hn = a[r, 0 if const else t] * h + b[r, t]
    if i >= 0 and i < L:
        h = hn
    out[r, t] = h
    return h


@_jit
def _fwd_block(a, b, h0, out, r, reverse):
    """States of rows r .. r + 7 into ``out`` (the forward of ``forward`` and ``backward``)."""
    L = b.shape[1]
    const = a.shape[1] == 1
    off = L - 1 if reverse else 0
    sg = -1 if reverse else 1
    d = sg * SK
    h_0, h_1, h_2, h_3 = h0[r], h0[r + 1], h0[r + 2], h0[r + 3]
    h_4, h_5, h_6, h_7 = h0[r + 4], h0[r + 5], h0[r + 6], h0[r + 7]
    for k in range(min(LEAD, L + LEAD)):  # ramp up
        h_0 = _fc(a, b, out, r, k, L, off, sg, const, h_0)
        h_1 = _fc(a, b, out, r + 1, k - SK, L, off, sg, const, h_1)
        h_2 = _fc(a, b, out, r + 2, k - 2 * SK, L, off, sg, const, h_2)
        h_3 = _fc(a, b, out, r + 3, k - 3 * SK, L, off, sg, const, h_3)
        h_4 = _fc(a, b, out, r + 4, k - 4 * SK, L, off, sg, const, h_4)
        h_5 = _fc(a, b, out, r + 5, k - 5 * SK, L, off, sg, const, h_5)
        h_6 = _fc(a, b, out, r + 6, k - 6 * SK, L, off, sg, const, h_6)
        h_7 = _fc(a, b, out, r + 7, k - 7 * SK, L, off, sg, const, h_7)
    for k in range(LEAD, L):  # every row inside [0, L)
        t = off + sg * k
        h_0 = _f(a, b, out, r, t, const, h_0)
        h_1 = _f(a, b, out, r + 1, t - d, const, h_1)
        h_2 = _f(a, b, out, r + 2, t - 2 * d, const, h_2)
        h_3 = _f(a, b, out, r + 3, t - 3 * d, const, h_3)
        h_4 = _f(a, b, out, r + 4, t - 4 * d, const, h_4)
        h_5 = _f(a, b, out, r + 5, t - 5 * d, const, h_5)
        h_6 = _f(a, b, out, r + 6, t - 6 * d, const, h_6)
        h_7 = _f(a, b, out, r + 7, t - 7 * d, const, h_7)
    for k in range(max(L, LEAD), L + LEAD):  # ramp down
        h_1 = _fc(a, b, out, r + 1, k - SK, L, off, sg, const, h_1)
        h_2 = _fc(a, b, out, r + 2, k - 2 * SK, L, off, sg, const, h_2)
        h_3 = _fc(a, b, out, r + 3, k - 3 * SK, L, off, sg, const, h_3)
        h_4 = _fc(a, b, out, r + 4, k - 4 * SK, L, off, sg, const, h_4)
        h_5 = _fc(a, b, out, r + 5, k - 5 * SK, L, off, sg, const, h_5)
        h_6 = _fc(a, b, out, r + 6, k - 6 * SK, L, off, sg, const, h_6)
        h_7 = _fc(a, b, out, r + 7, k - 7 * SK, L, off, sg, const, h_7)


@_kernel
def fwd(a, b, h0, out, reverse):
    """Forward of the first ``8 * (R // 8)`` rows."""
    for blk in prange(b.shape[0] // W):
        _fwd_block(a, b, h0, out, blk * W, reverse)


@_jit
def _g(g, a, da, db, r, t, tp, const, lam, an):
    """One adjoint step: lam_t = g_t + conj(a_{t+1}) lam_{t+1}; da_t = lam_t conj(h_{t-1})
    (``da`` holds h until this step overwrites it; ``tp`` indexes h_{t-1})."""
    lam = g[r, t] + an * lam
    db[r, t] = lam
    da[r, t] = lam * np.conj(da[r, tp])
    return lam, np.conj(a[r, 0 if const else t])


@_jit
def _gc(g, a, h0, da, db, r, i, L, off, sg, const, lam, an):
    """A masked adjoint step of row ``r`` at scan index ``i`` (may lie outside [0, L)): idle
    steps rewrite the values the row's real step at the clamped index writes (or will)."""
    ic = min(max(i, 0), L - 1)
    t = off + sg * ic
    prev = h0[r] if ic == 0 else da[r, t - sg]
    ln = g[r, t] + an * lam
    if i >= 0 and i < L:
        lam = ln
        an = np.conj(a[r, 0 if const else t])
    db[r, t] = lam
    da[r, t] = lam * np.conj(prev)
    return lam, an


@_kernel
def bwd(g, a, b, h0, dlast, has_dlast, da, db, dh0, reverse):
    """VJP of the first ``8 * (R // 8)`` rows: the states into ``da``, then the adjoint in
    reverse scan order, skewed the same way (row j ``SK * j`` steps behind row 0). ``dlast``
    must hold zeros when ``has_dlast`` is false (the argument is kept for ``_numba``'s
    signature)."""
    L = b.shape[1]
    const = a.shape[1] == 1
    off = L - 1 if reverse else 0
    sg = -1 if reverse else 1
    d = sg * SK
    for blk in prange(b.shape[0] // W):
        r = blk * W
        _fwd_block(a, b, h0, da, r, reverse)
        # dlast is zeros when absent (the launcher's buffer); lam keeps the state's dtype (a
        # literal 0 would make float32 lam float64 and convert every step)
        l_0, l_1, l_2, l_3 = dlast[r], dlast[r + 1], dlast[r + 2], dlast[r + 3]
        l_4, l_5, l_6, l_7 = dlast[r + 4], dlast[r + 5], dlast[r + 6], dlast[r + 7]
        # the last step has no successor: dlast enters through a unit gate
        n_0 = n_1 = n_2 = n_3 = n_4 = n_5 = n_6 = n_7 = np.ones(1, da.dtype)[0]
        e = L - 1  # row j at scan index e - (k - SK * j)
        for k in range(min(LEAD, L + LEAD)):  # ramp up
            l_0, n_0 = _gc(g, a, h0, da, db, r, e - k, L, off, sg, const, l_0, n_0)
            l_1, n_1 = _gc(g, a, h0, da, db, r + 1, e - k + SK, L, off, sg, const, l_1, n_1)
            l_2, n_2 = _gc(g, a, h0, da, db, r + 2, e - k + 2 * SK, L, off, sg, const, l_2, n_2)
            l_3, n_3 = _gc(g, a, h0, da, db, r + 3, e - k + 3 * SK, L, off, sg, const, l_3, n_3)
            l_4, n_4 = _gc(g, a, h0, da, db, r + 4, e - k + 4 * SK, L, off, sg, const, l_4, n_4)
            l_5, n_5 = _gc(g, a, h0, da, db, r + 5, e - k + 5 * SK, L, off, sg, const, l_5, n_5)
            l_6, n_6 = _gc(g, a, h0, da, db, r + 6, e - k + 6 * SK, L, off, sg, const, l_6, n_6)
            l_7, n_7 = _gc(g, a, h0, da, db, r + 7, e - k + 7 * SK, L, off, sg, const, l_7, n_7)
        # every row at a scan index in [1, L): h_{t-1} is in da
        for k in range(LEAD, L - 1):
            t = off + sg * (e - k)
            l_0, n_0 = _g(g, a, da, db, r, t, t - sg, const, l_0, n_0)
            t += d
            l_1, n_1 = _g(g, a, da, db, r + 1, t, t - sg, const, l_1, n_1)
            t += d
            l_2, n_2 = _g(g, a, da, db, r + 2, t, t - sg, const, l_2, n_2)
            t += d
            l_3, n_3 = _g(g, a, da, db, r + 3, t, t - sg, const, l_3, n_3)
            t += d
            l_4, n_4 = _g(g, a, da, db, r + 4, t, t - sg, const, l_4, n_4)
            t += d
            l_5, n_5 = _g(g, a, da, db, r + 5, t, t - sg, const, l_5, n_5)
            t += d
            l_6, n_6 = _g(g, a, da, db, r + 6, t, t - sg, const, l_6, n_6)
            t += d
            l_7, n_7 = _g(g, a, da, db, r + 7, t, t - sg, const, l_7, n_7)
        for k in range(max(L - 1, LEAD), L + LEAD):  # ramp down (and every row's step 0)
            l_0, n_0 = _gc(g, a, h0, da, db, r, e - k, L, off, sg, const, l_0, n_0)
            l_1, n_1 = _gc(g, a, h0, da, db, r + 1, e - k + SK, L, off, sg, const, l_1, n_1)
            l_2, n_2 = _gc(g, a, h0, da, db, r + 2, e - k + 2 * SK, L, off, sg, const, l_2, n_2)
            l_3, n_3 = _gc(g, a, h0, da, db, r + 3, e - k + 3 * SK, L, off, sg, const, l_3, n_3)
            l_4, n_4 = _gc(g, a, h0, da, db, r + 4, e - k + 4 * SK, L, off, sg, const, l_4, n_4)
            l_5, n_5 = _gc(g, a, h0, da, db, r + 5, e - k + 5 * SK, L, off, sg, const, l_5, n_5)
            l_6, n_6 = _gc(g, a, h0, da, db, r + 6, e - k + 6 * SK, L, off, sg, const, l_6, n_6)
            l_7, n_7 = _gc(g, a, h0, da, db, r + 7, e - k + 7 * SK, L, off, sg, const, l_7, n_7)
        dh0[r], dh0[r + 1], dh0[r + 2], dh0[r + 3] = n_0 * l_0, n_1 * l_1, n_2 * l_2, n_3 * l_3
        dh0[r + 4], dh0[r + 5], dh0[r + 6], dh0[r + 7] = n_4 * l_4, n_5 * l_5, n_6 * l_6, n_7 * l_7
