"""Array-API diagonal scan: the CPU fast path and the portable GPU fallback.

Two strategies, chosen by shape (measured on a 2-core CI-class machine, float32):

* ``loop``: a Python loop over time on a time-major copy, vectorised over rows. Each step is two
  ufunc calls on a contiguous row of R elements. NumPy ufuncs release the GIL, so row blocks run
  on threads (one per core): (4096 rows, L=1024) takes ~36 ms, 15x one ``a*b+b`` pass.
* ``chunked``: for few rows and long L the loop is overhead-bound (~2 us per step whatever R),
  so time is cut into C chunks of T ~ sqrt(L) steps: a loop over T scans all chunks at once from
  zero state while tracking the running gate product, a loop over C carries the chunk-end states,
  and one elementwise pass adds ``prod(a) * carry``. About 2*sqrt(L) steps instead of L, and no
  division by gate products (safe for tiny or zero gates).

The choice is by shape and working set: the chunked form runs in L-blocks of about
``_BLOCK_ELEMS`` elements (its ~7 working arrays stay in L2 whatever the size; unblocked, 16 x
65536 cost 14x 16 x 16384 and 256 x 4096 ran 2-3x slower than the loop), and it is taken for few
rows (``_CHUNKED_MAX_ROWS``) or long sequences (``_CHUNKED_ALWAYS_L``); elsewhere the loop's
rows are long enough to amortise its per-step overhead. Both run row blocks on threads from
``_THREAD_MIN_ROWS`` rows.
"""

from __future__ import annotations

import math

from ..._backend import is_numpy
from .._shared.threads import get_pool as _get_pool
from .._shared.threads import threads as _threads

_CHUNKED_MAX_ROWS = 256
_CHUNKED_MIN_L = 512
# From this length the (L-blocked) chunked form wins at any row count (float32, 2 cores, load
# ~3: 1024 x 4096 86 vs 147 ms, 2048 x 4096 157 vs 281 ms, 1024 x 16384 156 vs 358 ms); below
# it, with many rows, the loop's long rows amortise its per-step cost (512 x 1024: 8.6 vs 14).
_CHUNKED_ALWAYS_L = 4096
_THREAD_MIN_ROWS = 1024


def _time_major(xp, x, R: int, L: int):
    """(R, L) -> a fresh contiguous (L, R) array (always a copy: callers write into it)."""
    out = xp.empty((L, R), dtype=x.dtype)
    out[...] = xp.permute_dims(x, (1, 0))
    return out


def _loop(xp, aT, h0, reverse: bool, out):
    """In-place scan of time-major ``out`` (L, r), which holds b on entry, with gates ``aT``.

    One multiply and one in-place add per step: the fewest passes the array API allows.
    """
    L = out.shape[0]
    first, steps = (L - 1, range(L - 2, -1, -1)) if reverse else (0, range(1, L))
    out[first, ...] += aT[first, ...] * h0
    prev = first
    for t in steps:
        out[t, ...] += aT[t, ...] * out[prev, ...]
        prev = t


