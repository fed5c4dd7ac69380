"""numba selective scan with a row's STATES split over threads: for fewer rows than threads.

The N states of a (batch, channel) row are independent diagonal recurrences; the row's y is a
sum over them (y_t = sum_n Re(C_tn h_tn), twice that for conjugate-pair complex states) and
du / ddelta / ddeltaA are sums over them too. So a row's N states are cut into K blocks of
N / K and each block runs as a *virtual channel* through the unsplit kernels ``_numba._fwd`` /
``_numba._bwd``: B * D * K virtual rows fill the threads, with no correction pass (the time
split of ``_numba_split`` does about three passes of work in the VJP).

Virtual channel d' = (g K + j) Dg + i is block j of channel d = g Dg + i (Dg = D / G channels
per group g), in virtual group g K + j: a variable B / C of shape (B, G, N, L) is then the
virtual (B, G K, N / K, L) by a reshape (no copy). A, constant B / C, h0 and dlast are cut
the same way (small copies); u, delta, deltaA, z and dout are repeated K times (1 / N of the
state volume each). The virtual scans run without D (and, forward, without the gate); the
epilogue kernels here sum the K blocks and add D u and the gate in one pass:

- forward: out = (sum_j y_j + D u) z silu(z), exactly the unsplit kernel's expression;
- VJP: the virtual backward runs with the gate (gy = dout z silu'(z) does not depend on y, and
  dz = dout pre silu'(z) is linear in pre = sum_j y_j + D u), so du = sum_j du_j + D gy and
  dz = sum_j dz_j + dout D u silu'(z); ddelta and ddeltaA are sums over j, dD is one block's.

:func:`plan` picks K: a divisor of N with N / K >= ``NSPLIT_MIN_STATES`` (the tile loops over
N stay vectorised; 16 for a forward the time split could take), at most ceil(threads / rows),
real A only; tests force it through ``NSPLIT_BLOCKS``. Figures (float32 mamba, 2 threads,
interleaved, min of 9, time split / N split): B1 D1 N16 L65536 VJP 4.97 / 4.00 ms (its forward
keeps the time split: forced, the N split took 1.83 ms against 1.58), with z VJP 6.88 / 5.96,
zoh VJP 7.20 / 6.57; N32 forward 4.12 / 2.94, VJP 12.8 / 9.8 (4 blocks of 8); L8192 (too
short for the time split: one thread) forward 0.41 / 0.31, VJP 1.08 / 0.71.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_kernel = nbs.kernel()
prange = nbs.numba().prange
_M = nbm.helpers()
_vsigmoid, _one = _M["sigmoid"], _M["one_of"]

NSPLIT_BLOCKS: int | None = None  # tests: force the most blocks per row (None: planned)
NSPLIT_MIN_STATES = 8  # fewest states per block (the N loops of the tiles vectorise by 8)
NSPLIT_MIN_STATES_FWD = 16  # ... in a forward the time split could take instead (see plan)
NSPLIT_MIN_VOLUME = 1 << 17  # fewest states x steps per row (launch's one-thread bound)
_TB = 2048  # steps per task of the epilogue kernels


def plan(rows: int, N: int, L: int, threads: int, cplx: bool = False,
         time_split: bool = False, vjp: bool = False) -> int:
    """K state blocks per row (1: not this path): the largest divisor of N with at least
    ``NSPLIT_MIN_STATES`` states per block (``NSPLIT_MIN_STATES_FWD`` for a forward the time
    split would otherwise take: ``time_split``) and at most ceil(threads / rows) blocks.

    Real A only: complex tiles of 8 states cost ~1.6x per state what tiles of 16 do (one
    thread, complex64), and the N split of B1 D1 N16 L65536 only tied the time split. A real
    forward's tiles of 8 states cost ~1.25x per state what 16 do, more than the forward time
    split's extra pass (B1 D1 N16 L65536: time split 1.58 ms, N split 1.83); its VJP (three
    passes of work) is where 8 pays (5.28 -> 4.48 ms). ``vjp``: the VJP takes blocks of 8
    states where K stays a multiple of ceil(threads / rows) (N32 on 2 threads: 4 blocks of
    8, 10.6 ms, where 2 of 16 took 13.0 and the time split 12.5)."""
    if rows == 0 or N == 0:
        return 1
    least = NSPLIT_MIN_STATES
    if NSPLIT_BLOCKS is not None:
        most = NSPLIT_BLOCKS
    elif rows >= threads or N * L < NSPLIT_MIN_VOLUME or cplx:
        return 1
    else:
        most = -(-threads // rows)
        least = NSPLIT_MIN_STATES_FWD if time_split else least
        if vjp:  # blocks of 8 where a multiple of the workers' share gives them (see plan)
            for K in range(N // max(1, least), most - 1, -1):
                if N % K == 0 and K % most == 0:
                    return K
    for K in range(min(most, N // max(1, least)), 1, -1):
        if N % K == 0:
            return K
    return 1


def _cut(X, K, G):
    """(..., D, N) per-channel state parameters -> (..., D K, N / K) in virtual order."""
    *lead, Dm, N = X.shape
    Xr = X.reshape(*lead, G, Dm // G, K, N // K)
    return np.ascontiguousarray(np.swapaxes(Xr, -3, -2)).reshape(*lead, Dm * K, N // K)


def _join(Xv, K, G):
    """Inverse of :func:`_cut`: (..., D K, N / K) -> (..., D, N)."""
    *lead, DK, Nk = Xv.shape
    Xr = Xv.reshape(*lead, G, K, DK // (G * K), Nk)
    return np.ascontiguousarray(np.swapaxes(Xr, -3, -2)).reshape(*lead, DK // K, K * Nk)


def _rep(x, K, G):
    """(B, D, L) or (D,) per-channel values -> repeated for the K blocks: (B, D K, L), (D K,)."""
    if x is None:
        return None
    if x.ndim == 1:
        xr = x.reshape(G, 1, -1)
        return np.ascontiguousarray(np.broadcast_to(xr, (G, K, xr.shape[2]))).reshape(-1)
    Bsz, Dm, L = x.shape
    xr = x.reshape(Bsz, G, 1, Dm // G, L)
    full = np.broadcast_to(xr, (Bsz, G, K, Dm // G, L))
    return np.ascontiguousarray(full).reshape(Bsz, Dm * K, L)


def _var(X, K):
    """A variable B / C ((B, N, L) or (B, G, N, L)) -> the virtual (B, G K, N / K, L): a view
    of a contiguous array."""
    X4 = X if X.ndim == 4 else X[:, None]
    Bsz, G, N, L = X4.shape
    return np.ascontiguousarray(X4).reshape(Bsz, G * K, N // K, L)


def virtual(u, delta, A, B, C, z, delta_bias, deltaA, h0, K, G):
    """The virtual channels' (u, delta, A, B, C, z, delta_bias, deltaA, h0)."""
    Bv = _var(B, K) if B.ndim > 2 else _cut(B, K, G)
    Cv = _var(C, K) if C.ndim > 2 else _cut(C, K, G)
    return (_rep(u, K, G), _rep(delta, K, G), _cut(A, K, G), Bv, Cv, _rep(z, K, G),
            _rep(delta_bias, K, G), _rep(deltaA, K, G), None if h0 is None else _cut(h0, K, G))


