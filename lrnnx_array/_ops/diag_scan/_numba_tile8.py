"""Blocks of 8 rows scanned through small local tiles, states in named scalars (``_numba``
dispatches full blocks here).

Why: the 8 rows of a block are scanned interleaved (8 independent chains hide the multiply-add's
latency), and walking 8 rows of the caller's arrays at once puts a step of every row in one L1
set when the row length is a power of two (L = 1024 floats = 4 KiB: 8 rows x 3-5 arrays exceed
its 8 ways) and asks the prefetchers for 24 short streams. Here each (8, n) piece of
``a``/``b``/``g`` is first copied row by row into a tile whose row stride (T + 17 elements) is
no power of two (contiguous, vectorised copies), the scan runs over the tiles with the 8 states
in registers, and the results are copied back row by row. The backward keeps all of a block's
states in a local (8, L) buffer when it is small (never written into ``da`` and read back), else
it stores them in ``da`` as before.

Tiles are allocated once per worker (a ``prange`` over workers, blocks split in contiguous
runs), not once per block.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_support as nbs

_nb = nbs.numba()
_kernel = nbs.kernel()
_jit = _nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
prange = _nb.prange

W = 8  # rows a block (the bodies below name their 8 states)
T = 256  # steps a tile
_TS = T + 17  # tile row stride: column 0 and n + 1 hold the state before the tile (backward)
# A block's states stay in a local buffer when they take at most this many bytes (L2 is 1 MiB
# a core on the Zen 4 measured; 8 x 1024 float32 is 32 KiB).
LOCAL_H_BYTES = 1 << 18


def local_states(L, itemsize):
    """Whether ``bwd`` keeps a block's (8, L) states local."""
    return W * L * itemsize <= LOCAL_H_BYTES


# Tile indices as unsigned: with a run-time direction numba cannot prove a signed index
# non-negative and checks it for wraparound at every access (the forward scan ran 2.3x slower).
_u = np.uint64


@_jit
def _load(src, r, s, n, dst, o):
    """dst[j, o:o + n] = src[r + j, s:s + n] for the block's 8 rows."""
    for j in range(W):
        d, x = dst[j, _u(o):], src[_u(r + j), _u(s):]
        for k in range(n):
            d[_u(k)] = x[_u(k)]


@_jit
def _store(src, o, dst, r, s, n):
    for j in range(W):
        d, x = dst[_u(r + j), _u(s):], src[j, _u(o):]
        for k in range(n):
            d[_u(k)] = x[_u(k)]


