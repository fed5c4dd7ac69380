"""numba RG-LRU scan: tiles of (time x rows), the discretization vectorised, rows in parallel.

Canonical entries as in ``_generic`` (u, delta (B, D, L), A (D, N), h0 (B, D, N), all real in
the compute dtype). A task is a block of W (batch, channel) rows (16, or fewer for few rows);
they run side by side as the SIMD lanes of the tile loops (the recurrence of a single row is
a chain of dependent multiply-adds: W independent chains hide its latency, and lrnnx's N = 1
leaves no state axis to vectorise over). Time runs in tiles of T = 1024 / W steps: δ and u of
the tile are copied into k-major (T, W) buffers (index k W + j; lanes past the last row stay
0), then per state n one loop over the tile, lanes inner, computes

* Ā = e^x and β = √max(0, −expm1(2x)) = √(−m (m + 2)), m = e^x − 1, x = δ ln a, by
  ``numba_math``'s vectorisable e^x / e^x − 1 (a libm expm1 per element bound the old
  per-row loop at ~9 ns an element); β is clamped to 0 where δ < 0 or a = 1 (the numerics
  layer's ``rglru_clamped``; a NaN stays NaN);
* the recurrence h_t = Ā_t h_{t−1} + β_t u_t and y_t += h_t.

Backward, per task: a first pass runs the forward's tiles; the second runs the adjoint
λ_t = dout_t + Ā_{t+1} λ_{t+1} tile by tile in reverse, over the first pass's δ, u, Ā, β and
states kept for the whole task when they fit ``_KEEP_MAX``, else over a tile recomputed from
a checkpoint of the state before it (the same code, so the same values). With x = δ ln a:
dx = λ (Ā h_{t−1} − u Ā²/β) (the second term 0 where β = 0, the square root's kink, as
lrnnx's kernel), du = Σ_n λ β, dδ = Σ_n dx ln a, dA = Σ_{b,t} dx δ / a. h_{t−1} is read from
the stored states, never recovered by dividing by Ā. Nothing of size (B, D, N, L) exists.
"""

from __future__ import annotations

import math

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_kernel = nbs.kernel()
# Several transcendentals per element: two threads pay off from ~2^14 elements (B2 D8 L4096:
# one thread lost to the generic path's SIMD passes).
_PARALLEL_MIN = 1 << 14
prange = nbs.numba().prange
_M = nbm.helpers()
# Typed constants (``x * 0`` types float32 as float64 in numba and is NaN where x is inf/NaN).
_expm1_exp, _zero, _one = _M["expm1_exp"], _M["zero_of"], _M["one_of"]
_jit = nbs.numba().njit(cache=True, error_model="numpy")

# W rows per task: the lanes of the tile loops. W is a runtime value on purpose: numba runs
# LLVM without the SLP vectoriser, so a constant 8-lane inner loop was fully unrolled into
# scalar code (7 ns an element for the discretization); a runtime trip count is vectorised by
# the loop vectoriser (1.1 ns; the recurrence 0.36 ns at W = 8, 0.2 at W = 16, whose two
# vectors per step hide the chain's latency).
_TILE = 1024  # elements (T x W) per tile buffer: 4 KiB in float32, a tile's buffers sit in L1


