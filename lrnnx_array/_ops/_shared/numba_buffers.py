"""Buffer forms of :mod:`numba_math`'s vectorisable scalars: loops over buffers and tiles.

* ``vexp``, ``vsincos``, ``vcexp``: e^x, (sin, cos) and the complex e^x over a buffer (sin/cos
  arguments beyond the polynomial's range finished by one scalar libm pass);
* ``exp_row`` (one step over a row of states), ``exp_outer`` (T steps x N states): e^(s a), real
  or complex a (e^re (cos, sin) through real work buffers, never a complex multiply);
* ``zoh_outer``, ``zoh_line``: zoh's (A-bar, gamma) with phi1 by the polynomial e^x - 1, over
  (steps x states) for real a, or over the steps of one real or complex a;
* ``crecip``, ``cexpm1_parts``: the complex scalars of those forms in real arithmetic (the
  scaled reciprocal; e^x and Re(e^x - 1) from e^p and sin/cos(q/2)), shared with the
  selective scan's complex zoh and bilinear tiles.

Written in the argument's own precision like the scalars (every constant typed), so the loops
vectorise. :func:`numba_math.helpers` returns these beside the scalars.
"""

from __future__ import annotations

import numpy as np

_JIT = {"cache": True, "error_model": "numpy"}  # IEEE division: no ZeroDivisionError branch