@_kernel
def _fwd_join(ov, u, Dv, z, hasD, hasz, K, G, out):
    """out[b, d] = (sum_j ov[b, block j of d] + D u) z silu(z), tasks of _TB steps."""
    Bsz, Dm, L = out.shape
    Dg = Dm // G
    nb = (L + _TB - 1) // _TB
    for task in prange(Bsz * Dm * nb):
        row, blk = task // nb, task % nb
        b, d = row // Dm, row % Dm
        v0 = (d // Dg) * K * Dg + d % Dg
        t0 = blk * _TB
        t1 = min(L, t0 + _TB)
        orow = out[b, d, t0:t1]
        src = ov[b, v0, t0:t1]
        for k in range(t1 - t0):
            orow[k] = src[k]
        for j in range(1, K):
            src = ov[b, v0 + j * Dg, t0:t1]
            for k in range(t1 - t0):
                orow[k] += src[k]
        if hasD:
            Dd = Dv[d]
            urow = u[b, d, t0:t1]
            for k in range(t1 - t0):
                orow[k] += Dd * urow[k]
        if hasz:
            zrow = z[b, d, t0:t1]
            for k in range(t1 - t0):
                orow[k] *= zrow[k] * _vsigmoid(zrow[k])


@nbs.numba().njit(cache=True, error_model="numpy")
def _sum_blocks(out, src, b, v0, Dg, K, t0, t1):
    """out[:] = the sum over the K blocks j of src[b, v0 + j Dg, t0:t1] (a channel's virtual
    rows)."""
    first = src[b, v0, t0:t1]
    for k in range(t1 - t0):
        out[k] = first[k]
    for j in range(1, K):
        row = src[b, v0 + j * Dg, t0:t1]
        for k in range(t1 - t0):
            out[k] += row[k]


@_kernel
def _bwd_join(duv, ddtv, ddtAv, dzv, dout, u, Dv, z, hasD, hasz, hasdA, K, G,
              du, ddt, ddtA, dz):
    """Sums over the K blocks of du, ddelta, ddeltaA, dz, plus D's terms (module docstring):
    du += D gy, dz += dout D u silu'(z) (gy = dout z sigma(z): dout without the gate)."""
    Bsz, Dm, L = du.shape
    Dg = Dm // G
    nb = (L + _TB - 1) // _TB
    for task in prange(Bsz * Dm * nb):
        row, blk = task // nb, task % nb
        b, d = row // Dm, row % Dm
        v0 = (d // Dg) * K * Dg + d % Dg
        t0 = blk * _TB
        t1 = min(L, t0 + _TB)
        T = t1 - t0
        durow, ddtrow = du[b, d, t0:t1], ddt[b, d, t0:t1]
        _sum_blocks(durow, duv, b, v0, Dg, K, t0, t1)
        _sum_blocks(ddtrow, ddtv, b, v0, Dg, K, t0, t1)
        if hasdA:
            _sum_blocks(ddtA[b, d, t0:t1], ddtAv, b, v0, Dg, K, t0, t1)
        if hasz:
            dzrow = dz[b, d, t0:t1]
            _sum_blocks(dzrow, dzv, b, v0, Dg, K, t0, t1)
        if hasD:
            Dd = Dv[d]
            grow, urow = dout[b, d, t0:t1], u[b, d, t0:t1]
            if hasz:
                zrow = z[b, d, t0:t1]
                for k in range(T):
                    zt = zrow[k]
                    sz = _vsigmoid(zt)
                    durow[k] += Dd * (grow[k] * zt * sz)
                    dzrow[k] += grow[k] * (Dd * urow[k]) * sz * (1 + zt * (1 - sz))
            else:
                for k in range(T):
                    durow[k] += Dd * grow[k]
