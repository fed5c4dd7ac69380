"""The numba selective scan's per-tile helpers: steps, (Abar, gamma) by the vectorisable
helpers of :mod:`numba_math`, the recurrence, y, and the VJP's partials and adjoint.

A tile is T <= 64 steps of one (batch, channel) row: its T x N values (k-major, index k N + n)
sit in L1, so each helper is a plain loop LLVM vectorises over the tile (no libm call inside).
Used by ``_numba._fwd`` / ``_numba._bwd``.
"""

from __future__ import annotations

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs
from ._numba_disc import disc_fast, partials_fast
from ._numba_zoh_grad import zoh_partials

(_cexp, _exp_phi1, _dphi1, _softplus, _sigmoid, _rg, _conj, sel_disc,
 sel_disc_grad, _vexp) = nbs.scalars()
_M = nbm.helpers()
_exp_outer, _zoh_outer, _vsoftplus, _vsigmoid, _zero, _one = (
    _M[k] for k in ("exp_outer", "zoh_outer", "softplus", "sigmoid", "zero_of", "one_of"))


@nbs.numba().njit(cache=True, inline="always")
def _disc_row(method, A, lnA, d, dt, dtA, ab, gm):
    """ab[n], gm[n] = (Abar, gamma) at (d, n) for every n: the method is branched on once per
    step, outside the loop over states (a branch per state cost ~5 ns)."""
    N = A.shape[1]
    if method == nbs.MAMBA or method == nbs.DIRAC:
        g = dt if method == nbs.MAMBA else _one(dt)
        for n in range(N):
            ab[n] = _cexp(dtA * A[d, n])
            gm[n] = g
    elif method == nbs.ZOH:
        same = dtA == dt  # one step for both: Abar is the E of phi1's evaluation
        for n in range(N):
            E, phi = _exp_phi1(dt * A[d, n])
            ab[n] = E if same else _cexp(dtA * A[d, n])
            gm[n] = dt * phi
    else:
        for n in range(N):
            ab[n], gm[n] = sel_disc(method, A[d, n], dt, dtA, lnA[d, n])


@nbs.numba().njit(cache=True, error_model="numpy")
def _raw_tile(delta, bias, b, d, t0, T, hasb, raw):
    """raw[:T] = delta (+ bias) of steps t0..: the softplus arguments (the VJP's slope)."""
    drow = delta[b, d, t0:t0 + T]
    if hasb:
        bb = bias[d]
        for k in range(T):
            raw[k] = drow[k] + bb
    else:
        for k in range(T):
            raw[k] = drow[k]


@nbs.numba().njit(cache=True, error_model="numpy")
def _steps_tile(delta, bias, dA_, b, d, t0, T, hasb, sp, hasdA, dts, dtAs):
    """dts[:T], dtAs[:T]: the input and A steps of steps t0.. . Row views and one loop per
    case: with the flags tested inside one loop over (possibly negative, to numba) t0 + k,
    softplus ran scalar (~20 ns a step on a Zen 3); so it is a loop LLVM vectorises."""
    _raw_tile(delta, bias, b, d, t0, T, hasb, dts)
    if sp:
        for k in range(T):
            dts[k] = _vsoftplus(dts[k])
    if hasdA:
        arow = dA_[b, d, t0:t0 + T]
        for k in range(T):
            dtAs[k] = arow[k]
    else:
        for k in range(T):
            dtAs[k] = dts[k]


