"""numba selective scan VJP with rows split over time (fewer rows than threads).

``_numba._bwd`` runs a row on one thread: a forward pass keeping checkpoints, then the reverse
adjoint lam_t = c_t + conj(Abar_{t+1}) lam_{t+1}, c_t = two conj(C_t) gy_t. Here each row is
cut into K chunks of consecutive steps (as ``_numba_split``), and both recurrences are
carried across chunks by the chunk's product Q_t = Abar_{t0} ... Abar_t (t0 its first step):

A. per (row, chunk), in parallel: the chunk's forward from a zero state (chunk 0 from h0),
   keeping its local checkpoints and Q at each; and the chunk's own reverse carry
   sum_t conj(Q_t) c_t (what the adjoint carries out of the chunk when none comes in);
B. per row, sequentially: the state entering each chunk (h_in <- Q_end h_in + h_end) and the
   adjoint carry entering each chunk from the right (carry <- own + conj(Q_end) carry, from
   dlast);
C. per (row, chunk), in parallel: the checkpoints made true (local + Q h_in) and the
   reverse tile of ``_numba._bwd``'s pass 2, unchanged, over the chunk from its carry.

Shared-parameter gradients are summed per (row, chunk) and added up afterwards; a variable B/C
gradient has a slice per channel of its group, whose slots each chunk writes once. Q is
flushed to 0 below the smallest normal number, as in ``_numba_split`` (why there).
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs
from ._numba_reverse import _scatter_tile
from ._numba_split import _flush
from ._numba_tiles import (
    _adj_tile,
    _adj_tile_md,
    _bu_tile,
    _disc_tile,
    _gather_tile,
    _partials_tile,
    _rec_tile,
    _steps_tile,
)

_kernel = nbs.kernel()
prange = nbs.numba().prange
_conj = nbs.scalars()[6]
_CK = 64  # checkpoint interval (as ``_numba._bwd``)
_M = nbm.helpers()
_vsigmoid, _zero = _M["sigmoid"], _M["zero_of"]


@nbs.numba().njit(cache=True, error_model="numpy")
def _carry_tile(T, N, two, Abs, Ct, dout, z, hasz, b, d, t0, P, lam):
    """Over the tile's steps: P <- P Abar_t (Q_t), lam += conj(Q_t) two conj(C_t) gy_t."""
    for k in range(T):
        gy = dout[b, d, t0 + k]
        if hasz:
            zt = z[b, d, t0 + k]
            gy = gy * zt * _vsigmoid(zt)
        c = two * gy
        for n in range(N):
            p = P[n] * Abs[k * N + n]
            P[n] = p
            lam[n] += _conj(p) * (c * _conj(Ct[k * N + n]))


@nbs.numba().njit(cache=True, error_model="numpy")
def _true_states(T, N, Abs, P, hin, loc, hs):
    """hs[j] = loc[j] + Q h_in at each of the tile's T + 1 states: Q = P entering, then
    P <- P Abar_k per step (the split forward's h = h_loc + Q_t h_in)."""
    for n in range(N):
        hs[n] = loc[n] + P[n] * hin[n]
    for k in range(T):
        j = (k + 1) * N
        for n in range(N):
            p = P[n] * Abs[k * N + n]
            P[n] = p
            hs[j + n] = loc[j + n] + p * hin[n]


