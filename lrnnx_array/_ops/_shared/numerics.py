"""The one numerics layer: every discretization and its derivatives, in stable form (array API).

Every op that discretizes (the selective, S5, RG-LRU, S7 scans and steps, the S4D kernel, the
public :mod:`lrnnx_array.discretization`) takes its formulas from here; CUDA kernels take theirs
from ``raw_kernels/common.cuh``. Nothing else writes a discretization.

Every method is a handful of elementwise passes, so there is no strategy to choose: the only
concern is accuracy. ``expm1`` and the phi-functions below stay accurate as dt*A -> 0 (real or
complex), where the textbook forms (e^x - 1)/x and (x e^x - e^x + 1)/x^2 lose every digit.

``FORMULAS[method](xp, A, dt, tau, grad)`` returns ``((Abar, gbar), partials)``. ``partials`` is
``None`` unless ``grad``; otherwise two rows, d Abar and d gbar, each with the holomorphic partial
derivatives with respect to (A, delta, integration_timesteps). ``None`` means zero and a Python
number is a constant; ``gbar == 1.0`` means "ones". The public layer broadcasts and casts.
"""

from __future__ import annotations

from typing import NamedTuple

from ..._backend import device, is_numpy


def _is_complex(xp, x) -> bool:
    return xp.isdtype(x.dtype, "complex floating")


def _is_double(xp, x) -> bool:
    return x.dtype in (xp.float64, xp.complex128)


def _complex(xp, re, im, dtype):
    """re + i im at ``dtype``. NumPy writes both halves in place (one pass each: 0.9 ms per
    2^20 complex64 against 3.2 ms for the array API's two casts, a product and a sum)."""
    if is_numpy(xp):
        out = xp.empty(xp.broadcast_shapes(re.shape, im.shape), dtype=dtype)
        out.real, out.imag = re, im
        return out
    return xp.astype(re, dtype) + xp.astype(im, dtype) * 1j


def exp(xp, x):
    """e^x for real or complex ``x``; complex as e^a (cos b + i sin b) of the real parts.

    NumPy's complex ``exp`` is a scalar loop (measured 32.5 ns/element at complex64 against
    3.8 ns for the three SIMD float32 ufuncs here, 2e-7 apart), and the array API promises no
    fast one either. Every complex exponential of the generic paths goes through this function.
    """
    if not _is_complex(xp, x):
        return xp.exp(x)
    a, b = xp.real(x), xp.imag(x)
    ea = xp.exp(a)
    return _complex(xp, ea * xp.cos(b), ea * xp.sin(b), x.dtype)


def exp_expm1(xp, x):
    """(e^x, e^x - 1) for real or complex ``x``, both accurate (normwise) down to |x| ~ 1e-300.

    Complex x = a + ib shares four real transcendentals between the two (no complex exp):
    with hh = 2 sin^2(b/2) = 1 - cos b and sin b = 2 sin(b/2) cos(b/2),
    e^x - 1 = (expm1(a) - e^a hh) + i e^a sin b, so nothing near 1 is subtracted. (NumPy's complex
    expm1 loses about 7 digits at |x| = 1e-10, and the array API promises no accurate one.)
    """
    if not _is_complex(xp, x):
        return xp.exp(x), xp.expm1(x)
    a, b = xp.real(x), xp.imag(x)
    ea, em = xp.exp(a), xp.expm1(a)
    h = xp.sin(b / 2)
    hh = 2 * h * h
    e_sin = ea * (2 * h * xp.cos(b / 2))
    return (_complex(xp, ea - ea * hh, e_sin, x.dtype),
            _complex(xp, em - ea * hh, e_sin, x.dtype))


def expm1(xp, x):
    """e^x - 1 for real or complex ``x`` (see :func:`exp_expm1`)."""
    return xp.expm1(x) if not _is_complex(xp, x) else exp_expm1(xp, x)[1]


def _nonzero(xp, x):
    """``x`` with exact zeros replaced by 1e-30, where e^x = 1 and expm1(x)/x = 1 exactly."""
    return xp.where(x == 0, xp.asarray(1e-30, dtype=x.dtype, device=device(x)), x)


def exp_phi1(xp, x):
    """(e^x, (e^x - 1)/x) with the limit 1 at x = 0; returns the nonzero ``x`` used too."""
    xs = _nonzero(xp, x)
    E, M = exp_expm1(xp, xs)
    return E, M / xs, xs


# phi1'(x) = sum_k (k+1) x^k / (k+2)!  (|x| < 1/2: 17 terms reach 1e-17, 9 terms 1e-9).
_DPHI1_COEF = []
_f = 2.0
for _k in range(17):
    _DPHI1_COEF.append((_k + 1) / _f)
    _f *= _k + 3
del _f, _k
_SERIES_RADIUS = 0.5
# Public for the other tiers (the numba kernels' scalar formulas) so no one re-derives them.
DPHI1_COEF = tuple(_DPHI1_COEF)
SERIES_RADIUS = _SERIES_RADIUS


