"""Array-API log-Vandermonde products: blocked powers and GEMM.

Materialising exp(x (x) l) costs one complex exp per (n, l) (lrnnx's CPU path). Here each
L-block of the matrix E[n, l] = e^{x_n l} is the outer product of two small tables computed in
float64/complex128: e^{x_n j} for j < T and e^{x_n (l0 + k T)} for the block starts,
T ~ sqrt(block).
That is ~2 sqrt(L) exps per n and one complex multiply per (n, l); every entry is the product
of two correctly rounded factors (relative error ~2 ulp in float32, however large l or |x| is; no
error accumulates as with repeated multiplication). The reductions over n (forward) or l
(transpose, VJPs) are batched GEMMs, with E built once per ``x`` row and shared by the M
coefficient rows that broadcast against it (S4D: every channel of a head).
"""

from __future__ import annotations

import math

from .._shared.grouping import blocks, bmm
from .._shared.numerics import exp

_BLOCK = 1 << 19  # complex elements of E per block


def _plan(Rw, N2, L):
    lc = min(L, max(64, _BLOCK // max(1, N2)))
    rb = max(1, _BLOCK // max(1, N2 * lc))
    return blocks(Rw, rb), blocks(L, lc)


def vand_matrix(xp, x, l0, l1, dtype):
    """E[r, n, l] = exp(x[r, n] * l) for l in [l0, l1), shape (rb, N, l1 - l0), in ``dtype``."""
    rb, N = x.shape
    lc = l1 - l0
    T = max(1, math.isqrt(lc - 1) + 1) if lc > 1 else 1
    K = -(-lc // T)
    hi = xp.complex128
    x64 = xp.astype(x, hi)[:, :, None]
    j = xp.astype(xp.arange(T, dtype=xp.float64), hi)
    k = xp.astype(xp.arange(K, dtype=xp.float64) * T + l0, hi)
    # Complex exps through the numerics layer: e^a (cos b, sin b) of real parts (SIMD ufuncs).
    A = xp.astype(exp(xp, x64 * j), dtype)  # (rb, N, T)
    B = xp.astype(exp(xp, x64 * k), dtype)  # (rb, N, K)
    E = B[:, :, :, None] * A[:, :, None, :]
    E = xp.reshape(E, (rb, N, K * T))
    return E[:, :, :lc] if K * T != lc else E


def vand_rows(xp, c, x, L):
    """c (Rw, M, N), x (Rw, N) complex -> sum_n c_n e^{x_n l}, shape (Rw, M, L) complex."""
    Rw, M, N = c.shape
    if N == 0 or Rw * M * L == 0:
        return xp.zeros((Rw, M, L), dtype=c.dtype)
    out = xp.empty((Rw, M, L), dtype=c.dtype)
    rblocks, lblocks = _plan(Rw, N, L)
    for r0, r1 in rblocks:
        for l0, l1 in lblocks:
            E = vand_matrix(xp, x[r0:r1, ...], l0, l1, c.dtype)
            out[r0:r1, :, l0:l1] = bmm(xp, c[r0:r1, ...], E)
    return out


def vand_t_rows(xp, u, x, N, dtype, *, weighted=False):
    """u (Rw, M, L) -> (sum_l u_l e^{x_n l}, sum_l l u_l e^{x_n l} or None), each (Rw, M, N).

    ``u`` is cast to the complex ``dtype``; the l-weighted sum shares the blocks of E.
    """
    Rw, M, L = u.shape
    s0 = xp.zeros((Rw, M, N), dtype=dtype)
    s1 = xp.zeros((Rw, M, N), dtype=dtype) if weighted else None
    if N == 0 or Rw * M * L == 0:
        return s0, s1
    if u.dtype != dtype:
        u = xp.astype(u, dtype)
    rdt = xp.float32 if dtype == xp.complex64 else xp.float64
    rblocks, lblocks = _plan(Rw, N, L)
    for r0, r1 in rblocks:
        for l0, l1 in lblocks:
            Et = xp.matrix_transpose(vand_matrix(xp, x[r0:r1, ...], l0, l1, dtype))
            ub = u[r0:r1, :, l0:l1]
            s0[r0:r1, ...] = s0[r0:r1, ...] + bmm(xp, ub, Et)
            if weighted:
                ll = xp.astype(xp.arange(l0, l1, dtype=rdt), dtype)
                s1[r0:r1, ...] = s1[r0:r1, ...] + bmm(xp, ub * ll, Et)
    return s0, s1


# ---- canonical functions (what SPEC.get("generic", ...) returns) --------------------------------


def forward(xp, v, x, L):
    """2 Re sum_n v_n e^{x_n l}: v (Rw, M, N), x (Rw, N) -> (Rw, M, L) real."""
    return 2.0 * xp.real(vand_rows(xp, v, x, L))


def backward(xp, g, v, x, L):
    """dv = 2 conj(sum_l g e^{x l}) per row, dx = sum over rows of 2 conj(v sum_l l g e^{x l})."""
    N = v.shape[-1]
    s0, s1 = vand_t_rows(xp, g, x, N, v.dtype, weighted=True)
    return 2.0 * xp.conj(s0), xp.sum(2.0 * xp.conj(v * s1), axis=1)


def transpose(xp, u, v, x, L):
    """v_n sum_l u_l e^{x_n l}: u (Rw, M, L) -> (Rw, M, N)."""
    s0, _ = vand_t_rows(xp, u, x, v.shape[-1], v.dtype)
    return v * s0


def transpose_backward(xp, g, u, v, x, L):
    """(du (Rw, M, L) complex, dv (Rw, M, N), dx (Rw, N)) for the cotangent g (Rw, M, N)."""
    s0, s1 = vand_t_rows(xp, u, x, v.shape[-1], v.dtype, weighted=True)
    du = xp.conj(vand_rows(xp, v * xp.conj(g), x, L))
    return du, g * xp.conj(s0), xp.sum(g * xp.conj(v * s1), axis=1)