def define(S, _consts):
    """The buffer forms over the scalar helpers ``S`` (numba_math's) and their typed constants
    ``_consts``; returns them by name."""
    from numba.core import types
    from numba.extending import overload, register_jitable

    exp, expm1_exp, sincos_reduced, in_range, sincos_fix, one_of = (
        S[k] for k in ("exp", "expm1_exp", "sincos_reduced", "in_range", "sincos_fix",
                       "one_of"))

    @register_jitable(inline="always")
    def crecip(wr, wi):
        """1 / (wr + i wi) as (re, im), by the scaled reciprocal conj(w/c) / (c |w/c|^2),
        c = max(|wr|, |wi|): |w|^2 itself would overflow or underflow for |w| beyond
        ~1e19 / below ~1e-19 in float32. Real arithmetic, so a loop around it vectorises
        (numba's complex division is Smith's method, with branches)."""
        c = max(abs(wr), abs(wi))
        zr, zi = wr / c, wi / c
        q = one_of(wr) / (c * (zr * zr + zi * zi))
        return zr * q, -(zi * q)

    @register_jitable(inline="always")
    def cexpm1_parts(p, sh, ch):
        """(Re e^x, Im e^x, Re(e^x - 1)) of x = p + iq from sh, ch = sin(q/2), cos(q/2):
        e^x = e^p (1 - 2 sh^2) + i e^p 2 sh ch and Re(e^x - 1) = expm1(p) - e^p 2 sh^2, free
        of the cancellation of e^x - 1 near x = 0 (Im(e^x - 1) = Im e^x)."""
        em, ea = expm1_exp(p)
        hh = (sh + sh) * sh  # 1 - cos q
        return ea - ea * hh, ea * ((sh + sh) * ch), em - ea * hh

    @register_jitable
    def vexp(x, out, n):
        """out[:n] = e^x[:n] (real buffers)."""
        for j in range(n):
            out[j] = exp(x[j])

    @register_jitable
    def vsincos(x, s, c, n):
        """s[:n], c[:n] = sin, cos of x[:n]."""
        bad = 0
        for j in range(n):
            s[j], c[j] = sincos_reduced(x[j])
            bad += 1 - in_range(x[j])
        if bad:
            sincos_fix(x, s, c, n)

    @register_jitable
    def vcexp(xr, xi, er, ei, n):
        """er + i ei = e^(xr + i xi) = e^xr (cos xi, sin xi) over n elements (real buffers;
        e^xr * 0 where cos/sin vanish stays 0 unless e^xr is inf, as numpy's complex exp)."""
        vsincos(xi, ei, er, n)
        for j in range(n):
            e = exp(xr[j])
            er[j] = e * er[j]
            ei[j] = e * ei[j] if xi[j] != 0 else xi[j]  # e^(a + 0i) = e^a + 0i, inf too

    def exp_row(s, a, out, wx, ws, wc):
        """out[n] = e^(s a[n]) for one step s (a decode step's row): exp_outer at T = 1,
        inlined (a call per row cost the state update ~2x)."""

    @overload(exp_row, jit_options=_JIT, inline="always")
    def _ov_exp_row(s, a, out, wx, ws, wc):
        if isinstance(a.dtype, types.Complex):
            return lambda s, a, out, wx, ws, wc: exp_outer(s, a, 1, out, wx, ws, wc)

        def impl(s, a, out, wx, ws, wc):
            for n in range(a.shape[0]):
                out[n] = exp(s[0] * a[n])

        return impl

    def exp_outer(s, a, T, out, wx, ws, wc):
        """out[k N + n] = e^(s[k] a[n]) for k < T, n < N = a.shape[0]: out real or complex as
        a is (complex: e^(s re) (cos, sin)(s im) through the real buffers wx, ws, wc of T N,
        written through out's real view, never a complex multiply)."""

    @overload(exp_outer, jit_options=_JIT)
    def _ov_exp_outer(s, a, T, out, wx, ws, wc):
        if isinstance(a.dtype, types.Complex):
            rd = np.float32 if a.dtype.underlying_float == types.float32 else np.float64

            def impl(s, a, T, out, wx, ws, wc):
                N = a.shape[0]
                for k in range(T):
                    for n in range(N):
                        wx[k * N + n] = s[k] * a[n].imag
                vsincos(wx, ws, wc, T * N)
                ov = out.view(rd)
                for k in range(T):
                    for n in range(N):
                        j = k * N + n
                        e = exp(s[k] * a[n].real)
                        ov[2 * j] = e * wc[j]
                        ov[2 * j + 1] = e * ws[j] if wx[j] != 0 else wx[j]

            return impl

        def impl_real(s, a, T, out, wx, ws, wc):
            N = a.shape[0]
            for k in range(T):
                for n in range(N):
                    out[k * N + n] = exp(s[k] * a[n])

        return impl_real

    def zoh_outer(s, a, T, ab, gm):
        """Real a: ab[k N + n] = e^x, gm[k N + n] = s[k] phi1(x), x = s[k] a[n], phi1(x) =
        (e^x - 1)/x (1 at 0) by the vectorisable expm1; returns True. Complex a: does nothing
        and returns False (the caller's scalar formulas)."""

    @overload(zoh_outer, jit_options=_JIT)
    def _ov_zoh_outer(s, a, T, ab, gm):
        if isinstance(a.dtype, types.Complex):
            return lambda s, a, T, ab, gm: False
        one = _consts(a.dtype)["one"]

        def impl(s, a, T, ab, gm):
            N = a.shape[0]
            for k in range(T):
                for n in range(N):
                    x = s[k] * a[n]
                    m, e = expm1_exp(x)
                    ab[k * N + n] = e
                    gm[k * N + n] = s[k] * (m / x if x != 0 else one)
            return True

        return impl

    def zoh_line(s, g, a, T, ab, gm, wx, ws, wc):
        """ab[k] = e^x, gm[k] = g[k] phi1(x), x = s[k] a, for k < T and one (real or complex)
        a: the numerics layer's stable form, vectorisable. Complex x = p + iq: e^x - 1 =
        (expm1(p) - e^p 2 sin^2(q/2)) + i e^p 2 sin(q/2) cos(q/2) (no cancellation near 0),
        divided by x through the scaled reciprocal conj(x/c) / (c |x/c|^2), c = max(|p|, |q|);
        phi1(0) = 1. wx, ws, wc: real buffers of T (complex a)."""

    @overload(zoh_line, jit_options=_JIT)
    def _ov_zoh_line(s, g, a, T, ab, gm, wx, ws, wc):
        if isinstance(a, types.Complex):
            K = _consts(a.underlying_float)
            rd = np.float32 if a.underlying_float == types.float32 else np.float64
            one, half, zero = K["one"], K["half"], K["zero"]

            def impl(s, g, a, T, ab, gm, wx, ws, wc):
                ar, ai = a.real, a.imag
                for k in range(T):
                    wx[k] = s[k] * ai * half
                vsincos(wx, ws, wc, T)
                abv = ab.view(rd)
                gmv = gm.view(rd)
                for k in range(T):
                    xr, xi = s[k] * ar, s[k] * ai
                    Er, es, mr = cexpm1_parts(xr, ws[k], wc[k])
                    abv[2 * k] = Er
                    abv[2 * k + 1] = es
                    rr, ri = crecip(xr, xi)
                    pr, pi = mr * rr - es * ri, mr * ri + es * rr  # phi1 = (e^x - 1) / x
                    x0 = (xr == 0) & (xi == 0)
                    gmv[2 * k] = g[k] * (one if x0 else pr)
                    gmv[2 * k + 1] = g[k] * (zero if x0 else pi)

            return impl
        one = _consts(a)["one"]

        def impl_real(s, g, a, T, ab, gm, wx, ws, wc):
            for k in range(T):
                x = s[k] * a
                m, e = expm1_exp(x)
                ab[k] = e
                gm[k] = g[k] * (m / x if x != 0 else one)

        return impl_real

    return dict(vexp=vexp, vsincos=vsincos, vcexp=vcexp, exp_outer=exp_outer, exp_row=exp_row,
                crecip=crecip, cexpm1_parts=cexpm1_parts,
                zoh_outer=zoh_outer, zoh_line=zoh_line)