def dphi1(xp, x, E, phi):
    """d/dx (e^x - 1)/x = (e^x - phi1(x))/x, given E = e^x and phi = phi1(x).

    The closed form cancels near 0 (it loses ~log10(1/|x|) digits), so |x| < 1/2 uses the Taylor
    series; at |x| >= 1/2 the closed form loses under one digit.
    """
    small = xp.abs(x) < _SERIES_RADIUS
    xs = xp.where(small, x, xp.zeros_like(x))  # keeps the series finite off its disc
    coef = _DPHI1_COEF if _is_double(xp, x) else _DPHI1_COEF[:9]
    series = xp.full_like(x, coef[-1])
    for c in coef[-2::-1]:
        series *= xs
        series += c
    xd = xp.where(small, xp.ones_like(x), x)  # no 0/0 in the discarded branch
    return xp.where(small, series, (E - phi) / xd)


# ---- the table -------------------------------------------------------------------------------
# Rows of partials: (d/dA, d/ddelta, d/dtau) of Abar, then of gbar.


def _zoh(xp, A, dt, tau, grad):
    x = dt * A
    E, phi, xs = exp_phi1(xp, x)
    out = (E, dt * phi)
    if not grad:
        return out, None
    # d/ddelta (e^{dt A} - 1)/A = e^{dt A}; d/dA = dt^2 phi1'(dt A).
    return out, ((dt * E, A * E, None), (dt * dt * dphi1(xp, xs, E, phi), E, None))


def _bilinear(xp, A, dt, tau, grad):
    x = dt * A
    s = 1 / (1 - x / 2)
    out = ((1 + x / 2) * s, dt * s)
    if not grad:
        return out, None
    s2 = s * s
    return out, ((dt * s2, A * s2, None), (dt * dt * s2 / 2, s2, None))


def _exp_a(xp, A, dt, grad):
    E = exp(xp, dt * A)
    return E, ((dt * E, A * E, None) if grad else None)


def _dirac(xp, A, dt, tau, grad):
    E, dE = _exp_a(xp, A, dt, grad)
    return (E, 1.0), (None if not grad else (dE, (None, None, None)))


def _mamba(xp, A, dt, tau, grad):
    E, dE = _exp_a(xp, A, dt, grad)
    return (E, dt), (None if not grad else (dE, (None, 1.0, None)))


def _async(xp, A, dt, tau, grad):
    # Only the A-path uses dt*tau; the input path is zoh's with dt (spec §2, §9.2).
    Ea = exp(xp, dt * tau * A)
    (_, gbar), zp = _zoh(xp, A, dt, None, grad)
    out = (Ea, gbar)
    if not grad:
        return out, None
    return out, ((dt * tau * Ea, tau * A * Ea, dt * A * Ea), zp[1])


def _no_discretization(xp, A, dt, tau, grad):
    return (A, 1.0), (None if not grad else ((1.0, None, None), (None, None, None)))


def _s7(xp, A, dt, tau, grad):
    # "A" is unused: the time-varying a_t arrives in the delta slot.
    q = dt * dt + 0.5
    out = (1 - 1 / q, 1.0)
    if not grad:
        return out, None
    return out, ((None, 2 * dt / (q * q), None), (None, None, None))


def _rglru(xp, A, dt, tau, grad):
    logA = xp.log(A)
    Abar = xp.exp(dt * logA)
    g2 = -xp.expm1(2 * dt * logA)  # 1 - Abar^2 without cancellation when Abar ~ 1
    gbar = xp.sqrt(g2)
    out = (Abar, gbar)
    if not grad:
        return out, None
    # d gbar = -Abar^2 d(dt log A) / gbar; infinite where gbar = 0 (dt = 0 or A = 1): set to 0,
    # as lrnnx's kernel does.
    pos = gbar > 0
    inv = xp.where(pos, 1 / xp.where(pos, gbar, xp.ones_like(gbar)), xp.zeros_like(gbar))
    w = Abar * Abar * inv
    return out, ((dt * Abar / A, Abar * logA, None), (-dt * w / A, -logA * w, None))


FORMULAS = {
    "zoh": _zoh,
    "bilinear": _bilinear,
    "dirac": _dirac,
    "mamba": _mamba,
    "async": _async,
    "no_discretization": _no_discretization,
    "s7": _s7,
    "rglru": _rglru,
}


def forward(xp, method, A, dt, tau):
    return FORMULAS[method](xp, A, dt, tau, False)[0]


def vjp_full(xp, method, A, dt, tau, dAbar, dgbar):
    """Unreduced cotangents of (A, delta, tau): sum over outputs of g * conj(partial).

    Each entry is an array broadcastable to the output shape, a Python number, or None (zero).
    """
    _, (pa, pg) = FORMULAS[method](xp, A, dt, tau, True)
    grads = []
    for k in range(3):
        acc = None
        for g, d in ((dAbar, pa[k]), (dgbar, pg[k])):
            if g is None or d is None:
                continue
            term = g * (xp.conj(d) if not isinstance(d, float) and _is_complex(xp, d) else d)
            acc = term if acc is None else acc + term
        grads.append(acc)
    return grads


# ---- rglru with the input term clamped (the RG-LRU and selective scans, the decode step) -------


