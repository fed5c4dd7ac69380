"""numba selective scan forward with rows split over time: for fewer rows than threads.

``_numba._fwd`` runs one row per thread, so at one (batch, channel) row of L = 65536 one core
works and the other waits. Here each row is cut into K chunks of consecutive steps. The
recurrence h_t = Abar_t h_{t-1} + b_t is linear, so the state inside chunk c is
h_t = h_t^loc + Q_t h_in, with h^loc the chunk's own scan from a zero state, Q_t the product of
Abar from the chunk's first step through t, and h_in the true state entering the chunk:

1. per (row, chunk), in parallel: the chunk's scan from zero (chunk 0 from h0: it is exact),
   its y (before the z gate), Q at the chunk's end and at the starts of its correction pieces;
2. per row, sequentially (K steps of N): h_in of every chunk and the last state;
3. per (row, chunk >= 1, piece), in parallel: the correction y_t += Re(C_t Q_t h_in), then
   the z gate.

Pass 1 keeps W_t = C_t Q_t (N values a step) of each later chunk's first ``S`` tiles, so there
the correction is y_t += Re(sum_n W_tn h_in,n): two FMAs per element on stored data, where
recomputing Q cost a complex exponential per element, as much as the scan (the live head of a
correction is long when Re(A) is small: ~5600 steps at Re(A) = -1/2 in float32, the whole
chunk in float64). S is capped by ``SPLIT_STORE_BYTES``; past it, the correction runs as the
recurrence q_t = Abar_t q_{t-1} from the piece's start (Abar recomputed by the tile helpers,
every discretization), y_t += Re(C_t q_t).

Q is a product of |Abar| < 1 factors: it decays into the subnormal range, where a product
with Abar > 1/2 rounds back to the smallest subnormal for ever (never 0) and every multiply
costs ~100 cycles. Subnormal products start well before Q itself is subnormal: Re(Q) Im(Abar)
with a small Im(Abar) (or a small part of C) falls below the smallest normal while |Q| is still
~1e-35, and over those last orders of magnitude the product and W cost ~1.2 ms at one complex64
row of L = 65536 (a fifth of the whole split). So after each tile an entry of Q whose real and
imaginary parts are both below sqrt(tiny) (tiny: the smallest normal; 2^-63 in float32,
2^-511 in float64) is flushed to 0, in pass 1 and again in pass 3's recurrence: the h_in
contribution it carries is below 2^-63 |C| |h_in| (float32; 2^-511 in float64), ~12 orders of
magnitude under the rounding of the scan itself (2^-24; 2^-53). Once every entry of a chunk's
(or a piece's) Q is 0 the rest of its correction is exactly 0 (a recurrence without input
stays 0; pass 1 stops the product and the stores there), and only the z gate is applied. With
a non-finite h_in the zeros are not skipped: 0 h_in is NaN there, as in the recurrence (inf and
NaN propagate as in the unsplit scan).

The split path is chosen by :func:`plan`; tests force it on small sizes through
``SPLIT_CHUNKS`` / ``SPLIT_PIECES`` / ``SPLIT_MIN_STEPS``, and the recurrence past the stored
head through ``SPLIT_STORE_BYTES``.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs
from ._numba_tiles import _disc_tile, _dot_tile, _scan_tile, _steps_tile

_kernel = nbs.kernel()
prange = nbs.numba().prange
_TT = 64  # steps per tile (as ``_numba._fwd``)
_M = nbm.helpers()
_vsigmoid, _one, _zero = _M["sigmoid"], _M["one_of"], _M["zero_of"]

SPLIT_MIN_STEPS = 8192  # shortest chunk worth a thread (a wake-up costs ~20 us quiet)
SPLIT_CHUNKS: int | None = None  # tests: force the chunks per row (None: planned)
SPLIT_PIECES: int | None = None  # tests: force the correction pieces per chunk
SPLIT_STORE_BYTES = 64 << 20  # cap on pass 1's stored C_t Q_t (W) over all rows and chunks


def plan(rows: int, L: int, threads: int) -> tuple[int, int]:
    """(K chunks per row, J correction pieces per chunk); K = 1: the unsplit kernels."""
    if SPLIT_CHUNKS is not None:
        K = SPLIT_CHUNKS
    elif rows == 0 or rows >= threads:
        return 1, 1
    else:
        K = min(-(-threads // rows), L // SPLIT_MIN_STEPS)
    if K <= 1:
        return 1, 1
    # Pieces: 4 per worker, taken round-robin (the live part of a correction is short).
    J = SPLIT_PIECES if SPLIT_PIECES is not None else 4 * -(-threads // (rows * (K - 1)))
    return K, max(1, J)


@nbs.numba().njit(cache=True, error_model="numpy")
def _prod_tile(T, N, ab, P):
    """P[n] <- P[n] * Abar over the tile's T steps (the chunk's running product Q)."""
    for k in range(T):
        for n in range(N):
            P[n] = P[n] * ab[k * N + n]


@nbs.numba().njit(cache=True, error_model="numpy")
def _prodw_tile(T, N, ab, P, qs, Cc, Cv, cvar, b, g, d, t0, W, off):
    """P <- P * Abar over the tile's steps as :func:`_prod_tile`, keeping
    W[off + k N + n] = C[t0 + k, n] Q_t[n] (qs: scratch for Q_t)."""
    for k in range(T):
        for n in range(N):
            P[n] = P[n] * ab[k * N + n]
            qs[k * N + n] = P[n]
    if cvar:
        for n in range(N):  # over a row view of C (unit stride), as _gather_tile
            row = Cv[b, g, n, t0:t0 + T]
            for k in range(T):
                W[off + k * N + n] = row[k] * qs[k * N + n]
    else:
        for k in range(T):
            for n in range(N):
                W[off + k * N + n] = Cc[d, n] * qs[k * N + n]


@nbs.numba().njit(cache=True, error_model="numpy")
def _wdot_tile(T, N, W, off, hin, ys):
    """ys[k] = sum_n Re(W[off + k N + n] h_in[n]): the stored head's correction (four partial
    sums, as _dot_tile)."""
    n4 = N - N % 4
    for k in range(T):
        j = off + k * N
        a0 = a1 = a2 = a3 = _zero(hin[0]).real
        for n in range(0, n4, 4):
            a0 += (W[j + n] * hin[n]).real
            a1 += (W[j + n + 1] * hin[n + 1]).real
            a2 += (W[j + n + 2] * hin[n + 2]).real
            a3 += (W[j + n + 3] * hin[n + 3]).real
        for n in range(n4, N):
            a0 += (W[j + n] * hin[n]).real
        ys[k] = (a0 + a1) + (a2 + a3)


@nbs.numba().njit(cache=True, error_model="numpy")
def _flush(P, N, tiny):
    """P[n] <- 0 where |Re|, |Im| < tiny (the caller's threshold: the forward's is the square
    root of the smallest normal, module docstring); returns whether any entry is left non-zero
    (NaN counts as non-zero)."""
    live = False
    for n in range(N):
        p = P[n]
        if abs(p.real) < tiny and abs(p.imag) < tiny:
            P[n] = p * 0
        else:
            live = True
    return live


@nbs.numba().njit(cache=True, error_model="numpy")
def _decay_tile(T, N, ab, p, hin, qs):
    """p <- Abar_t p over the tile's steps (Q, the recurrence without input);
    qs[k N + n] = p hin (the correction q_t = Q_t h_in)."""
    for k in range(T):
        for n in range(N):
            p[n] = ab[k * N + n] * p[n]
            qs[k * N + n] = p[n] * hin[n]


@nbs.numba().njit(cache=True, error_model="numpy")
def _gate_tile(T, z, b, d, t0, out):
    """out[b, d, t0 + k] *= z silu(z) gate for the tile's steps."""
    for k in range(T):
        zt = z[b, d, t0 + k]
        out[b, d, t0 + k] *= zt * _vsigmoid(zt)


