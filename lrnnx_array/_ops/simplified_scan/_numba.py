"""numba S5 scan: the GEMMs stay BLAS calls, the discretised recurrence is one compiled loop.

Canonical entries as in ``_generic`` (u, A, B, C, h0 complex; steps 3-D real, broadcastable to
(B, P, L)). ``Bu = B @ u``, ``y = C @ x`` and, in the VJP, ``C^H g``, ``B^H dBu``, ``dB``, ``dC``
are NumPy matmuls (BLAS beats a hand loop there); everything elementwise is fused into one
kernel per (batch, state) row, in parallel over rows: Ā and γ̄ per step from the numba twins
of the numerics layer (``numba_support.sel_disc``: e^x as e^re (cos, sin), γ̄ through expm1's φ₁),
once per row when the row's steps are constant in time (LTI S5), the recurrence, and in the VJP
the reverse adjoint λ_t = dx_t + conj(Ā_{t+1}) λ_{t+1} with every step/A partial accumulated on
the fly. h_{t-1} is read from the stored forward states, never obtained by dividing by Ā.
The only (B, P, L) arrays are the ones the GEMMs read or write (Bu, x, dx -> dBu).

Where the channels are few (H <= ``_numba_fused.MAX_H``) and the states many (P >= 64), the
fused forms take over: ``_numba_fused`` (B u, discretisation, recurrence and C x per time tile
on real/imaginary planes, states in SIMD lanes) and ``_numba_fused_vjp`` (its two-pass VJP);
with many channels BLAS's GEMMs beat their in-kernel projections. Elsewhere, on long rows
(``_numba_long.LONG_MIN_STEPS``), the forward is ``_numba_long``'s (real GEMMs around a
time-major scan, split over time where the batch is smaller than the threads).
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs
from .._shared.numerics import DPHI1_COEF, SERIES_RADIUS
from . import _generic, _numba_fused, _numba_fused_vjp, _numba_long

_kernel = nbs.kernel()
# Up to four transcendentals per element: two threads pay off from ~2^14 elements (the RG-LRU
# scan measured it: B2 D8 L4096 on one thread lost to the generic path's SIMD passes).
_PARALLEL_MIN = 1 << 14
prange = nbs.numba().prange
(_cexp, _exp_phi1, _dphi1, _softplus, _sigmoid, _rg, _conj, sel_disc,
 sel_disc_grad, _vexp) = nbs.scalars()
_CODE = {"bilinear": nbs.BILINEAR, "zoh": nbs.ZOH, "dirac": nbs.DIRAC}
_TT = 64  # steps per tile where the steps vary in time: (Abar, gamma) of a tile at once
_zoh_line, _exp_outer, _zero = (nbm.helpers()[k] for k in ("zoh_line", "exp_outer", "zero_of"))


@nbs.numba().njit(cache=True, error_model="numpy")
def _steps_tile(dt3, dtA3, has_dtA, b, p, t0, T, dts, dtAs):
    """dts[:T], dtAs[:T] = the steps of (b, p) at t0.. (either broadcast over any axis)."""
    sb, sp, st = dt3.shape[0] > 1, dt3.shape[1] > 1, dt3.shape[2] > 1
    ab_, ap_, at_ = dtA3.shape[0] > 1, dtA3.shape[1] > 1, dtA3.shape[2] > 1
    for k in range(T):
        dts[k] = dt3[b if sb else 0, p if sp else 0, t0 + k if st else 0]
    for k in range(T):
        dtAs[k] = (dtA3[b if ab_ else 0, p if ap_ else 0, t0 + k if at_ else 0] if has_dtA
                   else dts[k])


@nbs.numba().njit(cache=True, error_model="numpy")
def _disc_tile(method, A, p, dts, dtAs, T, has_dtA, ab, gm, wx, ws, wc):
    """ab[k], gm[k] = (Abar at dtAs[k], gamma at dts[k]) for the tile: zoh by the vectorisable
    helper (and Abar on its own step by the vectorisable e^x), the others per step."""
    if method == nbs.ZOH:
        _zoh_line(dts, dts, A[p], T, ab, gm, wx, ws, wc)
        if has_dtA:
            _exp_outer(dtAs, A[p:p + 1], T, ab, wx, ws, wc)
        return
    for k in range(T):
        ab[k], gm[k] = _disc(method, A[p], dts[k], dtAs[k])


@nbs.numba().njit(cache=True, inline="always")
def _disc(method, a, dt, dtA):
    """(Ā at dtA, γ̄ at dt); zoh with one step shares its e^x between Ā and φ₁."""
    if method == nbs.ZOH:
        E, phi = _exp_phi1(dt * a)
        return (E if dtA == dt else _cexp(dtA * a)), dt * phi
    return sel_disc(method, a, dt, dtA, a)


@nbs.numba().njit(cache=True, inline="always")
def _disc_grad(method, a, dt, dtA):
    """(Ā, γ̄, dĀ/ddtA, dĀ/dA, dγ̄/ddt, dγ̄/dA) with one evaluation of each transcendental."""
    if method == nbs.ZOH:
        x = dt * a
        E, phi = _exp_phi1(x)
        Ab = E if dtA == dt else _cexp(dtA * a)
        return Ab, dt * phi, a * Ab, dtA * Ab, E, dt * dt * _dphi1(x, E, phi)
    Ab, gm = sel_disc(method, a, dt, dtA, a)
    pAt, pAA, pgt, _pgtA, pgA = sel_disc_grad(method, a, dt, dtA, a, Ab, gm)
    return Ab, gm, pAt, pAA, pgt, pgA


@_kernel
def _fwd(v, dt3, dtA3, A, h0, x, method, has_dtA, has_h0):
    """x[b, p, :] = the scan of v = B u (B, P, L) with Ā/γ̄ from the steps; rows in parallel.
    Steps constant in time: discretised once per row; varying: per tile of _TT steps."""
    Bsz, P, L = v.shape
    sb, sp, st = dt3.shape[0] > 1, dt3.shape[1] > 1, dt3.shape[2] > 1
    ab_, ap_, at_ = dtA3.shape[0] > 1, dtA3.shape[1] > 1, dtA3.shape[2] > 1
    const = not st and (not has_dtA or not at_)
    zero = _zero(A[0])  # (A[0] * 0 would type complex64 as complex128: the whole scan)
    rdt = dt3.dtype
    for row in prange(Bsz * P):
        b, p = row // P, row % P
        a = A[p]
        h = h0[b, p] if has_h0 else zero
        if const:
            dt = dt3[b if sb else 0, p if sp else 0, 0]
            dtA = dtA3[b if ab_ else 0, p if ap_ else 0, 0] if has_dtA else dt
            Ab, gm = _disc(method, a, dt, dtA)
            for t in range(L):
                h = Ab * h + gm * v[b, p, t]
                x[b, p, t] = h
            continue
        dts, dtAs = np.empty(_TT, rdt), np.empty(_TT, rdt)
        wx, ws, wc = np.empty(_TT, rdt), np.empty(_TT, rdt), np.empty(_TT, rdt)
        abs_, gms = np.empty(_TT, A.dtype), np.empty(_TT, A.dtype)
        for t0 in range(0, L, _TT):
            T = min(_TT, L - t0)
            _steps_tile(dt3, dtA3, has_dtA, b, p, t0, T, dts, dtAs)
            _disc_tile(method, A, p, dts, dtAs, T, has_dtA, abs_, gms, wx, ws, wc)
            for k in range(T):
                h = abs_[k] * h + gms[k] * v[b, p, t0 + k]
                x[b, p, t0 + k] = h


@nbs.numba().njit(cache=True, error_model="numpy")
def _grad_tile(method, Ar, Ai, p, dts, dtAs, T, has_dtA, coef, rad2, pl, w, out):
    """out[0..5][:T] = (Abar, gamma, dAbar/ddtA, dAbar/dA, dgamma/ddt, dgamma/dA) of a tile of
    one row's steps, by the fused VJP's vectorised partials (one lane, ``pl`` 12 real planes,
    ``w`` 3 work planes): no complex division or abs per step."""
    _numba_fused_vjp.disc_grad_tile(method, dts, dtAs, has_dtA, Ar, Ai, p, 1, T, coef, rad2,
                                    pl[0], pl[1], pl[2], pl[3], pl[4], pl[5], pl[6], pl[7],
                                    pl[8], pl[9], pl[10], pl[11], w[0], w[1], w[2])
    # planes (ab, gm, gt, ga, at, aa) -> out (ab, gm, at, aa, gt, ga): _disc_grad's order
    for q, src in ((0, 0), (1, 2), (2, 8), (3, 10), (4, 4), (5, 6)):
        o, re, im = out[q], pl[src], pl[src + 1]
        for k in range(T):
            o[k] = re[k] + 1j * im[k]  # (stored at A's precision)


@_kernel
def _bwd(v, lam, xs, dt3, dtA3, A, Ar, Ai, h0, dlast, method, has_dtA, has_h0, has_dl, coef,
         rad2, gA, rg, ra, dh0):
    """Reverse pass per row. ``lam`` holds dx = C^H g on entry and d(Bu) = conj(γ̄) λ on exit;
    ``xs`` the forward states. Per row: gA[b, p] (dA), rg/ra (B, P, Lr) the real step adjoints
    of γ̄'s and Ā's step (Lr = L, or 1 where that step is constant in time: summed here).
    Steps varying in time, zoh: the partials of a tile of _TT steps at once (``_grad_tile``)."""
    Bsz, P, L = v.shape
    sb, sp, st = dt3.shape[0] > 1, dt3.shape[1] > 1, dt3.shape[2] > 1
    ab_, ap_, at_ = dtA3.shape[0] > 1, dtA3.shape[1] > 1, dtA3.shape[2] > 1
    tg, ta = rg.shape[2] > 1, ra.shape[2] > 1
    const = not st and (not has_dtA or not at_)
    zero = _zero(A[0])
    rzero = _zero(dt3[0, 0, 0])
    rdt = dt3.dtype
    for row in prange(Bsz * P):
        b, p = row // P, row % P
        a = A[p]
        l_ = dlast[b, p] if has_dl else zero  # carry conj(Abar_{t+1}) lam_{t+1}
        accA = zero
        sg, sa = rzero, rzero
        Ab, gm, pAt, pAA, pgt, pgA = zero, zero, zero, zero, zero, zero
        if const:  # one step per row: discretise once
            dt = dt3[b if sb else 0, p if sp else 0, 0]
            dtA = dtA3[b if ab_ else 0, p if ap_ else 0, 0] if has_dtA else dt
            Ab, gm, pAt, pAA, pgt, pgA = _disc_grad(method, a, dt, dtA)
        nt = 1 if const else _TT
        dts, dtAs = np.empty(nt, rdt), np.empty(nt, rdt)
        pl, w = np.empty((12, nt), rdt), np.empty((3, nt), rdt)
        parts = np.empty((6, nt), A.dtype)
        zoh = method == nbs.ZOH
        for k in range(L):
            t = L - 1 - k
            if not const:
                kt = t % _TT
                if kt == _TT - 1 or t == L - 1:  # entering a tile from its end
                    t0 = t - kt
                    T = kt + 1
                    _steps_tile(dt3, dtA3, has_dtA, b, p, t0, T, dts, dtAs)
                    if zoh:
                        _grad_tile(method, Ar, Ai, p, dts, dtAs, T, has_dtA, coef, rad2, pl,
                                   w, parts)
                if zoh:
                    Ab, gm, pAt = parts[0, kt], parts[1, kt], parts[2, kt]
                    pAA, pgt, pgA = parts[3, kt], parts[4, kt], parts[5, kt]
                else:  # (bilinear, dirac: per step measured faster than the one-lane tile)
                    Ab, gm, pAt, pAA, pgt, pgA = _disc_grad(method, a, dts[kt], dtAs[kt])
            ln = lam[b, p, t] + l_
            hp = xs[b, p, t - 1] if t > 0 else (h0[b, p] if has_h0 else zero)
            dAb = ln * _conj(hp)
            dgb = ln * _conj(v[b, p, t])
            accA += _conj(pAA) * dAb + _conj(pgA) * dgb
            r_g = (_conj(pgt) * dgb).real
            r_a = (_conj(pAt) * dAb).real
            if not has_dtA:  # one step: its adjoint is the sum (ra unused)
                r_g += r_a
            if tg:
                rg[b, p, t] = r_g
            else:
                sg += r_g
            if ta:
                ra[b, p, t] = r_a
            else:
                sa += r_a
            lam[b, p, t] = _conj(gm) * ln
            l_ = _conj(Ab) * ln
        gA[b, p] = accA
        if not tg:
            rg[b, p, 0] = sg
        if has_dtA and not ta:  # (without dtA3, ra is a (1, 1, 1) placeholder)
            ra[b, p, 0] = sa
        dh0[b, p] = l_  # conj(Abar_0) lam_0


def _steps_or_dummy(dtA3, dt3):
    return (dtA3, True) if dtA3 is not None else (np.zeros((1, 1, 1), dt3.dtype), False)


def _h0(h0, dtype):
    return (h0, True) if h0 is not None else (np.zeros((1, 1), dtype), False)


def _states(u, dt3, A, B, dtA3, h0, disc):
    Bu = np.matmul(B, u)
    x = np.empty(Bu.shape, u.dtype)
    dtA, has_dtA = _steps_or_dummy(dtA3, dt3)
    h0_, has_h0 = _h0(h0, u.dtype)
    _fwd(Bu, dt3, dtA, A, h0_, x, _CODE[disc], has_dtA, has_h0)
    return Bu, x


def _fused_threads(u, A, which="forward"):
    """numba's thread count when the fused pass (``which``: "forward" or "vjp") suits the
    sizes, else 0."""
    th = nbs.numba().get_num_threads()
    return th if _numba_fused.suits(u.shape[0], u.shape[1], A.shape[0], th, which) else 0


def _long_chunks(u, A):
    """(chunks per batch, threads) of the time-major form (``_numba_long``), or (0, th) where
    it does not suit the sizes (short rows)."""
    th = nbs.numba().get_num_threads()
    return _numba_long.plan(u.shape[0], A.shape[0], u.shape[2], th), th


def _forward(xp, u, dt3, A, B, C, dtA3, h0, *, disc):
    th = _fused_threads(u, A)
    if th:
        return _numba_fused.run(u, dt3, A, B, C, dtA3, h0, disc, th, want_imag=True)
    K, th = _long_chunks(u, A)
    if K:
        return _numba_long.forward(u, dt3, A, B, C, dtA3, h0, disc, K, th)
    _, x = _states(u, dt3, A, B, dtA3, h0, disc)
    return np.matmul(C, x), np.ascontiguousarray(x[:, :, -1])


@nbs.launch(min_elems=_PARALLEL_MIN)
def forward(xp, u, dt3, A, B, C, dtA3, h0, *, disc):
    """(y (B,H,L), last state (B,P)) with y = C @ x: the fused pass (``_numba_fused``) where it
    suits the sizes, else the GEMMs around the row kernel."""
    return _forward(xp, u, dt3, A, B, C, dtA3, h0, disc=disc)


def _mH(x):
    return np.conj(np.swapaxes(x, -1, -2))


@nbs.launch(min_elems=_PARALLEL_MIN)
def backward(xp, g, u, dt3, A, B, C, dtA3, h0, dlast, *, disc):
    """(du, ddt3, dA, dB, dC, ddtA3, dh0) at the normalised shapes, as ``_generic.backward``:
    the two-pass fused VJP (``_numba_fused_vjp``) where it suits the sizes (few channels,
    P >= 64), else the GEMMs around the row kernels."""
    return _backward(xp, g, u, dt3, A, B, C, dtA3, h0, dlast, disc=disc)


def _backward(xp, g, u, dt3, A, B, C, dtA3, h0, dlast, *, disc, g_real=False):
    """``backward``'s body; ``g_real``: g (complex dtype) holds real values (s5_inner's)."""
    th = _fused_threads(u, A, "vjp")
    if th:
        return _numba_fused_vjp.run(g, u, dt3, A, B, C, dtA3, h0, dlast, disc, th)
    Bsz, H, L = u.shape
    P = A.shape[0]
    rdt = dt3.dtype
    Bu, x = _states(u, dt3, A, B, dtA3, h0, disc)
    lam = np.matmul(_mH(C), g)  # (a fresh C-contiguous product: the kernel's in/out buffer)
    dtA, has_dtA = _steps_or_dummy(dtA3, dt3)
    h0_, has_h0 = _h0(h0, u.dtype)
    dl_, has_dl = _h0(dlast, u.dtype)
    gA = np.empty((Bsz, P), u.dtype)
    dh0 = np.empty((Bsz, P), u.dtype)
    # The step adjoints at (B, P, L) only where a step varies in time; summed down below. With
    # one step (no dtA3) the kernel adds Abar's adjoint into rg: no second (B, P, L) plane.
    rg = np.empty((Bsz, P, L if dt3.shape[2] > 1 else 1), rdt)
    ra = (np.empty((Bsz, P, L if dtA3.shape[2] > 1 else 1), rdt) if dtA3 is not None
          else np.empty((1, 1, 1), rdt))
    coef = np.array(DPHI1_COEF, rdt)
    _bwd(Bu, lam, x, dt3, dtA, A, np.ascontiguousarray(A.real), np.ascontiguousarray(A.imag),
         h0_, dl_, _CODE[disc], has_dtA, has_h0, has_dl, coef,
         rdt.type(SERIES_RADIUS * SERIES_RADIUS), gA, rg, ra, dh0)
    dBu = lam
    du = np.matmul(_mH(B), dBu)
    dB = np.matmul(dBu, _mH(u)).sum(axis=0)
    if g_real:  # g x^H = conj(g x^T): BLAS reads x transposed, no conjugated copy of x
        dC = np.conj(np.matmul(g, np.swapaxes(x, -1, -2)).sum(axis=0))
    else:
        dC = np.matmul(g, _mH(x)).sum(axis=0)
    ddt = _sum_to(rg, dt3.shape)
    ddtA = None if dtA3 is None else _sum_to(ra, dtA3.shape)
    return du, ddt, gA.sum(axis=0), dB, dC, ddtA, (None if h0 is None else dh0)


def _sum_to(r, shape):
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, r.shape)) if n == 1 and m != 1)
    r = r.sum(axis=axes, keepdims=True) if axes else r
    return r.reshape(shape)


@nbs.launch(min_elems=_PARALLEL_MIN)
def inner_forward(xp, u, dt3, A, B, C, D, dtA3, h0, *, disc, conj_sym):
    """s5_inner's output (B, H, L), real (the fused pass computes only Re(C x))."""
    th = _fused_threads(u, A)
    if th:
        return _numba_fused.run(u, dt3, A, B, C, dtA3, h0, disc, th, want_imag=False,
                                scale=2.0 if conj_sym else 1.0, D=D)[0]
    K, th = _long_chunks(u, A)
    if K:
        return _numba_long.inner_forward(u, dt3, A, B, C, D, dtA3, h0, disc,
                                         2.0 if conj_sym else 1.0, K, th)
    return _generic.inner_output(xp, _forward(xp, u, dt3, A, B, C, dtA3, h0, disc=disc)[0], u,
                                 D, conj_sym)