def rglru_clamped(xp, A, dt, tau=None, grad=False):
    """``FORMULAS["rglru"]`` with γ = √max(0, −expm1(2δ ln a)) instead of NaN where 1 − Ā² < 0.

    The scans accept δ < 0 (lrnnx's kernels give NaN there); they take it as "no input" (γ = 0)
    while Ā = a^δ stays exact. The γ partials are 0 on that set, as on γ = 0 (δ = 0 or a = 1).
    Same return convention as :data:`FORMULAS`.
    """
    logA = xp.log(A)
    x = dt * logA
    Abar = xp.exp(x)
    g2 = -xp.expm1(2 * x)  # 1 - Abar^2 without cancellation when Abar ~ 1
    pos = g2 > 0
    gbar = xp.sqrt(xp.where(pos, g2, xp.zeros_like(g2)))
    if not grad:
        return (Abar, gbar), None
    inv = xp.where(pos, 1 / xp.where(pos, gbar, xp.ones_like(gbar)), xp.zeros_like(gbar))
    w = Abar * Abar * inv  # -d gbar / d(dt log A)
    return (Abar, gbar), ((dt * Abar / A, Abar * logA, None), (-dt * w / A, -logA * w, None))


# ---- two steps, per-state partials: the selective scans and their decode step -----------------
# Mamba-style ops take separate steps for A (deltaA, "event" mode) and for the input term; with
# no deltaA both are delta.


class SplitDisc(NamedTuple):
    """Ā (from the A step), γ (b̄ = γ·B·u, from the input step) and, on request, partials.

    ``None`` is an identically zero partial and a Python float a constant (``gamma == 1.0`` means
    ones); d/dA is holomorphic for complex A.
    """

    Abar: object
    gamma: object
    dAbar_ddeltaA: object = None
    dAbar_dA: object = None
    dgamma_ddelta: object = None
    dgamma_ddeltaA: object = None
    dgamma_dA: object = None


# Methods whose γ is a constant or follows Ā (rglru: γ = √(1 − Ā²)): one evaluation at the A step.
_GAMMA_FOLLOWS_ABAR = ("dirac", "s7", "rglru")


def selective_disc(xp, method, A, dt, dtA=None, *, grad=False) -> SplitDisc:
    """(Ā, γ) of ``method`` with Ā taken at ``dtA`` (``dt`` when None) and γ at ``dt``.

    ``dt``/``dtA`` broadcast against ``A``. rglru's γ = √(1 − Ā²) is taken at the A step and
    clamped to 0 where δ < 0 (:func:`rglru_clamped`); s7 ignores ``A``.
    """
    f = rglru_clamped if method == "rglru" else FORMULAS[method]
    if dtA is None or method in _GAMMA_FOLLOWS_ABAR:
        on_dtA = dtA is not None
        (Abar, gamma), p = f(xp, A, dtA if on_dtA else dt, None, grad)
        if p is None:
            return SplitDisc(Abar, gamma)
        (pa, pg) = p
        dg_step = pg[1]
        return SplitDisc(Abar, gamma, pa[1], pa[0], None if on_dtA else dg_step,
                         dg_step if on_dtA else None, pg[0])
    if method in ("mamba", "zoh"):  # Ā = e^{ΔᴬA}: skip zoh's φ₁ at the A step
        Abar, pa = _exp_a(xp, A, dtA, grad)
    else:
        (Abar, _), p = f(xp, A, dtA, None, grad)
        pa = None if p is None else p[0]
    if method == "mamba":
        gamma, pg = dt, (None, 1.0, None)
    else:
        (_, gamma), p = f(xp, A, dt, None, grad)
        pg = None if p is None else p[1]
    if not grad:
        return SplitDisc(Abar, gamma)
    return SplitDisc(Abar, gamma, pa[1], pa[0], pg[1], None, pg[0])


# ---- separate steps for A and for the input term (S5, Event-SSM) --------------------------------


def split_steps(xp, method, A, dt, dtA=None, grad=False):
    """``FORMULAS[method]`` with Ā on the step ``dtA`` and γ̄ on ``dt`` (S5's ``deltaA``).

    ``dtA=None`` means one step for both (one evaluation). Returns ``((Abar, gbar), partials)``
    where ``partials`` is ``None`` unless ``grad``, else ``((dAbar/dA, dAbar/ddtA),
    (dgbar/dA, dgbar/ddt))`` (holomorphic partials; ``None`` means zero). With ``dtA=None`` both
    step partials are with respect to the one step, and the caller adds them.
    """
    formula = FORMULAS[method]
    (Abar, gbar), parts = formula(xp, A, dt, None, grad)
    pa = None if parts is None else parts[0][:2]
    pg = None if parts is None else parts[1][:2]
    if dtA is not None:
        # zoh's Abar is dirac's (e^{dtA A}): skip the expm1 of a gbar that is not used.
        (Abar, _), parts_a = FORMULAS["dirac" if method == "zoh" else method](xp, A, dtA, None,
                                                                             grad)
        pa = None if parts_a is None else parts_a[0][:2]
    return (Abar, gbar), (None if not grad else (pa, pg))
