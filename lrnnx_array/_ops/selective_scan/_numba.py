"""numba selective scan: a compiled loop over time per (batch, channel) row, rows in parallel.

Canonical entries as in ``_generic`` (u, delta, D, z, delta_bias, deltaA real; A, B, C, h0 in the
state dtype). Each row runs in tiles of 64 steps (``_numba_tiles``): Ā and γ of the tile's
T x N elements at once by the vectorisable e^x / sin / cos of ``numba_math`` (mamba, dirac,
real zoh; complex exponentials as e^re (cos, sin)), the other methods per step by the numba
twins of the numerics layer (``numba_support.sel_disc``); then the recurrence and y. B and C
are read in the caller's layout. Nothing of size (B, D, N, L) exists.

Backward, per task = (batch, group, slice of the group's channels): a first pass keeps the
state every ``_CK`` steps; then, chunk by chunk in reverse, the chunk's states, Ā and γ are
recomputed from its checkpoint into tile buffers and the adjoint loop
λ_t = c_t·gy_t + conj(Ā_{t+1})·λ_{t+1} runs over them, accumulating every gradient. h_{t-1} is
read from the recomputed states, never obtained by dividing by Ā. When every task's buffers
fit ``STORE_STATES_MAX_BYTES``, the first pass keeps all the channel's states (and mamba /
dirac's Ā) instead, and the reverse pass reads them rather than recomputing its chunk.
Per-(b, d) gradients of shared parameters (A, D-sized, constant B/C) go to per-row buffers
summed afterwards; variable B/C gradients are per (slice, batch, group) and summed over
slices.

With fewer rows than threads and long rows (``_numba_split.plan``), the forward and the VJP
cut each row into chunks over time instead (``_numba_split``, ``_numba_split_bwd``), so one
row of L = 65536 uses every core. Where ``_numba_nsplit.plan`` says so (real A, blocks of >= 8
states; a forward the time split can take: >= 16), each row's states are cut into blocks run
as virtual channels through ``_fwd`` / ``_bwd`` instead (``_numba_nsplit``).
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs
from .._shared.threads import threads as _threads
from . import _numba_nsplit, _numba_split, _numba_split_bwd
from ._numba_reverse import _scatter_tile
from ._numba_tiles import (
    _adj_tile,
    _adj_tile_md,
    _bu_tile,
    _disc_tile,
    _dot_tile,
    _gather_tile,
    _partials_tile,
    _raw_tile,
    _rec_tile,
    _scan_tile,
    _steps_tile,
)

_kernel = nbs.kernel()
prange = nbs.numba().prange
(_cexp, _exp_phi1, _dphi1, _softplus, _sigmoid, _rg, _conj, sel_disc,
 sel_disc_grad, _vexp) = nbs.scalars()
_CK = 64  # checkpoint interval (steps) of the backward
# The backward keeps the forward's states (not only checkpoints) when all its tasks' buffers
# fit in this many bytes; tests lower it to 0 to force the recompute.
STORE_STATES_MAX_BYTES = 64 << 20
_TT = 64  # time steps per tile of the forward: (Abar, gamma) of T*N elements in L1
_TM_MIN_CHANNELS = 4  # channels per group from which B/C are copied time-major (see _bc)
_M = nbm.helpers()
_vsigmoid, _zero, _one = _M["sigmoid"], _M["zero_of"], _M["one_of"]

# Scalars stay in the input precision: numba types float32 * 0 (an int literal) as float64,
# so typed zeros/ones come from _zero/_one (numba_math.zero_of/one_of).


@_kernel
def _fwd(u, delta, A, lnA, Bc, Bv, Cc, Cv, Dv, z, bias, dA_, h0, out, last,
         flags, method, G):
    """flags: (B_var, C_var, has_D, has_z, has_bias, has_deltaA, has_h0, softplus, cplx).
    Per row, tiles of _TT steps: steps, then (Abar, gamma) of the whole tile by the
    vectorisable helpers, the recurrence, then y of the tile."""
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    Dg = Dm // G
    bvar, cvar, hasD, hasz, hasb, hasdA, hash0, sp, cplx = flags
    rdt = u.dtype
    TN = _TT * N
    for row in prange(Bsz * Dm):
        b, d = row // Dm, row % Dm
        g = d // Dg
        h = np.zeros(N, A.dtype)
        ab, gm, hs = np.empty(TN, A.dtype), np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        wx, ws, wc = np.empty(TN, rdt), np.empty(TN, rdt), np.empty(TN, rdt)
        dts, dtAs = np.empty(_TT, rdt), np.empty(_TT, rdt)
        us, ys = np.empty(_TT, rdt), np.empty(_TT, rdt)
        if hash0:
            for n in range(N):
                h[n] = h0[b, d, n]
        for t0 in range(0, L, _TT):
            T = min(_TT, L - t0)
            _steps_tile(delta, bias, dA_, b, d, t0, T, hasb, sp, hasdA, dts, dtAs)
            urow, orow = u[b, d, t0:t0 + T], out[b, d, t0:t0 + T]  # (row views: no wraparound)
            for k in range(T):
                us[k] = urow[k]
            _disc_tile(method, A, lnA, d, dts, dtAs, T, ab, gm, wx, ws, wc)
            _scan_tile(T, N, ab, gm, us, Bc, Bv, bvar, b, g, d, t0, h, hs)
            _dot_tile(T, N, hs, Cc, Cv, cvar, b, g, d, t0, ys)
            if cplx:  # 2 Re(.) of a conjugate-pair state
                for k in range(T):
                    ys[k] += ys[k]
            if hasD:  # (without D, no 0 u term: an inf u stays out of y's own term)
                Dd = Dv[d]
                for k in range(T):
                    orow[k] = ys[k] + Dd * us[k]
            else:
                for k in range(T):
                    orow[k] = ys[k]
            if hasz:
                zrow = z[b, d, t0:t0 + T]
                for k in range(T):
                    orow[k] *= zrow[k] * _vsigmoid(zrow[k])
        for n in range(N):
            last[b, d, n] = h[n]


@_kernel
def _bwd(dout, u, delta, A, lnA, Bc, Bv, Cc, Cv, Dv, z, bias, dA_, h0, lam0,
         du, ddt, ddtA, dz, gA, gBc, gCc, gBv, gCv, gD, dh0, flags, method, G, S, two,
         store, Hst, Ast):
    """Gradients; flags as ``_fwd`` plus has_dlast. Shared-parameter gradients per row:
    gA/gBc/gCc (B, D, N), gD (B, D); variable B/C per slice: gBv/gCv (S, B, G, N, L).
    Chunks of _CK steps; each chunk's steps, (Abar, gamma) and states come from the forward's
    tile helpers (vectorisable exp), in pass 1 (checkpoints) and again in pass 2.
    With ``store``, pass 1 keeps every state of the channel in Hst[task] (index N + t N + n:
    the state after step t, [0:N] the state entering) and, for mamba/dirac, every Abar in
    Ast[task] (t N + n); pass 2 then reads them instead of recomputing the chunk (the same
    values: the recomputation is deterministic)."""
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    Dg = Dm // G
    bvar, cvar, hasD, hasz, hasb, hasdA, hash0, sp, cplx, hasdl = flags
    nck = (L + _CK - 1) // _CK
    rdt = u.dtype
    TN = _CK * N
    for task in prange(Bsz * G * S):
        b, rest = task // (G * S), task % (G * S)
        g, s = rest // S, rest % S
        ck = np.empty((nck, N), A.dtype)
        hs = np.empty(TN + N, A.dtype)  # hs[N + k N + n]: the state after step k
        Abs, gms, bu = np.empty(TN, A.dtype), np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        wx, ws, wc = np.empty(TN, rdt), np.empty(TN, rdt), np.empty(TN, rdt)
        dts, dtAs = np.empty(_CK, rdt), np.empty(_CK, rdt)
        us, gys = np.empty(_CK, rdt), np.empty(_CK, rdt)
        du_, ddt_, ddtA_ = np.empty(_CK, rdt), np.empty(_CK, rdt), np.empty(_CK, rdt)
        Bt, Ct = np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        gBt, gCt = np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        pAt, pAA, pgt = np.empty(TN, A.dtype), np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        pgtA, pgA = np.empty(TN, A.dtype), np.empty(TN, A.dtype)
        lam = np.zeros(N, A.dtype)
        acc_A = np.zeros(N, A.dtype)
        acc_B = np.zeros(N, A.dtype)
        acc_C = np.zeros(N, A.dtype)
        h = np.zeros(N, A.dtype)
        md = method == nbs.MAMBA or method == nbs.DIRAC
        keepA = store and md  # other methods' gamma and partials come from a recompute
        d_first = g * Dg + (Dg * s) // S
        for d in range(d_first, g * Dg + (Dg * (s + 1)) // S):
            acc_D = u[b, d, 0] * 0
            for n in range(N):
                h[n] = h0[b, d, n] if hash0 else _zero(h[n])  # (buffers reused across d)
                lam[n] = lam0[b, d, n] if hasdl else _zero(lam[n])
                acc_A[n] = _zero(acc_A[n])
                acc_B[n] = _zero(acc_B[n])
                acc_C[n] = _zero(acc_C[n])
            # pass 1: checkpoints (the state entering each chunk)
            if store:
                for n in range(N):
                    Hst[task, n] = h[n]
            for c in range(nck):
                t0 = c * _CK
                T = min(_CK, L - t0)
                for n in range(N):
                    ck[c, n] = h[n]
                _steps_tile(delta, bias, dA_, b, d, t0, T, hasb, sp, hasdA, dts, dtAs)
                urow = u[b, d, t0:t0 + T]
                for k in range(T):
                    us[k] = urow[k]
                ab = Ast[task, t0 * N:(t0 + T) * N] if keepA else Abs
                _disc_tile(method, A, lnA, d, dts, dtAs, T, ab, gms, wx, ws, wc)
                _bu_tile(T, N, gms, us, Bc, Bv, bvar, b, g, d, t0, bu)
                if store:
                    _rec_tile(T, N, ab, bu, h, Hst[task], N + t0 * N)
                else:
                    _rec_tile(T, N, ab, bu, h, hs, N)
            # pass 2: chunks in reverse; carry = conj(Abar_{t+1}) lam_{t+1} (+ dlast) in lam
            for c in range(nck - 1, -1, -1):
                t0 = c * _CK
                T = min(_CK, L - t0)
                # The reverse tile, written out here and in _numba_split_bwd's pass C: as one
                # njit function called per tile (~50 arguments, not inlined by LLVM) it cost
                # 6-10 % of this VJP (B1 D256 N16 L1024, interleaved in one run). Keep the two
                # in step; the tests compare both paths with the oracle.
                _steps_tile(delta, bias, dA_, b, d, t0, T, hasb, sp, hasdA, dts, dtAs)
                urow = u[b, d, t0:t0 + T]
                for k in range(T):
                    us[k] = urow[k]
                if store:  # the states (and mamba/dirac's Abar) kept by pass 1
                    hs = Hst[task, t0 * N:(t0 + T + 1) * N]
                    if keepA:
                        Abs = Ast[task, t0 * N:(t0 + T) * N]
                    else:
                        _disc_tile(method, A, lnA, d, dts, dtAs, T, Abs, gms, wx, ws, wc)
                else:
                    for n in range(N):
                        hs[n] = ck[c, n]
                        h[n] = ck[c, n]
                    _disc_tile(method, A, lnA, d, dts, dtAs, T, Abs, gms, wx, ws, wc)
                    _bu_tile(T, N, gms, us, Bc, Bv, bvar, b, g, d, t0, bu)
                    _rec_tile(T, N, Abs, bu, h, hs, N)
                _gather_tile(T, N, Bc, Bv, bvar, b, g, d, t0, Bt)
                _gather_tile(T, N, Cc, Cv, cvar, b, g, d, t0, Ct)
                if not md:
                    _partials_tile(method, A, lnA, d, dts, dtAs, T, Abs, gms, pAt, pAA, pgt,
                                   pgtA, pgA, wx, ws, wc)
                # per-step loops over row views, one per case (flags and t0 + k, possibly
                # negative to numba, inside one loop kept them scalar)
                gyrow = dout[b, d, t0:t0 + T]
                if hasz:  # the z gate: dy before it, dz
                    zrow, dzrow = z[b, d, t0:t0 + T], dz[b, d, t0:t0 + T]
                    for k in range(T):
                        y = _zero(us[k])
                        for n in range(N):
                            y += (Ct[k * N + n] * hs[(k + 1) * N + n]).real
                        zt = zrow[k]
                        sz = _vsigmoid(zt)
                        pre = (2 * y if cplx else y) + (Dv[d] * us[k] if hasD else 0)
                        dzrow[k] = gyrow[k] * pre * sz * (1 + zt * (1 - sz))
                        gys[k] = gyrow[k] * zt * sz
                else:
                    for k in range(T):
                        gys[k] = gyrow[k]
                for k in range(T):
                    acc_D += gys[k] * us[k]
                # bu (the recurrence's input) is spent: scratch for the adjoints lam_t
                if md:
                    _adj_tile_md(T, N, two, method == nbs.MAMBA, hs, Abs, Bt, Ct, A[d], dts,
                                 dtAs, us, gys, lam, acc_A, bu, gBt, gCt, du_, ddt_, ddtA_)
                else:
                    _adj_tile(T, N, two, hs, Abs, gms, Bt, Ct, pAt, pAA, pgt, pgtA, pgA, us,
                              gys, lam, acc_A, bu, gBt, gCt, du_, ddt_, ddtA_)
                if bvar:
                    _scatter_tile(T, N, gBt, gBv, s, b, g, t0, d == d_first)
                else:
                    for k in range(T):
                        for n in range(N):
                            acc_B[n] += gBt[k * N + n]
                if cvar:
                    _scatter_tile(T, N, gCt, gCv, s, b, g, t0, d == d_first)
                else:
                    for k in range(T):
                        for n in range(N):
                            acc_C[n] += gCt[k * N + n]
                durow, ddtrow = du[b, d, t0:t0 + T], ddt[b, d, t0:t0 + T]
                if hasD:
                    Dd = Dv[d]
                    for k in range(T):
                        durow[k] = du_[k] + Dd * gys[k]
                else:
                    for k in range(T):
                        durow[k] = du_[k] + _zero(gys[k])
                if hasdA:
                    ddtArow = ddtA[b, d, t0:t0 + T]
                    for k in range(T):
                        ddtArow[k] = ddtA_[k]
                else:
                    for k in range(T):
                        ddt_[k] += ddtA_[k]
                if sp:  # dts (its raw steps in dtAs' buffer: spent) through softplus' slope
                    _raw_tile(delta, bias, b, d, t0, T, hasb, dtAs)
                    for k in range(T):
                        raw = dtAs[k]
                        ddt_[k] *= _vsigmoid(raw) if raw <= 20 else _one(raw)
                for k in range(T):
                    ddtrow[k] = ddt_[k]
            gD[b, d] = acc_D
            for n in range(N):
                gA[b, d, n] = acc_A[n]
                gBc[b, d, n] = acc_B[n]
                gCc[b, d, n] = acc_C[n]
                dh0[b, d, n] = lam[n]


def _groups(B, C):
    return next((int(X.shape[1]) for X in (B, C) if X.ndim == 4), 1)


def _bc(X, st, tm):
    """(constant (D, N) or dummy, variable or dummy, 0 / 1 / 2: constant / the caller's
    (B, G, N, L) layout / a time-major (B, G, L, N) copy). The copy (``tm``) where every
    channel of a group reads it (D / G >= _TM_MIN_CHANNELS): the tile's T x N values are then
    contiguous, where the caller's rows of L = 1024 floats are 4 KiB apart and a step's N
    values map to one L1 set; it costs one pass over B, 1 / (D / G) of the scan's. Otherwise
    the caller's layout (at one row of L = 65536 the copy cost more memory traffic than the
    scan itself); the tiles then read it by row views."""
    if X.ndim == 2:
        return X, np.zeros((1, 1, 1, 1), st), 0
    X4 = X if X.ndim == 4 else X[:, None]
    if tm:
        return np.zeros((1, 1), st), np.ascontiguousarray(X4.transpose(0, 1, 3, 2)), 2
    return np.zeros((1, 1), st), np.ascontiguousarray(X4), 1


def _opt(x, shape_ndim, dtype):
    return x if x is not None else np.zeros((1,) * shape_ndim, dtype)


def _lnA(A, method):
    if method == "rglru":  # A > 0 was checked (under check_finite); elsewhere NaN propagates
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(A)
    return np.zeros(A.shape, A.dtype)


def _args(u, delta, A, B, C, D, z, delta_bias, deltaA, h0, softplus, method, split):
    """(arrays, flags) of the kernels; ``split``: for the split-over-time kernels (which read
    B/C in the caller's layout)."""
    rt, st = u.dtype, A.dtype
    tm = not split and u.shape[1] // _groups(B, C) >= _TM_MIN_CHANNELS
    Bc, Bv, bvar = _bc(B, st, tm)
    Cc, Cv, cvar = _bc(C, st, tm)
    flags = (bvar, cvar, D is not None, z is not None, delta_bias is not None,
             deltaA is not None, h0 is not None, bool(softplus), bool(np.iscomplexobj(A)))
    arrays = (u, delta, A, _lnA(A, method), Bc, Bv, Cc, Cv, _opt(D, 1, rt), _opt(z, 3, rt),
              _opt(delta_bias, 1, rt), _opt(deltaA, 3, rt), _opt(h0, 3, st))
    return arrays, flags


@nbs.launch
def forward(xp, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, *, softplus, method):
    """(out (B, D, L), last state (B, D, N))."""
    Bsz, Dm, L = u.shape
    Ks = _nsplit_plan(Bsz * Dm, A.shape[1], L, np.iscomplexobj(A), True)
    if Ks > 1:  # fewer rows than threads: the states split over them
        return _forward_nsplit(u, delta, A, B, C, D, z, delta_bias, deltaA, h0, softplus,
                               method, Ks)
    K, J = _numba_split.plan(Bsz * Dm, L, nbs.numba().get_num_threads())
    arrays, flags = _args(u, delta, A, B, C, D, z, delta_bias, deltaA, h0, softplus, method,
                          K > 1)
    out = np.empty((Bsz, Dm, L), u.dtype)
    last = np.empty((Bsz, Dm, A.shape[1]), A.dtype)
    if K > 1:  # fewer rows than threads: rows split over time
        _numba_split.forward_split(arrays, flags, nbs.METHOD_CODE[method], _groups(B, C), out,
                                   last, K, J)
    else:
        _fwd(*arrays, out, last, flags, nbs.METHOD_CODE[method], _groups(B, C))
    return out, last


@nbs.launch
def backward(xp, dout, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dlast, *, softplus,
             method):
    """(du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, ddeltaA, dh0) as ``_generic.backward``."""
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    rt, st = u.dtype, A.dtype
    G = _groups(B, C)
    Ks = _nsplit_plan(Bsz * Dm, N, L, np.iscomplexobj(A), False)
    if Ks > 1:  # fewer rows than threads: the states split over them
        return _backward_nsplit(dout, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dlast,
                                softplus, method, Ks)
    K, _ = _numba_split.plan(Bsz * Dm, L, nbs.numba().get_num_threads())
    split = K > 1 and Bsz * Dm > 0
    arrays, flags = _args(u, delta, A, B, C, D, z, delta_bias, deltaA, h0, softplus, method,
                          split)
    bvar, cvar = flags[0], flags[1]
    grads = _grad_rows(Bsz, Dm, L, N, rt, st, deltaA is not None, z is not None)
    lam0 = np.zeros((1, 1, 1), st) if dlast is None else dlast
    if split:  # fewer rows than threads: rows split over time
        bflags = (*flags, dlast is not None)
        two = rt.type(2 if flags[-1] else 1)  # 2 Re(.) of a conjugate-pair state
        gA, gBc, gCc, gBv, gCv, gD = _numba_split_bwd.backward_split(
            dout, arrays, lam0, bflags, nbs.METHOD_CODE[method], G, two, K, grads,
            STORE_STATES_MAX_BYTES)
    else:
        gA, gBc, gCc, gBv, gCv, gD = _run_bwd(dout, arrays, flags, lam0, dlast is not None,
                                              G, method, grads)
    du, ddt, ddtA, dz, dh0 = grads
    dB = _var_grad(gBv, B) if bvar else gBc.sum(axis=0)
    dC = _var_grad(gCv, C) if cvar else gCc.sum(axis=0)
    dD = None if D is None else gD.sum(axis=0)
    ddelta_bias = None if delta_bias is None else ddt.sum(axis=(0, 2))
    return (du, ddt, gA.sum(axis=0), dB, dC, dD, None if z is None else dz, ddelta_bias,
            None if deltaA is None else ddtA, None if h0 is None else dh0)


def _nsplit_plan(rows, N, L, cplx, fwd):
    """State blocks per row of the N split (1: none); a forced time split (tests) keeps it.
    ``fwd``: a forward, which keeps the time split unless its blocks hold 16 states."""
    if _numba_split.SPLIT_CHUNKS is not None and _numba_nsplit.NSPLIT_BLOCKS is None:
        return 1
    threads = nbs.numba().get_num_threads()
    time_split = fwd and _numba_split.plan(rows, L, threads)[0] > 1
    return _numba_nsplit.plan(rows, N, L, threads, cplx, time_split, not fwd)


def _forward_nsplit(u, delta, A, B, C, D, z, delta_bias, deltaA, h0, softplus, method, K):
    """``forward`` with each row's states in K blocks, run as virtual channels
    (``_numba_nsplit``): the virtual scans without D and the gate, then one pass summing the
    blocks and adding them."""
    Bsz, Dm, L = u.shape
    G = _groups(B, C)
    uv, dv, Av, Bv, Cv, _, bv, dAv, h0v = _numba_nsplit.virtual(
        u, delta, A, B, C, None, delta_bias, deltaA, h0, K, G)
    arrays, flags = _args(uv, dv, Av, Bv, Cv, None, None, bv, dAv, h0v, softplus, method,
                          False)
    ov = np.empty((Bsz, Dm * K, L), u.dtype)
    lastv = np.empty((Bsz, Dm * K, Av.shape[1]), A.dtype)
    _fwd(*arrays, ov, lastv, flags, nbs.METHOD_CODE[method], G * K)
    out = np.empty((Bsz, Dm, L), u.dtype)
    _numba_nsplit._fwd_join(ov, u, _opt(D, 1, u.dtype), _opt(z, 3, u.dtype), D is not None,
                            z is not None, K, G, out)
    return out, _numba_nsplit._join(lastv, K, G)


def _backward_nsplit(dout, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dlast, softplus,
                     method, K):
    """``backward`` with each row's states in K blocks as virtual channels
    (``_numba_nsplit``): the virtual VJP with the gate but without D, then one pass summing
    the blocks' du / ddelta / ddeltaA / dz and adding D's terms."""
    Bsz, Dm, L = u.shape
    rt, st = u.dtype, A.dtype
    G = _groups(B, C)
    uv, dv, Av, Bv, Cv, zv, bv, dAv, h0v = _numba_nsplit.virtual(
        u, delta, A, B, C, z, delta_bias, deltaA, h0, K, G)
    arrays, flags = _args(uv, dv, Av, Bv, Cv, None, zv, bv, dAv, h0v, softplus, method, False)
    bvar, cvar = flags[0], flags[1]
    virt = _grad_rows(Bsz, Dm * K, L, Av.shape[1], rt, st, deltaA is not None, z is not None)
    lam0 = np.zeros((1, 1, 1), st) if dlast is None else _numba_nsplit._cut(dlast, K, G)
    gA, gBc, gCc, gBv, gCv, gD = _run_bwd(_numba_nsplit._rep(dout, K, G), arrays, flags, lam0,
                                          dlast is not None, G * K, method, virt)
    duv, ddtv, ddtAv, dzv, dh0v = virt
    du, ddt, ddtA, dz, _ = _grad_rows(Bsz, Dm, L, 0, rt, st, deltaA is not None, z is not None)
    _numba_nsplit._bwd_join(duv, ddtv, ddtAv, dzv, dout, u, _opt(D, 1, rt), _opt(z, 3, rt),
                            D is not None, z is not None, deltaA is not None, K, G, du, ddt,
                            ddtA, dz)
    join = _numba_nsplit._join
    dB = _var_grad(gBv, B) if bvar else join(gBc.sum(axis=0), K, G)
    dC = _var_grad(gCv, C) if cvar else join(gCc.sum(axis=0), K, G)
    # every block's gD is the same sum(gy u): block 0's (virtual channels (g K) Dg + i)
    gD0 = gD.reshape(Bsz, G, K, Dm // G)[:, :, 0].reshape(Bsz, Dm)
    dD = None if D is None else gD0.sum(axis=0)
    ddelta_bias = None if delta_bias is None else ddt.sum(axis=(0, 2))
    return (du, ddt, join(gA.sum(axis=0), K, G), dB, dC, dD, None if z is None else dz,
            ddelta_bias, None if deltaA is None else ddtA,
            None if h0 is None else join(dh0v, K, G))


def _grad_rows(Bsz, Dm, L, N, rt, st, has_dA, has_z):
    """(du, ddelta, ddeltaA, dz, dh0) output buffers of the kernels (absent ones: dummies)."""
    du, ddt = np.empty((Bsz, Dm, L), rt), np.empty((Bsz, Dm, L), rt)
    ddtA = np.empty((Bsz, Dm, L), rt) if has_dA else np.zeros((1, 1, 1), rt)
    dz = np.empty((Bsz, Dm, L), rt) if has_z else np.zeros((1, 1, 1), rt)
    return du, ddt, ddtA, dz, np.empty((Bsz, Dm, N), st)


def _run_bwd(dout, arrays, flags, lam0, has_dl, G, method, grads):
    """The unsplit ``_bwd`` over ``arrays`` (``_args``'s) into ``grads`` (``_grad_rows``'s);
    returns the per-row shared-parameter gradients (gA, gBc, gCc, gBv, gCv, gD)."""
    u, A = arrays[0], arrays[2]
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    rt, st = u.dtype, A.dtype
    bvar, cvar = flags[0], flags[1]
    two = rt.type(2 if flags[-1] else 1)  # 2 Re(.) of a conjugate-pair state
    # Channel slices per group: enough tasks for every core, none when B*G already is.
    # (max(1, .) in the divisor: batch 0 makes no tasks, and must not divide by zero.)
    S = max(1, min(Dm // G, -(-2 * _threads() // max(1, Bsz * G))))
    gA, gBc, gCc = (np.empty((Bsz, Dm, N), st) for _ in range(3))
    gD = np.empty((Bsz, Dm), rt)
    vshape = (S, Bsz, G, N, L)
    # A slice's first channel writes its variable B/C gradient slots (=), the rest add:
    # no zero fill (a slice has a channel whenever there are channels: S <= D / G).
    alloc = np.empty if Dm // G > 0 else np.zeros
    gBv = alloc(vshape, st) if bvar else np.zeros((1, 1, 1, 1, 1), st)
    gCv = alloc(vshape, st) if cvar else np.zeros((1, 1, 1, 1, 1), st)
    store, Hst, Ast = _state_store(Bsz * G * S, L, N, st, method)
    _bwd(dout, *arrays, lam0, *grads[:4], gA, gBc, gCc, gBv, gCv, gD, grads[4],
         (*flags, has_dl), nbs.METHOD_CODE[method], G, S, two, store, Hst, Ast)
    return gA, gBc, gCc, gBv, gCv, gD


def _state_store(tasks, L, N, st, method):
    """(store, Hst, Ast): whole-channel state (and mamba/dirac Abar) buffers per task when
    they fit STORE_STATES_MAX_BYTES, else dummies and the checkpoint recompute."""
    keepA = method in ("mamba", "dirac")
    nbytes = tasks * (2 if keepA else 1) * (L + 1) * N * np.dtype(st).itemsize
    if tasks == 0 or L == 0 or nbytes > STORE_STATES_MAX_BYTES:
        return False, np.zeros((1, 1), st), np.zeros((1, 1), st)
    Ast = np.empty((tasks, L * N), st) if keepA else np.zeros((1, 1), st)
    return True, np.empty((tasks, (L + 1) * N), st), Ast


def _var_grad(gv, X):
    return (gv.sum(axis=0) if gv.shape[0] > 1 else gv[0]).reshape(X.shape)