@nbs.launch(min_elems=_PARALLEL_MIN)
def inner_backward(xp, g, u, dt3, A, B, C, D, dtA3, h0, *, disc, conj_sym):
    """s5_inner's (du, ddt3, dA, dB, dC, dD, ddtA3, dh0), as ``_generic.inner_grads``; on the
    row path without its (B, H, L) temporaries: the output's scale rides on C (lam = (s C)^H g;
    dC = s g x^H, x free of C) instead of a scaled copy of g, and D g is added into du's real
    plane in place."""
    if _fused_threads(u, A, "vjp"):
        return _generic.inner_grads(xp, _backward, g, u, dt3, A, B, C, D, dtA3, h0, disc=disc,
                                    conj_sym=conj_sym)
    scale = 2.0 if conj_sym else 1.0
    Cs = C * u.real.dtype.type(scale) if conj_sym else C
    du, ddt, dA, dB, dC, ddtA, dh0 = _backward(xp, g.astype(u.dtype), u, dt3, A, B, Cs, dtA3,
                                               h0, None, disc=disc, g_real=True)
    if conj_sym:
        dC *= scale
    du.real += D.reshape(-1, 1) * g  # (du is this call's own product)
    dD = np.sum(g * u.real, axis=(0, 2))
    return du, ddt, dA, dB, dC, dD, ddtA, dh0
