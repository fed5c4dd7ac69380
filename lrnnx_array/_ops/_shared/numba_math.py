"""Vectorisable e^x, e^x - 1, sin/cos, softplus and sigmoid for the numba tier.

The llvmlite here has no SVML: a ``math.exp`` / ``math.sin`` in a numba loop is a scalar libm
call (4-12 ns a call) that LLVM cannot vectorise, and it bound the scans (7-12 ns per (t, n)
element against ~1 ns for the recurrence). The helpers below are branch-free polynomial
versions written in the argument's own precision (float32 stays float32: every constant is
typed), so a loop calling them vectorises over AVX-512/AVX2 lanes.

* e^x: Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, a Taylor polynomial of e^r, and 2^k
  built in the exponent bits as two factors 2^(k/2) (so the subnormal range and the overflow
  to inf come out of the arithmetic itself; no clamping of the result). NaN propagates by one
  select.
* e^x - 1 (with e^x): the same reduction; e^r - 1 is the polynomial without its leading 1, and
  2^k (e^r - 1) + (2^k - 1) has no cancellation for |k| <= 1 (for |k| >= 2, e^x - 1 is
  computed from e^x without loss).
* sin/cos: reduction by pi/2 in float64 with a three-part constant (exact products k*P1, k*P2
  while |x| <= LIM), Taylor polynomials on |r| <= pi/4 and the quadrant by selects. Arguments beyond
  LIM, inf and NaN are finished by a scalar libm pass after the vector loop (rare, and counted
  in the vector loop so the pass is skipped when there are none).
* softplus(x) = max(x, 0) + log1p(e^-|x|) (x above 20: x, torch's threshold rule), log1p on
  (0, 1] by log(1 + e) = 2 atanh(f / (2 + f)) after a split at sqrt(2) and the log1p
  correction (e - (y - 1)) / y; sigmoid(x) = 1 / (1 + e^-x).

Their loops over buffers and tiles (vexp, vsincos, vcexp, exp_row, exp_outer, zoh_outer,
zoh_line) are in :mod:`numba_buffers`; :func:`helpers` returns both.

Accuracy (tests/ops/test_numba_math.py): within a few ulp of the correctly rounded value over
the ranges the scans use, edge cases included (0, -0, +-inf, NaN, underflow to 0, overflow).
"""

from __future__ import annotations

import functools
import math

import numpy as np

# pi/2 in three parts of 33 bits and a tail (fdlibm's split): k * part is exact for |k| < 2^20.
_PIO2_64 = (1.57079632673412561417e+00, 6.07710050630396597660e-11,
            2.02226624871116645580e-21, 8.47842766036889956997e-32)  # (and the tail)
LIM = 262144.0  # |x| beyond: the scalar pass (k < 2^18)
_LN2_32 = (0.693145751953125, math.log(2) - 0.693145751953125)  # hi: 16 bits
_LN2_64 = (6.93147180369123816490e-01, 1.90821492927058770002e-10)


def _coefs(first, count, step, sign):
    """Taylor coefficients sign/first!, sign^2/(first+step)!, ... (rounded once each)."""
    return tuple((sign ** (i + 1)) / math.factorial(first + step * i) for i in range(count))


_JIT = {"cache": True, "error_model": "numpy"}  # IEEE division: no ZeroDivisionError branch