def scan_rows(xp, a, b, h0, *, reverse: bool = False):
    """Scan (R, L) arrays ``a``, ``b`` (already of the output dtype) from ``h0`` (R,) or None."""
    R, L = b.shape
    dtype = b.dtype
    if h0 is None:
        h0 = xp.zeros((R,), dtype=dtype)
    if R == 0 or L == 0:
        return xp.zeros((R, L), dtype=dtype)
    chunked = L >= _CHUNKED_MIN_L and (R <= _CHUNKED_MAX_ROWS or L >= _CHUNKED_ALWAYS_L)
    run = _chunked if chunked else _scan_block
    nt = _threads() if (is_numpy(xp) and R >= _THREAD_MIN_ROWS) else 1
    if nt == 1:
        return run(xp, a, b, h0, reverse)
    # Row blocks on threads, transposes included (they are half the work).
    edges = [R * i // nt for i in range(nt + 1)]
    futs = [
        _get_pool().submit(run, xp, a[lo:hi, ...], b[lo:hi, ...], h0[lo:hi], reverse)
        for lo, hi in zip(edges[:-1], edges[1:])
    ]
    return xp.concat([f.result() for f in futs], axis=0)


def _scan_block(xp, a, b, h0, reverse):
    R, L = b.shape
    aT, out = _time_major(xp, a, R, L), _time_major(xp, b, R, L)
    _loop(xp, aT, h0, reverse, out)
    return xp.permute_dims(out, (1, 0))


# Elements (rows x steps) of one L-block of the chunked path: its ~7 working arrays of this size
# stay in L2 (4 MiB per core on the measured machine). One unblocked pass over 16 x 65536 took
# 14x the time of 16 x 16384 (48 vs 3.4 ms) once the arrays spilled out of cache.
_BLOCK_ELEMS = 1 << 16


def _chunked(xp, a, b, h0, reverse: bool):
    """The chunked scan in L-blocks of about ``_BLOCK_ELEMS`` elements, each block starting
    from the last state of the one before (sequential in L; every block is cache-sized)."""
    R, L = b.shape
    Lb = max(_CHUNKED_MIN_L, _BLOCK_ELEMS // max(R, 1))
    if L <= Lb + Lb // 2:
        return _chunked_block(xp, a, b, h0, reverse)
    if reverse:
        a, b = xp.flip(a, axis=1), xp.flip(b, axis=1)
    out = xp.empty((R, L), dtype=b.dtype)
    s = h0
    for l0 in range(0, L, Lb):
        l1 = min(L, l0 + Lb)
        blk = _chunked_block(xp, a[:, l0:l1], b[:, l0:l1], s, False)
        out[:, l0:l1] = blk
        s = blk[:, l1 - l0 - 1]
    return xp.flip(out, axis=1) if reverse else out


def _chunked_block(xp, a, b, h0, reverse: bool):
    R, L = b.shape
    if reverse:
        a, b = xp.flip(a, axis=1), xp.flip(b, axis=1)
    T = max(1, int(math.isqrt(L)))
    C = -(-L // T)
    pad = C * T - L
    if pad:
        # Identity padding (a=1, b=0) at the end leaves the real outputs untouched.
        a = xp.concat([a, xp.ones((R, pad), dtype=a.dtype)], axis=1)
        b = xp.concat([b, xp.zeros((R, pad), dtype=b.dtype)], axis=1)
    # (T, R*C) time-major within chunks: element (t, r*C + c) is time c*T + t of row r.
    a3 = xp.reshape(xp.permute_dims(xp.reshape(a, (R * C, T)), (1, 0)), (T * R * C,))
    b3 = xp.reshape(xp.permute_dims(xp.reshape(b, (R * C, T)), (1, 0)), (T * R * C,))
    a3, b3 = xp.reshape(a3, (T, R * C)), xp.reshape(b3, (T, R * C))
    local = xp.empty((T, R * C), dtype=b.dtype)
    prod = xp.empty((T, R * C), dtype=b.dtype)
    h = xp.zeros((R * C,), dtype=b.dtype)
    p = xp.ones((R * C,), dtype=b.dtype)
    for t in range(T):
        h = a3[t, ...] * h + b3[t, ...]
        p = a3[t, ...] * p
        local[t, ...] = h
        prod[t, ...] = p
    # Carry across chunks: state entering chunk c.
    last_h = xp.reshape(local[T - 1, ...], (R, C))
    last_p = xp.reshape(prod[T - 1, ...], (R, C))
    carry = xp.empty((R, C), dtype=b.dtype)
    s = h0
    for c in range(C):
        carry[:, c] = s
        s = last_p[:, c] * s + last_h[:, c]
    full = local + prod * xp.reshape(carry, (1, R * C))
    out = xp.reshape(xp.permute_dims(xp.reshape(full, (T, R, C)), (1, 2, 0)), (R, C * T))
    out = out[:, :L]
    return xp.flip(out, axis=1) if reverse else out


# ---------------------------------------------------------------------------------------------
# Constant gate per row: h_t = lam * h_{t-1} + b_t. With a constant gate a chunk of T steps is
# one matmul with the Toeplitz matrix M[s, t] = lam^(t-s) (t >= s), and the chunk-end states form
# a scan of the same kind with gate lam^T, solved recursively: ~log_T(L) levels of matmuls and
# elementwise passes instead of L Python steps. Measured float32 on a 2-core machine (T=16):
# (8, 65536) 1.6 ms vs 14 ms for the loop and 3.0 ms for scipy.signal.lfilter per row;
# (1024, 4096) 14 ms vs 27 ms loop, 29 ms lfilter; (16384, 2048) 110 ms vs 200 ms loop. Below
# L = 2048 with many rows the threaded loop wins (4096 x 1024: 27 ms vs 22 ms), hence the L limit.
# T = 16 beats 32 and 64 at every measured shape (fewer MACs: R*L*T).
_TOEPLITZ_MIN_L = 2048
_TOEPLITZ_T = 16


def scan_rows_const(xp, lam, b, h0, *, reverse: bool = False):
    """Scan (R, L) ``b`` with a constant gate ``lam`` (R,) per row from ``h0`` (R,) or None."""
    R, L = b.shape
    if L >= _TOEPLITZ_MIN_L:
        if h0 is None:
            h0 = xp.zeros((R,), dtype=b.dtype)
        if reverse:
            return xp.flip(_toeplitz_scan(xp, lam, xp.flip(b, axis=1), h0), axis=1)
        return _toeplitz_scan(xp, lam, b, h0)
    a = xp.broadcast_to(xp.reshape(lam, (R, 1)), (R, L))
    return scan_rows(xp, a, b, h0, reverse=reverse)


def _toeplitz_scan(xp, lam, b, h0):
    R, L = b.shape
    T = _TOEPLITZ_T
    if L <= T:
        out = xp.empty((R, L), dtype=b.dtype)
        h = h0
        for t in range(L):
            h = lam * h + b[:, t]
            out[:, t] = h
        return out
    C = -(-L // T)
    if C * T > L:
        b = xp.concat([b, xp.zeros((R, C * T - L), dtype=b.dtype)], axis=1)
    pw = xp.empty((R, T + 1), dtype=b.dtype)  # lam^0 .. lam^T
    pw[:, 0] = xp.ones((R,), dtype=b.dtype)
    for k in range(1, T + 1):
        pw[:, k] = pw[:, k - 1] * lam
    ar = xp.arange(T)
    lag = xp.reshape(ar, (1, T)) - xp.reshape(ar, (T, 1))  # t - s
    upper = lag >= 0
    M = xp.reshape(xp.take(pw, xp.reshape(xp.where(upper, lag, 0), (T * T,)), axis=1), (R, T, T))
    M = xp.where(upper, M, xp.zeros((), dtype=b.dtype))
    local = xp.matmul(xp.reshape(b, (R, C, T)), M)  # chunk scans from a zero state
    ends = _toeplitz_scan(xp, pw[:, T], local[:, :, T - 1], h0)  # state after each chunk
    entering = xp.concat([xp.reshape(h0, (R, 1)), ends[:, : C - 1]], axis=1)
    h = local + xp.reshape(pw[:, 1:], (R, 1, T)) * xp.reshape(entering, (R, C, 1))
    return xp.reshape(h, (R, C * T))[:, :L]


def forward(xp, a, b, h0, *, reverse: bool):
    """h for (R, L) rows ``b``; ``a`` is (R, L) or (R, 1) (a constant gate per row)."""
    if a.shape[-1] == 1:
        return scan_rows_const(xp, a[:, 0], b, h0, reverse=reverse)
    return scan_rows(xp, a, b, h0, reverse=reverse)


def _conj(xp, x):
    return xp.conj(x) if xp.isdtype(x.dtype, "complex floating") else x


def backward(xp, g, a, b, h0, dlast, *, reverse: bool):
    """(da, db, dh0) of the scan for (R, L) rows; ``a`` is (R, L) or (R, 1) (a constant gate).

    With lam_t = g_t + conj(a_{t+1}) lam_{t+1} (a reverse scan with gates shifted by one):
    db = lam, da = lam conj(h_{t-1}), dh0 = conj(a_0) lam_0; nothing is divided by ``a``.
    ``da`` is returned at the full (R, L) shape.
    """
    R, L = b.shape
    const = a.shape[-1] == 1
    a = xp.broadcast_to(a, b.shape)
    if const:
        h = scan_rows_const(xp, a[:, 0], b, h0, reverse=reverse)
    else:
        h = scan_rows(xp, a, b, h0, reverse=reverse)
    zero = xp.zeros((R, 1), dtype=a.dtype)
    h_init = _col(xp, h0, R, a.dtype)
    # The adjoint scan runs the other way, gated by the neighbour that comes next in scan order
    # (for a constant gate that is the same gate, except a zero beyond the last step).
    last = 0 if reverse else L - 1
    g = g if dlast is None else _add_at(xp, g, dlast, last)
    if const:
        lam = scan_rows_const(xp, _conj(xp, a[:, 0]), g, None, reverse=not reverse)
    elif reverse:
        gates = _conj(xp, xp.concat([zero, a[:, :-1]], axis=1))
        lam = scan_rows(xp, gates, g, None, reverse=False)
    else:
        gates = _conj(xp, xp.concat([a[:, 1:], zero], axis=1))
        lam = scan_rows(xp, gates, g, None, reverse=True)
    if reverse:
        h_prev = xp.concat([h[:, 1:], h_init], axis=1)
        lam_first, a_first = lam[:, L - 1], a[:, L - 1]
    else:
        h_prev = xp.concat([h_init, h[:, :-1]], axis=1)
        lam_first, a_first = lam[:, 0], a[:, 0]
    da = lam * _conj(xp, h_prev)
    dh0 = None if h0 is None else _conj(xp, a_first) * lam_first
    return da, lam, dh0


def _col(xp, h0, R, dtype):
    return xp.zeros((R, 1), dtype=dtype) if h0 is None else xp.reshape(h0, (R, 1))


def _add_at(xp, g, v, t):
    """g with v added to column t (a copy)."""
    out = xp.asarray(g, copy=True)
    out[:, t] = out[:, t] + v
    return out
