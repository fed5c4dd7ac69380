"""numba kernels for erfc and the exact GELU on NumPy float32/float64 arrays.

SciPy's ``erfc`` is a scalar call per element (~18 ns); these are branch-free loops that LLVM
vectorises, parallel over blocks of elements above ``_PARALLEL_MIN``. Only
:mod:`lrnnx_array.layers.activations` imports this module, and only when numba is importable
and the input is a NumPy float32/float64 array (``import lrnnx_array`` never imports numba).

Method, for a = |t| (erfc(t) = 2 - erfc(a) for t < 0):

    erfc(a) = e^{-a^2} g(y) / (1 + 2a),   y = (a - K) / (a + K) in [-1, 1),  K = 3,

where g = (1 + 2a) e^{a^2} erfc(a) is smooth on [0, inf] (g(0) = 1, g -> 2/sqrt(pi)) and, in y,
analytic on [-1, 1]: its Chebyshev series converges geometrically. The coefficients below are
that series (interpolated at 64 Chebyshev nodes with mpmath at 50 digits), truncated where the
tail is below 2e-8 (float32: 12 terms) / 1e-17 (float64: 26 terms) and rewritten as a
polynomial in y (its monomial coefficients decay, so Horner's rule stays well conditioned:
sum |a_k| = 1.78 for a value near 1). The product form keeps the relative accuracy of erfc
for large a (no 1 - erf cancellation) and has none at small a either.

* float32 computes in float64 (exact x^2, one exp) and rounds once: <= 1 ulp.
* float64 splits a = hi + lo (Veltkamp: hi has 26 bits, so hi^2 is exact) and takes
  e^{-a^2} = e^{-hi^2} e^{-(a - hi)(a + hi)}, the second factor by its Taylor polynomial: a
  rounded a^2 would cost up to a^2 ulp (700 near the underflow; SciPy's erfc shows 230 there).
  A few ulp (tests/layers/test_gelu_numba.py).

GELU(x) = x Phi(x), Phi = erfc(|x|/sqrt 2)/2 for x < 0 and 1 - erfc(|x|/sqrt 2)/2 otherwise, with
e^{-x^2/2} taken from x itself (not from the rounded x/sqrt 2). Past ``_AMAX`` erfc(a)
underflows to 0, and a is clamped there (so inf and huge values never reach the split); NaN
propagates, and gelu(-inf) = -inf * 0 = NaN as the array-API form gives.
"""

from __future__ import annotations

import functools
import math

import numpy as np

_K = 3.0
_A32 = (1.2530080563677553, -0.1356210694002736, -0.047562156927520076, 0.1296441143440814,
        -0.1192752752822409, 0.06831656777114085, -0.02376357643949504,
        0.0024991168696069477, 0.001875079123772353, -0.0007264536790340485,
        -9.254516686923966e-05, 7.731024224076895e-05)
_A64 = (1.2530080582697296, -0.1356211061245812, -0.0475622943534492, 0.12964515870276475,
        -0.11927366341538638, 0.06830802734384515, -0.02377051491717134,
        0.0025293918180474668, 0.0018886903449991718, -0.0007798322884823084,
        -0.00010515971958448065, 0.0001250994355712812, 4.949196649968345e-06,
        -2.0100843094844725e-05, -7.308281468783614e-07, 3.473024167841533e-06,
        3.5576086684080595e-07, -6.175617678992323e-07, -1.4047654315428462e-07,
        1.0277997488271058e-07, 4.1064013667940355e-08, -1.3906145791730994e-08,
        -8.217595058711455e-09, 1.2019719440135793e-09, 8.393734858690877e-10,
        -3.451497487664328e-11)
# erfc(a) is below half the smallest subnormal past these (float32 results: 10.05; float64:
# 27.25), so clamping a there changes no result.
_AMAX32, _AMAX64 = 10.5, 27.5
_SPLIT = 134217729.0  # 2^27 + 1: Veltkamp's split of a float64 into 26 + 27 bits
_RSQRT2 = 1 / math.sqrt(2)
_BLOCK = 8192  # elements per parallel task
_PARALLEL_MIN = 1 << 16  # below: one thread (the pool's wake-up costs more than the work)


