"""Vectorisable partials of real zoh's (Abar, gamma) over a VJP tile (``_partials_tile``).

The scalar ``numba_support.sel_disc_grad`` takes e^x - 1 from libm per element (a call LLVM
cannot vectorise) and branches between phi1's Taylor series and its closed form. Here, for a
real A, the same formulas of the numerics layer run over the tile with numba_math's
branch-free expm1 and both branches evaluated and selected, so the loop vectorises:
x = dt A, E = e^x, phi1 = (E - 1)/x (1 at 0),
dAbar/ddtA = A Abar, dAbar/dA = dtA Abar, dgamma/ddt = E, dgamma/ddtA = 0,
dgamma/dA = dt^2 phi1'(x), phi1'(x) = (E - phi1)/x, or numerics.DPHI1_COEF's series for
|x| < numerics.SERIES_RADIUS (where the closed form cancels).
Complex A keeps the scalar formulas (the function returns False).
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared.numerics import DPHI1_COEF, SERIES_RADIUS

_JIT = {"cache": True, "error_model": "numpy"}


def _define():
    from numba.core import types
    from numba.extending import overload, register_jitable

    expm1_exp = nbm.helpers()["expm1_exp"]

    def horner(c):
        """x -> c[0] + x (c[1] + ...) as nested jitted closures (straight-line once inlined;
        a loop over a tuple of constants does not vectorise)."""
        c0 = c[0]
        if len(c) == 1:
            return register_jitable(lambda x: c0)
        rest = horner(c[1:])
        return register_jitable(lambda x: c0 + x * rest(x))

    def zoh_partials(A, dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA):
        """Real A (a row): the five partials of (Abar, gamma) at [k N + n]; returns True.
        Complex A: does nothing, returns False."""

    @overload(zoh_partials, jit_options=_JIT)
    def _ov(A, dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA):
        if isinstance(A.dtype, types.Complex):
            return lambda A, dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA: False
        f = np.float32 if A.dtype == types.float32 else np.float64
        series = horner(tuple(f(c) for c in DPHI1_COEF))
        one, zero, radius = f(1), f(0), f(SERIES_RADIUS)

        def impl(A, dts, dtAs, T, Abs, pAt, pAA, pgt, pgtA, pgA):
            N = A.shape[0]
            for k in range(T):
                dt, dtA = dts[k], dtAs[k]
                for n in range(N):
                    j = k * N + n
                    a = A[n]
                    x = dt * a
                    m, e = expm1_exp(x)
                    nz = x != zero
                    xs = x if nz else one  # (no 0/0 in the branch not taken)
                    phi = m / xs if nz else one
                    closed = (e - phi) / xs
                    dphi = series(x) if abs(x) < radius else closed
                    ab = Abs[j]
                    pAt[j] = a * ab
                    pAA[j] = dtA * ab
                    pgt[j] = e
                    pgtA[j] = zero
                    pgA[j] = dt * dt * dphi
            return True

        return impl

    return zoh_partials


zoh_partials = _define()
