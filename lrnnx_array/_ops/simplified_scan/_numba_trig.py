"""sin/cos of a float32 buffer in float32 lanes, for the S5 discretisation tiles.

``numba_math``'s ``vsincos`` reduces by pi/2 in float64 for both precisions, so that sin and
cos stay within a few ulp *relative* even next to their zeros. On AVX2 (8 float32 or 4 float64
lanes, no AVX-512) that float64 reduction and its two conversions cost most of the tile:
~2.9 ns an element of the ~5 of zoh's discretisation (Zen 3, one thread, a 32 x 256 tile).

The S5 tiles need less: e^(x) = e^p (cos q, sin q) and zoh's e^x - 1 = expm1(p) -
e^p 2 sin^2(q/2) + i e^p sin q only need sin and cos to float32's rounding *absolutely*
(an absolute error d of sin(q/2) moves Re(e^x - 1) by ~2 |sin(q/2)| d e^p; where sin(q/2)
is near 0 with q != 0, |x| >= 2 pi and phi1 = (e^x - 1)/x divides it by |x|). So here the
reduction is in float32: x - k pi/2 with pi/2 = P1 + P2 + P3 (P1 8 bits and P2 11 bits, so
k P1 and k P2 are exact for |k| < 2^13; x - k P1 is exact by Sterbenz), absolute error
below ~1e-11 (|k| P3's rounding and the split's 2e-15 relative tail) for |x| <= LIM32, then
float32 Taylor polynomials on |r| <= pi/4 (truncation < 2e-9). A buffer with any argument
beyond LIM32, inf or NaN goes to ``numba_math``'s vsincos whole (counted in the loop, so
the loop stays branch-free and vectorises). float64 buffers always go there.
"""

from __future__ import annotations

import math

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_vsincos64 = nbm.helpers()["vsincos"]
_JIT = dict(cache=True, error_model="numpy")
LIM32 = 8192.0  # |k| = |x| 2/pi + 1/2 < 2^13: k P1, k P2 exact
_f = np.float32
_P1, _P2 = _f(1.5703125), _f(0.0004837512969970703)  # pi/2's first 8 and next 11 bits
_P3 = _f(math.pi / 2 - 1.5703125 - 0.0004837512969970703)
_TWO_OVER_PI = _f(2 / math.pi)
# Taylor coefficients: sin r = r + r^3 (S1 + r^2 (S2 + r^2 (S3 + r^2 S4))), cos r = 1 - r^2
# (C1 - r^2 (C2 - ...)); the terms left out are below 2e-9 on |r| <= pi/4.
_S1, _S2, _S3, _S4 = (_f((-1) ** (i + 1) / math.factorial(3 + 2 * i)) for i in range(4))
_C1, _C2, _C3, _C4, _C5 = (_f(1 / math.factorial(2 + 2 * i)) for i in range(5))
_HALF, _ONE, _TWO, _THREE, _FOUR, _QUARTER = (_f(v) for v in (0.5, 1, 2, 3, 4, 0.25))
_LIM = _f(LIM32)


@nbs.numba().njit(**_JIT)
def vsincos32(x, s, c, n):
    """s[:n], c[:n] = sin, cos of the float32 buffer x[:n], to float32 rounding absolutely
    (module docstring); arguments beyond LIM32, inf or NaN: the whole buffer by vsincos."""
    for j in range(n):
        xv = x[j]
        k = np.floor(xv * _TWO_OVER_PI + _HALF)
        r = ((xv - k * _P1) - k * _P2) - k * _P3
        r2 = r * r
        sr = r + r * (r2 * (_S1 + r2 * (_S2 + r2 * (_S3 + r2 * _S4))))
        cr = _ONE - r2 * (_C1 - r2 * (_C2 - r2 * (_C3 - r2 * (_C4 - r2 * _C5))))
        q = k - _FOUR * np.floor(k * _QUARTER)  # quadrant 0..3 (no integer conversion)
        odd = (q == _ONE) | (q == _THREE)
        sv = cr if odd else sr
        cv = sr if odd else cr
        s[j] = xv if xv == 0 else (-sv if q >= _TWO else sv)  # sin(-0) = -0
        c[j] = -cv if ((q == _ONE) | (q == _TWO)) else cv
    # The range check in a loop of its own: an int64 count in the loop above held it to 4
    # lanes (the count's vector width), 8 without.
    bad = 0
    for j in range(n):
        bad += 0 if abs(x[j]) <= _LIM else 1  # (NaN: not <=)
    if bad:
        _vsincos64(x, s, c, n)


@nbs.numba().njit(**_JIT)
def vsincos(x, s, c, n):
    """s[:n], c[:n] = sin, cos of x[:n]: float32 by :func:`vsincos32`, float64 by
    ``numba_math``'s vsincos (a constant of the type picks one; the other is not run)."""
    if x.itemsize == 4:
        vsincos32(x, s, c, n)
    else:
        _vsincos64(x, s, c, n)