@functools.cache
def _kernels():
    from numba.extending import register_jitable

    from .._ops._shared import numba_math, numba_support

    nb = numba_support.numba()
    exp = numba_math.helpers()["exp"]
    prange = nb.prange

    def horner(c):
        # x -> c[0] + x (c[1] + ...) as nested jitted closures: straight-line code once
        # inlined (a loop over a tuple of constants does not vectorise).
        c0 = c[0]
        if len(c) == 1:
            return register_jitable(lambda x: c0)
        rest = horner(c[1:])
        return register_jitable(lambda x: c0 + x * rest(x))

    p32, p64 = horner(_A32), horner(_A64)
    K, amax32, amax64, split, r2 = _K, _AMAX32, _AMAX64, _SPLIT, _RSQRT2
    xmax64 = _AMAX64 * math.sqrt(2)

    @register_jitable
    def q32(a):
        """g(y) / (1 + 2a) = erfc(a) e^{a^2} for float64 a in [0, amax] (12 terms; one
        division: the float32 result does not see the extra rounding)."""
        r = 1.0 / ((a + K) * (1.0 + 2.0 * a))
        return p32((a - K) * (1.0 + 2.0 * a) * r) * ((a + K) * r)

    @register_jitable
    def q64(a):
        return p64((a - K) / (a + K)) / (1.0 + 2.0 * a)

    @register_jitable
    def taylor_m(w):
        """e^w - 1 for |w| < 2e-5 (four terms reach 1e-26)."""
        return w * (1.0 + w * (0.5 + w * (1.0 / 6.0 + w * (1.0 / 24.0))))

    # Each kernel is a plain loop over [lo, hi) (vectorised by LLVM) and a parallel driver
    # over blocks that calls it (the loop written inside the prange body measured 45 ns an
    # element for float64 erfc, 13 split out so).
    loop = nb.njit(cache=True, nogil=True, error_model="numpy")
    par = nb.njit(cache=True, parallel=True, nogil=True, error_model="numpy")

    @loop
    def erfc32(x, out, lo, hi):
        for i in range(lo, hi):
            t = np.float64(x[i])
            a = abs(t)
            a = amax32 if a > amax32 else a  # (NaN stays NaN)
            v = exp(-(a * a)) * q32(a)  # a^2 exact: a has 24 bits
            out[i] = np.float32(2.0 - v if t < 0 else v)

    @loop
    def erfc64(x, out, lo, hi):
        for i in range(lo, hi):
            t = x[i]
            a = abs(t)
            a = amax64 if a > amax64 else a
            # e^{-a^2} = E (1 + m): a^2 = hi^2 + lo exactly (Veltkamp: hi^2 is exact), E =
            # e^{-hi^2}, m = e^{-lo} - 1 (|lo| <= 2^-26 a^2). Written out here: a helper
            # returning (E, m) kept the loop from vectorising (10 ns an element).
            s = a * split
            hi = s - (s - a)
            m = taylor_m(-((a - hi) * (a + hi)))
            c = exp(-(hi * hi)) * q64(a)  # (q < 1.2: an error of a subnormal E shrinks)
            v = 1.0 if a == 0 else c + c * m  # (the sum at y = -1 rounds to 1 - 2^-53)
            out[i] = 2.0 - v if t < 0 else v

    @loop
    def gelu32(x, out, lo, hi):
        for i in range(lo, hi):
            xd = np.float64(x[i])
            a = abs(xd) * r2
            a = amax32 if a > amax32 else a
            v = exp(-0.5 * (xd * xd)) * q32(a)  # erfc(|x|/sqrt 2); x^2 exact
            phi = 0.5 * v if xd < 0 else 1.0 - 0.5 * v
            out[i] = np.float32(xd * phi)

    @loop
    def gelu64(x, out, lo, hi):
        for i in range(lo, hi):
            xd = x[i]
            a = abs(xd) * r2
            a = amax64 if a > amax64 else a
            # e^{-x^2/2} from x itself, clamped as a (|x| <= amax sqrt 2; NaN passes)
            xc = abs(xd)
            xc = xmax64 if xc > xmax64 else xc
            s = xc * split
            hi = s - (s - xc)
            m = taylor_m(-0.5 * ((xc - hi) * (xc + hi)))
            E = exp(-0.5 * (hi * hi))
            # x < 0: (x q / 2) E (1 + m), the normal factors before E, which may be subnormal
            # (each rounding there is absolute: a later |x| > 1 multiplied it, 28 ulp at
            # x = -37.8); else x (1 - q E (1 + m) / 2)
            c = (0.5 * xd * q64(a) if xd < 0 else 0.5 * q64(a)) * E
            v = c if c == 0 else c + c * m  # (-0 + -0 m is +0 for m < 0: gelu(-40) = -0)
            out[i] = v if xd < 0 else xd * (1.0 - v)

    def blocks(fn):
        @par
        def run(x, out):
            n = x.shape[0]
            for blk in prange((n + _BLOCK - 1) // _BLOCK):
                fn(x, out, blk * _BLOCK, min(n, (blk + 1) * _BLOCK))

        return run

    erfc32, erfc64, gelu32, gelu64 = (blocks(f) for f in (erfc32, erfc64, gelu32, gelu64))

    run = numba_support.launch(min_elems=_PARALLEL_MIN)
    return {"erfc": {np.float32: run(lambda x, o: erfc32(x, o)),
                     np.float64: run(lambda x, o: erfc64(x, o))},
            "gelu": {np.float32: run(lambda x, o: gelu32(x, o)),
                     np.float64: run(lambda x, o: gelu64(x, o))}}


def eligible(x) -> bool:
    """Whether :func:`apply` serves ``x``: a NumPy float32/float64 array, numba importable."""
    if not (isinstance(x, np.ndarray) and x.dtype.type in (np.float32, np.float64)):
        return False
    from .._ops._shared import numba_support

    return numba_support.available()


def apply(name: str, x):
    """``erfc`` or ``gelu`` of an :func:`eligible` array: a new array of x's shape and dtype,
    laid out as x when x is a permuted view of a contiguous block (as NumPy's ufuncs do; the
    (B, L, H) <-> (B, H, L) views of the models then cost no copy)."""
    perm = np.argsort([-s for s in x.strides], kind="stable") if x.ndim else ()
    xt = x.transpose(perm)
    if not xt.flags.c_contiguous:  # sliced or reversed: one copy
        xt = np.ascontiguousarray(xt)
    out = np.empty(xt.shape, x.dtype)
    if x.size:
        _kernels()[name][x.dtype.type](xt.reshape(-1), out.reshape(-1))
    return out.transpose(np.argsort(perm)) if x.ndim else out