@nbs.numba().njit(cache=True, error_model="numpy")
def _disc_tile(method, A, lnA, d, dts, dtAs, T, ab, gm, wx, ws, wc):
    """ab[k N + n], gm[k N + n] = (Abar, gamma) at step k of the tile, state n. mamba/dirac
    (and zoh's Abar on its own step) take e^(dtA A) by the vectorisable exp over the whole
    tile; real zoh's phi1 the vectorisable expm1; complex zoh and bilinear ``_numba_disc``'s
    tile loops; the rest (s7, rglru) the scalar formulas per step."""
    N = A.shape[1]
    zero = _zero(A[d, 0])
    if method == nbs.MAMBA or method == nbs.DIRAC:
        _exp_outer(dtAs, A[d], T, ab, wx, ws, wc)
        for k in range(T):
            g = dts[k] if method == nbs.MAMBA else _one(dts[k])
            for n in range(N):
                gm[k * N + n] = zero + g
        return
    if method == nbs.ZOH and _zoh_outer(dts, A[d], T, ab, gm):  # (real A only)
        same = True
        for k in range(T):
            same = same and dtAs[k] == dts[k]
        if not same:
            _exp_outer(dtAs, A[d], T, ab, wx, ws, wc)
        return
    if disc_fast(method, A[d], dts, dtAs, T, ab, gm, wx, ws, wc):  # complex zoh, bilinear
        return
    for k in range(T):
        _disc_row(method, A, lnA, d, dts[k], dtAs[k], ab[k * N:(k + 1) * N],
                  gm[k * N:(k + 1) * N])


@nbs.numba().njit(cache=True, error_model="numpy")
def _bu_tile(T, N, gm, us, Bc, Bv, bvar, b, g, d, t0, bu):
    """bu[k N + n] = gm[k N + n] B[t0 + k, n] u[t0 + k] (gamma B u, the recurrence's input;
    bu may be gm itself). bvar: 0 constant B (D, N); 1 the caller's (B, G, N, L); 2 a
    time-major copy (B, G, L, N) (see ``_numba._bc``)."""
    if bvar == 2:  # the tile's T x N values contiguous: one vector loop per step
        for k in range(T):
            uk = us[k]
            j = k * N
            for n in range(N):
                bu[j + n] = gm[j + n] * Bv[b, g, t0 + k, n] * uk
    elif bvar:
        # n outer over a row view: rows of L = 1024 floats are 4 KiB apart, so a step's N
        # values (k outer) share one L1 set and evicted each other (2x slower at L = 1024
        # than at 1000 on a Zen 3)
        for n in range(N):
            row = Bv[b, g, n, t0:t0 + T]
            for k in range(T):
                bu[k * N + n] = gm[k * N + n] * row[k] * us[k]
    else:
        for k in range(T):
            for n in range(N):
                bu[k * N + n] = gm[k * N + n] * Bc[d, n] * us[k]


@nbs.numba().njit(cache=True, error_model="numpy")
def _rec_tile(T, N, ab, bu, h, hs, off):
    """h <- the recurrence over the tile's T steps; hs[off + k N + n] = h after step k."""
    for k in range(T):
        for n in range(N):  # independent over n: vectorised
            h[n] = ab[k * N + n] * h[n] + bu[k * N + n]
            hs[off + k * N + n] = h[n]


@nbs.numba().njit(cache=True, error_model="numpy")
def _scan_tile(T, N, ab, gm, us, Bc, Bv, bvar, b, g, d, t0, h, hs):
    """h <- the recurrence over the tile's T steps; hs[k N + n] = h after step k."""
    _bu_tile(T, N, gm, us, Bc, Bv, bvar, b, g, d, t0, gm)
    _rec_tile(T, N, ab, gm, h, hs, 0)


@nbs.numba().njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _dot_tile(T, N, hs, Cc, Cv, cvar, b, g, d, t0, ys):
    """ys[k] = sum_n Re(C[t0 + k, n] hs[k N + n]); cvar as ``_bu_tile``'s bvar. Reassociated
    sums over n (rounding order only): LLVM vectorises them (one chain of N dependent adds
    per step was latency-bound)."""
    if cvar == 2:
        for k in range(T):
            j = k * N
            a = _zero(hs[j]).real
            for n in range(N):
                a += (Cv[b, g, t0 + k, n] * hs[j + n]).real
            ys[k] = a
    elif cvar:  # n outer over row views, as _bu_tile (4K aliasing)
        for k in range(T):
            ys[k] = _zero(hs[0]).real
        for n in range(N):
            row = Cv[b, g, n, t0:t0 + T]
            for k in range(T):
                ys[k] += (row[k] * hs[k * N + n]).real
    else:
        for k in range(T):
            j = k * N
            a = _zero(hs[j]).real
            for n in range(N):
                a += (Cc[d, n] * hs[j + n]).real
            ys[k] = a