def _define():
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic, overload, register_jitable

    @intrinsic
    def pow2(typingctx, kf):
        """2^k for an integral-valued float k in the normal exponent range, by its bits."""
        if kf == types.float32:
            ity, bias, mant = ir.IntType(32), 127, 23
        elif kf == types.float64:
            ity, bias, mant = ir.IntType(64), 1023, 52
        else:
            return None

        def codegen(context, builder, signature, args):
            # Through int32 for both: AVX2 has no vector float64 -> int64 conversion (AVX-512DQ
            # has), so a direct fptosi to i64 was scalarised (float64 e^x 5.8 ns an element on
            # a Zen 3 against ~1 with the vector int32 conversion and a sign extension).
            i32 = builder.fptosi(args[0], ir.IntType(32))
            i = i32 if ity.width == 32 else builder.sext(i32, ity)
            i = builder.add(i, ir.Constant(ity, bias))
            return builder.bitcast(builder.shl(i, ir.Constant(ity, mant)), args[0].type)

        return kf(kf), codegen

    @intrinsic
    def muladd(typingctx, a, b, c):
        """a b + c as LLVM's ``fmuladd``: one fused multiply-add where the target has one
        (x86 since Haswell / Zen: 4 cycles instead of a multiply then an add, 3 + 3, and one
        instruction instead of two), the separate operations elsewhere. Fusing only drops the
        product's rounding, so the polynomials below are as accurate or more."""
        if not (isinstance(a, types.Float) and a == b == c):
            return None

        def codegen(context, builder, signature, args):
            ty = args[0].type
            fn = builder.module.declare_intrinsic("llvm.fmuladd", [ty],
                                                  ir.FunctionType(ty, [ty, ty, ty]))
            return builder.call(fn, args)

        return a(a, a, a), codegen

    def horner(c):
        """x -> c[0] + x (c[1] + x (c[2] + ...)) as nested jitted closures (straight-line
        code once inlined: a loop over a tuple of constants kept LLVM from vectorising), each
        step one :func:`muladd`."""
        c0 = c[0]
        if len(c) == 1:
            return register_jitable(lambda x: c0)
        rest = horner(c[1:])
        return register_jitable(lambda x: muladd(x, rest(x), c0))

    @functools.cache
    def _consts(x):
        """The typed constants (and polynomials) of x's precision."""
        f = np.float32 if x == types.float32 else np.float64
        wide = x != types.float32
        return dict(
            f=f, one=f(1), half=f(0.5), two=f(2), zero=f(0),
            log2e=f(1.4426950408889634), ln2=tuple(f(v) for v in (_LN2_64 if wide else _LN2_32)),
            # e^r - 1 = r (1 + r/2 + r^2/6 + ...): degree 8 (float32) / 14 (float64)
            em1=horner(tuple(f(v) for v in _coefs(1, 13 if wide else 7, 1, 1))),  # 1/1!, 1/2!, ...
            lo=f(-746.0 if wide else -104.0), hi=f(710.0 if wide else 89.0),
            lim=f(LIM),
            sin=horner(tuple(f(v) for v in _coefs(3, 8 if wide else 4, 2, -1))),  # -1/3!, 1/5!, ...
            cos=horner(tuple(f(v) for v in _coefs(2, 8 if wide else 5, 2, 1))),  # 1/2!, 1/4!, ...
            # log(1 + f) = 2 (s + s^3/3 + ...), s = f / (2 + f), |s| <= 0.1716
            atanh=horner(tuple(f(1 / (2 * i + 1)) for i in range(11 if wide else 5))),
            sqrt2=f(1.4142135623730951), twenty=f(20.0),
        )

    def _reduce_exp(x):
        """(k as float, r, e^r - 1) with x = k ln2 + r (x clamped to the finite range)."""

    @overload(_reduce_exp, jit_options=_JIT)
    def _ov_reduce_exp(x):
        if not isinstance(x, types.Float):
            return None
        K = _consts(x)
        lo, hi, log2e, half = K["lo"], K["hi"], K["log2e"], K["half"]
        l1, l2 = K["ln2"]
        em1 = K["em1"]

        def impl(x):
            xc = x if x > lo else lo  # (a NaN goes to lo here; the caller restores it)
            xc = xc if xc < hi else hi
            k = np.floor(xc * log2e + half)
            r = (xc - k * l1) - k * l2
            return k, r, r * em1(r)

        return impl

    def exp(x):
        """e^x, branch-free (float32/float64)."""

    @overload(exp, jit_options=_JIT, inline="always")
    def _ov_exp(x):
        if not isinstance(x, types.Float):
            return None
        K = _consts(x)
        one, half = K["one"], K["half"]

        def impl(x):
            k, r, q = _reduce_exp(x)
            k1 = np.floor(k * half)
            e = (q + one) * pow2(k1) * pow2(k - k1)
            return e if x == x else x

        return impl

    def expm1_exp(x):
        """(e^x - 1, e^x), branch-free (float32/float64)."""

    @overload(expm1_exp, jit_options=_JIT, inline="always")
    def _ov_expm1_exp(x):
        if not isinstance(x, types.Float):
            return None
        K = _consts(x)
        one, half, zero = K["one"], K["half"], K["zero"]

        def impl(x):
            k, r, q = _reduce_exp(x)
            k1 = np.floor(k * half)
            e = (q + one) * pow2(k1) * pow2(k - k1)
            s = pow2(k if abs(k) <= one else zero)  # 2^k where it is used below
            m = (s * q + (s - one)) if abs(k) <= one else e - one
            return (m if x == x else x), (e if x == x else x)

        return impl

    def sincos_reduced(x):
        """(sin x, cos x) for |x| <= LIM (beyond it: garbage, see :func:`sincos_fix`)."""

    @overload(sincos_reduced, jit_options=_JIT, inline="always")
    def _ov_sincos(x):
        if not isinstance(x, types.Float):
            return None
        K = _consts(x)
        single = x == types.float32
        # The reduction runs in float64 for both precisions: x - k pi/2 loses the leading bits
        # of x, and float32's three-part pi/2 left ~1e-11 absolute error (5 ulp of cos near
        # its zeros at |x| ~ 4000); in float64 it is exact to ~2^-70 |k|.
        p1, p2, p3, p4 = (np.float64(v) for v in _PIO2_64)
        twoopi, halfd, fourd, quarterd = (np.float64(v) for v in (0.6366197723675814, 0.5, 4,
                                                                   0.25))
        one, two, three = K["one"], K["two"], K["f"](3)
        sc, cc, f = K["sin"], K["cos"], K["f"]

        def impl(x):
            xd = np.float64(x)
            k = np.floor(xd * twoopi + halfd)
            rd = (((xd - k * p1) - k * p2) - k * p3) - k * p4
            r = f(rd) if single else rd
            r2 = r * r
            sr = r + r * (r2 * sc(r2))
            cr = one - r2 * cc(-r2)  # 1 - r^2/2! + r^4/4! - ...
            q = f(k - fourd * np.floor(k * quarterd))  # quadrant 0..3, no integer conversion
            odd = (q == one) | (q == three)
            s = cr if odd else sr
            c = sr if odd else cr
            s = -s if q >= two else s
            c = -c if ((q == one) | (q == two)) else c
            return (x if x == 0 else s), c  # sin(-0) = -0

        return impl

    def in_range(x):
        """1 where :func:`sincos_reduced` is exact for x, else 0 (inf and NaN included)."""

    @overload(in_range, jit_options=_JIT)
    def _ov_in_range(x):
        lim = _consts(x)["lim"]
        return lambda x: 1 if abs(x) <= lim else 0

    @register_jitable
    def sincos_fix(x, s, c, n):
        """The scalar libm pass over the arguments :func:`sincos_reduced` does not cover."""
        for j in range(n):
            if in_range(x[j]) == 0:
                s[j] = math.sin(x[j])
                c[j] = math.cos(x[j])

    def softplus(x):
        """log(1 + e^x) for x <= 20, else x; branch-free."""

    @overload(softplus, jit_options=_JIT, inline="always")
    def _ov_softplus(x):
        if not isinstance(x, types.Float):
            return None
        K = _consts(x)
        one, two, half, zero, sqrt2 = K["one"], K["two"], K["half"], K["zero"], K["sqrt2"]
        at, twenty, ln2 = K["atanh"], K["twenty"], K["ln2"]

        def impl(x):
            e = exp(-abs(x))  # (0, 1]
            y = one + e  # (1, 2]
            big = y > sqrt2
            m = y * half if big else y  # [sqrt(1/2), sqrt(2))
            f = m - one
            s = f / (two + f)
            lg = two * s * at(s * s) + ((ln2[0] + ln2[1]) if big else zero)
            lp = lg + (e - (y - one)) / y  # log1p(e): y - 1 is exact
            v = (x if x > zero else zero) + lp
            return x if ((x > twenty) | (x != x)) else v

        return impl

    def sigmoid(x):
        """1 / (1 + e^-x) as e / (1 + e) or 1 / (1 + e), e = e^-|x| (no overflow of e^-x
        below -88 in float32: the small values keep their precision); branch-free."""

    @overload(sigmoid, jit_options=_JIT)  # (numba-level inlining warned on its select)
    def _ov_sigmoid(x):
        if not isinstance(x, types.Float):
            return None
        one = _consts(x)["one"]

        def impl(x):
            e = exp(-abs(x))  # (NaN for NaN x, and so the result)
            num = one if x >= 0 else e
            return num / (one + e)

        return impl

    def zero_of(x):
        """0 in x's own type (``x * 0`` types float32 as float64 in numba, and is NaN for a
        NaN or inf x)."""

    @overload(zero_of, jit_options=_JIT)
    def _ov_zero_of(x):
        z = numba_type_zero(x)
        return lambda x: z

    def one_of(x):
        """1 in x's own type."""

    @overload(one_of, jit_options=_JIT)
    def _ov_one_of(x):
        o = numba_type_zero(x) + 1
        return lambda x: o

    out = dict(pow2=pow2, exp=exp, expm1_exp=expm1_exp, sincos_reduced=sincos_reduced,
               in_range=in_range, sincos_fix=sincos_fix, softplus=softplus, sigmoid=sigmoid,
               zero_of=zero_of, one_of=one_of)
    from . import numba_buffers  # the loops over buffers and tiles built on the scalars above

    out.update(numba_buffers.define(out, _consts))
    return out


def numba_type_zero(t):
    """The NumPy zero scalar of numba scalar type ``t``."""
    return np.dtype(str(t)).type(0)


@functools.cache
def helpers():
    """The jitted helpers by name (see the module docstring)."""
    from . import numba_support

    numba_support.numba()
    return _define()
