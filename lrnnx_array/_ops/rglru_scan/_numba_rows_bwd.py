"""The RG-LRU backward over rows: ``_numba_rows``' layout (no transposes) for the VJP.

Per task of 8 rows (``LANES``) and tile of ``STEPS`` steps, like the forward: pass 1 runs the
forward's row discretization (Ā, β and β u) and ``rec8``'s 8 chains, the states kept in a
buffer row per (state, lane) with the state before the tile in front (``h_{t−1}`` is read
there, never recovered by dividing by Ā). Pass 2 runs the tiles in reverse: dout's 8 rows are
copied into a padded buffer, ``lam8`` runs the adjoint λ_t = dout_t + Ā_{t+1} λ_{t+1} as 8
scalar chains, then per row one loop along t (contiguous everywhere, vectorised) computes
dx = λ (Ā h_{t−1} − u Ā²/β) (the second term 0 where β = 0), du = Σ_n λ β, dδ = Σ_n dx ln a
written straight into the output rows, and dx δ added into a per-(state, lane) buffer of one
tile's length (summed once per task: a scalar running sum along t would be one dependent add
an element, numba does not reassociate). The arithmetic of each value is the tile kernel's;
only dA's sum runs in another order.

Like the tile kernel the first pass's buffers stay for the second when they fit (``keep``),
else each tile is recomputed in pass 2 from a checkpoint of the state before it (the same
code, so the same values).
"""

from __future__ import annotations

import math

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs
from ._numba_rows import _PAD, LANES, STEPS, rec8

_M = nbm.helpers()
_expm1_exp, _zero, _one = _M["expm1_exp"], _M["zero_of"], _M["one_of"]
_jit = nbs.numba().njit(cache=True, error_model="numpy")
prange = nbs.numba().prange


@_jit
def disc3_row(dl, ul, la, T, a, g, b):
    """a[k] = Ā, g[k] = β, b[k] = β u at step k of one row (x = δ ln a)."""
    zero = _zero(la)
    two = _one(la) + _one(la)
    for k in range(T):
        m, e = _expm1_exp(dl[k] * la)
        g2 = -m * (m + two)  # 1 - e^{2x} without cancellation
        a[k] = e
        gk = math.sqrt(zero if g2 <= zero else g2)  # (NaN stays NaN)
        g[k] = gk
        b[k] = gk * ul[k]


@_jit
def lam8(T, S, a, S2, dt, lt, lam):
    """lt[j S2 + k] = λ_t in reverse over the tile for the 8 rows j (Ā at a[j S + k], dout at
    dt[j S2 + k]); lam carries Ā_t λ_t into the step before (after the first tile: dh0)."""
    # One view per row and k known >= 0 (as _numba_rows.rec8: no wraparound check per access;
    # this loop 0.87 -> 0.51 ns an element, single thread).
    S, S2 = max(S, 0), max(S2, 0)
    a1, a2, a3, a4 = a[S:], a[2 * S:], a[3 * S:], a[4 * S:]
    a5, a6, a7 = a[5 * S:], a[6 * S:], a[7 * S:]
    d1, d2, d3, d4 = dt[S2:], dt[2 * S2:], dt[3 * S2:], dt[4 * S2:]
    d5, d6, d7 = dt[5 * S2:], dt[6 * S2:], dt[7 * S2:]
    t1, t2, t3, t4 = lt[S2:], lt[2 * S2:], lt[3 * S2:], lt[4 * S2:]
    t5, t6, t7 = lt[5 * S2:], lt[6 * S2:], lt[7 * S2:]
    l0, l1, l2, l3, l4, l5, l6, l7 = lam[0], lam[1], lam[2], lam[3], lam[4], lam[5], lam[6], lam[7]
    for kk in range(T):
        k = max(T - 1 - kk, 0)
        n0 = dt[k] + l0
        lt[k] = n0
        l0 = a[k] * n0
        n1 = d1[k] + l1
        t1[k] = n1
        l1 = a1[k] * n1
        n2 = d2[k] + l2
        t2[k] = n2
        l2 = a2[k] * n2
        n3 = d3[k] + l3
        t3[k] = n3
        l3 = a3[k] * n3
        n4 = d4[k] + l4
        t4[k] = n4
        l4 = a4[k] * n4
        n5 = d5[k] + l5
        t5[k] = n5
        l5 = a5[k] * n5
        n6 = d6[k] + l6
        t6[k] = n6
        l6 = a6[k] * n6
        n7 = d7[k] + l7
        t7[k] = n7
        l7 = a7[k] * n7
    lam[0], lam[1], lam[2], lam[3], lam[4], lam[5], lam[6], lam[7] = l0, l1, l2, l3, l4, l5, l6, l7