@nbs.numba().njit(cache=True, error_model="numpy")
def _gather_tile(T, N, Xc, Xv, xvar, b, g, d, t0, out):
    """out[k N + n] = X at (t0 + k, n): the tile's B or C (xvar as ``_bu_tile``'s bvar)."""
    if xvar == 2:
        for k in range(T):
            for n in range(N):
                out[k * N + n] = Xv[b, g, t0 + k, n]
    elif xvar:
        for n in range(N):  # over a row view of X (unit stride): 0.43 ns per element, 0.56 before
            row = Xv[b, g, n, t0:t0 + T]
            for k in range(T):
                out[k * N + n] = row[k]
    else:
        for k in range(T):
            for n in range(N):
                out[k * N + n] = Xc[d, n]


@nbs.numba().njit(cache=True, error_model="numpy")
def _partials_tile(method, A, lnA, d, dts, dtAs, T, Abs, gms, pAt, pAA, pgt, pgtA, pgA, wx,
                   ws, wc):
    """The five partials of (Abar, gamma) per tile element (sel_disc_grad); mamba/dirac's
    are products (no transcendental), in a loop of their own; real zoh's by the vectorisable
    twin of ``_numba_zoh_grad``, complex zoh's and bilinear's by ``_numba_disc`` (wx, ws, wc:
    real work buffers of T N)."""
    N = A.shape[1]
    zero = _zero(A[d, 0])
    if method == nbs.MAMBA or method == nbs.DIRAC:
        gt = zero + 1 if method == nbs.MAMBA else zero
        for k in range(T):
            for n in range(N):
                j = k * N + n
                pAt[j] = A[d, n] * Abs[j]
                pAA[j] = dtAs[k] * Abs[j]
                pgt[j] = gt
                pgtA[j] = zero
                pgA[j] = zero
        return
    if method == nbs.ZOH and zoh_partials(A[d], dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA):
        return  # (real A)
    if partials_fast(method, A[d], dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA, wx, ws, wc):
        return
    for k in range(T):
        for n in range(N):
            j = k * N + n
            pAt[j], pAA[j], pgt[j], pgtA[j], pgA[j] = sel_disc_grad(
                method, A[d, n], dts[k], dtAs[k], lnA[d, n], Abs[j], gms[j])


_FM = {"reassoc", "contract"}  # reassociation: the sums over n vectorise (rounding order only)

# The adjoint runs as a few short loops over the tile rather than one: a loop that writes k
# buffers and reads m needs ~k*m runtime alias checks, and LLVM gives up past 8 (one fused loop
# over ~14 buffers ran scalar at 4-9 ns per element). Each loop below writes at most two.


@nbs.numba().njit(cache=True, error_model="numpy", fastmath=_FM)
def _lam_tile(T, N, two, Abs, Ct, gys, lam, lt):
    """lt[k N + n] = lam_t = two conj(C_t) gy_t + carry, in reverse over the tile; lam <- the
    carry conj(Abar_t) lam_t into the previous tile (the only loop-carried dependence)."""
    for kk in range(T):
        k = T - 1 - kk
        c = two * gys[k]
        # row views: the n-loop then indexes from 0 (k N + n from a reversed k was not
        # vectorised; this runs at ~0.8 ns per element real, ~1.3 before)
        ctk, abk, ltk = Ct[k * N:(k + 1) * N], Abs[k * N:(k + 1) * N], lt[k * N:(k + 1) * N]
        for n in range(N):
            ln = lam[n] + c * _conj(ctk[n])
            ltk[n] = ln
            lam[n] = _conj(abk[n]) * ln


@nbs.numba().njit(cache=True, error_model="numpy", fastmath=_FM)
def _gbc_tile(T, N, two, hs, gms, lt, us, gys, gBt, gCt):
    """gBt = lam conj(gamma) u, gCt = two gy conj(h_t): the per-element B and C gradients."""
    for k in range(T):
        j0 = k * N
        for n in range(N):
            gBt[j0 + n] = lt[j0 + n] * _conj(gms[j0 + n]) * us[k]
    for k in range(T):
        c = two * gys[k]
        j0 = k * N
        for n in range(N):
            gCt[j0 + n] = c * _conj(hs[j0 + N + n])


