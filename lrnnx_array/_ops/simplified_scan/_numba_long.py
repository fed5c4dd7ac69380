"""numba S5 forward for long rows: time-major state lanes, rows split over time where the
batch is smaller than the threads.

The row form (``_numba._fwd``) scans one (batch, state) row per thread: at B = 1, P = 16 its
16 rows are 16 dependent chains of complex multiply-adds, discretised one row at a time, and
its projections are complex GEMMs on the complex cast of a real u. Here:

* ``B u`` is one real GEMM per batch into a time-major (L, 2P) buffer, row t holding
  [Re v_t | Im v_t] (u's imaginary part adds a second GEMM only where it has one);
* each batch's time axis is cut into K chunks (K = 1 where the batch fills the threads), one
  per thread. A chunk walks its steps in tiles
  of T: the tile's steps are gathered time-major ((T, P), ``_numba_fused.tile_steps``), its
  (Abar, gamma) computed by ``_numba_fused.disc_tile`` as one flat run of T P elements (A's
  planes repeated T times, so every loop is long and vectorises), and the recurrence
  x_t = Abar_t x_{t-1} + gamma_t v_t runs over the P states in SIMD lanes, in place over v;
* the recurrence is linear, so inside chunk c >= 1 the true state is x_t = x^loc_t + Q_t h_in
  (x^loc: the chunk's scan from zero, Q_t: the product of Abar from the chunk's first step
  through t, stored time-major like x, h_in: the true state entering the chunk). A short
  sequential pass gives every chunk's h_in; a parallel pass adds Q_t h_in to x;
* ``y = C x`` is one real GEMM per batch on x's planes, computed transposed (y^T = x^T W,
  W = ``(s Re C, -s Im C)^T`` for s5_inner's ``s Re(C x)``, s = 2 with conj_sym; both blocks of
  C's planes for the complex y) and written into (B, H, L) by a blocked epilogue that adds
  ``D Re(u)``. The work buffers (Re u, x, Q, y^T) are kept per thread between calls.

Measured (B1 H16 P16 L65536 complex64, zoh, steps varying in time, 2 threads, OpenBLAS on one
thread, one process, old/new interleaved, min of >= 6): the tier's inner_forward 9.2 ms
against the row form's 20.3 (load ~0.8); the public s5_inner 16.6 / 21.9 and 33.0 / 43.5 at
load ~2.4 / ~4 (the split needs the second core; CPU time 16.9 / 21.6 ms at ~2.3). Per
element and thread (quiet): steps gather ~0.5 ns, discretisation ~4, recurrence ~1, Q ~0.7;
the GEMMs ~1 ms each, the correction and the epilogue ~0.3-0.6 ms.

Q decays (|Abar| < 1) into the subnormal range, where a product with Abar > 1/2 rounds back to
the smallest subnormal for ever and every multiply costs ~100 cycles: an entry of Q whose
parts are both below the smallest normal number is stored as 0 (the h_in contribution it
carries is below 2^-126 (float32) / 2^-1022 (float64) of h_in, far under the scan's rounding);
once a tile ends with a chunk's Q all 0 it is not computed further, and its correction stops
there. A non-finite
h_in times a flushed 0 gives NaN where the unsplit scan gives inf or NaN: both non-finite.

Not used by the VJP: its row kernels want B u and x state-major (B, P, L) complex, and the two
transposes from these planes (~1.5 ms each at L65536 P16) cancel the faster scan (one thread:
14.1 ms for both states against the row form's 14.0, measured and left out).

The path is chosen by :func:`plan`; tests force it on small sizes through ``SPLIT_CHUNKS`` and
``SPLIT_MIN_STEPS`` (and small tiles through ``TILE_ELEMS``).
"""

from __future__ import annotations

import threading

import numpy as np

from .._shared import numba_support as nbs
from ._numba_fused import disc_tile, tile_steps

_kernel = nbs.kernel()
prange = nbs.numba().prange
_JIT = dict(cache=True, error_model="numpy")
_CODE = {"bilinear": nbs.BILINEAR, "zoh": nbs.ZOH, "dirac": nbs.DIRAC}

