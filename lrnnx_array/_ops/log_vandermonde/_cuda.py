"""CuPy launchers for raw_kernels/vandermonde.cu (forward per tile, transpose per chunk)."""

from __future__ import annotations

import numpy as np

from ..._cuda import ctype, get_function

SOURCE = "vandermonde"
_C = ("complex<float>", "complex<double>")
NAME_EXPRESSIONS = tuple(f"lrnnx_vand_fwd<{c}>" for c in _C) + tuple(
    f"lrnnx_vand_t<{c}, {u}>" for c in _C for u in (c, c[len("complex<"):-1])
)
_THREADS, _ITEMS = 256, 8  # kThreads, kItems in vandermonde.cu
_T_THREADS, _T_CHUNK = 256, 2048  # 32 * kWarps, kChunk


def vand_cuda(c, x, L, *, real2):
    """c, x: (B, N) complex. Returns 2 Re(sum_n c e^{x l}) (B, L) real, or the complex sum."""
    import cupy as cp

    B, N = c.shape
    dt = c.dtype
    rdt = np.dtype(np.float32 if dt == np.complex64 else np.float64)  # a dtype: ctype() needs .name
    # Allocations, module load and launch all on the inputs' device (not the current one).
    with c.device:
        out = cp.zeros((B, L), dtype=rdt if real2 else dt)
        if B == 0 or L == 0 or N == 0:
            return out
        c, x = cp.ascontiguousarray(c, dtype=dt), cp.ascontiguousarray(x, dtype=dt)
        ntiles = -(-L // (_THREADS * _ITEMS))
        fn = get_function(SOURCE, f"lrnnx_vand_fwd<{ctype(dt)}>", NAME_EXPRESSIONS)
        # Only the output that real2 selects is written; the other pointer is null (an array of
        # another element type there would be a mistyped pointer, never dereferenced).
        fn((B * ntiles,), (_THREADS,), (c, x, out if real2 else None, None if real2 else out,
                                        np.int64(B), np.int64(N), np.int64(L), np.int32(real2)))
    return out


def vand_t_cuda(u, x, N, *, weighted, dtype=None):
    """u: (B, L) real or complex, x: (B, N) complex.

    Returns (sum_l u e^{x l}, sum_l l u e^{x l} or None), each (B, N).
    """
    import cupy as cp

    B, L = u.shape
    dt = np.dtype(dtype) if dtype is not None else x.dtype
    rdt = np.dtype(np.float32 if dt == np.complex64 else np.float64)  # a dtype: ctype() needs .name
    udt = dt if u.dtype.kind == "c" else rdt
    with x.device:
        if B == 0 or L == 0 or N == 0:
            z = cp.zeros((B, N), dtype=dt)
            return z, (z.copy() if weighted else None)
        u, x = cp.ascontiguousarray(u, dtype=udt), cp.ascontiguousarray(x, dtype=dt)
        nchunks = -(-L // _T_CHUNK)
        ntn = -(-N // 32)
        p0 = cp.empty((B, nchunks, N), dtype=dt)
        p1 = cp.empty((B, nchunks, N), dtype=dt) if weighted else p0
        fn = get_function(SOURCE, f"lrnnx_vand_t<{ctype(dt)}, {ctype(udt)}>", NAME_EXPRESSIONS)
        fn((B * ntn * nchunks,), (_T_THREADS,),
           (u, x, p0, p1, np.int64(B), np.int64(N), np.int64(L), np.int32(weighted)))
        s0 = p0.sum(axis=1) if nchunks > 1 else p0[:, 0, :]
        s1 = (p1.sum(axis=1) if nchunks > 1 else p1[:, 0, :]) if weighted else None
    return s0, s1


# ---- canonical adapters (the functions SPEC.get("cuda", ...) returns) --------------------------


def _flat(cp, a):
    """(Rw, M, n) -> (Rw * M, n)."""
    return cp.reshape(a, (a.shape[0] * a.shape[1], a.shape[2]))


def _flat_x(cp, x, M):
    """Shared log-poles (Rw, N) repeated for the M coefficient rows: (Rw * M, N)."""
    Rw, N = x.shape
    return cp.reshape(cp.broadcast_to(x[:, None, :], (Rw, M, N)), (Rw * M, N))


def forward(xp, v, x, L):
    import cupy as cp

    Rw, M, _ = v.shape
    return cp.reshape(vand_cuda(_flat(cp, v), _flat_x(cp, x, M), L, real2=True), (Rw, M, L))


def backward(xp, g, v, x, L):
    import cupy as cp

    Rw, M, N = v.shape
    s0, s1 = vand_t_cuda(_flat(cp, g), _flat_x(cp, x, M), N, weighted=True)
    dv = cp.reshape(2.0 * cp.conj(s0), (Rw, M, N))
    dx = cp.reshape(2.0 * cp.conj(_flat(cp, v) * s1), (Rw, M, N)).sum(axis=1)
    return dv, dx


def transpose(xp, u, v, x, L):
    import cupy as cp

    Rw, M, N = v.shape
    s0, _ = vand_t_cuda(_flat(cp, u), _flat_x(cp, x, M), N, weighted=False, dtype=v.dtype)
    return v * cp.reshape(s0, (Rw, M, N))


def transpose_backward(xp, g, u, v, x, L):
    import cupy as cp

    Rw, M, N = v.shape
    vf, xf, gf = _flat(cp, v), _flat_x(cp, x, M), _flat(cp, g)
    s0, s1 = vand_t_cuda(_flat(cp, u), xf, N, weighted=True, dtype=v.dtype)
    du = cp.conj(vand_cuda(vf * cp.conj(gf), xf, L, real2=False))
    dx = cp.reshape(gf * cp.conj(vf * s1), (Rw, M, N)).sum(axis=1)
    return (cp.reshape(du, (Rw, M, L)), cp.reshape(gf * cp.conj(s0), (Rw, M, N)), dx)
