"""CuPy launchers for raw_kernels/cauchy.cu (forward over node tiles, backward over node chunks)."""

from __future__ import annotations

import numpy as np

from ..._cuda import ctype, get_function

SOURCE = "cauchy"
NAME_EXPRESSIONS = tuple(
    f"lrnnx_cauchy_{kind}<{ct}>" for kind in ("fwd", "bwd")
    for ct in ("complex<float>", "complex<double>")
)
_THREADS, _ITEMS = 256, 4  # must match kThreads / kItems in cauchy.cu
_BWD_THREADS, _BWD_CHUNK = 256, 2048  # 32 * kBwdWarps, kBwdChunk


def _fwd(cp, v, z, w, mode):
    B, N = v.shape
    L = z.shape[0]
    dt = v.dtype
    # Allocations, module load and launch all on the inputs' device (not the current one).
    with v.device:
        out = cp.zeros((B, L), dtype=dt)
        if B == 0 or L == 0 or N == 0:
            return out
        v, z, w = (cp.ascontiguousarray(a, dtype=dt) for a in (v, z, w))
        ntiles = -(-L // (_THREADS * _ITEMS))
        fn = get_function(SOURCE, f"lrnnx_cauchy_fwd<{ctype(dt)}>", NAME_EXPRESSIONS)
        fn((B * ntiles,), (_THREADS,), (v, z, w, out, np.int64(B), np.int64(N), np.int64(L),
                                        np.int32(mode)))
    return out


def cauchy_cuda(v, z, w):
    """v, w: (B, N) complex CuPy arrays; z: (L,) of the same dtype. Returns (B, L)."""
    import cupy as cp

    return _fwd(cp, v, z, w, 0)


def cauchy_bwd_cuda(g, v, z, w, need_dz=True):
    """(dv (B, N), dz (L,) or None, dw (B, N)) for cotangent g (B, L)."""
    import cupy as cp

    B, N = v.shape
    L = z.shape[0]
    dt = v.dtype
    dz = None
    with v.device:
        if B == 0 or L == 0 or N == 0:
            zero = cp.zeros((B, N), dtype=dt)
            return zero, (cp.zeros((L,), dtype=dt) if need_dz else None), zero.copy()
        g, v, z, w = (cp.ascontiguousarray(a, dtype=dt) for a in (g, v, z, w))
        nchunks = -(-L // _BWD_CHUNK)
        ntn = -(-N // 32)
        pdv = cp.empty((B, nchunks, N), dtype=dt)
        ps2 = cp.empty((B, nchunks, N), dtype=dt)
        fn = get_function(SOURCE, f"lrnnx_cauchy_bwd<{ctype(dt)}>", NAME_EXPRESSIONS)
        fn((B * ntn * nchunks,), (_BWD_THREADS,),
           (g, z, w, pdv, ps2, np.int64(B), np.int64(N), np.int64(L)))
        dv = pdv.sum(axis=1) if nchunks > 1 else pdv[:, 0, :]
        s2 = ps2.sum(axis=1) if nchunks > 1 else ps2[:, 0, :]
        dw = cp.conj(v) * s2
        if need_dz:
            S = _fwd(cp, v, z, w, 1)  # sum_n v r1^2 + conj(v) r2^2
            dz = -(g * cp.conj(S)).sum(axis=0)
    return dv, dz, dw


# ---- canonical adapters (the functions SPEC.get("cuda", ...) returns) --------------------------


def _flat_rows(cp, v, w):
    """Grouped v (Rw, M, N) and shared w (Rw, N) as the launchers' matching (Rw * M, N) rows."""
    Rw, M, N = v.shape
    return cp.reshape(v, (Rw * M, N)), cp.reshape(cp.broadcast_to(w[:, None, :], v.shape),
                                                  (Rw * M, N))


def forward(xp, v, z, w, *, imag_nodes=False, guard=True):
    """Canonical forward: v (Rw, M, N), z (L,), w (Rw, N) -> (Rw, M, L).

    The kernel divides in complex arithmetic, so it needs neither the imaginary-node shortcut
    nor the range guard of the generic path.
    """
    import cupy as cp

    Rw, M, _ = v.shape
    vb, wb = _flat_rows(cp, v, w)
    return cp.reshape(cauchy_cuda(vb, z, wb), (Rw, M, z.shape[0]))


def backward(xp, g, v, z, w, *, need_dz=True, imag_nodes=False, guard=True):
    """Canonical backward: (dv (Rw, M, N), dz (L,) or None, dw (Rw, N))."""
    import cupy as cp

    Rw, M, N = v.shape
    vb, wb = _flat_rows(cp, v, w)
    dv, dz, dw = cauchy_bwd_cuda(cp.reshape(g, (Rw * M, z.shape[0])), vb, z, wb, need_dz)
    return cp.reshape(dv, (Rw, M, N)), dz, cp.reshape(dw, (Rw, M, N)).sum(axis=1)
