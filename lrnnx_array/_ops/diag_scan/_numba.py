"""numba diagonal scan: one compiled loop over time per row, rows in parallel (``prange``).

Canonical entries as in ``_generic``: (R, L) rows (``a`` may be (R, 1): a constant gate) in the
compute dtype. The backward runs the forward into the ``da`` buffer (so h_{t-1} is read, never
recovered by dividing by a) and then the adjoint loop
lam_t = g_t + conj(a_{t+1}) lam_{t+1} over the same row, overwriting h with da as it goes:
one (R, L) scratch-free pass each way and no temporaries. From L = ``_BLOCK_MIN_L`` on, whole
blocks of 8 rows go to ``_numba_tile8`` (rows copied through small local tiles whose stride is
no power of two, states in registers; the backward keeps a short block's states local); the
rows left over, and short rows, run the kernels here (the backward, and the forward from
L = 4096 on, through small (W, T) tiles copied per task, see ``_fwd_tiled``).
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_support as nbs
from . import _generic, _numba_tile8

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


# Tiled variants: the W rows of a task are scanned through (W, T) tiles copied into a local
# buffer, so the interleaved inner loop never walks W rows of the caller's arrays at once. With
# a power-of-two row length those rows fall in one cache set (4 KiB apart at L = 1024, 256 KiB
# at 65536): W rows x 3-5 arrays thrash it. The tile's row stride (T + 16) is no power of two.
T = 512
_TS = T + 16


@_kernel
def _fwd_tiled(a, b, h0, out, reverse):
    R, L = b.shape
    const = a.shape[1] == 1
    for blk in prange((R + W - 1) // W):
        r0 = blk * W
        w = min(W, R - r0)
        h = np.empty(W, out.dtype)
        ta = np.empty((W, _TS), a.dtype)
        tb = np.empty((W, _TS), out.dtype)
        for j in range(w):
            h[j] = h0[r0 + j]
        for c in range((L + T - 1) // T):
            # tile c in scan order covers times [s, s + n)
            n = min(T, L - c * T)
            s = L - c * T - n if reverse else c * T
            for j in range(w):
                for k in range(n):
                    tb[j, k] = b[r0 + j, s + k]
                if not const:
                    for k in range(n):
                        ta[j, k] = a[r0 + j, s + k]
            for i in range(n):
                k = n - 1 - i if reverse else i
                for j in range(w):
                    h[j] = (a[r0 + j, 0] if const else ta[j, k]) * h[j] + tb[j, k]
                    tb[j, k] = h[j]
            for j in range(w):
                for k in range(n):
                    out[r0 + j, s + k] = tb[j, k]


@_kernel
def _bwd_tiled(g, a, b, h0, dlast, has_dlast, da, db, dh0, reverse):
    """The forward states into ``da`` (tiled), then the adjoint
    lam_t = g_t + conj(a_{t+1}) lam_{t+1} tile by tile from the end of the scan (carrying lam
    and the gate of the step after the tile), overwriting h with da = lam conj(h_{t-1}).
    ``dlast`` enters lam through a unit gate into the last step's g."""
    R, L = b.shape
    const = a.shape[1] == 1
    nt = (L + T - 1) // T
    for blk in prange((R + W - 1) // W):
        r0 = blk * W
        w = min(W, R - r0)
        h = np.empty(W, da.dtype)
        lam = np.empty(W, da.dtype)
        an = np.empty(W, da.dtype)  # conj(a) of the step after the current one (scan order)
        hp = np.empty(W, da.dtype)
        ta = np.empty((W, _TS), a.dtype)
        tg = np.empty((W, _TS), da.dtype)
        th = np.empty((W, _TS), da.dtype)
        for j in range(w):
            h[j] = h0[r0 + j]
            lam[j] = dlast[r0 + j] if has_dlast else 0
            an[j] = 1  # the last step has no successor: lam enters as dlast through a unit gate
        for c in range(nt):  # forward states, in scan order
            n = min(T, L - c * T)
            s = L - c * T - n if reverse else c * T
            for j in range(w):
                for k in range(n):
                    th[j, k] = b[r0 + j, s + k]
                if not const:
                    for k in range(n):
                        ta[j, k] = a[r0 + j, s + k]
            for i in range(n):
                k = n - 1 - i if reverse else i
                for j in range(w):
                    h[j] = (a[r0 + j, 0] if const else ta[j, k]) * h[j] + th[j, k]
                    th[j, k] = h[j]
            for j in range(w):
                for k in range(n):
                    da[r0 + j, s + k] = th[j, k]
        for c in range(nt - 1, -1, -1):  # adjoint, tiles in reverse scan order
            n = min(T, L - c * T)
            s = L - c * T - n if reverse else c * T
            for j in range(w):
                for k in range(n):
                    tg[j, k] = g[r0 + j, s + k]
                    th[j, k] = da[r0 + j, s + k]
                if not const:
                    for k in range(n):
                        ta[j, k] = a[r0 + j, s + k]
                # the state before the tile's first step (scan order)
                if c == 0:
                    hp[j] = h0[r0 + j]
                else:
                    hp[j] = da[r0 + j, s + n] if reverse else da[r0 + j, s - 1]
            for i in range(n - 1, -1, -1):  # i: position in scan order inside the tile
                k = n - 1 - i if reverse else i
                kp = k + 1 if reverse else k - 1  # the step before, inside the tile
                for j in range(w):
                    lam[j] = tg[j, k] + an[j] * lam[j]
                    prev = th[j, kp] if i > 0 else hp[j]
                    tg[j, k] = lam[j]  # db
                    th[j, k] = lam[j] * np.conj(prev)  # da (h no longer needed at k)
                    an[j] = np.conj(a[r0 + j, 0] if const else ta[j, k])
            for j in range(w):
                for k in range(n):
                    db[r0 + j, s + k] = tg[j, k]
                    da[r0 + j, s + k] = th[j, k]
        for j in range(w):
            dh0[r0 + j] = an[j] * lam[j]


# Measured (float32, 2 cores, ms, untiled -> tiled): forward 16x65536 1.73 -> 1.58, 256x4096
# 2.63 -> 1.54, 64x16384 2.27 -> 1.55, 4096x1024 7.3 -> 8.2 (so tiles from L = 4096 on);
# backward 9.6 -> 5.2, 11.0 -> 5.0, 11.0 -> 5.2, 27.1 -> 24.5 (always tiled).
_TILED_MIN_L = 4096

# Full blocks of 8 rows go to ``_numba_tile8`` (the rest to the plain kernels above) from this
# length on. It replaced rows skewed 16 steps apart in the caller's arrays (H19's kernel, which
# itself beat these plain kernels 1.5-3x); tile8 / skewed, float32, in one process, Zen 4,
# load ~1-1.6, one thread / two: forward 4096 x 1024 0.61 / 0.67, 16 x 65536 0.74 / 0.59;
# backward 4096 x 1024 0.58 / 0.58, 16 x 65536 0.95 / 0.82.
_BLOCK_MIN_L = 256

# A constant gate on few long rows: the generic Toeplitz path (matmuls) beats one chain per row
# (8 x 65536: 1.6 ms vs 9 ms here).
_FEW_ROWS = 64


def _block_rows(R, L):
    """How many leading rows (whole blocks of 8) the ``_numba_tile8`` kernels scan."""
    return R - R % _numba_tile8.W if L >= _BLOCK_MIN_L else 0


def _workers():
    return nbs.numba().get_num_threads()


def _state(h0, R, dtype):
    return np.zeros((R,), dtype) if h0 is None else np.ascontiguousarray(h0)


@nbs.launch
def forward(xp, a, b, h0, *, reverse: bool):
    """h for (R, L) rows ``b``; ``a`` is (R, L) or (R, 1) (a constant gate per row)."""
    R, L = b.shape
    if a.shape[1] == 1 and R < _FEW_ROWS and L >= _generic._TOEPLITZ_MIN_L:
        return _generic.forward(xp, a, b, h0, reverse=reverse)
    out = np.empty((R, L), b.dtype)
    h0 = _state(h0, R, b.dtype)
    n = _block_rows(R, L)
    if n:
        _numba_tile8.fwd(a, b, h0, out, bool(reverse), _workers())
    if n < R:
        kernel = _fwd_tiled if L >= _TILED_MIN_L else _fwd
        kernel(a[n:], b[n:], h0[n:], out[n:], bool(reverse))
    return out


@nbs.launch
def backward(xp, g, a, b, h0, dlast, *, reverse: bool):
    """(da, db, dh0) for (R, L) rows; ``da`` at the full (R, L) shape (see ``_generic``)."""
    R, L = b.shape
    dt = b.dtype
    da, db, dh0 = np.empty((R, L), dt), np.empty((R, L), dt), np.empty((R,), dt)
    has_dlast = dlast is not None
    h0s, dl = _state(h0, R, dt), _state(dlast, R, dt)  # dl: zeros without dlast
    n = _block_rows(R, L)
    if n:
        _numba_tile8.bwd(g, a, b, h0s, dl, da, db, dh0, bool(reverse), _workers(),
                          _numba_tile8.local_states(L, dt.itemsize))
    if n < R:
        _bwd_tiled(g[n:], a[n:], b[n:], h0s[n:], dl[n:], has_dlast, da[n:], db[n:], dh0[n:],
                   bool(reverse))
    return da, db, (None if h0 is None else dh0)
