"""numba S5 VJP in two passes per work unit, with no (B, P, L) complex temporary.

Per unit (a batch b and a block of states, the lanes; ``_numba_fused``'s tiles and helpers):

1. forward over the time tiles: ``v = B u`` and (Abar, gamma) of each tile, the recurrence,
   keeping only the state entering each tile (a checkpoint of n states per tile);
2. backward over the tiles, last first: the tile's v and discretisation again, now with the
   partials (dAbar/ddtA, dAbar/dA, dgamma/ddt, dgamma/dA), its states x from the checkpoint,
   ``dx = C^H g`` of the tile, the adjoint lambda_t = dx_t + conj(Abar_{t+1}) lambda_{t+1}
   in reverse with d(Bu) = conj(gamma) lambda, dAbar = lambda conj(x_{t-1}), dgamma =
   lambda conj(v); the step adjoints (written per element, or summed where a step is constant
   in time), dA, and the GEMM-shaped sums ``du = B^H d(Bu)``, ``dB = sum d(Bu) u^H``,
   ``dC = sum g x^H`` of the tile, all on planes in the cache.

x_{t-1} is recomputed from the checkpoint, never obtained by dividing by Abar. The forward
pass stores no states (``recur_state_tile``). Abar's two partials are a Q and sA Q (Q = Abar,
or ia^2 for bilinear, ``disc_grad_q_tile``), so the backward takes conj(Q) dAbar once and
stores neither partial; zoh with one step reads dgamma/ds = E from Abar's planes (no copy).

Where the time goes (s5_inner zoh, varying steps, complex64, B4 H16 P256 L1024, one thread,
2-core AVX-512 Xeon, ns a state element of ~22 in all; each phase's figure is the time saved
by leaving it out): the forward pass's discretisation 2.7, the backward's with its partials
3.5, dx = C^H g 1.2, du = B^H d(Bu) 1.4, dB and dC 2.1, writing the (B, P, L) step adjoint
1.8-2.9 (the same loop into a reused array: 0.65; first-touch page faults of the fresh output
cost ~1 ns a float32 element on that machine, no transparent huge pages), the adjoint, dAbar,
dgamma and dA loops together < 0.4.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_support as nbs
from .._shared.numerics import DPHI1_COEF, SERIES_RADIUS
from . import _numba_fused as F
from ._numba_fused_gemm import outer_acc

_kernel = nbs.kernel()
prange = nbs.numba().prange
_JIT = F._JIT
_zero, _one, _vsincos, _expm1_exp = F._zero, F._one, F._vsincos, F._expm1_exp
TILE_ELEMS = 4096  # ~30 real planes of T * n per unit stay in L2
_NC = len(DPHI1_COEF)  # a compile-time count: the series loop unrolls, the tile vectorises
# float32 takes the series' first 9 terms: below SERIES_RADIUS they reach 1e-9 relative (the
# numerics layer's bound), under float32's half ulp; the 8 more cost ~1.1 ns an element.
_NC32 = 9


@nbs.numba().njit(**_JIT)
def _zoh_grad_tile(s, Ar, Ai, c0, n, T, coef, rad2, copy_e, abr, abi, gmr, gmi, er, ei, gar,
                   gai, wx, ws, wc):
    """zoh: Abar = E = e^x, gamma = s phi1(x), E (dgamma/ds; copied into (er, ei) only if
    ``copy_e``, else it is Abar's planes) and s^2 phi1'(x) (dgamma/dA),
    x = s a; phi1' = (E - phi1)/x, or its Taylor series (``coef``; ``_NC32`` terms for
    float32) where |x|^2 < rad2 (the numerics layer's SERIES_RADIUS, squared) and that
    cancels: both evaluated, one selected (branch-free)."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    one = _one(Ar[0])
    zero = one - one
    wide = coef.itemsize == 8  # (a constant of the type: each branch compiles alone)
    F._zoh_e_tile(s, Ar, Ai, c0, n, T, abr, abi, wx, ws, wc)
    F._phi1_tile(s, Ar, Ai, c0, n, T, wx, abi, False, ws, wc)  # phi1 into (ws, wc)
    for i in range(T * n):
        gmr[i] = s[i] * ws[i]
        gmi[i] = s[i] * wc[i]
    if copy_e:
        for i in range(T * n):
            er[i] = abr[i]
            ei[i] = abi[i]
    for k in range(T):
        for j in range(n):
            i = k * n + j
            xr, xi = s[i] * Ar[c0 + j], s[i] * Ai[c0 + j]
            rr, ri = F._recip_planes(xr, xi)
            dr, di = abr[i] - ws[i], abi[i] - wc[i]
            fr, fi = dr * rr - di * ri, dr * ri + di * rr  # (E - phi1) / x
            if wide:
                cr, ci = coef[_NC - 1], zero
                for kk in range(_NC - 1):
                    c = coef[_NC - 2 - kk]
                    cr, ci = cr * xr - ci * xi + c, cr * xi + ci * xr
            else:
                cr, ci = coef[_NC32 - 1], zero
                for kk in range(_NC32 - 1):
                    c = coef[_NC32 - 2 - kk]
                    cr, ci = cr * xr - ci * xi + c, cr * xi + ci * xr
            small = xr * xr + xi * xi < rad2
            s2 = s[i] * s[i]
            gar[i] = s2 * (cr if small else fr)
            gai[i] = s2 * (ci if small else fi)


@nbs.numba().njit(**_JIT)
def disc_grad_q_tile(method, s, sA, has_dtA, Ar, Ai, c0, n, T, coef, rad2, abr, abi, gmr, gmi,
                     gtr, gti, gar, gai, qr, qi, wx, ws, wc):
    """``disc_grad_tile``'s planes for the fused VJP, with Abar's two partials as one: dAbar/dsA
    = a Q and dAbar/dA = sA Q, Q = Abar (zoh, dirac) or ia^2 (bilinear, into (qr, qi)), so the
    kernel takes conj(Q) dAbar once and neither partial is stored (4 planes written and read
    fewer). zoh without a separate A step leaves gt = E in Abar's planes (no copy)."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    one = _one(Ar[0])
    if method == nbs.BILINEAR:
        half = one / 2
        F.recip_half_tile(sA, Ar, Ai, c0, n, T, wx, ws)
        for k in range(T):
            for j in range(n):
                i = k * n + j
                xr, xi = sA[i] * Ar[c0 + j] * half, sA[i] * Ai[c0 + j] * half
                nr = one + xr
                abr[i] = nr * wx[i] - xi * ws[i]
                abi[i] = nr * ws[i] + xi * wx[i]
        for i in range(T * n):
            qr[i] = wx[i] * wx[i] - ws[i] * ws[i]
            qi[i] = (wx[i] + wx[i]) * ws[i]
        if has_dtA:
            F.recip_half_tile(s, Ar, Ai, c0, n, T, wx, ws)
        for i in range(T * n):
            gmr[i] = s[i] * wx[i]
            gmi[i] = s[i] * ws[i]
        for i in range(T * n):
            gtr[i] = wx[i] * wx[i] - ws[i] * ws[i]
            gti[i] = (wx[i] + wx[i]) * ws[i]
        for i in range(T * n):
            w = s[i] * s[i] * half
            gar[i] = w * gtr[i]
            gai[i] = w * gti[i]
    elif method == nbs.ZOH:
        _zoh_grad_tile(s, Ar, Ai, c0, n, T, coef, rad2, has_dtA, abr, abi, gmr, gmi, gtr, gti,
                       gar, gai, wx, ws, wc)
        if has_dtA:
            F._exp_tile(sA, Ar, Ai, c0, n, T, abr, abi, wx, ws, wc)
    else:  # dirac: gamma = 1
        F._exp_tile(sA, Ar, Ai, c0, n, T, abr, abi, wx, ws, wc)
        for i in range(T * n):
            gmr[i], gmi[i] = one, one - one
        for i in range(T * n):
            gtr[i], gti[i] = one - one, one - one
        for i in range(T * n):
            gar[i], gai[i] = one - one, one - one


@nbs.numba().njit(**_JIT)
def disc_grad_tile(method, s, sA, has_dtA, Ar, Ai, c0, n, T, coef, rad2, abr, abi, gmr, gmi, gtr,
                   gti, gar, gai, atr, ati, aar, aai, wx, ws, wc):
    """(Abar, gamma) and the partials (gt = dgamma/ds, ga = dgamma/dA, at = dAbar/dsA,
    aa = dAbar/dA) planes of a (T, n) tile (the row kernels' form): ``disc_grad_q_tile``,
    then Abar's partials a Q and sA Q written out (bilinear's Q = ia^2 goes through aa's
    planes), and zoh's gt = E copied where that left it in Abar's planes."""
    c0 = max(c0, 0)  # (known >= 0: no negative-index select per access)
    disc_grad_q_tile(method, s, sA, has_dtA, Ar, Ai, c0, n, T, coef, rad2, abr, abi, gmr, gmi,
                     gtr, gti, gar, gai, aar, aai, wx, ws, wc)
    if method == nbs.ZOH and not has_dtA:
        for i in range(T * n):
            gtr[i] = abr[i]
            gti[i] = abi[i]
    bil = method == nbs.BILINEAR
    Qr, Qi = (aar, aai) if bil else (abr, abi)
    for k in range(T):  # d/dsA = a Q, d/dA = sA Q (Q in place last: aa may hold it)
        for j in range(n):
            i = k * n + j
            atr[i] = Ar[c0 + j] * Qr[i] - Ai[c0 + j] * Qi[i]
            ati[i] = Ar[c0 + j] * Qi[i] + Ai[c0 + j] * Qr[i]
    for i in range(T * n):
        aar[i] = sA[i] * Qr[i]
        aai[i] = sA[i] * Qi[i]


@_kernel
def _fused_bwd(u, g, dt3, dtA3, has_dtA, Ar, Ai, BrT, BiT, nBiT, Cr, Cci, h0, has_h0, dl,
               has_dl, method, P, PB, T, coef, rad2, dur_, dui_, dBr_, dBi_, dCr_, dCi_, gA, rg, ra,
               dh0):
    """Per unit: du (planes, per block), dB (b, p, h), conj(dC) (b, h, p) planes, gA (b, p),
    rg/ra (B, P, L or 1: the step adjoints of gamma's and Abar's steps; rg their sum where
    there is no separate A step), dh0 (b, p)."""
    Bsz, H, L = u.shape
    nblk = dur_.shape[0]
    const = dt3.shape[2] == 1 and (not has_dtA or dtA3.shape[2] == 1)
    tg, ta = rg.shape[2] > 1, ra.shape[2] > 1
    rdt = Ar.dtype
    ntile = -(-L // T)
    for unit in prange(Bsz * nblk):
        b, blk = unit // nblk, unit % nblk
        p0 = blk * PB
        nr = min(PB, P - p0)
        n = PB
        m = T * n
        s, sA = np.empty(m, rdt), np.empty(m, rdt)
        abr, abi, gmr, gmi = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        gtr, gti, gar, gai = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        qr, qi, dgr, dgi = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        vr, vi, xr, xi = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        dxr, dxi, rgt, rat = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        wx, ws, wc = np.empty(m, rdt), np.empty(m, rdt), np.empty(m, rdt)
        # dgamma/ds is Abar's planes for zoh with one step; Q (``disc_grad_q_tile``) is Abar's
        # planes but for bilinear (same-typed arrays: numba selects the reference)
        e_in_ab = method == nbs.ZOH and not has_dtA
        etr, eti = (abr, abi) if e_in_ab else (gtr, gti)
        q_r, q_i = (qr, qi) if method == nbs.BILINEAR else (abr, abi)
        tur, tui = np.empty(T * H, rdt), np.empty(T * H, rdt)
        ckr, cki = np.empty(ntile * n, rdt), np.empty(ntile * n, rdt)
        hr, hi = np.zeros(n, rdt), np.zeros(n, rdt)
        if has_h0:
            for j in range(nr):
                hr[j] = h0[b, p0 + j].real
                hi[j] = h0[b, p0 + j].imag
        # 1. forward: the state entering each tile
        for it in range(ntile):
            t0 = it * T
            Tn = min(T, L - t0)
            ck = max(it * n, 0)
            for j in range(n):
                ckr[ck + j] = hr[j]
                cki[ck + j] = hi[j]
            if it == 0 or not const:
                Td = T if const else Tn
                F.tile_steps(dt3, dtA3, has_dtA, b, p0, nr, n, t0, Td, s, sA)
                F.disc_tile(method, s, sA, has_dtA, Ar, Ai, p0, n, Td, abr, abi, gmr, gmi,
                            wx, ws, wc)
            F.project_tile(u, b, t0, Tn, BrT, BiT, p0, n, vr, vi)
            F.recur_state_tile(Tn, n, abr, abi, gmr, gmi, vr, vi, hr, hi)
        # 2. backward, last tile first; l carries conj(Abar_{t+1}) lambda_{t+1}
        lr, li = np.zeros(n, rdt), np.zeros(n, rdt)
        if has_dl:
            for j in range(nr):
                lr[j] = dl[b, p0 + j].real
                li[j] = dl[b, p0 + j].imag
        accr, acci = np.zeros(n, rdt), np.zeros(n, rdt)
        sg, sa = np.zeros(n, rdt), np.zeros(n, rdt)
        dBr, dBi = np.zeros(H * n, rdt), np.zeros(H * n, rdt)
        dCr, dCi = np.zeros(H * n, rdt), np.zeros(H * n, rdt)
        for q in range(ntile):
            it = ntile - 1 - q
            t0 = it * T
            Tn = min(T, L - t0)
            if q == 0 or not const:
                Td = T if const else Tn
                F.tile_steps(dt3, dtA3, has_dtA, b, p0, nr, n, t0, Td, s, sA)
                disc_grad_q_tile(method, s, sA, has_dtA, Ar, Ai, p0, n, Td, coef, rad2, abr, abi,
                                 gmr, gmi, gtr, gti, gar, gai, qr, qi, wx, ws, wc)
            F.project_tile(u, b, t0, Tn, BrT, BiT, p0, n, vr, vi)
            ck = max(it * n, 0)
            for j in range(n):
                hr[j] = ckr[ck + j]
                hi[j] = cki[ck + j]
            F.recur_tile(Tn, n, abr, abi, gmr, gmi, vr, vi, hr, hi, xr, xi)
            # dx = C^H g: the forward's projection on conj(C)'s planes (Cr, Cci = -Im C)
            F.project_tile(g, b, t0, Tn, Cr, Cci, p0, n, dxr, dxi)
            # lambda_t = dx_t + conj(Abar_{t+1}) lambda_{t+1}, in place of dx (the one
            # sequential loop; each loop below writes <= 2 buffers so LLVM vectorises it
            # within its limit of runtime alias checks)
            for kk in range(Tn):
                o = max((Tn - 1 - kk) * n, 0)  # (max: known >= 0; else sign selects)
                for j in range(n):
                    dxr[o + j] += lr[j]
                    dxi[o + j] += li[j]
                for j in range(n):
                    i = o + j
                    lr[j] = abr[i] * dxr[i] + abi[i] * dxi[i]
                    li[j] = abr[i] * dxi[i] - abi[i] * dxr[i]
            # conj(Q) dAbar, dAbar = lambda conj(x_{t-1}), into (wx, ws); dgamma = lambda
            # conj(v) into (dgr, dgi)
            for k in range(Tn):
                o = max(k * n, 0)
                src_r, src_i, qo = (xr, xi, o - n) if k > 0 else (ckr, cki, it * n)
                qo = max(qo, 0)
                for j in range(n):
                    i = o + j
                    pr = dxr[i] * src_r[qo + j] + dxi[i] * src_i[qo + j]
                    pi = dxi[i] * src_r[qo + j] - dxr[i] * src_i[qo + j]
                    wx[i] = q_r[i] * pr + q_i[i] * pi
                    ws[i] = q_r[i] * pi - q_i[i] * pr
            for i in range(Tn * n):
                dgr[i] = dxr[i] * vr[i] + dxi[i] * vi[i]
                dgi[i] = dxi[i] * vr[i] - dxr[i] * vi[i]
            for k in range(Tn):  # dA += sA conj(Q) dAbar + conj(dgamma/dA) dgamma
                o = max(k * n, 0)
                for j in range(n):
                    i = o + j
                    accr[j] += sA[i] * wx[i] + gar[i] * dgr[i] + gai[i] * dgi[i]
                    acci[j] += sA[i] * ws[i] + gar[i] * dgi[i] - gai[i] * dgr[i]
            # the real step adjoints: Re(conj(dgamma/ds) dgamma), Re(conj(a) conj(Q) dAbar);
            # their sum in rgt where there is no separate A step
            c0 = max(p0, 0)  # (known >= 0: no negative-index select per access)
            if has_dtA:
                for k in range(Tn):
                    o = max(k * n, 0)
                    for j in range(n):
                        i = o + j
                        rgt[i] = etr[i] * dgr[i] + eti[i] * dgi[i]
                        rat[i] = Ar[c0 + j] * wx[i] + Ai[c0 + j] * ws[i]
            else:
                for k in range(Tn):
                    o = max(k * n, 0)
                    for j in range(n):
                        i = o + j
                        rgt[i] = (etr[i] * dgr[i] + eti[i] * dgi[i]
                                  + (Ar[c0 + j] * wx[i] + Ai[c0 + j] * ws[i]))
            for i in range(Tn * n):  # d(Bu) = conj(gamma) lambda into v's planes
                vr[i] = gmr[i] * dxr[i] + gmi[i] * dxi[i]
                vi[i] = gmr[i] * dxi[i] - gmi[i] * dxr[i]
            # step adjoints: per element where the step varies in time, else summed
            t0, p0 = max(t0, 0), max(p0, 0)
            for j in range(nr):
                if tg:
                    for k in range(Tn):
                        rg[b, p0 + j, t0 + k] = rgt[k * n + j]
                else:
                    for k in range(Tn):
                        sg[j] += rgt[k * n + j]
                if has_dtA:
                    if ta:
                        for k in range(Tn):
                            ra[b, p0 + j, t0 + k] = rat[k * n + j]
                    else:
                        for k in range(Tn):
                            sa[j] += rat[k * n + j]
            # du = conj(B)^T dBu: the forward's output product on conj(B)'s planes
            F.output_tile(Tn, n, p0, BrT, BiT, nBiT, vr, vi, True, tur, tui)
            for h in range(H):
                for k in range(Tn):
                    dur_[blk, b, h, t0 + k] = tur[k * H + h]
                    dui_[blk, b, h, t0 + k] = tui[k * H + h]
            outer_acc(u, b, t0, Tn, n, vr, vi, dBr, dBi)
            outer_acc(g, b, t0, Tn, n, xr, xi, dCr, dCi)  # sum x conj(g) = conj(dC)
        for j in range(nr):
            p = p0 + j
            gA[b, p] = accr[j] + 1j * acci[j]
            dh0[b, p] = lr[j] + 1j * li[j]
            if not tg:
                rg[b, p, 0] = sg[j]
            if has_dtA and not ta:
                ra[b, p, 0] = sa[j]
            for h in range(H):
                dBr_[b, p, h] = dBr[h * n + j]
                dBi_[b, p, h] = dBi[h * n + j]
                dCr_[b, h, p] = dCr[h * n + j]
                dCi_[b, h, p] = dCi[h * n + j]


def run(g, u, dt3, A, B, C, dtA3, h0, dlast, disc, threads):
    """(du, ddt3, dA, dB, dC, ddtA3, dh0) at the normalised shapes, as ``_generic.backward``."""
    Bsz, H, L = u.shape
    P = A.shape[0]
    rdt = dt3.dtype
    PB, nblk = F.blocks(Bsz, P, threads)
    Pp = PB * nblk
    T = max(8, min(256, TILE_ELEMS // PB))
    dtA, has_dtA = (dtA3, True) if dtA3 is not None else (dt3, False)
    one11 = np.zeros((1, 1), u.dtype)
    h0_, has_h0 = (h0, True) if h0 is not None else (one11, False)
    dl_, has_dl = (dlast, True) if dlast is not None else (one11, False)
    rows = np.zeros((Pp - P, H), rdt)
    Bp = np.concatenate([B.real, rows]), np.concatenate([B.imag, rows])  # (Pp, H)
    BiT = np.ascontiguousarray(Bp[1].T)
    planes = (F._pad_cols(A.real, Pp), F._pad_cols(A.imag, Pp), np.ascontiguousarray(Bp[0].T),
              BiT, -BiT, F._pad_cols(C.real, Pp),
              F._pad_cols(-C.imag, Pp))  # conj(C)'s planes
    dur, dui = np.empty((nblk, Bsz, H, L), rdt), np.empty((nblk, Bsz, H, L), rdt)
    dBr, dBi = np.empty((Bsz, P, H), rdt), np.empty((Bsz, P, H), rdt)
    dCr, dCi = np.empty((Bsz, H, P), rdt), np.empty((Bsz, H, P), rdt)
    gA, dh0 = np.empty((Bsz, P), u.dtype), np.empty((Bsz, P), u.dtype)
    rg = np.empty((Bsz, P, L if dt3.shape[2] > 1 else 1), rdt)
    ra = np.empty((Bsz, P, L if dtA.shape[2] > 1 else 1) if has_dtA else (1, 1, 1), rdt)
    coef = np.array(DPHI1_COEF, rdt)
    _fused_bwd(u, g, dt3, dtA, has_dtA, *planes, h0_, has_h0, dl_, has_dl, F._CODE[disc], P,
               PB, T, coef, rdt.type(SERIES_RADIUS * SERIES_RADIUS), dur, dui, dBr, dBi, dCr,
               dCi, gA, rg, ra, dh0)
    du = np.empty((Bsz, H, L), u.dtype)
    du.real, du.imag = dur.sum(axis=0), dui.sum(axis=0)
    dB = np.empty((P, H), u.dtype)
    dB.real, dB.imag = dBr.sum(axis=0), dBi.sum(axis=0)
    dC = np.empty((H, P), u.dtype)
    dC.real, dC.imag = dCr.sum(axis=0), -dCi.sum(axis=0)
    ddt = _sum_to(rg, dt3.shape)
    ddtA = _sum_to(ra, dtA3.shape) if has_dtA else None
    return du, ddt, gA.sum(axis=0), dB, dC, ddtA, (None if h0 is None else dh0)


def _sum_to(r, shape):
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, r.shape)) if n == 1 and m != 1)
    r = r.sum(axis=axes, keepdims=True) if axes else r
    return r.reshape(shape)