@_kernel
def _bwd_split(dout, u, delta, A, lnA, Bc, Bv, Cc, Cv, Dv, z, bias, dA_, h0, lam0,
               du, ddt, ddtA, dz, gA, gBc, gCc, gBv, gCv, gD, dh0, flags, method, G, two,
               K, ck, Pck, Hin, Pend, Lloc, tiny, store, Hst, Ast):
    """Gradients as ``_numba._bwd`` with every row in K chunks (module docstring). Per
    (row, chunk): gA/gBc/gCc (R, K, N), gD (R, K); gBv/gCv (Dg, B, G, N, L) (the slice is the
    channel within its group). Work: ck/Pck (R, K, chunk tiles, N) local checkpoints and Q
    there; Hin, Pend, Lloc (R, K, N): local end states then incoming states, Q at the chunk's
    end, own reverse carries then incoming carries. With ``store``, pass A keeps the chunk's
    local states in Hst[row, c] (index N + j N + n after its step j, [0:N] the state
    entering) and mamba/dirac's Abar in Ast[row, c] (j N + n); pass C reads them, adding
    Q_t h_in while Q has a non-zero entry (or h_in is not finite), instead of recomputing."""
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    Dg = Dm // G
    bvar, cvar, hasD, hasz, hasb, hasdA, hash0, sp, cplx, hasdl = flags
    rdt = u.dtype
    TN = _CK * N
    R = Bsz * Dm
    keepA = store and (method == nbs.MAMBA or method == nbs.DIRAC)
    for task in prange(R * K):  # A: local forward, checkpoints, own reverse carry
        row, c = task // K, task % K
        b, d = row // Dm, row % Dm
        g = d // Dg
        t0c, t1c = (L * c) // K, (L * (c + 1)) // K
        h, P, lam = np.zeros(N, A.dtype), np.ones(N, A.dtype), np.zeros(N, A.dtype)
        hs = np.empty(TN + N, A.dtype)
        Abs, gms, bu = np.empty(TN, A.dtype), np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        Ct = np.empty(TN, A.dtype)
        wx, ws, wc = np.empty(TN, rdt), np.empty(TN, rdt), np.empty(TN, rdt)
        dts, dtAs, us = np.empty(_CK, rdt), np.empty(_CK, rdt), np.empty(_CK, rdt)
        if hash0 and c == 0:
            for n in range(N):
                h[n] = h0[b, d, n]
        if store:
            for n in range(N):
                Hst[row, c, n] = h[n]
        for i in range((t1c - t0c + _CK - 1) // _CK):
            t0 = t0c + i * _CK
            T = min(_CK, t1c - t0)
            for n in range(N):
                ck[row, c, i, n] = h[n]
                Pck[row, c, i, n] = P[n]
            _steps_tile(delta, bias, dA_, b, d, t0, T, hasb, sp, hasdA, dts, dtAs)
            for k in range(T):
                us[k] = u[b, d, t0 + k]
            j0 = (t0 - t0c) * N
            ab = Ast[row, c, j0:j0 + T * N] if keepA else Abs
            _disc_tile(method, A, lnA, d, dts, dtAs, T, ab, gms, wx, ws, wc)
            _bu_tile(T, N, gms, us, Bc, Bv, bvar, b, g, d, t0, bu)
            if store:
                _rec_tile(T, N, ab, bu, h, Hst[row, c], N + j0)
            else:
                _rec_tile(T, N, ab, bu, h, hs, N)
            if c > 0:  # (chunk 0's carry out is dh0, which its pass C computes)
                _gather_tile(T, N, Cc, Cv, cvar, b, g, d, t0, Ct)
                _carry_tile(T, N, two, ab, Ct, dout, z, hasz, b, d, t0, P, lam)
                _flush(P, N, tiny)
        for n in range(N):
            Hin[row, c, n] = h[n]
            Pend[row, c, n] = P[n]
            Lloc[row, c, n] = lam[n]
    for row in range(R):  # B: the incoming state and carry of every chunk
        b, d = row // Dm, row % Dm
        s = Hin[row, 0].copy()  # chunk 0 started from the true state
        for c in range(1, K):
            for n in range(N):
                e = Hin[row, c, n]
                Hin[row, c, n] = s[n]
                s[n] = Pend[row, c, n] * s[n] + e
        lam = np.zeros(N, A.dtype)
        if hasdl:
            for n in range(N):
                lam[n] = lam0[b, d, n]
        for c in range(K - 1, 0, -1):
            for n in range(N):
                e = Lloc[row, c, n]
                Lloc[row, c, n] = lam[n]
                lam[n] = e + _conj(Pend[row, c, n]) * lam[n]
        for n in range(N):
            Lloc[row, 0, n] = lam[n]
    for task in prange(R * K):  # C: the reverse pass of every chunk
        row, c = task // K, task % K
        b, d = row // Dm, row % Dm
        g, s = d // Dg, d % Dg
        t0c, t1c = (L * c) // K, (L * (c + 1)) // K
        hs = np.empty(TN + N, A.dtype)
        Abs, gms, bu = np.empty(TN, A.dtype), np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        wx, ws, wc = np.empty(TN, rdt), np.empty(TN, rdt), np.empty(TN, rdt)
        dts, dtAs = np.empty(_CK, rdt), np.empty(_CK, rdt)
        us, gys = np.empty(_CK, rdt), np.empty(_CK, rdt)
        du_, ddt_, ddtA_ = np.empty(_CK, rdt), np.empty(_CK, rdt), np.empty(_CK, rdt)
        Bt, Ct = np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        gBt, gCt = np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        pAt, pAA, pgt = np.empty(TN, A.dtype), np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        pgtA, pgA = np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        h, lam, P = np.empty(N, A.dtype), np.empty(N, A.dtype), np.empty(N, A.dtype)
        acc_A, acc_B = np.zeros(N, A.dtype), np.zeros(N, A.dtype)
        acc_C = np.zeros(N, A.dtype)
        for n in range(N):
            lam[n] = Lloc[row, c, n]
        hs_own, Abs_own = hs, Abs
        acc_D = 0.0
        for i in range((t1c - t0c + _CK - 1) // _CK - 1, -1, -1):
            t0 = t0c + i * _CK
            T = min(_CK, t1c - t0)
            # the reverse tile as in _numba._bwd, written out (a call per tile, ~50 arguments
            # LLVM does not inline, cost 5-8 % at one row of L = 65536, interleaved)
            _steps_tile(delta, bias, dA_, b, d, t0, T, hasb, sp, hasdA, dts, dtAs)
            for k in range(T):
                us[k] = u[b, d, t0 + k]
            live, finite = False, True
            if store and c > 0:
                for n in range(N):
                    P[n] = Pck[row, c, i, n]
                    hn = Hin[row, c, n]
                    live = live or P[n] != 0
                    finite = finite and np.isfinite(hn.real + hn.imag)
            if store and finite:  # pass A's local states (and Abar), made true: + Q_t h_in
                j0 = (t0 - t0c) * N
                if keepA:
                    Abs = Ast[row, c, j0:j0 + T * N]
                else:
                    _disc_tile(method, A, lnA, d, dts, dtAs, T, Abs, gms, wx, ws, wc)
                loc = Hst[row, c, j0:j0 + (T + 1) * N]
                if live:
                    _true_states(T, N, Abs, P, Hin[row, c], loc, hs_own)
                    hs = hs_own
                else:  # Q is 0 here (flushed): the local states are the true ones
                    hs = loc
            else:  # (a non-finite h_in: the recurrence, as inf * Abar stays inf)
                hs, Abs = hs_own, Abs_own
                for n in range(N):  # the true checkpoint: local + Q h_in
                    x = ck[row, c, i, n]
                    if c > 0:
                        x = x + Pck[row, c, i, n] * Hin[row, c, n]
                    hs[n] = x
                    h[n] = x
                _disc_tile(method, A, lnA, d, dts, dtAs, T, Abs, gms, wx, ws, wc)
                _bu_tile(T, N, gms, us, Bc, Bv, bvar, b, g, d, t0, bu)
                _rec_tile(T, N, Abs, bu, h, hs, N)
            _gather_tile(T, N, Bc, Bv, bvar, b, g, d, t0, Bt)
            _gather_tile(T, N, Cc, Cv, cvar, b, g, d, t0, Ct)
            md = method == nbs.MAMBA or method == nbs.DIRAC
            if not md:
                _partials_tile(method, A, lnA, d, dts, dtAs, T, Abs, gms, pAt, pAA, pgt,
                               pgtA, pgA, wx, ws, wc)
            for k in range(T):  # the z gate: dy before it, dz
                t = t0 + k
                gy = dout[b, d, t]
                if hasz:
                    y = _zero(us[k])
                    for n in range(N):
                        y += (Ct[k * N + n] * hs[(k + 1) * N + n]).real
                    zt = z[b, d, t]
                    sz = _vsigmoid(zt)
                    pre = (2 * y if cplx else y) + (Dv[d] * us[k] if hasD else 0)
                    dz[b, d, t] = gy * pre * sz * (1 + zt * (1 - sz))
                    gy = gy * zt * sz
                gys[k] = gy
                acc_D += gy * us[k]
            # bu (the recurrence's input) is spent: scratch for the adjoints lam_t
            if md:
                _adj_tile_md(T, N, two, method == nbs.MAMBA, hs, Abs, Bt, Ct, A[d], dts,
                             dtAs, us, gys, lam, acc_A, bu, gBt, gCt, du_, ddt_, ddtA_)
            else:
                _adj_tile(T, N, two, hs, Abs, gms, Bt, Ct, pAt, pAA, pgt, pgtA, pgA, us,
                          gys, lam, acc_A, bu, gBt, gCt, du_, ddt_, ddtA_)
            if bvar:
                _scatter_tile(T, N, gBt, gBv, s, b, g, t0, True)
            else:
                for k in range(T):
                    for n in range(N):
                        acc_B[n] += gBt[k * N + n]
            if cvar:
                _scatter_tile(T, N, gCt, gCv, s, b, g, t0, True)
            else:
                for k in range(T):
                    for n in range(N):
                        acc_C[n] += gCt[k * N + n]
            for k in range(T):
                t = t0 + k
                du[b, d, t] = du_[k] + (Dv[d] * gys[k] if hasD else _zero(gys[k]))
                ddt_t = ddt_[k]
                if hasdA:
                    ddtA[b, d, t] = ddtA_[k]
                else:
                    ddt_t += ddtA_[k]
                if sp:
                    raw = delta[b, d, t] + bias[d] if hasb else delta[b, d, t]
                    ddt_t *= _vsigmoid(raw) if raw <= 20 else 1
                ddt[b, d, t] = ddt_t
        gD[row, c] = acc_D
        for n in range(N):
            gA[row, c, n] = acc_A[n]
            gBc[row, c, n] = acc_B[n]
            gCc[row, c, n] = acc_C[n]
        if c == 0:
            for n in range(N):
                dh0[b, d, n] = lam[n]


def backward_split(dout, arrays, lam0, flags, method_code, G, two, K, outs, store_cap=0):
    """Run :func:`_bwd_split`; ``outs`` = (du, ddt, ddtA, dz, dh0) filled in place. Returns
    (gA, gBc, gCc, gBv, gCv, gD): gA/gBc/gCc summed to (B, D, N), gD to (B, D), gBv/gCv of
    shape (Dg, B, G, N, L) (dummies for constant B/C). Pass A keeps its local states (and
    mamba/dirac's Abar) when they take at most ``store_cap`` bytes."""
    u, A = arrays[0], arrays[2]
    Bsz, Dm, L = u.shape
    R, N, Dg = Bsz * Dm, A.shape[1], Dm // G
    st, rt = A.dtype, u.dtype
    bvar, cvar = flags[0], flags[1]
    longest = -(-L // K)
    nt = -(-longest // _CK)  # checkpoints of the longest chunk
    ck, Pck = np.empty((R, K, nt, N), st), np.empty((R, K, nt, N), st)
    Hin, Pend, Lloc = (np.empty((R, K, N), st) for _ in range(3))
    gA, gBc, gCc = (np.empty((R, K, N), st) for _ in range(3))
    gD = np.empty((R, K), np.float64)
    vshape = (Dg, Bsz, G, N, L)  # every slot written once: no zero fill
    gBv = np.empty(vshape, st) if bvar else np.zeros((1, 1, 1, 1, 1), st)
    gCv = np.empty(vshape, st) if cvar else np.zeros((1, 1, 1, 1, 1), st)
    du, ddt, ddtA, dz, dh0 = outs
    tiny = rt.type(np.finfo(rt).tiny)
    keepA = method_code in (nbs.MAMBA, nbs.DIRAC)
    store = R * K * (2 if keepA else 1) * (longest + 1) * N * st.itemsize <= store_cap
    Hst = np.empty((R, K, (longest + 1) * N), st) if store else np.zeros((1, 1, 1), st)
    Ast = np.empty((R, K, longest * N), st) if store and keepA else np.zeros((1, 1, 1), st)
    _bwd_split(dout, *arrays, lam0, du, ddt, ddtA, dz, gA, gBc, gCc, gBv, gCv, gD, dh0, flags,
               method_code, G, two, K, ck, Pck, Hin, Pend, Lloc, tiny, store, Hst, Ast)
    shape = (Bsz, Dm, N)
    return (gA.sum(axis=1).reshape(shape), gBc.sum(axis=1).reshape(shape),
            gCc.sum(axis=1).reshape(shape), gBv, gCv,
            gD.sum(axis=1).reshape(Bsz, Dm).astype(rt))
