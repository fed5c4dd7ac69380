"""CuPy launchers for raw_kernels/s7_scan.cu: per-(batch, n) scan + contraction over n."""

from __future__ import annotations

import numpy as np

from ..._cuda import ctype, get_function

SOURCE = "s7_scan"
NAME_EXPRESSIONS = tuple(
    f"lrnnx_s7_scan_{kind}<{ct}>"
    for kind in ("fwd", "contract", "bwd") for ct in ("float", "double")
)
_THREADS = 128


def _fn(kind, dt):
    return get_function(SOURCE, f"lrnnx_s7_scan_{kind}<{ctype(dt)}>", NAME_EXPRESSIONS)


def _contract(cp, M, v, Bsz, H, N, L, sMh, sMn):
    out = cp.empty((Bsz, H, L), dtype=v.dtype)
    total = Bsz * H * L
    if total == 0:
        return out
    blocks = int(min(-(-total // _THREADS), 65535 * 8))
    with v.device:
        _fn("contract", v.dtype)((blocks,), (_THREADS,), (M, v, out, np.int64(Bsz), np.int64(H),
                                                          np.int64(N), np.int64(L), np.int64(sMh),
                                                          np.int64(sMn)))
    return out


def _states(cp, u, A, B, bias, h0):
    Bsz, H, L = u.shape
    N = A.shape[1]
    dt = u.dtype
    s = cp.empty((Bsz, N, L), dtype=dt)
    last = cp.empty((Bsz, N), dtype=dt)
    if Bsz * N:
        with u.device:
            _fn("fwd", dt)((Bsz * N,), (_THREADS,), (
                u, A, B, bias if bias is not None else u, h0 if h0 is not None else u, s, last,
                np.int64(Bsz), np.int64(H), np.int64(N), np.int64(L),
                np.int32(bias is not None), np.int32(h0 is not None)))
    return s, last


def _contig(cp, dt, *xs):
    return [None if x is None else cp.ascontiguousarray(x, dtype=dt) for x in xs]


def s7_scan_fwd_cuda(u, A, B, C, bias, h0):
    """(y, last, s) with the states s (batch, N, L) as the residual for the backward."""
    import cupy as cp

    # Allocations, module load and launches all on the inputs' device (not the current one).
    with u.device:
        u, A, B, C, bias, h0 = _contig(cp, u.dtype, u, A, B, C, bias, h0)
        Bsz, H, L = u.shape
        N = A.shape[1]
        s, last = _states(cp, u, A, B, bias, h0)
        y = _contract(cp, C, s, Bsz, H, N, L, N * L, L)
    return y, last, s


def s7_scan_bwd_cuda(dout, u, A, B, C, bias, h0, dlast):
    """(du, dA, dB, dC, dbias, dh0)."""
    import cupy as cp

    with u.device:
        dout, u, A, B, C, bias, h0, dlast = _contig(cp, u.dtype, dout, u, A, B, C, bias, h0,
                                                    dlast)
        Bsz, H, L = u.shape
        N = A.shape[1]
        dt = u.dtype
        s, _ = _states(cp, u, A, B, bias, h0)
        dA = cp.empty_like(A)
        dB = cp.empty_like(B)
        dC = cp.empty_like(C)
        lam = cp.empty((Bsz, N, L), dtype=dt)
        dh0 = cp.empty((Bsz, N), dtype=dt) if h0 is not None else None
        if Bsz * N:
            _fn("bwd", dt)((Bsz * N,), (_THREADS,), (
                u, A, C, s, h0 if h0 is not None else u, dout, dlast if dlast is not None else u,
                dA, dB, dC, lam, dh0 if dh0 is not None else lam,
                np.int64(Bsz), np.int64(H), np.int64(N), np.int64(L),
                np.int32(h0 is not None), np.int32(dlast is not None)))
        else:
            dC[...] = 0
        du = _contract(cp, B, lam, Bsz, H, N, L, L, H * L)
    return du, dA, dB, dC, (lam if bias is not None else None), dh0


# The dispatch entries (canonical arrays in the compute dtype).


def forward(xp, u, A, B, C, bias, h0):
    y, last, _ = s7_scan_fwd_cuda(u, A, B, C, bias, h0)
    return y, last


def backward(xp, dout, u, A, B, C, bias, h0, dlast):
    return s7_scan_bwd_cuda(dout, u, A, B, C, bias, h0, dlast)