SPLIT_MIN_STEPS = 8192  # shortest chunk worth a thread (a wake-up costs ~20 us quiet)
# Shorter rows: the row form. Measured (s5_inner zoh varying steps, 2 threads, load ~4.5,
# interleaved), time-major unsplit / row form CPU time: B8 H16 P16 L256 1.8x (slower),
# B16 H16 P16 L1024 0.96, B4 H128 P16 L2048 0.89, B4 H16 P32 L8192 0.57, B2 H16 P16 L65536 0.50.
LONG_MIN_STEPS = 2048
SPLIT_CHUNKS: int | None = None  # tests: force the chunks per batch (None: planned)
TILE_ELEMS = 4096  # T P per tile: the tile's ~12 real planes stay in L1/L2
_PIECE_ROWS = 2048  # rows of one correction task (pass 3)


def plan(Bsz: int, P: int, L: int, threads: int) -> int:
    """Chunks per batch (1: the time-major form unsplit, the batch fills the threads); 0: not
    this path (rows shorter than ``LONG_MIN_STEPS``)."""
    if Bsz < 1 or P < 1 or L < 1:
        return 0
    if SPLIT_CHUNKS is not None:
        return max(1, min(SPLIT_CHUNKS, L))
    if L < LONG_MIN_STEPS:
        return 0
    if Bsz >= threads:
        return 1
    return max(1, min(-(-threads // Bsz), L // SPLIT_MIN_STEPS))


@nbs.numba().njit(**_JIT)
def _recur_first(V, t, P, abr, abi, gmr, gmi, hr, hi):
    """V's row t ([Re | Im] of v) <- x_t = Abar h + gamma v_t, h = hr + i hi (a chunk's first
    row; the tile's planes at their row 0)."""
    for j in range(P):
        vr, vi = V[t, j], V[t, P + j]
        wr = gmr[j] * vr - gmi[j] * vi
        wi = gmr[j] * vi + gmi[j] * vr
        V[t, j] = abr[j] * hr[j] - abi[j] * hi[j] + wr
        V[t, P + j] = abr[j] * hi[j] + abi[j] * hr[j] + wi


@nbs.numba().njit(**_JIT)
def _recur_rows(V, t0, Tn, P, abr, abi, gmr, gmi):
    """V's rows t0 .. t0+Tn-1 ([Re | Im] of v) <- x_t = Abar_t x_{t-1} + gamma_t v_t in place,
    x_{t0-1} V's row t0-1; the tile's planes (Tn, P) time-major. (The first row of a chunk
    goes through ``_recur_first``: a branch or a variable start here kept LLVM's vector body
    from running, 3x slower.)"""
    for k in range(Tn):
        t = t0 + k
        o = k * P
        for j in range(P):
            i = o + j
            vr, vi = V[t, j], V[t, P + j]
            pr, pi = V[t - 1, j], V[t - 1, P + j]
            wr = gmr[i] * vr - gmi[i] * vi
            wi = gmr[i] * vi + gmi[i] * vr
            V[t, j] = abr[i] * pr - abi[i] * pi + wr
            V[t, P + j] = abr[i] * pi + abi[i] * pr + wi


@nbs.numba().njit(**_JIT)
def _decay_rows(Q, t0, Tn, P, abr, abi, tiny):
    """Q's rows t0 .. t0+Tn-1 <- Q_t = Abar_t Q_{t-1} (the product of Abar from the chunk's
    first step; that row is Abar itself, written by the caller), an entry whose parts are both
    below ``tiny`` stored as 0 (module docstring; NaN is kept)."""
    zero = tiny - tiny
    for k in range(Tn):
        t = t0 + k
        o = k * P
        for j in range(P):
            i = o + j
            pr, pi = Q[t - 1, j], Q[t - 1, P + j]
            qr = abr[i] * pr - abi[i] * pi
            qi = abr[i] * pi + abi[i] * pr
            small = (abs(qr) < tiny) & (abs(qi) < tiny)
            Q[t, j] = zero if small else qr
            Q[t, P + j] = zero if small else qi


@nbs.numba().njit(**_JIT)
def _flush_row(Q, t, P, tiny):
    """Q[t] <- 0 where |Re|, |Im| < tiny (module docstring); whether any entry is left
    non-zero (NaN counts as non-zero)."""
    live = False
    for j in range(P):
        if abs(Q[t, j]) < tiny and abs(Q[t, P + j]) < tiny:
            Q[t, j] = Q[t, j] * 0
            Q[t, P + j] = Q[t, P + j] * 0
        else:
            live = True
    return live


@_kernel
def _scan_chunks(VT, Q, dt3, dtA3, has_dtA, ArX, AiX, h0, has_h0, method, K, T, tiny,
                 Hend, Pend, live):
    """Pass 1, per (batch, chunk) in parallel: the chunk's scan in place over VT (B, L, 2P),
    from h0 (chunk 0) or zero; Q's rows for chunks >= 1. Hend (B, K, P) complex: the chunks'
    end states; Pend: Q at their ends; live (B, K): the end of each chunk's non-zero Q."""
    Bsz, L, P2 = VT.shape
    P = P2 // 2
    const = dt3.shape[2] == 1 and (not has_dtA or dtA3.shape[2] == 1)
    rdt = ArX.dtype
    m = T * P
    for unit in prange(Bsz * K):
        b, c = unit // K, unit % K
        t0c, t1c = (L * c) // K, (L * (c + 1)) // K
        V, Qb = VT[b], Q[b]
        s, sA = np.empty(m, rdt), np.empty(m, rdt)
        abr, abi, gmr, gmi = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        wx, ws, wc = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        hr, hi = np.zeros(P, rdt), np.zeros(P, rdt)
        if has_h0 and c == 0:
            for j in range(P):
                hr[j] = h0[b, j].real
                hi[j] = h0[b, j].imag
        if const:  # the first tile's rows serve every tile
            tile_steps(dt3, dtA3, has_dtA, b, 0, P, P, 0, T, s, sA)
            disc_tile(method, s, sA, has_dtA, ArX, AiX, 0, m, 1, abr, abi, gmr, gmi, wx, ws, wc)
        qlive = c > 0
        live[b, c] = t1c if c > 0 else t0c
        for t0 in range(t0c, t1c, T):
            Tn = min(T, t1c - t0)
            if not const:
                tile_steps(dt3, dtA3, has_dtA, b, 0, P, P, t0, Tn, s, sA)
                disc_tile(method, s, sA, has_dtA, ArX, AiX, 0, Tn * P, 1, abr, abi, gmr, gmi,
                          wx, ws, wc)
            k0 = 0
            if t0 == t0c:  # the chunk's first row: from h (and Q from 1)
                _recur_first(V, t0, P, abr, abi, gmr, gmi, hr, hi)
                if c > 0:
                    for j in range(P):
                        Qb[t0, j] = abr[j]
                        Qb[t0, P + j] = abi[j]
                k0 = 1
            o = k0 * P
            _recur_rows(V, t0 + k0, Tn - k0, P, abr[o:], abi[o:], gmr[o:], gmi[o:])
            if qlive:
                _decay_rows(Qb, t0 + k0, Tn - k0, P, abr[o:], abi[o:], tiny)
                qlive = _flush_row(Qb, t0 + Tn - 1, P, tiny)
                if not qlive:
                    live[b, c] = t0 + Tn
        for j in range(P):
            Hend[b, c, j] = V[t1c - 1, j] + 1j * V[t1c - 1, P + j]
            Pend[b, c, j] = 0
            if qlive:
                Pend[b, c, j] = Qb[t1c - 1, j] + 1j * Qb[t1c - 1, P + j]


@nbs.numba().njit(**_JIT)
def _incoming(Hend, Pend, last):
    """Pass 2, per batch in order of the chunks: Hend[b, c] <- the state entering chunk c
    (c >= 1); last[b] = the true final state."""
    Bsz, K, P = Hend.shape
    for b in range(Bsz):
        s = Hend[b, 0].copy()  # chunk 0 started from the true state: its end is true
        for c in range(1, K):
            for j in range(P):
                e = Hend[b, c, j]
                Hend[b, c, j] = s[j]
                s[j] = Pend[b, c, j] * s[j] + e
        for j in range(P):
            last[b, j] = s[j]


@_kernel
def _correct(VT, Q, Hin, live, K, W):
    """Pass 3: x_t += Q_t h_in over every chunk >= 1's live rows, in tasks of _PIECE_ROWS rows
    handed round-robin to W workers (the live rows sit at the chunks' starts)."""
    Bsz, L, P2 = VT.shape
    P = P2 // 2
    rdt = VT.dtype
    npc = (L + _PIECE_ROWS - 1) // _PIECE_ROWS  # (an upper bound on a chunk's pieces)
    ntask = Bsz * (K - 1) * npc
    for w in prange(W):
        hr, hi = np.empty(P, rdt), np.empty(P, rdt)
        for task in range(w, ntask, W):
            b, rest = task // ((K - 1) * npc), task % ((K - 1) * npc)
            c, piece = 1 + rest // npc, rest % npc
            r0 = (L * c) // K + piece * _PIECE_ROWS
            r1 = min(r0 + _PIECE_ROWS, live[b, c])
            if r0 >= r1:
                continue
            for j in range(P):
                hr[j] = Hin[b, c, j].real
                hi[j] = Hin[b, c, j].imag
            V, Qb = VT[b], Q[b]
            for t in range(r0, r1):
                for j in range(P):
                    qr, qi = Qb[t, j], Qb[t, P + j]
                    V[t, j] += qr * hr[j] - qi * hi[j]
                    V[t, P + j] += qr * hi[j] + qi * hr[j]


@_kernel
def _real_part(u, ur):
    """ur = Re(u) (B, H, L), contiguous; whether Im(u) has a non-zero (or NaN) entry. (A
    count, not a short-circuit ``or``: the loop stays branch-free and vectorises.)"""
    Bsz, H, L = u.shape
    counts = np.zeros(Bsz * H, np.int64)
    for row in prange(Bsz * H):
        b, h = row // H, row % H
        n = 0
        for t in range(L):
            z = u[b, h, t]
            ur[b, h, t] = z.real
            n += z.imag != 0
        counts[row] = n
    return counts.sum() > 0


_EPI_ROWS = 256  # steps per block of the epilogue: the block of y^T stays in L1


@_kernel
def _epilogue(YT, D, ur, want_imag, out_r, out_c):
    """y^T (B, L, H or 2H) -> out (B, H, L): ``out_r = y + D ur`` (D: None-free, real output),
    or ``out_c = YT[..., :H] + i YT[..., H:]`` (``want_imag``). In blocks of _EPI_ROWS steps
    (parallel), so the transposed reads stay in L1."""
    Bsz, L, HH = YT.shape
    H = HH // 2 if want_imag else HH
    nblk = (L + _EPI_ROWS - 1) // _EPI_ROWS
    for task in prange(Bsz * nblk):
        b, blk = task // nblk, task % nblk
        t0 = blk * _EPI_ROWS
        t1 = min(t0 + _EPI_ROWS, L)
        Y = YT[b]
        for h in range(H):
            if want_imag:
                for t in range(t0, t1):
                    out_c[b, h, t] = Y[t, h] + 1j * Y[t, H + h]
            else:
                d = D[h]
                for t in range(t0, t1):
                    out_r[b, h, t] = Y[t, h] + d * ur[b, h, t]


_SCRATCH = threading.local()
SCRATCH_MAX_BYTES = 1 << 26  # work buffers kept between calls, per name and thread


def _scratch(name, shape, dtype):
    """An uninitialised work array, kept per calling thread for the next call of the same
    shape and dtype: a fresh 8 MB buffer costs ~2000 page faults (the kernel zeroing it) on
    every call, as much as a pass over it."""
    dtype = np.dtype(dtype)
    cache = getattr(_SCRATCH, "arrays", None)
    if cache is None:
        cache = _SCRATCH.arrays = {}
    a = cache.get(name)
    if a is None or a.shape != shape or a.dtype != dtype:
        a = np.empty(shape, dtype)
        if a.nbytes <= SCRATCH_MAX_BYTES:
            cache[name] = a
        else:
            cache.pop(name, None)
    return a


def states(u, dt3, A, h0, dtA3, B, disc, K, threads):
    """(XT, last, ur): the states time-major (B, L, 2P) real planes [Re x_t | Im x_t], the
    final state (B, P) complex, Re(u) (B, H, L) contiguous."""
    Bsz, H, L = u.shape
    P = A.shape[0]
    rdt = dt3.dtype
    ur = _scratch("ur", (Bsz, H, L), rdt)
    has_imag = _real_part(u, ur)
    WB = np.concatenate([B.real.T, B.imag.T], axis=1).astype(rdt)  # (H, 2P)
    VT = _scratch("VT", (Bsz, L, 2 * P), rdt)
    np.matmul(np.swapaxes(ur, 1, 2), WB, out=VT)  # (B, L, 2P): BLAS reads ur transposed
    if has_imag:
        ui = np.ascontiguousarray(u.imag)
        VT += np.matmul(np.swapaxes(ui, 1, 2), np.concatenate([-B.imag.T, B.real.T], axis=1))
    T = max(8, TILE_ELEMS // P)
    ArX = np.tile(np.ascontiguousarray(A.real), T)
    AiX = np.tile(np.ascontiguousarray(A.imag), T)
    dtA, has_dtA = (dtA3, True) if dtA3 is not None else (dt3, False)
    h0_, has_h0 = (h0, True) if h0 is not None else (np.zeros((1, 1), u.dtype), False)
    Q = _scratch("Q", (Bsz, L, 2 * P), rdt) if K > 1 else np.empty((Bsz, 1, 2 * P), rdt)
    Hend = np.empty((Bsz, K, P), u.dtype)
    Pend = np.empty((Bsz, K, P), u.dtype)
    live = np.empty((Bsz, K), np.int64)
    tiny = rdt.type(np.finfo(rdt).tiny)
    _scan_chunks(VT, Q, dt3, dtA, has_dtA, ArX, AiX, h0_, has_h0, _CODE[disc], K, T, tiny,
                 Hend, Pend, live)
    last = np.empty((Bsz, P), u.dtype)
    _incoming(Hend, Pend, last)
    if K > 1:
        W = max(1, min(threads, Bsz * (K - 1) * (-(-L // _PIECE_ROWS))))
        _correct(VT, Q, Hend, live, K, W)
    return VT, last, ur


def forward(u, dt3, A, B, C, dtA3, h0, disc, K, threads):
    """(y (B, H, L) complex, last (B, P)): y^T = x^T (Re C, -Im C | Im C, Re C)^T by one real
    GEMM on x's planes (the (L, 2H) product: BLAS runs it ~2x faster than the (2H, L) one
    reading x transposed), then transposed into y."""
    XT, last, ur = states(u, dt3, A, h0, dtA3, B, disc, K, threads)
    rdt = dt3.dtype
    Bsz, H, L = u.shape
    WCT = np.concatenate([np.concatenate([C.real, -C.imag], axis=1),
                          np.concatenate([C.imag, C.real], axis=1)]).T.astype(rdt)  # (2P, 2H)
    YT = np.matmul(XT, WCT, out=_scratch("YT", (Bsz, L, 2 * H), rdt))
    y = np.empty(u.shape, u.dtype)
    _epilogue(YT, np.zeros(1, rdt), ur, True, np.empty((1, 1, 1), rdt), y)
    return y, last


def inner_forward(u, dt3, A, B, C, D, dtA3, h0, disc, scale, K, threads):
    """s5_inner's ``scale Re(C x) + D Re(u)`` (B, H, L) real: Re(C x)^T by one real GEMM on
    x's planes, then transposed with D Re(u) added."""
    XT, _, ur = states(u, dt3, A, h0, dtA3, B, disc, K, threads)
    rdt = dt3.dtype
    Bsz, H, L = u.shape
    WCT = (np.concatenate([C.real, -C.imag], axis=1) * scale).T.astype(rdt)  # (2P, H)
    YT = np.matmul(XT, WCT, out=_scratch("YT", (Bsz, L, H), rdt))
    out = np.empty((Bsz, H, L), rdt)
    _epilogue(YT, D, ur, False, out, np.empty((1, 1, 1), u.dtype))
    return out