def _lanes_for(R):
    """Rows per task: 16 where there are tasks enough for both cores, fewer for few rows (down
    to 1: a lane past the last row is work thrown away)."""
    return 16 if R >= 64 else max(1, min(8, (R + 1) // 2))


def _ln(A):
    # A in (0, 1] was checked under check_finite; elsewhere log's NaN/-inf propagates.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(A)


@_jit
def _rows(r0, w, D, rb, rd):
    """rb[j], rd[j] = (batch, channel) of the task's lane j < w."""
    for j in range(w):
        rb[j], rd[j] = (r0 + j) // D, (r0 + j) % D


@_jit
def _load(W, x, rb, rd, w, t0, T, out):
    """out[k W + j] = x[rb[j], rd[j], t0 + k] (lanes j >= w are left as they are: 0)."""
    for j in range(w):
        row = x[rb[j], rd[j], t0:t0 + T]
        for k in range(T):
            out[k * W + j] = row[k]


@_jit
def _store(W, tile, rb, rd, w, t0, T, x):
    for j in range(w):
        row = x[rb[j], rd[j], t0:t0 + T]
        for k in range(T):
            row[k] = tile[k * W + j]


@_jit
def _disc_tile(W, dts, la, T, ab, gm):
    """ab, gm[k W + j] = (Ā, β) at x = δ ln a of lane j at step k (la: ln a per lane). x first
    (lanes inner), then one flat loop over the tile: it vectorises for every W (a loop over
    few lanes, or fused with the recurrence, ran scalar at 7-8 ns an element for some W)."""
    for k in range(T):
        for j in range(W):
            ab[k * W + j] = dts[k * W + j] * la[j]
    zero = _zero(la[0])
    two = _one(la[0]) + _one(la[0])
    for i in range(T * W):
        m, e = _expm1_exp(ab[i])
        g2 = -m * (m + two)  # 1 - e^{2x} without cancellation
        ab[i] = e
        gm[i] = math.sqrt(zero if g2 <= zero else g2)  # (NaN stays NaN)


@_jit
def _rec_tile(W, T, ab, gm, us, h, hs):
    """hs[(k + 1) W + j] = the state after step k, from hs[:W] (the state before the tile,
    written by the caller); h: scratch of W."""
    for j in range(W):
        h[j] = hs[j]
    for k in range(T):
        for j in range(W):
            i = k * W + j
            h[j] = ab[i] * h[j] + gm[i] * us[i]
            hs[i + W] = h[j]


@_jit
def _rec_sum_tile(W, T, ab, gm, us, h, ys):
    """h <- the recurrence over the tile; ys[k W + j] += h after step k."""
    for k in range(T):
        for j in range(W):
            i = k * W + j
            h[j] = ab[i] * h[j] + gm[i] * us[i]
            ys[i] += h[j]


@_jit
def _lam_tile(W, T, ab, gys, lam, lt):
    """lt[k W + j] = λ_t = dout_t + carry in reverse over the tile; lam <- Ā_t λ_t, the carry
    into the step before (and, after the first tile, dh0). Over row views of step k: indexing
    k W + j from a reversed k was not vectorised (0.83 -> 0.30 ns an element)."""
    for kk in range(T):
        k = T - 1 - kk
        abk, gk, lk = ab[k * W:(k + 1) * W], gys[k * W:(k + 1) * W], lt[k * W:(k + 1) * W]
        for j in range(W):
            ln = gk[j] + lam[j]
            lk[j] = ln
            lam[j] = abk[j] * ln


@_jit
def _grad_tile(W, T, ab, gm, hs, lt, us, dts, la, gx, du_t, dd_t, acc):
    """gx = dx per element; du_t += λ β, dd_t += dx ln a (per step, summed over n by the
    caller's loop), acc[j] += dx δ (dA before its 1/a). Short loops that write one buffer
    each: the du/dd loop writing two ran scalar (0.75 ns an element, 0.2 split)."""
    zero, one = _zero(la[0]), _one(la[0])
    for i in range(T * W):  # flat: vectorised for every W
        ln, Ab, g = lt[i], ab[i], gm[i]
        pos = g > zero
        q = ln * us[i] * Ab * Ab / (g if pos else one)  # dβ/dx = -Ā²/β, 0 where β = 0
        gx[i] = ln * hs[i] * Ab - (q if pos else zero)
    for i in range(T * W):
        du_t[i] += lt[i] * gm[i]
    for k in range(T):
        for j in range(W):
            i = k * W + j
            dd_t[i] += gx[i] * la[j]
    for k in range(T):
        for j in range(W):
            i = k * W + j
            acc[j] += gx[i] * dts[i]


@_kernel
def _fwd(W, u, delta, lnA, h0, has_h0, y, last):
    Bsz, D, L = u.shape
    N = lnA.shape[1]
    R = Bsz * D
    Tt = _TILE // W  # steps per tile
    TW = Tt * W
    for task in prange((R + W - 1) // W):
        r0 = task * W
        w = min(W, R - r0)
        rb, rd = np.zeros(W, np.int64), np.zeros(W, np.int64)
        _rows(r0, w, D, rb, rd)
        la = np.zeros((N, W), u.dtype)  # ln a per state and lane (0 in unused lanes)
        h = np.zeros((N, W), u.dtype)
        for n in range(N):
            for j in range(w):
                la[n, j] = lnA[rd[j], n]
                if has_h0:
                    h[n, j] = h0[rb[j], rd[j], n]
        dts, us = np.zeros(TW, u.dtype), np.zeros(TW, u.dtype)
        ab, gm, ys = np.empty(TW, u.dtype), np.empty(TW, u.dtype), np.empty(TW, u.dtype)
        for t0 in range(0, L, Tt):
            T = min(Tt, L - t0)
            _load(W, delta, rb, rd, w, t0, T, dts)
            _load(W, u, rb, rd, w, t0, T, us)
            ys[:] = 0
            for n in range(N):
                _disc_tile(W, dts, la[n], T, ab, gm)
                _rec_sum_tile(W, T, ab, gm, us, h[n], ys)
            _store(W, ys, rb, rd, w, t0, T, y)
        for n in range(N):
            for j in range(w):
                last[rb[j], rd[j], n] = h[n, j]


# The backward keeps the whole task's tiles (δ, u, Ā, β and the states) from its first pass
# when they hold at most _KEEP_MAX elements (4 MiB in float32): the second pass then reads
# them instead of copying δ and u again and recomputing the discretization. Measured (2
# threads, loaded machine, ms, recompute -> keep): B16 D256 L1024 42 -> 34, B64 D64 L4096
# 190 -> 125-150; B1 D16 L65536 (10 MiB a task) level, so longer rows recompute each tile
# from a checkpoint of the state before it.
_KEEP_MAX = 1 << 20  # elements of the kept buffers, (2 + 3 N) L W


@_kernel
def _bwd(W, keep, nch, dout, u, delta, A, lnA, h0, has_h0, dlast, has_dl, du, ddelta, gA,
         dh0):
    """gA (B, D, N): per-batch dA, summed by the caller. ``keep``: the first pass's tiles
    stay for the second (tile c at offset c T W of the kept buffers, its states in
    hs[n, c T W:] with the state before it first); else one tile's buffers, recomputed.
    ``nch`` chunks (one per thread) each run every nch-th task with buffers allocated once:
    fresh kept buffers per task (320 KiB at L = 1024) cost a page fault per 4 KiB."""
    Bsz, D, L = u.shape
    N = lnA.shape[1]
    R = Bsz * D
    Tt = _TILE // W  # steps per tile
    TW = Tt * W
    nt = (L + Tt - 1) // Tt
    nk = nt if keep else 1  # tiles held
    ntask = (R + W - 1) // W
    for ch in prange(nch):
        rb, rd = np.zeros(W, np.int64), np.zeros(W, np.int64)
        la = np.zeros((N, W), u.dtype)
        h = np.zeros((N, W), u.dtype)
        lam = np.zeros((N, W), u.dtype)  # the adjoint carried into the step before
        acc = np.zeros((N, W), u.dtype)
        ck = np.empty((nt, N, W), u.dtype)  # the state before each tile
        dts, us = np.zeros(nk * TW, u.dtype), np.zeros(nk * TW, u.dtype)
        ab, gm = np.empty((N, nk * TW), u.dtype), np.empty((N, nk * TW), u.dtype)
        hs = np.empty((N, nk * TW + W), u.dtype)
        gys = np.zeros(TW, u.dtype)
        lt, gx = np.empty(TW, u.dtype), np.empty(TW, u.dtype)
        du_t, dd_t = np.empty(TW, u.dtype), np.empty(TW, u.dtype)
        for task in range(ch, ntask, nch):
            r0 = task * W
            w = min(W, R - r0)
            _rows(r0, w, D, rb, rd)
            if w < W:  # the last task: lanes past its rows read 0, not the last task's data
                la[:] = 0
                dts[:] = 0
                us[:] = 0
                gys[:] = 0
            h[:] = 0
            lam[:] = 0
            acc[:] = 0
            for n in range(N):
                for j in range(w):
                    la[n, j] = lnA[rd[j], n]
                    if has_h0:
                        h[n, j] = h0[rb[j], rd[j], n]
                    if has_dl:
                        lam[n, j] = dlast[rb[j], rd[j], n]
            for c in range(nt):  # pass 1: checkpoints (keep: every tile)
                t0 = c * Tt
                T = min(Tt, L - t0)
                o = c * TW if keep else 0
                _load(W, delta, rb, rd, w, t0, T, dts[o:o + TW])
                _load(W, u, rb, rd, w, t0, T, us[o:o + TW])
                for n in range(N):
                    ck[c, n, :] = h[n]
                    hs[n, o:o + W] = h[n]
                    _disc_tile(W, dts[o:o + TW], la[n], T, ab[n, o:o + TW], gm[n, o:o + TW])
                    _rec_tile(W, T, ab[n, o:o + TW], gm[n, o:o + TW], us[o:o + TW], h[n],
                              hs[n, o:o + TW + W])
            for c in range(nt - 1, -1, -1):  # pass 2: the adjoint, tiles in reverse
                t0 = c * Tt
                T = min(Tt, L - t0)
                o = c * TW if keep else 0
                dtc, usc = dts[o:o + TW], us[o:o + TW]
                if not keep:
                    _load(W, delta, rb, rd, w, t0, T, dtc)
                    _load(W, u, rb, rd, w, t0, T, usc)
                _load(W, dout, rb, rd, w, t0, T, gys)
                du_t[:] = 0
                dd_t[:] = 0
                for n in range(N):
                    abc, gmc, hsc = ab[n, o:o + TW], gm[n, o:o + TW], hs[n, o:o + TW + W]
                    if not keep:
                        _disc_tile(W, dtc, la[n], T, abc, gmc)
                        hsc[:W] = ck[c, n]
                        _rec_tile(W, T, abc, gmc, usc, h[n], hsc)
                    _lam_tile(W, T, abc, gys, lam[n], lt)
                    _grad_tile(W, T, abc, gmc, hsc, lt, usc, dtc, la[n], gx, du_t, dd_t, acc[n])
                _store(W, du_t, rb, rd, w, t0, T, du)
                _store(W, dd_t, rb, rd, w, t0, T, ddelta)
            for n in range(N):
                for j in range(w):
                    gA[rb[j], rd[j], n] = acc[n, j] / A[rd[j], n]
                    dh0[rb[j], rd[j], n] = lam[n, j]


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
    _fwd(_lanes_for(Bsz * D), u, delta, _ln(A), h0_, has_h0, y, last)
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
    W = _lanes_for(Bsz * D)
    keep = (2 + 3 * N) * L * W <= _KEEP_MAX
    ntask = (Bsz * D + W - 1) // W
    nch = max(1, min(ntask, nbs.numba().get_num_threads()))  # (launch has set the width)
    _bwd(W, keep, nch, dout, u, delta, A, _ln(A), h0_, has_h0, dl_, has_dl, du, ddelta, gA,
         dh0)
    return du, ddelta, gA.sum(axis=0), (None if h0 is None else dh0)