@_jit
def grad_row(T, first, lt, a, g, hp, ul, dl, la, du, dd, accb):
    """One row's gradients over the tile: du (= / += λ β), dd (= / += dx ln a), accb += dx δ;
    hp[k] = h_{t−1}."""
    zero, one = _zero(la), _one(la)
    for k in range(T):
        ln, Ab, gk = lt[k], a[k], g[k]
        pos = gk > zero
        q = ln * ul[k] * Ab * Ab / (gk if pos else one)  # dβ/dx = -Ā²/β, 0 where β = 0
        gx = ln * hp[k] * Ab - (q if pos else zero)
        if first:
            du[k] = ln * gk
            dd[k] = gx * la
        else:
            du[k] += ln * gk
            dd[k] += gx * la
        accb[k] += gx * dl[k]


@nbs.kernel()
def bwd(keep, nch, dout, u, delta, A, lnA, h0, has_h0, dlast, has_dl, du, ddelta, gA, dh0):
    """gA (B, D, N): per-batch dA, summed by the caller; N >= 1 (the caller fills du, dδ for
    N = 0). ``nch`` chunks (one per thread) each run every nch-th task with buffers allocated
    once (fresh buffers per task cost a page fault per 4 KiB)."""
    Bsz, D, L = u.shape
    N = lnA.shape[1]
    R = Bsz * D
    W = LANES
    nt = (L + STEPS - 1) // STEPS
    nk = nt if keep else 1  # tiles held
    S = nk * STEPS + 1 + _PAD  # buffer row: [h before tile 0, states ...] (+ pad)
    S2 = STEPS + _PAD
    ntask = (R + W - 1) // W
    dt = u.dtype
    for ch in prange(nch):
        h = np.zeros((N, W), dt)
        lam = np.zeros((N, W), dt)
        ck = np.zeros((nt, N, W), dt)  # the state before each tile
        ab, gm, hs = np.zeros((N, W * S), dt), np.zeros((N, W * S), dt), np.zeros((N, W * S), dt)
        dot, lt = np.zeros(W * S2, dt), np.zeros(W * S2, dt)
        accb = np.zeros((N, W, STEPS), dt)
        for task in range(ch, ntask, nch):
            r0 = task * W
            w = min(W, R - r0)
            h[:] = 0
            lam[:] = 0
            accb[:] = 0
            for n in range(N):
                for j in range(w):
                    bb, dd = (r0 + j) // D, (r0 + j) % D
                    if has_h0:
                        h[n, j] = h0[bb, dd, n]
                    if has_dl:
                        lam[n, j] = dlast[bb, dd, n]
            for c in range(nt):  # pass 1: checkpoints (keep: every tile's buffers)
                t0 = c * STEPS
                T = min(STEPS, L - t0)
                o = c * STEPS if keep else 0
                for n in range(N):
                    ck[c, n, :] = h[n]
                    for j in range(w):
                        bb, dd = (r0 + j) // D, (r0 + j) % D
                        q = j * S + o
                        hs[n, q] = h[n, j]
                        disc3_row(delta[bb, dd, t0:t0 + T], u[bb, dd, t0:t0 + T],
                                  lnA[dd, n], T, ab[n, q:q + T], gm[n, q:q + T],
                                  hs[n, q + 1:q + 1 + T])
                    rec8(T, S, ab[n, o:], hs[n, o + 1:], h[n])
            for c in range(nt - 1, -1, -1):  # pass 2: the adjoint, tiles in reverse
                t0 = c * STEPS
                T = min(STEPS, L - t0)
                o = c * STEPS if keep else 0
                for j in range(w):
                    dot[j * S2:j * S2 + T] = dout[(r0 + j) // D, (r0 + j) % D, t0:t0 + T]
                for n in range(N):
                    if not keep:
                        for j in range(w):
                            bb, dd = (r0 + j) // D, (r0 + j) % D
                            hs[n, j * S] = ck[c, n, j]
                            disc3_row(delta[bb, dd, t0:t0 + T], u[bb, dd, t0:t0 + T],
                                      lnA[dd, n], T, ab[n, j * S:j * S + T],
                                      gm[n, j * S:j * S + T], hs[n, j * S + 1:j * S + 1 + T])
                        hc = ck[c, n].copy()
                        rec8(T, S, ab[n], hs[n, 1:], hc)
                    lam8(T, S, ab[n, o:], S2, dot, lt, lam[n])
                    for j in range(w):
                        bb, dd = (r0 + j) // D, (r0 + j) % D
                        q = j * S + o
                        grad_row(T, n == 0, lt[j * S2:j * S2 + T], ab[n, q:q + T],
                                 gm[n, q:q + T], hs[n, q:q + T], u[bb, dd, t0:t0 + T],
                                 delta[bb, dd, t0:t0 + T], lnA[dd, n],
                                 du[bb, dd, t0:t0 + T], ddelta[bb, dd, t0:t0 + T],
                                 accb[n, j, :T])
            for n in range(N):
                for j in range(w):
                    bb, dd = (r0 + j) // D, (r0 + j) % D
                    gA[bb, dd, n] = accb[n, j].sum() / A[dd, n]
                    dh0[bb, dd, n] = lam[n, j]
