"""Array-API symmetric Cauchy product: blocked Cauchy matrices reduced with matmul.

The conjugate pair folds into one matrix: with W2 = [w, conj w] and V2 = [v, conj v] (2N
columns), out = V2 @ R with R[n, l] = 1 / (z_l - W2_n). R depends on ``w`` only, so it is built
once per ``w`` row and shared by the M coefficient rows that broadcast against it (S4: every
(B, C) pair of a channel), and the reduction over n is a batched GEMM. Building R costs one
subtraction and one complex reciprocal per (n, l), the floor for an exact evaluation (the real
form 2[z Re v - Re(v conj w)] / ((z - w)(z - conj w)) needs more array passes than it saves in
divisions on the CPU). R is built in (row, L) blocks of at most ``_BLOCK`` elements, so memory
stays O(rows * (N + L)) however large N * L is.
"""

from __future__ import annotations

from ._grouping import blocks, bmm

_BLOCK = 1 << 19  # complex elements of R per block (8 MB in complex128)


def _conj(xp, x):
    return xp.conj(x) if xp.isdtype(x.dtype, "complex floating") else x


def _mT(xp, x):
    return xp.matrix_transpose(x)


def _plan(Rw, N2, L):
    lc = min(L, max(64, _BLOCK // max(1, N2)))
    rb = max(1, _BLOCK // max(1, N2 * lc))
    return blocks(Rw, rb), blocks(L, lc)


def _R(xp, W2, z, l0, l1):
    """(rb, 2N, lc) matrix 1/(z_l - W2_n)."""
    zz = xp.reshape(z[l0:l1], (1, 1, l1 - l0))
    return 1.0 / (zz - W2[:, :, None])


def cauchy_rows(xp, v, z, w):
    """v (Rw, M, N), z (L,), w (Rw, N), one complex dtype -> out (Rw, M, L)."""
    Rw, M, N = v.shape
    L = z.shape[0]
    out = xp.empty((Rw, M, L), dtype=v.dtype)
    if Rw * M * L == 0:
        return out
    if N == 0:
        return xp.zeros((Rw, M, L), dtype=v.dtype)
    V2 = xp.concat([v, xp.conj(v)], axis=-1)
    W2 = xp.concat([w, xp.conj(w)], axis=-1)
    rblocks, lblocks = _plan(Rw, N, L)
    for r0, r1 in rblocks:
        for l0, l1 in lblocks:
            out[r0:r1, :, l0:l1] = bmm(xp, V2[r0:r1, ...], _R(xp, W2[r0:r1, ...], z, l0, l1))
    return out


def cauchy_vjp_rows(xp, g, v, z, w, need_dz=True):
    """Gradients for grouped rows: g (Rw, M, L) -> dv (Rw, M, N), dz (L,) or None, dw (Rw, N)."""
    Rw, M, N = v.shape
    L = z.shape[0]
    dv = xp.zeros((Rw, M, N), dtype=v.dtype)
    dw = xp.zeros((Rw, N), dtype=v.dtype)
    dz = xp.zeros((L,), dtype=v.dtype) if need_dz else None
    if Rw * M * L * N == 0:
        return dv, dz, dw
    V2 = xp.concat([v, xp.conj(v)], axis=-1)
    W2 = xp.concat([w, xp.conj(w)], axis=-1)
    gc = xp.conj(g)
    vc = xp.conj(v)
    rblocks, lblocks = _plan(Rw, N, L)
    for r0, r1 in rblocks:
        C = xp.zeros((r1 - r0, M, 2 * N), dtype=v.dtype)
        D = xp.zeros((r1 - r0, M, 2 * N), dtype=v.dtype)
        for l0, l1 in lblocks:
            R = _R(xp, W2[r0:r1, ...], z, l0, l1)
            R2 = R * R
            gb = gc[r0:r1, :, l0:l1]
            C = C + bmm(xp, gb, _mT(xp, R))  # sum_l conj(g) r
            D = D + bmm(xp, gb, _mT(xp, R2))  # sum_l conj(g) r^2
            if need_dz:
                S = bmm(xp, V2[r0:r1, ...], R2)  # sum_n v r1^2 + conj(v) r2^2
                dz[l0:l1] = dz[l0:l1] - xp.sum(g[r0:r1, :, l0:l1] * xp.conj(S), axis=(0, 1))
        dv[r0:r1, ...] = xp.conj(C[..., :N]) + C[..., N:]
        s2 = xp.conj(D[..., :N]) + D[..., N:]
        dw[r0:r1, ...] = xp.sum(vc[r0:r1, ...] * s2, axis=1)
    return dv, dz, dw