@_jit
def _fwd_block(a, b, h0, out, r, ro, reverse, ta, tb):
    """States of rows r .. r + 7 into rows ro .. ro + 7 of ``out``."""
    L = b.shape[1]
    const = a.shape[1] == 1
    h_0, h_1, h_2, h_3 = h0[r], h0[r + 1], h0[r + 2], h0[r + 3]
    h_4, h_5, h_6, h_7 = h0[r + 4], h0[r + 5], h0[r + 6], h0[r + 7]
    c_0, c_1, c_2, c_3 = a[r, 0], a[r + 1, 0], a[r + 2, 0], a[r + 3, 0]
    c_4, c_5, c_6, c_7 = a[r + 4, 0], a[r + 5, 0], a[r + 6, 0], a[r + 7, 0]
    for c in range((L + T - 1) // T):
        n = min(T, L - c * T)
        s = L - c * T - n if reverse else c * T  # tile c in scan order: times [s, s + n)
        k0 = n - 1 if reverse else 0
        sg = -1 if reverse else 1
        _load(b, r, s, n, tb, 0)
        if const:
            for i in range(n):
                k = _u(k0 + sg * i)
                h_0 = c_0 * h_0 + tb[0, k]
                tb[0, k] = h_0
                h_1 = c_1 * h_1 + tb[1, k]
                tb[1, k] = h_1
                h_2 = c_2 * h_2 + tb[2, k]
                tb[2, k] = h_2
                h_3 = c_3 * h_3 + tb[3, k]
                tb[3, k] = h_3
                h_4 = c_4 * h_4 + tb[4, k]
                tb[4, k] = h_4
                h_5 = c_5 * h_5 + tb[5, k]
                tb[5, k] = h_5
                h_6 = c_6 * h_6 + tb[6, k]
                tb[6, k] = h_6
                h_7 = c_7 * h_7 + tb[7, k]
                tb[7, k] = h_7
        else:
            _load(a, r, s, n, ta, 0)
            for i in range(n):
                k = _u(k0 + sg * i)
                h_0 = ta[0, k] * h_0 + tb[0, k]
                tb[0, k] = h_0
                h_1 = ta[1, k] * h_1 + tb[1, k]
                tb[1, k] = h_1
                h_2 = ta[2, k] * h_2 + tb[2, k]
                tb[2, k] = h_2
                h_3 = ta[3, k] * h_3 + tb[3, k]
                tb[3, k] = h_3
                h_4 = ta[4, k] * h_4 + tb[4, k]
                tb[4, k] = h_4
                h_5 = ta[5, k] * h_5 + tb[5, k]
                tb[5, k] = h_5
                h_6 = ta[6, k] * h_6 + tb[6, k]
                tb[6, k] = h_6
                h_7 = ta[7, k] * h_7 + tb[7, k]
                tb[7, k] = h_7
        _store(tb, 0, out, ro, s, n)


@_kernel
def fwd(a, b, h0, out, reverse, workers):
    """Forward of the first ``8 * (R // 8)`` rows, split over ``workers`` tasks (the launcher
    passes numba's thread count: reading it here would keep the kernel out of the cache)."""
    nb = b.shape[0] // W
    P = max(1, min(workers, nb))
    for p in prange(P):
        ta = np.empty((W, _TS), a.dtype)
        tb = np.empty((W, _TS), out.dtype)
        for blk in range(p * nb // P, (p + 1) * nb // P):
            _fwd_block(a, b, h0, out, blk * W, blk * W, reverse, ta, tb)


@_jit
def _adj(x, an, lam, prev):
    """One adjoint step: lam_t = g_t + conj(a_{t+1}) lam_{t+1} (``x`` = g_t, ``an`` =
    conj(a_{t+1})); da_t = lam_t conj(h_{t-1}) (``prev`` = h_{t-1})."""
    lam = x + an * lam
    return lam, lam * np.conj(prev)


@_jit
def _bwd_block(g, a, b, h0, dlast, da, db, dh0, r, reverse, H, ro, ta, tg, th):
    L = b.shape[1]
    const = a.shape[1] == 1
    _fwd_block(a, b, h0, H, r, ro, reverse, ta, th)
    l_0, l_1, l_2, l_3 = dlast[r], dlast[r + 1], dlast[r + 2], dlast[r + 3]
    l_4, l_5, l_6, l_7 = dlast[r + 4], dlast[r + 5], dlast[r + 6], dlast[r + 7]
    # conj(a) of the step after (scan order); the last step has none: dlast enters through a
    # unit gate
    n_0 = n_1 = n_2 = n_3 = n_4 = n_5 = n_6 = n_7 = np.ones(1, da.dtype)[0]
    c_0, c_1 = np.conj(a[r, 0]), np.conj(a[r + 1, 0])
    c_2, c_3 = np.conj(a[r + 2, 0]), np.conj(a[r + 3, 0])
    c_4, c_5 = np.conj(a[r + 4, 0]), np.conj(a[r + 5, 0])
    c_6, c_7 = np.conj(a[r + 6, 0]), np.conj(a[r + 7, 0])
    nt = (L + T - 1) // T
    sg = -1 if reverse else 1
    for c in range(nt - 1, -1, -1):  # tiles in reverse scan order
        n = min(T, L - c * T)
        s = L - c * T - n if reverse else c * T
        _load(g, r, s, n, tg, 0)
        # h at tile column 1 + k; the state before the tile (scan order) beside it: column 0
        # forward, n + 1 reversed; so h_{t-1} of column 1 + k is column 1 + k - sg
        _load(H, ro, s, n, th, 1)
        hp = n + 1 if reverse else 0
        for j in range(W):
            if c == 0:
                th[j, hp] = h0[r + j]
            else:
                th[j, hp] = H[ro + j, s + n] if reverse else H[ro + j, s - 1]
        if not const:
            _load(a, r, s, n, ta, 0)
        k0 = 0 if reverse else n - 1  # the tile's last step in scan order comes first
        for i in range(n):
            k = _u(k0 - sg * i)
            q = _u(1 + k0 - sg * i)
            p = _u(1 + k0 - sg * (i + 1))
            l_0, th[0, q] = _adj(tg[0, k], n_0, l_0, th[0, p])
            tg[0, k] = l_0
            l_1, th[1, q] = _adj(tg[1, k], n_1, l_1, th[1, p])
            tg[1, k] = l_1
            l_2, th[2, q] = _adj(tg[2, k], n_2, l_2, th[2, p])
            tg[2, k] = l_2
            l_3, th[3, q] = _adj(tg[3, k], n_3, l_3, th[3, p])
            tg[3, k] = l_3
            l_4, th[4, q] = _adj(tg[4, k], n_4, l_4, th[4, p])
            tg[4, k] = l_4
            l_5, th[5, q] = _adj(tg[5, k], n_5, l_5, th[5, p])
            tg[5, k] = l_5
            l_6, th[6, q] = _adj(tg[6, k], n_6, l_6, th[6, p])
            tg[6, k] = l_6
            l_7, th[7, q] = _adj(tg[7, k], n_7, l_7, th[7, p])
            tg[7, k] = l_7
            if const:
                n_0, n_1, n_2, n_3, n_4, n_5, n_6, n_7 = c_0, c_1, c_2, c_3, c_4, c_5, c_6, c_7
            else:
                n_0, n_1 = np.conj(ta[0, k]), np.conj(ta[1, k])
                n_2, n_3 = np.conj(ta[2, k]), np.conj(ta[3, k])
                n_4, n_5 = np.conj(ta[4, k]), np.conj(ta[5, k])
                n_6, n_7 = np.conj(ta[6, k]), np.conj(ta[7, k])
        _store(tg, 0, db, r, s, n)
        _store(th, 1, da, r, s, n)
    dh0[r], dh0[r + 1], dh0[r + 2], dh0[r + 3] = n_0 * l_0, n_1 * l_1, n_2 * l_2, n_3 * l_3
    dh0[r + 4], dh0[r + 5], dh0[r + 6], dh0[r + 7] = n_4 * l_4, n_5 * l_5, n_6 * l_6, n_7 * l_7


@_kernel
def bwd(g, a, b, h0, dlast, da, db, dh0, reverse, workers, local):
    """VJP of the first ``8 * (R // 8)`` rows (``dlast`` holds zeros when there is none);
    ``local``: keep each block's states in a local buffer (see ``local_states``), else in
    ``da``."""
    L = b.shape[1]
    nb = b.shape[0] // W
    P = max(1, min(workers, nb))
    for p in prange(P):
        ta = np.empty((W, _TS), a.dtype)
        tg = np.empty((W, _TS), da.dtype)
        th = np.empty((W, _TS), da.dtype)
        Hl = np.empty((W, L if local else 1), da.dtype)
        for blk in range(p * nb // P, (p + 1) * nb // P):
            r = blk * W
            if local:
                _bwd_block(g, a, b, h0, dlast, da, db, dh0, r, reverse, Hl, 0, ta, tg, th)
            else:
                _bwd_block(g, a, b, h0, dlast, da, db, dh0, r, reverse, da, r, ta, tg, th)