@nbs.numba().njit(cache=True, error_model="numpy", fastmath=_FM)
def _adj_tile_md(T, N, two, mamba, hs, Abs, Bt, Ct, Arow, dts, dtAs, us, gys, lam, acc_A, lt,
                 gBt, gCt, du_, ddt_, ddtA_):
    """:func:`_adj_tile` for mamba (gamma = dt) and dirac (gamma = 1), whose partials are
    products of Abar: dAbar/ddtA = A Abar, dAbar/dA = dtA Abar, dgamma/ddt = 1 or 0, the rest
    0. lt: scratch (T N) for the adjoints."""
    _lam_tile(T, N, two, Abs, Ct, gys, lam, lt)
    for k in range(T):
        gam = dts[k] if mamba else _one(dts[k])
        c = gam * us[k]
        j0 = k * N
        for n in range(N):
            gBt[j0 + n] = lt[j0 + n] * c
    for k in range(T):
        c = two * gys[k]
        j0 = k * N
        for n in range(N):
            gCt[j0 + n] = c * _conj(hs[j0 + N + n])
    for k in range(T):  # reductions over n: no buffer written
        s_bn = _zero(gys[k])  # sum_n Re(lam_n conj(B_n))
        s_at = _zero(gys[k])  # sum_n Re(conj(A_n Abar_n) lam_n conj(h_n))
        j0 = k * N
        for n in range(N):
            j = j0 + n
            s_bn += (lt[j] * _conj(Bt[j])).real
            s_at += (_conj(Arow[n] * Abs[j]) * lt[j] * _conj(hs[j])).real
        gam = dts[k] if mamba else _one(dts[k])
        du_[k] = gam * s_bn
        ddt_[k] = us[k] * s_bn if mamba else _zero(s_bn)
        ddtA_[k] = s_at
    for k in range(T):
        dtA = dtAs[k]
        j0 = k * N
        for n in range(N):
            j = j0 + n
            acc_A[n] += dtA * _conj(Abs[j]) * lt[j] * _conj(hs[j])


@nbs.numba().njit(cache=True, error_model="numpy", fastmath=_FM)
def _adj_tile(T, N, two, hs, Abs, gms, Bt, Ct, pAt, pAA, pgt, pgtA, pgA, us, gys, lam,
              acc_A, lt, gBt, gCt, du_, ddt_, ddtA_):
    """The reverse adjoint over the tile: lam_t = two conj(C_t) gy_t + conj(Abar_{t+1})
    lam_{t+1}, and every gradient of step t (NaN and inf propagate as in one fused loop).
    gys: dy after the z gate; lt: scratch (T N) for the adjoints."""
    _lam_tile(T, N, two, Abs, Ct, gys, lam, lt)
    _gbc_tile(T, N, two, hs, gms, lt, us, gys, gBt, gCt)
    for k in range(T):  # reductions over n: no buffer written
        ut = us[k]
        du_t = _zero(gys[k])
        ddt_t = _zero(gys[k])
        ddtA_t = _zero(gys[k])
        j0 = k * N
        for n in range(N):
            j = j0 + n
            G_Ab = lt[j] * _conj(hs[j])
            G_gam = lt[j] * _conj(Bt[j]) * ut
            du_t += (lt[j] * _conj(gms[j] * Bt[j])).real
            ddt_t += (_conj(pgt[j]) * G_gam).real
            ddtA_t += (_conj(pAt[j]) * G_Ab).real + (_conj(pgtA[j]) * G_gam).real
        du_[k] = du_t
        ddt_[k] = ddt_t
        ddtA_[k] = ddtA_t
    for k in range(T):
        ut = us[k]
        j0 = k * N
        for n in range(N):
            j = j0 + n
            acc_A[n] += (_conj(pAA[j]) * (lt[j] * _conj(hs[j]))
                         + _conj(pgA[j]) * (lt[j] * _conj(Bt[j]) * ut))