@_kernel
def _fwd_split(u, delta, A, lnA, Bc, Bv, Cc, Cv, Dv, z, bias, dA_, h0, out, last,
               flags, method, G, K, J, W, Hin, Pend, Pmid, Wst, S, nst, tiny):
    """``_numba._fwd`` with every row cut into K chunks (module docstring). Work buffers:
    Hin (R, K, N) the chunks' local end states, then their incoming states; Pend (R, K, N)
    Q at each chunk's end; Pmid (R, K, J, N) Q where each correction piece's recurrence
    starts (its first tile, or tile S); Wst (R, K - 1, S T N) C_t Q_t of chunk c's first S
    tiles (chunk c at [., c - 1]) and nst (R, K) how many of them are stored (the rest, up to
    S, have Q = 0). W: pass 3's workers."""
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    Dg = Dm // G
    bvar, cvar, hasD, hasz, hasb, hasdA, hash0, sp, cplx = flags
    rdt = u.dtype
    TN = _TT * N
    R = Bsz * Dm
    for task in prange(R * K):  # pass 1: every chunk's scan from its own start
        row, c = task // K, task % K
        b, d = row // Dm, row % Dm
        g = d // Dg
        t0c, t1c = (L * c) // K, (L * (c + 1)) // K
        ntc = (t1c - t0c + _TT - 1) // _TT
        h, P = np.zeros(N, A.dtype), np.ones(N, A.dtype)
        ab, gm, hs = np.empty(TN, A.dtype), np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        qs = np.empty(TN, A.dtype)
        wx, ws, wc = np.empty(TN, rdt), np.empty(TN, rdt), np.empty(TN, rdt)
        dts, dtAs = np.empty(_TT, rdt), np.empty(_TT, rdt)
        us, ys = np.empty(_TT, rdt), np.empty(_TT, rdt)
        if hash0 and c == 0:
            for n in range(N):
                h[n] = h0[b, d, n]
        j = 0
        live = c > 0  # Q of this chunk still has a non-zero entry
        nst[row, c] = 0
        for i in range(ntc):
            while j < J and max((ntc * j) // J, S) == i:  # piece j's recurrence starts here
                for n in range(N):
                    Pmid[row, c, j, n] = P[n]
                j += 1
            t0 = t0c + i * _TT
            T = min(_TT, t1c - t0)
            _steps_tile(delta, bias, dA_, b, d, t0, T, hasb, sp, hasdA, dts, dtAs)
            for k in range(T):
                us[k] = u[b, d, t0 + k]
            _disc_tile(method, A, lnA, d, dts, dtAs, T, ab, gm, wx, ws, wc)
            _scan_tile(T, N, ab, gm, us, Bc, Bv, bvar, b, g, d, t0, h, hs)
            if live:  # (once Q is 0 it stays 0: the module docstring)
                if i < S:
                    _prodw_tile(T, N, ab, P, qs, Cc, Cv, cvar, b, g, d, t0, Wst[row, c - 1],
                                i * TN)
                    nst[row, c] = i + 1
                else:
                    _prod_tile(T, N, ab, P)
                live = _flush(P, N, tiny)
            _dot_tile(T, N, hs, Cc, Cv, cvar, b, g, d, t0, ys)
            for k in range(T):
                y = 2 * ys[k] if cplx else ys[k]
                out[b, d, t0 + k] = y + Dv[d] * us[k] if hasD else y
            if hasz and c == 0:  # later chunks: the gate after their correction
                _gate_tile(T, z, b, d, t0, out)
        while j < J:  # pieces whose recurrence starts past the chunk's last tile (none runs)
            for n in range(N):
                Pmid[row, c, j, n] = P[n]
            j += 1
        for n in range(N):
            Hin[row, c, n] = h[n]
            Pend[row, c, n] = P[n]
    for row in range(R):  # pass 2: the incoming states, chunk after chunk
        s = Hin[row, 0].copy()  # chunk 0 started from the true state: its end is true
        for c in range(1, K):
            for n in range(N):
                e = Hin[row, c, n]
                Hin[row, c, n] = s[n]
                s[n] = Pend[row, c, n] * s[n] + e
        for n in range(N):
            last[row // Dm, row % Dm, n] = s[n]
    KJ = (K - 1) * J
    # pass 3: the corrections Re(C_t Q_t h_in), then the gate. The live part of a correction
    # is at its chunk's start (Q decays), so W workers take the pieces round-robin (worker w:
    # pieces w, w + W, ...), not in contiguous blocks where one worker would get it all.
    for w in prange(W):
        p, hin = np.empty(N, A.dtype), np.empty(N, A.dtype)
        ab, gm, qs = np.empty(TN, A.dtype), np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        wx, ws, wc = np.empty(TN, rdt), np.empty(TN, rdt), np.empty(TN, rdt)
        dts, dtAs, ys = np.empty(_TT, rdt), np.empty(_TT, rdt), np.empty(_TT, rdt)
        for task in range(w, R * KJ, W):
            row, rest = task // KJ, task % KJ
            c, j = 1 + rest // J, rest % J
            b, d = row // Dm, row % Dm
            g = d // Dg
            t0c, t1c = (L * c) // K, (L * (c + 1)) // K
            ntc = (t1c - t0c + _TT - 1) // _TT
            finite = True
            for n in range(N):
                p[n] = Pmid[row, c, j, n]
                hin[n] = Hin[row, c, n]
                finite = finite and np.isfinite(hin[n])
            # Past the stored tiles Q = 0: the correction is 0 h_in, NaN for a non-finite h_in
            dead = _zero(ys[0])
            for n in range(N):
                dead += (hin[n] * _zero(hin[n])).real
            live = True
            for i in range((ntc * j) // J, (ntc * (j + 1)) // J):
                t0 = t0c + i * _TT
                T = min(_TT, t1c - t0)
                if i < S:
                    if i < nst[row, c]:
                        _wdot_tile(T, N, Wst[row, c - 1], i * TN, hin, ys)
                        for k in range(T):
                            out[b, d, t0 + k] += 2 * ys[k] if cplx else ys[k]
                    elif not finite:
                        for k in range(T):
                            out[b, d, t0 + k] += dead
                else:
                    if live and finite:
                        live = _flush(p, N, tiny)
                    if live:
                        _steps_tile(delta, bias, dA_, b, d, t0, T, hasb, sp, hasdA, dts,
                                    dtAs)
                        _disc_tile(method, A, lnA, d, dts, dtAs, T, ab, gm, wx, ws, wc)
                        _decay_tile(T, N, ab, p, hin, qs)
                        _dot_tile(T, N, qs, Cc, Cv, cvar, b, g, d, t0, ys)
                        for k in range(T):
                            out[b, d, t0 + k] += 2 * ys[k] if cplx else ys[k]
                if hasz:
                    _gate_tile(T, z, b, d, t0, out)


def store_tiles(R: int, K: int, L: int, N: int, itemsize: int) -> int:
    """S: the tiles of each later chunk whose C_t Q_t pass 1 keeps (``SPLIT_STORE_BYTES``)."""
    most = (L // K + 1 + _TT - 1) // _TT  # the longest chunk's tiles
    per_tile = R * (K - 1) * _TT * N * itemsize
    return max(0, min(most, SPLIT_STORE_BYTES // max(1, per_tile)))


def forward_split(arrays, flags, method_code, G, out, last, K, J):
    """Run :func:`_fwd_split` on ``_numba._args``' arrays into ``out`` / ``last``."""
    u, A = arrays[0], arrays[2]
    Bsz, Dm, L = u.shape
    R, N = Bsz * Dm, A.shape[1]
    Hin = np.empty((R, K, N), A.dtype)
    Pend = np.empty((R, K, N), A.dtype)
    Pmid = np.empty((R, K, J, N), A.dtype)
    S = store_tiles(R, K, L, N, A.dtype.itemsize)
    Wst = np.empty((R, K - 1, S * _TT * N), A.dtype)  # (touched only where Q is live)
    nst = np.empty((R, K), np.int64)
    tiny = u.dtype.type(np.sqrt(np.finfo(u.dtype).tiny))  # the flush threshold (docstring)
    W = max(1, min(nbs.numba().get_num_threads(), R * (K - 1) * J))
    _fwd_split(*arrays, out, last, flags, method_code, G, K, J, W, Hin, Pend, Pmid, Wst, S,
               nst, tiny)
