"""Vectorisable (Abar, gamma) and VJP partials of complex zoh and of bilinear over a tile.

``_numba_tiles._disc_tile`` / ``_partials_tile`` otherwise run these per element through the
scalar ``numba_support.sel_disc`` / ``sel_disc_grad``: libm calls (complex zoh) and numba's
complex division (Smith's method, branches) that LLVM cannot vectorise. Here the numerics
layer's formulas run over the tile's T x N elements (index k N + n) in real arithmetic,
complex values written through real views:

* zoh, complex x = dt A = p + iq: e^x = e^p (1 - 2 sin^2(q/2)) + i e^p 2 sin(q/2) cos(q/2),
  e^x - 1 = (expm1(p) - e^p 2 sin^2(q/2)) + i (same imaginary part) (no cancellation near 0),
  phi1 = (e^x - 1)/x by the scaled reciprocal conj(x/c) / (c |x/c|^2), c = max(|p|, |q|),
  phi1(0) = 1; gamma = dt phi1, Abar = e^x when dtA = dt, else e^(dtA A) (``exp_outer``).
  Partials: A Abar, dtA Abar, e^(dt A), 0, dt^2 phi1'(x), phi1' = (e^x - phi1)/x or
  numerics.DPHI1_COEF's series for |x| < numerics.SERIES_RADIUS (both evaluated, selected).
* bilinear (real or complex): Abar = (1 + dtA A/2) / (1 - dtA A/2), gamma = dt / (1 - dt A/2);
  partials A ia^2, dtA ia^2, s^2, 0, dt^2 s^2 / 2 with ia = 1/(1 - dtA A/2), s = 1/(1 - dt A/2).

sin/cos and e^x are ``numba_math``'s polynomials (sin/cos arguments past its range finished
by its scalar pass). Each entry returns False (doing nothing) where it does not apply, and
the caller keeps the scalar formulas.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs
from .._shared.numerics import DPHI1_COEF, SERIES_RADIUS

_JIT = {"cache": True, "error_model": "numpy"}


def _define():
    from numba.core import types
    from numba.extending import overload

    M = nbm.helpers()
    vsincos, exp_outer, crecip, cexpm1_parts = (
        M[k] for k in ("vsincos", "exp_outer", "crecip", "cexpm1_parts"))
    ZOH, BILINEAR = nbs.ZOH, nbs.BILINEAR

    def floats(a):
        t = a.dtype.underlying_float if isinstance(a.dtype, types.Complex) else a.dtype
        f = np.float32 if t == types.float32 else np.float64
        return f, f(0), f(1), f(2), f(0.5)

    def disc_fast(method, a, dts, dtAs, T, ab, gm, wx, ws, wc):
        """ab[k N + n], gm[k N + n] of complex zoh or bilinear (real or complex a, one row of
        A); returns True. Other methods and real zoh: nothing, False."""

    @overload(disc_fast, jit_options=_JIT)
    def _ov_disc(method, a, dts, dtAs, T, ab, gm, wx, ws, wc):
        f, zero, one, _, half = floats(a)  # typed: float32 stays float32
        if not isinstance(a.dtype, types.Complex):
            def impl_real(method, a, dts, dtAs, T, ab, gm, wx, ws, wc):
                if method != BILINEAR:
                    return False
                N = a.shape[0]
                for k in range(T):
                    h, hA = dts[k] * half, dtAs[k] * half
                    for n in range(N):
                        xa = hA * a[n]
                        ab[k * N + n] = (one + xa) * (one / (one - xa))
                        gm[k * N + n] = dts[k] * (one / (one - h * a[n]))
                return True

            return impl_real

        def impl(method, a, dts, dtAs, T, ab, gm, wx, ws, wc):
            N = a.shape[0]
            abv, gmv = ab.view(f), gm.view(f)
            if method == BILINEAR:
                for k in range(T):
                    h, hA = dts[k] * half, dtAs[k] * half
                    for n in range(N):
                        j = k * N + n
                        ar, ai = a[n].real, a[n].imag
                        rr, ri = crecip(one - hA * ar, -(hA * ai))  # 1 / (1 - hA a)
                        pr, pi = one + hA * ar, hA * ai
                        abv[2 * j] = pr * rr - pi * ri
                        abv[2 * j + 1] = pr * ri + pi * rr
                        sr, si = crecip(one - h * ar, -(h * ai))
                        gmv[2 * j] = dts[k] * sr
                        gmv[2 * j + 1] = dts[k] * si
                return True
            if method != ZOH:
                return False
            for k in range(T):
                for n in range(N):
                    wx[k * N + n] = dts[k] * a[n].imag * half
            vsincos(wx, ws, wc, T * N)
            same = True
            for k in range(T):
                same = same and dtAs[k] == dts[k]
                dt = dts[k]
                for n in range(N):
                    j = k * N + n
                    xr, xi = dt * a[n].real, dt * a[n].imag
                    Er, es, mr = cexpm1_parts(xr, ws[j], wc[j])
                    abv[2 * j] = Er
                    abv[2 * j + 1] = es
                    rr, ri = crecip(xr, xi)
                    pr, pi = mr * rr - es * ri, mr * ri + es * rr  # phi1 = (e^x - 1) / x
                    x0 = (xr == 0) & (xi == 0)
                    gmv[2 * j] = dt * (one if x0 else pr)
                    gmv[2 * j + 1] = dt * (zero if x0 else pi)
            if not same:  # Abar on its own step
                exp_outer(dtAs, a, T, ab, wx, ws, wc)
            return True

        return impl

    def partials_fast(method, a, dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA, wx, ws, wc):
        """The five partials (dAbar/ddtA, dAbar/dA, dgamma/ddt, dgamma/ddtA, dgamma/dA) at
        [k N + n] of complex zoh or bilinear; True. Otherwise nothing, False."""

    @overload(partials_fast, jit_options=_JIT)
    def _ov_partials(method, a, dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA, wx, ws, wc):
        f, zero, one, two, half = floats(a)
        if not isinstance(a.dtype, types.Complex):
            def impl_real(method, a, dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA, wx, ws, wc):
                if method != BILINEAR:
                    return False
                N = a.shape[0]
                for k in range(T):
                    dt, dtA = dts[k], dtAs[k]
                    h, hA = dt * half, dtA * half
                    for n in range(N):
                        j = k * N + n
                        ia = one / (one - hA * a[n])
                        s = one / (one - h * a[n])
                        ia2, s2 = ia * ia, s * s
                        pAt[j] = a[n] * ia2
                        pAA[j] = dtA * ia2
                        pgt[j] = s2
                        pgtA[j] = zero
                        pgA[j] = dt * dt * s2 * half
                return True

            return impl_real
        # a global constant array to numba: the Horner loop over it unrolls and vectorises
        # (nested closures over the coefficients, as _numba_zoh_grad's real twin, ran this
        # loop at 41 ns per element here, 4.8 with the array; Zen 4, complex64)
        coef = np.array(DPHI1_COEF, f)
        nc = len(DPHI1_COEF)
        r2 = f(SERIES_RADIUS) * f(SERIES_RADIUS)

        def impl(method, a, dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA, wx, ws, wc):
            N = a.shape[0]
            if method != BILINEAR and method != ZOH:
                return False
            Av = Abs.view(f)
            v0, v1, v2, v3, v4 = (pAt.view(f), pAA.view(f), pgt.view(f), pgtA.view(f),
                                  pgA.view(f))
            if method == BILINEAR:
                for k in range(T):
                    dt, dtA = dts[k], dtAs[k]
                    h, hA = dt * half, dtA * half
                    for n in range(N):
                        j = k * N + n
                        ar, ai = a[n].real, a[n].imag
                        ir, ii = crecip(one - hA * ar, -(hA * ai))
                        i2r, i2i = ir * ir - ii * ii, two * ir * ii  # ia^2
                        sr, si = crecip(one - h * ar, -(h * ai))
                        s2r, s2i = sr * sr - si * si, two * sr * si
                        v0[2 * j] = ar * i2r - ai * i2i
                        v0[2 * j + 1] = ar * i2i + ai * i2r
                        v1[2 * j] = dtA * i2r
                        v1[2 * j + 1] = dtA * i2i
                        v2[2 * j] = s2r
                        v2[2 * j + 1] = s2i
                        v3[2 * j] = zero
                        v3[2 * j + 1] = zero
                        w = dt * dt * half
                        v4[2 * j] = w * s2r
                        v4[2 * j + 1] = w * s2i
                return True
            for k in range(T):
                for n in range(N):
                    wx[k * N + n] = dts[k] * a[n].imag * half
            vsincos(wx, ws, wc, T * N)
            for k in range(T):
                dt, dtA = dts[k], dtAs[k]
                for n in range(N):
                    j = k * N + n
                    ar, ai = a[n].real, a[n].imag
                    br, bi = Av[2 * j], Av[2 * j + 1]
                    v0[2 * j] = ar * br - ai * bi
                    v0[2 * j + 1] = ar * bi + ai * br
                    v1[2 * j] = dtA * br
                    v1[2 * j + 1] = dtA * bi
                    xr, xi = dt * ar, dt * ai
                    Er, Ei, mr = cexpm1_parts(xr, ws[j], wc[j])
                    rr, ri = crecip(xr, xi)  # 1/x
                    pr, pi = mr * rr - Ei * ri, mr * ri + Ei * rr  # phi1 (x != 0)
                    dr, di = Er - pr, Ei - pi
                    cr, ci = dr * rr - di * ri, dr * ri + di * rr  # (e^x - phi1)/x
                    sr, si = coef[nc - 1], zero  # phi1' series by Horner in real pairs
                    for i in range(nc - 2, -1, -1):
                        sr, si = sr * xr - si * xi + coef[i], sr * xi + si * xr
                    near = xr * xr + xi * xi < r2
                    dpr = sr if near else cr
                    dpi = si if near else ci
                    v2[2 * j] = Er
                    v2[2 * j + 1] = Ei
                    v3[2 * j] = zero
                    v3[2 * j + 1] = zero
                    w = dt * dt
                    v4[2 * j] = w * dpr
                    v4[2 * j + 1] = w * dpi
            return True

        return impl

    return disc_fast, partials_fast


disc_fast, partials_fast = _define()
